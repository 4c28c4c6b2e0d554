/**
 * Calibration: the effort an index needs for a requested recall, and
 * whether it then beats exact top-k — so a search through an index is never
 * the slow or the wrong choice.
 *
 * On a sample of real queries (a model's user factors, say) the exact top-n
 * is computed once; then the effort is doubled from 1 until the index's
 * results reach the recall asked for (the share of the exact ids found),
 * each pass timed. If the index at that effort is slower than exact top-k on
 * the same sample — unstructured factors, where graphs and cells find
 * nothing to exploit, or a tiny catalogue — the plan is "exact". Timings are
 * measured on this machine, so the plan is decided by it and may differ
 * between runs; the results are either the index's at the effort that met
 * the recall on the sample, or exact.
 *
 * @module
 */
import type { RankedBatch } from "../models/query.ts";

/** What calibration decided. */
export interface SearchPlan {
  /** The recall asked for. */
  recall: number;
  /** The smallest power-of-two effort whose recall on the sample reached it (or the maximum effort). */
  effort: number;
  /** The recall measured at `effort` on the sample. */
  measuredRecall: number;
  /** True when exact top-k is faster than the index at `effort` (then searches run exact). */
  exact: boolean;
  /** Queries per second of the index at `effort` on the sample. */
  indexQps: number;
  /** Queries per second of exact top-k on the sample. */
  exactQps: number;
}

/** The searches calibration runs: the index alone at an effort, and exact top-k. */
export interface Searcher {
  maxEffort: number;
  atEffort(effort: number): RankedBatch;
  exact(): RankedBatch;
}

/** Share of the exact ids (padding aside) that `found` holds, row by row. */
export function recallOf(found: RankedBatch, truth: RankedBatch): number {
  const [rows, n] = truth.shape;
  let hits = 0;
  let wanted = 0;
  for (let q = 0; q < rows; q++) {
    const want = new Set<number>();
    for (let r = 0; r < n; r++) {
      const id = truth.ids[q * n + r]!;
      if (id >= 0) want.add(id);
    }
    wanted += want.size;
    for (let r = 0; r < n; r++) if (want.has(found.ids[q * n + r]!)) hits++;
  }
  return wanted === 0 ? 1 : hits / wanted;
}

/** Seconds of the fastest of `repeats` runs of `run` (the first run also warms caches). */
function timed<T>(run: () => T, repeats = 2): { seconds: number; result: T } {
  let best = Infinity;
  let result!: T;
  for (let r = 0; r < repeats; r++) {
    const started = performance.now();
    result = run();
    best = Math.min(best, (performance.now() - started) / 1000);
  }
  return { seconds: Math.max(best, 1e-9), result };
}

/**
 * Finds the plan for `recall` with `searcher` over `queries` sample queries.
 *
 * @param searcher The index's searches over the sample.
 * @param queries The sample's size (for the rates).
 * @param recall The recall asked for, in (0, 1].
 */
export function calibrate(searcher: Searcher, queries: number, recall: number): SearchPlan {
  const exact = timed(() => searcher.exact());
  let effort = 1;
  for (;;) {
    const run = timed(() => searcher.atEffort(effort));
    const measured = recallOf(run.result, exact.result);
    if (measured >= recall || effort >= searcher.maxEffort) {
      return {
        recall,
        effort,
        measuredRecall: measured,
        exact: run.seconds >= exact.seconds,
        indexQps: queries / run.seconds,
        exactQps: queries / exact.seconds,
      };
    }
    // Past exact's time, more effort only gets slower: exact wins.
    if (run.seconds >= exact.seconds) {
      return {
        recall,
        effort,
        measuredRecall: measured,
        exact: true,
        indexQps: queries / run.seconds,
        exactQps: queries / exact.seconds,
      };
    }
    effort = Math.min(effort * 2, searcher.maxEffort);
  }
}
