/**
 * `tacit similar`: the n most similar items of every item of a shard.
 *
 * @module
 */
import { HELP_FLAG, integerFlag, optional, required } from "../args.ts";
import { type Command, OUTPUT_FLAGS, PROGRESS_FLAGS } from "../command.ts";
import { writeRankings } from "../ranking.ts";
import { loadFitted } from "../saved.ts";
import { parseShard, shardIds } from "../shard.ts";
import { tableFormat } from "../table.ts";

/** `tacit similar`. */
export const similar: Command = {
  name: "similar",
  summary: "Write the n most similar items of every item (or of one shard of the items).",
  usage: "tacit similar --model-file artists.tacit --n 20 --shard 1/4 --output similar-1.jsonl",
  flags: () => ({
    ...HELP_FLAG,
    "model-file": { type: "string", value: "path", doc: "A model saved by tacit fit." },
    ...OUTPUT_FLAGS,
    n: {
      type: "string",
      value: "n",
      doc: "Similar items per item (10; the item itself usually ranks first).",
    },
    shard: {
      type: "string",
      value: "i/n",
      doc: "Only items whose dense index % n == i (0-based); the n shards' union is the whole.",
    },
    "batch-size": { type: "string", value: "n", doc: "Items per model call (4096)." },
    ...PROGRESS_FLAGS,
  }),
  async run(values, context) {
    const modelFile = required(values, "model-file", "path");
    const output = required(values, "output", "path");
    const format = tableFormat(optional(values, "format"), output);
    const n = integerFlag(values, "n", 10, 1, 100_000);
    const shard = parseShard(optional(values, "shard"));
    const batchSize = integerFlag(values, "batch-size", 4096, 1, 1 << 20);
    const { model, matrix, items } = await loadFitted(modelFile);
    const queries = shardIds(matrix.nCols, shard);
    const rows = await writeRankings(output, format, {
      queries,
      batchSize,
      rank: (batch) => model.similarItems(batch, { n }),
      queryIds: items,
      resultIds: items,
      names: ["item", "similar"],
      label: "similar",
    }, context);
    return {
      command: "similar",
      modelFile,
      output,
      shard: `${shard.index}/${shard.count}`,
      items: queries.length,
      rows,
    };
  },
};
