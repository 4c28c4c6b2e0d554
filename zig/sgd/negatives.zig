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
//! - `PositiveSearch`: the same verification resumable a cache line at a
//!   time, so a pipeline (sgd/pipeline.zig) overlaps the misses of many
//!   samples' searches instead of waiting on each probe in turn.

const std = @import("std");
const assert = std.debug.assert;
const csr = @import("../csr.zig");
const random = @import("random.zig");
const pipeline = @import("pipeline.zig");

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

/// Whether a user has stored an item, by a lower-bound binary search whose
/// halvings are spread over calls of `advance`: each call takes the halving
/// whose probe the call before prefetched, or, once the bracket left fits in
/// `bracket_entries_max` entries, all the rest over the lines it prefetched.
/// Each call thus waits on at most one line asked for a call earlier. The
/// search starts from a stored entry of the row the caller already holds
/// (BPR's liked entry): the item is on one side of it, so only that side,
/// bounded by the row's start or end, is searched. Strictly increasing
/// columns make the answer that of isPositive.
pub const PositiveSearch = struct {
    /// The bracket [base, base + len] holds the item's lower bound within the
    /// side searched, and indices[base − 1] < item when base is past its start.
    base: u32,
    len: u32 = 0,
    item: i32,
    /// The item is below the known entry (searched: the row's start up to it).
    below: bool = false,
    state: State = .row_unread,
    found: bool = false,

    pub const State = enum(u8) {
        /// The row's bound (rowBound, prefetched by the caller) is not read yet.
        row_unread,
        /// The probe of the next halving is prefetched.
        probing,
        /// The lines of the whole bracket are prefetched.
        bracket,
        done,
    };

    /// Bracket sizes searched at once: two lines' worth of i32, at most three lines.
    pub const bracket_entries_max = 2 * pipeline.cache_line_bytes / @sizeOf(i32);

    /// A search for `item` in the row that stores `known_item` at `known_position`.
    pub fn init(item: u32, known_position: usize, known_item: u32) PositiveSearch {
        if (item == known_item) return .answered(item, true);
        return .{ .item = @intCast(item), .base = @intCast(known_position), .below = item < known_item };
    }

    /// A search already answered: `found` is the answer.
    pub fn answered(item: u32, found: bool) PositiveSearch {
        return .{ .item = @intCast(item), .base = 0, .state = .done, .found = found };
    }

    /// The row bound to prefetch before the first `advance`: the start of
    /// `user`'s row when the item is below the known entry, else its end.
    pub inline fn rowBound(search: PositiveSearch, likes: Csr, user: usize) *const i32 {
        return &likes.indptr[user + @intFromBool(!search.below)];
    }

    /// One call's worth of search (see the type's comment); nothing once done.
    pub inline fn advance(search: *PositiveSearch, likes: Csr, user: usize) void {
        switch (search.state) {
            .row_unread => {
                search.readRow(likes, user);
                if (search.state != .done) search.plan(likes.indices);
            },
            .probing => {
                search.halve(likes.indices);
                search.plan(likes.indices);
            },
            .bracket => _ = search.finish(likes, user),
            .done => {},
        }
    }

    /// Completes the search now, whatever is cached, and returns the answer.
    pub fn finish(search: *PositiveSearch, likes: Csr, user: usize) bool {
        if (search.state == .row_unread) search.readRow(likes, user);
        if (search.state == .done) return search.found;
        // Bounded: len halves every pass.
        while (search.len > 1) search.halve(likes.indices);
        search.found = likes.indices[search.base] == search.item;
        search.state = .done;
        return search.found;
    }

    /// The side of the known entry (at `base`) that may hold the item.
    inline fn readRow(search: *PositiveSearch, likes: Csr, user: usize) void {
        const known = search.base;
        const bound: u32 = @intCast(search.rowBound(likes, user).*);
        if (search.below) {
            assert(bound <= known);
            search.base = bound;
            search.len = known - bound;
        } else {
            assert(known < bound);
            search.base = known + 1;
            search.len = bound - search.base;
        }
        if (search.len == 0) {
            search.found = false;
            search.state = .done;
        }
    }

    inline fn halve(search: *PositiveSearch, indices: []const i32) void {
        assert(search.len > 1);
        const half = search.len / 2;
        search.base = if (indices[search.base + half - 1] < search.item) search.base + half else search.base;
        search.len -= half;
    }

    /// Prefetches what the next call reads: the next probe, or the bracket.
    inline fn plan(search: *PositiveSearch, indices: []const i32) void {
        assert(search.len >= 1);
        if (search.len <= bracket_entries_max) {
            const last = search.base + search.len - 1;
            pipeline.prefetch(&indices[search.base]);
            pipeline.prefetch(&indices[(search.base + last) / 2]);
            pipeline.prefetch(&indices[last]);
            search.state = .bracket;
        } else {
            pipeline.prefetch(&indices[search.base + search.len / 2 - 1]);
            search.state = .probing;
        }
    }
};

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

test "a resumable search answers as a plain membership test, whenever it is finished" {
    // Rows of lengths 1..300, every other even column stored, so both hits
    // and misses (between, before and after the stored ones) occur.
    const allocator = testing.allocator;
    const n_rows = 300;
    var indptr: [n_rows + 1]i32 = undefined;
    var indices: std.ArrayList(i32) = .empty;
    defer indices.deinit(allocator);
    indptr[0] = 0;
    for (0..n_rows) |row| {
        for (0..row + 1) |k| try indices.append(allocator, @intCast(4 * k + row % 3));
        indptr[row + 1] = @intCast(indices.items.len);
    }
    const likes: Csr = .{ .indptr = &indptr, .indices = indices.items, .data = null };
    var prng = random.stream(9, 0);
    for (0..4000) |_| {
        const row = random.below(&prng, n_rows);
        const item: u32 = @intCast(random.below(&prng, 4 * row + 8));
        const expected = std.mem.indexOfScalar(i32, likes.rowIndices(row), @intCast(item)) != null;
        // A known entry anywhere in the row, the item's own included.
        const range = likes.rowRange(row);
        const known = range.start + random.below(&prng, range.end - range.start);
        const known_item: u32 = @intCast(likes.indices[known]);
        var search: PositiveSearch = .init(item, known, known_item);
        // Some searches run to the end by advances alone, others are finished early.
        const advances = random.below(&prng, 16);
        for (0..advances) |_| search.advance(likes, row);
        try testing.expectEqual(expected, search.finish(likes, row));
        try testing.expectEqual(expected, isPositive(likes, row, item));
        // A row of n entries is answered within log2(n / bracket) + 3 advances.
        var by_advances: PositiveSearch = .init(item, known, known_item);
        for (0..std.math.log2_int_ceil(usize, row + 1) + 3) |_| by_advances.advance(likes, row);
        try testing.expectEqual(PositiveSearch.State.done, by_advances.state);
        try testing.expectEqual(expected, by_advances.found);
    }
}
