/**
 * The evaluation workflow end to end, on generated data in the exact
 * lastfm-360K format: write `usersha1-artmbid-artname-plays.tsv` → load it
 * (streaming) → split → bm25 weight → ALS → `rankingMetricsAtK`, printed as a
 * table next to a most-popular baseline, then the top artists for a user by name.
 *
 *   deno run -A examples/lastfm_evaluation.ts      (or: bun examples/lastfm_evaluation.ts)
 */
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AlternatingLeastSquares,
  bm25Weight,
  type CsrMatrix,
  listeningDataset,
  rankingMetricsAtK,
  type RankingModel,
  readLastfm360k,
  trainTestSplit,
} from "../mod.ts";
import type { RankedBatch } from "../lib/models/query.ts";

// 1. A listening log with planted genres, written as lastfm-360K's TSV.
const data = listeningDataset({ users: 4000, itemsPerGenre: 60, playsPerUser: 30, seed: 11 });
const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");
const lines: string[] = [];
for (let u = 0; u < data.plays.nRows; u++) {
  const row = data.plays.row(u);
  row.indices.forEach((item, p) => {
    lines.push(
      `${sha1(`user ${u}`)}\t${sha1(`artist ${item}`).slice(0, 36)}\t${data.itemNames[item]}\t${
        row.data[p]
      }`,
    );
  });
}
const path = join(
  mkdtempSync(join(tmpdir(), "tacit-lastfm-")),
  "usersha1-artmbid-artname-plays.tsv",
);
writeFileSync(path, lines.join("\n") + "\n");

// 2. Load it back: the matrix, the external ids and the artist names.
const loaded = await readLastfm360k(path);
const plays = loaded.matrix;
console.log(
  `Loaded ${path}: ${plays.nRows} users × ${plays.nCols} artists, ${plays.nnz} play counts.`,
);

// 3. Hold out 20% of the interactions, fit on the rest.
const { train, test } = trainTestSplit(plays, { trainPercentage: 0.8, randomState: 1 });
const model = new AlternatingLeastSquares({
  factors: 16,
  regularization: 10,
  alpha: 2,
  iterations: 15,
  randomState: 42,
});
await model.fit(bm25Weight(train), { progress: false });

// 4. Evaluate against a most-popular baseline that implements the same scoring interface.
class MostPopular implements RankingModel {
  readonly nUsers: number;
  readonly nItems: number;
  readonly #order: Int32Array;
  constructor(train: CsrMatrix) {
    [this.nUsers, this.nItems] = train.shape;
    const counts = new Float64Array(this.nItems);
    for (const item of train.indices) counts[item]!++;
    this.#order = Int32Array.from(counts.keys()).sort((a, b) => counts[b]! - counts[a]! || a - b);
  }
  recommend(userids: ArrayLike<number>, userItems: CsrMatrix, options: { n: number }): RankedBatch {
    const ids = new Int32Array(userids.length * options.n).fill(-1);
    const scores = new Float32Array(ids.length).fill(Number.NEGATIVE_INFINITY);
    for (let q = 0; q < userids.length; q++) {
      const liked = new Set(userItems.row(userids[q]!).indices);
      let filled = 0;
      for (const item of this.#order) {
        if (filled === options.n) break;
        if (liked.has(item)) continue;
        ids[q * options.n + filled] = item;
        scores[q * options.n + filled++] = -filled;
      }
    }
    return { ids, scores, shape: [userids.length, options.n] };
  }
}

const k = 10;
const results = {
  ALS: await rankingMetricsAtK(model, train, test, { k }),
  "most popular": await rankingMetricsAtK(new MostPopular(train), train, test, { k }),
};
console.log(`\nRanking metrics @${k} on ${results.ALS.users} test users:`);
const names = ["precision", "recall", "map", "ndcg", "auc", "mrr"] as const;
console.log(`  ${"model".padEnd(14)}${names.map((n) => n.padStart(10)).join("")}`);
for (const [label, metrics] of Object.entries(results)) {
  console.log(
    `  ${label.padEnd(14)}${names.map((n) => metrics[n].toFixed(4).padStart(10)).join("")}`,
  );
}

// 5. Map dense ids back to the file's ids and names.
const user = 0;
const recs = model.recommend(user, train, { n: 5 });
console.log(`\nTop artists for user ${loaded.users[user]!.slice(0, 12)}…:`);
for (const id of recs.ids) console.log(`  ${loaded.itemNames?.[id] ?? loaded.items[id]}`);
