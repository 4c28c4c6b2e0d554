//! The exports of minibatch implicit factorization (Spotlight's model),
//! zig/minibatch.zig. Declared and checked as c_api.zig's exports are
//! (abi/edge.zig).

const std = @import("std");
const status = @import("status.zig");
const ThreadPool = @import("ThreadPool.zig");
const minibatch = @import("minibatch.zig");
const abi = @import("abi/declaration.zig");
const edge = @import("abi/edge.zig");
const View = @import("abi/layout.zig").View;
const checks = @import("abi/checks.zig");
const Error = status.Error;

const count = abi.count;
const int = abi.int;
const float = abi.float;
const input = abi.input;
const output = abi.output;
const times = abi.times;
const fixed = abi.fixed;

const allocator = std.heap.c_allocator;

/// What both training exports share: the users' liked items (for verified
/// negatives), both sides' parameters and Adam moments (rows of `columns` =
/// d + 2: user [x, b, 1], item [y, 1, b]), the pairs to train on and the
/// options. `step` is the Adam step count before the call.
const model_params = [_]abi.Param{
    count("n_users"),
    count("n_items"),
} ++ abi.csr("", "n_users", false) ++ [_]abi.Param{
    count("columns"),
    output(.f32, "user_params", times(&.{ "n_users", "columns" })),
    output(.f32, "user_first", times(&.{ "n_users", "columns" })),
    output(.f32, "user_second", times(&.{ "n_users", "columns" })),
    output(.f32, "item_params", times(&.{ "n_items", "columns" })),
    output(.f32, "item_first", times(&.{ "n_items", "columns" })),
    output(.f32, "item_second", times(&.{ "n_items", "columns" })),
    count("n_pairs"),
    output(.i32, "pairs", .{ .product = &.{"n_pairs"}, .scale = 2 }),
    int("loss"),
    int("optimizer"),
    count("batch_size"),
    count("n_negatives"),
    int("verify_negatives"),
    float("learning_rate"),
    float("beta1"),
    float("beta2"),
    float("epsilon"),
    float("l2"),
    count("step"),
};

/// One epoch of minibatch factorization (zig/minibatch.zig): shuffles the
/// (user, item) pairs in place, then one Adam step per batch of batch_size
/// pairs, the first with step count step + 1. out_loss = the mean over
/// batches of the batch-mean loss (Spotlight's epoch loss).
const minibatch_epoch_declaration: abi.Declaration = .{ .name = "tacit_minibatch_epoch", .long = true, .params = &(model_params ++ [_]abi.Param{
    int("seed"),
    int("deterministic"),
    output(.f64, "out_loss", fixed(1)),
}) };
pub const minibatch_epoch = edge.Export(minibatch_epoch_declaration, minibatchEpoch);

fn minibatchEpoch(pool: *ThreadPool, a: View(minibatch_epoch_declaration)) Error!void {
    var model = try checkedModel(pool, a);
    if (a.n_pairs == 0) return status.fail(.out_of_range, "Expected at least one pair to train on but found none", .{});
    model.options.seed = checks.seedOf(a.seed);
    model.options.deterministic = try checks.flag(a.deterministic, "deterministic");
    const loss = minibatch.epoch(allocator, pool, &model, pairsOf(a.pairs), a.step) catch return status.fail(.out_of_memory, "Out of memory for the epoch's gradient scratch", .{});
    try status.cancellation().check();
    a.out_loss[0] = loss;
}

/// One minibatch exactly as an epoch steps it, without the shuffle and with
/// its negatives given: draws[p · n_negatives + k] is pair p's k-th negative.
/// Takes Adam step step + 1. out_loss = the batch-mean loss; the gradients
/// of that loss with respect to every row (before the step; zero for rows the
/// batch did not touch and at the constant columns' places where a gradient
/// exists but is never applied) go to out_user_gradients / out_item_gradients.
const minibatch_step_declaration: abi.Declaration = .{ .name = "tacit_minibatch_step", .params = &(model_params ++ [_]abi.Param{
    input(.i32, "draws", times(&.{ "n_pairs", "n_negatives" })),
    output(.f64, "out_loss", fixed(1)),
    output(.f32, "out_user_gradients", times(&.{ "n_users", "columns" })),
    output(.f32, "out_item_gradients", times(&.{ "n_items", "columns" })),
}) };
pub const minibatch_step = edge.Export(minibatch_step_declaration, minibatchStep);

fn minibatchStep(pool: *ThreadPool, a: View(minibatch_step_declaration)) Error!void {
    var model = try checkedModel(pool, a);
    if (a.n_pairs == 0 or a.n_pairs > a.batch_size) {
        return status.fail(.out_of_range, "Expected a batch of 1..{d} pairs (batch_size) but found {d}", .{ a.batch_size, a.n_pairs });
    }
    for (a.draws, 0..) |item, k| {
        if (item < 0 or item >= a.n_items) return status.fail(.out_of_range, "Expected draws[{d}] to be an item in 0..{d} but found {d}", .{ k, a.n_items -| 1, item });
    }
    var scratch = minibatch.Scratch.init(allocator, &model) catch return status.fail(.out_of_memory, "Out of memory for the batch's gradient scratch", .{});
    defer scratch.deinit(allocator);
    var draws: minibatch.ScriptedDraws = .{ .items = a.draws };
    var poll: status.Poll = .never;
    a.out_loss[0] = minibatch.batchGradient(&model, &scratch, pairsOf(a.pairs), &draws, &poll);
    scatter(scratch.user_rows[0..scratch.n_user_rows], scratch.user_gradients, a.columns, a.out_user_gradients);
    scatter(scratch.item_rows[0..scratch.n_item_rows], scratch.item_gradients, a.columns, a.out_item_gradients);
    switch (model.options.optimizer) {
        .lazy_adam => minibatch.lazyStep(&model, &scratch, a.step + 1),
        .adam => minibatch.denseStep(pool, &model, &scratch, a.step + 1),
    }
}

fn scatter(rows: []const u32, gradients: []const f32, columns: usize, out: []f32) void {
    @memset(out, 0);
    for (rows, 0..) |row, slot| @memcpy(out[row * columns ..][0..columns], gradients[slot * columns ..][0..columns]);
}

fn pairsOf(values: []i32) []minibatch.Pair {
    const pairs: [*]minibatch.Pair = @ptrCast(values.ptr);
    return pairs[0 .. values.len / 2];
}

/// The checked model view both exports share.
fn checkedModel(pool: *ThreadPool, a: anytype) Error!minibatch.Model {
    if (a.columns < 3 or a.columns > checks.factors_max + 2) {
        return status.fail(.out_of_range, "Expected columns (embedding dimension + 2) to be in 3..{d} but found {d}", .{ checks.factors_max + 2, a.columns });
    }
    if (a.loss < 0 or a.loss > 3) {
        return status.fail(.invalid_argument, "Expected loss to be 0 (pointwise), 1 (bpr), 2 (hinge) or 3 (adaptive hinge) but found {d}", .{a.loss});
    }
    if (a.optimizer < 0 or a.optimizer > 1) {
        return status.fail(.invalid_argument, "Expected optimizer to be 0 (adam) or 1 (lazy adam) but found {d}", .{a.optimizer});
    }
    const loss: minibatch.Loss = @fromBackingInt(@intCast(a.loss));
    if (a.batch_size < 1) return status.fail(.out_of_range, "Expected batch_size to be >= 1 but found {d}", .{a.batch_size});
    if (a.n_negatives < 1 or (loss != .adaptive_hinge and a.n_negatives != 1)) {
        return status.fail(.out_of_range, "Expected n_negatives to be 1 (>= 1 for adaptive hinge) but found {d}", .{a.n_negatives});
    }
    if (!(a.learning_rate > 0 and std.math.isFinite(a.learning_rate))) {
        return status.fail(.out_of_range, "Expected learning_rate to be finite and > 0 but found {f}", .{status.floatName(a.learning_rate)});
    }
    inline for (.{ "beta1", "beta2" }) |name| {
        const beta = @field(a, name);
        if (!(beta >= 0 and beta < 1)) return status.fail(.out_of_range, "Expected " ++ name ++ " to be in [0, 1) but found {f}", .{status.floatName(beta)});
    }
    if (!(a.epsilon > 0 and std.math.isFinite(a.epsilon))) {
        return status.fail(.out_of_range, "Expected epsilon to be finite and > 0 but found {f}", .{status.floatName(a.epsilon)});
    }
    try checks.requireNonNegative(a.l2, "l2");
    const verify = try checks.flag(a.verify_negatives, "verify_negatives");
    const likes = try checks.checkedCsr(pool, a.indptr, a.indices, null, a.n_items, .strictly_increasing, .{});
    const columns = a.columns;
    inline for (.{ "user_params", "user_first", "user_second", "item_params", "item_first", "item_second" }) |name| {
        try checks.requireAllFinite(pool, @field(a, name), columns, name);
    }
    inline for (.{ "user_second", "item_second" }) |name| {
        for (@field(a, name), 0..) |v, k| {
            if (v < 0) return status.fail(.out_of_range, "Expected " ++ name ++ " (Adam's second moments) to be >= 0 but found {f} at " ++ name ++ "[{d}]", .{ status.floatName(v), k });
        }
    }
    var p: usize = 0;
    while (p < a.n_pairs) : (p += 1) {
        const user = a.pairs[2 * p];
        const item = a.pairs[2 * p + 1];
        if (user < 0 or user >= a.n_users) return status.fail(.out_of_range, "Expected the user of pair {d} (pairs[{d}]) to be in 0..{d} but found {d}", .{ p, 2 * p, a.n_users -| 1, user });
        if (item < 0 or item >= a.n_items) return status.fail(.out_of_range, "Expected the item of pair {d} (pairs[{d}]) to be in 0..{d} but found {d}", .{ p, 2 * p + 1, a.n_items -| 1, item });
    }
    const d = columns - 2;
    return .{
        .columns = columns,
        .users = .{ .params = a.user_params, .first = a.user_first, .second = a.user_second, .fixed_column = d + 1 },
        .items = .{ .params = a.item_params, .first = a.item_first, .second = a.item_second, .fixed_column = d },
        .likes = likes,
        .options = .{
            .loss = loss,
            .optimizer = @fromBackingInt(@intCast(a.optimizer)),
            .batch_size = a.batch_size,
            .n_negatives = a.n_negatives,
            .verify_negatives = verify,
            .learning_rate = a.learning_rate,
            .beta1 = a.beta1,
            .beta2 = a.beta2,
            .epsilon = a.epsilon,
            .l2 = a.l2,
        },
    };
}
