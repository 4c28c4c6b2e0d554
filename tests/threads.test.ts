/**
 * Threads belong to the call: a fit's numThreads limits its own native calls
 * and never resizes the one pool.
 */
import assert from "node:assert/strict";
import {
  AlternatingLeastSquares,
  BayesianPersonalizedRanking,
  BM25Recommender,
  CsrMatrix,
  getNumThreads,
  setNumThreads,
} from "../mod.ts";
import { observeNativeCalls } from "../lib/native/library.ts";
import { test } from "./harness.ts";

function plays(): CsrMatrix {
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < 400; u++) {
    for (let k = 0; k < 12; k++) {
      rows.push(u);
      cols.push((u * 13 + k * 29) % 300);
    }
  }
  return CsrMatrix.fromCoo({ rows, cols, shape: [400, 300] });
}

test("two concurrent fits with numThreads 1 and 3 each run on their own count and leave the pool as it was", async () => {
  setNumThreads(4);
  try {
    const seen = new Map<string, Set<number>>();
    const sizes: number[] = [];
    const stop = observeNativeCalls((record) => {
      if (!seen.has(record.name)) seen.set(record.name, new Set());
      seen.get(record.name)!.add(record.threadsUsed);
      sizes.push(getNumThreads());
    });
    const quiet = { progress: false };
    try {
      await Promise.all([
        new AlternatingLeastSquares({ factors: 8, iterations: 4, numThreads: 1, randomState: 1 })
          .fit(plays(), quiet),
        new BayesianPersonalizedRanking({
          factors: 8,
          iterations: 4,
          numThreads: 3,
          randomState: 1,
        }).fit(plays(), quiet),
        new BM25Recommender({ k: 10, numThreads: 2 }).fit(plays(), quiet),
      ]);
    } finally {
      stop();
    }
    assert.deepEqual([...seen.get("tacit_als_solve")!], [1]);
    assert.deepEqual([...seen.get("tacit_bpr_epoch")!], [3]);
    assert.deepEqual([...seen.get("tacit_knn_fit")!], [2]);
    assert.ok(
      sizes.length > 10 && sizes.every((size) => size === 4),
      `pool sizes seen: ${[...new Set(sizes)]}`,
    );
    assert.equal(getNumThreads(), 4);
  } finally {
    setNumThreads(0);
  }
});

test("numThreads 0 uses the whole pool, and a limit above the pool is the pool", async () => {
  setNumThreads(2);
  try {
    const used: number[] = [];
    const stop = observeNativeCalls((record) => {
      if (record.name === "tacit_bpr_epoch") used.push(record.threadsUsed);
    });
    try {
      await new BayesianPersonalizedRanking({ factors: 4, iterations: 1, randomState: 1 }).fit(
        plays(),
        { progress: false },
      );
      await new BayesianPersonalizedRanking({
        factors: 4,
        iterations: 1,
        numThreads: 16,
        randomState: 1,
      }).fit(plays(), {
        progress: false,
      });
    } finally {
      stop();
    }
    assert.deepEqual(used, [2, 2]);
    assert.equal(getNumThreads(), 2);
  } finally {
    setNumThreads(0);
  }
});
