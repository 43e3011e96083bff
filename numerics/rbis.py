"""Last-layer Rao–Blackwellized importance sampling for G&C (spec ``sampling.md`` §3; this package's method).

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
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.special import gammaln

from numerics.factorization import Factorization, hidden_root
from numerics.gnc import (DEFAULT_MEMORY_BYTES, GncEstimate, RunningMoments, chunk_size, rbis_applicable,
                          require_matching, stream_draws, thresholds)
from numerics.problems import SensingProblem
from numerics.errors import require


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


class WeightedMoments:
    """Streaming self-normalized importance-sampling sums with log-space weights."""

    def __init__(self):
        self.shift = -np.inf
        self.count = 0
        self.sw = self.swf = self.sw2 = self.sw2f = self.sw2f2 = 0.0

    def update(self, log_w: np.ndarray, f: np.ndarray) -> None:
        self.count += log_w.size
        top = float(np.max(log_w))
        if not np.isfinite(top):
            return
        self._rescale(max(self.shift, top))
        w = np.exp(log_w - self.shift)
        w2 = w * w
        self.sw += float(w.sum())
        self.swf += float(w @ f)
        self.sw2 += float(w2.sum())
        self.sw2f += float(w2 @ f)
        self.sw2f2 += float(w2 @ (f * f))

    def merge(self, other: "WeightedMoments") -> None:
        self.count += other.count
        if not np.isfinite(other.shift):
            return
        self._rescale(max(self.shift, other.shift))
        a, a2 = np.exp(other.shift - self.shift), np.exp(2 * (other.shift - self.shift))
        self.sw += a * other.sw
        self.swf += a * other.swf
        self.sw2 += a2 * other.sw2
        self.sw2f += a2 * other.sw2f
        self.sw2f2 += a2 * other.sw2f2

    def _rescale(self, new_shift: float) -> None:
        if np.isfinite(self.shift) and new_shift > self.shift:
            a = np.exp(self.shift - new_shift)
            self.sw *= a
            self.swf *= a
            self.sw2 *= a * a
            self.sw2f *= a * a
            self.sw2f2 *= a * a
        self.shift = new_shift

    @property
    def mean(self) -> float:
        return self.swf / self.sw if self.sw > 0 else float("nan")

    @property
    def se(self) -> float:
        if self.sw <= 0:
            return float("nan")
        g = self.mean
        return float(np.sqrt(max(self.sw2f2 - 2 * g * self.sw2f + g * g * self.sw2, 0.0)) / self.sw)

    @property
    def ess(self) -> float:
        return self.sw ** 2 / self.sw2 if self.sw2 > 0 else 0.0

    def mean_weight(self) -> tuple[float, float]:
        """The mean weight Σw/N (unbiased for p(ε) when the weights carry the ball volume) and its SE."""
        if self.count == 0 or not np.isfinite(self.shift):
            return 0.0, float("nan")
        scale = np.exp(self.shift)
        mean = self.sw / self.count
        var = max(self.sw2 / self.count - mean * mean, 0.0)
        return float(scale * mean), float(scale * np.sqrt(var / self.count))


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
