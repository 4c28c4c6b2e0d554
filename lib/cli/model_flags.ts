/**
 * A model's options as flags, derived from its option schema (lib/models/options.ts):
 * each option `camelCase` is the flag `--kebab-case`, documented by the option's own doc
 * and default; a value is read as the schema's check accepts it (a number, `true` /
 * `false`, or a word), so a new option of any model is a flag with no change here.
 *
 * @module
 */
import type { Model, ModelClass } from "../models/model.ts";
import type { OptionSchema } from "../models/options.ts";
import { MODEL_CLASSES } from "../models/registry.ts";
import type { Flags, Values } from "./args.ts";
import { usage } from "./errors.ts";

/**
 * `camelCase` to `kebab-case`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { kebab } from "./model_flags.ts";
 * equal(kebab("calculateTrainingLoss"), "calculate-training-loss");
 * equal(kebab("k1"), "k1");
 * equal(kebab("beta2"), "beta2");
 * ```
 */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * The class of a model kind.
 *
 * @throws CliError (usage) naming the kinds there are.
 */
export function modelClass(kind: string): ModelClass {
  const type = MODEL_CLASSES.get(kind);
  if (type === undefined) {
    throw usage(
      `expected --model to be one of ${[...MODEL_CLASSES.keys()].join(", ")} but found '${kind}'`,
    );
  }
  return type;
}

/** The option schema of a model class (read from a default instance). */
export function schemaOf(type: ModelClass): OptionSchema {
  return (new type() as Model).schema;
}

/**
 * The flags of a model kind's options.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { modelClass, modelFlags } from "./model_flags.ts";
 * const flags = modelFlags(modelClass("als"));
 * ok("factors" in flags && "random-state" in flags && "calculate-training-loss" in flags);
 * ```
 */
export function modelFlags(type: ModelClass): Flags {
  const flags: Record<string, Flags[string]> = {};
  for (const [name, spec] of Object.entries(schemaOf(type))) {
    const fallback = spec.default === undefined ? "unset" : `default ${String(spec.default)}`;
    flags[kebab(name)] = { type: "string", value: "value", doc: `${spec.doc} (${fallback})` };
  }
  return flags;
}

/**
 * The options object of a model kind from the flags given: each value read as the
 * schema's check accepts it.
 *
 * @param type The model class.
 * @param values What `parseFlags` returned (the command's own flags are passed over).
 * @returns The options, ready for the constructor.
 * @throws CliError (usage) with the schema's message, naming the flag.
 * @example
 * ```ts
 * import { deepEqual, throws } from "node:assert/strict";
 * import { modelClass, modelOptions } from "./model_flags.ts";
 * const als = modelClass("als");
 * deepEqual(modelOptions(als, { factors: "8", solver: "cholesky", "calculate-training-loss": "true" }), {
 *   factors: 8, solver: "cholesky", calculateTrainingLoss: true,
 * });
 * throws(() => modelOptions(als, { factors: "many" }), /--factors: Expected factors/);
 * ```
 */
export function modelOptions(type: ModelClass, values: Values): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(schemaOf(type))) {
    const flag = kebab(name);
    const text = values[flag];
    if (typeof text !== "string") continue;
    const candidates: unknown[] = [];
    if (text.trim() !== "" && Number.isFinite(Number(text))) candidates.push(Number(text));
    if (text === "true" || text === "false") candidates.push(text === "true");
    candidates.push(text);
    let first: unknown;
    for (const candidate of candidates) {
      try {
        options[name] = spec.check(name, candidate);
        first = undefined;
        break;
      } catch (error) {
        first ??= error;
      }
    }
    if (first !== undefined) throw usage(`--${flag}: ${(first as Error).message}`);
  }
  return options;
}
