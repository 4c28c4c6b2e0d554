/**
 * One minibatch of the Spotlight model's kernel (tacit_minibatch_step, the
 * batch an epoch steps, with its negatives given) against a plain-TypeScript
 * reference written from Spotlight's losses (spotlight/losses.py: batch means
 * of pointwise, BPR, hinge and adaptive hinge), the gradient of that mean with
 * respect to every row, and Adam (Kingma & Ba 2015, Algorithm 1, with L2 added
 * to the gradient as PyTorch's weight_decay) in its dense form (every row) and
 * its lazy form (the rows the batch's loss depends on).
 */
import assert from "node:assert/strict";
import { callNative } from "../lib/native/library.ts";
import { CsrMatrix } from "../lib/sparse.ts";
import { test } from "./harness.ts";
import { seeded } from "./reference.ts";

const D = 5;
const COLUMNS = D + 2;
const N_USERS = 4;
const N_ITEMS = 9;
const LOSSES = ["pointwise", "bpr", "hinge", "adaptive_hinge"] as const;
type Loss = (typeof LOSSES)[number];
const LOSS_CODES: Record<Loss, number> = { pointwise: 0, bpr: 1, hinge: 2, adaptive_hinge: 3 };
const OPTIONS = { lr: 0.03, beta1: 0.9, beta2: 0.99, epsilon: 1e-6, l2: 0.02, stepBefore: 3 };

// Users 0 and 2 appear twice (their gradients must add up); item 3 is both a positive and a negative.
const PAIRS = [[0, 1], [1, 3], [0, 4], [2, 1], [2, 6]] as const;
const likes = CsrMatrix.fromCoo({
  rows: PAIRS.map((p) => p[0]),
  cols: PAIRS.map((p) => p[1]),
  values: PAIRS.map(() => 1),
  shape: [N_USERS, N_ITEMS],
});

interface State {
  users: Float32Array;
  items: Float32Array;
  userFirst: Float32Array;
  userSecond: Float32Array;
  itemFirst: Float32Array;
  itemSecond: Float32Array;
}

/** Random parameters with the layout's constant columns, random moments (second ones positive). */
function startingState(seed: number): State {
  const random = seeded(seed);
  const rows = (n: number, constant: number) =>
    Float32Array.from(
      { length: n * COLUMNS },
      (_, k) => k % COLUMNS === constant ? 1 : (random() - 0.5) * 1.2,
    );
  const moments = (n: number, positive: boolean) =>
    Float32Array.from({ length: n * COLUMNS }, (_, k) => {
      const column = k % COLUMNS;
      if (column === (n === N_USERS ? D + 1 : D)) return 0;
      return positive ? random() * 0.01 : (random() - 0.5) * 0.02;
    });
  return {
    users: rows(N_USERS, D + 1),
    items: rows(N_ITEMS, D),
    userFirst: moments(N_USERS, false),
    userSecond: moments(N_USERS, true),
    itemFirst: moments(N_ITEMS, false),
    itemSecond: moments(N_ITEMS, true),
  };
}

function copy(state: State): State {
  return Object.fromEntries(
    Object.entries(state).map(([k, v]) => [k, (v as Float32Array).slice()]),
  ) as unknown as State;
}

const sigmoid = (s: number) => 1 / (1 + Math.exp(-s));
const score = (state: State, user: number, item: number) => {
  let sum = 0;
  for (let c = 0; c < COLUMNS; c++) {
    sum += state.users[user * COLUMNS + c]! * state.items[item * COLUMNS + c]!;
  }
  return sum;
};

/** Spotlight's loss at one pair and its derivatives in the two scores. */
function pairLoss(loss: Loss, p: number, n: number): [value: number, dp: number, dn: number] {
  switch (loss) {
    case "pointwise":
      return [
        1 - sigmoid(p) + sigmoid(n),
        -sigmoid(p) * (1 - sigmoid(p)),
        sigmoid(n) * (1 - sigmoid(n)),
      ];
    case "bpr": {
      const s = sigmoid(p - n);
      return [1 - s, -s * (1 - s), s * (1 - s)];
    }
    default: {
      const margin = n - p + 1;
      return margin < 0 ? [0, 0, 0] : [margin, -1, 1];
    }
  }
}

/** The batch mean loss and its gradient with respect to every row; which rows the loss depends on. */
function reference(loss: Loss, state: State, draws: number[], negatives: number) {
  const userGradient = new Float64Array(N_USERS * COLUMNS);
  const itemGradient = new Float64Array(N_ITEMS * COLUMNS);
  const usersInBatch = new Set<number>();
  const itemsInBatch = new Set<number>();
  let total = 0;
  PAIRS.forEach(([u, i], p) => {
    const candidates = draws.slice(p * negatives, (p + 1) * negatives);
    // Adaptive hinge: the highest scored of the pair's own negatives (the first on a tie).
    let j = candidates[0]!;
    for (const c of candidates) if (score(state, u, c) > score(state, u, j)) j = c;
    const [value, dp, dn] = pairLoss(loss, score(state, u, i), score(state, u, j));
    total += value;
    usersInBatch.add(u), itemsInBatch.add(i), itemsInBatch.add(j);
    const b = PAIRS.length;
    for (let c = 0; c < COLUMNS; c++) {
      userGradient[u * COLUMNS + c]! +=
        (dp * state.items[i * COLUMNS + c]! + dn * state.items[j * COLUMNS + c]!) / b;
      itemGradient[i * COLUMNS + c]! += dp * state.users[u * COLUMNS + c]! / b;
      itemGradient[j * COLUMNS + c]! += dn * state.users[u * COLUMNS + c]! / b;
    }
  });
  return { loss: total / PAIRS.length, userGradient, itemGradient, usersInBatch, itemsInBatch };
}

/** Adam at step t over one side's rows, skipping the constant column. */
function adamSide(
  params: Float32Array,
  first: Float32Array,
  second: Float32Array,
  gradient: Float64Array,
  rows: (r: number) => boolean,
  constant: number,
  t: number,
) {
  const out = {
    params: Float64Array.from(params),
    first: Float64Array.from(first),
    second: Float64Array.from(second),
  };
  const { lr, beta1, beta2, epsilon, l2 } = OPTIONS;
  for (let k = 0; k < params.length; k++) {
    if (!rows(Math.floor(k / COLUMNS)) || k % COLUMNS === constant) continue;
    const g = gradient[k]! + l2 * params[k]!;
    const m = beta1 * first[k]! + (1 - beta1) * g;
    const v = beta2 * second[k]! + (1 - beta2) * g * g;
    const mHat = m / (1 - beta1 ** t);
    const vHat = v / (1 - beta2 ** t);
    out.first[k] = m;
    out.second[k] = v;
    out.params[k] = params[k]! - lr * mHat / (Math.sqrt(vHat) + epsilon);
  }
  return out;
}

function kernelStep(
  loss: Loss,
  optimizer: "adam" | "lazy-adam",
  state: State,
  draws: number[],
  negatives: number,
) {
  const out = copy(state);
  const outLoss = new Float64Array(1);
  const userGradients = new Float32Array(N_USERS * COLUMNS);
  const itemGradients = new Float32Array(N_ITEMS * COLUMNS);
  callNative("tacit_minibatch_step", {
    n_users: N_USERS,
    n_items: N_ITEMS,
    indptr: likes.indptr,
    indices: likes.indices,
    columns: COLUMNS,
    user_params: out.users,
    user_first: out.userFirst,
    user_second: out.userSecond,
    item_params: out.items,
    item_first: out.itemFirst,
    item_second: out.itemSecond,
    n_pairs: PAIRS.length,
    pairs: Int32Array.from(PAIRS.flat()),
    loss: LOSS_CODES[loss],
    optimizer: optimizer === "adam" ? 0 : 1,
    batch_size: 8,
    n_negatives: negatives,
    verify_negatives: 0,
    learning_rate: OPTIONS.lr,
    beta1: OPTIONS.beta1,
    beta2: OPTIONS.beta2,
    epsilon: OPTIONS.epsilon,
    l2: OPTIONS.l2,
    step: OPTIONS.stepBefore,
    draws: Int32Array.from(draws),
    out_loss: outLoss,
    out_user_gradients: userGradients,
    out_item_gradients: itemGradients,
  });
  return { out, loss: outLoss[0]!, userGradients, itemGradients };
}

function assertClose(
  name: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: number,
) {
  assert.equal(actual.length, expected.length, `${name}: length`);
  for (let k = 0; k < actual.length; k++) {
    const scale = Math.max(1, Math.abs(expected[k]!));
    assert.ok(
      Math.abs(actual[k]! - expected[k]!) <= tolerance * scale,
      `${name}[${k}]: kernel ${actual[k]} vs reference ${expected[k]}`,
    );
  }
}

for (const loss of LOSSES) {
  const negatives = loss === "adaptive_hinge" ? 3 : 1;
  // Negatives per pair; item 3 (pair 1's positive) is drawn for pair 0, and a few repeat.
  const draws = loss === "adaptive_hinge"
    ? [3, 7, 2, 5, 8, 0, 3, 7, 8, 0, 2, 5, 7, 7, 4]
    : [3, 5, 8, 0, 2];
  for (const optimizer of ["adam", "lazy-adam"] as const) {
    test(`minibatch ${loss} with ${optimizer}: one batch's loss, gradients and Adam step equal the reference`, () => {
      const state = startingState(LOSSES.indexOf(loss) + 11);
      const expected = reference(loss, state, draws, negatives);
      const step = kernelStep(loss, optimizer, state, draws, negatives);
      assert.ok(
        Math.abs(step.loss - expected.loss) < 1e-6,
        `loss ${step.loss} vs ${expected.loss}`,
      );
      assertClose("user gradients", step.userGradients, expected.userGradient, 1e-6);
      assertClose("item gradients", step.itemGradients, expected.itemGradient, 1e-6);
      const t = OPTIONS.stepBefore + 1;
      const dense = optimizer === "adam";
      const users = adamSide(
        state.users,
        state.userFirst,
        state.userSecond,
        expected.userGradient,
        (r) => dense || expected.usersInBatch.has(r),
        D + 1,
        t,
      );
      const items = adamSide(
        state.items,
        state.itemFirst,
        state.itemSecond,
        expected.itemGradient,
        (r) => dense || expected.itemsInBatch.has(r),
        D,
        t,
      );
      assertClose("user params", step.out.users, users.params, 1e-5);
      assertClose("user first moments", step.out.userFirst, users.first, 1e-6);
      assertClose("user second moments", step.out.userSecond, users.second, 1e-6);
      assertClose("item params", step.out.items, items.params, 1e-5);
      assertClose("item first moments", step.out.itemFirst, items.first, 1e-6);
      assertClose("item second moments", step.out.itemSecond, items.second, 1e-6);
      // User 3 and item 8 or so are outside the batch: lazy leaves them bit for bit, dense moves them.
      const untouched = [...Array(N_USERS).keys()].find((u) => !expected.usersInBatch.has(u))!;
      const row = (
        a: Float32Array,
      ) => [...a.subarray(untouched * COLUMNS, (untouched + 1) * COLUMNS)];
      assert.equal(
        row(step.out.users).every((v, c) => v === state.users[untouched * COLUMNS + c]),
        !dense,
      );
    });
  }
}

test("the step refuses draws out of range, a batch larger than batch_size and a bad loss code", () => {
  const state = startingState(1);
  const base = {
    n_users: N_USERS,
    n_items: N_ITEMS,
    indptr: likes.indptr,
    indices: likes.indices,
    columns: COLUMNS,
    user_params: state.users,
    user_first: state.userFirst,
    user_second: state.userSecond,
    item_params: state.items,
    item_first: state.itemFirst,
    item_second: state.itemSecond,
    n_pairs: PAIRS.length,
    pairs: Int32Array.from(PAIRS.flat()),
    loss: 0,
    optimizer: 0,
    batch_size: 8,
    n_negatives: 1,
    verify_negatives: 0,
    learning_rate: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    l2: 0,
    step: 0,
    draws: Int32Array.of(0, 1, 2, 3, 9),
    out_loss: new Float64Array(1),
    out_user_gradients: new Float32Array(N_USERS * COLUMNS),
    out_item_gradients: new Float32Array(N_ITEMS * COLUMNS),
  };
  const before = state.users.slice();
  assert.throws(
    () => callNative("tacit_minibatch_step", base),
    /draws\[4\] to be an item in 0\.\.8 but found 9/,
  );
  assert.throws(
    () =>
      callNative("tacit_minibatch_step", {
        ...base,
        draws: Int32Array.of(0, 1, 2, 3, 4),
        batch_size: 4,
      }),
    /batch of 1\.\.4 pairs/,
  );
  assert.throws(
    () =>
      callNative("tacit_minibatch_step", { ...base, draws: Int32Array.of(0, 1, 2, 3, 4), loss: 7 }),
    /loss to be 0 \(pointwise\)/,
  );
  assert.throws(
    () =>
      callNative("tacit_minibatch_step", {
        ...base,
        draws: Int32Array.of(0, 1, 2, 3, 4),
        beta2: 1,
      }),
    /beta2 to be in \[0, 1\)/,
  );
  assert.deepEqual(state.users, before);
});
