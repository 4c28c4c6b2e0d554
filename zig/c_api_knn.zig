//! The C ABI of the item-item nearest-neighbour models (zig/knn.zig). Names,
//! parameter order and status codes follow lib/native/symbols.ts exactly; the
//! argument checks and the error convention are c_api.zig's.

const std = @import("std");
const status = @import("status.zig");
const ThreadPool = @import("ThreadPool.zig");
const csr = @import("csr.zig");
const topk = @import("topk.zig");
const knn = @import("knn.zig");
const c_api = @import("c_api.zig");
const Error = status.Error;

const call = c_api.call;
const count = c_api.count;
const buffer = c_api.buffer;
const bufferMut = c_api.bufferMut;

const allocator = std.heap.c_allocator;

pub export fn tacit_knn_fit(
    n_users: c_int,
    n_items: c_int,
    user_indptr: ?[*]const i32,
    user_indices: ?[*]const i32,
    user_data: ?[*]const f32,
    item_indptr: ?[*]const i32,
    item_indices: ?[*]const i32,
    item_data: ?[*]const f32,
    item_start: c_int,
    item_end: c_int,
    k: c_int,
    out_ids: ?[*]i32,
    out_scores: ?[*]f32,
    out_counts: ?[*]i32,
) c_int {
    return call(knnFit, .{ n_users, n_items, user_indptr, user_indices, user_data, item_indptr, item_indices, item_data, item_start, item_end, k, out_ids, out_scores, out_counts });
}

pub export fn tacit_knn_recommend(
    n_q: c_int,
    query_indptr: ?[*]const i32,
    query_indices: ?[*]const i32,
    query_data: ?[*]const f32,
    n_items: c_int,
    sim_indptr: ?[*]const i32,
    sim_indices: ?[*]const i32,
    sim_data: ?[*]const f32,
    filter_liked: c_int,
    item_mask: ?[*]const u8,
    candidates: ?[*]const i32,
    n_cand: c_int,
    k: c_int,
    out_ids: ?[*]i32,
    out_scores: ?[*]f32,
) c_int {
    return call(knnRecommend, .{ n_q, query_indptr, query_indices, query_data, n_items, sim_indptr, sim_indices, sim_data, filter_liked, item_mask, candidates, n_cand, k, out_ids, out_scores });
}

// ---------------------------------------------------------------------------
// Implementations: validate, then call the kernel.

/// A CSR matrix's buffers with a checked indptr; entries are checked once the pool is held.
fn sparseBuffers(n_rows: usize, indptr_ptr: ?[*]const i32, indices_ptr: ?[*]const i32, data_ptr: ?[*]const f32, comptime names: csr.Names) Error!knn.Sparse {
    const indptr = try buffer(i32, indptr_ptr, n_rows + 1, names.indptr);
    const nnz = try csr.checkIndptr(indptr, names);
    return .{
        .indptr = indptr,
        .indices = try buffer(i32, indices_ptr, nnz, names.indices),
        .data = try buffer(f32, data_ptr, nnz, names.data),
    };
}

fn checkSparse(pool: *ThreadPool, matrix: knn.Sparse, n_cols: usize, comptime names: csr.Names) Error!void {
    const as_csr: csr.Csr = .{ .indptr = matrix.indptr, .indices = matrix.indices, .data = matrix.data };
    try csr.checkEntries(pool, as_csr, .{ .n_cols = n_cols, .order = .any, .names = names });
}

const checkK = c_api.resultCount;

/// rows · k, refused when it cannot be a buffer length.
fn outputLen(rows: usize, k: usize) Error!usize {
    const len = std.math.mul(usize, rows, k) catch return status.fail(.out_of_range, "Expected {d} rows × k = {d} output entries to fit in memory", .{ rows, k });
    if (len > std.math.maxInt(i32) * @as(usize, 4)) {
        return status.fail(.out_of_range, "Expected {d} rows × k = {d} output entries to fit in memory", .{ rows, k });
    }
    return len;
}

const user_names: csr.Names = .{ .indptr = "user_indptr", .indices = "user_indices", .data = "user_data" };
const item_names: csr.Names = .{ .indptr = "item_indptr", .indices = "item_indices", .data = "item_data" };
const query_names: csr.Names = .{ .indptr = "query_indptr", .indices = "query_indices", .data = "query_data" };
const sim_names: csr.Names = .{ .indptr = "sim_indptr", .indices = "sim_indices", .data = "sim_data" };

fn knnFit(
    n_users_c: c_int,
    n_items_c: c_int,
    user_indptr_ptr: ?[*]const i32,
    user_indices_ptr: ?[*]const i32,
    user_data_ptr: ?[*]const f32,
    item_indptr_ptr: ?[*]const i32,
    item_indices_ptr: ?[*]const i32,
    item_data_ptr: ?[*]const f32,
    item_start_c: c_int,
    item_end_c: c_int,
    k_c: c_int,
    out_ids_ptr: ?[*]i32,
    out_scores_ptr: ?[*]f32,
    out_counts_ptr: ?[*]i32,
) Error!void {
    const n_users = try count(n_users_c, "n_users");
    const n_items = try count(n_items_c, "n_items");
    const k = try checkK(k_c);
    if (item_start_c < 0 or item_start_c > item_end_c or item_end_c > n_items_c) {
        return status.fail(.out_of_range, "Expected 0 <= item_start <= item_end <= n_items = {d} but found item_start = {d}, item_end = {d}", .{ n_items, item_start_c, item_end_c });
    }
    const user_items = try sparseBuffers(n_users, user_indptr_ptr, user_indices_ptr, user_data_ptr, user_names);
    const item_users = try sparseBuffers(n_items, item_indptr_ptr, item_indices_ptr, item_data_ptr, item_names);
    if (item_users.indices.len != user_items.indices.len) {
        return status.fail(.invalid_argument, "Expected item_indptr[{d}] to equal user_indptr[{d}] = {d} (the item × user matrix is the transpose) but found {d}", .{
            n_items, n_users, user_items.indices.len, item_users.indices.len,
        });
    }
    const out_len = try outputLen(n_items, k);
    const problem: knn.FitProblem = .{
        .user_items = user_items,
        .item_users = item_users,
        .k = k,
        .item_start = @intCast(item_start_c),
        .item_end = @intCast(item_end_c),
        .out_ids = try bufferMut(i32, out_ids_ptr, out_len, "out_ids"),
        .out_scores = try bufferMut(f32, out_scores_ptr, out_len, "out_scores"),
        .out_counts = try bufferMut(i32, out_counts_ptr, n_items, "out_counts"),
    };
    const lease = ThreadPool.acquireGlobal();
    defer lease.release();
    try checkSparse(lease.pool, user_items, n_items, user_names);
    try checkSparse(lease.pool, item_users, n_users, item_names);
    try knn.fit(allocator, lease.pool, &problem);
}

fn knnRecommend(
    n_q_c: c_int,
    query_indptr_ptr: ?[*]const i32,
    query_indices_ptr: ?[*]const i32,
    query_data_ptr: ?[*]const f32,
    n_items_c: c_int,
    sim_indptr_ptr: ?[*]const i32,
    sim_indices_ptr: ?[*]const i32,
    sim_data_ptr: ?[*]const f32,
    filter_liked_c: c_int,
    item_mask_ptr: ?[*]const u8,
    candidates_ptr: ?[*]const i32,
    n_cand_c: c_int,
    k_c: c_int,
    out_ids_ptr: ?[*]i32,
    out_scores_ptr: ?[*]f32,
) Error!void {
    const n_q = try count(n_q_c, "n_q");
    const n_items = try count(n_items_c, "n_items");
    const k = try checkK(k_c);
    const filter_liked = switch (filter_liked_c) {
        0 => false,
        1 => true,
        else => return status.fail(.invalid_argument, "Expected filter_liked to be 0 or 1 but found {d}", .{filter_liked_c}),
    };
    const queries = try sparseBuffers(n_q, query_indptr_ptr, query_indices_ptr, query_data_ptr, query_names);
    const similarity = try sparseBuffers(n_items, sim_indptr_ptr, sim_indices_ptr, sim_data_ptr, sim_names);
    const filters = try c_api.itemFilters(item_mask_ptr, candidates_ptr, n_cand_c, n_items);
    const out_len = try outputLen(n_q, k);
    const problem: knn.RecommendProblem = .{
        .queries = queries,
        .similarity = similarity,
        .filter = .init(n_items, .{
            .item_mask = filters.item_mask,
            .candidates = filters.candidates,
            .exclusions = if (filter_liked) queries else null,
        }),
        .k = k,
        .out_ids = try bufferMut(i32, out_ids_ptr, out_len, "out_ids"),
        .out_scores = try bufferMut(f32, out_scores_ptr, out_len, "out_scores"),
    };
    const lease = ThreadPool.acquireGlobal();
    defer lease.release();
    try checkSparse(lease.pool, queries, n_items, query_names);
    try checkSparse(lease.pool, similarity, n_items, sim_names);
    try knn.recommend(allocator, lease.pool, &problem);
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

test "the kNN exports compute, validate their arguments and name them" {
    // W: 2 users × 3 items; user 0 has items 0 and 2, user 1 has item 1 and 2.
    const indptr = [_]i32{ 0, 2, 4 };
    const indices = [_]i32{ 0, 2, 1, 2 };
    const data = [_]f32{ 1, 2, 3, 1 };
    // Wᵀ: 3 items × 2 users.
    const t_indptr = [_]i32{ 0, 1, 2, 4 };
    const t_indices = [_]i32{ 0, 1, 0, 1 };
    const t_data = [_]f32{ 1, 3, 2, 1 };
    var ids: [3 * 2]i32 = undefined;
    var scores: [3 * 2]f32 = undefined;
    var counts: [3]i32 = undefined;
    try testing.expectEqual(0, tacit_knn_fit(2, 3, &indptr, &indices, &data, &t_indptr, &t_indices, &t_data, 0, 3, 2, &ids, &scores, &counts));
    // S = WᵀW: row 2 = [2, 3, 5]: keeps items 1 and 2, sorted by id.
    try testing.expectEqualSlices(i32, &.{ 2, 2, 2 }, &counts);
    try testing.expectEqualSlices(i32, &.{ 1, 2 }, ids[4..6]);
    try testing.expectEqualSlices(f32, &.{ 3, 5 }, scores[4..6]);

    try testing.expectEqual(-2, tacit_knn_fit(2, 3, &indptr, &indices, &data, &t_indptr, &t_indices, &t_data, 0, 3, 0, &ids, &scores, &counts));
    try testing.expectEqualStrings("Expected k to be >= 1 but found 0", lastError());
    try testing.expectEqual(-2, tacit_knn_fit(2, 3, &indptr, &indices, &data, &t_indptr, &t_indices, &t_data, 2, 4, 2, &ids, &scores, &counts));
    try testing.expectEqualStrings("Expected 0 <= item_start <= item_end <= n_items = 3 but found item_start = 2, item_end = 4", lastError());
    try testing.expectEqual(-1, tacit_knn_fit(2, 2, &indptr, &indices, &data, &t_indptr, &t_indices, &t_data, 0, 2, 2, &ids, &scores, &counts));
    try testing.expectEqualStrings("Expected item_indptr[2] to equal user_indptr[2] = 4 (the item × user matrix is the transpose) but found 2", lastError());
    const far_users = [_]i32{ 0, 1, 0, 5 };
    try testing.expectEqual(-2, tacit_knn_fit(2, 3, &indptr, &indices, &data, &t_indptr, &far_users, &t_data, 0, 3, 2, &ids, &scores, &counts));
    try testing.expectEqualStrings("item_indices[3] = 5 is out of range for 2 columns", lastError());
    try testing.expectEqual(-1, tacit_knn_fit(2, 3, &indptr, &indices, &data, &t_indptr, &t_indices, &t_data, 0, 3, 2, &ids, &scores, null));
    try testing.expectEqualStrings("Expected out_counts to be a buffer of 3 elements but found null", lastError());
    const bad_data = [_]f32{ 1, std.math.nan(f32), 3, 1 };
    try testing.expectEqual(-3, tacit_knn_fit(2, 3, &indptr, &indices, &bad_data, &t_indptr, &t_indices, &t_data, 0, 3, 2, &ids, &scores, &counts));
    try testing.expectEqualStrings("Expected user_data[1] to be finite but found NaN", lastError());

    // Recommend for user 0 from the full S (k = 3 keeps everything).
    var sim_ids: [9]i32 = undefined;
    var sim_scores: [9]f32 = undefined;
    try testing.expectEqual(0, tacit_knn_fit(2, 3, &indptr, &indices, &data, &t_indptr, &t_indices, &t_data, 0, 3, 3, &sim_ids, &sim_scores, &counts));
    // Compact the [3, 3] rows (2, 2 and 3 neighbours) into a CSR matrix.
    try testing.expectEqualSlices(i32, &.{ 2, 2, 3 }, &counts);
    const sim_indptr = [_]i32{ 0, 2, 4, 7 };
    const sim_indices = sim_ids[0..2].* ++ sim_ids[3..5].* ++ sim_ids[6..9].*;
    const sim_values = sim_scores[0..2].* ++ sim_scores[3..5].* ++ sim_scores[6..9].*;
    var out_ids: [2]i32 = undefined;
    var out_scores: [2]f32 = undefined;
    const query_indptr = [_]i32{ 0, 2 };
    try testing.expectEqual(0, tacit_knn_recommend(1, &query_indptr, &indices, &data, 3, &sim_indptr, &sim_indices, &sim_values, 1, null, null, 0, 2, &out_ids, &out_scores));
    // Items 0 and 2 are liked: item 1 scores 1·0 + 2·3 = 6, then padding.
    try testing.expectEqualSlices(i32, &.{ 1, -1 }, &out_ids);
    try testing.expectEqual(6, out_scores[0]);
    try testing.expectEqual(-1, tacit_knn_recommend(1, &query_indptr, &indices, &data, 3, &sim_indptr, &sim_indices, &sim_values, 2, null, null, 0, 2, &out_ids, &out_scores));
    try testing.expectEqualStrings("Expected filter_liked to be 0 or 1 but found 2", lastError());
    const far = [_]i32{ 0, 7 };
    try testing.expectEqual(-2, tacit_knn_recommend(1, &query_indptr, &far, &data, 3, &sim_indptr, &sim_indices, &sim_values, 1, null, null, 0, 2, &out_ids, &out_scores));
    try testing.expectEqualStrings("query_indices[1] = 7 is out of range for 3 columns", lastError());
    const unsorted = [_]i32{ 2, 1 };
    try testing.expectEqual(-1, tacit_knn_recommend(1, &query_indptr, &indices, &data, 3, &sim_indptr, &sim_indices, &sim_values, 1, null, &unsorted, 2, 2, &out_ids, &out_scores));
}
