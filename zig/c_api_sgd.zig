//! The C ABI of the stochastic-gradient models: Bayesian personalised ranking
//! (zig/bpr.zig) and logistic matrix factorization (zig/lmf.zig). Names,
//! parameter order and status codes follow lib/native/symbols.ts exactly; the
//! argument checks and the error convention are c_api.zig's.

const std = @import("std");
const status = @import("status.zig");
const ThreadPool = @import("ThreadPool.zig");
const csr = @import("csr.zig");
const bpr = @import("bpr.zig");
const lmf = @import("lmf.zig");
const c_api = @import("c_api.zig");
const Error = status.Error;

const call = c_api.call;
const count = c_api.count;
const factorCount = c_api.factorCount;
const requireFinite = c_api.requireFinite;
const requireAllFinite = c_api.requireAllFinite;
const buffer = c_api.buffer;
const bufferMut = c_api.bufferMut;

const allocator = std.heap.c_allocator;

pub export fn tacit_bpr_epoch(
    n_rows: c_int,
    n_cols: c_int,
    indptr: ?[*]const i32,
    indices: ?[*]const i32,
    row_of: ?[*]const i32,
    user_factors: ?[*]f32,
    item_factors: ?[*]f32,
    f: c_int,
    learning_rate: f32,
    regularization: f32,
    verify_negatives: c_int,
    seed: c_int,
    n_samples: c_int,
    out_counts: ?[*]i32,
) c_int {
    return call(bprEpoch, .{ n_rows, n_cols, indptr, indices, row_of, user_factors, item_factors, f, learning_rate, regularization, verify_negatives, seed, n_samples, out_counts });
}

pub export fn tacit_bpr_step(
    user: ?[*]f32,
    liked: ?[*]f32,
    disliked: ?[*]f32,
    f: c_int,
    learning_rate: f32,
    regularization: f32,
    out_correct: ?[*]i32,
) c_int {
    return call(bprStep, .{ user, liked, disliked, f, learning_rate, regularization, out_correct });
}

pub export fn tacit_bpr_sample(
    n_rows: c_int,
    n_cols: c_int,
    indptr: ?[*]const i32,
    indices: ?[*]const i32,
    row_of: ?[*]const i32,
    verify_negatives: c_int,
    seed: c_int,
    n_samples: c_int,
    out_users: ?[*]i32,
    out_liked: ?[*]i32,
    out_disliked: ?[*]i32,
) c_int {
    return call(bprSample, .{ n_rows, n_cols, indptr, indices, row_of, verify_negatives, seed, n_samples, out_users, out_liked, out_disliked });
}

pub export fn tacit_lmf_update(
    n_rows: c_int,
    indptr: ?[*]const i32,
    indices: ?[*]const i32,
    data: ?[*]const f32,
    x: ?[*]f32,
    y: ?[*]const f32,
    n_other: c_int,
    f: c_int,
    adagrad: ?[*]f32,
    fixed_column: c_int,
    learning_rate: f32,
    regularization: f32,
    neg_prop: c_int,
    seed: c_int,
) c_int {
    return call(lmfUpdate, .{ n_rows, indptr, indices, data, x, y, n_other, f, adagrad, fixed_column, learning_rate, regularization, neg_prop, seed });
}

// ---------------------------------------------------------------------------
// Implementations: validate, then call the kernel.

const Shape = struct { n_rows: usize, n_cols: usize };

/// bpr's inputs: the liked items (a CSR view without values) and, beside it,
/// the row of every nonzero.
const Likes = struct { matrix: csr.Csr, row_of: []const i32 };

/// The liked items with a checked indptr, and row_of; entries are checked once
/// the pool is held.
fn likesBuffers(shape: Shape, indptr_ptr: ?[*]const i32, indices_ptr: ?[*]const i32, row_of_ptr: ?[*]const i32) Error!Likes {
    const indptr = try buffer(i32, indptr_ptr, shape.n_rows + 1, "indptr");
    const nnz = try csr.checkIndptr(indptr, .{});
    return .{
        .matrix = .{ .indptr = indptr, .indices = try buffer(i32, indices_ptr, nnz, "indices"), .data = null },
        .row_of = try buffer(i32, row_of_ptr, nnz, "row_of"),
    };
}

/// Checks the entries (sorted, in range) and row_of, in parallel.
fn checkLikes(pool: *ThreadPool, likes: Likes, shape: Shape, n_samples: usize) Error!void {
    try csr.checkEntries(pool, likes.matrix, .{ .n_cols = shape.n_cols, .order = .strictly_increasing });
    if (bpr.firstBadRowOf(pool, likes.matrix.indptr, likes.row_of)) |nz| {
        const row = rowOf(likes.matrix.indptr, nz);
        return status.fail(.invalid_argument, "Expected row_of[{d}] to be {d} (the row holding nonzero {d}) but found {d}", .{ nz, row, nz, likes.row_of[nz] });
    }
    if (likes.matrix.nnz() == 0 and n_samples > 0) {
        return status.fail(.out_of_range, "Expected a matrix with at least one nonzero to draw {d} samples from but found none", .{n_samples});
    }
}

fn rowOf(indptr: []const i32, nz: usize) usize {
    var row: usize = 0;
    while (row + 1 < indptr.len and indptr[row + 1] <= nz) row += 1;
    return row;
}

fn checkRates(learning_rate: f32, regularization: f32) Error!void {
    try requireFinite(learning_rate, "learning_rate");
    try requireFinite(regularization, "regularization");
    if (learning_rate < 0) return status.fail(.out_of_range, "Expected learning_rate to be >= 0 but found {d}", .{learning_rate});
    if (regularization < 0) return status.fail(.out_of_range, "Expected regularization to be >= 0 but found {d}", .{regularization});
}

fn flag(value: c_int, comptime name: []const u8) Error!bool {
    return switch (value) {
        0 => false,
        1 => true,
        else => status.fail(.invalid_argument, "Expected " ++ name ++ " to be 0 or 1 but found {d}", .{value}),
    };
}

fn seedOf(seed: c_int) u64 {
    return @as(u32, @bitCast(seed));
}

fn bprEpoch(
    n_rows_c: c_int,
    n_cols_c: c_int,
    indptr_ptr: ?[*]const i32,
    indices_ptr: ?[*]const i32,
    row_of_ptr: ?[*]const i32,
    user_factors_ptr: ?[*]f32,
    item_factors_ptr: ?[*]f32,
    f_c: c_int,
    learning_rate: f32,
    regularization: f32,
    verify_c: c_int,
    seed: c_int,
    n_samples_c: c_int,
    out_counts_ptr: ?[*]i32,
) Error!void {
    const shape: Shape = .{ .n_rows = try count(n_rows_c, "n_rows"), .n_cols = try count(n_cols_c, "n_cols") };
    const f = try factorCount(f_c);
    try checkRates(learning_rate, regularization);
    const verify = try flag(verify_c, "verify_negatives");
    const n_samples = try count(n_samples_c, "n_samples");
    const likes = try likesBuffers(shape, indptr_ptr, indices_ptr, row_of_ptr);
    const user_factors = try bufferMut(f32, user_factors_ptr, shape.n_rows * f, "user_factors");
    const item_factors = try bufferMut(f32, item_factors_ptr, shape.n_cols * f, "item_factors");
    const out_counts = try bufferMut(i32, out_counts_ptr, 2, "out_counts");

    const lease = ThreadPool.acquireGlobal();
    defer lease.release();
    try checkLikes(lease.pool, likes, shape, n_samples);
    try requireAllFinite(lease.pool, user_factors, f, "user_factors");
    try requireAllFinite(lease.pool, item_factors, f, "item_factors");
    const counts = bpr.epoch(lease.pool, likes.matrix, likes.row_of, user_factors, item_factors, f, .{
        .learning_rate = learning_rate,
        .regularization = regularization,
        .verify_negatives = verify,
        .seed = seedOf(seed),
        .n_samples = n_samples,
    });
    out_counts[0] = @intCast(counts.correct);
    out_counts[1] = @intCast(counts.skipped);
}

fn bprStep(
    user_ptr: ?[*]f32,
    liked_ptr: ?[*]f32,
    disliked_ptr: ?[*]f32,
    f_c: c_int,
    learning_rate: f32,
    regularization: f32,
    out_correct_ptr: ?[*]i32,
) Error!void {
    const f = try factorCount(f_c);
    try checkRates(learning_rate, regularization);
    const user = try bufferMut(f32, user_ptr, f, "user");
    const liked = try bufferMut(f32, liked_ptr, f, "liked");
    const disliked = try bufferMut(f32, disliked_ptr, f, "disliked");
    const out_correct = try bufferMut(i32, out_correct_ptr, 1, "out_correct");
    if (overlaps(user, liked) or overlaps(user, disliked) or overlaps(liked, disliked)) {
        return status.fail(.invalid_argument, "Expected user, liked and disliked to be three separate buffers but two of them overlap", .{});
    }
    for ([_][]const f32{ user, liked, disliked }, [_][]const u8{ "user", "liked", "disliked" }) |row, name| {
        for (row, 0..) |value, j| {
            if (!std.math.isFinite(value)) {
                return status.fail(.not_finite, "Expected {s} to be finite but found {f} at {s}[{d}]", .{ name, status.floatName(value), name, j });
            }
        }
    }
    out_correct[0] = @intFromBool(bpr.step(user, liked, disliked, learning_rate, regularization));
}

fn overlaps(a: []const f32, b: []const f32) bool {
    const a_start = @intFromPtr(a.ptr);
    const b_start = @intFromPtr(b.ptr);
    return a_start < b_start + b.len * @sizeOf(f32) and b_start < a_start + a.len * @sizeOf(f32);
}

fn bprSample(
    n_rows_c: c_int,
    n_cols_c: c_int,
    indptr_ptr: ?[*]const i32,
    indices_ptr: ?[*]const i32,
    row_of_ptr: ?[*]const i32,
    verify_c: c_int,
    seed: c_int,
    n_samples_c: c_int,
    out_users_ptr: ?[*]i32,
    out_liked_ptr: ?[*]i32,
    out_disliked_ptr: ?[*]i32,
) Error!void {
    const shape: Shape = .{ .n_rows = try count(n_rows_c, "n_rows"), .n_cols = try count(n_cols_c, "n_cols") };
    const verify = try flag(verify_c, "verify_negatives");
    const n_samples = try count(n_samples_c, "n_samples");
    const likes = try likesBuffers(shape, indptr_ptr, indices_ptr, row_of_ptr);
    const out_users = try bufferMut(i32, out_users_ptr, n_samples, "out_users");
    const out_liked = try bufferMut(i32, out_liked_ptr, n_samples, "out_liked");
    const out_disliked = try bufferMut(i32, out_disliked_ptr, n_samples, "out_disliked");

    const lease = ThreadPool.acquireGlobal();
    defer lease.release();
    try checkLikes(lease.pool, likes, shape, n_samples);
    bpr.sample(likes.matrix, likes.row_of, .{
        .learning_rate = 0,
        .regularization = 0,
        .verify_negatives = verify,
        .seed = seedOf(seed),
        .n_samples = n_samples,
    }, out_users, out_liked, out_disliked);
}

fn lmfUpdate(
    n_rows_c: c_int,
    indptr_ptr: ?[*]const i32,
    indices_ptr: ?[*]const i32,
    data_ptr: ?[*]const f32,
    x_ptr: ?[*]f32,
    y_ptr: ?[*]const f32,
    n_other_c: c_int,
    f_c: c_int,
    adagrad_ptr: ?[*]f32,
    fixed_column_c: c_int,
    learning_rate: f32,
    regularization: f32,
    neg_prop_c: c_int,
    seed: c_int,
) Error!void {
    const n_rows = try count(n_rows_c, "n_rows");
    const n_other = try count(n_other_c, "n_other");
    const f = try factorCount(f_c);
    if (fixed_column_c < 0 or fixed_column_c >= f_c) {
        return status.fail(.out_of_range, "Expected fixed_column to be in 0..{d} but found {d}", .{ f - 1, fixed_column_c });
    }
    try checkRates(learning_rate, regularization);
    const neg_prop = try count(neg_prop_c, "neg_prop");
    const indptr = try buffer(i32, indptr_ptr, n_rows + 1, "indptr");
    const nnz = try csr.checkIndptr(indptr, .{});
    const ratings: lmf.Ratings = .{
        .indptr = indptr,
        .indices = try buffer(i32, indices_ptr, nnz, "indices"),
        .data = try buffer(f32, data_ptr, nnz, "data"),
    };
    const x = try bufferMut(f32, x_ptr, n_rows * f, "x");
    const y = try buffer(f32, y_ptr, n_other * f, "y");
    const adagrad = try bufferMut(f32, adagrad_ptr, n_rows * f, "adagrad");

    const lease = ThreadPool.acquireGlobal();
    defer lease.release();
    const matrix: csr.Csr = .{ .indptr = ratings.indptr, .indices = ratings.indices, .data = ratings.data };
    try csr.checkEntries(lease.pool, matrix, .{ .n_cols = n_other, .order = .any });
    try requireAllFinite(lease.pool, x, f, "x");
    try requireAllFinite(lease.pool, y, f, "y");
    try requireAllFinite(lease.pool, adagrad, f, "adagrad");
    try lmf.halfEpoch(allocator, lease.pool, ratings, x, y, f, adagrad, .{
        .learning_rate = learning_rate,
        .regularization = regularization,
        .neg_prop = neg_prop,
        .seed = seedOf(seed),
        .fixed_column = @intCast(fixed_column_c),
    });
}

// ---------------------------------------------------------------------------

const testing = std.testing;

fn lastError() []const u8 {
    const Static = struct {
        var text: [status.message_capacity_bytes]u8 = undefined;
    };
    const len: usize = @intCast(c_api.tacit_last_error(&Static.text, Static.text.len));
    return Static.text[0..len];
}

test "the SGD exports validate their arguments and name them" {
    const indptr = [_]i32{ 0, 2, 3 };
    const indices = [_]i32{ 0, 2, 1 };
    var row_of = [_]i32{ 0, 0, 1 };
    const data = [_]f32{ 1, 2, 3 };
    var users: [2 * 3]f32 = @splat(0.1);
    var items: [3 * 3]f32 = @splat(0.1);
    var counts: [2]i32 = undefined;
    try testing.expectEqual(0, tacit_bpr_epoch(2, 3, &indptr, &indices, &row_of, &users, &items, 3, 0.05, 0.01, 1, 7, 10, &counts));
    try testing.expect(counts[0] + counts[1] <= 10);
    try testing.expectEqual(-2, tacit_bpr_epoch(2, 2, &indptr, &indices, &row_of, &users, &items, 3, 0.05, 0.01, 1, 7, 10, &counts));
    try testing.expectEqualStrings("indices[1] = 2 is out of range for 2 columns", lastError());
    try testing.expectEqual(-2, tacit_bpr_epoch(2, 3, &indptr, &indices, &row_of, &users, &items, 3, -1, 0.01, 1, 7, 10, &counts));
    try testing.expectEqualStrings("Expected learning_rate to be >= 0 but found -1", lastError());
    try testing.expectEqual(-3, tacit_bpr_epoch(2, 3, &indptr, &indices, &row_of, &users, &items, 3, 0.05, std.math.nan(f32), 1, 7, 10, &counts));
    try testing.expectEqual(-1, tacit_bpr_epoch(2, 3, &indptr, &indices, &row_of, &users, &items, 3, 0.05, 0.01, 2, 7, 10, &counts));
    row_of[2] = 0;
    try testing.expectEqual(-1, tacit_bpr_epoch(2, 3, &indptr, &indices, &row_of, &users, &items, 3, 0.05, 0.01, 1, 7, 10, &counts));
    try testing.expectEqualStrings("Expected row_of[2] to be 1 (the row holding nonzero 2) but found 0", lastError());
    row_of[2] = 1;

    var out_users: [5]i32 = undefined;
    var out_liked: [5]i32 = undefined;
    var out_disliked: [5]i32 = undefined;
    try testing.expectEqual(0, tacit_bpr_sample(2, 3, &indptr, &indices, &row_of, 1, 3, 5, &out_users, &out_liked, &out_disliked));
    for (out_users, out_disliked) |u, j| {
        // User 0 likes items 0 and 2, user 1 likes item 1: a verified negative is the other user's.
        if (j >= 0) try testing.expect((u == 0 and j == 1) or (u == 1 and j != 1));
    }

    var user = [_]f32{ 0.1, 0.2, 1 };
    var liked = [_]f32{ 0.3, -0.1, 0.2 };
    var correct: [1]i32 = undefined;
    try testing.expectEqual(-1, tacit_bpr_step(&user, &user, &liked, 3, 0.05, 0.01, &correct));

    var adagrad: [2 * 4]f32 = @splat(0);
    var x: [2 * 4]f32 = @splat(0.1);
    const y: [3 * 4]f32 = @splat(0.2);
    try testing.expectEqual(0, tacit_lmf_update(2, &indptr, &indices, &data, &x, &y, 3, 4, &adagrad, 2, 1, 0.6, 5, 1));
    try testing.expectEqual(-2, tacit_lmf_update(2, &indptr, &indices, &data, &x, &y, 3, 4, &adagrad, 4, 1, 0.6, 5, 1));
    try testing.expectEqualStrings("Expected fixed_column to be in 0..3 but found 4", lastError());
    try testing.expectEqual(-2, tacit_lmf_update(2, &indptr, &indices, &data, &x, &y, 3, 4, &adagrad, 2, 1, 0.6, -5, 1));
    try testing.expectEqualStrings("Expected neg_prop to be >= 0 but found -5", lastError());
}
