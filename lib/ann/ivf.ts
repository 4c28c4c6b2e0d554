/**
 * `IvfIndex`: an inverted file over k-means cells (zig/ann/ivf.zig), faiss's
 * IndexIVFFlat for inner products: a search scores the query against the
 * cells' centroids and scans the `nprobe` best cells' lists.
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
export interface IvfParameters {
  /** "ip" (default) or "cosine". */
  metric?: "ip" | "cosine";
  /** k-means cells (about √items). */
  nlist?: number;
  /** Cells a search scans when it gives none (nlist / 8). */
  nprobe?: number;
  /** Seed of the k-means sample (0). */
  randomState?: number;
}

const schema: SchemaFor<IvfParameters, "nlist" | "nprobe"> = {
  metric: choice({
    default: "ip",
    allowed: ["ip", "cosine"] as const,
    doc: '"ip" (inner product: recommend) or "cosine" (similar items / users).',
  }),
  nlist: integer({
    default: undefined,
    min: 1,
    max: 2 ** 30,
    doc: "k-means cells; omitted: about √items.",
  }),
  nprobe: integer({
    default: undefined,
    min: 1,
    max: 2 ** 30,
    doc: "Cells a search scans when `search` gives none; omitted: the kernel's default.",
  }),
  randomState: integer({
    default: 0,
    min: 0,
    doc: "Seed of the k-means sample; the same seed gives the same index.",
  }),
};

/** Options of {@link IvfIndex.build}. */
export type IvfBuildOptions = IvfParameters & IndexBuildOptions;
/** Options of {@link IvfIndex.search}: filters, strategy and `nprobe`. */
export interface IvfSearchOptions extends IndexSearchOptions {
  /** Cells scanned by this search (default: the index's `nprobe`). */
  nprobe?: number;
}

const kind: IndexKind<
  Required<Omit<IvfParameters, "nlist" | "nprobe">> & Pick<IvfParameters, "nlist" | "nprobe">
> = {
  name: "IvfIndex",
  code: 2,
  tag: "ivf",
  effortName: "nprobe",
  schema,
  create(items, nItems, f, params) {
    if (params.nlist !== undefined && params.nlist > nItems) {
      throw new RangeError(
        `Expected nlist to be at most the ${nItems} items but found ${params.nlist}`,
      );
    }
    const out = new BigUint64Array(1);
    callNative("tacit_ivf_create", {
      n_items: nItems,
      f,
      items,
      metric: metricCode(params.metric),
      nlist: params.nlist ?? 0,
      nprobe: params.nprobe ?? 0,
      seed: params.randomState | 0,
      out_handle: out,
    });
    return out[0]!;
  },
};

/** An inverted file over k-means cells of factor rows. */
export class IvfIndex extends AnnIndex {
  /** @internal Use {@link IvfIndex.build} or {@link IvfIndex.load}. */
  constructor(
    handle: bigint,
    metric: IndexMetric,
    source: Float32Array,
    targets: Float32Array,
    parameters: Record<string, unknown>,
    fingerprint: string,
  ) {
    super(handle, "IVF index", metric, source, targets, parameters, fingerprint);
  }

  /** The kind's facts: name, native code, file tag, effort option, schema. */
  protected get kind(): IndexKind<object> {
    return kind as IndexKind<object>;
  }

  /** Trains the cells (seeded k-means) and fills their lists; deterministic on any thread count. */
  static build(items: FactorMatrix, options: IvfBuildOptions = {}): Promise<IvfIndex> {
    return buildIndex(kind, IvfIndex, items, options);
  }

  /** Loads an index `save` wrote, for the same `items` it was built from (checked). */
  static load(path: string, items: FactorMatrix): Promise<IvfIndex> {
    return loadIndex(kind as IndexKind<object>, IvfIndex, path, items);
  }

  /** As {@link AnnIndex.search}, with `nprobe`. */
  override search(
    queries: FactorMatrix | Float32Array,
    n: number,
    options: IvfSearchOptions = {},
  ): RankedBatch {
    return super.search(queries, n, options as IndexSearchOptions & Record<string, unknown>);
  }
}
