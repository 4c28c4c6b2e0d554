//! Status codes of the C ABI and the message of a failing call.
//!
//! Every export returns a `Status`; a failing call writes its message into the
//! caller's `Context` for that call (edge.zig routes it there with
//! `beginCall`), so concurrent calls never see each other's errors. The route
//! is thread-local: the message is written on the thread that runs the call,
//! which is also the thread that later reads the context back (Deno's
//! nonblocking calls run on a worker thread, and the context travels with the
//! call). Outside an export (Zig tests, the benchmark) messages go to a
//! thread-local fallback that `lastMessage` reads.

const std = @import("std");

/// The values mirror `Status` in lib/native/symbols.ts.
pub const Status = enum(c_int) {
    ok = 0,
    /// An argument has the wrong type, shape or layout (TypeError).
    invalid_argument = -1,
    /// An index or count is outside its allowed range (RangeError).
    out_of_range = -2,
    /// A float input is NaN or infinite (RangeError).
    not_finite = -3,
    /// The native allocator failed.
    out_of_memory = -4,
    /// A matrix that is not positive definite, a solve that diverged.
    numerical = -5,
    /// A bug in tacit.
    internal = -6,
    /// The caller asked the call to stop (Context.cancel_requested) and it did.
    cancelled = -7,
    /// The GPU is unavailable, or a CUDA call or kernel failed (zig/gpu/).
    device = -8,
};

/// The error set every kernel returns; `statusOf` maps it onto `Status`.
pub const Error = error{
    InvalidArgument,
    OutOfRange,
    NotFinite,
    OutOfMemory,
    Numerical,
    Internal,
    Cancelled,
    Device,
};

pub fn statusOf(err: Error) Status {
    return switch (err) {
        error.InvalidArgument => .invalid_argument,
        error.OutOfRange => .out_of_range,
        error.NotFinite => .not_finite,
        error.OutOfMemory => .out_of_memory,
        error.Numerical => .numerical,
        error.Internal => .internal,
        error.Cancelled => .cancelled,
        error.Device => .device,
    };
}

fn errorOf(status: Status) Error {
    return switch (status) {
        .ok => unreachable,
        .invalid_argument => error.InvalidArgument,
        .out_of_range => error.OutOfRange,
        .not_finite => error.NotFinite,
        .out_of_memory => error.OutOfMemory,
        .numerical => error.Numerical,
        .internal => error.Internal,
        .cancelled => error.Cancelled,
        .device => error.Device,
    };
}

pub const message_capacity_bytes = 512;

/// What a caller passes with every call, and what comes back besides the
/// status. Mirrors `Context` in lib/native/checked.ts (its layout is described
/// to TypeScript by describe.zig and checked at load).
pub const Context = extern struct {
    /// declaration.abi_version of the caller.
    abi_version: u32,
    /// @sizeOf(Context) as the caller laid it out.
    context_size: u32,
    /// In: the most threads this call may use; 0 = every thread of the pool.
    thread_limit: u32,
    /// Out: the threads the call's parallel work ran on.
    threads_used: u32,
    /// Out: bytes of `message` (UTF-8) written by a failing call.
    message_len: u32,
    /// In, read while the call runs: the caller sets it nonzero (an
    /// AbortSignal fired) to ask a long call to stop at its next check.
    cancel_requested: u32,
    message: [message_capacity_bytes]u8,
};

pub fn emptyContext(thread_limit: u32) Context {
    return .{
        .abi_version = @import("abi/declaration.zig").abi_version,
        .context_size = @sizeOf(Context),
        .thread_limit = thread_limit,
        .threads_used = 0,
        .message_len = 0,
        .cancel_requested = 0,
        .message = undefined,
    };
}

threadlocal var current: ?*Context = null;
threadlocal var fallback: Context = .{
    .abi_version = 0,
    .context_size = 0,
    .thread_limit = 0,
    .threads_used = 0,
    .message_len = 0,
    .cancel_requested = 0,
    .message = undefined,
};

/// Routes this thread's messages into `context` until `endCall`; returns the
/// previous route (calls do not nest today, but restoring keeps it exact).
pub fn beginCall(context: *Context) ?*Context {
    const previous = current;
    context.message_len = 0;
    context.threads_used = 0;
    current = context;
    return previous;
}

pub fn endCall(previous: ?*Context) void {
    current = previous;
}

/// A way for a long call's parallel work to see whether its caller asked it
/// to stop: the calling thread takes it (`cancellation()`) before the work
/// starts and the pool's threads poll it (the context's route is
/// thread-local to the calling thread).
pub const Cancellation = struct {
    flag: ?*const u32,

    pub const never: Cancellation = .{ .flag = null };

    pub fn requested(self: Cancellation) bool {
        const flag = self.flag orelse return false;
        return @atomicLoad(u32, flag, .monotonic) != 0;
    }

    /// error.Cancelled with a message when the caller asked to stop.
    pub fn check(self: Cancellation) Error!void {
        if (self.requested()) return fail(.cancelled, "The call was cancelled by its caller (an AbortSignal fired)", .{});
    }
};

/// The cancellation of the call this thread is running, or `never`.
pub fn cancellation() Cancellation {
    const context = current orelse return .never;
    return .{ .flag = &context.cancel_requested };
}

/// Cancellation checks spaced by work instead of by iterations, for loops
/// whose iterations differ widely in cost (the rows of a power-law matrix, a
/// WARP step that samples many negatives). Each task (each worker's share of
/// a job) keeps its own Poll; `stop(work)` adds the work just done or about
/// to be done, in units of about a multiply-add or one float touched, and
/// reads the caller's flag (one monotonic load) once `work_per_check` units
/// have passed since the last read. A check therefore costs nothing next to
/// the work it spaces, and a cancelled call stops within about a millisecond
/// of one thread's work. Once it has seen the flag the poll stays stopped,
/// so nested loops can all break on it.
pub const Poll = struct {
    cancellation: Cancellation,
    work_since_check: u64 = 0,
    stopped: bool = false,

    /// 2^20 units: ~0.05 ms of SIMD multiply-adds, ~1 ms of scattered gathers.
    pub const work_per_check: u64 = 1 << 20;

    pub const never: Poll = .{ .cancellation = .never };

    /// A poll whose first `stop` reads the flag, so a task that starts after
    /// the caller asked to stop does no work.
    pub fn init(from: Cancellation) Poll {
        return .{ .cancellation = from, .work_since_check = work_per_check };
    }

    /// Counts `work` units; true when the caller asked the call to stop.
    pub inline fn stop(poll: *Poll, work: u64) bool {
        poll.work_since_check +|= work;
        if (poll.work_since_check < work_per_check) return poll.stopped;
        poll.work_since_check = 0;
        if (!poll.stopped) poll.stopped = poll.cancellation.requested();
        return poll.stopped;
    }
};

/// Formats and stores the message of a failure, then returns its error so a
/// kernel can write `return status.fail(.out_of_range, "...", .{...});`.
/// A message longer than the store is truncated (ending in "...").
pub fn fail(comptime status: Status, comptime format: []const u8, args: anytype) Error {
    comptime std.debug.assert(status != .ok);
    var scratch: [message_capacity_bytes]u8 = undefined;
    const text = std.fmt.bufPrint(&scratch, format, args) catch truncated: {
        const ellipsis = "...";
        @memcpy(scratch[scratch.len - ellipsis.len ..], ellipsis);
        break :truncated scratch[0..];
    };
    setMessage(text);
    return errorOf(status);
}

/// Stores `text` as this call's message (truncated to the store's capacity).
pub fn setMessage(text: []const u8) void {
    const context = current orelse &fallback;
    const len = @min(text.len, message_capacity_bytes);
    @memcpy(context.message[0..len], text[0..len]);
    context.message_len = @intCast(len);
}

/// The last message stored on this thread outside an export (for tests).
pub fn lastMessage() []const u8 {
    const context = current orelse &fallback;
    return context.message[0..context.message_len];
}

/// A float's name in messages, spelled as JavaScript spells it.
pub fn FloatName(comptime T: type) type {
    return struct {
        value: T,
        pub fn format(self: @This(), writer: *std.Io.Writer) std.Io.Writer.Error!void {
            if (std.math.isNan(self.value)) return writer.writeAll("NaN");
            if (std.math.isInf(self.value)) {
                return writer.writeAll(if (self.value > 0) "Infinity" else "-Infinity");
            }
            return writer.print("{d}", .{self.value});
        }
    };
}

pub fn floatName(value: f32) FloatName(f32) {
    return .{ .value = value };
}

test "fail stores the message and maps the status" {
    const err = fail(.out_of_range, "indices[{d}] = {d} is out of range for {d} columns", .{ 17, 9, 5 });
    try std.testing.expectEqual(error.OutOfRange, err);
    try std.testing.expectEqual(Status.out_of_range, statusOf(err));
    try std.testing.expectEqualStrings("indices[17] = 9 is out of range for 5 columns", lastMessage());
    const err_nan = fail(.not_finite, "Expected regularization to be finite but found {f}", .{floatName(std.math.nan(f32))});
    try std.testing.expectEqual(error.NotFinite, err_nan);
    try std.testing.expectEqualStrings("Expected regularization to be finite but found NaN", lastMessage());
}

test "a call's messages go to its own context" {
    var first = emptyContext(0);
    var second = emptyContext(0);
    const outer = beginCall(&first);
    try std.testing.expectEqual(error.InvalidArgument, fail(.invalid_argument, "first", .{}));
    const inner = beginCall(&second);
    try std.testing.expectEqual(error.InvalidArgument, fail(.invalid_argument, "second", .{}));
    endCall(inner);
    endCall(outer);
    try std.testing.expectEqualStrings("first", first.message[0..first.message_len]);
    try std.testing.expectEqualStrings("second", second.message[0..second.message_len]);
}

test "a poll reads the flag once per work_per_check units and stays stopped" {
    var flag: u32 = 0;
    const from: Cancellation = .{ .flag = &flag };
    var poll: Poll = .init(from);
    // The first stop reads the flag at once.
    try std.testing.expect(!poll.stop(0));
    flag = 1;
    try std.testing.expect(!poll.stop(Poll.work_per_check - 1));
    try std.testing.expect(poll.stop(1));
    flag = 0;
    try std.testing.expect(poll.stop(0));
    var started_cancelled: Poll = .init(from);
    flag = 1;
    try std.testing.expect(started_cancelled.stop(0));
    var never: Poll = .never;
    try std.testing.expect(!never.stop(std.math.maxInt(u64)));
    try std.testing.expect(!never.stop(std.math.maxInt(u64)));
}
