//! What every approximate-nearest-neighbour index in zig/ann/ provides, so one
//! set of exports (zig/c_api_ann.zig) and one search driver (search.zig)
//! serve HNSW (hnsw.zig), the inverted file (ivf.zig) and the projection
//! forest (forest.zig).
//!
//! An index is built over a row-major `[n_items, f]` float32 matrix whose
//! rows are the item ids 0..n_items (no label map). It keeps its own copy of
//! what its traversal reads, laid out for that traversal; the caller's rows
//! are borrowed only during a call (native code never keeps a host pointer).
//!
//! Contract of a module `M` (checked at compile time by `check(M)`):
//!
//!   pub const Params = struct { metric: Metric, seed: u64, ... };
//!   pub const Index = struct {
//!     pub fn create(allocator, items: []const f32, f: usize, params: Params) Error!*Index
//!         Copies the rows (for `.cosine` normalised to unit length; a zero
//!         row stays zero) and allocates; no heavy work yet. Items are
//!         finite (checked at the edge).
//!     pub fn buildStep(index: *Index, pool: *ThreadPool, poll: *Poll) Error!Progress
//!         Does the next bounded slice of the build (about 0.05–0.5 s on one
//!         core at 292K × 64) and reports progress; `done == total` means the
//!         index is complete and searchable. Stops early with
//!         error.Cancelled (status.Cancellation.check) when `poll` says so,
//!         leaving the index consistent so the step can be retried.
//!         Deterministic: the same items, params and seed give the same
//!         serialized bytes whatever the pool's thread count and however the
//!         steps are spaced.
//!     pub fn destroy(index: *Index, allocator) void
//!     pub fn itemCount(index: *const Index) usize
//!     pub fn factorCount(index: *const Index) usize
//!     pub fn indexMetric(index: *const Index) Metric
//!     pub fn defaultEffort(index: *const Index) usize
//!         ef / nprobe / search_k when the caller passes 0.
//!     pub fn maxEffort(index: *const Index) usize
//!         The effort at which the search is exhaustive: every admissible
//!         item is scored (ef = n_items, nprobe = nlist, search_k = n_items·trees).
//!     pub const Scratch = struct {
//!         pub fn init(allocator, index: *const Index) Error!Scratch
//!         pub fn deinit(scratch: *Scratch, allocator) void
//!     };
//!     pub fn searchOne(index, scratch: *Scratch, query: []const f32, q: usize,
//!                      filter: *const Filter, effort: usize, out: []i32) usize
//!         Writes into `out` up to out.len admissible ids (filter.allows(q, id)),
//!         best first by the index's own score, and returns how many. For
//!         `.cosine` the query arrives unit-length; for `.ip` as given. The
//!         driver re-scores them exactly (simd.dotInOrder against the
//!         caller's rows) and keeps the best k, so the index only has to find
//!         them. Allocation-free; filters are honoured during the traversal
//!         (an excluded item still routes the search, it is just never
//!         returned), never by over-fetching and dropping afterwards.
//!     pub fn serializedLen(index: *const Index) usize
//!     pub fn serialize(index: *const Index, out: []u8) void
//!         Little-endian, no pointers, no padding of undefined value.
//!     pub fn deserialize(allocator, bytes: []const u8, n_items: usize, f: usize) Error!*Index
//!         Refuses (status.fail, naming what is wrong) bytes that are
//!         truncated, of another kind, or inconsistent (an id out of range, a
//!         count past its capacity, a non-finite value), so a search never
//!         reads out of bounds whatever the file held.
//!   };

const std = @import("std");

pub const Metric = enum(u8) {
    /// Inner product: recommend (user · item).
    ip = 0,
    /// Cosine of the angle: similar items / users.
    cosine = 1,
};

pub const Progress = struct {
    done: u64,
    total: u64,

    pub fn finished(progress: Progress) bool {
        return progress.done >= progress.total;
    }
};

/// Fails compilation when `M` lacks a declaration of the contract above.
pub fn check(comptime M: type) void {
    const required_module = .{ "Params", "Index" };
    inline for (required_module) |name| {
        if (!@hasDecl(M, name)) @compileError(@typeName(M) ++ " lacks " ++ name);
    }
    const required_index = .{
        "create",        "buildStep",  "destroy",   "itemCount",   "factorCount", "indexMetric", "defaultEffort",
        "maxEffort",     "Scratch",    "searchOne", "serializedLen", "serialize", "deserialize",
    };
    inline for (required_index) |name| {
        if (!@hasDecl(M.Index, name)) @compileError(@typeName(M) ++ ".Index lacks " ++ name);
    }
    if (!@hasField(M.Params, "metric") or !@hasField(M.Params, "seed")) {
        @compileError(@typeName(M) ++ ".Params needs metric and seed");
    }
}
