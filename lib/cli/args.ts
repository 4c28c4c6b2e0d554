/**
 * Command-line flags: each command declares its flags once (type, placeholder,
 * doc), {@link parseFlags} reads argv with `node:util` `parseArgs` and refuses,
 * in the CLI's own words on every runtime, an unknown flag, a flag without its
 * value, a value given to a switch and a stray argument.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { usage } from "./errors.ts";

/** One flag of a command. */
export interface Flag {
  /** `"string"` takes a value (`--factors 64` or `--factors=64`); `"boolean"` is a switch. */
  type: "string" | "boolean";
  /** What the flag means, for `--help`. */
  doc: string;
  /** The value's placeholder in `--help`, e.g. `"path"`. */
  value?: string;
  /** A one-letter alias, e.g. `"h"`. */
  short?: string;
}

/** A command's flags by long name (kebab-case, without `--`). */
export type Flags = Readonly<Record<string, Flag>>;

/** The values given, by long name: a string for a value flag, `true` for a switch. */
export type Values = Readonly<Record<string, string | boolean | undefined>>;

/** The flag every command has. */
export const HELP_FLAG: Flags = {
  help: { type: "boolean", short: "h", doc: "Show this command's flags and exit." },
};

/**
 * Parses `argv` against `flags`.
 *
 * @param command The command's name, for messages (`"fit"`).
 * @param argv The arguments after the command.
 * @param flags What the command takes.
 * @returns The values by flag name.
 * @throws CliError (usage) naming the first bad argument.
 * @example
 * ```ts
 * import { deepEqual, throws } from "node:assert/strict";
 * import { parseFlags } from "./args.ts";
 * const flags = { n: { type: "string", doc: "How many." }, quiet: { type: "boolean", doc: "" } } as const;
 * deepEqual(parseFlags("recommend", ["--n", "5", "--quiet"], flags), { n: "5", quiet: true });
 * throws(() => parseFlags("recommend", ["--m", "5"], flags), /unknown flag --m for 'tacit recommend'/);
 * throws(() => parseFlags("recommend", ["--n"], flags), /--n needs a value/);
 * ```
 */
export function parseFlags(command: string, argv: readonly string[], flags: Flags): Values {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, flag] of Object.entries(flags)) {
    options[name] = flag.short === undefined
      ? { type: flag.type }
      : { type: flag.type, short: flag.short };
  }
  const { tokens } = parseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values: Record<string, string | boolean> = {};
  for (const token of tokens ?? []) {
    if (token.kind === "positional") {
      throw usage(
        `unexpected argument '${token.value}' for 'tacit ${command}' (flags start with --)`,
      );
    }
    if (token.kind !== "option") continue;
    const flag = flags[token.name];
    if (flag === undefined) {
      throw usage(`unknown flag ${token.rawName} for 'tacit ${command}'${hint(token.name, flags)}`);
    }
    if (flag.type === "string") {
      if (token.value === undefined || token.value === "") {
        throw usage(`${token.rawName} needs a value (--${token.name} <${flag.value ?? "value"}>)`);
      }
      values[token.name] = token.value;
    } else {
      if (token.inlineValue) throw usage(`${token.rawName} takes no value`);
      values[token.name] = true;
    }
  }
  return values;
}

/** " (did you mean --x?)" for a near miss, else "". */
function hint(name: string, flags: Flags): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const known of Object.keys(flags)) {
    const distance = editDistance(name, known);
    if (distance < bestDistance) [best, bestDistance] = [known, distance];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(name.length / 4))
    ? ` (did you mean --${best}?)`
    : "";
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The value of a flag the command needs.
 *
 * @param values What {@link parseFlags} returned.
 * @param name The flag.
 * @param what The placeholder, for the message.
 * @returns The value.
 * @throws CliError (usage) when it was not given.
 */
export function required(values: Values, name: string, what = "value"): string {
  const value = values[name];
  if (typeof value !== "string") throw usage(`missing --${name} <${what}>`);
  return value;
}

/** A string flag's value, or undefined. */
export function optional(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/**
 * An integer flag within bounds.
 *
 * @param values What {@link parseFlags} returned.
 * @param name The flag.
 * @param fallback The value when it was not given.
 * @param min The least value allowed.
 * @param max The largest value allowed.
 * @returns The integer.
 * @throws CliError (usage) for a value that is not an integer in [min, max].
 */
export function integerFlag(
  values: Values,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const text = optional(values, name);
  if (text === undefined) return fallback;
  const n = /^[+-]?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw usage(
      `expected --${name} to be an integer ${
        max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`
      } but found '${text}'`,
    );
  }
  return n;
}

/**
 * A number flag, checked by the function that uses it.
 *
 * @returns The number, or `fallback` when the flag was not given.
 * @throws CliError (usage) for a value that is not a finite number.
 */
export function numberFlag(values: Values, name: string, fallback: number): number {
  const text = optional(values, name);
  if (text === undefined) return fallback;
  const n = text.trim() === "" ? NaN : Number(text);
  if (!Number.isFinite(n)) throw usage(`expected --${name} to be a number but found '${text}'`);
  return n;
}

/**
 * A flag taking one of a fixed set of words.
 *
 * @returns The word, or `fallback` when the flag was not given.
 * @throws CliError (usage) naming the allowed words.
 */
export function choiceFlag<T extends string>(
  values: Values,
  name: string,
  allowed: readonly T[],
  fallback: NoInfer<T>,
): T {
  const text = optional(values, name);
  if (text === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(text)) {
    throw usage(`expected --${name} to be one of ${allowed.join(", ")} but found '${text}'`);
  }
  return text as T;
}
