/**
 * `tacit info`: the version, the runtime and the native library's thread pool (so a
 * job can check that the library loads); with `--model <kind>` that model's options;
 * with `--model-file` what a saved model holds.
 *
 * @module
 */
import { MODEL_CLASSES } from "../../models/registry.ts";
import { getNumThreads } from "../../native/library.ts";
import { PREBUILT_VERSION } from "../../native/prebuilt.ts";
import { HELP_FLAG, optional } from "../args.ts";
import type { Command } from "../command.ts";
import { kebab, modelClass, schemaOf } from "../model_flags.ts";
import { loadFitted, sidecarPath } from "../saved.ts";

declare const Bun: { version: string } | undefined;
declare const Deno: { version: { deno: string } } | undefined;

/** `tacit info`. */
export const info: Command = {
  name: "info",
  summary:
    "Print the version, the native library's threads, a model kind's options or a model file's contents.",
  usage: "tacit info\ntacit info --model als\ntacit info --model-file artists.tacit",
  flags: () => ({
    ...HELP_FLAG,
    model: { type: "string", value: "kind", doc: "List this model kind's options as flags." },
    "model-file": { type: "string", value: "path", doc: "Describe a model saved by tacit fit." },
  }),
  async run(values) {
    const kind = optional(values, "model");
    const modelFile = optional(values, "model-file");
    const result: Record<string, unknown> = {
      command: "info",
      version: PREBUILT_VERSION,
      runtime: typeof Bun !== "undefined"
        ? `bun ${Bun.version}`
        : typeof Deno !== "undefined"
        ? `deno ${Deno.version.deno}`
        : "unknown",
      threads: getNumThreads(),
      models: [...MODEL_CLASSES.keys()],
    };
    if (kind !== undefined) {
      result.options = Object.fromEntries(
        Object.entries(schemaOf(modelClass(kind))).map(([name, spec]) => [
          `--${kebab(name)}`,
          { default: spec.default ?? null, doc: spec.doc },
        ]),
      );
    }
    if (modelFile !== undefined) {
      const { model, matrix, meta } = await loadFitted(modelFile);
      result.modelFile = {
        path: modelFile,
        dataFile: sidecarPath(modelFile),
        kind: model.kind,
        parameters: model.parameters(),
        users: matrix.nRows,
        items: matrix.nCols,
        interactions: matrix.nnz,
        ...meta,
      };
    }
    return result;
  },
};
