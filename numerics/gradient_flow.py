"""The gradient-flow reference θ̇ = −∇L(θ) of full-batch GD, and helpers that relate GD iterates to it.

Cohen, Kaur, Li, Kolter, Talwalkar (2021, "Gradient descent on neural networks typically occurs at the edge
of stability") integrate gradient flow with the classical Runge–Kutta method of order 4 and a step of 1/S(θ)
(S the sharpness, re-measured along the way); this module does the same. With hS ≤ 1 every
eigen-direction of the Hessian lies well inside RK4's stability region (hλ ≤ 2.78), so the integrator itself
never oscillates, as long as S does not grow by more than ×2.7 between two measurements (progressive
sharpening is far slower). Measured in ``tests/test_gradient_flow.py``: at step 1/S the error is below 1 % of
the distance travelled, and halving the step divides it by ≈ 16 (order 4). This module:

- :func:`rk4_step`, :func:`integrate_fixed` (a fixed step: what the order test measures — the global error
  at a fixed horizon is O(h⁴));
- :func:`gradient_flow`: RK4 with step ``step_factor / S``, S re-measured every ``sharpness_every`` steps by
  :func:`numerics.sharpness.sharpness` (warm-started), until the loss is below a goal; it returns the
  sharpness trace and snapshots (t, θ(t)) for comparisons with GD;
- :class:`PolygonDistance`: the distance from GD's polygon (iterate k at time k·η, linear in between: the
  continuous-time embedding of the Euler method) to the flow at the snapshot times;
- :class:`TrailingAverage`: the mean of the last m iterates (the estimate of the point GD oscillates around).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from numerics.sharpness import full_gradient, sharpness

Grad = Callable[[torch.Tensor], torch.Tensor]


def rk4_step(grad: Grad, theta: torch.Tensor, h: float, g0: torch.Tensor | None = None) -> torch.Tensor:
    """One classical RK4 step of θ̇ = −grad(θ) (``g0`` = grad(θ) if already known)."""
    k1 = grad(theta) if g0 is None else g0
    k2 = grad(theta - 0.5 * h * k1)
    k3 = grad(theta - 0.5 * h * k2)
    k4 = grad(theta - h * k3)
    return theta - (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def integrate_fixed(grad: Grad, theta0: torch.Tensor, t_end: float, n_steps: int) -> torch.Tensor:
    """θ(t_end) by ``n_steps`` RK4 steps of size t_end / n_steps."""
    if n_steps < 1 or not t_end > 0:
        raise ValueError(f"need n_steps >= 1 and t_end > 0, got {n_steps}, {t_end}")
    h = t_end / n_steps
    theta = theta0.detach().clone()
    for _ in range(n_steps):
        theta = rk4_step(grad, theta, h)
    return theta


@dataclass
class FlowResult:
    theta: torch.Tensor
    time: float
    steps: int
    reason: str  # "loss_goal", "max_time", "max_steps" or "diverged"
    loss: float
    sharpness: float  # at the final θ
    trace: list[dict] = field(default_factory=list)  # {"step", "time", "loss", "sharpness"} at every measurement
    snapshots: list[tuple[float, torch.Tensor]] = field(default_factory=list)  # (t, θ(t)), t = 0 first

    @property
    def reached_goal(self) -> bool:
        return self.reason == "loss_goal"


def gradient_flow(f: Callable, theta0: torch.Tensor, *, rng: np.random.Generator, loss_goal: float = 0.0,
                  max_time: float = math.inf, max_steps: int = 100_000, step_factor: float = 1.0,
                  sharpness_every: int = 10, snapshot_every: int = 10) -> FlowResult:
    """Integrate θ̇ = −∇L(θ) (L = the closure ``f``) from ``theta0`` by RK4 with step ``step_factor / S``.

    S is measured at θ₀ (Lanczos started from ``rng``) and every ``sharpness_every`` steps (warm-started from
    the previous eigenvector); a snapshot (t, θ) is kept every ``snapshot_every`` steps and at the end. Stops
    when L < ``loss_goal`` (reason ``loss_goal``), at ``max_time`` or ``max_steps``.
    """
    if not (step_factor > 0 and sharpness_every >= 1 and snapshot_every >= 1):
        raise ValueError("need step_factor > 0, sharpness_every >= 1 and snapshot_every >= 1")
    grad = lambda th: full_gradient(f, th)[1]  # noqa: E731
    theta = theta0.detach().clone()
    t, step = 0.0, 0
    s, u = sharpness(f, theta, rng=rng)
    value, g = full_gradient(f, theta)
    trace = [{"step": 0, "time": 0.0, "loss": value, "sharpness": s}]
    snapshots = [(0.0, theta.clone())]
    reason = "max_steps"
    while step < max_steps:
        if value < loss_goal:
            reason = "loss_goal"
            break
        if t >= max_time:
            reason = "max_time"
            break
        h = min(step_factor / max(s, 1e-12), max_time - t)
        theta = rk4_step(grad, theta, h, g)
        t += h
        step += 1
        value, g = full_gradient(f, theta)
        if not (math.isfinite(value) and torch.isfinite(g).all()):
            reason = "diverged"
            break
        if step % sharpness_every == 0:
            s, u = sharpness(f, theta, v0=u)
            trace.append({"step": step, "time": t, "loss": value, "sharpness": s})
        if step % snapshot_every == 0:
            snapshots.append((t, theta.clone()))
    if reason != "diverged":
        s, u = sharpness(f, theta, v0=u)
        if trace[-1]["step"] != step:
            trace.append({"step": step, "time": t, "loss": value, "sharpness": s})
        if snapshots[-1][0] != t:
            snapshots.append((t, theta.clone()))
    return FlowResult(theta=theta, time=t, steps=step, reason=reason, loss=value, sharpness=s, trace=trace,
                      snapshots=snapshots)


class PolygonDistance:
    """Relative distance ‖θ_GD(t) − θ_GF(t)‖ / ‖θ_GF(t) − θ₀‖ at the flow's snapshot times t > 0.

    θ_GD(t) is GD's polygon: iterate k sits at time k·``time_per_step`` (η for GD), linear in between. Feed
    every iterate in order with :meth:`update`; :attr:`rows` holds (t, distance) for each snapshot time
    passed so far.
    """

    def __init__(self, snapshots: list[tuple[float, torch.Tensor]], time_per_step: float):
        self.snapshots = [(t, th) for t, th in snapshots if t > 0]
        self.theta0 = snapshots[0][1]
        self.dt = float(time_per_step)
        self.rows: list[tuple[float, float]] = []
        self._prev: tuple[int, torch.Tensor] | None = None
        self._next = 0

    def update(self, step: int, theta: torch.Tensor) -> None:
        if self._prev is not None and step == self._prev[0] + 1:
            k, before = self._prev
            while self._next < len(self.snapshots) and self.snapshots[self._next][0] <= step * self.dt:
                t, ref = self.snapshots[self._next]
                frac = t / self.dt - k
                point = before + frac * (theta - before)
                scale = float((ref - self.theta0.to(ref.device)).norm())
                self.rows.append((t, float((point - ref).norm()) / scale if scale > 0 else math.nan))
                self._next += 1
        self._prev = (step, theta)


class TrailingAverage:
    """The mean of the last ``m`` vectors pushed (fewer at the start)."""

    def __init__(self, m: int):
        if m < 1:
            raise ValueError(f"m must be >= 1, got {m}")
        self.items: deque = deque(maxlen=m)

    def push(self, theta: torch.Tensor) -> None:
        self.items.append(theta.detach().clone())

    def mean(self) -> torch.Tensor:
        if not self.items:
            raise ValueError("no iterate pushed yet")
        return torch.stack(list(self.items)).mean(0)

    def __len__(self) -> int:
        return len(self.items)
