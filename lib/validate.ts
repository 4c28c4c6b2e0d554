/**
 * Argument checkers used at the edge of every public function.
 *
 * Each checker returns the value it validated, so a caller can write
 * `const factors = positiveInteger("factors", options.factors ?? 100)`.
 * A value of the wrong type is a `TypeError`; a value of the right type that is
 * out of range (NaN included) is a `RangeError`. Messages name the argument,
 * say what was expected and show what was found.
 *
 * @module
 */

/** The largest finite float32, (2 − 2^−23) · 2^127: above it a float32 is Infinity. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** Bounds for {@link finiteNumber}; each is optional. */
export interface NumberBounds {
  /** Smallest allowed value (inclusive unless `minExclusive`). */
  min?: number;
  /** Largest allowed value (inclusive unless `maxExclusive`). */
  max?: number;
  /** Make `min` exclusive. */
  minExclusive?: boolean;
  /** Make `max` exclusive. */
  maxExclusive?: boolean;
}

/**
 * Describes a value for an error message: strings quoted and called strings
 * (so `"5"` never reads as the number 5), numbers as written (`-0` kept),
 * objects by their constructor name.
 *
 * @param value Anything.
 * @returns A short, human-readable description.
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { describe } from "./validate.ts";
 * equal(describe("gpu"), "a string 'gpu'");
 * equal(describe(-0), "-0");
 * equal(describe(3n), "3n");
 * equal(describe([1, 2]), "an array");
 * equal(describe(new Int8Array(2)), "an Int8Array");
 * equal(describe(new Map()), "a Map");
 * ```
 */
export function describe(value: unknown): string {
  if (typeof value === "string") return `a string '${value}'`;
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || value === undefined || typeof value === "boolean") return String(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  const name = (value as object).constructor?.name ?? "Object";
  return /^[AEIOU]/.test(name) ? `an ${name}` : `a ${name}`;
}

/**
 * Shows a value inside a sentence that already says what it is (an id, a
 * name): strings quoted, everything else as {@link describe} shows it.
 *
 * @param value Anything.
 * @returns `'ann'` for the string "ann", `3` for the number 3.
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { quote } from "./validate.ts";
 * equal(quote("ann"), "'ann'");
 * equal(quote(3), "3");
 * ```
 */
export function quote(value: unknown): string {
  return typeof value === "string" ? `'${value}'` : describe(value);
}

function expectNumber(name: string, value: unknown, what: string): number {
  if (typeof value !== "number") {
    throw new TypeError(`Expected ${name} to be ${what} but found ${describe(value)}`);
  }
  return value;
}

/**
 * Other libraries' names for tacit's options (implicit, LightFM, Spotlight),
 * each mapped to the option it means, or, for an option tacit lacks, to a
 * note saying so. One table for every function: {@link knownOptions} and the
 * model constructors' schemas answer a refused key from it.
 */
export const OPTION_ALIASES: Readonly<Record<string, string | { readonly unsupported: string }>> = {
  random_state: "randomState",
  N: "n",
  K: "k",
  K1: "k1",
  B: "b",
  calculate_training_loss: "calculateTrainingLoss",
  train_percentage: "trainPercentage",
  filter_already_liked_items: "filterAlreadyLiked",
  filterAlreadyLikedItems: "filterAlreadyLiked",
  filter_items: "filterItems",
  recalculate_user: "recalculateUser",
  num_threads: "numThreads",
  // implicit's use_gpu = True is device: "gpu" (the factor models; the others run on the CPU).
  use_gpu: "device",
  useGpu: "device",
};

/**
 * The hint for a refused option name: the option it most likely means (a
 * caller's alias, {@link OPTION_ALIASES}, its camelCase form, its lower-case
 * form or its plural, when that is one of `names`), or a note that tacit has no such option.
 *
 * @param key The refused key.
 * @param names Every option the function takes.
 * @param aliases The caller's own aliases, consulted before the shared table.
 * @returns `" (did you mean 'n'?)"`, `" (… not supported)"` or `""`.
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { optionHint } from "./validate.ts";
 * equal(optionHint("N", ["n", "filterItems"]), " (did you mean 'n'?)");
 * equal(optionHint("filter_items", ["n", "filterItems"]), " (did you mean 'filterItems'?)");
 * equal(optionHint("K", ["n"]), "");
 * equal(optionHint("use_gpu", ["factors", "device"]), " (did you mean 'device'?)");
 * ```
 */
export function optionHint(
  key: string,
  names: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): string {
  const shared = Object.hasOwn(OPTION_ALIASES, key) ? OPTION_ALIASES[key] : undefined;
  if (typeof shared === "object") return ` (${shared.unsupported})`;
  const camel = key.replace(/_+([a-z0-9])/gi, (_, c: string) => c.toUpperCase());
  const candidates = [
    Object.hasOwn(aliases, key) ? aliases[key] : undefined,
    shared,
    camel,
    key.toLowerCase(),
    camel.charAt(0).toLowerCase() + camel.slice(1),
    `${camel}s`,
  ];
  const meant = candidates.find((name) => name !== undefined && names.includes(name));
  return meant === undefined ? "" : ` (did you mean '${meant}'?)`;
}

/**
 * Checks that an options object holds only the keys a function takes. A
 * refused key whose camelCase form is an option (`check_intersections`), or
 * one listed in `aliases` or {@link OPTION_ALIASES} (another library's name
 * for an option), is answered with the name to use ({@link optionHint}).
 *
 * @param owner The function, for the message, e.g. `"precisionAtK()"`.
 * @param options What the caller passed (undefined means no options).
 * @param names Every option the function takes.
 * @param aliases Other names callers may reach for, each mapped to the option it means.
 * @returns `options` as a record (an empty one for undefined).
 * @throws TypeError for a non-object (an array and null included) or a key not in `names`.
 * @example
 * ```ts
 * import { deepStrictEqual, throws } from "node:assert/strict";
 * import { knownOptions } from "./validate.ts";
 * deepStrictEqual(knownOptions("f()", { k: 5 }, ["k", "preserveRows"]), { k: 5 });
 * throws(() => knownOptions("f()", { K: 5 }, ["k", "preserveRows"]), {
 *   name: "TypeError",
 *   message: "Expected an option of f() (k, preserveRows) but found 'K' (did you mean 'k'?)",
 * });
 * throws(() => knownOptions("f()", { preserve_rows: true }, ["k", "preserveRows"]), {
 *   name: "TypeError",
 *   message: "Expected an option of f() (k, preserveRows) but found 'preserve_rows' (did you mean 'preserveRows'?)",
 * });
 * throws(() => knownOptions("f()", { trainInteractions: null }, ["train"], { trainInteractions: "train" }), {
 *   name: "TypeError",
 *   message: "Expected an option of f() (train) but found 'trainInteractions' (did you mean 'train'?)",
 * });
 * throws(() => knownOptions("f()", 5, ["k"]), TypeError);
 * ```
 */
export function knownOptions(
  owner: string,
  options: unknown,
  names: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(
      `Expected the options of ${owner} to be an object but found ${describe(options)}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!names.includes(key)) {
      throw new TypeError(
        `Expected an option of ${owner} (${names.join(", ")}) but found '${key}'${
          optionHint(key, names, aliases)
        }`,
      );
    }
  }
  return options as Record<string, unknown>;
}

/**
 * Checks an optional boolean option: undefined stays undefined.
 *
 * @param name The option's name, used in the error message.
 * @param value The value to check.
 * @returns `value`, typed.
 * @throws TypeError when `value` is neither undefined nor a boolean.
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { optionalBoolean } from "./validate.ts";
 * equal(optionalBoolean("progress", undefined), undefined);
 * throws(() => optionalBoolean("progress", "false"), {
 *   name: "TypeError",
 *   message: "Expected progress to be a boolean but found a string 'false'",
 * });
 * ```
 */
export function optionalBoolean(name: string, value: unknown): boolean | undefined {
  return value === undefined ? undefined : booleanOption(name, value);
}

/**
 * Checks for an integer greater than zero (and at most 2^53 - 1).
 *
 * @param name The argument's name, used in the error message.
 * @param value The value to check.
 * @returns `value`, typed as a number.
 * @throws TypeError when `value` is not a number; RangeError otherwise.
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { positiveInteger } from "./validate.ts";
 * equal(positiveInteger("factors", 64), 64);
 * throws(() => positiveInteger("factors", 0), {
 *   name: "RangeError",
 *   message: "Expected factors to be a positive integer but found 0",
 * });
 * throws(() => positiveInteger("factors", "64"), TypeError);
 * ```
 */
export function positiveInteger(name: string, value: unknown): number {
  const n = expectNumber(name, value, "a positive integer");
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new RangeError(`Expected ${name} to be a positive integer but found ${describe(n)}`);
  }
  return n;
}

/**
 * Checks for an integer that is zero or more (and at most 2^53 - 1).
 *
 * @param name The argument's name, used in the error message.
 * @param value The value to check.
 * @returns `value`, typed as a number.
 * @throws TypeError when `value` is not a number; RangeError otherwise.
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { nonNegativeInteger } from "./validate.ts";
 * equal(nonNegativeInteger("randomState", 0), 0);
 * throws(() => nonNegativeInteger("randomState", -1), RangeError);
 * throws(() => nonNegativeInteger("randomState", 2 ** 53), RangeError);
 * ```
 */
export function nonNegativeInteger(name: string, value: unknown): number {
  const n = expectNumber(name, value, "a non-negative integer");
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`Expected ${name} to be a non-negative integer but found ${describe(n)}`);
  }
  return n;
}

/**
 * Checks for a finite number, optionally within bounds.
 *
 * @param name The argument's name, used in the error message.
 * @param value The value to check.
 * @param bounds Optional `min` / `max`, inclusive unless `minExclusive` / `maxExclusive`.
 * @returns `value`, typed as a number.
 * @throws TypeError when `value` is not a number; RangeError for NaN, ±Infinity or out of bounds.
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { finiteNumber } from "./validate.ts";
 * equal(finiteNumber("b", 0.8, { min: 0, max: 1 }), 0.8);
 * equal(finiteNumber("b", 1, { min: 0, max: 1 }), 1); // bounds are inclusive by default
 * throws(() => finiteNumber("learningRate", 0, { min: 0, minExclusive: true }), {
 *   name: "RangeError",
 *   message: "Expected learningRate to be a finite number > 0 but found 0",
 * });
 * throws(() => finiteNumber("b", NaN), RangeError);
 * ```
 */
export function finiteNumber(name: string, value: unknown, bounds: NumberBounds = {}): number {
  const { min, max, minExclusive = false, maxExclusive = false } = bounds;
  const wanted = [
    min === undefined ? "" : `${minExclusive ? ">" : ">="} ${min}`,
    max === undefined ? "" : `${maxExclusive ? "<" : "<="} ${max}`,
  ].filter((s) => s !== "").join(" and ");
  const what = wanted === "" ? "a finite number" : `a finite number ${wanted}`;
  const n = expectNumber(name, value, what);
  const ok = Number.isFinite(n) &&
    (min === undefined || (minExclusive ? n > min : n >= min)) &&
    (max === undefined || (maxExclusive ? n < max : n <= max));
  if (!ok) throw new RangeError(`Expected ${name} to be ${what} but found ${describe(n)}`);
  return n;
}

/**
 * Checks that a value is one of a fixed set (compared with `===`).
 *
 * @param name The argument's name, used in the error message.
 * @param value The value to check.
 * @param allowed The allowed values.
 * @returns `value`, narrowed to the allowed union.
 * @throws TypeError when `value`'s type matches none of the allowed values'; RangeError otherwise.
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { oneOf } from "./validate.ts";
 * equal(oneOf("device", "cpu", ["cpu", "gpu", "auto"] as const), "cpu");
 * throws(() => oneOf("device", "tpu", ["cpu", "gpu"] as const), {
 *   name: "RangeError",
 *   message: "Expected device to be one of 'cpu', 'gpu' but found 'tpu'",
 * });
 * throws(() => oneOf("device", 1, ["cpu", "gpu"] as const), TypeError);
 * ```
 */
export function oneOf<T extends string | number | boolean>(
  name: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if ((allowed as readonly unknown[]).includes(value)) return value as T;
  const list = allowed.map(quote).join(", ");
  const sameType = allowed.some((a) => typeof a === typeof value);
  // Beside a list of strings, a quoted string needs no "a string".
  const found = sameType ? quote(value) : describe(value);
  const message = `Expected ${name} to be one of ${list} but found ${found}`;
  throw sameType ? new RangeError(message) : new TypeError(message);
}

/**
 * Checks for a boolean.
 *
 * @param name The argument's name, used in the error message.
 * @param value The value to check.
 * @returns `value`, typed as a boolean.
 * @throws TypeError when `value` is not a boolean.
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { booleanOption } from "./validate.ts";
 * equal(booleanOption("progress", false), false);
 * throws(() => booleanOption("progress", 1), TypeError);
 * ```
 */
export function booleanOption(name: string, value: unknown): boolean {
  if (typeof value !== "boolean") {
    throw new TypeError(`Expected ${name} to be a boolean but found ${describe(value)}`);
  }
  return value;
}

/**
 * Checks for an `Int32Array`.
 *
 * @param name The argument's name, used in the error message.
 * @param value The value to check.
 * @returns `value`, typed as an Int32Array.
 * @throws TypeError for anything else (a plain array included).
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { int32Array } from "./validate.ts";
 * const ids = Int32Array.of(1, 2, 3);
 * equal(int32Array("userids", ids), ids); // the same array, not a copy
 * throws(() => int32Array("userids", [1, 2, 3]), {
 *   name: "TypeError",
 *   message: "Expected userids to be an Int32Array but found an array",
 * });
 * ```
 */
export function int32Array(name: string, value: unknown): Int32Array {
  if (!(value instanceof Int32Array)) {
    throw new TypeError(`Expected ${name} to be an Int32Array but found ${describe(value)}`);
  }
  return value;
}

/**
 * Checks for a `Float32Array`.
 *
 * @param name The argument's name, used in the error message.
 * @param value The value to check.
 * @returns `value`, typed as a Float32Array.
 * @throws TypeError for anything else.
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { float32Array } from "./validate.ts";
 * const factors = new Float32Array(8);
 * equal(float32Array("userFactors", factors), factors);
 * throws(() => float32Array("userFactors", new Float64Array(8)), TypeError);
 * ```
 */
export function float32Array(name: string, value: unknown): Float32Array {
  if (!(value instanceof Float32Array)) {
    throw new TypeError(`Expected ${name} to be a Float32Array but found ${describe(value)}`);
  }
  return value;
}

/**
 * Checks that one id lies in `[0, count)`.
 *
 * @param name The argument's name, e.g. `"userid"`.
 * @param id The id to check.
 * @param count How many ids exist.
 * @param what The plural noun for the ids, e.g. `"users"`.
 * @returns `id`, typed as a number.
 * @throws TypeError when `id` is not a number; RangeError when it is not an integer in range,
 *   e.g. "userid = 943 is out of range for a model with 942 users".
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { idInRange } from "./validate.ts";
 * equal(idInRange("userid", 941, 942, "users"), 941);
 * throws(() => idInRange("userid", 942, 942, "users"), {
 *   name: "RangeError",
 *   message: "userid = 942 is out of range for a model with 942 users",
 * });
 * ```
 */
export function idInRange(name: string, id: unknown, count: number, what: string): number {
  const n = expectNumber(name, id, `an integer id in [0, ${count})`);
  if (!Number.isInteger(n) || n < 0 || n >= count) {
    throw new RangeError(
      `${name} = ${describe(n)} is out of range for a model with ${count} ${what}`,
    );
  }
  return n;
}

/**
 * Checks one id or an array of ids against `[0, count)`, in one pass, and
 * returns them as an Int32Array (a copy: the caller's array is never aliased).
 *
 * @param name The argument's name, e.g. `"userids"`.
 * @param ids One id, or any array-like of ids (Int32Array, number[], ...).
 * @param count How many ids exist.
 * @param what The plural noun for the ids, e.g. `"users"`.
 * @returns The ids as a new Int32Array.
 * @throws TypeError when `ids` is neither a number nor an array-like; RangeError naming the
 *   first bad entry, e.g. "userids[2] = 943 is out of range for a model with 942 users".
 * @example
 * ```ts
 * import { deepStrictEqual, throws } from "node:assert/strict";
 * import { idsInRange } from "./validate.ts";
 * deepStrictEqual(idsInRange("userids", [0, 5, 9], 942, "users"), Int32Array.of(0, 5, 9));
 * deepStrictEqual(idsInRange("userid", 41, 942, "users"), Int32Array.of(41));
 * throws(() => idsInRange("userids", [0, 943], 942, "users"), {
 *   name: "RangeError",
 *   message: "userids[1] = 943 is out of range for a model with 942 users",
 * });
 * ```
 */
export function idsInRange(name: string, ids: unknown, count: number, what: string): Int32Array {
  if (typeof ids === "number") return Int32Array.of(idInRange(name, ids, count, what));
  if (
    typeof ids !== "object" || ids === null ||
    typeof (ids as ArrayLike<unknown>).length !== "number"
  ) {
    throw new TypeError(
      `Expected ${name} to be an id or an array of ids but found ${describe(ids)}`,
    );
  }
  const list = ids as ArrayLike<unknown>;
  const out = new Int32Array(list.length);
  for (let k = 0; k < list.length; k++) {
    const id = list[k];
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= count) {
      throw new RangeError(
        `${name}[${k}] = ${describe(id)} is out of range for a model with ${count} ${what}`,
      );
    }
    out[k] = id;
  }
  return out;
}

/** Any typed array with a `length`. */
export type AnyTypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/**
 * Checks that a typed array has exactly the expected length.
 *
 * @param name The argument's name, used in the error message.
 * @param array The array to check.
 * @param expected The required number of elements.
 * @returns `array`, with its type kept.
 * @throws TypeError when `array` is not a typed array; RangeError for a wrong length.
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { typedArrayLength } from "./validate.ts";
 * const factors = new Float32Array(6);
 * equal(typedArrayLength("userFactors", factors, 2 * 3), factors);
 * throws(() => typedArrayLength("userFactors", factors, 8), {
 *   name: "RangeError",
 *   message: "Expected userFactors to have length 8 but found 6",
 * });
 * ```
 */
export function typedArrayLength<T extends AnyTypedArray>(
  name: string,
  array: T,
  expected: number,
): T {
  if (!ArrayBuffer.isView(array) || array instanceof DataView) {
    throw new TypeError(`Expected ${name} to be a typed array but found ${describe(array)}`);
  }
  if (array.length !== expected) {
    throw new RangeError(`Expected ${name} to have length ${expected} but found ${array.length}`);
  }
  return array;
}

/**
 * Checks a value that will be stored as float32: a number, finite, and
 * within float32's range (1e39 is finite in JavaScript but Infinity in float32).
 *
 * @param name The value's name, e.g. `"values[3]"`.
 * @param v The value.
 * @returns `v`, typed.
 * @throws TypeError for a non-number (a string shown quoted); RangeError for NaN, ±Infinity
 *   or a magnitude above {@link FLOAT32_MAX}.
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { float32Value } from "./validate.ts";
 * equal(float32Value("values[0]", 2.5), 2.5);
 * throws(() => float32Value("values[0]", "3"), {
 *   name: "TypeError",
 *   message: "Expected values[0] to be a finite number but found a string '3'",
 * });
 * throws(() => float32Value("values[0]", 1e39), /overflows to Infinity/);
 * ```
 */
export function float32Value(name: string, v: unknown): number {
  if (typeof v !== "number") {
    throw new TypeError(`Expected ${name} to be a finite number but found ${describe(v)}`);
  }
  if (!Number.isFinite(v)) {
    throw new RangeError(`Expected ${name} to be finite but found ${describe(v)}`);
  }
  if (Math.abs(Math.fround(v)) === Infinity) {
    throw new RangeError(
      `Expected ${name} to fit in float32 (magnitude at most ${FLOAT32_MAX}) but found ${v}, which overflows to Infinity`,
    );
  }
  return v;
}
