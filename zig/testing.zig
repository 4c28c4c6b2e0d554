//! Helpers shared by the unit tests: random CSR matrices, masks and id lists,
//! random values, a brute-force top-k reference and the status-message check.
//! The references share no code with the kernels they check (the top-k sorts
//! every entry instead of keeping a heap).

const std = @import("std");
const assert = std.debug.assert;
const status = @import("status.zig");
const csr = @import("csr.zig");
const Filter = @import("filter.zig").Filter;

/// A CSR matrix the test owns; `view()` is what the kernels take.
pub const Matrix = struct {
    indptr: []i32,
    indices: []i32,
    /// Null when the matrix was generated without values.
    data: ?[]f32,

    pub fn view(matrix: Matrix) csr.Csr {
        return .{ .indptr = matrix.indptr, .indices = matrix.indices, .data = matrix.data };
    }

    /// The value stored at (row, column), or null when there is none.
    pub fn at(matrix: Matrix, row: usize, column: usize) ?f32 {
        const range = matrix.view().rowRange(row);
        for (range.start..range.end) |nz| if (matrix.indices[nz] == column) return matrix.data.?[nz];
        return null;
    }

    pub fn deinit(matrix: *Matrix, allocator: std.mem.Allocator) void {
        allocator.free(matrix.indptr);
        allocator.free(matrix.indices);
        if (matrix.data) |data| allocator.free(data);
        matrix.* = undefined;
    }
};

pub const Values = union(enum) {
    /// No values: `data` is null.
    none,
    /// Integers in [min, max] as floats: many exact ties.
    integers: struct { min: i32, max: i32 },
    /// Uniform in [min, max).
    uniform: struct { min: f32, max: f32 },
};

pub const RandomCsrOptions = struct {
    n_rows: usize,
    n_cols: usize,
    /// The chance that an entry is stored.
    density: f32,
    values: Values = .none,
    /// A row left empty (no draw is made for it).
    empty_row: ?usize = null,
    /// When set, row r favours the columns of its cluster r % count (the
    /// clusters cut the columns into `count` equal runs), stored with chance
    /// `density` instead: a structure a ranking model can learn.
    clusters: ?struct { count: usize, density: f32 } = null,
    /// The chance that a stored entry is stored twice in a row (rows are then
    /// non-decreasing rather than strictly increasing).
    repeat: f32 = 0,
};

/// A random matrix, entries drawn row by row and column by column, so every
/// row is sorted (strictly increasing unless `repeat` > 0).
pub fn randomCsr(allocator: std.mem.Allocator, random: std.Random, options: RandomCsrOptions) !Matrix {
    var indices: std.ArrayList(i32) = .empty;
    defer indices.deinit(allocator);
    var data: std.ArrayList(f32) = .empty;
    defer data.deinit(allocator);
    const indptr = try allocator.alloc(i32, options.n_rows + 1);
    errdefer allocator.free(indptr);
    indptr[0] = 0;
    for (0..options.n_rows) |row| {
        for (0..options.n_cols) |column| {
            if (options.empty_row == row or random.float(f32) >= chance(options, row, column)) continue;
            const copies: usize = if (options.repeat > 0 and random.float(f32) < options.repeat) 2 else 1;
            for (0..copies) |_| {
                try indices.append(allocator, @intCast(column));
                switch (options.values) {
                    .none => {},
                    .integers => |range| try data.append(allocator, integer(random, range.min, range.max)),
                    .uniform => |range| try data.append(allocator, uniform(random, range.min, range.max)),
                }
            }
        }
        indptr[row + 1] = @intCast(indices.items.len);
    }
    const indices_owned = try indices.toOwnedSlice(allocator);
    errdefer allocator.free(indices_owned);
    return .{
        .indptr = indptr,
        .indices = indices_owned,
        .data = if (options.values == .none) null else try data.toOwnedSlice(allocator),
    };
}

fn chance(options: RandomCsrOptions, row: usize, column: usize) f32 {
    const clusters = options.clusters orelse return options.density;
    assert(clusters.count >= 1 and clusters.count <= options.n_cols);
    const cluster_len = options.n_cols / clusters.count;
    const in_cluster = column / cluster_len == row % clusters.count;
    return if (in_cluster) clusters.density else options.density;
}

/// The transpose [n_cols, n_rows] of a matrix with values; its rows are sorted.
pub fn transpose(allocator: std.mem.Allocator, matrix: csr.Csr, n_cols: usize) !Matrix {
    const values = matrix.values();
    const indptr = try allocator.alloc(i32, n_cols + 1);
    errdefer allocator.free(indptr);
    @memset(indptr, 0);
    for (matrix.indices) |c| indptr[@as(usize, @intCast(c)) + 1] += 1;
    for (0..n_cols) |c| indptr[c + 1] += indptr[c];
    const next = try allocator.dupe(i32, indptr[0..n_cols]);
    defer allocator.free(next);
    const indices = try allocator.alloc(i32, matrix.nnz());
    errdefer allocator.free(indices);
    const data = try allocator.alloc(f32, matrix.nnz());
    for (0..matrix.rowCount()) |r| {
        const range = matrix.rowRange(r);
        for (range.start..range.end) |p| {
            const c: usize = @intCast(matrix.indices[p]);
            const destination: usize = @intCast(next[c]);
            next[c] += 1;
            indices[destination] = @intCast(r);
            data[destination] = values[p];
        }
    }
    return .{ .indptr = indptr, .indices = indices, .data = data };
}

/// Sets each mask entry to 1 with chance `density`, else 0.
pub fn randomMask(random: std.Random, mask: []u8, density: f32) void {
    for (mask) |*m| m.* = @intFromBool(random.float(f32) < density);
}

/// A sorted, duplicate-free list of ids in [0, n), each kept with chance
/// `density` (a candidate list). The caller frees it.
pub fn randomSubset(allocator: std.mem.Allocator, random: std.Random, n: usize, density: f32) ![]i32 {
    var ids: std.ArrayList(i32) = .empty;
    defer ids.deinit(allocator);
    for (0..n) |id| if (random.float(f32) < density) try ids.append(allocator, @intCast(id));
    return ids.toOwnedSlice(allocator);
}

/// Fills `values` uniformly in [min, max).
pub fn fillUniform(random: std.Random, values: []f32, min: f32, max: f32) void {
    for (values) |*v| v.* = uniform(random, min, max);
}

/// Fills `values` with integers in [min, max] (many exact ties).
pub fn fillIntegers(random: std.Random, values: []f32, min: i32, max: i32) void {
    for (values) |*v| v.* = integer(random, min, max);
}

fn uniform(random: std.Random, min: f32, max: f32) f32 {
    return random.float(f32) * (max - min) + min;
}

fn integer(random: std.Random, min: i32, max: i32) f32 {
    return @floatFromInt(random.intRangeAtMost(i32, min, max));
}

/// [n_rows, k] ids and scores, row-major, as the rankings write them.
pub const Ranking = struct {
    ids: []i32,
    scores: []f32,

    pub fn init(allocator: std.mem.Allocator, n_rows: usize, k: usize) !Ranking {
        const ids = try allocator.alloc(i32, n_rows * k);
        errdefer allocator.free(ids);
        return .{ .ids = ids, .scores = try allocator.alloc(f32, n_rows * k) };
    }

    pub fn deinit(ranking: *Ranking, allocator: std.mem.Allocator) void {
        allocator.free(ranking.ids);
        allocator.free(ranking.scores);
        ranking.* = undefined;
    }

    /// Expects `ids` and `scores` to equal the ranking's, entry for entry.
    pub fn expectEqual(expected: Ranking, ids: []const i32, scores: []const f32) !void {
        try std.testing.expectEqualSlices(i32, expected.ids, ids);
        try std.testing.expectEqualSlices(f32, expected.scores, scores);
    }
};

/// How many combinations `filterCombination` makes of a filter's parts.
pub const filter_combinations = 8;

/// Combination `combination` (0..filter_combinations) of the parts of a
/// filter over `n_items` items: bit 0 keeps the exclusions, bit 1 the mask,
/// bit 2 the candidates.
pub fn filterCombination(n_items: usize, combination: usize, parts: Filter.Options) Filter {
    assert(combination < filter_combinations);
    return .init(n_items, .{
        .exclusions = if (combination & 1 != 0) parts.exclusions else null,
        .item_mask = if (combination & 2 != 0) parts.item_mask else null,
        .candidates = if (combination & 4 != 0) parts.candidates else null,
    });
}

/// The reference top-k: sorts every eligible (id, score) by score descending,
/// then id ascending, and writes the first k into out_ids/out_scores padded
/// with −1 / −Infinity. Returns how many entries are ranked.
pub fn bruteTopK(
    allocator: std.mem.Allocator,
    scores: []const f32,
    eligible: []const bool,
    k: usize,
    out_ids: []i32,
    out_scores: []f32,
) !usize {
    assert(scores.len == eligible.len);
    assert(out_ids.len == k and out_scores.len == k);
    const Entry = struct { id: i32, score: f32 };
    var entries: std.ArrayList(Entry) = .empty;
    defer entries.deinit(allocator);
    for (scores, eligible, 0..) |score, ok, id| if (ok) try entries.append(allocator, .{ .id = @intCast(id), .score = score });
    std.mem.sort(Entry, entries.items, {}, struct {
        fn lessThan(_: void, a: Entry, b: Entry) bool {
            return a.score > b.score or (a.score == b.score and a.id < b.id);
        }
    }.lessThan);
    const len = @min(k, entries.items.len);
    for (0..k) |j| {
        out_ids[j] = if (j < len) entries.items[j].id else -1;
        out_scores[j] = if (j < len) entries.items[j].score else -std.math.inf(f32);
    }
    return len;
}

/// Expects the status message of the last failure to be `expected`.
pub fn expectMessage(expected: []const u8) !void {
    try std.testing.expectEqualStrings(expected, status.lastMessage());
}

/// A call's context routed as an export routes it, with its cancel flag
/// raised from the start (`cancelled`) or by `raiseLater`, as an AbortSignal
/// does from TypeScript. `end()` restores the route.
pub const CallForTest = struct {
    context: status.Context,
    previous: ?*status.Context = null,

    /// `call` must not move between `begin` and `end`.
    pub fn begin(call: *CallForTest, cancelled: bool) void {
        call.context = status.emptyContext(0);
        call.previous = status.beginCall(&call.context);
        call.context.cancel_requested = @intFromBool(cancelled);
    }

    pub fn end(call: *CallForTest) void {
        status.endCall(call.previous);
    }

    pub fn message(call: *const CallForTest) []const u8 {
        return call.context.message[0..call.context.message_len];
    }

    /// Raises the flag from another thread after `delay_ms`; join the thread.
    pub fn raiseLater(call: *CallForTest, delay_ms: u32) !std.Thread {
        const Raise = struct {
            fn run(flag: *u32, ms: u32) void {
                const delay: std.c.timespec = .{ .sec = @intCast(ms / 1000), .nsec = @intCast(@as(u64, ms % 1000) * std.time.ns_per_ms) };
                _ = std.c.nanosleep(&delay, null);
                @atomicStore(u32, flag, 1, .monotonic);
            }
        };
        return std.Thread.spawn(.{}, Raise.run, .{ &call.context.cancel_requested, delay_ms });
    }
};

/// Milliseconds on the monotonic clock.
pub fn monotonicMs() f64 {
    var ts: std.c.timespec = undefined;
    _ = std.c.clock_gettime(.MONOTONIC, &ts);
    return @as(f64, @floatFromInt(ts.sec)) * 1e3 + @as(f64, @floatFromInt(ts.nsec)) / 1e6;
}

test "randomCsr rows are sorted, in range, and honour empty rows, clusters and repeats" {
    const allocator = std.testing.allocator;
    var prng = std.Random.DefaultPrng.init(1);
    const random = prng.random();
    var matrix = try randomCsr(allocator, random, .{
        .n_rows = 12,
        .n_cols = 40,
        .density = 0.05,
        .values = .{ .integers = .{ .min = 1, .max = 3 } },
        .empty_row = 2,
        .clusters = .{ .count = 4, .density = 0.9 },
        .repeat = 0.3,
    });
    defer matrix.deinit(allocator);
    const view = matrix.view();
    try std.testing.expectEqual(12, view.rowCount());
    try std.testing.expectEqual(0, view.rowIndices(2).len);
    var repeats: usize = 0;
    for (0..view.rowCount()) |row| {
        const ids = view.rowIndices(row);
        var in_cluster: usize = 0;
        for (ids, view.rowValues(row), 0..) |id, value, i| {
            try std.testing.expect(id >= 0 and id < 40 and value >= 1 and value <= 3);
            if (i > 0) try std.testing.expect(ids[i - 1] <= id);
            if (i > 0 and ids[i - 1] == id) repeats += 1;
            in_cluster += @intFromBool(@as(usize, @intCast(id)) / 10 == row % 4);
        }
        if (row != 2) try std.testing.expect(2 * in_cluster > ids.len);
    }
    try std.testing.expect(repeats > 0);

    var t = try transpose(allocator, view, 40);
    defer t.deinit(allocator);
    for (0..12) |row| for (0..40) |column| {
        // With repeats, `at` finds the first copy in both.
        try std.testing.expectEqual(matrix.at(row, column), t.at(column, row));
    };
}
