"""Which minimizer a linearized network converges to (Nonnenmacher, Reeb, Steinwart, ECML PKDD 2021).

The paper's claims (abstract): C1 the initialization size of a strongly overparameterized network changes
the minimizer and can deteriorate test performance; C2 a strategy limits this; C3 AdaGrad's minimizer differs
from GD's; C4 mini-batching changes the adaptive minimizer further, while GD and SGD reach essentially the
same one; C5 the effects persist with less overparameterization. The full text was not available to us: the
formulas below are the standard linearized (NTK-regime) results behind these claims, in this package's
formalization (the ``which_minimizer`` check; docs/which_minimizer.md).

Linearized model ``f_lin(x; θ) = f(x; θ0) + J0(x)(θ − θ0)`` with ``J0 ∈ R^{n×p}`` of rank n, square loss,
``r0 = y − f(X; θ0)``:

- A1 ``θ∞ = θ0 + J0ᵀ (J0 J0ᵀ)^{-1} r0`` for GD, SGD (any mini-batch schedule and step sizes) and heavy-ball
  momentum, when they converge; a fixed preconditioner P gives ``θ0 + P J0ᵀ (J0 P J0ᵀ)^{-1} r0``.
- A2 with the output scaled by α, the test predictions of the limit are ``k K^{-1} y + α (g0(X*) − k K^{-1}
  g0(X))`` (``K = J Jᵀ``, ``k = J* Jᵀ`` for the unscaled network g), so the test MSE is ``A + B α + C α²``
  per initialization; B has mean zero when the init law is invariant under a last-layer sign flip.
- A3 AdaGrad with ε = 0, one training point: ``θ∞ = θ0 + sign(j) r0 / ‖j‖_1``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LINEARIZATION_GAP_EXPONENT = -0.5
"""About M^{-1/2} (Lee et al. 2019, Thm 2.1): the gap between a trained wide network and its linearization."""


def preconditioned_limit(J: np.ndarray, r0: np.ndarray, theta0: np.ndarray,
                         P: np.ndarray | None = None) -> np.ndarray:
    """``θ0 + P Jᵀ (J P Jᵀ)^{-1} r0``: the limit of (S)GD with a fixed SPD preconditioner P (A1).

    ``P = None`` is the identity: the interpolant closest to θ0 in the Euclidean norm.
    """
    J = np.asarray(J, dtype=float)
    PJt = J.T if P is None else np.asarray(P, dtype=float) @ J.T
    return np.asarray(theta0, dtype=float) + PJt @ np.linalg.solve(J @ PJt, np.asarray(r0, dtype=float))


def gd_limit(J: np.ndarray, r0: np.ndarray, theta0: np.ndarray) -> np.ndarray:
    """``θ0 + J0ᵀ (J0 J0ᵀ)^{-1} r0``: the GD/SGD/momentum limit of the linearized model (A1)."""
    return preconditioned_limit(J, r0, theta0)


def adagrad_one_point_limit(j: np.ndarray, r0: float, theta0: np.ndarray) -> np.ndarray:
    """AdaGrad (ε = 0, one training point, any learning rate that converges): ``θ0 + sign(j) r0/‖j‖_1`` (A3).

    Why: the gradient is ``−r_t j``, so AdaGrad's accumulator is ``j_i² Σ_s r_s²`` and every coordinate moves
    by ``lr sign(j_i) r_t / (Σ_s r_s²)^{1/2}``: the path is the ray along sign(j), stopped where it interpolates.
    """
    j = np.asarray(j, dtype=float)
    return np.asarray(theta0, dtype=float) + np.sign(j) * (float(r0) / np.sum(np.abs(j)))


def adagrad_one_point_equals_gd(j: np.ndarray, rtol: float = 1e-12) -> bool:
    """True iff all ``|j_i|`` are equal: then sign(j)/‖j‖_1 = j/‖j‖_2² and AdaGrad's limit is GD's (A3)."""
    a = np.abs(np.asarray(j, dtype=float))
    return bool(np.max(a) - np.min(a) <= rtol * np.max(a))


@dataclass(frozen=True)
class InitScaleCoefficients:
    """Test MSE of the linearized GD limit at output scale α: ``A + B α + C α²`` for one initialization.

    A is the kernel-interpolation error of the empirical NTK at θ0; C the init-induced term; B the cross term,
    odd under a last-layer sign flip of θ0 (which leaves the NTK unchanged and negates the output at init).
    """
    A: float
    B: float
    C: float

    def mse(self, alpha) -> np.ndarray:
        alpha = np.asarray(alpha, dtype=float)
        return self.A + self.B * alpha + self.C * alpha ** 2


def init_scale_coefficients(J: np.ndarray, J_test: np.ndarray, g0: np.ndarray, g0_test: np.ndarray,
                            y: np.ndarray, y_test: np.ndarray) -> InitScaleCoefficients:
    """A, B, C of the test MSE for the unscaled network g with Jacobians ``J`` (train) and ``J_test`` (A2).

    With the output scaled by α the Jacobian is αJ, so ``k K^{-1} = J_test J⁺`` does not depend on α, and
    the limit's test error is ``u + α v`` with ``u = J_test J⁺ y − y_test`` and ``v = g0_test − J_test J⁺ g0``.
    """
    J = np.asarray(J, dtype=float)
    coef = np.linalg.solve(J @ J.T, np.column_stack([y, g0]))
    u = J_test @ (J.T @ coef[:, 0]) - y_test
    v = np.asarray(g0_test, dtype=float) - J_test @ (J.T @ coef[:, 1])
    return InitScaleCoefficients(A=float(np.mean(u * u)), B=float(2.0 * np.mean(u * v)),
                                 C=float(np.mean(v * v)))
