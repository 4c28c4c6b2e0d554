/**
 * Tables the CLI writes (recommendations, similar items, splits, factors): a table
 * is typed columns and rows of plain values, and a format is one function that opens
 * a writer for a path. Every table is written atomically by {@link writeTable}: to a
 * temporary file in the target's directory, then renamed over it, so a rerun replaces
 * a previous output whole and a failed or interrupted run leaves the old one (or none).
 *
 * A format plugs in by adding to {@link TABLE_FORMATS}. `parquet` buffers the rows and
 * writes them at close through the optional `./parquet` export (parquet.ts, over
 * hyparquet-writer), imported only when asked for, so the other formats never load it.
 *
 * @module
 */
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { temporaryPath, writeAll, writeReason } from "../io/files.ts";
import { CliError, EXIT } from "./errors.ts";

/** A column: its name and the type of its values. */
export interface Column {
  name: string;
  /** `string` ids, `int` ranks and counts, `float` scores and values, `floats` a vector. */
  type: "string" | "int" | "float" | "floats";
}

/** One row: a value per column name. */
export type Row = Readonly<Record<string, string | number | readonly number[]>>;

/** What a format's writer does with rows, in batches. */
export interface TableWriter {
  /** Appends rows. */
  write(rows: readonly Row[]): Promise<void>;
  /** Ends the table (flushes, fsyncs, closes). */
  close(): Promise<void>;
  /** Gives up: closes without the rest (the temporary is removed by the caller). */
  abort(): Promise<void>;
}

/** A format: opens a writer of a table with `columns` at `path` (a fresh temporary file). */
export type TableFormat = (path: string, columns: readonly Column[]) => Promise<TableWriter>;

const encoder = new TextEncoder();

/** A writer over a file handle that turns each batch into bytes. */
async function textWriter(
  path: string,
  prologue: string,
  encode: (rows: readonly Row[]) => string,
): Promise<TableWriter> {
  const handle: FileHandle = await open(path, "wx");
  if (prologue !== "") await writeAll(handle, encoder.encode(prologue));
  return {
    write: async (rows) => await writeAll(handle, encoder.encode(encode(rows))),
    close: async () => {
      await handle.sync();
      await handle.close();
    },
    abort: async () => await handle.close().catch(() => {}),
  };
}

/** A CSV field: quoted (RFC 4180) when it holds a comma, a quote or a line break. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function numberText(value: number): string {
  return Number.isNaN(value) ? "NaN" : String(value);
}

/**
 * CSV with a header line; a `floats` column becomes one column per element
 * (`features_0`, `features_1`, ...), named from the first row.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { readFileSync, rmSync } from "node:fs";
 * import { csv } from "./table.ts";
 * const path = `${Deno.makeTempDirSync()}/out.csv`;
 * const writer = await csv(path, [{ name: "user", type: "string" }, { name: "score", type: "float" }]);
 * await writer.write([{ user: "ann, jr", score: 0.5 }]);
 * await writer.close();
 * equal(readFileSync(path, "utf8"), 'user,score\n"ann, jr",0.5\n');
 * rmSync(path);
 * ```
 */
export const csv: TableFormat = async (path, columns) => {
  const vectors = columns.some((column) => column.type === "floats");
  let header = vectors ? "" : columns.map((column) => csvField(column.name)).join(",") + "\n";
  const writer = await textWriter(path, header, (rows) => {
    let text = "";
    for (const row of rows) {
      if (header === "") {
        header = columns.map((column) =>
          column.type === "floats"
            ? (row[column.name] as number[]).map((_, k) =>
              `${column.name}_${k}`
            ).join(",")
            : csvField(column.name)
        ).join(",") + "\n";
        text += header;
      }
      text += columns.map((column) => {
        const value = row[column.name]!;
        if (column.type === "floats") return (value as number[]).map(numberText).join(",");
        return typeof value === "string" ? csvField(value) : numberText(value as number);
      }).join(",") + "\n";
    }
    return text;
  });
  return writer;
};

/**
 * JSON Lines: one object per row, keys in column order (NaN and infinities, which JSON
 * lacks, are written as null).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { readFileSync, rmSync } from "node:fs";
 * import { jsonl } from "./table.ts";
 * const path = `${Deno.makeTempDirSync()}/out.jsonl`;
 * const writer = await jsonl(path, [{ name: "user", type: "string" }, { name: "rank", type: "int" }]);
 * await writer.write([{ user: "ann", rank: 1 }, { user: "bob", rank: 1 }]);
 * await writer.close();
 * equal(readFileSync(path, "utf8"), '{"user":"ann","rank":1}\n{"user":"bob","rank":1}\n');
 * rmSync(path);
 * ```
 */
export const jsonl: TableFormat = (path, columns) =>
  textWriter(path, "", (rows) => {
    let text = "";
    for (const row of rows) {
      const object: Record<string, unknown> = {};
      for (const column of columns) object[column.name] = row[column.name];
      text += JSON.stringify(object) + "\n";
    }
    return text;
  });

/**
 * Parquet: rows are kept until close, then written by parquet.ts's
 * `writeRowsParquet` (one row group; Parquet files are written whole).
 */
export const parquet: TableFormat = (path, columns) => {
  const rows: Row[] = [];
  return Promise.resolve({
    write: (batch) => {
      rows.push(...batch);
      return Promise.resolve();
    },
    close: async () => {
      let module: {
        writeRowsParquet(
          path: string,
          columns: readonly Column[],
          rows: readonly Row[],
        ): Promise<void>;
      };
      try {
        // The npm build leaves parquet.ts out (its dependencies are optional), so its
        // compiler does not find the module; a source, JSR or compiled CLI has it.
        // @ts-ignore: TS2307 in the npm build only
        module = await import("../../parquet.ts");
      } catch (error) {
        throw new CliError(
          EXIT.unavailable,
          "--format parquet needs tacit's ./parquet export (hyparquet), which this install lacks: use csv or jsonl",
          { cause: error },
        );
      }
      await module.writeRowsParquet(path, columns, rows);
    },
    abort: () => Promise.resolve(),
  });
};

/** The formats by `--format` name; `undefined`: declared, not available in this build. */
export const TABLE_FORMATS: ReadonlyMap<string, TableFormat | undefined> = new Map<
  string,
  TableFormat | undefined
>([["csv", csv], ["jsonl", jsonl], ["parquet", parquet]]);

/**
 * The format `--format` names (default from the output's extension, else csv).
 *
 * @throws CliError: usage for an unknown name; unavailable (7) for a declared one without a writer.
 */
export function tableFormat(name: string | undefined, output: string): TableFormat {
  const chosen = name ??
    (/\.jsonl?$/i.test(output) ? "jsonl" : /\.parquet$/i.test(output) ? "parquet" : "csv");
  if (!TABLE_FORMATS.has(chosen)) {
    throw new CliError(
      EXIT.usage,
      `expected --format to be one of ${
        [...TABLE_FORMATS.keys()].join(", ")
      } but found '${chosen}'`,
    );
  }
  const format = TABLE_FORMATS.get(chosen);
  if (format === undefined) {
    throw new CliError(
      EXIT.unavailable,
      `--format ${chosen} is not available in this version of tacit`,
    );
  }
  return format;
}

/**
 * Writes a table atomically: `produce` gets a `write(rows)` to call with batches;
 * the temporary is renamed over `path` only when it returns, and removed if it throws.
 *
 * @param path The output file.
 * @param format The format's writer.
 * @param columns The table's columns.
 * @param produce Writes every row through the function it is given.
 * @returns How many rows were written.
 * @throws CliError (output) when the file cannot be written; what `produce` throws.
 */
export async function writeTable(
  path: string,
  format: TableFormat,
  columns: readonly Column[],
  produce: (write: (rows: readonly Row[]) => Promise<void>) => Promise<void>,
): Promise<number> {
  const temporary = temporaryPath(path, ".tmp");
  const failed = (error: unknown) =>
    new CliError(EXIT.output, `could not write ${path}: ${writeReason(error)}`, { cause: error });
  let writer: TableWriter;
  try {
    writer = await format(temporary, columns);
  } catch (error) {
    throw failed(error);
  }
  let count = 0;
  let writing = false;
  try {
    await produce(async (rows) => {
      writing = true;
      await writer.write(rows);
      writing = false;
      count += rows.length;
    });
    writing = true;
    await writer.close();
    await rename(temporary, path);
  } catch (error) {
    await writer.abort();
    await unlink(temporary).catch(() => {});
    throw writing ? failed(error) : error;
  }
  return count;
}
