//! A native-owned byte store behind a handle: the smallest native object,
//! and the pattern the ANN indexes and GPU buffers follow — created by one
//! export, used through a handle parameter by others, released by
//! `tacit_handle_release` (TypeScript: `NativeHandle.dispose()`).

const std = @import("std");
const status = @import("status.zig");
const ThreadPool = @import("ThreadPool.zig");
const abi = @import("abi/declaration.zig");
const edge = @import("abi/edge.zig");
const handles = @import("abi/handles.zig");
const layout = @import("abi/layout.zig");
const View = layout.View;
const Error = status.Error;

const allocator = std.heap.c_allocator;

const Bytes = struct {
    data: []u8,

    fn destroy(erased: *anyopaque) void {
        const bytes: *Bytes = @ptrCast(@alignCast(erased));
        allocator.free(bytes.data);
        allocator.destroy(bytes);
    }
};

const create_declaration: abi.Declaration = .{ .parallel = false, .name = "tacit_bytes_create", .params = &.{
    abi.count("size"),
    abi.output(.u64, "out_handle", abi.fixed(1)),
} };
/// A zero-filled store of `size` bytes; its handle goes to out_handle[0].
pub const create = edge.Export(create_declaration, createImpl);

fn createImpl(_: *ThreadPool, a: View(create_declaration)) Error!void {
    const bytes = try allocator.create(Bytes);
    errdefer allocator.destroy(bytes);
    bytes.data = try allocator.alloc(u8, a.size);
    errdefer allocator.free(bytes.data);
    @memset(bytes.data, 0);
    a.out_handle[0] = try handles.register(.bytes, bytes, Bytes.destroy);
}

const copy_declaration: abi.Declaration = .{ .parallel = false, .name = "tacit_bytes_copy", .params = &.{
    abi.handle("store", .bytes),
    abi.count("offset"),
    abi.int("direction"),
    abi.output(.u8, "data", abi.times(&.{"len"})),
    abi.count("len"),
} };
/// direction 0 copies data into the store at offset, 1 copies the store's
/// bytes at offset out into data; offset + len must lie within the store.
pub const copy = edge.Export(copy_declaration, copyImpl);

fn copyImpl(_: *ThreadPool, a: View(copy_declaration)) Error!void {
    const bytes = a.store.as(Bytes);
    if (a.offset > bytes.data.len or a.len > bytes.data.len - a.offset) {
        return status.fail(.out_of_range, "Expected offset + len = {d} + {d} to be at most the store's {d} bytes", .{ a.offset, a.len, bytes.data.len });
    }
    const window = bytes.data[a.offset..][0..a.len];
    switch (a.direction) {
        0 => @memcpy(window, a.data),
        1 => @memcpy(a.data, window),
        else => return status.fail(.invalid_argument, "Expected direction to be 0 (write) or 1 (read) but found {d}", .{a.direction}),
    }
}

const release_declaration: abi.Declaration = .{ .parallel = false, .name = "tacit_handle_release", .params = &.{
    abi.handle("handle", .any),
} };
/// Releases the owner's reference to any native object; the object is
/// destroyed once no running call uses it. A second release is refused.
pub const release = edge.Export(release_declaration, releaseImpl);

fn releaseImpl(_: *ThreadPool, a: View(release_declaration)) Error!void {
    try handles.release(a.handle.handle, "handle");
}

const alive_declaration: abi.Declaration = .{ .parallel = false, .name = "tacit_handles_alive", .params = &.{
    abi.output(.i32, "out_count", abi.fixed(1)),
} };
/// The number of native objects alive (for leak tests).
pub const alive = edge.Export(alive_declaration, aliveImpl);

fn aliveImpl(_: *ThreadPool, a: View(alive_declaration)) Error!void {
    a.out_count[0] = @intCast(handles.aliveCount());
}

test "a byte store is written, read back, and refused after release" {
    var handle = [_]u64{0};
    try std.testing.expectEqual(0, edge.callWithSlices(create, .{ .size = 8, .out_handle = &handle }).status);
    var data = [_]u8{ 1, 2, 3 };
    try std.testing.expectEqual(0, edge.callWithSlices(copy, .{ .store = handle[0], .offset = 5, .direction = 0, .data = &data, .len = 3 }).status);
    const past = edge.callWithSlices(copy, .{ .store = handle[0], .offset = 6, .direction = 0, .data = &data, .len = 3 });
    try std.testing.expectEqualStrings("Expected offset + len = 6 + 3 to be at most the store's 8 bytes", past.message());
    var back = [_]u8{ 9, 9, 9, 9 };
    try std.testing.expectEqual(0, edge.callWithSlices(copy, .{ .store = handle[0], .offset = 4, .direction = 1, .data = &back, .len = 4 }).status);
    try std.testing.expectEqualSlices(u8, &.{ 0, 1, 2, 3 }, &back);
    try std.testing.expectEqual(0, edge.callWithSlices(release, .{ .handle = handle[0] }).status);
    const stale = edge.callWithSlices(copy, .{ .store = handle[0], .offset = 0, .direction = 1, .data = &back, .len = 4 });
    try std.testing.expectEqual(-1, stale.status);
    try std.testing.expectEqualStrings("Expected store to be a live native handle but found one that was already released", stale.message());
}
