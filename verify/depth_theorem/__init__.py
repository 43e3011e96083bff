"""Check of the depth theorem: Guess & Check generalizes better as the depth grows (linear σ, normalized prior).

Paper's claim (Alexander, Slutzky, Ran-Milo, Cohen 2025, arXiv 2506.03931, Theorem 2, Figure 2): with linear
σ, the normalized Gaussian prior, fixed width k and RIP measurements, G&C's generalization becomes arbitrarily
good as d grows (for small ε), near-perfect for a rank-1 ground truth; GD from small initialization
generalizes well at every depth. This package's formalization (``theory.depth_theorem``): the Lyapunov gap
makes the prior collapse onto unit rank-1 matrices, G_d(ε) tends to the rank-1 limit G_∞(ε), and G_∞(ε) obeys
the RIP bound ``m m' ε / ((1 − δ_2)|B|)`` → 0 as ε → 0. The claims and their rules: :mod:`.claims`;
parameters: ``python -m verify depth_theorem --params``; the paper's figure presets (``--set figure=N``):
:mod:`verify.gnc.presets`.
"""
from verify.depth_theorem.claims import CLAIMS, judge
from verify.depth_theorem.params import PARAMS, validate
from verify.depth_theorem.plot import plot
from verify.depth_theorem.sweep import GROWS, NAME, compute, grow, joined, notes, points, prepare

INPUTS = ("problem",)  # --problem F.npz: arrays A (n x m x m') and W_star (m x m')
SUMMARY = ("G&C improves with depth (Thm 2, Fig 2): Lyapunov gap, rank-1 depth limit, RIP bound and "
           "estimated RIP constants, GD baseline")

__all__ = ["NAME", "SUMMARY", "INPUTS", "PARAMS", "CLAIMS", "GROWS", "grow", "validate", "prepare", "points",
           "compute", "joined", "notes", "judge", "plot"]
