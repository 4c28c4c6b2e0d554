/**
 * `CsrMatrix`: the one sparse type every model takes.
 *
 * Layout: `indptr` (Int32, nRows + 1), `indices` (Int32 column ids, strictly
 * increasing within a row) and `data` (Float32). Keeping indptr in 32 bits lets
 * both Deno and Bun pass it to native code without a BigInt conversion; the
 * cost is a limit of 2,147,483,647 stored values per matrix (MAX_NNZ), about
 * ten times Netflix-prize scale. Larger data is split by rows.
 *
 * @module
 */

/** The most stored values one CsrMatrix can hold (Int32 indptr). */
export const MAX_NNZ = 2_147_483_647;

export type Shape = readonly [rows: number, cols: number];

/** Coordinate-format input for {@link CsrMatrix.fromCoo}. */
export interface CooInput {
  rows: ArrayLike<number>;
  cols: ArrayLike<number>;
  /** Defaults to 1 for every entry. */
  values?: ArrayLike<number>;
  /** Defaults to (max row + 1, max col + 1). */
  shape?: Shape;
}

/** One row's stored entries, as views into the matrix (not copies). */
export interface SparseRow {
  indices: Int32Array;
  data: Float32Array;
}

/**
 * A compressed sparse row matrix of float32 values.
 *
 * @example
 * ```ts
 * import { CsrMatrix } from "../mod.ts";
 * const m = CsrMatrix.fromCoo({ rows: [0, 1, 1], cols: [2, 0, 2], values: [1, 4, 5] });
 * console.assert(m.nnz === 3 && m.shape[1] === 3);
 * ```
 */
export class CsrMatrix {
  readonly shape: Shape;
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  readonly data: Float32Array;

  /**
   * Wraps the three arrays after validating them (they are not copied).
   * @throws TypeError for a wrong array type or length, RangeError for an index
   * out of range, unsorted or duplicate columns, or a value that is not finite.
   */
  constructor(shape: Shape, indptr: Int32Array, indices: Int32Array, data: Float32Array) {
    checkShape(shape);
    if (!(indptr instanceof Int32Array)) throw new TypeError("Expected indptr to be an Int32Array");
    if (!(indices instanceof Int32Array)) {
      throw new TypeError("Expected indices to be an Int32Array");
    }
    if (!(data instanceof Float32Array)) throw new TypeError("Expected data to be a Float32Array");
    const [nRows, nCols] = shape;
    if (indptr.length !== nRows + 1) {
      throw new TypeError(
        `Expected indptr to have ${nRows + 1} entries for ${nRows} rows but found ${indptr.length}`,
      );
    }
    const nnz = indptr[nRows]!;
    if (indptr[0] !== 0) throw new RangeError(`Expected indptr[0] to be 0 but found ${indptr[0]}`);
    if (indices.length !== nnz) {
      throw new TypeError(
        `Expected indices to have indptr[${nRows}] = ${nnz} entries but found ${indices.length}`,
      );
    }
    if (data.length !== nnz) {
      throw new TypeError(`Expected data to have ${nnz} entries but found ${data.length}`);
    }
    checkStructure(nRows, nCols, indptr, indices);
    checkFinite(data);
    this.shape = [nRows, nCols];
    this.indptr = indptr;
    this.indices = indices;
    this.data = data;
  }

  get nRows(): number {
    return this.shape[0];
  }

  get nCols(): number {
    return this.shape[1];
  }

  /** Number of stored values. */
  get nnz(): number {
    return this.indptr[this.shape[0]]!;
  }

  /**
   * Builds a matrix from coordinates, summing duplicate (row, col) entries.
   * Runs in O(nnz + rows + cols) with two counting sorts.
   */
  static fromCoo(input: CooInput): CsrMatrix {
    const { rows, cols } = input;
    const count = rows.length;
    if (cols.length !== count) {
      throw new TypeError(
        `Expected cols to have ${count} entries like rows but found ${cols.length}`,
      );
    }
    if (input.values !== undefined && input.values.length !== count) {
      throw new TypeError(
        `Expected values to have ${count} entries like rows but found ${input.values.length}`,
      );
    }
    if (count > MAX_NNZ) {
      throw new RangeError(`Expected at most ${MAX_NNZ} entries but found ${count}`);
    }
    const shape = input.shape ?? inferShape(rows, cols);
    checkShape(shape);
    const [nRows, nCols] = shape;
    const values = input.values;
    for (let e = 0; e < count; e++) {
      checkCoordinate("rows", e, rows[e]!, nRows);
      checkCoordinate("cols", e, cols[e]!, nCols);
      if (values !== undefined && !Number.isFinite(values[e]!)) {
        throw new RangeError(`Expected values[${e}] to be finite but found ${values[e]}`);
      }
    }
    // Counting sort by column, then a stable counting sort by row: entries end
    // up ordered by (row, col), so duplicates are adjacent.
    const byCol = countingOrder(cols, nCols, identityOrder(count));
    const order = countingOrder(rows, nRows, byCol);
    return mergeSorted(shape, rows, cols, values, order);
  }

  /** Builds a matrix from dense rows, storing the nonzero entries. */
  static fromDense(dense: readonly (readonly number[])[], nCols?: number): CsrMatrix {
    const cols = nCols ?? (dense[0]?.length ?? 0);
    const indptr = new Int32Array(dense.length + 1);
    const indices: number[] = [];
    const data: number[] = [];
    dense.forEach((row, r) => {
      if (row.length !== cols) {
        throw new TypeError(
          `Expected dense row ${r} to have ${cols} entries but found ${row.length}`,
        );
      }
      row.forEach((v, c) => {
        if (v !== 0) {
          indices.push(c);
          data.push(v);
        }
      });
      indptr[r + 1] = indices.length;
    });
    return new CsrMatrix(
      [dense.length, cols],
      indptr,
      Int32Array.from(indices),
      Float32Array.from(data),
    );
  }

  /** A matrix of the given shape with no stored values. */
  static empty(shape: Shape): CsrMatrix {
    checkShape(shape);
    return new CsrMatrix(
      shape,
      new Int32Array(shape[0] + 1),
      new Int32Array(0),
      new Float32Array(0),
    );
  }

  /** Row-major dense copy, `rows * cols` entries. */
  toDense(): Float32Array {
    const [nRows, nCols] = this.shape;
    const out = new Float32Array(nRows * nCols);
    for (let r = 0; r < nRows; r++) {
      for (let p = this.indptr[r]!; p < this.indptr[r + 1]!; p++) {
        out[r * nCols + this.indices[p]!] = this.data[p]!;
      }
    }
    return out;
  }

  /** The same sparsity structure with new values (shares indptr and indices). */
  withData(data: Float32Array): CsrMatrix {
    return new CsrMatrix(this.shape, this.indptr, this.indices, data);
  }

  /** The transpose, by one counting sort over columns: O(nnz + rows + cols). */
  transpose(): CsrMatrix {
    const [nRows, nCols] = this.shape;
    const nnz = this.nnz;
    const indptr = new Int32Array(nCols + 1);
    for (let p = 0; p < nnz; p++) indptr[this.indices[p]! + 1]!++;
    for (let c = 0; c < nCols; c++) indptr[c + 1]! += indptr[c]!;
    const next = indptr.slice(0, nCols);
    const indices = new Int32Array(nnz);
    const data = new Float32Array(nnz);
    for (let r = 0; r < nRows; r++) {
      for (let p = this.indptr[r]!; p < this.indptr[r + 1]!; p++) {
        const dst = next[this.indices[p]!]!++;
        indices[dst] = r;
        data[dst] = this.data[p]!;
      }
    }
    return new CsrMatrix([nCols, nRows], indptr, indices, data);
  }

  /** Views of one row's stored column ids and values. */
  row(r: number): SparseRow {
    checkRowId("row", r, this.shape[0]);
    const start = this.indptr[r]!;
    const end = this.indptr[r + 1]!;
    return { indices: this.indices.subarray(start, end), data: this.data.subarray(start, end) };
  }

  /** A new matrix made of the given rows, in the given order (repeats allowed). */
  rows(ids: ArrayLike<number>): CsrMatrix {
    const indptr = new Int32Array(ids.length + 1);
    for (let k = 0; k < ids.length; k++) {
      const r = ids[k]!;
      checkRowId(`rows[${k}]`, r, this.shape[0]);
      indptr[k + 1] = indptr[k]! + (this.indptr[r + 1]! - this.indptr[r]!);
    }
    const nnz = indptr[ids.length]!;
    const indices = new Int32Array(nnz);
    const data = new Float32Array(nnz);
    for (let k = 0; k < ids.length; k++) {
      const r = ids[k]!;
      const start = this.indptr[r]!;
      const end = this.indptr[r + 1]!;
      indices.set(this.indices.subarray(start, end), indptr[k]!);
      data.set(this.data.subarray(start, end), indptr[k]!);
    }
    return new CsrMatrix([ids.length, this.shape[1]], indptr, indices, data);
  }

  /** A copy with `rows` rows: extra rows are empty, fewer rows truncate. */
  resize(nRows: number, nCols: number = this.shape[1]): CsrMatrix {
    checkShape([nRows, nCols]);
    const keep = Math.min(nRows, this.shape[0]);
    const nnz = this.indptr[keep]!;
    for (let p = 0; p < nnz; p++) {
      if (this.indices[p]! >= nCols) {
        throw new RangeError(
          `Expected every column id to be below ${nCols} but found ${this.indices[p]}`,
        );
      }
    }
    const indptr = new Int32Array(nRows + 1);
    indptr.set(this.indptr.subarray(0, keep + 1));
    indptr.fill(nnz, keep + 1);
    return new CsrMatrix(
      [nRows, nCols],
      indptr,
      this.indices.slice(0, nnz),
      this.data.slice(0, nnz),
    );
  }
}

function checkShape(shape: Shape): void {
  if (!Array.isArray(shape) || shape.length !== 2) {
    throw new TypeError(`Expected shape to be [rows, cols] but found ${String(shape)}`);
  }
  for (const [k, v] of shape.entries()) {
    if (!Number.isInteger(v) || v < 0 || v > MAX_NNZ - 1) {
      throw new RangeError(
        `Expected shape[${k}] to be an integer in [0, ${MAX_NNZ - 1}] but found ${v}`,
      );
    }
  }
}

function checkRowId(name: string, r: number, nRows: number): void {
  if (!Number.isInteger(r) || r < 0 || r >= nRows) {
    throw new RangeError(`${name} = ${r} is out of range for a matrix with ${nRows} rows`);
  }
}

function checkCoordinate(name: string, e: number, v: number, limit: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= limit) {
    throw new RangeError(`${name}[${e}] = ${v} is out of range for shape limit ${limit}`);
  }
}

function checkStructure(
  nRows: number,
  nCols: number,
  indptr: Int32Array,
  indices: Int32Array,
): void {
  for (let r = 0; r < nRows; r++) {
    const start = indptr[r]!;
    const end = indptr[r + 1]!;
    if (end < start) {
      throw new RangeError(
        `Expected indptr to be non-decreasing but indptr[${
          r + 1
        }] = ${end} < indptr[${r}] = ${start}`,
      );
    }
    let previous = -1;
    for (let p = start; p < end; p++) {
      const c = indices[p]!;
      if (c < 0 || c >= nCols) {
        throw new RangeError(`indices[${p}] = ${c} is out of range for ${nCols} columns`);
      }
      if (c <= previous) {
        throw new RangeError(
          `Expected strictly increasing column ids in row ${r} but found ${previous} then ${c} at indices[${p}]`,
        );
      }
      previous = c;
    }
  }
}

function checkFinite(data: Float32Array): void {
  for (let p = 0; p < data.length; p++) {
    const v = data[p]!;
    // v - v is NaN exactly when v is NaN or infinite; cheaper than Number.isFinite in a hot loop.
    if (v - v !== 0) throw new RangeError(`Expected data[${p}] to be finite but found ${v}`);
  }
}

function inferShape(rows: ArrayLike<number>, cols: ArrayLike<number>): Shape {
  let maxRow = -1;
  let maxCol = -1;
  for (let e = 0; e < rows.length; e++) {
    if (rows[e]! > maxRow) maxRow = rows[e]!;
    if (cols[e]! > maxCol) maxCol = cols[e]!;
  }
  return [maxRow + 1, maxCol + 1];
}

function identityOrder(count: number): Int32Array {
  const order = new Int32Array(count);
  for (let e = 0; e < count; e++) order[e] = e;
  return order;
}

/** Stable counting sort of `order` by `keys[order[k]]`. */
function countingOrder(keys: ArrayLike<number>, nKeys: number, order: Int32Array): Int32Array {
  const start = new Int32Array(nKeys + 1);
  for (let e = 0; e < order.length; e++) start[keys[e]! + 1]!++;
  for (let k = 0; k < nKeys; k++) start[k + 1]! += start[k]!;
  const out = new Int32Array(order.length);
  for (let k = 0; k < order.length; k++) {
    const e = order[k]!;
    out[start[keys[e]!]!++] = e;
  }
  return out;
}

function mergeSorted(
  shape: Shape,
  rows: ArrayLike<number>,
  cols: ArrayLike<number>,
  values: ArrayLike<number> | undefined,
  order: Int32Array,
): CsrMatrix {
  const indptr = new Int32Array(shape[0] + 1);
  const indices = new Int32Array(order.length);
  const data = new Float32Array(order.length);
  let n = 0;
  let lastRow = -1;
  let lastCol = -1;
  for (let k = 0; k < order.length; k++) {
    const e = order[k]!;
    const r = rows[e]!;
    const c = cols[e]!;
    const v = values === undefined ? 1 : values[e]!;
    if (r === lastRow && c === lastCol) {
      data[n - 1]! += v;
      continue;
    }
    indices[n] = c;
    data[n] = v;
    n++;
    indptr[r + 1]!++;
    lastRow = r;
    lastCol = c;
  }
  for (let r = 0; r < shape[0]; r++) indptr[r + 1]! += indptr[r]!;
  return new CsrMatrix(shape, indptr, indices.slice(0, n), data.slice(0, n));
}
