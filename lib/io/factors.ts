/**
 * A matrix-factorization model's factors as NPY files, out and in: export them for NumPy,
 * pandas or another engine, and import factors trained elsewhere (NumPy, PyTorch,
 * `implicit`, Spark via NumPy) into a model that then serves `recommend`, `similarItems` and
 * `similarUsers`.
 *
 * The layout of a factors directory:
 *
 * ```
 * user_factors.npy   float32 [nUsers, columns], C order: row u is dense user u
 * item_factors.npy   float32 [nItems, columns], C order: row i is dense item i
 * user_ids.json      optional: a JSON array of nUsers external ids (strings or numbers),
 *                    entry u is the external id of row u
 * item_ids.json      optional: the same for items
 * ```
 *
 * `columns` is every column the model scores with (for BPR the item bias column and the
 * user's constant 1 included), so an import into a model of the same kind gives the same
 * scores. Without an ids file the external ids are the row numbers `0..n-1`. Import also
 * takes float64 factors (NumPy's default), converted to float32.
 *
 * @module
 */
import { mkdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { DataFileError } from "../datasets/records.ts";
import { type ExternalId, IdMap } from "../dataset.ts";
import type { FactorMatrix, MatrixFactorizationBase } from "../models/matrix_factorization.ts";
import { describe, quote } from "../validate.ts";
import { readFileWhole, writeFileAtomic, writeReason } from "./files.ts";
import { readNpy, writeNpy } from "./npy.ts";

/** The file names of a factors directory. */
export const FACTOR_FILES = {
  userFactors: "user_factors.npy",
  itemFactors: "item_factors.npy",
  userIds: "user_ids.json",
  itemIds: "item_ids.json",
} as const;

/** External ids of the rows of a factor matrix: an {@link IdMap}, or the ids in row order. */
export type RowIds = IdMap | readonly ExternalId[];

/** Options of {@link exportFactors}. */
export interface ExportFactorsOptions {
  /** External ids of the users, one per row of the user factors (e.g. `dataset.users`). */
  userIds?: RowIds;
  /** External ids of the items, one per row of the item factors (e.g. `dataset.items`). */
  itemIds?: RowIds;
}

/** What {@link importFactors} returns: the maps from external ids to the model's dense ids. */
export interface ImportedFactors {
  /** Users: external id ⇄ row of the user factors (ids `0..n-1` when there was no ids file). */
  users: IdMap;
  /** Items: external id ⇄ row of the item factors. */
  items: IdMap;
}

/**
 * The external ids of `count` rows, checked: `ids` in row order, or `0..count-1` when absent.
 *
 * @param name The option's name for messages, e.g. `"userIds"`.
 * @param ids The ids given.
 * @param count The rows they label.
 * @param what `"users"` or `"items"`.
 * @returns One id per row.
 * @throws TypeError for ids that are not an IdMap or an array of strings and finite
 *   numbers; RangeError for the wrong count or a repeated id.
 */
export function rowIds(
  name: string,
  ids: RowIds | undefined,
  count: number,
  what: string,
): ExternalId[] {
  if (ids === undefined) return Array.from({ length: count }, (_, k) => k);
  const list = ids instanceof IdMap ? ids.externals() : Array.isArray(ids) ? ids : undefined;
  if (list === undefined) {
    throw new TypeError(
      `Expected ${name} to be an IdMap or an array of ids but found ${describe(ids)}`,
    );
  }
  if (list.length !== count) {
    throw new RangeError(
      `Expected ${name} to have one id per row (${count} ${what}) but found ${list.length}`,
    );
  }
  const seen = new IdMap({ name: name });
  for (const [k, id] of list.entries()) {
    if (typeof id !== "string" && (typeof id !== "number" || !Number.isFinite(id))) {
      throw new TypeError(
        `Expected ${name}[${k}] to be a string or a finite number but found ${describe(id)}`,
      );
    }
    if (seen.has(id)) {
      throw new RangeError(
        `Expected ${name} to hold distinct ids but ${name}[${k}] repeats ${quote(id)}`,
      );
    }
    seen.intern(id);
  }
  return list.slice();
}

/**
 * Writes a fitted factor model's user and item factors as NPY files (and their external ids
 * as JSON) into `dir`, created when missing; the layout is in this module's documentation.
 * Each file is written atomically; an ids file left by an earlier export is removed when
 * no ids are given for it, so the directory never pairs factors with stale ids.
 *
 * @param model A fitted (or assigned) matrix-factorization model.
 * @param dir The directory to write into.
 * @param options `userIds` and `itemIds`: external ids in row order, or IdMaps.
 * @returns The paths written, factors first.
 * @throws NotFittedError before fit; TypeError / RangeError for ids of the wrong type,
 *   count or with repeats; DataFileError naming the file when writing fails.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { AlternatingLeastSquares, CsrMatrix } from "../../mod.ts";
 * import { exportFactors, importFactors } from "./factors.ts";
 * const plays = CsrMatrix.fromCoo({ rows: [0, 0, 1, 2], cols: [0, 1, 1, 2], shape: [3, 3] });
 * const model = await new AlternatingLeastSquares({ factors: 2, randomState: 1 })
 *   .fit(plays, { progress: false });
 * const dir = mkdtempSync(join(tmpdir(), "tacit-factors-"));
 * await exportFactors(model, dir, { userIds: ["ann", "bob", "cy"], itemIds: [10, 20, 30] });
 * const copy = new AlternatingLeastSquares({ factors: 2 });
 * const { users, items } = await importFactors(copy, dir);
 * deepStrictEqual(copy.recommend(users.id("bob")!, plays), model.recommend(1, plays));
 * deepStrictEqual(items.externals(), [10, 20, 30]);
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function exportFactors(
  model: MatrixFactorizationBase,
  dir: string,
  options: ExportFactorsOptions = {},
): Promise<string[]> {
  const { users, items, userIds, itemIds } = await exportTarget(
    model,
    dir,
    options,
    "exportFactors()",
  );
  const written: string[] = [];
  const userPath = join(dir, FACTOR_FILES.userFactors);
  const itemPath = join(dir, FACTOR_FILES.itemFactors);
  await writeNpy(userPath, { array: users.data, shape: users.shape });
  await writeNpy(itemPath, { array: items.data, shape: items.shape });
  written.push(userPath, itemPath);
  for (
    const [file, ids] of [[FACTOR_FILES.userIds, userIds], [FACTOR_FILES.itemIds, itemIds]] as const
  ) {
    const path = join(dir, file);
    if (ids === undefined) {
      await unlink(path).catch(() => {});
      continue;
    }
    try {
      await writeFileAtomic(path, [new TextEncoder().encode(JSON.stringify(ids) + "\n")]);
    } catch (error) {
      throw new DataFileError(`Could not write ids file ${path}: ${writeReason(error)}`, path, {
        cause: error,
      });
    }
    written.push(path);
  }
  return written;
}

/**
 * Reads a factors directory (as {@link exportFactors} writes, or NumPy's `np.save` of two
 * float32 or float64 matrices) and assigns the factors to `model`, which then serves
 * `recommend`, `similarItems` and `similarUsers`. The model's options are not checked
 * against the files' columns: build it with the options the factors were trained with
 * (`save` refuses factors whose columns the options do not give).
 *
 * @param model A factor model (fitted or not); its factors are replaced.
 * @param dir The directory holding `user_factors.npy`, `item_factors.npy` and, optionally,
 *   `user_ids.json` and `item_ids.json`.
 * @returns IdMaps from external ids to the model's dense user and item ids.
 * @throws DataFileError naming the file: missing or unreadable, not NPY, not a float
 *   matrix `[rows >= 1, 1..1024 columns]`, a non-finite value (named by row and column),
 *   matrices of different widths, an ids file that is not a JSON array of distinct ids, one
 *   per row. The model is unchanged then.
 */
export async function importFactors(
  model: MatrixFactorizationBase,
  dir: string,
): Promise<ImportedFactors> {
  if (typeof dir !== "string" || dir === "") {
    throw new TypeError(`Expected dir to be a non-empty string but found ${describe(dir)}`);
  }
  const users = await readFactorMatrix(join(dir, FACTOR_FILES.userFactors));
  const items = await readFactorMatrix(join(dir, FACTOR_FILES.itemFactors));
  const userIds = await readIds(join(dir, FACTOR_FILES.userIds), users.shape[0], "user");
  const itemIds = await readIds(join(dir, FACTOR_FILES.itemIds), items.shape[0], "item");
  assignChecked(model, users, items, join(dir, FACTOR_FILES.itemFactors));
  return { users: userIds, items: itemIds };
}

/**
 * The model's factors, refusing an unfitted model or a non-model.
 *
 * @param model What the caller passed as the model.
 * @param caller The function's name for messages.
 */
/**
 * What an export of `model`'s factors to `dir` needs, checked before anything is
 * written: the factors, the ids (validated; undefined when not given), and the
 * directory, created.
 *
 * @param model The fitted factor model.
 * @param dir The directory to write to.
 * @param options The export's `userIds` / `itemIds`.
 * @param caller The exporting function, for messages.
 * @returns The factors and the ids in row order.
 * @throws As {@link factorsOf}; TypeError for a bad `dir` or ids; DataFileError when `dir`
 *   cannot be created.
 */
export async function exportTarget(
  model: MatrixFactorizationBase,
  dir: string,
  options: ExportFactorsOptions,
  caller: string,
): Promise<{
  users: FactorMatrix;
  items: FactorMatrix;
  userIds: ExternalId[] | undefined;
  itemIds: ExternalId[] | undefined;
}> {
  const { users, items } = factorsOf(model, caller);
  if (typeof dir !== "string" || dir === "") {
    throw new TypeError(`Expected dir to be a non-empty string but found ${describe(dir)}`);
  }
  const userIds = options.userIds === undefined
    ? undefined
    : rowIds("userIds", options.userIds, users.shape[0], "users");
  const itemIds = options.itemIds === undefined
    ? undefined
    : rowIds("itemIds", options.itemIds, items.shape[0], "items");
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new DataFileError(
      `Could not create the factors directory ${dir}: ${writeReason(error)}`,
      dir,
      { cause: error },
    );
  }
  return { users, items, userIds, itemIds };
}

export function factorsOf(
  model: MatrixFactorizationBase,
  caller: string,
): { users: FactorMatrix; items: FactorMatrix } {
  const users = (model as { userFactors?: FactorMatrix } | null)?.userFactors;
  const items = (model as { itemFactors?: FactorMatrix } | null)?.itemFactors;
  if (!(users?.data instanceof Float32Array) || !(items?.data instanceof Float32Array)) {
    throw new TypeError(
      `Expected model to be a matrix-factorization model (ALS, BPR, LMF, ...) but found ${
        describe(model)
      }`,
    );
  }
  if (users.shape[1] === 0) {
    // The model's own check throws its NotFittedError with its usual message.
    model.similarItems(0);
    throw new Error(`${caller} needs a fitted model`);
  }
  return { users, items };
}

/**
 * Assigns checked file factors to a model, naming `itemsPath` when the widths differ.
 *
 * @param model The model.
 * @param users The user factors.
 * @param items The item factors.
 * @param itemsPath The item factors' file, for the message.
 */
export function assignChecked(
  model: MatrixFactorizationBase,
  users: FactorMatrix,
  items: FactorMatrix,
  itemsPath: string,
): void {
  if (typeof (model as { assignFactors?: unknown } | null)?.assignFactors !== "function") {
    throw new TypeError(
      `Expected model to be a matrix-factorization model (ALS, BPR, LMF, ...) but found ${
        describe(model)
      }`,
    );
  }
  if (items.shape[1] !== users.shape[1]) {
    throw new DataFileError(
      `Expected the item factors in ${itemsPath} to have the user factors' ${
        users.shape[1]
      } columns but found ${items.shape[1]}`,
      itemsPath,
    );
  }
  model.assignFactors(users, items);
}

/**
 * Checks a factor matrix read from a file: `[rows >= 1, 1..1024 columns]` of finite
 * values, as `assignFactors` takes them, with errors that name the file.
 *
 * @param path The file, for messages.
 * @param data The values, row-major (float64 values are rounded to float32 first).
 * @param shape The shape the file gives.
 * @returns The float32 matrix.
 */
export function checkedFactors(
  path: string,
  data: Float32Array | Float64Array,
  shape: readonly number[],
): FactorMatrix {
  const [rows, columns] = shape;
  if (
    shape.length !== 2 || rows === undefined || columns === undefined || rows < 1 ||
    columns < 1 || columns > 1024
  ) {
    throw new DataFileError(
      `Expected a factor matrix of shape [rows >= 1, 1 <= columns <= 1024] in ${path} but found [${shape}]`,
      path,
    );
  }
  const values = data instanceof Float32Array ? data : Float32Array.from(data);
  for (let k = 0; k < values.length; k++) {
    if (!Number.isFinite(values[k]!)) {
      throw new DataFileError(
        `Expected finite factors in ${path} but found ${data[k]} at [${Math.floor(k / columns)}, ${
          k % columns
        }]${Number.isFinite(data[k]!) ? " (beyond float32's range)" : ""}`,
        path,
      );
    }
  }
  return { data: values, shape: [rows, columns] };
}

async function readFactorMatrix(path: string): Promise<FactorMatrix> {
  const { array, shape, dtype } = await readNpy(path);
  if (!(array instanceof Float32Array) && !(array instanceof Float64Array)) {
    throw new DataFileError(
      `Expected float32 or float64 factors in ${path} but found ${dtype}`,
      path,
    );
  }
  return checkedFactors(path, array, shape);
}

async function readIds(path: string, rows: number, what: "user" | "item"): Promise<IdMap> {
  const map = new IdMap({ name: what });
  let bytes: Uint8Array;
  try {
    bytes = await readFileWhole(
      path,
      (reason, cause) => Object.assign(new Error(reason), { reason, cause }),
    );
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    if (cause?.code === "ENOENT") return map.fit(Array.from({ length: rows }, (_, k) => k));
    throw new DataFileError(
      `Expected an ids file at ${path} but ${(error as Error).message}`,
      path,
      { cause },
    );
  }
  let ids: unknown;
  try {
    ids = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw new DataFileError(
      `Expected JSON in ids file ${path} but it does not parse: ${error}`,
      path,
      {
        cause: error,
      },
    );
  }
  try {
    return map.fit(rowIds(`${what} ids`, ids as ExternalId[], rows, `rows in the ${what} factors`));
  } catch (error) {
    throw new DataFileError(
      `Expected ${path} to hold the external ids of the ${what} factors' rows: ${
        (error as Error).message
      }`,
      path,
      { cause: error },
    );
  }
}
