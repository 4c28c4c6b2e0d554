/**
 * Runs one misuse case (tests/misuse/cases.ts) in this process and reports
 * it on stdout as one line, `PASS <name>` or `FAIL <name>: <why>`; the exit
 * status is 0 for a pass. Run by tests/misuse_battery.test.ts as
 * `<runtime> tests/misuse/run_case.ts <case name>`.
 */
import process from "node:process";
import { CASES } from "./cases.ts";

const name = process.argv.at(-1) ?? "";
const run = CASES[name];
if (run === undefined) {
  console.log(`FAIL ${name}: no such case`);
  process.exit(2);
}
try {
  await run();
  console.log(`PASS ${name}`);
  process.exit(0);
} catch (error) {
  console.log(`FAIL ${name}: ${(error as Error)?.stack ?? String(error)}`);
  process.exit(1);
}
