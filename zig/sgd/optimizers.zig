//! Optimisers as row updates: each moves one parameter row θ (a factor row,
//! or one feature's embedding with its bias in the last column) along a
//! gradient g of the loss, descending, over state rows the caller owns
//! (TypeScript allocates them, so a fit can be resumed or saved).
//!
//! - Plain SGD with L2 (Robbins & Monro 1951): θ ← θ − η (g + λ θ).
//! - Adagrad (Duchi, Hazan & Singer, JMLR 2011, eq. 1 with diagonal G):
//!   G ← G + g², θ ← θ − η g / √(G + ε)  (implicit's LMF).
//! - Adagrad as LightFM steps it (lightfm_fast update_features): the rate
//!   uses the sum before this step, η / √G, then G ← G + g²; G starts at 1.
//! - Adadelta (Zeiler, arXiv:1212.5701, Algorithm 1):
//!   E[g²] ← ρ E[g²] + (1 − ρ) g², Δ = √(E[Δ²] + ε) / √(E[g²] + ε) · g,
//!   E[Δ²] ← ρ E[Δ²] + (1 − ρ) Δ², θ ← θ − Δ.
//!
//! The LightFM updates also take `alpha`, the L2 penalty applied lazily as
//! LightFM does: after its step a parameter is multiplied by
//! (1 + α · its local rate), and the caller keeps a per-side scale that grows
//! by the same rule and divides every parameter of that side at the end of an
//! epoch (hybrid.zig). They return the sum of the local rates, which that
//! scale needs. A gradient enters multiplied by a feature weight w.

const std = @import("std");
const assert = std.debug.assert;
const simd = @import("../simd.zig");

const V = simd.V;
const lanes = simd.lanes;

/// Plain SGD's rule on one value or one vector of lanes: θ − η (g + λ θ).
/// The row form below and a kernel that fuses several rows' updates into one
/// pass (bpr.zig steps three rows per loaded vector) both take their step here.
pub inline fn sgdVector(theta: anytype, gradient: @TypeOf(theta), rate: @TypeOf(theta), regularization: @TypeOf(theta)) @TypeOf(theta) {
    return theta - rate * (gradient + regularization * theta);
}

/// θ ← θ − η (g + λ θ) over a row.
pub fn sgd(theta: []f32, gradient: []const f32, rate: f32, regularization: f32) void {
    assert(theta.len == gradient.len);
    const rate_v: V = @splat(rate);
    const reg_v: V = @splat(regularization);
    var i: usize = 0;
    while (i + lanes <= theta.len) : (i += lanes) {
        simd.store(theta, i, sgdVector(simd.load(theta, i), simd.load(gradient, i), rate_v, reg_v));
    }
    while (i < theta.len) : (i += 1) theta[i] = sgdVector(theta[i], gradient[i], rate, regularization);
}

/// Duchi's Adagrad over a row: G ← G + g², θ ← θ − η g / √(G + ε).
pub fn adagrad(theta: []f32, sums: []f32, gradient: []const f32, rate: f32, epsilon: f32) void {
    assert(theta.len == gradient.len and sums.len == theta.len);
    const rate_v: V = @splat(rate);
    const eps_v: V = @splat(epsilon);
    var i: usize = 0;
    while (i + lanes <= theta.len) : (i += lanes) {
        const g = simd.load(gradient, i);
        const sum = simd.load(sums, i) + g * g;
        simd.store(sums, i, sum);
        simd.store(theta, i, simd.load(theta, i) - rate_v / @sqrt(eps_v + sum) * g);
    }
    while (i < theta.len) : (i += 1) {
        const g = gradient[i];
        sums[i] += g * g;
        theta[i] -= rate / @sqrt(epsilon + sums[i]) * g;
    }
}

/// LightFM's Adagrad step of one feature row along w·g, with lazy L2 `alpha`.
/// Returns Σ η / √G over the row (the local rates, before this step's g²).
pub fn adagradLagged(theta: []f32, sums: []f32, gradient: []const f32, weight: f32, rate: f32, alpha: f32) f32 {
    assert(theta.len == gradient.len and sums.len == theta.len);
    const rate_v: V = @splat(rate);
    const w_v: V = @splat(weight);
    const alpha_v: V = @splat(alpha);
    const one: V = @splat(1);
    var rates_v: V = @splat(0);
    var i: usize = 0;
    while (i + lanes <= theta.len) : (i += lanes) {
        const g = w_v * simd.load(gradient, i);
        const sum = simd.load(sums, i);
        const local = rate_v / @sqrt(sum);
        simd.store(theta, i, (simd.load(theta, i) - local * g) * (one + alpha_v * local));
        simd.store(sums, i, sum + g * g);
        rates_v += local;
    }
    var rates = @reduce(.Add, rates_v);
    while (i < theta.len) : (i += 1) {
        const g = weight * gradient[i];
        const local = rate / @sqrt(sums[i]);
        theta[i] = (theta[i] - local * g) * (1 + alpha * local);
        sums[i] += g * g;
        rates += local;
    }
    return rates;
}

/// Adadelta's step of one feature row along w·g, with lazy L2 `alpha`.
/// `squares` holds E[g²] and `deltas` E[Δ²]. Returns Σ of the local rates
/// √(E[Δ²] + ε) / √(E[g²] + ε).
pub fn adadelta(theta: []f32, squares: []f32, deltas: []f32, gradient: []const f32, weight: f32, rho: f32, epsilon: f32, alpha: f32) f32 {
    assert(theta.len == gradient.len and squares.len == theta.len and deltas.len == theta.len);
    const w_v: V = @splat(weight);
    const rho_v: V = @splat(rho);
    const keep_v: V = @splat(1 - rho);
    const eps_v: V = @splat(epsilon);
    const alpha_v: V = @splat(alpha);
    const one: V = @splat(1);
    var rates_v: V = @splat(0);
    var i: usize = 0;
    while (i + lanes <= theta.len) : (i += lanes) {
        const g = w_v * simd.load(gradient, i);
        const square = rho_v * simd.load(squares, i) + keep_v * g * g;
        simd.store(squares, i, square);
        const delta_sq = simd.load(deltas, i);
        const local = @sqrt(delta_sq + eps_v) / @sqrt(square + eps_v);
        const update = local * g;
        simd.store(deltas, i, rho_v * delta_sq + keep_v * update * update);
        simd.store(theta, i, (simd.load(theta, i) - update) * (one + alpha_v * local));
        rates_v += local;
    }
    var rates = @reduce(.Add, rates_v);
    while (i < theta.len) : (i += 1) {
        const g = weight * gradient[i];
        squares[i] = rho * squares[i] + (1 - rho) * g * g;
        const local = @sqrt(deltas[i] + epsilon) / @sqrt(squares[i] + epsilon);
        const update = local * g;
        deltas[i] = rho * deltas[i] + (1 - rho) * update * update;
        theta[i] = (theta[i] - update) * (1 + alpha * local);
        rates += local;
    }
    return rates;
}

const testing = std.testing;

test "each optimiser's row step equals its formula at every column" {
    // 19 columns: full vectors and a scalar tail on any lane count.
    const n = 19;
    var gradient: [n]f32 = undefined;
    var start: [n]f32 = undefined;
    for (&gradient, &start, 0..) |*g, *t, i| {
        const x: f32 = @floatFromInt(i);
        g.* = @sin(x) * 0.5;
        t.* = @cos(x) * 0.3;
    }
    var theta = start;
    sgd(&theta, &gradient, 0.1, 0.01);
    for (theta, start, gradient) |t, t0, g| try testing.expectApproxEqAbs(t0 - 0.1 * (g + 0.01 * t0), t, 1e-6);

    theta = start;
    var sums: [n]f32 = @splat(0.5);
    adagrad(&theta, &sums, &gradient, 0.2, 1e-6);
    for (theta, start, gradient, sums) |t, t0, g, s| {
        try testing.expectApproxEqAbs(0.5 + g * g, s, 1e-6);
        try testing.expectApproxEqAbs(t0 - 0.2 * g / @sqrt(1e-6 + 0.5 + g * g), t, 1e-6);
    }

    theta = start;
    sums = @splat(2);
    const rates = adagradLagged(&theta, &sums, &gradient, 0.5, 0.05, 0.1);
    var rates_expected: f32 = 0;
    for (theta, start, gradient, sums) |t, t0, g, s| {
        const local = 0.05 / @sqrt(2.0);
        try testing.expectApproxEqAbs((t0 - local * 0.5 * g) * (1 + 0.1 * local), t, 1e-6);
        try testing.expectApproxEqAbs(2 + 0.25 * g * g, s, 1e-6);
        rates_expected += local;
    }
    try testing.expectApproxEqAbs(rates_expected, rates, 1e-5);

    theta = start;
    var squares: [n]f32 = @splat(0.1);
    var deltas: [n]f32 = @splat(0.2);
    _ = adadelta(&theta, &squares, &deltas, &gradient, 2, 0.95, 1e-6, 0);
    for (theta, start, gradient, squares, deltas) |t, t0, g, sq, d| {
        const sq_expected = 0.95 * 0.1 + 0.05 * 4 * g * g;
        const local = @sqrt(0.2 + 1e-6) / @sqrt(sq_expected + 1e-6);
        try testing.expectApproxEqAbs(sq_expected, sq, 1e-6);
        try testing.expectApproxEqAbs(0.95 * 0.2 + 0.05 * (local * 2 * g) * (local * 2 * g), d, 1e-6);
        try testing.expectApproxEqAbs(t0 - local * 2 * g, t, 1e-5);
    }
}
