/**
 * `tacit split`: a train/test split of an interactions file, as one table
 * `{user, item, value, split}` with `split` = `train` or `test`.
 *
 * @module
 */
import { HELP_FLAG, optional, required } from "../args.ts";
import { type Command, OUTPUT_FLAGS, PROGRESS_FLAGS } from "../command.ts";
import { INPUT_FLAGS, readInput } from "../input.ts";
import { SPLIT_FLAGS, splitBy } from "../split_spec.ts";
import { type Row, tableFormat, writeTable } from "../table.ts";
import type { CsrMatrix } from "../../sparse.ts";

const BATCH = 65536;

/** `tacit split`. */
export const split: Command = {
  name: "split",
  summary: "Split interactions into train and test, written as one table with a split column.",
  usage: "tacit split --input ratings.csv --header --user-col userId --item-col movieId " +
    "--weight-col rating --method leave-k-out --split-seed 7 --output split.csv",
  flags: () => ({
    ...HELP_FLAG,
    ...INPUT_FLAGS,
    ...SPLIT_FLAGS,
    ...OUTPUT_FLAGS,
    ...PROGRESS_FLAGS,
  }),
  async run(values, context) {
    const output = required(values, "output", "path");
    const format = tableFormat(optional(values, "format"), output);
    const { data } = await readInput(values, context.progress);
    const { split: parts, method } = splitBy(values, data.matrix);
    const rows = await writeTable(output, format, [
      { name: "user", type: "string" },
      { name: "item", type: "string" },
      { name: "value", type: "float" },
      { name: "split", type: "string" },
    ], async (write) => {
      for (const [name, matrix] of [["train", parts.train], ["test", parts.test]] as const) {
        await writeEntries(matrix, name, data.users, data.items, write, context.signal);
      }
    });
    return {
      command: "split",
      output,
      ...method,
      train: parts.train.nnz,
      test: parts.test.nnz,
      rows,
    };
  },
};

async function writeEntries(
  matrix: CsrMatrix,
  name: string,
  users: readonly string[],
  items: readonly string[],
  write: (rows: readonly Row[]) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  let rows: Row[] = [];
  for (let u = 0; u < matrix.nRows; u++) {
    for (let p = matrix.indptr[u]!; p < matrix.indptr[u + 1]!; p++) {
      rows.push({
        user: users[u]!,
        item: items[matrix.indices[p]!]!,
        value: matrix.data[p]!,
        split: name,
      });
    }
    if (rows.length >= BATCH) {
      signal.throwIfAborted();
      await write(rows);
      rows = [];
    }
  }
  await write(rows);
}
