//! The ABI as data: what one export of libtacit takes, declared once.
//!
//! Every kernel export has the same C signature,
//!
//!     i32 tacit_<name>(const Args *args, Context *context)
//!
//! where `Args` is an `extern struct` laid out from the declaration (see
//! layout.zig): a header (ABI version and the struct's size), then one field per
//! scalar and a (pointer, length) pair per buffer, in declaration order. The
//! declaration also says which length every buffer must have in terms of the
//! count parameters and earlier buffers, so both sides of the boundary check it
//! from the same data: the TypeScript declaration (lib/native/symbols.ts) is
//! generated from `describe.zig`'s JSON, and the loader refuses a library whose
//! description differs from it.

const std = @import("std");
const handles = @import("handles.zig");

/// The version of the calling convention (header, context, layout rules).
/// Signatures are compared field by field at load time, so this changes only
/// when the convention itself does.
pub const abi_version: u32 = 2;

pub const Scalar = enum {
    /// An i32 that must be >= 0; a usize in the view. Only counts may appear in lengths.
    count,
    /// Any i32.
    int,
    float,
    double,

    pub fn Wire(comptime scalar: Scalar) type {
        return switch (scalar) {
            .count, .int => i32,
            .float => f32,
            .double => f64,
        };
    }

    pub fn wireName(scalar: Scalar) []const u8 {
        return switch (scalar) {
            .count, .int => "i32",
            .float => "f32",
            .double => "f64",
        };
    }
};

pub const Element = enum {
    u8,
    i32,
    u64,
    f32,
    f64,

    pub fn Type(comptime element: Element) type {
        return switch (element) {
            .u8 => u8,
            .i32 => i32,
            .u64 => u64,
            .f32 => f32,
            .f64 => f64,
        };
    }
};

/// A buffer's required length: `scale · Π product + add` elements, or, with
/// `last_of`, the value of the last element of that (earlier, i32) buffer —
/// the nonzero count of a CSR matrix given by its indptr.
pub const Length = struct {
    product: []const []const u8 = &.{},
    scale: usize = 1,
    add: usize = 0,
    last_of: ?[]const u8 = null,
};

pub const Access = enum {
    /// Native code only reads it.
    read,
    /// Native code writes it (and may read it first: an in/out buffer).
    write,
};

pub const Buffer = struct {
    element: Element,
    length: Length,
    /// Null means "not given" (a filter that is absent); only then may the pointer be null
    /// while the length is positive.
    nullable: bool = false,
    access: Access = .read,
};

/// A handle parameter names the kind of native object it must refer to;
/// `any` accepts every kind (releasing).
pub const HandleKind = enum {
    any,
    bytes,
    ann_index,
    gpu_factors,
    gpu_csr,

    pub fn object(kind: HandleKind) ?handles.Kind {
        return switch (kind) {
            .any => null,
            .bytes => .bytes,
            .ann_index => .ann_index,
            .gpu_factors => .gpu_factors,
            .gpu_csr => .gpu_csr,
        };
    }
};

pub const Kind = union(enum) {
    scalar: Scalar,
    buffer: Buffer,
    /// A u64 handle from handles.zig; the view holds the object's pointer.
    handle: HandleKind,
};

pub const Param = struct {
    name: [:0]const u8,
    kind: Kind,
};

pub const Declaration = struct {
    name: [:0]const u8,
    params: []const Param,
    /// May take seconds: Deno runs it nonblocking by default.
    long: bool = false,
    /// Leases the thread pool for the call. An export that never runs parallel
    /// work (a handle release, one SGD step) says false, so it never waits
    /// for a running kernel.
    parallel: bool = true,
};

// ---------------------------------------------------------------------------
// Builders, so a declaration reads as a signature.

pub fn count(comptime name: [:0]const u8) Param {
    return .{ .name = name, .kind = .{ .scalar = .count } };
}

pub fn int(comptime name: [:0]const u8) Param {
    return .{ .name = name, .kind = .{ .scalar = .int } };
}

pub fn float(comptime name: [:0]const u8) Param {
    return .{ .name = name, .kind = .{ .scalar = .float } };
}

pub fn input(comptime element: Element, comptime name: [:0]const u8, comptime length: Length) Param {
    return .{ .name = name, .kind = .{ .buffer = .{ .element = element, .length = length } } };
}

pub fn optionalInput(comptime element: Element, comptime name: [:0]const u8, comptime length: Length) Param {
    return .{ .name = name, .kind = .{ .buffer = .{ .element = element, .length = length, .nullable = true } } };
}

pub fn handle(comptime name: [:0]const u8, comptime kind: HandleKind) Param {
    return .{ .name = name, .kind = .{ .handle = kind } };
}

/// A buffer native code writes (an output, or an in/out buffer such as factors updated in place).
pub fn output(comptime element: Element, comptime name: [:0]const u8, comptime length: Length) Param {
    return .{ .name = name, .kind = .{ .buffer = .{ .element = element, .length = length, .access = .write } } };
}

/// `Π names` elements.
pub fn times(comptime names: []const []const u8) Length {
    return .{ .product = names };
}

/// `name + 1` elements (a CSR indptr).
pub fn plusOne(comptime name: []const u8) Length {
    return .{ .product = &.{name}, .add = 1 };
}

/// A fixed number of elements.
pub fn fixed(comptime n: usize) Length {
    return .{ .scale = n };
}

/// As many elements as the last value of buffer `name` (a CSR's nonzeros).
pub fn lastOf(comptime name: []const u8) Length {
    return .{ .last_of = name };
}

/// A CSR matrix of `rows` rows as three parameters, `<prefix>indptr`,
/// `<prefix>indices` and (with values) `<prefix>data`, in that order.
pub fn csr(comptime prefix: []const u8, comptime rows: []const u8, comptime with_values: bool) [if (with_values) 3 else 2]Param {
    const indptr = prefix ++ "indptr";
    const structure = [_]Param{
        input(.i32, indptr, plusOne(rows)),
        input(.i32, prefix ++ "indices", lastOf(indptr)),
    };
    return if (with_values) structure ++ [_]Param{input(.f32, prefix ++ "data", lastOf(indptr))} else structure;
}

/// What every ranking export ends with: the item filters (a 0/1 mask over
/// `items`, a candidate list), k, and the `[queries, k]` results.
pub fn rankedOutputs(comptime items: []const u8, comptime queries: []const u8) [6]Param {
    return .{
        optionalInput(.u8, "item_mask", times(&.{items})),
        optionalInput(.i32, "candidates", times(&.{"n_cand"})),
        count("n_cand"),
        count("k"),
        output(.i32, "out_ids", times(&.{ queries, "k" })),
        output(.f32, "out_scores", times(&.{ queries, "k" })),
    };
}

/// The parameter called `name`, at compile time.
pub fn param(comptime declaration: Declaration, comptime name: []const u8) Param {
    for (declaration.params) |p| {
        if (std.mem.eql(u8, p.name, name)) return p;
    }
    @compileError(declaration.name ++ " has no parameter " ++ name);
}

/// Compile-time checks of a declaration: unique names, lengths that refer to
/// count parameters and to earlier i32 buffers.
pub fn validate(comptime declaration: Declaration) void {
    @setEvalBranchQuota(100_000);
    for (declaration.params, 0..) |p, i| {
        for (declaration.params[0..i]) |earlier| {
            if (std.mem.eql(u8, earlier.name, p.name)) @compileError(declaration.name ++ ": duplicate parameter " ++ p.name);
        }
        const buffer = switch (p.kind) {
            .buffer => |b| b,
            .scalar, .handle => continue,
        };
        for (buffer.length.product) |factor| {
            const referenced = param(declaration, factor);
            if (referenced.kind != .scalar or referenced.kind.scalar != .count) {
                @compileError(declaration.name ++ "." ++ p.name ++ ": a length may only multiply count parameters, not " ++ factor);
            }
        }
        if (buffer.length.last_of) |source| {
            var found = false;
            for (declaration.params[0..i]) |earlier| {
                if (!std.mem.eql(u8, earlier.name, source)) continue;
                if (earlier.kind != .buffer or earlier.kind.buffer.element != .i32) {
                    @compileError(declaration.name ++ "." ++ p.name ++ ": last_of must name an i32 buffer");
                }
                found = true;
            }
            if (!found) @compileError(declaration.name ++ "." ++ p.name ++ ": last_of must name an earlier buffer");
            if (buffer.length.product.len != 0 or buffer.length.add != 0 or buffer.length.scale != 1) {
                @compileError(declaration.name ++ "." ++ p.name ++ ": last_of stands alone");
            }
        }
    }
}
