"""First-order optimizers on a linear least-squares model: the linearized network of the ``which_minimizer``
check (Nonnenmacher, Reeb, Steinwart, ECML PKDD 2021).

The model's residual is ``Jθ − b`` (for a linearization ``f0 + J(θ − θ0)`` of targets y, ``b = y − f0 + Jθ0``)
and the loss of a mini-batch B is ``(1/2|B|) ‖J_B θ − b_B‖²``. ``b`` of shape (n,) is one problem; ``b`` of
shape (n, K) is K independent problems sharing J, run side by side as the columns of θ (p, K): the same
iterates as K separate runs, at the cost of one. An optimizer is an update rule (heavy-ball SGD with an
optional fixed preconditioner, or AdaGrad) driven by a batch schedule (an endless iterator of index arrays).
Also here: the lr → 0 limit of AdaGrad (its flow). Everything is float64 numpy; randomness comes from an
explicit ``numpy.random.Generator``.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from theory.which_minimizer import preconditioned_limit

LearningRate = float | np.ndarray | Callable[[int], float]


def _schedule(lr: LearningRate) -> Callable[[int], float | np.ndarray]:
    """A constant (a float, or one value per column of θ) or a function of the step index."""
    if callable(lr):
        return lr
    value = np.asarray(lr, dtype=float)
    return lambda t: value


@dataclass(frozen=True)
class LinearModel:
    J: np.ndarray  # (n, p)
    b: np.ndarray  # (n,) or (n, K)

    @classmethod
    def from_linearization(cls, J, f0, theta0, y) -> "LinearModel":
        """The model ``f0 + J(θ − θ0)`` fitted to targets y; any of y, f0, θ0 may carry K columns."""
        J = np.asarray(J, dtype=float)
        parts = [np.asarray(y, dtype=float), np.asarray(f0, dtype=float), J @ np.asarray(theta0, dtype=float)]
        if any(a.ndim == 2 for a in parts):
            parts = [a[:, None] if a.ndim == 1 else a for a in parts]
        return cls(J, parts[0] - parts[1] + parts[2])

    @property
    def n(self) -> int:
        return self.J.shape[0]

    @property
    def p(self) -> int:
        return self.J.shape[1]

    def residual(self, theta: np.ndarray) -> np.ndarray:
        return self.J @ theta - self.b

    def batch_gradient(self, theta: np.ndarray, batch: np.ndarray | slice) -> np.ndarray:
        Jb = self.J[batch]
        return Jb.T @ (Jb @ theta - self.b[batch]) / Jb.shape[0]

    def hessian_extremes(self) -> tuple[float, float]:
        """Largest and smallest nonzero eigenvalue of the full-batch Hessian ``JᵀJ/n`` (J of full row rank)."""
        ev = np.linalg.eigvalsh(self.J @ self.J.T) / self.n
        return float(ev[-1]), float(ev[0])

    def optimal_gd_rate(self) -> float:
        """``2/(λ_max + λ_min)``: the constant GD step with the fastest worst-case convergence."""
        hi, lo = self.hessian_extremes()
        return 2.0 / (hi + lo)


def random_jacobian(n: int, p: int, rng: np.random.Generator, max_cond: float = 4.0) -> np.ndarray:
    """A random n×p matrix (n <= p) with Haar-random singular vectors and singular values uniform in
    [1, max_cond]: generic in every coordinate, yet conditioned well enough that first-order methods reach
    relative residual 1e-13 in thousands, not millions, of steps (a Gaussian n×(n+1) matrix may not)."""
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    V, _ = np.linalg.qr(rng.standard_normal((p, n)))
    return (U * rng.uniform(1.0, max_cond, size=n)) @ V.T


# ---- batch schedules: endless iterators of index arrays ------------------------------------------------

def full_batch(n: int) -> Iterator[slice]:
    """Every example at every step (a slice: no copy of J per step)."""
    return itertools.repeat(slice(0, n))


def fixed_order(batches: Iterable[Iterable[int]]) -> Iterator[np.ndarray]:
    """The same batches in the same order, epoch after epoch (the mini-batch order of C4)."""
    return itertools.cycle([np.asarray(list(b), dtype=int) for b in batches])


def reshuffled(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Random reshuffling: each epoch a fresh permutation cut into consecutive batches."""
    while True:
        perm = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield perm[start:start + batch_size]


def independent_batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Each step an independent uniformly random batch (no epochs)."""
    while True:
        yield rng.choice(n, size=batch_size, replace=False)


def random_partitions(n: int, max_batch: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Each epoch a random permutation cut into batches of random sizes in [1, max_batch]."""
    while True:
        perm = rng.permutation(n)
        start = 0
        while start < n:
            size = int(rng.integers(1, max_batch + 1))
            yield perm[start:start + size]
            start += size


# ---- update rules ----------------------------------------------------------------------------------------

class HeavyBall:
    """``θ_{t+1} = θ_t − η_t P g_t + β (θ_t − θ_{t−1})``; β = 0 and P = I is plain (S)GD.

    ``lr`` is a constant, one constant per column of θ, or a function of the step index t (a schedule).
    """

    def __init__(self, lr: LearningRate, momentum: float = 0.0, precond: np.ndarray | None = None):
        self.lr = _schedule(lr)
        self.momentum = float(momentum)
        self.precond = None if precond is None else np.asarray(precond, dtype=float)
        self._last = None

    def reset(self, theta0: np.ndarray) -> None:
        self._last = np.zeros_like(theta0)

    def increment(self, t: int, grad: np.ndarray) -> np.ndarray:
        direction = grad if self.precond is None else self.precond @ grad
        self._last = self.momentum * self._last - self.lr(t) * direction
        return self._last


class AdaGrad:
    """``G ← G + g²``, ``θ ← θ − η g / (√G + ε)`` coordinatewise; with ε = 0 a coordinate whose gradient has
    always been zero does not move (0/0 read as 0). ``lr`` as for :class:`HeavyBall`."""

    def __init__(self, lr: LearningRate, eps: float = 0.0):
        self.lr = _schedule(lr)
        self.eps = float(eps)
        self._accumulator = None

    def reset(self, theta0: np.ndarray) -> None:
        self._accumulator = np.zeros_like(theta0)

    def increment(self, t: int, grad: np.ndarray) -> np.ndarray:
        self._accumulator += grad * grad
        # √G ≥ |g| (G includes this step's g²), so a zero denominator comes with a zero gradient: dividing
        # by max(√G + ε, tiny) gives 0 there and the exact quotient everywhere else.
        denom = np.maximum(np.sqrt(self._accumulator) + self.eps, np.finfo(float).tiny)
        return -self.lr(t) * (grad / denom)


# ---- the driver ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OptResult:
    theta: np.ndarray
    residual: float  # ‖Jθ − b‖ / ‖Jθ0 − b‖ at the end (the largest over the columns of b)
    steps: int
    converged: bool  # residual <= rtol within max_steps (never for rtol = 0: a fixed number of steps)
    tail: float  # ‖θ_end − θ when the residual first fell below tail_factor × the stop‖ (largest column)
    diverged: bool = False


def run(model: LinearModel, theta0: np.ndarray, rule, batches: Iterator[np.ndarray], *, rtol: float = 1e-13,
        max_steps: int = 1_000_000, tail_factor: float = 1e3, check_every: int = 1) -> OptResult:
    """Iterate ``rule`` on mini-batch gradients until the relative full-batch residual is <= ``rtol`` or at
    its round-off floor ``16 ε (‖J‖_F ‖θ‖ + ‖b‖)`` (the error of evaluating Jθ − b), whichever is larger.

    The increments are summed with Kahan compensation: late AdaGrad steps at small learning rates fall below
    the rounding unit of θ and would otherwise be lost, stalling the residual above ``rtol``.
    ``tail`` estimates the distance still to go: under linear convergence the movement after the residual
    fell below ``tail_factor`` times the stopping level exceeds the movement after the stop by about
    ``tail_factor``, so ``tail / tail_factor`` is the expected remaining error and ``tail`` a safe bound.
    A run whose residual grows beyond 1e8 times its start or stops being finite is reported as diverged.
    The residual is evaluated every ``check_every`` steps (it costs as much as a full-batch gradient).
    ``rtol = 0`` runs exactly ``max_steps`` steps.
    """
    theta = np.array(theta0, dtype=float)
    carry = np.zeros_like(theta)  # Kahan compensation: what rounding dropped from theta so far
    rule.reset(theta)
    r0 = np.linalg.norm(model.residual(theta), axis=0)
    r0 = np.where(r0 > 0, r0, 1.0)  # a column that starts at its solution never moves and counts as solved
    J_norm, b_norm = np.linalg.norm(model.J), np.linalg.norm(model.b, axis=0)
    snapshot = None
    rel = 1.0
    for t in range(max_steps):
        step = rule.increment(t, model.batch_gradient(theta, next(batches))) - carry
        updated = theta + step
        carry = (updated - theta) - step
        theta = updated
        if (t + 1) % check_every and t + 1 < max_steps:
            continue
        residual = np.linalg.norm(model.residual(theta), axis=0)
        rel = float(np.max(residual / r0))
        if not np.isfinite(rel) or rel > 1e8:
            return OptResult(theta, rel, t + 1, False, np.inf, diverged=True)
        floor = 16 * np.finfo(float).eps * (J_norm * np.linalg.norm(theta, axis=0) + b_norm) / r0
        target = np.maximum(rtol, floor)
        if snapshot is None and np.all(residual / r0 <= tail_factor * target):
            snapshot = theta.copy()
        if rtol > 0 and np.all(residual / r0 <= target):
            return OptResult(theta, rel, t + 1, True, _largest_column_norm(theta - snapshot))
    tail = np.inf if snapshot is None else _largest_column_norm(theta - snapshot)
    return OptResult(theta, rel, max_steps, False, tail)


def _largest_column_norm(a: np.ndarray) -> float:
    return float(np.max(np.linalg.norm(a, axis=0)))


def adagrad_flow_limit(model: LinearModel, theta0: np.ndarray, *, rtol: float = 1e-12, t_start: float = 1e-14,
                       switch: float = 1e-5) -> np.ndarray:
    """The limit of full-batch AdaGrad (ε = 0) as the learning rate goes to 0: the end point of the flow
    ``θ' = −g/√G``, ``G' = g²``, ``G(0) = 0`` (g the full-batch gradient).

    Why this flow: with ``G̃ = lr² G`` and time ``t = k lr²``, AdaGrad's step is ``−lr² g/√G̃`` and its
    accumulator grows by ``lr² g²``: an Euler step of size lr² of the flow.
    Numerics: near t = 0 the flow is ``G ≈ g0² t``, ``θ ≈ θ0 − 2√t sign(g0)`` (needs every ``g0_i ≠ 0``),
    which starts the solve at ``t_start``; it runs in s = ln t (smooth across the 1/√t start) with Radau and
    the exact Jacobian (coordinates with small G make it stiff, which costs an explicit method 10⁵–10⁶
    steps), until the relative residual is ``switch``. From there G changes by O(residual²) only, so the rest
    of the path is preconditioned GD with ``P = diag(G)^{-1/2}`` and ends at its closed form (A1).
    """
    J, b = model.J, model.b
    p = model.p
    H = J.T @ J / model.n
    c = J.T @ b / model.n
    theta0 = np.asarray(theta0, dtype=float)
    g0 = H @ theta0 - c
    if np.any(g0 == 0):
        raise ValueError("the AdaGrad flow needs a nonzero initial gradient in every coordinate")
    r0 = np.linalg.norm(model.residual(theta0))

    def rhs(s, x):
        g = H @ x[:p] - c
        return np.exp(s) * np.concatenate([-g / np.sqrt(x[p:]), g * g])

    def jac(s, x):
        theta, G = x[:p], x[p:]
        g = H @ theta - c
        top = np.hstack([-H / np.sqrt(G)[:, None], np.diag(g / (2.0 * G ** 1.5))])
        bottom = np.hstack([2.0 * g[:, None] * H, np.zeros((p, p))])
        return np.exp(s) * np.vstack([top, bottom])

    def reached(s, x):
        return np.log(np.linalg.norm(model.residual(x[:p])) / r0) - np.log(switch)

    reached.terminal = True
    start = np.concatenate([theta0 - 2.0 * np.sqrt(t_start) * np.sign(g0), g0 * g0 * t_start])
    sol = solve_ivp(rhs, (np.log(t_start), np.log(t_start) + 200.0), start, method="Radau", jac=jac,
                    rtol=rtol, atol=1e-3 * rtol * np.abs(start).max(), events=reached)
    if sol.status != 1:
        raise RuntimeError(f"AdaGrad flow did not reach residual {switch:g}: {sol.message}")
    theta, G = sol.y[:p, -1], sol.y[p:, -1]
    return preconditioned_limit(J, b - J @ theta, theta, np.diag(1.0 / np.sqrt(G)))


def init_scale_test_mse(J, Jt, g0, g0t, theta0, y, yt, alphas, *, rtol: float = 1e-13, check_every: int = 1,
                        max_steps: int = 100_000):
    """Test MSE of the converged GD limit of a linearized net at each output scale α: plain, centered and
    antisymmetrically doubled; returns ``([plain, centered, doubled], converged)``.

    ``J``/``Jt``: the Jacobian of the unscaled net at θ0 on the training/test inputs, ``g0``/``g0t`` its
    outputs there. Plain: f = α g(θ), f0 = α g0. Centered: f = α (g(θ) − g(θ0)). Doubled:
    f = α (g(θ¹) − g(θ²))/√2 with θ¹0 = θ²0 = θ0, whose linearization has Jacobian α[J, −J]/√2. GD on
    α·(model) with step η/α² has the iterates of GD on the model with targets y/α, so all α run as columns of
    one GD run per architecture.
    """
    alphas = np.asarray(alphas, dtype=float)
    k = len(alphas)
    targets = np.tile(y[:, None] / alphas, 2)
    init_out = np.column_stack([np.tile(g0[:, None], k), np.zeros((len(y), k))])
    both = LinearModel.from_linearization(J, init_out, theta0, targets)
    res = run(both, np.tile(theta0[:, None], 2 * k), HeavyBall(both.optimal_gd_rate()), full_batch(len(y)),
              rtol=rtol, check_every=check_every, max_steps=max_steps)
    moved = Jt @ (res.theta - theta0[:, None])
    plain_out = alphas * (g0t[:, None] + moved[:, :k])
    centered = alphas * moved[:, k:]
    Jd = np.hstack([J, -J]) / np.sqrt(2.0)
    theta0_d = np.concatenate([theta0, theta0])
    doubled = LinearModel.from_linearization(Jd, np.zeros((len(y), k)), theta0_d, y[:, None] / alphas)
    res_d = run(doubled, np.tile(theta0_d[:, None], k), HeavyBall(doubled.optimal_gd_rate()), full_batch(len(y)),
                rtol=rtol, check_every=check_every, max_steps=max_steps)
    doubled_out = alphas * (np.hstack([Jt, -Jt]) / np.sqrt(2.0) @ (res_d.theta - theta0_d[:, None]))
    mse = [np.mean((out - yt[:, None]) ** 2, axis=0) for out in (plain_out, centered, doubled_out)]
    return mse, res.converged and res_d.converged
