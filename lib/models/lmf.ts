/**
 * Logistic matrix factorization: Johnson, "Logistic Matrix Factorization for
 * Implicit Feedback Data" (NIPS 2014 workshop), trained by alternating Adagrad
 * steps over users and items on the native thread pool (`zig/lmf.zig`), with
 * the options and defaults of Python `implicit`'s LogisticMatrixFactorization.
 *
 * What scores mean: the model says user u interacts with item i with
 * probability σ(x_u·y_i + β_u + β_i). A score `recommend` returns is that
 * logit, x_u·y_i + β_u + β_i; pass `{ probabilities: true }` to get
 * σ(score) ∈ (0, 1) instead (the order is the same). A stored value r_ui is
 * the confidence c_ui of its positive observation (the paper's α·r_ui: scale
 * the data to choose α); values must be >= 0.
 *
 * Negative sampling: each step of a row draws negatives in proportion to
 * their popularity (the column of a uniformly drawn stored entry), standing in
 * for the paper's sum over every unobserved pair. How many is
 * `negativeSampling`:
 *
 * - `"implicit"` (the default): min(factors + 2, negProp × the row's stored
 *   entries), the count Python `implicit` 0.7 draws (its cap reads the column
 *   count where the item count was meant). A step then weighs about as many
 *   negatives as positives, and an epoch costs about nnz + (factors + 2) × rows
 *   dot products per side.
 * - `"perPositive"`: negProp × the row's stored entries, uncapped, the paper's
 *   rule. With the default negProp the negatives outnumber the positives thirty
 *   to one; on generated logs its held-out precision@10 measured 3 to 20
 *   times below the default's and its fits took 13 times as long
 *   (tests/lmf_quality.test.ts, bench/lmf_quality.sh). An epoch costs about
 *   (1 + negProp) × nnz dot products per side.
 *
 * Factor layout, as `implicit`: both matrices have `factors + 2` columns,
 * a user row [x_u, 1, β_u] and an item row [y_i, β_i, 1], so the plain dot
 * product is the logit (`factorCount` is `factors + 2`).
 *
 * @module
 */
import { callNativeAsync } from "../native/library.ts";
import { Random } from "../random.ts";
import type { CsrMatrix } from "../sparse.ts";
import { optionalBoolean } from "../validate.ts";
import {
  type CommonModelOptions,
  commonOptions,
  MatrixFactorizationBase,
  type RecommendOptions,
  resolveDevice,
} from "./matrix_factorization.ts";
import { fitInput, loadAs, requireEntries } from "./model.ts";
import {
  choice,
  FACTORS_MAX,
  FLOAT32_MAX,
  integer,
  ITERATIONS_BOUND,
  ITERATIONS_MAX,
  real,
  type SchemaFor,
} from "./options.ts";
import type { Ids, Ranked, RankedBatch } from "./query.ts";
import { fitOptions, runIterations } from "./training.ts";

/**
 * How many negatives one step of a row of |row| stored entries draws:
 * `"implicit"`, min(factors + 2, negProp × |row|); `"perPositive"`,
 * negProp × |row|.
 */
export type LmfNegativeSampling = "implicit" | "perPositive";

/** Options of {@link LogisticMatrixFactorization}, with `implicit`'s defaults. */
export interface LogisticMatrixFactorizationOptions extends CommonModelOptions {
  /** Latent factors per user and item, the two bias columns not included (30; at most 1022). */
  factors?: number;
  /** η, Adagrad's base step size (1.0); must be > 0. */
  learningRate?: number;
  /** λ, the L2 penalty (0.6). */
  regularization?: number;
  /** Epochs (a user pass then an item pass) per fit (30; at most 100000). */
  iterations?: number;
  /**
   * Negatives sampled per stored entry of a row at each step (30; at most
   * 1000), capped as `negativeSampling` says.
   */
  negProp?: number;
  /**
   * How many negatives a row's step draws: `"implicit"` (default),
   * min(factors + 2, negProp × |row|) as Python `implicit`; `"perPositive"`,
   * negProp × |row| uncapped, the paper's rule (slower, and far less precise
   * with the default negProp).
   */
  negativeSampling?: LmfNegativeSampling;
  /** Seed of the initialisation and the samplers; omitted means a random seed. */
  randomState?: number;
  /**
   * Threads for fit, 0..256; 0 (default) uses the pool as set by setNumThreads / TACIT_NUM_THREADS.
   * Chunks of rows draw from their own seeded generators, so a seeded fit
   * gives the same factors on any number of threads.
   */
  numThreads?: number;
  /** Only "float32" is supported. */
  dtype?: "float32";
}

/** Options of {@link LogisticMatrixFactorization.fit}. */
export interface LmfFitOptions {
  /** Progress bar on stderr (default: on when stderr is a terminal and TACIT_PROGRESS is not 0). */
  progress?: boolean;
  /** Called after each epoch with its index and seconds. */
  callback?: (epoch: number, seconds: number) => void;
  /**
   * Aborts the fit, inside a pass's native call too (within about a
   * millisecond of work; on Bun at the end of the running call); the model
   * keeps the factors it had before fit.
   */
  signal?: AbortSignal;
}

/** Options of {@link LogisticMatrixFactorization.recommend}. */
export interface LmfRecommendOptions extends RecommendOptions {
  /** Return σ(logit), the modelled probability, instead of the logit (false). Padding scores become 0. */
  probabilities?: boolean;
}

const INT32_MAX = 2_147_483_647;
/** The largest negProp; see its doc. */
const NEG_PROP_MAX = 1000;

/** The schema of {@link LogisticMatrixFactorizationOptions}. */
const schema: SchemaFor<LogisticMatrixFactorizationOptions, "randomState"> = {
  factors: integer({
    default: 30,
    min: 1,
    max: FACTORS_MAX - 2,
    doc: `Latent factors per user and item, the two bias columns not included: at most ${
      FACTORS_MAX - 2
    } (the kernels take ${FACTORS_MAX} columns).`,
  }),
  learningRate: real({
    default: 1.0,
    min: 0,
    minExclusive: true,
    max: FLOAT32_MAX,
    doc: "η, Adagrad's base step size.",
  }),
  regularization: real({ default: 0.6, min: 0, max: FLOAT32_MAX, doc: "λ, the L2 penalty." }),
  iterations: integer({
    default: 30,
    min: 0,
    max: ITERATIONS_MAX,
    doc: `Epochs (a user pass then an item pass) per fit, ${ITERATIONS_BOUND}.`,
  }),
  negProp: integer({
    default: 30,
    min: 0,
    max: NEG_PROP_MAX,
    doc: "Negatives per stored entry of a row at each step, capped as negativeSampling says; " +
      `at most ${NEG_PROP_MAX}: under "perPositive" an epoch costs (1 + negProp) × nnz dot ` +
      "products per side, and 1000 is 33 times implicit's default of 30.",
  }),
  negativeSampling: choice({
    default: "implicit",
    allowed: ["implicit", "perPositive"],
    doc: 'Negatives per row step: "implicit", min(factors + 2, negProp × |row|); ' +
      '"perPositive", negProp × |row| (the paper\'s rule).',
  }),
  ...commonOptions,
};

/**
 * Logistic matrix factorization with `implicit`'s options and defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LogisticMatrixFactorization } from "./lmf.ts";
 * import { CsrMatrix } from "../sparse.ts";
 * const plays = CsrMatrix.fromDense([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]]);
 * const model = new LogisticMatrixFactorization({
 *   factors: 2,
 *   iterations: 20,
 *   negProp: 2,
 *   randomState: 1,
 * });
 * await model.fit(plays, { progress: false });
 * const { ids, scores } = model.recommend(0, plays, { n: 2, probabilities: true });
 * assert.deepEqual([...ids].sort(), [2, 3]);
 * assert.ok(scores.every((p) => p > 0 && p < 1));
 * ```
 */
export class LogisticMatrixFactorization
  extends MatrixFactorizationBase<SchemaFor<LogisticMatrixFactorizationOptions, "randomState">> {
  /** The kind of the files `save` writes. */
  static readonly kind: string = "lmf";

  /** The factor columns fit gives: factors + 2. */
  protected fittedColumns(): { columns: number; rule: string } {
    return { columns: this.factors + 2, rule: "factors + 2" };
  }
  /** Latent factors per user and item, the two bias columns not included. */
  readonly factors: number = this.options.factors;
  /** η, Adagrad's base step size. */
  readonly learningRate: number = this.options.learningRate;
  /** λ, the L2 penalty. */
  readonly regularization: number = this.options.regularization;
  /** Epochs per fit. */
  readonly iterations: number = this.options.iterations;
  /** Negatives sampled per stored entry of a row at each step. */
  readonly negProp: number = this.options.negProp;
  /** How many negatives a row's step draws (see {@link LmfNegativeSampling}). */
  readonly negativeSampling: LmfNegativeSampling = this.options.negativeSampling;

  /**
   * Builds an unfitted model.
   * @param options The model's options; unknown keys are refused.
   */
  constructor(options: LogisticMatrixFactorizationOptions = {}) {
    super(schema, options);
  }

  /**
   * Fits user and item factors to a user × item matrix of confidences (values
   * >= 0). Warm-starts from the current factors when their shapes match, as
   * `implicit` (the Adagrad sums start afresh). The model is only updated when
   * fit completes: an abort or an error leaves it as it was.
   */
  async fit(userItems: CsrMatrix, options: LmfFitOptions = {}): Promise<this> {
    using _fit = this.startFit();
    // No GPU kernels (yet): "auto" trains on the CPU, "gpu" is refused.
    resolveDevice(this.device, "LMF fit()", false);
    options = fitOptions("fit()", options);
    userItems = fitInput("userItems", userItems);
    requireEntries("userItems", userItems);
    const negative = userItems.data.findIndex((v) => v < 0);
    if (negative >= 0) {
      throw new RangeError(
        `Expected userItems.data to be >= 0 (LMF reads values as confidences) but found data[${negative}] = ${
          userItems.data[negative]
        }`,
      );
    }
    const [nUsers, nItems] = userItems.shape;
    const f = this.factors;
    const columns = f + 2;
    const itemUsers = userItems.transpose();
    const random = new Random(this.randomState);
    const { users, items } = this.startingFactors(
      userItems.shape,
      columns,
      (users, items) => initialise(userItems, itemUsers, users, items, f, random),
    );
    const userSums = new Float32Array(users.length);
    const itemSums = new Float32Array(items.length);
    await runIterations({
      label: "LMF",
      iterations: this.iterations,
      progress: options.progress,
      signal: options.signal,
      step: async () => {
        await this.pass(userItems, users, items, nItems, userSums, f, random, options.signal);
        options.signal?.throwIfAborted();
        await this.pass(itemUsers, items, users, nUsers, itemSums, f + 1, random, options.signal);
      },
      report: (epoch, seconds) => {
        options.callback?.(epoch, seconds);
        return {};
      },
    });
    this.commitFactors("LMF", users, items, columns, "Try a smaller learningRate.");
    return this;
  }

  /** One Adagrad pass of fit over every row of `rows` against the fixed side. */
  private pass(
    rows: CsrMatrix,
    solved: Float32Array,
    fixed: Float32Array,
    nFixed: number,
    sums: Float32Array,
    fixedColumn: number,
    random: Random,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    return callNativeAsync("tacit_lmf_update", {
      n_rows: rows.nRows,
      indptr: rows.indptr,
      indices: rows.indices,
      data: rows.data,
      x: solved,
      y: fixed,
      n_other: nFixed,
      f: this.factors + 2,
      adagrad: sums,
      fixed_column: fixedColumn,
      learning_rate: this.learningRate,
      regularization: this.regularization,
      neg_prop: this.negProp,
      // The cap; 2^31 − 1 means none (zig/c_api_sgd.zig).
      negatives_max: this.negativeSampling === "implicit" ? this.factors + 2 : INT32_MAX,
      seed: random.nextUint32() | 0,
    }, { threads: this.numThreads, signal });
  }

  /**
   * As the shared `recommend`; with `probabilities: true` the scores are
   * σ(logit), the modelled probability that the user interacts with the item.
   */
  override recommend(userid: number, userItems: CsrMatrix, options?: LmfRecommendOptions): Ranked;
  /** As the single-user `recommend`, for each user of a batch: flat `[users, n]` arrays. */
  override recommend(
    userid: ArrayLike<number>,
    userItems: CsrMatrix,
    options?: LmfRecommendOptions,
  ): RankedBatch;
  override recommend(
    userid: Ids,
    userItems: CsrMatrix,
    options: LmfRecommendOptions = {},
  ): Ranked | RankedBatch {
    const { probabilities: given, ...shared } = options;
    const probabilities = optionalBoolean("probabilities", given) ?? false;
    const result = typeof userid === "number"
      ? super.recommend(userid, userItems, shared)
      : super.recommend(userid, userItems, shared);
    if (probabilities) {
      const scores = result.scores;
      for (let k = 0; k < scores.length; k++) scores[k] = sigmoid(scores[k]!);
    }
    return result;
  }

  /** Reads a model written by `save`; refuses a file of another kind. */
  static load(path: string): Promise<LogisticMatrixFactorization> {
    return loadAs(LogisticMatrixFactorization, path);
  }
}

/** σ(s) = 1 / (1 + e^−s), computed without overflow on either side; σ(−∞) = 0. */
function sigmoid(s: number): number {
  if (s >= 0) return 1 / (1 + Math.exp(-s));
  const e = Math.exp(s);
  return e / (1 + e);
}

/**
 * `implicit`'s initialisation: every value standard normal, rows without a
 * stored entry zero, then the constant columns (user column `factors`, item
 * column `factors + 1`) set to 1 on every row (implicit resets them to 1 after
 * each pass, so every row has them from the first epoch on).
 */
function initialise(
  userItems: CsrMatrix,
  itemUsers: CsrMatrix,
  users: Float32Array,
  items: Float32Array,
  f: number,
  random: Random,
): void {
  const columns = f + 2;
  random.fillNormal(users);
  random.fillNormal(items);
  const zeroEmpty = (matrix: CsrMatrix, factors: Float32Array, one: number) => {
    for (let row = 0; row < matrix.nRows; row++) {
      if (matrix.indptr[row] === matrix.indptr[row + 1]) {
        factors.fill(0, row * columns, (row + 1) * columns);
      }
      factors[row * columns + one] = 1;
    }
  };
  zeroEmpty(userItems, users, f);
  zeroEmpty(itemUsers, items, f + 1);
}
