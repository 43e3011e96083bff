"""Engines for the ``modified_loss`` check: a small nonconvex least-squares model with analytic
derivatives, the discrete optimizers (GD, SGD over every batch order, RMSProp) and the integration of
continuous flows with scipy's DOP853 at tight tolerances.

The model is a two-layer linear network ``x ↦ W2 W1 x`` with the square loss
``C_S(θ) = (1/2|S|) Σ_{i∈S} ‖W2 W1 x_i − y_i‖²`` over a set S of rows, ``θ = (vec W1, vec W2)`` (row-major).
It is nonconvex with a parameter-dependent Hessian, so none of the modified-flow terms vanish, and with one
hidden unit and one example (``W1 = a``, ``W2 = b``) it is the check's ``E = ½(y − a b x)²``. Gradients and
Hessian-vector products are derived by hand here; tests/test_modified_losses.py checks them against torch
autograd in float64.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from numerics.errors import require

ODE_RTOL = 1e-13  # DOP853 tolerances for every reference flow
ODE_ATOL = 1e-15


@dataclass(frozen=True)
class TwoLayerLinearRegression:
    X: np.ndarray  # (N, d) inputs
    Y: np.ndarray  # (N, k) targets
    hidden: int

    @property
    def n_examples(self) -> int:
        return self.X.shape[0]

    @property
    def n_params(self) -> int:
        return self.hidden * (self.X.shape[1] + self.Y.shape[1])

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d, k = self.X.shape[1], self.Y.shape[1]
        split = self.hidden * d
        return theta[:split].reshape(self.hidden, d), theta[split:].reshape(k, self.hidden)

    def _data(self, rows):
        return (self.X, self.Y) if rows is None else (self.X[rows], self.Y[rows])

    def loss(self, theta: np.ndarray, rows=None) -> float:
        X, Y = self._data(rows)
        W1, W2 = self.unpack(theta)
        R = X @ W1.T @ W2.T - Y
        return 0.5 * float(np.sum(R * R)) / X.shape[0]

    def grad(self, theta: np.ndarray, rows=None) -> np.ndarray:
        X, Y = self._data(rows)
        W1, W2 = self.unpack(theta)
        R = (X @ W1.T @ W2.T - Y) / X.shape[0]  # (|S|, k)
        g1 = W2.T @ R.T @ X  # ∂C/∂W1
        g2 = R.T @ (X @ W1.T)  # ∂C/∂W2
        return np.concatenate([g1.ravel(), g2.ravel()])

    def hvp(self, theta: np.ndarray, v: np.ndarray, rows=None) -> np.ndarray:
        """Hessian-vector product: the directional derivative of :meth:`grad` along ``v``."""
        X, Y = self._data(rows)
        W1, W2 = self.unpack(theta)
        V1, V2 = self.unpack(v)
        n = X.shape[0]
        H = X @ W1.T  # hidden activations (|S|, hidden)
        R = (H @ W2.T - Y) / n
        dH = X @ V1.T
        dR = (dH @ W2.T + H @ V2.T) / n
        h1 = V2.T @ R.T @ X + W2.T @ dR.T @ X
        h2 = dR.T @ H + R.T @ dH
        return np.concatenate([h1.ravel(), h2.ravel()])

    def per_example_grads(self, theta: np.ndarray) -> np.ndarray:
        """(N, p) array of the gradients of the single-example losses ``C_i = ½‖W2 W1 x_i − y_i‖²``."""
        return np.stack([self.grad(theta, [i]) for i in range(self.n_examples)])


def ab_problem(x: float, y: float) -> TwoLayerLinearRegression:
    """``E(a, b) = ½(y − a b x)²`` as the two-layer model with one unit and one example; θ = (a, b)."""
    return TwoLayerLinearRegression(np.array([[float(x)]]), np.array([[float(y)]]), hidden=1)


def heterogeneous_batches_problem(n_batches: int, batch_size: int, d: int, hidden: int, k: int,
                                  rng: np.random.Generator, spread: float = 1.0):
    """A regression problem whose consecutive blocks of ``batch_size`` rows have different input means
    and different teachers, so the mini-batch gradients differ strongly (the SGD term is not small).

    Returns ``(problem, batches, theta0)``, ``batches`` a list of row-index arrays.
    """
    require(n_batches >= 1 and batch_size >= 1, "need at least one batch of at least one example")
    X, Y = [], []
    for _ in range(n_batches):
        mean = spread * rng.standard_normal(d)
        teacher = rng.standard_normal((k, d)) / math.sqrt(d)
        Xb = mean + rng.standard_normal((batch_size, d))
        X.append(Xb)
        Y.append(Xb @ teacher.T)
    X, Y = np.concatenate(X), np.concatenate(Y)
    theta0 = rng.standard_normal(hidden * (d + k)) / math.sqrt(max(d, hidden))
    # Scaling inputs and targets by s scales the loss by s²: pick s so that λ_max(∇²C(θ0)) = 1, which puts
    # the step sizes of every seed on the same scale.
    s = 1.0 / math.sqrt(max_hessian_eigenvalue(TwoLayerLinearRegression(X, Y, hidden), theta0))
    problem = TwoLayerLinearRegression(s * X, s * Y, hidden)
    batches = [np.arange(j * batch_size, (j + 1) * batch_size) for j in range(n_batches)]
    return problem, batches, theta0


def hessian(problem, theta: np.ndarray, rows=None) -> np.ndarray:
    """The dense Hessian, column by column from Hessian-vector products (small models only)."""
    eye = np.eye(len(theta))
    H = np.stack([problem.hvp(theta, e, rows) for e in eye], axis=1)
    return 0.5 * (H + H.T)


def max_hessian_eigenvalue(problem, theta: np.ndarray) -> float:
    return float(np.max(np.abs(np.linalg.eigvalsh(hessian(problem, theta)))))


# ---------------------------------------------------------------------------------------------- flows

def integrate_flow(field, theta0: np.ndarray, T: float, *, rtol: float = ODE_RTOL,
                   atol: float = ODE_ATOL) -> np.ndarray:
    """θ(T) for ``θ̇ = field(θ)``, ``θ(0) = theta0``, by DOP853 (scipy) at tolerances ``rtol``/``atol``."""
    sol = solve_ivp(lambda _t, th: field(th), (0.0, float(T)), np.asarray(theta0, float),
                    method="DOP853", rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"DOP853 failed: {sol.message}")
    return sol.y[:, -1]


# ----------------------------------------------------------------------------------------- optimizers

def gd(grad, theta0: np.ndarray, h: float, n_steps: int) -> np.ndarray:
    """The GD iterates ``θ_{n+1} = θ_n − h ∇E(θ_n)``, n = 0..n_steps; shape (n_steps + 1, p)."""
    out = np.empty((n_steps + 1, len(theta0)))
    out[0] = theta0
    for n in range(n_steps):
        out[n + 1] = out[n] - h * grad(out[n])
    return out


def sgd_epoch_mean_over_orders(problem, theta0: np.ndarray, eps: float, batches) -> np.ndarray:
    """The mean over all m! batch orders of the iterate after one epoch of m SGD steps of size ``eps``.

    Every order is enumerated (no sampling): the order noise would otherwise swamp the O(ε³) signal. Orders
    sharing a prefix share its iterates, so the enumeration walks the tree of prefixes once.
    """
    m = len(batches)
    require(1 <= m <= 8, f"enumerating m! orders needs 1 <= m <= 8 batches, got {m}")
    total = np.zeros_like(theta0, dtype=float)

    def walk(theta, remaining):
        nonlocal total
        if not remaining:
            total = total + theta
            return
        for j in remaining:
            walk(theta - eps * problem.grad(theta, batches[j]), remaining - {j})

    walk(np.asarray(theta0, float), frozenset(range(m)))
    return total / math.factorial(m)


def rmsprop(grad, theta0: np.ndarray, eta: float, beta: float, delta: float, n_steps: int,
            v0: np.ndarray | None = None) -> np.ndarray:
    """RMSProp: ``v ← βv + (1 − β)g²``, then ``θ ← θ − η g/√(v + δ)``; returns θ_{n_steps}.

    ``v0`` defaults to ``g(θ0)²``, the warm start under which the lag-corrected modified flow is accurate
    to O(η²) over a fixed horizon (a cold start v0 = 0 adds an O(η) transient to every flow).
    """
    theta = np.array(theta0, dtype=float)
    g = grad(theta)
    v = g * g if v0 is None else np.array(v0, dtype=float)
    for _ in range(n_steps):
        v = beta * v + (1.0 - beta) * g * g
        theta = theta - eta * g / np.sqrt(v + delta)
        g = grad(theta)
    return theta


# ------------------------------------------------------------------------------------ partitions

def equal_partitions(n: int, block: int) -> np.ndarray:
    """Every partition of ``range(n)`` into ``n/block`` unordered blocks of size ``block``.

    Returns an int array (n_partitions, n/block, block); blocks are listed by their smallest element, so
    each partition appears once. Count: n! / (block!^(n/block) (n/block)!).
    """
    require(block >= 1 and n % block == 0, f"block size {block} must divide n = {n}")
    out = []

    def extend(blocks, rest):
        if not rest:
            out.append(blocks)
            return
        first, others = rest[0], rest[1:]
        for tail in itertools.combinations(others, block - 1):
            chosen = (first, *tail)
            extend(blocks + [chosen], tuple(i for i in others if i not in tail))

    extend([], tuple(range(n)))
    return np.array(out, dtype=int).reshape(len(out), n // block, block)


def step_size_errors(theta0: np.ndarray, steps, iterate, fields, duration) -> dict[str, list[float]]:
    """For each step size s and each flow: ``‖iterate(s) − θ(duration(s))‖``, θ solving
    ``θ̇ = fields(s)[name](θ)`` from θ0 (DOP853). Returns ``{name: [error for each s]}``."""
    errors: dict[str, list[float]] = {}
    for s in steps:
        target = iterate(s)
        for name, field in fields(s).items():
            end = integrate_flow(field, theta0, duration(s))
            errors.setdefault(name, []).append(float(np.linalg.norm(target - end)))
    return errors
