import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataFileError, decodeNpy, encodeNpy, readNpy, writeNpy } from "../mod.ts";
import type { NpyInput } from "../mod.ts";
import { test } from "./harness.ts";
import { python, pythonWithout } from "./python.ts";

const dir = mkdtempSync(join(tmpdir(), "tacit-npy-"));

const SAMPLES: Record<string, NpyInput> = {
  float32: { array: Float32Array.of(1.5, -2, 3e-38, 7, 0, -0), shape: [2, 3] },
  float64: { array: Float64Array.of(Math.PI, -1e300, 5e-324), shape: [3] },
  int32: { array: Int32Array.of(-2147483648, 2147483647, 0, 1), shape: [2, 1, 2] },
  int64: { array: BigInt64Array.of(-9223372036854775808n, 9007199254740993n), shape: [2] },
  empty: { array: new Float32Array(0), shape: [0, 4] },
  scalar: { array: Float64Array.of(42), shape: [] },
};

/** A header made by hand, padded as NumPy pads it, followed by `data`. */
function handMade(dict: string, data: Uint8Array, version = 1): Uint8Array {
  const prefix = version === 1 ? 10 : 12;
  const total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  const head = new Uint8Array(total).fill(0x20);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(head.buffer);
  if (version === 1) view.setUint16(8, total - prefix, true);
  else view.setUint32(8, total - prefix, true);
  head.set(new TextEncoder().encode(dict), prefix);
  head[total - 1] = 0x0a;
  const out = new Uint8Array(total + data.length);
  out.set(head);
  out.set(data, total);
  return out;
}

test("writeNpy then readNpy round-trips every dtype bit for bit, empty and scalar arrays too", async () => {
  for (const [name, input] of Object.entries(SAMPLES)) {
    const path = join(dir, `${name}.npy`);
    await writeNpy(path, input);
    const back = await readNpy(path);
    assert.deepEqual(back.shape, input.shape, name);
    assert.equal(back.array.constructor, input.array.constructor, name);
    assert.deepEqual(back.array, input.array, name);
    assert.equal(readFileSync(path).length % 64, input.array.byteLength % 64, name);
  }
  assert.equal((await readNpy(join(dir, "int64.npy"))).dtype, "int64");
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith(".tacit-")), []);
});

test("encodeNpy switches to format 2.0 only when the header outgrows 1.0's 16-bit length", () => {
  const small = encodeNpy({ array: new Float32Array(6), shape: [1, 2, 3] });
  assert.deepEqual([small[6], small[7]], [1, 0]);
  // 12,000 dimensions of size 1 make a header of ~36 KB (still 1.0) ...
  const mid = encodeNpy({ array: new Int32Array(1), shape: new Array(12_000).fill(1) });
  assert.equal(mid[6], 1);
  // ... 30,000 make ~90 KB: 2.0, a u32 length.
  const big = encodeNpy({ array: new Int32Array(1), shape: new Array(30_000).fill(1) });
  assert.equal(big[6], 2);
  const back = decodeNpy(big);
  assert.equal(back.shape.length, 30_000);
  assert.deepEqual(back.array, new Int32Array(1));
  assert.equal((new DataView(big.buffer).getUint32(8, true) + 12) % 64, 0);
});

test("encodeNpy refuses a shape whose product is not the array's length, or another array type", () => {
  assert.throws(
    () => encodeNpy({ array: new Float32Array(5), shape: [2, 3] }),
    { name: "RangeError", message: /shape \[2,3\].*5 values.*product is 6/ },
  );
  assert.throws(
    () => encodeNpy({ array: new Uint16Array(2) as unknown as Int32Array, shape: [2] }),
    { name: "TypeError", message: /Float32Array, Float64Array, Int32Array or BigInt64Array/ },
  );
  assert.throws(() => encodeNpy({ array: new Int32Array(2), shape: [2.5] }), TypeError);
});

test("readNpy refuses each malformed file with a DataFileError naming the path and the fault", async () => {
  const f4 = new Uint8Array(Float32Array.of(1, 2, 3, 4).buffer);
  const cases: [string, Uint8Array, RegExp][] = [
    [
      "magic.npy",
      new TextEncoder().encode("PK\u0003\u0004 a zip, not an array"),
      /NPY magic.*50 4b 03 04.*not an NPY file/,
    ],
    ["empty.npy", new Uint8Array(0), /NPY magic.*found no bytes/],
    [
      "dtype.npy",
      handMade("{'descr': '<u2', 'fortran_order': False, 'shape': (8,), }", f4),
      /dtype '<u2' \(uint16\): unsupported dtype/,
    ],
    [
      "string.npy",
      handMade("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(12)),
      /dtype '<U3' \(string or bytes\)/,
    ],
    [
      "structured.npy",
      handMade("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", f4),
      /structured dtype/,
    ],
    [
      "fortran.npy",
      handMade("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", f4),
      /C order but found fortran_order True/,
    ],
    [
      "big.npy",
      handMade("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", f4),
      /little-endian but found dtype '>f4' \(big-endian float32\)/,
    ],
    [
      "short.npy",
      handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f4),
      /6 float32 values \(24 bytes\) for shape \(2, 3\).*found 16 bytes: the file is truncated/,
    ],
    [
      "long.npy",
      handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f4),
      /3 float32 values \(12 bytes\) for shape \(3,\).*found 16 bytes: more data than the shape gives/,
    ],
    [
      "header.npy",
      handMade("{'descr': '<f4', 'shape': (4,), }", f4),
      /found no 'fortran_order'/,
    ],
    [
      "cut-header.npy",
      handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", f4).subarray(0, 40),
      /header of 118 bytes.*truncated/,
    ],
    [
      "version.npy",
      (() => {
        const b = encodeNpy({ array: Float32Array.of(1), shape: [1] });
        b[6] = 9;
        return b;
      })(),
      /version 1\.0, 2\.0 or 3\.0.*found 9\.0/,
    ],
  ];
  for (const [name, bytes, message] of cases) {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    await assert.rejects(readNpy(path), (error: Error) => {
      assert.ok(error instanceof DataFileError, `${name}: ${error}`);
      assert.equal(error.path, path);
      assert.match(error.message, new RegExp(name.replace(".", "\\.")), name);
      assert.match(error.message, message, name);
      return true;
    });
  }
  await assert.rejects(readNpy(join(dir, "missing.npy")), {
    name: "DataFileError",
    message: /Expected an NPY file at .*missing\.npy but found no file/,
  });
  await assert.rejects(readNpy(dir), { name: "DataFileError", message: /found a directory/ });
});

test("readNpy reads format 2.0 and '|'/'=' byte orders, and decodeNpy copies misaligned data", () => {
  const f8 = new Uint8Array(Float64Array.of(1, 2).buffer);
  const v2 = handMade("{'descr': '=f8', 'fortran_order': False, 'shape': (2,), }", f8, 2);
  assert.deepEqual(decodeNpy(v2).array, Float64Array.of(1, 2));
  const shifted = new Uint8Array(v2.length + 1);
  shifted.set(v2, 1);
  assert.deepEqual(decodeNpy(shifted.subarray(1)).array, Float64Array.of(1, 2));
});

test("writeNpy leaves an existing file as it was and no temporary when the write fails", async () => {
  const path = join(dir, "keep.npy");
  await writeNpy(path, SAMPLES.float32!);
  const before = readFileSync(path);
  await assert.rejects(writeNpy(join(dir, "no-such", "x.npy"), SAMPLES.float32!), {
    name: "DataFileError",
    message: /Could not write NPY file .*x\.npy: its directory does not exist/,
  });
  assert.deepEqual(readFileSync(path), before);
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith(".tacit-")), []);
});

const noNumpy = pythonWithout(["numpy"]);

test("NumPy's np.load reads every file writeNpy writes", async () => {
  if (noNumpy) return console.log(`skipped: ${noNumpy}`);
  const names = ["float32", "float64", "int32", "int64", "empty", "scalar"];
  for (const name of names) await writeNpy(join(dir, `np-${name}.npy`), SAMPLES[name]!);
  const out = python(
    `import sys, json, numpy as np
res = {}
for name in sys.argv[2:]:
    a = np.load(sys.argv[1] + "/np-" + name + ".npy")
    assert a.flags["C_CONTIGUOUS"]
    res[name] = {"dtype": str(a.dtype), "shape": list(a.shape), "hex": a.tobytes().hex()}
print(json.dumps(res))`,
    [dir, ...names],
  );
  const found = JSON.parse(out);
  for (const name of names) {
    const input = SAMPLES[name]!;
    const a = input.array;
    assert.deepEqual(found[name].shape, input.shape, name);
    assert.equal(
      found[name].dtype,
      {
        Float32Array: "float32",
        Float64Array: "float64",
        Int32Array: "int32",
        BigInt64Array: "int64",
      }[
        a.constructor.name
      ],
      name,
    );
    assert.equal(
      found[name].hex,
      Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("hex"),
      name,
    );
  }
});

test("readNpy reads what NumPy's np.save writes, and refuses its Fortran-order and big-endian files", async () => {
  if (noNumpy) return console.log(`skipped: ${noNumpy}`);
  python(
    `import sys, numpy as np
d = sys.argv[1]
np.save(d + "/from-f4.npy", np.arange(12, dtype=np.float32).reshape(3, 4) / 7)
np.save(d + "/from-f8.npy", np.linspace(-1, 1, 5))
np.save(d + "/from-i4.npy", np.array([[1, -2], [3, 2**31 - 1]], dtype=np.int32))
np.save(d + "/from-i8.npy", np.array([2**62, -5], dtype=np.int64))
np.save(d + "/from-fortran.npy", np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
np.save(d + "/from-big.npy", np.ones(3, dtype=">f8"))
np.save(d + "/from-u8.npy", np.ones(3, dtype=np.uint8))`,
    [dir],
  );
  const f4 = await readNpy(join(dir, "from-f4.npy"));
  assert.equal(f4.dtype, "float32");
  assert.deepEqual(f4.shape, [3, 4]);
  assert.deepEqual(
    f4.array,
    Float32Array.from({ length: 12 }, (_, k) => Math.fround(Math.fround(k) / 7)),
  );
  const f8 = await readNpy(join(dir, "from-f8.npy"));
  assert.deepEqual(f8.array, Float64Array.of(-1, -0.5, 0, 0.5, 1));
  assert.deepEqual(
    (await readNpy(join(dir, "from-i4.npy"))).array,
    Int32Array.of(1, -2, 3, 2147483647),
  );
  assert.deepEqual(
    (await readNpy(join(dir, "from-i8.npy"))).array,
    BigInt64Array.of(2n ** 62n, -5n),
  );
  await assert.rejects(readNpy(join(dir, "from-fortran.npy")), /fortran_order True/);
  await assert.rejects(readNpy(join(dir, "from-big.npy")), /big-endian float64/);
  await assert.rejects(readNpy(join(dir, "from-u8.npy")), /'\|u1' \(uint8\): unsupported dtype/);
});
