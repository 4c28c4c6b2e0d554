/**
 * A native-owned byte store (`zig/bytes.zig`): the smallest object behind a
 * {@link NativeHandle}, and the pattern larger native state follows.
 *
 * @module
 */
import { NativeHandle } from "./handle.ts";
import { callNative } from "./library.ts";

/** `size` bytes of native memory, zero-filled, read and written by offset. */
export class NativeBytes extends NativeHandle {
  /**
   * @param size Bytes to allocate (an integer >= 0).
   */
  constructor(readonly size: number) {
    const out = new BigUint64Array(1);
    callNative("tacit_bytes_create", { size, out_handle: out });
    super(out[0]!, "native byte store");
  }

  /** Copies `data` into the store at `offset`. */
  write(offset: number, data: Uint8Array): void {
    callNative("tacit_bytes_copy", {
      store: this.handle,
      offset,
      direction: 0,
      data,
      len: data.length,
    });
  }

  /** The `length` bytes at `offset`, copied out. */
  read(offset: number, length: number): Uint8Array {
    const data = new Uint8Array(length);
    callNative("tacit_bytes_copy", { store: this.handle, offset, direction: 1, data, len: length });
    return data;
  }
}
