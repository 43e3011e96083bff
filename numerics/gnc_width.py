"""Guess & Check for a two-class MLP with a Gaussian last layer, by last-layer Rao–Blackwellization
(this package's method, the analogue of ``numerics.rbis`` for classifiers).

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

:func:`nngp_limit` is the infinite-width limit of the same G&C: the orthant posterior of the network's NNGP
kernel (``theory.nngp.nngp_kernel``; for a non-Gaussian prior with the prior's own first layer estimated by
Monte Carlo, whose error is carried into the SE).
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from numerics.datasets import Dataset
from numerics.errors import require
from numerics.models import MLP, prior_variances, sample_prior_np
from numerics.nngp_mc import first_layer_moment
from numerics.orthant import orthant_posterior, orthant_problem, proposals as orthant_proposals, test_accuracy
from theory.nngp import GAUSSIAN_FIRST_LAYER, feature_kernel, nngp_kernel, one_hot_first_layer_moment

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


KERNEL_GROUPS = 8  # the Monte Carlo first layer in groups: their spread is the kernel's share of the SE


def _welch_dof(terms, dofs) -> float:
    """Welch–Satterthwaite dof of a sum of variance estimates (∞ when every nonzero term has dof ∞)."""
    terms, dofs = np.asarray(terms, float), np.asarray(dofs, float)
    denom = float(np.sum(np.where(terms > 0, terms ** 2 / np.maximum(dofs, 1e-12), 0.0)))
    return float(np.sum(terms) ** 2 / denom) if denom > 0 else float("inf")


def nngp_limit(X: np.ndarray, y_train, y_test, *, activation: str, depth: int, prior: str, bias: bool,
               scale: float = 1.0, one_hot: bool = False, extra_bias: float = 0.0, kernel_units: int,
               samples: int, generator, rng: np.random.Generator, group_rng: np.random.Generator) -> dict:
    """G&C's infinite-width limit on the rows of ``X`` (training rows first): the NNGP kernel and its exact
    orthant posterior (``numerics.orthant.orthant_posterior``, ``samples`` draws on ``rng``).

    The first layer: exact for Gaussian priors; for one-hot inputs (``one_hot``) the closed form
    ``theory.nngp.one_hot_first_layer_moment``; else the prior's own moment by Monte Carlo over
    ``kernel_units`` units in ``KERNEL_GROUPS`` groups (``generator(g)`` gives group g's torch generator).
    The kernel's Monte Carlo error is estimated from the spread of the posterior over the group kernels
    (common posterior random numbers: every group starts from a copy of ``group_rng``; Var(est(mean)) ≈ Var_group(est)/groups to first
    order) and added to the SEs with groups − 1 degrees of freedom (Welch). ``extra_bias`` perturbs the
    kernel (negative controls only)."""
    X = np.asarray(X, float)
    gaussian = prior in GAUSSIAN_FIRST_LAYER
    kernel = dict(activation=activation, depth=depth, prior=prior, bias=bias, scale=scale, extra_bias=extra_bias)
    if one_hot and not gaussian:
        firsts = [one_hot_first_layer_moment(X.shape[0], prior, activation)]
    elif not gaussian:
        per = max(1, kernel_units // KERNEL_GROUPS)
        firsts = [first_layer_moment(X, prior, activation, bias, scale=scale, units=per, generator=generator(g))
                  for g in range(KERNEL_GROUPS)]
    else:
        firsts = [None]
    mc = len(firsts) > 1
    K = nngp_kernel(X, **kernel, first_moment=None if firsts[0] is None else np.mean(firsts, axis=0))
    post = orthant_posterior(K, y_train, y_test, samples=samples, rng=rng)
    kvar_acc = kvar_bits = 0.0
    if mc:
        parts = [orthant_posterior(nngp_kernel(X, **kernel, first_moment=f), y_train, y_test,
                                   samples=max(1000, samples // KERNEL_GROUPS), rng=copy.deepcopy(group_rng))
                 for f in firsts]
        kvar_acc = float(np.var([q.test_acc for q in parts], ddof=1)) / len(parts)
        kvar_bits = float(np.var([q.bits for q in parts], ddof=1)) / len(parts)
    off = K[~np.eye(K.shape[0], dtype=bool)]
    return dict(kernel_activation=activation,
                test_acc_mean=post.test_acc, test_acc_se=float(np.sqrt(post.test_acc_se ** 2 + kvar_acc)),
                se_dof=_welch_dof([post.test_acc_se ** 2, kvar_acc], [np.inf, KERNEL_GROUPS - 1]),
                sampling_acc_se=post.test_acc_se, kernel_acc_se=float(np.sqrt(kvar_acc)),
                log_p=post.log_p, log_p_se=post.log_p_se, bits=post.bits,
                bits_se=float(np.sqrt(post.bits_se ** 2 + kvar_bits)), sampling_bits_se=post.bits_se,
                kernel_bits_se=float(np.sqrt(kvar_bits)),
                bits_se_dof=_welch_dof([post.bits_se ** 2, kvar_bits], [np.inf, KERNEL_GROUPS - 1]),
                p_hat=math.exp(post.log_p), samples=post.samples, acceptance=post.acceptance,
                proposals=post.proposals,
                kernel_offdiag_spread=float((off.max() - off.min()) / np.mean(np.diag(K))),
                kernel_units=kernel_units if mc else 0, kernel_groups=KERNEL_GROUPS if mc else 0)
