/**
 * The main demo: a generated listening log with planted genres → BM25 weighting
 * → ALS → recommendations for a user and similar artists, with a check that
 * similar artists share the query's genre.
 *
 *   deno run -A examples/listening.ts      (or: bun examples/listening.ts)
 */
import { AlternatingLeastSquares, bm25Weight, getNumThreads } from "../mod.ts";
import { listeningDataset } from "../lib/datasets/synthetic.ts";

const data = listeningDataset({ users: 3000, itemsPerGenre: 40, seed: 7 });
const { plays, itemNames, itemGenre, genres } = data;
console.log(
  `Generated ${plays.nRows} listeners × ${plays.nCols} artists, ${plays.nnz} (listener, artist) pairs, ${genres.length} genres.`,
);

const model = new AlternatingLeastSquares({
  factors: 16,
  regularization: 10,
  alpha: 2,
  iterations: 15,
  randomState: 42,
});
// Opens the native library (building it on first use in a checkout) before the clock starts.
const threads = getNumThreads();
const started = performance.now();
await model.fit(bm25Weight(plays));
console.log(
  `Fitted ALS in ${((performance.now() - started) / 1000).toFixed(2)} s on ${threads} threads.\n`,
);

const user = 0;
const history = plays.row(user);
console.log(`Listener ${user} (favourite genre: ${genres[data.userGenre[user]!]}) played:`);
console.log(
  "  " + [...history.indices].slice(0, 8).map((i) => itemNames[i]).join(", ") +
    (history.indices.length > 8 ? ", ..." : ""),
);
console.log(`Recommended for listener ${user}:`);
const recs = model.recommend(user, plays, { n: 8 });
recs.ids.forEach((id, k) =>
  console.log(
    `  ${String(k + 1).padStart(2)}. ${itemNames[id]!.padEnd(22)} score ${
      recs.scores[k]!.toFixed(3)
    }`,
  )
);

let sameGenre = 0;
let total = 0;
for (const item of [0, 45, 90, 130, 170, 215, 250, 300]) {
  const similar = model.similarItems(item, { n: 6 });
  const neighbours = [...similar.ids].filter((id) => id !== item);
  sameGenre += neighbours.filter((id) => itemGenre[id] === itemGenre[item]).length;
  total += neighbours.length;
  if (item % 90 === 0) {
    console.log(`\nArtists similar to ${itemNames[item]}:`);
    neighbours.forEach((id, k) =>
      console.log(`  ${itemNames[id]!.padEnd(22)} cosine ${similar.scores[k + 1]!.toFixed(3)}`)
    );
  }
}
console.log(
  `\n${sameGenre} of ${total} similar artists (${
    ((100 * sameGenre) / total).toFixed(0)
  }%) share the query artist's genre.`,
);
