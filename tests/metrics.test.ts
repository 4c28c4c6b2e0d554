import assert from "node:assert/strict";
import { AlternatingLeastSquares } from "../lib/models/als.ts";
import type { RankedBatch } from "../lib/models/query.ts";
import { callNative } from "../lib/native/library.ts";
import { CsrMatrix } from "../lib/sparse.ts";
import type { RankingModel } from "../lib/evaluation/scorer.ts";
import {
  aucAtK,
  meanAveragePrecisionAtK,
  type MetricName,
  mrrAtK,
  ndcgAtK,
  precisionAtK,
  type RankingMetrics,
  rankingMetricsAtK,
  type RankingMetricsPerUser,
  recallAtK,
} from "../lib/evaluation/metrics.ts";
import { seeded } from "./reference.ts";
import { test } from "./harness.ts";

const quiet = { progress: false } as const;
const METRICS: readonly MetricName[] = ["precision", "recall", "map", "ndcg", "auc", "mrr"];

// ---------------------------------------------------------------------------
// An independent brute force, written from the definitions in
// lib/evaluation/metrics.ts: score every item by a dot product, drop training
// items, sort (score descending, id ascending), keep k, then count.

interface Reference {
  users: number[];
  perUser: Record<MetricName, number[]>;
  lightfmPrecision: number[];
  hits: number[];
  denominators: number[];
}

function bruteForce(
  model: AlternatingLeastSquares,
  train: CsrMatrix,
  testSet: CsrMatrix,
  k: number,
): Reference {
  const f = model.factorCount;
  const users = model.userFactors.data;
  const items = model.itemFactors.data;
  const nItems = model.nItems;
  const out: Reference = {
    users: [],
    perUser: { precision: [], recall: [], map: [], ndcg: [], auc: [], mrr: [] },
    lightfmPrecision: [],
    hits: [],
    denominators: [],
  };
  for (let u = 0; u < model.nUsers; u++) {
    const relevant = new Set(rowOf(testSet, u));
    if (relevant.size === 0) continue;
    const liked = new Set(rowOf(train, u));
    const ranked: { id: number; score: number }[] = [];
    for (let i = 0; i < nItems; i++) {
      if (liked.has(i)) continue;
      let score = 0;
      for (let j = 0; j < f; j++) score += users[u * f + j]! * items[i * f + j]!;
      ranked.push({ id: i, score });
    }
    ranked.sort((a, b) => b.score - a.score || a.id - b.id);
    const list = ranked.slice(0, k).map((entry) => entry.id);

    const positives = relevant.size;
    const negatives = nItems - positives;
    const d = Math.min(k, positives);
    let hits = 0;
    let precisionSum = 0;
    let dcg = 0;
    let firstHit = -1;
    list.forEach((id, i) => {
      if (!relevant.has(id)) return;
      hits++;
      precisionSum += hits / (i + 1);
      dcg += 1 / Math.log2(i + 2);
      if (firstHit < 0) firstHit = i;
    });
    let idcg = 0;
    for (let i = 0; i < d; i++) idcg += 1 / Math.log2(i + 2);

    // AUC@k as pairs (positive, negative) ordered correctly: a listed positive
    // beats every negative listed below it and every unlisted negative; an
    // unlisted positive and an unlisted negative count one half.
    let pairs = 0;
    list.forEach((id, i) => {
      if (!relevant.has(id)) return;
      const negativesBelow = list.slice(i + 1).filter((other) => !relevant.has(other)).length;
      pairs += negativesBelow;
    });
    const listedNegatives = list.filter((id) => !relevant.has(id)).length;
    const unlistedNegatives = negatives - listedNegatives;
    pairs += hits * unlistedNegatives + 0.5 * (positives - hits) * unlistedNegatives;

    out.users.push(u);
    out.hits.push(hits);
    out.denominators.push(d);
    out.perUser.precision.push(hits / d);
    out.lightfmPrecision.push(hits / k);
    out.perUser.recall.push(hits / positives);
    out.perUser.map.push(precisionSum / d);
    out.perUser.ndcg.push(dcg / idcg);
    out.perUser.auc.push(negatives === 0 ? 1 : pairs / (positives * negatives));
    out.perUser.mrr.push(firstHit < 0 ? 0 : 1 / (firstHit + 1));
  }
  return out;
}

function rowOf(matrix: CsrMatrix, r: number): number[] {
  return Array.from(matrix.indices.subarray(matrix.indptr[r]!, matrix.indptr[r + 1]!));
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function close(actual: number, expected: number, what: string, tolerance = 1e-12): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} != ${expected}`,
  );
}

/**
 * A model whose factors are multiples of 1/16 in [−1, 1]: every dot product is
 * exact in float32 and float64, so the native ranking and the brute force agree
 * exactly, ties (broken by id) included.
 */
function dyadicModel(
  nUsers: number,
  nItems: number,
  factors: number,
  seed: number,
): AlternatingLeastSquares {
  const next = seeded(seed);
  const dyadic = (length: number) =>
    Float32Array.from({ length }, () => (Math.floor(next() * 33) - 16) / 16);
  const model = new AlternatingLeastSquares({ factors });
  model.assignFactors(
    { data: dyadic(nUsers * factors), shape: [nUsers, factors] },
    { data: dyadic(nItems * factors), shape: [nItems, factors] },
  );
  return model;
}

/**
 * A random interaction matrix split cell by cell into train and test; some users
 * get no test items. With `overlap`, some test items are also training items.
 */
function randomSplit(
  nUsers: number,
  nItems: number,
  density: number,
  seed: number,
  overlap = false,
): [CsrMatrix, CsrMatrix] {
  const next = seeded(seed);
  const train = { rows: [] as number[], cols: [] as number[] };
  const held = { rows: [] as number[], cols: [] as number[] };
  for (let u = 0; u < nUsers; u++) {
    const testShare = u % 5 === 0 ? 0 : 0.3;
    for (let i = 0; i < nItems; i++) {
      if (next() >= density) continue;
      const inTest = next() < testShare;
      const target = inTest ? held : train;
      target.rows.push(u);
      target.cols.push(i);
      if (inTest && overlap && next() < 0.2) {
        train.rows.push(u);
        train.cols.push(i);
      }
    }
  }
  return [
    CsrMatrix.fromCoo({ ...train, shape: [nUsers, nItems] }),
    CsrMatrix.fromCoo({ ...held, shape: [nUsers, nItems] }),
  ];
}

function assertMatchesReference(
  means: RankingMetrics,
  perUser: RankingMetricsPerUser,
  lightfm: RankingMetrics,
  reference: Reference,
  label: string,
): void {
  assert.deepEqual(Array.from(perUser.users), reference.users, `${label}: evaluated users`);
  assert.equal(means.users, reference.users.length);
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  close(means.precision, sum(reference.hits) / sum(reference.denominators), `${label}: precision`);
  close(lightfm.precision, mean(reference.lightfmPrecision), `${label}: LightFM precision`);
  for (const name of METRICS) {
    if (name !== "precision") {
      close(means[name], mean(reference.perUser[name]), `${label}: ${name}`);
    }
    assert.equal(perUser[name].length, reference.users.length);
    perUser[name].forEach((value, r) =>
      close(value, reference.perUser[name][r]!, `${label}: ${name} of user ${reference.users[r]}`)
    );
  }
  for (const name of METRICS) {
    if (name !== "precision") {
      assert.equal(
        lightfm[name],
        means[name],
        `${label}: the precision option changes only precision`,
      );
    }
  }
}

for (
  const [nUsers, nItems, factors, density, seed] of [[60, 50, 8, 0.2, 1], [45, 120, 5, 0.08, 2], [
    9,
    7,
    3,
    0.5,
    3,
  ]] as const
) {
  test(`every metric matches a brute force on a random ${nUsers}×${nItems} model and split`, async () => {
    const model = dyadicModel(nUsers, nItems, factors, seed);
    const [train, held] = randomSplit(nUsers, nItems, density, seed + 100, seed === 2);
    let sawHit = false;
    let sawMiss = false;
    for (const k of [1, 3, 10, nItems, nItems + 25]) {
      for (const batchSize of [1, 7, 4096]) {
        const options = { ...quiet, k, batchSize };
        const means = await rankingMetricsAtK(model, train, held, options);
        const perUser = await rankingMetricsAtK(model, train, held, { ...options, perUser: true });
        const lightfm = await rankingMetricsAtK(model, train, held, {
          ...options,
          precision: "lightfm",
        });
        const lightfmPerUser = await rankingMetricsAtK(model, train, held, {
          ...options,
          precision: "lightfm",
          perUser: true,
        });
        const reference = bruteForce(model, train, held, k);
        const label = `k = ${k}, batchSize = ${batchSize}`;
        assertMatchesReference(means, perUser, lightfm, reference, label);
        sawHit ||= reference.hits.some((h) => h > 0);
        sawMiss ||= reference.hits.some((h, r) => h < reference.denominators[r]!);
        lightfmPerUser.precision.forEach((value, r) =>
          close(value, reference.lightfmPrecision[r]!, `${label}: LightFM precision of user ${r}`)
        );
      }
    }
    assert.ok(sawHit && sawMiss, "the cases have both hits and misses");
  });
}

test("the single-metric functions return the fields of rankingMetricsAtK", async () => {
  const model = dyadicModel(40, 30, 4, 9);
  const [train, held] = randomSplit(40, 30, 0.25, 19);
  const options = { ...quiet, k: 5 };
  const all = await rankingMetricsAtK(model, train, held, options);
  assert.equal(await precisionAtK(model, train, held, options), all.precision);
  assert.equal(await recallAtK(model, train, held, options), all.recall);
  assert.equal(await meanAveragePrecisionAtK(model, train, held, options), all.map);
  assert.equal(await ndcgAtK(model, train, held, options), all.ndcg);
  assert.equal(await aucAtK(model, train, held, options), all.auc);
  assert.equal(await mrrAtK(model, train, held, options), all.mrr);
  const perUser = await rankingMetricsAtK(model, train, held, { ...options, perUser: true });
  assert.deepEqual(await ndcgAtK(model, train, held, { ...options, perUser: true }), perUser.ndcg);
  const lightfm = await precisionAtK(model, train, held, { ...options, precision: "lightfm" });
  assert.equal(
    lightfm,
    (await rankingMetricsAtK(model, train, held, { ...options, precision: "lightfm" })).precision,
  );
});

// ---------------------------------------------------------------------------
// Hand-computed cases. One factor: every user has factor 1 and the items have
// factors 5, 4, 3, 2, 1, so every user ranks items 0, 1, 2, 3, 4 in that order.
// train: user 0 has item 0, user 1 nothing, user 2 item 1.
// test:  user 0 has items 1 and 3, user 1 nothing (skipped), user 2 item 4.

function handModel(): { model: AlternatingLeastSquares; train: CsrMatrix; held: CsrMatrix } {
  const model = new AlternatingLeastSquares({ factors: 1 });
  model.assignFactors({ data: Float32Array.of(1, 1, 1), shape: [3, 1] }, {
    data: Float32Array.of(5, 4, 3, 2, 1),
    shape: [5, 1],
  });
  const train = CsrMatrix.fromCoo({ rows: [0, 2], cols: [0, 1], shape: [3, 5] });
  const held = CsrMatrix.fromCoo({ rows: [0, 0, 2], cols: [1, 3, 4], shape: [3, 5] });
  return { model, train, held };
}

test("hand-computed metrics at k = 3, with a user who has no test items", async () => {
  const { model, train, held } = handModel();
  // user 0: list [1, 2, 3], T = {1, 3}: hits at ranks 1 and 3; d = min(3, 2) = 2; N = 5 − 2 = 3.
  //   AP = (1/1 + 2/3) / 2 = 5/6. DCG = 1/log2(2) + 1/log2(4) = 1.5, IDCG = 1 + 1/log2(3).
  //   AUC: the miss at rank 2 has 1 hit above it; rest (2 + 2)/2 · (3 − 1) = 4; (1 + 4) / (2 · 3) = 5/6.
  //   RR = 1.
  // user 2: list [0, 2, 3], T = {4}: no hit; d = 1; N = 4.
  //   AUC: 3 misses add 0; rest (0 + 1)/2 · (4 − 3) = 1/2; (1/2) / (1 · 4) = 1/8. RR = 0.
  const ndcg0 = 1.5 / (1 + 1 / Math.log2(3));
  const metrics = await rankingMetricsAtK(model, train, held, { ...quiet, k: 3 });
  assert.equal(metrics.users, 2);
  close(metrics.precision, (2 + 0) / (2 + 1), "precision"); // Σ hits / Σ min(k, |T|) = 2/3
  close(metrics.recall, (2 / 2 + 0 / 1) / 2, "recall"); // 1/2
  close(metrics.map, (5 / 6 + 0) / 2, "map"); // 5/12
  close(metrics.ndcg, (ndcg0 + 0) / 2, "ndcg");
  close(metrics.auc, (5 / 6 + 1 / 8) / 2, "auc"); // 23/48
  close(metrics.mrr, (1 + 0) / 2, "mrr");
  const lightfm = await rankingMetricsAtK(model, train, held, {
    ...quiet,
    k: 3,
    precision: "lightfm",
  });
  close(lightfm.precision, (2 / 3 + 0 / 3) / 2, "LightFM precision"); // 1/3

  const perUser = await rankingMetricsAtK(model, train, held, { ...quiet, k: 3, perUser: true });
  assert.deepEqual(Array.from(perUser.users), [0, 2]);
  assert.deepEqual(Array.from(perUser.precision), [1, 0]);
  assert.deepEqual(Array.from(perUser.recall), [1, 0]);
  assert.deepEqual(Array.from(perUser.mrr), [1, 0]);
  close(perUser.map[0]!, 5 / 6, "AP of user 0");
  close(perUser.auc[1]!, 1 / 8, "AUC of user 2");
});

test("hand-computed metrics when k is larger than the catalogue", async () => {
  const { model, train, held } = handModel();
  // k = 10 > 5 items: each list holds the 4 items the user has not trained on.
  // user 0: list [1, 2, 3, 4], T = {1, 3}: hits at ranks 1 and 3; d = min(10, 2) = 2; N = 3.
  //   AP = (1 + 2/3) / 2 = 5/6; NDCG as at k = 3.
  //   AUC: misses at ranks 2 and 4 add 1 + 2 = 3; rest (2 + 2)/2 · (3 − 2) = 2; 5 / 6.
  // user 2: list [0, 2, 3, 4], T = {4}: hit at rank 4; d = 1; N = 4.
  //   AP = (1/4) / 1. NDCG = (1/log2(5)) / 1. AUC: 3 misses add 0; rest (1 + 1)/2 · (4 − 3) = 1; 1/4. RR = 1/4.
  const metrics = await rankingMetricsAtK(model, train, held, { ...quiet, k: 10 });
  close(metrics.precision, (2 + 1) / (2 + 1), "precision"); // 1
  close(metrics.recall, (1 + 1) / 2, "recall");
  close(metrics.map, (5 / 6 + 1 / 4) / 2, "map"); // 13/24
  close(metrics.ndcg, (1.5 / (1 + 1 / Math.log2(3)) + 1 / Math.log2(5)) / 2, "ndcg");
  close(metrics.auc, (5 / 6 + 1 / 4) / 2, "auc"); // 13/24
  close(metrics.mrr, (1 + 1 / 4) / 2, "mrr"); // 5/8
  const lightfm = await rankingMetricsAtK(model, train, held, {
    ...quiet,
    k: 10,
    precision: "lightfm",
  });
  close(lightfm.precision, (2 / 10 + 1 / 10) / 2, "LightFM precision"); // 0.15
});

test("a test set without any test item evaluates no user", async () => {
  const { model, train } = handModel();
  const metrics = await rankingMetricsAtK(model, train, CsrMatrix.empty([3, 5]), quiet);
  assert.equal(metrics.users, 0);
  for (const name of METRICS) assert.ok(Number.isNaN(metrics[name]), name);
  const perUser = await rankingMetricsAtK(model, train, CsrMatrix.empty([3, 5]), {
    ...quiet,
    perUser: true,
  });
  assert.equal(perUser.users.length, 0);
  assert.equal(perUser.auc.length, 0);
});

test("a user whose test row holds every item scores AUC 1", async () => {
  const model = new AlternatingLeastSquares({ factors: 1 });
  model.assignFactors({ data: Float32Array.of(1), shape: [1, 1] }, {
    data: Float32Array.of(1, 2, 3),
    shape: [3, 1],
  });
  const held = CsrMatrix.fromCoo({ rows: [0, 0, 0], cols: [0, 1, 2], shape: [1, 3] });
  // k = 2: list [2, 1], T = {0, 1, 2}, N = 3 − 3 = 0 negatives.
  // precision 2 / min(2, 3) = 1; recall 2/3; AP = (1/1 + 2/2) / 2 = 1; NDCG = 1; RR = 1; AUC = 1 (no pair).
  const metrics = await rankingMetricsAtK(model, CsrMatrix.empty([1, 3]), held, { ...quiet, k: 2 });
  const expected = { precision: 1, recall: 2 / 3, map: 1, ndcg: 1, auc: 1, mrr: 1 };
  for (const name of METRICS) close(metrics[name], expected[name], name);
});

test("any RankingModel can be evaluated, and a malformed recommend() is refused", async () => {
  // A model that recommends items 2, 0, then padding, whoever asks.
  const fixed: RankingModel = {
    nUsers: 2,
    nItems: 4,
    recommend(
      userids: ArrayLike<number>,
      _userItems: CsrMatrix,
      options: { n: number },
    ): RankedBatch {
      const ids = new Int32Array(userids.length * options.n).fill(-1);
      for (let r = 0; r < userids.length; r++) ids.set([2, 0].slice(0, options.n), r * options.n);
      return { ids, scores: new Float32Array(ids.length), shape: [userids.length, options.n] };
    },
  };
  const train = CsrMatrix.empty([2, 4]);
  const held = CsrMatrix.fromCoo({ rows: [0, 1], cols: [0, 3], shape: [2, 4] });
  // user 0: [2, 0, −1, −1], T = {0}: hit at rank 2. user 1: T = {3}: no hit.
  const metrics = await rankingMetricsAtK(fixed, train, held, { ...quiet, k: 4 });
  close(metrics.mrr, (1 / 2 + 0) / 2, "mrr");
  close(metrics.precision, 1 / 2, "precision");

  const broken: RankingModel = {
    ...fixed,
    recommend: (users) => ({
      ids: new Int32Array(users.length * 20),
      scores: new Float32Array(0),
      shape: [users.length, 20],
    }),
  };
  await assert.rejects(
    rankingMetricsAtK(broken, train, held, { ...quiet, k: 4 }),
    /Expected model.recommend to return Int32Array ids of shape \[2, <= 4\]/,
  );
  const outOfRange: RankingModel = {
    ...fixed,
    recommend: (users) => ({
      ids: new Int32Array(users.length).fill(9),
      scores: new Float32Array(0),
      shape: [users.length, 1],
    }),
  };
  await assert.rejects(rankingMetricsAtK(outOfRange, train, held, { ...quiet, k: 4 }), {
    name: "RangeError",
    message: "top_ids[0] = 9 is out of range for 4 items (-1 marks padding)",
  });
});

test("rankingMetricsAtK refuses matrices of the wrong shape and bad options", async () => {
  const { model, train, held } = handModel();
  const reject = (promise: Promise<unknown>, name: string, message: string | RegExp) =>
    assert.rejects(promise, (error: Error) => {
      assert.equal(error.name, name);
      if (typeof message === "string") assert.equal(error.message, message);
      else assert.match(error.message, message);
      return true;
    });
  await reject(
    rankingMetricsAtK(model, train, held.resize(4), quiet),
    "RangeError",
    "test has 4 rows but the model has 3 users",
  );
  await reject(
    rankingMetricsAtK(model, train.resize(2), held, quiet),
    "RangeError",
    "train has 2 rows but the model has 3 users",
  );
  await reject(
    rankingMetricsAtK(model, train, held.resize(3, 6), quiet),
    "RangeError",
    "test has 6 columns but the model has 5 items",
  );
  await reject(
    rankingMetricsAtK(model, [] as unknown as CsrMatrix, held, quiet),
    "TypeError",
    "Expected train to be a CsrMatrix but found an array",
  );
  await reject(
    rankingMetricsAtK({} as RankingModel, train, held, quiet),
    "TypeError",
    /Expected model to be a model with a recommend\(\) method/,
  );
  await reject(
    rankingMetricsAtK(model, train, held, { ...quiet, k: 0 }),
    "RangeError",
    "Expected k to be a positive integer but found 0",
  );
  await reject(
    rankingMetricsAtK(model, train, held, { ...quiet, k: 2.5 }),
    "RangeError",
    "Expected k to be a positive integer but found 2.5",
  );
  await reject(
    rankingMetricsAtK(model, train, held, { ...quiet, k: "10" as unknown as number }),
    "TypeError",
    "Expected k to be a positive integer but found a string '10'",
  );
  await reject(
    rankingMetricsAtK(model, train, held, { ...quiet, k: 2 ** 31 }),
    "RangeError",
    "Expected k to be at most 2147483647 but found 2147483648",
  );
  await reject(
    rankingMetricsAtK(model, train, held, { ...quiet, batchSize: -1 }),
    "RangeError",
    "Expected batchSize to be a positive integer but found -1",
  );
  await reject(
    rankingMetricsAtK(model, train, held, { ...quiet, precision: "spotlight" as "lightfm" }),
    "RangeError",
    "Expected precision to be one of 'implicit', 'lightfm' but found 'spotlight'",
  );
  await reject(
    rankingMetricsAtK(model, train, held, { ...quiet, perUser: 1 as unknown as boolean }),
    "TypeError",
    "Expected perUser to be a boolean but found 1",
  );
  await reject(
    ndcgAtK(model, train, held, { ...quiet, k: -3 }),
    "RangeError",
    "Expected k to be a positive integer but found -3",
  );
});

test("an aborted signal stops the evaluation", async () => {
  const { model, train, held } = handModel();
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(
    rankingMetricsAtK(model, train, held, { ...quiet, signal: controller.signal }),
  );
});

test("the native kernel validates its arguments and names them", () => {
  const out = new Float64Array(2 * 8);
  const topIds = Int32Array.of(0, 1, 2, -1);
  const indptr = Int32Array.of(0, 1, 2);
  assert.throws(
    () =>
      callNative("tacit_ranking_metrics", {
        top_ids: topIds,
        n_users: 2,
        width: 2,
        k: 2,
        test_indptr: indptr,
        test_indices: Int32Array.of(1, 7),
        n_items: 5,
        out,
      }),
    { name: "RangeError", message: "test_indices[1] = 7 is out of range for 5 columns" },
  );
  assert.throws(
    () =>
      callNative("tacit_ranking_metrics", {
        top_ids: topIds,
        n_users: 2,
        width: 2,
        k: 1,
        test_indptr: indptr,
        test_indices: Int32Array.of(1, 3),
        n_items: 5,
        out,
      }),
    { name: "RangeError", message: "Expected width to be <= k = 1 but found 2" },
  );
  assert.throws(
    () =>
      callNative("tacit_ranking_metrics", {
        top_ids: topIds,
        n_users: 2,
        width: 2,
        k: 2,
        test_indptr: Int32Array.of(1, 1, 2),
        test_indices: Int32Array.of(1, 3),
        n_items: 5,
        out,
      }),
    { name: "TypeError", message: "Expected test_indptr[0] to be 0 but found 1" },
  );
  callNative("tacit_ranking_metrics", {
    top_ids: topIds,
    n_users: 2,
    width: 2,
    k: 2,
    test_indptr: indptr,
    test_indices: Int32Array.of(1, 3),
    n_items: 5,
    out,
  });
  // user 0: [0, 1], T = {1}: one hit at rank 2. user 1: [2, −1], T = {3}: no hit.
  assert.deepEqual(Array.from(out.subarray(0, 2)), [1, 1]);
  assert.equal(out[6], 1 / 2);
  assert.equal(out[8 + 0], 0);
  assert.equal(out[8 + 7], 1);
});
