"""``python -m verify modified_loss``: backward error analysis of GD, SGD and RMSProp.

Claims, each a fitted log-log slope of an error against the step size, or an exact identity:
- IGR (Barrett & Dherin 2021, Thm 3.1): one GD step vs the flow on E (slope ≈2) and on ``E + (h/4)‖∇E‖²``
  (≈3); over a fixed horizon T, ≈1 and ≈2. For ``E = ½(y − a b x)²`` every GD step multiplies ``a² − b²``
  by exactly ``1 − h² r² x²``; gradient flow conserves it.
- SGD (Smith et al. 2021, Sec. 2): the mean iterate after one epoch over all m! batch orders vs the flows on
  C (≈2), on the GD-modified loss (≈2) and on ``C̃_SGD`` (≈3); the mean of the SGD term over all partitions
  into batches of size B equals ``((N − B)/(N − 1)) (ε/4B) Γ``.
- RMSProp (this package's extension): the lag-corrected flow passes the slope test (≈2) and the
  frozen-preconditioner modified loss ``C + (η/4)∇CᵀP∇C`` fails it (≈1) at each β > 0; the student project
  that proposed that loss as RMSProp's modified loss is a published claim, expected to fail (a finding).
Step sizes are in units where the Hessian of the loss at θ0 has spectral radius 1. A β = 0 probe of both
RMSProp flows is recorded and drawn, not claimed.
"""
from verify.modified_loss.claims import CLAIMS, exact_claim, judge, slope_claim
from verify.modified_loss.params import PARAMS, validate
from verify.modified_loss.plot import plot
from verify.modified_loss.predictions import fitted_window
from verify.modified_loss.sweep import compute, points

NAME = "modified_loss"
SUMMARY = "Modified losses: IGR error orders and a²−b² identity, SGD modified flow, RMSProp lag term"
INPUTS = ()
DEFAULT_WORKERS = 1  # short: a spawned worker needs ~4 s to import torch, more than the points take

__all__ = ["NAME", "SUMMARY", "INPUTS", "DEFAULT_WORKERS", "PARAMS", "CLAIMS", "validate", "points", "compute", "judge",
           "plot", "exact_claim", "slope_claim", "fitted_window"]
