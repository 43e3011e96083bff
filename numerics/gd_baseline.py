"""Gradient-descent baseline for the Guess & Check width and depth checks.

Paper's claim (Alexander, Slutzky, Ran-Milo, Cohen 2025, arXiv 2506.03931, Proposition 1, after
Soltanolkotabi, Stöger, Xie 2023, "Implicit balancing and regularization: generalization and convergence
guarantees for overparameterized asymmetric matrix sensing"): for depth 2, linear σ, RIP measurements and
any width k ≥ r, gradient descent on ``L_train`` from a small random initialization of scale α reaches a
generalization loss that vanishes as α → 0. The checks use this module as the baseline that G&C is
compared with (the paper's Proposition 1): ``L_gen(GD)`` far below chance at every width and depth, decreasing as α → 0.

This package's formalization:
- Model ``W = W_d σ(W_{d−1} σ(⋯ σ(W_1)))`` evaluated on the identity input (W_1 k×m', W_j k×k, W_d m×k).
  Initialization (``init``), drawn from the caller's CPU ``torch.Generator`` in one call over all entries
  (W_1 first, each layer row-major): ``"torch_default"`` — the authors': PyTorch's default
  ``nn.Linear`` weight law U(±1/√fan_in) (fan_in = the layer's columns: m' for W_1, k after) times the scale
  α; ``"gaussian"`` — every entry i.i.d. N(0, α²) (this package's first baseline). With the latter the
  initial product's norm grows like √k, with the former it does not (the 1/√fan_in factor).
- ``optimizer="gd"``: plain gradient descent. ``optimizer="adaptive"``: the authors' "GroupRMSprop", one
  global step ``lr / (√v̂_t + 1e-6)`` with ``v_t = 0.99 v_{t−1} + 0.01 ‖g_t‖²`` (squared gradient norm
  over all layers) and ``v̂_t = v_t / (1 − 0.99^t)``.
- Heavy-ball momentum μ: ``b ← μ b + g; θ ← θ − step · b``. Applying the buffer is our choice: the authors'
  optimizer kept a momentum buffer that was never applied to the parameters.
- Gradients: by default a hand-written backward pass in numpy (``engine="manual"``), several times faster
  than torch autograd for these tiny matrices (the per-op overhead dominates); ``engine="autograd"`` runs
  the whole loop in torch tensors on ``device`` (``numerics.device.resolve_device``) with torch autograd; it
  is the reference the manual pass is tested against, and the engine used on a non-CPU device. Both start
  from the same CPU-drawn initialization (moved to the device) and produce the same trajectory up to
  rounding.
- Stopping: ``L_train < tol`` → converged; a non-finite loss → diverged (reported, never raised).

Measured on m = m' = 5, r = 1, n = 15 Gaussian problems (not claims of the paper): about one problem in ten
violates RIP badly enough that GD from small initialization converges to a poor interpolant at every width
and α (L_gen ≈ 0.2–0.5 of chance), so sweeps should report medians over problems, as the paper does; leaky
ReLU at width 5 and depth ≥ 4 often fails to reach tol 1e-6 in 2·10^4 adaptive steps.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from numerics.activations import Activation, parse_activation
from numerics.device import resolve_device
from numerics.errors import require
from numerics.problems import SensingProblem

OPTIMIZERS = ("gd", "adaptive")
ENGINES = ("manual", "autograd")
INITS = ("gaussian", "torch_default")
RMS_DECAY = 0.99  # EMA factor of the adaptive step (the authors' value)
RMS_EPS = 1e-6  # added to √v̂ (the authors' value)
HISTORY_POINTS = 200  # at most this many (step, loss) pairs are kept, log-spaced in the step


@dataclass(frozen=True)
class GDResult:
    train_loss: float
    gen_loss: float  # NaN when diverged
    converged: bool  # train_loss < tol
    steps: int  # parameter updates performed
    W: np.ndarray  # end-to-end m × m'
    diverged: bool = False  # the loss became non-finite
    weights: tuple[np.ndarray, ...] = ()  # final layers W_1, …, W_d
    history_steps: np.ndarray | None = None  # update counts at which the loss was recorded (log-spaced)
    history_loss: np.ndarray | None = None  # L_train at those points
    seconds: float = 0.0


@dataclass(frozen=True)
class InitScaleSweep:
    """``L_gen`` of GD against the initialization scale α (same random direction, rescaled by each α)."""
    init_scales: np.ndarray
    gen_loss: np.ndarray
    train_loss: np.ndarray
    converged: np.ndarray
    steps: np.ndarray


def layer_shapes(m: int, mp: int, width: int, depth: int) -> list[tuple[int, int]]:
    return [(width, mp)] + [(width, width)] * (depth - 2) + [(m, width)]


def end_to_end(weights, activation: Activation):
    """``W_d σ(⋯ σ(W_1))`` for a list of numpy arrays or torch tensors."""
    h = weights[0]
    for W in weights[1:]:
        h = W @ activation(h)
    return h


def activation_derivative(activation: Activation, pre: np.ndarray, post: np.ndarray):
    """σ'(pre) given ``post = σ(pre)``; None for the identity (the caller skips the product)."""
    if activation.name == "linear":
        return None
    if activation.name == "tanh":
        return 1.0 - post * post
    # leaky ReLU: σ' = (1 + s)/2 + (1 − s)/2 · sign(pre), the cheapest form for tiny arrays
    return 0.5 * (1.0 + activation.slope) + (0.5 * (1.0 - activation.slope)) * np.sign(pre)


def manual_loss_and_gradients(weights: list[np.ndarray], activation: Activation, A_flat: np.ndarray,
                              y: np.ndarray, out: list[np.ndarray] | None = None):
    """``(L_train, [dL/dW_1, …, dL/dW_d])`` by a hand-written backward pass (numpy).

    With ``out`` (arrays of the layers' shapes) the gradients are written there and ``out`` is returned.
    """
    grads = [np.empty_like(W) for W in weights] if out is None else out
    pres, posts = [], []
    h = weights[0]
    for W in weights[1:]:
        pres.append(h)
        posts.append(activation(h))
        h = W @ posts[-1]
    n = y.shape[0]
    residual = A_flat @ h.reshape(-1) - y
    loss = float(residual @ residual) / n
    upstream = ((2.0 / n) * (residual @ A_flat)).reshape(h.shape)  # dL/d(output of layer j)
    for j in range(len(weights) - 1, 0, -1):
        np.matmul(upstream, posts[j - 1].T, out=grads[j])
        upstream = weights[j].T @ upstream
        slope = activation_derivative(activation, pres[j - 1], posts[j - 1])
        if slope is not None:
            upstream *= slope
    np.copyto(grads[0], upstream)
    return loss, grads


def autograd_loss_and_gradients(weights, activation: Activation, A_flat: torch.Tensor, y: torch.Tensor,
                                out=None):
    """``(L_train, [dL/dW_1, …, dL/dW_d])`` by torch autograd (the reference); ``weights`` numpy arrays or
    torch tensors (then on the device of ``A_flat``), ``out`` as above (of the same kind)."""
    tensors = torch.is_tensor(weights[0])
    leaves = [(W.detach() if tensors else torch.from_numpy(W)).requires_grad_() for W in weights]
    residual = A_flat @ end_to_end(leaves, activation).reshape(-1) - y
    loss = residual.dot(residual) / y.shape[0]
    grads = list(torch.autograd.grad(loss, leaves))
    if not tensors:
        grads = [g.numpy() for g in grads]
    if out is not None:
        for target, g in zip(out, grads):
            target.copy_(g) if tensors else np.copyto(target, g)
        grads = out
    return float(loss.detach()), grads


def gradient_oracle(problem: SensingProblem, activation: Activation, engine: str = "manual",
                    device: torch.device | str = "cpu"):
    """A function ``(weights, out) -> L_train`` that writes ``dL/dW_j`` into ``out[j]``."""
    require(engine in ENGINES, f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    if engine == "manual":
        A_flat, y, compute = np.ascontiguousarray(problem.A_flat), problem.y, manual_loss_and_gradients
    else:
        A_flat, y = (torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in (problem.A_flat, problem.y))
        compute = autograd_loss_and_gradients
    return lambda weights, out: compute(weights, activation, A_flat, y, out)[0]


def squared_norm(v) -> float:
    if torch.is_tensor(v):
        return float(torch.dot(v, v))
    # OpenBLAS runs ddot multi-threaded above 10^4 entries, which under CPU contention can cost
    # milliseconds per call (measured); einsum never threads.
    return float(v @ v) if v.size <= 10_000 else float(np.einsum("i,i->", v, v))


def split_layers(flat: np.ndarray, shapes) -> list[np.ndarray]:
    """Views of consecutive blocks of ``flat`` with the given shapes."""
    sizes = np.cumsum([0] + [r * c for r, c in shapes])
    return [flat[a:b].reshape(shape) for a, b, shape in zip(sizes[:-1], sizes[1:], shapes)]


def initial_parameters(shapes, init_scale: float, generator: torch.Generator, init: str = "gaussian") -> np.ndarray:
    """All layers (W_1 first, row-major) in one flat vector, drawn from the CPU ``generator``: entries i.i.d.
    N(0, init_scale²) (``gaussian``) or U(±init_scale/√fan_in), fan_in = the layer's columns
    (``torch_default``: PyTorch's default ``nn.Linear`` weight law times the scale)."""
    require(init in INITS, f"unknown init {init!r}; known: {', '.join(INITS)}")
    size = sum(r * c for r, c in shapes)
    if init == "gaussian":
        return (init_scale * torch.randn(size, generator=generator, dtype=torch.float64)).numpy()
    bound = np.concatenate([np.full(r * c, 1.0 / math.sqrt(c)) for r, c in shapes])
    u = torch.rand(size, generator=generator, dtype=torch.float64).numpy()
    return init_scale * bound * (2.0 * u - 1.0)


def _is_integer(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def validate_training(width, depth, init_scale, lr, steps, optimizer, momentum, tol) -> None:
    """Raise :class:`UserInputError` (one line) unless the training parameters are usable."""
    require(_is_integer(width) and width >= 1, f"width must be a positive integer, got {width!r}")
    require(_is_integer(depth) and depth >= 2, f"depth must be an integer >= 2, got {depth!r}")
    require(_is_integer(steps) and steps >= 1, f"steps must be a positive integer, got {steps!r}")
    require(_is_real(init_scale) and math.isfinite(init_scale) and init_scale > 0,
            f"init_scale must be a positive finite number, got {init_scale!r}")
    require(_is_real(lr) and math.isfinite(lr) and lr > 0, f"lr must be a positive finite number, got {lr!r}")
    require(_is_real(momentum) and 0 <= momentum < 1, f"momentum must be in [0, 1), got {momentum!r}")
    require(_is_real(tol) and tol >= 0, f"tol must be a number >= 0, got {tol!r}")
    require(optimizer in OPTIMIZERS, f"unknown optimizer {optimizer!r}; known: {', '.join(OPTIMIZERS)}")


def train_factorization(problem: SensingProblem, *, width: int, depth: int, activation: Activation | str,
                        init_scale: float, lr: float, steps: int, optimizer: str = "adaptive",
                        momentum: float = 0.0, tol: float = 1e-8, generator: torch.Generator,
                        engine: str = "manual", init: str = "gaussian", device: str = "cpu") -> GDResult:
    """Train the depth-``depth``, width-``width`` factorization on ``problem`` by (adaptive) GD.

    At most ``steps`` updates; stops as soon as ``L_train < tol``. The returned losses are those of the
    returned end-to-end matrix, computed by ``problem.train_loss`` / ``problem.gen_loss``. ``init`` is the
    initialization law (module doc); on a non-CPU ``device`` the autograd engine runs there (the manual
    engine is numpy, CPU only), from the same CPU-drawn initialization.
    """
    validate_training(width, depth, init_scale, lr, steps, optimizer, momentum, tol)
    require(isinstance(generator, torch.Generator), "generator must be a torch.Generator")
    require(engine in ENGINES, f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    dev = resolve_device(device)
    engine = "autograd" if dev.type != "cpu" else engine
    activation = parse_activation(activation)
    oracle = gradient_oracle(problem, activation, engine, dev)
    m, mp = problem.shape
    shapes = layer_shapes(m, mp, width, depth)
    # Parameters and gradients live in flat vectors with per-layer views: the optimizer's update, norm and
    # momentum are then one numpy (or torch) call each, whatever the depth.
    theta = initial_parameters(shapes, init_scale, generator, init)
    if engine == "autograd":
        theta = torch.from_numpy(theta).to(dev)
    grad = theta.new_zeros(theta.shape) if engine == "autograd" else np.empty_like(theta)
    weights, grads = split_layers(theta, shapes), split_layers(grad, shapes)
    buffer = (grad.clone() if engine == "autograd" else np.zeros_like(theta)) if momentum > 0 else None
    adaptive = optimizer == "adaptive"
    second_moment, decay_power = 0.0, 1.0
    losses = np.empty(steps + 1)
    diverged = False
    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps + 1):
            loss = oracle(weights, grads)
            losses[t] = loss
            if not math.isfinite(loss):
                diverged = True
                break
            if loss < tol or t == steps:
                break
            direction = grad
            if buffer is not None:
                buffer *= momentum
                buffer += grad
                direction = buffer
            step = lr
            if adaptive:
                second_moment = RMS_DECAY * second_moment + (1 - RMS_DECAY) * squared_norm(grad)
                decay_power *= RMS_DECAY
                step = lr / (math.sqrt(second_moment / (1 - decay_power)) + RMS_EPS)
            theta -= step * direction
        W_end = end_to_end(weights, activation)
    if engine == "autograd":
        W_end, weights = W_end.cpu().numpy(), [W.cpu().numpy() for W in weights]
    seconds = time.perf_counter() - start
    history_steps = _log_spaced(t)
    converged = (not diverged) and losses[t] < tol
    train = float(losses[t]) if diverged else float(problem.train_loss(W_end))
    gen = float("nan") if diverged else float(problem.gen_loss(W_end))
    return GDResult(train_loss=train, gen_loss=gen, converged=bool(converged), steps=t,
                    W=W_end, diverged=diverged, weights=tuple(W.copy() for W in weights), history_steps=history_steps, history_loss=losses[history_steps],
                    seconds=seconds)


def gd_gen_vs_init_scale(problem: SensingProblem, width: int, init_scales, *, depth: int = 2,
                         activation: Activation | str = "linear", lr: float = 1e-4, steps: int = 20_000,
                         optimizer: str = "adaptive", momentum: float = 0.9, tol: float = 1e-9,
                         generator: torch.Generator, engine: str = "manual", init: str = "gaussian",
                         device: str = "cpu") -> InitScaleSweep:
    """GD's ``L_gen`` at each initialization scale α (Proposition 1: decreases as α → 0 for d = 2, linear σ).

    Every run starts from the same standard-normal draw rescaled by its α (common random numbers, so the
    fitted slope against α is not blurred by the randomness of the initial direction). ``generator``
    advances as after a single initialization.

    Keep α above ~lr: the adaptive step moves every parameter by about lr per step whatever its size, so it
    erases initialization scales much below lr (measured). Plain GD keeps every scale but its last phase is
    ill-conditioned (it rarely reaches tol 1e-9 in 2·10^4 steps). The defaults (adaptive, lr 1e-4, heavy
    ball 0.9, tol 1e-9) reach tol in ~3000 steps for α ∈ [1e-4, 0.1] on the package's m = m' = 5, r = 1,
    n = 15 problems (median L_gen ∝ α^1.2 there, measured over 20 problems).
    """
    scales = np.asarray(init_scales, dtype=float).reshape(-1)
    require(scales.size >= 1 and np.all(np.isfinite(scales)) and np.all(scales > 0),
            f"init_scales must be positive finite numbers, got {init_scales!r}")
    require(isinstance(generator, torch.Generator), "generator must be a torch.Generator")
    state = generator.get_state()
    results = []
    for alpha in scales:
        generator.set_state(state)
        results.append(train_factorization(problem, width=width, depth=depth, activation=activation,
                                           init_scale=float(alpha), lr=lr, steps=steps, optimizer=optimizer,
                                           momentum=momentum, tol=tol, generator=generator, engine=engine,
                                           init=init, device=device))
    return InitScaleSweep(init_scales=scales,
                          gen_loss=np.array([r.gen_loss for r in results]),
                          train_loss=np.array([r.train_loss for r in results]),
                          converged=np.array([r.converged for r in results]),
                          steps=np.array([r.steps for r in results]))


def _log_spaced(last: int) -> np.ndarray:
    """0, …, last: at most HISTORY_POINTS distinct integers, log-spaced, both ends included."""
    if last + 1 <= HISTORY_POINTS:
        return np.arange(last + 1)
    grid = np.unique(np.round(np.geomspace(1, last + 1, HISTORY_POINTS)).astype(int) - 1)
    return grid
