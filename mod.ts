/**
 * tacit: fast collaborative filtering for implicit feedback, for Deno and Bun.
 *
 * This module only re-exports; each concept lives in its own file under lib/.
 *
 * @module
 */
export { CsrMatrix, MAX_NNZ } from "./lib/sparse.ts";
export type { CooInput, Shape, SparseRow } from "./lib/sparse.ts";
export { bm25Weight, normalize, tfidfWeight } from "./lib/weighting.ts";
export type { Bm25Options } from "./lib/weighting.ts";
export { AlternatingLeastSquares } from "./lib/models/als.ts";
export type {
  AlternatingLeastSquaresOptions,
  ConfidenceRule,
  Explanation,
  FitOptions,
} from "./lib/models/als.ts";
export type {
  BuildIndexesOptions,
  FactorMatrix,
  IndexedQueryOptions,
  ModelIndexes,
  RecommendOptions,
  SimilarOptions,
  SimilarUsersOptions,
} from "./lib/models/matrix_factorization.ts";
export type { Ranked, RankedBatch } from "./lib/models/query.ts";
export { AnnIndex } from "./lib/ann/index.ts";
export type { SearchPlan } from "./lib/ann/plan.ts";
export { NativeHandle } from "./lib/native/handle.ts";
export type {
  IndexBuildOptions,
  IndexKind,
  IndexMetric,
  IndexSearchOptions,
  RankFilters,
  SearchStrategy,
} from "./lib/ann/index.ts";
export { HnswIndex } from "./lib/ann/hnsw.ts";
export type { HnswBuildOptions, HnswParameters, HnswSearchOptions } from "./lib/ann/hnsw.ts";
export { IvfIndex } from "./lib/ann/ivf.ts";
export type { IvfBuildOptions, IvfParameters, IvfSearchOptions } from "./lib/ann/ivf.ts";
export { ProjectionForestIndex } from "./lib/ann/forest.ts";
export type {
  ProjectionForestBuildOptions,
  ProjectionForestParameters,
  ProjectionForestSearchOptions,
} from "./lib/ann/forest.ts";
export type { IndexRole } from "./lib/ann/attached.ts";
export type { IndexKindName } from "./lib/ann/kinds.ts";
export { getNumThreads, NativeError, setNumThreads } from "./lib/native/library.ts";
export { gpuAvailability, GpuFactors, gpuMemory, GpuUnavailableError } from "./lib/native/gpu.ts";
export type { GpuAvailability, GpuDevice, GpuStorage } from "./lib/native/gpu.ts";
export { Dataset, IdMap } from "./lib/dataset.ts";
export type {
  BuildFeaturesOptions,
  BuildInteractionsOptions,
  DatasetFitOptions,
  DatasetJSON,
  DatasetOptions,
  ExternalId,
  FeatureRow,
  FeatureWeights,
  IdLookupOptions,
  IdMapJSON,
  IdMapOptions,
  IdOrder,
  Interaction,
  InteractionColumns,
  InteractionsAndWeights,
} from "./lib/dataset.ts";
export { leaveKOutSplit, trainTestSplit, userBasedSplit } from "./lib/evaluation/split.ts";
export type {
  LeaveKOutSplitOptions,
  Split,
  TrainTestSplitOptions,
  UserBasedSplitOptions,
} from "./lib/evaluation/split.ts";
export {
  aucAtK,
  meanAveragePrecisionAtK,
  mrrAtK,
  mrrAtK as mrr,
  ndcgAtK,
  precisionAtK,
  rankingMetricsAtK,
  recallAtK,
} from "./lib/evaluation/metrics.ts";
export type {
  PrecisionDefinition,
  RankingMetrics,
  RankingMetricsOptions,
  RankingMetricsPerUser,
  SingleMetric,
} from "./lib/evaluation/metrics.ts";
export type { RankingModel } from "./lib/evaluation/scorer.ts";
export * as lightfm from "./lib/evaluation/lightfm.ts";
export { aucScore, reciprocalRank } from "./lib/evaluation/lightfm.ts";
export type { AtKOptions, EvaluatedModel, EvaluationOptions } from "./lib/evaluation/lightfm.ts";
export * as spotlight from "./lib/evaluation/spotlight.ts";
export { mrrScore, precisionRecallScore } from "./lib/evaluation/spotlight.ts";
export type {
  PrecisionRecall,
  PrecisionRecallOptions,
  PrecisionRecallPerK,
  SpotlightOptions,
} from "./lib/evaluation/spotlight.ts";
export { factorRanks } from "./lib/evaluation/ranks.ts";
export type { PredictRankOptions, RankPredictor } from "./lib/evaluation/ranks.ts";
export { listeningDataset, powerLawMatrix } from "./lib/datasets/synthetic.ts";
export type { ListeningData, ListeningOptions, PowerLawOptions } from "./lib/datasets/synthetic.ts";
export { DataFileError, MalformedLineError } from "./lib/datasets/records.ts";
export { NotFittedError } from "./lib/errors.ts";
export type { Interactions, ReadOptions } from "./lib/datasets/records.ts";
export { readDelimited } from "./lib/datasets/delimited.ts";
export type { Column, DelimitedOptions } from "./lib/datasets/delimited.ts";
export { fetchLastfm360k, LASTFM_360K_URL, readLastfm360k } from "./lib/datasets/lastfm.ts";
export type { LastfmOptions } from "./lib/datasets/lastfm.ts";
export { fetchMovielens, MOVIELENS_URL, readMovielens } from "./lib/datasets/movielens.ts";
export type { MovielensOptions, MovielensVariant } from "./lib/datasets/movielens.ts";
export {
  fetchTasteProfile,
  readTasteProfile,
  TASTE_PROFILE_URL,
} from "./lib/datasets/taste_profile.ts";
export { dataDir, DownloadError } from "./lib/datasets/cache.ts";
export type { FetchOptions } from "./lib/datasets/cache.ts";
export { BayesianPersonalizedRanking } from "./lib/models/bpr.ts";
export type { BayesianPersonalizedRankingOptions, BprFitOptions } from "./lib/models/bpr.ts";
export { LogisticMatrixFactorization } from "./lib/models/lmf.ts";
export type {
  LmfFitOptions,
  LmfNegativeSampling,
  LmfRecommendOptions,
  LogisticMatrixFactorizationOptions,
} from "./lib/models/lmf.ts";
export { HybridFactorization, HybridFactorization as LightFM } from "./lib/models/hybrid.ts";
export type {
  FeatureOptions,
  HybridFactorizationOptions,
  HybridFitOptions,
  HybridLoss,
  HybridPredictOptions,
  HybridRecommendOptions,
  HybridSimilarOptions,
  HybridSimilarUsersOptions,
  LearningSchedule,
  LightFMOptions,
  Representations,
} from "./lib/models/hybrid.ts";
export {
  MinibatchFactorization,
  MinibatchFactorization as ImplicitFactorizationModel,
} from "./lib/models/minibatch.ts";
export type {
  ImplicitFactorizationModelOptions,
  MinibatchFactorizationOptions,
  MinibatchFitOptions,
  MinibatchLoss,
  MinibatchOptimizer,
} from "./lib/models/minibatch.ts";
export {
  BM25Recommender,
  CosineRecommender,
  ItemItemRecommender,
  NearestNeighboursRecommender,
  TFIDFRecommender,
} from "./lib/models/nearest_neighbours.ts";
export type {
  BM25RecommenderOptions,
  ItemItemRecommenderOptions,
  NeighboursFitOptions,
  NeighboursRecommendOptions,
  NeighboursSimilarOptions,
} from "./lib/models/nearest_neighbours.ts";
export { Model } from "./lib/models/model.ts";
export type { ModelClass, ModelRecommendOptions, ModelSchema } from "./lib/models/model.ts";
export { MatrixFactorizationBase } from "./lib/models/matrix_factorization.ts";
export type {
  CommonModelOptions,
  Device,
  FactorSchema,
  QueryFactors,
} from "./lib/models/matrix_factorization.ts";
export type {
  OptionSchema,
  OptionsOf,
  OptionSpec,
  OptionValues,
  SchemaFor,
} from "./lib/models/options.ts";
export type { Ids, Precision, RankOptions } from "./lib/models/query.ts";
export { bf16CandidatesAvailable } from "./lib/models/query.ts";
export { TacitFileError } from "./lib/io/format.ts";
export type { TacitArray, TacitFile, TacitTypedArray } from "./lib/io/format.ts";
export type { NeighbourSchema, Weighted } from "./lib/models/nearest_neighbours.ts";
export { loadModel, MODEL_CLASSES } from "./lib/models/registry.ts";
export { decodeNpy, encodeNpy, readNpy, writeNpy } from "./lib/io/npy.ts";
export type { NpyArray, NpyDtype, NpyInput, NpyTypedArray } from "./lib/io/npy.ts";
export { exportFactors, FACTOR_FILES, importFactors } from "./lib/io/factors.ts";
export type { ExportFactorsOptions, ImportedFactors, RowIds } from "./lib/io/factors.ts";
