/**
 * `--input` and its format flags: one streaming reader of lib/datasets per format.
 *
 * @module
 */
import { readDelimited } from "../datasets/delimited.ts";
import { readLastfm360k } from "../datasets/lastfm.ts";
import { readMovielens } from "../datasets/movielens.ts";
import type { Interactions } from "../datasets/records.ts";
import { readTasteProfile } from "../datasets/taste_profile.ts";
import { choiceFlag, type Flags, integerFlag, optional, required, type Values } from "./args.ts";
import { usage } from "./errors.ts";

/** The `--input-format` values. */
export const INPUT_FORMATS = ["lastfm", "movielens", "msd", "delimited"] as const;

/** The flags of every command that reads interactions. */
export const INPUT_FLAGS: Flags = {
  input: { type: "string", value: "path", doc: "The interactions file (or a MovieLens folder)." },
  "input-format": {
    type: "string",
    value: "format",
    doc: "lastfm (user, mbid, name, plays TSV), movielens (u.data / ratings.dat / ratings.csv), " +
      "msd (taste-profile triplets), delimited (default).",
  },
  "user-col": {
    type: "string",
    value: "column",
    doc: "delimited: the user column, a header name or a 0-based index (0).",
  },
  "item-col": { type: "string", value: "column", doc: "delimited: the item column (1)." },
  "weight-col": {
    type: "string",
    value: "column",
    doc: "delimited: the value column; left out, each line counts 1.",
  },
  delimiter: {
    type: "string",
    value: "text",
    doc: "delimited: the field separator (,); \\t for a tab.",
  },
  header: { type: "boolean", doc: "delimited: the first line names the columns." },
  "min-count": {
    type: "string",
    value: "n",
    doc: "Keep items with at least n users, then users left with any (0: keep all).",
  },
};

/** What the input flags said, as the sidecar of a fitted model records it. */
export interface InputSpec {
  path: string;
  format: typeof INPUT_FORMATS[number];
}

/**
 * Reads the interactions `--input` names, in its `--input-format`.
 *
 * @param values The parsed flags.
 * @param progress Whether to show the reader's progress bar.
 * @returns The reader's result and what was read.
 * @throws CliError (usage) for missing or bad flags; the reader's DataFileError /
 *   MalformedLineError for a file that cannot be used.
 */
export async function readInput(
  values: Values,
  progress: boolean | undefined,
): Promise<{ data: Interactions; spec: InputSpec }> {
  const path = required(values, "input", "path");
  const format = choiceFlag(values, "input-format", INPUT_FORMATS, "delimited");
  const minCount = integerFlag(values, "min-count", 0, 0);
  const common = progress === undefined ? { minCount } : { minCount, progress };
  if (format !== "delimited") {
    for (const flag of ["user-col", "item-col", "weight-col", "delimiter", "header"]) {
      if (values[flag] !== undefined) {
        throw usage(`--${flag} applies to --input-format delimited, not ${format}`);
      }
    }
  }
  const spec = { path, format };
  switch (format) {
    case "lastfm":
      return { data: await readLastfm360k(path, common), spec };
    case "movielens":
      return { data: await readMovielens(path, common), spec };
    case "msd":
      return { data: await readTasteProfile(path, common), spec };
    case "delimited": {
      const header = values.header === true;
      const column = (flag: string, fallback?: number) => {
        const text = optional(values, flag);
        if (text === undefined) return fallback;
        return /^\d+$/.test(text) ? Number(text) : header ? text : badColumn(flag, text);
      };
      const weight = column("weight-col");
      const delimiter = (optional(values, "delimiter") ?? ",").replaceAll("\\t", "\t");
      const data = await readDelimited(path, {
        ...common,
        header,
        delimiter,
        user: column("user-col", 0)!,
        item: column("item-col", 1)!,
        ...(weight === undefined ? {} : { weight }),
      });
      return { data, spec };
    }
  }
}

function badColumn(flag: string, text: string): never {
  throw usage(
    `--${flag} '${text}' is a column name, which needs --header (or give a 0-based index)`,
  );
}
