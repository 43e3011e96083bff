"""Simulators for diagonal linear networks: plain gradient descent and gradient flow
on the parameters, in float64, for three models with several data points:

- ``shared``: ``β = w ⊙ w`` (the toy model of Fojtik et al. 2025, β ≥ 0);
- ``signed``: ``β = w₊² − w₋²`` (Woodworth et al. 2020);
- ``uv``: ``β = u ⊙ v`` (Even et al. 2023).

The loss is ``L = (κ/2) ‖Xβ − y‖²`` with κ from :func:`theory.diagonal_networks.loss_factor` (the loss
normalization). These engines step the *parameters* with ``∇L`` and never use the closed forms of
``theory.diagonal_networks``, so they are independent oracles for them. GD runs are batched over learning
rates and classified (:data:`OUTCOMES`); Hessians by torch autograd and by finite differences of the
gradient serve as cross-checks of the Hessian formula.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from theory.diagonal_networks import as_design, loss_factor

OUTCOMES = ("converged", "2-cycle", "oscillating", "diverged", "unresolved")
CONVERGED_TOL = 1e-12  # |r| < 1e-12 · max|y|: converged
DIVERGED_AT = 1e8  # |r| > 1e8 · max|y| or non-finite: diverged
PERIOD_TOL = 1e-10  # β_k and β_{k−p} agree to 1e-10 · max|β| over a window: period p
PERIODS = (2, 4, 8, 16)


# ----------------------------------------------------------------------------------------------------
# Models: β(params) and ∇_params L from G = ∇_β L (arrays of shape (m, d): one row per learning rate)
# ----------------------------------------------------------------------------------------------------
class Shared:
    name, n_params = "shared", 1

    @staticmethod
    def beta(p):
        return p[0] * p[0]

    @staticmethod
    def grads(p, G):
        return [2.0 * p[0] * G]


class Signed:
    name, n_params = "signed", 2

    @staticmethod
    def beta(p):
        return p[0] * p[0] - p[1] * p[1]

    @staticmethod
    def grads(p, G):
        return [2.0 * p[0] * G, -2.0 * p[1] * G]


class UV:
    name, n_params = "uv", 2

    @staticmethod
    def beta(p):
        return p[0] * p[1]

    @staticmethod
    def grads(p, G):
        return [p[1] * G, p[0] * G]


MODELS = {m.name: m for m in (Shared, Signed, UV)}


def _model(name):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name]


def loss_and_grads(model: str, params, X, y, loss_scale: str = "half"):
    """``L`` and ``∇_params L`` for one parameter set (a list of (d,) arrays)."""
    M, X = _model(model), as_design(X)
    kappa = loss_factor(loss_scale, X.shape[0])
    p = [np.asarray(a, float) for a in params]
    r = X @ M.beta(p) - np.atleast_1d(y)
    return 0.5 * kappa * float(r @ r), M.grads(p, kappa * (r @ X))


# ----------------------------------------------------------------------------------------------------
# Gradient descent, batched over learning rates
# ----------------------------------------------------------------------------------------------------
@dataclass
class GDRun:
    eta: float
    outcome: str  # one of OUTCOMES
    iterations: int  # steps taken before the outcome was decided
    params: list  # final parameters
    beta: np.ndarray  # final β
    residuals: np.ndarray  # (iterations + 1, n): r_k before step k; the last row is the final residual
    period: int | None = None

    @property
    def converged(self) -> bool:
        return self.outcome == "converged"


def gradient_descent(model: str, X, y, params0, etas, *, loss_scale: str = "half", max_iter: int = 20000,
                     check_every: int = 256, record: bool = True) -> list[GDRun]:
    """Run ``params ← params − η ∇L(params)`` for every η in ``etas`` (vectorized) from ``params0``.

    Classification of each run: ``converged`` once ``max|r| < 1e-12 max|y|``; ``diverged`` once ``r`` is
    non-finite or ``max|r| > 1e8 max|y|``; ``2-cycle`` (or ``oscillating`` with period 4, 8, 16) when every
    iterate of the last 32 equals the one p steps earlier to ``1e-10 max|β|``, the residual stays away
    from 0 and its envelope has stopped changing (checked every ``check_every`` steps and at the end); at
    ``max_iter``, a bounded run that is not periodic is ``oscillating`` (aperiodic) if its residual envelope
    over the last quarter of the budget is at least half that of the quarter before, else ``unresolved``
    (still converging: raise ``max_iter``). Finished runs are frozen. ``record`` keeps each run's residuals
    up to its outcome (memory grows with the iterations of the runs, not with ``len(etas) · max_iter``).
    """
    M, X = _model(model), as_design(X)
    y = np.atleast_1d(np.asarray(y, float))
    kappa = loss_factor(loss_scale, X.shape[0])
    etas = np.atleast_1d(np.asarray(etas, float))
    m = etas.size
    scale = float(np.max(np.abs(y))) or 1.0
    P = [np.tile(np.asarray(p, float), (m, 1)) for p in params0]
    window = 2 * max(PERIODS)
    ring = np.zeros((window, m, X.shape[1]))  # the last iterates β
    rmax_ring = np.zeros((window + check_every, m))  # the last max|r|
    quarter = max(max_iter // 4, 1)
    env_early, env_late = np.zeros(m), np.zeros(m)  # max|r| over the last two quarters of the budget
    log = _ResidualLog(m, check_every) if record else None
    active = np.ones(m, bool)
    outcome = np.array(["unresolved"] * m, dtype=object)
    stop = np.full(m, max_iter)
    period = [None] * m

    def finish(mask, label, k):
        idx = np.where(mask & active)[0]
        outcome[idx], stop[idx] = label, k
        active[idx] = False

    for k in range(max_iter + 1):
        B = M.beta(P)
        with np.errstate(invalid="ignore", over="ignore"):
            R = B @ X.T - y
            rmax = np.max(np.abs(R), axis=1)
        if record:
            log.add(R, active)
        rmax_ring[k % rmax_ring.shape[0]] = rmax
        ring[k % window] = B
        if k > max_iter - 2 * quarter:
            target = env_early if k <= max_iter - quarter else env_late
            np.maximum(target, rmax, out=target)
        finish(~np.isfinite(rmax) | (rmax > DIVERGED_AT * scale), "diverged", k)
        finish(rmax < CONVERGED_TOL * scale, "converged", k)
        if k >= window + check_every and (k % check_every == 0 or k == max_iter):
            idx = [(k - j) % rmax_ring.shape[0] for j in range(window + check_every)]
            recent, earlier = rmax_ring[idx[:window]], rmax_ring[idx[check_every:]]
            for i, p in _periodic(ring, k, window, recent, earlier, scale, active):
                period[i] = p
                finish(np.arange(m) == i, "2-cycle" if p == 2 else "oscillating", k)
        if k == max_iter or not active.any():
            break
        with np.errstate(invalid="ignore", over="ignore"):
            G = kappa * (R @ X)
            steps = M.grads(P, G)
        P = [np.where(active[:, None], p - etas[:, None] * g, p) for p, g in zip(P, steps)]

    for i in np.where(active)[0]:  # bounded, not periodic, budget exhausted
        outcome[i] = "unresolved" if env_late[i] < 0.5 * env_early[i] else "oscillating"
    histories = log.per_run(stop) if record else [np.empty((0, X.shape[0]))] * m
    return [GDRun(eta=float(etas[i]), outcome=str(outcome[i]), iterations=int(stop[i]),
                  params=[p[i].copy() for p in P], beta=M.beta([p[i] for p in P]), residuals=histories[i],
                  period=period[i]) for i in range(m)]


class _ResidualLog:
    """Residuals r_k of each run up to its outcome, flushed per chunk so finished runs stop costing memory."""

    def __init__(self, m: int, chunk: int):
        self.rows = [[] for _ in range(m)]
        self.chunk, self.size, self.buffer = chunk, 0, []
        self.live = np.ones(m, bool)  # runs active at the start of the current chunk

    def add(self, R, active):
        self.buffer.append(R)
        if len(self.buffer) == self.chunk:
            self._flush()
            self.live = active.copy()

    def _flush(self):
        if self.buffer:
            block = np.stack(self.buffer)
            for i in np.where(self.live)[0]:
                self.rows[i].append(block[:, i])
            self.buffer = []

    def per_run(self, stop):
        self._flush()
        return [np.concatenate(r)[:stop[i] + 1] for i, r in enumerate(self.rows)]


def _periodic(ring, k, window, recent, earlier, scale, active):
    """Yield (row, smallest period) for active rows whose last 32 iterates repeat with a period in PERIODS
    while the residual stays away from 0 and its envelope (max over the window) has settled to 1e-6
    relative since the previous check, which tells a cycle from a slow, oscillating convergence."""
    order = [(k - j) % window for j in range(window)]  # newest first
    B = ring[order]  # (window, m, d)
    size = np.max(np.abs(B[0]), axis=1)
    env_now, env_before = np.max(recent, axis=0), np.max(earlier, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        settled = np.abs(env_now / env_before - 1.0) <= 1e-6
    away = np.min(recent, axis=0) > 1e3 * CONVERGED_TOL * scale
    for i in np.where(active & away & settled & np.isfinite(size))[0]:
        for p in PERIODS:
            diff = np.max(np.abs(B[:window - p, i] - B[p:, i]))
            if diff <= PERIOD_TOL * size[i]:
                yield i, p
                break


# ----------------------------------------------------------------------------------------------------
# Gradient flow
# ----------------------------------------------------------------------------------------------------
@dataclass
class GFRun:
    params: list
    beta: np.ndarray
    t: float
    residual: np.ndarray
    converged: bool


def gradient_flow(model: str, X, y, params0, *, loss_scale: str = "half", rtol: float = 1e-13,
                  atol: float = 1e-16, tol: float = 1e-12, t_max: float = 1e5) -> GFRun:
    """Integrate ``dθ/dt = −∇L(θ)`` (DOP853, rtol/atol as given) in doubling chunks until
    ``max|r| < tol · max|y|`` or ``t_max``."""
    M, X = _model(model), as_design(X)
    y = np.atleast_1d(np.asarray(y, float))
    kappa = loss_factor(loss_scale, X.shape[0])
    d = X.shape[1]
    theta = np.concatenate([np.asarray(p, float) for p in params0])
    scale = float(np.max(np.abs(y))) or 1.0

    def split(th):
        return [th[j * d:(j + 1) * d][None, :] for j in range(M.n_params)]

    def rhs(_, th):
        p = split(th)
        r = M.beta(p)[0] @ X.T - y
        return -np.concatenate([g[0] for g in M.grads(p, kappa * (r @ X)[None, :])])

    t, chunk = 0.0, 1.0 / (kappa * X.shape[0] * scale * float(np.max(np.sum(X * X, axis=1))))
    while True:
        sol = solve_ivp(rhs, (t, t + chunk), theta, method="DOP853", rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(f"gradient flow: {sol.message}")
        theta, t = sol.y[:, -1], t + chunk
        p = split(theta)
        r = M.beta(p)[0] @ X.T - y
        if np.max(np.abs(r)) < tol * scale or t >= t_max:
            break
        chunk *= 2.0
    params = [a[0] for a in split(theta)]
    return GFRun(params=params, beta=M.beta(split(theta))[0], t=t, residual=r,
                 converged=bool(np.max(np.abs(r)) < tol * scale))


# ----------------------------------------------------------------------------------------------------
# Hessians for cross-checks
# ----------------------------------------------------------------------------------------------------
def hessian_autograd(model: str, params, X, y, loss_scale: str = "half") -> np.ndarray:
    """Hessian of L with respect to the concatenated parameters, by torch autograd in float64."""
    import torch

    M, X = _model(model), as_design(X)
    kappa = loss_factor(loss_scale, X.shape[0])
    d = X.shape[1]
    Xt = torch.as_tensor(X, dtype=torch.float64)
    yt = torch.as_tensor(np.atleast_1d(y), dtype=torch.float64)
    theta = torch.as_tensor(np.concatenate([np.asarray(p, float) for p in params]), dtype=torch.float64)

    def loss(th):
        p = [th[j * d:(j + 1) * d] for j in range(M.n_params)]
        r = Xt @ M.beta(p) - yt
        return 0.5 * kappa * (r @ r)

    return torch.autograd.functional.hessian(loss, theta).numpy()


def hessian_finite_difference(model: str, params, X, y, loss_scale: str = "half", h: float = 1e-6) -> np.ndarray:
    """Hessian by central differences of the analytic parameter gradient (error O(h²))."""
    p0 = [np.asarray(a, float) for a in params]
    d = p0[0].size
    theta0 = np.concatenate(p0)

    def grad(th):
        _, g = loss_and_grads(model, [th[j * d:(j + 1) * d] for j in range(len(p0))], X, y, loss_scale)
        return np.concatenate(g)

    H = np.empty((theta0.size, theta0.size))
    for j in range(theta0.size):
        e = np.zeros_like(theta0)
        e[j] = h
        H[:, j] = (grad(theta0 + e) - grad(theta0 - e)) / (2 * h)
    return 0.5 * (H + H.T)
