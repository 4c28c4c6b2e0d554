/**
 * The single-file format of saved models and indexes (DESIGN.md principle 8).
 *
 * Layout, all integers little-endian:
 *
 * ```
 * offset  size  content
 * 0       8     magic 89 54 41 43 49 54 0D 0A  ("\x89TACIT\r\n": the high byte catches 7-bit
 *               transfers, CR LF catches newline conversion, as in PNG)
 * 8       4     u32 format version, 1
 * 12      4     u32 H, byte length of the JSON header
 * 16      H     UTF-8 JSON header:
 *                 {"kind": "als", "version": 1, "params": {...},
 *                  "arrays": [{"name", "dtype": "f32"|"i32"|"u8"|"f64", "shape": [..],
 *                              "offset", "byteLength"}, ...],
 *                  "checksum": "xxxxxxxx"}            (checksum always the last member)
 * ...           zero padding to the next multiple of 64
 * offset        each array's raw bytes, in header order; array k starts at the first multiple
 *               of 64 at or after the end of array k-1 (the first at align64(16 + H)), zero padding
 *               between; byteLength = product(shape) * itemsize
 * EOF           the end of the last array (align64(16 + H) when there are none)
 * ```
 *
 * `checksum` is the CRC-32 (IEEE 802.3, as in zlib) of every byte of the file, with its
 * own 8 lowercase hex digits counted as "00000000", so a flip anywhere (prefix, header,
 * padding or arrays) is caught. `version` is the kind's own schema version (for the model
 * that wrote it), distinct from the format version at byte 8.
 *
 * @module
 */
import { open, rename, unlink } from "node:fs/promises";
import { describe } from "../validate.ts";
import { readFileWhole, temporaryPath, writeAll, writeReason } from "./files.ts";

/** The 8 bytes every tacit file starts with. */
export const TACIT_MAGIC: Uint8Array = Uint8Array.of(
  0x89,
  0x54,
  0x41,
  0x43,
  0x49,
  0x54,
  0x0d,
  0x0a,
);
/** The format version this code writes and the newest it reads. */
export const TACIT_FORMAT_VERSION = 1;

const PREFIX_BYTES = 16;
const ALIGN = 64;
const PLACEHOLDER = "00000000";

/** Array element types a tacit file holds. */
export type Dtype = "f32" | "i32" | "u8" | "f64";
/** The typed arrays matching {@link Dtype}. */
export type TacitTypedArray = Float32Array | Int32Array | Uint8Array | Float64Array;
/** One named array with its logical shape (`product(shape) === array.length`). */
export interface TacitArray<A extends TacitTypedArray = TacitTypedArray> {
  /** The elements, row-major. */
  array: A;
  /** The logical shape: non-negative integers whose product is `array.length`. */
  shape: number[];
}
/** What {@link writeTacitFile} takes. */
export interface TacitContents {
  /** What the file holds, e.g. `"als"`. */
  kind: string;
  /** The kind's schema version, a positive integer. Default 1. */
  version?: number;
  /** JSON-serialisable parameters (finite numbers only). */
  params: Record<string, unknown>;
  /** Named arrays, stored in insertion order. */
  arrays: Record<string, TacitArray>;
}
/** What {@link readTacitFile} returns. */
export interface TacitFile {
  /** What the file holds, e.g. `"als"`. */
  kind: string;
  /** The kind's schema version, a positive integer. */
  version: number;
  /** The parameters, as parsed from the JSON header. */
  params: Record<string, unknown>;
  /** The named arrays, in file order; views on the one buffer holding the file. */
  arrays: Record<string, TacitArray>;
}

interface ArrayEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  offset: number;
  byteLength: number;
}

/** The typed array each {@link Dtype} is read into. */
export interface DtypeArrays {
  /** 32-bit floats. */
  f32: Float32Array;
  /** 32-bit signed integers. */
  i32: Int32Array;
  /** Bytes. */
  u8: Uint8Array;
  /** 64-bit floats. */
  f64: Float64Array;
}

const DTYPES = {
  f32: Float32Array,
  i32: Int32Array,
  u8: Uint8Array,
  f64: Float64Array,
} as const;

/** A file that is missing, foreign, damaged or of the wrong kind; `name` is `"TacitFileError"`. */
export class TacitFileError extends Error {
  /**
   * An error about the file at `path`.
   *
   * @param message What was expected and what was found.
   * @param path The file concerned, kept as the `path` property.
   * @param options The underlying error, if any, kept as `cause`.
   */
  constructor(message: string, readonly path: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = "TacitFileError";
  }
}

// ---------------------------------------------------------------- CRC-32

/** Slicing-by-8 tables: table k at [256k, 256k + 256). */
const CRC_TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + n]!;
      t[k * 256 + n] = (prev >>> 8) ^ t[prev & 0xff]!;
    }
  }
  return t;
})();

/**
 * CRC-32 (IEEE 802.3 polynomial 0xEDB88320, reflected, as zlib's `crc32`), slicing-by-8
 * over aligned 32-bit words. Feed a long input in pieces by passing the previous result.
 *
 * @param bytes The bytes to add.
 * @param crc The CRC of the bytes before these (0 to start).
 * @returns The CRC-32 of everything so far, an unsigned 32-bit integer.
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { crc32 } from "./format.ts";
 * const bytes = new TextEncoder().encode("123456789");
 * equal(crc32(bytes), 0xcbf43926); // the CRC-32 check value
 * equal(crc32(bytes.subarray(5), crc32(bytes.subarray(0, 5))), 0xcbf43926); // in two pieces
 * equal(crc32(new Uint8Array(0)), 0);
 * ```
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  const t = CRC_TABLES;
  let c = ~crc;
  let i = 0;
  const n = bytes.length;
  while (i < n && (bytes.byteOffset + i) % 4 !== 0) c = t[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  const words = Math.floor((n - i) / 8) * 2;
  if (words > 0) {
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
    for (let k = 0; k < words; k += 2) {
      const a = c ^ w[k]!;
      const b = w[k + 1]!;
      c = t[0x700 + (a & 0xff)]! ^ t[0x600 + ((a >>> 8) & 0xff)]! ^
        t[0x500 + ((a >>> 16) & 0xff)]! ^ t[0x400 + (a >>> 24)]! ^
        t[0x300 + (b & 0xff)]! ^ t[0x200 + ((b >>> 8) & 0xff)]! ^
        t[0x100 + ((b >>> 16) & 0xff)]! ^ t[b >>> 24]!;
    }
    i += words * 4;
  }
  while (i < n) c = t[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// ---------------------------------------------------------------- helpers

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;
const hex8 = (n: number) => n.toString(16).padStart(8, "0");
const bytesOf = (a: TacitTypedArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function requireLittleEndian(path: string): void {
  if (!LITTLE_ENDIAN) {
    throw new TacitFileError(`tacit files are little-endian; this host is not (${path})`, path);
  }
}

function dtypeOf(array: unknown): Dtype | undefined {
  for (const [dtype, Ctor] of Object.entries(DTYPES)) {
    if (array instanceof Ctor) return dtype as Dtype;
  }
  return undefined;
}

function isShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

const product = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

/** Lays the arrays out after a header of `headerBytes` bytes; returns the entries and file size. */
function layout(headerBytes: number, specs: { name: string; dtype: Dtype; shape: number[] }[]) {
  const payloadStart = align(PREFIX_BYTES + headerBytes);
  let end = payloadStart;
  const entries: ArrayEntry[] = specs.map(({ name, dtype, shape }) => {
    const offset = align(end);
    const byteLength = product(shape) * DTYPES[dtype].BYTES_PER_ELEMENT;
    end = offset + byteLength;
    return { name, dtype, shape, offset, byteLength };
  });
  return { entries, payloadStart, size: end };
}

function encodeHeader(
  kind: string,
  version: number,
  params: Record<string, unknown>,
  entries: ArrayEntry[],
  checksum: string,
): Uint8Array {
  const json = JSON.stringify({ kind, version, params, arrays: entries, checksum });
  return new TextEncoder().encode(json);
}

// ---------------------------------------------------------------- write

function checkContents(path: string, contents: TacitContents) {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`Expected path to be a non-empty string but found ${describe(path)}`);
  }
  const { kind, params, arrays } = contents;
  const version = contents.version ?? 1;
  if (typeof kind !== "string" || kind === "") {
    throw new TypeError(`Expected kind to be a non-empty string but found ${describe(kind)}`);
  }
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new RangeError(
      `Expected version to be a positive integer but found ${describe(version)}`,
    );
  }
  if (params === null || typeof params !== "object" || Array.isArray(params)) {
    throw new TypeError(`Expected params to be an object but found ${describe(params)}`);
  }
  JSON.stringify(params, (key, value) => {
    if (typeof value === "number" && !Number.isFinite(value)) {
      throw new RangeError(`Expected params to hold finite numbers but found ${key} = ${value}`);
    }
    return value;
  });
  if (arrays === null || typeof arrays !== "object") {
    throw new TypeError(`Expected arrays to be an object but found ${describe(arrays)}`);
  }
  const specs = Object.entries(arrays).map(([name, entry]) => {
    const dtype = dtypeOf(entry?.array);
    if (dtype === undefined) {
      throw new TypeError(
        `Expected arrays.${name}.array to be a Float32Array, Int32Array, Uint8Array or Float64Array but found ${
          describe(entry?.array)
        }`,
      );
    }
    if (!isShape(entry.shape) || product(entry.shape) !== entry.array.length) {
      throw new RangeError(
        `Expected arrays.${name}.shape to be non-negative integers whose product is the array length ${entry.array.length} but found ${
          JSON.stringify(entry.shape)
        }`,
      );
    }
    return { name, dtype, shape: [...entry.shape], array: entry.array };
  });
  return { kind, version, params, specs };
}

/**
 * Saves named arrays and parameters as one tacit file. The bytes go to a temporary
 * file in the same directory (`.tacit-<12 hex digits>.tmp`, short whatever the length of
 * `path`'s name), which is synced and then renamed over `path`, so a failed save never
 * damages an existing file and leaves no temporary behind.
 *
 * @param path Where to save.
 * @param contents `kind`, optional `version`, `params` and named `arrays` with shapes.
 * @returns A promise that settles when the file is in place.
 * @throws TypeError / RangeError for malformed contents; TacitFileError naming `path` and
 *   the reason (no directory, no permission, disk full, ...) when writing fails.
 * @example
 * ```ts
 * import { deepStrictEqual, equal } from "node:assert/strict";
 * import { mkdtempSync, readFileSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { readTacitFile, TACIT_MAGIC, writeTacitFile } from "./format.ts";
 * const dir = mkdtempSync(join(tmpdir(), "tacit-"));
 * const path = join(dir, "model.tacit");
 * const itemFactors = { array: Float32Array.of(1, 2, 3, 4), shape: [2, 2] };
 * await writeTacitFile(path, { kind: "als", params: { factors: 2 }, arrays: { itemFactors } });
 * const bytes = readFileSync(path);
 * deepStrictEqual(new Uint8Array(bytes.subarray(0, 8)), TACIT_MAGIC);
 * equal(bytes.length % 64, 16); // the 16 bytes of the array start at a multiple of 64
 * deepStrictEqual(await readTacitFile(path, { kind: "als" }), {
 *   kind: "als",
 *   version: 1,
 *   params: { factors: 2 },
 *   arrays: { itemFactors },
 * });
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function writeTacitFile(path: string, contents: TacitContents): Promise<void> {
  const { kind, version, params, specs } = checkContents(path, contents);
  requireLittleEndian(path);
  // Offsets are digits in the header, so lay out again until the padded header length
  // settles (it only grows, so this ends).
  let plan = layout(0, specs);
  let header = encodeHeader(kind, version, params, plan.entries, PLACEHOLDER);
  while (align(PREFIX_BYTES + header.length) !== plan.payloadStart) {
    plan = layout(header.length, specs);
    header = encodeHeader(kind, version, params, plan.entries, PLACEHOLDER);
  }
  const head = new Uint8Array(align(PREFIX_BYTES + header.length));
  head.set(TACIT_MAGIC, 0);
  const view = new DataView(head.buffer);
  view.setUint32(8, TACIT_FORMAT_VERSION, true);
  view.setUint32(12, header.length, true);
  head.set(header, PREFIX_BYTES);

  // CRC over the head (placeholder digits), then each array and the padding before the next.
  const padding = new Uint8Array(ALIGN);
  const pads = plan.entries.map((e, k) =>
    (plan.entries[k + 1]?.offset ?? plan.size) - (e.offset + e.byteLength)
  );
  let crc = crc32(head);
  specs.forEach((s, k) => {
    crc = crc32(bytesOf(s.array), crc);
    crc = crc32(padding.subarray(0, pads[k]!), crc);
  });
  const digitsAt = PREFIX_BYTES + header.length - 2 - PLACEHOLDER.length;
  head.set(new TextEncoder().encode(hex8(crc)), digitsAt);

  const temporary = temporaryPath(path, ".tmp");
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(temporary, "wx");
    await writeAll(handle, head);
    for (const [k, s] of specs.entries()) {
      await writeAll(handle, bytesOf(s.array));
      if (pads[k]! > 0) await writeAll(handle, padding.subarray(0, pads[k]!));
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temporary, path);
  } catch (error) {
    await handle?.close().catch(() => {});
    await unlink(temporary).catch(() => {});
    throw new TacitFileError(`Could not save tacit file ${path}: ${writeReason(error)}`, path, {
      cause: error,
    });
  }
}

// ---------------------------------------------------------------- read

async function readWhole(path: string): Promise<Uint8Array<ArrayBuffer>> {
  return await readFileWhole(path, (reason, cause) =>
    new TacitFileError(
      `Expected a tacit file at ${path} but ${reason}`,
      path,
      cause === undefined ? undefined : { cause },
    ));
}

function parseHeader(path: string, bytes: Uint8Array, headerLength: number) {
  const fail = (what: string, found: unknown) =>
    new TacitFileError(
      `Expected ${what} in the header of ${path} but found ${describe(found)}`,
      path,
    );
  let text: string;
  let header: Record<string, unknown>;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength),
    );
    header = JSON.parse(text);
  } catch (error) {
    throw new TacitFileError(
      `Expected a JSON header in ${path} but it does not parse: ${String(error)}`,
      path,
      {
        cause: error,
      },
    );
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw fail("a JSON object", header);
  }
  const { kind, version, params, arrays, checksum } = header;
  if (typeof kind !== "string" || kind === "") throw fail("'kind' to be a non-empty string", kind);
  if (!Number.isSafeInteger(version) || (version as number) < 1) {
    throw fail("'version' to be a positive integer", version);
  }
  if (params === null || typeof params !== "object" || Array.isArray(params)) {
    throw fail("'params' to be an object", params);
  }
  if (!Array.isArray(arrays)) throw fail("'arrays' to be an array", arrays);
  if (
    typeof checksum !== "string" || !/^[0-9a-f]{8}$/.test(checksum) ||
    !text.endsWith(`"checksum":"${checksum}"}`)
  ) {
    throw fail("'checksum' to be 8 hex digits and the last member", checksum);
  }
  const names = new Set<string>();
  const specs = arrays.map((entry: Record<string, unknown> | null, k: number) => {
    const { name, dtype, shape } = entry ?? {};
    if (typeof name !== "string" || name === "" || names.has(name)) {
      throw fail(`arrays[${k}].name to be a new non-empty string`, name);
    }
    names.add(name);
    if (typeof dtype !== "string" || !(dtype in DTYPES)) {
      throw fail(`arrays[${k}].dtype to be f32, i32, u8 or f64`, dtype);
    }
    if (!isShape(shape)) {
      throw fail(`arrays[${k}].shape to be non-negative integers`, JSON.stringify(shape));
    }
    return { name, dtype: dtype as Dtype, shape };
  });
  const plan = layout(headerLength, specs);
  plan.entries.forEach((expected, k) => {
    const entry = arrays[k] as Record<string, unknown>;
    if (entry.byteLength !== expected.byteLength) {
      throw new TacitFileError(
        `Expected array '${expected.name}' in ${path} to have byteLength ${expected.byteLength} for shape [${expected.shape}] of ${expected.dtype} but found ${
          describe(entry.byteLength)
        }`,
        path,
      );
    }
    if (entry.offset !== expected.offset) {
      throw fail(`arrays[${k}].offset to be ${expected.offset}`, entry.offset);
    }
  });
  return {
    kind,
    version: version as number,
    params: params as Record<string, unknown>,
    checksum,
    plan,
  };
}

/**
 * Loads a tacit file, verifying everything: magic, format version, size, header fields,
 * array layout, checksum and (when given) kind. Arrays are views on one buffer holding
 * the file (every offset is 64-byte aligned), so loading costs one read and one pass.
 *
 * @param path The file to load.
 * @param options `kind`: refuse a file of any other kind.
 * @returns The kind, its schema version, the parameters and the named arrays with shapes.
 * @throws TacitFileError naming `path` (the filesystem's error as `cause`) for a missing,
 *   unreadable, empty, foreign, newer, truncated, malformed or corrupted file, a directory,
 *   or a file of another kind.
 * @example
 * ```ts
 * import { rejects } from "node:assert/strict";
 * import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { readTacitFile, writeTacitFile } from "./format.ts";
 * await rejects(readTacitFile("no-such-model.tacit"), {
 *   name: "TacitFileError",
 *   message: "Expected a tacit file at no-such-model.tacit but found no file",
 *   path: "no-such-model.tacit",
 * });
 * const dir = mkdtempSync(join(tmpdir(), "tacit-"));
 * const path = join(dir, "model.tacit");
 * await writeTacitFile(path, { kind: "bpr", params: {}, arrays: { x: { array: Float32Array.of(1), shape: [1] } } });
 * await rejects(readTacitFile(path, { kind: "als" }), /of kind 'als' but found 'bpr'/);
 * const bytes = readFileSync(path);
 * bytes[bytes.length - 1]! ^= 1; // flip one bit of the array
 * writeFileSync(path, bytes);
 * await rejects(readTacitFile(path), /the file is corrupted/);
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function readTacitFile(
  path: string,
  options: { kind?: string } = {},
): Promise<TacitFile> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`Expected path to be a non-empty string but found ${describe(path)}`);
  }
  requireLittleEndian(path);
  const bytes = await readWhole(path);
  const size = bytes.length;
  if (size === 0) {
    throw new TacitFileError(`Expected a tacit file at ${path} but found an empty file`, path);
  }
  const magicSeen = bytes.subarray(0, TACIT_MAGIC.length);
  if (magicSeen.some((b, k) => b !== TACIT_MAGIC[k])) {
    throw new TacitFileError(
      `Expected a tacit file but ${path} does not start with the tacit magic bytes`,
      path,
    );
  }
  const truncated = (expected: number) =>
    new TacitFileError(
      `Expected ${path} to have ${expected} bytes but found ${size}: the file is truncated`,
      path,
    );
  if (size < PREFIX_BYTES) throw truncated(PREFIX_BYTES);
  const view = new DataView(bytes.buffer, bytes.byteOffset, size);
  const formatVersion = view.getUint32(8, true);
  if (formatVersion > TACIT_FORMAT_VERSION) {
    throw new TacitFileError(
      `Expected a tacit file of format version ${TACIT_FORMAT_VERSION} or older but ${path} has version ${formatVersion}; it was written by a newer tacit`,
      path,
    );
  }
  if (formatVersion < 1) {
    throw new TacitFileError(
      `Expected a format version of at least 1 in ${path} but found 0`,
      path,
    );
  }
  const headerLength = view.getUint32(12, true);
  if (PREFIX_BYTES + headerLength > size) throw truncated(PREFIX_BYTES + headerLength);
  const header = parseHeader(path, bytes, headerLength);
  if (size !== header.plan.size) {
    if (size < header.plan.size) throw truncated(header.plan.size);
    throw new TacitFileError(
      `Expected ${path} to have ${header.plan.size} bytes but found ${size}: it has trailing bytes`,
      path,
    );
  }
  const digitsAt = PREFIX_BYTES + headerLength - 2 - PLACEHOLDER.length;
  let crc = crc32(bytes.subarray(0, digitsAt));
  crc = crc32(new TextEncoder().encode(PLACEHOLDER), crc);
  crc = crc32(bytes.subarray(digitsAt + PLACEHOLDER.length), crc);
  if (hex8(crc) !== header.checksum) {
    throw new TacitFileError(
      `Expected checksum ${header.checksum} but the contents of ${path} give ${
        hex8(crc)
      }: the file is corrupted`,
      path,
    );
  }
  if (options.kind !== undefined && options.kind !== header.kind) {
    throw new TacitFileError(
      `Expected a tacit file of kind '${options.kind}' but found '${header.kind}' in ${path}`,
      path,
    );
  }
  const arrays = Object.fromEntries(header.plan.entries.map((e) => {
    const Ctor = DTYPES[e.dtype];
    const start = bytes.byteOffset + e.offset;
    const length = e.byteLength / Ctor.BYTES_PER_ELEMENT;
    const array = start % Ctor.BYTES_PER_ELEMENT === 0
      ? new Ctor(bytes.buffer, start, length)
      : new Ctor(bytes.buffer.slice(start, start + e.byteLength));
    return [e.name, { array, shape: e.shape }];
  }));
  return { kind: header.kind, version: header.version, params: header.params, arrays };
}

/**
 * Takes one array out of a loaded file, checking its dtype and (optionally) its shape.
 *
 * @param file What {@link readTacitFile} returned.
 * @param name The array's name.
 * @param dtype The element type the caller needs.
 * @param shape The shape the caller needs, if known.
 * @returns The typed array.
 * @throws TypeError when the array is missing or of another dtype; RangeError for another shape.
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { expectArray } from "./format.ts";
 * const array = new Float32Array(6);
 * const file = { kind: "als", version: 1, params: {}, arrays: { userFactors: { array, shape: [3, 2] } } };
 * const factors: Float32Array = expectArray(file, "userFactors", "f32", [3, 2]);
 * equal(factors, array);
 * throws(() => expectArray(file, "userFactors", "f64"), {
 *   name: "TypeError",
 *   message: "Expected an array 'userFactors' of dtype f64 in the als file but found f32",
 * });
 * throws(() => expectArray(file, "userFactors", "f32", [2, 3]), RangeError);
 * throws(() => expectArray(file, "itemFactors", "f32"), TypeError);
 * ```
 */
export function expectArray<D extends Dtype>(
  file: TacitFile,
  name: string,
  dtype: D,
  shape?: readonly number[],
): DtypeArrays[D] {
  const entry = Object.hasOwn(file.arrays, name) ? file.arrays[name] : undefined;
  const found = entry === undefined ? "none" : dtypeOf(entry.array);
  if (entry === undefined || found !== dtype) {
    throw new TypeError(
      `Expected an array '${name}' of dtype ${dtype} in the ${file.kind} file but found ${found}`,
    );
  }
  if (
    shape !== undefined &&
    (shape.length !== entry.shape.length || shape.some((d, k) => d !== entry.shape[k]))
  ) {
    throw new RangeError(
      `Expected array '${name}' to have shape [${shape}] but found [${entry.shape}]`,
    );
  }
  return entry.array as DtypeArrays[D];
}
