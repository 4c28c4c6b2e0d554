/**
 * `tacit export`: a fitted factor model's user or item factors with external ids,
 * as a table `{id, features}`: Spark MLlib ALS's layout (its `userFactors` /
 * `itemFactors`), so `--format parquet` gives files parquet.ts's
 * `importFactorsParquet` and Spark read (CSV: `id, features_0, features_1, ...`).
 *
 * @module
 */
import { MatrixFactorizationBase } from "../../models/matrix_factorization.ts";
import { choiceFlag, HELP_FLAG, optional, required } from "../args.ts";
import { type Command, OUTPUT_FLAGS } from "../command.ts";
import { usage } from "../errors.ts";
import { loadFitted } from "../saved.ts";
import { type Row, tableFormat, writeTable } from "../table.ts";

const BATCH = 4096;

/** `tacit export`. */
export const exportFactors: Command = {
  name: "export",
  summary: "Write a factor model's user or item factors with their external ids.",
  usage: "tacit export --model-file artists.tacit --factors items --output items.jsonl",
  flags: () => ({
    ...HELP_FLAG,
    "model-file": { type: "string", value: "path", doc: "A model saved by tacit fit." },
    factors: { type: "string", value: "side", doc: "items (default) or users." },
    ...OUTPUT_FLAGS,
  }),
  async run(values) {
    const modelFile = required(values, "model-file", "path");
    const output = required(values, "output", "path");
    const format = tableFormat(optional(values, "format"), output);
    const side = choiceFlag(values, "factors", ["items", "users"] as const, "items");
    const { model, users, items } = await loadFitted(modelFile);
    if (!(model instanceof MatrixFactorizationBase)) {
      throw usage(
        `a ${model.kind} model has no factors to export (use a factor model: als, bpr, lmf)`,
      );
    }
    const { data, shape: [count, rank] } = side === "users" ? model.userFactors : model.itemFactors;
    const ids = side === "users" ? users : items;
    const rows = await writeTable(output, format, [
      { name: "id", type: "string" },
      { name: "features", type: "floats" },
    ], async (write) => {
      for (let start = 0; start < count; start += BATCH) {
        const batch: Row[] = [];
        for (let r = start; r < Math.min(count, start + BATCH); r++) {
          batch.push({
            id: ids[r]!,
            features: Array.from(data.subarray(r * rank, (r + 1) * rank)),
          });
        }
        await write(batch);
      }
    });
    return { command: "export", modelFile, output, factors: side, rows, rank };
  },
};
