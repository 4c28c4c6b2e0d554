/**
 * Item-item nearest neighbours at lastfm-360K scale: fit time and peak memory
 * of BM25Recommender and CosineRecommender for k = 20 and 100, and batched
 * recommend throughput (users/s, n = 10, liked items filtered).
 *
 *   deno run -A bench/knn.ts [--users 358000 --items 292000 --nnz 17500000
 *                             --threads 0 --recommendUsers 20000 --only -1]
 *   bun bench/knn.ts [same options]
 *
 * `--only N` runs configuration N alone (0 = BM25 k = 20, 1 = BM25 k = 100,
 * 2 = cosine k = 20, 3 = cosine k = 100); −1 (default) runs them all.
 *
 * Each (model, k) runs in a child process of its own so its peak RSS is its
 * own: the parent generates the matrix once into bench/out/knn-matrix.*, the
 * children read it. "peak RSS in fit" is the process's high-water mark from
 * just before fit (reset through /proc/self/clear_refs where Linux allows it)
 * to its end, so it includes the input matrix the child holds. The fit's rate
 * counts Σ_u nnz_u² multiply-adds, the whole product S = WᵀW.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  BM25Recommender,
  CosineRecommender,
  type NearestNeighboursRecommender,
} from "../lib/models/nearest_neighbours.ts";
import { getNumThreads, setNumThreads } from "../lib/native/library.ts";
import { CsrMatrix } from "../lib/sparse.ts";
import { lastfmSized, numberArgs, peakRssMiB, runtimeName } from "./common.ts";

const args = numberArgs({
  users: 358_000,
  items: 292_000,
  nnz: 17_500_000,
  threads: 0,
  recommendUsers: 20_000,
  only: -1,
  config: -1,
});
const configs = [
  { name: "bm25", k: 20 },
  { name: "bm25", k: 100 },
  { name: "cosine", k: 20 },
  { name: "cosine", k: 100 },
] as const;
const out = new URL("./out/", import.meta.url);
const prefix = `knn-matrix-${args.users}-${args.items}-${args.nnz}`;

if (args.config < 0) {
  mkdirSync(out, { recursive: true });
  const m = lastfmSized(args);
  const bytes = (a: Int32Array | Float32Array) =>
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  writeFileSync(new URL(`${prefix}.indptr`, out), bytes(m.indptr));
  writeFileSync(new URL(`${prefix}.indices`, out), bytes(m.indices));
  writeFileSync(new URL(`${prefix}.data`, out), bytes(m.data));
  if (args.threads > 0) setNumThreads(args.threads);
  console.log(`runtime: ${runtimeName()}, threads: ${getNumThreads()}`);
  const self = fileURLToPath(import.meta.url);
  const runtimeArgs = runtimeName() === "deno" ? ["run", "-A", self] : [self];
  for (let config = 0; config < configs.length; config++) {
    if (args.only >= 0 && config !== args.only) continue;
    const childArgs = [
      ...runtimeArgs,
      "--users",
      `${args.users}`,
      "--items",
      `${args.items}`,
      "--nnz",
      `${args.nnz}`,
      "--threads",
      `${args.threads}`,
      "--recommendUsers",
      `${args.recommendUsers}`,
      "--config",
      `${config}`,
    ];
    execFileSync(process.execPath, childArgs, { stdio: "inherit" });
  }
} else {
  const read = (name: string) => readFileSync(new URL(`${prefix}.${name}`, out));
  const view = <T>(
    make: (b: ArrayBuffer, o: number, l: number) => T,
    bytes: Buffer,
    size: number,
  ) =>
    make(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      0,
      bytes.byteLength / size,
    );
  const indptr = view((b, o, l) => new Int32Array(b, o, l), read("indptr"), 4);
  const indices = view((b, o, l) => new Int32Array(b, o, l), read("indices"), 4);
  const data = view((b, o, l) => new Float32Array(b, o, l), read("data"), 4);
  const plays = new CsrMatrix([args.users, args.items], indptr, indices, data);
  if (args.threads > 0) setNumThreads(args.threads);
  const { name, k } = configs[args.config]!;
  const model: NearestNeighboursRecommender = name === "bm25"
    ? new BM25Recommender({ k })
    : new CosineRecommender({ k });

  const rssBefore = currentRssMiB();
  resetPeakRss();
  const started = performance.now();
  await model.fit(plays, { progress: false });
  const fitSeconds = (performance.now() - started) / 1000;
  const peak = peakRssMiB();
  // The product's multiply-adds: Σ_u nnz_u² (every pair of a user's items).
  let multiplyAdds = 0;
  for (let u = 0; u < plays.nRows; u++) multiplyAdds += (indptr[u + 1]! - indptr[u]!) ** 2;

  const users = Int32Array.from(
    { length: Math.min(args.recommendUsers, plays.nRows) },
    (_, j) => (j * 7919) % plays.nRows,
  );
  model.recommend(users.subarray(0, 64), plays, { n: 10 }); // warm up
  const recommendStarted = performance.now();
  model.recommend(users, plays, { n: 10 });
  const recommendSeconds = (performance.now() - recommendStarted) / 1000;

  console.log(
    `${name.padEnd(6)} k=${String(k).padEnd(3)}: fit ${fitSeconds.toFixed(2)} s (${
      (multiplyAdds / fitSeconds / 1e9).toFixed(2)
    } G multiply-adds/s of ${
      (multiplyAdds / 1e9).toFixed(1)
    } G), similarity nnz ${model.similarity.nnz}, ` +
      `RSS before fit ${rssBefore.toFixed(0)} MiB, peak RSS in fit ${peak.toFixed(0)} MiB; ` +
      `recommend ${
        (users.length / recommendSeconds).toFixed(0)
      } users/s (${users.length} users, n = 10, liked filtered)`,
  );
}

function currentRssMiB(): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.memoryUsage().rss / 2 ** 20;
}

/** Resets the kernel's peak-RSS mark (VmHWM) to the current RSS, where allowed. */
function resetPeakRss(): void {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
  } catch {
    // not Linux, or not permitted: the peak then covers the whole process
  }
}
