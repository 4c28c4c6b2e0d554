//! Item-item nearest neighbours, as Python `implicit.nearest_neighbours`:
//! the similarity of items i and j is
//!
//!     S[i, j] = Σ_u W[u, i] · W[u, j]          (S = Wᵀ W)
//!
//! for a weighted user × item matrix W, and only the k largest entries of
//! each row of S are kept. A user's score for item j is
//!
//!     score[j] = Σ_{i ∈ row u} x_ui · S[i, j]  (score = x_u S)
//!
//! Both are row-by-row sparse products (Gustavson, "Two fast algorithms for
//! sparse matrices: multiplication and permuted transposition", ACM TOMS 4(3),
//! 1978; implicit's SparseMatrixMultiplier is the same algorithm): an output
//! row is the sum of scaled rows of a second matrix, gathered in a dense
//! accumulator of one float per column with a list of the columns touched, so
//! a row costs its work and never the number of columns. Each worker owns one
//! accumulator and the output row's slice of a top-k heap (zig/heap.zig's,
//! so ties rank by id ascending everywhere in tacit); recommend leaves items
//! out by zig/filter.zig's filter.
//!
//! A fit row whose work reaches n_items / 16 (a popular item: most of the
//! work at lastfm-360K scale) goes through column tiles instead
//! (zig/knn_tile.zig): a dense 16K-column accumulator with a touched byte per
//! column, L2-resident, filled by each user's run inside the tile (a cursor
//! per user row, so rows must be sorted; unsorted input gets one tile over
//! every column) and swept in column order against the heap's threshold. It
//! sums each pair over the same users in the same order, so the scores are
//! bit-identical to the accumulator's. At lastfm-360K scale on one thread
//! the old path spent about 40% of a popular row on the scatter into the
//! 2.3 MB accumulator, 35% on the touched list and stamps and 25% on the
//! selection through the list; what remains in a tile is mostly the reads of
//! the user rows themselves (each read once per item that has the user).
//!
//! Rows are split into tasks by their real cost (Σ of the lengths of the
//! rows they gather), not by count, so a popular item is not a straggler
//! hidden among cheap ones. Memory is O(threads · columns) for the
//! accumulators plus the caller's [rows, k] output; the product is never dense.
//!
//! Cancellation: every task polls the caller's flag (status.Poll) once per
//! gathered row of the second matrix, so even the row of a popular item (a
//! large share of the whole product) stops within about a millisecond; a
//! cancelled call fails with error.Cancelled and its outputs are unspecified.

const std = @import("std");
const assert = std.debug.assert;
const simd = @import("simd.zig");
const csr = @import("csr.zig");
const partition = @import("partition.zig");
const ThreadPool = @import("ThreadPool.zig");
const status = @import("status.zig");

const lanes = simd.lanes;
const V = simd.V;
const Csr = csr.Csr;
const Filter = @import("filter.zig").Filter;
const Heap = @import("heap.zig").TopK(i32, f32);
const Tile = @import("knn_tile.zig").Tile;

/// Tasks per thread: enough for dynamic scheduling to even out the estimate.
const tasks_per_thread = 16;

/// Columns of a fit tile (5 bytes each, zig/knn_tile.zig): it stays in L2
/// while the users of an item stream through it. 2^13 to 2^15 measure the
/// same at lastfm-360K scale; 2^12 is slower (more passes over the users).
pub const default_tile_columns = 1 << 14;

/// A fit row is tiled when its work is at least n_items / this: below, the
/// tiles' sweep over every column would cost more than the work it saves.
pub const default_dense_share_inverse = 16;

/// How many users ahead denseRow prefetches a run.
const prefetch_users = 4;

pub const FitProblem = struct {
    /// W: [n_users, n_items], the weighted user × item matrix.
    user_items: Csr,
    /// Wᵀ: [n_items, n_users], its transpose.
    item_users: Csr,
    /// Neighbours kept per item (the row width of the outputs).
    k: usize,
    /// The item rows computed by this call: [item_start, item_end).
    item_start: usize,
    item_end: usize,
    /// [n_items, k]: row i holds item i's neighbours sorted by id ascending,
    /// the rest of the row padded with −1 / −Infinity.
    out_ids: []i32,
    out_scores: []f32,
    /// [n_items]: how many neighbours row i holds.
    out_counts: []i32,
    /// Columns per tile of the dense rows, a positive multiple of 16 (tests
    /// make it small so that rows span several tiles).
    tile_columns: usize = default_tile_columns,
    /// A row is dense when its work · this ≥ n_items (0: no row is).
    dense_share_inverse: u64 = default_dense_share_inverse,

    fn itemCount(problem: *const FitProblem) usize {
        return problem.item_users.rowCount();
    }
};

pub const RecommendProblem = struct {
    /// [n_queries, n_items]: one user's values per row.
    queries: Csr,
    /// [n_items, n_items]: the (top-k) similarity matrix.
    similarity: Csr,
    /// The items each query may return, over the n_items items. Exclusion
    /// rows, one per query, may be in any order: to leave out the liked items,
    /// they are `queries` itself.
    filter: Filter,
    k: usize,
    /// [n_queries, k]: best first, padded with −1 / −Infinity.
    out_ids: []i32,
    out_scores: []f32,

    fn itemCount(problem: *const RecommendProblem) usize {
        return problem.similarity.rowCount();
    }
};

/// Computes rows [item_start, item_end) of the top-k similarity matrix.
/// Inputs must be validated: W and Wᵀ are transposes of each other (only their
/// index ranges matter for memory safety; a mismatch gives wrong results).
///
/// The neighbours of item i are the items that share at least one user with
/// it, i itself included (as in `implicit`, the diagonal S[i, i] is kept),
/// ranked by S[i, j] descending and then j ascending; the first k are kept.
pub fn fit(allocator: std.mem.Allocator, pool: *ThreadPool, problem: *const FitProblem) status.Error!void {
    const n_items = problem.itemCount();
    assert(problem.k >= 1);
    assert(problem.user_items.indices.len == problem.item_users.indices.len);
    assert(problem.item_start <= problem.item_end and problem.item_end <= n_items);
    assert(problem.out_ids.len == n_items * problem.k);
    assert(problem.out_scores.len == problem.out_ids.len);
    assert(problem.out_counts.len == n_items);
    const n_rows = problem.item_end - problem.item_start;
    if (n_rows == 0) return;

    const prefix_cost = try allocator.alloc(u64, n_rows + 1);
    defer allocator.free(prefix_cost);
    rowCosts(pool, problem.item_users, problem.item_start, problem.user_items.indptr, prefix_cost);

    var scratch: Scratch = try .init(allocator, pool.threadCount(), n_items, false);
    defer scratch.deinit(allocator);
    const cursor_stride = problem.item_users.longestRow(.{ .start = problem.item_start, .end = problem.item_end });
    const cursors = try allocator.alloc(u32, pool.threadCount() * cursor_stride);
    defer allocator.free(cursors);
    // Column tiles need sorted user rows; a tile over every column takes any order.
    const padded_items = std.mem.alignForward(usize, n_items, 16);
    assert(problem.tile_columns > 0 and problem.tile_columns % 16 == 0);
    const tile_width = if (csr.rowsNonDecreasing(pool, problem.user_items)) @min(problem.tile_columns, padded_items) else padded_items;
    const tiles = try allocator.alloc(Tile, pool.threadCount());
    defer allocator.free(tiles);
    var tiles_ready: usize = 0;
    defer for (tiles[0..tiles_ready]) |*tile| tile.deinit(allocator);
    for (tiles) |*tile| {
        tile.* = try .init(allocator, tile_width);
        tiles_ready += 1;
    }
    var context: FitContext = .{
        .problem = problem,
        .prefix_cost = prefix_cost,
        .scratch = &scratch,
        .tiles = tiles,
        .cursors = cursors,
        .cursor_stride = cursor_stride,
        .n_tasks = partition.taskCount(n_rows, pool.threadCount(), tasks_per_thread),
        .cancellation = status.cancellation(),
    };
    pool.run(context.n_tasks, &context, FitContext.runTask);
    try context.cancellation.check();
}

/// Ranks items for every query row: score[j] = Σ_{i ∈ row} x_i · S[i, j]. Every
/// item that is not left out is ranked, by score descending then id ascending;
/// an item no liked item reaches scores exactly 0 (after the positive scores,
/// before any negative one). Inputs must be validated.
pub fn recommend(allocator: std.mem.Allocator, pool: *ThreadPool, problem: *const RecommendProblem) status.Error!void {
    const n_queries = problem.queries.rowCount();
    const n_items = problem.itemCount();
    assert(problem.k >= 1);
    assert(problem.out_ids.len == n_queries * problem.k);
    assert(problem.out_scores.len == problem.out_ids.len);
    assert(problem.filter.n_items == n_items);
    if (problem.filter.exclusions) |exclusions| assert(exclusions.rowCount() == n_queries);
    if (n_queries == 0) return;

    const prefix_cost = try allocator.alloc(u64, n_queries + 1);
    defer allocator.free(prefix_cost);
    rowCosts(pool, problem.queries, 0, problem.similarity.indptr, prefix_cost);

    var scratch: Scratch = try .init(allocator, pool.threadCount(), n_items, true);
    defer scratch.deinit(allocator);
    var context: RecommendContext = .{
        .problem = problem,
        .prefix_cost = prefix_cost,
        .scratch = &scratch,
        .n_tasks = partition.taskCount(n_queries, pool.threadCount(), tasks_per_thread),
        .cancellation = status.cancellation(),
    };
    pool.run(context.n_tasks, &context, RecommendContext.runTask);
    try context.cancellation.check();
}

// ---------------------------------------------------------------------------
// Cost model.

/// prefix_cost[r + 1] − prefix_cost[r] = 1 + Σ_{c ∈ outer row first_row + r}
/// (inner_indptr[c + 1] − inner_indptr[c]): the entries the product of that
/// row gathers, plus one for its selection. Computed in parallel.
fn rowCosts(pool: *ThreadPool, outer: Csr, first_row: usize, inner_indptr: []const i32, prefix_cost: []u64) void {
    assert(prefix_cost.len >= 1);
    const n_rows = prefix_cost.len - 1;
    assert(first_row + n_rows <= outer.rowCount());
    var context: CostContext = .{
        .outer = outer,
        .first_row = first_row,
        .inner_indptr = inner_indptr,
        .prefix_cost = prefix_cost,
        .n_tasks = partition.taskCount(n_rows, pool.threadCount(), 4),
    };
    pool.run(context.n_tasks, &context, CostContext.runTask);
    prefix_cost[0] = 0;
    for (1..n_rows + 1) |r| prefix_cost[r] += prefix_cost[r - 1];
}

const CostContext = struct {
    outer: Csr,
    first_row: usize,
    inner_indptr: []const i32,
    prefix_cost: []u64,
    n_tasks: usize,

    fn runTask(context: *CostContext, task_index: usize, worker_index: usize) void {
        _ = worker_index;
        const rows = partition.evenRows(context.prefix_cost.len - 1, context.n_tasks, task_index);
        for (rows.start..rows.end) |r| {
            const row = context.first_row + r;
            var cost: u64 = 1;
            for (context.outer.rowIndices(row)) |c| {
                const column: usize = @intCast(c);
                cost += @intCast(context.inner_indptr[column + 1] - context.inner_indptr[column]);
            }
            context.prefix_cost[r + 1] = cost;
        }
    }
};

// ---------------------------------------------------------------------------
// The accumulator.

/// One column of an accumulator: its running sum and the stamp of the last row
/// that touched it, side by side so an update costs one cache line, not two.
const Cell = extern struct {
    sum: f32,
    stamp: u32,
};

/// One worker's dense accumulator over the product's columns. `cells[j].stamp
/// == stamp` marks column j as touched by the current row (so no clearing pass
/// is needed for the marks) and `excluded[j] == stamp` as left out of it.
/// Between rows every `cells[j].sum` is 0.
const Accumulator = struct {
    cells: []Cell,
    excluded: []u32,
    touched: []i32,
    touched_len: usize = 0,
    stamp: u32 = 0,
    ready: bool = false,

    /// Starts a new output row.
    fn begin(acc: *Accumulator) void {
        assert(acc.stamp < std.math.maxInt(u32));
        acc.stamp += 1;
        acc.touched_len = 0;
    }

    /// cells[j].sum += weight · value for every (j, value) of the row given by
    /// indices and data; new columns join the touched list.
    fn addScaledRow(acc: *Accumulator, weight: f32, indices: []const i32, data: []const f32) void {
        assert(indices.len == data.len);
        // Locals, not fields: a store through `touched` or `cells` could alias
        // `acc.*` as far as the compiler knows, which would chain every update
        // through memory.
        const cells = acc.cells;
        const touched = acc.touched;
        const stamp = acc.stamp;
        var touched_len = acc.touched_len;
        const weight_v: V = @splat(weight);
        var p: usize = 0;
        while (p + lanes <= indices.len) : (p += lanes) {
            const products: [lanes]f32 = weight_v * simd.load(data, p);
            inline for (0..lanes) |lane| {
                touched_len = add(cells, touched, stamp, touched_len, indices[p + lane], products[lane]);
            }
        }
        while (p < indices.len) : (p += 1) {
            touched_len = add(cells, touched, stamp, touched_len, indices[p], weight * data[p]);
        }
        acc.touched_len = touched_len;
    }

    /// Adds `value` to a column and returns the new touched length. Branch-free:
    /// whether a column is new is unpredictable, so the column is always written
    /// after the list and kept only when new (`touched` has a spare slot).
    inline fn add(cells: []Cell, touched: []i32, stamp: u32, touched_len: usize, column: i32, value: f32) usize {
        const cell = &cells[@as(usize, @intCast(column))];
        cell.sum += value;
        touched[touched_len] = column;
        const grown = touched_len + @intFromBool(cell.stamp != stamp);
        cell.stamp = stamp;
        return grown;
    }

    /// Adds row `row` of the product A·B: Σ_{p ∈ row of A} A[p] · (row
    /// A.indices[p] of B). Both matrices have values. Stops between rows of
    /// B once `poll` stops (the sums are then partial, the touched list
    /// consistent, so `clear` still restores the accumulator).
    inline fn addProductRow(acc: *Accumulator, a: Csr, row: usize, b: Csr, poll: *status.Poll) void {
        const a_data = a.values();
        const b_data = b.values();
        const range = a.rowRange(row);
        for (range.start..range.end) |p| {
            const b_row = b.rowRange(@intCast(a.indices[p]));
            if (poll.stop(1 + b_row.end - b_row.start)) return;
            acc.addScaledRow(a_data[p], b.indices[b_row.start..b_row.end], b_data[b_row.start..b_row.end]);
        }
    }

    fn isTouched(acc: *const Accumulator, j: usize) bool {
        return acc.cells[j].stamp == acc.stamp;
    }

    fn touchedColumns(acc: *const Accumulator) []const i32 {
        return acc.touched[0..acc.touched_len];
    }

    fn sum(acc: *const Accumulator, column: i32) f32 {
        return acc.cells[@as(usize, @intCast(column))].sum;
    }

    /// Restores sums to 0 for the next row.
    fn clear(acc: *Accumulator) void {
        for (acc.touched[0..acc.touched_len]) |j| acc.cells[@intCast(j)].sum = 0;
        acc.touched_len = 0;
    }
};

/// Every worker's accumulator. The arrays are allocated once per call (large
/// allocations are mapped lazily by the OS) and a worker zeroes its own share
/// on its first task, so a batch of one query touches one share only.
const Scratch = struct {
    accumulators: []Accumulator,
    cells: []Cell,
    excluded: []u32,
    touched: []i32,

    fn init(allocator: std.mem.Allocator, thread_count: usize, n_columns: usize, with_excluded: bool) error{OutOfMemory}!Scratch {
        const len = thread_count * n_columns;
        const accumulators = try allocator.alloc(Accumulator, thread_count);
        errdefer allocator.free(accumulators);
        const cells = try allocator.alloc(Cell, len);
        errdefer allocator.free(cells);
        const excluded = try allocator.alloc(u32, if (with_excluded) len else 0);
        errdefer allocator.free(excluded);
        const touched = try allocator.alloc(i32, thread_count * (n_columns + 1));
        for (accumulators, 0..) |*acc, w| {
            acc.* = .{
                .cells = cells[w * n_columns ..][0..n_columns],
                .excluded = if (with_excluded) excluded[w * n_columns ..][0..n_columns] else &.{},
                .touched = touched[w * (n_columns + 1) ..][0 .. n_columns + 1],
            };
        }
        return .{ .accumulators = accumulators, .cells = cells, .excluded = excluded, .touched = touched };
    }

    fn deinit(scratch: *Scratch, allocator: std.mem.Allocator) void {
        allocator.free(scratch.touched);
        allocator.free(scratch.excluded);
        allocator.free(scratch.cells);
        allocator.free(scratch.accumulators);
    }

    /// The worker's accumulator, zeroed on first use. Only the thread running
    /// as `worker_index` calls this with that index.
    fn worker(scratch: *Scratch, worker_index: usize) *Accumulator {
        const acc = &scratch.accumulators[worker_index];
        if (!acc.ready) {
            @memset(acc.cells, .{ .sum = 0, .stamp = 0 });
            @memset(acc.excluded, 0);
            acc.ready = true;
        }
        return acc;
    }
};

// ---------------------------------------------------------------------------
// Fit: S = Wᵀ W, top k per row.

const FitContext = struct {
    problem: *const FitProblem,
    prefix_cost: []const u64,
    scratch: *Scratch,
    /// One per worker, for the rows denseRow computes.
    tiles: []Tile,
    /// [threads, longest item row]: each worker's cursors into user rows.
    cursors: []u32,
    cursor_stride: usize,
    n_tasks: usize,
    cancellation: status.Cancellation,

    fn runTask(context: *FitContext, task_index: usize, worker_index: usize) void {
        const rows = partition.taskRowsByCost(context.prefix_cost, context.n_tasks, task_index);
        const item_start = context.problem.item_start;
        var poll: status.Poll = .init(context.cancellation);
        for (rows.start..rows.end) |r| {
            if (context.isDense(r)) {
                const cursors = context.cursors[worker_index * context.cursor_stride ..][0..context.cursor_stride];
                denseRow(context.problem, &context.tiles[worker_index], cursors, item_start + r, &poll);
            } else {
                sparseRow(context.problem, context.scratch.worker(worker_index), item_start + r, &poll);
            }
            if (poll.stopped) return;
        }
    }

    /// Whether row r (item item_start + r) goes through column tiles: when
    /// its work (the products it sums) reaches a share of the columns, so
    /// the tiles' sweep costs little next to it.
    fn isDense(context: *const FitContext, r: usize) bool {
        const work = context.prefix_cost[r + 1] - context.prefix_cost[r] - 1;
        return work * context.problem.dense_share_inverse >= context.problem.itemCount();
    }
};

/// Sorts row `item` of the outputs, whose heap holds `len` entries, by id
/// (a similarity row is a CSR row), pads it and records its count.
fn finishRow(problem: *const FitProblem, item: usize, len: usize) void {
    const heap = rowHeap(problem, item);
    heap.sortById(len);
    Heap.pad(heap.ids, heap.scores, len);
    problem.out_counts[item] = @intCast(len);
}

fn rowHeap(problem: *const FitProblem, item: usize) Heap {
    const k = problem.k;
    return .init(problem.out_ids[item * k ..][0..k], problem.out_scores[item * k ..][0..k]);
}

/// Row `item` of S = Wᵀ W through the accumulator over all columns.
fn sparseRow(problem: *const FitProblem, acc: *Accumulator, item: usize, poll: *status.Poll) void {
    acc.begin();
    acc.addProductRow(problem.item_users, item, problem.user_items, poll);
    if (poll.stopped) return acc.clear();
    const heap = rowHeap(problem, item);
    var len: usize = 0;
    for (acc.touchedColumns()) |j| len = heap.offer(len, j, acc.sum(j));
    acc.clear();
    finishRow(problem, item, len);
}

/// Row `item` of S = Wᵀ W one column tile after the other
/// (zig/knn_tile.zig). Each of the item's users keeps a cursor into its row,
/// so a pair (item, j) sums its users in the same order as sparseRow does:
/// the scores are bit-identical.
fn denseRow(problem: *const FitProblem, tile: *Tile, cursors: []u32, item: usize, poll: *status.Poll) void {
    const n_items = problem.itemCount();
    const users = problem.item_users.rowRange(item);
    const item_users = problem.item_users.indices[users.start..users.end];
    const weights = problem.item_users.values()[users.start..users.end];
    const user_indptr = problem.user_items.indptr;
    const indices = problem.user_items.indices;
    const data = problem.user_items.values();
    const cursor = cursors[0..item_users.len];
    for (cursor, item_users) |*q, u| q.* = @intCast(user_indptr[@intCast(u)]);
    const heap = rowHeap(problem, item);
    var len: usize = 0;
    var base: usize = 0;
    while (base < n_items) : (base += tile.width()) {
        const column_end = @min(base + tile.width(), n_items);
        for (cursor, item_users, weights, 0..) |*q, u, weight, c| {
            // Runs are far apart in memory: fetch a later user's run early.
            if (c + prefetch_users < cursor.len) {
                const ahead = cursor[c + prefetch_users];
                @prefetch(indices.ptr + ahead, .{});
                @prefetch(data.ptr + ahead, .{});
            }
            const end: usize = @intCast(user_indptr[@as(usize, @intCast(u)) + 1]);
            const start: usize = q.*;
            const stop = tile.addScaledRun(weight, indices, data, start, end, @intCast(base), @intCast(column_end));
            q.* = @intCast(stop);
            if (poll.stop(1 + stop - start)) break;
        }
        _ = poll.stop(column_end - base);
        // Swept even when stopped, so the tile is zeroed for the next row.
        len = tile.offerAndClear(heap, len, @intCast(base), column_end - base);
        if (poll.stopped) return;
    }
    finishRow(problem, item, len);
}

// ---------------------------------------------------------------------------
// Recommend: score = x_u S, top k of the items not left out.

const RecommendContext = struct {
    problem: *const RecommendProblem,
    prefix_cost: []const u64,
    scratch: *Scratch,
    n_tasks: usize,
    cancellation: status.Cancellation,

    fn runTask(context: *RecommendContext, task_index: usize, worker_index: usize) void {
        const rows = partition.taskRowsByCost(context.prefix_cost, context.n_tasks, task_index);
        const acc = context.scratch.worker(worker_index);
        var poll: status.Poll = .init(context.cancellation);
        for (rows.start..rows.end) |query| {
            recommendRow(context.problem, acc, query, &poll);
            if (poll.stopped) return;
        }
    }
};

fn recommendRow(problem: *const RecommendProblem, acc: *Accumulator, query: usize, poll: *status.Poll) void {
    acc.begin();
    // score = x_u S.
    acc.addProductRow(problem.queries, query, problem.similarity, poll);
    if (poll.stopped) return acc.clear();
    for (problem.filter.excluded(query)) |j| acc.excluded[@intCast(j)] = acc.stamp;

    const k = problem.k;
    const heap: Heap = .init(problem.out_ids[query * k ..][0..k], problem.out_scores[query * k ..][0..k]);
    var len: usize = 0;
    if (problem.filter.candidates) |candidates| {
        // An untouched candidate's sum is 0, its score.
        for (candidates) |c| {
            if (isEligible(problem, acc, @intCast(c))) len = heap.offer(len, c, acc.sum(c));
        }
    } else {
        for (acc.touchedColumns()) |j| {
            if (isEligible(problem, acc, @intCast(j))) len = heap.offer(len, j, acc.sum(j));
        }
        len = offerUntouched(problem, acc, heap, len);
    }
    acc.clear();
    heap.sortBestFirst(len);
    Heap.pad(heap.ids, heap.scores, len);
}

/// The filter with the query's exclusions as marked in `acc.excluded`.
fn isEligible(problem: *const RecommendProblem, acc: *const Accumulator, item: usize) bool {
    if (problem.filter.isMasked(item)) return false;
    return problem.filter.exclusions == null or acc.excluded[item] != acc.stamp;
}

/// Offers the eligible untouched items, with score 0, in id order, for as long
/// as one could still enter the heap: while it has room, or while its worst
/// entry ranks after (0, id). Ends after at most n_items steps, at once when
/// the heap is full of positive scores.
fn offerUntouched(problem: *const RecommendProblem, acc: *const Accumulator, heap: Heap, len_start: usize) usize {
    var len = len_start;
    for (0..problem.itemCount()) |item| {
        const id: i32 = @intCast(item);
        if (!heap.admits(len, id, 0)) break;
        if (acc.isTouched(item) or !isEligible(problem, acc, item)) continue;
        len = heap.offer(len, id, 0);
    }
    return len;
}

// ---------------------------------------------------------------------------

const testing = std.testing;
const helpers = @import("testing.zig");

test {
    _ = @import("knn_tile.zig");
}

/// Small integer values make many exact ties.
const small_integers: helpers.Values = .{ .integers = .{ .min = 1, .max = 3 } };

/// How a fit test splits rows between the two paths and cuts the tiles.
const Tiling = struct { tile_columns: usize, dense_share_inverse: u64 };

const tilings = [_]Tiling{
    .{ .tile_columns = default_tile_columns, .dense_share_inverse = 0 }, // every row sparse
    .{ .tile_columns = default_tile_columns, .dense_share_inverse = 1 << 20 }, // every row dense, one tile
    .{ .tile_columns = 16, .dense_share_inverse = 1 << 20 }, // every row dense, 4 tiles
    .{ .tile_columns = 32, .dense_share_inverse = 8 }, // both paths, 2 tiles
};

test "fit keeps the top k of Wᵀ W per row, ties by id, rows sorted by id" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(5);
    const random = prng.random();
    const n_users = 40;
    const n_items = 57;
    // Integers make exact ties; uniform values check that the sums are
    // formed as the plain loop below forms them (users ascending), bit for bit.
    const value_kinds = [_]helpers.Values{ small_integers, .{ .uniform = .{ .min = 0.1, .max = 2 } } };
    for (value_kinds) |values| {
        var w = try helpers.randomCsr(allocator, random, .{ .n_rows = n_users, .n_cols = n_items, .density = 0.12, .values = values });
        defer w.deinit(allocator);
        var t = try helpers.transpose(allocator, w.view(), n_items);
        defer t.deinit(allocator);

        var dense: [n_items * n_items]f32 = @splat(0);
        var shares: [n_items * n_items]bool = @splat(false);
        for (0..n_users) |u| {
            const ids = w.view().rowIndices(u);
            const row_values = w.view().rowValues(u);
            for (ids, row_values) |a, value_a| for (ids, row_values) |b, value_b| {
                const i: usize = @intCast(a);
                const j: usize = @intCast(b);
                dense[i * n_items + j] += value_a * value_b;
                shares[i * n_items + j] = true;
            };
        }
        // Sorted user rows, then the same rows reversed (which tiles refuse:
        // the fit then uses one tile over every column).
        for (0..2) |order| {
            if (order == 1) for (0..n_users) |u| {
                const range = w.view().rowRange(u);
                std.mem.reverse(i32, w.indices[range.start..range.end]);
                std.mem.reverse(f32, w.data.?[range.start..range.end]);
            };
            for (tilings) |tiling| try expectFitMatches(allocator, w.view(), t.view(), tiling, &dense, &shares);
        }
    }
}

fn expectFitMatches(allocator: std.mem.Allocator, user_items: Csr, item_users: Csr, tiling: Tiling, dense: []const f32, shares: []const bool) !void {
    const n_items = item_users.rowCount();
    for ([_]usize{ 1, 3 }) |thread_count| {
        var pool: ThreadPool = .{};
        pool.start(thread_count);
        defer pool.stop();
        for ([_]usize{ 1, 4, 100 }) |k| {
            var output: helpers.Ranking = try .init(allocator, n_items, k);
            defer output.deinit(allocator);
            const out_counts = try allocator.alloc(i32, n_items);
            defer allocator.free(out_counts);
            // Two calls over adjacent ranges, as the TypeScript side chunks a fit.
            for ([_][2]usize{ .{ 0, 20 }, .{ 20, n_items } }) |range| {
                const problem: FitProblem = .{
                    .user_items = user_items,
                    .item_users = item_users,
                    .k = k,
                    .item_start = range[0],
                    .item_end = range[1],
                    .out_ids = output.ids,
                    .out_scores = output.scores,
                    .out_counts = out_counts,
                    .tile_columns = tiling.tile_columns,
                    .dense_share_inverse = tiling.dense_share_inverse,
                };
                try fit(allocator, &pool, &problem);
            }
            var expected: helpers.Ranking = try .init(allocator, 1, k);
            defer expected.deinit(allocator);
            for (0..n_items) |i| {
                const len = try helpers.bruteTopK(allocator, dense[i * n_items ..][0..n_items], shares[i * n_items ..][0..n_items], k, expected.ids, expected.scores);
                try testing.expectEqual(@as(i32, @intCast(len)), out_counts[i]);
                // The kept set is the brute-force top k; the row is sorted by id.
                const row_ids = output.ids[i * k ..][0..len];
                for (0..len) |a| {
                    if (a > 0) try testing.expect(row_ids[a - 1] < row_ids[a]);
                    const at = std.mem.indexOfScalar(i32, expected.ids[0..len], row_ids[a]).?;
                    try testing.expectEqual(expected.scores[at], output.scores[i * k + a]);
                }
                for (len..k) |a| try testing.expectEqual(-1, output.ids[i * k + a]);
            }
        }
    }
}

test "recommend equals brute force with liked items, a mask and candidates left out" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(9);
    const random = prng.random();
    const n_queries = 23;
    const n_items = 61;
    var q = try helpers.randomCsr(allocator, random, .{ .n_rows = n_queries, .n_cols = n_items, .density = 0.06, .values = small_integers });
    defer q.deinit(allocator);
    var s = try helpers.randomCsr(allocator, random, .{ .n_rows = n_items, .n_cols = n_items, .density = 0.07, .values = small_integers });
    defer s.deinit(allocator);
    for (s.data.?, 0..) |*v, p| if (p % 5 == 0) {
        v.* = -v.*; // negative similarities rank after the untouched zeros
    };
    const queries = q.view();
    const similarity = s.view();
    var mask: [n_items]u8 = undefined;
    helpers.randomMask(random, &mask, 1.0 / 6.0);
    const candidates = try helpers.randomSubset(allocator, random, n_items, 0.5);
    defer allocator.free(candidates);

    for ([_]usize{ 1, 4 }) |thread_count| {
        var pool: ThreadPool = .{};
        pool.start(thread_count);
        defer pool.stop();
        for ([_]usize{ 1, 5, 70 }) |k| for (0..helpers.filter_combinations) |combination| {
            var output: helpers.Ranking = try .init(allocator, n_queries, k);
            defer output.deinit(allocator);
            const problem: RecommendProblem = .{
                .queries = queries,
                .similarity = similarity,
                // The exclusions leave out the liked items.
                .filter = helpers.filterCombination(n_items, combination, .{
                    .exclusions = queries,
                    .item_mask = &mask,
                    .candidates = candidates,
                }),
                .k = k,
                .out_ids = output.ids,
                .out_scores = output.scores,
            };
            try recommend(allocator, &pool, &problem);

            var expected: helpers.Ranking = try .init(allocator, 1, k);
            defer expected.deinit(allocator);
            for (0..n_queries) |query| {
                var scores: [n_items]f32 = @splat(0);
                var eligible: [n_items]bool = @splat(true);
                for (queries.rowIndices(query), queries.rowValues(query)) |liked, value| {
                    const item: usize = @intCast(liked);
                    for (similarity.rowIndices(item), similarity.rowValues(item)) |j, similarity_value| {
                        scores[@intCast(j)] += value * similarity_value;
                    }
                    if (problem.filter.exclusions != null) eligible[item] = false;
                }
                if (problem.filter.item_mask) |m| for (m, 0..) |bit, item| if (bit != 0) {
                    eligible[item] = false;
                };
                if (problem.filter.candidates) |list| for (0..n_items) |item| {
                    if (std.mem.indexOfScalar(i32, list, @intCast(item)) == null) eligible[item] = false;
                };
                _ = try helpers.bruteTopK(allocator, &scores, &eligible, k, expected.ids, expected.scores);
                try expected.expectEqual(output.ids[query * k ..][0..k], output.scores[query * k ..][0..k]);
            }
        };
    }
}

test "a cancelled fit computes no row and fails with error.Cancelled" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(2);
    var w = try helpers.randomCsr(allocator, prng.random(), .{ .n_rows = 30, .n_cols = 20, .density = 0.2, .values = small_integers });
    defer w.deinit(allocator);
    var wt = try helpers.transpose(allocator, w.view(), 20);
    defer wt.deinit(allocator);
    var output: helpers.Ranking = try .init(allocator, 20, 3);
    defer output.deinit(allocator);
    var out_counts: [20]i32 = @splat(-7);
    const problem: FitProblem = .{
        .user_items = w.view(),
        .item_users = wt.view(),
        .k = 3,
        .item_start = 0,
        .item_end = 20,
        .out_ids = output.ids,
        .out_scores = output.scores,
        .out_counts = &out_counts,
    };
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    var call: helpers.CallForTest = undefined;
    call.begin(true);
    defer call.end();
    try testing.expectError(error.Cancelled, fit(allocator, &pool, &problem));
    for (out_counts) |c| try testing.expectEqual(-7, c);
}
