//! Vector helpers on f32 slices of any length (a `@Vector` body plus a scalar
//! tail), used by every kernel's inner loop.

const std = @import("std");
const builtin = @import("builtin");
const assert = std.debug.assert;

/// f32 lanes per vector: 8 with AVX2, 16 with AVX-512, 4 with NEON/SSE.
pub const lanes = std.simd.suggestVectorLength(f32) orelse 8;
pub const V = @Vector(lanes, f32);

/// `@mulAdd` is one instruction only where the CPU has FMA; elsewhere it is a
/// slow libcall, so fall back to a multiply and an add.
const has_fma = switch (builtin.cpu.arch) {
    .x86_64, .x86 => std.Target.x86.featureSetHas(builtin.cpu.features, .fma),
    .aarch64, .aarch64_be => true,
    else => false,
};

pub inline fn mulAdd(a: V, b: V, c: V) V {
    return if (has_fma) @mulAdd(V, a, b, c) else a * b + c;
}

pub inline fn load(values: []const f32, index: usize) V {
    return values[index..][0..lanes].*;
}

pub inline fn store(values: []f32, index: usize, vector: V) void {
    values[index..][0..lanes].* = vector;
}

/// Rounds `index` down to a multiple of `lanes`.
pub inline fn alignDown(index: usize) usize {
    return index - index % lanes;
}

/// Σ a[i]·b[i].
pub fn dot(a: []const f32, b: []const f32) f32 {
    assert(a.len == b.len);
    var sum0: V = @splat(0);
    var sum1: V = @splat(0);
    var i: usize = 0;
    while (i + 2 * lanes <= a.len) : (i += 2 * lanes) {
        sum0 = mulAdd(load(a, i), load(b, i), sum0);
        sum1 = mulAdd(load(a, i + lanes), load(b, i + lanes), sum1);
    }
    if (i + lanes <= a.len) {
        sum0 = mulAdd(load(a, i), load(b, i), sum0);
        i += lanes;
    }
    var sum = @reduce(.Add, sum0 + sum1);
    while (i < a.len) : (i += 1) sum += a[i] * b[i];
    return sum;
}

/// Σ a[i]·b[i] accumulated in index order, one multiply-add per term: the
/// arithmetic of one lane of a factor-major tile product (zig/topk.zig,
/// zig/ranks.zig), so a score computed here equals the tiled one bit for bit.
pub fn dotInOrder(a: []const f32, b: []const f32) f32 {
    assert(a.len == b.len);
    var sum: f32 = 0;
    for (a, b) |x, y| sum = if (has_fma) @mulAdd(f32, x, y, sum) else x * y + sum;
    return sum;
}

/// y += alpha·x.
pub fn axpy(alpha: f32, x: []const f32, y: []f32) void {
    assert(x.len == y.len);
    const alpha_v: V = @splat(alpha);
    var i: usize = 0;
    while (i + lanes <= y.len) : (i += lanes) store(y, i, mulAdd(alpha_v, load(x, i), load(y, i)));
    while (i < y.len) : (i += 1) y[i] += alpha * x[i];
}

/// y += Σ_k alphas[k]·xs[k]: four axpys for one load and store of y.
pub fn axpy4(alphas: [4]f32, xs: [4][]const f32, y: []f32) void {
    for (xs) |x| assert(x.len == y.len);
    const a0: V = @splat(alphas[0]);
    const a1: V = @splat(alphas[1]);
    const a2: V = @splat(alphas[2]);
    const a3: V = @splat(alphas[3]);
    var i: usize = 0;
    while (i + lanes <= y.len) : (i += lanes) {
        var sum = mulAdd(a0, load(xs[0], i), load(y, i));
        sum = mulAdd(a1, load(xs[1], i), sum);
        sum = mulAdd(a2, load(xs[2], i), sum);
        sum = mulAdd(a3, load(xs[3], i), sum);
        store(y, i, sum);
    }
    while (i < y.len) : (i += 1) {
        y[i] += alphas[0] * xs[0][i] + alphas[1] * xs[1][i] + alphas[2] * xs[2][i] + alphas[3] * xs[3][i];
    }
}

/// x *= alpha.
pub fn scale(alpha: f32, x: []f32) void {
    const alpha_v: V = @splat(alpha);
    var i: usize = 0;
    while (i + lanes <= x.len) : (i += lanes) store(x, i, alpha_v * load(x, i));
    while (i < x.len) : (i += 1) x[i] *= alpha;
}

/// p = r + beta·p (the conjugate-gradient direction update).
pub fn xpby(r: []const f32, beta: f32, p: []f32) void {
    assert(r.len == p.len);
    const beta_v: V = @splat(beta);
    var i: usize = 0;
    while (i + lanes <= p.len) : (i += lanes) store(p, i, mulAdd(beta_v, load(p, i), load(r, i)));
    while (i < p.len) : (i += 1) p[i] = r[i] + beta * p[i];
}

/// out = A·x for a symmetric n×n row-major `a` stored in full (both
/// triangles), computed as Σ_j x[j]·A[j,:] over contiguous rows.
pub fn symv(a: []const f32, x: []const f32, out: []f32) void {
    const n = x.len;
    assert(a.len == n * n);
    assert(out.len == n);
    @memset(out, 0);
    var j: usize = 0;
    while (j + 4 <= n) : (j += 4) {
        axpy4(.{ x[j], x[j + 1], x[j + 2], x[j + 3] }, .{
            a[j * n ..][0..n],
            a[(j + 1) * n ..][0..n],
            a[(j + 2) * n ..][0..n],
            a[(j + 3) * n ..][0..n],
        }, out);
    }
    while (j < n) : (j += 1) axpy(x[j], a[j * n ..][0..n], out);
}

/// Vectors of `out` that symvPadded keeps in registers, at most.
const symv_vectors_in_registers = 16;

/// out = A·x for a symmetric n×n `a` (n = x.len) whose rows are padded to
/// `stride` floats (a multiple of `lanes`, zeros past n); `out` has `stride`
/// floats and its padding comes out zero. For rows of up to 16 vectors `out`
/// stays in registers over the whole product instead of being loaded and
/// stored once per four rows of A as in symv.
pub fn symvPadded(a: []const f32, stride: usize, x: []const f32, out: []f32) void {
    assert(stride % lanes == 0 and x.len <= stride);
    assert(a.len >= x.len * stride and out.len == stride);
    switch (stride / lanes) {
        inline 1...symv_vectors_in_registers => |n_vectors| symvFixed(n_vectors, a, stride, x, out),
        else => {
            @memset(out, 0);
            for (x, 0..) |x_j, j| axpy(x_j, a[j * stride ..][0..stride], out);
        },
    }
}

fn symvFixed(comptime n_vectors: usize, a: []const f32, stride: usize, x: []const f32, out: []f32) void {
    // Two sets of sums (even and odd rows) where registers allow: each sum's
    // chain of multiply-adds is then half as long.
    const n_sets = if (n_vectors <= symv_vectors_in_registers / 2) 2 else 1;
    var sums: [n_sets][n_vectors]V = @splat(@splat(@splat(0)));
    var j: usize = 0;
    while (j + n_sets <= x.len) : (j += n_sets) {
        inline for (0..n_sets) |set| {
            const x_j: V = @splat(x[j + set]);
            const row = a[(j + set) * stride ..];
            inline for (0..n_vectors) |k| sums[set][k] = mulAdd(x_j, load(row, k * lanes), sums[set][k]);
        }
    }
    if (j < x.len) {
        const x_j: V = @splat(x[j]);
        const row = a[j * stride ..];
        inline for (0..n_vectors) |k| sums[0][k] = mulAdd(x_j, load(row, k * lanes), sums[0][k]);
    }
    inline for (0..n_vectors) |k| {
        var sum = sums[0][k];
        inline for (1..n_sets) |set| sum += sums[set][k];
        store(out, k * lanes, sum);
    }
}

/// A += Σ_k weights[k]·ys[k]·ys[k]ᵀ on the upper triangle of the n×n row-major
/// `a` (row j is updated from column alignDown(j), so a few entries just left
/// of the diagonal change too; the strict lower triangle is scratch).
/// Pass a weight of 0 to use fewer than four vectors.
pub fn rankUpdateUpper(a: []f32, n: usize, weights: [4]f32, ys: [4][]const f32) void {
    assert(a.len == n * n);
    for (ys) |y| assert(y.len == n);
    for (0..n) |j| {
        const from = alignDown(j);
        axpy4(.{
            weights[0] * ys[0][j],
            weights[1] * ys[1][j],
            weights[2] * ys[2][j],
            weights[3] * ys[3][j],
        }, .{ ys[0][from..], ys[1][from..], ys[2][from..], ys[3][from..] }, a[j * n + from ..][0 .. n - from]);
    }
}

/// True when every value is finite.
pub fn allFinite(values: []const f32) bool {
    var i: usize = 0;
    var bad: @Vector(lanes, bool) = @splat(false);
    while (i + lanes <= values.len) : (i += lanes) {
        const v = load(values, i);
        bad = bad | (v - v != @as(V, @splat(0)));
    }
    if (@reduce(.Or, bad)) return false;
    while (i < values.len) : (i += 1) if (!std.math.isFinite(values[i])) return false;
    return true;
}

const testing = std.testing;

test "dot, axpy, axpy4, scale and xpby match scalar loops at every length" {
    var a: [37]f32 = undefined;
    var b: [37]f32 = undefined;
    for (&a, &b, 0..) |*ai, *bi, i| {
        ai.* = @floatFromInt(i % 7);
        bi.* = 1.5 - @as(f32, @floatFromInt(i % 5));
    }
    for (0..a.len + 1) |n| {
        var expected: f32 = 0;
        for (a[0..n], b[0..n]) |ai, bi| expected += ai * bi;
        try testing.expectApproxEqAbs(expected, dot(a[0..n], b[0..n]), 1e-4);

        var y = b;
        axpy(2, a[0..n], y[0..n]);
        for (y[0..n], a[0..n], b[0..n]) |yi, ai, bi| try testing.expectEqual(bi + 2 * ai, yi);

        var y4 = b;
        axpy4(.{ 1, 2, 0, -1 }, .{ a[0..n], a[0..n], b[0..n], b[0..n] }, y4[0..n]);
        for (y4[0..n], a[0..n], b[0..n]) |yi, ai, bi| try testing.expectApproxEqAbs(bi + 3 * ai - bi, yi, 1e-5);

        var s = a;
        scale(-0.5, s[0..n]);
        for (s[0..n], a[0..n]) |si, ai| try testing.expectEqual(-0.5 * ai, si);

        var p = a;
        xpby(b[0..n], 2, p[0..n]);
        for (p[0..n], a[0..n], b[0..n]) |pi, ai, bi| try testing.expectEqual(bi + 2 * ai, pi);
    }
}

test "symv and rankUpdateUpper agree with a dense reference" {
    const n = 11;
    var y: [4][n]f32 = undefined;
    for (&y, 0..) |*row, k| {
        for (row, 0..) |*v, i| v.* = @as(f32, @floatFromInt((i * 3 + k * 5) % 7)) - 3;
    }
    var a: [n * n]f32 = @splat(0);
    rankUpdateUpper(&a, n, .{ 1, 0.5, 2, 0 }, .{ &y[0], &y[1], &y[2], &y[3] });
    var full: [n * n]f32 = undefined;
    for (0..n) |i| for (0..n) |j| {
        full[i * n + j] = y[0][i] * y[0][j] + 0.5 * y[1][i] * y[1][j] + 2 * y[2][i] * y[2][j];
        if (j >= i) try testing.expectApproxEqAbs(full[i * n + j], a[i * n + j], 1e-4);
    };
    var out: [n]f32 = undefined;
    symv(&full, &y[3], &out);
    for (0..n) |i| {
        var expected: f32 = 0;
        for (0..n) |j| expected += full[i * n + j] * y[3][j];
        try testing.expectApproxEqAbs(expected, out[i], 1e-3);
    }
}

test "allFinite finds NaN and infinity anywhere" {
    var values: [21]f32 = @splat(1);
    try testing.expect(allFinite(&values));
    for (0..values.len) |i| {
        values[i] = std.math.nan(f32);
        try testing.expect(!allFinite(&values));
        values[i] = -std.math.inf(f32);
        try testing.expect(!allFinite(&values));
        values[i] = 1;
    }
}

test "symvPadded matches a dense product at every width, its padding zero" {
    const allocator = testing.allocator;
    for ([_]usize{ 1, 3, 8, 11, 33, 64, 100, 129, 200 }) |n| {
        const stride = std.mem.alignForward(usize, n, lanes);
        const a = try allocator.alloc(f32, n * stride);
        defer allocator.free(a);
        const x = try allocator.alloc(f32, n);
        defer allocator.free(x);
        const out = try allocator.alloc(f32, stride);
        defer allocator.free(out);
        @memset(a, 0);
        for (0..n) |i| {
            x[i] = @as(f32, @floatFromInt((i * 5) % 9)) - 4;
            for (0..i + 1) |j| {
                const value = @as(f32, @floatFromInt((i * 7 + j * 3) % 11)) - 5;
                a[i * stride + j] = value;
                a[j * stride + i] = value;
            }
        }
        @memset(out, std.math.nan(f32));
        symvPadded(a, stride, x, out);
        for (0..n) |i| {
            var expected: f64 = 0;
            for (0..n) |j| expected += @as(f64, a[i * stride + j]) * x[j];
            try testing.expectApproxEqAbs(expected, out[i], 1e-3);
        }
        for (out[n..]) |padding| try testing.expectEqual(@as(f32, 0), padding);
    }
}
