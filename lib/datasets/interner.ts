/**
 * A minimal interner for the loaders: external ids → dense ids `0..size-1` in first-seen
 * order, and back (`names`).
 *
 * Keys are looked up as UTF-8 bytes straight from the read buffer (an open-addressing
 * table over FNV-1a hashes, the key bytes in one growing arena), so the hot loop makes
 * no string per line; a key is decoded to a string once, when it is first seen. On a
 * lastfm-format file this is several times faster than a `Map<string, number>` over
 * per-line substrings.
 *
 * `IdMap` (lib/dataset.ts) is the public id mapping; the loaders return `users` / `items`
 * in dense-id order, so `IdMap` fitted on those arrays reproduces the same ids.
 *
 * @module
 */

const utf8 = new TextDecoder();
const encoder = new TextEncoder();
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 16777619;

/**
 * External ids → dense ids in first-seen order.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, equal } from "node:assert/strict";
 * import { Interner } from "./interner.ts";
 * const ids = new Interner();
 * deepStrictEqual(["b", "a", "b", "é"].map((k) => ids.intern(k)), [0, 1, 0, 2]);
 * const bytes = new TextEncoder().encode("xa");
 * equal(ids.internBytes(bytes, 1, 2), 1); // the bytes of "a"
 * deepStrictEqual(ids.names, ["b", "a", "é"]);
 * equal(ids.size, 3);
 * ```
 */
export class Interner {
  /** Dense id → external id. */
  readonly names: string[] = [];
  /** Open addressing, two ints per slot: the key's hash, then its id (-1: empty). */
  #slots = emptySlots(1 << 12);
  #hashes = new Int32Array(1 << 11);
  #offsets = new Int32Array((1 << 11) + 1);
  #arena = new Uint8Array(1 << 16);

  /** Number of distinct ids seen. */
  get size(): number {
    return this.names.length;
  }

  /**
   * The dense id of the key `bytes[start, end)` (UTF-8), adding it when new; the bytes are copied.
   *
   * @returns An id in `[0, size)`.
   */
  internBytes(bytes: Uint8Array, start: number, end: number): number {
    let hash = FNV_OFFSET;
    for (let p = start; p < end; p++) hash = Math.imul(hash ^ bytes[p]!, FNV_PRIME);
    const slots = this.#slots;
    const mask = (slots.length >> 1) - 1;
    let slot = hash & mask;
    for (;;) {
      const id = slots[2 * slot + 1]!;
      if (id < 0) break;
      if (slots[2 * slot] === hash && this.#equals(id, bytes, start, end)) return id;
      slot = (slot + 1) & mask;
    }
    return this.#add(bytes, start, end, hash, slot);
  }

  /**
   * The dense id of `key` (compared as UTF-8 bytes), adding it when new.
   *
   * @returns An id in `[0, size)`.
   */
  intern(key: string): number {
    const bytes = encoder.encode(key);
    return this.internBytes(bytes, 0, bytes.length);
  }

  #equals(id: number, bytes: Uint8Array, start: number, end: number): boolean {
    const from = this.#offsets[id]!;
    if (this.#offsets[id + 1]! - from !== end - start) return false;
    const arena = this.#arena;
    for (let k = 0; k < end - start; k++) if (arena[from + k] !== bytes[start + k]) return false;
    return true;
  }

  #add(bytes: Uint8Array, start: number, end: number, hash: number, slot: number): number {
    const id = this.names.length;
    if (id + 1 === this.#hashes.length) {
      this.#hashes = growInt32(this.#hashes, this.#hashes.length * 2);
      this.#offsets = growInt32(this.#offsets, this.#offsets.length * 2);
    }
    const from = this.#offsets[id]!;
    const to = from + end - start;
    if (to > this.#arena.length) {
      const arena = new Uint8Array(Math.max(to, this.#arena.length * 2));
      arena.set(this.#arena);
      this.#arena = arena;
    }
    this.#arena.set(bytes.subarray(start, end), from);
    this.#offsets[id + 1] = to;
    this.#hashes[id] = hash;
    this.#slots[2 * slot] = hash;
    this.#slots[2 * slot + 1] = id;
    this.names.push(utf8.decode(this.#arena.subarray(from, to)));
    if (4 * (id + 1) > this.#slots.length) this.#rehash();
    return id;
  }

  #rehash(): void {
    const slots = emptySlots(this.#slots.length);
    const mask = (slots.length >> 1) - 1;
    for (let id = 0; id < this.names.length; id++) {
      const hash = this.#hashes[id]!;
      let slot = hash & mask;
      while (slots[2 * slot + 1]! >= 0) slot = (slot + 1) & mask;
      slots[2 * slot] = hash;
      slots[2 * slot + 1] = id;
    }
    this.#slots = slots;
  }
}

/** A table of `count` empty slots. */
function emptySlots(count: number): Int32Array {
  const slots = new Int32Array(2 * count);
  for (let k = 1; k < slots.length; k += 2) slots[k] = -1;
  return slots;
}

function growInt32(array: Int32Array, length: number): Int32Array<ArrayBuffer> {
  const out = new Int32Array(length);
  out.set(array);
  return out;
}
