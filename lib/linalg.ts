/**
 * Small dense linear algebra in float64 for one-off solves on the TypeScript
 * side (explain). The bulk solves run natively in `zig/linalg.zig`.
 *
 * @module
 */

/**
 * Solves A x = b for a symmetric positive definite `n × n` matrix A (row-major)
 * by Cholesky factorisation A = L Lᵀ, in O(n³). A and b are not modified; only the
 * lower triangle of A is read.
 *
 * @param a A, `n * n` entries, row-major.
 * @param b The right-hand side, `n` entries.
 * @param n The order of A.
 * @returns x, a new array of `n` entries.
 * @throws RangeError when A is not positive definite (a pivot is not > 0, NaN included).
 * @example
 * ```ts
 * import { ok, throws } from "node:assert/strict";
 * import { choleskySolve } from "./linalg.ts";
 * // 4x + 2y = 6 and 2x + 3y = 5 give x = y = 1.
 * const x = choleskySolve(Float64Array.of(4, 2, 2, 3), Float64Array.of(6, 5), 2);
 * ok(Math.abs(x[0]! - 1) < 1e-12 && Math.abs(x[1]! - 1) < 1e-12);
 * // [[1, 2], [2, 1]] has the eigenvalue −1: the second pivot is 1 − 2² = −3.
 * throws(() => choleskySolve(Float64Array.of(1, 2, 2, 1), Float64Array.of(1, 1), 2), RangeError);
 * ```
 */
export function choleskySolve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j]!;
      for (let k = 0; k < j; k++) sum -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        if (!(sum > 0)) {
          throw new RangeError(`Expected a positive definite matrix but pivot ${i} is ${sum}`);
        }
        l[i * n + i] = Math.sqrt(sum);
      } else {
        l[i * n + j] = sum / l[j * n + j]!;
      }
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b[i]!;
    for (let k = 0; k < i; k++) sum -= l[i * n + k]! * y[k]!;
    y[i] = sum / l[i * n + i]!;
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = y[i]!;
    for (let k = i + 1; k < n; k++) sum -= l[k * n + i]! * x[k]!;
    x[i] = sum / l[i * n + i]!;
  }
  return x;
}
