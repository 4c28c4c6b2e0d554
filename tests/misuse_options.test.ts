/**
 * Options and arguments that used to be silently wrong: unknown option names
 * (with tacit's name suggested for implicit / LightFM / Spotlight spellings),
 * truth-coerced booleans, thread counts outside 0..256, and engine messages
 * for null or wrong-typed options. Each case is one call that must throw the
 * named class with a message naming the argument.
 */
import assert from "node:assert/strict";
import { test } from "./harness.ts";
import {
  AlternatingLeastSquares,
  aucAtK,
  BayesianPersonalizedRanking,
  bm25Weight,
  CosineRecommender,
  CsrMatrix,
  Dataset,
  fetchLastfm360k,
  fetchMovielens,
  fetchTasteProfile,
  getNumThreads,
  HybridFactorization,
  IdMap,
  leaveKOutSplit,
  listeningDataset,
  LogisticMatrixFactorization,
  MinibatchFactorization,
  ndcgAtK,
  powerLawMatrix,
  precisionAtK,
  rankingMetricsAtK,
  readDelimited,
  readLastfm360k,
  readMovielens,
  readTasteProfile,
  setNumThreads,
  trainTestSplit,
  userBasedSplit,
} from "../mod.ts";

const X = CsrMatrix.fromCoo({
  rows: [0, 0, 1, 2, 3, 3, 4, 4],
  cols: [0, 1, 2, 3, 0, 2, 1, 3],
  shape: [5, 4],
});
const als = await new AlternatingLeastSquares({ factors: 2, iterations: 2, randomState: 1 }).fit(
  X,
  { progress: false },
);
const lmf = await new LogisticMatrixFactorization({ factors: 2, iterations: 1, randomState: 1 })
  .fit(X, { progress: false });
const knn = await new CosineRecommender({ k: 2 }).fit(X, { progress: false });
const hybrid = await new HybridFactorization({ noComponents: 2, randomState: 1 }).fit(X, {
  progress: false,
});
const noFile = "/nonexistent/tacit-misuse.csv";
const never = (value: unknown) => value as never;

/** A synchronous call that must throw `kind` with a message matching `pattern`. */
function refuses(call: () => unknown, kind: ErrorConstructor, pattern: RegExp): void {
  assert.throws(call, (error: unknown) => {
    assert.ok(error instanceof kind, `expected a ${kind.name} but got ${error}`);
    assert.match((error as Error).message, pattern);
    return true;
  });
}

/** An async call that must reject with `kind` and a message matching `pattern`. */
async function rejects(call: () => Promise<unknown>, kind: ErrorConstructor, pattern: RegExp) {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof kind, `expected a ${kind.name} but got ${error}`);
    assert.match((error as Error).message, pattern);
    return true;
  });
}

test("the issue's unknown option names are refused with tacit's name suggested", async () => {
  refuses(
    () => new AlternatingLeastSquares(never({ factor: 8 })),
    TypeError,
    /'factor' \(did you mean 'factors'\?\)/,
  );
  refuses(
    () => new AlternatingLeastSquares(never({ calculate_training_loss: true, random_state: 3 })),
    TypeError,
    /'calculate_training_loss' \(did you mean 'calculateTrainingLoss'\?\)/,
  );
  refuses(
    () => new AlternatingLeastSquares(never({ random_state: 3 })),
    TypeError,
    /'random_state' \(did you mean 'randomState'\?\)/,
  );
  refuses(
    () => als.recommend(0, X, never({ N: 3 })),
    TypeError,
    /recommend\(\).*'N' \(did you mean 'n'\?\)/,
  );
  refuses(
    () => trainTestSplit(X, never({ train_percentage: 0.5, random_state: 1 })),
    TypeError,
    /trainTestSplit\(\).*'train_percentage' \(did you mean 'trainPercentage'\?\)/,
  );
  refuses(
    () => bm25Weight(X, never({ K1: 5 })),
    TypeError,
    /bm25Weight\(\).*'K1' \(did you mean 'k1'\?\)/,
  );
  await Promise.resolve();
});

test("the issue's truth-coerced booleans are refused with the type and the value", () => {
  refuses(
    () => new AlternatingLeastSquares(never({ calculateTrainingLoss: "no" })),
    TypeError,
    /calculateTrainingLoss to be a boolean but found a string 'no'/,
  );
  refuses(
    () => als.recommend(0, X, never({ filterAlreadyLiked: "false" })),
    TypeError,
    /filterAlreadyLiked to be a boolean but found a string 'false'/,
  );
});

test("the issue's thread counts are refused with the maximum stated", () => {
  const before = getNumThreads();
  refuses(
    () => setNumThreads(2 ** 31),
    RangeError,
    /n to be an integer in 0\.\.256 but found 2147483648/,
  );
  refuses(
    () => setNumThreads(2 ** 32 + 3),
    RangeError,
    /n to be an integer in 0\.\.256 but found 4294967299/,
  );
  refuses(
    () => setNumThreads(never("4")),
    TypeError,
    /n to be an integer in 0\.\.256 but found a string '4'/,
  );
  assert.equal(getNumThreads(), before);
});

test("the issue's null and wrong-typed fit options are refused before any work", async () => {
  refuses(
    () => new AlternatingLeastSquares(never(null)),
    TypeError,
    /AlternatingLeastSquares options to be an object but found null/,
  );
  const model = new AlternatingLeastSquares({ factors: 2 });
  await rejects(
    () => model.fit(X, never(null)),
    TypeError,
    /options of fit\(\) to be an object but found null/,
  );
  await rejects(
    () => model.fit(X, never({ signal: new AbortController() })),
    TypeError,
    /signal to be an AbortSignal but found an AbortController \(pass controller\.signal\)/,
  );
  let calls = 0;
  await rejects(
    () => model.fit(X, never({ callback: 5, progress: false })),
    TypeError,
    /callback to be a function but found 5/,
  );
  await rejects(
    () => model.fit(X, { progress: false, callback: () => void calls++, signal: never(5) }),
    TypeError,
    /signal to be an AbortSignal but found 5/,
  );
  assert.equal(calls, 0);
  assert.equal(model.nUsers, 0);
});

test("model constructors suggest tacit's names for other libraries' spellings", () => {
  refuses(
    () => new AlternatingLeastSquares(never({ num_threads: 2 })),
    TypeError,
    /'num_threads' \(did you mean 'numThreads'\?\)/,
  );
  refuses(
    () => new AlternatingLeastSquares(never({ use_gpu: true })),
    TypeError,
    /'use_gpu' \(did you mean 'device'\?\)/,
  );
  refuses(
    () => new BayesianPersonalizedRanking(never({ learning_rate: 0.1 })),
    TypeError,
    /'learning_rate' \(did you mean 'learningRate'\?\)/,
  );
  refuses(
    () => new LogisticMatrixFactorization(never({ neg_prop: 3 })),
    TypeError,
    /'neg_prop' \(did you mean 'negProp'\?\)/,
  );
  refuses(() => new CosineRecommender(never({ K: 3 })), TypeError, /'K' \(did you mean 'k'\?\)/);
  refuses(
    () => new HybridFactorization(never({ no_components: 3 })),
    TypeError,
    /'no_components' \(did you mean 'noComponents'\?\)/,
  );
  refuses(
    () => new MinibatchFactorization(never({ embedding_dim: 3 })),
    TypeError,
    /'embedding_dim' \(did you mean 'embeddingDim'\?\)/,
  );
  refuses(
    () => new BayesianPersonalizedRanking(never({ verifyNegativeSamples: 1 })),
    TypeError,
    /verifyNegativeSamples to be a boolean but found 1/,
  );
  refuses(
    () => new BayesianPersonalizedRanking(never({ deterministic: "true" })),
    TypeError,
    /deterministic to be a boolean but found a string 'true'/,
  );
});

test("thread-count options are held to 0..256", () => {
  refuses(
    () => new AlternatingLeastSquares({ numThreads: 257 }),
    RangeError,
    /numThreads to be an integer in 0\.\.256 but found 257/,
  );
  refuses(
    () => new AlternatingLeastSquares({ numThreads: -1 }),
    RangeError,
    /numThreads to be an integer in 0\.\.256 but found -1/,
  );
  refuses(
    () => new CosineRecommender({ numThreads: 2 ** 32 }),
    RangeError,
    /numThreads to be an integer in 0\.\.256/,
  );
  refuses(
    () => new BayesianPersonalizedRanking(never({ numThreads: "2" })),
    TypeError,
    /numThreads to be an integer in 0\.\.256 but found a string '2'/,
  );
  refuses(() => setNumThreads(-1), RangeError, /n to be an integer in 0\.\.256 but found -1/);
  refuses(() => setNumThreads(1.5), RangeError, /n to be an integer in 0\.\.256 but found 1\.5/);
  refuses(() => setNumThreads(257), RangeError, /in 0\.\.256 but found 257/);
  refuses(() => setNumThreads(NaN), RangeError, /in 0\.\.256 but found NaN/);
});

test("every model's fit refuses unknown keys and wrong-typed options up front", async () => {
  await rejects(
    () => new AlternatingLeastSquares({ factors: 2 }).fit(X, never({ verbose: true })),
    TypeError,
    /option of fit\(\) \(progress, callback, signal\) but found 'verbose'/,
  );
  await rejects(
    () => new AlternatingLeastSquares({ factors: 2 }).fit(X, never({ progress: "no" })),
    TypeError,
    /progress to be a boolean but found a string 'no'/,
  );
  await rejects(
    () => new BayesianPersonalizedRanking({ factors: 2 }).fit(X, never({ show_progress: false })),
    TypeError,
    /'show_progress' \(did you mean 'showProgress'\?\)|found 'show_progress'/,
  );
  await rejects(
    () => new BayesianPersonalizedRanking({ factors: 2 }).fit(X, never({ callback: "f" })),
    TypeError,
    /callback to be a function but found a string 'f'/,
  );
  await rejects(
    () => new LogisticMatrixFactorization({ factors: 2 }).fit(X, never({ signal: {} })),
    TypeError,
    /signal to be an AbortSignal but found an Object/,
  );
  await rejects(
    () => new LogisticMatrixFactorization({ factors: 2 }).fit(X, never([])),
    TypeError,
    /options of fit\(\) to be an object but found an array/,
  );
  await rejects(
    () => new CosineRecommender().fit(X, never({ callback: () => {} })),
    TypeError,
    /option of fit\(\) \(progress, signal\) but found 'callback'/,
  );
  await rejects(
    () => new CosineRecommender().fit(X, never({ progress: 0 })),
    TypeError,
    /progress to be a boolean but found 0/,
  );
  await rejects(
    () => new MinibatchFactorization({ embeddingDim: 2 }).fit(X, never({ epochs: 2 })),
    TypeError,
    /option of fit\(\).*found 'epochs'/,
  );
  await rejects(
    () => new MinibatchFactorization({ embeddingDim: 2 }).fit(X, never({ callback: 1 })),
    TypeError,
    /callback to be a function but found 1/,
  );
  await rejects(
    () => new HybridFactorization({ noComponents: 2 }).fit(X, never({ num_threads: 1 })),
    TypeError,
    /'num_threads' \(did you mean 'numThreads'\?\)/,
  );
  await rejects(
    () => new HybridFactorization({ noComponents: 2 }).fit(X, never({ numThreads: 300 })),
    RangeError,
    /numThreads to be an integer in 0\.\.256 but found 300/,
  );
  await rejects(
    () =>
      new HybridFactorization({ noComponents: 2 }).fitPartial(
        X,
        never({ signal: new AbortController() }),
      ),
    TypeError,
    /signal to be an AbortSignal/,
  );
  await rejects(
    () => new HybridFactorization({ noComponents: 2 }).fit(X, never(null)),
    TypeError,
    /options of fit\(\) to be an object but found null/,
  );
});

test("queries refuse unknown keys and non-boolean flags", () => {
  refuses(
    () => als.recommend(0, X, never({ filter_already_liked_items: false })),
    TypeError,
    /'filter_already_liked_items' \(did you mean 'filterAlreadyLiked'\?\)/,
  );
  refuses(
    () => als.recommend(0, X, never({ filter_items: [1] })),
    TypeError,
    /'filter_items' \(did you mean 'filterItems'\?\)/,
  );
  refuses(
    () => als.recommend(0, X, never({ recalculate_user: true })),
    TypeError,
    /'recalculate_user' \(did you mean 'recalculateUser'\?\)/,
  );
  refuses(
    () => als.recommend(0, X, never({ recalculateUser: 1 })),
    TypeError,
    /recalculateUser to be a boolean but found 1/,
  );
  refuses(
    () => als.recommend([0, 1], X, never({ filterAlreadyLiked: null })),
    TypeError,
    /filterAlreadyLiked to be a boolean but found null/,
  );
  refuses(
    () => als.recommend(0, X, never(null)),
    TypeError,
    /options of recommend\(\) to be an object but found null/,
  );
  refuses(
    () => als.similarItems(0, never({ N: 2 })),
    TypeError,
    /similarItems\(\).*'N' \(did you mean 'n'\?\)/,
  );
  refuses(
    () => als.similarItems(0, never({ filterUsers: [1] })),
    TypeError,
    /similarItems\(\).*found 'filterUsers'/,
  );
  refuses(
    () => als.similarUsers(0, never({ filterItems: [1] })),
    TypeError,
    /similarUsers\(\).*found 'filterItems'/,
  );
  refuses(
    () => als.explain(0, X, 1, never({ N: 2 })),
    TypeError,
    /explain\(\) \(n\) but found 'N' \(did you mean 'n'\?\)/,
  );
  refuses(
    () => lmf.recommend(0, X, never({ probability: true })),
    TypeError,
    /recommend\(\).*found 'probability'/,
  );
  refuses(
    () => lmf.recommend(0, X, never({ probabilities: "yes" })),
    TypeError,
    /probabilities to be a boolean but found a string 'yes'/,
  );
  refuses(
    () => lmf.recommend(0, X, never({ filterAlreadyLiked: 0 })),
    TypeError,
    /filterAlreadyLiked to be a boolean but found 0/,
  );
  refuses(
    () => knn.recommend(0, X, never({ N: 2 })),
    TypeError,
    /recommend\(\).*'N' \(did you mean 'n'\?\)/,
  );
  refuses(
    () => knn.recommend(0, X, never({ recalculateUser: true })),
    TypeError,
    /recommend\(\).*found 'recalculateUser'/,
  );
  refuses(() => knn.similarItems(0, never({ K: 2 })), TypeError, /similarItems\(\).*found 'K'/);
  refuses(
    () => hybrid.recommend(0, X, never({ user_features: null })),
    TypeError,
    /'user_features' \(did you mean 'userFeatures'\?\)/,
  );
  refuses(
    () => hybrid.recommend(0, X, never({ filterAlreadyLiked: "no" })),
    TypeError,
    /filterAlreadyLiked to be a boolean but found a string 'no'/,
  );
  refuses(
    () => hybrid.similarItems(0, never({ N: 2, itemFeatures: undefined })),
    TypeError,
    /similarItems\(\).*'N'/,
  );
});

test("splits and weighting refuse unknown keys and null options", () => {
  refuses(
    () => trainTestSplit(X, never({ seed: 1 })),
    TypeError,
    /trainTestSplit\(\) \(trainPercentage, randomState\) but found 'seed'/,
  );
  refuses(
    () => trainTestSplit(X, never(null)),
    TypeError,
    /options of trainTestSplit\(\) to be an object but found null/,
  );
  refuses(
    () => leaveKOutSplit(X, never({ K: 1 })),
    TypeError,
    /leaveKOutSplit\(\).*'K' \(did you mean 'k'\?\)/,
  );
  refuses(
    () => leaveKOutSplit(X, never({ train_only_size: 0.1 })),
    TypeError,
    /'train_only_size' \(did you mean 'trainOnlySize'\?\)/,
  );
  refuses(
    () => userBasedSplit(X, never({ test_percentage: 0.1 })),
    TypeError,
    /'test_percentage' \(did you mean 'testPercentage'\?\)/,
  );
  refuses(
    () => userBasedSplit(X, never({ random_state: 1 })),
    TypeError,
    /'random_state' \(did you mean 'randomState'\?\)/,
  );
  refuses(() => bm25Weight(X, never({ B: 0.5 })), TypeError, /'B' \(did you mean 'b'\?\)/);
  refuses(
    () => bm25Weight(X, never("k1")),
    TypeError,
    /options of bm25Weight\(\) to be an object but found a string 'k1'/,
  );
});

test("metrics refuse unknown keys and non-boolean flags", async () => {
  await rejects(
    () => rankingMetricsAtK(als, X, X, never({ K: 5 })),
    TypeError,
    /rankingMetricsAtK\(\).*'K' \(did you mean 'k'\?\)/,
  );
  await rejects(
    () => rankingMetricsAtK(als, X, X, never({ show_progress: false })),
    TypeError,
    /rankingMetricsAtK\(\).*found 'show_progress'/,
  );
  await rejects(
    () => rankingMetricsAtK(als, X, X, never({ perUser: "true" })),
    TypeError,
    /perUser to be a boolean but found a string 'true'/,
  );
  await rejects(
    () => rankingMetricsAtK(als, X, X, never({ progress: 1 })),
    TypeError,
    /progress to be a boolean but found 1/,
  );
  await rejects(
    () => precisionAtK(als, X, X, never({ N: 5 })),
    TypeError,
    /precisionAtK\(\).*found 'N'/,
  );
  await rejects(
    () => ndcgAtK(als, X, X, never({ per_user: true })),
    TypeError,
    /ndcgAtK\(\).*'per_user' \(did you mean 'perUser'\?\)/,
  );
  await rejects(
    () => aucAtK(als, X, X, never(null)),
    TypeError,
    /options of aucAtK\(\) to be an object but found null/,
  );
});

test("datasets, loaders and matrices refuse unknown keys and engine-level misuse", async () => {
  refuses(
    () => new Dataset(never({ user_identity_features: false })),
    TypeError,
    /'user_identity_features' \(did you mean 'userIdentityFeatures'\?\)/,
  );
  refuses(
    () => new Dataset(never({ userIdentityFeatures: "no" })),
    TypeError,
    /userIdentityFeatures to be a boolean but found a string 'no'/,
  );
  refuses(
    () => new IdMap(never({ sorted: true })),
    TypeError,
    /IdMap \(order, name\) but found 'sorted'/,
  );
  refuses(
    () => new IdMap().id("a", never({ missing: "undefined" })),
    TypeError,
    /IdMap\.id\(\) \(unknown\) but found 'missing'/,
  );
  refuses(
    () => new Dataset().buildInteractions([], never({ add: true })),
    TypeError,
    /buildInteractions\(\) \(unknown\) but found 'add'/,
  );
  refuses(
    () => CsrMatrix.fromCoo(never(null)),
    TypeError,
    /fromCoo\(\) to be an object but found null/,
  );
  refuses(
    () => CsrMatrix.fromCoo(never({ rows: [0] })),
    TypeError,
    /cols to be an array or a typed array but found undefined/,
  );
  refuses(
    () => CsrMatrix.fromCoo(never({ rows: [0], cols: [0], data: [1] })),
    TypeError,
    /fromCoo\(\).*found 'data'/,
  );
  refuses(
    () => CsrMatrix.fromCoo(never({ rows: 0, cols: [0] })),
    TypeError,
    /rows to be an array or a typed array but found 0/,
  );
  refuses(
    () => powerLawMatrix(never({ users: 3, items: 3, nnz: 3, random_state: 1 })),
    TypeError,
    /powerLawMatrix\(\).*found 'random_state'/,
  );
  refuses(
    () => powerLawMatrix(never(undefined)),
    TypeError,
    /powerLawMatrix\(\) to be an object but found null/,
  );
  refuses(
    () => listeningDataset(never({ genre: ["a"] })),
    TypeError,
    /listeningDataset\(\).*found 'genre'/,
  );
  await rejects(
    () => readDelimited(noFile, never(undefined)),
    TypeError,
    /user to be a column name or index but found undefined/,
  );
  await rejects(
    () => readDelimited(noFile, never({ user: 0, item: 1, min_rating: 3 })),
    TypeError,
    /readDelimited\(\).*'min_rating' \(did you mean 'minRating'\?\)/,
  );
  await rejects(
    () => readDelimited(noFile, never({ user: 0, item: 1, header: "yes" })),
    TypeError,
    /header to be a boolean but found a string 'yes'/,
  );
  await rejects(
    () => readDelimited(noFile, never({ user: 0, item: 1, skipMalformed: 1 })),
    TypeError,
    /skipMalformed to be a boolean but found 1/,
  );
  await rejects(
    () => readLastfm360k(noFile, never({ item_key: "name" })),
    TypeError,
    /readLastfm360k\(\).*'item_key' \(did you mean 'itemKey'\?\)/,
  );
  await rejects(
    () => readMovielens(noFile, never({ min_count: 2 })),
    TypeError,
    /readMovielens\(\).*'min_count' \(did you mean 'minCount'\?\)/,
  );
  await rejects(
    () => readMovielens(noFile, never({ titles: "no" })),
    TypeError,
    /titles to be a boolean but found a string 'no'/,
  );
  await rejects(
    () => readTasteProfile(noFile, never({ dataDir: "/tmp" })),
    TypeError,
    /readTasteProfile\(\).*found 'dataDir'/,
  );
  await rejects(
    () => fetchLastfm360k(never({ data_dir: "/tmp" })),
    TypeError,
    /fetchLastfm360k\(\).*'data_dir' \(did you mean 'dataDir'\?\)/,
  );
  await rejects(
    () => fetchMovielens("100k", never({ URL: "http://x" })),
    TypeError,
    /fetchMovielens\(\).*'URL' \(did you mean 'url'\?\)/,
  );
  await rejects(
    () => fetchTasteProfile(never({ itemKey: "name" })),
    TypeError,
    /fetchTasteProfile\(\).*found 'itemKey'/,
  );
});
