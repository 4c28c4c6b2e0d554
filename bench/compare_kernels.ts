/**
 * tacit's side of bench/compare_implicit.sh: on the matrix bench/dump_matrix.ts
 * wrote, what bench/implicit_kernels.py measures for implicit, on the same
 * thread count: ALS seconds per iteration (CG, Cholesky; the mean after the
 * first iteration), batched recommend users/s (n = 10, liked items filtered),
 * BPR and LMF seconds per epoch, BM25 item-item (k = 20) fit seconds and
 * recommend users/s. Each figure is printed for a reader and as a
 * `RESULT {json}` line for bench/compare_table.ts.
 *
 *   deno run -A bench/compare_kernels.ts [--factors 64 --iterations 3 --threads 1
 *                                         --kernels als,bpr,lmf,knn]
 */
import {
  AlternatingLeastSquares,
  BayesianPersonalizedRanking,
  getNumThreads,
  LogisticMatrixFactorization,
  type Precision,
  setNumThreads,
} from "../mod.ts";
import { BM25Recommender } from "../lib/models/nearest_neighbours.ts";
import { benchArgs, peakRssMiB, readCsr, runtimeName } from "./common.ts";

const args = benchArgs({
  factors: 64,
  iterations: 3,
  threads: 1,
  kernels: "als,bpr,lmf,knn",
  recommendUsers: 20_000,
});
const kernels = String(args.kernels).split(",");
setNumThreads(args.threads);
const plays = readCsr("matrix");
console.log(
  `tacit (${runtimeName()}): ${plays.nRows} users x ${plays.nCols} items, ${plays.nnz} nonzeros, ` +
    `factors ${args.factors}, threads ${getNumThreads()}`,
);
const users = Int32Array.from(
  { length: Math.min(args.recommendUsers, plays.nRows) },
  (_, k) => (k * 7919) % plays.nRows,
);

function result(kernel: string, value: number, unit: string): void {
  console.log(
    "RESULT " +
      JSON.stringify({ library: "tacit", kernel, threads: args.threads, value, unit }),
  );
}

/** Users/s of one batched recommend of n = 10 over `users` (after a short warm-up). */
function recommendRate(
  model: { recommend: AlternatingLeastSquares["recommend"] },
  precision?: Precision,
): number {
  const options = precision === undefined ? { n: 10 } : { n: 10, precision };
  model.recommend(users.subarray(0, 64), plays, options);
  const started = performance.now();
  model.recommend(users, plays, options);
  return users.length / ((performance.now() - started) / 1000);
}

const list = (seconds: number[]) => seconds.map((s) => s.toFixed(2)).join(", ");
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

if (kernels.includes("als")) {
  let model: AlternatingLeastSquares | undefined;
  for (const solver of ["cg", "cholesky"] as const) {
    const seconds: number[] = [];
    model = new AlternatingLeastSquares({
      factors: args.factors,
      iterations: args.iterations,
      solver,
      randomState: 1,
      regularization: 0.05,
    });
    await model.fit(plays, { progress: false, callback: (_i, s) => seconds.push(s) });
    // As on implicit's side: the mean after the first iteration.
    const steady = mean(seconds.length > 1 ? seconds.slice(1) : seconds);
    console.log(
      `tacit als ${solver.padEnd(8)}: ${steady.toFixed(2)} s/iteration (${list(seconds)})`,
    );
    result(`als_${solver}`, steady, "s/iteration");
  }
  // The default ("auto": the exact bf16 candidate pass where the CPU has AMX-BF16 or AVX512-BF16), then float32 alone.
  const rate = recommendRate(model!);
  console.log(`tacit recommend: ${rate.toFixed(0)} users/s (n = 10, precision auto)`);
  result("recommend", rate, "users/s");
  const float32Rate = recommendRate(model!, "float32");
  console.log(`tacit recommend: ${float32Rate.toFixed(0)} users/s (n = 10, precision float32)`);
  result("recommend_float32", float32Rate, "users/s");
}

if (kernels.includes("bpr")) {
  const seconds: number[] = [];
  await new BayesianPersonalizedRanking({
    factors: args.factors,
    iterations: args.iterations,
    randomState: 1,
  }).fit(plays, { progress: false, callback: (_e, s) => seconds.push(s) });
  console.log(`tacit bpr: ${mean(seconds).toFixed(2)} s/epoch (${list(seconds)})`);
  result("bpr", mean(seconds), "s/epoch");
}

if (kernels.includes("lmf")) {
  const seconds: number[] = [];
  await new LogisticMatrixFactorization({ factors: args.factors, iterations: 1, randomState: 1 })
    .fit(plays, { progress: false, callback: (_e, s) => seconds.push(s) });
  console.log(`tacit lmf: ${seconds[0]!.toFixed(2)} s/epoch`);
  result("lmf", seconds[0]!, "s/epoch");
}

if (kernels.includes("knn")) {
  const model = new BM25Recommender({ k: 20 });
  const started = performance.now();
  await model.fit(plays, { progress: false });
  const fitSeconds = (performance.now() - started) / 1000;
  console.log(`tacit bm25 k=20: fit ${fitSeconds.toFixed(2)} s`);
  result("bm25_fit", fitSeconds, "s");
  const rate = recommendRate(model);
  console.log(`tacit bm25 recommend: ${rate.toFixed(0)} users/s (n = 10)`);
  result("bm25_recommend", rate, "users/s");
}

console.log(`tacit peak RSS: ${peakRssMiB().toFixed(0)} MiB`);
result("peak_rss", peakRssMiB(), "MiB");
