/**
 * An AbortSignal that fires while a long native call runs stops that call:
 * the call's context carries a cancel flag that the SGD driver reads between
 * chunks (zig/sgd/hogwild.zig), the call rejects with the signal's reason,
 * and the model keeps the state it had. A fit whose epoch was stopped inside
 * native code never reports that epoch (its callback is not called), which
 * is what separates a stopped call from one that ran to its end and was
 * refused afterwards.
 */
import assert from "node:assert/strict";
import { powerLawMatrix } from "../lib/datasets/synthetic.ts";
import { BayesianPersonalizedRanking } from "../lib/models/bpr.ts";
import { HybridFactorization } from "../lib/models/hybrid.ts";
import { LogisticMatrixFactorization } from "../lib/models/lmf.ts";
import { MinibatchFactorization } from "../lib/models/minibatch.ts";
import { callNativeAsync } from "../lib/native/library.ts";
import { CsrMatrix } from "../lib/sparse.ts";
import { test } from "./harness.ts";

declare const Bun: unknown;
/**
 * Bun has no nonblocking FFI call: a native call runs on the event loop's
 * thread, so no timer can fire during it and an abort takes effect at the
 * next native call (checked by the test of an already-aborted signal). The
 * two in-call tests run under Deno only.
 */
const nonblocking = typeof Bun === "undefined";
const inCallTest = nonblocking ? test : (_name: string, _fn: () => Promise<void>) => {};

// An epoch of each model over this matrix takes far longer than the 20 ms
// after which the signal fires (about a second on a 2-core machine).
const plays = powerLawMatrix({ users: 40_000, items: 20_000, nnz: 1_500_000, seed: 3 });
const ones = new CsrMatrix(
  plays.shape,
  plays.indptr,
  plays.indices,
  new Float32Array(plays.nnz).fill(1),
);

async function expectStoppedInsideTheEpoch(
  fit: (signal: AbortSignal, callback: () => void) => Promise<unknown>,
): Promise<void> {
  const controller = new AbortController();
  const reason = new Error("stop now");
  let epochsReported = 0;
  const fitting = fit(controller.signal, () => epochsReported++);
  setTimeout(() => controller.abort(reason), 20);
  await assert.rejects(fitting, (error) => error === reason);
  assert.equal(epochsReported, 0, "the first epoch ran to its end: the native call did not stop");
}

inCallTest(
  "an abort stops a hybrid epoch inside native code and leaves the model unfitted",
  async () => {
    const model = new HybridFactorization({ loss: "warp", noComponents: 32, randomState: 1 });
    await expectStoppedInsideTheEpoch((signal, callback) =>
      model.fit(ones, { epochs: 1, progress: false, signal, callback })
    );
    assert.equal(model.nUsers, 0);
  },
);

inCallTest("an abort stops a BPR epoch and an LMF pass inside native code", async () => {
  const bpr = new BayesianPersonalizedRanking({ factors: 64, iterations: 1, randomState: 1 });
  await expectStoppedInsideTheEpoch((signal, callback) =>
    bpr.fit(ones, { progress: false, signal, callback })
  );
  assert.equal(bpr.nUsers, 0);
  const lmf = new LogisticMatrixFactorization({
    factors: 64,
    iterations: 1,
    negativeSampling: "perPositive",
    randomState: 1,
  });
  await expectStoppedInsideTheEpoch((signal, callback) =>
    lmf.fit(ones, { progress: false, signal, callback })
  );
  assert.equal(lmf.nUsers, 0);
});

inCallTest("an abort stops a minibatch epoch inside native code, dense or lazy Adam", async () => {
  for (const optimizer of ["adam", "lazy-adam"] as const) {
    const model = new MinibatchFactorization({
      optimizer,
      embeddingDim: 64,
      batchSize: 64,
      nIter: 1,
      randomState: 1,
    });
    await expectStoppedInsideTheEpoch((signal, callback) =>
      model.fit(ones, { progress: false, signal, callback })
    );
    assert.equal(model.nUsers, 0);
  }
});

test("a signal aborted before the call starts skips every chunk: no parameter moves", async () => {
  const nUsers = 300, nItems = 200, f = 8;
  const small = powerLawMatrix({ users: nUsers, items: nItems, nnz: 5_000, seed: 1 });
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
