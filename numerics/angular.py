"""Exact G&C estimates for the end-to-end normalized prior at every ε ≥ 0, including ε = 0
(this package's method, not the paper's: Alexander, Slutzky, Ran-Milo, Cohen
2025, arXiv 2506.03931, estimate G(ε) for their Figure 2 by plain rejection at ε = 0.0035).

Structure (our derivation). Given the hidden root U (``numerics.factorization.hidden_root``; ``UᵀU`` is the Gram
of the last hidden activations, any σ), the unnormalized product ``M = s_d G U`` is Gaussian with covariance
``Σ = I_m ⊗ Γ``, ``Γ = s_d² UᵀU`` (row-major vec), so ``w = vec W = M/‖M‖`` has the angular central Gaussian
law on S^{D−1} (D = m m'): density ``|Σ|^{−1/2} (wᵀΣ⁻¹w)^{−D/2}`` w.r.t. the uniform probability σ_D.
Needs Γ invertible: ``k ≥ m'`` (else W lives on a lower-dimensional set and has no density on the sphere).

Coordinates. R (n × D) and Q (|B| × D) are orthonormal bases of the row space of the measurements and of its
complement (|B| = D − n); ``w = Rᵀa + ρ_a Qᵀη`` with a ∈ R^n, ``ρ_a = √(1 − ‖a‖²)``, η ∈ S^{|B|−1}. Then
``L_train(w) = ‖K a − y‖²/n`` (K = A Rᵀ) depends on a only, ``L_gen(w) = ‖ρ_a η − Q w*‖²/|B|`` on (a, η), and
``dσ_D(w) = c_{D,n} ρ_a^{|B|−2} da dσ_{|B|}(η)`` with ``c_{D,n} = Γ(D/2)/(Γ(|B|/2) π^{n/2})``. The band
``{L_train < ε}`` is ``a ∈ E_ε`` (an ellipsoid around a_0 = K⁻¹y, cut by ‖a‖ < 1); ε = 0 is the sphere
S_0 = {a = a_0} (feasible when ‖a_0‖ = ‖P_row w*‖ < 1).

Weights. For fixed (U, a) the η-target is ``(wᵀPw)^{−D/2}`` (P = Σ⁻¹), and with w = ρ_a (v + Qᵀη),
v = Rᵀa/ρ_a, ``wᵀPw = ρ_a² q(η)``, ``q(η) = ηᵀBη + 2bᵀη + c`` (B = QPQᵀ, b = QPv, c = vᵀPv: a quadratic with a
linear term on the sphere). For U from the hidden-root proposal, a from q_a and η from q_η (Lebesgue density on
S^{|B|−1}),
``ω = 1{a ∈ E_ε, ‖a‖ < 1} c_{D,n} ρ_a^{−n−2} |Σ|^{−1/2} q(η)^{−D/2} / (|S^{|B|−1}| q_a(a) q_η(η)) × (prior/proposal
ratio of U)`` has ``E ω = p(ε)``, and self-normalized averages of ``L_gen`` give G(ε). At ε = 0, a = a_0 and the
weight drops q_a (``E ω`` is then the density of the limit, not a probability; ``p_accept`` is reported as 0,
as rbis does). Γ enters through its eigenvalues and eigenvectors from the SVD of U, normalized to mean 1
(the law is scale-free; at k = 5, d = 10 the smallest eigenvalue is ~1e-12 of the largest, and squaring U into
a Gram would lose it). The proposals affect efficiency only, never exactness:
- a (ε > 0): ``λ Unif(E_ε) + (1 − λ) (law of R w for w uniform on S^{D−1})``, λ = clip(1 − Vol(E_ε)/Vol(B^n),
  0.5, 0.95). It ignores Σ: efficient when the band is thin against the angular law's spread, poor when it is
  wide (large ε, or deep nets whose angular law is very concentrated).
- η: a mixture of two Student-t laws in gnomonic charts (Laplace fits at the global minimum of q, the
  trust-region solution, and at the stationary point reached by Riemannian Newton steps from its antipode: q
  has at most one other local minimum) and the uniform law (defensive: weights ≤ 5 max q^{−D/2}·|S|).
- U: prior draws; for linear σ (Bartlett form, k ≥ m') a :class:`TiltedBartlett` proposal fitted by a short
  cross-entropy run (the deep posterior sits on hidden products far closer to rank 1 than prior draws), and the
  eigenbasis of Γ re-drawn around W*'s top right singular vector (:func:`reorient`; exact for linear σ, whose
  prior eigenbasis is Haar given the eigenvalues). The pseudo-marginal SMC (below) uses neither.
``inner`` points (a, η) per hidden draw; the per-draw mean weight and weighted mean of L_gen enter a
streaming self-normalized estimate over independent hidden draws (:class:`numerics.estimates.WeightedMoments`):
delta-method standard error, Kish's ESS over hidden draws (``se_dof = ess − 1``), ``p̂(ε)`` with its SE. The
chance level C averages L_gen of one exact prior draw ``M/‖M‖`` per (separate) prior hidden draw.

Two methods (``numerics.gnc.estimate``): ``angular`` (:func:`angular_is`, the importance sampler above) and
``angular_smc`` (:func:`angular_smc`): ``numerics.smc``'s adaptive-tempered SMC on the hidden layers' Gaussian
latent, tempering this module's unbiased per-draw weight estimate (a pseudo-marginal target, exact at β = 1;
replicate error bars). ``auto`` runs ``angular`` and hands thresholds whose measured ESS is below ``min_ess`` to
``angular_smc``.

Measured (docs/benchmarks.md): the importance sampler keeps a usable ESS at d ≤ 3 on small problems
and at ε = 0 or small ε; at Figure 2's d ≥ 5 its hidden-draw weights degenerate (ESS of a few per 10^4) and
angular_smc is what works. Known defect: at k = m' its p̂ is biased low (or its SE too small; calibration in
``tests/test_angular.py``), G is not affected. G_d(0) against nested sampling's ε → 0 trend (``bench_angular.py
--zero-trend``, one problem, k = 5, linear): it agrees with the intercept of nested's G over the three smallest ε
at d = 2, 3, 4 (z = 0.18, 1.30, 0.25), but at d = 6 angular_smc's G_6(0) = 2.9e-4 ± 0.5e-4 lies above nested's
G_6(1e-5) = 9.8e-5 ± 0.6e-5 (and its ε → 0 intercept 4.7e-5 ± 0.7e-5) with 8 × 300 particles × 10 moves: an SMC too
small to equilibrate. With 8 × 1000 × 20 (depth_theorem's --full nested setting, which it passes on) G_6(0) = 8.9e-5 ±
1.6e-5, below nested's G_6(1e-5) as it should be, 2.4 SE above the intercept (245 s on one core).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import gammaln, logsumexp

from numerics.errors import require
from numerics.estimates import (DEFAULT_MEMORY_BYTES, GncEstimate, RunningMoments, WeightedMoments, chunk_size,
                                require_matching, stream_draws, thresholds)
from numerics.factorization import Factorization, hidden_root
from numerics.problems import SensingProblem
from numerics.smc import hidden_latent_dim, hidden_root_from_latent, tempered_over_latent

__all__ = ["AngularGeometry", "AngularWeight", "angular_applicable", "angular_is", "angular_smc", "geometry"]

T_DOF = 5.0  # degrees of freedom of the gnomonic Student-t component of the η-proposal
SHARES = (0.5, 0.3, 0.2)  # η-proposal: t at the global mode, t at the second stationary point, uniform
LOCAL_STEPS = 3  # Riemannian Newton steps from the antipode of the global mode
T_INFLATE = 1.2  # its scale relative to the Laplace fit
DEFENSIVE = 0.1  # share of prior draws in the tilted hidden-root proposal (bounds its density ratio by 10)
MIN_EIGEN_RATIO = 1e-24  # λ_min/λ_max below this is not resolved by a float64 product of layers
ORIENT_SCALES = (0.03, 0.3, 3.0)  # concentrations of the eigenbasis proposal, in units of λ_1/λ_2


def angular_applicable(problem: SensingProblem, fact: Factorization) -> bool:
    """The normalized prior with Gaussian hidden layers, an invertible Γ (k ≥ m') and a feasible S_0 (‖a_0‖ < 1)."""
    return (fact.prior == "normalized" and fact.width >= fact.mp and problem.shape == (fact.m, fact.mp)
            and problem.b_size >= 1 and geometry(problem).a0_norm2 < 1.0)


@dataclass(frozen=True)
class AngularGeometry:
    """The fixed coordinates of one problem (module doc): R, Q, K, a_0 and the log constants."""
    R: np.ndarray  # (n, D)
    Q: np.ndarray  # (|B|, D)
    K: np.ndarray  # (n, n)
    K_inv: np.ndarray
    a0: np.ndarray  # (n,)
    qw: np.ndarray  # Q w* (|B|,)
    a0_norm2: float
    log_det_K: float
    log_const_eta: float  # log c_{D,n} − log |S^{|B|−1}|

    @property
    def n(self) -> int:
        return self.R.shape[0]

    @property
    def nb(self) -> int:
        return self.Q.shape[0]


def geometry(problem: SensingProblem) -> AngularGeometry:
    n, D = problem.A_flat.shape
    _, _, vt = np.linalg.svd(problem.A_flat, full_matrices=True)
    R, Q = vt[:n], problem.complement
    K = problem.A_flat @ R.T
    a0 = R @ problem.W_star.reshape(-1)
    nb = Q.shape[0]
    log_c = gammaln(D / 2) - gammaln(nb / 2) - n / 2 * np.log(np.pi)
    log_sphere = np.log(2.0) + nb / 2 * np.log(np.pi) - gammaln(nb / 2)
    return AngularGeometry(R=R, Q=Q, K=K, K_inv=np.linalg.inv(K), a0=a0, qw=Q @ problem.W_star.reshape(-1),
                           a0_norm2=float(a0 @ a0), log_det_K=float(np.linalg.slogdet(K)[1]),
                           log_const_eta=log_c - log_sphere)


def log_unit_ball(n: int) -> float:
    return n / 2 * np.log(np.pi) - gammaln(n / 2 + 1)


def log_row_marginal(geo: AngularGeometry, a: np.ndarray) -> np.ndarray:
    """log density of a = R w for w uniform on S^{D−1}: ``c_{D,n} (1 − ‖a‖²)^{(|B|−2)/2}`` (−inf outside)."""
    n, nb = geo.n, geo.nb
    D = n + nb
    s = 1.0 - np.sum(a * a, axis=-1)
    log_c = gammaln(D / 2) - gammaln(nb / 2) - n / 2 * np.log(np.pi)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s > 0, log_c + (nb - 2) / 2 * np.log(np.where(s > 0, s, 1.0)), -np.inf)


def sample_row_marginal(geo: AngularGeometry, size: int, rng: np.random.Generator) -> np.ndarray:
    w = rng.standard_normal((size, geo.n + geo.nb))
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    return w[:, :geo.n]  # R w for w uniform: any n coordinates of a uniform point (rotation invariance)


class BandProposal:
    """The a-proposal at threshold ε > 0 (module doc): λ Unif(E_ε) + (1 − λ) row marginal of the uniform sphere."""

    def __init__(self, geo: AngularGeometry, problem: SensingProblem, eps: float):
        self.geo, self.radius2 = geo, problem.n * eps
        self.y = problem.y
        self.log_volume = log_unit_ball(geo.n) + geo.n / 2 * np.log(self.radius2) - geo.log_det_K
        self.share = float(np.clip(1.0 - np.exp(self.log_volume - log_unit_ball(geo.n)), 0.5, 0.95))

    def inside(self, a: np.ndarray) -> np.ndarray:
        resid = a @ self.geo.K.T - self.y
        return (np.sum(resid * resid, axis=-1) < self.radius2) & (np.sum(a * a, axis=-1) < 1.0)

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        n = self.geo.n
        u = rng.standard_normal((size, n))
        u *= (rng.uniform(size=(size, 1)) ** (1.0 / n)) / np.linalg.norm(u, axis=1, keepdims=True)
        ellipsoid = (self.y + np.sqrt(self.radius2) * u) @ self.geo.K_inv.T
        coin = rng.uniform(size=(size, 1)) < self.share
        return np.where(coin, ellipsoid, sample_row_marginal(self.geo, size, rng))

    def log_density(self, a: np.ndarray) -> np.ndarray:
        resid = a @ self.geo.K.T - self.y
        in_ellipsoid = np.sum(resid * resid, axis=-1) < self.radius2
        first = np.where(in_ellipsoid, np.log(self.share) - self.log_volume, -np.inf)
        return np.logaddexp(first, np.log1p(-self.share) + log_row_marginal(self.geo, a))


def gram_spectrum(U: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Γ ∝ UᵀU as eigenvalues λ (B, m', decreasing, mean 1: the angular law is scale-free) and eigenvectors V
    (B, m', m') from the SVD of U — not from the Gram, which would square its condition number (at k = 5,
    d = 10 the smallest λ is ~1e-12 of the largest) — and the mask of draws whose spectrum float64 resolves
    (λ_min/λ_max > MIN_EIGEN_RATIO; the others get weight 0 and are counted in the note)."""
    finite = np.all(np.isfinite(U), axis=(1, 2))
    _, s, vt = np.linalg.svd(np.where(finite[:, None, None], U, np.eye(*U.shape[1:])), full_matrices=False)
    lam = s * s
    lam = lam / np.mean(lam, axis=1, keepdims=True)
    ok = finite & np.all(np.isfinite(lam), axis=1) & (lam[:, -1] > MIN_EIGEN_RATIO * lam[:, 0])
    lam = np.where(ok[:, None], lam, 1.0)
    return lam, np.swapaxes(vt, 1, 2), ok


def orientation_center(problem: SensingProblem) -> np.ndarray:
    """The top right singular vector of W*: where the posterior's leading direction of Γ sits at large depth."""
    return np.linalg.svd(problem.W_star)[2][0]


def reorient(lam: np.ndarray, center: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A proposed eigenbasis V' (Z, p, p) of Γ, keeping Γ's eigenvalues λ (Z, p, decreasing): its leading vector
    (paired with λ_1) from the mixture ``Σ_κ ACG(I + (κ − 1) c cᵀ)/(1 + |ORIENT_SCALES|)`` on S^{p−1}, with
    κ = 1 (uniform, the defensive part) and κ = s λ_1/λ_2 for s in ORIENT_SCALES (the posterior's leading
    direction is spread over an angle ~ √(λ_2/λ_1) around c); the other columns a uniformly random basis of the
    complement. Returns V' and ``log q(v'_1)`` relative to the uniform law: for linear σ the prior's eigenbasis
    is Haar-distributed given the eigenvalues (right orthogonal invariance of the hidden product), so the weight
    factor ``exp(−log q)`` keeps the estimate exact."""
    Z, p = lam.shape
    ratio = lam[:, 0] / lam[:, 1]
    kappas = np.concatenate([np.ones((Z, 1)), np.maximum(1.0, np.outer(ratio, ORIENT_SCALES))], axis=1)
    kappa = kappas[np.arange(Z), rng.integers(kappas.shape[1], size=Z)]
    g = rng.standard_normal((Z, p))
    g += (np.sqrt(kappa) - 1.0)[:, None] * (g @ center)[:, None] * center  # N(0, I + (κ−1) c cᵀ)
    v1 = g / np.linalg.norm(g, axis=1, keepdims=True)
    cos2 = (v1 @ center) ** 2
    log_q = logsumexp(-0.5 * np.log(kappas) - p / 2 * np.log1p(-(1.0 - 1.0 / kappas) * cos2[:, None]),
                      axis=1) - np.log(kappas.shape[1])
    basis = np.linalg.qr(np.concatenate([v1[:, :, None], rng.standard_normal((Z, p, p - 1))], axis=2))[0]
    return basis, log_q


def quadratic_terms(geo: AngularGeometry, lam: np.ndarray, V: np.ndarray, Wv: np.ndarray, m: int):
    """``q(η) = ηᵀBη + 2bᵀη + c`` = ``vᵀPv`` at v = Wv + Qᵀη, P = I_m ⊗ Γ⁻¹, Γ⁻¹ = V diag(1/λ) Vᵀ (never
    formed): with Y_q = Q_q V Λ^{−1/2}, B_qr = ⟨Y_q, Y_r⟩, b_q = ⟨Y_q, Y_v⟩, c = ‖Y_v‖²."""
    mp = lam.shape[-1]
    scale = 1.0 / np.sqrt(lam)
    Y = np.einsum("qaj,zjl->zqal", geo.Q.reshape(geo.nb, m, mp), V) * scale[:, None, None, :]
    Yv = np.einsum("zaj,zjl->zal", Wv.reshape(len(Wv), m, mp), V) * scale[:, None, :]
    return np.einsum("zqal,zral->zqr", Y, Y), np.einsum("zqal,zal->zq", Y, Yv), np.sum(Yv * Yv, axis=(1, 2))


def quadratic_value(geo: AngularGeometry, lam: np.ndarray, V: np.ndarray, Wv: np.ndarray, eta: np.ndarray,
                    m: int) -> np.ndarray:
    """``q(η) = vᵀPv`` at v = Wv + Qᵀη as the squared norm ``‖(v as m × m') V Λ^{−1/2}‖²``: never negative. The
    expanded ``ηᵀBη + 2bᵀη + c`` cancels where q is smallest (deep nets: λ_min/λ_max ~ 1e-12), i.e. at the points
    of largest weight: it came out ≤ 0 (log warnings, weight 0) in a depth_theorem run at ε = 0, d ≤ 12."""
    mp = lam.shape[-1]
    v = (Wv + eta @ geo.Q).reshape(len(eta), m, mp)
    y = np.einsum("zaj,zjl->zal", v, V) / np.sqrt(lam)[:, None, :]
    return np.sum(y * y, axis=(1, 2))


def sphere_mode(B: np.ndarray, b: np.ndarray, iterations: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """argmin of ηᵀBη + 2bᵀη on the unit sphere (the trust-region subproblem): η = −(B − μI)⁻¹b with μ < λ_min(B)
    and ‖η‖ = 1, by bisection on μ; returns (η*, μ). In the hard case (b ⟂ the bottom eigenvector) the normalized
    η(μ → λ_min) is returned: only the proposal's centre, never the exactness, depends on it."""
    lam, E = np.linalg.eigh(B)
    cb = np.einsum("zqi,zq->zi", E, b)
    lo = lam[:, 0] - np.linalg.norm(cb, axis=1) - 1e-12 * (1 + np.abs(lam[:, 0]))
    hi = lam[:, 0].copy()
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        with np.errstate(divide="ignore"):
            norm2 = np.sum(cb ** 2 / (lam - mid[:, None]) ** 2, axis=1)
        big = norm2 > 1.0
        hi, lo = np.where(big, mid, hi), np.where(big, lo, mid)
    mu = lo
    eta = -np.einsum("zqi,zi->zq", E, cb / (lam - mu[:, None]))
    norm = np.linalg.norm(eta, axis=1, keepdims=True)
    eta = np.where(norm > 1e-300, eta / np.maximum(norm, 1e-300), E[:, :, 0])
    return eta, mu


def tangent_basis(eta: np.ndarray) -> np.ndarray:
    """An orthonormal basis (Z, p, p − 1) of η's tangent space (a Householder reflection taking e_p to η)."""
    Z, p = eta.shape
    sign = np.where(eta[:, -1] >= 0, 1.0, -1.0)
    u = eta * sign[:, None]
    u[:, -1] += 1.0
    H = np.eye(p) - 2.0 * u[:, :, None] * u[:, None, :] / np.sum(u * u, axis=1)[:, None, None]
    return H[:, :, :-1]


def log_t_density(x: np.ndarray, chol: np.ndarray, log_det: np.ndarray, dof: float) -> np.ndarray:
    """Centred multivariate t density of ``x = chol z / √(χ²_ν/ν)`` (``log_det = log |det chol|``)."""
    p = x.shape[1]
    z = np.linalg.solve(chol, x[..., None])[..., 0]
    return (gammaln((dof + p) / 2) - gammaln(dof / 2) - p / 2 * np.log(dof * np.pi) - log_det
            - (dof + p) / 2 * np.log1p(np.sum(z * z, axis=1) / dof))


class GnomonicT:
    """A Student-t law in the gnomonic chart ``η = (μ + T x)/√(1 + ‖x‖²)`` of the hemisphere around μ: density on
    the sphere ``t(x) (1 + ‖x‖²)^{p/2}`` at x = Tᵀη/(η·μ), zero on the other hemisphere."""

    def __init__(self, mode, T, chol, log_det):
        self.mode, self.T, self.chol, self.log_det = mode, T, chol, log_det

    def sample(self, rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
        count = int(rows.sum())
        x = np.einsum("zij,zj->zi", self.chol[rows], rng.standard_normal((count, self.T.shape[-1])))
        x /= np.sqrt(rng.chisquare(T_DOF, size=count) / T_DOF)[:, None]
        return self.mode[rows] + np.einsum("zij,zj->zi", self.T[rows], x)

    def log_density(self, eta: np.ndarray) -> np.ndarray:
        p = eta.shape[1]
        cos = np.sum(eta * self.mode, axis=1)
        front = cos > 1e-12
        x = np.einsum("zij,zi->zj", self.T, eta) / np.where(front, cos, 1.0)[:, None]
        return np.where(front, log_t_density(x, self.chol, self.log_det, T_DOF)
                        + p / 2 * np.log1p(np.sum(x * x, axis=1)), -np.inf)


def gnomonic_fit(eta: np.ndarray, Bq: np.ndarray, bq: np.ndarray, cq: np.ndarray, D: int, steps: int) -> GnomonicT:
    """Laplace fit of the η-target ``q(η)^{−D/2}`` (q = ηᵀBη + 2bᵀη + c) at η after ``steps`` Riemannian Newton
    steps on q: precision ``D (TᵀBT − μI)/q + p I`` in the chart (μ = ηᵀ(Bη + b), the Lagrange multiplier; the
    last term is the chart's Jacobian), eigenvalues clipped at p, scale inflated by T_INFLATE. A failed fit
    (rounding at extreme conditioning) gives an isotropic component: it costs efficiency, never exactness."""
    Z, p = eta.shape
    eye = np.eye(p - 1)
    for step in range(steps + 1):
        T = tangent_basis(eta)
        grad = np.einsum("zij,zj->zi", Bq, eta) + bq
        mu = np.sum(eta * grad, axis=1)
        curvature = np.swapaxes(T, 1, 2) @ Bq @ T - mu[:, None, None] * eye
        if step == steps:
            break
        lam, E = np.linalg.eigh(curvature)
        step_x = -np.einsum("zij,zj->zi", (E / np.maximum(lam, 1e-12 * np.abs(lam).max(axis=1, keepdims=True)
                                                           + 1e-300)[:, None, :]) @ np.swapaxes(E, 1, 2),
                            np.einsum("zij,zi->zj", T, grad))
        ok = np.all(lam > 0, axis=1) & np.all(np.isfinite(step_x), axis=1)
        step_x = np.where(ok[:, None], step_x, 0.0)
        eta = eta + np.einsum("zij,zj->zi", T, step_x)
        eta /= np.linalg.norm(eta, axis=1, keepdims=True)
    q = np.einsum("zi,zij,zj->z", eta, Bq, eta) + 2 * np.sum(bq * eta, axis=1) + cq
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = D * curvature / q[:, None, None] + p * eye
    bad = ~(np.all(np.isfinite(precision), axis=(1, 2)) & np.all(np.isfinite(eta), axis=1) & (q > 0))
    precision[bad] = p * eye
    eta[~np.all(np.isfinite(eta), axis=1)] = np.eye(p)[0]
    lam, E = np.linalg.eigh(0.5 * (precision + np.swapaxes(precision, 1, 2)))
    lam = np.maximum(lam, p)
    scale = T_INFLATE / np.sqrt(lam)
    return GnomonicT(eta, tangent_basis(eta), E * scale[:, None, :], np.sum(np.log(scale), axis=1))


def inner_draws(geo: AngularGeometry, problem: SensingProblem, U: np.ndarray, eps: float, inner: int,
                band: BandProposal | None, center: np.ndarray | None, rng: np.random.Generator):
    """Per hidden draw: log of the mean weight over ``inner`` points, the weighted mean L_gen and the mask of
    resolved spectra (module doc). ``center`` (linear σ only) switches the eigenbasis proposal on."""
    Bn, m = len(U), problem.shape[0]
    n, p, D = geo.n, geo.nb, geo.n + geo.nb
    lam, V, ok_gram = gram_spectrum(U)
    Z = Bn * inner
    lam, V = np.repeat(lam, inner, axis=0), np.repeat(V, inner, axis=0)
    log_w = np.zeros(Z)
    if center is not None:
        V, log_q_orient = reorient(lam, center, rng)
        log_w -= log_q_orient
    log_det_sigma = m * np.sum(np.log(lam), axis=1)
    if band is None:
        a = np.broadcast_to(geo.a0, (Z, n))
        inside = np.ones(Z, bool)
    else:
        a = band.sample(Z, rng)
        log_w -= band.log_density(a)
        inside = band.inside(a)
    rho2 = np.where(inside, 1.0 - np.sum(a * a, axis=1), 1.0)
    Wv = (a @ geo.R) / np.sqrt(rho2)[:, None]
    Bq, bq, cq = quadratic_terms(geo, lam, V, Wv, m)
    mode, _ = sphere_mode(Bq, bq)
    mode[~np.all(np.isfinite(mode), axis=1)] = np.eye(p)[0]
    # proposal: gnomonic Student t components around the global mode and around the stationary point reached from
    # its antipode (the trust-region problem has at most one other local minimum), or uniform on S^{p−1}
    fits = [gnomonic_fit(mode, Bq, bq, cq, D, 0), gnomonic_fit(-mode, Bq, bq, cq, D, LOCAL_STEPS)]
    pick = rng.choice(len(SHARES), size=Z, p=SHARES)
    eta = rng.standard_normal((Z, p))
    for j, fit in enumerate(fits):
        chosen = pick == j
        eta[chosen] = fit.sample(rng, chosen)
    eta /= np.linalg.norm(eta, axis=1, keepdims=True)
    log_sphere = np.log(2.0) + p / 2 * np.log(np.pi) - gammaln(p / 2)
    log_q_eta = logsumexp(np.stack([np.log(SHARES[0]) + fits[0].log_density(eta),
                                    np.log(SHARES[1]) + fits[1].log_density(eta),
                                    np.full(Z, np.log(SHARES[2]) - log_sphere)]), axis=0)
    q_eta = quadratic_value(geo, lam, V, Wv, eta, m)
    log_w += (geo.log_const_eta - (n + 2) / 2 * np.log(rho2) - 0.5 * log_det_sigma - D / 2 * np.log(q_eta)
              - log_q_eta)
    regular = np.repeat(ok_gram, inner)
    log_w = np.where(inside & regular & np.isfinite(log_w), log_w, -np.inf)
    gen = np.sum((np.sqrt(rho2)[:, None] * eta - geo.qw) ** 2, axis=1) / p
    log_w, gen = log_w.reshape(Bn, inner), gen.reshape(Bn, inner)
    log_mean = logsumexp(log_w, axis=1) - np.log(inner)
    alive = np.isfinite(log_mean)
    f = np.zeros(Bn)
    within = np.exp(log_w[alive] - log_mean[alive, None]) / inner
    f[alive] = np.sum(within * gen[alive], axis=1)
    return log_mean, f, ok_gram


def check_applicable(problem: SensingProblem, fact: Factorization, method: str) -> None:
    require_matching(problem, fact)
    require(fact.prior == "normalized" and fact.width >= fact.mp,
            f"{method} needs the normalized prior and k >= m' (prior {fact.prior!r}, k = {fact.width}, "
            f"m' = {fact.mp}); use method=nested or rejection")
    require(problem.b_size >= 1 and geometry(problem).a0_norm2 < 1.0,
            f"{method}: the measured part of W* has norm >= 1, so no unit-norm W fits the data exactly "
            "(S_0 is empty); use method=nested or rejection")


def check_inner(inner) -> None:
    require(isinstance(inner, (int, np.integer)) and inner >= 1, f"inner must be an integer >= 1, got {inner}")


def prior_gen_loss(problem: SensingProblem, U: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """L_gen of one exact prior draw ``M/‖M‖``, M = G U, per hidden root (for the chance level)."""
    m, mp = problem.shape
    M = rng.standard_normal((len(U), m, U.shape[1])) @ U
    return problem.gen_loss(M / np.linalg.norm(M, axis=(1, 2), keepdims=True))


def log_chi2(x: np.ndarray, dof: np.ndarray) -> np.ndarray:
    return (dof / 2 - 1) * np.log(x) - x / 2 - dof / 2 * np.log(2.0) - gammaln(dof / 2)


class TiltedBartlett:
    """An importance proposal for the hidden root of a linear factorization with Gaussian layers, k ≥ m' (this
    package's method). In the Bartlett form of the hidden chain (``numerics.factorization``: ``U = s_{d−1}T_{d−1}ᵀ
    ⋯ s_1T_1ᵀ``, T_j lower triangular, ``T_j,ii² ∼ χ²_{k−i}``, N(0, 1) below the diagonal) the proposal draws
    ``T_j,ii² ∼ c_{j,i} χ²_{ν_{j,i}}`` (c = 1, ν = k − i is the prior) with probability ``1 − DEFENSIVE`` and
    from the prior otherwise; ``sample`` returns U and ``log p(T) − log q(T)`` (exact density ratio of the
    diagonals; the off-diagonals have the same law under both). Deep posteriors sit on hidden products much
    closer to rank 1 than prior draws: tilting the diagonals moves the proposal there (fitted by
    :func:`adapt_proposal`)."""

    def __init__(self, fact: Factorization, nu: np.ndarray | None = None, c: np.ndarray | None = None):
        self.fact, self.k, self.p = fact, fact.width, fact.mp
        prior_dof = (self.k - np.arange(self.p)).astype(float)
        self.prior_dof = np.broadcast_to(prior_dof, (fact.depth - 1, self.p))
        self.nu = self.prior_dof.copy() if nu is None else nu
        self.c = np.ones_like(self.nu) if c is None else c

    def sample(self, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """U (batch, m', m'), log density ratio (batch,), and the diagonal squares x (batch, d − 1, m')."""
        layers, p = self.fact.depth - 1, self.p
        tilted = rng.uniform(size=(batch, 1, 1)) >= DEFENSIVE
        x_tilt = self.c * 2.0 * rng.standard_gamma(self.nu / 2.0, size=(batch, layers, p))
        x_prior = 2.0 * rng.standard_gamma(self.prior_dof / 2.0, size=(batch, layers, p))
        x = np.where(tilted, x_tilt, x_prior)
        log_p = np.sum(log_chi2(x, self.prior_dof), axis=(1, 2))
        log_t = np.sum(log_chi2(x / self.c, self.nu) - np.log(self.c), axis=(1, 2))
        log_q = np.logaddexp(np.log1p(-DEFENSIVE) + log_t, np.log(DEFENSIVE) + log_p)
        rows, cols = np.tril_indices(p, -1)
        stds = self.fact.layer_stds()
        U = None
        for j in range(layers):
            T = np.zeros((batch, p, p))
            T[:, rows, cols] = rng.standard_normal((batch, rows.size))
            T[:, np.arange(p), np.arange(p)] = np.sqrt(x[:, j])
            Tt = stds[j] * np.swapaxes(T, 1, 2)
            U = Tt if U is None else Tt @ U
        return U, log_p - log_q, x

    def fit(self, x: np.ndarray, log_w: np.ndarray) -> "TiltedBartlett":
        """Moment-matched (ν, c) of every diagonal from weighted draws (cross-entropy step); ν ≥ 0.5 and c > 0."""
        w = np.exp(log_w - np.max(log_w))
        w = w / w.sum()
        mean = np.einsum("b,bjp->jp", w, x)
        var = np.einsum("b,bjp->jp", w, (x - mean) ** 2)
        var = np.maximum(var, 1e-3 * mean ** 2)
        return TiltedBartlett(self.fact, nu=np.maximum(2 * mean ** 2 / var, 0.5), c=var / (2 * mean))


def tempering_exponent(log_z: np.ndarray, log_r: np.ndarray, target: float) -> float:
    """Largest β ≤ 1 with ESS of ``r · Z^β`` ≥ target × N (bisection): the next cross-entropy target."""
    def ess(beta):
        lw = log_r + beta * log_z
        lw = lw[np.isfinite(lw)]
        if lw.size == 0:
            return 0.0
        w = np.exp(lw - lw.max())
        return w.sum() ** 2 / (w @ w)

    goal = target * len(log_z)
    if ess(1.0) >= goal:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ess(mid) >= goal else (lo, mid)
    return lo


def adapt_proposal(geo, problem, fact, eps: float, inner: int, band, center, draws: int, rounds: int,
                   rng: np.random.Generator) -> tuple[TiltedBartlett, float]:
    """Cross-entropy fit of :class:`TiltedBartlett` to the posterior of the hidden root at ε: each round draws
    ``draws`` roots, tempers their weights to an ESS of 30% (exponent β, non-decreasing) and refits; stops after
    ``rounds`` or once β = 1 has been fitted twice. Uses its own generator: the final estimate's draws are
    independent of the fit, so the fitted proposal is a fixed proposal for them. Returns it and the last β."""
    proposal, beta, at_one = TiltedBartlett(fact), 0.0, 0
    for _ in range(rounds):
        U, log_r, x = proposal.sample(draws, rng)
        log_z, *_ = inner_draws(geo, problem, U, eps, inner, band, center, rng)
        if not np.any(np.isfinite(log_z)):
            break
        alive = np.isfinite(log_z) & np.isfinite(log_r)
        beta = max(beta, tempering_exponent(log_z[alive], log_r[alive], 0.3))
        proposal = proposal.fit(x[alive], log_r[alive] + beta * log_z[alive])
        at_one += beta >= 1.0
        if at_one >= 2:
            break
    return proposal, beta


def angular_is(problem: SensingProblem, fact: Factorization, eps, n_draws: int, rng: np.random.Generator, *,
               inner: int = 4, adapt_draws: int = 2000, adapt_rounds: int = 8, orient: bool = True,
               sampler: str = "auto",
               memory_bytes: int = DEFAULT_MEMORY_BYTES, workers: int = 1,
               on_chunk: Callable[[int], None] | None = None) -> list[GncEstimate]:
    """G&C estimates at every ε ≥ 0 of ``eps`` from ``n_draws`` hidden draws, ``inner`` band points each (module
    doc). Linear σ: the hidden draws come from a :class:`TiltedBartlett` proposal fitted per ε with
    ``adapt_rounds`` × ``adapt_draws`` pilot draws (``adapt_rounds=0``: prior draws); other σ: prior draws.
    ``p_accept`` is unbiased for ε > 0 and 0 at ε = 0; C comes from ``n_draws`` separate prior draws."""
    eps_list = thresholds(eps, "angular", zero_ok=True)
    check_applicable(problem, fact, "angular")
    check_inner(inner)
    require(isinstance(adapt_draws, (int, np.integer)) and adapt_draws >= 10,
            f"adapt_draws must be an integer >= 10, got {adapt_draws}")
    require(isinstance(adapt_rounds, (int, np.integer)) and adapt_rounds >= 0,
            f"adapt_rounds must be an integer >= 0, got {adapt_rounds}")
    sampler = fact.resolve_sampler(sampler)
    geo, D = geometry(problem), fact.m * fact.mp
    linear = fact.activation.name == "linear"
    center = orientation_center(problem) if linear and orient else None
    per_draw = fact.bytes_per_draw(sampler) + 8 * 12 * inner * (geo.nb * D + geo.nb ** 2)
    chunk = chunk_size(memory_bytes, workers, per_draw)
    bands = [None if e == 0 else BandProposal(geo, problem, e) for e in eps_list]
    adapt_rng, rng = rng.spawn(2)
    proposals, betas = [], []
    for e, band, gen in zip(eps_list, bands, adapt_rng.spawn(len(eps_list))):
        if linear and adapt_rounds > 0:
            proposal, beta = adapt_proposal(geo, problem, fact, e, inner, band, center, adapt_draws, adapt_rounds,
                                            gen)
        else:
            proposal, beta = None, float("nan")
        proposals.append(proposal)
        betas.append(beta)

    class State:
        def __init__(self):
            self.chance, self.posterior = RunningMoments(), [WeightedMoments() for _ in eps_list]
            self.singular = [0] * len(eps_list)

        def step(self, b, gen_rng):
            U_prior = hidden_root(fact, b, gen_rng, sampler)
            self.chance.update(prior_gen_loss(problem, U_prior, gen_rng))
            for i, (band, post, proposal) in enumerate(zip(bands, self.posterior, proposals)):
                U, log_r = (U_prior, 0.0) if proposal is None else proposal.sample(b, gen_rng)[:2]
                log_z, f, ok = inner_draws(geo, problem, U, eps_list[i], inner, band, center, gen_rng)
                post.update(log_z + log_r, f)
                self.singular[i] += int(np.sum(~ok))

        def merge(self, other):
            self.chance.merge(other.chance)
            self.singular = [a + b for a, b in zip(self.singular, other.singular)]
            for post, o in zip(self.posterior, other.posterior):
                post.merge(o)

    state = stream_draws(State, n_draws, chunk, rng, workers, on_chunk)
    out = []
    for e, post, proposal, beta, singular in zip(eps_list, state.posterior, proposals, betas, state.singular):
        note = f"angular: {n_draws} hidden draws x {inner} band points, " + (
            "prior hidden draws" if proposal is None else
            f"tilted Bartlett proposal ({adapt_rounds} x {adapt_draws} pilot draws, final beta {beta:.3g})")
        if singular:
            note += f"; spectrum of Gamma not resolved in float64 (weight 0) at {singular} draws"
        p, p_se = post.mean_weight() if e > 0 else (0.0, 0.0)
        out.append(GncEstimate(eps=e, G=post.mean, G_se=post.se, C=state.chance.value, C_se=state.chance.se,
                               p_accept=p, n_accepted=-1, n_draws=n_draws, method="angular", ess=post.ess,
                               note=note, p_se=p_se, se_dof=max(post.ess - 1, 0.0)))
    return out


class AngularWeight:
    """``(log ŵ, f, chance)`` for a batch of hidden latents z: this module's unbiased per-draw weight estimate
    (``inner`` fresh band points) for ``numerics.smc.tempered_run``; ``singular`` counts singular Γ."""

    def __init__(self, problem: SensingProblem, fact: Factorization, eps: float, inner: int):
        self.problem, self.fact, self.eps, self.inner = problem, fact, eps, int(inner)
        self.geo = geometry(problem)
        self.center = None  # the latent moves carry the eigenbasis: at posterior draws its own is the good one
        self.band = None if eps == 0 else BandProposal(self.geo, problem, eps)
        self.singular = 0

    def __call__(self, z: np.ndarray, rng: np.random.Generator):
        U = hidden_root_from_latent(self.fact, z)
        log_w, f, ok = inner_draws(self.geo, self.problem, U, self.eps, self.inner, self.band, self.center, rng)
        self.singular += int(np.sum(~ok))
        return log_w, f, prior_gen_loss(self.problem, U, rng)


def angular_smc(problem: SensingProblem, fact: Factorization, eps, rng: np.random.Generator, *,
                particles: int = 1000, moves: int = 20, replicates: int = 4, inner: int = 4,
                target_ess: float = 0.5, accept_target: float = 0.3, max_stages: int = 1000,
                workers: int = 1) -> list[GncEstimate]:
    """G&C estimates at every ε ≥ 0 by tempered SMC over the hidden layers with the angular weight (module doc);
    ``replicates`` independent runs per ε give G_se (``se_dof`` = R − 1)."""
    eps_list = thresholds(eps, "angular_smc", zero_ok=True)
    check_applicable(problem, fact, "angular_smc")
    check_inner(inner)
    return tempered_over_latent(lambda e: AngularWeight(problem, fact, e, inner), hidden_latent_dim(fact), eps_list,
                                rng, particles=particles, moves=moves, replicates=replicates, target_ess=target_ess,
                                accept_target=accept_target, max_stages=max_stages, workers=workers,
                                method="angular_smc")
