/**
 * A minimal streaming tar reader (POSIX ustar, GNU long names, pax `path`), gunzipping
 * through node:zlib when the file starts with the gzip magic. Enough for the dataset
 * archives; it extracts regular files only and never writes where an entry's name says,
 * only where the caller's `pick` says.
 *
 * @module
 */
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { openToRead } from "../io/files.ts";
import { writeFileAtomically } from "./cache.ts";
import { DataFileError } from "./records.ts";

const BLOCK = 512;
const utf8 = new TextDecoder();

/**
 * Pulls exact byte counts out of a stream of chunks read from the file `path`; a stream
 * that ends early is a DataFileError naming `path`.
 * @internal
 */
export class ByteReader {
  readonly #chunks: AsyncIterator<Uint8Array>;
  readonly #path: string;
  #chunk: Uint8Array = new Uint8Array(0);
  #pos = 0;

  constructor(chunks: AsyncIterable<Uint8Array>, path: string) {
    this.#chunks = chunks[Symbol.asyncIterator]();
    this.#path = path;
  }

  async #fill(): Promise<boolean> {
    while (this.#pos >= this.#chunk.length) {
      const next = await this.#chunks.next();
      if (next.done) return false;
      this.#chunk = next.value;
      this.#pos = 0;
    }
    return true;
  }

  /** The next `n` bytes, or null at the end of the stream (before any byte). */
  async exact(n: number): Promise<Uint8Array | null> {
    const out = new Uint8Array(n);
    let got = 0;
    for await (const piece of this.take(n, true)) {
      out.set(piece, got);
      got += piece.length;
    }
    return got === 0 && n > 0 ? null : out;
  }

  /** The next `n` bytes, in pieces; `endOk` allows the stream to end before the first byte. */
  async *take(n: number, endOk = false): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (!(await this.#fill())) {
        if (endOk && left === n) return;
        throw new DataFileError(
          `${this.#path} is truncated: expected ${left} more bytes but found the end`,
          this.#path,
        );
      }
      const count = Math.min(left, this.#chunk.length - this.#pos);
      yield this.#chunk.subarray(this.#pos, this.#pos + count);
      this.#pos += count;
      left -= count;
    }
  }

  /** Skips `n` bytes. */
  async skip(n: number): Promise<void> {
    for await (const _ of this.take(n)) { /* discard */ }
  }
}

/** Whether the file starts with the gzip magic bytes 1f 8b. */
export async function isGzip(path: string): Promise<boolean> {
  const { handle } = await openToRead(path, (reason, cause) =>
    new DataFileError(
      `Expected an archive at ${path} but ${reason}`,
      path,
      cause === undefined ? undefined : { cause },
    ));
  try {
    const magic = new Uint8Array(2);
    const { bytesRead } = await handle.read(magic, 0, 2, 0);
    return bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/**
 * Extracts regular-file entries of a `.tar` or `.tar.gz` archive, streaming (an entry is
 * never held whole in memory).
 *
 * @param archive The archive path.
 * @param pick Given an entry's name, the path to write it to, or undefined to skip it.
 * @returns The paths written.
 * @throws DataFileError naming `archive` for a header whose checksum is wrong (not a tar
 *   file), a truncated archive, a `.gz` / `.tgz` name without the gzip magic bytes, or
 *   damaged gzip data (the decompressor's error as `cause`); what writing an entry throws.
 */
export async function extractTar(
  archive: string,
  pick: (entryName: string) => string | undefined,
): Promise<string[]> {
  const gzipped = await isGzip(archive);
  if (!gzipped && /\.(gz|tgz)$/i.test(archive)) {
    throw new DataFileError(
      `Expected ${archive} to be gzip-compressed (by its name) but it does not start with the gzip magic bytes 1f 8b`,
      archive,
    );
  }
  const source = createReadStream(archive);
  let stream: Readable = source;
  if (gzipped) {
    const gunzip = createGunzip();
    source.on("error", (error) => gunzip.destroy(error));
    stream = source.pipe(gunzip);
  }
  const reader = new ByteReader(
    archiveChunks(stream, archive, gzipped ? "its gzip data" : "it"),
    archive,
  );
  const written: string[] = [];
  let longName: string | undefined;
  try {
    for (;;) {
      const header = await reader.exact(BLOCK);
      if (header === null || header.every((b) => b === 0)) break;
      checkHeader(header, archive);
      const size = entrySize(header);
      const padding = (BLOCK - (size % BLOCK)) % BLOCK;
      const type = header[156]!;
      const name = longName ?? headerName(header);
      longName = undefined;
      if (type === 0x4c /* L: GNU long name of the next entry */) {
        longName = cString((await reader.exact(size))!, 0, size);
      } else if (type === 0x78 /* x: pax attributes of the next entry */) {
        longName = paxPath((await reader.exact(size))!);
      } else if (type === 0x30 || type === 0 || type === 0x37 /* regular file */) {
        const dest = pick(name);
        if (dest === undefined) {
          await reader.skip(size);
        } else {
          await writeFileAtomically(dest, reader.take(size));
          written.push(dest);
        }
      } else {
        await reader.skip(size);
      }
      await reader.skip(padding);
    }
  } finally {
    stream.destroy();
    source.destroy();
  }
  return written;
}

/**
 * The chunks of `stream`, an archive being read; what the stream throws (a decompressor's
 * "unexpected end of file", a read error) becomes a DataFileError naming `archive`.
 *
 * @param stream The archive's bytes, decompressed or not.
 * @param archive The archive's path.
 * @param what What is read, for the message, e.g. "its gzip data".
 */
export async function* archiveChunks(
  stream: AsyncIterable<Uint8Array>,
  archive: string,
  what: string,
): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of stream) yield chunk;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DataFileError(`${archive} is damaged: ${what} cannot be read (${reason})`, archive, {
      cause: error,
    });
  }
}

function checkHeader(header: Uint8Array, archive: string): void {
  let sum = 0;
  for (let k = 0; k < BLOCK; k++) sum += k >= 148 && k < 156 ? 32 : header[k]!;
  const stored = parseOctal(header, 148, 8);
  if (stored !== sum) {
    throw new DataFileError(
      `Expected ${archive} to be a tar archive but a header checksum is ${stored}, not ${sum}`,
      archive,
    );
  }
}

function entrySize(header: Uint8Array): number {
  if ((header[124]! & 0x80) === 0) return parseOctal(header, 124, 12);
  let size = 0; // GNU base-256 for sizes of 8 GiB and more
  for (let k = 125; k < 136; k++) size = size * 256 + header[k]!;
  return size;
}

function parseOctal(bytes: Uint8Array, start: number, length: number): number {
  let value = 0;
  for (let k = start; k < start + length; k++) {
    const b = bytes[k]!;
    if (b === 0 || b === 32) {
      if (value > 0) break;
      continue;
    }
    value = value * 8 + (b - 48);
  }
  return value;
}

function cString(bytes: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && bytes[end] !== 0) end++;
  return utf8.decode(bytes.subarray(start, end));
}

function headerName(header: Uint8Array): string {
  const name = cString(header, 0, 100);
  const ustar = cString(header, 257, 5) === "ustar";
  const prefix = ustar ? cString(header, 345, 155) : "";
  return prefix === "" ? name : `${prefix}/${name}`;
}

/** The `path` of pax records `"<len> key=value\n"`, if any. */
function paxPath(bytes: Uint8Array): string | undefined {
  const text = utf8.decode(bytes);
  let path: string | undefined;
  for (const record of text.split("\n")) {
    const match = /^\d+ path=(.*)$/.exec(record);
    if (match) path = match[1];
  }
  return path;
}
