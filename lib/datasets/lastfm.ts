/**
 * lastfm-360K (Celma, 2010): `usersha1-artmbid-artname-plays.tsv`, 17.5M lines of
 * `user-sha1 \t artist-mbid \t artist-name \t plays`, no header, no quoting.
 *
 * @module
 */
import { join } from "node:path";
import { oneOf } from "../validate.ts";
import { cachedFiles, type FetchOptions, readerOptions } from "./cache.ts";
import {
  commonOptions,
  fieldCountReason,
  FieldSplitter,
  forEachLine,
  InteractionBuilder,
  type Interactions,
  parseNumberBytes,
  READ_OPTIONS,
  type ReadOptions,
  valueReason,
} from "./records.ts";
import { extractTar } from "./tar.ts";

/** The file inside the archive. */
export const LASTFM_360K_FILE = "usersha1-artmbid-artname-plays.tsv";
/** Where the archive is published (the MTG group at UPF). */
export const LASTFM_360K_URL =
  "http://mtg.upf.edu/static/datasets/last.fm/lastfm-dataset-360K.tar.gz";

/** Options of {@link readLastfm360k}. */
export interface LastfmOptions extends ReadOptions {
  /**
   * What identifies an artist. `"mbid"` (default): the MusicBrainz id when the line has
   * one, else the artist name; an artist spelled two ways under one mbid is one item, and
   * `itemNames` holds the first spelling seen. `"name"`: the name only, as implicit's
   * lastfm loader does (one artist under two spellings is two items).
   */
  itemKey?: "mbid" | "name";
}

/** The keys of the reader's options besides ReadOptions'. */
const LASTFM_OPTIONS: readonly string[] = ["itemKey"];

/**
 * Reads lastfm-360K plays as a users × artists matrix of play counts (duplicate lines
 * summed). `users` are the sha1 strings, `items` the artist keys (see `itemKey`),
 * `itemNames` the artist names. A line with other than 4 fields, an empty user, no mbid
 * and no name, or plays that are not a number is malformed.
 *
 * @param path `usersha1-artmbid-artname-plays.tsv` or a file of the same format.
 * @param options `itemKey`, `minCount`, `skipMalformed`, `progress`, `chunkSize`.
 * @returns `{ matrix, users, items, itemNames, skipped }`.
 * @throws MalformedLineError naming `file:line` for a malformed line unless `skipMalformed`;
 *   TypeError / RangeError for a bad option; DataFileError naming `path` for a file that is
 *   missing, a directory, not readable or empty.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { readLastfm360k } from "./lastfm.ts";
 * const dir = mkdtempSync(join(tmpdir(), "tacit-"));
 * const path = join(dir, "plays.tsv");
 * // user, artist mbid (may be empty), artist name, plays
 * writeFileSync(path, "u1\tmb-a\tABBA\t10\nu1\t\tBach\t3\nu2\tmb-a\tAbba\t5\n");
 * const byMbid = await readLastfm360k(path);
 * deepStrictEqual(byMbid.users, ["u1", "u2"]);
 * deepStrictEqual(byMbid.items, ["mb-a", "Bach"]); // no mbid: the name is the key
 * deepStrictEqual(byMbid.itemNames, ["ABBA", "Bach"]); // the first spelling seen
 * deepStrictEqual(byMbid.matrix.toDense(), Float32Array.of(10, 3, 5, 0));
 * const byName = await readLastfm360k(path, { itemKey: "name" });
 * deepStrictEqual(byName.items, ["ABBA", "Bach", "Abba"]);
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function readLastfm360k(
  path: string,
  options: LastfmOptions = {},
): Promise<Interactions> {
  const common = commonOptions("readLastfm360k()", options, LASTFM_OPTIONS);
  const byName = oneOf("itemKey", options.itemKey ?? "mbid", ["mbid", "name"]) === "name";
  const builder = new InteractionBuilder(path);
  const names: string[] = [];
  const fields = new FieldSplitter("\t", false);
  const skipped = await forEachLine(path, { ...common, label: "lastfm" }, (bytes, start, end) => {
    const count = fields.split(bytes, start, end);
    if (count !== 4) return fieldCountReason(count, 4);
    const { starts, ends } = fields;
    if (starts[0] === ends[0]) return "expected a user sha1 in field 1 but found an empty field";
    const noMbid = starts[1] === ends[1];
    if (noMbid && starts[2] === ends[2]) {
      return "expected an artist mbid or name in fields 2-3 but found neither";
    }
    const plays = parseNumberBytes(bytes, starts[3]!, ends[3]!);
    const bad = valueReason("plays (field 4)", plays, fields.text(3));
    if (bad !== undefined) return bad;
    const u = builder.user(bytes, starts[0]!, ends[0]!);
    const key = byName || noMbid ? 2 : 1;
    const i = builder.item(bytes, starts[key]!, ends[key]!);
    if (i === names.length) names.push(fields.text(2));
    builder.add(u, i, plays);
    return undefined;
  });
  return builder.build(skipped, common.minCount, names);
}

/**
 * lastfm-360K from the cache directory, downloading and unpacking the archive (about
 * 540 MB; only the plays file is kept) the first time.
 *
 * @param options Where to cache (`dataDir`), `url`, and the options of {@link readLastfm360k}.
 * @returns What {@link readLastfm360k} returns.
 * @throws Error when the download fails or the archive lacks the plays file; what
 *   {@link readLastfm360k} throws.
 */
export async function fetchLastfm360k(
  options: LastfmOptions & FetchOptions = {},
): Promise<Interactions> {
  const reader = readerOptions<LastfmOptions>("fetchLastfm360k()", options, [
    ...READ_OPTIONS,
    ...LASTFM_OPTIONS,
  ]);
  const [path] = await cachedFiles({
    options,
    subdir: "lastfm-360k",
    url: options.url ?? LASTFM_360K_URL,
    archiveName: "lastfm-dataset-360K.tar.gz",
    files: [LASTFM_360K_FILE],
    extract: extractTar,
  });
  return await readLastfm360k(path!, reader);
}

/**
 * Where {@link fetchLastfm360k} keeps the plays file under a data directory.
 *
 * @param dataDir The cache directory (see `dataDir` in lib/datasets/cache.ts).
 * @returns `<dataDir>/lastfm-360k/usersha1-artmbid-artname-plays.tsv`.
 */
export function lastfm360kPath(dataDir: string): string {
  return join(dataDir, "lastfm-360k", LASTFM_360K_FILE);
}
