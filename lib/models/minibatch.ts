/**
 * Minibatch implicit factorization: Spotlight's `ImplicitFactorizationModel`
 * (Kula, maciejkula/spotlight) with its parameters, defaults and losses,
 * trained natively (`zig/minibatch.zig`, over the shared SGD engine) instead
 * of through PyTorch.
 *
 * The model: user u has an embedding x_u and a bias b_u, item i has y_i and
 * b_i; the score is s(u, i) = x_u·y_i + b_u + b_i. Embeddings start from
 * N(0, (1/d)²) (Spotlight's ScaledEmbedding: standard deviation 1/d), biases
 * from 0.
 *
 * Training: each epoch shuffles the training (user, item) pairs with the
 * seeded generator and cuts them into minibatches of `batchSize`; every pair
 * gets uniformly drawn negative items (Spotlight's `sample_items`; optionally
 * redrawn while the user has the item, which Spotlight cannot do) and each
 * batch takes one Adam step on the batch mean of the loss:
 * - `"pointwise"`: (1 − σ(s_pos)) + σ(s_neg);
 * - `"bpr"`: 1 − σ(s_pos − s_neg);
 * - `"hinge"`: max(0, s_neg − s_pos + 1);
 * - `"adaptive_hinge"`: the hinge against the highest scored of
 *   `numNegativeSamples` negatives drawn for that same pair.
 *
 * Adam (Kingma & Ba 2015) with `l2` added to the gradient, as PyTorch's Adam
 * `weight_decay` (Spotlight's default optimiser), β = (`beta1`, `beta2`),
 * `epsilon`, and a step count t that runs on across fits:
 * - `"adam"` (default, Spotlight's): every row's moments and parameters step
 *   each batch, with a zero gradient for the rows the batch did not touch;
 *   untouched rows keep moving on their momentum and the L2 term. A pass over
 *   all parameters per batch: the cost grows with users + items.
 * - `"lazy-adam"`: only the rows in the batch step (PyTorch's SparseAdam,
 *   TensorFlow's LazyAdam, here with the L2 term on those rows): the cost
 *   grows with the batch, not the catalogue; batches run Hogwild on the pool.
 *
 * Layout, as the hybrid model's: a user row is [x_u, b_u, 1] and an item row
 * [y_i, 1, b_i], so a score is one dot product (`factorCount` is
 * `embeddingDim + 2`) and `recommend`, `predictRank` and the evaluation
 * functions rank through the native top-k every factor model uses.
 *
 * @module
 */
import { expectArray, type TacitArray, type TacitFile, TacitFileError } from "../io/format.ts";
import { callNativeAsync } from "../native/library.ts";
import { Random } from "../random.ts";
import type { CsrMatrix } from "../sparse.ts";
import { idsInRange } from "../validate.ts";
import {
  type CommonModelOptions,
  commonOptions,
  type FactorMatrix,
  MatrixFactorizationBase,
} from "./matrix_factorization.ts";
import { fitInput, inFile, loadAs } from "./model.ts";
import {
  choice,
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

/** Spotlight's implicit losses. */
export type MinibatchLoss = "pointwise" | "bpr" | "hinge" | "adaptive_hinge";

/** Dense Adam (every row, every batch: Spotlight's) or lazy Adam (the batch's rows only). */
export type MinibatchOptimizer = "adam" | "lazy-adam";

/** Options of {@link MinibatchFactorization}: Spotlight's parameters and defaults. */
export interface MinibatchFactorizationOptions extends CommonModelOptions {
  /** The loss ("pointwise"). */
  loss?: MinibatchLoss;
  /** d, the embedding dimension of users and items (32; at most 1022). */
  embeddingDim?: number;
  /** Epochs per `fit` (10; at most 100000). Spotlight's `n_iter`. */
  nIter?: number;
  /** Pairs per minibatch (256; at most 65536); the last batch of an epoch may be smaller. */
  batchSize?: number;
  /** L2 penalty, added to the gradient as PyTorch's Adam `weight_decay` (0). */
  l2?: number;
  /** Adam's step size η (0.01). */
  learningRate?: number;
  /** Negatives drawn per pair by "adaptive_hinge", which uses the highest scored (5; at most 1024). */
  numNegativeSamples?: number;
  /** "adam" (dense, Spotlight's) or "lazy-adam" (only the batch's rows). */
  optimizer?: MinibatchOptimizer;
  /** Adam's β₁, the first moment's decay (0.9). */
  beta1?: number;
  /** Adam's β₂, the second moment's decay (0.999). */
  beta2?: number;
  /** Adam's ε (1e-8). */
  epsilon?: number;
  /**
   * Redraw a negative the user has interacted with (false, as Spotlight, which
   * cannot). Each redraw costs a binary search of the user's row; after 32
   * draws the last is kept.
   */
  verifyNegativeSamples?: boolean;
  /**
   * With "lazy-adam", run each epoch's chunks of batches in order on one
   * thread (false), so a seed gives the same model on any thread count.
   * "adam" is reproducible on any thread count without it.
   */
  deterministic?: boolean;
  /** Seed of the initialisation, the shuffles and the negatives; omitted means random. */
  randomState?: number;
  /**
   * Threads for fit, 0..256; 0 (default) uses the pool as set by setNumThreads /
   * TACIT_NUM_THREADS. "adam" splits each batch's step over them; "lazy-adam"
   * runs batches Hogwild on them (runs with more than one thread differ slightly).
   */
  numThreads?: number;
  /** Only "float32" is supported. */
  dtype?: "float32";
}

/** Spotlight's name for {@link MinibatchFactorizationOptions}. */
export type ImplicitFactorizationModelOptions = MinibatchFactorizationOptions;

/** Options of {@link MinibatchFactorization.fit}. */
export interface MinibatchFitOptions {
  /** Progress bar on stderr with the epoch loss (default: on when stderr is a terminal and TACIT_PROGRESS is not 0). */
  progress?: boolean | undefined;
  /** Called after each epoch with its index, its seconds and its loss (the mean of the batch losses). */
  callback?: ((epoch: number, seconds: number, loss: number) => void) | undefined;
  /**
   * Aborts the fit, inside an epoch's native call too (within about a
   * millisecond of work; on Bun at the end of the running call); the model
   * keeps the state it had before the call.
   */
  signal?: AbortSignal | undefined;
}

const LOSS_CODES: Readonly<Record<MinibatchLoss, number>> = {
  pointwise: 0,
  bpr: 1,
  hinge: 2,
  adaptive_hinge: 3,
};
const OPTIMIZER_CODES: Readonly<Record<MinibatchOptimizer, number>> = { adam: 0, "lazy-adam": 1 };
const INT32_MAX = 2_147_483_647;
/** The largest batchSize; see its doc. */
const BATCH_SIZE_MAX = 1 << 16;
/** The largest numNegativeSamples; see its doc. */
const NEGATIVES_MAX = 1 << 10;

type MinibatchSchema = SchemaFor<MinibatchFactorizationOptions, "randomState">;

/** The schema of {@link MinibatchFactorizationOptions}. */
const schema: MinibatchSchema = {
  loss: choice({
    default: "pointwise",
    allowed: ["pointwise", "bpr", "hinge", "adaptive_hinge"],
    doc: "The loss.",
  }),
  embeddingDim: integer({
    default: 32,
    min: 1,
    max: FACTORS_MAX - 2,
    doc: `The embedding dimension, at most ${FACTORS_MAX - 2} (rows hold embeddingDim + 2 ` +
      `columns; the kernels take ${FACTORS_MAX}).`,
  }),
  nIter: integer({
    default: 10,
    min: 0,
    max: ITERATIONS_MAX,
    doc: `Epochs per fit, ${ITERATIONS_BOUND}.`,
  }),
  batchSize: integer({
    default: 256,
    min: 1,
    max: BATCH_SIZE_MAX,
    doc: `Pairs per minibatch, at most ${BATCH_SIZE_MAX}: every thread holds a batch's ` +
      "gradients (3 × batchSize × (embeddingDim + 2) floats) and its negatives " +
      "(batchSize × numNegativeSamples ids); Spotlight's default is 256.",
  }),
  l2: real({ default: 0, min: 0, max: FLOAT32_MAX, doc: "L2 penalty (Adam weight decay)." }),
  learningRate: real({
    default: 1e-2,
    min: 0,
    minExclusive: true,
    max: FLOAT32_MAX,
    doc: "Adam's step size.",
  }),
  numNegativeSamples: integer({
    default: 5,
    min: 1,
    max: NEGATIVES_MAX,
    doc: `Negatives per pair for adaptive_hinge, at most ${NEGATIVES_MAX}: each is scored, ` +
      "and a thread holds batchSize × numNegativeSamples of them; Spotlight's default is 5.",
  }),
  optimizer: choice({
    default: "adam",
    allowed: ["adam", "lazy-adam"],
    doc: "Dense Adam (Spotlight's) or lazy Adam (the batch's rows only).",
  }),
  beta1: real({ default: 0.9, min: 0, max: 1, maxExclusive: true, doc: "Adam's β₁." }),
  beta2: real({ default: 0.999, min: 0, max: 1, maxExclusive: true, doc: "Adam's β₂." }),
  epsilon: real({
    default: 1e-8,
    min: 0,
    minExclusive: true,
    max: FLOAT32_MAX,
    doc: "Adam's ε.",
  }),
  verifyNegativeSamples: flag({
    default: false,
    doc: "Redraw a negative the user has interacted with.",
  }),
  deterministic: flag({
    default: false,
    doc: "Lazy Adam: run an epoch's chunks in order on one thread (reproducible).",
  }),
  ...commonOptions,
};

/** Both sides' Adam moments and the step count: the optimiser state saved with the model. */
interface AdamState {
  userFirst: Float32Array;
  userSecond: Float32Array;
  itemFirst: Float32Array;
  itemSecond: Float32Array;
  /** Adam steps taken so far (batches since initialisation). */
  step: number;
  /** Where every epoch's seed comes from. */
  random: Random;
}

/**
 * Spotlight's minibatch implicit factorization model (also exported as
 * `ImplicitFactorizationModel`).
 *
 * Differences from Spotlight: adaptive hinge compares each pair with its own
 * negatives (Spotlight reshapes its batch × n draws as n × batch, so a pair's
 * maximum is taken over other users' negatives); the epoch loss is not
 * refused for being exactly 0 (Spotlight's "degenerate epoch loss"), only for
 * being non-finite; `fit` on a model fitted to another shape is refused
 * rather than resumed with out-of-range ids; no device or CUDA flag is saved.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CsrMatrix, MinibatchFactorization } from "../../mod.ts";
 * const plays = CsrMatrix.fromDense([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]]);
 * const model = new MinibatchFactorization({
 *   loss: "bpr",
 *   embeddingDim: 4,
 *   nIter: 200,
 *   batchSize: 4,
 *   learningRate: 0.05,
 *   randomState: 1,
 * });
 * const losses: number[] = [];
 * await model.fit(plays, { progress: false, callback: (_epoch, _s, loss) => losses.push(loss) });
 * assert.ok(losses.at(-1)! < losses[0]!);
 * // User 0 has items 0 and 1: the other block scores below them.
 * const scores = model.predict(0);
 * assert.ok(Math.min(scores[0]!, scores[1]!) > Math.max(scores[2]!, scores[3]!));
 * assert.deepEqual([...model.recommend(0, plays, { n: 2 }).ids].sort(), [2, 3]);
 * ```
 */
export class MinibatchFactorization
  extends MatrixFactorizationBase<SchemaFor<MinibatchFactorizationOptions, "randomState">> {
  /** The kind of the files `save` writes. */
  static readonly kind: string = "minibatch";

  /** The factor columns fit gives: embeddingDim + 2. */
  protected fittedColumns(): { columns: number; rule: string } {
    return { columns: this.embeddingDim + 2, rule: "embeddingDim + 2" };
  }
  /** The loss. */
  readonly loss: MinibatchLoss = this.options.loss;
  /** d, the embedding dimension. */
  readonly embeddingDim: number = this.options.embeddingDim;
  /** Epochs per fit. */
  readonly nIter: number = this.options.nIter;
  /** Pairs per minibatch. */
  readonly batchSize: number = this.options.batchSize;
  /** L2 penalty (Adam weight decay). */
  readonly l2: number = this.options.l2;
  /** Adam's step size. */
  readonly learningRate: number = this.options.learningRate;
  /** Negatives per pair for adaptive hinge. */
  readonly numNegativeSamples: number = this.options.numNegativeSamples;
  /** Dense or lazy Adam. */
  readonly optimizer: MinibatchOptimizer = this.options.optimizer;
  /** Adam's β₁. */
  readonly beta1: number = this.options.beta1;
  /** Adam's β₂. */
  readonly beta2: number = this.options.beta2;
  /** Adam's ε. */
  readonly epsilon: number = this.options.epsilon;
  /** Whether a negative the user has is redrawn. */
  readonly verifyNegativeSamples: boolean = this.options.verifyNegativeSamples;
  /** Whether lazy-Adam epochs run their chunks in order on one thread. */
  readonly deterministic: boolean = this.options.deterministic;
  #adam: AdamState | undefined;

  /**
   * Builds an unfitted model.
   * @param options The model's options; unknown keys are refused.
   */
  constructor(options: MinibatchFactorizationOptions = {}) {
    super(schema, options);
  }

  /** Adam steps taken so far: batches trained since initialisation (0 before fit). */
  get adamStep(): number {
    return this.#adam?.step ?? 0;
  }

  /**
   * Trains `nIter` epochs on the stored entries of a users × items matrix
   * (values are ignored: every entry is a positive pair). As Spotlight's
   * `fit`, a fitted model resumes from its state (parameters, Adam moments
   * and step count, the seeded generator); an unfitted one is initialised
   * first. The model is only updated when the fit completes: an abort, a
   * non-finite loss or an error leaves it as it was.
   *
   * @param interactions Users × items; the fitted model's shape when it resumes.
   * @param options `progress`, `callback(epoch, seconds, loss)`, `signal`.
   * @returns The model.
   * @throws TypeError for a wrong type or unknown option; RangeError for an
   *   empty matrix, another shape than the fitted model's, or a non-finite loss.
   */
  async fit(interactions: CsrMatrix, options: MinibatchFitOptions = {}): Promise<this> {
    using _fit = this.startFit();
    options = fitOptions("fit()", options);
    interactions = fitInput("interactions", interactions);
    if (interactions.nnz === 0) {
      throw new RangeError(
        "Expected interactions to have at least one stored entry to train on but found none",
      );
    }
    const [nUsers, nItems] = interactions.shape;
    const columns = this.embeddingDim + 2;
    const start = this.startingState(nUsers, nItems);
    const { users, items, adam } = start;
    // Each epoch shuffles the pairs from row order, as Spotlight's shuffles the
    // original arrays: an epoch depends on its seed alone, so fitting 2 epochs
    // equals fitting 1 and resuming for 1.
    const rowOrder = pairsOf(interactions);
    const pairs = new Int32Array(rowOrder.length);
    const batches = Math.ceil(interactions.nnz / this.batchSize);
    if (adam.step + this.nIter * batches > INT32_MAX) {
      throw new RangeError(
        `Expected the Adam step count to stay below 2^31 but this fit would take it from ${adam.step} to ${
          adam.step + this.nIter * batches
        }: use a larger batchSize or a new model`,
      );
    }
    const loss = new Float64Array(1);
    let epoch = 0;
    await runIterations({
      label: "Minibatch",
      iterations: this.nIter,
      progress: options.progress,
      signal: options.signal,
      step: async (index) => {
        epoch = index;
        pairs.set(rowOrder);
        await callNativeAsync("tacit_minibatch_epoch", {
          n_users: nUsers,
          n_items: nItems,
          indptr: interactions.indptr,
          indices: interactions.indices,
          columns,
          user_params: users,
          user_first: adam.userFirst,
          user_second: adam.userSecond,
          item_params: items,
          item_first: adam.itemFirst,
          item_second: adam.itemSecond,
          n_pairs: interactions.nnz,
          pairs,
          loss: LOSS_CODES[this.loss],
          optimizer: OPTIMIZER_CODES[this.optimizer],
          batch_size: this.batchSize,
          n_negatives: this.loss === "adaptive_hinge" ? this.numNegativeSamples : 1,
          verify_negatives: this.verifyNegativeSamples ? 1 : 0,
          learning_rate: this.learningRate,
          beta1: this.beta1,
          beta2: this.beta2,
          epsilon: this.epsilon,
          l2: this.l2,
          step: adam.step,
          seed: adam.random.nextUint32() | 0,
          deterministic: this.deterministic ? 1 : 0,
          out_loss: loss,
        }, { threads: this.numThreads, signal: options.signal });
        adam.step += batches;
        if (!Number.isFinite(loss[0]!)) {
          throw new RangeError(
            `${this.constructor.name} diverged in epoch ${
              epoch + 1
            } of ${this.nIter}: the epoch loss is ${
              loss[0]
            }; the model was left unchanged. Try a smaller learningRate (now ${this.learningRate}).`,
          );
        }
      },
      report: (index, seconds) => {
        options.callback?.(index, seconds, loss[0]!);
        return { loss: loss[0]!.toFixed(4) };
      },
    });
    this.commitFactors(
      this.constructor.name,
      users,
      items,
      columns,
      `Try a smaller learningRate (now ${this.learningRate}).`,
    );
    this.#adam = adam;
    return this;
  }

  /** Copies of the fitted state to resume from, or Spotlight's initialisation. */
  private startingState(
    nUsers: number,
    nItems: number,
  ): { users: Float32Array; items: Float32Array; adam: AdamState } {
    const previous = this.#adam;
    if (previous !== undefined) {
      if (nUsers !== this.nUsers || nItems !== this.nItems) {
        throw new RangeError(
          `Expected interactions of shape [${this.nUsers}, ${this.nItems}] (fit resumes the fitted model, as Spotlight's) but found [${nUsers}, ${nItems}]: create a new model to start over`,
        );
      }
      return {
        users: this.userData.slice(),
        items: this.itemData.slice(),
        adam: {
          userFirst: previous.userFirst.slice(),
          userSecond: previous.userSecond.slice(),
          itemFirst: previous.itemFirst.slice(),
          itemSecond: previous.itemSecond.slice(),
          step: previous.step,
          random: Random.fromState(previous.random.state()),
        },
      };
    }
    const random = new Random(this.randomState);
    const d = this.embeddingDim;
    const users = initialRows(nUsers, d, d + 1, random);
    const items = initialRows(nItems, d, d, random);
    return {
      users,
      items,
      adam: {
        userFirst: new Float32Array(users.length),
        userSecond: new Float32Array(users.length),
        itemFirst: new Float32Array(items.length),
        itemSecond: new Float32Array(items.length),
        step: 0,
        random,
      },
    };
  }

  /**
   * Scores, as Spotlight's `predict`: for one user and no items, every item's
   * score (`nItems` values); for one user and items, those items' scores; for
   * users and items of one length, each pair's score; for users and no items,
   * every item's score for each user (row-major `[users, nItems]`).
   *
   * @param userIds A user id or user ids.
   * @param itemIds Item ids; left out, every item.
   * @returns A new Float32Array of s(u, i) = x_u·y_i + b_u + b_i.
   * @throws Error before fit; TypeError / RangeError for ids that are not in
   *   range or lengths that differ.
   */
  predict(userIds: number | ArrayLike<number>, itemIds?: ArrayLike<number>): Float32Array {
    this.requireFitted("predict()");
    const users = idsInRange("userIds", userIds, this.nUsers, "users");
    const columns = this.rank;
    if (itemIds === undefined) {
      const out = new Float32Array(users.length * this.nItems);
      users.forEach((user, k) => {
        const x = this.userData.subarray(user * columns, (user + 1) * columns);
        scoreAll(x, this.itemData, columns, out.subarray(k * this.nItems, (k + 1) * this.nItems));
      });
      return out;
    }
    const items = idsInRange("itemIds", itemIds, this.nItems, "items");
    if (typeof userIds !== "number" && users.length !== items.length) {
      throw new RangeError(
        `Expected userIds and itemIds to have the same length but found ${users.length} and ${items.length}`,
      );
    }
    const out = new Float32Array(items.length);
    items.forEach((item, k) => {
      const user = typeof userIds === "number" ? users[0]! : users[k]!;
      out[k] = dot(this.userData, user * columns, this.itemData, item * columns, columns);
    });
    return out;
  }

  /**
   * `similarItems` and `similarUsers` rank by the cosine of the embeddings
   * alone (x_u or y_i, without biases or constant columns): what a Spotlight
   * user computes from `item_embeddings.weight`.
   */
  protected override similarityFactors(side: "users" | "items"): FactorMatrix {
    const data = side === "users" ? this.userData : this.itemData;
    const rows = data.length / this.rank;
    const d = this.rank - 2;
    const embeddings = new Float32Array(rows * d);
    for (let r = 0; r < rows; r++) {
      embeddings.set(data.subarray(r * this.rank, r * this.rank + d), r * d);
    }
    return { data: embeddings, shape: [rows, d] };
  }

  /** Factors cannot be assigned: they come with Adam state that `fit` owns. */
  override assignFactors(_users: FactorMatrix, _items: FactorMatrix): never {
    throw new TypeError(
      `${this.constructor.name} keeps Adam moments with its factors: they cannot be assigned (fit it, or load a saved model)`,
    );
  }

  /** The factor rows, both sides' Adam moments, the step count and the generator's state. */
  protected override stateArrays(): Record<string, TacitArray> {
    const adam = this.#adam!;
    const userShape = [this.nUsers, this.rank];
    const itemShape = [this.nItems, this.rank];
    return {
      ...super.stateArrays(),
      userFirst: { array: adam.userFirst, shape: userShape },
      userSecond: { array: adam.userSecond, shape: userShape },
      itemFirst: { array: adam.itemFirst, shape: itemShape },
      itemSecond: { array: adam.itemSecond, shape: itemShape },
      adamStep: { array: Float64Array.of(adam.step), shape: [1] },
      random: { array: new Int32Array(adam.random.state().buffer), shape: [4] },
    };
  }

  /** Takes the factors and the optimiser state from a file, checking each as fit's results. */
  protected override restoreState(file: TacitFile, path: string): void {
    // Shapes, finiteness and the columns the params give: the base class's checks.
    super.restoreState(file, path);
    const columns = this.embeddingDim + 2;
    const users = this.userData;
    const items = this.itemData;
    checkConstantColumn(users, "userFactors", columns, columns - 1, path);
    checkConstantColumn(items, "itemFactors", columns, columns - 2, path);
    const userShape = [users.length / columns, columns];
    const itemShape = [items.length / columns, columns];
    const moment = (name: string, shape: number[], second: boolean) => {
      const values = inFile(path, () => expectArray(file, name, "f32", shape));
      const bad = values.findIndex((v) => !Number.isFinite(v) || (second && v < 0));
      if (bad >= 0) {
        throw new TacitFileError(
          `Expected array '${name}' in ${path} to hold finite${
            second ? ", non-negative" : ""
          } Adam moments but found ${values[bad]} at [${bad}]`,
          path,
        );
      }
      return values;
    };
    const [step] = inFile(path, () => expectArray(file, "adamStep", "f64", [1]));
    if (!Number.isInteger(step) || step! < 0 || step! > INT32_MAX) {
      throw new TacitFileError(
        `Expected array 'adamStep' in ${path} to hold a step count in 0..2^31 - 1 but found ${step}`,
        path,
      );
    }
    const words = inFile(path, () => expectArray(file, "random", "i32", [4]));
    const random = inFile(
      path,
      () => Random.fromState(new Uint32Array(words.buffer, words.byteOffset, 4)),
    );
    const adam: AdamState = {
      userFirst: moment("userFirst", userShape, false),
      userSecond: moment("userSecond", userShape, true),
      itemFirst: moment("itemFirst", itemShape, false),
      itemSecond: moment("itemSecond", itemShape, true),
      step: step!,
      random,
    };
    this.#adam = adam;
  }

  /** Reads a model written by `save`; refuses a file of another kind or inconsistent contents. */
  static load(path: string): Promise<MinibatchFactorization> {
    return loadAs(MinibatchFactorization, path);
  }
}

/** Rows of d embedding values from N(0, (1/d)²), then [0 (bias), 1] in the order the side keeps them. */
function initialRows(
  rows: number,
  d: number,
  constantColumn: number,
  random: Random,
): Float32Array {
  const columns = d + 2;
  const embeddings = random.fillNormal(new Float32Array(rows * d), 0, 1 / d);
  const out = new Float32Array(rows * columns);
  for (let r = 0; r < rows; r++) {
    out.set(embeddings.subarray(r * d, (r + 1) * d), r * columns);
    out[r * columns + constantColumn] = 1;
  }
  return out;
}

/** The (user, item) pair of every stored entry, interleaved, in row order. */
function pairsOf(matrix: CsrMatrix): Int32Array {
  const pairs = new Int32Array(2 * matrix.nnz);
  for (let row = 0; row < matrix.nRows; row++) {
    for (let nz = matrix.indptr[row]!; nz < matrix.indptr[row + 1]!; nz++) {
      pairs[2 * nz] = row;
      pairs[2 * nz + 1] = matrix.indices[nz]!;
    }
  }
  return pairs;
}

function dot(a: Float32Array, aStart: number, b: Float32Array, bStart: number, n: number): number {
  let sum = 0;
  for (let c = 0; c < n; c++) sum += a[aStart + c]! * b[bStart + c]!;
  return sum;
}

function scoreAll(x: Float32Array, items: Float32Array, columns: number, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = dot(x, 0, items, i * columns, columns);
}

/** A saved factor matrix's constant column (a bias's partner): 1 in every row. */
function checkConstantColumn(
  values: Float32Array,
  name: string,
  columns: number,
  constantColumn: number,
  path: string,
): void {
  for (let k = constantColumn; k < values.length; k += columns) {
    if (values[k] !== 1) {
      throw new TacitFileError(
        `Expected array '${name}' in ${path} to hold 1 in its constant column but found ${
          values[k]
        } at [${Math.floor(k / columns)}, ${constantColumn}]`,
        path,
      );
    }
  }
}
