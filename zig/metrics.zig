//! Ranking metrics at k for a batch of users, one user per loop iteration, in
//! parallel: given each user's top-k recommended ids (training items already
//! left out) and the user's held-out test items, it computes every metric of
//! `lib/evaluation/metrics.ts` at once.
//!
//! For a user u with test items T (|T| >= 1), a top list ids[0..width) (−1 marks
//! padding, which is skipped: it is neither a hit nor a miss), hits counted
//! over the positions i < min(width, k), and denominator d = min(k, |T|):
//!
//!   hits              h = |{i : ids[i] ∈ T}|
//!   precision denom   d                       (implicit: Σ_u h / Σ_u d)
//!   recall            h / |T|
//!   average precision (Σ_{i : ids[i] ∈ T} hits_through_i / (i + 1)) / d
//!   ndcg              Σ_{i : ids[i] ∈ T} cg[i] / idcg, cg[i] = 1 / log2(i + 2),
//!                     idcg = Σ_{j < d} cg[j]
//!   auc               (Σ_{i : ids[i] ∉ T} hits_before_i + (h + |T|)/2 · (N − m)) / (|T| · N)
//!                     with N = n_items − |T| negatives and m the misses in the list;
//!                     1 when N = 0 (no pair can be misordered)
//!   reciprocal rank   1 / (i + 1) for the first i with ids[i] ∈ T, else 0
//!   test count        |T|
//!
//! These follow `ranking_metrics_at_k` in Python implicit's
//! `implicit/evaluation.pyx` (precision, MAP, NDCG and the AUC@k formula, which
//! scores the unranked remainder as if positives and negatives were shuffled
//! there). implicit also walks padding positions as misses; that changes the
//! result only when a test item cannot be ranked (it is also a training item),
//! because once every positive is hit each extra miss adds h and removes
//! (h + |T|)/2 = h again.
//!
//! A user with no test items gets h = d = 0 and NaN for every ratio; callers
//! leave such users out. Test membership is a binary search in the user's
//! sorted test row, so the per-user loop allocates nothing.

const std = @import("std");
const assert = std.debug.assert;
const partition = @import("partition.zig");
const csr = @import("csr.zig");
const status = @import("status.zig");
const ThreadPool = @import("ThreadPool.zig");
const Error = status.Error;

/// The columns of the output, one row per user (lib/native/symbols.ts lists them).
pub const Column = enum(usize) {
    hits,
    precision_denominator,
    recall,
    average_precision,
    ndcg,
    auc,
    reciprocal_rank,
    test_count,
};

pub const column_count = @typeInfo(Column).@"enum".field_names.len;

comptime {
    assert(column_count == 8);
}

pub const Problem = struct {
    /// [n_users, width] row-major, best first; −1 marks padding.
    top_ids: []const i32,
    width: usize,
    /// The k of "at k": the denominators use min(k, |T|); width <= k.
    k: usize,
    /// The users' test items, a row per user (values unused): indices
    /// strictly increasing within a row and in [0, n_items).
    tests: csr.Csr,
    n_items: usize,
    /// [n_users, column_count] row-major.
    out: []f64,

    pub fn userCount(problem: *const Problem) usize {
        return problem.tests.rowCount();
    }
};

/// Checks every id of `top_ids` is −1 (padding) or in [0, n_items).
pub fn checkTopIds(top_ids: []const i32, n_items: usize) Error!void {
    for (top_ids, 0..) |id, position| {
        if (id < -1 or id >= n_items) {
            return status.fail(.out_of_range, "top_ids[{d}] = {d} is out of range for {d} items (-1 marks padding)", .{ position, id, n_items });
        }
    }
}

/// The length of the gain tables: positions 0..min(width, k) are scored and
/// idcg needs min(k, |T|) <= min(k, n_items) terms.
fn gainCount(problem: *const Problem) usize {
    return @min(problem.k, @max(problem.width, problem.n_items));
}

/// Fills `out` for every user. Inputs must be validated.
pub fn rankingMetrics(allocator: std.mem.Allocator, pool: *ThreadPool, problem: *const Problem) error{OutOfMemory}!void {
    const n_users = problem.userCount();
    assert(problem.k >= 1);
    assert(problem.width <= problem.k);
    assert(problem.top_ids.len == n_users * problem.width);
    assert(problem.out.len == n_users * column_count);
    assert(problem.tests.nnz() == @as(usize, @intCast(problem.tests.indptr[n_users])));
    if (n_users == 0) return;

    const gains_len = gainCount(problem);
    const gains = try allocator.alloc(f64, 2 * gains_len);
    defer allocator.free(gains);
    const gain = gains[0..gains_len];
    const gain_sum = gains[gains_len..];
    var sum: f64 = 0;
    for (gain, gain_sum, 0..) |*g, *g_sum, i| {
        g.* = 1.0 / std.math.log2(@as(f64, @floatFromInt(i + 2)));
        sum += g.*;
        g_sum.* = sum;
    }

    var context: Context = .{
        .problem = problem,
        .gain = gain,
        .gain_sum = gain_sum,
        .n_tasks = partition.taskCount(n_users, pool.threadCount(), 8),
    };
    pool.run(context.n_tasks, &context, Context.runTask);
}

const Context = struct {
    problem: *const Problem,
    /// gain[i] = 1 / log2(i + 2).
    gain: []const f64,
    /// gain_sum[i] = gain[0] + ... + gain[i], summed in order.
    gain_sum: []const f64,
    n_tasks: usize,

    fn runTask(context: *Context, task_index: usize, worker_index: usize) void {
        _ = worker_index;
        const problem = context.problem;
        // The work of a user is its list plus a binary search per entry.
        const rows = partition.taskRows(problem.tests.indptr, problem.width + 1, context.n_tasks, task_index);
        for (rows.start..rows.end) |user| context.scoreUser(user);
    }

    fn scoreUser(context: *const Context, user: usize) void {
        const problem = context.problem;
        const positives = problem.tests.rowIndices(user);
        const ids = problem.top_ids[user * problem.width ..][0..problem.width];
        const out = problem.out[user * column_count ..][0..column_count];
        out.* = userMetrics(context.gain, context.gain_sum, ids, positives, problem.k, problem.n_items);
    }
};

/// Every column for one user (see the file's comment).
fn userMetrics(
    gain: []const f64,
    gain_sum: []const f64,
    ids: []const i32,
    positives: []const i32,
    k: usize,
    n_items: usize,
) [column_count]f64 {
    var row: [column_count]f64 = undefined;
    if (positives.len == 0) {
        @memset(&row, std.math.nan(f64));
        set(&row, .hits, 0);
        set(&row, .precision_denominator, 0);
        set(&row, .test_count, 0);
        return row;
    }
    const n_positives: f64 = @floatFromInt(positives.len);
    assert(positives.len <= n_items);
    const denominator_count = @min(k, positives.len);
    const denominator: f64 = @floatFromInt(denominator_count);
    const idcg = gain_sum[denominator_count - 1];
    const n_negatives: f64 = @floatFromInt(n_items - positives.len);

    var hits: f64 = 0;
    var misses: f64 = 0;
    var precision_sum: f64 = 0;
    var ndcg: f64 = 0;
    var auc: f64 = 0;
    var reciprocal_rank: f64 = 0;
    for (ids[0..@min(ids.len, k)], 0..) |id, i| {
        if (id < 0) continue;
        if (csr.sortedContains(positives, id)) {
            hits += 1;
            precision_sum += hits / @as(f64, @floatFromInt(i + 1));
            ndcg += gain[i] / idcg;
            if (reciprocal_rank == 0) reciprocal_rank = 1.0 / @as(f64, @floatFromInt(i + 1));
        } else {
            misses += 1;
            auc += hits;
        }
    }
    auc += ((hits + n_positives) / 2.0) * (n_negatives - misses);

    set(&row, .hits, hits);
    set(&row, .precision_denominator, denominator);
    set(&row, .recall, hits / n_positives);
    set(&row, .average_precision, precision_sum / denominator);
    set(&row, .ndcg, ndcg);
    set(&row, .auc, if (n_negatives == 0) 1 else auc / (n_positives * n_negatives));
    set(&row, .reciprocal_rank, reciprocal_rank);
    set(&row, .test_count, n_positives);
    return row;
}

fn set(row: *[column_count]f64, which: Column, value: f64) void {
    row[@backingInt(which)] = value;
}

// ---------------------------------------------------------------------------

const testing = std.testing;
const helpers = @import("testing.zig");

fn column(out: []const f64, user: usize, which: Column) f64 {
    return out[user * column_count + @backingInt(which)];
}

test "hand-computed metrics of three users, one without test items" {
    var pool: ThreadPool = .{};
    pool.start(3);
    defer pool.stop();
    // 10 items, k = 4, width 4.
    // user 0: list [3, 7, 1, 5], T = {1, 3}: hits at ranks 1 and 3.
    // user 1: no test items.
    // user 2: list [2, -1, -1, -1] (one rankable item), T = {4}: no hit.
    const top_ids = [_]i32{ 3, 7, 1, 5, 0, 1, 2, 3, 2, -1, -1, -1 };
    const test_indptr = [_]i32{ 0, 2, 2, 3 };
    const test_indices = [_]i32{ 1, 3, 4 };
    var out: [3 * column_count]f64 = undefined;
    const problem: Problem = .{
        .top_ids = &top_ids,
        .width = 4,
        .k = 4,
        .tests = .{ .indptr = &test_indptr, .indices = &test_indices, .data = null },
        .n_items = 10,
        .out = &out,
    };
    try rankingMetrics(testing.allocator, &pool, &problem);

    const tolerance = 1e-12;
    try testing.expectEqual(2, column(&out, 0, .hits));
    try testing.expectEqual(2, column(&out, 0, .precision_denominator)); // min(4, 2)
    try testing.expectEqual(1, column(&out, 0, .recall)); // 2 / 2
    // AP = (1/1 + 2/3) / 2 = 5/6.
    try testing.expectApproxEqAbs(5.0 / 6.0, column(&out, 0, .average_precision), tolerance);
    // DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3).
    try testing.expectApproxEqAbs(1.5 / (1.0 + 1.0 / std.math.log2(@as(f64, 3))), column(&out, 0, .ndcg), tolerance);
    // Misses at ranks 2 and 4 add 1 + 2 = 3; the rest: (2 + 2)/2 · (8 − 2) = 12; AUC = 15 / (2 · 8).
    try testing.expectApproxEqAbs(15.0 / 16.0, column(&out, 0, .auc), tolerance);
    try testing.expectEqual(1, column(&out, 0, .reciprocal_rank));
    try testing.expectEqual(2, column(&out, 0, .test_count));

    try testing.expectEqual(0, column(&out, 1, .hits));
    try testing.expectEqual(0, column(&out, 1, .precision_denominator));
    try testing.expect(std.math.isNan(column(&out, 1, .recall)));
    try testing.expectEqual(0, column(&out, 1, .test_count));

    try testing.expectEqual(0, column(&out, 2, .hits));
    try testing.expectEqual(1, column(&out, 2, .precision_denominator));
    try testing.expectEqual(0, column(&out, 2, .average_precision));
    try testing.expectEqual(0, column(&out, 2, .ndcg));
    // One miss adds 0; the rest: (0 + 1)/2 · (9 − 1) = 4; AUC = 4 / (1 · 9).
    try testing.expectApproxEqAbs(4.0 / 9.0, column(&out, 2, .auc), tolerance);
    try testing.expectEqual(0, column(&out, 2, .reciprocal_rank));
}

test "a list shorter than k keeps min(k, |T|) denominators" {
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    // 3 items, k = 5 > n_items, width 3: list [2, 0, 1], T = {0, 1}.
    const top_ids = [_]i32{ 2, 0, 1 };
    const test_indptr = [_]i32{ 0, 2 };
    const test_indices = [_]i32{ 0, 1 };
    var out: [column_count]f64 = undefined;
    const problem: Problem = .{
        .top_ids = &top_ids,
        .width = 3,
        .k = 5,
        .tests = .{ .indptr = &test_indptr, .indices = &test_indices, .data = null },
        .n_items = 3,
        .out = &out,
    };
    try rankingMetrics(testing.allocator, &pool, &problem);
    try testing.expectEqual(2, column(&out, 0, .precision_denominator));
    // AP = (1/2 + 2/3) / 2 = 7/12; RR = 1/2; AUC: one miss before any hit, so 0 / (2 · 1).
    try testing.expectApproxEqAbs(7.0 / 12.0, column(&out, 0, .average_precision), 1e-12);
    try testing.expectEqual(0.5, column(&out, 0, .reciprocal_rank));
    try testing.expectEqual(0, column(&out, 0, .auc));
}

test "the result does not depend on the thread count" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(11);
    const random = prng.random();
    const n_users = 300;
    const n_items = 50;
    const k = 7;
    var tests = try helpers.randomCsr(allocator, random, .{ .n_rows = n_users, .n_cols = n_items, .density = 1.0 / 8.0 });
    defer tests.deinit(allocator);
    var top_ids: [n_users * k]i32 = undefined;
    for (&top_ids) |*id| id.* = @as(i32, @intCast(random.uintLessThan(u32, n_items + 1))) - 1;
    try checkTopIds(&top_ids, n_items);

    var expected: [n_users * column_count]f64 = undefined;
    var actual: [n_users * column_count]f64 = undefined;
    for ([_]usize{ 1, 4 }, [_]*[n_users * column_count]f64{ &expected, &actual }) |thread_count, out| {
        var pool: ThreadPool = .{};
        pool.start(thread_count);
        defer pool.stop();
        const problem: Problem = .{
            .top_ids = &top_ids,
            .width = k,
            .k = k,
            .tests = tests.view(),
            .n_items = n_items,
            .out = out,
        };
        try rankingMetrics(allocator, &pool, &problem);
    }
    for (expected, actual) |e, a| {
        if (std.math.isNan(e)) try testing.expect(std.math.isNan(a)) else try testing.expectEqual(e, a);
    }
}

test "checkTopIds names the first id out of range" {
    try checkTopIds(&.{ -1, 0, 4 }, 5);
    try testing.expectError(error.OutOfRange, checkTopIds(&.{ 0, 5 }, 5));
    try helpers.expectMessage("top_ids[1] = 5 is out of range for 5 items (-1 marks padding)");
    try testing.expectError(error.OutOfRange, checkTopIds(&.{-2}, 5));
}
