/**
 * The Echo Nest Taste Profile subset of the Million Song Dataset: `train_triplets.txt`,
 * 48M lines of `user \t song \t count`, no header.
 *
 * @module
 */
import { join } from "node:path";
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
import { extractZip } from "./zip.ts";

/** The file inside the archive. */
export const TASTE_PROFILE_FILE = "train_triplets.txt";
/** Where the Million Song Dataset publishes the triplets. */
export const TASTE_PROFILE_URL =
  "http://millionsongdataset.com/sites/default/files/challenge/train_triplets.txt.zip";

/**
 * Reads taste-profile triplets as a users × songs matrix of play counts (duplicates
 * summed). `users` are the user hashes, `items` the song ids (`SO…`); there are no names.
 * A line with other than 3 fields, an empty id or a count that is not a number is malformed.
 *
 * @param path `train_triplets.txt` or a file of the same format.
 * @param options `minCount`, `skipMalformed`, `progress`, `chunkSize`.
 * @returns `{ matrix, users, items, skipped }`.
 * @throws MalformedLineError naming `file:line` unless `skipMalformed`; TypeError /
 *   RangeError for a bad option; DataFileError naming `path` for a file that is missing, a
 *   directory, not readable or empty.
 * @example
 * ```ts
 * import { deepStrictEqual, equal } from "node:assert/strict";
 * import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { readTasteProfile } from "./taste_profile.ts";
 * const dir = mkdtempSync(join(tmpdir(), "tacit-"));
 * const path = join(dir, "train_triplets.txt");
 * writeFileSync(path, "u1\tSOAAA\t2\nu2\tSOAAA\t1\nu1\tSOBBB\t7\nu3\tSOCCC\n");
 * const { matrix, users, items, skipped } = await readTasteProfile(path, { skipMalformed: true });
 * deepStrictEqual(users, ["u1", "u2"]);
 * deepStrictEqual(items, ["SOAAA", "SOBBB"]);
 * deepStrictEqual(matrix.toDense(), Float32Array.of(2, 7, 1, 0));
 * equal(skipped, 1); // the line with 2 fields
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function readTasteProfile(
  path: string,
  options: ReadOptions = {},
): Promise<Interactions> {
  const common = commonOptions("readTasteProfile()", options);
  const builder = new InteractionBuilder(path);
  const fields = new FieldSplitter("\t", false);
  const skipped = await forEachLine(
    path,
    { ...common, label: "taste profile" },
    (bytes, start, end) => {
      const count = fields.split(bytes, start, end);
      if (count !== 3) return fieldCountReason(count, 3);
      const { starts, ends } = fields;
      if (starts[0] === ends[0]) return "expected a user id in field 1 but found an empty field";
      if (starts[1] === ends[1]) return "expected a song id in field 2 but found an empty field";
      const plays = parseNumberBytes(bytes, starts[2]!, ends[2]!);
      const bad = valueReason("the play count (field 3)", plays, fields.text(2));
      if (bad !== undefined) return bad;
      builder.add(
        builder.user(bytes, starts[0]!, ends[0]!),
        builder.item(bytes, starts[1]!, ends[1]!),
        plays,
      );
      return undefined;
    },
  );
  return builder.build(skipped, common.minCount);
}

/**
 * The taste-profile triplets from the cache directory, downloading the zip (about
 * 500 MB; 2.9 GB unpacked) the first time.
 *
 * @param options Where to cache (`dataDir`), `url`, and the options of {@link readTasteProfile}.
 * @returns What {@link readTasteProfile} returns.
 * @throws Error when the download fails or the archive lacks the triplets; what
 *   {@link readTasteProfile} throws.
 */
export async function fetchTasteProfile(
  options: ReadOptions & FetchOptions = {},
): Promise<Interactions> {
  const reader = readerOptions<ReadOptions>("fetchTasteProfile()", options, READ_OPTIONS);
  const [path] = await cachedFiles({
    options,
    subdir: "msd-taste-profile",
    url: options.url ?? TASTE_PROFILE_URL,
    archiveName: "train_triplets.txt.zip",
    files: [TASTE_PROFILE_FILE],
    extract: extractZip,
  });
  return await readTasteProfile(path!, reader);
}

/**
 * Where {@link fetchTasteProfile} keeps the triplets under a data directory.
 *
 * @param dataDir The cache directory (see `dataDir` in lib/datasets/cache.ts).
 * @returns `<dataDir>/msd-taste-profile/train_triplets.txt`.
 */
export function tasteProfilePath(dataDir: string): string {
  return join(dataDir, "msd-taste-profile", TASTE_PROFILE_FILE);
}
