import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AlternatingLeastSquares,
  BayesianPersonalizedRanking,
  BM25Recommender,
  CosineRecommender,
  HybridFactorization,
  ItemItemRecommender,
  loadModel,
  LogisticMatrixFactorization,
  MatrixFactorizationBase,
  MinibatchFactorization,
  type Model,
  MODEL_CLASSES,
  NearestNeighboursRecommender,
  TacitFileError,
  TFIDFRecommender,
} from "../mod.ts";
import { readTacitFile, writeTacitFile } from "../lib/io/format.ts";
import { randomMatrix } from "./reference.ts";
import { test } from "./harness.ts";

const dir = mkdtempSync(join(tmpdir(), "tacit-load-model-"));
const quiet = { progress: false } as const;
const plays = randomMatrix(30, 20, 0.2, 21);

type Fittable = Model & { fit(m: typeof plays, o: typeof quiet): Promise<unknown> };

/** One fitted model of every kind, each with options other than the defaults. */
async function fittedModels(): Promise<Fittable[]> {
  const models: Fittable[] = [
    new AlternatingLeastSquares({ factors: 4, iterations: 2, randomState: 1, solver: "cholesky" }),
    new BayesianPersonalizedRanking({ factors: 3, iterations: 3, randomState: 2, numThreads: 1 }),
    new LogisticMatrixFactorization({ factors: 2, iterations: 2, negProp: 3, randomState: 3 }),
    new HybridFactorization({ noComponents: 3, loss: "warp", randomState: 4, numThreads: 1 }),
    new MinibatchFactorization({ embeddingDim: 3, nIter: 2, randomState: 5, numThreads: 1 }),
    new ItemItemRecommender({ k: 7, numThreads: 1 }),
    new CosineRecommender({ k: 5 }),
    new TFIDFRecommender({ k: 9 }),
    new BM25Recommender({ k: 4, k1: 3, b: 0.5 }),
  ];
  for (const model of models) await model.fit(plays, quiet);
  return models;
}

/** The fitted state of a model, as plain arrays. */
function stateOf(model: Model): unknown {
  if (model instanceof MatrixFactorizationBase) {
    return [model.userFactors, model.itemFactors];
  }
  assert.ok(model instanceof NearestNeighboursRecommender);
  const { indptr, indices, data, shape } = model.similarity;
  return [indptr, indices, data, shape, model.nUsers];
}

test("the registry has one class for each kind, under its own kind", () => {
  assert.deepEqual(
    [...MODEL_CLASSES.keys()],
    ["als", "bpr", "lmf", "hybrid", "minibatch", "itemitem", "cosine", "tfidf", "bm25"],
  );
  for (const [kind, type] of MODEL_CLASSES) assert.equal(type.kind, kind);
});

test("save() then loadModel() gives the same class, parameters and state for every kind", async () => {
  for (const model of await fittedModels()) {
    const path = join(dir, `${model.kind}.tacit`);
    await model.save(path);
    assert.equal((await readTacitFile(path)).kind, model.kind);
    const loaded = await loadModel(path);
    assert.equal(loaded.constructor, model.constructor, model.kind);
    assert.equal(loaded.kind, model.kind);
    assert.deepEqual(loaded.parameters(), model.parameters(), model.kind);
    assert.deepEqual(stateOf(loaded), stateOf(model), model.kind);
    assert.deepEqual(
      loaded.recommend([0, 1, 2], plays, { n: 5 }),
      model.recommend([0, 1, 2], plays, { n: 5 }),
      model.kind,
    );
    assert.deepEqual(loaded.similarItems(3, { n: 4 }), model.similarItems(3, { n: 4 }));
    // The class's own load reads the same file.
    const type = MODEL_CLASSES.get(model.kind)!;
    assert.deepEqual(stateOf(await type.load(path)), stateOf(model), model.kind);
  }
});

test("each class's load() refuses a file another class saved", async () => {
  const models = await fittedModels();
  for (const model of models) await model.save(join(dir, `${model.kind}.tacit`));
  for (const [kind, type] of MODEL_CLASSES) {
    for (const other of models.filter((m) => m.kind !== kind)) {
      await assert.rejects(
        type.load(join(dir, `${other.kind}.tacit`)),
        (e: Error) =>
          e instanceof TacitFileError &&
          e.message.includes(`kind '${kind}' but found '${other.kind}'`),
        `${kind} loading ${other.kind}`,
      );
    }
  }
});

test("loadModel() refuses a kind no model has, naming it and the known kinds", async () => {
  const path = join(dir, "annoy.tacit");
  await writeTacitFile(path, {
    kind: "annoy",
    params: {},
    arrays: { trees: { array: new Int32Array(4), shape: [4] } },
  });
  await assert.rejects(
    loadModel(path),
    (e: Error) =>
      e instanceof TacitFileError && /found 'annoy'/.test(e.message) &&
      /'als', 'bpr'/.test(e.message) && e.message.includes(path),
  );
});

test("loadModel() refuses a corrupted, truncated, foreign or missing file", async () => {
  const model = await new CosineRecommender({ k: 3 }).fit(plays, quiet);
  const path = join(dir, "good.tacit");
  await model.save(path);
  const good = readFileSync(path);
  const corrupted = Buffer.from(good);
  corrupted[corrupted.length - 5]! ^= 0x10;
  writeFileSync(join(dir, "corrupted.tacit"), corrupted);
  await assert.rejects(loadModel(join(dir, "corrupted.tacit")), /checksum.*corrupted/);
  writeFileSync(join(dir, "truncated.tacit"), good.subarray(0, good.length - 8));
  await assert.rejects(loadModel(join(dir, "truncated.tacit")), /truncated/);
  writeFileSync(join(dir, "foreign.tacit"), "PK\u0003\u0004 a zip, not a model");
  await assert.rejects(loadModel(join(dir, "foreign.tacit")), TacitFileError);
  await assert.rejects(loadModel(join(dir, "missing.tacit")), /found no file/);
});

test("the params read back are validated through the class's schema, naming the file", async () => {
  const model = await new AlternatingLeastSquares({ factors: 2, iterations: 1, randomState: 1 })
    .fit(plays, quiet);
  const arrays = {
    userFactors: { array: model.userFactors.data, shape: [...model.userFactors.shape] },
    itemFactors: { array: model.itemFactors.data, shape: [...model.itemFactors.shape] },
  };
  const write = async (name: string, params: Record<string, unknown>) => {
    const path = join(dir, name);
    await writeTacitFile(path, { kind: "als", params, arrays });
    return path;
  };
  /** A TacitFileError naming the file, caused by the schema's error of type `type`. */
  const refused = (path: string, type: typeof TypeError, pattern: RegExp) => (e: Error) =>
    e instanceof TacitFileError && e.path === path && e.message.includes(path) &&
    e.cause instanceof type && pattern.test(e.message);
  const unknown = await write("unknown-param.tacit", { factors: 2, factor: 2 });
  await assert.rejects(loadModel(unknown), refused(unknown, TypeError, /'factor'/));
  const badType = await write("bad-type.tacit", { factors: 2, solver: 3 });
  await assert.rejects(
    AlternatingLeastSquares.load(badType),
    refused(badType, TypeError, /solver/),
  );
  const badRange = await write("bad-range.tacit", { factors: 2, regularization: -1 });
  await assert.rejects(loadModel(badRange), refused(badRange, RangeError, /regularization/));
  // Left-out params take their defaults, so factors: 100 disagrees with 2 columns.
  await assert.rejects(
    loadModel(await write("defaults.tacit", {})),
    /'userFactors' and 'itemFactors' in .* to have 100 columns \(factors, from the params\) but found 2/,
  );
  const loaded = await loadModel(await write("agrees.tacit", { factors: 2 }));
  assert.ok(loaded instanceof AlternatingLeastSquares);
  assert.equal(loaded.factors, 2);
  assert.equal(loaded.factorCount, 2);
});

test("a file whose arrays do not fit its kind is refused", async () => {
  const path = join(dir, "no-similarity.tacit");
  await writeTacitFile(path, {
    kind: "bm25",
    params: {},
    arrays: { userFactors: { array: new Float32Array(4), shape: [2, 2] } },
  });
  await assert.rejects(loadModel(path), /'indptr'/);
  const factors = join(dir, "mismatched-factors.tacit");
  await writeTacitFile(factors, {
    kind: "lmf",
    params: {},
    arrays: {
      userFactors: { array: new Float32Array(6), shape: [2, 3] },
      itemFactors: { array: new Float32Array(4), shape: [2, 2] },
    },
  });
  await assert.rejects(loadModel(factors), /same number of factors but found 3 and 2/);
});
