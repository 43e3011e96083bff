"""Monte Carlo pieces of the NNGP limit (the closed forms and the recursion are in :mod:`theory.nngp`).

Under a non-Gaussian prior (``uniform``, ``kaiming_uniform``, ``torch_default``) the first layer's
pre-activations ``w·x + b`` are a fixed sum of uniforms at every width, so the exact limit uses the prior's own
first-layer moment E φ(w·x + b) φ(w·x' + b). :func:`first_layer_moment` estimates it by an average over
``units`` rows drawn from the prior (relative error ~ 1/√units); :func:`prior_nngp_kernel` passes it to
:func:`theory.nngp.nngp_kernel`.
"""
from __future__ import annotations

import numpy as np
import torch

from numerics.errors import require
from numerics.models import MLP, sample_prior
from theory.nngp import GAUSSIAN_FIRST_LAYER, activation_moment, layer_variances, nngp_kernel


def first_layer_moment(X: np.ndarray, prior: str, activation: str, bias: bool, *, scale: float = 1.0,
                       bias_scale: float | None = None, units: int = 2 ** 18,
                       generator: torch.Generator | None = None) -> np.ndarray:
    """``E[φ(w·x + b) φ(w·x' + b)]`` over one first-layer unit of ``prior``: exact (Gaussian) for Gaussian
    priors, else the average over ``units`` units drawn from the prior (needs ``generator``)."""
    X = np.asarray(X, float)
    if prior in GAUSSIAN_FIRST_LAYER:
        vw, vb = layer_variances(prior, in_dim=X.shape[1], depth=1, bias=bias, scale=scale, bias_scale=bias_scale)[0]
        return activation_moment(activation, vw * X @ X.T / X.shape[1] + vb)
    require(generator is not None, "a non-Gaussian first layer needs a generator for its Monte Carlo kernel")
    require(units >= 1, f"units must be >= 1, got {units}")
    Xt = torch.as_tensor(X, dtype=torch.float64)
    total = np.zeros((X.shape[0], X.shape[0]))
    chunk = max(1, min(units, 2 ** 22 // max(X.shape[0], 1)))
    done = 0
    while done < units:
        b = min(chunk, units - done)
        layer = MLP(X.shape[1], [b], 1, activation, bias)
        theta = sample_prior(layer, prior, 1, generator, scale=scale, bias_scale=bias_scale)[0]
        phi = layer.features(theta, Xt).numpy()
        total += phi @ phi.T
        done += b
    return total / units


def prior_nngp_kernel(X: np.ndarray, *, activation: str, depth: int, prior: str, bias: bool,
                      width: int | None = None, scale: float = 1.0, bias_scale: float | None = None,
                      units: int = 2 ** 18, generator: torch.Generator | None = None,
                      extra_bias: float = 0.0) -> np.ndarray:
    """:func:`theory.nngp.nngp_kernel` with the prior's own first layer (``first_layer="prior"``): the first
    layer's moment by :func:`first_layer_moment` (Monte Carlo over ``units`` rows for a non-Gaussian prior)."""
    moment = None
    if prior not in GAUSSIAN_FIRST_LAYER:
        moment = first_layer_moment(X, prior, activation, bias, scale=scale, bias_scale=bias_scale, units=units,
                                    generator=generator)
    return nngp_kernel(X, activation=activation, depth=depth, prior=prior, bias=bias, width=width, scale=scale,
                       bias_scale=bias_scale, first_layer="prior", first_moment=moment, extra_bias=extra_bias)


__all__ = ["first_layer_moment", "prior_nngp_kernel"]
