"""Small real networks as pure functions of a flat parameter vector or a batch of them.

- :class:`MLP`: ``in_dim → widths… → out_dim``, activation ``relu`` / ``tanh`` / ``linear``, with or without
  biases. Parameters are laid out layer by layer, ``W_l`` (out × in, row-major) then ``b_l``.
- :class:`CNN` for 8×8 inputs: conv 3×3 (``c`` channels, padding 1) → ReLU → max-pool 2 → conv 3×3 (``2c``)
  → ReLU → max-pool 2 → dense (``hidden``) → ReLU → dense (``out_dim``); ``c`` and ``hidden`` scale with a
  width factor.
- ``model(theta, X)``: ``theta`` of shape (P,) gives logits (N, out); (B, P) gives (B, N, out): B models on the
  same inputs (the first layer is one GEMM for all of them).
- Priors (:func:`sample_prior`): ``uniform`` (every parameter U(−a, a), no fan-in scaling; Chiang et al.
  a = 1), ``kaiming_uniform`` (U(±√(6/fan_in)) weights), ``kaiming_normal`` (N(0, 2/fan_in)), ``gaussian``
  (N(0, σ_w²/fan_in) weights, N(0, σ_b²) biases), ``torch_default`` (PyTorch's ``nn.Linear``/``nn.Conv2d``
  initialization: U(±1/√fan_in) for weights and biases). Draws are made on a CPU generator (same numbers on
  every device), in float64 unless asked otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from numerics.errors import require
from theory.mlp import ACTIVATIONS, PRIORS, layer_variance

ARCHS = ("mlp", "cnn")


def activate(name: str, a: torch.Tensor) -> torch.Tensor:
    if name == "relu":
        return torch.relu(a)
    if name == "tanh":
        return torch.tanh(a)
    return a


@dataclass(frozen=True)
class ParamBlock:
    name: str
    shape: tuple
    fan_in: int
    is_bias: bool
    layer: int


def layer_blocks(spec, bias: bool) -> tuple[ParamBlock, ...]:
    """The parameter blocks of layers ``(name, weight shape, fan-in)``, in order: each weight, then its bias
    (named ``b`` + the weight's name without its first letter) when ``bias``."""
    blocks = []
    for layer, (name, shape, fan) in enumerate(spec):
        blocks.append(ParamBlock(name, shape, fan, False, layer))
        if bias:
            blocks.append(ParamBlock("b" + name[1:], (shape[0],), fan, True, layer))
    return tuple(blocks)


class _Model:
    blocks: tuple
    out_dim: int

    @property
    def n_params(self) -> int:
        return sum(math.prod(b.shape) for b in self.blocks)

    def split(self, theta: torch.Tensor) -> list[torch.Tensor]:
        """Views of ``theta`` ((P,) or (B, P)) per block, shaped (*batch, *block.shape)."""
        batch = theta.shape[:-1]
        out, i = [], 0
        for b in self.blocks:
            size = math.prod(b.shape)
            out.append(theta[..., i:i + size].reshape(*batch, *b.shape))
            i += size
        return out

    def weight_mask(self) -> np.ndarray:
        """Boolean (P,) mask: True for weights, False for biases."""
        return np.concatenate([np.full(math.prod(b.shape), not b.is_bias) for b in self.blocks])

    def layer_index(self) -> np.ndarray:
        """(P,) layer number of every parameter (0-based)."""
        return np.concatenate([np.full(math.prod(b.shape), b.layer) for b in self.blocks])

    def permute_outputs(self, theta: torch.Tensor, perm) -> torch.Tensor:
        """Parameters whose logit ``perm[c]`` is logit ``c`` of ``theta``: the rows of the last layer's weight and
        bias permuted, nothing else touched (a relabelling of the classes; G&C's label-swap symmetry)."""
        perm = np.asarray(perm)
        require(sorted(perm.tolist()) == list(range(self.out_dim)), f"perm must permute 0..{self.out_dim - 1}")
        inv = np.argsort(perm)
        src = np.arange(self.n_params)
        last = max(b.layer for b in self.blocks)
        i = 0
        for b in self.blocks:
            size = math.prod(b.shape)
            if b.layer == last:
                per = size // b.shape[0]  # entries of one output row
                for r in range(b.shape[0]):
                    src[i + r * per: i + (r + 1) * per] = i + inv[r] * per + np.arange(per)
            i += size
        return theta[..., torch.as_tensor(src, device=theta.device)]

    def __call__(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        return self.forward(theta, X)

    def predict(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        return self.forward(theta, X).argmax(-1)


class MLP(_Model):
    def __init__(self, in_dim: int, widths, out_dim: int, activation: str = "relu", bias: bool = True):
        widths = tuple(int(w) for w in widths)
        require(activation in ACTIVATIONS, f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}")
        require(all(w >= 1 for w in widths) and in_dim >= 1 and out_dim >= 1,
                f"MLP sizes must be positive, got in {in_dim}, widths {list(widths)}, out {out_dim}")
        self.in_dim, self.widths, self.out_dim, self.activation, self.bias = in_dim, widths, out_dim, activation, bias
        dims = (in_dim, *widths, out_dim)
        blocks = []
        for l, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            blocks.append(ParamBlock(f"W{l + 1}", (b, a), a, False, l))
            if bias:
                blocks.append(ParamBlock(f"b{l + 1}", (b,), a, True, l))
        self.blocks = tuple(blocks)

    @property
    def depth(self) -> int:
        return len(self.widths)

    @property
    def activation_size(self) -> int:
        """Numbers computed per input and model in a forward pass (hidden units and logits): sizes buffers."""
        return sum(self.widths) + self.out_dim

    def layers(self, theta: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        parts = self.split(theta)
        if self.bias:
            return [(parts[2 * i], parts[2 * i + 1]) for i in range(len(parts) // 2)]
        return [(w, None) for w in parts]

    def features(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """The last hidden layer's activations: (N, width) or (B, N, width)."""
        h = X
        for W, b in self.layers(theta)[:-1]:
            h = _dense(h, W, b)
            h = activate(self.activation, h)
        return h

    def forward(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        W, b = self.layers(theta)[-1]
        return _dense(self.features(theta, X), W, b)

    def __repr__(self) -> str:
        return f"MLP({self.in_dim}→{'→'.join(map(str, self.widths))}→{self.out_dim}, {self.activation}, bias={self.bias})"


def _dense(h: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """h (N, a) or (B, N, a); W (b, a) or (B, b, a). The first layer (h shared, W batched) is one batched
    product with the shared inputs broadcast (``matmul`` reads the strided weight views of a (B, P) batch in
    place: measured 3–5× faster than copying them into one (B·b, a) GEMM operand)."""
    if W.dim() == 3 and h.dim() == 2:
        out = torch.matmul(W, h.T).transpose(1, 2)
    elif W.dim() == 3:
        out = torch.bmm(h, W.transpose(1, 2))
    else:
        out = h @ W.T
    if b is not None:
        out = out + (b.unsqueeze(-2) if b.dim() == 2 else b)
    return out


class CNN(_Model):
    """Two 3×3 conv layers with max-pooling, then two dense layers, for ``image_shape`` inputs (8×8 digits)."""

    def __init__(self, image_shape=(8, 8), channels: int = 4, hidden: int = 32, out_dim: int = 2,
                 bias: bool = True, in_channels: int = 1):
        H, W = image_shape
        require(H % 4 == 0 and W % 4 == 0, f"CNN needs image sides divisible by 4, got {image_shape}")
        require(channels >= 1 and hidden >= 1 and out_dim >= 1, "CNN sizes must be positive")
        self.image_shape, self.channels, self.hidden, self.out_dim, self.bias = (H, W), channels, hidden, out_dim, bias
        self.in_channels = in_channels
        self.in_dim = in_channels * H * W
        c1, c2 = channels, 2 * channels
        flat = c2 * (H // 4) * (W // 4)
        spec = [("C1", (c1, in_channels, 3, 3), in_channels * 9), ("C2", (c2, c1, 3, 3), c1 * 9),
                ("W3", (hidden, flat), flat), ("W4", (out_dim, hidden), hidden)]
        self.blocks = layer_blocks(spec, bias)
        self.activation = "relu"

    @property
    def activation_size(self) -> int:
        """Numbers computed per input and model in a forward pass (conv maps, pooled maps, dense): sizes buffers."""
        H, W = self.image_shape
        c1, c2 = self.channels, 2 * self.channels
        return 2 * c1 * H * W + c1 * H * W // 4 + 2 * c2 * H * W // 4 + c2 * H * W // 16 + self.hidden + self.out_dim

    def forward(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        single = theta.dim() == 1
        th = theta.unsqueeze(0) if single else theta
        parts = self.split(th)
        ws = parts[0::2] if self.bias else parts
        bs = parts[1::2] if self.bias else [None] * 4
        B, N = th.shape[0], X.shape[0]
        H, W = self.image_shape
        x = X.reshape(N, self.in_channels, H, W).repeat(1, B, 1, 1)  # models as conv groups
        for k in range(2):
            w = ws[k]
            x = F.conv2d(x, w.reshape(-1, *w.shape[2:]), None if bs[k] is None else bs[k].reshape(-1),
                         padding=1, groups=B)
            x = F.max_pool2d(torch.relu(x), 2)
        x = x.reshape(N, B, -1).transpose(0, 1)  # (B, N, flat)
        h = torch.relu(_dense(x, ws[2], bs[2]))
        out = _dense(h, ws[3], bs[3])
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"CNN({self.image_shape}, channels={self.channels}, hidden={self.hidden}, out={self.out_dim}, bias={self.bias})"


def make_model(arch: str, in_dim: int, out_dim: int, *, width: int, depth: int = 1, activation: str = "relu",
               bias: bool = True, image_shape=(8, 8)):
    """``mlp``: ``depth`` hidden layers of ``width``; ``cnn``: ``channels = max(1, width // 8)``, ``hidden = width``."""
    require(arch in ARCHS, f"unknown arch {arch!r}; known: {', '.join(ARCHS)}")
    require(width >= 1 and depth >= 1, f"width and depth must be >= 1, got {width}, {depth}")
    if arch == "mlp":
        return MLP(in_dim, [width] * depth, out_dim, activation, bias)
    require(image_shape is not None and math.prod(image_shape) == in_dim,
            f"cnn needs image inputs ({in_dim} features is not an image of shape {image_shape})")
    return CNN(image_shape, channels=max(1, width // 8), hidden=width, out_dim=out_dim, bias=bias)


def prior_law(block: ParamBlock, prior: str, scale: float = 1.0, bias_scale: float | None = None) -> tuple[str, float]:
    """The law of every entry of ``block`` under ``prior``: ``("uniform", a)`` for U(−a, a) or ``("normal", sd)``
    (a = 0 or sd = 0: the entries are 0). One definition for both samplers below."""
    if prior == "uniform":
        return "uniform", scale
    if prior == "kaiming_uniform":
        return "uniform", scale * math.sqrt(6.0 / block.fan_in) if not block.is_bias else 0.0
    if prior == "torch_default":
        return "uniform", scale / math.sqrt(block.fan_in)
    if prior == "kaiming_normal":
        return "normal", scale * math.sqrt(2.0 / block.fan_in) if not block.is_bias else 0.0
    # gaussian
    return "normal", (bias_scale if bias_scale is not None else scale) if block.is_bias else scale / math.sqrt(block.fan_in)


def _check_prior(prior: str, n: int, scale: float) -> None:
    require(prior in PRIORS, f"unknown prior {prior!r}; known: {', '.join(PRIORS)}")
    require(n >= 0 and scale > 0, f"need n >= 0 and scale > 0, got n={n}, scale={scale}")


def sample_prior(model: _Model, prior: str, n: int, generator: torch.Generator, *, scale: float = 1.0,
                 bias_scale: float | None = None, dtype=torch.float64, device="cpu") -> torch.Tensor:
    """``n`` parameter vectors (n, P) from ``prior`` (see the module docstring). ``scale`` is a for ``uniform``,
    σ_w for ``gaussian`` (``bias_scale`` σ_b, default σ_w), a multiplier for the others."""
    _check_prior(prior, n, scale)
    cols = []
    for b in model.blocks:
        size = math.prod(b.shape)
        kind, width = prior_law(b, prior, scale, bias_scale)
        if kind == "uniform":
            u = torch.rand(n, size, generator=generator, dtype=dtype)
            cols.append((2 * u - 1) * width)
        else:
            cols.append(torch.randn(n, size, generator=generator, dtype=dtype) * width)
    return torch.cat(cols, dim=1).to(device) if cols else torch.zeros(n, 0, dtype=dtype, device=device)


def sample_prior_np(model: _Model, prior: str, n: int, rng: np.random.Generator, *, scale: float = 1.0,
                    bias_scale: float | None = None, laws: list | None = None) -> np.ndarray:
    """The same law as :func:`sample_prior`, drawn by a numpy ``rng`` into one float64 (n, P) array (numpy's
    PCG64 is about twice as fast as torch's CPU generator; the G&C hot path uses it). Not the same numbers.
    ``laws`` (one :func:`prior_law` per block) overrides the blocks' own laws, e.g. for a sub-network whose
    first layer sees only some inputs but must keep the full network's fan-in scaling."""
    _check_prior(prior, n, scale)
    out = np.empty((n, model.n_params))
    if laws is None:
        laws = [prior_law(b, prior, scale, bias_scale) for b in model.blocks]
    require(len(laws) == len(model.blocks), "internal: one law per parameter block")
    sizes = [math.prod(b.shape) for b in model.blocks]
    width = np.repeat([w for _, w in laws], sizes)
    kinds = {k for k, _ in laws}
    if kinds == {"uniform"}:  # one pass of the generator into the whole array, then one affine map
        rng.random(out=out)
        out *= 2 * width
        out -= width
    elif kinds == {"normal"}:
        rng.standard_normal(out=out)
        out *= width
    else:
        i = 0
        for (kind, w), size in zip(laws, sizes):
            draw = rng.random((n, size)) * (2 * w) - w if kind == "uniform" else rng.standard_normal((n, size)) * w
            out[:, i:i + size] = draw
            i += size
    return out


def prior_variances(model: _Model, prior: str, *, scale: float = 1.0, bias_scale: float | None = None) -> list[tuple[float, float]]:
    """Per layer (weight variance × fan_in, bias variance): the σ_w², σ_b² of the NNGP kernel recursion
    (the closed forms are :func:`theory.mlp.layer_variance`)."""
    return [layer_variance(prior, b.fan_in, model.bias, scale=scale, bias_scale=bias_scale)
            for b in model.blocks if not b.is_bias]
