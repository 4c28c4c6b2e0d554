/**
 * Parquet interchange, an optional subpath export (`@tacit/tacit/parquet`) so the core
 * (`mod.ts`) stays free of dependencies: this module alone imports the pure-JS
 * `hyparquet` (reader) and `hyparquet-writer` (writer) from npm, pinned in deno.json's
 * `imports` (Deno) and package.json (Bun, from node_modules).
 *
 * Layouts (every file one row group, SNAPPY-compressed, readable by Spark, DuckDB, Polars,
 * pandas and pyarrow):
 *
 * - factors, Spark MLlib ALS's `userFactors` / `itemFactors` layout: `id` (int32, or int64
 *   or string when the ids need it) and `features` (list<float>), one row per user or item;
 * - recommendations: `user`, `rank` (int32, 1 = best), `item`, `score` (float), one row per
 *   recommended item, users in query order;
 * - splits: `user`, `item`, `value` (float), `split` (`"train"` or `"test"`), one row per
 *   stored entry, train first, each by row then column.
 *
 * `user`, `item` and `id` columns hold external ids: int32 when every id is an integer in
 * int32's range, int64 when they are all safe integers, else strings. Without ids they are
 * the dense ids. Writes are atomic (a temporary beside the file, renamed over it). Errors
 * are {@link DataFileError}s naming the file.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { AlternatingLeastSquares, CsrMatrix } from "./mod.ts";
 * import { exportFactorsParquet, importFactorsParquet } from "./parquet.ts";
 * const plays = CsrMatrix.fromCoo({ rows: [0, 0, 1, 2], cols: [0, 1, 1, 2], shape: [3, 3] });
 * const model = await new AlternatingLeastSquares({ factors: 2, randomState: 1 })
 *   .fit(plays, { progress: false });
 * const dir = mkdtempSync(join(tmpdir(), "tacit-parquet-"));
 * await exportFactorsParquet(model, dir, { itemIds: ["x", "y", "z"] });
 * const copy = new AlternatingLeastSquares({ factors: 2 });
 * const { items } = await importFactorsParquet(copy, dir);
 * deepStrictEqual(copy.similarItems(items.id("y")!), model.similarItems(1));
 * rmSync(dir, { recursive: true });
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { parquetWriteBuffer } from "hyparquet-writer";
import { DataFileError, readDataFile } from "./lib/datasets/records.ts";
import { type ExternalId, IdMap } from "./lib/dataset.ts";
import type { FactorMatrix, MatrixFactorizationBase } from "./lib/models/matrix_factorization.ts";
import type { RankedBatch } from "./lib/models/query.ts";
import type { CsrMatrix } from "./lib/sparse.ts";
import type { Split } from "./lib/evaluation/split.ts";
import { describe } from "./lib/validate.ts";
import { writeFileAtomic, writeReason } from "./lib/io/files.ts";
import {
  assignChecked,
  checkedFactors,
  type ExportFactorsOptions,
  exportTarget,
  type ImportedFactors,
  type RowIds,
  rowIds,
} from "./lib/io/factors.ts";

export type { ExportFactorsOptions, ImportedFactors, RowIds } from "./lib/io/factors.ts";
// The core's types (ExternalId, IdMap, FactorMatrix, ...) that this module's signatures name,
// so its documentation is complete on its own; the values stay in mod.ts.
export type * from "./mod.ts";

/** The file names {@link exportFactorsParquet} writes and {@link importFactorsParquet} reads in a directory. */
export const PARQUET_FACTOR_FILES = {
  users: "user_factors.parquet",
  items: "item_factors.parquet",
} as const;

/** A factor matrix read from Parquet, with the external id of each row. */
export interface FactorsTable {
  /** `ids[r]` is the external id of row `r`, in the file's row order. */
  ids: ExternalId[];
  /** The factors, `[rows, columns]`, float32. */
  factors: FactorMatrix;
}

/** Options of {@link writeRecommendationsParquet} and {@link writeSplitParquet}. */
export interface IdOptions {
  /** External ids of the dense users (e.g. `dataset.users`); default: the dense ids. */
  userIds?: RowIds;
  /** External ids of the dense items (e.g. `dataset.items`); default: the dense ids. */
  itemIds?: RowIds;
}

/** Recommendations as columns, as {@link readRecommendationsParquet} returns them. */
export interface RecommendationsTable {
  /** The user of each row. */
  user: ExternalId[];
  /** 1 for a user's best item, 2 for the next, ... */
  rank: Int32Array;
  /** The recommended item. */
  item: ExternalId[];
  /** Its score. */
  score: Float32Array;
}

/** A split as columns, as {@link readSplitParquet} returns it. */
export interface SplitTable {
  /** The user of each entry. */
  user: ExternalId[];
  /** The item of each entry. */
  item: ExternalId[];
  /** The entry's value. */
  value: Float32Array;
  /** Which side of the split the entry is on. */
  split: ("train" | "test")[];
}

// ---------------------------------------------------------------- columns

type Column = Parameters<typeof parquetWriteBuffer>[0]["columnData"][number];
type SchemaElement = NonNullable<Parameters<typeof parquetWriteBuffer>[0]["schema"]>[number];

/** A column of external ids: int32, int64 or string, the narrowest that holds them all. */
function idColumn(
  name: string,
  ids: readonly ExternalId[],
): { column: Column; element: SchemaElement } {
  const numbers = ids.every((id) => typeof id === "number" && Number.isSafeInteger(id));
  if (numbers && ids.every((id) => (id as number) >= -2147483648 && (id as number) <= 2147483647)) {
    return {
      column: { name, data: Int32Array.from(ids as number[]) },
      element: { name, type: "INT32", repetition_type: "REQUIRED" },
    };
  }
  if (numbers) {
    return {
      column: { name, data: BigInt64Array.from(ids as number[], (id) => BigInt(id)) },
      element: { name, type: "INT64", repetition_type: "REQUIRED" },
    };
  }
  return {
    column: { name, data: ids.map(String) },
    element: { name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
  };
}

function plainColumn(
  name: string,
  data: Int32Array | Float32Array | string[],
): { column: Column; element: SchemaElement } {
  const element: SchemaElement = data instanceof Int32Array
    ? { name, type: "INT32", repetition_type: "REQUIRED" }
    : data instanceof Float32Array
    ? { name, type: "FLOAT", repetition_type: "REQUIRED" }
    : { name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" };
  return { column: { name, data }, element };
}

async function writeTable(
  path: string,
  columns: { column: Column; element: SchemaElement | SchemaElement[] }[],
): Promise<void> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`Expected path to be a non-empty string but found ${describe(path)}`);
  }
  const schema: SchemaElement[] = [{ name: "root", num_children: columns.length }];
  for (const { element } of columns) schema.push(...[element].flat());
  const bytes = new Uint8Array(parquetWriteBuffer({
    columnData: columns.map((c) => c.column),
    schema,
    createdBy: "tacit (hyparquet-writer)",
  }));
  try {
    await writeFileAtomic(path, [bytes]);
  } catch (error) {
    throw new DataFileError(`Could not write Parquet file ${path}: ${writeReason(error)}`, path, {
      cause: error,
    });
  }
}

/** The external id a Parquet value stands for: numbers and safe bigints as numbers, else strings. */
function externalOf(value: unknown): ExternalId | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "bigint") {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : String(value);
  }
  if (typeof value === "string") return value;
  return undefined;
}

/** Reads the named columns of a Parquet file as row objects, refusing a foreign file or missing columns. */
async function readTable(path: string, names: string[]): Promise<Record<string, unknown>[]> {
  const bytes = await readDataFile(path, "a Parquet file");
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  let found: string[];
  try {
    const metadata = parquetMetadata(file);
    const root = metadata.schema[0]!;
    found = [];
    // The top-level columns: the root's children, skipping the subtrees of nested ones.
    let k = 1;
    for (let c = 0; c < (root.num_children ?? 0); c++) {
      found.push(metadata.schema[k]!.name);
      let pending = 1;
      while (pending > 0) pending += (metadata.schema[k++]!.num_children ?? 0) - 1;
    }
  } catch (error) {
    throw new DataFileError(
      `Expected a Parquet file at ${path} but it does not parse: ${(error as Error).message}`,
      path,
      { cause: error },
    );
  }
  const missing = names.filter((n) => !found.includes(n));
  if (missing.length > 0) {
    throw new DataFileError(
      `Expected columns ${names.join(", ")} in ${path} but found ${found.join(", ")} (no ${
        missing.join(", ")
      })`,
      path,
    );
  }
  try {
    return await parquetReadObjects({ file, columns: names });
  } catch (error) {
    throw new DataFileError(
      `Expected readable columns ${names.join(", ")} in ${path} but ${(error as Error).message}`,
      path,
      { cause: error },
    );
  }
}

function idsOf(path: string, rows: Record<string, unknown>[], column: string): ExternalId[] {
  return rows.map((row, r) => {
    const id = externalOf(row[column]);
    if (id === undefined) {
      throw new DataFileError(
        `Expected column '${column}' in ${path} to hold ids (integers or strings) but found ${
          describe(row[column])
        } in row ${r}`,
        path,
      );
    }
    return id;
  });
}

function floatsOf(path: string, rows: Record<string, unknown>[], column: string): Float32Array {
  const out = new Float32Array(rows.length);
  rows.forEach((row, r) => {
    const v = row[column];
    if (typeof v !== "number") {
      throw new DataFileError(
        `Expected column '${column}' in ${path} to hold numbers but found ${
          describe(v)
        } in row ${r}`,
        path,
      );
    }
    out[r] = v;
  });
  return out;
}

// ---------------------------------------------------------------- factors

/**
 * Writes a factor matrix in Spark MLlib ALS's layout: `id` and `features` (list<float>).
 *
 * @param path The file to write.
 * @param factors `[rows, columns]` float32, row-major.
 * @param ids External ids of the rows (default `0..rows-1`).
 * @returns A promise that settles when the file is in place.
 * @throws TypeError / RangeError for ids of the wrong type or count, or with repeats;
 *   DataFileError naming `path` when writing fails.
 */
export async function writeFactorsParquet(
  path: string,
  factors: FactorMatrix,
  ids?: RowIds,
): Promise<void> {
  const [rows, columns] = factors.shape;
  const labels = rowIds("ids", ids, rows, "rows");
  // The writer takes a list column as plain arrays (float32 values are exact in them).
  const features: number[][] = [];
  for (let r = 0; r < rows; r++) {
    features.push(Array.from(factors.data.subarray(r * columns, (r + 1) * columns)));
  }
  await writeTable(path, [
    idColumn("id", labels),
    {
      column: { name: "features", data: features },
      element: [
        // OPTIONAL as Spark writes it (and as the writer encodes a LIST group).
        { name: "features", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
        { name: "list", repetition_type: "REPEATED", num_children: 1 },
        { name: "element", type: "FLOAT", repetition_type: "REQUIRED" },
      ],
    },
  ]);
}

/** A column of a table of plain rows, as the CLI's tables describe them. */
export interface RowColumn {
  name: string;
  /** `string` (UTF-8), `int` (int32), `float` (float32), `floats` (list<float>). */
  type: "string" | "int" | "float" | "floats";
}

/**
 * Writes rows of plain values as one Parquet file (atomically): the CLI's
 * `--format parquet`. A `string` column holding only integer ids is still
 * written as UTF-8 (a column's type never depends on its values).
 *
 * @param path The file.
 * @param columns The columns, in order.
 * @param rows One record per row, a value per column name.
 * @returns A promise that settles when the file is in place.
 * @throws DataFileError naming `path` when writing fails.
 */
export async function writeRowsParquet(
  path: string,
  columns: readonly RowColumn[],
  rows: readonly Readonly<Record<string, unknown>>[],
): Promise<void> {
  await writeTable(
    path,
    columns.map(({ name, type }) => {
      const values = rows.map((row) => row[name]);
      if (type === "floats") {
        return {
          column: { name, data: values.map((v) => Array.from(v as ArrayLike<number>)) },
          element: [
            { name, repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
            { name: "list", repetition_type: "REPEATED", num_children: 1 },
            { name: "element", type: "FLOAT", repetition_type: "REQUIRED" },
          ],
        };
      }
      if (type === "int") return plainColumn(name, Int32Array.from(values as number[]));
      if (type === "float") return plainColumn(name, Float32Array.from(values as number[]));
      return plainColumn(name, values.map(String));
    }),
  );
}

/**
 * Reads a factor matrix in Spark MLlib ALS's layout (`id`, `features` a list of floats or
 * doubles, one row per id, all of one length), as Spark's `model.userFactors.write.parquet`
 * or {@link writeFactorsParquet} writes it. Rows keep the file's order.
 *
 * @param path The file.
 * @returns The ids and the float32 factors.
 * @throws DataFileError naming `path`: missing, unreadable, not Parquet, no `id` or
 *   `features` column, a null or non-id `id`, a repeated id, a null or non-list `features`,
 *   rows of different lengths, a non-finite value, more than 1024 columns.
 */
export async function readFactorsParquet(path: string): Promise<FactorsTable> {
  const rows = await readTable(path, ["id", "features"]);
  const ids = idsOf(path, rows, "id");
  const seen = new IdMap();
  for (const [r, id] of ids.entries()) {
    if (seen.has(id)) {
      throw new DataFileError(
        `Expected distinct ids in column 'id' of ${path} but row ${r} repeats ${describe(id)}`,
        path,
      );
    }
    seen.intern(id);
  }
  const first = rows[0]?.features;
  const columns = Array.isArray(first) ? first.length : 0;
  const data = new Float64Array(rows.length * columns);
  rows.forEach((row, r) => {
    const features = row.features;
    if (!Array.isArray(features) || features.length !== columns) {
      throw new DataFileError(
        `Expected column 'features' of ${path} to hold lists of ${columns} numbers (as row 0) but found ${
          Array.isArray(features) ? `a list of ${features.length}` : describe(features)
        } in row ${r} (id ${describe(ids[r])})`,
        path,
      );
    }
    for (let c = 0; c < columns; c++) {
      const v = features[c];
      data[r * columns + c] = typeof v === "number" ? v : NaN;
    }
  });
  return { ids, factors: checkedFactors(path, data, [rows.length, columns]) };
}

/**
 * Writes a factor model's user and item factors into `dir` (created when missing) as
 * `user_factors.parquet` and `item_factors.parquet`, in Spark MLlib ALS's layout.
 *
 * @param model A fitted (or assigned) matrix-factorization model.
 * @param dir The directory.
 * @param options `userIds` and `itemIds`: external ids in row order, or IdMaps.
 * @returns The two paths written.
 * @throws NotFittedError before fit; TypeError / RangeError for bad ids; DataFileError
 *   naming the file when writing fails.
 */
export async function exportFactorsParquet(
  model: MatrixFactorizationBase,
  dir: string,
  options: ExportFactorsOptions = {},
): Promise<string[]> {
  const { users, items } = await exportTarget(model, dir, options, "exportFactorsParquet()");
  const userPath = join(dir, PARQUET_FACTOR_FILES.users);
  const itemPath = join(dir, PARQUET_FACTOR_FILES.items);
  await writeFactorsParquet(userPath, users, options.userIds);
  await writeFactorsParquet(itemPath, items, options.itemIds);
  return [userPath, itemPath];
}

/**
 * Imports user and item factors in Spark MLlib ALS's Parquet layout into `model`, which
 * then serves `recommend`, `similarItems` and `similarUsers`. Dense ids follow the files'
 * row order (Spark's is arbitrary, and its ids need not be `0..n-1`): map external ids
 * through the returned IdMaps, and build the `userItems` matrix `recommend` filters with
 * from the same maps (e.g. `new Dataset()` whose `users` / `items` are fitted with
 * `users.externals()` / `items.externals()`).
 *
 * @param model A factor model built with the options the factors were trained with.
 * @param source A directory holding `user_factors.parquet` and `item_factors.parquet`, or
 *   the two files' paths: `{ users, items }` (Spark writes each as a directory of part
 *   files: pass one part file, or merge them first).
 * @returns IdMaps from external ids to the model's dense user and item ids.
 * @throws DataFileError as {@link readFactorsParquet}, and for files of different widths.
 */
export async function importFactorsParquet(
  model: MatrixFactorizationBase,
  source: string | { users: string; items: string },
): Promise<ImportedFactors> {
  const paths = typeof source === "string"
    ? {
      users: join(source, PARQUET_FACTOR_FILES.users),
      items: join(source, PARQUET_FACTOR_FILES.items),
    }
    : source;
  if (typeof paths?.users !== "string" || typeof paths?.items !== "string") {
    throw new TypeError(
      `Expected source to be a directory or { users, items } paths but found ${describe(source)}`,
    );
  }
  const users = await readFactorsParquet(paths.users);
  const items = await readFactorsParquet(paths.items);
  assignChecked(model, users.factors, items.factors, paths.items);
  return {
    users: new IdMap({ name: "user" }).fit(users.ids),
    items: new IdMap({ name: "item" }).fit(items.ids),
  };
}

// ---------------------------------------------------------------- recommendations, splits

/**
 * Writes recommendations as `user, rank, item, score` rows: row `r` of `ranked` holds the
 * items of user `users[r]`; padding (id −1, when fewer than `n` items could be ranked) is
 * left out.
 *
 * @param path The file to write.
 * @param ranked A batch from `recommend` (or `similarItems`: then `users` are the query items).
 * @param users The dense id queried for each row of `ranked`.
 * @param options `userIds` and `itemIds` to write external ids.
 * @returns A promise that settles when the file is in place.
 * @throws TypeError / RangeError for a `users` of the wrong length or ids out of range;
 *   DataFileError naming `path` when writing fails.
 */
export async function writeRecommendationsParquet(
  path: string,
  ranked: RankedBatch,
  users: ArrayLike<number>,
  options: IdOptions = {},
): Promise<void> {
  const [rows, n] = ranked.shape;
  if (users?.length !== rows) {
    throw new RangeError(
      `Expected users to have one id per row of ranked (${rows}) but found ${
        describe(users?.length)
      }`,
    );
  }
  const user: number[] = [];
  const item: number[] = [];
  const rank: number[] = [];
  const score: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < n; k++) {
      const id = ranked.ids[r * n + k]!;
      if (id < 0) continue;
      user.push(users[r]!);
      item.push(id);
      rank.push(k + 1);
      score.push(ranked.scores[r * n + k]!);
    }
  }
  await writeTable(path, [
    idColumn("user", externalize("users", user, options.userIds)),
    plainColumn("rank", Int32Array.from(rank)),
    idColumn("item", externalize("items", item, options.itemIds)),
    plainColumn("score", Float32Array.from(score)),
  ]);
}

/**
 * Reads recommendations written by {@link writeRecommendationsParquet} (or any file with
 * those four columns).
 *
 * @param path The file.
 * @returns The four columns.
 * @throws DataFileError naming `path` for a file that cannot be read or lacks a column.
 */
export async function readRecommendationsParquet(path: string): Promise<RecommendationsTable> {
  const rows = await readTable(path, ["user", "rank", "item", "score"]);
  return {
    user: idsOf(path, rows, "user"),
    rank: Int32Array.from(floatsOf(path, rows, "rank")),
    item: idsOf(path, rows, "item"),
    score: floatsOf(path, rows, "score"),
  };
}

/**
 * Writes a split as `user, item, value, split` rows: every stored entry of `train`, then of
 * `test`, each by row then column.
 *
 * @param path The file to write.
 * @param split `{ train, test }` as the split functions return.
 * @param options `userIds` and `itemIds` to write external ids.
 * @returns A promise that settles when the file is in place.
 * @throws TypeError / RangeError for ids of the wrong count; DataFileError naming `path`
 *   when writing fails.
 */
export async function writeSplitParquet(
  path: string,
  split: Split,
  options: IdOptions = {},
): Promise<void> {
  const user: number[] = [];
  const item: number[] = [];
  const value: number[] = [];
  const side: string[] = [];
  for (const [name, matrix] of [["train", split?.train], ["test", split?.test]] as const) {
    const m = matrix as CsrMatrix | undefined;
    if (m?.indptr === undefined) {
      throw new TypeError(`Expected split.${name} to be a CsrMatrix but found ${describe(m)}`);
    }
    for (let r = 0; r < m.nRows; r++) {
      for (let k = m.indptr[r]!; k < m.indptr[r + 1]!; k++) {
        user.push(r);
        item.push(m.indices[k]!);
        value.push(m.data[k]!);
        side.push(name);
      }
    }
  }
  await writeTable(path, [
    idColumn("user", externalize("users", user, options.userIds)),
    idColumn("item", externalize("items", item, options.itemIds)),
    plainColumn("value", Float32Array.from(value)),
    plainColumn("split", side),
  ]);
}

/**
 * Reads a split written by {@link writeSplitParquet} (or any file with those four columns).
 *
 * @param path The file.
 * @returns The four columns.
 * @throws DataFileError naming `path` for a file that cannot be read, lacks a column or has
 *   a `split` other than `"train"` / `"test"`.
 */
export async function readSplitParquet(path: string): Promise<SplitTable> {
  const rows = await readTable(path, ["user", "item", "value", "split"]);
  const split = rows.map((row, r) => {
    if (row.split !== "train" && row.split !== "test") {
      throw new DataFileError(
        `Expected column 'split' of ${path} to hold "train" or "test" but found ${
          describe(row.split)
        } in row ${r}`,
        path,
      );
    }
    return row.split;
  });
  return {
    user: idsOf(path, rows, "user"),
    item: idsOf(path, rows, "item"),
    value: floatsOf(path, rows, "value"),
    split,
  };
}

/** Dense ids as external ids through `ids` (the identity when absent). */
function externalize(what: string, dense: number[], ids: RowIds | undefined): ExternalId[] {
  if (ids === undefined) return dense;
  const list = ids instanceof IdMap ? ids.externals() : ids;
  if (!Array.isArray(list)) {
    throw new TypeError(
      `Expected ${
        what === "users" ? "userIds" : "itemIds"
      } to be an IdMap or an array of ids but found ${describe(ids)}`,
    );
  }
  return dense.map((d) => {
    const id = list[d];
    if (id === undefined) {
      throw new RangeError(
        `Expected ${what === "users" ? "userIds" : "itemIds"} to name dense ${
          what.slice(0, -1)
        } ${d} but it has ${list.length} ids`,
      );
    }
    return id;
  });
}
