/**
 * Finds, builds on demand and opens the native library, and turns its status
 * codes into typed errors.
 *
 * Discovery: `TACIT_LIB` (a path to the shared library) wins; otherwise
 * `zig-out/lib/libtacit.{so,dylib}` under the package root. When that file is
 * missing or older than any Zig source, it is built with
 * `zig build -Doptimize=ReleaseFast`, using `TACIT_ZIG`, then the project's
 * pinned toolchain in `.tools/`, then `zig` on PATH.
 *
 * Opening checks the library against this module: its description of every
 * export (names, parameter kinds and order, buffer lengths, offsets) must
 * equal `symbols.ts`, or loading fails naming the first difference.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type ArgsOf, type ExportName, firstDifference } from "./abi.ts";
import type { Adapter, NativeLibrary } from "./adapter.ts";
import { type CallOptions, packCall, runPacked, runPackedAsync } from "./checked.ts";
import { abiDescription } from "./symbols.ts";

export { NativeError, observeNativeCalls, Status } from "./checked.ts";
export type { CallOptions, CallRecord } from "./checked.ts";

const packageRoot = fileURLToPath(new URL("../../", import.meta.url));
const libraryFile = process.platform === "darwin" ? "libtacit.dylib" : "libtacit.so";

declare const Bun: unknown;
const { adapter } =
  (typeof Bun !== "undefined" ? await import("./bun.ts") : await import("./deno.ts")) as {
    adapter: Adapter;
  };

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
  const override = process.env.TACIT_LIB;
  const path = override ?? join(packageRoot, "zig-out", "lib", libraryFile);
  if (override === undefined && isStale(path)) build(path);
  if (!existsSync(path)) {
    throw new Error(`tacit: the native library was not found at ${path} (TACIT_LIB)`);
  }
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

/** True when the library is missing or older than a Zig source it was built from. */
function isStale(path: string): boolean {
  if (!existsSync(path)) return true;
  const builtAt = statSync(path).mtimeMs;
  const sources = [
    join(packageRoot, "build.zig"),
    join(packageRoot, "build.zig.zon"),
    ...zigSources(join(packageRoot, "zig")),
  ];
  return sources.some((file) => existsSync(file) && statSync(file).mtimeMs > builtAt);
}

function zigSources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return zigSources(full);
    return entry.name.endsWith(".zig") ? [full] : [];
  });
}

function build(path: string): void {
  if (!existsSync(join(packageRoot, "build.zig"))) return; // an installed copy without sources
  const zig = findZig();
  if (zig === undefined) {
    throw new Error(
      `tacit: the native library at ${path} is missing or older than its sources, and no Zig compiler was found. ` +
        `Run scripts/toolchain.sh (installs the pinned Zig into .tools/), set TACIT_ZIG to a zig 0.17 binary, or set TACIT_LIB to a built library.`,
    );
  }
  process.stderr.write(
    `tacit: building the native library (${zig} build -Doptimize=ReleaseFast)...\n`,
  );
  try {
    execFileSync(zig, ["build", "-Doptimize=ReleaseFast"], {
      cwd: packageRoot,
      stdio: ["ignore", "inherit", "inherit"],
    });
  } catch (error) {
    throw new Error(`tacit: building the native library failed: ${(error as Error).message}`);
  }
  // zig leaves an up-to-date install untouched (its cache saw no real change, e.g. a
  // source whose mtime moved); mark the library fresh so the next load does not rebuild.
  if (existsSync(path)) {
    const now = new Date();
    utimesSync(path, now, now);
  }
}

function findZig(): string | undefined {
  const candidates = [process.env.TACIT_ZIG, join(packageRoot, ".tools", "py", "ziglang", "zig")];
  for (const candidate of candidates) {
    if (candidate !== undefined && candidate !== "" && existsSync(candidate)) return candidate;
  }
  try {
    execFileSync("zig", ["version"], { stdio: "ignore" });
    return "zig";
  } catch {
    return undefined;
  }
}
