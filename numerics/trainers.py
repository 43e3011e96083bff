"""One trainer for the real-network checks: SGD, full-batch GD, heavy-ball,
Adam and RMSProp on cross-entropy or MSE, on a flat parameter vector, float64 by default.

- Losses: ``ce`` (mean cross-entropy), ``mse`` (½‖f(x) − e_y‖² averaged over the examples, Cohen et al.).
- :class:`Optimizer`: the update rules, written out (no ``torch.optim``) so that the modified-flow analyses
  of ``theory/`` refer to exactly these iterations:
  - ``sgd``/``gd``: θ ← θ − η g;
  - ``heavy_ball``: v ← β v + g, θ ← θ − η v (v₀ = 0 unless ``init_velocity`` is given);
  - ``rmsprop``: s ← β₂ s + (1 − β₂) g², θ ← θ − η g / (√s + ε) (s₀ = 0);
  - ``adam``: m ← β₁ m + (1 − β₁) g, s as RMSProp, bias-corrected, θ ← θ − η m̂ / (√ŝ + ε).
  These are the updates of ``torch.optim.SGD`` (with ``momentum=β``, no dampening), ``RMSprop(alpha=β₂)``
  and ``Adam``, equal to them up to rounding: ≤ 1e-14 of max|θ| over 10 steps (tests/test_trainers.py,
  tests/test_accuracy.py). Over long runs the dynamics amplify rounding differences: a one-ulp change of θ₀
  grows ~60-fold (β₂ = 0.999) to ~2e3-fold (β₂ = 0.9) over 300 Adam steps at lr 3e-3 on a ReLU MLP of 200
  digits (measured; ~1e6-fold has been reported for other Adam runs, i.e. agreement to ~1e-9 only), so long
  trajectories agree to about (steps × amplification) ulps of max|θ|, not bit for bit.
  Two options serve the modified-flow analyses of ``theory/implicit_regularizers.py``: ``eps_in_sqrt``
  (divide by √(s + ε) instead of √s + ε, the form of Cattaneo, Klusowski & Shigida 2024) and
  ``bias_correction=False`` (Adam without m̂, ŝ); ``init_state`` warm-starts the optimizer's buffers
  (e.g. m₀ = g₀, s₀ = g₀²).
  Heavy-ball's buffer: with ``init_velocity`` v₋₁ the first step uses v₀ = β v₋₁ + g₀, so
  ``init_velocity = g₀/(1 − β)`` makes v₀ = g₀/(1 − β), the buffer's steady state (no O(h) transient).
- Mini-batches: each epoch a permutation from the given CPU ``torch.Generator`` (``batch_size=None`` is
  full-batch GD); ``drop_last`` is False.
- ``penalty`` λ > 0 adds the explicit regularizer (λ/4)‖∇C_k‖² of the mini-batch loss C_k (double backprop;
  Smith et al. 2021).
- ``callbacks``: ``fn(state) -> dict | None`` called every ``every`` steps (and at the end); returned dicts go
  to ``history`` (with ``step``). ``stop(state) -> str | None`` ends training with that reason. The state
  carries the batch's own loss gradient (``loss_grad``, without the penalty), so per-mini-batch gradient
  norms cost nothing extra (:func:`batch_grad_norm`); :func:`metrics_callback` records losses, errors and
  parameter norms; :class:`LossGoal` is a stop rule on the full training
  loss of the raw iterate or of the average of the last epoch's iterates (the mean iterate that
  backward-error analyses describe, Smith et al. 2021).
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
    bias_correction: bool = True  # Adam's m̂ = m/(1 − β₁ᵗ), ŝ = s/(1 − β₂ᵗ)
    eps_in_sqrt: bool = False  # RMSProp/Adam divide by √(s + ε) instead of √s + ε

    def __post_init__(self):
        require(self.name in OPTIMIZERS, f"unknown optimizer {self.name!r}; known: {', '.join(OPTIMIZERS)}")
        require(self.lr > 0, f"learning rate must be > 0, got {self.lr}")
        require(0 <= self.momentum < 1 and 0 <= self.beta1 < 1 and 0 <= self.beta2 < 1 and self.eps >= 0,
                "momentum, beta1, beta2 must be in [0, 1) and eps >= 0")

    def init(self, theta: torch.Tensor, init_velocity: torch.Tensor | None = None,
             init_state: dict | None = None) -> dict:
        """The optimizer's buffers: zeros, or ``init_velocity`` (heavy-ball's v), or any of ``init_state``'s
        entries (``v``; ``m``, ``s``, ``t``)."""
        z = torch.zeros_like(theta)
        if self.name == "heavy_ball":
            st = {"v": z if init_velocity is None else init_velocity.clone()}
        elif self.name in ("rmsprop", "adam"):
            st = {"m": z.clone(), "s": z.clone(), "t": 0}
        else:
            st = {}
        for key, value in (init_state or {}).items():
            require(key in st,
                    f"init_state key {key!r} is not a buffer of {self.name} (has: {', '.join(st) or 'none'})")
            st[key] = value.detach().clone() if isinstance(value, torch.Tensor) else value
        return st

    def denominator(self, s: torch.Tensor) -> torch.Tensor:
        return (s + self.eps).sqrt() if self.eps_in_sqrt else s.sqrt() + self.eps

    def preconditioner(self, st: dict) -> torch.Tensor:
        """RMSProp's / Adam's elementwise factor of the current state: 1/(√ŝ + ε) (or 1/√(ŝ + ε)), ŝ = s
        bias-corrected for Adam; a ``ValueError`` for the other optimizers (they have none)."""
        if self.name not in ("rmsprop", "adam"):
            raise ValueError(f"{self.name} has no preconditioner")
        s = st["s"]
        if self.name == "adam" and self.bias_correction and st["t"] > 0:
            s = s / (1 - self.beta2 ** st["t"])
        return 1.0 / self.denominator(s)

    def step(self, theta: torch.Tensor, g: torch.Tensor, st: dict) -> torch.Tensor:
        if self.name in ("sgd", "gd"):
            return theta - self.lr * g
        if self.name == "heavy_ball":
            st["v"] = self.momentum * st["v"] + g
            return theta - self.lr * st["v"]
        st["t"] += 1
        st["s"] = self.beta2 * st["s"] + (1 - self.beta2) * g * g
        if self.name == "rmsprop":
            return theta - self.lr * g / self.denominator(st["s"])
        st["m"] = self.beta1 * st["m"] + (1 - self.beta1) * g
        m_hat, s_hat = st["m"], st["s"]
        if self.bias_correction:
            m_hat = m_hat / (1 - self.beta1 ** st["t"])
            s_hat = s_hat / (1 - self.beta2 ** st["t"])
        return theta - self.lr * m_hat / self.denominator(s_hat)


@dataclass
class TrainState:
    step: int
    epoch: int
    theta: torch.Tensor
    batch_loss: float
    grad: torch.Tensor  # the gradient used for this step (of the penalized objective if penalty > 0)
    optimizer_state: dict
    loss_grad: torch.Tensor | None = None  # ∇C_k of this step's batch alone (= grad when penalty = 0)
    batch: torch.Tensor | None = None  # the rows of this step's batch (None: full batch)


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
    value, _, g = penalized_gradient(model, theta, X, y, loss, penalty)
    return value, g


def penalized_gradient(model, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, loss: str,
                       penalty: float = 0.0) -> tuple[float, torch.Tensor, torch.Tensor]:
    """(C_k, ∇C_k, ∇[C_k + (penalty/4)‖∇C_k‖²]) of the batch (X, y); ∇‖∇C_k‖² = 2 H_k ∇C_k by double backprop."""
    th = theta.detach().requires_grad_(True)
    value = loss_value(loss, model(th, X), y)
    (g,) = torch.autograd.grad(value, th, create_graph=penalty > 0)
    if penalty > 0:
        (g_pen,) = torch.autograd.grad(g.pow(2).sum(), th)
        return float(value.detach()), g.detach(), (g + penalty / 4 * g_pen).detach()
    g = g.detach()
    return float(value.detach()), g, g


def train(model, theta0: torch.Tensor, X: torch.Tensor, y: torch.Tensor, optimizer: Optimizer, *, loss: str = "ce",
          max_steps: int = 1000, batch_size: int | None = None, generator: torch.Generator | None = None,
          penalty: float = 0.0, stop: Callable[[TrainState], str | None] | None = None,
          callbacks: tuple = (), every: int = 1, init_velocity: torch.Tensor | None = None,
          init_state: dict | None = None) -> TrainResult:
    """Train ``theta0`` (P,) on (X, y) and return the final parameters, steps, reason and ``history``."""
    require(loss in LOSSES, f"unknown loss {loss!r}; known: {', '.join(LOSSES)}")
    require(max_steps >= 0 and every >= 1, "max_steps must be >= 0 and every >= 1")
    n = X.shape[0]
    full = batch_size is None or batch_size >= n
    require(full or generator is not None, "mini-batch training needs a torch generator")
    require(full or batch_size >= 1, f"batch_size must be >= 1, got {batch_size}")
    require(penalty >= 0, f"penalty must be >= 0, got {penalty}")
    theta = theta0.detach().clone()
    opt_state = optimizer.init(theta, init_velocity, init_state)
    history: list[dict] = []
    order, pos, epoch = None, n, 0
    reason = "max_steps"
    state = None

    last_recorded = None

    def record(st: TrainState):
        nonlocal last_recorded
        last_recorded = st.step
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
        value, g_loss, g = penalized_gradient(model, theta, Xb, yb, loss, penalty)
        state = TrainState(step, epoch, theta, value, g, opt_state, g_loss, idx)
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
    if callbacks and reason != "diverged" and last_recorded != step:  # a stop rule may end on a recorded step
        record(final)
    return TrainResult(theta=theta, steps=step, reason=reason, history=history)


def full_loss(model, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, loss: str) -> float:
    with torch.no_grad():
        return float(loss_value(loss, model(theta, X), y))


def error_rate(model, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> float:
    return 1.0 - float(accuracy(model, theta, X, y))


def metrics_callback(model, X: torch.Tensor, y: torch.Tensor, loss: str, *, X_test: torch.Tensor | None = None,
                     y_test: torch.Tensor | None = None, theta0: torch.Tensor | None = None):
    """Callback: full training loss and error, test loss and error (if given), ‖θ‖₂, ‖θ‖₁ and ‖θ − θ₀‖₂ (if
    ``theta0`` is given) at the current iterate."""
    def callback(state: TrainState) -> dict:
        th = state.theta
        row = {"epoch": state.epoch, "train_loss": full_loss(model, th, X, y, loss),
               "train_error": error_rate(model, th, X, y), "theta_l2": float(th.norm()),
               "theta_l1": float(th.abs().sum())}
        if X_test is not None:
            row["test_loss"] = full_loss(model, th, X_test, y_test, loss)
            row["test_error"] = error_rate(model, th, X_test, y_test)
        if theta0 is not None:
            row["distance_from_init"] = float((th - theta0).norm())
        return row
    return callback


def batch_grad_norm(state: TrainState) -> dict | None:
    """Callback: ‖∇C_k‖² of the step's own mini-batch, from the gradient the step computed anyway (free)."""
    if state.loss_grad is None:
        return None
    return {"batch_grad_sq": float(state.loss_grad.pow(2).sum()), "batch_loss": state.batch_loss}


class LossGoal:
    """Stop rule: the full training loss at or below ``goal``.

    ``average=False`` tests the raw iterate every ``every`` steps; ``average=True`` tests, at the start of each
    epoch, the mean of the previous epoch's iterates (full batch: every step is an epoch, so this is the raw
    iterate). After a stop, ``theta`` is the iterate (or average) that met the goal, ``loss`` its loss, and
    ``step`` the step at which it was met; before, ``theta`` is None.
    """

    def __init__(self, model, X: torch.Tensor, y: torch.Tensor, loss: str, goal: float, *, average: bool = False,
                 every: int = 1):
        require(every >= 1, f"every must be >= 1, got {every}")
        self.model, self.X, self.y, self.loss, self.goal = model, X, y, loss, float(goal)
        self.average, self.every = average, every
        self.theta, self.loss_at_stop, self.step = None, float("nan"), None
        self._sum, self._count, self._epoch = None, 0, None

    def _test(self, theta: torch.Tensor, step: int) -> str | None:
        value = full_loss(self.model, theta, self.X, self.y, self.loss)
        if value <= self.goal:
            self.theta, self.loss_at_stop, self.step = theta.clone(), value, step
            return "goal"
        return None

    def __call__(self, state: TrainState) -> str | None:
        if not self.average:
            return self._test(state.theta, state.step) if state.step % self.every == 0 else None
        if self._epoch is not None and state.epoch != self._epoch:
            why = self._test(self._sum / self._count, state.step)
            self._sum, self._count = None, 0
            if why:
                return why
        self._epoch = state.epoch
        self._sum = state.theta.clone() if self._sum is None else self._sum + state.theta
        self._count += 1
        return None
