/**
 * The machinery every loader shares: a streaming line reader over a file (fixed-size
 * chunks, the partial last line carried to the next chunk, so a 500 MB file is never held
 * as text), a delimited-field splitter with optional RFC 4180 quotes, a strict number
 * parser, and a builder that accumulates (user, item, value) triples in growable typed
 * arrays and turns them into a {@link CsrMatrix}.
 *
 * Every loader returns an {@link Interactions}.
 *
 * @module
 */
import { openToRead, readFileWhole, readReason } from "../io/files.ts";
import { ProgressBar, resolveProgress } from "../progress.ts";
import { CsrMatrix, DuplicateOverflowError } from "../sparse.ts";
import {
  describe,
  FLOAT32_MAX,
  knownOptions,
  nonNegativeInteger,
  optionalBoolean,
  positiveInteger,
} from "../validate.ts";
import { Interner } from "./interner.ts";

const utf8 = new TextDecoder();

/**
 * What every loader returns.
 *
 * - `matrix`: users × items, float32 values; duplicate (user, item) lines are summed.
 * - `users[u]`: the external id of dense user `u` (first-seen order in the file).
 * - `items[i]`: the external id of dense item `i` (first-seen order).
 * - `itemNames[i]`: a display name for item `i` where the format has one (lastfm artist
 *   names, MovieLens titles; `""` for a MovieLens item missing from the titles file).
 * - `skipped`: malformed lines skipped (always 0 unless `skipMalformed: true`).
 */
export interface Interactions {
  /** users × items, float32 values; duplicate (user, item) lines are summed. */
  matrix: CsrMatrix;
  /** `users[u]` is the external id of dense user `u` (first-seen order in the file). */
  users: string[];
  /** `items[i]` is the external id of dense item `i` (first-seen order). */
  items: string[];
  /** `itemNames[i]` is a display name for item `i`, where the format has one. */
  itemNames?: string[];
  /** How many malformed lines were skipped (always 0 unless `skipMalformed: true`). */
  skipped: number;
}

/** Options every reader takes. */
export interface ReadOptions {
  /**
   * Keep only items with at least this many distinct users (counted after duplicates are
   * summed and after any rating filter), then drop users left with no items; both id
   * spaces are renumbered densely, first-seen order kept. Default 0 (keep all).
   */
  minCount?: number;
  /** Skip a malformed line and count it in `skipped` instead of throwing. Default false. */
  skipMalformed?: boolean;
  /** Show a progress bar on stderr (MiB read / MiB in all). Default {@link resolveProgress}. */
  progress?: boolean;
  /** Bytes read per chunk. Default 4 MiB (tests use tiny chunks to cross boundaries). */
  chunkSize?: number;
}

/**
 * A line that does not have the expected shape: a missing or extra field, an empty id,
 * a value that is not a number, an unterminated quote. The message starts with
 * `file:line:`, e.g. `ratings.csv:17: expected 4 fields but found 2`.
 *
 * @example
 * ```ts
 * import { equal, ok } from "node:assert/strict";
 * import { MalformedLineError } from "./records.ts";
 * const error = new MalformedLineError("ratings.csv", 17, "expected 4 fields but found 2");
 * equal(error.message, "ratings.csv:17: expected 4 fields but found 2");
 * equal(error.name, "MalformedLineError");
 * equal(error.line, 17);
 * ok(error instanceof SyntaxError);
 * ```
 */
export class MalformedLineError extends SyntaxError {
  /** The file the line is in, as the reader was given it. */
  readonly file: string;
  /** The line's 1-based number, empty lines counted. */
  readonly line: number;

  /**
   * An error with the message `${file}:${line}: ${reason}`.
   *
   * @param file The file's path.
   * @param line The 1-based line number.
   * @param reason What is wrong with the line, e.g. "expected 4 fields but found 2".
   */
  constructor(file: string, line: number, reason: string) {
    super(`${file}:${line}: ${reason}`);
    this.name = "MalformedLineError";
    this.file = file;
    this.line = line;
  }
}

/**
 * A data file or archive that cannot be used as a whole: missing, a directory, not
 * readable, empty, or (for a downloaded archive) damaged. The message names the path and
 * says what is wrong; the filesystem's or decompressor's error, if any, is the `cause`.
 * A problem with one line is a {@link MalformedLineError} instead.
 *
 * @example
 * ```ts
 * import { equal, ok, rejects } from "node:assert/strict";
 * import { DataFileError, forEachLine } from "./records.ts";
 * await rejects(forEachLine("no-such-plays.tsv", {}, () => undefined), (error: DataFileError) => {
 *   equal(error.name, "DataFileError");
 *   equal(error.message, "Expected a data file at no-such-plays.tsv but found no file");
 *   equal(error.path, "no-such-plays.tsv");
 *   equal((error.cause as { code: string }).code, "ENOENT");
 *   ok(error instanceof Error);
 *   return true;
 * });
 * ```
 */
export class DataFileError extends Error {
  /** The file or archive concerned, as the reader was given it. */
  readonly path: string;

  /**
   * An error about the file at `path`.
   *
   * @param message What was expected and what was found, naming `path`.
   * @param path The file concerned, kept as the `path` property.
   * @param options The underlying error, if any, kept as `cause`.
   */
  constructor(message: string, path: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = "DataFileError";
    this.path = path;
  }
}

/**
 * The error for a data file that cannot be opened or read: `Expected ${what} at
 * ${path} but ${reason}`, with `cause` when there is one.
 *
 * @param path The file.
 * @param reason The end of the sentence, e.g. from `readReason`.
 * @param cause The underlying error.
 * @param what What the file should be, e.g. `"an NPY file"`.
 * @returns A {@link DataFileError}.
 */
export function unreadable(
  path: string,
  reason: string,
  cause?: unknown,
  what = "a data file",
): DataFileError {
  return new DataFileError(
    `Expected ${what} at ${path} but ${reason}`,
    path,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * A whole data file's bytes, refusing a non-string path (TypeError) and a file that
 * cannot be read ({@link unreadable}, naming `what` it should be).
 *
 * @param path The file.
 * @param what What the file should be, e.g. `"a Parquet file"`.
 * @returns Its bytes.
 */
export async function readDataFile(path: string, what: string): Promise<Uint8Array<ArrayBuffer>> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`Expected path to be a non-empty string but found ${describe(path)}`);
  }
  return await readFileWhole(path, (reason, cause) => unreadable(path, reason, cause, what));
}

/**
 * Called once per non-empty line with the line's bytes `bytes[start, end)` (a trailing
 * `\r` removed; valid only during the call) and its 1-based number. Returns `undefined`
 * when the line was taken, or why it is malformed.
 */
export type LineHandler = (
  bytes: Uint8Array,
  start: number,
  end: number,
  lineNo: number,
) => string | undefined;

/** Options of {@link forEachLine}. */
export interface LineOptions {
  /** Bytes read per chunk, a positive integer. Default 4 MiB. */
  chunkSize?: number;
  /** Show a progress bar on stderr (MiB read). Default {@link resolveProgress}. */
  progress?: boolean;
  /** Count a malformed line and go on instead of throwing. Default false. */
  skipMalformed?: boolean;
  /** Progress bar label. Default the file name. */
  label?: string;
}

const MIB = 2 ** 20;
const DEFAULT_CHUNK = 4 * MIB;
const NEWLINE = 10;
const CR = 13;
const QUOTE = 34;

/**
 * Streams a text file line by line as bytes, holding one chunk (plus one partial line)
 * at a time: each read is cut at its last newline and the rest carried into the next
 * buffer, so a line (and a multi-byte UTF-8 character) is never split. Lines end at `\n`;
 * a `\r` before it is dropped; empty lines are passed over but counted; a final line
 * without a newline is read; a UTF-8 byte-order mark at the start is dropped.
 *
 * @param path The file to read.
 * @param options `chunkSize`, `progress`, `skipMalformed`, `label`.
 * @param onLine Called per non-empty line; returns a reason when the line is malformed.
 * @returns How many malformed lines were skipped.
 * @throws MalformedLineError for the first malformed line unless `skipMalformed`; TypeError /
 *   RangeError for a bad option; DataFileError naming `path` for a file that is missing, a
 *   directory, not readable or empty (0 bytes); whatever `onLine` throws.
 */
export async function forEachLine(
  path: string,
  options: LineOptions,
  onLine: LineHandler,
): Promise<number> {
  const chunkSize = positiveInteger("chunkSize", options.chunkSize ?? DEFAULT_CHUNK);
  const skipMalformed = optionalBoolean("skipMalformed", options.skipMalformed) ?? false;
  const showProgress = resolveProgress(options.progress);
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`Expected path to be a non-empty string but found ${describe(path)}`);
  }
  const { handle, size, isFile } = await openToRead(
    path,
    (reason, cause) => unreadable(path, reason, cause),
  );
  let skipped = 0;
  let lineNo = 0;
  const take = (bytes: Uint8Array, start: number, end: number): void => {
    lineNo++;
    if (
      lineNo === 1 && end - start >= 3 && bytes[start] === 0xef && bytes[start + 1] === 0xbb &&
      bytes[start + 2] === 0xbf
    ) {
      start += 3; // a UTF-8 byte-order mark
    }
    if (end > start && bytes[end - 1] === CR) end--;
    if (end === start) return;
    const reason = onLine(bytes, start, end, lineNo);
    if (reason === undefined) return;
    if (!skipMalformed) throw new MalformedLineError(path, lineNo, reason);
    skipped++;
  };
  try {
    if (size === 0 && isFile) {
      throw unreadable(path, "found an empty file");
    }
    using bar = new ProgressBar({
      total: Math.ceil(size / MIB),
      label: `${options.label ?? path} (MiB)`,
      enabled: showProgress,
    });
    let buffer = new Uint8Array(chunkSize);
    let filled = 0; // bytes in buffer: the carried partial line, then what was just read
    let bytesRead = 0;
    for (;;) {
      if (filled === buffer.length) {
        // One line longer than the buffer: grow it rather than split the line.
        const grown = new Uint8Array(buffer.length * 2);
        grown.set(buffer);
        buffer = grown;
      }
      const want = Math.min(chunkSize, buffer.length - filled);
      const { bytesRead: n } = await handle.read(buffer, filled, want, null).catch(
        (error: unknown) => {
          throw unreadable(path, readReason(error), error);
        },
      );
      if (n === 0) break;
      bytesRead += n;
      const scanFrom = filled;
      filled += n;
      bar.update(Math.floor(bytesRead / MIB));
      const last = lastNewline(buffer, scanFrom, filled);
      if (last < 0) continue;
      let start = 0;
      while (start <= last) {
        const nl = buffer.indexOf(NEWLINE, start);
        take(buffer, start, nl);
        start = nl + 1;
      }
      buffer.copyWithin(0, last + 1, filled);
      filled -= last + 1;
    }
    if (filled > 0) take(buffer, 0, filled);
    bar.update(Math.ceil(size / MIB));
  } finally {
    await handle.close();
  }
  return skipped;
}

function lastNewline(buffer: Uint8Array, from: number, to: number): number {
  for (let p = to - 1; p >= from; p--) if (buffer[p] === NEWLINE) return p;
  return -1;
}

/**
 * Calls `take` for every line of `text` (split at `\n`, a trailing `\r` removed), the
 * empty ones included so line numbers stay right.
 *
 * @param text The whole text.
 * @param take Called once per line, in order; a final newline gives a last empty line.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { splitLines } from "./records.ts";
 * const lines: string[] = [];
 * splitLines("a\r\n\nb\n", (line) => lines.push(line));
 * deepStrictEqual(lines, ["a", "", "b", ""]);
 * ```
 */
export function splitLines(text: string, take: (line: string) => void): void {
  let start = 0;
  for (;;) {
    const nl = text.indexOf("\n", start);
    let stop = nl < 0 ? text.length : nl;
    if (stop > start && text.charCodeAt(stop - 1) === 13) stop--;
    take(text.slice(start, stop));
    if (nl < 0) return;
    start = nl + 1;
  }
}

/** {@link splitFields} returns this for a quoted field whose closing quote is missing. */
export const UNTERMINATED_QUOTE: -1 = -1;
/** {@link splitFields} returns this for text between a closing quote and the delimiter. */
export const TEXT_AFTER_QUOTE: -2 = -2;

/**
 * Splits one line into fields, written to `out[0..count)`.
 *
 * With `quoting`, a field that starts with `"` runs to the next `"` not doubled, may hold
 * the delimiter, and `""` inside it is one `"` (RFC 4180); a quoted field cannot span
 * lines, so a line that ends inside quotes is malformed. A `"` inside an unquoted field is
 * kept as it is.
 *
 * @param line One line, without its newline.
 * @param delimiter The field separator, one or more characters.
 * @param quoting Whether to honour double quotes.
 * @param out Receives the fields in `out[0..count)`; entries past them are left as they were.
 * @returns The number of fields, or {@link UNTERMINATED_QUOTE} / {@link TEXT_AFTER_QUOTE}.
 * @example
 * ```ts
 * import { deepStrictEqual, equal } from "node:assert/strict";
 * import { splitFields, UNTERMINATED_QUOTE } from "./records.ts";
 * const out: string[] = [];
 * equal(splitFields('ann,"tea, green","say ""hi"""', ",", true, out), 3);
 * deepStrictEqual(out, ["ann", "tea, green", 'say "hi"']);
 * equal(splitFields("1::2::5", "::", false, out), 3);
 * deepStrictEqual(out, ["1", "2", "5"]);
 * equal(splitFields('ann,"tea', ",", true, out), UNTERMINATED_QUOTE);
 * ```
 */
export function splitFields(
  line: string,
  delimiter: string,
  quoting: boolean,
  out: string[],
): number {
  if (!quoting || line.indexOf('"') < 0) {
    let count = 0;
    let start = 0;
    for (;;) {
      const at = line.indexOf(delimiter, start);
      if (at < 0) {
        out[count++] = line.slice(start);
        return count;
      }
      out[count++] = line.slice(start, at);
      start = at + delimiter.length;
    }
  }
  return splitQuoted(line, delimiter, out);
}

function splitQuoted(line: string, delimiter: string, out: string[]): number {
  let count = 0;
  let pos = 0;
  for (;;) {
    if (line.charCodeAt(pos) === 34) {
      let value = "";
      let from = pos + 1;
      for (;;) {
        const quote = line.indexOf('"', from);
        if (quote < 0) return UNTERMINATED_QUOTE;
        value += line.slice(from, quote);
        if (line.charCodeAt(quote + 1) === 34) {
          value += '"';
          from = quote + 2;
          continue;
        }
        pos = quote + 1;
        break;
      }
      out[count++] = value;
      if (pos === line.length) return count;
      if (!line.startsWith(delimiter, pos)) return TEXT_AFTER_QUOTE;
      pos += delimiter.length;
      continue;
    }
    const at = line.indexOf(delimiter, pos);
    if (at < 0) {
      out[count++] = line.slice(pos);
      return count;
    }
    out[count++] = line.slice(pos, at);
    pos = at + delimiter.length;
  }
}

/**
 * Why {@link splitFields} refused a line, or a field-count mismatch, as a message.
 *
 * @param count What {@link splitFields} returned.
 * @param expected The number of fields the line should have had.
 * @returns A reason for {@link MalformedLineError}, e.g. "expected 4 fields but found 2".
 */
export function fieldCountReason(count: number, expected: number): string {
  if (count === UNTERMINATED_QUOTE) return "unterminated quoted field";
  if (count === TEXT_AFTER_QUOTE) return "expected a delimiter after a closing quote";
  return `expected ${expected} fields but found ${count}`;
}

/**
 * Parses a decimal number (`12`, `-3.5`, `4e2`); anything else, the empty string and
 * surrounding spaces included, gives NaN, as does a non-finite result.
 *
 * @param text The field's text.
 * @returns The number, or NaN.
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseNumber } from "./records.ts";
 * equal(parseNumber("-3.5"), -3.5);
 * equal(parseNumber("4e2"), 400);
 * equal(parseNumber(" 7"), NaN);
 * equal(parseNumber("0x10"), NaN);
 * equal(parseNumber("1e999"), NaN);
 * ```
 */
export function parseNumber(text: string): number {
  const first = text.charCodeAt(0);
  const last = text.charCodeAt(text.length - 1);
  if (!((first >= 48 && first <= 57) || first === 45 || first === 43 || first === 46)) return NaN;
  if (!((last >= 48 && last <= 57) || last === 46)) return NaN;
  // `+text` also reads 0x / 0o / 0b literals ("0x10" is 16); a decimal number has no letter there.
  const second = text.charCodeAt(1) | 32;
  if (first === 48 && (second === 120 || second === 111 || second === 98)) return NaN;
  const value = +text;
  return value - value === 0 ? value : NaN;
}

/**
 * Splits a line of bytes into fields, as byte ranges `data[starts[k], ends[k])`.
 *
 * Unquoted lines are split in place (`data` is the line's buffer). With `quoting`, a line
 * holding a `"` is parsed by RFC 4180 rules (see {@link splitFields}) and its unescaped
 * fields are copied to a scratch buffer, which `data` then points to.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { FieldSplitter } from "./records.ts";
 * const fields = new FieldSplitter("\t", false);
 * const line = new TextEncoder().encode("ann\ttea\t3");
 * equal(fields.split(line, 0, line.length), 3);
 * equal(fields.text(1), "tea");
 * equal(fields.starts[2], 8);
 * equal(fields.ends[2], 9);
 * ```
 */
export class FieldSplitter {
  /** The bytes the field ranges refer to; valid until the next `split`. */
  data: Uint8Array = new Uint8Array(0);
  /** Field k starts at `data[starts[k]]`; entries past the last `split`'s count are stale. */
  starts: Int32Array = new Int32Array(16);
  /** Field k ends before `data[ends[k]]` (exclusive). */
  ends: Int32Array = new Int32Array(16);
  readonly #delimiter: Uint8Array;
  readonly #quoting: boolean;
  #scratch = new Uint8Array(256);

  /**
   * A splitter for one delimiter.
   *
   * @param delimiter The field separator, one or more characters (matched as UTF-8 bytes).
   * @param quoting Whether to honour RFC 4180 double quotes.
   */
  constructor(delimiter: string, quoting: boolean) {
    this.#delimiter = new TextEncoder().encode(delimiter);
    this.#quoting = quoting;
  }

  /**
   * Splits `bytes[start, end)` into {@link data}, {@link starts} and {@link ends}.
   *
   * @returns The field count (at least 1), or {@link UNTERMINATED_QUOTE} / {@link TEXT_AFTER_QUOTE}.
   */
  split(bytes: Uint8Array, start: number, end: number): number {
    this.data = bytes;
    const delimiter = this.#delimiter;
    const d0 = delimiter[0]!;
    const dn = delimiter.length;
    const quoting = this.#quoting;
    let count = 0;
    let fieldStart = start;
    for (let p = start; p < end; p++) {
      const b = bytes[p]!;
      if (b === d0 && (dn === 1 || matches(bytes, p, end, delimiter))) {
        this.#push(count++, fieldStart, p);
        p += dn - 1;
        fieldStart = p + 1;
      } else if (b === QUOTE && quoting) {
        return this.#splitQuoted(bytes, start, end);
      }
    }
    this.#push(count++, fieldStart, end);
    return count;
  }

  /**
   * Field `k` of the last split, decoded as UTF-8.
   *
   * @param k A field index below the last split's count.
   */
  text(k: number): string {
    return utf8.decode(this.data.subarray(this.starts[k]!, this.ends[k]!));
  }

  #push(k: number, start: number, end: number): void {
    if (k === this.starts.length) {
      const starts = new Int32Array(k * 2);
      starts.set(this.starts);
      this.starts = starts;
      const ends = new Int32Array(k * 2);
      ends.set(this.ends);
      this.ends = ends;
    }
    this.starts[k] = start;
    this.ends[k] = end;
  }

  #splitQuoted(bytes: Uint8Array, start: number, end: number): number {
    if (this.#scratch.length < end - start) this.#scratch = new Uint8Array(2 * (end - start));
    const out = this.#scratch;
    this.data = out;
    const delimiter = this.#delimiter;
    let count = 0;
    let w = 0;
    let p = start;
    for (;;) {
      const fieldStart = w;
      if (bytes[p] === QUOTE && p < end) {
        p++;
        for (;;) {
          if (p >= end) return UNTERMINATED_QUOTE;
          const b = bytes[p]!;
          if (b === QUOTE) {
            if (p + 1 < end && bytes[p + 1] === QUOTE) {
              out[w++] = QUOTE;
              p += 2;
              continue;
            }
            p++;
            break;
          }
          out[w++] = b;
          p++;
        }
        this.#push(count++, fieldStart, w);
        if (p === end) return count;
        if (!matches(bytes, p, end, delimiter)) return TEXT_AFTER_QUOTE;
        p += delimiter.length;
        continue;
      }
      while (p < end && !(bytes[p] === delimiter[0] && matches(bytes, p, end, delimiter))) {
        out[w++] = bytes[p++]!;
      }
      this.#push(count++, fieldStart, w);
      if (p === end) return count;
      p += delimiter.length;
    }
  }
}

function matches(bytes: Uint8Array, p: number, end: number, delimiter: Uint8Array): boolean {
  if (p + delimiter.length > end) return false;
  for (let k = 0; k < delimiter.length; k++) if (bytes[p + k] !== delimiter[k]) return false;
  return true;
}

/**
 * Parses a decimal number from `bytes[start, end)` like {@link parseNumber}: plain
 * integers directly from the bytes, anything else through the string parser; NaN for
 * an empty field or anything that is not a number.
 *
 * @returns The number, or NaN.
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseNumberBytes } from "./records.ts";
 * const bytes = new TextEncoder().encode("42,-7,2.5,x");
 * equal(parseNumberBytes(bytes, 0, 2), 42);
 * equal(parseNumberBytes(bytes, 3, 5), -7);
 * equal(parseNumberBytes(bytes, 6, 9), 2.5);
 * equal(parseNumberBytes(bytes, 10, 11), NaN);
 * equal(parseNumberBytes(bytes, 2, 2), NaN);
 * ```
 */
export function parseNumberBytes(bytes: Uint8Array, start: number, end: number): number {
  let p = start;
  const sign = bytes[p] === 45 ? -1 : 1;
  if (sign < 0 || bytes[p] === 43) p++;
  if (p === end || end - p > 15) return parseNumber(asciiText(bytes, start, end));
  let value = 0;
  for (; p < end; p++) {
    const digit = bytes[p]! - 48;
    if (digit < 0 || digit > 9) return parseNumber(asciiText(bytes, start, end));
    value = value * 10 + digit;
  }
  return sign * value;
}

function asciiText(bytes: Uint8Array, start: number, end: number): string {
  return end - start > 64 ? "x" : String.fromCharCode(...bytes.subarray(start, end));
}

/** Whether `bytes[start, end)` is a non-empty run of ASCII digits. */
export function isDigitBytes(bytes: Uint8Array, start: number, end: number): boolean {
  if (start === end) return false;
  for (let p = start; p < end; p++) {
    const b = bytes[p]!;
    if (b < 48 || b > 57) return false;
  }
  return true;
}

/**
 * The message for a field that should hold a number.
 *
 * @param what The field, e.g. `"field 3"`.
 * @param text What the field holds.
 * @returns `expected ${what} to be a number but found '${text}'`.
 */
export function notANumber(what: string, text: string): string {
  return `expected ${what} to be a number but found '${text}'`;
}

/**
 * Why a parsed field cannot be a stored value, or undefined when it can: not a
 * number ({@link notANumber}), or a number float32 cannot hold (1e39 parses
 * but would be stored as Infinity).
 *
 * @param what The field, e.g. `"plays (field 4)"`.
 * @param value What {@link parseNumber} made of it (NaN when it is no number).
 * @param text The field's text.
 * @returns The reason for a malformed line, or undefined.
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { valueReason } from "./records.ts";
 * equal(valueReason("field 3", 5, "5"), undefined);
 * equal(valueReason("field 3", NaN, "x"), "expected field 3 to be a number but found 'x'");
 * equal(
 *   valueReason("field 3", 1e39, "1e39"),
 *   "expected field 3 to fit in float32 (magnitude at most 3.4028234663852886e+38) but found '1e39'",
 * );
 * ```
 */
export function valueReason(what: string, value: number, text: string): string | undefined {
  if (value !== value) return notANumber(what, text);
  if (Math.abs(value) > FLOAT32_MAX && !Number.isFinite(Math.fround(value))) {
    return `expected ${what} to fit in float32 (magnitude at most ${FLOAT32_MAX}) but found '${text}'`;
  }
  return undefined;
}

/**
 * Accumulates (user, item, value) triples with interned ids into growable typed arrays
 * (12 bytes per line, no object per line).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { InteractionBuilder } from "./records.ts";
 * const builder = new InteractionBuilder();
 * const bytes = new TextEncoder().encode("ann bob tea");
 * const ann = builder.user(bytes, 0, 3);
 * const bob = builder.user(bytes, 4, 7);
 * const tea = builder.item(bytes, 8, 11);
 * builder.add(ann, tea, 2);
 * builder.add(bob, tea, 1);
 * builder.add(ann, tea, 3);
 * const { matrix, users, items, skipped } = builder.build(0, 0);
 * deepStrictEqual([users, items, skipped], [["ann", "bob"], ["tea"], 0]);
 * deepStrictEqual(matrix.toDense(), Float32Array.of(5, 1));
 * ```
 */
export class InteractionBuilder {
  /** The file read, for messages. */
  readonly #path: string;
  /** The user ids seen so far, in first-seen order. */
  readonly users: Interner = new Interner();
  /** The item ids seen so far, in first-seen order. */
  readonly items: Interner = new Interner();
  #rows = new Int32Array(1 << 16);
  #cols = new Int32Array(1 << 16);
  #values = new Float32Array(1 << 16);
  #count = 0;

  /** @param path The file the interactions come from, named by build()'s errors. */
  constructor(path = "the input") {
    this.#path = path;
  }

  /** Dense id of the user `bytes[start, end)` (UTF-8), adding it when new. */
  user(bytes: Uint8Array, start: number, end: number): number {
    return this.users.internBytes(bytes, start, end);
  }

  /** Dense id of the item `bytes[start, end)` (UTF-8), adding it when new. */
  item(bytes: Uint8Array, start: number, end: number): number {
    return this.items.internBytes(bytes, start, end);
  }

  /**
   * Records one interaction of dense ids (from {@link user} and {@link item}).
   *
   * @param user A dense user id.
   * @param item A dense item id.
   * @param value The value, stored as float32.
   */
  add(user: number, item: number, value: number): void {
    if (this.#count === this.#rows.length) this.#grow();
    const k = this.#count++;
    this.#rows[k] = user;
    this.#cols[k] = item;
    this.#values[k] = value;
  }

  #grow(): void {
    const capacity = this.#rows.length * 2;
    const rows = new Int32Array(capacity);
    rows.set(this.#rows);
    this.#rows = rows;
    const cols = new Int32Array(capacity);
    cols.set(this.#cols);
    this.#cols = cols;
    const values = new Float32Array(capacity);
    values.set(this.#values);
    this.#values = values;
  }

  /**
   * The users × items matrix (duplicates summed) with the id lists, then the `minCount`
   * filter. `itemNames`, when given, is aligned with the items seen so far. Call it once:
   * it releases the coordinate buffers.
   *
   * @param skipped The count of skipped lines to report.
   * @param minCount Keep only items with at least this many users (0 keeps all); see
   *   {@link keepFrequentItems}.
   * @param itemNames Display names, one per item seen.
   * @returns The {@link Interactions}.
   * @throws RangeError when a value (or a sum of duplicates) is not finite in float32.
   */
  build(skipped: number, minCount: number, itemNames?: string[]): Interactions {
    const n = this.#count;
    let matrix: CsrMatrix;
    try {
      matrix = CsrMatrix.fromCoo({
        rows: this.#rows.subarray(0, n),
        cols: this.#cols.subarray(0, n),
        values: this.#values.subarray(0, n),
        shape: [this.users.size, this.items.size],
      });
    } catch (error) {
      if (!(error instanceof DuplicateOverflowError)) throw error;
      throw new RangeError(
        `${this.#path}: the values of the lines of user '${
          this.users.names[error.row]
        }' and item '${
          this.items.names[error.col]
        }' sum to more than float32 holds (magnitude at most ${FLOAT32_MAX}): their sum overflows to Infinity`,
      );
    }
    this.#rows = this.#cols = new Int32Array(0);
    this.#values = new Float32Array(0);
    const result: Interactions = {
      matrix,
      users: this.users.names,
      items: this.items.names,
      skipped,
    };
    if (itemNames !== undefined) result.itemNames = itemNames;
    return minCount > 0 ? keepFrequentItems(result, minCount) : result;
  }
}

/** The keys of {@link ReadOptions}: what every reader takes. */
export const READ_OPTIONS: readonly string[] = [
  "minCount",
  "skipMalformed",
  "progress",
  "chunkSize",
];

/**
 * Checks the options every reader shares and fills in defaults; refuses a
 * key that is neither one of {@link READ_OPTIONS} nor one of `extra`.
 *
 * @param owner The reader, for messages, e.g. `"readLastfm360k()"`.
 * @param options A reader's options (undefined: none).
 * @param extra The reader's own options.
 * @returns `minCount` (default 0) and the {@link LineOptions} that were given.
 * @throws TypeError for a non-object or an unknown key; TypeError / RangeError for a
 *   `minCount` that is not a non-negative integer.
 */
export function commonOptions(
  owner: string,
  options: ReadOptions | undefined,
  extra: readonly string[] = [],
): { minCount: number } & LineOptions {
  options = knownOptions(owner, options, [...READ_OPTIONS, ...extra]) as ReadOptions;
  const out: { minCount: number } & LineOptions = {
    minCount: nonNegativeInteger("minCount", options.minCount ?? 0),
  };
  if (options.skipMalformed !== undefined) out.skipMalformed = options.skipMalformed;
  if (options.progress !== undefined) out.progress = options.progress;
  if (options.chunkSize !== undefined) out.chunkSize = options.chunkSize;
  return out;
}

/**
 * Keeps the items with at least `minCount` stored values (distinct users), then the
 * users with at least one kept item; ids are renumbered in their previous order, which
 * keeps every row's columns sorted.
 *
 * @param result What a reader built.
 * @param minCount The fewest users a kept item has.
 * @returns A new {@link Interactions}; `users`, `items` and `itemNames` filtered alike.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { keepFrequentItems } from "./records.ts";
 * import { CsrMatrix } from "../sparse.ts";
 * // Item "b" has one user; dropping it leaves user "y" with nothing, so "y" goes too.
 * const matrix = CsrMatrix.fromDense([[1, 0, 2], [0, 3, 0], [4, 0, 5]]);
 * const kept = keepFrequentItems({ matrix, users: ["x", "y", "z"], items: ["a", "b", "c"], skipped: 0 }, 2);
 * deepStrictEqual([kept.users, kept.items], [["x", "z"], ["a", "c"]]);
 * deepStrictEqual(kept.matrix.toDense(), Float32Array.of(1, 2, 4, 5));
 * ```
 */
export function keepFrequentItems(result: Interactions, minCount: number): Interactions {
  const { matrix } = result;
  const [nUsers, nItems] = matrix.shape;
  const { indptr, indices, data } = matrix;
  const perItem = new Int32Array(nItems);
  for (let p = 0; p < indices.length; p++) perItem[indices[p]!]!++;
  const newItem = new Int32Array(nItems);
  const items: string[] = [];
  const itemNames: string[] | undefined = result.itemNames === undefined ? undefined : [];
  for (let c = 0; c < nItems; c++) {
    if (perItem[c]! < minCount) {
      newItem[c] = -1;
      continue;
    }
    newItem[c] = items.length;
    items.push(result.items[c]!);
    itemNames?.push(result.itemNames![c]!);
  }
  const users: string[] = [];
  const keptIndptr = [0];
  const keptIndices = new Int32Array(indices.length);
  const keptData = new Float32Array(indices.length);
  let nnz = 0;
  for (let r = 0; r < nUsers; r++) {
    const start = nnz;
    for (let p = indptr[r]!; p < indptr[r + 1]!; p++) {
      const c = newItem[indices[p]!]!;
      if (c < 0) continue;
      keptIndices[nnz] = c;
      keptData[nnz] = data[p]!;
      nnz++;
    }
    if (nnz === start) continue;
    users.push(result.users[r]!);
    keptIndptr.push(nnz);
  }
  const filtered = new CsrMatrix(
    [users.length, items.length],
    Int32Array.from(keptIndptr),
    keptIndices.slice(0, nnz),
    keptData.slice(0, nnz),
  );
  const out: Interactions = { matrix: filtered, users, items, skipped: result.skipped };
  if (itemNames !== undefined) out.itemNames = itemNames;
  return out;
}
