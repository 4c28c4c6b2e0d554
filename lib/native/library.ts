/**
 * Opens the native library, checks its ABI and turns its status codes into
 * typed errors. Where the library comes from (`TACIT_LIB`, a source checkout
 * built on demand, the prebuilt platform package) is `locate.ts`; building
 * is `build.ts`. Nothing here throws at module load: the first native call
 * locates and opens the library, and its errors say what was tried.
 *
 * Opening checks the library against this module: its description of every
 * export (names, parameter kinds and order, buffer lengths, offsets) must
 * equal `symbols.ts`, or loading fails naming the first difference.
 *
 * @module
 */
import { type ArgsOf, type ExportName, firstDifference } from "./abi.ts";
import type { Adapter, NativeLibrary } from "./adapter.ts";
import { type CallOptions, packCall, runPacked, runPackedAsync } from "./checked.ts";
import { discover, locate } from "./locate.ts";
import { abiDescription } from "./symbols.ts";
import { describe } from "../validate.ts";

export { NativeError, observeNativeCalls, Status } from "./checked.ts";
export type { CallOptions, CallRecord } from "./checked.ts";

declare const Bun: unknown;
const { adapter } =
  (typeof Bun !== "undefined" ? await import("./bun.ts") : await import("./deno.ts")) as {
    adapter: Adapter;
  };

// Reads the environment and imports the prebuilt meta package when needed; never throws.
const discovery = await discover(new URL("../../", import.meta.url));

let opened: NativeLibrary | undefined;

/** The opened library (built first if needed), its ABI checked against this module's. */
export function nativeLibrary(): NativeLibrary {
  opened ??= open();
  return opened;
}

/**
 * Calls a kernel export with named arguments, checked against its
 * declaration first, and throws the typed error its status stands for.
 */
export function callNative<N extends ExportName>(
  name: N,
  args: ArgsOf<N>,
  options?: CallOptions,
): void {
  const lib = nativeLibrary();
  runPacked(lib, name, packCall(lib, name, args, options, true));
}

/** As {@link callNative}, letting the event loop run while the call works. */
export function callNativeAsync<N extends ExportName>(
  name: N,
  args: ArgsOf<N>,
  options?: CallOptions,
): Promise<void> {
  const lib = nativeLibrary();
  // Checks run (and throw) before the returned promise exists, as in a sync call.
  const packed = packCall(lib, name, args, options);
  return runPackedAsync(lib, name, packed, options?.signal);
}

/** The most threads the native pool runs (zig/ThreadPool.zig's `thread_count_max`). */
export const THREAD_COUNT_MAX = 256;

/**
 * Checks a thread count: an integer in 0..{@link THREAD_COUNT_MAX}.
 *
 * @param name The argument's name, for the message.
 * @param value The value to check.
 * @returns `value`, typed.
 * @throws TypeError when `value` is not a number; RangeError otherwise.
 */
export function threadCount(name: string, value: unknown): number {
  const what = `an integer in 0..${THREAD_COUNT_MAX}`;
  if (typeof value !== "number") {
    throw new TypeError(`Expected ${name} to be ${what} but found ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < 0 || value > THREAD_COUNT_MAX) {
    throw new RangeError(`Expected ${name} to be ${what} but found ${describe(value)}`);
  }
  return value;
}

/**
 * Sets the native thread pool size: 1..256 threads, the calling thread
 * included; 0 restores the default (`TACIT_NUM_THREADS` when it holds a
 * positive integer, clamped to 256, else the available cores).
 *
 * @param n The pool size, an integer in 0..256.
 * @throws TypeError when `n` is not a number; RangeError for a non-integer or a value outside 0..256.
 */
export function setNumThreads(n: number): void {
  nativeLibrary().setNumThreads(threadCount("n", n));
}

/** The native thread pool size, the calling thread included. */
export function getNumThreads(): number {
  return nativeLibrary().getNumThreads();
}

/** The description the loaded library gives of its exports (parsed `tacit_abi_describe`). */
export function libraryDescription(): unknown {
  return JSON.parse(nativeLibrary().describe());
}

function open(): NativeLibrary {
  const path = locate(discovery);
  const plain = adapter.openPlain(path);
  const version = plain.abiVersion();
  const difference = version === abiDescription.abiVersion
    ? firstDifference(abiDescription, JSON.parse(plain.describe()))
    : `abiVersion: expected ${abiDescription.abiVersion} but found ${version}`;
  plain.close();
  if (difference !== undefined) {
    throw new Error(
      `tacit: ${path} does not implement the native ABI this module was generated for (${difference}); ` +
        `rebuild the library (zig build -Doptimize=ReleaseFast) or regenerate lib/native/symbols.ts (deno run -A scripts/generate_abi.ts)`,
    );
  }
  return adapter.openLibrary(path, abiDescription.exports.map((declaration) => declaration.name));
}
