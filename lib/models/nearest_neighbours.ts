/**
 * Item-item nearest-neighbour recommenders, with the semantics of Python
 * `implicit.nearest_neighbours` (`ItemItemRecommender`, `CosineRecommender`,
 * `TFIDFRecommender`, `BM25Recommender`). The products run in `zig/knn.zig`.
 *
 * ## The model
 *
 * `fit(userItems)` weighs the user × item matrix X into W and keeps, for every
 * item i, the `k` largest entries of row i of the item-item similarity
 *
 * ```
 * S = Wᵀ W        S[i, j] = Σ_u W[u, i] · W[u, j]
 * ```
 *
 * The weighting works on the item × user matrix Xᵀ (items are the documents,
 * users the terms), exactly as `implicit` transposes before weighting:
 *
 * | class                  | Wᵀ                                                    |
 * | ---------------------- | ----------------------------------------------------- |
 * | `ItemItemRecommender`  | Xᵀ (raw co-occurrence)                                |
 * | `CosineRecommender`    | `normalize(Xᵀ)`: each item's column scaled to unit L2 |
 * | `TFIDFRecommender`     | `normalize(tfidfWeight(Xᵀ))`: N = items, df = the user's item count |
 * | `BM25Recommender`      | `bm25Weight(Xᵀ, {k1, b})`: N = items, length = the item's total |
 *
 * (the functions of `lib/weighting.ts`; TF-IDF and BM25 need non-negative values).
 *
 * Neighbours of item i are the items that share at least one user with it,
 * ranked by S[i, j] descending and then by id ascending (so ties are broken
 * deterministically); the first `k` are kept. As in `implicit`, the diagonal is
 * kept: item i is a candidate neighbour of itself with S[i, i] = Σ_u W[u, i]²
 * (1 for the cosine model), so `similarItems(i)` usually starts with i. Rows of
 * `similarity` are stored in CSR order (ids ascending).
 *
 * `fit` needs memory for the weighted matrix and its transpose plus an
 * `[nItems, k]` buffer; the item × item product is never dense.
 *
 * ## Queries
 *
 * - `recommend(u, userItems)` scores item j as Σ_{i ∈ row u} x_ui · S[i, j], with
 *   the raw values of row u of `userItems` (as `implicit`). Liked items (with
 *   `filterAlreadyLiked`, the default) and `filterItems` are left out, not
 *   scored 0; `items` ranks a subset. Every other item is ranked, by score
 *   descending then id ascending: an item no liked item reaches scores 0 and
 *   comes after the positive scores (where `implicit` returns only the items the
 *   user's neighbourhood reaches, or appends missing `items` with −FLT_MAX). So
 *   exactly `n` results come back whenever `n` items remain; a batch row with
 *   fewer is padded with −1 / −Infinity.
 * - `similarItems(i)` returns the stored neighbours of i (row i of
 *   `similarity`), best first: fewer than `n` when the row has fewer, and with
 *   `items` only the stored neighbours in that subset (`implicit` appends the
 *   others with −FLT_MAX).
 *
 * @module
 */
import { expectArray, type TacitArray, type TacitFile, TacitFileError } from "../io/format.ts";
import { callNative, callNativeAsync } from "../native/library.ts";
import { checkCsrMatrix, CsrMatrix, MAX_NNZ } from "../sparse.ts";
import { idsInRange, knownOptions, optionalBoolean } from "../validate.ts";
import { bm25Weight, normalize, tfidfWeight } from "../weighting.ts";
import { loadAs, Model, type ModelRecommendOptions, requireEntries } from "./model.ts";
import { integer, real, type SchemaFor } from "./options.ts";
import {
  candidateList,
  firstRow,
  idMask,
  type Ids,
  RANK_OPTIONS,
  type Ranked,
  type RankedBatch,
  type RankOptions,
  RECOMMEND_OPTIONS,
  resultCount,
} from "./query.ts";
import { fitOptions, numThreadsOption, runIterations } from "./training.ts";

/** Options of every item-item model, with `implicit`'s defaults. */
export interface ItemItemRecommenderOptions {
  /** Neighbours kept per item, the item itself included (20; at most 100000). */
  k?: number;
  /** Threads for fit, 0..256; 0 (default) uses the pool as set by setNumThreads / TACIT_NUM_THREADS. */
  numThreads?: number;
}

/** Options of {@link BM25Recommender}. */
export interface BM25RecommenderOptions extends ItemItemRecommenderOptions {
  /** BM25 term-frequency saturation K1 (>= 0; 1.2, as `implicit`'s BM25Recommender). */
  k1?: number;
  /** BM25 length normalisation B, in [0, 1] (0.75). */
  b?: number;
}

/** Options of a neighbour model's `fit`. */
export interface NeighboursFitOptions {
  /** Progress bar on stderr (default: on when stderr is a terminal and TACIT_PROGRESS is not 0). */
  progress?: boolean;
  /**
   * Aborts the fit, inside a block's native call too (within about a
   * millisecond of work; on Bun at the end of the running call); the model
   * keeps the similarity it had before fit.
   */
  signal?: AbortSignal;
}

const NEIGHBOURS_FIT_OPTIONS = ["progress", "signal"] as const;

/** Options of a neighbour model's `recommend`: `n` (10), `filterAlreadyLiked`, `filterItems`, `items`. */
export type NeighboursRecommendOptions = ModelRecommendOptions;

/** Options of `similarItems`: `n` (10), `filterItems`, `items`. */
export type NeighboursSimilarOptions = RankOptions;

/** The schema of {@link ItemItemRecommenderOptions}. */
export type NeighbourSchema = SchemaFor<ItemItemRecommenderOptions>;

/** The largest k; see its doc. */
const K_MAX = 100_000;

/** The schema of ItemItemRecommender, CosineRecommender and TFIDFRecommender. */
const neighbourSchema: NeighbourSchema = {
  k: integer({
    default: 20,
    min: 1,
    max: K_MAX,
    doc: `Neighbours kept per item, the item itself included, at most ${K_MAX}: fit holds ` +
      "an [nItems, k] result (nItems × k must also fit a CsrMatrix, checked by fit), and a " +
      "similarity that keeps more per item is a dense one; implicit's default is 20.",
  }),
  numThreads: numThreadsOption,
};

/** The schema of BM25Recommender. */
const bm25Schema: SchemaFor<BM25RecommenderOptions> = {
  ...neighbourSchema,
  k1: real({ default: 1.2, min: 0, doc: "BM25 term-frequency saturation K1." }),
  b: real({ default: 0.75, min: 0, max: 1, doc: "BM25 length normalisation B." }),
};

/** The weighted user × item matrix W and its transpose, as fit multiplies them. */
export interface Weighted {
  /** W, users × items. */
  userItems: CsrMatrix;
  /** Wᵀ, items × users. */
  itemUsers: CsrMatrix;
}

/** Item rows per native call of fit: blocks give a progress bar and abort points. */
const FIT_BLOCKS = 16;

/**
 * What every item-item model shares: fit, recommend, similarItems and the
 * similarity's side of save and load. A subclass only says how it weighs the
 * matrix.
 */
export abstract class NearestNeighboursRecommender<S extends NeighbourSchema = NeighbourSchema>
  extends Model<S> {
  /** Neighbours kept per item. */
  readonly k: number = this.options.k;
  #similarity: CsrMatrix | undefined;
  #nUsers = 0;

  /** Users in the matrix the model was fitted on (0 before fit). */
  get nUsers(): number {
    return this.#nUsers;
  }

  /** Items of the model (0 before fit). */
  get nItems(): number {
    return this.#similarity?.nRows ?? 0;
  }

  /**
   * The `[nItems, nItems]` similarity matrix: row i holds item i's kept
   * neighbours (at most `k`, ids ascending). The model's own matrix, not a copy.
   */
  get similarity(): CsrMatrix {
    return this.fittedSimilarity("similarity");
  }

  /** W and Wᵀ from the user × item matrix X (validated as a CsrMatrix). */
  protected abstract weigh(userItems: CsrMatrix): Weighted;

  /**
   * Computes the similarity matrix from a user × item matrix of interaction
   * strengths. The model is only updated when fit completes: an abort or an
   * error leaves it as it was.
   */
  async fit(userItems: CsrMatrix, options: NeighboursFitOptions = {}): Promise<this> {
    using _fit = this.startFit();
    options = fitOptions("fit()", options, NEIGHBOURS_FIT_OPTIONS);
    checkCsrMatrix("userItems", userItems);
    requireEntries("userItems", userItems);
    const [nUsers, nItems] = userItems.shape;
    const width = Math.min(this.k, nItems);
    if (nItems * width > MAX_NNZ) {
      throw new RangeError(
        `Expected nItems × k = ${nItems} × ${width} to be at most ${MAX_NNZ} (a CsrMatrix's capacity) but found ${
          nItems * width
        }; use a smaller k`,
      );
    }
    options.signal?.throwIfAborted();
    const weighted = this.weigh(userItems);
    const ids = new Int32Array(nItems * width);
    const scores = new Float32Array(nItems * width);
    const counts = new Int32Array(nItems);
    const blocks = itemBlocks(weighted.itemUsers.indptr, FIT_BLOCKS);
    await runIterations({
      label: this.kind,
      iterations: blocks.length,
      progress: options.progress,
      signal: options.signal,
      step: (block) => {
        const [start, end] = blocks[block]!;
        return callNativeAsync("tacit_knn_fit", {
          n_users: nUsers,
          n_items: nItems,
          user_indptr: weighted.userItems.indptr,
          user_indices: weighted.userItems.indices,
          user_data: weighted.userItems.data,
          item_indptr: weighted.itemUsers.indptr,
          item_indices: weighted.itemUsers.indices,
          item_data: weighted.itemUsers.data,
          item_start: start,
          item_end: end,
          k: Math.max(width, 1),
          out_ids: ids,
          out_scores: scores,
          out_counts: counts,
        }, { threads: this.numThreads, signal: options.signal });
      },
      report: (block) => ({ items: `${blocks[block]![1]}/${nItems}` }),
    });
    this.#similarity = compactRows(nItems, width, ids, scores, counts);
    this.#nUsers = nUsers;
    return this;
  }

  /**
   * The top `n` items for one user (`{ids, scores}`, best first) or for a batch
   * of users (flat `[users, n]` arrays, padded with −1 / −Infinity), ranked in
   * parallel natively. See the module documentation for the scores.
   *
   * @param userid One user id or an array of them: rows of `userItems`.
   * @param userItems A user × item matrix with one column per item of the model;
   *   row u holds the values user u is scored from (and filtered by).
   */
  recommend(userid: number, userItems: CsrMatrix, options?: NeighboursRecommendOptions): Ranked;
  /** The top `n` items for each user of a batch: flat `[users, n]` arrays. */
  recommend(
    userid: ArrayLike<number>,
    userItems: CsrMatrix,
    options?: NeighboursRecommendOptions,
  ): RankedBatch;
  recommend(
    userid: Ids,
    userItems: CsrMatrix,
    options: NeighboursRecommendOptions = {},
  ): Ranked | RankedBatch {
    const similarity = this.fittedSimilarity("recommend()");
    knownOptions("recommend()", options, RECOMMEND_OPTIONS);
    this.checkUserItems(userItems);
    const nItems = this.nItems;
    const filterLiked = optionalBoolean("filterAlreadyLiked", options.filterAlreadyLiked) ?? true;
    const users = idsInRange("userid", userid, userItems.nRows, "rows in userItems");
    const candidates = candidateList("items", options.items, nItems, "items");
    const k = resultCount(options.n, candidates, nItems);
    const mask = idMask("filterItems", options.filterItems, nItems, "items");
    const rows = userItems.rows(users);
    const ids = new Int32Array(users.length * k);
    const scores = new Float32Array(users.length * k);
    if (ids.length > 0) {
      callNative("tacit_knn_recommend", {
        n_q: rows.nRows,
        query_indptr: rows.indptr,
        query_indices: rows.indices,
        query_data: rows.data,
        n_items: nItems,
        sim_indptr: similarity.indptr,
        sim_indices: similarity.indices,
        sim_data: similarity.data,
        filter_liked: filterLiked ? 1 : 0,
        item_mask: mask,
        candidates,
        n_cand: candidates?.length ?? 0,
        k,
        out_ids: ids,
        out_scores: scores,
      });
    }
    const batch: RankedBatch = { ids, scores, shape: [users.length, k] };
    return typeof userid === "number" ? firstRow(batch) : batch;
  }

  /**
   * The stored neighbours of an item (row `itemid` of `similarity`), best first
   * (score descending, id ascending), the item itself included as in
   * `implicit`; fewer than `n` when the row holds fewer. A batch gives flat
   * `[items, n]` arrays padded with −1 / −Infinity.
   */
  similarItems(itemid: number, options?: NeighboursSimilarOptions): Ranked;
  /** The stored neighbours of each item of a batch: flat `[items, n]` arrays. */
  similarItems(itemid: ArrayLike<number>, options?: NeighboursSimilarOptions): RankedBatch;
  similarItems(itemid: Ids, options: NeighboursSimilarOptions = {}): Ranked | RankedBatch {
    const similarity = this.fittedSimilarity("similarItems()");
    knownOptions("similarItems()", options, RANK_OPTIONS);
    const nItems = this.nItems;
    const queries = idsInRange("itemid", itemid, nItems, "items");
    const candidates = candidateList("items", options.items, nItems, "items");
    const width = resultCount(options.n, candidates, nItems);
    const skip = idMask("filterItems", options.filterItems, nItems, "items") ??
      new Uint8Array(nItems);
    if (candidates !== null) {
      const outside = new Uint8Array(nItems).fill(1);
      for (const c of candidates) outside[c] = 0;
      for (let j = 0; j < nItems; j++) skip[j]! |= outside[j]!;
    }
    const ids = new Int32Array(queries.length * width).fill(-1);
    const scores = new Float32Array(queries.length * width).fill(Number.NEGATIVE_INFINITY);
    const { indptr, indices, data } = similarity;
    const order: number[] = [];
    queries.forEach((item, q) => {
      order.length = 0;
      for (let p = indptr[item]!; p < indptr[item + 1]!; p++) {
        if (skip[indices[p]!] === 0) order.push(p);
      }
      order.sort((a, b) => data[b]! - data[a]! || indices[a]! - indices[b]!);
      const kept = Math.min(width, order.length);
      for (let r = 0; r < kept; r++) {
        ids[q * width + r] = indices[order[r]!]!;
        scores[q * width + r] = data[order[r]!]!;
      }
    });
    const batch: RankedBatch = { ids, scores, shape: [queries.length, width] };
    return typeof itemid === "number" ? firstRow(batch) : batch;
  }

  /** Fitted once it has a similarity matrix. */
  protected isFitted(): boolean {
    return this.#similarity !== undefined;
  }

  /** The similarity matrix, or an error naming what needs it. */
  private fittedSimilarity(what: string): CsrMatrix {
    this.requireFitted(what);
    return this.#similarity!;
  }

  /** The similarity's CSR arrays and `nUsers` (a 0-d array). */
  protected stateArrays(): Record<string, TacitArray> {
    const similarity = this.#similarity!;
    return {
      indptr: { array: similarity.indptr, shape: [similarity.nRows + 1] },
      indices: { array: similarity.indices, shape: [similarity.nnz] },
      data: { array: similarity.data, shape: [similarity.nnz] },
      nUsers: { array: Int32Array.of(this.#nUsers), shape: [] },
    };
  }

  /**
   * Takes the similarity's CSR arrays and `nUsers`, checked as `fit`'s results:
   * a valid `[nItems, nItems]` CSR matrix (columns in range and ascending in
   * each row, values finite) with at most `k` neighbours per row, nItems >= 1
   * and nUsers >= 1.
   */
  protected restoreState(file: TacitFile, path: string): void {
    const indptr = expectArray(file, "indptr", "i32");
    const indices = expectArray(file, "indices", "i32");
    const data = expectArray(file, "data", "f32");
    const [nUsers] = expectArray(file, "nUsers", "i32", []);
    const nItems = indptr.length - 1;
    if (nItems < 1) {
      throw new TacitFileError(
        `Expected array 'indptr' in ${path} to have nItems + 1 >= 2 entries but found ${indptr.length}`,
        path,
      );
    }
    if (nUsers! < 1) {
      throw new TacitFileError(
        `Expected array 'nUsers' in ${path} to hold nUsers >= 1 but found ${nUsers}`,
        path,
      );
    }
    let similarity: CsrMatrix;
    try {
      similarity = new CsrMatrix([nItems, nItems], indptr, indices, data);
    } catch (error) {
      throw new TacitFileError(
        `Expected arrays 'indptr', 'indices' and 'data' in ${path} to be a valid [${nItems}, ${nItems}] CSR matrix (nItems from 'indptr'): ${
          (error as Error).message
        }`,
        path,
        { cause: error },
      );
    }
    for (let item = 0; item < nItems; item++) {
      const kept = indptr[item + 1]! - indptr[item]!;
      if (kept > this.k) {
        throw new TacitFileError(
          `Expected row ${item} of the similarity ('indptr', 'indices') in ${path} to hold at most k = ${this.k} neighbours (from the params) but found ${kept}`,
          path,
        );
      }
    }
    this.#similarity = similarity;
    this.#nUsers = nUsers!;
  }
}

/**
 * Item-item neighbours on raw co-occurrence: S = Xᵀ X.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CsrMatrix } from "../sparse.ts";
 * import { ItemItemRecommender } from "./nearest_neighbours.ts";
 * const plays = CsrMatrix.fromDense([[1, 1, 0], [1, 1, 0], [0, 1, 1]]);
 * const model = await new ItemItemRecommender({ k: 3 }).fit(plays, { progress: false });
 * // User 0 has items 0 and 1; item 2 shares user 2 with item 1: S[1, 2] = 1.
 * assert.deepEqual(model.recommend(0, plays, { n: 1 }), {
 *   ids: Int32Array.of(2),
 *   scores: Float32Array.of(1),
 * });
 * ```
 */
export class ItemItemRecommender extends NearestNeighboursRecommender {
  /** The kind of the files `save` writes. */
  static readonly kind: string = "itemitem";

  /**
   * Builds an unfitted model.
   * @param options `k` and `numThreads`; unknown keys are refused.
   */
  constructor(options: ItemItemRecommenderOptions = {}) {
    super(neighbourSchema, options);
  }

  /** W = X, unweighted. */
  protected weigh(userItems: CsrMatrix): Weighted {
    return { userItems, itemUsers: userItems.transpose() };
  }

  /** Reads a model written by `save`; refuses a file of another kind. */
  static load(path: string): Promise<ItemItemRecommender> {
    return loadAs(ItemItemRecommender, path);
  }
}

/** Wᵀ from a weighting of the item × user matrix, and W = its transpose. */
function fromItemUsers(itemUsers: CsrMatrix): Weighted {
  return { userItems: itemUsers.transpose(), itemUsers };
}

function requireNonNegative(userItems: CsrMatrix, model: string): void {
  const data = userItems.data;
  for (let p = 0; p < data.length; p++) {
    if (data[p]! < 0) {
      throw new RangeError(
        `Expected userItems to hold non-negative values for ${model} but found data[${p}] = ${
          data[p]
        }`,
      );
    }
  }
}

/**
 * Item-item neighbours by cosine: S[i, j] = cos(X[:, i], X[:, j]) (items' columns
 * scaled to unit length, then Wᵀ W).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CsrMatrix } from "../sparse.ts";
 * import { CosineRecommender } from "./nearest_neighbours.ts";
 * const plays = CsrMatrix.fromDense([[3, 4, 0], [0, 2, 1]]);
 * const model = await new CosineRecommender().fit(plays, { progress: false });
 * const { ids, scores } = model.similarItems(0);
 * assert.deepEqual([...ids], [0, 1]);
 * assert.ok(Math.abs(scores[0]! - 1) < 1e-6);
 * ```
 */
export class CosineRecommender extends NearestNeighboursRecommender {
  /** The kind of the files `save` writes. */
  static readonly kind: string = "cosine";

  /**
   * Builds an unfitted model.
   * @param options `k` and `numThreads`; unknown keys are refused.
   */
  constructor(options: ItemItemRecommenderOptions = {}) {
    super(neighbourSchema, options);
  }

  /** Wᵀ = normalize(Xᵀ). */
  protected weigh(userItems: CsrMatrix): Weighted {
    return fromItemUsers(normalize(userItems.transpose()));
  }

  /** Reads a model written by `save`; refuses a file of another kind. */
  static load(path: string): Promise<CosineRecommender> {
    return loadAs(CosineRecommender, path);
  }
}

/**
 * Item-item neighbours by TF-IDF: each item's column weighted by
 * sqrt(x) · idf(user), idf(u) = ln(nItems) − ln(1 + items of u), then scaled to
 * unit length. Values must be non-negative.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CsrMatrix } from "../sparse.ts";
 * import { TFIDFRecommender } from "./nearest_neighbours.ts";
 * const plays = CsrMatrix.fromDense([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]);
 * const model = await new TFIDFRecommender({ k: 3 }).fit(plays, { progress: false });
 * assert.equal(model.similarity.nnz, 10);
 * ```
 */
export class TFIDFRecommender extends NearestNeighboursRecommender {
  /** The kind of the files `save` writes. */
  static readonly kind: string = "tfidf";

  /**
   * Builds an unfitted model.
   * @param options `k` and `numThreads`; unknown keys are refused.
   */
  constructor(options: ItemItemRecommenderOptions = {}) {
    super(neighbourSchema, options);
  }

  /** Wᵀ = normalize(tfidfWeight(Xᵀ)). */
  protected weigh(userItems: CsrMatrix): Weighted {
    requireNonNegative(userItems, "TF-IDF");
    return fromItemUsers(normalize(tfidfWeight(userItems.transpose())));
  }

  /** Reads a model written by `save`; refuses a file of another kind. */
  static load(path: string): Promise<TFIDFRecommender> {
    return loadAs(TFIDFRecommender, path);
  }
}

/**
 * Item-item neighbours by Okapi BM25: each item is a document over users,
 * w = x (k1 + 1) / (k1 · lengthNorm(item) + x) · idf(user), with
 * lengthNorm = (1 − b) + b · (item total / mean item total) and
 * idf(u) = ln(nItems) − ln(1 + items of u); no normalisation after. Values must
 * be non-negative.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CsrMatrix } from "../sparse.ts";
 * import { BM25Recommender } from "./nearest_neighbours.ts";
 * const plays = CsrMatrix.fromDense([[4, 1, 0, 0], [0, 2, 1, 0], [0, 0, 3, 1]]);
 * const model = await new BM25Recommender({ k: 2, k1: 1.2, b: 0.75 }).fit(plays, {
 *   progress: false,
 * });
 * assert.deepEqual(model.similarItems([0, 1], { n: 2 }).shape, [2, 2]);
 * ```
 */
export class BM25Recommender
  extends NearestNeighboursRecommender<SchemaFor<BM25RecommenderOptions>> {
  /** The kind of the files `save` writes. */
  static readonly kind: string = "bm25";
  /** BM25 term-frequency saturation. */
  readonly k1: number = this.options.k1;
  /** BM25 length normalisation. */
  readonly b: number = this.options.b;

  /**
   * Builds an unfitted model.
   * @param options `k`, `k1`, `b` and `numThreads`; unknown keys are refused.
   */
  constructor(options: BM25RecommenderOptions = {}) {
    super(bm25Schema, options);
  }

  /** Wᵀ = bm25Weight(Xᵀ, {k1, b}). */
  protected weigh(userItems: CsrMatrix): Weighted {
    requireNonNegative(userItems, "BM25");
    return fromItemUsers(bm25Weight(userItems.transpose(), { k1: this.k1, b: this.b }));
  }

  /** Reads a model written by `save`; refuses a file of another kind. */
  static load(path: string): Promise<BM25Recommender> {
    return loadAs(BM25Recommender, path);
  }
}

/**
 * Cuts items into at most `blocks` runs of about equal stored entries of the
 * item × user matrix (each gets its own native call), as [start, end) pairs.
 */
function itemBlocks(indptr: Int32Array, blocks: number): [number, number][] {
  const nItems = indptr.length - 1;
  const nnz = indptr[nItems]!;
  const out: [number, number][] = [];
  let start = 0;
  for (let b = 1; b <= blocks && start < nItems; b++) {
    let end = nItems;
    if (b < blocks) {
      const target = (nnz * b) / blocks;
      end = start + 1;
      while (end < nItems && indptr[end]! < target) end++;
    }
    out.push([start, end]);
    start = end;
  }
  return out;
}

/**
 * The [nItems, width] fit buffers as a CsrMatrix (row i has counts[i] entries).
 * Rows only move left, so they are packed in place; the buffers are copied out
 * only when the packed matrix fills less than half of them.
 */
function compactRows(
  nItems: number,
  width: number,
  ids: Int32Array,
  scores: Float32Array,
  counts: Int32Array,
): CsrMatrix {
  const indptr = new Int32Array(nItems + 1);
  for (let i = 0; i < nItems; i++) indptr[i + 1] = indptr[i]! + counts[i]!;
  const nnz = indptr[nItems]!;
  for (let i = 0; i < nItems; i++) {
    const from = i * width;
    if (from === indptr[i]!) continue;
    ids.copyWithin(indptr[i]!, from, from + counts[i]!);
    scores.copyWithin(indptr[i]!, from, from + counts[i]!);
  }
  const keep = 2 * nnz >= ids.length;
  const indices = keep ? ids.subarray(0, nnz) : ids.slice(0, nnz);
  const data = keep ? scores.subarray(0, nnz) : scores.slice(0, nnz);
  return new CsrMatrix([nItems, nItems], indptr, indices, data);
}
