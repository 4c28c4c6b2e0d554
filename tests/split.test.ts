import assert from "node:assert/strict";
import { CsrMatrix } from "../lib/sparse.ts";
import { leaveKOutSplit, trainTestSplit, userBasedSplit } from "../lib/evaluation/split.ts";
import type { Split } from "../lib/evaluation/split.ts";
import { randomMatrix } from "./reference.ts";
import { test } from "./harness.ts";

const SEEDS = [0, 1, 42, 2024];

/** Train and test have X's shape, no cell in both, and add up to X exactly. */
function assertPartition(X: CsrMatrix, { train, test }: Split): void {
  assert.deepEqual(train.shape, X.shape);
  assert.deepEqual(test.shape, X.shape);
  assert.equal(train.nnz + test.nnz, X.nnz);
  const a = train.toDense();
  const b = test.toDense();
  const x = X.toDense();
  // Stored cells, so an explicit stored zero would still be counted.
  const storedA = storedCells(train);
  const storedB = storedCells(test);
  for (const cell of storedB) assert.ok(!storedA.has(cell), `cell ${cell} is in train and test`);
  assert.deepEqual(new Set([...storedA, ...storedB]), storedCells(X));
  for (let k = 0; k < x.length; k++) assert.equal(a[k]! + b[k]!, x[k]!);
}

function storedCells(m: CsrMatrix): Set<number> {
  const out = new Set<number>();
  for (let r = 0; r < m.nRows; r++) {
    for (const c of m.row(r).indices) out.add(r * m.nCols + c);
  }
  return out;
}

function rowLength(m: CsrMatrix, r: number): number {
  return m.indptr[r + 1]! - m.indptr[r]!;
}

test("trainTestSplit() partitions the input exactly, values kept, on random matrices and seeds", () => {
  for (const seed of SEEDS) {
    const X = randomMatrix(40, 30, 0.2, seed, true);
    assertPartition(X, trainTestSplit(X, { randomState: seed }));
    assertPartition(X, trainTestSplit(X, { trainPercentage: 0.3, randomState: seed + 1 }));
  }
});

test("trainTestSplit() puts about trainPercentage of the interactions in train", () => {
  const X = randomMatrix(300, 200, 0.1, 5);
  for (const p of [0.8, 0.5, 0.1]) {
    const { train } = trainTestSplit(X, { trainPercentage: p, randomState: 9 });
    const share = train.nnz / X.nnz;
    // ~6000 entries: 4 standard deviations is at most 0.026.
    assert.ok(Math.abs(share - p) < 0.03, `train share ${share} for trainPercentage ${p}`);
  }
  const all = trainTestSplit(X, { trainPercentage: 1, randomState: 1 });
  assert.equal(all.train.nnz, X.nnz);
  assert.equal(all.test.nnz, 0);
});

test("trainTestSplit() is reproducible with a seed and differs across seeds", () => {
  const X = randomMatrix(50, 40, 0.2, 3);
  const a = trainTestSplit(X, { randomState: 7 });
  const b = trainTestSplit(X, { randomState: 7 });
  const c = trainTestSplit(X, { randomState: 8 });
  assert.deepEqual(a.train, b.train);
  assert.deepEqual(a.test, b.test);
  assert.notDeepEqual(a.test.indices, c.test.indices);
  // Without a seed, two splits differ (with overwhelming probability).
  assert.notDeepEqual(trainTestSplit(X).test.indices, trainTestSplit(X).test.indices);
});

test("trainTestSplit() gives the same split on every runtime for a fixed seed", () => {
  const X = CsrMatrix.fromDense([
    [1, 2, 3, 4, 5, 6, 7, 8],
    [8, 7, 6, 5, 4, 3, 2, 1],
  ]);
  const { test } = trainTestSplit(X, { trainPercentage: 0.5, randomState: 123 });
  // Pinned from lib/random.ts's xoshiro128** stream; the same on Deno and Bun.
  assert.deepEqual([...test.indptr], PINNED_INDPTR);
  assert.deepEqual([...test.indices], PINNED_INDICES);
});

test("leaveKOutSplit() partitions the input and holds out exactly k items of each eligible user", () => {
  for (const seed of SEEDS) {
    const X = randomMatrix(60, 25, 0.15, seed, true);
    for (const k of [1, 2, 3]) {
      const split = leaveKOutSplit(X, { k, randomState: seed });
      assertPartition(X, split);
      for (let u = 0; u < X.nRows; u++) {
        const n = rowLength(X, u);
        // A user with k + 1 interactions or fewer stays whole in train.
        assert.equal(
          rowLength(split.test, u),
          n > k + 1 ? k : 0,
          `user ${u} with ${n} interactions, k = ${k}`,
        );
      }
    }
  }
});

test("leaveKOutSplit() keeps a trainOnlySize share of the users only in train", () => {
  const X = randomMatrix(200, 30, 0.5, 4);
  let active = 0;
  for (let u = 0; u < X.nRows; u++) if (rowLength(X, u) > 0) active++;
  const { train, test } = leaveKOutSplit(X, { k: 1, trainOnlySize: 0.25, randomState: 5 });
  assertPartition(X, { train, test });
  let eligible = 0;
  let tested = 0;
  for (let u = 0; u < X.nRows; u++) {
    if (rowLength(X, u) > 2) eligible++;
    const t = rowLength(test, u);
    assert.ok(t === 0 || t === 1);
    tested += t;
  }
  // Every row of this matrix is eligible, so exactly floor(0.25 · active) users are train-only.
  assert.equal(eligible, X.nRows);
  assert.equal(tested, eligible - Math.floor(active * 0.25));
  // Any share > 0 keeps at least one user out of test.
  const one = leaveKOutSplit(X, { trainOnlySize: 1e-9, randomState: 5 });
  assert.equal(one.test.nnz, eligible - 1);
});

test("leaveKOutSplit() draws held-out items uniformly within a user", () => {
  const X = CsrMatrix.fromDense([[1, 1, 1, 1, 1]]);
  const counts = [0, 0, 0, 0, 0];
  for (let seed = 0; seed < 2000; seed++) {
    const { test } = leaveKOutSplit(X, { k: 2, randomState: seed });
    for (const c of test.indices) counts[c]!++;
  }
  // Each item is held out with probability 2/5: 800 of 2000, sd about 22.
  for (const c of counts) assert.ok(Math.abs(c - 800) < 110, `counts ${counts}`);
});

test("leaveKOutSplit() is reproducible with a seed and differs across seeds", () => {
  const X = randomMatrix(80, 40, 0.2, 6);
  const a = leaveKOutSplit(X, { k: 2, trainOnlySize: 0.1, randomState: 1 });
  const b = leaveKOutSplit(X, { k: 2, trainOnlySize: 0.1, randomState: 1 });
  const c = leaveKOutSplit(X, { k: 2, trainOnlySize: 0.1, randomState: 2 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.test.indices, c.test.indices);
});

test("userBasedSplit() holds out whole users, about testPercentage of them", () => {
  for (const seed of SEEDS) {
    const X = randomMatrix(400, 20, 0.2, seed, true);
    const split = userBasedSplit(X, { testPercentage: 0.25, randomState: seed });
    assertPartition(X, split);
    let inTest = 0;
    for (let u = 0; u < X.nRows; u++) {
      const t = rowLength(split.test, u);
      assert.ok(t === 0 || t === rowLength(X, u), `user ${u} is split`);
      assert.ok(rowLength(split.train, u) === 0 || t === 0);
      if (t > 0) inTest++;
    }
    // 400 users: sd of the share is about 0.022.
    assert.ok(Math.abs(inTest / 400 - 0.25) < 0.09, `share ${inTest / 400}`);
  }
  const X = randomMatrix(20, 10, 0.3, 1);
  assert.equal(userBasedSplit(X, { testPercentage: 0, randomState: 1 }).test.nnz, 0);
});

test("userBasedSplit() is reproducible with a seed and differs across seeds", () => {
  const X = randomMatrix(100, 20, 0.3, 2);
  assert.deepEqual(userBasedSplit(X, { randomState: 4 }), userBasedSplit(X, { randomState: 4 }));
  assert.notDeepEqual(
    userBasedSplit(X, { randomState: 4 }).test.indptr,
    userBasedSplit(X, { randomState: 5 }).test.indptr,
  );
});

test("splits of an empty matrix are empty", () => {
  const X = CsrMatrix.empty([3, 4]);
  for (
    const split of [
      trainTestSplit(X, { randomState: 0 }),
      leaveKOutSplit(X, { trainOnlySize: 0.5, randomState: 0 }),
      userBasedSplit(X, { randomState: 0 }),
    ]
  ) {
    assertPartition(X, split);
  }
});

test("splits refuse bad options, naming them", () => {
  const X = randomMatrix(5, 5, 0.5, 1);
  for (const bad of [0, -0.1, 1.01, NaN, Infinity]) {
    assert.throws(() => trainTestSplit(X, { trainPercentage: bad }), {
      name: "RangeError",
      message: /trainPercentage/,
    });
  }
  assert.throws(() => trainTestSplit(X, { trainPercentage: "0.8" as unknown as number }), {
    name: "TypeError",
    message: /trainPercentage/,
  });
  assert.throws(() => trainTestSplit(X, { trainPercentage: 0 }), {
    message: "Expected trainPercentage to be a finite number > 0 and <= 1 but found 0",
  });
  for (const bad of [0, -1, 1.5, NaN]) {
    assert.throws(() => leaveKOutSplit(X, { k: bad }), {
      name: "RangeError",
      message: /Expected k to be a positive integer/,
    });
  }
  for (const bad of [-0.1, 1, NaN]) {
    assert.throws(() => leaveKOutSplit(X, { trainOnlySize: bad }), {
      name: "RangeError",
      message: /trainOnlySize/,
    });
  }
  for (const bad of [-0.1, 1, NaN]) {
    assert.throws(() => userBasedSplit(X, { testPercentage: bad }), {
      name: "RangeError",
      message: /testPercentage/,
    });
  }
  assert.throws(() => trainTestSplit(X, { randomState: -1 }), {
    name: "RangeError",
    message: /randomState/,
  });
  assert.throws(() => leaveKOutSplit(X, { randomState: 1.5 }), {
    name: "RangeError",
    message: /randomState/,
  });
  assert.throws(() => trainTestSplit([[1]] as unknown as CsrMatrix), {
    name: "TypeError",
    message: "Expected X to be a CsrMatrix but found an array",
  });
});

const PINNED_INDPTR = [0, 3, 6];
const PINNED_INDICES = [1, 4, 7, 0, 1, 4];
