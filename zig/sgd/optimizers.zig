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
//! - Adam (Kingma & Ba, ICLR 2015, Algorithm 1) at step t, with L2 λ added to
//!   the gradient as PyTorch's `weight_decay` does (Spotlight's default):
//!   g ← g + λθ, m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g²,
//!   θ ← θ − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)  (PyTorch's arithmetic).
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

/// One Adam step's constants: the rates of step t (1-based) folded with its
/// bias corrections, so a row update is a few vector operations.
pub const AdamStep = struct {
    /// η / (1 − β₁ᵗ).
    step_size: f32,
    /// 1 / √(1 − β₂ᵗ).
    inverse_correction: f32,
    beta1: f32,
    beta2: f32,
    epsilon: f32,
    l2: f32,

    pub fn of(t: u64, rate: f32, beta1: f32, beta2: f32, epsilon: f32, l2: f32) AdamStep {
        assert(t >= 1);
        const power: f64 = @floatFromInt(t);
        const correction1 = 1 - std.math.pow(f64, beta1, power);
        const correction2 = 1 - std.math.pow(f64, beta2, power);
        return .{
            .step_size = @floatCast(rate / correction1),
            .inverse_correction = @floatCast(1 / @sqrt(correction2)),
            .beta1 = beta1,
            .beta2 = beta2,
            .epsilon = epsilon,
            .l2 = l2,
        };
    }
};

/// Adam over a row along gradient g, or along a zero gradient when `gradient`
/// is null (a dense step on a row that was not in the batch: only λθ and the
/// moments' momentum move it).
pub fn adam(theta: []f32, first: []f32, second: []f32, gradient: ?[]const f32, step: AdamStep) void {
    assert(first.len == theta.len and second.len == theta.len);
    if (gradient) |g| assert(g.len == theta.len);
    const b1: V = @splat(step.beta1);
    const keep1: V = @splat(1 - step.beta1);
    const b2: V = @splat(step.beta2);
    const keep2: V = @splat(1 - step.beta2);
    const l2: V = @splat(step.l2);
    const size: V = @splat(step.step_size);
    const inverse: V = @splat(step.inverse_correction);
    const eps: V = @splat(step.epsilon);
    var i: usize = 0;
    while (i + lanes <= theta.len) : (i += lanes) {
        const t = simd.load(theta, i);
        const g = (if (gradient) |row| simd.load(row, i) else @as(V, @splat(0))) + l2 * t;
        const m = b1 * simd.load(first, i) + keep1 * g;
        const v = b2 * simd.load(second, i) + keep2 * g * g;
        simd.store(first, i, m);
        simd.store(second, i, v);
        simd.store(theta, i, t - size * m / (@sqrt(v) * inverse + eps));
    }
    while (i < theta.len) : (i += 1) {
        const t = theta[i];
        const g = (if (gradient) |row| row[i] else 0) + step.l2 * t;
        const m = step.beta1 * first[i] + (1 - step.beta1) * g;
        const v = step.beta2 * second[i] + (1 - step.beta2) * g * g;
        first[i] = m;
        second[i] = v;
        theta[i] = t - step.step_size * m / (@sqrt(v) * step.inverse_correction + step.epsilon);
    }
}

const testing = std.testing;

test "adam's row step equals Kingma and Ba's algorithm with PyTorch's weight decay" {
    const n = 19;
    var theta: [n]f32 = undefined;
    var first: [n]f32 = undefined;
    var second: [n]f32 = undefined;
    var gradient: [n]f32 = undefined;
    for (0..n) |i| {
        const x: f32 = @floatFromInt(i);
        theta[i] = @cos(x) * 0.3;
        first[i] = @sin(x) * 0.01;
        second[i] = 0.001 * (1 + x);
        gradient[i] = @sin(2 * x) * 0.5;
    }
    const start = theta;
    const first0 = first;
    const second0 = second;
    const step = AdamStep.of(3, 0.01, 0.9, 0.999, 1e-8, 0.1);
    adam(&theta, &first, &second, &gradient, step);
    for (0..n) |i| {
        const g: f64 = @as(f64, gradient[i]) + 0.1 * @as(f64, start[i]);
        const m = 0.9 * @as(f64, first0[i]) + 0.1 * g;
        const v = 0.999 * @as(f64, second0[i]) + 0.001 * g * g;
        const m_hat = m / (1 - std.math.pow(f64, 0.9, 3));
        const v_hat = v / (1 - std.math.pow(f64, 0.999, 3));
        try testing.expectApproxEqRel(m, first[i], 1e-5);
        try testing.expectApproxEqRel(v, second[i], 1e-5);
        try testing.expectApproxEqAbs(@as(f64, start[i]) - 0.01 * m_hat / (@sqrt(v_hat) + 1e-8), theta[i], 1e-6);
    }
    // A zero gradient still moves a row through λθ and the moments.
    const before = theta;
    adam(&theta, &first, &second, null, AdamStep.of(4, 0.01, 0.9, 0.999, 1e-8, 0));
    for (before, theta, first) |b, t, m| try testing.expect((m == 0) == (b == t));
}

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
