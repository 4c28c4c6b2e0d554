//! Splits the rows of a CSR matrix into tasks of about equal work, so a
//! power-law matrix (a few rows with most nonzeros) keeps every core busy.
//!
//! The work of rows 0..r is modelled as cost(r) = indptr[r] + r·row_cost:
//! one unit per nonzero plus `row_cost` units per row (its dense part, e.g. the
//! f×f product of a conjugate-gradient step, in "nonzero" units). Task t of T
//! starts at the first row r with cost(r) >= t·cost(n_rows)/T, found by binary
//! search, so no table is allocated and tasks are computed independently.

const std = @import("std");
const assert = std.debug.assert;

pub const Rows = struct {
    start: usize,
    end: usize,
};

/// The rows [start, end) of task `task_index` of `n_tasks`. `indptr` has
/// n_rows + 1 non-decreasing entries starting at 0. Consecutive tasks are
/// adjacent, task 0 starts at 0 and the last ends at n_rows.
pub fn taskRows(indptr: []const i32, row_cost: u64, n_tasks: usize, task_index: usize) Rows {
    assert(indptr.len >= 1);
    assert(n_tasks >= 1);
    assert(task_index < n_tasks);
    const rows: Rows = .{
        .start = taskRowStart(indptr, row_cost, n_tasks, task_index),
        .end = taskRowStart(indptr, row_cost, n_tasks, task_index + 1),
    };
    assert(rows.start <= rows.end);
    return rows;
}

/// The first row of task `task_index` (n_rows when task_index = n_tasks).
pub fn taskRowStart(indptr: []const i32, row_cost: u64, n_tasks: usize, task_index: usize) usize {
    const n_rows = indptr.len - 1;
    if (task_index == 0) return 0;
    if (task_index >= n_tasks) return n_rows;
    const cost_total: u128 = cost(indptr, row_cost, n_rows);
    const cost_target: u64 = @intCast(cost_total * task_index / n_tasks);
    // The smallest r in [0, n_rows] with cost(r) >= cost_target.
    var low: usize = 0;
    var high: usize = n_rows;
    while (low < high) {
        const middle = low + (high - low) / 2;
        if (cost(indptr, row_cost, middle) < cost_target) low = middle + 1 else high = middle;
    }
    return low;
}

fn cost(indptr: []const i32, row_cost: u64, row: usize) u64 {
    assert(indptr[row] >= 0);
    return @as(u64, @intCast(indptr[row])) + row_cost * row;
}

/// The rows [start, end) of task `task_index` of `n_tasks` when row r costs
/// prefix_cost[r + 1] − prefix_cost[r] (any non-decreasing u64 prefix sums
/// with prefix_cost[0] = 0, n_rows + 1 entries): for work that is not
/// proportional to a row's nonzeros, such as a sparse product where a row
/// costs the lengths of the rows it gathers. Same contract as `taskRows`.
pub fn taskRowsByCost(prefix_cost: []const u64, n_tasks: usize, task_index: usize) Rows {
    assert(prefix_cost.len >= 1 and prefix_cost[0] == 0);
    assert(n_tasks >= 1);
    assert(task_index < n_tasks);
    const rows: Rows = .{
        .start = costRowStart(prefix_cost, n_tasks, task_index),
        .end = costRowStart(prefix_cost, n_tasks, task_index + 1),
    };
    assert(rows.start <= rows.end);
    return rows;
}

fn costRowStart(prefix_cost: []const u64, n_tasks: usize, task_index: usize) usize {
    const n_rows = prefix_cost.len - 1;
    if (task_index == 0) return 0;
    if (task_index >= n_tasks) return n_rows;
    const cost_total: u128 = prefix_cost[n_rows];
    const cost_target: u64 = @intCast(cost_total * task_index / n_tasks);
    // The smallest r in [0, n_rows] with prefix_cost[r] >= cost_target.
    var low: usize = 0;
    var high: usize = n_rows;
    while (low < high) {
        const middle = low + (high - low) / 2;
        if (prefix_cost[middle] < cost_target) low = middle + 1 else high = middle;
    }
    return low;
}

/// A task count for `n_rows` rows on `thread_count` threads: enough tasks per
/// thread that dynamic scheduling evens out the estimate's errors, never more
/// tasks than rows, at least one.
pub fn taskCount(n_rows: usize, thread_count: usize, tasks_per_thread: usize) usize {
    return std.math.clamp(thread_count * tasks_per_thread, 1, @max(n_rows, 1));
}

/// The rows [start, end) of task `task_index` when `n_rows` rows are split
/// evenly by count.
pub fn evenRows(n_rows: usize, n_tasks: usize, task_index: usize) Rows {
    assert(task_index < n_tasks);
    return .{
        .start = n_rows * task_index / n_tasks,
        .end = n_rows * (task_index + 1) / n_tasks,
    };
}

test "taskRows covers every row exactly once and balances a skewed matrix" {
    const allocator = std.testing.allocator;
    var prng = std.Random.DefaultPrng.init(7);
    const random = prng.random();
    for ([_]usize{ 0, 1, 2, 13, 1000 }) |n_rows| {
        const indptr = try allocator.alloc(i32, n_rows + 1);
        defer allocator.free(indptr);
        indptr[0] = 0;
        for (1..n_rows + 1) |r| {
            // A power law: a few rows hold most nonzeros; some rows are empty.
            const nnz_row: i32 = if (random.uintLessThan(u32, 50) == 0) 5000 else @intCast(random.uintLessThan(u32, 4));
            indptr[r] = indptr[r - 1] + nnz_row;
        }
        for ([_]u64{ 0, 1, 64 }) |row_cost| {
            for ([_]usize{ 1, 2, 7, 64 }) |n_tasks| {
                var row_next: usize = 0;
                for (0..n_tasks) |t| {
                    const rows = taskRows(indptr, row_cost, n_tasks, t);
                    try std.testing.expectEqual(row_next, rows.start);
                    row_next = rows.end;
                }
                try std.testing.expectEqual(n_rows, row_next);
            }
        }
    }
}

test "taskRowsByCost covers every row once and ends a costly row's task with it" {
    // Row 3 costs 1000, the others 1: the rows after it go to other tasks.
    const prefix = [_]u64{ 0, 1, 2, 3, 1003, 1004, 1005, 1006 };
    var row_next: usize = 0;
    for (0..4) |t| {
        const rows = taskRowsByCost(&prefix, 4, t);
        try std.testing.expectEqual(row_next, rows.start);
        row_next = rows.end;
        if (rows.start <= 3 and 3 < rows.end) try std.testing.expectEqual(4, rows.end);
    }
    try std.testing.expectEqual(7, row_next);
    const empty = [_]u64{0};
    try std.testing.expectEqual(Rows{ .start = 0, .end = 0 }, taskRowsByCost(&empty, 3, 1));
}

test "evenRows covers every row exactly once" {
    for ([_]usize{ 0, 1, 5, 100 }) |n_rows| {
        var row_next: usize = 0;
        for (0..7) |t| {
            const rows = evenRows(n_rows, 7, t);
            try std.testing.expectEqual(row_next, rows.start);
            row_next = rows.end;
        }
        try std.testing.expectEqual(n_rows, row_next);
    }
}
