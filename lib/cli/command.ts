/**
 * What a command is: its name, a one-line summary, its flags (which may depend on the
 * arguments: `--model als` adds ALS's options) and what it does, returning the JSON
 * summary printed on stdout.
 *
 * @module
 */
import type { Flags, Values } from "./args.ts";

/** What every command gets besides its flags. */
export interface Context {
  /** Progress bars on stderr: false for `--no-progress`, else the library's default (a terminal). */
  progress: boolean | undefined;
  /** Aborted on SIGINT. */
  signal: AbortSignal;
}

/** A command of `tacit`. */
export interface Command {
  /** E.g. `"fit"`. */
  name: string;
  /** One line for `tacit --help`. */
  summary: string;
  /** Lines of usage and examples for `tacit <command> --help`. */
  usage: string;
  /** The command's flags for these arguments. */
  flags(argv: readonly string[]): Flags;
  /** Runs it; the result is printed as JSON on stdout. */
  run(values: Values, context: Context): Promise<Record<string, unknown>>;
}

/** The flag every command that shows progress has. */
export const PROGRESS_FLAGS: Flags = {
  "no-progress": { type: "boolean", doc: "No progress bars on stderr." },
};

/** The flags of a command that writes a table. */
export const OUTPUT_FLAGS: Flags = {
  output: {
    type: "string",
    value: "path",
    doc: "The file to write (atomically: temporary + rename).",
  },
  format: {
    type: "string",
    value: "format",
    doc:
      "csv, jsonl or parquet (default: from the extension, .jsonl → jsonl, .parquet → parquet, else csv).",
  },
};

/**
 * The value of `--model` in `argv` (as `--model x` or `--model=x`), before the
 * full parse, to know which model's flags to add.
 */
export function modelKindIn(argv: readonly string[]): string | undefined {
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k]!;
    if (arg === "--") break;
    if (arg === "--model") return argv[k + 1];
    if (arg.startsWith("--model=")) return arg.slice("--model=".length);
  }
  return undefined;
}
