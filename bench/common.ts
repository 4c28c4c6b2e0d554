/**
 * Shared pieces of the benchmarks: argument parsing, peak memory, a
 * lastfm-360K-sized generated matrix, and a table printer.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { powerLawMatrix } from "../lib/datasets/synthetic.ts";
import type { CsrMatrix } from "../lib/sparse.ts";

/** `--name value` pairs from the command line, with numeric defaults. */
export function numberArgs<T extends Record<string, number>>(defaults: T): T {
  const args = process.argv.slice(2);
  const out: Record<string, number> = { ...defaults };
  for (let k = 0; k < args.length; k += 2) {
    const key = args[k]!.replace(/^--/, "");
    if (!(key in defaults)) {
      throw new Error(
        `Unknown option --${key}; known: ${Object.keys(defaults).map((o) => `--${o}`).join(" ")}`,
      );
    }
    const value = Number(args[k + 1]);
    if (!Number.isFinite(value)) {
      throw new Error(`Expected a number after --${key} but found ${args[k + 1]}`);
    }
    out[key] = value;
  }
  return out as T;
}

/** Peak resident set size of this process in MiB (VmHWM on Linux, else current RSS). */
export function peakRssMiB(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.memoryUsage().rss / 2 ** 20;
}

/** The lastfm-360K-sized power-law matrix (358K users, 292K items, 17.5M nonzeros by default). */
export function lastfmSized(scale: { users: number; items: number; nnz: number }): CsrMatrix {
  const started = performance.now();
  const m = powerLawMatrix({ users: scale.users, items: scale.items, nnz: scale.nnz, seed: 1 });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `matrix: ${m.nRows} users × ${m.nCols} items, ${m.nnz} nonzeros (generated in ${
      seconds.toFixed(1)
    } s)`,
  );
  return m;
}

export function runtimeName(): string {
  return typeof (globalThis as { Bun?: unknown }).Bun !== "undefined" ? "bun" : "deno";
}
