import assert from "node:assert/strict";
import { test } from "./harness.ts";
import { plantedTasteDataset, type PlantedTastes } from "../lib/datasets/synthetic.ts";

// The statistical contract of plantedTasteDataset on a small matrix: 3,000 users × 2,000
// items, 60,000 wanted pairs, 20 genres. The bounds leave wide margins around what seed 7
// gives (loyalty 0.8: 75% of stored pairs inside the user's genres; the top 10% of items
// hold 46% of the pairs) and stay far from what the contract rules out (no tastes: 12%;
// uniform popularity: about 10%).

const SIZE = { users: 3000, items: 2000, nnz: 60_000, genres: 20, seed: 7 };

/** Share of stored pairs whose item is in one of the user's favourite genres. */
function shareInsideTastes(data: PlantedTastes): number {
  let inside = 0;
  for (let u = 0; u < data.plays.nRows; u++) {
    const liked = new Set(data.userGenres.row(u).indices);
    for (const item of data.plays.row(u).indices) {
      if (liked.has(data.itemGenre[item]!)) inside++;
    }
  }
  return inside / data.plays.nnz;
}

/** Share of the pairs held by the 10% most played of `items`. */
function topTenthShare(data: PlantedTastes, items: number[]): number {
  const degree = new Float64Array(data.plays.nCols);
  for (const item of data.plays.indices) degree[item]!++;
  const played = items.map((i) => degree[i]!).sort((a, b) => b - a);
  const total = played.reduce((a, b) => a + b, 0);
  return played.slice(0, Math.ceil(items.length / 10)).reduce((a, b) => a + b, 0) / total;
}

test("plantedTasteDataset() gives the same data for the same seed and other data for another", () => {
  const a = plantedTasteDataset(SIZE);
  assert.deepEqual(plantedTasteDataset(SIZE), a);
  assert.notDeepEqual(plantedTasteDataset({ ...SIZE, seed: 8 }).plays.indices, a.plays.indices);
});

test("plantedTasteDataset() stores close to nnz positive integer counts in the asked shape", () => {
  const { plays, itemGenre, userGenres } = plantedTasteDataset(SIZE);
  assert.deepEqual(plays.shape, [3000, 2000]);
  assert.ok(plays.nnz <= 60_000 && plays.nnz >= 0.95 * 60_000, `nnz ${plays.nnz}`);
  assert.ok(plays.data.every((v) => Number.isInteger(v) && v >= 1));
  assert.equal(itemGenre.length, 2000);
  assert.ok(itemGenre.every((g) => g >= 0 && g < 20));
  assert.deepEqual(userGenres.shape, [3000, 20]);
});

test("plantedTasteDataset() gives every user 1 to 3 distinct genres, each count about a third", () => {
  const { userGenres } = plantedTasteDataset(SIZE);
  const users = [0, 0, 0, 0];
  for (let u = 0; u < 3000; u++) {
    const genres = [...userGenres.row(u).indices];
    assert.ok(genres.length >= 1 && genres.length <= 3, `user ${u} has ${genres.length} genres`);
    assert.equal(new Set(genres).size, genres.length);
    users[genres.length]!++;
  }
  for (const count of [1, 2, 3]) assert.ok(users[count]! > 800 && users[count]! < 1200);
});

test("plantedTasteDataset() puts a loyalty share of plays inside the user's genres", () => {
  assert.equal(shareInsideTastes(plantedTasteDataset({ ...SIZE, loyalty: 1 })), 1);
  const loyal = shareInsideTastes(plantedTasteDataset({ ...SIZE, loyalty: 0.8 }));
  assert.ok(loyal > 0.65 && loyal < 0.85, `share ${loyal}`);
  const indifferent = shareInsideTastes(plantedTasteDataset({ ...SIZE, loyalty: 0 }));
  assert.ok(indifferent < 0.25, `share ${indifferent}`);
});

test("plantedTasteDataset() makes popularity a power law overall and inside a genre", () => {
  const data = plantedTasteDataset(SIZE);
  const every = Array.from({ length: 2000 }, (_, i) => i);
  assert.ok(topTenthShare(data, every) > 0.3);
  const largest = every.filter((i) => data.itemGenre[i] === 0);
  assert.ok(largest.length > 100, `genre 0 has ${largest.length} items`);
  assert.ok(topTenthShare(data, largest) > 0.3);
});

test("plantedTasteDataset() rejects more genres than items and a loyalty outside [0, 1]", () => {
  assert.throws(
    () => plantedTasteDataset({ users: 5, items: 4, nnz: 10, genres: 5 }),
    /Expected genres to be at most items \(4\) but found 5/,
  );
  assert.throws(() => plantedTasteDataset({ ...SIZE, loyalty: 1.5 }), RangeError);
});
