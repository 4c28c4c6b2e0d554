/**
 * LightFM's evaluation functions (lib/evaluation/lightfm.ts): a small example
 * worked out by hand, independent references on random data (the metrics
 * recomputed from sorted dense scores, and AUC as the fraction of
 * positive/negative pairs in order), preserveRows, checkIntersections, the
 * recommend() fallback (a kNN model), options passed through to predictRank,
 * and bad inputs refused.
 */
import assert from "node:assert/strict";
import {
  AlternatingLeastSquares,
  aucScore,
  CosineRecommender,
  CsrMatrix,
  lightfm,
  type PredictRankOptions,
  type RankingModel,
  type RankPredictor,
  reciprocalRank,
} from "../mod.ts";
import { randomFactors, randomMatrix } from "./reference.ts";
import { test } from "./harness.ts";

const { precisionAtK, recallAtK } = lightfm;

function approx(actual: Float32Array, expected: number[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  expected.forEach((e, u) => {
    const a = actual[u]!;
    if (Number.isNaN(e)) assert.ok(Number.isNaN(a), `${label}[${u}]: expected NaN, found ${a}`);
    else assert.ok(Math.abs(a - e) < 1e-6, `${label}[${u}]: expected ${e}, found ${a}`);
  });
}

// ---------------------------------------------------------------------------
// The hand-worked example. f = 1; users 0, 1 and 3 have factor 1, user 2 has −1;
// the six items have factors 6, 5, 5, 3, 2, 1 (items 1 and 2 tie).
//
// User 0: test {1, 4}, train {0}. rank(1): item 2 (5 >= 5) -> 1. rank(4): items 1, 2, 3 -> 3.
//   k = 2: one hit, precision 1/2, recall 1/2. RR = 1/(1 + 1) = 1/2.
//   AUC: N = 6 − 2 − 1 = 3 negatives; sorted ranks [1, 3] less [0, 1] positives above
//   -> [1, 2]; ((1 − 1/3) + (1 − 2/3)) / 2 = 1/2. (Pairs: item 1 ties negative 2, which
//   counts against it, and beats 3 and 5; item 4 beats only 5: (2/3 + 1/3) / 2.)
// User 1: no test items.
// User 2: scores −6, −5, −5, −3, −2, −1: test {0, 5}, no train. rank(5) = 0, rank(0) = 5.
//   k = 2: one hit, precision 1/2, recall 1/2; RR = 1.
//   AUC: N = 4; sorted [0, 5] -> [0, 4]; ((1 − 0) + (1 − 4/4)) / 2 = 1/2.
// User 3: test {2}, train {1}. rank(2): item 0 -> 1 (item 1 is a training item).
//   k = 2: precision 1/2, recall 1; RR = 1/2; AUC: N = 6 − 1 − 1 = 4, 1 − 1/4 = 3/4.
// k = 1: only user 2's item 5 is a hit: precision [0, 1, 0], recall [0, 1/2, 0].

const hand = new AlternatingLeastSquares({ factors: 1 });
hand.assignFactors({ data: Float32Array.of(1, 1, -1, 1), shape: [4, 1] }, {
  data: Float32Array.of(6, 5, 5, 3, 2, 1),
  shape: [6, 1],
});
const handTest = CsrMatrix.fromCoo({
  rows: [0, 0, 2, 2, 3],
  cols: [1, 4, 0, 5, 2],
  shape: [4, 6],
});
const handTrain = CsrMatrix.fromCoo({ rows: [0, 3], cols: [0, 1], shape: [4, 6] });
const withTrain = { trainInteractions: handTrain } as const;

test("the hand-worked example: precision, recall, AUC and reciprocal rank per user", () => {
  approx(precisionAtK(hand, handTest, { ...withTrain, k: 2 }), [0.5, 0.5, 0.5], "precision@2");
  approx(recallAtK(hand, handTest, { ...withTrain, k: 2 }), [0.5, 0.5, 1], "recall@2");
  approx(precisionAtK(hand, handTest, { ...withTrain, k: 1 }), [0, 1, 0], "precision@1");
  approx(recallAtK(hand, handTest, { ...withTrain, k: 1 }), [0, 0.5, 0], "recall@1");
  // k beyond the catalogue: every test item is a hit, divided by k.
  approx(precisionAtK(hand, handTest, { ...withTrain, k: 10 }), [0.2, 0.2, 0.1], "precision@10");
  approx(aucScore(hand, handTest, withTrain), [0.5, 0.5, 0.75], "auc");
  approx(reciprocalRank(hand, handTest, withTrain), [0.5, 1, 0.5], "rr");
  assert.deepEqual([...hand.predictRank(handTest, withTrain).data], [1, 3, 5, 0, 1]);
});

test("preserveRows keeps users without test items: precision 0, recall NaN, AUC 0.5, RR 0", () => {
  const keep = { ...withTrain, preserveRows: true } as const;
  approx(precisionAtK(hand, handTest, { ...keep, k: 2 }), [0.5, 0, 0.5, 0.5], "precision");
  approx(recallAtK(hand, handTest, { ...keep, k: 2 }), [0.5, NaN, 0.5, 1], "recall");
  approx(aucScore(hand, handTest, keep), [0.5, 0.5, 0.5, 0.75], "auc");
  approx(reciprocalRank(hand, handTest, keep), [0.5, 0, 1, 0.5], "rr");
});

test("without trainInteractions every other item is counted", () => {
  // User 0: rank(1) = 2 (items 0, 2), rank(4) = 4. User 3: rank(2) = 2 (items 0, 1).
  // AUC user 0: N = 4, sorted [2, 4] -> [2, 3]: ((1 − 2/4) + (1 − 3/4)) / 2 = 3/8.
  // AUC user 3: N = 5, 1 − 2/5 = 3/5. User 2 is unchanged.
  approx(aucScore(hand, handTest), [0.375, 0.5, 0.6], "auc");
  approx(reciprocalRank(hand, handTest), [1 / 3, 1, 1 / 3], "rr");
  approx(precisionAtK(hand, handTest, { k: 3 }), [1 / 3, 1 / 3, 1 / 3], "precision@3");
});

test("checkIntersections refuses shared test and training interactions unless turned off", () => {
  const overlapping = CsrMatrix.fromCoo({ rows: [0, 3, 3], cols: [1, 1, 5], shape: [4, 6] });
  for (
    const run of [
      () => precisionAtK(hand, handTest, { trainInteractions: overlapping }),
      () => recallAtK(hand, handTest, { trainInteractions: overlapping }),
      () => aucScore(hand, handTest, { trainInteractions: overlapping }),
      () => reciprocalRank(hand, handTest, { trainInteractions: overlapping }),
    ]
  ) {
    assert.throws(run, {
      name: "RangeError",
      message:
        "Expected testInteractions and trainInteractions to share no interaction but they share 1 interaction, the first at user 0, item 1: their ranks would be optimistic; check the split, or pass checkIntersections: false",
    });
  }
  // Turned off: the shared entry is ranked like any other (training items still never count).
  const ranks = lightfm.rankInteractions(hand, handTest, {
    trainInteractions: overlapping,
    checkIntersections: false,
  });
  // User 0 (train {1}): rank(1) = items 0, 2 -> 2; rank(4) = items 0, 2, 3 -> 3.
  // User 3 (train {1, 5}): rank(2) = item 0 -> 1.
  assert.deepEqual([...ranks.data], [2, 3, 5, 0, 1]);
});

// ---------------------------------------------------------------------------
// Independent references on random data. Real-valued factors give distinct scores
// (checked), so a rank is a position in the sorted list of non-training items and
// LightFM's AUC is the fraction of (positive, negative) pairs ranked in order.

interface Reference {
  precision: number[];
  recall: number[];
  auc: number[];
  rr: number[];
}

function reference(
  users: Float32Array,
  items: Float32Array,
  f: number,
  testSet: CsrMatrix,
  train: CsrMatrix,
  k: number,
): Reference {
  const [nUsers, nItems] = testSet.shape;
  const out: Reference = { precision: [], recall: [], auc: [], rr: [] };
  for (let u = 0; u < nUsers; u++) {
    const positives = new Set(testSet.row(u).indices);
    if (positives.size === 0) continue;
    const liked = new Set(train.row(u).indices);
    const scored: { id: number; score: number }[] = [];
    for (let j = 0; j < nItems; j++) {
      if (liked.has(j)) continue;
      let s = 0;
      for (let d = 0; d < f; d++) s += users[u * f + d]! * items[j * f + d]!;
      scored.push({ id: j, score: s });
    }
    scored.sort((a, b) => b.score - a.score);
    for (let p = 1; p < scored.length; p++) {
      assert.ok(scored[p - 1]!.score - scored[p]!.score > 1e-6, "distinct scores");
    }
    const positions = scored.flatMap((e, p) => positives.has(e.id) ? [p] : []);
    const hits = positions.filter((p) => p < k).length;
    out.precision.push(hits / k);
    out.recall.push(hits / positives.size);
    out.rr.push(1 / (Math.min(...positions) + 1));
    const negatives = scored.filter((e) => !positives.has(e.id));
    let inOrder = 0;
    for (const p of scored.filter((e) => positives.has(e.id))) {
      for (const n of negatives) if (p.score > n.score) inOrder++;
    }
    out.auc.push(inOrder / (positives.size * negatives.length));
  }
  return out;
}

test("the four metrics equal independent references on random data", () => {
  const f = 5;
  const nUsers = 40;
  const nItems = 60;
  const users = randomFactors(nUsers, f, 11);
  const items = randomFactors(nItems, f, 12);
  const model = new AlternatingLeastSquares({ factors: f });
  model.assignFactors({ data: users, shape: [nUsers, f] }, { data: items, shape: [nItems, f] });
  const train = randomMatrix(nUsers, nItems, 0.2, 13);
  const held = randomMatrix(nUsers, nItems, 0.1, 14);
  // Make the test set disjoint from train.
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    const liked = new Set(train.row(u).indices);
    for (const i of held.row(u).indices) {
      if (!liked.has(i)) {
        rows.push(u);
        cols.push(i);
      }
    }
  }
  const testSet = CsrMatrix.fromCoo({ rows, cols, shape: [nUsers, nItems] });
  for (const k of [1, 5, 20]) {
    const expected = reference(users, items, f, testSet, train, k);
    const options = { trainInteractions: train, k };
    approx(precisionAtK(model, testSet, options), expected.precision, `precision@${k}`);
    approx(recallAtK(model, testSet, options), expected.recall, `recall@${k}`);
    if (k === 1) {
      approx(aucScore(model, testSet, { trainInteractions: train }), expected.auc, "auc");
      approx(reciprocalRank(model, testSet, { trainInteractions: train }), expected.rr, "rr");
    }
  }
});

test("a kNN model is evaluated through recommend(), the same as its ranks computed by hand", async () => {
  const plays = randomMatrix(25, 35, 0.25, 21);
  const held = randomMatrix(25, 35, 0.08, 22);
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < 25; u++) {
    const liked = new Set(plays.row(u).indices);
    for (const i of held.row(u).indices) {
      if (!liked.has(i)) {
        rows.push(u);
        cols.push(i);
      }
    }
  }
  const testSet = CsrMatrix.fromCoo({ rows, cols, shape: [25, 35] });
  const knn = await new CosineRecommender({ k: 8 }).fit(plays, { progress: false });
  // Reference: from each user's full list, a test item's rank is the number of other
  // listed items scoring at least as much.
  const expected: number[] = [];
  for (let u = 0; u < 25; u++) {
    const list = knn.recommend(u, plays, { n: 35 });
    for (const i of testSet.row(u).indices) {
      const p = [...list.ids].indexOf(i);
      assert.ok(p >= 0);
      expected.push([...list.scores].filter((s, q) => q !== p && s >= list.scores[p]!).length);
    }
  }
  const ranks = lightfm.rankInteractions(knn, testSet, { trainInteractions: plays });
  assert.deepEqual([...ranks.data], expected);
  // The metrics follow from those ranks.
  const precision = precisionAtK(knn, testSet, { trainInteractions: plays, k: 5 });
  let at = 0;
  const perUser: number[] = [];
  for (let u = 0; u < 25; u++) {
    const m = testSet.row(u).indices.length;
    if (m === 0) continue;
    perUser.push(expected.slice(at, at + m).filter((r) => r < 5).length / 5);
    at += m;
  }
  approx(precision, perUser, "kNN precision@5");
  // Without trainInteractions a recommend()-only model cannot be ranked.
  assert.throws(() => aucScore(knn, testSet), {
    name: "TypeError",
    message:
      "Expected trainInteractions for a model without predictRank() (its recommend() scores from the user's items) but found undefined",
  });
  assert.throws(
    () =>
      aucScore(knn, testSet, {
        trainInteractions: plays,
        itemFeatures: CsrMatrix.empty([35, 2]),
      }),
    {
      name: "TypeError",
      message:
        "Expected itemFeatures to be undefined for a model without predictRank() (its recommend() takes no features) but found a CsrMatrix",
    },
  );
});

test("any model with predictRank() is evaluated, its features passed through", () => {
  const seen: PredictRankOptions[] = [];
  const userFeatures = CsrMatrix.empty([4, 3]);
  const itemFeatures = CsrMatrix.empty([6, 2]);
  // A model that returns fixed ranks and records what it was given.
  const fixed: RankPredictor = {
    nUsers: 4,
    nItems: 6,
    predictRank(testInteractions, options) {
      seen.push(options);
      return testInteractions.withData(Float32Array.of(0, 9, 2, 1, 4));
    },
  };
  approx(
    reciprocalRank(fixed, handTest, { userFeatures, itemFeatures, trainInteractions: handTrain }),
    [1, 1 / 2, 1 / 5],
    "rr",
  );
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.userFeatures, userFeatures);
  assert.equal(seen[0]!.itemFeatures, itemFeatures);
  assert.equal(seen[0]!.trainInteractions, handTrain);
  // The evaluation checked the intersections itself; the model is told not to.
  assert.equal(seen[0]!.checkIntersections, false);
  approx(precisionAtK(fixed, handTest, { k: 2 }), [0.5, 0.5, 0], "precision@2");

  // A model that returns ranks of another pattern, or negative ranks, is refused.
  const wrong: RankPredictor = { ...fixed, predictRank: () => CsrMatrix.empty([4, 6]) };
  assert.throws(() => aucScore(wrong, handTest), {
    name: "TypeError",
    message:
      "Expected model.predictRank() to return a CsrMatrix with the sparsity pattern of testInteractions (shape [4,6], 5 entries) but found shape [4,6] with 0 entries",
  });
  const negative: RankPredictor = {
    ...fixed,
    predictRank: (t) => t.withData(Float32Array.of(0, -1, 2, 1, 4)),
  };
  assert.throws(() => aucScore(negative, handTest), {
    name: "RangeError",
    message: "Expected model.predictRank() to return ranks >= 0 but found -1 at entry 1",
  });
});

test("bad arguments are refused, naming the argument, what was expected and what was found", () => {
  assert.throws(() => precisionAtK(hand, handTest, { K: 3 } as never), {
    name: "TypeError",
    message:
      "Expected an option of precisionAtK() (trainInteractions, userFeatures, itemFeatures, preserveRows, checkIntersections, k) but found 'K' (did you mean 'k'?)",
  });
  assert.throws(() => aucScore(hand, handTest, { k: 3 } as never), {
    name: "TypeError",
    message:
      "Expected an option of aucScore() (trainInteractions, userFeatures, itemFeatures, preserveRows, checkIntersections) but found 'k'",
  });
  for (const k of [0, 1.5, -2]) {
    assert.throws(() => recallAtK(hand, handTest, { k }), {
      name: "RangeError",
      message: `Expected k to be a positive integer but found ${k}`,
    });
  }
  assert.throws(() => precisionAtK(hand, handTest, { k: "3" as never }), {
    name: "TypeError",
    message: "Expected k to be a positive integer but found a string '3'",
  });
  assert.throws(() => reciprocalRank(hand, handTest, { preserveRows: "yes" as never }), {
    name: "TypeError",
    message: "Expected preserveRows to be a boolean but found a string 'yes'",
  });
  assert.throws(() => reciprocalRank(hand, handTest, { checkIntersections: null as never }), {
    name: "TypeError",
    message: "Expected checkIntersections to be a boolean but found null",
  });
  assert.throws(() => aucScore(hand, CsrMatrix.empty([3, 6])), {
    name: "RangeError",
    message: "Expected testInteractions to have 4 rows (the model's users) but found 3",
  });
  assert.throws(() => aucScore(hand, handTest, { trainInteractions: CsrMatrix.empty([4, 7]) }), {
    name: "RangeError",
    message: "Expected trainInteractions to have 6 columns (the model's items) but found 7",
  });
  assert.throws(() => aucScore(hand, handTest, { userFeatures: CsrMatrix.empty([5, 2]) }), {
    name: "RangeError",
    message: "Expected userFeatures to have 4 rows (the model's users) but found 5",
  });
  assert.throws(() => aucScore(hand, handTest, { itemFeatures: [] as never }), {
    name: "TypeError",
    message: "Expected itemFeatures to be a CsrMatrix but found an array",
  });
  // A factor model has no features: its predictRank refuses them.
  assert.throws(() => aucScore(hand, handTest, { userFeatures: CsrMatrix.empty([4, 2]) }), {
    name: "TypeError",
    message:
      "Expected userFeatures to be undefined (AlternatingLeastSquares has no features) but found a CsrMatrix",
  });
  assert.throws(() => aucScore(hand, "test" as never), {
    name: "TypeError",
    message: "Expected testInteractions to be a CsrMatrix but found a string 'test'",
  });
  assert.throws(() => aucScore(hand, handTest, 3 as never), {
    name: "TypeError",
    message: "Expected the options of aucScore() to be an object but found 3",
  });
  assert.throws(() => aucScore({ nUsers: 4, nItems: 6 } as never, handTest), {
    name: "TypeError",
    message:
      "Expected model to have a predictRank() or recommend() method but found an Object with neither",
  });
  assert.throws(() => aucScore(null as never, handTest), {
    name: "TypeError",
    message: "Expected model to be a model object but found null",
  });
  const noUsers = { nUsers: -1, nItems: 6, recommend: () => undefined } as unknown as RankingModel;
  assert.throws(() => aucScore(noUsers, handTest), {
    name: "TypeError",
    message: "Expected model.nUsers to be an integer in [0, 2147483647] but found -1",
  });
});

test("a test or training matrix changed after construction is refused with a clear error", async () => {
  const plays = randomMatrix(12, 20, 0.3, 31);
  const knn = await new CosineRecommender({ k: 5 }).fit(plays, { progress: false });
  const als = new AlternatingLeastSquares({ factors: 3 });
  als.assignFactors({ data: randomFactors(12, 3, 32), shape: [12, 3] }, {
    data: randomFactors(20, 3, 33),
    shape: [20, 3],
  });
  const corruptions: Record<string, (m: CsrMatrix) => void> = {
    "an index past the columns": (m) => {
      m.indices[1] = 1_000_000;
    },
    "a negative index": (m) => {
      m.indices[0] = -1;
    },
    "a negative indptr": (m) => {
      m.indptr[3] = -7;
    },
    "an inflated last indptr": (m) => {
      m.indptr[m.nRows] = m.nnz + 100;
    },
  };
  for (const [what, corrupt] of Object.entries(corruptions)) {
    for (const [name, model] of [["ALS", als], ["kNN", knn]] as const) {
      for (const side of ["test", "train"] as const) {
        const bad = randomMatrix(12, 20, 0.1, 34);
        corrupt(bad);
        const [testSet, train] = side === "test"
          ? [bad, CsrMatrix.empty([12, 20])]
          : [randomMatrix(12, 20, 0.1, 35), bad];
        assert.throws(
          () => aucScore(model, testSet, { trainInteractions: train, checkIntersections: false }),
          (error: unknown) => {
            assert.ok(
              error instanceof TypeError || error instanceof RangeError,
              `${name}, ${side}, ${what}: ${error}`,
            );
            assert.match(
              (error as Error).message,
              /indptr|indices|no longer form a valid CSR matrix/,
              `${name}, ${side}, ${what}`,
            );
            return true;
          },
        );
      }
    }
  }
});
