/**
 * The one fit loop every model runs (ALS, BPR and LMF iterations, the
 * neighbour models' blocks of items): the progress bar and the abort checks,
 * and the `numThreads` option. A fit's native calls pass `numThreads` as a
 * per-call limit (`{ threads }`): the pool is never resized for a fit.
 *
 * A fit computes into its own buffers and commits them to the model only
 * after {@link runIterations} returns, so an abort or an error leaves the
 * model as it was.
 *
 * @module
 */
import { nativeLibrary } from "../native/library.ts";
import { ProgressBar, resolveProgress } from "../progress.ts";
import { integer, type OptionSpec } from "./options.ts";

/** The `numThreads` option of every model: the most threads one fit's native calls use. */
export const numThreadsOption: OptionSpec<number> = integer({
  default: 0,
  min: 0,
  doc: "Threads for fit; 0 (default) uses the pool as set by setNumThreads / TACIT_NUM_THREADS.",
});

/** One fit's loop, as a model describes it to {@link runIterations}. */
export interface IterationLoop {
  /** Progress bar label, e.g. "ALS". */
  label: string;
  /** Steps of the loop: iterations, epochs or blocks. */
  iterations: number;
  /** The user's `progress` option. */
  progress: boolean | undefined;
  /** The user's `signal` option. */
  signal: AbortSignal | undefined;
  /** Runs step `index` (checking `signal` between its native calls where it has several). */
  step(index: number): Promise<void>;
  /**
   * After step `index`, which took `seconds`: calls the user's callback and
   * returns the bar's postfix. Left out, the bar shows no postfix.
   */
  report?(index: number, seconds: number): Record<string, string | number>;
}

/**
 * Runs the loop with a progress bar on stderr and an abort check before each
 * step and after the last, so a fit that returns was not aborted. The native
 * library is opened (and, in a source checkout, built) before the bar starts.
 *
 * @param loop The steps and how to report them.
 * @returns A promise that settles when every step has run.
 * @throws The signal's reason when it aborts, or whatever a step throws.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runIterations } from "./training.ts";
 * const seen: number[] = [];
 * await runIterations({
 *   label: "demo",
 *   iterations: 3,
 *   progress: false,
 *   signal: undefined,
 *   step: async (index) => void seen.push(index),
 * });
 * assert.deepEqual(seen, [0, 1, 2]);
 * ```
 */
export async function runIterations(loop: IterationLoop): Promise<void> {
  // Every loop's steps are native calls: open the library (building it on first use in a
  // source checkout) before the bar starts, so the build is not billed to step 1.
  nativeLibrary();
  const bar = new ProgressBar({
    total: loop.iterations,
    label: loop.label,
    enabled: resolveProgress(loop.progress),
  });
  try {
    for (let index = 0; index < loop.iterations; index++) {
      loop.signal?.throwIfAborted();
      const started = performance.now();
      await loop.step(index);
      const seconds = (performance.now() - started) / 1000;
      bar.update(index + 1, loop.report?.(index, seconds));
    }
    loop.signal?.throwIfAborted();
  } finally {
    bar.close();
  }
}
