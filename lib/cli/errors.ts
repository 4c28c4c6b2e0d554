/**
 * The CLI's exit codes and the one error type its commands throw, and how any
 * other error a command meets becomes one line and a code.
 *
 * @module
 */
import { DataFileError, MalformedLineError } from "../datasets/records.ts";
import { TacitFileError } from "../io/format.ts";
import { NativeError } from "../native/checked.ts";
import { NotFittedError } from "../errors.ts";

/** Every exit status `tacit` returns, by what went wrong. */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** A bug of tacit's: an error none of the others covers. */
  internal: 1,
  /** Bad command line: unknown command or flag, bad value, missing argument, bad shard. */
  usage: 2,
  /** An input data file is missing, unreadable, empty or has a malformed line. */
  input: 3,
  /** A model file (or its `.data` sidecar) is missing, damaged, foreign or of another model. */
  model: 4,
  /** The native library cannot be loaded, or a native call failed. */
  runtime: 5,
  /** An output file cannot be written. */
  output: 6,
  /** A feature that exists in the interface but not in this build (e.g. `--format parquet`). */
  unavailable: 7,
  /** Interrupted by SIGINT (128 + 2, as shells report it). */
  aborted: 130,
} as const;

/** An exit status of {@link EXIT}. */
export type ExitCode = typeof EXIT[keyof typeof EXIT];

/**
 * What a command throws to stop with a message and an exit code: the message is
 * printed as `tacit: <message>` on one line.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { CliError, EXIT, failure } from "./errors.ts";
 * const { code, message } = failure(new CliError(EXIT.usage, "unknown command 'fitt'"));
 * equal(code, 2);
 * equal(message, "tacit: unknown command 'fitt'");
 * ```
 */
export class CliError extends Error {
  /** The exit status. */
  readonly code: ExitCode;

  /**
   * @param code The exit status.
   * @param message What went wrong, one sentence.
   * @param options The underlying error, if any.
   */
  constructor(code: ExitCode, message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = "CliError";
    this.code = code;
  }
}

/** Shorthand for a usage error. */
export function usage(message: string): CliError {
  return new CliError(EXIT.usage, message);
}

/**
 * The exit code and the one-line message for an error a command threw.
 *
 * @param error Anything thrown.
 * @returns `{ code, message }`, the message starting `tacit: ` and with no newline.
 */
export function failure(error: unknown): { code: ExitCode; message: string } {
  return { code: codeOf(error), message: `tacit: ${oneLine(error)}` };
}

function codeOf(error: unknown): ExitCode {
  if (error instanceof CliError) return error.code;
  if (error instanceof DataFileError || error instanceof MalformedLineError) return EXIT.input;
  if (error instanceof TacitFileError) return EXIT.model;
  if (error instanceof NativeError) return EXIT.runtime;
  if (error instanceof NotFittedError) return EXIT.model;
  if ((error as { name?: unknown } | null)?.name === "AbortError") return EXIT.aborted;
  const message = String((error as Error | null)?.message ?? error);
  // The loader's errors (no library, a wrong ABI) are plain Errors starting "tacit: ".
  if (message.startsWith("tacit: ")) return EXIT.runtime;
  // A model's or reader's option check: a bad value given on the command line.
  if (error instanceof TypeError || error instanceof RangeError) return EXIT.usage;
  return EXIT.internal;
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const first = text.replace(/^tacit: /, "").split("\n").map((line) => line.trim())
    .filter((line) => line !== "");
  return first.join(" ") || (error instanceof Error ? error.name : "failed");
}
