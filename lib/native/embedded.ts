/**
 * A native library shipped inside the program itself: a `bun build --compile`
 * executable embeds the library file (`import path from ".../libtacit.so" with
 * { type: "file" }`), but `dlopen` cannot read Bun's virtual filesystem, so the
 * program's entry (lib/cli/compiled.ts) copies it to a real file, checked by
 * sha256, and registers that file here before the loader runs. The loader
 * (locate.ts) takes it after `TACIT_LIB` and before a source checkout.
 *
 * This module imports nothing, so an entry can register the library before
 * importing anything that loads it.
 *
 * @module
 */

/** The registered library: a real file and the sha256 it must have. */
export interface EmbeddedLibrary {
  /** The extracted library file. */
  path: string;
  /** Its sha256, lowercase hex, checked again when it is opened. */
  sha256: string;
}

let registered: EmbeddedLibrary | undefined;

/**
 * Registers the extracted library; call before the first import of the library's
 * modules (the loader reads this when it is first imported).
 *
 * @param library The file and its sha256.
 */
export function useEmbeddedLibrary(library: EmbeddedLibrary): void {
  registered = { ...library };
}

/** The registered library, if any. */
export function embeddedLibrary(): EmbeddedLibrary | undefined {
  return registered;
}
