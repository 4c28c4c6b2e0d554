//! The exports of the approximate-nearest-neighbour indexes (zig/ann/):
//! one create per index kind (its own parameters), then one set for all
//! kinds through the index handle — build steps, search, describe, save and
//! load. Declared and checked as c_api.zig's exports are (abi/edge.zig).

const std = @import("std");
const status = @import("status.zig");
const ThreadPool = @import("ThreadPool.zig");
const csr = @import("csr.zig");
const abi = @import("abi/declaration.zig");
const edge = @import("abi/edge.zig");
const handles = @import("abi/handles.zig");
const View = @import("abi/layout.zig").View;
const checks = @import("abi/checks.zig");
const ann = @import("ann/index.zig");
const search = @import("ann/search.zig");
const Error = status.Error;
const AnnIndex = ann.AnnIndex;

const count = abi.count;
const int = abi.int;
const input = abi.input;
const optionalInput = abi.optionalInput;
const output = abi.output;
const times = abi.times;
const fixed = abi.fixed;

/// Rows an index may hold; ids are i32 and a serialized index must fit an i32 length.
const items_max = 1 << 30;

/// The rows every create takes, checked: 1..items_max rows of 1..1024 finite factors.
fn checkedItems(pool: *ThreadPool, items: []const f32, n_items: usize, f_given: usize) Error!usize {
    const f = try checks.factorCount(f_given);
    if (n_items < 1 or n_items > items_max) {
        return status.fail(.out_of_range, "Expected n_items to be in 1..{d} but found {d}", .{ items_max, n_items });
    }
    try checks.requireAllFinite(pool, items, f, "items");
    return f;
}

fn positive(value: usize, comptime name: []const u8, max: usize) Error!usize {
    if (value < 1 or value > max) return status.fail(.out_of_range, "Expected " ++ name ++ " to be in 1..{d} but found {d}", .{ max, value });
    return value;
}

fn registered(comptime k: ann.Kind, index: *k.Module().Index, metric: anytype, built: bool) Error!u64 {
    errdefer index.destroy(std.heap.c_allocator);
    const object = try AnnIndex.wrap(k, index, metric, built);
    errdefer std.heap.c_allocator.destroy(object);
    return handles.register(.ann_index, object, AnnIndex.destroy);
}

fn itemParams() [3]abi.Param {
    return .{ count("n_items"), count("f"), input(.f32, "items", times(&.{ "n_items", "f" })) };
}

/// An HNSW index over `items` (Malkov & Yashunin 2018; zig/ann/hnsw.zig), not
/// yet built: run tacit_ann_build_step until it reports done.
/// metric 0 = inner product, 1 = cosine; ip_mode 0 = direct (ip-NSW),
/// 1 = augmented to cosine; ef 0 = the default search effort.
const hnsw_create_declaration: abi.Declaration = .{ .name = "tacit_hnsw_create", .parallel = true, .params = &(itemParams() ++ [_]abi.Param{
    int("metric"),
    count("m"),
    count("ef_construction"),
    count("ef"),
    int("ip_mode"),
    int("seed"),
    output(.u64, "out_handle", fixed(1)),
}) };
pub const hnsw_create = edge.Export(hnsw_create_declaration, hnswCreate);

fn hnswCreate(pool: *ThreadPool, a: View(hnsw_create_declaration)) Error!void {
    const f = try checkedItems(pool, a.items, a.n_items, a.f);
    const metric = try ann.parseMetric(a.metric);
    const params: ann.hnsw.Params = .{
        .metric = metric,
        .m = try positive(a.m, "m", 256),
        .ef_construction = try positive(a.ef_construction, "ef_construction", 100_000),
        .ef = a.ef,
        .ip_mode = switch (a.ip_mode) {
            0 => .direct,
            1 => .augmented,
            else => return status.fail(.invalid_argument, "Expected ip_mode to be 0 (direct) or 1 (augmented) but found {d}", .{a.ip_mode}),
        },
        .seed = checks.seedOf(a.seed),
    };
    const index = try ann.hnsw.Index.create(std.heap.c_allocator, a.items, f, params);
    a.out_handle[0] = try registered(.hnsw, index, metric, false);
}

/// An inverted-file index over k-means cells (zig/ann/ivf.zig), not yet built.
/// nlist 0 = about √n_items cells; nprobe 0 = the default cells probed.
const ivf_create_declaration: abi.Declaration = .{ .name = "tacit_ivf_create", .parallel = true, .params = &(itemParams() ++ [_]abi.Param{
    int("metric"),
    count("nlist"),
    count("nprobe"),
    int("seed"),
    output(.u64, "out_handle", fixed(1)),
}) };
pub const ivf_create = edge.Export(ivf_create_declaration, ivfCreate);

fn ivfCreate(pool: *ThreadPool, a: View(ivf_create_declaration)) Error!void {
    const f = try checkedItems(pool, a.items, a.n_items, a.f);
    const metric = try ann.parseMetric(a.metric);
    if (a.nlist > a.n_items) {
        return status.fail(.out_of_range, "Expected nlist to be at most n_items = {d} but found {d}", .{ a.n_items, a.nlist });
    }
    const params: ann.ivf.Params = .{ .metric = metric, .nlist = a.nlist, .nprobe = a.nprobe, .seed = checks.seedOf(a.seed) };
    const index = try ann.ivf.Index.create(std.heap.c_allocator, a.items, f, params);
    a.out_handle[0] = try registered(.ivf, index, metric, false);
}

/// A forest of random-projection trees (zig/ann/forest.zig), not yet built.
/// n_trees, search_k and leaf_size 0 = the defaults.
const forest_create_declaration: abi.Declaration = .{ .name = "tacit_forest_create", .parallel = true, .params = &(itemParams() ++ [_]abi.Param{
    int("metric"),
    count("n_trees"),
    count("search_k"),
    count("leaf_size"),
    int("seed"),
    output(.u64, "out_handle", fixed(1)),
}) };
pub const forest_create = edge.Export(forest_create_declaration, forestCreate);

fn forestCreate(pool: *ThreadPool, a: View(forest_create_declaration)) Error!void {
    const f = try checkedItems(pool, a.items, a.n_items, a.f);
    const metric = try ann.parseMetric(a.metric);
    const params: ann.forest.Params = .{
        .metric = metric,
        .n_trees = if (a.n_trees == 0) 0 else try positive(a.n_trees, "n_trees", 10_000),
        .search_k = a.search_k,
        .leaf_size = a.leaf_size,
        .seed = checks.seedOf(a.seed),
    };
    const index = try ann.forest.Index.create(std.heap.c_allocator, a.items, f, params);
    a.out_handle[0] = try registered(.forest, index, metric, false);
}

/// The next bounded slice of an index's build: out_progress = [done, total]
/// (done == total: built). Cancellable; a cancelled step can be run again.
const build_step_declaration: abi.Declaration = .{ .name = "tacit_ann_build_step", .long = true, .params = &.{
    abi.handle("index", .ann_index),
    output(.u64, "out_progress", fixed(2)),
} };
pub const build_step = edge.Export(build_step_declaration, buildStep);

fn buildStep(pool: *ThreadPool, a: View(build_step_declaration)) Error!void {
    const object = a.index.as(AnnIndex);
    var poll: status.Poll = .init(status.cancellation());
    const progress = try object.buildStep(pool, &poll);
    a.out_progress[0] = progress.done;
    a.out_progress[1] = progress.total;
}

/// out_info = [kind (1 hnsw, 2 ivf, 3 forest), metric, n_items, f,
/// default effort, max effort (clamped to 2^31 − 1), built 0/1].
const describe_declaration: abi.Declaration = .{ .name = "tacit_ann_describe", .parallel = false, .params = &.{
    abi.handle("index", .ann_index),
    output(.i32, "out_info", fixed(7)),
} };
pub const describe = edge.Export(describe_declaration, describeIndex);

fn describeIndex(_: *ThreadPool, a: View(describe_declaration)) Error!void {
    const object = a.index.as(AnnIndex);
    const int_max: usize = std.math.maxInt(i32);
    a.out_info[0] = @intFromEnum(object.kindOf());
    a.out_info[1] = @intFromEnum(object.metric);
    a.out_info[2] = @intCast(object.itemCount());
    a.out_info[3] = @intCast(object.factorCount());
    a.out_info[4] = @intCast(@min(object.defaultEffort(), int_max));
    a.out_info[5] = @intCast(@min(object.maxEffort(), int_max));
    a.out_info[6] = @intFromBool(object.built);
}

/// The top k items of each query through the index, exactly re-scored
/// against `targets` (the rows the index was built from; for cosine, unit
/// rows, as the queries), filters inside the search (zig/ann/search.zig):
/// exclude row q (sorted), item_mask, candidates. effort 0 = the index's
/// default; mode 0 = planned, 1 = the index alone, 2 = exact scan.
const search_declaration: abi.Declaration = .{ .name = "tacit_ann_search", .params = &([_]abi.Param{
    abi.handle("index", .ann_index),
    input(.f32, "queries", times(&.{ "n_q", "f" })),
    count("n_q"),
    input(.f32, "targets", times(&.{ "n_items", "f" })),
    count("n_items"),
    count("f"),
    optionalInput(.i32, "exclude_indptr", abi.plusOne("n_q")),
    input(.i32, "exclude_indices", abi.lastOf("exclude_indptr")),
    count("effort"),
    int("mode"),
} ++ abi.rankedOutputs("n_items", "n_q")) };
pub const ann_search = edge.Export(search_declaration, searchIndex);

fn searchIndex(pool: *ThreadPool, a: View(search_declaration)) Error!void {
    const object = a.index.as(AnnIndex);
    const k = try checks.resultCount(a.k);
    if (a.n_items != object.itemCount() or a.f != object.factorCount()) {
        return status.fail(.invalid_argument, "Expected targets of [{d}, {d}] (the index's items and factors) but found [{d}, {d}]", .{
            object.itemCount(), object.factorCount(), a.n_items, a.f,
        });
    }
    const mode: search.Mode = switch (a.mode) {
        0 => .planned,
        1 => .index_only,
        2 => .exact_only,
        else => return status.fail(.invalid_argument, "Expected mode to be 0 (planned), 1 (index only) or 2 (exact) but found {d}", .{a.mode}),
    };
    try checks.checkCandidates(a.candidates, a.n_items);
    const exclude_names: csr.Names = .{ .indptr = "exclude_indptr", .indices = "exclude_indices" };
    const exclusions: ?csr.Csr = if (a.exclude_indptr) |indptr|
        try checks.checkedCsr(pool, indptr, a.exclude_indices, null, a.n_items, .non_decreasing, exclude_names)
    else
        null;
    try checks.requireAllFinite(pool, a.queries, a.f, "queries");
    const request: search.Request = .{
        .queries = a.queries,
        .targets = a.targets,
        .f = a.f,
        .filter = .init(a.n_items, .{ .item_mask = a.item_mask, .candidates = a.candidates, .exclusions = exclusions }),
        .k = k,
        .effort = a.effort,
        .mode = mode,
        .out_ids = a.out_ids,
        .out_scores = a.out_scores,
    };
    try object.search(pool, &request);
}

/// out_len[0] = the bytes tacit_ann_serialize writes.
const serialized_len_declaration: abi.Declaration = .{ .name = "tacit_ann_serialized_len", .parallel = false, .params = &.{
    abi.handle("index", .ann_index),
    output(.u64, "out_len", fixed(1)),
} };
pub const serialized_len = edge.Export(serialized_len_declaration, serializedLen);

fn serializedLen(_: *ThreadPool, a: View(serialized_len_declaration)) Error!void {
    a.out_len[0] = a.index.as(AnnIndex).serializedLen();
}

/// The index's bytes (deterministic: same items, parameters and seed, same
/// bytes); n_bytes must equal tacit_ann_serialized_len.
const serialize_declaration: abi.Declaration = .{ .name = "tacit_ann_serialize", .parallel = false, .params = &.{
    abi.handle("index", .ann_index),
    count("n_bytes"),
    output(.u8, "out_bytes", times(&.{"n_bytes"})),
} };
pub const serialize = edge.Export(serialize_declaration, serializeIndex);

fn serializeIndex(_: *ThreadPool, a: View(serialize_declaration)) Error!void {
    const object = a.index.as(AnnIndex);
    if (!object.built) return status.fail(.invalid_argument, "Expected index to be built before it is saved but its build has not finished", .{});
    const len = object.serializedLen();
    if (a.n_bytes != len) return status.fail(.invalid_argument, "Expected n_bytes to be the index's {d} bytes but found {d}", .{ len, a.n_bytes });
    object.serialize(a.out_bytes);
}

/// An index of `kind` (1 hnsw, 2 ivf, 3 forest) and `metric` from its
/// serialized bytes, for n_items rows of f factors; every structure is
/// checked, so a damaged or foreign blob is refused, never searched.
const load_declaration: abi.Declaration = .{ .name = "tacit_ann_load", .params = &.{
    int("kind"),
    int("metric"),
    count("n_items"),
    count("f"),
    count("n_bytes"),
    input(.u8, "bytes", times(&.{"n_bytes"})),
    output(.u64, "out_handle", fixed(1)),
} };
pub const load = edge.Export(load_declaration, loadIndex);

fn loadIndex(_: *ThreadPool, a: View(load_declaration)) Error!void {
    const k = try ann.Kind.parse(a.kind);
    const metric = try ann.parseMetric(a.metric);
    const f = try checks.factorCount(a.f);
    switch (k) {
        inline else => |tag| {
            const index = try tag.Module().Index.deserialize(std.heap.c_allocator, a.bytes, a.n_items, f);
            if (index.indexMetric() != metric) {
                index.destroy(std.heap.c_allocator);
                return status.fail(.invalid_argument, "Expected an index of metric {s} but the bytes hold one of metric {s}", .{ @tagName(metric), @tagName(index.indexMetric()) });
            }
            a.out_handle[0] = try registered(tag, index, metric, true);
        },
    }
}
