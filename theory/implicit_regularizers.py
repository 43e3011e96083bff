"""Modified flows of heavy-ball momentum and of RMSProp/Adam on any differentiable loss, as vector fields on a
flat float64 parameter vector (torch autograd; Hessian-vector products by double backprop).

Conventions are the trainer's (:mod:`numerics.trainers`), full batch, step size h, flow time t = n h:
- heavy-ball: v ← βv + g, θ ← θ − h v;
- Adam: m ← β₁m + (1 − β₁)g, s ← β₂s + (1 − β₂)g², θ ← θ − h m/√(s + ε) (``eps_in_sqrt``, no bias correction,
  warm start m₀ = g₀, s₀ = g₀²); RMSProp is β₁ = 0.

What is whose:
- Heavy-ball: ``θ̇ = −(1−β)^{-1} ∇[L + h(1+β)/(4(1−β)²) ‖∇L‖²]``. Ghosh, Lyu, Zhang & Wang (ICLR 2023,
  "Implicit regularization in heavy-ball momentum accelerated stochastic gradient descent") publish that
  GD+M follows a modified loss whose implicit regularizer is (1+β)/(1−β) times GD's (Barrett & Dherin's
  (h/4)‖∇L‖²). The exact form above — GD's term at the effective step h/(1−β) times (1+β)/(1−β), in the
  trainer's unnormalized convention with flow time t = n h — is this package's, consistent with theirs, and
  re-derived below as the √ε ≫ |g| limit of the Adam field. The claim that GD+M tracks it to O(h²) over a
  fixed horizon (the plain (1−β)^{-1}∇L flow only to O(h)) when the buffer starts at its steady state
  g₀/(1−β) is this package's test.
- RMSProp/Adam: Cattaneo, Klusowski & Shigida (ICML 2024, "On the implicit bias of Adam") show that the
  first-order correction penalizes — for typical β₁ < β₂, anti-penalizes — the perturbed one-norm
  ``‖∇L‖_{1,ε} = Σ_i √(∂_iL² + ε)``. The full-batch field
  ``θ̇ = −P[g + h c ⊙ ∇‖g‖_{1,ε}]``, ``P = (g² + ε)^{-1/2}``,
  ``c = β₁/(1−β₁) − (β₂/(1−β₂)) g²/(g²+ε) + ε/(2(g²+ε))``
  is derived here (β₁ = 0 is the lag-corrected RMSProp flow of :mod:`theory.modified_losses`). Derivation:
  in the steady state the EMAs lag the current gradient, m ≈ g − h c₁ ġ and s ≈ g² − 2h c₂ g ġ with
  c_i = β_i/(1−β_i) (Σ(1−β)βᵏ k = β/(1−β), θ_{n−k} ≈ θ_n − k h θ̇); so one step is
  ``θ_{n+1} − θ_n = −hPg + h² P ġ (c₁ − c₂ g²/(g²+ε)) + O(h³)``. Matching it with the flow's
  ``hF + (h²/2) DF·F`` for F = F₀ + hF₁, F₀ = −Pg, and d(−Pg)/dt = −P ġ ε/(g²+ε) gives
  F₁ = P c ⊙ ġ, and ġ = H F₀ = −H P g = −∇‖g‖_{1,ε}. When √ε ≪ |g|, c → 1/(1−β₁) − 1/(1−β₂) (< 0 iff β₂ > β₁:
  anti-regularization); when √ε ≫ |g|, c → β₁/(1−β₁) + ½ and the flow is GD with EMA momentum and step h/√ε,
  whose correction (h/√ε)(1+β₁)/(4(1−β₁))‖g‖² agrees with the heavy-ball one above (a consistency check
  in tests/test_implicit_regularizers.py).
- Smith, Dherin, Barrett & De (ICLR 2021) give SGD's term (η/4m)Σ_k‖∇Ĉ_k‖² (:mod:`numerics.regularizers`).

``*_scale`` arguments multiply the correction term: 1 is the prediction; tests use other values to show that
a wrong coefficient is caught by the slope test.
"""
from __future__ import annotations

from typing import Callable

import torch

LossFn = Callable[[torch.Tensor], torch.Tensor]

# Predicted orders of the fixed-horizon error ‖θ_discrete(T) − θ_flow(T)‖ in the step size (backward error
# analysis: the discrete method tracks its modified flow to O(h²) and the plain flow to O(h) over a fixed
# horizon). The implicit_regularization check judges its observed orders against these values.
HEAVY_BALL_HORIZON_ORDER = {"plain flow": 1, "modified flow": 2}
ADAM_HORIZON_ORDER = {"plain flow": 1, "modified flow": 2}


def gradient(loss_fn: LossFn, theta: torch.Tensor, create_graph: bool = False):
    """(θ with grad enabled, ∇L(θ)); with ``create_graph`` the gradient can be differentiated again."""
    th = theta.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(loss_fn(th), th, create_graph=create_graph)
    return th, g


def heavy_ball_penalty(h: float, beta: float) -> float:
    """The coefficient h(1+β)/(4(1−β)²) of ‖∇L‖² in heavy-ball's modified loss (trainer's convention)."""
    return h * (1 + beta) / (4 * (1 - beta) ** 2)


def heavy_ball_plain_field(loss_fn: LossFn, beta: float):
    """θ̇ = −(1−β)^{-1} ∇L: the flow GD+M follows to O(h)."""
    def field(theta):
        return -gradient(loss_fn, theta)[1].detach() / (1 - beta)
    return field


def heavy_ball_modified_field(loss_fn: LossFn, h: float, beta: float, penalty_scale: float = 1.0):
    """θ̇ = −(1−β)^{-1} ∇[L + κ‖∇L‖²], κ = ``penalty_scale`` · h(1+β)/(4(1−β)²); ∇‖∇L‖² = 2H∇L."""
    kappa = penalty_scale * heavy_ball_penalty(h, beta)

    def field(theta):
        th, g = gradient(loss_fn, theta, create_graph=True)
        (grad_sq,) = torch.autograd.grad(g.pow(2).sum(), th)
        return -(g.detach() + kappa * grad_sq) / (1 - beta)
    return field


def adam_onenorm_coefficient(g: torch.Tensor, beta1: float, beta2: float, eps: float) -> torch.Tensor:
    """c = β₁/(1−β₁) − (β₂/(1−β₂)) g²/(g²+ε) + ε/(2(g²+ε)), elementwise: the weight of ∇‖g‖_{1,ε}."""
    c1, c2 = beta1 / (1 - beta1), beta2 / (1 - beta2)
    s = g * g + eps
    return c1 - c2 * g * g / s + eps / (2 * s)


def adam_gradient_dominated_coefficient(beta1: float, beta2: float) -> float:
    """The limit of c when √ε ≪ |g|: 1/(1−β₁) − 1/(1−β₂); negative (anti-regularizing ‖g‖₁) iff β₂ > β₁."""
    return 1 / (1 - beta1) - 1 / (1 - beta2)


def adam_plain_field(loss_fn: LossFn, eps: float):
    """θ̇ = −g/√(g² + ε): the preconditioned flow Adam follows to O(h)."""
    def field(theta):
        g = gradient(loss_fn, theta)[1].detach()
        return -g / (g * g + eps).sqrt()
    return field


def adam_modified_field(loss_fn: LossFn, h: float, beta1: float, beta2: float, eps: float,
                        coefficient_scale: float = 1.0):
    """θ̇ = −P[g + h c ⊙ ∇‖g‖_{1,ε}] with c of :func:`adam_onenorm_coefficient` times ``coefficient_scale``;
    ∇‖g‖_{1,ε} = H (g/√(g²+ε)) by double backprop."""
    def field(theta):
        th, g = gradient(loss_fn, theta, create_graph=True)
        s = g * g + eps
        (grad_one_norm,) = torch.autograd.grad(s.sqrt().sum(), th)
        g = g.detach()
        c = coefficient_scale * adam_onenorm_coefficient(g, beta1, beta2, eps)
        return -(g + h * c * grad_one_norm) / (g * g + eps).sqrt()
    return field
