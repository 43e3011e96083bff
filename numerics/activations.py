"""Entrywise activations of the factorization ``W = W_d σ(W_{d−1} σ(⋯ σ(W_1)))``.

``linear``, ``tanh`` and ``leaky_relu`` (``max(slope·a, a)``, slope 0.2 by default; written
``leaky_relu:0.1`` for another slope). Each works on numpy arrays and torch tensors alike.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerics.errors import UserInputError

NAMES = ("linear", "tanh", "leaky_relu")


@dataclass(frozen=True)
class Activation:
    name: str
    slope: float = 0.2  # leaky ReLU only

    @property
    def antisymmetric(self) -> bool:
        """σ(−a) = −σ(a): the hypothesis of the width theorem."""
        return self.name in ("linear", "tanh")

    @property
    def homogeneous(self) -> bool:
        """σ(c a) = c σ(a) for c > 0: the kernel does not depend on the pre-activation scale."""
        return self.name in ("linear", "leaky_relu")

    @property
    def label(self) -> str:
        return f"leaky ReLU {self.slope:g}" if self.name == "leaky_relu" else self.name

    def __call__(self, a):
        if self.name == "linear":
            return a
        if self.name == "tanh":
            return a.tanh() if hasattr(a, "tanh") else np.tanh(a)
        if hasattr(a, "clamp"):  # torch
            return a.clamp(min=0) + self.slope * a.clamp(max=0)
        return np.maximum(a, self.slope * a)

    def __str__(self) -> str:
        return self.name if self.name != "leaky_relu" or self.slope == 0.2 else f"leaky_relu:{self.slope:g}"


def parse_activation(text: str) -> Activation:
    """``linear`` | ``tanh`` | ``leaky_relu`` | ``leaky_relu:<slope>`` → :class:`Activation`."""
    if isinstance(text, Activation):
        return text
    name, _, arg = str(text).strip().partition(":")
    if name not in NAMES:
        raise UserInputError(f"unknown activation {text!r}; known: {', '.join(NAMES)} (leaky_relu:<slope>)")
    if not arg:
        return Activation(name)
    if name != "leaky_relu":
        raise UserInputError(f"activation {name} takes no parameter (got {text!r})")
    try:
        slope = float(arg)
    except ValueError:
        raise UserInputError(f"activation {text!r}: the slope must be a number") from None
    if not 0 <= slope < 1:
        raise UserInputError(f"activation {text!r}: the slope must be in [0, 1)")
    return Activation(name, slope)
