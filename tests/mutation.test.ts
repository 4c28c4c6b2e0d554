/**
 * A CsrMatrix wraps its arrays without copying them, so a caller can change
 * them after the constructor validated them. Every path into native code
 * checks again (lengths in TypeScript, content natively), so a corrupted
 * matrix gives a clear error and never crashes the process or corrupts a
 * model.
 */
import assert from "node:assert/strict";
import {
  AlternatingLeastSquares,
  BayesianPersonalizedRanking,
  BM25Recommender,
  CsrMatrix,
  LogisticMatrixFactorization,
  rankingMetricsAtK,
} from "../mod.ts";
import { test } from "./harness.ts";

function plays(): CsrMatrix {
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < 30; u++) {
    for (let k = 0; k < 6; k++) {
      rows.push(u);
      cols.push((u * 7 + k * 5) % 40);
    }
  }
  return CsrMatrix.fromCoo({ rows, cols, shape: [30, 40] });
}

/** Each corruption of a valid matrix, applied in place after construction. */
const corruptions: Record<string, (m: CsrMatrix) => void> = {
  "an inflated last indptr": (m) => {
    m.indptr[m.nRows] = m.nnz + 1000;
  },
  "an inflated middle indptr": (m) => {
    m.indptr[5] = 1_000_000;
  },
  "a negative indptr": (m) => {
    m.indptr[3] = -7;
  },
  "an index past the columns": (m) => {
    m.indices[4] = 1_000_000;
  },
  "a negative index": (m) => {
    m.indices[0] = -1;
  },
  "a NaN value": (m) => {
    m.data[2] = Number.NaN;
  },
};

const quiet = { progress: false };

/** A refusal a user can act on: a TypeError or RangeError naming the matrix's arrays. */
function refusedClearly(name: string, error: unknown): true {
  assert.ok(error instanceof TypeError || error instanceof RangeError, `${name}: ${error}`);
  assert.match(
    (error as Error).message,
    /indptr|indices|data|finite|no longer form a valid CSR matrix/,
    `${name}: ${(error as Error).message}`,
  );
  return true;
}
const fitters = {
  ALS: () => new AlternatingLeastSquares({ factors: 4, iterations: 2, randomState: 1 }),
  BPR: () => new BayesianPersonalizedRanking({ factors: 4, iterations: 2, randomState: 1 }),
  LMF: () => new LogisticMatrixFactorization({ factors: 4, iterations: 2, randomState: 1 }),
  BM25: () => new BM25Recommender({ k: 5 }),
};

for (const [what, corrupt] of Object.entries(corruptions)) {
  test(`fit() on a matrix with ${what} is refused with a clear error and leaves the model as it was`, async () => {
    for (const [name, create] of Object.entries(fitters)) {
      const model = create();
      const good = plays();
      await model.fit(good, quiet);
      const before = model.recommend(0, good, { n: 5 });
      const bad = plays();
      corrupt(bad);
      // Every fit copies its input first, and the copy is validated: BPR too, though it reads no values.
      await assert.rejects(model.fit(bad, quiet), (error) => refusedClearly(name, error));
      assert.deepEqual(model.recommend(0, good, { n: 5 }), before, `${name} unchanged`);
    }
  });

  test(`recommend() and evaluation with a matrix with ${what} are refused with a clear error`, async () => {
    for (const [name, create] of Object.entries(fitters)) {
      const model = create();
      await model.fit(plays(), quiet);
      const bad = plays();
      corrupt(bad);
      // Every user, so the corrupted rows are among the queries.
      const users = Int32Array.from({ length: bad.nRows }, (_, k) => k);
      assert.throws(
        () => model.recommend(users, bad, { n: 5 }),
        (error) => refusedClearly(name, error),
      );
      // As the training matrix (liked items to leave out) and as the held-out one.
      await assert.rejects(
        rankingMetricsAtK(model, bad, plays(), { k: 5, ...quiet }),
        (error) => refusedClearly(name, error),
      );
      if (what !== "a NaN value") { // held-out values are never read
        await assert.rejects(
          rankingMetricsAtK(model, plays(), bad, { k: 5, ...quiet }),
          (error) => refusedClearly(name, error),
        );
      }
    }
  });
}

test("changing the matrix while a fit runs cannot change what the fit reads", async () => {
  const changing = plays();
  const intact = plays();
  const create = () => new AlternatingLeastSquares({ factors: 4, iterations: 3, randomState: 7 });
  const running = create().fit(changing, quiet);
  // The fit awaits its first nonblocking call: corrupt the caller's arrays meanwhile.
  changing.indices.fill(1_000_000);
  changing.indptr.fill(3);
  const fitted = await running;
  const reference = await create().fit(intact, quiet);
  assert.deepEqual(fitted.userFactors.data, reference.userFactors.data);
  assert.deepEqual(fitted.itemFactors.data, reference.itemFactors.data);
});
