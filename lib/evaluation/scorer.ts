/**
 * The one thing evaluation needs from a model: a batched top-n that leaves out
 * the items a user already has. Every factor model (ALS, BPR, LMF) and every
 * neighbourhood model implements it through `recommend`, so metrics work for
 * each of them unchanged.
 *
 * @module
 */
import type { RankedBatch } from "../models/query.ts";
import type { CsrMatrix } from "../sparse.ts";

/**
 * What `rankingMetricsAtK` (lib/evaluation/metrics.ts) needs from a model. Every model in
 * tacit implements it; an object literal with these three members works too (the metrics'
 * examples use one).
 */
export interface RankingModel {
  /** Number of users: the rows of the `train` and `test` matrices. */
  readonly nUsers: number;
  /** Number of items: the columns of the `train` and `test` matrices. */
  readonly nItems: number;
  /**
   * Top `n` items for each user in `userids`, best first.
   *
   * @param userids Dense user ids in `[0, nUsers)`.
   * @param userItems A `nUsers × nItems` matrix; row `u` holds the items of user `u`.
   * @param options `n`, the list length (k), and `filterAlreadyLiked`: when true (as the
   *   metrics always pass it), the items stored in row `u` of `userItems` are left out.
   * @returns `ids` flat and row-major of shape `[userids.length, width]` with `width <= n`,
   *   a row with fewer results padded with id −1.
   */
  recommend(
    userids: ArrayLike<number>,
    userItems: CsrMatrix,
    options: { n: number; filterAlreadyLiked: boolean },
  ): RankedBatch;
}
