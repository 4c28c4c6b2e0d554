//! A software prefetch pipeline for the steps of one chunk, for samplers whose
//! draws do not read the parameters being trained (BPR's: two stored entries).
//!
//! A step at scale is bound by memory: its factor rows are anywhere in
//! hundreds of megabytes, and so are the entries a draw lands on and the
//! lines a verification's binary search probes, a chain of dependent misses.
//! One core keeps only a few misses in flight (its fill buffers), so what
//! counts is that they are always busy and never wait on each other. The
//! samples of a chunk therefore go through `depth` stages, `batch_len`
//! samples at a time, one pass per batch:
//!
//!   age 0                   draw, prefetching the entries it lands on;
//!   ages 1 .. depth − 2     advance: one link of the sample's chain of
//!                           dependent reads, whose line the advance before
//!                           prefetched (BPR: its entries, the user's row
//!                           bounds, then a search probe per advance);
//!   age depth − 2           also prefetch the rows the step touches;
//!   age depth − 1           step.
//!
//! A pass thus issues the reads of `depth` batches, each behind a line asked
//! for a pass earlier, so the misses of many samples overlap. Samples are
//! drawn in order and stepped in the same order, so a chunk's draws and steps
//! are those of a plain draw-then-step loop: the pipeline changes only the
//! timing.

const std = @import("std");
const assert = std.debug.assert;
const random = @import("random.zig");
const status = @import("../status.zig");

/// Samples drawn, advanced and stepped together.
pub const batch_len = 4;
/// Stages: draw, depth − 2 advances (the last with the rows' prefetch), step.
/// 14 advances cover a search of a row of 2^16 entries (negatives.PositiveSearch).
pub const depth = 16;

/// Passes between two reads of the caller's cancellation flag.
pub const batches_per_check = 64;

/// Takes `n_samples` steps through `stages`, a pointer to a type with the
/// public methods
///   fn draw(*Stages, *random.Prng) Sample   draw one sample, prefetching what its first advance reads,
///   fn advance(*Stages, *Sample) bool       one link of its reads, prefetching the next (ages 1 .. depth − 2);
///                                           false once it has nothing left to follow. A batch is advanced
///                                           while one of its samples has, so an advance of a sample that
///                                           has not must do nothing,
///   fn prefetch(*Stages, *Sample) void      prefetch what its step touches (age depth − 2, after advance),
///   fn step(*Stages, *Sample) void          take its step, finishing what the advances left.
/// Stops early, leaving the rest unstepped, when `cancellation` is requested
/// (read every `batches_per_check` passes: a step's cost is bounded by its
/// rows' width, so that is a fraction of a millisecond).
pub fn run(stages: anytype, prng: *random.Prng, n_samples: usize, cancellation: status.Cancellation) void {
    const Stages = @typeInfo(@TypeOf(stages)).pointer.child;
    const Sample = @typeInfo(@TypeOf(Stages.draw)).@"fn".return_type.?;
    const n_batches = std.math.divCeil(usize, n_samples, batch_len) catch unreachable;
    var ring: [depth][batch_len]Sample = undefined;
    // Whether a batch's last advance left one of its samples with more to follow.
    var following: [depth]bool = undefined;
    // Bounded: n_batches + depth − 1 passes, each stage once per batch.
    for (0..n_batches + depth - 1) |b| {
        if (b % batches_per_check == batches_per_check - 1 and cancellation.requested()) return;
        if (b < n_batches) {
            for (ring[b % depth][0..batchLen(n_samples, b)]) |*sample| sample.* = stages.draw(prng);
            following[b % depth] = true;
        }
        // The batch of age `age` was drawn `age` passes ago.
        inline for (1..depth - 1) |age| {
            if (b >= age and b - age < n_batches) {
                const slot = (b - age) % depth;
                const batch = ring[slot][0..batchLen(n_samples, b - age)];
                if (following[slot]) {
                    var any = false;
                    for (batch) |*sample| any = stages.advance(sample) or any;
                    following[slot] = any;
                }
                if (age == depth - 2) for (batch) |*sample| stages.prefetch(sample);
            }
        }
        if (b >= depth - 1) {
            const stepped = b - (depth - 1);
            for (ring[stepped % depth][0..batchLen(n_samples, stepped)]) |*sample| stages.step(sample);
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

test "the pipeline draws, advances, prefetches and steps every sample, in draw order" {
    const Sample = struct { value: u64, advances: usize = 0, prefetched: bool = false };
    const Record = struct {
        n_samples: usize,
        drawn: usize = 0,
        stepped: [229]u64 = @splat(0),
        n_stepped: usize = 0,
        /// Samples advanced after their prefetch, or stepped after other
        /// advances than they asked for (at most depth − 2) or without it.
        n_bad: usize = 0,
        ahead_min: usize = std.math.maxInt(usize),

        fn wanted(value: u64) usize {
            return @intCast(value % depth);
        }
        pub fn draw(record: *@This(), prng: *random.Prng) Sample {
            record.drawn += 1;
            return .{ .value = prng.next() };
        }
        /// A sample asks for value % depth advances: fewer, and some more, than there are.
        pub fn advance(record: *@This(), sample: *Sample) bool {
            if (sample.prefetched) record.n_bad += 1;
            if (sample.advances < wanted(sample.value)) sample.advances += 1;
            return sample.advances < wanted(sample.value);
        }
        pub fn prefetch(record: *@This(), sample: *Sample) void {
            if (sample.prefetched) record.n_bad += 1;
            sample.prefetched = true;
        }
        pub fn step(record: *@This(), sample: *Sample) void {
            if (!sample.prefetched or sample.advances != @min(wanted(sample.value), depth - 2)) record.n_bad += 1;
            // Samples drawn beyond this one, unless drawing has ended.
            if (record.drawn < record.n_samples) record.ahead_min = @min(record.ahead_min, record.drawn - record.n_stepped);
            record.stepped[record.n_stepped] = sample.value;
            record.n_stepped += 1;
        }
    };
    for ([_]usize{ 0, 1, 8, 29, 229 }) |n| {
        var record: Record = .{ .n_samples = n };
        var prng = random.stream(3, 1);
        run(&record, &prng, n, .never);
        try testing.expectEqual(n, record.n_stepped);
        try testing.expectEqual(0, record.n_bad);
        if (n > depth * batch_len) try testing.expect(record.ahead_min > (depth - 1) * batch_len);
        var plain = random.stream(3, 1);
        for (record.stepped[0..n]) |sample| try testing.expectEqual(plain.next(), sample);
    }
}
