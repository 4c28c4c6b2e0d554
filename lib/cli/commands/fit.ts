/**
 * `tacit fit`: reads interactions, fits a model, saves it with its sidecar.
 *
 * @module
 */
import { HELP_FLAG, required } from "../args.ts";
import { type Command, PROGRESS_FLAGS } from "../command.ts";
import { INPUT_FLAGS, readInput } from "../input.ts";
import { buildModel, fitModel, modelSpecFlags } from "../model_spec.ts";
import { saveFitted, sidecarPath } from "../saved.ts";
import { weighted, WEIGHTING_FLAGS } from "../weighting.ts";

/** `tacit fit`. */
export const fit: Command = {
  name: "fit",
  summary: "Fit a model on an interactions file and save it (with its ids) for recommend.",
  usage: "tacit fit --input plays.tsv --input-format lastfm --model als --factors 64 " +
    "--iterations 15 --model-file artists.tacit",
  flags: (argv) => ({
    ...HELP_FLAG,
    ...INPUT_FLAGS,
    ...WEIGHTING_FLAGS,
    "model-file": {
      type: "string",
      value: "path",
      doc: "Where to save the model; its ids and training matrix go to <path>.data.",
    },
    ...PROGRESS_FLAGS,
    ...modelSpecFlags(argv),
  }),
  async run(values, context) {
    const modelFile = required(values, "model-file", "path");
    const model = buildModel(values);
    const { data, spec } = await readInput(values, context.progress);
    const weighting = weighted(values, data.matrix);
    const seconds = await fitModel(model, weighting.matrix, context);
    await saveFitted(modelFile, {
      model,
      matrix: data.matrix,
      users: data.users,
      items: data.items,
      meta: { input: spec.path, inputFormat: spec.format, weighting: weighting.name },
    });
    return {
      command: "fit",
      model: model.kind,
      parameters: model.parameters(),
      users: data.matrix.nRows,
      items: data.matrix.nCols,
      interactions: data.matrix.nnz,
      skipped: data.skipped,
      weighting: weighting.name,
      seconds: Math.round(seconds * 1000) / 1000,
      modelFile,
      dataFile: sidecarPath(modelFile),
    };
  },
};
