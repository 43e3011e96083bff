"""What the width theorem predicts: chance level, infinite-width column kernel, limiting G&C posterior.

Paper's claim (Alexander, Slutzky, Ran-Milo, Cohen 2025, arXiv 2506.03931, Theorem 1): for antisymmetric σ
(linear, tanh) and i.i.d. priors, Guess & Check is no better than chance as the width k → ∞:
``lim_k G_k(ε) = lim_k C_k``.

This package's formalization (spec ``gnc_matrix_factorization.md`` §3; the paper's theorem text was not
available to us):
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
  (Gaussian conditioning); ε = 0 conditions on ``z = y``; ε > 0 averages it over ``‖z − y‖² < n ε`` by
  self-normalized importance sampling (the estimator of ``numerics.rbis`` with one fixed root).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate

from numerics.activations import Activation, parse_activation
from numerics.problems import SensingProblem
from numerics.rbis import (WeightedMoments, ball_share, conditional_terms, log_weight_and_gen,
                           mixture_proposal)
from numerics.errors import require

_PRIOR_VARIANCE_FACTOR = {"gaussian": 1.0, "uniform": 1.0 / 3.0}  # entry variance × rows


def first_layer_moments(activation: Activation, prior: str, width: int | None) -> tuple[float, float]:
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


def gaussian_moment_matrix(activation: Activation, cov: np.ndarray) -> np.ndarray:
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


def chance_level(problem: SensingProblem, kernel: np.ndarray) -> float:
    """``C = E_prior[L_gen] = [tr(P⊥ (I_m ⊗ K)) + ‖P⊥W*‖²] / |B|`` (E W = 0)."""
    Q = problem.complement
    sigma = np.kron(np.eye(problem.shape[0]), kernel)
    return float(np.einsum("ij,jk,ik->", Q, sigma, Q) / problem.b_size + problem.unmeasured_truth_energy())


@dataclass(frozen=True)
class LimitPosterior:
    """``G_∞(ε)`` with its Monte Carlo standard error (0 for ε = 0 or when E[L_gen | z] is constant)."""
    G: float
    G_se: float
    chance: float
    p_accept: float
    ess: float


def gaussian_limit_posterior(problem: SensingProblem, kernel: np.ndarray, eps: float,
                             rng: np.random.Generator | None = None, n_samples: int = 200_000) -> LimitPosterior:
    """G&C posterior mean of L_gen when vec W ∼ N(0, I_m ⊗ K) exactly (the infinite-width limit).

    ``W = G U`` with G standard normal and ``UᵀU = K``, so this is the Rao–Blackwellized estimator of
    ``numerics.rbis`` with one fixed root U: exact at ε = 0, importance sampling over the measurement ball
    (defensive-mixture proposal, ``n_samples`` points) for ε > 0.
    """
    require(eps >= 0, f"eps must be >= 0, got {eps}")
    U = np.linalg.cholesky(kernel).T[None]
    L, X, trace, chance = conditional_terms(problem, U, 1.0)
    if eps == 0:
        _, G = log_weight_and_gen(problem, L, X, trace, problem.y[None], 0.0)
        return LimitPosterior(G=float(G[0]), G_se=0.0, chance=float(chance[0]), p_accept=0.0, ess=float("inf"))
    require(rng is not None, "a positive eps needs an rng for the Monte Carlo average")
    n = problem.n
    moments = WeightedMoments()
    for start in range(0, n_samples, 2 ** 14):
        b = min(2 ** 14, n_samples - start)
        share = np.repeat(ball_share(problem, L, eps), b, axis=0)
        z = mixture_proposal(b, n, problem.y, eps, L[0], share, rng)
        moments.update(*log_weight_and_gen(problem, L, X, trace, z, eps, share))
    return LimitPosterior(G=moments.mean, G_se=moments.se, chance=float(chance[0]),
                          p_accept=moments.mean_weight()[0], ess=moments.ess)
