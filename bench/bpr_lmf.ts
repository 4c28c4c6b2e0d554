/**
 * BPR and LMF at lastfm-360K scale: epochs per second and samples per second
 * on one and two threads, and peak RSS.
 *
 *   deno run -A bench/bpr_lmf.ts [--users 358000 --items 292000 --nnz 17500000
 *                                 --factors 64 --bprEpochs 3 --lmfEpochs 2 --negProp 30
 *                                 --threads 0]
 *
 * `--threads n` times n threads only (0: one and two); `--bprEpochs 0` or
 * `--lmfEpochs 0` leaves that model out.
 *
 * A BPR epoch draws nnz (user, liked, negative) samples. Its factor traffic
 * (GB/s below) counts, per sample, the three rows it steps (user, liked,
 * negative; factors + 1 floats each) read once and written once:
 * 3 × 2 × (factors + 1) × 4 bytes, skipped samples included as if stepped. An LMF epoch is a user
 * pass and an item pass, each evaluating every stored pair plus, per row,
 * min(factors + 2, negProp × |row|) sampled pairs (the default sampling):
 * those pairs are its "samples" below.
 */
import { BayesianPersonalizedRanking } from "../lib/models/bpr.ts";
import { LogisticMatrixFactorization } from "../lib/models/lmf.ts";
import { getNumThreads } from "../lib/native/library.ts";
import type { CsrMatrix } from "../lib/sparse.ts";
import { lastfmSized, numberArgs, peakRssMiB, runtimeName } from "./common.ts";

const args = numberArgs({
  users: 358_000,
  items: 292_000,
  nnz: 17_500_000,
  factors: 64,
  bprEpochs: 3,
  lmfEpochs: 2,
  negProp: 30,
  threads: 0,
});
const threadCounts = args.threads > 0 ? [args.threads] : [1, 2];
const plays = lastfmSized(args);
console.log(
  `runtime: ${runtimeName()}, pool: ${getNumThreads()} threads, factors: ${args.factors}`,
);

function report(
  name: string,
  threads: number,
  seconds: number[],
  samplesPerEpoch: number,
  bytesPerSample = 0,
): void {
  const mean = seconds.reduce((a, b) => a + b, 0) / seconds.length;
  const traffic = bytesPerSample > 0
    ? `, ${(samplesPerEpoch * bytesPerSample / mean / 1e9).toFixed(2)} GB/s factor traffic`
    : "";
  console.log(
    `${name} ${threads} thread${threads === 1 ? " " : "s"}: ${(1 / mean).toFixed(3)} epochs/s (${
      mean.toFixed(2)
    } s/epoch: ` +
      `${seconds.map((s) => s.toFixed(2)).join(", ")}), ${
        (samplesPerEpoch / mean / 1e6).toFixed(1)
      } M samples/s${traffic}`,
  );
}

for (const threads of args.bprEpochs > 0 ? threadCounts : []) {
  const seconds: number[] = [];
  let auc = 0;
  await new BayesianPersonalizedRanking({
    factors: args.factors,
    iterations: args.bprEpochs,
    randomState: 1,
    numThreads: threads,
  })
    .fit(plays, {
      progress: false,
      callback: (_epoch, s, correct, skipped) => {
        seconds.push(s);
        auc = correct / (plays.nnz - skipped);
      },
    });
  report("bpr", threads, seconds, plays.nnz, 3 * 2 * (args.factors + 1) * 4);
  console.log(`    training AUC after ${args.bprEpochs} epochs: ${(100 * auc).toFixed(2)}%`);
}
/** The pairs one LMF pass over the rows of `m` scores: nnz + Σ_rows min(factors + 2, negProp × |row|). */
function lmfPairs(m: CsrMatrix): number {
  let pairs = m.nnz;
  for (let r = 0; r < m.nRows; r++) {
    pairs += Math.min(args.factors + 2, args.negProp * (m.indptr[r + 1]! - m.indptr[r]!));
  }
  return pairs;
}

for (const threads of args.lmfEpochs > 0 ? threadCounts : []) {
  const seconds: number[] = [];
  await new LogisticMatrixFactorization({
    factors: args.factors,
    iterations: args.lmfEpochs,
    negProp: args.negProp,
    randomState: 1,
    numThreads: threads,
  })
    .fit(plays, { progress: false, callback: (_epoch, s) => seconds.push(s) });
  report("lmf", threads, seconds, lmfPairs(plays) + lmfPairs(plays.transpose()));
}
console.log(`peak RSS: ${peakRssMiB().toFixed(0)} MiB`);
