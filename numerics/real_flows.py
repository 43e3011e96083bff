"""Continuous flows on real-network parameters and the fixed-horizon error of a discrete optimizer against
them (the toy-model version is :mod:`numerics.modified_flows`).

- :func:`rk4`: classical Runge–Kutta 4 with a fixed step on a torch field (float64); :func:`reference_flow`
  integrates at ``dt`` and ``2 dt`` and returns θ(T) with the Richardson estimate ‖θ_dt − θ_2dt‖/15 of its
  own error (RK4's error is ∝ dt⁴), so a caller can keep only errors well above the reference's accuracy.
- :func:`run_full_batch`: T/h full-batch steps of a :class:`numerics.trainers.Optimizer` from given buffers
  (the trainer's update rules, nothing re-implemented).
- :func:`top_hessian_eigenvalue`: power iteration on Hessian-vector products, to put step sizes in units of
  1/λ_max.
The fields come from the caller (e.g. :mod:`theory.implicit_regularizers`): this module does not import
``theory``.
"""
from __future__ import annotations

from typing import Callable

import torch

from numerics.errors import require
from numerics.trainers import Optimizer, loss_value, train

Field = Callable[[torch.Tensor], torch.Tensor]

RICHARDSON_RK4 = 15.0  # 2⁴ − 1: the error of the dt solution is ≈ ‖θ_dt − θ_2dt‖ / 15


def rk4(field: Field, theta0: torch.Tensor, T: float, n_steps: int) -> torch.Tensor:
    """θ(T) for θ̇ = field(θ), θ(0) = theta0, by ``n_steps`` classical RK4 steps of size T/n_steps."""
    require(n_steps >= 1 and T >= 0, f"need n_steps >= 1 and T >= 0, got {n_steps}, {T}")
    dt = T / n_steps
    th = theta0.detach().clone()
    for _ in range(n_steps):
        k1 = field(th)
        k2 = field(th + 0.5 * dt * k1)
        k3 = field(th + 0.5 * dt * k2)
        k4 = field(th + dt * k3)
        th = th + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return th


def reference_flow(field: Field, theta0: torch.Tensor, T: float, n_steps: int) -> tuple[torch.Tensor, float]:
    """(θ(T) by RK4 with ``n_steps`` steps, estimated error of it) from a second solve with n_steps/2 steps."""
    require(n_steps >= 2 and n_steps % 2 == 0, f"n_steps must be even and >= 2, got {n_steps}")
    fine = rk4(field, theta0, T, n_steps)
    coarse = rk4(field, theta0, T, n_steps // 2)
    return fine, float((fine - coarse).norm()) / RICHARDSON_RK4


def full_batch_loss(model, X: torch.Tensor, y: torch.Tensor, loss: str):
    """θ ↦ C(θ), the mean loss over (X, y), as a differentiable closure."""
    return lambda theta: loss_value(loss, model(theta, X), y)


def run_full_batch(model, theta0: torch.Tensor, X: torch.Tensor, y: torch.Tensor, loss: str, optimizer: Optimizer,
                   n_steps: int, *, init_state: dict | None = None) -> torch.Tensor:
    """θ after ``n_steps`` full-batch steps of ``optimizer`` from ``theta0`` with buffers ``init_state``."""
    result = train(model, theta0, X, y, optimizer, loss=loss, max_steps=n_steps, init_state=init_state)
    require(not result.diverged, f"{optimizer.name} diverged at step size {optimizer.lr:g}")
    return result.theta


def top_hessian_eigenvalue(loss_fn, theta: torch.Tensor, generator: torch.Generator, *, iterations: int = 100,
                           rtol: float = 1e-6) -> float:
    """|λ|_max of the Hessian of ``loss_fn`` at θ by power iteration on Hessian-vector products."""
    th = theta.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(loss_fn(th), th, create_graph=True)
    v = torch.randn(th.shape, generator=generator, dtype=th.dtype).to(th.device)
    v = v / v.norm()
    lam = 0.0
    for _ in range(iterations):
        (hv,) = torch.autograd.grad(g, th, v, retain_graph=True)
        new = float(hv.norm())
        v = hv / max(new, 1e-300)
        if abs(new - lam) <= rtol * new:
            return new
        lam = new
    return lam


def step_sizes(h0: float, halvings: int) -> list[float]:
    return [h0 * 2.0 ** -k for k in range(halvings + 1)]


def steps_for(T: float, h: float) -> int:
    n = T / h
    require(abs(n - round(n)) <= 1e-9 * n and round(n) >= 1,
            f"the horizon T = {T:g} must be a whole number of steps of size {h:g}")
    return int(round(n))


__all__ = ["rk4", "reference_flow", "full_batch_loss", "run_full_batch", "top_hessian_eigenvalue", "step_sizes",
           "steps_for"]
