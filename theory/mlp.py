"""Closed-form facts about the package's MLPs that the NNGP limit needs: the names of the activations and of
the priors, and each prior's per-layer variances.

Priors (entries of one layer; ``fan`` = the layer's fan-in, ``a`` = ``scale``):

- ``uniform``: every parameter U(−a, a), no fan-in scaling (Chiang et al. a = 1): σ_w² = a² fan/3, σ_b² = a²/3;
- ``kaiming_uniform``: weights U(±a√(6/fan)), zero biases: σ_w² = 2a², σ_b² = 0;
- ``kaiming_normal``: weights N(0, 2a²/fan), zero biases: σ_w² = 2a², σ_b² = 0;
- ``gaussian``: weights N(0, a²/fan), biases N(0, ``bias_scale``²) (default a): σ_w² = a², σ_b² = bias_scale²;
- ``torch_default``: weights and biases U(±a/√fan): σ_w² = a²/3, σ_b² = a²/(3 fan).

σ_w² is the variance of one weight times the fan-in, σ_b² the variance of one bias (0 without biases): the
(σ_w², σ_b²) of the NNGP recursion. ``numerics.models`` samples these laws; this module only states them.
"""
from __future__ import annotations

from theory.errors import require

ACTIVATIONS = ("relu", "tanh", "linear")
PRIORS = ("uniform", "kaiming_uniform", "kaiming_normal", "gaussian", "torch_default")


def layer_variance(prior: str, fan_in: int, bias: bool, *, scale: float = 1.0,
                   bias_scale: float | None = None) -> tuple[float, float]:
    """(σ_w², σ_b²) of one layer of fan-in ``fan_in`` under ``prior`` (see the module docstring)."""
    require(prior in PRIORS, f"unknown prior {prior!r}; known: {', '.join(PRIORS)}")
    fan = fan_in
    if prior == "uniform":
        vw, vb = scale ** 2 / 3 * fan, scale ** 2 / 3
    elif prior == "kaiming_uniform":
        vw, vb = 2.0 * scale ** 2, 0.0
    elif prior == "torch_default":
        vw, vb = scale ** 2 / 3, scale ** 2 / (3 * fan)
    elif prior == "kaiming_normal":
        vw, vb = 2.0 * scale ** 2, 0.0
    else:
        vw, vb = scale ** 2, (bias_scale if bias_scale is not None else scale) ** 2
    return vw, vb if bias else 0.0


def layer_variances(prior: str, fan_ins, bias: bool, *, scale: float = 1.0,
                    bias_scale: float | None = None) -> list[tuple[float, float]]:
    """(σ_w², σ_b²) per layer for layers of the given fan-ins."""
    return [layer_variance(prior, int(f), bias, scale=scale, bias_scale=bias_scale) for f in fan_ins]


__all__ = ["ACTIVATIONS", "PRIORS", "layer_variance", "layer_variances"]
