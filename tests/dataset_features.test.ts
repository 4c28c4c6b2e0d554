import assert from "node:assert/strict";
import { Dataset } from "../lib/dataset.ts";
import type { FeatureRow } from "../lib/dataset.ts";
import type { CsrMatrix } from "../lib/sparse.ts";
import { test } from "./harness.ts";

/** Asserts a matrix's shape and its dense rows (each value rounded to float32). */
function assertMatrix(matrix: CsrMatrix, expected: number[][]): void {
  assert.deepEqual(matrix.shape, [expected.length, expected[0]?.length ?? 0]);
  assert.deepEqual(matrix.toDense(), Float32Array.from(expected.flat()));
}

/** Users ann, bob, cy; user features young, old, city (columns 3, 4, 5 after the identities). */
function people(options: ConstructorParameters<typeof Dataset>[0] = {}): Dataset {
  return new Dataset(options).fit(["ann", "bob", "cy"], ["x", "y"], {
    userFeatures: ["young", "old", "city"],
    itemFeatures: ["rock"],
  });
}

test("fit() numbers the identity features first, then the named features", () => {
  const dataset = people();
  assert.deepEqual(dataset.userFeatures.externals(), ["ann", "bob", "cy", "young", "old", "city"]);
  assert.deepEqual(dataset.itemFeatures.externals(), ["x", "y", "rock"]);
  for (const user of ["ann", "bob", "cy"]) {
    assert.equal(dataset.userFeatures.id(user), dataset.userId(user));
  }
  assert.deepEqual(dataset.userFeaturesShape(), [3, 6]);
  assert.deepEqual(dataset.itemFeaturesShape(), [2, 3]);
  assert.deepEqual(dataset.interactionsShape(), [3, 2]);
  assert.equal(dataset.userFeatures.name, "user feature");
  assert.equal(dataset.itemFeatures.name, "item feature");
  assert.equal(dataset.userIdentityFeatures, true);
  assert.equal(dataset.itemIdentityFeatures, true);
});

test("without identity features the feature maps hold the named features alone", () => {
  const dataset = people({ userIdentityFeatures: false });
  assert.deepEqual(dataset.userFeatures.externals(), ["young", "old", "city"]);
  assert.deepEqual(dataset.itemFeatures.externals(), ["x", "y", "rock"]);
  assert.deepEqual(dataset.userFeaturesShape(), [3, 3]);
  assert.equal(dataset.userIdentityFeatures, false);
  assert.throws(() => new Dataset({ userIdentityFeatures: 1 as unknown as boolean }), {
    name: "TypeError",
    message: "Expected userIdentityFeatures to be a boolean but found 1",
  });
  assert.throws(() => new Dataset({ identity: false } as object), {
    name: "TypeError",
    message:
      "Expected an option of Dataset (order, userIdentityFeatures, itemIdentityFeatures) but found 'identity'",
  });
});

test("buildUserFeatures() puts 1 in each identity column and the named weights after it", () => {
  const dataset = people();
  const rows: FeatureRow[] = [["ann", ["young", "city"]], ["cy", { old: 2, city: 0.5 }]];
  // Columns: ann bob cy young old city. bob has no row: its identity feature alone.
  assertMatrix(dataset.buildUserFeatures(rows, { normalize: false }), [
    [1, 0, 0, 1, 0, 1],
    [0, 1, 0, 0, 0, 0],
    [0, 0, 1, 0, 2, 0.5],
  ]);
  assertMatrix(dataset.buildUserFeatures(rows), [
    [1 / 3, 0, 0, 1 / 3, 0, 1 / 3],
    [0, 1, 0, 0, 0, 0],
    [0, 0, 1 / 3.5, 0, 2 / 3.5, 0.5 / 3.5],
  ]);
  // No rows at all: the identity matrix.
  assertMatrix(dataset.buildUserFeatures([]), [
    [1, 0, 0, 0, 0, 0],
    [0, 1, 0, 0, 0, 0],
    [0, 0, 1, 0, 0, 0],
  ]);
});

test("buildItemFeatures() gives an item with no named feature its identity feature alone", () => {
  const dataset = people();
  // Columns: x y rock; y is in no row.
  const tags = dataset.buildItemFeatures([["x", ["rock"]]]);
  assertMatrix(tags, [[0.5, 0, 0.5], [0, 1, 0]]);
  assert.equal(tags.nnz, 3);
  assert.equal(dataset.itemFeatures.external(tags.indices[1]!), "rock");
});

test("repeated entries are summed before normalisation, as scipy's COO to CSR", () => {
  const dataset = people();
  const rows: FeatureRow[] = [
    ["ann", ["young", "young"]], // a name twice
    ["bob", { city: 2 }],
    ["bob", { city: 1, old: 1 }], // a user in two rows
    ["cy", ["cy", "old"]], // its own identity feature named again
  ];
  const raw = dataset.buildUserFeatures(rows, { normalize: false });
  assertMatrix(raw, [
    [1, 0, 0, 2, 0, 0],
    [0, 1, 0, 0, 1, 3],
    [0, 0, 2, 0, 1, 0],
  ]);
  assert.equal(raw.nnz, 7); // each (row, column) once
  assertMatrix(dataset.buildUserFeatures(rows), [
    [1 / 3, 0, 0, 2 / 3, 0, 0],
    [0, 1 / 5, 0, 0, 1 / 5, 3 / 5],
    [0, 0, 2 / 3, 0, 1 / 3, 0],
  ]);
});

test("features are given as lists, Sets, plain objects or Maps, numbers keyed as strings", () => {
  const dataset = new Dataset({ itemIdentityFeatures: false }).fit(["u"], [1, 2, 3, 4], {
    itemFeatures: ["a", 7],
  });
  const raw = dataset.buildItemFeatures([
    [1, ["a", 7]],
    [2, new Set(["a"])],
    ["3", { a: 0.25, 7: 4 }], // item "3" is item 3, key "7" is feature 7
    [4, new Map<string | number, number>([[7, 3]])],
  ], { normalize: false });
  assertMatrix(raw, [[1, 1], [1, 0], [0.25, 4], [0, 3]]);
});

test("normalize leaves a row of zeros as zeros and refuses a row with no entry", () => {
  const dataset = people({ userIdentityFeatures: false });
  // Columns: young old city.
  const rows: FeatureRow[] = [["ann", { young: 0, old: 0 }], ["bob", ["city"]], ["cy", ["old"]]];
  const zeros = dataset.buildUserFeatures(rows);
  assertMatrix(zeros, [[0, 0, 0], [0, 0, 1], [0, 1, 0]]);
  assert.equal(zeros.nnz, 4); // ann's zeros are stored, as LightFM stores them
  assert.throws(() => dataset.buildUserFeatures([["ann", ["young"]], ["cy", ["old"]]]), {
    name: "RangeError",
    message: "Expected every user to have a feature to normalize but found none for user 'bob' " +
      "(row 1); give it a feature, keep userIdentityFeatures on, or pass normalize: false",
  });
  assertMatrix(dataset.buildUserFeatures([["cy", ["old"]]], { normalize: false }), [
    [0, 0, 0],
    [0, 0, 0],
    [0, 1, 0],
  ]);
});

test("buildUserFeatures() refuses unknown ids and feature names, naming the row and the id", () => {
  const dataset = people();
  assert.throws(() => dataset.buildUserFeatures([["ann", ["young"]], ["bob", []], ["zed", []]]), {
    name: "RangeError",
    message: "Unknown user id 'zed' in rows[2]",
  });
  assert.throws(() => dataset.buildUserFeatures([["ann", ["young"]], ["bob", ["tall"]]]), {
    name: "RangeError",
    message:
      "Unknown user feature 'tall' in rows[1] (user 'bob'); register it with fit or fitPartial first",
  });
  assert.throws(() => dataset.buildItemFeatures([["x", { jazz: 1 }]]), {
    name: "RangeError",
    message:
      "Unknown item feature 'jazz' in rows[0] (item 'x'); register it with fit or fitPartial first",
  });
  // An item's feature map does not know user features.
  assert.throws(() => dataset.buildItemFeatures([["y", ["young"]]]), {
    message: /Unknown item feature 'young' in rows\[0\]/,
  });
  assert.throws(() => dataset.buildUserFeatures([[NaN, []]]), {
    name: "RangeError",
    message: "Expected the user of rows[0] to be a string or a finite number but found NaN",
  });
  assert.throws(() => dataset.buildUserFeatures([["ann", [null as unknown as string]]]), {
    name: "TypeError",
    message: "Expected a feature name in rows[0] to be a string or a finite number but found null",
  });
});

test("feature weights must be numbers, finite in float32 and not negative", () => {
  const dataset = people();
  const cases: [unknown, string, string][] = [
    [-1, "RangeError", "to be at least 0 but found -1"],
    [NaN, "RangeError", "to be finite in float32 but found NaN"],
    [Infinity, "RangeError", "to be finite in float32 but found Infinity"],
    [1e39, "RangeError", "to be finite in float32 but found 1e+39"],
    ["2", "TypeError", "to be a number but found a string '2'"],
  ];
  for (const [weight, name, tail] of cases) {
    const rows = [["ann", ["old"]], ["bob", { young: weight }]] as FeatureRow[];
    assert.throws(() => dataset.buildUserFeatures(rows), {
      name,
      message: `Expected the weight of user feature 'young' in rows[1] ${tail}`,
    });
  }
  const map = new Map([["city", -0.5]]);
  assert.throws(() => dataset.buildUserFeatures([["cy", map]]), {
    message:
      "Expected the weight of user feature 'city' in rows[0] to be at least 0 but found -0.5",
  });
  // 0 (and -0) are allowed.
  assertMatrix(dataset.buildUserFeatures([["ann", { young: -0, old: 0 }]], { normalize: false }), [
    [1, 0, 0, 0, 0, 0],
    [0, 1, 0, 0, 0, 0],
    [0, 0, 1, 0, 0, 0],
  ]);
});

test("malformed rows and options are refused with the row named", () => {
  const dataset = people();
  const bad = (rows: unknown) => () => dataset.buildUserFeatures(rows as FeatureRow[]);
  assert.throws(bad([["ann"]]), {
    name: "TypeError",
    message: "Expected rows[0] to be [user, features] but found an array of 1",
  });
  assert.throws(bad([["ann", ["young"]], "ann"]), {
    name: "TypeError",
    message: "Expected rows[1] to be [user, features] but found a string 'ann'",
  });
  assert.throws(bad([["ann", "young"]]), {
    name: "TypeError",
    message: "Expected the features of rows[0] to be feature names or { name: weight } but found " +
      "a string 'young'; wrap one name in an array",
  });
  assert.throws(bad([["ann", 3]]), {
    name: "TypeError",
    message: "Expected the features of rows[0] to be feature names or { name: weight } but found 3",
  });
  assert.throws(bad(5), {
    name: "TypeError",
    message: "Expected rows to be an iterable of [user, features] but found 5",
  });
  assert.throws(() => dataset.buildItemFeatures([], { normalise: true } as object), {
    name: "TypeError",
    message: "Expected an option of Dataset.buildItemFeatures (normalize) but found 'normalise'",
  });
  assert.throws(() => dataset.buildItemFeatures([], { normalize: "yes" as unknown as boolean }), {
    name: "TypeError",
    message: "Expected normalize to be a boolean but found a string 'yes'",
  });
});

test("fitPartial() appends identity features after the known features, which keep their ids", () => {
  const dataset = new Dataset().fit(["ann"], ["x"], { userFeatures: ["young"] });
  dataset.fitPartial(["bob", "ann"], ["y"], {
    userFeatures: ["old", "young"],
    itemFeatures: ["rock"],
  });
  assert.deepEqual(dataset.userFeatures.externals(), ["ann", "young", "bob", "old"]);
  assert.deepEqual(dataset.itemFeatures.externals(), ["x", "y", "rock"]);
  // Columns: ann young bob old.
  assertMatrix(dataset.buildUserFeatures([["bob", ["young"]]], { normalize: false }), [
    [1, 0, 0, 0],
    [0, 1, 1, 0],
  ]);
  // A feature list alone leaves users and items alone.
  dataset.fitPartial(undefined, undefined, { itemFeatures: ["jazz"] });
  assert.deepEqual(dataset.itemFeaturesShape(), [2, 4]);
  // fit() forgets the features too.
  dataset.fit(["cy"], ["z"]);
  assert.deepEqual(dataset.userFeatures.externals(), ["cy"]);
  assert.deepEqual(dataset.itemFeatures.externals(), ["z"]);
});

test("a bad list in fit() or fitPartial() changes no map", () => {
  const dataset = people();
  const before = JSON.stringify(dataset);
  assert.throws(() => dataset.fitPartial(["dan"], ["z"], { itemFeatures: ["jazz", NaN] }), {
    name: "RangeError",
    message: "Expected itemFeatures[1] to be a string or a finite number but found NaN",
  });
  assert.throws(
    () => dataset.fit(["dan"], ["z"], { userFeatures: "tall" as unknown as string[] }),
    {
      name: "TypeError",
      message: "Expected userFeatures to be an iterable of feature names but found a string " +
        "'tall'; wrap one name in an array",
    },
  );
  assert.throws(() => dataset.fit(["dan"], ["z"], { userFeature: ["tall"] } as object), {
    name: "TypeError",
    message:
      "Expected an option of Dataset.fit (userFeatures, itemFeatures) but found 'userFeature' (did you mean 'userFeatures'?)",
  });
  assert.throws(() => dataset.fitPartial(["dan"], ["z", Infinity], { userFeatures: ["tall"] }), {
    name: "RangeError",
  });
  assert.equal(JSON.stringify(dataset), before);
});

test("in sorted order identity features follow the dense ids and new names are sorted", () => {
  const dataset = new Dataset({ order: "sorted" }).fit([30, 10], ["b", "a"], {
    userFeatures: ["z", "m"],
  });
  assert.deepEqual(dataset.users.externals(), [10, 30]);
  assert.deepEqual(dataset.userFeatures.externals(), [10, 30, "m", "z"]);
  dataset.fitPartial([20, 5], undefined, { userFeatures: ["k", "a"] });
  assert.deepEqual(dataset.users.externals(), [10, 30, 5, 20]);
  assert.deepEqual(dataset.userFeatures.externals(), [10, 30, "m", "z", 5, 20, "a", "k"]);
  assert.equal(dataset.userFeatures.order, "sorted");
});

test("a feature name equal to an id is that id's identity feature, as in LightFM", () => {
  const dataset = new Dataset().fit([1, 2], ["x"], { userFeatures: ["2", "tall"] });
  assert.deepEqual(dataset.userFeatures.externals(), [1, 2, "tall"]);
  assertMatrix(dataset.buildUserFeatures([[1, ["2"]]], { normalize: false }), [
    [1, 1, 0],
    [0, 1, 0],
  ]);
});

test("buildInteractionsAndWeights() gives binary interactions and summed weights of one pattern", () => {
  const dataset = people();
  const { interactions, weights } = dataset.buildInteractionsAndWeights([
    ["cy", "y", 2],
    ["ann", "x"],
    ["cy", "y", 0.5],
    ["bob", "y", 0],
    ["ann", "x", 3],
  ]);
  assertMatrix(interactions, [[1, 0], [0, 1], [0, 1]]);
  assertMatrix(weights, [[4, 0], [0, 0], [0, 2.5]]);
  // bob's zero weight is stored in both: one sparsity pattern.
  assert.equal(interactions.nnz, 3);
  assert.deepEqual(weights.indptr, interactions.indptr);
  assert.deepEqual(weights.indices, interactions.indices);
  assert.deepEqual(interactions.data, Float32Array.of(1, 1, 1));
  assert.deepEqual(weights.data, Float32Array.of(4, 0, 2.5));
  // buildInteractions() still returns the weights matrix alone.
  const rows: [string, string, number][] = [["cy", "y", 2], ["cy", "y", 0.5]];
  assert.deepEqual(
    dataset.buildInteractions(rows).toDense(),
    dataset.buildInteractionsAndWeights(rows).weights.toDense(),
  );
  assert.throws(() => dataset.buildInteractionsAndWeights([["ann", "q"]]), {
    name: "RangeError",
    message: "Unknown item id 'q' in interactions[0]",
  });
});

test("unknown: 'add' adds the new ids' identity features too", () => {
  const dataset = people({ itemIdentityFeatures: false });
  const { interactions } = dataset.buildInteractionsAndWeights([["dan", "x"], ["ann", "w"]], {
    unknown: "add",
  });
  assert.deepEqual(interactions.shape, [4, 3]);
  assert.deepEqual(dataset.userFeatures.externals(), [
    "ann",
    "bob",
    "cy",
    "young",
    "old",
    "city",
    "dan",
  ]);
  assert.deepEqual(dataset.itemFeatures.externals(), ["rock"]);
  assert.equal(dataset.buildUserFeatures([]).row(3).indices[0], 6);
});

test("the feature maps and identity flags survive a JSON round trip", () => {
  const dataset = people({ itemIdentityFeatures: false, order: "sorted" });
  const back = Dataset.fromJSON(JSON.parse(JSON.stringify(dataset)));
  assert.deepEqual(back.userFeatures.externals(), dataset.userFeatures.externals());
  assert.deepEqual(back.itemFeatures.externals(), ["rock"]);
  assert.equal(back.userIdentityFeatures, true);
  assert.equal(back.itemIdentityFeatures, false);
  assert.equal(back.userFeatures.name, "user feature");
  assert.equal(back.userFeatures.order, "sorted");
  const rows: FeatureRow[] = [["bob", { old: 1 }]];
  assert.deepEqual(back.buildUserFeatures(rows), dataset.buildUserFeatures(rows));
});

test("JSON written before features loads with identity features alone", () => {
  const back = Dataset.fromJSON({
    users: { name: "user", order: "first-seen", ids: ["b", "a"] },
    items: { ids: [3, 1] },
  });
  assert.equal(back.userIdentityFeatures, true);
  assert.deepEqual(back.userFeatures.externals(), ["b", "a"]);
  assert.deepEqual(back.itemFeatures.externals(), [3, 1]);
  assertMatrix(back.buildItemFeatures([]), [[1, 0], [0, 1]]);
  // Dense order, not sorted order, even for a sorted map grown by fitPartial.
  const sorted = new Dataset({ order: "sorted" }).fit([5, 3], ["x"]);
  sorted.fitPartial([1]);
  const { users, items } = sorted.toJSON();
  assert.deepEqual(Dataset.fromJSON({ users, items }).userFeatures.externals(), [3, 5, 1]);
});

test("fromJSON() refuses feature maps that contradict the identity flags", () => {
  const json = JSON.parse(JSON.stringify(people()));
  json.userFeatures.ids = ["ann", "cy", "young"];
  assert.throws(() => Dataset.fromJSON(json), {
    name: "RangeError",
    message:
      "Expected userFeatures to hold every user id (userIdentityFeatures is true) but user 'bob' is missing",
  });
  json.userIdentityFeatures = false;
  assert.deepEqual(Dataset.fromJSON(json).userFeaturesShape(), [3, 3]);
  json.itemIdentityFeatures = "no";
  assert.throws(() => Dataset.fromJSON(json), {
    name: "TypeError",
    message: "Expected itemIdentityFeatures to be a boolean but found a string 'no'",
  });
  json.itemIdentityFeatures = true;
  json.itemFeatures = [];
  assert.throws(() => Dataset.fromJSON(json), {
    name: "TypeError",
    message: /itemFeatures/,
  });
});
