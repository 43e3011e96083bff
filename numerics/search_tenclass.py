"""Ten-class runs of Chiang et al.'s Table 4 (ICLR 2023, "Loss Landscapes are All You Need"): pattern search,
random greedy search and SGD on ten-class tasks with n = 100 … 1000, compared by test accuracy.

- The searches are :func:`numerics.search.pattern_search` and :func:`numerics.search.random_greedy`, which are
  written for any number of classes (margins over all classes, cross-entropy over all logits), batched over
  independent runs. This module draws their starting points from the prior, runs them on a device and
  measures the runs' test accuracies; a run ends at 100 % training accuracy or when its budget is spent, and
  its test accuracy is measured either way (``fitted`` says which).
- Objective: the normalized training cross-entropy. For LeNet it is Chiang et al.'s, with every layer's
  Frobenius norm divided by 3: :class:`ScaledLogits` multiplies the logits by 3^L (L weight layers), which
  is exactly the same normalized loss (logits · 3^L / Π‖W_l‖_F = logits / Π(‖W_l‖_F / 3)) and the same
  predictions, so the searches need no change.
- SGD with Table 4's settings (:data:`TABLE4_SGD`): PyTorch's default initialization, lr 0.01, momentum 0.5
  (heavy-ball, as ``torch.optim.SGD(momentum=0.5)``), batch 64, 400 epochs, cross-entropy; the test accuracy
  at the end of training (``epochs`` can be lowered for quick runs and is then stated by the caller).
Random numbers come from CPU generators and are moved to the device, so a seed means the same runs on every
device.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from numerics.errors import require
from numerics.gnc_classifier import margins_of_logits
from numerics.models import sample_prior
from numerics.search import SearchResult, pattern_search, random_greedy
from numerics.trainers import Optimizer, train

METHODS = ("pattern_search", "random_greedy", "sgd")
TABLE4_SGD = {"init": "torch_default", "lr": 0.01, "momentum": 0.5, "batch_size": 64, "epochs": 400}


class ScaledLogits:
    """``model`` with its logits multiplied by ``factor`` (same blocks and parameters): with factor
    divisor^L, the package's Frobenius normalization becomes Chiang et al.'s per-layer-divided one."""

    def __init__(self, model, factor: float):
        self.model, self.factor = model, float(factor)
        self.blocks, self.out_dim, self.n_params = model.blocks, model.out_dim, model.n_params

    def split(self, theta):
        return self.model.split(theta)

    def __call__(self, theta, X):
        return self.model(theta, X) * self.factor


def objective_model(model, normalization: str):
    """The model the searches should see: LeNet under the Frobenius normalization gets Chiang's divisor."""
    divisor = getattr(model, "norm_divisor", 1.0)
    if normalization != "frobenius" or divisor == 1.0:
        return model
    layers = sum(1 for b in model.blocks if not b.is_bias)
    return ScaledLogits(model, divisor ** layers)


def accuracies(model, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, images: int = 512) -> np.ndarray:
    """Test accuracy (strict margins) of each of the models ``theta`` (R, P), over chunks of images."""
    right = torch.zeros(theta.shape[0], dtype=torch.float64, device=theta.device)
    with torch.no_grad():
        for j in range(0, X.shape[0], images):
            right += (margins_of_logits(model(theta, X[j:j + images]), y[j:j + images]) > 0).sum(-1).to(torch.float64)
    return (right / X.shape[0]).cpu().numpy()


@dataclass
class RunResults:
    method: str
    test_acc: np.ndarray  # (R,)
    train_acc: np.ndarray  # (R,)
    fitted: np.ndarray  # (R,) bool: 100 % training accuracy at the end
    steps: np.ndarray  # (R,) objective evaluations (searches) or SGD steps


def search(method: str, model, X: torch.Tensor, y: torch.Tensor, runs: int, generator: torch.Generator, *,
           prior: str = "uniform", scale: float = 1.0, normalization: str = "frobenius", r0: float = 0.5,
           sweeps: int = 4, steps: int = 600, candidates: int = 16, device="cpu") -> SearchResult:
    """``runs`` independent pattern-search or random-greedy runs from prior draws, batched, on ``device``."""
    require(method in ("pattern_search", "random_greedy"), f"unknown search {method!r}")
    require(runs >= 1, f"runs must be >= 1, got {runs}")
    device = torch.device(device)
    theta0 = sample_prior(model, prior, runs, generator, scale=scale).to(device)
    X, y = X.to(device), y.to(device)
    target = objective_model(model, normalization)
    if method == "pattern_search":
        return pattern_search(target, X, y, theta0, generator, r0=r0, max_sweeps=sweeps, normalization=normalization)
    return random_greedy(target, X, y, theta0, generator, r0=r0, candidates=candidates, max_steps=steps,
                         normalization=normalization)


def sgd(model, X: torch.Tensor, y: torch.Tensor, generator: torch.Generator, *, init: str = "torch_default",
        lr: float = 0.01, momentum: float = 0.5, batch_size: int = 64, epochs: int = 400, device="cpu") -> tuple:
    """One SGD run with Table 4's settings (by default); returns (theta, steps, reason)."""
    require(epochs >= 1 and batch_size >= 1 and lr > 0, "sgd needs epochs, batch_size >= 1 and lr > 0")
    device = torch.device(device)
    X, y = X.to(device), y.to(device)
    theta0 = sample_prior(model, init, 1, generator)[0].to(device)
    batch = min(batch_size, X.shape[0])
    opt = Optimizer("heavy_ball", lr=lr, momentum=momentum) if momentum > 0 else Optimizer("sgd", lr=lr)
    res = train(model, theta0, X, y, opt, loss="ce", max_steps=epochs * math.ceil(X.shape[0] / batch),
                batch_size=batch, generator=generator)
    return res.theta, res.steps, res.reason


def compare(model, data, runs: int, generator: torch.Generator, *, methods=METHODS, prior: str = "uniform",
            normalization: str = "frobenius", sweeps: int = 4, steps: int = 600, candidates: int = 16,
            r0_pattern: float = 0.5, r0_greedy: float = 0.1, sgd_epochs: int = 400, sgd_runs: int | None = None,
            device="cpu") -> dict:
    """Table 4 on one task: per method, the runs' test and training accuracies (:class:`RunResults`). The
    initial step sizes (0.5 for pattern search, 0.1 for random greedy, as in ``volume_hypothesis``'s
    two-class runs) are this package's choices."""
    require(set(methods) <= set(METHODS), f"methods must be among {', '.join(METHODS)}, got {list(methods)}")
    device = torch.device(device)
    t = lambda a, dt: torch.as_tensor(np.ascontiguousarray(a), dtype=dt, device=device)
    X, y, Xt, yt = t(data.X_train, torch.float64), t(data.y_train, torch.int64), t(data.X_test, torch.float64), t(data.y_test, torch.int64)
    out = {}
    for method in methods:
        if method == "sgd":
            thetas, nsteps = [], []
            for _ in range(sgd_runs or runs):
                theta, k, _ = sgd(model, X, y, generator, epochs=sgd_epochs, device=device,
                                  **{k: v for k, v in TABLE4_SGD.items() if k != "epochs"})
                thetas.append(theta)
                nsteps.append(k)
            theta, nsteps = torch.stack(thetas), np.array(nsteps)
        else:
            res = search(method, model, X, y, runs, generator, prior=prior, normalization=normalization,
                         r0=r0_pattern if method == "pattern_search" else r0_greedy, sweeps=sweeps, steps=steps, candidates=candidates, device=device)
            theta, nsteps = res.theta, res.steps.cpu().numpy()
        train_acc = accuracies(model, theta, X, y)
        out[method] = RunResults(method, accuracies(model, theta, Xt, yt), train_acc, train_acc == 1.0, nsteps)
    return out
