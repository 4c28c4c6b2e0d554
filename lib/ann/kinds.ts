/**
 * The index kinds by name, for callers that choose one by a string
 * (`model.buildIndexes({ kind: "hnsw" })`, the CLI).
 *
 * @module
 */
import { HnswIndex } from "./hnsw.ts";
import { IvfIndex } from "./ivf.ts";
import { ProjectionForestIndex } from "./forest.ts";
import type { AnnIndex, IndexBuildOptions } from "./index.ts";
import type { FactorMatrix } from "../models/matrix_factorization.ts";
import { describe } from "../validate.ts";

/** The name of each index kind. */
export type IndexKindName = "hnsw" | "ivf" | "forest";

const BUILDERS: Record<IndexKindName, (rows: FactorMatrix, options: object) => Promise<AnnIndex>> =
  {
    hnsw: (rows, options) => HnswIndex.build(rows, options),
    ivf: (rows, options) => IvfIndex.build(rows, options),
    forest: (rows, options) => ProjectionForestIndex.build(rows, options),
  };

/**
 * Builds an index of kind `kind` over `rows`.
 *
 * @param kind "hnsw", "ivf" or "forest".
 * @param rows The rows (item ids = row numbers).
 * @param options The kind's parameters and the build options (metric included).
 */
export function buildIndexOfKind(
  kind: unknown,
  rows: FactorMatrix,
  options: Record<string, unknown> & IndexBuildOptions,
): Promise<AnnIndex> {
  if (typeof kind !== "string" || !Object.hasOwn(BUILDERS, kind)) {
    throw new TypeError(
      `Expected kind to be one of 'hnsw', 'ivf', 'forest' but found ${describe(kind)}`,
    );
  }
  return BUILDERS[kind as IndexKindName](rows, options);
}
