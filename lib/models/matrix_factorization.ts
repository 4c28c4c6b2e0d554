/**
 * The query API every factor model shares: a model is a user factor matrix and
 * an item factor matrix, and scores are dot products between their rows.
 * `recommend`, `similarItems`, `similarUsers`, batches, save and load live
 * here once; each model adds how it is fitted.
 *
 * @module
 */
import { readTacitFile, writeTacitFile } from "../io/format.ts";
import { CsrMatrix } from "../sparse.ts";
import {
  candidateList,
  firstRow,
  gatherRows,
  idMask,
  type Ids,
  normalizeRows,
  type Ranked,
  type RankedBatch,
  type RankOptions,
  resultCount,
  topKDot,
} from "./query.ts";
import { idsInRange } from "../validate.ts";

/** A row-major factor matrix: a view of the model's state, not a copy. */
export interface FactorMatrix {
  data: Float32Array;
  shape: [rows: number, factors: number];
}

export interface RecommendOptions extends RankOptions {
  /** Leave out the items the user already has in `userItems` (true). */
  filterAlreadyLiked?: boolean;
  /** Solve the user's factors from `userItems` instead of using the stored ones (false). */
  recalculateUser?: boolean;
}

export interface SimilarOptions {
  /** How many results per query (10), the query itself included as in `implicit`. */
  n?: number;
  /** Ids never returned. */
  filterItems?: ArrayLike<number>;
  /** When given, only these ids are ranked. */
  items?: ArrayLike<number>;
}

export interface SimilarUsersOptions {
  n?: number;
  filterUsers?: ArrayLike<number>;
  users?: ArrayLike<number>;
}

/** Shared state and queries of matrix-factorization models. */
export abstract class MatrixFactorizationBase {
  /** The file kind written by `save` and checked by `load`. */
  abstract readonly kind: string;

  protected userData: Float32Array = new Float32Array(0);
  protected itemData: Float32Array = new Float32Array(0);
  protected rank = 0;
  #normalizedItems: Float32Array | undefined;
  #normalizedUsers: Float32Array | undefined;

  /** Number of latent factors per row (0 before fit). */
  get factorCount(): number {
    return this.rank;
  }

  get nUsers(): number {
    return this.rank === 0 ? 0 : this.userData.length / this.rank;
  }

  get nItems(): number {
    return this.rank === 0 ? 0 : this.itemData.length / this.rank;
  }

  /** User factors `[nUsers, factors]`. */
  get userFactors(): FactorMatrix {
    return { data: this.userData, shape: [this.nUsers, this.rank] };
  }

  /** Item factors `[nItems, factors]`. */
  get itemFactors(): FactorMatrix {
    return { data: this.itemData, shape: [this.nItems, this.rank] };
  }

  /**
   * Replaces the factors with matrices trained elsewhere (copied and checked):
   * `users` is `[nUsers, factors]`, `items` is `[nItems, factors]`.
   */
  assignFactors(users: FactorMatrix, items: FactorMatrix): void {
    const rank = checkFactorMatrix("users", users);
    if (checkFactorMatrix("items", items) !== rank) {
      throw new RangeError(`items has ${items.shape[1]} factors but users has ${rank}`);
    }
    this.setFactors(users.data.slice(), items.data.slice(), rank);
  }

  /** Replaces both factor matrices (after fit, load or partial fit). */
  protected setFactors(userData: Float32Array, itemData: Float32Array, rank: number): void {
    this.userData = userData;
    this.itemData = itemData;
    this.rank = rank;
    this.#normalizedItems = undefined;
    this.#normalizedUsers = undefined;
  }

  protected requireFitted(method: string): void {
    if (this.rank === 0) {
      throw new Error(`${method}() needs a fitted model: call fit() or load() first`);
    }
  }

  /**
   * Solves fresh factors for rows of `userItems` against the item factors.
   * Models that cannot recalculate a user refuse.
   */
  protected solveUsers(_userRows: CsrMatrix): Float32Array {
    throw new Error(`${this.constructor.name} cannot recalculate users`);
  }

  /**
   * The top `n` items for one user (`{ids, scores}`, best first) or for a batch
   * of users (flat `[users, n]` arrays, padded with −1 / −Infinity).
   *
   * @param userid One user id or an array of them.
   * @param userItems The user × item matrix the model was fitted on (row u is user u),
   *   used to filter liked items and to recalculate users.
   */
  recommend(userid: number, userItems: CsrMatrix, options?: RecommendOptions): Ranked;
  recommend(
    userid: ArrayLike<number>,
    userItems: CsrMatrix,
    options?: RecommendOptions,
  ): RankedBatch;
  recommend(
    userid: Ids,
    userItems: CsrMatrix,
    options: RecommendOptions = {},
  ): Ranked | RankedBatch {
    this.requireFitted("recommend");
    const filterLiked = options.filterAlreadyLiked ?? true;
    const recalculate = options.recalculateUser ?? false;
    const needsRows = filterLiked || recalculate;
    if (needsRows) this.checkUserItems(userItems);
    const userLimit = recalculate ? userItems.nRows : this.nUsers;
    const users = idsInRange(
      "userid",
      userid,
      userLimit,
      recalculate ? "rows in userItems" : "users",
    );
    if (needsRows) {
      for (const [k, u] of users.entries()) {
        if (u >= userItems.nRows) {
          throw new RangeError(
            `userid${
              typeof userid === "number" ? "" : `[${k}]`
            } = ${u} has no row in userItems (${userItems.nRows} rows)`,
          );
        }
      }
    }
    const rows = needsRows ? userItems.rows(users) : undefined;
    const candidates = candidateList("items", options.items, this.nItems, "items");
    const batch = topKDot({
      queries: recalculate ? this.solveUsers(rows!) : gatherRows(this.userData, this.rank, users),
      targets: this.itemData,
      factors: this.rank,
      k: resultCount(options.n, candidates, this.nItems),
      exclude: filterLiked ? rows : undefined,
      mask: idMask("filterItems", options.filterItems, this.nItems, "items"),
      candidates,
    });
    return typeof userid === "number" ? firstRow(batch) : batch;
  }

  /**
   * The items most similar to an item by cosine of their factors; the item
   * itself is included (score 1), as in `implicit`.
   */
  similarItems(itemid: number, options?: SimilarOptions): Ranked;
  similarItems(itemid: ArrayLike<number>, options?: SimilarOptions): RankedBatch;
  similarItems(itemid: Ids, options: SimilarOptions = {}): Ranked | RankedBatch {
    this.requireFitted("similarItems");
    this.#normalizedItems ??= normalizeRows(this.itemData, this.rank);
    return this.similar(
      this.#normalizedItems,
      itemid,
      "itemid",
      "items",
      options.n,
      options.filterItems,
      "filterItems",
      options.items,
      "items",
    );
  }

  /** The users most similar to a user by cosine of their factors, the user included. */
  similarUsers(userid: number, options?: SimilarUsersOptions): Ranked;
  similarUsers(userid: ArrayLike<number>, options?: SimilarUsersOptions): RankedBatch;
  similarUsers(userid: Ids, options: SimilarUsersOptions = {}): Ranked | RankedBatch {
    this.requireFitted("similarUsers");
    this.#normalizedUsers ??= normalizeRows(this.userData, this.rank);
    return this.similar(
      this.#normalizedUsers,
      userid,
      "userid",
      "users",
      options.n,
      options.filterUsers,
      "filterUsers",
      options.users,
      "users",
    );
  }

  private similar(
    normalized: Float32Array,
    ids: Ids,
    idName: string,
    what: string,
    n: number | undefined,
    filter: ArrayLike<number> | undefined,
    filterName: string,
    subset: ArrayLike<number> | undefined,
    subsetName: string,
  ): Ranked | RankedBatch {
    const count = normalized.length / this.rank;
    const queries = idsInRange(idName, ids, count, what);
    const candidates = candidateList(subsetName, subset, count, what);
    const batch = topKDot({
      queries: gatherRows(normalized, this.rank, queries),
      targets: normalized,
      factors: this.rank,
      k: resultCount(n, candidates, count),
      mask: idMask(filterName, filter, count, what),
      candidates,
    });
    return typeof ids === "number" ? firstRow(batch) : batch;
  }

  /** Checks that a user × item matrix has one column per item of the model. */
  protected checkUserItems(userItems: CsrMatrix, name = "userItems"): void {
    if (!(userItems instanceof CsrMatrix)) {
      throw new TypeError(`Expected ${name} to be a CsrMatrix`);
    }
    if (userItems.nCols !== this.nItems) {
      throw new RangeError(
        `${name} has ${userItems.nCols} columns but the model has ${this.nItems} items`,
      );
    }
  }

  /** The options `save` records and `load` passes back to the constructor. */
  protected abstract parameters(): Record<string, unknown>;

  /**
   * Writes the model to one checked file (written to a temporary file and
   * renamed, so an existing file is never left half-written).
   */
  async save(path: string): Promise<void> {
    this.requireFitted("save");
    await writeTacitFile(path, {
      kind: this.kind,
      params: this.parameters(),
      arrays: {
        userFactors: { array: this.userData, shape: [this.nUsers, this.rank] },
        itemFactors: { array: this.itemData, shape: [this.nItems, this.rank] },
      },
    });
  }

  /** Reads factors saved by `save` into `model`, checking kind and shapes. */
  protected static async loadInto<M extends MatrixFactorizationBase>(
    path: string,
    create: (params: Record<string, unknown>) => M,
  ): Promise<M> {
    const probe = create({});
    const file = await readTacitFile(path, { kind: probe.kind });
    const model = create(file.params);
    const users = file.arrays.userFactors;
    const items = file.arrays.itemFactors;
    if (users === undefined || items === undefined) {
      throw new TypeError(`Expected ${path} to hold userFactors and itemFactors`);
    }
    const rank = users.shape[1] ?? 0;
    if (
      !(users.array instanceof Float32Array) || !(items.array instanceof Float32Array) ||
      items.shape[1] !== rank
    ) {
      throw new TypeError(
        `Expected float32 factor matrices with the same number of factors in ${path}`,
      );
    }
    model.setFactors(users.array, items.array, rank);
    return model;
  }
}

function checkFactorMatrix(name: string, matrix: FactorMatrix): number {
  if (!(matrix?.data instanceof Float32Array)) {
    throw new TypeError(`Expected ${name}.data to be a Float32Array`);
  }
  const [rows, factors] = matrix.shape;
  if (
    !Number.isInteger(rows) || rows < 1 || !Number.isInteger(factors) || factors < 1 ||
    factors > 1024
  ) {
    throw new RangeError(
      `Expected ${name}.shape to be [rows >= 1, 1 <= factors <= 1024] but found [${matrix.shape}]`,
    );
  }
  if (matrix.data.length !== rows * factors) {
    throw new RangeError(
      `Expected ${name}.data to have ${
        rows * factors
      } values for shape [${rows}, ${factors}] but found ${matrix.data.length}`,
    );
  }
  for (let k = 0; k < matrix.data.length; k++) {
    if (!Number.isFinite(matrix.data[k]!)) {
      throw new RangeError(`Expected ${name}.data[${k}] to be finite but found ${matrix.data[k]}`);
    }
  }
  return factors;
}
