import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { BayesianPersonalizedRanking, rowOfNonzeros } from "../lib/models/bpr.ts";
import { listeningDataset } from "../lib/datasets/synthetic.ts";
import { getNumThreads } from "../lib/native/library.ts";
import { callNative } from "../lib/native/library.ts";
import type { CsrMatrix } from "../lib/sparse.ts";
import { bruteTopK, randomMatrix, seeded } from "./reference.ts";
import { heldOutAuc, holdOutOnePerUser } from "./holdout.ts";
import { test } from "./harness.ts";

const quiet = { progress: false } as const;
const dir = mkdtempSync(join(tmpdir(), "tacit-bpr-"));

// Users play mostly (95%) inside one genre: a held-out play is predictable from the others.
const data = listeningDataset({ users: 1200, itemsPerGenre: 25, loyalty: 0.95, seed: 5 });
const { train, heldOut } = holdOutOnePerUser(data.plays, 17);

function sampleTriples(m: CsrMatrix, verify: boolean, seed: number, n: number) {
  const users = new Int32Array(n);
  const liked = new Int32Array(n);
  const disliked = new Int32Array(n);
  callNative("tacit_bpr_sample", {
    n_rows: m.nRows,
    n_cols: m.nCols,
    indptr: m.indptr,
    indices: m.indices,
    row_of: rowOfNonzeros(m),
    verify_negatives: verify ? 1 : 0,
    seed,
    n_samples: n,
    out_users: users,
    out_liked: liked,
    out_disliked: disliked,
  });
  return { users, liked, disliked };
}

test("BPR ranks held-out liked items above unseen ones (AUC > 0.85)", async () => {
  // implicit's defaults (learning rate 0.01, 100 epochs) with fewer factors for 200 items.
  const model = await new BayesianPersonalizedRanking({ factors: 16, randomState: 3 }).fit(
    train,
    quiet,
  );
  assert.deepEqual(model.userFactors.shape, [train.nRows, 17]);
  const auc = heldOutAuc(
    data.plays,
    heldOut,
    model.userFactors.data,
    model.itemFactors.data,
    model.factorCount,
  );
  assert.ok(auc > 0.85, `held-out AUC ${auc}`);
});

test("a seeded single-thread fit is reproducible bit for bit", async () => {
  const before = getNumThreads();
  const options = { factors: 8, learningRate: 0.05, iterations: 5, randomState: 11, numThreads: 1 };
  const a = await new BayesianPersonalizedRanking(options).fit(train, quiet);
  const b = await new BayesianPersonalizedRanking(options).fit(train, quiet);
  assert.equal(getNumThreads(), before);
  assert.deepEqual(a.userFactors.data, b.userFactors.data);
  assert.deepEqual(a.itemFactors.data, b.itemFactors.data);
  const c = await new BayesianPersonalizedRanking({ ...options, randomState: 12 }).fit(
    train,
    quiet,
  );
  assert.notDeepEqual(a.itemFactors.data, c.itemFactors.data);
});

test("a deterministic seeded fit gives the same factors on one thread and on two", async () => {
  // Several chunks per epoch (one per 4096 samples), so two threads would share them.
  assert.ok(train.nnz > 2 * 4096, `${train.nnz} samples per epoch`);
  const options = {
    factors: 8,
    learningRate: 0.05,
    iterations: 4,
    randomState: 11,
    deterministic: true,
  };
  const one = await new BayesianPersonalizedRanking({ ...options, numThreads: 1 }).fit(
    train,
    quiet,
  );
  const two = await new BayesianPersonalizedRanking({ ...options, numThreads: 2 }).fit(
    train,
    quiet,
  );
  assert.equal(two.deterministic, true);
  assert.deepEqual(one.userFactors.data, two.userFactors.data);
  assert.deepEqual(one.itemFactors.data, two.itemFactors.data);
  // Deterministic runs the same chunks in the same order as one thread does.
  const plain = await new BayesianPersonalizedRanking({
    ...options,
    deterministic: false,
    numThreads: 1,
  }).fit(train, quiet);
  assert.deepEqual(plain.itemFactors.data, one.itemFactors.data);
});

/** The update of Rendle et al. 2009 (§4.3) on one triple, in float64, with the bias layout. */
function referenceStep(
  user: Float32Array,
  liked: Float32Array,
  disliked: Float32Array,
  lr: number,
  reg: number,
) {
  const f = user.length;
  let score = 0;
  for (let j = 0; j < f; j++) score += user[j]! * (liked[j]! - disliked[j]!);
  const z = 1 / (1 + Math.exp(score));
  const u = Array.from(
    user,
    (v, j) => (j === f - 1 ? v : v + lr * (z * (liked[j]! - disliked[j]!) - reg * v)),
  );
  const l = Array.from(liked, (v, j) => v + lr * (z * user[j]! - reg * v));
  const d = Array.from(disliked, (v, j) => v + lr * (-z * user[j]! - reg * v));
  return { user: u, liked: l, disliked: d, correct: score > 0 };
}

test("the native BPR step matches a plain-TypeScript update of one triple", () => {
  const next = seeded(4);
  for (const f of [1, 2, 9, 17, 65]) {
    const user = Float32Array.from({ length: f }, (_, j) => (j === f - 1 ? 1 : next() - 0.5));
    const liked = Float32Array.from({ length: f }, () => next() - 0.5);
    const disliked = Float32Array.from({ length: f }, () => next() - 0.5);
    const expected = referenceStep(user, liked, disliked, 0.07, 0.02);
    const correct = new Int32Array(1);
    callNative("tacit_bpr_step", {
      user,
      liked,
      disliked,
      f,
      learning_rate: 0.07,
      regularization: 0.02,
      out_correct: correct,
    });
    assert.equal(correct[0], expected.correct ? 1 : 0);
    for (
      const [got, want] of [[user, expected.user], [liked, expected.liked], [
        disliked,
        expected.disliked,
      ]] as const
    ) {
      for (let j = 0; j < f; j++) {
        assert.ok(Math.abs(got[j]! - want[j]!) < 1e-6, `f=${f} [${j}]: ${got[j]} vs ${want[j]}`);
      }
    }
    assert.equal(user[f - 1], 1);
  }
  assert.throws(
    () =>
      callNative("tacit_bpr_step", {
        user: new Float32Array(3),
        liked: new Float32Array(3),
        disliked: new Float32Array(3),
        f: 3,
        learning_rate: -1,
        regularization: 0,
        out_correct: new Int32Array(1),
      }),
    /learning_rate/,
  );
});

test("verified negative samples are never items the user liked", () => {
  const n = 100_000;
  const verified = sampleTriples(train, true, 7, n);
  const liked = Array.from({ length: train.nRows }, (_, u) => new Set(train.row(u).indices));
  let skipped = 0;
  for (let k = 0; k < n; k++) {
    const u = verified.users[k]!;
    assert.ok(
      liked[u]!.has(verified.liked[k]!),
      `sample ${k}: (${u}, ${verified.liked[k]}) is not a stored entry`,
    );
    if (verified.disliked[k] === -1) {
      skipped++;
      continue;
    }
    assert.ok(
      !liked[u]!.has(verified.disliked[k]!),
      `sample ${k}: user ${u} liked negative ${verified.disliked[k]}`,
    );
  }
  assert.ok(skipped > 0 && skipped < n / 2, `${skipped} skipped`);
  // Unverified, some negatives are liked items: the check above is not vacuous.
  const unverified = sampleTriples(train, false, 7, n);
  let likedNegatives = 0;
  for (let k = 0; k < n; k++) {
    const j = unverified.disliked[k]!;
    if (j >= 0 && liked[unverified.users[k]!]!.has(j)) likedNegatives++;
  }
  assert.ok(likedNegatives > 0);
  // An epoch skips exactly the samples the sampler rejects.
  const counts = new Int32Array(2);
  const f = 5;
  const users = new Float32Array(train.nRows * f).fill(0.01);
  const items = new Float32Array(train.nCols * f).fill(0.01);
  callNative("tacit_bpr_epoch", {
    n_rows: train.nRows,
    n_cols: train.nCols,
    indptr: train.indptr,
    indices: train.indices,
    row_of: rowOfNonzeros(train),
    user_factors: users,
    item_factors: items,
    f,
    learning_rate: 0.05,
    regularization: 0.01,
    verify_negatives: 1,
    seed: 7,
    deterministic: 0,
    n_samples: n,
    out_counts: counts,
  });
  assert.equal(counts[1], skipped);
});

test("negatives are drawn in proportion to item popularity", () => {
  const n = 200_000;
  const { disliked } = sampleTriples(train, false, 9, n);
  const drawn = new Float64Array(train.nCols);
  for (const j of disliked) if (j >= 0) drawn[j]!++;
  const popularity = new Float64Array(train.nCols);
  for (const j of train.indices) popularity[j]!++;
  const total = drawn.reduce((s, v) => s + v, 0);
  for (let j = 0; j < train.nCols; j++) {
    const expected = (popularity[j]! / train.nnz) * total;
    assert.ok(
      Math.abs(drawn[j]! - expected) < 6 * Math.sqrt(expected) + 5,
      `item ${j}: ${drawn[j]} draws, expected ${expected}`,
    );
  }
});

test("the callback reports each epoch's correct and skipped samples and training AUC rises", async () => {
  const seen: { correct: number; skipped: number; seconds: number }[] = [];
  await new BayesianPersonalizedRanking({
    factors: 8,
    learningRate: 0.05,
    iterations: 8,
    randomState: 2,
  })
    .fit(train, {
      progress: false,
      callback: (_epoch, seconds, correct, skipped) => seen.push({ correct, skipped, seconds }),
    });
  assert.equal(seen.length, 8);
  for (const { correct, skipped, seconds } of seen) {
    assert.ok(skipped > 0 && correct + skipped <= train.nnz && seconds >= 0);
  }
  const auc = seen.map(({ correct, skipped }) => correct / (train.nnz - skipped));
  assert.ok(
    auc.at(-1)! > auc[0]! && auc.at(-1)! > 0.8,
    `training AUC ${auc.map((a) => a.toFixed(3))}`,
  );
  const unverified: number[] = [];
  await new BayesianPersonalizedRanking({
    factors: 8,
    iterations: 2,
    randomState: 2,
    verifyNegativeSamples: false,
  })
    .fit(train, { progress: false, callback: (_e, _s, _c, skipped) => unverified.push(skipped) });
  // Without verification only j = i is skipped: about nnz / (items weighted by popularity).
  assert.ok(
    unverified.every((s, k) => s < seen[k]!.skipped),
    `${unverified} vs ${seen.map((s) => s.skipped)}`,
  );
});

test("the progress bar shows each epoch's training AUC and skipped samples", async () => {
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write =
    ((text: string) => lines.push(String(text)) > 0) as typeof process.stderr.write;
  const seen: string[] = [];
  try {
    await new BayesianPersonalizedRanking({ factors: 4, iterations: 3, randomState: 1 })
      .fit(train, {
        progress: true,
        callback: (_e, _s, correct, skipped) =>
          seen.push(`${(100 * correct / (train.nnz - skipped)).toFixed(2)}% ${skipped}`),
      });
  } finally {
    process.stderr.write = write;
  }
  const shown = lines.join("").split(/[\r\n]/).filter((line) => line.includes("3/3")).at(-1) ?? "";
  const match = /train_auc=([\d.]+%), skipped=(\d+) \(/.exec(shown);
  assert.ok(match, `no AUC in ${JSON.stringify(shown)}`);
  assert.equal(`${match[1]} ${match[2]}`, seen.at(-1));
});

test("bad options are refused with errors naming the option", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ learningRate: -0.01 }, /learningRate/],
    [{ learningRate: 0 }, /learningRate/],
    [{ learningRate: Number.NaN }, /learningRate.*NaN/],
    [{ factors: 0 }, /factors/],
    [{ factors: 2.5 }, /factors/],
    [{ factors: 1024 }, /factors/],
    [{ regularization: Number.NaN }, /regularization/],
    [{ regularization: -1 }, /regularization/],
    [{ iterations: -1 }, /iterations/],
    [{ verifyNegativeSamples: "yes" }, /verifyNegativeSamples/],
    [{ deterministic: 1 }, /deterministic/],
    [{ randomState: -3 }, /randomState/],
    [{ numThreads: 1.5 }, /numThreads/],
    [{ dtype: "float64" }, /dtype/],
  ];
  for (const [options, pattern] of cases) {
    assert.throws(
      () => new BayesianPersonalizedRanking(options as never),
      (e: Error) => (e instanceof RangeError || e instanceof TypeError) && pattern.test(e.message),
      JSON.stringify(options),
    );
  }
});

test("fit refuses an empty matrix and an aborted fit keeps the previous factors", async () => {
  const empty = randomMatrix(4, 5, 0, 1);
  const model = new BayesianPersonalizedRanking({ factors: 3, iterations: 2, randomState: 1 });
  await assert.rejects(model.fit(empty, quiet), /at least one stored entry/);
  await model.fit(train, quiet);
  const before = model.itemFactors.data;
  const controller = new AbortController();
  const pending = model.fit(train, {
    progress: false,
    signal: controller.signal,
    callback: (epoch) => epoch === 0 && controller.abort(),
  });
  await assert.rejects(pending, (e: Error) => e.name === "AbortError");
  assert.equal(model.itemFactors.data, before);
});

test("save then load round-trips the factors and options", async () => {
  const model = await new BayesianPersonalizedRanking({
    factors: 6,
    learningRate: 0.03,
    iterations: 3,
    randomState: 8,
    verifyNegativeSamples: false,
  })
    .fit(train, quiet);
  const path = join(dir, "bpr.tacit");
  await model.save(path);
  const loaded = await BayesianPersonalizedRanking.load(path);
  assert.deepEqual(loaded.userFactors.data, model.userFactors.data);
  assert.deepEqual(loaded.itemFactors.data, model.itemFactors.data);
  assert.deepEqual(loaded.itemFactors.shape, [train.nCols, 7]);
  assert.equal(loaded.learningRate, 0.03);
  assert.equal(loaded.verifyNegativeSamples, false);
  assert.equal(loaded.randomState, 8);
  assert.deepEqual(
    loaded.recommend([1, 2, 3], train, { n: 5 }),
    model.recommend([1, 2, 3], train, { n: 5 }),
  );
});

test("recommend() ranks by the dot product with the item bias and never returns a liked item", async () => {
  const model = await new BayesianPersonalizedRanking({
    factors: 8,
    learningRate: 0.05,
    iterations: 10,
    randomState: 4,
  }).fit(train, quiet);
  const f = model.factorCount;
  const users = model.userFactors.data;
  const items = model.itemFactors.data;
  for (const u of [0, 17, 404]) {
    const got = model.recommend(u, train, { n: 10 });
    const scores = Array.from({ length: train.nCols }, (_, i) => {
      let s = 0;
      for (let d = 0; d < f; d++) s += users[u * f + d]! * items[i * f + d]!;
      return s;
    });
    const want = bruteTopK(scores, 10, new Set(train.row(u).indices));
    assert.deepEqual([...got.ids], want.ids);
    for (let k = 0; k < 10; k++) assert.ok(Math.abs(got.scores[k]! - want.scores[k]!) < 1e-5);
    assert.equal(users[u * f + f - 1], 1);
  }
  const similar = model.similarItems(3, { n: 5 });
  assert.equal(similar.ids[0], 3);
});
