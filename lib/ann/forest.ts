/**
 * `ProjectionForestIndex`: Annoy-style random-projection trees
 * (zig/ann/forest.zig). A search walks every tree by the query's margins
 * from the splitting hyperplanes, collects `searchK` candidates from the
 * leaves it reaches, and scores them. Inner products are reduced to angles
 * with one extra coordinate (Annoy's "dot" metric).
 *
 * @module
 */
import { callNative } from "../native/library.ts";
import { choice, integer, type SchemaFor } from "../models/options.ts";
import type { FactorMatrix } from "../models/matrix_factorization.ts";
import {
  AnnIndex,
  buildIndex,
  type IndexBuildOptions,
  type IndexKind,
  type IndexMetric,
  type IndexSearchOptions,
  loadIndex,
  metricCode,
} from "./index.ts";
import type { RankedBatch } from "../models/query.ts";

/** Build parameters of the index (defaults in the schema below). */
export interface ProjectionForestParameters {
  /** "ip" (default) or "cosine". */
  metric?: "ip" | "cosine";
  /** Trees (16). */
  nTrees?: number;
  /** Candidates a search collects when it gives none (nTrees · leafSize · 4). */
  searchK?: number;
  /** Most items in a leaf (64). */
  leafSize?: number;
  /** Seed of the splits (0). */
  randomState?: number;
}

const schema: SchemaFor<ProjectionForestParameters, "nTrees" | "searchK" | "leafSize"> = {
  metric: choice({
    default: "ip",
    allowed: ["ip", "cosine"] as const,
    doc: '"ip" (inner product: recommend) or "cosine" (similar items / users).',
  }),
  nTrees: integer({
    default: undefined,
    min: 1,
    max: 10_000,
    doc: "Trees: more find more, and cost memory and build time.",
  }),
  searchK: integer({
    default: undefined,
    min: 1,
    max: 2 ** 31 - 1,
    doc: "Candidates a search collects when `search` gives none; omitted: the kernel's default.",
  }),
  leafSize: integer({
    default: undefined,
    min: 1,
    max: 65_536,
    doc: "Most items in a leaf; omitted: the kernel's default.",
  }),
  randomState: integer({
    default: 0,
    min: 0,
    doc: "Seed of the splits; the same seed gives the same index.",
  }),
};

/** Options of {@link ProjectionForestIndex.build}. */
export type ProjectionForestBuildOptions = ProjectionForestParameters & IndexBuildOptions;
/** Options of {@link ProjectionForestIndex.search}: filters, strategy and `searchK`. */
export interface ProjectionForestSearchOptions extends IndexSearchOptions {
  /** Candidates collected by this search (default: the index's `searchK`). */
  searchK?: number;
}

const kind: IndexKind<
  & Required<Omit<ProjectionForestParameters, "nTrees" | "searchK" | "leafSize">>
  & Pick<ProjectionForestParameters, "nTrees" | "searchK" | "leafSize">
> = {
  name: "ProjectionForestIndex",
  code: 3,
  tag: "forest",
  effortName: "searchK",
  schema,
  create(items, nItems, f, params) {
    const out = new BigUint64Array(1);
    callNative("tacit_forest_create", {
      n_items: nItems,
      f,
      items,
      metric: metricCode(params.metric),
      n_trees: params.nTrees ?? 0,
      search_k: params.searchK ?? 0,
      leaf_size: params.leafSize ?? 0,
      seed: params.randomState | 0,
      out_handle: out,
    });
    return out[0]!;
  },
};

/** A forest of random-projection trees over factor rows. */
export class ProjectionForestIndex extends AnnIndex {
  /** @internal Use {@link ProjectionForestIndex.build} or {@link ProjectionForestIndex.load}. */
  constructor(
    handle: bigint,
    metric: IndexMetric,
    source: Float32Array,
    targets: Float32Array,
    parameters: Record<string, unknown>,
    fingerprint: string,
  ) {
    super(handle, "projection forest index", metric, source, targets, parameters, fingerprint);
  }

  /** The kind's facts: name, native code, file tag, effort option, schema. */
  protected get kind(): IndexKind<object> {
    return kind as IndexKind<object>;
  }

  /** Builds the trees (each seeded from randomState and its number), in parallel, deterministically. */
  static build(
    items: FactorMatrix,
    options: ProjectionForestBuildOptions = {},
  ): Promise<ProjectionForestIndex> {
    return buildIndex(kind, ProjectionForestIndex, items, options);
  }

  /** Loads an index `save` wrote, for the same `items` it was built from (checked). */
  static load(path: string, items: FactorMatrix): Promise<ProjectionForestIndex> {
    return loadIndex(kind as IndexKind<object>, ProjectionForestIndex, path, items);
  }

  /** As {@link AnnIndex.search}, with `searchK`. */
  override search(
    queries: FactorMatrix | Float32Array,
    n: number,
    options: ProjectionForestSearchOptions = {},
  ): RankedBatch {
    return super.search(queries, n, options as IndexSearchOptions & Record<string, unknown>);
  }
}
