"""Norm versus sharpness in diagonal linear networks: what the theory predicts.

Source claim (Fojtik, Matveev, Chou, Kutyniok, Maly 2025, arXiv 2505.21423): for the shared-weight depth-2
diagonal network ``f_w(x) = <w ⊙ w, x>`` trained on one data point (x, y), the learning rate trades a low
parameter norm against low sharpness, and neither the min-norm nor the min-sharpness interpolator
minimizes the generalization error. The paper characterizes the two minimizers (R1, R2 below) but gives
**no closed-form GD limit**.

This package's formalization and derivations (not the paper's):

- Loss ``L = (κ/2) ‖r‖²``, ``r = Xβ − y``, ``κ = c/n`` with ``c`` set by the loss normalization
  (:data:`LOSS_SCALES`: ``"half"`` is ½r² for one sample, the default; ``"full"`` is r²). Every
  learning-rate threshold below scales as 1/c; the sharpness ``S`` is always the top Hessian eigenvalue of
  the loss actually used, so ``2/η`` thresholds do not change form.
- R3, the gradient-flow limit, ``β_i = α_i² e^{c x_i}`` with ``Σ x_i α_i² e^{c x_i} = y`` (the KL projection
  of α² onto the zero-loss set M), and R4, the *exact* GD limit ``β^η = KL-projection of α̃²`` with the
  effective initialization ``α̃_i² = α_i² exp(−Σ_k q(2ηκ r_k x_i))``, ``q(z) = −2z − ln(1 − z)²``, are
  derived here (from ``β_{k+1} = β_k (1 − 2ηκ r_k x)²``, whose logarithm is ``−2z − q(z)`` per step and
  whose ``−2z`` parts add up to ``c x_i``). They are checked numerically to ≤ 1e-9 (1e-13 typical) by the
  tests and by ``python -m verify norm_sharpness``. Everything is computed in log space: α̃² underflows at
  large η.
- ``η_c = 2/S(β^GF)``, the 2-D edge-of-stability prediction (S(β^η) = 2/η on M) and the best learning rate
  ``≈ 2/S(β*)`` are this package's predictions from the stability condition ``S ≤ 2/η``.

Anchors (cited results, re-derived and checked here):

- Woodworth et al. 2020 ("Kernel and rich regimes in overparametrized models"), model ``<w₊² − w₋², x>``
  with ``w±(0) = α``: the gradient-flow limit minimizes ``Q_α(β) = α² Σ q(β_i/α²)``,
  ``q(z) = 2 − √(4 + z²) + z asinh(z/2)`` over ``Xβ = y``; min ℓ1 as α → 0, min ℓ2 as α → ∞
  (:func:`woodworth_symbolic` verifies q' = asinh(z/2), the series and the limits with sympy).
- Even, Pesme, Gunasekar, Flammarion 2023 ("(S)GD over diagonal linear networks"): GD with a macroscopic
  step on ``u ⊙ v`` converges to a Bregman projection with effective initialization
  ``α_±² = α² exp(−Σ_k q_±(γ g_k))``, ``q_±(z) = ∓2z − ln(1 ∓ z)²`` (:func:`even_effective_init`).
- Nacson et al. 2022: a stable GD limit satisfies the weighted-ℓ1 bound ``Σ x̄_i² |β_i| ≤ 1/(2cη)``
  (shared-weight and signed models; ``1/(cη)`` for u⊙v), x̄ the mean input (:func:`stability_bound`);
  with one sample it is exactly ``S(β) ≤ 2/η``.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

LOSS_SCALES = {"half": 1.0, "full": 2.0}
_EPS = float(np.finfo(float).eps)
_LOSS_TEXT = {"half": "L = 1/(2n) Σ_j r_j² (½ r² for one sample)", "full": "L = 1/n Σ_j r_j² (r² for one sample)"}


# ----------------------------------------------------------------------------------------------------
# Loss normalization, Hessian and sharpness
# ----------------------------------------------------------------------------------------------------
def loss_factor(loss_scale: str, n_samples: int = 1) -> float:
    """κ with ``L = (κ/2) Σ_j r_j²``: ``c/n`` where c = 1 ("half") or 2 ("full")."""
    if loss_scale not in LOSS_SCALES:
        raise ValueError(f"unknown loss_scale {loss_scale!r}; known: {', '.join(LOSS_SCALES)}")
    return LOSS_SCALES[loss_scale] / n_samples


def loss_statement(loss_scale: str) -> str:
    return _LOSS_TEXT[loss_scale]


def as_design(X) -> np.ndarray:
    """Inputs as an (n, d) float64 array; a 1-d x is one sample."""
    X = np.asarray(X, dtype=np.float64)
    return X[None, :] if X.ndim == 1 else X


def residual(beta, X, y) -> np.ndarray:
    return as_design(X) @ np.asarray(beta, float) - np.atleast_1d(np.asarray(y, float))


def hessian_shared(w, X, y, kappa: float) -> np.ndarray:
    """Hessian of ``L(w) = (κ/2) Σ_j (<w⊙w, x_j> − y_j)²``: ``κ Σ_j [4 (x_j⊙w)(x_j⊙w)ᵀ + 2 r_j diag(x_j)]``."""
    X = as_design(X)
    w = np.asarray(w, float)
    r = residual(w * w, X, y)
    J = 2.0 * X * w  # row j: ∇_w f(x_j) = 2 x_j ⊙ w
    return kappa * (J.T @ J + 2.0 * np.diag(r @ X))


def sharpness_on_zero_loss_set(beta, x, kappa: float) -> float:
    """``S(β) = tr ∇²L = 4κ Σ x_i² β_i`` for one sample on M, where the Hessian has rank one."""
    return float(4.0 * kappa * np.sum(np.asarray(x, float) ** 2 * np.asarray(beta, float)))


def top_eigenvalue(H) -> float:
    return float(np.linalg.eigvalsh(np.asarray(H, float))[-1])


# ----------------------------------------------------------------------------------------------------
# R1, R2: the min-norm and min-sharpness interpolators (the paper's characterization)
# ----------------------------------------------------------------------------------------------------
def _check_feasible(x, y):
    x = np.asarray(x, float)
    if not (y > 0 and np.any(x > 0)):
        raise ValueError("the zero-loss set {β ≥ 0 : <x, β> = y} needs y > 0 and some x_i > 0")
    return x


def min_norm_interpolator(x, y: float) -> np.ndarray:
    """R1: ``argmin_M ‖β‖_1 = argmin_M ‖w‖_1 = (y/x_max) e_{argmax x}`` (first index on ties)."""
    x = _check_feasible(x, y)
    i = int(np.argmax(x))
    beta = np.zeros_like(x)
    beta[i] = y / x[i]
    return beta


def min_sharpness_interpolator(x, y: float) -> np.ndarray:
    """R2: ``argmin_M S = (y/x⁺_min) e_{argmin_{x_i>0} x_i}`` (coordinates with x_i = 0 set to 0)."""
    x = _check_feasible(x, y)
    pos = np.where(x > 0)[0]
    i = int(pos[np.argmin(x[pos])])
    beta = np.zeros_like(x)
    beta[i] = y / x[i]
    return beta


def min_sharpness(x, y: float, kappa: float) -> float:
    """``S_min = 4κ y x⁺_min``."""
    x = _check_feasible(x, y)
    return float(4.0 * kappa * y * np.min(x[x > 0]))


def biases_coincide(x) -> bool:
    """R1 = R2 iff all positive x_i are equal: then there is no norm-versus-sharpness conflict."""
    x = np.asarray(x, float)
    pos = x[x > 0]
    return bool(pos.size > 0 and np.max(pos) == np.min(pos))


# ----------------------------------------------------------------------------------------------------
# R3, R4: gradient-flow and exact gradient-descent limits (this package's derivations)
# ----------------------------------------------------------------------------------------------------
def kl_projection(log_a, x, y: float) -> tuple[np.ndarray, float]:
    """``argmin_M Σ β_i ln(β_i/a_i) − β_i + a_i`` for one sample: ``β_i = a_i e^{c x_i}``, c the root of
    ``Σ x_i a_i e^{c x_i} = y``. Takes ``log a`` (a may underflow). Returns (β, c).

    The root is found by safeguarded Newton on ``F(c) = ln P(c) − ln(y + N(c))`` (P, N the sums over
    positive and negative x_i), which is increasing in c; accurate to a few ulps of c.
    """
    x = _check_feasible(x, y)
    la = np.broadcast_to(np.asarray(log_a, float), x.shape)
    pos, neg = x > 0, x < 0
    lpx, lnx = np.log(x[pos]), np.log(-x[neg])

    def F(c):
        ep = la[pos] + lpx + c * x[pos]
        lP = logsumexp(ep)
        wp = np.exp(ep - lP)
        dF = float(wp @ x[pos])
        if neg.any():
            en = la[neg] + lnx + c * x[neg]
            lden = np.logaddexp(math.log(y), logsumexp(en))
            wn = np.exp(en - lden)
            return lP - lden, dF + float(wn @ -x[neg])  # d/dc ln(y + N) = −Σ wn_i |x_i|
        return lP - math.log(y), dF

    c = 0.0
    lo, hi = (-math.inf, c) if F(c)[0] > 0 else (c, math.inf)
    step = 1.0
    while not (math.isfinite(lo) and math.isfinite(hi)):  # bracket the root by doubling
        probe = (hi - step) if math.isinf(lo) else (lo + step)
        fp, _ = F(probe)
        if fp > 0:
            hi = probe
        else:
            lo = probe
        step *= 2.0
    c = 0.5 * (lo + hi)
    for _ in range(200):
        f, df = F(c)
        if f > 0:
            hi = c
        elif f < 0:
            lo = c
        else:
            break
        new = c - f / df if df > 0 else 0.5 * (lo + hi)
        if not (lo < new < hi):
            new = 0.5 * (lo + hi)
        if abs(new - c) <= 4 * _EPS * max(1.0, abs(c)):
            c = new
            break
        c = new
    return np.exp(la + c * x), float(c)


def gradient_flow_limit(x, y: float, alpha) -> np.ndarray:
    """R3: the gradient-flow limit from ``w_0 = α`` (α a scalar or per coordinate), the KL projection of α²
    onto M. Independent of the loss normalization (it only rescales time)."""
    alpha = np.broadcast_to(np.abs(np.asarray(alpha, float)), np.shape(x))
    return kl_projection(2.0 * np.log(alpha), x, y)[0]


def gd_q(z):
    """``q(z) = −2z − ln(1 − z)² = Σ_{k≥2} 2z^k/k`` (= q₊ of Even et al.), the per-step loss of log β relative
    to gradient flow. The series is used for |z| < 1e-2 (12 terms: truncation below 1e-22 relative), where
    ``z + log1p(−z)`` would cancel; log1p elsewhere below 1, ``ln|1 − z|`` above."""
    z = np.asarray(z, float)
    small = np.abs(z) < 1e-2
    zs = np.where(small, z, 0.0)
    series = sum(2.0 * zs**k / k for k in range(12, 1, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_abs = np.where(z < 1.0, np.log1p(-np.minimum(z, 1.0)), np.log(np.abs(1.0 - z)))
    return np.where(small, series, -2.0 * z - 2.0 * log_abs)


def q_pm(z, sign: int):
    """Even et al.'s ``q_±(z) = ∓2z − ln(1 ∓ z)²``; ``q_+ = gd_q``, ``q_−(z) = gd_q(−z)``."""
    return gd_q(sign * np.asarray(z, float))


def effective_log_init(log_init, Z, sign: int = 1) -> np.ndarray:
    """``ln α̃² = ln α² − Σ_k q_sign(Z_k)``, Z of shape (K, d) holding the per-step ``z_k = step · g_k``."""
    Z = np.asarray(Z, float).reshape(-1, np.shape(log_init)[-1])
    return np.asarray(log_init, float) - np.sum(q_pm(Z, sign), axis=0)


def gd_limit_from_trajectory(x, y: float, alpha, eta: float, residuals, kappa: float):
    """R4: the exact GD limit given the trajectory's residuals ``r_0, r_1, ...`` (one sample):
    ``β^η = KL-projection of α̃²``, ``α̃_i² = α_i² exp(−Σ_k q(2ηκ r_k x_i))``. Returns (β, ln α̃², c)."""
    x = np.asarray(x, float)
    alpha = np.broadcast_to(np.abs(np.asarray(alpha, float)), x.shape)
    Z = 2.0 * eta * kappa * np.outer(np.ravel(residuals), x)
    log_eff = effective_log_init(2.0 * np.log(alpha), Z)
    beta, c = kl_projection(log_eff, x, y)
    return beta, log_eff, c


def critical_lr(x, y: float, alpha, kappa: float) -> float:
    """``η_c = 2 / S(β^GF)``: below it the GD limit stays near the GF limit."""
    return 2.0 / sharpness_on_zero_loss_set(gradient_flow_limit(x, y, alpha), x, kappa)


def divergence_lr(x, y: float, kappa: float) -> float:
    """``η_max = 2 / S_min``: above it no point of M is a stable fixed point of GD."""
    return 2.0 / min_sharpness(x, y, kappa)


def has_2d_prediction(x) -> bool:
    """The 2-D edge-of-stability prediction needs two distinct positive inputs."""
    x = np.asarray(x, float)
    return bool(x.shape == (2,) and np.all(x > 0) and x[0] != x[1])


def eos_prediction_2d(x, y: float, eta: float, kappa: float):
    """The 2-D edge-of-stability limit: the point of M with ``S = 2/η``, for ``x_1 > x_2 > 0``:
    ``β = (t y/x_1, (1 − t) y/x_2)``, ``t = (1/(2ηκy) − x_2)/(x_1 − x_2)``. NaN where t ∉ [0, 1] (or the
    input is not of that form). Coordinates are returned in the input's order."""
    x = np.asarray(x, float)
    out = np.full(x.shape, np.nan)
    if not has_2d_prediction(x):
        return out
    hi, lo = (0, 1) if x[0] > x[1] else (1, 0)
    t = (1.0 / (2.0 * eta * kappa * y) - x[lo]) / (x[hi] - x[lo])
    if -1e-12 <= t <= 1.0 + 1e-12:  # rounding at the ends of the range
        t = min(max(t, 0.0), 1.0)
        out[hi], out[lo] = t * y / x[hi], (1.0 - t) * y / x[lo]
    return out


def best_lr_prediction(beta_star, x, kappa: float) -> float:
    """The learning rate whose edge-of-stability limit has the sharpness of β*: ``2 / S(β*)``."""
    return 2.0 / sharpness_on_zero_loss_set(beta_star, x, kappa)


def generalization_error(beta, beta_star) -> np.ndarray:
    """``E(β) = ‖β − β*‖²``: the expected squared error on isotropic test inputs labelled by β*."""
    d = np.asarray(beta, float) - np.asarray(beta_star, float)
    return np.sum(d * d, axis=-1)


# ----------------------------------------------------------------------------------------------------
# Bregman projections for several samples: shared weights, w₊² − w₋² (Woodworth), u ⊙ v (Even et al.)
# ----------------------------------------------------------------------------------------------------
def exp_family_beta(log_a, log_b, nu) -> np.ndarray:
    """``β(ν) = a e^{ν} − b e^{−ν}`` from log a, log b (log b = −inf: the nonnegative shared-weight model).

    With b > 0 it is evaluated as ``2√(ab) sinh(ν + ½ ln(a/b))``, free of cancellation when ν is small."""
    return _exp_family(log_a, log_b, nu)[0]


def _exp_family(log_a, log_b, nu):
    """(β, dβ/dν) = (a e^{ν} − b e^{−ν}, a e^{ν} + b e^{−ν}), computed stably."""
    la, lb = np.broadcast_arrays(np.asarray(log_a, float), np.asarray(log_b, float))
    nu = np.broadcast_to(np.asarray(nu, float), la.shape)
    signed = np.isfinite(lb)
    mid = np.where(signed, 0.5 * (la + lb), la)
    arg = np.where(signed, nu + 0.5 * (la - lb), nu)
    with np.errstate(over="ignore"):
        beta = np.where(signed, 2.0 * np.exp(mid) * np.sinh(arg), np.exp(la + nu))
        slope = np.where(signed, 2.0 * np.exp(mid) * np.cosh(arg), np.exp(la + nu))
    return beta, slope


def bregman_projection(log_a, log_b, X, y, *, max_iter: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """The limit ``β = a e^{ν} − b e^{−ν}``, ``ν = Xᵀμ``, with ``Xβ = y`` (unique for full-row-rank X).

    This is the Bregman projection of the effective initialization onto ``{Xβ = y}`` for the potential whose
    mirror map is ``ν(β)``: the KL projection when b = 0, Woodworth's ``argmin Q_α`` when a = b = α².
    Solved by Newton's method on the convex dual ``Φ(μ) = Σ (a e^{ν} + b e^{−ν}) − yᵀμ`` with steps capped
    at ``max|Δν| ≤ 8`` (a and b may be tiny: the exponents then need several steps) and Armijo
    backtracking. Returns (β, μ).
    """
    X = as_design(X)
    y = np.atleast_1d(np.asarray(y, float))
    la = np.broadcast_to(np.asarray(log_a, float), X.shape[1:])
    lb = np.broadcast_to(np.asarray(log_b, float), X.shape[1:])
    center = np.where(np.isfinite(lb), 0.5 * (lb - la), -la)
    mu = np.linalg.lstsq(X.T, center, rcond=None)[0]

    def phi(m):  # Σ (a e^{ν} + b e^{−ν}) − yᵀμ, the dual objective
        return float(np.sum(_exp_family(la, lb, X.T @ m)[1]) - y @ m)

    f = phi(mu)
    for _ in range(max_iter):
        beta, slope = _exp_family(la, lb, X.T @ mu)
        grad = X @ beta - y
        if np.max(np.abs(grad)) <= 8 * _EPS * (np.max(np.abs(X) @ np.abs(beta)) + np.max(np.abs(y))):
            break  # at the rounding level of Xβ
        H = (X * slope) @ X.T
        step = -np.linalg.lstsq(H, grad, rcond=None)[0]
        dnu = np.max(np.abs(X.T @ step))
        if dnu > 8.0:
            step *= 8.0 / dnu
        t = 1.0
        while True:
            cand = mu + t * step
            fc = phi(cand)
            if np.isfinite(fc) and fc <= f + 1e-4 * t * (grad @ step) + 1e-15 * abs(f):
                break
            t *= 0.5
            if t < 1e-12:
                break
        mu, f = cand, fc
        if np.max(np.abs(X.T @ (t * step))) <= 4 * _EPS * float(np.max(np.abs(X.T @ mu))):
            break
    return exp_family_beta(la, lb, X.T @ mu), mu


def woodworth_q(z):
    """``q(z) = 2 − √(4 + z²) + z asinh(z/2)`` (Woodworth et al. 2020)."""
    z = np.asarray(z, float)
    return 2.0 - np.sqrt(4.0 + z * z) + z * np.arcsinh(z / 2.0)


def woodworth_Q(beta, alpha: float) -> float:
    """``Q_α(β) = α² Σ q(β_i/α²)``."""
    return float(alpha**2 * np.sum(woodworth_q(np.asarray(beta, float) / alpha**2)))


def woodworth_limit(X, y, alpha: float) -> np.ndarray:
    """Gradient-flow limit of ``<w₊² − w₋², x>`` from ``w±(0) = α``: ``argmin_{Xβ=y} Q_α(β)``."""
    la = 2.0 * math.log(alpha)
    return bregman_projection(la, la, X, y)[0]


def woodworth_symbolic() -> dict:
    """Verify Woodworth's q with sympy; returns {fact: bool}.

    ``q' = asinh(z/2)``, ``q(0) = 0``, ``q'' = 1/√(4 + z²) > 0``, ``q(z) = z²/4 − z⁴/192 + O(z⁶)`` (so
    ``α² Q_α(β) → ‖β‖²/4``: min ℓ2 as α → ∞), ``q(z)/(z ln z) → 1`` as z → ∞ and
    ``Q_α(b)/ln(1/α²) → |b|`` as α → 0 (min ℓ1).
    """
    import sympy as sp

    z = sp.symbols("z", real=True)
    a, b = sp.symbols("alpha b", positive=True)
    q = 2 - sp.sqrt(4 + z**2) + z * sp.asinh(z / 2)
    Q1 = a**2 * q.subs(z, b / a**2)  # one coordinate, β = b > 0 (q is even, so |b| in general)
    series = sp.series(q, z, 0, 6).removeO()
    return {
        "q' = asinh(z/2)": sp.simplify(sp.diff(q, z) - sp.asinh(z / 2)) == 0,
        "q(0) = 0": sp.simplify(q.subs(z, 0)) == 0,
        "q'' = 1/sqrt(4+z^2)": sp.simplify(sp.diff(q, z, 2) - 1 / sp.sqrt(4 + z**2)) == 0,
        "q even": sp.simplify(q.subs(z, -z) - q) == 0,
        "series z^2/4 - z^4/192": sp.simplify(series - (z**2 / 4 - z**4 / 192)) == 0,
        "q(z)/(z ln z) -> 1": sp.limit(q / (z * sp.log(z)), z, sp.oo) == 1,
        "alpha->0: Q/ln(1/alpha^2) -> |b|": sp.limit(Q1 / sp.log(1 / a**2), a, 0, "+") == b,
        "alpha->oo: alpha^2 Q -> b^2/4": sp.limit(a**2 * Q1, a, sp.oo) == b**2 / 4,
    }


def even_effective_init(log_plus0, log_minus0, G, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """Even et al. 2023 for ``β = u ⊙ v`` (β_± = ((u ± v)/2)², so β = β₊ − β₋): GD with step γ and
    gradients ``g_k = ∇_β L(β_k)`` (rows of G) gives ``ln α̃_±² = ln β_±(0) − Σ_k q_±(γ g_k)``; the limit is
    then ``bregman_projection(ln α̃₊², ln α̃₋², X, y)``."""
    Z = gamma * np.asarray(G, float)
    return effective_log_init(log_plus0, Z, +1), effective_log_init(log_minus0, Z, -1)


# ----------------------------------------------------------------------------------------------------
# Nacson et al. 2022: the weighted-ℓ1 stability bound
# ----------------------------------------------------------------------------------------------------
_JENSEN_CONSTANT = {"shared": 4.0, "signed": 4.0, "uv": 2.0}


def stability_weighted_l1(beta, X) -> float:
    """``Σ_i x̄_i² |β_i|``, x̄ the mean input."""
    xbar = np.mean(as_design(X), axis=0)
    return float(np.sum(xbar**2 * np.abs(np.asarray(beta, float))))


def sharpness_lower_bound(beta, X, model: str, kappa: float) -> float:
    """At zero loss ``λ_max ≥ κ n ‖J̄‖² ≥ C κ n Σ x̄_i² |β_i|`` (Jensen over the samples, then
    ``u² + v² ≥ 2|uv|``); C = 4 for shared weights and w₊² − w₋², 2 for u ⊙ v."""
    n = as_design(X).shape[0]
    return _JENSEN_CONSTANT[model] * kappa * n * stability_weighted_l1(beta, X)


def stability_bound(eta: float, model: str, kappa: float, n_samples: int) -> float:
    """Stability (``λ_max ≤ 2/η``) implies ``Σ x̄_i² |β_i| ≤ 2/(C κ n η)``: ``1/(2η)`` for one sample, the
    ½ loss and the shared-weight model, where it reads ``S(β) ≤ 2/η``."""
    return 2.0 / (_JENSEN_CONSTANT[model] * kappa * n_samples * eta)
