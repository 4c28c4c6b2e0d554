import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { NativeBytes } from "../lib/native/bytes.ts";
import { nativeObjectsAlive } from "../lib/native/handle.ts";
import { callNative } from "../lib/native/library.ts";
import { test } from "./harness.ts";

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

test("a native byte store keeps what was written, at its offsets", () => {
  const store = new NativeBytes(16);
  store.write(3, Uint8Array.of(7, 8, 9));
  assert.deepEqual(store.read(0, 8), Uint8Array.of(0, 0, 0, 7, 8, 9, 0, 0));
  assert.throws(() => store.write(15, Uint8Array.of(1, 2)), {
    name: "RangeError",
    message: "Expected offset + len = 15 + 2 to be at most the store's 16 bytes",
  });
  store.dispose();
});

test("a disposed handle is refused before native code, and dispose() is idempotent", () => {
  const before = nativeObjectsAlive();
  const store = new NativeBytes(4);
  assert.equal(nativeObjectsAlive(), before + 1);
  const raw = store.handle;
  store.dispose();
  store.dispose();
  assert.equal(store.disposed, true);
  assert.equal(nativeObjectsAlive(), before);
  assert.throws(() => store.read(0, 1), { message: /This native byte store was disposed/ });
  // A raw value kept from before the release cannot reach freed memory either.
  assert.throws(
    () =>
      callNative("tacit_bytes_copy", {
        store: raw,
        offset: 0,
        direction: 1,
        data: new Uint8Array(1),
        len: 1,
      }),
    {
      name: "TypeError",
      message: "Expected store to be a live native handle but found one that was already released",
    },
  );
  assert.throws(() => callNative("tacit_handle_release", { handle: raw }), /already released/);
});

test("using releases the object at the end of its block", () => {
  const before = nativeObjectsAlive();
  let kept: NativeBytes | undefined;
  {
    using store = new NativeBytes(8);
    kept = store;
    assert.equal(nativeObjectsAlive(), before + 1);
  }
  assert.equal(kept.disposed, true);
  assert.equal(nativeObjectsAlive(), before);
});

test("objects never disposed are released once collected (the FinalizationRegistry backstop)", () => {
  const module = new URL("../lib/native/bytes.ts", import.meta.url).href;
  const handleModule = new URL("../lib/native/handle.ts", import.meta.url).href;
  const file = join(mkdtempSync(join(tmpdir(), "tacit-handle-")), "probe.ts");
  writeFileSync(
    file,
    `import { NativeBytes } from ${JSON.stringify(module)};
import { nativeObjectsAlive } from ${JSON.stringify(handleModule)};
const collect = () => (globalThis as any).Bun ? (globalThis as any).Bun.gc(true) : (globalThis as any).gc();
for (let i = 0; i < 100; i++) new NativeBytes(1024);
const created = nativeObjectsAlive();
let alive = created;
for (let round = 0; round < 50 && alive > 0; round++) {
  collect();
  await new Promise((resolve) => setTimeout(resolve, 10));
  alive = nativeObjectsAlive();
}
console.log("created=" + created + " alive=" + alive);
`,
  );
  const args = isBun ? [file] : ["run", "-A", "--v8-flags=--expose-gc", file];
  const result = spawnSync(process.execPath, args, {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /created=100 alive=0/);
});
