/**
 * NumPy's `.npy` format, written and read without a dependency, so factors move between
 * tacit and NumPy (`np.load`, `np.save`) and whatever reads NPY.
 *
 * Layout (NumPy's NEP 1, "A simple file format for NumPy arrays"):
 *
 * ```
 * offset  size  content
 * 0       6     magic 93 4E 55 4D 50 59  ("\x93NUMPY")
 * 6       1     major version: 1, 2 or 3
 * 7       1     minor version: 0
 * 8       2|4   header length H, u16 little-endian (1.0) or u32 (2.0, 3.0)
 * 10|12   H     the header, a Python dict literal in ASCII (1.0, 2.0) or UTF-8 (3.0):
 *                 {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 *               padded with spaces and ended by "\n" so the data starts at a multiple of 64
 * ...           the values, C order (row-major), product(shape) * itemsize bytes, then EOF
 * ```
 *
 * Written: float32 (`<f4`), float64 (`<f8`), int32 (`<i4`) and int64 (`<i8`, a
 * BigInt64Array), C order, little-endian, version 1.0, or 2.0 when the header is longer
 * than 1.0's u16 length allows. Read: the same dtypes (`|`/`=` byte orders too), versions
 * 1.0 to 3.0. Refused, with a {@link DataFileError} naming the file: a foreign file (bad
 * magic), another dtype (named), `fortran_order: True`, big-endian data, a malformed header,
 * and data shorter or longer than the shape gives. `DataFileError` and not `TacitFileError`:
 * an NPY file is another engine's data file, not a tacit file with tacit's checksum, and the
 * class is the one the other data readers throw.
 *
 * @module
 */
import { DataFileError, readDataFile } from "../datasets/records.ts";
import { describe } from "../validate.ts";
import { writeFileAtomic, writeReason } from "./files.ts";

/** The element types tacit reads and writes in NPY files, by NumPy's names. */
export type NpyDtype = "float32" | "float64" | "int32" | "int64";
/** The typed arrays matching {@link NpyDtype}. */
export type NpyTypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array;

/** What {@link writeNpy} and {@link encodeNpy} take: values in C order and their shape. */
export interface NpyInput {
  /** The values, C order (row-major). */
  array: NpyTypedArray;
  /** Non-negative integers whose product is `array.length`; `[]` for a scalar. */
  shape: readonly number[];
}

/** What {@link readNpy} and {@link decodeNpy} return. */
export interface NpyArray {
  /** The values, C order (row-major). */
  array: NpyTypedArray;
  /** The shape as the header gives it. */
  shape: number[];
  /** The element type. */
  dtype: NpyDtype;
}

const MAGIC = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59);
const ALIGN = 64;
const V1_HEADER_MAX = 0xffff;

const DESCRS: Record<NpyDtype, string> = {
  float32: "<f4",
  float64: "<f8",
  int32: "<i4",
  int64: "<i8",
};
const CTORS = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
} as const;
/** NumPy's names of the dtypes tacit does not read, for messages. */
const OTHER_NAMES: Record<string, string> = {
  b1: "bool",
  i1: "int8",
  u1: "uint8",
  i2: "int16",
  u2: "uint16",
  u4: "uint32",
  u8: "uint64",
  f2: "float16",
  f16: "float128",
  c8: "complex64",
  c16: "complex128",
  O: "object",
};
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function dtypeOf(array: unknown): NpyDtype | undefined {
  for (const [dtype, Ctor] of Object.entries(CTORS)) {
    if (array instanceof Ctor) return dtype as NpyDtype;
  }
  return undefined;
}

function shapeText(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

function checkInput(input: NpyInput): { dtype: NpyDtype; shape: number[] } {
  const dtype = dtypeOf(input?.array);
  if (dtype === undefined) {
    throw new TypeError(
      `Expected array to be a Float32Array, Float64Array, Int32Array or BigInt64Array but found ${
        describe(input?.array)
      }`,
    );
  }
  const { shape } = input;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TypeError(
      `Expected shape to be an array of non-negative integers but found ${describe(shape)}`,
    );
  }
  const count = shape.reduce((p, d) => p * d, 1);
  if (count !== input.array.length) {
    throw new RangeError(
      `Expected shape [${shape}] to have the array's ${input.array.length} values but its product is ${count}`,
    );
  }
  return { dtype, shape: [...shape] };
}

/**
 * The bytes of an NPY file holding `input`: version 1.0, or 2.0 when the header needs a
 * 32-bit length; the data starts at a multiple of 64.
 *
 * @param input The values (C order) and their shape.
 * @returns A new buffer: the prefix, the header and a copy of the values.
 * @throws TypeError for another typed array or a shape that is not integers; RangeError when
 *   the shape's product is not the array's length.
 * @example
 * ```ts
 * import { deepStrictEqual, equal } from "node:assert/strict";
 * import { decodeNpy, encodeNpy } from "./npy.ts";
 * const bytes = encodeNpy({ array: Float32Array.of(1, 2, 3, 4, 5, 6), shape: [2, 3] });
 * equal(bytes.length, 128 + 24); // the data starts at a multiple of 64
 * equal(
 *   new TextDecoder().decode(bytes.subarray(10, 128)).trimEnd(),
 *   "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
 * );
 * deepStrictEqual(decodeNpy(bytes), {
 *   array: Float32Array.of(1, 2, 3, 4, 5, 6),
 *   shape: [2, 3],
 *   dtype: "float32",
 * });
 * ```
 */
export function encodeNpy(input: NpyInput): Uint8Array<ArrayBuffer> {
  const { head, data } = encodeParts(input);
  const bytes = new Uint8Array(head.length + data.length);
  bytes.set(head, 0);
  bytes.set(data, head.length);
  return bytes;
}

function encodeParts(input: NpyInput): { head: Uint8Array; data: Uint8Array } {
  const { dtype, shape } = checkInput(input);
  if (!LITTLE_ENDIAN) throw new RangeError("NPY files are written little-endian; this host is not");
  const dict = `{'descr': '${DESCRS[dtype]}', 'fortran_order': False, 'shape': ${
    shapeText(shape)
  }, }`;
  let prefix = 10;
  let total = Math.ceil((prefix + dict.length + 1) / ALIGN) * ALIGN;
  if (total - prefix > V1_HEADER_MAX) {
    prefix = 12;
    total = Math.ceil((prefix + dict.length + 1) / ALIGN) * ALIGN;
  }
  const head = new Uint8Array(total);
  head.set(MAGIC, 0);
  head[6] = prefix === 10 ? 1 : 2;
  head[7] = 0;
  const view = new DataView(head.buffer);
  if (prefix === 10) view.setUint16(8, total - prefix, true);
  else view.setUint32(8, total - prefix, true);
  head.set(new TextEncoder().encode(dict), prefix);
  head.fill(0x20, prefix + dict.length, total - 1);
  head[total - 1] = 0x0a;
  const a = input.array;
  return { head, data: new Uint8Array(a.buffer, a.byteOffset, a.byteLength) };
}

/**
 * Writes `input` as an NPY file ({@link encodeNpy}'s bytes), atomically: to a temporary file
 * beside `path`, synced, then renamed over it, so a failed write leaves an existing file as
 * it was and no temporary behind.
 *
 * @param path Where to write, conventionally ending in `.npy`.
 * @param input The values (C order) and their shape.
 * @returns A promise that settles when the file is in place.
 * @throws TypeError / RangeError as {@link encodeNpy}; DataFileError naming `path` and the
 *   reason (no directory, no permission, disk full, ...) when writing fails.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { readNpy, writeNpy } from "./npy.ts";
 * const dir = mkdtempSync(join(tmpdir(), "tacit-npy-"));
 * const ids = BigInt64Array.of(7n, -1n, 9007199254740993n);
 * await writeNpy(join(dir, "ids.npy"), { array: ids, shape: [3] });
 * deepStrictEqual(await readNpy(join(dir, "ids.npy")), { array: ids, shape: [3], dtype: "int64" });
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function writeNpy(path: string, input: NpyInput): Promise<void> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`Expected path to be a non-empty string but found ${describe(path)}`);
  }
  const { head, data } = encodeParts(input);
  try {
    await writeFileAtomic(path, [head, data]);
  } catch (error) {
    throw new DataFileError(`Could not write NPY file ${path}: ${writeReason(error)}`, path, {
      cause: error,
    });
  }
}

/**
 * Reads an NPY file.
 *
 * @param path The file.
 * @returns The values (a view on one fresh buffer holding the file), the shape and the dtype.
 * @throws DataFileError naming `path`: missing, a directory, unreadable; not an NPY file;
 *   another dtype (named, e.g. `'<u2' (uint16)`); `fortran_order: True`; big-endian data; a
 *   malformed header; data shorter (truncated) or longer than the shape gives.
 * @example
 * ```ts
 * import { rejects } from "node:assert/strict";
 * import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { encodeNpy, readNpy } from "./npy.ts";
 * const dir = mkdtempSync(join(tmpdir(), "tacit-npy-"));
 * const bytes = encodeNpy({ array: Float64Array.of(1, 2, 3), shape: [3] });
 * writeFileSync(join(dir, "cut.npy"), bytes.subarray(0, bytes.length - 1));
 * await rejects(readNpy(join(dir, "cut.npy")), {
 *   name: "DataFileError",
 *   message: /cut\.npy .*3 float64 values \(24 bytes\).* found 23 bytes: the file is truncated/,
 * });
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function readNpy(path: string): Promise<NpyArray> {
  return decodeNpy(await readDataFile(path, "an NPY file"), path);
}

/**
 * Decodes the bytes of an NPY file (checked as {@link readNpy} checks a file).
 *
 * @param bytes The whole file.
 * @param source The name the errors give the bytes (default `"the NPY bytes"`), kept as the
 *   error's `path`.
 * @returns The values (a view on `bytes` when the data is aligned for its type, else a
 *   copy), the shape and the dtype.
 * @throws DataFileError as {@link readNpy}.
 */
export function decodeNpy(bytes: Uint8Array, source = "the NPY bytes"): NpyArray {
  const fail = (message: string) => new DataFileError(message, source);
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`Expected bytes to be a Uint8Array but found ${describe(bytes)}`);
  }
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) {
    const start = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, "0"));
    throw fail(
      `Expected ${source} to start with the NPY magic 93 4e 55 4d 50 59 ("\\x93NUMPY") but found ${
        start.length === 0 ? "no bytes" : start.join(" ")
      }: not an NPY file`,
    );
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major < 1 || major > 3 || minor !== 0) {
    throw fail(
      `Expected NPY format version 1.0, 2.0 or 3.0 in ${source} but found ${major}.${minor}`,
    );
  }
  const prefix = major === 1 ? 10 : 12;
  if (bytes.length < prefix) {
    throw fail(`Expected ${prefix} bytes of NPY prefix in ${source} but found ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = prefix + headerLength;
  if (dataStart > bytes.length) {
    throw fail(
      `Expected a header of ${headerLength} bytes in ${source} but found ${
        bytes.length - prefix
      } bytes after the prefix: the file is truncated`,
    );
  }
  const text = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(prefix, dataStart),
  );
  const header = parseHeader(text, source);
  const dtype = dtypeFromDescr(header.descr, source);
  if (header.fortranOrder) {
    throw fail(
      `Expected ${source} to be in C order but found fortran_order True: tacit reads row-major arrays only (write it from np.ascontiguousarray(a))`,
    );
  }
  const count = header.shape.reduce((p, d) => p * d, 1);
  const Ctor = CTORS[dtype];
  const expected = count * Ctor.BYTES_PER_ELEMENT;
  const found = bytes.length - dataStart;
  if (found !== expected) {
    throw fail(
      `Expected ${source} to hold ${count} ${dtype} values (${expected} bytes) for shape ${
        shapeText(header.shape)
      } after its header but found ${found} bytes: ${
        found < expected ? "the file is truncated" : "more data than the shape gives"
      }`,
    );
  }
  const at = bytes.byteOffset + dataStart;
  const array = at % Ctor.BYTES_PER_ELEMENT === 0
    ? new Ctor(bytes.buffer as ArrayBuffer, at, count)
    : new Ctor(bytes.slice(dataStart).buffer as ArrayBuffer, 0, count);
  return { array, shape: header.shape, dtype };
}

function dtypeFromDescr(descr: unknown, source: string): NpyDtype {
  const fail = (message: string) => new DataFileError(message, source);
  if (typeof descr !== "string") {
    throw fail(
      `Expected ${source} to hold float32, float64, int32 or int64 values but found a structured dtype ${
        JSON.stringify(descr)
      }`,
    );
  }
  const match = /^([<>|=]?)([a-zA-Z]\d*)$/.exec(descr);
  const order = match?.[1] ?? "";
  const code = match?.[2] ?? descr;
  const known = (Object.entries(DESCRS) as [NpyDtype, string][]).find(([, d]) =>
    d.slice(1) === code
  );
  if (known === undefined) {
    const name = OTHER_NAMES[code] ?? (/^[SUV]/.test(code) ? "string or bytes" : undefined);
    throw fail(
      `Expected ${source} to hold float32, float64, int32 or int64 values but found dtype '${descr}'${
        name === undefined ? "" : ` (${name})`
      }: unsupported dtype`,
    );
  }
  if (order === ">" || (order === "=" && !LITTLE_ENDIAN)) {
    throw fail(
      `Expected ${source} to be little-endian but found dtype '${descr}' (big-endian ${
        known[0]
      }): convert it with a.astype('${known[1]}')`,
    );
  }
  if (!LITTLE_ENDIAN) throw fail(`NPY files are read little-endian; this host is not (${source})`);
  return known[0];
}

/** The three keys of an NPY header, parsed from its Python dict literal. */
function parseHeader(
  text: string,
  source: string,
): { descr: unknown; fortranOrder: boolean; shape: number[] } {
  const fail = (what: string) =>
    new DataFileError(
      `Expected an NPY header (a dict of 'descr', 'fortran_order' and 'shape') in ${source} but ${what}: ${
        JSON.stringify(text.trimEnd().slice(0, 200))
      }`,
      source,
    );
  let k = 0;
  const space = () => {
    while (k < text.length && /\s/.test(text[k]!)) k++;
  };
  const expect = (c: string) => {
    space();
    if (text[k] !== c) {
      throw fail(`found ${JSON.stringify(text[k] ?? "the end")} where '${c}' goes`);
    }
    k++;
  };
  const value = (): unknown => {
    space();
    const c = text[k];
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, k + 1);
      if (end < 0) throw fail("found an unterminated string");
      const s = text.slice(k + 1, end);
      k = end + 1;
      return s;
    }
    if (c === "(" || c === "[") {
      const close = c === "(" ? ")" : "]";
      k++;
      const items: unknown[] = [];
      for (;;) {
        space();
        if (text[k] === close) {
          k++;
          return items;
        }
        items.push(value());
        space();
        if (text[k] === ",") k++;
        else if (text[k] !== close) throw fail(`found ${JSON.stringify(text[k] ?? "the end")}`);
      }
    }
    const word = /^[A-Za-z0-9_.+-]+/.exec(text.slice(k))?.[0];
    if (word === undefined) throw fail(`found ${JSON.stringify(c ?? "the end")}`);
    k += word.length;
    if (word === "True") return true;
    if (word === "False") return false;
    const n = Number(word.replace(/L$/, ""));
    if (!Number.isNaN(n)) return n;
    return word;
  };
  expect("{");
  const dict = new Map<string, unknown>();
  for (;;) {
    space();
    if (text[k] === "}") {
      k++;
      break;
    }
    const key = value();
    if (typeof key !== "string") throw fail("found a key that is not a string");
    expect(":");
    dict.set(key, value());
    space();
    if (text[k] === ",") k++;
    else if (text[k] !== "}") throw fail(`found ${JSON.stringify(text[k] ?? "the end")}`);
  }
  for (const key of ["descr", "fortran_order", "shape"]) {
    if (!dict.has(key)) throw fail(`found no '${key}'`);
  }
  const fortranOrder = dict.get("fortran_order");
  if (typeof fortranOrder !== "boolean") throw fail("found a fortran_order that is not a boolean");
  const shape = dict.get("shape");
  if (
    !Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
  ) {
    throw fail("found a shape that is not a tuple of non-negative integers");
  }
  return { descr: dict.get("descr"), fortranOrder, shape: shape as number[] };
}
