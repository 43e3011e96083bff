"""``python -m verify edge_of_stability``: full-batch GD on a small real network at the edge of stability.

Cohen, Kaur, Li, Kolter, Talwalkar (2021): under full-batch GD the sharpness S rises (progressive sharpening)
until ηS/2 ≈ 1 and hovers there while the loss falls non-monotonically; GD follows gradient flow until then.
Fojtik, Matveev, Chou, Kutyniok, Maly (2025): with η_c = 2/s_GF the final S stays at s_GF below η_c and sits
at ≈ 2/η above it, while the parameter norm grows with η. Package's extension: the one-direction central-flow
prediction (Damian, Nichani, Lee 2023; Cohen, Damian et al. 2024). Setting: digits, tanh MLP 64→32→32→10, MSE,
float64; per seed the gradient flow (RK4) gives η_c, then GD and heavy-ball on a grid of multiples of η_c.
The claims, their rules and thresholds: :mod:`.claims` and docs/edge_of_stability.md.
"""
from verify.edge_of_stability.claims import CLAIMS, judge
from verify.edge_of_stability.params import PARAMS
from verify.edge_of_stability.plot import plot
from verify.edge_of_stability.sweep import GROWS, build_model, compute, grow, load_dataset, points, prepare, validate

NAME = "edge_of_stability"
SUMMARY = "full-batch GD on a tanh MLP (digits): progressive sharpening, ηS/2 ≈ 1, norm vs sharpness, central flow"
INPUTS = ("data",)

__all__ = ["NAME", "SUMMARY", "INPUTS", "PARAMS", "CLAIMS", "GROWS", "grow", "prepare", "validate", "points",
           "compute", "judge", "plot", "load_dataset", "build_model"]
