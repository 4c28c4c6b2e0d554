import assert from "node:assert/strict";
import process from "node:process";
import {
  AlternatingLeastSquares,
  BM25Recommender,
  CosineRecommender,
  getNumThreads,
  ItemItemRecommender,
  TFIDFRecommender,
} from "../mod.ts";
import { randomMatrix } from "./reference.ts";
import { test } from "./harness.ts";

const quiet = { progress: false } as const;
const first = randomMatrix(40, 30, 0.2, 31);
/** Spread over many items, so fit runs the most blocks of items. */
const second = randomMatrix(50, 200, 0.1, 32);

/** A signal that aborts at its `at`-th check, counting the checks. */
function abortingAt(at: number): { signal: AbortSignal; checks: () => number } {
  let checks = 0;
  // A real AbortSignal (fit refuses anything else) whose check counts its calls.
  const signal = new AbortController().signal;
  Object.defineProperty(signal, "throwIfAborted", {
    value() {
      if (++checks >= at) throw new DOMException("aborted by the test", "AbortError");
    },
  });
  return { signal, checks: () => checks };
}

test("a neighbour fit aborted between blocks leaves the model and the pool as they were", async () => {
  const threads = getNumThreads();
  for (const Model of [ItemItemRecommender, CosineRecommender, TFIDFRecommender, BM25Recommender]) {
    const model = await new Model({ k: 4, numThreads: 1 }).fit(first, quiet);
    const before = model.similarity;
    // Check 1 is before weighing, 2 before the first block: 5 aborts after three blocks ran.
    const { signal, checks } = abortingAt(5);
    await assert.rejects(
      model.fit(second, { progress: false, signal }),
      (e: Error) => e.name === "AbortError",
      Model.name,
    );
    assert.equal(checks(), 5);
    assert.equal(model.similarity, before, Model.name);
    assert.equal(model.nUsers, first.nRows);
    assert.equal(model.nItems, first.nCols);
    assert.equal(getNumThreads(), threads, "the pool size is restored");
  }
});

test("a neighbour fit checks the signal before and after every block", async () => {
  const model = new CosineRecommender({ k: 4 });
  const { signal, checks } = abortingAt(Number.POSITIVE_INFINITY);
  await model.fit(second, { progress: false, signal });
  // One check before weighing, one before each block and one after the last.
  assert.ok(checks() > 3, `only ${checks()} checks`);
  assert.equal(model.nItems, second.nCols);
});

test("a neighbour fit that fails leaves the model as it was", async () => {
  const model = await new BM25Recommender({ k: 3 }).fit(first, quiet);
  const before = model.similarity;
  await assert.rejects(model.fit(randomMatrix(10, 8, 0.5, 33, true), quiet), /non-negative/);
  assert.equal(model.similarity, before);
});

test("an abort during the last iteration of a factor fit keeps the previous factors", async () => {
  const model = await new AlternatingLeastSquares({ factors: 3, iterations: 2, randomState: 1 })
    .fit(first, quiet);
  const before = model.userFactors.data;
  const controller = new AbortController();
  await assert.rejects(
    model.fit(second, {
      progress: false,
      signal: controller.signal,
      callback: (iteration) => iteration === 1 && controller.abort(),
    }),
    (e: Error) => e.name === "AbortError",
  );
  assert.equal(model.userFactors.data, before);
  assert.equal(model.nItems, first.nCols);
});

test("a neighbour fit's progress bar counts blocks and shows the items done", async () => {
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write =
    ((text: string) => lines.push(String(text)) > 0) as typeof process.stderr.write;
  try {
    await new ItemItemRecommender({ k: 3 }).fit(second, { progress: true });
  } finally {
    process.stderr.write = write;
  }
  const last = lines.join("").split(/[\r\n]/).filter((line) => line.trim() !== "").at(-1) ?? "";
  assert.match(last, /^itemitem 100%/);
  assert.match(last, new RegExp(`items=${second.nCols}/${second.nCols}\\]$`));
});
