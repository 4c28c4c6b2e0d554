/**
 * Building blocks of every factor model's queries: id and filter validation, and
 * the one native top-k call (`tacit_topk_dot`) behind `recommend`,
 * `similarItems` and `similarUsers`.
 *
 * @module
 */
import type { GpuFactors } from "../native/gpu.ts";
import { callNative } from "../native/library.ts";
import type { CsrMatrix } from "../sparse.ts";
import { idsInRange, oneOf, positiveInteger } from "../validate.ts";

/** Ranked results of one query: best first. */
export interface Ranked {
  /** Ids, best first. */
  ids: Int32Array;
  /** The score of each id. */
  scores: Float32Array;
}

/**
 * Ranked results of a batch of queries, flat and row-major with `shape =
 * [queries, n]`. A row with fewer than `n` results is padded with id −1 and
 * score −Infinity.
 */
export interface RankedBatch extends Ranked {
  /** `[queries, n]`. */
  shape: [number, number];
}

/** One id or a batch of ids, as callers may pass them. */
export type Ids = number | ArrayLike<number>;

/** The options shared by every ranking query. */
export interface RankOptions {
  /** How many results per query (10). Clamped to the number of rankable ids. */
  n?: number;
  /** Ids never returned. */
  filterItems?: ArrayLike<number>;
  /** When given, only these ids are ranked. */
  items?: ArrayLike<number>;
}

/**
 * The arithmetic of the exact top-k: `"float32"`, or `"bf16Candidates"` (a
 * bf16 pass, on AMX tiles or with AVX512-BF16, selects a provably complete candidate set,
 * re-scored in float32: the same ids and scores bit for bit, ties included;
 * float32 where neither runs: AVX512-BF16 is chosen on AMD only), or `"auto"` (the default: the
 * candidate pass when available and the batch has 1024 queries or more).
 */
export type Precision = "float32" | "bf16Candidates" | "auto";

/** The values of {@link Precision}, in the native code's numbering. */
const PRECISIONS: readonly Precision[] = ["float32", "bf16Candidates", "auto"];

/** Validates a `precision` option (undefined: `"auto"`). */
export function precisionOption(precision: unknown): Precision {
  return precision === undefined ? "auto" : oneOf("precision", precision, PRECISIONS);
}

/** The keys of {@link RankOptions}: what `similarItems` takes. */
export const RANK_OPTIONS: readonly string[] = ["n", "filterItems", "items"];

/** The keys of every model's `recommend` options (`RankOptions` and `filterAlreadyLiked`). */
export const RECOMMEND_OPTIONS: readonly string[] = [...RANK_OPTIONS, "filterAlreadyLiked"];

/** A 0/1 mask of the ids to skip, or null when there are none. */
export function idMask(
  name: string,
  ids: ArrayLike<number> | undefined,
  count: number,
  what: string,
): Uint8Array | null {
  if (ids === undefined) return null;
  const mask = new Uint8Array(count);
  for (const id of idsInRange(name, ids, count, what)) mask[id] = 1;
  return mask;
}

/** Sorted, de-duplicated candidate ids, or null for "every id". */
export function candidateList(
  name: string,
  ids: ArrayLike<number> | undefined,
  count: number,
  what: string,
): Int32Array | null {
  if (ids === undefined) return null;
  const sorted = idsInRange(name, ids, count, what).sort();
  let unique = 0;
  for (let k = 0; k < sorted.length; k++) {
    if (k === 0 || sorted[k] !== sorted[k - 1]) sorted[unique++] = sorted[k]!;
  }
  return sorted.slice(0, unique);
}

/** Validates `n` and clamps it to the number of rankable ids (0 when there are none). */
export function resultCount(
  n: number | undefined,
  candidates: Int32Array | null,
  count: number,
): number {
  const wanted = positiveInteger("n", n ?? 10);
  return Math.min(wanted, candidates?.length ?? count);
}

export interface TopKRequest {
  /** Row-major `[nQueries, factors]`. */
  queries: Float32Array;
  /** Row-major `[nTargets, factors]`. */
  targets: Float32Array;
  factors: number;
  k: number;
  /** Row q holds the ids query q must not return; rows aligned with queries. */
  exclude?: CsrMatrix | undefined;
  /** The arithmetic (`"auto"` when omitted); results are the same either way. */
  precision?: Precision | undefined;
  mask: Uint8Array | null;
  candidates: Int32Array | null;
  /**
   * What the caller calls the queries and the targets, for messages: e.g.
   * `{ queries: "userFactors", targets: "itemFactors", target: "item" }`.
   * The kernel refuses a NaN or infinite target value (it would silently
   * drop the target from every ranking); the message names it this way.
   */
  names: FactorNames;
  /**
   * The targets' copy in GPU memory (the same rows as `targets`): the ranking
   * then runs there (cuBLAS scores, the filters inside the select-k kernel).
   */
  gpu?: GpuFactors | undefined;
}

/** The user-facing names of a top-k's two matrices and of one target row. */
export interface FactorNames {
  queries: string;
  targets: string;
  /** The noun of one target row, e.g. `"item"`. */
  target: string;
}

/** The exclusion ids of a call without exclusions (read by nobody: length 0). */
const NO_IDS = new Int32Array(0);

/** Which arithmetic the latest top-k call ran (for tests and benches). */
let lastPath: "float32" | "bf16Candidates" | undefined;

/**
 * Whether `precision: "bf16Candidates"` runs the candidate pass on this CPU
 * (AMX-BF16 granted by the OS, or AVX512-BF16), found by one tiny call.
 */
export function bf16CandidatesAvailable(): boolean {
  topKDot({
    queries: new Float32Array(1),
    targets: new Float32Array(1),
    factors: 1,
    k: 1,
    mask: null,
    candidates: null,
    precision: "bf16Candidates",
    names: { queries: "queries", targets: "targets", target: "target" },
  });
  return lastTopKPath() === "bf16Candidates";
}

/** Which arithmetic the latest top-k call in this process ran. */
export function lastTopKPath(): "float32" | "bf16Candidates" | undefined {
  return lastPath;
}

/** Runs the native top-k for every query in parallel. */
export function topKDot(request: TopKRequest): RankedBatch {
  const { queries, targets, factors, k } = request;
  const nQueries = queries.length / factors;
  const nTargets = targets.length / factors;
  const ids = new Int32Array(nQueries * k);
  const scores = new Float32Array(nQueries * k);
  if (ids.length === 0) return { ids, scores, shape: [nQueries, k] };
  if (request.gpu !== undefined) {
    try {
      callNative("tacit_gpu_topk", {
        queries,
        n_q: nQueries,
        items: request.gpu.handle,
        n_items: nTargets,
        f: factors,
        exclude_indptr: request.exclude?.indptr ?? null,
        exclude_indices: request.exclude?.indices ?? NO_IDS,
        item_mask: request.mask,
        candidates: request.candidates,
        n_cand: request.candidates?.length ?? 0,
        k,
        out_ids: ids,
        out_scores: scores,
      });
    } catch (error) {
      throw renamedFiniteError(error, request.names);
    }
    return { ids, scores, shape: [nQueries, k] };
  }
  const path = new Int32Array(1);
  const call = () =>
    callNative("tacit_topk_dot", {
      queries,
      n_q: nQueries,
      items: targets,
      n_items: nTargets,
      f: factors,
      exclude_indptr: request.exclude?.indptr ?? null,
      exclude_indices: request.exclude?.indices ?? NO_IDS,
      item_mask: request.mask,
      candidates: request.candidates,
      n_cand: request.candidates?.length ?? 0,
      k,
      out_ids: ids,
      out_scores: scores,
      precision: PRECISIONS.indexOf(request.precision ?? "auto"),
      out_path: path,
    });
  try {
    call();
    lastPath = path[0] === 1 ? "bf16Candidates" : "float32";
  } catch (error) {
    throw renamedFiniteError(error, request.names);
  }
  return { ids, scores, shape: [nQueries, k] };
}

/**
 * The kernel's "Expected items to be finite but found NaN at items[30] (row
 * 7, factor 2)" in the caller's words: "… itemFactors … at item 7, factor 2
 * (itemFactors.data[30])". Other errors pass through.
 */
function renamedFiniteError(error: unknown, names: FactorNames): unknown {
  const found = error instanceof RangeError &&
    /^Expected (items|queries) to be finite but found (\S+) at \1\[(\d+)\] \(row (\d+), factor (\d+)\)$/
      .exec(error.message);
  if (!found) return error;
  const [, which, value, offset, row, factor] = found;
  const name = which === "items" ? names.targets : names.queries;
  const where = which === "items" ? `${names.target} ${row}` : `query row ${row}`;
  return new RangeError(
    `Expected ${name} to be finite but found ${value} at ${where}, factor ${factor} (${name}.data[${offset}]); ` +
      "factors changed in place after fit, load or assignFactors?",
  );
}

/**
 * Refuses a NaN or infinite value in gathered query rows, naming the id of
 * the row it came from.
 *
 * @param rows `[ids.length, columns]` rows gathered from `name`.
 * @param columns Values per row.
 * @param ids The id of each row.
 * @param name The matrix the rows came from, e.g. `"userFactors"`.
 * @param noun One row's noun, e.g. `"user"`.
 */
export function assertFiniteRows(
  rows: Float32Array,
  columns: number,
  ids: Int32Array,
  name: string,
  noun: string,
): void {
  for (let p = 0; p < rows.length; p++) {
    const v = rows[p]!;
    if (v - v === 0) continue;
    const id = ids[Math.floor(p / columns)]!;
    const factor = p % columns;
    throw new RangeError(
      `Expected ${name} to be finite but found ${v} at ${noun} ${id}, factor ${factor} (${name}.data[${
        id * columns + factor
      }]); factors changed in place after fit, load or assignFactors?`,
    );
  }
}

/** The first row of a batch without its padding. */
export function firstRow(batch: RankedBatch): Ranked {
  let found = 0;
  while (found < batch.shape[1] && batch.ids[found]! >= 0) found++;
  return { ids: batch.ids.slice(0, found), scores: batch.scores.slice(0, found) };
}

/** Rows `ids` of a row-major matrix, gathered into a new array. */
export function gatherRows(matrix: Float32Array, factors: number, ids: Int32Array): Float32Array {
  const out = new Float32Array(ids.length * factors);
  for (let k = 0; k < ids.length; k++) {
    const start = ids[k]! * factors;
    out.set(matrix.subarray(start, start + factors), k * factors);
  }
  return out;
}

/** Each row scaled to unit L2 norm; an all-zero row stays zero. */
export function normalizeRows(matrix: Float32Array, factors: number): Float32Array {
  const out = new Float32Array(matrix.length);
  for (let start = 0; start < matrix.length; start += factors) {
    let squares = 0;
    for (let j = 0; j < factors; j++) squares += matrix[start + j]! * matrix[start + j]!;
    const scale = squares > 0 ? 1 / Math.sqrt(squares) : 0;
    for (let j = 0; j < factors; j++) out[start + j] = matrix[start + j]! * scale;
  }
  return out;
}
