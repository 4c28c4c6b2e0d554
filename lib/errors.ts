/**
 * The error a model throws when asked for what only a fitted model has.
 *
 * The other error classes users catch live beside what throws them:
 * `NativeError` (lib/native/library.ts), `TacitFileError` (lib/io/format.ts),
 * `MalformedLineError` (lib/datasets/records.ts); argument checks throw the
 * built-in `TypeError` (wrong type, unknown option) and `RangeError` (right
 * type, wrong value). The README's "Errors" section lists them all.
 *
 * @module
 */

/**
 * A model was used before `fit()` or `load()` gave it state, or while its
 * first `fit()` is still running (an un-awaited fit).
 *
 * @example
 * ```ts
 * import { ok, throws } from "node:assert/strict";
 * import { AlternatingLeastSquares, CsrMatrix, NotFittedError } from "../mod.ts";
 * const model = new AlternatingLeastSquares({ factors: 2 });
 * const plays = CsrMatrix.fromCoo({ rows: [0, 1], cols: [1, 0], shape: [2, 2] });
 * throws(() => model.recommend(0, plays), NotFittedError);
 * ok(new NotFittedError("x") instanceof Error);
 * ```
 */
export class NotFittedError extends Error {
  /** Builds the error with `message`. */
  constructor(message: string) {
    super(message);
    this.name = "NotFittedError";
  }
}
