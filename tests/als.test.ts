import assert from "node:assert/strict";
import { AlternatingLeastSquares, bm25Weight, type CsrMatrix, getNumThreads } from "../mod.ts";
import { listeningDataset } from "../lib/datasets/synthetic.ts";
import { callNative } from "../lib/native/library.ts";
import {
  type AlsRule,
  denseAlsObjective,
  denseAlsRow,
  randomFactors,
  randomMatrix,
  relativeError,
  toRows,
} from "./reference.ts";
import { test } from "./harness.ts";

const quiet = { progress: false } as const;

function nativeSolve(
  solver: number,
  cgSteps: number,
  m: CsrMatrix,
  x: Float32Array,
  y: Float32Array,
  f: number,
  reg: number,
  alpha: number,
  rule: AlsRule,
) {
  callNative("tacit_als_solve", {
    solver,
    cg_steps: cgSteps,
    n_rows: m.nRows,
    indptr: m.indptr,
    indices: m.indices,
    data: m.data,
    x,
    y,
    n_other: y.length / f,
    f,
    regularization: reg,
    alpha,
    confidence: rule === "alphaValue" ? 0 : 1,
  });
}

const RULES = ["alphaValue", "onePlusAlphaValue"] as const;

for (const [label, solver, steps] of [["Cholesky", 1, 3], ["CG with many steps", 0, 60]] as const) {
  for (const rule of RULES) {
    test(`the ${label} solve with confidence ${rule} matches a dense solve of the normal equations`, () => {
      // f = 6 and 21 end in a partial vector; 21 > 16 spans several tiles.
      for (const f of [6, 21]) {
        const m = randomMatrix(25, 40, 0.4, 11, true);
        const y = randomFactors(40, f, 5);
        const x = new Float32Array(25 * f);
        nativeSolve(solver, f === 6 ? steps : 4 * f, m, x, y, f, 0.1, 2.5, rule);
        toRows(m).forEach((row, u) => {
          const expected = denseAlsRow(row, y, f, 0.1, 2.5, rule);
          const error = relativeError(x.subarray(u * f, (u + 1) * f), expected);
          assert.ok(error < 1e-4, `f = ${f}, row ${u}: relative error ${error}`);
        });
      }
    });
  }
}

test("a fitted Cholesky model's item factors solve their normal equations", async () => {
  const m = randomMatrix(30, 20, 0.25, 3);
  const model = new AlternatingLeastSquares({
    factors: 5,
    regularization: 0.05,
    alpha: 3,
    iterations: 4,
    solver: "cholesky",
    randomState: 7,
  });
  await model.fit(m, quiet);
  const x = model.userFactors.data;
  toRows(m.transpose()).forEach((column, i) => {
    const expected = denseAlsRow(column, x, 5, 0.05, 3, "alphaValue");
    assert.ok(relativeError(model.itemFactors.data.subarray(i * 5, (i + 1) * 5), expected) < 1e-4);
  });
});

for (const solver of ["cg", "cholesky"] as const) {
  test(`training loss never increases across ${solver} iterations`, async () => {
    const m = randomMatrix(60, 40, 0.15, 21, true);
    const losses: number[] = [];
    const model = new AlternatingLeastSquares({
      factors: 8,
      iterations: 12,
      solver,
      calculateTrainingLoss: true,
      randomState: 1,
      regularization: 0.1,
    });
    await model.fit(m, { progress: false, callback: (_it, _s, loss) => losses.push(loss) });
    assert.equal(losses.length, 12);
    for (let k = 1; k < losses.length; k++) {
      assert.ok(
        losses[k]! <= losses[k - 1]! * (1 + 1e-5),
        `iteration ${k}: ${losses[k]} > ${losses[k - 1]}`,
      );
    }
    assert.ok(losses.at(-1)! < losses[0]!);
  });
}

for (const rule of RULES) {
  test(`loss() with confidence ${rule} equals the dense objective divided by the total confidence`, async () => {
    const m = randomMatrix(20, 15, 0.3, 8, true);
    const model = new AlternatingLeastSquares({
      factors: 4,
      iterations: 2,
      randomState: 3,
      regularization: 0.2,
      alpha: 1.5,
      confidence: rule,
    });
    await model.fit(m, quiet);
    const { objective, confidence } = denseAlsObjective(
      toRows(m),
      model.userFactors.data,
      model.itemFactors.data,
      4,
      0.2,
      1.5,
      rule,
    );
    const loss = await model.loss(m);
    assert.ok(
      Math.abs(loss - objective / confidence) < 1e-6 * Math.max(1, objective / confidence),
      `${loss} vs ${objective / confidence}`,
    );
  });
}

test("the same seed gives the same factors", async () => {
  const m = randomMatrix(30, 25, 0.2, 4);
  const a = await new AlternatingLeastSquares({ factors: 4, iterations: 3, randomState: 9 }).fit(
    m,
    quiet,
  );
  const b = await new AlternatingLeastSquares({ factors: 4, iterations: 3, randomState: 9 }).fit(
    m,
    quiet,
  );
  assert.deepEqual(a.userFactors.data, b.userFactors.data);
  assert.deepEqual(a.itemFactors.data, b.itemFactors.data);
});

test("fit refuses to finish with non-finite factors and leaves the model unchanged", async () => {
  const m = randomMatrix(10, 8, 0.4, 2);
  const model = await new AlternatingLeastSquares({ factors: 3, iterations: 2, randomState: 1 })
    .fit(m, quiet);
  // c = alpha·v overflows float32, so the solves cannot stay finite.
  const huge = m.withData(m.data.map(() => 3e38));
  const diverging = new AlternatingLeastSquares({
    factors: 3,
    iterations: 2,
    randomState: 1,
    alpha: 1e10,
  });
  await assert.rejects(diverging.fit(huge, quiet), /regularization|finite|positive definite/);
  assert.equal(diverging.nUsers, 0);
  const warm = new AlternatingLeastSquares({
    factors: 3,
    iterations: 2,
    randomState: 1,
    alpha: 1e10,
  });
  warm.assignFactors(model.userFactors, model.itemFactors);
  const warmBefore = warm.userFactors.data.slice();
  await assert.rejects(warm.fit(huge, quiet), /regularization/);
  assert.deepEqual(warm.userFactors.data, warmBefore);
});

test("an aborted fit rejects and keeps the previous factors", async () => {
  const m = randomMatrix(40, 30, 0.2, 6);
  const model = await new AlternatingLeastSquares({ factors: 4, iterations: 2, randomState: 2 })
    .fit(m, quiet);
  const before = model.itemFactors.data;
  const controller = new AbortController();
  const fit = new AlternatingLeastSquares({ factors: 4, iterations: 50, randomState: 2 });
  const pending = fit.fit(m, {
    progress: false,
    callback: (it) => it === 1 && controller.abort(),
    signal: controller.signal,
  });
  await assert.rejects(pending, (e: Error) => e.name === "AbortError");
  assert.equal(fit.nUsers, 0);
  assert.equal(model.itemFactors.data, before);
});

for (const rule of RULES) {
  test(`explain's contributions with confidence ${rule} sum to the recalculated user's score`, async () => {
    const m = randomMatrix(25, 20, 0.3, 12, true);
    const model = await new AlternatingLeastSquares({
      factors: 5,
      iterations: 3,
      randomState: 4,
      alpha: 2,
      regularization: 0.1,
      confidence: rule,
    }).fit(m, quiet);
    for (const [user, item] of [[0, 3], [7, 11], [19, 0]] as const) {
      const explanation = model.explain(user, m, item, { n: 100 });
      const sum = explanation.contributions.scores.reduce((s, v) => s + v, 0);
      const x = denseAlsRow(toRows(m)[user]!, model.itemFactors.data, 5, 0.1, 2, rule);
      let expected = 0;
      for (let d = 0; d < 5; d++) expected += x[d]! * model.itemFactors.data[item * 5 + d]!;
      assert.ok(
        Math.abs(explanation.score - expected) < 1e-4 * Math.max(1, Math.abs(expected)),
        `${explanation.score} vs ${expected}`,
      );
      assert.ok(Math.abs(sum - explanation.score) < 1e-4 * Math.max(1, Math.abs(expected)));
      const liked = m.row(user).indices.filter((_, p) => m.row(user).data[p]! > 0);
      assert.deepEqual([...explanation.contributions.ids].sort((a, b) => a - b), [...liked]);
      const top = model.explain(user, m, item, { n: 2 });
      assert.ok(top.contributions.ids.length <= 2);
      assert.deepEqual(
        top.contributions.ids,
        explanation.contributions.ids.slice(0, top.contributions.ids.length),
      );
    }
  });
}

test("recalculateUser equals the dense solve and partialFitUsers grows the model", async () => {
  const m = randomMatrix(20, 15, 0.3, 13);
  const model = await new AlternatingLeastSquares({
    factors: 4,
    iterations: 2,
    randomState: 5,
    regularization: 0.1,
  }).fit(m, quiet);
  const x = model.recalculateUser(3, m);
  assert.ok(
    relativeError(x, denseAlsRow(toRows(m)[3]!, model.itemFactors.data, 4, 0.1, 1, "alphaValue")) <
      1e-4,
  );
  const newRows = randomMatrix(2, 15, 0.4, 14);
  model.partialFitUsers([1, 24], newRows);
  assert.equal(model.nUsers, 25);
  for (const [k, u] of [[0, 1], [1, 24]] as const) {
    const expected = denseAlsRow(
      toRows(newRows)[k]!,
      model.itemFactors.data,
      4,
      0.1,
      1,
      "alphaValue",
    );
    assert.ok(relativeError(model.userFactors.data.subarray(u * 4, (u + 1) * 4), expected) < 1e-4);
  }
  assert.deepEqual([...model.userFactors.data.subarray(20 * 4, 24 * 4)], new Array(16).fill(0));
  assert.throws(() => model.partialFitUsers([1], newRows), /1 ids but userItems has 2 rows/);
  const items = randomMatrix(1, 25, 0.5, 15);
  model.partialFitItems([15], items);
  assert.equal(model.nItems, 16);
});

test("options are validated with errors naming the option", () => {
  assert.throws(
    () => new AlternatingLeastSquares({ factors: 0 }),
    (e: Error) => e instanceof RangeError && /factors/.test(e.message),
  );
  assert.throws(
    () => new AlternatingLeastSquares({ regularization: Number.NaN }),
    /regularization/,
  );
  assert.throws(() => new AlternatingLeastSquares({ alpha: -1 }), /alpha/);
  assert.throws(() => new AlternatingLeastSquares({ iterations: 1.5 }), /iterations/);
  assert.throws(() => new AlternatingLeastSquares({ solver: "lu" as never }), /solver/);
  assert.throws(() => new AlternatingLeastSquares({ cgSteps: 0 }), /cgSteps/);
  assert.throws(
    () => new AlternatingLeastSquares({ confidence: "onePlusAlpha" as never }),
    (e: Error) => /confidence/.test(e.message) && /onePlusAlpha/.test(e.message),
  );
  assert.equal(new AlternatingLeastSquares().confidence, "alphaValue");
  assert.equal(new AlternatingLeastSquares().parameters().confidence, "alphaValue");
  assert.throws(() => new AlternatingLeastSquares({ dtype: "float64" as never }), /dtype/);
});

test("bad query inputs raise errors naming the argument", async () => {
  const m = randomMatrix(10, 8, 0.4, 16);
  const model = await new AlternatingLeastSquares({ factors: 3, iterations: 1, randomState: 1 })
    .fit(m, quiet);
  await assert.rejects(model.fit({} as CsrMatrix, quiet), /userItems/);
  assert.throws(
    () => model.recommend(10, m),
    (e: Error) => e instanceof RangeError && /userid = 10/.test(e.message),
  );
  assert.throws(() => model.recommend(-1, m), /userid = -1/);
  assert.throws(() => model.recommend([0, 2.5], m), /userid\[1\] = 2.5/);
  assert.throws(
    () => model.recommend(0, randomMatrix(10, 9, 0.4, 1)),
    /userItems has 9 columns but the model has 8 items/,
  );
  assert.throws(() => model.recommend(0, m, { n: 0 }), /n/);
  assert.throws(() => model.recommend(0, m, { filterItems: [8] }), /filterItems\[0\] = 8/);
  assert.throws(() => model.recommend(0, m, { items: [Number.NaN] }), /items\[0\] = NaN/);
  assert.throws(() => model.similarItems(8), /itemid = 8/);
  assert.throws(() => model.similarUsers(0, { filterUsers: [99] }), /filterUsers\[0\] = 99/);
  assert.throws(() => model.explain(0, m, 8), /itemid = 8/);
  assert.throws(() => new AlternatingLeastSquares().recommend(0, m), /fitted/);
  assert.throws(
    () =>
      model.assignFactors({ data: new Float32Array([1, Number.NaN]), shape: [1, 2] }, {
        data: new Float32Array(2),
        shape: [1, 2],
      }),
    /users.data\[1\]/,
  );
});

test("on a listening log with planted genres, similarItems() returns the item's own genre", async () => {
  const data = listeningDataset({ users: 1500, itemsPerGenre: 25, seed: 3 });
  const model = await new AlternatingLeastSquares({
    factors: 16,
    regularization: 10,
    alpha: 2,
    iterations: 10,
    randomState: 1,
  })
    .fit(bm25Weight(data.plays), quiet);
  let same = 0;
  let total = 0;
  for (let item = 0; item < data.plays.nCols; item++) {
    for (const id of model.similarItems(item, { n: 6 }).ids) {
      if (id === item) continue;
      total++;
      if (data.itemGenre[id] === data.itemGenre[item]) same++;
    }
  }
  assert.ok(same / total > 0.95, `${same} of ${total} neighbours share the genre`);
});

test("numThreads gives the same factors as the default pool and restores the pool size", async () => {
  const m = randomMatrix(80, 60, 0.1, 17);
  const before = getNumThreads();
  const single = await new AlternatingLeastSquares({
    factors: 6,
    iterations: 3,
    randomState: 8,
    numThreads: 1,
  }).fit(m, quiet);
  assert.equal(getNumThreads(), before);
  const pooled = await new AlternatingLeastSquares({ factors: 6, iterations: 3, randomState: 8 })
    .fit(m, quiet);
  assert.deepEqual(single.userFactors.data, pooled.userFactors.data);
  assert.deepEqual(single.itemFactors.data, pooled.itemFactors.data);
});

test("fit() lets the event loop run between and during iterations", async () => {
  const m = randomMatrix(400, 300, 0.05, 19);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  try {
    await new AlternatingLeastSquares({ factors: 16, iterations: 8, randomState: 1 }).fit(m, quiet);
  } finally {
    clearInterval(timer);
  }
  assert.ok(ticks > 0, "a timer never fired while fit() ran");
});
