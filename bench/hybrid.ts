/**
 * tacit's HybridFactorization on the data bench/hybrid_data.ts wrote: the same
 * run as bench/lightfm_hybrid.py does for LightFM. Run through
 * bench/compare_lightfm.sh, or alone:
 *
 *   deno run -A bench/hybrid.ts --scale small --loss warp --epochs 10 --seed 1 --threads 2
 *
 * Trains epoch by epoch (fit, then fitPartial), then ranks the evaluated users'
 * held-out items once with predictRank (train items excluded) and computes
 * precision@k and AUC from those ranks with LightFM's definitions, as the
 * Python side does from LightFM's predict_rank. Prints one human line and one
 * `RESULT {json}` line.
 */
import process from "node:process";
import { type CsrMatrix, getNumThreads, HybridFactorization } from "../mod.ts";
import { benchArgs, peakRssMiB, runtimeName } from "./common.ts";
import { keepRows, readHybridData } from "./hybrid_data.ts";

const LOSSES = ["warp", "bpr", "logistic", "warp-kos"] as const;
type Loss = typeof LOSSES[number];

function parseArgs() {
  const a = benchArgs(
    { scale: "small", loss: "warp" as string, epochs: 10, seed: 1, threads: 2, k: 10 },
    { loss: LOSSES },
  );
  return { ...a, loss: a.loss as Loss };
}

/**
 * Per user with held-out items: precision@k (hits in the top k over k, as
 * lightfm.evaluation.precision_at_k) and AUC (as LightFM's
 * calculate_auc_from_rank: the i-th best positive's rank minus i, floored at 0,
 * over the negatives n_items − positives − train positives, averaged as 1 − that).
 */
function lightfmMetrics(ranks: CsrMatrix, train: CsrMatrix, k: number) {
  const precision: number[] = [];
  const auc: number[] = [];
  for (let u = 0; u < ranks.nRows; u++) {
    const row = Float64Array.from(ranks.row(u).data).sort();
    if (row.length === 0) continue;
    const negatives = ranks.nCols - row.length - train.row(u).indices.length;
    let hits = 0;
    let sum = 0;
    row.forEach((rank, i) => {
      if (rank < k) hits++;
      sum += 1 - Math.max(rank - i, 0) / negatives;
    });
    precision.push(hits / k);
    auc.push(sum / row.length);
  }
  return { precision, auc };
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

const a = parseArgs();
const { train, test, itemFeatures, evalUsers } = readHybridData(a.scale);
const model = new HybridFactorization({
  noComponents: 32,
  loss: a.loss,
  learningSchedule: "adagrad",
  learningRate: 0.05,
  maxSampled: 10,
  itemAlpha: 0,
  userAlpha: 0,
  randomState: a.seed,
  numThreads: a.threads,
});
const seconds: number[] = [];
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
for (let epoch = 0; epoch < a.epochs; epoch++) {
  const started = performance.now();
  if (epoch === 0) await model.fit(train, { itemFeatures, epochs: 1, progress: false });
  else await model.fitPartial(train, { itemFeatures, epochs: 1, progress: false });
  seconds.push((performance.now() - started) / 1000);
}
const cpu = process.cpuUsage(cpu0);
const cpuPerWall = (cpu.user + cpu.system) / 1000 / (performance.now() - wall0);

const evalStarted = performance.now();
const ranks: CsrMatrix = model.predictRank(keepRows(test, evalUsers), {
  trainInteractions: train,
});
const { precision, auc } = lightfmMetrics(ranks, train, a.k);
const evalSeconds = (performance.now() - evalStarted) / 1000;

const later = seconds.length > 1 ? seconds.slice(1) : seconds;
const result = {
  lib: "tacit",
  runtime: runtimeName(),
  pool: getNumThreads(),
  scale: a.scale,
  loss: a.loss,
  seed: a.seed,
  threads: a.threads,
  epochs: a.epochs,
  seconds,
  secondsPerEpoch: mean(later),
  meanOver: later.length,
  trainNnz: train.nnz,
  cpuPerWall,
  evalUsers: precision.length,
  evalSeconds,
  precision: mean(precision),
  auc: mean(auc),
  peakRssMiB: peakRssMiB(),
};
console.log(
  `tacit ${a.scale} ${a.loss} seed ${a.seed}: ${result.secondsPerEpoch.toFixed(3)} s/epoch ` +
    `(epochs ${seconds.map((s) => s.toFixed(2)).join(", ")}; cpu/wall ${cpuPerWall.toFixed(2)}), ` +
    `p@${a.k} ${result.precision.toFixed(4)}, AUC ${result.auc.toFixed(4)} over ` +
    `${result.evalUsers} users (eval ${evalSeconds.toFixed(1)} s), ` +
    `peak RSS ${result.peakRssMiB.toFixed(0)} MiB`,
);
console.log(`RESULT ${JSON.stringify(result)}`);
