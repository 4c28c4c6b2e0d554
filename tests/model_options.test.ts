import assert from "node:assert/strict";
import {
  AlternatingLeastSquares,
  type AlternatingLeastSquaresOptions,
  BayesianPersonalizedRanking,
  type BayesianPersonalizedRankingOptions,
  BM25Recommender,
  type BM25RecommenderOptions,
  CosineRecommender,
  ItemItemRecommender,
  type ItemItemRecommenderOptions,
  LogisticMatrixFactorization,
  type LogisticMatrixFactorizationOptions,
  type Model,
  TFIDFRecommender,
} from "../mod.ts";
import { test } from "./harness.ts";

// ---------------------------------------------------------------- compile time

/** True when A and B are the same type (not merely assignable one way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
/** The options object a model's schema accepts, as `parameters()` returns it. */
type SchemaOptions<M extends Model> = ReturnType<M["parameters"]>;

// Each schema declares exactly the options of the documented interface, with the same types:
// a schema missing an option, adding one or typing one differently fails to compile here.
const schemasMatchInterfaces: [
  Equal<SchemaOptions<AlternatingLeastSquares>, AlternatingLeastSquaresOptions>,
  Equal<SchemaOptions<BayesianPersonalizedRanking>, BayesianPersonalizedRankingOptions>,
  Equal<SchemaOptions<LogisticMatrixFactorization>, LogisticMatrixFactorizationOptions>,
  Equal<SchemaOptions<ItemItemRecommender>, ItemItemRecommenderOptions>,
  Equal<SchemaOptions<CosineRecommender>, ItemItemRecommenderOptions>,
  Equal<SchemaOptions<TFIDFRecommender>, ItemItemRecommenderOptions>,
  Equal<SchemaOptions<BM25Recommender>, BM25RecommenderOptions>,
] = [true, true, true, true, true, true, true];

// ---------------------------------------------------------------- run time

type AnyModelClass = new (options?: Record<string, unknown>) => Model;

/** Every model class with options that differ from every default. */
const cases: [AnyModelClass, Record<string, unknown>][] = [
  [AlternatingLeastSquares as AnyModelClass, {
    factors: 7,
    regularization: 0.5,
    alpha: 3,
    iterations: 2,
    solver: "cholesky",
    cgSteps: 4,
    calculateTrainingLoss: true,
    randomState: 5,
    numThreads: 2,
    dtype: "float32",
  }],
  [BayesianPersonalizedRanking as AnyModelClass, {
    factors: 6,
    learningRate: 0.2,
    regularization: 0.3,
    iterations: 4,
    verifyNegativeSamples: false,
    deterministic: true,
    randomState: 9,
    numThreads: 1,
  }],
  [LogisticMatrixFactorization as AnyModelClass, {
    factors: 5,
    learningRate: 0.5,
    regularization: 0.1,
    iterations: 3,
    negProp: 4,
    negativeSampling: "perPositive",
    randomState: 2,
  }],
  [ItemItemRecommender as AnyModelClass, { k: 3, numThreads: 1 }],
  [CosineRecommender as AnyModelClass, { k: 4 }],
  [TFIDFRecommender as AnyModelClass, { k: 5, numThreads: 3 }],
  [BM25Recommender as AnyModelClass, { k: 6, k1: 2, b: 0.5 }],
];

test("the schemas match the option interfaces (checked when this file compiles)", () => {
  assert.ok(schemasMatchInterfaces.every((same) => same));
});

test("an unknown option key is refused with a message naming it and the known options", () => {
  for (const [Model] of cases) {
    const known = Object.keys(new Model().schema);
    assert.throws(
      () => new Model({ factor: 10 }),
      (e: Error) =>
        e instanceof TypeError && e.message.includes("'factor'") &&
        e.message.includes(Model.name) && known.every((key) => e.message.includes(key)),
      Model.name,
    );
    // A misspelt key is refused even with an undefined value.
    assert.throws(() => new Model({ numThread: undefined }), /'numThread'/, Model.name);
  }
});

test("options that are not an object are refused", () => {
  for (const [Model] of cases) {
    for (const options of [null, 3, "k=3", [1, 2]]) {
      assert.throws(
        () => new Model(options as never),
        (e: Error) => e instanceof TypeError && /options to be an object/.test(e.message),
        `${Model.name} ${JSON.stringify(options)}`,
      );
    }
  }
});

test("every option refuses a value of the wrong type with a TypeError naming it", () => {
  for (const [Model] of cases) {
    for (const [key, spec] of Object.entries(new Model().schema)) {
      const wrong = typeof spec.default === "number" || spec.default === undefined ? "1" : 1;
      assert.throws(
        () => new Model({ [key]: wrong }),
        (e: Error) => e instanceof TypeError && e.message.includes(key),
        `${Model.name}.${key} = ${JSON.stringify(wrong)}`,
      );
    }
  }
});

test("every option has a doc string and a default that its own validator accepts", () => {
  for (const [Model] of cases) {
    for (const [key, spec] of Object.entries(new Model().schema)) {
      assert.ok(spec.doc.length > 0, `${Model.name}.${key} has no doc`);
      if (spec.default !== undefined) {
        assert.equal(spec.check(key, spec.default), spec.default, `${Model.name}.${key}`);
      }
    }
  }
});

test("defaults are implicit's", () => {
  assert.deepEqual(new AlternatingLeastSquares().parameters(), {
    factors: 100,
    regularization: 0.01,
    alpha: 1,
    confidence: "alphaValue",
    iterations: 15,
    solver: "cg",
    cgSteps: 3,
    calculateTrainingLoss: false,
    gpuStorage: "float32",
    numThreads: 0,
    dtype: "float32",
    // implicit's use_gpu defaults to "GPU when CUDA is present"; tacit's device to "cpu" (README).
    device: "cpu",
  });
  assert.deepEqual(new BayesianPersonalizedRanking().parameters(), {
    factors: 100,
    learningRate: 0.01,
    regularization: 0.01,
    iterations: 100,
    verifyNegativeSamples: true,
    deterministic: false,
    numThreads: 0,
    dtype: "float32",
    device: "cpu",
  });
  assert.deepEqual(new LogisticMatrixFactorization().parameters(), {
    factors: 30,
    learningRate: 1,
    regularization: 0.6,
    iterations: 30,
    negProp: 30,
    negativeSampling: "implicit",
    numThreads: 0,
    dtype: "float32",
    device: "cpu",
  });
  for (const Model of [ItemItemRecommender, CosineRecommender, TFIDFRecommender]) {
    assert.deepEqual(new Model().parameters(), { k: 20, numThreads: 0 });
  }
  assert.deepEqual(new BM25Recommender().parameters(), { k: 20, numThreads: 0, k1: 1.2, b: 0.75 });
});

test("parameters() returns the given options and round-trips through the constructor", () => {
  for (const [Model, options] of cases) {
    const model = new Model(options);
    const parameters = model.parameters();
    for (const [key, value] of Object.entries(options)) {
      assert.equal((parameters as Record<string, unknown>)[key], value, `${Model.name}.${key}`);
      assert.equal((model as unknown as Record<string, unknown>)[key], value, `model.${key}`);
    }
    assert.deepEqual(new Model(parameters).parameters(), parameters, Model.name);
    assert.notEqual(model.parameters(), parameters, "parameters() returns a fresh object");
  }
});

test("an unset randomState is left out of parameters() and stays unset", () => {
  const model = new AlternatingLeastSquares({ factors: 3 });
  assert.equal(model.randomState, undefined);
  assert.equal("randomState" in model.parameters(), false);
  assert.equal(new AlternatingLeastSquares(model.parameters()).randomState, undefined);
});
