//! The GPU exports: libtacit's boundary in front of the CUDA library
//! (zig/gpu/cuda.zig). Device memory lives behind handles of two kinds — a
//! factor matrix (`gpu_factors`: rows × f of a storage dtype) and a sparse
//! matrix (`gpu_csr`, checked on the host before its upload) — released by
//! tacit_handle_release like every native object. Every argument is checked
//! here, as for the CPU exports (abi/edge.zig), before the CUDA library sees
//! it; its failures come back as this call's status and message.

const std = @import("std");
const status = @import("status.zig");
const ThreadPool = @import("ThreadPool.zig");
const csr = @import("csr.zig");
const abi = @import("abi/declaration.zig");
const edge = @import("abi/edge.zig");
const handles = @import("abi/handles.zig");
const View = @import("abi/layout.zig").View;
const checks = @import("abi/checks.zig");
const cuda = @import("gpu/cuda.zig");
const Error = status.Error;

const count = abi.count;
const int = abi.int;
const float = abi.float;
const input = abi.input;
const optionalInput = abi.optionalInput;
const output = abi.output;
const times = abi.times;
const fixed = abi.fixed;
const handle = abi.handle;
const allocator = std.heap.c_allocator;

/// A rows × f factor matrix in device memory, stored as `dtype`.
pub const GpuFactors = struct {
    api: *const cuda.Api,
    device: *anyopaque,
    rows: usize,
    f: usize,
    dtype: cuda.Dtype,

    fn destroy(erased: *anyopaque) void {
        const self: *GpuFactors = @ptrCast(@alignCast(erased));
        self.api.free(self.device);
        allocator.destroy(self);
    }

    fn elementBytes(self: *const GpuFactors) usize {
        return if (self.dtype == .float32) 4 else 2;
    }
};

/// A CSR matrix in device memory; `row_of` (the row of every stored entry,
/// for the BPR sampler) only when it was asked for.
pub const GpuCsr = struct {
    api: *const cuda.Api,
    indptr: *anyopaque,
    indices: *anyopaque,
    values: ?*anyopaque,
    row_of: ?*anyopaque,
    /// Rows of more than long_row_nnz entries, ascending (null when none).
    long_rows: ?*anyopaque,
    n_long_rows: usize,
    n_rows: usize,
    n_cols: usize,
    nnz: usize,

    /// Entries from which a row is long: the ALS kernels give it a block of
    /// 32 warps instead of 4 (cuda/als.cu).
    const long_row_nnz = 4096;

    fn destroy(erased: *anyopaque) void {
        const self: *GpuCsr = @ptrCast(@alignCast(erased));
        self.api.free(self.indptr);
        self.api.free(self.indices);
        self.api.free(self.values);
        self.api.free(self.row_of);
        self.api.free(self.long_rows);
        allocator.destroy(self);
    }

    fn view(self: *const GpuCsr) cuda.Csr {
        return .{
            .device_indptr = @ptrCast(@alignCast(self.indptr)),
            .device_indices = @ptrCast(@alignCast(self.indices)),
            .device_values = if (self.values) |v| @ptrCast(@alignCast(v)) else null,
            .n_rows = @intCast(self.n_rows),
            .n_cols = @intCast(self.n_cols),
            .nnz = @intCast(self.nnz),
            .device_long_rows = if (self.long_rows) |rows| @ptrCast(@alignCast(rows)) else null,
            .n_long_rows = @intCast(self.n_long_rows),
            .long_row_nnz = long_row_nnz,
        };
    }
};

fn dtypeOf(code: i32) Error!cuda.Dtype {
    return switch (code) {
        0 => .float32,
        1 => .float16,
        2 => .bfloat16,
        else => status.fail(.invalid_argument, "Expected dtype to be 0 (float32), 1 (float16) or 2 (bfloat16) but found {d}", .{code}),
    };
}

fn deviceAlloc(api: *const cuda.Api, bytes: usize, comptime what: [:0]const u8) Error!*anyopaque {
    var session: cuda.Session = undefined;
    session.init();
    var out: ?*anyopaque = null;
    try session.check(api.alloc(&session.call, bytes, what, &out));
    return out orelse status.fail(.internal, "GPU allocation of " ++ what ++ " returned null", .{});
}

fn upload(api: *const cuda.Api, to: *anyopaque, bytes: []const u8) Error!void {
    if (bytes.len == 0) return;
    var session: cuda.Session = undefined;
    session.init();
    try session.check(api.copy(&session.call, to, bytes.ptr, bytes.len, 0));
}

// ---------------------------------------------------------------------------

/// Opens the CUDA library at `path` (once per process; later calls report
/// the first result) and says whether a device is usable: out_available[0] =
/// 1 with a JSON description of device 0 in out_info, else 0 with the reason.
const open_declaration: abi.Declaration = .{ .name = "tacit_gpu_open", .parallel = false, .params = &.{
    input(.u8, "path", times(&.{"path_bytes"})),
    count("path_bytes"),
    output(.i32, "out_available", fixed(1)),
    output(.u8, "out_info", fixed(info_capacity)),
    output(.i32, "out_info_bytes", fixed(1)),
} };
pub const open = edge.Export(open_declaration, openImpl);
const info_capacity = 1024;

fn openImpl(_: *ThreadPool, a: View(open_declaration)) Error!void {
    const opened = cuda.open(a.path);
    var writer: std.Io.Writer = .fixed(a.out_info);
    if (opened.api == null) {
        a.out_available[0] = 0;
        writer.writeAll(opened.why()) catch {};
    } else {
        const d = opened.device;
        const name = std.mem.sliceTo(&d.name, 0);
        a.out_available[0] = 1;
        writer.print("{{\"name\":\"{s}\",\"computeCapability\":\"{d}.{d}\",\"multiprocessors\":{d},\"memoryTotal\":{d},\"memoryFree\":{d},\"driver\":\"{d}.{d}\",\"runtime\":\"{d}.{d}\",\"devices\":{d}}}", .{
            name,                         d.compute_major,            d.compute_minor, d.multiprocessors, d.memory_total, d.memory_free,
            @divTrunc(d.driver_version, 1000), @divTrunc(@mod(d.driver_version, 1000), 10), @divTrunc(d.runtime_version, 1000),
            @divTrunc(@mod(d.runtime_version, 1000), 10), d.device_count,
        }) catch {};
    }
    a.out_info_bytes[0] = @intCast(writer.end);
}

/// Device memory now: out[0] bytes free, out[1] bytes in all.
const memory_declaration: abi.Declaration = .{ .name = "tacit_gpu_memory", .parallel = false, .params = &.{
    output(.u64, "out", fixed(2)),
} };
pub const memory = edge.Export(memory_declaration, memoryImpl);

fn memoryImpl(_: *ThreadPool, a: View(memory_declaration)) Error!void {
    const api = try cuda.require();
    var session: cuda.Session = undefined;
    session.init();
    try session.check(api.memory(&session.call, &a.out[0], &a.out[1]));
}

/// A rows × f factor matrix on the device, filled from `values` (float32,
/// converted to `dtype`: 0 float32, 1 float16, 2 bfloat16).
const factors_create_declaration: abi.Declaration = .{ .name = "tacit_gpu_factors_create", .parallel = false, .params = &.{
    input(.f32, "values", times(&.{ "rows", "f" })),
    count("rows"),
    count("f"),
    int("dtype"),
    output(.u64, "out_handle", fixed(1)),
} };
pub const factors_create = edge.Export(factors_create_declaration, factorsCreate);

fn factorsCreate(pool: *ThreadPool, a: View(factors_create_declaration)) Error!void {
    const api = try cuda.require();
    const f = try checks.factorCount(a.f);
    const dtype = try dtypeOf(a.dtype);
    try checks.requireAllFinite(pool, a.values, f, "values");
    const object = try allocator.create(GpuFactors);
    errdefer allocator.destroy(object);
    object.* = .{ .api = api, .device = undefined, .rows = a.rows, .f = f, .dtype = dtype };
    object.device = try deviceAlloc(api, a.rows * f * object.elementBytes(), "a factor matrix");
    errdefer api.free(object.device);
    var session: cuda.Session = undefined;
    session.init();
    try session.check(api.upload_factors(&session.call, object.device, a.values.ptr, a.values.len, @intFromEnum(dtype)));
    a.out_handle[0] = try handles.register(.gpu_factors, object, GpuFactors.destroy);
}

/// Copies rows [first_row, first_row + n_rows) of a device factor matrix:
/// direction 0 writes `values` to the device, 1 reads the device into `values`.
const factors_copy_declaration: abi.Declaration = .{ .name = "tacit_gpu_factors_copy", .parallel = false, .params = &.{
    handle("matrix", .gpu_factors),
    count("first_row"),
    count("n_rows"),
    count("f"),
    int("direction"),
    output(.f32, "values", times(&.{ "n_rows", "f" })),
} };
pub const factors_copy = edge.Export(factors_copy_declaration, factorsCopy);

fn factorsCopy(pool: *ThreadPool, a: View(factors_copy_declaration)) Error!void {
    const matrix = a.matrix.as(GpuFactors);
    if (a.f != matrix.f) return status.fail(.invalid_argument, "Expected f = {d} (the matrix's factors) but found {d}", .{ matrix.f, a.f });
    if (a.first_row > matrix.rows or a.n_rows > matrix.rows - a.first_row) {
        return status.fail(.out_of_range, "Expected first_row + n_rows = {d} + {d} to be at most the matrix's {d} rows", .{ a.first_row, a.n_rows, matrix.rows });
    }
    const offset = a.first_row * matrix.f * matrix.elementBytes();
    const device: *anyopaque = @ptrFromInt(@intFromPtr(matrix.device) + offset);
    var session: cuda.Session = undefined;
    session.init();
    switch (a.direction) {
        0 => {
            try checks.requireAllFinite(pool, a.values, matrix.f, "values");
            try session.check(matrix.api.upload_factors(&session.call, device, a.values.ptr, a.values.len, @intFromEnum(matrix.dtype)));
        },
        1 => try session.check(matrix.api.download_factors(&session.call, a.values.ptr, device, a.values.len, @intFromEnum(matrix.dtype))),
        else => return status.fail(.invalid_argument, "Expected direction to be 0 (to the GPU) or 1 (from the GPU) but found {d}", .{a.direction}),
    }
}

/// A CSR matrix on the device, checked first (indptr from 0, non-decreasing;
/// columns in range; with `sorted`, strictly increasing within rows; values
/// finite); with_row_of also stores each entry's row (BPR's sampler).
const csr_create_declaration: abi.Declaration = .{ .name = "tacit_gpu_csr_create", .params = &([_]abi.Param{
    count("n_rows"),
    count("n_cols"),
    input(.i32, "indptr", abi.plusOne("n_rows")),
    input(.i32, "indices", abi.lastOf("indptr")),
    optionalInput(.f32, "data", abi.lastOf("indptr")),
    int("sorted"),
    int("with_row_of"),
    output(.u64, "out_handle", fixed(1)),
}) };
pub const csr_create = edge.Export(csr_create_declaration, csrCreate);

fn csrCreate(pool: *ThreadPool, a: View(csr_create_declaration)) Error!void {
    const api = try cuda.require();
    const sorted = try checks.flag(a.sorted, "sorted");
    const with_row_of = try checks.flag(a.with_row_of, "with_row_of");
    const matrix = try checks.checkedCsr(pool, a.indptr, a.indices, a.data, a.n_cols, if (sorted) .strictly_increasing else .any, .{});
    const nnz = matrix.nnz();
    const object = try allocator.create(GpuCsr);
    errdefer allocator.destroy(object);
    object.* = .{ .api = api, .indptr = undefined, .indices = undefined, .values = null, .row_of = null, .long_rows = null, .n_long_rows = 0, .n_rows = a.n_rows, .n_cols = a.n_cols, .nnz = nnz };
    object.indptr = try deviceAlloc(api, a.indptr.len * 4, "a sparse matrix's row pointers");
    errdefer api.free(object.indptr);
    object.indices = try deviceAlloc(api, nnz * 4, "a sparse matrix's column ids");
    errdefer api.free(object.indices);
    try upload(api, object.indptr, std.mem.sliceAsBytes(a.indptr));
    try upload(api, object.indices, std.mem.sliceAsBytes(a.indices[0..nnz]));
    // Freed with the object on any later failure (free accepts null).
    errdefer api.free(object.values);
    errdefer api.free(object.row_of);
    errdefer api.free(object.long_rows);
    if (a.data) |data| {
        object.values = try deviceAlloc(api, nnz * 4, "a sparse matrix's values");
        try upload(api, object.values.?, std.mem.sliceAsBytes(data[0..nnz]));
    }
    if (with_row_of) {
        const rows = try allocator.alloc(i32, nnz);
        defer allocator.free(rows);
        for (0..a.n_rows) |r| @memset(rows[@intCast(a.indptr[r])..@intCast(a.indptr[r + 1])], @intCast(r));
        object.row_of = try deviceAlloc(api, nnz * 4, "a sparse matrix's row of each entry");
        try upload(api, object.row_of.?, std.mem.sliceAsBytes(rows));
    }
    var long_rows: std.ArrayList(i32) = .empty;
    defer long_rows.deinit(allocator);
    for (0..a.n_rows) |r| {
        if (a.indptr[r + 1] - a.indptr[r] > GpuCsr.long_row_nnz) try long_rows.append(allocator, @intCast(r));
    }
    if (long_rows.items.len > 0) {
        object.long_rows = try deviceAlloc(api, long_rows.items.len * 4, "a sparse matrix's long rows");
        object.n_long_rows = long_rows.items.len;
        try upload(api, object.long_rows.?, std.mem.sliceAsBytes(long_rows.items));
    }
    a.out_handle[0] = try handles.register(.gpu_csr, object, GpuCsr.destroy);
}

fn checkSides(ratings: *const GpuCsr, x: *const GpuFactors, y: *const GpuFactors) Error!void {
    if (ratings.values == null) return status.fail(.invalid_argument, "Expected ratings to be a GPU matrix with values but found one without", .{});
    if (x.rows != ratings.n_rows) return status.fail(.invalid_argument, "Expected x to have {d} rows (the ratings' rows) but found {d}", .{ ratings.n_rows, x.rows });
    if (y.rows != ratings.n_cols) return status.fail(.invalid_argument, "Expected y to have {d} rows (the ratings' columns) but found {d}", .{ ratings.n_cols, y.rows });
    if (x.f != y.f) return status.fail(.invalid_argument, "Expected x and y to have the same factors but found {d} and {d}", .{ x.f, y.f });
    if (x.dtype != y.dtype) return status.fail(.invalid_argument, "Expected x and y to have the same dtype but found {s} and {s}", .{ @tagName(x.dtype), @tagName(y.dtype) });
}

fn checkedWeighting(regularization: f32, alpha: f32, confidence: i32) Error!void {
    try checks.requireNonNegative(regularization, "regularization");
    try checks.requireNonNegative(alpha, "alpha");
    if (confidence != 0 and confidence != 1) return status.fail(.invalid_argument, "Expected confidence to be 0 (alpha·v) or 1 (1 + alpha·v) but found {d}", .{confidence});
}

/// One ALS half-sweep on the device (zig/als.zig's `solve`, cuda/als.cu):
/// every row of x given y. solver 0 = conjugate gradient from the current
/// x (cg_steps steps), 1 = Cholesky.
const als_solve_declaration: abi.Declaration = .{ .name = "tacit_gpu_als_solve", .long = true, .parallel = false, .params = &.{
    handle("ratings", .gpu_csr),
    handle("x", .gpu_factors),
    handle("y", .gpu_factors),
    int("solver"),
    count("cg_steps"),
    float("regularization"),
    float("alpha"),
    int("confidence"),
} };
pub const als_solve = edge.Export(als_solve_declaration, alsSolve);

fn alsSolve(_: *ThreadPool, a: View(als_solve_declaration)) Error!void {
    const ratings = a.ratings.as(GpuCsr);
    const x = a.x.as(GpuFactors);
    const y = a.y.as(GpuFactors);
    try checkSides(ratings, x, y);
    try checkedWeighting(a.regularization, a.alpha, a.confidence);
    if (a.solver != 0 and a.solver != 1) return status.fail(.invalid_argument, "Expected solver to be 0 (conjugate gradient) or 1 (Cholesky) but found {d}", .{a.solver});
    var session: cuda.Session = undefined;
    session.init();
    const args: cuda.AlsArgs = .{
        .ratings = ratings.view(),
        .device_x = x.device,
        .device_y = y.device,
        .n_other = @intCast(y.rows),
        .f = @intCast(x.f),
        .dtype = @intFromEnum(x.dtype),
        .regularization = a.regularization,
        .alpha = a.alpha,
        .confidence = a.confidence,
        .solver = a.solver,
        .cg_steps = @intCast(a.cg_steps),
    };
    try session.check(x.api.als_solve(&session.call, &args));
}

/// The ALS loss on the device (zig/als.zig's `loss`): out[0] the objective,
/// out[1] the total confidence.
const als_loss_declaration: abi.Declaration = .{ .name = "tacit_gpu_als_loss", .long = true, .parallel = false, .params = &.{
    handle("ratings", .gpu_csr),
    handle("x", .gpu_factors),
    handle("y", .gpu_factors),
    float("regularization"),
    float("alpha"),
    int("confidence"),
    output(.f64, "out", fixed(2)),
} };
pub const als_loss = edge.Export(als_loss_declaration, alsLoss);

fn alsLoss(_: *ThreadPool, a: View(als_loss_declaration)) Error!void {
    const ratings = a.ratings.as(GpuCsr);
    const x = a.x.as(GpuFactors);
    const y = a.y.as(GpuFactors);
    try checkSides(ratings, x, y);
    try checkedWeighting(a.regularization, a.alpha, a.confidence);
    var session: cuda.Session = undefined;
    session.init();
    var args: cuda.LossArgs = .{
        .ratings = ratings.view(),
        .device_x = x.device,
        .device_y = y.device,
        .n_other = @intCast(y.rows),
        .f = @intCast(x.f),
        .dtype = @intFromEnum(x.dtype),
        .regularization = a.regularization,
        .alpha = a.alpha,
        .confidence = a.confidence,
    };
    try session.check(x.api.als_loss(&session.call, &args));
    a.out[0] = args.out_objective;
    a.out[1] = args.out_confidence_total;
}

/// The most results per query the GPU ranks (cuda/topk.cu's shared-memory sort).
pub const gpu_k_max = 2048;

/// Exact top-k by inner product of host `queries` against a device factor
/// matrix, with the CPU's filters and result order (tacit_topk_dot).
const topk_declaration: abi.Declaration = .{ .name = "tacit_gpu_topk", .long = true, .parallel = false, .params = &([_]abi.Param{
    input(.f32, "queries", times(&.{ "n_q", "f" })),
    count("n_q"),
    handle("items", .gpu_factors),
    count("n_items"),
    count("f"),
    optionalInput(.i32, "exclude_indptr", abi.plusOne("n_q")),
    input(.i32, "exclude_indices", abi.lastOf("exclude_indptr")),
} ++ abi.rankedOutputs("n_items", "n_q")) };
pub const topk = edge.Export(topk_declaration, topkImpl);

fn topkImpl(pool: *ThreadPool, a: View(topk_declaration)) Error!void {
    const items = a.items.as(GpuFactors);
    if (a.n_items != items.rows) return status.fail(.invalid_argument, "Expected n_items = {d} (the GPU matrix's rows) but found {d}", .{ items.rows, a.n_items });
    if (a.f != items.f) return status.fail(.invalid_argument, "Expected f = {d} (the GPU matrix's factors) but found {d}", .{ items.f, a.f });
    const k = try checks.resultCount(a.k);
    if (k > gpu_k_max) return status.fail(.out_of_range, "Expected k to be at most {d} on the GPU but found {d}", .{ gpu_k_max, k });
    try checks.checkCandidates(a.candidates, a.n_items);
    if (a.exclude_indptr) |indptr| {
        _ = try checks.checkedCsr(pool, indptr, a.exclude_indices, null, a.n_items, .any, .{ .indptr = "exclude_indptr", .indices = "exclude_indices" });
    }
    try checks.requireAllFinite(pool, a.queries, items.f, "queries");
    if (a.n_q == 0) return;
    const queries = try allocator.create(GpuFactors);
    queries.* = .{ .api = items.api, .device = undefined, .rows = a.n_q, .f = items.f, .dtype = items.dtype };
    queries.device = deviceAlloc(items.api, a.n_q * items.f * items.elementBytes(), "the query rows") catch |err| {
        allocator.destroy(queries);
        return err;
    };
    defer GpuFactors.destroy(queries);
    var session: cuda.Session = undefined;
    session.init();
    try session.check(items.api.upload_factors(&session.call, queries.device, a.queries.ptr, a.queries.len, @intFromEnum(items.dtype)));
    var args: cuda.TopkArgs = .{
        .device_queries = queries.device,
        .n_queries = @intCast(a.n_q),
        .device_targets = items.device,
        .n_targets = @intCast(items.rows),
        .f = @intCast(items.f),
        .dtype = @intFromEnum(items.dtype),
        .k = @intCast(k),
        .exclude_indptr = if (a.exclude_indptr) |p| p.ptr else null,
        .exclude_indices = if (a.exclude_indptr != null) a.exclude_indices.ptr else null,
        .target_mask = if (a.item_mask) |m| m.ptr else null,
        .candidates = if (a.candidates) |c| c.ptr else null,
        .n_candidates = if (a.candidates) |c| @intCast(c.len) else 0,
        .out_ids = a.out_ids.ptr,
        .out_scores = a.out_scores.ptr,
    };
    try session.check(items.api.topk(&session.call, &args));
}

/// One BPR epoch on the device (zig/bpr.zig's sampling and step, Hogwild
/// over warps): `likes` must have been created sorted and with_row_of.
/// out_counts: samples ranked right before their step, samples skipped.
const bpr_epoch_declaration: abi.Declaration = .{ .name = "tacit_gpu_bpr_epoch", .long = true, .parallel = false, .params = &.{
    handle("likes", .gpu_csr),
    handle("user_factors", .gpu_factors),
    handle("item_factors", .gpu_factors),
    float("learning_rate"),
    float("regularization"),
    int("verify_negatives"),
    int("seed"),
    count("n_samples"),
    output(.i32, "out_counts", fixed(2)),
} };
pub const bpr_epoch = edge.Export(bpr_epoch_declaration, bprEpoch);

fn bprEpoch(_: *ThreadPool, a: View(bpr_epoch_declaration)) Error!void {
    const likes = a.likes.as(GpuCsr);
    const users = a.user_factors.as(GpuFactors);
    const items = a.item_factors.as(GpuFactors);
    const row_of = likes.row_of orelse return status.fail(.invalid_argument, "Expected likes to be a GPU matrix created with with_row_of = 1", .{});
    if (users.rows != likes.n_rows or items.rows != likes.n_cols) {
        return status.fail(.invalid_argument, "Expected user_factors and item_factors to have {d} and {d} rows (the likes' shape) but found {d} and {d}", .{ likes.n_rows, likes.n_cols, users.rows, items.rows });
    }
    if (users.f != items.f) return status.fail(.invalid_argument, "Expected user_factors and item_factors to have the same factors but found {d} and {d}", .{ users.f, items.f });
    if (users.dtype != .float32 or items.dtype != .float32) return status.fail(.invalid_argument, "Expected float32 factors for BPR on the GPU but found {s}", .{@tagName(users.dtype)});
    try checks.requireNonNegative(a.learning_rate, "learning_rate");
    try checks.requireNonNegative(a.regularization, "regularization");
    const verify = try checks.flag(a.verify_negatives, "verify_negatives");
    if (likes.nnz == 0 and a.n_samples > 0) return status.fail(.out_of_range, "Expected a matrix with at least one nonzero to draw {d} samples from but found none", .{a.n_samples});
    var session: cuda.Session = undefined;
    session.init();
    var args: cuda.BprArgs = .{
        .likes = likes.view(),
        .device_row_of = @ptrCast(@alignCast(row_of)),
        .device_user_factors = users.device,
        .device_item_factors = items.device,
        .f = @intCast(users.f),
        .verify_negatives = @intFromBool(verify),
        .learning_rate = a.learning_rate,
        .regularization = a.regularization,
        .n_samples = @intCast(a.n_samples),
        .seed = checks.seedOf(a.seed),
    };
    try session.check(users.api.bpr_epoch(&session.call, &args));
    a.out_counts[0] = @intCast(args.out_correct);
    a.out_counts[1] = @intCast(args.out_skipped);
}
