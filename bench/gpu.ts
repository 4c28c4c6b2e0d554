/**
 * The GPU backend at lastfm-360K scale (358K users × 292K items, 17.5M
 * nonzeros, bm25-weighted; 64 factors): ALS seconds per iteration (CG and
 * Cholesky, the mean after the first), BPR seconds per epoch, exact batched
 * recommend users/s (n = 10, liked items filtered) and the device memory in
 * use at its highest sample, next to the CPU's figures for the same calls
 * when `--cpu 1`. Prints `RESULT {json}` lines as bench/compare_kernels.ts.
 * Without a usable GPU it says why and exits 0 (nothing to measure).
 *
 *   deno run -A bench/gpu.ts [--factors 64 --iterations 4 --users 200000 --cpu 0 --scale 1]
 *   bun bench/gpu.ts ...                (scripts/gpu_check.sh on a GPU machine)
 */
import process from "node:process";
import {
  AlternatingLeastSquares,
  BayesianPersonalizedRanking,
  gpuAvailability,
  gpuMemory,
} from "../mod.ts";
import { bm25Weight } from "../lib/weighting.ts";
import { benchArgs, lastfmSized, peakRssMiB, runtimeName } from "./common.ts";

const args = benchArgs({ factors: 64, iterations: 4, users: 200_000, cpu: 0, scale: 1 });
if (!(args.scale > 0 && args.scale <= 1)) {
  throw new RangeError(`Expected --scale in (0, 1] but found ${args.scale}`);
}
const state = gpuAvailability();
if (!state.available) {
  console.log(`GPU unavailable: ${state.reason}; nothing to measure`);
  process.exit(0);
}

const { device } = state;
console.log(
  `gpu: ${device.name} (compute ${device.computeCapability}, ${device.multiprocessors} SMs, ` +
    `${
      (device.memoryTotal / 2 ** 30).toFixed(1)
    } GiB; driver CUDA ${device.driver}, runtime ${device.runtime}); ` +
    `${runtimeName()}`,
);
const baseline = gpuMemory();
let peakUsed = 0;
const sample = () => {
  const { free, total } = gpuMemory();
  peakUsed = Math.max(peakUsed, total - free - (baseline.total - baseline.free));
};

const started = performance.now();
// --scale shrinks the matrix (each side and the nonzeros): a smoke run on the
// CPU emulator (TACIT_CUDA_LIB=cuda-out/emulated/libtacit_cuda.so) uses 0.002.
const scaled = (count: number) => Math.max(1, Math.round(count * args.scale));
const plays = bm25Weight(
  lastfmSized({ users: scaled(358_000), items: scaled(292_000), nnz: scaled(17_500_000) }),
);
console.log(
  `bm25-weighted: ${plays.nnz} nonzeros (generated and weighted in ${
    ((performance.now() - started) / 1000).toFixed(1)
  } s)`,
);

function result(kernel: string, value: number, unit: string, where = "gpu"): void {
  console.log("RESULT " + JSON.stringify({ library: `tacit-${where}`, kernel, value, unit }));
}
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

for (const device of args.cpu ? ["gpu", "cpu"] as const : ["gpu"] as const) {
  for (const solver of ["cg", "cholesky"] as const) {
    const seconds: number[] = [];
    const model = new AlternatingLeastSquares({
      factors: args.factors,
      iterations: solver === "cg" ? args.iterations : Math.min(args.iterations, 3),
      solver,
      regularization: 0.05,
      randomState: 1,
      device,
    });
    await model.fit(plays, {
      progress: false,
      callback: (_i, s) => {
        seconds.push(s);
        if (device === "gpu") sample();
      },
    });
    const steady = mean(seconds.length > 1 ? seconds.slice(1) : seconds);
    console.log(
      `${device} als ${solver.padEnd(8)}: ${(steady * 1000).toFixed(1)} ms/iteration (${
        seconds.map((s) => s.toFixed(3)).join(", ")
      })`,
    );
    result(`als_${solver}`, steady, "s/iteration", device);
    if (solver === "cg") {
      const users = Int32Array.from(
        { length: Math.min(args.users, plays.nRows) },
        (_, k) => (k * 7919) % plays.nRows,
      );
      model.recommend(users.subarray(0, 256), plays, { n: 10 });
      const t = performance.now();
      model.recommend(users, plays, { n: 10 });
      const rate = users.length / ((performance.now() - t) / 1000);
      if (device === "gpu") sample();
      console.log(
        `${device} recommend: ${
          Math.round(rate)
        } users/s (n = 10, ${users.length} users, liked items filtered)`,
      );
      result("recommend", rate, "users/s", device);
    }
    model.dispose();
  }
  const seconds: number[] = [];
  const bpr = new BayesianPersonalizedRanking({
    factors: args.factors,
    iterations: 3,
    learningRate: 0.05,
    randomState: 1,
    device,
  });
  await bpr.fit(plays, { progress: false, callback: (_e, s) => void seconds.push(s) });
  if (device === "gpu") sample();
  const steady = mean(seconds.slice(1));
  console.log(
    `${device} bpr: ${steady.toFixed(3)} s/epoch (${seconds.map((s) => s.toFixed(3)).join(", ")})`,
  );
  result("bpr", steady, "s/epoch", device);
  bpr.dispose();
}
// Sampled after each iteration and call: the resident matrices and factors. A
// recommend call also holds one block of scores for its duration (queries ×
// items × 4 bytes, at most 8192 queries and half the free memory).
console.log(
  `peak device memory in use (sampled between calls): ${(peakUsed / 2 ** 20).toFixed(0)} MiB; ` +
    `recommend's score block at most ${(8192 * plays.nCols * 4 / 2 ** 30).toFixed(1)} GiB; ` +
    `host peak RSS ${peakRssMiB().toFixed(0)} MiB`,
);
result("peak_device_memory", peakUsed / 2 ** 20, "MiB");
