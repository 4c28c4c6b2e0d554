//! Minibatch implicit factorization: Spotlight's ImplicitFactorizationModel
//! (spotlight/factorization/implicit.py, Kula 2017) as a native kernel over
//! the shared SGD engine (sgd/).
//!
//! The model scores s(u, i) = x_u·y_i + b_u + b_i. Rows hold `columns` = d + 2
//! values so that a score is one dot product, as for every factor model: a
//! user row is [x_u, b_u, 1] and an item row [y_i, 1, b_i]. The constant
//! column of each side (`Side.fixed_column`: d + 1 for users, d for items) is
//! never stepped, so it stays 1 and its moments stay 0.
//!
//! An epoch shuffles the (user, item) pairs in place with the seeded
//! generator, cuts them into minibatches of `batch_size` (the last one may be
//! smaller) and, for each, draws negatives uniformly (Spotlight's
//! sample_items), computes the gradient of the batch-mean loss (sgd/losses.zig)
//! for every row the batch touches (a row that appears twice gets the sum, as
//! PyTorch's embedding backward gives) and takes one Adam step
//! (sgd/optimizers.zig) whose step count t is the batch's index since the
//! model was initialised:
//! - dense (`adam`): every row of both sides steps, along a zero gradient
//!   where the batch did not touch it; this is PyTorch's Adam over Spotlight's
//!   dense embeddings (sparse = False): a pass over all parameters per batch.
//! - lazy (`lazy_adam`): only the rows the batch's loss depends on step: each
//!   pair's user, item and the negative it was compared with, even where the
//!   loss is flat (PyTorch's SparseAdam, TensorFlow's LazyAdam, here with the
//!   L2 term added to those rows' gradients; SparseAdam would also step the
//!   adaptive-hinge negatives that were not the highest, along a zero
//!   gradient). Every other row and its moments stay as they are.
//!
//! Adaptive hinge draws `n_negatives` items per pair and uses the highest
//! scored one for that same pair (Spotlight reshapes its batch × n draws as
//! n × batch, so its maximum mixes other users' negatives).
//!
//! Parallelism: the epoch's batches are grouped into chunks (sgd/hogwild.zig);
//! chunk c draws its negatives from stream (seed, c). Lazy: the chunks run as
//! Hogwild minibatch SGD on the pool, a gradient scratch per thread. Dense: the
//! chunks run in order on the calling thread and each batch's Adam pass is
//! split over the pool by rows, so its result never depends on the thread
//! count. With `deterministic` the lazy chunks run in order on one thread too.

const std = @import("std");
const assert = std.debug.assert;
const Allocator = std.mem.Allocator;
const ThreadPool = @import("ThreadPool.zig");
const csr = @import("csr.zig");
const simd = @import("simd.zig");
const status = @import("status.zig");
const random = @import("sgd/random.zig");
const negatives = @import("sgd/negatives.zig");
const losses = @import("sgd/losses.zig");
const optimizers = @import("sgd/optimizers.zig");
const hogwild = @import("sgd/hogwild.zig");
const pipeline = @import("sgd/pipeline.zig");

pub const Loss = enum(u8) { pointwise, bpr, hinge, adaptive_hinge };
pub const Optimizer = enum(u8) { adam, lazy_adam };

/// One training interaction, as TypeScript lays the pairs out (two i32).
pub const Pair = extern struct { user: u32, item: u32 };

/// Batches a chunk holds at least: enough work to amortise a task.
const batches_per_chunk_min = 8;
/// The shuffle's stream, apart from the chunks' (0 .. chunk_count_max).
const shuffle_stream: u64 = 1 << 32;
/// Pairs (or rows) ahead whose rows are prefetched: at scale a step waits on
/// rows scattered over hundreds of megabytes.
const prefetch_distance = 8;
/// Rows per task of a dense Adam pass (see denseStep).
const dense_rows_per_task = 4096;
/// Draws a verified negative gets before the last draw is kept anyway (a
/// user who has nearly every item would otherwise loop).
pub const verify_draws_max = 32;

/// One side's parameters and Adam moments, `columns` per row.
pub const Side = struct {
    params: []f32,
    first: []f32,
    second: []f32,
    fixed_column: usize,

    pub inline fn row(side: Side, index: usize, columns: usize) []f32 {
        return side.params[index * columns ..][0..columns];
    }

    /// One Adam step of row `index` along `gradient` (null: zero), every
    /// column but the fixed one.
    fn step(side: Side, index: usize, columns: usize, gradient: ?[]const f32, adam: optimizers.AdamStep) void {
        const start = index * columns;
        const fixed = side.fixed_column;
        const parts = [2][2]usize{ .{ 0, fixed }, .{ fixed + 1, columns } };
        for (parts) |part| {
            if (part[0] >= part[1]) continue;
            const a = start + part[0];
            const b = start + part[1];
            optimizers.adam(side.params[a..b], side.first[a..b], side.second[a..b], if (gradient) |g| g[part[0]..part[1]] else null, adam);
        }
    }
};

pub const Options = struct {
    loss: Loss,
    optimizer: Optimizer,
    batch_size: usize,
    /// Negatives drawn per pair: 1, or more for adaptive hinge.
    n_negatives: usize,
    verify_negatives: bool,
    learning_rate: f32,
    beta1: f32,
    beta2: f32,
    epsilon: f32,
    l2: f32,
    seed: u64 = 0,
    deterministic: bool = false,

    fn adamStep(options: Options, t: u64) optimizers.AdamStep {
        return .of(t, options.learning_rate, options.beta1, options.beta2, options.epsilon, options.l2);
    }
};

pub const Model = struct {
    columns: usize,
    users: Side,
    items: Side,
    /// The users' rows of liked items, for verified negatives.
    likes: csr.Csr,
    options: Options,

    pub fn nUsers(model: *const Model) usize {
        return model.users.params.len / model.columns;
    }

    pub fn nItems(model: *const Model) usize {
        return model.items.params.len / model.columns;
    }
};

/// The gradient rows one batch touched, with a slot map per side so a
/// repeated row accumulates into one gradient. Reset after every batch by
/// clearing only the slots it used.
pub const Scratch = struct {
    columns: usize,
    user_slot: []i32,
    item_slot: []i32,
    user_rows: []u32,
    item_rows: []u32,
    user_gradients: []f32,
    item_gradients: []f32,
    /// The batch's negatives, drawn before its pairs are scored (so the rows
    /// a pair reads can be prefetched a few pairs ahead).
    negatives: []u32,
    n_user_rows: usize = 0,
    n_item_rows: usize = 0,

    pub fn init(allocator: Allocator, model: *const Model) Allocator.Error!Scratch {
        const columns = model.columns;
        const batch = model.options.batch_size;
        const user_slot = try allocator.alloc(i32, model.nUsers());
        errdefer allocator.free(user_slot);
        const item_slot = try allocator.alloc(i32, model.nItems());
        errdefer allocator.free(item_slot);
        // A pair touches one user row and two item rows (its item, its chosen negative).
        const user_rows = try allocator.alloc(u32, batch);
        errdefer allocator.free(user_rows);
        const item_rows = try allocator.alloc(u32, 2 * batch);
        errdefer allocator.free(item_rows);
        const user_gradients = try allocator.alloc(f32, batch * columns);
        errdefer allocator.free(user_gradients);
        const item_gradients = try allocator.alloc(f32, 2 * batch * columns);
        errdefer allocator.free(item_gradients);
        const drawn = try allocator.alloc(u32, batch * model.options.n_negatives);
        @memset(user_slot, -1);
        @memset(item_slot, -1);
        return .{
            .columns = columns,
            .user_slot = user_slot,
            .item_slot = item_slot,
            .user_rows = user_rows,
            .item_rows = item_rows,
            .user_gradients = user_gradients,
            .item_gradients = item_gradients,
            .negatives = drawn,
        };
    }

    pub fn deinit(scratch: *Scratch, allocator: Allocator) void {
        allocator.free(scratch.user_slot);
        allocator.free(scratch.item_slot);
        allocator.free(scratch.user_rows);
        allocator.free(scratch.item_rows);
        allocator.free(scratch.user_gradients);
        allocator.free(scratch.item_gradients);
        allocator.free(scratch.negatives);
    }

    fn userGradient(scratch: *Scratch, user: u32) []f32 {
        return slotted(scratch.user_slot, scratch.user_rows, scratch.user_gradients, &scratch.n_user_rows, user, scratch.columns);
    }

    fn itemGradient(scratch: *Scratch, item: u32) []f32 {
        return slotted(scratch.item_slot, scratch.item_rows, scratch.item_gradients, &scratch.n_item_rows, item, scratch.columns);
    }

    fn slotted(slots: []i32, rows: []u32, gradients: []f32, used: *usize, index: u32, columns: usize) []f32 {
        if (slots[index] < 0) {
            slots[index] = @intCast(used.*);
            rows[used.*] = index;
            @memset(gradients[used.* * columns ..][0..columns], 0);
            used.* += 1;
        }
        const slot: usize = @intCast(slots[index]);
        return gradients[slot * columns ..][0..columns];
    }

    /// The gradient of a side's row when the batch touched it, else null.
    fn gradientOf(scratch: *const Scratch, comptime side: enum { users, items }, index: usize) ?[]const f32 {
        const slot = switch (side) {
            .users => scratch.user_slot[index],
            .items => scratch.item_slot[index],
        };
        if (slot < 0) return null;
        const gradients = if (side == .users) scratch.user_gradients else scratch.item_gradients;
        const start: usize = @as(usize, @intCast(slot)) * scratch.columns;
        return gradients[start..][0..scratch.columns];
    }

    fn clear(scratch: *Scratch) void {
        for (scratch.user_rows[0..scratch.n_user_rows]) |row| scratch.user_slot[row] = -1;
        for (scratch.item_rows[0..scratch.n_item_rows]) |row| scratch.item_slot[row] = -1;
        scratch.n_user_rows = 0;
        scratch.n_item_rows = 0;
    }
};

/// Negatives drawn uniformly from the epoch's generator (Spotlight's
/// sample_items), optionally redrawn while the user has the item.
pub const UniformDraws = struct {
    prng: *random.Prng,
    n_items: usize,
    likes: csr.Csr,
    verify: bool,

    pub inline fn next(draws: *UniformDraws, user: u32) u32 {
        var item = negatives.uniform(draws.prng, draws.n_items);
        if (draws.verify) {
            var drawn: usize = 1;
            while (drawn < verify_draws_max and negatives.isPositive(draws.likes, user, item)) : (drawn += 1) {
                item = negatives.uniform(draws.prng, draws.n_items);
            }
        }
        return item;
    }
};

/// Negatives given in order (tests: a batch whose draws are known).
pub const ScriptedDraws = struct {
    items: []const i32,
    used: usize = 0,

    pub inline fn next(draws: *ScriptedDraws, _: u32) u32 {
        const item = draws.items[draws.used];
        draws.used += 1;
        return @intCast(item);
    }
};

/// Accumulates the gradient of the batch's mean loss into `scratch` (which
/// must be clear) and returns that mean loss. Every pair scores against the
/// parameters as they were when the batch began (under Hogwild, another
/// thread's batch may land meanwhile). Once `poll` stops the gradient is left
/// partial (the caller then takes no step).
pub fn batchGradient(model: *const Model, scratch: *Scratch, pairs: []const Pair, draws: anytype, poll: *status.Poll) f64 {
    assert(pairs.len >= 1 and pairs.len <= model.options.batch_size);
    const columns = model.columns;
    const n_negatives = model.options.n_negatives;
    const drawn = scratch.negatives[0 .. pairs.len * n_negatives];
    for (pairs, 0..) |pair, p| {
        if (poll.stop(n_negatives)) return 0;
        for (drawn[p * n_negatives ..][0..n_negatives]) |*item| item.* = draws.next(pair.user);
    }
    const scale = 1 / @as(f32, @floatFromInt(pairs.len));
    var loss_sum: f64 = 0;
    for (pairs, 0..) |pair, p| {
        if (poll.stop(columns * (n_negatives + 5))) return 0;
        if (p + prefetch_distance < pairs.len) {
            const ahead = p + prefetch_distance;
            pipeline.prefetchRow(model.users.params, pairs[ahead].user, columns);
            pipeline.prefetchRow(model.items.params, pairs[ahead].item, columns);
            for (drawn[ahead * n_negatives ..][0..n_negatives]) |item| pipeline.prefetchRow(model.items.params, item, columns);
        }
        const x = model.users.row(pair.user, columns);
        const y = model.items.row(pair.item, columns);
        const positive = simd.dot(x, y);
        const candidates = drawn[p * n_negatives ..][0..n_negatives];
        var negative_item = candidates[0];
        var negative = simd.dot(x, model.items.row(negative_item, columns));
        for (candidates[1..]) |item| {
            const score = simd.dot(x, model.items.row(item, columns));
            if (score > negative) {
                negative = score;
                negative_item = item;
            }
        }
        const loss = switch (model.options.loss) {
            .pointwise => losses.pointwise(positive, negative),
            .bpr => losses.bprProbability(positive, negative),
            .hinge, .adaptive_hinge => losses.hinge(positive, negative),
        };
        loss_sum += loss.value;
        // The three rows join the batch even when the loss is flat there (an
        // inactive hinge): lazy Adam steps every row the batch's loss depends on.
        const user_gradient = scratch.userGradient(pair.user);
        const item_gradient = scratch.itemGradient(pair.item);
        const negative_gradient = scratch.itemGradient(negative_item);
        if (loss.d_positive == 0 and loss.d_negative == 0) continue;
        const d_positive = loss.d_positive * scale;
        const d_negative = loss.d_negative * scale;
        const z = model.items.row(negative_item, columns);
        simd.axpy(d_positive, y, user_gradient);
        simd.axpy(d_negative, z, user_gradient);
        simd.axpy(d_positive, x, item_gradient);
        simd.axpy(d_negative, x, negative_gradient);
    }
    return loss_sum * @as(f64, scale);
}

/// The lazy Adam step: only the rows in `scratch`.
pub fn lazyStep(model: *const Model, scratch: *const Scratch, t: u64) void {
    const adam = model.options.adamStep(t);
    lazySide(model.users, model.columns, scratch.user_rows[0..scratch.n_user_rows], scratch.user_gradients, adam);
    lazySide(model.items, model.columns, scratch.item_rows[0..scratch.n_item_rows], scratch.item_gradients, adam);
}

fn lazySide(side: Side, columns: usize, rows: []const u32, gradients: []const f32, adam: optimizers.AdamStep) void {
    for (rows, 0..) |row, slot| {
        // The parameters are warm from the gradient pass; the moments are not.
        if (slot + prefetch_distance < rows.len) {
            const ahead = rows[slot + prefetch_distance];
            pipeline.prefetchRow(side.first, ahead, columns);
            pipeline.prefetchRow(side.second, ahead, columns);
        }
        side.step(row, columns, gradients[slot * columns ..][0..columns], adam);
    }
}

/// The dense Adam step: every row of both sides, split over the pool by
/// rows when one is given (each row's step is the same either way).
pub fn denseStep(pool: ?*ThreadPool, model: *const Model, scratch: *const Scratch, t: u64) void {
    const Pass = struct {
        model: *const Model,
        scratch: *const Scratch,
        adam: optimizers.AdamStep,
        n_tasks: usize,

        fn run(pass: *const @This(), task: usize, _: usize) void {
            const n_users = pass.model.nUsers();
            const total = n_users + pass.model.nItems();
            const range = hogwild.chunkRange(total, pass.n_tasks, task);
            const columns = pass.model.columns;
            for (range.start..range.end) |r| {
                if (r < n_users) {
                    pass.model.users.step(r, columns, pass.scratch.gradientOf(.users, r), pass.adam);
                } else {
                    pass.model.items.step(r - n_users, columns, pass.scratch.gradientOf(.items, r - n_users), pass.adam);
                }
            }
        }
    };
    const total = model.nUsers() + model.nItems();
    const threads = if (pool) |p| p.threadCount() else 1;
    const pass: Pass = .{
        .model = model,
        .scratch = scratch,
        .adam = model.options.adamStep(t),
        // A task steps at least dense_rows_per_task rows (~1.3 MB of state at
        // d = 32): below that, waking the pool costs more than the pass.
        .n_tasks = std.math.clamp(total / dense_rows_per_task, 1, 4 * threads),
    };
    if (pool) |p| {
        p.run(pass.n_tasks, &pass, Pass.run);
    } else {
        for (0..pass.n_tasks) |task| pass.run(task, 0);
    }
}

/// Batches of an epoch over `n_pairs` pairs.
pub fn batchCount(n_pairs: usize, batch_size: usize) usize {
    return (n_pairs + batch_size - 1) / batch_size;
}

/// One epoch: shuffles `pairs` in place, then one Adam step per batch, the
/// first with step count `step_before + 1`. Returns the mean of the batches'
/// mean losses (Spotlight's epoch loss). A cancellation skips the batches not
/// started; the export reports it.
pub fn epoch(allocator: Allocator, pool: *ThreadPool, model: *const Model, pairs: []Pair, step_before: u64) Allocator.Error!f64 {
    assert(pairs.len >= 1);
    const cancellation = status.cancellation();
    var shuffler = random.stream(model.options.seed, shuffle_stream);
    random.shuffle(Pair, &shuffler, pairs, cancellation);
    const n_batches = batchCount(pairs.len, model.options.batch_size);
    const n_chunks = hogwild.chunkCount(n_batches, batches_per_chunk_min);
    const chunk_losses = try allocator.alloc(f64, n_chunks);
    defer allocator.free(chunk_losses);
    @memset(chunk_losses, 0);

    const n_scratch = if (model.options.optimizer == .lazy_adam and !model.options.deterministic) pool.threadCount() else 1;
    const scratches = try allocator.alloc(Scratch, n_scratch);
    defer allocator.free(scratches);
    var ready: usize = 0;
    defer for (scratches[0..ready]) |*scratch| scratch.deinit(allocator);
    while (ready < n_scratch) : (ready += 1) scratches[ready] = try Scratch.init(allocator, model);

    var run: EpochRun = .{
        .model = model,
        .pairs = pairs,
        .n_batches = n_batches,
        .n_chunks = n_chunks,
        .step_before = step_before,
        .scratches = scratches,
        .chunk_losses = chunk_losses,
        .pool = null,
        .cancellation = cancellation,
    };
    switch (model.options.optimizer) {
        .lazy_adam => hogwild.run(pool, n_chunks, model.options.seed, model.options.deterministic, &run, EpochRun.runChunk),
        .adam => {
            run.pool = pool;
            for (0..n_chunks) |chunk| {
                if (cancellation.requested()) break;
                var prng = random.stream(model.options.seed, chunk);
                EpochRun.runChunk(&run, chunk, 0, &prng);
            }
        },
    }
    var sum: f64 = 0;
    for (chunk_losses) |loss| sum += loss;
    return sum / @as(f64, @floatFromInt(n_batches));
}

const EpochRun = struct {
    model: *const Model,
    pairs: []const Pair,
    n_batches: usize,
    n_chunks: usize,
    step_before: u64,
    scratches: []Scratch,
    chunk_losses: []f64,
    /// Set for dense Adam, whose chunks run on the calling thread and split
    /// each batch's step over the pool.
    pool: ?*ThreadPool,
    /// The caller's flag, polled between batches and within a batch's pairs.
    cancellation: status.Cancellation,

    fn runChunk(run: *EpochRun, chunk: usize, worker: usize, prng: *random.Prng) void {
        const model = run.model;
        const scratch = &run.scratches[worker];
        const batch_size = model.options.batch_size;
        var draws: UniformDraws = .{ .prng = prng, .n_items = model.nItems(), .likes = model.likes, .verify = model.options.verify_negatives };
        const batches = hogwild.chunkRange(run.n_batches, run.n_chunks, chunk);
        var loss: f64 = 0;
        var poll: status.Poll = .init(run.cancellation);
        for (batches.start..batches.end) |batch| {
            const start = batch * batch_size;
            const pairs = run.pairs[start..@min(start + batch_size, run.pairs.len)];
            // A dense step passes over every row of both sides.
            const step_work = switch (model.options.optimizer) {
                .lazy_adam => 0,
                .adam => (model.nUsers() + model.nItems()) * model.columns,
            };
            if (poll.stop(step_work)) break;
            loss += batchGradient(model, scratch, pairs, &draws, &poll);
            if (poll.stopped) break;
            const t = run.step_before + batch + 1;
            switch (model.options.optimizer) {
                .lazy_adam => lazyStep(model, scratch, t),
                .adam => denseStep(run.pool, model, scratch, t),
            }
            scratch.clear();
        }
        run.chunk_losses[chunk] = loss;
    }
};

// ---------------------------------------------------------------------------

const testing = std.testing;

const TestModel = struct {
    storage: [6][]f32,
    model: Model,

    fn init(n_users: usize, n_items: usize, d: usize, options: Options, likes: csr.Csr) !TestModel {
        const columns = d + 2;
        var storage: [6][]f32 = undefined;
        for (&storage, 0..) |*s, k| {
            s.* = try testing.allocator.alloc(f32, (if (k < 3) n_users else n_items) * columns);
            @memset(s.*, 0);
        }
        var prng = random.stream(9, 0);
        for ([_]usize{ 0, 3 }) |k| {
            for (storage[k], 0..) |*v, i| {
                if (i % columns < d) v.* = (prng.random().float(f32) - 0.5) * 0.4;
            }
        }
        for (0..n_users) |u| storage[0][u * columns + d + 1] = 1;
        for (0..n_items) |i| storage[3][i * columns + d] = 1;
        return .{ .storage = storage, .model = .{
            .columns = columns,
            .users = .{ .params = storage[0], .first = storage[1], .second = storage[2], .fixed_column = d + 1 },
            .items = .{ .params = storage[3], .first = storage[4], .second = storage[5], .fixed_column = d },
            .likes = likes,
            .options = options,
        } };
    }

    fn deinit(t: *TestModel) void {
        for (t.storage) |s| testing.allocator.free(s);
    }
};

const test_options: Options = .{
    .loss = .bpr,
    .optimizer = .lazy_adam,
    .batch_size = 4,
    .n_negatives = 1,
    .verify_negatives = false,
    .learning_rate = 0.05,
    .beta1 = 0.9,
    .beta2 = 0.999,
    .epsilon = 1e-8,
    .l2 = 0.01,
};

test "a batch's gradient accumulates repeated rows and leaves the fixed columns unstepped" {
    const empty: [4]i32 = @splat(0);
    const likes: csr.Csr = .{ .indptr = &empty, .indices = &.{}, .data = null };
    var t = try TestModel.init(3, 5, 3, test_options, likes);
    defer t.deinit();
    const model = &t.model;
    var scratch = try Scratch.init(testing.allocator, model);
    defer scratch.deinit(testing.allocator);
    const pairs = [_]Pair{ .{ .user = 0, .item = 1 }, .{ .user = 0, .item = 2 }, .{ .user = 2, .item = 1 } };
    var draws: ScriptedDraws = .{ .items = &.{ 4, 4, 3 } };
    var poll: status.Poll = .never;
    const loss = batchGradient(model, &scratch, &pairs, &draws, &poll);
    try testing.expectEqual(3, draws.used);
    try testing.expectEqual(2, scratch.n_user_rows);
    try testing.expectEqual(4, scratch.n_item_rows);
    // The user-0 gradient is the sum over its two pairs of d_pos·y_i + d_neg·y_4, over 3.
    const columns = model.columns;
    var expected_loss: f64 = 0;
    var expected: [5]f32 = @splat(0);
    for (pairs[0..2]) |pair| {
        const x = model.users.row(0, columns);
        const p = simd.dot(x, model.items.row(pair.item, columns));
        const n = simd.dot(x, model.items.row(4, columns));
        const l = losses.bprProbability(p, n);
        expected_loss += l.value;
        for (0..columns) |c| expected[c] += (l.d_positive * model.items.row(pair.item, columns)[c] + l.d_negative * model.items.row(4, columns)[c]) / 3;
    }
    {
        const x = model.users.row(2, columns);
        expected_loss += losses.bprProbability(simd.dot(x, model.items.row(1, columns)), simd.dot(x, model.items.row(3, columns))).value;
    }
    try testing.expectApproxEqAbs(expected_loss / 3, loss, 1e-6);
    for (expected, scratch.gradientOf(.users, 0).?) |e, g| try testing.expectApproxEqAbs(e, g, 1e-6);
    try testing.expect(scratch.gradientOf(.users, 1) == null);

    const before_user = model.users.row(0, columns)[4];
    const before_item = model.items.row(1, columns)[3];
    lazyStep(model, &scratch, 1);
    try testing.expectEqual(before_user, model.users.row(0, columns)[4]);
    try testing.expectEqual(before_item, model.items.row(1, columns)[3]);
    try testing.expectEqual(0, model.users.first[4]);
    scratch.clear();
    for (scratch.user_slot) |s| try testing.expectEqual(-1, s);
    for (scratch.item_slot) |s| try testing.expectEqual(-1, s);
}

test "a dense step moves untouched rows through their moments; a lazy one leaves them" {
    const empty: [5]i32 = @splat(0);
    const likes: csr.Csr = .{ .indptr = &empty, .indices = &.{}, .data = null };
    for ([_]Optimizer{ .adam, .lazy_adam }) |optimizer| {
        var options = test_options;
        options.optimizer = optimizer;
        var t = try TestModel.init(4, 6, 4, options, likes);
        defer t.deinit();
        const model = &t.model;
        @memset(model.users.first, 0.01);
        for (0..4) |u| model.users.first[u * 6 + 5] = 0;
        var scratch = try Scratch.init(testing.allocator, model);
        defer scratch.deinit(testing.allocator);
        const pairs = [_]Pair{.{ .user = 1, .item = 2 }};
        var draws: ScriptedDraws = .{ .items = &.{5} };
        var poll: status.Poll = .never;
        _ = batchGradient(model, &scratch, &pairs, &draws, &poll);
        const untouched = model.users.row(3, 6)[0];
        var pool: ThreadPool = .{};
        pool.start(2);
        defer pool.stop();
        switch (optimizer) {
            .adam => denseStep(&pool, model, &scratch, 1),
            .lazy_adam => lazyStep(model, &scratch, 1),
        }
        try testing.expectEqual(optimizer == .lazy_adam, untouched == model.users.row(3, 6)[0]);
        try testing.expectEqual(1, model.users.row(3, 6)[5]);
        try testing.expectEqual(1, model.items.row(0, 6)[4]);
    }
}

test "an epoch is reproducible with a seed and deterministic on any pool size" {
    const indptr = [_]i32{ 0, 3, 5, 8, 10 };
    const indices = [_]i32{ 0, 1, 2, 1, 3, 0, 4, 5, 2, 5 };
    const likes: csr.Csr = .{ .indptr = &indptr, .indices = &indices, .data = null };
    var results: [2][]f32 = undefined;
    var losses_seen: [2]f64 = undefined;
    for (0..2) |run| {
        var options = test_options;
        options.loss = .adaptive_hinge;
        options.n_negatives = 3;
        options.verify_negatives = true;
        options.deterministic = true;
        options.seed = 77;
        options.batch_size = 2;
        var t = try TestModel.init(4, 6, 4, options, likes);
        var pairs: [10]Pair = undefined;
        for (0..4) |u| {
            for (@as(usize, @intCast(indptr[u]))..@as(usize, @intCast(indptr[u + 1]))) |nz| pairs[nz] = .{ .user = @intCast(u), .item = @intCast(indices[nz]) };
        }
        var pool: ThreadPool = .{};
        pool.start(1 + run);
        defer pool.stop();
        losses_seen[run] = try epoch(testing.allocator, &pool, &t.model, &pairs, 0);
        losses_seen[run] += try epoch(testing.allocator, &pool, &t.model, &pairs, 5);
        results[run] = try testing.allocator.dupe(f32, t.model.users.params);
        t.deinit();
    }
    defer for (results) |r| testing.allocator.free(r);
    try testing.expectEqual(losses_seen[0], losses_seen[1]);
    try testing.expectEqualSlices(f32, results[0], results[1]);
}
