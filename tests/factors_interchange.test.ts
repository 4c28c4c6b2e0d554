import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AlternatingLeastSquares,
  BayesianPersonalizedRanking,
  DataFileError,
  Dataset,
  exportFactors,
  importFactors,
  NotFittedError,
  writeNpy,
} from "../mod.ts";
import { randomMatrix } from "./reference.ts";
import { test } from "./harness.ts";
import { python, pythonWithout } from "./python.ts";

const root = mkdtempSync(join(tmpdir(), "tacit-factors-"));
const plays = randomMatrix(40, 30, 0.2, 3);
const userIds = Array.from({ length: 40 }, (_, u) => `user-${u}`);
const itemIds = Array.from({ length: 30 }, (_, i) => 1000 + 7 * i);
const everyone = Int32Array.from({ length: 40 }, (_, u) => u);

test("ALS factors exported to NPY and imported into a fresh model give identical recommend, similarItems and similarUsers", async () => {
  const model = await new AlternatingLeastSquares({ factors: 6, iterations: 3, randomState: 5 })
    .fit(plays, { progress: false });
  const dir = join(root, "als", "nested");
  const written = await exportFactors(model, dir, { userIds, itemIds });
  assert.deepEqual(written.map((p) => p.slice(dir.length + 1)), [
    "user_factors.npy",
    "item_factors.npy",
    "user_ids.json",
    "item_ids.json",
  ]);
  const fresh = new AlternatingLeastSquares({ factors: 6 });
  const { users, items } = await importFactors(fresh, dir);
  assert.deepEqual(users.externals(), userIds);
  assert.deepEqual(items.externals(), itemIds);
  assert.deepEqual(
    fresh.recommend(everyone, plays, { n: 10 }),
    model.recommend(everyone, plays, { n: 10 }),
  );
  assert.deepEqual(
    fresh.similarItems(Int32Array.of(0, 5, 29)),
    model.similarItems(Int32Array.of(0, 5, 29)),
  );
  assert.deepEqual(fresh.similarUsers(3), model.similarUsers(3));
  // The model imported factors can be saved and loaded as any other.
  await fresh.save(join(root, "als.tacit"));
  assert.deepEqual(
    (await AlternatingLeastSquares.load(join(root, "als.tacit"))).recommend(7, plays),
    model.recommend(7, plays),
  );
});

test("BPR factors (bias columns included) round-trip through NPY to identical recommend output", async () => {
  const model = await new BayesianPersonalizedRanking({ factors: 5, iterations: 5, randomState: 2 })
    .fit(plays, { progress: false });
  const dataset = new Dataset().fit(userIds, itemIds);
  const dir = join(root, "bpr");
  await exportFactors(model, dir, { userIds: dataset.users, itemIds: dataset.items });
  const fresh = new BayesianPersonalizedRanking({ factors: 5 });
  const { users } = await importFactors(fresh, dir);
  assert.equal(fresh.factorCount, 6);
  assert.deepEqual(
    fresh.recommend(everyone, plays, { n: 8 }),
    model.recommend(everyone, plays, { n: 8 }),
  );
  assert.deepEqual(fresh.similarItems(4), model.similarItems(4));
  assert.equal(users.id("user-39"), 39);
});

test("exportFactors without ids writes no ids files (removing stale ones), and importFactors numbers rows 0..n-1", async () => {
  const model = await new AlternatingLeastSquares({ factors: 3, iterations: 1, randomState: 1 })
    .fit(plays, { progress: false });
  const dir = join(root, "plain");
  await exportFactors(model, dir, { userIds });
  assert.ok(existsSync(join(dir, "user_ids.json")));
  await exportFactors(model, dir);
  assert.ok(!existsSync(join(dir, "user_ids.json")));
  const { users, items } = await importFactors(new AlternatingLeastSquares({ factors: 3 }), dir);
  assert.deepEqual(users.externals(), Array.from({ length: 40 }, (_, u) => u));
  assert.equal(items.size, 30);
});

test("exportFactors refuses an unfitted model, ids of the wrong count and repeated ids", async () => {
  await assert.rejects(
    exportFactors(new AlternatingLeastSquares(), join(root, "x")),
    NotFittedError,
  );
  const model = await new AlternatingLeastSquares({ factors: 2, iterations: 1, randomState: 1 })
    .fit(plays, { progress: false });
  await assert.rejects(exportFactors(model, join(root, "x"), { userIds: ["a"] }), {
    name: "RangeError",
    message: "Expected userIds to have one id per row (40 users) but found 1",
  });
  const twice = [...itemIds.slice(0, 29), itemIds[0]!];
  await assert.rejects(exportFactors(model, join(root, "x"), { itemIds: twice }), {
    name: "RangeError",
    message: /itemIds\[29\] repeats 1000$/,
  });
  await assert.rejects(exportFactors({} as never, join(root, "x")), TypeError);
});

test("importFactors refuses bad files with a DataFileError naming the file, and leaves the model unchanged", async () => {
  const model = await new AlternatingLeastSquares({ factors: 2, iterations: 1, randomState: 1 })
    .fit(plays, { progress: false });
  const before = model.recommend(0, plays);
  const good = join(root, "good");
  await exportFactors(model, good, { userIds });
  const variant = async (name: string, change: (dir: string) => Promise<void> | void) => {
    const dir = join(root, name);
    await exportFactors(model, dir, { userIds });
    await change(dir);
    return dir;
  };
  const cases: [string, (dir: string) => Promise<void> | void, RegExp][] = [
    [
      "no-items",
      (d) => writeFileSync(join(d, "item_factors.npy"), "nope"),
      /item_factors\.npy.*not an NPY file/,
    ],
    [
      "int-items",
      (d) => writeNpy(join(d, "item_factors.npy"), { array: new Int32Array(60), shape: [30, 2] }),
      /float32 or float64 factors in .*item_factors\.npy but found int32/,
    ],
    [
      "1d-users",
      (d) => writeNpy(join(d, "user_factors.npy"), { array: new Float32Array(80), shape: [80] }),
      /shape \[rows >= 1, 1 <= columns <= 1024\] in .*user_factors\.npy but found \[80\]/,
    ],
    [
      "nan-users",
      (d) => {
        const data = new Float32Array(80);
        data[13] = NaN;
        return writeNpy(join(d, "user_factors.npy"), { array: data, shape: [40, 2] });
      },
      /finite factors in .*user_factors\.npy but found NaN at \[6, 1\]/,
    ],
    [
      "huge-f64",
      (d) => {
        const data = new Float64Array(80);
        data[0] = 1e300;
        return writeNpy(join(d, "user_factors.npy"), { array: data, shape: [40, 2] });
      },
      /found 1e\+300 at \[0, 0\] \(beyond float32's range\)/,
    ],
    [
      "widths",
      (d) => writeNpy(join(d, "item_factors.npy"), { array: new Float32Array(90), shape: [30, 3] }),
      /item factors in .*item_factors\.npy to have the user factors' 2 columns but found 3/,
    ],
    [
      "ids-count",
      (d) => writeFileSync(join(d, "user_ids.json"), '["a","b"]'),
      /user_ids\.json.*one id per row \(40 rows in the user factors\) but found 2/,
    ],
    [
      "ids-json",
      (d) => writeFileSync(join(d, "user_ids.json"), "[1,"),
      /JSON in ids file .*user_ids\.json/,
    ],
    [
      "ids-type",
      (d) => writeFileSync(join(d, "user_ids.json"), '{"a":1}'),
      /user_ids\.json.*IdMap or an array/,
    ],
  ];
  for (const [name, change, message] of cases) {
    const dir = await variant(name, change);
    await assert.rejects(importFactors(model, dir), (error: Error) => {
      assert.ok(error instanceof DataFileError, `${name}: ${error}`);
      assert.match(error.message, message, name);
      return true;
    });
  }
  await assert.rejects(importFactors(model, join(root, "nothing-here")), {
    name: "DataFileError",
    message: /Expected an NPY file at .*nothing-here.user_factors\.npy but found no file/,
  });
  assert.deepEqual(model.recommend(0, plays), before);
  assert.ok(readFileSync(join(good, "user_ids.json"), "utf8").startsWith('["user-0",'));
});

const noNumpy = pythonWithout(["numpy"]);

test("factors saved by NumPy (float64, np.save) import and serve what the same factors assigned directly serve", async () => {
  if (noNumpy) return console.log(`skipped: ${noNumpy}`);
  const dir = join(root, "numpy");
  python(
    `import sys, json, os, numpy as np
d = sys.argv[1]
os.makedirs(d)
rng = np.random.default_rng(4)
np.save(d + "/user_factors.npy", rng.standard_normal((40, 4)))
np.save(d + "/item_factors.npy", rng.standard_normal((30, 4)))
json.dump([f"u{k}" for k in range(40)], open(d + "/user_ids.json", "w"))`,
    [dir],
  );
  const fromNumpy = new AlternatingLeastSquares({ factors: 4 });
  const { users, items } = await importFactors(fromNumpy, dir);
  assert.equal(users.id("u17"), 17);
  assert.deepEqual(items.externals(), Array.from({ length: 30 }, (_, k) => k));
  const hex = JSON.parse(python(
    `import sys, json, numpy as np
d = sys.argv[1]
print(json.dumps([np.load(d + f).astype("<f4").tobytes().hex() for f in ["/user_factors.npy", "/item_factors.npy"]]))`,
    [dir],
  ));
  const f32 = (h: string) => new Float32Array(new Uint8Array(Buffer.from(h, "hex")).buffer);
  const direct = new AlternatingLeastSquares({ factors: 4 });
  direct.assignFactors({ data: f32(hex[0]), shape: [40, 4] }, {
    data: f32(hex[1]),
    shape: [30, 4],
  });
  assert.deepEqual(fromNumpy.recommend(everyone, plays), direct.recommend(everyone, plays));
});
