"""One trainer for the real-network checks (``real_networks.md``, Trainers): SGD, full-batch GD, heavy-ball,
Adam and RMSProp on cross-entropy or MSE, on a flat parameter vector, float64 by default.

- Losses: ``ce`` (mean cross-entropy), ``mse`` (½‖f(x) − e_y‖² averaged over the examples, Cohen et al.).
- :class:`Optimizer`: the update rules, written out (no ``torch.optim``) so that the modified-flow analyses
  of ``theory/`` refer to exactly these iterations:
  - ``sgd``/``gd``: θ ← θ − η g;
  - ``heavy_ball``: v ← β v + g, θ ← θ − η v (v₀ = 0 unless ``init_velocity`` is given);
  - ``rmsprop``: s ← β₂ s + (1 − β₂) g², θ ← θ − η g / (√s + ε) (s₀ = 0);
  - ``adam``: m ← β₁ m + (1 − β₁) g, s as RMSProp, bias-corrected, θ ← θ − η m̂ / (√ŝ + ε).
- Mini-batches: each epoch a permutation from the given CPU ``torch.Generator`` (``batch_size=None`` is
  full-batch GD); ``drop_last`` is False.
- ``penalty`` λ > 0 adds the explicit regularizer (λ/4)‖∇C_k‖² of the mini-batch loss C_k (double backprop;
  Smith et al. 2021).
- ``callbacks``: ``fn(state) -> dict | None`` called every ``every`` steps (and at the end); returned dicts go
  to ``history`` (with ``step``). ``stop(state) -> str | None`` ends training with that reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from numerics.errors import require

LOSSES = ("ce", "mse")
OPTIMIZERS = ("sgd", "gd", "heavy_ball", "rmsprop", "adam")


def loss_value(kind: str, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean loss over the examples (last two axes of ``logits``: examples × classes; batched models allowed)."""
    if kind == "ce":
        if logits.dim() == 2:
            return F.cross_entropy(logits, y)
        return -torch.log_softmax(logits, -1).gather(-1, y.expand(*logits.shape[:-1]).unsqueeze(-1)).squeeze(-1).mean(-1)
    require(kind == "mse", f"unknown loss {kind!r}; known: {', '.join(LOSSES)}")
    target = F.one_hot(y, logits.shape[-1]).to(logits.dtype)
    return 0.5 * ((logits - target) ** 2).sum(-1).mean(-1)


def accuracy(model, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return (model(theta, X).argmax(-1) == y).to(torch.float64).mean(-1)


@dataclass(frozen=True)
class Optimizer:
    name: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.0  # heavy-ball β
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self):
        require(self.name in OPTIMIZERS, f"unknown optimizer {self.name!r}; known: {', '.join(OPTIMIZERS)}")
        require(self.lr > 0, f"learning rate must be > 0, got {self.lr}")
        require(0 <= self.momentum < 1 and 0 <= self.beta1 < 1 and 0 <= self.beta2 < 1 and self.eps >= 0,
                "momentum, beta1, beta2 must be in [0, 1) and eps >= 0")

    def init(self, theta: torch.Tensor, init_velocity: torch.Tensor | None = None) -> dict:
        z = torch.zeros_like(theta)
        if self.name == "heavy_ball":
            return {"v": z if init_velocity is None else init_velocity.clone()}
        if self.name in ("rmsprop", "adam"):
            return {"m": z.clone(), "s": z.clone(), "t": 0}
        return {}

    def step(self, theta: torch.Tensor, g: torch.Tensor, st: dict) -> torch.Tensor:
        if self.name in ("sgd", "gd"):
            return theta - self.lr * g
        if self.name == "heavy_ball":
            st["v"] = self.momentum * st["v"] + g
            return theta - self.lr * st["v"]
        st["t"] += 1
        st["s"] = self.beta2 * st["s"] + (1 - self.beta2) * g * g
        if self.name == "rmsprop":
            return theta - self.lr * g / (st["s"].sqrt() + self.eps)
        st["m"] = self.beta1 * st["m"] + (1 - self.beta1) * g
        m_hat = st["m"] / (1 - self.beta1 ** st["t"])
        s_hat = st["s"] / (1 - self.beta2 ** st["t"])
        return theta - self.lr * m_hat / (s_hat.sqrt() + self.eps)


@dataclass
class TrainState:
    step: int
    epoch: int
    theta: torch.Tensor
    batch_loss: float
    grad: torch.Tensor  # the gradient used for this step (of the penalized objective if penalty > 0)
    optimizer_state: dict


@dataclass
class TrainResult:
    theta: torch.Tensor
    steps: int
    reason: str  # "max_steps", "diverged" or the stop rule's reason
    history: list[dict] = field(default_factory=list)

    @property
    def diverged(self) -> bool:
        return self.reason == "diverged"


def batch_gradient(model, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, loss: str,
                   penalty: float = 0.0) -> tuple[float, torch.Tensor]:
    """Loss C_k of the batch and the gradient of C_k + (penalty/4)‖∇C_k‖² (double backprop when penalty > 0)."""
    th = theta.detach().requires_grad_(True)
    value = loss_value(loss, model(th, X), y)
    (g,) = torch.autograd.grad(value, th, create_graph=penalty > 0)
    if penalty > 0:
        (g_pen,) = torch.autograd.grad(g.pow(2).sum(), th)
        return float(value.detach()), (g + penalty / 4 * g_pen).detach()
    return float(value.detach()), g.detach()


def train(model, theta0: torch.Tensor, X: torch.Tensor, y: torch.Tensor, optimizer: Optimizer, *, loss: str = "ce",
          max_steps: int = 1000, batch_size: int | None = None, generator: torch.Generator | None = None,
          penalty: float = 0.0, stop: Callable[[TrainState], str | None] | None = None,
          callbacks: tuple = (), every: int = 1, init_velocity: torch.Tensor | None = None) -> TrainResult:
    """Train ``theta0`` (P,) on (X, y) and return the final parameters, steps, reason and ``history``."""
    require(loss in LOSSES, f"unknown loss {loss!r}; known: {', '.join(LOSSES)}")
    require(max_steps >= 0 and every >= 1, "max_steps must be >= 0 and every >= 1")
    n = X.shape[0]
    full = batch_size is None or batch_size >= n
    require(full or generator is not None, "mini-batch training needs a torch generator")
    require(full or batch_size >= 1, f"batch_size must be >= 1, got {batch_size}")
    theta = theta0.detach().clone()
    opt_state = optimizer.init(theta, init_velocity)
    history: list[dict] = []
    order, pos, epoch = None, n, 0
    reason = "max_steps"
    state = None

    def record(st: TrainState):
        for cb in callbacks:
            row = cb(st)
            if row is not None:
                history.append({"step": st.step, **row})

    for step in range(max_steps):
        if full:
            idx = None
        else:
            if pos >= n:
                order, pos, epoch = torch.randperm(n, generator=generator).to(X.device), 0, epoch + (order is not None)
            idx = order[pos:pos + batch_size]
            pos += batch_size
        Xb, yb = (X, y) if idx is None else (X[idx], y[idx])
        value, g = batch_gradient(model, theta, Xb, yb, loss, penalty)
        state = TrainState(step, epoch, theta, value, g, opt_state)
        if not (torch.isfinite(g).all() and abs(value) < float("inf")):
            reason = "diverged"
            break
        if step % every == 0:
            record(state)
        if stop is not None:
            why = stop(state)
            if why:
                reason = why
                break
        theta = optimizer.step(theta, g, opt_state)
        if full and idx is None:
            epoch = step + 1
    else:
        step = max_steps
    final = TrainState(step, epoch, theta, float("nan"), torch.zeros(0), opt_state)
    if callbacks and reason != "diverged":
        record(final)
    return TrainResult(theta=theta, steps=step, reason=reason, history=history)
