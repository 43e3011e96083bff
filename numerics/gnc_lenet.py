"""Fast Guess & Check for LeNet (Chiang et al., ICLR 2023, §4, Tables 2, 3 and 6), exact in law.

The procedure and its result type are those of :mod:`numerics.gnc_classifier` (draw θ from the prior until the
net classifies every training point with a strict margin; per n: p̂, bits, test accuracies of accepted
models, optionally per normalized-loss bin). The speed-ups, each exact:

1. shared first-layer work: conv 1 of all models is one GEMM against the training images' 5×5 patches,
   unfolded once (:class:`numerics.lenet.LeNet`);
2. early rejection: training points in their class-interleaved order (the order of
   :func:`numerics.local_data.chiang_task`), in blocks of doubling size; a model is dropped at its first
   error and the survivors are compacted after each block;
3. label-swap symmetry (two classes, :data:`numerics.gnc_classifier.SYMMETRY_CONDITION`): a draw wrong on
   every point is accepted with its output rows swapped, p̂ = accepted / (2 · draws);
4. nested training sets: one pass gives every n of ``n_list``;
5. a float32 accept/reject pass (``precision="float32"``) with a float64 re-check: every margin is computed in
   float32; a margin is *borderline* when its magnitude does not exceed the band :data:`BAND` = 2^-10 times
   the model's largest |logit| on that point, and the model of a borderline margin is re-evaluated in float64
   on that block. Every model that survives to an n is re-checked in float64 on the first n points before it
   is accepted: acceptance is always a float64 decision. Rejections rest on the float32 error of a margin
   staying below 2^-10 (about 1e-3) of the largest logit. That is not proven: the rigorous worst-case bound
   (:meth:`numerics.lenet.LeNet.forward_with_bound`) is 0.1–0.4 of the logits on LeNet-0.5 with Chiang's
   U(−1, 1) prior (worst case over the signs of the rounding errors, which cancel in practice), so as a
   tolerance it would flag most margins. The float32 errors measured in ``tests/test_lenet.py`` on drawn
   seeds must stay below 2^-14 of the largest logit, 16× inside the band (the band, about 2^14 u, was chosen
   three orders of magnitude above the errors of a first trial; the test draws fresh seeds). So the
   accepted models are those of the float64 pass on the same draws, which makes the two equal in law;
   ``tests/test_gnc_lenet.py`` checks it draw by draw and in law.
Prior draws are made in float64 by numpy's PCG64 on the CPU (the same models on every device) and moved to the
device; test accuracies and normalized losses are measured in float64. The normalized loss is Chiang et al.'s
for LeNet: Frobenius product with the per-layer divisor 3.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from numerics.datasets import Dataset
from numerics.errors import require
from numerics.gnc_classifier import (GncClassifierResult, _blocks, _bins, _check_args, _Collector, _n_list, oriented,
                                     margins_of_logits)
from numerics.lenet import LeNet
from numerics.models import sample_prior_np
from numerics.normalized_losses import normalized_cross_entropy

PRECISIONS = ("float32", "float64")
BAND = 2.0 ** -10  # borderline: |float32 margin| <= BAND x the model's largest |logit| on the point (see docstring)


@dataclass
class RecheckStats:
    """How much float64 work the float32 pass needed: (model, point) margins evaluated, those borderline,
    models re-evaluated in float64 on a block, and candidates re-checked before acceptance."""
    margins: int = 0
    borderline: int = 0
    reevaluated: int = 0
    rechecked: int = 0
    recheck_rejected: int = 0  # candidates the float64 re-check turned down (0 unless a bound failed)


class _LeNetCollector(_Collector):
    """The package's collector with Chiang et al.'s LeNet divisor in the normalized loss, and test accuracies
    measured over chunks of test images (a LeNet's activations for a whole test split would not fit)."""

    images = 256  # test images per forward pass

    def _test_acc(self, theta):
        if theta.shape[0] == 0:
            return torch.zeros(0, dtype=theta.dtype)
        if getattr(self, "_test_patches", None) is None:
            self._test_patches = [self.model.patches(self.Xte[j:j + self.images])
                                  for j in range(0, self.Xte.shape[0], self.images)]
        P = self._test_patches
        out = []
        for i in range(0, theta.shape[0], self.eval_chunk):
            th = theta[i:i + self.eval_chunk]
            right = sum((margins_of_logits(self.model.forward_patches(th, p), self.yte[j * self.images:(j + 1) * self.images]) > 0)
                        .sum(-1).to(torch.float64) for j, p in enumerate(P))
            out.append(right / self.Xte.shape[0])
        return torch.cat(out)

    def _nloss(self, theta, n):
        out = [normalized_cross_entropy(self.model, theta[i:i + self.eval_chunk], self.Xtr[:n], self.ytr[:n],
                                        self.normalization, X_ref=self.Xte, divisor=self.model.norm_divisor)
               for i in range(0, theta.shape[0], self.eval_chunk)]
        return torch.cat(out) if out else torch.zeros(0, dtype=theta.dtype)


def chunk_for_memory(model: LeNet, n_points: int, memory_bytes: int) -> int:
    """Draws held at once: float64 and float32 parameters and one block's activations within the budget."""
    per_draw = 12 * model.n_params + 8 * 2 * n_points * model.activation_size
    return int(max(1, min(1 << 15, memory_bytes // per_draw)))


class _Inputs:
    """The training images prepared once: patches in float64 and float32, their ∞-norms, labels."""

    def __init__(self, model: LeNet, data: Dataset, n_max: int, device):
        X = torch.as_tensor(np.ascontiguousarray(data.X_train[:n_max]), dtype=torch.float64, device=device)
        self.y = torch.as_tensor(data.y_train[:n_max], dtype=torch.int64, device=device)
        self.P64 = model.patches(X)
        self.P32 = model.patches(X.float())
        self.xinf32 = X.float().abs().amax(1)


def _block_margins(model, th, theta64, inputs, a, b, precision, stats):
    """Exact-sign margins (B, b − a) of the models on points a..b: float64, or float32 with the borderline
    models re-evaluated in float64."""
    y = inputs.y[a:b]
    if precision == "float64":
        return margins_of_logits(model.forward_patches(theta64, inputs.P64[a:b]), y)
    logits = model.forward_patches(th, inputs.P32[a:b])
    m = margins_of_logits(logits, y)
    tol = BAND * logits.abs().amax(-1)
    unsure = m.abs() <= tol
    m = m.double()
    rows = torch.nonzero(unsure.any(1)).reshape(-1)
    stats.margins += m.numel()
    stats.borderline += int(unsure.sum())
    if rows.numel():
        stats.reevaluated += int(rows.numel())
        m[rows] = margins_of_logits(model.forward_patches(theta64[rows], inputs.P64[a:b]), y)
    return m


def guess_and_check_lenet(model: LeNet, data: Dataset, *, prior: str = "uniform", scale: float = 1.0, draws: int,
                          generator: torch.Generator, n_list=None, loss_bins=None, normalization=None,
                          symmetry: bool = True, early_reject: bool = True, max_test_models=None,
                          bias_scale: float | None = None, precision: str = "float32", device="cpu",
                          chunk: int | None = None, memory_bytes: int = 64 * 2 ** 20,
                          stats: RecheckStats | None = None) -> list[GncClassifierResult]:
    """G&C for LeNet with the speed-ups of the module docstring; one result per n of ``n_list`` (and per loss
    bin, n-major), as :func:`numerics.gnc_classifier.guess_and_check`. ``precision`` float32 (accept pass in
    float32, re-checked in float64) or float64; ``stats`` collects the float64 work of the re-checks."""
    require(isinstance(model, LeNet), f"guess_and_check_lenet needs a LeNet, got {model!r}")
    _check_args(model, data, draws, normalization, max_test_models)
    require(precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    require(model.in_dim == data.dim, f"{model!r} takes {model.in_dim} inputs, {data.name} has {data.dim}")
    require(memory_bytes >= 1 << 16, f"memory_bytes must be >= 65536, got {memory_bytes}")
    stats = stats if stats is not None else RecheckStats()
    device = torch.device(device)
    ns, bins = _n_list(data, n_list), _bins(loss_bins, normalization)
    tensors = tuple(torch.as_tensor(np.ascontiguousarray(a), dtype=dt, device=device) for a, dt in
                    ((data.X_train, torch.float64), (data.y_train, torch.int64), (data.X_test, torch.float64),
                     (data.y_test, torch.int64)))
    inputs = _Inputs(model, data, ns[-1], device)
    sym = bool(symmetry) and model.out_dim == 2
    blocks = _blocks(ns, early_reject, first=2 if sym else 1)
    widest = max(b - a for a, b in blocks)
    chunk = int(chunk) if chunk is not None else chunk_for_memory(model, widest, memory_bytes)
    col = _LeNetCollector(model, tensors, ns, bins, normalization, max_test_models,
                          max(1, min(256, (memory_bytes // 8) // (_LeNetCollector.images * model.activation_size))))
    rng = np.random.default_rng(int(torch.randint(0, 2 ** 62, (1,), generator=generator)))
    done = 0
    while done < draws:
        b = min(chunk, draws - done)
        theta64 = torch.from_numpy(sample_prior_np(model, prior, b, rng, scale=scale, bias_scale=bias_scale)).to(device)
        _one_chunk(model, theta64, inputs, ns, blocks, sym, col, precision, stats)
        done += b
    return col.results(int(draws), 2 if sym else 1)


def _one_chunk(model, theta64, inputs, ns, blocks, sym, col, precision, stats) -> None:
    th = theta64.float() if precision == "float32" else theta64
    orient = None  # +1: correct on every point so far; −1: wrong on every point so far (symmetry only)
    pending = list(enumerate(ns))
    for a, b in blocks:
        if theta64.shape[0] == 0:
            break
        m = _block_margins(model, th, theta64, inputs, a, b, precision, stats)
        if sym:
            if orient is None:
                orient = torch.sign(m[:, 0])  # exact sign (float64 where borderline); 0 kills the draw
            m = m * orient.unsqueeze(1)
        ok_prefix = torch.cummin(m > 0, dim=1).values
        while pending and pending[0][1] <= b:
            i, n = pending.pop(0)
            fit = ok_prefix[:, n - a - 1]
            cand = oriented(model, theta64[fit], orient[fit]) if sym else theta64[fit]
            if precision == "float32" and cand.shape[0]:  # the float64 acceptance decision on the first n points
                stats.rechecked += int(cand.shape[0])
                ok = (margins_of_logits(model.forward_patches(cand, inputs.P64[:n]), inputs.y[:n]) > 0).all(1)
                stats.recheck_rejected += int((~ok).sum())
                cand = cand[ok]
            if col.room(i) > 0 or col.bins[0] is not None:
                col.add(i, cand)
            else:
                col.count(i, int(cand.shape[0]))
        keep = ok_prefix[:, -1]
        theta64, th = theta64[keep], th[keep]
        if sym:
            orient = orient[keep]
    for i, n in pending:
        col.add(i, theta64[:0])
