"""Normalized losses of classifiers, for Guess & Check's loss bins.

- ``frobenius`` (Chiang et al., ICLR 2023, "Loss Landscapes are All You Need", §3): logits divided by the
  product of the Frobenius norms of the weight matrices/kernels, Π_l ‖W_l‖_F (biases excluded). Chiang et al.
  divide each norm by 3 for LeNet; ``divisor`` (default 1) is that per-layer constant.
- ``lipschitz`` (Peleg & Hein, ICML 2024): logits divided by L̂ = max over reference inputs (the test set) of
  ‖∇_x (f_1 − f_0)(x)‖_2, an estimate of the margin's Lipschitz constant (two classes only).
- ``none``: the raw logits.
The normalized cross-entropy is the mean over the training points of CE(logits / N(θ)). Every number in a
record says which normalization produced it. Batched: ``theta`` (B, P) gives (B,) values.
"""
from __future__ import annotations

import torch

from numerics.errors import require
from numerics.trainers import loss_value

NORMALIZATIONS = ("none", "frobenius", "lipschitz")


def frobenius_product(model, theta: torch.Tensor, divisor: float = 1.0) -> torch.Tensor:
    """Π_l ‖W_l‖_F / divisor over the weight blocks of ``model`` (biases excluded): (B,) for theta (B, P)."""
    th = theta if theta.dim() == 2 else theta.unsqueeze(0)
    out = torch.ones(th.shape[0], dtype=th.dtype, device=th.device)
    for block, part in zip(model.blocks, model.split(th)):
        if not block.is_bias:
            out = out * part.reshape(th.shape[0], -1).norm(dim=1) / divisor
    return out if theta.dim() == 2 else out[0]


def margin_gradients(model, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """∇_x (f_1 − f_0)(x) for every model and input: (B, N, d) for theta (B, P), X (N, d)."""
    from torch.func import grad, vmap
    require(model.out_dim == 2, f"the Lipschitz normalization needs two classes, got {model.out_dim}")

    def margin(x, th):
        out = model(th, x.unsqueeze(0))[0]
        return out[1] - out[0]

    th = theta if theta.dim() == 2 else theta.unsqueeze(0)
    g = vmap(vmap(grad(margin), in_dims=(0, None)), in_dims=(None, 0))(X, th)
    return g if theta.dim() == 2 else g[0]


def lipschitz_estimate(model, theta: torch.Tensor, X_ref: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """L̂(θ) = max over the rows of ``X_ref`` of ‖∇_x (f_1 − f_0)(x)‖_2: (B,) for theta (B, P)."""
    th = theta if theta.dim() == 2 else theta.unsqueeze(0)
    parts = [margin_gradients(model, th[i:i + chunk], X_ref).norm(dim=-1).amax(dim=-1) for i in range(0, th.shape[0], chunk)]
    out = torch.cat(parts) if parts else torch.zeros(0, dtype=th.dtype, device=th.device)
    return out if theta.dim() == 2 else out[0]


def normalizer(model, theta: torch.Tensor, normalization: str, *, X_ref: torch.Tensor | None = None,
               divisor: float = 1.0) -> torch.Tensor:
    """N(θ) of ``normalization`` ((B,) for theta (B, P)); ``X_ref`` (the test inputs) for ``lipschitz``."""
    require(normalization in NORMALIZATIONS, f"unknown normalization {normalization!r}; known: {', '.join(NORMALIZATIONS)}")
    if normalization == "frobenius":
        return frobenius_product(model, theta, divisor)
    if normalization == "lipschitz":
        require(X_ref is not None, "the Lipschitz normalization needs reference inputs (X_ref)")
        return lipschitz_estimate(model, theta, X_ref)
    return torch.ones(theta.shape[:-1], dtype=theta.dtype, device=theta.device)


def normalized_cross_entropy(model, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, normalization: str, *,
                             X_ref: torch.Tensor | None = None, divisor: float = 1.0) -> torch.Tensor:
    """Mean over (X, y) of CE(f_θ(x) / N(θ), y): (B,) for theta (B, P), a scalar for theta (P,)."""
    logits = model(theta, X)
    scale = normalizer(model, theta, normalization, X_ref=X_ref, divisor=divisor)
    return loss_value("ce", logits / scale.reshape(*scale.shape, 1, 1), y)
