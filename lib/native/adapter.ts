/**
 * What each runtime adapter (`deno.ts`, `bun.ts`) provides. Every kernel
 * export has one C signature, `i32 f(const Args *args, Context *context)`, so
 * an adapter only needs the export names: `callExport` runs on the calling
 * thread; `callExportAsync` lets the event loop run while a long call works
 * (a nonblocking call on Deno; a yield to the event loop before a synchronous
 * call on Bun, whose FFI has no nonblocking calls — which is why every long
 * call is one iteration).
 *
 * @module
 */

/** The four plain functions, usable before the layout is known to match. */
export interface PlainLibrary {
  /** The calling convention's version (`tacit_abi_version`). */
  abiVersion(): number;
  /** The JSON description of every export (`tacit_abi_describe`). */
  describe(): string;
  /** Sizes the one thread pool; n <= 0 restores the default. */
  setNumThreads(n: number): void;
  /** The pool's thread count, the calling thread included. */
  getNumThreads(): number;
  close(): void;
}

/** The opened library: the plain functions plus every kernel export. */
export interface NativeLibrary extends PlainLibrary {
  callExport(name: string, args: Uint8Array, context: Uint8Array): number;
  callExportAsync(name: string, args: Uint8Array, context: Uint8Array): Promise<number>;
  /** The address of a typed array's first element (its byte offset included). */
  address(view: ArrayBufferView): number | bigint;
}

/** How an adapter module opens the library. */
export interface Adapter {
  openPlain(path: string): PlainLibrary;
  openLibrary(path: string, exportNames: readonly string[]): NativeLibrary;
}

/** Reads `tacit_abi_describe` through a function of (buffer | null, capacity) -> length. */
export function readDescription(
  describe: (out: Uint8Array | null, capacity: number) => number,
): string {
  const length = describe(null, 0);
  const bytes = new Uint8Array(length);
  describe(bytes, length);
  return new TextDecoder().decode(bytes);
}
