//! Logistic matrix factorization, one alternating half-epoch at a time.
//!
//! Model (Johnson, "Logistic Matrix Factorization for Implicit Feedback Data",
//! NIPS 2014 workshop on distributed machine learning, §2): the probability
//! that user u interacts with item i is p(l_ui | x_u, y_i, β) = σ(x_u·y_i + β_u + β_i),
//! and a stored value r_ui weighs its positive observation by c_ui = r_ui
//! (α r_ui in the paper; the caller scales the data). A half-epoch fixes one
//! side and takes one Adagrad step (§3, Duchi et al. 2011) on every row x_u of
//! the other along the gradient of the log posterior (eq. 3, 4):
//!
//!     g_u = Σ_{i ∈ P(u)} c_ui (1 − σ(s_ui)) y_i − Σ_{j ∈ N(u)} σ(s_uj) y_j − λ x_u,
//!     G_u += g_u²,  x_u += η g_u / √(G_u + 10⁻⁶),
//!
//! where P(u) are the row's stored columns and N(u) is a sample of
//! `neg_prop`·|P(u)| columns drawn in proportion to their popularity (uniform
//! stored entries of the whole matrix), standing in for the sum over every
//! unobserved pair, as Python implicit does (which caps the sample at f + 2
//! columns by using the factor count where it meant the item count; this
//! kernel samples the paper's neg_prop·|P(u)|).
//!
//! Layout, as implicit: biases live in two extra columns. A user row is
//! [factors, 1, β_u] and an item row [factors, β_i, 1], so x_u·y_i is the whole
//! logit. The column held at 1 on the side being solved (`fixed_column`) is
//! never changed.
//!
//! Rows are independent given the fixed side and each row draws from its own
//! generator seeded from (seed, row), so the result does not depend on the
//! thread count: any run with the same seed is bit-for-bit the same.

const std = @import("std");
const assert = std.debug.assert;
const status = @import("status.zig");
const simd = @import("simd.zig");
const partition = @import("partition.zig");
const csr = @import("csr.zig");
const ThreadPool = @import("ThreadPool.zig");
const Error = status.Error;

const Csr = csr.Csr;

pub const Options = struct {
    learning_rate: f32,
    regularization: f32,
    /// Negatives per positive of a row.
    neg_prop: usize,
    seed: u64,
    /// The column of the solved side held at 1.
    fixed_column: usize,
};

/// Adagrad's ε under the square root.
const adagrad_epsilon = 1e-6;
const tasks_per_thread = 16;
/// Negatives drawn, prefetched and used together, `pipeline_depth − 1`
/// batches apart.
const batch_len = 8;
const pipeline_depth = 3;

/// One half-epoch: one Adagrad step on every row of `x` [n_rows, f] against
/// the fixed `y` [n_other, f]; `ratings` holds the confidences c_ui (its
/// values) and column indices in range, in any order. `adagrad` [n_rows, f]
/// accumulates the squared gradients across calls. Rows with no stored value
/// are left unchanged.
pub fn halfEpoch(
    allocator: std.mem.Allocator,
    pool: *ThreadPool,
    ratings: Csr,
    x: []f32,
    y: []const f32,
    f: usize,
    adagrad: []f32,
    options: Options,
) Error!void {
    assert(f >= 1 and options.fixed_column < f);
    assert(x.len == ratings.rowCount() * f);
    assert(adagrad.len == x.len);
    assert(y.len % f == 0);
    const scratch = try allocator.alloc(f32, pool.threadCount() * f);
    defer allocator.free(scratch);
    var context: Context = .{
        .ratings = ratings,
        .x = x,
        .y = y,
        .f = f,
        .adagrad = adagrad,
        .options = options,
        .scratch = scratch,
        .n_tasks = partition.taskCount(ratings.rowCount(), pool.threadCount(), tasks_per_thread),
    };
    pool.run(context.n_tasks, &context, Context.runTask);
}

inline fn sigmoid(s: f32) f32 {
    if (s >= 0) return 1 / (1 + @exp(-s));
    const e = @exp(s);
    return e / (1 + e);
}

/// The generator of one row in one half-epoch.
pub fn rowGenerator(seed: u64, row: usize) std.Random.Xoshiro256 {
    var mix = std.Random.SplitMix64.init(seed ^ (@as(u64, row) *% 0x9E3779B97F4A7C15));
    return .init(mix.next());
}

const Context = struct {
    ratings: Csr,
    x: []f32,
    y: []const f32,
    f: usize,
    adagrad: []f32,
    options: Options,
    scratch: []f32,
    n_tasks: usize,

    fn runTask(context: *Context, task_index: usize, worker_index: usize) void {
        const rows = partition.taskRows(context.ratings.indptr, 1, context.n_tasks, task_index);
        const gradient = context.scratch[worker_index * context.f ..][0..context.f];
        for (rows.start..rows.end) |row| context.stepRow(row, gradient);
    }

    fn yRow(context: *const Context, column: i32) []const f32 {
        return context.y[@as(usize, @intCast(column)) * context.f ..][0..context.f];
    }

    fn stepRow(context: *Context, row: usize, gradient: []f32) void {
        const f = context.f;
        const indices = context.ratings.rowIndices(row);
        if (indices.len == 0) return;
        const x_row = context.x[row * f ..][0..f];
        @memset(gradient, 0);
        for (indices, context.ratings.rowValues(row)) |column, confidence| {
            const y_row = context.yRow(column);
            simd.axpy(confidence * (1 - sigmoid(simd.dot(x_row, y_row))), y_row, gradient);
        }
        context.addNegatives(row, indices.len * context.options.neg_prop, x_row, gradient);
        context.adagradStep(row, x_row, gradient);
    }

    /// gradient −= Σ σ(s_uj) y_j over `n_negatives` popularity-weighted draws,
    /// in batches through a three-stage pipeline: a batch is drawn (its entries
    /// prefetched) two batches before it is used and its rows are prefetched
    /// one batch before.
    fn addNegatives(context: *const Context, row: usize, n_negatives: usize, x_row: []const f32, gradient: []f32) void {
        const indices = context.ratings.indices;
        const nnz: u128 = indices.len;
        var prng = rowGenerator(context.options.seed, row);
        const n_batches = std.math.divCeil(usize, n_negatives, batch_len) catch unreachable;
        var ring: [pipeline_depth][batch_len]usize = undefined;
        for (0..n_batches + pipeline_depth - 1) |b| {
            if (b < n_batches) {
                for (ring[b % pipeline_depth][0..batchLen(n_negatives, b)]) |*position| {
                    position.* = @intCast((@as(u128, prng.next()) * nnz) >> 64);
                    @prefetch(&indices[position.*], .{ .rw = .read, .locality = 3, .cache = .data });
                }
            }
            if (b >= 1 and b - 1 < n_batches) {
                for (ring[(b - 1) % pipeline_depth][0..batchLen(n_negatives, b - 1)]) |position| {
                    prefetchRow(context.yRow(indices[position]));
                }
            }
            if (b >= 2) {
                for (ring[(b - 2) % pipeline_depth][0..batchLen(n_negatives, b - 2)]) |position| {
                    const y_row = context.yRow(indices[position]);
                    simd.axpy(-sigmoid(simd.dot(x_row, y_row)), y_row, gradient);
                }
            }
        }
    }

    fn batchLen(n: usize, b: usize) usize {
        return @min(batch_len, n - b * batch_len);
    }

    fn adagradStep(context: *Context, row: usize, x_row: []f32, gradient: []f32) void {
        const f = context.f;
        simd.axpy(-context.options.regularization, x_row, gradient);
        gradient[context.options.fixed_column] = 0;
        const sums = context.adagrad[row * f ..][0..f];
        const rate: simd.V = @splat(context.options.learning_rate);
        const epsilon: simd.V = @splat(adagrad_epsilon);
        var i: usize = 0;
        while (i + simd.lanes <= f) : (i += simd.lanes) {
            const g = simd.load(gradient, i);
            const sum = simd.load(sums, i) + g * g;
            simd.store(sums, i, sum);
            simd.store(x_row, i, simd.load(x_row, i) + rate / @sqrt(epsilon + sum) * g);
        }
        while (i < f) : (i += 1) {
            const g = gradient[i];
            sums[i] += g * g;
            x_row[i] += context.options.learning_rate / @sqrt(adagrad_epsilon + sums[i]) * g;
        }
    }
};

inline fn prefetchRow(values: []const f32) void {
    const cache_line_floats = 64 / @sizeOf(f32);
    var offset: usize = 0;
    while (offset < values.len) : (offset += cache_line_floats) {
        @prefetch(&values[offset], .{ .rw = .read, .locality = 3, .cache = .data });
    }
}

// ---------------------------------------------------------------------------

const testing = std.testing;

test "one row's step equals the formula, and does not depend on the thread count" {
    const allocator = testing.allocator;
    // Two rows over four columns; row 1 is empty.
    const indptr = [_]i32{ 0, 2, 2 };
    const indices = [_]i32{ 1, 3 };
    const data = [_]f32{ 2, 0.5 };
    const f = 4;
    const y = [_]f32{
        0.1,  -0.2, 0.3, 1,
        0.2,  0.1,  0.0, 1,
        -0.3, 0.2,  0.1, 1,
        0.0,  0.4,  0.2, 1,
    };
    const x_start = [_]f32{ 0.3, -0.1, 1, 0.2, 5, 5, 5, 5 };
    const options: Options = .{ .learning_rate = 0.5, .regularization = 0.1, .neg_prop = 3, .seed = 9, .fixed_column = 2 };
    var x_by_threads: [2][8]f32 = undefined;
    for ([_]usize{ 1, 3 }, &x_by_threads) |thread_count, *x| {
        var pool: ThreadPool = .{};
        pool.start(thread_count);
        defer pool.stop();
        x.* = x_start;
        var adagrad: [8]f32 = @splat(0);
        try halfEpoch(allocator, &pool, .{ .indptr = &indptr, .indices = &indices, .data = &data }, x, &y, f, &adagrad, options);
    }
    try testing.expectEqualSlices(f32, &x_by_threads[0], &x_by_threads[1]);

    // The reference: replay row 0's draws.
    var gradient: [f]f64 = @splat(0);
    const xr = x_start[0..4];
    for (indices, data) |column, c| {
        const yr = y[@as(usize, @intCast(column)) * f ..][0..f];
        var s: f64 = 0;
        for (xr, yr) |a, b| s += a * b;
        for (&gradient, yr) |*g, b| g.* += c * (1 - 1 / (1 + @exp(-s))) * b;
    }
    var prng = rowGenerator(options.seed, 0);
    for (0..2 * options.neg_prop) |_| {
        const position: usize = @intCast((@as(u128, prng.next()) * indices.len) >> 64);
        const yr = y[@as(usize, @intCast(indices[position])) * f ..][0..f];
        var s: f64 = 0;
        for (xr, yr) |a, b| s += a * b;
        for (&gradient, yr) |*g, b| g.* -= 1 / (1 + @exp(-s)) * b;
    }
    for (&gradient, xr) |*g, a| g.* -= options.regularization * a;
    gradient[2] = 0;
    for (0..f) |j| {
        const expected = xr[j] + options.learning_rate * gradient[j] / @sqrt(1e-6 + gradient[j] * gradient[j]);
        try testing.expectApproxEqAbs(expected, x_by_threads[0][j], 1e-5);
    }
    try testing.expectEqual(1, x_by_threads[0][2]);
    try testing.expectEqualSlices(f32, x_start[4..], x_by_threads[0][4..]);
}
