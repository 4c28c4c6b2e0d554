/**
 * `--shard i/n`: shard i of n (0-based) takes the dense ids d with `d % n == i`.
 * Dense ids follow first appearance in the input, so a modulo spreads early (often
 * heavy) and late users over every shard, where contiguous ranges would give one shard
 * the head of the file. Every shard is a complete output on its own (its rows for its
 * ids, ranked as unsharded), and the union of the n shards is the unsharded output.
 *
 * @module
 */
import { usage } from "./errors.ts";

/** Shard `index` of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/** The whole: one shard. */
export const WHOLE: Shard = { index: 0, count: 1 };

/**
 * Parses `i/n`.
 *
 * @throws CliError (usage) unless `0 <= i < n`, both integers.
 * @example
 * ```ts
 * import { deepEqual, throws } from "node:assert/strict";
 * import { parseShard } from "./shard.ts";
 * deepEqual(parseShard("1/4"), { index: 1, count: 4 });
 * throws(() => parseShard("4/4"), /--shard/);
 * throws(() => parseShard("1-4"), /--shard/);
 * ```
 */
export function parseShard(text: string | undefined): Shard {
  if (text === undefined) return WHOLE;
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (
    match === null || !Number.isSafeInteger(index) || !Number.isSafeInteger(count) ||
    count < 1 || count > 1_000_000 || index >= count
  ) {
    throw usage(
      `expected --shard to be i/n with 0 <= i < n <= 1000000 (e.g. 0/4) but found '${text}'`,
    );
  }
  return { index, count };
}

/**
 * The dense ids of a shard, ascending.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { shardIds } from "./shard.ts";
 * deepEqual(shardIds(7, { index: 1, count: 3 }), Int32Array.of(1, 4));
 * ```
 */
export function shardIds(total: number, shard: Shard): Int32Array {
  const ids = new Int32Array(Math.max(0, Math.ceil((total - shard.index) / shard.count)));
  for (let k = 0; k < ids.length; k++) ids[k] = shard.index + k * shard.count;
  return ids;
}
