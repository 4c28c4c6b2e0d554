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

export interface RankingModel {
  readonly nUsers: number;
  readonly nItems: number;
  /**
   * Top `n` items for each user in `userids` (flat `[users, n]`, padded with
   * id −1), excluding the items in row `u` of `userItems` when
   * `filterAlreadyLiked` is true.
   */
  recommend(
    userids: ArrayLike<number>,
    userItems: CsrMatrix,
    options: { n: number; filterAlreadyLiked: boolean },
  ): RankedBatch;
}
