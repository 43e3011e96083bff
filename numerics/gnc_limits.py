"""Monte Carlo estimates of the limits the G&C theorems predict (the closed forms are in ``theory``).

- :func:`gaussian_limit_posterior`: the width theorem's infinite-width posterior ``G_∞(ε)`` (the NNGP law
  ``vec W ∼ N(0, I_m ⊗ K)`` with the column kernel of ``theory.width_theorem.column_kernel``);
- :func:`chain_log_singular_values`: singular values of products of Gaussian matrices (the depth theorem's
  Lyapunov gap, predicted by ``theory.depth_theorem.log_ratio_slope``);
- :func:`rank1_depth_limit`: the depth theorem's rank-1 limit ``G_∞(ε)`` (latent ``theory.depth_theorem.rank1_losses``)
  by rejection or nested sampling;
- :func:`informative_rip_setting`: a problem where the RIP bound ``theory.depth_theorem.rip_bound`` lies below
  chance, with its estimated isometry constants.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from numerics.errors import require
from numerics.estimates import GncEstimate, chunk_size, redo_low_ess, rejection_stream, thresholds
from numerics.factorization import bartlett_factors
from numerics.nested import nested_on_gaussian_latent
from numerics.problems import SensingProblem, random_problem
from numerics.rbis import WeightedMoments, ball_share, conditional_terms, log_weight_and_gen, mixture_proposal
from numerics.rip import IsometryEstimate, isometry_constants
from theory.depth_theorem import LatentLosses, informative_eps_max, limit_chance, rank1_losses, rip_bound

LIMIT_METHODS = ("auto", "rejection", "nested")


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


def chain_log_singular_values(k: int, depths, chains: int, rng: np.random.Generator,
                              p: int | None = None) -> np.ndarray:
    """``ln σ_i(H_d)`` with ``H_d = G_d ⋯ G_2 G_1`` at each depth d of ``depths``, along independent chains.

    G_1 is k×p and G_2, G_3, … are k×k, all with i.i.d. N(0, 1) entries (p = k: a product of d square
    Gaussian matrices, the end-to-end law of the linear factorization with m = m' = k up to layer scales).
    Computed in the Bartlett form of ``numerics.factorization``: ``R_1 = T_1ᵀ``, ``R_j = T_jᵀ R_{j−1}`` with
    T_j Bartlett factors of Wishart_p(k, I); ``R_jᵀR_j`` has the joint law of the Gram matrices ``H_jᵀH_j``
    along the chain, so the singular values agree in law jointly over depths. R_j is renormalized at each
    step and the removed log-scale added back. Returns an array (chains, len(depths), p), decreasing in i.
    """
    p = k if p is None else p
    depths = sorted(int(d) for d in depths)
    require(1 <= p <= k, f"need 1 <= p <= k, got p = {p}, k = {k}")
    require(depths and depths[0] >= 1, f"depths must be >= 1, got {depths}")
    require(chains >= 1, f"chains must be >= 1, got {chains}")
    out = np.empty((chains, len(depths), p))
    R = np.swapaxes(bartlett_factors(k, p, chains, rng), 1, 2)
    log_scale = np.zeros(chains)
    slot = 0
    for d in range(1, depths[-1] + 1):
        if d > 1:
            R = np.swapaxes(bartlett_factors(k, p, chains, rng), 1, 2) @ R
        norm = np.linalg.norm(R, axis=(1, 2))
        R /= norm[:, None, None]
        log_scale += np.log(norm)
        while slot < len(depths) and depths[slot] == d:
            out[:, slot] = np.log(np.linalg.svd(R, compute_uv=False)) + log_scale[:, None]
            slot += 1
    return out


def latent_rejection(latent_dim: int, losses: LatentLosses, eps, draws: int, rng: np.random.Generator, *,
                     workers: int = 1, memory_bytes: int = 64 * 2 ** 20,
                     on_chunk: Callable[[int], None] | None = None) -> list[GncEstimate]:
    """Rejection G&C on a latent ``z ~ N(0, I_D)``: ``G(ε) = E[gen(z) | train(z) < ε]`` for every ε.

    Streams ``draws`` latents in chunks (threads as in ``numerics.estimates.stream_draws``), keeping running
    moments only; zero accepted draws give NaN. The chance level C is the mean of gen over all draws.
    """
    eps_list = thresholds(eps, "rejection", zero_ok=False)
    return rejection_stream(lambda b, gen_rng: losses(gen_rng.standard_normal((b, latent_dim))), eps_list, draws,
                            rng, chunk_size(memory_bytes, workers, 8 * 8 * (latent_dim + 64)), workers, on_chunk)


def latent_nested(latent_dim: int, losses: LatentLosses, eps, rng: np.random.Generator,
                  options: dict | None = None) -> list[GncEstimate]:
    """Nested sampling on the Gaussian latent via ``numerics.nested.nested_on_gaussian_latent``."""
    return nested_on_gaussian_latent(latent_dim, losses, eps, rng, **(options or {}))


def rank1_depth_limit(problem: SensingProblem, eps, rng: np.random.Generator, *, method: str = "auto",
                      draws: int = 1_000_000, workers: int = 1, min_accepted: int = 200,
                      options: dict | None = None, on_chunk: Callable[[int], None] | None = None
                      ) -> list[GncEstimate]:
    """``G_∞(ε)`` of the rank-1 depth limit at every ε, by ``method`` = rejection | nested | auto.

    ``auto``: rejection with ``draws`` latents; thresholds where fewer than ``min_accepted`` draws were
    accepted are redone by nested sampling.
    """
    require(method in LIMIT_METHODS, f"unknown limit method {method!r}; known: {', '.join(LIMIT_METHODS)}")
    latent_dim, losses = rank1_losses(problem)
    eps_list = [float(e) for e in np.atleast_1d(eps)]
    if method == "nested":
        return latent_nested(latent_dim, losses, eps_list, rng, options)
    out = latent_rejection(latent_dim, losses, eps_list, draws, rng, workers=workers, on_chunk=on_chunk)
    if method == "auto":
        out = redo_low_ess(out, min_accepted, "nested", "auto: rejection first",
                           lambda thresholds: latent_nested(latent_dim, losses, thresholds, rng, options))
    return out


@dataclass(frozen=True)
class InformativeRip:
    """A sensing problem where the RIP bound can bite (m = m' = 20, n = 200 by default): the problem, its δ_2 estimate (``numerics.rip``
    IsometryEstimate: the optimizer's witnesses give *lower* bounds on δ_2 and δ_2⁻; no certified upper bound is
    available below m m' measurements), the chance level of the rank-1 limit and ``eps_max``, the largest ε at
    which the bound (evaluated at the δ_2⁻ lower bound) is still below chance."""
    problem: SensingProblem
    rip: IsometryEstimate
    chance: float
    eps_max: float

    def bound(self, eps: float) -> float:
        """The RIP bound at ε with the estimated δ_2⁻ (``inf`` when the estimate is not < 1)."""
        return rip_bound(self.problem, eps, self.rip.delta_minus_lower)

    def informative(self, eps: float) -> bool:
        """Whether the bound at ε is below the chance level (else a pass would be ``vacuous``)."""
        return self.bound(eps) < self.chance


def informative_rip_setting(rng: np.random.Generator, *, m: int = 20, mp: int = 20, n: int = 200, rank: int = 1,
                            restarts: int = 16, problem: SensingProblem | None = None) -> InformativeRip:
    """Draw (or take) a rank-``rank`` sensing problem with n normalized Gaussian measurements, estimate its δ_2
    (``numerics.rip.isometry_constants``, order 2) and the ε range where the bound is below chance.

    ``bound < chance`` iff ``ε < eps_max = chance (1 − δ_2⁻)|B| / (c² n)``.
    """
    prob = problem if problem is not None else random_problem(m, mp, rank, n, rng)
    rip = isometry_constants(prob.A, 2, rng, restarts=restarts)
    return InformativeRip(problem=prob, rip=rip, chance=limit_chance(prob),
                          eps_max=informative_eps_max(prob, rip.delta_minus_lower))
