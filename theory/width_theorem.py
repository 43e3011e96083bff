"""What the width theorem predicts: chance level, infinite-width column kernel, limiting G&C posterior.

Paper's claim (Alexander, Slutzky, Ran-Milo, Cohen 2025, arXiv 2506.03931, Theorem 1): for antisymmetric σ
(linear, tanh) and i.i.d. priors, Guess & Check is no better than chance as the width k → ∞:
``lim_k G_k(ε) = lim_k C_k``.

This package's formalization (the paper's theorem text was not available to us):
- ``Cov(vec W) = I_m ⊗ K`` (row-major vec) with a column kernel K (m'×m'), at every width, because the last
  layer is zero-mean Gaussian/uniform and independent of the rest; ``E W = 0``. Hence the chance level is
  ``C = [tr(P⊥ (I_m ⊗ K)) + ‖P⊥W*‖²] / |B|``, which is ``c + ‖P⊥W*‖²/|B|`` when ``K = c I``.
- K is known exactly at finite width for linear σ (any depth: ``K = v^d / m · I``, v = 1 gaussian, 1/3
  uniform) and for any σ at depth 2 (one-dimensional integrals); at infinite width by the kernel recursion
  below. Otherwise it is not available in closed form (``None``).
- Infinite width: vec W → N(0, I_m ⊗ K_∞). With pre-activations of variance O(1/k) (the prior's 1/rows
  scaling and σ applied to W_1 itself), the recursion in units scaled by k is
  ``Σ̃_2 = v E[σ̃(x)σ̃(x)ᵀ]`` (x the first layer's entries, independent across columns),
  ``Σ̃_{j+1} = v E_{z∼N(0,Σ̃_j)}[σ̃(z)σ̃(z)ᵀ]``, ``K_∞ = v/m · E_{z∼N(0,Σ̃_{d−1})}[σ̃(z)σ̃(z)ᵀ]`` (``K_∞ = v/m Σ̃_2``
  at d = 2), where ``σ̃ = σ`` for positively homogeneous σ (linear, leaky ReLU) and ``σ̃(z) = σ'(0) z`` for
  smooth σ with σ(0) = 0 (tanh: its pre-activations shrink to 0, where it is linear). Gaussian expectations
  by one-dimensional adaptive quadrature.
- σ antisymmetric ⇒ ``K = c I`` ⇒ the unmeasured part of W is independent of the measured part ⇒
  ``G_∞(ε) = C_∞`` for every ε. Leaky ReLU (our extension, outside the theorem): ``K = a I + b 11ᵀ`` and
  ``G_∞(ε) ≠ C_∞`` in general.
- ``G_∞(ε)``: with ``z = A vec W ∼ N(0, S)``, ``S = A Σ Aᵀ``, ``E[L_gen | z]`` is a closed-form quadratic in z
  (Gaussian conditioning); ε = 0 conditions on ``z = y``; ε > 0 averages it over ``‖z − y‖² < n ε`` (the
  Monte Carlo estimate is ``numerics.gnc_limits.gaussian_limit_posterior``).

Activations and problems are taken duck-typed (this layer imports nothing from ``numerics``): an activation
has ``name``, ``homogeneous`` and is callable entrywise (``numerics.activations.Activation``), or is given by
its name (``linear``, ``tanh``, ``leaky_relu[:slope]``); a problem has ``shape``, ``complement``, ``b_size`` and
``unmeasured_truth_energy()`` (``numerics.problems.SensingProblem``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate

from theory.errors import require

_PRIOR_VARIANCE_FACTOR = {"gaussian": 1.0, "uniform": 1.0 / 3.0}  # entry variance × rows


@dataclass(frozen=True)
class _Named:
    """An activation given by its name: the σ of ``numerics.activations`` (which this layer cannot import)."""
    name: str
    slope: float = 0.2

    @property
    def homogeneous(self) -> bool:
        return self.name in ("linear", "leaky_relu")

    def __call__(self, a):
        if self.name == "linear":
            return a
        return np.tanh(a) if self.name == "tanh" else np.maximum(a, self.slope * a)


def parse_activation(activation):
    """An activation object as is; a name ``linear`` | ``tanh`` | ``leaky_relu[:slope]`` as its σ."""
    if not isinstance(activation, str):
        return activation
    name, _, arg = activation.strip().partition(":")
    require(name in ("linear", "tanh", "leaky_relu"), f"unknown activation {activation!r}")
    return _Named(name, float(arg)) if arg else _Named(name)


def first_layer_moments(activation, prior: str, width: int | None) -> tuple[float, float]:
    """``(k E σ(x)², √k E σ(x))`` for one first-layer entry x (N(0,1/k) or U[−1,1]/√k); k = ∞ if None."""
    sigma = parse_activation(activation)
    smooth_limit = width is None and not sigma.homogeneous
    scale = 1.0 if (width is None or sigma.homogeneous) else 1.0 / np.sqrt(width)

    def f(u):  # σ̃ at unit scale, divided by the scale
        return u if smooth_limit else sigma(scale * u) / scale

    if prior == "gaussian":
        dens = lambda u: np.exp(-u * u / 2) / np.sqrt(2 * np.pi)  # noqa: E731
        lim = np.inf
    else:
        dens = lambda u: 0.5 * np.ones_like(u)  # noqa: E731
        lim = 1.0
    m2 = integrate.quad(lambda u: f(u) ** 2 * dens(u), -lim, lim, points=None if np.isinf(lim) else [0.0],
                        epsabs=1e-13, epsrel=1e-12)[0]
    m1 = integrate.quad(lambda u: f(u) * dens(u), -lim, lim, points=None if np.isinf(lim) else [0.0],
                        epsabs=1e-13, epsrel=1e-12)[0]
    return m2, m1


def gaussian_moment_matrix(activation, cov: np.ndarray) -> np.ndarray:
    """``E_{z∼N(0,cov)}[σ̃(z) σ̃(z)ᵀ]`` entrywise (σ̃ as in the module doc).

    For positively homogeneous σ, ``σ(u)σ(v)`` is r² times a function of the polar angle of the
    whitened pair, so each entry is ``(1/π) ∫_0^{2π} σ(u(φ)) σ(v(φ)) dφ`` (E r² = 2): a one-dimensional
    adaptive quadrature with the kinks of σ as breakpoints (tested to 1e-10 against the arc-cosine form).
    """
    sigma = parse_activation(activation)
    if not sigma.homogeneous:
        return cov.copy()  # σ̃(z) = σ'(0) z with σ'(0) = 1 for tanh
    p = cov.shape[0]
    out = np.empty_like(cov)
    for a in range(p):
        for b in range(a, p):
            qa, qb = cov[a, a], cov[b, b]
            rho = float(np.clip(cov[a, b] / np.sqrt(qa * qb), -1.0, 1.0))
            s = np.sqrt(1 - rho ** 2)
            u = lambda phi: np.sqrt(qa) * np.cos(phi)  # noqa: E731
            v = lambda phi, rho=rho, s=s: np.sqrt(qb) * (rho * np.cos(phi) + s * np.sin(phi))  # noqa: E731
            kink = np.arctan2(-rho, s)  # v(φ) = 0 at φ = kink (mod π); u(φ) = 0 at π/2 (mod π)
            breaks = np.sort(np.mod([np.pi / 2, 3 * np.pi / 2, kink, kink + np.pi], 2 * np.pi))
            val = integrate.quad(lambda phi: sigma(u(phi)) * sigma(v(phi)), 0.0, 2 * np.pi, points=breaks,
                                 epsabs=1e-14, epsrel=1e-12, limit=200)[0]
            out[a, b] = out[b, a] = val / np.pi
    return out


def column_kernel(activation, depth: int, mp: int, m: int, *, width: int | None = None,
                  prior: str = "gaussian") -> np.ndarray | None:
    """The column kernel K (m'×m') with ``Cov(vec W) = I_m ⊗ K``.

    ``width=None``: the infinite-width limit (kernel recursion). Finite width: exact for linear σ (any depth)
    and for depth 2 (any σ); ``None`` otherwise (no closed form).
    """
    sigma = parse_activation(activation)
    require(prior in _PRIOR_VARIANCE_FACTOR, f"no column kernel for prior {prior!r}")
    require(depth >= 2, f"depth must be >= 2, got {depth}")
    v = _PRIOR_VARIANCE_FACTOR[prior]
    eye, ones = np.eye(mp), np.ones((mp, mp))
    if sigma.name == "linear":
        return v ** depth / m * eye
    if width is not None and depth > 2:
        return None
    m2, m1 = first_layer_moments(sigma, prior, width)
    gram = (m2 - m1 ** 2) * eye + m1 ** 2 * ones  # E[σ̃(x)σ̃(x)ᵀ] over independent columns
    for _ in range(depth - 2):
        gram = gaussian_moment_matrix(sigma, v * gram)
    return v / m * gram


def chance_level(problem, kernel: np.ndarray) -> float:
    """``C = E_prior[L_gen] = [tr(P⊥ (I_m ⊗ K)) + ‖P⊥W*‖²] / |B|`` (E W = 0)."""
    Q = problem.complement
    sigma = np.kron(np.eye(problem.shape[0]), kernel)
    return float(np.einsum("ij,jk,ik->", Q, sigma, Q) / problem.b_size + problem.unmeasured_truth_energy())
