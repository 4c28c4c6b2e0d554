/**
 * Native-owned state behind an opaque handle (`zig/abi/handles.zig`): the
 * base of every TypeScript object whose memory lives in the native library
 * (the approximate-nearest-neighbour indexes and GPU buffers build on it).
 *
 * - `dispose()` (or `using`, through `Symbol.dispose`) releases the native
 *   object; a second `dispose()` does nothing.
 * - Using a disposed handle throws an `Error` naming the object, before any
 *   native call. The native table refuses a stale handle too, so even a raw
 *   value kept from before cannot reach freed memory.
 * - A `FinalizationRegistry` releases objects that were never disposed once
 *   their TypeScript owner is collected: a backstop, not a schedule.
 * - A release while a nonblocking call still uses the object only marks it;
 *   the native side destroys it when that call ends.
 *
 * @module
 */
import { callNative } from "./library.ts";

const backstop = new FinalizationRegistry<bigint>((value) => {
  try {
    callNative("tacit_handle_release", { handle: value });
  } catch {
    // Already released through the table (e.g. a process-wide reset): nothing to free.
  }
});

/** An owned native object. Subclasses add the operations on it. */
export class NativeHandle implements Disposable {
  readonly #value: bigint;
  #disposed = false;

  /**
   * Takes ownership of a handle a native `create` export returned.
   * @param value The handle (never 0).
   * @param what How messages name the object, e.g. "HNSW index".
   */
  constructor(value: bigint, readonly what: string) {
    if (typeof value !== "bigint" || value === 0n) {
      throw new TypeError(`Expected a native handle for ${what} but found ${String(value)}`);
    }
    this.#value = value;
    backstop.register(this, value, this);
  }

  /** True once `dispose()` ran. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * The handle value to pass to a native call.
   * @throws Error when the object was disposed.
   */
  get handle(): bigint {
    if (this.#disposed) {
      throw new Error(
        `This ${this.what} was disposed; create a new one (dispose() releases its native memory)`,
      );
    }
    return this.#value;
  }

  /** Releases the native object now. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    backstop.unregister(this);
    callNative("tacit_handle_release", { handle: this.#value });
  }

  /** `using` support: the same as {@link dispose}. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** The number of native objects alive in this process (for leak checks in tests). */
export function nativeObjectsAlive(): number {
  const out = new Int32Array(1);
  callNative("tacit_handles_alive", { out_count: out });
  return out[0]!;
}
