//! A dense accumulator over one column tile of a sparse product's output row,
//! for the rows whose product touches a large share of the columns (the
//! popular items of a BM25 / cosine fit, zig/knn.zig).
//!
//! zig/knn.zig's Accumulator spans every column and keeps a list of the
//! columns a row touched: each update stores to the list and reads a stamp,
//! and the selection then jumps through the list. For a dense row that is
//! twice the memory traffic of the sums themselves and a random walk over a
//! 2 MB array. A tile instead holds `width` sums (L2-resident) and one byte
//! per column that says "touched"; an update is a read-modify-write of the
//! sum and a store of the byte, and the selection sweeps the tile in column
//! order, 16 lanes at a time against the heap's current threshold, zeroing
//! it for the next tile as it goes. Cost per tile: its width, so a row is
//! only tiled when its work is a good share of the columns.
//!
//! Sums are formed exactly as the Accumulator forms them (0, then += w · x
//! for each run in the caller's order), so a pair's score is bit-identical;
//! which entries reach the heap first does not change its result (the heap
//! keeps the k best under one total order).

const std = @import("std");
const assert = std.debug.assert;
const simd = @import("simd.zig");
const Heap = @import("heap.zig").TopK(i32, f32);

const lanes = simd.lanes;
const V = simd.V;

/// Lanes of the selection sweep.
const sweep_lanes = 16;
const SweepF = @Vector(sweep_lanes, f32);
const SweepB = @Vector(sweep_lanes, u8);

pub const Tile = struct {
    /// [width]: the running sums, 0 between tiles.
    sums: []f32,
    /// [width]: 1 where a column of the current tile was touched, else 0.
    touched: []u8,

    /// `n_columns`, the tile's width, must be a multiple of the sweep's lanes (16).
    pub fn init(allocator: std.mem.Allocator, n_columns: usize) error{OutOfMemory}!Tile {
        assert(n_columns > 0 and n_columns % sweep_lanes == 0);
        const sums = try allocator.alloc(f32, n_columns);
        errdefer allocator.free(sums);
        const touched = try allocator.alloc(u8, n_columns);
        @memset(sums, 0);
        @memset(touched, 0);
        return .{ .sums = sums, .touched = touched };
    }

    pub fn deinit(tile: *Tile, allocator: std.mem.Allocator) void {
        allocator.free(tile.touched);
        allocator.free(tile.sums);
    }

    pub fn width(tile: *const Tile) usize {
        return tile.sums.len;
    }

    /// sums[c − base] += weight · data[q] for q from `start` on while q < end
    /// and c = indices[q] < column_end (the part of a row sorted by column
    /// that lies in the tile [base, column_end), column_end − base ≤ width);
    /// returns where it stopped. A row that is not sorted may be given only
    /// with a tile spanning all its columns.
    pub fn addScaledRun(tile: *Tile, weight: f32, indices: []const i32, data: []const f32, start: usize, end: usize, base: i32, column_end: i32) usize {
        assert(start <= end and end <= indices.len and indices.len == data.len);
        assert(column_end - base <= tile.sums.len);
        // Locals, not fields: the stores would otherwise alias `tile.*`.
        const sums = tile.sums;
        const touched = tile.touched;
        const weight_v: V = @splat(weight);
        var q = start;
        // Sorted: a block is inside the tile when its last column is.
        while (q + lanes <= end and indices[q + lanes - 1] < column_end) : (q += lanes) {
            const products: [lanes]f32 = weight_v * simd.load(data, q);
            inline for (0..lanes) |lane| {
                const column: usize = @intCast(indices[q + lane] - base);
                sums[column] += products[lane];
                touched[column] = 1;
            }
        }
        while (q < end and indices[q] < column_end) : (q += 1) {
            const column: usize = @intCast(indices[q] - base);
            sums[column] += weight * data[q];
            touched[column] = 1;
        }
        return q;
    }

    /// Offers every touched column of [0, n_columns) as (base + column, sum)
    /// to the heap of length `len_start` and returns its new length; leaves
    /// the tile zeroed. Once the heap is full only the columns whose sum
    /// exceeds its root's score are offered (the others cannot enter, as
    /// long as every id offered to this heap so far is below base).
    pub fn offerAndClear(tile: *Tile, heap: Heap, len_start: usize, base: i32, n_columns: usize) usize {
        assert(n_columns <= tile.sums.len);
        const sums = tile.sums;
        const touched = tile.touched;
        const capacity = heap.ids.len;
        var len = len_start;
        const zero_f: SweepF = @splat(0);
        const zero_b: SweepB = @splat(0);
        var c: usize = 0;
        // The width is a multiple of the lanes: the last block may run past
        // n_columns only over columns no run touched (still zero).
        while (c < n_columns) : (c += sweep_lanes) {
            const block_sums: SweepF = sums[c..][0..sweep_lanes].*;
            const block_touched: SweepB = touched[c..][0..sweep_lanes].*;
            var candidates = block_touched != zero_b;
            if (len == capacity) {
                // Columns come in id order, so a sum equal to the root's
                // ranks after it (its id is larger): only a larger one enters.
                const threshold: SweepF = @splat(heap.scores[0]);
                candidates = @select(bool, candidates, block_sums > threshold, candidates);
            }
            var mask: u16 = @bitCast(candidates);
            if (mask != 0) {
                while (mask != 0) : (mask &= mask - 1) {
                    const lane = @ctz(mask);
                    len = heap.offer(len, base + @as(i32, @intCast(c + lane)), sums[c + lane]);
                }
            }
            if (@reduce(.Or, block_touched != zero_b)) {
                sums[c..][0..sweep_lanes].* = zero_f;
                touched[c..][0..sweep_lanes].* = zero_b;
            }
        }
        return len;
    }
};

// ---------------------------------------------------------------------------

const testing = std.testing;
const helpers = @import("testing.zig");

test "a tile sums sorted runs by column range and offers what a dense reference ranks" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(31);
    const random = prng.random();
    const n_columns = 150;
    const n_rows = 9;
    // Small integers: many exact ties between columns.
    var m = try helpers.randomCsr(allocator, random, .{ .n_rows = n_rows, .n_cols = n_columns, .density = 0.3, .values = .{ .integers = .{ .min = 1, .max = 3 } } });
    defer m.deinit(allocator);
    const matrix = m.view();
    const weights = [n_rows]f32{ 1, 2, 0.5, 3, 1, 1, 2, 0.25, 1 };

    var dense: [n_columns]f32 = @splat(0);
    var reached: [n_columns]bool = @splat(false);
    for (0..n_rows) |row| for (matrix.rowIndices(row), matrix.rowValues(row)) |j, value| {
        dense[@intCast(j)] += weights[row] * value;
        reached[@intCast(j)] = true;
    };

    for ([_]usize{ 16, 48, 160 }) |tile_width| for ([_]usize{ 1, 7, 200 }) |k| {
        var tile: Tile = try .init(allocator, tile_width);
        defer tile.deinit(allocator);
        var output: helpers.Ranking = try .init(allocator, 1, k);
        defer output.deinit(allocator);
        const heap: Heap = .init(output.ids, output.scores);
        var cursors: [n_rows]usize = undefined;
        for (&cursors, 0..) |*q, row| q.* = matrix.rowRange(row).start;
        var len: usize = 0;
        var base: usize = 0;
        while (base < n_columns) : (base += tile_width) {
            const column_end = @min(base + tile_width, n_columns);
            for (&cursors, 0..) |*q, row| {
                q.* = tile.addScaledRun(weights[row], matrix.indices, matrix.values(), q.*, matrix.rowRange(row).end, @intCast(base), @intCast(column_end));
            }
            len = tile.offerAndClear(heap, len, @intCast(base), column_end - base);
            for (tile.sums, tile.touched) |s, t| {
                try testing.expectEqual(0, s);
                try testing.expectEqual(0, t);
            }
        }
        for (&cursors, 0..) |q, row| try testing.expectEqual(matrix.rowRange(row).end, q);
        heap.sortBestFirst(len);
        Heap.pad(heap.ids, heap.scores, len);
        var expected: helpers.Ranking = try .init(allocator, 1, k);
        defer expected.deinit(allocator);
        _ = try helpers.bruteTopK(allocator, &dense, &reached, k, expected.ids, expected.scores);
        try expected.expectEqual(output.ids, output.scores);
    };
}
