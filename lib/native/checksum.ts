/**
 * The sha256 checks a library passes before it is opened: `TACIT_LIB`
 * against `TACIT_LIB_SHA256` when that is set, and a prebuilt library
 * against the table `scripts/release.ts` writes (`prebuilt.ts`).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

/** The sha256 of a file's bytes, lowercase hex. */
export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/**
 * Checks the library `TACIT_LIB` names against `TACIT_LIB_SHA256`.
 *
 * @param path The library file.
 * @param expected The sha256 it must have (hex, either case).
 * @throws Error naming the path, the expected and the found hash when they differ.
 */
export function checkOverride(path: string, expected: string): void {
  const found = sha256File(path);
  if (found !== expected.trim().toLowerCase()) {
    throw new Error(
      `tacit: expected TACIT_LIB=${path} to have sha256 ${expected} (TACIT_LIB_SHA256) but found ${found}; ` +
        `point TACIT_LIB at the library that hash belongs to, or unset TACIT_LIB_SHA256`,
    );
  }
}

/**
 * Checks a prebuilt library against the release's table of hashes.
 *
 * @param packageName The platform package, e.g. `@tacit/native-linux-x64`.
 * @param path The library file that package exports.
 * @param table sha256 by package name (`PREBUILT_SHA256`).
 * @throws Error naming the package, the path, the expected and the found hash
 *   when the package has no entry or the hashes differ.
 */
export function checkPrebuilt(
  packageName: string,
  path: string,
  table: Readonly<Record<string, string>>,
): void {
  const expected = table[packageName];
  const found = sha256File(path);
  if (expected === undefined) {
    throw new Error(
      `tacit: expected a sha256 for ${packageName} in this version's table of prebuilt libraries ` +
        `(known: ${Object.keys(table).join(", ") || "none"}) but found none; refusing to open ` +
        `${path} (sha256 ${found})`,
    );
  }
  if (found !== expected) {
    throw new Error(
      `tacit: expected the prebuilt library ${path} of ${packageName} to have sha256 ${expected} ` +
        `but found ${found} (a corrupted or foreign file); refusing to open it; reinstall ${packageName}`,
    );
  }
}
