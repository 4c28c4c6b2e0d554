/**
 * ALS at lastfm-360K scale: seconds per iteration for the CG and Cholesky
 * solvers, batched recommend throughput (n = 10) and peak RSS.
 *
 *   deno run -A bench/als.ts [--users 358000 --items 292000 --nnz 17500000
 *                             --factors 64 --iterations 3 --threads 0 --recommendUsers 20000]
 */
import { AlternatingLeastSquares, bm25Weight, getNumThreads, setNumThreads } from "../mod.ts";
import { lastfmSized, numberArgs, peakRssMiB, runtimeName } from "./common.ts";

const args = numberArgs({
  users: 358_000,
  items: 292_000,
  nnz: 17_500_000,
  factors: 64,
  iterations: 3,
  threads: 0,
  recommendUsers: 20_000,
});
if (args.threads > 0) setNumThreads(args.threads);
const plays = bm25Weight(lastfmSized(args));
console.log(`runtime: ${runtimeName()}, threads: ${getNumThreads()}, factors: ${args.factors}`);

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
  await model.fit(plays, { progress: false, callback: (_it, s) => seconds.push(s) });
  const mean = seconds.reduce((a, b) => a + b, 0) / seconds.length;
  console.log(
    `als ${solver.padEnd(8)}: ${mean.toFixed(2)} s/iteration (${
      seconds.map((s) => s.toFixed(2)).join(", ")
    }), ` +
      `${((plays.nnz / mean) / 1e6).toFixed(1)} M nonzeros/s`,
  );
}

const users = Int32Array.from(
  { length: Math.min(args.recommendUsers, plays.nRows) },
  (_, k) => (k * 7919) % plays.nRows,
);
const started = performance.now();
model!.recommend(users, plays, { n: 10 });
const seconds = (performance.now() - started) / 1000;
console.log(
  `recommend: ${users.length} users in ${seconds.toFixed(2)} s = ${
    (users.length / seconds).toFixed(0)
  } users/s (n = 10, liked items filtered)`,
);
console.log(`peak RSS: ${peakRssMiB().toFixed(0)} MiB`);
