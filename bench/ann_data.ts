/**
 * The data of the approximate-nearest-neighbour comparison (bench/compare_ann.sh): two
 * lastfm-360K-sized matrices, tacit ALS factors fitted on each, a seeded sample of query
 * users, and the exact top 10 of every query under three filters, which bench/ann.ts and
 * bench/ann_reference.py both read.
 *
 *   deno run -A bench/ann_data.ts [--scale 1] [--threads 0] [--datasets powerlaw,planted]
 *
 * Datasets: `powerlaw` is bench/als.ts's matrix (powerLawMatrix, popularity alone);
 * `planted` is plantedTasteDataset's (the same popularity laws plus genres users favour).
 * Both are 358K users × 292K items × 17.5M wanted nonzeros times `--scale`. A dataset
 * whose meta.json already records the same scale is not made again.
 *
 * Files in bench/out/ann/<name>/ (NPY, C order, little-endian):
 *   user_factors.npy, item_factors.npy   float32 [users, 64], [items, 64] (exportFactors)
 *   queries.npy                          int32 [q]: the query users, sorted
 *   liked_indptr.npy, liked_indices.npy  int32: CSR of the queries' liked items, row k = queries[k]
 *   excluded_mask.npy                    int32 [items]: 1 for the 90% of items excluded for all
 *   truth_<filter>_ids.npy, _scores.npy  int32 / float32 [q, 10], exact top 10 by inner
 *                                        product, filter ∈ none, liked, excluded
 *   meta.json                            sizes, seeds, how it was made, seconds
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  AlternatingLeastSquares,
  bm25Weight,
  CsrMatrix,
  type FactorMatrix,
  getNumThreads,
  setNumThreads,
} from "../mod.ts";
import { exportFactors } from "../lib/io/factors.ts";
import { readNpy, writeNpy } from "../lib/io/npy.ts";
import { permutation, plantedTasteDataset, powerLawMatrix } from "../lib/datasets/synthetic.ts";
import { Random } from "../lib/random.ts";
import { benchArgs, peakRssMiB } from "./common.ts";

/** The full-scale sizes; `--scale` multiplies each. */
export const FULL = { users: 358_000, items: 292_000, nnz: 17_500_000, queries: 10_000 };
export const DATASETS = ["powerlaw", "planted"] as const;
export type DatasetName = (typeof DATASETS)[number];
/** The three filter cases every index is measured under. */
export const FILTERS = ["none", "liked", "excluded"] as const;
export type FilterName = (typeof FILTERS)[number];

export const K = 10;
const EXCLUDED_SHARE = 0.9;
const ALS = { factors: 64, iterations: 8, regularization: 0.05, randomState: 1 };
const DATA_SEED = 1;
const QUERY_SEED = 2;
const MASK_SEED = 3;

export function annDir(name: string): string {
  return new URL(`./out/ann/${name}/`, import.meta.url).pathname;
}

/** What bench/ann.ts reads back: the files `make` below wrote. */
export interface AnnData {
  meta: Record<string, unknown>;
  users: FactorMatrix;
  items: FactorMatrix;
  queries: Int32Array;
  /** Row k: the items query k liked. */
  liked: CsrMatrix;
  /** The ids excluded for every query in the `excluded` case, ascending. */
  excludedIds: Int32Array;
  truth: Record<FilterName, Int32Array>;
}

async function npy<T>(dir: string, file: string, as: new (...a: never[]) => T): Promise<T> {
  const { array } = await readNpy(join(dir, file));
  if (!(array instanceof as)) throw new Error(`Expected ${file} to hold ${as.name}`);
  return array;
}

async function factors(dir: string, file: string): Promise<FactorMatrix> {
  const { array, shape } = await readNpy(join(dir, file));
  if (!(array instanceof Float32Array) || shape.length !== 2) {
    throw new Error(`Expected ${file} to be a float32 matrix`);
  }
  return { data: array, shape: [shape[0]!, shape[1]!] };
}

export async function readAnnData(name: string): Promise<AnnData> {
  const dir = annDir(name);
  const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8"));
  const items = await factors(dir, "item_factors.npy");
  const queries = await npy(dir, "queries.npy", Int32Array);
  const indptr = await npy(dir, "liked_indptr.npy", Int32Array);
  const indices = await npy(dir, "liked_indices.npy", Int32Array);
  const mask = await npy(dir, "excluded_mask.npy", Int32Array);
  const truth = {} as Record<FilterName, Int32Array>;
  for (const f of FILTERS) truth[f] = await npy(dir, `truth_${f}_ids.npy`, Int32Array);
  return {
    meta,
    users: await factors(dir, "user_factors.npy"),
    items,
    queries,
    liked: new CsrMatrix(
      [queries.length, items.shape[0]],
      indptr,
      indices,
      new Float32Array(indices.length).fill(1),
    ),
    excludedIds: Int32Array.from(mask.keys()).filter((i) => mask[i] === 1),
    truth,
  };
}

function generate(name: DatasetName, sizes: typeof FULL): CsrMatrix {
  const { users, items, nnz } = sizes;
  return name === "powerlaw"
    ? powerLawMatrix({ users, items, nnz, seed: DATA_SEED })
    : plantedTasteDataset({ users, items, nnz, seed: DATA_SEED }).plays;
}

/** `count` users with at least one play, a seeded sample, sorted. */
function sampleQueries(plays: CsrMatrix, count: number): Int32Array {
  const active = Int32Array.from(plays.indptr.subarray(1).keys())
    .filter((u) => plays.indptr[u + 1]! > plays.indptr[u]!);
  const order = permutation(active.length, new Random(QUERY_SEED));
  return Int32Array.from(order.subarray(0, Math.min(count, active.length)), (k) => active[k]!)
    .sort();
}

/** A 0/1 mask excluding a seeded `EXCLUDED_SHARE` of the items. */
function excludedMask(items: number): Int32Array {
  const mask = new Int32Array(items);
  const order = permutation(items, new Random(MASK_SEED));
  for (const i of order.subarray(0, Math.round(EXCLUDED_SHARE * items))) mask[i] = 1;
  return mask;
}

async function make(name: DatasetName, scale: number): Promise<void> {
  const dir = annDir(name);
  const metaPath = join(dir, "meta.json");
  if (existsSync(metaPath) && JSON.parse(readFileSync(metaPath, "utf8")).scale === scale) {
    console.log(`ann_data ${name}: cached in ${dir}`);
    return;
  }
  const sizes = Object.fromEntries(
    Object.entries(FULL).map(([k, v]) => [k, Math.max(1, Math.round(v * scale))]),
  ) as typeof FULL;
  const seconds: Record<string, number> = {};
  let started = performance.now();
  const lap = (what: string) => {
    seconds[what] = (performance.now() - started) / 1000;
    started = performance.now();
  };
  const plays = generate(name, sizes);
  lap("generate");
  const model = new AlternatingLeastSquares(ALS);
  await model.fit(bm25Weight(plays), { progress: false });
  lap("fit");
  mkdirSync(dir, { recursive: true });
  await exportFactors(model, dir);
  const queries = sampleQueries(plays, sizes.queries);
  const liked = plays.rows(queries);
  const mask = excludedMask(plays.nCols);
  const excludedIds = Int32Array.from(mask.keys()).filter((i) => mask[i] === 1);
  await writeNpy(join(dir, "queries.npy"), { array: queries, shape: [queries.length] });
  await writeNpy(join(dir, "liked_indptr.npy"), {
    array: liked.indptr,
    shape: [queries.length + 1],
  });
  await writeNpy(join(dir, "liked_indices.npy"), { array: liked.indices, shape: [liked.nnz] });
  await writeNpy(join(dir, "excluded_mask.npy"), { array: mask, shape: [mask.length] });
  const options = {
    none: { filterAlreadyLiked: false },
    liked: { filterAlreadyLiked: true },
    excluded: { filterAlreadyLiked: false, filterItems: excludedIds },
  };
  for (const f of FILTERS) {
    const top = model.recommend(queries, plays, { n: K, ...options[f] });
    await writeNpy(join(dir, `truth_${f}_ids.npy`), { array: top.ids, shape: top.shape });
    await writeNpy(join(dir, `truth_${f}_scores.npy`), { array: top.scores, shape: top.shape });
  }
  lap("truth");
  const meta = {
    name,
    scale,
    ...sizes,
    storedNnz: plays.nnz,
    queryCount: queries.length,
    likedNnz: liked.nnz,
    excludedCount: excludedIds.length,
    k: K,
    als: { ...ALS, weighting: "bm25Weight (k1 100, b 0.8)" },
    made: `${name === "powerlaw" ? "powerLawMatrix" : "plantedTasteDataset"} seed ${DATA_SEED}; ` +
      `queries: seed ${QUERY_SEED} sample of users with a play; excluded: seed ${MASK_SEED} ` +
      `${EXCLUDED_SHARE * 100}% of items; truth: model.recommend (exact)`,
    threads: getNumThreads(),
    seconds,
  };
  writeFileSync(metaPath, JSON.stringify(meta, null, 1));
  console.log(
    `ann_data ${name}: ${plays.nRows} users × ${plays.nCols} items, ${plays.nnz} nonzeros, ` +
      `${queries.length} queries; generate ${seconds.generate!.toFixed(1)} s, fit ` +
      `${seconds.fit!.toFixed(1)} s, truth ${seconds.truth!.toFixed(1)} s; ` +
      `peak RSS ${peakRssMiB().toFixed(0)} MiB`,
  );
}

if (import.meta.main) {
  const args = benchArgs({ scale: 1, threads: 0, datasets: DATASETS.join(",") });
  if (!(args.scale > 0 && args.scale <= 1)) {
    throw new Error(`Expected --scale in (0, 1] but found ${args.scale}`);
  }
  if (args.threads > 0) setNumThreads(args.threads);
  for (const name of args.datasets.split(",")) {
    if (!(DATASETS as readonly string[]).includes(name)) {
      throw new Error(`Expected --datasets among ${DATASETS.join(", ")} but found ${name}`);
    }
    await make(name as DatasetName, args.scale);
  }
}
