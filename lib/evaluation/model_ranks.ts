/**
 * The full-catalogue ranks of held-out interactions for any model the
 * evaluation functions take: LightFM's (lib/evaluation/lightfm.ts) and
 * Spotlight's (lib/evaluation/spotlight.ts) both check their inputs and rank
 * through this one path, so a metric is a few lines over the ranks.
 *
 * - A model with `predictRank` (every factor model) is asked for the ranks
 *   (lib/evaluation/ranks.ts defines them), with the training matrix and the
 *   feature matrices passed through; what it returns is checked to have the
 *   test matrix's sparsity pattern.
 * - A model with only `recommend` (a {@link RankingModel}: the kNN models) is
 *   ranked through `recommend(users, train, { n: nItems, filterAlreadyLiked:
 *   true })`: the rank of a test item is the number of other listed items
 *   scoring at least as much, the same rank when the list holds every item
 *   that is not a training item. Such a model needs the training matrix (it
 *   scores from the user's items) and takes no features; a test item missing
 *   from its list (a training item, when intersections are not checked) gets
 *   the rank after the last listed item.
 *
 * @module
 */
import { checkCsrMatrix, CsrMatrix } from "../sparse.ts";
import { booleanOption, describe } from "../validate.ts";
import {
  checkInteractions,
  checkNoIntersections,
  type MatrixNames,
  type PredictRankOptions,
  type RankPredictor,
} from "./ranks.ts";
import type { RankingModel } from "./scorer.ts";

/** A model the evaluation functions accept: one with `predictRank`, or a {@link RankingModel}. */
export type EvaluatedModel = RankPredictor | RankingModel;

/** What ranking the test matrix takes besides the model, each already of the right type. */
export interface RankInputs {
  /** Items never counted: row u holds user u's training items; undefined: none. */
  train: CsrMatrix | undefined;
  /** A `[nUsers, features]` matrix passed to `predictRank`; undefined: none. */
  userFeatures: CsrMatrix | undefined;
  /** A `[nItems, features]` matrix passed to `predictRank`; undefined: none. */
  itemFeatures: CsrMatrix | undefined;
  /** Refuse a test interaction that is also a training interaction. */
  checkIntersections: boolean;
}

const I32_MAX = 2_147_483_647;
/** Ranked entries per `recommend` call of the fallback (ids and scores: 32 MiB). */
const FALLBACK_BATCH_ENTRIES = 1 << 22;

/**
 * Checks what ranking takes besides the model before ranking: the shapes of
 * the matrices, what a model without `predictRank` cannot take or must have,
 * `checkIntersections` (true when undefined) and, when it holds, that no test
 * interaction is a training interaction.
 *
 * @param model A model already checked by {@link checkModel}.
 * @param test The held-out interactions, still unchecked.
 * @param given The caller's options, still unchecked: the training and feature matrices and
 *   `checkIntersections`, each undefined when not given.
 * @param names How the caller names the test and training matrices, for messages.
 * @returns The checked inputs, for {@link ranksOf}.
 * @throws TypeError for a matrix that is not a CsrMatrix, a `checkIntersections` that is not a
 *   boolean, features or no training matrix for a model without `predictRank`; RangeError for a
 *   wrong shape or shared interactions.
 */
export function checkRankInputs(
  model: EvaluatedModel,
  test: CsrMatrix,
  given: {
    train?: unknown;
    userFeatures?: unknown;
    itemFeatures?: unknown;
    checkIntersections?: unknown;
  },
  names: MatrixNames,
): RankInputs {
  checkInteractions(names.test, test, model.nUsers, model.nItems);
  const { train, userFeatures, itemFeatures } = given;
  if (train !== undefined) checkInteractions(names.train, train, model.nUsers, model.nItems);
  if (userFeatures !== undefined) {
    checkFeatures("userFeatures", userFeatures, model.nUsers, "users");
  }
  if (itemFeatures !== undefined) {
    checkFeatures("itemFeatures", itemFeatures, model.nItems, "items");
  }
  const checkIntersections = given.checkIntersections === undefined ||
    booleanOption("checkIntersections", given.checkIntersections);
  if (!hasPredictRank(model)) {
    for (const [name, value] of [["userFeatures", userFeatures], ["itemFeatures", itemFeatures]]) {
      if (value !== undefined) {
        throw new TypeError(
          `Expected ${name} to be undefined for a model without predictRank() (its recommend() takes no features) but found ${
            describe(value)
          }`,
        );
      }
    }
    if (train === undefined) {
      throw new TypeError(
        `Expected ${names.train} for a model without predictRank() (its recommend() scores from the user's items) but found undefined`,
      );
    }
  }
  if (checkIntersections && train !== undefined) checkNoIntersections(test, train, names);
  return { train, userFeatures, itemFeatures, checkIntersections };
}

/**
 * Checks that a value is a model the evaluation functions take: an object with
 * `predictRank` or `recommend` and integer `nUsers` and `nItems`.
 *
 * @param model The value to check.
 * @throws TypeError naming what is missing or wrong.
 */
export function checkModel(model: unknown): asserts model is EvaluatedModel {
  if (typeof model !== "object" || model === null) {
    throw new TypeError(`Expected model to be a model object but found ${describe(model)}`);
  }
  const candidate = model as Partial<RankPredictor> & Partial<RankingModel>;
  if (typeof candidate.predictRank !== "function" && typeof candidate.recommend !== "function") {
    throw new TypeError(
      `Expected model to have a predictRank() or recommend() method but found ${
        describe(model)
      } with neither`,
    );
  }
  for (const field of ["nUsers", "nItems"] as const) {
    const value = candidate[field];
    if (!Number.isSafeInteger(value) || value! < 0 || value! > I32_MAX) {
      throw new TypeError(
        `Expected model.${field} to be an integer in [0, ${I32_MAX}] but found ${describe(value)}`,
      );
    }
  }
}

function checkFeatures(
  name: string,
  matrix: unknown,
  rows: number,
  what: string,
): asserts matrix is CsrMatrix {
  checkCsrMatrix(name, matrix);
  if (matrix.nRows !== rows) {
    throw new RangeError(
      `Expected ${name} to have ${rows} rows (the model's ${what}) but found ${matrix.nRows}`,
    );
  }
}

function hasPredictRank(model: EvaluatedModel): model is RankPredictor {
  return typeof (model as Partial<RankPredictor>).predictRank === "function";
}

/**
 * The rank of every test entry (0 = best), from `predictRank` or the
 * `recommend` fallback (see the module's notes); the inputs are those
 * {@link checkRankInputs} accepted.
 *
 * @param model A model with `predictRank`, or a {@link RankingModel}.
 * @param test The held-out interactions; each stored entry is ranked.
 * @param inputs The training and feature matrices (intersections are not checked again).
 * @param names How the caller names the test matrix, for messages.
 * @returns A matrix with the sparsity pattern of `test`, ranks as values.
 * @throws TypeError when the model returns ranks of another shape or a malformed list.
 */
export function ranksOf(
  model: EvaluatedModel,
  test: CsrMatrix,
  inputs: RankInputs,
  names: MatrixNames,
): CsrMatrix {
  if (!hasPredictRank(model)) return ranksFromRecommend(model, test, inputs.train!, names);
  const options: PredictRankOptions = { checkIntersections: false };
  if (inputs.train !== undefined) options.trainInteractions = inputs.train;
  if (inputs.userFeatures !== undefined) options.userFeatures = inputs.userFeatures;
  if (inputs.itemFeatures !== undefined) options.itemFeatures = inputs.itemFeatures;
  const ranks = model.predictRank(test, options);
  checkReturnedRanks(ranks, test, names);
  return ranks;
}

/** Refuses ranks that are not a matrix with the test's sparsity pattern and values >= 0. */
function checkReturnedRanks(
  ranks: unknown,
  test: CsrMatrix,
  names: MatrixNames,
): asserts ranks is CsrMatrix {
  const expected =
    `a CsrMatrix with the sparsity pattern of ${names.test} (shape [${test.shape}], ${test.nnz} entries)`;
  if (
    !(ranks instanceof CsrMatrix) || ranks.nRows !== test.nRows || ranks.nCols !== test.nCols ||
    ranks.nnz !== test.nnz
  ) {
    const found = ranks instanceof CsrMatrix
      ? `shape [${ranks.shape}] with ${ranks.nnz} entries`
      : describe(ranks);
    throw new TypeError(`Expected model.predictRank() to return ${expected} but found ${found}`);
  }
  for (let u = 0; u <= test.nRows; u++) {
    if (ranks.indptr[u] !== test.indptr[u]) {
      throw new TypeError(
        `Expected model.predictRank() to return ${expected} but found indptr[${u}] = ${
          ranks.indptr[u]
        } instead of ${test.indptr[u]}`,
      );
    }
  }
  for (let p = 0; p < test.nnz; p++) {
    if (ranks.indices[p] !== test.indices[p]) {
      throw new TypeError(
        `Expected model.predictRank() to return ${expected} but found indices[${p}] = ${
          ranks.indices[p]
        } instead of ${test.indices[p]}`,
      );
    }
    if (!(ranks.data[p]! >= 0)) {
      throw new RangeError(
        `Expected model.predictRank() to return ranks >= 0 but found ${
          ranks.data[p]
        } at entry ${p}`,
      );
    }
  }
}

/**
 * Ranks through `recommend(users, train, { n: nItems, filterAlreadyLiked: true })`, a
 * batch of users at a time: a listed test item's rank is the number of other listed
 * items scoring at least as much; an unlisted one ranks after every listed item.
 */
function ranksFromRecommend(
  model: RankingModel,
  test: CsrMatrix,
  train: CsrMatrix,
  names: MatrixNames,
): CsrMatrix {
  const nItems = model.nItems;
  const out = new Float32Array(test.nnz);
  const users = usersWithTestItems(test);
  const batchSize = Math.max(1, Math.floor(FALLBACK_BATCH_ENTRIES / Math.max(nItems, 1)));
  // position[item] = the item's place in the current row's list, −1 when unlisted.
  const position = new Int32Array(nItems).fill(-1);
  for (let start = 0; start < users.length; start += batchSize) {
    const batch = users.subarray(start, start + batchSize);
    const ranked = model.recommend(batch, train, { n: nItems, filterAlreadyLiked: true });
    const width = checkRecommended(ranked, batch.length, nItems);
    for (let r = 0; r < batch.length; r++) {
      const ids = ranked.ids.subarray(r * width, (r + 1) * width);
      const scores = ranked.scores.subarray(r * width, (r + 1) * width);
      let listed = 0;
      while (listed < width && ids[listed]! >= 0) listed++;
      for (let p = 0; p < listed; p++) {
        const id = ids[p]!;
        if (id >= nItems || position[id] !== -1) {
          throw new TypeError(
            `Expected model.recommend() to list distinct item ids in [0, ${nItems}) but found ${id} at row ${r}, position ${p}`,
          );
        }
        if (p > 0 && !(scores[p]! <= scores[p - 1]!)) {
          throw new TypeError(
            `Expected model.recommend() to return scores in descending order but found ${
              scores[p]
            } after ${scores[p - 1]} at row ${r}, position ${p}`,
          );
        }
        position[id] = p;
      }
      const [rowStart, rowEnd] = test.rowRange(batch[r]!);
      for (let q = rowStart; q < rowEnd; q++) {
        const item = test.indices[q]!;
        if (!(item >= 0 && item < nItems)) {
          throw new RangeError(
            `Expected ${names.test}.indices[${q}] to be an item in [0, ${nItems}) but found ${item} (the matrix was changed after construction)`,
          );
        }
        const p = position[item]!;
        out[q] = p < 0 ? listed : atLeast(scores, listed, p) - 1;
      }
      for (let p = 0; p < listed; p++) position[ids[p]!] = -1;
    }
  }
  return new CsrMatrix(test.shape, test.indptr.slice(), test.indices.slice(), out);
}

/** How many of the first `listed` (descending) scores are >= scores[p]: a binary search past p. */
function atLeast(scores: Float32Array, listed: number, p: number): number {
  const score = scores[p]!;
  let low = p + 1;
  let high = listed;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (scores[middle]! >= score) low = middle + 1;
    else high = middle;
  }
  return low;
}

function checkRecommended(
  ranked: { ids: unknown; scores: unknown; shape: unknown },
  rows: number,
  nItems: number,
): number {
  const shape = ranked?.shape as [number, number] | undefined;
  const width = shape?.[1];
  if (
    shape?.[0] !== rows || !Number.isInteger(width) || width! < 0 || width! > nItems ||
    !(ranked.ids instanceof Int32Array) || ranked.ids.length !== rows * width! ||
    !(ranked.scores instanceof Float32Array) || ranked.scores.length !== rows * width!
  ) {
    throw new TypeError(
      `Expected model.recommend() to return Int32Array ids and Float32Array scores of shape [${rows}, <= ${nItems}] but found shape [${shape}]`,
    );
  }
  return width!;
}

/** The users with at least one stored entry in `test`, in increasing order. */
export function usersWithTestItems(test: CsrMatrix): Int32Array {
  const users: number[] = [];
  for (let u = 0; u < test.nRows; u++) if (test.indptr[u + 1]! > test.indptr[u]!) users.push(u);
  return Int32Array.from(users);
}

/** The ranks below k among entries [start, end) of `ranks`: the hits in a top k. */
export function hits(ranks: CsrMatrix, start: number, end: number, k: number): number {
  let count = 0;
  for (let p = start; p < end; p++) if (ranks.data[p]! < k) count++;
  return count;
}
