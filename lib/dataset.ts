/**
 * Dense ids inside, your ids outside: `IdMap` turns external user and item ids
 * (strings or numbers) into the dense `0..n-1` ids every model and kernel
 * uses, and back; `Dataset` holds one map for users and one for items and
 * builds the interaction matrix, as LightFM's `Dataset` does (user and item
 * feature maps will join it later).
 *
 * **One id, one key.** An external id is a string or a finite number, and its
 * key is its string form (`String(id)`), so `7` and `"7"` are the same id
 * (and `-0` is `0`, `7.0` is `7`). An id is remembered as it was first given:
 * `external()` returns `7` when the map first saw the number 7, `"7"` when it
 * first saw the string. NaN, ±Infinity and other types are refused.
 *
 * @module
 */
import { CsrMatrix, MAX_NNZ } from "./sparse.ts";
import type { Shape } from "./sparse.ts";
import { describe, oneOf } from "./validate.ts";

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
        `Expected ids to be an iterable of ids but found the string ${
          describe(ids)
        }; wrap one id in an array`,
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
    const dense = this.#lookup(external);
    if (dense >= 0) return dense;
    if (dense === INVALID) keyOf(external, "external", -1); // throws
    const unknown = oneOf("unknown", options.unknown ?? "error", ["error", "undefined"] as const);
    if (unknown === "undefined") return undefined;
    throw new RangeError(`Unknown ${this.#noun()} ${describe(external)}`);
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
        `dense ${this.#noun()} ${describe(dense)} is out of range for a map of ${this.size} ids`,
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
          `Expected ids[${k}] = ${describe(id)} to be unique but it repeats ids[${seen}]`,
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

/** Options of the {@link Dataset} constructor. */
export interface DatasetOptions {
  /** How `fit` numbers new user and item ids (see {@link IdMapOptions.order}), `"first-seen"` by default. */
  order?: IdOrder;
}

/** Options of {@link Dataset.buildInteractions}. */
export interface BuildInteractionsOptions {
  /**
   * `"error"` (default): an unknown user or item id throws, naming the row.
   * `"add"`: it is added to its map on the fly (in first-seen order, whatever the map's order).
   */
  unknown?: "error" | "add";
}

/** What {@link Dataset.toJSON} writes and {@link Dataset.fromJSON} reads. */
export interface DatasetJSON {
  /** The user map, as {@link IdMap.toJSON} writes it. */
  users: IdMapJSON;
  /** The item map, as {@link IdMap.toJSON} writes it. */
  items: IdMapJSON;
}

/**
 * User and item id maps and the interaction matrix built through them, as
 * LightFM's `Dataset`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, equal } from "node:assert/strict";
 * import { Dataset } from "./dataset.ts";
 * const dataset = new Dataset();
 * dataset.fit(["ann", "bob"], ["song-a", "song-b", "song-c"]);
 * const plays = dataset.buildInteractions([["ann", "song-c", 3], ["bob", "song-a"], ["ann", "song-c"]]);
 * // ann = 0, bob = 1; song-a = 0, song-b = 1, song-c = 2; (ann, song-c) sums 3 + 1.
 * deepStrictEqual(plays.shape, [2, 3]);
 * deepStrictEqual(plays.toDense(), Float32Array.of(0, 0, 4, 1, 0, 0));
 * equal(dataset.externalItem(plays.indices[0]!), "song-c");
 * const restored = Dataset.fromJSON(JSON.parse(JSON.stringify(dataset)));
 * equal(restored.itemId("song-c"), 2);
 * ```
 */
export class Dataset {
  /** The user id map (named `"user"`): rows of {@link buildInteractions}' matrix. */
  readonly users: IdMap;
  /** The item id map (named `"item"`): columns of {@link buildInteractions}' matrix. */
  readonly items: IdMap;

  /**
   * A dataset with two empty maps.
   *
   * @param options `order` for both maps (default `"first-seen"`); see {@link DatasetOptions}.
   * @throws TypeError / RangeError for an unknown order.
   */
  constructor(options: DatasetOptions = {}) {
    const order = options.order ?? "first-seen";
    this.users = new IdMap({ name: "user", order });
    this.items = new IdMap({ name: "item", order });
  }

  /**
   * Forgets every id, then maps `users` and `items` (see {@link IdMap.fit}).
   *
   * @param users External user ids; repeats allowed.
   * @param items External item ids; repeats allowed.
   * @returns `this`.
   * @throws TypeError / RangeError as {@link IdMap.fit}; both lists are checked before either
   *   map changes.
   */
  fit(users: Iterable<ExternalId>, items: Iterable<ExternalId>): this {
    const u = new IdMap({ order: this.users.order }).fitPartial(users);
    const i = new IdMap({ order: this.items.order }).fitPartial(items);
    this.users.fit(u.externals());
    this.items.fit(i.externals());
    return this;
  }

  /**
   * Adds new users and / or items after the known ones; known ids keep their dense ids (see
   * {@link IdMap.fitPartial}).
   *
   * @param users External user ids to add, or undefined to leave the users alone.
   * @param items External item ids to add, or undefined to leave the items alone.
   * @returns `this`.
   * @throws TypeError / RangeError as {@link IdMap.fitPartial}; both lists are checked before
   *   either map changes.
   */
  fitPartial(users?: Iterable<ExternalId>, items?: Iterable<ExternalId>): this {
    // Check both before changing either, so a bad item list leaves the users as they were.
    const u = users === undefined
      ? undefined
      : new IdMap({ order: this.users.order }).fitPartial(users);
    const i = items === undefined
      ? undefined
      : new IdMap({ order: this.items.order }).fitPartial(items);
    if (u !== undefined) this.users.fitPartial(u.externals());
    if (i !== undefined) this.items.fitPartial(i.externals());
    return this;
  }

  /** `[users.size, items.size]`, the shape of {@link buildInteractions}' matrix. */
  interactionsShape(): Shape {
    return [this.users.size, this.items.size];
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
   * The users × items matrix of the given interactions, duplicates summed.
   * Rows are accumulated in growable typed arrays, so 17.5M interactions need
   * no object per row beyond what the caller's iterable yields (and none at all
   * with {@link InteractionColumns}).
   *
   * @param interactions `[user, item]` or `[user, item, weight]` rows (weight 1 when left out),
   *   or parallel columns `{ users, items, weights? }`.
   * @param options `unknown: "add"` to add unknown ids instead of throwing (default `"error"`).
   * @returns A CsrMatrix of shape {@link interactionsShape} (taken after any ids were added),
   *   float32 weights, duplicates summed.
   * @throws RangeError naming the row for an unknown id ("Unknown user id 'abc' in
   *   interactions[12]") or a weight that is not finite in float32; TypeError for a malformed row
   *   or columns of different lengths. With `unknown: "add"`, ids added before the error stay.
   */
  buildInteractions(
    interactions: Iterable<Interaction> | InteractionColumns,
    options: BuildInteractionsOptions = {},
  ): CsrMatrix {
    const add = oneOf("unknown", options.unknown ?? "error", ["error", "add"] as const) === "add";
    const coo = new CooBuffer();
    const push = (user: unknown, item: unknown, weight: unknown, row: number): void => {
      const u = this.users.resolve(user, add);
      if (u < 0) rowError("user", user, u, row);
      const i = this.items.resolve(item, add);
      if (i < 0) rowError("item", item, i, row);
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
      coo.push(u, i, w);
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
    return coo.toCsr(this.interactionsShape());
  }

  /**
   * A plain object for `JSON.stringify`: both id maps.
   *
   * @returns `{ users, items }`, each as {@link IdMap.toJSON} writes it.
   */
  toJSON(): DatasetJSON {
    return { users: this.users.toJSON(), items: this.items.toJSON() };
  }

  /**
   * Rebuilds a dataset saved by {@link toJSON} (after `JSON.parse`); the maps are named
   * `"user"` and `"item"` whatever the saved names.
   *
   * @param json A {@link DatasetJSON}.
   * @returns A new dataset.
   * @throws TypeError / RangeError for a malformed object (see {@link IdMap.fromJSON}).
   */
  static fromJSON(json: unknown): Dataset {
    if (json === null || typeof json !== "object" || Array.isArray(json)) {
      throw new TypeError(`Expected a Dataset JSON object but found ${describe(json)}`);
    }
    const { users, items } = json as Partial<DatasetJSON>;
    const dataset = new Dataset();
    const maps = dataset as { users: IdMap; items: IdMap };
    maps.users = IdMap.fromJSON({ ...asObject(users, "users"), name: "user" });
    maps.items = IdMap.fromJSON({ ...asObject(items, "items"), name: "item" });
    return dataset;
  }
}

function rowError(role: string, id: unknown, status: number, row: number): never {
  if (status === UNKNOWN) {
    throw new RangeError(`Unknown ${role} id ${describe(id)} in interactions[${row}]`);
  }
  keyOf(id, `the ${role} of interactions[${row}]`, -1);
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
