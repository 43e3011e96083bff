"""LeNet-w of Chiang et al. (ICLR 2023, "Loss Landscapes are All You Need", §4 and Table 6) as a pure function of
a batch of parameter vectors, like :class:`numerics.models.MLP` and :class:`numerics.models.CNN`.

Architecture (the paper's LeNet with a width factor w): conv 5×5 (int(6w) channels) → ReLU → max-pool 2 →
conv 5×5 (int(16w)) → ReLU → max-pool 2 → dense (int(120w)) → ReLU → dense (int(84w)) → ReLU → dense (classes);
no padding; inputs 1×28×28 (MNIST, Fashion-MNIST) or 3×32×32 (CIFAR-10). Parameters are laid out block by
block as ``torch.nn`` stores them (kernel (out, in, 5, 5), bias, …, dense (out, in)), so a vector loads into a
``torch.nn`` LeNet unchanged; the flatten before the first dense layer is channel-major, as ``nn.Flatten``.

Forward pass for B models on N shared images (the first layer's work is shared, as the package's MLP does):
- conv 1 is one GEMM per image for all models: the (B·c1) kernels stacked as rows times the image's 5×5
  patches (unfolded once; :meth:`LeNet.patches`);
- max-pooling is the maximum of four strided views; ReLU and the bias commute with it (max(x) + b =
  max(x + b), relu(max) = max(relu)), so both are applied after pooling, on 4× fewer numbers;
- conv 2 is one grouped convolution with the models as groups (measured faster here than unfolding each
  model's maps into a batched GEMM); the dense layers are batched GEMMs.

Priors: every prior of :mod:`numerics.models` (``uniform`` U(−a, a) on every parameter — Chiang et al.'s
LeNet prior with a = 1 — ``torch_default`` for PyTorch's initialization, …), drawn by the package's samplers.
Normalized loss: Chiang et al. divide the logits by Π_l ‖W_l‖_F / 3 over the five weight layers
(:data:`NORM_DIVISOR`; :func:`normalized_loss`).

Float32 error bound (:func:`forward_with_bound`): for the float32 accept pass of the fast G&C, a rigorous
bound on |f̂(x) − f(x)|_∞, the float32 logits against the exact ones, per model and image. With u the unit
round-off, each layer computes ĥ_l = fl(W_l ĥ_{l−1} + b_l) (one dot product of K_l terms plus a bias, after the
float64 parameters were rounded to float32), so by the standard dot-product bound (Higham, *Accuracy and
Stability of Numerical Algorithms*, §3.1, valid for any summation order and with fused multiply-adds) and the
1-Lipschitz, order-preserving ReLU and max-pool,
    e_l ≤ R_l e_{l−1} + γ_{K_l+2} (R_l ‖ĥ_{l−1}‖_∞ + ‖b_l‖_∞),   γ_k = k u / (1 − k u),
with R_l the largest absolute row sum of W_l (its ∞→∞ operator norm) and e_0 = u ‖x‖_∞ (the rounding of the
input). A margin f_y − max_{c≠y} f_c computed in float32 is then off by at most 2 e_L (1 + u) + u |m̂|. The
bound is doubled (:data:`BOUND_SAFETY`) to cover the rounding of its own float32 evaluation. It assumes conv 2
is evaluated as sums of products (direct or GEMM; not a Winograd or FFT algorithm). It is a worst case over
the signs of the rounding errors and so very loose for deep random nets (0.1–0.4 of the logits for
LeNet-0.5 under U(−1, 1)); the G&C pass uses a relative band instead (:mod:`numerics.gnc_lenet`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from numerics.errors import require
from numerics.models import _dense, _Model, layer_blocks
from numerics.normalized_losses import normalized_cross_entropy

NORM_DIVISOR = 3.0  # Chiang et al.: each layer's Frobenius norm divided by 3 for LeNet
BOUND_SAFETY = 2.0


def lenet_channels(width: float) -> tuple[int, int, int, int]:
    """(conv1, conv2, dense1, dense2) sizes of LeNet-w: int(6w), int(16w), int(120w), int(84w)."""
    return int(6 * width), int(16 * width), int(120 * width), int(84 * width)


class LeNet(_Model):
    """LeNet-``width`` for ``in_channels`` × ``image_shape`` inputs with ``out_dim`` classes (module docstring)."""

    norm_divisor = NORM_DIVISOR

    def __init__(self, width: float = 1.0, out_dim: int = 10, image_shape=(28, 28), in_channels: int = 1,
                 bias: bool = True):
        H, W = (int(s) for s in image_shape)
        c1, c2, h1, h2 = lenet_channels(width)
        require(min(c1, c2, h1, h2) >= 1, f"LeNet width {width} leaves a layer without units (sizes {c1, c2, h1, h2})")
        require(out_dim >= 2, f"LeNet needs >= 2 classes, got {out_dim}")
        H1, W1 = H - 4, W - 4
        require(H1 > 0 and W1 > 0 and H1 % 2 == 0 and W1 % 2 == 0 and (H1 // 2 - 4) > 0 and (H1 // 2 - 4) % 2 == 0
                and (W1 // 2 - 4) > 0 and (W1 // 2 - 4) % 2 == 0,
                f"LeNet needs images whose sides minus 4, halved, minus 4 are positive and even (28, 32), got {image_shape}")
        self.width, self.out_dim, self.bias, self.in_channels = width, int(out_dim), bias, int(in_channels)
        self.image_shape = (H, W)
        self.in_dim = in_channels * H * W
        self.sizes = (c1, c2, h1, h2)
        self.maps = ((H1, W1), (H1 // 2, W1 // 2), (H1 // 2 - 4, W1 // 2 - 4), ((H1 // 2 - 4) // 2, (W1 // 2 - 4) // 2))
        flat = c2 * self.maps[3][0] * self.maps[3][1]
        shapes = [("C1", (c1, in_channels, 5, 5)), ("C2", (c2, c1, 5, 5)), ("W3", (h1, flat)), ("W4", (h2, h1)),
                  ("W5", (out_dim, h2))]
        self.blocks = layer_blocks([(name, shape, math.prod(shape[1:])) for name, shape in shapes], bias)
        self.activation = "relu"

    @property
    def activation_size(self) -> int:
        """Numbers computed per image and model in a forward pass (sizes memory budgets)."""
        (a, b), (c, d), (e, f), (g, h) = self.maps
        c1, c2, h1, h2 = self.sizes
        return c1 * (a * b + c * d) + c2 * (e * f + g * h) + 25 * c1 * e * f + h1 + h2 + self.out_dim

    def weights_and_biases(self, theta: torch.Tensor):
        parts = self.split(theta)
        if self.bias:
            return parts[0::2], parts[1::2]
        return parts, [None] * len(parts)

    def patches(self, X: torch.Tensor) -> torch.Tensor:
        """The 5×5 patches of the images ``X`` (N, in_dim): (N, H1·W1, in_channels·25), channel-major like a
        conv kernel. Shared by every model (conv 1 is one GEMM against them)."""
        N = X.shape[0]
        img = X.reshape(N, self.in_channels, *self.image_shape)
        win = img.unfold(2, 5, 1).unfold(3, 5, 1)  # (N, C, H1, W1, 5, 5), a view
        return win.permute(0, 2, 3, 1, 4, 5).reshape(N, -1, self.in_channels * 25)

    def forward(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        return self.forward_patches(theta, self.patches(X.to(theta.dtype)))

    def forward_patches(self, theta: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
        """Logits (B, N, out) for theta (B, P) ((N, out) for theta (P,)) from :meth:`patches`."""
        return self._run(theta, P, bound=None)[0]

    def forward_with_bound(self, theta: torch.Tensor, P: torch.Tensor, x_inf: torch.Tensor, unit_roundoff: float):
        """(logits (B, N, out), bound (B, N)): the bound on the ∞-norm error of the logits against exact
        arithmetic (module docstring); ``x_inf`` (N,) the inputs' ∞-norms, ``unit_roundoff`` u."""
        return self._run(theta, P, bound=(x_inf, float(unit_roundoff)))

    def _run(self, theta, P, bound):
        single = theta.dim() == 1
        th = theta.unsqueeze(0) if single else theta
        B, N = th.shape[0], P.shape[0]
        ws, bs = self.weights_and_biases(th)
        c1, c2, _, _ = self.sizes
        (H1, W1), (h, w), (H2, W2), (g, k) = self.maps
        if bound is not None:
            x_inf, u = bound
            gamma = lambda K: (K + 2) * u / (1 - (K + 2) * u)
            err = (u * x_inf).unsqueeze(0).expand(B, N)  # e_0 per (model, image)
            act = x_inf.unsqueeze(0).expand(B, N)  # ‖ĥ_{l-1}‖_∞
        # conv 1: one GEMM per image for all models: (B·c1, K) x (K, H1·W1)
        W1m = ws[0].reshape(B * c1, -1)
        x = _pool(torch.matmul(W1m, P.transpose(1, 2)).reshape(N, B * c1, H1, W1))
        if bs[0] is not None:
            x = x + bs[0].reshape(B * c1, 1, 1)
        x = torch.relu(x)  # (N, B·c1, h, w)
        if bound is not None:
            err, act = self._step(err, act, ws[0], bs[0], gamma), x.reshape(N, B, -1).amax(2).T
        # conv 2: the models as groups of one grouped convolution
        y = _pool(F.conv2d(x, ws[1].reshape(B * c2, c1, 5, 5), None if bs[1] is None else bs[1].reshape(-1), groups=B))
        y = torch.relu(y).reshape(N, B, c2, g, k)
        if bound is not None:
            err, act = self._step(err, act, ws[1], bs[1], gamma), y.reshape(N, B, -1).amax(2).T
        hcur = y.reshape(N, B, c2 * g * k).transpose(0, 1)  # channel-major flatten, as nn.Flatten
        for layer in (2, 3, 4):
            hcur = _dense(hcur, ws[layer], bs[layer])
            if layer < 4:
                hcur = torch.relu(hcur)
            if bound is not None:
                err = self._step(err, act, ws[layer], bs[layer], gamma)
                if layer < 4:
                    act = hcur.amax(dim=2)
        out = hcur[0] if single else hcur
        if bound is None:
            return out, None
        return out, (err[0] if single else err)

    @staticmethod
    def _step(err, act, W, b, gamma):
        """e_l = R_l e_{l−1} + γ_{K+2} (R_l ‖ĥ_{l−1}‖_∞ + ‖b_l‖_∞), per (model, image)."""
        B = W.shape[0]
        rows = W.reshape(B, W.shape[1], -1)
        K = rows.shape[2]
        R = rows.abs().sum(2).amax(1).unsqueeze(1)  # (B, 1)
        beta = b.abs().amax(1).unsqueeze(1) if b is not None else 0.0
        return R * err + gamma(K) * (R * act + beta)

    def torch_module(self, theta: torch.Tensor) -> torch.nn.Module:
        """A ``torch.nn`` LeNet with the parameters ``theta`` (P,) loaded (for tests and users)."""
        from torch import nn
        c1, c2, h1, h2 = self.sizes
        flat = c2 * self.maps[3][0] * self.maps[3][1]
        net = nn.Sequential(nn.Conv2d(self.in_channels, c1, 5, bias=self.bias), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(c1, c2, 5, bias=self.bias), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(flat, h1, bias=self.bias), nn.ReLU(), nn.Linear(h1, h2, bias=self.bias), nn.ReLU(),
                            nn.Linear(h2, self.out_dim, bias=self.bias)).to(dtype=theta.dtype, device=theta.device)
        ws, bs = self.weights_and_biases(theta)
        layers = [m for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]
        with torch.no_grad():
            for m, W, b in zip(layers, ws, bs):
                m.weight.copy_(W)
                if b is not None:
                    m.bias.copy_(b)
        return net

    def __repr__(self) -> str:
        return (f"LeNet(w={self.width}, {self.in_channels}x{self.image_shape[0]}x{self.image_shape[1]}, "
                f"sizes={self.sizes}, out={self.out_dim}, bias={self.bias})")


def _pool(x: torch.Tensor) -> torch.Tensor:
    """2×2 max-pooling with stride 2 over the last two axes, as the maximum of four strided views (exact; faster
    than a reduction over two axes)."""
    v = x.unflatten(-1, (-1, 2)).unflatten(-3, (-1, 2))  # (..., h, 2, w, 2)
    return torch.maximum(torch.maximum(v[..., 0, :, 0], v[..., 0, :, 1]), torch.maximum(v[..., 1, :, 0], v[..., 1, :, 1]))


def lenet_for(data, width: float = 1.0, bias: bool = True) -> LeNet:
    """LeNet-``width`` for a :class:`numerics.datasets.Dataset` with ``image_shape`` (H, W) and
    ``dim // (H·W)`` channels."""
    require(data.image_shape is not None, f"LeNet needs image inputs; {data.name} has none")
    H, W = data.image_shape
    require(data.dim % (H * W) == 0, f"{data.name}: {data.dim} features are not channels of {H}x{W} images")
    return LeNet(width, data.n_classes, (H, W), data.dim // (H * W), bias)


def normalized_loss(model: LeNet, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Chiang et al.'s normalized cross-entropy of LeNet: CE of logits / (Π_l ‖W_l‖_F / 3)."""
    return normalized_cross_entropy(model, theta, X, y, "frobenius", divisor=model.norm_divisor)


def unit_roundoff(dtype: torch.dtype, device) -> float:
    """u of a float32 GEMM here: 2^-24, or TF32's 2^-11 / bfloat16's 2^-8 when PyTorch is allowed to use them
    for float32 matrix products (``torch.set_float32_matmul_precision``)."""
    if dtype == torch.float64:
        return 2.0 ** -53
    precision = torch.get_float32_matmul_precision()
    if precision == "medium":
        return 2.0 ** -8
    if precision == "high" or (str(device).startswith("cuda") and torch.backends.cuda.matmul.allow_tf32):
        return 2.0 ** -11
    return 2.0 ** -24
