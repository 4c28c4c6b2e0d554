/**
 * The prebuilt libraries this module loads: the version of the `@tacit/native`
 * platform packages and the sha256 of each package's library. Written by
 * `scripts/release.ts`; the loader refuses a library that is not listed here
 * or whose bytes differ.
 *
 * @module
 */

/** The version of the platform packages this module loads (the package version in deno.json). */
export const PREBUILT_VERSION: string = "0.1.0";
/** sha256 (lowercase hex) of the library file in each platform package, by package name; written by scripts/release.ts. */
export const PREBUILT_SHA256: Readonly<Record<string, string>> = {};
