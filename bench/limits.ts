/**
 * Each kernel's distance to the machine's limit, measured, not guessed: the
 * machine's float32 FMA peak, bf16 dot-product peak, streaming and random
 * cache-line read bandwidth (zig/peak.zig, through `zig build peak`), then
 * ALS (CG and Cholesky), batched recommend, BPR and the BM25 item-kNN fit on
 * the lastfm-360K-sized matrix, each printed as GFLOP/s and GB/s next to the
 * peak measured on the same number of threads.
 *
 *   deno run -A bench/limits.ts [--threads 1,2] [--users 358000 --items 292000
 *                                --nnz 17500000 --factors 64 --recommendUsers 20000]
 *
 * Work models (stated so the fractions can be checked; GB/s are set against the
 * probe of the same access: random 256-byte rows for the factor-row gathers of
 * ALS and BPR, random 64-byte lines for the kNN accumulator):
 * - ALS CG, one iteration = both halves; a half over R rows and nnz nonzeros
 *   with s steps: (s + 1)·(2f²·R + 4f·nnz) flops (each step one YᵀY·p and a dot
 *   plus an axpy per nonzero; the starting residual costs one more). Traffic:
 *   the factor rows of the nonzeros gathered once per row solve, nnz·f·4 bytes
 *   a half, at random.
 * - ALS Cholesky: a half costs f(f+1)·nnz (the upper triangle of each rank-1
 *   term) + R·(f³/3 + 2f²) (factorization and two triangular solves); the same
 *   gather.
 * - recommend: 2f flops per (user, item) pair scored; the item matrix is read
 *   once per group of queries (negligible traffic).
 * - BPR: per sample three factor rows of f + 1 floats read and written at
 *   random, 2·3·(f + 1)·4 bytes; about 12(f + 1) flops.
 * - BM25 item-kNN fit: Σ_users nnz_u² multiply-adds of the item × item
 *   product (2 flops each), each a read-modify-write of a 4-byte accumulator
 *   plus an 8-byte (index, value) read.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";
import {
  AlternatingLeastSquares,
  BayesianPersonalizedRanking,
  bm25Weight,
  type CsrMatrix,
  getNumThreads,
  setNumThreads,
} from "../mod.ts";
import { BM25Recommender } from "../lib/models/nearest_neighbours.ts";
import { benchArgs, lastfmSized, peakRssMiB, runtimeName } from "./common.ts";

const args = benchArgs({
  threads: "1,2",
  users: 358_000,
  items: 292_000,
  nnz: 17_500_000,
  factors: 64,
  recommendUsers: 20_000,
});
const threadCounts = String(args.threads).split(",").map(Number);
if (threadCounts.some((t) => !Number.isInteger(t) || t < 1)) {
  throw new Error(`Expected --threads as a list of positive integers but found ${args.threads}`);
}

interface Peak {
  threads: number;
  fmaGflops: number;
  bf16Gflops: number;
  streamGBs: number;
  randomLineGBs: number;
  randomRowGBs: number;
}

/** zig/peak.zig's measurements for 1..max threads (it prints one JSON line on stderr). */
function measurePeaks(max: number): Peak[] {
  const zig = process.env.TACIT_ZIG ?? "zig";
  const root = new URL("..", import.meta.url).pathname;
  const result = spawnSync(zig, ["build", "peak", "-Doptimize=ReleaseFast", "--", `${max}`], {
    cwd: root,
    encoding: "utf8",
  });
  const line = (result.stderr ?? "").split("\n").find((l) => l.startsWith("{"));
  if (result.status !== 0 || line === undefined) {
    throw new Error(
      `zig build peak failed (${result.status}): ${result.stderr}${result.error ?? ""}`,
    );
  }
  return JSON.parse(line).results;
}

const maxThreads = Math.max(...threadCounts);
console.log(`machine: ${cpuName()}, ${navigator.hardwareConcurrency} logical cores`);
console.log(`runtime: ${runtimeName()}; measuring the peaks (zig/peak.zig) ...`);
const peaks = measurePeaks(maxThreads);
for (const p of peaks) {
  console.log(
    `peak ${p.threads} thread${p.threads === 1 ? " " : "s"}: float32 FMA ${
      p.fmaGflops.toFixed(0)
    } GFLOP/s, bf16 dot ${p.bf16Gflops.toFixed(0)} GFLOP/s, stream read ${
      p.streamGBs.toFixed(1)
    } GB/s, random 64-byte lines ${p.randomLineGBs.toFixed(2)} GB/s, random 256-byte rows ${
      p.randomRowGBs.toFixed(2)
    } GB/s`,
  );
}

const plays = bm25Weight(lastfmSized(args));
const f = args.factors;
const rowsBoth = plays.nRows + plays.nCols;
const sumSquares = rowLengthSquares(plays);

interface Row {
  kernel: string;
  threads: number;
  seconds: number;
  unit: string;
  flops: number;
  bytes: number;
  /** Which bandwidth the bytes are measured against: random 64-byte lines, random 256-byte rows, streaming. */
  memory: "line" | "row" | "stream";
}
const rows: Row[] = [];

for (const threads of threadCounts) {
  setNumThreads(threads);
  for (const solver of ["cg", "cholesky"] as const) {
    const seconds: number[] = [];
    await new AlternatingLeastSquares({
      factors: f,
      iterations: solver === "cg" ? 2 : 1,
      solver,
      randomState: 1,
      regularization: 0.05,
    }).fit(plays, { progress: false, callback: (_i, s) => seconds.push(s) });
    const s = seconds[seconds.length - 1]!;
    const gather = 2 * plays.nnz * f * 4;
    const flops = solver === "cg"
      ? 4 * (2 * f * f * rowsBoth + 4 * f * 2 * plays.nnz)
      : 2 * f * (f + 1) * plays.nnz + rowsBoth * (f ** 3 / 3 + 2 * f * f);
    rows.push({
      kernel: `ALS ${solver}, per iteration`,
      threads,
      seconds: s,
      unit: "s/iteration",
      flops,
      bytes: gather,
      memory: "row",
    });
  }

  const model = await new AlternatingLeastSquares({
    factors: f,
    iterations: 1,
    randomState: 1,
    regularization: 0.05,
  }).fit(plays, { progress: false });
  const users = Int32Array.from(
    { length: Math.min(args.recommendUsers, plays.nRows) },
    (_, k) => (k * 7919) % plays.nRows,
  );
  for (const precision of ["float32", "auto"] as const) {
    model.recommend(users.subarray(0, 256), plays, { n: 10, precision });
    const started = performance.now();
    model.recommend(users, plays, { n: 10, precision });
    rows.push({
      kernel: `recommend n = 10, ${users.length} users, precision ${precision}`,
      threads,
      seconds: (performance.now() - started) / 1000,
      unit: "s",
      // The float32 work the call stands for (a bf16 pass does it in fewer operations).
      flops: 2 * f * plays.nCols * users.length,
      bytes: 0,
      memory: "stream",
    });
  }

  const bprSeconds: number[] = [];
  await new BayesianPersonalizedRanking({
    factors: f,
    iterations: 1,
    randomState: 1,
    numThreads: threads,
  }).fit(plays, { progress: false, callback: (_e, s) => bprSeconds.push(s) });
  rows.push({
    kernel: "BPR, per epoch",
    threads,
    seconds: bprSeconds[0]!,
    unit: "s/epoch",
    flops: 12 * (f + 1) * plays.nnz,
    bytes: 2 * 3 * (f + 1) * 4 * plays.nnz,
    memory: "row",
  });

  const knnStarted = performance.now();
  await new BM25Recommender({ k: 20, numThreads: threads }).fit(plays, { progress: false });
  rows.push({
    kernel: "BM25 item-kNN fit, k = 20",
    threads,
    seconds: (performance.now() - knnStarted) / 1000,
    unit: "s",
    flops: 2 * sumSquares,
    bytes: 12 * sumSquares,
    memory: "line",
  });
}

console.log(
  `\n| kernel | threads | time | GFLOP/s | of FMA peak | GB/s | of bandwidth |\n| --- | --- | --- | --- | --- | --- | --- |`,
);
for (const row of rows) {
  const peak = peaks.find((p) => p.threads === row.threads)!;
  const gflops = row.flops / row.seconds / 1e9;
  const gbs = row.bytes / row.seconds / 1e9;
  const bandwidth = { line: peak.randomLineGBs, row: peak.randomRowGBs, stream: peak.streamGBs }[
    row.memory
  ];
  console.log(
    `| ${row.kernel} | ${row.threads} | ${row.seconds.toFixed(2)} ${row.unit} | ${
      gflops.toFixed(1)
    } | ${percent(gflops / peak.fmaGflops)} | ${row.bytes > 0 ? gbs.toFixed(2) : "—"} | ${
      row.bytes > 0 ? `${percent(gbs / bandwidth)} (${row.memory})` : "—"
    } |`,
  );
}
console.log(
  `\npool threads at the end: ${getNumThreads()}; peak RSS: ${peakRssMiB().toFixed(0)} MiB`,
);

function percent(fraction: number): string {
  return `${(100 * fraction).toFixed(0)}%`;
}

/** Σ over rows of (stored entries)²: the multiply-adds of mᵀm. */
function rowLengthSquares(m: CsrMatrix): number {
  let total = 0;
  for (let r = 0; r < m.nRows; r++) {
    const length = m.indptr[r + 1]! - m.indptr[r]!;
    total += length * length;
  }
  return total;
}

function cpuName(): string {
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    return /model name\s*:\s*(.*)/.exec(info)?.[1] ?? "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}
