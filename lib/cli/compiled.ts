/**
 * The entry of the `bun build --compile` executable (scripts/compile_cli.ts
 * generates the file that imports the library with `{ type: "file" }` and calls
 * {@link runCompiled}): extracts the embedded native library to a cache file named
 * by its sha256 (`$XDG_CACHE_HOME/tacit`, `~/.cache/tacit`, else the temp
 * directory; written to a temporary and renamed, reused when its hash matches),
 * registers it with the loader, then runs the CLI. Needs no node_modules, no Zig and
 * no `TACIT_LIB` (which, when set, still wins).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { useEmbeddedLibrary } from "../native/embedded.ts";

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function cacheDirs(): string[] {
  const dirs: string[] = [];
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg !== undefined && xdg !== "") dirs.push(join(xdg, "tacit"));
  try {
    dirs.push(join(homedir(), ".cache", "tacit"));
  } catch {
    // no home directory: the temp directory below
  }
  dirs.push(join(tmpdir(), "tacit"));
  return dirs;
}

/**
 * Copies the embedded library out to a real file (once per library version).
 *
 * @param embedded The path Bun gave the embedded file (in its virtual filesystem).
 * @returns The real file and its sha256.
 */
export function extractLibrary(embedded: string): { path: string; sha256: string } {
  const bytes = readFileSync(embedded);
  const hash = sha256(bytes);
  const extension = /\.(so|dylib|dll)$/.exec(embedded)?.[0] ?? ".so";
  const failures: string[] = [];
  for (const dir of cacheDirs()) {
    const path = join(dir, `libtacit-${hash.slice(0, 16)}${extension}`);
    try {
      if (existsSync(path) && sha256(readFileSync(path)) === hash) return { path, sha256: hash };
      mkdirSync(dir, { recursive: true });
      const temporary = `${path}.${process.pid}.tmp`;
      writeFileSync(temporary, bytes, { mode: 0o755 });
      renameSync(temporary, path);
      return { path, sha256: hash };
    } catch (error) {
      failures.push(`${dir}: ${(error as Error).message}`);
    }
  }
  throw new Error(`could not extract the embedded native library (${failures.join("; ")})`);
}

/**
 * Extracts and registers the library, then runs `tacit` with the process's arguments
 * and exits with its code.
 *
 * @param embedded The path of the embedded library file.
 */
export async function runCompiled(embedded: string): Promise<never> {
  try {
    useEmbeddedLibrary(extractLibrary(embedded));
  } catch (error) {
    process.stderr.write(`tacit: ${(error as Error).message}\n`);
    process.exit(5);
  }
  const { main } = await import("./main.ts");
  process.exit(await main(process.argv.slice(2)));
}
