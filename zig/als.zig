//! Alternating least squares for implicit feedback.
//!
//! Model (Hu, Koren & Volinsky, "Collaborative Filtering for Implicit Feedback
//! Datasets", ICDM 2008, §4): for a stored value v of row u and column i the
//! preference is p = 1 if v > 0 else 0 and the confidence c is, by the
//! caller's `Confidence` rule, alpha·|v| (Python implicit's: the stored value
//! scaled by alpha is the confidence) or 1 + alpha·|v| (the paper's eq. 6 with
//! r = |v|); a missing entry has p = 0, c = 1. A half-sweep fixes Y and sets
//! every row of X to the minimiser of Σ_i c_ui (p_ui − x_u·y_i)² + λ‖x_u‖²,
//! i.e. (eq. 4)
//!
//!     x_u = (YᵀY + Yᵀ(C_u − I)Y + λI)⁻¹ Yᵀ C_u p(u).
//!
//! YᵀY + λI is computed once per call; the per-row correction only touches the
//! row's nonzeros. With c = alpha·|v| a weight c − 1 may be negative, but the
//! system stays positive semi-definite plus λI: it is Σ_all-columns c_i y_i y_iᵀ
//! + λI with every c_i >= 0.
//!
//! Memory plan: a row's factor rows y_i (rows of Y, read at random) are
//! gathered once per row into a contiguous per-thread block, padded to whole
//! vectors, with their weights c − 1 and targets c·p; every conjugate-gradient
//! step, or the Cholesky system's rank-k update, then streams that block from
//! cache instead of gathering Y again. A row longer than the block is worked
//! in slabs of it (CG then gathers each slab once per step).

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

/// How a stored value v becomes a confidence c (the ABI's `confidence` code).
pub const Confidence = enum(u1) {
    /// c = alpha·|v|: Python implicit's rule (its fit scales the matrix by
    /// alpha and reads the values as confidences).
    alpha_value = 0,
    /// c = 1 + alpha·|v|: Hu et al. 2008, eq. 6 (r = |v|).
    one_plus_alpha_value = 1,
};

pub const Weighting = struct {
    regularization: f32,
    alpha: f32,
    rule: Confidence,

    /// The one place a stored value becomes a confidence.
    inline fn confidence(weighting: Weighting, value: f32) f32 {
        const scaled = weighting.alpha * @abs(value);
        return switch (weighting.rule) {
            .alpha_value => scaled,
            .one_plus_alpha_value => 1 + scaled,
        };
    }
};

pub const SolveOptions = struct {
    solver: Solver,
    /// Conjugate-gradient iterations per row (ignored by Cholesky).
    cg_steps: usize,
    weighting: Weighting,
    /// Bytes of a thread's gathered block (CG) and Cholesky slab; tests
    /// shrink them to work long rows in slabs.
    block_bytes_max: usize = block_bytes_max_default,
    slab_bytes_max: usize = slab_bytes_max_default,
};

/// A conjugate-gradient run stops once ‖r‖² falls below this.
const residual_squared_min = 1e-20;
const tasks_per_thread = 16;
/// The gathered block of one thread, at most: a CG step streams it once, so
/// it should stay in the core's L2 or close (4 MiB: 16384 rows at f = 64).
const block_bytes_max_default = 4 * 1024 * 1024;
/// A Cholesky slab (its rows y and their weighted copies z): the rank-k
/// update passes over it once per register tile, so it is kept in L2.
const slab_bytes_max_default = 512 * 1024;
/// Rows of the block between two polls of the cancellation flag.
const poll_rows = 1024;

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

    const layout: ScratchLayout = .init(options, f, ratings.longestRow(.{ .start = 0, .end = ratings.rowCount() }));
    // CG's copy of YᵀY + λI with rows padded to the block stride, for
    // symvPadded (its product then stays in registers: ≈10% per iteration at f = 64).
    const gram_rows = try allocator.alignedAlloc(f32, .fromByteUnits(64), if (options.solver == .conjugate_gradient) f * layout.stride else 0);
    defer allocator.free(gram_rows);
    @memset(gram_rows, 0);
    if (options.solver == .conjugate_gradient) {
        for (0..f) |j| @memcpy(gram_rows[j * layout.stride ..][0..f], gram[j * f ..][0..f]);
    }
    // Zeroed once: the padding columns of every block row stay zero.
    const scratch = try allocator.alignedAlloc(f32, .fromByteUnits(64), pool.threadCount() * layout.len);
    defer allocator.free(scratch);
    @memset(scratch, 0);

    var context: SolveContext = .{
        .cancellation = status.cancellation(),
        .ratings = ratings,
        .x = x,
        .y = y,
        .f = f,
        .gram = gram,
        .gram_rows = gram_rows,
        .options = options,
        .scratch = scratch,
        .layout = layout,
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

/// Where each part of a thread's scratch lies (in floats, each part a whole
/// number of 64-byte lines). `stride` is f rounded up to whole vectors.
const ScratchLayout = struct {
    solver: Solver,
    stride: usize,
    /// Rows the block (CG) or slab (Cholesky) holds.
    block_rows: usize,
    /// Per-thread length.
    len: usize,

    const line_floats = 64 / @sizeOf(f32);

    fn init(options: SolveOptions, f: usize, longest_row: usize) ScratchLayout {
        const solver = options.solver;
        const stride = std.mem.alignForward(usize, f, @max(simd.lanes, 4));
        const row_bytes = stride * @sizeOf(f32);
        const rows_max = switch (solver) {
            .conjugate_gradient => options.block_bytes_max / row_bytes,
            .cholesky => options.slab_bytes_max / (2 * row_bytes),
        };
        const block_rows = std.math.clamp(longest_row, 1, @max(rows_max, 1));
        var layout: ScratchLayout = .{ .solver = solver, .stride = stride, .block_rows = block_rows, .len = 0 };
        layout.len = layout.offset(.end);
        return layout;
    }

    const Part = enum { block, block_z, weights, targets, vectors, system, end };

    fn partLen(layout: ScratchLayout, part: Part) usize {
        return std.mem.alignForward(usize, switch (part) {
            .block => layout.block_rows * layout.stride,
            // The weighted copy z = w∘y, Cholesky only.
            .block_z => if (layout.solver == .cholesky) layout.block_rows * layout.stride else 0,
            .weights, .targets => layout.block_rows,
            // CG: x, r, p, A·p; Cholesky: b.
            .vectors => 4 * layout.stride,
            // Cholesky: the f×f system (f² <= stride²).
            .system => if (layout.solver == .cholesky) layout.stride * layout.stride else 0,
            .end => 0,
        }, line_floats);
    }

    fn offset(layout: ScratchLayout, part: Part) usize {
        var total: usize = 0;
        inline for (std.meta.tags(Part)) |each| {
            if (each == part) return total;
            total += layout.partLen(each);
        }
        unreachable;
    }

    fn slice(layout: ScratchLayout, scratch: []f32, part: Part) []f32 {
        return scratch[layout.offset(part)..][0..layout.partLen(part)];
    }
};

const no_row = std.math.maxInt(usize);

/// The gathered nonzeros [start, start + len) of one row: row r of `ys` is
/// y_{indices[start + r]} (padded with zeros to `stride`), weights[r] = c − 1,
/// targets[r] = c·p.
const Block = struct {
    ys: []f32,
    weights: []f32,
    targets: []f32,
    stride: usize,
    /// Rows it holds at most.
    capacity: usize,
    len: usize = 0,

    fn row(block: Block, r: usize) []f32 {
        return block.ys[r * block.stride ..][0..block.stride];
    }
};

const SolveContext = struct {
    /// The caller's flag, polled by every task.
    cancellation: status.Cancellation,
    ratings: Csr,
    x: []f32,
    y: []const f32,
    f: usize,
    /// YᵀY + λI, full symmetric f×f.
    gram: []const f32,
    /// The same with rows padded to layout.stride (CG only; empty for Cholesky).
    gram_rows: []const f32,
    options: SolveOptions,
    scratch: []f32,
    layout: ScratchLayout,
    n_tasks: usize,
    row_cost: u64,
    /// The first row whose system was not positive definite.
    row_not_positive_definite: std.atomic.Value(usize) = .init(no_row),
    /// The first row whose solution was not finite.
    row_not_finite: std.atomic.Value(usize) = .init(no_row),

    fn runTask(context: *SolveContext, task_index: usize, worker_index: usize) void {
        const rows = partition.taskRows(context.ratings.indptr, context.row_cost, context.n_tasks, task_index);
        const scratch = context.scratch[worker_index * context.layout.len ..][0..context.layout.len];
        var block: Block = .{
            .ys = context.layout.slice(scratch, .block),
            .weights = context.layout.slice(scratch, .weights),
            .targets = context.layout.slice(scratch, .targets),
            .stride = context.layout.stride,
            .capacity = context.layout.block_rows,
        };
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
                .conjugate_gradient => if (!context.solveRowConjugateGradient(row, x_row, &block, scratch, &poll)) {
                    _ = context.row_not_finite.fetchMin(row, .monotonic);
                },
                .cholesky => context.solveRowCholesky(row, x_row, &block, scratch, &poll),
            }
            // A stopped row is unfinished: not a failure to report.
            if (poll.stopped) return;
            if (!simd.allFinite(x_row)) _ = context.row_not_finite.fetchMin(row, .monotonic);
        }
    }

    /// Gathers the nonzeros [start, start + len) of `row` into `block`: their
    /// factor rows, c − 1 and c·p; with `block_z`, also z = (c − 1)·y.
    fn gather(context: *const SolveContext, row: usize, start: usize, len: usize, block: *Block, block_z: ?[]f32) void {
        assert(len <= block.capacity);
        const f = context.f;
        const first = context.ratings.rowRange(row).start + start;
        const indices = context.ratings.indices[first..][0..len];
        const data = context.ratings.values()[first..][0..len];
        for (indices, data, 0..) |column, value, r| {
            // Into L2, and past the row's end into the next rows' nonzeros
            // (CSR keeps them next): their first factor rows then arrive while
            // this row's CG steps run instead of stalling the next gather.
            if (r % 4 == 0) prefetchRowsTo(2, context.y, f, context.ratings.indices, first + r + gather_prefetch_rows);
            const y_row = context.y[@as(usize, @intCast(column)) * f ..][0..f];
            const confidence = context.options.weighting.confidence(value);
            const weight = confidence - 1;
            block.weights[r] = weight;
            block.targets[r] = if (value > 0) confidence else 0;
            copyRow(y_row, block.row(r));
            if (block_z) |zs| {
                const z_row = zs[r * block.stride ..][0..f];
                for (z_row, y_row) |*z, y_value| z.* = weight * y_value;
            }
        }
        block.len = len;
    }

    /// Takács et al. 2011, §3.2: CG on A x = b with A = YᵀY + λI + Yᵀ(C_u − I)Y
    /// and b = Yᵀ C_u p(u), never forming A: A·v costs f² plus two passes over
    /// the gathered block (Y_u v, then Y_uᵀ of the weighted result).
    /// Returns false when the iteration met a non-finite residual or curvature
    /// (an overflowing confidence), which the caller reports instead of keeping x.
    /// Stops early, leaving x unfinished, once `poll` stops.
    fn solveRowConjugateGradient(context: *const SolveContext, row: usize, x_row: []f32, block: *Block, scratch: []f32, poll: *status.Poll) bool {
        const f = context.f;
        const stride = context.layout.stride;
        const vectors = context.layout.slice(scratch, .vectors);
        // Padded to `stride` (zeros past f) for the block products.
        const x = vectors[0..stride];
        const r = vectors[stride..][0..stride];
        const p = vectors[2 * stride ..][0..stride];
        const a_p = vectors[3 * stride ..][0..stride];
        @memcpy(x[0..f], x_row);
        const nnz = context.ratings.rowIndices(row).len;
        const fits = nnz <= block.capacity;
        if (fits) {
            if (poll.stop(f * nnz)) return true;
            context.gather(row, 0, nnz, block, null);
        }
        // r = b − A x.
        simd.symvPadded(context.gram_rows, stride, x[0..f], r);
        simd.scale(-1, r[0..f]);
        context.addBlockTerms(row, fits, block, x, r, .residual, poll);
        if (poll.stopped) return true;
        @memcpy(p, r);
        var residual_squared_old = simd.dot(r[0..f], r[0..f]);
        if (!std.math.isFinite(residual_squared_old)) return false;
        defer @memcpy(x_row, x[0..f]);
        for (0..context.options.cg_steps) |_| {
            if (residual_squared_old < residual_squared_min) break;
            if (poll.stop(f * f)) break;
            simd.symvPadded(context.gram_rows, stride, p[0..f], a_p);
            context.addBlockTerms(row, fits, block, p, a_p, .product, poll);
            if (poll.stopped) break;
            const curvature = simd.dot(p[0..f], a_p[0..f]);
            if (!std.math.isFinite(curvature)) return false;
            // A is positive definite for λ > 0 (every c >= 0): a curvature <= 0
            // is rounding at convergence, or λ = 0 with a singular system.
            if (!(curvature > 0)) break;
            const step = residual_squared_old / curvature;
            simd.axpy(step, p[0..f], x[0..f]);
            simd.axpy(-step, a_p[0..f], r[0..f]);
            const residual_squared_new = simd.dot(r[0..f], r[0..f]);
            if (residual_squared_new < residual_squared_min) break;
            simd.xpby(r[0..f], residual_squared_new / residual_squared_old, p[0..f]);
            residual_squared_old = residual_squared_new;
        }
        return true;
    }

    /// Adds the row's nonzero terms of `term` into `out` (both padded to
    /// `stride`): from the block gathered once when the row `fits`, else slab
    /// by slab, gathering each. Stops early (a partial sum) once `poll` stops.
    fn addBlockTerms(context: *const SolveContext, row: usize, fits: bool, block: *Block, v: []const f32, out: []f32, comptime term: Term, poll: *status.Poll) void {
        const f = context.f;
        const nnz = context.ratings.rowIndices(row).len;
        var start: usize = 0;
        while (start < nnz) {
            const len = @min(block.capacity, nnz - start);
            if (!fits) {
                if (poll.stop(f * len)) return;
                context.gather(row, start, len, block, null);
            }
            var first: usize = 0;
            while (first < len) {
                const count = @min(poll_rows, len - first);
                if (poll.stop(2 * f * count)) return;
                addTerms(term, block.*, first, count, v, out);
                first += count;
            }
            start += len;
        }
    }

    /// Builds A = YᵀY + λI + Σ_nz (c − 1) y_i y_iᵀ (a rank-k update per slab of
    /// gathered rows) and b = Σ_nz c·p y_i, then solves A x = b by Cholesky
    /// factorization. Returns early, leaving x unfinished, once `poll` stops.
    fn solveRowCholesky(context: *SolveContext, row: usize, x: []f32, block: *Block, scratch: []f32, poll: *status.Poll) void {
        const f = context.f;
        const a = context.layout.slice(scratch, .system)[0 .. f * f];
        const zs = context.layout.slice(scratch, .block_z);
        const b = context.layout.slice(scratch, .vectors)[0..context.layout.stride];
        @memcpy(a, context.gram);
        @memset(b, 0);
        const nnz = context.ratings.rowIndices(row).len;
        var start: usize = 0;
        while (start < nnz) {
            const len = @min(block.capacity, nnz - start);
            if (poll.stop(f * f * len / 2)) return;
            context.gather(row, start, len, block, zs);
            linalg.syrkUpper(a, f, block.ys, zs, len, block.stride);
            addTerms(.targets, block.*, 0, len, b, b);
            start += len;
        }
        if (poll.stop(f * f * f / 6)) return;
        @memcpy(x, b[0..f]);
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

const Term = enum {
    /// out += Σ_r (t_r − w_r·(y_r·v)) y_r: the nonzeros' part of b − A v.
    residual,
    /// out += Σ_r w_r·(y_r·v) y_r: the nonzeros' part of A v.
    product,
    /// out += Σ_r t_r y_r: b (`v` unused).
    targets,
};

/// Rows the CG block product takes at a time: their dot products with v are
/// independent chains, then one pass adds the rows into out.
const term_tile_rows = 4;
/// Vectors per row up to which v and out stay in registers over the block.
const term_vectors_in_registers = 12;

/// Adds the terms of block rows [first, first + count) into `out`: the two
/// products Y_u v and Y_uᵀ s of a CG step fused per tile of rows, so each row
/// is read once from cache per step.
fn addTerms(comptime term: Term, block: Block, first: usize, count: usize, v: []const f32, out: []f32) void {
    assert(first + count <= block.len);
    assert(v.len == block.stride and out.len == block.stride);
    switch (block.stride / simd.lanes) {
        inline 1...term_vectors_in_registers => |n_vectors| addTermsFixed(term, n_vectors, block, first, count, v, out),
        else => addTermsAnyWidth(term, block, first, count, v, out),
    }
}

/// The weight s_r of row r given its projection y_r·v.
inline fn termWeight(comptime term: Term, block: Block, r: usize, projection: f32) f32 {
    return switch (term) {
        .residual => block.targets[r] - block.weights[r] * projection,
        .product => block.weights[r] * projection,
        .targets => block.targets[r],
    };
}

fn addTermsFixed(comptime term: Term, comptime n_vectors: usize, block: Block, first: usize, count: usize, v: []const f32, out: []f32) void {
    var v_vectors: [n_vectors]simd.V = undefined;
    var sums: [n_vectors]simd.V = undefined;
    inline for (0..n_vectors) |k| {
        if (term != .targets) v_vectors[k] = simd.load(v, k * simd.lanes);
        sums[k] = simd.load(out, k * simd.lanes);
    }
    var r = first;
    const end = first + count;
    while (r < end) {
        const tile = @min(term_tile_rows, end - r);
        var weights: [term_tile_rows]f32 = @splat(0);
        // A short last tile repeats its last row with weight 0.
        var rows: [term_tile_rows][]const f32 = undefined;
        inline for (0..term_tile_rows) |t| rows[t] = block.row(r + @min(t, tile - 1));
        if (term == .targets) {
            for (0..tile) |t| weights[t] = termWeight(term, block, r + t, 0);
        } else {
            var dots: [term_tile_rows]simd.V = @splat(@splat(0));
            inline for (0..n_vectors) |k| {
                inline for (0..term_tile_rows) |t| dots[t] = simd.mulAdd(simd.load(rows[t], k * simd.lanes), v_vectors[k], dots[t]);
            }
            const projections = sumLanes4(dots);
            for (0..tile) |t| weights[t] = termWeight(term, block, r + t, projections[t]);
        }
        inline for (0..term_tile_rows) |t| {
            const weight: simd.V = @splat(weights[t]);
            inline for (0..n_vectors) |k| sums[k] = simd.mulAdd(weight, simd.load(rows[t], k * simd.lanes), sums[k]);
        }
        r += tile;
    }
    inline for (0..n_vectors) |k| simd.store(out, k * simd.lanes, sums[k]);
}

/// The lane sums of four vectors, by a tree of shuffles over all four at once
/// (a float @reduce adds its lanes one by one, in order).
inline fn sumLanes4(vectors: [4]simd.V) [4]f32 {
    const lanes = simd.lanes;
    if (lanes < 4) {
        var sums: [4]f32 = undefined;
        inline for (0..4) |t| sums[t] = @reduce(.Add, vectors[t]);
        return sums;
    }
    // Level 1: [a_lo + a_hi | b_lo + b_hi] for the pairs (0, 1) and (2, 3).
    const half = lanes / 2;
    const pair01 = foldHalves(vectors[0], vectors[1], half);
    const pair23 = foldHalves(vectors[2], vectors[3], half);
    // Level 2: quarters of each pair folded: vector t's partial sums in quarter t.
    var folded = foldQuarters(pair01, pair23, lanes / 4);
    // Then within each quarter, halving until one lane per vector is left.
    comptime var width = lanes / 4;
    inline while (width > 1) : (width /= 2) {
        const shift = comptime blk: {
            var mask: [lanes]i32 = undefined;
            for (0..lanes) |lane| mask[lane] = @intCast(if (lane % width < width / 2) lane + width / 2 else lane);
            break :blk mask;
        };
        folded += @shuffle(f32, folded, undefined, shift);
    }
    var sums: [4]f32 = undefined;
    inline for (0..4) |t| sums[t] = folded[t * (lanes / 4)];
    return sums;
}

/// [a[0..h] + a[h..2h] | b[0..h] + b[h..2h]] for h = half the lanes.
inline fn foldHalves(a: simd.V, b: simd.V, comptime h: usize) simd.V {
    const low = comptime blk: {
        var mask: [2 * h]i32 = undefined;
        for (0..h) |lane| {
            mask[lane] = @intCast(lane);
            mask[h + lane] = ~@as(i32, @intCast(lane));
        }
        break :blk mask;
    };
    const high = comptime blk: {
        var mask: [2 * h]i32 = undefined;
        for (0..h) |lane| {
            mask[lane] = @intCast(h + lane);
            mask[h + lane] = ~@as(i32, @intCast(h + lane));
        }
        break :blk mask;
    };
    return @shuffle(f32, a, b, low) + @shuffle(f32, a, b, high);
}

/// From p = [a-half | b-half] and q = [c-half | d-half] (each half two
/// quarters of width w), [a | b | c | d] with each quarter the sum of its half's two.
inline fn foldQuarters(p: simd.V, q: simd.V, comptime w: usize) simd.V {
    const first = comptime blk: {
        var mask: [4 * w]i32 = undefined;
        for (0..w) |lane| {
            mask[lane] = @intCast(lane); // p's first half, first quarter
            mask[w + lane] = @intCast(2 * w + lane); // p's second half, first quarter
            mask[2 * w + lane] = ~@as(i32, @intCast(lane));
            mask[3 * w + lane] = ~@as(i32, @intCast(2 * w + lane));
        }
        break :blk mask;
    };
    const second = comptime blk: {
        var mask: [4 * w]i32 = undefined;
        for (0..w) |lane| {
            mask[lane] = @intCast(w + lane);
            mask[w + lane] = @intCast(3 * w + lane);
            mask[2 * w + lane] = ~@as(i32, @intCast(w + lane));
            mask[3 * w + lane] = ~@as(i32, @intCast(3 * w + lane));
        }
        break :blk mask;
    };
    return @shuffle(f32, p, q, first) + @shuffle(f32, p, q, second);
}

fn addTermsAnyWidth(comptime term: Term, block: Block, first: usize, count: usize, v: []const f32, out: []f32) void {
    var r = first;
    const end = first + count;
    while (r < end) {
        const tile = @min(4, end - r);
        var weights: [4]f32 = @splat(0);
        var rows: [4][]const f32 = undefined;
        for (0..4) |t| rows[t] = block.row(r + @min(t, tile - 1));
        for (0..tile) |t| {
            const projection = if (term == .targets) 0 else simd.dot(rows[t], v);
            weights[t] = termWeight(term, block, r + t, projection);
        }
        simd.axpy4(weights, rows, out);
        r += tile;
    }
}

/// Asks the cache for the factor rows of nonzeros [first, first + 4): rows of
/// Y are gathered at random, so their loads would otherwise stall.
inline fn prefetchRows(y: []const f32, f: usize, indices: []const i32, first: usize) void {
    prefetchRowsTo(3, y, f, indices, first);
}

/// Rows ahead of the one copied that the block's gather asks for.
const gather_prefetch_rows = 16;

/// As prefetchRows, into the cache level of `locality` (3: L1, 2: L2).
/// The row's last float is asked for too, since a row need not start a line.
inline fn prefetchRowsTo(comptime locality: u2, y: []const f32, f: usize, indices: []const i32, first: usize) void {
    const cache_line_floats = 64 / @sizeOf(f32);
    if (first >= indices.len) return;
    for (first..@min(first + 4, indices.len)) |nz| {
        const row = y[@as(usize, @intCast(indices[nz])) * f ..][0..f];
        var offset: usize = 0;
        while (offset < f) : (offset += cache_line_floats) {
            @prefetch(row[offset..].ptr, .{ .rw = .read, .locality = locality, .cache = .data });
        }
        @prefetch(row[f - 1 ..].ptr, .{ .rw = .read, .locality = locality, .cache = .data });
    }
}

/// to[0..from.len] = from, by whole vectors (to is padded to them).
inline fn copyRow(from: []const f32, to: []f32) void {
    assert(to.len >= from.len and to.len % simd.lanes == 0);
    var i: usize = 0;
    while (i + simd.lanes <= from.len) : (i += simd.lanes) simd.store(to, i, simd.load(from, i));
    while (i < from.len) : (i += 1) to[i] = from[i];
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
    const weighting: Weighting = .{ .regularization = 0.1, .alpha = 2, .rule = .one_plus_alpha_value };

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

/// The confidence of a stored value, computed here apart from `Weighting`.
fn testConfidence(rule: Confidence, alpha: f32, value: f32) f64 {
    const scaled: f64 = @as(f64, alpha) * @abs(value);
    return if (rule == .alpha_value) scaled else 1 + scaled;
}

test "both solvers satisfy the normal equations (eq. 4) under both confidence rules, in slabs too" {
    const allocator = testing.allocator;
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    // f = 13 and 21 leave a partial vector; the 3-row block forces slabs.
    for ([_]usize{ 4, 13, 21 }) |f| for ([_]Confidence{ .alpha_value, .one_plus_alpha_value }) |rule| for ([_]Solver{ .cholesky, .conjugate_gradient }) |solver| for ([_]bool{ false, true }) |tiny_block| {
        var problem: TestProblem = try .init(allocator, 9, 57, f, 0.5, 9 + f);
        defer problem.deinit(allocator);
        const weighting: Weighting = .{ .regularization = 0.3, .alpha = 1.5, .rule = rule };
        const row_bytes = std.mem.alignForward(usize, f, simd.lanes) * @sizeOf(f32);
        var options: SolveOptions = .{ .solver = solver, .cg_steps = 4 * f, .weighting = weighting };
        if (tiny_block) {
            options.block_bytes_max = 3 * row_bytes;
            options.slab_bytes_max = 2 * 3 * row_bytes;
        }
        try solve(allocator, &pool, problem.ratings.view(), problem.x, problem.y, f, options);
        for (0..problem.n_rows) |row| {
            const x_row = problem.x[row * f ..][0..f];
            if (row == 1) {
                for (x_row) |v| try testing.expectEqual(0, v);
                continue;
            }
            // Gradient: Σ_i c (x·y_i − p) y_i + λx must vanish.
            var gradient: [21]f64 = @splat(0);
            for (0..problem.n_other) |column| {
                const y_row = problem.y[column * f ..][0..f];
                const value = problem.ratings.at(row, column);
                const confidence: f64 = if (value) |v| testConfidence(rule, weighting.alpha, v) else 1;
                const preference: f64 = if (value) |v| (if (v > 0) 1 else 0) else 0;
                var score: f64 = 0;
                for (x_row, y_row) |xi, yi| score += @as(f64, xi) * yi;
                for (gradient[0..f], y_row) |*g, yi| g.* += confidence * (score - preference) * yi;
            }
            for (gradient[0..f], x_row) |g, xi| try testing.expectApproxEqAbs(0, g + weighting.regularization * xi, 2e-4);
        }
    };
}

test "with c = alpha·|v| < 1 (weights c − 1 < 0) both solvers match a dense solve" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(77);
    const random = prng.random();
    const n_rows = 6;
    const n_other = 40;
    const f = 10;
    var ratings = try helpers.randomCsr(allocator, random, .{
        .n_rows = n_rows,
        .n_cols = n_other,
        .density = 0.6,
        .values = .{ .uniform = .{ .min = -0.6, .max = 0.6 } },
    });
    defer ratings.deinit(allocator);
    var y: [n_other * f]f32 = undefined;
    helpers.fillUniform(random, &y, -1, 1);
    var pool: ThreadPool = .{};
    pool.start(1);
    defer pool.stop();
    const weighting: Weighting = .{ .regularization = 0.05, .alpha = 0.8, .rule = .alpha_value };
    for ([_]Solver{ .cholesky, .conjugate_gradient }) |solver| {
        var x: [n_rows * f]f32 = @splat(0);
        try solve(allocator, &pool, ratings.view(), &x, &y, f, .{ .solver = solver, .cg_steps = 60, .weighting = weighting });
        for (0..n_rows) |row| {
            // Dense A = Σ_all c_i y_i y_iᵀ + λI (missing cells c = 1) and b = Σ c p y_i,
            // solved by Gaussian elimination in f64.
            var a: [f][f + 1]f64 = @splat(@splat(0));
            for (0..f) |i| a[i][i] = weighting.regularization;
            for (0..n_other) |column| {
                const value = ratings.at(row, column);
                const confidence: f64 = if (value) |v| 0.8 * @as(f64, @abs(v)) else 1;
                const preference: f64 = if (value) |v| (if (v > 0) 1 else 0) else 0;
                const y_row = y[column * f ..][0..f];
                for (0..f) |i| {
                    a[i][f] += confidence * preference * y_row[i];
                    for (0..f) |j| a[i][j] += confidence * @as(f64, y_row[i]) * y_row[j];
                }
            }
            for (0..f) |k| for (k + 1..f) |i| {
                const factor = a[i][k] / a[k][k];
                for (k..f + 1) |j| a[i][j] -= factor * a[k][j];
            };
            var expected: [f]f64 = undefined;
            var k: usize = f;
            while (k > 0) {
                k -= 1;
                var sum = a[k][f];
                for (k + 1..f) |j| sum -= a[k][j] * expected[j];
                expected[k] = sum / a[k][k];
            }
            for (expected, x[row * f ..][0..f]) |want, got| try testing.expectApproxEqAbs(want, got, 1e-3 * @max(1, @abs(want)));
        }
    }
}

test "sumLanes4 adds each vector's lanes" {
    var vectors: [4]simd.V = undefined;
    var want: [4]f32 = @splat(0);
    for (0..4) |t| {
        var lanes: [simd.lanes]f32 = undefined;
        for (&lanes, 0..) |*v, lane| {
            v.* = @floatFromInt((t + 1) * 100 + lane * lane);
            want[t] += v.*;
        }
        vectors[t] = lanes;
    }
    try testing.expectEqual(want, sumLanes4(vectors));
}

test "syrkUpper's rank-k update equals a dense sum on the upper triangle" {
    for ([_]usize{ 1, 5, 16, 37 }) |n| {
        const stride = std.mem.alignForward(usize, n, simd.lanes);
        const rows = 11;
        var prng = std.Random.DefaultPrng.init(n);
        var ys: [rows * 48]f32 = @splat(0); // stride 48 at n = 37 (16 lanes)
        var zs: [rows * 48]f32 = @splat(0);
        for (0..rows) |r| {
            helpers.fillUniform(prng.random(), ys[r * stride ..][0..n], -1, 1);
            helpers.fillUniform(prng.random(), zs[r * stride ..][0..n], -1, 1);
        }
        var a: [37 * 37]f32 = undefined;
        for (a[0 .. n * n], 0..) |*v, i| v.* = @floatFromInt(i % 7);
        linalg.syrkUpper(a[0 .. n * n], n, &ys, &zs, rows, stride);
        for (0..n) |i| for (i..n) |j| {
            var want: f64 = @floatFromInt((i * n + j) % 7);
            for (0..rows) |r| want += @as(f64, zs[r * stride + i]) * ys[r * stride + j];
            try testing.expectApproxEqAbs(want, a[i * n + j], 1e-4);
        };
    }
}

test "loss equals a brute-force sum over every pair" {
    const allocator = testing.allocator;
    var problem: TestProblem = try .init(allocator, 17, 13, 5, 0.4, 21);
    defer problem.deinit(allocator);
    var pool: ThreadPool = .{};
    pool.start(3);
    defer pool.stop();
    const weighting: Weighting = .{ .regularization = 0.2, .alpha = 3, .rule = .one_plus_alpha_value };
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
    const weighting: Weighting = .{ .regularization = 0.1, .alpha = 2, .rule = .one_plus_alpha_value };
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
    const result = solve(allocator, &pool, problem.ratings.view(), problem.x, problem.y, f, .{ .solver = .cholesky, .cg_steps = 0, .weighting = .{ .regularization = 0.1, .alpha = 2, .rule = .one_plus_alpha_value } });
    const elapsed_ms = helpers.monotonicMs() - started;
    raiser.join();
    try testing.expectError(error.Cancelled, result);
    try testing.expect(elapsed_ms < 1000);
}
