/**
 * The approximate-nearest-neighbour indexes against brute force: exact
 * results at maximum effort for every filter combination, recall floors at
 * the defaults, exactly `n` results however many items are excluded,
 * deterministic bytes over thread counts, save → load, and refusals.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AlternatingLeastSquares,
  type AnnIndex,
  CsrMatrix,
  type FactorMatrix,
  HnswIndex,
  IvfIndex,
  ProjectionForestIndex,
} from "../mod.ts";
import { nativeObjectsAlive } from "../lib/native/handle.ts";
import { bruteTopK, dot, seeded } from "./reference.ts";
import { test } from "./harness.ts";

/** Gaussian mixture rows: `clusters` centres, each row a centre plus noise, scaled norms. */
function clustered(rows: number, f: number, clusters: number, seed: number): Float32Array {
  const random = seeded(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const centres = Array.from({ length: clusters }, () => Array.from({ length: f }, gauss));
  const out = new Float32Array(rows * f);
  for (let r = 0; r < rows; r++) {
    const centre = centres[Math.floor(random() * clusters)]!;
    const scale = 0.5 + random();
    for (let d = 0; d < f; d++) out[r * f + d] = scale * (centre[d]! + 0.35 * gauss());
  }
  return out;
}

const N_ITEMS = 2000;
const F = 16;
// Over 64, so the inverted file's list-major batch path runs too (zig/ann/search.zig).
const N_QUERIES = 80;
const items: FactorMatrix = { data: clustered(N_ITEMS, F, 24, 1), shape: [N_ITEMS, F] };
const queries = clustered(N_QUERIES, F, 24, 2);

type Kind = {
  name: string;
  effort: string;
  build(rows: FactorMatrix, options?: Record<string, unknown>): Promise<AnnIndex>;
  load(path: string, rows: FactorMatrix): Promise<AnnIndex>;
  /** Recall@10 the defaults must reach on the clustered set (measured, with margin). */
  recallFloor: number;
};

const KINDS: Kind[] = [
  {
    name: "HnswIndex",
    effort: "ef",
    build: (rows, options) => HnswIndex.build(rows, options),
    load: (path, rows) => HnswIndex.load(path, rows),
    recallFloor: 0.9,
  },
  {
    name: "IvfIndex",
    effort: "nprobe",
    build: (rows, options) => IvfIndex.build(rows, options),
    load: (path, rows) => IvfIndex.load(path, rows),
    recallFloor: 0.8,
  },
  {
    name: "ProjectionForestIndex",
    effort: "searchK",
    build: (rows, options) => ProjectionForestIndex.build(rows, options),
    load: (path, rows) => ProjectionForestIndex.load(path, rows),
    recallFloor: 0.8,
  },
];

/** Every item's score against query q, in float64 (the brute-force reference). */
function scoresOf(rows: Float32Array, q: Float32Array, qi: number, cosine: boolean): number[] {
  const norm = (a: Float32Array, i: number) => Math.sqrt(dot(a, i, a, i, F)) || 1;
  return Array.from({ length: rows.length / F }, (_, j) => {
    const s = dot(q, qi, rows, j, F);
    return cosine ? s / (norm(q, qi) * norm(rows, j)) : s;
  });
}

/** Liked items per query: a few random ids, as a CSR matrix aligned with the queries. */
function likedRows(count: number, perRow: number, seed: number): CsrMatrix {
  const random = seeded(seed);
  const rows: number[] = [];
  const cols: number[] = [];
  for (let q = 0; q < count; q++) {
    const seen = new Set<number>();
    while (seen.size < perRow) seen.add(Math.floor(random() * N_ITEMS));
    for (const c of seen) {
      rows.push(q);
      cols.push(c);
    }
  }
  return CsrMatrix.fromCoo({ rows, cols, shape: [count, N_ITEMS] });
}

function randomIds(fraction: number, seed: number): Int32Array {
  const random = seeded(seed);
  const ids: number[] = [];
  for (let j = 0; j < N_ITEMS; j++) if (random() < fraction) ids.push(j);
  return Int32Array.from(ids);
}

const liked = likedRows(N_QUERIES, 20, 3);
const filterIds = randomIds(0.2, 4);
const allowIds = randomIds(0.5, 5);

/** The filter combinations of the issue: none, liked, a global list, allowed ids, all. */
const FILTERS: {
  name: string;
  options: Record<string, unknown>;
  exclude: (q: number) => Set<number>;
  only?: Set<number>;
}[] = [
  { name: "no filter", options: {}, exclude: () => new Set() },
  {
    name: "liked items",
    options: { exclude: liked },
    exclude: (q) => new Set(liked.row(q).indices),
  },
  { name: "an id list", options: { exclude: filterIds }, exclude: () => new Set(filterIds) },
  {
    name: "allowed ids",
    options: { allow: allowIds },
    exclude: () => new Set(),
    only: new Set(allowIds),
  },
  {
    name: "liked and allowed",
    options: { exclude: liked, allow: allowIds },
    exclude: (q) => new Set(liked.row(q).indices),
    only: new Set(allowIds),
  },
];

function recallAt(found: Int32Array, truth: Int32Array, n: number): number {
  let hits = 0;
  for (let q = 0; q < found.length / n; q++) {
    const want = new Set(truth.subarray(q * n, (q + 1) * n));
    for (const id of found.subarray(q * n, (q + 1) * n)) if (want.has(id)) hits++;
  }
  return hits / truth.length;
}

for (const kind of KINDS) {
  for (const metric of ["ip", "cosine"] as const) {
    test(`${kind.name} (${metric}) at its maximum effort returns the brute-force top 10 for every filter combination`, async () => {
      using index = await kind.build(items, { metric });
      const exact = await kind.build(items, { metric }); // a second build: also the exact strategy's baseline
      try {
        for (const filter of FILTERS) {
          const options = {
            ...filter.options,
            [kind.effort]: index.maxEffort,
            strategy: "index" as const,
          };
          const found = index.search(queries, 10, options);
          const scan = exact.search(queries, 10, { ...filter.options, strategy: "exact" });
          assert.deepEqual(found.ids, scan.ids, `${filter.name}: ids equal the exact scan's`);
          assert.deepEqual(
            found.scores,
            scan.scores,
            `${filter.name}: scores equal the exact scan's bit for bit`,
          );
          for (let q = 0; q < N_QUERIES; q++) {
            const want = bruteTopK(
              scoresOf(items.data, queries, q, metric === "cosine"),
              10,
              filter.exclude(q),
              filter.only,
            );
            assert.deepEqual(
              Array.from(found.ids.subarray(q * 10, q * 10 + 10)),
              want.ids,
              `${filter.name}, query ${q}`,
            );
            for (let r = 0; r < 10; r++) {
              assert.ok(
                Math.abs(found.scores[q * 10 + r]! - want.scores[r]!) <
                  1e-4 * (1 + Math.abs(want.scores[r]!)),
              );
            }
          }
        }
      } finally {
        exact.dispose();
      }
    });
  }

  test(`${kind.name}'s defaults reach recall@10 >= ${kind.recallFloor} on clustered factors`, async () => {
    using index = await kind.build(items);
    const found = index.search(queries, 10, { strategy: "index" });
    const truth = index.search(queries, 10, { strategy: "exact" });
    const recall = recallAt(found.ids, truth.ids, 10);
    assert.ok(recall >= kind.recallFloor, `recall@10 = ${recall.toFixed(3)}`);
  });

  test(`${kind.name} returns exactly n results with 0%, 50%, 90% and 99% of the items excluded`, async () => {
    using index = await kind.build(items);
    for (const fraction of [0, 0.5, 0.9, 0.99]) {
      const excluded = randomIds(fraction, 7);
      const admissible = N_ITEMS - excluded.length;
      const n = Math.min(10, admissible);
      for (const options of [{ exclude: excluded }, { allow: randomIds(1 - fraction, 8) }]) {
        const found = index.search(queries, 10, options);
        assert.equal(
          found.shape[1],
          Math.min(10, "allow" in options ? options.allow!.length : admissible),
        );
        const banned = new Set("exclude" in options ? options.exclude : []);
        const allowed = "allow" in options ? new Set(options.allow) : undefined;
        for (const id of found.ids) {
          assert.ok(id >= 0, `${fraction}: no padding while ${n} admissible items exist`);
          assert.ok(!banned.has(id) && (allowed === undefined || allowed.has(id)));
        }
        const truth = index.search(queries, 10, { ...options, strategy: "exact" });
        const recall = recallAt(found.ids, truth.ids, found.shape[1]);
        assert.ok(recall >= 0.8, `${fraction} excluded: recall ${recall.toFixed(3)}`);
      }
    }
  });

  test(`${kind.name}: the same seed gives the same bytes on 1 and 2 threads, and save → load searches identically`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "tacit-ann-"));
    try {
      using one = await kind.build(items, { numThreads: 1, randomState: 9 });
      using two = await kind.build(items, { numThreads: 2, randomState: 9 });
      await one.save(join(dir, "one.tacit"));
      await two.save(join(dir, "two.tacit"));
      assert.deepEqual(readFileSync(join(dir, "one.tacit")), readFileSync(join(dir, "two.tacit")));
      using other = await kind.build(items, { randomState: 10 });
      await other.save(join(dir, "other.tacit"));
      if (kind.name !== "IvfIndex" || N_ITEMS > 0) {
        assert.notDeepEqual(
          readFileSync(join(dir, "one.tacit")),
          readFileSync(join(dir, "other.tacit")),
        );
      }
      using back = await kind.load(join(dir, "one.tacit"), items);
      assert.equal(back.metric, one.metric);
      assert.deepEqual(back.parameters, one.parameters);
      const options = { exclude: liked };
      assert.deepEqual(back.search(queries, 10, options), one.search(queries, 10, options));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`${kind.name} refuses bad input, naming the argument`, async () => {
    await assert.rejects(
      kind.build(items, { metric: "l2" }),
      /Expected metric to be one of 'ip', 'cosine' but found 'l2'/,
    );
    await assert.rejects(kind.build(items, { colour: 1 }), /found 'colour'/);
    await assert.rejects(
      kind.build({ data: new Float32Array(10), shape: [3, 4] }),
      /items.data to have 12 elements/,
    );
    await assert.rejects(
      kind.build({ data: new Float32Array(0), shape: [0, 4] }),
      /items.shape to be \[rows >= 1/,
    );
    await assert.rejects(kind.build(Float32Array.of(1, 2) as never), /items to be a factor matrix/);
    const nan = items.data.slice();
    nan[5 * F + 3] = Number.NaN;
    await assert.rejects(
      kind.build({ data: nan, shape: [N_ITEMS, F] }),
      /items to be finite but found NaN at row 5, factor 3/,
    );
    using index = await kind.build(items);
    assert.throws(() => index.search(queries, 0), /n to be a positive integer but found 0/);
    assert.throws(() => index.search(queries.subarray(1), 10), /multiple of 16 values/);
    assert.throws(() => index.search({ data: queries, shape: [N_QUERIES, 8] }, 10), /\[rows, 16\]/);
    const badQuery = queries.slice(0, F);
    badQuery[2] = Number.POSITIVE_INFINITY;
    assert.throws(
      () => index.search(badQuery, 10),
      /queries to be finite but found Infinity at query 0, factor 2/,
    );
    assert.throws(
      () => index.search(queries, 10, { exclude: [N_ITEMS] }),
      /exclude\[0\] = 2000 is out of range/,
    );
    assert.throws(
      () => index.search(queries, 10, { allow: [-1] }),
      /allow\[0\] = -1 is out of range/,
    );
    assert.throws(
      () => index.search(queries, 10, { exclude: CsrMatrix.empty([3, N_ITEMS]) }),
      /exclude to be \[80, 2000\] \(one row per query/,
    );
    assert.throws(
      () => index.search(queries, 10, { [kind.effort]: 0 }),
      new RegExp(`${kind.effort} to be an integer in 1\\.\\.`),
    );
    assert.throws(
      () => index.search(queries, 10, { strategy: "fast" } as never),
      /strategy to be one of/,
    );
    assert.throws(() => index.search(queries, 10, { colour: 1 } as never), /found 'colour'/);
    const dir = mkdtempSync(join(tmpdir(), "tacit-ann-"));
    try {
      const path = join(dir, "index.tacit");
      await index.save(path);
      const other = { data: items.data.map((v) => v + 1), shape: items.shape };
      await assert.rejects(
        kind.load(path, other),
        /fingerprint .*rebuild the index for these factors/,
      );
      await assert.rejects(
        kind.load(path, { data: items.data.subarray(0, 100 * F), shape: [100, F] }),
        /built over \[2000, 16\]/,
      );
      const bytes = readFileSync(path);
      writeFileSync(join(dir, "short.tacit"), bytes.subarray(0, bytes.length - 100));
      await assert.rejects(kind.load(join(dir, "short.tacit"), items), /truncated/);
      writeFileSync(join(dir, "foreign.tacit"), "not an index");
      await assert.rejects(
        kind.load(join(dir, "foreign.tacit"), items),
        /does not start with the tacit magic/,
      );
      const otherKind = KINDS.find((k) => k !== kind)!;
      await assert.rejects(
        otherKind.load(path, items),
        /Expected a (hnsw|ivf|forest) index in .* but found/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    index.dispose();
    assert.throws(() => index.search(queries, 10), /was disposed/);
  });

  test(`${kind.name}: an aborted build rejects with the signal's reason and frees its native memory`, async () => {
    const before = nativeObjectsAlive();
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await assert.rejects(kind.build(items, { signal: controller.signal }), /stop/);
    const late = new AbortController();
    const building = kind.build(items, { signal: late.signal });
    late.abort(new Error("late stop"));
    await assert.rejects(building, /late stop/);
    assert.equal(nativeObjectsAlive(), before);
  });
}

test("models route recommend, similarItems and similarUsers through their indexes, with the exact path's filters and scores", async () => {
  const users = clustered(40, F, 24, 11);
  const model = new AlternatingLeastSquares({ factors: F });
  model.assignFactors({ data: users, shape: [40, F] }, items);
  const plays = likedRows(40, 15, 12);
  for (const kind of ["hnsw", "ivf", "forest"] as const) {
    const effortName = { hnsw: "ef", ivf: "nprobe", forest: "searchK" }[kind];
    const built = await model.buildIndexes({ kind, similarUsers: true });
    assert.equal(built.recommend!.metric, "ip");
    assert.equal(built.similarItems!.metric, "cosine");
    assert.equal(built.similarUsers!.nItems, 40);
    const ids = Int32Array.from({ length: 40 }, (_, k) => k);
    const filterItems = filterIds;
    const exact = model.recommend(ids, plays, { n: 10, filterItems, index: null });
    const routed = model.recommend(ids, plays, { n: 10, filterItems });
    assert.ok(recallAt(routed.ids, exact.ids, 10) >= 0.8, `${kind}: recommend recall`);
    for (const [q, id] of routed.ids.entries()) {
      assert.ok(!plays.row(Math.floor(q / 10)).indices.includes(id) && !filterIds.includes(id));
    }
    const exactSimilar = model.similarItems(ids, { n: 5, index: null });
    const routedSimilar = model.similarItems(ids, { n: 5 });
    assert.ok(
      recallAt(routedSimilar.ids, exactSimilar.ids, 5) >= 0.8,
      `${kind}: similarItems recall`,
    );
    assert.equal(routedSimilar.ids[0], 0, "an item is its own nearest neighbour");
    assert.equal(model.similarUsers(3, { n: 3 }).ids[0], 3);
    // A recall-1 setting of the attached index: identical to exact.
    const max = built.recommend!.maxEffort;
    const atMax = built.recommend!.search({ data: users, shape: [40, F] }, 10, {
      exclude: plays,
      [effortName]: max,
      strategy: "index",
    } as never);
    const exactAll = model.recommend(ids, plays, { n: 10, index: null });
    assert.deepEqual(atMax.ids, exactAll.ids);
    assert.deepEqual(atMax.scores, exactAll.scores);
  }
  // Stale after the factors change; detached by useIndex(null).
  const attached = model.indexes.recommend!;
  model.assignFactors({ data: users, shape: [40, F] }, items);
  assert.throws(() => model.recommend(0, plays), /no longer has .* rebuild it/);
  model.useIndex(null);
  assert.equal(model.recommend(0, plays).ids.length, 10);
  // The same values again: the index still serves them; other values: refused.
  model.useIndex(attached);
  assert.equal(model.indexes.recommend, attached);
  model.assignFactors({ data: users, shape: [40, F] }, {
    data: items.data.map((v) => -v),
    shape: items.shape,
  });
  assert.throws(() => model.useIndex(attached), /built from other rows of the same shape/);
  model.assignFactors({ data: users, shape: [40, F] }, items);
  using cosine = await HnswIndex.build(model.itemFactors, { metric: "cosine" });
  assert.throws(
    () => model.useIndex(cosine, "recommend"),
    /metric 'ip' for recommend\(\) but found one of metric 'cosine'/,
  );
  using small = await HnswIndex.build({ data: items.data.subarray(0, 10 * F), shape: [10, F] });
  assert.throws(
    () => model.useIndex(small),
    /index over \[2000, 16\] \(the model's item factors\)/,
  );
  using fresh = await HnswIndex.build(model.itemFactors);
  model.useIndex(fresh);
  assert.equal(model.indexes.recommend, fresh);
  await assert.rejects(
    model.buildIndexes({ kind: "annoy" as never }),
    /kind to be one of 'hnsw', 'ivf', 'forest'/,
  );
  await assert.rejects(model.buildIndexes({ kind: "hnsw", metric: "ip" }), /without 'metric'/);
  assert.throws(
    () => model.recommend(0, plays, { index: 5 as never }),
    /index to be an HnswIndex, IvfIndex or ProjectionForestIndex/,
  );
});

test("calibrate() finds the effort for the recall asked for, or plans exact top-k when that is faster", async () => {
  for (const kind of KINDS) {
    using index = await kind.build(items);
    const plan = index.calibrate(queries, { recall: 0.97 });
    assert.equal(plan.recall, 0.97);
    assert.equal(index.plan, plan);
    assert.ok(plan.effort >= 1 && plan.effort <= index.maxEffort);
    assert.ok(plan.indexQps > 0 && plan.exactQps > 0);
    const found = index.search(queries, 10);
    const truth = index.search(queries, 10, { strategy: "exact" });
    if (plan.exact) {
      assert.deepEqual(found, truth, `${kind.name}: a plan of exact searches exactly`);
    } else {
      assert.ok(plan.measuredRecall >= 0.97, `${kind.name}: ${plan.measuredRecall}`);
      assert.ok(recallAt(found.ids, truth.ids, 10) >= 0.97);
    }
    assert.throws(
      () => index.calibrate(queries, { recall: 0 }),
      /Expected recall to be a finite number > 0 .*but found 0/,
    );
    assert.throws(() => index.calibrate(queries, { recal: 0.9 } as never), /found 'recal'/);
  }
});
