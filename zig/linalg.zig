//! Dense linear algebra on small f×f systems: Cholesky factorization and
//! solve, and the Gram matrix FᵀF + ridge·I of a tall factor matrix.

const std = @import("std");
const assert = std.debug.assert;
const simd = @import("simd.zig");
const ThreadPool = @import("ThreadPool.zig");
const partition = @import("partition.zig");
const status = @import("status.zig");

/// Factors the symmetric positive definite n×n row-major `a` in place as
/// A = UᵀU (Golub & Van Loan, "Matrix Computations", 4th ed., §4.2.5, the
/// "up-looking" order of Alg. 4.2.1 by rows of U): row k of U is
/// (A[k, k..] − Σ_{i<k} U[i, k]·U[i, k..]) scaled by its pivot, so each row is
/// one transposed matrix-vector product whose sums stay in registers while the
/// rows above stream past (a right-looking form would load and store the
/// trailing matrix once per pivot). Reads only the upper triangle (j >= i) of
/// A and leaves U there; the strict lower triangle is scratch and is overwritten.
pub fn choleskyFactor(a: []f32, n: usize) error{NotPositiveDefinite}!void {
    assert(a.len == n * n);
    for (0..n) |k| {
        const row_k = a[k * n ..][0..n];
        // Whole vectors from alignDown(k) (columns < k are scratch), then a tail.
        var column = simd.alignDown(k);
        while (n - column >= simd.lanes) {
            const vectors: usize = @min(cholesky_panel_vectors, (n - column) / simd.lanes);
            switch (vectors) {
                inline 1...cholesky_panel_vectors => |v| subtractRowsAbove(v, a, n, k, column),
                else => unreachable,
            }
            column += vectors * simd.lanes;
        }
        for (@max(column, k)..n) |j| {
            var sum = row_k[j];
            for (0..k) |i| sum -= a[i * n + k] * a[i * n + j];
            row_k[j] = sum;
        }
        const pivot = row_k[k];
        if (!(pivot > 0) or !std.math.isFinite(pivot)) return error.NotPositiveDefinite;
        const diagonal = @sqrt(pivot);
        simd.scale(1 / diagonal, row_k[k + 1 ..]);
        row_k[k] = diagonal;
    }
}

/// Vectors of row k one pass of `choleskyFactor` keeps in registers.
const cholesky_panel_vectors = 8;

/// A[k, column..column + v·lanes] −= Σ_{i<k} U[i, k]·U[i, column..].
inline fn subtractRowsAbove(comptime v: usize, a: []f32, n: usize, k: usize, column: usize) void {
    var sums: [v]simd.V = undefined;
    inline for (0..v) |q| sums[q] = simd.load(a, k * n + column + q * simd.lanes);
    for (0..k) |i| {
        const u: simd.V = @splat(-a[i * n + k]);
        inline for (0..v) |q| sums[q] = simd.mulAdd(u, simd.load(a, i * n + column + q * simd.lanes), sums[q]);
    }
    inline for (0..v) |q| simd.store(a, k * n + column + q * simd.lanes, sums[q]);
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

/// Rows of A one register tile of `syrkUpper` covers (its accumulators are
/// syrk_tile_rows × up to syrk_tile_vectors vectors: 16 of the 32 AVX-512 registers).
const syrk_tile_rows = 4;
const syrk_tile_vectors = 4;

comptime {
    // A tile's rows never cross a vector boundary: alignDown(tile_row) <= i for its rows.
    assert(simd.lanes % syrk_tile_rows == 0);
}

/// A += Zᵀ Y on the upper triangle of the n×n row-major `a`, for `rows` rows
/// of `ys` and `zs` (row r at r·stride, stride a multiple of simd.lanes and
/// >= n, its columns n..stride zero): the rank-`rows` update of a Cholesky
/// system, A += Σ_r z_r y_rᵀ with z_r = w_r·y_r (a SYRK). Row i is updated from
/// column alignDown of its tile's first row, so a few entries just left of the
/// diagonal change too (the strict lower triangle is scratch, as for
/// `choleskyFactor`). Register-blocked: a 4-row × 4-vector tile of A stays in
/// registers while every row of the block streams past (from cache), so A is
/// loaded and stored once per call instead of once per row.
pub fn syrkUpper(a: []f32, n: usize, ys: []const f32, zs: []const f32, rows: usize, stride: usize) void {
    assert(a.len == n * n);
    assert(stride >= n and stride % simd.lanes == 0);
    assert(ys.len >= rows * stride and zs.len >= rows * stride);
    if (rows == 0) return;
    var tile_row: usize = 0;
    while (tile_row < n) : (tile_row += syrk_tile_rows) {
        var column = simd.alignDown(tile_row);
        while (column < n) {
            const vectors: usize = @min(syrk_tile_vectors, (stride - column) / simd.lanes);
            switch (vectors) {
                inline 1...syrk_tile_vectors => |v| syrkTile(v, a, n, ys, zs, rows, stride, tile_row, column),
                else => unreachable,
            }
            column += vectors * simd.lanes;
        }
    }
}

/// A[tile_row..tile_row+4, column..column+v·lanes] += Σ_r zs[r, tile_row..tile_row+4] ⊗ ys[r, column..],
/// clipped to A's n×n.
inline fn syrkTile(comptime v: usize, a: []f32, n: usize, ys: []const f32, zs: []const f32, rows: usize, stride: usize, tile_row: usize, column: usize) void {
    var sums: [syrk_tile_rows][v]simd.V = @splat(@splat(@splat(0)));
    for (0..rows) |r| {
        const y_row = ys[r * stride ..][0..stride];
        const z_row = zs[r * stride ..][0..stride];
        var y_vectors: [v]simd.V = undefined;
        inline for (0..v) |k| y_vectors[k] = simd.load(y_row, column + k * simd.lanes);
        inline for (0..syrk_tile_rows) |t| {
            const z: simd.V = @splat(z_row[tile_row + t]);
            inline for (0..v) |k| sums[t][k] = simd.mulAdd(z, y_vectors[k], sums[t][k]);
        }
    }
    inline for (0..syrk_tile_rows) |t| {
        const i = tile_row + t;
        if (i < n) {
            const a_row = a[i * n ..][0..n];
            inline for (0..v) |k| {
                const from = column + k * simd.lanes;
                if (from + simd.lanes <= n) {
                    simd.store(a_row, from, simd.load(a_row, from) + sums[t][k]);
                } else if (from < n) {
                    const partial: [simd.lanes]f32 = sums[t][k];
                    for (from..n, 0..) |j, lane| a_row[j] += partial[lane];
                }
            }
        }
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
