/**
 * Re-weighting of an interaction matrix before fitting: BM25, TF-IDF and row
 * L2 normalisation, with the semantics of Python `implicit.nearest_neighbours`
 * (`bm25_weight`, `tfidf_weight`, `normalize`).
 *
 * Rows are documents (users) and columns are terms (items): `N` is the number of
 * rows and the document frequency `df[j]` of column `j` is how many entries
 * column `j` stores. Each function computes in float64 and rounds once to
 * float32, returns a new matrix with the same structure and leaves its input
 * untouched. Work is O(nnz + rows + cols) over the typed arrays, with no
 * allocation per entry.
 *
 * Values must be non-negative (counts, plays, confidences). One deliberate
 * difference from `implicit`: a stored zero stays zero and a row whose values
 * are all zero stays zero, where `implicit` would produce NaN (0/0), which a
 * CsrMatrix refuses.
 *
 * @module
 */
import { checkCsrMatrix, type CsrMatrix } from "./sparse.ts";
import { finiteNumber, knownOptions } from "./validate.ts";

/** Options of {@link bm25Weight}. */
export interface Bm25Options {
  /** Term-frequency saturation `K1` (>= 0). Default 100, as in `implicit`. */
  k1?: number;
  /** Length normalisation `B` in [0, 1]. Default 0.8, as in `implicit`. */
  b?: number;
}

function checkMatrix(X: unknown): CsrMatrix {
  checkCsrMatrix("X", X);
  const data = X.data;
  for (let p = 0; p < data.length; p++) {
    if (data[p]! < 0) {
      throw new RangeError(
        `Expected X to hold non-negative values but found data[${p}] = ${data[p]}`,
      );
    }
  }
  return X;
}

/** `idf[j] = ln(N) - ln(1 + df[j])`, with `df[j]` the stored entries of column `j`. */
function inverseDocumentFrequency(X: CsrMatrix): Float64Array {
  const df = new Float64Array(X.nCols);
  const indices = X.indices;
  for (let p = 0; p < indices.length; p++) df[indices[p]!]!++;
  const logN = Math.log(X.nRows);
  for (let j = 0; j < df.length; j++) df[j] = logN - Math.log1p(df[j]!);
  return df;
}

/**
 * Weighs each row of `X` by Okapi BM25, as `implicit.nearest_neighbours.bm25_weight`:
 *
 * ```
 * idf[j]        = ln(N) - ln(1 + df[j])                  N = rows, df[j] = entries in column j
 * lengthNorm[i] = (1 - B) + B * rowSum[i] / mean(rowSum)  mean over all N rows
 * w[i][j]       = x[i][j] * (K1 + 1) / (K1 * lengthNorm[i] + x[i][j]) * idf[j]
 * ```
 *
 * A stored zero gives zero (where 0/0 would arise in `implicit`, it gives NaN).
 *
 * @param X A users × items matrix of non-negative values.
 * @param options `k1` (>= 0, default 100) and `b` (in [0, 1], default 0.8).
 * @returns A new matrix with the structure of `X` and BM25 weights as values.
 * @throws TypeError when `X` is not a CsrMatrix or an option is not a number;
 *   RangeError for a negative value in `X` or an option out of range.
 * @example
 * ```ts
 * import { deepStrictEqual, ok } from "node:assert/strict";
 * import { CsrMatrix } from "./sparse.ts";
 * import { bm25Weight } from "./weighting.ts";
 * const plays = CsrMatrix.fromDense([[3, 1], [0, 1], [0, 1], [0, 0]]);
 * // N = 4. Column 0: df = 1, idf = ln 4 − ln 2 = ln 2. Column 1: df = 3, idf = ln 4 − ln 4 = 0.
 * // b = 0 makes every lengthNorm 1: w[0][0] = 3 · (1 + 1) / (1 + 3) · ln 2 = 1.5 ln 2.
 * const flat = bm25Weight(plays, { k1: 1, b: 0 });
 * ok(Math.abs(flat.data[0]! - 1.5 * Math.LN2) < 1e-6);
 * deepStrictEqual([...flat.data.subarray(1)], [0, 0, 0]);
 * deepStrictEqual(flat.indices, plays.indices);
 * // b = 0.8: row 0 sums to 4 against a mean of 6 / 4, so lengthNorm = 0.2 + 0.8 · 4 / 1.5 = 7 / 3
 * // and w[0][0] = 3 · 2 / (7 / 3 + 3) · ln 2 = 1.125 ln 2.
 * const long = bm25Weight(plays, { k1: 1, b: 0.8 });
 * ok(Math.abs(long.data[0]! - 1.125 * Math.LN2) < 1e-6);
 * ```
 */
export function bm25Weight(X: CsrMatrix, options: Bm25Options = {}): CsrMatrix {
  knownOptions("bm25Weight()", options, ["k1", "b"]);
  const k1 = finiteNumber("k1", options.k1 ?? 100, { min: 0 });
  const b = finiteNumber("b", options.b ?? 0.8, { min: 0, max: 1 });
  const { indptr, data } = checkMatrix(X);
  const indices = X.indices;
  const nRows = X.nRows;
  const idf = inverseDocumentFrequency(X);

  // Row sums, kept in the output array's place until the output is written.
  const rowSum = new Float64Array(nRows);
  let total = 0;
  for (let i = 0; i < nRows; i++) {
    let sum = 0;
    for (let p = indptr[i]!; p < indptr[i + 1]!; p++) sum += data[p]!;
    rowSum[i] = sum;
    total += sum;
  }
  const meanLength = total / nRows;

  const out = new Float32Array(data.length);
  for (let i = 0; i < nRows; i++) {
    // meanLength is 0 only when every value is 0; then every output is 0 below.
    const lengthNorm = meanLength > 0 ? (1 - b) + (b * rowSum[i]!) / meanLength : 1 - b;
    const k1Norm = k1 * lengthNorm;
    for (let p = indptr[i]!; p < indptr[i + 1]!; p++) {
      const x = data[p]!;
      out[p] = x === 0 ? 0 : ((x * (k1 + 1)) / (k1Norm + x)) * idf[indices[p]!]!;
    }
  }
  return X.withData(out);
}

/**
 * Weighs `X` by TF-IDF, as `implicit.nearest_neighbours.tfidf_weight`:
 *
 * ```
 * idf[j]  = ln(N) - ln(1 + df[j])      N = rows, df[j] = entries in column j
 * w[i][j] = sqrt(x[i][j]) * idf[j]
 * ```
 *
 * @param X A users × items matrix of non-negative values.
 * @returns A new matrix with the structure of `X` and TF-IDF weights as values.
 * @throws TypeError when `X` is not a CsrMatrix; RangeError for a negative value in `X`.
 * @example
 * ```ts
 * import { ok, throws } from "node:assert/strict";
 * import { CsrMatrix } from "./sparse.ts";
 * import { tfidfWeight } from "./weighting.ts";
 * const weighted = tfidfWeight(CsrMatrix.fromDense([[4, 0], [0, 1], [1, 0], [0, 0]]));
 * // N = 4. Column 0: df = 2, idf = ln 4 − ln 3. Column 1: df = 1, idf = ln 4 − ln 2 = ln 2.
 * // Stored entries in CSR order: (0, 0) = √4 · ln(4/3), (1, 1) = √1 · ln 2, (2, 0) = √1 · ln(4/3).
 * const expected = [2 * Math.log(4 / 3), Math.LN2, Math.log(4 / 3)];
 * expected.forEach((w, p) => ok(Math.abs(weighted.data[p]! - w) < 1e-6));
 * throws(() => tfidfWeight(CsrMatrix.fromDense([[-1]])), RangeError);
 * ```
 */
export function tfidfWeight(X: CsrMatrix): CsrMatrix {
  const { data, indices } = checkMatrix(X);
  const idf = inverseDocumentFrequency(X);
  const out = new Float32Array(data.length);
  for (let p = 0; p < data.length; p++) {
    const x = data[p]!;
    if (x !== 0) out[p] = Math.sqrt(x) * idf[indices[p]!]!; // a stored zero stays +0
  }
  return X.withData(out);
}

/**
 * Scales each row of `X` to unit L2 norm, as `implicit.nearest_neighbours.normalize`
 * (and `sklearn.preprocessing.normalize`):
 *
 * ```
 * w[i][j] = x[i][j] / sqrt(sum_k x[i][k]^2)
 * ```
 *
 * A row whose norm is zero stays zero. Negative values are allowed here.
 *
 * @param X Any CsrMatrix.
 * @returns A new matrix with the structure of `X` and unit-norm rows.
 * @throws TypeError when `X` is not a CsrMatrix.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { CsrMatrix } from "./sparse.ts";
 * import { normalize } from "./weighting.ts";
 * // Row 0 has norm √(3² + 4²) = 5; row 1 has norm 2.
 * const unit = normalize(CsrMatrix.fromDense([[3, 4], [0, -2]]));
 * deepStrictEqual(unit.data, Float32Array.of(0.6, 0.8, -1));
 * ```
 */
export function normalize(X: CsrMatrix): CsrMatrix {
  checkCsrMatrix("X", X);
  const { indptr, data } = X;
  const out = new Float32Array(data.length);
  for (let i = 0; i < X.nRows; i++) {
    const start = indptr[i]!;
    const end = indptr[i + 1]!;
    let squares = 0;
    for (let p = start; p < end; p++) squares += data[p]! * data[p]!;
    if (squares === 0) continue;
    const norm = Math.sqrt(squares);
    for (let p = start; p < end; p++) out[p] = data[p]! / norm;
  }
  return X.withData(out);
}
