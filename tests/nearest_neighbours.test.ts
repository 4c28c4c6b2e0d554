import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rankingMetricsAtK } from "../lib/evaluation/metrics.ts";
import { trainTestSplit } from "../lib/evaluation/split.ts";
import { TacitFileError } from "../lib/io/format.ts";
import {
  BM25Recommender,
  CosineRecommender,
  ItemItemRecommender,
  type NearestNeighboursRecommender,
  TFIDFRecommender,
} from "../lib/models/nearest_neighbours.ts";
import type { Ranked, RankedBatch } from "../lib/models/query.ts";
import { CsrMatrix } from "../lib/sparse.ts";
import { bruteTopK, randomMatrix, toRows } from "./reference.ts";
import { test } from "./harness.ts";

const quiet = { progress: false } as const;
const nUsers = 60;
const nItems = 45;
/** Integer values 1..5, about 15% dense: many exact ties in raw co-occurrence. */
const plays = randomMatrix(nUsers, nItems, 0.15, 11);
const X = toRows(plays);

// ---------------------------------------------------------------------------
// Dense references, written from implicit's definitions (no code shared with lib/):
// W is the weighted users × items matrix, S = Wᵀ W.

type Dense = number[][];

function columnNorms(W: Dense): number[] {
  return Array.from(
    { length: nItems },
    (_, i) => Math.sqrt(W.reduce((s, row) => s + row[i]! ** 2, 0)),
  );
}

function scaleColumns(W: Dense): Dense {
  const norms = columnNorms(W);
  return W.map((row) => row.map((v, i) => (norms[i]! === 0 ? 0 : v / norms[i]!)));
}

/** idf of each user, items being the documents: ln(nItems) − ln(1 + items the user has). */
function userIdf(X: Dense): number[] {
  return X.map((row) => Math.log(nItems) - Math.log(1 + row.filter((v) => v !== 0).length));
}

const references: Record<string, (X: Dense) => Dense> = {
  itemitem: (X) => X,
  cosine: (X) => scaleColumns(X),
  tfidf: (X) => {
    const idf = userIdf(X);
    return scaleColumns(X.map((row, u) => row.map((v) => Math.sqrt(v) * idf[u]!)));
  },
  bm25: (X) => {
    const k1 = 1.2;
    const b = 0.75;
    const idf = userIdf(X);
    const lengths = Array.from({ length: nItems }, (_, i) => X.reduce((s, row) => s + row[i]!, 0));
    const mean = lengths.reduce((a, c) => a + c, 0) / nItems;
    return X.map((row, u) =>
      row.map((v, i) => {
        if (v === 0) return 0;
        const lengthNorm = 1 - b + (b * lengths[i]!) / mean;
        return ((v * (k1 + 1)) / (k1 * lengthNorm + v)) * idf[u]!;
      })
    );
  },
};

/** S[i][j] = Σ_u W[u][i] W[u][j], and whether i and j share a user (a candidate neighbour). */
function similarityOf(W: Dense, X: Dense): { S: Dense; shares: boolean[][] } {
  const S = Array.from({ length: nItems }, () => new Array<number>(nItems).fill(0));
  const shares = Array.from({ length: nItems }, () => new Array<boolean>(nItems).fill(false));
  W.forEach((row, u) => {
    for (let i = 0; i < nItems; i++) {
      if (X[u]![i] === 0) continue;
      for (let j = 0; j < nItems; j++) {
        if (X[u]![j] === 0) continue;
        S[i]![j]! += row[i]! * row[j]!;
        shares[i]![j] = true;
      }
    }
  });
  return { S, shares };
}

function makeModel(kind: string, k: number): NearestNeighboursRecommender {
  switch (kind) {
    case "itemitem":
      return new ItemItemRecommender({ k });
    case "cosine":
      return new CosineRecommender({ k });
    case "tfidf":
      return new TFIDFRecommender({ k });
    default:
      return new BM25Recommender({ k, k1: 1.2, b: 0.75 });
  }
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));

/**
 * Checks a ranked list against reference scores: the right length, scores
 * matching the reference, best first with ties by id, and nothing left out that
 * ranks above the last kept entry. `exact` also requires the ids to equal a
 * brute-force top-n (for integer data, where float32 sums are exact).
 */
function assertTop(
  ids: ArrayLike<number>,
  scores: ArrayLike<number>,
  reference: number[],
  eligible: number[],
  n: number,
  exact: boolean,
  label: string,
): void {
  assert.equal(ids.length, Math.min(n, eligible.length), `${label}: length`);
  if (exact) {
    const only = new Set(eligible);
    const expected = bruteTopK(reference, n, new Set(), only);
    assert.deepEqual(Array.from(ids), expected.ids, `${label}: ids`);
    assert.deepEqual(Array.from(scores), expected.scores.map(Math.fround), `${label}: scores`);
    return;
  }
  const kept = new Set<number>();
  for (let r = 0; r < ids.length; r++) {
    const id = ids[r]!;
    assert.ok(eligible.includes(id), `${label}: ${id} is not eligible`);
    assert.ok(
      close(scores[r]!, reference[id]!),
      `${label}: score of ${id} is ${scores[r]} but expected ${reference[id]}`,
    );
    if (r > 0) {
      const previous = scores[r - 1]!;
      assert.ok(
        previous > scores[r]! || (previous === scores[r]! && ids[r - 1]! < id),
        `${label}: order at ${r}`,
      );
    }
    kept.add(id);
  }
  if (ids.length === 0) return;
  const last = reference[ids[ids.length - 1]!]!;
  for (const j of eligible) {
    if (!kept.has(j)) {
      assert.ok(
        reference[j]! <= last + 1e-5 * Math.max(1, Math.abs(last)),
        `${label}: ${j} (${reference[j]}) beats the last kept (${last})`,
      );
    }
  }
}

for (const kind of Object.keys(references)) {
  test(`${kind}: similarity equals a dense top-k of the weighted Wᵀ W, rows sorted by id`, async () => {
    const { S, shares } = similarityOf(references[kind]!(X), X);
    for (const k of [1, 5, 20, 100]) {
      const model = await makeModel(kind, k).fit(plays, quiet);
      const similarity = model.similarity;
      assert.deepEqual(similarity.shape, [nItems, nItems]);
      assert.equal(model.nUsers, nUsers);
      assert.equal(model.nItems, nItems);
      for (let i = 0; i < nItems; i++) {
        const row = similarity.row(i);
        const candidates = Array.from({ length: nItems }, (_, j) => j).filter((j) => shares[i]![j]);
        for (let p = 1; p < row.indices.length; p++) {
          assert.ok(row.indices[p - 1]! < row.indices[p]!);
        }
        // Best first, then the same checks as for a ranked list.
        const order = [...row.indices.keys()].sort((a, b) =>
          row.data[b]! - row.data[a]! || row.indices[a]! - row.indices[b]!
        );
        assertTop(
          order.map((p) => row.indices[p]!),
          order.map((p) => row.data[p]!),
          S[i]!,
          candidates,
          k,
          kind === "itemitem",
          `${kind} k=${k} row ${i}`,
        );
      }
    }
  });
}

test("the diagonal is kept: cosine similarItems(i) starts with i at score 1", async () => {
  const model = await new CosineRecommender({ k: 10 }).fit(plays, quiet);
  for (let i = 0; i < nItems; i++) {
    if (plays.transpose().row(i).indices.length === 0) continue;
    const similar = model.similarItems(i, { n: 3 });
    assert.equal(similar.ids[0], i);
    assert.ok(Math.abs(similar.scores[0]! - 1) < 1e-6);
  }
});

test("ties are broken by item id in fit, recommend and similarItems", async () => {
  // Items 3 and 7 have identical columns, so every similarity to them is equal
  // bit for bit; item 5 is liked by everyone, so it reaches every item.
  const rows: number[][] = X.map((row) => [...row]);
  rows.forEach((row, u) => {
    row[7] = row[3]!;
    row[5] = 1 + (u % 3);
  });
  const dup = CsrMatrix.fromDense(rows, nItems);
  for (
    const model of [
      new CosineRecommender({ k: 4 }),
      new BM25Recommender({ k: 4 }),
      new ItemItemRecommender({ k: 4 }),
    ]
  ) {
    await model.fit(dup, quiet);
    for (let i = 0; i < nItems; i++) {
      const row = model.similarity.row(i);
      const at3 = row.indices.indexOf(3);
      const at7 = row.indices.indexOf(7);
      if (at7 >= 0) {
        assert.ok(at3 >= 0, `${model.kind} row ${i} keeps 7 but not 3`);
        assert.equal(row.data[at3], row.data[at7]);
        const similar = model.similarItems(i, { n: 10 });
        assert.ok([...similar.ids].indexOf(3) < [...similar.ids].indexOf(7));
      }
    }
  }
  // With every neighbour kept, S[i][3] = S[i][7] in every row, so scores tie exactly.
  for (const model of [new CosineRecommender({ k: nItems }), new TFIDFRecommender({ k: nItems })]) {
    await model.fit(dup, quiet);
    for (let u = 0; u < nUsers; u++) {
      const ranked = model.recommend(u, dup, { n: nItems, filterAlreadyLiked: false });
      const ids = [...ranked.ids];
      assert.ok(ids.indexOf(3) < ids.indexOf(7), `${model.kind} user ${u}`);
      assert.equal(ranked.scores[ids.indexOf(3)], ranked.scores[ids.indexOf(7)]);
    }
  }
});

// ---------------------------------------------------------------------------
// recommend: brute force from the model's own similarity matrix.

/** score[j] = Σ_{i in row u} x_ui S[i][j] over the stored similarity, in float64. */
function bruteScores(similarity: CsrMatrix, userItems: CsrMatrix, u: number): number[] {
  const S = toRows(similarity);
  const scores = new Array<number>(similarity.nCols).fill(0);
  const { indices, data } = userItems.row(u);
  indices.forEach((i, p) => S[i]!.forEach((s, j) => (scores[j]! += data[p]! * s)));
  return scores;
}

const filterItems = [0, 5, 7, 44];
const subset = [40, 3, 5, 9, 12, 13, 21, 22, 30, 31, 44, 3];
interface RecommendCase {
  name: string;
  options: { filterAlreadyLiked?: boolean; filterItems?: number[]; items?: number[] };
  liked: boolean;
  filter: number[];
  only: number[] | undefined;
}
const recommendCases: RecommendCase[] = [
  {
    name: "no filter",
    options: { filterAlreadyLiked: false },
    liked: false,
    filter: [],
    only: undefined,
  },
  { name: "liked items left out", options: {}, liked: true, filter: [], only: undefined },
  {
    name: "filterItems",
    options: { filterAlreadyLiked: false, filterItems },
    liked: false,
    filter: filterItems,
    only: undefined,
  },
  {
    name: "every filter and a subset",
    options: { filterItems, items: subset },
    liked: true,
    filter: filterItems,
    only: subset,
  },
];

function eligibleItems(u: number, c: RecommendCase): number[] {
  const liked = new Set(c.liked ? plays.row(u).indices : []);
  return Array.from({ length: nItems }, (_, j) => j).filter((j) =>
    !liked.has(j) && !c.filter.includes(j) && (c.only === undefined || c.only.includes(j))
  );
}

for (const kind of Object.keys(references)) {
  for (const c of recommendCases) {
    test(`${kind}: recommend() equals the brute-force weighted sum with ${c.name}, single and batch`, async () => {
      const model = await makeModel(kind, 8).fit(plays, quiet);
      const n = 12;
      const users = Int32Array.from({ length: nUsers }, (_, u) => nUsers - 1 - u);
      const batch: RankedBatch = model.recommend(users, plays, { n, ...c.options });
      const width = Math.min(n, c.only === undefined ? nItems : new Set(c.only).size);
      assert.deepEqual(batch.shape, [nUsers, width]);
      users.forEach((u, row) => {
        const reference = bruteScores(model.similarity, plays, u);
        const eligible = eligibleItems(u, c);
        const single: Ranked = model.recommend(u, plays, { n, ...c.options });
        assertTop(
          single.ids,
          single.scores,
          reference,
          eligible,
          n,
          kind === "itemitem",
          `${kind} user ${u}`,
        );
        const kept = single.ids.length;
        assert.equal(kept, Math.min(n, eligible.length), "exactly n results when n items remain");
        assert.deepEqual(batch.ids.subarray(row * width, row * width + kept), single.ids);
        assert.deepEqual(batch.scores.subarray(row * width, row * width + kept), single.scores);
        for (let pad = kept; pad < width; pad++) {
          assert.equal(batch.ids[row * width + pad], -1);
          assert.equal(batch.scores[row * width + pad], Number.NEGATIVE_INFINITY);
        }
      });
    });
  }
}

test("recommend() ranks unreached items at score 0 after positive ones, by id", async () => {
  // User 0 likes only item 0, which co-occurs with nothing else: every other item scores 0.
  const lonely = CsrMatrix.fromDense([[1, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 1, 1, 0]], 5);
  const model = await new ItemItemRecommender().fit(lonely, quiet);
  const ranked = model.recommend(0, lonely, { n: 3 });
  assert.deepEqual([...ranked.ids], [1, 2, 3]);
  assert.deepEqual([...ranked.scores], [0, 0, 0]);
  const second = model.recommend(1, lonely, { n: 10 });
  assert.deepEqual([...second.ids], [3, 0, 4]); // item 3 reached through item 2; then zeros by id
  assert.ok(second.scores[0]! > 0);
  assert.equal(model.recommend(1, lonely, { n: 10, filterItems: [0, 3, 4] }).ids.length, 0);
  assert.deepEqual(
    model.recommend([0, 1], lonely, { n: 4, items: [4, 1] }).ids,
    Int32Array.of(1, 4, 4, -1),
  );
});

test("similarItems() returns the stored neighbours best first, with filterItems and items", async () => {
  const model = await new BM25Recommender({ k: 6 }).fit(plays, quiet);
  const batch = model.similarItems(Int32Array.from({ length: nItems }, (_, i) => i), {
    n: 10,
    filterItems: [2, 9],
    items: subset,
  });
  assert.deepEqual(batch.shape, [nItems, 10]);
  for (let i = 0; i < nItems; i++) {
    const row = model.similarity.row(i);
    const expected = [...row.indices.keys()]
      .filter((p) => ![2, 9].includes(row.indices[p]!) && subset.includes(row.indices[p]!))
      .sort((a, b) => row.data[b]! - row.data[a]! || row.indices[a]! - row.indices[b]!);
    const single = model.similarItems(i, { n: 10, filterItems: [2, 9], items: subset });
    assert.deepEqual([...single.ids], expected.map((p) => row.indices[p]!));
    assert.deepEqual([...single.scores], expected.map((p) => row.data[p]!));
    assert.deepEqual(batch.ids.subarray(i * 10, i * 10 + single.ids.length), single.ids);
    for (let pad = single.ids.length; pad < 10; pad++) assert.equal(batch.ids[i * 10 + pad], -1);
    assert.ok(model.similarItems(i, { n: 100 }).ids.length <= 6, "at most k stored neighbours");
  }
});

test("save() then load() round-trips every model", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tacit-knn-"));
  try {
    const cases = [
      [new ItemItemRecommender({ k: 7, numThreads: 1 }), ItemItemRecommender.load],
      [new CosineRecommender({ k: 5 }), CosineRecommender.load],
      [new TFIDFRecommender({ k: 9 }), TFIDFRecommender.load],
      [new BM25Recommender({ k: 4, k1: 3, b: 0.5 }), BM25Recommender.load],
    ] as const;
    for (const [model, load] of cases) {
      await model.fit(plays, quiet);
      const path = join(dir, `${model.kind}.tacit`);
      await model.save(path);
      const loaded: NearestNeighboursRecommender = await load(path);
      assert.equal(loaded.constructor, model.constructor);
      assert.equal(loaded.k, model.k);
      assert.equal(loaded.numThreads, model.numThreads);
      assert.equal(loaded.nUsers, nUsers);
      assert.equal(loaded.nItems, nItems);
      assert.deepEqual(loaded.similarity.indptr, model.similarity.indptr);
      assert.deepEqual(loaded.similarity.indices, model.similarity.indices);
      assert.deepEqual(loaded.similarity.data, model.similarity.data);
      assert.deepEqual(
        loaded.recommend([1, 2, 3], plays, { n: 5 }),
        model.recommend([1, 2, 3], plays, { n: 5 }),
      );
      if (model instanceof BM25Recommender) {
        assert.equal((loaded as BM25Recommender).k1, 3);
        assert.equal((loaded as BM25Recommender).b, 0.5);
      }
    }
    await assert.rejects(CosineRecommender.load(join(dir, "bm25.tacit")), TacitFileError);
    await assert.rejects(
      new ItemItemRecommender().save(join(dir, "unfitted.tacit")),
      /save\(\) needs a fitted model/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad inputs are refused with errors naming the argument", async () => {
  assert.throws(() => new ItemItemRecommender({ k: 0 }), {
    name: "RangeError",
    message: /Expected k to be a positive integer but found 0/,
  });
  assert.throws(() => new CosineRecommender({ k: 2.5 }), RangeError);
  assert.throws(() => new TFIDFRecommender({ k: "3" as unknown as number }), TypeError);
  assert.throws(() => new ItemItemRecommender({ numThreads: -1 }), /numThreads/);
  assert.throws(() => new BM25Recommender({ k1: Number.NaN }), {
    name: "RangeError",
    message: /Expected k1 .* but found NaN/,
  });
  assert.throws(() => new BM25Recommender({ b: -0.1 }), {
    name: "RangeError",
    message: /Expected b to be .* but found -0.1/,
  });
  assert.throws(() => new BM25Recommender({ b: 1.5 }), /Expected b/);

  const model = new ItemItemRecommender({ k: 5 });
  assert.throws(() => model.recommend(0, plays), /recommend\(\) needs a fitted model/);
  assert.throws(() => model.similarity, /similarity needs a fitted model/);
  await assert.rejects(model.fit([[1]] as unknown as CsrMatrix), {
    name: "TypeError",
    message: /Expected userItems to be a CsrMatrix/,
  });
  await assert.rejects(
    new TFIDFRecommender().fit(CsrMatrix.fromDense([[1, -2], [0, 1]]), quiet),
    { name: "RangeError", message: /non-negative/ },
  );
  await model.fit(plays, quiet);

  const narrow = randomMatrix(nUsers, nItems - 1, 0.1, 5);
  assert.throws(() => model.recommend(0, narrow), {
    name: "RangeError",
    message: `userItems has ${nItems - 1} columns but the model has ${nItems} items`,
  });
  assert.throws(() => model.recommend(nUsers, plays), {
    name: "RangeError",
    message: /userid = 60 is out of range/,
  });
  assert.throws(() => model.recommend([0, -1], plays), {
    name: "RangeError",
    message: /userid\[1\] = -1/,
  });
  assert.throws(() => model.recommend(0, plays, { n: 0 }), {
    name: "RangeError",
    message: /Expected n to be a positive integer/,
  });
  assert.throws(() => model.recommend(0, plays, { filterItems: [nItems] }), {
    name: "RangeError",
    message: /filterItems\[0\] = 45/,
  });
  assert.throws(() => model.recommend(0, plays, { items: [1, 2.5] }), {
    name: "RangeError",
    message: /items\[1\] = 2.5/,
  });
  assert.throws(
    () => model.recommend(0, plays, { filterAlreadyLiked: "yes" as unknown as boolean }),
    { name: "TypeError", message: /filterAlreadyLiked/ },
  );
  assert.throws(() => model.recommend(0, { shape: [1, 45] } as unknown as CsrMatrix), {
    name: "TypeError",
    message: /Expected userItems to be a CsrMatrix/,
  });
  assert.throws(() => model.similarItems(nItems), {
    name: "RangeError",
    message: /itemid = 45 is out of range for a model with 45 items/,
  });
  assert.throws(() => model.similarItems([0], { filterItems: [99] }), /filterItems\[0\] = 99/);
});

test("fit() honours an AbortSignal and leaves the model unchanged", async () => {
  const model = await new CosineRecommender({ k: 3 }).fit(plays, quiet);
  const before = model.similarity;
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(
    model.fit(randomMatrix(10, 12, 0.3, 4), { ...quiet, signal: controller.signal }),
  );
  assert.equal(model.similarity, before);
});

test("fit() refuses a matrix with no entry, and a model on a one-entry matrix works", async () => {
  for (const shape of [[3, 4], [0, 0]] as const) {
    await assert.rejects(
      new ItemItemRecommender().fit(CsrMatrix.empty(shape), quiet),
      /Expected userItems to have at least one stored entry but found none/,
    );
  }
  const one = CsrMatrix.fromCoo({ rows: [2], cols: [3], shape: [3, 4] });
  const tiny = await new BM25Recommender().fit(one, quiet);
  assert.equal(tiny.similarity.nnz, 1);
  assert.deepEqual([...tiny.recommend(1, one, { n: 2 }).ids], [0, 1]);
  assert.deepEqual([...tiny.similarItems(3).ids], [3]);
  assert.equal(tiny.similarItems(2).ids.length, 0);
});

test("rankingMetricsAtK runs on a fitted neighbour model", async () => {
  const data = randomMatrix(120, 80, 0.12, 21);
  const { train, test: held } = trainTestSplit(data, { trainPercentage: 0.8, randomState: 3 });
  for (const model of [new ItemItemRecommender({ k: 10 }), new BM25Recommender({ k: 10 })]) {
    await model.fit(train, quiet);
    const metrics = await rankingMetricsAtK(model, train, held, { k: 5, progress: false });
    assert.ok(metrics.users > 0);
    for (const value of [metrics.precision, metrics.map, metrics.ndcg, metrics.auc, metrics.mrr]) {
      assert.ok(Number.isFinite(value) && value >= 0 && value <= 1);
    }
    const perUser = await rankingMetricsAtK(model, train, held, {
      k: 5,
      perUser: true,
      progress: false,
    });
    assert.equal(perUser.users.length, metrics.users);
  }
});
