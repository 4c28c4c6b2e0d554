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

/** Sets the native thread pool size; n <= 0 restores the default (TACIT_NUM_THREADS or the cores). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n)) throw new TypeError(`Expected n to be an integer but found ${n}`);
  nativeLibrary().setNumThreads(Math.max(-1, Math.min(n, 2_147_483_647)));
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
