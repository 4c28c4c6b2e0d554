/**
 * Filesystem failures in words, for every reader and writer that takes a path (the tacit
 * file format, the dataset readers, the download cache): opening a file to read refuses a
 * directory before the first read, failures become the end of a sentence that names the
 * path ("… but found a directory") instead of an engine's "EISDIR: illegal operation on a
 * directory, read", writes are checked for short counts, and temporary files get short
 * names of a fixed length, so any name the filesystem accepts can be written.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * Error numbers that Deno's node:fs leaves without a `code` (its message ends in
 * "(os error N)"); only those with the same number on Linux and macOS.
 */
const OS_ERRORS: Record<number, string> = {
  5: "EIO",
  27: "EFBIG",
  28: "ENOSPC",
  30: "EROFS",
};

/**
 * The `code` of a filesystem error (`"ENOENT"`, `"EISDIR"`, ...), also where the runtime
 * only put the OS error number in the message.
 *
 * @param error What a node:fs call threw.
 * @returns The code, or undefined when there is none.
 */
export function fsCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code !== "") return code;
  const number = /\(os error (\d+)\)/.exec(String((error as Error | null)?.message))?.[1];
  return number === undefined ? undefined : OS_ERRORS[Number(number)];
}

/**
 * Why a path could not be opened or read, as the end of "Expected … at <path> but …".
 *
 * @param error What a node:fs call threw.
 * @returns E.g. "found no file", "found a directory", "was not permitted to read it (EACCES)".
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { readReason } from "./files.ts";
 * equal(readReason(Object.assign(new Error("x"), { code: "EISDIR" })), "found a directory");
 * equal(readReason(new Error("boom")), "could not read it: boom");
 * ```
 */
export function readReason(error: unknown): string {
  const code = fsCode(error);
  switch (code) {
    case "ENOENT":
      return "found no file";
    case "ENOTDIR":
      return "found no file (a part of the path is not a directory, ENOTDIR)";
    case "EISDIR":
      return "found a directory";
    case "EACCES":
    case "EPERM":
      return `was not permitted to read it (${code})`;
    case "ENAMETOOLONG":
      return "the name is longer than the filesystem allows (ENAMETOOLONG)";
    case "ELOOP":
      return "found a loop of symbolic links (ELOOP)";
    case "EMFILE":
    case "ENFILE":
      return `could not open it: too many open files (${code})`;
    case "EIO":
      return "could not read it: an input/output error (EIO)";
    default:
      return `could not read it: ${messageOf(error)}`;
  }
}

/**
 * Why a file could not be written, as the end of "Could not save <path>: …".
 *
 * @param error What a node:fs call threw.
 * @returns E.g. "its directory does not exist (ENOENT)", "the disk is full (ENOSPC)".
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { writeReason } from "./files.ts";
 * equal(writeReason(new Error("No space left on device (os error 28)")), "the disk is full (ENOSPC)");
 * ```
 */
export function writeReason(error: unknown): string {
  const code = fsCode(error);
  switch (code) {
    case "ENOENT":
      return "its directory does not exist (ENOENT)";
    case "ENOTDIR":
      return "a part of its directory path is not a directory (ENOTDIR)";
    case "EISDIR":
      return "a directory is in the way (EISDIR)";
    case "EACCES":
    case "EPERM":
      return `it is not permitted to write there (${code})`;
    case "ENOSPC":
      return "the disk is full (ENOSPC)";
    case "EDQUOT":
      return "the disk quota is used up (EDQUOT)";
    case "EFBIG":
      return "the file would be larger than allowed (EFBIG)";
    case "EROFS":
      return "the filesystem is read-only (EROFS)";
    case "ENAMETOOLONG":
      return "the name is longer than the filesystem allows (ENAMETOOLONG)";
    case "EIO":
      return "an input/output error (EIO)";
    default:
      return messageOf(error);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An open file to read and its size in bytes. */
export interface OpenedFile {
  /** The handle; the caller closes it. */
  handle: FileHandle;
  /** The size `fstat` reported when it was opened. */
  size: number;
  /** Whether it is a regular file (not a pipe or a device, whose size says nothing). */
  isFile: boolean;
}

/**
 * Opens a file to read, refusing a directory before any read (on Linux `open` accepts a
 * directory and only the first read fails).
 *
 * @param path The file.
 * @param fail Builds the error to throw from a reason ({@link readReason}) and the cause.
 * @returns The handle and the file's size.
 * @throws What `fail` returns, for a path that cannot be opened or is a directory.
 */
export async function openToRead(
  path: string,
  fail: (reason: string, cause?: unknown) => Error,
): Promise<OpenedFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    throw fail(readReason(error), error);
  }
  try {
    const stats = await handle.stat();
    if (stats.isDirectory()) throw fail("found a directory");
    return { handle, size: stats.size, isFile: stats.isFile() };
  } catch (error) {
    await handle.close().catch(() => {});
    throw error;
  }
}

/**
 * Writes all of `bytes` at the handle's position: a short count (Bun returns one when the
 * file reaches a size limit) is continued, and a write that makes no progress fails with
 * ENOSPC, so a save never ends with fewer bytes than it wrote.
 *
 * @param handle A file open for writing.
 * @param bytes What to write.
 * @throws The error of `write`, or an ENOSPC error for a write of 0 bytes.
 */
export async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
    if (bytesWritten <= 0) {
      throw Object.assign(
        new Error(`wrote 0 of the ${bytes.length - done} bytes left: no space left on device`),
        { code: "ENOSPC" },
      );
    }
    done += bytesWritten;
  }
}

/** The prefix of every temporary file tacit writes, before 12 hex digits and an extension. */
export const TEMPORARY_PREFIX = ".tacit-";

/**
 * A fresh temporary name in the directory of `path`: `.tacit-<12 hex digits><extension>`,
 * 19 characters plus the extension whatever the length of `path`'s own name, so a target
 * name the filesystem accepts is never refused because its temporary would be too long.
 *
 * @param path The file the temporary will be renamed to.
 * @param extension E.g. `".tmp"` or `".part"`.
 * @returns The temporary's path, in the same directory (so the rename is atomic).
 * @example
 * ```ts
 * import { equal, match } from "node:assert/strict";
 * import { basename, dirname } from "node:path";
 * import { temporaryPath } from "./files.ts";
 * const temporary = temporaryPath("/data/" + "m".repeat(250) + ".tacit", ".tmp");
 * equal(dirname(temporary), "/data");
 * match(basename(temporary), /^\.tacit-[0-9a-f]{12}\.tmp$/);
 * ```
 */
export function temporaryPath(path: string, extension: string): string {
  return join(dirname(path), `${TEMPORARY_PREFIX}${randomBytes(6).toString("hex")}${extension}`);
}

/**
 * Writes `parts` as the whole of `path`, atomically: into a fresh temporary file beside it
 * (exclusive create), synced, then renamed over `path`, as the tacit file format's save
 * does; on any failure the temporary is removed and an existing `path` is left as it was.
 *
 * @param path The file to write.
 * @param parts The bytes, in order.
 * @throws The underlying filesystem error (give it to {@link writeReason} for words).
 */
export async function writeFileAtomic(path: string, parts: readonly Uint8Array[]): Promise<void> {
  const temporary = temporaryPath(path, ".tmp");
  let handle: FileHandle | undefined;
  try {
    handle = await open(temporary, "wx");
    for (const part of parts) await writeAll(handle, part);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temporary, path);
  } catch (error) {
    await handle?.close().catch(() => {});
    await unlink(temporary).catch(() => {});
    throw error;
  }
}

/**
 * Reads the whole of a file into one fresh buffer (its offset 0 is aligned for any typed array).
 *
 * @param path The file.
 * @param fail Builds the error to throw from a reason ({@link readReason}) and the cause.
 * @returns The bytes.
 * @throws What `fail` returns, for a path that cannot be opened or read, or is a directory.
 */
export async function readFileWhole(
  path: string,
  fail: (reason: string, cause?: unknown) => Error,
): Promise<Uint8Array<ArrayBuffer>> {
  const { handle, size } = await openToRead(path, fail);
  try {
    const bytes = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(
        bytes,
        filled,
        Math.min(size - filled, 1 << 30),
        filled,
      );
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === size ? bytes : bytes.subarray(0, filled);
  } catch (error) {
    throw fail(readReason(error), error);
  } finally {
    await handle.close();
  }
}
