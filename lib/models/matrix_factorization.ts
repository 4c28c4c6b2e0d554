/**
 * The query API every factor model shares: a model is a user factor matrix and
 * an item factor matrix, and scores are dot products between their rows.
 * `recommend`, `similarItems`, `similarUsers`, batches and the factors' side
 * of save and load live here once (over the shared `Model` base); each model
 * adds its options and how it is fitted.
 *
 * @module
 */
import { expectArray, type TacitArray, type TacitFile, TacitFileError } from "../io/format.ts";
import type { CsrMatrix } from "../sparse.ts";
import { booleanOption, describe, idsInRange, knownOptions, optionalBoolean } from "../validate.ts";
import {
  checkInteractions,
  checkNoIntersections,
  factorRanks,
  PREDICT_RANK_OPTIONS,
  type PredictRankOptions,
  type RankPredictor,
} from "../evaluation/ranks.ts";
import { callNative } from "../native/library.ts";
import {
  GPU_K_MAX,
  gpuAvailability,
  GpuFactors,
  type GpuStorage,
  requireGpu,
} from "../native/gpu.ts";
import { checkColumns, inFile, Model, type ModelRecommendOptions } from "./model.ts";
import { choice, integer, type SchemaFor } from "./options.ts";
import {
  assertFiniteRows,
  candidateList,
  firstRow,
  gatherRows,
  idMask,
  type Ids,
  normalizeRows,
  type Precision,
  precisionOption,
  RANK_OPTIONS,
  type Ranked,
  type RankedBatch,
  type RankOptions,
  RECOMMEND_OPTIONS,
  resultCount,
  topKDot,
} from "./query.ts";

/** The keys of {@link RecommendOptions}. */
const FACTOR_RECOMMEND_OPTIONS: readonly string[] = [
  ...RECOMMEND_OPTIONS,
  "recalculateUser",
  "index",
  "precision",
];
/** The keys of {@link SimilarOptions}. */
const SIMILAR_ITEMS_OPTIONS: readonly string[] = [...RANK_OPTIONS, "index", "precision"];
/** The keys of {@link SimilarUsersOptions}. */
const SIMILAR_USERS_OPTIONS: readonly string[] = [
  "n",
  "filterUsers",
  "users",
  "index",
  "precision",
];
import { numThreadsOption } from "./training.ts";
import type { AnnIndex, IndexBuildOptions } from "../ann/index.ts";
import { AttachedIndexes, type IndexRole, ROLE_METRIC, type RoleRows } from "../ann/attached.ts";
import { buildIndexOfKind, type IndexKindName } from "../ann/kinds.ts";

/** Options of `buildIndexes`: the kind, its parameters (not `metric`), and the build options. */
export type BuildIndexesOptions =
  & {
    /** "hnsw", "ivf" or "forest". */
    kind: IndexKindName;
    /** Also build a cosine index over the user factors for `similarUsers` (false). */
    similarUsers?: boolean;
    /**
     * Calibrate each index for this recall@10 on a sample of the model's own
     * rows (up to 500 users for `recommend`, items / users for the others), so
     * queries use the effort that reaches it — or exact top-k where that is
     * faster (`AnnIndex.calibrate`). Default 0.95; `null` skips calibration
     * (the kind's default effort).
     */
    recall?: number | null;
  }
  & IndexBuildOptions
  & Record<string, unknown>;

/** The indexes a model's queries go through, by role. */
export interface ModelIndexes {
  /** Inner product over the item factors. */
  recommend?: AnnIndex | undefined;
  /** Cosine over the item factors. */
  similarItems?: AnnIndex | undefined;
  /** Cosine over the user factors. */
  similarUsers?: AnnIndex | undefined;
}

/** Options every factor model takes besides its own. */
export interface CommonModelOptions {
  /** Seed of the initialisation (and sampling); omitted means a random seed. */
  randomState?: number;
  /** Threads for fit, 0..256; 0 (default) uses the pool as set by setNumThreads / TACIT_NUM_THREADS. */
  numThreads?: number;
  /** Only "float32" is supported. */
  dtype?: "float32";
  /**
   * Where `fit` runs ("cpu", the default): "gpu" runs the model's CUDA
   * kernels and throws `GpuUnavailableError` when no GPU is usable; "auto"
   * takes the GPU when the CUDA library loads and finds a device, else the
   * CPU. A model fitted on the GPU keeps its factors there for its queries
   * (`onGpu`, `toCpu()`); a model without GPU kernels refuses "gpu".
   */
  device?: Device;
}

/** The `device` option: where fit runs. */
export type Device = "cpu" | "gpu" | "auto";

/**
 * Where a fit with the `device` option runs: "gpu" when asked and usable
 * (else {@link GpuUnavailableError}), "auto" falls back to the CPU.
 *
 * @param device The option's value.
 * @param what What asks, for the message, e.g. `"ALS fit()"`.
 * @param supported Whether the model has GPU kernels.
 */
export function resolveDevice(device: Device, what: string, supported: boolean): "cpu" | "gpu" {
  if (device === "cpu") return "cpu";
  if (!supported) {
    if (device === "auto") return "cpu";
    throw new RangeError(
      `Expected device to be "cpu" or "auto" for ${what} (it has no GPU kernels) but found "gpu"`,
    );
  }
  if (device === "auto") return gpuAvailability().available ? "gpu" : "cpu";
  requireGpu(`${what} with device: "gpu"`);
  return "gpu";
}

/** The schema of {@link CommonModelOptions}: what every factor model's schema holds. */
export type FactorSchema = SchemaFor<CommonModelOptions, "randomState">;

/** The schema of {@link CommonModelOptions}, spread into each factor model's schema. */
export const commonOptions: FactorSchema = {
  randomState: integer({
    default: undefined,
    min: 0,
    doc: "Seed of the initialisation (and sampling); omitted means a random seed.",
  }),
  numThreads: numThreadsOption,
  dtype: choice({ default: "float32", allowed: ["float32"], doc: 'Only "float32" is supported.' }),
  device: choice<Device>({
    default: "cpu",
    allowed: ["cpu", "gpu", "auto"],
    doc:
      'Where fit runs: "cpu", "gpu" (throws when no GPU is usable) or "auto" (the GPU when usable).',
  }),
};

/** The model's factors in GPU memory, with the normalized copies the similarity queries upload. */
interface GpuResidence {
  users: GpuFactors;
  items: GpuFactors;
  normalized: { users?: GpuFactors; items?: GpuFactors };
}

/** A row-major factor matrix: a view of the model's state, not a copy. */
export interface FactorMatrix {
  /** The values, row-major. */
  data: Float32Array;
  /** `[rows, factors]`. */
  shape: [rows: number, factors: number];
}

/** User and item rows a query ranks with, both with `columns` columns. */
export interface QueryFactors {
  /** User rows, row-major. */
  users: Float32Array;
  /** Item rows, row-major. */
  items: Float32Array;
  /** Columns of both. */
  columns: number;
}

/** The `index` option of the factor models' queries. */
export interface IndexedQueryOptions {
  /**
   * Rank through this approximate-nearest-neighbour index (same filters,
   * same result shape and exact scores); `null`: the exact path even when an
   * index is attached; omitted: the attached index (`useIndex`,
   * `buildIndexes`) if any, else exact.
   */
  index?: AnnIndex | null;
  /**
   * The exact path's arithmetic (`"auto"`): `"float32"`, `"bf16Candidates"`
   * (a bf16 pass, AMX or AVX512-BF16, picks a provably complete candidate set, re-scored in
   * float32: identical results, faster on large batches) or `"auto"`.
   */
  precision?: Precision;
}

/** Options of a factor model's `recommend`. */
export interface RecommendOptions extends ModelRecommendOptions, IndexedQueryOptions {
  /** Solve the user's factors from `userItems` instead of using the stored ones (false). */
  recalculateUser?: boolean;
}

/** Options of `similarItems`: `n` (10, the query itself included as in `implicit`), `filterItems`, `items`, `index`. */
export interface SimilarOptions extends RankOptions, IndexedQueryOptions {}

/** Options of `similarUsers`. */
export interface SimilarUsersOptions extends IndexedQueryOptions {
  /** How many results per query (10), the query itself included as in `implicit`. */
  n?: number;
  /** Ids never returned. */
  filterUsers?: ArrayLike<number>;
  /** When given, only these ids are ranked. */
  users?: ArrayLike<number>;
}

/**
 * Shared state, queries and persistence of matrix-factorization models: a
 * user factor matrix and an item factor matrix, saved as the arrays
 * `userFactors` and `itemFactors`.
 */
export abstract class MatrixFactorizationBase<S extends FactorSchema = FactorSchema>
  extends Model<S>
  implements RankPredictor {
  /** Seed of the initialisation (and sampling), if one was given. */
  readonly randomState: number | undefined = this.options.randomState;
  /** The factors' element type. */
  readonly dtype: "float32" = this.options.dtype;
  /** Where fit runs (the `device` option); {@link onGpu} says where the factors are. */
  readonly device: Device = this.options.device;
  #gpu: GpuResidence | undefined;
  /** User factors, row-major `[nUsers, rank]`. */
  protected userData: Float32Array = new Float32Array(0);
  /** Item factors, row-major `[nItems, rank]`. */
  protected itemData: Float32Array = new Float32Array(0);
  /** Columns of both factor matrices (0 before fit). */
  protected rank = 0;
  #normalizedItems: FactorMatrix | undefined;
  #normalizedUsers: FactorMatrix | undefined;
  readonly #indexes = new AttachedIndexes();
  /** The indexes `buildIndexes` built (and so disposes when it builds again). */
  #builtIndexes: AnnIndex[] = [];

  /** Number of latent factors per row (0 before fit). */
  get factorCount(): number {
    return this.rank;
  }

  /**
   * The factor columns `fit` gives under the model's options, and the rule
   * that gives them (e.g. `"factors + 1"`): a saved file's factor matrices
   * must have exactly these columns.
   */
  protected abstract fittedColumns(): { columns: number; rule: string };

  /** Users of the fitted model (0 before fit). */
  get nUsers(): number {
    return this.rank === 0 ? 0 : this.userData.length / this.rank;
  }

  /** Items of the fitted model (0 before fit). */
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
    this.requireNoFitRunning("assignFactors()");
    const rank = checkFactorMatrix("users", users);
    if (checkFactorMatrix("items", items) !== rank) {
      throw new RangeError(`items has ${items.shape[1]} factors but users has ${rank}`);
    }
    this.setFactors(users.data.slice(), items.data.slice(), rank);
  }

  /**
   * The factors a fit starts from: copies of the current ones when their
   * shapes match the fit's (a warm start, as `implicit`), else new matrices
   * that `initialise` fills.
   *
   * @param shape The `[users, items]` shape of the fit's matrix.
   * @param columns The factor columns the fit uses.
   * @param initialise Fills fresh user and item factors.
   */
  protected startingFactors(
    shape: readonly [number, number],
    columns: number,
    initialise: (users: Float32Array, items: Float32Array) => void,
  ): { users: Float32Array; items: Float32Array } {
    const [nUsers, nItems] = shape;
    if (this.rank === columns && this.nUsers === nUsers && this.nItems === nItems) {
      return { users: this.userData.slice(), items: this.itemData.slice() };
    }
    const users = new Float32Array(nUsers * columns);
    const items = new Float32Array(nItems * columns);
    initialise(users, items);
    return { users, items };
  }

  /**
   * Makes a completed fit's factors the model's, after refusing factors with a
   * NaN or infinite value, so a diverged fit never replaces a model's factors.
   *
   * @param label The model's name for the message, e.g. "ALS".
   * @param users The fit's user factors.
   * @param items The fit's item factors.
   * @param columns Their columns.
   * @param advice What the user can change when the fit diverged.
   */
  protected commitFactors(
    label: string,
    users: Float32Array,
    items: Float32Array,
    columns: number,
    advice: string,
    gpu?: { users: GpuFactors; items: GpuFactors },
  ): void {
    assertFiniteFactors(label, "user", users, advice);
    assertFiniteFactors(label, "item", items, advice);
    this.setFactors(users, items, columns, gpu);
  }

  /**
   * Replaces both factor matrices (after fit, load or partial fit). A model
   * on the GPU stays there: `gpu` are the device copies of the new factors
   * (a GPU fit's own), else the new factors are uploaded.
   */
  protected setFactors(
    userData: Float32Array,
    itemData: Float32Array,
    rank: number,
    gpu?: { users: GpuFactors; items: GpuFactors },
  ): void {
    const wasOnGpu = this.#gpu !== undefined;
    this.#releaseGpu();
    this.userData = userData;
    this.itemData = itemData;
    this.rank = rank;
    this.#normalizedItems = undefined;
    this.#normalizedUsers = undefined;
    if (gpu !== undefined) this.#gpu = { ...gpu, normalized: {} };
    else if (wasOnGpu) this.#gpu = this.#upload();
  }

  /** The storage of the factors on the GPU (ALS's `gpuStorage` option; float32 otherwise). */
  protected deviceStorage(): GpuStorage {
    return "float32";
  }

  #upload(): GpuResidence {
    const storage = this.deviceStorage();
    const users = GpuFactors.upload(this.userData, this.nUsers, this.rank, storage);
    try {
      return {
        users,
        items: GpuFactors.upload(this.itemData, this.nItems, this.rank, storage),
        normalized: {},
      };
    } catch (error) {
      users.dispose();
      throw error;
    }
  }

  #releaseGpu(): void {
    const gpu = this.#gpu;
    this.#gpu = undefined;
    if (gpu === undefined) return;
    for (const matrix of [gpu.users, gpu.items, gpu.normalized.users, gpu.normalized.items]) {
      matrix?.dispose();
    }
  }

  /** Whether the factors are in GPU memory (after a GPU fit or `toGpu()`); queries then rank there. */
  get onGpu(): boolean {
    return this.#gpu !== undefined;
  }

  /**
   * Copies the factors to the GPU, where `recommend`, `similarItems` and
   * `similarUsers` then rank (exact, same results as the CPU's within float
   * rounding; `n` above 2048 ranks on the CPU). The host copy stays valid:
   * `userFactors`, `save` and every CPU path keep working.
   *
   * @throws GpuUnavailableError when no GPU is usable.
   */
  toGpu(): this {
    this.requireFitted("toGpu()");
    requireGpu(`${this.constructor.name}.toGpu()`);
    this.#gpu ??= this.#upload();
    return this;
  }

  /** Frees the GPU copies; queries rank on the CPU again. Idempotent. */
  toCpu(): this {
    this.#releaseGpu();
    return this;
  }

  /** Frees what the model holds outside the JavaScript heap (its GPU copies). */
  dispose(): void {
    this.#releaseGpu();
  }

  /** `using` support: the same as {@link dispose}. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * The device matrix a query over `role` ranks against, when the model is
   * on the GPU and the query can run there: the factors themselves, or
   * their normalized copy (uploaded on first use).
   */
  protected gpuTargets(
    role: "items" | "users",
    normalized: FactorMatrix | undefined,
    k: number,
  ): GpuFactors | undefined {
    const gpu = this.#gpu;
    if (gpu === undefined || k > GPU_K_MAX) return undefined;
    if (normalized === undefined) return gpu[role];
    gpu.normalized[role] ??= GpuFactors.upload(
      normalized.data,
      normalized.shape[0],
      normalized.shape[1],
      this.deviceStorage(),
    );
    return gpu.normalized[role];
  }

  /** The device copies of the factors, when the model is on the GPU. */
  protected gpuFactors(): { users: GpuFactors; items: GpuFactors } | undefined {
    return this.#gpu;
  }

  /** Fitted once it has factors. */
  protected isFitted(): boolean {
    return this.rank > 0;
  }

  /**
   * Solves fresh factors for rows of `userItems` against the item factors.
   * Models that cannot recalculate a user refuse.
   */
  protected solveUsers(_userRows: CsrMatrix): Float32Array {
    throw new Error(`${this.constructor.name} cannot recalculate users`);
  }

  /** The indexes attached for each query (`useIndex`, `buildIndexes`). */
  get indexes(): ModelIndexes {
    return {
      recommend: this.#indexes.get("recommend"),
      similarItems: this.#indexes.get("similarItems"),
      similarUsers: this.#indexes.get("similarUsers"),
    };
  }

  /**
   * Routes a query through an index from now on (as implicit's
   * `NMSLib/Faiss/AnnoyAlternatingLeastSquares`): an inner-product index over
   * the item factors serves `recommend`, a cosine one `similarItems` (or,
   * with `role`, `similarUsers`, over the user factors). The index must have
   * been built from the model's current factors (checked); once a fit,
   * partial fit, load or `assignFactors` replaces them, queries refuse it as
   * stale. `useIndex(null)` detaches every index (`useIndex(null, role)`
   * one). The caller keeps ownership: detaching does not dispose.
   */
  useIndex(index: AnnIndex | null, role?: IndexRole): void {
    if (role !== undefined && !Object.hasOwn(ROLE_METRIC, role)) {
      throw new TypeError(
        `Expected role to be 'recommend', 'similarItems' or 'similarUsers' but found ${
          describe(role)
        }`,
      );
    }
    if (index === null) {
      if (role === undefined) this.#indexes.clear();
      else this.#indexes.detach(role);
      return;
    }
    this.requireFitted("useIndex()");
    const chosen: IndexRole = role ??
      ((index as { metric?: unknown } | undefined)?.metric === "cosine"
        ? "similarItems"
        : "recommend");
    this.#indexes.attach(chosen, index, this.roleRows(chosen));
  }

  /**
   * Builds and attaches the indexes of one kind for this model, as implicit's
   * ANN models do on fit: an inner-product index for `recommend` and a cosine
   * one for `similarItems` (and, with `similarUsers: true`, one over the
   * users). Indexes an earlier `buildIndexes` built are disposed.
   *
   * @param options `kind` ("hnsw", "ivf", "forest"), the kind's parameters
   *   (`m`, `efConstruction`, `nlist`, `nTrees`, ...; not `metric`), `similarUsers`,
   *   and `progress`, `signal`, `numThreads`.
   * @returns The attached indexes.
   */
  async buildIndexes(options: BuildIndexesOptions): Promise<ModelIndexes> {
    this.requireFitted("buildIndexes()");
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        `Expected buildIndexes() options to be an object but found ${describe(options)}`,
      );
    }
    const { kind, similarUsers, recall, ...rest } = options;
    if (Object.hasOwn(rest, "metric")) {
      throw new TypeError(
        "Expected buildIndexes() options without 'metric' (recommend gets an 'ip' index, similarItems and similarUsers 'cosine' ones) but found one",
      );
    }
    const withUsers = optionalBoolean("similarUsers", similarUsers) ?? false;
    const roles: IndexRole[] = [
      "recommend",
      "similarItems",
      ...(withUsers ? ["similarUsers" as const] : []),
    ];
    const built: AnnIndex[] = [];
    try {
      for (const role of roles) {
        const rows = this.roleRows(role);
        built.push(
          await buildIndexOfKind(kind, { data: rows.rows, shape: rows.shape }, {
            ...rest,
            metric: ROLE_METRIC[role],
          }),
        );
      }
    } catch (error) {
      for (const index of built) index.dispose();
      throw error;
    }
    if (recall !== null) {
      try {
        for (const [k, role] of roles.entries()) {
          built[k]!.calibrate(this.calibrationQueries(role), {
            ...(recall === undefined ? {} : { recall }),
            ...(rest.numThreads === undefined ? {} : { numThreads: rest.numThreads }),
          });
        }
      } catch (error) {
        for (const index of built) index.dispose();
        throw error;
      }
    }
    for (const old of this.#builtIndexes) old.dispose();
    this.#indexes.clear();
    for (const [k, role] of roles.entries()) {
      this.#indexes.attach(role, built[k]!, this.roleRows(role));
    }
    this.#builtIndexes = built;
    return this.indexes;
  }

  /**
   * The index a query goes through, or undefined for the exact path.
   *
   * @param role The query.
   * @param given The call's `index` option.
   * @param ownRows Whether the query ranks the model's own rows (not rows
   *   computed for this call, e.g. a hybrid model's new items): only those
   *   can go through an index.
   */
  protected queryIndex(role: IndexRole, given: unknown, ownRows = true): AnnIndex | undefined {
    if (!ownRows) {
      if (given !== undefined && given !== null) {
        throw new TypeError(
          `Expected no index for ${role}() over rows computed for this call (features given) but found ${
            describe(given)
          }: an index serves the model's own factors`,
        );
      }
      return undefined;
    }
    return this.#indexes.resolve(role, given, () => this.roleRows(role));
  }

  /** Up to 500 evenly spaced rows of the side a role's queries come from. */
  private calibrationQueries(role: IndexRole): FactorMatrix {
    const side = role === "recommend"
      ? this.userFactors
      : role === "similarItems"
      ? this.similarityFactors("items")
      : this.similarityFactors("users");
    const [count, columns] = side.shape;
    const take = Math.min(count, 500);
    const ids = Int32Array.from({ length: take }, (_, k) => Math.floor((k * count) / take));
    return { data: gatherRows(side.data, columns, ids), shape: [take, columns] };
  }

  /** The rows a role's index ranks, as the model holds them now. */
  private roleRows(role: IndexRole): RoleRows {
    if (role === "recommend") {
      return {
        owner: this.itemData,
        rows: this.itemData,
        shape: [this.nItems, this.rank],
        noun: "item factors",
      };
    }
    const side = role === "similarItems" ? "items" : "users";
    const { data, shape } = this.similarityFactors(side);
    return {
      owner: side === "items" ? this.itemData : this.userData,
      rows: data,
      shape: [shape[0], shape[1]],
      noun: `${side === "items" ? "item" : "user"} factors`,
    };
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
  /** The top `n` items for each user of a batch: flat `[users, n]` arrays. */
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
    this.requireFitted("recommend()");
    knownOptions("recommend()", options, FACTOR_RECOMMEND_OPTIONS);
    return this.rankItems(
      { users: this.userData, items: this.itemData, columns: this.rank },
      userid,
      userItems,
      options,
    );
  }

  /**
   * `recommend` over given factor rows: the model's own, or rows a model
   * computed for one call (a hybrid model's representations of new users or
   * items). `userItems` must have one column per row of `factors.items`.
   *
   * @param factors The user and item rows to rank with.
   * @param userid One user id or an array of them (rows of `factors.users`).
   * @param userItems Liked items to filter (and rows to recalculate users from).
   * @param options As `recommend`'s.
   */
  protected rankItems(
    factors: QueryFactors,
    userid: Ids,
    userItems: CsrMatrix,
    options: RecommendOptions,
  ): Ranked | RankedBatch {
    const { columns } = factors;
    const nItems = factors.items.length / columns;
    const nUsers = factors.users.length / columns;
    const filterLiked = optionalBoolean("filterAlreadyLiked", options.filterAlreadyLiked) ?? true;
    const recalculate = optionalBoolean("recalculateUser", options.recalculateUser) ?? false;
    const precision = precisionOption(options.precision);
    const needsRows = filterLiked || recalculate;
    if (needsRows) checkColumns("userItems", userItems, nItems, "items");
    const userLimit = recalculate ? userItems.nRows : nUsers;
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
    const candidates = candidateList("items", options.items, nItems, "items");
    let queries: Float32Array;
    if (recalculate) {
      queries = this.solveUsers(rows!);
    } else {
      queries = gatherRows(factors.users, columns, users);
      assertFiniteRows(queries, columns, users, "userFactors", "user");
    }
    const k = resultCount(options.n, candidates, nItems);
    const exclude = filterLiked ? rows : undefined;
    const mask = idMask("filterItems", options.filterItems, nItems, "items");
    const index = this.queryIndex("recommend", options.index, factors.items === this.itemData);
    const batch = index !== undefined
      ? index.rankRows(queries, k, { exclusions: exclude, mask, candidates })
      : topKDot({
        queries,
        names: { queries: "the recalculated user factors", targets: "itemFactors", target: "item" },
        targets: factors.items,
        factors: columns,
        k,
        exclude,
        mask,
        candidates,
        precision,
        gpu: factors.items === this.itemData ? this.gpuTargets("items", undefined, k) : undefined,
      });
    return typeof userid === "number" ? firstRow(batch) : batch;
  }

  /**
   * The items most similar to an item by cosine of their factors; the item
   * itself is included (score 1), as in `implicit`.
   */
  similarItems(itemid: number, options?: SimilarOptions): Ranked;
  /** The items most similar to each item of a batch: flat `[items, n]` arrays. */
  similarItems(itemid: ArrayLike<number>, options?: SimilarOptions): RankedBatch;
  similarItems(itemid: Ids, options: SimilarOptions = {}): Ranked | RankedBatch {
    this.requireFitted("similarItems()");
    knownOptions("similarItems()", options, SIMILAR_ITEMS_OPTIONS);
    this.#normalizedItems ??= normalizedFactors(this.similarityFactors("items"));
    return this.similar(
      this.queryIndex("similarItems", options.index),
      this.#normalizedItems,
      itemid,
      "itemid",
      "items",
      options.n,
      options.filterItems,
      "filterItems",
      options.items,
      "items",
      precisionOption(options.precision),
      "items",
    );
  }

  /** The users most similar to a user by cosine of their factors, the user included. */
  similarUsers(userid: number, options?: SimilarUsersOptions): Ranked;
  /** The users most similar to each user of a batch: flat `[users, n]` arrays. */
  similarUsers(userid: ArrayLike<number>, options?: SimilarUsersOptions): RankedBatch;
  similarUsers(userid: Ids, options: SimilarUsersOptions = {}): Ranked | RankedBatch {
    this.requireFitted("similarUsers()");
    knownOptions("similarUsers()", options, SIMILAR_USERS_OPTIONS);
    this.#normalizedUsers ??= normalizedFactors(this.similarityFactors("users"));
    return this.similar(
      this.queryIndex("similarUsers", options.index),
      this.#normalizedUsers,
      userid,
      "userid",
      "users",
      options.n,
      options.filterUsers,
      "filterUsers",
      options.users,
      "users",
      precisionOption(options.precision),
      "users",
    );
  }

  /**
   * The rank of every stored entry of `testInteractions` among all items, as
   * LightFM's `predict_rank`: for entry (u, i), the number of items j ≠ i that
   * are not training items of user u and score at least as high (ties count
   * against the item), so 0 is the best rank. Scores are the dot products
   * `recommend` ranks by (lib/evaluation/ranks.ts has the definition).
   *
   * @param testInteractions A `nUsers × nItems` matrix; each stored entry is ranked (values ignored).
   * @param options `trainInteractions` (items never counted, `nUsers × nItems`) and
   *   `checkIntersections` (true: refuse a test entry that is also a training entry).
   *   `userFeatures` and `itemFeatures` are refused: this model has no features.
   * @returns A new matrix with the sparsity pattern of `testInteractions`, ranks as values.
   * @throws Error before fit; TypeError for a wrong type or an unknown option; RangeError for
   *   a matrix of the wrong shape ("Expected testInteractions to have 943 rows (the model's
   *   users) but found 942") or test entries that are also training entries.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { AlternatingLeastSquares, CsrMatrix } from "../../mod.ts";
   * const model = new AlternatingLeastSquares({ factors: 1 });
   * // One user (factor 1) and four items scoring 4, 3, 2, 1.
   * model.assignFactors({ data: Float32Array.of(1), shape: [1, 1] }, {
   *   data: Float32Array.of(4, 3, 2, 1),
   *   shape: [4, 1],
   * });
   * const test = CsrMatrix.fromCoo({ rows: [0, 0], cols: [1, 3], shape: [1, 4] });
   * deepStrictEqual(model.predictRank(test).data, Float32Array.of(1, 3));
   * // Item 0 is a training item: it is never counted.
   * const train = CsrMatrix.fromCoo({ rows: [0], cols: [0], shape: [1, 4] });
   * deepStrictEqual(model.predictRank(test, { trainInteractions: train }).data, Float32Array.of(0, 2));
   * ```
   */
  predictRank(testInteractions: CsrMatrix, options: PredictRankOptions = {}): CsrMatrix {
    this.requireFitted("predictRank()");
    const given = knownOptions("predictRank()", options, PREDICT_RANK_OPTIONS);
    for (const name of ["userFeatures", "itemFeatures"] as const) {
      if (given[name] !== undefined) {
        throw new TypeError(
          `Expected ${name} to be undefined (${this.constructor.name} has no features) but found ${
            describe(given[name])
          }`,
        );
      }
    }
    return this.rankInteractions(
      { users: this.userData, items: this.itemData, columns: this.rank },
      testInteractions,
      given,
    );
  }

  /**
   * `predictRank` over given factor rows: the model's own, or rows a model
   * computed for one call (a hybrid model's representations of the feature
   * matrices it was passed).
   *
   * @param factors The user and item rows whose dot products are the scores.
   * @param testInteractions `[users, items]` of `factors`; each stored entry is ranked.
   * @param given The checked options: `trainInteractions` and `checkIntersections`.
   * @param whose Whose users and items the rows are, for messages.
   */
  protected rankInteractions(
    factors: QueryFactors,
    testInteractions: CsrMatrix,
    given: PredictRankOptions,
    whose = "the model's",
  ): CsrMatrix {
    const { users, items, columns } = factors;
    const [nUsers, nItems] = [users.length / columns, items.length / columns];
    const check = given.checkIntersections === undefined ||
      booleanOption("checkIntersections", given.checkIntersections);
    checkInteractions("testInteractions", testInteractions, nUsers, nItems, whose);
    const train = given.trainInteractions;
    if (train !== undefined) {
      checkInteractions("trainInteractions", train, nUsers, nItems, whose);
      if (check) checkNoIntersections(testInteractions, train);
    }
    return factorRanks(users, items, columns, testInteractions, train);
  }

  /**
   * The rows `similarItems` and `similarUsers` compare by cosine: the factor
   * rows themselves here; a model whose rows carry bias columns may leave
   * them out.
   *
   * @param side Which side's rows.
   * @returns The rows and their columns.
   */
  protected similarityFactors(side: "users" | "items"): FactorMatrix {
    const data = side === "users" ? this.userData : this.itemData;
    return { data, shape: [data.length / this.rank, this.rank] };
  }

  /**
   * Cosine top-k of rows of a normalized factor matrix against all its rows.
   *
   * @param index The cosine index to go through, or undefined for the exact path.
   * @param normalized Rows scaled to unit norm (`normalizeRows`).
   * @param ids The query rows.
   * @param idName The name of `ids` for messages, e.g. `"itemid"`.
   * @param what The plural noun of the rows, e.g. `"items"`.
   * @param n Results per query.
   * @param filter Ids never returned, and its name.
   * @param subset The only ids ranked when given, and its name.
   * @param precision The exact path's arithmetic.
   */
  protected similar(
    index: AnnIndex | undefined,
    normalized: FactorMatrix,
    ids: Ids,
    idName: string,
    what: string,
    n: number | undefined,
    filter: ArrayLike<number> | undefined,
    filterName: string,
    subset: ArrayLike<number> | undefined,
    subsetName: string,
    precision: Precision = "auto",
    role?: "items" | "users",
  ): Ranked | RankedBatch {
    const [count, columns] = normalized.shape;
    const queries = idsInRange(idName, ids, count, what);
    const candidates = candidateList(subsetName, subset, count, what);
    const name = what === "users" ? "userFactors" : "itemFactors";
    const k = resultCount(n, candidates, count);
    const mask = idMask(filterName, filter, count, what);
    const rows = gatherRows(normalized.data, columns, queries);
    const batch = index !== undefined ? index.rankRows(rows, k, { mask, candidates }) : topKDot({
      queries: rows,
      names: { queries: name, targets: name, target: what.slice(0, -1) },
      targets: normalized.data,
      factors: columns,
      k,
      mask,
      candidates,
      precision,
      gpu: role === undefined ? undefined : this.gpuTargets(role, normalized, k),
    });
    return typeof ids === "number" ? firstRow(batch) : batch;
  }

  /** The factor matrices, `userFactors` and `itemFactors`. */
  protected stateArrays(): Record<string, TacitArray> {
    return {
      userFactors: { array: this.userData, shape: [this.nUsers, this.rank] },
      itemFactors: { array: this.itemData, shape: [this.nItems, this.rank] },
    };
  }

  /**
   * Writes the model as `Model.save` does, after refusing factors of another
   * width than the options give (assigned factors): `load` would refuse the file.
   */
  override async save(path: string): Promise<void> {
    this.requireFitted("save()");
    const { columns, rule } = this.fittedColumns();
    if (this.rank !== columns) {
      throw new RangeError(
        `Expected the factors to have ${columns} columns (${rule}) to save them but found ${this.rank}: build the model with options that give ${this.rank} columns, then assign the factors`,
      );
    }
    await super.save(path);
  }

  /**
   * Takes `userFactors` and `itemFactors`, checked as `fit`'s results: float32
   * `[rows >= 1, columns]` with the columns the params give, and finite.
   */
  protected restoreState(file: TacitFile, path: string): void {
    const users = storedFactors(file, "userFactors", path);
    const items = storedFactors(file, "itemFactors", path);
    if (items.shape[1] !== users.shape[1]) {
      throw new TacitFileError(
        `Expected userFactors and itemFactors in ${path} to have the same number of factors but found ${
          users.shape[1]
        } and ${items.shape[1]}`,
        path,
      );
    }
    const { columns, rule } = this.fittedColumns();
    if (users.shape[1] !== columns) {
      throw new TacitFileError(
        `Expected arrays 'userFactors' and 'itemFactors' in ${path} to have ${columns} columns (${rule}, from the params) but found ${
          users.shape[1]
        }`,
        path,
      );
    }
    this.setFactors(users.data, items.data, columns);
  }
}

/** A factor matrix with every row scaled to unit L2 norm. */
export function normalizedFactors(matrix: FactorMatrix): FactorMatrix {
  return { data: normalizeRows(matrix.data, matrix.shape[1]), shape: matrix.shape };
}

/**
 * A float32 `[rows >= 1, factors >= 1]` matrix of a file whose values are all
 * finite, as every fit's factors are ({@link assertFiniteFactors}).
 */
function storedFactors(file: TacitFile, name: string, path: string): FactorMatrix {
  const data = inFile(path, () => expectArray(file, name, "f32"));
  const shape = file.arrays[name]!.shape;
  if (shape.length !== 2 || shape[0]! < 1 || shape[1]! < 1) {
    throw new TacitFileError(
      `Expected array '${name}' in ${path} to have shape [rows >= 1, factors >= 1] but found [${shape}]`,
      path,
    );
  }
  if (nonFiniteCount(data) > 0) {
    const k = data.findIndex((v) => !Number.isFinite(v));
    const columns = shape[1]!;
    throw new TacitFileError(
      `Expected array '${name}' in ${path} to hold finite factors but found ${data[k]} at [${
        Math.floor(k / columns)
      }, ${k % columns}]`,
      path,
    );
  }
  return { data, shape: [shape[0]!, shape[1]!] };
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

/**
 * Refuses factors with a NaN or infinite value, so a diverged fit never
 * replaces a model's factors.
 *
 * @param model The model's name for the message, e.g. "ALS".
 * @param side Which factors these are.
 * @param factors The factors a fit computed.
 * @param advice What the user can change.
 * @throws RangeError counting the non-finite values.
 */
export function assertFiniteFactors(
  model: string,
  side: "user" | "item",
  factors: Float32Array,
  advice: string,
): void {
  const count = nonFiniteCount(factors);
  if (count > 0) {
    throw new RangeError(
      `${model} produced ${count} non-finite ${side} factor values; the model was left unchanged. ${advice}`,
    );
  }
}

/** How many values of `values` are NaN or infinite (counted natively). */
export function nonFiniteCount(values: Float32Array): number {
  const count = new Int32Array(1);
  callNative("tacit_count_nonfinite", { values, len: values.length, out_count: count });
  return count[0]!;
}
