/**
 * tacit's MinibatchFactorization on the data bench/hybrid_data.ts wrote: the
 * same run as bench/spotlight_minibatch.py does for Spotlight's
 * ImplicitFactorizationModel. Run through bench/compare_spotlight.sh, or alone:
 *
 *   deno run -A bench/minibatch.ts --scale small --loss bpr --optimizer adam \
 *     --epochs 10 --batch-size 1024 --lr 1e-2 --l2 1e-6 --dim 32 --negatives 5 \
 *     --seed 1 --threads 1 [--verify 1]
 *
 * Each epoch is timed alone (fit with nIter 1, called `epochs` times: it
 * resumes, as Spotlight's does); the mean leaves out the first epoch when
 * there are more, as the Python side does. Pairs per second = train nnz over
 * that mean. Held-out MRR and precision@10 are Spotlight's definitions
 * (`mrrScore`, `precisionRecallScore`, train items excluded) over the
 * evaluated users. Prints one human line and one `RESULT {json}` line with the
 * keys bench/spotlight_minibatch.py prints.
 *
 * @module
 */
import process from "node:process";
import {
  getNumThreads,
  MinibatchFactorization,
  type MinibatchLoss,
  type MinibatchOptimizer,
  mrrScore,
  precisionRecallScore,
} from "../mod.ts";
import { benchArgs, peakRssMiB, runtimeName } from "./common.ts";
import { keepRows, readHybridData } from "./hybrid_data.ts";

const LOSSES = ["pointwise", "bpr", "hinge", "adaptive_hinge"] as const;
const OPTIMIZERS = ["adam", "lazy-adam"] as const;

function parseArgs() {
  const a = benchArgs({
    scale: "small",
    loss: "bpr" as string,
    optimizer: "adam" as string,
    epochs: 10,
    "batch-size": 1024,
    lr: 1e-2,
    l2: 1e-6,
    dim: 32,
    negatives: 5,
    seed: 1,
    threads: 1,
    verify: 0,
  }, { loss: LOSSES, optimizer: OPTIMIZERS });
  return { ...a, loss: a.loss as MinibatchLoss, optimizer: a.optimizer as MinibatchOptimizer };
}

const mean = (xs: ArrayLike<number>) => Array.from(xs).reduce((s, x) => s + x, 0) / xs.length;

const a = parseArgs();
const { train, test, evalUsers } = readHybridData(a.scale);
const model = new MinibatchFactorization({
  loss: a.loss,
  optimizer: a.optimizer,
  embeddingDim: a.dim,
  nIter: 1,
  batchSize: a["batch-size"],
  learningRate: a.lr,
  l2: a.l2,
  numNegativeSamples: a.negatives,
  verifyNegativeSamples: a.verify === 1,
  randomState: a.seed,
  numThreads: a.threads,
});
const seconds: number[] = [];
const losses: number[] = [];
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
for (let epoch = 0; epoch < a.epochs; epoch++) {
  const started = performance.now();
  await model.fit(train, { progress: false, callback: (_e, _s, loss) => losses.push(loss) });
  seconds.push((performance.now() - started) / 1000);
}
const cpu = process.cpuUsage(cpu0);
const cpuPerWall = (cpu.user + cpu.system) / 1000 / (performance.now() - wall0);

const evalStarted = performance.now();
const heldOut = keepRows(test, evalUsers);
const mrr = mrrScore(model, heldOut, { train });
const { precision } = precisionRecallScore(model, heldOut, { train, k: 10 });
const evalSeconds = (performance.now() - evalStarted) / 1000;

const later = seconds.length > 1 ? seconds.slice(1) : seconds;
const meanSeconds = mean(later);
const result = {
  lib: "tacit",
  runtime: runtimeName(),
  pool: getNumThreads(),
  scale: a.scale,
  loss: a.loss,
  optimizer: a.optimizer,
  threads: a.threads,
  epochs: a.epochs,
  batch_size: a["batch-size"],
  lr: a.lr,
  l2: a.l2,
  l2_applied: true,
  dim: a.dim,
  negatives: a.loss === "adaptive_hinge" ? a.negatives : 1,
  verify_negatives: a.verify === 1,
  seed: a.seed,
  train_nnz: train.nnz,
  seconds_per_epoch: seconds,
  cpu_per_wall: cpuPerWall,
  mean_seconds_per_epoch: meanSeconds,
  mean_over: later.length,
  samples_per_second: train.nnz / meanSeconds,
  loss_per_epoch: losses,
  eval_users: mrr.length,
  mrr: mean(mrr),
  precision_at_10: mean(precision),
  eval_seconds: evalSeconds,
  peak_rss_mib: peakRssMiB(),
};
console.log(
  `tacit ${a.scale} ${a.loss} ${a.optimizer} seed ${a.seed}, ${a.threads} thread(s): ` +
    `${meanSeconds.toFixed(3)} s/epoch (epochs ${seconds.map((s) => s.toFixed(2)).join(", ")}; ` +
    `cpu/wall ${cpuPerWall.toFixed(2)}; ${result.samples_per_second.toFixed(0)} pairs/s), loss ` +
    `${losses.map((x) => x.toFixed(4)).join(", ")}, MRR ${result.mrr.toFixed(4)}, ` +
    `p@10 ${result.precision_at_10.toFixed(4)} over ${result.eval_users} users ` +
    `(eval ${evalSeconds.toFixed(2)} s), peak RSS ${result.peak_rss_mib.toFixed(0)} MiB`,
);
console.log(`RESULT ${JSON.stringify(result)}`);
