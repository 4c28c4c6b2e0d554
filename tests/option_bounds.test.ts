/**
 * Every option whose cost grows without bound has a documented limit that the
 * constructor checks, naming the option and the value found: one above the
 * limit is refused before any work, the limit itself is accepted, and the
 * option's doc string states the limit.
 */
import assert from "node:assert/strict";
import { AlternatingLeastSquares } from "../lib/models/als.ts";
import { BayesianPersonalizedRanking } from "../lib/models/bpr.ts";
import { HybridFactorization } from "../lib/models/hybrid.ts";
import { LogisticMatrixFactorization } from "../lib/models/lmf.ts";
import { MinibatchFactorization } from "../lib/models/minibatch.ts";
import {
  BM25Recommender,
  CosineRecommender,
  ItemItemRecommender,
  TFIDFRecommender,
} from "../lib/models/nearest_neighbours.ts";
import { CsrMatrix } from "../lib/sparse.ts";
import { test } from "./harness.ts";

type Make = (options: Record<string, unknown>) => unknown;

const models: Record<string, Make> = {
  AlternatingLeastSquares: (o) => new AlternatingLeastSquares(o),
  BayesianPersonalizedRanking: (o) => new BayesianPersonalizedRanking(o),
  LogisticMatrixFactorization: (o) => new LogisticMatrixFactorization(o),
  HybridFactorization: (o) => new HybridFactorization(o),
  MinibatchFactorization: (o) => new MinibatchFactorization(o),
  ItemItemRecommender: (o) => new ItemItemRecommender(o),
  CosineRecommender: (o) => new CosineRecommender(o),
  TFIDFRecommender: (o) => new TFIDFRecommender(o),
  BM25Recommender: (o) => new BM25Recommender(o),
};

/** [model, option, limit]: every bounded option of every model. */
const bounds: [string, string, number][] = [
  ["AlternatingLeastSquares", "factors", 1024],
  ["AlternatingLeastSquares", "iterations", 100_000],
  ["AlternatingLeastSquares", "cgSteps", 1024],
  ["BayesianPersonalizedRanking", "factors", 1023],
  ["BayesianPersonalizedRanking", "iterations", 100_000],
  ["LogisticMatrixFactorization", "factors", 1022],
  ["LogisticMatrixFactorization", "iterations", 100_000],
  ["LogisticMatrixFactorization", "negProp", 1000],
  ["HybridFactorization", "noComponents", 1022],
  ["HybridFactorization", "k", 1000],
  ["HybridFactorization", "n", 1000],
  ["HybridFactorization", "maxSampled", 100_000],
  ["MinibatchFactorization", "embeddingDim", 1022],
  ["MinibatchFactorization", "nIter", 100_000],
  ["MinibatchFactorization", "batchSize", 65_536],
  ["MinibatchFactorization", "numNegativeSamples", 1024],
  ["ItemItemRecommender", "k", 100_000],
  ["CosineRecommender", "k", 100_000],
  ["TFIDFRecommender", "k", 100_000],
  ["BM25Recommender", "k", 100_000],
];

for (const [model, option, limit] of bounds) {
  test(`new ${model}({ ${option} }) accepts ${limit} and refuses ${limit + 1}, naming ${option}`, () => {
    const make = models[model]!;
    const accepted = make({ [option]: limit }) as Record<string, unknown>;
    assert.equal(accepted[option], limit);
    for (const value of [limit + 1, 2_147_483_647]) {
      assert.throws(
        () => make({ [option]: value }),
        (error: unknown) =>
          error instanceof RangeError &&
          error.message === `Expected ${option} to be at most ${limit} but found ${value}`,
      );
    }
  });
}

test("the issue's hang: LMF with negProp 2147483647 is refused in the constructor", () => {
  assert.throws(
    () =>
      new LogisticMatrixFactorization({ negProp: 2_147_483_647, negativeSampling: "perPositive" }),
    /Expected negProp to be at most 1000 but found 2147483647/,
  );
});

test("ALS refuses cgSteps above its bound as cgSteps, before any native call", () => {
  // The native edge would say cg_steps; the constructor says what the user wrote.
  assert.throws(
    () => new AlternatingLeastSquares({ cgSteps: 10_000 }),
    /^RangeError: Expected cgSteps/,
  );
});

test("a hybrid fit refuses more than 100000 epochs, naming epochs", async () => {
  const model = new HybridFactorization({ randomState: 1 });
  const plays = CsrMatrix.fromDense([[1, 0], [0, 1]]);
  await assert.rejects(
    model.fit(plays, { epochs: 100_001, progress: false }),
    /Expected epochs to be at most 100000 but found 100001/,
  );
  assert.equal(model.nUsers, 0);
});

test("every bounded option's doc states its bound", () => {
  for (const [model, option, limit] of bounds) {
    const { schema } = models[model]!({}) as { schema: Record<string, { doc: string }> };
    const doc = schema[option]!.doc;
    assert.ok(doc.includes(`at most ${limit}`), `${model}.${option}: ${doc}`);
  }
});
