//! A software prefetch pipeline for the steps of one chunk, for samplers whose
//! draws do not read the parameters being trained (BPR's: two stored entries).
//!
//! A step at scale is bound by memory: its factor rows are anywhere in
//! hundreds of megabytes, and so are the entries a draw lands on. The samples
//! of a chunk therefore go through three stages, `batch_len` samples at a
//! time: batch b is drawn (the draw prefetches the entries it will read) while
//! batch b − 1 prefetches the rows its steps touch and batch b − 2 is stepped,
//! so a row arrives while the batches before it compute. Samples are drawn in
//! order and stepped in the same order, so a chunk's draws and steps are those
//! of a plain draw-then-step loop: the pipeline changes only the timing.

const std = @import("std");
const assert = std.debug.assert;
const random = @import("random.zig");
const status = @import("../status.zig");

/// Samples drawn, prefetched and stepped together.
pub const batch_len = 8;
/// Stages: draw, prefetch, step.
pub const depth = 3;

/// Batches between two reads of the caller's cancellation flag.
pub const batches_per_check = 64;

/// Takes `n_samples` steps through `stages`, a pointer to a type with the
/// public methods
///   fn draw(*Stages, *random.Prng) Sample   draw one sample, prefetching what resolving it reads,
///   fn prefetch(*Stages, Sample) void        prefetch what its step touches,
///   fn step(*Stages, Sample) void            take its step.
/// Stops early, leaving the rest unstepped, when `cancellation` is requested
/// (read every `batches_per_check` batches: a step's cost is bounded by its
/// rows' width, so that is a fraction of a millisecond).
pub fn run(stages: anytype, prng: *random.Prng, n_samples: usize, cancellation: status.Cancellation) void {
    const Stages = @typeInfo(@TypeOf(stages)).pointer.child;
    const Sample = @typeInfo(@TypeOf(Stages.draw)).@"fn".return_type.?;
    const n_batches = std.math.divCeil(usize, n_samples, batch_len) catch unreachable;
    var ring: [depth][batch_len]Sample = undefined;
    // Bounded: n_batches + depth − 1 passes, each stage once per batch.
    for (0..n_batches + depth - 1) |b| {
        if (b % batches_per_check == batches_per_check - 1 and cancellation.requested()) return;
        if (b < n_batches) {
            for (ring[b % depth][0..batchLen(n_samples, b)]) |*sample| sample.* = stages.draw(prng);
        }
        if (b >= 1 and b - 1 < n_batches) {
            for (ring[(b - 1) % depth][0..batchLen(n_samples, b - 1)]) |sample| stages.prefetch(sample);
        }
        if (b >= 2) {
            for (ring[(b - 2) % depth][0..batchLen(n_samples, b - 2)]) |sample| stages.step(sample);
        }
    }
}

fn batchLen(n_samples: usize, b: usize) usize {
    assert(b * batch_len < n_samples);
    return @min(batch_len, n_samples - b * batch_len);
}

/// Asks for the cache line holding `pointer`, to be read soon.
pub inline fn prefetch(pointer: anytype) void {
    @prefetch(pointer, .{ .rw = .read, .locality = 3, .cache = .data });
}

/// A data cache line. Not std.atomic.cache_line, which on x86-64 is 128 (two
/// lines, for false sharing): a row prefetched every 128 bytes misses half.
pub const cache_line_bytes = 64;

/// Asks for every cache line of row `row` of a row-major matrix `width` wide.
pub inline fn prefetchRow(values: []const f32, row: usize, width: usize) void {
    prefetchSlice(values[row * width ..][0..width]);
}

/// Asks for every cache line of `values`.
pub inline fn prefetchSlice(values: []const f32) void {
    const cache_line_floats = cache_line_bytes / @sizeOf(f32);
    var offset: usize = 0;
    while (offset < values.len) : (offset += cache_line_floats) prefetch(&values[offset]);
}

const testing = std.testing;

test "the pipeline draws, prefetches and steps every sample once, in draw order" {
    const Record = struct {
        n_samples: usize,
        drawn: usize = 0,
        prefetched: usize = 0,
        stepped: [29]u64 = @splat(0),
        n_stepped: usize = 0,
        ahead_min: usize = std.math.maxInt(usize),

        pub fn draw(record: *@This(), prng: *random.Prng) u64 {
            record.drawn += 1;
            return prng.next();
        }
        pub fn prefetch(record: *@This(), sample: u64) void {
            _ = sample;
            record.prefetched += 1;
        }
        pub fn step(record: *@This(), sample: u64) void {
            // Samples drawn beyond this one, unless drawing has ended.
            if (record.drawn < record.n_samples) record.ahead_min = @min(record.ahead_min, record.drawn - record.n_stepped);
            record.stepped[record.n_stepped] = sample;
            record.n_stepped += 1;
        }
    };
    for ([_]usize{ 0, 1, 8, 29 }) |n| {
        var record: Record = .{ .n_samples = n };
        var prng = random.stream(3, 1);
        run(&record, &prng, n, .never);
        try testing.expectEqual(n, record.n_stepped);
        try testing.expectEqual(n, record.prefetched);
        if (n > depth * batch_len) try testing.expect(record.ahead_min >= (depth - 1) * batch_len);
        var plain = random.stream(3, 1);
        for (record.stepped[0..n]) |sample| try testing.expectEqual(plain.next(), sample);
    }
}
