/**
 * Held-out evaluation for the factor-model tests, in plain TypeScript sharing
 * no code with lib/: leave one liked item per user out of the training matrix,
 * then score every (held-out item, never-seen item) pair by brute force.
 */
import { CsrMatrix } from "../lib/sparse.ts";
import { seeded } from "./reference.ts";

export interface HoldOut {
  /** The matrix without the held-out entries. */
  train: CsrMatrix;
  /** heldOut[u] = the held-out item of user u, or −1 when the user kept everything. */
  heldOut: Int32Array;
}

/** Leaves one random stored item out of every row with at least two. */
export function holdOutOnePerUser(matrix: CsrMatrix, seed: number): HoldOut {
  const next = seeded(seed);
  const rows: number[] = [];
  const cols: number[] = [];
  const values: number[] = [];
  const heldOut = new Int32Array(matrix.nRows).fill(-1);
  for (let u = 0; u < matrix.nRows; u++) {
    const { indices, data } = matrix.row(u);
    const skip = indices.length >= 2 ? Math.floor(next() * indices.length) : -1;
    for (let p = 0; p < indices.length; p++) {
      if (p === skip) {
        heldOut[u] = indices[p]!;
        continue;
      }
      rows.push(u);
      cols.push(indices[p]!);
      values.push(data[p]!);
    }
  }
  return { train: CsrMatrix.fromCoo({ rows, cols, values, shape: matrix.shape }), heldOut };
}

/**
 * The mean over users with a held-out item of the share of items the user never
 * interacted with (in `full`) that score below the held-out item (ties count
 * half), scores being dot products of rows of `users` and `items` (`f` columns).
 */
export function heldOutAuc(
  full: CsrMatrix,
  heldOut: Int32Array,
  users: Float32Array,
  items: Float32Array,
  f: number,
): number {
  const nItems = full.nCols;
  let total = 0;
  let counted = 0;
  const scores = new Float64Array(nItems);
  for (let u = 0; u < full.nRows; u++) {
    const target = heldOut[u]!;
    if (target < 0) continue;
    for (let i = 0; i < nItems; i++) {
      let s = 0;
      for (let d = 0; d < f; d++) s += users[u * f + d]! * items[i * f + d]!;
      scores[i] = s;
    }
    const seen = new Set(full.row(u).indices);
    let ordered = 0;
    let pairs = 0;
    for (let j = 0; j < nItems; j++) {
      if (seen.has(j)) continue;
      pairs++;
      if (scores[target]! > scores[j]!) ordered++;
      else if (scores[target] === scores[j]) ordered += 0.5;
    }
    if (pairs === 0) continue;
    total += ordered / pairs;
    counted++;
  }
  return total / counted;
}

/** A train matrix and the held-out entries of each user. */
export interface HeldOutShare {
  /** The matrix without the held-out entries. */
  train: CsrMatrix;
  /** heldOut[u] = the items held out of row u (possibly none). */
  heldOut: number[][];
}

/** Moves each stored entry to the held-out set with chance `share`. */
export function holdOutShare(matrix: CsrMatrix, share: number, seed: number): HeldOutShare {
  const next = seeded(seed);
  const rows: number[] = [];
  const cols: number[] = [];
  const values: number[] = [];
  const heldOut: number[][] = Array.from({ length: matrix.nRows }, () => []);
  for (let u = 0; u < matrix.nRows; u++) {
    const { indices, data } = matrix.row(u);
    for (let p = 0; p < indices.length; p++) {
      if (next() < share) {
        heldOut[u]!.push(indices[p]!);
        continue;
      }
      rows.push(u);
      cols.push(indices[p]!);
      values.push(data[p]!);
    }
  }
  return { train: CsrMatrix.fromCoo({ rows, cols, values, shape: matrix.shape }), heldOut };
}

/**
 * Precision at k as Python implicit's ranking_metrics_at_k accumulates it:
 * Σ_u hits_u / Σ_u min(k, |T_u|) over users with held-out items T_u, where
 * hits_u counts T_u among the k best-scored items outside the user's `train`
 * row (scores are dot products of rows of `users` and `items`, `f` columns;
 * ties go to the lower id).
 */
export function heldOutPrecisionAtK(
  train: CsrMatrix,
  heldOut: number[][],
  users: Float32Array,
  items: Float32Array,
  f: number,
  k: number,
): number {
  let hits = 0;
  let possible = 0;
  const scores = new Float64Array(train.nCols);
  for (let u = 0; u < train.nRows; u++) {
    const targets = new Set(heldOut[u]!);
    if (targets.size === 0) continue;
    for (let i = 0; i < train.nCols; i++) {
      let s = 0;
      for (let d = 0; d < f; d++) s += users[u * f + d]! * items[i * f + d]!;
      scores[i] = s;
    }
    const seen = new Set(train.row(u).indices);
    const candidates = Array.from({ length: train.nCols }, (_, i) => i).filter((i) => !seen.has(i));
    candidates.sort((a, b) => scores[b]! - scores[a]! || a - b);
    for (const i of candidates.slice(0, k)) if (targets.has(i)) hits++;
    possible += Math.min(k, targets.size);
  }
  return hits / possible;
}

/**
 * Spotlight's mean reciprocal rank (spotlight/evaluation.py mrr_score): over
 * users with held-out items, the mean over those items of 1 / rank, where
 * rank = 1 + the number of items outside the user's `train` row scored higher
 * (other held-out items compete; a tie counts as half, as scipy's rankdata
 * averages), averaged over users. `score(u, scores)` fills every item's score.
 */
export function heldOutMrr(
  train: CsrMatrix,
  heldOut: number[][],
  score: (user: number, scores: Float64Array) => void,
): number {
  let total = 0;
  let users = 0;
  const scores = new Float64Array(train.nCols);
  for (let u = 0; u < train.nRows; u++) {
    if (heldOut[u]!.length === 0) continue;
    score(u, scores);
    const seen = new Set(train.row(u).indices);
    let sum = 0;
    for (const target of heldOut[u]!) {
      let above = 0;
      let ties = 0;
      for (let i = 0; i < train.nCols; i++) {
        if (seen.has(i) || i === target) continue;
        if (scores[i]! > scores[target]!) above++;
        else if (scores[i] === scores[target]) ties++;
      }
      sum += 1 / (1 + above + ties / 2);
    }
    total += sum / heldOut[u]!.length;
    users++;
  }
  return total / users;
}
