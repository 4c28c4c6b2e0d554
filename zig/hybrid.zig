//! Hybrid matrix factorisation with user and item features: LightFM's model
//! (Kula, "Metadata Embeddings for User and Item Cold-start
//! Recommendations", CBRecSys 2015, §3), trained one Hogwild epoch at a time
//! over the shared SGD engine (sgd/).
//!
//! Model (§3, eq. 1–3): a user u with feature weights f_u (a row of the user
//! feature matrix) is represented by q_u = Σ_j f_uj e_j and a bias
//! b_u = Σ_j f_uj β_j, an item likewise by p_i and b_i, and the score is
//! s_ui = q_u·p_i + b_u + b_i. With identity features every user and item has
//! its own embedding (plain matrix factorisation).
//!
//! Layout: a feature's parameters are one row of `columns` = k + 1 floats, its
//! embedding then its bias, so a representation is one row too (the bias
//! last) and every update is a row update (sgd/optimizers.zig).
//!
//! An epoch visits every stored interaction once in a shuffled order, as
//! LightFM does, and takes one step per interaction by the loss:
//! - logistic: y = [value > 0], weight w: gradient w (σ(s) − y) (sgd/losses.zig);
//! - bpr: a negative drawn in proportion to popularity, redrawn while it is
//!   a positive; gradient w (1 − σ(s_ui − s_uj)) on the pair;
//! - warp: uniform negatives, redrawn without counting while positive, until
//!   one violates the margin or max_sampled are counted; the violating pair
//!   steps with weight min(w ln⌊(N − 1)/sampled⌋, 10);
//! - warp-kos: the positive is the k-th best of min(n, |P(u)|) positives
//!   drawn from the user's row (ties keep draw order), then warp's sampling
//!   with weight min(ln⌊(N − |P(u)|)/sampled⌋, 10) (no sample weights).
//! bpr, warp and warp-kos skip interactions whose value is <= 0 as positives
//! (k-OS reads every stored entry as a positive), as LightFM does. A pair step
//! moves the positive item's features along −g·[q_u, 1], the negative's along
//! +g·[q_u, 1] and the user's along g·[p_j − p_i, 1]; the user bias takes the
//! step's weight as its gradient, as LightFM's does (it shifts every score of
//! the user alike and never changes a ranking).
//!
//! Regularisation is LightFM's lazy L2 (optimizers.zig): parameters touched
//! by a step are scaled by (1 + α · local rate), each side keeps a scale that
//! grows by (1 + α · the step's mean local rate), representations are computed
//! with weights multiplied by that scale, and at the end of an epoch (or when
//! a scale passes 10⁶) every parameter of both sides is divided by its scale,
//! which returns to 1. With α = 0 (the default) the scale stays 1.
//!
//! Bounded loops: a user whose row holds every item is skipped by the
//! sampling losses (no negative exists), and negative draws stop after
//! `draws_max_per_sample` × max_sampled tries (then the interaction takes no
//! step), so every loop ends.
//!
//! Cancellation: besides the driver's check between chunks, a chunk polls
//! the caller's flag as it works (status.Poll, per interaction and per WARP
//! draw), so a cancelled epoch stops within about a millisecond of work per
//! thread whatever max_sampled and n are.

const std = @import("std");
const assert = std.debug.assert;
const status = @import("status.zig");
const simd = @import("simd.zig");
const csr = @import("csr.zig");
const ThreadPool = @import("ThreadPool.zig");
const random = @import("sgd/random.zig");
const negatives = @import("sgd/negatives.zig");
const losses = @import("sgd/losses.zig");
const optimizers = @import("sgd/optimizers.zig");
const hogwild = @import("sgd/hogwild.zig");
const pipeline = @import("sgd/pipeline.zig");
const Error = status.Error;

const Csr = csr.Csr;
const Prng = random.Prng;

pub const Loss = enum(u8) { logistic = 0, bpr = 1, warp = 2, warp_kos = 3 };
pub const Schedule = enum(u8) { adagrad = 0, adadelta = 1 };

/// A scale above this triggers the rescaling of every parameter (LightFM's MAX_REG_SCALE).
pub const scale_max: f64 = 1e6;
/// Negative draws per counted sample, at most, before an interaction is given up.
pub const draws_max_per_sample = 1000;
/// Interactions per chunk, at least.
const chunk_examples_min = 2048;

/// One side (users or items): its feature matrix (rows = users or items,
/// values = weights), and per feature a parameter row and the optimiser's
/// state rows (adagrad: `squares` = Σ g², `deltas` unused; adadelta: E[g²],
/// E[Δ²]), each [n_features × columns].
pub const Side = struct {
    features: Csr,
    params: []f32,
    squares: []f32,
    deltas: []f32,
    alpha: f32,

    fn row(values: []f32, feature: i32, columns: usize) []f32 {
        return values[@as(usize, @intCast(feature)) * columns ..][0..columns];
    }

    /// The score of `entity` against a user representation q without
    /// building the entity's: `query` is [q, 1] and `query_bias` q's bias, so
    /// the score is q_bias + scale Σ_j w_j ([q, 1]·θ_j).
    pub fn scoreAgainst(side: Side, entity: usize, columns: usize, scale: f32, query: []const f32, query_bias: f32) f32 {
        assert(query.len == columns);
        var sum: f32 = 0;
        const range = side.features.rowRange(entity);
        const weights = side.features.values();
        for (side.features.indices[range.start..range.end], weights[range.start..range.end]) |feature, weight| {
            sum += weight * simd.dot(query, row(side.params, feature, columns));
        }
        return query_bias + scale * sum;
    }

    /// out = Σ_j w_j scale θ_j over the features of `entity`.
    pub fn represent(side: Side, entity: usize, columns: usize, scale: f32, out: []f32) void {
        assert(out.len == columns);
        @memset(out, 0);
        const range = side.features.rowRange(entity);
        const weights = side.features.values();
        for (side.features.indices[range.start..range.end], weights[range.start..range.end]) |feature, weight| {
            simd.axpy(weight * scale, row(side.params, feature, columns), out);
        }
    }
};

pub const Options = struct {
    loss: Loss,
    schedule: Schedule,
    learning_rate: f32,
    rho: f32,
    epsilon: f32,
    max_sampled: usize,
    /// k-OS: the rank of the positive used, and how many positives are drawn.
    kos_k: usize,
    kos_n: usize,
    seed: u64,
    deterministic: bool,
};

pub const Counts = struct {
    /// Interactions that took a step.
    updates: u64 = 0,
    /// Interactions skipped (not a positive, no violating negative found, no negative exists).
    skipped: u64 = 0,
};

/// The score q·p + b_u + b_i of two representations.
pub inline fn score(user: []const f32, item: []const f32) f32 {
    const k = user.len - 1;
    return simd.dot(user[0..k], item[0..k]) + user[k] + item[k];
}

/// Where a step's random choices come from: a seeded generator in an epoch,
/// or a fixed list in tests (`Scripted`), so one code path serves both.
pub const Random = struct {
    prng: *Prng,
    /// A negative drawn ahead of the step (EpochContext.runChunk), returned
    /// by the step's first negative draw; null when none was.
    first: *?u32,

    pub inline fn uniformItem(source: Random, n_items: usize) ?u32 {
        if (source.first.*) |item| {
            source.first.* = null;
            return item;
        }
        return negatives.uniform(source.prng, n_items);
    }
    pub inline fn popularItem(source: Random, likes: Csr) ?u32 {
        if (source.first.*) |item| {
            source.first.* = null;
            return item;
        }
        return negatives.popular(source.prng, likes);
    }
    pub inline fn rowPosition(source: Random, start: usize, end: usize) ?usize {
        return start + random.below(source.prng, end - start);
    }
};

/// Draws taken in order from a list: items for negatives, and row offsets
/// (0-based within the user's row) for k-OS positives; null when exhausted.
pub const Scripted = struct {
    draws: []const i32,
    next: *usize,

    fn take(source: Scripted) ?i32 {
        if (source.next.* >= source.draws.len) return null;
        defer source.next.* += 1;
        return source.draws[source.next.*];
    }
    pub inline fn uniformItem(source: Scripted, n_items: usize) ?u32 {
        _ = n_items;
        return if (source.take()) |d| @intCast(d) else null;
    }
    pub inline fn popularItem(source: Scripted, likes: Csr) ?u32 {
        _ = likes;
        return if (source.take()) |d| @intCast(d) else null;
    }
    pub inline fn rowPosition(source: Scripted, start: usize, end: usize) ?usize {
        _ = end;
        return if (source.take()) |d| start + @as(usize, @intCast(d)) else null;
    }
};

/// WARP's negative candidates, uniform items in draw order. From a seeded
/// generator they are drawn `lookahead` ahead so that each candidate's
/// feature list and parameter rows are prefetched before its score is
/// needed (the draws left in the ring when sampling stops are dropped); a
/// scripted source is read one at a time.
fn Candidates(comptime Source: type) type {
    return struct {
        const Self = @This();
        const lookahead = 4;
        model: *const Model,
        source: Source,
        ring: [lookahead]u32 = undefined,
        head: usize = 0,

        fn init(model: *const Model, source: Source) Self {
            var self: Self = .{ .model = model, .source = source };
            if (Source != Random) return self;
            for (&self.ring, 0..) |*slot, i| {
                slot.* = source.uniformItem(model.nItems()).?;
                prefetch(&model.items.features.indptr[slot.*]);
                if (i <= 1) EpochContext.prefetchFeatureList(model.items.features, slot.*);
            }
            EpochContext.prefetchParams(model.items, self.ring[0], model.columns);
            return self;
        }

        fn next(self: *Self) ?u32 {
            const model = self.model;
            if (Source != Random) return self.source.uniformItem(model.nItems());
            const item = self.ring[self.head];
            const drawn = self.source.uniformItem(model.nItems()).?;
            self.ring[self.head] = drawn;
            prefetch(&model.items.features.indptr[drawn]);
            self.head = (self.head + 1) % lookahead;
            EpochContext.prefetchParams(model.items, self.ring[self.head], model.columns);
            EpochContext.prefetchFeatureList(model.items.features, self.ring[(self.head + 1) % lookahead]);
            return item;
        }
    };
}

/// The state an epoch's steps share: both sides, the interactions, options,
/// the lazy-regularisation scales and per-worker scratch.
pub const Model = struct {
    users: Side,
    items: Side,
    columns: usize,
    /// Stored entries: values are the interaction values y (LightFM's
    /// interactions), columns strictly increasing per row (positives lookup).
    interactions: Csr,
    options: Options,
    /// Lazy-regularisation scales, as f64 bit patterns (read and written by
    /// every thread without locks, as LightFM's are; see regularize).
    user_scale_bits: std.atomic.Value(u64) = .init(@bitCast(@as(f64, 1))),
    item_scale_bits: std.atomic.Value(u64) = .init(@bitCast(@as(f64, 1))),
    rescale_lock: std.atomic.Mutex = .unlocked,

    fn nItems(model: *const Model) usize {
        return model.items.features.rowCount();
    }

    pub fn userScale(model: *const Model) f64 {
        return @bitCast(model.user_scale_bits.load(.monotonic));
    }
    pub fn itemScale(model: *const Model) f64 {
        return @bitCast(model.item_scale_bits.load(.monotonic));
    }

    fn lazy(model: *const Model) bool {
        return model.users.alpha > 0 or model.items.alpha > 0;
    }

    /// Scratch of one worker: three representations, a gradient row and the
    /// k-OS draws.
    pub const Scratch = struct {
        user: []f32,
        positive: []f32,
        negative: []f32,
        gradient: []f32,
        kos: []Draw,
    };

    pub const Draw = struct { item: u32, score: f32 };

    /// One step on an interaction, with draws from `source`; none (false)
    /// once `poll` stops.
    pub fn step(model: *Model, example: Example, scratch: Scratch, source: anytype, poll: *status.Poll) bool {
        const columns = model.columns;
        // The floats a step touches: both feature lists' parameter rows, read
        // for the representations, then stepped with their optimiser state.
        const features = model.users.features.rowIndices(example.user).len + model.items.features.rowIndices(example.item).len;
        if (poll.stop(4 * columns * (features + 1))) return false;
        const interactions = model.interactions;
        const user: usize = example.user;
        const item = example.item;
        const y = example.value;
        const weight = example.weight;
        const user_scale: f32 = @floatCast(model.userScale());
        const item_scale: f32 = @floatCast(model.itemScale());
        model.users.represent(user, columns, user_scale, scratch.user);
        switch (model.options.loss) {
            .logistic => {
                model.items.represent(item, columns, item_scale, scratch.positive);
                const s = score(scratch.user, scratch.positive);
                const g: f32 = @floatCast(weight * losses.logistic(s, y > 0));
                model.pointUpdate(g, user, item, scratch);
                return true;
            },
            .bpr => {
                if (!(y > 0) or model.coversCatalogue(user)) return false;
                const negative = model.popularNegative(user, source) orelse return false;
                model.items.represent(item, columns, item_scale, scratch.positive);
                model.items.represent(negative, columns, item_scale, scratch.negative);
                const difference = score(scratch.user, scratch.positive) - score(scratch.user, scratch.negative);
                const g: f32 = @floatCast(weight * losses.bpr(@as(f64, difference)));
                model.pairUpdate(g, user, item, negative, scratch);
                return true;
            },
            .warp => {
                if (!(y > 0) or model.coversCatalogue(user)) return false;
                model.items.represent(item, columns, item_scale, scratch.positive);
                return model.warpSteps(user, item, scratch, source, weight, null, poll);
            },
            .warp_kos => {
                if (model.coversCatalogue(user)) return false;
                const positive = model.kthPositive(user, scratch, source, poll) orelse return false;
                model.items.represent(positive, columns, item_scale, scratch.positive);
                return model.warpSteps(user, positive, scratch, source, 1, interactions.rowIndices(user).len, poll);
            },
        }
    }

    fn coversCatalogue(model: *const Model, user: usize) bool {
        return model.interactions.rowIndices(user).len >= model.nItems();
    }

    fn popularNegative(model: *const Model, user: usize, source: anytype) ?u32 {
        for (0..draws_max_per_sample) |_| {
            const candidate = source.popularItem(model.interactions) orelse return null;
            if (!negatives.isPositive(model.interactions, user, candidate)) return candidate;
        }
        return null;
    }

    /// WARP's sampling from the representations in scratch.user and
    /// scratch.positive; `kos_positives` is |P(u)| for k-OS (its rank
    /// estimate), null for WARP. Gives up (false) once `poll` stops.
    fn warpSteps(model: *Model, user: usize, positive: u32, scratch: Scratch, source: anytype, weight: f32, kos_positives: ?usize, poll: *status.Poll) bool {
        const n_items = model.nItems();
        const item_scale: f32 = @floatCast(model.itemScale());
        const positive_score: f64 = score(scratch.user, scratch.positive);
        var sampled: usize = 0;
        var draws: usize = 0;
        const draws_max = draws_max_per_sample * model.options.max_sampled;
        var candidates: Candidates(@TypeOf(source)) = .init(model, source);
        // [q_u, 1]: a candidate's score is then a dot product per feature
        // (scoreAgainst); pairUpdate overwrites this scratch row afterwards.
        @memcpy(scratch.gradient, scratch.user);
        scratch.gradient[model.columns - 1] = 1;
        while (sampled < model.options.max_sampled and draws < draws_max) {
            if (poll.stop(model.columns)) return false;
            draws += 1;
            const candidate = candidates.next() orelse return false;
            if (negatives.isPositive(model.interactions, user, candidate)) continue;
            sampled += 1;
            const negative_score: f64 = model.items.scoreAgainst(candidate, model.columns, item_scale, scratch.gradient, scratch.user[model.columns - 1]);
            if (!losses.warpViolates(positive_score, negative_score)) continue;
            model.items.represent(candidate, model.columns, item_scale, scratch.negative);
            const g: f64 = if (kos_positives) |n_positives|
                losses.warpKos(n_items, n_positives, sampled)
            else
                losses.warp(n_items, sampled, weight);
            model.pairUpdate(@floatCast(g), user, positive, candidate, scratch);
            return true;
        }
        return false;
    }

    /// k-OS: the k-th best scored of min(n, |P(u)|) positives drawn with
    /// replacement from the user's row (a stable sort: ties keep draw order);
    /// null once `poll` stops.
    fn kthPositive(model: *const Model, user: usize, scratch: Scratch, source: anytype, poll: *status.Poll) ?u32 {
        const range = model.interactions.rowRange(user);
        const n_draws = @min(model.options.kos_n, range.end - range.start);
        assert(n_draws >= 1 and n_draws <= scratch.kos.len);
        // The draws' representations, then an insertion sort of them.
        if (poll.stop(n_draws * (model.columns + n_draws))) return null;
        const item_scale: f32 = @floatCast(model.itemScale());
        const draws = scratch.kos[0..n_draws];
        for (draws) |*draw| {
            const position = source.rowPosition(range.start, range.end) orelse return null;
            const item: u32 = @intCast(model.interactions.indices[position]);
            model.items.represent(item, model.columns, item_scale, scratch.positive);
            draw.* = .{ .item = item, .score = score(scratch.user, scratch.positive) };
        }
        std.sort.insertion(Draw, draws, {}, struct {
            fn better(_: void, a: Draw, b: Draw) bool {
                return a.score > b.score;
            }
        }.better);
        return draws[@min(model.options.kos_k, n_draws) - 1].item;
    }

    /// The logistic step: item features along g·[q_u, 1], user features along g·[p_i, 1].
    fn pointUpdate(model: *Model, g: f32, user: usize, item: u32, scratch: Scratch) void {
        const k = model.columns - 1;
        var rates: f32 = 0;
        var touched: usize = 0;
        gradientOf(scratch.gradient, g, scratch.user, null, k);
        rates += model.updateFeatures(model.items, item, scratch.gradient, &touched);
        gradientOf(scratch.gradient, g, scratch.positive, null, k);
        rates += model.updateFeatures(model.users, user, scratch.gradient, &touched);
        model.growScales(rates, touched);
    }

    /// The pair step of bpr, warp and k-OS with weight g (see the module comment).
    fn pairUpdate(model: *Model, g: f32, user: usize, positive: u32, negative: u32, scratch: Scratch) void {
        const k = model.columns - 1;
        var rates: f32 = 0;
        var touched: usize = 0;
        gradientOf(scratch.gradient, -g, scratch.user, null, k);
        rates += model.updateFeatures(model.items, positive, scratch.gradient, &touched);
        gradientOf(scratch.gradient, g, scratch.user, null, k);
        rates += model.updateFeatures(model.items, negative, scratch.gradient, &touched);
        gradientOf(scratch.gradient, g, scratch.negative, scratch.positive, k);
        rates += model.updateFeatures(model.users, user, scratch.gradient, &touched);
        model.growScales(rates, touched);
    }

    /// out = g·[a − b, 1] (b null: g·[a, 1]) over k components and the bias.
    fn gradientOf(out: []f32, g: f32, a: []const f32, b: ?[]const f32, k: usize) void {
        for (0..k) |c| out[c] = g * (a[c] - if (b) |minus| minus[c] else 0);
        out[k] = g;
    }

    /// Steps every feature of `entity` along weight × gradient; returns the
    /// sum of the local rates and adds the features stepped to `touched`.
    fn updateFeatures(model: *Model, side: Side, entity: usize, gradient: []const f32, touched: *usize) f32 {
        const columns = model.columns;
        const options = model.options;
        const range = side.features.rowRange(entity);
        const weights = side.features.values();
        var rates: f32 = 0;
        for (side.features.indices[range.start..range.end], weights[range.start..range.end]) |feature, weight| {
            const theta = Side.row(side.params, feature, columns);
            const squares = Side.row(side.squares, feature, columns);
            rates += switch (options.schedule) {
                .adagrad => optimizers.adagradLagged(theta, squares, gradient, weight, options.learning_rate, side.alpha),
                .adadelta => optimizers.adadelta(theta, squares, Side.row(side.deltas, feature, columns), gradient, weight, options.rho, options.epsilon, side.alpha),
            };
        }
        touched.* += range.end - range.start;
        return rates;
    }

    /// LightFM's scale growth: both scales by (1 + α · mean local rate).
    fn growScales(model: *Model, rates: f32, touched: usize) void {
        if (!model.lazy() or touched == 0) return;
        const mean: f64 = rates / @as(f64, @floatFromInt(touched * model.columns));
        const user_scale = model.userScale() * (1 + model.users.alpha * mean);
        const item_scale = model.itemScale() * (1 + model.items.alpha * mean);
        model.user_scale_bits.store(@bitCast(user_scale), .monotonic);
        model.item_scale_bits.store(@bitCast(item_scale), .monotonic);
        if (user_scale > scale_max or item_scale > scale_max) {
            // One thread rescales; the others go on stepping (Hogwild).
            if (!model.rescale_lock.tryLock()) return;
            defer model.rescale_lock.unlock();
            if (model.userScale() > scale_max or model.itemScale() > scale_max) model.regularize();
        }
    }

    /// Divides every parameter of each side by its scale and resets both to 1.
    pub fn regularize(model: *Model) void {
        for ([_]Side{ model.users, model.items }, [_]f64{ model.userScale(), model.itemScale() }) |side, side_scale| {
            if (side_scale != 1) simd.scale(@floatCast(1 / side_scale), side.params);
        }
        model.user_scale_bits.store(@bitCast(@as(f64, 1)), .monotonic);
        model.item_scale_bits.store(@bitCast(@as(f64, 1)), .monotonic);
    }
};

/// One stored interaction as an epoch visits it.
pub const Example = extern struct {
    user: u32,
    item: u32,
    /// The interaction's value y.
    value: f32,
    weight: f32,
};

/// One epoch: every stored interaction once, in an order shuffled from the
/// seed; `weights[nz]` is nonzero nz's sample weight. Parameters and
/// optimiser state are updated in place; on return every scale is 1.
///
/// The interactions are first copied into one array of examples and that
/// array is shuffled, so a step reads its interaction from the next 16 bytes
/// instead of four arrays at a random position; the rows a step will touch
/// are prefetched a few examples ahead (prefetchAhead).
pub fn epoch(
    allocator: std.mem.Allocator,
    pool: *ThreadPool,
    model: *Model,
    weights: []const f32,
) Error!Counts {
    const interactions = model.interactions;
    const nnz = interactions.nnz();
    assert(weights.len == nnz);
    if (nnz == 0) return .{};
    const examples = try allocator.alloc(Example, nnz);
    defer allocator.free(examples);
    const values = interactions.values();
    const cancellation = status.cancellation();
    for (0..interactions.rowCount()) |user| {
        if (user % 4096 == 0 and cancellation.requested()) return .{};
        const range = interactions.rowRange(user);
        for (range.start..range.end) |nz| {
            examples[nz] = .{ .user = @intCast(user), .item = @intCast(interactions.indices[nz]), .value = values[nz], .weight = weights[nz] };
        }
    }
    // The shuffle's stream is the last one: the chunks use 0, 1, ...
    var shuffle_prng = random.stream(model.options.seed, std.math.maxInt(u64));
    random.shuffle(Example, &shuffle_prng, examples, cancellation);

    const n_workers = if (model.options.deterministic) 1 else pool.threadCount();
    const floats = try allocator.alloc(f32, n_workers * 4 * model.columns);
    defer allocator.free(floats);
    const kos_per_worker = @max(model.options.kos_n, 1);
    const kos = try allocator.alloc(Model.Draw, n_workers * kos_per_worker);
    defer allocator.free(kos);

    var context: EpochContext = .{
        .model = model,
        .examples = examples,
        .floats = floats,
        .kos = kos,
        .kos_per_worker = kos_per_worker,
        .n_chunks = hogwild.chunkCount(nnz, chunk_examples_min),
        .cancellation = cancellation,
    };
    hogwild.run(pool, context.n_chunks, model.options.seed, model.options.deterministic, &context, EpochContext.runChunk);
    model.regularize();
    var total: Counts = .{};
    for (context.counts[0..context.n_chunks]) |counts| {
        total.updates += counts.updates;
        total.skipped += counts.skipped;
    }
    assert(total.updates + total.skipped == nnz or status.cancellation().requested());
    return total;
}

/// How far ahead (in examples) each level of a step's data is prefetched:
/// the rows' starts first, then the feature lists, then the parameter rows.
const prefetch_starts_ahead = 12;
const prefetch_features_ahead = 6;
const prefetch_params_ahead = 3;
/// Negatives are drawn this many examples ahead (and, for bpr, resolved from
/// their stored entry `predraw_resolve_ahead` ahead) in a ring of this size.
const predraw_ahead = 12;
const predraw_resolve_ahead = 8;
const predraw_ring = 16;
/// Features per row whose parameter rows are prefetched, at most.
const prefetch_features_max = 4;

const EpochContext = struct {
    model: *Model,
    examples: []const Example,
    floats: []f32,
    kos: []Model.Draw,
    kos_per_worker: usize,
    n_chunks: usize,
    /// The caller's flag, polled by every chunk.
    cancellation: status.Cancellation,
    /// Zero for a chunk a cancelled call skipped.
    counts: [hogwild.chunk_count_max]Counts = @splat(.{}),

    fn scratchOf(context: *EpochContext, worker_index: usize) Model.Scratch {
        const columns = context.model.columns;
        const floats = context.floats[worker_index * 4 * columns ..][0 .. 4 * columns];
        return .{
            .user = floats[0..columns],
            .positive = floats[columns .. 2 * columns],
            .negative = floats[2 * columns .. 3 * columns],
            .gradient = floats[3 * columns .. 4 * columns],
            .kos = context.kos[worker_index * context.kos_per_worker ..][0..context.kos_per_worker],
        };
    }

    /// Steps the chunk's examples in order. For the sampling losses each
    /// example's first negative is drawn `predraw_ahead` examples early and
    /// its rows prefetched level by level (the stored entry, the item's
    /// feature list, its parameters), so the step finds them in cache.
    fn runChunk(context: *EpochContext, chunk_index: usize, worker_index: usize, prng: *Prng) void {
        const range = hogwild.chunkRange(context.examples.len, context.n_chunks, chunk_index);
        const examples = context.examples[range.start..range.end];
        const scratch = context.scratchOf(worker_index);
        const model = context.model;
        const predraw = model.options.loss != .logistic;
        const popular = model.options.loss == .bpr;
        // Slot e % predraw_ring: a stored entry's position (bpr) until it is
        // resolved into an item, or an item (warp, k-OS).
        var ring: [predraw_ring]usize = undefined;
        var first: ?u32 = null;
        const source: Random = .{ .prng = prng, .first = &first };
        var counts: Counts = .{};
        var poll: status.Poll = .init(context.cancellation);
        if (predraw) {
            for (0..@min(predraw_ahead, examples.len)) |e| ring[e] = context.predrawn(prng, popular);
            for (0..@min(predraw_ahead, examples.len)) |e| {
                if (popular) ring[e] = @intCast(model.interactions.indices[ring[e]]);
            }
        }
        for (examples, 0..) |example, e| {
            context.prefetchAhead(examples, e);
            if (predraw) {
                if (e + predraw_ahead < examples.len) {
                    ring[(e + predraw_ahead) % predraw_ring] = context.predrawn(prng, popular);
                }
                if (popular and e + predraw_resolve_ahead < examples.len and e + predraw_resolve_ahead >= predraw_ahead) {
                    const slot = &ring[(e + predraw_resolve_ahead) % predraw_ring];
                    slot.* = @intCast(model.interactions.indices[slot.*]);
                    prefetch(&model.items.features.indptr[slot.*]);
                }
                if (e + prefetch_features_ahead < examples.len) {
                    prefetchFeatureList(model.items.features, ring[(e + prefetch_features_ahead) % predraw_ring]);
                }
                if (e + prefetch_params_ahead < examples.len) {
                    prefetchParams(model.items, ring[(e + prefetch_params_ahead) % predraw_ring], model.columns);
                }
                first = @intCast(ring[e % predraw_ring]);
            }
            if (model.step(example, scratch, source, &poll)) {
                counts.updates += 1;
            } else {
                if (poll.stopped) break;
                counts.skipped += 1;
            }
        }
        context.counts[chunk_index] = counts;
    }

    /// A negative drawn ahead: a stored entry's position (bpr, prefetched)
    /// or a uniform item (its feature row start prefetched).
    inline fn predrawn(context: *const EpochContext, prng: *Prng, popular: bool) usize {
        const model = context.model;
        if (popular) {
            const position = negatives.popularPosition(prng, model.interactions);
            prefetch(&model.interactions.indices[position]);
            return position;
        }
        const item = negatives.uniform(prng, model.nItems());
        prefetch(&model.items.features.indptr[item]);
        return item;
    }

    /// Prefetches, for the examples ahead of e, each level of what their
    /// steps read once the level before has arrived.
    inline fn prefetchAhead(context: *const EpochContext, examples: []const Example, e: usize) void {
        const model = context.model;
        if (e + prefetch_starts_ahead < examples.len) {
            const ahead = examples[e + prefetch_starts_ahead];
            prefetch(&model.users.features.indptr[ahead.user]);
            prefetch(&model.items.features.indptr[ahead.item]);
            prefetch(&model.interactions.indptr[ahead.user]);
        }
        if (e + prefetch_features_ahead < examples.len) {
            const ahead = examples[e + prefetch_features_ahead];
            prefetchFeatureList(model.users.features, ahead.user);
            prefetchFeatureList(model.items.features, ahead.item);
            const start: usize = @intCast(model.interactions.indptr[ahead.user]);
            if (start < model.interactions.nnz()) prefetch(&model.interactions.indices[start]);
        }
        if (e + prefetch_params_ahead < examples.len) {
            const ahead = examples[e + prefetch_params_ahead];
            prefetchParams(model.users, ahead.user, model.columns);
            prefetchParams(model.items, ahead.item, model.columns);
        }
    }

    inline fn prefetchFeatureList(features: Csr, entity: usize) void {
        const start: usize = @intCast(features.indptr[entity]);
        if (start < features.nnz()) {
            prefetch(&features.indices[start]);
            prefetch(&features.values()[start]);
        }
    }

    inline fn prefetchParams(side: Side, entity: usize, columns: usize) void {
        const range = side.features.rowRange(entity);
        const end = @min(range.end, range.start + prefetch_features_max);
        for (side.features.indices[range.start..end]) |feature| {
            const offset = @as(usize, @intCast(feature)) * columns;
            prefetchRow(side.params[offset..][0..columns]);
            prefetchRow(side.squares[offset..][0..columns]);
        }
    }
};

const prefetch = pipeline.prefetch;
const prefetchRow = pipeline.prefetchSlice;

/// Representations of every row of `side.features` into out [rows × columns], in parallel.
pub fn representAll(pool: *ThreadPool, side: Side, columns: usize, out: []f32) void {
    const n_rows = side.features.rowCount();
    assert(out.len == n_rows * columns);
    const Context = struct {
        side: Side,
        columns: usize,
        out: []f32,
        n_tasks: usize,
        fn runTask(context: *@This(), task_index: usize, worker_index: usize) void {
            _ = worker_index;
            const rows = @import("partition.zig").taskRows(context.side.features.indptr, 1, context.n_tasks, task_index);
            for (rows.start..rows.end) |r| {
                context.side.represent(r, context.columns, 1, context.out[r * context.columns ..][0..context.columns]);
            }
        }
    };
    var context: Context = .{
        .side = side,
        .columns = columns,
        .out = out,
        .n_tasks = @import("partition.zig").taskCount(n_rows, pool.threadCount(), 8),
    };
    pool.run(context.n_tasks, &context, Context.runTask);
}

/// Scores of (user_ids[p], item_ids[p]) pairs from the features, in parallel.
/// `scratch` holds 2 × columns floats per pool thread.
pub fn predictPairs(pool: *ThreadPool, users: Side, items: Side, columns: usize, user_ids: []const i32, item_ids: []const i32, scratch: []f32, out: []f32) void {
    assert(user_ids.len == item_ids.len and out.len == user_ids.len);
    assert(scratch.len >= pool.threadCount() * 2 * columns);
    const Context = struct {
        users: Side,
        items: Side,
        columns: usize,
        user_ids: []const i32,
        item_ids: []const i32,
        scratch: []f32,
        out: []f32,
        n_tasks: usize,
        fn runTask(context: *@This(), task_index: usize, worker_index: usize) void {
            const c = context.columns;
            const buffer = context.scratch[worker_index * 2 * c ..][0 .. 2 * c];
            const range = hogwild.chunkRange(context.out.len, context.n_tasks, task_index);
            for (range.start..range.end) |p| {
                context.users.represent(@intCast(context.user_ids[p]), c, 1, buffer[0..c]);
                context.items.represent(@intCast(context.item_ids[p]), c, 1, buffer[c..]);
                context.out[p] = score(buffer[0..c], buffer[c..]);
            }
        }
    };
    var context: Context = .{
        .users = users,
        .items = items,
        .columns = columns,
        .user_ids = user_ids,
        .item_ids = item_ids,
        .scratch = scratch,
        .out = out,
        .n_tasks = std.math.clamp(out.len / 1024, 1, hogwild.chunk_count_max),
    };
    pool.run(context.n_tasks, &context, Context.runTask);
}
