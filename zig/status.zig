//! Status codes of the C ABI and the process-wide "last error" message.
//!
//! Every export returns a `Status`; a failing call stores a message that
//! `tacit_last_error` copies out. The store is global and mutex-protected, not
//! thread-local, because Deno runs nonblocking calls on a worker thread and
//! reads the message from the JavaScript thread. A successful call leaves the
//! message unchanged, so a concurrent success never erases another call's error.

const std = @import("std");
const c = std.c;

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
};

/// The error set every kernel returns; `statusOf` maps it onto `Status`.
pub const Error = error{
    InvalidArgument,
    OutOfRange,
    NotFinite,
    OutOfMemory,
    Numerical,
    Internal,
};

pub fn statusOf(err: Error) Status {
    return switch (err) {
        error.InvalidArgument => .invalid_argument,
        error.OutOfRange => .out_of_range,
        error.NotFinite => .not_finite,
        error.OutOfMemory => .out_of_memory,
        error.Numerical => .numerical,
        error.Internal => .internal,
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
    };
}

pub const message_capacity_bytes = 512;

var message_mutex: c.pthread_mutex_t = c.PTHREAD_MUTEX_INITIALIZER;
var message_buffer: [message_capacity_bytes]u8 = undefined;
var message_len: usize = 0;

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

/// Stores `text` as the last error message (truncated to the store's capacity).
pub fn setMessage(text: []const u8) void {
    const len = @min(text.len, message_capacity_bytes);
    _ = c.pthread_mutex_lock(&message_mutex);
    defer _ = c.pthread_mutex_unlock(&message_mutex);
    @memcpy(message_buffer[0..len], text[0..len]);
    message_len = len;
}

/// Copies at most `out.len` bytes of the last message into `out` and returns
/// the message's full length in bytes.
pub fn copyMessage(out: []u8) usize {
    _ = c.pthread_mutex_lock(&message_mutex);
    defer _ = c.pthread_mutex_unlock(&message_mutex);
    const len = @min(out.len, message_len);
    @memcpy(out[0..len], message_buffer[0..len]);
    return message_len;
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
    var out: [64]u8 = undefined;
    const len = copyMessage(&out);
    try std.testing.expectEqualStrings("indices[17] = 9 is out of range for 5 columns", out[0..len]);
    const err_nan = fail(.not_finite, "Expected regularization to be finite but found {f}", .{floatName(std.math.nan(f32))});
    try std.testing.expectEqual(error.NotFinite, err_nan);
    const len_nan = copyMessage(&out);
    try std.testing.expectEqualStrings("Expected regularization to be finite but found NaN", out[0..len_nan]);
    const len_short = copyMessage(out[0..3]);
    try std.testing.expectEqual(len_nan, len_short);
}
