"""What the depth theorem predicts: Lyapunov gap, rank-1 depth limit G_∞(ε), RIP bound.

Paper's claim (Alexander, Slutzky, Ran-Milo, Cohen 2025, arXiv 2506.03931, Theorem 2 and Figure 2): for a
linear factorization of fixed width k with the normalized Gaussian prior and measurements satisfying RIP,
Guess & Check generalizes better and better as the depth d grows (for small ε), near-perfectly for a rank-1
ground truth. The paper's theorem text was not available to us; everything below is this package's
formalization, with the derivations checked numerically:

- Lyapunov exponents of products of i.i.d. k×k matrices with N(0, 1) entries:
  ``λ_i = E ln χ_{k−i+1} = ½[ln 2 + ψ((k − i + 1)/2)]`` (Bartlett: the QR factor of a Gaussian matrix has
  independent χ diagonals, and rotation invariance makes the increments of ``ln|det|`` of the top-i block
  i.i.d.). Layer scales shift every λ_i equally. So ``E ln(σ_2/σ_1)`` of the product falls linearly in d
  with slope ``λ_2 − λ_1 = −½[ψ(k/2) − ψ((k−1)/2)]`` (k = 5: −0.1402 per layer), with transients that decay
  like ``exp(−(λ_1 − λ_2) d)``: the normalized prior concentrates on unit-norm rank-1 matrices.
- Depth limit: by left/right orthogonal invariance the d → ∞ law of the normalized prior is ``W = u vᵀ``,
  u, v independent and uniform on the unit spheres, i.e. normalized Gaussians ``u = z_1/‖z_1‖``,
  ``v = z_2/‖z_2‖`` of a latent ``z ~ N(0, I_{m+m'})`` (:func:`rank1_losses`);
  ``G_∞(ε) = E[L_gen(u vᵀ) | L_train(u vᵀ) < ε]`` is estimated in ``numerics.gnc_limits``.
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
- RIP bound: with the normalized operator 𝒜 = c A (:func:`operator_scale`), ``L_train(W) = ‖𝒜(W − W*)‖²/(c² n)``;
  if ``(1 − δ_2)‖X‖² ≤ ‖𝒜X‖²`` for every X of rank ≤ 2 with δ_2 < 1 (only this lower, one-sided RIP
  inequality is used) and W, W* have rank 1, then ``‖W − W*‖² ≤ c² n ε / (1 − δ_2)`` and
  ``L_gen(W) ≤ c² n ε / ((1 − δ_2)|B|)``, which is ``m m' ε / ((1 − δ_2)|B|)`` for unit-norm measurements.
  It holds for any rank-1 W (any norm), so it bounds G_∞(ε) and → 0 as ε → 0. No statement when δ_2 ≥ 1.

Problems are taken duck-typed (this layer imports nothing from ``numerics``): ``shape``, ``A``, ``A_flat``,
``W_star``, ``n``, ``complement``, ``b_size``, ``unmeasured_truth_energy()``, ``losses(W)``
(``numerics.problems.SensingProblem``). The Monte Carlo (Lyapunov chains, the rank-1 limit's estimators, the
informative RIP setting) is in ``numerics.gnc_limits``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import digamma, gammaln

from theory.errors import require

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


def limit_chance(problem) -> float:
    """``1/(m m') + ‖P⊥W*‖²/|B|``: chance level of the rank-1 limit (and of the normalized prior, σ odd)."""
    m, mp = problem.shape
    return 1.0 / (m * mp) + problem.unmeasured_truth_energy()


def rank1_from_latent(z: np.ndarray, m: int, mp: int) -> np.ndarray:
    """``u vᵀ`` with ``u = z[:m]/‖z[:m]‖``, ``v = z[m:]/‖z[m:]‖`` for a batch z (B, m + m')."""
    u = z[:, :m] / np.linalg.norm(z[:, :m], axis=1, keepdims=True)
    v = z[:, m:] / np.linalg.norm(z[:, m:], axis=1, keepdims=True)
    return u[:, :, None] * v[:, None, :]


def rank1_losses(problem) -> tuple[int, LatentLosses]:
    """``(latent_dim, losses)``: the rank-1 limit as a function of a standard Gaussian latent of dim m + m'."""
    m, mp = problem.shape

    def losses(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return problem.losses(rank1_from_latent(np.asarray(z, dtype=float), m, mp))

    return m + mp, losses


@dataclass(frozen=True)
class LocalLaw:
    """Small-ε asymptote of the rank-1 depth limit: ``G_∞(ε) ≈ kappa ε``, ``ln p(ε) ≈ log_p_coeff + (dim/2) ln ε``,
    valid for ε ≪ ``scale`` (the smallest eigenvalue of H)."""
    kappa: float
    log_p_coeff: float
    dim: int
    scale: float


def local_limit_law(problem) -> LocalLaw:
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


def rip_bound(problem, eps: float, delta2: float) -> float:
    """``c² n ε / ((1 − δ_2)|B|)`` (= m m' ε/((1 − δ_2)|B|) for unit-norm A_i); ``inf`` when δ_2 ≥ 1."""
    if not rip_bound_applies(delta2):
        return float("inf")
    c2n = operator_scale(problem.A) ** 2 * problem.n
    return float(c2n * eps / ((1.0 - delta2) * problem.b_size))


def operator_scale(A: np.ndarray) -> float:
    """c with ``c² = m m' / Σ‖A_i‖²``: the factor making the average of ‖𝒜X‖² over unit X equal 1."""
    A = np.asarray(A, dtype=float)
    return float(np.sqrt(A.shape[1] * A.shape[2] / np.sum(A ** 2)))


def informative_eps_max(problem, delta_minus: float) -> float:
    """The largest ε at which the RIP bound (at ``delta_minus``) is below the rank-1 limit's chance level:
    ``chance (1 − δ_2⁻)|B| / (c² n)`` (0 when the bound does not apply)."""
    unit = rip_bound(problem, 1.0, delta_minus)
    return limit_chance(problem) / unit if np.isfinite(unit) else 0.0


def rip_bound_applies(delta2: float, margin: float = 1e-10) -> bool:
    """δ_2 < 1 with a margin: a restricted eigenvalue ``1 − δ_2`` below ``margin`` is numerically zero."""
    return bool(np.isfinite(delta2) and delta2 < 1.0 - margin)
