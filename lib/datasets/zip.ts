/**
 * A minimal zip reader: the central directory, then stored (method 0) or deflated
 * (method 8) entries streamed through node:zlib's raw inflate, with size and CRC-32
 * checked. No zip64 (archives and entries under 4 GiB, which the MovieLens and Million
 * Song archives are), no encryption. Like the tar reader, it writes an entry only where
 * the caller's `pick` says.
 *
 * @module
 */
import { createReadStream } from "node:fs";
import { rm } from "node:fs/promises";
import type { Readable } from "node:stream";
import { crc32, createInflateRaw } from "node:zlib";
import { type OpenedFile, openToRead } from "../io/files.ts";
import { writeFileAtomically } from "./cache.ts";
import { DataFileError } from "./records.ts";
import { archiveChunks } from "./tar.ts";

const END_OF_DIRECTORY = 0x06054b50;
const DIRECTORY_ENTRY = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;
const utf8 = new TextDecoder();

/** One entry of a zip's central directory. */
export interface ZipEntry {
  /** The entry's path inside the archive, `/`-separated (a folder's ends with `/`). */
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  /** The CRC-32 of the uncompressed bytes, an unsigned 32-bit integer. */
  crc: number;
  /** Bytes the entry takes in the archive. */
  compressedSize: number;
  /** Bytes of the uncompressed entry. */
  size: number;
  /** Offset of the entry's local header. */
  offset: number;
}

/**
 * Lists the entries of a zip archive from its central directory.
 *
 * @param archive The archive path.
 * @returns The entries, in directory order.
 * @throws DataFileError naming `archive` when the file cannot be read, is not a zip (no
 *   end-of-directory record) or is damaged; Error for a zip64 or encrypted archive.
 */
export async function listZip(archive: string): Promise<ZipEntry[]> {
  const { handle, size } = await openArchive(archive);
  try {
    const tailLength = Math.min(size, 22 + 0xffff);
    const tail = new Uint8Array(tailLength);
    await handle.read(tail, 0, tailLength, size - tailLength);
    const view = new DataView(tail.buffer);
    let end = -1;
    for (let p = tailLength - 22; p >= 0; p--) {
      if (view.getUint32(p, true) === END_OF_DIRECTORY) {
        end = p;
        break;
      }
    }
    if (end < 0) {
      throw new DataFileError(
        `Expected ${archive} to be a zip archive but found no end-of-directory record`,
        archive,
      );
    }
    const count = view.getUint16(end + 10, true);
    const directorySize = view.getUint32(end + 12, true);
    const directoryOffset = view.getUint32(end + 16, true);
    if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
      throw new Error(`${archive} is a zip64 archive, which this reader does not support`);
    }
    if (directoryOffset + directorySize > size) {
      throw new DataFileError(
        `${archive} is damaged: its directory runs past the end of the file`,
        archive,
      );
    }
    const directory = new Uint8Array(directorySize);
    await handle.read(directory, 0, directorySize, directoryOffset);
    return parseDirectory(directory, count, archive);
  } finally {
    await handle.close();
  }
}

function parseDirectory(directory: Uint8Array, count: number, archive: string): ZipEntry[] {
  const view = new DataView(directory.buffer);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let k = 0; k < count; k++) {
    if (p + 46 > directory.length || view.getUint32(p, true) !== DIRECTORY_ENTRY) {
      throw new DataFileError(
        `${archive} is damaged: expected directory entry ${k} at offset ${p}`,
        archive,
      );
    }
    const flags = view.getUint16(p + 8, true);
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const commentLength = view.getUint16(p + 32, true);
    const entry: ZipEntry = {
      name: utf8.decode(directory.subarray(p + 46, p + 46 + nameLength)),
      method: view.getUint16(p + 10, true),
      crc: view.getUint32(p + 16, true),
      compressedSize: view.getUint32(p + 20, true),
      size: view.getUint32(p + 24, true),
      offset: view.getUint32(p + 42, true),
    };
    if ((flags & 1) !== 0) throw new Error(`${archive}: entry ${entry.name} is encrypted`);
    if (
      entry.size === 0xffffffff || entry.compressedSize === 0xffffffff ||
      entry.offset === 0xffffffff
    ) {
      throw new Error(
        `${archive}: entry ${entry.name} is zip64, which this reader does not support`,
      );
    }
    entries.push(entry);
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/**
 * Extracts entries of a zip archive, streaming (an entry is never held whole in memory).
 *
 * @param archive The archive path.
 * @param pick Given an entry's name, the path to write it to, or undefined to skip it.
 * @returns The paths written.
 * @throws DataFileError naming `archive` for a file that is not a zip or is damaged (see
 *   {@link listZip}), deflate data that does not inflate, or a size or CRC-32 mismatch (the
 *   damaged file is removed); Error for a method other than stored/deflate; what writing an
 *   entry throws.
 */
export async function extractZip(
  archive: string,
  pick: (entryName: string) => string | undefined,
): Promise<string[]> {
  const written: string[] = [];
  for (const entry of await listZip(archive)) {
    if (entry.name.endsWith("/")) continue;
    const dest = pick(entry.name);
    if (dest === undefined) continue;
    if (entry.method !== 0 && entry.method !== 8) {
      throw new Error(
        `${archive}: entry ${entry.name} uses compression method ${entry.method}; expected 0 (stored) or 8 (deflate)`,
      );
    }
    const start = await dataOffset(archive, entry);
    let crc = 0;
    const checked = async function* (): AsyncGenerator<Uint8Array> {
      if (entry.compressedSize === 0) return;
      const source = createReadStream(archive, { start, end: start + entry.compressedSize - 1 });
      let stream: Readable = source;
      if (entry.method === 8) {
        const inflate = createInflateRaw();
        source.on("error", (error) => inflate.destroy(error));
        stream = source.pipe(inflate);
      }
      try {
        for await (const chunk of archiveChunks(stream, archive, `entry ${entry.name}`)) {
          crc = crc32(chunk, crc);
          yield chunk;
        }
      } finally {
        stream.destroy();
        source.destroy();
      }
    };
    const size = await writeFileAtomically(dest, checked());
    if (size !== entry.size || (crc >>> 0) !== entry.crc) {
      await rm(dest, { force: true });
      throw new DataFileError(
        `${archive} is damaged: expected entry ${entry.name} to have ${entry.size} bytes with CRC-32 ${entry.crc} but found ${size} with ${
          crc >>> 0
        }`,
        archive,
      );
    }
    written.push(dest);
  }
  return written;
}

function openArchive(archive: string): Promise<OpenedFile> {
  return openToRead(archive, (reason, cause) =>
    new DataFileError(
      `Expected a zip archive at ${archive} but ${reason}`,
      archive,
      cause === undefined ? undefined : { cause },
    ));
}

async function dataOffset(archive: string, entry: ZipEntry): Promise<number> {
  const { handle } = await openArchive(archive);
  try {
    const local = new Uint8Array(30);
    const { bytesRead } = await handle.read(local, 0, 30, entry.offset);
    const view = new DataView(local.buffer);
    if (bytesRead < 30 || view.getUint32(0, true) !== LOCAL_HEADER) {
      throw new DataFileError(
        `${archive} is damaged: expected the local header of ${entry.name} at offset ${entry.offset}`,
        archive,
      );
    }
    return entry.offset + 30 + view.getUint16(26, true) + view.getUint16(28, true);
  } finally {
    await handle.close();
  }
}
