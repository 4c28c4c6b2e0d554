/**
 * Independent plain-TypeScript references for the tests: dense solves, dense
 * objectives and brute-force top-k, written from the definitions and sharing
 * no code with lib/.
 */
import { CsrMatrix } from "../lib/sparse.ts";

/** A deterministic generator for test data (mulberry32), independent of lib/random.ts. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random sparse matrix with about `density` of its cells filled with values in (0, 5]. */
export function randomMatrix(
  rows: number,
  cols: number,
  density: number,
  seed: number,
  negatives = false,
): CsrMatrix {
  const next = seeded(seed);
  const dense: number[][] = [];
  for (let r = 0; r < rows; r++) {
    const row: number[] = [];
    for (let c = 0; c < cols; c++) {
      let v = next() < density ? Math.ceil(next() * 5) : 0;
      if (negatives && v !== 0 && next() < 0.2) v = -v;
      row.push(v);
    }
    dense.push(row);
  }
  return CsrMatrix.fromDense(dense, cols);
}

export function randomFactors(rows: number, f: number, seed: number): Float32Array {
  const next = seeded(seed);
  return Float32Array.from({ length: rows * f }, () => next() - 0.5);
}

/** Solves A x = b by Gaussian elimination with partial pivoting (float64). */
export function gaussSolve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) {
      if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    }
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    for (let r = col + 1; r < n; r++) {
      const factor = m[r]![col]! / m[col]![col]!;
      for (let c = col; c <= n; c++) m[r]![c]! -= factor * m[col]![c]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let sum = m[r]![n]!;
    for (let c = r + 1; c < n; c++) sum -= m[r]![c]! * x[c]!;
    x[r] = sum / m[r]![r]!;
  }
  return x;
}

/**
 * The implicit-ALS normal equations of one row (Hu et al. 2008, eq. 4), built
 * densely from the definition: c = 1 + alpha|v| on stored cells, 1 elsewhere;
 * p = 1 where v > 0. Returns x = (Yᵀ C Y + λI)⁻¹ Yᵀ C p.
 */
/**
 * The confidence of a stored value v != 0, computed here apart from lib/:
 * "alphaValue" is Python implicit's c = alpha·|v|, "onePlusAlphaValue" Hu et
 * al.'s c = 1 + alpha·|v|. A cell of 0 is missing: c = 1.
 */
export function denseConfidence(rule: AlsRule, alpha: number, v: number): number {
  if (v === 0) return 1;
  return rule === "alphaValue" ? alpha * Math.abs(v) : 1 + alpha * Math.abs(v);
}

/** The two ALS confidence rules, by the names of the option. */
export type AlsRule = "alphaValue" | "onePlusAlphaValue";

export function denseAlsRow(
  row: number[],
  y: Float32Array,
  f: number,
  regularization: number,
  alpha: number,
  rule: AlsRule,
): number[] {
  const a = Array.from(
    { length: f },
    (_, i) => Array.from({ length: f }, (_, j) => (i === j ? regularization : 0)),
  );
  const b = new Array<number>(f).fill(0);
  row.forEach((v, item) => {
    const c = denseConfidence(rule, alpha, v);
    const p = v > 0 ? 1 : 0;
    for (let i = 0; i < f; i++) {
      b[i]! += c * p * y[item * f + i]!;
      for (let j = 0; j < f; j++) a[i]![j]! += c * y[item * f + i]! * y[item * f + j]!;
    }
  });
  if (row.every((v) => v === 0)) return new Array<number>(f).fill(0);
  return gaussSolve(a, b);
}

/** Σ_{u,i} c (p − x_u·y_i)² + λ(‖X‖² + ‖Y‖²) and Σ c, over every cell. */
export function denseAlsObjective(
  dense: number[][],
  x: Float32Array,
  y: Float32Array,
  f: number,
  regularization: number,
  alpha: number,
  rule: AlsRule,
): { objective: number; confidence: number } {
  let objective = 0;
  let confidence = 0;
  dense.forEach((row, u) => {
    row.forEach((v, i) => {
      const c = denseConfidence(rule, alpha, v);
      const p = v > 0 ? 1 : 0;
      let s = 0;
      for (let d = 0; d < f; d++) s += x[u * f + d]! * y[i * f + d]!;
      objective += c * (p - s) ** 2;
      confidence += c;
    });
  });
  for (const v of x) objective += regularization * v * v;
  for (const v of y) objective += regularization * v * v;
  return { objective, confidence };
}

export function toRows(m: CsrMatrix): number[][] {
  const dense = m.toDense();
  return Array.from(
    { length: m.nRows },
    (_, r) => Array.from(dense.subarray(r * m.nCols, (r + 1) * m.nCols)),
  );
}

/** Brute-force top-n: every score, skip excluded ids, sort by score desc then id asc. */
export function bruteTopK(
  scores: number[],
  n: number,
  exclude: Set<number> = new Set(),
  only?: Set<number>,
): { ids: number[]; scores: number[] } {
  const ranked = scores
    .map((score, id) => ({ score, id }))
    .filter(({ id }) => !exclude.has(id) && (only === undefined || only.has(id)))
    .sort((a, b) => b.score - a.score || a.id - b.id)
    .slice(0, n);
  return { ids: ranked.map((r) => r.id), scores: ranked.map((r) => r.score) };
}

export function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, f: number): number {
  let s = 0;
  for (let d = 0; d < f; d++) s += a[ai * f + d]! * b[bi * f + d]!;
  return s;
}

export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let k = 0; k < expected.length; k++) {
    diff += (actual[k]! - expected[k]!) ** 2;
    norm += expected[k]! ** 2;
  }
  return Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
}
