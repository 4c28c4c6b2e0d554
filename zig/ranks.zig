//! Full-catalogue ranks of held-out interactions under a factor model, as
//! LightFM 1.17's `predict_rank` defines them (`predict_ranks` in
//! `lightfm/_lightfm_fast_no_openmp.pyx`, the Cython behind it). The score of
//! item j for user u is the dot product s_u(j) = x_u · y_j; for a test entry
//! (u, i) the rank is
//!
//!     rank(u, i) = |{ j : j ≠ i, j ∉ train_u, s_u(j) >= s_u(i) }|
//!
//! so 0 is the top of the list, ties count against the item (every item
//! scoring the same is counted as ranked above it), training items are never
//! counted, and other test items are (they compete as every item does). A
//! comparison with NaN is false: a NaN score is counted above nothing, and a
//! test item that scores NaN has rank 0.
//!
//! LightFM compares every catalogue item with every test item of the row,
//! O(n_items · m) for m test items. Here each row's m test scores are sorted
//! once; an item then lands, by one binary search, in the bucket of the test
//! scores it reaches (c_j = |{q : t_q <= s_u(j)}|), and a suffix sum over the
//! buckets gives, for the q-th smallest test score, the number of counted items
//! scoring at least as much. A test item's rank is that count less one for
//! itself when it was counted (it is not a training item and its score is not
//! NaN). A row costs n_items dot products plus O((n_items + m) log m).
//!
//! Users are split into tasks by work (a row without test entries costs almost
//! nothing; every other row scores the whole catalogue). Each worker owns a
//! scratch of n_items scores, m_max sorted test scores and m_max + 1 buckets,
//! allocated before the parallel loop, so no task allocates.

const std = @import("std");
const assert = std.debug.assert;
const simd = @import("simd.zig");
const csr = @import("csr.zig");
const partition = @import("partition.zig");
const ThreadPool = @import("ThreadPool.zig");

const Csr = csr.Csr;

/// Tasks per thread: enough for dynamic scheduling to even out the estimate.
const tasks_per_thread = 8;

pub const Problem = struct {
    /// [n_users, f] row-major.
    user_factors: []const f32,
    /// [n_items, f] row-major.
    item_factors: []const f32,
    f: usize,
    /// The entries to rank, a row per user (values unused): columns strictly
    /// increasing within a row and in [0, n_items).
    tests: Csr,
    /// Items never counted, a row per user (values unused): columns sorted
    /// ascending within a row and in [0, n_items). Null: none.
    train: ?Csr,
    /// [tests.nnz()]: the rank of each test entry, aligned with tests.indices.
    out_ranks: []f32,

    pub fn userCount(problem: *const Problem) usize {
        return problem.tests.rowCount();
    }

    pub fn itemCount(problem: *const Problem) usize {
        return problem.item_factors.len / problem.f;
    }
};

/// Fills `out_ranks` for every test entry. Inputs must be validated.
pub fn factorRanks(allocator: std.mem.Allocator, pool: *ThreadPool, problem: *const Problem) error{OutOfMemory}!void {
    const n_users = problem.userCount();
    const n_items = problem.itemCount();
    assert(problem.f >= 1);
    assert(problem.user_factors.len == n_users * problem.f);
    assert(problem.item_factors.len == n_items * problem.f);
    assert(problem.out_ranks.len == problem.tests.nnz());
    if (problem.train) |train| assert(train.rowCount() == n_users);
    if (problem.tests.nnz() == 0) return;

    var row_len_max: usize = 0;
    for (0..n_users) |user| row_len_max = @max(row_len_max, problem.tests.rowIndices(user).len);
    assert(row_len_max >= 1 and row_len_max <= n_items);

    const prefix_cost = try allocator.alloc(u64, n_users + 1);
    defer allocator.free(prefix_cost);
    rowCosts(problem, prefix_cost);

    const thread_count = pool.threadCount();
    var scratch: Scratch = try .init(allocator, thread_count, n_items, row_len_max);
    defer scratch.deinit(allocator);
    var context: Context = .{
        .problem = problem,
        .prefix_cost = prefix_cost,
        .scratch = &scratch,
        .n_tasks = partition.taskCount(n_users, thread_count, tasks_per_thread),
    };
    pool.run(context.n_tasks, &context, Context.runTask);
}

/// prefix_cost[u + 1] − prefix_cost[u] = 1 for a user without test entries,
/// else 1 + n_items · (f + 1) + m: the catalogue's dot products and bucket
/// searches dominate, the sort and lookups of the m test entries add a little.
fn rowCosts(problem: *const Problem, prefix_cost: []u64) void {
    const n_users = problem.userCount();
    assert(prefix_cost.len == n_users + 1);
    const row_cost_scored: u64 = @as(u64, problem.itemCount()) * (problem.f + 1);
    prefix_cost[0] = 0;
    for (0..n_users) |user| {
        const m = problem.tests.rowIndices(user).len;
        const cost: u64 = if (m == 0) 1 else 1 + row_cost_scored + m;
        prefix_cost[user + 1] = prefix_cost[user] + cost;
    }
}

/// Every worker's buffers, carved out of three allocations.
const Scratch = struct {
    /// [threads, n_items] then [threads, row_len_max]: scores, sorted test scores.
    floats: []f32,
    /// [threads, row_len_max + 1]: items per bucket, then the suffix sums.
    buckets: []u32,
    n_items: usize,
    row_len_max: usize,
    thread_count: usize,

    fn init(allocator: std.mem.Allocator, thread_count: usize, n_items: usize, row_len_max: usize) error{OutOfMemory}!Scratch {
        const floats = try allocator.alloc(f32, thread_count * (n_items + row_len_max));
        errdefer allocator.free(floats);
        const buckets = try allocator.alloc(u32, thread_count * (row_len_max + 1));
        return .{ .floats = floats, .buckets = buckets, .n_items = n_items, .row_len_max = row_len_max, .thread_count = thread_count };
    }

    fn deinit(scratch: *Scratch, allocator: std.mem.Allocator) void {
        allocator.free(scratch.buckets);
        allocator.free(scratch.floats);
        scratch.* = undefined;
    }

    const Worker = struct {
        scores: []f32,
        sorted: []f32,
        buckets: []u32,
    };

    /// Only the thread running as `worker_index` uses these.
    fn worker(scratch: *const Scratch, worker_index: usize) Worker {
        assert(worker_index < scratch.thread_count);
        const sorted_start = scratch.thread_count * scratch.n_items;
        return .{
            .scores = scratch.floats[worker_index * scratch.n_items ..][0..scratch.n_items],
            .sorted = scratch.floats[sorted_start + worker_index * scratch.row_len_max ..][0..scratch.row_len_max],
            .buckets = scratch.buckets[worker_index * (scratch.row_len_max + 1) ..][0 .. scratch.row_len_max + 1],
        };
    }
};

const Context = struct {
    problem: *const Problem,
    prefix_cost: []const u64,
    scratch: *const Scratch,
    n_tasks: usize,

    fn runTask(context: *Context, task_index: usize, worker_index: usize) void {
        const rows = partition.taskRowsByCost(context.prefix_cost, context.n_tasks, task_index);
        const buffers = context.scratch.worker(worker_index);
        for (rows.start..rows.end) |user| rankRow(context.problem, user, buffers);
    }
};

/// The ranks of one user's test entries (see the file's comment).
fn rankRow(problem: *const Problem, user: usize, buffers: Scratch.Worker) void {
    const range = problem.tests.rowRange(user);
    const test_items = problem.tests.indices[range.start..range.end];
    if (test_items.len == 0) return;
    const f = problem.f;
    const n_items = problem.itemCount();
    const train_items: []const i32 = if (problem.train) |train| train.rowIndices(user) else &.{};
    const user_vector = problem.user_factors[user * f ..][0..f];
    const scores = buffers.scores;
    for (scores, 0..) |*score, item| score.* = simd.dot(user_vector, problem.item_factors[item * f ..][0..f]);

    // The test scores, ascending, NaN left out (it reaches no bucket).
    var sorted_len: usize = 0;
    for (test_items) |item| {
        const score = scores[@intCast(item)];
        if (std.math.isNan(score)) continue;
        buffers.sorted[sorted_len] = score;
        sorted_len += 1;
    }
    const sorted = buffers.sorted[0..sorted_len];
    std.mem.sort(f32, sorted, {}, std.sort.asc(f32));

    // buckets[c] = the counted items reaching exactly the c smallest test scores.
    const buckets = buffers.buckets[0 .. sorted_len + 1];
    @memset(buckets, 0);
    var gap_start: usize = 0;
    for (train_items) |train_item| {
        const train_position: usize = @intCast(train_item);
        if (train_position >= gap_start) {
            countGap(scores[gap_start..train_position], sorted, buckets);
            gap_start = train_position + 1;
        }
    }
    countGap(scores[gap_start..n_items], sorted, buckets);
    // buckets[q + 1] = the counted items scoring >= sorted[q] (a suffix sum).
    var at_least: u32 = 0;
    var c = sorted_len;
    while (c >= 1) : (c -= 1) {
        at_least += buckets[c];
        buckets[c] = at_least;
    }

    for (test_items, problem.out_ranks[range.start..range.end]) |item, *rank| {
        const score = scores[@intCast(item)];
        if (std.math.isNan(score)) {
            rank.* = 0;
            continue;
        }
        const q = lowerBound(sorted, score);
        assert(q < sorted_len and sorted[q] == score);
        const counted_self = !csr.sortedContains(train_items, item);
        const count = buckets[q + 1] - @intFromBool(counted_self);
        rank.* = @floatFromInt(count);
    }
}

/// Adds every score of a run of counted items to its bucket.
fn countGap(scores: []const f32, sorted: []const f32, buckets: []u32) void {
    assert(buckets.len == sorted.len + 1);
    for (scores) |score| buckets[upperBound(sorted, score)] += 1;
}

/// |{q : sorted[q] <= value}| for ascending `sorted`; 0 for NaN.
fn upperBound(sorted: []const f32, value: f32) usize {
    var low: usize = 0;
    var high: usize = sorted.len;
    // Bounded: the range halves every pass.
    while (low < high) {
        const middle = low + (high - low) / 2;
        if (sorted[middle] <= value) low = middle + 1 else high = middle;
    }
    return low;
}

/// The first q with sorted[q] >= value, for ascending `sorted`.
fn lowerBound(sorted: []const f32, value: f32) usize {
    var low: usize = 0;
    var high: usize = sorted.len;
    while (low < high) {
        const middle = low + (high - low) / 2;
        if (sorted[middle] < value) low = middle + 1 else high = middle;
    }
    return low;
}

// ---------------------------------------------------------------------------

const testing = std.testing;
const helpers = @import("testing.zig");

/// The definition, item by item, with a scalar f64 dot product (exact for the
/// small integer factors the tests use, so ties are exact on both sides).
fn bruteRanks(allocator: std.mem.Allocator, problem: *const Problem) ![]f32 {
    const f = problem.f;
    const n_items = problem.itemCount();
    const out = try allocator.alloc(f32, problem.tests.nnz());
    const scores = try allocator.alloc(f64, n_items);
    defer allocator.free(scores);
    for (0..problem.userCount()) |user| {
        for (scores, 0..) |*score, item| {
            var sum: f64 = 0;
            for (0..f) |d| sum += @as(f64, problem.user_factors[user * f + d]) * problem.item_factors[item * f + d];
            score.* = sum;
        }
        const range = problem.tests.rowRange(user);
        for (range.start..range.end) |position| {
            const i: usize = @intCast(problem.tests.indices[position]);
            var count: usize = 0;
            for (0..n_items) |j| {
                if (j == i) continue;
                if (problem.train) |train| if (train.contains(user, @intCast(j))) continue;
                if (scores[j] >= scores[i]) count += 1;
            }
            out[position] = @floatFromInt(count);
        }
    }
    return out;
}

test "ranks equal the definition with ties, training items (some also test items) and empty rows, on 1 and 3 threads" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(2024);
    const random = prng.random();
    for ([_]usize{ 1, 5, 17 }) |f| {
        for ([_]usize{ 1, 13, 70 }) |n_items| {
            const n_users = 23;
            const user_factors = try allocator.alloc(f32, n_users * f);
            defer allocator.free(user_factors);
            const item_factors = try allocator.alloc(f32, n_items * f);
            defer allocator.free(item_factors);
            // Integers in [-2, 2]: exact dot products and many exact ties.
            helpers.fillIntegers(random, user_factors, -2, 2);
            helpers.fillIntegers(random, item_factors, -2, 2);
            var tests = try helpers.randomCsr(allocator, random, .{ .n_rows = n_users, .n_cols = n_items, .density = 0.3, .empty_row = 4 });
            defer tests.deinit(allocator);
            // Drawn independently: some test entries are training entries too.
            var train = try helpers.randomCsr(allocator, random, .{ .n_rows = n_users, .n_cols = n_items, .density = 0.25, .empty_row = 7 });
            defer train.deinit(allocator);
            const out = try allocator.alloc(f32, tests.indices.len);
            defer allocator.free(out);

            for ([_]?Csr{ null, train.view() }) |exclusions| {
                const problem: Problem = .{
                    .user_factors = user_factors,
                    .item_factors = item_factors,
                    .f = f,
                    .tests = tests.view(),
                    .train = exclusions,
                    .out_ranks = out,
                };
                const expected = try bruteRanks(allocator, &problem);
                defer allocator.free(expected);
                for ([_]usize{ 1, 3 }) |thread_count| {
                    var pool: ThreadPool = .{};
                    pool.start(thread_count);
                    defer pool.stop();
                    @memset(out, -1);
                    try factorRanks(allocator, &pool, &problem);
                    try testing.expectEqualSlices(f32, expected, out);
                }
            }
        }
    }
}

test "hand-computed ranks: ties count against the item, training items are never counted" {
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    // f = 1, one user with factor 1: the scores are the item factors.
    // item:   0  1  2  3  4
    // score:  3  1  3  2  3
    const user_factors = [_]f32{1};
    const item_factors = [_]f32{ 3, 1, 3, 2, 3 };
    const test_indptr = [_]i32{ 0, 3 };
    const test_indices = [_]i32{ 0, 1, 3 };
    // Item 4 is a training item.
    const train_indptr = [_]i32{ 0, 1 };
    const train_indices = [_]i32{4};
    var out: [3]f32 = undefined;
    const problem: Problem = .{
        .user_factors = &user_factors,
        .item_factors = &item_factors,
        .f = 1,
        .tests = .{ .indptr = &test_indptr, .indices = &test_indices, .data = null },
        .train = .{ .indptr = &train_indptr, .indices = &train_indices, .data = null },
        .out_ranks = &out,
    };
    try factorRanks(testing.allocator, &pool, &problem);
    // Item 0 (3): item 2 ties it (item 4 would, but it is a training item) -> 1.
    // Item 1 (1): items 0, 2, 3 -> 3. Item 3 (2): items 0 and 2 -> 2.
    try testing.expectEqualSlices(f32, &.{ 1, 3, 2 }, &out);
}

test "a NaN score is counted above nothing and a test item that scores NaN ranks 0" {
    var pool: ThreadPool = .{};
    pool.start(1);
    defer pool.stop();
    // Scores overflow: item 0 is inf + (−inf) = NaN, item 1 is 2e38, item 2 is
    // +inf, item 3 is 0.
    const user_factors = [_]f32{ 1e38, 1e38 };
    const item_factors = [_]f32{ 1e38, -1e38, 1, 1, 2e38, 2e38, 0, 0 };
    const test_indptr = [_]i32{ 0, 3 };
    const test_indices = [_]i32{ 0, 1, 3 };
    var out: [3]f32 = undefined;
    const problem: Problem = .{
        .user_factors = &user_factors,
        .item_factors = &item_factors,
        .f = 2,
        .tests = .{ .indptr = &test_indptr, .indices = &test_indices, .data = null },
        .train = null,
        .out_ranks = &out,
    };
    try factorRanks(testing.allocator, &pool, &problem);
    try testing.expectEqualSlices(f32, &.{ 0, 1, 2 }, &out);
}
