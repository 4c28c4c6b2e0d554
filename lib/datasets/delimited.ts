/**
 * `readDelimited`: interactions from any delimited text file (CSV, TSV, `::`-separated),
 * one interaction per line, columns picked by header name or index.
 *
 * @module
 */
import { describe, finiteNumber, optionalBoolean } from "../validate.ts";
import {
  commonOptions,
  fieldCountReason,
  FieldSplitter,
  forEachLine,
  InteractionBuilder,
  type Interactions,
  parseNumberBytes,
  type ReadOptions,
  valueReason,
} from "./records.ts";

/** A column, by header name (needs `header: true`) or by 0-based index. */
export type Column = string | number;

/** Options of {@link readDelimited}. */
export interface DelimitedOptions extends ReadOptions {
  /** Field separator, one or more characters. Default `","`. */
  delimiter?: string;
  /** The first non-empty line names the columns. Default false. */
  header?: boolean;
  /** The user id column (required). */
  user: Column;
  /** The item id column (required). */
  item: Column;
  /** The value column (a number); left out, every line counts 1 and duplicates add up. */
  weight?: Column;
  /**
   * Keep only values >= minRating (needs `weight`). Like implicit's MovieLens loader, a
   * filtered line still gives its user and item an id, so the id space (and shape) is
   * that of the whole file. Default: keep all.
   */
  minRating?: number;
  /** Honour RFC 4180 double quotes (`"a, b"`, `"say ""hi"""`). Default true for `","`, else false. */
  quoting?: boolean;
}

/** The keys of {@link DelimitedOptions} besides {@link ReadOptions}'. */
const DELIMITED_OPTIONS = ["delimiter", "header", "user", "item", "weight", "minRating", "quoting"];

/**
 * Reads interactions from a delimited file. Every line must have as many fields as the
 * header (or, without a header, as the first record); user and item ids must be
 * non-empty; a weight must be a number. Anything else is malformed: an error naming
 * `file:line`, or skipped and counted with `skipMalformed: true`.
 *
 * @param path The file.
 * @param options Columns, `delimiter`, `header`, `quoting`, filters and reading options.
 * @returns `{ matrix, users, items, skipped }` (see {@link Interactions}).
 * @throws TypeError / RangeError for bad options, or a header that lacks a named column;
 *   MalformedLineError for a bad line unless `skipMalformed`; DataFileError naming `path` for
 *   a file that is missing, a directory, not readable or empty.
 * @example
 * ```ts
 * import { deepStrictEqual, equal, rejects } from "node:assert/strict";
 * import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { readDelimited } from "./delimited.ts";
 * const dir = mkdtempSync(join(tmpdir(), "tacit-"));
 * const path = join(dir, "plays.csv");
 * writeFileSync(path, 'who,what,n\nann,tea,2\nbob,tea,1\nann,tea,3\nbob,"milk, oat",4\n');
 * const columns = { header: true, user: "who", item: "what", weight: "n" };
 * const { matrix, users, items, skipped } = await readDelimited(path, columns);
 * deepStrictEqual(users, ["ann", "bob"]);
 * deepStrictEqual(items, ["tea", "milk, oat"]);
 * deepStrictEqual(matrix.toDense(), Float32Array.of(5, 0, 1, 4)); // ann's two tea lines add up
 * equal(skipped, 0);
 * // A weight that is not a number: an error naming file and line, or a count with skipMalformed.
 * writeFileSync(path, "who,what,n\nann,tea,2\nbob,tea,lots\n");
 * await rejects(readDelimited(path, columns), {
 *   name: "MalformedLineError",
 *   message: `${path}:3: expected field 3 to be a number but found 'lots'`,
 * });
 * equal((await readDelimited(path, { ...columns, skipMalformed: true })).skipped, 1);
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function readDelimited(
  path: string,
  options: DelimitedOptions,
): Promise<Interactions> {
  const common = commonOptions("readDelimited()", options, DELIMITED_OPTIONS);
  options ??= {} as DelimitedOptions; // left out: the required columns are refused by name below
  const delimiter = options.delimiter ?? ",";
  if (typeof delimiter !== "string" || delimiter.length === 0 || /[\r\n"]/.test(delimiter)) {
    throw new TypeError(
      `Expected delimiter to be a non-empty string without quotes or newlines but found ${
        describe(delimiter)
      }`,
    );
  }
  const header = optionalBoolean("header", options.header) ?? false;
  const quoting = optionalBoolean("quoting", options.quoting) ?? delimiter === ",";
  const minRating = options.minRating === undefined
    ? undefined
    : finiteNumber("minRating", options.minRating);
  if (minRating !== undefined && options.weight === undefined) {
    throw new TypeError("Expected a weight column with minRating but found none");
  }
  checkColumn("user", options.user, header);
  checkColumn("item", options.item, header);
  if (options.weight !== undefined) checkColumn("weight", options.weight, header);

  const builder = new InteractionBuilder(path);
  const fields = new FieldSplitter(delimiter, quoting);
  let expected = -1;
  let userAt = -1;
  let itemAt = -1;
  let weightAt = -1;
  const resolve = (names: string[] | undefined, count: number): string | undefined => {
    userAt = columnIndex(options.user, names);
    itemAt = columnIndex(options.item, names);
    weightAt = options.weight === undefined ? -1 : columnIndex(options.weight, names);
    const missing = [["user", userAt], ["item", itemAt], ["weight", weightAt]].find(([, at]) =>
      (at as number) >= count
    );
    if (missing === undefined) return undefined;
    const [what] = missing;
    const column = options[what as "user" | "item" | "weight"]!;
    return names === undefined
      ? `expected at least ${
        (column as number) + 1
      } fields for the ${what} column ${column} but found ${count}`
      : `expected a header naming the ${what} column '${column}' but found ${
        names.map((n) => `'${n}'`).join(", ")
      }`;
  };

  const skipped = await forEachLine(path, common, (bytes, start, end) => {
    const count = fields.split(bytes, start, end);
    if (expected < 0) {
      if (count < 0) return fieldCountReason(count, 0);
      const names = header ? Array.from({ length: count }, (_, k) => fields.text(k)) : undefined;
      const reason = resolve(names, count);
      if (reason !== undefined) {
        if (header) throw new TypeError(`${path}: ${reason}`);
        return reason;
      }
      expected = count;
      if (header) return undefined;
    } else if (count !== expected) {
      return fieldCountReason(count, expected);
    }
    const { data, starts, ends } = fields;
    if (starts[userAt] === ends[userAt]) {
      return `expected a user id in field ${userAt + 1} but found an empty field`;
    }
    if (starts[itemAt] === ends[itemAt]) {
      return `expected an item id in field ${itemAt + 1} but found an empty field`;
    }
    let value = 1;
    if (weightAt >= 0) {
      value = parseNumberBytes(data, starts[weightAt]!, ends[weightAt]!);
      const bad = valueReason(`field ${weightAt + 1}`, value, fields.text(weightAt));
      if (bad !== undefined) return bad;
    }
    const u = builder.user(data, starts[userAt]!, ends[userAt]!);
    const i = builder.item(data, starts[itemAt]!, ends[itemAt]!);
    if (minRating === undefined || value >= minRating) builder.add(u, i, value);
    return undefined;
  });
  return builder.build(skipped, common.minCount);
}

function checkColumn(what: string, column: unknown, header: boolean): void {
  if (typeof column === "number") {
    if (!Number.isInteger(column) || column < 0) {
      throw new RangeError(`Expected ${what} to be a column index >= 0 but found ${column}`);
    }
    return;
  }
  if (typeof column !== "string") {
    throw new TypeError(
      `Expected ${what} to be a column name or index but found ${describe(column)}`,
    );
  }
  if (!header) {
    throw new TypeError(`Expected header: true to find the ${what} column by name '${column}'`);
  }
}

function columnIndex(column: Column, names: string[] | undefined): number {
  if (typeof column === "number") return column;
  const at = names!.indexOf(column);
  return at < 0 ? Number.MAX_SAFE_INTEGER : at;
}
