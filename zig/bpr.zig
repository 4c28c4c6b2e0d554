//! Bayesian personalised ranking by Hogwild stochastic gradient ascent.
//!
//! Model (Rendle, Freudenthaler, Gantner & Schmidt-Thieme, "BPR: Bayesian
//! Personalized Ranking from Implicit Feedback", UAI 2009): a user u prefers a
//! liked item i to an item j it has not interacted with with probability
//! σ(x̂_uij), x̂_uij = x_u·(y_i − y_j). LearnBPR (§4.3, Fig. 4) draws triples
//! (u, i, j) and climbs the gradient of ln σ(x̂_uij) − λ‖Θ‖² (eq. 5 and §4.3):
//!
//!     θ ← θ + η (σ(−x̂_uij) ∂x̂_uij/∂θ − λ θ),
//!     ∂x̂_uij/∂x_u = y_i − y_j,  ∂x̂_uij/∂y_i = x_u,  ∂x̂_uij/∂y_j = −x_u.
//!
//! Layout, as Python implicit: a factor row has `f` columns; the last is a bias.
//! The user's last column is held at its stored value (1), the item's last
//! column is the item bias, so x_u·y_i includes it and is updated like a factor
//! whose user value is 1.
//!
//! Sampling, as implicit: a sample picks two stored entries uniformly, the
//! first giving (u, i), the second's column giving j, so negatives are drawn in
//! proportion to item popularity. With verification on, a j the user has
//! stored is rejected (binary search of the user's sorted row) and the sample
//! is skipped; j = i is always skipped, since such a triple carries no
//! ranking information.
//!
//! Threads: the samples of an epoch are cut into a fixed number of chunks (it
//! depends only on the sample count), each with its own generator seeded from
//! (seed, chunk). The chunks run on the pool's threads and update the shared
//! factors without locks (Hogwild: Niu, Recht, Ré & Wright, NIPS 2011). One
//! thread runs the chunks in order, so a seed reproduces the factors bit for bit.

const std = @import("std");
const assert = std.debug.assert;
const simd = @import("simd.zig");
const csr = @import("csr.zig");
const ThreadPool = @import("ThreadPool.zig");

const Csr = csr.Csr;

pub const Options = struct {
    learning_rate: f32,
    regularization: f32,
    verify_negatives: bool,
    seed: u64,
    n_samples: usize,
};

pub const Counts = struct {
    /// Samples whose x̂_uij was > 0 before their step.
    correct: u64 = 0,
    /// Samples rejected (a liked negative, or j = i).
    skipped: u64 = 0,

    fn add(counts: *Counts, other: Counts) void {
        counts.correct += other.correct;
        counts.skipped += other.skipped;
    }
};

/// Chunks per epoch: at most this many, each of at least `chunk_samples_min`.
pub const chunk_count_max = 256;
const chunk_samples_min = 4096;
/// Samples drawn, prefetched and stepped together; a batch is drawn
/// `pipeline_depth − 1` batches before it is stepped, so the rows it touches
/// arrive while earlier batches compute.
const batch_len = 8;
const pipeline_depth = 3;

pub fn chunkCount(n_samples: usize) usize {
    return std.math.clamp(n_samples / chunk_samples_min, 1, chunk_count_max);
}

/// One drawn triple. `disliked` is null when the sample is skipped.
pub const Triple = struct {
    user: u32,
    liked: u32,
    disliked: ?u32,
};

/// The generator of chunk `chunk_index`: samples [start, end) of the epoch.
pub const Sampler = struct {
    likes: Csr,
    row_of: []const i32,
    verify_negatives: bool,
    prng: std.Random.Xoshiro256,

    pub fn init(likes: Csr, row_of: []const i32, verify_negatives: bool, seed: u64, chunk_index: usize) Sampler {
        assert(likes.nnz() >= 1 and row_of.len == likes.nnz());
        var mix = std.Random.SplitMix64.init(seed ^ (@as(u64, chunk_index) *% 0xD1B54A32D192ED03));
        return .{ .likes = likes, .row_of = row_of, .verify_negatives = verify_negatives, .prng = .init(mix.next()) };
    }

    /// Two uniform positions in [0, nnz) (Lemire's multiply-shift on 64 bits:
    /// the bias is below nnz / 2^64).
    inline fn drawPositions(sampler: *Sampler) [2]usize {
        const n: u128 = sampler.likes.nnz();
        const a: usize = @intCast((@as(u128, sampler.prng.next()) * n) >> 64);
        const b: usize = @intCast((@as(u128, sampler.prng.next()) * n) >> 64);
        return .{ a, b };
    }

    /// Turns two positions into a triple, rejecting a negative as the options say.
    inline fn resolve(sampler: *const Sampler, positions: [2]usize) Triple {
        const likes = sampler.likes;
        const user: u32 = @intCast(sampler.row_of[positions[0]]);
        const liked = likes.indices[positions[0]];
        const disliked = likes.indices[positions[1]];
        const rejected = disliked == liked or
            (sampler.verify_negatives and likes.contains(user, disliked));
        return .{ .user = user, .liked = @intCast(liked), .disliked = if (rejected) null else @intCast(disliked) };
    }

    /// The next triple (the sequence an epoch's chunk steps through).
    pub fn next(sampler: *Sampler) Triple {
        return sampler.resolve(sampler.drawPositions());
    }
};

/// One SGD step on a triple (the update of the module comment) and whether
/// x̂_uij > 0 before it. Rows have `f` columns, the last a bias; the user's
/// last column is left as it was. The three rows must not overlap.
pub fn step(user: []f32, liked: []f32, disliked: []f32, learning_rate: f32, regularization: f32) bool {
    const f = user.len;
    assert(f >= 1 and liked.len == f and disliked.len == f);
    assert(liked.ptr != disliked.ptr);
    const user_bias = user[f - 1];
    var score_v: simd.V = @splat(0);
    var i: usize = 0;
    while (i + simd.lanes <= f) : (i += simd.lanes) {
        score_v += simd.load(user, i) * (simd.load(liked, i) - simd.load(disliked, i));
    }
    var score = @reduce(.Add, score_v);
    while (i < f) : (i += 1) score += user[i] * (liked[i] - disliked[i]);
    // σ(−x̂) = 1 / (1 + e^x̂): 0 when e^x̂ overflows, as it should.
    const z = 1 / (1 + @exp(score));

    const lr: simd.V = @splat(learning_rate);
    const reg: simd.V = @splat(regularization);
    const z_v: simd.V = @splat(z);
    i = 0;
    while (i + simd.lanes <= f) : (i += simd.lanes) {
        const u = simd.load(user, i);
        const l = simd.load(liked, i);
        const d = simd.load(disliked, i);
        simd.store(user, i, u + lr * (z_v * (l - d) - reg * u));
        simd.store(liked, i, l + lr * (z_v * u - reg * l));
        simd.store(disliked, i, d + lr * (-z_v * u - reg * d));
    }
    while (i < f) : (i += 1) {
        const u = user[i];
        const l = liked[i];
        const d = disliked[i];
        user[i] = u + learning_rate * (z * (l - d) - regularization * u);
        liked[i] = l + learning_rate * (z * u - regularization * l);
        disliked[i] = d + learning_rate * (-z * u - regularization * d);
    }
    user[f - 1] = user_bias;
    return score > 0;
}

/// One epoch: `options.n_samples` samples, stepping the factors in place.
/// The liked items `likes` (values unused) have column indices strictly
/// increasing within each row (verification binary-searches them), and beside
/// them row_of[nz] is the row r with indptr[r] <= nz < indptr[r + 1].
/// `user_factors` is [n_rows, f] and `item_factors` [n_cols, f]; every index
/// of `likes` must be a valid item and every row a valid user.
pub fn epoch(pool: *ThreadPool, likes: Csr, row_of: []const i32, user_factors: []f32, item_factors: []f32, f: usize, options: Options) Counts {
    assert(f >= 1);
    assert(row_of.len == likes.nnz());
    assert(user_factors.len == likes.rowCount() * f);
    assert(item_factors.len % f == 0);
    assert(likes.nnz() >= 1 or options.n_samples == 0);
    if (options.n_samples == 0) return .{};
    var context: EpochContext = .{
        .likes = likes,
        .row_of = row_of,
        .user_factors = user_factors,
        .item_factors = item_factors,
        .f = f,
        .options = options,
        .n_chunks = chunkCount(options.n_samples),
    };
    pool.run(context.n_chunks, &context, EpochContext.runChunk);
    var total: Counts = .{};
    for (context.counts[0..context.n_chunks]) |counts| total.add(counts);
    assert(total.correct + total.skipped <= options.n_samples);
    return total;
}

const EpochContext = struct {
    likes: Csr,
    row_of: []const i32,
    user_factors: []f32,
    item_factors: []f32,
    f: usize,
    options: Options,
    n_chunks: usize,
    counts: [chunk_count_max]Counts = undefined,

    /// Steps the chunk's samples in batches through a three-stage pipeline:
    /// batch b is drawn (its entries prefetched) two batches before it is
    /// stepped, and its factor rows are prefetched one batch before. Draws
    /// happen in sample order, so the triples are those `sample` lists.
    fn runChunk(context: *EpochContext, chunk_index: usize, worker_index: usize) void {
        _ = worker_index;
        const samples = chunkSamples(context.options.n_samples, context.n_chunks, chunk_index);
        var sampler: Sampler = .init(context.likes, context.row_of, context.options.verify_negatives, context.options.seed, chunk_index);
        var counts: Counts = .{};
        const n_batches = std.math.divCeil(usize, samples, batch_len) catch unreachable;
        var ring: [pipeline_depth][batch_len][2]usize = undefined;
        for (0..n_batches + pipeline_depth - 1) |b| {
            if (b < n_batches) context.drawBatch(&sampler, &ring[b % pipeline_depth], batchLen(samples, b));
            if (b >= 1 and b - 1 < n_batches) context.prefetchBatch(&ring[(b - 1) % pipeline_depth], batchLen(samples, b - 1));
            if (b >= 2) context.stepBatch(&sampler, &ring[(b - 2) % pipeline_depth], batchLen(samples, b - 2), &counts);
        }
        context.counts[chunk_index] = counts;
    }

    fn batchLen(samples: usize, b: usize) usize {
        return @min(batch_len, samples - b * batch_len);
    }

    /// Draws `len` samples' positions and prefetches their entries.
    fn drawBatch(context: *const EpochContext, sampler: *Sampler, positions: *[batch_len][2]usize, len: usize) void {
        assert(len >= 1 and len <= batch_len);
        const likes = context.likes;
        for (positions[0..len]) |*pair| {
            pair.* = sampler.drawPositions();
            prefetch(&context.row_of[pair[0]]);
            prefetch(&likes.indices[pair[0]]);
            prefetch(&likes.indices[pair[1]]);
        }
    }

    /// Prefetches the factor rows (and the user's row start) of drawn samples.
    fn prefetchBatch(context: *const EpochContext, positions: *const [batch_len][2]usize, len: usize) void {
        const likes = context.likes;
        for (positions[0..len]) |pair| {
            const user: usize = @intCast(context.row_of[pair[0]]);
            prefetch(&likes.indptr[user]);
            context.prefetchRow(context.user_factors, user);
            context.prefetchRow(context.item_factors, @intCast(likes.indices[pair[0]]));
            context.prefetchRow(context.item_factors, @intCast(likes.indices[pair[1]]));
        }
    }

    /// Resolves drawn samples into triples and steps them in order.
    fn stepBatch(context: *EpochContext, sampler: *const Sampler, positions: *const [batch_len][2]usize, len: usize, counts: *Counts) void {
        const f = context.f;
        for (positions[0..len]) |pair| {
            const triple = sampler.resolve(pair);
            const disliked = triple.disliked orelse {
                counts.skipped += 1;
                continue;
            };
            const correct = step(
                context.user_factors[@as(usize, triple.user) * f ..][0..f],
                context.item_factors[@as(usize, triple.liked) * f ..][0..f],
                context.item_factors[@as(usize, disliked) * f ..][0..f],
                context.options.learning_rate,
                context.options.regularization,
            );
            counts.correct += @intFromBool(correct);
        }
    }

    inline fn prefetchRow(context: *const EpochContext, factors: []const f32, row: usize) void {
        const cache_line_floats = 64 / @sizeOf(f32);
        const values = factors[row * context.f ..][0..context.f];
        var offset: usize = 0;
        while (offset < values.len) : (offset += cache_line_floats) prefetch(&values[offset]);
    }
};

inline fn prefetch(pointer: anytype) void {
    @prefetch(pointer, .{ .rw = .read, .locality = 3, .cache = .data });
}

/// The samples of chunk `chunk_index` of `n_chunks`.
fn chunkSamples(n_samples: usize, n_chunks: usize, chunk_index: usize) usize {
    assert(chunk_index < n_chunks);
    return n_samples * (chunk_index + 1) / n_chunks - n_samples * chunk_index / n_chunks;
}

/// Writes the triples an epoch with these options would step through, in
/// chunk order, without touching any factor: `out_disliked[k]` is −1 for a
/// skipped sample. For tests and diagnostics.
pub fn sample(likes: Csr, row_of: []const i32, options: Options, out_users: []i32, out_liked: []i32, out_disliked: []i32) void {
    assert(out_users.len == options.n_samples and out_liked.len == options.n_samples and out_disliked.len == options.n_samples);
    if (options.n_samples == 0) return;
    const n_chunks = chunkCount(options.n_samples);
    var k: usize = 0;
    for (0..n_chunks) |chunk_index| {
        var sampler: Sampler = .init(likes, row_of, options.verify_negatives, options.seed, chunk_index);
        for (0..chunkSamples(options.n_samples, n_chunks, chunk_index)) |_| {
            const triple = sampler.next();
            out_users[k] = @intCast(triple.user);
            out_liked[k] = @intCast(triple.liked);
            out_disliked[k] = if (triple.disliked) |d| @intCast(d) else -1;
            k += 1;
        }
    }
    assert(k == options.n_samples);
}

// ---------------------------------------------------------------------------

const testing = std.testing;

const helpers = @import("testing.zig");

/// Users 0..n_users, each liking about half the items of its own group (a
/// quarter of the items) and a few others, with the row of every nonzero.
const TestLikes = struct {
    matrix: helpers.Matrix,
    row_of: []i32,

    fn init(allocator: std.mem.Allocator, n_users: usize, n_items: usize, seed: u64) !TestLikes {
        var prng = std.Random.DefaultPrng.init(seed);
        var matrix = try helpers.randomCsr(allocator, prng.random(), .{
            .n_rows = n_users,
            .n_cols = n_items,
            .density = 0.02,
            .clusters = .{ .count = 4, .density = 0.5 },
        });
        errdefer matrix.deinit(allocator);
        const row_of = try allocator.alloc(i32, matrix.indices.len);
        for (0..n_users) |user| {
            const range = matrix.view().rowRange(user);
            @memset(row_of[range.start..range.end], @intCast(user));
        }
        return .{ .matrix = matrix, .row_of = row_of };
    }

    fn deinit(likes: *TestLikes, allocator: std.mem.Allocator) void {
        likes.matrix.deinit(allocator);
        allocator.free(likes.row_of);
    }

    fn view(likes: TestLikes) Csr {
        return likes.matrix.view();
    }
};

test "step matches the scalar update and keeps the user's bias column" {
    var user = [_]f32{ 0.1, -0.2, 0.3, 0.05, 0.4, -0.1, 0.2, 0.3, -0.3, 0.1, 0.2, 1 };
    var liked = [_]f32{ 0.2, 0.1, -0.1, 0.3, 0.0, 0.2, -0.2, 0.1, 0.1, 0.4, -0.1, 0.5 };
    var disliked = [_]f32{ -0.1, 0.3, 0.2, -0.2, 0.1, 0.1, 0.3, -0.1, 0.2, 0.0, 0.1, -0.2 };
    const lr: f32 = 0.05;
    const reg: f32 = 0.01;
    var score: f64 = 0;
    for (user, liked, disliked) |u, l, d| score += u * (l - d);
    const z: f64 = 1 / (1 + @exp(score));
    var expected_user: [12]f64 = undefined;
    var expected_liked: [12]f64 = undefined;
    var expected_disliked: [12]f64 = undefined;
    for (0..12) |j| {
        expected_user[j] = if (j == 11) 1 else user[j] + lr * (z * (liked[j] - disliked[j]) - reg * user[j]);
        expected_liked[j] = liked[j] + lr * (z * user[j] - reg * liked[j]);
        expected_disliked[j] = disliked[j] + lr * (-z * user[j] - reg * disliked[j]);
    }
    try testing.expectEqual(score > 0, step(&user, &liked, &disliked, lr, reg));
    for (0..12) |j| {
        try testing.expectApproxEqAbs(expected_user[j], user[j], 1e-6);
        try testing.expectApproxEqAbs(expected_liked[j], liked[j], 1e-6);
        try testing.expectApproxEqAbs(expected_disliked[j], disliked[j], 1e-6);
    }
    try testing.expectEqual(1, user[11]);
}

test "verified negatives are never liked, and sample() replays an epoch's skips" {
    const allocator = testing.allocator;
    var likes: TestLikes = try .init(allocator, 40, 32, 3);
    defer likes.deinit(allocator);
    const n_samples = 3 * chunk_samples_min + 17;
    const users = try allocator.alloc(i32, n_samples);
    defer allocator.free(users);
    const liked = try allocator.alloc(i32, n_samples);
    defer allocator.free(liked);
    const disliked = try allocator.alloc(i32, n_samples);
    defer allocator.free(disliked);
    const options: Options = .{ .learning_rate = 0.05, .regularization = 0.01, .verify_negatives = true, .seed = 11, .n_samples = n_samples };
    sample(likes.view(), likes.row_of, options, users, liked, disliked);
    var skipped: u64 = 0;
    for (users, liked, disliked) |u, i, j| {
        try testing.expect(likes.view().contains(@intCast(u), i));
        if (j < 0) {
            skipped += 1;
            continue;
        }
        try testing.expect(!likes.view().contains(@intCast(u), j));
    }
    try testing.expect(skipped > 0 and skipped < n_samples);

    var pool: ThreadPool = .{};
    pool.start(1);
    defer pool.stop();
    const f = 5;
    const x = try allocator.alloc(f32, 40 * f);
    defer allocator.free(x);
    const y = try allocator.alloc(f32, 32 * f);
    defer allocator.free(y);
    @memset(x, 0.01);
    @memset(y, 0.01);
    const counts = epoch(&pool, likes.view(), likes.row_of, x, y, f, options);
    try testing.expectEqual(skipped, counts.skipped);
}

test "one thread reproduces an epoch bit for bit, and training orders held pairs" {
    const allocator = testing.allocator;
    var likes: TestLikes = try .init(allocator, 60, 40, 5);
    defer likes.deinit(allocator);
    const f = 9;
    var results: [2][]f32 = undefined;
    for (&results) |*result| {
        var pool: ThreadPool = .{};
        pool.start(1);
        defer pool.stop();
        const x = try allocator.alloc(f32, 60 * f);
        defer allocator.free(x);
        const y = try allocator.alloc(f32, 40 * f);
        var prng = std.Random.DefaultPrng.init(1);
        helpers.fillUniform(prng.random(), x, -1.0 / 16.0, 1.0 / 16.0);
        helpers.fillUniform(prng.random(), y, -1.0 / 16.0, 1.0 / 16.0);
        for (0..60) |u| x[u * f + f - 1] = 1;
        var last: Counts = .{};
        for (0..30) |e| {
            last = epoch(&pool, likes.view(), likes.row_of, x, y, f, .{
                .learning_rate = 0.05,
                .regularization = 0.01,
                .verify_negatives = true,
                .seed = 100 + e,
                .n_samples = likes.view().nnz(),
            });
        }
        for (0..60) |u| try testing.expectEqual(1, x[u * f + f - 1]);
        // The training AUC of the last epoch.
        const share = @as(f64, @floatFromInt(last.correct)) / @as(f64, @floatFromInt(likes.view().nnz() - last.skipped));
        try testing.expect(share > 0.8);
        result.* = y;
    }
    defer for (results) |result| allocator.free(result);
    try testing.expectEqualSlices(f32, results[0], results[1]);
}

test "an epoch on several threads keeps every value finite" {
    const allocator = testing.allocator;
    var likes: TestLikes = try .init(allocator, 200, 64, 8);
    defer likes.deinit(allocator);
    var pool: ThreadPool = .{};
    pool.start(4);
    defer pool.stop();
    const f = 17;
    const x = try allocator.alloc(f32, 200 * f);
    defer allocator.free(x);
    const y = try allocator.alloc(f32, 64 * f);
    defer allocator.free(y);
    @memset(x, 0.01);
    @memset(y, 0.02);
    const counts = epoch(&pool, likes.view(), likes.row_of, x, y, f, .{
        .learning_rate = 0.05,
        .regularization = 0.01,
        .verify_negatives = false,
        .seed = 1,
        .n_samples = 20 * likes.view().nnz(),
    });
    try testing.expect(counts.correct + counts.skipped <= 20 * likes.view().nnz());
    try testing.expect(simd.allFinite(x) and simd.allFinite(y));
}
