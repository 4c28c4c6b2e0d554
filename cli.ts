#!/usr/bin/env -S deno run -A
/**
 * The `tacit` command-line tool (lib/cli/main.ts): `deno run -A cli.ts <command>`,
 * `bun cli.ts <command>`, or installed: `deno install -g -A -n tacit jsr:@tacit/tacit/cli`.
 *
 * @example
 * ```ts ignore
 * // tacit fit --input plays.tsv --input-format lastfm --model als --model-file m.tacit
 * import { main } from "./cli.ts";
 * const code = await main(["info"]);
 * ```
 *
 * @module
 */
import process from "node:process";
import { main } from "./lib/cli/main.ts";

export { main } from "./lib/cli/main.ts";
export type { Io } from "./lib/cli/main.ts";
export { EXIT } from "./lib/cli/errors.ts";
export type { ExitCode } from "./lib/cli/errors.ts";

if (import.meta.main) {
  // exit, not exitCode: the native thread pool would keep the process alive.
  process.exit(await main(process.argv.slice(2)));
}
