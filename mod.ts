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
export { AlternatingLeastSquares } from "./lib/models/als.ts";
export type { AlternatingLeastSquaresOptions, Explanation, FitOptions } from "./lib/models/als.ts";
export type { FactorMatrix, RecommendOptions, SimilarOptions, SimilarUsersOptions } from "./lib/models/matrix_factorization.ts";
export type { Ranked, RankedBatch } from "./lib/models/query.ts";
export { getNumThreads, NativeError, setNumThreads } from "./lib/native/library.ts";
