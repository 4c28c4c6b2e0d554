/**
 * Abort latency at lastfm-360K scale: for each model, start a fit, abort it
 * while its native passes run, and report the milliseconds from
 * `controller.abort()` to the fit's rejection, which native call stopped
 * (returned the cancelled status), and the peak RSS of the fit.
 *
 *   deno run -A bench/abort_latency.ts [--scale 1 --delay 300 --wait 4000 --threads 0]
 *   bun bench/abort_latency.ts [same options]
 *
 * --scale shrinks the matrix (358K users, 292K items, 17.5M nonzeros at 1).
 * The abort comes `--delay` ms after the fit's first long native call has
 * returned (so the next pass is running), or `--wait` ms after the fit
 * started if no long call has returned by then (a pass that takes longer).
 * "timer late" is how far past its time the abort's timer fired: above a few
 * ms it means the event loop was busy in TypeScript (e.g. weighting the
 * matrix) rather than waiting on native code.
 *
 * Each model runs in a child process of its own, so its peak RSS is its own:
 * the parent generates the matrix once into bench/out/, the children read it.
 * The peak is the process's high-water mark from just before the fit (reset
 * through /proc/self/clear_refs where Linux allows it), the matrix included.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { AlternatingLeastSquares } from "../lib/models/als.ts";
import { BayesianPersonalizedRanking } from "../lib/models/bpr.ts";
import { HybridFactorization } from "../lib/models/hybrid.ts";
import { LogisticMatrixFactorization } from "../lib/models/lmf.ts";
import { MinibatchFactorization } from "../lib/models/minibatch.ts";
import {
  BM25Recommender,
  CosineRecommender,
  ItemItemRecommender,
  TFIDFRecommender,
} from "../lib/models/nearest_neighbours.ts";
import { getNumThreads, observeNativeCalls, setNumThreads, Status } from "../lib/native/library.ts";
import { CsrMatrix } from "../lib/sparse.ts";
import { lastfmSized, numberArgs, peakRssMiB, runtimeName } from "./common.ts";

const args = numberArgs({ scale: 1, delay: 300, wait: 4000, threads: 0, model: -1 });

interface Fit {
  fit(
    matrix: CsrMatrix,
    options: { progress: false; signal: AbortSignal; epochs?: number },
  ): Promise<unknown>;
}

/** The models, as a user would configure them at this scale. */
const MODELS: { name: string; make: () => Fit; epochs?: number }[] = [
  { name: "ALS cg", make: () => new AlternatingLeastSquares({ factors: 64, randomState: 1 }) },
  {
    name: "ALS cholesky",
    make: () => new AlternatingLeastSquares({ factors: 64, solver: "cholesky", randomState: 1 }),
  },
  { name: "BPR", make: () => new BayesianPersonalizedRanking({ factors: 64, randomState: 1 }) },
  { name: "LMF", make: () => new LogisticMatrixFactorization({ factors: 32, randomState: 1 }) },
  {
    name: "LMF perPositive",
    make: () =>
      new LogisticMatrixFactorization({
        factors: 32,
        negativeSampling: "perPositive",
        randomState: 1,
      }),
  },
  {
    name: "Hybrid warp",
    make: () => new HybridFactorization({ loss: "warp", noComponents: 32, randomState: 1 }),
    epochs: 30,
  },
  {
    name: "Minibatch adam",
    make: () => new MinibatchFactorization({ embeddingDim: 32, randomState: 1 }),
  },
  {
    name: "Minibatch lazy-adam",
    make: () =>
      new MinibatchFactorization({ embeddingDim: 32, optimizer: "lazy-adam", randomState: 1 }),
  },
  { name: "ItemItem", make: () => new ItemItemRecommender({ k: 20 }) },
  { name: "Cosine", make: () => new CosineRecommender({ k: 20 }) },
  { name: "TFIDF", make: () => new TFIDFRecommender({ k: 20 }) },
  { name: "BM25", make: () => new BM25Recommender({ k: 20 }) },
];

/** The exports one pass of a fit is. */
const LONG_CALLS = new Set([
  "tacit_als_solve",
  "tacit_als_loss",
  "tacit_bpr_epoch",
  "tacit_lmf_update",
  "tacit_hybrid_epoch",
  "tacit_minibatch_epoch",
  "tacit_knn_fit",
]);

interface Result {
  model: string;
  latencyMs: number;
  abortedAfterMs: number;
  timerLateMs: number;
  passesBefore: number;
  stoppedIn: string;
  peakMiB: number;
}

const shape = {
  users: Math.round(358_000 * args.scale),
  items: Math.round(292_000 * args.scale),
  nnz: Math.round(17_500_000 * args.scale),
};
const out = new URL("./out/", import.meta.url);
const prefix = `abort-matrix-${shape.users}-${shape.items}-${shape.nnz}`;

if (args.model < 0) {
  mkdirSync(out, { recursive: true });
  if (!existsSync(new URL(`${prefix}.indptr`, out))) {
    const m = lastfmSized(shape);
    const bytes = (a: Int32Array | Float32Array) =>
      new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    writeFileSync(new URL(`${prefix}.indptr`, out), bytes(m.indptr));
    writeFileSync(new URL(`${prefix}.indices`, out), bytes(m.indices));
    writeFileSync(new URL(`${prefix}.data`, out), bytes(m.data));
  }
  if (args.threads > 0) setNumThreads(args.threads);
  console.log(
    `runtime: ${runtimeName()}, threads: ${getNumThreads()}, matrix: ${shape.users} users × ` +
      `${shape.items} items, ${shape.nnz} nonzeros; abort ${args.delay} ms after the first ` +
      `pass returns, or ${args.wait} ms into the fit`,
  );
  const self = fileURLToPath(import.meta.url);
  const runtimeArgs = runtimeName() === "deno" ? ["run", "-A", self] : [self];
  const results: Result[] = [];
  for (let model = 0; model < MODELS.length; model++) {
    const childArgs = [...runtimeArgs];
    for (const [key, value] of Object.entries({ ...args, model })) {
      childArgs.push(`--${key}`, String(value));
    }
    const output = execFileSync(process.execPath, childArgs, { encoding: "utf8" });
    const line = output.split("\n").find((l) => l.startsWith("RESULT "));
    if (line === undefined) throw new Error(`no result from ${MODELS[model]!.name}:\n${output}`);
    const result = JSON.parse(line.slice("RESULT ".length)) as Result;
    results.push(result);
    console.log(
      `${result.model}: ${result.latencyMs.toFixed(1)} ms (stopped in ${result.stoppedIn})`,
    );
  }
  console.log(
    "\n| model | abort → rejection (ms) | aborted at (s into fit) | timer late (ms) | passes before | stopped in | peak RSS (MiB) |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | --- | ---: |");
  for (const r of results) {
    console.log(
      `| ${r.model} | ${r.latencyMs.toFixed(1)} | ${(r.abortedAfterMs / 1000).toFixed(2)} | ${
        r.timerLateMs.toFixed(1)
      } | ${r.passesBefore} | ${r.stoppedIn} | ${r.peakMiB.toFixed(0)} |`,
    );
  }
} else {
  const read = (name: string) => {
    const bytes = readFileSync(new URL(`${prefix}.${name}`, out));
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  };
  const plays = new CsrMatrix(
    [shape.users, shape.items],
    new Int32Array(read("indptr")),
    new Int32Array(read("indices")),
    new Float32Array(read("data")),
  );
  if (args.threads > 0) setNumThreads(args.threads);
  const { name, make, epochs } = MODELS[args.model]!;
  const model = make();
  const controller = new AbortController();
  const reason = new Error("bench abort");
  const calls: { name: string; status: number }[] = [];
  let abortAt = Number.NaN;
  let abortedAt = Number.NaN;
  const abort = () => {
    if (!Number.isNaN(abortedAt)) return;
    abortedAt = performance.now();
    controller.abort(reason);
  };
  const schedule = (ms: number) => {
    if (!Number.isNaN(abortAt) && abortAt <= performance.now() + ms) return;
    abortAt = performance.now() + ms;
    setTimeout(abort, ms);
  };
  observeNativeCalls((record) => {
    if (!LONG_CALLS.has(record.name)) return;
    calls.push({ name: record.name, status: record.status });
    if (record.status === Status.ok && calls.length === 1) schedule(args.delay);
  });
  resetPeakRss();
  const started = performance.now();
  schedule(args.wait);
  let outcome: unknown;
  try {
    const options = { progress: false, signal: controller.signal } as const;
    await model.fit(plays, epochs === undefined ? options : { ...options, epochs });
    outcome = "resolved";
  } catch (error) {
    outcome = error;
  }
  const rejectedAt = performance.now();
  if (outcome !== reason) throw new Error(`${name}: the fit ended with ${String(outcome)}`);
  const last = calls.at(-1);
  const result: Result = {
    model: name,
    latencyMs: rejectedAt - abortedAt,
    abortedAfterMs: abortedAt - started,
    timerLateMs: abortedAt - abortAt,
    passesBefore: calls.filter((c) => c.status === Status.ok).length,
    stoppedIn: last?.status === Status.cancelled ? last.name : "between calls",
    peakMiB: peakRssMiB(),
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
}

/** Resets the kernel's peak-RSS mark (VmHWM) to the current RSS, where allowed. */
function resetPeakRss(): void {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
  } catch {
    // not Linux, or not permitted: the peak then covers the whole process
  }
}
