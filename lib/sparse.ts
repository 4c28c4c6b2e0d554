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
import { describe, FLOAT32_MAX, float32Value, knownOptions } from "./validate.ts";

/**
 * Marks a CsrMatrix of any copy of this package (a JSR and an npm copy, two
 * versions): `instanceof CsrMatrix` tests the mark, not the prototype, so a
 * matrix built by another copy is accepted. The layout version in the key
 * changes if the fields ever do.
 */
const CSR_BRAND: unique symbol = Symbol.for("tacit.CsrMatrix/1");

/**
 * The most stored values one CsrMatrix can hold, 2^31 − 1 (its indptr is Int32); a shape
 * entry is at most `MAX_NNZ - 1`.
 */
export const MAX_NNZ = 2_147_483_647;

/** How errors about a matrix whose arrays were changed after construction begin. */
const changed =
  "The matrix's arrays no longer form a valid CSR matrix (changed after construction?)";

/**
 * A matrix shape `[rows, cols]`: two integers in `[0, MAX_NNZ - 1]`. Every function that
 * takes a shape throws a TypeError when it is not a pair and a RangeError for an entry out
 * of that range.
 */
export type Shape = readonly [rows: number, cols: number];

/** Refuses anything that is not an array-like of numbers' container (an array, a typed array). */
function arrayLike(name: string, value: unknown): ArrayLike<number> {
  if (
    typeof value !== "object" || value === null ||
    typeof (value as ArrayLike<unknown>).length !== "number"
  ) {
    throw new TypeError(
      `Expected ${name} to be an array or a typed array but found ${describe(value)}`,
    );
  }
  return value as ArrayLike<number>;
}

/** Coordinate-format input for {@link CsrMatrix.fromCoo}: entry `e` is `(rows[e], cols[e], values[e])`. */
export interface CooInput {
  /** The row of each entry: integers in `[0, shape[0])`. */
  rows: ArrayLike<number>;
  /** The column of each entry: integers in `[0, shape[1])`, as many as `rows`. */
  cols: ArrayLike<number>;
  /** The value of each entry, finite, as many as `rows`. Defaults to 1 for every entry. */
  values?: ArrayLike<number>;
  /** Defaults to `[max row + 1, max col + 1]` (`[0, 0]` with no entries). */
  shape?: Shape;
}

/** One row's stored entries, as views into the matrix (not copies): writing to them writes the matrix. */
export interface SparseRow {
  /** The row's column ids, strictly increasing. */
  indices: Int32Array;
  /** The row's values, aligned with `indices`. */
  data: Float32Array;
}

/**
 * A compressed sparse row matrix of float32 values. Row `r` stores the columns
 * `indices[indptr[r] .. indptr[r + 1])` (strictly increasing) with the values
 * `data[indptr[r] .. indptr[r + 1])`. The fields are readonly references, but the
 * arrays are shared, not frozen: do not change `indptr` or `indices` in place.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, equal } from "node:assert/strict";
 * import { CsrMatrix } from "./sparse.ts";
 * // [[0, 0, 1],
 * //  [4, 0, 5]]
 * const m = CsrMatrix.fromCoo({ rows: [0, 1, 1], cols: [2, 0, 2], values: [1, 4, 5] });
 * deepStrictEqual(m.shape, [2, 3]);
 * equal(m.nnz, 3);
 * deepStrictEqual(m.indptr, Int32Array.of(0, 1, 3));
 * deepStrictEqual(m.indices, Int32Array.of(2, 0, 2));
 * deepStrictEqual(m.data, Float32Array.of(1, 4, 5));
 * ```
 */
export class CsrMatrix {
  /** `[rows, cols]`. */
  readonly shape: Shape;
  /** Row pointers, `rows + 1` entries: `indptr[0] = 0`, non-decreasing, `indptr[rows] = nnz`. */
  readonly indptr: Int32Array;
  /** The column id of each stored value (`nnz` entries), strictly increasing within a row. */
  readonly indices: Int32Array;
  /** The stored values (`nnz` entries, all finite), aligned with `indices`. */
  readonly data: Float32Array;

  /**
   * Wraps the three arrays after validating them in O(nnz + rows); they are not copied.
   *
   * @param shape `[rows, cols]`.
   * @param indptr Row pointers, `rows + 1` entries starting at 0.
   * @param indices Column ids, `indptr[rows]` entries, each row's strictly increasing and below `cols`.
   * @param data Finite values, as many as `indices`.
   * @throws TypeError for a wrong array type or length, RangeError for a bad shape, an
   *   `indptr` that does not start at 0 or decreases, a column id out of range, unsorted or
   *   duplicate columns in a row, or a value that is not finite.
   * @example
   * ```ts
   * import { equal, throws } from "node:assert/strict";
   * import { CsrMatrix } from "./sparse.ts";
   * const m = new CsrMatrix([2, 2], Int32Array.of(0, 1, 2), Int32Array.of(1, 0), Float32Array.of(7, 8));
   * equal(m.toDense()[1], 7);
   * // Row 0 lists column 1 twice.
   * throws(() => new CsrMatrix([1, 2], Int32Array.of(0, 2), Int32Array.of(1, 1), Float32Array.of(1, 2)), RangeError);
   * ```
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
    this.shape = Object.freeze([nRows, nCols] as const);
    this.indptr = indptr;
    this.indices = indices;
    this.data = data;
  }

  /** The cross-copy mark {@link CSR_BRAND}. */
  get [CSR_BRAND](): true {
    return true;
  }

  /** True for a CsrMatrix of this or any other copy of the package (see {@link CSR_BRAND}). */
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null &&
      (value as { [CSR_BRAND]?: unknown })[CSR_BRAND] === true;
  }

  /**
   * Checks in O(1) that the matrix still has the arrays it was built with:
   * `indptr` of rows + 1 entries, `indices` and `data` of `nnz`, none of
   * their buffers detached (transferred to a worker, or a resizable buffer
   * shrunk). Every path into native code calls it; the entries themselves are
   * re-checked natively.
   *
   * @param name The argument's name for the message, e.g. `"userItems"`.
   * @throws TypeError naming the array that changed.
   */
  checkIntact(name: string): void {
    const [nRows] = this.shape;
    for (
      const [field, array] of [["indptr", this.indptr], ["indices", this.indices], [
        "data",
        this.data,
      ]] as const
    ) {
      if ((array.buffer as { detached?: boolean }).detached === true) {
        throw new TypeError(
          `Expected ${name}.${field} to be readable but its buffer was detached (transferred or resized) after the matrix was built`,
        );
      }
    }
    if (this.indptr.length !== nRows + 1) {
      throw new TypeError(
        `Expected ${name}.indptr to have ${
          nRows + 1
        } entries for its ${nRows} rows but found ${this.indptr.length} (changed after the matrix was built)`,
      );
    }
    const nnz = this.indptr[nRows]!;
    if (this.indices.length !== nnz || this.data.length !== nnz) {
      throw new TypeError(
        `Expected ${name}.indices and ${name}.data to have indptr[${nRows}] = ${nnz} entries but found ${this.indices.length} and ${this.data.length} (changed after the matrix was built)`,
      );
    }
  }

  /** Number of rows, `shape[0]`. */
  get nRows(): number {
    return this.shape[0];
  }

  /** Number of columns, `shape[1]`. */
  get nCols(): number {
    return this.shape[1];
  }

  /** Number of stored values, `indptr[rows]` (stored zeros included). */
  get nnz(): number {
    return this.indptr[this.shape[0]]!;
  }

  /**
   * Builds a matrix from coordinates, summing duplicate (row, col) entries (in float32, in
   * input order). Values are rounded to float32; a zero value is stored. Runs in
   * O(entries + rows + cols) with two counting sorts.
   *
   * @param input `rows`, `cols`, optional `values` (default 1 each) and `shape` (default
   *   `[max row + 1, max col + 1]`).
   * @returns A new matrix; the input arrays are not kept.
   * @throws TypeError when `cols` or `values` has another length than `rows` or the shape is
   *   not a pair; RangeError for more than {@link MAX_NNZ} entries, a bad shape, a coordinate
   *   that is not an integer in range, or a value (or sum of duplicates) not finite in float32.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { CsrMatrix } from "./sparse.ts";
   * // (0, 1) appears twice: 2 + 3 = 5. Row 1 is empty.
   * const m = CsrMatrix.fromCoo({ rows: [2, 0, 0], cols: [0, 1, 1], values: [4, 2, 3], shape: [3, 2] });
   * deepStrictEqual(m.toDense(), Float32Array.of(0, 5, 0, 0, 4, 0));
   * ```
   */
  static fromCoo(input: CooInput): CsrMatrix {
    knownOptions("CsrMatrix.fromCoo()", input ?? null, ["rows", "cols", "values", "shape"]);
    const rows = arrayLike("rows", input.rows);
    const cols = arrayLike("cols", input.cols);
    if (input.values !== undefined) arrayLike("values", input.values);
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
      if (values !== undefined) float32Value(`values[${e}]`, values[e]);
    }
    // Counting sort by column, then a stable counting sort by row: entries end
    // up ordered by (row, col), so duplicates are adjacent.
    const byCol = countingOrder(cols, nCols, identityOrder(count));
    const order = countingOrder(rows, nRows, byCol);
    return mergeSorted(shape, rows, cols, values, order);
  }

  /**
   * Builds a matrix from dense rows, storing the nonzero entries (rounded to float32).
   *
   * @param dense The rows, all of `nCols` entries.
   * @param nCols The number of columns; defaults to the length of the first row (0 with no rows).
   * @returns A new matrix of shape `[dense.length, nCols]`.
   * @throws TypeError for a row of another length; RangeError for a value that is not finite.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { CsrMatrix } from "./sparse.ts";
   * const m = CsrMatrix.fromDense([[0, 3], [1.5, 0]]);
   * deepStrictEqual(m.indptr, Int32Array.of(0, 1, 2));
   * deepStrictEqual(m.indices, Int32Array.of(1, 0));
   * deepStrictEqual(m.data, Float32Array.of(3, 1.5));
   * deepStrictEqual(CsrMatrix.fromDense([], 4).shape, [0, 4]);
   * ```
   */
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
        float32Value(`dense[${r}][${c}]`, v);
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

  /**
   * A matrix of the given shape with no stored values.
   *
   * @param shape `[rows, cols]`.
   * @returns A new matrix with `nnz === 0`.
   * @throws TypeError / RangeError for a bad shape.
   */
  static empty(shape: Shape): CsrMatrix {
    checkShape(shape);
    return new CsrMatrix(
      shape,
      new Int32Array(shape[0] + 1),
      new Int32Array(0),
      new Float32Array(0),
    );
  }

  /**
   * A row-major dense copy: entry (r, c) is at `r * cols + c`.
   *
   * @returns A new Float32Array of `rows * cols` entries, zero where nothing is stored.
   */
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

  /**
   * A copy that owns its arrays, validated as the constructor validates (so a
   * matrix changed after construction is refused here, naming what is wrong).
   *
   * @returns A new matrix with copies of `indptr`, `indices` and `data`.
   * @throws TypeError / RangeError as the constructor does.
   * @example
   * ```ts
   * import { deepStrictEqual, notStrictEqual } from "node:assert/strict";
   * import { CsrMatrix } from "./sparse.ts";
   * const m = CsrMatrix.fromDense([[1, 0], [0, 2]]);
   * const c = m.copy();
   * notStrictEqual(c.indices, m.indices);
   * deepStrictEqual(c.toDense(), m.toDense());
   * ```
   */
  copy(): CsrMatrix {
    return new CsrMatrix(this.shape, this.indptr.slice(), this.indices.slice(), this.data.slice());
  }

  /**
   * The same sparsity structure with new values; `indptr` and `indices` are shared and
   * `data` is used as it is (not copied).
   *
   * @param data `nnz` finite values, aligned with `indices`.
   * @returns A new matrix.
   * @throws TypeError when `data` is not a Float32Array of `nnz` entries; RangeError for a
   *   value that is not finite.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { CsrMatrix } from "./sparse.ts";
   * const plays = CsrMatrix.fromDense([[3, 0], [0, 7]]);
   * const binary = plays.withData(new Float32Array(plays.nnz).fill(1));
   * deepStrictEqual(binary.toDense(), Float32Array.of(1, 0, 0, 1));
   * ```
   */
  withData(data: Float32Array): CsrMatrix {
    return new CsrMatrix(this.shape, this.indptr, this.indices, data);
  }

  /**
   * The transpose, by one counting sort over columns: O(nnz + rows + cols).
   *
   * @returns A new matrix of shape `[cols, rows]` (its arrays are new).
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { CsrMatrix } from "./sparse.ts";
   * const t = CsrMatrix.fromDense([[1, 2, 0], [0, 0, 3]]).transpose();
   * deepStrictEqual(t.shape, [3, 2]);
   * deepStrictEqual(t.toDense(), Float32Array.of(1, 0, 2, 0, 0, 3));
   * ```
   */
  transpose(): CsrMatrix {
    const [nRows, nCols] = this.shape;
    const nnz = this.#checkedNnz();
    const indptr = new Int32Array(nCols + 1);
    for (let p = 0; p < nnz; p++) {
      const column = this.indices[p]!;
      if (!(column >= 0 && column < nCols)) {
        throw new RangeError(
          `${changed}: indices[${p}] = ${column} is out of range for ${nCols} columns`,
        );
      }
      indptr[column + 1]!++;
    }
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

  /**
   * Views of one row's stored column ids and values (no copy).
   *
   * @param r A row id, an integer in `[0, rows)`.
   * @returns `{ indices, data }` as subarrays of the matrix's arrays.
   * @throws RangeError when `r` is not an integer in `[0, rows)`.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { CsrMatrix } from "./sparse.ts";
   * const { indices, data } = CsrMatrix.fromDense([[0, 0], [5, 6]]).row(1);
   * deepStrictEqual([...indices], [0, 1]);
   * deepStrictEqual([...data], [5, 6]);
   * ```
   */
  row(r: number): SparseRow {
    checkRowId("row", r, this.shape[0]);
    const [start, end] = this.rowRange(r);
    return { indices: this.indices.subarray(start, end), data: this.data.subarray(start, end) };
  }

  /**
   * Where row `r`'s entries lie: `[indptr[r], indptr[r + 1])`, checked to be
   * an ordered range within the stored entries. The arrays are the caller's
   * (not copied), so this holds even for a matrix changed after construction.
   *
   * @param r A row id in `[0, rows)` (not checked here).
   * @returns `[start, end]` with `0 <= start <= end <= nnz`.
   * @throws RangeError when the row's pointers were changed into an invalid range.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { CsrMatrix } from "./sparse.ts";
   * deepStrictEqual(CsrMatrix.fromDense([[1, 0], [2, 3]]).rowRange(1), [1, 3]);
   * ```
   */
  rowRange(r: number): [start: number, end: number] {
    const start = this.indptr[r]!;
    const end = this.indptr[r + 1]!;
    if (!(start >= 0 && start <= end && end <= this.indices.length && end <= this.data.length)) {
      throw new RangeError(
        `${changed}: row ${r} spans indptr[${r}] = ${start} to indptr[${
          r + 1
        }] = ${end}, not a range within the ${this.indices.length} stored entries`,
      );
    }
    return [start, end];
  }

  /** nnz after checking that indptr still matches the arrays (O(rows)). */
  #checkedNnz(): number {
    const nRows = this.shape[0];
    const nnz = this.indptr[nRows]!;
    if (this.indptr[0] !== 0 || nnz !== this.indices.length || nnz !== this.data.length) {
      throw new RangeError(
        `${changed}: indptr[0] = ${
          this.indptr[0]
        } and indptr[${nRows}] = ${nnz} but it stores ${this.indices.length} indices and ${this.data.length} values`,
      );
    }
    for (let r = 0; r < nRows; r++) {
      if (this.indptr[r]! > this.indptr[r + 1]!) this.rowRange(r);
    }
    return nnz;
  }

  /**
   * A new matrix made of copies of the given rows, in the given order (repeats allowed).
   *
   * @param ids Row ids, integers in `[0, rows)`.
   * @returns A matrix of shape `[ids.length, cols]`: its row k is row `ids[k]`.
   * @throws RangeError naming the first id that is not an integer in `[0, rows)`.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { CsrMatrix } from "./sparse.ts";
   * const m = CsrMatrix.fromDense([[1, 0], [0, 2], [3, 0]]);
   * deepStrictEqual(m.rows([2, 0, 2]).toDense(), Float32Array.of(3, 0, 1, 0, 3, 0));
   * ```
   */
  rows(ids: ArrayLike<number>): CsrMatrix {
    const indptr = new Int32Array(ids.length + 1);
    for (let k = 0; k < ids.length; k++) {
      const r = ids[k]!;
      checkRowId(`rows[${k}]`, r, this.shape[0]);
      const [start, end] = this.rowRange(r);
      indptr[k + 1] = indptr[k]! + (end - start);
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

  /**
   * A copy of another shape: rows past the current ones are empty, rows past `nRows` are
   * dropped; more columns add empty columns.
   *
   * @param nRows The new number of rows.
   * @param nCols The new number of columns, default the current one.
   * @returns A new matrix of shape `[nRows, nCols]`.
   * @throws TypeError / RangeError for a bad shape; RangeError when a kept row stores a
   *   column id at or above `nCols` (fewer columns never drop values silently).
   * @example
   * ```ts
   * import { deepStrictEqual, throws } from "node:assert/strict";
   * import { CsrMatrix } from "./sparse.ts";
   * const m = CsrMatrix.fromDense([[1, 0], [0, 2]]);
   * deepStrictEqual(m.resize(3).toDense(), Float32Array.of(1, 0, 0, 2, 0, 0));
   * deepStrictEqual(m.resize(1, 3).toDense(), Float32Array.of(1, 0, 0));
   * throws(() => m.resize(2, 1), RangeError);
   * ```
   */
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

/**
 * Duplicate entries of one (row, col) whose float32 sum overflows: callers
 * that know what rows and columns stand for (a Dataset's ids, a file's user
 * and item names) catch it and name them.
 */
export class DuplicateOverflowError extends RangeError {
  /** The row whose duplicates overflow. */
  readonly row: number;
  /** The column whose duplicates overflow. */
  readonly col: number;

  /** Builds the error for (row, col) and the overflowed sum. */
  constructor(row: number, col: number, sum: number) {
    super(
      `The duplicate entries of (row ${row}, col ${col}) sum to more than float32 holds (magnitude at most ${FLOAT32_MAX}): their float32 sum overflows to ${sum}`,
    );
    this.name = "RangeError";
    this.row = row;
    this.col = col;
  }
}

/**
 * Checks that an argument is a CsrMatrix (of any copy of the package) whose
 * arrays are still the ones it was built with ({@link CsrMatrix.checkIntact}).
 *
 * @param name The argument's name.
 * @param matrix The value to check.
 * @throws TypeError naming the argument.
 */
export function checkCsrMatrix(name: string, matrix: unknown): asserts matrix is CsrMatrix {
  if (!(matrix instanceof CsrMatrix)) {
    throw new TypeError(`Expected ${name} to be a CsrMatrix but found ${describe(matrix)}`);
  }
  matrix.checkIntact(name);
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
  if (typeof v !== "number") {
    throw new TypeError(`Expected ${name}[${e}] to be an integer id but found ${describe(v)}`);
  }
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
      if (!Number.isFinite(data[n - 1]!)) throw new DuplicateOverflowError(r, c, data[n - 1]!);
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
