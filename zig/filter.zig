//! Which items a query may return: the item filter every ranking in tacit
//! takes (zig/topk.zig, zig/knn.zig, and the approximate indexes next).
//!
//! An item is left out for every query by the item mask (u8 per item, != 0
//! skips it) or by not being in the candidate list (when one is given), and
//! for one query by its exclusion row (row q of a CSR matrix, e.g. the items
//! user q already liked). Kernels read the parts in the way their loops need:
//!
//!   - in increasing id: positions 0..positionCount() through itemAt(), with
//!     isMasked() and a Cursor per query over its exclusion row (topk);
//!   - in any order: isMasked() and the row from excluded(), marked in a dense
//!     scratch array (knn), or allows(), two binary searches (indexes).

const std = @import("std");
const assert = std.debug.assert;
const status = @import("status.zig");
const csr = @import("csr.zig");
const Error = status.Error;

pub const Filter = struct {
    /// Items are the ids 0..n_items.
    n_items: usize,
    /// item_mask[item] != 0 leaves the item out for every query.
    item_mask: ?[]const u8,
    /// When non-null, only these items (sorted ascending, unique) are ranked.
    candidates: ?[]const i32,
    /// Row q: ids never returned for query q (values unused). `allows` and
    /// `cursor` need each row sorted ascending (duplicates allowed);
    /// `excluded` returns the row as stored.
    exclusions: ?csr.Csr,

    pub const Options = struct {
        item_mask: ?[]const u8 = null,
        candidates: ?[]const i32 = null,
        exclusions: ?csr.Csr = null,
    };

    /// A filter over `n_items` items; inputs must be validated (ids in range,
    /// candidates passing `checkCandidates`).
    pub fn init(n_items: usize, options: Options) Filter {
        if (options.item_mask) |mask| assert(mask.len == n_items);
        if (options.candidates) |candidates| assert(candidates.len <= n_items);
        return .{
            .n_items = n_items,
            .item_mask = options.item_mask,
            .candidates = options.candidates,
            .exclusions = options.exclusions,
        };
    }

    /// The items a query may rank are visited as positions 0..positionCount(),
    /// in increasing id: the candidates, or every item.
    pub fn positionCount(filter: *const Filter) usize {
        return if (filter.candidates) |candidates| candidates.len else filter.n_items;
    }

    pub fn itemAt(filter: *const Filter, position: usize) usize {
        return if (filter.candidates) |candidates| @intCast(candidates[position]) else position;
    }

    /// Whether the mask leaves `item` out (for every query).
    pub fn isMasked(filter: *const Filter, item: usize) bool {
        const mask = filter.item_mask orelse return false;
        return mask[item] != 0;
    }

    /// Query `query`'s exclusion row as stored (empty without exclusions).
    pub fn excluded(filter: *const Filter, query: usize) []const i32 {
        const exclusions = filter.exclusions orelse return &.{};
        return exclusions.rowIndices(query);
    }

    /// Whether `query` may return `item`: not masked, a candidate, and not in
    /// the query's (sorted) exclusion row. O(log) per call; a kernel that
    /// visits items in id order uses positions and a Cursor instead.
    pub fn allows(filter: *const Filter, query: usize, item: usize) bool {
        assert(item < filter.n_items);
        if (filter.isMasked(item)) return false;
        const id: i32 = @intCast(item);
        if (filter.candidates) |candidates| if (!csr.sortedContains(candidates, id)) return false;
        return !csr.sortedContains(filter.excluded(query), id);
    }

    /// A cursor over the query's sorted exclusion row, for items offered in
    /// increasing id; its calls take `exclusionIds()`.
    pub fn cursor(filter: *const Filter, query: usize) Cursor {
        const exclusions = filter.exclusions orelse return .{ .next = 0, .end = 0 };
        const range = exclusions.rowRange(query);
        return .{ .next = range.start, .end = range.end };
    }

    /// Every exclusion row's ids, back to back (empty without exclusions).
    pub fn exclusionIds(filter: *const Filter) []const i32 {
        const exclusions = filter.exclusions orelse return &.{};
        return exclusions.indices;
    }
};

/// Walks one query's sorted exclusion row alongside items visited in
/// increasing id: each call advances past the ids below `item`, so a whole
/// pass over the items costs the row's length once. It is two indices into
/// the filter's `exclusionIds()`, which each call takes: topk keeps a cursor
/// per query of its group and the ids once (a slice per query costs its lane
/// loop about 2% more instructions).
pub const Cursor = struct {
    /// The row's ids not yet passed are ids[next..end].
    next: usize,
    end: usize,

    /// Whether `item` is excluded; `ids` is the filter's `exclusionIds()` and
    /// `item` must not decrease between calls.
    pub fn excludes(cursor: *Cursor, ids: []const i32, item: i32) bool {
        var next = cursor.next;
        const end = cursor.end;
        while (next < end and ids[next] < item) next += 1;
        cursor.next = next;
        return next < end and ids[next] == item;
    }
};

/// Checks that `candidates` is strictly increasing and within [0, n_items).
pub fn checkCandidates(candidates: []const i32, n_items: usize) Error!void {
    for (candidates, 0..) |candidate, i| {
        if (candidate < 0 or candidate >= n_items) {
            return status.fail(.out_of_range, "candidates[{d}] = {d} is out of range for {d} items", .{ i, candidate, n_items });
        }
        if (i > 0 and candidate <= candidates[i - 1]) {
            return status.fail(.invalid_argument, "Expected candidates to be sorted ascending without duplicates but found candidates[{d}] = {d} after candidates[{d}] = {d}", .{
                i, candidate, i - 1, candidates[i - 1],
            });
        }
    }
}

// ---------------------------------------------------------------------------

const testing = std.testing;
const helpers = @import("testing.zig");

test "allows, positions and cursors agree with brute force over every filter combination" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(23);
    const random = prng.random();
    const n_queries = 19;
    const n_items = 83;
    // Some ids repeated: exclusion rows need only be non-decreasing.
    var exclusions = try helpers.randomCsr(allocator, random, .{ .n_rows = n_queries, .n_cols = n_items, .density = 0.3, .repeat = 0.2 });
    defer exclusions.deinit(allocator);
    var mask: [n_items]u8 = undefined;
    helpers.randomMask(random, &mask, 0.2);
    const candidates = try helpers.randomSubset(allocator, random, n_items, 0.5);
    defer allocator.free(candidates);
    try checkCandidates(candidates, n_items);

    for (0..helpers.filter_combinations) |combination| {
        const filter = helpers.filterCombination(n_items, combination, .{
            .exclusions = exclusions.view(),
            .item_mask = &mask,
            .candidates = candidates,
        });
        for (0..n_queries) |query| {
            var allowed: [n_items]bool = undefined;
            for (&allowed, 0..) |*ok, item| {
                const id: i32 = @intCast(item);
                const masked = filter.item_mask != null and mask[item] != 0;
                const candidate = filter.candidates == null or std.mem.indexOfScalar(i32, candidates, id) != null;
                const row = exclusions.view().rowIndices(query);
                const excluded = filter.exclusions != null and std.mem.indexOfScalar(i32, row, id) != null;
                ok.* = !masked and candidate and !excluded;
                try testing.expectEqual(ok.*, filter.allows(query, item));
            }
            // Positions visit the candidates (or every item) in increasing id;
            // the mask and a cursor then leave out exactly what allows() does.
            var cursor = filter.cursor(query);
            var visited: usize = 0;
            var item_previous: ?usize = null;
            for (0..filter.positionCount()) |position| {
                const item = filter.itemAt(position);
                if (item_previous) |previous| try testing.expect(previous < item);
                item_previous = item;
                if (filter.candidates == null) try testing.expectEqual(position, item);
                const kept = !filter.isMasked(item) and !cursor.excludes(filter.exclusionIds(), @intCast(item));
                try testing.expectEqual(allowed[item], kept);
                visited += @intFromBool(kept);
            }
            var allowed_count: usize = 0;
            for (allowed) |ok| allowed_count += @intFromBool(ok);
            try testing.expectEqual(allowed_count, visited);
        }
    }
}

test "checkCandidates rejects unsorted, duplicate and out-of-range ids" {
    try checkCandidates(&.{ 0, 3, 4 }, 5);
    try testing.expectError(error.OutOfRange, checkCandidates(&.{ 0, 5 }, 5));
    try testing.expectError(error.InvalidArgument, checkCandidates(&.{ 1, 1 }, 5));
    try testing.expectError(error.InvalidArgument, checkCandidates(&.{ 2, 1 }, 5));
    try testing.expectError(error.OutOfRange, checkCandidates(&.{-1}, 5));
}
