"""Modified losses of backward error analysis: what GD, SGD and RMSProp are predicted to follow.

Sources and what is whose:
- Barrett & Dherin, "Implicit Gradient Regularization", ICLR 2021 (Thm 3.1): one GD step of size h agrees
  with the gradient flow on ``Ẽ = E + (h/4)‖∇E‖²`` up to O(h³) (the plain flow: O(h²)); over a fixed
  horizon the global errors are O(h²) and O(h). The paper's claim. The identity for
  ``E = ½(y − a b x)²`` (``a² − b²`` multiplied by exactly ``1 − h² r² x²`` per GD step, conserved by the
  flow) is this package's worked example; it follows from two lines of algebra (:func:`ab_gd_factor`).
- Smith, Dherin, Barrett & De, "On the Origin of Implicit Regularization in Stochastic Gradient Descent",
  ICLR 2021 (Sec. 2): the mean SGD iterate over one epoch of m mini-batches in a uniformly random order
  follows the flow on ``C̃_SGD = C + (ε/4m) Σ_k ‖∇Ĉ_k‖²`` up to O(ε³); the rewriting
  ``C + (ε/4)‖∇C‖² + (ε/4m) Σ_k ‖∇Ĉ_k − ∇C‖²`` and the partition average
  ``((N − B)/(N − 1)) (ε/4B) Γ`` (sampling without replacement) are the paper's.
- RMSProp: the lag-corrected first-order modified flow (the same structure as Cattaneo, Klusowski &
  Shigida, ICML 2024) is this package's derivation. With ``F0 = −P g`` and the steady-state lag
  ``v ≈ g² − η c d(g²)/dt``, ``c = β/(1 − β)``, matching ``θ_{n+1} − θ_n`` with ``ηF + (η²/2) DF F``
  gives ``θ̇ = −P[g + η diag(δ/(2(g² + δ)) − c g²/(g² + δ)) ∇‖∇C‖_{1,δ}]``. The "frozen preconditioner"
  modified loss ``C + (η/4)∇Cᵀ P ∇C`` (P held fixed when differentiated, flow ``θ̇ = −P ∇C̃``) is the
  proposal of a student project among the package's sources, included to be tested, not believed.

The functions of a loss take an oracle ``f`` with ``f.loss(θ, rows)``, ``f.grad(θ, rows)`` and
``f.hvp(θ, v, rows)`` (``rows=None``: the full loss). Gradients of the modified losses are derived by hand
(``∇‖∇E‖² = 2 H∇E``); the tests check them against torch autograd of the loss values.
"""
from __future__ import annotations

import numpy as np

# Predicted convergence orders of the error against the step size (the modified_loss check).
IGR_ONE_STEP_ORDER = {"gradient flow": 2, "IGR modified flow": 3}
IGR_HORIZON_ORDER = {"gradient flow": 1, "IGR modified flow": 2}
SGD_EPOCH_ORDER = {"gradient flow": 2, "GD-modified flow": 2, "SGD-modified flow": 3}
RMSPROP_HORIZON_ORDER = {"lag-corrected flow": 2, "frozen-preconditioner flow": 1}
RMSPROP_PASS_SLOPE = 1.8  # a proposed RMSProp flow passes its slope test iff its fitted slope is >= this


# ---------------------------------------------------------------------------------- IGR (GD)

def igr_loss(f, theta, h: float, rows=None) -> float:
    """``Ẽ = E + (h/4)‖∇E‖²``."""
    g = f.grad(theta, rows)
    return f.loss(theta, rows) + 0.25 * h * float(g @ g)


def igr_grad(f, theta, h: float, rows=None) -> np.ndarray:
    """``∇Ẽ = ∇E + (h/2) H ∇E``."""
    g = f.grad(theta, rows)
    return g + 0.5 * h * f.hvp(theta, g, rows)


def ab_gd_factor(a, b, x, y, h):
    """The exact factor of ``a² − b²`` in one GD step of size h on ``E = ½(y − a b x)²``: ``1 − h² r² x²``,
    ``r = y − a b x``. (``a' = a + h r b x``, ``b' = b + h r a x`` ⇒ ``a'² − b'² = (a² − b²)(1 − h² r² x²)``.)
    """
    r = y - a * b * x
    return 1.0 - (h * r * x) ** 2


# ----------------------------------------------------------------------------------------- SGD

def sgd_loss(f, theta, eps: float, batches) -> float:
    """``C̃_SGD = C + (ε/4m) Σ_k ‖∇Ĉ_k‖²`` for the m mini-batches ``batches`` (row-index arrays)."""
    grads = [f.grad(theta, rows) for rows in batches]
    return f.loss(theta) + eps / (4 * len(batches)) * float(sum(g @ g for g in grads))


def sgd_loss_centered(f, theta, eps: float, batches) -> float:
    """The same loss written ``C + (ε/4)‖∇C‖² + (ε/4m) Σ_k ‖∇Ĉ_k − ∇C‖²`` (equal for equal-size batches)."""
    g = f.grad(theta)
    spread = sum(float(np.sum((f.grad(theta, rows) - g) ** 2)) for rows in batches)
    return f.loss(theta) + 0.25 * eps * float(g @ g) + eps / (4 * len(batches)) * spread


def sgd_grad(f, theta, eps: float, batches) -> np.ndarray:
    """``∇C̃_SGD = ∇C + (ε/2m) Σ_k H_k ∇Ĉ_k``."""
    correction = sum(f.hvp(theta, f.grad(theta, rows), rows) for rows in batches)
    return f.grad(theta) + eps / (2 * len(batches)) * correction


def partition_factor(n: int, batch_size: int) -> float:
    """``(N − B)/(N − 1)``: the without-replacement factor of the variance of a batch-mean gradient."""
    return (n - batch_size) / (n - 1)


def partition_averaged_sgd_term(per_example_grads: np.ndarray, batch_size: int, eps: float) -> float:
    """``((N − B)/(N − 1)) (ε/4B) Γ``, ``Γ = (1/N) Σ_i ‖∇C_i − ∇C‖²``: the mean over uniformly random
    partitions into batches of size B of the SGD term ``(ε/4m) Σ_k ‖∇Ĉ_k − ∇C‖²``."""
    G = np.asarray(per_example_grads, float)
    gamma = float(np.mean(np.sum((G - G.mean(axis=0)) ** 2, axis=1)))
    return partition_factor(G.shape[0], batch_size) * eps / (4 * batch_size) * gamma


def sgd_term(per_example_grads: np.ndarray, partition: np.ndarray, eps: float) -> float:
    """``(ε/4m) Σ_k ‖∇Ĉ_k − ∇C‖²`` for one partition (an (m, B) array of example indices)."""
    G = np.asarray(per_example_grads, float)
    batch_means = G[np.asarray(partition)].mean(axis=1)  # (m, p)
    return eps / (4 * len(batch_means)) * float(np.sum((batch_means - G.mean(axis=0)) ** 2))


# ------------------------------------------------------------------------------------- RMSProp

def rmsprop_onenorm_coefficient(g: np.ndarray, beta: float, delta: float) -> np.ndarray:
    """``δ/(2(g² + δ)) − c g²/(g² + δ)``, ``c = β/(1 − β)``: the weight of ``∇‖∇C‖_{1,δ}`` in the
    lag-corrected flow. Negative entries anti-regularize the perturbed 1-norm of the gradient; they are
    negative exactly where ``g_i² > δ (1 − β)/(2β)``."""
    c = beta / (1.0 - beta)
    s = g * g + delta
    return delta / (2.0 * s) - c * g * g / s


def rmsprop_lag_corrected_field(f, theta, eta: float, beta: float, delta: float) -> np.ndarray:
    """``θ̇ = −P[∇C + η diag(δ/(2(g² + δ)) − c g²/(g² + δ)) ∇‖∇C‖_{1,δ}]``, ``P = diag(g² + δ)^{-1/2}``,
    ``∇‖∇C‖_{1,δ} = H (g/√(g² + δ))``."""
    g = f.grad(theta)
    p = 1.0 / np.sqrt(g * g + delta)
    grad_onenorm = f.hvp(theta, p * g)
    return -p * (g + eta * rmsprop_onenorm_coefficient(g, beta, delta) * grad_onenorm)


def rmsprop_frozen_loss(f, theta, eta: float, delta: float) -> float:
    """The student's modified loss ``C + (η/4) ∇Cᵀ P ∇C`` (no lag term, no β)."""
    g = f.grad(theta)
    return f.loss(theta) + 0.25 * eta * float(np.sum(g * g / np.sqrt(g * g + delta)))


def rmsprop_frozen_field(f, theta, eta: float, delta: float) -> np.ndarray:
    """``θ̇ = −P ∇C̃`` with P frozen while differentiating: ``−P[g + (η/2) H P g]``."""
    g = f.grad(theta)
    p = 1.0 / np.sqrt(g * g + delta)
    return -p * (g + 0.5 * eta * f.hvp(theta, p * g))
