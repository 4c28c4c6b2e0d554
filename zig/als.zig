//! Alternating least squares for implicit feedback.
//!
//! Model (Hu, Koren & Volinsky, "Collaborative Filtering for Implicit Feedback
//! Datasets", ICDM 2008, §4): for a stored value v of row u and column i the
//! preference is p = 1 if v > 0 else 0 and the confidence is c = 1 + alpha·|v|;
//! a missing entry has p = 0, c = 1. A half-sweep fixes Y and sets every row of X
//! to the minimiser of Σ_i c_ui (p_ui − x_u·y_i)² + λ‖x_u‖², i.e. (eq. 4)
//!
//!     x_u = (YᵀY + Yᵀ(C_u − I)Y + λI)⁻¹ Yᵀ C_u p(u).
//!
//! YᵀY + λI is computed once per call; the per-row correction only touches the
//! row's nonzeros.

const std = @import("std");
const assert = std.debug.assert;
const status = @import("status.zig");
const simd = @import("simd.zig");
const linalg = @import("linalg.zig");
const partition = @import("partition.zig");
const csr = @import("csr.zig");
const ThreadPool = @import("ThreadPool.zig");
const Error = status.Error;

pub const Solver = enum(u1) {
    /// Takács, Pilászy & Tikk, "Applications of the conjugate gradient method
    /// for implicit feedback collaborative filtering", RecSys 2011, §3.2 (the
    /// same update as Python implicit's least_squares_cg).
    conjugate_gradient = 0,
    /// Build the f×f system and solve it by Cholesky factorization.
    cholesky = 1,
};

const Csr = csr.Csr;

pub const Weighting = struct {
    regularization: f32,
    alpha: f32,

    inline fn confidence(weighting: Weighting, value: f32) f32 {
        return 1 + weighting.alpha * @abs(value);
    }
};

pub const SolveOptions = struct {
    solver: Solver,
    /// Conjugate-gradient iterations per row (ignored by Cholesky).
    cg_steps: usize,
    weighting: Weighting,
};

/// A conjugate-gradient run stops once ‖r‖² falls below this.
const residual_squared_min = 1e-20;
const tasks_per_thread = 16;

/// One half-sweep: overwrites every row of `x` [n_rows, f] given `y`
/// [n_other, f]. `ratings` (with values) has a row per row of x and columns
/// that index the rows of y; column indices must be in range, their order is
/// free. Conjugate gradient starts from the `x` passed in; Cholesky ignores
/// it. Rows with no stored value get x_u = 0.
///
/// Cancellation: every task polls the caller's flag as it works
/// (status.Poll, inside a row's nonzeros and CG steps too, since one row of
/// a power-law matrix can hold most of the work), so a cancelled call
/// returns error.Cancelled within about a millisecond of work per thread,
/// leaving `x` partly updated.
pub fn solve(
    allocator: std.mem.Allocator,
    pool: *ThreadPool,
    ratings: Csr,
    x: []f32,
    y: []const f32,
    f: usize,
    options: SolveOptions,
) Error!void {
    assert(f >= 1);
    assert(x.len == ratings.rowCount() * f);
    assert(y.len % f == 0);
    assert(options.solver == .cholesky or options.cg_steps >= 1);

    const gram = try allocator.alloc(f32, f * f);
    defer allocator.free(gram);
    try linalg.gram(allocator, pool, y, f, options.weighting.regularization, gram);

    const scratch_len = switch (options.solver) {
        .conjugate_gradient => 3 * f,
        .cholesky => f * f + f,
    };
    const scratch = try allocator.alloc(f32, pool.threadCount() * scratch_len);
    defer allocator.free(scratch);

    var context: SolveContext = .{
        .cancellation = status.cancellation(),
        .ratings = ratings,
        .x = x,
        .y = y,
        .f = f,
        .gram = gram,
        .options = options,
        .scratch = scratch,
        .scratch_len = scratch_len,
        .n_tasks = partition.taskCount(ratings.rowCount(), pool.threadCount(), tasks_per_thread),
        .row_cost = switch (options.solver) {
            // Per step: f² for YᵀY·p against 2f per nonzero.
            .conjugate_gradient => @max(1, f / 2),
            // f³/6 for the factorization and f² to copy YᵀY, against f²/2 per nonzero.
            .cholesky => f / 3 + 2,
        },
    };
    pool.run(context.n_tasks, &context, SolveContext.runTask);
    try context.cancellation.check();
    try context.reportFailure();
}

const no_row = std.math.maxInt(usize);

const SolveContext = struct {
    /// The caller's flag, polled by every task.
    cancellation: status.Cancellation,
    ratings: Csr,
    x: []f32,
    y: []const f32,
    f: usize,
    /// YᵀY + λI, full symmetric f×f.
    gram: []const f32,
    options: SolveOptions,
    scratch: []f32,
    scratch_len: usize,
    n_tasks: usize,
    row_cost: u64,
    /// The first row whose system was not positive definite.
    row_not_positive_definite: std.atomic.Value(usize) = .init(no_row),
    /// The first row whose solution was not finite.
    row_not_finite: std.atomic.Value(usize) = .init(no_row),

    fn runTask(context: *SolveContext, task_index: usize, worker_index: usize) void {
        const rows = partition.taskRows(context.ratings.indptr, context.row_cost, context.n_tasks, task_index);
        const scratch = context.scratch[worker_index * context.scratch_len ..][0..context.scratch_len];
        var poll: status.Poll = .init(context.cancellation);
        for (rows.start..rows.end) |row| {
            if (poll.stop(context.f)) return;
            const x_row = context.x[row * context.f ..][0..context.f];
            const range = context.ratings.rowRange(row);
            if (range.start == range.end) {
                @memset(x_row, 0);
                continue;
            }
            switch (context.options.solver) {
                .conjugate_gradient => if (!context.solveRowConjugateGradient(row, x_row, scratch, &poll)) {
                    _ = context.row_not_finite.fetchMin(row, .monotonic);
                },
                .cholesky => context.solveRowCholesky(row, x_row, scratch, &poll),
            }
            // A stopped row is unfinished: not a failure to report.
            if (poll.stopped) return;
            if (!simd.allFinite(x_row)) _ = context.row_not_finite.fetchMin(row, .monotonic);
        }
    }

    /// Takács et al. 2011, §3.2: CG on A x = b with A = YᵀY + λI + Yᵀ(C_u − I)Y
    /// and b = Yᵀ C_u p(u), never forming A: A·v costs f² + 2f per nonzero.
    /// Returns false when the iteration met a non-finite residual or curvature
    /// (an overflowing confidence), which the caller reports instead of keeping x.
    /// Stops early, leaving x unfinished, once `poll` stops.
    fn solveRowConjugateGradient(context: *const SolveContext, row: usize, x: []f32, scratch: []f32, poll: *status.Poll) bool {
        const f = context.f;
        const r = scratch[0..f];
        const p = scratch[f..][0..f];
        const a_p = scratch[2 * f ..][0..f];
        // r = b − A x.
        simd.symv(context.gram, x, r);
        simd.scale(-1, r);
        context.addNonzeroTerms(row, x, r, .residual, poll);
        if (poll.stopped) return true;
        @memcpy(p, r);
        var residual_squared_old = simd.dot(r, r);
        if (!std.math.isFinite(residual_squared_old)) return false;
        for (0..context.options.cg_steps) |_| {
            if (residual_squared_old < residual_squared_min) break;
            if (poll.stop(f * f)) break;
            simd.symv(context.gram, p, a_p);
            context.addNonzeroTerms(row, p, a_p, .product, poll);
            if (poll.stopped) break;
            const curvature = simd.dot(p, a_p);
            if (!std.math.isFinite(curvature)) return false;
            if (!(curvature > 0)) break;
            const step = residual_squared_old / curvature;
            simd.axpy(step, p, x);
            simd.axpy(-step, a_p, r);
            const residual_squared_new = simd.dot(r, r);
            if (residual_squared_new < residual_squared_min) break;
            simd.xpby(r, residual_squared_new / residual_squared_old, p);
            residual_squared_old = residual_squared_new;
        }
        return true;
    }

    const Term = enum {
        /// out += Σ_nz (c·p − (c − 1)·(y_i·v)) y_i: the nonzeros' part of b − A v.
        residual,
        /// out += Σ_nz (c − 1)·(y_i·v) y_i: the nonzeros' part of A v.
        product,
    };

    /// The factor rows of nonzeros [position, position + batch_len) of a row,
    /// padded to four by repeating the last (its weight is then zero), and a
    /// prefetch of the next four: rows of Y are gathered at random.
    fn gatherRows(context: *const SolveContext, indices: []const i32, position: usize, batch_len: usize) [4][]const f32 {
        assert(batch_len >= 1 and batch_len <= 4);
        const f = context.f;
        var ys: [4][]const f32 = undefined;
        for (0..4) |j| {
            const nz = position + @min(j, batch_len - 1);
            ys[j] = context.y[@as(usize, @intCast(indices[nz])) * f ..][0..f];
        }
        prefetchRows(context.y, f, indices, position + 4);
        return ys;
    }

    /// Adds the row's nonzero terms into `out`, four nonzeros per pass over
    /// `out`; stops early (a partial sum) once `poll` stops.
    fn addNonzeroTerms(context: *const SolveContext, row: usize, v: []const f32, out: []f32, comptime term: Term, poll: *status.Poll) void {
        const indices = context.ratings.rowIndices(row);
        const data = context.ratings.rowValues(row);
        var position: usize = 0;
        while (position < indices.len) {
            const batch_len = @min(4, indices.len - position);
            if (poll.stop(2 * context.f * batch_len)) return;
            const ys = context.gatherRows(indices, position, batch_len);
            var weights: [4]f32 = @splat(0);
            for (0..batch_len) |j| {
                const value = data[position + j];
                const confidence = context.options.weighting.confidence(value);
                const projection = simd.dot(ys[j], v);
                weights[j] = switch (term) {
                    .residual => (if (value > 0) confidence else 0) - (confidence - 1) * projection,
                    .product => (confidence - 1) * projection,
                };
            }
            simd.axpy4(weights, ys, out);
            position += batch_len;
        }
    }

    /// Builds A = YᵀY + λI + Σ_nz (c − 1) y_i y_iᵀ and b = Σ_nz c·p y_i, then
    /// solves A x = b by Cholesky factorization. Returns early, leaving x
    /// unfinished, once `poll` stops.
    fn solveRowCholesky(context: *SolveContext, row: usize, x: []f32, scratch: []f32, poll: *status.Poll) void {
        const f = context.f;
        const a = scratch[0 .. f * f];
        @memcpy(a, context.gram);
        @memset(x, 0);
        const indices = context.ratings.rowIndices(row);
        const data = context.ratings.rowValues(row);
        var position: usize = 0;
        while (position < indices.len) {
            const batch_len = @min(4, indices.len - position);
            if (poll.stop(f * f * batch_len / 2)) return;
            const ys = context.gatherRows(indices, position, batch_len);
            var weights: [4]f32 = @splat(0);
            var targets: [4]f32 = @splat(0);
            for (0..batch_len) |j| {
                const value = data[position + j];
                const confidence = context.options.weighting.confidence(value);
                weights[j] = confidence - 1;
                if (value > 0) targets[j] = confidence;
            }
            simd.rankUpdateUpper(a, f, weights, ys);
            simd.axpy4(targets, ys, x);
            position += batch_len;
        }
        if (poll.stop(f * f * f / 6)) return;
        linalg.choleskyFactor(a, f) catch {
            _ = context.row_not_positive_definite.fetchMin(row, .monotonic);
            @memset(x, 0);
            return;
        };
        linalg.choleskySolve(a, f, x);
    }

    fn reportFailure(context: *const SolveContext) Error!void {
        const row_npd = context.row_not_positive_definite.load(.monotonic);
        if (row_npd != no_row) {
            return status.fail(.numerical, "The system of row {d} is not positive definite (regularization = {d}); increase regularization", .{
                row_npd, context.options.weighting.regularization,
            });
        }
        const row_nan = context.row_not_finite.load(.monotonic);
        if (row_nan != no_row) {
            return status.fail(.numerical, "The solve of row {d} produced a value that is not finite; the factors or the data may be too large", .{row_nan});
        }
    }
};

/// Asks the cache for the factor rows of nonzeros [first, first + 4): rows of
/// Y are gathered at random, so their loads would otherwise stall.
inline fn prefetchRows(y: []const f32, f: usize, indices: []const i32, first: usize) void {
    const cache_line_floats = 64 / @sizeOf(f32);
    if (first >= indices.len) return;
    for (first..@min(first + 4, indices.len)) |nz| {
        const row = y[@as(usize, @intCast(indices[nz])) * f ..][0..f];
        var offset: usize = 0;
        while (offset < f) : (offset += cache_line_floats) {
            @prefetch(row[offset..].ptr, .{ .rw = .read, .locality = 3, .cache = .data });
        }
    }
}

pub const Loss = struct {
    /// Σ_{u,i} c_ui (p_ui − x_u·y_i)² + λ(‖X‖² + ‖Y‖²).
    objective: f64,
    /// Σ_{u,i} c_ui over every pair.
    confidence_total: f64,
};

/// The loss is summed per task in f64 over this many tasks at most, and the
/// tasks' sums are added in order: the result does not depend on the threads.
const loss_task_count_max = 256;

/// The ALS objective (Hu et al. 2008, eq. 3) over every (row, column) pair,
/// in O(nnz·f + n_rows·f²): Σ_{u,i} s_ui² = Σ_u x_uᵀ(YᵀY)x_u over all pairs, then
/// each nonzero replaces its s² by c(p − s)². Polls the caller's flag as
/// `solve` does and fails with error.Cancelled when it was raised.
pub fn loss(
    allocator: std.mem.Allocator,
    pool: *ThreadPool,
    ratings: Csr,
    x: []const f32,
    y: []const f32,
    f: usize,
    weighting: Weighting,
) Error!Loss {
    assert(f >= 1);
    assert(x.len == ratings.rowCount() * f);
    assert(y.len % f == 0);
    const gram = try allocator.alloc(f32, f * f);
    defer allocator.free(gram);
    try linalg.gram(allocator, pool, y, f, 0, gram);

    const n_tasks = @min(loss_task_count_max, @max(ratings.rowCount(), 1));
    const sums = try allocator.alloc(LossSums, n_tasks);
    defer allocator.free(sums);
    const scratch = try allocator.alloc(f32, pool.threadCount() * f);
    defer allocator.free(scratch);

    var context: LossContext = .{
        .ratings = ratings,
        .x = x,
        .y = y,
        .f = f,
        .gram = gram,
        .weighting = weighting,
        .sums = sums,
        .scratch = scratch,
        .cancellation = status.cancellation(),
    };
    pool.run(n_tasks, &context, LossContext.runTask);
    try context.cancellation.check();

    var total: LossSums = .{};
    for (sums) |task_sums| total.add(task_sums);
    var norm_y_squared: f64 = 0;
    for (0..f) |i| norm_y_squared += gram[i * f + i];
    const n_pairs = @as(f64, @floatFromInt(ratings.rowCount())) * @as(f64, @floatFromInt(y.len / f));
    return .{
        .objective = total.weighted_error + weighting.regularization * (total.norm_x_squared + norm_y_squared),
        .confidence_total = n_pairs + total.confidence_extra,
    };
}

const LossSums = struct {
    /// Σ c(p − s)² over every pair of the task's rows.
    weighted_error: f64 = 0,
    /// Σ_nz (c − 1).
    confidence_extra: f64 = 0,
    norm_x_squared: f64 = 0,

    fn add(sums: *LossSums, other: LossSums) void {
        sums.weighted_error += other.weighted_error;
        sums.confidence_extra += other.confidence_extra;
        sums.norm_x_squared += other.norm_x_squared;
    }
};

const LossContext = struct {
    ratings: Csr,
    x: []const f32,
    y: []const f32,
    f: usize,
    /// YᵀY without a ridge.
    gram: []const f32,
    weighting: Weighting,
    sums: []LossSums,
    scratch: []f32,
    cancellation: status.Cancellation,

    fn runTask(context: *LossContext, task_index: usize, worker_index: usize) void {
        const f = context.f;
        const gram_x = context.scratch[worker_index * f ..][0..f];
        const rows = partition.taskRows(context.ratings.indptr, f, context.sums.len, task_index);
        var sums: LossSums = .{};
        const data = context.ratings.values();
        var poll: status.Poll = .init(context.cancellation);
        for (rows.start..rows.end) |row| {
            if (poll.stop(f * f)) return;
            const x_row = context.x[row * f ..][0..f];
            simd.symv(context.gram, x_row, gram_x);
            sums.weighted_error += simd.dot(x_row, gram_x);
            sums.norm_x_squared += simd.dot(x_row, x_row);
            const range = context.ratings.rowRange(row);
            for (range.start..range.end) |nz| {
                if ((nz - range.start) % 4 == 0) {
                    if (poll.stop(4 * f)) return;
                    prefetchRows(context.y, f, context.ratings.indices[range.start..range.end], nz - range.start + 4);
                }
                const column: usize = @intCast(context.ratings.indices[nz]);
                const value = data[nz];
                const score: f64 = simd.dot(x_row, context.y[column * f ..][0..f]);
                const confidence: f64 = context.weighting.confidence(value);
                const preference: f64 = if (value > 0) 1 else 0;
                sums.weighted_error += confidence * (preference - score) * (preference - score) - score * score;
                sums.confidence_extra += confidence - 1;
            }
        }
        context.sums[task_index] = sums;
    }
};

// ---------------------------------------------------------------------------

const testing = std.testing;
const helpers = @import("testing.zig");

const TestProblem = struct {
    ratings: helpers.Matrix,
    x: []f32,
    y: []f32,
    n_rows: usize,
    n_other: usize,
    f: usize,

    /// A random problem with about `density` of the entries stored, values in
    /// [-1, 3) (some negative: preference 0 with confidence > 1) and one empty row.
    fn init(allocator: std.mem.Allocator, n_rows: usize, n_other: usize, f: usize, density: f32, seed: u64) !TestProblem {
        var prng = std.Random.DefaultPrng.init(seed);
        const random = prng.random();
        var ratings = try helpers.randomCsr(allocator, random, .{
            .n_rows = n_rows,
            .n_cols = n_other,
            .density = density,
            .values = .{ .uniform = .{ .min = -1, .max = 3 } },
            .empty_row = 1,
        });
        errdefer ratings.deinit(allocator);
        const x = try allocator.alloc(f32, n_rows * f);
        errdefer allocator.free(x);
        helpers.fillUniform(random, x, -0.1, 0.1);
        const y = try allocator.alloc(f32, n_other * f);
        helpers.fillUniform(random, y, -0.1, 0.1);
        return .{ .ratings = ratings, .x = x, .y = y, .n_rows = n_rows, .n_other = n_other, .f = f };
    }

    fn deinit(problem: *TestProblem, allocator: std.mem.Allocator) void {
        problem.ratings.deinit(allocator);
        allocator.free(problem.x);
        allocator.free(problem.y);
    }
};

test "conjugate gradient with many steps converges to the Cholesky solution" {
    const allocator = testing.allocator;
    var problem: TestProblem = try .init(allocator, 23, 41, 12, 0.3, 5);
    defer problem.deinit(allocator);
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    const weighting: Weighting = .{ .regularization = 0.1, .alpha = 2 };

    const x_cholesky = try allocator.dupe(f32, problem.x);
    defer allocator.free(x_cholesky);
    try solve(allocator, &pool, problem.ratings.view(), x_cholesky, problem.y, problem.f, .{ .solver = .cholesky, .cg_steps = 0, .weighting = weighting });
    const x_cg = try allocator.dupe(f32, problem.x);
    defer allocator.free(x_cg);
    try solve(allocator, &pool, problem.ratings.view(), x_cg, problem.y, problem.f, .{ .solver = .conjugate_gradient, .cg_steps = 100, .weighting = weighting });

    for (0..problem.n_rows) |row| {
        const a = x_cholesky[row * problem.f ..][0..problem.f];
        const b = x_cg[row * problem.f ..][0..problem.f];
        if (row == 1) {
            for (a, b) |ai, bi| try testing.expect(ai == 0 and bi == 0);
            continue;
        }
        var difference_squared: f32 = 0;
        for (a, b) |ai, bi| difference_squared += (ai - bi) * (ai - bi);
        const relative_error = @sqrt(difference_squared / simd.dot(a, a));
        try testing.expect(relative_error < 1e-4);
    }
}

test "the Cholesky solution satisfies the normal equations (eq. 4)" {
    const allocator = testing.allocator;
    var problem: TestProblem = try .init(allocator, 5, 9, 4, 0.5, 9);
    defer problem.deinit(allocator);
    var pool: ThreadPool = .{};
    pool.start(1);
    defer pool.stop();
    const weighting: Weighting = .{ .regularization = 0.3, .alpha = 1.5 };
    try solve(allocator, &pool, problem.ratings.view(), problem.x, problem.y, problem.f, .{ .solver = .cholesky, .cg_steps = 0, .weighting = weighting });
    const f = problem.f;
    for (0..problem.n_rows) |row| {
        if (row == 1) continue;
        const x_row = problem.x[row * f ..][0..f];
        // Gradient: Σ_i c (x·y_i − p) y_i + λx must vanish.
        var gradient: [4]f64 = @splat(0);
        for (0..problem.n_other) |column| {
            const y_row = problem.y[column * f ..][0..f];
            const value = problem.ratings.at(row, column);
            const confidence: f64 = if (value) |v| 1 + weighting.alpha * @abs(v) else 1;
            const preference: f64 = if (value) |v| (if (v > 0) 1 else 0) else 0;
            const residual = simd.dot(x_row, y_row) - preference;
            for (&gradient, y_row) |*g, yi| g.* += confidence * residual * yi;
        }
        for (gradient, x_row) |g, xi| try testing.expectApproxEqAbs(0, g + weighting.regularization * xi, 1e-4);
    }
}

test "loss equals a brute-force sum over every pair" {
    const allocator = testing.allocator;
    var problem: TestProblem = try .init(allocator, 17, 13, 5, 0.4, 21);
    defer problem.deinit(allocator);
    var pool: ThreadPool = .{};
    pool.start(3);
    defer pool.stop();
    const weighting: Weighting = .{ .regularization = 0.2, .alpha = 3 };
    const got = try loss(allocator, &pool, problem.ratings.view(), problem.x, problem.y, problem.f, weighting);

    const f = problem.f;
    var objective: f64 = 0;
    var confidence_total: f64 = 0;
    for (0..problem.n_rows) |row| for (0..problem.n_other) |column| {
        const value = problem.ratings.at(row, column);
        const confidence: f64 = if (value) |v| 1 + weighting.alpha * @abs(v) else 1;
        const preference: f64 = if (value) |v| (if (v > 0) 1 else 0) else 0;
        var score: f64 = 0;
        for (0..f) |d| score += @as(f64, problem.x[row * f + d]) * problem.y[column * f + d];
        objective += confidence * (preference - score) * (preference - score);
        confidence_total += confidence;
    };
    var norms: f64 = 0;
    for (problem.x) |v| norms += @as(f64, v) * v;
    for (problem.y) |v| norms += @as(f64, v) * v;
    objective += weighting.regularization * norms;
    try testing.expectApproxEqRel(objective, got.objective, 1e-5);
    try testing.expectApproxEqRel(confidence_total, got.confidence_total, 1e-6);
}

test "a cancelled solve or loss does no row and fails with error.Cancelled" {
    const allocator = testing.allocator;
    var problem: TestProblem = try .init(allocator, 40, 30, 6, 0.3, 4);
    defer problem.deinit(allocator);
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    const weighting: Weighting = .{ .regularization = 0.1, .alpha = 2 };
    const before = try allocator.dupe(f32, problem.x);
    defer allocator.free(before);
    var call: helpers.CallForTest = undefined;
    call.begin(true);
    defer call.end();
    for ([_]Solver{ .conjugate_gradient, .cholesky }) |solver| {
        try testing.expectError(error.Cancelled, solve(allocator, &pool, problem.ratings.view(), problem.x, problem.y, problem.f, .{ .solver = solver, .cg_steps = 3, .weighting = weighting }));
        try testing.expectEqualSlices(f32, before, problem.x);
    }
    try testing.expectError(error.Cancelled, loss(allocator, &pool, problem.ratings.view(), problem.x, problem.y, problem.f, weighting));
    try testing.expectEqualStrings("The call was cancelled by its caller (an AbortSignal fired)", call.message());
}

test "a Cholesky solve stops inside a long row when the flag rises during the call" {
    const allocator = testing.allocator;
    // One row of 40000 nonzeros at f = 512: ~5G multiply-adds, far longer
    // than the 20 ms after which the flag rises.
    const f = 512;
    const n_other = 40_000;
    var problem: TestProblem = try .init(allocator, 2, n_other, f, 1, 6);
    defer problem.deinit(allocator);
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    var call: helpers.CallForTest = undefined;
    call.begin(false);
    defer call.end();
    const raiser = try call.raiseLater(20);
    const started = helpers.monotonicMs();
    const result = solve(allocator, &pool, problem.ratings.view(), problem.x, problem.y, f, .{ .solver = .cholesky, .cg_steps = 0, .weighting = .{ .regularization = 0.1, .alpha = 2 } });
    const elapsed_ms = helpers.monotonicMs() - started;
    raiser.join();
    try testing.expectError(error.Cancelled, result);
    try testing.expect(elapsed_ms < 1000);
}
