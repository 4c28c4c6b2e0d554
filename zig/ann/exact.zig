//! Exact scores for the indexes' driver: re-scoring an index's candidates.
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
