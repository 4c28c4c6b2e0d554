//! Logistic matrix factorization, one alternating half-epoch at a time, over
//! the shared SGD engine (sgd/).
//!
//! Model (Johnson, "Logistic Matrix Factorization for Implicit Feedback Data",
//! NIPS 2014 workshop on distributed machine learning, §2, eq. 1): the
//! probability that user u interacts with item i is
//! p(l_ui | x_u, y_i, β) = σ(x_u·y_i + β_u + β_i), and a stored value r_ui
//! weighs its positive observation by c_ui = r_ui (α r_ui in the paper; the
//! caller scales the data). A half-epoch fixes one side and takes one Adagrad
//! step (§3; Duchi, Hazan & Singer, JMLR 2011, eq. 1 with diagonal G) on every
//! row x_u of the other along the gradient of the log posterior (eq. 3, 4).
//! The engine's optimisers descend, so the step is taken on the loss's
//! gradient, the negated ascent direction of eq. 4:
//!
//!     d_u = −Σ_{i ∈ P(u)} c_ui σ(−s_ui) y_i + Σ_{j ∈ N(u)} σ(s_uj) y_j + λ x_u,
//!     G_u += d_u²,  x_u −= η d_u / √(G_u + 10⁻⁶)    (sgd/optimizers.zig adagrad),
//!
//! with s_ui = x_u·y_i and σ(−s) = 1 − σ(s) (sgd/losses.zig sigmoid). P(u)
//! are the row's stored columns and N(u) is a sample of
//! n_u = min(negatives_max, neg_prop·|P(u)|) columns drawn in proportion to
//! their popularity (uniform stored entries of the whole matrix,
//! sgd/negatives.zig popular), standing in for eq. 4's sum over every
//! unobserved pair. Python implicit draws min(f, neg_prop·|P(u)|) with f the
//! column count (factors + 2): pass negatives_max = f for its rule, or
//! `negatives_unlimited` for the paper's neg_prop·|P(u)|.
//!
//! Layout, as implicit: biases live in two extra columns. A user row is
//! [factors, 1, β_u] and an item row [factors, β_i, 1], so x_u·y_i is the whole
//! logit. The column held at 1 on the side being solved (`fixed_column`) has
//! d = 0, so neither it nor its Adagrad sum ever changes.
//!
//! Threads: the rows are cut into chunks of about equal work (partition.zig)
//! whose number depends only on the matrix and the options (sgd/hogwild.zig
//! chunkCount); the driver (sgd/hogwild.zig run) runs the chunks on the pool
//! and chunk c steps its rows in order, drawing from random.stream(seed, c).
//! Rows are independent given the fixed side (a step writes only its own x_u
//! and G_u), so there are no Hogwild races and the result does not depend on
//! the thread count: any run with the same seed, matrix and options is
//! bit-for-bit the same.
//!
//! Cancellation: besides the driver's check between chunks, a chunk polls
//! the caller's flag as it works (status.Poll), inside a row's negatives
//! too: under the paper's uncapped rule one row of a power-law matrix can
//! draw billions. A cancelled call stops within about a millisecond of work
//! per thread, leaving the row it was on unstepped.
//!
//! Memory: the rows y_i a step reads are scattered, so they are prefetched
//! ahead of their use: a positive's `positive_prefetch_distance` entries
//! before, the negatives through a three-stage pipeline (`addNegatives`).
//! On the lastfm-360K-sized bench matrix (f = 32, one thread, implicit's
//! cap) an epoch took 18.7 s drawing and using one negative at a time, 10.8 s
//! with the negatives' pipeline and 6.5 s with the positives' prefetch too.

const std = @import("std");
const assert = std.debug.assert;
const status = @import("status.zig");
const simd = @import("simd.zig");
const partition = @import("partition.zig");
const csr = @import("csr.zig");
const ThreadPool = @import("ThreadPool.zig");
const random = @import("sgd/random.zig");
const negatives = @import("sgd/negatives.zig");
const losses = @import("sgd/losses.zig");
const optimizers = @import("sgd/optimizers.zig");
const hogwild = @import("sgd/hogwild.zig");
const pipeline = @import("sgd/pipeline.zig");
const Error = status.Error;

const Csr = csr.Csr;
const Prng = random.Prng;

pub const Options = struct {
    learning_rate: f32,
    regularization: f32,
    /// Negatives per stored entry of a row.
    neg_prop: usize,
    /// The most negatives one row step draws (`negatives_unlimited`: no cap).
    negatives_max: usize,
    seed: u64,
    /// The column of the solved side held at 1.
    fixed_column: usize,
};

/// `negatives_max` for the paper's rule: neg_prop·|P(u)| negatives, uncapped.
pub const negatives_unlimited = std.math.maxInt(usize);

/// Adagrad's ε under the square root.
const adagrad_epsilon = 1e-6;
/// A chunk holds at least this much work (dot products, see `workModel`).
const chunk_work_min = 4096;
/// Negatives drawn, prefetched and used together, `pipeline_depth − 1`
/// batches apart.
const batch_len = 8;
const pipeline_depth = 3;
/// A positive's row is prefetched this many positives before it is used.
const positive_prefetch_distance = 4;

/// n_u, the negatives a row with `row_len` stored entries draws in one step.
pub fn negativeCount(options: Options, row_len: usize) usize {
    return @min(options.negatives_max, options.neg_prop *| row_len);
}

/// The work of a half-epoch in dot products, as cost(rows 0..r) =
/// nnz_weight·indptr[r] + row_cost·r: uncapped, a stored entry costs its own
/// dot and its neg_prop negatives; capped, it costs its dot and a row its
/// negatives (counted at min(negatives_max, neg_prop), a one-entry row's).
const WorkModel = struct {
    nnz_weight: u64,
    /// 0 whenever nnz_weight > 1, so partition.taskRows (which weighs a
    /// nonzero 1) splits the same work.
    row_cost: u64,
};

fn workModel(options: Options) WorkModel {
    if (options.negatives_max == negatives_unlimited) {
        return .{ .nnz_weight = 1 +| @as(u64, options.neg_prop), .row_cost = 0 };
    }
    return .{ .nnz_weight = 1, .row_cost = @min(options.negatives_max, options.neg_prop) };
}

/// Chunks of a half-epoch over `ratings`: a function of the matrix and the
/// options only, never of the thread count.
pub fn chunkCount(ratings: Csr, options: Options) usize {
    const model = workModel(options);
    const work = @as(u64, ratings.nnz()) *| model.nnz_weight +| @as(u64, ratings.rowCount()) *| model.row_cost;
    return hogwild.chunkCount(work, chunk_work_min);
}

/// The rows [start, end) of chunk `chunk_index` of `n_chunks`: consecutive
/// runs of about equal work.
pub fn chunkRows(ratings: Csr, options: Options, n_chunks: usize, chunk_index: usize) partition.Rows {
    const model = workModel(options);
    assert(model.row_cost == 0 or model.nnz_weight == 1);
    return partition.taskRows(ratings.indptr, model.row_cost, n_chunks, chunk_index);
}

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
        .n_chunks = chunkCount(ratings, options),
        .cancellation = status.cancellation(),
    };
    hogwild.run(pool, context.n_chunks, options.seed, false, &context, Context.runChunk);
}

const Context = struct {
    ratings: Csr,
    x: []f32,
    y: []const f32,
    f: usize,
    adagrad: []f32,
    options: Options,
    scratch: []f32,
    n_chunks: usize,
    cancellation: status.Cancellation,

    fn runChunk(context: *Context, chunk_index: usize, worker_index: usize, prng: *Prng) void {
        const rows = chunkRows(context.ratings, context.options, context.n_chunks, chunk_index);
        const gradient = context.scratch[worker_index * context.f ..][0..context.f];
        var poll: status.Poll = .init(context.cancellation);
        for (rows.start..rows.end) |row| {
            context.stepRow(row, gradient, prng, &poll);
            if (poll.stopped) return;
        }
    }

    fn yRow(context: *const Context, column: i32) []const f32 {
        return context.y[@as(usize, @intCast(column)) * context.f ..][0..context.f];
    }

    /// The step of the module comment on row `row`; no step once `poll` stops.
    fn stepRow(context: *Context, row: usize, gradient: []f32, prng: *Prng, poll: *status.Poll) void {
        const f = context.f;
        const indices = context.ratings.rowIndices(row);
        if (poll.stop((1 + 2 * indices.len) * f)) return;
        if (indices.len == 0) return;
        const x_row = context.x[row * f ..][0..f];
        @memset(gradient, 0);
        context.addPositives(indices, context.ratings.rowValues(row), x_row, gradient);
        context.addNegatives(prng, negativeCount(context.options, indices.len), x_row, gradient, poll);
        if (poll.stopped) return;
        simd.axpy(context.options.regularization, x_row, gradient);
        gradient[context.options.fixed_column] = 0;
        optimizers.adagrad(x_row, context.adagrad[row * f ..][0..f], gradient, context.options.learning_rate, adagrad_epsilon);
    }

    /// gradient −= Σ c_ui σ(−s_ui) y_i over the row's stored entries, each
    /// y_i prefetched `positive_prefetch_distance` entries before its use.
    fn addPositives(context: *const Context, indices: []const i32, confidences: []const f32, x_row: []const f32, gradient: []f32) void {
        for (indices[0..@min(positive_prefetch_distance, indices.len)]) |column| prefetchRow(context.yRow(column));
        for (indices, confidences, 0..) |column, confidence, k| {
            if (k + positive_prefetch_distance < indices.len) {
                prefetchRow(context.yRow(indices[k + positive_prefetch_distance]));
            }
            const y_row = context.yRow(column);
            simd.axpy(-confidence * losses.sigmoid(-simd.dot(x_row, y_row)), y_row, gradient);
        }
    }

    /// gradient += Σ σ(s_uj) y_j over `n_negatives` popularity-weighted draws,
    /// in batches through a three-stage pipeline: a batch is drawn (its entries
    /// prefetched) two batches before it is used and its rows are prefetched
    /// one batch before. Stops between batches once `poll` stops.
    fn addNegatives(context: *const Context, prng: *Prng, n_negatives: usize, x_row: []const f32, gradient: []f32, poll: *status.Poll) void {
        const ratings = context.ratings;
        const n_batches = std.math.divCeil(usize, n_negatives, batch_len) catch unreachable;
        var ring: [pipeline_depth][batch_len]usize = undefined;
        for (0..n_batches + pipeline_depth - 1) |b| {
            if (poll.stop(2 * batch_len * context.f)) return;
            if (b < n_batches) {
                for (ring[b % pipeline_depth][0..batchLen(n_negatives, b)]) |*position| {
                    position.* = negatives.popularPosition(prng, ratings);
                    pipeline.prefetch(&ratings.indices[position.*]);
                }
            }
            if (b >= 1 and b - 1 < n_batches) {
                for (ring[(b - 1) % pipeline_depth][0..batchLen(n_negatives, b - 1)]) |position| {
                    prefetchRow(context.yRow(ratings.indices[position]));
                }
            }
            if (b >= 2) {
                for (ring[(b - 2) % pipeline_depth][0..batchLen(n_negatives, b - 2)]) |position| {
                    const y_row = context.yRow(ratings.indices[position]);
                    simd.axpy(losses.sigmoid(simd.dot(x_row, y_row)), y_row, gradient);
                }
            }
        }
    }

    fn batchLen(n: usize, b: usize) usize {
        return @min(batch_len, n - b * batch_len);
    }
};

const prefetchRow = pipeline.prefetchSlice;

// ---------------------------------------------------------------------------

const testing = std.testing;
const helpers = @import("testing.zig");

/// Row `row`'s step replayed in f64 from the formula of the module comment,
/// drawing its negatives from `prng` as a chunk does.
fn referenceStep(
    comptime f: usize,
    indptr: []const i32,
    indices: []const i32,
    data: []const f32,
    y: []const f32,
    x_start: []const f32,
    row: usize,
    options: Options,
    prng: *Prng,
) [f]f64 {
    const start: usize = @intCast(indptr[row]);
    const end: usize = @intCast(indptr[row + 1]);
    const xr = x_start[row * f ..][0..f];
    var d: [f]f64 = @splat(0);
    const Dot = struct {
        fn of(a: []const f32, b: []const f32) f64 {
            var s: f64 = 0;
            for (a, b) |p, q| s += @as(f64, p) * q;
            return s;
        }
    };
    for (indices[start..end], data[start..end]) |column, c| {
        const yr = y[@as(usize, @intCast(column)) * f ..][0..f];
        const s = Dot.of(xr, yr);
        for (&d, yr) |*g, b| g.* -= c * (1 - 1 / (1 + @exp(-s))) * b;
    }
    for (0..@min(options.negatives_max, options.neg_prop * (end - start))) |_| {
        const position = random.below(prng, indices.len);
        const yr = y[@as(usize, @intCast(indices[position])) * f ..][0..f];
        const s = Dot.of(xr, yr);
        for (&d, yr) |*g, b| g.* += 1 / (1 + @exp(-s)) * b;
    }
    for (&d, xr) |*g, a| g.* += options.regularization * a;
    d[options.fixed_column] = 0;
    var x_next: [f]f64 = undefined;
    for (&x_next, xr, d) |*next, a, g| next.* = a - options.learning_rate * g / @sqrt(1e-6 + g * g);
    return x_next;
}

test "each row's step equals the formula under either negative rule, on any thread count" {
    const allocator = testing.allocator;
    // Three rows over four columns; row 1 is empty.
    const indptr = [_]i32{ 0, 2, 2, 5 };
    const indices = [_]i32{ 1, 3, 0, 1, 2 };
    const data = [_]f32{ 2, 0.5, 1, 3, 0.25 };
    const f = 4;
    const y = [_]f32{
        0.1,  -0.2, 0.3, 1,
        0.2,  0.1,  0.0, 1,
        -0.3, 0.2,  0.1, 1,
        0.0,  0.4,  0.2, 1,
    };
    const x_start = [_]f32{ 0.3, -0.1, 1, 0.2, 5, 5, 5, 5, -0.2, 0.4, 1, 0.1 };
    const ratings: Csr = .{ .indptr = &indptr, .indices = &indices, .data = &data };
    // 3 negatives per entry: 6 and 9 uncapped, 5 and 5 under a cap of 5.
    for ([_]usize{ negatives_unlimited, 5 }) |negatives_max| {
        const options: Options = .{ .learning_rate = 0.5, .regularization = 0.1, .neg_prop = 3, .negatives_max = negatives_max, .seed = 9, .fixed_column = 2 };
        try testing.expectEqual(1, chunkCount(ratings, options));
        var x_by_threads: [2][12]f32 = undefined;
        for ([_]usize{ 1, 3 }, &x_by_threads) |thread_count, *x| {
            var pool: ThreadPool = .{};
            pool.start(thread_count);
            defer pool.stop();
            x.* = x_start;
            var adagrad: [12]f32 = @splat(0);
            try halfEpoch(allocator, &pool, ratings, x, &y, f, &adagrad, options);
            for (0..3) |row| try testing.expectEqual(0, adagrad[row * f + 2]);
        }
        try testing.expectEqualSlices(f32, &x_by_threads[0], &x_by_threads[1]);

        // The one chunk steps rows 0 and 2 in order from the chunk's stream.
        var prng = random.stream(options.seed, 0);
        for ([_]usize{ 0, 2 }) |row| {
            const expected = referenceStep(f, &indptr, &indices, &data, &y, &x_start, row, options, &prng);
            for (0..f) |j| try testing.expectApproxEqAbs(expected[j], x_by_threads[0][row * f + j], 1e-5);
            try testing.expectEqual(1, x_by_threads[0][row * f + 2]);
        }
        try testing.expectEqualSlices(f32, x_start[4..8], x_by_threads[0][4..8]);
    }
}

test "the negative count follows the cap" {
    const base: Options = .{ .learning_rate = 1, .regularization = 0, .neg_prop = 30, .negatives_max = 32, .seed = 0, .fixed_column = 0 };
    try testing.expectEqual(30, negativeCount(base, 1));
    try testing.expectEqual(32, negativeCount(base, 5));
    var uncapped = base;
    uncapped.negatives_max = negatives_unlimited;
    try testing.expectEqual(150, negativeCount(uncapped, 5));
    uncapped.neg_prop = std.math.maxInt(usize);
    try testing.expectEqual(negatives_unlimited, negativeCount(uncapped, 5));
}

test "a half-epoch of many chunks gives the same factors on 1, 2 and 5 threads" {
    const allocator = testing.allocator;
    var source = std.Random.DefaultPrng.init(21);
    var matrix = try helpers.randomCsr(allocator, source.random(), .{
        .n_rows = 3000,
        .n_cols = 200,
        .density = 0.03,
        .values = .{ .uniform = .{ .min = 0.5, .max = 3 } },
        .empty_row = 17,
    });
    defer matrix.deinit(allocator);
    const f = 6;
    const y = try allocator.alloc(f32, 200 * f);
    defer allocator.free(y);
    helpers.fillUniform(source.random(), y, -0.5, 0.5);
    const x_start = try allocator.alloc(f32, 3000 * f);
    defer allocator.free(x_start);
    helpers.fillUniform(source.random(), x_start, -0.5, 0.5);
    for (0..3000) |row| x_start[row * f + 4] = 1;
    const options: Options = .{ .learning_rate = 1, .regularization = 0.6, .neg_prop = 30, .negatives_max = f, .seed = 4, .fixed_column = 4 };
    const n_chunks = chunkCount(matrix.view(), options);
    try testing.expect(n_chunks > 4);
    var covered: usize = 0;
    for (0..n_chunks) |c| {
        const rows = chunkRows(matrix.view(), options, n_chunks, c);
        try testing.expectEqual(covered, rows.start);
        covered = rows.end;
    }
    try testing.expectEqual(3000, covered);

    var first: ?[]f32 = null;
    defer if (first) |x| allocator.free(x);
    for ([_]usize{ 1, 2, 5 }) |thread_count| {
        var pool: ThreadPool = .{};
        pool.start(thread_count);
        defer pool.stop();
        const x = try allocator.dupe(f32, x_start);
        const adagrad = try allocator.alloc(f32, x.len);
        defer allocator.free(adagrad);
        @memset(adagrad, 0);
        try halfEpoch(allocator, &pool, matrix.view(), x, y, f, adagrad, options);
        if (first) |expected| {
            defer allocator.free(x);
            try testing.expectEqualSlices(f32, expected, x);
        } else {
            first = x;
            try testing.expectEqualSlices(f32, x_start[17 * f ..][0..f], x[17 * f ..][0..f]);
            for (0..3000) |row| try testing.expectEqual(1, x[row * f + 4]);
        }
    }
}

test "an uncapped row stops inside its negatives when the flag rises during the call" {
    const allocator = testing.allocator;
    // Row 0 draws 3 · 2^29 negatives: minutes of work, stopped 20 ms in.
    const indptr = [_]i32{ 0, 3, 4 };
    const indices = [_]i32{ 0, 1, 2, 1 };
    const data = [_]f32{ 1, 1, 1, 1 };
    const f = 4;
    const y: [3 * f]f32 = @splat(0.1);
    var x: [2 * f]f32 = @splat(0.2);
    const x_before = x;
    var adagrad: [2 * f]f32 = @splat(0);
    const ratings: Csr = .{ .indptr = &indptr, .indices = &indices, .data = &data };
    const options: Options = .{ .learning_rate = 0.5, .regularization = 0.1, .neg_prop = 1 << 29, .negatives_max = negatives_unlimited, .seed = 1, .fixed_column = 2 };
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    var call: helpers.CallForTest = undefined;
    call.begin(false);
    defer call.end();
    const raiser = try call.raiseLater(20);
    const started = helpers.monotonicMs();
    try halfEpoch(allocator, &pool, ratings, &x, &y, f, &adagrad, options);
    const elapsed_ms = helpers.monotonicMs() - started;
    raiser.join();
    try testing.expectError(error.Cancelled, status.cancellation().check());
    try testing.expect(elapsed_ms < 1000);
    // The stopped row took no step.
    try testing.expectEqualSlices(f32, x_before[0..f], x[0..f]);
}
