import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HybridFactorization, LightFM, lightfm } from "../mod.ts";
import { readTacitFile } from "../lib/io/format.ts";
import { loadModel } from "../lib/models/registry.ts";
import { CsrMatrix } from "../lib/sparse.ts";
import { randomMatrix, seeded } from "./reference.ts";
import { test } from "./harness.ts";

const quiet = { progress: false } as const;
const dir = mkdtempSync(join(tmpdir(), "tacit-hybrid-"));
let files = 0;

/** Every array of the model's saved state (parameters, optimiser state, features, generator). */
async function stateOf(model: HybridFactorization): Promise<Record<string, number[]>> {
  const path = join(dir, `state-${files++}.tacit`);
  await model.save(path);
  const file = await readTacitFile(path);
  return Object.fromEntries(
    Object.entries(file.arrays).map(([name, { array }]) => [name, Array.from(array)]),
  );
}

// 120 users × 80 items, about 10% filled with values 1..5.
const plays = randomMatrix(120, 80, 0.1, 7);

/** Rows of a CSR matrix as sets of column ids. */
function rowSets(matrix: CsrMatrix): Set<number>[] {
  return Array.from({ length: matrix.nRows }, (_, r) => new Set(matrix.row(r).indices));
}

test("predict is the representations' dot product plus both biases, and recommend ranks by it", async () => {
  const model = await new HybridFactorization({
    noComponents: 6,
    loss: "warp",
    randomState: 3,
    numThreads: 1,
  }).fit(plays, { ...quiet, epochs: 5 });
  const k = 6;
  const users = model.getUserRepresentations();
  const items = model.getItemRepresentations();
  assert.deepEqual(users.shape, [120, k]);
  assert.deepEqual(items.shape, [80, k]);
  assert.equal(model.factorCount, k + 2);
  const score = (u: number, i: number) => {
    let s = users.biases[u]! + items.biases[i]!;
    for (let c = 0; c < k; c++) s += users.embeddings[u * k + c]! * items.embeddings[i * k + c]!;
    return s;
  };
  const userIds: number[] = [];
  const itemIds: number[] = [];
  for (let u = 0; u < 120; u += 7) {
    for (let i = 0; i < 80; i++) {
      userIds.push(u);
      itemIds.push(i);
    }
  }
  const predicted = model.predict(userIds, itemIds);
  assert.ok(predicted instanceof Float32Array);
  predicted.forEach((p, k) => {
    assert.ok(Math.abs(p - score(userIds[k]!, itemIds[k]!)) < 1e-5, `pair ${k}`);
  });
  // The biases are not all zero after training, so the check covers them.
  assert.ok(items.biases.some((b) => b !== 0));
  // One user id for every item, as LightFM allows.
  assert.deepEqual(model.predict(7, [0, 1, 2]), model.predict([7, 7, 7], [0, 1, 2]));

  // recommend's scores are the full score of predict, liked items left out.
  const liked = rowSets(plays);
  for (const u of [0, 13, 77]) {
    const { ids, scores } = model.recommend(u, plays, { n: 80 });
    assert.equal(ids.length, 80 - liked[u]!.size);
    ids.forEach((id, r) => {
      assert.ok(!liked[u]!.has(id));
      assert.ok(Math.abs(scores[r]! - score(u, id)) < 1e-4);
      if (r > 0) assert.ok(scores[r - 1]! >= scores[r]!);
    });
  }
  // similarItems is the cosine of the embeddings, without the biases.
  const cosine = (a: number, b: number) => {
    let ab = 0, aa = 0, bb = 0;
    for (let c = 0; c < k; c++) {
      const x = items.embeddings[a * k + c]!, y = items.embeddings[b * k + c]!;
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    return ab / Math.sqrt(aa * bb);
  };
  const similar = model.similarItems(5, { n: 80 });
  assert.equal(similar.ids[0], 5);
  similar.ids.forEach((id, r) => assert.ok(Math.abs(similar.scores[r]! - cosine(5, id)) < 1e-5));
  const batch = model.similarUsers([0, 1], { n: 3 });
  assert.deepEqual(batch.shape, [2, 3]);
  assert.deepEqual([batch.ids[0], batch.ids[3]], [0, 1]);
});

test("predictRank equals a brute-force rank over the representations' scores", async () => {
  const model = await new HybridFactorization({
    noComponents: 5,
    loss: "warp",
    randomState: 8,
    numThreads: 1,
  }).fit(plays, { ...quiet, epochs: 3 });
  const k = 5;
  const users = model.getUserRepresentations();
  const items = model.getItemRepresentations();
  const score = (u: number, i: number) => {
    let s = users.biases[u]! + items.biases[i]!;
    for (let c = 0; c < k; c++) s += users.embeddings[u * k + c]! * items.embeddings[i * k + c]!;
    return s;
  };
  // Test entries: about 5% of the cells plays does not hold.
  const liked = rowSets(plays);
  const next = seeded(31);
  const rows: number[] = [], cols: number[] = [];
  for (let u = 0; u < 120; u++) {
    for (let i = 0; i < 80; i++) {
      if (!liked[u]!.has(i) && next() < 0.05) {
        rows.push(u);
        cols.push(i);
      }
    }
  }
  const test = CsrMatrix.fromCoo({ rows, cols, shape: [120, 80] });
  for (const train of [undefined, plays]) {
    const ranks = model.predictRank(test, { trainInteractions: train });
    assert.deepEqual(ranks.shape, test.shape);
    assert.deepEqual(ranks.indptr, test.indptr);
    assert.deepEqual(ranks.indices, test.indices);
    let exact = 0;
    for (let u = 0; u < 120; u++) {
      const [start, end] = test.rowRange(u);
      for (let p = start; p < end; p++) {
        const i = test.indices[p]!;
        const s = score(u, i);
        // Brute force: j != i, j not a training item, s(u, j) >= s(u, i). Float32 sums in
        // another order may move a near tie: lo counts clear wins, hi counts near ties too.
        let lo = 0, hi = 0;
        for (let j = 0; j < 80; j++) {
          if (j === i || (train !== undefined && liked[u]!.has(j))) continue;
          const t = score(u, j);
          if (t >= s + 1e-5) lo++;
          if (t >= s - 1e-5) hi++;
        }
        const rank = ranks.data[p]!;
        assert.ok(
          lo <= rank && rank <= hi,
          `user ${u} item ${i}: rank ${rank} not in [${lo}, ${hi}]`,
        );
        if (lo === hi) exact++;
      }
    }
    assert.ok(exact >= test.nnz - 2, `${exact} of ${test.nnz} ranks without a near tie`);
  }
  // Features passed to the call replace the fitted ones (here the same identity).
  const ranks = model.predictRank(test, { trainInteractions: plays });
  const ids = Array.from({ length: 80 }, (_, i) => i);
  const identity = CsrMatrix.fromCoo({ rows: ids, cols: ids, shape: [80, 80] });
  assert.deepEqual(
    model.predictRank(test, { trainInteractions: plays, itemFeatures: identity }),
    ranks,
  );
  // LightFM's evaluation functions take the model through predictRank.
  const expected: number[] = [];
  for (let u = 0; u < 120; u++) {
    const [start, end] = test.rowRange(u);
    if (end === start) continue;
    let hits = 0;
    for (let p = start; p < end; p++) if (ranks.data[p]! < 5) hits++;
    expected.push(hits / 5);
  }
  assert.deepEqual(
    Array.from(lightfm.precisionAtK(model, test, { trainInteractions: plays, k: 5 })),
    expected.map((v) => Math.fround(v)),
  );
  // As LightFM, a test entry that is also a training entry is refused by default.
  assert.throws(() => model.predictRank(plays, { trainInteractions: plays }), /share|intersect/);
  assert.throws(() => model.predictRank(CsrMatrix.empty([120, 81])), /81/);
});

test("LightFM is the same class, with LightFM's defaults", () => {
  assert.equal(LightFM, HybridFactorization);
  const model = new LightFM();
  assert.deepEqual(model.parameters(), {
    noComponents: 10,
    k: 5,
    n: 10,
    learningSchedule: "adagrad",
    loss: "logistic",
    learningRate: 0.05,
    rho: 0.95,
    epsilon: 1e-6,
    itemAlpha: 0,
    userAlpha: 0,
    maxSampled: 10,
    deterministic: false,
    numThreads: 0,
    dtype: "float32",
    device: "cpu",
  });
});

test("deterministic mode gives the same parameters bit for bit on 1 and 2 threads", async () => {
  // 300 × 200 at 10%: about 6000 interactions, several chunks per epoch.
  const many = randomMatrix(300, 200, 0.1, 11);
  const states = [];
  for (const numThreads of [1, 2]) {
    const model = new HybridFactorization({
      noComponents: 8,
      loss: "warp",
      randomState: 5,
      deterministic: true,
      numThreads,
    });
    await model.fit(many, { ...quiet, epochs: 3 });
    states.push(await stateOf(model));
  }
  assert.deepEqual(states[0], states[1]);
});

test("fit for 2 epochs equals fit for 1, save, load and fitPartial for 1, bit for bit", async () => {
  // Genre-like item features (identity + one of 4 groups, L1-normalised) to check they are kept.
  const nItems = plays.nCols;
  const rows: number[] = [], cols: number[] = [], values: number[] = [];
  for (let i = 0; i < nItems; i++) {
    rows.push(i, i);
    cols.push(i, nItems + (i % 4));
    values.push(0.5, 0.5);
  }
  const itemFeatures = CsrMatrix.fromCoo({ rows, cols, values, shape: [nItems, nItems + 4] });
  const weights = plays.withData(plays.data.map((v) => v / 5));
  const variants = [
    { loss: "warp", itemAlpha: 1e-3, userAlpha: 1e-3 },
    { loss: "logistic", learningSchedule: "adadelta" },
    { loss: "warp-kos", k: 2, n: 4 },
  ] as const;
  for (const variant of variants) {
    const options = { noComponents: 5, randomState: 9, deterministic: true, ...variant };
    const sampleWeight = variant.loss === "warp-kos" ? undefined : weights;
    const straight = await new HybridFactorization(options).fit(plays, {
      ...quiet,
      itemFeatures,
      sampleWeight,
      epochs: 2,
    });
    const first = await new HybridFactorization(options).fit(plays, {
      ...quiet,
      itemFeatures,
      sampleWeight,
      epochs: 1,
    });
    const path = join(dir, `resume-${variant.loss}.tacit`);
    await first.save(path);
    const loaded = await loadModel(path);
    assert.ok(loaded instanceof HybridFactorization);
    assert.deepEqual(loaded.parameters(), first.parameters());
    assert.equal(loaded.nItemFeatures, nItems + 4);
    // No features passed: the saved ones are used.
    await loaded.fitPartial(plays, { ...quiet, sampleWeight, epochs: 1 });
    assert.deepEqual(await stateOf(loaded), await stateOf(straight), variant.loss);
    assert.deepEqual(loaded.recommend([1, 2], plays), straight.recommend([1, 2], plays));
  }
});

test("fitPartial on an unfitted model is fit", async () => {
  const options = { noComponents: 4, loss: "bpr", randomState: 2, numThreads: 1 } as const;
  const a = await new HybridFactorization(options).fit(plays, { ...quiet, epochs: 2 });
  const b = await new HybridFactorization(options).fitPartial(plays, { ...quiet, epochs: 2 });
  assert.deepEqual(await stateOf(a), await stateOf(b));
  // fit restarts from the seed: a second fit gives the same model again.
  await a.fit(plays, { ...quiet, epochs: 2 });
  assert.deepEqual(await stateOf(a), await stateOf(b));
});

test("an aborted fit or fitPartial rejects and leaves the model exactly as it was", async () => {
  const options = { noComponents: 4, loss: "warp", randomState: 4, numThreads: 1 } as const;
  const model = await new HybridFactorization(options).fit(plays, { ...quiet, epochs: 1 });
  const twin = await new HybridFactorization(options).fit(plays, { ...quiet, epochs: 1 });
  const before = await stateOf(model);
  for (const method of ["fit", "fitPartial"] as const) {
    const controller = new AbortController();
    const seen: number[] = [];
    await assert.rejects(
      model[method](plays, {
        ...quiet,
        epochs: 4,
        signal: controller.signal,
        callback: (epoch, _seconds, stepped, skipped) => {
          seen.push(epoch);
          assert.equal(stepped + skipped, plays.nnz);
          if (epoch === 1) controller.abort();
        },
      }),
    );
    assert.deepEqual(seen, [0, 1]);
    assert.deepEqual(await stateOf(model), before);
  }
  // The generator was not advanced either: the next epoch is the twin's.
  await model.fitPartial(plays, { ...quiet, epochs: 1 });
  await twin.fitPartial(plays, { ...quiet, epochs: 1 });
  assert.deepEqual(await stateOf(model), await stateOf(twin));
});

test("a diverging fit throws naming the fix and leaves the model as it was", async () => {
  const model = new HybridFactorization({ learningRate: 1e30, randomState: 1, numThreads: 1 });
  await assert.rejects(model.fit(plays, { ...quiet, epochs: 5 }), (error: Error) => {
    assert.ok(error instanceof RangeError);
    assert.match(error.message, /diverged in epoch \d of 5/);
    assert.match(error.message, /smaller learningRate/);
    assert.match(error.message, /normalise/);
    return true;
  });
  assert.equal(model.nUsers, 0);
  assert.throws(() => model.predict([0], [0]), /needs a fitted model/);
  // From a fitted state (0 epochs: the initialisation only), the state is kept.
  await model.fit(plays, { ...quiet, epochs: 0 });
  const before = await stateOf(model);
  await assert.rejects(model.fitPartial(plays, { ...quiet, epochs: 5 }), /diverged/);
  assert.deepEqual(await stateOf(model), before);
});

test("bad options and inputs are refused naming the argument", async () => {
  assert.throws(() => new HybridFactorization({ components: 3 } as never), {
    name: "TypeError",
    message: /Expected an option of HybridFactorization .* but found 'components'/,
  });
  assert.throws(() => new HybridFactorization({ rho: 1 }), /rho/);
  assert.throws(() => new HybridFactorization({ maxSampled: 0 }), /maxSampled/);
  assert.throws(() => new HybridFactorization({ loss: "hinge" as never }), /loss/);
  assert.throws(() => new HybridFactorization({ learningRate: NaN }), /learningRate/);

  const model = new HybridFactorization({ noComponents: 3, randomState: 1, numThreads: 1 });
  await assert.rejects(model.fit(plays, { ...quiet, epoch: 2 } as never), /found 'epoch'/);
  await assert.rejects(model.fit("plays" as never, quiet), /interactions to be a CsrMatrix/);
  await assert.rejects(
    model.fit(plays, { ...quiet, userFeatures: CsrMatrix.empty([119, 4]) }),
    { name: "RangeError", message: /userFeatures to have 120 rows .* found 119/ },
  );
  await assert.rejects(
    model.fit(plays, { ...quiet, itemFeatures: CsrMatrix.empty([81, 4]) }),
    /itemFeatures to have 80 rows/,
  );
  // sampleWeight must store exactly the interactions' entries.
  const other = randomMatrix(120, 80, 0.1, 8);
  await assert.rejects(
    model.fit(plays, { ...quiet, sampleWeight: other }),
    { name: "RangeError", message: /sampleWeight to store exactly the entries of interactions/ },
  );
  await assert.rejects(
    model.fit(plays, { ...quiet, sampleWeight: CsrMatrix.empty([120, 81]) }),
    /sampleWeight to have the shape of interactions \[120, 80\] but found \[120,81\]/,
  );
  await assert.rejects(
    model.fit(plays, { ...quiet, sampleWeight: plays.withData(plays.data.map(() => -1)) }),
    /sampleWeight.data to be >= 0/,
  );
  const kos = new HybridFactorization({ loss: "warp-kos" });
  await assert.rejects(kos.fit(plays, { ...quiet, sampleWeight: plays }), {
    name: "TypeError",
    message: /no sampleWeight with loss 'warp-kos'/,
  });
  assert.equal(model.nUsers, 0);

  await model.fit(plays, { ...quiet, epochs: 1 });
  await assert.rejects(
    model.fitPartial(plays, { ...quiet, itemFeatures: CsrMatrix.empty([80, 81]) }),
    /itemFeatures to have 80 columns \(the model's features\) but found 81/,
  );
  await assert.rejects(
    model.fitPartial(randomMatrix(100, 80, 0.1, 3), quiet),
    /userFeatures have 120 rows but interactions has 100/,
  );
  assert.throws(() => model.predict([0, 1], [0]), /same length but found 2 and 1/);
  assert.throws(() => model.predict([0], [80]), /itemIds\[0\] = 80 is out of range/);
  assert.throws(() => model.predict([NaN], [0]), /userIds\[0\] = NaN/);
  assert.throws(() => model.predict([0], [0], { threads: 1 } as never), /found 'threads'/);
  assert.throws(
    () => model.predict([0], [0], { itemFeatures: CsrMatrix.empty([3, 5]) }),
    /itemFeatures to have 80 columns \(the model's item features\) but found 5/,
  );
  assert.throws(
    () => model.getUserRepresentations(CsrMatrix.empty([2, 3])),
    /features to have 120/,
  );
  assert.throws(() => model.recommend(0, plays, { m: 3 } as never), /found 'm'/);
  assert.throws(() => model.recommend(120, plays), /userid = 120 is out of range/);
  assert.throws(
    () => model.similarItems(0, { itemFeatures: CsrMatrix.empty([3, 79]) }),
    /itemFeatures to have 80 columns/,
  );
  assert.throws(() => model.assignFactors(model.userFactors, model.itemFactors), TypeError);
});

test("queries with new feature rows score items and users known only by their features", async () => {
  // Items: identity + 4 groups; the model is fitted, then asked about 3 new items (group only).
  const nItems = plays.nCols;
  const rows: number[] = [], cols: number[] = [], values: number[] = [];
  for (let i = 0; i < nItems; i++) {
    rows.push(i, i);
    cols.push(i, nItems + (i % 4));
    values.push(0.5, 0.5);
  }
  const itemFeatures = CsrMatrix.fromCoo({ rows, cols, values, shape: [nItems, nItems + 4] });
  const model = await new HybridFactorization({ noComponents: 4, loss: "warp", randomState: 6 })
    .fit(plays, { ...quiet, itemFeatures, epochs: 3 });
  const fresh = CsrMatrix.fromCoo({
    rows: [0, 1, 2],
    cols: [nItems, nItems + 1, nItems + 2],
    shape: [3, nItems + 4],
  });
  const scores = model.predict(4, [0, 1, 2], { itemFeatures: fresh });
  const ranked = model.recommend(4, CsrMatrix.empty([120, 3]), { itemFeatures: fresh, n: 3 });
  assert.equal(ranked.ids.length, 3);
  ranked.ids.forEach((id, r) => assert.ok(Math.abs(ranked.scores[r]! - scores[id]!) < 1e-5));
  const representations = model.getItemRepresentations(fresh);
  assert.deepEqual(representations.shape, [3, 4]);
  const similar = model.similarItems(0, { itemFeatures: fresh, n: 3 });
  assert.equal(similar.ids[0], 0);
  // A query without features is unchanged by one that had them.
  assert.deepEqual(model.predict(4, [0, 1, 2]), model.predict([4, 4, 4], [0, 1, 2]));
});

test("cold start: items never seen in training are recommended by their genre", async () => {
  const genres = 8;
  const perGenre = 30;
  const nItems = genres * perGenre;
  const nUsers = 300;
  const next = seeded(21);
  const genreOf = (item: number) => Math.floor(item / perGenre);
  // A quarter of each genre's items is held out of training entirely.
  const heldOut = (item: number) => item % perGenre < perGenre / 4;
  const likes: number[][] = [];
  const rows: number[] = [], cols: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    const first = Math.floor(next() * genres);
    const liked = next() < 0.5 ? [first] : [first, (first + 1 + Math.floor(next() * 7)) % genres];
    likes.push(liked);
    for (let p = 0; p < 16; p++) {
      const genre = liked[Math.floor(next() * liked.length)]!;
      const item = genre * perGenre + Math.floor(next() * perGenre);
      if (heldOut(item)) continue;
      rows.push(u);
      cols.push(item);
    }
  }
  // Repeated plays are summed by fromCoo; every stored value is then set to 1.
  const counted = CsrMatrix.fromCoo({ rows, cols, shape: [nUsers, nItems] });
  const trainOnes = counted.withData(new Float32Array(counted.nnz).fill(1));
  const coldItems = Array.from({ length: nItems }, (_, i) => i).filter(heldOut);
  const itemUsers = trainOnes.transpose();
  for (const item of coldItems) assert.equal(itemUsers.row(item).indices.length, 0);

  // Every item: its identity and its genre, L1-normalised.
  const fRows: number[] = [], fCols: number[] = [], fValues: number[] = [];
  for (let i = 0; i < nItems; i++) {
    fRows.push(i, i);
    fCols.push(i, nItems + genreOf(i));
    fValues.push(0.5, 0.5);
  }
  const itemFeatures = CsrMatrix.fromCoo({
    rows: fRows,
    cols: fCols,
    values: fValues,
    shape: [nItems, nItems + genres],
  });
  const n = 5;
  const hitRate = (model: HybridFactorization) => {
    const users = Array.from({ length: nUsers }, (_, u) => u);
    const { ids } = model.recommend(users, trainOnes, { n, items: coldItems });
    let hits = 0;
    ids.forEach((id, k) => {
      if (likes[Math.floor(k / n)]!.includes(genreOf(id))) hits++;
    });
    return hits / ids.length;
  };
  const options = { noComponents: 16, loss: "warp", randomState: 3 } as const;
  const hybrid = await new HybridFactorization(options).fit(trainOnes, {
    ...quiet,
    itemFeatures,
    epochs: 20,
  });
  const plain = await new HybridFactorization(options).fit(trainOnes, { ...quiet, epochs: 20 });
  // Chance: the held-out items are spread evenly over the genres.
  const chance = likes.reduce((sum, liked) => sum + liked.length / genres, 0) / nUsers;
  const withGenres = hitRate(hybrid);
  const identityOnly = hitRate(plain);
  assert.ok(withGenres > Math.max(0.8, 3 * chance), `hit rate ${withGenres}, chance ${chance}`);
  assert.ok(
    withGenres > identityOnly + 0.3,
    `with genres ${withGenres}, identity only ${identityOnly}, chance ${chance}`,
  );
});
