//! The machine's limits, measured rather than guessed, for bench/limits.ts:
//! float32 FMA throughput (and bf16 dot-product throughput where the CPU has
//! AVX512-BF16), streaming read bandwidth and random reads of one cache line
//! and of 256-byte rows, each
//! on 1..threads threads running at once. Prints one JSON object.
//!
//!   zig build peak -Doptimize=ReleaseFast -- [threads=2]

const std = @import("std");
const builtin = @import("builtin");

/// The widest vector the CPU has: LLVM's suggestVectorLength says 8 on AVX-512
/// CPUs it marks "prefer-256-bit", but the peak is that of 512-bit FMAs.
const lanes = if (builtin.cpu.arch == .x86_64 and std.Target.x86.featureSetHas(builtin.cpu.features, .avx512f))
    16
else
    std.simd.suggestVectorLength(f32) orelse 8;
const V = @Vector(lanes, f32);

/// Independent FMA chains: more than latency (4) × ports (2), so the loop is
/// bound by throughput alone.
const fma_chains = 16;
const fma_rounds = 40_000_000;
const bf16_chains = 16;
/// Bytes each thread streams through (well past any cache), read this many times.
const stream_bytes = 256 << 20;
const stream_passes = 4;
const random_lines = 32 << 20;

const has_bf16 = builtin.cpu.arch == .x86_64 and
    std.Target.x86.featureSetHas(builtin.cpu.features, .avx512bf16);

pub fn main(init: std.process.Init.Minimal) !void {
    var arena: std.heap.ArenaAllocator = .init(std.heap.c_allocator);
    defer arena.deinit();
    const args = try init.args.toSlice(arena.allocator());
    const threads_max: usize = if (args.len > 1) try std.fmt.parseInt(usize, args[1], 10) else 2;

    const buffers = try arena.allocator().alloc([]V, threads_max);
    for (buffers, 0..) |*buffer, t| {
        buffer.* = try arena.allocator().alloc(V, stream_bytes / @sizeOf(V));
        for (buffer.*, 0..) |*v, i| v.* = @splat(@floatFromInt((i + t) % 7));
    }

    var out: [4096]u8 = undefined;
    var writer: std.Io.Writer = .fixed(&out);
    try writer.print("{{\"lanes\":{d},\"bf16\":{},\"results\":[", .{ lanes, has_bf16 });
    for (1..threads_max + 1) |threads| {
        const fma = try runThreads(threads, fmaProbe, buffers);
        const bf16 = if (has_bf16) try runThreads(threads, bf16Probe, buffers) else 0;
        const stream = try runThreads(threads, streamProbe, buffers);
        const random_line = try runThreads(threads, randomProbe(1), buffers);
        const random_row = try runThreads(threads, randomProbe(4), buffers);
        if (threads > 1) try writer.writeAll(",");
        try writer.print(
            "{{\"threads\":{d},\"fmaGflops\":{d:.1},\"bf16Gflops\":{d:.1},\"streamGBs\":{d:.2},\"randomLineGBs\":{d:.2},\"randomRowGBs\":{d:.2}}}",
            .{ threads, fma, bf16, stream, random_line, random_row },
        );
    }
    try writer.writeAll("]}\n");
    std.debug.print("{s}", .{writer.buffered()});
}

const Probe = fn (buffer: []V) f64;

/// Runs `probe` on `threads` threads at once; returns the sum of their rates.
fn runThreads(threads: usize, comptime probe: Probe, buffers: []const []V) !f64 {
    var rates: [64]f64 = undefined;
    var handles: [64]std.Thread = undefined;
    const Runner = struct {
        fn run(buffer: []V, rate: *f64) void {
            rate.* = probe(buffer);
        }
    };
    for (0..threads) |t| handles[t] = try std.Thread.spawn(.{}, Runner.run, .{ buffers[t], &rates[t] });
    var total: f64 = 0;
    for (0..threads) |t| {
        handles[t].join();
        total += rates[t];
    }
    return total;
}

/// GFLOP/s of `fma_chains` independent vector FMA chains.
fn fmaProbe(buffer: []V) f64 {
    var acc: [fma_chains]V = undefined;
    for (&acc, 0..) |*a, i| a.* = buffer[i];
    const b: V = @splat(0.999999);
    const c: V = @splat(1e-7);
    const started = nowNs();
    for (0..fma_rounds) |_| {
        inline for (&acc) |*a| a.* = @mulAdd(V, a.*, b, c);
        // Keeps the chains in registers and the loop from being folded.
        asm volatile ("" ::: .{ .memory = true });
    }
    const seconds = secondsSince(started);
    var sum: V = @splat(0);
    for (acc) |a| sum += a;
    std.mem.doNotOptimizeAway(sum);
    return @as(f64, fma_rounds * fma_chains * lanes * 2) / seconds / 1e9;
}

/// GFLOP/s of vdpbf16ps on `bf16_chains` independent accumulators (each instruction is 32
/// bf16 products added pairwise into 16 float32 lanes: 64 flops).
fn bf16Probe(buffer: []V) f64 {
    if (!has_bf16) return 0;
    _ = buffer;
    const rounds: usize = fma_rounds / 2;
    var n: usize = rounds;
    const started = nowNs();
    asm volatile (
        \\ vxorps %%zmm0, %%zmm0, %%zmm0
        \\ vmovaps %%zmm0, %%zmm1
        \\ vmovaps %%zmm0, %%zmm2
        \\ vmovaps %%zmm0, %%zmm3
        \\ vmovaps %%zmm0, %%zmm4
        \\ vmovaps %%zmm0, %%zmm5
        \\ vmovaps %%zmm0, %%zmm6
        \\ vmovaps %%zmm0, %%zmm7
        \\ vmovaps %%zmm0, %%zmm8
        \\ vmovaps %%zmm0, %%zmm9
        \\ vmovaps %%zmm0, %%zmm10
        \\ vmovaps %%zmm0, %%zmm11
        \\ vmovaps %%zmm0, %%zmm12
        \\ vmovaps %%zmm0, %%zmm13
        \\ vmovaps %%zmm0, %%zmm14
        \\ vmovaps %%zmm0, %%zmm15
        \\ vmovaps %%zmm0, %%zmm16
        \\ vmovaps %%zmm0, %%zmm17
        \\1:
        \\ vdpbf16ps %%zmm16, %%zmm17, %%zmm0
        \\ vdpbf16ps %%zmm16, %%zmm17, %%zmm1
        \\ vdpbf16ps %%zmm16, %%zmm17, %%zmm2
        \\ vdpbf16ps %%zmm16, %%zmm17, %%zmm3
        \\ vdpbf16ps %%zmm16, %%zmm17, %%zmm4
        \\ vdpbf16ps %%zmm16, %%zmm17, %%zmm5
        \\ vdpbf16ps %%zmm16, %%zmm17, %%zmm6
        \\ vdpbf16ps %%zmm16, %%zmm17, %%zmm7
        \\ vdpbf16ps %%zmm16, %%zmm17, %%zmm8
        \\ vdpbf16ps %%zmm16, %%zmm17, %%zmm9
        \\ vdpbf16ps %%zmm16, %%zmm17, %%zmm10
        \\ vdpbf16ps %%zmm16, %%zmm17, %%zmm11
        \\ vdpbf16ps %%zmm16, %%zmm17, %%zmm12
        \\ vdpbf16ps %%zmm16, %%zmm17, %%zmm13
        \\ vdpbf16ps %%zmm16, %%zmm17, %%zmm14
        \\ vdpbf16ps %%zmm16, %%zmm17, %%zmm15
        \\ dec %[n]
        \\ jnz 1b
        : [n] "+r" (n),
        :
        : .{ .zmm0 = true, .zmm1 = true, .zmm2 = true, .zmm3 = true, .zmm4 = true, .zmm5 = true, .zmm6 = true, .zmm7 = true, .zmm8 = true, .zmm9 = true, .zmm10 = true, .zmm11 = true, .zmm12 = true, .zmm13 = true, .zmm14 = true, .zmm15 = true, .zmm16 = true, .zmm17 = true, .cc = true });
    const seconds = secondsSince(started);
    return @as(f64, @floatFromInt(rounds * bf16_chains * 64)) / seconds / 1e9;
}

/// GB/s of summing the thread's buffer with vector loads, `stream_passes` times.
fn streamProbe(buffer: []V) f64 {
    var sums: [8]V = @splat(@splat(0));
    const started = nowNs();
    for (0..stream_passes) |_| {
        var i: usize = 0;
        while (i + 8 <= buffer.len) : (i += 8) {
            inline for (&sums, 0..) |*s, j| s.* += buffer[i + j];
        }
    }
    const seconds = secondsSince(started);
    var total: V = @splat(0);
    for (sums) |s| total += s;
    std.mem.doNotOptimizeAway(total);
    return @as(f64, @floatFromInt(stream_passes * buffer.len * @sizeOf(V))) / seconds / 1e9;
}

/// GB/s of reading `lines_per_read` consecutive 64-byte lines at independent
/// random positions, eight reads in flight: one line is a scattered scalar's
/// access, four (256 bytes) that of gathering a 64-factor row.
fn randomProbe(comptime lines_per_read: usize) Probe {
    return struct {
        fn probe(buffer: []V) f64 {
            const reads = buffer.len * @sizeOf(V) / (64 * lines_per_read);
            const floats: [*]const f32 = @ptrCast(buffer.ptr);
            var state: u64 = 0x9E3779B97F4A7C15;
            var sum: @Vector(16, f32) = @splat(0);
            const read_count = random_lines / lines_per_read;
            const started = nowNs();
            var done: usize = 0;
            while (done < read_count) : (done += 8) {
                inline for (0..8) |_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    const first: [*]const [16]f32 = @ptrCast(floats + (state % reads) * 16 * lines_per_read);
                    inline for (0..lines_per_read) |line| sum += first[line];
                }
            }
            const seconds = secondsSince(started);
            std.mem.doNotOptimizeAway(sum);
            return @as(f64, @floatFromInt(read_count * lines_per_read * 64)) / seconds / 1e9;
        }
    }.probe;
}

fn nowNs() i128 {
    var ts: std.c.timespec = undefined;
    _ = std.c.clock_gettime(.MONOTONIC, &ts);
    return @as(i128, ts.sec) * std.time.ns_per_s + ts.nsec;
}

fn secondsSince(started_ns: i128) f64 {
    return @as(f64, @floatFromInt(nowNs() - started_ns)) / 1e9;
}
