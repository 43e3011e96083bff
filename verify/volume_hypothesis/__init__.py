"""``python -m verify volume_hypothesis``: Guess & Check (G&C), pattern search and random greedy search vs SGD
on small real networks (8x8 digit pairs, or a ``--data`` file).

Chiang et al. (ICLR 2023, "Loss Landscapes are All You Need") report that in the low-sample regime G&C reaches
test accuracy comparable to SGD; Peleg & Hein (ICML 2024) report G&C well below SGD. The claims, their tiers,
rules and thresholds are in :mod:`.claims` and ``docs/volume_hypothesis.md``; the parameters in :mod:`.params`
(``--params``); the tasks in :mod:`.sweep`; the figures in :mod:`.plot`. ``--set table=N`` runs the setting of
Chiang et al.'s Table N instead: 1 (poisoned vs clean SGD on LeNet), 2, 3 and 6 (LeNet G&C vs SGD, optionally
per normalized-loss bin; :mod:`.lenet_tables`), 4 (pattern search and random greedy vs SGD on ten classes;
:mod:`.tables`), on the digits or a local copy of MNIST, Fashion-MNIST or CIFAR-10 (``--set dataset=... --set
data_root=PATH``).
"""
from verify.volume_hypothesis.claims import CLAIMS, control_claims, judge
from verify.volume_hypothesis.params import METHODS, PARAMS, prepare, validate
from verify.volume_hypothesis.plot import plot
from verify.volume_hypothesis.sweep import GROWS, compute, grow, points

NAME = "volume_hypothesis"
SUMMARY = "G&C, pattern search, random greedy vs SGD on 8x8 digits: Chiang et al. vs Peleg & Hein"
INPUTS = ("data",)

__all__ = ["NAME", "SUMMARY", "INPUTS", "METHODS", "PARAMS", "prepare", "validate", "points", "compute", "judge",
           "control_claims", "plot", "CLAIMS", "GROWS", "grow"]
