/**
 * LightFM's evaluation functions (`lightfm.evaluation` in LightFM 1.17):
 * precision and recall at k, ROC AUC and reciprocal rank of every user, from
 * the full-catalogue ranks of the test interactions. They take LightFM's
 * arguments, named the TypeScript way (`train_interactions` is
 * `trainInteractions`, `preserve_rows` is `preserveRows`, ...), and work over
 * any model:
 *
 * - a model with `predictRank` (every factor model; LightFM's own protocol) is
 *   asked for the ranks, with `trainInteractions`, `userFeatures` and
 *   `itemFeatures` passed through;
 * - a model with only `recommend` (a {@link RankingModel}: the kNN models) is
 *   ranked through `recommend(users, trainInteractions, { n: nItems,
 *   filterAlreadyLiked: true })`: the rank of a test item is the number of other
 *   listed items scoring at least as much, which is LightFM's rank when the list
 *   holds every item that is not a training item. Such a model needs
 *   `trainInteractions` (it scores from the user's items) and takes no
 *   features; a test item missing from its list (a training item, when
 *   `checkIntersections` is false) gets the rank after the last listed item.
 *
 * These are not the `precisionAtK` / `recallAtK` of lib/evaluation/metrics.ts
 * (implicit's top-k metrics, which average over users); tacit exports these as
 * the `lightfm` namespace, and `aucScore` and `reciprocalRank` at the top level.
 *
 * ## Definitions
 *
 * With rank(u, i) the rank of test entry (u, i) (0 = best; ties count against
 * the item; training items never counted: lib/evaluation/ranks.ts), T_u the
 * test items of user u and m = |T_u|:
 *
 * - **precisionAtK**: |{i ∈ T_u : rank(u, i) < k}| / k.
 * - **recallAtK**: |{i ∈ T_u : rank(u, i) < k}| / m.
 * - **aucScore**: LightFM's `calculate_auc_from_rank`: with the test ranks sorted
 *   ascending r_0 <= r_1 <= ..., the i-th is reduced by the i positives ranked
 *   above it, r'_i = max(0, r_i − i), and
 *   AUC = (1/m) Σ_i (1 − r'_i / N) with N = nItems − m − |train_u| negatives.
 *   A user with only one class (m = 0, or N <= 0) scores 0.5; LightFM divides
 *   by zero when N = 0.
 * - **reciprocalRank**: 1 / (min_i rank(u, i) + 1).
 *
 * Each returns a Float32Array with one value per user that has test
 * interactions (in user order), or one per user with `preserveRows: true`;
 * a user without test interactions then gets precision 0, recall NaN (0 / 0, as
 * LightFM computes it), AUC 0.5 and reciprocal rank 0.
 *
 * `checkIntersections` (true by default) refuses a test interaction that is
 * also a training interaction, as LightFM does, since its rank would be
 * optimistic. LightFM's `num_threads` has no counterpart: the native pool is
 * sized once per process (`setNumThreads`).
 *
 * @module
 */
import type { CsrMatrix } from "../sparse.ts";
import { booleanOption, knownOptions, positiveInteger } from "../validate.ts";
import {
  checkModel,
  checkRankInputs,
  type EvaluatedModel,
  hits,
  type RankInputs,
  ranksOf,
} from "./model_ranks.ts";
import type { MatrixNames, PredictRankOptions } from "./ranks.ts";

export type { EvaluatedModel } from "./model_ranks.ts";
export type { PredictRankOptions, RankPredictor } from "./ranks.ts";

/** Options of {@link aucScore} and {@link reciprocalRank}. */
export interface EvaluationOptions {
  /** Items never counted, a `nUsers × nItems` matrix (LightFM's `train_interactions`); omitted: none. */
  trainInteractions?: CsrMatrix | undefined;
  /** A `[nUsers, features]` matrix passed to `predictRank` (for hybrid models). */
  userFeatures?: CsrMatrix | undefined;
  /** A `[nItems, features]` matrix passed to `predictRank` (for hybrid models). */
  itemFeatures?: CsrMatrix | undefined;
  /** One value for every user (true) or only for users with test interactions (false, the default). */
  preserveRows?: boolean | undefined;
  /** Refuse test interactions that are also training interactions (true, the default). */
  checkIntersections?: boolean | undefined;
}

/** Options of {@link precisionAtK} and {@link recallAtK}. */
export interface AtKOptions extends EvaluationOptions {
  /** The cut-off: ranks below k count as hits (10). */
  k?: number | undefined;
}

const EVALUATION_OPTIONS = [
  "trainInteractions",
  "userFeatures",
  "itemFeatures",
  "preserveRows",
  "checkIntersections",
] as const;
const AT_K_OPTIONS = [...EVALUATION_OPTIONS, "k"] as const;
const RANK_OPTIONS = EVALUATION_OPTIONS.filter((name) => name !== "preserveRows");

const I32_MAX = 2_147_483_647;
/** LightFM's names of the matrices, for messages. */
const NAMES: MatrixNames = { test: "testInteractions", train: "trainInteractions" };

interface Settings extends RankInputs {
  preserveRows: boolean;
}

/**
 * Precision at k of every user, as LightFM's `precision_at_k`: the test
 * interactions ranked below k, divided by k.
 *
 * @param model A model with `predictRank`, or a {@link RankingModel} (see the module's notes).
 * @param testInteractions The held-out `nUsers × nItems` interactions; each stored entry is a positive.
 * @param options `trainInteractions`, `k` (10), `userFeatures`, `itemFeatures`,
 *   `preserveRows` (false), `checkIntersections` (true).
 * @returns One value per user with test interactions (or per user with `preserveRows`; 0 there).
 * @throws TypeError for a wrong type, an unknown option or a model without `predictRank` and
 *   `recommend`; RangeError for a bad `k`, a matrix of the wrong shape or shared test and
 *   training interactions.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { AlternatingLeastSquares, CsrMatrix, lightfm } from "../../mod.ts";
 * const model = new AlternatingLeastSquares({ factors: 1 });
 * // Two users with factors 1 and −1; five items with factors 5, 4, 3, 2, 1, so user 0
 * // ranks the items 0, 1, 2, 3, 4 and user 1 the other way round.
 * model.assignFactors({ data: Float32Array.of(1, -1), shape: [2, 1] }, {
 *   data: Float32Array.of(5, 4, 3, 2, 1),
 *   shape: [5, 1],
 * });
 * // User 0's test items 1 and 4 rank 1 and 4 (one hit in the top 2); user 1's item 0 ranks 4.
 * const test = CsrMatrix.fromCoo({ rows: [0, 0, 1], cols: [1, 4, 0], shape: [2, 5] });
 * deepStrictEqual(lightfm.precisionAtK(model, test, { k: 2 }), Float32Array.of(0.5, 0));
 * // With user 1's items 1..3 as training items, its item 0 ranks 1 (only item 4 is above it).
 * const train = CsrMatrix.fromCoo({ rows: [1, 1, 1], cols: [1, 2, 3], shape: [2, 5] });
 * deepStrictEqual(
 *   lightfm.precisionAtK(model, test, { k: 2, trainInteractions: train }),
 *   Float32Array.of(0.5, 0.5),
 * );
 * ```
 */
export function precisionAtK(
  model: EvaluatedModel,
  testInteractions: CsrMatrix,
  options: AtKOptions = {},
): Float32Array {
  const { settings, k } = atKSettings("precisionAtK()", model, testInteractions, options);
  const ranks = ranksOf(model, testInteractions, settings, NAMES);
  return perUser(testInteractions, settings, (start, end) => hits(ranks, start, end, k) / k, 0);
}

/**
 * Recall at k of every user, as LightFM's `recall_at_k`: the test interactions
 * ranked below k, divided by the user's test interactions.
 *
 * @param model A model with `predictRank`, or a {@link RankingModel} (see the module's notes).
 * @param testInteractions The held-out `nUsers × nItems` interactions; each stored entry is a positive.
 * @param options `trainInteractions`, `k` (10), `userFeatures`, `itemFeatures`,
 *   `preserveRows` (false), `checkIntersections` (true).
 * @returns One value per user with test interactions (or per user with `preserveRows`; NaN there).
 * @throws As {@link precisionAtK}.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { AlternatingLeastSquares, CsrMatrix, lightfm } from "../../mod.ts";
 * const model = new AlternatingLeastSquares({ factors: 1 });
 * // One user ranking items 0, 1, 2, 3 in that order (factors 4, 3, 2, 1).
 * model.assignFactors({ data: Float32Array.of(1), shape: [1, 1] }, {
 *   data: Float32Array.of(4, 3, 2, 1),
 *   shape: [4, 1],
 * });
 * // Test items 0 and 3 rank 0 and 3: one of the two is in the top 2.
 * const test = CsrMatrix.fromCoo({ rows: [0, 0], cols: [0, 3], shape: [1, 4] });
 * deepStrictEqual(lightfm.recallAtK(model, test, { k: 2 }), Float32Array.of(0.5));
 * ```
 */
export function recallAtK(
  model: EvaluatedModel,
  testInteractions: CsrMatrix,
  options: AtKOptions = {},
): Float32Array {
  const { settings, k } = atKSettings("recallAtK()", model, testInteractions, options);
  const ranks = ranksOf(model, testInteractions, settings, NAMES);
  return perUser(
    testInteractions,
    settings,
    (start, end) => hits(ranks, start, end, k) / (end - start),
    Number.NaN,
  );
}

/**
 * ROC AUC of every user, as LightFM's `auc_score` (`calculate_auc_from_rank`):
 * the chance that a test interaction outranks an item that is neither a test
 * nor a training item, from the full-catalogue ranks (definition in the
 * module's documentation).
 *
 * @param model A model with `predictRank`, or a {@link RankingModel} (see the module's notes).
 * @param testInteractions The held-out `nUsers × nItems` interactions; each stored entry is a positive.
 * @param options `trainInteractions`, `userFeatures`, `itemFeatures`, `preserveRows` (false),
 *   `checkIntersections` (true).
 * @returns One value per user with test interactions (or per user with `preserveRows`; 0.5 there).
 * @throws As {@link precisionAtK}.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { aucScore, AlternatingLeastSquares, CsrMatrix } from "../../mod.ts";
 * const model = new AlternatingLeastSquares({ factors: 1 });
 * // One user ranking items 0..4 in that order (factors 5, 4, 3, 2, 1).
 * model.assignFactors({ data: Float32Array.of(1), shape: [1, 1] }, {
 *   data: Float32Array.of(5, 4, 3, 2, 1),
 *   shape: [5, 1],
 * });
 * // Test items 0 and 2 rank 0 and 2; item 2's rank less the one positive above it is 1.
 * // N = 5 − 2 = 3 negatives: AUC = ((1 − 0/3) + (1 − 1/3)) / 2 = 5/6.
 * const test = CsrMatrix.fromCoo({ rows: [0, 0], cols: [0, 2], shape: [1, 5] });
 * deepStrictEqual(aucScore(model, test), Float32Array.of(5 / 6));
 * ```
 */
export function aucScore(
  model: EvaluatedModel,
  testInteractions: CsrMatrix,
  options: EvaluationOptions = {},
): Float32Array {
  const settings = checkedSettings(
    "aucScore()",
    model,
    testInteractions,
    options,
    EVALUATION_OPTIONS,
  );
  const ranks = ranksOf(model, testInteractions, settings, NAMES);
  const train = settings.train;
  const nItems = testInteractions.nCols;
  return perUser(testInteractions, settings, (start, end, user) => {
    const positives = end - start;
    const trainCount = train === undefined ? 0 : train.indptr[user + 1]! - train.indptr[user]!;
    const negatives = nItems - positives - trainCount;
    if (negatives <= 0) return 0.5;
    const sorted = ranks.data.slice(start, end).sort();
    let sum = 0;
    for (let i = 0; i < positives; i++) {
      const reduced = Math.max(0, sorted[i]! - i);
      sum += 1 - reduced / negatives;
    }
    return sum / positives;
  }, 0.5);
}

/**
 * Reciprocal rank of every user, as LightFM's `reciprocal_rank`: 1 / (r + 1)
 * for the best rank r among the user's test interactions (1 when one of them
 * is the top item).
 *
 * @param model A model with `predictRank`, or a {@link RankingModel} (see the module's notes).
 * @param testInteractions The held-out `nUsers × nItems` interactions; each stored entry is a positive.
 * @param options `trainInteractions`, `userFeatures`, `itemFeatures`, `preserveRows` (false),
 *   `checkIntersections` (true).
 * @returns One value per user with test interactions (or per user with `preserveRows`; 0 there).
 * @throws As {@link precisionAtK}.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { AlternatingLeastSquares, CsrMatrix, reciprocalRank } from "../../mod.ts";
 * const model = new AlternatingLeastSquares({ factors: 1 });
 * // One user ranking items 0..3 in that order (factors 4, 3, 2, 1).
 * model.assignFactors({ data: Float32Array.of(1), shape: [1, 1] }, {
 *   data: Float32Array.of(4, 3, 2, 1),
 *   shape: [4, 1],
 * });
 * // Test items 1 and 3 rank 1 and 3: the best is 1, so 1 / (1 + 1).
 * const test = CsrMatrix.fromCoo({ rows: [0, 0], cols: [1, 3], shape: [1, 4] });
 * deepStrictEqual(reciprocalRank(model, test), Float32Array.of(0.5));
 * ```
 */
export function reciprocalRank(
  model: EvaluatedModel,
  testInteractions: CsrMatrix,
  options: EvaluationOptions = {},
): Float32Array {
  const settings = checkedSettings(
    "reciprocalRank()",
    model,
    testInteractions,
    options,
    EVALUATION_OPTIONS,
  );
  const ranks = ranksOf(model, testInteractions, settings, NAMES);
  return perUser(testInteractions, settings, (start, end) => {
    let best = Number.POSITIVE_INFINITY;
    for (let p = start; p < end; p++) best = Math.min(best, ranks.data[p]!);
    return 1 / (best + 1);
  }, 0);
}

/**
 * The full-catalogue rank of every test interaction, as the evaluation
 * functions compute it: through the model's `predictRank`, or through
 * `recommend` for a model without one (see the module's notes).
 *
 * @param model A model with `predictRank`, or a {@link RankingModel}.
 * @param testInteractions The held-out `nUsers × nItems` interactions.
 * @param options `trainInteractions`, `userFeatures`, `itemFeatures`, `checkIntersections` (true).
 * @returns A matrix with the sparsity pattern of `testInteractions`, ranks as values (0 = best).
 * @throws As {@link precisionAtK}; TypeError when the model returns ranks of another shape.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { CsrMatrix, lightfm, type RankingModel } from "../../mod.ts";
 * // A model with only recommend(): every user's list is items 2, 1, 0 with scores 3, 2, 2,
 * // leaving out the user's training items.
 * const model: RankingModel = {
 *   nUsers: 1,
 *   nItems: 3,
 *   recommend(userids, userItems, { n }) {
 *     const liked = new Set(userItems.row(userids[0]!).indices);
 *     const list = [[2, 3], [1, 2], [0, 2]].filter(([id]) => !liked.has(id!)).slice(0, n);
 *     const ids = new Int32Array(n).fill(-1);
 *     const scores = new Float32Array(n).fill(-Infinity);
 *     list.forEach(([id, score], p) => [ids[p], scores[p]] = [id!, score!]);
 *     return { ids, scores, shape: [1, n] };
 *   },
 * };
 * const test = CsrMatrix.fromCoo({ rows: [0, 0], cols: [0, 2], shape: [1, 3] });
 * const train = CsrMatrix.empty([1, 3]);
 * // Item 2 is first; item 0 ties with item 1, which counts against it: rank 2.
 * deepStrictEqual(lightfm.rankInteractions(model, test, { trainInteractions: train }).data, Float32Array.of(2, 0));
 * ```
 */
export function rankInteractions(
  model: EvaluatedModel,
  testInteractions: CsrMatrix,
  options: PredictRankOptions = {},
): CsrMatrix {
  const settings = checkedSettings(
    "rankInteractions()",
    model,
    testInteractions,
    options,
    RANK_OPTIONS,
  );
  return ranksOf(model, testInteractions, settings, NAMES);
}

// ---------------------------------------------------------------------------

function atKSettings(
  owner: string,
  model: EvaluatedModel,
  test: CsrMatrix,
  options: AtKOptions,
): { settings: Settings; k: number } {
  const settings = checkedSettings(owner, model, test, options, AT_K_OPTIONS);
  const k = options.k === undefined ? 10 : positiveInteger("k", options.k);
  if (k > I32_MAX) throw new RangeError(`Expected k to be at most ${I32_MAX} but found ${k}`);
  return { settings, k };
}

/** Checks the model, the matrices and every option, then the intersections when asked. */
function checkedSettings(
  owner: string,
  model: EvaluatedModel,
  test: CsrMatrix,
  options: EvaluationOptions,
  names: readonly string[],
): Settings {
  checkModel(model);
  const given = knownOptions(owner, options, names);
  const inputs = checkRankInputs(model, test, {
    train: given.trainInteractions,
    userFeatures: given.userFeatures,
    itemFeatures: given.itemFeatures,
    checkIntersections: given.checkIntersections,
  }, NAMES);
  // Off unless given; null is refused, not defaulted.
  const preserveRows = given.preserveRows !== undefined &&
    booleanOption("preserveRows", given.preserveRows);
  return { ...inputs, preserveRows };
}

/**
 * One value per user: `value(start, end, user)` over the user's test entries for a user
 * with some, `empty` for one without (kept only with preserveRows).
 */
function perUser(
  test: CsrMatrix,
  settings: Settings,
  value: (start: number, end: number, user: number) => number,
  empty: number,
): Float32Array {
  const out: number[] = [];
  for (let u = 0; u < test.nRows; u++) {
    const [start, end] = test.rowRange(u);
    if (start < end) out.push(value(start, end, u));
    else if (settings.preserveRows) out.push(empty);
  }
  return Float32Array.from(out);
}
