import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AlternatingLeastSquares } from "../mod.ts";
import { randomMatrix } from "./reference.ts";
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
