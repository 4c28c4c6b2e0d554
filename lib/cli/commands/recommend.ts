/**
 * `tacit recommend`: the top n items of every user of a shard, with external ids.
 *
 * @module
 */
import { HELP_FLAG, integerFlag, optional, required } from "../args.ts";
import { type Command, OUTPUT_FLAGS, PROGRESS_FLAGS } from "../command.ts";
import { writeRankings } from "../ranking.ts";
import { loadFitted } from "../saved.ts";
import { parseShard, shardIds } from "../shard.ts";
import { tableFormat } from "../table.ts";

/** `tacit recommend`. */
export const recommend: Command = {
  name: "recommend",
  summary: "Write the top n items of every user (or of one shard of the users).",
  usage: "tacit recommend --model-file artists.tacit --n 10 --shard 0/4 --output recs-0.csv",
  flags: () => ({
    ...HELP_FLAG,
    "model-file": { type: "string", value: "path", doc: "A model saved by tacit fit." },
    ...OUTPUT_FLAGS,
    n: { type: "string", value: "n", doc: "Items per user (10)." },
    shard: {
      type: "string",
      value: "i/n",
      doc: "Only users whose dense index % n == i (0-based); the n shards' union is the whole.",
    },
    "include-liked": {
      type: "boolean",
      doc: "Also rank the items a user already has in the training data (left out by default).",
    },
    "batch-size": { type: "string", value: "n", doc: "Users per model call (4096)." },
    ...PROGRESS_FLAGS,
  }),
  async run(values, context) {
    const modelFile = required(values, "model-file", "path");
    const output = required(values, "output", "path");
    const format = tableFormat(optional(values, "format"), output);
    const n = integerFlag(values, "n", 10, 1, 100_000);
    const shard = parseShard(optional(values, "shard"));
    const batchSize = integerFlag(values, "batch-size", 4096, 1, 1 << 20);
    const filterAlreadyLiked = values["include-liked"] !== true;
    const { model, matrix, users, items } = await loadFitted(modelFile);
    const queries = shardIds(matrix.nRows, shard);
    const rows = await writeRankings(output, format, {
      queries,
      batchSize,
      rank: (batch) => model.recommend(batch, matrix, { n, filterAlreadyLiked }),
      queryIds: users,
      resultIds: items,
      names: ["user", "item"],
      label: "recommend",
    }, context);
    return {
      command: "recommend",
      modelFile,
      output,
      shard: `${shard.index}/${shard.count}`,
      users: queries.length,
      rows,
    };
  },
};
