/**
 * Dense ids inside, your ids outside: `IdMap` turns external user and item ids
 * (strings or numbers) into the dense `0..n-1` ids every model and kernel
 * uses, and back; `Dataset` holds one map for users and one for items and
 * builds the interaction matrix; with a feature map per side (identity
 * features first, then named features) it builds the user and item feature
 * matrices too, as LightFM's `Dataset` does.
 *
 * **One id, one key.** An external id is a string or a finite number, and its
 * key is its string form (`String(id)`), so `7` and `"7"` are the same id
 * (and `-0` is `0`, `7.0` is `7`). An id is remembered as it was first given:
 * `external()` returns `7` when the map first saw the number 7, `"7"` when it
 * first saw the string. NaN, ±Infinity and other types are refused.
 *
 * @module
 */
import { CsrMatrix, DuplicateOverflowError, MAX_NNZ } from "./sparse.ts";
import type { Shape } from "./sparse.ts";
import {
  booleanOption,
  describe,
  FLOAT32_MAX,
  knownOptions,
  oneOf,
  optionalBoolean,
  quote,
} from "./validate.ts";

/** An external id: a string, or a finite number (the same id as its string form). */
export type ExternalId = string | number;

/** How a `fit` numbers the new ids it sees. */
export type IdOrder = "first-seen" | "sorted";

/** Options of the {@link IdMap} constructor. */
export interface IdMapOptions {
  /**
   * `"first-seen"` (default): new ids get dense ids in the order they appear.
   * `"sorted"`: the new ids of one `fit` / `fitPartial` call are numbered in
   * ascending order, numbers (numerically) before strings (by UTF-16 code
   * units); ids known before the call keep their dense ids.
   */
  order?: IdOrder;
  /** What the ids are, for error messages: `"user"` gives "Unknown user id 'abc'" (default `""`). */
  name?: string;
}

/** What {@link IdMap.toJSON} writes and {@link IdMap.fromJSON} reads. */
export interface IdMapJSON {
  /** The map's {@link IdMapOptions.name}. */
  name: string;
  /** The map's {@link IdMapOptions.order}. */
  order: IdOrder;
  /** The external ids in dense-id order, as first given. */
  ids: ExternalId[];
}

/** Options of {@link IdMap.id}. */
export interface IdLookupOptions {
  /** `"error"` (default) throws a RangeError for an unknown id; `"undefined"` returns undefined. */
  unknown?: "error" | "undefined";
}

/**
 * A two-way map between external ids and dense ids `0..size-1`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, equal, throws } from "node:assert/strict";
 * import { IdMap } from "./dataset.ts";
 * const users = new IdMap({ name: "user" });
 * users.fit(["ann", "bob", "ann", 42]);
 * equal(users.size, 3);
 * equal(users.id("bob"), 1);
 * equal(users.id("42"), 2); // 42 and "42" are one id, remembered as the number 42
 * equal(users.external(2), 42);
 * users.fitPartial(["cy", "ann"]); // known ids keep their dense ids
 * deepStrictEqual(users.externals(), ["ann", "bob", 42, "cy"]);
 * equal(users.id("zed", { unknown: "undefined" }), undefined);
 * throws(() => users.id("zed"), { name: "RangeError", message: "Unknown user id 'zed'" });
 * // "sorted": numbers numerically, then strings.
 * deepStrictEqual(new IdMap({ order: "sorted" }).fit(["b", 10, "a", 2]).externals(), [2, 10, "a", "b"]);
 * ```
 */
export class IdMap implements Iterable<[ExternalId, number]> {
  /** How `fit` and `fitPartial` number new ids (see {@link IdMapOptions.order}). */
  readonly order: IdOrder;
  /** What the ids are, used in error messages (see {@link IdMapOptions.name}); `""` when unnamed. */
  readonly name: string;
  #dense = new Map<string, number>();
  /** Lookups of numbers that hit, keyed by the number itself: no string built per lookup. */
  #numeric = new Map<number, number>();
  #externals: ExternalId[] = [];

  /**
   * An empty map.
   *
   * @param options `order` (default `"first-seen"`) and `name` (default `""`); see {@link IdMapOptions}.
   * @throws TypeError / RangeError for an unknown order; TypeError for a name that is not a string.
   */
  constructor(options: IdMapOptions = {}) {
    checkKeys(options, ["order", "name"], "IdMap");
    this.order = oneOf("order", options.order ?? "first-seen", ["first-seen", "sorted"] as const);
    const name = options.name ?? "";
    if (typeof name !== "string") {
      throw new TypeError(`Expected name to be a string but found ${describe(name)}`);
    }
    this.name = name;
  }

  /** Number of known ids. */
  get size(): number {
    return this.#externals.length;
  }

  /**
   * Forgets every id, then numbers `ids` from 0 (see {@link fitPartial}).
   *
   * @param ids External ids; repeats are allowed.
   * @returns `this`.
   * @throws TypeError when `ids` is a string or not iterable; TypeError / RangeError naming the
   *   first bad entry, e.g. "Expected ids[3] to be a string or a finite number but found NaN";
   *   RangeError beyond {@link MAX_NNZ} ids. The map is then unchanged.
   */
  fit(ids: Iterable<ExternalId>): this {
    const next = new IdMap({ order: this.order, name: this.name }).fitPartial(ids);
    this.#dense = next.#dense;
    this.#numeric = next.#numeric;
    this.#externals = next.#externals;
    return this;
  }

  /**
   * Adds the ids the map does not know yet, after the known ones, which keep
   * their dense ids. In `"sorted"` order the new ids of this call are sorted
   * among themselves.
   *
   * @param ids External ids; repeats and known ids are allowed.
   * @returns `this`.
   * @throws TypeError when `ids` is a string or not iterable; TypeError / RangeError naming the
   *   first bad entry; RangeError beyond {@link MAX_NNZ} ids. The map is then unchanged.
   */
  fitPartial(ids: Iterable<ExternalId>): this {
    if (typeof ids === "string") {
      throw new TypeError(
        `Expected ids to be an iterable of ids but found ${describe(ids)}; wrap one id in an array`,
      );
    }
    if (typeof (ids as { [Symbol.iterator]?: unknown } | null)?.[Symbol.iterator] !== "function") {
      throw new TypeError(`Expected ids to be an iterable of ids but found ${describe(ids)}`);
    }
    const fresh = new Map<string, ExternalId>();
    // Numbers already handled in this call: a repeated number costs no String().
    const numbers = new Set<number>();
    let k = 0;
    for (const id of ids) {
      if (typeof id === "number" && id - id === 0) {
        if (numbers.has(id)) {
          k++;
          continue;
        }
        numbers.add(id);
      }
      const key = keyOf(id, "ids", k++);
      if (!this.#dense.has(key) && !fresh.has(key)) fresh.set(key, id);
    }
    const added = [...fresh.values()];
    if (this.order === "sorted") added.sort(compareIds);
    if (this.size + added.length > MAX_NNZ) {
      throw new RangeError(`Expected at most ${MAX_NNZ} ids but found ${this.size + added.length}`);
    }
    for (const id of added) this.#append(String(id), id);
    return this;
  }

  /**
   * The dense id of a known external id.
   *
   * @param external A known external id (`7` and `"7"` are the same id).
   * @returns The dense id in `[0, size)`.
   * @throws RangeError "Unknown user id 'abc'" for an unknown id; TypeError for a value that
   *   is neither a string nor a number, RangeError for NaN or ±Infinity.
   */
  id(external: ExternalId): number;
  /**
   * The dense id of an external id, or undefined when the map does not know it.
   *
   * @param external An external id (`7` and `"7"` are the same id).
   * @param options `{ unknown: "undefined" }`.
   * @returns The dense id in `[0, size)`, or undefined for an unknown id.
   * @throws TypeError / RangeError for a value that cannot be an id.
   */
  id(external: ExternalId, options: { unknown: "undefined" }): number | undefined;
  /**
   * The dense id of an external id; what an unknown id gives depends on `options.unknown`.
   *
   * @param external An external id (`7` and `"7"` are the same id).
   * @param options `unknown`: `"error"` (default) throws for an unknown id, `"undefined"` returns undefined.
   * @returns The dense id in `[0, size)`, or undefined for an unknown id with `unknown: "undefined"`.
   * @throws RangeError for an unknown id with `unknown: "error"`, or for an unknown id and an
   *   `unknown` that is neither; TypeError / RangeError for a value that cannot be an id.
   */
  id(external: ExternalId, options?: IdLookupOptions): number | undefined;
  id(external: ExternalId, options: IdLookupOptions = {}): number | undefined {
    checkKeys(options, ["unknown"], "IdMap.id()");
    const dense = this.#lookup(external);
    if (dense >= 0) return dense;
    if (dense === INVALID) keyOf(external, "external", -1); // throws
    const unknown = oneOf("unknown", options.unknown ?? "error", ["error", "undefined"] as const);
    if (unknown === "undefined") return undefined;
    throw new RangeError(`Unknown ${this.#noun()} ${quote(external)}`);
  }

  /**
   * The dense id of `external`, adding it after the known ids when new (in
   * first-seen order, whatever the map's order): a one-pass builder for loaders.
   *
   * @param external A string or a finite number.
   * @returns Its dense id.
   * @throws TypeError / RangeError for a value that cannot be an id.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { IdMap } from "./dataset.ts";
   * const artists = new IdMap({ name: "item", order: "sorted" });
   * const dense = ["cure", "abba", "cure", "bach"].map((a) => artists.intern(a));
   * deepStrictEqual(dense, [0, 1, 0, 2]); // first-seen, even in a "sorted" map
   * ```
   */
  intern(external: ExternalId): number {
    const dense = this.resolve(external, true);
    if (dense === INVALID) keyOf(external, "external", -1); // throws
    return dense;
  }

  /**
   * Whether `external` is a known id.
   *
   * @param external Any value; one that cannot be an id gives false rather than an error.
   * @returns True when {@link id} would find it.
   */
  has(external: ExternalId): boolean {
    return this.#lookup(external) >= 0;
  }

  /**
   * The external id of a dense id, as first given to the map.
   *
   * @param dense An integer in `[0, size)`.
   * @returns The external id, a string or a number as it was first given.
   * @throws TypeError when `dense` is not a number; RangeError when it is out of range,
   *   e.g. "dense user id 5 is out of range for a map of 3 ids".
   */
  external(dense: number): ExternalId {
    if (typeof dense !== "number") {
      throw new TypeError(
        `Expected a dense ${this.#noun()} to be an integer but found ${describe(dense)}`,
      );
    }
    if (!Number.isInteger(dense) || dense < 0 || dense >= this.size) {
      throw new RangeError(
        `dense ${this.#noun()} ${quote(dense)} is out of range for a map of ${this.size} ids`,
      );
    }
    return this.#externals[dense]!;
  }

  /** The external ids in dense-id order (a copy). */
  externals(): ExternalId[] {
    return this.#externals.slice();
  }

  /** `[external, dense]` pairs in dense-id order. */
  *entries(): IterableIterator<[ExternalId, number]> {
    for (let d = 0; d < this.#externals.length; d++) yield [this.#externals[d]!, d];
  }

  /** The same pairs as {@link entries}: `for (const [external, dense] of map)`. */
  [Symbol.iterator](): IterableIterator<[ExternalId, number]> {
    return this.entries();
  }

  /**
   * A plain object for `JSON.stringify`, to save beside a model.
   *
   * @returns `{ name, order, ids }`, `ids` a copy in dense-id order; {@link fromJSON} reads it back.
   * @example
   * ```ts
   * import { deepStrictEqual, equal } from "node:assert/strict";
   * import { IdMap } from "./dataset.ts";
   * const items = new IdMap({ name: "item" }).fit([7, "x"]);
   * equal(JSON.stringify(items), '{"name":"item","order":"first-seen","ids":[7,"x"]}');
   * deepStrictEqual(IdMap.fromJSON(JSON.parse(JSON.stringify(items))).externals(), [7, "x"]);
   * ```
   */
  toJSON(): IdMapJSON {
    return { name: this.name, order: this.order, ids: this.#externals.slice() };
  }

  /**
   * Rebuilds a map saved by {@link toJSON} (after `JSON.parse`): dense id k is `ids[k]`.
   *
   * @param json An {@link IdMapJSON}; `name` defaults to `""` and `order` to `"first-seen"`.
   * @returns A new map.
   * @throws TypeError / RangeError for a malformed object, a bad id or a repeated id,
   *   e.g. "Expected ids[4] = '7' to be unique but it repeats ids[1]".
   */
  static fromJSON(json: unknown): IdMap {
    if (json === null || typeof json !== "object" || Array.isArray(json)) {
      throw new TypeError(`Expected an IdMap JSON object but found ${describe(json)}`);
    }
    const { name, order, ids } = json as Partial<IdMapJSON>;
    if (!Array.isArray(ids)) {
      throw new TypeError(`Expected ids to be an array but found ${describe(ids)}`);
    }
    const map = new IdMap({ name: name ?? "", order: order ?? "first-seen" });
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k] as ExternalId;
      const key = keyOf(id, "ids", k);
      const seen = map.#dense.get(key);
      if (seen !== undefined) {
        throw new RangeError(
          `Expected ids[${k}] = ${quote(id)} to be unique but it repeats ids[${seen}]`,
        );
      }
      map.#append(key, id);
    }
    return map;
  }

  /**
   * Dense id of `id`, adding it when unknown and `add` is set; otherwise -1
   * when unknown, -2 when `id` cannot be an id. No allocation for a known id:
   * the hot loop of {@link Dataset.buildInteractions}, which words the errors.
   * @internal
   */
  resolve(id: unknown, add: boolean): number {
    const dense = this.#lookup(id);
    if (dense !== UNKNOWN || !add) return dense;
    if (this.size >= MAX_NNZ) throw new RangeError(`Expected at most ${MAX_NNZ} ids`);
    return this.#append(String(id), id as ExternalId);
  }

  /** Dense id, or UNKNOWN, or INVALID for a value that cannot be an id. */
  #lookup(id: unknown): number {
    if (typeof id === "string") return this.#dense.get(id) ?? UNKNOWN;
    if (typeof id === "number" && id - id === 0) {
      const hit = this.#numeric.get(id);
      if (hit !== undefined) return hit;
      const dense = this.#dense.get(String(id));
      if (dense === undefined) return UNKNOWN;
      this.#numeric.set(id, dense);
      return dense;
    }
    return INVALID;
  }

  #append(key: string, id: ExternalId): number {
    const dense = this.#externals.length;
    this.#dense.set(key, dense);
    this.#externals.push(id === 0 ? 0 : id); // -0 is stored as 0
    return dense;
  }

  #noun(): string {
    return this.name === "" ? "id" : `${this.name} id`;
  }
}

const UNKNOWN = -1;
const INVALID = -2;

/** The key of an external id, or a TypeError / RangeError naming `what[index]` (`what` alone when index < 0). */
function keyOf(id: unknown, what: string, index: number): string {
  if (typeof id === "string") return id;
  const where = index < 0 ? what : `${what}[${index}]`;
  if (typeof id === "number") {
    if (Number.isFinite(id)) return String(id);
    throw new RangeError(
      `Expected ${where} to be a string or a finite number but found ${describe(id)}`,
    );
  }
  throw new TypeError(
    `Expected ${where} to be a string or a finite number but found ${describe(id)}`,
  );
}

/** Numbers (numerically) before strings (by UTF-16 code units). */
function compareIds(a: ExternalId, b: ExternalId): number {
  if (typeof a === "number") return typeof b === "number" ? a - b : -1;
  if (typeof b === "number") return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One interaction: `[user, item]` (weight 1) or `[user, item, weight]`. */
export type Interaction = readonly [user: ExternalId, item: ExternalId, weight?: number];

/** Interactions as parallel columns: no array per row, for large inputs. */
export interface InteractionColumns {
  /** The user of each interaction. */
  users: ArrayLike<ExternalId>;
  /** The item of each interaction, as many as `users`. */
  items: ArrayLike<ExternalId>;
  /** The weight of each interaction (finite in float32), as many as `users`. Defaults to 1 for every interaction. */
  weights?: ArrayLike<number>;
}

/** Options of the {@link Dataset} constructor; unknown keys are refused. */
export interface DatasetOptions {
  /** How `fit` numbers new user and item ids and feature names (see {@link IdMapOptions.order}), `"first-seen"` by default. */
  order?: IdOrder;
  /**
   * Whether every user is also a user feature of its own (default true), as LightFM's
   * `user_identity_features`: each user gets a latent vector of its own besides those of its
   * named features. Turn it off when users have too few interactions to learn one.
   */
  userIdentityFeatures?: boolean;
  /** Whether every item is also an item feature of its own (default true); see {@link userIdentityFeatures}. */
  itemIdentityFeatures?: boolean;
}

/** Options of {@link Dataset.fit} and {@link Dataset.fitPartial}; unknown keys are refused. */
export interface DatasetFitOptions {
  /** User feature names to register, after the users' identity features; repeats allowed. */
  userFeatures?: Iterable<ExternalId>;
  /** Item feature names to register, after the items' identity features; repeats allowed. */
  itemFeatures?: Iterable<ExternalId>;
}

/** Options of {@link Dataset.buildInteractions} and {@link Dataset.buildInteractionsAndWeights}. */
export interface BuildInteractionsOptions {
  /**
   * `"error"` (default): an unknown user or item id throws, naming the row.
   * `"add"`: it is added to its map on the fly (in first-seen order, whatever the map's order),
   * with its identity feature when the dataset has identity features.
   */
  unknown?: "error" | "add";
}

/** What {@link Dataset.buildInteractionsAndWeights} returns: two matrices of one sparsity pattern. */
export interface InteractionsAndWeights {
  /** 1 at every (user, item) with at least one interaction. */
  interactions: CsrMatrix;
  /** The weights of each (user, item), repeats summed; the same `indptr` and `indices` as `interactions`. */
  weights: CsrMatrix;
}

/**
 * The features of one user or item: feature names (weight 1 each; a repeated name adds up),
 * or feature name → weight as a plain object or a Map. Weights are finite in float32 and
 * not negative.
 */
export type FeatureWeights =
  | Iterable<ExternalId>
  | Readonly<Record<string, number>>
  | ReadonlyMap<ExternalId, number>;

/** One row of {@link Dataset.buildUserFeatures} / {@link Dataset.buildItemFeatures}: `[id, features]`. */
export type FeatureRow = readonly [id: ExternalId, features: FeatureWeights];

/** Options of {@link Dataset.buildUserFeatures} and {@link Dataset.buildItemFeatures}; unknown keys are refused. */
export interface BuildFeaturesOptions {
  /**
   * Divide every row by its sum, so its weights sum to 1 (default true), as LightFM's
   * `normalize`. A row with no entry at all is then an error; a row whose entries are all 0
   * stays 0.
   */
  normalize?: boolean;
}

/** What {@link Dataset.toJSON} writes and {@link Dataset.fromJSON} reads. */
export interface DatasetJSON {
  /** The user map, as {@link IdMap.toJSON} writes it. */
  users: IdMapJSON;
  /** The item map, as {@link IdMap.toJSON} writes it. */
  items: IdMapJSON;
  /** The user feature map; absent in JSON written before features, read then as the users' identity features. */
  userFeatures?: IdMapJSON;
  /** The item feature map; absent in JSON written before features, read then as the items' identity features. */
  itemFeatures?: IdMapJSON;
  /** {@link DatasetOptions.userIdentityFeatures}; true when absent. */
  userIdentityFeatures?: boolean;
  /** {@link DatasetOptions.itemIdentityFeatures}; true when absent. */
  itemIdentityFeatures?: boolean;
}

/** One side of a dataset, for the code that users and items share. */
interface Side {
  readonly noun: "user" | "item";
  readonly ids: IdMap;
  readonly features: IdMap;
  readonly identity: boolean;
}

/**
 * User and item id maps, user and item feature maps, and the interaction and
 * feature matrices built through them, as LightFM's `Dataset`.
 *
 * **Identity features.** With `userIdentityFeatures` (the default) every user
 * is also a user feature, keyed by its id in {@link userFeatures}; likewise for
 * items. `fit` registers the users before the named user features, so user
 * `d`'s identity feature is feature `d` and the named features follow. A later
 * {@link fitPartial} appends: new users' identity features come after the
 * features known so far, which keep their ids (so a fitted model only needs
 * to grow). As in LightFM, identity features and names share one map: a
 * feature name equal to a user id (`7` or `"7"`) is that user's identity
 * feature.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, equal } from "node:assert/strict";
 * import { Dataset } from "./dataset.ts";
 * const dataset = new Dataset();
 * dataset.fit(["ann", "bob"], ["song-a", "song-b", "song-c"], { itemFeatures: ["rock", "jazz"] });
 * const plays = dataset.buildInteractions([["ann", "song-c", 3], ["bob", "song-a"], ["ann", "song-c"]]);
 * // ann = 0, bob = 1; song-a = 0, song-b = 1, song-c = 2; (ann, song-c) sums 3 + 1.
 * deepStrictEqual(plays.shape, [2, 3]);
 * deepStrictEqual(plays.toDense(), Float32Array.of(0, 0, 4, 1, 0, 0));
 * equal(dataset.externalItem(plays.indices[0]!), "song-c");
 * // Item features: the three items' identity features, then rock = 3, jazz = 4.
 * const tags = dataset.buildItemFeatures([["song-a", ["rock"]]], { normalize: false });
 * deepStrictEqual(tags.shape, [3, 5]);
 * deepStrictEqual(tags.row(0), { indices: Int32Array.of(0, 3), data: Float32Array.of(1, 1) });
 * equal(dataset.itemFeatures.external(3), "rock");
 * const restored = Dataset.fromJSON(JSON.parse(JSON.stringify(dataset)));
 * equal(restored.itemId("song-c"), 2);
 * equal(restored.itemFeatures.id("jazz"), 4);
 * ```
 */
export class Dataset {
  /** The user id map (named `"user"`): rows of the interaction and user feature matrices. */
  readonly users: IdMap;
  /** The item id map (named `"item"`): columns of the interaction matrix, rows of the item feature matrix. */
  readonly items: IdMap;
  /**
   * The user feature map (named `"user feature"`): columns of {@link buildUserFeatures}'
   * matrix. It holds the users' identity features (keyed by user id) and the named user
   * features; `userFeatures.external(k)` names column k.
   */
  readonly userFeatures: IdMap;
  /** The item feature map (named `"item feature"`): columns of {@link buildItemFeatures}' matrix; see {@link userFeatures}. */
  readonly itemFeatures: IdMap;
  /** Whether every user is also a user feature (see {@link DatasetOptions.userIdentityFeatures}). */
  readonly userIdentityFeatures: boolean;
  /** Whether every item is also an item feature (see {@link DatasetOptions.itemIdentityFeatures}). */
  readonly itemIdentityFeatures: boolean;

  /**
   * A dataset with four empty maps.
   *
   * @param options `order` for every map (default `"first-seen"`), `userIdentityFeatures` and
   *   `itemIdentityFeatures` (default true); see {@link DatasetOptions}.
   * @throws TypeError for an unknown key or a flag that is not a boolean; TypeError /
   *   RangeError for an unknown order.
   * @example
   * ```ts
   * import { deepStrictEqual, throws } from "node:assert/strict";
   * import { Dataset } from "./dataset.ts";
   * const dataset = new Dataset({ userIdentityFeatures: false });
   * dataset.fit(["ann", "bob"], ["x"], { userFeatures: ["young", "old"] });
   * deepStrictEqual(dataset.userFeaturesShape(), [2, 2]); // no identity columns
   * deepStrictEqual(dataset.itemFeaturesShape(), [1, 1]); // item x's identity feature
   * throws(() => new Dataset({ identityFeatures: false } as object), { name: "TypeError" });
   * ```
   */
  constructor(options: DatasetOptions = {}) {
    checkKeys(options, ["order", "userIdentityFeatures", "itemIdentityFeatures"], "Dataset");
    const order = options.order ?? "first-seen";
    this.users = new IdMap({ name: "user", order });
    this.items = new IdMap({ name: "item", order });
    this.userFeatures = new IdMap({ name: "user feature", order });
    this.itemFeatures = new IdMap({ name: "item feature", order });
    this.userIdentityFeatures = optionalBoolean(
      "userIdentityFeatures",
      options.userIdentityFeatures,
    ) ?? true;
    this.itemIdentityFeatures = optionalBoolean(
      "itemIdentityFeatures",
      options.itemIdentityFeatures,
    ) ?? true;
  }

  /**
   * Forgets every id and feature, then maps `users` and `items` (see {@link IdMap.fit}) and
   * registers the feature names of `options`, as LightFM's
   * `fit(users, items, user_features, item_features)`: each user's identity feature (when
   * on), then the named user features; the same for items.
   *
   * @param users External user ids; repeats allowed.
   * @param items External item ids; repeats allowed.
   * @param options `userFeatures` and `itemFeatures`, feature names; see {@link DatasetFitOptions}.
   * @returns `this`.
   * @throws TypeError / RangeError as {@link IdMap.fit}, the feature lists' errors naming
   *   `userFeatures[k]` / `itemFeatures[k]`; TypeError for an unknown option. Every list is
   *   checked before any map changes.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { Dataset } from "./dataset.ts";
   * const dataset = new Dataset().fit(["ann", "bob"], ["x", "y", "z"], {
   *   userFeatures: ["young", "old", "young"],
   * });
   * deepStrictEqual(dataset.userFeatures.externals(), ["ann", "bob", "young", "old"]);
   * deepStrictEqual(dataset.itemFeatures.externals(), ["x", "y", "z"]);
   * ```
   */
  fit(
    users: Iterable<ExternalId>,
    items: Iterable<ExternalId>,
    options: DatasetFitOptions = {},
  ): this {
    const plan = this.#plan(users, items, options, "fit");
    for (const map of [this.users, this.items, this.userFeatures, this.itemFeatures]) map.fit([]);
    this.#apply(plan);
    return this;
  }

  /**
   * Adds new users, items and feature names after the known ones, which keep their dense ids
   * (see {@link IdMap.fitPartial}), as LightFM's `fit_partial`. A new user's identity feature
   * (when on) is added after the user features known so far; then the new named features.
   *
   * @param users External user ids to add, or undefined to leave the users alone.
   * @param items External item ids to add, or undefined to leave the items alone.
   * @param options `userFeatures` and `itemFeatures` to add; see {@link DatasetFitOptions}.
   * @returns `this`.
   * @throws TypeError / RangeError as {@link fit}; every list is checked before any map changes.
   * @example
   * ```ts
   * import { deepStrictEqual, equal } from "node:assert/strict";
   * import { Dataset } from "./dataset.ts";
   * const dataset = new Dataset().fit(["ann"], ["x"], { userFeatures: ["young"] });
   * dataset.fitPartial(["bob", "ann"], undefined, { userFeatures: ["old"] });
   * // Known features keep their ids: bob's identity feature comes after "young".
   * deepStrictEqual(dataset.userFeatures.externals(), ["ann", "young", "bob", "old"]);
   * equal(dataset.userId("bob"), 1);
   * equal(dataset.userFeatures.id("bob"), 2);
   * ```
   */
  fitPartial(
    users?: Iterable<ExternalId>,
    items?: Iterable<ExternalId>,
    options: DatasetFitOptions = {},
  ): this {
    this.#apply(this.#plan(users, items, options, "fitPartial"));
    return this;
  }

  /**
   * `[users.size, items.size]`, the shape of {@link buildInteractions}' matrix.
   *
   * @returns The shape, as LightFM's `interactions_shape()`.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { Dataset } from "./dataset.ts";
   * deepStrictEqual(new Dataset().fit(["a", "b"], [1, 2, 3]).interactionsShape(), [2, 3]);
   * ```
   */
  interactionsShape(): Shape {
    return [this.users.size, this.items.size];
  }

  /**
   * `[users.size, userFeatures.size]`, the shape of {@link buildUserFeatures}' matrix
   * (identity features included), as LightFM's `user_features_shape()`.
   *
   * @returns The shape.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { Dataset } from "./dataset.ts";
   * const dataset = new Dataset().fit(["a", "b"], [1], { userFeatures: ["f"] });
   * deepStrictEqual(dataset.userFeaturesShape(), [2, 3]); // a, b, then f
   * ```
   */
  userFeaturesShape(): Shape {
    return [this.users.size, this.userFeatures.size];
  }

  /**
   * `[items.size, itemFeatures.size]`, the shape of {@link buildItemFeatures}' matrix
   * (identity features included), as LightFM's `item_features_shape()`.
   *
   * @returns The shape.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { Dataset } from "./dataset.ts";
   * const dataset = new Dataset({ itemIdentityFeatures: false });
   * dataset.fit(["a"], [1, 2], { itemFeatures: ["red", "blue", "green"] });
   * deepStrictEqual(dataset.itemFeaturesShape(), [2, 3]);
   * ```
   */
  itemFeaturesShape(): Shape {
    return [this.items.size, this.itemFeatures.size];
  }

  /**
   * Dense id of a known user; see {@link IdMap.id}.
   *
   * @throws RangeError "Unknown user id 'abc'" for an unknown user.
   */
  userId(external: ExternalId): number {
    return this.users.id(external);
  }

  /**
   * Dense id of a known item; see {@link IdMap.id}.
   *
   * @throws RangeError "Unknown item id 'abc'" for an unknown item.
   */
  itemId(external: ExternalId): number {
    return this.items.id(external);
  }

  /**
   * External id of a dense user id; see {@link IdMap.external}.
   *
   * @throws RangeError when `dense` is not an integer in `[0, users.size)`.
   */
  externalUser(dense: number): ExternalId {
    return this.users.external(dense);
  }

  /**
   * External id of a dense item id; see {@link IdMap.external}.
   *
   * @throws RangeError when `dense` is not an integer in `[0, items.size)`.
   */
  externalItem(dense: number): ExternalId {
    return this.items.external(dense);
  }

  /**
   * The users × items matrix of the given interactions, duplicates summed: the `weights` of
   * {@link buildInteractionsAndWeights}, kept as it was before that method existed. Rows are
   * accumulated in growable typed arrays, so 17.5M interactions need no object per row beyond
   * what the caller's iterable yields (and none at all with {@link InteractionColumns}).
   *
   * @param interactions `[user, item]` or `[user, item, weight]` rows (weight 1 when left out),
   *   or parallel columns `{ users, items, weights? }`.
   * @param options `unknown: "add"` to add unknown ids instead of throwing (default `"error"`).
   * @returns A CsrMatrix of shape {@link interactionsShape} (taken after any ids were added),
   *   float32 weights, duplicates summed.
   * @throws RangeError naming the row for an unknown id ("Unknown user id 'abc' in
   *   interactions[12]") or a weight that is not finite in float32; TypeError for a malformed row
   *   or columns of different lengths. With `unknown: "add"`, ids added before the error stay.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { Dataset } from "./dataset.ts";
   * const dataset = new Dataset().fit(["ann"], ["x", "y"]);
   * const m = dataset.buildInteractions({ users: ["ann", "ann"], items: ["y", "y"], weights: [2, 5] });
   * deepStrictEqual(m.toDense(), Float32Array.of(0, 7));
   * ```
   */
  buildInteractions(
    interactions: Iterable<Interaction> | InteractionColumns,
    options: BuildInteractionsOptions = {},
  ): CsrMatrix {
    return this.#buildWeights(interactions, options);
  }

  /**
   * The interaction matrix and its weights, as LightFM's `build_interactions`, which returns
   * the pair `(interactions, weights)`; a method of its own so that {@link buildInteractions}
   * keeps returning one matrix. LightFM keeps a repeated (user, item) as repeated COO entries,
   * each 1 in `interactions` and its weight in `weights`, and a LightFM fit adds up what each
   * contributes; tacit stores each (user, item) once: 1 in `interactions` and the sum of its
   * weights in `weights`. Both matrices have one sparsity pattern (they share their `indptr`
   * and `indices` arrays), the one a `sampleWeight` must have: a (user, item) whose weights
   * sum to 0 is still stored, in both.
   *
   * @param interactions As {@link buildInteractions}.
   * @param options As {@link buildInteractions}.
   * @returns `{ interactions, weights }`, both of shape {@link interactionsShape}.
   * @throws As {@link buildInteractions}.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { Dataset } from "./dataset.ts";
   * const dataset = new Dataset().fit(["ann", "bob"], ["x", "y"]);
   * const { interactions, weights } = dataset.buildInteractionsAndWeights([
   *   ["ann", "y", 2],
   *   ["bob", "x"],
   *   ["ann", "y", 0.5],
   * ]);
   * deepStrictEqual(interactions.toDense(), Float32Array.of(0, 1, 1, 0));
   * deepStrictEqual(weights.toDense(), Float32Array.of(0, 2.5, 1, 0));
   * deepStrictEqual(weights.indices, interactions.indices);
   * ```
   */
  buildInteractionsAndWeights(
    interactions: Iterable<Interaction> | InteractionColumns,
    options: BuildInteractionsOptions = {},
  ): InteractionsAndWeights {
    const weights = this.#buildWeights(interactions, options);
    return { interactions: weights.withData(new Float32Array(weights.nnz).fill(1)), weights };
  }

  /**
   * The users × user features matrix, as LightFM's `build_user_features`: every user is a row
   * (also users no row mentions), every user feature a column ({@link userFeaturesShape}).
   * With identity features each user has 1 in its identity column; each row then adds its
   * named features (1 each for a list of names, or the given weights), repeats summed (a user
   * in two rows, a name twice, a name that is an identity feature). With `normalize` (the
   * default) each matrix row is then divided by its sum (in float64, stored in float32), as
   * LightFM's row L1 normalisation; a row whose entries are all 0 stays 0, and a user with
   * no entry at all (possible without identity features) is an error.
   *
   * @param rows `[user, features]` rows; see {@link FeatureRow}.
   * @param options `normalize` (default true); see {@link BuildFeaturesOptions}.
   * @returns A CsrMatrix of shape {@link userFeaturesShape}.
   * @throws RangeError naming the row for an unknown user ("Unknown user id 'zed' in rows[2]")
   *   or an unknown feature ("Unknown user feature 'tall' in rows[2] (user 'ann'); ..."), a
   *   weight that is negative or not finite in float32, and with `normalize` a user with no
   *   entry; TypeError for a malformed row, a weight that is not a number or an unknown option.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { Dataset } from "./dataset.ts";
   * const dataset = new Dataset().fit(["ann", "bob"], ["x"], { userFeatures: ["young", "city"] });
   * // Columns: ann, bob (identity), young, city.
   * const features = dataset.buildUserFeatures([["ann", ["young", "city"]], ["bob", { city: 3 }]]);
   * deepStrictEqual(features.toDense(), Float32Array.of(1 / 3, 0, 1 / 3, 1 / 3, 0, 0.25, 0, 0.75));
   * const raw = dataset.buildUserFeatures([["bob", { city: 3 }]], { normalize: false });
   * deepStrictEqual(raw.toDense(), Float32Array.of(1, 0, 0, 0, 0, 1, 0, 3));
   * ```
   */
  buildUserFeatures(rows: Iterable<FeatureRow>, options: BuildFeaturesOptions = {}): CsrMatrix {
    return buildFeatures(this.#side("user"), rows, options, "buildUserFeatures");
  }

  /**
   * The items × item features matrix, as LightFM's `build_item_features`: the same rules as
   * {@link buildUserFeatures}, for items.
   *
   * @param rows `[item, features]` rows; see {@link FeatureRow}.
   * @param options `normalize` (default true); see {@link BuildFeaturesOptions}.
   * @returns A CsrMatrix of shape {@link itemFeaturesShape}.
   * @throws As {@link buildUserFeatures}, for items.
   * @example
   * ```ts
   * import { deepStrictEqual, throws } from "node:assert/strict";
   * import { Dataset } from "./dataset.ts";
   * const dataset = new Dataset({ itemIdentityFeatures: false });
   * dataset.fit(["ann"], ["x", "y"], { itemFeatures: ["rock", "jazz"] });
   * const tags = dataset.buildItemFeatures([["x", new Map([["rock", 1], ["jazz", 3]])], ["y", ["jazz"]]]);
   * deepStrictEqual(tags.toDense(), Float32Array.of(0.25, 0.75, 0, 1));
   * // Without identity features, an item with no feature cannot be normalised.
   * throws(() => dataset.buildItemFeatures([["x", ["rock"]]]), { name: "RangeError", message: /item 'y'/ });
   * ```
   */
  buildItemFeatures(rows: Iterable<FeatureRow>, options: BuildFeaturesOptions = {}): CsrMatrix {
    return buildFeatures(this.#side("item"), rows, options, "buildItemFeatures");
  }

  /**
   * A plain object for `JSON.stringify`: the four maps and the identity flags.
   *
   * @returns `{ users, items, userFeatures, itemFeatures, userIdentityFeatures,
   *   itemIdentityFeatures }`, the maps as {@link IdMap.toJSON} writes them.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { Dataset } from "./dataset.ts";
   * const json = new Dataset({ itemIdentityFeatures: false }).fit([1], ["x"], { itemFeatures: ["red"] }).toJSON();
   * deepStrictEqual(json.userFeatures?.ids, [1]);
   * deepStrictEqual(json.itemFeatures?.ids, ["red"]);
   * deepStrictEqual([json.userIdentityFeatures, json.itemIdentityFeatures], [true, false]);
   * ```
   */
  toJSON(): DatasetJSON {
    return {
      users: this.users.toJSON(),
      items: this.items.toJSON(),
      userFeatures: this.userFeatures.toJSON(),
      itemFeatures: this.itemFeatures.toJSON(),
      userIdentityFeatures: this.userIdentityFeatures,
      itemIdentityFeatures: this.itemIdentityFeatures,
    };
  }

  /**
   * Rebuilds a dataset saved by {@link toJSON} (after `JSON.parse`); the maps are named
   * `"user"`, `"item"`, `"user feature"` and `"item feature"` whatever the saved names. JSON
   * written before features (only `users` and `items`) still loads: identity features on, and
   * feature maps holding the identity features alone, in dense-id order.
   *
   * @param json A {@link DatasetJSON}.
   * @returns A new dataset.
   * @throws TypeError / RangeError for a malformed object (see {@link IdMap.fromJSON}), a flag
   *   that is not a boolean, or, with identity features, a user (item) missing from the user
   *   (item) feature map.
   * @example
   * ```ts
   * import { deepStrictEqual, equal } from "node:assert/strict";
   * import { Dataset } from "./dataset.ts";
   * const old = Dataset.fromJSON({ users: { ids: ["ann", "bob"] }, items: { ids: [7] } });
   * deepStrictEqual(old.userFeaturesShape(), [2, 2]);
   * equal(old.userFeatures.id("bob"), 1);
   * ```
   */
  static fromJSON(json: unknown): Dataset {
    if (json === null || typeof json !== "object" || Array.isArray(json)) {
      throw new TypeError(`Expected a Dataset JSON object but found ${describe(json)}`);
    }
    const saved = json as Partial<DatasetJSON>;
    const flag = (name: "userIdentityFeatures" | "itemIdentityFeatures"): boolean =>
      saved[name] === undefined ? true : booleanOption(name, saved[name]);
    const dataset = new Dataset({
      userIdentityFeatures: flag("userIdentityFeatures"),
      itemIdentityFeatures: flag("itemIdentityFeatures"),
    });
    const maps = dataset as {
      users: IdMap;
      items: IdMap;
      userFeatures: IdMap;
      itemFeatures: IdMap;
    };
    maps.users = IdMap.fromJSON({ ...asObject(saved.users, "users"), name: "user" });
    maps.items = IdMap.fromJSON({ ...asObject(saved.items, "items"), name: "item" });
    maps.userFeatures = featureMapFromJSON(
      saved.userFeatures,
      "userFeatures",
      maps.users,
      dataset.userIdentityFeatures,
    );
    maps.itemFeatures = featureMapFromJSON(
      saved.itemFeatures,
      "itemFeatures",
      maps.items,
      dataset.itemIdentityFeatures,
    );
    return dataset;
  }

  /** Checks every list of a fit call and returns them as arrays; nothing changes yet. */
  #plan(
    users: Iterable<ExternalId> | undefined,
    items: Iterable<ExternalId> | undefined,
    options: DatasetFitOptions,
    method: string,
  ): FitPlan {
    checkKeys(options, ["userFeatures", "itemFeatures"], `Dataset.${method}`);
    return {
      users: users === undefined
        ? undefined
        : new IdMap({ order: this.users.order }).fitPartial(users).externals(),
      items: items === undefined
        ? undefined
        : new IdMap({ order: this.items.order }).fitPartial(items).externals(),
      userFeatures: featureNames(options.userFeatures, "userFeatures"),
      itemFeatures: featureNames(options.itemFeatures, "itemFeatures"),
    };
  }

  /** Applies a checked plan, in LightFM's order: users (with identity), items, then names. */
  #apply(plan: FitPlan): void {
    const user = this.#side("user");
    const item = this.#side("item");
    if (plan.users !== undefined) addIds(user, plan.users);
    if (plan.items !== undefined) addIds(item, plan.items);
    if (plan.userFeatures !== undefined) this.userFeatures.fitPartial(plan.userFeatures);
    if (plan.itemFeatures !== undefined) this.itemFeatures.fitPartial(plan.itemFeatures);
  }

  #side(noun: "user" | "item"): Side {
    return noun === "user"
      ? {
        noun,
        ids: this.users,
        features: this.userFeatures,
        identity: this.userIdentityFeatures,
      }
      : {
        noun,
        ids: this.items,
        features: this.itemFeatures,
        identity: this.itemIdentityFeatures,
      };
  }

  #buildWeights(
    interactions: Iterable<Interaction> | InteractionColumns,
    options: BuildInteractionsOptions,
  ): CsrMatrix {
    checkKeys(options, ["unknown"], "Dataset.buildInteractions()");
    const add = oneOf("unknown", options.unknown ?? "error", ["error", "add"] as const) === "add";
    const user = this.#side("user");
    const item = this.#side("item");
    const coo = new CooBuffer();
    const push = (u: unknown, i: unknown, weight: unknown, row: number): void => {
      const du = resolveInteraction(user, u, add, row);
      const di = resolveInteraction(item, i, add, row);
      const w = weight === undefined ? 1 : weight;
      if (typeof w !== "number") {
        throw new TypeError(
          `Expected the weight of interactions[${row}] to be a number but found ${describe(w)}`,
        );
      }
      // A finite float64 can still overflow float32; checking the rounded value catches both.
      if (Math.fround(w) - Math.fround(w) !== 0) {
        throw new RangeError(
          `Expected the weight of interactions[${row}] to be finite in float32 but found ${
            describe(w)
          }`,
        );
      }
      coo.push(du, di, w);
    };
    if (isColumns(interactions)) {
      const { users, items, weights } = interactions;
      const n = users.length;
      if (items.length !== n) {
        throw new TypeError(
          `Expected items to have ${n} entries like users but found ${items.length}`,
        );
      }
      if (weights !== undefined && weights.length !== n) {
        throw new TypeError(
          `Expected weights to have ${n} entries like users but found ${weights.length}`,
        );
      }
      for (let row = 0; row < n; row++) {
        push(users[row], items[row], weights === undefined ? 1 : weights[row], row);
      }
    } else {
      if (
        interactions === null || typeof interactions !== "object" ||
        !(Symbol.iterator in interactions)
      ) {
        throw new TypeError(
          `Expected interactions to be an iterable of [user, item, weight?] but found ${
            describe(interactions)
          }`,
        );
      }
      let row = 0;
      for (const entry of interactions) {
        if (!Array.isArray(entry) || entry.length < 2 || entry.length > 3) {
          throw new TypeError(
            `Expected interactions[${row}] to be [user, item] or [user, item, weight] but found ${
              Array.isArray(entry) ? `an array of ${entry.length}` : describe(entry)
            }`,
          );
        }
        push(entry[0], entry[1], entry[2], row);
        row++;
      }
    }
    return toCsrNaming(
      coo,
      this.interactionsShape(),
      (row, col) =>
        `The weights of the interactions of user ${quote(user.ids.external(row))} with item ${
          quote(item.ids.external(col))
        }`,
    );
  }
}

/**
 * `coo.toCsr(shape)`, with an overflowing sum of duplicates reported in the
 * caller's terms: `what(row, col)` names the entries ("The weights of …").
 */
function toCsrNaming(
  coo: CooBuffer,
  shape: Shape,
  what: (row: number, col: number) => string,
): CsrMatrix {
  try {
    return coo.toCsr(shape);
  } catch (error) {
    if (!(error instanceof DuplicateOverflowError)) throw error;
    throw new RangeError(
      `${
        what(error.row, error.col)
      } sum to more than float32 holds (magnitude at most ${FLOAT32_MAX}): their sum overflows to Infinity`,
    );
  }
}

/** The checked lists of one fit / fitPartial call (undefined: leave that map alone). */
interface FitPlan {
  users: ExternalId[] | undefined;
  items: ExternalId[] | undefined;
  userFeatures: ExternalId[] | undefined;
  itemFeatures: ExternalId[] | undefined;
}

/** Adds ids to a side, each new one with its identity feature when the side has them. */
function addIds(side: Side, ids: ExternalId[]): void {
  const before = side.ids.size;
  side.ids.fitPartial(ids);
  if (!side.identity) return;
  // intern, not fitPartial: identity features follow the dense ids, whatever the order.
  for (let d = before; d < side.ids.size; d++) side.features.intern(side.ids.external(d));
}

/** Dense id of the user or item of interactions[row], added with its identity feature when `add`. */
function resolveInteraction(side: Side, id: unknown, add: boolean, row: number): number {
  const dense = side.ids.resolve(id, false);
  if (dense >= 0) return dense;
  if (dense === UNKNOWN && add) {
    const added = side.ids.resolve(id, true);
    if (side.identity) side.features.intern(side.ids.external(added));
    return added;
  }
  return rowError(side.noun, id, dense, `interactions[${row}]`);
}

/** A feature-name list, checked entry by entry; undefined stays undefined. */
function featureNames(
  names: Iterable<ExternalId> | undefined,
  what: string,
): ExternalId[] | undefined {
  if (names === undefined) return undefined;
  if (typeof names === "string") {
    throw new TypeError(
      `Expected ${what} to be an iterable of feature names but found ${
        describe(names)
      }; wrap one name in an array`,
    );
  }
  if (typeof (names as { [Symbol.iterator]?: unknown } | null)?.[Symbol.iterator] !== "function") {
    throw new TypeError(
      `Expected ${what} to be an iterable of feature names but found ${describe(names)}`,
    );
  }
  const list: ExternalId[] = [];
  for (const name of names) {
    keyOf(name, what, list.length);
    list.push(name);
  }
  return list;
}

/** The matrix of {@link Dataset.buildUserFeatures} / {@link Dataset.buildItemFeatures}. */
function buildFeatures(
  side: Side,
  rows: Iterable<FeatureRow>,
  options: BuildFeaturesOptions,
  method: string,
): CsrMatrix {
  checkKeys(options, ["normalize"], `Dataset.${method}`);
  const normalize = optionalBoolean("normalize", options.normalize) ?? true;
  if (
    rows === null || typeof rows !== "object" || typeof rows === "string" ||
    !(Symbol.iterator in rows)
  ) {
    throw new TypeError(
      `Expected rows to be an iterable of [${side.noun}, features] but found ${describe(rows)}`,
    );
  }
  const { ids, features, noun } = side;
  const coo = new CooBuffer();
  if (side.identity) {
    for (let d = 0; d < ids.size; d++) {
      const column = features.resolve(ids.external(d), false);
      if (column < 0) {
        throw new Error(`unreachable: ${noun} ${d} has no identity feature`);
      }
      coo.push(d, column, 1);
    }
  }
  let k = 0;
  for (const row of rows) {
    const where = `rows[${k}]`;
    if (!Array.isArray(row) || row.length !== 2) {
      throw new TypeError(
        `Expected ${where} to be [${noun}, features] but found ${
          Array.isArray(row) ? `an array of ${row.length}` : describe(row)
        }`,
      );
    }
    const id = row[0] as unknown;
    const dense = ids.resolve(id, false);
    if (dense < 0) rowError(noun, id, dense, where);
    const push = (name: unknown, weight: unknown): void => {
      const column = features.resolve(name, false);
      if (column === UNKNOWN) {
        throw new RangeError(
          `Unknown ${noun} feature ${quote(name)} in ${where} (${noun} ${
            quote(id)
          }); register it with fit or fitPartial first`,
        );
      }
      if (column < 0) keyOf(name, `a feature name in ${where}`, -1); // throws
      coo.push(dense, column, featureWeight(weight, noun, name, where));
    };
    const given = row[1] as unknown;
    if (typeof given === "string") {
      throw new TypeError(
        `Expected the features of ${where} to be feature names or { name: weight } but found ${
          describe(given)
        }; wrap one name in an array`,
      );
    }
    if (given instanceof Map) {
      for (const [name, weight] of given) push(name, weight);
    } else if (given !== null && typeof given === "object" && Symbol.iterator in given) {
      for (const name of given as Iterable<unknown>) push(name, 1);
    } else if (given !== null && typeof given === "object") {
      for (const [name, weight] of Object.entries(given)) push(name, weight);
    } else {
      throw new TypeError(
        `Expected the features of ${where} to be feature names or { name: weight } but found ${
          describe(given)
        }`,
      );
    }
    k++;
  }
  const matrix = toCsrNaming(
    coo,
    [ids.size, features.size],
    (row, col) =>
      `The weights of ${noun} feature ${quote(features.external(col))} of ${noun} ${
        quote(ids.external(row))
      }`,
  );
  if (normalize) normalizeRows(matrix, side);
  return matrix;
}

/** A feature weight: a number, finite in float32, not negative (-0 becomes 0). */
function featureWeight(weight: unknown, noun: string, name: unknown, where: string): number {
  const what = `the weight of ${noun} feature ${quote(name)} in ${where}`;
  if (typeof weight !== "number") {
    throw new TypeError(`Expected ${what} to be a number but found ${describe(weight)}`);
  }
  if (Math.fround(weight) - Math.fround(weight) !== 0) {
    throw new RangeError(`Expected ${what} to be finite in float32 but found ${describe(weight)}`);
  }
  if (weight < 0) {
    throw new RangeError(`Expected ${what} to be at least 0 but found ${describe(weight)}`);
  }
  return weight === 0 ? 0 : weight; // -0 is stored as 0
}

/**
 * Divides each row by its sum in place: LightFM's row L1 normalisation (weights are not
 * negative, so the L1 norm is the sum). A row of zeros stays as it is; a row with no entry
 * is refused, as LightFM refuses it.
 */
function normalizeRows(matrix: CsrMatrix, side: Side): void {
  const { indptr, data } = matrix;
  for (let r = 0; r < matrix.nRows; r++) {
    const start = indptr[r]!;
    const end = indptr[r + 1]!;
    if (start === end) {
      const flag = `${side.noun}IdentityFeatures`;
      throw new RangeError(
        `Expected every ${side.noun} to have a feature to normalize but found none for ${side.noun} ${
          quote(side.ids.external(r))
        } (row ${r}); give it a feature, keep ${flag} on, or pass normalize: false`,
      );
    }
    let sum = 0;
    for (let p = start; p < end; p++) sum += data[p]!;
    if (sum === 0) continue;
    for (let p = start; p < end; p++) data[p] = data[p]! / sum;
  }
}

/** A feature map from its JSON, or the identity features alone for JSON written before features. */
function featureMapFromJSON(json: unknown, what: string, ids: IdMap, identity: boolean): IdMap {
  const name = `${ids.name} feature`;
  if (json === undefined) {
    const map = new IdMap({ name, order: ids.order });
    if (identity) { for (const id of ids.externals()) map.intern(id); }
    return map;
  }
  const map = IdMap.fromJSON({ ...asObject(json, what), name });
  if (identity) {
    for (const id of ids.externals()) {
      if (!map.has(id)) {
        throw new RangeError(
          `Expected ${what} to hold every ${ids.name} id (${ids.name}IdentityFeatures is true) but ${ids.name} ${
            quote(id)
          } is missing`,
        );
      }
    }
  }
  return map;
}

/** Refuses a non-object and any key not in `known` (with a hint for another library's name). */
function checkKeys(options: unknown, known: readonly string[], owner: string): void {
  knownOptions(owner, options, known);
}

function rowError(role: string, id: unknown, status: number, where: string): never {
  if (status === UNKNOWN) {
    throw new RangeError(`Unknown ${role} id ${quote(id)} in ${where}`);
  }
  keyOf(id, `the ${role} of ${where}`, -1);
  throw new Error("unreachable: keyOf accepted an id that resolve refused");
}

function asObject(value: unknown, name: string): object {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`Expected ${name} to be an IdMap JSON object but found ${describe(value)}`);
  }
  return value;
}

function isColumns(value: unknown): value is InteractionColumns {
  return value !== null && typeof value === "object" && !(Symbol.iterator in value) &&
    "users" in value && "items" in value;
}

/** Coordinates in typed arrays that double when full. */
class CooBuffer {
  rows = new Int32Array(1024);
  cols = new Int32Array(1024);
  values = new Float32Array(1024);
  length = 0;

  push(r: number, c: number, v: number): void {
    if (this.length === this.rows.length) this.#grow();
    this.rows[this.length] = r;
    this.cols[this.length] = c;
    this.values[this.length++] = v;
  }

  #grow(): void {
    if (this.length >= MAX_NNZ) throw new RangeError(`Expected at most ${MAX_NNZ} interactions`);
    const capacity = Math.min(MAX_NNZ, this.rows.length * 2);
    const rows = new Int32Array(capacity);
    const cols = new Int32Array(capacity);
    const values = new Float32Array(capacity);
    rows.set(this.rows);
    cols.set(this.cols);
    values.set(this.values);
    this.rows = rows;
    this.cols = cols;
    this.values = values;
  }

  toCsr(shape: Shape): CsrMatrix {
    const n = this.length;
    return CsrMatrix.fromCoo({
      rows: this.rows.subarray(0, n),
      cols: this.cols.subarray(0, n),
      values: this.values.subarray(0, n),
      shape,
    });
  }
}
