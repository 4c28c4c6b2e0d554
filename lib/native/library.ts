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
 * @module
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { NativeArg, NativeLibrary } from "./adapter.ts";
import { ABI_VERSION, Status, type SymbolName } from "./symbols.ts";

const packageRoot = fileURLToPath(new URL("../../", import.meta.url));
const libraryFile = process.platform === "darwin" ? "libtacit.dylib" : "libtacit.so";

declare const Bun: unknown;
const adapter = typeof Bun !== "undefined" ? await import("./bun.ts") : await import("./deno.ts");

/** The error a native call raised, with its status class. */
export class NativeError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = "NativeError";
  }
}

let opened: NativeLibrary | undefined;

/** The opened library (built first if needed). */
export function nativeLibrary(): NativeLibrary {
  opened ??= open();
  return opened;
}

/** Calls a native function and throws the typed error its status stands for. */
export function invoke(name: SymbolName, ...args: NativeArg[]): void {
  const lib = nativeLibrary();
  throwOnStatus(lib, lib.call(name, args.map(nonEmpty)));
}

/** As {@link invoke}, letting the event loop run while the call works. */
export async function invokeAsync(name: SymbolName, ...args: NativeArg[]): Promise<void> {
  const lib = nativeLibrary();
  throwOnStatus(lib, await lib.callAsync(name, args.map(nonEmpty)));
}

/** Calls a native function whose result is a count, not a status. */
export function invokeValue(name: SymbolName, ...args: NativeArg[]): number {
  return nativeLibrary().call(name, args);
}

/** Sets the native thread pool size; n <= 0 restores the default (TACIT_NUM_THREADS or the cores). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n)) throw new TypeError(`Expected n to be an integer but found ${n}`);
  invoke("tacit_set_num_threads", n);
}

/** The native thread pool size, the calling thread included. */
export function getNumThreads(): number {
  return invokeValue("tacit_get_num_threads");
}

const placeholder = new Uint8Array(8);

/** Some runtimes pass a zero-length view as a null pointer; native code expects a valid one. */
function nonEmpty(arg: NativeArg): NativeArg {
  return arg !== null && typeof arg === "object" && arg.byteLength === 0 ? placeholder : arg;
}

function throwOnStatus(lib: NativeLibrary, status: number): void {
  if (status === Status.ok) return;
  const message = lastError(lib);
  switch (status) {
    case Status.invalidArgument:
      throw new TypeError(message);
    case Status.outOfRange:
    case Status.notFinite:
      throw new RangeError(message);
    default:
      throw new NativeError(message, status);
  }
}

function lastError(lib: NativeLibrary): string {
  const length = lib.call("tacit_last_error", [null, 0]);
  const bytes = new Uint8Array(Math.max(length, 1));
  lib.call("tacit_last_error", [bytes, bytes.length]);
  return new TextDecoder().decode(bytes.subarray(0, length)) || "tacit: native call failed";
}

function open(): NativeLibrary {
  const override = process.env.TACIT_LIB;
  const path = override ?? join(packageRoot, "zig-out", "lib", libraryFile);
  if (override === undefined && isStale(path)) build(path);
  if (!existsSync(path)) {
    throw new Error(`tacit: the native library was not found at ${path} (TACIT_LIB)`);
  }
  const lib = adapter.openLibrary(path);
  const version = lib.call("tacit_abi_version", []);
  if (version !== ABI_VERSION) {
    lib.close();
    throw new Error(
      `tacit: ${path} implements native ABI ${version} but this module expects ${ABI_VERSION}; rebuild it with zig build -Doptimize=ReleaseFast`,
    );
  }
  return lib;
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
