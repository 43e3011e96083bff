"""Check of the width theorem: Guess & Check tends to chance as the width grows (antisymmetric σ).

Paper's claim (Alexander, Slutzky, Ran-Milo, Cohen 2025, arXiv 2506.03931, Theorem 1 and Figure 1): for σ
linear or tanh and i.i.d. priors, ``lim_k G_k(ε) = lim_k C_k``; gradient descent from small initialization
generalizes well at every width (Proposition 1). This package's formalization and extension
(``theory.width_theorem``): the limit is the NNGP posterior ``G_∞(ε)``, equal to chance for antisymmetric σ
and computable (and different from chance) for leaky ReLU. The claims and their rules: :mod:`.claims`;
parameters: ``python -m verify width_theorem --params``; the paper's figure presets (``--set figure=N``):
:mod:`verify.gnc.presets`.
"""
from verify.width_theorem.claims import CLAIMS, judge
from verify.width_theorem.params import PARAMS, validate
from verify.width_theorem.plot import plot
from verify.width_theorem.sweep import GROWS, NAME, compute, grow, joined, notes, points, prepare

INPUTS = ("problem",)  # --problem F.npz: arrays A (n x m x m') and W_star (m x m')
SUMMARY = "G&C tends to chance as the width grows (Thm 1, Fig 1); leaky ReLU to its own NNGP limit; GD baseline"

__all__ = ["NAME", "SUMMARY", "INPUTS", "PARAMS", "CLAIMS", "GROWS", "grow", "validate", "prepare", "points",
           "compute", "joined", "notes", "judge", "plot"]
