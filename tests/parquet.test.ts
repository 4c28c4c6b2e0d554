import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AlternatingLeastSquares,
  BayesianPersonalizedRanking,
  CsrMatrix,
  DataFileError,
  trainTestSplit,
} from "../mod.ts";
import {
  exportFactorsParquet,
  importFactorsParquet,
  readFactorsParquet,
  readRecommendationsParquet,
  readSplitParquet,
  writeFactorsParquet,
  writeRecommendationsParquet,
  writeSplitParquet,
} from "../parquet.ts";
import { randomMatrix } from "./reference.ts";
import { test } from "./harness.ts";
import { python, pythonWithout } from "./python.ts";

const dir = mkdtempSync(join(tmpdir(), "tacit-parquet-"));
const plays = randomMatrix(30, 25, 0.2, 8);
const everyone = Int32Array.from({ length: 30 }, (_, u) => u);
const userIds = Array.from({ length: 30 }, (_, u) => `u${u}`);
const itemIds = Array.from({ length: 25 }, (_, i) => 500 - 3 * i);
const noDuckdb = pythonWithout(["duckdb"]);

/** Rows of a DuckDB query as JSON. */
function duckdb(sql: string): unknown[] {
  return JSON.parse(python(
    `import sys, json, duckdb
rel = duckdb.sql(sys.argv[1])
print(json.dumps({"types": [str(t) for t in rel.types], "rows": rel.fetchall()}))`,
    [sql],
  )) as unknown as unknown[];
}

test("ALS and BPR factors exported to Parquet and imported into fresh models give identical recommend and similarItems", async () => {
  const als = await new AlternatingLeastSquares({ factors: 5, iterations: 2, randomState: 3 })
    .fit(plays, { progress: false });
  const bpr = await new BayesianPersonalizedRanking({ factors: 4, iterations: 3, randomState: 3 })
    .fit(plays, { progress: false });
  for (
    const [name, model, fresh] of [
      ["als", als, new AlternatingLeastSquares({ factors: 5 })],
      ["bpr", bpr, new BayesianPersonalizedRanking({ factors: 4 })],
    ] as const
  ) {
    const out = join(dir, name);
    await exportFactorsParquet(model, out, { userIds, itemIds });
    const { users, items } = await importFactorsParquet(fresh, out);
    assert.deepEqual(users.externals(), userIds, name);
    assert.deepEqual(items.externals(), itemIds, name);
    assert.deepEqual(
      fresh.recommend(everyone, plays, { n: 7 }),
      model.recommend(everyone, plays, { n: 7 }),
      name,
    );
    assert.deepEqual(
      fresh.similarItems(Int32Array.of(0, 24)),
      model.similarItems(Int32Array.of(0, 24)),
      name,
    );
  }
});

test("recommendations and splits round-trip through Parquet with external ids", async () => {
  const model = await new AlternatingLeastSquares({ factors: 3, iterations: 1, randomState: 1 })
    .fit(plays, { progress: false });
  const queried = Int32Array.of(4, 0, 29);
  const recs = model.recommend(queried, plays, { n: 3 });
  const path = join(dir, "recs.parquet");
  await writeRecommendationsParquet(path, recs, queried, { userIds, itemIds });
  const back = await readRecommendationsParquet(path);
  assert.deepEqual(back.user, ["u4", "u4", "u4", "u0", "u0", "u0", "u29", "u29", "u29"]);
  assert.deepEqual(back.rank, Int32Array.of(1, 2, 3, 1, 2, 3, 1, 2, 3));
  assert.deepEqual(back.item, Array.from(recs.ids, (i) => itemIds[i]!));
  assert.deepEqual(back.score, recs.scores);

  const split = trainTestSplit(plays, { trainPercentage: 0.7, randomState: 2 });
  const splitPath = join(dir, "split.parquet");
  await writeSplitParquet(splitPath, split);
  const table = await readSplitParquet(splitPath);
  assert.equal(table.user.length, plays.nnz);
  assert.equal(table.split.filter((s) => s === "train").length, split.train.nnz);
  const rebuilt = (side: "train" | "test") => {
    const keep = table.split.map((s, k) => s === side ? k : -1).filter((k) => k >= 0);
    return CsrMatrix.fromCoo({
      rows: keep.map((k) => table.user[k] as number),
      cols: keep.map((k) => table.item[k] as number),
      values: keep.map((k) => table.value[k]!),
      shape: [30, 25],
    });
  };
  assert.deepEqual(rebuilt("train").data, split.train.data);
  assert.deepEqual(rebuilt("test").indices, split.test.indices);
});

test("Parquet readers refuse foreign files, missing columns and malformed factors with a DataFileError naming the file", async () => {
  const cases: [string, () => Promise<unknown>, RegExp][] = [];
  writeFileSync(join(dir, "foreign.parquet"), "PAR1 but not really, just text");
  cases.push([
    "foreign.parquet",
    () => readFactorsParquet(join(dir, "foreign.parquet")),
    /does not parse/,
  ]);
  await writeRecommendationsParquet(
    join(dir, "recs-only.parquet"),
    { ids: Int32Array.of(1), scores: Float32Array.of(1), shape: [1, 1] },
    [0],
  );
  cases.push([
    "recs-only.parquet",
    () => readFactorsParquet(join(dir, "recs-only.parquet")),
    /columns id, features in .* but found user, rank, item, score \(no id, features\)/,
  ]);
  cases.push([
    "missing.parquet",
    () => readSplitParquet(join(dir, "missing.parquet")),
    /found no file/,
  ]);
  const factors = { data: Float32Array.of(1, 2, 3, 4), shape: [2, 2] as [number, number] };
  await writeFactorsParquet(join(dir, "nan.parquet"), {
    ...factors,
    data: Float32Array.of(1, NaN, 3, 4),
  });
  cases.push([
    "nan.parquet",
    () => readFactorsParquet(join(dir, "nan.parquet")),
    /found NaN at \[0, 1\]/,
  ]);
  await writeFactorsParquet(join(dir, "narrow.parquet"), {
    data: Float32Array.of(1, 2, 3),
    shape: [3, 1],
  });
  await writeFactorsParquet(join(dir, "wide.parquet"), factors);
  cases.push([
    "narrow.parquet",
    () =>
      importFactorsParquet(new AlternatingLeastSquares({ factors: 2 }), {
        users: join(dir, "wide.parquet"),
        items: join(dir, "narrow.parquet"),
      }),
    /item factors in .*narrow\.parquet to have the user factors' 2 columns but found 1/,
  ]);
  for (const [name, run, message] of cases) {
    await assert.rejects(run(), (error: Error) => {
      assert.ok(error instanceof DataFileError, `${name}: ${error}`);
      assert.match(error.message, new RegExp(name.replace(".", "\\.")), name);
      assert.match(error.message, message, name);
      return true;
    });
  }
  await assert.rejects(writeFactorsParquet(join(dir, "x.parquet"), factors, ["a", "a"]), {
    name: "RangeError",
    message: /ids\[1\] repeats 'a'/,
  });
});

test("DuckDB reads the recommendations, splits and factors written, with Spark's types (id INTEGER, features FLOAT[])", async () => {
  if (noDuckdb) return console.log(`skipped: ${noDuckdb}`);
  const model = await new AlternatingLeastSquares({ factors: 3, iterations: 1, randomState: 4 })
    .fit(plays, { progress: false });
  const recs = model.recommend(Int32Array.of(2, 3), plays, { n: 2 });
  const recsPath = join(dir, "duck-recs.parquet");
  await writeRecommendationsParquet(recsPath, recs, [2, 3], { itemIds });
  const r = duckdb(`SELECT user, rank, item, score FROM '${recsPath}'`) as unknown as {
    types: string[];
    rows: [number, number, number, number][];
  };
  assert.deepEqual(r.types, ["INTEGER", "INTEGER", "INTEGER", "FLOAT"]);
  assert.deepEqual(r.rows.map((row) => row.slice(0, 3)), [
    [2, 1, itemIds[recs.ids[0]!]],
    [2, 2, itemIds[recs.ids[1]!]],
    [3, 1, itemIds[recs.ids[2]!]],
    [3, 2, itemIds[recs.ids[3]!]],
  ]);
  assert.deepEqual(Float32Array.from(r.rows.map((row) => row[3])), recs.scores);

  const splitPath = join(dir, "duck-split.parquet");
  const split = trainTestSplit(plays, { randomState: 1 });
  await writeSplitParquet(splitPath, split, { userIds });
  const s = duckdb(
    `SELECT split, count(*), sum(value)::DOUBLE, min(user) FROM '${splitPath}' GROUP BY split ORDER BY split`,
  ) as unknown as {
    rows: [string, number, number, string][];
  };
  const sum = (m: CsrMatrix) => m.data.reduce((a, v) => a + v, 0);
  assert.deepEqual(s.rows.map((row) => row.slice(0, 2)), [["test", split.test.nnz], [
    "train",
    split.train.nnz,
  ]]);
  assert.ok(Math.abs(s.rows[1]![2] - sum(split.train)) < 1e-3);
  assert.equal(s.rows[1]![3], "u0");

  const out = join(dir, "duck-factors");
  await exportFactorsParquet(model, out, { itemIds });
  const f = duckdb(
    `SELECT id, features FROM '${join(out, "item_factors.parquet")}'`,
  ) as unknown as {
    types: string[];
    rows: [number, number[]][];
  };
  assert.deepEqual(f.types, ["INTEGER", "FLOAT[]"]);
  assert.deepEqual(f.rows.map((row) => row[0]), itemIds);
  assert.deepEqual(Float32Array.from(f.rows.flatMap((row) => row[1])), model.itemFactors.data);
});

test("a Spark-layout factor pair written by DuckDB (sparse ids, shuffled rows) imports and serves what the same factors assigned directly serve", async () => {
  if (noDuckdb) return console.log(`skipped: ${noDuckdb}`);
  const users = join(dir, "spark-users.parquet");
  const items = join(dir, "spark-items.parquet");
  // Spark's ids are the training data's ints, not 0..n-1, and its rows come in partition order.
  python(
    `import sys, duckdb
for path, n, seed in [(sys.argv[1], 30, 0.25), (sys.argv[2], 25, 0.5)]:
    duckdb.sql(f"SELECT setseed({seed})")
    duckdb.sql(f"""COPY (
      SELECT (i * 97 + 11)::INTEGER AS id,
             [((i * 7 + 3) % 11) / 11.0 - 0.5, ((i * 5 + 1) % 13) / 13.0, cos(i)::FLOAT, sin(i * 3)::FLOAT]::FLOAT[] AS features
      FROM range({n}) t(i) ORDER BY hash(i * 31 + {n})
    ) TO '{path}' (FORMAT parquet)""")`,
    [users, items],
  );
  const spark = new AlternatingLeastSquares({ factors: 4 });
  const maps = await importFactorsParquet(spark, { users, items });
  assert.equal(maps.users.size, 30);
  assert.ok(maps.items.externals().every((id) => typeof id === "number" && (id - 11) % 97 === 0));
  assert.notDeepEqual(maps.items.externals(), Array.from({ length: 25 }, (_, i) => i * 97 + 11));

  // The same factors, as DuckDB reads them back, rows by i (external id i * 97 + 11).
  const rowsOf = (path: string, n: number) => {
    const { rows } = duckdb(`SELECT id, features FROM '${path}' ORDER BY id`) as unknown as {
      rows: [number, number[]][];
    };
    assert.deepEqual(rows.map((r) => r[0]), Array.from({ length: n }, (_, i) => i * 97 + 11));
    return Float32Array.from(rows.flatMap((r) => r[1]));
  };
  const direct = new AlternatingLeastSquares({ factors: 4 });
  direct.assignFactors({ data: rowsOf(users, 30), shape: [30, 4] }, {
    data: rowsOf(items, 25),
    shape: [25, 4],
  });
  const toI = (id: number) => (id - 11) / 97;
  // A liked-items matrix in each model's own dense ids: user i liked items i and i + 1.
  const liked = (userDense: (i: number) => number, itemDense: (i: number) => number) =>
    CsrMatrix.fromCoo({
      rows: Array.from({ length: 60 }, (_, k) => userDense(k >> 1)),
      cols: Array.from({ length: 60 }, (_, k) => itemDense(((k >> 1) + (k & 1)) % 25)),
      shape: [30, 25],
    });
  const sparkLiked = liked((i) => maps.users.id(i * 97 + 11)!, (i) => maps.items.id(i * 97 + 11)!);
  const directLiked = liked((i) => i, (i) => i);
  for (let i = 0; i < 30; i++) {
    const a = spark.recommend(maps.users.id(i * 97 + 11)!, sparkLiked, { n: 6 });
    const b = direct.recommend(i, directLiked, { n: 6 });
    assert.deepEqual(
      { ids: Array.from(a.ids, (d) => toI(maps.items.external(d) as number)), scores: a.scores },
      { ids: Array.from(b.ids), scores: b.scores },
      `user ${i}`,
    );
  }
  const s = spark.similarItems(maps.items.id(11)!, { n: 5 });
  assert.deepEqual(
    Array.from(s.ids, (d) => toI(maps.items.external(d) as number)),
    Array.from(direct.similarItems(0, { n: 5 }).ids),
  );
});
