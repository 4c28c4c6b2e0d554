/**
 * Deno adapter: `Deno.dlopen`. Every kernel export is declared twice, once
 * synchronous and once `nonblocking` (run on a worker thread, returning a
 * Promise) under `<name>$async`.
 *
 * @module
 */
import { type Adapter, type NativeLibrary, plainLibrary, type Symbols } from "./adapter.ts";

interface DenoFfi {
  dlopen(path: string, defs: Record<string, unknown>): { symbols: Symbols; close(): void };
  UnsafePointer: { of(view: ArrayBufferView): unknown; value(pointer: unknown): bigint | number };
}
const deno = (globalThis as unknown as { Deno: DenoFfi }).Deno;

const plainDefs = {
  tacit_abi_version: { parameters: [], result: "i32" },
  tacit_abi_describe: { parameters: ["buffer", "i32"], result: "i32" },
  tacit_set_num_threads: { parameters: ["i32"], result: "i32" },
  tacit_get_num_threads: { parameters: [], result: "i32" },
};

export const adapter: Adapter = {
  openPlain(path) {
    const lib = deno.dlopen(path, plainDefs);
    return plainLibrary(lib.symbols, () => lib.close());
  },
  openLibrary(path, exportNames): NativeLibrary {
    const defs: Record<string, unknown> = { ...plainDefs };
    for (const name of exportNames) {
      defs[name] = { parameters: ["buffer", "buffer"], result: "i32" };
      defs[`${name}$async`] = {
        name,
        parameters: ["buffer", "buffer"],
        result: "i32",
        nonblocking: true,
      };
    }
    const lib = deno.dlopen(path, defs);
    const symbols = lib.symbols;
    return {
      ...plainLibrary(symbols, () => lib.close()),
      callExport: (name, args, context) => symbols[name]!(args, context) as number,
      callExportAsync: (name, args, context) =>
        symbols[`${name}$async`]!(args, context) as Promise<number>,
      address: (view) => deno.UnsafePointer.value(deno.UnsafePointer.of(view)),
    };
  },
};
