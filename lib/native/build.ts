/**
 * The source checkout: when this module is a file inside a git checkout of
 * tacit (a `file:` URL with `build.zig` beside the package root), the library
 * is `zig-out/lib/libtacit.{so,dylib}`, built on first use and rebuilt when a
 * Zig source is newer, with `zig build -Doptimize=ReleaseFast`.
 *
 * Before building: Zig is found (`TACIT_ZIG`, the pinned toolchain in
 * `.tools/`, `zig` on PATH) and must be {@link ZIG_VERSION}; under Deno the
 * run and write permissions the build needs are checked, naming the missing
 * flag. Concurrent first runs build once: the builder holds
 * `zig-out/.tacit-build.lock` (created exclusively, holding its pid and start
 * time); the others wait for it to go, then find the library fresh. A lock
 * older than {@link LOCK_STALE_MS} or whose process is gone is taken over.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type Access, flagFor, granted, type Permission } from "./access.ts";

/** The Zig release the library's sources are written for (also in scripts/toolchain.sh and build.zig.zon). */
export const ZIG_VERSION = "0.17.0";
/** A build lock older than this is abandoned and taken over. */
export const LOCK_STALE_MS = 15 * 60_000;
/** How often a process waiting for another's build looks at the lock. */
const LOCK_POLL_MS = 200;
/** The most polls one wait makes: past the stale age the lock is always taken over. */
const LOCK_POLLS_MAX = 2 * LOCK_STALE_MS / LOCK_POLL_MS;

/** The library's file name on this platform. */
export const libraryFile: string = process.platform === "darwin" ? "libtacit.dylib" : "libtacit.so";

/** A checkout of tacit's sources that builds its own library. */
export interface SourceCheckout {
  /** The package root (where build.zig is). */
  root: string;
  /** Where the build installs the library. */
  library: string;
}

/**
 * The source checkout this module lies in, or why it is not one. Never throws.
 *
 * @param packageUrl The package root's URL (`new URL("../../", import.meta.url)` of lib/native/).
 * @param access Where refused reads are recorded.
 */
export function findSourceCheckout(
  packageUrl: URL,
  access: Access,
): { checkout: SourceCheckout } | { reason: string } {
  if (packageUrl.protocol !== "file:") {
    return { reason: `${packageUrl.href} is not a file: URL, so it has no sources to build` };
  }
  let root: string;
  try {
    root = fileURLToPath(packageUrl);
  } catch (error) {
    return { reason: `${packageUrl.href} is not a local path (${(error as Error).message})` };
  }
  const buildZig = join(root, "build.zig");
  if (!access.exists(buildZig)) {
    const readable = granted({ name: "read", path: buildZig });
    return {
      reason: readable ? `${buildZig} is absent` : `${buildZig} is not readable (no --allow-read)`,
    };
  }
  return { checkout: { root, library: join(root, "zig-out", "lib", libraryFile) } };
}

/**
 * Builds the checkout's library when it is missing or older than a Zig
 * source, once across concurrent processes.
 *
 * @throws Error naming the missing permission flag, the wrong Zig version or
 *   the failed build.
 */
export function ensureBuilt(checkout: SourceCheckout, access: Access): void {
  if (!isStale(checkout, access)) return;
  const zig = findZig(checkout, access);
  checkZigVersion(zig.command, zig.version);
  checkWritable(checkout);
  buildOnce(checkout, zig.command, access);
}

/** True when the library is missing or older than a Zig source it was built from. */
function isStale(checkout: SourceCheckout, access: Access): boolean {
  const builtAt = access.mtimeMs(checkout.library);
  if (builtAt === undefined) return true;
  const sources = [
    join(checkout.root, "build.zig"),
    join(checkout.root, "build.zig.zon"),
    ...zigSources(join(checkout.root, "zig")),
  ];
  return sources.some((file) => (access.mtimeMs(file) ?? 0) > builtAt);
}

function zigSources(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return zigSources(full);
    return entry.name.endsWith(".zig") ? [full] : [];
  });
}

/** The first Zig that runs, and the version it prints. */
function findZig(checkout: SourceCheckout, access: Access): { command: string; version: string } {
  const fromEnv = access.env("TACIT_ZIG");
  const candidates = [
    ...(fromEnv === undefined ? [] : [fromEnv]),
    join(checkout.root, ".tools", "py", "ziglang", "zig"),
    "zig",
  ];
  const runnable = candidates.filter((command) => granted({ name: "run", command }));
  if (runnable.length === 0) {
    throw new Error(
      `tacit: the native library ${checkout.library} is missing or older than its sources and must be ` +
        `built with Zig, but Deno was not given ${
          flagFor({ name: "run", command: "zig" })
        } (needed to run zig build); ` +
        `run with --allow-run ${
          writeFlag(checkout)
        }, or set TACIT_LIB=/abs/path/libtacit.so to a built library`,
    );
  }
  const tried: string[] = [];
  for (const command of runnable) {
    try {
      const version = execFileSync(command, ["version"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      }).trim();
      return { command, version };
    } catch (error) {
      tried.push(`${command} (${(error as Error).message.split("\n")[0]})`);
    }
  }
  throw new Error(
    `tacit: the native library ${checkout.library} is missing or older than its sources, and no Zig ` +
      `compiler was found (tried ${tried.join(", ")}); install Zig ${ZIG_VERSION} with ` +
      `\`bash ${
        join(checkout.root, "scripts", "toolchain.sh")
      }\` (or pip install ziglang==${ZIG_VERSION}) ` +
      `and set TACIT_ZIG to it, or set TACIT_LIB=/abs/path/libtacit.so to a built library`,
  );
}

/**
 * Refuses a Zig of another version than {@link ZIG_VERSION}.
 *
 * @param zig The command that printed `version`.
 * @param version What `zig version` printed.
 * @throws Error naming the pinned version, the command and the version found.
 */
export function checkZigVersion(zig: string, version: string): void {
  if (version === ZIG_VERSION) return;
  throw new Error(
    `tacit needs Zig ${ZIG_VERSION} to build its native library but ${zig} is ${
      version || "(no version printed)"
    }; install it with \`bash scripts/toolchain.sh\` (or pip install ziglang==${ZIG_VERSION}) or set TACIT_ZIG`,
  );
}

function buildOutputs(checkout: SourceCheckout): string[] {
  return [join(checkout.root, "zig-out"), join(checkout.root, ".zig-cache")];
}

function writeFlag(checkout: SourceCheckout): string {
  return `--allow-write=${buildOutputs(checkout).join(",")}`;
}

/** Under Deno, refuses to start a build whose outputs may not be written. */
function checkWritable(checkout: SourceCheckout): void {
  const refused = buildOutputs(checkout).filter((path) => !granted({ name: "write", path }));
  if (refused.length === 0) return;
  const permission: Permission = { name: "write", path: refused.join(",") };
  throw new Error(
    `tacit: building the native library writes to ${
      refused.join(" and ")
    }, but Deno was not given ` +
      `${flagFor(permission)}; run with ${writeFlag(checkout)} (or --allow-write), ` +
      `or set TACIT_LIB=/abs/path/libtacit.so to a built library`,
  );
}

/** Builds under the lock, or waits for the process that holds it and builds only if still stale. */
function buildOnce(checkout: SourceCheckout, zig: string, access: Access): void {
  const lockPath = join(checkout.root, "zig-out", ".tacit-build.lock");
  mkdirSync(join(checkout.root, "zig-out"), { recursive: true });
  for (let poll = 0; poll < LOCK_POLLS_MAX; poll++) {
    const lock = tryLock(lockPath);
    if (lock !== undefined) {
      try {
        // Another process may have finished its build between our look and the lock.
        if (isStale(checkout, access)) build(checkout, zig);
      } finally {
        closeSync(lock);
        rmSync(lockPath, { force: true });
      }
      return;
    }
    if (takeOverAbandoned(lockPath)) continue;
    if (poll === 0) {
      process.stderr.write(
        `tacit: waiting for another process to build the native library (${lockPath})...\n`,
      );
    }
    sleepMs(LOCK_POLL_MS);
  }
  throw new Error(`tacit: gave up waiting for the build lock ${lockPath}; remove it and retry`);
}

/** The lock's file descriptor, or undefined when another process holds it. */
function tryLock(lockPath: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(lockPath, "wx");
  } catch (error) {
    if ((error as { code?: string }).code === "EEXIST") return undefined;
    throw error;
  }
  writeSync(fd, `${process.pid} ${Date.now()}\n`);
  return fd;
}

/** Removes a lock older than {@link LOCK_STALE_MS} or whose process is gone; true when it did. */
function takeOverAbandoned(lockPath: string): boolean {
  let text: string;
  let modifiedMs: number;
  try {
    text = readFileSync(lockPath, "utf8");
    modifiedMs = statSync(lockPath).mtimeMs;
  } catch {
    return false; // released meanwhile: the next poll takes it
  }
  const [pidText, startedText] = text.trim().split(" ");
  const pid = Number(pidText);
  const startedMs = Number(startedText);
  const ageMs = Date.now() - (Number.isFinite(startedMs) ? startedMs : modifiedMs);
  // A lock still being written (no pid yet) is young: its age comes from the file.
  const dead = Number.isInteger(pid) && pid > 0 && !processAlive(pid);
  if (ageMs <= LOCK_STALE_MS && !dead) return false;
  process.stderr.write(
    `tacit: taking over the build lock ${lockPath} (${
      dead ? `process ${pid} is gone` : `${Math.round(ageMs / 1000)} s old`
    })\n`,
  );
  rmSync(lockPath, { force: true });
  return true;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code !== "ESRCH";
  }
}

/** Blocks the calling thread (the build is synchronous, as is the first native call). */
function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function build(checkout: SourceCheckout, zig: string): void {
  process.stderr.write(
    `tacit: building the native library with ${zig} (first use; about 1–2 minutes)...\n`,
  );
  const started = performance.now();
  try {
    execFileSync(zig, ["build", "-Doptimize=ReleaseFast"], {
      cwd: checkout.root,
      stdio: ["ignore", "inherit", "inherit"],
    });
  } catch (error) {
    throw new Error(`tacit: building the native library failed: ${(error as Error).message}`);
  }
  try {
    // zig leaves an up-to-date install untouched (its cache saw no real change, e.g. a
    // source whose mtime moved); mark the library fresh so the next load does not rebuild.
    const now = new Date();
    utimesSync(checkout.library, now, now);
  } catch (error) {
    throw new Error(
      `tacit: ${zig} build finished but ${checkout.library} is not there (${
        (error as Error).message
      })`,
    );
  }
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`tacit: built ${checkout.library} in ${seconds.toFixed(0)} s\n`);
}
