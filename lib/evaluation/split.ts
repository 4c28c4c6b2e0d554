/**
 * Train/test splits of a user × item matrix, seeded and reproducible: the same
 * `randomState` gives the same split on Deno and Bun (lib/random.ts).
 *
 * Every split returns `{ train, test }`, two CsrMatrix of the input's shape
 * whose stored entries partition the input's: each stored (user, item, value)
 * lands in exactly one of them, value unchanged, so `train + test` is the input
 * and no cell is stored in both. Each split works on the CSR arrays directly:
 * one pass marks the test entries in a byte mask, one counts them per row and
 * one copies; no object is made per entry.
 *
 * @module
 */
import { Random } from "../random.ts";
import { checkCsrMatrix, CsrMatrix } from "../sparse.ts";
import { finiteNumber, knownOptions, nonNegativeInteger, positiveInteger } from "../validate.ts";

/** Two matrices of the input's shape that partition its stored entries. */
export interface Split {
  /** The entries kept for fitting. */
  train: CsrMatrix;
  /** The held-out entries, for evaluation. */
  test: CsrMatrix;
}

/** Options of {@link trainTestSplit}. */
export interface TrainTestSplitOptions {
  /** Probability that an interaction goes to train, in (0, 1] (0.8). */
  trainPercentage?: number;
  /** Seed, a non-negative safe integer; omitted means a random seed. */
  randomState?: number;
}

/** Options of {@link leaveKOutSplit}. */
export interface LeaveKOutSplitOptions {
  /** Interactions held out per eligible user, an integer >= 1 (1). */
  k?: number;
  /** Share of the users with interactions kept only in train, in [0, 1) (0). */
  trainOnlySize?: number;
  /** Seed, a non-negative safe integer; omitted means a random seed. */
  randomState?: number;
}

/** Options of {@link userBasedSplit}. */
export interface UserBasedSplitOptions {
  /** Probability that a user goes to test with all their interactions, in [0, 1) (0.2). */
  testPercentage?: number;
  /** Seed, a non-negative safe integer; omitted means a random seed. */
  randomState?: number;
}

/**
 * Splits interactions at random, each independently, as Python
 * `implicit.evaluation.train_test_split`: every stored entry draws u uniform in
 * [0, 1) (24-bit, in CSR order) and goes to train when u < trainPercentage,
 * to test otherwise. So about `trainPercentage` of the entries are in train,
 * and a user may end with all, some or none of their interactions in test.
 *
 * Unlike implicit, negative values stay in test (implicit zeroes and drops
 * them there), so that train and test always add up to the input.
 *
 * @param X The users × items matrix.
 * @param options `trainPercentage` (0.8) in (0, 1] and `randomState`.
 * @returns `{ train, test }`, both of X's shape.
 * @throws TypeError when X is not a CsrMatrix or an option has the wrong type;
 *   RangeError for a trainPercentage outside (0, 1] (NaN included) or a bad seed.
 * @example
 * ```ts
 * import { deepStrictEqual, equal } from "node:assert/strict";
 * import { CsrMatrix } from "../sparse.ts";
 * import { trainTestSplit } from "./split.ts";
 * const X = CsrMatrix.fromDense([[1, 0, 2, 3], [0, 4, 5, 0]]);
 * const { train, test } = trainTestSplit(X, { trainPercentage: 0.5, randomState: 7 });
 * // The 5 stored entries are partitioned: none lost, none in both, values unchanged.
 * equal(train.nnz + test.nnz, 5);
 * const testDense = test.toDense();
 * deepStrictEqual(train.toDense().map((v, k) => v + testDense[k]!), X.toDense());
 * // The same seed gives the same split.
 * deepStrictEqual(trainTestSplit(X, { trainPercentage: 0.5, randomState: 7 }).test, test);
 * // u < 1 always holds, so trainPercentage 1 keeps every entry in train.
 * equal(trainTestSplit(X, { trainPercentage: 1, randomState: 7 }).test.nnz, 0);
 * ```
 */
export function trainTestSplit(X: CsrMatrix, options: TrainTestSplitOptions = {}): Split {
  checkMatrix(X);
  knownOptions("trainTestSplit()", options, ["trainPercentage", "randomState"]);
  const trainPercentage = finiteNumber("trainPercentage", options.trainPercentage ?? 0.8, {
    min: 0,
    minExclusive: true,
    max: 1,
  });
  const random = seeded(options.randomState);
  const nnz = X.nnz;
  const inTest = new Uint8Array(nnz);
  for (let p = 0; p < nnz; p++) {
    if (random.nextFloat() >= trainPercentage) inTest[p] = 1;
  }
  return partition(X, inTest);
}

/**
 * Holds out `k` interactions of each eligible user, as Python
 * `implicit.evaluation.leave_k_out_split` (the default k = 1 is leave-one-out).
 * The rules, per user (row):
 *
 * 1. When `trainOnlySize` > 0, `max(1, floor(trainOnlySize · m))` of the m users
 *    with at least one interaction are drawn uniformly without replacement and
 *    kept only in train, whole.
 * 2. A user with at most `k + 1` interactions stays whole in train (implicit's
 *    "eligible user: more than K + 1 ratings"), so every user in test keeps at
 *    least two interactions in train.
 * 3. Every other user has exactly `k` of their interactions, drawn uniformly
 *    without replacement, moved to test; the rest stay in train.
 *
 * So the test matrix has exactly k entries in each eligible row and none
 * elsewhere. (implicit's `_choose` compares user ids with positions in the list
 * of users with interactions; here the drawn users are the users themselves,
 * which is the same when every row has an interaction.)
 *
 * @param X The users × items matrix.
 * @param options `k` (1) an integer >= 1, `trainOnlySize` (0) in [0, 1), `randomState`.
 * @returns `{ train, test }`, both of X's shape.
 * @throws TypeError when X is not a CsrMatrix or an option has the wrong type;
 *   RangeError for k < 1 or not an integer, trainOnlySize outside [0, 1), NaN, or a bad seed.
 * @example
 * ```ts
 * import { deepStrictEqual, equal } from "node:assert/strict";
 * import { CsrMatrix } from "../sparse.ts";
 * import { leaveKOutSplit } from "./split.ts";
 * const X = CsrMatrix.fromDense([[1, 2, 3, 4], [0, 5, 6, 0]]);
 * const { train, test } = leaveKOutSplit(X, { k: 1, randomState: 3 });
 * // User 0 has 4 > k + 1 interactions: exactly one moves to test, three stay.
 * equal(test.row(0).indices.length, 1);
 * equal(train.row(0).indices.length, 3);
 * // User 1 has 2 = k + 1 interactions: stays whole in train.
 * equal(test.row(1).indices.length, 0);
 * deepStrictEqual([...train.row(1).data], [5, 6]);
 * ```
 */
export function leaveKOutSplit(X: CsrMatrix, options: LeaveKOutSplitOptions = {}): Split {
  checkMatrix(X);
  knownOptions("leaveKOutSplit()", options, ["k", "trainOnlySize", "randomState"]);
  const k = positiveInteger("k", options.k ?? 1);
  const trainOnlySize = finiteNumber("trainOnlySize", options.trainOnlySize ?? 0, {
    min: 0,
    max: 1,
    maxExclusive: true,
  });
  const random = seeded(options.randomState);
  const [nRows] = X.shape;
  const { indptr } = X;
  const trainOnly = new Uint8Array(nRows);
  if (trainOnlySize > 0) {
    let active = 0;
    for (let r = 0; r < nRows; r++) if (indptr[r + 1]! > indptr[r]!) active++;
    const users = new Int32Array(active);
    for (let r = 0, a = 0; r < nRows; r++) if (indptr[r + 1]! > indptr[r]!) users[a++] = r;
    const chosen = Math.min(active, Math.max(1, Math.floor(active * trainOnlySize)));
    // Partial Fisher–Yates: the first `chosen` slots become a uniform sample.
    for (let j = 0; j < chosen; j++) {
      const swap = j + below(random, active - j);
      const user = users[swap]!;
      users[swap] = users[j]!;
      users[j] = user;
      trainOnly[user] = 1;
    }
  }
  const inTest = new Uint8Array(X.nnz);
  for (let r = 0; r < nRows; r++) {
    const start = indptr[r]!;
    const n = indptr[r + 1]! - start;
    if (n <= k + 1 || trainOnly[r] === 1) continue;
    // Selection sampling (Knuth, TAOCP vol. 2, 3.4.2, Algorithm S): position i
    // is taken with probability needed / (n - i), giving a uniform k-subset.
    let needed = k;
    for (let i = 0; i < n && needed > 0; i++) {
      if (below(random, n - i) < needed) {
        inTest[start + i] = 1;
        needed--;
      }
    }
  }
  return partition(X, inTest);
}

/**
 * Holds out whole users, as Spotlight's `user_based_train_test_split`: each
 * user (row, empty or not, in order) draws u uniform in [0, 1) and goes to test
 * with all their interactions when u < testPercentage, otherwise to train. So
 * about `testPercentage` of the users are in test, and every row is stored
 * whole in exactly one of the two matrices. (Spotlight hashes user ids with a
 * seeded murmurhash for the same effect.)
 *
 * @param X The users × items matrix.
 * @param options `testPercentage` (0.2) in [0, 1) and `randomState`.
 * @returns `{ train, test }`, both of X's shape.
 * @throws TypeError when X is not a CsrMatrix or an option has the wrong type;
 *   RangeError for a testPercentage outside [0, 1) (NaN included) or a bad seed.
 * @example
 * ```ts
 * import { equal, ok } from "node:assert/strict";
 * import { CsrMatrix } from "../sparse.ts";
 * import { userBasedSplit } from "./split.ts";
 * const X = CsrMatrix.fromDense([[1, 2], [3, 0], [0, 4]]);
 * const { train, test } = userBasedSplit(X, { testPercentage: 0.5, randomState: 1 });
 * for (let u = 0; u < 3; u++) {
 *   // Each row is stored whole in exactly one of the two matrices.
 *   const inTrain = train.row(u).indices.length;
 *   const inTest = test.row(u).indices.length;
 *   ok(inTrain === 0 || inTest === 0);
 *   equal(inTrain + inTest, X.row(u).indices.length);
 * }
 * // u < 0 never holds, so testPercentage 0 puts every user in train.
 * equal(userBasedSplit(X, { testPercentage: 0, randomState: 1 }).train.nnz, 4);
 * ```
 */
export function userBasedSplit(X: CsrMatrix, options: UserBasedSplitOptions = {}): Split {
  checkMatrix(X);
  knownOptions("userBasedSplit()", options, ["testPercentage", "randomState"]);
  const testPercentage = finiteNumber("testPercentage", options.testPercentage ?? 0.2, {
    min: 0,
    max: 1,
    maxExclusive: true,
  });
  const random = seeded(options.randomState);
  const [nRows] = X.shape;
  const inTest = new Uint8Array(X.nnz);
  for (let r = 0; r < nRows; r++) {
    if (random.nextFloat() < testPercentage) inTest.fill(1, X.indptr[r]!, X.indptr[r + 1]!);
  }
  return partition(X, inTest);
}

function checkMatrix(X: unknown): asserts X is CsrMatrix {
  checkCsrMatrix("X", X);
}

function seeded(randomState: number | undefined): Random {
  return new Random(
    randomState === undefined ? undefined : nonNegativeInteger("randomState", randomState),
  );
}

/** A uniform integer in [0, n) for 1 <= n <= 2^31, by rejection (no modulo bias; no argument checks in the hot loop). */
function below(random: Random, n: number): number {
  const limit = 4294967296 - (4294967296 % n);
  let x = random.nextUint32();
  while (x >= limit) x = random.nextUint32();
  return x % n;
}

/** Splits X's stored entries by `inTest` (1 = test), keeping their order: one counting pass, one copying pass. */
function partition(X: CsrMatrix, inTest: Uint8Array): Split {
  const [nRows] = X.shape;
  const { indptr, indices, data } = X;
  const trainPtr = new Int32Array(nRows + 1);
  const testPtr = new Int32Array(nRows + 1);
  let nTest = 0;
  for (let r = 0; r < nRows; r++) {
    const end = indptr[r + 1]!;
    for (let p = indptr[r]!; p < end; p++) nTest += inTest[p]!;
    testPtr[r + 1] = nTest;
    trainPtr[r + 1] = end - nTest;
  }
  const nnz = X.nnz;
  const trainIndices = new Int32Array(nnz - nTest);
  const trainData = new Float32Array(nnz - nTest);
  const testIndices = new Int32Array(nTest);
  const testData = new Float32Array(nTest);
  let a = 0;
  let b = 0;
  for (let p = 0; p < nnz; p++) {
    if (inTest[p] === 1) {
      testIndices[b] = indices[p]!;
      testData[b++] = data[p]!;
    } else {
      trainIndices[a] = indices[p]!;
      trainData[a++] = data[p]!;
    }
  }
  return {
    train: new CsrMatrix(X.shape, trainPtr, trainIndices, trainData),
    test: new CsrMatrix(X.shape, testPtr, testIndices, testData),
  };
}
