import assert from "node:assert/strict";
import { Dataset, IdMap } from "../lib/dataset.ts";
import type { Interaction } from "../lib/dataset.ts";
import { seeded } from "./reference.ts";
import { test } from "./harness.ts";

test("IdMap numbers ids in first-seen order, skipping repeats", () => {
  const map = new IdMap().fit(["b", "a", "b", "c", "a"]);
  assert.equal(map.size, 3);
  assert.deepEqual([...map], [["b", 0], ["a", 1], ["c", 2]]);
  assert.deepEqual(map.externals(), ["b", "a", "c"]);
  assert.equal(map.id("c"), 2);
  assert.equal(map.external(1), "a");
});

test("IdMap in sorted order sorts one fit: numbers numerically, then strings by code unit", () => {
  const map = new IdMap({ order: "sorted" }).fit(["b", 10, "B", 9, "a", 10, "10x"]);
  assert.deepEqual(map.externals(), [9, 10, "10x", "B", "a", "b"]);
  assert.equal(map.id(10), 1);
  assert.equal(map.id("a"), 4);
});

test("fitPartial() keeps the dense ids of known ids and adds new ones after them", () => {
  const first = new IdMap().fit(["x", "y"]);
  first.fitPartial(["z", "x", "w", "z"]);
  assert.deepEqual(first.externals(), ["x", "y", "z", "w"]);
  const sorted = new IdMap({ order: "sorted" }).fit([5, 3]);
  sorted.fitPartial([4, 1, 5]);
  assert.deepEqual(sorted.externals(), [3, 5, 1, 4]);
  assert.deepEqual([3, 5, 1, 4].map((id) => sorted.id(id)), [0, 1, 2, 3]);
});

test("intern() returns known ids and appends new ones in first-seen order", () => {
  const map = new IdMap({ order: "sorted" }).fit(["b", "a"]);
  assert.equal(map.intern("b"), 1);
  assert.equal(map.intern("z"), 2);
  assert.equal(map.intern(5), 3);
  assert.equal(map.intern("5"), 3);
  assert.equal(map.intern("c"), 4);
  assert.throws(() => map.intern(NaN), { name: "RangeError", message: /finite number/ });
  assert.equal(map.size, 5);
});

test("fit() forgets the ids a map had", () => {
  const map = new IdMap().fit(["a", "b"]);
  map.fit(["c"]);
  assert.equal(map.size, 1);
  assert.equal(map.has("a"), false);
  assert.equal(map.id("c"), 0);
});

test("a number and its string form are the same id, remembered as first given", () => {
  const map = new IdMap().fit([7, "7", -0, "0", 7.0, 1.5]);
  assert.equal(map.size, 3);
  assert.equal(map.id("7"), 0);
  assert.equal(map.id(7), 0);
  assert.equal(map.id(0), 1);
  assert.equal(map.id("0"), 1);
  assert.equal(map.id("1.5"), 2);
  assert.equal(map.external(0), 7);
  assert.equal(map.external(1), 0);
  assert.ok(map.has(7) && map.has("7") && !map.has("07") && !map.has(8));
  const strings = new IdMap().fit(["7"]);
  strings.fitPartial([7]);
  assert.equal(strings.size, 1);
  assert.equal(strings.external(0), "7");
});

test("an unknown id is a clear error, or undefined when asked", () => {
  const users = new IdMap({ name: "user" }).fit(["ann"]);
  assert.throws(() => users.id("abc"), { name: "RangeError", message: "Unknown user id 'abc'" });
  assert.throws(() => users.id(42), { name: "RangeError", message: "Unknown user id 42" });
  assert.equal(users.id("abc", { unknown: "undefined" }), undefined);
  assert.equal(users.id("ann", { unknown: "undefined" }), 0);
  assert.throws(() => new IdMap().id("q"), { message: "Unknown id 'q'" });
  assert.throws(() => users.id("abc", { unknown: "skip" as "undefined" }), {
    name: "RangeError",
    message: /unknown/,
  });
});

test("external() is range-checked", () => {
  const items = new IdMap({ name: "item" }).fit(["a", "b", "c"]);
  assert.throws(() => items.external(3), {
    name: "RangeError",
    message: "dense item id 3 is out of range for a map of 3 ids",
  });
  assert.throws(() => items.external(-1), { name: "RangeError" });
  assert.throws(() => items.external(1.5), { name: "RangeError" });
  assert.throws(() => items.external("1" as unknown as number), { name: "TypeError" });
});

test("bad ids are refused, naming the entry, and leave the map unchanged", () => {
  const map = new IdMap().fit(["a"]);
  assert.throws(() => map.fitPartial(["b", NaN]), {
    name: "RangeError",
    message: "Expected ids[1] to be a string or a finite number but found NaN",
  });
  assert.throws(() => map.fitPartial(["b", "c", Infinity]), {
    name: "RangeError",
    message: /ids\[2\]/,
  });
  assert.throws(() => map.fitPartial([{} as unknown as string]), {
    name: "TypeError",
    message: "Expected ids[0] to be a string or a finite number but found an Object",
  });
  assert.throws(() => map.fitPartial([null as unknown as string]), {
    name: "TypeError",
    message: /ids\[0\]/,
  });
  assert.throws(() => map.fitPartial("abc" as unknown as string[]), {
    name: "TypeError",
    message: /wrap one id/,
  });
  assert.throws(() => map.fitPartial(5 as unknown as string[]), { name: "TypeError" });
  assert.deepEqual(map.externals(), ["a"]);
  assert.throws(() => map.fit(["z", NaN]), { name: "RangeError" });
  assert.deepEqual(map.externals(), ["a"]);
  assert.throws(() => map.id(NaN), { name: "RangeError", message: /finite number/ });
  assert.throws(() => new IdMap({ order: "random" as "sorted" }), {
    name: "RangeError",
    message: /order/,
  });
  assert.equal(map.has(NaN), false);
});

test("IdMap survives a JSON round trip, types and order included", () => {
  const map = new IdMap({ name: "user", order: "sorted" }).fit([3, "zed", 1, "ann"]);
  map.fitPartial(["bob", 0]);
  const back = IdMap.fromJSON(JSON.parse(JSON.stringify(map)));
  assert.deepEqual(back.externals(), map.externals());
  assert.equal(back.name, "user");
  assert.equal(back.order, "sorted");
  assert.equal(back.id("3"), map.id(3));
  assert.equal(back.external(0), 1);
  assert.throws(() => IdMap.fromJSON({ ids: [1, "2", "1"] }), {
    name: "RangeError",
    message: "Expected ids[2] = '1' to be unique but it repeats ids[0]",
  });
  assert.throws(() => IdMap.fromJSON({ ids: "abc" }), {
    name: "TypeError",
    message: /ids to be an array/,
  });
  assert.throws(() => IdMap.fromJSON(null), { name: "TypeError" });
  assert.throws(() => IdMap.fromJSON({ ids: [true] }), { name: "TypeError", message: /ids\[0\]/ });
});

test("buildInteractions() equals a dense accumulation of the rows, duplicates summed", () => {
  const next = seeded(11);
  const userNames = Array.from({ length: 7 }, (_, u) => `user-${u}`);
  const itemNames = Array.from({ length: 9 }, (_, i) => 1000 + i);
  const rows: Interaction[] = [];
  for (let e = 0; e < 150; e++) {
    const user = userNames[Math.floor(next() * 7)]!;
    const item = itemNames[Math.floor(next() * 9)]!;
    rows.push(next() < 0.3 ? [user, item] : [user, item, Math.round(next() * 8) - 2]);
  }
  const dataset = new Dataset({ order: "sorted" }).fit(userNames.slice().reverse(), itemNames);
  const matrix = dataset.buildInteractions(rows);
  assert.deepEqual(matrix.shape, [7, 9]);
  assert.deepEqual(dataset.interactionsShape(), [7, 9]);
  const dense = new Float64Array(7 * 9);
  for (const [user, item, weight] of rows) {
    dense[dataset.userId(user) * 9 + dataset.itemId(item)]! += weight ?? 1;
  }
  assert.deepEqual([...matrix.toDense()], [...dense]);
  assert.equal(dataset.userId("user-0"), 0);
  assert.equal(dataset.externalItem(3), 1003);
  assert.equal(dataset.externalUser(6), "user-6");
  // The same rows as columns give the same matrix.
  const columns = dataset.buildInteractions({
    users: rows.map((r) => r[0]),
    items: rows.map((r) => r[1]),
    weights: rows.map((r) => r[2] ?? 1),
  });
  assert.deepEqual(columns, matrix);
  // Any iterable works, a generator included.
  function* generate(): Generator<Interaction> {
    yield* rows;
  }
  assert.deepEqual(dataset.buildInteractions(generate()), matrix);
});

test("buildInteractions() grows past its first buffer", () => {
  const dataset = new Dataset().fit([0, 1, 2], ["a", "b"]);
  const rows: Interaction[] = [];
  for (let e = 0; e < 5000; e++) rows.push([e % 3, e % 2 === 0 ? "a" : "b", 0.5]);
  const m = dataset.buildInteractions(rows);
  assert.equal(m.nnz, 6);
  assert.equal(m.data.reduce((s, v) => s + v, 0), 2500);
});

test("buildInteractions() names the row of an unknown id, or adds it when asked", () => {
  const dataset = new Dataset().fit(["ann", "bob"], ["x", "y"]);
  assert.throws(() => dataset.buildInteractions([["ann", "x"], ["abc", "y"]]), {
    name: "RangeError",
    message: "Unknown user id 'abc' in interactions[1]",
  });
  assert.throws(() => dataset.buildInteractions([["ann", "x"], ["bob", "y"], ["bob", 5]]), {
    name: "RangeError",
    message: "Unknown item id 5 in interactions[2]",
  });
  const m = dataset.buildInteractions([["ann", "x"], ["cy", "z", 2], ["ann", "z"]], {
    unknown: "add",
  });
  assert.deepEqual(m.shape, [3, 3]);
  assert.equal(dataset.userId("cy"), 2);
  assert.equal(dataset.itemId("z"), 2);
  assert.deepEqual([...m.toDense()], [1, 0, 1, 0, 0, 0, 0, 0, 2]);
  assert.throws(() => dataset.buildInteractions([], { unknown: "ignore" as "add" }), {
    name: "RangeError",
  });
});

test("buildInteractions() refuses bad rows and weights, naming the row", () => {
  const dataset = new Dataset().fit(["a"], ["x"]);
  assert.throws(() => dataset.buildInteractions([["a", "x", NaN]]), {
    name: "RangeError",
    message: "Expected the weight of interactions[0] to be finite in float32 but found NaN",
  });
  assert.throws(() => dataset.buildInteractions([["a", "x"], ["a", "x", 1e39]]), {
    name: "RangeError",
    message: /interactions\[1\]/,
  });
  assert.throws(() => dataset.buildInteractions([["a", "x", Infinity]]), { name: "RangeError" });
  assert.throws(() => dataset.buildInteractions([["a", "x", "2" as unknown as number]]), {
    name: "TypeError",
    message: /weight of interactions\[0\]/,
  });
  assert.throws(() => dataset.buildInteractions([["a"] as unknown as Interaction]), {
    name: "TypeError",
    message:
      "Expected interactions[0] to be [user, item] or [user, item, weight] but found an array of 1",
  });
  assert.throws(() => dataset.buildInteractions([["a", "x"], "ax" as unknown as Interaction]), {
    name: "TypeError",
    message: /interactions\[1\]/,
  });
  assert.throws(() => dataset.buildInteractions([[NaN, "x"]]), {
    name: "RangeError",
    message: "Expected the user of interactions[0] to be a string or a finite number but found NaN",
  });
  assert.throws(() => dataset.buildInteractions(42 as unknown as Interaction[]), {
    name: "TypeError",
  });
  assert.throws(() => dataset.buildInteractions({ users: ["a"], items: [] }), {
    name: "TypeError",
    message: /items to have 1/,
  });
});

test("Dataset fit() resets, fitPartial() adds, and a bad list changes neither map", () => {
  const dataset = new Dataset().fit(["u1", "u2"], ["i1"]);
  dataset.fitPartial(["u3"], undefined);
  dataset.fitPartial(undefined, ["i2", "i1"]);
  assert.deepEqual(dataset.interactionsShape(), [3, 2]);
  assert.throws(() => dataset.fitPartial(["u4"], ["i3", NaN]), {
    name: "RangeError",
    message: /ids\[1\]/,
  });
  assert.deepEqual(dataset.interactionsShape(), [3, 2]);
  assert.equal(dataset.users.has("u4"), false);
  dataset.fit(["v"], ["j"]);
  assert.deepEqual(dataset.interactionsShape(), [1, 1]);
  assert.equal(dataset.users.name, "user");
  assert.equal(dataset.items.name, "item");
});

test("Dataset survives a JSON round trip", () => {
  const dataset = new Dataset({ order: "sorted" }).fit([30, 10, 20], ["b", "a"]);
  const back = Dataset.fromJSON(JSON.parse(JSON.stringify(dataset)));
  assert.deepEqual(back.users.externals(), [10, 20, 30]);
  assert.deepEqual(back.items.externals(), ["a", "b"]);
  assert.equal(back.users.order, "sorted");
  assert.equal(back.userId(30), 2);
  assert.throws(() => back.userId("nobody"), { message: "Unknown user id 'nobody'" });
  assert.throws(() => Dataset.fromJSON({ users: { ids: [] } }), {
    name: "TypeError",
    message: /items/,
  });
});
