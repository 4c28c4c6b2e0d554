//! The native object behind an index handle: which index it is (HNSW,
//! inverted file, projection forest), its metric, and one dispatch per
//! operation of zig/ann/kind.zig's contract, so zig/c_api_ann.zig has one
//! set of exports for all three.

const std = @import("std");
const status = @import("../status.zig");
const ThreadPool = @import("../ThreadPool.zig");
const kind = @import("kind.zig");
const search_module = @import("search.zig");
const Error = status.Error;

pub const hnsw = @import("hnsw.zig");
pub const ivf = @import("ivf.zig");
pub const forest = @import("forest.zig");

pub const Kind = enum(u8) {
    hnsw = 1,
    ivf = 2,
    forest = 3,

    pub fn Module(comptime k: Kind) type {
        return switch (k) {
            .hnsw => hnsw,
            .ivf => ivf,
            .forest => forest,
        };
    }

    /// The kind a caller passed as an integer, or a message naming it.
    pub fn parse(value: i32) Error!Kind {
        return switch (value) {
            1 => .hnsw,
            2 => .ivf,
            3 => .forest,
            else => status.fail(.invalid_argument, "Expected kind to be 1 (hnsw), 2 (ivf) or 3 (forest) but found {d}", .{value}),
        };
    }
};

pub fn parseMetric(value: i32) Error!kind.Metric {
    return switch (value) {
        0 => .ip,
        1 => .cosine,
        else => status.fail(.invalid_argument, "Expected metric to be 0 (ip) or 1 (cosine) but found {d}", .{value}),
    };
}

pub const AnnIndex = struct {
    metric: kind.Metric,
    /// Set once buildStep reported the build finished (or the index was loaded).
    built: bool = false,
    impl: union(Kind) {
        hnsw: *hnsw.Index,
        ivf: *ivf.Index,
        forest: *forest.Index,
    },

    const allocator = std.heap.c_allocator;

    /// Wraps a created or loaded index of kind `k`.
    pub fn wrap(comptime k: Kind, index: *k.Module().Index, metric: kind.Metric, built: bool) Error!*AnnIndex {
        const object = try allocator.create(AnnIndex);
        object.* = .{ .metric = metric, .built = built, .impl = @unionInit(@FieldType(AnnIndex, "impl"), @tagName(k), index) };
        return object;
    }

    /// The handle table's destructor.
    pub fn destroy(erased: *anyopaque) void {
        const object: *AnnIndex = @ptrCast(@alignCast(erased));
        switch (object.impl) {
            inline else => |index| index.destroy(allocator),
        }
        allocator.destroy(object);
    }

    pub fn kindOf(object: *const AnnIndex) Kind {
        return std.meta.activeTag(object.impl);
    }

    pub fn itemCount(object: *const AnnIndex) usize {
        return switch (object.impl) {
            inline else => |index| index.itemCount(),
        };
    }

    pub fn factorCount(object: *const AnnIndex) usize {
        return switch (object.impl) {
            inline else => |index| index.factorCount(),
        };
    }

    pub fn defaultEffort(object: *const AnnIndex) usize {
        return switch (object.impl) {
            inline else => |index| index.defaultEffort(),
        };
    }

    pub fn maxEffort(object: *const AnnIndex) usize {
        return switch (object.impl) {
            inline else => |index| index.maxEffort(),
        };
    }

    pub fn buildStep(object: *AnnIndex, pool: *ThreadPool, poll: *status.Poll) Error!kind.Progress {
        const progress = switch (object.impl) {
            inline else => |index| try index.buildStep(pool, poll),
        };
        if (progress.finished()) object.built = true;
        return progress;
    }

    pub fn search(object: *const AnnIndex, pool: *ThreadPool, request: *const search_module.Request) Error!void {
        if (!object.built) return status.fail(.invalid_argument, "Expected index to be built but its build has not finished (call build steps until done)", .{});
        switch (object.impl) {
            inline else => |index, tag| try search_module.search(tag.Module(), allocator, pool, index, request),
        }
    }

    pub fn serializedLen(object: *const AnnIndex) usize {
        return switch (object.impl) {
            inline else => |index| index.serializedLen(),
        };
    }

    pub fn serialize(object: *const AnnIndex, out: []u8) void {
        switch (object.impl) {
            inline else => |index| index.serialize(out),
        }
    }
};

comptime {
    kind.check(hnsw);
    kind.check(ivf);
    kind.check(forest);
}
