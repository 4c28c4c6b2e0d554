/**
 * Where the native library comes from, in order:
 *
 * 1. `TACIT_LIB`, a path to the library: always honoured when set; when
 *    `TACIT_LIB_SHA256` is set too, the file's sha256 must match it.
 * 2. The library embedded in a compiled executable (`embedded.ts`, registered
 *    by a `bun build --compile` entry), its sha256 checked before it is opened.
 * 3. A source checkout (see `build.ts`): `zig-out/lib/`, built on demand.
 * 4. The prebuilt library of the platform package `@tacit/native-<os>-<arch>`,
 *    found through the meta package `@tacit/native` (under Deno
 *    `npm:@tacit/native@<PREBUILT_VERSION>`), its sha256 checked against
 *    `PREBUILT_SHA256` before it is opened.
 * 5. Otherwise one error listing what was tried, with paths and reasons, and
 *    the commands that fix it.
 *
 * {@link discover} runs at module load and never throws (the meta package is
 * imported only when neither `TACIT_LIB` nor a checkout applies);
 * {@link locate} runs at the first native call and may build or throw.
 *
 * @module
 */
import { Access } from "./access.ts";
import { ensureBuilt, findSourceCheckout, libraryFile, type SourceCheckout } from "./build.ts";
import { checkOverride, checkPrebuilt, sha256File } from "./checksum.ts";
import { type EmbeddedLibrary, embeddedLibrary } from "./embedded.ts";
import { PREBUILT_SHA256, PREBUILT_VERSION } from "./prebuilt.ts";

/** What importing the meta package gave. */
export interface PrebuiltLookup {
  /** The specifier imported. */
  specifier: string;
  /** The platform package for this process, when the meta package said. */
  packageName?: string;
  /** Its library, when that package is installed. */
  libraryPath?: string;
  /** Why there is no library path. */
  failure?: string;
}

/** Everything learnt at module load, for {@link locate}. */
export interface Discovery {
  access: Access;
  /** `TACIT_LIB`, when set and readable. */
  override: string | undefined;
  /** `TACIT_LIB_SHA256`, when set and readable. */
  overrideSha256: string | undefined;
  /** The library a compiled executable registered, when it did. */
  embedded?: EmbeddedLibrary | undefined;
  /** The source checkout, or why this module is not one. */
  source: { checkout: SourceCheckout } | { reason: string };
  /** The prebuilt lookup, when it was made. */
  prebuilt: PrebuiltLookup | undefined;
}

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

/** The meta package's specifier under this runtime. */
export const metaSpecifier: string = isDeno
  ? `npm:@tacit/native@${PREBUILT_VERSION}`
  : "@tacit/native";

/**
 * Reads the environment, looks for a source checkout and, when neither
 * applies, imports the meta package. Never throws.
 *
 * @param packageUrl The package root's URL.
 */
export async function discover(packageUrl: URL): Promise<Discovery> {
  const access = new Access();
  const override = access.env("TACIT_LIB");
  const overrideSha256 = access.env("TACIT_LIB_SHA256");
  const embedded = embeddedLibrary();
  const source = findSourceCheckout(packageUrl, access);
  const prebuilt = override === undefined && embedded === undefined && "reason" in source
    ? await importPrebuilt(metaSpecifier)
    : undefined;
  return { access, override, overrideSha256, embedded, source, prebuilt };
}

/**
 * Imports a meta package and reads `{ packageName, libraryPath }`. Never throws.
 *
 * @param specifier What to import.
 */
export async function importPrebuilt(specifier: string): Promise<PrebuiltLookup> {
  let meta: { packageName?: unknown; libraryPath?: unknown };
  try {
    meta = await import(specifier);
  } catch (error) {
    const message = String((error as Error)?.message ?? error).split("\n")[0];
    return { specifier, failure: `import("${specifier}") failed: ${message}` };
  }
  const packageName = typeof meta.packageName === "string" ? meta.packageName : undefined;
  if (packageName === undefined) {
    return { specifier, failure: `${specifier} exports no packageName` };
  }
  if (typeof meta.libraryPath !== "string") {
    return {
      specifier,
      packageName,
      failure: `${packageName} (an optional dependency of @tacit/native) is not installed; ` +
        `it may not be published for this platform`,
    };
  }
  return { specifier, packageName, libraryPath: meta.libraryPath };
}

/**
 * The path of the library to open: checked, and built when it comes from a
 * source checkout.
 *
 * @throws Error explaining what failed; when nothing applies, one listing
 *   every place tried and the commands that fix it. Refused permissions are
 *   appended to every error.
 */
export function locate(discovery: Discovery): string {
  try {
    return locateOrThrow(discovery);
  } catch (error) {
    const denied = discovery.access.denied;
    if (denied.length === 0 || !(error instanceof Error)) throw error;
    error.message += `\nPermissions not granted (Deno):\n${
      denied.map((d) => `  - ${d}`).join("\n")
    }`;
    throw error;
  }
}

function locateOrThrow(
  { access, override, overrideSha256, embedded, source, prebuilt }: Discovery,
): string {
  if (override !== undefined) {
    if (!access.exists(override)) {
      throw new Error(`tacit: the native library was not found at ${override} (TACIT_LIB)`);
    }
    if (overrideSha256 !== undefined) checkOverride(override, overrideSha256);
    return override;
  }
  if (embedded !== undefined) {
    const found = sha256File(embedded.path);
    if (found !== embedded.sha256) {
      throw new Error(
        `tacit: the embedded native library extracted to ${embedded.path} has sha256 ${found} ` +
          `but the executable holds ${embedded.sha256}; delete the file and run again`,
      );
    }
    return embedded.path;
  }
  if ("checkout" in source) {
    ensureBuilt(source.checkout, access);
    return source.checkout.library;
  }
  if (prebuilt?.libraryPath !== undefined && prebuilt.packageName !== undefined) {
    if (!access.exists(prebuilt.libraryPath)) {
      throw new Error(
        `tacit: ${prebuilt.packageName} names its library ${prebuilt.libraryPath} but it cannot be read ` +
          `(run Deno with --allow-read=${prebuilt.libraryPath} and --allow-ffi: Deno refuses pointers under a scoped --allow-ffi)`,
      );
    }
    checkPrebuilt(prebuilt.packageName, prebuilt.libraryPath, PREBUILT_SHA256);
    return prebuilt.libraryPath;
  }
  throw new Error(notFoundMessage(access, source, prebuilt));
}

function notFoundMessage(
  access: Access,
  source: { reason: string },
  prebuilt: PrebuiltLookup | undefined,
): string {
  const deno = isDeno ? ` (Deno: ${metaSpecifier}, e.g. deno add ${metaSpecifier})` : "";
  const unread = access.denied.some((line) => line.startsWith("no --allow-env=TACIT_LIB:"));
  return [
    "tacit: no native library to load. Tried:",
    `  1. TACIT_LIB: ${unread ? "not read (Deno was not given --allow-env=TACIT_LIB)" : "not set"}`,
    `  2. a source checkout: ${source.reason}`,
    `  3. the prebuilt library: ${prebuilt?.failure ?? `${metaSpecifier} was not imported`}`,
    "Fix it with one of:",
    `  - set TACIT_LIB=/abs/path/${libraryFile} (a library built from this version's sources)`,
    `  - install the prebuilt library: npm install @tacit/native${deno}`,
    "  - from source: bash scripts/toolchain.sh, then zig build -Doptimize=ReleaseFast in a checkout of tacit",
  ].join("\n");
}
