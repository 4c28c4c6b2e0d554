//! A synthetic timing run of the kernels through the C ABI, at the scale of
//! lastfm-360K by default (358K users, 292K items, about 17.5M nonzeros,
//! power-law row lengths and item popularity).
//!
//!   zig build bench -Doptimize=ReleaseFast -- [n_users n_items f threads [kernels]]
//!
//! `kernels` is a comma-separated list of als, topk and bpr (all by default).

const std = @import("std");
const tacit = @import("tacit");
const api = tacit.c_api;
const plain = tacit.abi_table;
const edge = tacit.abi_edge;

/// BPR epochs timed per thread count.
const bpr_epochs = 3;

const Matrix = struct {
    indptr: []i32,
    indices: []i32,
    data: []f32,
};

pub fn main(init: std.process.Init.Minimal) !void {
    const allocator = std.heap.c_allocator;
    var arena: std.heap.ArenaAllocator = .init(allocator);
    defer arena.deinit();
    const args = try init.args.toSlice(arena.allocator());
    const n_users = try argument(args, 1, 358_000);
    const n_items = try argument(args, 2, 292_000);
    const f = try argument(args, 3, 64);
    const threads = try argument(args, 4, 0);
    const kernels: []const u8 = if (args.len > 5) args[5] else "als,topk,bpr";
    _ = plain.tacit_set_num_threads(@intCast(threads));
    std.debug.print("threads = {d}, simd lanes = {d}\n", .{ plain.tacit_get_num_threads(), tacit.simd.lanes });

    var timer = Timer.start();
    const matrix = try generate(allocator, n_users, n_items);
    std.debug.print("generated {d} x {d}, nnz = {d} in {d:.2} s\n", .{ n_users, n_items, matrix.indices.len, timer.lap() });

    const x = try randomFactors(allocator, n_users * f, 1);
    const y = try randomFactors(allocator, n_items * f, 2);
    const gram = try allocator.alloc(f32, f * f);
    const fi: c_int = @intCast(f);
    const nu: c_int = @intCast(n_users);
    const ni: c_int = @intCast(n_items);

    timer = Timer.start();
    if (selected(kernels, "bpr")) try benchBpr(allocator, matrix, n_items, f);
    if (selected(kernels, "als")) {
        _ = timer.lap();
        try check(edge.callWithSlices(api.csr_check, .{ .n_rows = nu, .n_cols = ni, .indptr = matrix.indptr, .indices = matrix.indices, .data = matrix.data }));
        std.debug.print("csr_check            {d:.3} s\n", .{timer.lap()});
        try check(edge.callWithSlices(api.gram, .{ .factors = y, .n = ni, .f = fi, .ridge = 0.1, .out = gram }));
        std.debug.print("gram (items)         {d:.3} s\n", .{timer.lap()});
        for (0..2) |_| {
            try check(alsSolve(matrix, x, y, ni, fi, 0));
            std.debug.print("als_solve cg3 users  {d:.3} s\n", .{timer.lap()});
        }
        var loss: [2]f64 = undefined;
        try check(edge.callWithSlices(api.als_loss, .{ .n_rows = nu, .indptr = matrix.indptr, .indices = matrix.indices, .data = matrix.data, .x = x, .y = y, .n_other = ni, .f = fi, .regularization = 0.1, .alpha = 2, .confidence = 0, .out = &loss }));
        std.debug.print("als_loss             {d:.3} s  (loss/Σc = {e:.4})\n", .{ timer.lap(), loss[0] / loss[1] });
        try check(alsSolve(matrix, x, y, ni, fi, 1));
        std.debug.print("als_solve chol users {d:.3} s\n", .{timer.lap()});
    }
    if (!selected(kernels, "topk")) return;

    const n_queries: usize = @min(n_users, 2000);
    const k: usize = 10;
    const out_ids = try allocator.alloc(i32, n_queries * k);
    const out_scores = try allocator.alloc(f32, n_queries * k);
    _ = timer.lap();
    try check(topk(matrix, x, y, n_queries, ni, fi, k, out_ids, out_scores));
    const topk_s = timer.lap();
    std.debug.print("topk_dot {d} queries {d:.3} s ({d:.1} GFLOP/s)\n", .{
        n_queries, topk_s, 2.0 * @as(f64, @floatFromInt(n_queries * n_items * f)) / topk_s / 1e9,
    });
    const flop_per_query = 2.0 * @as(f64, @floatFromInt(n_items * f));
    std.debug.print("topk_dot float32     {d:.0} users/s\n", .{@as(f64, @floatFromInt(n_queries)) / topk_s});
    if (tacit.topk_bf16.fastestKernel()) |kernel| {
        try benchBf16(allocator, matrix, x, y, n_queries, n_items, f, k, out_ids, out_scores, flop_per_query, kernel);
    } else std.debug.print("topk bf16 candidates: skipped (no candidate kernel chosen on this CPU)\n", .{});
    _ = timer.lap();
    try check(topk(matrix, x, y, 1, ni, fi, k, out_ids[0..k], out_scores[0..k]));
    std.debug.print("topk_dot 1 query     {d:.4} s\n", .{timer.lap()});
}

/// The bf16 candidate pass (zig/topk_bf16.zig) on the same queries, on its
/// own pool of the same size; checks its results equal the float32 path's.
fn benchBf16(allocator: std.mem.Allocator, matrix: Matrix, x: []const f32, y: []const f32, n_queries: usize, n_items: usize, f: usize, k: usize, exact_ids: []const i32, exact_scores: []const f32, flop_per_query: f64, kernel: tacit.topk_bf16.Kernel) !void {
    var pool: tacit.ThreadPool = .{};
    pool.start(@intCast(plain.tacit_get_num_threads()));
    defer pool.stop();
    const ids = try allocator.alloc(i32, n_queries * k);
    defer allocator.free(ids);
    const scores = try allocator.alloc(f32, n_queries * k);
    defer allocator.free(scores);
    const exclusions: tacit.csr.Csr = .{ .indptr = matrix.indptr[0 .. n_queries + 1], .indices = matrix.indices, .data = null };
    const problem: tacit.topk.Problem = .{
        .queries = x[0 .. n_queries * f],
        .items = y,
        .f = f,
        .filter = .init(n_items, .{ .exclusions = exclusions }),
        .k = k,
        .out_ids = ids,
        .out_scores = scores,
    };
    var stats: tacit.topk_bf16.Stats = .{};
    var timer = Timer.start();
    try tacit.topk_bf16.topkDot(allocator, &pool, &problem, kernel, &stats);
    const seconds = timer.lap();
    const same = std.mem.eql(i32, ids, exact_ids) and std.mem.eql(u8, std.mem.sliceAsBytes(scores), std.mem.sliceAsBytes(exact_scores));
    std.debug.print("topk bf16 candidates {d} queries {d:.3} s = {d:.0} users/s ({d:.1} GFLOP/s equivalent); candidates mean {d:.1} max {d}; fallbacks {d}; equal to float32: {}\n", .{
        n_queries,                                                           seconds,                                                                              @as(f64, @floatFromInt(n_queries)) / seconds,
        flop_per_query * @as(f64, @floatFromInt(n_queries)) / seconds / 1e9, @as(f64, @floatFromInt(stats.candidates_total)) / @as(f64, @floatFromInt(n_queries)), stats.candidates_max,
        stats.fallbacks,                                                     same,
    });
}

fn argument(args: []const [:0]const u8, index: usize, default: usize) !usize {
    if (args.len <= index) return default;
    return std.fmt.parseInt(usize, args[index], 10);
}

fn selected(kernels: []const u8, name: []const u8) bool {
    var names = std.mem.tokenizeScalar(u8, kernels, ',');
    while (names.next()) |candidate| if (std.mem.eql(u8, candidate, name)) return true;
    return false;
}

/// BPR epochs of nnz samples each (f + 1 columns, implicit's defaults), on one
/// thread, on the pool, and deterministic on the pool: wall and process CPU
/// seconds per epoch (CPU time is steadier on a shared machine).
fn benchBpr(allocator: std.mem.Allocator, matrix: Matrix, n_items: usize, f: usize) !void {
    const n_users = matrix.indptr.len - 1;
    const columns = f + 1;
    const row_of = try allocator.alloc(i32, matrix.indices.len);
    defer allocator.free(row_of);
    for (0..n_users) |user| {
        @memset(row_of[@intCast(matrix.indptr[user])..@intCast(matrix.indptr[user + 1])], @intCast(user));
    }
    const runs = [_]struct { name: []const u8, threads: u32, deterministic: i32 }{
        .{ .name = "1 thread ", .threads = 1, .deterministic = 0 },
        .{ .name = "pool     ", .threads = 0, .deterministic = 0 },
        .{ .name = "pool det ", .threads = 0, .deterministic = 1 },
    };
    for (runs) |run| {
        const x = try randomFactors(allocator, n_users * columns, 1);
        defer allocator.free(x);
        const y = try randomFactors(allocator, n_items * columns, 2);
        defer allocator.free(y);
        for (0..n_users) |user| x[user * columns + f] = 1;
        var counts: [2]i32 = undefined;
        for (0..bpr_epochs) |e| {
            var timer = Timer.start();
            const cpu_start = cpuSeconds();
            try check(edge.callWithSlicesLimited(tacit.c_api_sgd.bpr_epoch, .{
                .n_rows = @as(i32, @intCast(n_users)),
                .n_cols = @as(i32, @intCast(n_items)),
                .indptr = matrix.indptr,
                .indices = matrix.indices,
                .row_of = row_of,
                .user_factors = x,
                .item_factors = y,
                .f = @as(i32, @intCast(columns)),
                .learning_rate = 0.01,
                .regularization = 0.01,
                .verify_negatives = 1,
                .seed = @as(i32, @intCast(e + 1)),
                .deterministic = run.deterministic,
                .n_samples = @as(i32, @intCast(matrix.indices.len)),
                .out_counts = &counts,
            }, run.threads));
            const wall_s = timer.lap();
            const cpu_s = cpuSeconds() - cpu_start;
            std.debug.print("bpr_epoch {s} {d:.3} s wall, {d:.3} s cpu, {d:.2} M samples/s, train AUC {d:.4}\n", .{
                run.name,                                                   wall_s,                                                                                                             cpu_s,
                @as(f64, @floatFromInt(matrix.indices.len)) / wall_s / 1e6, @as(f64, @floatFromInt(counts[0])) / @as(f64, @floatFromInt(matrix.indices.len - @as(usize, @intCast(counts[1])))),
            });
        }
    }
}

fn cpuSeconds() f64 {
    var ts: std.c.timespec = undefined;
    _ = std.c.clock_gettime(.PROCESS_CPUTIME_ID, &ts);
    return @as(f64, @floatFromInt(ts.sec)) + @as(f64, @floatFromInt(ts.nsec)) / 1e9;
}

fn check(result: edge.SliceCallResult) !void {
    if (result.status == 0) return;
    std.debug.print("status {d}: {s}\n", .{ result.status, result.message() });
    return error.KernelFailed;
}

fn alsSolve(matrix: Matrix, x: []f32, y: []const f32, ni: i32, fi: i32, solver: i32) edge.SliceCallResult {
    return edge.callWithSlices(api.als_solve, .{
        .solver = solver,
        .cg_steps = 3,
        .n_rows = @as(i32, @intCast(matrix.indptr.len - 1)),
        .indptr = matrix.indptr,
        .indices = matrix.indices,
        .data = matrix.data,
        .x = x,
        .y = y,
        .n_other = ni,
        .f = fi,
        .regularization = 0.1,
        .alpha = 2,
        .confidence = 0,
    });
}

/// Top-k for the first n_queries users, excluding their rows of the matrix.
fn topk(matrix: Matrix, x: []const f32, y: []const f32, n_queries: usize, ni: i32, fi: i32, k: usize, out_ids: []i32, out_scores: []f32) edge.SliceCallResult {
    const f: usize = @intCast(fi);
    const exclude_indptr = matrix.indptr[0 .. n_queries + 1];
    var path: [1]i32 = undefined;
    return edge.callWithSlices(api.topk_dot, .{
        .queries = x[0 .. n_queries * f],
        .n_q = @as(i32, @intCast(n_queries)),
        .items = y,
        .n_items = ni,
        .f = fi,
        .exclude_indptr = exclude_indptr,
        .exclude_indices = matrix.indices[0..@intCast(exclude_indptr[n_queries])],
        .item_mask = null,
        .candidates = null,
        .n_cand = 0,
        .k = @as(i32, @intCast(k)),
        .out_ids = out_ids,
        .out_scores = out_scores,
        .precision = 0,
        .out_path = &path,
    });
}

/// Power-law row lengths (mean about 49) and item popularity.
fn generate(allocator: std.mem.Allocator, n_users: usize, n_items: usize) !Matrix {
    var prng = std.Random.DefaultPrng.init(42);
    const random = prng.random();
    const indptr = try allocator.alloc(i32, n_users + 1);
    var indices: std.ArrayList(i32) = .empty;
    var data: std.ArrayList(f32) = .empty;
    indptr[0] = 0;
    for (0..n_users) |user| {
        const r = 1 - random.float(f64);
        const length: usize = @intFromFloat(@min(@as(f64, @floatFromInt(@min(5000, n_items))), 15 * std.math.pow(f64, r, -0.7)));
        const row_start = indices.items.len;
        for (0..length) |_| {
            const u = random.float(f64);
            try indices.append(allocator, @intFromFloat(@as(f64, @floatFromInt(n_items)) * u * u * u));
        }
        const row = indices.items[row_start..];
        std.mem.sort(i32, row, {}, std.sort.asc(i32));
        var kept: usize = 0;
        for (row, 0..) |item, i| {
            if (i > 0 and item == row[kept - 1]) continue;
            row[kept] = item;
            kept += 1;
        }
        indices.shrinkRetainingCapacity(row_start + kept);
        for (0..kept) |_| try data.append(allocator, 1 + 10 * random.float(f32));
        indptr[user + 1] = @intCast(indices.items.len);
    }
    return .{ .indptr = indptr, .indices = indices.items, .data = data.items };
}

fn randomFactors(allocator: std.mem.Allocator, len: usize, seed: u64) ![]f32 {
    var prng = std.Random.DefaultPrng.init(seed);
    const values = try allocator.alloc(f32, len);
    for (values) |*v| v.* = prng.random().floatNorm(f32) * 0.01;
    return values;
}

const Timer = struct {
    last_ns: i128,

    fn start() Timer {
        return .{ .last_ns = nowNs() };
    }

    /// Seconds since the last lap.
    fn lap(timer: *Timer) f64 {
        const now = nowNs();
        defer timer.last_ns = now;
        return @as(f64, @floatFromInt(now - timer.last_ns)) / 1e9;
    }

    fn nowNs() i128 {
        var ts: std.c.timespec = undefined;
        _ = std.c.clock_gettime(.MONOTONIC, &ts);
        return @as(i128, ts.sec) * std.time.ns_per_s + ts.nsec;
    }
};
