"""A small fully connected ReLU network in NTK parameterization, float64, and its linearization at init.

Used by the ``which_minimizer`` check (Nonnenmacher, Reeb, Steinwart, ECML PKDD 2021): the init-scale law is
evaluated on the linearization of a wide two-layer net, and the gap between the GD-trained network and its
GD-trained linearization is measured against the width.

Network (NTK parameterization, no biases, all weights i.i.d. N(0, 1) at init, output scale α):
``h_0 = x``, ``h_l = relu(W_l h_{l−1} / √fan_in)``, ``f(x; θ) = α · a·h_L / √width_L``. The parameters are one
flat vector ``θ = (vec W_1, …, vec W_L, a)`` (row-major), so the last ``width_L`` entries are the last layer.
Training loss: ``(1/2n) Σ_i (f(x_i) − y_i)²``, the same as :mod:`numerics.linear_optimizers`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

DTYPE = torch.float64


@dataclass(frozen=True)
class NTKMLP:
    d_in: int
    hidden: tuple[int, ...]
    alpha: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.d_in < 1 or not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"need d_in >= 1 and positive hidden widths, got {self.d_in}, {self.hidden}")

    @property
    def shapes(self) -> list[tuple[int, int]]:
        sizes = (self.d_in, *self.hidden, 1)
        return [(sizes[i + 1], sizes[i]) for i in range(len(sizes) - 1)]

    @property
    def n_params(self) -> int:
        return sum(o * i for o, i in self.shapes)

    @property
    def n_last(self) -> int:
        return self.hidden[-1]

    def init(self, generator: torch.Generator, *, last_layer_mean: float = 0.0) -> torch.Tensor:
        """θ0 with i.i.d. N(0, 1) weights; ``last_layer_mean ≠ 0`` breaks the sign-flip symmetry of the law."""
        theta = torch.randn(self.n_params, generator=generator, dtype=DTYPE)
        theta[-self.n_last:] += last_layer_mean
        return theta

    def flip_last_layer(self, theta: torch.Tensor) -> torch.Tensor:
        flipped = theta.clone()
        flipped[-self.n_last:] = -flipped[-self.n_last:]
        return flipped

    def _layers(self, theta: torch.Tensor):
        offset = 0
        for fan_out, fan_in in self.shapes:
            yield theta[offset:offset + fan_out * fan_in].view(fan_out, fan_in), fan_in
            offset += fan_out * fan_in

    def _forward(self, theta: torch.Tensor, X: torch.Tensor):
        """The output and, per layer, its input h_{l−1} and pre-activation z_l (before the relu)."""
        h, inputs, pre = X, [], []
        for layer, (W, fan_in) in enumerate(self._layers(theta)):
            inputs.append(h)
            z = h @ W.T / math.sqrt(fan_in)
            pre.append(z)
            h = torch.relu(z) if layer < len(self.shapes) - 1 else z
        return self.alpha * h[:, 0], inputs, pre

    def __call__(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        return self._forward(theta, X)[0]

    def jacobian(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """``∂f(x_i; θ)/∂θ`` as an explicit (n, p) matrix from one backward pass.

        Output i depends on input i only, so the gradient of ``Σ_i f_i`` with respect to the pre-activations
        ``z_l`` holds every ``∂f_i/∂z_l(x_i)``, and the row of W_l's block is ``δ_l(x_i) h_{l−1}(x_i)ᵀ/√fan_in``.
        """
        theta = theta.detach().requires_grad_(True)
        out, inputs, pre = self._forward(theta, X)
        deltas = torch.autograd.grad(out.sum(), pre)
        blocks = [(d[:, :, None] * h.detach()[:, None, :]).reshape(len(X), -1) / math.sqrt(h.shape[1])
                  for d, h in zip(deltas, inputs)]
        return torch.cat(blocks, dim=1)

    def linearized(self, theta0: torch.Tensor, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """``f(X; θ0) + J0(X)(θ − θ0)`` by a Jacobian-vector product, without forming J0.

        ``torch.autograd.functional.jvp`` (the double-vjp construction) rather than ``torch.func.jvp``: the
        latter imports torch._dynamo on first use, seconds of start-up that a one-minute check cannot spare.
        """
        f0, tangent = torch.autograd.functional.jvp(lambda th: self(th, X), theta0, theta - theta0)
        return f0 + tangent

    def train_gd(self, theta0: torch.Tensor, X: torch.Tensor, y: torch.Tensor, lr: float,
                 steps: int) -> torch.Tensor:
        """``steps`` full-batch GD steps of size ``lr`` on the real (nonlinear) network."""
        theta = theta0.detach().clone()
        for _ in range(steps):
            theta.requires_grad_(True)
            loss = 0.5 * torch.mean((self(theta, X) - y) ** 2)
            (gradient,) = torch.autograd.grad(loss, theta)
            theta = (theta - lr * gradient).detach()
        return theta


def torch_generator(rng: np.random.Generator) -> torch.Generator:
    """A torch generator seeded from a numpy generator (so one ``SeedSequence`` drives both)."""
    return torch.Generator().manual_seed(int(rng.integers(0, 2 ** 62)))


def sphere_regression_data(n: int, d: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n inputs uniform on the sphere of radius √d (coordinates of order one) and the target ``sin(x_1)``
    (one coordinate suffices: the input law is rotation invariant)."""
    X = rng.standard_normal((n, d))
    X *= math.sqrt(d) / np.linalg.norm(X, axis=1, keepdims=True)
    return torch.as_tensor(X, dtype=DTYPE), torch.as_tensor(np.sin(X[:, 0]), dtype=DTYPE)
