//! Argument checks the implementations of the exports share, beyond the
//! lengths and counts the edge already checked: ranges, finiteness, filters.
//! Each failure names the argument, what was expected and what was found.

const std = @import("std");
const status = @import("../status.zig");
const ThreadPool = @import("../ThreadPool.zig");
const finite = @import("../finite.zig");
const filter = @import("../filter.zig");
const csr = @import("../csr.zig");
const Error = status.Error;

/// Latent factors a kernel accepts: 1..factors_max.
pub const factors_max = 1024;

pub fn factorCount(f: usize) Error!usize {
    if (f < 1 or f > factors_max) {
        return status.fail(.out_of_range, "Expected f to be in 1..{d} but found {d}", .{ factors_max, f });
    }
    return f;
}

/// `k`, the results per query of a ranking call: at least 1.
pub fn resultCount(k: usize) Error!usize {
    if (k < 1) return status.fail(.out_of_range, "Expected k to be >= 1 but found {d}", .{k});
    return k;
}

pub fn flag(value: i32, comptime name: []const u8) Error!bool {
    return switch (value) {
        0 => false,
        1 => true,
        else => status.fail(.invalid_argument, "Expected " ++ name ++ " to be 0 or 1 but found {d}", .{value}),
    };
}

pub fn requireFinite(value: f32, comptime name: []const u8) Error!void {
    if (!std.math.isFinite(value)) {
        return status.fail(.not_finite, "Expected " ++ name ++ " to be finite but found {f}", .{status.floatName(value)});
    }
}

/// A finite value >= 0.
pub fn requireNonNegative(value: f32, comptime name: []const u8) Error!void {
    try requireFinite(value, name);
    if (value < 0) return status.fail(.out_of_range, "Expected " ++ name ++ " to be >= 0 but found {d}", .{value});
}

/// Fails naming the first NaN or infinity of a [rows, f] matrix.
pub fn requireAllFinite(pool: *ThreadPool, values: []const f32, f: usize, comptime name: []const u8) Error!void {
    const position = finite.firstNonFinite(pool, values) orelse return;
    return status.fail(.not_finite, "Expected " ++ name ++ " to be finite but found {f} at " ++ name ++ "[{d}] (row {d}, factor {d})", .{
        status.floatName(values[position]), position, position / f, position % f,
    });
}

/// Seeds cross the boundary as i32; their bits are the seed.
pub fn seedOf(seed: i32) u64 {
    return @as(u32, @bitCast(seed));
}

/// A candidate list, when given, is sorted ascending without duplicates and in range.
pub fn checkCandidates(candidates: ?[]const i32, n_items: usize) Error!void {
    if (candidates) |list| try filter.checkCandidates(list, n_items);
}

/// A CSR matrix after checking its indptr (from 0, non-decreasing) and its
/// entries (in range for n_cols columns, ordered as `order` says, values
/// finite), in parallel. The edge already fixed every length.
pub fn checkedCsr(
    pool: *ThreadPool,
    indptr: []const i32,
    indices: []const i32,
    data: ?[]const f32,
    n_cols: usize,
    order: csr.Order,
    comptime names: csr.Names,
) Error!csr.Csr {
    _ = try csr.checkIndptr(indptr, names);
    const matrix: csr.Csr = .{ .indptr = indptr, .indices = indices, .data = data };
    try csr.checkEntries(pool, matrix, .{ .n_cols = n_cols, .order = order, .names = names });
    return matrix;
}
