//! Negative samplers: how an SGD step picks an item the user has not
//! interacted with.
//!
//! - `popular`: the column of a uniformly drawn stored entry, so an item is
//!   drawn in proportion to its number of interactions (implicit's BPR and
//!   LMF, LightFM's BPR; Rendle & Freudenthaler, WSDM 2014, call this the
//!   popularity-proportional sampler).
//! - `uniform`: every item equally likely (LightFM's WARP and k-OS WARP).
//! - `isPositive`: verification against the user's row (a binary search of
//!   its strictly increasing columns), so a caller can reject or redraw.

const std = @import("std");
const assert = std.debug.assert;
const csr = @import("../csr.zig");
const random = @import("random.zig");

const Csr = csr.Csr;
const Prng = random.Prng;

/// A stored entry's position drawn uniformly from [0, nnz).
pub inline fn popularPosition(prng: *Prng, likes: Csr) usize {
    assert(likes.nnz() >= 1);
    return random.below(prng, likes.nnz());
}

/// An item drawn in proportion to its stored entries.
pub inline fn popular(prng: *Prng, likes: Csr) u32 {
    return @intCast(likes.indices[popularPosition(prng, likes)]);
}

/// An item drawn uniformly from [0, n_items).
pub inline fn uniform(prng: *Prng, n_items: usize) u32 {
    return @intCast(random.below(prng, n_items));
}

/// Whether `user` has stored `item` (row columns strictly increasing).
pub inline fn isPositive(likes: Csr, user: usize, item: u32) bool {
    return likes.contains(user, @intCast(item));
}

const testing = std.testing;

test "popular draws follow the stored entries and uniform covers the items" {
    // Item 0 is stored three times, item 2 once.
    const indptr = [_]i32{ 0, 2, 4 };
    const indices = [_]i32{ 0, 2, 0, 0 };
    const likes: Csr = .{ .indptr = &indptr, .indices = &indices, .data = null };
    var prng = random.stream(5, 0);
    var counts: [3]u32 = @splat(0);
    for (0..4000) |_| counts[popular(&prng, likes)] += 1;
    try testing.expectEqual(0, counts[1]);
    try testing.expect(counts[0] > 2700 and counts[0] < 3300);
    var seen: [3]bool = @splat(false);
    for (0..100) |_| seen[uniform(&prng, 3)] = true;
    for (seen) |s| try testing.expect(s);
    try testing.expect(isPositive(likes, 0, 2));
    try testing.expect(!isPositive(likes, 0, 1));
}
