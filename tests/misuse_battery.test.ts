/**
 * The misuse battery (tests/misuse/cases.ts), each case in its own child
 * process of the runtime running the tests (Deno under `deno test`, Bun under
 * `bun test`), so a crash (a signal, an abort) or a hang (past the timeout)
 * fails that case and nothing else. Children run two at a time; each test
 * awaits its own child.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { CASES } from "./misuse/cases.ts";
import { test } from "./harness.ts";

declare const Bun: unknown;

/** A case may run a few small fits; a hang is anything past this. */
const TIMEOUT_MS = 60_000;
const PARALLEL = 2;
const runner = fileURLToPath(new URL("./misuse/run_case.ts", import.meta.url));
const root = fileURLToPath(new URL("..", import.meta.url));
const command = typeof Bun !== "undefined"
  ? { file: process.execPath, args: [runner] }
  : { file: process.execPath, args: ["run", "-A", runner] };

interface Outcome {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  output: string;
}

function runCase(name: string): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      command.file,
      [...command.args, name],
      {
        cwd: root,
        timeout: TIMEOUT_MS,
        killSignal: "SIGKILL",
        maxBuffer: 1 << 24,
        env: { ...process.env, NO_COLOR: "1" },
      },
      (error, stdout, stderr) => {
        const failure = error as
          | (Error & { code?: number | string; signal?: string; killed?: boolean })
          | null;
        resolve({
          code: failure === null ? 0 : typeof failure.code === "number" ? failure.code : null,
          signal: failure?.signal ?? null,
          timedOut: failure?.killed === true && failure.signal === "SIGKILL",
          output: `${stdout}${stderr}`,
        });
      },
    );
  });
}

/** Starts every case now, PARALLEL at a time; the tests await them in order. */
function startAll(names: string[]): Map<string, Promise<Outcome>> {
  const outcomes = new Map<string, Promise<Outcome>>();
  const resolvers = new Map<string, (outcome: Outcome) => void>();
  for (const name of names) {
    outcomes.set(name, new Promise((resolve) => resolvers.set(name, resolve)));
  }
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      resolvers.get(name)!(await runCase(name));
    }
  };
  for (let k = 0; k < PARALLEL; k++) void worker();
  return outcomes;
}

const names = Object.keys(CASES);
const outcomes = startAll(names);

for (const name of names) {
  test(`misuse (own process): ${name}`, async () => {
    const outcome = await outcomes.get(name)!;
    assert.ok(
      !outcome.timedOut,
      `hung: no result within ${TIMEOUT_MS / 1000} s\n${outcome.output}`,
    );
    assert.equal(outcome.signal, null, `crashed with ${outcome.signal}\n${outcome.output}`);
    assert.equal(outcome.code, 0, outcome.output);
    assert.match(outcome.output, new RegExp(`^PASS `, "m"));
  });
}
