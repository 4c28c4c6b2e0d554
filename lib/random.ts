/**
 * A small seeded pseudo-random generator that gives the same sequence on Deno
 * and Bun: xoshiro128** (Blackman and Vigna, "Scrambled linear pseudorandom
 * number generators", 2021) in 32-bit integer operations, with its 128-bit
 * state seeded by two outputs of SplitMix64 (Steele, Lea and Flood, 2014).
 *
 * ```
 * SplitMix64:  s += 0x9E3779B97F4A7C15; z = s
 *              z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9; z = (z ^ z >> 27) * 0x94D049BB133111EB
 *              out = z ^ z >> 31                                  (all mod 2^64)
 * seeding:     [s0, s1] = low, high words of out #1; [s2, s3] = low, high words of out #2
 * xoshiro128**: result = rotl(s1 * 5, 7) * 9;  t = s1 << 9
 *              s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11)   (mod 2^32)
 * ```
 *
 * Not for cryptography.
 *
 * @module
 */
import { randomFillSync } from "node:crypto";
import { describe, finiteNumber, nonNegativeInteger } from "./validate.ts";

const TWO_POW_32 = 4294967296;
const TWO_POW_MINUS_24 = 1 / 16777216;

/** Largest float32 strictly below `x` (x > -Infinity, finite, float32-representable). */
function float32Below(x: number): number {
  const f = new Float32Array([x]);
  const bits = new Int32Array(f.buffer);
  if (x === 0) return -1.401298464324817e-45; // -min subnormal
  bits[0] = x > 0 ? bits[0]! - 1 : bits[0]! + 1;
  return f[0]!;
}

/**
 * A seeded generator of uniform 32-bit integers and floats.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, equal, notDeepStrictEqual } from "node:assert/strict";
 * import { Random } from "./random.ts";
 * // The first outputs for seed 42 (checked against a separate implementation of the
 * // module's formulas); the same on Deno and Bun.
 * const rng = new Random(42);
 * deepStrictEqual([rng.nextUint32(), rng.nextUint32(), rng.nextUint32()], [1776835114, 4165204688, 17111135]);
 * const a = new Random(7).fillUniform(new Float32Array(8), -0.01, 0.01);
 * deepStrictEqual(new Random(7).fillUniform(new Float32Array(8), -0.01, 0.01), a);
 * notDeepStrictEqual(new Random(8).fillUniform(new Float32Array(8), -0.01, 0.01), a);
 * equal(new Random(0).nextUint32(), 3737715805);
 * ```
 */
export class Random {
  #s0 = 0;
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;

  /**
   * A generator seeded by SplitMix64 from `seed`, or from `node:crypto` when there is none.
   *
   * @param seed A non-negative safe integer; omitted, the state comes from `node:crypto`.
   * @throws TypeError / RangeError for a seed that is not a non-negative safe integer.
   */
  constructor(seed?: number) {
    if (seed === undefined) {
      const words = randomFillSync(new Uint32Array(4));
      this.#setState(words[0]!, words[1]!, words[2]!, words[3]! | 1);
      return;
    }
    let s = BigInt(nonNegativeInteger("seed", seed));
    const words: number[] = [];
    for (let k = 0; k < 2; k++) {
      s = BigInt.asUintN(64, s + 0x9E3779B97F4A7C15n);
      let z = s;
      z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n);
      z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94D049BB133111EBn);
      z ^= z >> 31n;
      words.push(Number(z & 0xFFFFFFFFn), Number(z >> 32n));
    }
    // An all-zero state is the one xoshiro cannot leave; SplitMix64 never gives it in practice.
    this.#setState(words[0]!, words[1]!, words[2]!, words[3]! || 1);
  }

  /**
   * A generator with the given raw xoshiro128** state (not all zero), e.g. one saved by {@link state}.
   *
   * @param state Four unsigned 32-bit words `[s0, s1, s2, s3]`.
   * @returns A generator that continues from that state.
   * @throws TypeError for a wrong shape; RangeError for an all-zero state.
   * @example
   * ```ts
   * import { deepStrictEqual, equal, throws } from "node:assert/strict";
   * import { Random } from "./random.ts";
   * const rng = Random.fromState([1, 2, 3, 4]);
   * equal(rng.nextUint32(), 11520); // rotl(2 · 5, 7) · 9 = 1280 · 9
   * // t = 2 << 9; s2 = 3 ^ 1 = 2; s3 = 4 ^ 2 = 6; s1 = 2 ^ 2 = 0; s0 = 1 ^ 6 = 7; s2 ^= t; s3 = rotl(6, 11)
   * deepStrictEqual(rng.state(), Uint32Array.of(7, 0, 1026, 12288));
   * throws(() => Random.fromState([0, 0, 0, 0]), RangeError);
   * ```
   */
  static fromState(state: ArrayLike<number>): Random {
    if (state === null || typeof state !== "object" || state.length !== 4) {
      throw new TypeError(
        `Expected state to hold 4 unsigned 32-bit words but found ${describe(state)}`,
      );
    }
    const w = Array.from({ length: 4 }, (_, k) => state[k]!);
    if (
      w.some((v) => !Number.isInteger(v) || v < 0 || v >= TWO_POW_32) || w.every((v) => v === 0)
    ) {
      throw new RangeError(
        `Expected state to be 4 unsigned 32-bit words, not all zero, but found [${w.join(", ")}]`,
      );
    }
    const rng = new Random(0);
    rng.#setState(w[0]!, w[1]!, w[2]!, w[3]!);
    return rng;
  }

  /**
   * The current raw state, to save and later resume with {@link Random.fromState}.
   *
   * @returns A new Uint32Array `[s0, s1, s2, s3]`.
   * @example
   * ```ts
   * import { deepStrictEqual, equal } from "node:assert/strict";
   * import { Random } from "./random.ts";
   * const a = new Random(7);
   * a.nextUint32();
   * const b = Random.fromState(a.state());
   * deepStrictEqual(b.state(), a.state());
   * equal(b.nextUint32(), a.nextUint32());
   * equal(b.nextUint32(), 2992800842); // seed 7's third output
   * ```
   */
  state(): Uint32Array {
    return Uint32Array.of(this.#s0, this.#s1, this.#s2, this.#s3);
  }

  #setState(s0: number, s1: number, s2: number, s3: number): void {
    this.#s0 = s0 | 0;
    this.#s1 = s1 | 0;
    this.#s2 = s2 | 0;
    this.#s3 = s3 | 0;
  }

  /**
   * The next uniform unsigned 32-bit integer.
   *
   * @returns An integer in [0, 2^32).
   * @example
   * ```ts
   * import { equal } from "node:assert/strict";
   * import { Random } from "./random.ts";
   * const rng = Random.fromState([1, 2, 3, 4]);
   * equal(rng.nextUint32(), 11520);
   * equal(rng.nextUint32(), 0); // s1 is 0 after the first step
   * ```
   */
  nextUint32(): number {
    const s1 = this.#s1;
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s1 << 9;
    const s2 = this.#s2 ^ this.#s0;
    const s3 = this.#s3 ^ s1;
    this.#s1 = s1 ^ s2;
    this.#s0 ^= s3;
    this.#s2 = s2 ^ t;
    this.#s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  }

  /**
   * The next uniform float in [0, 1), from the top 24 bits of {@link nextUint32}
   * (so every value is exactly representable as a float32).
   *
   * @returns `(nextUint32() >>> 8) / 2^24`.
   * @example
   * ```ts
   * import { equal } from "node:assert/strict";
   * import { Random } from "./random.ts";
   * // The first uint32 of this state is 11520; 11520 >>> 8 = 45.
   * equal(Random.fromState([1, 2, 3, 4]).nextFloat(), 45 / 2 ** 24);
   * ```
   */
  nextFloat(): number {
    return (this.nextUint32() >>> 8) * TWO_POW_MINUS_24;
  }

  /**
   * Fills `out` with uniform floats in [low, high): `low + (high - low) * nextFloat()`,
   * rounded to float32 and kept below `high`.
   *
   * @param out The array to fill, in place.
   * @param low Smallest value (inclusive), default 0.
   * @param high Bound (exclusive), default 1; must be greater than `low`.
   * @returns `out`.
   * @throws TypeError when `out` is not a Float32Array; RangeError for bounds that are not
   *   finite or not increasing.
   * @example
   * ```ts
   * import { deepStrictEqual, throws } from "node:assert/strict";
   * import { Random } from "./random.ts";
   * // nextFloat gives 45 / 2^24, then 0.
   * const out = Random.fromState([1, 2, 3, 4]).fillUniform(new Float32Array(2), 10, 20);
   * deepStrictEqual(out, Float32Array.of(10 + 10 * 45 / 2 ** 24, 10));
   * throws(() => new Random(1).fillUniform(new Float32Array(2), 1, 1), RangeError);
   * ```
   */
  fillUniform(out: Float32Array, low = 0, high = 1): Float32Array {
    if (!(out instanceof Float32Array)) {
      throw new TypeError(`Expected out to be a Float32Array but found ${describe(out)}`);
    }
    finiteNumber("low", low);
    finiteNumber("high", high, { min: low, minExclusive: true });
    const span = high - low;
    const highF32 = Math.fround(high);
    const below = float32Below(highF32);
    for (let k = 0; k < out.length; k++) {
      out[k] = low + span * ((this.nextUint32() >>> 8) * TWO_POW_MINUS_24);
      if (out[k]! >= highF32) out[k] = Math.max(below, Math.fround(low));
    }
    return out;
  }

  /**
   * Fills `out` with normal deviates of the given mean and standard deviation,
   * by the Box–Muller transform (Box and Muller, 1958) on pairs of
   * {@link nextFloat} values (the first of a pair mapped to (0, 1]).
   *
   * @param out The array to fill, in place.
   * @param mean The mean, default 0.
   * @param std The standard deviation, default 1; must be >= 0.
   * @returns `out`.
   * @throws TypeError when `out` is not a Float32Array; RangeError for a mean or
   *   standard deviation that is not finite, or a negative standard deviation.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { Random } from "./random.ts";
   * // The pair's floats are u1 = 45 / 2^24 and u2 = 0: radius √(−2 ln(1 − u1)), angle 0.
   * const out = Random.fromState([1, 2, 3, 4]).fillNormal(new Float32Array(2), 5, 2);
   * const radius = Math.sqrt(-2 * Math.log(1 - 45 / 2 ** 24));
   * deepStrictEqual(out, Float32Array.of(5 + 2 * radius, 5)); // cos 0 = 1, sin 0 = 0
   * ```
   */
  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    if (!(out instanceof Float32Array)) {
      throw new TypeError(`Expected out to be a Float32Array but found ${describe(out)}`);
    }
    finiteNumber("mean", mean);
    finiteNumber("std", std, { min: 0 });
    for (let k = 0; k < out.length; k += 2) {
      const radius = Math.sqrt(-2 * Math.log(1 - this.nextFloat()));
      const angle = 2 * Math.PI * this.nextFloat();
      out[k] = mean + std * radius * Math.cos(angle);
      if (k + 1 < out.length) out[k + 1] = mean + std * radius * Math.sin(angle);
    }
    return out;
  }

  /**
   * A uniform integer in [0, n), without modulo bias (rejection sampling).
   *
   * @param n The number of possible values, an integer in [1, 2^32].
   * @returns An integer in [0, n).
   * @throws TypeError / RangeError for an `n` that is not an integer in [1, 2^32].
   * @example
   * ```ts
   * import { equal, throws } from "node:assert/strict";
   * import { Random } from "./random.ts";
   * equal(Random.fromState([1, 2, 3, 4]).int(1000), 520); // 11520 mod 1000
   * throws(() => new Random(3).int(0), RangeError);
   * throws(() => new Random(3).int(2.5), RangeError);
   * ```
   */
  int(n: number): number {
    finiteNumber("n", n, { min: 1, max: TWO_POW_32 });
    if (!Number.isInteger(n)) {
      throw new RangeError(`Expected n to be an integer in [1, 2^32] but found ${n}`);
    }
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }
}
