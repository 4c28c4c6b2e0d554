/**
 * The misuse battery: calls a user could make by mistake, each an async
 * function that passes when tacit refuses the call with the right error
 * class and a message naming what is wrong (or, for the few misuses that
 * must work, does the right thing). tests/misuse_battery.test.ts runs each
 * in its own process, under the runtime of the test run, with a timeout, so
 * a crash or a hang fails the case instead of the suite.
 *
 * The first group is every example of issue 12; the rest are the same
 * classes across every public function, and every model kind (models are
 * held to them as they are added: a kind in fixtures.ts gets all of them).
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  AlternatingLeastSquares,
  aucAtK,
  bm25Weight,
  CsrMatrix,
  Dataset,
  fetchMovielens,
  gpuAvailability,
  HybridFactorization,
  IdMap,
  leaveKOutSplit,
  loadModel,
  LogisticMatrixFactorization,
  ndcgAtK,
  precisionAtK,
  rankingMetricsAtK,
  readDelimited,
  readLastfm360k,
  readMovielens,
  setNumThreads,
  trainTestSplit,
  userBasedSplit,
} from "../../mod.ts";
import { writeTacitFile } from "../../lib/io/format.ts";
import { fitted, KINDS, plays, quiet, scratch } from "./fixtures.ts";

/** One case: resolves when tacit behaved, throws an AssertionError saying how it did not. */
export type MisuseCase = () => Promise<void>;

/**
 * Runs `call` and checks that it throws (or rejects with) an error whose
 * `name` is `name` and whose message matches `message`.
 */
async function refused(call: () => unknown, name: string, message: RegExp): Promise<void> {
  let result: unknown;
  try {
    result = await call();
  } catch (error) {
    const found = error as Error;
    assert.equal(found?.name, name, `expected a ${name} but got ${found?.name}: ${found?.message}`);
    assert.match(found.message, message);
    return;
  }
  assert.fail(`expected a ${name} matching ${message} but the call returned ${String(result)}`);
}

const never = (value: unknown) => value as never;

/** Detaches a buffer, as transferring it to a worker does. */
function detach(buffer: ArrayBufferLike): void {
  structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });
}

/** A fitted ALS model, typed as one. */
async function fittedAls(): Promise<AlternatingLeastSquares> {
  return await fitted(KINDS.als!) as unknown as AlternatingLeastSquares;
}

/** A small delimited file with a header, in a fresh directory. */
function csv(text: string): string {
  const path = join(scratch(), "plays.csv");
  writeFileSync(path, text);
  return path;
}

const csvColumns = { user: "user", item: "item", weight: "plays", header: true, ...quiet };

export const CASES: Record<string, MisuseCase> = {};

// ---------------------------------------------------------------------------
// Issue 12's examples, one case each.

Object.assign(CASES, {
  "issue: ALS({ factor: 8 }) is refused, suggesting factors": () =>
    refused(
      () => new AlternatingLeastSquares(never({ factor: 8 })),
      "TypeError",
      /'factor' \(did you mean 'factors'\?\)/,
    ),
  "issue: implicit's calculate_training_loss suggests calculateTrainingLoss": () =>
    refused(
      () => new AlternatingLeastSquares(never({ calculate_training_loss: true })),
      "TypeError",
      /'calculate_training_loss' \(did you mean 'calculateTrainingLoss'\?\)/,
    ),
  "issue: implicit's random_state suggests randomState": () =>
    refused(
      () => new AlternatingLeastSquares(never({ random_state: 3 })),
      "TypeError",
      /'random_state' \(did you mean 'randomState'\?\)/,
    ),
  "issue: recommend(0, X, { N: 3 }) suggests n": async () => {
    const model = await fitted(KINDS.als!);
    await refused(() => model.recommend(0, plays(), { N: 3 }), "TypeError", /did you mean 'n'/);
  },
  "issue: trainTestSplit's train_percentage suggests trainPercentage": () =>
    refused(
      () => trainTestSplit(plays(), never({ train_percentage: 0.5, random_state: 1 })),
      "TypeError",
      /did you mean 'trainPercentage'/,
    ),
  "issue: bm25Weight(X, { K1: 5 }) suggests k1": () =>
    refused(() => bm25Weight(plays(), never({ K1: 5 })), "TypeError", /did you mean 'k1'/),
  'issue: { calculateTrainingLoss: "no" } is not a boolean': () =>
    refused(
      () => new AlternatingLeastSquares(never({ calculateTrainingLoss: "no" })),
      "TypeError",
      /calculateTrainingLoss to be a boolean but found a string 'no'/,
    ),
  'issue: { filterAlreadyLiked: "false" } is not a boolean': async () => {
    const model = await fitted(KINDS.als!);
    await refused(
      () => model.recommend(0, plays(), { filterAlreadyLiked: "false" }),
      "TypeError",
      /filterAlreadyLiked to be a boolean but found a string 'false'/,
    );
  },
  "issue: ALS refuses a 0 × 0 matrix": () =>
    refused(
      () =>
        KINDS.als!.make().fit(
          new CsrMatrix([0, 0], Int32Array.of(0), new Int32Array(0), new Float32Array(0)),
          quiet,
        ),
      "RangeError",
      /userItems to have at least one stored entry/,
    ),
  "issue: ALS refuses a 5 × 4 matrix with no entries": () =>
    refused(
      () => KINDS.als!.make().fit(CsrMatrix.fromCoo({ rows: [], cols: [], shape: [5, 4] }), quiet),
      "RangeError",
      /at least one stored entry but found none \(a \[5,4\] matrix/,
    ),
  "issue: load() refuses NaN factors under a right checksum, naming the file": async () => {
    const path = join(scratch(), "nan.tacit");
    const model = await fittedAls();
    await model.save(path);
    const users = Float32Array.from(model.userFactors.data);
    users[3] = Number.NaN;
    await writeTacitFile(path, {
      kind: "als",
      version: 1,
      params: model.parameters(),
      arrays: {
        userFactors: { array: users, shape: [12, 2] },
        itemFactors: { array: Float32Array.from(model.itemFactors.data), shape: [8, 2] },
      },
    });
    await refused(
      () => AlternatingLeastSquares.load(path),
      "TacitFileError",
      /'userFactors' in .*nan\.tacit to hold finite factors but found NaN at \[1, 1\]/,
    );
  },
  "issue: load() refuses 0 factor columns": async () => {
    const path = join(scratch(), "zero.tacit");
    await writeTacitFile(path, {
      kind: "als",
      version: 1,
      params: { factors: 2 },
      arrays: {
        userFactors: { array: new Float32Array(0), shape: [12, 0] },
        itemFactors: { array: new Float32Array(0), shape: [8, 0] },
      },
    });
    await refused(() => AlternatingLeastSquares.load(path), "TacitFileError", /zero\.tacit/);
  },
  "issue: load() refuses parameters that disagree with the arrays": async () => {
    const path = join(scratch(), "shape.tacit");
    const model = await fittedAls();
    await writeTacitFile(path, {
      kind: "als",
      version: 1,
      params: { ...model.parameters(), factors: 5 },
      arrays: {
        userFactors: { array: Float32Array.from(model.userFactors.data), shape: [12, 2] },
        itemFactors: { array: Float32Array.from(model.itemFactors.data), shape: [8, 2] },
      },
    });
    await refused(
      () => AlternatingLeastSquares.load(path),
      "TacitFileError",
      /shape\.tacit[\s\S]*factors/,
    );
  },
  "issue: load() refuses a schema version from the future": async () => {
    const path = join(scratch(), "future.tacit");
    const model = await fittedAls();
    await writeTacitFile(path, {
      kind: "als",
      version: 99,
      params: model.parameters(),
      arrays: {
        userFactors: { array: Float32Array.from(model.userFactors.data), shape: [12, 2] },
        itemFactors: { array: Float32Array.from(model.itemFactors.data), shape: [8, 2] },
      },
    });
    await refused(() => loadModel(path), "TacitFileError", /future\.tacit[\s\S]*version/);
  },
  "issue: load() refuses more factors than the constructor allows": async () => {
    const path = join(scratch(), "huge.tacit");
    await writeTacitFile(path, {
      kind: "als",
      version: 1,
      params: { factors: 2 ** 40 },
      arrays: {
        userFactors: { array: new Float32Array(2), shape: [1, 2] },
        itemFactors: { array: new Float32Array(2), shape: [1, 2] },
      },
    });
    await refused(
      () => AlternatingLeastSquares.load(path),
      "TacitFileError",
      /huge\.tacit[\s\S]*factors/,
    );
  },
  "issue: X.shape.reverse() cannot change a matrix's shape": async () => {
    const X = plays();
    assert.throws(() => (X.shape as unknown as number[]).reverse(), TypeError);
    assert.deepEqual(X.shape, [12, 8]);
    const model = await KINDS.als!.make().fit(X, quiet) as AlternatingLeastSquares;
    assert.equal(model.nUsers, 12);
  },
  "issue: a detached buffer is refused, not read past its end": () => {
    const X = plays();
    detach(X.data.buffer);
    return refused(
      () => KINDS.als!.make().fit(X, quiet),
      "TypeError",
      /userItems\.data .*detached/,
    );
  },
  "issue: NaN written into itemFactors is refused by recommend, naming the item": async () => {
    const model = await fittedAls();
    model.itemFactors.data[2 * 5 + 1] = Number.NaN;
    await refused(
      () => model.recommend(0, plays()),
      "RangeError",
      /itemFactors to be finite but found NaN at item 5, factor 1/,
    );
  },
  "issue: NaN written into userFactors is refused, naming the user": async () => {
    const model = await fittedAls();
    model.userFactors.data[2 * 3] = Number.NaN;
    await refused(
      () => model.recommend(3, plays()),
      "RangeError",
      /userFactors to be finite but found NaN at user 3, factor 0/,
    );
  },
  "issue: setNumThreads(2 ** 31) is refused": () =>
    refused(
      () => setNumThreads(2 ** 31),
      "RangeError",
      /n to be an integer in 0\.\.256 but found 2147483648/,
    ),
  "issue: setNumThreads(2 ** 32 + 3) does not wrap to 3": () =>
    refused(() => setNumThreads(2 ** 32 + 3), "RangeError", /0\.\.256 but found 4294967299/),
  "issue: LMF's negProp is bounded in the constructor": () =>
    refused(
      () =>
        new LogisticMatrixFactorization({ negProp: 2147483647, negativeSampling: "perPositive" }),
      "RangeError",
      /negProp/,
    ),
  "issue: an abort during a long LMF fit rejects promptly": async () => {
    const model = new LogisticMatrixFactorization({
      factors: 8,
      iterations: 100_000,
      negProp: 1000,
      negativeSampling: "perPositive",
      numThreads: 1,
    });
    const X = CsrMatrix.fromCoo({
      rows: Array.from({ length: 4000 }, (_, k) => k % 400),
      cols: Array.from({ length: 4000 }, (_, k) => (k * 7) % 300),
      shape: [400, 300],
    });
    const started = performance.now();
    await refused(
      () => model.fit(X, { ...quiet, signal: AbortSignal.timeout(200) }),
      "TimeoutError",
      /./,
    );
    assert.ok(performance.now() - started < 5000, "the abort took more than 5 s");
    assert.equal(model.nUsers, 0);
  },
  "issue: new AlternatingLeastSquares(null)": () =>
    refused(
      () => new AlternatingLeastSquares(never(null)),
      "TypeError",
      /AlternatingLeastSquares options to be an object but found null/,
    ),
  "issue: fit(X, null)": () =>
    refused(
      () => KINDS.als!.make().fit(plays(), null),
      "TypeError",
      /options of fit\(\) to be an object but found null/,
    ),
  "issue: fromCoo(null)": () =>
    refused(
      () => CsrMatrix.fromCoo(never(null)),
      "TypeError",
      /CsrMatrix\.fromCoo\(\) to be an object but found null/,
    ),
  "issue: fromCoo({ rows: [0] })": () =>
    refused(() => CsrMatrix.fromCoo(never({ rows: [0] })), "TypeError", /cols to be an array/),
  "issue: readDelimited(file) without options names the missing column": () =>
    refused(
      () => (readDelimited as (path: string) => unknown)(csv("user,item,plays\na,x,1\n")),
      "TypeError",
      /user to be a column name or index/,
    ),
  "issue: fit(X, { signal: new AbortController() }) says to pass controller.signal": () =>
    refused(
      () => KINDS.als!.make().fit(plays(), { signal: new AbortController() }),
      "TypeError",
      /signal to be an AbortSignal but found an AbortController \(pass controller\.signal\)/,
    ),
  "issue: fit(X, { callback: 5 }) is refused before the first iteration": async () => {
    const model = KINDS.als!.make();
    await refused(
      () => model.fit(plays(), { ...quiet, callback: 5 }),
      "TypeError",
      /callback to be a function but found 5/,
    );
    assert.equal(model.nUsers, 0);
  },
  "issue: cgSteps is checked in the constructor under its own name": () =>
    refused(() => new AlternatingLeastSquares({ cgSteps: 1e9 }), "RangeError", /cgSteps/),
  "issue: fromDense names the position of a NaN": () =>
    refused(
      () => CsrMatrix.fromDense([[1, 0], [0, Number.NaN]]),
      "RangeError",
      /dense\[1\]\[1\] to be finite but found NaN/,
    ),
  "issue: a NaN in an input file names file:line": () =>
    refused(
      () => readDelimited(csv("user,item,plays\na,x,1\nb,y,nan\n"), csvColumns),
      "MalformedLineError",
      /plays\.csv:3: expected field 3 to be a number but found 'nan'/,
    ),
  "issue: partialFitUsers names its own range, not 2147483647 ids": async () => {
    const model = await fittedAls();
    const row = CsrMatrix.fromCoo({ rows: [0], cols: [1], shape: [1, 8] });
    await refused(
      () => model.partialFitUsers([-1], row),
      "RangeError",
      /userids\[0\] = -1 is out of range: a partial fit of a model with 12 users/,
    );
  },
  "issue: partialFitUsers(5, rows) says an array was expected": async () => {
    const model = await fittedAls();
    const row = CsrMatrix.fromCoo({ rows: [0], cols: [1], shape: [1, 8] });
    await refused(
      () => model.partialFitUsers(never(5), row),
      "TypeError",
      /userids to be an array of ids.*but found 5/,
    );
  },
  'issue: values: ["3"] is a wrong type, not a wrong value': () =>
    refused(
      () => CsrMatrix.fromCoo({ rows: [0], cols: [0], values: never(["3"]), shape: [1, 1] }),
      "TypeError",
      /values\[0\] to be a finite number but found a string '3'/,
    ),
  'issue: { n: "5" } is a TypeError showing a string': async () => {
    const model = await fitted(KINDS.als!);
    await refused(
      () => model.recommend(0, plays(), { n: "5" }),
      "TypeError",
      /n to be a positive integer but found a string '5'/,
    );
  },
  'issue: setNumThreads("4") shows a string': () =>
    refused(() => setNumThreads(never("4")), "TypeError", /found a string '4'/),
  "issue: fromCoo duplicates that overflow float32 name (row, col)": () =>
    refused(
      () => CsrMatrix.fromCoo({ rows: [1, 1], cols: [2, 2], values: [3e38, 3e38], shape: [2, 3] }),
      "RangeError",
      /duplicate entries of \(row 1, col 2\) sum to more than float32 holds/,
    ),
  "issue: a value beyond float32 is an overflow, not 'not finite'": () =>
    refused(
      () => CsrMatrix.fromCoo({ rows: [0], cols: [0], values: [1e39], shape: [1, 1] }),
      "RangeError",
      /values\[0\] to fit in float32 .* found 1e\+39, which overflows to Infinity/,
    ),
  "issue: buildInteractions duplicates that overflow name the ids": () => {
    const dataset = new Dataset().fit(["ann", "bob"], ["x", "y"]);
    return refused(
      () => dataset.buildInteractions([["bob", "y", 3e38], ["ann", "x", 1], ["bob", "y", 3e38]]),
      "RangeError",
      /interactions of user 'bob' with item 'y' sum to more than float32 holds/,
    );
  },
  "issue: a loader's duplicates that overflow name the file and the ids": () =>
    refused(
      () => readDelimited(csv("user,item,plays\nann,x,3e38\nbob,y,1\nann,x,3e38\n"), csvColumns),
      "RangeError",
      /plays\.csv: the values of the lines of user 'ann' and item 'x' sum to more than float32/,
    ),
  "issue: a file value beyond float32 names file:line": () =>
    refused(
      () => readDelimited(csv("user,item,plays\nann,x,1e39\n"), csvColumns),
      "MalformedLineError",
      /plays\.csv:2: expected field 3 to fit in float32/,
    ),
  "issue: recommend right after an un-awaited fit says the fit is running": async () => {
    const model = KINDS.als!.make();
    const fit = model.fit(plays(), quiet);
    try {
      await refused(
        () => model.recommend(0, plays()),
        "NotFittedError",
        /first fit\(\) is still running/,
      );
    } finally {
      await fit;
    }
  },
  "issue: rankingMetricsAtK of an unfitted model says not fitted": () =>
    refused(
      () => rankingMetricsAtK(KINDS.als!.make(), plays(), plays()),
      "NotFittedError",
      /to be fitted/,
    ),
  "issue: a CsrMatrix of another copy of the package is accepted": async () => {
    // A second copy of the module, as a JSR and an npm install would give.
    const copy = scratch();
    mkdirSync(join(copy, "lib"));
    for (const file of ["sparse.ts", "validate.ts"]) {
      copyFileSync(new URL(`../../lib/${file}`, import.meta.url), join(copy, "lib", file));
    }
    const other = await import(pathToFileURL(join(copy, "lib", "sparse.ts")).href);
    const local = plays();
    const foreign = new other.CsrMatrix(local.shape, local.indptr, local.indices, local.data);
    assert.notEqual(other.CsrMatrix, CsrMatrix);
    assert.ok(foreign instanceof CsrMatrix);
    const a = await KINDS.als!.make().fit(foreign, quiet) as AlternatingLeastSquares;
    const b = await KINDS.als!.make().fit(local, quiet) as AlternatingLeastSquares;
    assert.deepEqual(a.recommend([0, 1, 2], foreign), b.recommend([0, 1, 2], local));
  },
  "issue: loading a directory names the path": async () => {
    const dir = scratch();
    await refused(
      () => AlternatingLeastSquares.load(dir),
      "TacitFileError",
      new RegExp(`${dir}.*directory`),
    );
  },
  "issue: a damaged cached archive is refused naming its path, and removed": async () => {
    const dataDir = scratch();
    const folder = join(dataDir, "movielens", "ml-100k");
    mkdirSync(folder, { recursive: true });
    const archive = join(folder, "ml-100k.zip");
    writeFileSync(archive, "PK\u0003\u0004 an interrupted copy, not a zip archive");
    await refused(
      () => fetchMovielens("100k", { dataDir, url: "http://127.0.0.1:9/ml-100k.zip", ...quiet }),
      "DataFileError",
      /ml-100k\.zip to be a zip archive .*; it was removed from the cache and will be downloaded again/,
    );
    assert.equal(existsSync(archive), false);
  },
  "issue: a failed download names the URL": () =>
    refused(
      () =>
        fetchMovielens("100k", {
          dataDir: scratch(),
          url: "http://127.0.0.1:9/ml-100k.zip",
          ...quiet,
        }),
      "DownloadError",
      /http:\/\/127\.0\.0\.1:9\/ml-100k\.zip/,
    ),
  "issue: a 246-byte file name saves (short temporary names)": async () => {
    const model = await fitted(KINDS.als!);
    const path = join(scratch(), `${"m".repeat(240)}.tacit`);
    await model.save(path);
    const back = await AlternatingLeastSquares.load(path);
    assert.deepEqual(back.userFactors.data, (model as AlternatingLeastSquares).userFactors.data);
  },
  "issue: partialFitUsers([2147483646]) does not try to allocate 32 GiB": async () => {
    const model = await fittedAls();
    const row = CsrMatrix.fromCoo({ rows: [0], cols: [1], shape: [1, 8] });
    await refused(
      () => model.partialFitUsers([2147483646], row),
      "RangeError",
      /userids\[0\] = 2147483646 is out of range/,
    );
    assert.equal(model.nUsers, 12);
  },
});

// ---------------------------------------------------------------------------
// The same classes for every model kind.

for (const [name, kind] of Object.entries(KINDS)) {
  const X = () => plays();
  const { matrix, numeric } = kind;
  Object.assign(CASES, {
    [`${name}: an unknown option is refused`]: () =>
      refused(() => kind.make({ bogusOption: 1 }), "TypeError", /'bogusOption'/),
    [`${name}: a numeric option given as a string`]: () =>
      refused(
        () => kind.make({ [numeric]: "8" }),
        "TypeError",
        new RegExp(`${numeric} .*a string '8'`),
      ),
    [`${name}: a negative numeric option`]: () =>
      refused(() => kind.make({ [numeric]: -1 }), "RangeError", new RegExp(`${numeric}.*-1`)),
    [`${name}: a NaN numeric option`]: () =>
      refused(
        () => kind.make({ [numeric]: Number.NaN }),
        "RangeError",
        new RegExp(`${numeric}.*NaN`),
      ),
    [`${name}: numThreads beyond 256`]: () =>
      refused(
        () => kind.make({ numThreads: 1000 }),
        "RangeError",
        /numThreads to be an integer in 0\.\.256/,
      ),
    [`${name}: fit of a dense array instead of a matrix`]: () =>
      refused(
        () => kind.make().fit([[1, 0], [0, 1]], quiet),
        "TypeError",
        new RegExp(`${matrix} to be a CsrMatrix but found an array`),
      ),
    [`${name}: fit of a matrix with no entries`]: () =>
      refused(
        () => kind.make().fit(CsrMatrix.fromCoo({ rows: [], cols: [], shape: [3, 3] }), quiet),
        "RangeError",
        /at least one stored entry/,
      ),
    [`${name}: an unknown fit option`]: () =>
      refused(() => kind.make().fit(X(), { ...quiet, epochz: 2 }), "TypeError", /'epochz'/),
    [`${name}: a non-boolean progress`]: () =>
      refused(
        () => kind.make().fit(X(), { progress: "no" }),
        "TypeError",
        /progress to be a boolean but found a string 'no'/,
      ),
    [`${name}: recommend before fit`]: () =>
      refused(
        () => kind.make().recommend(0, X()),
        "NotFittedError",
        /needs a fitted model: call fit\(\) or load\(\) first/,
      ),
    [`${name}: save before fit`]: () =>
      refused(
        () => kind.make().save(join(scratch(), "m.tacit")),
        "NotFittedError",
        /save\(\) needs a fitted model/,
      ),
    [`${name}: recommend for a user past the model`]: async () => {
      const model = await fitted(kind);
      await refused(() => model.recommend(99, X()), "RangeError", /userid = 99 is out of range/);
    },
    [`${name}: recommend for a negative user in a batch`]: async () => {
      const model = await fitted(kind);
      await refused(
        () => model.recommend([0, -2], X()),
        "RangeError",
        /userid\[1\] = -2 is out of range/,
      );
    },
    [`${name}: recommend with a user id given as a string`]: async () => {
      const model = await fitted(kind);
      await refused(() => model.recommend("0", X()), "TypeError", /userid/);
    },
    [`${name}: recommend with userItems of another width`]: async () => {
      const model = await fitted(kind);
      const narrow = CsrMatrix.fromCoo({ rows: [0], cols: [0], shape: [12, 3] });
      await refused(
        () => model.recommend(0, narrow),
        "RangeError",
        /userItems has 3 columns but the model has 8 items/,
      );
    },
    [`${name}: recommend with n = 0`]: async () => {
      const model = await fitted(kind);
      await refused(
        () => model.recommend(0, X(), { n: 0 }),
        "RangeError",
        /n to be a positive integer but found 0/,
      );
    },
    [`${name}: recommend with a filterItems id past the items`]: async () => {
      const model = await fitted(kind);
      await refused(
        () => model.recommend(0, X(), { filterItems: [1, 8] }),
        "RangeError",
        /filterItems\[1\] = 8 is out of range/,
      );
    },
    [`${name}: recommend with an items list holding NaN`]: async () => {
      const model = await fitted(kind);
      await refused(
        () => model.recommend(0, X(), { items: [0, Number.NaN] }),
        "RangeError",
        /items\[1\] = NaN/,
      );
    },
    [`${name}: recommend with an unknown option`]: async () => {
      const model = await fitted(kind);
      await refused(() => model.recommend(0, X(), { count: 3 }), "TypeError", /'count'/);
    },
    [`${name}: similarItems of an item past the model`]: async () => {
      const model = await fitted(kind);
      await refused(() => model.similarItems(8), "RangeError", /itemid = 8 is out of range/);
    },
    [`${name}: similarItems with a fractional id`]: async () => {
      const model = await fitted(kind);
      await refused(() => model.similarItems(1.5), "RangeError", /itemid = 1\.5 is out of range/);
    },
    [`${name}: an aborted fit leaves a fitted model as it was`]: async () => {
      const model = await fitted(kind);
      const before = model.recommend([0, 1, 2, 3], X());
      const controller = new AbortController();
      controller.abort();
      await refused(
        () => model.fit(X(), { ...quiet, signal: controller.signal }),
        "AbortError",
        /./,
      );
      assert.deepEqual(model.recommend([0, 1, 2, 3], X()), before);
    },
    [`${name}: a second fit while one runs is refused`]: async () => {
      const model = kind.make();
      const first = model.fit(X(), quiet);
      try {
        await refused(() => model.fit(X(), quiet), "Error", /fit\(\) is already running/);
      } finally {
        await first;
      }
    },
    [`${name}: fit of a matrix whose indices were changed in place`]: async () => {
      const bad = X();
      bad.indices[1] = 1000;
      await refused(() => kind.make().fit(bad, quiet), "RangeError", /1000/);
    },
    [`${name}: fit of a matrix whose data was set to NaN in place`]: async () => {
      const bad = X();
      bad.data[2] = Number.NaN;
      await refused(() => kind.make().fit(bad, quiet), "RangeError", /finite/);
    },
    [`${name}: a detached matrix`]: () => {
      const bad = X();
      detach(bad.indices.buffer);
      return refused(
        () => kind.make().fit(bad, quiet),
        "TypeError",
        new RegExp(`${matrix}\\.indices .*detached`),
      );
    },
    [`${name}: load of a file of another kind`]: async () => {
      const path = join(scratch(), "other.tacit");
      const other = name === "als" ? KINDS.bpr! : KINDS.als!;
      await (await fitted(other)).save(path);
      const type = kind.make().constructor as unknown as { load(path: string): Promise<unknown> };
      await refused(() => type.load(path), "TacitFileError", /other\.tacit/);
    },
    [`${name}: load of a missing file names it`]: async () => {
      const path = join(scratch(), "absent.tacit");
      const type = kind.make().constructor as unknown as { load(path: string): Promise<unknown> };
      await refused(() => type.load(path), "TacitFileError", /absent\.tacit/);
    },
    [`${name}: save over a directory keeps it and says why`]: async () => {
      const model = await fitted(kind);
      const dir = scratch();
      await refused(() => model.save(dir), "TacitFileError", new RegExp(dir));
    },
  });
}

// ---------------------------------------------------------------------------
// Splits, metrics, weighting, datasets, loaders, threads.

const unfittedNone = () => plays();

Object.assign(CASES, {
  "split: trainTestSplit of a non-matrix": () =>
    refused(
      () => trainTestSplit(never([[1]])),
      "TypeError",
      /X to be a CsrMatrix but found an array/,
    ),
  "split: trainPercentage above 1": () =>
    refused(
      () => trainTestSplit(plays(), { trainPercentage: 1.5 }),
      "RangeError",
      /trainPercentage/,
    ),
  "split: trainPercentage as a string": () =>
    refused(
      () => trainTestSplit(plays(), never({ trainPercentage: "0.8" })),
      "TypeError",
      /trainPercentage.*a string '0\.8'/,
    ),
  "split: leaveKOutSplit with K": () =>
    refused(() => leaveKOutSplit(plays(), never({ K: 1 })), "TypeError", /did you mean 'k'/),
  "split: leaveKOutSplit with k = 0": () =>
    refused(() => leaveKOutSplit(plays(), { k: 0 }), "RangeError", /k/),
  "split: userBasedSplit with a negative seed": () =>
    refused(() => userBasedSplit(plays(), { randomState: -1 }), "RangeError", /randomState/),
  "metrics: precisionAtK with k as a string": async () => {
    const model = await fitted(KINDS.als!);
    await refused(
      () => precisionAtK(model, plays(), plays(), never({ k: "3" })),
      "TypeError",
      /k to be a positive integer but found a string '3'/,
    );
  },
  "metrics: ndcgAtK with a test matrix of other rows": async () => {
    const model = await fitted(KINDS.als!);
    const wrong = CsrMatrix.fromCoo({ rows: [0], cols: [0], shape: [5, 8] });
    await refused(
      () => ndcgAtK(model, plays(), wrong),
      "RangeError",
      /has 5 rows but the model has 12 users/,
    );
  },
  "metrics: aucAtK of a model that is not a model": () =>
    refused(
      () => aucAtK(never({}), plays(), plays()),
      "TypeError",
      /model to be a model with a recommend\(\) method/,
    ),
  "metrics: rankingMetricsAtK with an unknown option": async () => {
    const model = await fitted(KINDS.als!);
    await refused(
      () => rankingMetricsAtK(model, plays(), plays(), never({ K: 5 })),
      "TypeError",
      /did you mean 'k'/,
    );
  },
  "metrics: rankingMetricsAtK with a non-boolean perUser": async () => {
    const model = await fitted(KINDS.als!);
    await refused(
      () => rankingMetricsAtK(model, plays(), plays(), never({ perUser: 1 })),
      "TypeError",
      /perUser to be a boolean but found 1/,
    );
  },
  "weighting: bm25Weight with a negative b": () =>
    refused(() => bm25Weight(plays(), { b: -0.5 }), "RangeError", /b/),
  "weighting: bm25Weight of a dense array": () =>
    refused(() => bm25Weight(never([[1]])), "TypeError", /X to be a CsrMatrix/),
  "matrix: fromCoo with a fractional row": () =>
    refused(
      () => CsrMatrix.fromCoo({ rows: [0.5], cols: [0], shape: [1, 1] }),
      "RangeError",
      /rows\[0\] = 0\.5 is out of range/,
    ),
  "matrix: fromCoo with a string column": () =>
    refused(
      () => CsrMatrix.fromCoo({ rows: [0], cols: never(["0"]), shape: [1, 1] }),
      "TypeError",
      /cols\[0\] to be an integer id but found a string '0'/,
    ),
  "matrix: fromCoo with a shape too small": () =>
    refused(
      () => CsrMatrix.fromCoo({ rows: [3], cols: [0], shape: [2, 1] }),
      "RangeError",
      /rows\[0\] = 3 is out of range/,
    ),
  "matrix: fromCoo with cols shorter than rows": () =>
    refused(
      () => CsrMatrix.fromCoo({ rows: [0, 1], cols: [0], shape: [2, 1] }),
      "TypeError",
      /cols to have 2 entries like rows but found 1/,
    ),
  "matrix: a constructor with unsorted columns": () =>
    refused(
      () => new CsrMatrix([1, 3], Int32Array.of(0, 2), Int32Array.of(2, 1), Float32Array.of(1, 1)),
      "RangeError",
      /strictly increasing column ids in row 0/,
    ),
  "matrix: a constructor with a Float64Array": () =>
    refused(
      () => new CsrMatrix([1, 1], Int32Array.of(0, 1), Int32Array.of(0), never(Float64Array.of(1))),
      "TypeError",
      /data to be a Float32Array/,
    ),
  "matrix: fromDense with a ragged row": () =>
    refused(
      () => CsrMatrix.fromDense([[1, 2], [3]]),
      "TypeError",
      /dense row 1 to have 2 entries but found 1/,
    ),
  "matrix: fromDense with a string": () =>
    refused(
      () => CsrMatrix.fromDense([[1, never("2")]]),
      "TypeError",
      /dense\[0\]\[1\] to be a finite number but found a string '2'/,
    ),
  "dataset: an IdMap with an unknown option": () =>
    refused(() => new IdMap(never({ sorted: true })), "TypeError", /'sorted'/),
  "dataset: buildInteractions of an unknown user": () =>
    refused(
      () => new Dataset().fit(["ann"], ["x"]).buildInteractions([["zoe", "x"]]),
      "RangeError",
      /Unknown user id 'zoe'/,
    ),
  "dataset: buildInteractions with a NaN weight": () =>
    refused(
      () => new Dataset().fit(["ann"], ["x"]).buildInteractions([["ann", "x", Number.NaN]]),
      "RangeError",
      /weight of interactions\[0\]/,
    ),
  "dataset: buildInteractions with an entry of four fields": () =>
    refused(
      () => new Dataset().fit(["ann"], ["x"]).buildInteractions(never([["ann", "x", 1, 2]])),
      "TypeError",
      /interactions\[0\] to be \[user, item\] or \[user, item, weight\] but found an array of 4/,
    ),
  "dataset: buildUserFeatures of a feature never declared": () =>
    refused(
      () =>
        new Dataset().fit(["ann"], ["x"], { userFeatures: ["tall"] }).buildUserFeatures([["ann", [
          "short",
        ]]]),
      "RangeError",
      /Unknown user feature 'short'/,
    ),
  "loader: readDelimited of a missing file names it": () =>
    refused(
      () => readDelimited("/nonexistent/tacit/plays.csv", csvColumns),
      "DataFileError",
      /\/nonexistent\/tacit\/plays\.csv/,
    ),
  "loader: readDelimited of a directory names it": () => {
    const dir = scratch();
    return refused(() => readDelimited(dir, csvColumns), "DataFileError", new RegExp(dir));
  },
  "loader: readDelimited of an empty file": () =>
    refused(() => readDelimited(csv(""), csvColumns), "DataFileError", /plays\.csv/),
  "loader: readDelimited with a column name not in the header": () =>
    refused(
      () => readDelimited(csv("u,i,p\na,x,1\n"), csvColumns),
      "TypeError",
      /plays\.csv/,
    ),
  "loader: readDelimited with a short line names file:line": () =>
    refused(
      () => readDelimited(csv("user,item,plays\na,x\n"), csvColumns),
      "MalformedLineError",
      /plays\.csv:2/,
    ),
  "loader: readDelimited with a word for a number": () =>
    refused(
      () => readDelimited(csv("user,item,plays\na,x,lots\n"), csvColumns),
      "MalformedLineError",
      /plays\.csv:2: expected field 3 to be a number but found 'lots'/,
    ),
  "loader: readDelimited with chunkSize 0": () =>
    refused(
      () => readDelimited(csv("user,item,plays\na,x,1\n"), { ...csvColumns, chunkSize: 0 }),
      "RangeError",
      /chunkSize/,
    ),
  "loader: readLastfm360k of a line with three fields": () => {
    const path = join(scratch(), "lastfm.tsv");
    writeFileSync(path, "u1\tmbid\tname\t12\nu2\tmbid\t7\n");
    return refused(() => readLastfm360k(path, quiet), "MalformedLineError", /lastfm\.tsv:2/);
  },
  "loader: readMovielens of a file that is not a ratings file": () =>
    refused(
      () => readMovielens(csv("hello\n"), quiet),
      "MalformedLineError",
      /plays\.csv:1: expected a header with userId, movieId and rating/,
    ),
  "threads: setNumThreads(-1)": () =>
    refused(() => setNumThreads(-1), "RangeError", /0\.\.256 but found -1/),
  "threads: setNumThreads(1.5)": () =>
    refused(() => setNumThreads(1.5), "RangeError", /0\.\.256 but found 1\.5/),
  "threads: setNumThreads(NaN)": () =>
    refused(() => setNumThreads(Number.NaN), "RangeError", /0\.\.256 but found NaN/),
  "hybrid: user features of the wrong width": async () => {
    const model = await new HybridFactorization({ noComponents: 2, randomState: 1 }).fit(
      plays(),
      quiet,
    );
    const features = CsrMatrix.fromCoo({ rows: [0], cols: [0], shape: [12, 5] });
    await refused(
      () => model.predict([0], [0], { userFeatures: features }),
      "RangeError",
      /userFeatures/,
    );
  },
  "als: partialFitUsers while a fit runs is refused": async () => {
    const model = await fittedAls();
    const fit = model.fit(unfittedNone(), quiet);
    try {
      const row = CsrMatrix.fromCoo({ rows: [0], cols: [1], shape: [1, 8] });
      await refused(() => model.partialFitUsers([0], row), "Error", /while its fit\(\) is running/);
    } finally {
      await fit;
    }
  },
  "als: assignFactors with rows of other widths": async () => {
    const model = KINDS.als!.make() as unknown as AlternatingLeastSquares;
    await refused(
      () =>
        model.assignFactors(
          { data: new Float32Array(6), shape: [3, 2] },
          { data: new Float32Array(6), shape: [2, 3] },
        ),
      "RangeError",
      /items has 3 factors but users has 2/,
    );
  },
  "als: recalculateUser with a user past userItems": async () => {
    const model = await fitted(KINDS.als!);
    await refused(
      () => model.recommend(40, plays(), { recalculateUser: true }),
      "RangeError",
      /userid = 40 is out of range for a model with 12 rows in userItems/,
    );
  },
});

// ---------------------------------------------------------------------------
// The GPU: without a usable one (every machine without CUDA), asking for it is
// refused with the loader's reason; with one these cases check nothing more.

Object.assign(CASES, {
  'gpu: device: "gpu" without a usable GPU rejects with GpuUnavailableError': async () => {
    if (gpuAvailability().available) return;
    await refused(
      () => new AlternatingLeastSquares({ factors: 2, device: "gpu" }).fit(plays(), quiet),
      "GpuUnavailableError",
      /ALS fit\(\) with device: "gpu" needs a GPU, but the GPU is unavailable: \S/,
    );
  },
  'gpu: device: "cuda" is not a device': () =>
    refused(
      () => new AlternatingLeastSquares(never({ device: "cuda" })),
      "RangeError",
      /device/,
    ),
  "gpu: toGpu() of an unfitted model": () =>
    refused(
      () => new AlternatingLeastSquares({ factors: 2 }).toGpu(),
      "NotFittedError",
      /toGpu\(\)/,
    ),
});
