/**
 * MinibatchFactorization (Spotlight's ImplicitFactorizationModel) as a user
 * meets it: defaults, reproducible seeded fits, resuming, held-out quality on
 * a log with planted tastes against a popularity baseline for every loss and
 * both Adam variants, save/load with the optimiser state, and refusals.
 * One batch's arithmetic is tests/minibatch_step.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listeningDataset } from "../lib/datasets/synthetic.ts";
import { MinibatchFactorization } from "../lib/models/minibatch.ts";
import { loadModel } from "../lib/models/registry.ts";
import { CsrMatrix } from "../lib/sparse.ts";
import { heldOutMrr, holdOutShare } from "./holdout.ts";
import { test } from "./harness.ts";

// 2000 users over 8 genres of 200 artists, 85% of each user's plays in one genre.
const data = listeningDataset({ users: 2000, itemsPerGenre: 200, seed: 5 });
const { train, heldOut } = holdOutShare(data.plays, 0.2, 8);

const small = CsrMatrix.fromDense([
  [1, 1, 0, 0, 0],
  [1, 0, 1, 0, 0],
  [0, 0, 1, 1, 0],
  [0, 0, 0, 1, 1],
]);

function modelMrr(model: MinibatchFactorization): number {
  return heldOutMrr(train, heldOut, (u, scores) => scores.set(model.predict(u)));
}

test("defaults are Spotlight's; rows hold [x, b_u, 1] and [y, 1, b_i]; predict is x·y + b_u + b_i", async () => {
  const defaults = new MinibatchFactorization();
  assert.deepEqual(
    [defaults.loss, defaults.embeddingDim, defaults.nIter, defaults.batchSize, defaults.l2],
    ["pointwise", 32, 10, 256, 0],
  );
  assert.deepEqual(
    [defaults.learningRate, defaults.numNegativeSamples, defaults.optimizer],
    [0.01, 5, "adam"],
  );
  assert.deepEqual([defaults.beta1, defaults.beta2, defaults.epsilon], [0.9, 0.999, 1e-8]);
  const model = new MinibatchFactorization({ embeddingDim: 3, nIter: 3, randomState: 2 });
  await model.fit(small, { progress: false });
  assert.equal(model.factorCount, 5);
  assert.equal(model.adamStep, 3); // one batch of 7 pairs per epoch
  const users = model.userFactors.data;
  const items = model.itemFactors.data;
  for (let u = 0; u < 4; u++) assert.equal(users[u * 5 + 4], 1);
  for (let i = 0; i < 5; i++) assert.equal(items[i * 5 + 3], 1);
  const [u, i] = [2, 4];
  let expected = users[u * 5 + 3]! + items[i * 5 + 4]!;
  for (let c = 0; c < 3; c++) expected += users[u * 5 + c]! * items[i * 5 + c]!;
  assert.ok(Math.abs(model.predict(u, [i])[0]! - expected) < 1e-6);
  assert.ok(Math.abs(model.predict([u], [i])[0]! - expected) < 1e-6);
  assert.ok(Math.abs(model.predict(u)[i]! - expected) < 1e-6);
  const all = model.predict([0, 2]);
  assert.equal(all.length, 10);
  assert.ok(Math.abs(all[5 + i]! - expected) < 1e-6);
});

test("initialisation: embeddings N(0, (1/d)²), biases 0", async () => {
  const model = new MinibatchFactorization({ embeddingDim: 16, nIter: 0, randomState: 4 });
  const indptr = new Int32Array(3001).fill(1);
  indptr[0] = 0;
  const wide = new CsrMatrix([3000, 3000], indptr, Int32Array.of(0), Float32Array.of(1));
  await model.fit(wide, { progress: false });
  const users = model.userFactors.data;
  let sum = 0, squares = 0, n = 0;
  for (let r = 0; r < 3000; r++) {
    for (let c = 0; c < 16; c++) {
      const v = users[r * 18 + c]!;
      sum += v, squares += v * v, n++;
    }
    assert.equal(users[r * 18 + 16], 0);
  }
  const std = Math.sqrt(squares / n - (sum / n) ** 2);
  assert.ok(Math.abs(std - 1 / 16) < 0.002, `std ${std}`);
  assert.ok(Math.abs(sum / n) < 0.002);
});

for (const optimizer of ["adam", "lazy-adam"] as const) {
  test(`a seeded one-thread ${optimizer} fit is reproducible, and fit resumes as Spotlight's`, async () => {
    const make = () =>
      new MinibatchFactorization({
        loss: "adaptive_hinge",
        optimizer,
        embeddingDim: 8,
        nIter: 2,
        batchSize: 64,
        l2: 1e-4,
        randomState: 9,
        numThreads: 1,
      });
    const a = await make().fit(train, { progress: false });
    const b = await make().fit(train, { progress: false });
    assert.deepEqual(a.userFactors.data, b.userFactors.data);
    assert.deepEqual(a.itemFactors.data, b.itemFactors.data);
    // Two fits of 2 epochs resume: 4 epochs' steps, and a different model from the first fit.
    await b.fit(train, { progress: false });
    const batches = Math.ceil(train.nnz / 64);
    assert.equal(b.adamStep, 4 * batches);
    assert.notDeepEqual(a.userFactors.data, b.userFactors.data);
    const c = new MinibatchFactorization({ ...make().parameters(), nIter: 4 });
    await c.fit(train, { progress: false });
    assert.deepEqual(c.userFactors.data, b.userFactors.data, "fit(4) = fit(2) then fit(2)");
  });
}

test("lazy Adam with deterministic gives the same model on 1 and 2 threads", async () => {
  const fit = (numThreads: number) =>
    new MinibatchFactorization({
      optimizer: "lazy-adam",
      deterministic: true,
      loss: "bpr",
      embeddingDim: 8,
      nIter: 2,
      randomState: 3,
      numThreads,
    }).fit(train, { progress: false });
  assert.deepEqual((await fit(1)).itemFactors.data, (await fit(2)).itemFactors.data);
});

test("dense Adam gives the same model on 1 and 2 threads (its batches run in order)", async () => {
  const fit = (numThreads: number) =>
    new MinibatchFactorization({
      loss: "hinge",
      embeddingDim: 8,
      nIter: 1,
      randomState: 3,
      numThreads,
    })
      .fit(train, { progress: false });
  assert.deepEqual((await fit(1)).userFactors.data, (await fit(2)).userFactors.data);
});

const popularity = new Float64Array(train.nCols);
for (const item of train.indices) popularity[item]!++;
const popularityMrr = heldOutMrr(train, heldOut, (_u, scores) => scores.set(popularity));

for (const loss of ["pointwise", "bpr", "hinge", "adaptive_hinge"] as const) {
  for (const optimizer of ["adam", "lazy-adam"] as const) {
    test(`${loss} with ${optimizer}: held-out MRR far above the popularity baseline`, async () => {
      const model = new MinibatchFactorization({
        loss,
        optimizer,
        batchSize: 256,
        l2: 1e-6,
        randomState: 1,
      });
      const losses: number[] = [];
      await model.fit(train, { progress: false, callback: (_e, _s, value) => losses.push(value) });
      assert.equal(losses.length, 10);
      assert.ok(losses.at(-1)! < losses[0]!, `losses ${losses}`);
      const mrr = modelMrr(model);
      // Measured: popularity about 0.013; the losses 0.03 to 0.05.
      assert.ok(mrr > 2 * popularityMrr, `MRR ${mrr} vs popularity ${popularityMrr}`);
    });
  }
}

test("verified negatives are never the user's items and still train", async () => {
  const model = new MinibatchFactorization({
    loss: "bpr",
    verifyNegativeSamples: true,
    randomState: 1,
    nIter: 5,
  });
  await model.fit(train, { progress: false });
  assert.ok(modelMrr(model) > 2 * popularityMrr);
});

test("save and load keep the factors, the Adam state and the generator: a loaded model resumes identically", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tacit-minibatch-"));
  try {
    const options = {
      loss: "bpr" as const,
      embeddingDim: 6,
      nIter: 2,
      randomState: 5,
      numThreads: 1,
    };
    const model = await new MinibatchFactorization(options).fit(train, { progress: false });
    const path = join(dir, "model.tacit");
    await model.save(path);
    const loaded = await MinibatchFactorization.load(path);
    assert.deepEqual(loaded.parameters(), model.parameters());
    assert.deepEqual(loaded.userFactors.data, model.userFactors.data);
    assert.equal(loaded.adamStep, model.adamStep);
    assert.ok((await loadModel(path)) instanceof MinibatchFactorization);
    await model.fit(train, { progress: false });
    await loaded.fit(train, { progress: false });
    assert.deepEqual(loaded.itemFactors.data, model.itemFactors.data);
    assert.deepEqual(loaded.recommend(3, train, { n: 5 }), model.recommend(3, train, { n: 5 }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("load refuses files whose contents are inconsistent, naming the file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tacit-minibatch-"));
  try {
    const model = await new MinibatchFactorization({ embeddingDim: 2, nIter: 1, randomState: 5 })
      .fit(small, { progress: false });
    const path = join(dir, "good.tacit");
    await model.save(path);
    const { readTacitFile, writeTacitFile } = await import("../lib/io/format.ts");
    const file = await readTacitFile(path);
    const variant = async (name: string, edit: (arrays: typeof file.arrays) => void) => {
      const arrays = Object.fromEntries(
        Object.entries(file.arrays).map((
          [k, v],
        ) => [k, { array: v.array.slice(), shape: [...v.shape] }]),
      );
      edit(arrays);
      const bad = join(dir, `${name}.tacit`);
      await writeTacitFile(bad, { kind: file.kind, params: file.params, arrays });
      return bad;
    };
    const cases: [string, (a: typeof file.arrays) => void, RegExp][] = [
      ["nan-factor", (a) => (a.userFactors!.array[0] = NaN), /finite factors but found NaN/],
      ["constant", (a) => (a.itemFactors!.array[2] = 0.5), /1 in its constant column/],
      ["negative-second", (a) => (a.itemSecond!.array[0] = -1), /non-negative Adam moments/],
      ["step", (a) => (a.adamStep!.array[0] = 1.5), /step count/],
    ];
    for (const [name, edit, message] of cases) {
      const bad = await variant(name, edit);
      await assert.rejects(MinibatchFactorization.load(bad), (error: Error) => {
        assert.match(error.message, message);
        assert.ok(error.message.includes(bad), error.message);
        return true;
      });
    }
    const { arrays } = file;
    const wrongShape = join(dir, "shape.tacit");
    await writeTacitFile(wrongShape, {
      kind: file.kind,
      params: { ...file.params, embeddingDim: 3 },
      arrays,
    });
    await assert.rejects(
      MinibatchFactorization.load(wrongShape),
      /to have 5 columns \(embeddingDim \+ 2, from the params\) but found 4/,
    );
    // The good file still loads: nothing above touched it.
    writeFileSync(join(dir, "copy"), readFileSync(path));
    await MinibatchFactorization.load(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad options and inputs are refused with the argument named, and a diverged fit leaves the model", async () => {
  assert.throws(
    () => new MinibatchFactorization({ embedding_dim: 8 } as never),
    /found 'embedding_dim'/,
  );
  assert.throws(() => new MinibatchFactorization({ loss: "warp" as never }), /loss/);
  assert.throws(() => new MinibatchFactorization({ optimizer: "sgd" as never }), /optimizer/);
  assert.throws(() => new MinibatchFactorization({ embeddingDim: 0 }), /embeddingDim/);
  assert.throws(() => new MinibatchFactorization({ batchSize: 1.5 }), /batchSize/);
  assert.throws(() => new MinibatchFactorization({ learningRate: NaN }), /learningRate/);
  assert.throws(() => new MinibatchFactorization({ beta1: 1 }), /beta1/);
  assert.throws(() => new MinibatchFactorization({ l2: -1 }), /l2/);
  assert.throws(
    () => new MinibatchFactorization({ verifyNegativeSamples: "no" as never }),
    /verifyNegativeSamples/,
  );
  const model = new MinibatchFactorization({ nIter: 1, randomState: 1 });
  assert.throws(() => model.predict(0), /needs a fitted model/);
  await assert.rejects(model.fit(small, { epochs: 3 } as never), /found 'epochs'/);
  await assert.rejects(
    model.fit(new CsrMatrix([3, 3], new Int32Array(4), new Int32Array(0), new Float32Array(0))),
    /at least one stored entry/,
  );
  await assert.rejects(model.fit([[1]] as never), /CsrMatrix/);
  await model.fit(small, { progress: false });
  const before = model.userFactors.data.slice();
  await assert.rejects(model.fit(train, { progress: false }), /shape \[4, 5\]/);
  assert.throws(() => model.predict(4), /userIds/);
  assert.throws(() => model.predict(0, [5]), /itemIds/);
  assert.throws(() => model.predict([0, 1], [1]), /same length/);
  assert.throws(
    () => model.assignFactors(model.userFactors, model.itemFactors),
    /cannot be assigned/,
  );
  assert.deepEqual(model.userFactors.data, before);

  const fitted = new MinibatchFactorization({ learningRate: 1e30, nIter: 1, randomState: 1 });
  await fitted.fit(small, { progress: false });
  const kept = fitted.itemFactors.data.slice();
  await assert.rejects(
    new MinibatchFactorization({ ...fitted.parameters(), learningRate: 1e30, nIter: 20 }).fit(
      small,
      { progress: false },
    ),
    /diverged|non-finite/,
  );
  assert.deepEqual(fitted.itemFactors.data, kept);
});
