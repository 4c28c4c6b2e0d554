//! The CUDA library (cuda/, libtacit_cuda.so) seen from libtacit: its C ABI
//! (cuda/tacit_cuda.h) as extern structs and a table of functions, opened
//! with dlopen on the first GPU request — libtacit never links it, so a
//! machine without CUDA loads tacit as before. Opening checks the library's
//! ABI version and the layout of every struct (`tacit_cuda_layout`) against
//! the structs here, and keeps the reason when anything fails: "GPU
//! unavailable: <reason>" is what every GPU export answers then.

const std = @import("std");
const status = @import("../status.zig");
const Error = status.Error;

pub const abi_version = 1;

pub const Call = extern struct {
    message: [*]u8,
    message_capacity: u32,
    message_len: u32 = 0,
    cancel: ?*const u32,
    failed_row: i64 = -1,
};

pub const DeviceInfo = extern struct {
    device_count: i32 = 0,
    compute_major: i32 = 0,
    compute_minor: i32 = 0,
    multiprocessors: i32 = 0,
    driver_version: i32 = 0,
    runtime_version: i32 = 0,
    memory_free: u64 = 0,
    memory_total: u64 = 0,
    name: [256]u8 = @splat(0),
};

pub const Dtype = enum(i32) { float32 = 0, float16 = 1, bfloat16 = 2 };

pub const Csr = extern struct {
    device_indptr: ?*const i32,
    device_indices: ?*const i32,
    device_values: ?*const f32,
    n_rows: i64,
    n_cols: i64,
    nnz: i64,
    device_long_rows: ?*const i32 = null,
    n_long_rows: i64 = 0,
    long_row_nnz: i32 = 0,
    reserved: i32 = 0,
};

pub const AlsArgs = extern struct {
    ratings: Csr,
    device_x: *anyopaque,
    device_y: *const anyopaque,
    n_other: i64,
    f: i32,
    dtype: i32,
    regularization: f32,
    alpha: f32,
    confidence: i32,
    solver: i32,
    cg_steps: i32,
};

pub const TopkArgs = extern struct {
    device_queries: *const anyopaque,
    n_queries: i64,
    device_targets: *const anyopaque,
    n_targets: i64,
    f: i32,
    dtype: i32,
    k: i32,
    reserved: i32 = 0,
    exclude_indptr: ?[*]const i32,
    exclude_indices: ?[*]const i32,
    target_mask: ?[*]const u8,
    candidates: ?[*]const i32,
    n_candidates: i64,
    out_ids: [*]i32,
    out_scores: [*]f32,
    out_block_queries: i64 = 0,
};

pub const BprArgs = extern struct {
    likes: Csr,
    device_row_of: *const i32,
    device_user_factors: *anyopaque,
    device_item_factors: *anyopaque,
    f: i32,
    verify_negatives: i32,
    learning_rate: f32,
    regularization: f32,
    n_samples: i64,
    seed: u64,
    out_correct: i64 = 0,
    out_skipped: i64 = 0,
};

pub const LossArgs = extern struct {
    ratings: Csr,
    device_x: *const anyopaque,
    device_y: *const anyopaque,
    n_other: i64,
    f: i32,
    dtype: i32,
    regularization: f32,
    alpha: f32,
    confidence: i32,
    reserved: i32 = 0,
    out_objective: f64 = 0,
    out_confidence_total: f64 = 0,
};

/// The structs in tacit_cuda.h's order: `tacit_cuda_layout` lists the same.
const laid_out = .{ Call, DeviceInfo, Csr, AlsArgs, TopkArgs, BprArgs, LossArgs };

fn layoutLength() usize {
    var n: usize = 0;
    for (laid_out) |T| n += 1 + @typeInfo(T).@"struct".field_names.len;
    return n;
}

/// sizeof, then offsetof of each field, of every struct of `laid_out`.
pub const expected_layout: [layoutLength()]u64 = layout: {
    var out: [layoutLength()]u64 = undefined;
    var i: usize = 0;
    for (laid_out) |T| {
        out[i] = @sizeOf(T);
        i += 1;
        for (@typeInfo(T).@"struct".field_names) |name| {
            out[i] = @offsetOf(T, name);
            i += 1;
        }
    }
    break :layout out;
};

/// tc_status (tacit_cuda.h).
pub const CudaStatus = enum(i32) { ok = 0, unavailable = 1, out_of_memory = 2, launch = 3, invalid = 4, cancelled = 5, numerical = 6, _ };

pub const Api = struct {
    abi_version: *const fn () callconv(.c) i32,
    layout: *const fn (out: [*]u64, capacity: u32) callconv(.c) u32,
    probe: *const fn (call: *Call, out: *DeviceInfo) callconv(.c) i32,
    alloc: *const fn (call: *Call, bytes: u64, what: [*:0]const u8, out: *?*anyopaque) callconv(.c) i32,
    free: *const fn (device: ?*anyopaque) callconv(.c) void,
    memory: *const fn (call: *Call, out_free: *u64, out_total: *u64) callconv(.c) i32,
    copy: *const fn (call: *Call, to: *anyopaque, from: *const anyopaque, bytes: u64, direction: i32) callconv(.c) i32,
    upload_factors: *const fn (call: *Call, device: *anyopaque, host: [*]const f32, count: u64, dtype: i32) callconv(.c) i32,
    download_factors: *const fn (call: *Call, host: [*]f32, device: *const anyopaque, count: u64, dtype: i32) callconv(.c) i32,
    als_solve: *const fn (call: *Call, args: *const AlsArgs) callconv(.c) i32,
    als_loss: *const fn (call: *Call, args: *LossArgs) callconv(.c) i32,
    topk: *const fn (call: *Call, args: *TopkArgs) callconv(.c) i32,
    bpr_epoch: *const fn (call: *Call, args: *BprArgs) callconv(.c) i32,
};

const symbol_names = .{
    .{ "abi_version", "tacit_cuda_abi_version" },
    .{ "layout", "tacit_cuda_layout" },
    .{ "probe", "tacit_cuda_probe" },
    .{ "alloc", "tacit_cuda_alloc" },
    .{ "free", "tacit_cuda_free" },
    .{ "memory", "tacit_cuda_memory" },
    .{ "copy", "tacit_cuda_copy" },
    .{ "upload_factors", "tacit_cuda_upload_factors" },
    .{ "download_factors", "tacit_cuda_download_factors" },
    .{ "als_solve", "tacit_cuda_als_solve" },
    .{ "als_loss", "tacit_cuda_als_loss" },
    .{ "topk", "tacit_cuda_topk" },
    .{ "bpr_epoch", "tacit_cuda_bpr_epoch" },
};

/// What opening the library gave: the functions and the device, or why not.
pub const Opened = struct {
    /// The library loaded and passed the ABI checks (there may still be no device).
    loaded: bool = false,
    api: ?Api = null,
    device: DeviceInfo = .{},
    reason: [reason_capacity]u8 = undefined,
    reason_len: usize = 0,

    pub fn why(self: *const Opened) []const u8 {
        return self.reason[0..self.reason_len];
    }
};

const reason_capacity = 400;

var mutex: std.c.pthread_mutex_t = std.c.PTHREAD_MUTEX_INITIALIZER;
var opened: ?Opened = null;

/// Opens the library at `path` once per process: once a library loaded and
/// passed its checks, later calls return its result whatever their path (a
/// process has one CUDA library); a path that did not load, or loaded
/// something else, is not remembered, so a later call may name the right one.
pub fn open(path: []const u8) *const Opened {
    _ = std.c.pthread_mutex_lock(&mutex);
    defer _ = std.c.pthread_mutex_unlock(&mutex);
    if (opened) |*o| return o;
    const result = openOnce(path);
    if (!result.loaded) {
        last_failure = result;
        return &last_failure;
    }
    opened = result;
    return &opened.?;
}

/// The result of the last open whose library did not load.
var last_failure: Opened = .{};

/// The library opened earlier, else the last open that failed, else null.
pub fn current() ?*const Opened {
    _ = std.c.pthread_mutex_lock(&mutex);
    defer _ = std.c.pthread_mutex_unlock(&mutex);
    if (opened) |*o| return o;
    return if (last_failure.reason_len > 0) &last_failure else null;
}

fn unavailable(comptime format: []const u8, args: anytype) Opened {
    return unavailableLoaded(false, format, args);
}

fn unavailableLoaded(loaded: bool, comptime format: []const u8, args: anytype) Opened {
    var result: Opened = .{ .loaded = loaded };
    const text = std.fmt.bufPrint(&result.reason, format, args) catch result.reason[0..];
    result.reason_len = text.len;
    return result;
}

fn openOnce(path: []const u8) Opened {
    var path_z: [4096]u8 = undefined;
    if (path.len == 0 or path.len >= path_z.len) return unavailable("the CUDA library path is empty or too long", .{});
    // A path without '/' would make dlopen search the library path, an empty one
    // (or one cut short by a NUL) would open the program itself.
    if (std.mem.indexOfScalar(u8, path, 0) != null or std.mem.indexOfScalar(u8, path, '/') == null) {
        return unavailable("Expected the CUDA library path to contain '/' and no NUL byte but found a {d}-byte path that does not", .{path.len});
    }
    @memcpy(path_z[0..path.len], path);
    path_z[path.len] = 0;
    const handle = std.c.dlopen(@ptrCast(&path_z), .{ .NOW = true }) orelse {
        const detail: []const u8 = if (std.c.dlerror()) |e| std.mem.span(e) else "unknown error";
        return unavailable("could not load {s}: {s}", .{ path, detail });
    };
    var api: Api = undefined;
    inline for (symbol_names) |pair| {
        const symbol = std.c.dlsym(handle, pair[1]) orelse return unavailable("{s} has no symbol {s}; rebuild it (bash scripts/build_cuda.sh)", .{ path, pair[1] });
        @field(api, pair[0]) = @ptrCast(@alignCast(symbol));
    }
    const version = api.abi_version();
    if (version != abi_version) return unavailable("{s} has CUDA ABI version {d} but this libtacit expects {d}; rebuild it", .{ path, version, abi_version });
    var layout: [expected_layout.len + 1]u64 = undefined;
    const n = api.layout(&layout, layout.len);
    if (n != expected_layout.len or !std.mem.eql(u64, layout[0..n], &expected_layout)) {
        return unavailable("{s}'s struct layout differs from this libtacit's (cuda/tacit_cuda.h vs zig/gpu/cuda.zig); rebuild both", .{path});
    }
    var result: Opened = .{ .loaded = true };
    var message: [reason_capacity]u8 = undefined;
    var call: Call = .{ .message = &message, .message_capacity = message.len, .cancel = null };
    if (api.probe(&call, &result.device) != 0) return unavailableLoaded(true, "{s}", .{message[0..call.message_len]});
    result.api = api;
    return result;
}

/// A call's message buffer and cancellation flag, turning a failed status
/// into the matching tacit error with the library's message.
pub const Session = struct {
    message: [status.message_capacity_bytes]u8 = undefined,
    call: Call,

    pub fn init(session: *Session) void {
        session.call = .{ .message = &session.message, .message_capacity = session.message.len, .cancel = status.cancellation().flag };
    }

    pub fn check(session: *const Session, result: i32) Error!void {
        const text = session.message[0..session.call.message_len];
        return switch (@as(CudaStatus, @enumFromInt(result))) {
            .ok => {},
            .out_of_memory => status.fail(.out_of_memory, "{s}", .{text}),
            .cancelled => status.fail(.cancelled, "The call was cancelled by its caller (an AbortSignal fired)", .{}),
            .numerical => status.fail(.numerical, "{s}", .{text}),
            .invalid => status.fail(.internal, "GPU kernel refused its arguments: {s}", .{text}),
            else => status.fail(.device, "GPU error: {s}", .{text}),
        };
    }
};

/// The opened functions, or error.Device naming why the GPU is unavailable.
pub fn require() Error!*const Api {
    const o = current() orelse return status.fail(.device, "GPU unavailable: the CUDA library was not opened (call tacit_gpu_open first)", .{});
    if (o.api) |*api| return api;
    return status.fail(.device, "GPU unavailable: {s}", .{o.why()});
}

test "the expected layout lists every struct's size and field offsets" {
    try std.testing.expectEqual(@as(u64, @sizeOf(Call)), expected_layout[0]);
    try std.testing.expectEqual(@as(u64, 0), expected_layout[1]);
    try std.testing.expectEqual(@as(u64, 8), expected_layout[2]);
}

test "a path dlopen would search for, or one cut by a NUL, is refused and not remembered" {
    for ([_][]const u8{ "libtacit_cuda.so", "\x00\x00\x00", "" }) |path| {
        const result = open(path);
        try std.testing.expect(!result.loaded and result.api == null);
        try std.testing.expect(result.why().len > 0);
    }
    const missing = open("/nonexistent/libtacit_cuda.so");
    try std.testing.expect(std.mem.indexOf(u8, missing.why(), "could not load /nonexistent/libtacit_cuda.so") != null);
    try std.testing.expect(opened == null);
}
