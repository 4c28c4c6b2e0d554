/**
 * rankingMetricsAtK at lastfm-360K scale: an 80/20 per-interaction split of the
 * generated matrix, a 64-factor ALS (3 CG iterations), then every test user
 * scored once. Prints test users/s and peak RSS.
 *
 *   deno run -A bench/metrics.ts [--users 358000 --items 292000 --nnz 17500000
 *                                 --factors 64 --k 10 --iterations 3]
 */
import { AlternatingLeastSquares, bm25Weight, rankingMetricsAtK, trainTestSplit } from "../mod.ts";
import { lastfmSized, numberArgs, peakRssMiB, runtimeName } from "./common.ts";

const args = numberArgs({
  users: 358_000,
  items: 292_000,
  nnz: 17_500_000,
  factors: 64,
  k: 10,
  iterations: 3,
});
const plays = lastfmSized(args);
let started = performance.now();
const { train, test } = trainTestSplit(plays, { trainPercentage: 0.8, randomState: 1 });
console.log(
  `split: ${train.nnz} train / ${test.nnz} test nonzeros in ${
    ((performance.now() - started) / 1000).toFixed(2)
  } s`,
);
const model = new AlternatingLeastSquares({
  factors: args.factors,
  iterations: args.iterations,
  regularization: 0.05,
  randomState: 1,
});
await model.fit(bm25Weight(train), { progress: false });

started = performance.now();
const metrics = await rankingMetricsAtK(model, train, test, { k: args.k, progress: false });
const seconds = (performance.now() - started) / 1000;
console.log(`runtime: ${runtimeName()}, factors: ${args.factors}, k: ${args.k}`);
console.log(
  `rankingMetricsAtK: ${metrics.users} test users in ${seconds.toFixed(2)} s = ${
    (metrics.users / seconds).toFixed(0)
  } test users/s`,
);
const row = (name: string, value: number) => console.log(`  ${name.padEnd(9)} ${value.toFixed(4)}`);
for (const name of ["precision", "recall", "map", "ndcg", "auc", "mrr"] as const) {
  row(name, metrics[name]);
}
console.log(`peak RSS: ${peakRssMiB().toFixed(0)} MiB`);
