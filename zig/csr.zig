//! The CSR view every kernel reads, and its validation at the C boundary, in
//! parallel.
//!
//! A CSR matrix is (indptr: i32[n_rows + 1], indices: i32[nnz], data: f32[nnz])
//! with indptr[0] = 0, indptr non-decreasing and indptr[n_rows] = nnz. A check
//! finds the *first* bad position (the same one on every thread count) and
//! names it: "indices[17] = 9 is out of range for 5 columns".

const std = @import("std");
const assert = std.debug.assert;
const status = @import("status.zig");
const simd = @import("simd.zig");
const partition = @import("partition.zig");
const ThreadPool = @import("ThreadPool.zig");
const Error = status.Error;

/// A CSR matrix as the kernels read it: rows are users, items or queries,
/// `indices` their columns and `data` the stored values. What a kernel needs of
/// the column order (any, sorted, strictly increasing) is in its contract and
/// is checked by `checkEntries` at the boundary. A kernel that needs another
/// array per nonzero (bpr's row_of) takes it beside the view.
pub const Csr = struct {
    indptr: []const i32,
    indices: []const i32,
    /// Null when the matrix has no values (liked items, exclusion lists, test rows).
    data: ?[]const f32,

    pub const Range = struct { start: usize, end: usize };

    pub fn rowCount(csr: Csr) usize {
        return csr.indptr.len - 1;
    }

    pub fn nnz(csr: Csr) usize {
        return csr.indices.len;
    }

    /// The positions [start, end) of a row's nonzeros.
    pub fn rowRange(csr: Csr, row: usize) Range {
        return .{ .start = @intCast(csr.indptr[row]), .end = @intCast(csr.indptr[row + 1]) };
    }

    pub fn rowIndices(csr: Csr, row: usize) []const i32 {
        const range = csr.rowRange(row);
        return csr.indices[range.start..range.end];
    }

    /// Every stored value; the matrix must have them.
    pub fn values(csr: Csr) []const f32 {
        return csr.data.?;
    }

    pub fn rowValues(csr: Csr, row: usize) []const f32 {
        const range = csr.rowRange(row);
        return csr.values()[range.start..range.end];
    }

    /// Whether `column` is stored in `row`, whose indices must be sorted ascending.
    pub fn contains(csr: Csr, row: usize, column: i32) bool {
        const range = csr.rowRange(row);
        return containsBetween(csr.indices, range.start, range.end, column);
    }

    /// The most nonzeros any row of rows [start, end) holds (0 for none).
    pub fn longestRow(csr: Csr, rows: Range) usize {
        var longest: usize = 0;
        for (rows.start..rows.end) |row| longest = @max(longest, @as(usize, @intCast(csr.indptr[row + 1] - csr.indptr[row])));
        return longest;
    }
};

/// Whether `id` is in `sorted` (non-decreasing).
pub fn sortedContains(sorted: []const i32, id: i32) bool {
    return containsBetween(sorted, 0, sorted.len, id);
}

/// Whether `id` is in sorted[start..end] (non-decreasing): a lower-bound
/// binary search without a data-dependent branch (the halving step is a
/// conditional move), because samplers search rows with random ids and a
/// mispredicted branch per halving cost WARP's sampling a fifth of its time.
/// Absolute positions, not a subslice: fewer instructions per draw.
inline fn containsBetween(sorted: []const i32, start: usize, end: usize, id: i32) bool {
    if (start >= end) return false;
    var base = start;
    var len = end - start;
    // Bounded: len halves every pass. Invariant: the lower bound of id is in
    // [base, base + len], and sorted[base - 1] < id when base > start.
    while (len > 1) {
        const half = len / 2;
        base = if (sorted[base + half - 1] < id) base + half else base;
        len -= half;
    }
    return sorted[base] == id;
}

/// How column indices must be ordered within a row.
pub const Order = enum { any, non_decreasing, strictly_increasing };

/// Argument names used in messages.
pub const Names = struct {
    indptr: []const u8 = "indptr",
    indices: []const u8 = "indices",
    data: []const u8 = "data",
};

pub const Options = struct {
    n_cols: usize,
    order: Order,
    names: Names = .{},
};

/// Whether the columns of every row are non-decreasing (`Order.non_decreasing`
/// holds), in parallel: a question for kernels that take any order but run
/// faster on sorted rows; checkEntries is the check that refuses.
pub fn rowsNonDecreasing(pool: *ThreadPool, csr: Csr) bool {
    var context: SortedContext = .{
        .csr = csr,
        .n_tasks = partition.taskCount(csr.rowCount(), pool.threadCount(), 4),
    };
    pool.run(context.n_tasks, &context, SortedContext.runTask);
    return !context.unsorted.load(.monotonic);
}

const SortedContext = struct {
    csr: Csr,
    n_tasks: usize,
    unsorted: std.atomic.Value(bool) = .init(false),

    fn runTask(context: *SortedContext, task_index: usize, worker_index: usize) void {
        _ = worker_index;
        const rows = partition.taskRows(context.csr.indptr, 1, context.n_tasks, task_index);
        var descents: usize = 0;
        for (rows.start..rows.end) |row| {
            const indices = context.csr.rowIndices(row);
            // Branch-free: counts the descents instead of stopping at the first.
            if (indices.len < 2) continue;
            for (indices[1..], indices[0 .. indices.len - 1]) |next, previous| descents += @intFromBool(next < previous);
        }
        if (descents > 0) context.unsorted.store(true, .monotonic);
    }
};

/// Checks indptr[0] = 0 and that indptr is non-decreasing, and returns nnz =
/// indptr[n_rows]. Serial: it reads n_rows + 1 values, a small fraction of a
/// kernel's work.
pub fn checkIndptr(indptr: []const i32, names: Names) Error!usize {
    assert(indptr.len >= 1);
    if (indptr[0] != 0) {
        return status.fail(.invalid_argument, "Expected {s}[0] to be 0 but found {d}", .{ names.indptr, indptr[0] });
    }
    for (1..indptr.len) |r| {
        if (indptr[r] < indptr[r - 1]) {
            return status.fail(.invalid_argument, "Expected {s} to be non-decreasing but found {s}[{d}] = {d} < {s}[{d}] = {d}", .{
                names.indptr, names.indptr, r, indptr[r], names.indptr, r - 1, indptr[r - 1],
            });
        }
    }
    return @intCast(indptr[indptr.len - 1]);
}

/// Checks every column index (in [0, n_cols), ordered as asked) and every
/// value (finite). `indptr` must already have passed `checkIndptr`.
pub fn checkEntries(pool: *ThreadPool, csr: Csr, options: Options) Error!void {
    const nnz: usize = @intCast(csr.indptr[csr.rowCount()]);
    assert(csr.indices.len == nnz);
    if (csr.data) |data| assert(data.len == nnz);
    var context: EntriesContext = .{
        .csr = csr,
        .options = options,
        .n_tasks = partition.taskCount(csr.rowCount(), pool.threadCount(), 8),
    };
    pool.run(context.n_tasks, &context, EntriesContext.runTask);
    const position_bad = context.position_bad_min.load(.monotonic);
    if (position_bad == no_position) return;
    return describe(csr, options, position_bad);
}

const no_position = std.math.maxInt(usize);

const EntriesContext = struct {
    csr: Csr,
    options: Options,
    n_tasks: usize,
    position_bad_min: std.atomic.Value(usize) = .init(no_position),

    fn runTask(context: *EntriesContext, task_index: usize, worker_index: usize) void {
        _ = worker_index;
        const rows = partition.taskRows(context.csr.indptr, 1, context.n_tasks, task_index);
        const position_bad = firstBadPosition(context.csr, context.options, rows) orelse return;
        _ = context.position_bad_min.fetchMin(position_bad, .monotonic);
    }
};

fn firstBadPosition(csr: Csr, options: Options, rows: partition.Rows) ?usize {
    for (rows.start..rows.end) |row| {
        const start: usize = @intCast(csr.indptr[row]);
        const end: usize = @intCast(csr.indptr[row + 1]);
        for (start..end) |position| {
            if (isBadIndex(csr, options, start, position)) return position;
        }
        if (csr.data) |data| {
            if (!simd.allFinite(data[start..end])) {
                for (start..end) |position| if (!std.math.isFinite(data[position])) return position;
            }
        }
    }
    return null;
}

fn isBadIndex(csr: Csr, options: Options, row_start: usize, position: usize) bool {
    const index = csr.indices[position];
    if (index < 0 or index >= options.n_cols) return true;
    if (position == row_start) return false;
    const previous = csr.indices[position - 1];
    return switch (options.order) {
        .any => false,
        .non_decreasing => index < previous,
        .strictly_increasing => index <= previous,
    };
}

/// The error for the first bad position, which a task found.
fn describe(csr: Csr, options: Options, position: usize) Error {
    const names = options.names;
    const row = rowOf(csr.indptr, position);
    const row_start: usize = @intCast(csr.indptr[row]);
    const index = csr.indices[position];
    if (index < 0 or index >= options.n_cols) {
        return status.fail(.out_of_range, "{s}[{d}] = {d} is out of range for {d} columns", .{ names.indices, position, index, options.n_cols });
    }
    if (isBadIndex(csr, options, row_start, position)) {
        const relation = if (options.order == .strictly_increasing) "strictly increasing" else "sorted ascending";
        return status.fail(.invalid_argument, "Expected the column indices of row {d} to be {s} but found {s}[{d}] = {d} after {s}[{d}] = {d}", .{
            row, relation, names.indices, position, index, names.indices, position - 1, csr.indices[position - 1],
        });
    }
    const data = csr.data.?;
    assert(!std.math.isFinite(data[position]));
    return status.fail(.not_finite, "Expected {s}[{d}] to be finite but found {f}", .{ names.data, position, status.floatName(data[position]) });
}

/// Checks `row_of`, an array beside a matrix with one entry per nonzero (the
/// SGD samplers draw (row, column) pairs as nonzeros): row_of[nz] must be the
/// row holding nonzero nz. `indptr` must already have passed `checkIndptr`.
/// Parallel over rows; names the first bad entry whatever the thread count.
pub fn checkRowOf(pool: *ThreadPool, indptr: []const i32, row_of: []const i32) Error!void {
    assert(row_of.len == @as(usize, @intCast(indptr[indptr.len - 1])));
    var context: RowOfContext = .{
        .indptr = indptr,
        .row_of = row_of,
        .n_tasks = partition.taskCount(indptr.len - 1, pool.threadCount(), 8),
    };
    pool.run(context.n_tasks, &context, RowOfContext.runTask);
    const nz = context.position_bad_min.load(.monotonic);
    if (nz == no_position) return;
    return status.fail(.invalid_argument, "Expected row_of[{d}] to be {d} (the row holding nonzero {d}) but found {d}", .{ nz, rowOf(indptr, nz), nz, row_of[nz] });
}

const RowOfContext = struct {
    indptr: []const i32,
    row_of: []const i32,
    n_tasks: usize,
    position_bad_min: std.atomic.Value(usize) = .init(no_position),

    fn runTask(context: *RowOfContext, task_index: usize, worker_index: usize) void {
        _ = worker_index;
        const rows = partition.taskRows(context.indptr, 1, context.n_tasks, task_index);
        for (rows.start..rows.end) |row| {
            const start: usize = @intCast(context.indptr[row]);
            const end: usize = @intCast(context.indptr[row + 1]);
            for (start..end) |nz| {
                if (context.row_of[nz] != row) {
                    _ = context.position_bad_min.fetchMin(nz, .monotonic);
                    return;
                }
            }
        }
    }
};

/// The row that holds `position`: the last r with indptr[r] <= position.
fn rowOf(indptr: []const i32, position: usize) usize {
    var low: usize = 0;
    var high: usize = indptr.len - 1;
    while (high - low > 1) {
        const middle = low + (high - low) / 2;
        if (indptr[middle] <= position) low = middle else high = middle;
    }
    return low;
}

const testing = std.testing;
const helpers = @import("testing.zig");
const expectMessage = helpers.expectMessage;

test "sortedContains and contains find exactly the members of a sorted row" {
    const row = [_]i32{ 1, 4, 9, 10, 200 };
    for (0..210) |id| {
        const expected = std.mem.indexOfScalar(i32, &row, @intCast(id)) != null;
        try testing.expectEqual(expected, sortedContains(&row, @intCast(id)));
    }
    try testing.expect(!sortedContains(&.{}, 3));
    try testing.expect(sortedContains(&.{ 2, 2, 2, 5 }, 2));

    const indptr = [_]i32{ 0, 2, 2, 5 };
    const indices = [_]i32{ 0, 4, 1, 2, 3 };
    const matrix: Csr = .{ .indptr = &indptr, .indices = &indices, .data = null };
    try testing.expectEqual(3, matrix.rowCount());
    try testing.expectEqual(5, matrix.nnz());
    try testing.expectEqualSlices(i32, &.{ 1, 2, 3 }, matrix.rowIndices(2));
    try testing.expect(matrix.contains(0, 4) and !matrix.contains(0, 1) and !matrix.contains(1, 0));
}

test "checkIndptr and checkEntries accept a valid matrix and name the first bad entry" {
    var pool: ThreadPool = .{};
    pool.start(3);
    defer pool.stop();
    const indptr = [_]i32{ 0, 2, 2, 5 };
    var indices = [_]i32{ 0, 4, 1, 2, 3 };
    var data = [_]f32{ 1, 2, 3, 4, 5 };
    const csr: Csr = .{ .indptr = &indptr, .indices = &indices, .data = &data };
    try testing.expectEqual(5, try checkIndptr(&indptr, .{}));
    try checkEntries(&pool, csr, .{ .n_cols = 5, .order = .strictly_increasing });

    indices[4] = 9;
    try testing.expectError(error.OutOfRange, checkEntries(&pool, csr, .{ .n_cols = 5, .order = .strictly_increasing }));
    try expectMessage("indices[4] = 9 is out of range for 5 columns");
    indices[4] = 2;
    try testing.expectError(error.InvalidArgument, checkEntries(&pool, csr, .{ .n_cols = 5, .order = .strictly_increasing }));
    try expectMessage("Expected the column indices of row 2 to be strictly increasing but found indices[4] = 2 after indices[3] = 2");
    try checkEntries(&pool, csr, .{ .n_cols = 5, .order = .non_decreasing });
    indices[4] = 3;
    data[3] = std.math.nan(f32);
    data[4] = std.math.inf(f32);
    try testing.expectError(error.NotFinite, checkEntries(&pool, csr, .{ .n_cols = 5, .order = .any }));
    try expectMessage("Expected data[3] to be finite but found NaN");

    try testing.expectError(error.InvalidArgument, checkIndptr(&[_]i32{ 0, 3, 2 }, .{ .indptr = "exclude_indptr" }));
    try expectMessage("Expected exclude_indptr to be non-decreasing but found exclude_indptr[2] = 2 < exclude_indptr[1] = 3");
    try testing.expectError(error.InvalidArgument, checkIndptr(&[_]i32{ 1, 3 }, .{}));
}

test "checkRowOf names the first nonzero whose row is wrong" {
    var pool: ThreadPool = .{};
    pool.start(3);
    defer pool.stop();
    const indptr = [_]i32{ 0, 2, 2, 5, 6 };
    var row_of = [_]i32{ 0, 0, 2, 2, 2, 3 };
    try checkRowOf(&pool, &indptr, &row_of);
    row_of[5] = 0;
    row_of[3] = 1;
    try testing.expectError(error.InvalidArgument, checkRowOf(&pool, &indptr, &row_of));
    try expectMessage("Expected row_of[3] to be 2 (the row holding nonzero 3) but found 1");
}

test "longestRow and rowsNonDecreasing agree with a row-by-row reading" {
    var pool: ThreadPool = .{};
    pool.start(3);
    defer pool.stop();
    var prng = std.Random.DefaultPrng.init(7);
    const random = prng.random();
    var m = try helpers.randomCsr(testing.allocator, random, .{ .n_rows = 40, .n_cols = 30, .density = 0.3, .values = .{ .uniform = .{ .min = 0, .max = 1 } }, .empty_row = 3 });
    defer m.deinit(testing.allocator);
    const view = m.view();
    for ([_][2]usize{ .{ 0, 40 }, .{ 5, 17 }, .{ 3, 4 }, .{ 9, 9 } }) |bounds| {
        var longest: usize = 0;
        for (bounds[0]..bounds[1]) |row| longest = @max(longest, view.rowIndices(row).len);
        try testing.expectEqual(longest, view.longestRow(.{ .start = bounds[0], .end = bounds[1] }));
    }
    // randomCsr stores rows sorted; reversing one row makes them not.
    try testing.expect(rowsNonDecreasing(&pool, view));
    var row: usize = 0;
    while (view.rowIndices(row).len < 2) row += 1;
    const range = view.rowRange(row);
    std.mem.reverse(i32, m.indices[range.start..range.end]);
    try testing.expect(!rowsNonDecreasing(&pool, view));
}
