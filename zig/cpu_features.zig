//! Run-time CPU feature checks for kernels that use instructions beyond the
//! build's target (the prebuilt libraries target x86_64_v3): the bf16
//! candidate pass of zig/topk_bf16.zig runs on AMX tiles only when the CPU
//! has them (cpuid), the OS saves their state (xgetbv: XCR0 bits 17 and 18)
//! and Linux grants this process the tile data (arch_prctl
//! ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA = 18); elsewhere it runs on
//! AVX512-BF16 (vdpbf16ps) when the CPU has it and the OS saves the 512-bit
//! register state (XCR0 bits 1, 2 and 5–7). Each answer is computed once.

const std = @import("std");
const builtin = @import("builtin");

const is_x86_64_linux = builtin.cpu.arch == .x86_64 and builtin.os.tag == .linux;

/// The answer of `detect`, asked once per process (false off x86-64 Linux).
fn Once(comptime detect: fn () bool) type {
    return struct {
        /// 0: not yet asked, 1: usable, 2: not usable.
        var state: std.atomic.Value(u8) = .init(0);

        fn get() bool {
            if (!is_x86_64_linux) return false;
            const known = state.load(.acquire);
            if (known != 0) return known == 1;
            const usable = detect();
            state.store(if (usable) 1 else 2, .release);
            return usable;
        }
    };
}

/// Whether AMX-BF16 tiles (tdpbf16ps) may be used by this process.
pub fn amxBf16() bool {
    return Once(detectAmxBf16).get();
}

/// Whether AVX512-BF16 (vdpbf16ps on zmm registers) may be used.
pub fn avx512Bf16() bool {
    return Once(detectAvx512Bf16).get();
}

/// Whether the CPU is AMD's ("AuthenticAMD" in cpuid leaf 0). Zen 4 and later
/// run `vdpbf16ps` at twice the flop rate of a float32 FMA (`zig build peak`
/// on an EPYC Zen 4 core: 470 against 237 GFLOP/s), Intel's Sapphire Rapids
/// at half of it (109 against 217): only on AMD does the AVX512-BF16
/// candidate pass beat the float32 path.
pub fn vendorAmd() bool {
    if (!is_x86_64_linux) return false;
    const leaf0 = cpuid(0, 0);
    // "Auth" "enti" "cAMD" in ebx, edx, ecx.
    return leaf0.ebx == 0x68747541 and leaf0.edx == 0x69746e65 and leaf0.ecx == 0x444d4163;
}

const Cpuid = struct { eax: u32, ebx: u32, ecx: u32, edx: u32 };

fn cpuid(leaf: u32, subleaf: u32) Cpuid {
    var eax: u32 = undefined;
    var ebx: u32 = undefined;
    var ecx: u32 = undefined;
    var edx: u32 = undefined;
    asm volatile ("cpuid"
        : [eax] "={eax}" (eax),
          [ebx] "={ebx}" (ebx),
          [ecx] "={ecx}" (ecx),
          [edx] "={edx}" (edx),
        : [leaf] "{eax}" (leaf),
          [subleaf] "{ecx}" (subleaf),
    );
    return .{ .eax = eax, .ebx = ebx, .ecx = ecx, .edx = edx };
}

fn xgetbv0() u64 {
    var eax: u32 = undefined;
    var edx: u32 = undefined;
    asm volatile ("xgetbv"
        : [eax] "={eax}" (eax),
          [edx] "={edx}" (edx),
        : [ecx] "{ecx}" (@as(u32, 0)),
    );
    return @as(u64, edx) << 32 | eax;
}

/// Whether cpuid has leaf 7 and the OS enabled xgetbv (OSXSAVE), which both
/// detections need before reading their feature bits.
fn hasLeaf7AndXsave() bool {
    if (cpuid(0, 0).eax < 7) return false;
    return cpuid(1, 0).ecx & (1 << 27) != 0;
}

fn detectAmxBf16() bool {
    if (!hasLeaf7AndXsave()) return false;
    const leaf7 = cpuid(7, 0);
    const amx_bf16 = leaf7.edx & (1 << 22) != 0;
    const amx_tile = leaf7.edx & (1 << 24) != 0;
    if (!amx_bf16 or !amx_tile) return false;
    const xtile_bits: u64 = (1 << 17) | (1 << 18);
    if (xgetbv0() & xtile_bits != xtile_bits) return false;
    const arch_req_xcomp_perm = 0x1023;
    const xfeature_xtiledata = 18;
    const rc = std.os.linux.syscall2(.arch_prctl, arch_req_xcomp_perm, xfeature_xtiledata);
    return std.os.linux.errno(rc) == .SUCCESS;
}

fn detectAvx512Bf16() bool {
    if (!hasLeaf7AndXsave()) return false;
    const avx512f = cpuid(7, 0).ebx & (1 << 16) != 0;
    const avx512_bf16 = cpuid(7, 1).eax & (1 << 5) != 0;
    if (!avx512f or !avx512_bf16) return false;
    // SSE, AVX, opmask, upper halves of zmm0–15, zmm16–31.
    const zmm_bits: u64 = (1 << 1) | (1 << 2) | (1 << 5) | (1 << 6) | (1 << 7);
    return xgetbv0() & zmm_bits == zmm_bits;
}

test "amxBf16 and avx512Bf16 answer the same twice" {
    const first = amxBf16();
    try std.testing.expectEqual(first, amxBf16());
    const second = avx512Bf16();
    try std.testing.expectEqual(second, avx512Bf16());
}
