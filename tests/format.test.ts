import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "./harness.ts";
import {
  crc32,
  expectArray,
  readTacitFile,
  TACIT_MAGIC,
  type TacitContents,
  TacitFileError,
  writeTacitFile,
} from "../lib/io/format.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "tacit-format-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function sample(): TacitContents {
  const f32 = new Float32Array(
    new Uint32Array([0x7fc00001, 0xffc12345, 0x7f800001, 0x80000000, 0x3f800000, 0x7f800000])
      .buffer,
  );
  const f64 = new Float64Array(3);
  const words = new Uint32Array(f64.buffer);
  words.set([0x00000001, 0x7ff80000, 0xdeadbeef, 0xfff00000, 0, 0x80000000]); // NaN payloads and -0
  return {
    kind: "als",
    version: 2,
    params: { factors: 3, regularization: 0.01, name: "é ✓", nested: { list: [1, 2] } },
    arrays: {
      userFactors: { array: f32, shape: [2, 3] },
      indptr: { array: Int32Array.of(0, -1, 2 ** 31 - 1, -(2 ** 31), 7), shape: [5] },
      mask: { array: Uint8Array.of(0, 255, 7), shape: [3] },
      scale: { array: f64, shape: [3] },
      empty: { array: new Float32Array(0), shape: [0, 4] },
      scalar: { array: Float64Array.of(Math.PI), shape: [] },
    },
  };
}

async function assertRefused(path: string, pattern: RegExp, kind?: string): Promise<void> {
  await assert.rejects(
    readTacitFile(path, kind === undefined ? {} : { kind }),
    (error: unknown) => {
      assert.ok(error instanceof TacitFileError, String(error));
      assert.ok(error.message.includes(path), `message names the path: ${error.message}`);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

/** A file with the given header text and payload, and a correct prefix. */
function craft(header: string, payload = new Uint8Array(0), version = 1): Uint8Array {
  const text = new TextEncoder().encode(header);
  const start = Math.ceil((16 + text.length) / 64) * 64;
  const out = new Uint8Array(start + payload.length);
  out.set(TACIT_MAGIC);
  new DataView(out.buffer).setUint32(8, version, true);
  new DataView(out.buffer).setUint32(12, text.length, true);
  out.set(text, 16);
  out.set(payload, start);
  return out;
}

test("crc32() gives the standard check values", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  const data = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 31 + 7) & 255);
  assert.equal(crc32(data), 0x17340963); // Python zlib.crc32
  assert.equal(crc32(data.subarray(3)), 0x40de0bc1);
  assert.equal(crc32(data.subarray(5), crc32(data.subarray(0, 5))), 0x17340963);
});

test("a file round-trips every dtype bit for bit, NaN payloads and -0 included", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "model.tacit");
    const contents = sample();
    await writeTacitFile(path, contents);
    const file = await readTacitFile(path, { kind: "als" });
    assert.equal(file.kind, "als");
    assert.equal(file.version, 2);
    assert.deepEqual(file.params, contents.params);
    assert.deepEqual(Object.keys(file.arrays), Object.keys(contents.arrays));
    for (const [name, { array, shape }] of Object.entries(contents.arrays)) {
      const got = file.arrays[name]!;
      assert.equal(got.array.constructor, array.constructor, name);
      assert.deepEqual(got.shape, shape, name);
      assert.deepEqual(bytes(got.array), bytes(array), name);
    }
    const factors = expectArray(file, "userFactors", "f32", [2, 3]);
    assert.ok(Object.is(factors[3], -0));
  });
});

test("the file starts with the magic, the format version and the header length, and arrays sit at 64-byte offsets", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "model.tacit");
    await writeTacitFile(path, sample());
    const raw = new Uint8Array(await readFile(path));
    assert.deepEqual(
      raw.subarray(0, 8),
      Uint8Array.of(0x89, 0x54, 0x41, 0x43, 0x49, 0x54, 0x0d, 0x0a),
    );
    const view = new DataView(raw.buffer, raw.byteOffset);
    assert.equal(view.getUint32(8, true), 1);
    const headerLength = view.getUint32(12, true);
    const header = JSON.parse(new TextDecoder().decode(raw.subarray(16, 16 + headerLength)));
    assert.deepEqual(Object.keys(header), ["kind", "version", "params", "arrays", "checksum"]);
    let end = Math.ceil((16 + headerLength) / 64) * 64;
    for (const entry of header.arrays) {
      assert.equal(entry.offset % 64, 0);
      assert.equal(entry.offset, Math.ceil(end / 64) * 64);
      end = entry.offset + entry.byteLength;
    }
    assert.equal(raw.length, end);
  });
});

test("a file with no arrays round-trips", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "empty.tacit");
    await writeTacitFile(path, { kind: "idmap", params: { ids: ["a", "b"] }, arrays: {} });
    const file = await readTacitFile(path);
    assert.deepEqual(file, { kind: "idmap", version: 1, params: { ids: ["a", "b"] }, arrays: {} });
  });
});

test("loading refuses a missing file, naming the path", async () => {
  await withDir(async (dir) => {
    await assertRefused(
      join(dir, "nothing.tacit"),
      /Expected a tacit file at .* but found no file/,
    );
  });
});

test("loading refuses a foreign file", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "notes.txt");
    await writeFile(path, "hello, this is not a model file at all");
    await assertRefused(path, /does not start with the tacit magic bytes/);
  });
});

test("loading refuses a file of a newer format version", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "future.tacit");
    await writeTacitFile(path, sample());
    const raw = new Uint8Array(await readFile(path));
    new DataView(raw.buffer, raw.byteOffset).setUint32(8, 2, true);
    await writeFile(path, raw);
    await assertRefused(
      path,
      /format version 1 or older but .* has version 2; it was written by a newer tacit/,
    );
  });
});

test("loading refuses a file truncated anywhere", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "model.tacit");
    await writeTacitFile(path, sample());
    const raw = new Uint8Array(await readFile(path));
    const headerEnd = 16 + new DataView(raw.buffer, raw.byteOffset).getUint32(12, true);
    const cuts = [
      0,
      4,
      8,
      12,
      15,
      16,
      40,
      headerEnd - 1,
      headerEnd,
      headerEnd + 3,
      raw.length - 100,
      raw.length - 1,
    ];
    for (const cut of cuts) {
      const truncated = join(dir, `cut-${cut}.tacit`);
      await writeFile(truncated, raw.subarray(0, cut));
      await assertRefused(truncated, cut === 0 ? /found an empty file/ : /the file is truncated/);
    }
  });
});

test("loading refuses a file with trailing bytes", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "long.tacit");
    await writeTacitFile(path, sample());
    const raw = new Uint8Array(await readFile(path));
    await writeFile(path, new Uint8Array([...raw, 0, 0]));
    await assertRefused(path, /but found \d+: it has trailing bytes/);
  });
});

test("loading refuses a header that does not parse or lacks fields", async () => {
  await withDir(async (dir) => {
    const cases: [string, RegExp][] = [
      ["{not json", /Expected a JSON header in .* but it does not parse/],
      ["[1, 2]", /Expected a JSON object in the header/],
      [
        `{"version":1,"params":{},"arrays":[],"checksum":"00000000"}`,
        /Expected 'kind' to be a non-empty string in the header of .* but found undefined/,
      ],
      [
        `{"kind":"als","params":{},"arrays":[],"checksum":"00000000"}`,
        /'version' to be a positive integer/,
      ],
      [`{"kind":"als","version":1,"arrays":[],"checksum":"00000000"}`, /'params' to be an object/],
      [`{"kind":"als","version":1,"params":{},"checksum":"00000000"}`, /'arrays' to be an array/],
      [`{"kind":"als","version":1,"params":{},"arrays":[]}`, /'checksum' to be 8 hex digits/],
      [
        `{"kind":"als","version":1,"params":{},"arrays":[{"name":"x","dtype":"i16","shape":[1],"offset":64,"byteLength":2}],"checksum":"00000000"}`,
        /dtype to be f32, i32, u8 or f64/,
      ],
      [
        `{"kind":"als","version":1,"params":{},"arrays":[{"name":"x","dtype":"f32","shape":[-1],"offset":64,"byteLength":4}],"checksum":"00000000"}`,
        /shape to be non-negative integers/,
      ],
    ];
    for (const [k, [header, pattern]] of cases.entries()) {
      const path = join(dir, `bad-${k}.tacit`);
      await writeFile(path, craft(header));
      await assertRefused(path, pattern);
    }
    const path = join(dir, "bad-text.tacit");
    await writeFile(path, craft("{}").map((b, i) => (i === 16 ? 0xff : b)));
    await assertRefused(path, /does not parse/);
  });
});

test("loading refuses an array whose shape does not match its byteLength", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "shape.tacit");
    const header =
      `{"kind":"als","version":1,"params":{},"arrays":[{"name":"x","dtype":"f32","shape":[2,3],"offset":128,"byteLength":20}],"checksum":"00000000"}`;
    await writeFile(path, craft(header, new Uint8Array(64)));
    await assertRefused(
      path,
      /Expected array 'x' in .* to have byteLength 24 for shape \[2,3\] of f32 but found 20/,
    );
  });
});

test("loading refuses a file with a flipped byte in the arrays, the padding or the header", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "model.tacit");
    await writeTacitFile(path, sample());
    const raw = new Uint8Array(await readFile(path));
    const headerLength = new DataView(raw.buffer, raw.byteOffset).getUint32(12, true);
    const header = new TextDecoder().decode(raw.subarray(16, 16 + headerLength));
    const inParams = 16 + header.indexOf('"factors":3') + '"factors":'.length; // 3 -> 2
    for (
      const [at, mask] of [[raw.length - 1, 0x01], [raw.length - 30, 0x80], [
        16 + headerLength,
        0x01,
      ], [inParams, 0x01]] as const
    ) {
      const flipped = raw.slice();
      flipped[at]! ^= mask;
      const bad = join(dir, `flip-${at}.tacit`);
      await writeFile(bad, flipped);
      await assertRefused(
        bad,
        /Expected checksum [0-9a-f]{8} but the contents of .* give [0-9a-f]{8}: the file is corrupted/,
      );
    }
  });
});

test("loading refuses a file of another kind", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "model.tacit");
    await writeTacitFile(path, { ...sample(), kind: "bpr" });
    await assert.rejects(readTacitFile(path, { kind: "als" }), {
      name: "TacitFileError",
      message: `Expected a tacit file of kind 'als' but found 'bpr' in ${path}`,
    });
  });
});

test("a save over an existing file replaces it and leaves no temporary file", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "model.tacit");
    await writeTacitFile(path, sample());
    await writeTacitFile(path, {
      kind: "bpr",
      params: {},
      arrays: { v: { array: Int32Array.of(1), shape: [1] } },
    });
    assert.equal((await readTacitFile(path)).kind, "bpr");
    assert.deepEqual(await readdir(dir), ["model.tacit"]);
  });
});

test("a failed save leaves an existing file unchanged and no temporary file behind", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "model.tacit");
    await writeTacitFile(path, sample());
    const before = await readFile(path);
    // Refused contents: nothing is written.
    const bad = {
      kind: "als",
      params: {},
      arrays: { x: { array: new Float32Array(5), shape: [2, 3] } },
    };
    await assert.rejects(writeTacitFile(path, bad), RangeError);
    // A save into a missing directory fails and names the path.
    const missing = join(dir, "no-such-dir", "model.tacit");
    await assert.rejects(writeTacitFile(missing, sample()), (error: unknown) => {
      assert.ok(error instanceof TacitFileError && error.message.includes(missing), String(error));
      return true;
    });
    // A save whose final rename fails (the target is a non-empty directory) cleans up.
    const blocked = join(dir, "blocked.tacit");
    await mkdir(blocked);
    await writeFile(join(blocked, "keep"), "x");
    await assert.rejects(writeTacitFile(blocked, sample()), TacitFileError);
    assert.deepEqual(await readFile(path), before);
    assert.deepEqual((await readdir(dir)).sort(), ["blocked.tacit", "model.tacit"]);
    assert.deepEqual(await readdir(blocked), ["keep"]);
  });
});

test("saving refuses malformed contents", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "x.tacit");
    const arrays = { a: { array: new Float32Array(2), shape: [2] } };
    await assert.rejects(writeTacitFile(path, { kind: "", params: {}, arrays }), TypeError);
    await assert.rejects(
      writeTacitFile(path, { kind: "als", params: { alpha: Number.NaN }, arrays }),
      {
        name: "RangeError",
        message: "Expected params to hold finite numbers but found alpha = NaN",
      },
    );
    await assert.rejects(
      writeTacitFile(path, {
        kind: "als",
        params: {},
        arrays: { a: { array: new Int16Array(2) as never, shape: [2] } },
      }),
      TypeError,
    );
    await assert.rejects(
      writeTacitFile(path, { kind: "als", version: 0, params: {}, arrays }),
      RangeError,
    );
    assert.deepEqual(await readdir(dir), []);
  });
});

test("expectArray() refuses a missing array, another dtype or another shape", () => {
  const file = {
    kind: "als",
    version: 1,
    params: {},
    arrays: { v: { array: new Float32Array(6), shape: [2, 3] } },
  };
  assert.throws(() => expectArray(file, "w", "f32"), {
    name: "TypeError",
    message: "Expected an array 'w' of dtype f32 in the als file but found none",
  });
  assert.throws(() => expectArray(file, "v", "i32"), {
    message: "Expected an array 'v' of dtype i32 in the als file but found f32",
  });
  assert.throws(() => expectArray(file, "v", "f32", [3, 2]), {
    name: "RangeError",
    message: "Expected array 'v' to have shape [3,2] but found [2,3]",
  });
});
