"""Guess & Check for a two-class MLP with a Gaussian last layer, by last-layer Rao–Blackwellization
(``volume_hypothesis.md`` §2, last bullet; this package's method, the analogue of ``numerics.rbis`` for
classifiers).

G&C (Chiang et al. 2023; Peleg & Hein 2024) draws θ from the prior and keeps it when it classifies every
training point correctly; its posterior test accuracy is E[acc | fit]. Here the hidden layers are drawn from
the prior and the last layer is Gaussian with the prior's variances (``numerics.models.prior_variances``;
exactly the prior for ``gaussian`` / ``kaiming_normal``, a Gaussian stand-in of equal variance otherwise —
say so when the prior is uniform). Given the last hidden features Φ (train ∪ test rows), the logit
difference f = f_1 − f_0 is N(0, 2 K(Φ)) with ``K(Φ) = σ_w² Φ Φᵀ / k + σ_b²`` (``theory.nngp.feature_kernel``;
the factor 2 does not change any sign), so
- ``p(Φ) = P(fit | Φ)`` is an orthant probability (``numerics.orthant``), estimated without bias by the mean
  of exp ψ over ``proposals`` sequential proposals (GHK, μ = 0; exact for rank-deficient K, e.g. k < n);
- ``p(Φ) a(Φ) = E[1{fit} acc | Φ]`` by the same proposals weighted by the closed-form conditional test
  accuracy ``mean_j P(sign f*_j = y*_j | f_S)``.
Over M prior draws of the hidden layers: ``p̂ = mean_m p̂(Φ_m)`` (SE from the M i.i.d. terms), bits
``−log₂ p̂``, and the ratio estimate ``acc = Σ p̂a(Φ_m) / Σ p̂(Φ_m)`` with the delta-method SE and Kish's
effective sample size of the weights. Each term is unbiased given Φ, so the pair estimates are i.i.d. over
m and the SEs include the proposals' noise.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from numerics.datasets import Dataset
from numerics.errors import require
from numerics.models import MLP, prior_variances, sample_prior_np
from numerics.orthant import orthant_problem, proposals as orthant_proposals, test_accuracy
from theory.nngp import feature_kernel

DEFAULT_MEMORY_BYTES = 2 ** 26


@dataclass(frozen=True)
class WidthGncResult:
    width: int
    depth: int
    n: int
    draws: int
    proposals: int
    p_hat: float
    p_se: float
    bits: float
    bits_se: float
    test_acc_mean: float
    test_acc_se: float
    ess: float
    se_dof: float

    def as_dict(self) -> dict:
        return asdict(self)


def _check_two_class(data: Dataset) -> None:
    require(data.n_classes == 2, f"G&C with a Gaussian last layer needs two classes, got {data.n_classes}")


def draw_terms(data: Dataset, *, width: int, depth: int, activation: str, prior: str, bias: bool, draws: int,
               proposals: int, rng: np.random.Generator, scale: float = 1.0,
               bias_scale: float | None = None, memory_bytes: int = DEFAULT_MEMORY_BYTES, device="cpu"):
    """Per hidden draw m: ``log p̂(Φ_m)`` and the conditional accuracy estimate ``a_m`` (``p̂a / p̂``)."""
    _check_two_class(data)
    require(draws >= 2 and proposals >= 1, f"need draws >= 2 and proposals >= 1, got {draws}, {proposals}")
    model = MLP(data.dim, [width] * depth, 2, activation, bias)
    last = prior_variances(model, prior, scale=scale, bias_scale=bias_scale)[-1]
    X = torch.as_tensor(np.vstack([data.X_train, data.X_test]), dtype=torch.float64).to(device)
    n = data.n_train
    t = data.y_test.size
    per_model = 8 * (model.n_params + X.shape[0] * width * (depth + 2) + 4 * t * n + 4 * t * proposals)
    chunk = int(max(1, min(draws, memory_bytes // per_model)))
    log_p, acc = [], []
    done = 0
    while done < draws:
        b = min(chunk, draws - done)
        theta = torch.from_numpy(sample_prior_np(model, prior, b, rng, scale=scale, bias_scale=bias_scale)).to(device)
        with torch.no_grad():
            phi = model.features(theta, X).cpu().numpy()
        del theta
        K_SS = feature_kernel(phi[:, :n], last)
        K_TS = last[0] * (phi[:, n:] @ np.swapaxes(phi[:, :n], 1, 2)) / width + last[1]
        k_TT = last[0] * np.sum(phi[:, n:] ** 2, axis=-1) / width + last[1]
        prob = orthant_problem(K_SS, data.y_train, K_TS, k_TT, data.y_test)
        z, psi = orthant_proposals(prob, proposals, rng)
        a = test_accuracy(prob, z)
        top = np.max(psi, axis=1, keepdims=True)
        safe_top = np.where(np.isfinite(top), top, 0.0)
        w = np.exp(psi - safe_top)
        sw = w.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_p.append(np.log(sw / proposals) + safe_top[:, 0])
            acc.append(np.where(sw > 0, np.sum(w * a, axis=1) / np.where(sw > 0, sw, 1.0), 0.0))
        done += b
    return np.concatenate(log_p), np.concatenate(acc)


def combine(log_p: np.ndarray, acc: np.ndarray) -> dict:
    """p̂, its SE, bits, the self-normalized test accuracy, its delta-method SE and the ESS from the terms."""
    M = log_p.size
    top = float(np.max(log_p))
    if not np.isfinite(top):
        nan = float("nan")
        return dict(p_hat=0.0, p_se=nan, bits=float("inf"), bits_se=nan, test_acc_mean=nan, test_acc_se=nan,
                    ess=0.0, se_dof=0.0)
    w = np.exp(log_p - top)
    sw = float(w.sum())
    mean_acc = float(np.sum(w * acc) / sw)
    acc_se = float(np.sqrt(np.sum(w ** 2 * (acc - mean_acc) ** 2)) / sw)
    ess = sw ** 2 / float(np.sum(w ** 2))
    p_hat = float(np.exp(top) * sw / M)
    rel = float(np.std(w, ddof=1) / np.sqrt(M) / (sw / M))
    return dict(p_hat=p_hat, p_se=p_hat * rel, bits=float(-np.log2(p_hat)), bits_se=rel / np.log(2),
                test_acc_mean=mean_acc, test_acc_se=acc_se, ess=ess, se_dof=max(ess - 1.0, 1.0))


def rb_guess_and_check(data: Dataset, *, width: int, depth: int = 1, activation: str = "relu",
                       prior: str = "kaiming_normal", bias: bool = False, draws: int, proposals: int = 8,
                       rng: np.random.Generator, scale: float = 1.0,
                       bias_scale: float | None = None, memory_bytes: int = DEFAULT_MEMORY_BYTES,
                       device="cpu") -> WidthGncResult:
    """G&C at hidden ``width`` with a Gaussian last layer, Rao–Blackwellized (module docstring). Prior draws
    by ``numerics.models.sample_prior_np`` on ``rng`` (so do the proposals)."""
    require(width >= 1 and depth >= 1, f"width and depth must be >= 1, got {width}, {depth}")
    log_p, acc = draw_terms(data, width=width, depth=depth, activation=activation, prior=prior, bias=bias,
                            draws=draws, proposals=proposals, rng=rng, scale=scale,
                            bias_scale=bias_scale, memory_bytes=memory_bytes, device=device)
    return WidthGncResult(width=int(width), depth=int(depth), n=data.n_train, draws=int(draws),
                          proposals=int(proposals), **combine(log_p, acc))
