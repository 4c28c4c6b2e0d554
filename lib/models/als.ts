/**
 * Implicit-feedback alternating least squares: Hu, Koren & Volinsky,
 * "Collaborative Filtering for Implicit Feedback Datasets" (ICDM 2008), with
 * the conjugate-gradient solver of Takács, Pilászy & Tikk, "Applications of the
 * conjugate gradient method for implicit feedback collaborative filtering"
 * (RecSys 2011). The per-row solves run in `zig/als.zig`.
 *
 * Preference and confidence: a stored value v > 0 means preference p = 1, v < 0
 * a dislike (p = 0); a missing entry has p = 0, c = 1. The confidence of a
 * stored value is, by the `confidence` option, c = alpha·|v| ("alphaValue", the
 * default: Python `implicit`'s rule, whose fit scales the matrix by alpha and
 * reads the values as confidences, so the same parameters give the same model)
 * or c = 1 + alpha·|v| ("onePlusAlphaValue": Hu et al.'s eq. 6).
 *
 * @module
 */
import {
  callNative,
  callNativeAsync,
  type CallOptions,
  NativeError,
  Status,
} from "../native/library.ts";
import { Random } from "../random.ts";
import type { CsrMatrix } from "../sparse.ts";
import { describe, idInRange, idsInRange, knownOptions, positiveInteger } from "../validate.ts";
import { choleskySolve } from "../linalg.ts";
import {
  type CommonModelOptions,
  commonOptions,
  MatrixFactorizationBase,
  resolveDevice,
} from "./matrix_factorization.ts";
import { alsLossOnGpu, alsSolveOnGpu, GpuCsr, GpuFactors, type GpuStorage } from "../native/gpu.ts";
import { checkColumns, fitInput, loadAs, Model, type ModelClass, requireEntries } from "./model.ts";
import { type TacitFile, TacitFileError } from "../io/format.ts";
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

/** Options of {@link AlternatingLeastSquares}, with `implicit`'s defaults. */
export interface AlternatingLeastSquaresOptions extends CommonModelOptions {
  /** Latent factors per user and item (100; at most 1024). */
  factors?: number;
  /** λ, the L2 penalty on every factor (0.01). */
  regularization?: number;
  /** Confidence scale: c = alpha·|value|, or 1 + alpha·|value| by `confidence` (1.0). */
  alpha?: number;
  /**
   * The confidence of a stored value v: "alphaValue" (default) is c = alpha·|v|,
   * Python `implicit`'s rule; "onePlusAlphaValue" is c = 1 + alpha·|v|, Hu et
   * al. 2008's eq. 6. A missing entry has c = 1 under both.
   */
  confidence?: ConfidenceRule;
  /** Full sweeps (users then items) per fit (15; at most 100000). */
  iterations?: number;
  /** "cg" (conjugate gradient, default) or "cholesky" (exact solve). */
  solver?: "cg" | "cholesky";
  /**
   * Conjugate-gradient steps per row and sweep (3; at most 1024: CG solves a
   * row's `factors` × `factors` system in at most `factors` steps, and
   * `factors` is at most 1024).
   */
  cgSteps?: number;
  /** Compute the training loss after every iteration (false). */
  calculateTrainingLoss?: boolean;
  /**
   * How the factors are stored in GPU memory with `device: "gpu"`
   * ("float32"; "float16" or "bfloat16" halve the memory, every product
   * still accumulating in float32). The host copy is float32 either way.
   */
  gpuStorage?: GpuStorage;
}

/** How ALS turns a stored value into a confidence (the `confidence` option). */
export type ConfidenceRule = "alphaValue" | "onePlusAlphaValue";

/** Options of {@link AlternatingLeastSquares.fit}. */
export interface FitOptions {
  /** Progress bar on stderr (default: on when stderr is a terminal and TACIT_PROGRESS is not 0). */
  progress?: boolean;
  /** Called after each iteration; loss is NaN unless calculateTrainingLoss is set. */
  callback?: (iteration: number, seconds: number, loss: number) => void;
  /**
   * Aborts the fit, inside a half-sweep's native call too (within about a
   * millisecond of work; on Bun at the end of the running call); the model
   * keeps the factors it had before fit.
   */
  signal?: AbortSignal;
}

/** What `explain` returns, as `implicit`'s explain. */
export interface Explanation {
  /** The predicted score of the item, equal to the sum of every contribution. */
  score: number;
  /** The liked items contributing most to the score, largest first. */
  contributions: { ids: Int32Array; scores: Float32Array };
}

/** The schema of {@link AlternatingLeastSquaresOptions}. */
const schema: SchemaFor<AlternatingLeastSquaresOptions, "randomState"> = {
  factors: integer({
    default: 100,
    min: 1,
    max: FACTORS_MAX,
    doc: `Latent factors per user and item, at most ${FACTORS_MAX} (each row solves a ` +
      "factors × factors system: the cost grows as factors² to factors³).",
  }),
  regularization: real({
    default: 0.01,
    min: 0,
    max: FLOAT32_MAX,
    doc: "λ, the L2 penalty on every factor.",
  }),
  alpha: real({
    default: 1.0,
    min: 0,
    max: FLOAT32_MAX,
    doc: "Confidence scale: c = alpha·|value| (or 1 + alpha·|value|, by confidence).",
  }),
  confidence: choice<ConfidenceRule>({
    default: "alphaValue",
    allowed: ["alphaValue", "onePlusAlphaValue"],
    doc: 'The confidence of a stored value v: "alphaValue" is c = alpha·|v| (Python ' +
      'implicit\'s rule), "onePlusAlphaValue" is c = 1 + alpha·|v| (Hu et al. 2008).',
  }),
  iterations: integer({
    default: 15,
    min: 0,
    max: ITERATIONS_MAX,
    doc: `Full sweeps (users then items) per fit, ${ITERATIONS_BOUND}.`,
  }),
  solver: choice({
    default: "cg",
    allowed: ["cg", "cholesky"],
    doc: '"cg" (conjugate gradient) or "cholesky" (exact solve).',
  }),
  cgSteps: integer({
    default: 3,
    min: 1,
    max: FACTORS_MAX,
    doc: `Conjugate-gradient steps per row and sweep, at most ${FACTORS_MAX}: CG solves a ` +
      "row's factors × factors system in at most factors steps, so more never help, and " +
      "each costs a pass over the row's nonzeros.",
  }),
  calculateTrainingLoss: flag({
    default: false,
    doc: "Compute the training loss after every iteration.",
  }),
  gpuStorage: choice<GpuStorage>({
    default: "float32",
    allowed: ["float32", "float16", "bfloat16"],
    doc: 'GPU storage of the factors ("float16"/"bfloat16" halve it; arithmetic stays float32).',
  }),
  ...commonOptions,
};

const solverCodes = { cg: 0, cholesky: 1 } as const;
/** The native `confidence` codes (zig/als.zig Confidence). */
const confidenceCodes = { alphaValue: 0, onePlusAlphaValue: 1 } as const;

/** The confidence c of a stored value under `rule`: the TypeScript side's one copy. */
function confidenceOf(rule: ConfidenceRule, alpha: number, value: number): number {
  const scaled = alpha * Math.abs(value);
  return rule === "alphaValue" ? scaled : 1 + scaled;
}

/**
 * Implicit-feedback ALS with `implicit`'s options and defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AlternatingLeastSquares, CsrMatrix } from "../../mod.ts";
 * const plays = CsrMatrix.fromDense([[1, 0, 3], [0, 2, 1]]);
 * const model = new AlternatingLeastSquares({ factors: 2, iterations: 3, randomState: 1 });
 * await model.fit(plays, { progress: false });
 * assert.deepEqual([...model.recommend(0, plays, { n: 1 }).ids], [1]);
 * assert.deepEqual(new AlternatingLeastSquares(model.parameters()).parameters(), model.parameters());
 * ```
 */
export class AlternatingLeastSquares
  extends MatrixFactorizationBase<SchemaFor<AlternatingLeastSquaresOptions, "randomState">> {
  /** The kind of the files `save` writes. */
  static readonly kind: string = "als";
  /** Version 2 records `confidence`; version 1 files predate it. */
  static override readonly schemaVersion: number = 2;

  /** The factor columns fit gives: factors. */
  protected fittedColumns(): { columns: number; rule: string } {
    return { columns: this.factors, rule: "factors" };
  }
  /** Latent factors per user and item. */
  readonly factors: number = this.options.factors;
  /** λ, the L2 penalty on every factor. */
  readonly regularization: number = this.options.regularization;
  /** Confidence scale: c = alpha·|value|, or 1 + alpha·|value| by {@link confidence}. */
  readonly alpha: number = this.options.alpha;
  /** How a stored value becomes a confidence. */
  readonly confidence: ConfidenceRule = this.options.confidence;
  /** Full sweeps per fit. */
  readonly iterations: number = this.options.iterations;
  /** The per-row solver of fit. */
  readonly solver: "cg" | "cholesky" = this.options.solver;
  /** Conjugate-gradient steps per row and sweep. */
  readonly cgSteps: number = this.options.cgSteps;
  /** Whether fit computes the loss after every iteration. */
  readonly calculateTrainingLoss: boolean = this.options.calculateTrainingLoss;
  /** The factors' storage in GPU memory. */
  readonly gpuStorage: GpuStorage = this.options.gpuStorage;
  /** YᵀY + λI of the current item factors, kept for explain. */
  #itemGram: { source: Float32Array; gram: Float32Array } | undefined;

  /**
   * Builds an unfitted model.
   * @param options The model's options; unknown keys are refused.
   */
  constructor(options: AlternatingLeastSquaresOptions = {}) {
    super(schema, options);
  }

  /**
   * Fits user and item factors to a user × item matrix of interaction strengths.
   * Warm-starts from the current factors when their shapes match, as `implicit`.
   * The model is only updated when fit completes: an abort or an error leaves it
   * as it was.
   */
  async fit(userItems: CsrMatrix, options: FitOptions = {}): Promise<this> {
    using _fit = this.startFit();
    options = fitOptions("fit()", options);
    userItems = fitInput("userItems", userItems);
    requireEntries("userItems", userItems);
    const [nUsers, nItems] = userItems.shape;
    const f = this.factors;
    const itemUsers = userItems.transpose();
    const { users, items } = this.startingFactors(userItems.shape, f, (users, items) => {
      // implicit's initialisation: uniform in [0, 0.01).
      const random = new Random(this.randomState);
      random.fillUniform(users, 0, 0.01);
      random.fillUniform(items, 0, 0.01);
    });
    if (resolveDevice(this.device, "ALS fit()", true) === "gpu") {
      return await this.fitOnGpu(userItems, itemUsers, users, items, options);
    }
    let loss = Number.NaN;
    try {
      await runIterations({
        label: "ALS",
        iterations: this.iterations,
        progress: options.progress,
        signal: options.signal,
        step: async () => {
          await this.halfSweep(userItems, users, items, nItems, options.signal);
          options.signal?.throwIfAborted();
          await this.halfSweep(itemUsers, items, users, nUsers, options.signal);
          if (this.calculateTrainingLoss) {
            options.signal?.throwIfAborted();
            loss = await alsLoss(
              userItems,
              users,
              items,
              f,
              this.regularization,
              this.alpha,
              this.confidence,
              { threads: this.numThreads, signal: options.signal },
            );
          }
        },
        report: (iteration, seconds) => {
          options.callback?.(iteration, seconds, loss);
          return this.calculateTrainingLoss ? { loss: loss.toFixed(6) } : {};
        },
      });
    } catch (error) {
      if (error instanceof NativeError && error.status === Status.numerical) {
        throw new RangeError(
          `ALS diverged (${error.message}); the model was left unchanged. ${DIVERGENCE_ADVICE}`,
        );
      }
      throw error;
    }
    this.commitFactors("ALS", users, items, f, DIVERGENCE_ADVICE);
    return this;
  }

  /** The GPU storage of the factors (the `gpuStorage` option). */
  protected override deviceStorage(): GpuStorage {
    return this.gpuStorage;
  }

  /**
   * fit on the GPU (cuda/als.cu): the same iterations as the CPU's on device
   * copies of both matrices and both factor sets; the factors are copied back
   * once at the end, and the model keeps the device copies for its queries.
   */
  private async fitOnGpu(
    userItems: CsrMatrix,
    itemUsers: CsrMatrix,
    users: Float32Array,
    items: Float32Array,
    options: FitOptions,
  ): Promise<this> {
    const [nUsers, nItems] = userItems.shape;
    const f = this.factors;
    const solve = {
      solver: this.solver,
      cgSteps: this.cgSteps,
      regularization: this.regularization,
      alpha: this.alpha,
      confidence: confidenceCodes[this.confidence],
    };
    using byUser = GpuCsr.upload(userItems, { values: true });
    using byItem = GpuCsr.upload(itemUsers, { values: true });
    const gpuUsers = GpuFactors.upload(users, nUsers, f, this.gpuStorage);
    let gpuItems: GpuFactors | undefined;
    let loss = Number.NaN;
    try {
      const deviceItems = gpuItems = GpuFactors.upload(items, nItems, f, this.gpuStorage);
      await runIterations({
        label: "ALS (GPU)",
        iterations: this.iterations,
        progress: options.progress,
        signal: options.signal,
        step: async () => {
          const call = { signal: options.signal };
          await alsSolveOnGpu(byUser, gpuUsers, deviceItems, solve, call);
          options.signal?.throwIfAborted();
          await alsSolveOnGpu(byItem, deviceItems, gpuUsers, solve, call);
          if (this.calculateTrainingLoss) {
            options.signal?.throwIfAborted();
            const [objective, total] = await alsLossOnGpu(
              byUser,
              gpuUsers,
              deviceItems,
              solve,
              call,
            );
            loss = objective / total;
          }
        },
        report: (iteration, seconds) => {
          options.callback?.(iteration, seconds, loss);
          return this.calculateTrainingLoss ? { loss: loss.toFixed(6) } : {};
        },
      });
      this.commitFactors("ALS", gpuUsers.download(), deviceItems.download(), f, DIVERGENCE_ADVICE, {
        users: gpuUsers,
        items: deviceItems,
      });
    } catch (error) {
      gpuUsers.dispose();
      gpuItems?.dispose();
      if (error instanceof NativeError && error.status === Status.numerical) {
        throw new RangeError(
          `ALS diverged (${error.message}); the model was left unchanged. ${DIVERGENCE_ADVICE}`,
        );
      }
      throw error;
    }
    return this;
  }

  /**
   * One half-sweep of fit: solves every row of `rows` against the fixed side.
   * An abort stops the native call (leaving `solved` partly updated: fit
   * works on copies) and rejects with the signal's reason.
   */
  private halfSweep(
    rows: CsrMatrix,
    solved: Float32Array,
    fixed: Float32Array,
    nFixed: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    return callNativeAsync("tacit_als_solve", {
      solver: solverCodes[this.solver],
      cg_steps: this.cgSteps,
      n_rows: rows.nRows,
      indptr: rows.indptr,
      indices: rows.indices,
      data: rows.data,
      x: solved,
      y: fixed,
      n_other: nFixed,
      f: this.factors,
      regularization: this.regularization,
      alpha: this.alpha,
      confidence: confidenceCodes[this.confidence],
    }, { threads: this.numThreads, signal });
  }

  /**
   * Exact (Cholesky) solve of each row against fixed factors: on the GPU
   * against its copy of `fixed` when the model is there.
   */
  private solveRows(rows: CsrMatrix, fixed: Float32Array): Float32Array {
    const gpu = this.gpuFactors();
    if (gpu !== undefined && rows.nRows > 0) {
      const fixedOnGpu = fixed === this.itemData
        ? gpu.items
        : fixed === this.userData
        ? gpu.users
        : undefined;
      if (fixedOnGpu !== undefined) return this.solveRowsOnGpu(rows, fixedOnGpu);
    }
    const out = new Float32Array(rows.nRows * this.rank);
    callNative("tacit_als_solve", {
      solver: solverCodes.cholesky,
      cg_steps: this.cgSteps,
      n_rows: rows.nRows,
      indptr: rows.indptr,
      indices: rows.indices,
      data: rows.data,
      x: out,
      y: fixed,
      n_other: fixed.length / this.rank,
      f: this.rank,
      regularization: this.regularization,
      alpha: this.alpha,
      confidence: confidenceCodes[this.confidence],
    });
    return out;
  }

  /** As {@link solveRows}, on the GPU (recalculateUser, partial fits of a model there). */
  private solveRowsOnGpu(rows: CsrMatrix, fixed: GpuFactors): Float32Array {
    using matrix = GpuCsr.upload(rows, { values: true });
    using solved = GpuFactors.upload(
      new Float32Array(rows.nRows * this.rank),
      rows.nRows,
      this.rank,
      fixed.storage,
    );
    callNative("tacit_gpu_als_solve", {
      ratings: matrix.handle,
      x: solved.handle,
      y: fixed.handle,
      solver: solverCodes.cholesky,
      cg_steps: this.cgSteps,
      regularization: this.regularization,
      alpha: this.alpha,
      confidence: confidenceCodes[this.confidence],
    });
    return solved.download();
  }

  /** Checks that an item × user matrix has one column per user of the model. */
  private checkItemUsers(itemUsers: CsrMatrix): void {
    checkColumns("itemUsers", itemUsers, this.nUsers, "users");
  }

  /** Exact solves of users' rows, for `recommend` with `recalculateUser`. */
  protected override solveUsers(userRows: CsrMatrix): Float32Array {
    return this.solveRows(userRows, this.itemData);
  }

  /** The training objective of the current factors, normalised as `implicit` does. */
  async loss(userItems: CsrMatrix): Promise<number> {
    this.requireFitted("loss()");
    this.checkUserItems(userItems);
    if (userItems.nRows !== this.nUsers) {
      throw new RangeError(
        `userItems has ${userItems.nRows} rows but the model has ${this.nUsers} users`,
      );
    }
    const gpu = this.gpuFactors();
    if (gpu !== undefined) {
      using matrix = GpuCsr.upload(userItems, { values: true });
      const [objective, total] = await alsLossOnGpu(matrix, gpu.users, gpu.items, {
        regularization: this.regularization,
        alpha: this.alpha,
        confidence: confidenceCodes[this.confidence],
      });
      return objective / total;
    }
    return await alsLoss(
      userItems,
      this.userData,
      this.itemData,
      this.rank,
      this.regularization,
      this.alpha,
      this.confidence,
    );
  }

  /**
   * Solves fresh factors for users from their rows, exactly (Cholesky), against
   * the current item factors. One id gives a Float32Array of `factors`; a batch
   * gives row-major `[ids, factors]`.
   * @param userItems Rows indexed by user id, as for `recommend`.
   */
  recalculateUser(userid: number | ArrayLike<number>, userItems: CsrMatrix): Float32Array {
    this.requireFitted("recalculateUser()");
    this.checkUserItems(userItems);
    const ids = idsInRange("userid", userid, userItems.nRows, "rows in userItems");
    return this.solveRows(userItems.rows(ids), this.itemData);
  }

  /** As {@link recalculateUser} for items, from an item × user matrix. */
  recalculateItem(itemid: number | ArrayLike<number>, itemUsers: CsrMatrix): Float32Array {
    this.requireFitted("recalculateItem()");
    this.checkItemUsers(itemUsers);
    const ids = idsInRange("itemid", itemid, itemUsers.nRows, "rows in itemUsers");
    return this.solveRows(itemUsers.rows(ids), this.userData);
  }

  /**
   * Refits the factors of the given users from their rows (exact solve against
   * the current items), adding users whose id is beyond the model, as
   * `implicit`'s partial_fit_users. Row k of `userItems` belongs to `userids[k]`.
   * Users added between the old count and a new id get zero factors. One call
   * grows the model by at most `userItems.nRows` + {@link PARTIAL_FIT_SLACK}
   * users (so a stray id cannot allocate gigabytes).
   */
  partialFitUsers(userids: ArrayLike<number>, userItems: CsrMatrix): void {
    this.requireFitted("partialFitUsers()");
    this.requireNoFitRunning("partialFitUsers()");
    this.checkUserItems(userItems);
    const ids = growthIds("userids", userids, "userItems", userItems.nRows, this.nUsers, "users");
    const solved = this.solveRows(userItems, this.itemData);
    this.setFactors(scatterRows(this.userData, this.rank, ids, solved), this.itemData, this.rank);
  }

  /** As {@link partialFitUsers} for items; row k of `itemUsers` belongs to `itemids[k]`. */
  partialFitItems(itemids: ArrayLike<number>, itemUsers: CsrMatrix): void {
    this.requireFitted("partialFitItems()");
    this.requireNoFitRunning("partialFitItems()");
    this.checkItemUsers(itemUsers);
    const ids = growthIds("itemids", itemids, "itemUsers", itemUsers.nRows, this.nItems, "items");
    const solved = this.solveRows(itemUsers, this.userData);
    this.setFactors(this.userData, scatterRows(this.itemData, this.rank, ids, solved), this.rank);
  }

  /**
   * Explains a prediction as `implicit` does: with W = (YᵀC_uY + λI)⁻¹, the
   * recalculated score of `itemid` is Σ_{liked j} c_uj · (W y_item)·y_j, and each
   * term is one liked item's contribution. The contributions sum to `score`.
   */
  explain(
    userid: number,
    userItems: CsrMatrix,
    itemid: number,
    options: { n?: number } = {},
  ): Explanation {
    this.requireFitted("explain()");
    knownOptions("explain()", options, ["n"]);
    this.checkUserItems(userItems);
    const user = idInRange("userid", userid, userItems.nRows, "rows in userItems");
    const item = idInRange("itemid", itemid, this.nItems, "items");
    const n = positiveInteger("n", options.n ?? 10);
    const f = this.rank;
    const system = this.userSystem(userItems.row(user));
    const target = this.itemData.subarray(item * f, (item + 1) * f);
    const weighted = choleskySolve(system, Float64Array.from(target), f);
    const { indices, data } = userItems.row(user);
    const liked: number[] = [];
    const terms: number[] = [];
    let score = 0;
    for (let p = 0; p < indices.length; p++) {
      if (data[p]! <= 0) continue;
      const j = indices[p]!;
      let dot = 0;
      for (let d = 0; d < f; d++) dot += weighted[d]! * this.itemData[j * f + d]!;
      const term = confidenceOf(this.confidence, this.alpha, data[p]!) * dot;
      score += term;
      liked.push(j);
      terms.push(term);
    }
    const order = liked.map((_, k) => k).sort((a, b) =>
      terms[b]! - terms[a]! || liked[a]! - liked[b]!
    ).slice(0, n);
    return {
      score,
      contributions: {
        ids: Int32Array.from(order, (k) => liked[k]!),
        scores: Float32Array.from(order, (k) => terms[k]!),
      },
    };
  }

  /** YᵀY + λI + Σ_j (c_j − 1) y_j y_jᵀ for one user's row, in float64. */
  private userSystem(row: { indices: Int32Array; data: Float32Array }): Float64Array {
    const f = this.rank;
    if (this.#itemGram?.source !== this.itemData) {
      const gram = new Float32Array(f * f);
      callNative("tacit_gram", {
        factors: this.itemData,
        n: this.nItems,
        f,
        ridge: this.regularization,
        out: gram,
      });
      this.#itemGram = { source: this.itemData, gram };
    }
    const system = Float64Array.from(this.#itemGram.gram);
    for (let p = 0; p < row.indices.length; p++) {
      const weight = confidenceOf(this.confidence, this.alpha, row.data[p]!) - 1;
      const base = row.indices[p]! * f;
      for (let a = 0; a < f; a++) {
        const ya = weight * this.itemData[base + a]!;
        for (let b = 0; b < f; b++) system[a * f + b]! += ya * this.itemData[base + b]!;
      }
    }
    return system;
  }

  /** Reads a model written by `save`; refuses a file of another kind. */
  static load(path: string): Promise<AlternatingLeastSquares> {
    return loadAs(AlternatingLeastSquares, path);
  }

  /**
   * As {@link Model.fromFile}. A file of schema version 1 was written before the
   * `confidence` option existed, when c = 1 + alpha·|v| was tacit's only rule:
   * it is read as `confidence: "onePlusAlphaValue"`, the rule it was trained
   * with (the new default would silently change the model). A newer file must
   * record its rule.
   */
  static override fromFile<M extends Model>(
    this: ModelClass<M>,
    file: TacitFile,
    path: string,
  ): M {
    if (!Object.hasOwn(file.params, "confidence")) {
      if (file.version >= 2) {
        throw new TacitFileError(
          `Expected the params in ${path} to record confidence (written since schema version 2) but found none`,
          path,
        );
      }
      file = { ...file, params: { ...file.params, confidence: "onePlusAlphaValue" } };
    }
    return Model.fromFile.call(this, file, path) as M;
  }
}

/** The ALS objective normalised by the total confidence, as `implicit`'s calculate_loss. */
async function alsLoss(
  userItems: CsrMatrix,
  users: Float32Array,
  items: Float32Array,
  f: number,
  regularization: number,
  alpha: number,
  confidence: ConfidenceRule,
  call: CallOptions = {},
): Promise<number> {
  const out = new Float64Array(2);
  await callNativeAsync("tacit_als_loss", {
    n_rows: userItems.nRows,
    indptr: userItems.indptr,
    indices: userItems.indices,
    data: userItems.data,
    x: users,
    y: items,
    n_other: items.length / f,
    f,
    regularization,
    alpha,
    confidence: confidenceCodes[confidence],
    out,
  }, call);
  return out[0]! / out[1]!;
}

const DIVERGENCE_ADVICE =
  "Try a larger regularization or a smaller alpha, or check the input for extreme values.";

/** A copy of `matrix` grown to hold every id, with row ids[k] replaced by row k of `rows`. */
/**
 * How far past its rows' count one partial fit may grow a model: ids up to
 * `count + rows + PARTIAL_FIT_SLACK − 1` (zero rows fill the gap).
 */
export const PARTIAL_FIT_SLACK = 1 << 20;

/**
 * Ids of a partial fit, one per row of its matrix; ids past the model grow
 * it, within {@link PARTIAL_FIT_SLACK}.
 */
function growthIds(
  name: string,
  ids: unknown,
  matrixName: string,
  rows: number,
  count: number,
  noun: string,
): Int32Array {
  if (
    typeof ids !== "object" || ids === null ||
    typeof (ids as ArrayLike<unknown>).length !== "number"
  ) {
    throw new TypeError(
      `Expected ${name} to be an array of ids, one per row of ${matrixName}, but found ${
        describe(ids)
      }`,
    );
  }
  const list = ids as ArrayLike<unknown>;
  if (list.length !== rows) {
    throw new RangeError(`${name} has ${list.length} ids but ${matrixName} has ${rows} rows`);
  }
  const limit = count + rows + PARTIAL_FIT_SLACK;
  const out = new Int32Array(rows);
  for (let k = 0; k < rows; k++) {
    const id = list[k];
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= limit) {
      throw new RangeError(
        `${name}[${k}] = ${
          describe(id)
        } is out of range: a partial fit of a model with ${count} ${noun} takes ids in [0, ${limit}) (at most ${rows} + ${PARTIAL_FIT_SLACK} new ${noun} per call)`,
      );
    }
    out[k] = id;
  }
  return out;
}

function scatterRows(
  matrix: Float32Array,
  f: number,
  ids: Int32Array,
  rows: Float32Array,
): Float32Array {
  let count = matrix.length / f;
  for (const id of ids) count = Math.max(count, id + 1);
  const out = new Float32Array(count * f);
  out.set(matrix);
  ids.forEach((id, k) => out.set(rows.subarray(k * f, (k + 1) * f), id * f));
  return out;
}
