/**
 * What each runtime adapter (`deno.ts`, `bun.ts`) provides. Every kernel
 * export has one C signature, `i32 f(const Args *args, Context *context)`, so
 * an adapter only needs the export names: `callExport` runs on the calling
 * thread; `callExportAsync` lets the event loop run while a long call works
 * (a nonblocking call on Deno; on Bun, whose FFI has no nonblocking calls, a
 * call on a worker thread that opened the same library), so an AbortSignal
 * can fire during the call and set its context's cancel flag.
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

/** The opened symbols of either runtime: functions called the same way on both. */
// deno-lint-ignore no-explicit-any
export type Symbols = Record<string, (...args: any[]) => any>;

/** The plain functions over a runtime's opened symbols. */
export function plainLibrary(symbols: Symbols, close: () => void): PlainLibrary {
  return {
    abiVersion: () => symbols.tacit_abi_version!() as number,
    describe: () => {
      const length = symbols.tacit_abi_describe!(null, 0) as number;
      const bytes = new Uint8Array(length);
      symbols.tacit_abi_describe!(bytes, length);
      return new TextDecoder().decode(bytes);
    },
    setNumThreads: (n) => void symbols.tacit_set_num_threads!(n),
    getNumThreads: () => symbols.tacit_get_num_threads!() as number,
    close,
  };
}
