/**
 * Every model class by the kind its files have, and {@link loadModel}, which
 * opens any saved model.
 *
 * @module
 */
import { readTacitFile, TacitFileError } from "../io/format.ts";
import { AlternatingLeastSquares } from "./als.ts";
import { BayesianPersonalizedRanking } from "./bpr.ts";
import { HybridFactorization } from "./hybrid.ts";
import { LogisticMatrixFactorization } from "./lmf.ts";
import { MinibatchFactorization } from "./minibatch.ts";
import type { Model, ModelClass } from "./model.ts";
import {
  BM25Recommender,
  CosineRecommender,
  ItemItemRecommender,
  TFIDFRecommender,
} from "./nearest_neighbours.ts";

/** The model classes by file kind: `als`, `bpr`, `lmf`, `hybrid`, `minibatch`, `itemitem`, `cosine`, `tfidf`, `bm25`. */
export const MODEL_CLASSES: ReadonlyMap<string, ModelClass> = new Map(
  [
    AlternatingLeastSquares,
    BayesianPersonalizedRanking,
    LogisticMatrixFactorization,
    HybridFactorization,
    MinibatchFactorization,
    ItemItemRecommender,
    CosineRecommender,
    TFIDFRecommender,
    BM25Recommender,
  ].map((type): [string, ModelClass] => [type.kind, type]),
);

/**
 * Opens a model saved by any model's `save`: reads the file's kind and
 * rebuilds a model of that class (its options checked by the class's schema).
 * Narrow the result with `instanceof` to reach a class's own methods.
 *
 * @param path The file.
 * @returns The model, of the class that saved it.
 * @throws TacitFileError for a missing, damaged or foreign file, or a kind no model has.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CosineRecommender, CsrMatrix, loadModel } from "../../mod.ts";
 * const plays = CsrMatrix.fromDense([[1, 1, 0], [0, 1, 1]]);
 * const model = await new CosineRecommender({ k: 2 }).fit(plays, { progress: false });
 * const path = await Deno.makeTempFile({ suffix: ".tacit" });
 * await model.save(path);
 * const loaded = await loadModel(path);
 * assert.ok(loaded instanceof CosineRecommender);
 * assert.deepEqual(loaded.parameters(), { k: 2, numThreads: 0 });
 * assert.deepEqual(loaded.recommend(0, plays), model.recommend(0, plays));
 * ```
 */
export async function loadModel(path: string): Promise<Model> {
  const file = await readTacitFile(path);
  const type = MODEL_CLASSES.get(file.kind);
  if (type === undefined) {
    throw new TacitFileError(
      `Expected a model file of kind ${
        [...MODEL_CLASSES.keys()].map((kind) => `'${kind}'`).join(", ")
      } but found '${file.kind}' in ${path}`,
      path,
    );
  }
  return type.fromFile(file, path);
}
