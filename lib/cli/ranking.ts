/**
 * The loop recommend and similar share: the shard's dense ids in batches, each
 * batch ranked by one model call and written as rows `{<query>, rank, <result>, score}`
 * with external ids (padding, id −1, left out), a progress bar over batches and the
 * abort signal checked between them.
 *
 * @module
 */
import type { RankedBatch } from "../models/query.ts";
import { ProgressBar } from "../progress.ts";
import type { Context } from "./command.ts";
import { type Column, type Row, type TableFormat, writeTable } from "./table.ts";

/** What to rank and how to name it. */
export interface RankingJob {
  /** The dense query ids, ascending (a shard's). */
  queries: Int32Array;
  /** Queries per model call. */
  batchSize: number;
  /** Ranks one batch. */
  rank(batch: Int32Array): RankedBatch;
  /** External ids of the queries. */
  queryIds: readonly string[];
  /** External ids of the results. */
  resultIds: readonly string[];
  /** Column names: the query's, the result's (e.g. `user`, `item`). */
  names: [query: string, result: string];
  /** The progress bar's label. */
  label: string;
}

/**
 * Ranks every query of the job and writes the rows to `output` atomically.
 *
 * @returns How many rows were written.
 */
export async function writeRankings(
  output: string,
  format: TableFormat,
  job: RankingJob,
  context: Context,
): Promise<number> {
  const [query, result] = job.names;
  const columns: Column[] = [
    { name: query, type: "string" },
    { name: "rank", type: "int" },
    { name: result, type: "string" },
    { name: "score", type: "float" },
  ];
  const batches = Math.ceil(job.queries.length / job.batchSize);
  const bar = new ProgressBar(
    context.progress === undefined
      ? { total: batches, label: job.label }
      : { total: batches, label: job.label, enabled: context.progress },
  );
  try {
    return await writeTable(output, format, columns, async (write) => {
      for (let b = 0; b < batches; b++) {
        context.signal.throwIfAborted();
        const batch = job.queries.subarray(b * job.batchSize, (b + 1) * job.batchSize);
        const ranked = job.rank(batch);
        const [rowsOf, n] = ranked.shape;
        const rows: Row[] = [];
        for (let r = 0; r < rowsOf; r++) {
          const name = job.queryIds[batch[r]!]!;
          for (let k = 0; k < n; k++) {
            const id = ranked.ids[r * n + k]!;
            if (id < 0) break;
            rows.push({
              [query]: name,
              rank: k + 1,
              [result]: job.resultIds[id]!,
              score: shortestFloat32(ranked.scores[r * n + k]!),
            });
          }
        }
        await write(rows);
        bar.update(b + 1);
        // Let SIGINT's handler run between batches (ranking is synchronous).
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    });
  } finally {
    bar[Symbol.dispose]();
  }
}

/**
 * The shortest decimal that reads back as the same float32: scores are float32, and
 * their exact double expansion (0.9145366549491882) only lengthens the files.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { shortestFloat32 } from "./ranking.ts";
 * equal(shortestFloat32(Math.fround(0.1)), 0.1);
 * equal(Math.fround(shortestFloat32(Math.fround(1 / 3))), Math.fround(1 / 3));
 * ```
 */
export function shortestFloat32(value: number): number {
  if (!Number.isFinite(value)) return value;
  for (let digits = 6; digits < 9; digits++) {
    const short = Number(value.toPrecision(digits));
    if (Math.fround(short) === value) return short;
  }
  return Number(value.toPrecision(9));
}
