/**
 * Full-catalogue ranks of held-out interactions, as LightFM's `predict_rank`
 * defines them, for any model whose score is a dot product of a user row and
 * an item row: the factor models (ALS, BPR, LMF) call {@link factorRanks} with
 * their factors, and a hybrid model can call it with its representations.
 *
 * ## Definition
 *
 * For a stored entry (u, i) of the test matrix, with s_u(j) the score of item j
 * for user u and train_u the items of row u of the training matrix:
 *
 *     rank(u, i) = |{ j : j ≠ i, j ∉ train_u, s_u(j) >= s_u(i) }|
 *
 * so 0 is the top of the list, an item tied with i counts as ranked above it,
 * training items are never counted and the other test items are (they compete
 * as every other item does). The result has the test matrix's sparsity
 * pattern, the rank as each value. The native kernel (`zig/ranks.zig`) scores
 * each test user's catalogue once, in parallel over users, accumulating each
 * score exactly as `recommend`'s top-k kernel does, so the ranks agree with the
 * scores `recommend` returns, near-ties included.
 *
 * @module
 */
import { callNative } from "../native/library.ts";
import { checkCsrMatrix, CsrMatrix } from "../sparse.ts";
import { float32Array, positiveInteger } from "../validate.ts";

/** Options of a model's `predictRank`, as LightFM's `predict_rank` takes them. */
export interface PredictRankOptions {
  /** Items never counted: row u holds user u's training items (LightFM's `train_interactions`). */
  trainInteractions?: CsrMatrix | undefined;
  /** A `[nUsers, userFeatures]` matrix, for models built on features; a pure factor model refuses it. */
  userFeatures?: CsrMatrix | undefined;
  /** A `[nItems, itemFeatures]` matrix, for models built on features; a pure factor model refuses it. */
  itemFeatures?: CsrMatrix | undefined;
  /** Refuse a test interaction that is also a training interaction (true), as LightFM does. */
  checkIntersections?: boolean | undefined;
}

/**
 * A model that ranks held-out interactions over its whole catalogue: what
 * LightFM's evaluation functions (lib/evaluation/lightfm.ts) call first. Every
 * factor model implements it.
 */
export interface RankPredictor {
  /** Number of users: the rows of the interaction matrices. */
  readonly nUsers: number;
  /** Number of items: the columns of the interaction matrices. */
  readonly nItems: number;
  /**
   * The rank of every stored entry of `testInteractions` (0 = best), as
   * LightFM's `predict_rank`.
   *
   * @param testInteractions A `nUsers × nItems` matrix; each stored entry is ranked.
   * @param options `trainInteractions`, `userFeatures`, `itemFeatures`, `checkIntersections`.
   * @returns A matrix with exactly the sparsity pattern of `testInteractions`, ranks as values.
   */
  predictRank(testInteractions: CsrMatrix, options: PredictRankOptions): CsrMatrix;
}

/** How a function names its test and training matrices, for its messages. */
export interface MatrixNames {
  /** The held-out matrix: `"testInteractions"` (LightFM's name), `"test"` (Spotlight's). */
  readonly test: string;
  /** The training matrix: `"trainInteractions"` (LightFM's name), `"train"` (Spotlight's). */
  readonly train: string;
}

/** LightFM's names of the matrices, which `predictRank` takes. */
const LIGHTFM_NAMES: MatrixNames = { test: "testInteractions", train: "trainInteractions" };

/** The option names of {@link PredictRankOptions}. */
export const PREDICT_RANK_OPTIONS: readonly string[] = [
  "trainInteractions",
  "userFeatures",
  "itemFeatures",
  "checkIntersections",
];

/** Columns of the factor matrices a kernel accepts. */
const FACTORS_MAX = 1024;

/**
 * The rank of every stored entry of `test` among all items (LightFM's
 * `predict_rank`, defined in this module's documentation), scoring item j for
 * user u as the dot product of row u of `userFactors` and row j of `itemFactors`.
 * Shapes are checked; whether test and train intersect is not (see
 * {@link checkNoIntersections}).
 *
 * @param userFactors Row-major `[test.nRows, f]` user rows.
 * @param itemFactors Row-major `[test.nCols, f]` item rows.
 * @param f The columns of both matrices, 1..1024.
 * @param test The entries to rank: row u holds user u's held-out items (values ignored).
 * @param train Items never counted, the same shape as `test` (values ignored); omitted: none.
 * @returns A new matrix with the shape and sparsity pattern of `test`; each value is a rank,
 *   an integer in `[0, nItems − 1]`.
 * @throws TypeError for a wrong argument type; RangeError for a wrong length or shape, or a
 *   factor that is not finite.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { factorRanks } from "./ranks.ts";
 * import { CsrMatrix } from "../sparse.ts";
 * // One user, f = 1: the scores are the item factors 3, 1, 3, 2.
 * const users = Float32Array.of(1);
 * const items = Float32Array.of(3, 1, 3, 2);
 * const test = CsrMatrix.fromCoo({ rows: [0, 0], cols: [0, 3], shape: [1, 4] });
 * // Item 0 ties with item 2, which counts against it; item 3 is below items 0 and 2.
 * deepStrictEqual(factorRanks(users, items, 1, test).data, Float32Array.of(1, 2));
 * // Item 2 is a training item: it is never counted.
 * const train = CsrMatrix.fromCoo({ rows: [0], cols: [2], shape: [1, 4] });
 * deepStrictEqual(factorRanks(users, items, 1, test, train).data, Float32Array.of(0, 1));
 * ```
 */
export function factorRanks(
  userFactors: Float32Array,
  itemFactors: Float32Array,
  f: number,
  test: CsrMatrix,
  train?: CsrMatrix,
): CsrMatrix {
  positiveInteger("f", f);
  if (f > FACTORS_MAX) {
    throw new RangeError(`Expected f to be at most ${FACTORS_MAX} but found ${f}`);
  }
  expectCsr("test", test);
  const [nUsers, nItems] = test.shape;
  factorLength("userFactors", float32Array("userFactors", userFactors), nUsers, f, "test's rows");
  factorLength(
    "itemFactors",
    float32Array("itemFactors", itemFactors),
    nItems,
    f,
    "test's columns",
  );
  if (train !== undefined) checkInteractions("train", train, nUsers, nItems, "test's");
  const ranks = new Float32Array(test.nnz);
  callNative("tacit_factor_ranks", {
    n_users: nUsers,
    n_items: nItems,
    f,
    user_factors: userFactors,
    item_factors: itemFactors,
    test_indptr: test.indptr,
    test_indices: test.indices,
    train_indptr: train?.indptr ?? null,
    train_indices: train?.indices ?? NO_IDS,
    out_ranks: ranks,
  });
  return new CsrMatrix(test.shape, test.indptr.slice(), test.indices.slice(), ranks);
}

/** The train indices of a call without a train matrix (read by nobody: length 0). */
const NO_IDS = new Int32Array(0);

function factorLength(
  name: string,
  factors: Float32Array,
  rows: number,
  f: number,
  what: string,
): void {
  if (factors.length !== rows * f) {
    throw new RangeError(
      `Expected ${name} to have ${
        rows * f
      } values (${rows} rows, ${what}, × f = ${f}) but found ${factors.length}`,
    );
  }
}

function expectCsr(name: string, matrix: unknown): asserts matrix is CsrMatrix {
  checkCsrMatrix(name, matrix);
}

/**
 * Checks that an interaction matrix is a CsrMatrix of shape `nUsers × nItems`.
 *
 * @param name The argument's name, e.g. `"testInteractions"`.
 * @param matrix The value to check.
 * @param nUsers The rows it must have.
 * @param nItems The columns it must have.
 * @param whose Whose users and items these are, for the message (`"the model's"`).
 * @throws TypeError when `matrix` is not a CsrMatrix; RangeError for a wrong shape, e.g.
 *   "Expected testInteractions to have 943 rows (the model's users) but found 942".
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { checkInteractions } from "./ranks.ts";
 * import { CsrMatrix } from "../sparse.ts";
 * checkInteractions("testInteractions", CsrMatrix.empty([3, 4]), 3, 4);
 * throws(() => checkInteractions("testInteractions", CsrMatrix.empty([942, 4]), 943, 4), {
 *   name: "RangeError",
 *   message: "Expected testInteractions to have 943 rows (the model's users) but found 942",
 * });
 * ```
 */
export function checkInteractions(
  name: string,
  matrix: unknown,
  nUsers: number,
  nItems: number,
  whose = "the model's",
): asserts matrix is CsrMatrix {
  expectCsr(name, matrix);
  if (matrix.nRows !== nUsers) {
    throw new RangeError(
      `Expected ${name} to have ${nUsers} rows (${whose} users) but found ${matrix.nRows}`,
    );
  }
  if (matrix.nCols !== nItems) {
    throw new RangeError(
      `Expected ${name} to have ${nItems} columns (${whose} items) but found ${matrix.nCols}`,
    );
  }
}

/**
 * Refuses test interactions that are also training interactions, as LightFM's
 * `check_intersections`: such an entry's rank is optimistic (the item was
 * fitted on) and usually means a bad split. Rows are merged in O(nnz).
 *
 * @param test The held-out interactions.
 * @param train The training interactions, the same shape as `test`.
 * @param names How the caller names the two matrices (LightFM's names by default).
 * @throws RangeError counting the shared entries and naming the first.
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { checkNoIntersections } from "./ranks.ts";
 * import { CsrMatrix } from "../sparse.ts";
 * const train = CsrMatrix.fromCoo({ rows: [0, 1], cols: [1, 2], shape: [2, 3] });
 * checkNoIntersections(CsrMatrix.fromCoo({ rows: [0], cols: [0], shape: [2, 3] }), train);
 * throws(
 *   () => checkNoIntersections(CsrMatrix.fromCoo({ rows: [1], cols: [2], shape: [2, 3] }), train),
 *   /share 1 interaction, the first at user 1, item 2/,
 * );
 * ```
 */
export function checkNoIntersections(
  test: CsrMatrix,
  train: CsrMatrix,
  names: MatrixNames = LIGHTFM_NAMES,
): void {
  let shared = 0;
  let first: [number, number] | undefined;
  for (let u = 0; u < test.nRows; u++) {
    let [p, pEnd] = test.rowRange(u);
    let [q, qEnd] = train.rowRange(u);
    while (p < pEnd && q < qEnd) {
      const a = test.indices[p]!;
      const b = train.indices[q]!;
      if (a === b) {
        shared++;
        first ??= [u, a];
        p++;
        q++;
      } else if (a < b) {
        p++;
      } else {
        q++;
      }
    }
  }
  if (first !== undefined) {
    throw new RangeError(
      `Expected ${names.test} and ${names.train} to share no interaction but they share ${shared} interaction${
        shared === 1 ? "" : "s"
      }, the first at user ${first[0]}, item ${
        first[1]
      }: their ranks would be optimistic; check the split, or pass checkIntersections: false`,
    );
  }
}
