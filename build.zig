//! Builds the native core of tacit.
//!
//!   zig build -Doptimize=ReleaseFast   -> zig-out/lib/libtacit.so (the FFI library)
//!   zig build test                     -> runs the unit tests next to the kernels
//!   zig build bench -Doptimize=ReleaseFast -- [args]  -> a synthetic ALS/top-k timing run
//!
//! The toolchain is pinned to Zig 0.17.0 from PyPI's `ziglang` package
//! (scripts/toolchain.sh installs it into .tools/py).
//!
//! Target: the default is the host (`native`) CPU. The library is built on demand
//! on the machine that loads it (lib/native build-on-demand), so it may use every
//! vector extension that machine has (AVX2/AVX-512 widen the @Vector kernels). A
//! library meant to be copied to other machines should be built with an explicit
//! `-Dtarget=x86_64-linux-gnu.2.28 -Dcpu=x86_64_v3` (or `baseline`) and `-Dstrip=true`,
//! as scripts/release.ts does for the prebuilt platform packages.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    // null keeps Zig's default for the optimize mode (debug info kept), so a plain
    // `zig build` is unchanged; the release script passes -Dstrip=true.
    const strip = b.option(bool, "strip", "Strip debug info and symbols from the library");

    const tacit_module = b.createModule(.{
        .root_source_file = b.path("zig/root.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        .pic = true,
        .strip = strip,
    });

    // zig/topk_bf16.zig's AMX instructions are inline assembly that only
    // LLVM's assembler knows (Zig's own x86 backend, the Debug default, does not).
    const use_llvm = true;
    const library = b.addLibrary(.{
        .linkage = .dynamic,
        .name = "tacit",
        .root_module = tacit_module,
        .use_llvm = use_llvm,
    });
    b.installArtifact(library);

    const unit_tests = b.addTest(.{ .root_module = tacit_module, .use_llvm = use_llvm });
    const run_unit_tests = b.addRunArtifact(unit_tests);
    // Always run, so every `zig build test` reports its pass count.
    run_unit_tests.has_side_effects = true;
    const test_step = b.step("test", "Run the Zig unit tests");
    test_step.dependOn(&run_unit_tests.step);

    // A synthetic benchmark; never part of the default install.
    const bench_exe = b.addExecutable(.{
        .name = "tacit-bench",
        .use_llvm = use_llvm,
        .root_module = b.createModule(.{
            .root_source_file = b.path("zig/bench.zig"),
            .target = target,
            .optimize = optimize,
            .link_libc = true,
            .imports = &.{.{ .name = "tacit", .module = tacit_module }},
        }),
    });
    const run_bench = b.addRunArtifact(bench_exe);
    run_bench.addPassthruArgs();
    const bench_step = b.step("bench", "Time the ALS and top-k kernels on synthetic data");
    bench_step.dependOn(&run_bench.step);

    // The machine's measured limits for bench/limits.ts; never installed.
    const peak_exe = b.addExecutable(.{
        .name = "tacit-peak",
        .root_module = b.createModule(.{
            .root_source_file = b.path("zig/peak.zig"),
            .target = target,
            .optimize = optimize,
            .link_libc = true,
        }),
    });
    const run_peak = b.addRunArtifact(peak_exe);
    run_peak.addPassthruArgs();
    const peak_step = b.step("peak", "Measure FMA throughput and memory bandwidth (bench/limits.ts)");
    peak_step.dependOn(&run_peak.step);
}
