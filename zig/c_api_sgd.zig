//! The exports of the stochastic-gradient models: Bayesian personalised
//! ranking (zig/bpr.zig) and logistic matrix factorization (zig/lmf.zig).
//! Declared and checked as c_api.zig's exports are (abi/edge.zig).

const std = @import("std");
const status = @import("status.zig");
const ThreadPool = @import("ThreadPool.zig");
const csr = @import("csr.zig");
const bpr = @import("bpr.zig");
const lmf = @import("lmf.zig");
const abi = @import("abi/declaration.zig");
const edge = @import("abi/edge.zig");
const View = @import("abi/layout.zig").View;
const checks = @import("abi/checks.zig");
const Error = status.Error;

const count = abi.count;
const int = abi.int;
const float = abi.float;
const input = abi.input;
const output = abi.output;
const times = abi.times;
const fixed = abi.fixed;
const lastOf = abi.lastOf;

const allocator = std.heap.c_allocator;

/// One epoch of Bayesian personalised ranking (Rendle et al. 2009, LearnBPR):
/// n_samples Hogwild SGD steps on (user, liked, negative) triples, updating
/// both factor matrices in place; rows have f columns, the last a bias. With
/// deterministic = 1 the epoch's chunks run in order on one thread, so a seed
/// gives the same factors on any thread count.
/// out_counts = [samples ranked correctly before their step, skipped].
const bpr_epoch_declaration: abi.Declaration = .{ .name = "tacit_bpr_epoch", .long = true, .params = &([_]abi.Param{
    count("n_rows"),
    count("n_cols"),
} ++ abi.csr("", "n_rows", false) ++ [_]abi.Param{
    input(.i32, "row_of", lastOf("indptr")),
    output(.f32, "user_factors", times(&.{ "n_rows", "f" })),
    output(.f32, "item_factors", times(&.{ "n_cols", "f" })),
    count("f"),
    float("learning_rate"),
    float("regularization"),
    int("verify_negatives"),
    int("seed"),
    int("deterministic"),
    count("n_samples"),
    output(.i32, "out_counts", fixed(2)),
}) };
pub const bpr_epoch = edge.Export(bpr_epoch_declaration, bprEpoch);

fn bprEpoch(pool: *ThreadPool, a: View(bpr_epoch_declaration)) Error!void {
    const f = try checks.factorCount(a.f);
    try checkRates(a.learning_rate, a.regularization);
    const verify = try checks.flag(a.verify_negatives, "verify_negatives");
    const deterministic = try checks.flag(a.deterministic, "deterministic");
    const likes = try checkedLikes(pool, a.indptr, a.indices, a.row_of, a.n_cols, a.n_samples);
    try checks.requireAllFinite(pool, a.user_factors, f, "user_factors");
    try checks.requireAllFinite(pool, a.item_factors, f, "item_factors");
    const counts = bpr.epoch(pool, likes, a.row_of, a.user_factors, a.item_factors, f, .{
        .learning_rate = a.learning_rate,
        .regularization = a.regularization,
        .verify_negatives = verify,
        .seed = checks.seedOf(a.seed),
        .n_samples = a.n_samples,
        .deterministic = deterministic,
    });
    try status.cancellation().check();
    a.out_counts[0] = @intCast(counts.correct);
    a.out_counts[1] = @intCast(counts.skipped);
}

/// The BPR update of one triple, exactly as tacit_bpr_epoch steps it; the
/// three rows must not overlap. out_correct = 1 when x_u·(y_i − y_j) > 0 before.
const bpr_step_declaration: abi.Declaration = .{ .name = "tacit_bpr_step", .parallel = false, .params = &.{
    output(.f32, "user", times(&.{"f"})),
    output(.f32, "liked", times(&.{"f"})),
    output(.f32, "disliked", times(&.{"f"})),
    count("f"),
    float("learning_rate"),
    float("regularization"),
    output(.i32, "out_correct", fixed(1)),
} };
pub const bpr_step = edge.Export(bpr_step_declaration, bprStep);

fn bprStep(_: *ThreadPool, a: View(bpr_step_declaration)) Error!void {
    _ = try checks.factorCount(a.f);
    try checkRates(a.learning_rate, a.regularization);
    if (overlaps(a.user, a.liked) or overlaps(a.user, a.disliked) or overlaps(a.liked, a.disliked)) {
        return status.fail(.invalid_argument, "Expected user, liked and disliked to be three separate buffers but two of them overlap", .{});
    }
    for ([_][]const f32{ a.user, a.liked, a.disliked }, [_][]const u8{ "user", "liked", "disliked" }) |row, name| {
        for (row, 0..) |value, j| {
            if (!std.math.isFinite(value)) {
                return status.fail(.not_finite, "Expected {s} to be finite but found {f} at {s}[{d}]", .{ name, status.floatName(value), name, j });
            }
        }
    }
    a.out_correct[0] = @intFromBool(bpr.step(a.user, a.liked, a.disliked, a.learning_rate, a.regularization));
}

fn overlaps(a: []const f32, b: []const f32) bool {
    const a_start = @intFromPtr(a.ptr);
    const b_start = @intFromPtr(b.ptr);
    return a_start < b_start + b.len * @sizeOf(f32) and b_start < a_start + a.len * @sizeOf(f32);
}

/// The triples tacit_bpr_epoch would step through with the same matrix, seed,
/// n_samples and verify_negatives, in order, touching no factor (a diagnostic
/// for tests). out_disliked[k] = −1 marks a skipped sample.
const bpr_sample_declaration: abi.Declaration = .{ .name = "tacit_bpr_sample", .params = &([_]abi.Param{
    count("n_rows"),
    count("n_cols"),
} ++ abi.csr("", "n_rows", false) ++ [_]abi.Param{
    input(.i32, "row_of", lastOf("indptr")),
    int("verify_negatives"),
    int("seed"),
    count("n_samples"),
    output(.i32, "out_users", times(&.{"n_samples"})),
    output(.i32, "out_liked", times(&.{"n_samples"})),
    output(.i32, "out_disliked", times(&.{"n_samples"})),
}) };
pub const bpr_sample = edge.Export(bpr_sample_declaration, bprSample);

fn bprSample(pool: *ThreadPool, a: View(bpr_sample_declaration)) Error!void {
    const verify = try checks.flag(a.verify_negatives, "verify_negatives");
    const likes = try checkedLikes(pool, a.indptr, a.indices, a.row_of, a.n_cols, a.n_samples);
    bpr.sample(pool, likes, a.row_of, .{
        .learning_rate = 0,
        .regularization = 0,
        .verify_negatives = verify,
        .seed = checks.seedOf(a.seed),
        .n_samples = a.n_samples,
        .deterministic = false,
    }, a.out_users, a.out_liked, a.out_disliked);
}

/// One logistic-MF half-epoch (Johnson 2014): one Adagrad step on every row
/// x_u against fixed y, with min(negatives_max, neg_prop·|row|) sampled
/// negatives per row (negatives_max = f is implicit's rule, 2^31 − 1 the
/// paper's uncapped one); column fixed_column of x is never changed. Chunks
/// of rows draw from generators seeded from (seed, chunk), so the result does
/// not depend on the thread count.
const lmf_update_declaration: abi.Declaration = .{ .name = "tacit_lmf_update", .long = true, .params = &([_]abi.Param{
    count("n_rows"),
} ++ abi.csr("", "n_rows", true) ++ [_]abi.Param{
    output(.f32, "x", times(&.{ "n_rows", "f" })),
    input(.f32, "y", times(&.{ "n_other", "f" })),
    count("n_other"),
    count("f"),
    output(.f32, "adagrad", times(&.{ "n_rows", "f" })),
    int("fixed_column"),
    float("learning_rate"),
    float("regularization"),
    count("neg_prop"),
    count("negatives_max"),
    int("seed"),
}) };
pub const lmf_update = edge.Export(lmf_update_declaration, lmfUpdate);

fn lmfUpdate(pool: *ThreadPool, a: View(lmf_update_declaration)) Error!void {
    const f = try checks.factorCount(a.f);
    if (a.fixed_column < 0 or a.fixed_column >= f) {
        return status.fail(.out_of_range, "Expected fixed_column to be in 0..{d} but found {d}", .{ f - 1, a.fixed_column });
    }
    try checkRates(a.learning_rate, a.regularization);
    const ratings = try checks.checkedCsr(pool, a.indptr, a.indices, a.data, a.n_other, .any, .{});
    try checks.requireAllFinite(pool, a.x, f, "x");
    try checks.requireAllFinite(pool, a.y, f, "y");
    try checks.requireAllFinite(pool, a.adagrad, f, "adagrad");
    try lmf.halfEpoch(allocator, pool, ratings, a.x, a.y, f, a.adagrad, .{
        .learning_rate = a.learning_rate,
        .regularization = a.regularization,
        .neg_prop = a.neg_prop,
        .negatives_max = if (a.negatives_max == std.math.maxInt(i32)) lmf.negatives_unlimited else a.negatives_max,
        .seed = checks.seedOf(a.seed),
        .fixed_column = @intCast(a.fixed_column),
    });
    try status.cancellation().check();
}

// ---------------------------------------------------------------------------

/// The liked items after checking indptr, the entries (sorted, in range) and
/// row_of (the row of every nonzero), in parallel.
fn checkedLikes(pool: *ThreadPool, indptr: []const i32, indices: []const i32, row_of: []const i32, n_cols: usize, n_samples: usize) Error!csr.Csr {
    const likes = try checks.checkedCsr(pool, indptr, indices, null, n_cols, .strictly_increasing, .{});
    try csr.checkRowOf(pool, indptr, row_of);
    if (likes.nnz() == 0 and n_samples > 0) {
        return status.fail(.out_of_range, "Expected a matrix with at least one nonzero to draw {d} samples from but found none", .{n_samples});
    }
    return likes;
}

fn checkRates(learning_rate: f32, regularization: f32) Error!void {
    try checks.requireNonNegative(learning_rate, "learning_rate");
    try checks.requireNonNegative(regularization, "regularization");
}

// ---------------------------------------------------------------------------

const testing = std.testing;
const callForTest = edge.callWithSlices;
const withField = edge.withField;

fn expectFailure(expected_status: c_int, expected_message: []const u8, result: edge.SliceCallResult) !void {
    try testing.expectEqualStrings(expected_message, result.message());
    try testing.expectEqual(expected_status, result.status);
}

test "the SGD exports validate their arguments and name them" {
    const indptr = [_]i32{ 0, 2, 3 };
    const indices = [_]i32{ 0, 2, 1 };
    var row_of = [_]i32{ 0, 0, 1 };
    const data = [_]f32{ 1, 2, 3 };
    var users: [2 * 3]f32 = @splat(0.1);
    var items: [3 * 3]f32 = @splat(0.1);
    var counts: [2]i32 = undefined;
    const epoch = .{ .n_rows = 2, .n_cols = 3, .indptr = &indptr, .indices = &indices, .row_of = &row_of, .user_factors = &users, .item_factors = &items, .f = 3, .learning_rate = 0.05, .regularization = 0.01, .verify_negatives = 1, .seed = 7, .deterministic = 0, .n_samples = 10, .out_counts = &counts };
    try testing.expectEqual(0, callForTest(bpr_epoch, epoch).status);
    try testing.expect(counts[0] + counts[1] <= 10);
    try expectFailure(-2, "indices[1] = 2 is out of range for 2 columns", callForTest(bpr_epoch, withField(withField(epoch, "n_cols", 2), "item_factors", items[0..6])));
    try expectFailure(-2, "Expected learning_rate to be >= 0 but found -1", callForTest(bpr_epoch, withField(epoch, "learning_rate", -1)));
    try testing.expectEqual(-3, callForTest(bpr_epoch, withField(epoch, "regularization", std.math.nan(f32))).status);
    try testing.expectEqual(-1, callForTest(bpr_epoch, withField(epoch, "verify_negatives", 2)).status);
    try expectFailure(-1, "Expected deterministic to be 0 or 1 but found 3", callForTest(bpr_epoch, withField(epoch, "deterministic", 3)));
    try expectFailure(-1, "Expected row_of to have 3 elements (the last entry of indptr) but found 2", callForTest(bpr_epoch, withField(epoch, "row_of", row_of[0..2])));
    row_of[2] = 0;
    try expectFailure(-1, "Expected row_of[2] to be 1 (the row holding nonzero 2) but found 0", callForTest(bpr_epoch, epoch));
    row_of[2] = 1;

    var out_users: [5]i32 = undefined;
    var out_liked: [5]i32 = undefined;
    var out_disliked: [5]i32 = undefined;
    try testing.expectEqual(0, callForTest(bpr_sample, .{ .n_rows = 2, .n_cols = 3, .indptr = &indptr, .indices = &indices, .row_of = &row_of, .verify_negatives = 1, .seed = 3, .n_samples = 5, .out_users = &out_users, .out_liked = &out_liked, .out_disliked = &out_disliked }).status);
    for (out_users, out_disliked) |u, j| {
        // User 0 likes items 0 and 2, user 1 likes item 1: a verified negative is the other user's.
        if (j >= 0) try testing.expect((u == 0 and j == 1) or (u == 1 and j != 1));
    }

    var user = [_]f32{ 0.1, 0.2, 1 };
    var liked = [_]f32{ 0.3, -0.1, 0.2 };
    var correct: [1]i32 = undefined;
    try testing.expectEqual(-1, callForTest(bpr_step, .{ .user = &user, .liked = &user, .disliked = &liked, .f = 3, .learning_rate = 0.05, .regularization = 0.01, .out_correct = &correct }).status);

    var adagrad: [2 * 4]f32 = @splat(0);
    var x: [2 * 4]f32 = @splat(0.1);
    const y: [3 * 4]f32 = @splat(0.2);
    const update = .{ .n_rows = 2, .indptr = &indptr, .indices = &indices, .data = &data, .x = &x, .y = &y, .n_other = 3, .f = 4, .adagrad = &adagrad, .fixed_column = 2, .learning_rate = 1, .regularization = 0.6, .neg_prop = 5, .negatives_max = 4, .seed = 1 };
    try testing.expectEqual(0, callForTest(lmf_update, update).status);
    try expectFailure(-2, "Expected fixed_column to be in 0..3 but found 4", callForTest(lmf_update, withField(update, "fixed_column", 4)));
    try expectFailure(-2, "Expected neg_prop to be >= 0 but found -5", callForTest(lmf_update, withField(update, "neg_prop", -5)));
    try expectFailure(-2, "Expected negatives_max to be >= 0 but found -1", callForTest(lmf_update, withField(update, "negatives_max", -1)));
    try testing.expectEqual(0, callForTest(lmf_update, withField(update, "negatives_max", std.math.maxInt(i32))).status);
    try expectFailure(-1, "Expected adagrad to have 8 elements (n_rows × f) but found 4", callForTest(lmf_update, withField(update, "adagrad", adagrad[0..4])));
}
