/**
 * Full-catalogue ranks (LightFM's predict_rank): the factor models'
 * predictRank and factorRanks against a brute force written from the
 * definition over dense scores, with exact ties, training exclusions, rows
 * without test entries and the recommend() fallback; and every bad input
 * refused with a message naming it.
 */
import assert from "node:assert/strict";
import {
  AlternatingLeastSquares,
  BayesianPersonalizedRanking,
  CsrMatrix,
  factorRanks,
  lightfm,
  LogisticMatrixFactorization,
  type RankingModel,
} from "../mod.ts";
import { randomFactors, randomMatrix, seeded } from "./reference.ts";
import { test } from "./harness.ts";

const quiet = { progress: false } as const;

/** Integer factors in [−2, 2]: every dot product is exact, and many tie. */
function integerFactors(rows: number, f: number, seed: number): Float32Array {
  const next = seeded(seed);
  return Float32Array.from({ length: rows * f }, () => Math.floor(next() * 5) - 2);
}

function rowOf(m: CsrMatrix, u: number): number[] {
  return [...m.row(u).indices];
}

/**
 * The definition: for test entry (u, i), the items j ≠ i outside row u of
 * `train` whose dense score is >= score(u, i).
 */
function bruteRanks(
  users: Float32Array,
  items: Float32Array,
  f: number,
  testSet: CsrMatrix,
  train?: CsrMatrix,
): number[] {
  const [nUsers, nItems] = testSet.shape;
  const out: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    const scores: number[] = [];
    for (let j = 0; j < nItems; j++) {
      let s = 0;
      for (let d = 0; d < f; d++) s += users[u * f + d]! * items[j * f + d]!;
      scores.push(s);
    }
    const excluded = new Set(train === undefined ? [] : rowOf(train, u));
    for (const i of rowOf(testSet, u)) {
      let rank = 0;
      for (let j = 0; j < nItems; j++) {
        if (j !== i && !excluded.has(j) && scores[j]! >= scores[i]!) rank++;
      }
      out.push(rank);
    }
  }
  return out;
}

/** `m` without the entries that are also in `other`, and without row u when `emptyRow(u)`. */
function without(
  m: CsrMatrix,
  other: CsrMatrix,
  emptyRow: (u: number) => boolean = () => false,
): CsrMatrix {
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < m.nRows; u++) {
    if (emptyRow(u)) continue;
    const drop = new Set(rowOf(other, u));
    for (const i of rowOf(m, u)) {
      if (!drop.has(i)) {
        rows.push(u);
        cols.push(i);
      }
    }
  }
  return CsrMatrix.fromCoo({ rows, cols, shape: m.shape });
}

const f = 4;
const nUsers = 31;
const nItems = 53;
const users = integerFactors(nUsers, f, 1);
const items = integerFactors(nItems, f, 2);
const model = new AlternatingLeastSquares({ factors: f });
model.assignFactors({ data: users, shape: [nUsers, f] }, { data: items, shape: [nItems, f] });
const train = randomMatrix(nUsers, nItems, 0.2, 3);
// Disjoint from train, with every fifth user left without test entries.
const testSet = without(randomMatrix(nUsers, nItems, 0.15, 4), train, (u) => u % 5 === 2);

test("predictRank() equals the definition over dense scores, ties and training exclusions included", () => {
  for (const trainInteractions of [undefined, train]) {
    const ranks = model.predictRank(testSet, { trainInteractions });
    assert.deepEqual(ranks.shape, testSet.shape);
    assert.deepEqual(ranks.indptr, testSet.indptr);
    assert.deepEqual(ranks.indices, testSet.indices);
    assert.deepEqual([...ranks.data], bruteRanks(users, items, f, testSet, trainInteractions));
  }
  // The test data has users without test entries and test items tied with another item.
  assert.equal(rowOf(testSet, 2).length, 0);
  let tied = 0;
  for (let u = 0; u < nUsers; u++) {
    const score = (j: number) => {
      let s = 0;
      for (let d = 0; d < f; d++) s += users[u * f + d]! * items[j * f + d]!;
      return s;
    };
    for (const i of rowOf(testSet, u)) {
      for (let j = 0; j < nItems; j++) if (j !== i && score(j) === score(i)) tied++;
    }
  }
  assert.ok(tied > 100, `${tied} ties`);
});

test("predictRank() with checkIntersections: false ranks test entries that are also training entries", () => {
  const overlapping = randomMatrix(nUsers, nItems, 0.3, 5);
  assert.throws(
    () => model.predictRank(overlapping, { trainInteractions: train }),
    { name: "RangeError", message: /share \d+ interactions?, the first at user \d+, item \d+/ },
  );
  const ranks = model.predictRank(overlapping, {
    trainInteractions: train,
    checkIntersections: false,
  });
  assert.deepEqual([...ranks.data], bruteRanks(users, items, f, overlapping, train));
});

test("the ranks of a hand-made row: ties count against the item, training items never count", () => {
  const one = new AlternatingLeastSquares({ factors: 1 });
  // Scores 3, 1, 3, 2, 3 for items 0..4.
  one.assignFactors({ data: Float32Array.of(1), shape: [1, 1] }, {
    data: Float32Array.of(3, 1, 3, 2, 3),
    shape: [5, 1],
  });
  const t = CsrMatrix.fromCoo({ rows: [0, 0, 0], cols: [0, 1, 3], shape: [1, 5] });
  // Item 0: items 2 and 4 tie with it -> 2. Item 1: every other item -> 4. Item 3: 0, 2, 4 -> 3.
  assert.deepEqual([...one.predictRank(t).data], [2, 4, 3]);
  // Item 4 is a training item: item 0 -> 1, item 1 -> 3, item 3 -> 2.
  const tr = CsrMatrix.fromCoo({ rows: [0], cols: [4], shape: [1, 5] });
  assert.deepEqual([...one.predictRank(t, { trainInteractions: tr }).data], [1, 3, 2]);
});

test("factorRanks() equals predictRank() and an empty test matrix gives an empty result", () => {
  const direct = factorRanks(users, items, f, testSet, train);
  assert.deepEqual(direct.data, model.predictRank(testSet, { trainInteractions: train }).data);
  const empty = factorRanks(users, items, f, CsrMatrix.empty([nUsers, nItems]));
  assert.equal(empty.nnz, 0);
  assert.deepEqual(empty.shape, [nUsers, nItems]);
});

test("the recommend() fallback gives the same ranks as predictRank(), ties included", () => {
  // The same model seen only through recommend(): lists sorted by score, ties by id.
  const viaRecommend: RankingModel = {
    nUsers,
    nItems,
    recommend: (userids, userItems, options) => model.recommend(userids, userItems, options),
  };
  const expected = model.predictRank(testSet, { trainInteractions: train });
  const ranks = lightfm.rankInteractions(viaRecommend, testSet, { trainInteractions: train });
  assert.deepEqual(ranks.data, expected.data);
  assert.deepEqual(ranks.indices, testSet.indices);
});

test("with real-valued factors predictRank() agrees exactly with the scores recommend() returns", () => {
  // Both kernels accumulate a score by the same in-order multiply-adds, so even
  // near-ties are ordered alike: the ranks equal those read off recommend()'s lists.
  const real = new AlternatingLeastSquares({ factors: 24 });
  real.assignFactors(
    { data: randomFactors(nUsers, 24, 8), shape: [nUsers, 24] },
    { data: randomFactors(nItems, 24, 9), shape: [nItems, 24] },
  );
  const viaRecommend: RankingModel = {
    nUsers,
    nItems,
    recommend: (userids, userItems, options) => real.recommend(userids, userItems, options),
  };
  for (const trainInteractions of [train, CsrMatrix.empty([nUsers, nItems])]) {
    assert.deepEqual(
      lightfm.rankInteractions(viaRecommend, testSet, { trainInteractions }).data,
      real.predictRank(testSet, { trainInteractions }).data,
    );
  }
});

test("BPR and LMF rank by the dot products recommend() ranks by", async () => {
  const plays = randomMatrix(20, 30, 0.25, 6);
  const held = without(randomMatrix(20, 30, 0.1, 7), plays);
  const bpr = await new BayesianPersonalizedRanking({ factors: 6, iterations: 3, randomState: 1 })
    .fit(plays, quiet);
  const lmf = await new LogisticMatrixFactorization({ factors: 6, iterations: 3, randomState: 1 })
    .fit(plays, quiet);
  for (const fitted of [bpr, lmf]) {
    const width = fitted.factorCount;
    const expected = bruteRanks(
      fitted.userFactors.data,
      fitted.itemFactors.data,
      width,
      held,
      plays,
    );
    const actual = [...fitted.predictRank(held, { trainInteractions: plays }).data];
    // Real-valued factors: the float32 kernel and the float64 reference may order a
    // near-tie differently, so allow a rank to differ by one.
    actual.forEach((r, p) => assert.ok(Math.abs(r - expected[p]!) <= 1, `entry ${p}`));
    const exact = actual.filter((r, p) => r === expected[p]).length;
    assert.ok(exact >= actual.length - 2, `${exact} of ${actual.length} exact`);
  }
});

test("predictRank() refuses bad inputs, naming the argument, what was expected and what was found", () => {
  assert.throws(
    () => model.predictRank(CsrMatrix.empty([nUsers - 1, nItems])),
    {
      name: "RangeError",
      message: `Expected testInteractions to have ${nUsers} rows (the model's users) but found ${
        nUsers - 1
      }`,
    },
  );
  assert.throws(
    () => model.predictRank(CsrMatrix.empty([nUsers, nItems + 1])),
    {
      name: "RangeError",
      message: `Expected testInteractions to have ${nItems} columns (the model's items) but found ${
        nItems + 1
      }`,
    },
  );
  assert.throws(
    () => model.predictRank(testSet, { trainInteractions: CsrMatrix.empty([nUsers, 2]) }),
    {
      name: "RangeError",
      message:
        `Expected trainInteractions to have ${nItems} columns (the model's items) but found 2`,
    },
  );
  assert.throws(() => model.predictRank([] as never), {
    name: "TypeError",
    message: "Expected testInteractions to be a CsrMatrix but found an array",
  });
  assert.throws(() => model.predictRank(testSet, { train } as never), {
    name: "TypeError",
    message:
      "Expected an option of predictRank() (trainInteractions, userFeatures, itemFeatures, checkIntersections) but found 'train'",
  });
  assert.throws(() => model.predictRank(testSet, { userFeatures: CsrMatrix.empty([nUsers, 3]) }), {
    name: "TypeError",
    message:
      "Expected userFeatures to be undefined (AlternatingLeastSquares has no features) but found a CsrMatrix",
  });
  assert.throws(
    () => model.predictRank(testSet, { checkIntersections: 1 as never }),
    { name: "TypeError", message: "Expected checkIntersections to be a boolean but found 1" },
  );
  assert.throws(() => new AlternatingLeastSquares().predictRank(testSet), {
    message: "predictRank() needs a fitted model: call fit() or load() first",
  });
});

test("factorRanks() refuses bad factors and shapes", () => {
  assert.throws(() => factorRanks(users, items, 0, testSet), {
    name: "RangeError",
    message: "Expected f to be a positive integer but found 0",
  });
  assert.throws(() => factorRanks(users, items, 1025, testSet), {
    name: "RangeError",
    message: "Expected f to be at most 1024 but found 1025",
  });
  assert.throws(() => factorRanks(users.subarray(1), items, f, testSet), {
    name: "RangeError",
    message: `Expected userFactors to have ${
      nUsers * f
    } values (${nUsers} rows, test's rows, × f = ${f}) but found ${nUsers * f - 1}`,
  });
  assert.throws(() => factorRanks(users, new Float64Array(nItems * f) as never, f, testSet), {
    name: "TypeError",
    message: "Expected itemFactors to be a Float32Array but found a Float64Array",
  });
  assert.throws(() => factorRanks(users, items, f, testSet, CsrMatrix.empty([2, nItems])), {
    name: "RangeError",
    message: `Expected train to have ${nUsers} rows (test's users) but found 2`,
  });
  const bad = items.slice();
  bad[7] = Number.NaN;
  assert.throws(() => factorRanks(users, bad, f, testSet), {
    message:
      "Expected item_factors to be finite but found NaN at item_factors[7] (row 1, factor 3)",
  });
});
