"""``python -m verify volume_width``: Guess & Check at growing width on real data against its exact
infinite-width limit, the NNGP "orthant posterior" (a Gaussian process with the network's kernel conditioned
on classifying every training point correctly), with SGD beside it and the matrix-factorization contrast.

Published claims (Peleg & Hein, ICML 2024, "Bias of Stochastic Gradient Descent or the Architecture"): G&C's
test accuracy is flat in width while SGD's rises; depth hurts both. This package's extension: on real,
correlated inputs G&C converges, as the width grows, to the orthant posterior of its NNGP kernel, which is
informative — unlike the one-hot inputs of matrix factorization (Alexander et al. 2025's width theorem), where
the limit is chance. Claims and rules: ``claims.py``; parameters: ``params.py`` (``--params``).
"""
from verify.volume_width.claims import CLAIMS, judge
from verify.volume_width.params import GROWS, PARAMS, grow, prepare, validate
from verify.volume_width.plot import plot
from verify.volume_width.sweep import compute, points

NAME = "volume_width"
SUMMARY = "G&C at growing width on digits vs its exact NNGP orthant-posterior limit; SGD; identity-input contrast"
INPUTS = ("data",)

__all__ = ["NAME", "SUMMARY", "INPUTS", "PARAMS", "CLAIMS", "GROWS", "grow", "prepare", "validate", "points", "compute",
           "judge", "plot"]
