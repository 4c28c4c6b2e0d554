//! The core exports of libtacit: checks, ALS, top-k and ranking metrics.
//! Each export is declared here once (abi/declaration.zig: name, parameters,
//! the length of every buffer) next to its implementation; abi/table.zig lists
//! every export, abi/edge.zig generates the C function and checks counts and
//! buffer lengths before an implementation runs, and lib/native/symbols.ts is
//! generated from the description of the same table.
//!
//! Implementations receive a `View`: counts as usize, buffers as slices of
//! exactly their declared length. What they still check themselves is content:
//! ranges, orderings, finiteness. Every error becomes a status with a message
//! in the caller's context. Nothing panics across the boundary.

const std = @import("std");
const status = @import("status.zig");
const ThreadPool = @import("ThreadPool.zig");
const csr = @import("csr.zig");
const finite = @import("finite.zig");
const linalg = @import("linalg.zig");
const als = @import("als.zig");
const topk = @import("topk.zig");
const topk_bf16 = @import("topk_bf16.zig");
const metrics = @import("metrics.zig");
const abi = @import("abi/declaration.zig");
const edge = @import("abi/edge.zig");
const View = @import("abi/layout.zig").View;
const checks = @import("abi/checks.zig");
const Error = status.Error;

const count = abi.count;
const int = abi.int;
const float = abi.float;
const input = abi.input;
const optionalInput = abi.optionalInput;
const output = abi.output;
const times = abi.times;
const plusOne = abi.plusOne;
const fixed = abi.fixed;
const lastOf = abi.lastOf;

/// Conjugate-gradient steps per row: 1..cg_steps_max. CG reaches the exact
/// solution of a row's f×f system in at most f steps, and f <= factors_max,
/// so more steps never help (the models refuse more as `cgSteps`).
pub const cg_steps_max = checks.factors_max;

const allocator = std.heap.c_allocator;

comptime {
    std.debug.assert(@sizeOf(c_int) == @sizeOf(i32));
    std.debug.assert(@backingInt(status.Status.internal) == -6);
}

/// Validates a CSR matrix: indptr[0] = 0, indptr non-decreasing, every index
/// in [0, n_cols) and strictly increasing within a row, every value finite.
const csr_check_declaration: abi.Declaration = .{ .name = "tacit_csr_check", .params = &([_]abi.Param{
    count("n_rows"),
    count("n_cols"),
} ++ abi.csr("", "n_rows", false) ++ [_]abi.Param{
    optionalInput(.f32, "data", lastOf("indptr")),
}) };
pub const csr_check = edge.Export(csr_check_declaration, csrCheck);

fn csrCheck(pool: *ThreadPool, a: View(csr_check_declaration)) Error!void {
    _ = try checks.checkedCsr(pool, a.indptr, a.indices, a.data, a.n_cols, .strictly_increasing, .{});
}

/// Counts NaN and infinite values into out_count[0].
const count_nonfinite_declaration: abi.Declaration = .{ .name = "tacit_count_nonfinite", .params = &.{
    input(.f32, "values", times(&.{"len"})),
    count("len"),
    output(.i32, "out_count", fixed(1)),
} };
pub const count_nonfinite = edge.Export(count_nonfinite_declaration, countNonFinite);

fn countNonFinite(pool: *ThreadPool, a: View(count_nonfinite_declaration)) Error!void {
    const found = finite.countNonFinite(pool, a.values);
    a.out_count[0] = @intCast(@min(found, std.math.maxInt(i32)));
}

/// Gram matrix with a ridge: out = Fᵀ F + ridge · I.
const gram_declaration: abi.Declaration = .{ .name = "tacit_gram", .params = &.{
    input(.f32, "factors", times(&.{ "n", "f" })),
    count("n"),
    count("f"),
    float("ridge"),
    output(.f32, "out", times(&.{ "f", "f" })),
} };
pub const gram = edge.Export(gram_declaration, gramImpl);

fn gramImpl(pool: *ThreadPool, a: View(gram_declaration)) Error!void {
    const f = try checks.factorCount(a.f);
    try checks.requireFinite(a.ridge, "ridge");
    try checks.requireAllFinite(pool, a.factors, f, "factors");
    try linalg.gram(allocator, pool, a.factors, f, a.ridge, a.out);
}

/// One ALS half-sweep (Hu, Koren & Volinsky 2008, eq. 4): for every row u,
/// x_u = (YᵀY + Yᵀ(C_u − I)Y + λI)⁻¹ Yᵀ C_u p(u), with p = [v > 0] and, for a
/// stored value v, c = alpha·|v| (confidence 0, Python implicit's rule) or
/// c = 1 + alpha·|v| (confidence 1, the paper's). solver 0 = conjugate
/// gradient (Takács et al. 2011) warm-started from x, cg_steps steps; 1 = Cholesky.
const als_solve_declaration: abi.Declaration = .{ .name = "tacit_als_solve", .long = true, .params = &([_]abi.Param{
    int("solver"),
    int("cg_steps"),
    count("n_rows"),
} ++ abi.csr("", "n_rows", true) ++ [_]abi.Param{
    output(.f32, "x", times(&.{ "n_rows", "f" })),
    input(.f32, "y", times(&.{ "n_other", "f" })),
    count("n_other"),
    count("f"),
    float("regularization"),
    float("alpha"),
    int("confidence"),
}) };
pub const als_solve = edge.Export(als_solve_declaration, alsSolve);

fn alsSolve(pool: *ThreadPool, a: View(als_solve_declaration)) Error!void {
    const solver: als.Solver = switch (a.solver) {
        0 => .conjugate_gradient,
        1 => .cholesky,
        else => return status.fail(.invalid_argument, "Expected solver to be 0 (conjugate gradient) or 1 (Cholesky) but found {d}", .{a.solver}),
    };
    const cg_steps: usize = if (solver == .cholesky) 0 else steps: {
        if (a.cg_steps < 1 or a.cg_steps > cg_steps_max) {
            return status.fail(.out_of_range, "Expected cg_steps to be in 1..{d} but found {d}", .{ cg_steps_max, a.cg_steps });
        }
        break :steps @intCast(a.cg_steps);
    };
    const weighting = try checkWeighting(a.regularization, a.alpha, a.confidence);
    const f = try checks.factorCount(a.f);
    const ratings = try checks.checkedCsr(pool, a.indptr, a.indices, a.data, a.n_other, .any, .{});
    try checks.requireAllFinite(pool, a.y, f, "y");
    if (solver == .conjugate_gradient) try checks.requireAllFinite(pool, a.x, f, "x");
    try als.solve(allocator, pool, ratings, a.x, a.y, f, .{
        .solver = solver,
        .cg_steps = cg_steps,
        .weighting = weighting,
    });
}

/// The ALS objective Σ c (p − x·y)² + λ(‖X‖² + ‖Y‖²) over every pair, and
/// Σ c: out = [objective, confidence total]; confidence as for tacit_als_solve.
const als_loss_declaration: abi.Declaration = .{ .name = "tacit_als_loss", .long = true, .params = &([_]abi.Param{
    count("n_rows"),
} ++ abi.csr("", "n_rows", true) ++ [_]abi.Param{
    input(.f32, "x", times(&.{ "n_rows", "f" })),
    input(.f32, "y", times(&.{ "n_other", "f" })),
    count("n_other"),
    count("f"),
    float("regularization"),
    float("alpha"),
    int("confidence"),
    output(.f64, "out", fixed(2)),
}) };
pub const als_loss = edge.Export(als_loss_declaration, alsLoss);

fn alsLoss(pool: *ThreadPool, a: View(als_loss_declaration)) Error!void {
    const weighting = try checkWeighting(a.regularization, a.alpha, a.confidence);
    const f = try checks.factorCount(a.f);
    const ratings = try checks.checkedCsr(pool, a.indptr, a.indices, a.data, a.n_other, .any, .{});
    try checks.requireAllFinite(pool, a.x, f, "x");
    try checks.requireAllFinite(pool, a.y, f, "y");
    const result = try als.loss(allocator, pool, ratings, a.x, a.y, f, weighting);
    a.out[0] = result.objective;
    a.out[1] = result.confidence_total;
}

/// Top-k by dot product, one query per row, in parallel: score descending,
/// ties by id ascending; an item is skipped when it is in the query's row of
/// the exclusion CSR, when item_mask[item] != 0, or when a candidate list is
/// given and lacks it. Short rows are padded with −1 / −Infinity.
const topk_dot_declaration: abi.Declaration = .{
    .name = "tacit_topk_dot",
    .params = &([_]abi.Param{
        input(.f32, "queries", times(&.{ "n_q", "f" })),
        count("n_q"),
        input(.f32, "items", times(&.{ "n_items", "f" })),
        count("n_items"),
        count("f"),
        optionalInput(.i32, "exclude_indptr", plusOne("n_q")),
        input(.i32, "exclude_indices", lastOf("exclude_indptr")),
    } ++ abi.rankedOutputs("n_items", "n_q") ++ [_]abi.Param{
        // 0: the float32 path; 1: the bf16 candidate pass where the CPU grants
        // AMX-BF16 (the same results bit for bit; float32 elsewhere); 2: auto,
        // the candidate pass when it is available and the batch is large enough.
        int("precision"),
        // Which ran: 0 float32, 1 the bf16 candidate pass.
        output(.i32, "out_path", fixed(1)),
    }),
};
pub const topk_dot = edge.Export(topk_dot_declaration, topkDot);

/// Queries from which auto takes the candidate pass: converting the items
/// to bf16 costs about as much as scoring 300 queries in float32, so it
/// pays from about 600 (292K × 64 items, one thread).
const bf16_auto_queries_min = 1024;

fn topkDot(pool: *ThreadPool, a: View(topk_dot_declaration)) Error!void {
    const f = try checks.factorCount(a.f);
    const k = try checks.resultCount(a.k);
    try checks.checkCandidates(a.candidates, a.n_items);
    const exclude_names: csr.Names = .{ .indptr = "exclude_indptr", .indices = "exclude_indices" };
    const exclusions: ?csr.Csr = if (a.exclude_indptr) |indptr|
        try checks.checkedCsr(pool, indptr, a.exclude_indices, null, a.n_items, .non_decreasing, exclude_names)
    else
        null;
    try checks.requireAllFinite(pool, a.queries, f, "queries");
    const problem: topk.Problem = .{
        .queries = a.queries,
        .items = a.items,
        .f = f,
        .filter = .init(a.n_items, .{ .item_mask = a.item_mask, .candidates = a.candidates, .exclusions = exclusions }),
        .k = k,
        .out_ids = a.out_ids,
        .out_scores = a.out_scores,
    };
    if (a.precision < 0 or a.precision > 2) return status.fail(.invalid_argument, "Expected precision to be 0 (float32), 1 (bf16 candidates) or 2 (auto) but found {d}", .{a.precision});
    const wants_bf16 = a.precision == 1 or (a.precision == 2 and a.n_q >= bf16_auto_queries_min);
    const kernel = if (wants_bf16) topk_bf16.fastestKernel() else null;
    a.out_path[0] = @intFromBool(kernel != null);
    const result = if (kernel) |bf16_kernel| topk_bf16.topkDot(allocator, pool, &problem, bf16_kernel, null) else topk.topkDot(allocator, pool, &problem);
    result catch |err| switch (err) {
        error.OutOfMemory => return error.OutOfMemory,
        // Name the first non-finite item value (the kernel only saw that one exists).
        error.NonFiniteItem => {
            try checks.requireAllFinite(pool, a.items, f, "items");
            return status.fail(.not_finite, "Expected items to be finite but found a NaN or infinite value", .{});
        },
    };
}

/// Ranking metrics at k, one user per row (zig/metrics.zig): row u of top_ids
/// is user u's recommendations (padded with −1; the first min(width, k)
/// count), row u of the test CSR its held-out items. Writes 8 values per user:
/// hits, min(k, |T|), recall, average precision, ndcg, auc, reciprocal rank, |T|.
const ranking_metrics_declaration: abi.Declaration = .{ .name = "tacit_ranking_metrics", .params = &([_]abi.Param{
    input(.i32, "top_ids", times(&.{ "n_users", "width" })),
    count("n_users"),
    count("width"),
    count("k"),
} ++ abi.csr("test_", "n_users", false) ++ [_]abi.Param{
    count("n_items"),
    output(.f64, "out", .{ .product = &.{"n_users"}, .scale = metrics.column_count }),
}) };
pub const ranking_metrics = edge.Export(ranking_metrics_declaration, rankingMetrics);

fn rankingMetrics(pool: *ThreadPool, a: View(ranking_metrics_declaration)) Error!void {
    if (a.k < 1) return status.fail(.out_of_range, "Expected k to be >= 1 but found {d}", .{a.k});
    if (a.width > a.k) return status.fail(.out_of_range, "Expected width to be <= k = {d} but found {d}", .{ a.k, a.width });
    try metrics.checkTopIds(a.top_ids, a.n_items);
    const test_names: csr.Names = .{ .indptr = "test_indptr", .indices = "test_indices" };
    const tests = try checks.checkedCsr(pool, a.test_indptr, a.test_indices, null, a.n_items, .strictly_increasing, test_names);
    const problem: metrics.Problem = .{
        .top_ids = a.top_ids,
        .width = a.width,
        .k = a.k,
        .tests = tests,
        .n_items = a.n_items,
        .out = a.out,
    };
    try metrics.rankingMetrics(allocator, pool, &problem);
}

// ---------------------------------------------------------------------------
// Checks shared by the ALS exports.

fn checkWeighting(regularization: f32, alpha: f32, confidence: i32) Error!als.Weighting {
    try checks.requireNonNegative(regularization, "regularization");
    try checks.requireNonNegative(alpha, "alpha");
    const rule: als.Confidence = switch (confidence) {
        0 => .alpha_value,
        1 => .one_plus_alpha_value,
        else => return status.fail(.invalid_argument, "Expected confidence to be 0 (c = alpha·|v|) or 1 (c = 1 + alpha·|v|) but found {d}", .{confidence}),
    };
    return .{ .regularization = regularization, .alpha = alpha, .rule = rule };
}

// ---------------------------------------------------------------------------

const testing = std.testing;
const callForTest = edge.callWithSlices;
const withField = edge.withField;

fn expectFailure(expected_status: c_int, expected_message: []const u8, result: edge.SliceCallResult) !void {
    try testing.expectEqualStrings(expected_message, result.message());
    try testing.expectEqual(expected_status, result.status);
}

test "exports validate their arguments and name them" {
    const indptr = [_]i32{ 0, 1, 3 };
    const indices = [_]i32{ 2, 0, 17 };
    const data = [_]f32{ 1, 2, 3 };
    try expectFailure(-2, "indices[2] = 17 is out of range for 5 columns", callForTest(csr_check, .{ .n_rows = 2, .n_cols = 5, .indptr = &indptr, .indices = &indices, .data = &data }));
    try expectFailure(-1, "Expected indices to be a buffer of 3 elements but found null", callForTest(csr_check, .{ .n_rows = 2, .n_cols = 5, .indptr = &indptr, .data = null }));
    try expectFailure(-1, "Expected indices to have 3 elements (the last entry of indptr) but found 2", callForTest(csr_check, .{ .n_rows = 2, .n_cols = 50, .indptr = &indptr, .indices = indices[0..2], .data = null }));
    try expectFailure(-1, "Expected indptr to have 4 elements (n_rows + 1) but found 3", callForTest(csr_check, .{ .n_rows = 3, .n_cols = 50, .indptr = &indptr, .indices = &indices, .data = null }));
    try expectFailure(-2, "Expected n_rows to be >= 0 but found -1", callForTest(csr_check, .{ .n_rows = -1, .n_cols = 50, .indptr = &indptr, .indices = &indices }));
    try testing.expectEqual(0, callForTest(csr_check, .{ .n_rows = 2, .n_cols = 50, .indptr = &indptr, .indices = &indices, .data = null }).status);

    var x: [2 * 4]f32 = @splat(0.1);
    const y: [50 * 4]f32 = @splat(0.2);
    const solve = .{ .solver = 0, .cg_steps = 3, .n_rows = 2, .indptr = &indptr, .indices = &indices, .data = &data, .x = &x, .y = &y, .n_other = 50, .f = 4, .regularization = 0.1, .alpha = 1, .confidence = 1 };
    try testing.expectEqual(0, callForTest(als_solve, solve).status);
    try expectFailure(-3, "Expected regularization to be finite but found NaN", callForTest(als_solve, withField(solve, "regularization", std.math.nan(f32))));
    try expectFailure(-2, "Expected f to be in 1..1024 but found 0", callForTest(als_solve, .{ .solver = 0, .cg_steps = 3, .n_rows = 2, .indptr = &indptr, .indices = &indices, .data = &data, .x = x[0..0], .y = y[0..0], .n_other = 50, .f = 0, .regularization = 0.1, .alpha = 1, .confidence = 1 }));
    try expectFailure(-1, "Expected x to have 8 elements (n_rows × f) but found 7", callForTest(als_solve, withField(solve, "x", x[0..7])));
    try testing.expectEqual(-1, callForTest(als_solve, withField(solve, "solver", 2)).status);
    try expectFailure(-1, "Expected y to have 40 elements (n_other × f) but found 200", callForTest(als_solve, withField(solve, "n_other", 10)));
    try testing.expectEqual(0, callForTest(als_solve, withField(solve, "solver", 1)).status);
    var loss: [2]f64 = undefined;
    const loss_call = .{ .n_rows = 2, .indptr = &indptr, .indices = &indices, .data = &data, .x = &x, .y = &y, .n_other = 50, .f = 4, .regularization = 0.1, .alpha = 1, .confidence = 1, .out = &loss };
    const loss_result = callForTest(als_loss, loss_call);
    try testing.expectEqual(0, loss_result.status);
    try testing.expectApproxEqRel(@as(f64, 100 + 6), loss[1], 1e-9);
    // c = alpha·|v|: the three stored cells weigh 1 + 2 + 3 instead of 1 each.
    try testing.expectEqual(0, callForTest(als_loss, withField(loss_call, "confidence", 0)).status);
    try testing.expectApproxEqRel(@as(f64, 97 + 6), loss[1], 1e-9);
    try expectFailure(-1, "Expected confidence to be 0 (c = alpha·|v|) or 1 (c = 1 + alpha·|v|) but found 2", callForTest(als_solve, withField(solve, "confidence", 2)));

    var nonfinite = [_]i32{-1};
    const values = [_]f32{ 1, std.math.inf(f32), std.math.nan(f32) };
    try testing.expectEqual(0, callForTest(count_nonfinite, .{ .values = &values, .len = 3, .out_count = &nonfinite }).status);
    try testing.expectEqual(2, nonfinite[0]);

    var out_ids: [2 * 3]i32 = undefined;
    var out_scores: [2 * 3]f32 = undefined;
    const queries: [2 * 4]f32 = @splat(1);
    var path: [1]i32 = undefined;
    const query = .{ .queries = &queries, .n_q = 2, .items = &y, .n_items = 50, .f = 4, .exclude_indptr = null, .exclude_indices = null, .item_mask = null, .candidates = null, .n_cand = 0, .k = 3, .out_ids = &out_ids, .out_scores = &out_scores, .precision = 1, .out_path = &path };
    try expectFailure(-1, "Expected out_ids to have 0 elements (n_q × k) but found 6", callForTest(topk_dot, withField(query, "k", 0)));
    try expectFailure(-2, "Expected k to be >= 1 but found 0", callForTest(topk_dot, .{ .queries = &queries, .n_q = 2, .items = &y, .n_items = 50, .f = 4, .k = 0, .out_ids = out_ids[0..0], .out_scores = out_scores[0..0], .out_path = &path }));
    const candidates = [_]i32{ 3, 2 };
    try testing.expectEqual(-1, callForTest(topk_dot, withField(withField(query, "candidates", &candidates), "n_cand", 2)).status);
    const exclude_indptr = [_]i32{ 0, 1, 1 };
    const exclude_indices = [_]i32{2};
    const two = [_]i32{ 2, 3 };
    const filtered = .{ .queries = &queries, .n_q = 2, .items = &y, .n_items = 50, .f = 4, .exclude_indptr = &exclude_indptr, .exclude_indices = &exclude_indices, .item_mask = null, .candidates = &two, .n_cand = 2, .k = 3, .out_ids = &out_ids, .out_scores = &out_scores, .precision = 0, .out_path = &path };
    for ([_]i32{ 0, 1, 2 }) |precision| {
        try testing.expectEqual(0, callForTest(topk_dot, withField(filtered, "precision", precision)).status);
        try testing.expectEqualSlices(i32, &.{ 3, -1, -1, 2, 3, -1 }, &out_ids);
        try testing.expectEqual(@intFromBool(precision == 1 and topk_bf16.fastestKernel() != null), path[0]);
    }
    try expectFailure(-1, "Expected precision to be 0 (float32), 1 (bf16 candidates) or 2 (auto) but found 3", callForTest(topk_dot, withField(filtered, "precision", 3)));
    try expectFailure(-1, "Expected exclude_indices to have 1 elements (the last entry of exclude_indptr) but found 0", callForTest(topk_dot, withField(filtered, "exclude_indices", exclude_indices[0..0])));

    const test_indptr = [_]i32{ 0, 1, 1 };
    const test_indices = [_]i32{3};
    var metric_rows: [2 * 8]f64 = undefined;
    const rank = .{ .top_ids = &out_ids, .n_users = 2, .width = 3, .k = 3, .test_indptr = &test_indptr, .test_indices = &test_indices, .n_items = 50, .out = &metric_rows };
    try testing.expectEqual(0, callForTest(ranking_metrics, rank).status);
    try testing.expectEqual(1, metric_rows[0]); // user 0's list [3, -1, -1] hits item 3
    try expectFailure(-1, "Expected out to have 16 elements (8 × n_users) but found 14", callForTest(ranking_metrics, withField(rank, "out", metric_rows[0..14])));
    try expectFailure(-2, "Expected width to be <= k = 2 but found 3", callForTest(ranking_metrics, withField(rank, "k", 2)));
    try expectFailure(-2, "top_ids[0] = 3 is out of range for 3 items (-1 marks padding)", callForTest(ranking_metrics, withField(rank, "n_items", 3)));
    const unsorted = [_]i32{ 0, 2, 2 };
    const repeated = [_]i32{ 4, 4 };
    try expectFailure(-1, "Expected the column indices of row 0 to be strictly increasing but found test_indices[1] = 4 after test_indices[0] = 4", callForTest(ranking_metrics, withField(withField(rank, "test_indptr", &unsorted), "test_indices", &repeated)));
    try expectFailure(-1, "Expected out to be a buffer of 16 elements but found null", callForTest(ranking_metrics, withField(rank, "out", null)));
    var y_nan = y;
    y_nan[4 * 7 + 2] = std.math.nan(f32);
    try expectFailure(-3, "Expected items to be finite but found NaN at items[30] (row 7, factor 2)", callForTest(topk_dot, withField(query, "items", &y_nan)));
}

test "a call reports the threads it was limited to" {
    const values: [4096]f32 = @splat(1);
    var found = [_]i32{0};
    const result = edge.callWithSlicesLimited(count_nonfinite, .{ .values = &values, .len = 4096, .out_count = &found }, 1);
    try testing.expectEqual(0, result.status);
    try testing.expectEqual(1, result.context.threads_used);
}
