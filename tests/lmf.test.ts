import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LogisticMatrixFactorization } from "../lib/models/lmf.ts";
import { listeningDataset } from "../lib/datasets/synthetic.ts";
import { callNative, getNumThreads } from "../lib/native/library.ts";
import { bruteTopK, randomFactors, randomMatrix, toRows } from "./reference.ts";
import { heldOutAuc, holdOutOnePerUser } from "./holdout.ts";
import { test } from "./harness.ts";

const quiet = { progress: false } as const;
const dir = mkdtempSync(join(tmpdir(), "tacit-lmf-"));

// Users play mostly (95%) inside one genre: a held-out play is predictable from the others.
const data = listeningDataset({ users: 1200, itemsPerGenre: 25, loyalty: 0.95, seed: 5 });
const { train, heldOut } = holdOutOnePerUser(data.plays, 17);

test("LMF ranks held-out liked items above unseen ones (AUC > 0.85)", async () => {
  // implicit's defaults: 30 factors, learning rate 1, regularization 0.6, 30 epochs, negProp 30.
  const model = await new LogisticMatrixFactorization({ randomState: 3 }).fit(train, quiet);
  assert.deepEqual(model.userFactors.shape, [train.nRows, 32]);
  const auc = heldOutAuc(
    data.plays,
    heldOut,
    model.userFactors.data,
    model.itemFactors.data,
    model.factorCount,
  );
  assert.ok(auc > 0.85, `held-out AUC ${auc}`);
});

test("a seeded fit is reproducible bit for bit, on one thread or several", async () => {
  const before = getNumThreads();
  const options = { factors: 8, iterations: 4, negProp: 5, randomState: 11 };
  const a = await new LogisticMatrixFactorization({ ...options, numThreads: 1 }).fit(train, quiet);
  const b = await new LogisticMatrixFactorization({ ...options, numThreads: 1 }).fit(train, quiet);
  const c = await new LogisticMatrixFactorization({ ...options, numThreads: 3 }).fit(train, quiet);
  assert.equal(getNumThreads(), before);
  assert.deepEqual(a.userFactors.data, b.userFactors.data);
  assert.deepEqual(a.itemFactors.data, b.itemFactors.data);
  assert.deepEqual(a.itemFactors.data, c.itemFactors.data);
  const d = await new LogisticMatrixFactorization({ ...options, randomState: 12 }).fit(
    train,
    quiet,
  );
  assert.notDeepEqual(a.itemFactors.data, d.itemFactors.data);
});

/** One Adagrad step per row (Johnson 2014, eq. 3–4) without sampled negatives, in float64. */
function referenceUpdate(
  rows: number[][],
  x: Float32Array,
  y: Float32Array,
  sums: Float32Array,
  f: number,
  fixed: number,
  lr: number,
  reg: number,
) {
  const xOut = Array.from(x);
  const sumsOut = Array.from(sums);
  rows.forEach((row, u) => {
    if (row.every((v) => v === 0)) return;
    const g = new Array<number>(f).fill(0);
    row.forEach((c, i) => {
      if (c === 0) return;
      let s = 0;
      for (let d = 0; d < f; d++) s += x[u * f + d]! * y[i * f + d]!;
      const weight = c * (1 - 1 / (1 + Math.exp(-s)));
      for (let d = 0; d < f; d++) g[d]! += weight * y[i * f + d]!;
    });
    for (let d = 0; d < f; d++) {
      if (d === fixed) continue;
      const gd = g[d]! - reg * x[u * f + d]!;
      sumsOut[u * f + d]! += gd * gd;
      xOut[u * f + d]! += lr * gd / Math.sqrt(1e-6 + sumsOut[u * f + d]!);
    }
  });
  return { x: xOut, sums: sumsOut };
}

test("the native LMF half-epoch matches a plain-TypeScript Adagrad step", () => {
  const f = 7;
  const m = randomMatrix(12, 9, 0.3, 2);
  const x = randomFactors(12, f, 3);
  const y = randomFactors(9, f, 4);
  const sums = Float32Array.from(randomFactors(12, f, 5), (v) => Math.abs(v));
  const expected = referenceUpdate(toRows(m), x, y, sums, f, 5, 0.8, 0.3);
  callNative("tacit_lmf_update", {
    n_rows: m.nRows,
    indptr: m.indptr,
    indices: m.indices,
    data: m.data,
    x,
    y,
    n_other: 9,
    f,
    adagrad: sums,
    fixed_column: 5,
    learning_rate: 0.8,
    regularization: 0.3,
    neg_prop: 0,
    negatives_max: f,
    seed: 1,
  });
  for (let k = 0; k < x.length; k++) {
    assert.ok(Math.abs(x[k]! - expected.x[k]!) < 1e-5, `x[${k}]: ${x[k]} vs ${expected.x[k]}`);
    assert.ok(
      Math.abs(sums[k]! - expected.sums[k]!) < 1e-4 * Math.max(1, expected.sums[k]!),
      `adagrad[${k}]`,
    );
  }
  // Sampled negatives push the logits of the sampled (popular) columns down.
  const before = Float32Array.from(x);
  callNative("tacit_lmf_update", {
    n_rows: m.nRows,
    indptr: m.indptr,
    indices: m.indices,
    data: m.data,
    x,
    y,
    n_other: 9,
    f,
    adagrad: sums,
    fixed_column: 5,
    learning_rate: 0.8,
    regularization: 0.3,
    neg_prop: 4,
    negatives_max: f,
    seed: 1,
  });
  assert.notDeepEqual(x, before);
  for (let u = 0; u < 12; u++) assert.equal(x[u * f + 5], before[u * f + 5]);
});

test("negatives_max caps a row's negatives: a cap of 0 gives the step without negatives", () => {
  const f = 6;
  const m = randomMatrix(10, 8, 0.4, 6);
  const start = randomFactors(10, f, 7);
  const y = randomFactors(8, f, 8);
  const step = (negProp: number, negativesMax: number) => {
    const x = Float32Array.from(start);
    callNative("tacit_lmf_update", {
      n_rows: m.nRows,
      indptr: m.indptr,
      indices: m.indices,
      data: m.data,
      x,
      y,
      n_other: 8,
      f,
      adagrad: new Float32Array(x.length),
      fixed_column: 4,
      learning_rate: 0.7,
      regularization: 0.2,
      neg_prop: negProp,
      negatives_max: negativesMax,
      seed: 5,
    });
    return x;
  };
  assert.deepEqual(step(30, 0), step(0, 2_147_483_647));
  assert.notDeepEqual(step(30, 1), step(30, 0));
  // Rows have at most 8 entries, so a cap of 240 = 30 × 8 never binds (and the 10 rows make one
  // chunk either way, drawing from one stream): the same step as the uncapped rule.
  assert.deepEqual(step(30, 240), step(30, 2_147_483_647));
  assert.notDeepEqual(step(30, 8), step(30, 2_147_483_647));
});

test("bad options and negative confidences are refused with clear errors", async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ learningRate: -1 }, /learningRate/],
    [{ learningRate: 0 }, /learningRate/],
    [{ learningRate: Number.NaN }, /learningRate.*NaN/],
    [{ factors: 0 }, /factors/],
    [{ factors: 1023 }, /factors/],
    [{ regularization: Number.NaN }, /regularization/],
    [{ regularization: -0.5 }, /regularization/],
    [{ iterations: 2.5 }, /iterations/],
    [{ negProp: -1 }, /negProp/],
    [{ negativeSampling: "paper" }, /negativeSampling/],
    [{ randomState: Number.NaN }, /randomState/],
    [{ dtype: "float16" }, /dtype/],
  ];
  for (const [options, pattern] of cases) {
    assert.throws(
      () => new LogisticMatrixFactorization(options as never),
      (e: Error) => (e instanceof RangeError || e instanceof TypeError) && pattern.test(e.message),
      JSON.stringify(options),
    );
  }
  const negative = randomMatrix(6, 5, 0.5, 3, true);
  const model = new LogisticMatrixFactorization({ factors: 2, iterations: 1 });
  await assert.rejects(
    model.fit(negative, quiet),
    /userItems.data to be >= 0 .* but found data\[\d+\] = -/,
  );
  await assert.rejects(model.fit(randomMatrix(3, 3, 0, 1), quiet), /at least one stored entry/);
  assert.equal(model.nUsers, 0);
});

test("an aborted fit rejects and keeps the previous factors", async () => {
  const model = await new LogisticMatrixFactorization({
    factors: 4,
    iterations: 2,
    negProp: 3,
    randomState: 2,
  }).fit(train, quiet);
  const before = model.userFactors.data;
  const controller = new AbortController();
  const pending = model.fit(train, {
    progress: false,
    signal: controller.signal,
    callback: (epoch) => epoch === 0 && controller.abort(),
  });
  await assert.rejects(pending, (e: Error) => e.name === "AbortError");
  assert.equal(model.userFactors.data, before);
});

test("save then load round-trips the factors and options", async () => {
  const model = await new LogisticMatrixFactorization({
    factors: 5,
    iterations: 2,
    negProp: 4,
    learningRate: 0.5,
    negativeSampling: "perPositive",
    randomState: 6,
  }).fit(train, quiet);
  const path = join(dir, "lmf.tacit");
  await model.save(path);
  const loaded = await LogisticMatrixFactorization.load(path);
  assert.deepEqual(loaded.userFactors.data, model.userFactors.data);
  assert.deepEqual(loaded.itemFactors.data, model.itemFactors.data);
  assert.deepEqual(loaded.userFactors.shape, [train.nRows, 7]);
  assert.equal(loaded.negProp, 4);
  assert.equal(loaded.learningRate, 0.5);
  assert.equal(loaded.negativeSampling, "perPositive");
  assert.deepEqual(
    loaded.recommend([0, 5], train, { n: 4 }),
    model.recommend([0, 5], train, { n: 4 }),
  );
});

test("recommend() ranks by the logit, and probabilities: true gives σ(logit) in the same order", async () => {
  const callbacks: number[] = [];
  const model = await new LogisticMatrixFactorization({
    factors: 8,
    iterations: 5,
    negProp: 10,
    randomState: 4,
  })
    .fit(train, {
      progress: false,
      callback: (epoch, seconds) => seconds >= 0 && callbacks.push(epoch),
    });
  assert.deepEqual(callbacks, [0, 1, 2, 3, 4]);
  const f = model.factorCount;
  const users = model.userFactors.data;
  const items = model.itemFactors.data;
  for (const u of [3, 250]) {
    assert.equal(users[u * f + f - 2], 1);
    const logits = Array.from({ length: train.nCols }, (_, i) => {
      let s = 0;
      for (let d = 0; d < f; d++) s += users[u * f + d]! * items[i * f + d]!;
      return s;
    });
    const want = bruteTopK(logits, 10, new Set(train.row(u).indices));
    const got = model.recommend(u, train, { n: 10 });
    assert.deepEqual([...got.ids], want.ids);
    const probabilities = model.recommend(u, train, { n: 10, probabilities: true });
    assert.deepEqual(probabilities.ids, got.ids);
    for (let k = 0; k < 10; k++) {
      assert.ok(Math.abs(got.scores[k]! - want.scores[k]!) < 1e-4);
      assert.ok(Math.abs(probabilities.scores[k]! - 1 / (1 + Math.exp(-want.scores[k]!))) < 1e-6);
      assert.ok(probabilities.scores[k]! > 0 && probabilities.scores[k]! < 1);
    }
  }
  const batch = model.recommend([1, 2], train, { n: 3, probabilities: true });
  assert.deepEqual(batch.shape, [2, 3]);
  assert.throws(
    () => model.recommend(1, train, { probabilities: "yes" as never }),
    /probabilities/,
  );
});
