//! Every export of libtacit, in one list. A kernel export is declared next
//! to its implementation (c_api*.zig) and listed here; root.zig exports each
//! entry under its declared name and describe.zig describes exactly this list,
//! so a new export is exported, described to TypeScript and covered by the
//! boundary tests (tests/abi.test.ts drives every export from the description)
//! once it is listed.
//!
//! Four plain functions stand outside the convention: they take no buffers
//! worth checking and must work before the caller knows the layout.

const std = @import("std");
const declaration = @import("declaration.zig");
const describe = @import("describe.zig");
const ThreadPool = @import("../ThreadPool.zig");
const c_api = @import("../c_api.zig");
const c_api_sgd = @import("../c_api_sgd.zig");
const c_api_knn = @import("../c_api_knn.zig");
const c_api_hybrid = @import("../c_api_hybrid.zig");
const c_api_ranks = @import("../c_api_ranks.zig");
const c_api_minibatch = @import("../c_api_minibatch.zig");
const c_api_ann = @import("../c_api_ann.zig");
const c_api_gpu = @import("../c_api_gpu.zig");
const byte_store = @import("../bytes.zig");

pub const exports = .{
    c_api.csr_check,
    c_api.count_nonfinite,
    c_api.gram,
    c_api.als_solve,
    c_api.als_loss,
    c_api.topk_dot,
    c_api.ranking_metrics,
    c_api_sgd.bpr_epoch,
    c_api_sgd.bpr_step,
    c_api_sgd.bpr_sample,
    c_api_sgd.lmf_update,
    c_api_knn.knn_fit,
    c_api_knn.knn_recommend,
    c_api_hybrid.hybrid_epoch,
    c_api_hybrid.hybrid_step,
    c_api_hybrid.hybrid_represent,
    c_api_hybrid.hybrid_predict,
    c_api_ranks.factor_ranks,
    c_api_minibatch.minibatch_epoch,
    c_api_minibatch.minibatch_step,
    c_api_ann.hnsw_create,
    c_api_ann.ivf_create,
    c_api_ann.forest_create,
    c_api_ann.build_step,
    c_api_ann.describe,
    c_api_ann.ann_search,
    c_api_ann.serialized_len,
    c_api_ann.serialize,
    c_api_ann.load,
    c_api_gpu.open,
    c_api_gpu.memory,
    c_api_gpu.factors_create,
    c_api_gpu.factors_copy,
    c_api_gpu.csr_create,
    c_api_gpu.als_solve,
    c_api_gpu.als_loss,
    c_api_gpu.topk,
    c_api_gpu.bpr_epoch,
    byte_store.create,
    byte_store.copy,
    byte_store.release,
    byte_store.alive,
};

pub const description = describe.describe(exports);

/// Exports every entry of `exports` under its declared name.
pub fn exportAll() void {
    inline for (exports) |E| {
        @export(&E.entry, .{ .name = E.declaration_of_export.name });
    }
}

/// () -> the calling convention's version (declaration.abi_version).
pub fn tacit_abi_version() callconv(.c) c_int {
    return @intCast(declaration.abi_version);
}

/// (out: u8[capacity] or null, capacity) -> the description's length in bytes;
/// copies min(capacity, length) bytes of the JSON description into out.
pub fn tacit_abi_describe(out: ?[*]u8, capacity: c_int) callconv(.c) c_int {
    if (out) |bytes| {
        const n = @min(description.len, @as(usize, @intCast(@max(capacity, 0))));
        @memcpy(bytes[0..n], description[0..n]);
    }
    return @intCast(description.len);
}

/// (n) -> 0. Sizes the one pool; n <= 0 restores the default (TACIT_NUM_THREADS, else the cores).
pub fn tacit_set_num_threads(n: c_int) callconv(.c) c_int {
    ThreadPool.setGlobalThreadCount(if (n <= 0) 0 else @intCast(n));
    return 0;
}

/// () -> the pool's thread count (>= 1), the calling thread included.
pub fn tacit_get_num_threads() callconv(.c) c_int {
    return @intCast(ThreadPool.globalThreadCount());
}

pub fn exportPlain() void {
    @export(&tacit_abi_version, .{ .name = "tacit_abi_version" });
    @export(&tacit_abi_describe, .{ .name = "tacit_abi_describe" });
    @export(&tacit_set_num_threads, .{ .name = "tacit_set_num_threads" });
    @export(&tacit_get_num_threads, .{ .name = "tacit_get_num_threads" });
}

test "the description names every export once" {
    @setEvalBranchQuota(10_000);
    inline for (exports, 0..) |E, i| {
        inline for (exports, 0..) |Other, j| {
            if (i != j) try std.testing.expect(!std.mem.eql(u8, E.declaration_of_export.name, Other.declaration_of_export.name));
        }
        try std.testing.expect(std.mem.indexOf(u8, description, "\"name\":\"" ++ E.declaration_of_export.name ++ "\"") != null);
    }
    const parsed = try std.json.parseFromSlice(std.json.Value, std.testing.allocator, description, .{});
    defer parsed.deinit();
    try std.testing.expectEqual(exports.len, parsed.value.object.get("exports").?.array.items.len);
}
