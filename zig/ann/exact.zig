//! Exact scores for the indexes' driver: re-scoring an index's candidates and
//! the per-query exact scan the planner falls back to.
//!
//! Every score is Σ_d q[d]·t[d] accumulated in factor order with one
//! multiply-add per term — simd.dotInOrder's arithmetic, which is also one
//! lane of zig/topk.zig's tiles — so an id found through an index carries the
//! very score (bit for bit) the exact path gives it, and ties order the same.
//! Rows are scored `lanes` at a time, one row per lane, gathering one factor
//! of each per step: the lanes' chains are independent, so the multiply-adds
//! run at throughput instead of waiting on one chain's latency.

const std = @import("std");
const assert = std.debug.assert;
const simd = @import("../simd.zig");
const filter_module = @import("../filter.zig");
const Heap = @import("../heap.zig").TopK(i32, f32);
const Filter = filter_module.Filter;

const lanes = simd.lanes;
const V = simd.V;

/// out[c] = score of row ids[c] of `targets` (row-major, `f` columns) against
/// `query`. False when a score is NaN or infinite (a non-finite row value, or
/// an overflow): the caller fails the call rather than rank by it.
pub fn scoreRows(query: []const f32, targets: []const f32, f: usize, ids: []const i32, out: []f32) bool {
    assert(query.len == f and out.len == ids.len);
    // x − x is 0 for every finite x and NaN otherwise; the sum stays 0 only if all are finite.
    var finite_check: V = @splat(0);
    var start: usize = 0;
    while (start + lanes <= ids.len) : (start += lanes) {
        var offsets: [lanes]usize = undefined;
        for (&offsets, ids[start..][0..lanes]) |*offset, id| offset.* = @as(usize, @intCast(id)) * f;
        var score: V = @splat(0);
        for (0..f) |d| {
            var column: V = undefined;
            inline for (0..lanes) |lane| column[lane] = targets[offsets[lane] + d];
            score = simd.mulAdd(@splat(query[d]), column, score);
        }
        out[start..][0..lanes].* = score;
        finite_check += score - score;
    }
    var tail_check: f32 = 0;
    for (ids[start..], out[start..]) |id, *score| {
        const row = @as(usize, @intCast(id)) * f;
        score.* = simd.dotInOrder(query, targets[row..][0..f]);
        tail_check += score.* - score.*;
    }
    return @reduce(.Add, finite_check) + tail_check == 0;
}

/// The best `ids.len` admissible items for query `q` by exact score, every
/// admissible item considered: best first, padded with −1 / −Infinity.
/// `block` is scratch of at least `lanes` ids and scores. False when a score
/// was not finite (as `scoreRows`).
pub fn scanOne(
    query: []const f32,
    targets: []const f32,
    f: usize,
    filter: *const Filter,
    q: usize,
    block_ids: []i32,
    block_scores: []f32,
    out_ids: []i32,
    out_scores: []f32,
) bool {
    assert(block_ids.len >= lanes and block_scores.len >= lanes);
    const heap = Heap.init(out_ids, out_scores);
    var len: usize = 0;
    var filled: usize = 0;
    var finite = true;
    var cursor = filter.cursor(q);
    const excluded_ids = filter.exclusionIds();
    for (0..filter.positionCount()) |position| {
        const item = filter.itemAt(position);
        if (filter.isMasked(item) or cursor.excludes(excluded_ids, @intCast(item))) continue;
        block_ids[filled] = @intCast(item);
        filled += 1;
        if (filled < lanes) continue;
        finite = scoreRows(query, targets, f, block_ids[0..lanes], block_scores[0..lanes]) and finite;
        for (block_ids[0..lanes], block_scores[0..lanes]) |id, score| len = heap.offer(len, id, score);
        filled = 0;
    }
    finite = scoreRows(query, targets, f, block_ids[0..filled], block_scores[0..filled]) and finite;
    for (block_ids[0..filled], block_scores[0..filled]) |id, score| len = heap.offer(len, id, score);
    heap.sortBestFirst(len);
    Heap.pad(out_ids, out_scores, len);
    return finite;
}

// ---------------------------------------------------------------------------

const testing = std.testing;

test "scoreRows equals dotInOrder bit for bit, any count of ids" {
    var prng = std.Random.DefaultPrng.init(5);
    const random = prng.random();
    const f = 37;
    var targets: [50 * f]f32 = undefined;
    for (&targets) |*v| v.* = random.floatNorm(f32);
    var query: [f]f32 = undefined;
    for (&query) |*v| v.* = random.floatNorm(f32);
    var ids: [45]i32 = undefined;
    for (&ids) |*id| id.* = random.intRangeLessThan(i32, 0, 50);
    var scores: [45]f32 = undefined;
    try testing.expect(scoreRows(&query, &targets, f, &ids, &scores));
    for (ids, scores) |id, score| {
        const row: usize = @intCast(id);
        try testing.expectEqual(simd.dotInOrder(&query, targets[row * f ..][0..f]), score);
    }
}

test "a NaN row is reported, not ranked" {
    const targets = [_]f32{ 1, 2, std.math.nan(f32), 1, 3, 4 };
    const query = [_]f32{ 1, 1 };
    var scores: [3]f32 = undefined;
    try testing.expect(!scoreRows(&query, &targets, 2, &.{ 0, 1, 2 }, &scores));
    try testing.expect(scoreRows(&query, &targets, 2, &.{ 0, 2 }, scores[0..2]));
}

test "scanOne keeps the best admissible items, as a brute-force sort does" {
    var prng = std.Random.DefaultPrng.init(9);
    const random = prng.random();
    const f = 5;
    const n = 300;
    var targets: [n * f]f32 = undefined;
    // Few distinct values, so exact ties occur and must order by id.
    for (&targets) |*v| v.* = @floatFromInt(random.intRangeLessThan(i32, -2, 3));
    const query = [_]f32{ 1, 0.5, -1, 2, 0.25 };
    var mask: [n]u8 = undefined;
    for (&mask) |*m| m.* = @intFromBool(random.float(f32) < 0.5);
    const filter = Filter.init(n, .{ .item_mask = &mask });
    var block_ids: [lanes]i32 = undefined;
    var block_scores: [lanes]f32 = undefined;
    var ids: [12]i32 = undefined;
    var scores: [12]f32 = undefined;
    try testing.expect(scanOne(&query, &targets, f, &filter, 0, &block_ids, &block_scores, &ids, &scores));
    // Brute force: every unmasked item, sorted by (score desc, id asc).
    var all_ids: [n]i32 = undefined;
    var all_scores: [n]f32 = undefined;
    var count: usize = 0;
    for (0..n) |item| {
        if (mask[item] != 0) continue;
        all_ids[count] = @intCast(item);
        all_scores[count] = simd.dotInOrder(&query, targets[item * f ..][0..f]);
        count += 1;
    }
    for (0..12) |rank| {
        var best: usize = rank;
        for (rank + 1..count) |c| {
            if (Heap.worse(all_scores[best], all_ids[best], all_scores[c], all_ids[c])) best = c;
        }
        std.mem.swap(i32, &all_ids[rank], &all_ids[best]);
        std.mem.swap(f32, &all_scores[rank], &all_scores[best]);
        try testing.expectEqual(all_ids[rank], ids[rank]);
        try testing.expectEqual(all_scores[rank], scores[rank]);
    }
}
