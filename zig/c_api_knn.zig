//! The exports of the item-item nearest-neighbour models (zig/knn.zig).
//! Declared and checked as c_api.zig's exports are (abi/edge.zig).

const std = @import("std");
const status = @import("status.zig");
const ThreadPool = @import("ThreadPool.zig");
const csr = @import("csr.zig");
const knn = @import("knn.zig");
const abi = @import("abi/declaration.zig");
const edge = @import("abi/edge.zig");
const View = @import("abi/layout.zig").View;
const checks = @import("abi/checks.zig");
const Error = status.Error;

const count = abi.count;
const int = abi.int;
const output = abi.output;
const times = abi.times;

const allocator = std.heap.c_allocator;

/// Rows [item_start, item_end) of the item-item similarity S = Wᵀ W of a
/// weighted user × item matrix W, keeping the k largest entries per row
/// (score descending, then id ascending; the item itself is a candidate).
/// Row i of the outputs holds its kept neighbours sorted by id, out_counts[i]
/// of them, padded with −1 / −Infinity. The item × user matrix must be Wᵀ.
const knn_fit_declaration: abi.Declaration = .{ .name = "tacit_knn_fit", .long = true, .params = &([_]abi.Param{
    count("n_users"),
    count("n_items"),
} ++ abi.csr("user_", "n_users", true) ++ abi.csr("item_", "n_items", true) ++ [_]abi.Param{
    int("item_start"),
    int("item_end"),
    count("k"),
    output(.i32, "out_ids", times(&.{ "n_items", "k" })),
    output(.f32, "out_scores", times(&.{ "n_items", "k" })),
    output(.i32, "out_counts", times(&.{"n_items"})),
}) };
pub const knn_fit = edge.Export(knn_fit_declaration, knnFit);

const user_names: csr.Names = .{ .indptr = "user_indptr", .indices = "user_indices", .data = "user_data" };
const item_names: csr.Names = .{ .indptr = "item_indptr", .indices = "item_indices", .data = "item_data" };
const query_names: csr.Names = .{ .indptr = "query_indptr", .indices = "query_indices", .data = "query_data" };
const sim_names: csr.Names = .{ .indptr = "sim_indptr", .indices = "sim_indices", .data = "sim_data" };

fn knnFit(pool: *ThreadPool, a: View(knn_fit_declaration)) Error!void {
    const k = try checks.resultCount(a.k);
    if (a.item_start < 0 or a.item_start > a.item_end or a.item_end > a.n_items) {
        return status.fail(.out_of_range, "Expected 0 <= item_start <= item_end <= n_items = {d} but found item_start = {d}, item_end = {d}", .{ a.n_items, a.item_start, a.item_end });
    }
    if (a.item_indices.len != a.user_indices.len) {
        return status.fail(.invalid_argument, "Expected item_indptr[{d}] to equal user_indptr[{d}] = {d} (the item × user matrix is the transpose) but found {d}", .{
            a.n_items, a.n_users, a.user_indices.len, a.item_indices.len,
        });
    }
    const user_items = try checks.checkedCsr(pool, a.user_indptr, a.user_indices, a.user_data, a.n_items, .any, user_names);
    const item_users = try checks.checkedCsr(pool, a.item_indptr, a.item_indices, a.item_data, a.n_users, .any, item_names);
    const problem: knn.FitProblem = .{
        .user_items = user_items,
        .item_users = item_users,
        .k = k,
        .item_start = @intCast(a.item_start),
        .item_end = @intCast(a.item_end),
        .out_ids = a.out_ids,
        .out_scores = a.out_scores,
        .out_counts = a.out_counts,
    };
    try knn.fit(allocator, pool, &problem);
}

/// Item-item recommendations for a batch of users, in parallel: query q's
/// score for item j is Σ_{i in row q} x_qi · S[i, j]; every item not left out
/// is ranked (score descending, id ascending). An item is left out when
/// filter_liked = 1 and it is in the query's row, when item_mask[item] != 0,
/// or when a candidate list is given and lacks it. Short rows are padded.
const knn_recommend_declaration: abi.Declaration = .{ .name = "tacit_knn_recommend", .params = &([_]abi.Param{
    count("n_q"),
} ++ abi.csr("query_", "n_q", true) ++ [_]abi.Param{
    count("n_items"),
} ++ abi.csr("sim_", "n_items", true) ++ [_]abi.Param{
    int("filter_liked"),
} ++ abi.rankedOutputs("n_items", "n_q")) };
pub const knn_recommend = edge.Export(knn_recommend_declaration, knnRecommend);

fn knnRecommend(pool: *ThreadPool, a: View(knn_recommend_declaration)) Error!void {
    const k = try checks.resultCount(a.k);
    const filter_liked = try checks.flag(a.filter_liked, "filter_liked");
    try checks.checkCandidates(a.candidates, a.n_items);
    const queries = try checks.checkedCsr(pool, a.query_indptr, a.query_indices, a.query_data, a.n_items, .any, query_names);
    const similarity = try checks.checkedCsr(pool, a.sim_indptr, a.sim_indices, a.sim_data, a.n_items, .any, sim_names);
    const problem: knn.RecommendProblem = .{
        .queries = queries,
        .similarity = similarity,
        .filter = .init(a.n_items, .{
            .item_mask = a.item_mask,
            .candidates = a.candidates,
            .exclusions = if (filter_liked) queries else null,
        }),
        .k = k,
        .out_ids = a.out_ids,
        .out_scores = a.out_scores,
    };
    try knn.recommend(allocator, pool, &problem);
}

// ---------------------------------------------------------------------------

const testing = std.testing;
const callForTest = edge.callWithSlices;
const withField = edge.withField;

fn expectFailure(expected_status: c_int, expected_message: []const u8, result: edge.SliceCallResult) !void {
    try testing.expectEqualStrings(expected_message, result.message());
    try testing.expectEqual(expected_status, result.status);
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
    const fit = .{ .n_users = 2, .n_items = 3, .user_indptr = &indptr, .user_indices = &indices, .user_data = &data, .item_indptr = &t_indptr, .item_indices = &t_indices, .item_data = &t_data, .item_start = 0, .item_end = 3, .k = 2, .out_ids = &ids, .out_scores = &scores, .out_counts = &counts };
    try testing.expectEqual(0, callForTest(knn_fit, fit).status);
    // S = WᵀW: row 2 = [2, 3, 5]: keeps items 1 and 2, sorted by id.
    try testing.expectEqualSlices(i32, &.{ 2, 2, 2 }, &counts);
    try testing.expectEqualSlices(i32, &.{ 1, 2 }, ids[4..6]);
    try testing.expectEqualSlices(f32, &.{ 3, 5 }, scores[4..6]);

    try expectFailure(-2, "Expected k to be >= 1 but found 0", callForTest(knn_fit, withField(withField(withField(fit, "k", 0), "out_ids", ids[0..0]), "out_scores", scores[0..0])));
    try expectFailure(-2, "Expected 0 <= item_start <= item_end <= n_items = 3 but found item_start = 2, item_end = 4", callForTest(knn_fit, withField(withField(fit, "item_start", 2), "item_end", 4)));
    const far_users = [_]i32{ 0, 1, 0, 5 };
    try expectFailure(-2, "item_indices[3] = 5 is out of range for 2 columns", callForTest(knn_fit, withField(fit, "item_indices", &far_users)));
    try expectFailure(-1, "Expected out_counts to be a buffer of 3 elements but found null", callForTest(knn_fit, withField(fit, "out_counts", null)));
    try expectFailure(-1, "Expected out_ids to have 6 elements (n_items × k) but found 5", callForTest(knn_fit, withField(fit, "out_ids", ids[0..5])));
    const bad_data = [_]f32{ 1, std.math.nan(f32), 3, 1 };
    try expectFailure(-3, "Expected user_data[1] to be finite but found NaN", callForTest(knn_fit, withField(fit, "user_data", &bad_data)));
    const short_transpose = [_]i32{ 0, 1, 2, 3 };
    try expectFailure(-1, "Expected item_indptr[3] to equal user_indptr[2] = 4 (the item × user matrix is the transpose) but found 3", callForTest(knn_fit, withField(withField(withField(fit, "item_indptr", &short_transpose), "item_indices", t_indices[0..3]), "item_data", t_data[0..3])));

    // Recommend for user 0 from the full S (k = 3 keeps everything).
    var sim_ids: [9]i32 = undefined;
    var sim_scores: [9]f32 = undefined;
    try testing.expectEqual(0, callForTest(knn_fit, withField(withField(withField(fit, "k", 3), "out_ids", &sim_ids), "out_scores", &sim_scores)).status);
    // Compact the [3, 3] rows (2, 2 and 3 neighbours) into a CSR matrix.
    try testing.expectEqualSlices(i32, &.{ 2, 2, 3 }, &counts);
    const sim_indptr = [_]i32{ 0, 2, 4, 7 };
    const sim_indices = sim_ids[0..2].* ++ sim_ids[3..5].* ++ sim_ids[6..9].*;
    const sim_values = sim_scores[0..2].* ++ sim_scores[3..5].* ++ sim_scores[6..9].*;
    var out_ids: [2]i32 = undefined;
    var out_scores: [2]f32 = undefined;
    const query_indptr = [_]i32{ 0, 2 };
    const recommend = .{ .n_q = 1, .query_indptr = &query_indptr, .query_indices = indices[0..2], .query_data = data[0..2], .n_items = 3, .sim_indptr = &sim_indptr, .sim_indices = &sim_indices, .sim_data = &sim_values, .filter_liked = 1, .item_mask = null, .candidates = null, .n_cand = 0, .k = 2, .out_ids = &out_ids, .out_scores = &out_scores };
    try testing.expectEqual(0, callForTest(knn_recommend, recommend).status);
    // Items 0 and 2 are liked: item 1 scores 1·0 + 2·3 = 6, then padding.
    try testing.expectEqualSlices(i32, &.{ 1, -1 }, &out_ids);
    try testing.expectEqual(6, out_scores[0]);
    try expectFailure(-1, "Expected filter_liked to be 0 or 1 but found 2", callForTest(knn_recommend, withField(recommend, "filter_liked", 2)));
    const far = [_]i32{ 0, 7 };
    try expectFailure(-2, "query_indices[1] = 7 is out of range for 3 columns", callForTest(knn_recommend, withField(recommend, "query_indices", &far)));
    const unsorted = [_]i32{ 2, 1 };
    try testing.expectEqual(-1, callForTest(knn_recommend, withField(withField(recommend, "candidates", &unsorted), "n_cand", 2)).status);
}
