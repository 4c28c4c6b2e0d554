/**
 * Option schemas: each option of a model is declared once, with its default,
 * its validator and a doc string, and the schema drives the model's
 * constructor, `parameters()`, `save` and `load`.
 *
 * A schema is typed against the model's hand-written, documented options
 * interface with {@link SchemaFor}, so the compiler refuses a schema that
 * misses an option of the interface, declares one the interface lacks, or
 * gives one another type.
 *
 * @module
 */
import {
  booleanOption,
  describe,
  finiteNumber,
  nonNegativeInteger,
  type NumberBounds,
  oneOf,
  optionHint,
  positiveInteger,
} from "../validate.ts";

/** The largest finite float32: the kernels take float32 parameters. */
export { FLOAT32_MAX } from "../validate.ts";

/**
 * The most iterations, epochs or sweeps one fit runs. Each is its own native
 * call, so an abort takes effect between them whatever the count; the bound
 * refuses a count no fit needs (100000 ALS sweeps of a lastfm-360K-sized
 * matrix take weeks on two cores), such as a sample count passed by mistake.
 */
export const ITERATIONS_MAX = 100_000;

/** The bound of {@link ITERATIONS_MAX} and its reason, as the options' docs state it. */
export const ITERATIONS_BOUND = `at most ${ITERATIONS_MAX} (no fit needs more: ` +
  `${ITERATIONS_MAX} ALS sweeps of a lastfm-360K-sized matrix take weeks on two cores)`;

/** The most factor columns a kernel takes (zig/abi/checks.zig factors_max). */
export const FACTORS_MAX = 1024;

/** One option: its default, how a given value is checked, and what it means. */
export interface OptionSpec<T> {
  /** The value when the option is left out (`undefined`: the option stays unset). */
  readonly default: T;
  /** What the option means, for documentation and tools. */
  readonly doc: string;
  /**
   * Validates a given (not undefined) value and returns it typed; throws a
   * TypeError or RangeError naming the option otherwise.
   */
  check(name: string, value: unknown): T;
}

/** Options by name. */
export type OptionSchema = { readonly [name: string]: OptionSpec<unknown> };

/**
 * The schema of the options interface `O`: exactly its keys, each with the
 * interface's type. The options named in `Unset` may stay unset (their
 * default is `undefined`); every other option always has a value.
 */
export type SchemaFor<O, Unset extends keyof O = never> = {
  readonly [K in keyof O]-?: OptionSpec<
    K extends Unset ? Exclude<O[K], undefined> | undefined : Exclude<O[K], undefined>
  >;
};

/** Every option's value once defaults are applied, as a model holds them. */
export type OptionValues<S extends OptionSchema> = { readonly [K in keyof S]: S[K]["default"] };

/** The options object a constructor takes (and `parameters()` returns) for schema `S`. */
export type OptionsOf<S extends OptionSchema> = {
  -readonly [K in keyof S]?: Exclude<S[K]["default"], undefined>;
};

/**
 * Applies a schema to a user's options object: refuses a non-object and any
 * key the schema does not declare, validates every given value and fills in
 * the defaults. A refused key that is another library's name for an option
 * (`random_state`, `K1`) is answered with tacit's ({@link optionHint}).
 *
 * @param schema The options the model takes.
 * @param options What the user passed.
 * @param owner The model's name, for the messages.
 * @returns Every option's value, in schema order.
 * @throws TypeError for a non-object, an unknown key or a value of the wrong type;
 *   RangeError for a value out of range.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { integer, resolveOptions } from "./options.ts";
 * const schema = { k: integer({ default: 20, min: 1, doc: "Neighbours per item." }) };
 * assert.deepEqual(resolveOptions(schema, {}, "Model"), { k: 20 });
 * assert.throws(() => resolveOptions(schema, { K: 3 }, "Model"), /found 'K' \(did you mean 'k'\?\)/);
 * ```
 */
export function resolveOptions<S extends OptionSchema>(
  schema: S,
  options: unknown,
  owner: string,
): OptionValues<S> {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(`Expected ${owner} options to be an object but found ${describe(options)}`);
  }
  const given = options as Record<string, unknown>;
  const known = Object.keys(schema);
  for (const key of Object.keys(given)) {
    if (!Object.hasOwn(schema, key)) {
      throw new TypeError(
        `Expected an option of ${owner} (${known.join(", ")}) but found '${key}'${
          optionHint(key, known)
        }`,
      );
    }
  }
  const values: Record<string, unknown> = {};
  for (const key of known) {
    const value = given[key];
    values[key] = value === undefined ? schema[key]!.default : schema[key]!.check(key, value);
  }
  return values as OptionValues<S>;
}

/**
 * The options that have a value, as an options object: what `parameters()`
 * returns and `save` records.
 *
 * @param values Option values, as {@link resolveOptions} returns them.
 * @returns A new object without the unset options.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { setOptions } from "./options.ts";
 * assert.deepEqual(setOptions({ factors: 8, randomState: undefined }), { factors: 8 });
 * ```
 */
export function setOptions<S extends OptionSchema>(values: OptionValues<S>): OptionsOf<S> {
  return Object.fromEntries(
    Object.entries(values).filter(([, value]) => value !== undefined),
  ) as OptionsOf<S>;
}

/**
 * An integer option in [`min`, `max`].
 *
 * @param spec `default`, `min` (0 or 1), optional `max`, and `doc`.
 * @returns The option's spec.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { integer } from "./options.ts";
 * const factors = integer({ default: 100, min: 1, max: 1024, doc: "Latent factors." });
 * assert.equal(factors.check("factors", 64), 64);
 * assert.throws(() => factors.check("factors", 2048), /at most 1024 but found 2048/);
 * ```
 */
export function integer<D extends number | undefined>(
  spec: { default: D; min: 0 | 1; max?: number; doc: string },
): OptionSpec<number | D> {
  const { max } = spec;
  return {
    default: spec.default,
    doc: spec.doc,
    check(name, value) {
      const n = spec.min === 1 ? positiveInteger(name, value) : nonNegativeInteger(name, value);
      if (max !== undefined && n > max) {
        throw new RangeError(`Expected ${name} to be at most ${max} but found ${n}`);
      }
      return n;
    },
  };
}

/**
 * A finite number option, optionally within bounds.
 *
 * @param spec `default`, `doc` and the bounds of `finiteNumber`.
 * @returns The option's spec.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { real } from "./options.ts";
 * const b = real({ default: 0.75, min: 0, max: 1, doc: "BM25 length normalisation." });
 * assert.throws(() => b.check("b", 1.5), RangeError);
 * ```
 */
export function real(spec: { default: number; doc: string } & NumberBounds): OptionSpec<number> {
  const { default: value, doc, ...bounds } = spec;
  return { default: value, doc, check: (name, given) => finiteNumber(name, given, bounds) };
}

/**
 * An option taking one of a fixed set of strings.
 *
 * @param spec `default`, the `allowed` values and `doc`.
 * @returns The option's spec.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { choice } from "./options.ts";
 * const solver = choice({ default: "cg", allowed: ["cg", "cholesky"], doc: "The solver." });
 * assert.equal(solver.check("solver", "cholesky"), "cholesky");
 * ```
 */
export function choice<T extends string>(
  spec: { default: NoInfer<T>; allowed: readonly T[]; doc: string },
): OptionSpec<T> {
  const { allowed } = spec;
  return {
    default: spec.default,
    doc: spec.doc,
    check: (name, value) => oneOf(name, value, allowed),
  };
}

/**
 * A boolean option.
 *
 * @param spec `default` and `doc`.
 * @returns The option's spec.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { flag } from "./options.ts";
 * assert.throws(() => flag({ default: true, doc: "Verify." }).check("verify", "yes"), TypeError);
 * ```
 */
export function flag(spec: { default: boolean; doc: string }): OptionSpec<boolean> {
  return { default: spec.default, doc: spec.doc, check: booleanOption };
}
