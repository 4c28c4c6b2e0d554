//! The export of full-catalogue ranks (zig/ranks.zig), the core of LightFM's
//! `predict_rank` and its evaluation functions. Declared and checked as
//! c_api.zig's exports are (abi/edge.zig).

const std = @import("std");
const status = @import("status.zig");
const ThreadPool = @import("ThreadPool.zig");
const csr = @import("csr.zig");
const ranks = @import("ranks.zig");
const abi = @import("abi/declaration.zig");
const edge = @import("abi/edge.zig");
const View = @import("abi/layout.zig").View;
const checks = @import("abi/checks.zig");
const Error = status.Error;

const count = abi.count;
const input = abi.input;
const optionalInput = abi.optionalInput;
const output = abi.output;
const times = abi.times;
const plusOne = abi.plusOne;
const lastOf = abi.lastOf;

const allocator = std.heap.c_allocator;

/// For every stored entry (u, i) of the test CSR, writes into out_ranks the
/// number of items j != i that are not in row u of the train CSR and score
/// x_u·y_j >= x_u·y_i (0 = best; LightFM's predict_rank). Test rows must be
/// strictly increasing, train rows sorted; the train CSR may be null.
const factor_ranks_declaration: abi.Declaration = .{ .name = "tacit_factor_ranks", .params = &([_]abi.Param{
    count("n_users"),
    count("n_items"),
    count("f"),
    input(.f32, "user_factors", times(&.{ "n_users", "f" })),
    input(.f32, "item_factors", times(&.{ "n_items", "f" })),
} ++ abi.csr("test_", "n_users", false) ++ [_]abi.Param{
    optionalInput(.i32, "train_indptr", plusOne("n_users")),
    input(.i32, "train_indices", lastOf("train_indptr")),
    output(.f32, "out_ranks", lastOf("test_indptr")),
}) };
pub const factor_ranks = edge.Export(factor_ranks_declaration, factorRanks);

const test_names: csr.Names = .{ .indptr = "test_indptr", .indices = "test_indices" };
const train_names: csr.Names = .{ .indptr = "train_indptr", .indices = "train_indices" };

fn factorRanks(pool: *ThreadPool, a: View(factor_ranks_declaration)) Error!void {
    const f = try checks.factorCount(a.f);
    const tests = try checks.checkedCsr(pool, a.test_indptr, a.test_indices, null, a.n_items, .strictly_increasing, test_names);
    const train: ?csr.Csr = if (a.train_indptr) |indptr|
        try checks.checkedCsr(pool, indptr, a.train_indices, null, a.n_items, .non_decreasing, train_names)
    else
        null;
    try checks.requireAllFinite(pool, a.user_factors, f, "user_factors");
    try checks.requireAllFinite(pool, a.item_factors, f, "item_factors");
    const problem: ranks.Problem = .{
        .user_factors = a.user_factors,
        .item_factors = a.item_factors,
        .f = f,
        .tests = tests,
        .train = train,
        .out_ranks = a.out_ranks,
    };
    try ranks.factorRanks(allocator, pool, &problem);
}

// ---------------------------------------------------------------------------

const testing = std.testing;
const callForTest = edge.callWithSlices;
const withField = edge.withField;

fn expectFailure(expected_status: c_int, expected_message: []const u8, result: edge.SliceCallResult) !void {
    try testing.expectEqualStrings(expected_message, result.message());
    try testing.expectEqual(expected_status, result.status);
}

test "tacit_factor_ranks computes ranks, validates its arguments and names them" {
    // 2 users × 3 items, f = 1: user 0 scores the items 1, 2, 3; user 1 scores them −1, −2, −3.
    const user_factors = [_]f32{ 1, -1 };
    const item_factors = [_]f32{ 1, 2, 3 };
    const test_indptr = [_]i32{ 0, 2, 3 };
    const test_indices = [_]i32{ 0, 2, 1 };
    const train_indptr = [_]i32{ 0, 1, 1 };
    const train_indices = [_]i32{1};
    var out: [3]f32 = undefined;
    const call = .{ .n_users = 2, .n_items = 3, .f = 1, .user_factors = &user_factors, .item_factors = &item_factors, .test_indptr = &test_indptr, .test_indices = &test_indices, .train_indptr = &train_indptr, .train_indices = &train_indices, .out_ranks = &out };
    try testing.expectEqual(0, callForTest(factor_ranks, call).status);
    // User 0, item 1 left out: item 0 (1) is below item 2 (3) -> 1; item 2 -> 0.
    // User 1: item 1 (−2) is below item 0 (−1) -> 1.
    try testing.expectEqualSlices(f32, &.{ 1, 0, 1 }, &out);
    const no_train = withField(withField(call, "train_indptr", null), "train_indices", null);
    try testing.expectEqual(0, callForTest(factor_ranks, no_train).status);
    try testing.expectEqualSlices(f32, &.{ 2, 0, 1 }, &out);

    try expectFailure(-2, "Expected f to be in 1..1024 but found 0", callForTest(factor_ranks, withField(withField(withField(call, "f", 0), "user_factors", user_factors[0..0]), "item_factors", item_factors[0..0])));
    try expectFailure(-1, "Expected item_factors to have 3 elements (n_items × f) but found 2", callForTest(factor_ranks, withField(call, "item_factors", item_factors[0..2])));
    try expectFailure(-1, "Expected out_ranks to have 3 elements (the last entry of test_indptr) but found 2", callForTest(factor_ranks, withField(call, "out_ranks", out[0..2])));
    const far = [_]i32{ 0, 3, 1 };
    try expectFailure(-2, "test_indices[1] = 3 is out of range for 3 columns", callForTest(factor_ranks, withField(call, "test_indices", &far)));
    const repeated = [_]i32{ 2, 2, 1 };
    try expectFailure(-1, "Expected the column indices of row 0 to be strictly increasing but found test_indices[1] = 2 after test_indices[0] = 2", callForTest(factor_ranks, withField(call, "test_indices", &repeated)));
    const far_train = [_]i32{5};
    try expectFailure(-2, "train_indices[0] = 5 is out of range for 3 columns", callForTest(factor_ranks, withField(call, "train_indices", &far_train)));
    const bad_indptr = [_]i32{ 0, 2, 1 };
    try expectFailure(-1, "Expected train_indptr to be non-decreasing but found train_indptr[2] = 1 < train_indptr[1] = 2", callForTest(factor_ranks, withField(withField(call, "train_indptr", &bad_indptr), "train_indices", &[_]i32{1})));
    const nan_items = [_]f32{ 1, std.math.nan(f32), 3 };
    try expectFailure(-3, "Expected item_factors to be finite but found NaN at item_factors[1] (row 1, factor 0)", callForTest(factor_ranks, withField(call, "item_factors", &nan_items)));
}
