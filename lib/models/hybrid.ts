/**
 * Hybrid matrix factorisation with user and item features: LightFM's model
 * (Kula, "Metadata Embeddings for User and Item Cold-start Recommendations",
 * CBRecSys 2015, §3) with LightFM 1.17's options, defaults, losses (logistic,
 * BPR, WARP, k-OS WARP) and learning schedules (adagrad, adadelta), trained
 * one Hogwild epoch per native call (`zig/hybrid.zig`).
 *
 * The model: every user feature j has an embedding e_j and a bias β_j, every
 * item feature likewise. A user is a row f_u of the user feature matrix and is
 * represented by q_u = Σ_j f_uj e_j and b_u = Σ_j f_uj β_j; an item by p_i and
 * b_i from its row; the score is s_ui = q_u·p_i + b_u + b_i. Without feature
 * matrices each user and item is its own feature (identity matrices), which is
 * plain matrix factorisation. Items (or users) known only by their features,
 * with no interaction at all, still get a representation: the cold start.
 *
 * State: per feature a parameter row of `noComponents + 1` floats (embedding,
 * then bias) and the optimiser's rows of the same shape (adagrad: Σg²,
 * starting at 1 as LightFM's; adadelta: E[g²] and E[Δ²], starting at 0), for
 * both sides; the feature matrices the model was fitted with, so queries need
 * none; and the generator the epochs draw their seeds from, so `fitPartial`
 * after `load` continues exactly where the saved model stopped.
 *
 * Queries rank with rows that make the full score a dot product: a user row
 * [q_u, b_u, 1] and an item row [p_i, 1, b_i] (`factorCount` is
 * `noComponents + 2`; `userFactors` and `itemFactors` are these rows for the
 * fitted features), through the same native top-k and filters every factor
 * model uses.
 *
 * @module
 */
import { PREDICT_RANK_OPTIONS, type PredictRankOptions } from "../evaluation/ranks.ts";
import { expectArray, type TacitArray, type TacitFile, TacitFileError } from "../io/format.ts";
import { callNative, callNativeAsync, threadCount } from "../native/library.ts";
import { Random } from "../random.ts";
import { checkCsrMatrix, CsrMatrix } from "../sparse.ts";
import { idsInRange, knownOptions, nonNegativeInteger } from "../validate.ts";
import {
  type CommonModelOptions,
  commonOptions,
  type FactorMatrix,
  type IndexedQueryOptions,
  MatrixFactorizationBase,
  nonFiniteCount,
  normalizedFactors,
  type QueryFactors,
  resolveDevice,
  type SimilarOptions,
  type SimilarUsersOptions,
} from "./matrix_factorization.ts";
import { fitInput, loadAs, type ModelRecommendOptions } from "./model.ts";
import {
  choice,
  FACTORS_MAX,
  flag,
  FLOAT32_MAX,
  integer,
  ITERATIONS_MAX,
  real,
  type SchemaFor,
} from "./options.ts";
import type { Ids, Ranked, RankedBatch } from "./query.ts";
import { fitOptions, runIterations } from "./training.ts";

/** LightFM's losses: `"logistic"`, `"bpr"`, `"warp"` and `"warp-kos"` (k-OS WARP). */
export type HybridLoss = "logistic" | "bpr" | "warp" | "warp-kos";

/** LightFM's learning-rate schedules. */
export type LearningSchedule = "adagrad" | "adadelta";

/** Options of {@link HybridFactorization}, LightFM's parameters with its defaults. */
export interface HybridFactorizationOptions extends CommonModelOptions {
  /** Dimensionality of the feature embeddings (10; at most 1022). LightFM's `no_components`. */
  noComponents?: number;
  /** k-OS: the k-th positive of those drawn is the one stepped on (5; at most 1000). */
  k?: number;
  /** k-OS: the most positives drawn for each step (10; at most 1000). */
  n?: number;
  /** `"adagrad"` (default) or `"adadelta"`. */
  learningSchedule?: LearningSchedule;
  /**
   * The loss (`"logistic"`, default). logistic: a stored value y > 0 is a
   * positive, y <= 0 a negative; bpr, warp and warp-kos: stored entries with
   * y <= 0 are skipped as positives (warp-kos reads every stored entry as one).
   */
  loss?: HybridLoss;
  /** Adagrad's initial learning rate (0.05); must be > 0. */
  learningRate?: number;
  /** Adadelta's moving-average coefficient (0.95), in (0, 1). */
  rho?: number;
  /** Adadelta's conditioning term (1e-6), >= 0. */
  epsilon?: number;
  /** L2 penalty on item features (0), applied lazily as LightFM does. */
  itemAlpha?: number;
  /** L2 penalty on user features (0), applied lazily as LightFM does. */
  userAlpha?: number;
  /** WARP and k-OS: the most negatives sampled for one positive (10), 1..100000. */
  maxSampled?: number;
  /** Seed of the initialisation and of every epoch's shuffle and samplers; omitted means a random seed. */
  randomState?: number;
  /** Threads for fit and predict, 0..256; 0 (default) uses the pool as set by setNumThreads / TACIT_NUM_THREADS. */
  numThreads?: number;
  /**
   * Reproducible epochs (false). With it and a `randomState`, a fit gives the
   * same parameters bit for bit on any number of threads, at the cost of
   * running an epoch's chunks in order on one thread. Without it, threads
   * update shared parameters without locks (Hogwild), as LightFM's do, and
   * runs on several threads differ slightly.
   */
  deterministic?: boolean;
  /** Only "float32" is supported. */
  dtype?: "float32";
}

/** LightFM's name for {@link HybridFactorizationOptions}. */
export type LightFMOptions = HybridFactorizationOptions;

/** Feature matrices that replace the model's for one call. */
export interface FeatureOptions {
  /**
   * A `[users, nUserFeatures]` matrix: row u holds user u's feature weights.
   * Its rows may be new users (known only by their features).
   */
  userFeatures?: CsrMatrix | undefined;
  /**
   * A `[items, nItemFeatures]` matrix: row i holds item i's feature weights.
   * Its rows may be new items (known only by their features).
   */
  itemFeatures?: CsrMatrix | undefined;
}

/** Options of {@link HybridFactorization.fit} and {@link HybridFactorization.fitPartial}. */
export interface HybridFitOptions {
  /**
   * `[users, userFeatureCount]` feature weights, one row per row of
   * `interactions` (identity when left out on a fresh fit; on `fitPartial`
   * the model's own). `fitPartial` needs as many columns as the model has
   * user features. Normalised rows (e.g. summing to 1) train more stably.
   */
  userFeatures?: CsrMatrix | undefined;
  /** `[items, itemFeatureCount]` feature weights, one row per column of `interactions`; as `userFeatures`. */
  itemFeatures?: CsrMatrix | undefined;
  /**
   * The weight of each interaction: a matrix with exactly the shape and the
   * stored entries of `interactions`, its values the weights (>= 0). Left
   * out, every weight is 1. Refused with the `"warp-kos"` loss, as LightFM does.
   */
  sampleWeight?: CsrMatrix | undefined;
  /** Epochs to run (1; at most 100000). */
  epochs?: number | undefined;
  /** Threads for this fit, overriding the model's `numThreads`. */
  numThreads?: number | undefined;
  /** Progress bar on stderr (default: on when stderr is a terminal and TACIT_PROGRESS is not 0). */
  progress?: boolean | undefined;
  /**
   * Called after each epoch with its index, its seconds, the interactions
   * that took a step and those skipped (not a positive for a ranking loss,
   * no violating negative found, or no negative exists).
   */
  callback?:
    | ((epoch: number, seconds: number, stepped: number, skipped: number) => void)
    | undefined;
  /**
   * Aborts the fit, inside an epoch's native call too (within about a
   * millisecond of work; on Bun at the end of the running call); the model
   * keeps the state it had before the call.
   */
  signal?: AbortSignal | undefined;
}

/** Options of {@link HybridFactorization.recommend}. */
export interface HybridRecommendOptions
  extends ModelRecommendOptions, FeatureOptions, IndexedQueryOptions {}

/** Options of {@link HybridFactorization.similarItems}. */
export interface HybridSimilarOptions extends SimilarOptions {
  /** Item feature rows replacing the model's for this call (ids are their rows). */
  itemFeatures?: CsrMatrix | undefined;
}

/** Options of {@link HybridFactorization.similarUsers}. */
export interface HybridSimilarUsersOptions extends SimilarUsersOptions {
  /** User feature rows replacing the model's for this call (ids are their rows). */
  userFeatures?: CsrMatrix | undefined;
}

/** Options of {@link HybridFactorization.predict}. */
export interface HybridPredictOptions extends FeatureOptions {
  /** Threads for this call, overriding the model's `numThreads`. */
  numThreads?: number | undefined;
}

/** Representations of the rows of a feature matrix: LightFM's `(biases, embeddings)`. */
export interface Representations {
  /** One bias per row. */
  biases: Float32Array;
  /** Row-major `[rows, noComponents]` embeddings. */
  embeddings: Float32Array;
  /** `[rows, noComponents]`. */
  shape: [rows: number, components: number];
}

/** One side (users or items): its feature matrix, parameters and optimiser state. */
interface SideState {
  /** Rows are users (or items), columns features. */
  features: CsrMatrix;
  /** `[features, noComponents + 1]`: embedding, then bias. */
  params: Float32Array;
  /** Adagrad Σg² or adadelta E[g²], the shape of `params`. */
  squares: Float32Array;
  /** Adadelta E[Δ²] (unused by adagrad), the shape of `params`. */
  deltas: Float32Array;
}

interface HybridState {
  users: SideState;
  items: SideState;
  /** Where every epoch's seed comes from. */
  random: Random;
}

type HybridSchema = SchemaFor<HybridFactorizationOptions, "randomState">;

/** The largest k-OS k and n; see their docs. */
const KOS_MAX = 1000;
/** The largest maxSampled; see its doc. */
const MAX_SAMPLED_MAX = 100_000;
const LOSS_CODES: Readonly<Record<HybridLoss, number>> = {
  logistic: 0,
  bpr: 1,
  warp: 2,
  "warp-kos": 3,
};
const SCHEDULE_CODES: Readonly<Record<LearningSchedule, number>> = { adagrad: 0, adadelta: 1 };

const FIT_OPTIONS = [
  "userFeatures",
  "itemFeatures",
  "sampleWeight",
  "epochs",
  "numThreads",
  "progress",
  "callback",
  "signal",
] as const;
const RECOMMEND_OPTIONS = [
  "n",
  "filterAlreadyLiked",
  "filterItems",
  "items",
  "userFeatures",
  "itemFeatures",
  "index",
] as const;
const SIMILAR_ITEMS_OPTIONS = ["n", "filterItems", "items", "itemFeatures", "index"] as const;
const SIMILAR_USERS_OPTIONS = ["n", "filterUsers", "users", "userFeatures", "index"] as const;
const PREDICT_OPTIONS = ["userFeatures", "itemFeatures", "numThreads"] as const;

/** The schema of {@link HybridFactorizationOptions}. */
const schema: HybridSchema = {
  noComponents: integer({
    default: 10,
    min: 1,
    max: FACTORS_MAX - 2,
    doc: `Dimensionality of the feature embeddings, at most ${FACTORS_MAX - 2} (queries rank ` +
      `rows of noComponents + 2 columns; the kernels take ${FACTORS_MAX}).`,
  }),
  k: integer({
    default: 5,
    min: 1,
    max: KOS_MAX,
    doc: "k-OS: the k-th positive of those drawn is the one stepped on; " +
      `at most ${KOS_MAX}, as n (a k above n steps on the n-th).`,
  }),
  n: integer({
    default: 10,
    min: 1,
    max: KOS_MAX,
    doc: `k-OS: the most positives drawn for each step, at most ${KOS_MAX}: every step ` +
      "scores its n draws and sorts them (n² comparisons); LightFM's default is 10.",
  }),
  learningSchedule: choice({
    default: "adagrad",
    allowed: ["adagrad", "adadelta"],
    doc: "The learning-rate schedule.",
  }),
  loss: choice({
    default: "logistic",
    allowed: ["logistic", "bpr", "warp", "warp-kos"],
    doc: "The loss.",
  }),
  learningRate: real({
    default: 0.05,
    min: 0,
    minExclusive: true,
    max: FLOAT32_MAX,
    doc: "Adagrad's initial learning rate.",
  }),
  rho: real({
    default: 0.95,
    min: 0,
    minExclusive: true,
    max: 1,
    maxExclusive: true,
    doc: "Adadelta's moving-average coefficient.",
  }),
  epsilon: real({
    default: 1e-6,
    min: 0,
    max: FLOAT32_MAX,
    doc: "Adadelta's conditioning term.",
  }),
  itemAlpha: real({ default: 0, min: 0, max: FLOAT32_MAX, doc: "L2 penalty on item features." }),
  userAlpha: real({ default: 0, min: 0, max: FLOAT32_MAX, doc: "L2 penalty on user features." }),
  maxSampled: integer({
    default: 10,
    min: 1,
    max: MAX_SAMPLED_MAX,
    doc:
      `WARP and k-OS: the most negatives sampled for one positive, at most ${MAX_SAMPLED_MAX}: ` +
      "each costs a score, and the rank weight ln⌊(nItems − 1) / sampled⌋ is already 0 " +
      `once sampled passes half the catalogue (LightFM's default is 10).`,
  }),
  deterministic: flag({
    default: false,
    doc: "Reproducible epochs on any thread count (an epoch's chunks run on one thread).",
  }),
  ...commonOptions,
};

/**
 * LightFM's hybrid model: users and items represented by the sums of their
 * features' embeddings, with LightFM 1.17's parameters and defaults (also
 * exported as `LightFM`).
 *
 * Differences from LightFM: `fit` restarts the seeded generator, so two fits
 * of one model give the same parameters (LightFM's continue its stream);
 * without feature arguments, `fitPartial` and the queries use the feature
 * matrices the model was fitted with, and `getUserRepresentations()` /
 * `getItemRepresentations()` return those rows' representations (LightFM's
 * return the per-feature parameters, which are the same with identity
 * features).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CsrMatrix, HybridFactorization } from "../../mod.ts";
 * const plays = CsrMatrix.fromDense([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]]);
 * const model = new HybridFactorization({ noComponents: 4, loss: "warp", randomState: 1 });
 * await model.fit(plays, { epochs: 30, progress: false });
 * // predict is LightFM's score: q_u·p_i + b_u + b_i.
 * const user = model.getUserRepresentations();
 * const item = model.getItemRepresentations();
 * let score = user.biases[0]! + item.biases[3]!;
 * for (let c = 0; c < 4; c++) score += user.embeddings[c]! * item.embeddings[3 * 4 + c]!;
 * const [predicted] = model.predict([0], [3]);
 * assert.ok(Math.abs(predicted! - score) < 1e-5);
 * // recommend ranks by the same score, leaving out what the user has.
 * assert.equal(model.recommend(0, plays, { n: 2 }).ids.length, 2);
 * ```
 */
export class HybridFactorization
  extends MatrixFactorizationBase<SchemaFor<HybridFactorizationOptions, "randomState">> {
  /** The kind of the files `save` writes. */
  static readonly kind: string = "hybrid";

  /** The factor columns fit gives: noComponents + 2. */
  protected fittedColumns(): { columns: number; rule: string } {
    return { columns: this.noComponents + 2, rule: "noComponents + 2" };
  }
  /** Dimensionality of the feature embeddings. */
  readonly noComponents: number = this.options.noComponents;
  /** k-OS: the rank of the positive stepped on. */
  readonly k: number = this.options.k;
  /** k-OS: the most positives drawn for each step. */
  readonly n: number = this.options.n;
  /** The learning-rate schedule. */
  readonly learningSchedule: LearningSchedule = this.options.learningSchedule;
  /** The loss. */
  readonly loss: HybridLoss = this.options.loss;
  /** Adagrad's initial learning rate. */
  readonly learningRate: number = this.options.learningRate;
  /** Adadelta's moving-average coefficient. */
  readonly rho: number = this.options.rho;
  /** Adadelta's conditioning term. */
  readonly epsilon: number = this.options.epsilon;
  /** L2 penalty on item features. */
  readonly itemAlpha: number = this.options.itemAlpha;
  /** L2 penalty on user features. */
  readonly userAlpha: number = this.options.userAlpha;
  /** WARP and k-OS: the most negatives sampled for one positive. */
  readonly maxSampled: number = this.options.maxSampled;
  /** Whether epochs are reproducible on any thread count. */
  readonly deterministic: boolean = this.options.deterministic;
  #state: HybridState | undefined;

  /**
   * Builds an unfitted model.
   * @param options LightFM's parameters in camelCase; unknown keys are refused.
   */
  constructor(options: HybridFactorizationOptions = {}) {
    super(schema, options);
  }

  /** User features of the model (columns of its user feature matrix; 0 before fit). */
  get nUserFeatures(): number {
    return this.#state === undefined ? 0 : this.#state.users.features.nCols;
  }

  /** Item features of the model (columns of its item feature matrix; 0 before fit). */
  get nItemFeatures(): number {
    return this.#state === undefined ? 0 : this.#state.items.features.nCols;
  }

  /**
   * Fits the model from scratch: parameters initialised as LightFM's
   * (embeddings (U[0, 1) − 0.5) / noComponents, biases 0), then `epochs`
   * epochs. The model is only updated when every epoch has run: an abort or
   * an error (a diverged fit included) leaves it as it was.
   *
   * @param interactions A users × items matrix; each stored value is an
   *   interaction's y (see the `loss` option for what y <= 0 means).
   * @param options Features, sample weights, epochs, threads, progress, callback, signal.
   * @returns The model.
   * @throws TypeError / RangeError naming the argument for a bad input, or
   *   RangeError when the parameters became non-finite (the model diverged).
   */
  fit(interactions: CsrMatrix, options: HybridFitOptions = {}): Promise<this> {
    return this.train("fit()", interactions, options, true);
  }

  /**
   * Runs `epochs` more epochs from the current state (initialising an
   * unfitted model as `fit` does): parameters, optimiser state and the seeded
   * generator continue, so `fit` for 2 epochs equals `fit` for 1 then
   * `fitPartial` for 1 (bit for bit with `deterministic`). Feature matrices
   * left out are the model's; given ones must have as many columns as the
   * model has features, and become the model's.
   *
   * @param interactions A users × items matrix, one row per row of the user features.
   * @param options As `fit`'s.
   * @returns The model.
   * @throws As `fit`; RangeError for features with another number of columns.
   */
  fitPartial(interactions: CsrMatrix, options: HybridFitOptions = {}): Promise<this> {
    return this.train("fitPartial()", interactions, options, false);
  }

  /** `fit` and `fitPartial`: `reset` starts from LightFM's initialisation. */
  private async train(
    owner: string,
    interactions: CsrMatrix,
    options: HybridFitOptions,
    reset: boolean,
  ): Promise<this> {
    using _fit = this.startFit();
    options = fitOptions(owner, options, FIT_OPTIONS);
    // No GPU kernels (yet): "auto" trains on the CPU, "gpu" is refused.
    resolveDevice(this.device, `HybridFactorization ${owner}`, false);
    interactions = fitInput("interactions", interactions);
    if (interactions.nnz === 0) {
      throw new RangeError(
        "Expected interactions to have at least one stored entry but found none",
      );
    }
    const epochs = nonNegativeInteger("epochs", options.epochs ?? 1);
    if (epochs > ITERATIONS_MAX) {
      throw new RangeError(`Expected epochs to be at most ${ITERATIONS_MAX} but found ${epochs}`);
    }
    const threads = options.numThreads === undefined
      ? this.numThreads
      : threadCount("numThreads", options.numThreads);
    const weights = sampleWeights(interactions, options.sampleWeight, this.loss);
    const previous = reset ? undefined : this.#state;
    const userFeatures = fitFeatures(
      "userFeatures",
      options.userFeatures,
      interactions.nRows,
      "user",
      previous?.users.features,
    );
    const itemFeatures = fitFeatures(
      "itemFeatures",
      options.itemFeatures,
      interactions.nCols,
      "item",
      previous?.items.features,
    );
    const state = previous === undefined ? this.initialState(userFeatures, itemFeatures) : {
      users: { ...copySide(previous.users), features: userFeatures },
      items: { ...copySide(previous.items), features: itemFeatures },
      random: Random.fromState(previous.random.state()),
    };
    const counts = new Int32Array(2);
    const columns = this.noComponents + 1;
    const { users, items } = state;
    let epoch = 0;
    try {
      await runIterations({
        label: "LightFM",
        iterations: epochs,
        progress: options.progress,
        signal: options.signal,
        step: (index) => {
          epoch = index;
          return callNativeAsync("tacit_hybrid_epoch", {
            n_users: interactions.nRows,
            n_items: interactions.nCols,
            indptr: interactions.indptr,
            indices: interactions.indices,
            data: interactions.data,
            uf_indptr: users.features.indptr,
            uf_indices: users.features.indices,
            uf_data: users.features.data,
            n_user_features: users.features.nCols,
            if_indptr: items.features.indptr,
            if_indices: items.features.indices,
            if_data: items.features.data,
            n_item_features: items.features.nCols,
            columns,
            user_params: users.params,
            user_squares: users.squares,
            user_deltas: users.deltas,
            item_params: items.params,
            item_squares: items.squares,
            item_deltas: items.deltas,
            loss: LOSS_CODES[this.loss],
            schedule: SCHEDULE_CODES[this.learningSchedule],
            learning_rate: this.learningRate,
            rho: this.rho,
            epsilon: this.epsilon,
            user_alpha: this.userAlpha,
            item_alpha: this.itemAlpha,
            max_sampled: this.maxSampled,
            kos_k: this.k,
            kos_n: this.n,
            weights,
            seed: state.random.nextUint32() | 0,
            deterministic: this.deterministic ? 1 : 0,
            out_counts: counts,
          }, { threads, signal: options.signal });
        },
        report: (index, seconds) => {
          const [stepped, skipped] = [counts[0]!, counts[1]!];
          options.callback?.(index, seconds, stepped, skipped);
          return { skipped: `${skipped} (${(100 * skipped / interactions.nnz).toFixed(2)}%)` };
        },
      });
    } catch (error) {
      if (error instanceof RangeError && error.message.includes("became non-finite")) {
        throw new RangeError(
          `${this.constructor.name} diverged in epoch ${epoch + 1} of ${epochs}: its parameters ` +
            `became non-finite, and the model was left unchanged. Try a smaller learningRate ` +
            `(now ${this.learningRate}), or normalise the feature rows (e.g. to sum to 1) and ` +
            `the sample weights.`,
          { cause: error },
        );
      }
      throw error;
    }
    this.commit(state);
    return this;
  }

  /** LightFM's initialisation from a fresh generator: item features first, then user features. */
  private initialState(userFeatures: CsrMatrix, itemFeatures: CsrMatrix): HybridState {
    const random = new Random(this.randomState);
    const items = this.initialSide(itemFeatures, random);
    const users = this.initialSide(userFeatures, random);
    return { users, items, random };
  }

  /** Embeddings (U[0, 1) − 0.5) / noComponents, biases 0; adagrad sums 1, adadelta averages 0. */
  private initialSide(features: CsrMatrix, random: Random): SideState {
    const k = this.noComponents;
    const columns = k + 1;
    const count = features.nCols;
    const embeddings = random.fillUniform(new Float32Array(count * k), -0.5, 0.5);
    const params = new Float32Array(count * columns);
    for (let feature = 0; feature < count; feature++) {
      for (let c = 0; c < k; c++) {
        params[feature * columns + c] = embeddings[feature * k + c]! / k;
      }
    }
    const squares = new Float32Array(params.length).fill(
      this.learningSchedule === "adagrad" ? 1 : 0,
    );
    return { features, params, squares, deltas: new Float32Array(params.length) };
  }

  /** Makes a state the model's and caches the fitted features' query rows. */
  private commit(state: HybridState): void {
    this.#state = state;
    this.setFactors(
      this.queryRows(state.users, state.users.features, "user"),
      this.queryRows(state.items, state.items.features, "item"),
      this.noComponents + 2,
    );
  }

  /** Representations (embedding, then bias) of every row of `features`. */
  private represent(side: SideState, features: CsrMatrix): Float32Array {
    const columns = this.noComponents + 1;
    const out = new Float32Array(features.nRows * columns);
    if (out.length === 0) return out;
    callNative("tacit_hybrid_represent", {
      n_rows: features.nRows,
      indptr: features.indptr,
      indices: features.indices,
      data: features.data,
      n_features: side.features.nCols,
      columns,
      params: side.params,
      out,
    });
    return out;
  }

  /**
   * Query rows of `features`: [q, b, 1] for users, [p, 1, b] for items, so a
   * user row · an item row = q·p + b_u + b_i.
   */
  private queryRows(side: SideState, features: CsrMatrix, which: "user" | "item"): Float32Array {
    const k = this.noComponents;
    const representations = this.represent(side, features);
    const rows = new Float32Array(features.nRows * (k + 2));
    const [biasColumn, oneColumn] = which === "user" ? [k, k + 1] : [k + 1, k];
    for (let r = 0; r < features.nRows; r++) {
      const from = r * (k + 1);
      const to = r * (k + 2);
      rows.set(representations.subarray(from, from + k), to);
      rows[to + biasColumn] = representations[from + k]!;
      rows[to + oneColumn] = 1;
    }
    return rows;
  }

  /** The fitted state (after `requireFitted`). */
  private get state(): HybridState {
    return this.#state!;
  }

  /** The given feature matrix of a query, checked against the model's features, or the model's. */
  private queryFeatures(
    name: string,
    given: unknown,
    side: SideState,
    what: "user" | "item",
  ): CsrMatrix {
    if (given === undefined) return side.features;
    checkCsrMatrix(name, given);
    if (given.nCols !== side.features.nCols) {
      throw new RangeError(
        `Expected ${name} to have ${side.features.nCols} columns (the model's ${what} features) but found ${given.nCols}`,
      );
    }
    return given;
  }

  /**
   * Representations of users: for row u of `features` (the model's user
   * features when left out), the bias b_u = Σ_j f_uj β_j and the embedding
   * q_u = Σ_j f_uj e_j. Pass an identity matrix of `nUserFeatures` rows to get
   * the per-feature parameters (LightFM's `user_biases`, `user_embeddings`).
   *
   * @param features `[users, nUserFeatures]` feature weights; rows may be new users.
   * @returns New arrays: `biases` `[users]`, `embeddings` `[users, noComponents]`.
   * @throws Error before fit; TypeError / RangeError for a matrix of the wrong type or columns.
   */
  getUserRepresentations(features?: CsrMatrix): Representations {
    this.requireFitted("getUserRepresentations()");
    const side = this.state.users;
    return this.representations(side, this.queryFeatures("features", features, side, "user"));
  }

  /**
   * Representations of items, as {@link getUserRepresentations} for users.
   *
   * @param features `[items, nItemFeatures]` feature weights; rows may be new items.
   * @returns New arrays: `biases` `[items]`, `embeddings` `[items, noComponents]`.
   * @throws Error before fit; TypeError / RangeError for a matrix of the wrong type or columns.
   */
  getItemRepresentations(features?: CsrMatrix): Representations {
    this.requireFitted("getItemRepresentations()");
    const side = this.state.items;
    return this.representations(side, this.queryFeatures("features", features, side, "item"));
  }

  /** Biases and embeddings of every row of `features`, split apart. */
  private representations(side: SideState, features: CsrMatrix): Representations {
    const k = this.noComponents;
    const rows = features.nRows;
    const all = this.represent(side, features);
    const biases = new Float32Array(rows);
    const embeddings = new Float32Array(rows * k);
    for (let r = 0; r < rows; r++) {
      embeddings.set(all.subarray(r * (k + 1), r * (k + 1) + k), r * k);
      biases[r] = all[r * (k + 1) + k]!;
    }
    return { biases, embeddings, shape: [rows, k] };
  }

  /**
   * LightFM's `predict`: the score q_u·p_i + b_u + b_i of each pair
   * (userIds[p], itemIds[p]), computed from the pair's feature rows.
   *
   * @param userIds One user id (for every item) or one per item: rows of the user features.
   * @param itemIds Item ids: rows of the item features.
   * @param options `userFeatures` / `itemFeatures` replacing the model's, `numThreads`.
   * @returns A new Float32Array of raw scores, one per pair.
   * @throws Error before fit; TypeError for a wrong type or unknown option; RangeError for
   *   lengths that differ, an id out of range or features with the wrong columns.
   */
  predict(
    userIds: number | ArrayLike<number>,
    itemIds: ArrayLike<number>,
    options: HybridPredictOptions = {},
  ): Float32Array {
    this.requireFitted("predict()");
    knownOptions("predict()", options, PREDICT_OPTIONS);
    const { users, items } = this.state;
    const userFeatures = this.queryFeatures("userFeatures", options.userFeatures, users, "user");
    const itemFeatures = this.queryFeatures("itemFeatures", options.itemFeatures, items, "item");
    const threads = options.numThreads === undefined
      ? this.numThreads
      : threadCount("numThreads", options.numThreads);
    const itemList = idsInRange(
      "itemIds",
      itemIds,
      itemFeatures.nRows,
      options.itemFeatures === undefined ? "items" : "items (rows of itemFeatures)",
    );
    const usersWhat = options.userFeatures === undefined ? "users" : "users (rows of userFeatures)";
    const userList = typeof userIds === "number"
      ? new Int32Array(itemList.length).fill(
        idsInRange("userIds", userIds, userFeatures.nRows, usersWhat)[0]!,
      )
      : idsInRange("userIds", userIds, userFeatures.nRows, usersWhat);
    if (userList.length !== itemList.length) {
      throw new RangeError(
        `Expected userIds and itemIds to have the same length but found ${userList.length} and ${itemList.length}`,
      );
    }
    const scores = new Float32Array(itemList.length);
    if (scores.length === 0) return scores;
    callNative("tacit_hybrid_predict", {
      n_users: userFeatures.nRows,
      n_items: itemFeatures.nRows,
      uf_indptr: userFeatures.indptr,
      uf_indices: userFeatures.indices,
      uf_data: userFeatures.data,
      n_user_features: users.features.nCols,
      if_indptr: itemFeatures.indptr,
      if_indices: itemFeatures.indices,
      if_data: itemFeatures.data,
      n_item_features: items.features.nCols,
      columns: this.noComponents + 1,
      user_params: users.params,
      item_params: items.params,
      n_pairs: scores.length,
      user_ids: userList,
      item_ids: itemList,
      out_scores: scores,
    }, { threads });
    return scores;
  }

  /** The query rows of one call: the cached fitted ones, or those of the features it passes. */
  private queryFactors(options: { userFeatures?: unknown; itemFeatures?: unknown }): QueryFactors {
    const { users, items } = this.state;
    const userFeatures = options.userFeatures;
    const itemFeatures = options.itemFeatures;
    return {
      users: userFeatures === undefined ? this.userData : this.queryRows(
        users,
        this.queryFeatures("userFeatures", userFeatures, users, "user"),
        "user",
      ),
      items: itemFeatures === undefined ? this.itemData : this.queryRows(
        items,
        this.queryFeatures("itemFeatures", itemFeatures, items, "item"),
        "item",
      ),
      columns: this.rank,
    };
  }

  /**
   * The top `n` items for one user (`{ids, scores}`, best first) or for a
   * batch of users (flat `[users, n]` arrays, padded with −1 / −Infinity), by
   * the full score q_u·p_i + b_u + b_i, with every filter of the factor
   * models. `userFeatures` / `itemFeatures` replace the model's for this call
   * (cold start: users or items known only by their features); then ids are
   * rows of those matrices, and `userItems` needs one column per item row.
   *
   * @param userid One user id or an array of them.
   * @param userItems A users × items matrix whose rows are the users' liked
   *   items (read when `filterAlreadyLiked`, the default).
   * @param options `n`, `filterAlreadyLiked`, `filterItems`, `items`, `userFeatures`, `itemFeatures`.
   */
  override recommend(
    userid: number,
    userItems: CsrMatrix,
    options?: HybridRecommendOptions,
  ): Ranked;
  /** The top `n` items for each user of a batch: flat `[users, n]` arrays. */
  override recommend(
    userid: ArrayLike<number>,
    userItems: CsrMatrix,
    options?: HybridRecommendOptions,
  ): RankedBatch;
  override recommend(
    userid: Ids,
    userItems: CsrMatrix,
    options: HybridRecommendOptions = {},
  ): Ranked | RankedBatch {
    this.requireFitted("recommend()");
    knownOptions("recommend()", options, RECOMMEND_OPTIONS);
    return this.rankItems(this.queryFactors(options), userid, userItems, options);
  }

  /**
   * LightFM's `predict_rank`: for every stored entry (u, i) of
   * `testInteractions`, the number of items j ≠ i, not training items of
   * user u, with score(u, j) >= score(u, i) (0 is the top), by the full score
   * q_u·p_i + b_u + b_i (lib/evaluation/ranks.ts, over the query rows).
   * `userFeatures` / `itemFeatures` replace the model's for this call; the
   * test matrix then has one row per user row and one column per item row.
   *
   * @param testInteractions A users × items matrix; each stored entry is ranked (values ignored).
   * @param options `trainInteractions` (items never counted), `checkIntersections` (true:
   *   refuse a test entry that is also a training entry, as LightFM), `userFeatures`,
   *   `itemFeatures`.
   * @returns A new matrix with the pattern of `testInteractions`, ranks as values.
   * @throws Error before fit; TypeError for a wrong type or an unknown option; RangeError for
   *   a matrix of the wrong shape or test entries that are also training entries.
   */
  override predictRank(
    testInteractions: CsrMatrix,
    options: PredictRankOptions = {},
  ): CsrMatrix {
    this.requireFitted("predictRank()");
    const given = knownOptions("predictRank()", options, PREDICT_RANK_OPTIONS);
    const replaced = given.userFeatures !== undefined || given.itemFeatures !== undefined;
    return this.rankInteractions(
      this.queryFactors(given),
      testInteractions,
      given,
      replaced ? "the feature matrices'" : "the model's",
    );
  }

  /**
   * The items most similar to an item by cosine of their embeddings p_i (the
   * biases left out); the item itself is included (score 1), as in
   * `implicit`. `itemFeatures` replaces the model's item features for this
   * call (ids are its rows).
   */
  override similarItems(itemid: number, options?: HybridSimilarOptions): Ranked;
  /** The items most similar to each item of a batch: flat `[items, n]` arrays. */
  override similarItems(itemid: ArrayLike<number>, options?: HybridSimilarOptions): RankedBatch;
  override similarItems(itemid: Ids, options: HybridSimilarOptions = {}): Ranked | RankedBatch {
    this.requireFitted("similarItems()");
    knownOptions("similarItems()", options, SIMILAR_ITEMS_OPTIONS);
    if (options.itemFeatures === undefined) {
      const { itemFeatures: _, ...shared } = options;
      return typeof itemid === "number"
        ? super.similarItems(itemid, shared)
        : super.similarItems(itemid, shared);
    }
    const side = this.state.items;
    const features = this.queryFeatures("itemFeatures", options.itemFeatures, side, "item");
    const { embeddings, shape } = this.representations(side, features);
    return this.similar(
      this.queryIndex("similarItems", options.index, false),
      normalizedFactors({ data: embeddings, shape }),
      itemid,
      "itemid",
      "items",
      options.n,
      options.filterItems,
      "filterItems",
      options.items,
      "items",
    );
  }

  /**
   * The users most similar to a user by cosine of their embeddings q_u (the
   * biases left out), the user included. `userFeatures` replaces the model's
   * user features for this call (ids are its rows).
   */
  override similarUsers(userid: number, options?: HybridSimilarUsersOptions): Ranked;
  /** The users most similar to each user of a batch: flat `[users, n]` arrays. */
  override similarUsers(
    userid: ArrayLike<number>,
    options?: HybridSimilarUsersOptions,
  ): RankedBatch;
  override similarUsers(
    userid: Ids,
    options: HybridSimilarUsersOptions = {},
  ): Ranked | RankedBatch {
    this.requireFitted("similarUsers()");
    knownOptions("similarUsers()", options, SIMILAR_USERS_OPTIONS);
    if (options.userFeatures === undefined) {
      const { userFeatures: _, ...shared } = options;
      return typeof userid === "number"
        ? super.similarUsers(userid, shared)
        : super.similarUsers(userid, shared);
    }
    const side = this.state.users;
    const features = this.queryFeatures("userFeatures", options.userFeatures, side, "user");
    const { embeddings, shape } = this.representations(side, features);
    return this.similar(
      this.queryIndex("similarUsers", options.index, false),
      normalizedFactors({ data: embeddings, shape }),
      userid,
      "userid",
      "users",
      options.n,
      options.filterUsers,
      "filterUsers",
      options.users,
      "users",
    );
  }

  /** The embedding columns of the cached query rows (the two bias columns left out). */
  protected override similarityFactors(side: "users" | "items"): FactorMatrix {
    const rows = side === "users" ? this.userData : this.itemData;
    const k = this.noComponents;
    const count = rows.length / this.rank;
    const data = new Float32Array(count * k);
    for (let r = 0; r < count; r++) {
      data.set(rows.subarray(r * this.rank, r * this.rank + k), r * k);
    }
    return { data, shape: [count, k] };
  }

  /**
   * Refused: this model's factor rows are computed from its feature
   * parameters (fit the model, or load a saved one).
   */
  override assignFactors(_users: FactorMatrix, _items: FactorMatrix): never {
    throw new TypeError(
      `${this.constructor.name} computes its factor rows from its feature parameters: they cannot be assigned (fit it, or load a saved model)`,
    );
  }

  /** Both sides' parameters, optimiser state and features, and the generator's state. */
  protected override stateArrays(): Record<string, TacitArray> {
    const { users, items, random } = this.state;
    const columns = this.noComponents + 1;
    return {
      ...sideArrays("user", users, columns),
      ...sideArrays("item", items, columns),
      random: { array: new Int32Array(random.state().buffer), shape: [4] },
    };
  }

  /** Takes both sides and the generator from a file, checking every array. */
  protected override restoreState(file: TacitFile, path: string): void {
    const columns = this.noComponents + 1;
    const users = restoreSide(file, "user", columns, path);
    const items = restoreSide(file, "item", columns, path);
    const words = expectArray(file, "random", "i32", [4]);
    let random: Random;
    try {
      random = Random.fromState(new Uint32Array(words.buffer, words.byteOffset, 4));
    } catch (error) {
      throw new TacitFileError(
        `Expected array 'random' in ${path} to be a generator state: ${(error as Error).message}`,
        path,
        { cause: error },
      );
    }
    this.commit({ users, items, random });
    for (const [name, rows] of [["user", this.userData], ["item", this.itemData]] as const) {
      if (nonFiniteCount(rows) > 0) {
        throw new TacitFileError(
          `Expected the ${name} feature matrix and '${name}Params' in ${path} to give finite ${name} representations but they overflow float32`,
          path,
        );
      }
    }
  }

  /** Reads a model written by `save`; refuses a file of another kind. */
  static load(path: string): Promise<HybridFactorization> {
    return loadAs(HybridFactorization, path);
  }
}

/** A `rows × rows` identity matrix: each row its own feature. */
function identity(rows: number): CsrMatrix {
  const indptr = new Int32Array(rows + 1);
  const indices = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    indptr[r + 1] = r + 1;
    indices[r] = r;
  }
  return new CsrMatrix([rows, rows], indptr, indices, new Float32Array(rows).fill(1));
}

/**
 * The feature matrix a fit trains with: the given one (a checked private
 * copy, `rows` rows, at least one column, and as many columns as `previous`),
 * else `previous` (which must have `rows` rows), else the identity.
 */
function fitFeatures(
  name: string,
  given: unknown,
  rows: number,
  entity: "user" | "item",
  previous: CsrMatrix | undefined,
): CsrMatrix {
  const dimension = entity === "user" ? "rows" : "columns";
  if (given === undefined) {
    if (previous === undefined) return identity(rows);
    if (previous.nRows !== rows) {
      throw new RangeError(
        `The model's ${name} have ${previous.nRows} rows but interactions has ${rows} ${dimension} (${entity}s): pass ${name} with one row per ${entity}`,
      );
    }
    return previous;
  }
  const features = fitInput(name, given);
  if (features.nRows !== rows) {
    throw new RangeError(
      `Expected ${name} to have ${rows} rows (one per ${entity}: the ${dimension} of interactions) but found ${features.nRows}`,
    );
  }
  if (previous !== undefined && features.nCols !== previous.nCols) {
    throw new RangeError(
      `Expected ${name} to have ${previous.nCols} columns (the model's features) but found ${features.nCols}`,
    );
  }
  if (features.nCols === 0) {
    throw new RangeError(`Expected ${name} to have at least one column (feature) but found none`);
  }
  return features;
}

/**
 * The weight of every stored interaction: ones, or the values of a
 * `sampleWeight` matrix with exactly the interactions' shape and entries.
 */
function sampleWeights(
  interactions: CsrMatrix,
  sampleWeight: unknown,
  loss: HybridLoss,
): Float32Array {
  if (sampleWeight === undefined) return new Float32Array(interactions.nnz).fill(1);
  if (loss === "warp-kos") {
    throw new TypeError(
      "Expected no sampleWeight with loss 'warp-kos' (k-OS draws its positives from each user's row and takes no weights, as in LightFM) but found one: leave it out or choose another loss",
    );
  }
  checkCsrMatrix("sampleWeight", sampleWeight);
  const [rows, cols] = interactions.shape;
  if (sampleWeight.nRows !== rows || sampleWeight.nCols !== cols) {
    throw new RangeError(
      `Expected sampleWeight to have the shape of interactions [${rows}, ${cols}] but found [${sampleWeight.shape}]`,
    );
  }
  for (let r = 0; r < rows; r++) {
    const [start, end] = interactions.rowRange(r);
    const [wStart, wEnd] = sampleWeight.rowRange(r);
    let same = start === wStart && end === wEnd;
    for (let p = start; same && p < end; p++) {
      same = interactions.indices[p] === sampleWeight.indices[p];
    }
    if (!same) {
      throw new RangeError(
        `Expected sampleWeight to store exactly the entries of interactions, but row ${r} holds columns [${
          sampleWeight.indices.subarray(wStart, wEnd).join(", ")
        }] where interactions holds [${interactions.indices.subarray(start, end).join(", ")}]`,
      );
    }
  }
  const negative = sampleWeight.data.findIndex((w) => w < 0);
  if (negative >= 0) {
    throw new RangeError(
      `Expected sampleWeight.data to be >= 0 but found data[${negative}] = ${
        sampleWeight.data[negative]
      }`,
    );
  }
  return sampleWeight.data.slice();
}

/** Copies of a side's parameters and optimiser state (its features are shared: never written). */
function copySide(side: SideState): SideState {
  return {
    features: side.features,
    params: side.params.slice(),
    squares: side.squares.slice(),
    deltas: side.deltas.slice(),
  };
}

function sideArrays(prefix: string, side: SideState, columns: number): Record<string, TacitArray> {
  const shape = [side.features.nCols, columns];
  const { features } = side;
  return {
    [`${prefix}Params`]: { array: side.params, shape },
    [`${prefix}Squares`]: { array: side.squares, shape },
    [`${prefix}Deltas`]: { array: side.deltas, shape },
    [`${prefix}FeaturesIndptr`]: { array: features.indptr, shape: [features.nRows + 1] },
    [`${prefix}FeaturesIndices`]: { array: features.indices, shape: [features.nnz] },
    [`${prefix}FeaturesData`]: { array: features.data, shape: [features.nnz] },
  };
}

function restoreSide(file: TacitFile, prefix: string, columns: number, path: string): SideState {
  const paramsName = `${prefix}Params`;
  const params = expectArray(file, paramsName, "f32");
  const shape = file.arrays[paramsName]!.shape;
  if (shape.length !== 2 || shape[0]! < 1 || shape[1] !== columns) {
    throw new TacitFileError(
      `Expected array '${paramsName}' in ${path} to have shape [features >= 1, ${columns}] (noComponents + 1) but found [${shape}]`,
      path,
    );
  }
  const squares = expectArray(file, `${prefix}Squares`, "f32", shape);
  const deltas = expectArray(file, `${prefix}Deltas`, "f32", shape);
  // The optimiser's state is sums and averages of squares: never negative.
  for (
    const [name, values, sums] of [[paramsName, params, false], [
      `${prefix}Squares`,
      squares,
      true,
    ], [`${prefix}Deltas`, deltas, true]] as const
  ) {
    const bad = values.findIndex((v) => !Number.isFinite(v) || (sums && v < 0));
    if (bad >= 0) {
      throw new TacitFileError(
        `Expected array '${name}' in ${path} to hold finite${
          sums ? ", non-negative" : ""
        } values but found ${values[bad]} at [${Math.floor(bad / columns)}, ${bad % columns}]`,
        path,
      );
    }
  }
  const names = ["Indptr", "Indices", "Data"].map((part) => `'${prefix}Features${part}'`);
  const indptr = expectArray(file, `${prefix}FeaturesIndptr`, "i32");
  const indices = expectArray(file, `${prefix}FeaturesIndices`, "i32");
  const data = expectArray(file, `${prefix}FeaturesData`, "f32");
  if (indptr.length < 2) {
    throw new TacitFileError(
      `Expected array ${
        names[0]
      } in ${path} to have ${prefix}s + 1 >= 2 entries but found ${indptr.length}`,
      path,
    );
  }
  let features: CsrMatrix;
  try {
    features = new CsrMatrix([indptr.length - 1, shape[0]!], indptr, indices, data);
  } catch (error) {
    throw new TacitFileError(
      `Expected arrays ${names.join(", ")} in ${path} to be a valid CSR matrix with ${
        shape[0]
      } columns (the rows of '${paramsName}'): ${(error as Error).message}`,
      path,
      { cause: error },
    );
  }
  return { features, params, squares, deltas };
}
