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
//! once; a catalogue item then lands in the bucket of the test scores it
//! reaches (c_j = |{q : t_q <= s_u(j)}|, counted for a tile of `lanes` items at
//! once: by vector compares for a short list, by a binary search run in every
//! lane for a long one), and a suffix sum over the buckets gives, for the q-th
//! smallest test score, the number of counted items scoring at least as much.
//! A test item's rank is that count less one for itself when it was counted
//! (it is not a training item and its score is not NaN). Items below every
//! test score reach no bucket and are dropped by one vector compare. A row
//! costs n_items dot products plus O(n_items · min(m / lanes, log m)).
//!
//! Scoring follows zig/topk.zig's cache plan: a worker takes up to 64 users
//! with test entries at a time, copies the items a block (about 256 KiB) at a
//! time into factor-major tiles of `simd.lanes` items, and scores eight users
//! against a tile at once, one accumulator vector each, so each block is read
//! from memory once per group rather than once per user. A score is the
//! in-order multiply-add chain of `simd.dotInOrder`, the same arithmetic as
//! topk's, so a rank agrees bit for bit with the scores `recommend` returns.
//! Training items are skipped by a cursor per user over its sorted train row
//! (zig/filter.zig), as items arrive in increasing id.
//!
//! Users are split into tasks by work (a row without test entries costs
//! almost nothing; every other row scores the whole catalogue). Each worker
//! owns its tiles and, per user of a group, m_max sorted test scores and
//! m_max + 1 buckets, allocated before the parallel loop, so no task allocates.

const std = @import("std");
const assert = std.debug.assert;
const simd = @import("simd.zig");
const csr = @import("csr.zig");
const filter = @import("filter.zig");
const partition = @import("partition.zig");
const ThreadPool = @import("ThreadPool.zig");

const Csr = csr.Csr;
const lanes = simd.lanes;
const V = simd.V;
const LaneBits = @Int(.unsigned, lanes);

/// Tasks per thread: enough for dynamic scheduling to even out the estimate.
const tasks_per_thread = 4;
/// Users scored together against one tile (one accumulator vector each).
const sub_block_users = 8;
const group_users_max = 64;
const block_bytes_target = 256 * 1024;
const block_tiles_max = 256;
/// Per worker, the sorted test scores and buckets of a group stay below
/// this (groups shrink, down to 8 users, for users with very many test items).
const group_bytes_target = 8 * 1024 * 1024;

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
    const f = problem.f;
    assert(f >= 1);
    assert(problem.user_factors.len == n_users * f);
    assert(problem.item_factors.len == n_items * f);
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
    const slot_bytes = (2 * row_len_max + 1) * @sizeOf(f32);
    const layout: Layout = .{
        .f = f,
        .block_tiles = std.math.clamp(block_bytes_target / (f * lanes * @sizeOf(f32)), 1, block_tiles_max),
        .group_users = std.math.clamp(group_bytes_target / slot_bytes, sub_block_users, group_users_max),
        .row_len_max = row_len_max,
    };
    var scratch: Scratch = try .init(allocator, thread_count, layout);
    defer scratch.deinit(allocator);
    var context: Context = .{
        .problem = problem,
        .filter = .init(n_items, .{ .exclusions = problem.train }),
        .prefix_cost = prefix_cost,
        .scratch = &scratch,
        .n_tasks = partition.taskCount(n_users, thread_count, tasks_per_thread),
    };
    pool.run(context.n_tasks, &context, Context.runTask);
}

/// prefix_cost[u + 1] − prefix_cost[u] = 1 for a user without test entries,
/// else 1 + n_items · f + m: the catalogue's products dominate, the m test
/// entries add their sort and lookups.
fn rowCosts(problem: *const Problem, prefix_cost: []u64) void {
    const n_users = problem.userCount();
    assert(prefix_cost.len == n_users + 1);
    const row_cost_scored: u64 = @as(u64, problem.itemCount()) * problem.f;
    prefix_cost[0] = 0;
    for (0..n_users) |user| {
        const m = problem.tests.rowIndices(user).len;
        const cost: u64 = if (m == 0) 1 else 1 + row_cost_scored + m;
        prefix_cost[user + 1] = prefix_cost[user] + cost;
    }
}

/// The sizes of one worker's buffers.
const Layout = struct {
    f: usize,
    /// Tiles of `lanes` items per block.
    block_tiles: usize,
    /// Users with test entries ranked together (8..64).
    group_users: usize,
    row_len_max: usize,

    fn tileValues(layout: Layout) usize {
        return layout.block_tiles * layout.f * lanes;
    }
};

/// Every worker's buffers, carved out of three allocations.
const Scratch = struct {
    layout: Layout,
    thread_count: usize,
    /// [threads, block_tiles · f · lanes].
    tiles: []f32,
    /// [threads, group_users, row_len_max]: each user's sorted test scores.
    sorted: []f32,
    /// [threads, group_users, row_len_max + 1]: items per bucket, then the suffix sums.
    buckets: []u32,

    fn init(allocator: std.mem.Allocator, thread_count: usize, layout: Layout) error{OutOfMemory}!Scratch {
        const tiles = try allocator.alloc(f32, thread_count * layout.tileValues());
        errdefer allocator.free(tiles);
        const sorted = try allocator.alloc(f32, thread_count * layout.group_users * layout.row_len_max);
        errdefer allocator.free(sorted);
        const buckets = try allocator.alloc(u32, thread_count * layout.group_users * (layout.row_len_max + 1));
        return .{ .layout = layout, .thread_count = thread_count, .tiles = tiles, .sorted = sorted, .buckets = buckets };
    }

    fn deinit(scratch: *Scratch, allocator: std.mem.Allocator) void {
        allocator.free(scratch.buckets);
        allocator.free(scratch.sorted);
        allocator.free(scratch.tiles);
        scratch.* = undefined;
    }

    const Worker = struct {
        tiles: []f32,
        sorted: []f32,
        buckets: []u32,
    };

    /// Only the thread running as `worker_index` uses these.
    fn worker(scratch: *const Scratch, worker_index: usize) Worker {
        assert(worker_index < scratch.thread_count);
        const layout = scratch.layout;
        const sorted_len = layout.group_users * layout.row_len_max;
        const buckets_len = layout.group_users * (layout.row_len_max + 1);
        return .{
            .tiles = scratch.tiles[worker_index * layout.tileValues() ..][0..layout.tileValues()],
            .sorted = scratch.sorted[worker_index * sorted_len ..][0..sorted_len],
            .buckets = scratch.buckets[worker_index * buckets_len ..][0..buckets_len],
        };
    }
};

const Context = struct {
    problem: *const Problem,
    /// The training rows as exclusions, walked by a cursor per user.
    filter: filter.Filter,
    prefix_cost: []const u64,
    scratch: *const Scratch,
    n_tasks: usize,

    fn runTask(context: *Context, task_index: usize, worker_index: usize) void {
        const rows = partition.taskRowsByCost(context.prefix_cost, context.n_tasks, task_index);
        const buffers = context.scratch.worker(worker_index);
        const group_users = context.scratch.layout.group_users;
        var group: [group_users_max]usize = undefined;
        var group_len: usize = 0;
        for (rows.start..rows.end) |user| {
            if (context.problem.tests.rowIndices(user).len == 0) continue;
            group[group_len] = user;
            group_len += 1;
            if (group_len == group_users) {
                context.rankGroup(buffers, group[0..group_len]);
                group_len = 0;
            }
        }
        if (group_len > 0) context.rankGroup(buffers, group[0..group_len]);
    }

    /// Ranks the test entries of `users` (each with at least one): one pass
    /// over the catalogue, a block of tiles at a time.
    fn rankGroup(context: *const Context, buffers: Scratch.Worker, users: []const usize) void {
        const problem = context.problem;
        const layout = context.scratch.layout;
        assert(users.len >= 1 and users.len <= layout.group_users);
        var slots: [group_users_max]Slot = undefined;
        for (users, slots[0..users.len], 0..) |user, *slot, s| {
            slot.* = .init(context, user, buffers.sorted[s * layout.row_len_max ..][0..layout.row_len_max], buffers.buckets[s * (layout.row_len_max + 1) ..][0 .. layout.row_len_max + 1]);
        }
        const n_items = problem.itemCount();
        const block_items = layout.block_tiles * lanes;
        var block_start: usize = 0;
        while (block_start < n_items) : (block_start += block_items) {
            const block_end = @min(n_items, block_start + block_items);
            const tiles = fillTiles(buffers.tiles, problem.item_factors, problem.f, block_start, block_end);
            var sub_start: usize = 0;
            while (sub_start < users.len) : (sub_start += sub_block_users) {
                const sub_end = @min(users.len, sub_start + sub_block_users);
                context.scoreSubBlock(buffers.tiles, tiles, block_start, slots[sub_start..sub_end]);
            }
        }
        for (slots[0..users.len]) |*slot| slot.finish(context);
    }

    /// Scores up to 8 users against every tile of a block and counts each
    /// score that reaches a bucket.
    fn scoreSubBlock(context: *const Context, tile_values_all: []const f32, tiles: Tiles, block_start: usize, slots: []Slot) void {
        const problem = context.problem;
        const f = problem.f;
        assert(slots.len >= 1 and slots.len <= sub_block_users);
        var user_rows: [sub_block_users][]const f32 = undefined;
        for (&user_rows, 0..) |*row, s| {
            const user = slots[@min(s, slots.len - 1)].user;
            row.* = problem.user_factors[user * f ..][0..f];
        }
        const train_ids = context.filter.exclusionIds();
        for (0..tiles.count) |tile| {
            const tile_values = tile_values_all[tile * f * lanes ..][0 .. f * lanes];
            var scores: [sub_block_users]V = @splat(@splat(0));
            for (0..f) |d| {
                const factor = simd.load(tile_values, d * lanes);
                inline for (&scores, user_rows) |*score, row| {
                    score.* = simd.mulAdd(@splat(row[d]), factor, score.*);
                }
            }
            const all: LaneBits = std.math.maxInt(LaneBits);
            const valid = if (tile + 1 == tiles.count) tiles.last_valid else all;
            const first_item = block_start + tile * lanes;
            for (slots, scores[0..slots.len]) |*slot, score| slot.countTile(score, first_item, valid, train_ids);
        }
    }
};

/// The tiles of a block: tile t holds items first + t·lanes .. (+ lanes) with
/// factor d of lane l at values[(t·f + d)·lanes + l]; unused lanes of the last
/// tile hold zeros.
const Tiles = struct {
    count: usize,
    /// Lanes in use in the last tile (all lanes in the others).
    last_valid: LaneBits,
};

fn fillTiles(values: []f32, items: []const f32, f: usize, item_start: usize, item_end: usize) Tiles {
    assert(item_start < item_end);
    const n = item_end - item_start;
    const tile_count = std.math.divCeil(usize, n, lanes) catch unreachable;
    assert(tile_count * f * lanes <= values.len);
    for (item_start..item_end) |item| {
        const slot = item - item_start;
        const tile_values = values[(slot / lanes) * f * lanes ..][0 .. f * lanes];
        for (items[item * f ..][0..f], 0..) |value, d| tile_values[d * lanes + slot % lanes] = value;
    }
    for (n..tile_count * lanes) |slot| {
        for (0..f) |d| values[((slot / lanes) * f + d) * lanes + slot % lanes] = 0;
    }
    const used_last = n - (tile_count - 1) * lanes;
    const all: LaneBits = std.math.maxInt(LaneBits);
    return .{
        .count = tile_count,
        .last_valid = if (used_last == lanes) all else (@as(LaneBits, 1) << @intCast(used_last)) - 1,
    };
}

/// One user of a group: its sorted test scores, buckets and train cursor.
const Slot = struct {
    user: usize,
    /// The non-NaN test scores, ascending.
    sorted: []f32,
    /// [sorted.len + 1]: buckets[c] counts the items reaching exactly the c
    /// smallest test scores (bucket 0, below them all, is never counted).
    buckets: []u32,
    /// sorted[0], or NaN when every test score is NaN (nothing is counted).
    threshold: f32,
    cursor: filter.Cursor,

    fn init(context: *const Context, user: usize, sorted_buffer: []f32, buckets_buffer: []u32) Slot {
        const problem = context.problem;
        const f = problem.f;
        const user_row = problem.user_factors[user * f ..][0..f];
        var sorted_len: usize = 0;
        for (problem.tests.rowIndices(user)) |item| {
            const score = simd.dotInOrder(user_row, problem.item_factors[@as(usize, @intCast(item)) * f ..][0..f]);
            if (std.math.isNan(score)) continue;
            sorted_buffer[sorted_len] = score;
            sorted_len += 1;
        }
        const sorted = sorted_buffer[0..sorted_len];
        std.mem.sort(f32, sorted, {}, std.sort.asc(f32));
        const buckets = buckets_buffer[0 .. sorted_len + 1];
        @memset(buckets, 0);
        return .{
            .user = user,
            .sorted = sorted,
            .buckets = buckets,
            .threshold = if (sorted_len == 0) std.math.nan(f32) else sorted[0],
            .cursor = context.filter.cursor(user),
        };
    }

    /// Counts the tile's items (lanes `valid`, ids first_item + lane) that
    /// reach a bucket and are not training items.
    fn countTile(slot: *Slot, scores: V, first_item: usize, valid: LaneBits, train_ids: []const i32) void {
        const reaching = scores >= @as(V, @splat(slot.threshold));
        var bits: LaneBits = @as(LaneBits, @bitCast(reaching)) & valid;
        if (bits == 0) return;
        const bucket_array: [lanes]u32 = bucketsOf(slot.sorted, scores);
        // Bounded: each pass clears one of the `lanes` bits.
        while (bits != 0) {
            const lane = @ctz(bits);
            bits &= bits - 1;
            if (slot.cursor.excludes(train_ids, @intCast(first_item + lane))) continue;
            slot.buckets[bucket_array[lane]] += 1;
        }
    }

    /// Turns the buckets into suffix sums and writes the user's ranks.
    fn finish(slot: *Slot, context: *const Context) void {
        const problem = context.problem;
        const f = problem.f;
        const user_row = problem.user_factors[slot.user * f ..][0..f];
        const train_items = context.filter.excluded(slot.user);
        // buckets[q + 1] = the counted items scoring >= sorted[q].
        var at_least: u32 = 0;
        var c = slot.sorted.len;
        while (c >= 1) : (c -= 1) {
            at_least += slot.buckets[c];
            slot.buckets[c] = at_least;
        }
        const range = problem.tests.rowRange(slot.user);
        for (problem.tests.indices[range.start..range.end], problem.out_ranks[range.start..range.end]) |item, *rank| {
            const score = simd.dotInOrder(user_row, problem.item_factors[@as(usize, @intCast(item)) * f ..][0..f]);
            if (std.math.isNan(score)) {
                rank.* = 0;
                continue;
            }
            const q = lowerBound(slot.sorted, score);
            assert(q < slot.sorted.len and slot.sorted[q] == score);
            const counted_self = !csr.sortedContains(train_items, item);
            rank.* = @floatFromInt(slot.buckets[q + 1] - @intFromBool(counted_self));
        }
    }
};

const U = @Vector(lanes, u32);

/// Lists up to this long are counted by compares rather than searched: about
/// where the two cost the same (m / lanes vector compares against log2(m)
/// probe rounds of `lanes` loads each), measured at f = 64 on AVX2.
const linear_count_max = 16 * lanes;

/// |{q : sorted[q] <= scores[l]}| for every lane l, for ascending, non-empty
/// `sorted`: short lists are counted by a vector compare per value, long ones
/// by a branch-free binary search (Khuong and Morin) run in every lane at once,
/// the probes of one step being independent loads. A NaN lane gets 0.
fn bucketsOf(sorted: []const f32, scores: V) U {
    assert(sorted.len >= 1);
    const one: U = @splat(1);
    const zero: U = @splat(0);
    if (sorted.len <= linear_count_max) {
        var counts = zero;
        for (sorted) |value| counts += @select(u32, @as(V, @splat(value)) <= scores, one, zero);
        return counts;
    }
    var base = zero;
    var n = sorted.len;
    // Bounded: n halves every pass.
    while (n > 1) {
        const half = n / 2;
        base += @select(u32, probe(sorted, base + @as(U, @splat(@intCast(half)))) <= scores, @as(U, @splat(@intCast(half))), zero);
        n -= half;
    }
    return base + @select(u32, probe(sorted, base) <= scores, one, zero);
}

/// sorted[positions[l]] in every lane l.
inline fn probe(sorted: []const f32, positions: U) V {
    const position_array: [lanes]u32 = positions;
    var values: [lanes]f32 = undefined;
    inline for (&values, position_array) |*value, position| value.* = sorted[position];
    return values;
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

/// |{q : sorted[q] <= value}| for ascending `sorted`; 0 for NaN: the scalar
/// reference for bucketsOf.
fn upperBound(sorted: []const f32, value: f32) usize {
    var low: usize = 0;
    var high: usize = sorted.len;
    while (low < high) {
        const middle = low + (high - low) / 2;
        if (sorted[middle] <= value) low = middle + 1 else high = middle;
    }
    return low;
}

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

test "overflowing scores compare as infinities; a NaN score (possible without FMA) is counted above nothing" {
    const allocator = testing.allocator;
    var pool: ThreadPool = .{};
    pool.start(1);
    defer pool.stop();
    // Item 0 scores +inf with FMA (the exact product is added to +inf) and
    // inf + (−inf) = NaN without; item 1 scores 2e38, item 2 +inf, item 3 0,
    // item 4 −inf.
    const user_factors = [_]f32{ 1e38, 1e38 };
    const item_factors = [_]f32{ 1e38, -1e38, 1, 1, 2e38, 2e38, 0, 0, -2e38, -2e38 };
    const test_indptr = [_]i32{ 0, 4 };
    const test_indices = [_]i32{ 0, 1, 3, 4 };
    var out: [4]f32 = undefined;
    const problem: Problem = .{
        .user_factors = &user_factors,
        .item_factors = &item_factors,
        .f = 2,
        .tests = .{ .indptr = &test_indptr, .indices = &test_indices, .data = null },
        .train = null,
        .out_ranks = &out,
    };
    try factorRanks(allocator, &pool, &problem);
    // The definition over the kernel's own scores (comparisons with NaN are false).
    var scores: [5]f32 = undefined;
    for (&scores, 0..) |*score, item| score.* = simd.dotInOrder(&user_factors, item_factors[item * 2 ..][0..2]);
    try testing.expect(std.math.isInf(scores[2]) and std.math.isInf(scores[4]));
    for (test_indices, out) |i, rank| {
        var count: f32 = 0;
        for (scores, 0..) |score, j| {
            if (j != i and score >= scores[@intCast(i)]) count += 1;
        }
        try testing.expectEqual(count, rank);
    }
    // Item 1 (2e38) is below item 2 (+inf), and below item 0 unless item 0 is NaN.
    try testing.expectEqual(@as(f32, if (std.math.isNan(scores[0])) 1 else 2), out[1]);
}

test "several groups of users and several item blocks per task" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(77);
    const random = prng.random();
    // f = 64: 1024 items per block, so 2100 items take three blocks; 300 users
    // with test entries on one thread make tasks of about 75 users: two groups.
    const f = 64;
    const n_users = 300;
    const n_items = 2100;
    const user_factors = try allocator.alloc(f32, n_users * f);
    defer allocator.free(user_factors);
    const item_factors = try allocator.alloc(f32, n_items * f);
    defer allocator.free(item_factors);
    helpers.fillIntegers(random, user_factors, -1, 1);
    helpers.fillIntegers(random, item_factors, -1, 1);
    var tests = try helpers.randomCsr(allocator, random, .{ .n_rows = n_users, .n_cols = n_items, .density = 0.004 });
    defer tests.deinit(allocator);
    var train = try helpers.randomCsr(allocator, random, .{ .n_rows = n_users, .n_cols = n_items, .density = 0.01, .repeat = 0.2 });
    defer train.deinit(allocator);
    const out = try allocator.alloc(f32, tests.indices.len);
    defer allocator.free(out);
    const problem: Problem = .{
        .user_factors = user_factors,
        .item_factors = item_factors,
        .f = f,
        .tests = tests.view(),
        .train = train.view(),
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

test "bucketsOf counts, in every lane, the sorted values at most the lane's score" {
    var prng = std.Random.DefaultPrng.init(5);
    const random = prng.random();
    var sorted: [linear_count_max + 40]f32 = undefined;
    // Both paths (compares and search), lengths of every parity, many duplicates.
    for ([_]usize{ 1, 2, 3, 7, lanes, linear_count_max, linear_count_max + 1, linear_count_max + 40 }) |len| {
        helpers.fillIntegers(random, sorted[0..len], -5, 5);
        std.mem.sort(f32, sorted[0..len], {}, std.sort.asc(f32));
        for (0..20) |_| {
            var score_array: [lanes]f32 = undefined;
            helpers.fillIntegers(random, &score_array, -7, 7);
            score_array[0] = std.math.nan(f32);
            const counts: [lanes]u32 = bucketsOf(sorted[0..len], score_array);
            for (score_array, counts) |score, count| {
                try testing.expectEqual(upperBound(sorted[0..len], score), count);
            }
            try testing.expectEqual(0, counts[0]);
        }
    }
    try testing.expectEqual(4, upperBound(&.{ 1, 2, 2, 2, 5 }, 2));
    try testing.expectEqual(1, lowerBound(&.{ 1, 2, 2, 2, 5 }, 2));
}
