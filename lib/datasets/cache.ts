/**
 * The download cache of the `fetch*` dataset helpers: a directory (`TACIT_DATA_DIR`,
 * default `~/.cache/tacit`) holding each dataset's extracted files. A file that is there
 * is reused; otherwise the archive is downloaded, the wanted entries are extracted
 * (written to `.tacit-<12 hex>.part` files and renamed when complete, so an interrupted
 * run never leaves a file that looks finished) and the archive is deleted.
 *
 * A download shorter than its `content-length` is refused. An archive that turns out
 * damaged when it is read (the gzip, tar and zip readers check their CRCs, sizes and
 * headers) is deleted, with the files extracted from it, and the error says it will be
 * downloaded again; `.part` files that an interrupted run left behind are deleted once
 * nothing has written to them for {@link STALE_PART_MS}.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { type FileHandle, mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, join } from "node:path";
import process from "node:process";
import { temporaryPath, writeAll, writeReason } from "../io/files.ts";
import { ProgressBar, resolveProgress } from "../progress.ts";
import { describe, knownOptions } from "../validate.ts";
import { DataFileError } from "./records.ts";

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
 * A download that failed: the server could not be reached, answered with an error status,
 * or the transfer broke off. The message names the URL; `status` is the HTTP status when
 * the server answered, and `cause` the runtime's error when it did not.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { DownloadError } from "./cache.ts";
 * const error = new DownloadError("Expected http://x.test/a.zip to answer 200 OK but it answered 404 Not Found", "http://x.test/a.zip", 404);
 * equal(error.name, "DownloadError");
 * equal(error.status, 404);
 * ```
 */
export class DownloadError extends Error {
  /** The address that was being downloaded. */
  readonly url: string;
  /** The HTTP status the server answered, or undefined when no answer came. */
  readonly status: number | undefined;

  /**
   * An error about downloading `url`.
   *
   * @param message What was expected and what happened, naming `url`.
   * @param url The address, kept as the `url` property.
   * @param status The HTTP status, when the server answered.
   * @param options The underlying error, if any, kept as `cause`.
   */
  constructor(message: string, url: string, status?: number, options?: { cause: unknown }) {
    super(message, options);
    this.name = "DownloadError";
    this.url = url;
    this.status = status;
  }
}

/**
 * How long (ms) a `.part` file in a dataset's cache folder must have gone unwritten before
 * {@link cachedFiles} deletes it as the leftover of an interrupted run: 10 minutes. A
 * download or extraction in progress writes every few milliseconds, so another process's
 * work is never deleted.
 */
export const STALE_PART_MS = 10 * 60 * 1000;

/**
 * Paths of a dataset's files in the cache, downloading and extracting them first when the
 * first of them is missing.
 *
 * @param dataset Where the files go, where the archive comes from and how to unpack it.
 * @returns One path per name in `files` (an optional file may not exist).
 * @throws DownloadError naming the URL for a failed download; DataFileError naming the
 *   archive for one that is damaged or lacks the first file (the archive is then deleted,
 *   so the next call downloads it again), or naming the path for a cache folder or file
 *   that cannot be written.
 */
export async function cachedFiles(dataset: CachedDataset): Promise<string[]> {
  const dir = join(dataDir(dataset.options.dataDir), dataset.subdir);
  const paths = dataset.files.map((name) => join(dir, name));
  await removeStaleParts(dir);
  if (existsSync(paths[0]!)) return paths;
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new DataFileError(
      `Expected a cache folder at ${dir} but could not create it: ${writeReason(error)}`,
      dir,
      { cause: error },
    );
  }
  const archive = join(dir, dataset.archiveName);
  if (!existsSync(archive)) {
    await download(dataset.url, archive, resolveProgress(dataset.options.progress));
  }
  const seen: string[] = [];
  const picked: string[] = [];
  try {
    await dataset.extract(archive, (entry) => {
      seen.push(entry);
      const name = basename(entry);
      if (!dataset.files.includes(name)) return undefined;
      picked.push(join(dir, name));
      return join(dir, name);
    });
    if (!existsSync(paths[0]!)) {
      throw new DataFileError(
        `Expected ${archive} to hold ${dataset.files[0]} but found ${
          seen.join(", ") || "no files"
        }`,
        archive,
      );
    }
  } catch (error) {
    // What was extracted before the failure is incomplete as a set: never reuse it.
    await Promise.all(picked.map((path) => rm(path, { force: true })));
    if (!(error instanceof DataFileError && error.path === archive)) throw error;
    await rm(archive, { force: true });
    throw new DataFileError(
      `${error.message}; it was removed from the cache and will be downloaded again from ${dataset.url} on the next call`,
      archive,
      { cause: error },
    );
  }
  await rm(archive, { force: true });
  return paths;
}

/** Deletes the `.part` files in `dir` that nothing has written for {@link STALE_PART_MS}. */
async function removeStaleParts(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return; // no folder yet (or not one): nothing to clean
  }
  const now = Date.now();
  for (const name of names) {
    if (!name.endsWith(".part")) continue;
    const path = join(dir, name);
    const stats = await stat(path).catch(() => undefined);
    if (stats?.isFile() && now - stats.mtimeMs > STALE_PART_MS) {
      await rm(path, { force: true });
    }
  }
}

/**
 * Downloads `url` to `path` (through a `.tacit-<12 hex>.part` file beside it, renamed when
 * complete; deleted when the download fails).
 *
 * @param url The address.
 * @param path The file to write; its directory must exist.
 * @param progress Whether to show a progress bar (MiB) on stderr.
 * @returns A promise that settles when `path` is complete.
 * @throws DownloadError naming the address: no answer (the runtime's error as `cause`), an
 *   HTTP status other than 2xx, a transfer that broke off or ended before `content-length`
 *   bytes; DataFileError naming `path` when the file cannot be written.
 */
export async function download(url: string, path: string, progress: boolean): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new DownloadError(
      `Expected an answer from ${url} but the request failed: ${networkReason(error)}`,
      url,
      undefined,
      { cause: error },
    );
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel().catch(() => {});
    throw new DownloadError(
      `Expected ${url} to answer 200 OK but it answered ${response.status} ${response.statusText}`,
      url,
      response.status,
    );
  }
  const length = Number(response.headers.get("content-length") ?? 0);
  const encoded = (response.headers.get("content-encoding") ?? "identity") !== "identity";
  const expected = Number.isSafeInteger(length) && length > 0 && !encoded ? length : undefined;
  const total = Number.isFinite(length) && length > 0 ? Math.ceil(length / 2 ** 20) : 0;
  using bar = new ProgressBar({
    total,
    label: `${basename(path)} (MiB)`,
    enabled: progress && total > 0,
  });
  const body = response.body;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const reader = body.getReader();
    let received = 0;
    try {
      for (;;) {
        let next: Awaited<ReturnType<typeof reader.read>>;
        try {
          next = await reader.read();
        } catch (error) {
          throw new DownloadError(
            `Expected the whole of ${url} but the transfer broke off after ${received} bytes: ${
              networkReason(error)
            }`,
            url,
            response.status,
            { cause: error },
          );
        }
        if (next.done) break;
        received += next.value.length;
        bar.update(Math.floor(received / 2 ** 20));
        yield next.value;
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
    if (expected !== undefined && received !== expected) {
      throw new DownloadError(
        `Expected ${expected} bytes from ${url} (its content-length) but the transfer ended after ${received}`,
        url,
        response.status,
      );
    }
  }
  await writeFileAtomically(path, chunks());
}

/** A runtime's fetch error in words: its message, then its cause's (Node's "fetch failed"). */
function networkReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = (error as { cause?: unknown } | null)?.cause;
  const code = (error as { code?: unknown } | null)?.code;
  const detail = cause instanceof Error ? cause.message : typeof code === "string" ? code : "";
  return detail === "" || message.includes(detail) ? message : `${message} (${detail})`;
}

/**
 * Writes a stream of chunks to `path` through a `.tacit-<12 hex>.part` file beside it,
 * synced and renamed when complete; on any failure the `.part` file is deleted.
 *
 * @param path The file to write; its directory must exist.
 * @param chunks The bytes, in order.
 * @returns The number of bytes written.
 * @throws What `chunks` throws; DataFileError naming `path` and the reason when the file
 *   cannot be written.
 * @example
 * ```ts
 * import { deepStrictEqual, equal } from "node:assert/strict";
 * import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
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
 * deepStrictEqual(readdirSync(dir), ["out.txt"]); // no .part file left
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomically(
  path: string,
  chunks: AsyncIterable<Uint8Array>,
): Promise<number> {
  const part = temporaryPath(path, ".part");
  const failed = (error: unknown) =>
    new DataFileError(`Could not write ${path}: ${writeReason(error)}`, path, { cause: error });
  let handle: FileHandle | undefined;
  try {
    handle = await open(part, "wx");
  } catch (error) {
    throw failed(error);
  }
  let written = 0;
  try {
    for await (const chunk of chunks) {
      await writeAll(handle, chunk).catch((error: unknown) => {
        throw failed(error);
      });
      written += chunk.length;
    }
    try {
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(part, path);
    } catch (error) {
      throw failed(error);
    }
  } catch (error) {
    await handle?.close().catch(() => {});
    await rm(part, { force: true });
    throw error;
  }
  return written;
}
