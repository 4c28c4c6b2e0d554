/**
 * Generated interaction data: a power-law matrix at any scale (for benchmarks)
 * and a small "listening" dataset with planted genres (for examples and tests
 * that need structure a model should find).
 *
 * @module
 */
import { Random } from "../random.ts";
import { CsrMatrix, MAX_NNZ } from "../sparse.ts";
import { finiteNumber, knownOptions, positiveInteger } from "../validate.ts";

/** Options of {@link powerLawMatrix}. */
export interface PowerLawOptions {
  /** Number of users (rows), a positive integer. */
  users: number;
  /** Number of items (columns), a positive integer. */
  items: number;
  /**
   * Number of distinct (user, item) pairs wanted, at most `users * items` and {@link MAX_NNZ}.
   * Pairs lost to duplicates are topped up in up to 3 more rounds, so the result has at
   * most `nnz` stored values and, on a dense request, may have a few fewer.
   */
  nnz: number;
  /** Zipf exponent of user activity (0.8). */
  userExponent?: number;
  /** Zipf exponent of item popularity (0.9). */
  itemExponent?: number;
  /** Seed, a non-negative safe integer (0): the same seed gives the same matrix. */
  seed?: number;
}

/**
 * A user × item play-count matrix where both user activity and item popularity
 * follow Zipf laws (weight of rank r ∝ r^−s) and play counts are heavy-tailed,
 * like lastfm-360K. Ranks are shuffled over ids so popular rows are spread out.
 * Each draw's play count is `1 + floor(Pareto(1.2) − 1)`, at most 10,000; a pair drawn
 * more than once stores the sum of its draws.
 *
 * @param options `users`, `items`, `nnz`, and optional exponents and `seed`.
 * @returns A `users × items` matrix of positive integer counts with at most `nnz` stored values.
 * @throws TypeError / RangeError for a size that is not a positive integer, an `nnz` above
 *   `users * items` or {@link MAX_NNZ}, a negative or non-finite exponent, or a bad seed.
 * @example
 * ```ts
 * import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
 * import { powerLawMatrix } from "./synthetic.ts";
 * // Asking for every pair of a 3 × 2 matrix stores all six.
 * const full = powerLawMatrix({ users: 3, items: 2, nnz: 6, seed: 1 });
 * deepStrictEqual(full.shape, [3, 2]);
 * equal(full.nnz, 6);
 * ok(full.data.every((v) => Number.isInteger(v) && v >= 1));
 * deepStrictEqual(powerLawMatrix({ users: 3, items: 2, nnz: 6, seed: 1 }), full);
 * throws(() => powerLawMatrix({ users: 3, items: 2, nnz: 7 }), RangeError);
 * ```
 */
export function powerLawMatrix(options: PowerLawOptions): CsrMatrix {
  knownOptions("powerLawMatrix()", options ?? null, [
    "users",
    "items",
    "nnz",
    "userExponent",
    "itemExponent",
    "seed",
  ]);
  const users = positiveInteger("users", options.users);
  const items = positiveInteger("items", options.items);
  const nnz = positiveInteger("nnz", options.nnz);
  if (nnz > Math.min(MAX_NNZ, users * items)) {
    throw new RangeError(
      `Expected nnz to be at most ${Math.min(MAX_NNZ, users * items)} but found ${nnz}`,
    );
  }
  const random = new Random(options.seed ?? 0);
  const userCdf = zipfCdf(
    users,
    finiteNumber("userExponent", options.userExponent ?? 0.8, { min: 0 }),
  );
  const itemCdf = zipfCdf(
    items,
    finiteNumber("itemExponent", options.itemExponent ?? 0.9, { min: 0 }),
  );
  const userIds = permutation(users, random);
  const itemIds = permutation(items, random);
  return drawnMatrix([users, items], nnz, (rows, cols, values, count) => {
    for (let e = 0; e < count; e++) {
      rows[e] = userIds[sampleCdf(userCdf, random.nextFloat())]!;
      cols[e] = itemIds[sampleCdf(itemCdf, random.nextFloat())]!;
      values[e] = playCount(random);
    }
  });
}

/** Heavy-tailed play counts: 1 + floor(Pareto(1.2) − 1), capped at 10,000. */
function playCount(random: Random): number {
  return Math.min(1 + Math.floor(Math.pow(1 - random.nextFloat(), -1 / 1.2) - 1), 10_000);
}

/**
 * A matrix of at most `nnz` distinct pairs made of draws: `draw(rows, cols, values, count)`
 * writes `count` (user, item, plays) draws into the first `count` places of its arrays;
 * a pair drawn twice stores the sum. Up to 3 more rounds top up the pairs lost to
 * duplicates, and the last round's overshoot is cut off in row order.
 */
function drawnMatrix(
  shape: [number, number],
  nnz: number,
  draw: (rows: Int32Array, cols: Int32Array, values: Float32Array, count: number) => void,
): CsrMatrix {
  let matrix = CsrMatrix.empty(shape);
  for (let round = 0; round < 4 && matrix.nnz < nnz; round++) {
    const wanted = Math.ceil((nnz - matrix.nnz) * (round === 0 ? 1 : 1.15));
    const rows = new Int32Array(wanted + matrix.nnz);
    const cols = new Int32Array(wanted + matrix.nnz);
    const values = new Float32Array(wanted + matrix.nnz);
    draw(rows, cols, values, wanted);
    appendEntries(matrix, rows, cols, values, wanted);
    matrix = CsrMatrix.fromCoo({ rows, cols, values, shape });
  }
  return matrix.nnz > nnz ? truncateEntries(matrix, nnz) : matrix;
}

/** The entries of `matrix` written after position `offset` of the coordinate arrays. */
function appendEntries(
  matrix: CsrMatrix,
  rows: Int32Array,
  cols: Int32Array,
  values: Float32Array,
  offset: number,
): void {
  let e = offset;
  for (let r = 0; r < matrix.nRows; r++) {
    for (let p = matrix.indptr[r]!; p < matrix.indptr[r + 1]!; p++) {
      rows[e] = r;
      cols[e] = matrix.indices[p]!;
      values[e++] = matrix.data[p]!;
    }
  }
}

/** Keeps the first `nnz` stored values in row order (the top-up round overshoots a little). */
function truncateEntries(matrix: CsrMatrix, nnz: number): CsrMatrix {
  const indptr = matrix.indptr.map((p) => Math.min(p, nnz));
  return new CsrMatrix(
    matrix.shape,
    indptr,
    matrix.indices.slice(0, nnz),
    matrix.data.slice(0, nnz),
  );
}

/** Cumulative Zipf weights of ranks 0..count-1 (rank r weighs (r + 1)^-exponent), normalised to end at 1. */
export function zipfCdf(count: number, exponent: number): Float64Array {
  const cdf = new Float64Array(count);
  let total = 0;
  for (let r = 0; r < count; r++) {
    total += Math.pow(r + 1, -exponent);
    cdf[r] = total;
  }
  for (let r = 0; r < count; r++) cdf[r]! /= total;
  return cdf;
}

/** The first rank whose cumulative weight exceeds u (binary search). */
export function sampleCdf(cdf: Float64Array, u: number): number {
  return sampleCdfRange(cdf, 0, cdf.length, u);
}

/** {@link sampleCdf} over the segment `cdf[from..to)`, which ends at 1: an index in it. */
function sampleCdfRange(cdf: Float64Array, from: number, to: number, u: number): number {
  let lo = from;
  let hi = to - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid]! > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** A uniformly random permutation of 0..count-1 (Fisher–Yates). */
export function permutation(count: number, random: Random): Int32Array {
  const out = new Int32Array(count);
  for (let k = 0; k < count; k++) out[k] = k;
  for (let k = count - 1; k > 0; k--) {
    const j = random.int(k + 1);
    const t = out[k]!;
    out[k] = out[j]!;
    out[j] = t;
  }
  return out;
}

/** Options of {@link plantedTasteDataset}. */
export interface PlantedTasteOptions extends PowerLawOptions {
  /** Number of genres, a positive integer (items / 250, at least 2). */
  genres?: number;
  /** Zipf exponent of genre size and of how many users like a genre (0.5). */
  genreExponent?: number;
  /** Share of a user's draws inside their favourite genres, in [0, 1] (0.8). */
  loyalty?: number;
}

/** What {@link plantedTasteDataset} returns. */
export interface PlantedTastes {
  /** users × items play counts, at most `nnz` stored values. */
  plays: CsrMatrix;
  /** Genre of every item. */
  itemGenre: Int32Array;
  /** users × genres, 1 for each of a user's 1–3 favourite genres. */
  userGenres: CsrMatrix;
}

/**
 * A lastfm-like matrix with planted tastes, at any scale: the user activity, item
 * popularity and play counts of {@link powerLawMatrix}, plus genres. Every item belongs to
 * one genre (genre sizes follow a Zipf law, genre 0 the largest); every user has 1 to 3
 * distinct favourite genres (popular genres have more fans) and makes `loyalty` of their
 * draws inside them, a favourite picked uniformly and an item of it in proportion to its
 * global popularity (so popularity is a power law within a genre too); the other draws
 * pick an item by global popularity alone.
 *
 * @param options `users`, `items`, `nnz`, and optional `genres`, exponents, `loyalty`, `seed`.
 * @returns The play matrix and the planted genres of items and users.
 * @throws TypeError / RangeError as {@link powerLawMatrix}, and for a `genres` that is not a
 *   positive integer at most `items`, or a loyalty outside [0, 1].
 * @example
 * ```ts
 * import { deepStrictEqual, equal, ok } from "node:assert/strict";
 * import { plantedTasteDataset } from "./synthetic.ts";
 * const data = plantedTasteDataset({ users: 50, items: 40, nnz: 400, genres: 4, seed: 1 });
 * deepStrictEqual(data.plays.shape, [50, 40]);
 * ok(data.plays.nnz <= 400);
 * ok(data.itemGenre.every((g) => g >= 0 && g < 4));
 * deepStrictEqual(data.userGenres.shape, [50, 4]);
 * for (let u = 0; u < 50; u++) ok(data.userGenres.row(u).indices.length >= 1);
 * equal(plantedTasteDataset({ users: 50, items: 40, nnz: 400, genres: 4, seed: 1 }).plays.nnz,
 *   data.plays.nnz);
 * ```
 */
export function plantedTasteDataset(options: PlantedTasteOptions): PlantedTastes {
  knownOptions("plantedTasteDataset()", options ?? null, [
    "users",
    "items",
    "nnz",
    "genres",
    "userExponent",
    "itemExponent",
    "genreExponent",
    "loyalty",
    "seed",
  ]);
  const users = positiveInteger("users", options.users);
  const items = positiveInteger("items", options.items);
  const nnz = positiveInteger("nnz", options.nnz);
  if (nnz > Math.min(MAX_NNZ, users * items)) {
    throw new RangeError(
      `Expected nnz to be at most ${Math.min(MAX_NNZ, users * items)} but found ${nnz}`,
    );
  }
  const genres = positiveInteger(
    "genres",
    options.genres ?? Math.min(items, Math.max(2, Math.round(items / 250))),
  );
  if (genres > items) {
    throw new RangeError(`Expected genres to be at most items (${items}) but found ${genres}`);
  }
  const loyalty = finiteNumber("loyalty", options.loyalty ?? 0.8, { min: 0, max: 1 });
  const random = new Random(options.seed ?? 0);
  const userCdf = zipfCdf(
    users,
    finiteNumber("userExponent", options.userExponent ?? 0.8, { min: 0 }),
  );
  const itemCdf = zipfCdf(
    items,
    finiteNumber("itemExponent", options.itemExponent ?? 0.9, { min: 0 }),
  );
  const genreCdf = zipfCdf(
    genres,
    finiteNumber("genreExponent", options.genreExponent ?? 0.5, { min: 0 }),
  );
  const userIds = permutation(users, random);
  const itemIds = permutation(items, random);
  const itemGenre = Int32Array.from(
    { length: items },
    () => sampleCdf(genreCdf, random.nextFloat()),
  );
  const inGenre = genreSegments(itemIds, itemGenre, itemCdf, genres);
  const userGenres = favouriteGenres(users, genreCdf, random);
  const plays = drawnMatrix([users, items], nnz, (rows, cols, values, count) => {
    for (let e = 0; e < count; e++) {
      const u = userIds[sampleCdf(userCdf, random.nextFloat())]!;
      let item: number;
      const from = userGenres.indptr[u]!;
      const g = userGenres.indices[from + random.int(userGenres.indptr[u + 1]! - from)]!;
      // A fan of a genre no item drew plays by global popularity alone.
      if (random.nextFloat() < loyalty && inGenre.start[g + 1]! > inGenre.start[g]!) {
        const k = sampleCdfRange(
          inGenre.cdf,
          inGenre.start[g]!,
          inGenre.start[g + 1]!,
          random.nextFloat(),
        );
        item = inGenre.items[k]!;
      } else {
        item = itemIds[sampleCdf(itemCdf, random.nextFloat())]!;
      }
      rows[e] = u;
      cols[e] = item;
      values[e] = playCount(random);
    }
  });
  return { plays, itemGenre, userGenres };
}

/**
 * The items of every genre, most popular first, with each genre's cumulative popularity
 * normalised to end at 1: genre g holds `items[start[g]..start[g+1])` (empty when no item
 * drew it).
 */
function genreSegments(
  itemIds: Int32Array,
  itemGenre: Int32Array,
  itemCdf: Float64Array,
  genres: number,
): { start: Int32Array; items: Int32Array; cdf: Float64Array } {
  const start = new Int32Array(genres + 1);
  for (const g of itemGenre) start[g + 1]!++;
  for (let g = 0; g < genres; g++) start[g + 1]! += start[g]!;
  const items = new Int32Array(itemIds.length);
  const cdf = new Float64Array(itemIds.length);
  const next = start.slice(0, genres);
  for (let r = 0; r < itemIds.length; r++) {
    const item = itemIds[r]!;
    const g = itemGenre[item]!;
    const k = next[g]!++;
    items[k] = item;
    cdf[k] = (k > start[g]! ? cdf[k - 1]! : 0) + itemCdf[r]! - (r > 0 ? itemCdf[r - 1]! : 0);
  }
  for (let g = 0; g < genres; g++) {
    const total = cdf[start[g + 1]! - 1] ?? 1;
    for (let k = start[g]!; k < start[g + 1]!; k++) cdf[k]! /= total;
  }
  return { start, items, cdf };
}

/**
 * users × genres: each user's 1–3 distinct favourite genres drawn from `genreCdf` (fewer
 * when there are fewer genres, or when 1,000 draws per wanted genre found no new one).
 */
function favouriteGenres(users: number, genreCdf: Float64Array, random: Random): CsrMatrix {
  const genres = genreCdf.length;
  const indptr = new Int32Array(users + 1);
  const indices = new Int32Array(3 * users);
  for (let u = 0; u < users; u++) {
    const count = Math.min(genres, 1 + random.int(3));
    const from = indptr[u]!;
    let found = 0;
    for (let draw = 0; found < count && draw < 1000 * count; draw++) {
      const g = sampleCdf(genreCdf, random.nextFloat());
      if (!indices.subarray(from, from + found).includes(g)) indices[from + found++] = g;
    }
    indices.subarray(from, from + found).sort();
    indptr[u + 1] = from + found;
  }
  const stored = indices.slice(0, indptr[users]!);
  return new CsrMatrix([users, genres], indptr, stored, new Float32Array(stored.length).fill(1));
}

/** Options of {@link listeningDataset}. */
export interface ListeningOptions {
  /** Number of users, a positive integer (2000). */
  users?: number;
  /** Items per genre (40). */
  itemsPerGenre?: number;
  /** Genre names, at least 2 (8 genres: rock, jazz, hip-hop, classical, electronic, folk, metal, reggae). */
  genres?: string[];
  /** Average distinct items a user plays (25). */
  playsPerUser?: number;
  /** Share of a user's plays inside their favourite genre, in [0, 1] (0.85). */
  loyalty?: number;
  /** Seed, a non-negative safe integer (0): the same seed gives the same data. */
  seed?: number;
}

/** What {@link listeningDataset} returns. */
export interface ListeningData {
  /** users × items play counts. */
  plays: CsrMatrix;
  /** Genre index of every item. */
  itemGenre: Int32Array;
  /** Favourite genre index of every user. */
  userGenre: Int32Array;
  /** The genre names (the option, or the default 8); `itemGenre` and `userGenre` index it. */
  genres: string[];
  /** A readable name for every item, e.g. "jazz artist 7". */
  itemNames: string[];
}

/**
 * A listening log with planted genres: every item belongs to one genre, every
 * user has a favourite genre and plays mostly (`loyalty`) inside it, popular
 * artists more (Zipf within a genre). A good model's `similarItems` of an item
 * should return items of the same genre.
 *
 * Items are numbered genre by genre: item `i` is in genre `floor(i / itemsPerGenre)`.
 * Each user makes between 1 and `2 · playsPerUser` draws of 1 to 20 plays; a
 * (user, item) pair drawn twice stores the sum.
 *
 * @param options Sizes, `genres`, `loyalty` and `seed`; every one has a default.
 * @returns The play matrix (`users × itemsPerGenre · genres.length`) and the planted genres.
 * @throws TypeError / RangeError for a size that is not a positive integer, fewer than 2
 *   genres, a loyalty outside [0, 1], or a bad seed.
 * @example
 * ```ts
 * import { deepStrictEqual, equal, ok } from "node:assert/strict";
 * import { listeningDataset } from "./synthetic.ts";
 * const data = listeningDataset({ users: 20, itemsPerGenre: 3, genres: ["rock", "jazz"], seed: 1 });
 * deepStrictEqual(data.plays.shape, [20, 6]);
 * deepStrictEqual(data.itemGenre, Int32Array.of(0, 0, 0, 1, 1, 1));
 * equal(data.itemNames[4], "jazz artist 1");
 * ok(data.userGenre.every((g) => g === 0 || g === 1));
 * for (let u = 0; u < 20; u++) ok(data.plays.row(u).indices.length >= 1);
 * ```
 */
export function listeningDataset(options: ListeningOptions = {}): ListeningData {
  knownOptions("listeningDataset()", options, [
    "users",
    "itemsPerGenre",
    "genres",
    "playsPerUser",
    "loyalty",
    "seed",
  ]);
  const users = positiveInteger("users", options.users ?? 2000);
  const perGenre = positiveInteger("itemsPerGenre", options.itemsPerGenre ?? 40);
  const genres = options.genres ??
    ["rock", "jazz", "hip-hop", "classical", "electronic", "folk", "metal", "reggae"];
  if (genres.length < 2) {
    throw new RangeError(`Expected at least 2 genres but found ${genres.length}`);
  }
  const plays = positiveInteger("playsPerUser", options.playsPerUser ?? 25);
  const loyalty = finiteNumber("loyalty", options.loyalty ?? 0.85, { min: 0, max: 1 });
  const random = new Random(options.seed ?? 0);
  const items = perGenre * genres.length;
  const itemGenre = Int32Array.from({ length: items }, (_, i) => Math.floor(i / perGenre));
  const userGenre = Int32Array.from({ length: users }, () => random.int(genres.length));
  const withinGenre = zipfCdf(perGenre, 0.7);
  const rows: number[] = [];
  const cols: number[] = [];
  const values: number[] = [];
  for (let u = 0; u < users; u++) {
    const count = 1 + random.int(2 * plays);
    for (let k = 0; k < count; k++) {
      const genre = random.nextFloat() < loyalty ? userGenre[u]! : random.int(genres.length);
      rows.push(u);
      cols.push(genre * perGenre + sampleCdf(withinGenre, random.nextFloat()));
      values.push(1 + random.int(20));
    }
  }
  const itemNames = Array.from(
    { length: items },
    (_, i) => `${genres[itemGenre[i]!]} artist ${i % perGenre}`,
  );
  return {
    plays: CsrMatrix.fromCoo({ rows, cols, values, shape: [users, items] }),
    itemGenre,
    userGenre,
    genres,
    itemNames,
  };
}
