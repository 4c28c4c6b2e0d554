/**
 * The tacit side of the ANN comparison (bench/compare_ann.sh), measured as
 * bench/ann_reference.py measures hnswlib, faiss and annoy, on the files bench/ann_data.ts
 * wrote; one JSON line per measurement in bench/out/ann/<dataset>/tacit.jsonl (the same
 * fields as reference.jsonl) and the table of bench/ann_table.ts on stdout.
 *
 *   deno run -A bench/ann.ts [--datasets powerlaw,planted] [--threads 1,2] [--maxSeconds 60]
 *                            [--sweeps 0: builds and routes only, keeping the last sweep points]
 *
 * Rows, for 1 and 2 threads:
 *   exact     the model's exact batched `recommend` (the ground truth's own path).
 *   hnsw-ip, hnsw-ip-augmented, ivf-flat, forest   when mod.ts exports the indexes: build
 *             seconds and `byteLength`, then per sweep point (ef, nprobe, searchK) recall@10
 *             and QPS of `search` with `strategy: "index"` (the index alone) under no
 *             filter, `exclude` = the liked-items CSR, `exclude` = the 90% excluded ids;
 *             then `model.recommend(..., { index })` at the index's default effort
 *             ("model-route"), and after `index.calibrate(500 users, { recall: 0.95 })`
 *             ("planner": the calibrated effort, or exact where that is faster).
 * A series stops at recall 0.999 or after a point slower than --maxSeconds.
 *
 * @module
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as tacit from "../mod.ts";
import { AlternatingLeastSquares, CsrMatrix, type FactorMatrix, setNumThreads } from "../mod.ts";
import type { RecommendOptions } from "../lib/models/matrix_factorization.ts";
import { importFactors } from "../lib/io/factors.ts";
import { type AnnData, annDir, DATASETS, type FilterName, K, readAnnData } from "./ann_data.ts";
import { type AnnRecord, annTable, readRecords } from "./ann_table.ts";
import { benchArgs, peakRssMiB, runtimeName } from "./common.ts";

/** What this bench needs of an index (the API of lib/ann, written before it landed). */
interface AnnIndexLike {
  search(queries: FactorMatrix, n: number, options: Record<string, unknown>): { ids: Int32Array };
  calibrate(queries: FactorMatrix, options: Record<string, unknown>): Record<string, unknown>;
  readonly byteLength: number;
  dispose(): void;
}

/** 500 evenly spaced users' factor rows (offset by half a stride from the query sample's seed). */
function calibrationRows(model: AlternatingLeastSquares): FactorMatrix {
  const { data, shape } = model.userFactors;
  const [users, f] = shape;
  const take = 500;
  const rows = new Float32Array(take * f);
  for (let k = 0; k < take; k++) {
    const u = Math.floor(((k + 0.5) * users) / take);
    rows.set(data.subarray(u * f, (u + 1) * f), k * f);
  }
  return { data: rows, shape: [take, f] };
}
interface AnnClass {
  build(items: FactorMatrix, options: Record<string, unknown>): Promise<AnnIndexLike>;
}

/** One index as the sweep sees it: class, build options, effort option and its sweep. */
interface Variant {
  index: string;
  class: string;
  build: Record<string, unknown>;
  param: string;
  sweep: number[];
}

function variants(items: number): Variant[] {
  const nlist = Math.max(1, Math.round(Math.sqrt(items)));
  const hnsw = { metric: "ip", m: 16, efConstruction: 200, randomState: 1 };
  const efs = [10, 20, 40, 80, 160, 320, 640, 1280, 2560];
  return [
    {
      index: "hnsw-ip",
      class: "HnswIndex",
      build: { ...hnsw, ipMode: "direct" },
      param: "ef",
      sweep: efs,
    },
    {
      index: "hnsw-ip-augmented",
      class: "HnswIndex",
      build: { ...hnsw, ipMode: "augmented" },
      param: "ef",
      sweep: efs,
    },
    {
      index: "ivf-flat",
      class: "IvfIndex",
      build: { metric: "ip", nlist, randomState: 1 },
      param: "nprobe",
      sweep: [1, 2, 4, 8, 16, 32, 64, 128].filter((p) => p <= nlist),
    },
    {
      index: "forest",
      class: "ProjectionForestIndex",
      build: { metric: "ip", nTrees: 50, randomState: 1 },
      param: "searchK",
      sweep: [500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000],
    },
  ];
}

const STOP_RECALL = 0.999;

/** Mean over queries of the share of the true ids (those >= 0) found in `ids`. */
function recallAtK(ids: Int32Array, truth: Int32Array): number {
  let sum = 0;
  const queries = truth.length / K;
  for (let q = 0; q < queries; q++) {
    const found = new Set(ids.subarray(q * K, (q + 1) * K));
    let valid = 0;
    let hit = 0;
    for (const t of truth.subarray(q * K, (q + 1) * K)) {
      if (t < 0) continue;
      valid++;
      if (found.has(t)) hit++;
    }
    sum += hit / Math.max(valid, 1);
  }
  return sum / queries;
}

/** The model's userItems: a users × items matrix whose query rows hold their liked items. */
function userItemsOf(data: AnnData): CsrMatrix {
  const rows = new Int32Array(data.liked.nnz);
  for (let k = 0; k < data.queries.length; k++) {
    rows.fill(data.queries[k]!, data.liked.indptr[k]!, data.liked.indptr[k + 1]!);
  }
  return CsrMatrix.fromCoo({
    rows,
    cols: data.liked.indices,
    shape: [data.users.shape[0], data.items.shape[0]],
  });
}

function queryRows(data: AnnData): FactorMatrix {
  const f = data.users.shape[1];
  const rows = new Float32Array(data.queries.length * f);
  data.queries.forEach((u, k) => rows.set(data.users.data.subarray(u * f, (u + 1) * f), k * f));
  return { data: rows, shape: [data.queries.length, f] };
}

/** Records a sweep point per call; a series stops as the module documentation says. */
class Measure {
  readonly #stopped = new Set<string>();
  constructor(
    readonly data: AnnData,
    readonly emit: (r: Omit<AnnRecord, "lib" | "dataset" | "threads">) => void,
    readonly maxSeconds: number,
  ) {}

  run(
    filter: FilterName,
    method: string,
    search: () => { ids: Int32Array },
    point: { index: string; param: string; value: number | null },
  ): void {
    const key = `${point.index}|${filter}|${method}`;
    if (this.#stopped.has(key)) return;
    const started = performance.now();
    const { ids } = search();
    const seconds = (performance.now() - started) / 1000;
    const recall = recallAtK(ids, this.data.truth[filter]);
    this.emit({
      kind: "query",
      filter,
      method,
      recall,
      qps: this.data.queries.length / seconds,
      seconds,
      ...point,
    });
    if (recall >= STOP_RECALL || seconds > this.maxSeconds) this.#stopped.add(key);
  }
}

const FILTER_OPTIONS = (data: AnnData) => ({
  none: { filterAlreadyLiked: false },
  liked: { filterAlreadyLiked: true },
  excluded: { filterAlreadyLiked: false, filterItems: data.excludedIds },
});

function exactRows(
  model: AlternatingLeastSquares,
  userItems: CsrMatrix,
  data: AnnData,
  m: Measure,
): void {
  m.emit({ kind: "build", index: "exact", build_s: 0, bytes: 0 });
  const options = FILTER_OPTIONS(data);
  for (const f of ["none", "liked", "excluded"] as const) {
    m.run(f, "recommend", () => model.recommend(data.queries, userItems, { n: K, ...options[f] }), {
      index: "exact",
      param: "none",
      value: null,
    });
  }
}

async function indexRows(
  v: Variant,
  sweeps: boolean,
  threads: number,
  model: AlternatingLeastSquares,
  userItems: CsrMatrix,
  data: AnnData,
  m: Measure,
): Promise<void> {
  const Class = (tacit as unknown as Record<string, AnnClass | undefined>)[v.class]!;
  const started = performance.now();
  const index = await Class.build(data.items, { ...v.build, numThreads: threads, progress: false });
  const build_s = (performance.now() - started) / 1000;
  m.emit({ kind: "build", index: v.index, build_s, bytes: index.byteLength });
  const queries = queryRows(data);
  const filters = {
    none: {},
    liked: { exclude: data.liked },
    excluded: { exclude: data.excludedIds },
  };
  for (const value of sweeps ? v.sweep : []) {
    for (const f of ["none", "liked", "excluded"] as const) {
      const options = { [v.param]: value, ...filters[f], strategy: "index", numThreads: threads };
      m.run(f, f === "none" ? "batch" : "exclude", () => index.search(queries, K, options), {
        index: v.index,
        param: v.param,
        value,
      });
    }
  }
  const recommendOptions = FILTER_OPTIONS(data);
  for (const method of ["model-route", "planner"] as const) {
    if (method === "planner") {
      // calibrate() on 500 other users: the effort for recall 0.95, or exact where faster.
      const calibrated = performance.now();
      const plan = index.calibrate(calibrationRows(model), { recall: 0.95, numThreads: threads });
      m.emit({
        kind: "plan",
        index: v.index,
        calibrate_s: (performance.now() - calibrated) / 1000,
        ...plan,
      });
    }
    for (const f of ["none", "liked", "excluded"] as const) {
      const options = { n: K, ...recommendOptions[f], index } as unknown as RecommendOptions;
      try {
        m.run(f, method, () => model.recommend(data.queries, userItems, options), {
          index: v.index,
          param: "default",
          value: null,
        });
      } catch (error) {
        m.emit({
          kind: "skipped",
          index: v.index,
          reason: `${method}: ${(error as Error).message}`,
        });
        break;
      }
    }
  }
  index.dispose();
}

async function bench(
  name: string,
  threadCounts: number[],
  maxSeconds: number,
  sweeps: boolean,
): Promise<void> {
  const data = await readAnnData(name);
  const model = new AlternatingLeastSquares({ factors: data.items.shape[1] });
  await importFactors(model, annDir(name));
  const userItems = userItemsOf(data);
  const records: AnnRecord[] = [];
  const hasIndexes = "HnswIndex" in tacit;
  for (const threads of threadCounts) {
    setNumThreads(threads);
    const m = new Measure(data, (r) => {
      records.push(
        { lib: "tacit", dataset: name, threads, queries: data.queries.length, ...r } as AnnRecord,
      );
    }, maxSeconds);
    exactRows(model, userItems, data, m);
    if (!hasIndexes) {
      m.emit({ kind: "skipped", reason: "mod.ts does not export HnswIndex yet: exact rows only" });
      continue;
    }
    for (const v of variants(data.items.shape[0])) {
      await indexRows(v, sweeps, threads, model, userItems, data, m);
    }
  }
  const path = join(annDir(name), "tacit.jsonl");
  // --sweeps 0 re-measures builds and routes and keeps the sweep points of the last run.
  const kept = sweeps
    ? []
    : readRecords(path).filter((r) =>
      r.kind === "query" && (r.method === "batch" || r.method === "exclude")
    );
  records.unshift(...kept);
  writeFileSync(path, records.map((r) => JSON.stringify(r) + "\n").join(""));
  console.log(`ann ${name}: ${data.queries.length} queries, wrote ${path}`);
  console.log(annTable(records));
}

if (import.meta.main) {
  const args = benchArgs({
    datasets: DATASETS.join(","),
    threads: "1,2",
    maxSeconds: 60,
    sweeps: 1,
  });
  console.log(`runtime: ${runtimeName()}`);
  for (const name of args.datasets.split(",")) {
    await bench(name, args.threads.split(",").map(Number), args.maxSeconds, args.sweeps !== 0);
  }
  console.log(`peak RSS: ${peakRssMiB().toFixed(0)} MiB`);
}
