"""SGD baselines of the G&C papers, built on :func:`numerics.trainers.train`, and the data cells of the G&C checks.

- ``chiang`` (Chiang et al., ICLR 2023, §3–4): train with SGD and *freeze each network the moment it reaches
  100 % training accuracy* (with loss bins: the moment it fits and its normalized training loss lies in the
  bin; the normalization's per-layer divisor is the model's ``norm_divisor``, 3 for LeNet, else 1). The papers' text fixes the stopping rule; the initialization, learning rate, batch size and step cap
  are this package's choices (``CHIANG`` below: PyTorch's default init, lr 0.1, batch 8, cross-entropy,
  at most 300 epochs) — stated, not the paper's.
- ``peleg_hein`` (Peleg & Hein, ICML 2024): Kaiming (normal) initialization with zero biases, SGD lr 0.01,
  batch 2, 60 epochs, cross-entropy; a run is kept only if it ends at 100 % training accuracy.
- ``poisoned`` (Chiang et al., Table 1): SGD on the training set plus ``n_poison`` held-out points with
  flipped labels, run (with the ``chiang`` settings) until both are fit; the clean test accuracy of such
  interpolating minima shows that bad minima exist.
Each run returns a :class:`SgdRun` (fitted or not, steps, final parameters). Every run draws its
initialization and mini-batch order from its own CPU torch generator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from numerics.datasets import digits_pairs
from numerics.errors import require
from numerics.gnc_classifier import margins
from numerics.models import sample_prior
from numerics.normalized_losses import normalized_cross_entropy
from numerics.trainers import Optimizer, train


@dataclass(frozen=True)
class Protocol:
    name: str
    init: str  # a prior of numerics.models
    lr: float
    batch_size: int
    epochs: int
    freeze_at_fit: bool  # Chiang: stop at 100 % training accuracy; Peleg & Hein: train the full budget
    loss: str = "ce"


CHIANG = Protocol("chiang", init="torch_default", lr=0.1, batch_size=8, epochs=300, freeze_at_fit=True)
PELEG_HEIN = Protocol("peleg_hein", init="kaiming_normal", lr=0.01, batch_size=2, epochs=60, freeze_at_fit=False)
PROTOCOLS = {p.name: p for p in (CHIANG, PELEG_HEIN)}


@dataclass
class SgdRun:
    theta: torch.Tensor
    fitted: bool  # 100 % training accuracy at the end (and in the bin, if one was asked)
    steps: int
    reason: str


def fits(model, theta, X, y) -> bool:
    return bool((margins(model, theta, X, y) > 0).all())


def run_protocol(model, X: torch.Tensor, y: torch.Tensor, protocol: Protocol | str, generator: torch.Generator, *,
                 lr: float | None = None, loss_bin=None, normalization: str = "frobenius",
                 X_ref: torch.Tensor | None = None) -> SgdRun:
    """One SGD run of ``protocol`` on (X, y); ``lr`` overrides the protocol's learning rate."""
    p = PROTOCOLS[protocol] if isinstance(protocol, str) else protocol
    require(loss_bin is None or p.freeze_at_fit, "loss bins apply to the chiang protocol (freeze in the bin)")
    n = X.shape[0]
    batch = min(p.batch_size, n)
    max_steps = p.epochs * math.ceil(n / batch)
    theta0 = sample_prior(model, p.init, 1, generator)[0].to(X.device)

    def in_bin(theta) -> bool:
        if loss_bin is None:
            return True
        nl = float(normalized_cross_entropy(model, theta, X, y, normalization, X_ref=X_ref,
                                            divisor=getattr(model, "norm_divisor", 1.0)))
        return loss_bin[0] < nl <= loss_bin[1]

    stop = None
    if p.freeze_at_fit:
        def stop(state):
            with torch.no_grad():
                return "fit" if fits(model, state.theta, X, y) and in_bin(state.theta) else None
    res = train(model, theta0, X, y, Optimizer("sgd", lr=lr or p.lr), loss=p.loss, max_steps=max_steps,
                batch_size=batch, generator=generator, stop=stop)
    ok = res.reason == "fit" if p.freeze_at_fit else (not res.diverged and fits(model, res.theta, X, y))
    return SgdRun(theta=res.theta, fitted=bool(ok), steps=res.steps, reason=res.reason)


def poisoned_run(model, X: torch.Tensor, y: torch.Tensor, X_poison: torch.Tensor, y_poison: torch.Tensor,
                 generator: torch.Generator, *, n_classes: int = 2, protocol: Protocol = CHIANG) -> SgdRun:
    """Chiang et al.'s poisoned SGD: fit (X, y) together with (X_poison, wrong labels) and freeze when both fit;
    ``fitted`` says whether the clean training set is fit as well as the poison."""
    wrong = (y_poison + 1) % n_classes
    Xa, ya = torch.cat([X, X_poison]), torch.cat([y, wrong])
    run = run_protocol(model, Xa, ya, protocol, generator)
    return SgdRun(theta=run.theta, fitted=run.fitted and fits(model, run.theta, X, y), steps=run.steps, reason=run.reason)


def data_cells(*, dataset: str, classes: list, pairs: int, seeds: int, seed: int) -> list[dict]:
    """The (pair, data seed) cells of the G&C experiments: ``{"pair": [a, b] or None, "data_seed": s,
    "label": ...}``. With ``dataset="file"`` one cell (the file, used as given); with ``classes`` the one
    explicit digit pair; else ``pairs`` digit pairs drawn from the master ``seed`` (stream 0); each pair with
    data seeds 0..``seeds``−1."""
    if dataset == "file":
        return [{"pair": None, "data_seed": 0, "label": "file"}]
    if classes:
        chosen = [tuple(int(c) for c in classes)]
    else:
        chosen = digits_pairs(pairs, np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,))))
    return [{"pair": list(pr), "data_seed": s, "label": f"{pr[0]}v{pr[1]}"} for pr in chosen for s in range(seeds)]
