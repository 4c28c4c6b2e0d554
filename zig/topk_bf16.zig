//! Exact top-k by dot product through a bf16 candidate pass: the same ids and
//! scores, bit for bit and ties included, as zig/topk.zig's float32 path.
//!
//! Pass 1 scores every eligible item against every query in bf16 on AMX tiles
//! (`tdpbf16ps`, 16 queries × 16 items × 32 factors per instruction, where the
//! CPU and Linux grant them: zig/cpu_features.zig), else with AVX512-BF16
//! (`vdpbf16ps`, one query × 16 items × 2 factors per instruction, on the
//! same tile layout; on AMD only, where it is fast) or, for tests, in a
//! scalar emulation. Each approximate score s̃_j comes with a rigorous error bound
//! e_j ≥ |s̃_j − s_j| against the exact path's score s_j (simd.dotInOrder's
//! float32 chain). Per query, T = the k-th largest lower bound s̃_j − e_j over
//! the eligible items; the candidates are {j : s̃_j + e_j ≥ T}. There are k
//! items with s_j ≥ s̃_j − e_j ≥ T, so the k-th largest exact score is ≥ T, and
//! every item with s_j at least that (the exact top-k and every item tied with
//! its last entry) has s̃_j + e_j ≥ s_j ≥ T: it is a candidate. Pass 2 scores
//! the candidates exactly (zig/ann/exact.zig, dotInOrder's arithmetic) into
//! zig/heap.zig's heap, which orders them as the exact path does.
//! T only grows while items are visited, so an item collected against the
//! running T is a superset of the final set; a query whose list outgrows its
//! buffer (many near-ties far below the top) is ranked by the float32 path.
//!
//! The bound. bf16 keeps 8 significant bits: rounding x to nearest even moves
//! it by ≤ u|x|, u = 2⁻⁸, and a value below ε = 2⁻¹²⁶ (the smallest normal
//! float32) may become 0 (AMX treats bf16 subnormals as zero, and flushes
//! tiny results). So per factor |q̃ỹ − qy| ≤ (2u + u²)|q||y| + (1+u)ε(|q| + |y|)
//! + ε² (+ ε for a flushed product; bf16 products are otherwise exact in
//! float32). The f additions of each path (AMX's and the exact chain's) add
//! ≤ γ_f Σ|terms| + f·ε with γ_f ≈ f·2⁻²⁴. With Σ|q_i||y_i| ≤ ‖q‖‖y‖ and
//! Σ|y_i| ≤ √f‖y‖ (Cauchy–Schwarz):
//!   e = A‖q‖‖y‖ + B(‖q‖ + ‖y‖) + C, A = 2u + u² + 2.1·γ_f(1+u)², B = 1.01(1+u)√f·ε,
//!   C = 4fε,
//! each multiplied by 1 + 2⁻¹⁰, which covers the float32 rounding of the norms
//! (computed in f64, so no square under- or overflows), of e itself and of
//! s̃ ± e: e ≥ A‖q‖‖y‖ ≥ |s̃|/130, so rounding s̃ ± e moves it by < 2⁻¹⁶e.
//! Queries whose ‖q‖·max‖y‖ exceeds 2¹⁰⁰ (where sums could overflow), or with
//! a norm above 2¹²⁰ on either side, are ranked by the float32 path.

const std = @import("std");
const builtin = @import("builtin");
const assert = std.debug.assert;
const topk = @import("topk.zig");
const exact = @import("ann/exact.zig");
const filter_ = @import("filter.zig");
const cpu_features = @import("cpu_features.zig");
const ThreadPool = @import("ThreadPool.zig");

const Heap = @import("heap.zig").TopK(i32, f32);
const Problem = topk.Problem;

/// Which pass-1 kernel runs: AMX tiles, AVX512-BF16, or their scalar
/// emulation (tests).
pub const Kernel = enum { amx, avx512_bf16, emulated };

/// The AMX and AVX512-BF16 kernels are x86-64 assembly: other targets
/// compile them out.
const has_amx_asm = builtin.cpu.arch == .x86_64;
/// The AVX512-BF16 kernel holds 512-bit vectors in registers, so it needs a
/// build for AVX-512 (the native one); the portable x86_64_v3 build omits it.
const has_avx512_bf16_asm = has_amx_asm and std.Target.x86.featureSetHas(builtin.cpu.features, .avx512bf16);

/// Whether `kernel` can run in this process.
pub fn kernelAvailable(kernel: Kernel) bool {
    return switch (kernel) {
        .amx => has_amx_asm and cpu_features.amxBf16(),
        .avx512_bf16 => has_avx512_bf16_asm and cpu_features.avx512Bf16(),
        .emulated => true,
    };
}

/// The hardware kernel that beats the float32 path on this CPU, or null (the
/// float32 path is then the only one): AMX where granted, else AVX512-BF16 on
/// AMD only (cpu_features.vendorAmd says why; tests still run it anywhere).
pub fn fastestKernel() ?Kernel {
    if (kernelAvailable(.amx)) return .amx;
    if (kernelAvailable(.avx512_bf16) and cpu_features.vendorAmd()) return .avx512_bf16;
    return null;
}

/// Items (and queries) per tile row: one AMX tile is 16 rows of 64 bytes.
const tile_rows = 16;
/// Factors per AMX chunk: 64 bytes of bf16.
const chunk_factors = 32;
/// Queries per task (a multiple of 2 tiles).
const group_queries = 256;
/// Items scored against a group's queries per block (stays in L2).
const block_items = 1024;
/// Candidates a query may collect: a multiple of k plus slack.
fn candidateCapacity(k: usize) usize {
    return 4 * k + 256;
}
/// Norm limits of the pass (else the float32 path): no bf16 value rounds to
/// infinity and no sum overflows.
const norm_single_max: f32 = 0x1p120;
const norm_product_max: f32 = 0x1p100;
const f_max = 4096;

pub const Error = error{ OutOfMemory, NonFiniteItem };

/// What the pass did, for tests and the bench: the final candidates (those
/// scored exactly) summed and at most over the queries, and the queries the
/// float32 path ranked instead.
pub const Stats = struct {
    candidates_total: u64 = 0,
    candidates_max: u64 = 0,
    fallbacks: u64 = 0,
};

/// Fills the problem's outputs exactly as topk.topkDot does (see the file
/// comment); `kernel` must be kernelAvailable.
pub fn topkDot(allocator: std.mem.Allocator, pool: *ThreadPool, problem: *const Problem, kernel: Kernel, stats: ?*Stats) Error!void {
    assert(kernelAvailable(kernel));
    const n_queries = problem.queryCount();
    if (n_queries == 0) return;
    if (problem.f > f_max) return topk.topkDot(allocator, pool, problem);
    var items: Items = try .init(allocator, pool, problem);
    defer items.deinit(allocator);
    if (items.non_finite) return error.NonFiniteItem;

    const fallback = try allocator.alloc(bool, n_queries);
    defer allocator.free(fallback);
    @memset(fallback, false);
    const threads = pool.threadCount();
    const capacity = candidateCapacity(problem.k);
    const candidates = try allocator.alloc(Candidate, threads * group_queries * capacity);
    defer allocator.free(candidates);
    const query_values = try allocator.alloc(u16, threads * group_queries * items.f_padded);
    defer allocator.free(query_values);

    var context: Context = .{
        .problem = problem,
        .items = &items,
        .kernel = kernel,
        .fallback = fallback,
        .capacity = capacity,
        .candidates = candidates,
        .query_values = query_values,
    };
    const n_groups = std.math.divCeil(usize, n_queries, group_queries) catch unreachable;
    pool.run(n_groups, &context, Context.runGroup);
    if (context.non_finite.load(.monotonic)) return error.NonFiniteItem;
    if (stats) |out| {
        out.candidates_total = context.candidates_total.load(.monotonic);
        out.candidates_max = context.candidates_max.load(.monotonic);
        out.fallbacks = 0;
        for (fallback) |fall_back| out.fallbacks += @intFromBool(fall_back);
    }

    // The rare queries the candidate pass gave up on, by the float32 path.
    for (fallback, 0..) |fall_back, query| {
        if (!fall_back) continue;
        try topk.topkDot(allocator, pool, &singleQuery(problem, query));
    }
}

/// The problem restricted to one query (its exclusion row, its output row).
fn singleQuery(problem: *const Problem, query: usize) Problem {
    const f = problem.f;
    const k = problem.k;
    var one_filter = problem.filter;
    if (problem.filter.exclusions) |exclusions| {
        one_filter.exclusions = .{ .indptr = exclusions.indptr[query..][0..2], .indices = exclusions.indices, .data = null };
    }
    return .{
        .queries = problem.queries[query * f ..][0..f],
        .items = problem.items,
        .f = f,
        .filter = one_filter,
        .k = k,
        .out_ids = problem.out_ids[query * k ..][0..k],
        .out_scores = problem.out_scores[query * k ..][0..k],
    };
}

const Candidate = struct { id: i32, upper: f32 };

/// The eligible items (unmasked positions) in bf16, in AMX's pair-interleaved
/// layout: tile t, chunk c is 16 rows (factor pairs) × 16 items × 2 bf16 at
/// values[((t·chunks + c)·16 + pair)·32 + item·2 + half]; then per item its
/// norm and id (unused slots of the last tile: zero values, id −1).
const Items = struct {
    values: []align(64) u16,
    norms: []f32,
    ids: []i32,
    count: usize,
    tiles: usize,
    chunks: usize,
    f_padded: usize,
    norm_max: f32,
    non_finite: bool,

    fn init(allocator: std.mem.Allocator, pool: *ThreadPool, problem: *const Problem) error{OutOfMemory}!Items {
        const f = problem.f;
        const chunks = std.math.divCeil(usize, f, chunk_factors) catch unreachable;
        var count: usize = 0;
        for (0..problem.filter.positionCount()) |position| {
            count += @intFromBool(!problem.filter.isMasked(problem.filter.itemAt(position)));
        }
        const tiles = std.math.divCeil(usize, count, tile_rows) catch unreachable;
        const ids = try allocator.alloc(i32, tiles * tile_rows);
        errdefer allocator.free(ids);
        const norms = try allocator.alloc(f32, tiles * tile_rows);
        errdefer allocator.free(norms);
        const values = try allocator.alignedAlloc(u16, .@"64", tiles * chunks * tile_rows * chunk_factors);
        errdefer allocator.free(values);
        var slot: usize = 0;
        for (0..problem.filter.positionCount()) |position| {
            const item = problem.filter.itemAt(position);
            if (problem.filter.isMasked(item)) continue;
            ids[slot] = @intCast(item);
            slot += 1;
        }
        @memset(ids[slot..], -1);
        var items: Items = .{
            .values = values,
            .norms = norms,
            .ids = ids,
            .count = count,
            .tiles = tiles,
            .chunks = chunks,
            .f_padded = chunks * chunk_factors,
            .norm_max = 0,
            .non_finite = false,
        };
        var convert: Convert = .{ .items = &items, .problem = problem };
        pool.run(std.math.divCeil(usize, tiles, Convert.tiles_per_task) catch unreachable, &convert, Convert.run);
        items.non_finite = convert.non_finite.load(.monotonic);
        items.norm_max = @bitCast(convert.norm_max_bits.load(.monotonic));
        return items;
    }

    fn deinit(items: *Items, allocator: std.mem.Allocator) void {
        allocator.free(items.values);
        allocator.free(items.norms);
        allocator.free(items.ids);
    }

    fn tileValues(items: *const Items, tile: usize) []const u16 {
        const len = items.chunks * tile_rows * chunk_factors;
        return items.values[tile * len ..][0..len];
    }
};

/// The parallel conversion of Items' tiles.
const Convert = struct {
    items: *Items,
    problem: *const Problem,
    non_finite: std.atomic.Value(bool) = .init(false),
    /// The largest norm's bits (norms are ≥ 0, so their bits order as they do).
    norm_max_bits: std.atomic.Value(u32) = .init(0),

    const tiles_per_task = 64;

    fn run(convert: *Convert, task: usize, _: usize) void {
        const items = convert.items;
        const f = convert.problem.f;
        const tile_start = task * tiles_per_task;
        const tile_end = @min(items.tiles, tile_start + tiles_per_task);
        const Chunk = @Vector(chunk_factors, f32);
        const Bits = @Vector(chunk_factors, u32);
        const Pairs = @Vector(chunk_factors / 2, u32);
        var norm_max: f32 = 0;
        var finite_check: Chunk = @splat(0);
        for (tile_start..tile_end) |tile| {
            const len = items.chunks * tile_rows * chunk_factors;
            // A factor pair (two bf16, the lower first) is one u32 of the tile.
            const pairs: []u32 = @alignCast(std.mem.bytesAsSlice(u32, std.mem.sliceAsBytes(items.values[tile * len ..][0..len])));
            for (0..tile_rows) |row| {
                const slot = tile * tile_rows + row;
                const id = items.ids[slot];
                var squares: Chunk = @splat(0);
                for (0..items.chunks) |chunk| {
                    const start = chunk * chunk_factors;
                    var chunk_values: Chunk = @splat(0);
                    if (id >= 0) {
                        const row_values = convert.problem.items[@as(usize, @intCast(id)) * f ..][0..f];
                        if (start + chunk_factors <= f) {
                            chunk_values = row_values[start..][0..chunk_factors].*;
                        } else {
                            var values: [chunk_factors]f32 = @splat(0);
                            @memcpy(values[0 .. f - start], row_values[start..]);
                            chunk_values = values;
                        }
                    }
                    finite_check += chunk_values - chunk_values;
                    squares += chunk_values * chunk_values;
                    // Round to nearest even, as toBf16.
                    const bits: Bits = @bitCast(chunk_values);
                    const rounded: @Vector(chunk_factors, u16) = @truncate((bits +% @as(Bits, @splat(0x7fff)) +% ((bits >> @splat(16)) & @as(Bits, @splat(1)))) >> @splat(16));
                    const chunk_pairs: [chunk_factors / 2]u32 = @as(Pairs, @bitCast(rounded));
                    for (chunk_pairs, 0..) |pair, p| pairs[(chunk * tile_rows + p) * tile_rows + row] = pair;
                }
                // The float32 sum of squares is accurate to (f + 1)·2⁻²⁴ relative
                // (within the bound's margin) unless squares under- or overflow;
                // then the row is summed again in f64.
                const sum_f32 = @reduce(.Add, squares);
                var sum: f64 = sum_f32;
                if (!(sum_f32 >= 0x1p-100 and sum_f32 <= 0x1p100) and id >= 0) {
                    sum = 0;
                    for (convert.problem.items[@as(usize, @intCast(id)) * f ..][0..f]) |value| sum += @as(f64, value) * value;
                }
                sum *= 1 + 0x1p-20 * @as(f64, @floatFromInt(f));
                const norm = roundUp(@sqrt(sum));
                items.norms[slot] = norm;
                norm_max = @max(norm_max, norm);
            }
        }
        if (@reduce(.Add, finite_check) != 0 or std.math.isNan(@reduce(.Add, finite_check))) convert.non_finite.store(true, .monotonic);
        _ = convert.norm_max_bits.fetchMax(@bitCast(norm_max), .monotonic);
    }
};

/// Round to nearest even (finite inputs; a value beyond bf16's range becomes
/// infinite, which the norm limit keeps out of every query that uses it).
fn toBf16(value: f32) u16 {
    const bits: u32 = @bitCast(value);
    const rounded = bits +% 0x7fff +% ((bits >> 16) & 1);
    return @truncate(rounded >> 16);
}

fn fromBf16(value: u16) f32 {
    return @bitCast(@as(u32, value) << 16);
}

/// An f64 norm as an f32 no smaller than it.
fn roundUp(value: f64) f32 {
    const narrow: f32 = @floatCast(value);
    return if (@as(f64, narrow) < value) std.math.nextAfter(f32, narrow, std.math.inf(f32)) else narrow;
}

/// e = alpha·‖y‖ + beta for one query (see the file comment).
const Bound = struct {
    alpha: f32,
    beta: f32,

    fn init(query_norm: f32, f: usize) Bound {
        const u: f64 = 0x1p-8;
        const epsilon: f64 = 0x1p-126;
        const f_float: f64 = @floatFromInt(f);
        const gamma = f_float * 0x1p-24;
        const margin = 1 + 0x1p-10;
        const a = (2 * u + u * u + 2.1 * gamma * (1 + u) * (1 + u)) * margin;
        const b = 1.01 * (1 + u) * @sqrt(f_float) * epsilon * margin;
        const c = 4 * f_float * epsilon * margin;
        const qn: f64 = query_norm;
        return .{ .alpha = roundUp(a * qn + b), .beta = roundUp(b * qn + c) };
    }
};

const Context = struct {
    problem: *const Problem,
    items: *const Items,
    kernel: Kernel,
    fallback: []bool,
    capacity: usize,
    candidates: []Candidate,
    query_values: []u16,
    non_finite: std.atomic.Value(bool) = .init(false),
    candidates_total: std.atomic.Value(u64) = .init(0),
    candidates_max: std.atomic.Value(u64) = .init(0),

    fn runGroup(context: *Context, group_index: usize, worker_index: usize) void {
        const problem = context.problem;
        const items = context.items;
        const query_start = group_index * group_queries;
        const query_end = @min(problem.queryCount(), query_start + group_queries);
        var group: Group = .{
            .context = context,
            .query_start = query_start,
            .query_end = query_end,
            .query_values = context.query_values[worker_index * group_queries * items.f_padded ..][0 .. group_queries * items.f_padded],
            .candidates = context.candidates[worker_index * group_queries * context.capacity ..][0 .. group_queries * context.capacity],
            .exclusion_ids = problem.filter.exclusionIds(),
        };
        group.init();
        if (comptime has_amx_asm) if (context.kernel == .amx) amx.configure();
        defer if (comptime has_amx_asm) if (context.kernel == .amx) amx.release();
        const block_tiles = block_items / tile_rows;
        var tile: usize = 0;
        while (tile < items.tiles) : (tile += block_tiles) {
            group.scoreBlock(tile, @min(items.tiles, tile + block_tiles));
        }
        for (query_start..query_end) |query| {
            if (!group.finish(query)) context.non_finite.store(true, .monotonic);
        }
    }
};

/// One task's queries: their bf16 rows, bounds, running thresholds, the
/// lower-bound heaps (kept in the output rows until the end) and candidates.
const Group = struct {
    context: *Context,
    query_start: usize,
    query_end: usize,
    /// [group_queries, f_padded] bf16; rows past query_end are zero.
    query_values: []u16,
    candidates: []Candidate,
    candidate_len: [group_queries]usize = @splat(0),
    heap_len: [group_queries]usize = @splat(0),
    /// Upper bounds below it are not candidates: the k-th largest lower bound
    /// so far (−Infinity before k), +Infinity once the query falls back.
    threshold: [group_queries]f32 = @splat(-std.math.inf(f32)),
    bounds: [group_queries]Bound = undefined,
    exclusion_ids: []const i32,
    exclusions: [group_queries]filter_.Cursor = undefined,

    fn init(group: *Group) void {
        const problem = group.context.problem;
        const items = group.context.items;
        const f = problem.f;
        @memset(group.query_values, 0);
        for (group.query_start..group.query_end) |query| {
            const local = query - group.query_start;
            const row = problem.queries[query * f ..][0..f];
            var sum: f64 = 0;
            for (row, 0..) |value, d| {
                sum += @as(f64, value) * value;
                group.query_values[local * items.f_padded + d] = toBf16(value);
            }
            const norm = roundUp(@sqrt(sum));
            group.bounds[local] = .init(norm, f);
            group.exclusions[local] = problem.filter.cursor(query);
            const in_range = norm <= norm_single_max and items.norm_max <= norm_single_max and norm * items.norm_max <= norm_product_max;
            if (!in_range) group.fallBack(query);
        }
    }

    fn fallBack(group: *Group, query: usize) void {
        group.threshold[query - group.query_start] = std.math.inf(f32);
        group.context.fallback[query] = true;
    }

    /// Scores the group's queries against tiles [tile_start, tile_end), two
    /// query tiles × two item tiles at a time.
    fn scoreBlock(group: *Group, tile_start: usize, tile_end: usize) void {
        const items = group.context.items;
        const query_tiles = std.math.divCeil(usize, group.query_end - group.query_start, tile_rows) catch unreachable;
        var query_tile: usize = 0;
        while (query_tile < query_tiles) : (query_tile += 2) {
            var tile = tile_start;
            while (tile < tile_end) : (tile += 2) {
                var scores: [2][2][tile_rows][tile_rows]f32 align(64) = undefined;
                const a = [2][]const u16{ group.queryTile(query_tile), group.queryTile(query_tile + 1) };
                const b = [2][]const u16{ items.tileValues(tile), items.tileValues(@min(tile + 1, items.tiles - 1)) };
                switch (group.context.kernel) {
                    .amx => if (comptime has_amx_asm) amx.product(a, b, items.chunks, items.f_padded, &scores) else unreachable,
                    .avx512_bf16 => if (comptime has_avx512_bf16_asm) avx512.product(a, b, items.chunks, items.f_padded, &scores) else unreachable,
                    .emulated => emulatedProduct(a, b, items.chunks, items.f_padded, &scores),
                }
                for (0..2) |qt| for (0..2) |it| {
                    if (it == 1 and tile + 1 >= tile_end) continue;
                    group.offerTile(query_tile + qt, tile + it, &scores[qt][it]);
                };
            }
        }
    }

    /// Rows [16·query_tile, +16) of query_values (a tile past the group's
    /// padding is the padding's zero rows again).
    fn queryTile(group: *const Group, query_tile: usize) []const u16 {
        const f_padded = group.context.items.f_padded;
        const last_tile: usize = group_queries / tile_rows - 1;
        const tile_index: usize = if (query_tile < last_tile) query_tile else last_tile;
        const start = tile_index * tile_rows * f_padded;
        return group.query_values[start..][0 .. tile_rows * f_padded];
    }

    fn offerTile(group: *Group, query_tile: usize, tile: usize, scores: *const [tile_rows][tile_rows]f32) void {
        const items = group.context.items;
        const Vec = @Vector(tile_rows, f32);
        const norms: Vec = items.norms[tile * tile_rows ..][0..tile_rows].*;
        const ids = items.ids[tile * tile_rows ..][0..tile_rows];
        for (0..tile_rows) |row| {
            const query = group.query_start + query_tile * tile_rows + row;
            if (query >= group.query_end) break;
            const local = query - group.query_start;
            const approximate: Vec = scores[row];
            const bound = group.bounds[local];
            const e = norms * @as(Vec, @splat(bound.alpha)) + @as(Vec, @splat(bound.beta));
            const upper = approximate + e;
            var bits: u16 = @bitCast(upper >= @as(Vec, @splat(group.threshold[local])));
            if (bits == 0) continue;
            const upper_array: [tile_rows]f32 = upper;
            const lower_array: [tile_rows]f32 = approximate - e;
            while (bits != 0) {
                const lane = @ctz(bits);
                bits &= bits - 1;
                const id = ids[lane];
                if (id < 0) break;
                if (group.exclusions[local].excludes(group.exclusion_ids, id)) continue;
                if (!group.collect(query, id, upper_array[lane], lower_array[lane])) break;
            }
        }
    }

    /// Adds a candidate and its lower bound; false once the query falls back.
    fn collect(group: *Group, query: usize, id: i32, upper: f32, lower: f32) bool {
        const local = query - group.query_start;
        const capacity = group.context.capacity;
        const list = group.candidates[local * capacity ..][0..capacity];
        var len = group.candidate_len[local];
        if (len == capacity) {
            // Keep only those still above the threshold.
            var kept: usize = 0;
            for (list[0..len]) |candidate| {
                if (candidate.upper < group.threshold[local]) continue;
                list[kept] = candidate;
                kept += 1;
            }
            len = kept;
            if (len > capacity / 2) {
                group.fallBack(query);
                return false;
            }
        }
        list[len] = .{ .id = id, .upper = upper };
        group.candidate_len[local] = len + 1;
        const heap = group.heapOf(query);
        const heap_len = heap.offer(group.heap_len[local], id, lower);
        group.heap_len[local] = heap_len;
        if (heap_len == heap.ids.len) group.threshold[local] = @max(group.threshold[local], heap.scores[0]);
        return true;
    }

    fn heapOf(group: *const Group, query: usize) Heap {
        const problem = group.context.problem;
        const k = problem.k;
        const capacity = @min(k, problem.filter.positionCount());
        return .init(problem.out_ids[query * k ..][0..capacity], problem.out_scores[query * k ..][0..capacity]);
    }

    /// Scores the query's final candidates exactly into its output row;
    /// false on a non-finite exact score.
    fn finish(group: *Group, query: usize) bool {
        const problem = group.context.problem;
        const local = query - group.query_start;
        if (group.context.fallback[query]) return true;
        const threshold = group.threshold[local];
        const capacity = group.context.capacity;
        const list = group.candidates[local * capacity ..][0..group.candidate_len[local]];
        var ids_buffer: [256]i32 = undefined;
        var scores_buffer: [256]f32 = undefined;
        const f = problem.f;
        const query_row = problem.queries[query * f ..][0..f];
        const heap = group.heapOf(query);
        var heap_len: usize = 0;
        var finite = true;
        var index: usize = 0;
        var scored: u64 = 0;
        while (index < list.len) {
            var n: usize = 0;
            while (index < list.len and n < ids_buffer.len) : (index += 1) {
                if (list[index].upper < threshold) continue;
                ids_buffer[n] = list[index].id;
                n += 1;
            }
            scored += n;
            finite = exact.scoreRows(query_row, problem.items, f, ids_buffer[0..n], scores_buffer[0..n]) and finite;
            for (ids_buffer[0..n], scores_buffer[0..n]) |id, score| heap_len = heap.offer(heap_len, id, score);
        }
        _ = group.context.candidates_total.fetchAdd(scored, .monotonic);
        _ = group.context.candidates_max.fetchMax(scored, .monotonic);
        heap.sortBestFirst(heap_len);
        const k = problem.k;
        Heap.pad(problem.out_ids[query * k ..][0..k], problem.out_scores[query * k ..][0..k], heap_len);
        return finite;
    }
};

/// scores[qt][it][r][n] = Σ_d a[qt][r·f_padded + d] · item n of b[it] at d,
/// in float32 from the exact bf16 products: what tdpbf16ps computes, up to
/// the order of its additions (which the bound does not assume).
fn emulatedProduct(a: [2][]const u16, b: [2][]const u16, chunks: usize, f_padded: usize, scores: *[2][2][tile_rows][tile_rows]f32) void {
    for (0..2) |qt| for (0..2) |it| for (0..tile_rows) |r| for (0..tile_rows) |n| {
        var sum: f32 = 0;
        for (0..chunks) |c| for (0..chunk_factors / 2) |pair| for (0..2) |half| {
            const d = c * chunk_factors + 2 * pair + half;
            const y = b[it][((c * tile_rows + pair) * tile_rows + n) * 2 + half];
            sum += fromBf16(a[qt][r * f_padded + d]) * fromBf16(y);
        };
        scores[qt][it][r][n] = sum;
    };
}

/// The AVX512-BF16 kernel. In an item tile's layout the 16 items' values of
/// one factor pair are one 64-byte vector (pair p of the tile at u16 offset
/// 32p), so `vdpbf16ps` with the query's pair broadcast adds that pair's
/// products for 16 items at once. Eight queries × two item tiles (16
/// accumulators) at a time; each pair's two item vectors serve all eight.
const avx512 = struct {
    const V16 = @Vector(16, f32);
    const query_rows = 8;

    inline fn dotPairs(sum: V16, query_pairs: V16, item_pairs: V16) V16 {
        return asm ("vdpbf16ps %[q], %[y], %[sum]"
            : [sum] "=v" (-> V16),
            : [q] "v" (query_pairs),
              [y] "v" (item_pairs),
              [in] "0" (sum),
        );
    }

    inline fn loadPairs(values: []const u16, pair: usize) V16 {
        return @as(*align(1) const V16, @ptrCast(values[pair * 2 * tile_rows ..][0 .. 2 * tile_rows].ptr)).*;
    }

    fn product(a: [2][]const u16, b: [2][]const u16, chunks: usize, f_padded: usize, scores: *[2][2][tile_rows][tile_rows]f32) void {
        const pairs = chunks * chunk_factors / 2;
        for (0..2) |qt| {
            var row: usize = 0;
            while (row < tile_rows) : (row += query_rows) {
                var sums: [query_rows][2]V16 = @splat(@splat(@splat(0)));
                for (0..pairs) |pair| {
                    const items0 = loadPairs(b[0], pair);
                    const items1 = loadPairs(b[1], pair);
                    inline for (0..query_rows) |r| {
                        const at = (row + r) * f_padded + 2 * pair;
                        const word = @as(*align(1) const u32, @ptrCast(a[qt][at..][0..2].ptr)).*;
                        const query_pairs: V16 = @bitCast(@as(@Vector(16, u32), @splat(word)));
                        sums[r][0] = dotPairs(sums[r][0], query_pairs, items0);
                        sums[r][1] = dotPairs(sums[r][1], query_pairs, items1);
                    }
                }
                inline for (0..query_rows) |r| {
                    scores[qt][0][row + r] = sums[r][0];
                    scores[qt][1][row + r] = sums[r][1];
                }
            }
        }
    }
};

/// The AMX kernel: tmm0–3 accumulate the 2 × 2 score tiles, tmm4–5 hold a
/// chunk of the two query tiles, tmm6–7 of the two item tiles.
const amx = struct {
    const Config = extern struct {
        palette: u8 = 1,
        start_row: u8 = 0,
        reserved: [14]u8 = @splat(0),
        colsb: [16]u16 = @splat(0),
        rows: [16]u8 = @splat(0),
    };

    fn configure() void {
        var config: Config align(64) = .{};
        for (0..8) |t| {
            config.colsb[t] = 64;
            config.rows[t] = tile_rows;
        }
        asm volatile ("ldtilecfg (%[config])"
            :
            : [config] "r" (&config),
            : .{ .memory = true });
    }

    fn release() void {
        asm volatile ("tilerelease" ::: .{ .memory = true });
    }

    fn product(a: [2][]const u16, b: [2][]const u16, chunks: usize, f_padded: usize, scores: *[2][2][tile_rows][tile_rows]f32) void {
        const a_stride: usize = f_padded * 2;
        const b_stride: usize = 64;
        asm volatile (
            \\ tilezero %%tmm0
            \\ tilezero %%tmm1
            \\ tilezero %%tmm2
            \\ tilezero %%tmm3
            ::: .{ .memory = true });
        for (0..chunks) |c| {
            const a0 = a[0][c * chunk_factors ..].ptr;
            const a1 = a[1][c * chunk_factors ..].ptr;
            const b0 = b[0][c * tile_rows * chunk_factors ..].ptr;
            const b1 = b[1][c * tile_rows * chunk_factors ..].ptr;
            asm volatile (
                \\ tileloadd (%[a0], %[as], 1), %%tmm4
                \\ tileloadd (%[a1], %[as], 1), %%tmm5
                \\ tileloadd (%[b0], %[bs], 1), %%tmm6
                \\ tileloadd (%[b1], %[bs], 1), %%tmm7
                \\ tdpbf16ps %%tmm6, %%tmm4, %%tmm0
                \\ tdpbf16ps %%tmm7, %%tmm4, %%tmm1
                \\ tdpbf16ps %%tmm6, %%tmm5, %%tmm2
                \\ tdpbf16ps %%tmm7, %%tmm5, %%tmm3
                :
                : [a0] "r" (a0),
                  [a1] "r" (a1),
                  [b0] "r" (b0),
                  [b1] "r" (b1),
                  [as] "r" (a_stride),
                  [bs] "r" (b_stride),
                : .{ .memory = true });
        }
        const out_stride: usize = tile_rows * 4;
        asm volatile (
            \\ tilestored %%tmm0, (%[c0], %[s], 1)
            \\ tilestored %%tmm1, (%[c1], %[s], 1)
            \\ tilestored %%tmm2, (%[c2], %[s], 1)
            \\ tilestored %%tmm3, (%[c3], %[s], 1)
            :
            : [c0] "r" (&scores[0][0]),
              [c1] "r" (&scores[0][1]),
              [c2] "r" (&scores[1][0]),
              [c3] "r" (&scores[1][1]),
              [s] "r" (out_stride),
            : .{ .memory = true });
    }
};

// ---------------------------------------------------------------------------

const testing = std.testing;
const helpers = @import("testing.zig");

const FactorSet = enum { normal, near_ties, large, huge, tiny, subnormal, mixed, negative };

/// Adversarial factors: `near_ties` repeats a few base items with 1-ulp
/// perturbations (and exact duplicates); `large` products near 1e26, `huge`
/// (1e15 values) past the pass's limit; `tiny` products near 1e-30,
/// `subnormal` (1e-20 values) in the subnormal range; `mixed` norms from 1e-10
/// to 1e10 item by item; `negative` scores all below zero.
fn fillFactors(random: std.Random, set: FactorSet, queries: []f32, items: []f32, f: usize) void {
    for (queries) |*v| v.* = random.floatNorm(f32);
    for (items) |*v| v.* = random.floatNorm(f32);
    switch (set) {
        .normal => {},
        .near_ties => {
            const bases = 3;
            for (0..items.len / f) |item| {
                const base = random.uintLessThan(usize, @min(bases, items.len / f));
                for (0..f) |d| {
                    var value = items[base * f + d];
                    const step = random.uintLessThan(u32, 4);
                    for (0..step) |_| value = std.math.nextAfter(f32, value, std.math.inf(f32));
                    items[item * f + d] = value;
                }
            }
            // Every query scores base items' near copies within a few ulps.
        },
        .large => for (items) |*v| {
            v.* *= 1e13;
        },
        .huge => for (items) |*v| {
            v.* *= 1e15;
        },
        .tiny => {
            for (items) |*v| v.* *= 1e-15;
            for (queries) |*v| v.* *= 1e-15;
        },
        .subnormal => {
            for (items) |*v| v.* *= 1e-20;
            for (queries) |*v| v.* *= 1e-20;
        },
        .mixed => for (0..items.len / f) |item| {
            const scale = std.math.pow(f32, 10, random.float(f32) * 20 - 10);
            for (items[item * f ..][0..f]) |*v| v.* *= scale;
        },
        .negative => {
            for (queries) |*v| v.* = @abs(v.*);
            for (items) |*v| v.* = -@abs(v.*);
        },
    }
}

fn expectSameRanking(expected: helpers.Ranking, actual: helpers.Ranking) !void {
    try testing.expectEqualSlices(i32, expected.ids, actual.ids);
    for (expected.scores, actual.scores) |e, a| try testing.expectEqual(@as(u32, @bitCast(e)), @as(u32, @bitCast(a)));
}

test "the bf16 candidate pass equals the float32 path bit for bit on adversarial factors and every filter" {
    const allocator = testing.allocator;
    var prng = std.Random.DefaultPrng.init(31);
    const random = prng.random();
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    const n_queries = 37;
    const n_items = 301;
    var kernels_buffer: [3]Kernel = undefined;
    var n_kernels: usize = 0;
    for ([_]Kernel{ .emulated, .avx512_bf16, .amx }) |kernel| {
        if (!kernelAvailable(kernel)) continue;
        kernels_buffer[n_kernels] = kernel;
        n_kernels += 1;
    }
    const kernels = kernels_buffer[0..n_kernels];
    var exclusions = try helpers.randomCsr(allocator, random, .{ .n_rows = n_queries, .n_cols = n_items, .density = 0.2, .repeat = 0.1 });
    defer exclusions.deinit(allocator);
    var mask: [n_items]u8 = undefined;
    helpers.randomMask(random, &mask, 0.2);
    const candidates = try helpers.randomSubset(allocator, random, n_items, 0.4);
    defer allocator.free(candidates);
    var ranked_by_pass: usize = 0;
    for ([_]usize{ 1, 3, 17, 64, 100 }) |f| {
        const queries = try allocator.alloc(f32, n_queries * f);
        defer allocator.free(queries);
        const items = try allocator.alloc(f32, n_items * f);
        defer allocator.free(items);
        for (std.enums.values(FactorSet)) |set| {
            fillFactors(random, set, queries, items, f);
            for ([_]usize{ 1, 3, 17, 64, 400 }) |k| {
                var expected: helpers.Ranking = try .init(allocator, n_queries, k);
                defer expected.deinit(allocator);
                var actual: helpers.Ranking = try .init(allocator, n_queries, k);
                defer actual.deinit(allocator);
                for (0..helpers.filter_combinations) |combination| {
                    const problem_filter = helpers.filterCombination(n_items, combination, .{
                        .exclusions = exclusions.view(),
                        .item_mask = &mask,
                        .candidates = candidates,
                    });
                    const exact_problem: Problem = .{ .queries = queries, .items = items, .f = f, .filter = problem_filter, .k = k, .out_ids = expected.ids, .out_scores = expected.scores };
                    try topk.topkDot(allocator, &pool, &exact_problem);
                    for (kernels) |kernel| {
                        var problem = exact_problem;
                        problem.out_ids = actual.ids;
                        problem.out_scores = actual.scores;
                        @memset(actual.ids, 7);
                        var stats: Stats = .{};
                        try topkDot(allocator, &pool, &problem, kernel, &stats);
                        expectSameRanking(expected, actual) catch |err| {
                            std.debug.print("f = {d}, set = {s}, k = {d}, filter {d}, kernel {s}\n", .{ f, @tagName(set), k, combination, @tagName(kernel) });
                            return err;
                        };
                        ranked_by_pass += n_queries - stats.fallbacks;
                    }
                }
            }
        }
    }
    // Most queries went through the candidate pass, not the fallback.
    try testing.expect(ranked_by_pass > 5 * 8 * 5 * helpers.filter_combinations * n_queries / 2);
}

test "the bound holds for the emulated bf16 scores of every item" {
    var prng = std.Random.DefaultPrng.init(37);
    const random = prng.random();
    const f = 100;
    for (std.enums.values(FactorSet)) |set| {
        var queries: [f]f32 = undefined;
        var items: [16 * f]f32 = undefined;
        fillFactors(random, set, &queries, &items, f);
        var q_norm_sq: f64 = 0;
        for (queries) |v| q_norm_sq += @as(f64, v) * v;
        const bound: Bound = .init(roundUp(@sqrt(q_norm_sq)), f);
        for (0..16) |item| {
            const row = items[item * f ..][0..f];
            var y_norm_sq: f64 = 0;
            var approximate: f32 = 0;
            for (row, queries) |y, q| {
                y_norm_sq += @as(f64, y) * y;
                approximate += fromBf16(toBf16(q)) * fromBf16(toBf16(y));
            }
            const y_norm = roundUp(@sqrt(y_norm_sq));
            if (!(y_norm <= norm_single_max)) continue;
            const exact_score = @import("simd.zig").dotInOrder(&queries, row);
            const e = y_norm * bound.alpha + bound.beta;
            try testing.expect(approximate - e <= exact_score and exact_score <= approximate + e);
        }
    }
}

test "a NaN eligible item fails the pass as it fails the float32 path" {
    const allocator = testing.allocator;
    var pool: ThreadPool = .{};
    pool.start(1);
    defer pool.stop();
    const queries = [_]f32{ 1, 0 };
    var items = [_]f32{ 1, 2, std.math.nan(f32), 4 };
    var ids: [1]i32 = undefined;
    var scores: [1]f32 = undefined;
    const problem: Problem = .{ .queries = &queries, .items = &items, .f = 2, .filter = .init(2, .{}), .k = 1, .out_ids = &ids, .out_scores = &scores };
    try testing.expectError(error.NonFiniteItem, topkDot(allocator, &pool, &problem, .emulated, null));
}
