import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AlternatingLeastSquares } from "../mod.ts";
import { readTacitFile, TacitFileError, writeTacitFile } from "../lib/io/format.ts";
import { denseAlsRow, randomMatrix, relativeError, toRows } from "./reference.ts";
import { test } from "./harness.ts";

const dir = mkdtempSync(join(tmpdir(), "tacit-als-"));

function bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

test("save then load round-trips factors bit for bit and keeps the options", async () => {
  const m = randomMatrix(30, 20, 0.2, 1);
  const model = await new AlternatingLeastSquares({
    factors: 7,
    regularization: 0.07,
    alpha: 3,
    iterations: 2,
    solver: "cholesky",
    randomState: 4,
  })
    .fit(m, { progress: false });
  const path = join(dir, "model.tacit");
  await model.save(path);
  const loaded = await AlternatingLeastSquares.load(path);
  assert.deepEqual(bytes(loaded.userFactors.data), bytes(model.userFactors.data));
  assert.deepEqual(bytes(loaded.itemFactors.data), bytes(model.itemFactors.data));
  assert.deepEqual(loaded.userFactors.shape, [30, 7]);
  assert.equal(loaded.regularization, 0.07);
  assert.equal(loaded.solver, "cholesky");
  assert.deepEqual(loaded.recommend(3, m, { n: 5 }), model.recommend(3, m, { n: 5 }));
});

test("load refuses a truncated, corrupted or foreign file, and a failed save keeps the old file", async () => {
  const m = randomMatrix(10, 8, 0.3, 2);
  const model = await new AlternatingLeastSquares({ factors: 3, iterations: 1, randomState: 1 })
    .fit(m, { progress: false });
  const path = join(dir, "small.tacit");
  await model.save(path);
  const good = readFileSync(path);
  for (const cut of [4, 20, good.length - 1]) {
    const truncated = join(dir, `cut-${cut}.tacit`);
    writeFileSync(truncated, good.subarray(0, cut));
    await assert.rejects(AlternatingLeastSquares.load(truncated), new RegExp(`cut-${cut}`));
  }
  const corrupted = Buffer.from(good);
  corrupted[corrupted.length - 3]! ^= 0xff;
  writeFileSync(join(dir, "bad.tacit"), corrupted);
  await assert.rejects(AlternatingLeastSquares.load(join(dir, "bad.tacit")), /checksum/i);
  writeFileSync(join(dir, "foreign.tacit"), "PK\u0003\u0004 not a model at all, just some bytes");
  await assert.rejects(AlternatingLeastSquares.load(join(dir, "foreign.tacit")), /foreign\.tacit/);
  await assert.rejects(AlternatingLeastSquares.load(join(dir, "missing.tacit")), /missing\.tacit/);
  await assert.rejects(model.save(join(dir, "no-such-dir", "x.tacit")));
  await assert.rejects(new AlternatingLeastSquares().save(path), /fitted/);
  assert.deepEqual(readFileSync(path), good);
});

test("save records the confidence rule and load restores it", async () => {
  const m = randomMatrix(12, 9, 0.3, 5);
  for (const rule of ["alphaValue", "onePlusAlphaValue"] as const) {
    const model = await new AlternatingLeastSquares({
      factors: 3,
      iterations: 1,
      randomState: 2,
      confidence: rule,
    }).fit(m, { progress: false });
    const path = join(dir, `rule-${rule}.tacit`);
    await model.save(path);
    const file = await readTacitFile(path);
    assert.equal(file.version, 2);
    assert.equal(file.params.confidence, rule);
    assert.equal((await AlternatingLeastSquares.load(path)).confidence, rule);
  }
});

test("a file written before the confidence option loads with the rule it was trained with", async () => {
  const m = randomMatrix(15, 10, 0.3, 6);
  const model = await new AlternatingLeastSquares({
    factors: 4,
    iterations: 2,
    randomState: 3,
    regularization: 0.1,
    alpha: 2,
    confidence: "onePlusAlphaValue",
  }).fit(m, { progress: false });
  const path = join(dir, "current.tacit");
  await model.save(path);
  const current = await readTacitFile(path);
  const { confidence: _, ...oldParams } = current.params;
  const legacy = join(dir, "legacy-v1.tacit");
  await writeTacitFile(legacy, {
    kind: "als",
    version: 1,
    params: oldParams,
    arrays: current.arrays,
  });
  const loaded = await AlternatingLeastSquares.load(legacy);
  assert.equal(loaded.confidence, "onePlusAlphaValue");
  // The loaded model solves with c = 1 + alpha·|v|, as the dense reference does.
  const expected = denseAlsRow(
    toRows(m)[2]!,
    loaded.itemFactors.data,
    4,
    0.1,
    2,
    "onePlusAlphaValue",
  );
  assert.ok(relativeError(loaded.recalculateUser(2, m), expected) < 1e-4);

  const unrecorded = join(dir, "v2-without-rule.tacit");
  await writeTacitFile(unrecorded, {
    kind: "als",
    version: 2,
    params: oldParams,
    arrays: current.arrays,
  });
  await assert.rejects(
    AlternatingLeastSquares.load(unrecorded),
    (e: Error) =>
      e instanceof TacitFileError && /confidence/.test(e.message) &&
      /v2-without-rule/.test(e.message),
  );
  const bad = join(dir, "bad-rule.tacit");
  await writeTacitFile(bad, {
    kind: "als",
    version: 2,
    params: { ...oldParams, confidence: "alpha" },
    arrays: current.arrays,
  });
  await assert.rejects(
    AlternatingLeastSquares.load(bad),
    (e: Error) =>
      e instanceof TacitFileError && /confidence/.test(e.message) && /bad-rule/.test(e.message),
  );
});
