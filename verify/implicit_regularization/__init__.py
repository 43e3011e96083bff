"""``python -m verify implicit_regularization``: implicit regularizers of SGD (Smith et al., ICLR 2021),
heavy-ball momentum (Ghosh et al., ICLR 2023) and RMSProp/Adam (Cattaneo et al., ICML 2024) on a digits MLP,
and the modified-loss student project's claims taken literally. The claims, their tiers, rules and provenance
are in :mod:`.claims`; docs/implicit_regularization.md explains them."""
from verify.implicit_regularization.claims import CLAIMS, judge
from verify.implicit_regularization.params import GROWS, PARAMS, grow, prepare, validate
from verify.implicit_regularization.plot import plot
from verify.implicit_regularization.sweep import FLOW_FAMILIES, OPTIMIZERS, compute, points

NAME = "implicit_regularization"
SUMMARY = ("Implicit regularizers on a digits MLP: SGD's R vs lr and explicit penalty, momentum/Adam flow orders, "
           "Adam's ℓ1 sign, the modified-loss project's claims")
INPUTS = ("data",)

__all__ = ["NAME", "SUMMARY", "INPUTS", "PARAMS", "CLAIMS", "GROWS", "grow", "prepare", "validate", "points",
           "compute", "judge", "plot", "FLOW_FAMILIES", "OPTIMIZERS"]
