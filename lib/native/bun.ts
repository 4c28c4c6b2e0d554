/**
 * Bun adapter: `bun:ffi`. Bun has no nonblocking FFI calls, so
 * `callExportAsync` first yields one macrotask to the event loop, then calls
 * synchronously.
 *
 * @module
 */
import { type Adapter, type NativeLibrary, plainLibrary, type Symbols } from "./adapter.ts";

// A computed specifier keeps Deno's type checker from resolving a Bun-only module.
const ffiSpecifier = "bun:" + "ffi";
const ffi = (await import(ffiSpecifier)) as {
  dlopen(path: string, defs: Record<string, unknown>): { symbols: Symbols; close(): void };
  ptr(view: ArrayBufferView): number;
};

const plainDefs = {
  tacit_abi_version: { args: [], returns: "i32" },
  tacit_abi_describe: { args: ["ptr", "i32"], returns: "i32" },
  tacit_set_num_threads: { args: ["i32"], returns: "i32" },
  tacit_get_num_threads: { args: [], returns: "i32" },
};

export const adapter: Adapter = {
  openPlain(path) {
    const lib = ffi.dlopen(path, plainDefs);
    return plainLibrary(lib.symbols, () => lib.close());
  },
  openLibrary(path, exportNames): NativeLibrary {
    const defs: Record<string, unknown> = { ...plainDefs };
    for (const name of exportNames) defs[name] = { args: ["ptr", "ptr"], returns: "i32" };
    const lib = ffi.dlopen(path, defs);
    const symbols = lib.symbols;
    const callExport = (name: string, args: Uint8Array, context: Uint8Array): number =>
      symbols[name]!(args, context) as number;
    return {
      ...plainLibrary(symbols, () => lib.close()),
      callExport,
      callExportAsync: (name, args, context) =>
        new Promise((resolve, reject) => {
          setTimeout(() => {
            try {
              resolve(callExport(name, args, context));
            } catch (error) {
              reject(error);
            }
          }, 0);
        }),
      address: (view) => ffi.ptr(view),
    };
  },
};
