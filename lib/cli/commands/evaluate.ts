/**
 * `tacit evaluate`: splits an interactions file, fits a model on train and reports
 * ranking metrics at k on test (the JSON summary).
 *
 * @module
 */
import { rankingMetricsAtK } from "../../evaluation/metrics.ts";
import { HELP_FLAG, integerFlag } from "../args.ts";
import { type Command, PROGRESS_FLAGS } from "../command.ts";
import { INPUT_FLAGS, readInput } from "../input.ts";
import { buildModel, fitModel, modelSpecFlags } from "../model_spec.ts";
import { SPLIT_FLAGS, splitBy } from "../split_spec.ts";
import { weighted, WEIGHTING_FLAGS } from "../weighting.ts";

/** `tacit evaluate`. */
export const evaluate: Command = {
  name: "evaluate",
  summary: "Split, fit on train, and print precision/recall/MAP/NDCG/AUC/MRR at k on test.",
  usage: "tacit evaluate --input plays.tsv --input-format lastfm --model als --factors 64 " +
    "--split-seed 1 --cutoff 10",
  flags: (argv) => ({
    ...HELP_FLAG,
    ...INPUT_FLAGS,
    ...SPLIT_FLAGS,
    ...WEIGHTING_FLAGS,
    cutoff: { type: "string", value: "k", doc: "Recommendations judged per user (10)." },
    ...PROGRESS_FLAGS,
    ...modelSpecFlags(argv),
  }),
  async run(values, context) {
    const model = buildModel(values);
    const k = integerFlag(values, "cutoff", 10, 1, 100_000);
    const { data } = await readInput(values, context.progress);
    const { split, method } = splitBy(values, data.matrix);
    const weighting = weighted(values, split.train);
    const seconds = await fitModel(model, weighting.matrix, context);
    const options = context.progress === undefined
      ? { k, signal: context.signal }
      : { k, signal: context.signal, progress: context.progress };
    const metrics = await rankingMetricsAtK(model, split.train, split.test, options);
    return {
      command: "evaluate",
      model: model.kind,
      parameters: model.parameters(),
      ...method,
      weighting: weighting.name,
      train: split.train.nnz,
      test: split.test.nnz,
      fitSeconds: Math.round(seconds * 1000) / 1000,
      k,
      ...metrics,
    };
  },
};
