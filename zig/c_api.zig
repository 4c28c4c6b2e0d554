//! The C ABI of libtacit: the only file with `export fn`s. Names, parameter
//! order and status codes follow lib/native/symbols.ts exactly.
//!
//! Every export validates its arguments here, at the edge (null buffers,
//! negative counts, out-of-range shapes and indices, NaN), holds the global
//! thread pool for the whole call, and turns every error into a `Status`
//! with a message for `tacit_last_error`. Nothing panics across the boundary.
//!
//! A buffer may be null when its length is 0 (Deno passes empty typed arrays
//! as null pointers); otherwise a null buffer is an invalid argument.

const std = @import("std");
const status = @import("status.zig");
const ThreadPool = @import("ThreadPool.zig");
const csr = @import("csr.zig");
const finite = @import("finite.zig");
const linalg = @import("linalg.zig");
const als = @import("als.zig");
const topk = @import("topk.zig");
const metrics = @import("metrics.zig");
const Error = status.Error;
const Status = status.Status;

/// Bumped whenever a signature changes (ABI_VERSION in symbols.ts).
pub const abi_version = 1;
/// Latent factors a kernel accepts: 1..factors_max.
pub const factors_max = 1024;
/// Conjugate-gradient steps per row: 1..cg_steps_max.
pub const cg_steps_max = 10_000;

const allocator = std.heap.c_allocator;

comptime {
    std.debug.assert(@sizeOf(c_int) == @sizeOf(i32));
    std.debug.assert(@backingInt(Status.internal) == -6);
}

pub export fn tacit_abi_version() c_int {
    return abi_version;
}

pub export fn tacit_last_error(out: ?[*]u8, capacity: c_int) c_int {
    const len = if (out != null and capacity > 0)
        status.copyMessage(out.?[0..@intCast(capacity)])
    else
        status.copyMessage(&.{});
    return @intCast(len);
}

pub export fn tacit_set_num_threads(n: c_int) c_int {
    ThreadPool.setGlobalThreadCount(if (n <= 0) 0 else @intCast(n));
    return @backingInt(Status.ok);
}

pub export fn tacit_get_num_threads() c_int {
    return @intCast(ThreadPool.globalThreadCount());
}

pub export fn tacit_csr_check(
    n_rows: c_int,
    n_cols: c_int,
    indptr: ?[*]const i32,
    indices: ?[*]const i32,
    data: ?[*]const f32,
    nnz: c_int,
) c_int {
    return call(csrCheck, .{ n_rows, n_cols, indptr, indices, data, nnz });
}

pub export fn tacit_count_nonfinite(values: ?[*]const f32, len: c_int, out_count: ?*i32) c_int {
    return call(countNonFinite, .{ values, len, out_count });
}

pub export fn tacit_gram(factors: ?[*]const f32, n: c_int, f: c_int, ridge: f32, out: ?[*]f32) c_int {
    return call(gram, .{ factors, n, f, ridge, out });
}

pub export fn tacit_als_solve(
    solver: c_int,
    cg_steps: c_int,
    n_rows: c_int,
    indptr: ?[*]const i32,
    indices: ?[*]const i32,
    data: ?[*]const f32,
    x: ?[*]f32,
    y: ?[*]const f32,
    n_other: c_int,
    f: c_int,
    regularization: f32,
    alpha: f32,
) c_int {
    return call(alsSolve, .{ solver, cg_steps, n_rows, indptr, indices, data, x, y, n_other, f, regularization, alpha });
}

pub export fn tacit_als_loss(
    n_rows: c_int,
    indptr: ?[*]const i32,
    indices: ?[*]const i32,
    data: ?[*]const f32,
    x: ?[*]const f32,
    y: ?[*]const f32,
    n_other: c_int,
    f: c_int,
    regularization: f32,
    alpha: f32,
    out: ?[*]f64,
) c_int {
    return call(alsLoss, .{ n_rows, indptr, indices, data, x, y, n_other, f, regularization, alpha, out });
}

pub export fn tacit_topk_dot(
    queries: ?[*]const f32,
    n_q: c_int,
    items: ?[*]const f32,
    n_items: c_int,
    f: c_int,
    exclude_indptr: ?[*]const i32,
    exclude_indices: ?[*]const i32,
    item_mask: ?[*]const u8,
    candidates: ?[*]const i32,
    n_cand: c_int,
    k: c_int,
    out_ids: ?[*]i32,
    out_scores: ?[*]f32,
) c_int {
    return call(topkDot, .{ queries, n_q, items, n_items, f, exclude_indptr, exclude_indices, item_mask, candidates, n_cand, k, out_ids, out_scores });
}

pub export fn tacit_ranking_metrics(
    top_ids: ?[*]const i32,
    n_users: c_int,
    width: c_int,
    k: c_int,
    test_indptr: ?[*]const i32,
    test_indices: ?[*]const i32,
    n_items: c_int,
    n_columns: c_int,
    out: ?[*]f64,
) c_int {
    return call(rankingMetrics, .{ top_ids, n_users, width, k, test_indptr, test_indices, n_items, n_columns, out });
}

/// Runs an implementation and turns its error into a status.
pub fn call(comptime implementation: anytype, args: anytype) c_int {
    @call(.auto, implementation, args) catch |err| {
        if (err == error.OutOfMemory) status.setMessage("The native allocator could not allocate the memory this call needs");
        return @backingInt(status.statusOf(err));
    };
    return @backingInt(Status.ok);
}

// ---------------------------------------------------------------------------
// Implementations: validate, then call the kernel.

fn csrCheck(n_rows_c: c_int, n_cols_c: c_int, indptr_ptr: ?[*]const i32, indices_ptr: ?[*]const i32, data_ptr: ?[*]const f32, nnz_c: c_int) Error!void {
    const n_rows = try count(n_rows_c, "n_rows");
    const n_cols = try count(n_cols_c, "n_cols");
    const nnz = try count(nnz_c, "nnz");
    const indptr = try buffer(i32, indptr_ptr, n_rows + 1, "indptr");
    const nnz_indptr = try csr.checkIndptr(indptr, .{});
    if (nnz_indptr != nnz) {
        return status.fail(.invalid_argument, "Expected indptr[{d}] (the last entry) to equal nnz = {d} but found {d}", .{ n_rows, nnz, nnz_indptr });
    }
    const matrix: csr.Csr = .{
        .indptr = indptr,
        .indices = try buffer(i32, indices_ptr, nnz, "indices"),
        .data = if (data_ptr != null) try buffer(f32, data_ptr, nnz, "data") else null,
    };
    const lease = ThreadPool.acquireGlobal();
    defer lease.release();
    try csr.checkEntries(lease.pool, matrix, .{ .n_cols = n_cols, .order = .strictly_increasing });
}

fn countNonFinite(values_ptr: ?[*]const f32, len_c: c_int, out_count: ?*i32) Error!void {
    const values = try buffer(f32, values_ptr, try count(len_c, "len"), "values");
    const out = out_count orelse return status.fail(.invalid_argument, "Expected out_count to be a buffer of 1 element but found null", .{});
    const lease = ThreadPool.acquireGlobal();
    defer lease.release();
    out.* = @intCast(finite.countNonFinite(lease.pool, values));
}

fn gram(factors_ptr: ?[*]const f32, n_c: c_int, f_c: c_int, ridge: f32, out_ptr: ?[*]f32) Error!void {
    const n = try count(n_c, "n");
    const f = try factorCount(f_c);
    try requireFinite(ridge, "ridge");
    const factors = try buffer(f32, factors_ptr, n * f, "factors");
    const out = try bufferMut(f32, out_ptr, f * f, "out");
    const lease = ThreadPool.acquireGlobal();
    defer lease.release();
    try requireAllFinite(lease.pool, factors, f, "factors");
    try linalg.gram(allocator, lease.pool, factors, f, ridge, out);
}

fn alsSolve(
    solver_c: c_int,
    cg_steps_c: c_int,
    n_rows_c: c_int,
    indptr_ptr: ?[*]const i32,
    indices_ptr: ?[*]const i32,
    data_ptr: ?[*]const f32,
    x_ptr: ?[*]f32,
    y_ptr: ?[*]const f32,
    n_other_c: c_int,
    f_c: c_int,
    regularization: f32,
    alpha: f32,
) Error!void {
    const solver: als.Solver = switch (solver_c) {
        0 => .conjugate_gradient,
        1 => .cholesky,
        else => return status.fail(.invalid_argument, "Expected solver to be 0 (conjugate gradient) or 1 (Cholesky) but found {d}", .{solver_c}),
    };
    const cg_steps: usize = if (solver == .cholesky) 0 else steps: {
        if (cg_steps_c < 1 or cg_steps_c > cg_steps_max) {
            return status.fail(.out_of_range, "Expected cg_steps to be in 1..{d} but found {d}", .{ cg_steps_max, cg_steps_c });
        }
        break :steps @intCast(cg_steps_c);
    };
    const weighting = try checkWeighting(regularization, alpha);
    const shape = try checkFactorShape(n_rows_c, n_other_c, f_c);
    const ratings = try ratingsBuffers(shape, indptr_ptr, indices_ptr, data_ptr);
    const x = try bufferMut(f32, x_ptr, shape.n_rows * shape.f, "x");
    const y = try buffer(f32, y_ptr, shape.n_other * shape.f, "y");

    const lease = ThreadPool.acquireGlobal();
    defer lease.release();
    try csr.checkEntries(lease.pool, ratingsCsr(ratings), .{ .n_cols = shape.n_other, .order = .any });
    try requireAllFinite(lease.pool, y, shape.f, "y");
    if (solver == .conjugate_gradient) try requireAllFinite(lease.pool, x, shape.f, "x");
    try als.solve(allocator, lease.pool, ratings, x, y, shape.f, .{
        .solver = solver,
        .cg_steps = cg_steps,
        .weighting = weighting,
    });
}

fn alsLoss(
    n_rows_c: c_int,
    indptr_ptr: ?[*]const i32,
    indices_ptr: ?[*]const i32,
    data_ptr: ?[*]const f32,
    x_ptr: ?[*]const f32,
    y_ptr: ?[*]const f32,
    n_other_c: c_int,
    f_c: c_int,
    regularization: f32,
    alpha: f32,
    out_ptr: ?[*]f64,
) Error!void {
    const weighting = try checkWeighting(regularization, alpha);
    const shape = try checkFactorShape(n_rows_c, n_other_c, f_c);
    const ratings = try ratingsBuffers(shape, indptr_ptr, indices_ptr, data_ptr);
    const x = try buffer(f32, x_ptr, shape.n_rows * shape.f, "x");
    const y = try buffer(f32, y_ptr, shape.n_other * shape.f, "y");
    const out = try bufferMut(f64, out_ptr, 2, "out");

    const lease = ThreadPool.acquireGlobal();
    defer lease.release();
    try csr.checkEntries(lease.pool, ratingsCsr(ratings), .{ .n_cols = shape.n_other, .order = .any });
    try requireAllFinite(lease.pool, x, shape.f, "x");
    try requireAllFinite(lease.pool, y, shape.f, "y");
    const result = try als.loss(allocator, lease.pool, ratings, x, y, shape.f, weighting);
    out[0] = result.objective;
    out[1] = result.confidence_total;
}

fn topkDot(
    queries_ptr: ?[*]const f32,
    n_q_c: c_int,
    items_ptr: ?[*]const f32,
    n_items_c: c_int,
    f_c: c_int,
    exclude_indptr_ptr: ?[*]const i32,
    exclude_indices_ptr: ?[*]const i32,
    item_mask_ptr: ?[*]const u8,
    candidates_ptr: ?[*]const i32,
    n_cand_c: c_int,
    k_c: c_int,
    out_ids_ptr: ?[*]i32,
    out_scores_ptr: ?[*]f32,
) Error!void {
    const n_q = try count(n_q_c, "n_q");
    const n_items = try count(n_items_c, "n_items");
    const f = try factorCount(f_c);
    const k = try resultCount(k_c);
    const queries = try buffer(f32, queries_ptr, n_q * f, "queries");
    const items = try buffer(f32, items_ptr, n_items * f, "items");

    const exclude_names: csr.Names = .{ .indptr = "exclude_indptr", .indices = "exclude_indices" };
    var exclude_indptr: ?[]const i32 = null;
    var exclude_indices: []const i32 = &.{};
    if (exclude_indptr_ptr != null) {
        const indptr = try buffer(i32, exclude_indptr_ptr, n_q + 1, "exclude_indptr");
        const nnz = try csr.checkIndptr(indptr, exclude_names);
        exclude_indptr = indptr;
        exclude_indices = try buffer(i32, exclude_indices_ptr, nnz, "exclude_indices");
    } else if (exclude_indices_ptr != null) {
        return status.fail(.invalid_argument, "Expected exclude_indptr to be a buffer of {d} elements since exclude_indices was given, but found null", .{n_q + 1});
    }
    const filters = try itemFilters(item_mask_ptr, candidates_ptr, n_cand_c, n_items);

    const problem: topk.Problem = .{
        .queries = queries,
        .items = items,
        .f = f,
        .filter = .init(n_items, .{
            .item_mask = filters.item_mask,
            .candidates = filters.candidates,
            .exclusions = if (exclude_indptr) |indptr| .{ .indptr = indptr, .indices = exclude_indices, .data = null } else null,
        }),
        .k = k,
        .out_ids = try bufferMut(i32, out_ids_ptr, n_q * k, "out_ids"),
        .out_scores = try bufferMut(f32, out_scores_ptr, n_q * k, "out_scores"),
    };
    const lease = ThreadPool.acquireGlobal();
    defer lease.release();
    if (exclude_indptr) |indptr| {
        const exclusions: csr.Csr = .{ .indptr = indptr, .indices = exclude_indices, .data = null };
        try csr.checkEntries(lease.pool, exclusions, .{ .n_cols = n_items, .order = .non_decreasing, .names = exclude_names });
    }
    try requireAllFinite(lease.pool, queries, f, "queries");
    try topk.topkDot(allocator, lease.pool, &problem);
}

fn rankingMetrics(
    top_ids_ptr: ?[*]const i32,
    n_users_c: c_int,
    width_c: c_int,
    k_c: c_int,
    test_indptr_ptr: ?[*]const i32,
    test_indices_ptr: ?[*]const i32,
    n_items_c: c_int,
    n_columns_c: c_int,
    out_ptr: ?[*]f64,
) Error!void {
    const n_users = try count(n_users_c, "n_users");
    const width = try count(width_c, "width");
    const n_items = try count(n_items_c, "n_items");
    if (k_c < 1) return status.fail(.out_of_range, "Expected k to be >= 1 but found {d}", .{k_c});
    const k: usize = @intCast(k_c);
    if (width > k) return status.fail(.out_of_range, "Expected width to be <= k = {d} but found {d}", .{ k, width });
    if (n_columns_c != metrics.column_count) {
        return status.fail(.invalid_argument, "Expected n_columns to be {d} but found {d}", .{ metrics.column_count, n_columns_c });
    }
    const top_ids = try buffer(i32, top_ids_ptr, n_users * width, "top_ids");
    try metrics.checkTopIds(top_ids, n_items);
    const test_names: csr.Names = .{ .indptr = "test_indptr", .indices = "test_indices" };
    const test_indptr = try buffer(i32, test_indptr_ptr, n_users + 1, "test_indptr");
    const nnz = try csr.checkIndptr(test_indptr, test_names);
    const test_indices = try buffer(i32, test_indices_ptr, nnz, "test_indices");
    const tests: csr.Csr = .{ .indptr = test_indptr, .indices = test_indices, .data = null };
    const problem: metrics.Problem = .{
        .top_ids = top_ids,
        .width = width,
        .k = k,
        .tests = tests,
        .n_items = n_items,
        .out = try bufferMut(f64, out_ptr, n_users * metrics.column_count, "out"),
    };
    const lease = ThreadPool.acquireGlobal();
    defer lease.release();
    try csr.checkEntries(lease.pool, tests, .{ .n_cols = n_items, .order = .strictly_increasing, .names = test_names });
    try metrics.rankingMetrics(allocator, lease.pool, &problem);
}

// ---------------------------------------------------------------------------
// Argument checks.

const FactorShape = struct { n_rows: usize, n_other: usize, f: usize };

fn checkFactorShape(n_rows_c: c_int, n_other_c: c_int, f_c: c_int) Error!FactorShape {
    return .{
        .n_rows = try count(n_rows_c, "n_rows"),
        .n_other = try count(n_other_c, "n_other"),
        .f = try factorCount(f_c),
    };
}

fn checkWeighting(regularization: f32, alpha: f32) Error!als.Weighting {
    try requireFinite(regularization, "regularization");
    try requireFinite(alpha, "alpha");
    if (regularization < 0) return status.fail(.out_of_range, "Expected regularization to be >= 0 but found {d}", .{regularization});
    if (alpha < 0) return status.fail(.out_of_range, "Expected alpha to be >= 0 but found {d}", .{alpha});
    return .{ .regularization = regularization, .alpha = alpha };
}

/// The ratings' buffers with a checked indptr (entries are checked later, in
/// parallel, once the pool is held).
fn ratingsBuffers(shape: FactorShape, indptr_ptr: ?[*]const i32, indices_ptr: ?[*]const i32, data_ptr: ?[*]const f32) Error!als.Ratings {
    const indptr = try buffer(i32, indptr_ptr, shape.n_rows + 1, "indptr");
    const nnz = try csr.checkIndptr(indptr, .{});
    return .{
        .indptr = indptr,
        .indices = try buffer(i32, indices_ptr, nnz, "indices"),
        .data = try buffer(f32, data_ptr, nnz, "data"),
    };
}

fn ratingsCsr(ratings: als.Ratings) csr.Csr {
    return .{ .indptr = ratings.indptr, .indices = ratings.indices, .data = ratings.data };
}

/// `k`, the results per query of a ranking call: at least 1.
pub fn resultCount(k_c: c_int) Error!usize {
    if (k_c < 1) return status.fail(.out_of_range, "Expected k to be >= 1 but found {d}", .{k_c});
    return @intCast(k_c);
}

/// The item filters every ranking call takes: a 0/1 mask of items never
/// returned and a sorted, duplicate-free candidate list (both nullable).
pub const ItemFilters = struct { item_mask: ?[]const u8, candidates: ?[]const i32 };

pub fn itemFilters(item_mask_ptr: ?[*]const u8, candidates_ptr: ?[*]const i32, n_cand_c: c_int, n_items: usize) Error!ItemFilters {
    const item_mask: ?[]const u8 = if (item_mask_ptr != null) try buffer(u8, item_mask_ptr, n_items, "item_mask") else null;
    const candidates: ?[]const i32 = if (candidates_ptr != null)
        try buffer(i32, candidates_ptr, try count(n_cand_c, "n_cand"), "candidates")
    else
        null;
    if (candidates) |list| try topk.checkCandidates(list, n_items);
    return .{ .item_mask = item_mask, .candidates = candidates };
}

pub fn count(value: c_int, comptime name: []const u8) Error!usize {
    if (value < 0) return status.fail(.out_of_range, "Expected " ++ name ++ " to be >= 0 but found {d}", .{value});
    return @intCast(value);
}

pub fn factorCount(f: c_int) Error!usize {
    if (f < 1 or f > factors_max) {
        return status.fail(.out_of_range, "Expected f to be in 1..{d} but found {d}", .{ factors_max, f });
    }
    return @intCast(f);
}

pub fn requireFinite(value: f32, comptime name: []const u8) Error!void {
    if (!std.math.isFinite(value)) {
        return status.fail(.not_finite, "Expected " ++ name ++ " to be finite but found {f}", .{status.floatName(value)});
    }
}

/// Fails naming the first NaN or infinity of a [rows, f] matrix.
pub fn requireAllFinite(pool: *ThreadPool, values: []const f32, f: usize, comptime name: []const u8) Error!void {
    const position = finite.firstNonFinite(pool, values) orelse return;
    return status.fail(.not_finite, "Expected " ++ name ++ " to be finite but found {f} at " ++ name ++ "[{d}] (row {d}, factor {d})", .{
        status.floatName(values[position]), position, position / f, position % f,
    });
}

/// A slice over a caller's buffer of `len` elements; null only when len is 0.
pub fn buffer(comptime T: type, ptr: ?[*]const T, len: usize, comptime name: []const u8) Error![]const T {
    if (len == 0) return &.{};
    const many = ptr orelse return nullBuffer(len, name);
    return many[0..len];
}

/// `buffer` for an output.
pub fn bufferMut(comptime T: type, ptr: ?[*]T, len: usize, comptime name: []const u8) Error![]T {
    if (len == 0) return &.{};
    const many = ptr orelse return nullBuffer(len, name);
    return many[0..len];
}

fn nullBuffer(len: usize, comptime name: []const u8) Error {
    return status.fail(.invalid_argument, "Expected " ++ name ++ " to be a buffer of {d} elements but found null", .{len});
}

// ---------------------------------------------------------------------------

const testing = std.testing;

fn lastError() []const u8 {
    const Static = struct {
        var text: [status.message_capacity_bytes]u8 = undefined;
    };
    const len: usize = @intCast(tacit_last_error(&Static.text, Static.text.len));
    return Static.text[0..len];
}

test "exports validate their arguments and name them" {
    try testing.expectEqual(1, tacit_abi_version());
    const indptr = [_]i32{ 0, 1, 3 };
    const indices = [_]i32{ 2, 0, 17 };
    const data = [_]f32{ 1, 2, 3 };
    try testing.expectEqual(-2, tacit_csr_check(2, 5, &indptr, &indices, &data, 3));
    try testing.expectEqualStrings("indices[2] = 17 is out of range for 5 columns", lastError());
    try testing.expectEqual(-1, tacit_csr_check(2, 5, &indptr, null, null, 3));
    try testing.expectEqualStrings("Expected indices to be a buffer of 3 elements but found null", lastError());
    try testing.expectEqual(-1, tacit_csr_check(2, 50, &indptr, &indices, &data, 4));
    try testing.expectEqual(0, tacit_csr_check(2, 50, &indptr, &indices, null, 3));

    var x: [2 * 4]f32 = @splat(0.1);
    const y: [50 * 4]f32 = @splat(0.2);
    try testing.expectEqual(-3, tacit_als_solve(0, 3, 2, &indptr, &indices, &data, &x, &y, 50, 4, std.math.nan(f32), 1));
    try testing.expectEqualStrings("Expected regularization to be finite but found NaN", lastError());
    try testing.expectEqual(-2, tacit_als_solve(0, 3, 2, &indptr, &indices, &data, &x, &y, 50, 0, 0.1, 1));
    try testing.expectEqualStrings("Expected f to be in 1..1024 but found 0", lastError());
    try testing.expectEqual(-1, tacit_als_solve(2, 3, 2, &indptr, &indices, &data, &x, &y, 50, 4, 0.1, 1));
    try testing.expectEqual(-2, tacit_als_solve(0, 3, 2, &indptr, &indices, &data, &x, &y, 10, 4, 0.1, 1));
    try testing.expectEqualStrings("indices[2] = 17 is out of range for 10 columns", lastError());
    try testing.expectEqual(0, tacit_als_solve(0, 3, 2, &indptr, &indices, &data, &x, &y, 50, 4, 0.1, 1));
    try testing.expectEqual(0, tacit_als_solve(1, 0, 2, &indptr, &indices, &data, &x, &y, 50, 4, 0.1, 1));
    var loss: [2]f64 = undefined;
    try testing.expectEqual(0, tacit_als_loss(2, &indptr, &indices, &data, &x, &y, 50, 4, 0.1, 1, &loss));
    try testing.expectApproxEqRel(@as(f64, 100 + 6), loss[1], 1e-9);

    var nonfinite: i32 = -1;
    const values = [_]f32{ 1, std.math.inf(f32), std.math.nan(f32) };
    try testing.expectEqual(0, tacit_count_nonfinite(&values, 3, &nonfinite));
    try testing.expectEqual(2, nonfinite);

    var out_ids: [2 * 3]i32 = undefined;
    var out_scores: [2 * 3]f32 = undefined;
    const queries: [2 * 4]f32 = @splat(1);
    try testing.expectEqual(-2, tacit_topk_dot(&queries, 2, &y, 50, 4, null, null, null, null, 0, 0, &out_ids, &out_scores));
    try testing.expectEqualStrings("Expected k to be >= 1 but found 0", lastError());
    const candidates = [_]i32{ 3, 2 };
    try testing.expectEqual(-1, tacit_topk_dot(&queries, 2, &y, 50, 4, null, null, null, &candidates, 2, 3, &out_ids, &out_scores));
    const exclude_indptr = [_]i32{ 0, 1, 1 };
    const exclude_indices = [_]i32{2};
    const two = [_]i32{ 2, 3 };
    try testing.expectEqual(0, tacit_topk_dot(&queries, 2, &y, 50, 4, &exclude_indptr, &exclude_indices, null, &two, 2, 3, &out_ids, &out_scores));
    try testing.expectEqualSlices(i32, &.{ 3, -1, -1, 2, 3, -1 }, &out_ids);

    const test_indptr = [_]i32{ 0, 1, 1 };
    const test_indices = [_]i32{3};
    var metric_rows: [2 * 8]f64 = undefined;
    try testing.expectEqual(0, tacit_ranking_metrics(&out_ids, 2, 3, 3, &test_indptr, &test_indices, 50, 8, &metric_rows));
    try testing.expectEqual(1, metric_rows[0]); // user 0's list [3, -1, -1] hits item 3
    try testing.expectEqual(-1, tacit_ranking_metrics(&out_ids, 2, 3, 3, &test_indptr, &test_indices, 50, 7, &metric_rows));
    try testing.expectEqualStrings("Expected n_columns to be 8 but found 7", lastError());
    try testing.expectEqual(-2, tacit_ranking_metrics(&out_ids, 2, 3, 2, &test_indptr, &test_indices, 50, 8, &metric_rows));
    try testing.expectEqualStrings("Expected width to be <= k = 2 but found 3", lastError());
    try testing.expectEqual(-2, tacit_ranking_metrics(&out_ids, 2, 3, 3, &test_indptr, &test_indices, 3, 8, &metric_rows));
    try testing.expectEqualStrings("top_ids[0] = 3 is out of range for 3 items (-1 marks padding)", lastError());
    const unsorted = [_]i32{ 0, 2, 2 };
    const repeated = [_]i32{ 4, 4 };
    try testing.expectEqual(-1, tacit_ranking_metrics(&out_ids, 2, 3, 3, &unsorted, &repeated, 50, 8, &metric_rows));
    try testing.expectEqualStrings("Expected the column indices of row 0 to be strictly increasing but found test_indices[1] = 4 after test_indices[0] = 4", lastError());
    try testing.expectEqual(-1, tacit_ranking_metrics(&out_ids, 2, 3, 3, &test_indptr, &test_indices, 50, 8, null));
    try testing.expectEqualStrings("Expected out to be a buffer of 16 elements but found null", lastError());

    try testing.expectEqual(0, tacit_set_num_threads(2));
    try testing.expectEqual(2, tacit_get_num_threads());
    try testing.expectEqual(0, tacit_set_num_threads(0));
    try testing.expect(tacit_get_num_threads() >= 1);
}
