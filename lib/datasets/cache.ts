/**
 * The download cache of the `fetch*` dataset helpers: a directory (`TACIT_DATA_DIR`,
 * default `~/.cache/tacit`) holding each dataset's extracted files. A file that is there
 * is reused; otherwise the archive is downloaded, the wanted entries are extracted
 * (written to `.part` files and renamed when complete, so an interrupted run never leaves
 * a file that looks finished) and the archive is deleted.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, join } from "node:path";
import process from "node:process";
import { ProgressBar, resolveProgress } from "../progress.ts";
import { describe, knownOptions } from "../validate.ts";

/** Options of every `fetch*` helper. */
export interface FetchOptions {
  /** The cache directory. Default `TACIT_DATA_DIR`, else `~/.cache/tacit`. */
  dataDir?: string;
  /** Download from here instead of the canonical address (a mirror). */
  url?: string;
  /** Show download progress on stderr. Default {@link resolveProgress}. */
  progress?: boolean;
}

/** The keys of {@link FetchOptions}. */
export const FETCH_OPTIONS: readonly string[] = ["dataDir", "url", "progress"];

/**
 * Checks a `fetch*` helper's options (its reader's and {@link FETCH_OPTIONS})
 * and returns the reader's part, without `dataDir` and `url`.
 *
 * @param owner The helper, for messages, e.g. `"fetchLastfm360k()"`.
 * @param options What the caller passed.
 * @param readerOptions The keys the helper's reader takes.
 * @returns A new object: the options minus `dataDir` and `url`.
 * @throws TypeError for a non-object or an unknown key.
 */
export function readerOptions<O extends object>(
  owner: string,
  options: (O & FetchOptions) | undefined,
  readerOptions: readonly string[],
): O {
  const given = knownOptions(owner, options, [...readerOptions, ...FETCH_OPTIONS]);
  const { dataDir: _dir, url: _url, ...rest } = given;
  return rest as O;
}

/**
 * Extracts the entries of `archive` for which `pick(entryName)` returns a destination
 * path, and returns the paths written.
 */
export type Extractor = (
  archive: string,
  pick: (entryName: string) => string | undefined,
) => Promise<string[]>;

/**
 * The cache directory: `dataDir` when given, else `TACIT_DATA_DIR` (when set and not empty),
 * else `~/.cache/tacit`.
 *
 * @param dataDir An explicit directory.
 * @returns The directory (not created).
 * @throws TypeError when `dataDir` is given but is not a non-empty string.
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { dataDir } from "./cache.ts";
 * equal(dataDir("/srv/datasets"), "/srv/datasets");
 * throws(() => dataDir(""), TypeError);
 * ```
 */
export function dataDir(dataDir?: string): string {
  if (dataDir !== undefined) {
    if (typeof dataDir !== "string" || dataDir === "") {
      throw new TypeError(`Expected dataDir to be a directory path but found ${describe(dataDir)}`);
    }
    return dataDir;
  }
  const fromEnv = process.env.TACIT_DATA_DIR;
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : join(homedir(), ".cache", "tacit");
}

/** What {@link cachedFiles} needs to know about one dataset. */
export interface CachedDataset {
  /** The caller's options: `dataDir` and `progress` are used here. */
  options: FetchOptions;
  /** Folder of this dataset under the cache directory. */
  subdir: string;
  /** Where to download the archive from. */
  url: string;
  /** File name of the downloaded archive. */
  archiveName: string;
  /** Base names of the entries to keep; the first must be in the archive, the rest may be. */
  files: string[];
  /** Unpacks the archive (e.g. `extractZip`, `extractTar`). */
  extract: Extractor;
}

/**
 * Paths of a dataset's files in the cache, downloading and extracting them first when the
 * first of them is missing.
 *
 * @param dataset Where the files go, where the archive comes from and how to unpack it.
 * @returns One path per name in `files` (an optional file may not exist).
 * @throws Error for a failed download or an archive without the first file (the archive is
 *   then kept, so a rerun does not download it again); what `extract` throws.
 */
export async function cachedFiles(dataset: CachedDataset): Promise<string[]> {
  const dir = join(dataDir(dataset.options.dataDir), dataset.subdir);
  const paths = dataset.files.map((name) => join(dir, name));
  if (existsSync(paths[0]!)) return paths;
  await mkdir(dir, { recursive: true });
  const archive = join(dir, dataset.archiveName);
  if (!existsSync(archive)) {
    await download(dataset.url, archive, resolveProgress(dataset.options.progress));
  }
  const seen: string[] = [];
  await dataset.extract(archive, (entry) => {
    seen.push(entry);
    const name = basename(entry);
    return dataset.files.includes(name) ? join(dir, name) : undefined;
  });
  if (!existsSync(paths[0]!)) {
    throw new Error(
      `Expected ${archive} to hold ${dataset.files[0]} but found ${seen.join(", ") || "no files"}`,
    );
  }
  await rm(archive);
  return paths;
}

/**
 * Downloads `url` to `path` (through `path.part`, renamed when complete).
 *
 * @param url The address.
 * @param path The file to write; its directory must exist.
 * @param progress Whether to show a progress bar (MiB) on stderr.
 * @returns A promise that settles when `path` is complete.
 * @throws Error naming the address and the HTTP status when the server refuses; the error of
 *   `fetch` or of the file system otherwise (a `.part` file may be left).
 */
export async function download(url: string, path: string, progress: boolean): Promise<void> {
  const response = await fetch(url);
  if (!response.ok || response.body === null) {
    throw new Error(
      `Expected ${url} to answer 200 OK but it answered ${response.status} ${response.statusText}`,
    );
  }
  const length = Number(response.headers.get("content-length") ?? 0);
  const total = Number.isFinite(length) && length > 0 ? Math.ceil(length / 2 ** 20) : 0;
  const part = `${path}.part`;
  const handle = await open(part, "w");
  try {
    using bar = new ProgressBar({
      total,
      label: `${basename(path)} (MiB)`,
      enabled: progress && total > 0,
    });
    const reader = response.body.getReader();
    let received = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      await handle.write(value);
      received += value.length;
      bar.update(Math.floor(received / 2 ** 20));
    }
  } finally {
    await handle.close();
  }
  await rename(part, path);
}

/**
 * Writes a stream of chunks to `path` through `path.part`, renamed when complete.
 *
 * @param path The file to write; its directory must exist.
 * @param chunks The bytes, in order.
 * @returns The number of bytes written.
 * @throws What the file system or `chunks` throws (the `.part` file is then left).
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { writeFileAtomically } from "./cache.ts";
 * const dir = mkdtempSync(join(tmpdir(), "tacit-"));
 * async function* chunks() {
 *   yield new TextEncoder().encode("ab");
 *   yield new TextEncoder().encode("c");
 * }
 * equal(await writeFileAtomically(join(dir, "out.txt"), chunks()), 3);
 * equal(readFileSync(join(dir, "out.txt"), "utf8"), "abc");
 * equal(existsSync(join(dir, "out.txt.part")), false);
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomically(
  path: string,
  chunks: AsyncIterable<Uint8Array>,
): Promise<number> {
  const part = `${path}.part`;
  const handle = await open(part, "w");
  let written = 0;
  try {
    for await (const chunk of chunks) {
      await handle.write(chunk);
      written += chunk.length;
    }
  } finally {
    await handle.close();
  }
  await rename(part, path);
  return written;
}
