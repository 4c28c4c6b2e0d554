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
import { nativeLibrary, THREAD_COUNT_MAX, threadCount } from "../native/library.ts";
import { ProgressBar, resolveProgress } from "../progress.ts";
import { describe, knownOptions, optionalBoolean } from "../validate.ts";
import type { OptionSpec } from "./options.ts";

/** The `numThreads` option of every model: the most threads one fit's native calls use. */
export const numThreadsOption: OptionSpec<number> = {
  default: 0,
  doc: `Threads for fit, 0..${THREAD_COUNT_MAX}; 0 (default) uses the pool as set by ` +
    "setNumThreads / TACIT_NUM_THREADS.",
  check: threadCount,
};

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

/** The options every model's `fit` takes. */
export const FIT_OPTIONS: readonly string[] = ["progress", "callback", "signal"];

/**
 * Checks a `fit` options object before any work starts: only `names` as
 * keys, `progress` a boolean, `callback` a function, `signal` an AbortSignal
 * (each may be left out).
 *
 * @param owner The method, for messages, e.g. `"fit()"`.
 * @param options What the caller passed.
 * @param names The options the method takes (default {@link FIT_OPTIONS}).
 * @returns `options`, typed as the caller's options interface.
 * @throws TypeError for a non-object, an unknown key or a value of the wrong type.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fitOptions } from "./training.ts";
 * assert.deepEqual(fitOptions("fit()", { progress: false }), { progress: false });
 * assert.throws(() => fitOptions("fit()", { callback: 5 }), /callback to be a function but found 5/);
 * assert.throws(() => fitOptions("fit()", null as never), /options of fit\(\) to be an object but found null/);
 * ```
 */
export function fitOptions<O extends object>(
  owner: string,
  options: O | undefined,
  names: readonly string[] = FIT_OPTIONS,
): O {
  const given = knownOptions(owner, options, names);
  optionalBoolean("progress", given.progress);
  if (given.callback !== undefined && typeof given.callback !== "function") {
    throw new TypeError(`Expected callback to be a function but found ${describe(given.callback)}`);
  }
  if (given.signal !== undefined && !(given.signal instanceof AbortSignal)) {
    const hint = given.signal instanceof AbortController ? " (pass controller.signal)" : "";
    throw new TypeError(
      `Expected signal to be an AbortSignal but found ${describe(given.signal)}${hint}`,
    );
  }
  return given as O;
}
