"""Restricted isometry of matrix-sensing operators: measurement ensembles, the normalized operator 𝒜, δ_r.

Context (Alexander, Slutzky, Ran-Milo, Cohen 2025, arXiv 2506.03931, Theorem 2): the depth theorem assumes
measurements satisfying the restricted isometry property (RIP). The paper's claim is qualitative; the
operator normalization, the bound it feeds (``theory.depth_theorem.rip_bound``) and everything below are
this package's formalization (spec ``gnc_matrix_factorization.md`` §4).

- Ensembles: ``gaussian`` (i.i.d. N(0, 1) entries), ``normalized`` (the same, each A_i rescaled to unit
  Frobenius norm: the paper's), ``completion`` (n distinct one-hot matrices; never RIP: a one-hot matrix on
  an unobserved entry is rank 1 and invisible).
- Normalized operator ``𝒜(X) = c (⟨A_i, X⟩)_i`` with ``c² = m m' / Σ_i ‖A_i‖_F²``, so that the average of
  ``‖𝒜X‖²`` over unit X is 1 (``tr 𝒜ᵀ𝒜 = m m'``); for unit-norm A_i this is the spec's ``c = √(m m'/n)``,
  and ``L_train(W) = ‖𝒜(W − W*)‖² / (c² n)`` always.
- Restricted isometry constant of order r: ``δ_r = sup |‖𝒜X‖² − 1|`` over unit-Frobenius X of rank ≤ r,
  i.e. ``max(1 − λ_low, λ_high − 1)`` with ``λ_low = inf ‖𝒜X‖²`` and ``λ_high = sup ‖𝒜X‖²``. The one-sided
  ``δ_r⁻ = 1 − λ_low`` is all the RIP bound of the depth theorem uses.

Estimation. Computing δ_r is NP-hard in general. :func:`isometry_constants` therefore returns an
**interval** that is certified on both ends:
- the optimizer (alternating exact eigenvector steps over X = U Vᵀ, U m×r, V m'×r, from random restarts;
  each step cannot worsen the Rayleigh quotient) finds witnesses X of rank ≤ r; their recomputed values
  ``‖𝒜X‖²/‖X‖²`` bound λ_low from above and λ_high from below, hence give a **lower bound** on δ_r (up to
  float rounding, ~1e-15 relative);
- the upper end is the trivial certified bound from the unrestricted spectrum (``σ_min(𝒜)² ≤ λ_low``,
  ``λ_high ≤ σ_max(𝒜)²``), uninformative as soon as n < m m';
- exact values (intervals of width ≤ ``tol``) where the problem is small enough to solve: r ≥ min(m, m')
  (every matrix qualifies: the spectrum of 𝒜ᵀ𝒜) and r = 1 with min(m, m') = 2 (a one-parameter family
  X = u(t) vᵀ: a grid over t with a Weyl/Lipschitz bound certifies the extreme eigenvalues to ``tol``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from numerics.problems import completion_measurements, gaussian_measurements
from numerics.errors import require
from theory.depth_theorem import operator_scale

ENSEMBLES = ("gaussian", "normalized", "completion")


def measurement_ensemble(kind: str, n: int, m: int, mp: int, rng: np.random.Generator) -> np.ndarray:
    """n measurement matrices (n, m, m') from the named ensemble."""
    require(kind in ENSEMBLES, f"unknown measurement ensemble {kind!r}; known: {', '.join(ENSEMBLES)}")
    require(n >= 1 and m >= 1 and mp >= 1, f"n, m, m' must be positive, got {n}, {m}, {mp}")
    if kind == "gaussian":
        return rng.standard_normal((n, m, mp))
    if kind == "normalized":
        return gaussian_measurements(n, m, mp, rng)
    require(n <= m * mp, f"completion needs n <= m m' = {m * mp} distinct entries, got {n}")
    return completion_measurements(n, m, mp, rng)


def normalized_operator(A: np.ndarray) -> np.ndarray:
    """The matrix (n, m m') of 𝒜 (row-major vec): ``c · [vec A_1; …; vec A_n]``."""
    A = np.asarray(A, dtype=float)
    return operator_scale(A) * A.reshape(A.shape[0], -1)


def rank_variety_dimension(m: int, mp: int, r: int) -> int:
    """Dimension r(m + m' − r) of the m×m' matrices of rank ≤ r.

    By a dimension count, for n < r(m + m' − r) the null space of 𝒜 generically meets the (complex) rank-r
    variety, so λ_low = 0 and δ_r ≥ 1 are expected there; the optimizer shows it on real matrices.
    """
    r = min(r, m, mp)
    return r * (m + mp - r)


@dataclass(frozen=True)
class IsometryEstimate:
    """Certified bracket of the restricted extreme values of ‖𝒜X‖² over unit X of rank ≤ ``rank``.

    ``low`` and ``high`` are values attained at the witnesses (recomputed from them); ``low_floor`` ≤ λ_low
    and ``high_ceiling`` ≥ λ_high are certified bounds on the other side. ``exact`` is True when both
    brackets are narrower than the requested tolerance.
    """
    rank: int
    n: int
    shape: tuple[int, int]
    low: float
    high: float
    low_floor: float
    high_ceiling: float
    exact: bool
    method: str
    witness_low: np.ndarray = field(repr=False)
    witness_high: np.ndarray = field(repr=False)

    @property
    def delta_lower(self) -> float:
        """Certified lower bound on the two-sided δ_r."""
        return max(1.0 - self.low, self.high - 1.0)

    @property
    def delta_upper(self) -> float:
        """Certified upper bound on the two-sided δ_r (trivial unless ``exact`` or n ≥ m m')."""
        return max(1.0 - self.low_floor, self.high_ceiling - 1.0)

    @property
    def delta_minus_lower(self) -> float:
        """Certified lower bound on the one-sided δ_r⁻ = 1 − λ_low."""
        return 1.0 - self.low

    @property
    def delta_minus_upper(self) -> float:
        return 1.0 - self.low_floor

    def statement(self) -> str:
        what = "exact (certified bracket)" if self.exact else "LOWER BOUND only (witnesses found by an optimizer)"
        return (f"delta_{self.rank} in [{self.delta_lower:.4g}, {self.delta_upper:.4g}], {what}; "
                f"one-sided delta_{self.rank}^- in [{self.delta_minus_lower:.4g}, {self.delta_minus_upper:.4g}]; "
                f"method: {self.method}")

    def as_dict(self) -> dict:
        return {"rank": self.rank, "n": self.n, "low": self.low, "high": self.high, "low_floor": self.low_floor,
                "high_ceiling": self.high_ceiling, "exact": self.exact, "method": self.method,
                "delta_lower": self.delta_lower, "delta_upper": self.delta_upper,
                "delta_minus_lower": self.delta_minus_lower, "delta_minus_upper": self.delta_minus_upper}


def quotient(op: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``‖𝒜X‖² / ‖X‖_F²`` for a batch X (..., m, m'), with 𝒜 the matrix ``op`` (n, m m')."""
    x = np.asarray(X, dtype=float).reshape(*np.shape(X)[:-2], -1)
    return np.sum((x @ op.T) ** 2, axis=-1) / np.sum(x ** 2, axis=-1)


def isometry_constants(A: np.ndarray, rank: int, rng: np.random.Generator | None = None, *,
                       restarts: int = 24, max_iter: int = 400, tol: float = 1e-6,
                       exact: str = "auto", candidates: np.ndarray | None = None) -> IsometryEstimate:
    """Bracket λ_low, λ_high (and so δ_r) of the normalized operator of the measurements ``A`` (n, m, m').

    ``exact="auto"`` solves exactly where possible (see the module doc) and optimizes otherwise;
    ``exact="never"`` always runs the optimizer (it needs ``rng``). ``tol`` is the width of exact brackets.
    ``candidates`` (c, m, m'): extra witnesses of rank ≤ ``rank`` (e.g. a suspected null direction) that the
    optimizer's result is compared with; each is a real matrix, so the bounds stay certified.
    """
    A = np.asarray(A, dtype=float)
    require(A.ndim == 3 and A.shape[0] >= 1, "A must be an array of shape (n, m, m')")
    require(np.sum(A ** 2) > 0, "the measurements are all zero")
    require(isinstance(rank, (int, np.integer)) and rank >= 1, f"rank must be a positive integer, got {rank}")
    require(exact in ("auto", "never"), f"exact must be 'auto' or 'never', got {exact!r}")
    n, m, mp = A.shape
    op = normalized_operator(A)
    spectrum = np.linalg.eigvalsh(op.T @ op)
    floor = float(spectrum[0]) if n >= m * mp else 0.0
    ceiling = float(spectrum[-1])
    if exact == "auto" and rank >= min(m, mp):
        return _unrestricted(op, rank, (m, mp), n)
    if exact == "auto" and rank == 1 and min(m, mp) == 2:
        return _circle_grid(A, op, (m, mp), tol)
    require(rng is not None, "the optimizer needs an rng")
    require(restarts >= 1 and max_iter >= 1, "restarts and max_iter must be >= 1")
    low_X = _alternating_extreme(A, op, rank, restarts, max_iter, rng, lowest=True)
    high_X = _alternating_extreme(A, op, rank, restarts, max_iter, rng, lowest=False)
    if candidates is not None:
        cands = np.asarray(candidates, dtype=float).reshape(-1, m, mp)
        require(np.all(np.linalg.matrix_rank(cands, tol=1e-10) <= rank),
                f"candidates must have rank <= {rank}")
        q = quotient(op, cands)
        if q.min() < quotient(op, low_X):
            low_X = cands[int(np.argmin(q))] / np.linalg.norm(cands[int(np.argmin(q))])
        if q.max() > quotient(op, high_X):
            high_X = cands[int(np.argmax(q))] / np.linalg.norm(cands[int(np.argmax(q))])
    return IsometryEstimate(rank=int(rank), n=n, shape=(m, mp), low=float(quotient(op, low_X)),
                            high=float(quotient(op, high_X)), low_floor=floor, high_ceiling=ceiling, exact=False,
                            method=f"alternating eigenvector steps on X = U V^T, {restarts} restarts",
                            witness_low=low_X, witness_high=high_X)


def _unrestricted(op, rank, shape, n) -> IsometryEstimate:
    """r ≥ min(m, m'): every matrix has rank ≤ r, so λ_low, λ_high are the extreme eigenvalues of 𝒜ᵀ𝒜."""
    values, vectors = np.linalg.eigh(op.T @ op)
    low_X, high_X = vectors[:, 0].reshape(shape), vectors[:, -1].reshape(shape)
    low, high = float(quotient(op, low_X)), float(quotient(op, high_X))
    margin = 1e-12 * values[-1]  # eigenvalue rounding
    return IsometryEstimate(rank=int(rank), n=n, shape=shape, low=low, high=high,
                            low_floor=max(0.0, min(low, values[0]) - margin),
                            high_ceiling=max(high, values[-1]) + margin, exact=True,
                            method="spectrum of A^T A (rank >= min(m, m'): no restriction)",
                            witness_low=low_X, witness_high=high_X)


def _circle_grid(A, op, shape, tol) -> IsometryEstimate:
    """r = 1, min(m, m') = 2: X = u(t) vᵀ, u(t) = (cos t, sin t) on the side of size 2, t ∈ [0, π).

    ``min_v ‖𝒜(u vᵀ)‖²`` is the smallest eigenvalue of ``M(t) = C0 + C1 cos 2t + C2 sin 2t`` (the Gram of the
    vectors c A_iᵀ u). By Weyl's inequality the extreme eigenvalues are Lipschitz in t with constant
    ``L = 2 √(‖C1‖² + ‖C2‖²)``, so an interval of width h around a sampled t is bracketed to ``L h / 2``:
    a one-dimensional branch and bound refines only the intervals that could still hold the optimum.
    """
    transpose = shape[0] != 2
    B = np.swapaxes(A, 1, 2) if transpose else A  # B_i is 2 × p
    rows = operator_scale(A) * B  # (n, 2, p)
    M = np.einsum("nap,nbq->abpq", rows, rows)  # M[a, b] = Σ_i (c B_i^T e_a)(c B_i^T e_b)^T
    C0, C1, C2 = (M[0, 0] + M[1, 1]) / 2, (M[0, 0] - M[1, 1]) / 2, (M[0, 1] + M[1, 0]) / 2
    lipschitz = 2.0 * np.hypot(np.linalg.norm(C1, 2), np.linalg.norm(C2, 2))
    ceiling = float(np.linalg.eigvalsh(op.T @ op)[-1])  # λ_max(M(t)) ≤ σ_max(𝒜)²

    def eig(t):
        return np.linalg.eigh(C0 + np.cos(2 * t)[:, None, None] * C1 + np.sin(2 * t)[:, None, None] * C2)

    def witness(t, v):
        X = np.outer([np.cos(t), np.sin(t)], v)
        return X.T if transpose else X

    out = []
    for sign, col in ((1.0, 0), (-1.0, -1)):  # minimize λ_min; maximize λ_max (= minimize −λ_max)
        t_best, f_best, slack = _branch_and_bound(lambda t, col=col, sign=sign: sign * eig(t)[0][:, col],
                                                   lipschitz, np.pi, tol, floor=0.0 if sign > 0 else -ceiling)
        v = eig(np.array([t_best]))[1][0, :, col]
        out.append((witness(t_best, v), slack))
    (low_X, low_slack), (high_X, high_slack) = out
    low, high = float(quotient(op, low_X)), float(quotient(op, high_X))
    return IsometryEstimate(rank=1, n=A.shape[0], shape=shape, low=low, high=high,
                            low_floor=max(0.0, low - low_slack - 1e-12), high_ceiling=high + high_slack + 1e-12,
                            exact=bool(max(low_slack, high_slack) <= tol),
                            method="certified 1-d branch and bound over u(t) (Weyl/Lipschitz bracket)",
                            witness_low=low_X, witness_high=high_X)


def _branch_and_bound(f, lipschitz: float, period: float, tol: float, *, floor: float = -np.inf,
                      max_rounds: int = 60, max_intervals: int = 200_000):
    """Minimize an L-Lipschitz f ≥ ``floor`` over [0, period): returns (t, f(t), gap) with min f ≥ f(t) − gap.

    The gap is ≤ ``tol`` unless the interval budget ran out (a flat f with no ``floor`` to stop at).
    Intervals of width h are represented by their centres c with the certified lower bound f(c) − L h/2;
    those that cannot beat the best value found by more than ``tol`` are dropped (so their minimum is
    certified to ``tol``), the others split in 4.
    """
    h = period / 512
    centres = (np.arange(512) + 0.5) * h
    t_best, f_best = None, np.inf
    for _ in range(max_rounds):
        values = f(centres)
        i = int(np.argmin(values))
        if values[i] < f_best:
            t_best, f_best = float(centres[i]), float(values[i])
        bounds = values - lipschitz * h / 2
        gap = f_best - max(float(np.min(bounds)), floor)
        if gap <= tol:  # intervals dropped earlier are certified only to tol
            return t_best, f_best, tol
        keep = centres[bounds < f_best - tol]
        if 4 * keep.size > max_intervals:
            break
        h /= 4
        centres = (keep[:, None] + h * np.array([-1.5, -0.5, 0.5, 1.5])).reshape(-1)
    return t_best, f_best, max(gap, tol)


def _alternating_extreme(A, op, rank, restarts, max_iter, rng, *, lowest: bool) -> np.ndarray:
    """The best witness X = U Vᵀ (unit norm) found by alternating exact block steps from random starts.

    With U orthonormal, ‖U Vᵀ‖_F = ‖V‖_F and ``‖𝒜(U Vᵀ)‖²`` is a quadratic form in vec V, so the best V is
    an extreme eigenvector (and symmetrically for U): each half-step is optimal, the quotient is monotone.
    """
    n, m, mp = A.shape
    r = min(rank, m, mp)
    c = operator_scale(A)
    pick = 0 if lowest else -1
    U = np.linalg.qr(rng.standard_normal((restarts, m, r)))[0]
    V = rng.standard_normal((restarts, mp, r))
    previous = np.full(restarts, np.nan)
    for _ in range(max_iter):
        # V-step: <A_i, U V^T> = <A_i^T U, V>
        rows = c * np.einsum("nab,Rar->Rnbr", A, U).reshape(restarts, n, mp * r)
        values, vectors = np.linalg.eigh(np.swapaxes(rows, 1, 2) @ rows)
        V = vectors[:, :, pick].reshape(restarts, mp, r)
        Q, R = np.linalg.qr(V)
        U, V = U @ np.swapaxes(R, 1, 2), Q
        # U-step: <A_i, U V^T> = <A_i V, U>
        rows = c * np.einsum("nab,Rbr->Rnar", A, V).reshape(restarts, n, m * r)
        values, vectors = np.linalg.eigh(np.swapaxes(rows, 1, 2) @ rows)
        U = vectors[:, :, pick].reshape(restarts, m, r)
        Q, R = np.linalg.qr(U)
        U, V = Q, V @ np.swapaxes(R, 1, 2)
        current = values[:, pick]
        if np.all(np.abs(current - previous) <= 1e-13 * np.maximum(1.0, np.abs(current))):
            break
        previous = current
    X = U @ np.swapaxes(V, 1, 2)
    q = quotient(op, X)
    best = int(np.argmin(q) if lowest else np.argmax(q))
    return X[best] / np.linalg.norm(X[best])


@dataclass(frozen=True)
class RipStudyRow:
    """δ_r estimates of ``draws`` independent operators with n measurements (one entry per operator)."""
    n: int
    delta_lower: np.ndarray
    delta_minus_lower: np.ndarray
    delta_upper: np.ndarray
    exact: bool

    def as_dict(self) -> dict:
        return {"n": self.n, "delta_lower": self.delta_lower.tolist(),
                "delta_minus_lower": self.delta_minus_lower.tolist(), "delta_upper": self.delta_upper.tolist(),
                "exact": self.exact}


def rip_versus_measurements(ns, m: int, mp: int, rank: int, rng: np.random.Generator, *,
                            ensemble: str = "normalized", draws: int = 4, restarts: int = 16,
                            max_iter: int = 300) -> list[RipStudyRow]:
    """Estimated δ_r against the number of measurements n (``draws`` operators per n).

    Shows where RIP starts to hold: the lower bound on δ_r⁻ leaves 1 near n = r(m + m' − r) (the dimension
    count of :func:`rank_variety_dimension`); the two-sided δ_r needs more measurements.
    """
    require(draws >= 1, f"draws must be >= 1, got {draws}")
    rows = []
    for n in ns:
        ests = [isometry_constants(measurement_ensemble(ensemble, int(n), m, mp, rng), rank, rng,
                                   restarts=restarts, max_iter=max_iter) for _ in range(draws)]
        rows.append(RipStudyRow(n=int(n), delta_lower=np.array([e.delta_lower for e in ests]),
                                delta_minus_lower=np.array([e.delta_minus_lower for e in ests]),
                                delta_upper=np.array([e.delta_upper for e in ests]),
                                exact=all(e.exact for e in ests)))
    return rows


def planted_null_measurements(A: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The measurements ``A`` (n, m, m') made blind to the direction X (a planted RIP violation).

    Each A_i loses its component along X (``A_i − ⟨A_i, X̂⟩X̂``, X̂ = X/‖X‖_F) and is rescaled to its original
    Frobenius norm, so ``𝒜X = 0``: when X has rank ≤ 2, λ_low = 0 and δ_2 ≥ 1 for the order-2 RIP, whatever n.
    With ``X = W' − W*`` for a second unit rank-1 matrix W' (:func:`planted_rip_violation`), W' fits the data
    exactly (L_train(W') = 0) but sits at a fixed distance from W*: the RIP bound's hypothesis fails and its
    conclusion with it.
    """
    A = np.asarray(A, dtype=float)
    X = np.asarray(X, dtype=float)
    require(A.ndim == 3 and X.shape == A.shape[1:], f"X must have the measurements' shape {A.shape[1:]}")
    require(np.linalg.norm(X) > 0, "the planted null direction X is zero")
    Xh = X / np.linalg.norm(X)
    norms = np.linalg.norm(A, axis=(1, 2), keepdims=True)
    B = A - np.einsum("nij,ij->n", A, Xh)[:, None, None] * Xh
    return B * norms / np.linalg.norm(B, axis=(1, 2), keepdims=True)


def planted_rip_violation(W_star: np.ndarray, n: int, rng: np.random.Generator, *,
                          ensemble: str = "normalized") -> tuple[np.ndarray, np.ndarray]:
    """Measurements (n, m, m') from ``ensemble`` with the rank-2 null direction ``X = W' − W*`` planted
    (:func:`planted_null_measurements`), W' a fresh unit rank-1 matrix ``u vᵀ`` (u, v uniform on the spheres).
    Returns (A, W'); the order-2 restricted eigenvalue of A is 0, witnessed by X."""
    W_star = np.asarray(W_star, dtype=float)
    m, mp = W_star.shape
    u, v = rng.standard_normal(m), rng.standard_normal(mp)
    W_other = np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v))
    A = measurement_ensemble(ensemble, n, m, mp, rng)
    return planted_null_measurements(A, W_other - W_star), W_other
