/**
 * Shared pieces of the benchmarks: argument parsing, peak memory, a
 * lastfm-360K-sized generated matrix, and a table printer.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { powerLawMatrix } from "../lib/datasets/synthetic.ts";
import { CsrMatrix } from "../lib/sparse.ts";

/**
 * Parses `--key value` flags over `defaults`: a number default takes a finite
 * number, a string default any string, or one of `choices[key]` when given.
 * An unknown flag or a bad value throws naming the flag.
 */
export function benchArgs<T extends Record<string, number | string>>(
  defaults: T,
  choices: Partial<Record<keyof T, readonly string[]>> = {},
): T {
  const args = process.argv.slice(2);
  const out: Record<string, number | string> = { ...defaults };
  for (let k = 0; k < args.length; k += 2) {
    const key = args[k]!.replace(/^--/, "");
    const value = args[k + 1] ?? "";
    if (!(key in defaults)) {
      throw new Error(
        `Unknown option --${key}; known: ${Object.keys(defaults).map((o) => `--${o}`).join(" ")}`,
      );
    }
    if (typeof defaults[key] === "number") {
      const number = Number(value);
      if (value === "" || !Number.isFinite(number)) {
        throw new Error(`Expected a number after --${key} but found ${value}`);
      }
      out[key] = number;
      continue;
    }
    const allowed = choices[key as keyof T];
    if (allowed !== undefined && !allowed.includes(value)) {
      throw new Error(`Expected --${key} among ${allowed.join(", ")} but found ${value}`);
    }
    out[key] = value;
  }
  return out as T;
}

/** {@link benchArgs} for benchmarks whose flags are all numbers. */
export function numberArgs<T extends Record<string, number>>(defaults: T): T {
  return benchArgs(defaults);
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

/**
 * Writes `m` as raw little-endian arrays for the Python comparisons:
 * bench/out/<stem>.{indptr.i32,indices.i32,data.f32,json} (bench/implicit_common.py reads them).
 */
export function writeCsr(stem: string, m: CsrMatrix): void {
  const dir = new URL("./out/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const bytes = (a: Int32Array | Float32Array) =>
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  writeFileSync(new URL(`${stem}.indptr.i32`, dir), bytes(m.indptr));
  writeFileSync(new URL(`${stem}.indices.i32`, dir), bytes(m.indices));
  writeFileSync(new URL(`${stem}.data.f32`, dir), bytes(m.data));
  writeFileSync(new URL(`${stem}.json`, dir), JSON.stringify({ shape: m.shape, nnz: m.nnz }));
}

/** The matrix {@link writeCsr} wrote as bench/out/<stem>.*, checked as any CsrMatrix is. */
export function readCsr(stem: string): CsrMatrix {
  const dir = new URL("./out/", import.meta.url);
  const read = (suffix: string) => {
    const bytes = readFileSync(new URL(`${stem}.${suffix}`, dir));
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  };
  const { shape } = JSON.parse(readFileSync(new URL(`${stem}.json`, dir), "utf8"));
  return new CsrMatrix(
    shape,
    new Int32Array(read("indptr.i32")),
    new Int32Array(read("indices.i32")),
    new Float32Array(read("data.f32")),
  );
}
