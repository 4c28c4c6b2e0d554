//! Losses of the stochastic-gradient models, each as the scalar its step
//! multiplies the score's gradient by. A score is s = x_u·y_i (+ biases).
//!
//! - Logistic (Johnson 2014, eq. 2; LightFM's "logistic"): the negative log
//!   likelihood of y ∈ {0, 1} under p = σ(s); ∂/∂s = σ(s) − y.
//! - BPR (Rendle et al. 2009, eq. 5): ln σ(x̂_uij) with x̂_uij = s_ui − s_uj;
//!   ∂/∂x̂ = σ(−x̂) = 1 − σ(x̂).
//! - WARP (Weston, Bengio & Usunier, "WSABIE", IJCAI 2011, §3.2): when the
//!   `sampled`-th draw is the first negative that violates the margin
//!   (s_uj > s_ui − 1), the positive's rank among N items is estimated as
//!   ⌊(N − 1) / sampled⌋ and the step is weighted by L(rank) = ln(rank)
//!   (LightFM's choice of L), clipped at `warp_loss_max`.
//! - k-OS WARP (Weston, Yee & Weiss, "Learning to rank recommendations with
//!   the k-order statistic loss", RecSys 2013, §3): the positive is the k-th
//!   best scored of n positives sampled from the user's row; the rank
//!   estimate counts only the user's negatives, ⌊(N − |P(u)|) / sampled⌋.
//! - Spotlight's minibatch losses (spotlight/losses.py), each of a positive
//!   score p and a negative score n, averaged over a batch: pointwise
//!   (1 − σ(p)) + σ(n); BPR 1 − σ(p − n); hinge max(0, n − p + 1), whose
//!   adaptive form takes n as the highest of several negatives' scores.

const std = @import("std");
const assert = std.debug.assert;

/// The largest weight a WARP step takes (LightFM's MAX_LOSS).
pub const warp_loss_max: f64 = 10.0;
/// A WARP negative violates the margin when s_uj > s_ui − warp_margin.
pub const warp_margin: f64 = 1.0;

/// σ(s) = 1 / (1 + e^−s), without overflow on either side.
pub inline fn sigmoid(s: anytype) @TypeOf(s) {
    if (s >= 0) return 1 / (1 + @exp(-s));
    const e = @exp(s);
    return e / (1 + e);
}

/// ∂/∂s of the logistic loss of label `positive` at score s: σ(s) − y.
pub inline fn logistic(s: f64, positive: bool) f64 {
    return sigmoid(s) - @as(f64, if (positive) 1 else 0);
}

/// ∂/∂x̂ of ln σ(x̂) at the difference x̂ = s_ui − s_uj: 1 − σ(x̂), in the
/// precision of x̂: bpr.zig steps in f32 (an f64 exp costs its epoch about 5%),
/// hybrid.zig in f64.
pub inline fn bpr(difference: anytype) @TypeOf(difference) {
    return 1 - sigmoid(difference);
}

/// Whether a sampled negative violates WARP's margin.
pub inline fn warpViolates(positive_score: f64, negative_score: f64) bool {
    return negative_score > positive_score - warp_margin;
}

/// WARP's step weight w · ln⌊(n_items − 1) / sampled⌋ (the floor kept at
/// least 1), clipped at warp_loss_max after the sample weight w multiplies it.
pub fn warp(n_items: usize, sampled: usize, weight: f64) f64 {
    assert(sampled >= 1 and n_items >= 1);
    const rank = @floor(@as(f64, @floatFromInt(n_items - 1)) / @as(f64, @floatFromInt(sampled)));
    return @min(weight * @log(@max(1.0, rank)), warp_loss_max);
}

/// k-OS WARP's weight ln⌊(n_items − n_positives) / sampled⌋, clipped as warp.
/// LightFM takes ln of the floor unguarded (−∞ when it is 0); the floor is
/// kept at 1 here so a weight is never negative or infinite.
pub fn warpKos(n_items: usize, n_positives: usize, sampled: usize) f64 {
    assert(sampled >= 1 and n_positives < n_items);
    const rank = @floor(@as(f64, @floatFromInt(n_items - n_positives)) / @as(f64, @floatFromInt(sampled)));
    return @min(@log(@max(1.0, rank)), warp_loss_max);
}

/// A minibatch loss at one (positive, negative) pair: its value and its
/// derivatives with respect to the two scores.
pub const Pair = struct { value: f32, d_positive: f32, d_negative: f32 };

/// Spotlight's pointwise loss (1 − σ(p)) + σ(n); σ' = σ(1 − σ).
pub inline fn pointwise(positive: f32, negative: f32) Pair {
    const sp = sigmoid(positive);
    const sn = sigmoid(negative);
    return .{ .value = (1 - sp) + sn, .d_positive = -sp * (1 - sp), .d_negative = sn * (1 - sn) };
}

/// Spotlight's BPR loss 1 − σ(p − n) (a probability, not Rendle's log-likelihood).
pub inline fn bprProbability(positive: f32, negative: f32) Pair {
    const s = sigmoid(positive - negative);
    const slope = s * (1 - s);
    return .{ .value = 1 - s, .d_positive = -slope, .d_negative = slope };
}

/// Spotlight's hinge loss max(0, n − p + 1). The gradient flows where
/// n − p + 1 >= 0, as PyTorch's clamp(min = 0) passes it at the boundary.
pub inline fn hinge(positive: f32, negative: f32) Pair {
    const margin = negative - positive + 1;
    if (margin < 0) return .{ .value = 0, .d_positive = 0, .d_negative = 0 };
    return .{ .value = margin, .d_positive = -1, .d_negative = 1 };
}

const testing = std.testing;

test "Spotlight's losses and their derivatives equal their formulas" {
    const p: f32 = 0.4;
    const n: f32 = -0.2;
    const sp = 1 / (1 + @exp(-p));
    const sn = 1 / (1 + @exp(-n));
    const point = pointwise(p, n);
    try testing.expectApproxEqAbs(1 - sp + sn, point.value, 1e-6);
    try testing.expectApproxEqAbs(-sp * (1 - sp), point.d_positive, 1e-6);
    try testing.expectApproxEqAbs(sn * (1 - sn), point.d_negative, 1e-6);
    const sd = 1 / (1 + @exp(-(p - n)));
    const pair = bprProbability(p, n);
    try testing.expectApproxEqAbs(1 - sd, pair.value, 1e-6);
    try testing.expectApproxEqAbs(-sd * (1 - sd), pair.d_positive, 1e-6);
    try testing.expectEqual(-pair.d_positive, pair.d_negative);
    const h = hinge(p, n);
    try testing.expectApproxEqAbs(n - p + 1, h.value, 1e-6);
    try testing.expect(h.d_positive == -1 and h.d_negative == 1);
    try testing.expectEqual(Pair{ .value = 0, .d_positive = 0, .d_negative = 0 }, hinge(2, 0.5));
}

test "the losses' gradients equal their formulas" {
    try testing.expectApproxEqAbs(1.0 / (1.0 + @exp(@as(f64, -0.3))) - 1.0, logistic(0.3, true), 1e-12);
    try testing.expectApproxEqAbs(1.0 / (1.0 + @exp(@as(f64, 0.7))), logistic(-0.7, false), 1e-12);
    try testing.expectApproxEqAbs(1.0 / (1.0 + @exp(@as(f64, 1.5))), bpr(@as(f64, 1.5)), 1e-12);
    try testing.expectApproxEqAbs(1.0 / (1.0 + @exp(@as(f32, -2.5))), bpr(@as(f32, -2.5)), 1e-6);
    try testing.expectEqual(0, sigmoid(@as(f64, -1000)));
    try testing.expectEqual(1, sigmoid(@as(f64, 1000)));
    // 101 items, third draw: ln⌊100 / 3⌋ = ln 33.
    try testing.expectApproxEqAbs(2 * @log(33.0), warp(101, 3, 2), 1e-12);
    try testing.expectEqual(0, warp(5, 10, 1));
    try testing.expectEqual(warp_loss_max, warp(1 << 40, 1, 1));
    try testing.expectEqual(warp_loss_max, warp(101, 1, 3));
    // 101 items, 11 positives, second draw: ln⌊90 / 2⌋ = ln 45.
    try testing.expectApproxEqAbs(@log(45.0), warpKos(101, 11, 2), 1e-12);
    try testing.expect(warpViolates(1.0, 0.5) and !warpViolates(1.0, -0.5));
}
