"""``python -m verify which_minimizer``: which interpolant GD, SGD, momentum, preconditioned GD and AdaGrad reach
on a linearized network, the init-scale law of the test error, and the linearization gap of real networks.

Source: Nonnenmacher, Reeb, Steinwart, "Which Minimizer Does My Neural Network Converge To?", ECML PKDD 2021
(claims C1–C5 of its abstract). Its full text was not available: the closed forms checked here (A1–A3,
:mod:`theory.which_minimizer`) and the remedies' names are this package's formalization of the standard
linearized (NTK-regime) results behind those claims.
- A1: GD, heavy ball, SGD with any schedule, step sizes or momentum reach ``θ0 + Jᵀ(JJᵀ)⁻¹r0``; a fixed
  preconditioner P gives ``θ0 + PJᵀ(JPJᵀ)⁻¹r0``.
- A2: with the output scaled by α, E test MSE = A + Cα² under a sign-symmetric init law (C > 0, no linear
  term); antisymmetric doubling and centering give A.
- A3/C4: AdaGrad's limit (one point: ``θ0 + sign(j)r0/‖j‖₁``) differs from GD's, depends on the learning rate
  (first order, with a flow limit) and on the batch order; SGD over the same orders reaches GD's limit.
- The gap between a GD-trained two-layer ReLU net and its linearization shrinks with the width.
"""
from verify.which_minimizer.claims import CLAIMS, gap_claim, judge, lr_slope_claim
from verify.which_minimizer.params import GROWS, PARAMS, grow, validate
from verify.which_minimizer.plot import plot
from verify.which_minimizer.summaries import fit_a_plus_c_alpha2
from verify.which_minimizer.sweep import FORMULAS, compute, independent_linear_terms, points

NAME = "which_minimizer"
SUMMARY = "GD/SGD/AdaGrad limits on linearized nets, init-scale law A + C*alpha^2, linearization gap vs width"
INPUTS = ()
DEFAULT_WORKERS = 1  # short: a spawned worker needs ~4 s to import torch, more than the points take

__all__ = ["NAME", "SUMMARY", "INPUTS", "DEFAULT_WORKERS", "PARAMS", "CLAIMS", "GROWS", "grow", "validate", "points",
           "compute", "judge", "plot", "FORMULAS", "independent_linear_terms", "fit_a_plus_c_alpha2", "lr_slope_claim",
           "gap_claim"]
