//! The two types an export's declaration gives:
//!
//! - `Args`: the `extern struct` the caller fills — `abi_version: u32`,
//!   `args_size: u32`, then per parameter in order a scalar of its wire type,
//!   or for a buffer `name: ?[*]T` followed by `name_len: u64` (elements).
//!   C layout rules apply; describe.zig publishes every offset.
//!   A handle is a `u64`.
//! - `View`: what the implementation receives once the edge has checked the
//!   arguments — counts as usize, buffers as slices of exactly their declared
//!   length (optional slices for nullable buffers), handles as the object's
//!   pointer (`Object`: the handle value and the object).

const std = @import("std");
const declaration = @import("declaration.zig");
const Declaration = declaration.Declaration;

pub fn lengthFieldName(comptime name: []const u8) [:0]const u8 {
    return name ++ "_len";
}

pub fn Args(comptime decl: Declaration) type {
    comptime declaration.validate(decl);
    const field_count = 2 + fieldCount(decl);
    var names: [field_count][]const u8 = undefined;
    var types: [field_count]type = undefined;
    names[0] = "abi_version";
    types[0] = u32;
    names[1] = "args_size";
    types[1] = u32;
    var next = 2;
    for (decl.params) |p| {
        switch (p.kind) {
            .scalar => |scalar| {
                names[next] = p.name;
                types[next] = scalar.Wire();
                next += 1;
            },
            .buffer => |buffer| {
                names[next] = p.name;
                types[next] = ?[*]buffer.element.Type();
                names[next + 1] = lengthFieldName(p.name);
                types[next + 1] = u64;
                next += 2;
            },
            .handle => {
                names[next] = p.name;
                types[next] = u64;
                next += 1;
            },
        }
    }
    return @Struct(.@"extern", null, &names, &types, &@splat(.{}));
}

/// The size the documented rule gives (a u32 header pair, then each field at
/// the next multiple of its own size: 4 for i32 and f32, 8 for f64, u64 and
/// pointers; the whole rounded up to 8). Export checks it against the
/// compiler's layout at compile time, so the rule published to other
/// languages cannot drift from the struct.
pub fn documentedSize(comptime decl: Declaration) usize {
    var offset: usize = 8;
    for (decl.params) |p| {
        const sizes: []const usize = switch (p.kind) {
            .scalar => |scalar| &.{@sizeOf(scalar.Wire())},
            .buffer => &.{ 8, 8 },
            .handle => &.{8},
        };
        for (sizes) |size| offset = std.mem.alignForward(usize, offset, size) + size;
    }
    return std.mem.alignForward(usize, offset, 8);
}

fn fieldCount(comptime decl: Declaration) usize {
    var n = 0;
    for (decl.params) |p| n += if (p.kind == .buffer) 2 else 1;
    return n;
}

pub fn View(comptime decl: Declaration) type {
    var names: [decl.params.len][]const u8 = undefined;
    var types: [decl.params.len]type = undefined;
    for (decl.params, 0..) |p, i| {
        names[i] = p.name;
        types[i] = switch (p.kind) {
            .scalar => |scalar| if (scalar == .count) usize else scalar.Wire(),
            .buffer => |buffer| Slice(buffer),
            .handle => Object,
        };
    }
    return @Struct(.auto, null, &names, &types, &@splat(.{}));
}

/// A handle the edge has looked up: its value and its object, used for the whole call.
pub const Object = struct {
    handle: u64,
    pointer: *anyopaque,

    pub fn as(object: Object, comptime T: type) *T {
        return @ptrCast(@alignCast(object.pointer));
    }
};

pub fn Slice(comptime buffer: declaration.Buffer) type {
    const T = buffer.element.Type();
    const S = if (buffer.access == .write) []T else []const T;
    return if (buffer.nullable) ?S else S;
}
