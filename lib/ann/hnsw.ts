/**
 * `HnswIndex`: a hierarchical navigable small world graph (Malkov & Yashunin
 * 2018) over factor rows, in Zig (zig/ann/hnsw.zig). For inner products it
 * searches the graph by the inner product itself (ip-NSW, Morozov & Babenko
 * 2018) or, with `ipMode: "augmented"`, by cosine on rows augmented to equal
 * norm (implicit's NMSLib way).
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
export interface HnswParameters {
  /** "ip" (default) or "cosine". */
  metric?: "ip" | "cosine";
  /** Links per node on the upper layers, 2m on layer 0 (16). */
  m?: number;
  /** Candidates kept while linking a node (200). */
  efConstruction?: number;
  /** Search effort when a search gives none (the kernel's 50). */
  ef?: number;
  /** How "ip" is searched ("augmented"). */
  ipMode?: "direct" | "augmented";
  /** Seed of the level draws (0). */
  randomState?: number;
}

const schema: SchemaFor<HnswParameters, "ef"> = {
  metric: choice({
    default: "ip",
    allowed: ["ip", "cosine"] as const,
    doc: '"ip" (inner product: recommend) or "cosine" (similar items / users).',
  }),
  m: integer({
    default: 16,
    min: 1,
    max: 256,
    doc: "Links per node on the upper layers (2m on layer 0).",
  }),
  efConstruction: integer({
    default: 200,
    min: 1,
    max: 100_000,
    doc: "Candidates kept while linking a new node: higher builds slower and finds more.",
  }),
  ef: integer({
    default: undefined,
    min: 1,
    max: 2 ** 31 - 1,
    doc: "Candidates kept by a search when `search` gives none; omitted: the kernel's default.",
  }),
  ipMode: choice({
    // By the numbers (bench/ann.ts, ALS factors of both generated lastfm-360K-sized logs): direct
    // ip-NSW levels off at recall 0.42 where augmented reaches 0.96.
    default: "augmented",
    allowed: ["direct", "augmented"] as const,
    doc: 'For "ip": search by the inner product itself ("direct", ip-NSW) or by cosine on rows ' +
      'augmented to equal norm ("augmented", as implicit does).',
  }),
  randomState: integer({
    default: 0,
    min: 0,
    doc: "Seed of the level draws; the same seed gives the same index.",
  }),
};

/** Options of {@link HnswIndex.build}. */
export type HnswBuildOptions = HnswParameters & IndexBuildOptions;
/** Options of {@link HnswIndex.search}: filters, strategy and `ef`. */
export interface HnswSearchOptions extends IndexSearchOptions {
  /** Candidates kept by this search (default: the index's `ef`). */
  ef?: number;
}

const kind: IndexKind<Required<Omit<HnswParameters, "ef">> & Pick<HnswParameters, "ef">> = {
  name: "HnswIndex",
  code: 1,
  tag: "hnsw",
  effortName: "ef",
  schema,
  create(items, nItems, f, params) {
    const out = new BigUint64Array(1);
    callNative("tacit_hnsw_create", {
      n_items: nItems,
      f,
      items,
      metric: metricCode(params.metric),
      m: params.m,
      ef_construction: params.efConstruction,
      ef: params.ef ?? 0,
      ip_mode: params.ipMode === "augmented" ? 1 : 0,
      seed: params.randomState | 0,
      out_handle: out,
    });
    return out[0]!;
  },
};

/** A hierarchical navigable small world graph over factor rows. */
export class HnswIndex extends AnnIndex {
  /** @internal Use {@link HnswIndex.build} or {@link HnswIndex.load}. */
  constructor(
    handle: bigint,
    metric: IndexMetric,
    source: Float32Array,
    targets: Float32Array,
    parameters: Record<string, unknown>,
    fingerprint: string,
  ) {
    super(handle, "HNSW index", metric, source, targets, parameters, fingerprint);
  }

  /** The kind's facts: name, native code, file tag, effort option, schema. */
  protected get kind(): IndexKind<object> {
    return kind as IndexKind<object>;
  }

  /**
   * Builds the graph over `items` (rows = item ids), in parallel and
   * deterministically: the same rows and `randomState` give the same index
   * bytes on any thread count.
   */
  static build(items: FactorMatrix, options: HnswBuildOptions = {}): Promise<HnswIndex> {
    return buildIndex(kind, HnswIndex, items, options);
  }

  /** Loads an index `save` wrote, for the same `items` it was built from (checked). */
  static load(path: string, items: FactorMatrix): Promise<HnswIndex> {
    return loadIndex(kind as IndexKind<object>, HnswIndex, path, items);
  }

  /** As {@link AnnIndex.search}, with `ef`. */
  override search(
    queries: FactorMatrix | Float32Array,
    n: number,
    options: HnswSearchOptions = {},
  ): RankedBatch {
    return super.search(queries, n, options as IndexSearchOptions & Record<string, unknown>);
  }
}
