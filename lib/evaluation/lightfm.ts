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
import { CsrMatrix } from "../sparse.ts";
import { booleanOption, describe, knownOptions, positiveInteger } from "../validate.ts";
import {
  checkInteractions,
  checkNoIntersections,
  type PredictRankOptions,
  type RankPredictor,
} from "./ranks.ts";
import type { RankingModel } from "./scorer.ts";

export type { PredictRankOptions, RankPredictor } from "./ranks.ts";

/** A model the evaluation functions accept: one with `predictRank`, or a {@link RankingModel}. */
export type EvaluatedModel = RankPredictor | RankingModel;

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
/** Ranked entries per `recommend` call of the fallback (ids and scores: 32 MiB). */
const FALLBACK_BATCH_ENTRIES = 1 << 22;

interface Settings {
  train: CsrMatrix | undefined;
  userFeatures: CsrMatrix | undefined;
  itemFeatures: CsrMatrix | undefined;
  preserveRows: boolean;
  checkIntersections: boolean;
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
  const ranks = ranksOf(model, testInteractions, settings);
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
  const ranks = ranksOf(model, testInteractions, settings);
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
  const ranks = ranksOf(model, testInteractions, settings);
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
  const ranks = ranksOf(model, testInteractions, settings);
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
  return ranksOf(model, testInteractions, settings);
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
  checkInteractions("testInteractions", test, model.nUsers, model.nItems);
  const train = given.trainInteractions;
  if (train !== undefined) {
    checkInteractions("trainInteractions", train, model.nUsers, model.nItems);
  }
  const userFeatures = given.userFeatures;
  if (userFeatures !== undefined) {
    checkFeatures("userFeatures", userFeatures, model.nUsers, "users");
  }
  const itemFeatures = given.itemFeatures;
  if (itemFeatures !== undefined) {
    checkFeatures("itemFeatures", itemFeatures, model.nItems, "items");
  }
  const settings: Settings = {
    train,
    userFeatures,
    itemFeatures,
    preserveRows: flag("preserveRows", given.preserveRows, false),
    checkIntersections: flag("checkIntersections", given.checkIntersections, true),
  };
  if (!hasPredictRank(model)) {
    for (const name of ["userFeatures", "itemFeatures"] as const) {
      if (settings[name] !== undefined) {
        throw new TypeError(
          `Expected ${name} to be undefined for a model without predictRank() (its recommend() takes no features) but found ${
            describe(settings[name])
          }`,
        );
      }
    }
    if (train === undefined) {
      throw new TypeError(
        "Expected trainInteractions for a model without predictRank() (its recommend() scores from the user's items) but found undefined",
      );
    }
  }
  if (settings.checkIntersections && train !== undefined) checkNoIntersections(test, train);
  return settings;
}

/** A boolean option: its default when undefined (null is refused, not defaulted). */
function flag(name: string, value: unknown, fallback: boolean): boolean {
  return value === undefined ? fallback : booleanOption(name, value);
}

function checkModel(model: unknown): asserts model is EvaluatedModel {
  if (typeof model !== "object" || model === null) {
    throw new TypeError(`Expected model to be a model object but found ${describe(model)}`);
  }
  const candidate = model as Partial<RankPredictor> & Partial<RankingModel>;
  if (typeof candidate.predictRank !== "function" && typeof candidate.recommend !== "function") {
    throw new TypeError(
      `Expected model to have a predictRank() or recommend() method but found ${
        describe(model)
      } with neither`,
    );
  }
  for (const field of ["nUsers", "nItems"] as const) {
    const value = candidate[field];
    if (!Number.isSafeInteger(value) || value! < 0 || value! > I32_MAX) {
      throw new TypeError(
        `Expected model.${field} to be an integer in [0, ${I32_MAX}] but found ${describe(value)}`,
      );
    }
  }
}

function checkFeatures(
  name: string,
  matrix: unknown,
  rows: number,
  what: string,
): asserts matrix is CsrMatrix {
  if (!(matrix instanceof CsrMatrix)) {
    throw new TypeError(`Expected ${name} to be a CsrMatrix but found ${describe(matrix)}`);
  }
  if (matrix.nRows !== rows) {
    throw new RangeError(
      `Expected ${name} to have ${rows} rows (the model's ${what}) but found ${matrix.nRows}`,
    );
  }
}

function hasPredictRank(model: EvaluatedModel): model is RankPredictor {
  return typeof (model as Partial<RankPredictor>).predictRank === "function";
}

/** The ranks of every test entry, from predictRank or the recommend fallback. */
function ranksOf(model: EvaluatedModel, test: CsrMatrix, settings: Settings): CsrMatrix {
  if (!hasPredictRank(model)) return ranksFromRecommend(model, test, settings.train!);
  const options: PredictRankOptions = { checkIntersections: false };
  if (settings.train !== undefined) options.trainInteractions = settings.train;
  if (settings.userFeatures !== undefined) options.userFeatures = settings.userFeatures;
  if (settings.itemFeatures !== undefined) options.itemFeatures = settings.itemFeatures;
  const ranks = model.predictRank(test, options);
  checkReturnedRanks(ranks, test);
  return ranks;
}

/** Refuses ranks that are not a matrix with the test's sparsity pattern and values >= 0. */
function checkReturnedRanks(ranks: unknown, test: CsrMatrix): asserts ranks is CsrMatrix {
  const expected =
    `a CsrMatrix with testInteractions' sparsity pattern (shape [${test.shape}], ${test.nnz} entries)`;
  if (
    !(ranks instanceof CsrMatrix) || ranks.nRows !== test.nRows || ranks.nCols !== test.nCols ||
    ranks.nnz !== test.nnz
  ) {
    const found = ranks instanceof CsrMatrix
      ? `shape [${ranks.shape}] with ${ranks.nnz} entries`
      : describe(ranks);
    throw new TypeError(`Expected model.predictRank() to return ${expected} but found ${found}`);
  }
  for (let u = 0; u <= test.nRows; u++) {
    if (ranks.indptr[u] !== test.indptr[u]) {
      throw new TypeError(
        `Expected model.predictRank() to return ${expected} but found indptr[${u}] = ${
          ranks.indptr[u]
        } instead of ${test.indptr[u]}`,
      );
    }
  }
  for (let p = 0; p < test.nnz; p++) {
    if (ranks.indices[p] !== test.indices[p]) {
      throw new TypeError(
        `Expected model.predictRank() to return ${expected} but found indices[${p}] = ${
          ranks.indices[p]
        } instead of ${test.indices[p]}`,
      );
    }
    if (!(ranks.data[p]! >= 0)) {
      throw new RangeError(
        `Expected model.predictRank() to return ranks >= 0 but found ${
          ranks.data[p]
        } at entry ${p}`,
      );
    }
  }
}

/**
 * Ranks through `recommend(users, train, { n: nItems, filterAlreadyLiked: true })`, a
 * batch of users at a time: a listed test item's rank is the number of other listed
 * items scoring at least as much; an unlisted one ranks after every listed item.
 */
function ranksFromRecommend(model: RankingModel, test: CsrMatrix, train: CsrMatrix): CsrMatrix {
  const nItems = model.nItems;
  const out = new Float32Array(test.nnz);
  const users = usersWithTestItems(test);
  const batchSize = Math.max(1, Math.floor(FALLBACK_BATCH_ENTRIES / Math.max(nItems, 1)));
  // position[item] = the item's place in the current row's list, −1 when unlisted.
  const position = new Int32Array(nItems).fill(-1);
  for (let start = 0; start < users.length; start += batchSize) {
    const batch = users.subarray(start, start + batchSize);
    const ranked = model.recommend(batch, train, { n: nItems, filterAlreadyLiked: true });
    const width = checkRecommended(ranked, batch.length, nItems);
    for (let r = 0; r < batch.length; r++) {
      const ids = ranked.ids.subarray(r * width, (r + 1) * width);
      const scores = ranked.scores.subarray(r * width, (r + 1) * width);
      let listed = 0;
      while (listed < width && ids[listed]! >= 0) listed++;
      for (let p = 0; p < listed; p++) {
        const id = ids[p]!;
        if (id >= nItems || position[id] !== -1) {
          throw new TypeError(
            `Expected model.recommend() to list distinct item ids in [0, ${nItems}) but found ${id} at row ${r}, position ${p}`,
          );
        }
        if (p > 0 && !(scores[p]! <= scores[p - 1]!)) {
          throw new TypeError(
            `Expected model.recommend() to return scores in descending order but found ${
              scores[p]
            } after ${scores[p - 1]} at row ${r}, position ${p}`,
          );
        }
        position[id] = p;
      }
      const [rowStart, rowEnd] = test.rowRange(batch[r]!);
      for (let q = rowStart; q < rowEnd; q++) {
        const p = position[test.indices[q]!]!;
        out[q] = p < 0 ? listed : atLeast(scores, listed, p) - 1;
      }
      for (let p = 0; p < listed; p++) position[ids[p]!] = -1;
    }
  }
  return new CsrMatrix(test.shape, test.indptr.slice(), test.indices.slice(), out);
}

/** How many of the first `listed` (descending) scores are >= scores[p]: a binary search past p. */
function atLeast(scores: Float32Array, listed: number, p: number): number {
  const score = scores[p]!;
  let low = p + 1;
  let high = listed;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (scores[middle]! >= score) low = middle + 1;
    else high = middle;
  }
  return low;
}

function checkRecommended(
  ranked: { ids: unknown; scores: unknown; shape: unknown },
  rows: number,
  nItems: number,
): number {
  const shape = ranked?.shape as [number, number] | undefined;
  const width = shape?.[1];
  if (
    shape?.[0] !== rows || !Number.isInteger(width) || width! < 0 || width! > nItems ||
    !(ranked.ids instanceof Int32Array) || ranked.ids.length !== rows * width! ||
    !(ranked.scores instanceof Float32Array) || ranked.scores.length !== rows * width!
  ) {
    throw new TypeError(
      `Expected model.recommend() to return Int32Array ids and Float32Array scores of shape [${rows}, <= ${nItems}] but found shape [${shape}]`,
    );
  }
  return width!;
}

function usersWithTestItems(test: CsrMatrix): Int32Array {
  const users: number[] = [];
  for (let u = 0; u < test.nRows; u++) if (test.indptr[u + 1]! > test.indptr[u]!) users.push(u);
  return Int32Array.from(users);
}

/** The ranks below k among entries [start, end). */
function hits(ranks: CsrMatrix, start: number, end: number, k: number): number {
  let count = 0;
  for (let p = start; p < end; p++) if (ranks.data[p]! < k) count++;
  return count;
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
