/**
 * Bayesian personalised ranking: Rendle, Freudenthaler, Gantner &
 * Schmidt-Thieme, "BPR: Bayesian Personalized Ranking from Implicit Feedback"
 * (UAI 2009), trained by Hogwild stochastic gradient ascent on the native
 * thread pool (`zig/bpr.zig`, over the shared SGD engine in `zig/sgd/`), with
 * the options and defaults of Python `implicit`'s BayesianPersonalizedRanking.
 *
 * What the model learns: user u prefers a liked item i to an item j it has not
 * interacted with with probability σ(x_u·y_i − x_u·y_j). Every stored entry of
 * the user × item matrix counts as liked, whatever its value. A score
 * `recommend` returns is x_u·y_i: only its order within a user means anything.
 *
 * Factor layout, as `implicit`: both factor matrices have `factors + 1`
 * columns. The last item column is the item's bias and the last user column is
 * held at 1, so the dot product `recommend` ranks by includes the bias
 * (`factorCount` is `factors + 1`).
 *
 * @module
 */
import { callNativeAsync } from "../native/library.ts";
import { GpuCsr, GpuFactors } from "../native/gpu.ts";
import { Random } from "../random.ts";
import type { CsrMatrix } from "../sparse.ts";
import {
  type CommonModelOptions,
  commonOptions,
  MatrixFactorizationBase,
  resolveDevice,
} from "./matrix_factorization.ts";
import { fitInput, loadAs, requireEntries } from "./model.ts";
import {
  FACTORS_MAX,
  flag,
  FLOAT32_MAX,
  integer,
  ITERATIONS_BOUND,
  ITERATIONS_MAX,
  real,
  type SchemaFor,
} from "./options.ts";
import { fitOptions, runIterations } from "./training.ts";

/** Options of {@link BayesianPersonalizedRanking}, with `implicit`'s defaults. */
export interface BayesianPersonalizedRankingOptions extends CommonModelOptions {
  /** Latent factors per user and item, the bias column not included (100; at most 1023). */
  factors?: number;
  /** η, the SGD step size (0.01); must be > 0. */
  learningRate?: number;
  /** λ, the L2 penalty applied at every step (0.01). */
  regularization?: number;
  /**
   * Epochs per fit; an epoch draws as many samples as the matrix has nonzeros
   * (100; at most 100000).
   */
  iterations?: number;
  /**
   * Reject a sampled negative the user has in fact liked (true). Costs a binary
   * search of the user's row per sample; rejected samples are counted as skipped.
   */
  verifyNegativeSamples?: boolean;
  /**
   * Run each epoch's chunks of samples in order on one thread (false). With a
   * `randomState`, a fit then gives the same factors bit for bit whatever
   * `numThreads` or the pool size, at the cost of parallelism: an epoch takes
   * about as long as with `numThreads: 1`, whatever `numThreads` says.
   */
  deterministic?: boolean;
  /** Seed of the initialisation and of the samplers; omitted means a random seed. */
  randomState?: number;
  /**
   * Threads for fit, 0..256; 0 (default) uses the pool as set by setNumThreads / TACIT_NUM_THREADS.
   * With one thread (or `deterministic`) a seeded fit is reproducible bit for bit;
   * with several, the threads update shared factors without locks (Hogwild) and
   * runs differ slightly.
   */
  numThreads?: number;
  /** Only "float32" is supported. */
  dtype?: "float32";
}

/** Options of {@link BayesianPersonalizedRanking.fit}. */
export interface BprFitOptions {
  /**
   * Progress bar on stderr showing the last epoch's training AUC (share of its
   * stepped samples ordered correctly) and skipped samples (default: on when
   * stderr is a terminal and TACIT_PROGRESS is not 0).
   */
  progress?: boolean;
  /**
   * Called after each epoch with the epoch's index, its seconds, the samples
   * it ordered correctly before their step (x_u·y_i > x_u·y_j) and the samples
   * it skipped. `correct / (samples − skipped)` is the running training AUC.
   */
  callback?: (epoch: number, seconds: number, correct: number, skipped: number) => void;
  /**
   * Aborts the fit, inside an epoch's native call too (within about a
   * millisecond of work; on Bun at the end of the running call); the model
   * keeps the factors it had before fit.
   */
  signal?: AbortSignal;
}

/** The schema of {@link BayesianPersonalizedRankingOptions}. */
const schema: SchemaFor<BayesianPersonalizedRankingOptions, "randomState"> = {
  factors: integer({
    default: 100,
    min: 1,
    max: FACTORS_MAX - 1,
    doc: `Latent factors per user and item, the bias column not included: at most ${
      FACTORS_MAX - 1
    } (the kernels take ${FACTORS_MAX} columns).`,
  }),
  learningRate: real({
    default: 0.01,
    min: 0,
    minExclusive: true,
    max: FLOAT32_MAX,
    doc: "η, the SGD step size.",
  }),
  regularization: real({
    default: 0.01,
    min: 0,
    max: FLOAT32_MAX,
    doc: "λ, the L2 penalty applied at every step.",
  }),
  iterations: integer({
    default: 100,
    min: 0,
    max: ITERATIONS_MAX,
    doc: "Epochs per fit; an epoch draws as many samples as the matrix has nonzeros; " +
      `${ITERATIONS_BOUND}.`,
  }),
  verifyNegativeSamples: flag({
    default: true,
    doc: "Reject a sampled negative the user has in fact liked.",
  }),
  deterministic: flag({
    default: false,
    doc: "Run each epoch's chunks in order on one thread: the same factors on any thread count.",
  }),
  ...commonOptions,
};

/**
 * Bayesian personalised ranking with `implicit`'s options and defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BayesianPersonalizedRanking } from "./bpr.ts";
 * import { CsrMatrix } from "../sparse.ts";
 * const plays = CsrMatrix.fromDense([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]]);
 * const model = new BayesianPersonalizedRanking({
 *   factors: 4,
 *   iterations: 200,
 *   learningRate: 0.05,
 *   randomState: 1,
 *   numThreads: 1,
 * });
 * await model.fit(plays, { progress: false });
 * assert.equal(model.factorCount, 5);
 * // User 0 has items 0 and 1: the other block, 2 and 3, comes first.
 * assert.deepEqual([...model.recommend(0, plays, { n: 2 }).ids].sort(), [2, 3]);
 * ```
 */
export class BayesianPersonalizedRanking
  extends MatrixFactorizationBase<SchemaFor<BayesianPersonalizedRankingOptions, "randomState">> {
  /** The kind of the files `save` writes. */
  static readonly kind: string = "bpr";

  /** The factor columns fit gives: factors + 1. */
  protected fittedColumns(): { columns: number; rule: string } {
    return { columns: this.factors + 1, rule: "factors + 1" };
  }
  /** Latent factors per user and item, the bias column not included. */
  readonly factors: number = this.options.factors;
  /** η, the SGD step size. */
  readonly learningRate: number = this.options.learningRate;
  /** λ, the L2 penalty applied at every step. */
  readonly regularization: number = this.options.regularization;
  /** Epochs per fit. */
  readonly iterations: number = this.options.iterations;
  /** Whether a sampled negative the user has liked is rejected. */
  readonly verifyNegativeSamples: boolean = this.options.verifyNegativeSamples;
  /** Whether epochs run their chunks in order on one thread (reproducible on any thread count). */
  readonly deterministic: boolean = this.options.deterministic;

  /**
   * Builds an unfitted model.
   * @param options The model's options; unknown keys are refused.
   */
  constructor(options: BayesianPersonalizedRankingOptions = {}) {
    super(schema, options);
  }

  /**
   * Fits user and item factors to a user × item matrix whose stored entries
   * are the liked items (values are ignored). Warm-starts from the current
   * factors when their shapes match, as `implicit`. The model is only updated
   * when fit completes: an abort or an error leaves it as it was.
   */
  async fit(userItems: CsrMatrix, options: BprFitOptions = {}): Promise<this> {
    using _fit = this.startFit();
    options = fitOptions("fit()", options);
    userItems = fitInput("userItems", userItems);
    requireEntries("userItems", userItems);
    const [nUsers, nItems] = userItems.shape;
    const columns = this.factors + 1;
    const random = new Random(this.randomState);
    const { users, items } = this.startingFactors(
      userItems.shape,
      columns,
      (users, items) => initialise(userItems, users, items, this.factors, random),
    );
    const counts = new Int32Array(2);
    const report = (epoch: number, seconds: number) => {
      const [correct, skipped] = [counts[0]!, counts[1]!];
      const stepped = userItems.nnz - skipped;
      options.callback?.(epoch, seconds, correct, skipped);
      return {
        train_auc: stepped > 0 ? `${(100 * correct / stepped).toFixed(2)}%` : "n/a",
        skipped: `${skipped} (${(100 * skipped / userItems.nnz).toFixed(2)}%)`,
      };
    };
    if (resolveDevice(this.device, "BPR fit()", true) === "gpu") {
      // cuda/bpr.cu: the same sampling and step, Hogwild over warps; the
      // factors come back once at the end and stay on the GPU for queries.
      using likes = GpuCsr.upload(userItems, { values: false, sorted: true, rowOf: true });
      const gpuUsers = GpuFactors.upload(users, nUsers, columns);
      let gpuItems: GpuFactors | undefined;
      try {
        const deviceItems = gpuItems = GpuFactors.upload(items, nItems, columns);
        await runIterations({
          label: "BPR (GPU)",
          iterations: this.iterations,
          progress: options.progress,
          signal: options.signal,
          step: () =>
            callNativeAsync("tacit_gpu_bpr_epoch", {
              likes: likes.handle,
              user_factors: gpuUsers.handle,
              item_factors: deviceItems.handle,
              learning_rate: this.learningRate,
              regularization: this.regularization,
              verify_negatives: this.verifyNegativeSamples ? 1 : 0,
              seed: random.nextUint32() | 0,
              n_samples: userItems.nnz,
              out_counts: counts,
            }, { signal: options.signal }),
          report,
        });
        this.commitFactors(
          "BPR",
          gpuUsers.download(),
          deviceItems.download(),
          columns,
          "Try a smaller learningRate.",
          {
            users: gpuUsers,
            items: deviceItems,
          },
        );
      } catch (error) {
        gpuUsers.dispose();
        gpuItems?.dispose();
        throw error;
      }
      return this;
    }
    const rowOf = rowOfNonzeros(userItems);
    await runIterations({
      label: "BPR",
      iterations: this.iterations,
      progress: options.progress,
      signal: options.signal,
      step: () =>
        callNativeAsync("tacit_bpr_epoch", {
          n_rows: nUsers,
          n_cols: nItems,
          indptr: userItems.indptr,
          indices: userItems.indices,
          row_of: rowOf,
          user_factors: users,
          item_factors: items,
          f: columns,
          learning_rate: this.learningRate,
          regularization: this.regularization,
          verify_negatives: this.verifyNegativeSamples ? 1 : 0,
          seed: random.nextUint32() | 0,
          deterministic: this.deterministic ? 1 : 0,
          n_samples: userItems.nnz,
          out_counts: counts,
        }, { threads: this.numThreads, signal: options.signal }),
      report,
    });
    this.commitFactors("BPR", users, items, columns, "Try a smaller learningRate.");
    return this;
  }

  /** Reads a model written by `save`; refuses a file of another kind. */
  static load(path: string): Promise<BayesianPersonalizedRanking> {
    return loadAs(BayesianPersonalizedRanking, path);
  }
}

/**
 * `implicit`'s initialisation: every value uniform in [−0.5, 0.5) / factors,
 * rows without a stored entry zero, then the user bias column set to 1.
 */
function initialise(
  userItems: CsrMatrix,
  users: Float32Array,
  items: Float32Array,
  factors: number,
  random: Random,
): void {
  const columns = factors + 1;
  random.fillUniform(items, -0.5, 0.5);
  random.fillUniform(users, -0.5, 0.5);
  for (let k = 0; k < items.length; k++) items[k] = items[k]! / factors;
  for (let k = 0; k < users.length; k++) users[k] = users[k]! / factors;
  const itemSeen = new Uint8Array(userItems.nCols);
  for (const item of userItems.indices) itemSeen[item] = 1;
  itemSeen.forEach((seen, item) =>
    seen === 0 && items.fill(0, item * columns, (item + 1) * columns)
  );
  for (let user = 0; user < userItems.nRows; user++) {
    if (userItems.indptr[user] === userItems.indptr[user + 1]) {
      users.fill(0, user * columns, (user + 1) * columns);
    }
    users[user * columns + factors] = 1;
  }
}

/** The row of every stored entry: the samplers draw (user, item) pairs as entries. */
export function rowOfNonzeros(matrix: CsrMatrix): Int32Array {
  const rowOf = new Int32Array(matrix.nnz);
  for (let row = 0; row < matrix.nRows; row++) {
    rowOf.fill(row, matrix.indptr[row]!, matrix.indptr[row + 1]!);
  }
  return rowOf;
}
