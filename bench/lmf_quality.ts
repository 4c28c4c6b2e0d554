/**
 * LMF's held-out precision@10 and fit time with implicit's defaults (factors 30,
 * learning rate 1, regularization 0.6, 30 iterations, negProp 30) for both
 * negative-sampling rules, on two generated logs: a listening log with planted
 * genres and a power-law log (lastfm-like activity and popularity). Each log
 * is split 80/20 by stored entry (trainTestSplit, seed 1) and the split is
 * written to bench/out/lmf_<log>.{train,test}.* for
 * bench/implicit_lmf_quality.py, which fits Python implicit on the same data.
 * Precision is implicit's (Σ hits / Σ min(10, |test row|), training items
 * filtered). Run through bench/lmf_quality.sh.
 *
 *   deno run -A bench/lmf_quality.ts [--threads 2 --seed 1]
 */
import { listeningDataset, powerLawMatrix } from "../lib/datasets/synthetic.ts";
import { rankingMetricsAtK } from "../lib/evaluation/metrics.ts";
import { trainTestSplit } from "../lib/evaluation/split.ts";
import { type LmfNegativeSampling, LogisticMatrixFactorization } from "../lib/models/lmf.ts";
import type { CsrMatrix } from "../lib/sparse.ts";
import { numberArgs, runtimeName, writeCsr } from "./common.ts";

const args = numberArgs({ threads: 2, seed: 1 });

/** The logs, small enough that the paper's rule fits in a minute or two. */
const logs: Record<string, () => CsrMatrix> = {
  listening: () => listeningDataset({ users: 10_000, itemsPerGenre: 250, seed: 5 }).plays,
  powerlaw: () => powerLawMatrix({ users: 50_000, items: 20_000, nnz: 1_000_000, seed: 3 }),
};

console.log(`runtime: ${runtimeName()}, threads: ${args.threads}`);
for (const [name, make] of Object.entries(logs)) {
  const { train, test } = trainTestSplit(make(), { trainPercentage: 0.8, randomState: 1 });
  writeCsr(`lmf_${name}.train`, train);
  writeCsr(`lmf_${name}.test`, test);
  console.log(
    `${name}: ${train.nRows} users × ${train.nCols} items, ${train.nnz} train, ${test.nnz} test`,
  );
  const rules: [LmfNegativeSampling, string][] = [
    ["perPositive", "old rule, negProp × |row|"],
    ["implicit", "new default, min(factors + 2, negProp × |row|)"],
  ];
  for (const [negativeSampling, label] of rules) {
    const model = new LogisticMatrixFactorization({
      negativeSampling,
      randomState: args.seed,
      numThreads: args.threads,
    });
    const started = performance.now();
    await model.fit(train, { progress: false });
    const seconds = (performance.now() - started) / 1000;
    const { precision } = await rankingMetricsAtK(model, train, test, { k: 10, progress: false });
    console.log(
      `${name} tacit ${negativeSampling} (${label}): p@10 ${precision.toFixed(4)}, fit ${
        seconds.toFixed(2)
      } s`,
    );
  }
}
