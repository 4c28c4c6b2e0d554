//! Seeded random streams for the stochastic-gradient kernels.
//!
//! Every unit of parallel work (an epoch's chunk, a row) draws from its own
//! generator, seeded from (seed, stream), so what a unit draws depends only on
//! the seed and the unit, never on which thread runs it or when. Streams are
//! xoshiro256** generators seeded through SplitMix64 (Blackman & Vigna,
//! "Scrambled linear pseudorandom number generators", 2021, §4.3 and §10).

const std = @import("std");
const assert = std.debug.assert;
const status = @import("../status.zig");

pub const Prng = std.Random.Xoshiro256;

/// The generator of stream `stream` under `seed`.
pub fn stream(seed: u64, stream_index: u64) Prng {
    // An odd multiplier spreads consecutive stream indices over the seed space.
    var mix = std.Random.SplitMix64.init(seed ^ (stream_index *% 0x9E3779B97F4A7C15));
    return .init(mix.next());
}

/// A uniform integer in [0, n), n >= 1 (Lemire's multiply-shift on 64 bits:
/// the bias is below n / 2^64).
pub inline fn below(prng: *Prng, n: usize) usize {
    assert(n >= 1);
    return @intCast((@as(u128, prng.next()) * n) >> 64);
}

/// Shuffles `values` in place (Fisher–Yates, Knuth vol. 2 §3.4.2 algorithm P).
/// Stops early, leaving a partial shuffle, when `cancellation` is requested
/// (checked every 2^16 swaps: a few milliseconds).
pub fn shuffle(comptime T: type, prng: *Prng, values: []T, cancellation: status.Cancellation) void {
    var i = values.len;
    while (i > 1) {
        if (i % (1 << 16) == 0 and cancellation.requested()) return;
        const j = below(prng, i);
        i -= 1;
        std.mem.swap(T, &values[i], &values[j]);
    }
}

const testing = std.testing;

test "streams depend on the seed and the stream only, and below stays in range" {
    var a = stream(7, 3);
    var b = stream(7, 3);
    var c = stream(7, 4);
    const first = a.next();
    try testing.expectEqual(first, b.next());
    try testing.expect(first != c.next());
    var counts: [5]u32 = @splat(0);
    for (0..5000) |_| counts[below(&a, 5)] += 1;
    for (counts) |n| try testing.expect(n > 800 and n < 1200);
}

test "shuffle is a permutation" {
    var values: [100]u32 = undefined;
    for (&values, 0..) |*v, i| v.* = @intCast(i);
    var prng = stream(1, 0);
    shuffle(u32, &prng, &values, .never);
    var seen: [100]bool = @splat(false);
    for (values) |v| seen[v] = true;
    for (seen) |s| try testing.expect(s);
    var moved: usize = 0;
    for (values, 0..) |v, i| moved += @intFromBool(v != i);
    try testing.expect(moved > 50);
}
