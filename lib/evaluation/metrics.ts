/**
 * Ranking metrics at k: precision, recall, MAP, NDCG, AUC and MRR of a model's
 * top-k recommendations against held-out test items, for every user with at
 * least one test item.
 *
 * One pass scores every test user once: users are taken in batches (4096 by
 * default, so memory stays bounded at lastfm scale), each batch is ranked with
 * `model.recommend(users, train, { n: k, filterAlreadyLiked: true })` (so
 * training items are never counted) and the native kernel `tacit_ranking_metrics`
 * (`zig/metrics.zig`) computes every metric of every user of the batch in
 * parallel. The event loop runs between batches.
 *
 * ## Definitions
 *
 * For a user u with test items T (every stored entry of row u of `test`; its
 * value is ignored), top list L = (l_1, …, l_m) with m <= k (training items
 * left out; a list shorter than k, e.g. when k exceeds the catalogue, is just
 * shorter), hits h = |L ∩ T|, d = min(k, |T|), N = nItems − |T| negatives:
 *
 * - **precision** (implicit, the default): Σ_u h_u / Σ_u d_u, a micro-average over
 *   users exactly as `implicit.evaluation.ranking_metrics_at_k` accumulates it.
 *   Per user (`perUser`): h / d.
 *   `precision: "lightfm"`: the mean over users of h / k (LightFM's
 *   `precision_at_k`; Spotlight's `precision_recall_score` is the same whenever
 *   the catalogue has at least k items: it divides by min(k, nItems), and it
 *   moves training items to the end of its ranking rather than removing them).
 * - **recall**: the mean over users of h / |T| (LightFM's `recall_at_k`,
 *   Spotlight's recall; implicit has none).
 * - **map**: the mean over users of AP = (Σ_{i : l_i ∈ T} P@i) / d, with P@i the
 *   hits among l_1..l_i divided by i (implicit's MAP@k).
 * - **ndcg**: the mean over users of DCG / IDCG with binary gains,
 *   DCG = Σ_{i : l_i ∈ T} 1 / log2(i + 1) and IDCG = Σ_{i=1..d} 1 / log2(i + 1)
 *   (implicit's NDCG@k).
 * - **auc**: the mean over users of implicit's AUC@k: walking the list, each miss
 *   adds the hits ranked above it; the items not in the list are scored as if
 *   positives and negatives were shuffled there, adding (h + |T|)/2 · (N − misses);
 *   the sum is divided by |T| · N. N counts every item outside T, training items
 *   included, as implicit does. A user whose test row holds every item (N = 0)
 *   scores 1. LightFM's `auc_score` is the full-ranking AUC (no k) over the items
 *   outside the training set, so the numbers differ.
 * - **mrr**: the mean over users of 1 / i for the first i with l_i ∈ T, or 0
 *   when no test item is in the top k. LightFM's `reciprocal_rank` and
 *   Spotlight's `mrr_score` rank the whole catalogue instead (no cut-off), and
 *   Spotlight averages 1 / rank over every test item of the user rather than
 *   taking the first.
 *
 * Users with no test items are skipped (they count in no mean). With no such
 * user at all, every metric is NaN. Test items that are also training items
 * can never be recommended but still count in |T|: split so they are disjoint.
 * implicit walks −1 padding as misses; tacit skips it, which gives the same AUC
 * unless a test item is also a training item.
 *
 * @module
 */
import { NotFittedError } from "../errors.ts";
import { callNative } from "../native/library.ts";
import { ProgressBar, resolveProgress } from "../progress.ts";
import { checkCsrMatrix, type CsrMatrix } from "../sparse.ts";
import { describe, knownOptions, oneOf, optionalBoolean, positiveInteger } from "../validate.ts";
import type { RankingModel } from "./scorer.ts";

/** How precision is averaged (see the module's definitions). */
export type PrecisionDefinition = "implicit" | "lightfm";

/** Options of {@link rankingMetricsAtK} and the single-metric functions. */
export interface RankingMetricsOptions {
  /** The cut-off: how many recommendations per user are judged (10). */
  k?: number;
  /** `"implicit"` (Σ hits / Σ min(k, |T|), the default) or `"lightfm"` (mean of hits / k). */
  precision?: PrecisionDefinition;
  /** Return one value per evaluated user instead of the means (false). */
  perUser?: boolean;
  /** Users ranked per native call (4096); bounds the memory a batch takes. */
  batchSize?: number;
  /** Progress bar on stderr (default: on when stderr is a terminal and TACIT_PROGRESS is not 0). */
  progress?: boolean;
  /** Stops the evaluation between batches. */
  signal?: AbortSignal;
}

/** The metrics averaged over the evaluated users. */
export interface RankingMetrics {
  /** Σ hits / Σ min(k, |T|), or the mean of hits / k with `precision: "lightfm"`; in [0, 1]. */
  precision: number;
  /** The mean of hits / |T|, in [0, 1]. */
  recall: number;
  /** Mean average precision at k, in [0, 1]. */
  map: number;
  /** Mean NDCG at k with binary gains, in [0, 1]. */
  ndcg: number;
  /** Mean of implicit's AUC@k, in [0, 1]. */
  auc: number;
  /** Mean reciprocal rank of the first hit within the top k (0 for none), in [0, 1]. */
  mrr: number;
  /** How many users were evaluated (those with at least one test item). */
  users: number;
}

/** One value per evaluated user, aligned with `users`. */
export interface RankingMetricsPerUser {
  /** The evaluated users (those with at least one test item), ascending. */
  users: Int32Array;
  /** h / min(k, |T|), or h / k with `precision: "lightfm"`. */
  precision: Float64Array;
  /** h / |T|. */
  recall: Float64Array;
  /** Average precision at k. */
  map: Float64Array;
  /** NDCG at k with binary gains. */
  ndcg: Float64Array;
  /** implicit's AUC@k. */
  auc: Float64Array;
  /** 1 / (rank of the first hit), 0 when none is in the top k. */
  mrr: Float64Array;
}

/** The name of each metric in {@link RankingMetrics}. */
export type MetricName = "precision" | "recall" | "map" | "ndcg" | "auc" | "mrr";

/** The batch size used when `batchSize` is left out. */
export const DEFAULT_METRICS_BATCH_SIZE = 4096;

/** The kernel's output columns, in order (`zig/metrics.zig`). */
const Column = {
  hits: 0,
  precisionDenominator: 1,
  recall: 2,
  averagePrecision: 3,
  ndcg: 4,
  auc: 5,
  reciprocalRank: 6,
  testCount: 7,
} as const;
const COLUMN_COUNT = 8;
const I32_MAX = 2_147_483_647;

interface Settings {
  k: number;
  precision: PrecisionDefinition;
  perUser: boolean;
  batchSize: number;
  progress: boolean;
  signal: AbortSignal | undefined;
}

/**
 * Precision, recall, MAP, NDCG, AUC and MRR at k of `model` on `test`, leaving
 * out the items of `train` (definitions in this module's documentation), one
 * value per evaluated user.
 *
 * @param model Any {@link RankingModel}: a fitted factor model, a neighbour model, ...
 * @param train The user × item matrix the model was fitted on; its items are never recommended.
 * @param test The held-out user × item matrix; each stored entry is a relevant item.
 * @param options `perUser: true`, and `k` (10), `precision`, `batchSize`, `progress`, `signal`.
 * @returns Per-user arrays, aligned with `users` (the users with test items, ascending).
 * @throws TypeError for a wrong argument type or a model whose `recommend` returns a wrong
 *   shape; RangeError for a matrix whose shape is not the model's or a bad option; the
 *   signal's reason when it is aborted.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { rankingMetricsAtK } from "./metrics.ts";
 * import type { RankingModel } from "./scorer.ts";
 * import { CsrMatrix } from "../sparse.ts";
 * // A model that ranks every user's items 2, 1, 0, leaving out the user's training items.
 * const model: RankingModel = {
 *   nUsers: 2,
 *   nItems: 3,
 *   recommend(userids, userItems, { n }) {
 *     const ids = new Int32Array(userids.length * n).fill(-1);
 *     for (let r = 0; r < userids.length; r++) {
 *       const liked = [...userItems.row(userids[r]!).indices];
 *       ids.set([2, 1, 0].filter((i) => !liked.includes(i)).slice(0, n), r * n);
 *     }
 *     return { ids, scores: new Float32Array(ids.length), shape: [userids.length, n] };
 *   },
 * };
 * const train = CsrMatrix.fromCoo({ rows: [0, 1], cols: [0, 1], shape: [2, 3] });
 * const test = CsrMatrix.fromCoo({ rows: [0, 1, 1], cols: [1, 0, 2], shape: [2, 3] });
 * // k = 1. User 0 gets [2], missing its test item 1. User 1 gets [2], a hit among {0, 2}.
 * const perUser = await rankingMetricsAtK(model, train, test, { k: 1, perUser: true, progress: false });
 * deepStrictEqual(perUser.users, Int32Array.of(0, 1));
 * deepStrictEqual(perUser.precision, Float64Array.of(0, 1)); // h / min(k, |T|)
 * deepStrictEqual(perUser.recall, Float64Array.of(0, 0.5)); // h / |T|
 * deepStrictEqual(perUser.mrr, Float64Array.of(0, 1));
 * ```
 */
export function rankingMetricsAtK(
  model: RankingModel,
  train: CsrMatrix,
  test: CsrMatrix,
  options: RankingMetricsOptions & { perUser: true },
): Promise<RankingMetricsPerUser>;
/**
 * Precision, recall, MAP, NDCG, AUC and MRR at k of `model` on `test`, leaving
 * out the items of `train` (definitions in this module's documentation),
 * averaged over the users with test items (NaN when there is none).
 *
 * @param model Any {@link RankingModel}: a fitted factor model, a neighbour model, ...
 * @param train The user × item matrix the model was fitted on; its items are never recommended.
 * @param test The held-out user × item matrix; each stored entry is a relevant item.
 * @param options `k` (10), `precision` (`"implicit"`), `batchSize` (4096), `progress`, `signal`.
 * @returns The means over users with test items, and how many users that was.
 * @throws TypeError for a wrong argument type or a model whose `recommend` returns a wrong
 *   shape; RangeError for a matrix whose shape is not the model's ("test has 943 rows but
 *   the model has 942 users") or a bad option; the signal's reason when it is aborted.
 * @example
 * ```ts
 * import { deepStrictEqual, ok } from "node:assert/strict";
 * import { rankingMetricsAtK } from "./metrics.ts";
 * import type { RankingModel } from "./scorer.ts";
 * import { CsrMatrix } from "../sparse.ts";
 * // A model that ranks every user's items 2, 1, 0, leaving out the user's training items.
 * const model: RankingModel = {
 *   nUsers: 2,
 *   nItems: 3,
 *   recommend(userids, userItems, { n }) {
 *     const ids = new Int32Array(userids.length * n).fill(-1);
 *     for (let r = 0; r < userids.length; r++) {
 *       const liked = [...userItems.row(userids[r]!).indices];
 *       ids.set([2, 1, 0].filter((i) => !liked.includes(i)).slice(0, n), r * n);
 *     }
 *     return { ids, scores: new Float32Array(ids.length), shape: [userids.length, n] };
 *   },
 * };
 * const train = CsrMatrix.fromCoo({ rows: [0, 1], cols: [0, 1], shape: [2, 3] });
 * const test = CsrMatrix.fromCoo({ rows: [0, 1, 1], cols: [1, 0, 2], shape: [2, 3] });
 * // k = 2. User 0 (T = {1}) gets [2, 1]: a hit at rank 2. User 1 (T = {0, 2}) gets [2, 0]: two hits.
 * const { ndcg, ...metrics } = await rankingMetricsAtK(model, train, test, { k: 2, progress: false });
 * deepStrictEqual(metrics, {
 *   precision: 1, // (1 + 2) / (min(2, 1) + min(2, 2))
 *   recall: 1, // (1/1 + 2/2) / 2
 *   map: 0.75, // ((1/2) / 1 + (1 + 1) / 2) / 2
 *   auc: 0.75, // (1/2 + 1) / 2
 *   mrr: 0.75, // (1/2 + 1) / 2
 *   users: 2,
 * });
 * ok(Math.abs(ndcg - (1 / Math.log2(3) + 1) / 2) < 1e-12);
 * ```
 */
export function rankingMetricsAtK(
  model: RankingModel,
  train: CsrMatrix,
  test: CsrMatrix,
  options?: RankingMetricsOptions & { perUser?: false },
): Promise<RankingMetrics>;
/**
 * Precision, recall, MAP, NDCG, AUC and MRR at k of `model` on `test`, leaving
 * out the items of `train`: the means, or per-user arrays when `options.perUser`
 * is true (for a caller whose `perUser` is a boolean variable).
 *
 * @param model Any {@link RankingModel}.
 * @param train The user × item matrix the model was fitted on; its items are never recommended.
 * @param test The held-out user × item matrix; each stored entry is a relevant item.
 * @param options `k` (10), `precision`, `perUser` (false), `batchSize`, `progress`, `signal`.
 * @returns {@link RankingMetrics}, or {@link RankingMetricsPerUser} with `perUser: true`.
 * @throws As the other signatures.
 */
export function rankingMetricsAtK(
  model: RankingModel,
  train: CsrMatrix,
  test: CsrMatrix,
  options?: RankingMetricsOptions,
): Promise<RankingMetrics | RankingMetricsPerUser>;
export async function rankingMetricsAtK(
  model: RankingModel,
  train: CsrMatrix,
  test: CsrMatrix,
  options: RankingMetricsOptions = {},
): Promise<RankingMetrics | RankingMetricsPerUser> {
  return await metricsAtK("rankingMetricsAtK()", model, train, test, options);
}

/** {@link rankingMetricsAtK}, with the public function's name for messages. */
async function metricsAtK(
  owner: string,
  model: RankingModel,
  train: CsrMatrix,
  test: CsrMatrix,
  options: RankingMetricsOptions,
): Promise<RankingMetrics | RankingMetricsPerUser> {
  checkModel(model);
  checkMatrix("train", train, model);
  checkMatrix("test", test, model);
  const settings = checkOptions(owner, options);
  const users = usersWithTestItems(test);
  const reduce = settings.perUser
    ? new PerUserReduction(users, settings)
    : new MeanReduction(users.length, settings);
  const out = new Float64Array(Math.min(settings.batchSize, users.length) * COLUMN_COUNT);
  const bar = new ProgressBar({
    total: users.length,
    label: "metrics",
    enabled: settings.progress,
  });
  try {
    for (let start = 0; start < users.length; start += settings.batchSize) {
      settings.signal?.throwIfAborted();
      const batch = users.subarray(start, start + settings.batchSize);
      const rows = out.subarray(0, batch.length * COLUMN_COUNT);
      scoreBatch(model, train, test, batch, settings.k, rows);
      reduce.add(start, rows);
      bar.update(start + batch.length);
      if (start + batch.length < users.length) await nextTurn();
    }
  } finally {
    bar.close();
  }
  return reduce.result();
}

/**
 * One metric of {@link rankingMetricsAtK}: its mean, or per-user values with `perUser: true`.
 * It takes the same arguments and throws the same errors as {@link rankingMetricsAtK}, and
 * computes every metric of the batch (the kernel is one pass), returning one.
 */
export interface SingleMetric {
  /** Per-user values of the metric, aligned with the users that have test items (ascending). */
  (
    model: RankingModel,
    train: CsrMatrix,
    test: CsrMatrix,
    options: RankingMetricsOptions & { perUser: true },
  ): Promise<Float64Array>;
  /** The metric's mean over the users with test items (NaN when there is none). */
  (
    model: RankingModel,
    train: CsrMatrix,
    test: CsrMatrix,
    options?: RankingMetricsOptions & { perUser?: false },
  ): Promise<number>;
  /** The mean, or per-user values when `options.perUser` is true. */
  (
    model: RankingModel,
    train: CsrMatrix,
    test: CsrMatrix,
    options?: RankingMetricsOptions,
  ): Promise<number | Float64Array>;
}

function singleMetric(name: MetricName, owner: string): SingleMetric {
  return (async (
    model: RankingModel,
    train: CsrMatrix,
    test: CsrMatrix,
    options: RankingMetricsOptions = {},
  ) => {
    const all = await metricsAtK(owner, model, train, test, options);
    return all[name];
  }) as SingleMetric;
}

/**
 * Precision at k: Σ hits / Σ min(k, |T|) over users with test items (implicit's
 * `precision_at_k`), or the mean of hits / k with `precision: "lightfm"`.
 * Same arguments as {@link rankingMetricsAtK}.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { precisionAtK } from "./metrics.ts";
 * import type { RankingModel } from "./scorer.ts";
 * import { CsrMatrix } from "../sparse.ts";
 * // Every user is shown items 0 then 1 (k = 2); nothing is filtered (empty train).
 * const model: RankingModel = {
 *   nUsers: 2,
 *   nItems: 4,
 *   recommend: (userids, _train, { n }) => {
 *     const ids = new Int32Array(userids.length * n);
 *     for (let r = 0; r < userids.length; r++) ids.set([0, 1], r * n);
 *     return { ids, scores: new Float32Array(ids.length), shape: [userids.length, n] };
 *   },
 * };
 * const train = CsrMatrix.empty([2, 4]);
 * // User 0's test items {0, 1, 2}: 2 hits of min(2, 3) = 2. User 1's {3}: 0 hits of min(2, 1) = 1.
 * const test = CsrMatrix.fromCoo({ rows: [0, 0, 0, 1], cols: [0, 1, 2, 3], shape: [2, 4] });
 * equal(await precisionAtK(model, train, test, { k: 2, progress: false }), 2 / 3);
 * // LightFM's definition: the mean of hits / k = (2/2 + 0/2) / 2.
 * equal(await precisionAtK(model, train, test, { k: 2, precision: "lightfm", progress: false }), 0.5);
 * ```
 */
export const precisionAtK: SingleMetric = singleMetric("precision", "precisionAtK()");

/** Recall at k: the mean over users with test items of hits / |T|. Same arguments as {@link rankingMetricsAtK}. */
export const recallAtK: SingleMetric = singleMetric("recall", "recallAtK()");

/**
 * Mean average precision at k (implicit's `mean_average_precision_at_k`): AP divides
 * the sum of P@i over the hit positions i by min(k, |T|). Same arguments as {@link rankingMetricsAtK}.
 */
export const meanAveragePrecisionAtK: SingleMetric = singleMetric(
  "map",
  "meanAveragePrecisionAtK()",
);

/** NDCG at k with binary gains (implicit's `ndcg_at_k`). Same arguments as {@link rankingMetricsAtK}. */
export const ndcgAtK: SingleMetric = singleMetric("ndcg", "ndcgAtK()");

/** implicit's AUC@k (`AUC_at_k`), defined in this module's documentation. Same arguments as {@link rankingMetricsAtK}. */
export const aucAtK: SingleMetric = singleMetric("auc", "aucAtK()");

/**
 * Mean reciprocal rank at k: the mean over users with test items of 1 / (rank of the
 * first test item in the top k), 0 when none is there. Same arguments as {@link rankingMetricsAtK}.
 */
export const mrrAtK: SingleMetric = singleMetric("mrr", "mrrAtK()");

// ---------------------------------------------------------------------------

/** Ranks one batch and writes the kernel's columns for each of its users into `out`. */
function scoreBatch(
  model: RankingModel,
  train: CsrMatrix,
  test: CsrMatrix,
  users: Int32Array,
  k: number,
  out: Float64Array,
): void {
  const ranked = model.recommend(users, train, { n: k, filterAlreadyLiked: true });
  const [rows, width] = ranked.shape;
  if (
    rows !== users.length || !Number.isInteger(width) || width < 0 || width > k ||
    !(ranked.ids instanceof Int32Array) || ranked.ids.length !== rows * width
  ) {
    throw new TypeError(
      `Expected model.recommend to return Int32Array ids of shape [${users.length}, <= ${k}] but found shape [${ranked.shape}] with ${ranked.ids?.length} ids`,
    );
  }
  const tests = testRows(test, users);
  callNative("tacit_ranking_metrics", {
    top_ids: ranked.ids,
    n_users: users.length,
    width,
    k,
    test_indptr: tests.indptr,
    test_indices: tests.indices,
    n_items: model.nItems,
    out,
  });
}

/** The rows `users` of `test` (structure only), without revalidating them. */
function testRows(test: CsrMatrix, users: Int32Array): { indptr: Int32Array; indices: Int32Array } {
  const indptr = new Int32Array(users.length + 1);
  for (let r = 0; r < users.length; r++) {
    const [start, end] = test.rowRange(users[r]!);
    indptr[r + 1] = indptr[r]! + end - start;
  }
  const indices = new Int32Array(indptr[users.length]!);
  for (let r = 0; r < users.length; r++) {
    const [start, end] = test.rowRange(users[r]!);
    indices.set(test.indices.subarray(start, end), indptr[r]!);
  }
  return { indptr, indices };
}

function usersWithTestItems(test: CsrMatrix): Int32Array {
  let count = 0;
  for (let u = 0; u < test.nRows; u++) if (test.indptr[u + 1]! > test.indptr[u]!) count++;
  const users = new Int32Array(count);
  let next = 0;
  for (let u = 0; u < test.nRows; u++) if (test.indptr[u + 1]! > test.indptr[u]!) users[next++] = u;
  return users;
}

/** Sums the metrics in user order, as implicit does. */
class MeanReduction {
  #hits = 0;
  #precisionDenominator = 0;
  #lightfmPrecision = 0;
  #recall = 0;
  #map = 0;
  #ndcg = 0;
  #auc = 0;
  #mrr = 0;

  constructor(readonly count: number, readonly settings: Settings) {}

  add(_start: number, rows: Float64Array): void {
    for (let at = 0; at < rows.length; at += COLUMN_COUNT) {
      this.#hits += rows[at + Column.hits]!;
      this.#precisionDenominator += rows[at + Column.precisionDenominator]!;
      this.#lightfmPrecision += rows[at + Column.hits]! / this.settings.k;
      this.#recall += rows[at + Column.recall]!;
      this.#map += rows[at + Column.averagePrecision]!;
      this.#ndcg += rows[at + Column.ndcg]!;
      this.#auc += rows[at + Column.auc]!;
      this.#mrr += rows[at + Column.reciprocalRank]!;
    }
  }

  result(): RankingMetrics {
    const n = this.count;
    return {
      precision: this.settings.precision === "lightfm"
        ? this.#lightfmPrecision / n
        : this.#hits / this.#precisionDenominator,
      recall: this.#recall / n,
      map: this.#map / n,
      ndcg: this.#ndcg / n,
      auc: this.#auc / n,
      mrr: this.#mrr / n,
      users: n,
    };
  }
}

class PerUserReduction {
  readonly #out: RankingMetricsPerUser;

  constructor(users: Int32Array, readonly settings: Settings) {
    const n = users.length;
    this.#out = {
      users: users.slice(),
      precision: new Float64Array(n),
      recall: new Float64Array(n),
      map: new Float64Array(n),
      ndcg: new Float64Array(n),
      auc: new Float64Array(n),
      mrr: new Float64Array(n),
    };
  }

  add(start: number, rows: Float64Array): void {
    const out = this.#out;
    const lightfm = this.settings.precision === "lightfm";
    for (let r = 0, at = 0; at < rows.length; r++, at += COLUMN_COUNT) {
      const hits = rows[at + Column.hits]!;
      out.precision[start + r] = hits /
        (lightfm ? this.settings.k : rows[at + Column.precisionDenominator]!);
      out.recall[start + r] = rows[at + Column.recall]!;
      out.map[start + r] = rows[at + Column.averagePrecision]!;
      out.ndcg[start + r] = rows[at + Column.ndcg]!;
      out.auc[start + r] = rows[at + Column.auc]!;
      out.mrr[start + r] = rows[at + Column.reciprocalRank]!;
    }
  }

  result(): RankingMetricsPerUser {
    return this.#out;
  }
}

/** Lets timers, I/O and other tasks run between batches. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function checkModel(model: RankingModel): void {
  if (typeof model !== "object" || model === null || typeof model.recommend !== "function") {
    throw new TypeError(
      `Expected model to be a model with a recommend() method but found ${describe(model)}`,
    );
  }
  for (const field of ["nUsers", "nItems"] as const) {
    const value = model[field];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(
        `Expected model.${field} to be a non-negative integer but found ${describe(value)}`,
      );
    }
  }
  if (model.nUsers === 0 && model.nItems === 0) {
    throw new NotFittedError(
      "Expected model to be fitted (call fit() or load() first, and await it) but it has no users or items",
    );
  }
  if (model.nItems > I32_MAX || model.nUsers > I32_MAX) {
    throw new RangeError(
      `Expected a model with at most ${I32_MAX} users and items but found ${model.nUsers} × ${model.nItems}`,
    );
  }
}

function checkMatrix(name: string, matrix: CsrMatrix, model: RankingModel): void {
  checkCsrMatrix(name, matrix);
  if (matrix.nRows !== model.nUsers) {
    throw new RangeError(
      `${name} has ${matrix.nRows} rows but the model has ${model.nUsers} users`,
    );
  }
  if (matrix.nCols !== model.nItems) {
    throw new RangeError(
      `${name} has ${matrix.nCols} columns but the model has ${model.nItems} items`,
    );
  }
}

/** The keys of {@link RankingMetricsOptions}. */
const METRICS_OPTIONS: readonly string[] = [
  "k",
  "precision",
  "perUser",
  "batchSize",
  "progress",
  "signal",
];

function checkOptions(owner: string, options: RankingMetricsOptions): Settings {
  knownOptions(owner, options, METRICS_OPTIONS);
  const k = positiveInteger("k", options.k ?? 10);
  if (k > I32_MAX) throw new RangeError(`Expected k to be at most ${I32_MAX} but found ${k}`);
  const batchSize = positiveInteger("batchSize", options.batchSize ?? DEFAULT_METRICS_BATCH_SIZE);
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`Expected signal to be an AbortSignal but found ${describe(signal)}`);
  }
  return {
    k,
    precision: oneOf(
      "precision",
      options.precision ?? "implicit",
      ["implicit", "lightfm"] as const,
    ),
    perUser: optionalBoolean("perUser", options.perUser) ?? false,
    batchSize: Math.min(batchSize, I32_MAX),
    progress: resolveProgress(options.progress),
    signal,
  };
}
