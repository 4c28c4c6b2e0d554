import assert from "node:assert/strict";
import { test } from "./harness.ts";
import { Random } from "../lib/random.ts";
import { CsrMatrix } from "../lib/sparse.ts";
import { bm25Weight, normalize, tfidfWeight } from "../lib/weighting.ts";

/** A 7 × 9 matrix of small counts, about half zero, with row 3 and column 4 empty. */
function randomDense(seed: number): number[][] {
  const rng = new Random(seed);
  return Array.from({ length: 7 }, (_, i) =>
    Array.from({ length: 9 }, (_, j) => {
      if (i === 3 || j === 4 || rng.nextFloat() < 0.5) return 0;
      return Math.fround(1 + rng.int(20) + rng.nextFloat());
    }));
}

const columnCounts = (X: number[][]) => X[0]!.map((_, j) => X.filter((row) => row[j] !== 0).length);
const idfOf = (X: number[][]) => columnCounts(X).map((df) => Math.log(X.length / (1 + df)));

/** The formulas of implicit.nearest_neighbours, on dense rows, entry by entry. */
function denseBm25(X: number[][], k1: number, b: number): number[][] {
  const idf = idfOf(X);
  const rowSums = X.map((row) => row.reduce((s, v) => s + v, 0));
  const mean = rowSums.reduce((s, v) => s + v, 0) / X.length;
  return X.map((row, i) =>
    row.map((x, j) => {
      if (x === 0) return 0;
      const lengthNorm = 1 - b + (b * rowSums[i]!) / mean;
      return ((x * (k1 + 1)) / (k1 * lengthNorm + x)) * idf[j]!;
    })
  );
}

function denseTfidf(X: number[][]): number[][] {
  const idf = idfOf(X);
  return X.map((row) => row.map((x, j) => (x === 0 ? 0 : Math.sqrt(x) * idf[j]!)));
}

function denseNormalize(X: number[][]): number[][] {
  return X.map((row) => {
    const norm = Math.sqrt(row.reduce((s, v) => s + v * v, 0));
    return row.map((x) => (norm === 0 ? 0 : x / norm));
  });
}

function assertMatches(actual: CsrMatrix, input: CsrMatrix, expected: number[][]): void {
  assert.deepEqual(actual.shape, input.shape);
  assert.deepEqual(actual.indptr, input.indptr);
  assert.deepEqual(actual.indices, input.indices);
  const dense = actual.toDense();
  expected.forEach((row, i) =>
    row.forEach((want, j) => {
      const got = dense[i * row.length + j]!;
      assert.ok(
        Math.abs(got - want) <= 1e-6 * Math.max(1, Math.abs(want)),
        `(${i}, ${j}): ${got} vs ${want}`,
      );
    })
  );
}

for (const seed of [1, 2, 3]) {
  const dense = randomDense(seed);

  test(`bm25Weight() equals the dense BM25 formula on a random 7×9 matrix (seed ${seed})`, () => {
    const X = CsrMatrix.fromDense(dense);
    assertMatches(bm25Weight(X), X, denseBm25(dense, 100, 0.8));
    assertMatches(bm25Weight(X, { k1: 1.2, b: 0.75 }), X, denseBm25(dense, 1.2, 0.75));
    assertMatches(bm25Weight(X, { k1: 0, b: 1 }), X, denseBm25(dense, 0, 1));
    assertMatches(bm25Weight(X, { b: 0 }), X, denseBm25(dense, 100, 0));
  });

  test(`tfidfWeight() equals the dense TF-IDF formula on a random 7×9 matrix (seed ${seed})`, () => {
    const X = CsrMatrix.fromDense(dense);
    assertMatches(tfidfWeight(X), X, denseTfidf(dense));
  });

  test(`normalize() gives each row unit L2 norm on a random 7×9 matrix (seed ${seed})`, () => {
    const X = CsrMatrix.fromDense(dense);
    assertMatches(normalize(X), X, denseNormalize(dense));
  });
}

test("weighting never modifies its input", () => {
  const X = CsrMatrix.fromDense(randomDense(4));
  const before = [X.indptr.slice(), X.indices.slice(), X.data.slice()];
  for (const weighted of [bm25Weight(X), tfidfWeight(X), normalize(X)]) {
    assert.notEqual(weighted.data, X.data);
  }
  assert.deepEqual([X.indptr, X.indices, X.data], before);
});

test("stored zeros and all-zero rows stay zero instead of becoming NaN", () => {
  const X = new CsrMatrix(
    [2, 2],
    Int32Array.of(0, 2, 3),
    Int32Array.of(0, 1, 1),
    Float32Array.of(0, 0, 2),
  );
  for (const weighted of [bm25Weight(X, { k1: 0, b: 1 }), tfidfWeight(X), normalize(X)]) {
    assert.equal(weighted.data[0], 0);
    assert.equal(weighted.data[1], 0);
  }
  const zeros = new CsrMatrix([1, 2], Int32Array.of(0, 1), Int32Array.of(1), Float32Array.of(0));
  assert.deepEqual([...bm25Weight(zeros).data], [0]);
  assert.deepEqual([...bm25Weight(CsrMatrix.empty([0, 3])).data], []);
});

test("bad options and bad matrices are refused", () => {
  const X = CsrMatrix.fromDense([[1, 2], [0, 3]]);
  assert.throws(() => bm25Weight(X, { k1: -1 }), {
    name: "RangeError",
    message: "Expected k1 to be a finite number >= 0 but found -1",
  });
  assert.throws(() => bm25Weight(X, { k1: Number.NaN }), RangeError);
  assert.throws(() => bm25Weight(X, { b: 1.5 }), {
    name: "RangeError",
    message: "Expected b to be a finite number >= 0 and <= 1 but found 1.5",
  });
  assert.throws(() => bm25Weight(X, { b: "0.5" as unknown as number }), TypeError);
  assert.throws(() => tfidfWeight([[1]] as unknown as CsrMatrix), {
    name: "TypeError",
    message: "Expected X to be a CsrMatrix but found an array",
  });
  const negative = CsrMatrix.fromDense([[1, -2]]);
  assert.throws(() => bm25Weight(negative), {
    name: "RangeError",
    message: "Expected X to hold non-negative values but found data[1] = -2",
  });
  assert.throws(() => tfidfWeight(negative), RangeError);
  assert.deepEqual([...normalize(negative).data], [
    Math.fround(1 / Math.sqrt(5)),
    Math.fround(-2 / Math.sqrt(5)),
  ]);
});
