/**
 * MovieLens ratings (GroupLens): 100K `u.data` (`user \t item \t rating \t timestamp`),
 * 1M/10M `ratings.dat` (`user::item::rating::timestamp`) and 20M/25M/32M/latest
 * `ratings.csv` (header `userId,movieId,rating,timestamp`), with titles from the file next
 * to them when it is there (`u.item`, `movies.dat`, `movies.csv`).
 *
 * @module
 */
import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { readReason } from "../io/files.ts";
import { describe, finiteNumber, oneOf, optionalBoolean } from "../validate.ts";
import { cachedFiles, type FetchOptions, readerOptions } from "./cache.ts";
import {
  commonOptions,
  DataFileError,
  fieldCountReason,
  FieldSplitter,
  forEachLine,
  InteractionBuilder,
  type Interactions,
  isDigitBytes,
  MalformedLineError,
  parseNumberBytes,
  READ_OPTIONS,
  type ReadOptions,
  splitFields,
  splitLines,
  unreadable,
  valueReason,
} from "./records.ts";
import { extractZip } from "./zip.ts";

/** The MovieLens releases {@link fetchMovielens} knows. */
export type MovielensVariant =
  | "100k"
  | "1m"
  | "10m"
  | "20m"
  | "25m"
  | "32m"
  | "latest"
  | "latest-small";

interface Release {
  archive: string;
  ratings: string;
  titles: string;
}

const RELEASES: Record<MovielensVariant, Release> = {
  "100k": { archive: "ml-100k.zip", ratings: "u.data", titles: "u.item" },
  "1m": { archive: "ml-1m.zip", ratings: "ratings.dat", titles: "movies.dat" },
  "10m": { archive: "ml-10m.zip", ratings: "ratings.dat", titles: "movies.dat" },
  "20m": { archive: "ml-20m.zip", ratings: "ratings.csv", titles: "movies.csv" },
  "25m": { archive: "ml-25m.zip", ratings: "ratings.csv", titles: "movies.csv" },
  "32m": { archive: "ml-32m.zip", ratings: "ratings.csv", titles: "movies.csv" },
  "latest": { archive: "ml-latest.zip", ratings: "ratings.csv", titles: "movies.csv" },
  "latest-small": { archive: "ml-latest-small.zip", ratings: "ratings.csv", titles: "movies.csv" },
};

/** Where GroupLens publishes the archives. */
export const MOVIELENS_URL = "https://files.grouplens.org/datasets/movielens/";

/** Options of {@link readMovielens}. */
export interface MovielensOptions extends ReadOptions {
  /**
   * Keep only ratings >= minRating. As in implicit's MovieLens loader, a dropped rating
   * still gives its user and movie an id, so the shape is that of the whole file (some
   * rows or columns may be empty). Default: keep all.
   */
  minRating?: number;
  /** Read titles from the file next to the ratings when it exists. Default true. */
  titles?: boolean;
}

type Format = "tab" | "dat" | "csv";

function formatOf(path: string): Format {
  const ext = extname(path).toLowerCase();
  return ext === ".csv" ? "csv" : ext === ".dat" ? "dat" : "tab";
}

const TITLE_FILES: Record<Format, string> = { tab: "u.item", dat: "movies.dat", csv: "movies.csv" };

/** The keys of the reader's options besides ReadOptions'. */
const MOVIELENS_OPTIONS: readonly string[] = ["minRating", "titles"];

/**
 * Reads MovieLens ratings: values are the ratings (0.5-5), duplicates summed (there are
 * none in the releases). The format follows the file name: `.csv` (header with `userId`,
 * `movieId`, `rating`), `.dat` (`::`), anything else tab-separated (`u.data`, `u1.base`).
 * A directory is searched for `ratings.csv`, `ratings.dat`, then `u.data`. `users` and
 * `items` are the MovieLens ids as written; `itemNames` the titles (`""` for a movie the
 * titles file lacks), present when the titles file is. A line with a wrong field count,
 * a non-numeric id or rating is malformed.
 *
 * To binarize as implicit's example does: `matrix.withData(new Float32Array(matrix.nnz).fill(1))`.
 *
 * @param path A ratings file or a folder holding one.
 * @param options `minRating`, `titles`, `minCount`, `skipMalformed`, `progress`, `chunkSize`.
 * @returns `{ matrix, users, items, itemNames?, skipped }`.
 * @throws MalformedLineError naming `file:line` unless `skipMalformed` (a bad header always);
 *   TypeError / RangeError for a bad option; DataFileError naming the path for a missing,
 *   unreadable or empty file, or a folder with no ratings file.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { readMovielens } from "./movielens.ts";
 * const dir = mkdtempSync(join(tmpdir(), "tacit-"));
 * // The 100K layout: u.data (user, movie, rating, timestamp) and u.item (id|title|...).
 * writeFileSync(join(dir, "u.data"), "1\t10\t4\t881250949\n2\t10\t5\t881250950\n1\t20\t3\t881250951\n");
 * writeFileSync(join(dir, "u.item"), "10|Toy Story (1995)|01-Jan-1995\n20|Heat (1995)|01-Jan-1995\n");
 * const all = await readMovielens(dir);
 * deepStrictEqual([all.users, all.items], [["1", "2"], ["10", "20"]]);
 * deepStrictEqual(all.itemNames, ["Toy Story (1995)", "Heat (1995)"]);
 * deepStrictEqual(all.matrix.toDense(), Float32Array.of(4, 3, 5, 0));
 * // minRating drops the 3 but keeps movie 20's id, so the shape stays 2 × 2.
 * const liked = await readMovielens(join(dir, "u.data"), { minRating: 4, titles: false });
 * deepStrictEqual(liked.matrix.toDense(), Float32Array.of(4, 0, 5, 0));
 * deepStrictEqual(liked.itemNames, undefined);
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function readMovielens(
  path: string,
  options: MovielensOptions = {},
): Promise<Interactions> {
  const common = commonOptions("readMovielens()", options, MOVIELENS_OPTIONS);
  const minRating = options.minRating === undefined
    ? -Infinity
    : finiteNumber("minRating", options.minRating);
  const withTitles = optionalBoolean("titles", options.titles) ?? true;
  const file = await ratingsFile(path);
  const format = formatOf(file);
  const delimiter = format === "csv" ? "," : format === "dat" ? "::" : "\t";
  const builder = new InteractionBuilder(path);
  const fields = new FieldSplitter(delimiter, format === "csv");
  let expected = format === "csv" ? -1 : 4;
  let userAt = 0;
  let itemAt = 1;
  let ratingAt = 2;
  let skipped = await forEachLine(
    file,
    { ...common, label: basename(file) },
    (bytes, start, end, lineNo) => {
      const count = fields.split(bytes, start, end);
      if (expected < 0) {
        const names = Array.from({ length: Math.max(count, 0) }, (_, k) => fields.text(k));
        [userAt, itemAt, ratingAt] = ["userId", "movieId", "rating"].map((n) =>
          names.indexOf(n)
        ) as [number, number, number];
        if (userAt < 0 || itemAt < 0 || ratingAt < 0) {
          const line = new TextDecoder().decode(bytes.subarray(start, end));
          throw new MalformedLineError(
            file,
            lineNo,
            `expected a header with userId, movieId and rating but found '${line}'`,
          );
        }
        expected = count;
        return undefined;
      }
      if (count !== expected) return fieldCountReason(count, expected);
      const { data, starts, ends } = fields;
      if (!isDigitBytes(data, starts[userAt]!, ends[userAt]!)) {
        return `expected a numeric user id in field ${userAt + 1} but found '${
          fields.text(userAt)
        }'`;
      }
      if (!isDigitBytes(data, starts[itemAt]!, ends[itemAt]!)) {
        return `expected a numeric movie id in field ${itemAt + 1} but found '${
          fields.text(itemAt)
        }'`;
      }
      const rating = parseNumberBytes(data, starts[ratingAt]!, ends[ratingAt]!);
      const bad = valueReason(`the rating (field ${ratingAt + 1})`, rating, fields.text(ratingAt));
      if (bad !== undefined) return bad;
      const u = builder.user(data, starts[userAt]!, ends[userAt]!);
      const i = builder.item(data, starts[itemAt]!, ends[itemAt]!);
      if (rating >= minRating) builder.add(u, i, rating);
      return undefined;
    },
  );
  const titlesPath = join(dirname(file), TITLE_FILES[format]);
  if (!withTitles || !existsSync(titlesPath)) return builder.build(skipped, common.minCount);
  const titles = new Map<string, string>();
  skipped += await readTitles(titlesPath, format, titles, common.skipMalformed ?? false);
  const itemNames = builder.items.names.map((id) => titles.get(id) ?? "");
  return builder.build(skipped, common.minCount, itemNames);
}

async function ratingsFile(path: string): Promise<string> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`Expected path to be a non-empty string but found ${describe(path)}`);
  }
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (error) {
    throw new DataFileError(
      `Expected MovieLens ratings at ${path} (a ratings file or a folder holding one) but ${
        readReason(error)
      }`,
      path,
      { cause: error },
    );
  }
  if (!isDirectory) return path;
  for (const name of ["ratings.csv", "ratings.dat", "u.data"]) {
    if (existsSync(join(path, name))) return join(path, name);
  }
  throw new DataFileError(
    `Expected ${path} to hold ratings.csv, ratings.dat or u.data but found none`,
    path,
  );
}

function isDigits(text: string): boolean {
  if (text.length === 0) return false;
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Reads movie titles into `titles` (id → title). The files are small and read whole;
 * older releases are ISO-8859-1, so bytes that are not valid UTF-8 are read as Latin-1.
 */
async function readTitles(
  path: string,
  format: Format,
  titles: Map<string, string>,
  skipMalformed: boolean,
): Promise<number> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw unreadable(path, readReason(error), error);
  }
  const text = decodeText(bytes);
  const delimiter = format === "csv" ? "," : format === "dat" ? "::" : "|";
  const fields: string[] = [];
  let lineNo = 0;
  let skipped = 0;
  let idAt = 0;
  let titleAt = 1;
  let expected = format === "dat" ? 3 : -1;
  splitLines(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, (line) => {
    lineNo++;
    if (line.length === 0) return;
    const count = splitFields(line, delimiter, format === "csv", fields);
    let reason: string | undefined;
    if (format === "csv" && expected < 0) {
      idAt = fields.indexOf("movieId");
      titleAt = fields.indexOf("title");
      if (count < 0 || idAt < 0 || titleAt < 0 || idAt >= count || titleAt >= count) {
        throw new MalformedLineError(
          path,
          lineNo,
          `expected a header with movieId and title but found '${line}'`,
        );
      }
      expected = count;
      return;
    }
    if (format === "tab" && expected < 0) expected = count;
    if (count !== expected) reason = fieldCountReason(count, expected);
    else if (!isDigits(fields[idAt]!)) {
      reason = `expected a numeric movie id in field ${idAt + 1} but found '${fields[idAt]}'`;
    }
    if (reason === undefined) {
      titles.set(fields[idAt]!, fields[titleAt]!);
    } else if (skipMalformed) {
      skipped++;
    } else {
      throw new MalformedLineError(path, lineNo, reason);
    }
  });
  return skipped;
}

/**
 * UTF-8 when the bytes are valid UTF-8, else Latin-1 (one byte, one code point).
 *
 * @param bytes A whole file.
 * @returns The text; a UTF-8 byte-order mark is kept (as U+FEFF).
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { decodeText } from "./movielens.ts";
 * equal(decodeText(Uint8Array.of(0x43, 0xc3, 0xa9)), "Cé"); // valid UTF-8
 * equal(decodeText(Uint8Array.of(0x43, 0xe9)), "Cé"); // Latin-1
 * ```
 */
export function decodeText(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    let out = "";
    for (let k = 0; k < bytes.length; k += 8192) {
      out += String.fromCharCode(...bytes.subarray(k, k + 8192));
    }
    return out;
  }
}

/**
 * A MovieLens release from the cache directory, downloading the zip from GroupLens and
 * extracting the ratings and titles files the first time.
 *
 * @param variant `"100k"`, `"1m"`, `"10m"`, `"20m"`, `"25m"`, `"32m"`, `"latest"` or `"latest-small"`.
 * @param options Where to cache (`dataDir`), `url` of the zip, and the options of {@link readMovielens}.
 * @returns What {@link readMovielens} returns.
 * @throws TypeError / RangeError for an unknown variant; Error when the download fails; what
 *   {@link readMovielens} throws.
 */
export async function fetchMovielens(
  variant: MovielensVariant,
  options: MovielensOptions & FetchOptions = {},
): Promise<Interactions> {
  const reader = readerOptions<MovielensOptions>("fetchMovielens()", options, [
    ...READ_OPTIONS,
    ...MOVIELENS_OPTIONS,
  ]);
  const release = RELEASES[oneOf("variant", variant, Object.keys(RELEASES) as MovielensVariant[])];
  const [ratings] = await cachedFiles({
    options,
    subdir: join("movielens", `ml-${variant}`),
    url: options.url ?? MOVIELENS_URL + release.archive,
    archiveName: release.archive,
    files: [release.ratings, release.titles],
    extract: extractZip,
  });
  return await readMovielens(ratings!, reader);
}

/**
 * Where {@link fetchMovielens} keeps a release's ratings file under a data directory.
 *
 * @param dataDir The cache directory (see `dataDir` in lib/datasets/cache.ts).
 * @param variant The release.
 * @returns E.g. `<dataDir>/movielens/ml-100k/u.data`.
 */
export function movielensPath(dataDir: string, variant: MovielensVariant): string {
  return join(dataDir, "movielens", `ml-${variant}`, RELEASES[variant].ratings);
}
