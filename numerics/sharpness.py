"""Sharpness of a training loss: the top Hessian eigenvalue(s) by Lanczos on Hessian-vector products.

Protocol of Cohen, Kaur, Li, Kolter, Talwalkar (2021, "Gradient descent on neural networks typically occurs
at the edge of stability"): S(θ) = λ_max(∇²L(θ)) of the *full-batch* training loss L, computed by
Lanczos (here ARPACK's implicitly restarted Lanczos, ``scipy.sparse.linalg.eigsh``, ``which="LA"``: the
largest *algebraic* eigenvalue, not the largest in modulus) on Hessian-vector products from torch autograd
(double backprop), float64.

- :func:`loss_closure`: θ ↦ L(θ) (the same losses as :mod:`numerics.trainers`);
- :func:`hessian_operator`: H(θ) as a ``LinearOperator`` (one autograd graph of ∇L kept for all products);
- :func:`top_eigenpairs` / :func:`sharpness`: the k largest eigenvalues and unit eigenvectors; the start
  vector is explicit (a previous eigenvector to warm-start a trace, or drawn from ``rng``) because ARPACK's
  own default start vector depends on the calls made before in the process;
- :func:`dense_hessian`: the full P × P Hessian (a test oracle for tiny networks);
- :func:`sharpness_gradient`: ∇S = ∇³L[u, u] for a simple top eigenvalue with unit eigenvector u (the
  derivative of λ_max), by the central second difference of gradients along u,
  (∇L(θ + hu) − 2∇L(θ) + ∇L(θ − hu)) / h², error O(h²);
- :func:`self_stabilization`: the one-unstable-direction central-flow quantities at a point (package's
  extension, see the function).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh

from numerics.trainers import loss_value

DEFAULT_TOL = 1e-5  # ARPACK's relative residual tolerance; the eigenvalue error is of order tol²·S/gap (measured on
# the digits MLP, warm-started: 1e-9 relative already at tol = 1e-4, in 9 products instead of 21 at tol = 0)
DEFAULT_NCV = 8  # Lanczos vectors per restart (ARPACK's default of 20 costs 20 products even from a good start)


def loss_closure(model, X: torch.Tensor, y: torch.Tensor, loss: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """θ ↦ L(θ), the mean training loss ``loss`` ("mse" or "ce") of ``model`` on (X, y)."""
    return lambda theta: loss_value(loss, model(theta, X), y)


def full_gradient(f: Callable, theta: torch.Tensor) -> tuple[float, torch.Tensor]:
    """L(θ) and ∇L(θ) of the closure ``f``."""
    th = theta.detach().requires_grad_(True)
    value = f(th)
    (g,) = torch.autograd.grad(value, th)
    return float(value.detach()), g.detach()


def hessian_operator(f: Callable, theta: torch.Tensor) -> LinearOperator:
    """∇²L(θ) as a scipy ``LinearOperator`` on float64 numpy vectors (products by double backprop, on the
    device of ``theta``; one graph of ∇L is built and reused for every product)."""
    th = theta.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(th), th, create_graph=True)
    P = th.numel()

    def matvec(v):
        vt = torch.as_tensor(np.ascontiguousarray(v, dtype=np.float64).reshape(-1), device=th.device)
        (hv,) = torch.autograd.grad(g, th, vt, retain_graph=True)
        return hv.detach().cpu().numpy()

    return LinearOperator((P, P), matvec=matvec, rmatvec=matvec, dtype=np.float64)


def top_eigenpairs(f: Callable, theta: torch.Tensor, k: int = 1, *, v0: np.ndarray | None = None,
                   rng: np.random.Generator | None = None, tol: float = DEFAULT_TOL,
                   ncv: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest eigenvalues of ∇²L(θ) in decreasing order and their unit eigenvectors (P × k).

    Start vector: ``v0`` (e.g. the previous top eigenvector along a trajectory) or a Gaussian drawn from
    ``rng``; one of them is required, so that the result does not depend on ARPACK's internal state.
    """
    P = theta.numel()
    if not 1 <= k < P:
        raise ValueError(f"k must be in [1, {P - 1}], got {k}")
    if v0 is None:
        if rng is None:
            raise ValueError("top_eigenpairs needs a start vector v0 or an rng")
        v0 = rng.standard_normal(P)
    op = hessian_operator(f, theta)
    ncv = min(P, max(2 * k + 2, DEFAULT_NCV) if ncv is None else ncv)
    vals, vecs = eigsh(op, k=k, which="LA", v0=np.asarray(v0, dtype=np.float64), tol=tol, ncv=ncv)
    order = np.argsort(vals)[::-1]
    return vals[order], vecs[:, order]


def sharpness(f: Callable, theta: torch.Tensor, *, v0=None, rng=None, tol: float = DEFAULT_TOL) -> tuple[float, np.ndarray]:
    """S(θ) = λ_max(∇²L(θ)) and its unit eigenvector (see :func:`top_eigenpairs`)."""
    vals, vecs = top_eigenpairs(f, theta, 1, v0=v0, rng=rng, tol=tol)
    return float(vals[0]), vecs[:, 0]


def dense_hessian(f: Callable, theta: torch.Tensor) -> torch.Tensor:
    """The full Hessian ∇²L(θ) (P × P), symmetrized; for tiny networks (a test oracle)."""
    H = torch.autograd.functional.hessian(f, theta.detach())
    return 0.5 * (H + H.T)


def sharpness_gradient(f: Callable, theta: torch.Tensor, u, *, h: float = 1e-4) -> torch.Tensor:
    """∇S(θ) = ∇³L(θ)[u, u] for a unit top eigenvector u, by the central second difference of gradients
    along u with step ``h`` (default 1e-4: truncation O(h²) against rounding ≈ ε‖∇L‖/h²; the rounding
    dominates, measured 5e-8 median and 1.3e-7 worst relative to torch.func over 40 small networks in float64,
    docs/accuracy.md)."""
    u = torch.as_tensor(np.asarray(u, dtype=np.float64), device=theta.device).reshape(-1)
    u = u / u.norm()
    g_plus = full_gradient(f, theta + h * u)[1]
    g_zero = full_gradient(f, theta)[1]
    g_minus = full_gradient(f, theta - h * u)[1]
    return (g_plus - 2.0 * g_zero + g_minus) / h ** 2


def self_stabilization(f: Callable, theta: torch.Tensor, *, v0=None, rng=None, tol: float = DEFAULT_TOL) -> dict:
    """Central-flow quantities at θ with one unstable direction (package's extension; Damian, Nichani, Lee
    2023, "Self-stabilization", and the central-flow papers of Cohen, Damian et al. 2024).

    The central flow θ̇ = −∇L − ½σ²∇S keeps S = 2/η when σ² = 2⟨−∇L, ∇S⟩ / ‖∇S‖² (dS/dt = ⟨∇S, θ̇⟩ = 0).
    Its predictions for GD oscillating along the top eigenvector u around θ: E⟨θ_t − θ, u⟩² ≈ σ² and
    E L(θ_t) ≈ L(θ) + ½ S σ² (= L(θ) + σ²/η at S = 2/η). Returns the loss, λ_1 = S, λ_2, u, ∇S and σ²
    (σ² < 0 means the flow is not sharpening along u and predicts no oscillation).
    """
    vals, vecs = top_eigenpairs(f, theta, 2, v0=v0, rng=rng, tol=tol)
    u = vecs[:, 0]
    value, g = full_gradient(f, theta)
    grad_s = sharpness_gradient(f, theta, u)
    sigma2 = float(2.0 * torch.dot(-g, grad_s) / torch.dot(grad_s, grad_s))
    return {"loss": value, "lambda1": float(vals[0]), "lambda2": float(vals[1]), "u": u,
            "grad_sharpness_norm": float(grad_s.norm()), "sigma2": sigma2}
