/**
 * What every iterative `fit` shares, written once: the options common to the
 * factor models, the per-fit thread override, the progress bar, abort checks,
 * the starting factors (warm or fresh) and the finite check that guards the
 * model before new factors are committed.
 *
 * @module
 */
import { callNative } from "../native/library.ts";
import { ProgressBar, resolveProgress } from "../progress.ts";
import { nonNegativeInteger, oneOf } from "../validate.ts";

/** The kernels take float32 parameters. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** Options every factor model takes besides its own. */
export interface CommonModelOptions {
  /** Seed of the initialisation (and sampling); omitted means a random seed. */
  randomState?: number;
  /** Threads for fit; 0 (default) uses the pool as set by setNumThreads / TACIT_NUM_THREADS. */
  numThreads?: number;
  /** Only "float32" is supported. */
  dtype?: "float32";
}

/** Validates the common options. */
export function commonOptions(
  options: CommonModelOptions,
): { randomState: number | undefined; numThreads: number } {
  oneOf("dtype", options.dtype ?? "float32", ["float32"] as const);
  return {
    randomState: options.randomState === undefined
      ? undefined
      : nonNegativeInteger("randomState", options.randomState),
    numThreads: nonNegativeInteger("numThreads", options.numThreads ?? 0),
  };
}

/** One fit's loop, as a model describes it to {@link runIterations}. */
export interface IterationLoop {
  /** Progress bar label, e.g. "ALS". */
  label: string;
  iterations: number;
  /** Pool size for this fit; 0 keeps the pool as it is. */
  numThreads: number;
  progress: boolean | undefined;
  signal: AbortSignal | undefined;
  /** Runs iteration `index` (checking `signal` between its native calls where it has several). */
  step(index: number): Promise<void>;
  /** After iteration `index`, which took `seconds`: calls the user's callback and returns the bar's postfix. */
  report(index: number, seconds: number): Record<string, string | number>;
}

/**
 * Runs the loop with a progress bar on stderr and an abort check before each
 * iteration. The loop's native calls pass `numThreads` themselves, as a
 * per-call limit: the pool is never resized for a fit.
 */
export async function runIterations(loop: IterationLoop): Promise<void> {
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
      bar.update(index + 1, loop.report(index, (performance.now() - started) / 1000));
    }
  } finally {
    bar.close();
  }
}

/** Whether a model's current factors can warm-start a fit of this shape, as `implicit` does. */
export function canWarmStart(
  model: { factorCount: number; nUsers: number; nItems: number },
  columns: number,
  shape: readonly [number, number],
): boolean {
  return model.factorCount === columns && model.nUsers === shape[0] && model.nItems === shape[1];
}

/**
 * Refuses factors with a NaN or infinite value, so a diverged fit never
 * replaces a model's factors.
 * @param model The model's name for the message, e.g. "ALS".
 * @param advice What the user can change.
 */
export function assertFiniteFactors(
  model: string,
  side: "user" | "item",
  factors: Float32Array,
  advice: string,
): void {
  const count = new Int32Array(1);
  callNative("tacit_count_nonfinite", { values: factors, len: factors.length, out_count: count });
  if (count[0]! > 0) {
    throw new RangeError(
      `${model} produced ${
        count[0]
      } non-finite ${side} factor values; the model was left unchanged. ${advice}`,
    );
  }
}
