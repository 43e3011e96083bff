"""Prior draws of the end-to-end matrix ``W = W_d σ(W_{d−1} σ(⋯ σ(W_1)))`` of a depth-d, width-k factorization.

Priors (Alexander et al. 2025, as implemented by the authors):
- ``gaussian``: every entry N(0, 1/rows): hidden layers W_1..W_{d−1} (k rows) N(0, 1/k), W_d (m rows) N(0, 1/m);
- ``uniform``: entries U[−1, 1]/√rows;
- ``normalized``: a ``gaussian`` draw of the end-to-end product, then ``W / ‖W‖_F``.

Samplers of the same law (derivations of this package, tested for equality in law):
- ``materialized``: every weight drawn and multiplied (the oracle; the authors' algorithm); any prior.
- ``qr``: exact reduction for Gaussian layers and any σ. If W (r×k) has i.i.d. N(0, s²) entries and is
  independent of H (k×m'), the rows of W H are i.i.d. N(0, s² HᵀH), so ``W H =d s G R(H)`` with G standard
  normal (r×min(k,m')) and RᵀR = HᵀH. R comes from a Cholesky factor of the Gram HᵀH, or from a QR of H for
  the (rare) chunks where Cholesky fails, and always from QR when k < m'.
- ``bartlett``: linear σ, Gaussian layers, k ≥ m': ``GᵀG ~ Wishart(k, I)`` equals T Tᵀ in law (Bartlett: T
  lower triangular, T_ii² ~ χ²_{k−i+1}, T_ij ~ N(0,1) below the diagonal), so
  ``W =d s_d G_d · s_{d−1}T_{d−1}ᵀ ⋯ s_1 T_1ᵀ``: O(m'²) variates per layer for any width.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerics.activations import Activation, parse_activation
from numerics.errors import require

PRIORS = ("gaussian", "uniform", "normalized")
SAMPLERS = ("auto", "materialized", "qr", "bartlett")


@dataclass(frozen=True)
class Factorization:
    """Shape, activation and prior of the factorization; ``m × m'`` is the end-to-end shape."""
    m: int
    mp: int
    width: int
    depth: int
    activation: Activation
    prior: str = "gaussian"

    def __post_init__(self):
        object.__setattr__(self, "activation", parse_activation(self.activation))
        require(isinstance(self.width, (int, np.integer)) and self.width >= 1,
                f"width must be a positive integer, got {self.width}")
        require(isinstance(self.depth, (int, np.integer)) and self.depth >= 2,
                f"depth must be an integer >= 2, got {self.depth}")
        require(self.m >= 1 and self.mp >= 1, f"m and m' must be positive, got {self.m}, {self.mp}")
        require(self.prior in PRIORS, f"unknown prior {self.prior!r}; known: {', '.join(PRIORS)}")

    def layer_shapes(self) -> list[tuple[int, int]]:
        k = self.width
        return [(k, self.mp)] + [(k, k)] * (self.depth - 2) + [(self.m, k)]

    def layer_stds(self) -> list[float]:
        """Standard deviation of a Gaussian layer's entries: 1/√rows."""
        return [1.0 / np.sqrt(rows) for rows, _ in self.layer_shapes()]

    def exact_samplers(self) -> tuple[str, ...]:
        """The samplers whose law equals this prior's."""
        if self.prior == "uniform":
            return ("materialized",)
        if self.activation.name == "linear" and self.width >= self.mp:
            return ("materialized", "qr", "bartlett")
        return ("materialized", "qr")

    def resolve_sampler(self, sampler: str = "auto") -> str:
        require(sampler in SAMPLERS, f"unknown sampler {sampler!r}; known: {', '.join(SAMPLERS)}")
        exact = self.exact_samplers()
        if sampler == "auto":  # the reductions do not pay for k <= m' (measured: docs/benchmarks.md)
            return "materialized" if self.width <= self.mp else exact[-1]
        require(sampler in exact, f"sampler {sampler!r} is not exact for prior {self.prior!r}, "
                                  f"activation {self.activation.name}, width {self.width}; use one of {', '.join(exact)}")
        return sampler

    def bytes_per_draw(self, sampler: str) -> int:
        """Peak float64 working memory of one draw (a few copies of the largest intermediate)."""
        k, m, mp = self.width, self.m, self.mp
        if sampler == "materialized":
            return 8 * 3 * (k * k * (self.depth > 2) + k * mp + m * k + m * mp)
        if sampler == "qr":
            return 8 * 4 * (k * mp + m * mp + mp * mp)
        return 8 * 4 * (m * mp + mp * mp)


def sample(fact: Factorization, batch: int, rng: np.random.Generator, sampler: str = "auto") -> np.ndarray:
    """``batch`` independent prior draws of the end-to-end matrix, shape (batch, m, m')."""
    sampler = fact.resolve_sampler(sampler)
    if fact.prior == "uniform":
        W = _materialized_uniform(fact, batch, rng)
    else:
        root = hidden_root(fact, batch, rng, sampler)
        W = fact.layer_stds()[-1] * rng.standard_normal((batch, fact.m, root.shape[1])) @ root
    if fact.prior == "normalized":
        W /= np.linalg.norm(W, axis=(1, 2), keepdims=True)
    return W


def hidden_root(fact: Factorization, batch: int, rng: np.random.Generator, sampler: str = "auto") -> np.ndarray:
    """For Gaussian layers: U (batch, r, m') with ``W =d s_d G U``, G (m×r) standard normal independent of U.

    materialized: U = H_{d−1}, the last hidden activations (r = k); qr/bartlett: any U with
    ``UᵀU = H_{d−1}ᵀ H_{d−1}`` (r = min(k, m')). The prior's end-to-end normalization is not applied here.
    """
    require(fact.prior != "uniform", "the uniform prior has no Gaussian last layer")
    return _ROOTS[fact.resolve_sampler(sampler)](fact, batch, rng)


def _materialized_uniform(fact: Factorization, batch: int, rng: np.random.Generator) -> np.ndarray:
    shapes, stds, sigma = fact.layer_shapes(), fact.layer_stds(), fact.activation
    layers = [rng.uniform(-sd, sd, size=(batch, *shape)) for shape, sd in zip(shapes, stds)]
    H = sigma(layers[0])
    for W in layers[1:-1]:
        H = sigma(W @ H)
    return layers[-1] @ H


def materialized_chain_root(fact: Factorization, layer_normals) -> np.ndarray:
    """The last hidden activations H_{d−1} (batch, k, m') from the hidden layers' standard normals (an iterable
    of (batch, *shape) for ``fact.layer_shapes()[:-1]``, consumed in order): a deterministic map of the normals."""
    stds, sigma, normals = fact.layer_stds(), fact.activation, iter(layer_normals)
    H = sigma(stds[0] * next(normals))
    for j in range(1, fact.depth - 1):
        H = sigma(stds[j] * next(normals) @ H)
    return H


def _materialized_root(fact: Factorization, batch: int, rng: np.random.Generator) -> np.ndarray:
    return materialized_chain_root(fact, (rng.standard_normal((batch, *shape)) for shape in fact.layer_shapes()[:-1]))


def _r_factor(H: np.ndarray, canonical: bool = False) -> np.ndarray:
    """A batch of R with RᵀR = HᵀH: Cholesky of the Gram (fast), QR where that fails or k < m'.

    ``canonical``: flip the QR rows to a non-negative diagonal (what Cholesky gives), so that R is a function
    of each H alone, not of whether a batch-mate made Cholesky fail.
    """
    k, mp = H.shape[-2:]
    if k >= mp:
        try:
            return np.swapaxes(np.linalg.cholesky(np.swapaxes(H, -1, -2) @ H), -1, -2)
        except np.linalg.LinAlgError:
            pass
    R = np.linalg.qr(H, mode="r")
    if canonical:
        R = R * np.where(np.diagonal(R, axis1=-2, axis2=-1) < 0, -1.0, 1.0)[..., None]
    return R


def qr_latent_shapes(fact: Factorization) -> list[tuple[int, int]]:
    """Shapes of the standard normals the QR chain consumes per draw: (k, m') then d − 2 times (k, min(k, m'))."""
    k, r = fact.width, min(fact.width, fact.mp)
    return [(k, fact.mp)] + [(k, r)] * (fact.depth - 2)


def qr_chain_root(fact: Factorization, layer_normals, canonical: bool = False) -> np.ndarray:
    """The QR chain's hidden root U (batch, min(k, m'), m') from its standard normals, one array per hidden layer
    (an iterable of (batch, *shape) for the shapes of :func:`qr_latent_shapes`, consumed in order).

    A deterministic map of the normals (``canonical=True`` makes it one draw's function alone): the rare-event
    samplers move these Gaussian latents and recompute U.
    """
    stds, sigma, normals = fact.layer_stds(), fact.activation, iter(layer_normals)
    H = sigma(stds[0] * next(normals))
    for j in range(1, fact.depth - 1):
        H = sigma(stds[j] * next(normals) @ _r_factor(H, canonical))
    return _r_factor(H, canonical)


def _qr_root(fact: Factorization, batch: int, rng: np.random.Generator) -> np.ndarray:
    return qr_chain_root(fact, (rng.standard_normal((batch, *shape)) for shape in qr_latent_shapes(fact)))


def bartlett_factors(k: int, p: int, batch: int, rng: np.random.Generator) -> np.ndarray:
    """Lower-triangular T (batch, p, p) with T Tᵀ ~ Wishart_p(k, I): T_ii² ~ χ²_{k−i+1}, N(0,1) below."""
    T = np.zeros((batch, p, p))
    rows, cols = np.tril_indices(p, -1)
    T[:, rows, cols] = rng.standard_normal((batch, rows.size))
    dof = k - np.arange(p)
    T[:, np.arange(p), np.arange(p)] = np.sqrt(2.0 * rng.standard_gamma(dof / 2.0, size=(batch, p)))
    return T


def _bartlett_root(fact: Factorization, batch: int, rng: np.random.Generator) -> np.ndarray:
    stds, k, mp = fact.layer_stds(), fact.width, fact.mp
    R = stds[0] * np.swapaxes(bartlett_factors(k, mp, batch, rng), -1, -2)
    for j in range(1, fact.depth - 1):
        R = stds[j] * np.swapaxes(bartlett_factors(k, mp, batch, rng), -1, -2) @ R
    return R


_ROOTS = {"materialized": _materialized_root, "qr": _qr_root, "bartlett": _bartlett_root}
