//! Parallel scans for NaN and infinity in f32 arrays.

const std = @import("std");
const simd = @import("simd.zig");
const ThreadPool = @import("ThreadPool.zig");

const chunk_len = 64 * 1024;

/// The number of NaN or infinite values in `values`.
pub fn countNonFinite(pool: *ThreadPool, values: []const f32) usize {
    var context: Context = .{ .values = values };
    pool.run(chunkCount(values.len), &context, Context.countChunk);
    return context.count.load(.monotonic);
}

/// The position of the first NaN or infinite value, or null when all are finite.
pub fn firstNonFinite(pool: *ThreadPool, values: []const f32) ?usize {
    var context: Context = .{ .values = values };
    pool.run(chunkCount(values.len), &context, Context.findChunk);
    const position = context.position_min.load(.monotonic);
    return if (position == std.math.maxInt(usize)) null else position;
}

fn chunkCount(len: usize) usize {
    return std.math.divCeil(usize, len, chunk_len) catch unreachable;
}

const Context = struct {
    values: []const f32,
    count: std.atomic.Value(usize) = .init(0),
    position_min: std.atomic.Value(usize) = .init(std.math.maxInt(usize)),

    fn chunk(context: *const Context, chunk_index: usize) []const f32 {
        const start = chunk_index * chunk_len;
        return context.values[start..@min(context.values.len, start + chunk_len)];
    }

    fn countChunk(context: *Context, chunk_index: usize, worker_index: usize) void {
        _ = worker_index;
        const values = context.chunk(chunk_index);
        if (simd.allFinite(values)) return;
        var count: usize = 0;
        for (values) |value| count += @intFromBool(!std.math.isFinite(value));
        _ = context.count.fetchAdd(count, .monotonic);
    }

    fn findChunk(context: *Context, chunk_index: usize, worker_index: usize) void {
        _ = worker_index;
        const values = context.chunk(chunk_index);
        if (simd.allFinite(values)) return;
        for (values, 0..) |value, i| {
            if (!std.math.isFinite(value)) {
                _ = context.position_min.fetchMin(chunk_index * chunk_len + i, .monotonic);
                return;
            }
        }
    }
};

test "countNonFinite and firstNonFinite across chunks" {
    const allocator = std.testing.allocator;
    const values = try allocator.alloc(f32, 3 * chunk_len + 5);
    defer allocator.free(values);
    @memset(values, 1);
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    try std.testing.expectEqual(0, countNonFinite(&pool, values));
    try std.testing.expectEqual(null, firstNonFinite(&pool, values));
    values[chunk_len + 3] = std.math.inf(f32);
    values[3 * chunk_len + 4] = std.math.nan(f32);
    values[7] = -std.math.inf(f32);
    try std.testing.expectEqual(3, countNonFinite(&pool, values));
    try std.testing.expectEqual(7, firstNonFinite(&pool, values));
    try std.testing.expectEqual(0, countNonFinite(&pool, values[0..0]));
}
