"""Adaptive-tempered sequential Monte Carlo for G&C with Gaussian priors (this package's
method, not the paper's: Alexander et al. 2025 estimate G(ε) by plain rejection).

The latent z is the hidden layers' standard normals: those of the QR chain (``numerics.factorization.
qr_chain_root``, dimension ``k m' + (d − 2) k m'``) when k > m', else those of every hidden weight
(``materialized_chain_root``, ``k m' + (d − 2) k²``, no larger there and cheaper to map). The hidden root U(z) is a
deterministic function of z and ``W =d s_d G U`` with G standard normal, so given U the last layer is integrated
out exactly as in ``numerics.rbis``:
- the acceptance weight ``w_0(U)``: at ε = 0 the density ``N(y; 0, S(U))`` (exact); at ε > 0 the probability
  ``P(L_train < ε | U)``, estimated without bias by the mean of rbis's one-point estimate over ``ball_points``
  independent points z_j of the defensive ball mixture. We temper the *estimate*: the state is (z, u), u the
  ball points' randomness with law q, and the stage-β target is ``N(z; 0, I) q(u) ŵ(z, u)^β``. At β = 1 its
  z-marginal is the G&C posterior and its normalizer is ``E ŵ = p(ε)`` (an exact auxiliary-variable target,
  as in pseudo-marginal MCMC); the bridges β < 1 are a different but equally valid path.
- the Rao–Blackwellized integrand ``f = E[L_gen | U, z_j]`` (closed form), averaged over the ball points with
  weights ŵ_j/Σŵ_j (at ε = 0: at z = y).
Stages: β from 0 to 1, each increment the largest keeping the ESS of the incremental weights ŵ^Δβ at
``target_ess`` × the live particles (bisection); systematic resampling; ``moves`` preconditioned
Crank–Nicolson moves ``z' = √(1 − h²) z + h ξ`` with fresh ball points, accepted with probability
``min(1, (ŵ'/ŵ)^β)`` (the proposal is reversible for the N(0, I) × q prior, so only the weight enters); h is
adapted after every move towards ``accept_target`` acceptance. p(ε) is the product of the stages' mean
incremental weights; G(ε) the particle average of f after the last moves at β = 1.

Error bars come from ``replicates`` independent runs (generators from ``rng.spawn``), never from the
particles of one run: under-mixed moves bias SMC (measured: K = 15 gives 0.0485 where K = 60 gives 0.0301 at
k = 5, d = 10, ε → 0) and only independent runs can show it. ``G`` is the replicate mean, ``G_se`` their
standard deviation over √R (``se_dof`` = R − 1: use Student-t quantiles, ``verify.rules``); ``p_accept``
and ``p_se`` likewise (ε > 0; 0 at ε = 0, as rbis reports); ``ess`` is ``min(N R, Var_π(f)/G_se²)``: the number of
independent posterior draws of f that would give the replicates' standard error, capped at the particle
count. Each ε is a separate set of runs; the chance level pools every run's prior particles.

Layering: below the dispatcher ``numerics.gnc``; imports ``numerics.estimates`` and ``numerics.rbis``;
:func:`tempered_over_latent` is the replicate driver shared with ``numerics.angular.angular_smc``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from numerics.errors import require
from numerics.estimates import (GncEstimate, RunningMoments, check_sizes, combine_replicates, require_matching,
                                run_jobs, thresholds)
from numerics.factorization import Factorization, materialized_chain_root, qr_chain_root, qr_latent_shapes
from numerics.problems import SensingProblem
from numerics.rbis import ball_share, conditional_terms, covariance_is_regular, log_weight_and_gen, mixture_proposal

__all__ = ["AcceptanceWeight", "RunResult", "adapted_step", "check_sizes", "combine_replicates",
           "covariance_is_regular", "guarded_terms", "hidden_latent_dim", "hidden_root_from_latent", "next_increment",
           "pcn_proposal", "run_jobs", "systematic_resample", "tempered_run", "tempered_smc"]


def latent_chain(fact: Factorization) -> str:
    """The hidden chain the latent feeds: the QR chain when it is smaller (k > m'), else every hidden weight."""
    return "qr" if fact.width > fact.mp else "materialized"


def hidden_latent_shapes(fact: Factorization) -> list[tuple[int, int]]:
    return qr_latent_shapes(fact) if latent_chain(fact) == "qr" else fact.layer_shapes()[:-1]


def hidden_latent_dim(fact: Factorization) -> int:
    return sum(rows * cols for rows, cols in hidden_latent_shapes(fact))


def hidden_root_from_latent(fact: Factorization, z: np.ndarray) -> np.ndarray:
    """U(z) (B, r, m') for a batch of flat latents z (B, hidden_latent_dim), with ``W =d s_d G U(z)`` for G
    standard normal (m × r): r = min(k, m') for the QR chain (canonical per draw), r = k for the materialized one."""
    parts, start = [], 0
    for rows, cols in hidden_latent_shapes(fact):
        parts.append(z[:, start:start + rows * cols].reshape(len(z), rows, cols))
        start += rows * cols
    if latent_chain(fact) == "qr":
        return qr_chain_root(fact, parts, canonical=True)
    return materialized_chain_root(fact, parts)


def pcn_proposal(z: np.ndarray, h: float, rng: np.random.Generator) -> np.ndarray:
    """Preconditioned Crank–Nicolson: reversible for N(0, I), so acceptance depends on the likelihood only."""
    return np.sqrt(1.0 - h * h) * z + h * rng.standard_normal(z.shape)


def adapted_step(h: float, acceptance: float, target: float) -> float:
    """Robbins–Monro-style multiplicative update of the pCN step towards the target acceptance rate."""
    return float(np.clip(h * np.exp(2.0 * (acceptance - target)), 1e-4, 1.0))


def systematic_resample(log_w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    w = np.exp(log_w - np.max(log_w))
    cdf = np.cumsum(w)
    u = (rng.uniform() + np.arange(len(w))) / len(w) * cdf[-1]
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(w) - 1)


def next_increment(log_w: np.ndarray, remaining: float, target_ess: float) -> float:
    """Largest Δβ ≤ remaining with ESS(ŵ^Δβ) ≥ target_ess × (number of particles with ŵ > 0), by bisection."""
    x = log_w[np.isfinite(log_w)]
    require(x.size > 0, "smc: every particle has zero acceptance weight; increase particles or ball_points")
    x = x - x.max()
    goal = target_ess * x.size

    def ess(delta):
        w = np.exp(delta * x)
        return w.sum() ** 2 / (w @ w)

    if ess(remaining) >= goal:
        return remaining
    lo, hi = 0.0, remaining
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ess(mid) >= goal else (lo, mid)
    return lo if lo > 0 else hi


def guarded_terms(problem: SensingProblem, U: np.ndarray, s_last: float):
    """``conditional_terms`` plus a mask of the draws whose S is numerically singular (Cholesky fails in float64;
    found by bisecting the batch), which get stand-in values (L = I, X = 0, chance NaN) for the caller to drop."""
    try:
        return (*conditional_terms(problem, U, s_last), np.ones(len(U), bool))
    except np.linalg.LinAlgError:
        if len(U) == 1:
            n, nb = problem.n, problem.b_size
            return np.eye(n)[None], np.zeros((1, n, nb)), np.zeros(1), np.full(1, np.nan), np.zeros(1, bool)
        half = len(U) // 2
        parts = guarded_terms(problem, U[:half], s_last), guarded_terms(problem, U[half:], s_last)
        return tuple(np.concatenate(pair) for pair in zip(*parts))


class AcceptanceWeight:
    """``(log ŵ, f, chance)`` for a batch of latents: the last layer integrated out given U(z) (see module doc).

    Draws whose S is numerically singular get weight 0 (counted in ``singular``): the posterior of a rank-1 W*
    favours near-rank-deficient U, and float64 cannot represent the weight there. This excludes states with
    cond(S) beyond ~1e16; a bias only if the posterior puts mass there, reported in the note when it happens.
    """

    def __init__(self, problem: SensingProblem, fact: Factorization, eps: float, ball_points: int):
        self.problem, self.fact, self.eps, self.points = problem, fact, eps, int(ball_points)
        self.s_last = fact.layer_stds()[-1]
        self.singular = 0

    def __call__(self, z: np.ndarray, rng: np.random.Generator):
        log_w, f, chance, ok = self._evaluate(z, rng)
        if not ok.all():
            self.singular += int(np.sum(~ok))
            log_w, f = np.where(ok, log_w, -np.inf), np.where(ok, f, 0.0)
        return log_w, f, chance

    def _evaluate(self, z: np.ndarray, rng: np.random.Generator):
        prob = self.problem
        L, X, trace, chance, ok = guarded_terms(prob, hidden_root_from_latent(self.fact, z), self.s_last)
        if self.eps == 0:
            log_w, f = log_weight_and_gen(prob, L, X, trace, prob.y[None], 0.0)
            return log_w, f, chance, ok
        J, B = self.points, len(z)
        share = np.repeat(ball_share(prob, L, self.eps), J, axis=0)
        L, X, trace = np.repeat(L, J, axis=0), np.repeat(X, J, axis=0), np.repeat(trace, J, axis=0)
        points = mixture_proposal(B * J, prob.n, prob.y, self.eps, L, share, rng)
        log_w, f = (a.reshape(B, J) for a in log_weight_and_gen(prob, L, X, trace, points, self.eps, share))
        log_mean = logsumexp(log_w, axis=1) - np.log(J)
        alive = np.isfinite(log_mean)
        within = np.exp(log_w[alive] - log_mean[alive, None]) / J  # weights summing to 1 per particle
        f_bar = np.zeros(B)
        f_bar[alive] = np.sum(within * f[alive], axis=1)
        return log_mean, f_bar, chance, ok


@dataclass(frozen=True)
class RunResult:
    """One replicate at one ε: the posterior mean and variance of f, log p̂ (normalizer), cost and diagnostics."""
    G: float
    f_var: float
    log_p: float
    evaluations: int
    stages: int
    chance: np.ndarray
    accept_rate: float
    singular: int = 0


def tempered_run(weight: AcceptanceWeight, dim: int, particles: int, moves: int, target_ess: float,
                 accept_target: float, max_stages: int, rng: np.random.Generator) -> RunResult:
    """One adaptive-tempered SMC run from the prior (β = 0) to the posterior (β = 1)."""
    z = rng.standard_normal((particles, dim))
    log_w, f, chance = weight(z, rng)
    beta, log_p, h, stages, evaluations, accepted = 0.0, 0.0, 0.5, 0, particles, []
    while beta < 1.0:
        if stages >= max_stages:
            return RunResult(np.nan, np.nan, np.nan, evaluations, stages, chance, np.nan, weight.singular)
        delta = next_increment(log_w, 1.0 - beta, target_ess)
        increment = delta * log_w
        log_p += logsumexp(increment) - np.log(particles)
        beta = 1.0 if delta >= 1.0 - beta else beta + delta
        idx = systematic_resample(increment, rng)
        z, log_w, f = z[idx], log_w[idx], f[idx]
        for _ in range(moves):
            z_new = pcn_proposal(z, h, rng)
            log_w_new, f_new, _ = weight(z_new, rng)
            with np.errstate(invalid="ignore"):
                ok = np.log(rng.uniform(size=particles)) < beta * (log_w_new - log_w)
            z[ok], log_w[ok], f[ok] = z_new[ok], log_w_new[ok], f_new[ok]
            accepted.append(ok.mean())
            h = adapted_step(h, ok.mean(), accept_target)
        evaluations += moves * particles
        stages += 1
    return RunResult(float(f.mean()), float(f.var()), float(log_p), evaluations, stages, chance,
                     float(np.mean(accepted)) if accepted else np.nan, weight.singular)


def tempered_smc(problem: SensingProblem, fact: Factorization, eps, rng: np.random.Generator, *,
                 particles: int = 1000, moves: int = 60, replicates: int = 4, target_ess: float = 0.5,
                 ball_points: int = 4, accept_target: float = 0.3, max_stages: int = 1000,
                 workers: int = 1) -> list[GncEstimate]:
    """G&C estimates at every ε ≥ 0 in ``eps`` by adaptive-tempered SMC (``replicates`` runs per ε)."""
    eps_list = thresholds(eps, "smc", zero_ok=True)
    require_matching(problem, fact)
    require(fact.prior == "gaussian" and min(fact.width, fact.mp) * fact.m >= problem.n,
            f"smc needs the gaussian prior and min(k, m')*m >= n (prior {fact.prior!r}, k = {fact.width}, "
            f"n = {problem.n}); use method=nested or rejection")
    require(covariance_is_regular(problem, fact),
            "smc: Cov(A vec W | hidden layers) is singular for every hidden draw (e.g. a completion row observed at "
            f"more than min(k, m') = {min(fact.width, fact.mp)} entries); use method=nested or rejection")
    require(isinstance(ball_points, (int, np.integer)) and ball_points >= 1,
            f"ball_points must be >= 1, got {ball_points}")
    return tempered_over_latent(lambda e: AcceptanceWeight(problem, fact, e, ball_points), hidden_latent_dim(fact),
                                eps_list, rng, particles=particles, moves=moves, replicates=replicates,
                                target_ess=target_ess, accept_target=accept_target, max_stages=max_stages,
                                workers=workers, method="smc")


def tempered_over_latent(make_weight, dim: int, eps_list: list[float], rng: np.random.Generator, *, particles: int,
                         moves: int, replicates: int, target_ess: float, accept_target: float, max_stages: int,
                         workers: int, method: str) -> list[GncEstimate]:
    """``replicates`` runs of :func:`tempered_run` per ε on a latent N(0, I_dim), combined (module doc).

    ``make_weight(ε)`` returns a fresh callable ``(z, rng) -> (log ŵ, f, chance)`` with a ``singular`` counter
    (:class:`AcceptanceWeight` here; ``numerics.angular.AngularWeight`` for the normalized prior); ``method``
    names the estimates.
    """
    check_sizes(particles, moves, replicates, workers)
    require(0 < target_ess < 1, f"target_ess must be in (0, 1), got {target_ess}")
    require(0 < accept_target < 1, f"accept_target must be in (0, 1), got {accept_target}")
    seeds = rng.spawn(len(eps_list) * replicates)
    jobs = [(e, s) for i, e in enumerate(eps_list) for s in seeds[i * replicates:(i + 1) * replicates]]

    def job(item):
        e, gen = item
        return tempered_run(make_weight(e), dim, particles, moves, target_ess, accept_target, max_stages, gen)

    results = run_jobs(job, jobs, workers)
    chance = RunningMoments()
    for res in results:
        chance.update(res.chance[np.isfinite(res.chance)])
    out = []
    for i, e in enumerate(eps_list):
        runs = results[i * replicates:(i + 1) * replicates]
        p = np.array([np.exp(r.log_p) if e > 0 else 0.0 for r in runs])
        acceptance = np.mean([r.accept_rate for r in runs]) if moves else float("nan")
        note = (f"{method}: {replicates} replicates x {particles} particles, {moves} moves/stage, "
                f"{np.mean([r.stages for r in runs]):.1f} stages, pCN acceptance {acceptance:.2f}")
        singular = sum(r.singular for r in runs)
        if singular:
            total = sum(r.evaluations for r in runs)
            note += f"; numerically singular covariance (weight 0) at {singular} of {total} evaluations"
        out.append(combine_replicates(e, np.array([r.G for r in runs]), np.array([r.f_var for r in runs]), p,
                                      chance, sum(r.evaluations for r in runs), particles * replicates, method, note))
    return out
