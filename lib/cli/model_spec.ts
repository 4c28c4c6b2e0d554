/**
 * `--model <kind>` and its options, as fit and evaluate take them: builds the
 * model and fits it with the CLI's progress and abort signal.
 *
 * @module
 */
import type { Model } from "../models/model.ts";
import { MODEL_CLASSES } from "../models/registry.ts";
import type { CsrMatrix } from "../sparse.ts";
import { type Flags, required, type Values } from "./args.ts";
import { type Context, modelKindIn } from "./command.ts";
import { CliError, EXIT } from "./errors.ts";
import { modelClass, modelFlags, modelOptions } from "./model_flags.ts";

/** `--model` and, once it names a kind, that kind's option flags. */
export function modelSpecFlags(argv: readonly string[]): Flags {
  const kind = modelKindIn(argv);
  const own: Flags = {
    model: {
      type: "string",
      value: "kind",
      doc: `The model: ${[...MODEL_CLASSES.keys()].join(", ")}; its options follow as flags ` +
        "(tacit info --model <kind> lists them).",
    },
  };
  return kind !== undefined && MODEL_CLASSES.has(kind)
    ? { ...own, ...modelFlags(modelClass(kind)) }
    : own;
}

/** The unfitted model the flags describe. */
export function buildModel(values: Values): Model {
  const type = modelClass(required(values, "model", "kind"));
  const options = modelOptions(type, values);
  try {
    return new type(options as never);
  } catch (error) {
    // The schema checked each value; what is left are checks across options.
    throw new CliError(EXIT.usage, (error as Error).message, { cause: error });
  }
}

/** Fits `model` on `matrix` with the CLI's progress and signal. */
export async function fitModel(model: Model, matrix: CsrMatrix, context: Context): Promise<number> {
  const started = performance.now();
  const options = context.progress === undefined
    ? { signal: context.signal }
    : { signal: context.signal, progress: context.progress };
  await (model as unknown as {
    fit(matrix: CsrMatrix, options: { signal: AbortSignal; progress?: boolean }): Promise<unknown>;
  }).fit(matrix, options);
  return (performance.now() - started) / 1000;
}
