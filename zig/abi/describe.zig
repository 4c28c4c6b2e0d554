//! The ABI description: one JSON document, built at compile time from the
//! declarations in table.zig, that `tacit_abi_describe` hands out.
//! scripts/generate_abi.ts writes lib/native/symbols.ts from it, and the
//! loader compares the two at load: a parameter renamed, retyped, reordered or
//! resized on either side makes the library refuse to load.
//!
//!   {"abiVersion": 2, "contextSize": 536, "exports": [
//!     {"name": "tacit_gram", "long": false, "size": 48, "params": [
//!       {"name": "factors", "kind": "buffer", "element": "f32", "access": "read",
//!        "nullable": false, "length": {"product": ["n", "f"], "scale": 1, "add": 0,
//!        "lastOf": null}, "offset": 8, "lengthOffset": 16},
//!       {"name": "n", "kind": "count", "offset": 24}, ...]}, ...]}

const std = @import("std");
const declaration = @import("declaration.zig");
const layout = @import("layout.zig");
const status = @import("../status.zig");

pub fn describe(comptime exports: anytype) []const u8 {
    @setEvalBranchQuota(1_000_000);
    comptime {
        var text: []const u8 = std.fmt.comptimePrint("{{\"abiVersion\":{d},\"contextSize\":{d},\"exports\":[", .{ declaration.abi_version, @sizeOf(status.Context) });
        for (exports, 0..) |E, i| {
            if (i > 0) text = text ++ ",";
            text = text ++ describeExport(E);
        }
        return text ++ "]}";
    }
}

fn describeExport(comptime E: type) []const u8 {
    const decl = E.declaration_of_export;
    var text: []const u8 = std.fmt.comptimePrint("{{\"name\":\"{s}\",\"long\":{},\"size\":{d},\"params\":[", .{ decl.name, decl.long, @sizeOf(E.Args) });
    for (decl.params, 0..) |p, i| {
        if (i > 0) text = text ++ ",";
        text = text ++ switch (p.kind) {
            .scalar => |scalar| std.fmt.comptimePrint("{{\"name\":\"{s}\",\"kind\":\"{s}\",\"offset\":{d}}}", .{
                p.name, @tagName(scalar), @offsetOf(E.Args, p.name),
            }),
            .buffer => |buffer| std.fmt.comptimePrint(
                "{{\"name\":\"{s}\",\"kind\":\"buffer\",\"element\":\"{s}\",\"access\":\"{s}\",\"nullable\":{},\"length\":{s},\"offset\":{d},\"lengthOffset\":{d}}}",
                .{
                    p.name,                        @tagName(buffer.element),  @tagName(buffer.access),                           buffer.nullable,
                    describeLength(buffer.length), @offsetOf(E.Args, p.name), @offsetOf(E.Args, layout.lengthFieldName(p.name)),
                },
            ),
            .handle => |kind| std.fmt.comptimePrint("{{\"name\":\"{s}\",\"kind\":\"handle\",\"handleKind\":\"{s}\",\"offset\":{d}}}", .{
                p.name, @tagName(kind), @offsetOf(E.Args, p.name),
            }),
        };
    }
    return text ++ "]}";
}

fn describeLength(comptime length: declaration.Length) []const u8 {
    var product: []const u8 = "[";
    for (length.product, 0..) |factor, i| {
        product = product ++ (if (i > 0) "," else "") ++ "\"" ++ factor ++ "\"";
    }
    product = product ++ "]";
    const last_of = if (length.last_of) |source| "\"" ++ source ++ "\"" else "null";
    return std.fmt.comptimePrint("{{\"product\":{s},\"scale\":{d},\"add\":{d},\"lastOf\":{s}}}", .{ product, length.scale, length.add, last_of });
}
