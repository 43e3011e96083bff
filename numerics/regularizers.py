"""Per-mini-batch gradient norms and the implicit-regularizer terms of SGD, of the modified-loss project's
RMSProp proposal and of Adam, as functions and as cheap trainer callbacks.

Quantities (C_k the mean loss of mini-batch k of a FIXED partition of the training set into m batches, C the
full training loss, g = ∇C):
- ``R = (1/m) Σ_k ‖∇Ĉ_k‖²`` — Smith, Dherin, Barrett & De (ICLR 2021): the mean SGD iterate follows
  ``C + (η/4) R`` (their modified loss, with ``η/4m Σ_k``). Random reshuffling draws a new partition every
  epoch; R over one fixed partition drawn the same way is an unbiased estimate of its partition average.
- the modified-loss project's RMSProp term ``(η/4m) Σ_k ‖s ⊙ ∇C_k‖²``, ``s`` the optimizer's elementwise
  preconditioner at that moment (1/(√ŝ + ε)); the project's proposal, recorded to be judged, not believed.
  When every ŝ_i ≈ (1/m)Σ_k (∂_i C_k)² ≫ ε the batch-mean of ‖s ⊙ ∇C_k‖² is ≈ P (the number of parameters),
  so the term is ≈ ηP/4 whatever the network does: :func:`project_rmsprop_constant`.
- the perturbed one-norm ``‖g‖_{1,ε} = Σ_i √(g_i² + ε)`` — Cattaneo, Klusowski & Shigida (ICML 2024): the
  term Adam's / RMSProp's modified loss (typically anti-)penalizes.
- ``‖θ‖₂`` and ``‖θ‖₁``.
The batch gradients come from a loop over the batches (one backward pass each), so one evaluation costs about
one epoch of gradients; float64 throughout.
"""
from __future__ import annotations

import torch

from numerics.errors import require
from numerics.trainers import TrainState, loss_value, metrics_callback


def fixed_partition(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """A uniformly random partition of ``range(n)`` into consecutive slices of a permutation, ``batch_size``
    each (the last one smaller if ``batch_size`` does not divide n), drawn on the CPU generator."""
    require(n >= 1 and 1 <= batch_size, f"need n >= 1 and batch_size >= 1, got {n}, {batch_size}")
    perm = torch.randperm(n, generator=generator)
    return [perm[i:i + batch_size] for i in range(0, n, batch_size)]


def batch_gradients(model, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, loss: str,
                    batches) -> torch.Tensor:
    """(m, P): row k is ∇C_k(θ), C_k the mean loss over the rows ``batches[k]``."""
    th = theta.detach().requires_grad_(True)
    rows = []
    for idx in batches:
        idx = idx.to(X.device)
        (g,) = torch.autograd.grad(loss_value(loss, model(th, X[idx]), y[idx]), th)
        rows.append(g)
    return torch.stack(rows)


def full_gradient(batch_grads: torch.Tensor, batches) -> torch.Tensor:
    """∇C from the batch gradients of a partition: their mean weighted by batch size."""
    sizes = torch.tensor([len(b) for b in batches], dtype=batch_grads.dtype, device=batch_grads.device)
    return (sizes[:, None] * batch_grads).sum(0) / sizes.sum()


def sgd_regularizer(batch_grads: torch.Tensor) -> float:
    """R = (1/m) Σ_k ‖∇Ĉ_k‖²."""
    return float(batch_grads.pow(2).sum(1).mean())


def project_rmsprop_term(batch_grads: torch.Tensor, preconditioner: torch.Tensor, lr: float) -> float:
    """The modified-loss project's RMSProp term (η/4m) Σ_k ‖s ⊙ ∇C_k‖²."""
    return float(lr / 4 * (preconditioner * batch_grads).pow(2).sum(1).mean())


def project_rmsprop_constant(n_params: int, lr: float) -> float:
    """ηP/4: the project's term when every preconditioned batch-gradient coordinate has mean square 1."""
    return lr * n_params / 4


def perturbed_one_norm(g: torch.Tensor, eps: float) -> float:
    """‖g‖_{1,ε} = Σ_i √(g_i² + ε) (Cattaneo, Klusowski & Shigida 2024)."""
    return float((g * g + eps).sqrt().sum())


def regularizer_callback(model, X: torch.Tensor, y: torch.Tensor, loss: str, batches, optimizer, *,
                         X_test: torch.Tensor | None = None, y_test: torch.Tensor | None = None,
                         theta0: torch.Tensor | None = None, one_norm_eps: float | None = None):
    """A trainer callback recording, at the current iterate: what :func:`numerics.trainers.metrics_callback`
    records (losses, errors, ‖θ‖₂, ‖θ‖₁, ‖θ − θ₀‖), R, ‖∇C‖², ‖∇C‖₁, the perturbed one-norm ‖∇C‖_{1,ε} and, for
    RMSProp/Adam, the project's RMSProp term with the optimizer's current preconditioner and its constant ηP/4.

    ``one_norm_eps`` is the ε inside √(g² + ε); default: the optimizer's ε for ``eps_in_sqrt``, else ε²
    (√s + ε ≈ √(s + ε²) when the two conventions are matched).
    """
    eps_inside = one_norm_eps
    if eps_inside is None:
        eps_inside = optimizer.eps if optimizer.eps_in_sqrt else optimizer.eps ** 2
    adaptive = optimizer.name in ("rmsprop", "adam")

    metrics = metrics_callback(model, X, y, loss, X_test=X_test, y_test=y_test, theta0=theta0)

    def callback(state: TrainState) -> dict:
        theta = state.theta
        G = batch_gradients(model, theta, X, y, loss, batches)
        g = full_gradient(G, batches)
        row = {**metrics(state), "R": sgd_regularizer(G), "grad_sq": float(g.pow(2).sum()),
               "grad_l1": float(g.abs().sum()), "grad_one_norm_eps": perturbed_one_norm(g, eps_inside),
               "one_norm_eps": eps_inside}
        if adaptive and state.optimizer_state.get("t", 0) > 0:
            row["project_rmsprop_term"] = project_rmsprop_term(G, optimizer.preconditioner(state.optimizer_state),
                                                               optimizer.lr)
            row["project_rmsprop_constant"] = project_rmsprop_constant(theta.numel(), optimizer.lr)
        return row

    return callback


__all__ = ["fixed_partition", "batch_gradients", "full_gradient", "sgd_regularizer", "project_rmsprop_term",
           "project_rmsprop_constant", "perturbed_one_norm", "regularizer_callback"]
