"""NNGP kernels of the package's MLPs (``numerics.models.MLP``) under the priors of :mod:`theory.mlp`.

Published facts used (not claims under test): as the hidden widths grow, the outputs of a random MLP with
independent zero-mean weights of variance σ_w²/fan_in and biases of variance σ_b² converge to a Gaussian
process (Neal 1996; Lee et al. 2018, "Deep neural networks as Gaussian processes", eq. (4)) with the
recursion ``Σ_1(x, x') = σ_w,1² x·x'/d + σ_b,1²``,
``Σ_{l+1}(x, x') = σ_w,l+1² E_{(u,v)∼N(0, Σ_l|x,x')}[φ(u) φ(v)] + σ_b,l+1²``, and each logit has kernel
``Σ_{L+1}``. For ReLU the expectation is the arc-cosine kernel of degree 1 (Cho & Saul 2009, eq. (6)):
``√(q q') (sin θ + (π − θ) cos θ) / (2π)``, θ = arccos ρ; for the identity it is Σ itself; for tanh (and any
other φ) it is computed here by two-dimensional Gauss–Hermite quadrature, tested against the closed form
for erf (Williams 1997: ``(2/π) arcsin(2c / √((1 + 2q)(1 + 2q')))``).

This package's formalization (``volume_hypothesis.md`` §3, our extension):
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
HERMITE_NODES = 160


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


def quadrature_moment(phi, q1, q2, c, nodes: int = HERMITE_NODES, chunk: int = 256) -> np.ndarray:
    """``E[φ(u) φ(v)]`` by 2-D Gauss–Hermite quadrature: u = √q1 z1, v = √q2 (ρ z1 + √(1−ρ²) z2).

    ``nodes`` per axis (160: measured error < 1e-10 against erf's closed form for variances up to 4; smooth φ
    only — a kink such as ReLU's converges slowly). Pairs are processed ``chunk`` at a time.
    """
    t, w = np.polynomial.hermite_e.hermegauss(nodes)  # ∫ f(z) e^{−z²/2} dz
    w = w / np.sqrt(2 * np.pi)
    q1, q2, c = np.broadcast_arrays(*(np.asarray(a, float) for a in (q1, q2, c)))
    shape = q1.shape
    s1, s2, c = np.sqrt(np.maximum(q1, 0.0)).ravel(), np.sqrt(np.maximum(q2, 0.0)).ravel(), c.ravel()
    norm = s1 * s2
    rho = np.clip(np.divide(c, norm, out=np.zeros_like(c), where=norm > 0), -1.0, 1.0)
    out = np.empty(s1.size)
    z1, z2 = t[None, :, None], t[None, None, :]
    for i in range(0, s1.size, chunk):
        a, b, r = (v[i:i + chunk, None, None] for v in (s1, s2, rho))
        vals = phi(a * z1) * phi(b * (r * z1 + np.sqrt(1 - r ** 2) * z2))
        out[i:i + chunk] = np.einsum("pij,i,j->p", vals, w, w)
    return out.reshape(shape)


def activation_moment(activation: str, cov: np.ndarray) -> np.ndarray:
    """``E_{z∼N(0, cov)}[φ(z) φ(z)ᵀ]`` entrywise for an N × N covariance (relu closed form, linear exact,
    tanh by quadrature)."""
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

    ``width=None`` is the infinite-width limit (the G&C limit of ``volume_hypothesis.md`` §3). With a finite
    width it is the expected output covariance *if* every pre-activation were Gaussian (exact at depth 1
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


__all__ = ["LIMIT_WIDTH", "one_hot_first_layer_moment", "layer_variances", "relu_moment", "quadrature_moment", "activation_moment",
           "nngp_kernel", "feature_kernel", "sign_kernel"]
