//! The epoch driver of the stochastic-gradient models.
//!
//! An epoch's work (samples, interactions or rows) is cut into a number of
//! chunks that depends only on the amount of work, never on the thread
//! count; chunk c draws from the generator random.stream(seed, c). The chunks
//! run on the pool's threads and update shared parameters without locks
//! (Hogwild: Niu, Recht, Ré & Wright, NIPS 2011): a parameter row may be read
//! by one thread while another writes it, which costs a little accuracy and
//! no correctness. With `deterministic`, the same chunks run one after the
//! other in chunk order on the calling thread, so a seed gives the same
//! parameters bit for bit on any thread count, at the cost of parallelism
//! (an epoch takes about as long as on one thread).

const std = @import("std");
const assert = std.debug.assert;
const ThreadPool = @import("../ThreadPool.zig");
const random = @import("random.zig");
const status = @import("../status.zig");

/// Chunks per epoch: at most this many.
pub const chunk_count_max = 256;

pub const Range = struct { start: usize, end: usize };

/// Chunks for `n_units` of work, each of at least `units_per_chunk_min`.
pub fn chunkCount(n_units: usize, units_per_chunk_min: usize) usize {
    assert(units_per_chunk_min >= 1);
    return std.math.clamp(n_units / units_per_chunk_min, 1, chunk_count_max);
}

/// The units [start, end) of chunk `chunk_index` of `n_chunks`.
pub fn chunkRange(n_units: usize, n_chunks: usize, chunk_index: usize) Range {
    assert(chunk_index < n_chunks);
    return .{ .start = n_units * chunk_index / n_chunks, .end = n_units * (chunk_index + 1) / n_chunks };
}

/// Calls `runChunk(context, chunk_index, worker_index, &prng)` for every
/// chunk, where prng is the chunk's own generator: on the pool's threads, or
/// in chunk order on this thread (worker 0) when `deterministic`. When the
/// caller of the export asks it to stop (status.Cancellation), the chunks not
/// yet started are skipped, so the call returns within about one chunk's
/// work; the export then reports it (`status.cancellation().check()`).
pub fn run(
    pool: *ThreadPool,
    n_chunks: usize,
    seed: u64,
    deterministic: bool,
    context: anytype,
    comptime runChunk: fn (@TypeOf(context), usize, usize, *random.Prng) void,
) void {
    assert(n_chunks <= chunk_count_max);
    const Context = @TypeOf(context);
    const Adapter = struct {
        context: Context,
        seed: u64,
        cancellation: status.Cancellation,

        fn runTask(adapter: *@This(), chunk_index: usize, worker_index: usize) void {
            if (adapter.cancellation.requested()) return;
            var prng = random.stream(adapter.seed, chunk_index);
            runChunk(adapter.context, chunk_index, worker_index, &prng);
        }
    };
    var adapter: Adapter = .{ .context = context, .seed = seed, .cancellation = status.cancellation() };
    if (deterministic) {
        for (0..n_chunks) |chunk_index| adapter.runTask(chunk_index, 0);
    } else {
        pool.run(n_chunks, &adapter, Adapter.runTask);
    }
}

const testing = std.testing;

test "chunks cover the work once and draw the same streams in either mode" {
    try testing.expectEqual(1, chunkCount(10, 4096));
    try testing.expectEqual(chunk_count_max, chunkCount(1 << 30, 4096));
    var covered: usize = 0;
    for (0..7) |c| {
        const range = chunkRange(100, 7, c);
        try testing.expectEqual(covered, range.start);
        covered = range.end;
    }
    try testing.expectEqual(100, covered);

    const Record = struct {
        first: [16]u64 = @splat(0),
        fn runChunk(record: *@This(), chunk_index: usize, worker_index: usize, prng: *random.Prng) void {
            _ = worker_index;
            record.first[chunk_index] = prng.next();
        }
    };
    var pool: ThreadPool = .{};
    pool.start(3);
    defer pool.stop();
    var parallel: Record = .{};
    var ordered: Record = .{};
    run(&pool, 16, 42, false, &parallel, Record.runChunk);
    run(&pool, 16, 42, true, &ordered, Record.runChunk);
    try testing.expectEqualSlices(u64, &ordered.first, &parallel.first);
}
