/**
 * What each runtime adapter (`deno.ts`, `bun.ts`) provides: the symbol table
 * opened as plain functions. `call` runs on the calling thread; `callAsync`
 * lets the event loop run while a long call works (a nonblocking call on Deno;
 * a yield to the event loop before a synchronous call on Bun, whose FFI has no
 * nonblocking calls — which is why every long call is one iteration).
 */
import type { SymbolName } from "./symbols.ts";

/** A typed array, or null where the symbol table marks a pointer nullable. */
export type NativeArg = number | ArrayBufferView | null;

export interface NativeLibrary {
  call(name: SymbolName, args: readonly NativeArg[]): number;
  callAsync(name: SymbolName, args: readonly NativeArg[]): Promise<number>;
  close(): void;
}
