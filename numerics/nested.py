"""Nested sampling / adaptive multilevel splitting on L_train for G&C (this package's
method, not the paper's: Alexander et al. 2025 estimate G(ε) by plain rejection).

For priors whose last layer is not Gaussian-linear given the hidden layers (the depth theorem's end-to-end
normalized prior, the uniform prior) — and for any prior written as a map of a standard Gaussian latent
z ∼ N(0, I_D) — the G&C posterior at ε is ``N(0, I) restricted to {L_train(z) < ε}``. The levels
``∞ = ℓ_0 > ℓ_1 > ⋯`` are adaptive quantiles: at each stage the population (``particles`` points, law
``N(0, I) | L_train < ℓ_t``) keeps its best fraction ``keep`` (``ℓ_{t+1}`` = the L_train of the first
discarded point); each survivor is kept once and the population refilled to ``particles`` points with evenly
spread copies of them (systematic resampling); every point then makes ``moves`` preconditioned Crank–Nicolson
moves ``z' = √(1 − h²) z + h ξ``, accepted iff
``L_train(z') < ℓ_{t+1}`` (pCN is reversible for N(0, I), so the constrained move leaves the new level's law
invariant); h is adapted after every move towards ``accept_target`` acceptance. Then
``p(ℓ_t) = Π survival fractions``. Every requested ε is read off the one stage with ``ℓ_{t+1} ≤ ε < ℓ_t``
(or the first stage when ε ≥ ℓ_1): ``p(ε) = p(ℓ_t) · (fraction of the population below ε)`` and ``G(ε)`` = the
mean L_gen of the population's points below ε (at least ``keep`` × particles of them). One run yields every ε.
With ``final_moves`` = T > 0, at the smallest ε the points below it are refilled to ``particles`` and moved T
more times by pCN constrained to ``L_train < ε`` (the posterior is invariant under it); G there is the mean L_gen
over all (T + 1) × particles states. The extra moves decorrelate the population from the few ancestors the
levels leave it, which sets the replicate spread of G (p is unchanged); they cost T/(levels × moves) of the run.

**ε = 0 is not reachable**: ``{L_train = 0}`` has prior probability 0 here, so no finite number of levels gets
there, and we do not extrapolate; ε must be > 0 (a ``UserInputError`` otherwise). Use rbis or smc (gaussian
prior) for ε = 0, or report G at a ladder of small ε.

Error bars come from ``replicates`` independent runs (generators from ``rng.spawn``): short walks bias the
levels' laws, and within-run formulas would not show it. G, p are replicate means, G_se and p_se = sd/√R
(``se_dof`` = R − 1 degrees of freedom); ``ess = min(points below ε over all runs, Var_π(L_gen)/G_se²)``,
the number of independent posterior draws that would give the replicates' standard error. The chance level C is
the mean L_gen of every run's initial prior population. ``n_draws`` counts loss evaluations (all runs).

Layering: below the dispatcher ``numerics.gnc``; imports ``numerics.estimates`` and ``numerics.smc``'s pCN
moves and hidden-latent map.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import ndtr

from numerics.errors import require
from numerics.estimates import (GncEstimate, RunningMoments, check_sizes, combine_replicates, require_matching,
                                run_jobs, thresholds)
from numerics.factorization import Factorization
from numerics.problems import SensingProblem
from numerics.smc import adapted_step, hidden_latent_dim, hidden_root_from_latent, pcn_proposal

LatentLosses = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class LevelRun:
    """One replicate: per ε (in the order asked) log p̂, the posterior mean and variance of L_gen, points below."""
    log_p: np.ndarray
    G: np.ndarray
    gen_var: np.ndarray
    below: np.ndarray
    chance: np.ndarray
    evaluations: int
    levels: int
    accept_rate: float


def splitting_run(latent_dim: int, losses: LatentLosses, eps: list[float], particles: int, moves: int, keep: float,
                  accept_target: float, max_levels: int, rng: np.random.Generator,
                  final_moves: int = 0) -> LevelRun:
    """One adaptive-multilevel-splitting run from the prior down to the smallest ε (then ``final_moves``
    posterior moves there: module doc)."""
    k = len(eps)
    log_p, G, gen_var, below = (np.full(k, np.nan) for _ in range(4))
    z = rng.standard_normal((particles, latent_dim))
    train, gen = losses(z)
    chance = gen.copy()
    n_keep = min(particles - 1, max(1, int(round(keep * particles))))
    pending = sorted(range(k), key=lambda i: -eps[i])
    log_level_p, h, levels, evaluations, accepted = 0.0, 0.5, 0, particles, []
    while pending:
        level = np.partition(train, n_keep)[n_keep]  # the first discarded point's loss
        while pending and eps[pending[0]] >= level:
            i = pending.pop(0)
            inside = train < eps[i]
            log_p[i] = log_level_p + np.log(inside.mean())
            G[i], gen_var[i], below[i] = gen[inside].mean(), gen[inside].var(), inside.sum()
            if final_moves and not pending:
                G[i], gen_var[i], below[i], h, rate = posterior_stage(z[inside], gen[inside], eps[i], losses,
                                                                      particles, final_moves, h, accept_target, rng)
                evaluations += final_moves * particles
                accepted.append(rate)
        survivors = np.flatnonzero(train < level)
        if not pending or levels >= max_levels or survivors.size == 0:
            break  # done, or stuck (ties / budget): the remaining ε stay NaN
        log_level_p += np.log(survivors.size / particles)
        idx = np.concatenate([survivors, survivors[spread(survivors.size, particles - survivors.size, rng)]])
        z, train, gen = z[idx], train[idx], gen[idx]
        for _ in range(moves):
            z_new = pcn_proposal(z, h, rng)
            train_new, gen_new = losses(z_new)
            ok = train_new < level
            z[ok], train[ok], gen[ok] = z_new[ok], train_new[ok], gen_new[ok]
            accepted.append(ok.mean())
            h = adapted_step(h, ok.mean(), accept_target)
        evaluations += moves * particles
        levels += 1
    return LevelRun(log_p, G, gen_var, below, chance, evaluations, levels,
                    float(np.mean(accepted)) if accepted else float("nan"))


def posterior_stage(z, gen, eps: float, losses: LatentLosses, particles: int, moves: int, h: float,
                    accept_target: float, rng: np.random.Generator):
    """The points below the smallest ε, refilled to ``particles`` (systematic copies) and moved ``moves`` times by
    pCN constrained to ``L_train < ε`` (which leaves the posterior invariant); L_gen is averaged over every state
    of every chain. Returns (mean, variance over states, number of states, step, mean acceptance)."""
    idx = np.concatenate([np.arange(len(z)), spread(len(z), particles - len(z), rng)])
    z, gen = z[idx], gen[idx]
    total, total_sq, rates = gen.sum(), (gen * gen).sum(), []
    for _ in range(moves):
        z_new = pcn_proposal(z, h, rng)
        train_new, gen_new = losses(z_new)
        ok = train_new < eps
        z[ok], gen[ok] = z_new[ok], gen_new[ok]
        total, total_sq = total + gen.sum(), total_sq + (gen * gen).sum()
        rates.append(ok.mean())
        h = adapted_step(h, ok.mean(), accept_target)
    count = particles * (moves + 1)
    mean = total / count
    return mean, total_sq / count - mean * mean, count, h, float(np.mean(rates))


def spread(n_from: int, n_to: int, rng: np.random.Generator) -> np.ndarray:
    """``n_to`` indices into ``range(n_from)``, evenly spread from a random offset (systematic, equal weights)."""
    return np.minimum(((rng.uniform() + np.arange(n_to)) * n_from / n_to).astype(int), n_from - 1)


def nested_on_gaussian_latent(latent_dim: int, losses: LatentLosses, eps, rng: np.random.Generator, *,
                              particles: int = 1000, moves: int = 20, replicates: int = 4, keep: float = 0.5,
                              accept_target: float = 0.3, max_levels: int = 2000,
                              workers: int = 1, final_moves: int = 0) -> list[GncEstimate]:
    """G&C estimates at every ε > 0 of ``eps`` for a prior ``z ∼ N(0, I_latent_dim)`` by multilevel splitting.

    ``losses(z)`` maps a batch (B, latent_dim) to ``(L_train (B,), L_gen (B,))``. Returns one
    :class:`GncEstimate` per ε, in the order given, with ``method="nested"`` (see the module docstring).
    """
    eps_list = thresholds(eps, "nested sampling", zero_ok=False,
                          detail=" (eps = 0 has prior probability 0 and is not extrapolated)")
    require(len(eps_list) > 0, "eps must not be empty")
    require(isinstance(latent_dim, (int, np.integer)) and latent_dim >= 1, f"latent_dim must be >= 1, got {latent_dim}")
    check_sizes(particles, moves, replicates, workers)
    require(0 < keep < 1, f"keep must be in (0, 1), got {keep}")
    require(0 < accept_target < 1, f"accept_target must be in (0, 1), got {accept_target}")
    require(isinstance(final_moves, (int, np.integer)) and final_moves >= 0,
            f"final_moves must be an integer >= 0, got {final_moves!r}")

    def job(gen_rng):
        return splitting_run(int(latent_dim), losses, eps_list, particles, moves, keep, accept_target, max_levels,
                             gen_rng, final_moves)

    runs = run_jobs(job, rng.spawn(replicates), workers)
    chance = RunningMoments()
    for run in runs:
        chance.update(run.chance)
    evaluations = sum(r.evaluations for r in runs)
    note = (f"nested: {replicates} replicates x {particles} particles, keep {keep:g}, {moves} moves/level, "
            + (f"{final_moves} posterior moves at eps = {min(eps_list):g}, " if final_moves else "") +
            f"{np.mean([r.levels for r in runs]):.1f} levels, pCN acceptance "
            f"{np.mean([r.accept_rate for r in runs]) if moves else float('nan'):.2f}")
    out = []
    for i, e in enumerate(eps_list):
        below = int(sum(np.nan_to_num(r.below[i]) for r in runs))
        out.append(combine_replicates(e, np.array([r.G[i] for r in runs]), np.array([r.gen_var[i] for r in runs]),
                                      np.exp([r.log_p[i] for r in runs]), chance, evaluations, below, "nested", note))
    return out


def factorization_latent(problem: SensingProblem, fact: Factorization) -> tuple[int, LatentLosses]:
    """``(D, losses)``: the prior of ``fact`` as a map of z ∼ N(0, I_D), composed with the problem's losses.

    gaussian / normalized: z = the hidden chain's normals (``numerics.smc.hidden_root_from_latent``) then the last
    layer's (m × r), W = s_d G U(z) (divided by ‖W‖_F for normalized) — the law of the QR / materialized sampler;
    uniform: every weight
    ``(2Φ(z) − 1)/√rows`` (Φ the normal CDF), materialized product.
    """
    m, shapes, stds, sigma = fact.m, fact.layer_shapes(), fact.layer_stds(), fact.activation
    if fact.prior == "uniform":
        sizes = [rows * cols for rows, cols in shapes]
        bounds = np.cumsum([0] + sizes)

        def losses(z):
            layers = [sd * (2.0 * ndtr(z[:, a:b]) - 1.0).reshape(len(z), *shape)
                      for a, b, shape, sd in zip(bounds[:-1], bounds[1:], shapes, stds)]
            H = sigma(layers[0])
            for W in layers[1:-1]:
                H = sigma(W @ H)
            return problem.losses(layers[-1] @ H)

        return int(bounds[-1]), losses

    hidden, r = hidden_latent_dim(fact), min(fact.width, fact.mp)  # r = k when the latent chain is materialized

    def losses(z):
        W = stds[-1] * z[:, hidden:].reshape(len(z), m, r) @ hidden_root_from_latent(fact, z[:, :hidden])
        if fact.prior == "normalized":
            W /= np.linalg.norm(W, axis=(1, 2), keepdims=True)
        return problem.losses(W)

    return hidden + m * r, losses


def nested_sampling(problem: SensingProblem, fact: Factorization, eps, rng: np.random.Generator,
                    **options) -> list[GncEstimate]:
    """Nested sampling for a factorization prior (gaussian, normalized or uniform) at every ε > 0 of ``eps``."""
    require_matching(problem, fact)
    dim, losses = factorization_latent(problem, fact)
    return nested_on_gaussian_latent(dim, losses, eps, rng, **options)
