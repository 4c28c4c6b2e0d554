//! A visited set over ids 0..n that clears in O(1): each slot holds the
//! epoch in which it was last marked, and `reset` starts a new epoch (the
//! array is zeroed only when the u32 epoch wraps). Graph traversals and
//! candidate de-duplication reuse one per thread, allocation-free per query.

const std = @import("std");

pub const Visited = struct {
    marks: []u32,
    epoch: u32 = 1,

    pub fn init(allocator: std.mem.Allocator, n: usize) error{OutOfMemory}!Visited {
        const marks = try allocator.alloc(u32, n);
        @memset(marks, 0);
        return .{ .marks = marks };
    }

    pub fn deinit(visited: *Visited, allocator: std.mem.Allocator) void {
        allocator.free(visited.marks);
        visited.* = undefined;
    }

    /// Forgets every mark.
    pub fn reset(visited: *Visited) void {
        visited.epoch +%= 1;
        if (visited.epoch == 0) {
            @memset(visited.marks, 0);
            visited.epoch = 1;
        }
    }

    /// Marks `id`; true when it was not marked yet in this epoch.
    pub inline fn mark(visited: *Visited, id: usize) bool {
        if (visited.marks[id] == visited.epoch) return false;
        visited.marks[id] = visited.epoch;
        return true;
    }

    pub inline fn isMarked(visited: *const Visited, id: usize) bool {
        return visited.marks[id] == visited.epoch;
    }
};

test "marks are forgotten on reset, also across the epoch's wrap" {
    var visited = try Visited.init(std.testing.allocator, 4);
    defer visited.deinit(std.testing.allocator);
    try std.testing.expect(visited.mark(2));
    try std.testing.expect(!visited.mark(2));
    visited.reset();
    try std.testing.expect(!visited.isMarked(2));
    visited.epoch = std.math.maxInt(u32);
    try std.testing.expect(visited.mark(1));
    visited.reset();
    try std.testing.expect(!visited.isMarked(1));
    try std.testing.expect(visited.mark(1));
}
