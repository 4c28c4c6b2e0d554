//! The edge of the library: turns a declaration and an implementation into
//! the exported C function, and checks every argument on the way in.
//!
//! `Export(decl, implementation).entry` does, in order:
//! 1. refuses a null or foreign context, then routes every message of this
//!    call into the caller's `Context` (status.beginCall): errors belong to
//!    the call, never to the process;
//! 2. refuses arguments built for another ABI version or struct size;
//! 3. checks every count (>= 0) and every buffer against its declared length
//!    (exactly that many elements; null only where nullable or empty), so an
//!    implementation only ever sees slices it may index in full;
//! 4. leases the thread pool with the caller's thread limit (the call never
//!    resizes the pool) and reports the threads it got in the context; an
//!    export declared `.parallel = false` runs inline without the pool;
//! 5. runs the implementation and turns its error into a status.
//! Nothing panics across the boundary.

const std = @import("std");
const declaration = @import("declaration.zig");
const layout = @import("layout.zig");
const status = @import("../status.zig");
const ThreadPool = @import("../ThreadPool.zig");
const handles = @import("handles.zig");
const Declaration = declaration.Declaration;
const Length = declaration.Length;
const Error = status.Error;
const Context = status.Context;

pub fn Export(comptime decl: Declaration, comptime implementation: fn (*ThreadPool, layout.View(decl)) Error!void) type {
    return struct {
        pub const declaration_of_export = decl;
        pub const Args = layout.Args(decl);
        pub const View = layout.View(decl);

        comptime {
            if (@sizeOf(Args) != layout.documentedSize(decl)) {
                @compileError(std.fmt.comptimePrint("{s}: Args is {d} bytes but the documented layout gives {d}", .{ decl.name, @sizeOf(Args), layout.documentedSize(decl) }));
            }
        }

        pub fn entry(args: ?*const Args, context: ?*Context) callconv(.c) c_int {
            const ctx = context orelse return @backingInt(status.Status.invalid_argument);
            if (ctx.abi_version != declaration.abi_version or ctx.context_size != @sizeOf(Context)) {
                return @backingInt(status.Status.invalid_argument);
            }
            const previous = status.beginCall(ctx);
            defer status.endCall(previous);
            body(args, ctx) catch |err| {
                if (err == error.OutOfMemory) status.setMessage("The native allocator could not allocate the memory this call needs");
                return @backingInt(status.statusOf(err));
            };
            return @backingInt(status.Status.ok);
        }

        fn body(args_or_null: ?*const Args, ctx: *Context) Error!void {
            const args = args_or_null orelse {
                return status.fail(.invalid_argument, "Expected the arguments of " ++ decl.name ++ " but found null", .{});
            };
            if (args.abi_version != declaration.abi_version or args.args_size != @sizeOf(Args)) {
                return status.fail(.invalid_argument, "Expected " ++ decl.name ++ "'s arguments for ABI {d} in {d} bytes but found ABI {d} in {d} bytes", .{
                    declaration.abi_version, @sizeOf(Args), args.abi_version, args.args_size,
                });
            }
            var view = try unpack(args);
            // Handles last: each use taken here is given back whatever happens next.
            var used: [handleCount()]u64 = undefined;
            var used_len: usize = 0;
            defer for (used[0..used_len]) |h| handles.unuse(h);
            inline for (decl.params) |p| {
                if (p.kind == .handle) {
                    const value = @field(args, p.name);
                    const pointer = if (p.kind.handle.object()) |kind|
                        try handles.use(value, kind, p.name)
                    else
                        try handles.useAny(value, p.name);
                    used[used_len] = value;
                    used_len += 1;
                    @field(view, p.name) = .{ .handle = value, .pointer = pointer };
                }
            }
            if (!decl.parallel) {
                var serial: ThreadPool = .{}; // never started: every job runs inline
                ctx.threads_used = 1;
                return implementation(&serial, view);
            }
            const lease = try ThreadPool.acquireGlobal(ctx.thread_limit);
            defer lease.release();
            ctx.threads_used = @intCast(lease.threadCount());
            try implementation(lease.pool, view);
        }

        fn handleCount() usize {
            var n = 0;
            for (decl.params) |p| n += @intFromBool(p.kind == .handle);
            return n;
        }

        /// Scalars first (lengths refer to counts declared after a buffer), then
        /// buffers in order (a `last_of` length refers to an earlier buffer).
        fn unpack(args: *const Args) Error!View {
            var view: View = undefined;
            inline for (decl.params) |p| {
                switch (p.kind) {
                    .scalar => |scalar| @field(view, p.name) = switch (scalar) {
                        .count => try countOf(@field(args, p.name), p.name),
                        else => @field(args, p.name),
                    },
                    .buffer, .handle => {},
                }
            }
            inline for (decl.params) |p| {
                switch (p.kind) {
                    .buffer => |buffer| {
                        const required = try requiredLength(p.name, buffer.length, &view);
                        @field(view, p.name) = try sliceOf(buffer, p.name, @field(args, p.name), @field(args, layout.lengthFieldName(p.name)), required);
                    },
                    .scalar, .handle => {},
                }
            }
            return view;
        }

        fn requiredLength(comptime name: []const u8, comptime length: Length, view: *const View) Error!usize {
            if (length.last_of) |source| {
                const values: []const i32 = if (@typeInfo(@TypeOf(@field(view, source))) == .optional)
                    (@field(view, source) orelse return 0)
                else
                    @field(view, source);
                if (values.len == 0) return 0;
                const last = values[values.len - 1];
                if (last < 0) {
                    return status.fail(.invalid_argument, "Expected the last entry of " ++ source ++ " (the length of " ++ name ++ ") to be >= 0 but found {d}", .{last});
                }
                return @intCast(last);
            }
            var n: usize = length.scale;
            inline for (length.product) |factor| {
                n = std.math.mul(usize, n, @field(view, factor)) catch return tooLong(name, length);
            }
            n = std.math.add(usize, n, length.add) catch return tooLong(name, length);
            // Typed arrays hold at most 2^53 bytes; anything near that is a wrong count.
            if (n > (@as(usize, 1) << 48)) return tooLong(name, length);
            return n;
        }
    };
}

fn tooLong(comptime name: []const u8, comptime length: Length) Error {
    return status.fail(.out_of_range, "Expected the length of " ++ name ++ " (" ++ comptime formula(length) ++ ") to fit in memory", .{});
}

fn countOf(value: i32, comptime name: []const u8) Error!usize {
    if (value < 0) return status.fail(.out_of_range, "Expected " ++ name ++ " to be >= 0 but found {d}", .{value});
    return @intCast(value);
}

fn sliceOf(comptime buffer: declaration.Buffer, comptime name: []const u8, ptr: ?[*]buffer.element.Type(), len: u64, required: usize) Error!layout.Slice(buffer) {
    const T = buffer.element.Type();
    if (buffer.nullable and ptr == null) {
        if (len != 0) return status.fail(.invalid_argument, "Expected " ++ name ++ " to be null with length 0 but found null with length {d}", .{len});
        return null;
    }
    if (ptr == null and required > 0) {
        return status.fail(.invalid_argument, "Expected " ++ name ++ " to be a buffer of {d} elements but found null", .{required});
    }
    if (len != required) {
        return status.fail(.invalid_argument, "Expected " ++ name ++ " to have {d} elements (" ++ comptime formula(buffer.length) ++ ") but found {d}", .{ required, len });
    }
    if (required == 0) {
        const empty: []T = &.{};
        return empty;
    }
    return ptr.?[0..required];
}

/// How a length reads in messages: "n_rows × f", "n_rows + 1", "2",
/// "the last entry of indptr". lib/native/checked.ts writes the same text.
pub fn formula(comptime length: Length) []const u8 {
    if (length.last_of) |source| return "the last entry of " ++ source;
    var text: []const u8 = "";
    if (length.scale != 1 or length.product.len == 0) text = std.fmt.comptimePrint("{d}", .{length.scale});
    for (length.product) |factor| {
        text = if (text.len == 0) factor else text ++ " × " ++ factor;
    }
    if (length.add != 0) text = text ++ std.fmt.comptimePrint(" + {d}", .{length.add});
    return text;
}

// ---------------------------------------------------------------------------
// Calling an export from Zig (tests, the benchmark), with slices in place of
// (pointer, length).

pub const SliceCallResult = struct {
    status: c_int,
    context: Context,

    pub fn message(result: *const SliceCallResult) []const u8 {
        return result.context.message[0..result.context.message_len];
    }
};

/// Calls `E.entry` with arguments given as a struct literal: scalars by value,
/// buffers as slices (or pointers to arrays, or `null`). Fields left out are
/// zero / null.
pub fn callWithSlices(comptime E: type, values: anytype) SliceCallResult {
    return callWithSlicesLimited(E, values, 0);
}

pub fn callWithSlicesLimited(comptime E: type, values: anytype, thread_limit: u32) SliceCallResult {
    const decl = E.declaration_of_export;
    var args: E.Args = std.mem.zeroes(E.Args);
    args.abi_version = declaration.abi_version;
    args.args_size = @sizeOf(E.Args);
    inline for (decl.params) |p| {
        if (@hasField(@TypeOf(values), p.name)) {
            const value = @field(values, p.name);
            switch (p.kind) {
                .scalar => |scalar| @field(args, p.name) = scalarValue(scalar.Wire(), value),
                .handle => @field(args, p.name) = value,
                .buffer => |buffer| {
                    if (comptime @TypeOf(value) == @TypeOf(null) or @TypeOf(value) == NullBuffer) {
                        @field(args, p.name) = null;
                        @field(args, layout.lengthFieldName(p.name)) = 0;
                    } else {
                        const T = buffer.element.Type();
                        const slice: []const T = value;
                        @field(args, p.name) = @constCast(slice.ptr);
                        @field(args, layout.lengthFieldName(p.name)) = slice.len;
                    }
                },
            }
        }
    }
    var result: SliceCallResult = .{ .status = 0, .context = status.emptyContext(thread_limit) };
    result.status = E.entry(&args, &result.context);
    return result;
}

/// What `withField` stores for a `null` buffer (a struct field cannot hold
/// the comptime-only type of `null`).
pub const NullBuffer = struct {};

fn scalarValue(comptime Wire: type, value: anytype) Wire {
    if (Wire == f32 or Wire == f64) {
        return switch (@typeInfo(@TypeOf(value))) {
            .int, .comptime_int => @floatFromInt(value),
            else => value,
        };
    }
    return value;
}

/// A copy of the struct literal `base` with one field replaced (any type).
pub fn withField(base: anytype, comptime name: []const u8, value: anytype) WithField(@TypeOf(base), name, @TypeOf(value)) {
    var out: WithField(@TypeOf(base), name, @TypeOf(value)) = undefined;
    inline for (@typeInfo(@TypeOf(base)).@"struct".field_names) |field| {
        if (comptime std.mem.eql(u8, field, name)) {
            @field(out, field) = stored(value);
        } else {
            @field(out, field) = stored(@field(base, field));
        }
    }
    return out;
}

fn stored(value: anytype) runtimeType(@TypeOf(value)) {
    return if (@TypeOf(value) == @TypeOf(null)) NullBuffer{} else value;
}

pub fn WithField(comptime Base: type, comptime name: []const u8, comptime Value: type) type {
    @setEvalBranchQuota(100_000);
    const info = @typeInfo(Base).@"struct";
    var names: [info.field_names.len][]const u8 = undefined;
    var types: [info.field_names.len]type = undefined;
    for (info.field_names, info.field_types, 0..) |field, field_type, i| {
        names[i] = field;
        types[i] = runtimeType(if (std.mem.eql(u8, field, name)) Value else field_type);
    }
    return @Struct(.auto, null, &names, &types, &@splat(.{}));
}

fn runtimeType(comptime T: type) type {
    return switch (T) {
        comptime_int => i32,
        comptime_float => f32,
        @TypeOf(null) => NullBuffer,
        else => T,
    };
}
