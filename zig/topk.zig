//! Top-k items by dot product for a batch of queries (recommend, similar items).
//!
//! Brute force made cache- and register-friendly: items are copied, a block
//! at a time (about 256 KiB, so it stays in L2), into tiles of `simd.lanes`
//! items stored factor-major, so one vector load holds one factor of
//! `lanes` items. Eight queries are scored against a tile at once, with no
//! horizontal sums, and a whole group of up to 512 queries reuses each block (re-tiling the
//! items once per group costs about as much as scoring 40 queries).
//! Each query keeps a bounded min-heap of its best k (score descending, id
//! ascending) in its own output row; a vector compare against the heap's root
//! rejects most items before any scalar work.

const std = @import("std");
const assert = std.debug.assert;
const simd = @import("simd.zig");
const status = @import("status.zig");
const ThreadPool = @import("ThreadPool.zig");
const Error = status.Error;

const lanes = simd.lanes;
const V = simd.V;
const LaneBits = @Int(.unsigned, lanes);

/// Queries scored together against one tile (one accumulator vector each).
const sub_block_queries = 8;
const group_queries_max = 512;
const block_bytes_target = 256 * 1024;
const block_tiles_max = 256;

pub const Problem = struct {
    /// [n_queries, f] row-major.
    queries: []const f32,
    /// [n_items, f] row-major.
    items: []const f32,
    f: usize,
    /// Per query, item ids never returned: exclude_indptr [n_queries + 1]
    /// (starting at 0, non-decreasing) and exclude_indices sorted ascending
    /// within each row; both null when there are no exclusions.
    exclude_indptr: ?[]const i32,
    exclude_indices: []const i32,
    /// item_mask[item] != 0 skips the item for every query.
    item_mask: ?[]const u8,
    /// When non-null, only these items (sorted ascending, unique) are ranked.
    candidates: ?[]const i32,
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

    /// Items are visited as positions 0..positionCount(), in increasing id.
    fn positionCount(problem: *const Problem) usize {
        return if (problem.candidates) |candidates| candidates.len else problem.itemCount();
    }

    fn itemAt(problem: *const Problem, position: usize) usize {
        return if (problem.candidates) |candidates| @intCast(candidates[position]) else position;
    }
};

/// Checks that `candidates` is strictly increasing and within [0, n_items).
pub fn checkCandidates(candidates: []const i32, n_items: usize) Error!void {
    for (candidates, 0..) |candidate, i| {
        if (candidate < 0 or candidate >= n_items) {
            return status.fail(.out_of_range, "candidates[{d}] = {d} is out of range for {d} items", .{ i, candidate, n_items });
        }
        if (i > 0 and candidate <= candidates[i - 1]) {
            return status.fail(.invalid_argument, "Expected candidates to be sorted ascending without duplicates but found candidates[{d}] = {d} after candidates[{d}] = {d}", .{
                i, candidate, i - 1, candidates[i - 1],
            });
        }
    }
}

/// Fills out_ids and out_scores for every query. Inputs must be validated.
pub fn topkDot(allocator: std.mem.Allocator, pool: *ThreadPool, problem: *const Problem) error{OutOfMemory}!void {
    assert(problem.f >= 1 and problem.k >= 1);
    assert(problem.queries.len % problem.f == 0 and problem.items.len % problem.f == 0);
    assert(problem.out_ids.len == problem.queryCount() * problem.k);
    assert(problem.out_scores.len == problem.out_ids.len);
    const n_queries = problem.queryCount();
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
        .heap_capacity = @min(problem.k, problem.positionCount()),
        .tile_values = tile_values,
        .tile_ids = tile_ids,
    };
    const n_groups = std.math.divCeil(usize, n_queries, group_queries) catch unreachable;
    pool.run(n_groups, &context, Context.runGroup);
}

/// Queries per task: a multiple of 8 in [8, 512], small enough that there are
/// about four tasks per thread when the batch is small.
fn groupQueries(n_queries: usize, thread_count: usize) usize {
    const per_task = std.math.divCeil(usize, n_queries, 4 * thread_count) catch unreachable;
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

    fn runGroup(context: *Context, group_index: usize, worker_index: usize) void {
        const problem = context.problem;
        const query_start = group_index * context.group_queries;
        const query_end = @min(problem.queryCount(), query_start + context.group_queries);
        assert(query_start < query_end);
        var group: Group = .init(context, query_start, query_end);
        const block = context.workerBlock(worker_index);
        const block_positions = context.block_tiles * lanes;
        var position: usize = 0;
        while (position < problem.positionCount()) : (position += block_positions) {
            const position_end = @min(problem.positionCount(), position + block_positions);
            const tiles = block.fill(problem, position, position_end);
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
    };

    fn fill(block: Block, problem: *const Problem, position_start: usize, position_end: usize) Tiles {
        const f = block.f;
        var slot: usize = 0;
        for (position_start..position_end) |position| {
            const item = problem.itemAt(position);
            if (problem.item_mask) |mask| if (mask[item] != 0) continue;
            const tile = slot / lanes;
            const lane = slot % lanes;
            const row = problem.items[item * f ..][0..f];
            const tile_values = block.values[tile * f * lanes ..][0 .. f * lanes];
            for (row, 0..) |value, d| tile_values[d * lanes + lane] = value;
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
        };
    }
};

/// The state of one task's queries: heap sizes and exclusion cursors.
const Group = struct {
    context: *const Context,
    query_start: usize,
    heap_len: [group_queries_max]usize = @splat(0),
    exclude_next: [group_queries_max]usize = @splat(0),
    exclude_end: [group_queries_max]usize = @splat(0),

    fn init(context: *const Context, query_start: usize, query_end: usize) Group {
        var group: Group = .{ .context = context, .query_start = query_start };
        if (context.problem.exclude_indptr) |indptr| {
            for (query_start..query_end) |query| {
                group.exclude_next[query - query_start] = @intCast(indptr[query]);
                group.exclude_end[query - query_start] = @intCast(indptr[query + 1]);
            }
        }
        return group;
    }

    /// Scores queries [sub_start, sub_end) (at most 8) against every tile.
    fn scoreSubBlock(group: *Group, block: Block, tiles: Block.Tiles, sub_start: usize, sub_end: usize) void {
        const problem = group.context.problem;
        const f = problem.f;
        assert(sub_end - sub_start <= sub_block_queries);
        var query_rows: [sub_block_queries][]const f32 = undefined;
        for (&query_rows, 0..) |*row, j| {
            const query = @min(sub_start + j, sub_end - 1);
            row.* = problem.queries[query * f ..][0..f];
        }
        for (0..tiles.count) |tile| {
            const tile_values = block.values[tile * f * lanes ..][0 .. f * lanes];
            var scores: [sub_block_queries]V = @splat(@splat(0));
            for (0..f) |d| {
                const factor = simd.load(tile_values, d * lanes);
                inline for (&scores, query_rows) |*score, row| {
                    score.* = simd.mulAdd(@splat(row[d]), factor, score.*);
                }
            }
            const all: LaneBits = std.math.maxInt(LaneBits);
            const valid = if (tile + 1 == tiles.count) tiles.last_valid else all;
            const ids = block.ids[tile * lanes ..][0..lanes];
            for (sub_start..sub_end) |query| {
                group.offerTile(query, scores[query - sub_start], ids, valid);
            }
        }
    }

    /// Offers the tile's scores for one query; a vector compare against the
    /// heap's worst entry filters the lanes first.
    fn offerTile(group: *Group, query: usize, scores: V, ids: []const i32, valid: LaneBits) void {
        const local = query - group.query_start;
        const heap = group.heapOf(query);
        const full = group.heap_len[local] == group.context.heap_capacity;
        const passing = if (full) scores > @as(V, @splat(heap.scores[0])) else scores == scores;
        var bits: LaneBits = @as(LaneBits, @bitCast(passing)) & valid;
        const score_array: [lanes]f32 = scores;
        for (0..lanes) |_| {
            if (bits == 0) break;
            const lane = @ctz(bits);
            bits &= bits - 1;
            const id = ids[lane];
            if (group.isExcluded(local, id)) continue;
            group.offer(query, id, score_array[lane]);
        }
    }

    fn isExcluded(group: *Group, local: usize, id: i32) bool {
        const indices = group.context.problem.exclude_indices;
        var next = group.exclude_next[local];
        const end = group.exclude_end[local];
        while (next < end and indices[next] < id) next += 1;
        group.exclude_next[local] = next;
        return next < end and indices[next] == id;
    }

    fn heapOf(group: *const Group, query: usize) Heap {
        const k = group.context.problem.k;
        const capacity = group.context.heap_capacity;
        return .{
            .ids = group.context.problem.out_ids[query * k ..][0..capacity],
            .scores = group.context.problem.out_scores[query * k ..][0..capacity],
        };
    }

    fn offer(group: *Group, query: usize, id: i32, score: f32) void {
        const local = query - group.query_start;
        group.heap_len[local] = group.heapOf(query).offer(group.heap_len[local], id, score);
    }

    /// Sorts the query's kept items best first and pads the row.
    fn finish(group: *const Group, query: usize) void {
        const k = group.context.problem.k;
        const len = group.heap_len[query - group.query_start];
        group.heapOf(query).sortBestFirst(len);
        @memset(group.context.problem.out_ids[query * k + len ..][0 .. k - len], -1);
        @memset(group.context.problem.out_scores[query * k + len ..][0 .. k - len], -std.math.inf(f32));
    }
};

/// A binary min-heap on parallel id and score arrays; the root is the worst
/// entry kept (lowest score, then highest id). Capacity is `ids.len`; the
/// caller keeps the length. Shared by every top-k in tacit (zig/knn.zig too),
/// so all of them order results the same way: score descending, id ascending.
pub const Heap = struct {
    ids: []i32,
    scores: []f32,

    /// True when (score_a, id_a) ranks after (score_b, id_b).
    pub fn worse(score_a: f32, id_a: i32, score_b: f32, id_b: i32) bool {
        return score_a < score_b or (score_a == score_b and id_a > id_b);
    }

    /// Keeps (id, score) if the heap has room or it ranks before the root;
    /// returns the new length.
    pub fn offer(heap: Heap, len: usize, id: i32, score: f32) usize {
        assert(len <= heap.ids.len);
        if (len < heap.ids.len) {
            heap.push(len, id, score);
            return len + 1;
        }
        if (len > 0 and worse(heap.scores[0], heap.ids[0], score, id)) heap.replaceRoot(len, id, score);
        return len;
    }

    fn push(heap: Heap, len: usize, id: i32, score: f32) void {
        assert(len < heap.ids.len);
        var i = len;
        while (i > 0) {
            const parent = (i - 1) / 2;
            if (!worse(score, id, heap.scores[parent], heap.ids[parent])) break;
            heap.ids[i] = heap.ids[parent];
            heap.scores[i] = heap.scores[parent];
            i = parent;
        }
        heap.ids[i] = id;
        heap.scores[i] = score;
    }

    fn replaceRoot(heap: Heap, len: usize, id: i32, score: f32) void {
        assert(len >= 1);
        var i: usize = 0;
        while (true) {
            var child = 2 * i + 1;
            if (child >= len) break;
            if (child + 1 < len and worse(heap.scores[child + 1], heap.ids[child + 1], heap.scores[child], heap.ids[child])) {
                child += 1;
            }
            if (!worse(heap.scores[child], heap.ids[child], score, id)) break;
            heap.ids[i] = heap.ids[child];
            heap.scores[i] = heap.scores[child];
            i = child;
        }
        heap.ids[i] = id;
        heap.scores[i] = score;
    }

    /// Heap sort: repeatedly moves the worst entry to the end.
    pub fn sortBestFirst(heap: Heap, len: usize) void {
        var end = len;
        while (end > 1) {
            end -= 1;
            const id = heap.ids[end];
            const score = heap.scores[end];
            heap.ids[end] = heap.ids[0];
            heap.scores[end] = heap.scores[0];
            heap.replaceRoot(end, id, score);
        }
    }
};

// ---------------------------------------------------------------------------

const testing = std.testing;

fn bruteForce(allocator: std.mem.Allocator, problem: *const Problem, out_ids: []i32, out_scores: []f32) !void {
    const f = problem.f;
    const k = problem.k;
    const Entry = struct { id: i32, score: f32 };
    var entries: std.ArrayList(Entry) = .empty;
    defer entries.deinit(allocator);
    for (0..problem.queryCount()) |query| {
        entries.clearRetainingCapacity();
        for (0..problem.itemCount()) |item| {
            if (problem.item_mask) |mask| if (mask[item] != 0) continue;
            if (problem.candidates) |candidates| {
                if (std.mem.indexOfScalar(i32, candidates, @intCast(item)) == null) continue;
            }
            if (problem.exclude_indptr) |indptr| {
                const excluded = problem.exclude_indices[@intCast(indptr[query])..@intCast(indptr[query + 1])];
                if (std.mem.indexOfScalar(i32, excluded, @intCast(item)) != null) continue;
            }
            var score: f32 = 0;
            for (0..f) |d| score += problem.queries[query * f + d] * problem.items[item * f + d];
            try entries.append(allocator, .{ .id = @intCast(item), .score = score });
        }
        std.mem.sort(Entry, entries.items, {}, struct {
            fn lessThan(_: void, a: Entry, b: Entry) bool {
                return Heap.worse(b.score, b.id, a.score, a.id);
            }
        }.lessThan);
        for (0..k) |j| {
            out_ids[query * k + j] = if (j < entries.items.len) entries.items[j].id else -1;
            out_scores[query * k + j] = if (j < entries.items.len) entries.items[j].score else -std.math.inf(f32);
        }
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
    for (queries) |*v| v.* = @floatFromInt(random.intRangeAtMost(i32, -2, 2));
    for (items) |*v| v.* = @floatFromInt(random.intRangeAtMost(i32, -2, 2));

    var exclude_indptr: [n_queries + 1]i32 = undefined;
    var exclude_indices: std.ArrayList(i32) = .empty;
    defer exclude_indices.deinit(allocator);
    exclude_indptr[0] = 0;
    for (0..n_queries) |query| {
        for (0..n_items) |item| if (random.uintLessThan(u32, 4) == 0) try exclude_indices.append(allocator, @intCast(item));
        exclude_indptr[query + 1] = @intCast(exclude_indices.items.len);
    }
    var mask: [n_items]u8 = undefined;
    for (&mask) |*m| m.* = @intFromBool(random.uintLessThan(u32, 5) == 0);
    var candidates: std.ArrayList(i32) = .empty;
    defer candidates.deinit(allocator);
    for (0..n_items) |item| if (random.boolean()) try candidates.append(allocator, @intCast(item));
    try checkCandidates(candidates.items, n_items);

    for ([_]usize{ 1, 3 }) |thread_count| {
        var pool: ThreadPool = .{};
        pool.start(thread_count);
        defer pool.stop();
        for ([_]usize{ 1, 10, 400 }) |k| {
            for (0..8) |variant| {
                const problem: Problem = .{
                    .queries = queries,
                    .items = items,
                    .f = f,
                    .exclude_indptr = if (variant & 1 != 0) &exclude_indptr else null,
                    .exclude_indices = if (variant & 1 != 0) exclude_indices.items else &.{},
                    .item_mask = if (variant & 2 != 0) &mask else null,
                    .candidates = if (variant & 4 != 0) candidates.items else null,
                    .k = k,
                    .out_ids = try allocator.alloc(i32, n_queries * k),
                    .out_scores = try allocator.alloc(f32, n_queries * k),
                };
                defer allocator.free(problem.out_ids);
                defer allocator.free(problem.out_scores);
                const expected_ids = try allocator.alloc(i32, n_queries * k);
                defer allocator.free(expected_ids);
                const expected_scores = try allocator.alloc(f32, n_queries * k);
                defer allocator.free(expected_scores);
                try topkDot(allocator, &pool, &problem);
                try bruteForce(allocator, &problem, expected_ids, expected_scores);
                try testing.expectEqualSlices(i32, expected_ids, problem.out_ids);
                try testing.expectEqualSlices(f32, expected_scores, problem.out_scores);
            }
        }
    }
}

test "checkCandidates rejects unsorted, duplicate and out-of-range ids" {
    try checkCandidates(&.{ 0, 3, 4 }, 5);
    try testing.expectError(error.OutOfRange, checkCandidates(&.{ 0, 5 }, 5));
    try testing.expectError(error.InvalidArgument, checkCandidates(&.{ 1, 1 }, 5));
    try testing.expectError(error.InvalidArgument, checkCandidates(&.{ 2, 1 }, 5));
}
