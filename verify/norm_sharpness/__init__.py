"""``python -m verify norm_sharpness``: norm versus sharpness on a depth-2 diagonal linear network.

Paper (Fojtik, Matveev, Chou, Kutyniok, Maly 2025, arXiv 2505.21423): for ``f_w(x) = <w ⊙ w, x>`` trained by
GD on one data point, the learning rate η trades a low parameter norm against low sharpness, and neither the
min-norm nor the min-sharpness interpolator minimizes the generalization error. The closed-form GF limit
(R3), the exact GD limit (R4), ``η_c = 2/S(β^GF)`` and the best η ≈ 2/S(β*) are this package's derivations
(:mod:`theory.diagonal_networks`); the paper gives no GD limit.

The check sweeps η, runs plain float64 GD from ``w_0 = init_scale``, classifies every run and compares the
limits with the closed forms. ``params`` declares the parameters, ``sweep`` the tasks, ``claims`` the rules
(each stated in its claim), ``plot`` the figure; ``docs/norm_sharpness.md`` explains them.
"""
from verify.norm_sharpness.claims import CLAIMS, judge
from verify.norm_sharpness.params import PARAMS, prepare, validate
from verify.norm_sharpness.plot import plot
from verify.norm_sharpness.sweep import GRID_CHUNK, GROWS, compute, grow, points

NAME = "norm_sharpness"
SUMMARY = "diagonal network, one sample: GD limit vs η, edge of stability, norm/sharpness tradeoff, U-curve"
INPUTS = ()
DEFAULT_WORKERS = 1  # short: a spawned worker needs ~4 s to import torch, more than the points take

__all__ = ["NAME", "SUMMARY", "INPUTS", "DEFAULT_WORKERS", "PARAMS", "CLAIMS", "validate", "prepare", "points",
           "compute", "judge", "plot", "grow", "GROWS", "GRID_CHUNK"]
