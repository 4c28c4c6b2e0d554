/**
 * The split flags split and evaluate share: `--method random|leave-k-out|user` and
 * its parameters, seeded by `--split-seed`.
 *
 * @module
 */
import { leaveKOutSplit, type Split, trainTestSplit, userBasedSplit } from "../evaluation/split.ts";
import type { CsrMatrix } from "../sparse.ts";
import { choiceFlag, type Flags, integerFlag, numberFlag, optional, type Values } from "./args.ts";

/** The `--method` values. */
export const SPLIT_METHODS = ["random", "leave-k-out", "user"] as const;

/** The flags. */
export const SPLIT_FLAGS: Flags = {
  method: {
    type: "string",
    value: "method",
    doc: "random (each interaction independently, default), leave-k-out (k per user) or " +
      "user (whole users to test).",
  },
  "train-percentage": { type: "string", value: "p", doc: "random: the share kept in train (0.8)." },
  "leave-out": {
    type: "string",
    value: "k",
    doc: "leave-k-out: interactions held out per user (1).",
  },
  "test-percentage": { type: "string", value: "p", doc: "user: the share of users in test (0.2)." },
  "split-seed": { type: "string", value: "n", doc: "The split's seed (random when left out)." },
};

/** The split the flags describe, and its description for the summary. */
export function splitBy(
  values: Values,
  matrix: CsrMatrix,
): { split: Split; method: Record<string, unknown> } {
  const method = choiceFlag(values, "method", SPLIT_METHODS, "random");
  const seed = optional(values, "split-seed") === undefined
    ? {}
    : { randomState: integerFlag(values, "split-seed", 0, 0) };
  switch (method) {
    case "random": {
      const trainPercentage = numberFlag(values, "train-percentage", 0.8);
      return {
        split: trainTestSplit(matrix, { trainPercentage, ...seed }),
        method: { method, trainPercentage, ...seed },
      };
    }
    case "leave-k-out": {
      const k = integerFlag(values, "leave-out", 1, 1);
      return { split: leaveKOutSplit(matrix, { k, ...seed }), method: { method, k, ...seed } };
    }
    case "user": {
      const testPercentage = numberFlag(values, "test-percentage", 0.2);
      return {
        split: userBasedSplit(matrix, { testPercentage, ...seed }),
        method: { method, testPercentage, ...seed },
      };
    }
  }
}
