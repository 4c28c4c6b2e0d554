/**
 * The data of the hybrid-model comparison (bench/compare_lightfm.sh): generated
 * interactions whose items carry genres that drive who plays what, the item
 * feature matrix LightFM's Dataset would build from them, a seeded held-out
 * split, and the binary files both benchmarks read.
 *
 *   deno run -A bench/hybrid_data.ts [small|large ...]      (default: both)
 *
 * Scales: `small` is MovieLens-100K-shaped (943 users, 1,682 items, ~100K
 * interactions, 19 genres); `large` is 100K users, 50K items, ~5M interactions,
 * 1,000 features. Each item has 1–3 genres; each user prefers 1–3 genres and
 * draws `loyalty` of their interactions inside them, the rest from all items;
 * inside a genre and overall, popular items are drawn more (Zipf over a shuffled
 * item order). User activity is `minPerUser` plus a Zipf share of the rest.
 *
 * Files, per scale, in bench/out/hybrid-<scale>/: `<name>.indptr.i32`,
 * `<name>.indices.i32`, `<name>.data.f32` (raw little-endian CSR arrays) for
 * train, test and item_features; `eval_users.i32`, the sorted users both sides
 * evaluate; `meta.json` with the shapes and how the data was made.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { Random } from "../lib/random.ts";
import { CsrMatrix } from "../lib/sparse.ts";
import { trainTestSplit } from "../lib/evaluation/split.ts";
import { permutation, sampleCdf, zipfCdf } from "../lib/datasets/synthetic.ts";

/** How one scale is generated. */
export interface HybridScale {
  users: number;
  items: number;
  genres: number;
  /** Wanted interactions; heavy users are capped at 40% of the items, so a few go missing. */
  nnz: number;
  minPerUser: number;
  /** Users both sides evaluate, drawn among those with test interactions (0: all of them). */
  evalUsers: number;
}

export const SCALES: Record<string, HybridScale> = {
  small: { users: 943, items: 1_682, genres: 19, nnz: 100_000, minPerUser: 20, evalUsers: 0 },
  large: {
    users: 100_000,
    items: 50_000,
    genres: 1_000,
    nnz: 5_000_000,
    minPerUser: 10,
    evalUsers: 2_000,
  },
};

const LOYALTY = 0.8;
const ITEM_EXPONENT = 0.9;
const USER_EXPONENT = 0.5;
const GENRE_EXPONENT = 0.5;
const TEST_SHARE = 0.2;
const DATA_SEED = 1;

/** `count` distinct values of [0, n) drawn from `cdf` (count <= n). */
function distinct(count: number, cdf: Float64Array, random: Random): number[] {
  const out = new Set<number>();
  while (out.size < count) out.add(sampleCdf(cdf, random.nextFloat()));
  return [...out].sort((a, b) => a - b);
}

/** Interactions (users × items, all 1) and item genres (items × genres, all 1). */
export function generate(scale: HybridScale): { plays: CsrMatrix; itemGenres: CsrMatrix } {
  const { users, items, genres } = scale;
  const random = new Random(DATA_SEED);
  // Item popularity: Zipf over a shuffled order; genre sizes: a milder Zipf.
  const popularity = new Float64Array(items);
  const byRank = permutation(items, random);
  for (let r = 0; r < items; r++) popularity[byRank[r]!] = Math.pow(r + 1, -ITEM_EXPONENT);
  const genreCdf = zipfCdf(genres, GENRE_EXPONENT);
  const genreRows: number[] = [];
  const genreCols: number[] = [];
  const members: number[][] = Array.from({ length: genres }, () => []);
  for (let i = 0; i < items; i++) {
    for (const g of distinct(1 + random.int(3), genreCdf, random)) {
      genreRows.push(i);
      genreCols.push(g);
      members[g]!.push(i);
    }
  }
  // Within each genre (and overall), an item is drawn in proportion to its popularity.
  const cdfOf = (ids: number[]) => {
    const cdf = new Float64Array(ids.length);
    let total = 0;
    ids.forEach((i, k) => cdf[k] = total += popularity[i]!);
    return cdf.map((c) => c / total);
  };
  const everyItem = Array.from({ length: items }, (_, i) => i);
  const overall = cdfOf(everyItem);
  const inGenre = members.map((ids) => ids.length > 0 ? cdfOf(ids) : overall);
  const genreItems = members.map((ids) => ids.length > 0 ? ids : everyItem);
  // Activity: minPerUser plus a Zipf share (over a shuffled user order) of the rest, capped.
  const activityCdf = zipfCdf(users, USER_EXPONENT);
  const userOrder = permutation(users, random);
  const rest = scale.nnz - users * scale.minPerUser;
  const cap = Math.floor(0.4 * items);
  const rows: number[] = [];
  const cols: number[] = [];
  const taken = new Uint8Array(items);
  for (let rank = 0; rank < users; rank++) {
    const u = userOrder[rank]!;
    const share = activityCdf[rank]! - (rank > 0 ? activityCdf[rank - 1]! : 0);
    const count = Math.min(cap, scale.minPerUser + Math.round(rest * share));
    const liked = distinct(1 + random.int(3), genreCdf, random);
    const mine: number[] = [];
    // A user's genres may hold fewer items than they play: then overall draws fill up.
    for (let attempts = 0; mine.length < count && attempts < 100 * count; attempts++) {
      let item: number;
      if (random.nextFloat() < LOYALTY) {
        const g = liked[random.int(liked.length)]!;
        item = genreItems[g]![sampleCdf(inGenre[g]!, random.nextFloat())]!;
      } else {
        item = sampleCdf(overall, random.nextFloat());
      }
      if (taken[item] === 0) {
        taken[item] = 1;
        mine.push(item);
      }
    }
    for (const item of mine) {
      taken[item] = 0;
      rows.push(u);
      cols.push(item);
    }
  }
  return {
    plays: CsrMatrix.fromCoo({ rows, cols, shape: [users, items] }),
    itemGenres: CsrMatrix.fromCoo({ rows: genreRows, cols: genreCols, shape: [items, genres] }),
  };
}

/**
 * LightFM's `Dataset.build_item_features` with identity features: row i holds
 * item i's own column and its genres' columns (after the items'), each weighing
 * 1 before the row is L1-normalised, so every stored value is 1 / (1 + genres of i).
 */
export function itemFeatureMatrix(itemGenres: CsrMatrix): CsrMatrix {
  const [items, genres] = itemGenres.shape;
  const indptr = new Int32Array(items + 1);
  const indices = new Int32Array(items + itemGenres.nnz);
  const data = new Float32Array(items + itemGenres.nnz);
  for (let i = 0; i < items; i++) {
    const { indices: g } = itemGenres.row(i);
    const start = indptr[i]!;
    indices[start] = i;
    for (let k = 0; k < g.length; k++) indices[start + 1 + k] = items + g[k]!;
    data.fill(1 / (1 + g.length), start, start + 1 + g.length);
    indptr[i + 1] = start + 1 + g.length;
  }
  return new CsrMatrix([items, items + genres], indptr, indices, data);
}

/** A copy of `m` whose rows not in `keep` are empty (same shape, so ids keep their meaning). */
export function keepRows(m: CsrMatrix, keep: Int32Array): CsrMatrix {
  const kept = new Uint8Array(m.nRows);
  for (const r of keep) kept[r] = 1;
  const indptr = new Int32Array(m.nRows + 1);
  const indices: number[] = [];
  const data: number[] = [];
  for (let r = 0; r < m.nRows; r++) {
    if (kept[r] === 1) {
      const row = m.row(r);
      indices.push(...row.indices);
      data.push(...row.data);
    }
    indptr[r + 1] = indices.length;
  }
  return new CsrMatrix(m.shape, indptr, Int32Array.from(indices), Float32Array.from(data));
}

export function outDir(scale: string): URL {
  return new URL(`./out/hybrid-${scale}/`, import.meta.url);
}

const bytes = (a: Int32Array | Float32Array) =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function writeCsr(dir: URL, name: string, m: CsrMatrix): void {
  writeFileSync(new URL(`${name}.indptr.i32`, dir), bytes(m.indptr));
  writeFileSync(new URL(`${name}.indices.i32`, dir), bytes(m.indices));
  writeFileSync(new URL(`${name}.data.f32`, dir), bytes(m.data));
}

function readArray<T>(url: URL, make: (b: ArrayBuffer) => T): T {
  const file = readFileSync(url);
  return make(file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer);
}

/** What bench/hybrid.ts fits and evaluates: the files `main` below wrote. */
export interface HybridData {
  meta: Record<string, unknown>;
  train: CsrMatrix;
  test: CsrMatrix;
  itemFeatures: CsrMatrix;
  evalUsers: Int32Array;
}

export function readHybridData(scale: string): HybridData {
  const dir = outDir(scale);
  const meta = JSON.parse(readFileSync(new URL("meta.json", dir), "utf8"));
  const shapes = meta.shapes as Record<string, [number, number]>;
  const csr = (name: string) =>
    new CsrMatrix(
      shapes[name]!,
      readArray(new URL(`${name}.indptr.i32`, dir), (b) => new Int32Array(b)),
      readArray(new URL(`${name}.indices.i32`, dir), (b) => new Int32Array(b)),
      readArray(new URL(`${name}.data.f32`, dir), (b) => new Float32Array(b)),
    );
  return {
    meta,
    train: csr("train"),
    test: csr("test"),
    itemFeatures: csr("item_features"),
    evalUsers: readArray(new URL("eval_users.i32", dir), (b) => new Int32Array(b)),
  };
}

function dump(name: string, scale: HybridScale): void {
  const started = performance.now();
  const { plays, itemGenres } = generate(scale);
  const itemFeatures = itemFeatureMatrix(itemGenres);
  const { train, test } = trainTestSplit(plays, {
    trainPercentage: 1 - TEST_SHARE,
    randomState: DATA_SEED,
  });
  const withTest = Int32Array.from(
    { length: scale.users },
    (_, u) => test.indptr[u + 1]! > test.indptr[u]! ? u : -1,
  ).filter((u) => u >= 0);
  let evalUsers = withTest;
  if (scale.evalUsers > 0 && scale.evalUsers < withTest.length) {
    const random = new Random(DATA_SEED + 1);
    const order = permutation(withTest.length, random).subarray(0, scale.evalUsers);
    evalUsers = Int32Array.from(order, (k) => withTest[k]!).sort();
  }
  const dir = outDir(name);
  mkdirSync(dir, { recursive: true });
  writeCsr(dir, "train", train);
  writeCsr(dir, "test", test);
  writeCsr(dir, "item_features", itemFeatures);
  writeFileSync(new URL("eval_users.i32", dir), bytes(evalUsers));
  const meta = {
    scale: name,
    ...scale,
    interactions: plays.nnz,
    trainNnz: train.nnz,
    testNnz: test.nnz,
    evalUserCount: evalUsers.length,
    usersWithTest: withTest.length,
    shapes: { train: train.shape, test: test.shape, item_features: itemFeatures.shape },
    made: `seed ${DATA_SEED}; loyalty ${LOYALTY}; Zipf exponents item ${ITEM_EXPONENT}, ` +
      `user ${USER_EXPONENT}, genre ${GENRE_EXPONENT}; test: each interaction with ` +
      `probability ${TEST_SHARE} (trainTestSplit)`,
  };
  writeFileSync(new URL("meta.json", dir), JSON.stringify(meta, null, 1));
  console.log(
    `data ${name}: ${scale.users} users × ${scale.items} items, ${plays.nnz} interactions ` +
      `(train ${train.nnz}, test ${test.nnz}), item features ${itemFeatures.shape[1]} ` +
      `(${itemFeatures.nnz} stored), ${evalUsers.length} evaluated users; ` +
      `${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}

if (import.meta.main) {
  const names = process.argv.slice(2);
  for (const name of names.length > 0 ? names : Object.keys(SCALES)) {
    const scale = SCALES[name];
    if (scale === undefined) {
      throw new Error(`Expected a scale among ${Object.keys(SCALES).join(", ")} but found ${name}`);
    }
    dump(name, scale);
  }
}
