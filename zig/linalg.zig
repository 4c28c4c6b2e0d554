//! Dense linear algebra on small f×f systems: Cholesky factorization and
//! solve, and the Gram matrix FᵀF + ridge·I of a tall factor matrix.

const std = @import("std");
const assert = std.debug.assert;
const simd = @import("simd.zig");
const ThreadPool = @import("ThreadPool.zig");
const partition = @import("partition.zig");
const status = @import("status.zig");

/// Factors the symmetric positive definite n×n row-major `a` in place as
/// A = UᵀU (Golub & Van Loan, "Matrix Computations", 4th ed., Alg. 4.2.2,
/// in its right-looking, row-oriented form so every update is a contiguous
/// axpy). Reads only the upper triangle (j >= i) of A and leaves U there; the
/// strict lower triangle is scratch and is overwritten.
pub fn choleskyFactor(a: []f32, n: usize) error{NotPositiveDefinite}!void {
    assert(a.len == n * n);
    for (0..n) |k| {
        const row_k = a[k * n ..][0..n];
        const pivot = row_k[k];
        if (!(pivot > 0) or !std.math.isFinite(pivot)) return error.NotPositiveDefinite;
        const diagonal = @sqrt(pivot);
        simd.scale(1 / diagonal, row_k[simd.alignDown(k)..]);
        row_k[k] = diagonal;
        // Trailing update A[i, i..] -= U[k, i]·U[k, i..] for i > k, started at
        // alignDown(i) so the body is whole vectors; columns < i are scratch.
        for (k + 1..n) |i| {
            const from = simd.alignDown(i);
            simd.axpy(-row_k[i], row_k[from..], a[i * n + from ..][0 .. n - from]);
        }
    }
}

/// Solves UᵀU x = b in place (`b` becomes x) with U from `choleskyFactor`.
pub fn choleskySolve(u: []const f32, n: usize, b: []f32) void {
    assert(u.len == n * n);
    assert(b.len == n);
    // Uᵀ z = b: column k of Uᵀ is row k of U.
    for (0..n) |k| {
        b[k] /= u[k * n + k];
        simd.axpy(-b[k], u[k * n + k + 1 ..][0 .. n - k - 1], b[k + 1 ..]);
    }
    // U x = z.
    var k = n;
    while (k > 0) {
        k -= 1;
        const tail = simd.dot(u[k * n + k + 1 ..][0 .. n - k - 1], b[k + 1 ..]);
        b[k] = (b[k] - tail) / u[k * n + k];
    }
}

/// Largest number of chunks the Gram matrix is split into; each has its own
/// f64 partial sum, so the result does not depend on the thread count.
const gram_chunk_count_max = 64;
const gram_partials_bytes_max = 32 * 1024 * 1024;
/// Rows accumulated in f32 before they are added into the chunk's f64 sum.
const gram_block_rows = 256;

/// out = FᵀF + ridge·I (full symmetric f×f, row-major) for the row-major
/// `factors` [n_rows, f], in parallel: each of a fixed number of row chunks
/// sums its rows' outer products (in f32 blocks flushed into f64), and the
/// chunks are added in order, so the result is deterministic. When the
/// caller of the export asks it to stop, the chunks stop between blocks of
/// rows and the call fails with error.Cancelled (`out` is then unspecified).
pub fn gram(
    allocator: std.mem.Allocator,
    pool: *ThreadPool,
    factors: []const f32,
    f: usize,
    ridge: f32,
    out: []f32,
) status.Error!void {
    assert(f >= 1);
    assert(factors.len % f == 0);
    assert(out.len == f * f);
    const n_rows = factors.len / f;
    const chunk_count_limit = std.math.clamp(gram_partials_bytes_max / (f * f * @sizeOf(f64)), 1, gram_chunk_count_max);
    const n_chunks = std.math.clamp(n_rows, 1, chunk_count_limit);

    const partials = try allocator.alloc(f64, n_chunks * f * f);
    defer allocator.free(partials);
    const blocks = try allocator.alloc(f32, pool.threadCount() * f * f);
    defer allocator.free(blocks);

    var context: GramContext = .{
        .factors = factors,
        .f = f,
        .n_rows = n_rows,
        .n_chunks = n_chunks,
        .partials = partials,
        .blocks = blocks,
        .cancellation = status.cancellation(),
    };
    pool.run(n_chunks, &context, GramContext.runChunk);
    try context.cancellation.check();
    reduceGram(partials, n_chunks, f, ridge, out);
}

const GramContext = struct {
    factors: []const f32,
    f: usize,
    n_rows: usize,
    n_chunks: usize,
    partials: []f64,
    blocks: []f32,
    cancellation: status.Cancellation,

    fn runChunk(context: *GramContext, chunk_index: usize, worker_index: usize) void {
        const f = context.f;
        var poll: status.Poll = .init(context.cancellation);
        const rows = partition.evenRows(context.n_rows, context.n_chunks, chunk_index);
        const partial = context.partials[chunk_index * f * f ..][0 .. f * f];
        const block = context.blocks[worker_index * f * f ..][0 .. f * f];
        @memset(partial, 0);
        var row = rows.start;
        while (row < rows.end) {
            const block_end = @min(rows.end, row + gram_block_rows);
            if (poll.stop((block_end - row) * f * f / 2)) return;
            @memset(block, 0);
            addOuterProducts(block, context.factors, f, row, block_end);
            for (partial, block) |*sum, value| sum.* += value;
            row = block_end;
        }
    }
};

/// block += Σ_{r in [start, end)} F[r]·F[r]ᵀ on the upper triangle.
fn addOuterProducts(block: []f32, factors: []const f32, f: usize, start: usize, end: usize) void {
    var row = start;
    while (row + 4 <= end) : (row += 4) {
        simd.rankUpdateUpper(block, f, .{ 1, 1, 1, 1 }, .{
            factors[row * f ..][0..f],
            factors[(row + 1) * f ..][0..f],
            factors[(row + 2) * f ..][0..f],
            factors[(row + 3) * f ..][0..f],
        });
    }
    while (row < end) : (row += 1) {
        const y = factors[row * f ..][0..f];
        simd.rankUpdateUpper(block, f, .{ 1, 0, 0, 0 }, .{ y, y, y, y });
    }
}

/// out = Σ_chunks partial (upper triangle, mirrored) + ridge·I.
fn reduceGram(partials: []const f64, n_chunks: usize, f: usize, ridge: f32, out: []f32) void {
    for (0..f) |i| {
        for (i..f) |j| {
            var sum: f64 = if (i == j) ridge else 0;
            for (0..n_chunks) |chunk| sum += partials[chunk * f * f + i * f + j];
            out[i * f + j] = @floatCast(sum);
            out[j * f + i] = @floatCast(sum);
        }
    }
}

const testing = std.testing;
const helpers = @import("testing.zig");

test "choleskyFactor and choleskySolve solve a hand-computed 3×3 system" {
    // A = LLᵀ with L = [[2,0,0],[6,1,0],[-8,5,3]]; b = A·[1,2,3].
    var a = [_]f32{ 4, 12, -16, 12, 37, -43, -16, -43, 98 };
    try choleskyFactor(&a, 3);
    const u_expected = [_]f32{ 2, 6, -8, 1, 5, 3 };
    const upper = [_]usize{ 0, 1, 2, 4, 5, 8 };
    for (upper, u_expected) |index, expected| try testing.expectApproxEqAbs(expected, a[index], 1e-5);
    var b = [_]f32{ -20, -43, 192 };
    choleskySolve(&a, 3, &b);
    for (b, [_]f32{ 1, 2, 3 }) |got, expected| try testing.expectApproxEqAbs(expected, got, 1e-4);
}

test "choleskyFactor rejects a matrix that is not positive definite" {
    var a = [_]f32{ 1, 2, 2, 1 };
    try testing.expectError(error.NotPositiveDefinite, choleskyFactor(&a, 2));
    var nan = [_]f32{std.math.nan(f32)};
    try testing.expectError(error.NotPositiveDefinite, choleskyFactor(&nan, 1));
}

test "choleskySolve matches a random SPD system of size 19" {
    const n = 19;
    var prng = std.Random.DefaultPrng.init(3);
    const random = prng.random();
    var m: [n * n]f32 = undefined;
    helpers.fillUniform(random, &m, -0.5, 0.5);
    var a: [n * n]f32 = undefined;
    for (0..n) |i| for (0..n) |j| {
        var sum: f32 = if (i == j) 1 else 0;
        for (0..n) |k| sum += m[i * n + k] * m[j * n + k];
        a[i * n + j] = sum;
    };
    var x_expected: [n]f32 = undefined;
    helpers.fillUniform(random, &x_expected, 0, 1);
    var b: [n]f32 = undefined;
    for (0..n) |i| b[i] = simd.dot(a[i * n ..][0..n], &x_expected);
    var factor = a;
    try choleskyFactor(&factor, n);
    choleskySolve(&factor, n, &b);
    for (b, x_expected) |got, expected| try testing.expectApproxEqAbs(expected, got, 1e-3);
}

test "gram equals FᵀF + ridge·I on every thread count" {
    const allocator = testing.allocator;
    const n_rows = 1031;
    const f = 13;
    const factors = try allocator.alloc(f32, n_rows * f);
    defer allocator.free(factors);
    var prng = std.Random.DefaultPrng.init(11);
    helpers.fillUniform(prng.random(), factors, -0.5, 0.5);
    var expected: [f * f]f64 = undefined;
    for (0..f) |i| for (0..f) |j| {
        var sum: f64 = if (i == j) 0.25 else 0;
        for (0..n_rows) |r| sum += @as(f64, factors[r * f + i]) * factors[r * f + j];
        expected[i * f + j] = sum;
    };
    for ([_]usize{ 1, 3 }) |thread_count| {
        var pool: ThreadPool = .{};
        pool.start(thread_count);
        defer pool.stop();
        var out: [f * f]f32 = undefined;
        try gram(allocator, &pool, factors, f, 0.25, &out);
        for (out, expected) |got, want| try testing.expectApproxEqAbs(want, got, 1e-3);
        var empty_out: [f * f]f32 = undefined;
        try gram(allocator, &pool, factors[0..0], f, 2, &empty_out);
        for (0..f) |i| for (0..f) |j| try testing.expectEqual(@as(f32, if (i == j) 2 else 0), empty_out[i * f + j]);
    }
}
