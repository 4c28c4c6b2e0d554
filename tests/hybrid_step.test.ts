/**
 * One step of the hybrid (LightFM) kernel against a plain-TypeScript reference
 * written from LightFM's update rules (lightfm_fast: update, warp_update,
 * update_features with adagrad and adadelta, lazy L2 scaling, regularize), for
 * every loss × schedule, with user and item features. The kernel's random
 * draws are replaced by a scripted list (tacit_hybrid_step), so the reference
 * knows which negatives and positives the step sees.
 */
import assert from "node:assert/strict";
import { callNative } from "../lib/native/library.ts";
import { CsrMatrix } from "../lib/sparse.ts";
import { test } from "./harness.ts";
import { seeded } from "./reference.ts";

const K = 3; // components
const COLUMNS = K + 1;
const N_USERS = 3;
const N_ITEMS = 12;
const LOSSES = ["logistic", "bpr", "warp", "warp-kos"] as const;
const SCHEDULES = ["adagrad", "adadelta"] as const;
type Loss = (typeof LOSSES)[number];
type Schedule = (typeof SCHEDULES)[number];

interface Side {
  features: CsrMatrix;
  params: Float64Array;
  squares: Float64Array;
  deltas: Float64Array;
  alpha: number;
}

/** Rows: identity features then `extra` shared ones; each row L1-normalised. */
function features(rows: number, extra: number, tags: (row: number) => number[]): CsrMatrix {
  const r: number[] = [], c: number[] = [], v: number[] = [];
  for (let row = 0; row < rows; row++) {
    const own = [row, ...tags(row).map((t) => rows + t)];
    for (const column of own) {
      r.push(row), c.push(column), v.push(1 / own.length);
    }
  }
  return CsrMatrix.fromCoo({ rows: r, cols: c, values: v, shape: [rows, rows + extra] });
}

// User 0 likes items 0, 2, 3; user 1 item 4 (and item 7 as a negative, y = −1); user 2 item 5.
const interactions = CsrMatrix.fromCoo({
  rows: [0, 0, 0, 1, 1, 2],
  cols: [0, 2, 3, 4, 7, 5],
  values: [1, 1, 1, 1, -1, 1],
  shape: [N_USERS, N_ITEMS],
});

function startingSide(matrix: CsrMatrix, schedule: Schedule, alpha: number, seed: number): Side {
  const random = seeded(seed);
  const n = matrix.shape[1] * COLUMNS;
  const params = Float64Array.from({ length: n }, () => Math.fround((random() - 0.5) * 0.6));
  const squares = Float64Array.from(
    { length: n },
    () => Math.fround(schedule === "adagrad" ? 1 + random() : random() * 0.1),
  );
  const deltas = Float64Array.from(
    { length: n },
    () => Math.fround(schedule === "adagrad" ? 0 : random() * 0.1),
  );
  return { features: matrix, params, squares, deltas, alpha };
}

function represent(side: Side, entity: number): Float64Array {
  const out = new Float64Array(COLUMNS);
  const { indptr, indices, data } = side.features;
  for (let p = indptr[entity]!; p < indptr[entity + 1]!; p++) {
    for (let c = 0; c < COLUMNS; c++) out[c]! += data[p]! * side.params[indices[p]! * COLUMNS + c]!;
  }
  return out;
}

function score(u: Float64Array, i: Float64Array): number {
  let s = u[K]! + i[K]!;
  for (let c = 0; c < K; c++) s += u[c]! * i[c]!;
  return s;
}

/** g·[a − b, 1]. */
function gradientOf(g: number, a: Float64Array, b?: Float64Array): Float64Array {
  const out = new Float64Array(COLUMNS);
  for (let c = 0; c < K; c++) out[c] = g * (a[c]! - (b ? b[c]! : 0));
  out[K] = g;
  return out;
}

interface Hyper {
  schedule: Schedule;
  learningRate: number;
  rho: number;
  epsilon: number;
}

/** LightFM's update_features / update_biases over every feature of `entity`; returns [Σ local rates, features]. */
function updateFeatures(
  side: Side,
  entity: number,
  gradient: Float64Array,
  h: Hyper,
): [number, number] {
  const { indptr, indices, data } = side.features;
  let rates = 0;
  for (let p = indptr[entity]!; p < indptr[entity + 1]!; p++) {
    for (let c = 0; c < COLUMNS; c++) {
      const at = indices[p]! * COLUMNS + c;
      const g = data[p]! * gradient[c]!;
      let local: number;
      if (h.schedule === "adagrad") {
        local = h.learningRate / Math.sqrt(side.squares[at]!);
        side.params[at] = side.params[at]! - local * g;
        side.squares[at] = side.squares[at]! + g * g;
      } else {
        side.squares[at] = h.rho * side.squares[at]! + (1 - h.rho) * g * g;
        local = Math.sqrt(side.deltas[at]! + h.epsilon) / Math.sqrt(side.squares[at]! + h.epsilon);
        const update = local * g;
        side.deltas[at] = h.rho * side.deltas[at]! + (1 - h.rho) * update * update;
        side.params[at] = side.params[at]! - update;
      }
      side.params[at] = side.params[at]! * (1 + side.alpha * local);
      rates += local;
    }
  }
  return [rates, indptr[entity + 1]! - indptr[entity]!];
}

/** The reference step; returns whether it stepped. Draws are consumed from the front of `draws`. */
function referenceStep(
  loss: Loss,
  users: Side,
  items: Side,
  user: number,
  item: number,
  weight: number,
  draws: number[],
  h: Hyper & { maxSampled: number; k: number; n: number },
): boolean {
  const positives = new Set<number>();
  for (let p = interactions.indptr[user]!; p < interactions.indptr[user + 1]!; p++) {
    positives.add(interactions.indices[p]!);
  }
  let y = 0;
  for (let p = interactions.indptr[user]!; p < interactions.indptr[user + 1]!; p++) {
    if (interactions.indices[p] === item) y = interactions.data[p]!;
  }
  const q = represent(users, user);
  let rates = 0, touched = 0;
  const step = (side: Side, entity: number, gradient: Float64Array) => {
    const [r, t] = updateFeatures(side, entity, gradient, h);
    rates += r;
    touched += t;
  };
  const pairStep = (
    g: number,
    positive: number,
    negative: number,
    p: Float64Array,
    n: Float64Array,
  ) => {
    step(items, positive, gradientOf(-g, q));
    step(items, negative, gradientOf(g, q));
    step(users, user, gradientOf(g, n, p));
  };
  /** WARP's sampling; `kosPositives` switches to k-OS's rank estimate and no weight. */
  const warp = (positive: number, kosPositives?: number): boolean => {
    const p = represent(items, positive);
    const positiveScore = score(q, p);
    let sampled = 0;
    while (sampled < h.maxSampled && draws.length > 0) {
      const candidate = draws.shift()!;
      if (positives.has(candidate)) continue;
      sampled++;
      const n = represent(items, candidate);
      if (!(score(q, n) > positiveScore - 1)) continue;
      const g = kosPositives === undefined
        ? Math.min(weight * Math.log(Math.max(1, Math.floor((N_ITEMS - 1) / sampled))), 10)
        : Math.min(Math.log(Math.max(1, Math.floor((N_ITEMS - kosPositives) / sampled))), 10);
      pairStep(g, positive, candidate, p, n);
      return true;
    }
    return false;
  };
  let stepped: boolean;
  if (loss === "logistic") {
    const p = represent(items, item);
    const g = weight * (1 / (1 + Math.exp(-score(q, p))) - (y > 0 ? 1 : 0));
    step(items, item, gradientOf(g, q));
    step(users, user, gradientOf(g, p));
    stepped = true;
  } else if (loss === "bpr") {
    let negative = draws.shift()!;
    while (positives.has(negative)) negative = draws.shift()!;
    const p = represent(items, item), n = represent(items, negative);
    const g = weight * (1 - 1 / (1 + Math.exp(-(score(q, p) - score(q, n)))));
    pairStep(g, item, negative, p, n);
    stepped = true;
  } else if (loss === "warp") {
    stepped = warp(item);
  } else {
    const start = interactions.indptr[user]!;
    const count = Math.min(h.n, interactions.indptr[user + 1]! - start);
    const drawn = Array.from({ length: count }, () => {
      const candidate = interactions.indices[start + draws.shift()!]!;
      return { item: candidate, score: score(q, represent(items, candidate)) };
    });
    // A stable sort, best first: ties keep draw order.
    drawn.sort((a, b) => b.score - a.score);
    stepped = warp(drawn[Math.min(h.k, count) - 1]!.item, count);
  }
  // Lazy L2: the scales grow by the step's mean local rate, then regularize divides.
  if (touched > 0) {
    const mean = rates / (touched * COLUMNS);
    for (const side of [users, items]) {
      const scale = 1 + side.alpha * mean;
      for (let at = 0; at < side.params.length; at++) side.params[at] = side.params[at]! / scale;
    }
  }
  return stepped;
}

const LOSS_CODE: Record<Loss, number> = { logistic: 0, bpr: 1, warp: 2, "warp-kos": 3 };

function nativeStep(
  loss: Loss,
  users: Side,
  items: Side,
  user: number,
  item: number,
  weight: number,
  draws: number[],
  h: Hyper & { maxSampled: number; k: number; n: number },
): { params: [Float32Array, Float32Array]; state: Float32Array[]; counts: Int32Array } {
  const f32 = (a: Float64Array) => Float32Array.from(a);
  const state = [
    users.params,
    users.squares,
    users.deltas,
    items.params,
    items.squares,
    items.deltas,
  ].map(f32);
  const counts = new Int32Array(2);
  callNative("tacit_hybrid_step", {
    n_users: N_USERS,
    n_items: N_ITEMS,
    indptr: interactions.indptr,
    indices: interactions.indices,
    data: interactions.data,
    uf_indptr: users.features.indptr,
    uf_indices: users.features.indices,
    uf_data: users.features.data,
    n_user_features: users.features.shape[1],
    if_indptr: items.features.indptr,
    if_indices: items.features.indices,
    if_data: items.features.data,
    n_item_features: items.features.shape[1],
    columns: COLUMNS,
    user_params: state[0]!,
    user_squares: state[1]!,
    user_deltas: state[2]!,
    item_params: state[3]!,
    item_squares: state[4]!,
    item_deltas: state[5]!,
    loss: LOSS_CODE[loss],
    schedule: h.schedule === "adagrad" ? 0 : 1,
    learning_rate: h.learningRate,
    rho: h.rho,
    epsilon: h.epsilon,
    user_alpha: users.alpha,
    item_alpha: items.alpha,
    max_sampled: h.maxSampled,
    kos_k: h.k,
    kos_n: h.n,
    user,
    item,
    weight,
    n_draws: draws.length,
    draws: Int32Array.from(draws),
    out_counts: counts,
  });
  return { params: [state[0]!, state[3]!], state, counts };
}

function assertClose(actual: Float32Array, expected: Float64Array, what: string): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    const tolerance = 2e-5 * Math.max(1, Math.abs(expected[i]!));
    assert.ok(
      Math.abs(actual[i]! - expected[i]!) <= tolerance,
      `${what}[${i}]: expected ${expected[i]} but found ${actual[i]}`,
    );
  }
}

/**
 * The cases: which interaction steps and which draws it sees. Item 1's bias is
 * pushed far down so that, as WARP's first counted negative, it does not
 * violate the margin: the step is taken at the second counted draw (item 5),
 * after a positive (item 0) was redrawn without counting.
 */
function caseFor(loss: Loss): { user: number; item: number; weight: number; draws: number[] } {
  switch (loss) {
    case "logistic":
      return { user: 0, item: 2, weight: 1.5, draws: [] };
    case "bpr":
      return { user: 0, item: 2, weight: 1.5, draws: [3, 0, 6] };
    case "warp":
      return { user: 0, item: 2, weight: 1.5, draws: [0, 1, 5, 9] };
    case "warp-kos":
      // Offsets into user 0's row (items 0, 2, 3), then negatives.
      return { user: 0, item: 0, weight: 1, draws: [2, 0, 2, 0, 1, 5, 9] };
  }
}

for (const loss of LOSSES) {
  for (const schedule of SCHEDULES) {
    test(`one ${loss} step with ${schedule} and features equals LightFM's update rule`, () => {
      const userFeatures = features(N_USERS, 2, (u) => (u === 0 ? [0, 1] : [u - 1]));
      const itemFeatures = features(N_ITEMS, 3, (i) => [i % 3]);
      const h = {
        schedule,
        learningRate: 0.08,
        rho: 0.9,
        epsilon: 1e-6,
        maxSampled: 10,
        k: 2,
        n: 10,
      };
      for (const alpha of [0, 0.05]) {
        const users = startingSide(userFeatures, schedule, alpha, 11);
        const items = startingSide(itemFeatures, schedule, 2 * alpha, 12);
        // Item 1's identity bias: its score sits far below any positive's.
        items.params[1 * COLUMNS + K] = -12;
        const c = caseFor(loss);
        const native = nativeStep(loss, users, items, c.user, c.item, c.weight, [...c.draws], h);
        const draws = [...c.draws];
        const stepped = referenceStep(loss, users, items, c.user, c.item, c.weight, draws, h);
        assert.equal(native.counts[0], stepped ? 1 : 0);
        assert.equal(native.counts[1], c.draws.length - draws.length, "draws used");
        assertClose(native.state[0]!, users.params, "user_params");
        assertClose(native.state[1]!, users.squares, "user_squares");
        assertClose(native.state[3]!, items.params, "item_params");
        assertClose(native.state[4]!, items.squares, "item_squares");
        if (schedule === "adadelta") {
          assertClose(native.state[2]!, users.deltas, "user_deltas");
          assertClose(native.state[5]!, items.deltas, "item_deltas");
        }
      }
    });
  }
}

test("WARP's step weight is w ln⌊(N − 1) / sampled⌋ at the first violating draw", () => {
  // With zero embeddings and zero state the user-bias update is −lr · g exactly (adagrad, squares 1).
  const userFeatures = features(N_USERS, 0, () => []);
  const itemFeatures = features(N_ITEMS, 0, () => []);
  const users = startingSide(userFeatures, "adagrad", 0, 1);
  const items = startingSide(itemFeatures, "adagrad", 0, 2);
  users.params.fill(0), items.params.fill(0), users.squares.fill(1), items.squares.fill(1);
  items.params[1 * COLUMNS + K] = -12;
  const h = {
    schedule: "adagrad" as const,
    learningRate: 0.1,
    rho: 0.9,
    epsilon: 1e-6,
    maxSampled: 10,
    k: 2,
    n: 10,
  };
  const native = nativeStep("warp", users, items, 0, 2, 1.5, [0, 1, 5], h);
  // Draw 0 is a positive (not counted), item 1 does not violate, item 5 is sampled = 2.
  const g = 1.5 * Math.log(Math.floor((N_ITEMS - 1) / 2));
  assert.ok(Math.abs(native.state[0]![0 * COLUMNS + K]! - -0.1 * g) < 1e-6);
  assert.ok(Math.abs(native.state[3]![2 * COLUMNS + K]! - 0.1 * g) < 1e-6);
  assert.ok(Math.abs(native.state[3]![5 * COLUMNS + K]! - -0.1 * g) < 1e-6);
});
