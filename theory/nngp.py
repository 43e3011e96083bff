"""NNGP kernels of the package's MLPs (``numerics.models.MLP``) under the priors of :mod:`theory.mlp`.

Published facts used (not claims under test): as the hidden widths grow, the outputs of a random MLP with
independent zero-mean weights of variance σ_w²/fan_in and biases of variance σ_b² converge to a Gaussian
process (Neal 1996; Lee et al. 2018, "Deep neural networks as Gaussian processes", eq. (4)) with the
recursion ``Σ_1(x, x') = σ_w,1² x·x'/d + σ_b,1²``,
``Σ_{l+1}(x, x') = σ_w,l+1² E_{(u,v)∼N(0, Σ_l|x,x')}[φ(u) φ(v)] + σ_b,l+1²``, and each logit has kernel
``Σ_{L+1}``. For ReLU the expectation is the arc-cosine kernel of degree 1 (Cho & Saul 2009, eq. (6)):
``√(q q') (sin θ + (π − θ) cos θ) / (2π)``, θ = arccos ρ; for the identity it is Σ itself; for tanh (and any
other φ) it is computed here by a two-dimensional trapezoid rule whose step is chosen from the variances
(:func:`quadrature_moment`: within 1e-10 of the scale of the entry for every variance up to ``MAX_VARIANCE``
= 1e4 and every correlation, checked against scipy's adaptive quadrature; larger variances are refused), also
tested against the closed form for erf (Williams 1997: ``(2/π) arcsin(2c / √((1 + 2q)(1 + 2q')))``).

This package's formalization (our extension):
- σ_w², σ_b² per layer are :func:`theory.mlp.layer_variances` (weight variance × fan-in, bias variance).
  ``width=None`` is the limit: the variances are evaluated at fan-in ``LIMIT_WIDTH`` = 2^30, where the
  width-dependent terms (``uniform``'s σ_w² = a² fan/3 against its σ_b² = a²/3; ``torch_default``'s
  σ_b² = a²/(3 fan)) are below 1e-9 of the others. Kernels are returned unnormalized (with ``uniform`` their
  scale grows like the width; signs, hence G&C, do not see the scale of a homogeneous net).
- The first layer's pre-activations ``w·x + b`` are exactly Gaussian only for Gaussian priors
  (``gaussian``, ``kaiming_normal``); under ``uniform`` / ``kaiming_uniform`` / ``torch_default`` their law
  is a fixed sum of 64 uniforms at every width, so the exact limit replaces the first Gaussian expectation
  by the prior's own: ``first_layer="prior"`` takes ``first_moment`` = E φ(w·x + b) φ(w·x' + b), estimated by
  ``numerics.nngp_mc.first_layer_moment`` (Monte Carlo over first-layer rows drawn from the prior; relative
  error ~ 1/√units, stated by the caller). This module draws nothing. Layers 2… are
  Gaussian in the limit for every prior (a sum over infinitely many units).
- One-hot inputs (matrix factorization's identity inputs, ``theory/width_theorem.py``): the first layer's
  moment is exactly ``(m2 − m1²) I + m1² 11ᵀ`` with m2 = E φ(w)², m1 = E φ(w) over one weight entry
  (:func:`one_hot_first_layer_moment`, by the width theorem's own ``first_layer_moments``; zero biases,
  homogeneous φ, whose scale no sign sees).
- Tanh with a prior whose hidden-layer variance grows with the width (``uniform``) has no Gaussian limit
  for depth ≥ 2 (its hidden pre-activations saturate): :class:`UserInputError`.
"""
from __future__ import annotations

import numpy as np

from theory.errors import require
from theory.mlp import ACTIVATIONS, PRIORS, layer_variances as _prior_layer_variances

LIMIT_WIDTH = 2 ** 30
GAUSSIAN_FIRST_LAYER = ("gaussian", "kaiming_normal")
WIDTH_GROWING_PRIORS = ("uniform",)  # hidden-layer σ_w² ∝ fan-in
TANH_STRIP = np.pi / 2  # tanh's poles nearest the real axis: ±iπ/2
STRIP_SHARE = 0.8  # the share of the strip the step rule uses (|tanh| ≤ tan(0.4π) ≈ 3.1 there)
LOG_TOL = 26.0  # the step's error bound e^{−26} ≈ 5e-12 (measured errors are smaller: tests/test_accuracy.py)
CUTOFF = 8.5  # |z| ≤ 8.5: the Gaussian mass beyond is 2e-17, times z² (tanh² ≈ q z² near 0) 1e-15
MAX_VARIANCE = 1e4  # the validated range of the quadrature: pre-activation variances 0 … 1e4
TANH_ACCURACY = 1e-10  # documented relative accuracy of the tanh moments over that range


def layer_variances(prior: str, *, in_dim: int, depth: int, bias: bool, width: int | None = None,
                    scale: float = 1.0, bias_scale: float | None = None) -> list[tuple[float, float]]:
    """(σ_w², σ_b²) of the ``depth + 1`` layers of an MLP of hidden ``width`` (None: the limit)."""
    require(prior in PRIORS, f"unknown prior {prior!r}; known: {', '.join(PRIORS)}")
    require(depth >= 1 and in_dim >= 1, f"depth and in_dim must be >= 1, got {depth}, {in_dim}")
    hidden = LIMIT_WIDTH if width is None else int(width)
    require(hidden >= 1, f"width must be >= 1, got {width}")
    return _prior_layer_variances(prior, [in_dim] + [hidden] * depth, bias, scale=scale, bias_scale=bias_scale)


def relu_moment(q1: np.ndarray, q2: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``E[relu(u) relu(v)]`` for (u, v) ∼ N(0, [[q1, c], [c, q2]]): the arc-cosine kernel of degree 1."""
    norm = np.sqrt(q1 * q2)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.clip(np.where(norm > 0, c / np.where(norm > 0, norm, 1.0), 0.0), -1.0, 1.0)
    theta = np.arccos(rho)
    return norm * (np.sin(theta) + (np.pi - theta) * rho) / (2 * np.pi)


def _trapezoid_step(strip_z: np.ndarray) -> np.ndarray:
    """The largest trapezoid step h whose error bound for ∫ f(z) e^{−z²/2} dz is e^{−LOG_TOL}, for f analytic
    and bounded (|f| ≲ 10, absorbed in the measured constant) in the strip |Im z| < ``strip_z``.

    The trapezoid rule on ℝ errs by ~ exp(y²/2 − 2πy/h) for any contour height 0 < y ≤ d (the Gaussian grows
    like e^{y²/2} off the axis; Trefethen & Weideman 2014, "The exponentially convergent trapezoidal rule",
    SIAM Review 56, §5): the best height is y = min(d, 2π/h). With d_c = min(d, √(2 LOG_TOL)) this gives
    h = 2π d_c / (LOG_TOL + d_c²/2) (= π √(2/LOG_TOL) where only the Gaussian limits)."""
    d = np.minimum(np.asarray(strip_z, float), np.sqrt(2 * LOG_TOL))
    return 2 * np.pi * d / (LOG_TOL + d ** 2 / 2)


def _node_count(h: np.ndarray) -> np.ndarray:
    """Trapezoid nodes on [−CUTOFF, CUTOFF] at step ≤ h, rounded up to a multiple of 8 (pairs that share a
    count share one grid)."""
    n = np.ceil(2 * CUTOFF / h).astype(np.int64) + 1
    return 8 * ((n + 7) // 8) + 1


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """n trapezoid nodes on [−CUTOFF, CUTOFF] and their standard-normal weights (normalized to sum 1: the
    unnormalized sum is 1 to ~1e-16 at every admissible step; the normalization makes constants exact)."""
    z = np.linspace(-CUTOFF, CUTOFF, n)
    w = np.exp(-z ** 2 / 2)
    return z, w / w.sum()


def quadrature_moment(phi, q1, q2, c, *, strip: float = TANH_STRIP, odd: bool = True, nodes: int | None = None,
                      max_block: int = 2 ** 22) -> np.ndarray:
    """``E[φ(u) φ(v)]`` for (u, v) ∼ N(0, [[q1, c], [c, q2]]), by the 2-D trapezoid rule in
    u = √q1 z1, v = √q2 (ρ z1 + √(1−ρ²) z2), z ∈ [−CUTOFF, CUTOFF]², with the step of each axis chosen from
    the variances: φ analytic in the strip |Im a| < ``strip`` of its argument (tanh: π/2, poles at ±iπ/2; the
    rule uses 0.8 of it) makes the integrand analytic in z1 within 0.8·strip / max(√q1, √q2 |ρ|) and in z2
    within 0.8·strip / (√q2 √(1−ρ²)); :func:`_trapezoid_step` turns these widths into steps. The node count
    per axis grows like √q (≈ 50 √q for tanh), never overflows, and is never NaN.

    Accuracy (tanh, the one φ the package integrates this way; ``tests/test_accuracy.py``): relative to the
    scale √(E φ(u)² E φ(v)²), below ``TANH_ACCURACY`` = 1e-10 for 0 ≤ q1, q2 ≤ ``MAX_VARIANCE`` and every
    correlation, against scipy's adaptive quadrature. A variance above ``MAX_VARIANCE`` is refused (one-line
    :class:`UserInputError`): the cost per pair grows like q. ``nodes`` overrides the count per axis (for
    convergence studies only: no accuracy is promised then). A kinked φ (ReLU) converges slowly: use its closed
    form. ``odd`` (φ(−a) = −φ(a), true of tanh and erf) halves the work by the symmetry f(−z) = f(z) of the
    integrand. Pairs sharing node counts are evaluated together, ``max_block`` integrand values at a time.
    """
    q1, q2, c = np.broadcast_arrays(*(np.asarray(a, float) for a in (q1, q2, c)))
    shape = q1.shape
    q1, q2, c = q1.ravel(), q2.ravel(), c.ravel()
    require(bool(np.all(np.isfinite(q1)) and np.all(np.isfinite(q2)) and np.all(np.isfinite(c))),
            "quadrature_moment: non-finite variance or covariance")
    top = float(max(q1.max(initial=0.0), q2.max(initial=0.0)))
    require(nodes is not None or top <= MAX_VARIANCE,
            f"NNGP moment at pre-activation variance {top:.4g} > {MAX_VARIANCE:g}, beyond the validated range of "
            "the quadrature (cost grows like the variance): use a smaller prior scale")
    require(nodes is None or int(nodes) >= 2, f"nodes must be >= 2, got {nodes}")
    s1, s2 = np.sqrt(np.maximum(q1, 0.0)), np.sqrt(np.maximum(q2, 0.0))
    norm = s1 * s2
    rho = np.clip(np.divide(c, norm, out=np.zeros_like(c), where=norm > 0), -1.0, 1.0)
    sq = np.sqrt(1.0 - rho ** 2)
    out = np.empty(s1.size)
    with np.errstate(divide="ignore"):
        d1 = STRIP_SHARE * strip / np.maximum(s1, s2 * np.abs(rho))
        d2 = STRIP_SHARE * strip / (s2 * sq)
    if nodes is not None:
        n1 = n2 = np.full(s1.size, int(nodes))
    else:
        n1, n2 = _node_count(_trapezoid_step(d1)), _node_count(_trapezoid_step(d2))
        n2 = np.where(sq == 0, 1, n2)  # |ρ| = 1: v is a function of z1 alone
    keys = n1 * (1 << 32) + n2
    for key in np.unique(keys):
        idx = np.flatnonzero(keys == key)
        k1, k2 = int(n1[idx[0]]), int(n2[idx[0]])
        z1, w1 = _grid(k1)
        if odd and k1 % 2 == 1:  # f(−z) = f(z) and f = 0 at z1 = 0: twice the half z1 > 0 of the grid
            z1, w1 = z1[k1 // 2 + 1:], 2 * w1[k1 // 2 + 1:]
        z2, w2 = (np.zeros(1), np.ones(1)) if k2 == 1 else _grid(k2)
        step = max(1, max_block // (z1.size * k2))
        rows = z1.size if step > 1 else max(1, max_block // k2)  # one pair's grid in row blocks if too large
        for i in range(0, idx.size, step):
            j = idx[i:i + step]
            a, b, r, t = (v[j, None, None] for v in (s1, s2, rho, sq))
            acc = np.zeros(j.size)
            for k in range(0, z1.size, rows):
                zz, ww = z1[k:k + rows], w1[k:k + rows]
                inner = phi(b * (r * zz[None, :, None] + t * z2[None, None, :])) @ w2  # (p, rows)
                acc += np.einsum("pi,pi,i->p", phi(a[:, :, 0] * zz[None, :]), inner, ww)
            out[j] = acc
    return out.reshape(shape)


def activation_moment(activation: str, cov: np.ndarray) -> np.ndarray:
    """``E_{z∼N(0, cov)}[φ(z) φ(z)ᵀ]`` entrywise for an N × N covariance: relu by its closed form (round-off),
    linear exact, tanh by :func:`quadrature_moment` (within 1e-10 of √(E φ(u)² E φ(v)²) for variances up to
    ``MAX_VARIANCE``; a larger variance is a one-line :class:`UserInputError`)."""
    require(activation in ACTIVATIONS, f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}")
    if activation == "linear":
        return cov.copy()
    d = np.diag(cov)
    q1, q2 = d[:, None], d[None, :]
    if activation == "relu":
        return relu_moment(q1, q2, cov)
    iu = np.triu_indices(cov.shape[0])
    out = np.empty_like(cov)
    out[iu] = quadrature_moment(np.tanh, d[iu[0]], d[iu[1]], cov[iu])
    out.T[iu] = out[iu]
    return out


UNIFORM_ENTRY_PRIORS = ("uniform", "kaiming_uniform", "torch_default")  # entries a·U(−1, 1)


def one_hot_first_layer_moment(m: int, prior: str, activation: str) -> np.ndarray:
    """``E[φ(w·e_i) φ(w·e_j)]`` for the m one-hot inputs, zero biases, homogeneous φ (relu, linear), up to
    the scale of the prior's entries: exact, by ``theory.width_theorem.first_layer_moments``."""
    from theory.width_theorem import first_layer_moments
    require(activation in ("relu", "linear"), f"one-hot kernels need a homogeneous activation, got {activation!r}")
    require(prior in PRIORS, f"unknown prior {prior!r}; known: {', '.join(PRIORS)}")
    family = "uniform" if prior in UNIFORM_ENTRY_PRIORS else "gaussian"
    m2, m1 = first_layer_moments("leaky_relu:0" if activation == "relu" else "linear", family, None)
    return (m2 - m1 ** 2) * np.eye(m) + m1 ** 2


def nngp_kernel(X: np.ndarray, *, activation: str, depth: int, prior: str, bias: bool, width: int | None = None,
                scale: float = 1.0, bias_scale: float | None = None, first_layer: str = "gaussian",
                first_moment: np.ndarray | None = None, extra_bias: float = 0.0) -> np.ndarray:
    """The kernel of one logit of ``MLP(d, [width]*depth, ·, activation, bias)`` under ``prior`` on the rows of X.

    ``width=None`` is the infinite-width limit (the limit of Guess & Check that the volume checks use). With a
    finite width it is the expected output covariance *if* every pre-activation were Gaussian (exact at depth 1
    for Gaussian priors). ``first_moment`` gives the first layer's ``E[φ φᵀ]`` directly (e.g.
    :func:`one_hot_first_layer_moment`, or ``numerics.nngp_mc.first_layer_moment`` for the prior's own first
    layer); ``first_layer="prior"`` with a non-Gaussian prior requires it (for a Gaussian prior the prior's own
    first layer is the Gaussian one).
    ``extra_bias`` > 0 is a deliberate perturbation (negative controls only): every layer's pre-activation
    covariance (except a Monte Carlo or given first layer's) gets ``extra_bias`` times its mean diagonal added
    to every entry (a wrong bias variance, in units the scale of the prior does not change).
    """
    X = np.asarray(X, float)
    require(X.ndim == 2 and X.shape[0] >= 1, f"X must be a 2-D array of inputs, got shape {X.shape}")
    require(first_layer in ("gaussian", "prior"), f"first_layer must be 'gaussian' or 'prior', got {first_layer!r}")
    require(activation in ACTIVATIONS, f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}")
    require(not (activation == "tanh" and prior in WIDTH_GROWING_PRIORS and depth >= 2),
            f"tanh under the {prior!r} prior has no Gaussian limit at depth >= 2 (its hidden pre-activations "
            "grow with the width); use a fan-in-scaled prior (gaussian, kaiming_*, torch_default)")
    var = layer_variances(prior, in_dim=X.shape[1], depth=depth, bias=bias, width=width, scale=scale,
                          bias_scale=bias_scale)
    require(extra_bias >= 0, f"extra_bias must be >= 0, got {extra_bias}")

    def perturb(sigma):
        return sigma + extra_bias * float(np.mean(np.diag(sigma))) if extra_bias else sigma

    if first_moment is not None:
        moment = np.asarray(first_moment, float)
        require(moment.shape == (X.shape[0],) * 2, f"first_moment must be {(X.shape[0],) * 2}, got {moment.shape}")
    else:
        require(first_layer == "gaussian" or prior in GAUSSIAN_FIRST_LAYER,
                f"first_layer='prior' under the non-Gaussian {prior!r} prior needs first_moment (e.g. from "
                "numerics.nngp_mc.first_layer_moment)")
        vw, vb = var[0]
        moment = activation_moment(activation, perturb(vw * X @ X.T / X.shape[1] + vb))
    for vw, vb in var[1:-1]:
        moment = activation_moment(activation, perturb(vw * moment + vb))
    vw, vb = var[-1]
    return perturb(vw * moment + vb)


def feature_kernel(phi: np.ndarray, last: tuple[float, float]) -> np.ndarray:
    """The covariance of one logit given the last hidden layer's features Φ (N × k or B × N × k) when the
    last layer is Gaussian with (σ_w², σ_b²) = ``last``: ``σ_w² Φ Φᵀ / k + σ_b²``."""
    vw, vb = last
    phi = np.asarray(phi, float)
    return vw * (phi @ np.swapaxes(phi, -1, -2)) / phi.shape[-1] + vb


def sign_kernel(K: np.ndarray) -> np.ndarray:
    """K scaled to unit mean diagonal (what G&C sees of a kernel: signs do not see its scale)."""
    return K / float(np.mean(np.diag(K)))


__all__ = ["LIMIT_WIDTH", "MAX_VARIANCE", "TANH_ACCURACY", "one_hot_first_layer_moment", "layer_variances",
           "relu_moment", "quadrature_moment", "activation_moment", "nngp_kernel", "feature_kernel", "sign_kernel"]
