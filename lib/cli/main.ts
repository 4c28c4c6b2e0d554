/**
 * `tacit`, the command-line tool: `main(argv)` dispatches to a command, prints its JSON
 * summary on stdout and any failure as one line `tacit: <message>` on stderr, and
 * returns the exit code (lib/cli/errors.ts). SIGINT aborts the running fit or ranking
 * (exit 130); a second SIGINT exits at once.
 *
 * @module
 */
import process from "node:process";
import { parseFlags } from "./args.ts";
import type { Command } from "./command.ts";
import { CliError, EXIT, type ExitCode, failure } from "./errors.ts";
import { commandHelp, mainHelp } from "./help.ts";
import { evaluate } from "./commands/evaluate.ts";
import { exportFactors } from "./commands/export.ts";
import { fit } from "./commands/fit.ts";
import { info } from "./commands/info.ts";
import { recommend } from "./commands/recommend.ts";
import { similar } from "./commands/similar.ts";
import { split } from "./commands/split.ts";

/** Every command, in the order `tacit --help` lists them. */
export const COMMANDS: readonly Command[] = [
  fit,
  recommend,
  similar,
  evaluate,
  split,
  exportFactors,
  info,
];

/** Where main writes: stdout and stderr by default. */
export interface Io {
  /** Writes to standard output (the JSON summary, help). */
  stdout(text: string): Promise<void>;
  /** Writes to standard error (the one-line failure). */
  stderr(text: string): Promise<void>;
}

function writer(stream: NodeJS.WriteStream): (text: string) => Promise<void> {
  return (text) => new Promise((resolve) => stream.write(text, () => resolve()));
}

const PROCESS_IO: Io = { stdout: writer(process.stdout), stderr: writer(process.stderr) };

/**
 * Runs `tacit` with these arguments.
 *
 * @param argv The arguments after the program (`["fit", "--input", ...]`).
 * @param io Where to write.
 * @returns The exit code.
 */
export async function main(argv: readonly string[], io: Io = PROCESS_IO): Promise<ExitCode> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    await io.stdout(mainHelp(COMMANDS));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version") {
    const { PREBUILT_VERSION } = await import("../native/prebuilt.ts");
    await io.stdout(`${PREBUILT_VERSION}\n`);
    return EXIT.ok;
  }
  const controller = new AbortController();
  let interrupts = 0;
  const onInterrupt = () => {
    if (++interrupts > 1) process.exit(EXIT.aborted);
    controller.abort(new DOMException("aborted by SIGINT", "AbortError"));
  };
  process.on("SIGINT", onInterrupt);
  try {
    const command = COMMANDS.find((candidate) => candidate.name === name);
    if (command === undefined) {
      throw new CliError(
        EXIT.usage,
        `unknown command '${name}' (expected one of ${
          COMMANDS.map((c) => c.name).join(", ")
        }; tacit --help)`,
      );
    }
    const flags = command.flags(rest);
    const values = parseFlags(command.name, rest, flags);
    if (values.help === true) {
      await io.stdout(commandHelp(command, flags));
      return EXIT.ok;
    }
    const progress = values["no-progress"] === true ? false : undefined;
    const summary = await command.run(values, { progress, signal: controller.signal });
    await io.stdout(JSON.stringify(summary) + "\n");
    return EXIT.ok;
  } catch (error) {
    const aborted = controller.signal.aborted;
    const { code, message } = aborted
      ? { code: EXIT.aborted, message: "tacit: aborted (SIGINT)" }
      : failure(error);
    await io.stderr(message + "\n");
    if (code === EXIT.internal && process.env.TACIT_DEBUG === "1") {
      await io.stderr(`${(error as Error)?.stack ?? error}\n`);
    }
    return code;
  } finally {
    process.off("SIGINT", onInterrupt);
  }
}
