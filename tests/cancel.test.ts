/**
 * An AbortSignal that fires while a long native call runs stops that call:
 * the call's context carries a cancel flag that every long kernel polls as it
 * works (zig/status.zig Poll: ALS half-sweeps and loss, the item-kNN product,
 * the BPR, LMF, hybrid and minibatch epochs), the call returns the cancelled
 * status, the fit rejects with the signal's reason, and the model keeps the
 * state it had: its saved file is the same byte for byte.
 *
 * A fit whose native call was stopped shows it to an observer of native
 * calls: the long call returned `Status.cancelled`, which a call that ran to
 * its end (and was refused afterwards) never does. The bound on the time from
 * abort() to the rejection is only a hang guard; bench/abort_latency.ts
 * measures the latency at lastfm-360K scale.
 *
 * The same holds under Bun, whose long calls run on a worker thread
 * (lib/native/bun.ts) so that the event loop, and the signal, stay live.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { powerLawMatrix } from "../lib/datasets/synthetic.ts";
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
import { callNativeAsync, observeNativeCalls, Status } from "../lib/native/library.ts";
import { CsrMatrix } from "../lib/sparse.ts";
import { test } from "./harness.ts";

// One pass of each model over this matrix takes 60 ms (a block of a kNN
// fit) to several seconds on a 2-core machine, far longer than the 20 ms
// after which the signal fires.
const plays = powerLawMatrix({ users: 40_000, items: 20_000, nnz: 1_500_000, seed: 3 });
// The item-kNN fits need more: their blocked native pass finished 1.5M nonzeros within the
// 20 ms before the abort on a 2-core machine under Bun.
const knnPlays = powerLawMatrix({ users: 40_000, items: 20_000, nnz: 4_000_000, seed: 3 });
const ones = new CsrMatrix(
  plays.shape,
  plays.indptr,
  plays.indices,
  new Float32Array(plays.nnz).fill(1),
);
// The state each model is fitted to before the aborted fit: another shape,
// so the aborted fit starts from a fresh state and must not commit it.
const small = powerLawMatrix({ users: 300, items: 200, nnz: 5_000, seed: 2 });
// The same few entries in a matrix of the large one's shape, for the models
// whose fit resumes the fitted state (and so needs its shape).
const sparseIndptr = new Int32Array(plays.nRows + 1).fill(small.nnz);
sparseIndptr.set(small.indptr);
const smallInLargeShape = new CsrMatrix(plays.shape, sparseIndptr, small.indices, small.data);

/** The exports whose calls a fit's abort may stop. */
const LONG_CALLS = new Set([
  "tacit_als_solve",
  "tacit_als_loss",
  "tacit_bpr_epoch",
  "tacit_lmf_update",
  "tacit_hybrid_epoch",
  "tacit_minibatch_epoch",
  "tacit_knn_fit",
]);

interface Fittable {
  fit(matrix: CsrMatrix, options: { progress: false; signal?: AbortSignal }): Promise<unknown>;
  save(path: string): Promise<void>;
}

const directory = mkdtempSync(join(tmpdir(), "tacit-cancel-"));
let files = 0;

/** The bytes of the model's saved file: its whole state. */
async function savedBytes(model: Fittable): Promise<Uint8Array> {
  const path = join(directory, `model-${files++}.tacit`);
  await model.save(path);
  const bytes = readFileSync(path);
  rmSync(path);
  return bytes;
}

/**
 * Fits `model` to the small matrix, then starts a fit on the large one and
 * aborts it 20 ms in: the fit must reject with the signal's reason, soon, the
 * long native call must have returned the cancelled status (under Deno), and
 * the model must be as the small fit left it.
 */
async function expectAbortInsideTheCall(
  model: Fittable,
  matrix: CsrMatrix = ones,
  before: CsrMatrix = small,
): Promise<void> {
  await model.fit(before, { progress: false });
  const saved = await savedBytes(model);
  const statuses: number[] = [];
  const stopObserving = observeNativeCalls((record) => {
    if (LONG_CALLS.has(record.name)) statuses.push(record.status);
  });
  const controller = new AbortController();
  const reason = new Error("stop now");
  let abortedAt = Number.NaN;
  try {
    const fitting = model.fit(matrix, { progress: false, signal: controller.signal });
    setTimeout(() => {
      abortedAt = performance.now();
      controller.abort(reason);
    }, 20);
    await assert.rejects(fitting, (error) => error === reason);
  } finally {
    stopObserving();
  }
  const latencyMs = performance.now() - abortedAt;
  // A hang guard only: at this scale the rejection follows within milliseconds.
  assert.ok(
    latencyMs < 1000,
    `rejected ${latencyMs.toFixed(0)} ms after abort()`,
  );
  assert.equal(
    statuses.at(-1),
    Status.cancelled,
    `the native call ran to its end (statuses ${statuses.join(", ")})`,
  );
  assert.deepEqual(await savedBytes(model), saved, "the aborted fit changed the model");
}

const cases: [string, () => Fittable, CsrMatrix?, CsrMatrix?][] = [
  [
    "ALS (conjugate gradient)",
    () => new AlternatingLeastSquares({ factors: 64, iterations: 1, randomState: 1 }),
    plays,
  ],
  [
    "ALS (conjugate gradient, cgSteps at its bound, with the training loss)",
    () =>
      new AlternatingLeastSquares({
        factors: 64,
        iterations: 1,
        cgSteps: 1024,
        calculateTrainingLoss: true,
        randomState: 1,
      }),
    plays,
  ],
  [
    "ALS (Cholesky)",
    () =>
      new AlternatingLeastSquares({
        factors: 64,
        iterations: 1,
        solver: "cholesky",
        randomState: 1,
      }),
    plays,
  ],
  ["BPR", () => new BayesianPersonalizedRanking({ factors: 64, iterations: 1, randomState: 1 })],
  [
    "LMF (implicit's negatives)",
    () => new LogisticMatrixFactorization({ factors: 64, iterations: 1, randomState: 1 }),
  ],
  [
    "LMF (perPositive, negProp at its bound)",
    () =>
      new LogisticMatrixFactorization({
        factors: 64,
        iterations: 1,
        negativeSampling: "perPositive",
        negProp: 1000,
        randomState: 1,
      }),
  ],
  [
    "HybridFactorization (WARP, maxSampled at its bound)",
    () =>
      new HybridFactorization({
        loss: "warp",
        noComponents: 32,
        maxSampled: 100_000,
        randomState: 1,
      }),
  ],
  [
    "HybridFactorization (k-OS WARP, n at its bound)",
    () =>
      new HybridFactorization({
        loss: "warp-kos",
        noComponents: 32,
        n: 1000,
        k: 1000,
        randomState: 1,
      }),
  ],
  [
    "MinibatchFactorization (dense Adam)",
    () => new MinibatchFactorization({ embeddingDim: 64, batchSize: 64, nIter: 1, randomState: 1 }),
    ones,
    smallInLargeShape,
  ],
  [
    "MinibatchFactorization (lazy Adam, adaptive hinge at its bounds)",
    () =>
      new MinibatchFactorization({
        loss: "adaptive_hinge",
        optimizer: "lazy-adam",
        embeddingDim: 64,
        batchSize: 65_536,
        numNegativeSamples: 1024,
        nIter: 1,
        randomState: 1,
      }),
    ones,
    smallInLargeShape,
  ],
  ["ItemItemRecommender", () => new ItemItemRecommender({ k: 20 }), knnPlays],
  ["CosineRecommender", () => new CosineRecommender({ k: 20 }), knnPlays],
  ["TFIDFRecommender", () => new TFIDFRecommender({ k: 20 }), knnPlays],
  ["BM25Recommender", () => new BM25Recommender({ k: 20 }), knnPlays],
];

for (const [name, make, matrix, before] of cases) {
  test(
    `${name}: an abort while its native pass runs rejects with the reason and leaves the model as it was`,
    () => expectAbortInsideTheCall(make(), matrix, before),
  );
}

test("a signal aborted before the call starts skips every chunk: no parameter moves", async () => {
  const nUsers = 300, nItems = 200, f = 8;
  const rowOf = new Int32Array(small.nnz);
  for (let r = 0; r < nUsers; r++) rowOf.fill(r, small.indptr[r]!, small.indptr[r + 1]!);
  const users = Float32Array.from({ length: nUsers * f }, (_, i) => Math.sin(i) * 0.1);
  const items = Float32Array.from({ length: nItems * f }, (_, i) => Math.cos(i) * 0.1);
  const [usersBefore, itemsBefore] = [users.slice(), items.slice()];
  const controller = new AbortController();
  controller.abort(new Error("already"));
  await assert.rejects(
    callNativeAsync("tacit_bpr_epoch", {
      n_rows: nUsers,
      n_cols: nItems,
      indptr: small.indptr,
      indices: small.indices,
      row_of: rowOf,
      user_factors: users,
      item_factors: items,
      f,
      learning_rate: 0.05,
      regularization: 0.01,
      verify_negatives: 1,
      seed: 1,
      deterministic: 0,
      n_samples: small.nnz,
      out_counts: new Int32Array(2),
    }, { signal: controller.signal }),
    /already/,
  );
  assert.deepEqual(users, usersBefore);
  assert.deepEqual(items, itemsBefore);
});

test("an already-aborted signal stops an ALS half-sweep and a kNN block at their first poll", async () => {
  const controller = new AbortController();
  controller.abort(new Error("already"));
  const x = new Float32Array(small.nRows * 4).fill(0.5);
  await assert.rejects(
    callNativeAsync("tacit_als_solve", {
      solver: 1,
      cg_steps: 3,
      n_rows: small.nRows,
      indptr: small.indptr,
      indices: small.indices,
      data: small.data,
      x,
      y: new Float32Array(small.nCols * 4).fill(0.1),
      n_other: small.nCols,
      f: 4,
      regularization: 0.1,
      alpha: 1,
      confidence: 0,
    }, { signal: controller.signal }),
    /already/,
  );
  assert.ok(x.every((v) => v === 0.5), "a row was solved");
  const itemUsers = small.transpose();
  const counts = new Int32Array(small.nCols).fill(-7);
  await assert.rejects(
    callNativeAsync("tacit_knn_fit", {
      n_users: small.nRows,
      n_items: small.nCols,
      user_indptr: small.indptr,
      user_indices: small.indices,
      user_data: small.data,
      item_indptr: itemUsers.indptr,
      item_indices: itemUsers.indices,
      item_data: itemUsers.data,
      item_start: 0,
      item_end: small.nCols,
      k: 3,
      out_ids: new Int32Array(small.nCols * 3),
      out_scores: new Float32Array(small.nCols * 3),
      out_counts: counts,
    }, { signal: controller.signal }),
    /already/,
  );
  assert.ok(counts.every((c) => c === -7), "a row was computed");
});
