import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { getNumThreads, setNumThreads } from "../mod.ts";
import { test } from "./harness.ts";

const modUrl = new URL("../mod.ts", import.meta.url).href;
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/** Runs a snippet that imports mod.ts in a fresh process of the current runtime. */
function runFresh(
  code: string,
  env: Record<string, string>,
  mod = modUrl,
): { status: number | null; output: string } {
  const file = join(mkdtempSync(join(tmpdir(), "tacit-loader-")), "probe.ts");
  writeFileSync(file, `import * as tacit from ${JSON.stringify(mod)};\n${code}\n`);
  const args = isBun ? [file] : ["run", "-A", file];
  const result = spawnSync(process.execPath, args, {
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

test("TACIT_LIB pointing at a missing file gives an error naming the path", () => {
  const { status, output } = runFresh("tacit.getNumThreads();", {
    TACIT_LIB: "/nonexistent/libtacit.so",
  });
  assert.notEqual(status, 0);
  assert.match(output, /native library was not found at \/nonexistent\/libtacit\.so/);
});

test("TACIT_NUM_THREADS sizes the pool of a fresh process", () => {
  const { status, output } = runFresh("console.log('threads=' + tacit.getNumThreads());", {
    TACIT_NUM_THREADS: "3",
  });
  assert.equal(status, 0, output);
  assert.match(output, /threads=3/);
});

test("setNumThreads() resizes the pool and 0 restores the default", () => {
  const before = getNumThreads();
  setNumThreads(1);
  assert.equal(getNumThreads(), 1);
  setNumThreads(0);
  assert.equal(getNumThreads(), before);
  assert.throws(() => setNumThreads(1.5), /integer/);
});

test("a library older than a Zig source is rebuilt once, and a missing Zig is a clear error", () => {
  // A copy of the package whose one Zig source is newer than its (real, prebuilt) library,
  // and a fake zig that only records how it was called.
  const root = fileURLToPath(new URL("../", import.meta.url));
  const copy = mkdtempSync(join(tmpdir(), "tacit-package-"));
  cpSync(join(root, "lib"), join(copy, "lib"), { recursive: true });
  copyFileSync(join(root, "mod.ts"), join(copy, "mod.ts"));
  writeFileSync(join(copy, "build.zig"), "// stand-in\n");
  mkdirSync(join(copy, "zig"));
  writeFileSync(join(copy, "zig", "root.zig"), "// stand-in\n");
  const library = join(
    copy,
    "zig-out",
    "lib",
    process.platform === "darwin" ? "libtacit.dylib" : "libtacit.so",
  );
  mkdirSync(join(copy, "zig-out", "lib"), { recursive: true });
  copyFileSync(join(root, "zig-out", "lib", library.split("/").at(-1)!), library);
  const past = new Date(Date.now() - 3_600_000);
  utimesSync(library, past, past);
  const fakeZig = join(copy, "fake-zig.sh");
  writeFileSync(
    fakeZig,
    `#!/bin/sh\nif [ "$1" = version ]; then echo 0.17.0; exit 0; fi\necho "$@" >> "${
      join(copy, "calls.log")
    }"\n`,
  );
  chmodSync(fakeZig, 0o755);
  const mod = new URL(`file://${join(copy, "mod.ts")}`).href;
  const probe = "console.log('threads=' + tacit.getNumThreads());";

  const first = runFresh(probe, { TACIT_ZIG: fakeZig }, mod);
  assert.equal(first.status, 0, first.output);
  assert.match(first.output, /building the native library/);
  assert.equal(
    readFileSync(join(copy, "calls.log"), "utf8").trim(),
    "build -Doptimize=ReleaseFast",
  );
  const second = runFresh(probe, { TACIT_ZIG: fakeZig }, mod);
  assert.equal(second.status, 0, second.output);
  assert.doesNotMatch(second.output, /building/);
  assert.equal(readFileSync(join(copy, "calls.log"), "utf8").trim().split("\n").length, 1);

  rmSync(library);
  const missing = runFresh(
    probe,
    { TACIT_ZIG: join(copy, "no-such-zig"), PATH: "/nonexistent" },
    mod,
  );
  assert.notEqual(missing.status, 0);
  assert.match(missing.output, /no Zig compiler was found/);
  rmSync(copy, { recursive: true, force: true });
});
