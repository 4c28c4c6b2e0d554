/**
 * What every approximate-nearest-neighbour index shares (HNSW, the inverted
 * file, the projection forest): the native handle, the build loop (progress,
 * abort), one search with filters inside the traversal, save and load.
 *
 * An index is built over a factor matrix whose rows are the item ids (no
 * label map). It keeps its own traversal copy natively, and *borrows* the
 * rows it was built from: every search re-scores the index's candidates
 * exactly against them (the exact path's arithmetic), so an id an index
 * returns carries the same score, and ties the same order, as exact top-k.
 * For `metric: "cosine"` the borrowed rows are a unit-length copy made once
 * at build (the rows a model's `similarItems` compares), and queries are
 * scaled the same way.
 *
 * @module
 */
import { crc32, readTacitFile, TacitFileError, writeTacitFile } from "../io/format.ts";
import { callNative, callNativeAsync, nativeLibrary, threadCount } from "../native/library.ts";
import { NativeHandle } from "../native/handle.ts";
import { ProgressBar, resolveProgress } from "../progress.ts";
import { checkCsrMatrix, CsrMatrix } from "../sparse.ts";
import {
  assertFiniteRows,
  candidateList,
  idMask,
  normalizeRows,
  type RankedBatch,
  resultCount,
} from "../models/query.ts";
import type { FactorMatrix } from "../models/matrix_factorization.ts";
import { describe, finiteNumber, knownOptions, oneOf, optionalBoolean } from "../validate.ts";
import { calibrate, type SearchPlan } from "./plan.ts";
import { type OptionSchema, type OptionValues, resolveOptions } from "../models/options.ts";

/** How an index compares a query with an item. */
export type IndexMetric = "ip" | "cosine";

/** How a search runs: planned (default), the index alone, or an exact scan. */
export type SearchStrategy = "auto" | "index" | "exact";

/** Options of every index's `search`, besides its own effort option. */
export interface IndexSearchOptions {
  /**
   * Ids never returned: a `CsrMatrix` whose row q holds query q's exclusions
   * (e.g. the user's liked items), or one list of ids for every query.
   */
  exclude?: CsrMatrix | ArrayLike<number>;
  /** When given, only these ids are returned (for every query). */
  allow?: ArrayLike<number>;
  /**
   * `"auto"` (default): per query, an exact scan when the filters leave so
   * few items that scanning them is cheaper, the index otherwise (its effort
   * widened by items / admissible items), and an exact scan when the index
   * finds fewer than `n` admissible items. `"index"`: the index alone at the
   * given effort (what a recall/speed sweep measures). `"exact"`: exact top-k.
   */
  strategy?: SearchStrategy;
  /** Threads for this search, 0..256; 0 (default) uses the whole pool. */
  numThreads?: number;
}

/** The checked filters and settings of one {@link AnnIndex.rankRows} call. */
export interface RankFilters {
  /** Row q: the ids query q never returns (sorted rows, as every CsrMatrix has). */
  exclusions?: CsrMatrix | undefined;
  /** mask[id] = 1: never returned. */
  mask: Uint8Array | null;
  /** When non-null, only these ids (sorted, unique) are returned. */
  candidates: Int32Array | null;
  /** ef / nprobe / searchK; 0 or omitted: the index's default. */
  effort?: number;
  /** Default "auto". */
  strategy?: SearchStrategy;
  /** Thread limit; 0 or omitted: the whole pool. */
  threads?: number;
}

/** Options of every index's `build`, besides its own parameters. */
export interface IndexBuildOptions {
  /** Show a progress bar on stderr once the build has run a second (default: stderr is a terminal). */
  progress?: boolean;
  /** Aborts the build (between and inside its native steps). */
  signal?: AbortSignal;
  /** Threads for the build, 0..256; 0 (default) uses the whole pool. */
  numThreads?: number;
}

const SEARCH_OPTIONS = ["exclude", "allow", "strategy", "numThreads"] as const;
const BUILD_OPTIONS = ["progress", "signal", "numThreads"] as const;
const STRATEGY_CODES = { auto: 0, index: 1, exact: 2 } as const;
const METRIC_CODES = { ip: 0, cosine: 1 } as const;
/** The file kind of a saved index. */
const FILE_KIND = "ann-index";
const FILE_VERSION = 1;

/** The native facts of an index, read once after build or load. */
interface Described {
  nItems: number;
  factors: number;
  defaultEffort: number;
  maxEffort: number;
}

/** What a subclass tells the base about its kind. */
export interface IndexKind<P extends object> {
  /** The class name, for messages, e.g. "HnswIndex". */
  name: string;
  /** The native kind code (zig/ann/index.zig Kind) and the file's `index` value. */
  code: 1 | 2 | 3;
  /** The file's name for the kind, e.g. "hnsw". */
  tag: string;
  /** The name of the per-search effort option, e.g. "ef". */
  effortName: string;
  /** The parameters (metric, randomState and the kind's own), with defaults. */
  schema: OptionSchema;
  /** Creates the native, not yet built, index; returns its handle. */
  create(items: Float32Array, nItems: number, factors: number, params: P): bigint;
}

/** The rows an index is built from, checked: `[rows ≥ 1, 1..1024]` finite float32. */
function checkedRows(name: string, rows: unknown): FactorMatrix {
  const given = rows as Partial<FactorMatrix> | null;
  if (
    typeof given !== "object" || given === null || !(given.data instanceof Float32Array) ||
    !Array.isArray(given.shape) || given.shape.length !== 2
  ) {
    throw new TypeError(
      `Expected ${name} to be a factor matrix { data: Float32Array, shape: [rows, factors] } but found ${
        describe(rows)
      }`,
    );
  }
  const [n, f] = given.shape;
  if (!Number.isInteger(n) || !Number.isInteger(f) || n! < 1 || f! < 1 || f! > 1024) {
    throw new RangeError(
      `Expected ${name}.shape to be [rows >= 1, factors in 1..1024] but found [${given.shape}]`,
    );
  }
  if (given.data.length !== n! * f!) {
    throw new RangeError(
      `Expected ${name}.data to have ${
        n! * f!
      } elements (shape [${n}, ${f}]) but found ${given.data.length}`,
    );
  }
  assertFiniteRows(given.data, f!, Int32Array.from({ length: n! }, (_, k) => k), `${name}`, "row");
  return { data: given.data, shape: [n!, f!] };
}

/**
 * The base of HnswIndex, IvfIndex and ProjectionForestIndex: a native index
 * handle plus the rows it re-scores against.
 */
export abstract class AnnIndex extends NativeHandle {
  /** `"ip"` or `"cosine"`. */
  readonly metric: IndexMetric;
  /** Rows (items) the index holds. */
  readonly nItems: number;
  /** Factors per row. */
  readonly factors: number;
  /** The search effort used when a search gives none (ef / nprobe / searchK). */
  readonly defaultEffort: number;
  /** The effort at which a search scores every admissible item (an exact search). */
  readonly maxEffort: number;
  /** The build parameters, defaults filled in (what `save` records). */
  readonly parameters: Readonly<Record<string, unknown>>;
  /** The rows the index was built from (borrowed: not a copy). */
  readonly source: Float32Array;
  /** What searches re-score against: `source`, or its unit-length copy for cosine. */
  readonly #targets: Float32Array;
  /** CRC-32 of `source`'s bytes at build: a load checks the rows it is given match. */
  readonly fingerprint: string;
  #plan: SearchPlan | undefined;

  /** @internal Subclasses construct through `buildIndex` / `loadIndex`. */
  protected constructor(
    handle: bigint,
    what: string,
    metric: IndexMetric,
    source: Float32Array,
    targets: Float32Array,
    parameters: Record<string, unknown>,
    fingerprint: string,
  ) {
    super(handle, what);
    this.metric = metric;
    this.source = source;
    this.#targets = targets;
    this.parameters = Object.freeze({ ...parameters });
    this.fingerprint = fingerprint;
    const info = describeIndex(handle);
    this.nItems = info.nItems;
    this.factors = info.factors;
    this.defaultEffort = info.defaultEffort;
    this.maxEffort = info.maxEffort;
  }

  /** The kind's facts (name, effort option, ...). */
  protected abstract get kind(): IndexKind<object>;

  /** Bytes `save` writes for the index structure (the serialized native index). */
  get byteLength(): number {
    const out = new BigUint64Array(1);
    callNative("tacit_ann_serialized_len", { index: this.handle, out_len: out });
    return Number(out[0]);
  }

  /**
   * The top `n` items of each query: flat `[queries, n]` ids and scores, best
   * first (score descending, then id ascending), padded with −1 / −Infinity
   * only where fewer than `n` items are admissible. Scores are exact (the
   * borrowed rows' dot products; cosines for a cosine index).
   *
   * @param queries `[q, factors]` rows (a factor matrix, or a Float32Array of q · factors values).
   * @param n Results per query (clamped to the admissible items).
   * @param options Filters, strategy, threads, and the kind's effort option.
   */
  search(
    queries: FactorMatrix | Float32Array,
    n: number,
    options: IndexSearchOptions & Record<string, unknown> = {},
  ): RankedBatch {
    const name = this.kind.name;
    const given = knownOptions(`${name}.search()`, options, [
      ...SEARCH_OPTIONS,
      this.kind.effortName,
    ]);
    const rows = this.queryRows(queries);
    const nQueries = rows.length / this.factors;
    const candidates = candidateList(
      "allow",
      given.allow as ArrayLike<number> | undefined,
      this.nItems,
      "items",
    );
    const exclude = given.exclude;
    let mask: Uint8Array | null = null;
    let exclusions: CsrMatrix | undefined;
    if (exclude instanceof CsrMatrix) {
      checkCsrMatrix("exclude", exclude);
      if (exclude.nRows !== nQueries || exclude.nCols !== this.nItems) {
        throw new RangeError(
          `Expected exclude to be [${nQueries}, ${this.nItems}] (one row per query, one column per item) but found [${exclude.shape}]`,
        );
      }
      exclusions = exclude;
    } else if (exclude !== undefined) {
      mask = idMask("exclude", exclude as ArrayLike<number>, this.nItems, "items");
    }
    const effort = given[this.kind.effortName];
    return this.rankRows(rows, resultCount(n, candidates, this.nItems), {
      exclusions,
      mask,
      candidates,
      effort: effort === undefined ? 0 : effortOption(this.kind.effortName, effort),
      strategy: given.strategy === undefined
        ? "auto"
        : oneOf("strategy", given.strategy, ["auto", "index", "exact"] as const),
      threads: given.numThreads === undefined ? 0 : threadCount("numThreads", given.numThreads),
    });
  }

  /**
   * The search itself, for callers that checked their arguments (`search`,
   * and the models' `recommend` / `similarItems` / `similarUsers`, which
   * combine liked items, `filterItems` and `items`).
   *
   * @param rows `[q, factors]` query rows, finite; for cosine already unit
   *   rows (normalizeRows), as the exact path's queries.
   * @param k Results per query, at most the admissible items.
   * @param filters Per-query exclusions (rows aligned with the queries), a
   *   0/1 mask of ids never returned, a sorted candidate list; the effort (0:
   *   the index's default), the strategy and the thread limit.
   * @internal
   */
  rankRows(rows: Float32Array, k: number, filters: RankFilters): RankedBatch {
    const nQueries = rows.length / this.factors;
    let strategy = filters.strategy ?? "auto";
    let effort = filters.effort ?? 0;
    const plan = this.#plan;
    if (plan !== undefined && strategy === "auto" && effort === 0) {
      // A global filter leaving A of n items makes exact top-k about n/A times
      // faster (masked items are skipped while tiling) and the index about n/A
      // times slower (its effort is widened by n/A): exact wins once
      // (n/A)² · exactQps reaches the index's rate.
      const ratio = this.nItems /
        Math.max(1, admissibleCount(this.nItems, filters.mask, filters.candidates));
      if (plan.exact || ratio * ratio * plan.exactQps >= plan.indexQps) strategy = "exact";
      else effort = plan.effort;
    }
    const ids = new Int32Array(nQueries * k);
    const scores = new Float32Array(nQueries * k);
    if (ids.length === 0) return { ids, scores, shape: [nQueries, k] };
    callNative("tacit_ann_search", {
      index: this.handle,
      queries: rows,
      n_q: nQueries,
      targets: this.#targets,
      n_items: this.nItems,
      f: this.factors,
      exclude_indptr: filters.exclusions?.indptr ?? null,
      exclude_indices: filters.exclusions?.indices ?? new Int32Array(0),
      effort,
      mode: STRATEGY_CODES[strategy],
      item_mask: filters.mask,
      candidates: filters.candidates,
      n_cand: filters.candidates?.length ?? 0,
      k,
      out_ids: ids,
      out_scores: scores,
    }, { threads: filters.threads ?? 0 });
    return { ids, scores, shape: [nQueries, k] };
  }

  /** The plan `calibrate` made (undefined before). */
  get plan(): SearchPlan | undefined {
    return this.#plan;
  }

  /**
   * Measures, on sample queries, the effort this index needs for `recall`
   * (the share of the exact top-`n` ids found) and whether exact top-k is
   * faster there (lib/ann/plan.ts). Afterwards a search that gives no effort
   * and the "auto" strategy uses that effort — or runs exact, when the index
   * cannot reach the recall faster. Returns the plan.
   *
   * @param queries Sample queries (e.g. a few hundred user factor rows).
   * @param options `recall` (0.95), `n` (10), `numThreads`.
   */
  calibrate(
    queries: FactorMatrix | Float32Array,
    options: { recall?: number; n?: number; numThreads?: number } = {},
  ): SearchPlan {
    const given = knownOptions(`${this.kind.name}.calibrate()`, options, [
      "recall",
      "n",
      "numThreads",
    ]);
    const recall = given.recall === undefined
      ? 0.95
      : finiteNumber("recall", given.recall, { min: 0, max: 1, minExclusive: true });
    const rows = this.queryRows(queries);
    const k = resultCount(given.n as number | undefined, null, this.nItems);
    const threads = given.numThreads === undefined
      ? 0
      : threadCount("numThreads", given.numThreads);
    const base = { mask: null, candidates: null, threads };
    this.#plan = undefined;
    this.#plan = calibrate(
      {
        maxEffort: this.maxEffort,
        atEffort: (effort) => this.rankRows(rows, k, { ...base, effort, strategy: "index" }),
        exact: () => this.rankRows(rows, k, { ...base, strategy: "exact" }),
      },
      rows.length / this.factors,
      recall,
    );
    return this.#plan;
  }

  /** Query rows as the native search takes them: checked, unit-length for cosine. */
  protected queryRows(queries: FactorMatrix | Float32Array): Float32Array {
    let data: Float32Array;
    if (queries instanceof Float32Array) {
      if (queries.length % this.factors !== 0) {
        throw new RangeError(
          `Expected queries to hold a multiple of ${this.factors} values (the index's factors) but found ${queries.length}`,
        );
      }
      data = queries;
    } else {
      const given = queries as Partial<FactorMatrix> | null;
      if (
        typeof given !== "object" || given === null || !(given.data instanceof Float32Array) ||
        !Array.isArray(given.shape)
      ) {
        throw new TypeError(
          `Expected queries to be a factor matrix { data, shape } or a Float32Array but found ${
            describe(queries)
          }`,
        );
      }
      if (given.shape[1] !== this.factors || given.data.length !== given.shape[0]! * this.factors) {
        throw new RangeError(
          `Expected queries to be [rows, ${this.factors}] (the index's factors) but found shape [${given.shape}] with ${given.data.length} values`,
        );
      }
      data = given.data;
    }
    const count = data.length / this.factors;
    assertFiniteRows(
      data,
      this.factors,
      Int32Array.from({ length: count }, (_, k) => k),
      "queries",
      "query",
    );
    return this.metric === "cosine" ? normalizeRows(data, this.factors) : data;
  }

  /**
   * Writes the index to `path` in tacit's checked file format (magic,
   * version, parameters, CRC-32), atomically; the rows are not stored, only
   * their shape and fingerprint: `load` takes them again.
   */
  async save(path: string): Promise<void> {
    const length = this.byteLength;
    const bytes = new Uint8Array(length);
    callNative("tacit_ann_serialize", { index: this.handle, n_bytes: length, out_bytes: bytes });
    await writeTacitFile(path, {
      kind: FILE_KIND,
      version: FILE_VERSION,
      params: {
        index: this.kind.tag,
        parameters: this.parameters,
        nItems: this.nItems,
        factors: this.factors,
        fingerprint: this.fingerprint,
      },
      arrays: { index: { array: bytes, shape: [bytes.length] } },
    });
  }
}

/** Items neither masked nor outside the candidate list. */
function admissibleCount(
  n: number,
  mask: Uint8Array | null,
  candidates: Int32Array | null,
): number {
  if (candidates !== null) {
    if (mask === null) return candidates.length;
    let count = 0;
    for (const id of candidates) count += mask[id] === 0 ? 1 : 0;
    return count;
  }
  if (mask === null) return n;
  let masked = 0;
  for (let id = 0; id < n; id++) masked += mask[id]!;
  return n - masked;
}

/** An effort option (ef, nprobe, searchK): a positive integer. */
function effortOption(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 2 ** 31 - 1) {
    throw new RangeError(
      `Expected ${name} to be an integer in 1..2147483647 but found ${describe(value)}`,
    );
  }
  return value;
}

function describeIndex(handle: bigint): Described {
  const info = new Int32Array(7);
  callNative("tacit_ann_describe", { index: handle, out_info: info });
  return { nItems: info[2]!, factors: info[3]!, defaultEffort: info[4]!, maxEffort: info[5]! };
}

/** CRC-32 of a float array's bytes, as 8 hex digits. */
function fingerprintOf(rows: Float32Array): string {
  const bytes = new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength);
  return crc32(bytes).toString(16).padStart(8, "0");
}

/** The constructor shape `buildIndex` and `loadIndex` call. */
export type IndexConstructor<I extends AnnIndex> = new (
  handle: bigint,
  metric: IndexMetric,
  source: Float32Array,
  targets: Float32Array,
  parameters: Record<string, unknown>,
  fingerprint: string,
) => I;

/**
 * Builds an index: checks the rows and the options (the kind's parameters
 * plus progress, signal, numThreads), creates the native index and runs its
 * build steps, with a progress bar once a second has passed and the signal
 * checked between and inside steps. A failed or aborted build releases the
 * native object.
 */
export async function buildIndex<I extends AnnIndex, P extends object>(
  kind: IndexKind<P>,
  Ctor: IndexConstructor<I>,
  rows: unknown,
  options: unknown,
): Promise<I> {
  const factors = checkedRows("items", rows);
  const given = (options ?? {}) as Record<string, unknown>;
  if (typeof given !== "object" || Array.isArray(given)) {
    throw new TypeError(
      `Expected ${kind.name} options to be an object but found ${describe(options)}`,
    );
  }
  const paramsGiven: Record<string, unknown> = {};
  const runGiven: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) {
    ((BUILD_OPTIONS as readonly string[]).includes(key) ? runGiven : paramsGiven)[key] = value;
  }
  const params = resolveOptions(kind.schema, paramsGiven, kind.name) as OptionValues<OptionSchema>;
  const progress = optionalBoolean("progress", runGiven.progress);
  const signal = runGiven.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`Expected signal to be an AbortSignal but found ${describe(signal)}`);
  }
  const threads = runGiven.numThreads === undefined
    ? 0
    : threadCount("numThreads", runGiven.numThreads);
  const metric = params.metric as IndexMetric;
  const [nItems, f] = factors.shape;
  nativeLibrary();
  signal?.throwIfAborted();
  const handle = kind.create(factors.data, nItems, f, params as P);
  const targets = metric === "cosine" ? normalizeRows(factors.data, f) : factors.data;
  const index = new Ctor(
    handle,
    metric,
    factors.data,
    targets,
    { ...params },
    fingerprintOf(factors.data),
  );
  try {
    await runBuildSteps(index, kind.name, resolveProgress(progress), signal, threads);
  } catch (error) {
    index.dispose();
    throw error;
  }
  return index;
}

async function runBuildSteps(
  index: AnnIndex,
  label: string,
  showProgress: boolean,
  signal: AbortSignal | undefined,
  threads: number,
): Promise<void> {
  const started = performance.now();
  const progress = new BigUint64Array(2);
  let bar: ProgressBar | undefined;
  try {
    for (;;) {
      signal?.throwIfAborted();
      await callNativeAsync(
        "tacit_ann_build_step",
        { index: index.handle, out_progress: progress },
        {
          threads,
          signal,
        },
      );
      const [done, total] = [Number(progress[0]), Number(progress[1])];
      if (showProgress && bar === undefined && performance.now() - started > 1000) {
        bar = new ProgressBar({ total, label, enabled: true });
      }
      bar?.update(done);
      if (done >= total) break;
    }
    signal?.throwIfAborted();
  } finally {
    bar?.close();
  }
}

/** The parameters a saved file gives, checked again by the kind's schema. */
export async function loadIndex<I extends AnnIndex>(
  kind: IndexKind<object>,
  Ctor: IndexConstructor<I>,
  path: string,
  rows: unknown,
): Promise<I> {
  const factors = checkedRows("items", rows);
  const file = await readTacitFile(path, { kind: FILE_KIND });
  const { params } = file;
  const fail = (message: string) => new TacitFileError(message, path);
  if (params.index !== kind.tag) {
    throw fail(
      `Expected a ${kind.tag} index in ${path} but found a ${describe(params.index)} index`,
    );
  }
  const [nItems, f] = factors.shape;
  if (params.nItems !== nItems || params.factors !== f) {
    throw fail(
      `Expected the index in ${path} to be over items of shape [${nItems}, ${f}] (the rows given) but it was built over [${
        describe(params.nItems)
      }, ${describe(params.factors)}]`,
    );
  }
  const fingerprint = fingerprintOf(factors.data);
  if (params.fingerprint !== fingerprint) {
    throw fail(
      `Expected the rows given to be the ones the index in ${path} was built from (fingerprint ${
        describe(params.fingerprint)
      }) but their fingerprint is '${fingerprint}': rebuild the index for these factors`,
    );
  }
  let parameters: OptionValues<OptionSchema>;
  try {
    parameters = resolveOptions(kind.schema, params.parameters, kind.name);
  } catch (error) {
    throw new TacitFileError(`Invalid parameters in ${path}: ${(error as Error).message}`, path, {
      cause: error,
    });
  }
  const blob = file.arrays.index?.array;
  if (!(blob instanceof Uint8Array)) throw fail(`Expected a u8 array 'index' in ${path}`);
  const metric = parameters.metric as IndexMetric;
  const out = new BigUint64Array(1);
  try {
    callNative("tacit_ann_load", {
      kind: kind.code,
      metric: METRIC_CODES[metric],
      n_items: nItems,
      f,
      n_bytes: blob.length,
      bytes: blob,
      out_handle: out,
    });
  } catch (error) {
    throw new TacitFileError(`The index in ${path} is damaged: ${(error as Error).message}`, path, {
      cause: error,
    });
  }
  const targets = metric === "cosine" ? normalizeRows(factors.data, f) : factors.data;
  return new Ctor(out[0]!, metric, factors.data, targets, { ...parameters }, fingerprint);
}

/** The native metric code of a metric name. */
export function metricCode(metric: IndexMetric): number {
  return METRIC_CODES[metric];
}
