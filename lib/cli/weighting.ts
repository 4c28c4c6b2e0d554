/**
 * `--weighting`: what fit and evaluate apply to the matrix before fitting.
 *
 * @module
 */
import type { CsrMatrix } from "../sparse.ts";
import { bm25Weight, tfidfWeight } from "../weighting.ts";
import { choiceFlag, type Flags, type Values } from "./args.ts";

/** The `--weighting` values. */
export const WEIGHTINGS = ["none", "bm25", "tfidf"] as const;

/** The flag. */
export const WEIGHTING_FLAGS: Flags = {
  weighting: {
    type: "string",
    value: "scheme",
    doc: "none (default), bm25 or tfidf: applied to the matrix before the fit.",
  },
};

/** The weighting named by the flags, and the matrix it gives. */
export function weighted(values: Values, matrix: CsrMatrix): { name: string; matrix: CsrMatrix } {
  const name = choiceFlag(values, "weighting", WEIGHTINGS, "none");
  const result = name === "bm25"
    ? bm25Weight(matrix)
    : name === "tfidf"
    ? tfidfWeight(matrix)
    : matrix;
  return { name, matrix: result };
}
