//! Bayesian personalised ranking by Hogwild stochastic gradient ascent, as a
//! composition of the shared SGD engine (sgd/): a popularity sampler
//! (sgd/negatives.zig), the BPR loss (sgd/losses.zig), plain SGD
//! (sgd/optimizers.zig) and the Hogwild driver (sgd/hogwild.zig). What is
//! BPR's own is here: the triple, and its step fusing three row updates.
//!
//! Model (Rendle, Freudenthaler, Gantner & Schmidt-Thieme, "BPR: Bayesian
//! Personalized Ranking from Implicit Feedback", UAI 2009): a user u prefers a
//! liked item i to an item j it has not interacted with with probability
//! σ(x̂_uij), x̂_uij = x_u·(y_i − y_j). LearnBPR (§4.3, Fig. 4) draws triples
//! (u, i, j) and climbs the gradient of ln σ(x̂_uij) − λ‖Θ‖² (eq. 5 and §4.3):
//!
//!     θ ← θ + η (σ(−x̂_uij) ∂x̂_uij/∂θ − λ θ),
//!     ∂x̂_uij/∂x_u = y_i − y_j,  ∂x̂_uij/∂y_i = x_u,  ∂x̂_uij/∂y_j = −x_u,
//!
//! which is plain SGD's descent θ ← θ − η (g + λ θ) along the gradient g of
//! −ln σ(x̂_uij), with σ(−x̂) = 1 − σ(x̂) the loss's factor (losses.bpr).
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
//! Threads, through the shared SGD engine (sgd/hogwild.zig): the samples of
//! an epoch are cut into a number of chunks that depends only on the sample
//! count, chunk c drawing from random.stream(seed, c) (sgd/random.zig). The
//! chunks run on the pool's threads and update the shared factors without
//! locks (Hogwild: Niu, Recht, Ré & Wright, NIPS 2011); one thread runs them in
//! order, and so does `deterministic` on any thread count, so then a seed
//! reproduces the factors bit for bit. Within a chunk the samples go through
//! the engine's prefetch pipeline (sgd/pipeline.zig), verification included:
//! the binary search is resumed a probe at a time (negatives.PositiveSearch)
//! so the cache misses of many samples overlap. The pipeline changes only the
//! timing: the triples, their order and the steps are those of a plain
//! draw-verify-step loop (`sample` draws them that way, and a test holds an
//! epoch to it bit for bit).

const std = @import("std");
const assert = std.debug.assert;
const simd = @import("simd.zig");
const csr = @import("csr.zig");
const ThreadPool = @import("ThreadPool.zig");
const status = @import("status.zig");
const random = @import("sgd/random.zig");
const negatives = @import("sgd/negatives.zig");
const losses = @import("sgd/losses.zig");
const optimizers = @import("sgd/optimizers.zig");
const hogwild = @import("sgd/hogwild.zig");
const pipeline = @import("sgd/pipeline.zig");

const bpr = @This();
const Csr = csr.Csr;
const Prng = random.Prng;

pub const Options = struct {
    learning_rate: f32,
    regularization: f32,
    verify_negatives: bool,
    seed: u64,
    n_samples: usize,
    /// Run the chunks in order on the calling thread (see the module comment).
    deterministic: bool,
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

/// Samples per chunk, at least.
const chunk_samples_min = 4096;

/// One drawn triple. `disliked` is null when the sample is skipped.
pub const Triple = struct {
    user: u32,
    liked: u32,
    disliked: ?u32,
};

/// How a sample becomes a triple: two stored entries, drawn uniformly, the
/// first giving (u, i) and the second's column j (negatives.popularPosition).
pub const Sampler = struct {
    likes: Csr,
    row_of: []const i32,
    verify_negatives: bool,

    pub fn init(likes: Csr, row_of: []const i32, verify_negatives: bool) Sampler {
        assert(likes.nnz() >= 1 and row_of.len == likes.nnz());
        return .{ .likes = likes, .row_of = row_of, .verify_negatives = verify_negatives };
    }

    /// The positions of the liked entry and of the negative's entry.
    inline fn draw(sampler: *const Sampler, prng: *Prng) [2]usize {
        const liked = negatives.popularPosition(prng, sampler.likes);
        return .{ liked, negatives.popularPosition(prng, sampler.likes) };
    }

    /// Turns two positions into a triple, rejecting a negative as the options say.
    inline fn resolve(sampler: *const Sampler, positions: [2]usize) Triple {
        const likes = sampler.likes;
        const user: u32 = @intCast(sampler.row_of[positions[0]]);
        const liked: u32 = @intCast(likes.indices[positions[0]]);
        const disliked: u32 = @intCast(likes.indices[positions[1]]);
        const rejected = disliked == liked or
            (sampler.verify_negatives and negatives.isPositive(likes, user, disliked));
        return .{ .user = user, .liked = liked, .disliked = if (rejected) null else disliked };
    }

    /// The next triple (the sequence an epoch's chunk steps through).
    pub fn next(sampler: *const Sampler, prng: *Prng) Triple {
        return sampler.resolve(sampler.draw(prng));
    }
};

/// One SGD step on a triple (the update of the module comment) and whether
/// x̂_uij > 0 before it. Rows have `f` columns, the last a bias; the user's
/// last column is left as it was. The three rows must not overlap.
///
/// Ascending ln σ(x̂) is descending its negation, whose gradients are
/// g_u = −z (y_i − y_j), g_i = −z x_u and g_j = z x_u with z = 1 − σ(x̂)
/// (losses.bpr); each row then takes plain SGD's rule θ − η (g + λ θ)
/// (optimizers.sgdVector), the three rows fused into one pass so that each
/// loaded vector of x_u serves all three.
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
    const z = losses.bpr(score);

    const sgd = optimizers.sgdVector;
    const lr: simd.V = @splat(learning_rate);
    const reg: simd.V = @splat(regularization);
    const z_v: simd.V = @splat(z);
    const minus_z_v: simd.V = @splat(-z);
    i = 0;
    while (i + simd.lanes <= f) : (i += simd.lanes) {
        const u = simd.load(user, i);
        const l = simd.load(liked, i);
        const d = simd.load(disliked, i);
        simd.store(user, i, sgd(u, minus_z_v * (l - d), lr, reg));
        simd.store(liked, i, sgd(l, minus_z_v * u, lr, reg));
        simd.store(disliked, i, sgd(d, z_v * u, lr, reg));
    }
    while (i < f) : (i += 1) {
        const u = user[i];
        const l = liked[i];
        const d = disliked[i];
        user[i] = sgd(u, -z * (l - d), learning_rate, regularization);
        liked[i] = sgd(l, -z * u, learning_rate, regularization);
        disliked[i] = sgd(d, z * u, learning_rate, regularization);
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
        .sampler = .init(likes, row_of, options.verify_negatives),
        .user_factors = user_factors,
        .item_factors = item_factors,
        .f = f,
        .options = options,
        .n_chunks = hogwild.chunkCount(options.n_samples, chunk_samples_min),
        .cancellation = status.cancellation(),
    };
    hogwild.run(pool, context.n_chunks, options.seed, options.deterministic, &context, EpochContext.runChunk);
    var total: Counts = .{};
    for (context.counts[0..context.n_chunks]) |counts| total.add(counts);
    assert(total.correct + total.skipped <= options.n_samples);
    return total;
}

const EpochContext = struct {
    sampler: Sampler,
    user_factors: []f32,
    item_factors: []f32,
    f: usize,
    options: Options,
    n_chunks: usize,
    /// The caller's flag: a chunk stops between batches of samples when it is raised.
    cancellation: status.Cancellation,
    /// Zero for a chunk a cancelled call skipped; partial for one it stopped.
    counts: [hogwild.chunk_count_max]Counts = @splat(.{}),

    fn runChunk(context: *EpochContext, chunk_index: usize, worker_index: usize, prng: *Prng) void {
        _ = worker_index;
        const range = hogwild.chunkRange(context.options.n_samples, context.n_chunks, chunk_index);
        var stages: ChunkStages = .init(context);
        pipeline.run(&stages, prng, range.end - range.start, context.cancellation);
        context.counts[chunk_index] = stages.counts;
    }
};

/// A chunk's samples through the pipeline (sgd/pipeline.zig), each a chain
/// of dependent reads: its two entries' positions are drawn (and the entries
/// prefetched); the first advance reads them (u, i, j) and prefetches the
/// user's row bounds; the next ones verify j by a search resumed a probe at a
/// time (negatives.PositiveSearch); the three factor rows are prefetched the
/// pass before the step, unless the sample is already rejected. The fields
/// are copies of the context's, so the loops read them from registers.
const ChunkStages = struct {
    sampler: Sampler,
    user_factors: []f32,
    item_factors: []f32,
    f: usize,
    learning_rate: f32,
    regularization: f32,
    counts: Counts = .{},

    const Sample = struct {
        positions: [2]u32,
        located: bool = false,
        user: u32 = undefined,
        liked: u32 = undefined,
        /// Of the disliked item j; `found` rejects the sample (j = i counts as found).
        search: negatives.PositiveSearch = undefined,
    };

    fn init(context: *const EpochContext) ChunkStages {
        return .{
            .sampler = context.sampler,
            .user_factors = context.user_factors,
            .item_factors = context.item_factors,
            .f = context.f,
            .learning_rate = context.options.learning_rate,
            .regularization = context.options.regularization,
        };
    }

    pub fn draw(stages: *ChunkStages, prng: *Prng) Sample {
        const sampler = &stages.sampler;
        const positions = sampler.draw(prng);
        pipeline.prefetch(&sampler.row_of[positions[0]]);
        pipeline.prefetch(&sampler.likes.indices[positions[0]]);
        pipeline.prefetch(&sampler.likes.indices[positions[1]]);
        return .{ .positions = .{ @intCast(positions[0]), @intCast(positions[1]) } };
    }

    pub fn advance(stages: *ChunkStages, pending: *Sample) bool {
        const likes = stages.sampler.likes;
        if (pending.located) {
            pending.search.advance(likes, pending.user);
            return pending.search.state != .done;
        }
        pending.located = true;
        pending.user = @intCast(stages.sampler.row_of[pending.positions[0]]);
        pending.liked = @intCast(likes.indices[pending.positions[0]]);
        const disliked: u32 = @intCast(likes.indices[pending.positions[1]]);
        if (disliked == pending.liked or !stages.sampler.verify_negatives) {
            pending.search = .answered(disliked, disliked == pending.liked);
            return false;
        }
        pending.search = .init(disliked, pending.positions[0], pending.liked);
        pipeline.prefetch(pending.search.rowBound(likes, pending.user));
        return true;
    }

    pub fn prefetch(stages: *ChunkStages, pending: *Sample) void {
        if (pending.search.found) return;
        const f = stages.f;
        pipeline.prefetchRow(stages.user_factors, pending.user, f);
        pipeline.prefetchRow(stages.item_factors, pending.liked, f);
        pipeline.prefetchRow(stages.item_factors, @intCast(pending.search.item), f);
    }

    pub fn step(stages: *ChunkStages, pending: *Sample) void {
        assert(pending.located);
        if (pending.search.finish(stages.sampler.likes, pending.user)) {
            stages.counts.skipped += 1;
            return;
        }
        const f = stages.f;
        const disliked: usize = @intCast(pending.search.item);
        const correct = bpr.step(
            stages.user_factors[@as(usize, pending.user) * f ..][0..f],
            stages.item_factors[@as(usize, pending.liked) * f ..][0..f],
            stages.item_factors[disliked * f ..][0..f],
            stages.learning_rate,
            stages.regularization,
        );
        stages.counts.correct += @intFromBool(correct);
    }
};

/// Writes the triples an epoch with these options would step through, in
/// chunk order, without touching any factor: `out_disliked[k]` is −1 for a
/// skipped sample. The chunks run on the pool, each writing its own range, so
/// the output does not depend on the thread count. For tests and diagnostics.
pub fn sample(pool: *ThreadPool, likes: Csr, row_of: []const i32, options: Options, out_users: []i32, out_liked: []i32, out_disliked: []i32) void {
    assert(out_users.len == options.n_samples and out_liked.len == options.n_samples and out_disliked.len == options.n_samples);
    if (options.n_samples == 0) return;
    const Context = struct {
        sampler: Sampler,
        n_samples: usize,
        n_chunks: usize,
        out_users: []i32,
        out_liked: []i32,
        out_disliked: []i32,

        fn runChunk(context: *@This(), chunk_index: usize, worker_index: usize, prng: *Prng) void {
            _ = worker_index;
            const range = hogwild.chunkRange(context.n_samples, context.n_chunks, chunk_index);
            for (range.start..range.end) |k| {
                const triple = context.sampler.next(prng);
                context.out_users[k] = @intCast(triple.user);
                context.out_liked[k] = @intCast(triple.liked);
                context.out_disliked[k] = if (triple.disliked) |d| @intCast(d) else -1;
            }
        }
    };
    var context: Context = .{
        .sampler = .init(likes, row_of, options.verify_negatives),
        .n_samples = options.n_samples,
        .n_chunks = hogwild.chunkCount(options.n_samples, chunk_samples_min),
        .out_users = out_users,
        .out_liked = out_liked,
        .out_disliked = out_disliked,
    };
    hogwild.run(pool, context.n_chunks, options.seed, options.deterministic, &context, Context.runChunk);
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
    const options: Options = .{ .learning_rate = 0.05, .regularization = 0.01, .verify_negatives = true, .seed = 11, .n_samples = n_samples, .deterministic = false };
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    sample(&pool, likes.view(), likes.row_of, options, users, liked, disliked);
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
                .deterministic = false,
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
        .deterministic = false,
    });
    try testing.expect(counts.correct + counts.skipped <= 20 * likes.view().nnz());
    try testing.expect(simd.allFinite(x) and simd.allFinite(y));
}

test "deterministic epochs give the same factors bit for bit on any thread count" {
    const allocator = testing.allocator;
    var likes: TestLikes = try .init(allocator, 300, 80, 9);
    defer likes.deinit(allocator);
    const f = 9;
    const n_samples = 8 * likes.view().nnz();
    try testing.expect(hogwild.chunkCount(n_samples, chunk_samples_min) > 1);
    var results: [3][]f32 = undefined;
    for (&results, [_]usize{ 1, 3, 4 }) |*result, n_threads| {
        var pool: ThreadPool = .{};
        pool.start(n_threads);
        defer pool.stop();
        const x = try allocator.alloc(f32, 300 * f);
        defer allocator.free(x);
        const y = try allocator.alloc(f32, 80 * f);
        @memset(x, 0.05);
        @memset(y, 0.02);
        for (0..5) |e| {
            _ = epoch(&pool, likes.view(), likes.row_of, x, y, f, .{
                .learning_rate = 0.05,
                .regularization = 0.01,
                .verify_negatives = true,
                .seed = 40 + e,
                .n_samples = n_samples,
                .deterministic = true,
            });
        }
        result.* = y;
    }
    defer for (results) |result| allocator.free(result);
    try testing.expectEqualSlices(f32, results[0], results[1]);
    try testing.expectEqualSlices(f32, results[0], results[2]);
}

test "an epoch steps exactly the triples sample() draws, in order, as a plain loop would" {
    // The pipelined epoch (prefetches, a search resumed across passes) must
    // give the factors of drawing with sample() and stepping each triple in
    // turn. Rows hold about 80 items, so a search takes several advances
    // (one that outlasts them is finished by the step: negatives.zig's test).
    const allocator = testing.allocator;
    var likes: TestLikes = try .init(allocator, 50, 600, 12);
    defer likes.deinit(allocator);
    const n_users = 50;
    const n_items = 600;
    const f = 7;
    const n_samples = 3 * chunk_samples_min + 5;
    for ([_]bool{ true, false }) |verify| {
        const options: Options = .{ .learning_rate = 0.05, .regularization = 0.01, .verify_negatives = verify, .seed = 21, .n_samples = n_samples, .deterministic = false };
        var pool: ThreadPool = .{};
        pool.start(1);
        defer pool.stop();
        const users = try allocator.alloc(i32, n_samples);
        defer allocator.free(users);
        const liked = try allocator.alloc(i32, n_samples);
        defer allocator.free(liked);
        const disliked = try allocator.alloc(i32, n_samples);
        defer allocator.free(disliked);
        sample(&pool, likes.view(), likes.row_of, options, users, liked, disliked);

        var factors: [2][2][]f32 = undefined;
        for (&factors) |*pair| {
            pair[0] = try allocator.alloc(f32, n_users * f);
            pair[1] = try allocator.alloc(f32, n_items * f);
            var prng = std.Random.DefaultPrng.init(4);
            helpers.fillUniform(prng.random(), pair[0], -0.1, 0.1);
            helpers.fillUniform(prng.random(), pair[1], -0.1, 0.1);
        }
        defer for (factors) |pair| {
            allocator.free(pair[0]);
            allocator.free(pair[1]);
        };
        const counts = epoch(&pool, likes.view(), likes.row_of, factors[0][0], factors[0][1], f, options);
        var expected: Counts = .{};
        const x = factors[1][0];
        const y = factors[1][1];
        for (users, liked, disliked) |u, i, j| {
            if (j < 0) {
                expected.skipped += 1;
                continue;
            }
            const uu: usize = @intCast(u);
            const ii: usize = @intCast(i);
            const jj: usize = @intCast(j);
            const correct = step(x[uu * f ..][0..f], y[ii * f ..][0..f], y[jj * f ..][0..f], options.learning_rate, options.regularization);
            expected.correct += @intFromBool(correct);
        }
        try testing.expectEqual(expected, counts);
        try testing.expectEqualSlices(f32, factors[1][0], factors[0][0]);
        try testing.expectEqualSlices(f32, factors[1][1], factors[0][1]);
    }
}
