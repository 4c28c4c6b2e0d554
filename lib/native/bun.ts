/**
 * Bun adapter: `bun:ffi` with the shared symbol table. Typed arrays are passed
 * as `ptr` arguments (Bun converts them); `null` becomes a null pointer. Bun
 * has no nonblocking FFI calls, so `callAsync` first yields one macrotask to
 * the event loop, then calls synchronously.
 */
import type { NativeArg, NativeLibrary } from "./adapter.ts";
import { type NativeType, type SymbolName, symbols } from "./symbols.ts";

// A computed specifier keeps Deno's type checker from resolving a Bun-only module.
const ffiSpecifier = "bun:" + "ffi";
// deno-lint-ignore no-explicit-any
const ffi = (await import(ffiSpecifier)) as {
  dlopen(
    path: string,
    defs: Record<string, unknown>,
  ): { symbols: Record<string, (...a: any[]) => any>; close(): void };
};

const bunTypes: Record<NativeType, string> = { i32: "i32", f32: "f32", f64: "f64", buffer: "ptr" };

export function openLibrary(path: string): NativeLibrary {
  const defs: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(symbols)) {
    defs[name] = { args: spec.parameters.map((t) => bunTypes[t]), returns: spec.result };
  }
  const lib = ffi.dlopen(path, defs);
  const call = (name: SymbolName, args: readonly NativeArg[]): number =>
    lib.symbols[name]!(...args) as number;
  return {
    call,
    callAsync: (name, args) =>
      new Promise((resolve, reject) => {
        setTimeout(() => {
          try {
            resolve(call(name, args));
          } catch (error) {
            reject(error);
          }
        }, 0);
      }),
    close: () => lib.close(),
  };
}
