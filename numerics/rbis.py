"""Last-layer Rao–Blackwellized importance sampling for G&C (this package's method).

For Gaussian priors the end-to-end matrix is ``W = s_d G U`` with G (m×r) standard normal, independent of the
hidden root U (``numerics.factorization.hidden_root``). Given U, W is Gaussian and linear in g = vec(G):
- measurements ``z = A vec W = M g`` with ``M[i, (a,l)] = s_d (A_i Uᵀ)[a, l]``, so ``z | U ∼ N(0, S)``,
  ``S = M Mᵀ`` (invertible when ``r·m ≥ n``);
- the complement part ``Q vec W = P g`` with ``P[q, (a,l)] = s_d (Q_q Uᵀ)[a, l]``;
- ``E[L_gen | U, z] = (‖P Mᵀ S⁻¹ z − Q w*‖² + ‖P‖_F² − tr(P Mᵀ S⁻¹ M Pᵀ)) / |B|`` (Gaussian conditioning);
- ``P(L_train < ε | U) = P(‖z − y‖ < ρ)``, ρ = √(nε), estimated without bias by ``1{z ∈ B} N(z; 0, S)/q(z)``
  at one z from the defensive mixture ``q = λ Unif(B(y, ρ)) + (1 − λ) N(0, S)``: the weight is at most
  1/(1 − λ). λ depends on U through ``κ = Vol(B_ρ) N(y; 0, S)`` (≈ the acceptance probability when the ball
  is small): ``λ = clip(1 − κ, 0.5, 0.95)``, mostly the ball when it is small, half and half when it is not;
  at ε = 0 the weight is the density ``N(y; 0, S)``.
Self-normalized importance sampling over prior draws of U then gives G(ε) for every ε ≥ 0, p(ε) for ε > 0
(unbiased), a delta-method standard error ``√(Σ w²(f − G)²)/Σ w`` and Kish's effective sample size
``(Σ w)²/Σ w²``; the chance level ``E[L_gen] = E_U[(‖Q w*‖² + ‖P‖_F²)/|B|]`` comes from the same draws.
All thresholds share the U draws. Weights are kept in
log space with a running shift, so nothing underflows at ε = 0 or at tiny ε.

Layering: imports the shared type and helpers from ``numerics.estimates`` (never ``numerics.gnc``, the
dispatcher above it); ``rbis_applicable`` and ``covariance_is_regular`` live here.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.special import gammaln

from numerics.errors import require
from numerics.estimates import (DEFAULT_MEMORY_BYTES, GncEstimate, RunningMoments, WeightedMoments, chunk_size,
                                require_matching, stream_draws, thresholds)
from numerics.factorization import Factorization, hidden_root
from numerics.problems import SensingProblem

__all__ = ["WeightedMoments", "ball_share", "conditional_terms", "covariance_is_regular", "log_density",
           "log_weight_and_gen", "mixture_proposal", "rao_blackwell_is", "rbis_applicable"]


def rbis_applicable(problem: SensingProblem, fact: Factorization) -> bool:
    """Gaussian-linear last layer and an invertible ``Cov(A vec W | hidden layers)``."""
    return (fact.prior == "gaussian" and min(fact.width, fact.mp) * fact.m >= problem.n
            and covariance_is_regular(problem, fact))


def covariance_is_regular(problem: SensingProblem, fact: Factorization) -> bool:
    """Whether ``S(U) = Cov(A vec W | U)`` is invertible for generic U (r = min(k, m') rows): it is singular for
    *every* U when, e.g., a completion row is observed at more than r entries (W's rows lie in an r-dim space).
    Checked at three fixed generic U (a local generator; relative smallest singular value > 1e-10)."""
    r, (m, mp) = min(fact.width, fact.mp), problem.shape
    U = np.random.default_rng(0).standard_normal((3, r, mp))
    M = np.einsum("iaj,blj->bial", problem.A, U).reshape(3, problem.n, m * r)
    sv = np.linalg.svd(M @ np.swapaxes(M, 1, 2), compute_uv=False)
    return bool(np.all(sv[:, -1] > 1e-10 * sv[:, 0]))


def log_density(problem: SensingProblem, L: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``log N(z; 0, L Lᵀ)`` for a batch of Cholesky factors and points (broadcasting)."""
    v = np.linalg.solve(L, z[..., None])[..., 0]
    log_det = np.sum(np.log(np.diagonal(L, axis1=-2, axis2=-1)), axis=-1)
    return -0.5 * np.sum(v * v, axis=-1) - log_det - 0.5 * problem.n * np.log(2 * np.pi), v


def ball_share(problem: SensingProblem, L: np.ndarray, eps: float) -> np.ndarray:
    """λ = clip(1 − Vol(B) N(y; 0, S), 0.5, 0.95), one per Cholesky factor, shape (batch, 1)."""
    kappa = np.exp(log_ball_volume(problem.n, np.sqrt(problem.n * eps)) + log_density(problem, L, problem.y)[0])
    return np.clip(1.0 - np.atleast_1d(kappa), 0.5, 0.95)[:, None]


def mixture_proposal(batch: int, n: int, y: np.ndarray, eps: float, chol: np.ndarray, share: np.ndarray,
                     rng: np.random.Generator):
    """``batch`` points from ``λ Unif(B(y, √(nε))) + (1 − λ) N(0, L Lᵀ)`` (chol: one L or a batch of L)."""
    coin = rng.uniform(size=(batch, 1)) < share
    prior = np.einsum("...ij,...j->...i", chol, rng.standard_normal((batch, n)))
    return np.where(coin, y + np.sqrt(n * eps) * uniform_ball(batch, n, rng), prior)


def conditional_terms(problem: SensingProblem, U: np.ndarray, s_last: float):
    """Per-draw Cholesky factor L of S, ``X = L⁻¹ M Pᵀ``, the trace term and the chance term."""
    n, (m, mp), nb = problem.n, problem.shape, problem.b_size
    batch, r = U.shape[:2]
    M = s_last * np.einsum("iaj,blj->bial", problem.A, U).reshape(batch, n, m * r)
    P = s_last * np.einsum("qaj,blj->bqal", problem.complement.reshape(nb, m, mp), U).reshape(batch, nb, m * r)
    L = np.linalg.cholesky(M @ np.swapaxes(M, 1, 2))
    X = np.linalg.solve(L, M @ np.swapaxes(P, 1, 2))  # (batch, n, nb)
    p_norm2 = np.sum(P * P, axis=(1, 2))
    trace = p_norm2 - np.sum(X * X, axis=(1, 2))
    qw = problem.complement @ problem.W_star.reshape(-1)
    chance = (qw @ qw + p_norm2) / nb
    return L, X, trace, chance


def log_weight_and_gen(problem: SensingProblem, L, X, trace, z: np.ndarray, eps: float, share=None):
    """Log weight and ``E[L_gen | U, z]`` for one z per draw (batch, n).

    ε = 0: the weight is the density ``N(z; 0, S)`` (z = y). ε > 0: z came from the defensive mixture and
    the weight is ``1{z ∈ B} N(z)/(λ/Vol + (1 − λ) N(z))`` (``-inf`` outside the ball), λ = ``share``.
    """
    log_dens, v = log_density(problem, L, z)
    if eps == 0:
        log_w = log_dens
    else:
        log_volume = log_ball_volume(problem.n, np.sqrt(problem.n * eps))
        inside = np.sum((z - problem.y) ** 2, axis=1) < problem.n * eps
        share = share[:, 0]
        log_q = np.logaddexp(np.log(share) - log_volume, np.log1p(-share) + log_dens)
        log_w = np.where(inside, log_dens - log_q, -np.inf)
    qw = problem.complement @ problem.W_star.reshape(-1)
    resid = np.einsum("...nq,...n->...q", X, v) - qw
    return log_w, (np.sum(resid * resid, axis=1) + trace) / problem.b_size


def log_ball_volume(n: int, radius: float) -> float:
    return n / 2 * np.log(np.pi) + n * np.log(radius) - gammaln(n / 2 + 1)


def uniform_ball(batch: int, n: int, rng: np.random.Generator) -> np.ndarray:
    u = rng.standard_normal((batch, n))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return u * rng.uniform(size=(batch, 1)) ** (1.0 / n)


def rao_blackwell_is(problem: SensingProblem, fact: Factorization, eps, n_draws: int, rng: np.random.Generator,
                     *, sampler: str = "auto", memory_bytes: int = DEFAULT_MEMORY_BYTES, workers: int = 1,
                     on_chunk: Callable[[int], None] | None = None) -> list[GncEstimate]:
    """G&C estimates at every ε ≥ 0 in ``eps`` from ``n_draws`` prior draws of the hidden root U."""
    eps_list = thresholds(eps, "rbis", zero_ok=True)
    require_matching(problem, fact)
    require(rbis_applicable(problem, fact),
            f"rbis needs the gaussian prior and min(k, m')*m >= n (prior {fact.prior!r}, k = {fact.width}, "
            f"n = {problem.n}); use method=rejection or nested")
    sampler = fact.resolve_sampler(sampler)
    n, s_last = problem.n, fact.layer_stds()[-1]
    per_draw = fact.bytes_per_draw(sampler) + 8 * 4 * n * (fact.m * fact.mp + problem.b_size)
    chunk = chunk_size(memory_bytes, workers, per_draw)

    class State:
        def __init__(self):
            self.chance, self.posterior = RunningMoments(), [WeightedMoments() for _ in eps_list]

        def step(self, b, gen_rng):
            L, X, trace, chance = conditional_terms(problem, hidden_root(fact, b, gen_rng, sampler), s_last)
            self.chance.update(chance)
            for e, post in zip(eps_list, self.posterior):
                if e == 0:
                    post.update(*log_weight_and_gen(problem, L, X, trace, problem.y[None], 0.0))
                else:
                    share = ball_share(problem, L, e)
                    z = mixture_proposal(b, n, problem.y, e, L, share, gen_rng)
                    post.update(*log_weight_and_gen(problem, L, X, trace, z, e, share))

        def merge(self, other):
            self.chance.merge(other.chance)
            for post, o in zip(self.posterior, other.posterior):
                post.merge(o)

    state = stream_draws(State, n_draws, chunk, rng, workers, on_chunk)
    out = []
    for e, post in zip(eps_list, state.posterior):
        p, p_se = post.mean_weight() if e > 0 else (0.0, 0.0)
        out.append(GncEstimate(eps=e, G=post.mean, G_se=post.se, C=state.chance.value, C_se=state.chance.se,
                               p_accept=p, n_accepted=-1, n_draws=n_draws, method="rbis", ess=post.ess,
                               p_se=p_se, se_dof=max(post.ess - 1, 0.0)))
    return out
