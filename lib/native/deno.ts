/**
 * Deno adapter: `Deno.dlopen` with the shared symbol table. Symbols marked
 * `long` are declared twice, once synchronous and once `nonblocking` (run on a
 * worker thread, returning a Promise), under the key `<name>$async`.
 */
import type { NativeArg, NativeLibrary } from "./adapter.ts";
import { type SymbolName, symbols } from "./symbols.ts";

// deno-lint-ignore no-explicit-any
type DenoFfi = {
  dlopen(
    path: string,
    defs: Record<string, unknown>,
  ): { symbols: Record<string, (...a: any[]) => any>; close(): void };
};

export function openLibrary(path: string): NativeLibrary {
  const defs: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(symbols)) {
    const parameters = [...spec.parameters];
    defs[name] = { parameters, result: spec.result };
    if ("long" in spec && spec.long) {
      defs[`${name}$async`] = { name, parameters, result: spec.result, nonblocking: true };
    }
  }
  const deno = (globalThis as unknown as { Deno: DenoFfi }).Deno;
  const lib = deno.dlopen(path, defs);
  return {
    call(name: SymbolName, args: readonly NativeArg[]): number {
      return lib.symbols[name]!(...args) as number;
    },
    callAsync(name: SymbolName, args: readonly NativeArg[]): Promise<number> {
      const nonblocking = lib.symbols[`${name}$async`];
      if (nonblocking === undefined) return Promise.resolve(lib.symbols[name]!(...args) as number);
      return nonblocking(...args) as Promise<number>;
    },
    close: () => lib.close(),
  };
}
