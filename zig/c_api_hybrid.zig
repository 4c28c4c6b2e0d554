//! The exports of the hybrid (LightFM) model, zig/hybrid.zig. Declared and
//! checked as c_api.zig's exports are (abi/edge.zig).

const std = @import("std");
const status = @import("status.zig");
const ThreadPool = @import("ThreadPool.zig");
const csr = @import("csr.zig");
const hybrid = @import("hybrid.zig");
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
const lastOf = abi.lastOf;

const allocator = std.heap.c_allocator;

const interaction_names: csr.Names = .{ .indptr = "indptr", .indices = "indices", .data = "data" };
const user_feature_names: csr.Names = .{ .indptr = "uf_indptr", .indices = "uf_indices", .data = "uf_data" };
const item_feature_names: csr.Names = .{ .indptr = "if_indptr", .indices = "if_indices", .data = "if_data" };

/// The parameters every hybrid training export shares: the interactions
/// (values y), both feature matrices, both sides' parameters and optimiser
/// state, and the options.
const model_params = [_]abi.Param{
    count("n_users"),
    count("n_items"),
} ++ abi.csr("", "n_users", true) ++ abi.csr("uf_", "n_users", true) ++ [_]abi.Param{
    count("n_user_features"),
} ++ abi.csr("if_", "n_items", true) ++ [_]abi.Param{
    count("n_item_features"),
    count("columns"),
    output(.f32, "user_params", times(&.{ "n_user_features", "columns" })),
    output(.f32, "user_squares", times(&.{ "n_user_features", "columns" })),
    output(.f32, "user_deltas", times(&.{ "n_user_features", "columns" })),
    output(.f32, "item_params", times(&.{ "n_item_features", "columns" })),
    output(.f32, "item_squares", times(&.{ "n_item_features", "columns" })),
    output(.f32, "item_deltas", times(&.{ "n_item_features", "columns" })),
    int("loss"),
    int("schedule"),
    float("learning_rate"),
    float("rho"),
    float("epsilon"),
    float("user_alpha"),
    float("item_alpha"),
    count("max_sampled"),
    count("kos_k"),
    count("kos_n"),
};

/// One LightFM epoch (zig/hybrid.zig): every stored interaction once in a
/// seeded shuffled order, Hogwild over the pool (or in chunk order on one
/// thread with deterministic = 1), updating parameters and optimiser state in
/// place. weights[nz] is the sample weight of nonzero nz. out_counts = [interactions that stepped, skipped]. Parameters that
/// become non-finite fail the call with not_finite (the caller keeps a copy).
const hybrid_epoch_declaration: abi.Declaration = .{ .name = "tacit_hybrid_epoch", .long = true, .params = &(model_params ++ [_]abi.Param{
    input(.f32, "weights", lastOf("indptr")),
    int("seed"),
    int("deterministic"),
    output(.i32, "out_counts", fixed(2)),
}) };
pub const hybrid_epoch = edge.Export(hybrid_epoch_declaration, hybridEpoch);

fn hybridEpoch(pool: *ThreadPool, a: View(hybrid_epoch_declaration)) Error!void {
    var model = try checkedModel(pool, a);
    for (a.weights, 0..) |w, nz| {
        if (!std.math.isFinite(w) or w < 0) {
            return status.fail(.invalid_argument, "Expected weights to be finite and >= 0 but found {f} at weights[{d}]", .{ status.floatName(w), nz });
        }
    }
    model.options.seed = checks.seedOf(a.seed);
    model.options.deterministic = try checks.flag(a.deterministic, "deterministic");
    const counts = try hybrid.epoch(allocator, pool, &model, a.weights);
    try status.cancellation().check();
    try requireFiniteParams(pool, a.user_params, a.item_params, a.columns);
    a.out_counts[0] = @intCast(counts.updates);
    a.out_counts[1] = @intCast(counts.skipped);
}

/// One step of the hybrid model on the interaction (user, item) exactly as an
/// epoch takes it, with its random draws replaced by `draws` taken in order:
/// negative items for bpr and warp; for k-OS first min(n, |row|) offsets into
/// the user's row (the positives drawn), then negative items. The
/// interaction must be stored. out_counts = [1 if it stepped, draws used].
const hybrid_step_declaration: abi.Declaration = .{ .name = "tacit_hybrid_step", .parallel = false, .params = &(model_params ++ [_]abi.Param{
    int("user"),
    int("item"),
    float("weight"),
    count("n_draws"),
    input(.i32, "draws", times(&.{"n_draws"})),
    output(.i32, "out_counts", fixed(2)),
}) };
pub const hybrid_step = edge.Export(hybrid_step_declaration, hybridStep);

fn hybridStep(pool: *ThreadPool, a: View(hybrid_step_declaration)) Error!void {
    var model = try checkedModel(pool, a);
    if (a.user < 0 or a.user >= a.n_users) return status.fail(.out_of_range, "Expected user to be in 0..{d} but found {d}", .{ a.n_users -| 1, a.user });
    if (a.item < 0 or a.item >= a.n_items) return status.fail(.out_of_range, "Expected item to be in 0..{d} but found {d}", .{ a.n_items -| 1, a.item });
    const user: usize = @intCast(a.user);
    const range = model.interactions.rowRange(user);
    const nz = std.sort.binarySearch(i32, a.indices[range.start..range.end], a.item, struct {
        fn order(key: i32, x: i32) std.math.Order {
            return std.math.order(key, x);
        }
    }.order) orelse return status.fail(.invalid_argument, "Expected (user {d}, item {d}) to be a stored interaction but it is not", .{ a.user, a.item });
    try checks.requireFinite(a.weight, "weight");
    const columns = a.columns;
    var floats: [4 * (checks.factors_max + 1)]f32 = undefined;
    var kos: [256]hybrid.Model.Draw = undefined;
    if (a.kos_n > kos.len) return status.fail(.out_of_range, "Expected kos_n to be at most {d} for a single step but found {d}", .{ kos.len, a.kos_n });
    const scratch: hybrid.Model.Scratch = .{
        .user = floats[0..columns],
        .positive = floats[columns .. 2 * columns],
        .negative = floats[2 * columns .. 3 * columns],
        .gradient = floats[3 * columns .. 4 * columns],
        .kos = kos[0..@max(a.kos_n, 1)],
    };
    var next: usize = 0;
    const example: hybrid.Example = .{ .user = @intCast(user), .item = @intCast(a.item), .value = a.data[range.start + nz], .weight = a.weight };
    var poll: status.Poll = .never;
    const stepped = model.step(example, scratch, hybrid.Scripted{ .draws = a.draws, .next = &next }, &poll);
    model.regularize();
    a.out_counts[0] = @intFromBool(stepped);
    a.out_counts[1] = @intCast(next);
}

/// The checked model view shared by epoch and step.
fn checkedModel(pool: *ThreadPool, a: anytype) Error!hybrid.Model {
    try checkColumns(a.columns);
    if (a.loss < 0 or a.loss > 3) {
        return status.fail(.invalid_argument, "Expected loss to be 0 (logistic), 1 (bpr), 2 (warp) or 3 (warp-kos) but found {d}", .{a.loss});
    }
    if (a.schedule < 0 or a.schedule > 1) {
        return status.fail(.invalid_argument, "Expected schedule to be 0 (adagrad) or 1 (adadelta) but found {d}", .{a.schedule});
    }
    const loss: hybrid.Loss = @fromBackingInt(@intCast(a.loss));
    const schedule: hybrid.Schedule = @fromBackingInt(@intCast(a.schedule));
    try checks.requireNonNegative(a.learning_rate, "learning_rate");
    try checks.requireNonNegative(a.epsilon, "epsilon");
    try checks.requireNonNegative(a.user_alpha, "user_alpha");
    try checks.requireNonNegative(a.item_alpha, "item_alpha");
    if (!(a.rho > 0 and a.rho < 1)) return status.fail(.out_of_range, "Expected rho to be in (0, 1) but found {f}", .{status.floatName(a.rho)});
    if (a.max_sampled < 1) return status.fail(.out_of_range, "Expected max_sampled to be >= 1 but found {d}", .{a.max_sampled});
    if (loss == .warp_kos and (a.kos_k < 1 or a.kos_n < 1)) {
        return status.fail(.out_of_range, "Expected kos_k and kos_n to be >= 1 but found {d} and {d}", .{ a.kos_k, a.kos_n });
    }
    const interactions = try checks.checkedCsr(pool, a.indptr, a.indices, a.data, a.n_items, .strictly_increasing, interaction_names);
    const user_features = try checks.checkedCsr(pool, a.uf_indptr, a.uf_indices, a.uf_data, a.n_user_features, .any, user_feature_names);
    const item_features = try checks.checkedCsr(pool, a.if_indptr, a.if_indices, a.if_data, a.n_item_features, .any, item_feature_names);
    const columns = a.columns;
    inline for (.{ "user_params", "user_squares", "user_deltas", "item_params", "item_squares", "item_deltas" }) |name| {
        try checks.requireAllFinite(pool, @field(a, name), columns, name);
    }
    return .{
        .users = .{ .features = user_features, .params = a.user_params, .squares = a.user_squares, .deltas = a.user_deltas, .alpha = a.user_alpha },
        .items = .{ .features = item_features, .params = a.item_params, .squares = a.item_squares, .deltas = a.item_deltas, .alpha = a.item_alpha },
        .columns = columns,
        .interactions = interactions,
        .options = .{
            .loss = loss,
            .schedule = schedule,
            .learning_rate = a.learning_rate,
            .rho = a.rho,
            .epsilon = a.epsilon,
            .max_sampled = a.max_sampled,
            .kos_k = a.kos_k,
            .kos_n = a.kos_n,
            .seed = 0,
            .deterministic = true,
        },
    };
}

/// A parameter row holds at least one component and the bias.
fn checkColumns(columns: usize) Error!void {
    if (columns < 2 or columns > checks.factors_max + 1) {
        return status.fail(.out_of_range, "Expected columns (components + 1) to be in 2..{d} but found {d}", .{ checks.factors_max + 1, columns });
    }
}

fn requireFiniteParams(pool: *ThreadPool, user_params: []const f32, item_params: []const f32, columns: usize) Error!void {
    checks.requireAllFinite(pool, user_params, columns, "user_params") catch |err| {
        status.setMessage("The user feature parameters became non-finite during the epoch (the model diverged): try a smaller learningRate, or normalise the features and sample weights");
        return err;
    };
    checks.requireAllFinite(pool, item_params, columns, "item_params") catch |err| {
        status.setMessage("The item feature parameters became non-finite during the epoch (the model diverged): try a smaller learningRate, or normalise the features and sample weights");
        return err;
    };
}

/// Representations of every row of a feature matrix: out row r is
/// Σ_j w_rj θ_j over the row's features (embedding, then bias last).
const hybrid_represent_declaration: abi.Declaration = .{ .name = "tacit_hybrid_represent", .params = &([_]abi.Param{
    count("n_rows"),
} ++ abi.csr("", "n_rows", true) ++ [_]abi.Param{
    count("n_features"),
    count("columns"),
    input(.f32, "params", times(&.{ "n_features", "columns" })),
    output(.f32, "out", times(&.{ "n_rows", "columns" })),
}) };
pub const hybrid_represent = edge.Export(hybrid_represent_declaration, hybridRepresent);

fn hybridRepresent(pool: *ThreadPool, a: View(hybrid_represent_declaration)) Error!void {
    try checkColumns(a.columns);
    const features = try checks.checkedCsr(pool, a.indptr, a.indices, a.data, a.n_features, .any, .{});
    const side: hybrid.Side = .{ .features = features, .params = @constCast(a.params), .squares = &.{}, .deltas = &.{}, .alpha = 0 };
    hybrid.representAll(pool, side, a.columns, a.out);
}

/// Scores of (user_ids[p], item_ids[p]) pairs, each computed from the pair's
/// feature rows as LightFM's predict: q_u·p_i + b_u + b_i.
const hybrid_predict_declaration: abi.Declaration = .{ .name = "tacit_hybrid_predict", .params = &([_]abi.Param{
    count("n_users"),
    count("n_items"),
} ++ abi.csr("uf_", "n_users", true) ++ [_]abi.Param{
    count("n_user_features"),
} ++ abi.csr("if_", "n_items", true) ++ [_]abi.Param{
    count("n_item_features"),
    count("columns"),
    input(.f32, "user_params", times(&.{ "n_user_features", "columns" })),
    input(.f32, "item_params", times(&.{ "n_item_features", "columns" })),
    count("n_pairs"),
    input(.i32, "user_ids", times(&.{"n_pairs"})),
    input(.i32, "item_ids", times(&.{"n_pairs"})),
    output(.f32, "out_scores", times(&.{"n_pairs"})),
}) };
pub const hybrid_predict = edge.Export(hybrid_predict_declaration, hybridPredict);

fn hybridPredict(pool: *ThreadPool, a: View(hybrid_predict_declaration)) Error!void {
    try checkColumns(a.columns);
    const user_features = try checks.checkedCsr(pool, a.uf_indptr, a.uf_indices, a.uf_data, a.n_user_features, .any, user_feature_names);
    const item_features = try checks.checkedCsr(pool, a.if_indptr, a.if_indices, a.if_data, a.n_item_features, .any, item_feature_names);
    for (a.user_ids, a.item_ids, 0..) |u, i, p| {
        if (u < 0 or u >= a.n_users) return status.fail(.out_of_range, "Expected user_ids[{d}] to be in 0..{d} but found {d}", .{ p, a.n_users -| 1, u });
        if (i < 0 or i >= a.n_items) return status.fail(.out_of_range, "Expected item_ids[{d}] to be in 0..{d} but found {d}", .{ p, a.n_items -| 1, i });
    }
    const scratch = try allocator.alloc(f32, pool.threadCount() * 2 * a.columns);
    defer allocator.free(scratch);
    const users: hybrid.Side = .{ .features = user_features, .params = @constCast(a.user_params), .squares = &.{}, .deltas = &.{}, .alpha = 0 };
    const items: hybrid.Side = .{ .features = item_features, .params = @constCast(a.item_params), .squares = &.{}, .deltas = &.{}, .alpha = 0 };
    hybrid.predictPairs(pool, users, items, a.columns, a.user_ids, a.item_ids, scratch, a.out_scores);
}

// ---------------------------------------------------------------------------

const testing = std.testing;

test "an epoch on one thread in deterministic mode equals the parallel chunks run in order, and predict equals representations" {
    // 3 users × 4 items, identity features.
    const indptr = [_]i32{ 0, 2, 3, 5 };
    const indices = [_]i32{ 0, 2, 1, 0, 3 };
    const data = [_]f32{ 1, 1, 1, 1, 1 };
    const weights = [_]f32{ 1, 1, 1, 1, 1 };
    const uf_indptr = [_]i32{ 0, 1, 2, 3 };
    const uf_indices = [_]i32{ 0, 1, 2 };
    const ones = [_]f32{ 1, 1, 1, 1 };
    const if_indptr = [_]i32{ 0, 1, 2, 3, 4 };
    const if_indices = [_]i32{ 0, 1, 2, 3 };
    const columns = 3;
    var results: [2][3 * columns + 4 * columns]f32 = undefined;
    for ([_]i32{ 0, 1 }, &results) |deterministic, *result| {
        var user_params: [3 * columns]f32 = undefined;
        var item_params: [4 * columns]f32 = undefined;
        for (&user_params, 0..) |*p, i| p.* = @sin(@as(f32, @floatFromInt(i))) * 0.1;
        for (&item_params, 0..) |*p, i| p.* = @cos(@as(f32, @floatFromInt(i))) * 0.1;
        var user_squares: [3 * columns]f32 = @splat(1);
        var item_squares: [4 * columns]f32 = @splat(1);
        var user_deltas: [3 * columns]f32 = @splat(0);
        var item_deltas: [4 * columns]f32 = @splat(0);
        var counts: [2]i32 = undefined;
        const call = edge.callWithSlices(hybrid_epoch, .{
            .n_users = 3,
            .n_items = 4,
            .indptr = &indptr,
            .indices = &indices,
            .data = &data,
            .uf_indptr = &uf_indptr,
            .uf_indices = &uf_indices,
            .uf_data = ones[0..3],
            .n_user_features = 3,
            .if_indptr = &if_indptr,
            .if_indices = &if_indices,
            .if_data = &ones,
            .n_item_features = 4,
            .columns = columns,
            .user_params = &user_params,
            .user_squares = &user_squares,
            .user_deltas = &user_deltas,
            .item_params = &item_params,
            .item_squares = &item_squares,
            .item_deltas = &item_deltas,
            .loss = 2,
            .schedule = 0,
            .learning_rate = 0.05,
            .rho = 0.95,
            .epsilon = 1e-6,
            .user_alpha = 0,
            .item_alpha = 0,
            .max_sampled = 10,
            .kos_k = 5,
            .kos_n = 10,
            .weights = &weights,
            .seed = 3,
            .deterministic = deterministic,
            .out_counts = &counts,
        });
        try testing.expectEqual(0, call.status);
        try testing.expectEqual(5, counts[0] + counts[1]);
        result.* = user_params ++ item_params;

        // predict of (0, 1) equals the representations' score.
        var scores: [1]f32 = undefined;
        try testing.expectEqual(0, edge.callWithSlices(hybrid_predict, .{
            .n_users = 3,
            .n_items = 4,
            .uf_indptr = &uf_indptr,
            .uf_indices = &uf_indices,
            .uf_data = ones[0..3],
            .n_user_features = 3,
            .if_indptr = &if_indptr,
            .if_indices = &if_indices,
            .if_data = &ones,
            .n_item_features = 4,
            .columns = columns,
            .user_params = &user_params,
            .item_params = &item_params,
            .n_pairs = 1,
            .user_ids = &[_]i32{0},
            .item_ids = &[_]i32{1},
            .out_scores = &scores,
        }).status);
        const expected = user_params[0] * item_params[3] + user_params[1] * item_params[4] + user_params[2] + item_params[5];
        try testing.expectApproxEqAbs(expected, scores[0], 1e-6);
    }
    // A tiny epoch has one chunk: both modes step the same sequence.
    try testing.expectEqualSlices(f32, &results[0], &results[1]);
}
