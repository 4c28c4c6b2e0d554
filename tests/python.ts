/**
 * Independent readers and writers for the interchange tests: NumPy and DuckDB in Python,
 * installed into .tools/pyref by scripts/toolchain.sh (or found on the system's python3).
 * A test that needs one and finds none skips with the reason `pythonWith` gives.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname!, "..");
const pyref = join(root, ".tools", "pyref");
const env = {
  ...process.env,
  PYTHONPATH: [pyref, process.env.PYTHONPATH].filter((p) => p).join(":"),
  PYTHONDONTWRITEBYTECODE: "1",
};

/** Runs a Python program; returns its stdout, throwing with stderr when it fails. */
export function python(program: string, args: string[] = []): string {
  const result = spawnSync("python3", ["-c", program, ...args], { env, encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`python3 failed (${result.status}): ${result.stderr || result.error}`);
  }
  return result.stdout;
}

const found = new Map<string, string | undefined>();

/**
 * Why Python with `modules` is unavailable, or undefined when it is there.
 *
 * @param modules E.g. `["numpy"]`.
 */
export function pythonWithout(modules: string[]): string | undefined {
  const key = modules.join(",");
  if (!found.has(key)) {
    const result = spawnSync("python3", ["-c", `import ${key}`], { env, encoding: "utf8" });
    found.set(
      key,
      result.status === 0
        ? undefined
        : `python3 with ${modules.join(" and ")} not found (${
          existsSync(pyref) ? "" : "no .tools/pyref; "
        }scripts/toolchain.sh installs them): ${
          (result.stderr || String(result.error)).trim().split("\n").at(-1)
        }`,
    );
  }
  return found.get(key);
}
