"""What the depth theorem predicts: Lyapunov gap, rank-1 depth limit G_∞(ε), RIP bound.

Paper's claim (Alexander, Slutzky, Ran-Milo, Cohen 2025, arXiv 2506.03931, Theorem 2 and Figure 2): for a
linear factorization of fixed width k with the normalized Gaussian prior and measurements satisfying RIP,
Guess & Check generalizes better and better as the depth d grows (for small ε), near-perfectly for a rank-1
ground truth. The paper's theorem text was not available to us; everything below is this package's
formalization (spec ``gnc_matrix_factorization.md`` §4), with the derivations checked numerically:

- Lyapunov exponents of products of i.i.d. k×k matrices with N(0, 1) entries:
  ``λ_i = E ln χ_{k−i+1} = ½[ln 2 + ψ((k − i + 1)/2)]`` (Bartlett: the QR factor of a Gaussian matrix has
  independent χ diagonals, and rotation invariance makes the increments of ``ln|det|`` of the top-i block
  i.i.d.). Layer scales shift every λ_i equally. So ``E ln(σ_2/σ_1)`` of the product falls linearly in d
  with slope ``λ_2 − λ_1 = −½[ψ(k/2) − ψ((k−1)/2)]`` (k = 5: −0.1402 per layer), with transients that decay
  like ``exp(−(λ_1 − λ_2) d)``: the normalized prior concentrates on unit-norm rank-1 matrices.
- Depth limit: by left/right orthogonal invariance the d → ∞ law of the normalized prior is ``W = u vᵀ``,
  u, v independent and uniform on the unit spheres, i.e. normalized Gaussians ``u = z_1/‖z_1‖``,
  ``v = z_2/‖z_2‖`` of a latent ``z ~ N(0, I_{m+m'})``. ``G_∞(ε) = E[L_gen(u vᵀ) | L_train(u vᵀ) < ε]`` is
  estimated by rejection on that latent, or by nested sampling (``numerics.nested``) through the same
  ``losses(latent_batch) -> (train, gen)`` callable at small ε.
- Chance level: ``E vec W vec Wᵀ = I/(m m')`` for the rank-1 limit, and for the normalized prior at every
  depth when σ is linear or odd (sign-flip and permutation invariance), hence
  ``C = 1/(m m') + ‖P⊥W*‖²/|B|``.
- Local law (this package's derivation, checked against nested sampling): near a rank-1 W* = u* v*ᵀ the
  unit rank-1 matrices form a manifold of dimension D = m + m' − 2, locally isometric to the tangent
  coordinates θ (``‖δ(u vᵀ)‖² = ‖δu‖² + ‖δv‖²`` for δu ⊥ u*, δv ⊥ v*), where the limit prior has density
  ``2/(|S^{m−1}| |S^{m'−1}|)`` (two preimages ±(u, v)). With P an orthonormal basis of the tangent space,
  ``L_train ≈ θᵀHθ``, ``H = PᵀAᵀAP/n``, so the posterior tends to the uniform law on the ellipsoid
  ``θᵀHθ < ε`` and ``G_∞(ε) = κ ε (1 + O(ε/λ_min(H)))`` with ``κ = tr(H⁻¹ PᵀP⊥P)/((D + 2)|B|)``, and
  ``p(ε) ≈ 2 Vol(B^D) ε^{D/2} / (|S^{m−1}| |S^{m'−1}| √det H)`` (odd third-order terms cancel in the means).
- RIP bound: with the normalized operator 𝒜 = c A (``numerics.rip``), ``L_train(W) = ‖𝒜(W − W*)‖²/(c² n)``;
  if ``(1 − δ_2)‖X‖² ≤ ‖𝒜X‖²`` for every X of rank ≤ 2 with δ_2 < 1 (only this lower, one-sided RIP
  inequality is used) and W, W* have rank 1, then ``‖W − W*‖² ≤ c² n ε / (1 − δ_2)`` and
  ``L_gen(W) ≤ c² n ε / ((1 − δ_2)|B|)``, which is ``m m' ε / ((1 − δ_2)|B|)`` for unit-norm measurements.
  It holds for any rank-1 W (any norm), so it bounds G_∞(ε) and → 0 as ε → 0. No statement when δ_2 ≥ 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import digamma, gammaln

from numerics.errors import require
from numerics.estimates import GncEstimate, chunk_size, redo_low_ess, rejection_stream, thresholds
from numerics.factorization import bartlett_factors
from numerics.nested import nested_on_gaussian_latent
from numerics.problems import SensingProblem, random_problem
from numerics.rip import IsometryEstimate, isometry_constants, operator_scale

LIMIT_METHODS = ("auto", "rejection", "nested")
LatentLosses = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def lyapunov_exponents(k: int, p: int | None = None) -> np.ndarray:
    """``λ_1 > … > λ_p`` of products of i.i.d. k×k N(0, 1) matrices: ``½[ln 2 + ψ((k − i + 1)/2)]``."""
    p = k if p is None else p
    require(1 <= p <= k, f"need 1 <= p <= k, got p = {p}, k = {k}")
    return 0.5 * (np.log(2.0) + digamma((k - np.arange(p)) / 2.0))


def log_ratio_slope(k: int) -> float:
    """Predicted slope in d of ``E ln(σ_2/σ_1)``: ``λ_2 − λ_1 = −½[ψ(k/2) − ψ((k−1)/2)]``."""
    require(k >= 2, f"sigma_2 needs k >= 2, got {k}")
    lam = lyapunov_exponents(k, 2)
    return float(lam[1] - lam[0])


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


def limit_chance(problem: SensingProblem) -> float:
    """``1/(m m') + ‖P⊥W*‖²/|B|``: chance level of the rank-1 limit (and of the normalized prior, σ odd)."""
    m, mp = problem.shape
    return 1.0 / (m * mp) + problem.unmeasured_truth_energy()


def rank1_from_latent(z: np.ndarray, m: int, mp: int) -> np.ndarray:
    """``u vᵀ`` with ``u = z[:m]/‖z[:m]‖``, ``v = z[m:]/‖z[m:]‖`` for a batch z (B, m + m')."""
    u = z[:, :m] / np.linalg.norm(z[:, :m], axis=1, keepdims=True)
    v = z[:, m:] / np.linalg.norm(z[:, m:], axis=1, keepdims=True)
    return u[:, :, None] * v[:, None, :]


def rank1_losses(problem: SensingProblem) -> tuple[int, LatentLosses]:
    """``(latent_dim, losses)``: the rank-1 limit as a function of a standard Gaussian latent of dim m + m'."""
    m, mp = problem.shape

    def losses(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return problem.losses(rank1_from_latent(np.asarray(z, dtype=float), m, mp))

    return m + mp, losses


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


def nested_available() -> bool:
    """Whether nested sampling may be used (always, since ``numerics.nested`` is part of the package; kept as the
    switch that tests turn off to exercise the rejection-only path)."""
    return True


def latent_nested(latent_dim: int, losses: LatentLosses, eps, rng: np.random.Generator,
                  options: dict | None = None) -> list[GncEstimate]:
    """Nested sampling on the Gaussian latent via ``numerics.nested.nested_on_gaussian_latent``."""
    require(nested_available(), "method 'nested' is switched off (nested_available() is False)")
    return nested_on_gaussian_latent(latent_dim, losses, eps, rng, **(options or {}))


def rank1_depth_limit(problem: SensingProblem, eps, rng: np.random.Generator, *, method: str = "auto",
                      draws: int = 1_000_000, workers: int = 1, min_accepted: int = 200,
                      options: dict | None = None, on_chunk: Callable[[int], None] | None = None
                      ) -> list[GncEstimate]:
    """``G_∞(ε)`` of the rank-1 depth limit at every ε, by ``method`` = rejection | nested | auto.

    ``auto``: rejection with ``draws`` latents; thresholds where fewer than ``min_accepted`` draws were
    accepted are redone by nested sampling when it is available (else left to rejection, possibly NaN).
    """
    require(method in LIMIT_METHODS, f"unknown limit method {method!r}; known: {', '.join(LIMIT_METHODS)}")
    latent_dim, losses = rank1_losses(problem)
    eps_list = [float(e) for e in np.atleast_1d(eps)]
    if method == "nested":
        return latent_nested(latent_dim, losses, eps_list, rng, options)
    out = latent_rejection(latent_dim, losses, eps_list, draws, rng, workers=workers, on_chunk=on_chunk)
    if method == "auto" and nested_available():
        out = redo_low_ess(out, min_accepted, "nested", "auto: rejection first",
                           lambda thresholds: latent_nested(latent_dim, losses, thresholds, rng, options))
    return out


@dataclass(frozen=True)
class LocalLaw:
    """Small-ε asymptote of the rank-1 depth limit: ``G_∞(ε) ≈ kappa ε``, ``ln p(ε) ≈ log_p_coeff + (dim/2) ln ε``,
    valid for ε ≪ ``scale`` (the smallest eigenvalue of H)."""
    kappa: float
    log_p_coeff: float
    dim: int
    scale: float


def local_limit_law(problem: SensingProblem) -> LocalLaw:
    """The local law of the module doc for a rank-1 W* (UserInputError otherwise, or if H is singular)."""
    m, mp = problem.shape
    U, s, Vt = np.linalg.svd(problem.W_star)
    require(s.size < 2 or s[1] <= 1e-10 * s[0], "the local law needs a rank-1 W*")
    u, v = U[:, 0], Vt[0]  # W* = s_1 u vᵀ, s_1 = 1
    left = np.einsum("ia,j->aij", U[:, 1:], v).reshape(m - 1, -1)  # δu vᵀ, δu ⊥ u
    right = np.einsum("i,ja->aij", u, Vt[1:].T).reshape(mp - 1, -1)  # u δvᵀ, δv ⊥ v
    P = np.concatenate([left, right]).T  # (m m', D), orthonormal columns
    dim = P.shape[1]
    AP, QP = problem.A_flat @ P, problem.complement @ P
    H = AP.T @ AP / problem.n
    eig = np.linalg.eigvalsh(H)
    require(dim >= 1 and eig[0] > 1e-12 * max(eig[-1], 1e-300),
            "the local law needs the measurements to be injective on the tangent space (n >= m + m' - 2)")
    kappa = float(np.trace(np.linalg.solve(H, QP.T @ QP)) / ((dim + 2) * problem.b_size))

    def log_sphere(k):  # log |S^{k−1}|
        return np.log(2.0) + k / 2 * np.log(np.pi) - gammaln(k / 2)

    log_ball = dim / 2 * np.log(np.pi) - gammaln(dim / 2 + 1)
    log_p = float(np.log(2.0) - log_sphere(m) - log_sphere(mp) + log_ball - 0.5 * np.sum(np.log(eig)))
    return LocalLaw(kappa=kappa, log_p_coeff=log_p, dim=dim, scale=float(eig[0]))


def rip_bound(problem: SensingProblem, eps: float, delta2: float) -> float:
    """``c² n ε / ((1 − δ_2)|B|)`` (= m m' ε/((1 − δ_2)|B|) for unit-norm A_i); ``inf`` when δ_2 ≥ 1."""
    if not rip_bound_applies(delta2):
        return float("inf")
    c2n = operator_scale(problem.A) ** 2 * problem.n
    return float(c2n * eps / ((1.0 - delta2) * problem.b_size))


def rip_bound_applies(delta2: float, margin: float = 1e-10) -> bool:
    """δ_2 < 1 with a margin: a restricted eigenvalue ``1 − δ_2`` below ``margin`` is numerically zero."""
    return bool(np.isfinite(delta2) and delta2 < 1.0 - margin)


@dataclass(frozen=True)
class InformativeRip:
    """A sensing problem where the RIP bound can bite (spec §8): the problem, its δ_2 estimate (``numerics.rip``
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

    Measured (seed 0, m = m' = 20, n = 200): see ``benchmarks/results_gncnum.md``. ``bound < chance`` iff
    ``ε < eps_max = chance (1 − δ_2⁻)|B| / (c² n)``.
    """
    prob = problem if problem is not None else random_problem(m, mp, rank, n, rng)
    rip = isometry_constants(prob.A, 2, rng, restarts=restarts)
    chance = limit_chance(prob)
    unit = rip_bound(prob, 1.0, rip.delta_minus_lower)
    return InformativeRip(problem=prob, rip=rip, chance=chance, eps_max=chance / unit if np.isfinite(unit) else 0.0)


def bound_ratio(G: float, bound: float) -> float:
    """``G_∞ / bound`` (≤ 1: the inequality holds; NaN when the bound does not apply)."""
    return float(G / bound) if np.isfinite(bound) and bound > 0 else float("nan")
