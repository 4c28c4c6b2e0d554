/**
 * Misuse of persistence and fit: files whose checksum is right but whose
 * contents no fit could have produced (written with `writeTacitFile`, so only
 * the contents are wrong), and fits of matrices with no stored entry. Every
 * file is refused with a TacitFileError naming the file and what is wrong in
 * it, and the good file still loads afterwards.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AlternatingLeastSquares,
  BayesianPersonalizedRanking,
  BM25Recommender,
  CosineRecommender,
  CsrMatrix,
  HybridFactorization,
  ItemItemRecommender,
  loadModel,
  LogisticMatrixFactorization,
  MinibatchFactorization,
  type Model,
  TacitFileError,
  TFIDFRecommender,
} from "../mod.ts";
import {
  readTacitFile,
  type TacitArray,
  type TacitFile,
  writeTacitFile,
} from "../lib/io/format.ts";
import { randomMatrix } from "./reference.ts";
import { test } from "./harness.ts";

const dir = mkdtempSync(join(tmpdir(), "tacit-misuse-load-"));
const quiet = { progress: false } as const;
const plays = randomMatrix(30, 20, 0.2, 21);

type Fittable = Model & { fit(m: CsrMatrix, o: typeof quiet): Promise<unknown> };

/** One unfitted model of every kind, with options other than the defaults. */
function models(): Fittable[] {
  return [
    new AlternatingLeastSquares({ factors: 4, iterations: 2, randomState: 1 }),
    new BayesianPersonalizedRanking({ factors: 3, iterations: 3, randomState: 2, numThreads: 1 }),
    new LogisticMatrixFactorization({ factors: 2, iterations: 2, negProp: 3, randomState: 3 }),
    new HybridFactorization({ noComponents: 3, loss: "warp", randomState: 4, numThreads: 1 }),
    new MinibatchFactorization({ embeddingDim: 3, nIter: 2, randomState: 5, numThreads: 1 }),
    new ItemItemRecommender({ k: 7, numThreads: 1 }),
    new CosineRecommender({ k: 5 }),
    new TFIDFRecommender({ k: 9 }),
    new BM25Recommender({ k: 4, k1: 3, b: 0.5 }),
  ];
}

/** A tampering: what it does, the edit, and the text the refusal must hold besides the path. */
interface Tamper {
  name: string;
  edit(file: TacitFile): void;
  names: string | RegExp;
}

/** A copy of a file's contents, arrays copied, to edit and write back. */
function copyOf(file: TacitFile): TacitFile {
  const arrays: Record<string, TacitArray> = {};
  for (const [name, { array, shape }] of Object.entries(file.arrays)) {
    arrays[name] = { array: array.slice(), shape: [...shape] };
  }
  return { kind: file.kind, version: file.version, params: { ...file.params }, arrays };
}

function set(file: TacitFile, name: string, index: number, value: number): void {
  file.arrays[name]!.array[index] = value;
}

function reshape(file: TacitFile, name: string, array: TacitArray["array"], shape: number[]) {
  file.arrays[name] = { array, shape };
}

const versionFromTheFuture: Tamper = {
  name: "schema version from the future",
  edit: (f) => {
    f.version = 99;
  },
  names: /schema version \d+ or older .* has version 99/,
};

/** What every factor model of `columnsOption` (its width option, at most `max`) must refuse. */
function factorTampers(option: string, max: number): Tamper[] {
  return [
    {
      name: "NaN in userFactors",
      edit: (f) => set(f, "userFactors", 5, Number.NaN),
      names: /'userFactors'.*finite.*NaN/,
    },
    {
      name: "Infinity in itemFactors",
      edit: (f) => set(f, "itemFactors", 0, Number.POSITIVE_INFINITY),
      names: /'itemFactors'.*finite.*Infinity at \[0, 0\]/,
    },
    {
      name: "0 factor columns",
      edit: (f) => {
        reshape(f, "userFactors", new Float32Array(0), [30, 0]);
        reshape(f, "itemFactors", new Float32Array(0), [20, 0]);
      },
      names: /'userFactors'.*factors >= 1.*\[30,0\]/,
    },
    {
      name: "0 rows",
      edit: (f) => {
        const columns = f.arrays.itemFactors!.shape[1]!;
        reshape(f, "itemFactors", new Float32Array(0), [0, columns]);
      },
      names: /'itemFactors'.*rows >= 1/,
    },
    {
      name: `${option} in the params disagreeing with the factor columns`,
      edit: (f) => {
        f.params[option] = (f.params[option] as number) + 1;
      },
      names: new RegExp(`'userFactors'.*${option}`),
    },
    {
      name: `${option} above the constructor's maximum`,
      edit: (f) => {
        f.params[option] = max + 1;
      },
      names: new RegExp(`params.*${option}`),
    },
    {
      name: "userFactors as float64",
      edit: (f) => {
        const { array, shape } = f.arrays.userFactors!;
        reshape(f, "userFactors", Float64Array.from(array), shape);
      },
      names: /'userFactors' of dtype f32/,
    },
    {
      name: "itemFactors missing",
      edit: (f) => {
        delete f.arrays.itemFactors;
      },
      names: /'itemFactors'/,
    },
    versionFromTheFuture,
  ];
}

/** The kinds with plain factor matrices: their width option and its maximum. */
const FACTOR_KINDS = new Map<string, readonly [string, number]>([
  ["als", ["factors", 1024]],
  ["bpr", ["factors", 1023]],
  ["lmf", ["factors", 1022]],
]);

const HYBRID_TAMPERS: Tamper[] = [
  {
    name: "NaN in userParams",
    edit: (f) => set(f, "userParams", 1, Number.NaN),
    names: /'userParams'.*finite.*NaN/,
  },
  {
    name: "a negative adagrad sum in itemSquares",
    edit: (f) => set(f, "itemSquares", 2, -1),
    names: /'itemSquares'.*non-negative.*-1/,
  },
  {
    name: "noComponents in the params disagreeing with the parameter columns",
    edit: (f) => {
      f.params.noComponents = 4;
    },
    names: /'userParams'.*noComponents \+ 1/,
  },
  {
    name: "noComponents above the constructor's maximum",
    edit: (f) => {
      f.params.noComponents = 1023;
    },
    names: /params.*noComponents/,
  },
  {
    name: "a negative feature index",
    edit: (f) => set(f, "userFeaturesIndices", 0, -1),
    names: /'userFeaturesIndices'.*-1/,
  },
  {
    name: "a feature index past the features",
    edit: (f) => set(f, "itemFeaturesIndices", 0, 20),
    names: /'itemFeaturesIndices'.*with 20 columns/,
  },
  {
    name: "a decreasing feature indptr",
    edit: (f) => set(f, "userFeaturesIndptr", 1, 5),
    names: /'userFeaturesIndptr'/,
  },
  {
    name: "an empty feature indptr",
    edit: (f) => {
      reshape(f, "itemFeaturesIndptr", new Int32Array(0), [0]);
      reshape(f, "itemFeaturesIndices", new Int32Array(0), [0]);
      reshape(f, "itemFeaturesData", new Float32Array(0), [0]);
    },
    names: /'itemFeaturesIndptr'.*>= 2 entries but found 0/,
  },
  {
    name: "feature values that overflow the representations",
    edit: (f) => {
      f.arrays.userFeaturesData!.array.fill(3e38);
      f.arrays.userParams!.array.fill(3e38);
    },
    names: /'userParams'.*overflow/,
  },
  versionFromTheFuture,
];

const MINIBATCH_TAMPERS: Tamper[] = [
  {
    name: "NaN in userFactors",
    edit: (f) => set(f, "userFactors", 0, Number.NaN),
    names: /'userFactors'.*finite.*NaN/,
  },
  {
    name: "embeddingDim in the params disagreeing with the factor columns",
    edit: (f) => {
      f.params.embeddingDim = 5;
    },
    names: /'userFactors'.*embeddingDim \+ 2/,
  },
  {
    name: "embeddingDim above the constructor's maximum",
    edit: (f) => {
      f.params.embeddingDim = 1023;
    },
    names: /params.*embeddingDim/,
  },
  {
    name: "a negative Adam second moment",
    edit: (f) => set(f, "itemSecond", 3, -0.5),
    names: /'itemSecond'.*non-negative/,
  },
  versionFromTheFuture,
];

/** What every nearest-neighbour kind must refuse (each fitted with k > 1). */
const NEIGHBOUR_TAMPERS: Tamper[] = [
  {
    name: "NaN in the similarity",
    edit: (f) => set(f, "data", 0, Number.NaN),
    names: /'data'.*finite/,
  },
  {
    name: "a negative index",
    edit: (f) => set(f, "indices", 0, -1),
    names: /'indices'.*-1/,
  },
  {
    name: "an index past nItems",
    edit: (f) => set(f, "indices", f.arrays.indices!.array.length - 1, 20),
    names: /'indices'.*\[20, 20\]/,
  },
  {
    name: "an indptr not starting at 0",
    edit: (f) => set(f, "indptr", 0, 1),
    names: /'indptr'.*indptr\[0\]/,
  },
  {
    name: "a decreasing indptr",
    edit: (f) => set(f, "indptr", 2, 0),
    names: /'indptr'/,
  },
  {
    name: "an empty indptr",
    edit: (f) => reshape(f, "indptr", new Int32Array(0), [0]),
    names: /'indptr'.*>= 2 entries but found 0/,
  },
  {
    name: "rows longer than k",
    edit: (f) => {
      f.params.k = 1;
    },
    names: /'indptr'.*at most k = 1 neighbours .* found \d+/,
  },
  {
    name: "nUsers 0",
    edit: (f) => set(f, "nUsers", 0, 0),
    names: /'nUsers'.*>= 1 but found 0/,
  },
  {
    name: "nUsers negative",
    edit: (f) => set(f, "nUsers", 0, -3),
    names: /'nUsers'.*found -3/,
  },
  {
    name: "k above the constructor's maximum",
    edit: (f) => {
      f.params.k = 2 ** 31;
    },
    names: /params.*\bk\b/,
  },
  {
    name: `nUsers as a vector`,
    edit: (f) => reshape(f, "nUsers", Int32Array.of(30, 30), [2]),
    names: /'nUsers'/,
  },
  versionFromTheFuture,
];

function tampersOf(kind: string): Tamper[] {
  const factor = FACTOR_KINDS.get(kind);
  if (factor !== undefined) return factorTampers(factor[0], factor[1]);
  if (kind === "hybrid") return HYBRID_TAMPERS;
  if (kind === "minibatch") return MINIBATCH_TAMPERS;
  return NEIGHBOUR_TAMPERS;
}

function refusal(path: string, names: string | RegExp, label: string) {
  return (error: Error) => {
    assert.ok(error instanceof TacitFileError, `${label}: ${error.name}: ${error.message}`);
    assert.equal(error.path, path, label);
    assert.ok(error.message.includes(path), `${label}: ${error.message}`);
    if (typeof names === "string") assert.ok(error.message.includes(names), label);
    else assert.match(error.message, names, label);
    return true;
  };
}

const fitted = await (async () => {
  const list = models();
  for (const model of list) await model.fit(plays, quiet);
  return list;
})();

for (const model of fitted) {
  const kind = model.kind;
  for (const tamper of tampersOf(kind)) {
    test(`load() of a ${kind} file refuses ${tamper.name}, naming the file and the array`, async () => {
      const good = join(dir, `${kind}-good.tacit`);
      await model.save(good);
      const contents = copyOf(await readTacitFile(good));
      tamper.edit(contents);
      const bad = join(dir, `${kind}-${tamper.name.replaceAll(/[^a-zA-Z0-9]+/g, "-")}.tacit`);
      await writeTacitFile(bad, contents);
      await assert.rejects(loadModel(bad), refusal(bad, tamper.names, `${kind}: ${tamper.name}`));
      const type = model.constructor as unknown as { load(path: string): Promise<Model> };
      await assert.rejects(type.load(bad), TacitFileError);
      // The good file still loads, and answers as the model does.
      const loaded = await loadModel(good);
      assert.deepEqual(
        loaded.recommend([0, 1], plays, { n: 3 }),
        model.recommend([0, 1], plays, { n: 3 }),
      );
    });
  }
}

test("load() refuses a file of a format version from the future, naming the file", async () => {
  const good = join(dir, "format-good.tacit");
  await fitted[0]!.save(good);
  const bytes = readFileSync(good);
  bytes.writeUInt32LE(2, 8);
  const bad = join(dir, "format-future.tacit");
  writeFileSync(bad, bytes);
  await assert.rejects(
    loadModel(bad),
    refusal(bad, /format version 1 or older .* version 2/, "format"),
  );
  assert.ok((await loadModel(good)) instanceof AlternatingLeastSquares);
});

test("save() refuses assigned factors of another width than the options give (load would refuse the file)", async () => {
  const model = new AlternatingLeastSquares({ factors: 8 });
  model.assignFactors({ data: new Float32Array(10).fill(0.5), shape: [2, 5] }, {
    data: new Float32Array(15).fill(0.25),
    shape: [3, 5],
  });
  const path = join(dir, "assigned.tacit");
  await assert.rejects(model.save(path), /8 columns \(factors\) to save them but found 5/);
  const same = new AlternatingLeastSquares({ factors: 5 });
  same.assignFactors(model.userFactors, model.itemFactors);
  await same.save(path);
  assert.deepEqual((await AlternatingLeastSquares.load(path)).itemFactors, same.itemFactors);
});

const empties: [string, CsrMatrix][] = [
  ["0 × 0", new CsrMatrix([0, 0], Int32Array.of(0), new Int32Array(0), new Float32Array(0))],
  [
    "5 × 4 with no entry",
    new CsrMatrix([5, 4], new Int32Array(6), new Int32Array(0), new Float32Array(0)),
  ],
];

for (const model of models()) {
  for (const [what, empty] of empties) {
    test(`fit() of a ${model.kind} model refuses a ${what} matrix, naming the argument`, async () => {
      await assert.rejects(model.fit(empty, quiet), (error: Error) => {
        assert.ok(error instanceof RangeError, `${error.name}: ${error.message}`);
        assert.match(
          error.message,
          /^Expected (userItems|interactions) to have at least one stored entry/,
        );
        assert.match(error.message, /but found none/);
        return true;
      });
      assert.equal(model.nItems, 0, "the model stays unfitted");
    });
  }
}
