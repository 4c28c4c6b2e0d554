/**
 * Spotlight's evaluation functions (`spotlight.evaluation`): the mean
 * reciprocal rank of every user's test items, and precision and recall at one
 * or several cut-offs. Spotlight scores the whole catalogue one user at a time
 * in Python; here every test interaction is ranked in one batched native call
 * (the model's `predictRank`: lib/evaluation/ranks.ts, parallel over users)
 * and the metrics are a pass over those ranks. They take Spotlight's
 * arguments, named the TypeScript way: `mrr_score(model, test, train)` is
 * `mrrScore(model, test, { train })`, `precision_recall_score(model, test,
 * train, k)` is `precisionRecallScore(model, test, { train, k })`.
 *
 * The model is any model with `predictRank` (every factor model), or one with
 * only `recommend` (the kNN models), ranked as LightFM's functions rank it
 * (lib/evaluation/model_ranks.ts): such a model needs `train`.
 *
 * ## Definitions
 *
 * Every stored entry of `test` is a positive, whatever its value. For a user u
 * with test items T_u (m = |T_u| ≥ 1), training items train_u and s_u(j) the
 * model's score of item j, tacit's rank of a test item i (0 = top) is
 *
 *     rank(u, i) = |{ j : j ≠ i, j ∉ train_u, s_u(j) ≥ s_u(i) }|
 *
 * so training items never count, the user's other test items compete like
 * every other item, and an item tied with i counts as ranked above it.
 *
 * - **mrrScore**: (1/m) Σ_{i ∈ T_u} 1 / (rank(u, i) + 1).
 * - **precisionRecallScore**, with hits_k = |{ i ∈ T_u : rank(u, i) < k }|:
 *   precision = hits_k / min(k, nItems) and recall = hits_k / m.
 *
 * ## Correspondence with Spotlight
 *
 * Spotlight negates the scores, sets the training items' negated scores to
 * `FLOAT_MAX` (so they rank last) and, for MRR, takes scipy's `rankdata` (1-based) of each
 * test item: that rank is rank(u, i) + 1 when no other item outside train_u
 * ties with i. On a tie Spotlight averages the tied positions and tacit
 * counts every tied item above i (its rank is the worst of the tied
 * positions); with float scores ties are rare. For precision and recall
 * Spotlight takes the first k items of the `argsort` (training items last)
 * and counts the test items among them, dividing by the length of that list:
 * k, or nItems when k is larger, as here. A test item tied with another at
 * the cut-off is a hit in Spotlight depending on how `argsort` orders the
 * tie; here it is a hit only if it ranks below k with every tie counted
 * above it.
 *
 * The values are for the users with at least one test interaction, in
 * increasing user id, as Spotlight iterates its CSR rows; Spotlight returns
 * only the values, `precisionRecallScore` also returns those `users` (for
 * `mrrScore` they are the rows of `test` that hold an entry). With `k` an
 * array Spotlight returns `(users, len(k))` matrices; here `precision[j]` and
 * `recall[j]` are the values at `k[j]`, its column j.
 *
 * Two deliberate differences. A test without any stored entry is refused
 * (Spotlight returns empty arrays): every value would be a mean over nothing,
 * which usually means a wrong split. And a test interaction that is also a
 * training interaction is refused unless `checkIntersections: false` (as
 * LightFM's functions do; Spotlight does not check): with it, such an item is
 * ranked by its score among the items outside train_u, where Spotlight ranks
 * it with the training items, last.
 *
 * @module
 */
import type { CsrMatrix } from "../sparse.ts";
import { describe, knownOptions, positiveInteger } from "../validate.ts";
import {
  checkModel,
  checkRankInputs,
  type EvaluatedModel,
  hits,
  ranksOf,
  usersWithTestItems,
} from "./model_ranks.ts";
import type { MatrixNames } from "./ranks.ts";

/** Options of {@link mrrScore}: Spotlight's `train`, and whether to check it against the test. */
export interface SpotlightOptions {
  /** Items never counted: row u holds user u's training items (Spotlight's `train`); omitted: none. */
  train?: CsrMatrix | undefined;
  /** Refuse test interactions that are also training interactions (true, the default). */
  checkIntersections?: boolean | undefined;
}

/** Options of {@link precisionRecallScore}. */
export interface PrecisionRecallOptions extends SpotlightOptions {
  /** The cut-off, or several (10): the top k items are the recommended list. */
  k?: number | readonly number[] | undefined;
}

/** Precision and recall at one cut-off, one value per user with test interactions. */
export interface PrecisionRecall {
  /** hits_k / min(k, nItems) of each user in `users`. */
  precision: Float64Array;
  /** hits_k / (the user's test interactions) of each user in `users`. */
  recall: Float64Array;
  /** The users the values belong to: those with test interactions, in increasing order. */
  users: Int32Array;
}

/** Precision and recall at several cut-offs: one array per cut-off, in the order given. */
export interface PrecisionRecallPerK {
  /** `precision[j]`: the precision at `k[j]` of each user in `users`. */
  precision: Float64Array[];
  /** `recall[j]`: the recall at `k[j]` of each user in `users`. */
  recall: Float64Array[];
  /** The users the values belong to: those with test interactions, in increasing order. */
  users: Int32Array;
}

/** Spotlight's names of the matrices, for messages. */
const NAMES: MatrixNames = { test: "test", train: "train" };
const MRR_OPTIONS = ["train", "checkIntersections"] as const;
const PRECISION_RECALL_OPTIONS = [...MRR_OPTIONS, "k"] as const;
/** Names a caller coming from LightFM (or tacit's `lightfm` namespace) may reach for. */
const ALIASES: Readonly<Record<string, string>> = {
  trainInteractions: "train",
  train_interactions: "train",
};

/**
 * The mean reciprocal rank of every user's test items, as Spotlight's
 * `mrr_score`: (1/m) Σ 1 / (rank + 1) over the user's m test items, each
 * ranked among all items but the user's training items (definitions and the
 * correspondence with Spotlight, ties included, in the module's notes).
 *
 * @param model A model with `predictRank`, or one with only `recommend` (then `train` is needed).
 * @param test The held-out `nUsers × nItems` interactions; each stored entry is a positive.
 * @param options `train` (none), `checkIntersections` (true).
 * @returns One value per user with test interactions, in increasing user id.
 * @throws TypeError for a wrong type, an unknown option or a model without `predictRank` and
 *   `recommend`; RangeError for a matrix of the wrong shape, a test without any interaction or
 *   test and training interactions in common.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { AlternatingLeastSquares, CsrMatrix, spotlight } from "../../mod.ts";
 * const model = new AlternatingLeastSquares({ factors: 1 });
 * // Users 0 and 1 have factor 1, user 2 has −1; the items have factors 5, 4, 3, 2, 1, so
 * // users 0 and 1 rank the items 0, 1, 2, 3, 4 and user 2 the other way round.
 * model.assignFactors({ data: Float32Array.of(1, 1, -1), shape: [3, 1] }, {
 *   data: Float32Array.of(5, 4, 3, 2, 1),
 *   shape: [5, 1],
 * });
 * // User 0's test items 1 and 4 are 2nd and 5th; user 1 has none (no value); user 2's item 0
 * // is 5th.
 * const test = CsrMatrix.fromCoo({ rows: [0, 0, 2], cols: [1, 4, 0], shape: [3, 5] });
 * deepStrictEqual(spotlight.mrrScore(model, test), Float64Array.of((1 / 2 + 1 / 5) / 2, 1 / 5));
 * // With user 2's items 1..3 as training items, its item 0 is 2nd (only item 4 is above it).
 * const train = CsrMatrix.fromCoo({ rows: [2, 2, 2], cols: [1, 2, 3], shape: [3, 5] });
 * deepStrictEqual(
 *   spotlight.mrrScore(model, test, { train }),
 *   Float64Array.of((1 / 2 + 1 / 5) / 2, 1 / 2),
 * );
 * ```
 */
export function mrrScore(
  model: EvaluatedModel,
  test: CsrMatrix,
  options: SpotlightOptions = {},
): Float64Array {
  checkModel(model);
  const given = knownOptions("mrrScore()", options, MRR_OPTIONS, ALIASES);
  const { ranks, users } = testRanks(model, test, given);
  const out = new Float64Array(users.length);
  users.forEach((user, row) => {
    const [start, end] = test.rowRange(user);
    let sum = 0;
    for (let p = start; p < end; p++) sum += 1 / (ranks.data[p]! + 1);
    out[row] = sum / (end - start);
  });
  return out;
}

/**
 * Precision and recall at k of every user, as Spotlight's
 * `precision_recall_score`: of the top k items (training items left out, the
 * user's other test items competing), the user's test items among them,
 * divided by the list's length, min(k, nItems), and by the user's test items
 * (definitions and the correspondence with Spotlight in the module's notes).
 *
 * @param model A model with `predictRank`, or one with only `recommend` (then `train` is needed).
 * @param test The held-out `nUsers × nItems` interactions; each stored entry is a positive.
 * @param options `train` (none), `k` (10), `checkIntersections` (true).
 * @returns `precision`, `recall` and `users`: one value per user with test interactions, in
 *   increasing user id.
 * @throws TypeError for a wrong type, an unknown option or a model without `predictRank` and
 *   `recommend`; RangeError for a `k` that is not an integer ≥ 1, a matrix of the wrong shape,
 *   a test without any interaction or test and training interactions in common.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { AlternatingLeastSquares, CsrMatrix, precisionRecallScore } from "../../mod.ts";
 * const model = new AlternatingLeastSquares({ factors: 1 });
 * // Users 0 and 1 rank the items 0, 1, 2, 3, 4 in that order (factors 5, 4, 3, 2, 1).
 * model.assignFactors({ data: Float32Array.of(1, 1), shape: [2, 1] }, {
 *   data: Float32Array.of(5, 4, 3, 2, 1),
 *   shape: [5, 1],
 * });
 * // User 0's test items 1 and 4 are 2nd and 5th: one in the top 2. User 1's item 3 is 4th.
 * const test = CsrMatrix.fromCoo({ rows: [0, 0, 1], cols: [1, 4, 3], shape: [2, 5] });
 * deepStrictEqual(precisionRecallScore(model, test, { k: 2 }), {
 *   precision: Float64Array.of(1 / 2, 0),
 *   recall: Float64Array.of(1 / 2, 0),
 *   users: Int32Array.of(0, 1),
 * });
 * // Several cut-offs: one array per k. The top 10 is the whole catalogue of 5 items.
 * deepStrictEqual(precisionRecallScore(model, test, { k: [4, 10] }), {
 *   precision: [Float64Array.of(1 / 4, 1 / 4), Float64Array.of(2 / 5, 1 / 5)],
 *   recall: [Float64Array.of(1 / 2, 1), Float64Array.of(1, 1)],
 *   users: Int32Array.of(0, 1),
 * });
 * ```
 */
export function precisionRecallScore(
  model: EvaluatedModel,
  test: CsrMatrix,
  options?: PrecisionRecallOptions & { k?: number | undefined },
): PrecisionRecall;
/**
 * Precision and recall at several cut-offs: one array per value of `k`, in the order given.
 *
 * @param model A model with `predictRank`, or one with only `recommend` (then `train` is needed).
 * @param test The held-out `nUsers × nItems` interactions; each stored entry is a positive.
 * @param options `k` (at least one value), `train` (none), `checkIntersections` (true).
 * @returns `precision[j]` and `recall[j]` at `k[j]`, and the `users` the values belong to.
 */
export function precisionRecallScore(
  model: EvaluatedModel,
  test: CsrMatrix,
  options: PrecisionRecallOptions & { k: readonly number[] },
): PrecisionRecallPerK;
/**
 * Precision and recall at one cut-off or several, as `k` is a number or an array.
 *
 * @param model A model with `predictRank`, or one with only `recommend` (then `train` is needed).
 * @param test The held-out `nUsers × nItems` interactions; each stored entry is a positive.
 * @param options `train` (none), `k` (10), `checkIntersections` (true).
 * @returns {@link PrecisionRecall} for a number `k`, {@link PrecisionRecallPerK} for an array.
 */
export function precisionRecallScore(
  model: EvaluatedModel,
  test: CsrMatrix,
  options?: PrecisionRecallOptions,
): PrecisionRecall | PrecisionRecallPerK;
export function precisionRecallScore(
  model: EvaluatedModel,
  test: CsrMatrix,
  options: PrecisionRecallOptions = {},
): PrecisionRecall | PrecisionRecallPerK {
  checkModel(model);
  const given = knownOptions("precisionRecallScore()", options, PRECISION_RECALL_OPTIONS, ALIASES);
  const cutoffs = checkCutoffs(given.k);
  const { ranks, users } = testRanks(model, test, given);
  const precision = cutoffs.values.map(() => new Float64Array(users.length));
  const recall = cutoffs.values.map(() => new Float64Array(users.length));
  users.forEach((user, row) => {
    const [start, end] = test.rowRange(user);
    cutoffs.values.forEach((k, j) => {
      const found = hits(ranks, start, end, k);
      precision[j]![row] = found / Math.min(k, model.nItems);
      recall[j]![row] = found / (end - start);
    });
  });
  if (cutoffs.scalar) return { precision: precision[0]!, recall: recall[0]!, users };
  return { precision, recall, users };
}

// ---------------------------------------------------------------------------

/** Checks the matrices against the model, then ranks every test interaction. */
function testRanks(
  model: EvaluatedModel,
  test: CsrMatrix,
  given: Record<string, unknown>,
): { ranks: CsrMatrix; users: Int32Array } {
  const inputs = checkRankInputs(model, test, {
    train: given.train,
    checkIntersections: given.checkIntersections,
  }, NAMES);
  if (test.nnz === 0) {
    throw new RangeError(
      `Expected test to hold at least one interaction but found none (shape [${test.shape}]): every user would be skipped`,
    );
  }
  return { ranks: ranksOf(model, test, inputs, NAMES), users: usersWithTestItems(test) };
}

/** `k` as a list of cut-offs, and whether it was one number. */
function checkCutoffs(k: unknown): { values: number[]; scalar: boolean } {
  if (k === undefined) return { values: [10], scalar: true };
  if (typeof k === "number") return { values: [positiveInteger("k", k)], scalar: true };
  if (!Array.isArray(k)) {
    throw new TypeError(
      `Expected k to be a positive integer or an array of them but found ${describe(k)}`,
    );
  }
  if (k.length === 0) {
    throw new RangeError(
      "Expected k to be a positive integer or a non-empty array of them but found an empty array",
    );
  }
  return { values: k.map((value, j) => positiveInteger(`k[${j}]`, value)), scalar: false };
}
