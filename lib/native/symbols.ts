/**
 * The one symbol table of the native library (`zig/c_api.zig`). Every export
 * returns an `i32` status: 0 is success, a negative value is an error class
 * (see `Status` below) whose message is read with `tacit_last_error`.
 *
 * Conventions shared by every function:
 * - Counts, ids and shapes are `i32`; a CSR matrix is passed as
 *   (n_rows, indptr: i32[n_rows + 1], indices: i32[nnz], data: f32[nnz]) with
 *   `nnz = indptr[n_rows]`, column indices sorted ascending within each row.
 * - Dense matrices are row-major f32 `[rows, factors]`.
 * - Native code never keeps a pointer after it returns.
 * - `buffer` parameters accept a typed array or `null` where marked nullable.
 *
 * The adapters in `deno.ts` and `bun.ts` turn this table into their runtime's
 * FFI declarations; `long: true` marks calls that may take seconds and run
 * nonblocking on Deno.
 */

export type NativeType = "i32" | "f32" | "f64" | "buffer";

export interface SymbolSpec {
  readonly parameters: readonly NativeType[];
  readonly result: "i32";
  readonly long?: boolean;
}

/** Status codes returned by every export (`zig/status.zig`). */
export const Status = {
  ok: 0,
  /** An argument has the wrong type, shape or layout (TypeError). */
  invalidArgument: -1,
  /** An index or count is outside its allowed range (RangeError). */
  outOfRange: -2,
  /** A float input is NaN or infinite (RangeError). */
  notFinite: -3,
  /** The native allocator failed. */
  outOfMemory: -4,
  /** A numerical failure: a matrix that is not positive definite, a solve that diverged. */
  numerical: -5,
  /** A bug in tacit. */
  internal: -6,
} as const;

/** Bumped whenever a signature below changes; the loader refuses a stale library. */
export const ABI_VERSION = 1;

export const symbols = {
  /** () -> ABI_VERSION */
  tacit_abi_version: { parameters: [], result: "i32" },

  /**
   * (out: u8[capacity] nullable, capacity: i32) -> length of the last error
   * message in bytes (UTF-8, not NUL-terminated). Copies at most `capacity` bytes.
   */
  tacit_last_error: { parameters: ["buffer", "i32"], result: "i32" },

  /** (n: i32) -> status. n <= 0 restores the default (TACIT_NUM_THREADS, else the cores). */
  tacit_set_num_threads: { parameters: ["i32"], result: "i32" },

  /** () -> the pool's thread count (>= 1), the calling thread included. */
  tacit_get_num_threads: { parameters: [], result: "i32" },

  /**
   * Validates a CSR matrix: indptr[0] = 0, indptr non-decreasing, indptr[n_rows] = nnz,
   * every index in [0, n_cols) and strictly increasing within a row, every value finite.
   * (n_rows: i32, n_cols: i32, indptr: i32[n_rows+1], indices: i32[nnz],
   *  data: f32[nnz] nullable, nnz: i32) -> status
   */
  tacit_csr_check: {
    parameters: ["i32", "i32", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },

  /**
   * Counts NaN and infinite values: (values: f32[len], len: i32, out_count: i32[1]) -> status
   */
  tacit_count_nonfinite: {
    parameters: ["buffer", "i32", "buffer"],
    result: "i32",
  },

  /**
   * Gram matrix with a ridge: out = Fᵀ F + ridge · I.
   * (factors: f32[n*f], n: i32, f: i32, ridge: f32, out: f32[f*f]) -> status
   */
  tacit_gram: {
    parameters: ["buffer", "i32", "i32", "f32", "buffer"],
    result: "i32",
  },

  /**
   * One ALS half-sweep (Hu, Koren & Volinsky 2008, eq. 4): for every row u of the
   * CSR matrix, x_u = (YᵀY + Yᵀ(C_u − I)Y + λI)⁻¹ Yᵀ C_u p(u), where for a stored
   * value v: p = 1 if v > 0 else 0, and c = 1 + alpha·|v|; missing entries have
   * c = 1, p = 0. Rows with no stored value get x_u = 0.
   * solver 0 = conjugate gradient (Takács et al. 2011), warm-started from the x passed in,
   * `cg_steps` iterations; solver 1 = Cholesky (x's input is ignored).
   * (solver: i32, cg_steps: i32, n_rows: i32, indptr, indices, data,
   *  x: f32[n_rows*f] in/out, y: f32[n_other*f], n_other: i32, f: i32,
   *  regularization: f32, alpha: f32) -> status
   */
  tacit_als_solve: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "f32",
      "f32",
    ],
    result: "i32",
    long: true,
  },

  /**
   * The ALS objective: Σ_{u,i} c_ui (p_ui − x_u·y_i)² + λ(‖X‖² + ‖Y‖²), summed over
   * every (user, item) pair, with c and p as in tacit_als_solve.
   * Writes [objective, Σ_{u,i} c_ui] so the caller can normalise.
   * (n_rows: i32, indptr, indices, data, x: f32[n_rows*f], y: f32[n_other*f],
   *  n_other: i32, f: i32, regularization: f32, alpha: f32, out: f64[2]) -> status
   */
  tacit_als_loss: {
    parameters: [
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "f32",
      "f32",
      "buffer",
    ],
    result: "i32",
    long: true,
  },

  /**
   * Top-k by dot product, one query per row of `queries`, in parallel.
   * Items are ranked by score descending, ties by item id ascending. An item is
   * skipped (never returned) when
   *   - it is in the query's row of the exclusion CSR (exclude_indptr/indices, both
   *     nullable; indices sorted ascending within a row), or
   *   - item_mask[item] != 0 (item_mask nullable), or
   *   - candidates is non-null and the item is not in it (candidates sorted ascending,
   *     no duplicates).
   * When fewer than k items remain, the row is padded with id −1 and score −Infinity.
   * (queries: f32[n_q*f], n_q: i32, items: f32[n_items*f], n_items: i32, f: i32,
   *  exclude_indptr: i32[n_q+1] nullable, exclude_indices: i32[] nullable,
   *  item_mask: u8[n_items] nullable, candidates: i32[n_cand] nullable, n_cand: i32,
   *  k: i32, out_ids: i32[n_q*k], out_scores: f32[n_q*k]) -> status
   */
  tacit_topk_dot: {
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },

  /**
   * Ranking metrics at k for a batch of users, one user per row, in parallel
   * (definitions in `zig/metrics.zig` and `lib/evaluation/metrics.ts`).
   * Row u of `top_ids` is user u's recommendations, best first, training items
   * already left out, padded with −1 (padding is skipped); only its first
   * min(width, k) entries count. Row u of the test CSR (test_indptr/indices,
   * indices strictly increasing and in [0, n_items)) is user u's held-out items.
   * Writes n_columns = 8 values per user, in this order:
   *   hits, min(k, |T|), recall, average precision, ndcg, auc, reciprocal rank, |T|
   * A user with no test items gets 0, 0, NaN × 5, 0.
   * (top_ids: i32[n_users*width], n_users: i32, width: i32 (<= k), k: i32,
   *  test_indptr: i32[n_users+1], test_indices: i32[nnz], n_items: i32,
   *  n_columns: i32 (= 8), out: f64[n_users*n_columns]) -> status
   */
  tacit_ranking_metrics: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "buffer",
    ],
    result: "i32",
  },

  /**
   * One epoch of Bayesian personalised ranking (Rendle et al. 2009, LearnBPR;
   * `zig/bpr.zig`): n_samples Hogwild SGD steps on (user, liked, negative)
   * triples, updating both factor matrices in place. A sample draws two stored
   * entries uniformly: the first gives (user, liked), the second's column the
   * negative (so negatives follow item popularity). A negative equal to the
   * liked item, or (verify_negatives = 1) stored in the user's row, is skipped.
   * Rows have f columns, the last a bias: item bias, and a user value held
   * unchanged (1). The samples are cut into chunks seeded from (seed, chunk);
   * on one thread the result is reproducible bit for bit.
   * Writes out_counts = [samples with x_u·(y_i − y_j) > 0 before their step, skipped].
   * (n_rows: i32, n_cols: i32, indptr, indices (strictly increasing per row),
   *  row_of: i32[nnz] (the row of every nonzero), user_factors: f32[n_rows*f] in/out,
   *  item_factors: f32[n_cols*f] in/out, f: i32, learning_rate: f32, regularization: f32,
   *  verify_negatives: i32 (0 or 1), seed: i32, n_samples: i32, out_counts: i32[2]) -> status
   */
  tacit_bpr_epoch: {
    parameters: [
      "i32",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "f32",
      "f32",
      "i32",
      "i32",
      "i32",
      "buffer",
    ],
    result: "i32",
    long: true,
  },

  /**
   * The BPR update of one triple, exactly as tacit_bpr_epoch steps it (for
   * tests and for callers that sample themselves). Rows have f columns, the last
   * a bias; the user's last value is left unchanged. The three rows must not overlap.
   * (user: f32[f] in/out, liked: f32[f] in/out, disliked: f32[f] in/out, f: i32,
   *  learning_rate: f32, regularization: f32, out_correct: i32[1]) -> status;
   * out_correct = 1 when x_u·(y_i − y_j) > 0 before the step.
   */
  tacit_bpr_step: {
    parameters: ["buffer", "buffer", "buffer", "i32", "f32", "f32", "buffer"],
    result: "i32",
  },

  /**
   * The triples tacit_bpr_epoch would step through with the same matrix, seed,
   * n_samples and verify_negatives, in order, without touching any factor (a
   * diagnostic, used by the tests). out_disliked[k] = −1 marks a skipped sample.
   * (n_rows: i32, n_cols: i32, indptr, indices, row_of: i32[nnz], verify_negatives: i32,
   *  seed: i32, n_samples: i32, out_users: i32[n_samples], out_liked: i32[n_samples],
   *  out_disliked: i32[n_samples]) -> status
   */
  tacit_bpr_sample: {
    parameters: [
      "i32",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },

  /**
   * One logistic-MF half-epoch (Johnson 2014; `zig/lmf.zig`): one Adagrad step
   * on every row x_u of the CSR matrix against fixed y, along
   *   g = Σ_stored c·(1 − σ(x·y_i)) y_i − Σ_{neg_prop·|row| sampled j} σ(x·y_j) y_j − λx,
   * with c the stored value and negatives drawn as the columns of uniform stored
   * entries; adagrad += g², x += η g / √(adagrad + 1e-6). Column fixed_column of
   * x is never changed. Rows draw from generators seeded from (seed, row): the
   * result does not depend on the thread count.
   * (n_rows: i32, indptr, indices, data, x: f32[n_rows*f] in/out, y: f32[n_other*f],
   *  n_other: i32, f: i32, adagrad: f32[n_rows*f] in/out, fixed_column: i32,
   *  learning_rate: f32, regularization: f32, neg_prop: i32, seed: i32) -> status
   */
  tacit_lmf_update: {
    parameters: [
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "buffer",
      "i32",
      "f32",
      "f32",
      "i32",
      "i32",
    ],
    result: "i32",
    long: true,
  },

  /**
   * Rows [item_start, item_end) of the item-item similarity S = Wᵀ W of a
   * weighted user × item matrix W, keeping the k largest entries per row
   * (`zig/knn.zig`): S[i, j] = Σ_u W[u, i]·W[u, j]. Row i's candidates are the
   * items sharing a user with i, i itself included; they rank by score
   * descending then id ascending. Row i of the outputs holds its kept
   * neighbours sorted by id ascending (a CSR row), out_counts[i] of them, the
   * rest padded with −1 / −Infinity. The item × user matrix must be Wᵀ.
   * (n_users: i32, n_items: i32,
   *  user_indptr: i32[n_users+1], user_indices, user_data (W),
   *  item_indptr: i32[n_items+1], item_indices, item_data (Wᵀ),
   *  item_start: i32, item_end: i32, k: i32,
   *  out_ids: i32[n_items*k], out_scores: f32[n_items*k], out_counts: i32[n_items]) -> status
   */
  tacit_knn_fit: {
    parameters: [
      "i32",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
    long: true,
  },

  /**
   * Item-item recommendations for a batch of users, in parallel (`zig/knn.zig`):
   * query q's score for item j is Σ_{i in row q} x_qi · S[i, j]. Every item that
   * is not left out is ranked, by score descending then id ascending (an item no
   * liked item reaches scores 0). An item is left out when filter_liked = 1 and
   * it is stored in the query's row, when item_mask[item] != 0 (nullable), or
   * when candidates is non-null (sorted ascending, unique) and lacks it. Rows
   * with fewer eligible items are padded with id −1 and score −Infinity.
   * (n_q: i32, query_indptr: i32[n_q+1], query_indices, query_data,
   *  n_items: i32, sim_indptr: i32[n_items+1], sim_indices, sim_data,
   *  filter_liked: i32 (0 or 1), item_mask: u8[n_items] nullable,
   *  candidates: i32[n_cand] nullable, n_cand: i32, k: i32,
   *  out_ids: i32[n_q*k], out_scores: f32[n_q*k]) -> status
   */
  tacit_knn_recommend: {
    parameters: [
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
} as const satisfies Record<string, SymbolSpec>;

export type SymbolName = keyof typeof symbols;
