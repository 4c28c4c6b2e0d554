/**
 * Spotlight's evaluation functions (lib/evaluation/spotlight.ts) against a
 * reference that applies spotlight/evaluation.py literally to dense scores:
 * negate, push the training items last with FLOAT_MAX, rank with scipy's
 * `rankdata` (1-based, ties averaged) for MRR, and take the first k of the
 * argsort for precision and recall, dividing by that list's length. It shares
 * no code with lib/. Then a 3 × 4 example worked out by hand, the documented
 * difference on ties, the recommend() fallback, intersections and the
 * refusals.
 */
import assert from "node:assert/strict";
import {
  AlternatingLeastSquares,
  CsrMatrix,
  mrrScore,
  precisionRecallScore,
  type RankingModel,
  spotlight,
} from "../mod.ts";
import { seeded } from "./reference.ts";
import { test } from "./harness.ts";

/** numpy's `np.finfo(np.float32).max`, what Spotlight gives the training items' negated scores. */
const FLOAT_MAX = 3.4028234663852886e38;

/** scipy.stats.rankdata with its default method "average": 1-based, ties share their mean position. */
function rankdata(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const ranks = new Array<number>(values.length).fill(0);
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && values[order[end]!] === values[order[start]!]) end++;
    // Positions start + 1 .. end (1-based) share their mean.
    for (let p = start; p < end; p++) ranks[order[p]!] = (start + 1 + end) / 2;
    start = end;
  }
  return ranks;
}

interface Reference {
  users: number[];
  mrr: number[];
  /** precision[j][r]: at ks[j], of the r-th user in `users`. */
  precision: number[][];
  recall: number[][];
}

/**
 * spotlight.evaluation.mrr_score and precision_recall_score, one user at a time, over
 * `scores[u][j]`; `test` and `train` given as item lists per user.
 */
function spotlightReference(
  scores: readonly (readonly number[])[],
  testItems: readonly (readonly number[])[],
  trainItems: readonly (readonly number[])[] | undefined,
  ks: readonly number[],
): Reference {
  const out: Reference = {
    users: [],
    mrr: [],
    precision: ks.map(() => []),
    recall: ks.map(() => []),
  };
  testItems.forEach((targets, u) => {
    if (targets.length === 0) return;
    const predictions = scores[u]!.map((s) => -s);
    for (const j of trainItems?.[u] ?? []) predictions[j] = FLOAT_MAX;
    const ranks = rankdata(predictions);
    out.users.push(u);
    out.mrr.push(targets.reduce((sum, i) => sum + 1 / ranks[i]!, 0) / targets.length);
    const argsort = predictions.map((_, j) => j).sort((a, b) => predictions[a]! - predictions[b]!);
    ks.forEach((k, j) => {
      const top = argsort.slice(0, k);
      const hits = top.filter((item) => targets.includes(item)).length;
      out.precision[j]!.push(hits / top.length);
      out.recall[j]!.push(hits / targets.length);
    });
  });
  return out;
}

function close(actual: Float64Array, expected: readonly number[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  expected.forEach((e, r) => {
    assert.ok(
      Math.abs(actual[r]! - e) <= 1e-12,
      `${label}[${r}]: expected ${e}, found ${actual[r]}`,
    );
  });
}

/** A `nUsers × nItems` matrix holding, in row u, the items `rows[u]`. */
function matrixOf(rows: readonly (readonly number[])[], nItems: number): CsrMatrix {
  const us: number[] = [];
  const items: number[] = [];
  rows.forEach((row, u) => row.forEach((i) => (us.push(u), items.push(i))));
  return CsrMatrix.fromCoo({ rows: us, cols: items, shape: [rows.length, nItems] });
}

/** An ALS model whose score matrix is exactly `scores` (user rows = scores, item rows = identity). */
function modelScoring(scores: readonly (readonly number[])[]): AlternatingLeastSquares {
  const nItems = scores[0]!.length;
  const model = new AlternatingLeastSquares({ factors: nItems });
  const identity = new Float32Array(nItems * nItems);
  for (let j = 0; j < nItems; j++) identity[j * nItems + j] = 1;
  model.assignFactors({ data: Float32Array.from(scores.flat()), shape: [scores.length, nItems] }, {
    data: identity,
    shape: [nItems, nItems],
  });
  return model;
}

// ---------------------------------------------------------------------------
// Random data without ties: f = 3, user rows (a, b, 1), item rows (40·c, 40·d, π(j)) with small
// integers a..d and π a permutation of the items, so every score is an exact integer (below
// 2^24, whatever order the kernel sums in) and s_u(j) ≡ π(j) (mod 40): all distinct per user.

const nUsers = 30;
const nItems = 40;
const f = 3;
const next = seeded(11);
const int = (low: number, high: number) => low + Math.floor(next() * (high - low + 1));
const permutation = Array.from({ length: nItems }, (_, j) => j);
for (let j = nItems - 1; j > 0; j--) {
  const swap = int(0, j);
  [permutation[j], permutation[swap]] = [permutation[swap]!, permutation[j]!];
}
const userRows = Array.from({ length: nUsers }, () => [int(-8, 8), int(-8, 8), 1]);
const itemRows = permutation.map((p) => [nItems * int(-50, 50), nItems * int(-50, 50), p]);
const scores = userRows.map((user) =>
  itemRows.map((item) => user.reduce((s, x, d) => s + x * item[d]!, 0))
);
const model = new AlternatingLeastSquares({ factors: f });
model.assignFactors({ data: Float32Array.from(userRows.flat()), shape: [nUsers, f] }, {
  data: Float32Array.from(itemRows.flat()),
  shape: [nItems, f],
});

// Train ~20% of each row; test ~15% of the rest; every fifth user has no test items.
const trainItems: number[][] = [];
const testItems: number[][] = [];
for (let u = 0; u < nUsers; u++) {
  const train: number[] = [];
  const held: number[] = [];
  for (let j = 0; j < nItems; j++) {
    const draw = next();
    if (draw < 0.2) train.push(j);
    else if (draw < 0.35 && u % 5 !== 3) held.push(j);
  }
  trainItems.push(train);
  testItems.push(held);
}
// User 0's test items are its 3 best items outside train: all of them in its top 3.
const best = scores[0]!.map((_, j) => j).filter((j) => !trainItems[0]!.includes(j))
  .sort((a, b) => scores[0]![b]! - scores[0]![a]!);
testItems[0] = best.slice(0, 3).sort((a, b) => a - b);
const train = matrixOf(trainItems, nItems);
const testSet = matrixOf(testItems, nItems);
const KS = [1, 3, 5, 10, 39, 40, 41, 100];

test("the random data has distinct scores, users without test items and a perfect top 3", () => {
  for (const row of scores) assert.equal(new Set(row).size, nItems);
  assert.ok(Math.max(...scores.flat().map(Math.abs)) < 2 ** 24);
  assert.deepEqual(testItems[3], []);
  assert.ok(testItems.filter((items) => items.length > 0).length >= 20);
  assert.ok(testItems.every((items, u) => items.every((i) => !trainItems[u]!.includes(i))));
});

test("mrrScore() equals Spotlight's mrr_score, with and without train", () => {
  for (const trainMatrix of [undefined, train]) {
    const expected = spotlightReference(scores, testItems, trainMatrix && trainItems, []);
    close(mrrScore(model, testSet, { train: trainMatrix }), expected.mrr, "mrr");
    close(spotlight.mrrScore(model, testSet, { train: trainMatrix }), expected.mrr, "mrr");
  }
  // Train exclusion matters here: the two differ.
  const withTrain = mrrScore(model, testSet, { train });
  const without = mrrScore(model, testSet);
  assert.ok(withTrain.some((v, r) => v > without[r]!));
  assert.ok(withTrain.every((v, r) => v >= without[r]!));
});

test("precisionRecallScore() equals Spotlight's precision_recall_score for each k, one by one and as an array", () => {
  for (const trainMatrix of [undefined, train]) {
    const expected = spotlightReference(scores, testItems, trainMatrix && trainItems, KS);
    const perK = precisionRecallScore(model, testSet, { train: trainMatrix, k: KS });
    assert.deepEqual([...perK.users], expected.users);
    assert.equal(perK.precision.length, KS.length);
    KS.forEach((k, j) => {
      const one = precisionRecallScore(model, testSet, { train: trainMatrix, k });
      assert.deepEqual([...one.users], expected.users);
      close(one.precision, expected.precision[j]!, `precision@${k}`);
      close(one.recall, expected.recall[j]!, `recall@${k}`);
      close(perK.precision[j]!, expected.precision[j]!, `precision[${j}] (k = ${k})`);
      close(perK.recall[j]!, expected.recall[j]!, `recall[${j}] (k = ${k})`);
    });
  }
  // k = 10 by default.
  const byDefault = precisionRecallScore(model, testSet, { train });
  const expected = spotlightReference(scores, testItems, trainItems, [10]);
  close(byDefault.precision, expected.precision[0]!, "precision@10");
  close(byDefault.recall, expected.recall[0]!, "recall@10");
});

test("users without test items are skipped; k beyond the catalogue divides by nItems", () => {
  const { users, precision, recall } = precisionRecallScore(model, testSet, { train, k: [3, 100] });
  const expectedUsers = testItems.flatMap((items, u) => items.length > 0 ? [u] : []);
  assert.deepEqual([...users], expectedUsers);
  assert.ok(!expectedUsers.includes(3));
  assert.equal(mrrScore(model, testSet, { train }).length, expectedUsers.length);
  // User 0 (row 0): its three test items are its top 3.
  assert.equal(precision[0]![0], 1);
  assert.equal(recall[0]![0], 1);
  close(mrrScore(model, testSet, { train }).subarray(0, 1), [(1 + 1 / 2 + 1 / 3) / 3], "mrr");
  // k = 100 > 40 items: every test item is a hit, divided by the 40 items of the list.
  users.forEach((u, r) => {
    assert.equal(precision[1]![r], testItems[u]!.length / nItems);
    assert.equal(recall[1]![r], 1);
  });
});

test("the recommend() fallback (a model without predictRank) gives Spotlight's values too", () => {
  const ranking: RankingModel = {
    nUsers,
    nItems,
    recommend(userids, userItems, { n }) {
      const ids = new Int32Array(userids.length * n).fill(-1);
      const out = new Float32Array(userids.length * n).fill(-Infinity);
      Array.from(userids).forEach((u, r) => {
        const liked = new Set(userItems.row(u).indices);
        const list = scores[u]!.map((_, j) => j).filter((j) => !liked.has(j))
          .sort((a, b) => scores[u]![b]! - scores[u]![a]!).slice(0, n);
        list.forEach((j, p) => {
          ids[r * n + p] = j;
          out[r * n + p] = scores[u]![j]!;
        });
      });
      return { ids, scores: out, shape: [userids.length, n] };
    },
  };
  const expected = spotlightReference(scores, testItems, trainItems, [5]);
  close(mrrScore(ranking, testSet, { train }), expected.mrr, "mrr");
  const { precision, recall } = precisionRecallScore(ranking, testSet, { train, k: 5 });
  close(precision, expected.precision[0]!, "precision@5");
  close(recall, expected.recall[0]!, "recall@5");
  assert.throws(() => mrrScore(ranking, testSet), {
    name: "TypeError",
    message:
      "Expected train for a model without predictRank() (its recommend() scores from the user's items) but found undefined",
  });
});

// ---------------------------------------------------------------------------
// By hand: 3 users × 4 items, scores
//   user 0: 4 1 3 2   (best first: items 0, 2, 3, 1)
//   user 1: 1 4 2 3
//   user 2: 2 3 4 1   (best first: items 2, 1, 0, 3)
// test: user 0 {1, 2}, user 1 none, user 2 {3}; train: user 2 {2}.
//
// User 0: item 2 is 2nd (item 0 above), item 1 is 4th: MRR (1/2 + 1/4) / 2 = 3/8.
//   top 1 {0}: no hit; top 2 {0, 2}: 1 hit; top 3 {0, 2, 3}: 1; top 4 and top 6 (the whole
//   list of 4): 2. Precision 0, 1/2, 1/3, 2/4, 2/4; recall 0, 1/2, 1/2, 1, 1.
// User 2, item 2 a training item (last): item 3 is 3rd after items 1 and 0: MRR 1/3.
//   top 2 {1, 0}: no hit; top 3 {1, 0, 3}: 1; top 4 {1, 0, 3, 2}: 1; top 6: 1.
//   Precision 0, 0, 1/3, 1/4, 1/4; recall 0, 0, 1, 1, 1.
// Without train user 2's item 3 is 4th: MRR 1/4.

const handScores = [[4, 1, 3, 2], [1, 4, 2, 3], [2, 3, 4, 1]];
const hand = modelScoring(handScores);
const handTest = matrixOf([[1, 2], [], [3]], 4);
const handTrain = matrixOf([[], [], [2]], 4);

test("the hand-worked example: MRR, precision and recall of users 0 and 2", () => {
  assert.deepEqual(mrrScore(hand, handTest, { train: handTrain }), Float64Array.of(3 / 8, 1 / 3));
  assert.deepEqual(mrrScore(hand, handTest), Float64Array.of(3 / 8, 1 / 4));
  const result = precisionRecallScore(hand, handTest, { train: handTrain, k: [1, 2, 3, 4, 6] });
  assert.deepEqual(result, {
    precision: [
      Float64Array.of(0, 0),
      Float64Array.of(1 / 2, 0),
      Float64Array.of(1 / 3, 1 / 3),
      Float64Array.of(2 / 4, 1 / 4),
      Float64Array.of(2 / 4, 1 / 4),
    ],
    recall: [
      Float64Array.of(0, 0),
      Float64Array.of(1 / 2, 0),
      Float64Array.of(1 / 2, 1),
      Float64Array.of(1, 1),
      Float64Array.of(1, 1),
    ],
    users: Int32Array.of(0, 2),
  });
  assert.deepEqual(precisionRecallScore(hand, handTest, { train: handTrain, k: 3 }), {
    precision: Float64Array.of(1 / 3, 1 / 3),
    recall: Float64Array.of(1 / 2, 1),
    users: Int32Array.of(0, 2),
  });
  // The reference agrees with the hand computation.
  const reference = spotlightReference(handScores, [[1, 2], [], [3]], [[], [], [2]], [
    1,
    2,
    3,
    4,
    6,
  ]);
  assert.deepEqual(reference.mrr, [3 / 8, 1 / 3]);
  assert.deepEqual(reference.precision, result.precision.map((column) => [...column]));
});

test("on a tie tacit counts the tied item above (Spotlight averages): the documented difference", () => {
  // Scores 3, 3, 1: test item 1 ties with item 0. Spotlight's rankdata gives it 1.5, tacit 2.
  const tied = modelScoring([[3, 3, 1]]);
  const tiedTest = matrixOf([[1]], 3);
  assert.deepEqual(spotlightReference([[3, 3, 1]], [[1]], undefined, []).mrr, [1 / 1.5]);
  assert.deepEqual(mrrScore(tied, tiedTest), Float64Array.of(1 / 2));
  // At k = 1 the tie is not a hit here; Spotlight's argsort may put either item first.
  assert.deepEqual(precisionRecallScore(tied, tiedTest, { k: 1 }).precision, Float64Array.of(0));
});

test("test interactions that are also training interactions are refused unless checkIntersections: false", () => {
  const shared = matrixOf([[], [], [2, 3]], 4);
  for (
    const run of [
      () => mrrScore(hand, shared, { train: handTrain }),
      () => precisionRecallScore(hand, shared, { train: handTrain }),
    ]
  ) {
    assert.throws(run, {
      name: "RangeError",
      message:
        "Expected test and train to share no interaction but they share 1 interaction, the first at user 2, item 2: their ranks would be optimistic; check the split, or pass checkIntersections: false",
    });
  }
  // With the check off, item 2 is ranked by its score among the items outside train: first.
  assert.deepEqual(
    mrrScore(hand, shared, { train: handTrain, checkIntersections: false }),
    Float64Array.of((1 + 1 / 3) / 2),
  );
});

test("bad arguments are refused, naming the argument, what was expected and what was found", () => {
  const refuse = (run: () => unknown, name: string, message: string | RegExp) =>
    assert.throws(run, { name, message });
  refuse(
    () => mrrScore(hand, handTest, { K: 3 } as never),
    "TypeError",
    "Expected an option of mrrScore() (train, checkIntersections) but found 'K'",
  );
  refuse(
    () => mrrScore(hand, handTest, { k: 3 } as never),
    "TypeError",
    "Expected an option of mrrScore() (train, checkIntersections) but found 'k'",
  );
  refuse(
    () => precisionRecallScore(hand, handTest, { trainInteractions: handTrain } as never),
    "TypeError",
    "Expected an option of precisionRecallScore() (train, checkIntersections, k) but found 'trainInteractions' (did you mean 'train'?)",
  );
  refuse(
    () => mrrScore(hand, handTest, { check_intersections: false } as never),
    "TypeError",
    "Expected an option of mrrScore() (train, checkIntersections) but found 'check_intersections' (did you mean 'checkIntersections'?)",
  );
  for (const k of [0, -1, 1.5, NaN, Infinity]) {
    refuse(
      () => precisionRecallScore(hand, handTest, { k }),
      "RangeError",
      `Expected k to be a positive integer but found ${k}`,
    );
  }
  refuse(
    () => precisionRecallScore(hand, handTest, { k: [2, 0] }),
    "RangeError",
    "Expected k[1] to be a positive integer but found 0",
  );
  refuse(
    () => precisionRecallScore(hand, handTest, { k: [] }),
    "RangeError",
    "Expected k to be a positive integer or a non-empty array of them but found an empty array",
  );
  refuse(
    () => precisionRecallScore(hand, handTest, { k: "3" as never }),
    "TypeError",
    "Expected k to be a positive integer or an array of them but found a string '3'",
  );
  refuse(
    () => precisionRecallScore(hand, handTest, { k: Int32Array.of(3) as never }),
    "TypeError",
    "Expected k to be a positive integer or an array of them but found an Int32Array",
  );
  refuse(
    () => mrrScore(hand, matrixOf([[1], [], []], 5)),
    "RangeError",
    "Expected test to have 4 columns (the model's items) but found 5",
  );
  refuse(
    () => precisionRecallScore(hand, matrixOf([[1], []], 4)),
    "RangeError",
    "Expected test to have 3 rows (the model's users) but found 2",
  );
  refuse(
    () => mrrScore(hand, handTest, { train: CsrMatrix.empty([3, 5]) }),
    "RangeError",
    "Expected train to have 4 columns (the model's items) but found 5",
  );
  refuse(
    () => mrrScore(hand, CsrMatrix.empty([3, 4])),
    "RangeError",
    "Expected test to hold at least one interaction but found none (shape [3,4]): every user would be skipped",
  );
  refuse(
    () => precisionRecallScore(hand, CsrMatrix.empty([3, 4]), { k: [1, 2] }),
    "RangeError",
    /Expected test to hold at least one interaction but found none/,
  );
  refuse(
    () => mrrScore(hand, [[1]] as never),
    "TypeError",
    "Expected test to be a CsrMatrix but found an array",
  );
  refuse(
    () => mrrScore(hand, handTest, { train: "train" as never }),
    "TypeError",
    "Expected train to be a CsrMatrix but found a string 'train'",
  );
  refuse(
    () => mrrScore(hand, handTest, { checkIntersections: "no" as never }),
    "TypeError",
    /checkIntersections/,
  );
  refuse(
    () => mrrScore(null as never, handTest),
    "TypeError",
    "Expected model to be a model object but found null",
  );
});
