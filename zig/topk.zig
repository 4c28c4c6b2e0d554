//! Top-k items by dot product for a batch of queries (recommend, similar items).
//!
//! Brute force made cache- and register-friendly: items are copied, a block
//! at a time (about 32 KiB, so it stays in L1), into tiles of `lanes` items
//! (16 with AVX-512) stored factor-major, so one vector load holds one factor
//! of `lanes` items. Eight queries are scored against two tiles at once (16
//! accumulators; per factor 8 broadcasts and 2 loads feed 16 multiply-adds),
//! with no horizontal sums, and a whole group of up to 2048 queries reuses each
//! block (re-tiling all items costs about as much as scoring 40 queries, so
//! groups are large: about two per thread). Whatever the blocking, a score is
//! one lane's chain of multiply-adds in factor order, simd.dotInOrder's
//! arithmetic (zig/ann/exact.zig relies on it).
//! Each query keeps zig/heap.zig's bounded heap of its best k (score
//! descending, id ascending) in its own output row; a vector compare against
//! the query's threshold (the heap's root once full) rejects most items before
//! any scalar work. Items are
//! visited in increasing id, so zig/filter.zig's mask is applied while a block
//! is tiled and each query's exclusions are walked by a cursor. Tiling also
//! notices a NaN or infinite item value (a NaN score fails every compare, so
//! the item would silently vanish from every ranking; an infinite one ranks
//! by nothing): the call then fails with `error.NonFiniteItem`.

const std = @import("std");
const builtin = @import("builtin");
const assert = std.debug.assert;
const simd = @import("simd.zig");
const filter = @import("filter.zig");
const ThreadPool = @import("ThreadPool.zig");

const Heap = @import("heap.zig").TopK(i32, f32);
const Filter = filter.Filter;

/// Items per tile: 16 where the CPU has AVX-512 (simd.lanes stays at 8 there,
/// LLVM's preference for 256-bit vectors, but this loop is all multiply-adds
/// and gains from the wider registers), else simd.lanes.
const lanes = if (builtin.cpu.arch == .x86_64 and std.Target.x86.featureSetHas(builtin.cpu.features, .avx512f)) 16 else simd.lanes;
const V = @Vector(lanes, f32);

/// simd.mulAdd at the tile width (AVX-512 implies FMA).
inline fn mulAdd(a: V, b: V, c: V) V {
    return if (V == simd.V) simd.mulAdd(a, b, c) else @mulAdd(V, a, b, c);
}
const LaneBits = @Int(.unsigned, lanes);

/// Queries scored together against one tile (one accumulator vector each).
const sub_block_queries = 8;
/// Tiles scored together per step (sub_block_queries · tiles_per_step accumulators).
const tiles_per_step = 2;
const group_queries_max = 2048;
const block_bytes_target = 32 * 1024;
const block_tiles_max = 256;

pub const Problem = struct {
    /// [n_queries, f] row-major.
    queries: []const f32,
    /// [n_items, f] row-major.
    items: []const f32,
    f: usize,
    /// The items each query may return, over the n_items items; exclusion
    /// rows, when given, are one per query and sorted ascending.
    filter: Filter,
    k: usize,
    /// [n_queries, k]: best first, padded with id −1 and score −Infinity.
    out_ids: []i32,
    out_scores: []f32,

    pub fn queryCount(problem: *const Problem) usize {
        return problem.queries.len / problem.f;
    }

    fn itemCount(problem: *const Problem) usize {
        return problem.items.len / problem.f;
    }
};

/// Fills out_ids and out_scores for every query. Inputs must be validated,
/// except the items' finiteness: error.NonFiniteItem when an eligible item
/// has a NaN or infinite factor (the outputs are then unspecified).
pub fn topkDot(allocator: std.mem.Allocator, pool: *ThreadPool, problem: *const Problem) error{ OutOfMemory, NonFiniteItem }!void {
    assert(problem.f >= 1 and problem.k >= 1);
    assert(problem.queries.len % problem.f == 0 and problem.items.len % problem.f == 0);
    assert(problem.out_ids.len == problem.queryCount() * problem.k);
    assert(problem.out_scores.len == problem.out_ids.len);
    assert(problem.filter.n_items == problem.itemCount());
    const n_queries = problem.queryCount();
    if (problem.filter.exclusions) |exclusions| assert(exclusions.rowCount() == n_queries);
    if (n_queries == 0) return;

    const group_queries = groupQueries(n_queries, pool.threadCount());
    const block_tiles = std.math.clamp(block_bytes_target / (problem.f * lanes * @sizeOf(f32)), 1, block_tiles_max);
    const tile_values_len = block_tiles * problem.f * lanes;
    const tile_values = try allocator.alloc(f32, pool.threadCount() * tile_values_len);
    defer allocator.free(tile_values);
    const tile_ids = try allocator.alloc(i32, pool.threadCount() * block_tiles * lanes);
    defer allocator.free(tile_ids);

    var context: Context = .{
        .problem = problem,
        .group_queries = group_queries,
        .block_tiles = block_tiles,
        .heap_capacity = @min(problem.k, problem.filter.positionCount()),
        .tile_values = tile_values,
        .tile_ids = tile_ids,
    };
    const n_groups = std.math.divCeil(usize, n_queries, group_queries) catch unreachable;
    pool.run(n_groups, &context, Context.runGroup);
    if (context.non_finite.load(.monotonic)) return error.NonFiniteItem;
}

/// Queries per task: a multiple of 8 in [8, 2048], small enough that there are
/// about two tasks per thread when the batch is small.
fn groupQueries(n_queries: usize, thread_count: usize) usize {
    const per_task = std.math.divCeil(usize, n_queries, 2 * thread_count) catch unreachable;
    const rounded = std.mem.alignForward(usize, per_task, sub_block_queries);
    return std.math.clamp(rounded, sub_block_queries, group_queries_max);
}

const Context = struct {
    problem: *const Problem,
    group_queries: usize,
    block_tiles: usize,
    /// min(k, eligible positions): how many entries a query's heap holds.
    heap_capacity: usize,
    tile_values: []f32,
    tile_ids: []i32,
    /// Set by any worker whose block held a NaN or infinite item value.
    non_finite: std.atomic.Value(bool) = .init(false),

    fn runGroup(context: *Context, group_index: usize, worker_index: usize) void {
        const problem = context.problem;
        const query_start = group_index * context.group_queries;
        const query_end = @min(problem.queryCount(), query_start + context.group_queries);
        assert(query_start < query_end);
        var group: Group = .init(context, query_start, query_end);
        const block = context.workerBlock(worker_index);
        const block_positions = context.block_tiles * lanes;
        const position_count = problem.filter.positionCount();
        var position: usize = 0;
        while (position < position_count) : (position += block_positions) {
            const position_end = @min(position_count, position + block_positions);
            const tiles = block.fill(problem, position, position_end);
            if (tiles.non_finite) context.non_finite.store(true, .monotonic);
            var sub_start = query_start;
            while (sub_start < query_end) : (sub_start += sub_block_queries) {
                group.scoreSubBlock(block, tiles, sub_start, @min(query_end, sub_start + sub_block_queries));
            }
        }
        for (query_start..query_end) |query| group.finish(query);
    }

    fn workerBlock(context: *Context, worker_index: usize) Block {
        const values_len = context.block_tiles * context.problem.f * lanes;
        const ids_len = context.block_tiles * lanes;
        return .{
            .values = context.tile_values[worker_index * values_len ..][0..values_len],
            .ids = context.tile_ids[worker_index * ids_len ..][0..ids_len],
            .f = context.problem.f,
        };
    }
};

/// A block of items in tiles: tile t holds items ids[t·lanes ..][0..lanes] with
/// factor d of lane l at values[(t·f + d)·lanes + l]. Masked items are left
/// out; unused lanes of the last tile have id −1 and zero factors.
const Block = struct {
    values: []f32,
    ids: []i32,
    f: usize,

    const Tiles = struct {
        count: usize,
        /// Lanes in use in the last tile (all lanes in the others).
        last_valid: LaneBits,
        /// Some copied item value was NaN or infinite.
        non_finite: bool,
    };

    fn fill(block: Block, problem: *const Problem, position_start: usize, position_end: usize) Tiles {
        const f = block.f;
        var slot: usize = 0;
        // v − v is 0 for a finite v and NaN otherwise; summing them (in
        // vectors, so the adds do not form one long chain) keeps the copy
        // loop branch-free.
        var finite_check: simd.V = @splat(0);
        var finite_check_tail: f32 = 0;
        const f_body = simd.alignDown(f);
        for (position_start..position_end) |position| {
            const item = problem.filter.itemAt(position);
            if (problem.filter.isMasked(item)) continue;
            const tile = slot / lanes;
            const lane = slot % lanes;
            const row = problem.items[item * f ..][0..f];
            const tile_values = block.values[tile * f * lanes ..][0 .. f * lanes];
            var d: usize = 0;
            while (d < f_body) : (d += simd.lanes) {
                const chunk = simd.load(row, d);
                finite_check += chunk - chunk;
                inline for (0..simd.lanes) |i| tile_values[(d + i) * lanes + lane] = chunk[i];
            }
            while (d < f) : (d += 1) {
                tile_values[d * lanes + lane] = row[d];
                finite_check_tail += row[d] - row[d];
            }
            block.ids[slot] = @intCast(item);
            slot += 1;
        }
        const tile_count = std.math.divCeil(usize, slot, lanes) catch unreachable;
        const used_last = slot - (tile_count -| 1) * lanes;
        while (slot % lanes != 0) : (slot += 1) {
            const tile = slot / lanes;
            for (0..f) |d| block.values[(tile * f + d) * lanes + slot % lanes] = 0;
            block.ids[slot] = -1;
        }
        const all: LaneBits = std.math.maxInt(LaneBits);
        return .{
            .count = tile_count,
            .last_valid = if (used_last == lanes) all else (@as(LaneBits, 1) << @intCast(used_last)) - 1,
            .non_finite = @reduce(.Add, finite_check) + finite_check_tail != 0,
        };
    }
};

/// The state of one task's queries: heap sizes and exclusion cursors.
const Group = struct {
    context: *const Context,
    query_start: usize,
    heap_len: [group_queries_max]usize = @splat(0),
    /// A score below it cannot enter the query's heap: the root's score once
    /// the heap is full, −Infinity before.
    threshold: [group_queries_max]f32 = @splat(-std.math.inf(f32)),
    /// The filter's exclusionIds(), which every cursor walks.
    exclusion_ids: []const i32,
    /// Entries [0, query_end − query_start) are set.
    exclusions: [group_queries_max]filter.Cursor = undefined,

    fn init(context: *const Context, query_start: usize, query_end: usize) Group {
        var group: Group = .{
            .context = context,
            .query_start = query_start,
            .exclusion_ids = context.problem.filter.exclusionIds(),
        };
        for (query_start..query_end) |query| {
            group.exclusions[query - query_start] = context.problem.filter.cursor(query);
        }
        return group;
    }

    /// Scores queries [sub_start, sub_end) (at most 8) against every tile,
    /// two tiles at a time: 16 accumulators, and per factor 8 broadcasts and
    /// 2 tile loads feed 16 multiply-adds.
    fn scoreSubBlock(group: *Group, block: Block, tiles: Block.Tiles, sub_start: usize, sub_end: usize) void {
        const problem = group.context.problem;
        const f = problem.f;
        assert(sub_end - sub_start <= sub_block_queries);
        var query_rows: [sub_block_queries][*]const f32 = undefined;
        for (&query_rows, 0..) |*row, j| {
            const query = @min(sub_start + j, sub_end - 1);
            row.* = problem.queries[query * f ..][0..f].ptr;
        }
        var tile: usize = 0;
        while (tile + tiles_per_step <= tiles.count) : (tile += tiles_per_step) {
            group.scoreTiles(tiles_per_step, block, tiles, tile, query_rows, sub_start, sub_end);
        }
        while (tile < tiles.count) : (tile += 1) {
            group.scoreTiles(1, block, tiles, tile, query_rows, sub_start, sub_end);
        }
    }

    /// Tiles [tile, tile + count) against the sub-block's queries. Every
    /// score is one lane's chain of multiply-adds in factor order
    /// (simd.dotInOrder's arithmetic), whatever the blocking.
    inline fn scoreTiles(
        group: *Group,
        comptime count: usize,
        block: Block,
        tiles: Block.Tiles,
        tile: usize,
        query_rows: [sub_block_queries][*]const f32,
        sub_start: usize,
        sub_end: usize,
    ) void {
        const f = block.f;
        var tile_values: [count][*]const f32 = undefined;
        inline for (&tile_values, 0..) |*values, t| values.* = block.values[(tile + t) * f * lanes ..].ptr;
        var scores: [sub_block_queries][count]V = @splat(@splat(@splat(0)));
        for (0..f) |d| {
            var factors: [count]V = undefined;
            inline for (&factors, tile_values) |*factor, values| factor.* = values[d * lanes ..][0..lanes].*;
            inline for (&scores, query_rows) |*row_scores, row| {
                const q: V = @splat(row[d]);
                inline for (row_scores, factors) |*score, factor| score.* = mulAdd(q, factor, score.*);
            }
        }
        const all: LaneBits = std.math.maxInt(LaneBits);
        inline for (0..count) |t| {
            const valid = if (tile + t + 1 == tiles.count) tiles.last_valid else all;
            const ids = block.ids[(tile + t) * lanes ..][0..lanes];
            for (sub_start..sub_end) |query| {
                group.offerTile(query, scores[query - sub_start][t], ids, valid);
            }
        }
    }

    /// Offers the tile's scores for one query; a vector compare against the
    /// query's threshold filters the lanes first.
    fn offerTile(group: *Group, query: usize, scores: V, ids: []const i32, valid: LaneBits) void {
        const local = query - group.query_start;
        // Not `>`: an empty slot's threshold is −Infinity, which a −Infinity
        // score (an overflow) passes; a tie with a full heap's root is then
        // rejected by offer(), as ids only increase.
        const passing = scores >= @as(V, @splat(group.threshold[local]));
        var bits: LaneBits = @as(LaneBits, @bitCast(passing)) & valid;
        if (bits == 0) return;
        const score_array: [lanes]f32 = scores;
        for (0..lanes) |_| {
            if (bits == 0) break;
            const lane = @ctz(bits);
            bits &= bits - 1;
            const id = ids[lane];
            if (group.exclusions[local].excludes(group.exclusion_ids, id)) continue;
            group.offer(query, id, score_array[lane]);
        }
    }

    fn heapOf(group: *const Group, query: usize) Heap {
        const k = group.context.problem.k;
        const capacity = group.context.heap_capacity;
        return .init(
            group.context.problem.out_ids[query * k ..][0..capacity],
            group.context.problem.out_scores[query * k ..][0..capacity],
        );
    }

    fn offer(group: *Group, query: usize, id: i32, score: f32) void {
        const local = query - group.query_start;
        const heap = group.heapOf(query);
        const len = heap.offer(group.heap_len[local], id, score);
        group.heap_len[local] = len;
        if (len == group.context.heap_capacity) group.threshold[local] = heap.scores[0];
    }

    /// Sorts the query's kept items best first and pads the row.
    fn finish(group: *const Group, query: usize) void {
        const k = group.context.problem.k;
        const len = group.heap_len[query - group.query_start];
        group.heapOf(query).sortBestFirst(len);
        Heap.pad(group.context.problem.out_ids[query * k ..][0..k], group.context.problem.out_scores[query * k ..][0..k], len);
    }
};

// ---------------------------------------------------------------------------

const testing = std.testing;
const helpers = @import("testing.zig");

/// Every query's dense scores and eligible items, ranked by helpers.bruteTopK.
fn bruteForce(allocator: std.mem.Allocator, problem: *const Problem, out_ids: []i32, out_scores: []f32) !void {
    const f = problem.f;
    const k = problem.k;
    const n_items = problem.itemCount();
    const scores = try allocator.alloc(f32, n_items);
    defer allocator.free(scores);
    const eligible = try allocator.alloc(bool, n_items);
    defer allocator.free(eligible);
    for (0..problem.queryCount()) |query| {
        for (0..n_items) |item| {
            var score: f32 = 0;
            for (0..f) |d| score += problem.queries[query * f + d] * problem.items[item * f + d];
            scores[item] = score;
            eligible[item] = true;
            if (problem.filter.item_mask) |mask| if (mask[item] != 0) {
                eligible[item] = false;
            };
            if (problem.filter.candidates) |candidates| {
                if (std.mem.indexOfScalar(i32, candidates, @intCast(item)) == null) eligible[item] = false;
            }
            if (problem.filter.exclusions) |exclusions| {
                if (std.mem.indexOfScalar(i32, exclusions.rowIndices(query), @intCast(item)) != null) eligible[item] = false;
            }
        }
        _ = try helpers.bruteTopK(allocator, scores, eligible, k, out_ids[query * k ..][0..k], out_scores[query * k ..][0..k]);
    }
}

test "topkDot matches brute force with exclusions, mask, candidates, ties and padding" {
    const allocator = testing.allocator;
    const n_queries = 37;
    const n_items = 301;
    const f = 6;
    var prng = std.Random.DefaultPrng.init(13);
    const random = prng.random();
    const queries = try allocator.alloc(f32, n_queries * f);
    defer allocator.free(queries);
    const items = try allocator.alloc(f32, n_items * f);
    defer allocator.free(items);
    // Small integers make many exact ties.
    helpers.fillIntegers(random, queries, -2, 2);
    helpers.fillIntegers(random, items, -2, 2);

    // Some ids repeated: exclusion rows need only be non-decreasing.
    var exclusions = try helpers.randomCsr(allocator, random, .{ .n_rows = n_queries, .n_cols = n_items, .density = 0.25, .repeat = 0.1 });
    defer exclusions.deinit(allocator);
    var mask: [n_items]u8 = undefined;
    helpers.randomMask(random, &mask, 0.2);
    const candidates = try helpers.randomSubset(allocator, random, n_items, 0.5);
    defer allocator.free(candidates);
    try filter.checkCandidates(candidates, n_items);

    for ([_]usize{ 1, 3 }) |thread_count| {
        var pool: ThreadPool = .{};
        pool.start(thread_count);
        defer pool.stop();
        for ([_]usize{ 1, 10, 400 }) |k| {
            var output: helpers.Ranking = try .init(allocator, n_queries, k);
            defer output.deinit(allocator);
            var expected: helpers.Ranking = try .init(allocator, n_queries, k);
            defer expected.deinit(allocator);
            for (0..helpers.filter_combinations) |combination| {
                const problem: Problem = .{
                    .queries = queries,
                    .items = items,
                    .f = f,
                    .filter = helpers.filterCombination(n_items, combination, .{
                        .exclusions = exclusions.view(),
                        .item_mask = &mask,
                        .candidates = candidates,
                    }),
                    .k = k,
                    .out_ids = output.ids,
                    .out_scores = output.scores,
                };
                try topkDot(allocator, &pool, &problem);
                try bruteForce(allocator, &problem, expected.ids, expected.scores);
                try expected.expectEqual(output.ids, output.scores);
            }
        }
    }
}

test "topkDot fails on a NaN or infinite eligible item and ignores a masked one" {
    const allocator = testing.allocator;
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    const f = 3;
    const queries = [_]f32{ 1, 0, 0, 0, 1, 0 };
    var ids: [2 * 2]i32 = undefined;
    var scores: [2 * 2]f32 = undefined;
    for ([_]f32{ std.math.nan(f32), std.math.inf(f32), -std.math.inf(f32) }) |bad| {
        var items = [_]f32{ 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 1, 1 };
        items[2 * f + 1] = bad;
        var mask = [_]u8{ 0, 0, 0, 0 };
        const problem: Problem = .{
            .queries = &queries,
            .items = &items,
            .f = f,
            .filter = .init(4, .{ .item_mask = &mask }),
            .k = 2,
            .out_ids = &ids,
            .out_scores = &scores,
        };
        try testing.expectError(error.NonFiniteItem, topkDot(allocator, &pool, &problem));
        mask[2] = 1;
        try topkDot(allocator, &pool, &problem);
        try testing.expectEqualSlices(i32, &.{ 1, 0, 1, 0 }, &ids);
    }
}

test "topkDot's scores are dotInOrder's bit for bit (the contract zig/ann/exact.zig relies on)" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(29);
    const random = prng.random();
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    for ([_]usize{ 1, 17, 64 }) |f| {
        const n_queries = 21;
        const n_items = 333;
        const k = 7;
        const queries = try allocator.alloc(f32, n_queries * f);
        defer allocator.free(queries);
        const items = try allocator.alloc(f32, n_items * f);
        defer allocator.free(items);
        for (queries) |*v| v.* = random.floatNorm(f32);
        for (items) |*v| v.* = random.floatNorm(f32);
        var output: helpers.Ranking = try .init(allocator, n_queries, k);
        defer output.deinit(allocator);
        const problem: Problem = .{ .queries = queries, .items = items, .f = f, .filter = .init(n_items, .{}), .k = k, .out_ids = output.ids, .out_scores = output.scores };
        try topkDot(allocator, &pool, &problem);
        for (0..n_queries) |query| {
            for (output.ids[query * k ..][0..k], output.scores[query * k ..][0..k]) |id, score| {
                const row: usize = @intCast(id);
                try testing.expectEqual(simd.dotInOrder(queries[query * f ..][0..f], items[row * f ..][0..f]), score);
            }
        }
    }
}
