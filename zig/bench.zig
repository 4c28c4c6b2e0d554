//! A synthetic timing run of the kernels through the C ABI, at the scale of
//! lastfm-360K by default (358K users, 292K items, about 17.5M nonzeros,
//! power-law row lengths and item popularity).
//!
//!   zig build bench -Doptimize=ReleaseFast -- [n_users n_items f threads]

const std = @import("std");
const tacit = @import("tacit");
const api = tacit.c_api;

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
    _ = api.tacit_set_num_threads(@intCast(threads));
    std.debug.print("threads = {d}, simd lanes = {d}\n", .{ api.tacit_get_num_threads(), tacit.simd.lanes });

    var timer = Timer.start();
    const matrix = try generate(allocator, n_users, n_items);
    std.debug.print("generated {d} x {d}, nnz = {d} in {d:.2} s\n", .{ n_users, n_items, matrix.indices.len, timer.lap() });

    const x = try randomFactors(allocator, n_users * f, 1);
    const y = try randomFactors(allocator, n_items * f, 2);
    const gram = try allocator.alloc(f32, f * f);
    const fi: c_int = @intCast(f);
    const nu: c_int = @intCast(n_users);
    const ni: c_int = @intCast(n_items);
    const nnz: c_int = @intCast(matrix.indices.len);

    timer = Timer.start();
    try check(api.tacit_csr_check(nu, ni, matrix.indptr.ptr, matrix.indices.ptr, matrix.data.ptr, nnz));
    std.debug.print("csr_check            {d:.3} s\n", .{timer.lap()});
    try check(api.tacit_gram(y.ptr, ni, fi, 0.1, gram.ptr));
    std.debug.print("gram (items)         {d:.3} s\n", .{timer.lap()});
    for (0..2) |_| {
        try check(api.tacit_als_solve(0, 3, nu, matrix.indptr.ptr, matrix.indices.ptr, matrix.data.ptr, x.ptr, y.ptr, ni, fi, 0.1, 2));
        std.debug.print("als_solve cg3 users  {d:.3} s\n", .{timer.lap()});
    }
    var loss: [2]f64 = undefined;
    try check(api.tacit_als_loss(nu, matrix.indptr.ptr, matrix.indices.ptr, matrix.data.ptr, x.ptr, y.ptr, ni, fi, 0.1, 2, &loss));
    std.debug.print("als_loss             {d:.3} s  (loss/Σc = {e:.4})\n", .{ timer.lap(), loss[0] / loss[1] });
    try check(api.tacit_als_solve(1, 0, nu, matrix.indptr.ptr, matrix.indices.ptr, matrix.data.ptr, x.ptr, y.ptr, ni, fi, 0.1, 2));
    std.debug.print("als_solve chol users {d:.3} s\n", .{timer.lap()});

    const n_queries: usize = @min(n_users, 2000);
    const k: usize = 10;
    const out_ids = try allocator.alloc(i32, n_queries * k);
    const out_scores = try allocator.alloc(f32, n_queries * k);
    _ = timer.lap();
    try check(api.tacit_topk_dot(x.ptr, @intCast(n_queries), y.ptr, ni, fi, matrix.indptr.ptr, matrix.indices.ptr, null, null, 0, @intCast(k), out_ids.ptr, out_scores.ptr));
    const topk_s = timer.lap();
    std.debug.print("topk_dot {d} queries {d:.3} s ({d:.1} GFLOP/s)\n", .{
        n_queries, topk_s, 2.0 * @as(f64, @floatFromInt(n_queries * n_items * f)) / topk_s / 1e9,
    });
    try check(api.tacit_topk_dot(x.ptr, 1, y.ptr, ni, fi, matrix.indptr.ptr, matrix.indices.ptr, null, null, 0, @intCast(k), out_ids.ptr, out_scores.ptr));
    std.debug.print("topk_dot 1 query     {d:.4} s\n", .{timer.lap()});
}

fn argument(args: []const [:0]const u8, index: usize, default: usize) !usize {
    if (args.len <= index) return default;
    return std.fmt.parseInt(usize, args[index], 10);
}

fn check(code: c_int) !void {
    if (code == 0) return;
    var buffer: [512]u8 = undefined;
    const len: usize = @intCast(api.tacit_last_error(&buffer, buffer.len));
    std.debug.print("status {d}: {s}\n", .{ code, buffer[0..@min(len, buffer.len)] });
    return error.KernelFailed;
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
