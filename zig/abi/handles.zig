//! Native-owned state behind opaque handles: the approximate-nearest-neighbour
//! indexes (zig/ann/index.zig), a native byte store (`bytes.zig`), and the GPU
//! buffers of later kernels.
//!
//! TypeScript never sees a native pointer: a handle is a 64-bit value,
//! (generation << 32) | slot, into one process-wide table. A stale handle (its
//! object released, its slot reused) or a handle of another kind is refused
//! with a message, never dereferenced. While an export uses a handle the edge
//! holds a use count on its entry; a release during such a call only marks
//! the entry, and the last user destroys the object — so a nonblocking call
//! and a `dispose()` racing each other cannot free memory under a kernel.

const std = @import("std");
const status = @import("../status.zig");
const Error = status.Error;
const c = std.c;

/// What a handle points at; the edge checks the kind a parameter declares.
pub const Kind = enum(u8) {
    bytes = 1,
    /// An approximate-nearest-neighbour index (zig/ann/index.zig).
    ann_index = 2,
    /// A factor matrix in GPU memory (zig/c_api_gpu.zig).
    gpu_factors = 3,
    /// A sparse matrix in GPU memory (zig/c_api_gpu.zig).
    gpu_csr = 4,
};

const Entry = struct {
    generation: u32 = 1,
    kind: Kind = .bytes,
    object: ?*anyopaque = null,
    destroy: ?*const fn (*anyopaque) void = null,
    /// Calls using the object right now.
    uses: u32 = 0,
    /// Released by its owner; destroyed when `uses` reaches 0.
    released: bool = false,
};

/// Slots are never removed, so the table's memory only grows to the most
/// objects alive at once; a freed slot is reused with the next generation.
const slot_count_max = 1 << 20;

var mutex: c.pthread_mutex_t = c.PTHREAD_MUTEX_INITIALIZER;
var entries: std.ArrayList(Entry) = .empty;
var free_slots: std.ArrayList(u32) = .empty;
const allocator = std.heap.c_allocator;

/// Registers `object` (destroyed with `destroy` on its last release) and returns its handle.
pub fn register(kind: Kind, object: *anyopaque, destroy: *const fn (*anyopaque) void) Error!u64 {
    lock();
    defer unlock();
    const slot: u32 = if (free_slots.pop()) |reused| reused else fresh: {
        if (entries.items.len >= slot_count_max) {
            return status.fail(.out_of_memory, "Expected at most {d} native objects alive at once", .{slot_count_max});
        }
        free_slots.ensureTotalCapacity(allocator, entries.items.len + 1) catch return error.OutOfMemory;
        entries.append(allocator, .{}) catch return error.OutOfMemory;
        break :fresh @intCast(entries.items.len - 1);
    };
    const entry = &entries.items[slot];
    entry.* = .{ .generation = entry.generation, .kind = kind, .object = object, .destroy = destroy };
    return (@as(u64, entry.generation) << 32) | slot;
}

/// The object of a live handle of `kind`, with one use taken: pair with `unuse`.
pub fn use(handle: u64, kind: Kind, comptime name: []const u8) Error!*anyopaque {
    lock();
    defer unlock();
    const entry = try liveEntry(handle, name);
    if (entry.kind != kind) {
        return status.fail(.invalid_argument, "Expected " ++ name ++ " to be a {s} handle but found a {s} handle", .{ @tagName(kind), @tagName(entry.kind) });
    }
    entry.uses += 1;
    return entry.object.?;
}

/// As `use`, for a parameter that accepts every kind.
pub fn useAny(handle: u64, comptime name: []const u8) Error!*anyopaque {
    lock();
    defer unlock();
    const entry = try liveEntry(handle, name);
    entry.uses += 1;
    return entry.object.?;
}

/// Gives back a use taken by `use`; destroys a released object on its last use.
pub fn unuse(handle: u64) void {
    const doomed = done: {
        lock();
        defer unlock();
        const entry = &entries.items[@as(u32, @truncate(handle))];
        entry.uses -= 1;
        if (!entry.released or entry.uses != 0) break :done null;
        break :done retire(@truncate(handle));
    };
    if (doomed) |d| d.destroy(d.object);
}

/// Releases the owner's reference. Refuses a stale or already released handle.
pub fn release(handle: u64, comptime name: []const u8) Error!void {
    const doomed = done: {
        lock();
        defer unlock();
        const entry = try liveEntry(handle, name);
        entry.released = true;
        if (entry.uses != 0) break :done null;
        break :done retire(@truncate(handle));
    };
    if (doomed) |d| d.destroy(d.object);
}

/// Objects alive (registered, not yet destroyed): for tests.
pub fn aliveCount() usize {
    lock();
    defer unlock();
    return entries.items.len - free_slots.items.len;
}

const Doomed = struct { object: *anyopaque, destroy: *const fn (*anyopaque) void };

/// Frees the slot (next generation) and returns what to destroy outside the lock.
fn retire(slot: u32) Doomed {
    const entry = &entries.items[slot];
    const doomed: Doomed = .{ .object = entry.object.?, .destroy = entry.destroy.? };
    entry.* = .{ .generation = entry.generation +% 1 };
    if (entry.generation == 0) entry.generation = 1;
    free_slots.appendAssumeCapacity(slot);
    return doomed;
}

fn liveEntry(handle: u64, comptime name: []const u8) Error!*Entry {
    const slot: u32 = @truncate(handle);
    const generation: u32 = @intCast(handle >> 32);
    if (handle == 0 or slot >= entries.items.len) {
        return status.fail(.invalid_argument, "Expected " ++ name ++ " to be a live native handle but found {d}, which was never issued", .{handle});
    }
    const entry = &entries.items[slot];
    if (entry.generation != generation or entry.object == null or entry.released) {
        return status.fail(.invalid_argument, "Expected " ++ name ++ " to be a live native handle but found one that was already released", .{});
    }
    return entry;
}

fn lock() void {
    if (c.pthread_mutex_lock(&mutex) != .SUCCESS) @panic("tacit: the handle table's mutex failed");
}

fn unlock() void {
    if (c.pthread_mutex_unlock(&mutex) != .SUCCESS) @panic("tacit: the handle table's mutex failed");
}

// ---------------------------------------------------------------------------

const testing = std.testing;

var destroyed_count: usize = 0;

fn countDestroy(_: *anyopaque) void {
    destroyed_count += 1;
}

test "a handle is refused once released, and destroyed after its last use" {
    var object: u8 = 0;
    destroyed_count = 0;
    const handle = try register(.bytes, &object, countDestroy);
    try testing.expectEqual(@as(*anyopaque, &object), try use(handle, .bytes, "h"));
    try release(handle, "h");
    try testing.expectEqual(0, destroyed_count); // still in use
    try testing.expectError(error.InvalidArgument, use(handle, .bytes, "h"));
    try testing.expectEqualStrings("Expected h to be a live native handle but found one that was already released", status.lastMessage());
    unuse(handle);
    try testing.expectEqual(1, destroyed_count);
    // The slot is reused under a new generation: the old handle stays refused.
    const next = try register(.bytes, &object, countDestroy);
    try testing.expect(next != handle);
    try testing.expectError(error.InvalidArgument, release(handle, "h"));
    try release(next, "h");
    try testing.expectEqual(2, destroyed_count);
    try testing.expectError(error.InvalidArgument, use(12345, .bytes, "h"));
}
