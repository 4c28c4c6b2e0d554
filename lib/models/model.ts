/**
 * What every model shares, whatever its state: its kind, its options (through
 * its schema), the fitted check, the checks of a user × item input, the
 * query surface every model offers, and persistence as one tacit file (the
 * kind, the options as `params`, the fitted state as named arrays).
 *
 * @module
 */
import {
  readTacitFile,
  type TacitArray,
  type TacitFile,
  TacitFileError,
  writeTacitFile,
} from "../io/format.ts";
import { checkCsrMatrix, type CsrMatrix } from "../sparse.ts";
import { NotFittedError } from "../errors.ts";
import {
  type OptionSchema,
  type OptionsOf,
  type OptionSpec,
  type OptionValues,
  resolveOptions,
  setOptions,
} from "./options.ts";
import type { Ranked, RankedBatch, RankOptions } from "./query.ts";

/** The options of `recommend` that every model takes. */
export interface ModelRecommendOptions extends RankOptions {
  /** Leave out the items the user already has in `userItems` (true). */
  filterAlreadyLiked?: boolean;
}

/** A model class as the registry and `load` see it: its file kind, its constructor and `load`. */
export interface ModelClass<M extends Model = Model> {
  /** The kind its files have. */
  readonly kind: string;
  /** The schema version its files have: `save` writes it, `load` refuses a newer one. */
  readonly schemaVersion: number;
  /** Builds an unfitted model from an options object. */
  new (options?: never): M;
  /** Reads a model of this class written by `save`. */
  load(path: string): Promise<M>;
  /** Rebuilds a model of this class from a file `readTacitFile` returned. */
  fromFile(file: TacitFile, path: string): NoInfer<M>;
}

/** What every model's schema holds: `numThreads`, the thread override of its fit loop. */
export type ModelSchema = OptionSchema & { readonly numThreads: OptionSpec<number> };

/**
 * The base of every model. A subclass declares `static kind`, passes its
 * schema to this constructor, keeps its fitted state, and says how that state
 * is written to arrays and read back.
 */
export abstract class Model<S extends ModelSchema = ModelSchema> {
  /**
   * The schema version of the files `save` writes (the `version` of
   * lib/io/format.ts); `load` refuses a file with a newer one.
   */
  static readonly schemaVersion: number = 1;
  /** The option schema this model was built with. */
  readonly schema: S;
  /** Every option's value, defaults applied. */
  protected readonly options: OptionValues<S>;
  /** Threads for fit (0: the pool as it is). */
  readonly numThreads: number;

  /**
   * Validates the options through the schema.
   * @param schema The options the model takes.
   * @param options The user's options, validated against `schema`.
   */
  protected constructor(schema: S, options: OptionsOf<S>) {
    this.schema = schema;
    this.options = resolveOptions(schema, options, this.constructor.name);
    this.numThreads = this.options.numThreads;
  }

  /** The file kind `save` writes and `load` checks: the class's `static kind`. */
  get kind(): string {
    return (this.constructor as ModelClass).kind;
  }

  /** Users of the fitted model (0 before fit). */
  abstract get nUsers(): number;

  /** Items of the fitted model (0 before fit). */
  abstract get nItems(): number;

  /**
   * The options the model was built with, as an options object (unset options
   * left out): `new Model(model.parameters())` builds the same unfitted model.
   */
  parameters(): OptionsOf<S> {
    return setOptions(this.options);
  }

  /**
   * The top `n` items for one user (`{ids, scores}`, best first) or for a batch
   * of users (flat `[users, n]` arrays, padded with −1 / −Infinity).
   */
  abstract recommend(
    userid: number,
    userItems: CsrMatrix,
    options?: ModelRecommendOptions,
  ): Ranked;
  /** The top `n` items for each user of a batch: flat `[users, n]` arrays. */
  abstract recommend(
    userid: ArrayLike<number>,
    userItems: CsrMatrix,
    options?: ModelRecommendOptions,
  ): RankedBatch;

  /** The items most similar to one item, or to each item of a batch, best first. */
  abstract similarItems(itemid: number, options?: RankOptions): Ranked;
  /** The items most similar to each item of a batch: flat `[items, n]` arrays. */
  abstract similarItems(itemid: ArrayLike<number>, options?: RankOptions): RankedBatch;

  /** Whether the model holds fitted (or loaded) state. */
  protected abstract isFitted(): boolean;

  /** The fitted state as named arrays, as `save` writes them. */
  protected abstract stateArrays(): Record<string, TacitArray>;

  /** Takes the fitted state from a file's arrays, checking them. */
  protected abstract restoreState(file: TacitFile, path: string): void;

  /**
   * Refuses to go on with an unfitted model.
   * @param what The method or property that needs a fitted model, e.g. `"recommend()"`.
   */
  protected requireFitted(what: string): void {
    if (this.isFitted()) return;
    throw new NotFittedError(
      this.#fitRunning
        ? `${what} needs a fitted model, and its first fit() is still running: await model.fit(...) before using the model`
        : `${what} needs a fitted model: call fit() or load() first`,
    );
  }

  /**
   * Refuses a change of the fitted state while a fit runs: the fit would
   * replace it when it completes.
   * @param what The method, e.g. `"partialFitUsers()"`.
   */
  protected requireNoFitRunning(what: string): void {
    if (this.#fitRunning) {
      throw new Error(
        `${what} cannot change the model while its fit() is running (the fit would overwrite it): await the fit first`,
      );
    }
  }

  /** Set while a fit() runs on this model. */
  #fitRunning = false;

  /**
   * Marks a fit as running until the returned object is disposed (`using
   * _fit = this.startFit()` as a fit's first statement). A second fit while
   * one runs is refused: both would commit, and the last to finish would win.
   * Queries during a refit see the factors of the previous fit.
   *
   * @returns A disposable that ends the fit.
   * @throws Error when a fit of this model is already running.
   */
  protected startFit(): Disposable {
    if (this.#fitRunning) {
      throw new Error(
        `fit() is already running on this ${this.constructor.name}: await it before fitting again`,
      );
    }
    this.#fitRunning = true;
    return { [Symbol.dispose]: () => void (this.#fitRunning = false) };
  }

  /** Checks that a user × item matrix has one column per item of the model. */
  protected checkUserItems(userItems: CsrMatrix, name = "userItems"): void {
    checkColumns(name, userItems, this.nItems, "items");
  }

  /**
   * Writes the model to one checked file: its kind, its parameters and its
   * fitted state (written to a temporary file and renamed, so an existing file
   * is never left half-written).
   */
  async save(path: string): Promise<void> {
    this.requireFitted("save()");
    await writeTacitFile(path, {
      kind: this.kind,
      version: (this.constructor as ModelClass).schemaVersion,
      params: this.parameters(),
      arrays: this.stateArrays(),
    });
  }

  /**
   * Rebuilds a model of this class from a file read by `readTacitFile`: refuses
   * a file of another kind or of a newer schema version, validates its params
   * through the class's option schema and checks its arrays as strictly as
   * `fit`'s results. Every refusal is a TacitFileError naming `path`.
   *
   * @param file What `readTacitFile` returned.
   * @param path The file's path, for messages.
   */
  static fromFile<M extends Model>(this: ModelClass<M>, file: TacitFile, path: string): M {
    if (file.kind !== this.kind) {
      throw new TacitFileError(
        `Expected a tacit file of kind '${this.kind}' but found '${file.kind}' in ${path}`,
        path,
      );
    }
    if (file.version > this.schemaVersion) {
      throw new TacitFileError(
        `Expected a ${this.kind} file of schema version ${this.schemaVersion} or older but ${path} has version ${file.version}; it was written by a newer tacit`,
        path,
      );
    }
    let model: M;
    try {
      model = new this(file.params as never);
    } catch (error) {
      throw new TacitFileError(
        `Expected the params in ${path} to be options of ${this.name}: ${(error as Error).message}`,
        path,
        { cause: error },
      );
    }
    inFile(path, () => model.restoreState(file, path));
    return model;
  }
}

/**
 * Reads a file written by `save` as a model of class `type`.
 *
 * @param type The class, e.g. `AlternatingLeastSquares`.
 * @param path The file.
 * @returns The model, fitted state and options restored.
 * @throws TacitFileError for a missing, damaged or foreign file, or one of another kind.
 */
export async function loadAs<M extends Model>(type: ModelClass<M>, path: string): Promise<M> {
  return type.fromFile(await readTacitFile(path), path);
}

/**
 * Runs a check of a file's contents, turning what it throws into a
 * TacitFileError that names the file (a TacitFileError passes unchanged).
 *
 * @param path The file, for messages.
 * @param read The check.
 * @returns What `read` returns.
 */
export function inFile<T>(path: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof TacitFileError) throw error;
    throw new TacitFileError(`${(error as Error).message} (in ${path})`, path, { cause: error });
  }
}

/**
 * Refuses a matrix with no stored entry: a fit would have nothing to learn
 * from, and a model fitted on it would rank every item by score 0.
 *
 * @param name The argument's name, e.g. `"userItems"`.
 * @param matrix The fit's matrix.
 */
export function requireEntries(name: string, matrix: CsrMatrix): void {
  if (matrix.nnz === 0) {
    throw new RangeError(
      `Expected ${name} to have at least one stored entry but found none (a [${matrix.shape}] matrix with no entries)`,
    );
  }
}

/**
 * Checks that `matrix` is a CsrMatrix with `columns` columns.
 *
 * @param name The argument's name, e.g. `"userItems"`.
 * @param matrix The value to check.
 * @param columns The number of columns it must have.
 * @param what The plural noun for the columns, e.g. `"items"`.
 */
export function checkColumns(
  name: string,
  matrix: CsrMatrix,
  columns: number,
  what: string,
): void {
  checkCsrMatrix(name, matrix);
  if (matrix.nCols !== columns) {
    throw new RangeError(
      `${name} has ${matrix.nCols} columns but the model has ${columns} ${what}`,
    );
  }
}

/**
 * The matrix a fit trains on: a checked private copy of `matrix`. A fit's
 * native calls are nonblocking on Deno, so JavaScript runs while a worker
 * thread reads the matrix; reading a copy nobody else holds means code that
 * changes the caller's arrays during a fit cannot change them under a kernel
 * (each call also re-validates what it is given). Costs one copy of the
 * input per fit (0.15–0.22 s and 140 MB at 17.5M nonzeros).
 *
 * @param name The argument's name.
 * @param matrix The caller's matrix.
 * @returns A copy that only the fit holds.
 */
export function fitInput(name: string, matrix: unknown): CsrMatrix {
  checkCsrMatrix(name, matrix);
  try {
    return matrix.copy();
  } catch (error) {
    // The copy re-validates every entry: only an in-place change gets here.
    if (!(error instanceof RangeError || error instanceof TypeError)) throw error;
    const Kind = error instanceof RangeError ? RangeError : TypeError;
    throw new Kind(
      `${name} no longer forms a valid CSR matrix (its arrays changed in place after it was built): ${error.message}`,
    );
  }
}
