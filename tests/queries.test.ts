import assert from "node:assert/strict";
import { AlternatingLeastSquares, type CsrMatrix } from "../mod.ts";
import { bruteTopK, dot, randomFactors, randomMatrix } from "./reference.ts";
import { test } from "./harness.ts";

const f = 6;
const nUsers = 30;
const nItems = 45;

function modelWithFactors(
  users: Float32Array,
  items: Float32Array,
  factors = f,
): AlternatingLeastSquares {
  const model = new AlternatingLeastSquares({ factors });
  model.assignFactors({ data: users, shape: [users.length / factors, factors] }, {
    data: items,
    shape: [items.length / factors, factors],
  });
  return model;
}

const users = randomFactors(nUsers, f, 1);
const items = randomFactors(nItems, f, 2);
const model = modelWithFactors(users, items);
const liked = randomMatrix(nUsers, nItems, 0.2, 3);

function likedSet(m: CsrMatrix, u: number): Set<number> {
  return new Set(m.row(u).indices);
}

function assertRanked(
  actual: { ids: Int32Array; scores: Float32Array },
  expected: { ids: number[]; scores: number[] },
  label: string,
) {
  assert.deepEqual([...actual.ids], expected.ids, `${label}: ids`);
  expected.scores.forEach((s, k) =>
    assert.ok(Math.abs(actual.scores[k]! - s) < 1e-5, `${label}: score ${k}`)
  );
}

const filterItems = [0, 5, 7, 44];
const subset = [40, 3, 5, 9, 12, 13, 21, 22, 30, 31, 44, 3];

const cases = [
  {
    name: "no filter",
    options: { filterAlreadyLiked: false },
    exclude: (_u: number) => new Set<number>(),
  },
  { name: "liked filtered", options: {}, exclude: (u: number) => likedSet(liked, u) },
  {
    name: "filterItems",
    options: { filterAlreadyLiked: false, filterItems },
    exclude: () => new Set(filterItems),
  },
  {
    name: "every filter and a subset",
    options: { filterItems, items: subset },
    exclude: (u: number) => new Set([...likedSet(liked, u), ...filterItems]),
    only: new Set(subset),
  },
];

for (const c of cases) {
  test(`recommend() equals a brute-force top-k with ${c.name}`, () => {
    for (let u = 0; u < nUsers; u++) {
      const scores = Array.from({ length: nItems }, (_, i) => dot(users, u, items, i, f));
      const expected = bruteTopK(scores, 10, c.exclude(u), c.only);
      assertRanked(model.recommend(u, liked, { n: 10, ...c.options }), expected, `user ${u}`);
    }
  });

  test(`batch recommend() equals single recommend() row by row with ${c.name}`, () => {
    const ids = Int32Array.from({ length: nUsers }, (_, u) => nUsers - 1 - u);
    const batch = model.recommend(ids, liked, { n: 7, ...c.options });
    assert.deepEqual(batch.shape, [nUsers, 7]);
    ids.forEach((u, row) => {
      const single = model.recommend(u, liked, { n: 7, ...c.options });
      const k = single.ids.length;
      assert.deepEqual(batch.ids.subarray(row * 7, row * 7 + k), single.ids);
      assert.deepEqual(batch.scores.subarray(row * 7, row * 7 + k), single.scores);
      for (let pad = k; pad < 7; pad++) {
        assert.equal(batch.ids[row * 7 + pad], -1);
        assert.equal(batch.scores[row * 7 + pad], Number.NEGATIVE_INFINITY);
      }
    });
  });
}

test("recommend() returns every remaining item when n exceeds them, best first", () => {
  const result = model.recommend(4, liked, { n: 1000 });
  assert.equal(result.ids.length, nItems - liked.row(4).indices.length);
  const small = model.recommend(4, liked, { n: 1000, items: [1, 2, 3] });
  const unliked = [1, 2, 3].filter((i) => !likedSet(liked, 4).has(i));
  assert.deepEqual([...small.ids].sort(), unliked);
  assert.equal(model.recommend(4, liked, { items: [] }).ids.length, 0);
  assert.deepEqual(model.recommend([4, 5], liked, { items: [] }).shape, [2, 0]);
  assert.deepEqual(model.similarItems([], { n: 3 }).shape, [0, 3]);
});

test("ties are broken by ascending item id", () => {
  const tiedItems = new Float32Array(8 * 2).fill(0.5);
  tiedItems.set([1, 1], 3 * 2); // item 3 scores highest
  const tied = modelWithFactors(new Float32Array([1, 1]), tiedItems, 2);
  const noLikes = randomMatrix(1, 8, 0, 1);
  const result = tied.recommend(0, noLikes, { n: 5 });
  assert.deepEqual([...result.ids], [3, 0, 1, 2, 4]);
});

test("recommend() with recalculateUser uses the solved factors", async () => {
  const m = randomMatrix(20, 12, 0.3, 9);
  const fitted = await new AlternatingLeastSquares({ factors: 4, iterations: 3, randomState: 3 })
    .fit(m, { progress: false });
  const x = fitted.recalculateUser(5, m);
  const scores = Array.from({ length: 12 }, (_, i) => dot(x, 0, fitted.itemFactors.data, i, 4));
  assertRanked(
    fitted.recommend(5, m, { n: 4, recalculateUser: true }),
    bruteTopK(scores, 4, likedSet(m, 5)),
    "recalculated",
  );
});

function cosineScores(matrix: Float32Array, count: number, q: number): number[] {
  const norm = (i: number) => Math.sqrt(dot(matrix, i, matrix, i, f));
  return Array.from(
    { length: count },
    (_, i) => dot(matrix, q, matrix, i, f) / (norm(q) * norm(i)),
  );
}

for (
  const [label, options, exclude, only] of [
    ["no filter", {}, new Set<number>(), undefined],
    ["filterItems", { filterItems }, new Set(filterItems), undefined],
    [
      "filterItems and a subset",
      { filterItems, items: subset },
      new Set(filterItems),
      new Set(subset),
    ],
  ] as const
) {
  test(`similarItems() equals a brute-force cosine top-k with ${label}`, () => {
    for (let i = 0; i < nItems; i++) {
      const expected = bruteTopK(cosineScores(items, nItems, i), 8, exclude, only);
      assertRanked(model.similarItems(i, { n: 8, ...options }), expected, `item ${i}`);
    }
    const batch = model.similarItems([2, 9], { n: 8, ...options });
    assert.deepEqual(batch.shape, [2, 8]);
    assert.deepEqual(
      batch.ids.subarray(8, 16).filter((id) => id >= 0),
      model.similarItems(9, { n: 8, ...options }).ids,
    );
  });
}

test("similarItems() ranks the item itself first and similarUsers() matches brute force", () => {
  assert.equal(model.similarItems(17).ids[0], 17);
  for (let u = 0; u < nUsers; u += 3) {
    const expected = bruteTopK(cosineScores(users, nUsers, u), 5, new Set([1, 2]), undefined);
    assertRanked(model.similarUsers(u, { n: 5, filterUsers: [1, 2] }), expected, `user ${u}`);
  }
});
