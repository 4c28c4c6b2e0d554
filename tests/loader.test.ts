import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { getNumThreads, setNumThreads } from "../mod.ts";
import { test } from "./harness.ts";

const modUrl = new URL("../mod.ts", import.meta.url).href;
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/** Runs a snippet that imports mod.ts in a fresh process of the current runtime. */
function runFresh(code: string, env: Record<string, string>): { status: number | null; output: string } {
  const file = join(mkdtempSync(join(tmpdir(), "tacit-loader-")), "probe.ts");
  writeFileSync(file, `import * as tacit from ${JSON.stringify(modUrl)};\n${code}\n`);
  const args = isBun ? [file] : ["run", "-A", file];
  const result = spawnSync(process.execPath, args, { env: { ...process.env, ...env }, encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

test("TACIT_LIB pointing at a missing file gives an error naming the path", () => {
  const { status, output } = runFresh("tacit.getNumThreads();", { TACIT_LIB: "/nonexistent/libtacit.so" });
  assert.notEqual(status, 0);
  assert.match(output, /native library was not found at \/nonexistent\/libtacit\.so/);
});

test("TACIT_NUM_THREADS sizes the pool of a fresh process", () => {
  const { status, output } = runFresh("console.log('threads=' + tacit.getNumThreads());", { TACIT_NUM_THREADS: "3" });
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
