//! A hierarchical navigable small world graph (HNSW; Malkov & Yashunin,
//! "Efficient and robust approximate nearest neighbor search using
//! Hierarchical Navigable Small World graphs", arXiv 1603.09320): the index of
//! kind.zig for `.ip` and `.cosine`.
//!
//! Similarity. Every traversal scores by one dot product over a traversal
//! copy of the items (larger is closer):
//!   - `.cosine`: the rows normalised to unit length (the query arrives unit);
//!   - `.ip` with `.direct`: the rows as given, the graph built and searched by
//!     the inner product itself (ip-NSW; Morozov & Babenko, "Non-metric
//!     similarity graphs for maximum inner product search", NeurIPS 2018);
//!   - `.ip` with `.augmented`: each row gets one more column
//!     sqrt(max_norm² − ‖x‖²) and the query a 0 there (Bachrach et al.,
//!     "Speeding up the Xbox recommender system using a Euclidean
//!     transformation for inner-product spaces", RecSys 2014, §3). Every
//!     augmented row has norm max_norm, so between items the dot product orders
//!     exactly as the Euclidean distance does (the graph is built as an L2/cosine
//!     graph in f + 1 dimensions), while a query's dot product with an
//!     augmented row is its inner product with the row.
//!
//! Layout. Layer 0 is one array of fixed-size node blocks, node-major: a
//! block is [count u32 | 2m links u32 | padding | vector f32 × dim_padded],
//! 64-byte aligned with the vector on its own cache lines, so expanding a node
//! reads its header and scoring a neighbour reads its vector, each a run of
//! adjacent lines. The vector is zero-padded to a multiple of `simd.lanes` and
//! so is the query, so a dot product is whole `@Vector` loads with no tail.
//! Upper layers (a node of level L has layers 1..L; about 1/(m−1) of the nodes
//! have any) live in one compact array of [count | m links] blocks, a node's
//! blocks consecutive from `upper_offset[node]`.
//!
//! Build (Algorithm 1 with the neighbour selection of Algorithm 4, without
//! extendCandidates or keepPrunedConnections; a node keeps all candidates
//! when it has no more than it may link, as hnswlib does). Levels are
//! floor(−ln(U)·mL) with mL = 1/ln(m), drawn from stream(seed, item) (so they
//! depend on the item only) and computed exactly as the largest L with
//! U ≤ m^−L. Items are inserted in id order: the first `sequential_prefix` one
//! at a time, then in batches of min(batch_cap, inserted / batch_divisor).
//! Every node of a batch searches the graph as it stood at the batch's start
//! (in parallel, read-only) and also scores the batch's earlier members
//! exactly, so it sees every node a sequential build would have shown it; it
//! picks its own links with the heuristic and writes them into its own lists
//! (no other task reads them). The reverse links are then proposals
//! (layer, target, source), sorted, and each target merges its proposals in
//! source order (pruning with the heuristic when over capacity), one task per
//! group of targets. Nothing depends on the thread count or on how the steps
//! are spaced, so the bytes are the same for any of them. A last pass makes
//! every node reachable on layer 0 from the entry point (see `connect`), and
//! the layer-0 search starts from the entry point too, so at maxEffort the
//! search scores every item and returns the exact top.
//!
//! Search (Algorithm 2): greedy descent with ef = 1 on the upper layers, then
//! layer 0 with a candidate queue and a result heap (zig/heap.zig's TopK) of
//! size max(effort, out.len). An item the filter excludes still routes the
//! search (it enters the queue) but never the results; the search stops when
//! the best candidate is worse than the worst result and the result set is
//! full. Effort 0 means `default_effort` (or `Params.ef`); any effort is
//! capped at n_items, and Scratch is sized for that (a visited mark, a queue
//! entry and a result entry per item: 20 bytes per item and thread), so
//! searchOne never allocates.

const std = @import("std");
const assert = std.debug.assert;
const kind = @import("kind.zig");
const status = @import("../status.zig");
const simd = @import("../simd.zig");
const ThreadPool = @import("../ThreadPool.zig");
const Filter = @import("../filter.zig").Filter;
const Visited = @import("visited.zig").Visited;
const serial = @import("serial.zig");
const random = @import("../sgd/random.zig");
const TopK = @import("../heap.zig").TopK(i32, f32);
const Error = status.Error;
const Poll = status.Poll;

comptime {
    kind.check(@This());
}

const lanes = simd.lanes;
const V = simd.V;

/// The search effort (ef) when neither the caller nor `Params.ef` gives one.
pub const default_effort: usize = 50;
/// Levels are 0..level_count_max − 1 (a level past it would need more than
/// m^31 items).
const level_count_max = 32;
pub const m_max: usize = 256;
const format_magic = "hnsw";
const format_version: u32 = 1;
const header_len = 88;
/// Words (u32) per cache line: node blocks and vectors start on one.
const line_words = 64 / @sizeOf(u32);
const unused_link: u32 = std.math.maxInt(u32);

pub const IpMode = enum(u8) {
    /// ip-NSW: graph and search by the inner product itself.
    direct = 0,
    /// The inner-product-to-cosine reduction (one extra column).
    augmented = 1,
};

pub const Params = struct {
    metric: kind.Metric,
    seed: u64,
    /// Links per node on the upper layers (2·m on layer 0); 2..m_max.
    m: usize = 16,
    /// Candidates kept while inserting (raised to m when smaller).
    ef_construction: usize = 200,
    /// The search effort when the caller passes 0; 0 = `default_effort`.
    ef: usize = 0,
    /// How `.ip` is searched; ignored for `.cosine`. `.direct` by the
    /// numbers: on 50 gaussian clusters with varied norms its recall@10 at
    /// ef = 10..40 is 0.89–0.99 against 0.59–0.90 for `.augmented` at
    /// 50K × 64 (and 0.91–0.99 against 0.73–0.92 at 5K × 32), at equal speed.
    ip_mode: IpMode = .direct,
};

/// The batch schedule (fixed in production; tests vary it to check that a
/// batched build matches a sequential one).
pub const Schedule = struct {
    sequential_prefix: usize = 1024,
    batch_divisor: usize = 32,
    batch_cap: usize = 1024,
    /// Items one buildStep inserts at least (whole batches; the last may pass it).
    step_items: usize = 1024,

    fn batchLen(schedule: Schedule, inserted: usize, n_items: usize) usize {
        assert(inserted < n_items);
        const len = if (inserted < schedule.sequential_prefix)
            1
        else
            std.math.clamp(inserted / schedule.batch_divisor, 1, schedule.batch_cap);
        return @min(len, n_items - inserted);
    }
};

const Seed = struct { id: u32, sim: f32 };

/// A scored node; lists of them sort best first (similarity descending, id
/// ascending), the order of zig/heap.zig.
const Pair = struct {
    id: u32,
    sim: f32,

    fn better(a: Pair, b: Pair) bool {
        return a.sim > b.sim or (a.sim == b.sim and a.id < b.id);
    }

    fn lessThan(_: void, a: Pair, b: Pair) bool {
        return better(a, b);
    }
};

/// The candidate queue of a layer search: a binary max-heap (best at the root).
const Queue = struct {
    ids: []u32,
    sims: []f32,
    len: usize = 0,

    fn better(sim_a: f32, id_a: u32, sim_b: f32, id_b: u32) bool {
        return sim_a > sim_b or (sim_a == sim_b and id_a < id_b);
    }

    fn push(queue: *Queue, id: u32, sim: f32) void {
        assert(queue.len < queue.ids.len);
        var i = queue.len;
        queue.len += 1;
        while (i > 0) {
            const parent = (i - 1) / 2;
            if (!better(sim, id, queue.sims[parent], queue.ids[parent])) break;
            queue.ids[i] = queue.ids[parent];
            queue.sims[i] = queue.sims[parent];
            i = parent;
        }
        queue.ids[i] = id;
        queue.sims[i] = sim;
    }

    fn pop(queue: *Queue) Seed {
        assert(queue.len > 0);
        const top: Seed = .{ .id = queue.ids[0], .sim = queue.sims[0] };
        queue.len -= 1;
        const len = queue.len;
        if (len == 0) return top;
        const id = queue.ids[len];
        const sim = queue.sims[len];
        var i: usize = 0;
        while (true) {
            var child = 2 * i + 1;
            if (child >= len) break;
            if (child + 1 < len and better(queue.sims[child + 1], queue.ids[child + 1], queue.sims[child], queue.ids[child])) child += 1;
            if (!better(queue.sims[child], queue.ids[child], sim, id)) break;
            queue.ids[i] = queue.ids[child];
            queue.sims[i] = queue.sims[child];
            i = child;
        }
        queue.ids[i] = id;
        queue.sims[i] = sim;
        return top;
    }
};

/// What one layer search needs: sized for n_items nodes and `result_capacity`
/// results, so it never allocates.
const Search = struct {
    visited: Visited,
    queue: Queue,
    result_ids: []i32,
    result_scores: []f32,
    /// A node's unvisited neighbours and their scores (capacity 2m).
    gather_ids: []u32,
    gather_sims: []f32,

    fn init(allocator: std.mem.Allocator, n_items: usize, result_capacity: usize, gather_capacity: usize) Error!Search {
        var visited: Visited = try .init(allocator, n_items);
        errdefer visited.deinit(allocator);
        const queue_ids = try allocator.alloc(u32, n_items);
        errdefer allocator.free(queue_ids);
        const queue_sims = try allocator.alloc(f32, n_items);
        errdefer allocator.free(queue_sims);
        const result_ids = try allocator.alloc(i32, result_capacity);
        errdefer allocator.free(result_ids);
        const result_scores = try allocator.alloc(f32, result_capacity);
        errdefer allocator.free(result_scores);
        const gather_ids = try allocator.alloc(u32, gather_capacity);
        errdefer allocator.free(gather_ids);
        const gather_sims = try allocator.alloc(f32, gather_capacity);
        return .{
            .visited = visited,
            .queue = .{ .ids = queue_ids, .sims = queue_sims },
            .result_ids = result_ids,
            .result_scores = result_scores,
            .gather_ids = gather_ids,
            .gather_sims = gather_sims,
        };
    }

    fn deinit(search: *Search, allocator: std.mem.Allocator) void {
        search.visited.deinit(allocator);
        allocator.free(search.queue.ids);
        allocator.free(search.queue.sims);
        allocator.free(search.result_ids);
        allocator.free(search.result_scores);
        allocator.free(search.gather_ids);
        allocator.free(search.gather_sims);
        search.* = undefined;
    }
};

/// One build thread's scratch.
const Worker = struct {
    search: Search,
    /// Candidates of an insertion (graph results then batch-mates), or a
    /// target's links and proposals while it is pruned.
    candidates: []Pair,
    ids: []u32,
    sims: []f32,
    mate_ids: []u32,
    mate_sims: []f32,
    mate_heap_ids: []i32,
    mate_heap_scores: []f32,
    selected: []u32,

    fn init(allocator: std.mem.Allocator, index: *const Index) Error!Worker {
        const n = index.n_items;
        const ef = index.ef_construction;
        const cap0 = 2 * index.params.m;
        const batch_cap = index.schedule.batch_cap;
        const candidate_capacity = @max(2 * ef, cap0 + batch_cap);
        var search: Search = try .init(allocator, n, ef, cap0);
        errdefer search.deinit(allocator);
        const candidates = try allocator.alloc(Pair, candidate_capacity);
        errdefer allocator.free(candidates);
        const ids = try allocator.alloc(u32, candidate_capacity);
        errdefer allocator.free(ids);
        const sims = try allocator.alloc(f32, candidate_capacity);
        errdefer allocator.free(sims);
        const mate_ids = try allocator.alloc(u32, batch_cap);
        errdefer allocator.free(mate_ids);
        const mate_sims = try allocator.alloc(f32, batch_cap);
        errdefer allocator.free(mate_sims);
        const mate_heap_ids = try allocator.alloc(i32, ef);
        errdefer allocator.free(mate_heap_ids);
        const mate_heap_scores = try allocator.alloc(f32, ef);
        errdefer allocator.free(mate_heap_scores);
        const selected = try allocator.alloc(u32, cap0);
        return .{
            .search = search,
            .candidates = candidates,
            .ids = ids,
            .sims = sims,
            .mate_ids = mate_ids,
            .mate_sims = mate_sims,
            .mate_heap_ids = mate_heap_ids,
            .mate_heap_scores = mate_heap_scores,
            .selected = selected,
        };
    }

    fn deinit(worker: *Worker, allocator: std.mem.Allocator) void {
        worker.search.deinit(allocator);
        allocator.free(worker.candidates);
        allocator.free(worker.ids);
        allocator.free(worker.sims);
        allocator.free(worker.mate_ids);
        allocator.free(worker.mate_sims);
        allocator.free(worker.mate_heap_ids);
        allocator.free(worker.mate_heap_scores);
        allocator.free(worker.selected);
        worker.* = undefined;
    }
};

/// The build's scratch, kept between steps and freed when the build ends.
const BuildState = struct {
    workers: []Worker,
    /// Reverse-link proposals of a batch: layer << 64 | target << 32 | source.
    proposals: std.ArrayList(u128) = .empty,
    /// Where each (layer, target) run of the sorted proposals starts.
    group_starts: std.ArrayList(u32) = .empty,

    fn deinit(state: *BuildState, allocator: std.mem.Allocator) void {
        for (state.workers) |*worker| worker.deinit(allocator);
        allocator.free(state.workers);
        state.proposals.deinit(allocator);
        state.group_starts.deinit(allocator);
    }
};

/// The graph as it stood when a batch started: what its searches read.
const Frozen = struct {
    inserted: usize,
    entry: u32,
    max_level: usize,
};

pub const Index = struct {
    allocator: std.mem.Allocator,
    params: Params,
    n_items: usize,
    f: usize,
    /// Traversal dimension: f, or f + 1 for `.ip` with `.augmented`.
    dim: usize,
    /// dim rounded up to a multiple of simd.lanes.
    dim_padded: usize,
    /// params.ef_construction raised to m and capped at n_items (a search
    /// with ef ≥ n_items is exhaustive either way, so the cap changes nothing).
    ef_construction: usize,
    /// Words per layer-0 block, and where in it the vector starts.
    stride: usize,
    vector_offset: usize,
    /// n_items blocks of `stride` words.
    nodes: []align(64) u32,
    levels: []u8,
    /// The first upper block of each node (meaningful where levels[node] ≥ 1).
    upper_offset: []usize,
    /// Blocks of 1 + m words: [count | m links].
    upper_links: []u32,
    /// The largest item norm (`.augmented` only, else 0).
    max_norm: f32,
    /// Items 0..inserted are in the graph.
    inserted: usize,
    entry: u32,
    max_level: usize,
    schedule: Schedule = .{},
    build: ?BuildState = null,

    /// Copies the rows into the traversal layout and draws every level.
    pub fn create(allocator: std.mem.Allocator, items: []const f32, f: usize, params: Params) Error!*Index {
        if (f == 0) return status.fail(.invalid_argument, "Expected f (factors per item) to be at least 1 but found 0", .{});
        if (items.len % f != 0) {
            return status.fail(.invalid_argument, "Expected items to hold whole rows of {d} factors but found {d} values", .{ f, items.len });
        }
        try checkParams(params);
        const n_items = items.len / f;
        if (n_items > std.math.maxInt(i32)) {
            return status.fail(.out_of_range, "Expected at most {d} items but found {d}", .{ std.math.maxInt(i32), n_items });
        }
        const levels = try allocator.alloc(u8, n_items);
        for (levels, 0..) |*level, item| level.* = drawLevel(params.seed, item, params.m);
        const index = try allocate(allocator, params, n_items, f, levels);
        errdefer index.destroyParts();

        if (index.dim > f) index.max_norm = maxNorm(items, f);
        for (0..n_items) |item| index.copyRow(item, items[item * f ..][0..f]);
        index.clearLinks();
        return index;
    }

    /// Frees with the allocator `create` or `deserialize` was given.
    pub fn destroy(index: *Index, allocator: std.mem.Allocator) void {
        _ = allocator;
        index.destroyParts();
    }

    fn destroyParts(index: *Index) void {
        const allocator = index.allocator;
        if (index.build) |*state| state.deinit(allocator);
        allocator.free(index.nodes);
        allocator.free(index.levels);
        allocator.free(index.upper_offset);
        allocator.free(index.upper_links);
        allocator.destroy(index);
    }

    pub fn itemCount(index: *const Index) usize {
        return index.n_items;
    }

    pub fn factorCount(index: *const Index) usize {
        return index.f;
    }

    pub fn indexMetric(index: *const Index) kind.Metric {
        return index.params.metric;
    }

    /// `Params.ef`, or `default_effort` (50) when that is 0.
    pub fn defaultEffort(index: *const Index) usize {
        return if (index.params.ef != 0) index.params.ef else default_effort;
    }

    /// ef = n_items: the layer-0 search then visits every node reachable from
    /// the entry point, which is every node once the build is complete.
    pub fn maxEffort(index: *const Index) usize {
        return index.n_items;
    }

    pub const Scratch = struct {
        search: Search,
        /// The query, zero-padded to dim_padded (and 0 in the augmented column).
        query: []f32,

        /// Sized for effort up to n_items (maxEffort).
        pub fn init(allocator: std.mem.Allocator, index: *const Index) Error!Scratch {
            var search: Search = try .init(allocator, index.n_items, index.n_items, 2 * index.params.m);
            errdefer search.deinit(allocator);
            const query = try allocator.alloc(f32, index.dim_padded);
            @memset(query, 0);
            return .{ .search = search, .query = query };
        }

        pub fn deinit(scratch: *Scratch, allocator: std.mem.Allocator) void {
            scratch.search.deinit(allocator);
            allocator.free(scratch.query);
            scratch.* = undefined;
        }
    };

    /// Inserts the next batches (at least `schedule.step_items` items, whole
    /// batches) and, after the last, makes the graph connected.
    pub fn buildStep(index: *Index, pool: *ThreadPool, poll: *Poll) Error!kind.Progress {
        const n = index.n_items;
        if (index.inserted == n) return index.progress();
        const state = try index.buildState(pool.threadCount());
        var inserted_this_step: usize = 0;
        while (index.inserted < n and inserted_this_step < index.schedule.step_items) {
            const batch_start = index.inserted;
            const batch_len = index.schedule.batchLen(batch_start, n);
            const work = batch_len * index.ef_construction * 2 * index.params.m * index.dim_padded;
            if (poll.stop(work)) return index.cancelled();
            const frozen: Frozen = .{ .inserted = index.inserted, .entry = index.entry, .max_level = index.max_level };
            if (batch_len == 1) {
                index.insertNode(&state.workers[0], @intCast(batch_start), @intCast(batch_start), frozen);
            } else {
                var job: InsertJob = .{
                    .index = index,
                    .batch_start = @intCast(batch_start),
                    .frozen = frozen,
                    .cancellation = poll.cancellation,
                };
                pool.run(batch_len, &job, InsertJob.run);
                if (job.stopped.load(.monotonic)) {
                    // The batch's own lists go back to empty, as if it never started.
                    for (batch_start..batch_start + batch_len) |node| index.clearNodeLinks(node);
                    poll.stopped = true;
                    return index.cancelled();
                }
            }
            // From here on nothing is cancelled, so a batch is applied whole.
            try index.applyReverseLinks(pool, state, batch_start, batch_start + batch_len);
            for (batch_start..batch_start + batch_len) |node| {
                if (node == 0 or index.levels[node] > index.max_level) {
                    index.entry = @intCast(node);
                    index.max_level = index.levels[node];
                }
            }
            index.inserted += batch_len;
            inserted_this_step += batch_len;
        }
        if (index.inserted == n) {
            try index.connect(&state.workers[0]);
            state.deinit(index.allocator);
            index.build = null;
        }
        return index.progress();
    }

    fn progress(index: *const Index) kind.Progress {
        return .{ .done = index.inserted, .total = index.n_items };
    }

    fn cancelled(index: *const Index) Error {
        return status.fail(.cancelled, "The HNSW build was cancelled by its caller after {d} of {d} items", .{ index.inserted, index.n_items });
    }

    fn buildState(index: *Index, thread_count: usize) Error!*BuildState {
        if (index.build) |*state| {
            if (state.workers.len >= thread_count) return state;
            state.deinit(index.allocator);
            index.build = null;
        }
        const allocator = index.allocator;
        const workers = try allocator.alloc(Worker, thread_count);
        var ready: usize = 0;
        errdefer {
            for (workers[0..ready]) |*worker| worker.deinit(allocator);
            allocator.free(workers);
        }
        while (ready < thread_count) : (ready += 1) workers[ready] = try .init(allocator, index);
        index.build = .{ .workers = workers };
        return &index.build.?;
    }

    /// Writes into `out` up to out.len admissible ids, best first.
    pub fn searchOne(index: *const Index, scratch: *Scratch, query: []const f32, q: usize, filter: *const Filter, effort: usize, out: []i32) usize {
        assert(query.len == index.f);
        assert(filter.n_items == index.n_items);
        if (out.len == 0 or index.inserted == 0) return 0;
        const padded = scratch.query;
        @memcpy(padded[0..index.f], query);
        const search = &scratch.search;
        const requested = if (effort == 0) index.defaultEffort() else effort;
        const ef = @min(@max(requested, out.len), index.n_items);
        const start: Seed = .{ .id = index.entry, .sim = dotPadded(padded, index.vector(index.entry)) };
        const seed = index.descend(search, padded, start, index.max_level, 0);
        // The entry point seeds layer 0 too: every node is reachable from it.
        const seeds = [_]Seed{ seed, start };
        // A filter with no parts allows everything: skip its calls.
        const parts = filter.item_mask != null or filter.candidates != null or filter.exclusions != null;
        const len = index.searchLayer(search, padded, &seeds, 0, ef, if (parts) filter else null, q);
        const heap: TopK = .init(search.result_ids[0..ef], search.result_scores[0..ef]);
        heap.sortBestFirst(len);
        const written = @min(len, out.len);
        @memcpy(out[0..written], search.result_ids[0..written]);
        return written;
    }

    // -----------------------------------------------------------------------
    // Layout.

    /// Takes `levels` (freed here when it fails).
    fn allocate(allocator: std.mem.Allocator, params: Params, n_items: usize, f: usize, levels: []u8) Error!*Index {
        errdefer allocator.free(levels);
        const m = params.m;
        const dim = f + @intFromBool(params.metric == .ip and params.ip_mode == .augmented);
        const dim_padded = std.mem.alignForward(usize, dim, lanes);
        const vector_offset = std.mem.alignForward(usize, 1 + 2 * m, line_words);
        const stride = std.mem.alignForward(usize, vector_offset + dim_padded, line_words);
        const nodes_len = std.math.mul(usize, n_items, stride) catch return error.OutOfMemory;
        const nodes = try allocator.alignedAlloc(u32, .fromByteUnits(64), nodes_len);
        errdefer allocator.free(nodes);
        const upper_offset = try allocator.alloc(usize, n_items);
        errdefer allocator.free(upper_offset);
        var blocks: usize = 0;
        for (levels, upper_offset) |level, *offset| {
            offset.* = blocks;
            blocks += level;
        }
        const upper_links = try allocator.alloc(u32, blocks * (1 + m));
        errdefer allocator.free(upper_links);
        const index = try allocator.create(Index);
        index.* = .{
            .allocator = allocator,
            .params = params,
            .n_items = n_items,
            .f = f,
            .dim = dim,
            .dim_padded = dim_padded,
            .ef_construction = @max(1, @min(@max(params.ef_construction, m), n_items)),
            .stride = stride,
            .vector_offset = vector_offset,
            .nodes = nodes,
            .levels = levels,
            .upper_offset = upper_offset,
            .upper_links = upper_links,
            .max_norm = 0,
            .inserted = 0,
            .entry = 0,
            .max_level = 0,
        };
        // Padding words are defined (zero), vectors included.
        @memset(nodes, 0);
        return index;
    }

    fn clearLinks(index: *Index) void {
        for (0..index.n_items) |node| index.clearNodeLinks(node);
    }

    fn clearNodeLinks(index: *Index, node: usize) void {
        for (0..@as(usize, index.levels[node]) + 1) |layer| {
            const list = index.slots(node, layer);
            list[0] = 0;
            @memset(list[1..], unused_link);
        }
    }

    /// The traversal copy of row `item` (normalised, or augmented).
    fn copyRow(index: *Index, item: usize, row: []const f32) void {
        const values = index.vectorMut(item);
        @memcpy(values[0..index.f], row);
        switch (index.params.metric) {
            .cosine => {
                const norm = @sqrt(simd.dot(row, row));
                if (norm > 0) simd.scale(1 / norm, values[0..index.f]);
            },
            .ip => if (index.dim > index.f) {
                const max_norm: f64 = index.max_norm;
                const norm_squared: f64 = simd.dot(row, row);
                values[index.f] = @floatCast(@sqrt(@max(0, max_norm * max_norm - norm_squared)));
            },
        }
    }

    fn capacity(index: *const Index, layer: usize) usize {
        return if (layer == 0) 2 * index.params.m else index.params.m;
    }

    /// [count | capacity links] of `node` on `layer` (≤ levels[node]).
    inline fn slots(index: *const Index, node: usize, layer: usize) []u32 {
        const m = index.params.m;
        if (layer == 0) return index.nodes[node * index.stride ..][0 .. 1 + 2 * m];
        assert(layer <= index.levels[node]);
        const block = index.upper_offset[node] + layer - 1;
        return index.upper_links[block * (1 + m) ..][0 .. 1 + m];
    }

    inline fn links(index: *const Index, node: usize, layer: usize) []const u32 {
        const list = index.slots(node, layer);
        return list[1..][0..list[0]];
    }

    inline fn vector(index: *const Index, node: usize) []const f32 {
        const words = index.nodes[node * index.stride + index.vector_offset ..][0..index.dim_padded];
        return @ptrCast(words);
    }

    fn vectorMut(index: *Index, node: usize) []f32 {
        const words = index.nodes[node * index.stride + index.vector_offset ..][0..index.dim_padded];
        return @ptrCast(words);
    }

    /// The vector's first line only: a line per neighbour for a burst of 2m
    /// neighbours already fills the line-fill buffers (measured: prefetching
    /// every line of a 64-float vector was 3–5% slower), and the hardware
    /// prefetcher follows the adjacent lines.
    inline fn prefetchVector(index: *const Index, node: usize) void {
        @prefetch(index.nodes[node * index.stride + index.vector_offset ..].ptr, .{ .rw = .read, .locality = 3, .cache = .data });
    }

    inline fn prefetchLinks(index: *const Index, node: usize, layer: usize) void {
        @prefetch(index.slots(node, layer).ptr, .{ .rw = .read, .locality = 3, .cache = .data });
    }

    /// sims[i] = query · vector(ids[i]), four vectors per pass over the query.
    fn scoreMany(index: *const Index, query: []const f32, ids: []const u32, sims: []f32) void {
        assert(ids.len == sims.len);
        var i: usize = 0;
        while (i + 4 <= ids.len) : (i += 4) {
            sims[i..][0..4].* = dot4(query, .{
                index.vector(ids[i]),
                index.vector(ids[i + 1]),
                index.vector(ids[i + 2]),
                index.vector(ids[i + 3]),
            });
        }
        while (i < ids.len) : (i += 1) sims[i] = dotPadded(query, index.vector(ids[i]));
    }

    inline fn dotNodes(index: *const Index, a: usize, b: usize) f32 {
        return dotPadded(index.vector(a), index.vector(b));
    }

    // -----------------------------------------------------------------------
    // Traversal.

    /// Greedy search with ef = 1 on layers from_layer down to to_layer + 1.
    fn descend(index: *const Index, search: *Search, query: []const f32, start: Seed, from_layer: usize, to_layer: usize) Seed {
        var best = start;
        var layer = from_layer;
        while (layer > to_layer) : (layer -= 1) {
            // Each move strictly improves (sim, −id), so the walk ends.
            while (true) {
                const neighbours = index.links(best.id, layer);
                const sims = search.gather_sims[0..neighbours.len];
                index.scoreMany(query, neighbours, sims);
                var moved = false;
                for (neighbours, sims) |neighbour, sim| {
                    if (Queue.better(sim, neighbour, best.sim, best.id)) {
                        best = .{ .id = neighbour, .sim = sim };
                        moved = true;
                    }
                }
                if (!moved) break;
            }
        }
        return best;
    }

    /// Algorithm 2 on `layer` from `seeds`: leaves the best `ef` nodes the
    /// filter allows (all nodes when it is null) as a TopK heap in
    /// search.result_ids/scores[0..ef] and returns their count.
    fn searchLayer(
        index: *const Index,
        search: *Search,
        query: []const f32,
        seeds: []const Seed,
        layer: usize,
        ef: usize,
        filter: ?*const Filter,
        q: usize,
    ) usize {
        assert(ef >= 1 and ef <= search.result_ids.len);
        search.visited.reset();
        search.queue.len = 0;
        const heap: TopK = .init(search.result_ids[0..ef], search.result_scores[0..ef]);
        var len: usize = 0;
        for (seeds) |seed| {
            if (!search.visited.mark(seed.id)) continue;
            search.queue.push(seed.id, seed.sim);
            if (allows(filter, q, seed.id)) len = heap.offer(len, @intCast(seed.id), seed.sim);
        }
        while (search.queue.len > 0) {
            const current = search.queue.pop();
            if (len == ef and current.sim < heap.scores[0]) break;
            if (search.queue.len > 0) index.prefetchLinks(search.queue.ids[0], layer);
            var fresh: usize = 0;
            for (index.links(current.id, layer)) |neighbour| {
                if (!search.visited.mark(neighbour)) continue;
                index.prefetchVector(neighbour);
                search.gather_ids[fresh] = neighbour;
                fresh += 1;
            }
            const ids = search.gather_ids[0..fresh];
            const sims = search.gather_sims[0..fresh];
            index.scoreMany(query, ids, sims);
            for (ids, sims) |neighbour, sim| {
                const id: i32 = @intCast(neighbour);
                if (!heap.admits(len, id, sim)) continue;
                search.queue.push(neighbour, sim);
                if (allows(filter, q, neighbour)) len = heap.offer(len, id, sim);
            }
        }
        return len;
    }

    // -----------------------------------------------------------------------
    // Build.

    const InsertJob = struct {
        index: *Index,
        batch_start: u32,
        frozen: Frozen,
        cancellation: status.Cancellation,
        stopped: std.atomic.Value(bool) = .init(false),

        fn run(job: *InsertJob, task_index: usize, worker_index: usize) void {
            if (job.stopped.load(.monotonic)) return;
            var poll: Poll = .init(job.cancellation);
            if (poll.stop(0)) {
                job.stopped.store(true, .monotonic);
                return;
            }
            const index = job.index;
            const node: u32 = @intCast(job.batch_start + task_index);
            index.insertNode(&index.build.?.workers[worker_index], node, job.batch_start, job.frozen);
        }
    };

    /// Chooses `node`'s links on every layer of its level (Algorithm 1,
    /// lines 5–12 without the reverse links) and writes them into its own
    /// lists. Reads the frozen graph and the vectors only.
    fn insertNode(index: *const Index, worker: *Worker, node: u32, batch_start: u32, frozen: Frozen) void {
        const query = index.vector(node);
        const level = index.levels[node];
        const ef = index.ef_construction;
        const mates = worker.mate_ids[0 .. node - batch_start];
        for (mates, @as(usize, batch_start)..) |*mate, id| mate.* = @intCast(id);
        const mate_sims = worker.mate_sims[0..mates.len];
        index.scoreMany(query, mates, mate_sims);

        const have_graph = frozen.inserted > 0;
        var seed: Seed = undefined;
        if (have_graph) {
            seed = .{ .id = frozen.entry, .sim = dotPadded(query, index.vector(frozen.entry)) };
            if (frozen.max_level > level) seed = index.descend(&worker.search, query, seed, frozen.max_level, level);
        }
        var layer: usize = level + 1;
        while (layer > 0) {
            layer -= 1;
            var n_candidates: usize = 0;
            if (have_graph and layer <= frozen.max_level) {
                const search = &worker.search;
                const len = index.searchLayer(search, query, &.{seed}, layer, ef, null, 0);
                const heap: TopK = .init(search.result_ids[0..ef], search.result_scores[0..ef]);
                heap.sortBestFirst(len);
                for (worker.candidates[0..len], search.result_ids[0..len], search.result_scores[0..len]) |*candidate, id, sim| {
                    candidate.* = .{ .id = @intCast(id), .sim = sim };
                }
                n_candidates = len;
                seed = .{ .id = worker.candidates[0].id, .sim = worker.candidates[0].sim };
            }
            // The batch's earlier members, scored exactly: the best ef of them.
            const mate_heap: TopK = .init(worker.mate_heap_ids, worker.mate_heap_scores);
            var mate_len: usize = 0;
            for (mates, mate_sims) |mate, sim| {
                if (index.levels[mate] >= layer) mate_len = mate_heap.offer(mate_len, @intCast(mate), sim);
            }
            for (worker.mate_heap_ids[0..mate_len], worker.mate_heap_scores[0..mate_len]) |id, sim| {
                worker.candidates[n_candidates] = .{ .id = @intCast(id), .sim = sim };
                n_candidates += 1;
            }
            const candidates = worker.candidates[0..n_candidates];
            std.sort.pdq(Pair, candidates, {}, Pair.lessThan);
            const n_selected = index.selectNeighbours(candidates, index.params.m, worker.selected);
            const list = index.slots(node, layer);
            list[0] = @intCast(n_selected);
            @memcpy(list[1..][0..n_selected], worker.selected[0..n_selected]);
        }
    }

    /// Algorithm 4 (without extension or kept pruned links): walks the
    /// candidates best first and keeps one unless it is closer to a kept one
    /// than to the base (sim(e, r) > sim(e, base)); keeps them all when there
    /// are no more than `limit`.
    fn selectNeighbours(index: *const Index, candidates: []const Pair, limit: usize, out: []u32) usize {
        assert(out.len >= limit);
        if (candidates.len <= limit) {
            for (candidates, out[0..candidates.len]) |candidate, *slot| slot.* = candidate.id;
            return candidates.len;
        }
        var n: usize = 0;
        for (candidates) |candidate| {
            if (n == limit) break;
            const keep = for (out[0..n]) |kept| {
                if (index.dotNodes(candidate.id, kept) > candidate.sim) break false;
            } else true;
            if (keep) {
                out[n] = candidate.id;
                n += 1;
            }
        }
        return n;
    }

    /// Adds the batch's links in reverse (Algorithm 1, lines 13–17): the
    /// proposals (layer, target, source) sorted, each target merging its own
    /// in source order, one task per group of targets.
    fn applyReverseLinks(index: *Index, pool: *ThreadPool, state: *BuildState, batch_start: usize, batch_end: usize) Error!void {
        const allocator = index.allocator;
        state.proposals.clearRetainingCapacity();
        for (batch_start..batch_end) |source| {
            for (0..@as(usize, index.levels[source]) + 1) |layer| {
                for (index.links(source, layer)) |target| {
                    const key = @as(u128, layer) << 64 | @as(u128, target) << 32 | source;
                    try state.proposals.append(allocator, key);
                }
            }
        }
        const proposals = state.proposals.items;
        std.sort.pdq(u128, proposals, {}, std.sort.asc(u128));
        state.group_starts.clearRetainingCapacity();
        for (proposals, 0..) |key, i| {
            if (i == 0 or key >> 32 != proposals[i - 1] >> 32) try state.group_starts.append(allocator, @intCast(i));
        }
        try state.group_starts.append(allocator, @intCast(proposals.len));
        const n_groups = state.group_starts.items.len - 1;
        if (n_groups == 0) return;
        var job: MergeJob = .{
            .index = index,
            .proposals = proposals,
            .group_starts = state.group_starts.items,
            .groups_per_task = @max(16, n_groups / (4 * pool.threadCount())),
        };
        const n_tasks = std.math.divCeil(usize, n_groups, job.groups_per_task) catch unreachable;
        if (n_tasks == 1) {
            MergeJob.run(&job, 0, 0);
        } else {
            pool.run(n_tasks, &job, MergeJob.run);
        }
    }

    const MergeJob = struct {
        index: *Index,
        proposals: []const u128,
        group_starts: []const u32,
        groups_per_task: usize,

        fn run(job: *MergeJob, task_index: usize, worker_index: usize) void {
            const n_groups = job.group_starts.len - 1;
            const first = task_index * job.groups_per_task;
            const last = @min(n_groups, first + job.groups_per_task);
            const worker = &job.index.build.?.workers[worker_index];
            for (first..last) |group| {
                const run_keys = job.proposals[job.group_starts[group]..job.group_starts[group + 1]];
                const key = run_keys[0];
                const layer: usize = @intCast(key >> 64);
                const target: u32 = @truncate(key >> 32);
                job.index.mergeInto(worker, layer, target, run_keys);
            }
        }
    };

    /// Appends the sources of `keys` (sorted) to target's list on `layer`,
    /// pruning the union with the heuristic when it passes the capacity.
    fn mergeInto(index: *const Index, worker: *Worker, layer: usize, target: u32, keys: []const u128) void {
        const list = index.slots(target, layer);
        const limit = index.capacity(layer);
        const count: usize = list[0];
        const union_ids = worker.ids;
        @memcpy(union_ids[0..count], list[1..][0..count]);
        var len = count;
        for (keys) |key| {
            const source: u32 = @truncate(key);
            if (std.mem.indexOfScalar(u32, list[1..][0..count], source) != null) continue;
            union_ids[len] = source;
            len += 1;
        }
        if (len <= limit) {
            @memcpy(list[1..][0..len], union_ids[0..len]);
            list[0] = @intCast(len);
            return;
        }
        const sims = worker.sims[0..len];
        index.scoreMany(index.vector(target), union_ids[0..len], sims);
        const candidates = worker.candidates[0..len];
        for (candidates, union_ids[0..len], sims) |*candidate, id, sim| candidate.* = .{ .id = id, .sim = sim };
        std.sort.pdq(Pair, candidates, {}, Pair.lessThan);
        const n_selected = index.selectNeighbours(candidates, limit, list[1..][0..limit]);
        list[0] = @intCast(n_selected);
        @memset(list[1 + n_selected ..], unused_link);
    }

    /// Makes every node reachable from the entry point on layer 0: each node
    /// a flood from the entry point missed (in id order) gets an in-link from
    /// the best node with room among the reached ones its own search finds
    /// (else the first reached node with room), and the flood continues from
    /// it. Only if every reached node is full does a link get replaced, and
    /// the pass repeats (a bounded number of times).
    fn connect(index: *Index, worker: *Worker) Error!void {
        const n = index.n_items;
        if (n <= 1) return;
        const allocator = index.allocator;
        const reached = try allocator.alloc(bool, n);
        defer allocator.free(reached);
        const stack = try allocator.alloc(u32, n);
        defer allocator.free(stack);
        const cap0 = 2 * index.params.m;
        var round: usize = 0;
        while (round < 4) : (round += 1) {
            @memset(reached, false);
            index.flood(reached, stack, index.entry);
            var replaced = false;
            for (0..n) |node| {
                if (reached[node]) continue;
                const source = index.connectSource(worker, @intCast(node), reached);
                const list = index.slots(source, 0);
                if (list[0] < cap0) {
                    list[1 + list[0]] = @intCast(node);
                    list[0] += 1;
                } else {
                    list[cap0] = @intCast(node);
                    replaced = true;
                }
                index.flood(reached, stack, @intCast(node));
            }
            if (!replaced) return;
        }
    }

    fn connectSource(index: *const Index, worker: *Worker, node: u32, reached: []const bool) u32 {
        const cap0 = 2 * index.params.m;
        const query = index.vector(node);
        const search = &worker.search;
        const ef = index.ef_construction;
        const start: Seed = .{ .id = index.entry, .sim = dotPadded(query, index.vector(index.entry)) };
        const seed = index.descend(search, query, start, index.max_level, 0);
        const len = index.searchLayer(search, query, &.{ seed, start }, 0, ef, null, 0);
        const heap: TopK = .init(search.result_ids[0..ef], search.result_scores[0..ef]);
        heap.sortBestFirst(len);
        var full: ?u32 = null;
        for (search.result_ids[0..len]) |id| {
            const candidate: u32 = @intCast(id);
            if (candidate == node or !reached[candidate]) continue;
            if (index.slots(candidate, 0)[0] < cap0) return candidate;
            if (full == null) full = candidate;
        }
        for (reached, 0..) |is_reached, candidate| {
            if (is_reached and index.slots(candidate, 0)[0] < cap0) return @intCast(candidate);
        }
        // The entry point is reached, so `full` is null only if the search
        // found nothing reached besides it.
        return full orelse index.entry;
    }

    fn flood(index: *const Index, reached: []bool, stack: []u32, from: u32) void {
        if (reached[from]) return;
        reached[from] = true;
        stack[0] = from;
        var len: usize = 1;
        while (len > 0) {
            len -= 1;
            const node = stack[len];
            for (index.links(node, 0)) |neighbour| {
                if (reached[neighbour]) continue;
                reached[neighbour] = true;
                stack[len] = neighbour;
                len += 1;
            }
        }
    }

    // -----------------------------------------------------------------------
    // Serialization.
    //
    // Little-endian:
    //   0  "hnsw"            4  version u32        8  metric u32     12 ip_mode u32
    //   16 m u64             24 ef_construction u64 32 ef u64        40 seed u64
    //   48 n_items u64       56 f u64              64 inserted u64
    //   72 max_level u32     76 entry u32          80 max_norm f32   84 0 u32
    //   88 levels: n_items u8
    //      layer 0: n_items × [count u32 | 2m links i32, −1 past count]
    //      upper layers: per node in id order, per layer 1..level: [count u32 | m links i32]
    //      vectors: n_items × dim f32 (dim = f, or f + 1 with the augmented column)

    pub fn serializedLen(index: *const Index) usize {
        const m = index.params.m;
        const n = index.n_items;
        return header_len + n + 4 * (n * (1 + 2 * m) + index.upper_links.len + n * index.dim);
    }

    pub fn serialize(index: *const Index, out: []u8) void {
        assert(out.len == index.serializedLen());
        var writer: serial.Writer = .{ .bytes = out };
        const params = index.params;
        writer.raw(format_magic);
        writer.int(u32, format_version);
        writer.int(u32, @intFromEnum(params.metric));
        writer.int(u32, @intFromEnum(params.ip_mode));
        writer.int(u64, params.m);
        writer.int(u64, params.ef_construction);
        writer.int(u64, params.ef);
        writer.int(u64, params.seed);
        writer.int(u64, index.n_items);
        writer.int(u64, index.f);
        writer.int(u64, index.inserted);
        writer.int(u32, @intCast(index.max_level));
        writer.int(u32, index.entry);
        writer.int(u32, @bitCast(index.max_norm));
        writer.int(u32, 0);
        assert(writer.pos == header_len);
        writer.raw(index.levels);
        for (0..index.n_items) |node| writeList(&writer, index.slots(node, 0));
        var block: usize = 0;
        while (block < index.upper_links.len) : (block += 1 + params.m) writeList(&writer, index.upper_links[block..][0 .. 1 + params.m]);
        for (0..index.n_items) |node| {
            for (index.vector(node)[0..index.dim]) |value| writer.int(u32, @bitCast(value));
        }
        assert(writer.pos == out.len);
    }

    pub fn deserialize(allocator: std.mem.Allocator, bytes: []const u8, n_items: usize, f: usize) Error!*Index {
        if (bytes.len < header_len) {
            return status.fail(.invalid_argument, "Expected an HNSW index of at least {d} bytes but found {d} bytes", .{ header_len, bytes.len });
        }
        var reader: serial.Reader = .{ .bytes = bytes };
        if (!std.mem.eql(u8, reader.raw(4), format_magic)) {
            return status.fail(.invalid_argument, "Expected the bytes of an HNSW index (kind tag \"hnsw\") but found the tag \"{f}\"", .{std.ascii.hexEscape(bytes[0..4], .lower)});
        }
        const version = reader.int(u32);
        if (version != format_version) {
            return status.fail(.invalid_argument, "Expected HNSW format version {d} but found {d}", .{ format_version, version });
        }
        const metric_value = reader.int(u32);
        const metric = std.enums.fromInt(kind.Metric, metric_value) orelse {
            return status.fail(.invalid_argument, "Expected the HNSW metric to be 0 (ip) or 1 (cosine) but found {d}", .{metric_value});
        };
        const mode_value = reader.int(u32);
        const ip_mode = std.enums.fromInt(IpMode, mode_value) orelse {
            return status.fail(.invalid_argument, "Expected the HNSW ip_mode to be 0 (direct) or 1 (augmented) but found {d}", .{mode_value});
        };
        const params: Params = .{
            .metric = metric,
            .ip_mode = ip_mode,
            .m = reader.size(),
            .ef_construction = reader.size(),
            .ef = reader.size(),
            .seed = reader.int(u64),
        };
        try checkParams(params);
        const stored_n = reader.int(u64);
        const stored_f = reader.int(u64);
        if (stored_n != n_items or stored_f != f) {
            return status.fail(.invalid_argument, "Expected an HNSW index of {d} items × {d} factors but found one of {d} × {d}", .{ n_items, f, stored_n, stored_f });
        }
        const inserted = reader.int(u64);
        const max_level = reader.int(u32);
        const entry = reader.int(u32);
        const max_norm: f32 = @bitCast(reader.int(u32));
        _ = reader.int(u32);
        assert(reader.pos == header_len);
        if (inserted > n_items) {
            return status.fail(.out_of_range, "Expected at most {d} inserted items but found {d}", .{ n_items, inserted });
        }
        if (!std.math.isFinite(max_norm) or max_norm < 0) {
            return status.fail(.not_finite, "Expected max_norm to be finite and not negative but found {f}", .{status.floatName(max_norm)});
        }
        if (bytes.len - header_len < n_items) return truncated(header_len + n_items, bytes.len);
        const levels = try allocator.dupe(u8, reader.raw(n_items));
        checkLevels(levels, inserted, max_level, entry) catch |err| {
            allocator.free(levels);
            return err;
        };
        const index = try allocate(allocator, params, n_items, f, levels);
        errdefer index.destroyParts();
        if (bytes.len != index.serializedLen()) return truncated(index.serializedLen(), bytes.len);
        index.inserted = @intCast(inserted);
        index.max_level = max_level;
        index.entry = entry;
        index.max_norm = max_norm;

        for (0..n_items) |node| try index.readList(&reader, node, 0);
        for (0..n_items) |node| {
            for (1..@as(usize, levels[node]) + 1) |layer| try index.readList(&reader, node, layer);
        }
        for (0..n_items) |node| {
            const vector_values = index.vectorMut(node)[0..index.dim];
            for (vector_values, 0..) |*value, d| {
                value.* = @bitCast(reader.int(u32));
                if (!std.math.isFinite(value.*)) {
                    return status.fail(.not_finite, "Expected the HNSW vectors to be finite but found {f} at item {d}, factor {d}", .{ status.floatName(value.*), node, d });
                }
            }
        }
        assert(reader.pos == bytes.len);
        return index;
    }

    fn readList(index: *Index, reader: *serial.Reader, node: usize, layer: usize) Error!void {
        const list = index.slots(node, layer);
        const limit = list.len - 1;
        const count = reader.int(u32);
        if (count > limit) {
            return status.fail(.out_of_range, "Expected at most {d} links for item {d} on layer {d} but found {d}", .{ limit, node, layer, count });
        }
        list[0] = count;
        for (list[1..], 0..) |*slot, j| {
            const link = reader.int(u32);
            slot.* = link;
            if (j >= count) continue;
            if (link >= index.n_items) {
                return status.fail(.out_of_range, "Expected link {d} of item {d} on layer {d} to be an item id below {d} but found {d}", .{
                    j, node, layer, index.n_items, @as(i32, @bitCast(link)),
                });
            }
            if (index.levels[link] < layer) {
                return status.fail(.out_of_range, "Expected link {d} of item {d} on layer {d} to reach an item of level at least {d} but found item {d} of level {d}", .{
                    j, node, layer, layer, link, index.levels[link],
                });
            }
        }
    }
};

fn checkParams(params: Params) Error!void {
    if (params.m < 2 or params.m > m_max) {
        return status.fail(.out_of_range, "Expected m to be between 2 and {d} but found {d}", .{ m_max, params.m });
    }
    if (params.ef_construction == 0) {
        return status.fail(.out_of_range, "Expected ef_construction to be at least 1 but found 0", .{});
    }
}

fn checkLevels(levels: []const u8, inserted: u64, max_level: u32, entry: u32) Error!void {
    for (levels, 0..) |level, node| {
        if (level >= level_count_max) {
            return status.fail(.out_of_range, "Expected the level of item {d} to be below {d} but found {d}", .{ node, level_count_max, level });
        }
        if (node < inserted and level > max_level) {
            return status.fail(.out_of_range, "Expected the level of item {d} to be at most the max level {d} but found {d}", .{ node, max_level, level });
        }
    }
    if (inserted == 0) {
        if (entry != 0 or max_level != 0) {
            return status.fail(.out_of_range, "Expected an empty graph to have entry point 0 and max level 0 but found {d} and {d}", .{ entry, max_level });
        }
        return;
    }
    if (entry >= inserted) {
        return status.fail(.out_of_range, "Expected the entry point to be one of the {d} inserted items but found {d}", .{ inserted, entry });
    }
    if (levels[entry] != max_level) {
        return status.fail(.out_of_range, "Expected the entry point's level to be the max level {d} but found {d}", .{ max_level, levels[entry] });
    }
}

fn truncated(expected: usize, found: usize) Error {
    return status.fail(.invalid_argument, "Expected the HNSW index to be {d} bytes but found {d} bytes", .{ expected, found });
}

inline fn allows(filter: ?*const Filter, q: usize, id: usize) bool {
    const f = filter orelse return true;
    return f.allows(q, id);
}

/// Level floor(−ln(U)·mL), mL = 1/ln(m), U uniform in (0, 1] from the item's
/// own stream: the largest L with U ≤ m^−L, which needs no logarithm.
fn drawLevel(seed: u64, item: usize, m: usize) u8 {
    var prng = random.stream(seed, item);
    const u = (@as(f64, @floatFromInt(prng.next() >> 11)) + 1) * 0x1p-53;
    const base: f64 = @floatFromInt(m);
    var threshold = 1 / base;
    var level: u8 = 0;
    while (level < level_count_max - 1 and u <= threshold) : (level += 1) threshold /= base;
    return level;
}

fn maxNorm(items: []const f32, f: usize) f32 {
    var max_squared: f32 = 0;
    var row: usize = 0;
    while (row < items.len) : (row += f) max_squared = @max(max_squared, simd.dot(items[row..][0..f], items[row..][0..f]));
    // A hair above the largest norm, so rounding never makes a root negative.
    return @sqrt(max_squared) * (1 + 1e-6);
}

/// a · b for zero-padded vectors (length a multiple of lanes): one
/// accumulator, so it rounds exactly as each lane of `dot4` does.
inline fn dotPadded(a: []const f32, b: []const f32) f32 {
    assert(a.len == b.len and a.len % lanes == 0);
    var sum: V = @splat(0);
    var i: usize = 0;
    while (i < a.len) : (i += lanes) sum = simd.mulAdd(simd.load(a, i), simd.load(b, i), sum);
    return @reduce(.Add, sum);
}

/// The query against four vectors in one pass over it.
inline fn dot4(query: []const f32, vectors: [4][]const f32) [4]f32 {
    for (vectors) |v| assert(v.len == query.len);
    var s0: V = @splat(0);
    var s1: V = @splat(0);
    var s2: V = @splat(0);
    var s3: V = @splat(0);
    var i: usize = 0;
    while (i < query.len) : (i += lanes) {
        const q = simd.load(query, i);
        s0 = simd.mulAdd(q, simd.load(vectors[0], i), s0);
        s1 = simd.mulAdd(q, simd.load(vectors[1], i), s1);
        s2 = simd.mulAdd(q, simd.load(vectors[2], i), s2);
        s3 = simd.mulAdd(q, simd.load(vectors[3], i), s3);
    }
    return .{ @reduce(.Add, s0), @reduce(.Add, s1), @reduce(.Add, s2), @reduce(.Add, s3) };
}

/// A link list as serialized: [count | links], −1 in the slots past count.
fn writeList(writer: *serial.Writer, slots: []const u32) void {
    const count = slots[0];
    writer.int(u32, count);
    for (slots[1..], 0..) |link, j| writer.int(u32, if (j < count) link else unused_link);
}

// ---------------------------------------------------------------------------

const testing = std.testing;
const helpers = @import("../testing.zig");

const Mode = struct { metric: kind.Metric, ip_mode: IpMode = .augmented };
const test_modes = [_]Mode{ .{ .metric = .ip, .ip_mode = .direct }, .{ .metric = .ip, .ip_mode = .augmented }, .{ .metric = .cosine } };

/// A schedule that reaches real batches on a few hundred items.
const small_batches: Schedule = .{ .sequential_prefix = 64, .batch_divisor = 4, .batch_cap = 96, .step_items = 100 };

/// Rows around `n_clusters` gaussian centres: (centre N(0, 1) + spread ·
/// N(0, 1)) scaled by U[0.5, 1.5) (norms that vary, as factors' do). The
/// centres come from `seed` alone, so items and queries share them.
fn clustered(allocator: std.mem.Allocator, seed: u64, rows_seed: u64, n: usize, f: usize, n_clusters: usize, spread: f32) ![]f32 {
    var centre_prng = std.Random.DefaultPrng.init(seed);
    const centres = try allocator.alloc(f32, n_clusters * f);
    defer allocator.free(centres);
    for (centres) |*c| c.* = centre_prng.random().floatNorm(f32);
    var prng = std.Random.DefaultPrng.init(rows_seed);
    const r = prng.random();
    const rows = try allocator.alloc(f32, n * f);
    for (0..n) |row| {
        const centre = centres[r.uintLessThan(usize, n_clusters) * f ..][0..f];
        const scale = 0.5 + r.float(f32);
        for (rows[row * f ..][0..f], centre) |*v, c| v.* = scale * (c + spread * r.floatNorm(f32));
    }
    return rows;
}

fn normaliseRows(rows: []f32, f: usize) void {
    var row: usize = 0;
    while (row < rows.len) : (row += f) {
        var sum: f32 = 0;
        for (rows[row..][0..f]) |v| sum += v * v;
        if (sum > 0) for (rows[row..][0..f]) |*v| {
            v.* /= @sqrt(sum);
        };
    }
}

/// The exact score the driver ranks by: q · x, or the cosine for `.cosine`
/// (the query is unit), as a plain loop.
fn exactScore(metric: kind.Metric, items: []const f32, f: usize, query: []const f32, id: usize) f32 {
    var dot: f32 = 0;
    var norm_squared: f32 = 0;
    for (items[id * f ..][0..f], query) |x, y| {
        dot += x * y;
        norm_squared += x * x;
    }
    return switch (metric) {
        .ip => dot,
        .cosine => if (norm_squared > 0) dot / @sqrt(norm_squared) else 0,
    };
}

fn buildForTest(allocator: std.mem.Allocator, pool: *ThreadPool, items: []const f32, f: usize, params: Params, schedule: Schedule) !*Index {
    const index = try Index.create(allocator, items, f, params);
    errdefer index.destroy(allocator);
    index.schedule = schedule;
    var poll: Poll = .never;
    var steps: usize = 0;
    while (!(try index.buildStep(pool, &poll)).finished()) steps += 1;
    try testing.expect(steps <= items.len / f);
    return index;
}

fn serializeAlloc(allocator: std.mem.Allocator, index: *const Index) ![]u8 {
    const bytes = try allocator.alloc(u8, index.serializedLen());
    index.serialize(bytes);
    return bytes;
}

/// Expects `ids` (count `len`) to be the top `k` admissible items by exact
/// score, as a set, allowing for exact ties (and float rounding at them).
fn expectTopSet(
    allocator: std.mem.Allocator,
    metric: kind.Metric,
    items: []const f32,
    f: usize,
    query: []const f32,
    q: usize,
    filter: *const Filter,
    k: usize,
    ids: []const i32,
) !void {
    const n = items.len / f;
    const scores = try allocator.alloc(f32, n);
    defer allocator.free(scores);
    const eligible = try allocator.alloc(bool, n);
    defer allocator.free(eligible);
    for (scores, eligible, 0..) |*score, *ok, id| {
        score.* = exactScore(metric, items, f, query, id);
        ok.* = filter.allows(q, id);
    }
    var expected: helpers.Ranking = try .init(allocator, 1, k);
    defer expected.deinit(allocator);
    const expected_len = try helpers.bruteTopK(allocator, scores, eligible, k, expected.ids, expected.scores);
    try testing.expectEqual(expected_len, ids.len);
    if (expected_len == 0) return;
    const kth = expected.scores[expected_len - 1];
    for (ids, 0..) |id, i| {
        try testing.expect(id >= 0 and id < n);
        try testing.expect(eligible[@intCast(id)]);
        for (ids[0..i]) |earlier| try testing.expect(earlier != id);
        try testing.expect(scores[@intCast(id)] >= kth - 1e-4 * (1 + @abs(kth)));
    }
}

fn floodReachesAll(allocator: std.mem.Allocator, index: *const Index) !bool {
    if (index.n_items == 0) return true;
    const reached = try allocator.alloc(bool, index.n_items);
    defer allocator.free(reached);
    const stack = try allocator.alloc(u32, index.n_items);
    defer allocator.free(stack);
    @memset(reached, false);
    index.flood(reached, stack, index.entry);
    return std.mem.indexOfScalar(bool, reached, false) == null;
}

test "at maxEffort every search returns the exact admissible top, for every filter and exclusion rate" {
    const allocator = testing.allocator;
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    const n = 500;
    const f = 8;
    const n_queries = 5;
    const items = try clustered(allocator, 5, 6, n, f, 12, 0.4);
    defer allocator.free(items);
    const queries = try clustered(allocator, 5, 7, n_queries, f, 12, 0.4);
    defer allocator.free(queries);
    const unit_queries = try allocator.dupe(f32, queries);
    defer allocator.free(unit_queries);
    normaliseRows(unit_queries, f);
    var prng = std.Random.DefaultPrng.init(8);
    const random_filters = prng.random();
    var out: [n + 7]i32 = undefined;

    for (test_modes) |mode| {
        const index = try buildForTest(allocator, &pool, items, f, .{ .metric = mode.metric, .ip_mode = mode.ip_mode, .seed = 9, .m = 6, .ef_construction = 24 }, small_batches);
        defer index.destroy(allocator);
        try testing.expect(try floodReachesAll(allocator, index));
        var scratch: Index.Scratch = try .init(allocator, index);
        defer scratch.deinit(allocator);
        const mode_queries = if (mode.metric == .cosine) unit_queries else queries;
        for ([_]f32{ 0, 0.5, 0.9, 0.99 }) |excluded| {
            var exclusions = try helpers.randomCsr(allocator, random_filters, .{ .n_rows = n_queries, .n_cols = n, .density = excluded });
            defer exclusions.deinit(allocator);
            var mask: [n]u8 = undefined;
            helpers.randomMask(random_filters, &mask, excluded);
            const candidates = try helpers.randomSubset(allocator, random_filters, n, 1 - excluded);
            defer allocator.free(candidates);
            for (0..helpers.filter_combinations) |combination| {
                const filter = helpers.filterCombination(n, combination, .{
                    .exclusions = exclusions.view(),
                    .item_mask = &mask,
                    .candidates = candidates,
                });
                for (0..n_queries) |q| {
                    const query = mode_queries[q * f ..][0..f];
                    for ([_]usize{ 1, 10, n + 7 }) |k| {
                        const len = index.searchOne(&scratch, query, q, &filter, index.maxEffort(), out[0..k]);
                        try expectTopSet(allocator, mode.metric, items, f, query, q, &filter, k, out[0..len]);
                    }
                }
            }
        }
    }
}

/// Mean recall@10 at the default effort against the exact top 10.
fn recallAt10(allocator: std.mem.Allocator, index: *const Index, metric: kind.Metric, items: []const f32, queries: []const f32, f: usize) !f64 {
    const n = items.len / f;
    const n_queries = queries.len / f;
    var scratch: Index.Scratch = try .init(allocator, index);
    defer scratch.deinit(allocator);
    const scores = try allocator.alloc(f32, n);
    defer allocator.free(scores);
    const eligible = try allocator.alloc(bool, n);
    defer allocator.free(eligible);
    @memset(eligible, true);
    var expected: helpers.Ranking = try .init(allocator, 1, 10);
    defer expected.deinit(allocator);
    const filter: Filter = .init(n, .{});
    var hits: usize = 0;
    for (0..n_queries) |q| {
        const query = queries[q * f ..][0..f];
        for (scores, 0..) |*score, id| score.* = exactScore(metric, items, f, query, id);
        _ = try helpers.bruteTopK(allocator, scores, eligible, 10, expected.ids, expected.scores);
        var out: [10]i32 = undefined;
        const len = index.searchOne(&scratch, query, q, &filter, 0, &out);
        for (out[0..len]) |id| hits += @intFromBool(std.mem.indexOfScalar(i32, expected.ids, id) != null);
    }
    return @as(f64, @floatFromInt(hits)) / @as(f64, @floatFromInt(10 * n_queries));
}

test "recall@10 at the default effort on clustered data is above its floor, batched as good as sequential" {
    const allocator = testing.allocator;
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    const n = 2000;
    const f = 16;
    const items = try clustered(allocator, 11, 12, n, f, 20, 1.0);
    defer allocator.free(items);
    const queries = try clustered(allocator, 11, 13, 200, f, 20, 1.0);
    defer allocator.free(queries);
    const unit_queries = try allocator.dupe(f32, queries);
    defer allocator.free(unit_queries);
    normaliseRows(unit_queries, f);
    const sequential: Schedule = .{ .sequential_prefix = n };
    const batched: Schedule = .{ .sequential_prefix = 100, .batch_divisor = 8, .batch_cap = 256 };
    for (test_modes) |mode| {
        const params: Params = .{ .metric = mode.metric, .ip_mode = mode.ip_mode, .seed = 1, .m = 12, .ef_construction = 64 };
        const mode_queries = if (mode.metric == .cosine) unit_queries else queries;
        var recall: [2]f64 = undefined;
        for ([_]Schedule{ sequential, batched }, &recall) |schedule, *r| {
            const index = try buildForTest(allocator, &pool, items, f, params, schedule);
            defer index.destroy(allocator);
            r.* = try recallAt10(allocator, index, mode.metric, items, mode_queries, f);
        }
        // Measured: direct 0.997 / 0.998, augmented 0.918 / 0.941, cosine
        // 0.998 / 0.998 (sequential / batched).
        const floor: f64 = if (mode.metric == .ip and mode.ip_mode == .augmented) 0.88 else 0.97;
        try testing.expect(recall[0] >= floor and recall[1] >= floor);
        try testing.expect(recall[1] >= recall[0] - 0.02);
    }
}

test "the serialized bytes are the same for 1 and 2 threads and however the steps are spaced" {
    const allocator = testing.allocator;
    const n = 900;
    const f = 8;
    const items = try clustered(allocator, 21, 22, n, f, 10, 0.5);
    defer allocator.free(items);
    for (test_modes) |mode| {
        const params: Params = .{ .metric = mode.metric, .ip_mode = mode.ip_mode, .seed = 23, .m = 6, .ef_construction = 24 };
        var reference: ?[]u8 = null;
        defer if (reference) |bytes| allocator.free(bytes);
        for ([_]usize{ 1, 2 }) |thread_count| {
            var pool: ThreadPool = .{};
            pool.start(thread_count);
            defer pool.stop();
            for ([_]usize{ 1, 100, n }) |step_items| {
                var schedule = small_batches;
                schedule.step_items = step_items;
                const index = try buildForTest(allocator, &pool, items, f, params, schedule);
                defer index.destroy(allocator);
                const bytes = try serializeAlloc(allocator, index);
                if (reference) |expected| {
                    defer allocator.free(bytes);
                    try testing.expectEqualSlices(u8, expected, bytes);
                } else reference = bytes;
            }
        }
    }
}

test "serialize then deserialize gives the same searches and the same bytes" {
    const allocator = testing.allocator;
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    const n = 400;
    const f = 5;
    const items = try clustered(allocator, 31, 32, n, f, 8, 0.5);
    defer allocator.free(items);
    const queries = try clustered(allocator, 31, 33, 20, f, 8, 0.5);
    defer allocator.free(queries);
    for (test_modes) |mode| {
        const index = try buildForTest(allocator, &pool, items, f, .{ .metric = mode.metric, .ip_mode = mode.ip_mode, .seed = 3, .m = 5, .ef = 17 }, small_batches);
        defer index.destroy(allocator);
        const bytes = try serializeAlloc(allocator, index);
        defer allocator.free(bytes);
        const copy = try Index.deserialize(allocator, bytes, n, f);
        defer copy.destroy(allocator);
        try testing.expectEqual(17, copy.defaultEffort());
        const copy_bytes = try serializeAlloc(allocator, copy);
        defer allocator.free(copy_bytes);
        try testing.expectEqualSlices(u8, bytes, copy_bytes);

        var scratch: Index.Scratch = try .init(allocator, index);
        defer scratch.deinit(allocator);
        var copy_scratch: Index.Scratch = try .init(allocator, copy);
        defer copy_scratch.deinit(allocator);
        const filter: Filter = .init(n, .{});
        for (0..20) |q| {
            var out: [12]i32 = undefined;
            var copy_out: [12]i32 = undefined;
            const query = queries[q * f ..][0..f];
            const len = index.searchOne(&scratch, query, q, &filter, 0, &out);
            const copy_len = copy.searchOne(&copy_scratch, query, q, &filter, 0, &copy_out);
            try testing.expectEqualSlices(i32, out[0..len], copy_out[0..copy_len]);
        }
    }
}

test "deserialize refuses truncated bytes, another kind, and inconsistent links, levels and vectors" {
    const allocator = testing.allocator;
    var pool: ThreadPool = .{};
    pool.start(1);
    defer pool.stop();
    const n = 200;
    const f = 4;
    const items = try clustered(allocator, 41, 42, n, f, 5, 0.5);
    defer allocator.free(items);
    const index = try buildForTest(allocator, &pool, items, f, .{ .metric = .ip, .seed = 4, .m = 4 }, .{});
    defer index.destroy(allocator);
    const bytes = try serializeAlloc(allocator, index);
    defer allocator.free(bytes);
    const len = bytes.len;
    const cap0 = 8;
    const lists_at = header_len + n;
    const vectors_at = len - 4 * n * index.dim;

    try testing.expectError(error.InvalidArgument, Index.deserialize(allocator, bytes[0..10], n, f));
    try helpers.expectMessage("Expected an HNSW index of at least 88 bytes but found 10 bytes");
    try testing.expectError(error.InvalidArgument, Index.deserialize(allocator, bytes[0 .. len - 1], n, f));
    const message = try std.fmt.allocPrint(allocator, "Expected the HNSW index to be {d} bytes but found {d} bytes", .{ len, len - 1 });
    defer allocator.free(message);
    try helpers.expectMessage(message);
    try testing.expectError(error.InvalidArgument, Index.deserialize(allocator, bytes, n + 1, f));
    try helpers.expectMessage("Expected an HNSW index of 201 items × 4 factors but found one of 200 × 4");

    const patched = try allocator.dupe(u8, bytes);
    defer allocator.free(patched);
    const Patch = struct {
        fn u32At(buffer: []u8, offset: usize, value: u32) void {
            std.mem.writeInt(u32, buffer[offset..][0..4], value, .little);
        }
    };
    @memcpy(patched[0..4], "ivf1");
    try testing.expectError(error.InvalidArgument, Index.deserialize(allocator, patched, n, f));
    try helpers.expectMessage("Expected the bytes of an HNSW index (kind tag \"hnsw\") but found the tag \"ivf1\"");
    @memcpy(patched, bytes);
    Patch.u32At(patched, 4, 9);
    try testing.expectError(error.InvalidArgument, Index.deserialize(allocator, patched, n, f));
    try helpers.expectMessage("Expected HNSW format version 1 but found 9");

    // Item 3's first link on layer 0 (it has at least one: the graph is connected).
    const item3 = lists_at + 3 * 4 * (1 + cap0);
    try testing.expect(std.mem.readInt(u32, patched[item3..][0..4], .little) >= 1);
    @memcpy(patched, bytes);
    Patch.u32At(patched, item3 + 4, n);
    try testing.expectError(error.OutOfRange, Index.deserialize(allocator, patched, n, f));
    try helpers.expectMessage("Expected link 0 of item 3 on layer 0 to be an item id below 200 but found 200");
    @memcpy(patched, bytes);
    Patch.u32At(patched, item3 + 4, std.math.maxInt(u32));
    try testing.expectError(error.OutOfRange, Index.deserialize(allocator, patched, n, f));
    try helpers.expectMessage("Expected link 0 of item 3 on layer 0 to be an item id below 200 but found -1");
    @memcpy(patched, bytes);
    Patch.u32At(patched, item3, cap0 + 1);
    try testing.expectError(error.OutOfRange, Index.deserialize(allocator, patched, n, f));
    try helpers.expectMessage("Expected at most 8 links for item 3 on layer 0 but found 9");

    // An upper-layer link to an item without that layer.
    const upper_at = lists_at + n * 4 * (1 + cap0);
    if (upper_at < vectors_at) {
        var low: u32 = 0;
        while (index.levels[low] != 0) low += 1;
        var owner: usize = 0;
        while (index.levels[owner] == 0) owner += 1;
        @memcpy(patched, bytes);
        Patch.u32At(patched, upper_at, 1);
        Patch.u32At(patched, upper_at + 4, low);
        try testing.expectError(error.OutOfRange, Index.deserialize(allocator, patched, n, f));
        const upper_message = try std.fmt.allocPrint(allocator, "Expected link 0 of item {d} on layer 1 to reach an item of level at least 1 but found item {d} of level 0", .{ owner, low });
        defer allocator.free(upper_message);
        try helpers.expectMessage(upper_message);
    }
    // The entry point must be on the top level.
    @memcpy(patched, bytes);
    Patch.u32At(patched, 72, @intCast(index.max_level + 1));
    try testing.expectError(error.OutOfRange, Index.deserialize(allocator, patched, n, f));
    const entry_message = try std.fmt.allocPrint(allocator, "Expected the entry point's level to be the max level {d} but found {d}", .{ index.max_level + 1, index.max_level });
    defer allocator.free(entry_message);
    try helpers.expectMessage(entry_message);

    @memcpy(patched, bytes);
    Patch.u32At(patched, vectors_at + 4 * (7 * index.dim + 2), @bitCast(std.math.nan(f32)));
    try testing.expectError(error.NotFinite, Index.deserialize(allocator, patched, n, f));
    try helpers.expectMessage("Expected the HNSW vectors to be finite but found NaN at item 7, factor 2");
}

test "a cancelled build step stops with error.Cancelled and a retry finishes identically" {
    const allocator = testing.allocator;
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    const n = 700;
    const f = 6;
    const items = try clustered(allocator, 51, 52, n, f, 7, 0.5);
    defer allocator.free(items);
    const params: Params = .{ .metric = .ip, .seed = 5, .m = 5, .ef_construction = 20 };
    const reference = try buildForTest(allocator, &pool, items, f, params, small_batches);
    defer reference.destroy(allocator);
    const expected = try serializeAlloc(allocator, reference);
    defer allocator.free(expected);

    const index = try Index.create(allocator, items, f, params);
    defer index.destroy(allocator);
    index.schedule = small_batches;
    var flag: u32 = 1;
    const cancellation: status.Cancellation = .{ .flag = &flag };
    var poll: Poll = .init(cancellation);
    try testing.expectError(error.Cancelled, index.buildStep(&pool, &poll));
    try helpers.expectMessage("The HNSW build was cancelled by its caller after 0 of 700 items");
    try testing.expectEqual(0, index.inserted);
    // Two steps, then a flag raised after the caller's poll last read it: the
    // batch's own tasks see it (the step's sequential check is not due yet).
    flag = 0;
    poll = .init(cancellation);
    for (0..2) |_| _ = try index.buildStep(&pool, &poll);
    const inserted = index.inserted;
    try testing.expect(inserted >= small_batches.sequential_prefix and inserted < n);
    const before_cancel = try serializeAlloc(allocator, index);
    defer allocator.free(before_cancel);
    flag = 1;
    poll.work_since_check = 0;
    try testing.expectError(error.Cancelled, index.buildStep(&pool, &poll));
    try testing.expectEqual(inserted, index.inserted);
    // Nothing of the cancelled batch is left behind.
    const after_cancel = try serializeAlloc(allocator, index);
    defer allocator.free(after_cancel);
    try testing.expectEqualSlices(u8, before_cancel, after_cancel);
    flag = 0;
    poll = .init(cancellation);
    while (!(try index.buildStep(&pool, &poll)).finished()) {}
    const bytes = try serializeAlloc(allocator, index);
    defer allocator.free(bytes);
    try testing.expectEqualSlices(u8, expected, bytes);
}

test "a part-built index serializes, deserializes and finishes as one built in one go" {
    const allocator = testing.allocator;
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    const n = 500;
    const f = 4;
    const items = try clustered(allocator, 61, 62, n, f, 6, 0.5);
    defer allocator.free(items);
    const params: Params = .{ .metric = .cosine, .seed = 6, .m = 4, .ef_construction = 16 };
    const reference = try buildForTest(allocator, &pool, items, f, params, small_batches);
    defer reference.destroy(allocator);
    const expected = try serializeAlloc(allocator, reference);
    defer allocator.free(expected);

    const index = try Index.create(allocator, items, f, params);
    defer index.destroy(allocator);
    index.schedule = small_batches;
    var poll: Poll = .never;
    _ = try index.buildStep(&pool, &poll);
    _ = try index.buildStep(&pool, &poll);
    const partial = try serializeAlloc(allocator, index);
    defer allocator.free(partial);
    const resumed = try Index.deserialize(allocator, partial, n, f);
    defer resumed.destroy(allocator);
    resumed.schedule = small_batches;
    try testing.expectEqual(index.inserted, resumed.inserted);
    while (!(try resumed.buildStep(&pool, &poll)).finished()) {}
    const bytes = try serializeAlloc(allocator, resumed);
    defer allocator.free(bytes);
    try testing.expectEqualSlices(u8, expected, bytes);
}

test "duplicates and tiny indexes: every node reachable, exact at maxEffort, out longer than the index" {
    const allocator = testing.allocator;
    var pool: ThreadPool = .{};
    pool.start(2);
    defer pool.stop();
    const f = 3;
    // 300 items, most copies of three rows (the heuristic prunes copies hard).
    const n = 300;
    var items: [n * f]f32 = undefined;
    var prng = std.Random.DefaultPrng.init(71);
    helpers.fillUniform(prng.random(), &items, -1, 1);
    for (0..n) |item| {
        if (item >= 3 and item % 10 != 0) @memcpy(items[item * f ..][0..f], items[(item % 3) * f ..][0..f]);
    }
    for (test_modes) |mode| {
        const params: Params = .{ .metric = mode.metric, .ip_mode = mode.ip_mode, .seed = 7, .m = 3, .ef_construction = 8 };
        for ([_]usize{ 0, 1, 2, 3, 40, n }) |n_items| {
            const index = try buildForTest(allocator, &pool, items[0 .. n_items * f], f, params, small_batches);
            defer index.destroy(allocator);
            try testing.expect(try floodReachesAll(allocator, index));
            var scratch: Index.Scratch = try .init(allocator, index);
            defer scratch.deinit(allocator);
            const filter: Filter = .init(n_items, .{});
            var out: [n + 5]i32 = undefined;
            var query = [_]f32{ 0.6, -0.8, 0 };
            const len = index.searchOne(&scratch, &query, 0, &filter, index.maxEffort(), out[0 .. n_items + 5]);
            try testing.expectEqual(n_items, len);
            try expectTopSet(allocator, mode.metric, items[0 .. n_items * f], f, &query, 0, &filter, n_items + 5, out[0..len]);
            try testing.expectEqual(0, index.searchOne(&scratch, &query, 0, &filter, 0, out[0..0]));
            const bytes = try serializeAlloc(allocator, index);
            defer allocator.free(bytes);
            const copy = try Index.deserialize(allocator, bytes, n_items, f);
            defer copy.destroy(allocator);
            const copy_bytes = try serializeAlloc(allocator, copy);
            defer allocator.free(copy_bytes);
            try testing.expectEqualSlices(u8, bytes, copy_bytes);
        }
    }
}

test "create refuses bad shapes and parameters, naming them" {
    const allocator = testing.allocator;
    const items = [_]f32{ 1, 2, 3, 4, 5, 6 };
    try testing.expectError(error.InvalidArgument, Index.create(allocator, &items, 0, .{ .metric = .ip, .seed = 0 }));
    try helpers.expectMessage("Expected f (factors per item) to be at least 1 but found 0");
    try testing.expectError(error.InvalidArgument, Index.create(allocator, &items, 4, .{ .metric = .ip, .seed = 0 }));
    try helpers.expectMessage("Expected items to hold whole rows of 4 factors but found 6 values");
    try testing.expectError(error.OutOfRange, Index.create(allocator, &items, 2, .{ .metric = .ip, .seed = 0, .m = 1 }));
    try helpers.expectMessage("Expected m to be between 2 and 256 but found 1");
    try testing.expectError(error.OutOfRange, Index.create(allocator, &items, 2, .{ .metric = .ip, .seed = 0, .ef_construction = 0 }));
    try helpers.expectMessage("Expected ef_construction to be at least 1 but found 0");
}

test "levels follow floor(-ln U / ln m) from the item's own stream" {
    var counts: [4]usize = @splat(0);
    for (0..20000) |item| {
        const level = drawLevel(99, item, 4);
        counts[@min(level, 3)] += 1;
        try testing.expectEqual(level, drawLevel(99, item, 4));
    }
    // P(level ≥ L) = 4^−L: about 15000, 3750, 940, 310.
    try testing.expect(counts[0] > 14500 and counts[0] < 15500);
    try testing.expect(counts[1] > 3400 and counts[1] < 4100);
    try testing.expect(counts[2] > 800 and counts[2] < 1100);
}
