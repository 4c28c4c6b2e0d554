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
//! accumulator and the output row's slice of a top-k heap (zig/topk.zig's,
//! so ties rank by id ascending everywhere in tacit).
//!
//! Rows are split into tasks by their real cost (Σ of the lengths of the
//! rows they gather), not by count, so a popular item is not a straggler
//! hidden among cheap ones. Memory is O(threads · columns) for the
//! accumulators plus the caller's [rows, k] output; the product is never dense.

const std = @import("std");
const assert = std.debug.assert;
const simd = @import("simd.zig");
const topk = @import("topk.zig");
const partition = @import("partition.zig");
const ThreadPool = @import("ThreadPool.zig");

const lanes = simd.lanes;
const V = simd.V;
const Heap = topk.Heap;

/// Tasks per thread: enough for dynamic scheduling to even out the estimate.
const tasks_per_thread = 16;

/// A CSR matrix with values; inputs must be validated (indices in range).
pub const Sparse = struct {
    indptr: []const i32,
    indices: []const i32,
    data: []const f32,

    pub fn rowCount(matrix: Sparse) usize {
        return matrix.indptr.len - 1;
    }

    fn rowStart(matrix: Sparse, row: usize) usize {
        return @intCast(matrix.indptr[row]);
    }

    fn rowEnd(matrix: Sparse, row: usize) usize {
        return @intCast(matrix.indptr[row + 1]);
    }
};

pub const FitProblem = struct {
    /// W: [n_users, n_items], the weighted user × item matrix.
    user_items: Sparse,
    /// Wᵀ: [n_items, n_users], its transpose.
    item_users: Sparse,
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

    fn itemCount(problem: *const FitProblem) usize {
        return problem.item_users.rowCount();
    }
};

pub const RecommendProblem = struct {
    /// [n_queries, n_items]: one user's values per row.
    queries: Sparse,
    /// [n_items, n_items]: the (top-k) similarity matrix.
    similarity: Sparse,
    /// Leave out the items stored in the query's row.
    filter_liked: bool,
    /// item_mask[item] != 0 leaves the item out for every query.
    item_mask: ?[]const u8,
    /// When non-null, only these items (sorted ascending, unique) are ranked.
    candidates: ?[]const i32,
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
pub fn fit(allocator: std.mem.Allocator, pool: *ThreadPool, problem: *const FitProblem) error{OutOfMemory}!void {
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
    var context: FitContext = .{
        .problem = problem,
        .prefix_cost = prefix_cost,
        .scratch = &scratch,
        .n_tasks = partition.taskCount(n_rows, pool.threadCount(), tasks_per_thread),
    };
    pool.run(context.n_tasks, &context, FitContext.runTask);
}

/// Ranks items for every query row: score[j] = Σ_{i ∈ row} x_i · S[i, j]. Every
/// item that is not left out is ranked, by score descending then id ascending;
/// an item no liked item reaches scores exactly 0 (after the positive scores,
/// before any negative one). Inputs must be validated.
pub fn recommend(allocator: std.mem.Allocator, pool: *ThreadPool, problem: *const RecommendProblem) error{OutOfMemory}!void {
    const n_queries = problem.queries.rowCount();
    const n_items = problem.itemCount();
    assert(problem.k >= 1);
    assert(problem.out_ids.len == n_queries * problem.k);
    assert(problem.out_scores.len == problem.out_ids.len);
    if (problem.item_mask) |mask| assert(mask.len == n_items);
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
    };
    pool.run(context.n_tasks, &context, RecommendContext.runTask);
}

// ---------------------------------------------------------------------------
// Cost model.

/// prefix_cost[r + 1] − prefix_cost[r] = 1 + Σ_{c ∈ outer row first_row + r}
/// (inner_indptr[c + 1] − inner_indptr[c]): the entries the product of that
/// row gathers, plus one for its selection. Computed in parallel.
fn rowCosts(pool: *ThreadPool, outer: Sparse, first_row: usize, inner_indptr: []const i32, prefix_cost: []u64) void {
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
    outer: Sparse,
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
            for (context.outer.indices[context.outer.rowStart(row)..context.outer.rowEnd(row)]) |c| {
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
    n_tasks: usize,

    fn runTask(context: *FitContext, task_index: usize, worker_index: usize) void {
        const rows = partition.taskRowsByCost(context.prefix_cost, context.n_tasks, task_index);
        const acc = context.scratch.worker(worker_index);
        for (rows.start..rows.end) |r| fitRow(context.problem, acc, context.problem.item_start + r);
    }
};

fn fitRow(problem: *const FitProblem, acc: *Accumulator, item: usize) void {
    const users = problem.item_users;
    const items = problem.user_items;
    acc.begin();
    for (users.rowStart(item)..users.rowEnd(item)) |p| {
        const user: usize = @intCast(users.indices[p]);
        const start = items.rowStart(user);
        const end = items.rowEnd(user);
        acc.addScaledRow(users.data[p], items.indices[start..end], items.data[start..end]);
    }
    const k = problem.k;
    const heap: Heap = .{
        .ids = problem.out_ids[item * k ..][0..k],
        .scores = problem.out_scores[item * k ..][0..k],
    };
    var len: usize = 0;
    for (acc.touchedColumns()) |j| len = heap.offer(len, j, acc.sum(j));
    acc.clear();
    std.sort.pdqContext(0, len, ById{ .heap = heap });
    @memset(heap.ids[len..], -1);
    @memset(heap.scores[len..], -std.math.inf(f32));
    problem.out_counts[item] = @intCast(len);
}

/// Sorts a heap's entries by id ascending (the CSR order of a similarity row).
const ById = struct {
    heap: Heap,

    pub fn lessThan(context: ById, a: usize, b: usize) bool {
        return context.heap.ids[a] < context.heap.ids[b];
    }

    pub fn swap(context: ById, a: usize, b: usize) void {
        std.mem.swap(i32, &context.heap.ids[a], &context.heap.ids[b]);
        std.mem.swap(f32, &context.heap.scores[a], &context.heap.scores[b]);
    }
};

// ---------------------------------------------------------------------------
// Recommend: score = x_u S, top k of the items not left out.

const RecommendContext = struct {
    problem: *const RecommendProblem,
    prefix_cost: []const u64,
    scratch: *Scratch,
    n_tasks: usize,

    fn runTask(context: *RecommendContext, task_index: usize, worker_index: usize) void {
        const rows = partition.taskRowsByCost(context.prefix_cost, context.n_tasks, task_index);
        const acc = context.scratch.worker(worker_index);
        for (rows.start..rows.end) |query| recommendRow(context.problem, acc, query);
    }
};

fn recommendRow(problem: *const RecommendProblem, acc: *Accumulator, query: usize) void {
    const liked = problem.queries;
    const similarity = problem.similarity;
    acc.begin();
    const liked_start = liked.rowStart(query);
    const liked_end = liked.rowEnd(query);
    for (liked_start..liked_end) |p| {
        const item: usize = @intCast(liked.indices[p]);
        const start = similarity.rowStart(item);
        const end = similarity.rowEnd(item);
        acc.addScaledRow(liked.data[p], similarity.indices[start..end], similarity.data[start..end]);
    }
    if (problem.filter_liked) {
        for (liked.indices[liked_start..liked_end]) |j| acc.excluded[@intCast(j)] = acc.stamp;
    }

    const k = problem.k;
    const heap: Heap = .{
        .ids = problem.out_ids[query * k ..][0..k],
        .scores = problem.out_scores[query * k ..][0..k],
    };
    var len: usize = 0;
    if (problem.candidates) |candidates| {
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
    @memset(heap.ids[len..], -1);
    @memset(heap.scores[len..], -std.math.inf(f32));
}

fn isEligible(problem: *const RecommendProblem, acc: *const Accumulator, item: usize) bool {
    if (problem.item_mask) |mask| if (mask[item] != 0) return false;
    return !problem.filter_liked or acc.excluded[item] != acc.stamp;
}

/// Offers the eligible untouched items, with score 0, in id order, for as long
/// as one could still enter the heap: while it has room, or while its worst
/// entry ranks after (0, id). Ends after at most n_items steps, at once when
/// the heap is full of positive scores.
fn offerUntouched(problem: *const RecommendProblem, acc: *const Accumulator, heap: Heap, len_start: usize) usize {
    var len = len_start;
    for (0..problem.itemCount()) |item| {
        const id: i32 = @intCast(item);
        if (len == heap.ids.len and !Heap.worse(heap.scores[0], heap.ids[0], 0, id)) break;
        if (acc.isTouched(item) or !isEligible(problem, acc, item)) continue;
        len = heap.offer(len, id, 0);
    }
    return len;
}

// ---------------------------------------------------------------------------

const testing = std.testing;

/// A random sparse matrix [rows, cols] with small integer values (many exact ties).
fn randomSparse(allocator: std.mem.Allocator, random: std.Random, rows: usize, cols: usize, density_percent: u32) !struct { indptr: []i32, indices: []i32, data: []f32 } {
    var indices: std.ArrayList(i32) = .empty;
    defer indices.deinit(allocator);
    var data: std.ArrayList(f32) = .empty;
    defer data.deinit(allocator);
    const indptr = try allocator.alloc(i32, rows + 1);
    indptr[0] = 0;
    for (0..rows) |r| {
        for (0..cols) |c| {
            if (random.uintLessThan(u32, 100) < density_percent) {
                try indices.append(allocator, @intCast(c));
                try data.append(allocator, @floatFromInt(random.intRangeAtMost(i32, 1, 3)));
            }
        }
        indptr[r + 1] = @intCast(indices.items.len);
    }
    return .{ .indptr = indptr, .indices = try indices.toOwnedSlice(allocator), .data = try data.toOwnedSlice(allocator) };
}

fn transpose(allocator: std.mem.Allocator, matrix: Sparse, n_cols: usize) !struct { indptr: []i32, indices: []i32, data: []f32 } {
    const nnz = matrix.indices.len;
    const indptr = try allocator.alloc(i32, n_cols + 1);
    @memset(indptr, 0);
    for (matrix.indices) |c| indptr[@as(usize, @intCast(c)) + 1] += 1;
    for (0..n_cols) |c| indptr[c + 1] += indptr[c];
    const next = try allocator.dupe(i32, indptr[0..n_cols]);
    defer allocator.free(next);
    const indices = try allocator.alloc(i32, nnz);
    const data = try allocator.alloc(f32, nnz);
    for (0..matrix.rowCount()) |r| {
        for (matrix.rowStart(r)..matrix.rowEnd(r)) |p| {
            const c: usize = @intCast(matrix.indices[p]);
            const dst: usize = @intCast(next[c]);
            next[c] += 1;
            indices[dst] = @intCast(r);
            data[dst] = matrix.data[p];
        }
    }
    return .{ .indptr = indptr, .indices = indices, .data = data };
}

/// Brute force: the dense product row, then the best `k` of the eligible
/// entries by (score desc, id asc).
fn bruteTop(allocator: std.mem.Allocator, scores: []const f32, eligible: []const bool, k: usize, out_ids: []i32, out_scores: []f32) !usize {
    const Entry = struct { id: i32, score: f32 };
    var entries: std.ArrayList(Entry) = .empty;
    defer entries.deinit(allocator);
    for (scores, eligible, 0..) |score, ok, id| if (ok) try entries.append(allocator, .{ .id = @intCast(id), .score = score });
    std.mem.sort(Entry, entries.items, {}, struct {
        fn lessThan(_: void, a: Entry, b: Entry) bool {
            return Heap.worse(b.score, b.id, a.score, a.id);
        }
    }.lessThan);
    const len = @min(k, entries.items.len);
    for (0..k) |j| {
        out_ids[j] = if (j < len) entries.items[j].id else -1;
        out_scores[j] = if (j < len) entries.items[j].score else -std.math.inf(f32);
    }
    return len;
}

test "fit keeps the top k of Wᵀ W per row, ties by id, rows sorted by id" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(5);
    const random = prng.random();
    const n_users = 40;
    const n_items = 57;
    const w = try randomSparse(allocator, random, n_users, n_items, 12);
    defer allocator.free(w.indptr);
    defer allocator.free(w.indices);
    defer allocator.free(w.data);
    const user_items: Sparse = .{ .indptr = w.indptr, .indices = w.indices, .data = w.data };
    const t = try transpose(allocator, user_items, n_items);
    defer allocator.free(t.indptr);
    defer allocator.free(t.indices);
    defer allocator.free(t.data);
    const item_users: Sparse = .{ .indptr = t.indptr, .indices = t.indices, .data = t.data };

    var dense: [n_items * n_items]f32 = @splat(0);
    var shares: [n_items * n_items]bool = @splat(false);
    for (0..n_users) |u| {
        for (user_items.rowStart(u)..user_items.rowEnd(u)) |p| for (user_items.rowStart(u)..user_items.rowEnd(u)) |q| {
            const i: usize = @intCast(user_items.indices[p]);
            const j: usize = @intCast(user_items.indices[q]);
            dense[i * n_items + j] += user_items.data[p] * user_items.data[q];
            shares[i * n_items + j] = true;
        };
    }

    for ([_]usize{ 1, 3 }) |thread_count| {
        var pool: ThreadPool = .{};
        pool.start(thread_count);
        defer pool.stop();
        for ([_]usize{ 1, 4, 100 }) |k| {
            const out_ids = try allocator.alloc(i32, n_items * k);
            defer allocator.free(out_ids);
            const out_scores = try allocator.alloc(f32, n_items * k);
            defer allocator.free(out_scores);
            var out_counts: [n_items]i32 = undefined;
            // Two calls over adjacent ranges, as the TypeScript side chunks a fit.
            for ([_][2]usize{ .{ 0, 20 }, .{ 20, n_items } }) |range| {
                const problem: FitProblem = .{
                    .user_items = user_items,
                    .item_users = item_users,
                    .k = k,
                    .item_start = range[0],
                    .item_end = range[1],
                    .out_ids = out_ids,
                    .out_scores = out_scores,
                    .out_counts = &out_counts,
                };
                try fit(allocator, &pool, &problem);
            }
            const expected_ids = try allocator.alloc(i32, k);
            defer allocator.free(expected_ids);
            const expected_scores = try allocator.alloc(f32, k);
            defer allocator.free(expected_scores);
            for (0..n_items) |i| {
                const len = try bruteTop(allocator, dense[i * n_items ..][0..n_items], shares[i * n_items ..][0..n_items], k, expected_ids, expected_scores);
                try testing.expectEqual(@as(i32, @intCast(len)), out_counts[i]);
                // The kept set is the brute-force top k; the row is sorted by id.
                const row_ids = out_ids[i * k ..][0..len];
                for (0..len) |a| {
                    if (a > 0) try testing.expect(row_ids[a - 1] < row_ids[a]);
                    const at = std.mem.indexOfScalar(i32, expected_ids[0..len], row_ids[a]).?;
                    try testing.expectEqual(expected_scores[at], out_scores[i * k + a]);
                }
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
    const q = try randomSparse(allocator, random, n_queries, n_items, 6);
    defer allocator.free(q.indptr);
    defer allocator.free(q.indices);
    defer allocator.free(q.data);
    const s = try randomSparse(allocator, random, n_items, n_items, 7);
    defer allocator.free(s.indptr);
    defer allocator.free(s.indices);
    defer allocator.free(s.data);
    for (s.data, 0..) |*v, p| if (p % 5 == 0) {
        v.* = -v.*; // negative similarities rank after the untouched zeros
    };
    const queries: Sparse = .{ .indptr = q.indptr, .indices = q.indices, .data = q.data };
    const similarity: Sparse = .{ .indptr = s.indptr, .indices = s.indices, .data = s.data };
    var mask: [n_items]u8 = undefined;
    for (&mask) |*m| m.* = @intFromBool(random.uintLessThan(u32, 6) == 0);
    var candidates: std.ArrayList(i32) = .empty;
    defer candidates.deinit(allocator);
    for (0..n_items) |item| if (random.boolean()) try candidates.append(allocator, @intCast(item));

    for ([_]usize{ 1, 4 }) |thread_count| {
        var pool: ThreadPool = .{};
        pool.start(thread_count);
        defer pool.stop();
        for ([_]usize{ 1, 5, 70 }) |k| for (0..8) |variant| {
            const problem: RecommendProblem = .{
                .queries = queries,
                .similarity = similarity,
                .filter_liked = variant & 1 != 0,
                .item_mask = if (variant & 2 != 0) &mask else null,
                .candidates = if (variant & 4 != 0) candidates.items else null,
                .k = k,
                .out_ids = try allocator.alloc(i32, n_queries * k),
                .out_scores = try allocator.alloc(f32, n_queries * k),
            };
            defer allocator.free(problem.out_ids);
            defer allocator.free(problem.out_scores);
            try recommend(allocator, &pool, &problem);

            const expected_ids = try allocator.alloc(i32, k);
            defer allocator.free(expected_ids);
            const expected_scores = try allocator.alloc(f32, k);
            defer allocator.free(expected_scores);
            for (0..n_queries) |query| {
                var scores: [n_items]f32 = @splat(0);
                var eligible: [n_items]bool = @splat(true);
                for (queries.rowStart(query)..queries.rowEnd(query)) |p| {
                    const item: usize = @intCast(queries.indices[p]);
                    for (similarity.rowStart(item)..similarity.rowEnd(item)) |e| {
                        scores[@intCast(similarity.indices[e])] += queries.data[p] * similarity.data[e];
                    }
                    if (problem.filter_liked) eligible[item] = false;
                }
                if (problem.item_mask) |m| for (m, 0..) |bit, item| if (bit != 0) {
                    eligible[item] = false;
                };
                if (problem.candidates) |list| for (0..n_items) |item| {
                    if (std.mem.indexOfScalar(i32, list, @intCast(item)) == null) eligible[item] = false;
                };
                _ = try bruteTop(allocator, &scores, &eligible, k, expected_ids, expected_scores);
                try testing.expectEqualSlices(i32, expected_ids, problem.out_ids[query * k ..][0..k]);
                try testing.expectEqualSlices(f32, expected_scores, problem.out_scores[query * k ..][0..k]);
            }
        };
    }
}
