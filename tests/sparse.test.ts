import assert from "node:assert/strict";
import { CsrMatrix } from "../mod.ts";
import { seeded } from "./reference.ts";
import { test } from "./harness.ts";

test("fromCoo sums duplicates and sorts columns like a dense accumulation", () => {
  const next = seeded(3);
  const rows: number[] = [];
  const cols: number[] = [];
  const values: number[] = [];
  const dense = new Float64Array(6 * 9);
  for (let e = 0; e < 80; e++) {
    const r = Math.floor(next() * 6);
    const c = Math.floor(next() * 9);
    const v = Math.round(next() * 10) - 2;
    rows.push(r);
    cols.push(c);
    values.push(v);
    dense[r * 9 + c]! += v;
  }
  const m = CsrMatrix.fromCoo({ rows, cols, values, shape: [6, 9] });
  assert.deepEqual([...m.toDense()], [...dense]);
  for (let r = 0; r < 6; r++) {
    const { indices } = m.row(r);
    for (let k = 1; k < indices.length; k++) assert.ok(indices[k]! > indices[k - 1]!);
  }
});

test("fromCoo infers the shape, defaults values to 1 and transpose mirrors the dense matrix", () => {
  const m = CsrMatrix.fromCoo({ rows: [2, 0, 2], cols: [1, 3, 1] });
  assert.deepEqual(m.shape, [3, 4]);
  assert.equal(m.nnz, 2);
  assert.deepEqual([...m.row(2).data], [2]);
  const t = m.transpose();
  assert.deepEqual(t.shape, [4, 3]);
  const d = m.toDense();
  const dt = t.toDense();
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) assert.equal(dt[c * 3 + r], d[r * 4 + c]);
});

test("rows() selects rows in order and resize() pads with empty rows", () => {
  const m = CsrMatrix.fromDense([[1, 0, 2], [0, 0, 0], [3, 4, 0]]);
  const picked = m.rows([2, 0, 2]);
  assert.deepEqual([...picked.toDense()], [3, 4, 0, 1, 0, 2, 3, 4, 0]);
  const grown = m.resize(5);
  assert.deepEqual(grown.shape, [5, 3]);
  assert.equal(grown.nnz, 4);
  assert.throws(() => m.rows([3]), /rows\[0\] = 3/);
});

test("the constructor and fromCoo reject malformed input with the argument named", () => {
  const ok = {
    indptr: Int32Array.of(0, 1, 2),
    indices: Int32Array.of(0, 1),
    data: Float32Array.of(1, 1),
  };
  assert.throws(
    () => new CsrMatrix([2, 2], ok.indptr, Int32Array.of(0, 2), ok.data),
    /indices\[1\] = 2 is out of range/,
  );
  assert.throws(
    () => new CsrMatrix([1, 3], Int32Array.of(0, 2), Int32Array.of(1, 1), Float32Array.of(1, 1)),
    /strictly increasing/,
  );
  assert.throws(
    () => new CsrMatrix([2, 2], ok.indptr, ok.indices, Float32Array.of(1, Number.NaN)),
    /data\[1\]/,
  );
  assert.throws(
    () => new CsrMatrix([3, 2], ok.indptr, ok.indices, ok.data),
    /indptr to have 4 entries/,
  );
  assert.throws(
    () => new CsrMatrix([2, 2], Int32Array.of(0, 2, 1), ok.indices, Float32Array.of(1)),
    /indices to have|non-decreasing/,
  );
  assert.throws(
    () => new CsrMatrix([2, 2], ok.indptr, ok.indices, new Float64Array(2) as never),
    /data to be a Float32Array/,
  );
  assert.throws(() => new CsrMatrix([2, -1], ok.indptr, ok.indices, ok.data), /shape\[1\]/);
  assert.throws(() => CsrMatrix.fromCoo({ rows: [0, 1], cols: [0] }), /cols to have 2 entries/);
  assert.throws(
    () => CsrMatrix.fromCoo({ rows: [0, 5], cols: [0, 1], shape: [3, 3] }),
    /rows\[1\] = 5/,
  );
  assert.throws(
    () => CsrMatrix.fromCoo({ rows: [0], cols: [0], values: [Number.POSITIVE_INFINITY] }),
    /values\[0\]/,
  );
});
