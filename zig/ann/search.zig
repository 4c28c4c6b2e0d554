//! The one search driver of every index (zig/ann/kind.zig's contract): a
//! batch of queries in parallel, filters inside the search, exact scores.
//!
//! Per query the driver
//!   1. estimates the admissible items A_q (the filter's positions, less the
//!      masked ones, less the query's exclusion row) and plans:
//!        - A_q ≤ k, or an exact scan of the admissible items cheaper than
//!          the index's work (A_q ≤ scan_factor · effort): exact — a filter
//!          that leaves few items makes the index pointless;
//!        - otherwise the index, with its effort widened by n_items / A_q
//!          (when 90% of the items are excluded, a traversal must look at ten
//!          times as many to find as many admissible ones), at most maxEffort;
//!   2. re-scores the index's candidates exactly against the caller's rows
//!      (exact.scoreRows: the exact path's arithmetic) and keeps the best k;
//!   3. falls back to exact when the index found fewer than k while more may
//!      exist (a graph that ran dry), so a query returns exactly
//!      min(k, admissible) results.
//! The queries planned or fallen back to exact then run together through
//! zig/topk.zig's blocked kernel (the models' exact path), not one by one.
//! An index that has a list-major batch search (`searchBatch`, the inverted
//! file) finds every query's candidates in one pass from 64 queries on; the
//! re-scoring and the fallback stay per query.
//! `mode` may force the index (no plan, no fallback: what an effort sweep
//! measures) or exact top-k for the whole batch (zig/topk.zig's blocked
//! kernel, the models' exact path).

const std = @import("std");
const assert = std.debug.assert;
const status = @import("../status.zig");
const simd = @import("../simd.zig");
const ThreadPool = @import("../ThreadPool.zig");
const Filter = @import("../filter.zig").Filter;
const Heap = @import("../heap.zig").TopK(i32, f32);
const kind = @import("kind.zig");
const exact = @import("exact.zig");
const topk = @import("../topk.zig");
const csr = @import("../csr.zig");
const Error = status.Error;

pub const Mode = enum(u8) {
    /// Plan per query; fall back to exact when the index runs dry.
    planned = 0,
    /// The index alone at the given effort, results as it finds them.
    index_only = 1,
    /// The exact scan for every query.
    exact_only = 2,
};

/// An exact scan of A admissible items is chosen when A ≤ scan_factor · effort:
/// a traversal of effort ef scores many times ef vectors (neighbour lists),
/// scattered, where the blocked exact kernel scores A rows in order, about
/// ten times faster per row (measured at 292K × 64).
const scan_factor = 32;
/// Candidates an index returns for re-scoring: k plus a margin, so ids whose
/// index-side score (normalised, augmented) rounds past the k-th are still seen.
const rescore_margin = 8;
const queries_per_task = 8;
/// From this many queries, an index with a list-major batch search (ivf.zig) uses it.
const batch_queries_min = 64;

pub const Request = struct {
    /// [n_q, f]; for .cosine already unit rows (the caller normalises them as
    /// it normalised `targets`, so scores equal the exact path's bit for bit).
    queries: []const f32,
    /// [n_items, f]: the rows scores are computed from (for .cosine, unit rows).
    targets: []const f32,
    f: usize,
    filter: Filter,
    k: usize,
    /// 0: the index's default.
    effort: usize,
    mode: Mode,
    /// [n_q, k], best first, padded with −1 / −Infinity.
    out_ids: []i32,
    out_scores: []f32,

    fn queryCount(request: *const Request) usize {
        return request.queries.len / request.f;
    }
};

pub fn search(comptime M: type, allocator: std.mem.Allocator, pool: *ThreadPool, index: *const M.Index, request: *const Request) Error!void {
    comptime kind.check(M);
    const f = request.f;
    const n_items = index.itemCount();
    assert(index.factorCount() == f and request.targets.len == n_items * f);
    assert(request.out_ids.len == request.queryCount() * request.k and request.out_scores.len == request.out_ids.len);
    const n_q = request.queryCount();
    if (n_q == 0) return;
    if (request.mode == .exact_only) return exactBatch(allocator, pool, request);

    const threads = pool.threadCount();
    const candidates_max = request.k + rescore_margin;
    const workers = try allocator.alloc(Worker(M), threads);
    defer allocator.free(workers);
    var ready: usize = 0;
    defer for (workers[0..ready]) |*worker| worker.deinit(allocator);
    for (workers) |*worker| {
        worker.* = try .init(allocator, index, candidates_max);
        ready += 1;
    }
    var context: Context(M) = .{
        .index = index,
        .request = request,
        .workers = workers,
        .base_admissible = baseAdmissible(&request.filter),
        .effort = if (request.effort == 0) index.defaultEffort() else @min(request.effort, index.maxEffort()),
    };
    var batch_ids: []i32 = &.{};
    defer allocator.free(batch_ids);
    if (comptime @hasDecl(M, "searchBatch")) {
        if (n_q >= batch_queries_min) {
            // The list-major path: every query's candidates in one pass over the
            // probed lists, at the effort the global filter calls for (a query's
            // own exclusions are a few ids: they change no effort).
            batch_ids = try allocator.alloc(i32, n_q * candidates_max);
            const effort = if (request.mode == .index_only)
                context.effort
            else
                widened(context.effort, n_items, context.base_admissible, index.maxEffort());
            try M.searchBatch(index, allocator, pool, request.queries, n_q, &request.filter, effort, candidates_max, batch_ids);
            context.batch_ids = batch_ids;
        }
    }
    const needs_exact = try allocator.alloc(bool, n_q);
    defer allocator.free(needs_exact);
    @memset(needs_exact, false);
    context.needs_exact = needs_exact;
    pool.run(std.math.divCeil(usize, n_q, queries_per_task) catch unreachable, &context, Context(M).runTask);
    for (workers) |worker| {
        if (worker.nonfinite) return status.fail(.not_finite, "Expected targets to be finite but a score came out NaN or infinite (a non-finite or huge factor value)", .{});
    }
    try exactSubset(allocator, pool, request, needs_exact);
}

/// The queries marked in `chosen`, by exact top-k in one blocked batch
/// (zig/topk.zig), their results written to their rows: the planner's scans
/// and the fallbacks of queries an index left short.
fn exactSubset(allocator: std.mem.Allocator, pool: *ThreadPool, request: *const Request, chosen: []const bool) Error!void {
    var count: usize = 0;
    for (chosen) |c| count += @intFromBool(c);
    if (count == 0) return;
    const f = request.f;
    const k = request.k;
    const queries = try allocator.alloc(f32, count * f);
    defer allocator.free(queries);
    const ids = try allocator.alloc(i32, count * k);
    defer allocator.free(ids);
    const scores = try allocator.alloc(f32, count * k);
    defer allocator.free(scores);
    // The chosen queries' exclusion rows as a CSR of their own.
    var indptr: []i32 = &.{};
    defer allocator.free(indptr);
    var indices: []i32 = &.{};
    defer allocator.free(indices);
    var exclusions: ?csr.Csr = null;
    if (request.filter.exclusions) |all| {
        var nnz: usize = 0;
        for (chosen, 0..) |c, q| {
            if (c) nnz += all.rowIndices(q).len;
        }
        indptr = try allocator.alloc(i32, count + 1);
        indices = try allocator.alloc(i32, nnz);
        var row: usize = 0;
        var at: usize = 0;
        indptr[0] = 0;
        for (chosen, 0..) |c, q| {
            if (!c) continue;
            const excluded = all.rowIndices(q);
            @memcpy(indices[at..][0..excluded.len], excluded);
            at += excluded.len;
            row += 1;
            indptr[row] = @intCast(at);
        }
        exclusions = .{ .indptr = indptr, .indices = indices, .data = null };
    }
    var row: usize = 0;
    for (chosen, 0..) |c, q| {
        if (!c) continue;
        @memcpy(queries[row * f ..][0..f], request.queries[q * f ..][0..f]);
        row += 1;
    }
    var filter = request.filter;
    filter.exclusions = exclusions;
    const subset: Request = .{
        .queries = queries,
        .targets = request.targets,
        .f = f,
        .filter = filter,
        .k = k,
        .effort = 0,
        .mode = .exact_only,
        .out_ids = ids,
        .out_scores = scores,
    };
    try exactBatch(allocator, pool, &subset);
    row = 0;
    for (chosen, 0..) |c, q| {
        if (!c) continue;
        @memcpy(request.out_ids[q * k ..][0..k], ids[row * k ..][0..k]);
        @memcpy(request.out_scores[q * k ..][0..k], scores[row * k ..][0..k]);
        row += 1;
    }
}

/// Every query by exact top-k: zig/topk.zig's blocked kernel, the one the
/// models' exact path runs, so "exact" through an index is that path.
fn exactBatch(allocator: std.mem.Allocator, pool: *ThreadPool, request: *const Request) Error!void {
    const problem: topk.Problem = .{
        .queries = request.queries,
        .items = request.targets,
        .f = request.f,
        .filter = request.filter,
        .k = request.k,
        .out_ids = request.out_ids,
        .out_scores = request.out_scores,
    };
    topk.topkDot(allocator, pool, &problem) catch |err| switch (err) {
        error.OutOfMemory => return error.OutOfMemory,
        error.NonFiniteItem => return status.fail(.not_finite, "Expected targets to be finite but found a NaN or infinite value", .{}),
    };
}

/// The items no query's exclusion row has removed yet: positions less masked ones.
fn baseAdmissible(filter: *const Filter) usize {
    const mask = filter.item_mask orelse return filter.positionCount();
    var count: usize = 0;
    for (0..filter.positionCount()) |position| count += @intFromBool(mask[filter.itemAt(position)] == 0);
    return count;
}

fn Worker(comptime M: type) type {
    return struct {
        const Self = @This();
        scratch: M.Index.Scratch,
        candidates: []i32,
        scores: []f32,
        /// A score came out NaN or infinite: the call fails.
        nonfinite: bool = false,

        fn init(allocator: std.mem.Allocator, index: *const M.Index, candidates_max: usize) Error!Self {
            var scratch = try M.Index.Scratch.init(allocator, index);
            errdefer scratch.deinit(allocator);
            const candidates = try allocator.alloc(i32, candidates_max);
            errdefer allocator.free(candidates);
            const scores = try allocator.alloc(f32, candidates_max);
            return .{ .scratch = scratch, .candidates = candidates, .scores = scores };
        }

        fn deinit(worker: *Self, allocator: std.mem.Allocator) void {
            worker.scratch.deinit(allocator);
            allocator.free(worker.candidates);
            allocator.free(worker.scores);
        }
    };
}

fn Context(comptime M: type) type {
    return struct {
        const Self = @This();
        index: *const M.Index,
        request: *const Request,
        workers: []Worker(M),
        base_admissible: usize,
        effort: usize,
        /// [n_q, k + rescore_margin] candidates from a list-major batch search, or empty.
        batch_ids: []const i32 = &.{},
        /// Set for each query the planner scans or an index left short (each task
        /// writes only its own queries' flags).
        needs_exact: []bool = &.{},

        fn runTask(context: *const Self, task: usize, worker_index: usize) void {
            const request = context.request;
            const n_q = request.queryCount();
            const worker = &context.workers[worker_index];
            const end = @min(n_q, (task + 1) * queries_per_task);
            for (task * queries_per_task..end) |q| context.searchQuery(worker, q);
        }

        fn searchQuery(context: *const Self, worker: *Worker(M), q: usize) void {
            const request = context.request;
            const f = request.f;
            const k = request.k;
            const query = request.queries[q * f ..][0..f];
            const out_ids = request.out_ids[q * k ..][0..k];
            const out_scores = request.out_scores[q * k ..][0..k];
            const excluded = request.filter.excluded(q).len;
            const admissible = context.base_admissible -| excluded;
            const effort = widened(context.effort, context.index.itemCount(), admissible, context.index.maxEffort());
            const scan = switch (request.mode) {
                .exact_only => true,
                .index_only => false,
                .planned => admissible <= k or admissible <= scan_factor * effort,
            };
            if (!scan) {
                const wanted = @min(worker.candidates.len, k + rescore_margin);
                const found = if (context.batch_ids.len != 0) batched: {
                    const row = context.batch_ids[q * wanted ..][0..wanted];
                    var len: usize = 0;
                    while (len < wanted and row[len] >= 0) len += 1;
                    @memcpy(worker.candidates[0..len], row[0..len]);
                    break :batched len;
                } else context.index.searchOne(&worker.scratch, query, q, &request.filter, if (request.mode == .index_only) context.effort else effort, worker.candidates[0..wanted]);
                const kept = rescore(query, request, worker, found, out_ids, out_scores);
                if (kept == k or request.mode == .index_only) return;
            }
            context.needs_exact[q] = true;
        }
    };
}

/// effort · n_items / admissible, clamped to [effort, max_effort].
fn widened(effort: usize, n_items: usize, admissible: usize, max_effort: usize) usize {
    if (admissible == 0) return max_effort;
    const scaled = std.math.mulWide(usize, effort, n_items) / admissible;
    return @intCast(@min(@max(scaled, effort), max_effort));
}

/// The best k of the worker's first `found` candidates by exact score into
/// the output row; returns how many.
fn rescore(query: []const f32, request: *const Request, worker: anytype, found: usize, out_ids: []i32, out_scores: []f32) usize {
    const candidates = worker.candidates[0..found];
    const scores = worker.scores[0..found];
    if (!exact.scoreRows(query, request.targets, request.f, candidates, scores)) worker.nonfinite = true;
    const heap = Heap.init(out_ids, out_scores);
    var len: usize = 0;
    for (candidates, scores) |id, score| len = heap.offer(len, id, score);
    heap.sortBestFirst(len);
    Heap.pad(out_ids, out_scores, len);
    return len;
}
