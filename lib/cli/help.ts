/**
 * `--help` text: the command list, and each command's flags with their docs.
 *
 * @module
 */
import type { Flags } from "./args.ts";
import type { Command } from "./command.ts";
import { EXIT } from "./errors.ts";

/** `tacit --help`. */
export function mainHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    "tacit: collaborative filtering for implicit feedback, for batch jobs.",
    "",
    "Usage: tacit <command> [flags]      tacit <command> --help for its flags",
    "",
    "Commands:",
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    "",
    "Output: tables to --output (csv or jsonl), a JSON summary on stdout, progress on stderr.",
    `Exit codes: ${Object.entries(EXIT).map(([name, code]) => `${code} ${name}`).join(", ")}.`,
  ].join("\n") + "\n";
}

/** `tacit <command> --help`. */
export function commandHelp(command: Command, flags: Flags): string {
  const names = Object.entries(flags).map(([name, flag]) =>
    `--${name}${flag.type === "string" ? ` <${flag.value ?? "value"}>` : ""}`
  );
  const width = Math.min(36, Math.max(...names.map((name) => name.length)));
  const lines = Object.values(flags).map((flag, k) => {
    const name = names[k]!;
    return name.length > width
      ? `  ${name}\n  ${" ".repeat(width)}  ${flag.doc}`
      : `  ${name.padEnd(width)}  ${flag.doc}`;
  });
  return [
    `tacit ${command.name}: ${command.summary}`,
    "",
    "Example:",
    ...command.usage.split("\n").map((line) => `  ${line}`),
    "",
    "Flags:",
    ...lines,
  ].join("\n") + "\n";
}
