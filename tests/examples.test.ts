import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { test } from "./harness.ts";

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/** Runs an example in a fresh process of the current runtime and returns its stdout. */
function runExample(name: string): string {
  const file = fileURLToPath(new URL(`../examples/${name}`, import.meta.url));
  const args = isBun ? [file] : ["run", "-A", file];
  const result = spawnSync(process.execPath, args, {
    encoding: "utf8",
    env: { ...process.env, TACIT_PROGRESS: "0" },
  });
  assert.equal(result.status, 0, `${name} failed:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

test("the listening demo finds similar artists of the query's own genre", () => {
  const out = runExample("listening.ts");
  const match = /(\d+) of (\d+) similar artists/.exec(out);
  assert.ok(match, out);
  assert.ok(Number(match[1]) / Number(match[2]) >= 0.9, match[0]);
  assert.match(out, /Recommended for listener 0/);
});

test("the lastfm evaluation example ranks better with ALS than with the most-popular baseline", () => {
  const out = runExample("lastfm_evaluation.ts");
  const precision = (label: string) =>
    Number(new RegExp(`^\\s+${label}\\s+([0-9.]+)`, "m").exec(out)?.[1]);
  assert.ok(precision("ALS") > precision("most popular"), out);
  assert.match(out, /Top artists for user/);
});
