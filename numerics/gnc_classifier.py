"""Guess & Check (G&C) for classifiers with exact counting.

The paper's procedure (Chiang et al., ICLR 2023, "Loss Landscapes are All You Need", §3; Peleg & Hein, ICML
2024): draw θ from a prior until the network classifies every training point correctly (optionally: and its
normalized training cross-entropy lies in a bin (lo, hi]); accepted draws are exact posterior samples. We
report per training-set size n: draws, accepted, p̂ = P(fit) with its SE and Clopper–Pearson interval, bits
= −log₂ p̂, and the test accuracy of accepted models (mean, SE, every value) with their normalized losses.

"Correct" means a strict margin, f_y(x) > max_{c≠y} f_c(x), in both implementations here (a tie counts as an
error), so that the label-swap symmetry below is exact also for ties.

Two implementations of the same law:
- :func:`plain_rejection`, the reference: torch prior draws, each model evaluated separately
  (``torch.func.vmap``) on all n_max training points, every n tested from the full correctness matrix.
- :func:`guess_and_check`, this package's fast version, with the exact speed-ups of §2 (each has a test in
  ``tests/test_gnc_classifier.py`` showing equality in law with the reference):
  1. the first layer of all models is one GEMM (inputs are shared; ``numerics.models``), later layers batched;
  2. early rejection: training points in their class-interleaved order, in blocks of growing size, and a
     model is dropped at its first error; the survivors are compacted (copied to a dense batch) after each block;
  3. label-swap symmetry (:data:`SYMMETRY_CONDITION`): a draw that gets every training point *wrong* is
     accepted with its two output rows swapped, so each draw is accepted with probability 2p and p̂ =
     accepted / (2 · draws);
  4. nested training sets: the set of size n is a prefix of the one of size n' > n (``numerics.datasets``),
     so survivors at n are re-tested on the next points and one pass gives every n of ``n_list``
     (P(fit n') = P(fit n) · P(fit n' | fit n));
  5. a memory budget in bytes fixes the chunk of draws held at once;
  6. lazy first-layer weights (MLPs): weights on input coordinates where the first block of training points
     is zero are drawn only for the draws that survive that block (``_LazyFirstLayer``);
  7. prior draws by numpy's PCG64 (``numerics.models.sample_prior_np``: the same law, about 2× faster than
     torch's CPU generator), seeded from the given torch generator.
  Both implementations compute in float64 throughout (no float32 pass is used, so no re-check is needed).
- Test accuracies (and normalized losses) are measured on the first ``max_test_models`` accepted models per
  n (all when None): the first k accepted draws are i.i.d. posterior draws, so capping changes no law.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import stats

from numerics.datasets import Dataset
from numerics.errors import require
from numerics.models import prior_law, sample_prior, sample_prior_np
from numerics.normalized_losses import NORMALIZATIONS, normalized_cross_entropy

SYMMETRY_CONDITION = (
    "exact for two classes when the prior of the last layer (its weight rows and, with biases, its two bias "
    "entries) is invariant under swapping the two output units and the rest of the prior does not depend on "
    "them: then θ and swap(θ) have the same law, swap(θ) fits exactly when θ misclassifies every training "
    "point (strict margins), and the two events are disjoint. Every prior of numerics.models (i.i.d. entries "
    "per block) satisfies it, with or without biases; a prior giving the two output rows different laws "
    "(e.g. a nonzero mean on one bias) would not.")
CI_ALPHA = 1e-3  # two-sided level of the Clopper–Pearson interval of p


@dataclass
class GncClassifierResult:
    n: int
    draws: int  # prior draws made
    accepted: int
    p_hat: float  # accepted / (draws · k), k = 2 with the label-swap symmetry, else 1
    p_se: float
    bits: float  # −log₂ p̂ (inf when nothing was accepted)
    bits_se: float
    p_ci: tuple  # Clopper–Pearson (1 − CI_ALPHA) interval of p
    test_acc_mean: float
    test_acc_se: float
    test_accs: np.ndarray  # one value per evaluated accepted model
    normalized_losses: np.ndarray | None  # normalized training CE of the same models (None: not asked)
    normalization: str | None
    loss_bin: tuple | None = None
    fitted: int = 0  # draws that fit (before the loss bin)
    symmetry: bool = False
    params: np.ndarray | None = None  # (evaluated, P) parameters of the evaluated models (keep_params only)
    evaluated: int = field(init=False)

    def __post_init__(self):
        self.evaluated = int(len(self.test_accs))

    def to_row(self) -> dict:
        """The JSON-able fields of a record row (arrays as lists)."""
        row = {k: getattr(self, k) for k in ("n", "draws", "accepted", "p_hat", "p_se", "bits", "bits_se",
                                             "test_acc_mean", "test_acc_se", "normalization", "fitted",
                                             "symmetry", "evaluated")}
        row["p_ci"] = list(self.p_ci)
        row["loss_bin"] = None if self.loss_bin is None else list(self.loss_bin)
        row["test_accs"] = np.asarray(self.test_accs, float).tolist()
        row["normalized_losses"] = None if self.normalized_losses is None else np.asarray(self.normalized_losses, float).tolist()
        return row


# ----------------------------------------------------------------------------------------------------
# Shared pieces
# ----------------------------------------------------------------------------------------------------
def margins(model, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """f_y(x) − max_{c≠y} f_c(x) for every model and point: (B, N); positive means correct."""
    return margins_of_logits(model(theta, X), y)


def margins_of_logits(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    idx = y.expand(*logits.shape[:-1]).unsqueeze(-1)
    own = logits.gather(-1, idx).squeeze(-1)
    other = logits.scatter(-1, idx, float("-inf")).amax(-1)
    return own - other


def _tensors(data: Dataset, device) -> tuple:
    t = lambda a, dt: torch.as_tensor(np.ascontiguousarray(a), dtype=dt, device=device)
    return (t(data.X_train, torch.float64), t(data.y_train, torch.int64), t(data.X_test, torch.float64),
            t(data.y_test, torch.int64))


def _n_list(data: Dataset, n_list) -> list[int]:
    ns = [data.n_train] if n_list is None else sorted({int(n) for n in n_list})
    require(len(ns) >= 1 and ns[0] >= 1 and ns[-1] <= data.n_train,
            f"n_list must lie in [1, {data.n_train}] (the training set), got {list(n_list or [])}")
    return ns


def bin_pairs(edges) -> list[tuple[float, float]]:
    """The (lo, hi] loss bins of consecutive ``edges`` (as ``loss_bins`` takes them)."""
    return [(float(a), float(b)) for a, b in zip(edges, edges[1:])]


def _bins(loss_bins, normalization) -> list:
    if loss_bins is None:
        return [None]
    bins = [(float(lo), float(hi)) for lo, hi in loss_bins]
    require(all(lo < hi for lo, hi in bins), f"each loss bin (lo, hi] needs lo < hi, got {bins}")
    require(normalization is not None, "loss_bins need a normalization (none, frobenius or lipschitz)")
    return bins


def p_estimate(accepted: int, draws: int, k: int) -> tuple[float, float, tuple]:
    """p̂ = accepted / (k · draws) with its SE and Clopper–Pearson interval (accepted ~ Binomial(draws, k p))."""
    q = accepted / draws
    se = math.sqrt(q * (1 - q) / draws) / k
    lo = 0.0 if accepted == 0 else float(stats.beta.ppf(CI_ALPHA / 2, accepted, draws - accepted + 1))
    hi = 1.0 if accepted == draws else float(stats.beta.ppf(1 - CI_ALPHA / 2, accepted + 1, draws - accepted))
    return q / k, se, (lo / k, hi / k)


class _Collector:
    """Counts accepted models per (n, bin) and measures the test accuracy (and normalized loss) of the first
    ``cap`` of them, in draw order. Shared by both implementations: it sees only models that fit."""

    def __init__(self, model, tensors, ns, bins, normalization, cap, eval_chunk, keep_params=False):
        self.model, (self.Xtr, self.ytr, self.Xte, self.yte) = model, tensors
        self.ns, self.bins, self.normalization, self.cap, self.eval_chunk = ns, bins, normalization, cap, eval_chunk
        keys = [(i, j) for i in range(len(ns)) for j in range(len(bins))]
        self.accepted = {k: 0 for k in keys}
        self.fitted = [0] * len(ns)
        self.accs = {k: [] for k in keys}
        self.losses = {k: [] for k in keys}
        self.evaluated = {k: 0 for k in keys}
        self.keep_params = keep_params
        self.params = {k: [] for k in keys}

    def _nloss(self, theta, n):
        out = [normalized_cross_entropy(self.model, theta[i:i + self.eval_chunk], self.Xtr[:n], self.ytr[:n],
                                        self.normalization, X_ref=self.Xte)
               for i in range(0, theta.shape[0], self.eval_chunk)]
        return torch.cat(out) if out else torch.zeros(0, dtype=theta.dtype)

    def _test_acc(self, theta):
        out = [(margins(self.model, theta[i:i + self.eval_chunk], self.Xte, self.yte) > 0).to(torch.float64).mean(-1)
               for i in range(0, theta.shape[0], self.eval_chunk)]
        return torch.cat(out) if out else torch.zeros(0, dtype=theta.dtype)

    def room(self, i) -> int:
        """How many more models of size index ``i`` need a test accuracy (any bin; inf without a cap)."""
        if self.cap is None:
            return 1 << 62
        return max(self.cap - self.evaluated[(i, j)] for j in range(len(self.bins)))

    def count(self, i: int, m: int) -> None:
        """``m`` more models fit at size index ``i`` and none of them needs evaluating (no bins, cap reached)."""
        self.fitted[i] += m
        for j in range(len(self.bins)):
            self.accepted[(i, j)] += m

    def add(self, i: int, theta: torch.Tensor) -> None:
        """``theta`` (m, P): the models of this chunk that fit the first ``ns[i]`` points, in draw order."""
        n, m = self.ns[i], theta.shape[0]
        self.fitted[i] += m
        if m == 0:
            return
        binned = self.bins[0] is not None
        if binned:  # acceptance needs every fitted model's loss
            nl = self._nloss(theta, n)
        for j, b in enumerate(self.bins):
            key = (i, j)
            if binned:
                sel = torch.nonzero((nl > b[0]) & (nl <= b[1])).reshape(-1)
            else:
                sel = torch.arange(m, device=theta.device)
            self.accepted[key] += int(sel.numel())
            take = sel if self.cap is None else sel[:max(0, self.cap - self.evaluated[key])]
            if take.numel() == 0:
                continue
            th = theta[take]
            self.evaluated[key] += int(take.numel())
            if self.keep_params:
                self.params[key].append(th.detach().cpu().numpy())
            self.accs[key].append(self._test_acc(th).cpu().numpy())
            if self.normalization is not None:
                self.losses[key].append((nl[take] if binned else self._nloss(th, n)).detach().cpu().numpy())

    def results(self, draws: int, k: int) -> list[GncClassifierResult]:
        out = []
        for i, n in enumerate(self.ns):
            for j, b in enumerate(self.bins):
                key = (i, j)
                acc = self.accepted[key]
                p, se, ci = p_estimate(acc, draws, k)
                accs = np.concatenate(self.accs[key]) if self.accs[key] else np.zeros(0)
                nls = (np.concatenate(self.losses[key]) if self.losses[key] else np.zeros(0)) if self.normalization else None
                bits = -math.log2(p) if p > 0 else math.inf
                out.append(GncClassifierResult(
                    n=n, draws=draws, accepted=acc, p_hat=p, p_se=se, bits=bits,
                    bits_se=se / (p * math.log(2)) if p > 0 else math.nan, p_ci=ci,
                    test_acc_mean=float(accs.mean()) if accs.size else math.nan,
                    test_acc_se=float(accs.std(ddof=1) / math.sqrt(accs.size)) if accs.size > 1 else math.nan,
                    test_accs=accs, normalized_losses=nls, normalization=self.normalization, loss_bin=b,
                    fitted=self.fitted[i], symmetry=k == 2,
                    params=np.concatenate(self.params[key]) if self.keep_params and self.params[key] else None))
        return out


def _check_args(model, data, prior_draws, normalization, cap):
    require(int(prior_draws) >= 1, f"draws must be >= 1, got {prior_draws}")
    require(model.out_dim == data.n_classes, f"the model has {model.out_dim} outputs but the data {data.n_classes} classes")
    require(normalization is None or normalization in NORMALIZATIONS,
            f"unknown normalization {normalization!r}; known: {', '.join(NORMALIZATIONS)}")
    require(cap is None or int(cap) >= 1, f"max_test_models must be >= 1, got {cap}")


def _eval_chunk(model, data, memory_bytes) -> int:
    per_model = 8 * (2 * model.n_params + max(data.X_test.shape[0], data.n_train) * (model.activation_size + model.in_dim))
    return int(max(1, min(1 << 16, memory_bytes // per_model)))


# ----------------------------------------------------------------------------------------------------
# The reference: plain rejection
# ----------------------------------------------------------------------------------------------------
def plain_rejection(model, data: Dataset, *, prior: str, scale: float = 1.0, draws: int, generator: torch.Generator,
                    n_list=None, loss_bins=None, normalization=None, max_test_models=None, chunk: int = 1024,
                    bias_scale: float | None = None, device="cpu") -> list[GncClassifierResult]:
    """Reference G&C: ``draws`` torch prior draws in chunks of ``chunk``; each model evaluated on its own
    (``vmap``) on all training points; a model fits at n when its first n margins are positive."""
    _check_args(model, data, draws, normalization, max_test_models)
    ns, bins = _n_list(data, n_list), _bins(loss_bins, normalization)
    tensors = _tensors(data, device)
    Xtr, ytr = tensors[0][:ns[-1]], tensors[1][:ns[-1]]
    col = _Collector(model, tensors, ns, bins, normalization, max_test_models, _eval_chunk(model, data, 64 << 20))
    per_model = torch.func.vmap(lambda th: model(th, Xtr))
    done = 0
    while done < draws:
        b = min(chunk, draws - done)
        theta = sample_prior(model, prior, b, generator, scale=scale, bias_scale=bias_scale).to(device)
        correct = margins_of_logits(per_model(theta), ytr) > 0
        for i, n in enumerate(ns):
            col.add(i, theta[correct[:, :n].all(1)])
        done += b
    return col.results(int(draws), 1)


# ----------------------------------------------------------------------------------------------------
# The package's G&C
# ----------------------------------------------------------------------------------------------------
def chunk_for_memory(model, n_points: int, memory_bytes: int) -> int:
    """Draws held at once: parameters (sampled, compacted and swapped copies) and the activations of one block
    of at most ``n_points`` inputs must fit in ``memory_bytes``."""
    per_draw = 8 * (3 * model.n_params + 2 * n_points * model.activation_size)
    return int(max(1, min(1 << 16, memory_bytes // per_draw)))


def _blocks(ns: list[int], early_reject: bool, first: int = 1) -> list[tuple[int, int]]:
    """Point ranges [a, b) evaluated in turn: sizes ``first``, then doubling (1, 1, 2, 4, … for first = 1; 2, 2,
    4, 8, … for 2, used with the symmetry, where the first point only fixes the orientation), cut at every n
    of ``ns`` (one range of all points without early rejection)."""
    if not early_reject:
        return [(0, ns[-1])]
    out, a, size = [], 0, first
    stops = set(ns)
    while a < ns[-1]:
        b = min(a + size, ns[-1], min(s for s in stops if s > a))
        out.append((a, b))
        size = size if a == 0 else 2 * size
        a = b
    return out



def oriented(model, theta, orient):
    """``theta`` with the two output labels swapped where ``orient < 0``: the label-swap symmetry's accepted
    draws, mapped back to models that fit the labels as given."""
    flip = orient < 0
    if flip.any():
        theta = theta.clone()
        theta[flip] = model.permute_outputs(theta[flip], [1, 0])
    return theta

def guess_and_check(model, data: Dataset, *, prior: str, scale: float = 1.0, draws: int, generator: torch.Generator,
                    memory_bytes: int = 64 * 2 ** 20, device="cpu", n_list=None, loss_bins=None, normalization=None,
                    symmetry: bool = True, early_reject: bool = True, max_test_models=None,
                    bias_scale: float | None = None, sampler: str = "numpy", chunk: int | None = None,
                    keep_params: bool = False, lazy_inputs: bool = True) -> list[GncClassifierResult]:
    """G&C with the exact speed-ups of the module docstring; one result per n of ``n_list`` (sorted; None: the
    whole training set) and, with ``loss_bins`` [(lo, hi), …], per bin (n-major). ``symmetry`` applies to two
    classes only (:data:`SYMMETRY_CONDITION`). ``sampler="torch"`` draws the same numbers as
    :func:`plain_rejection` with the same ``chunk`` (tests compare draw by draw); ``chunk`` overrides the
    memory budget; ``keep_params`` keeps the evaluated models' parameters (``result.params``);
    ``lazy_inputs`` (MLPs, numpy sampler, early rejection) draws first-layer weights lazily
    (:class:`_LazyFirstLayer`)."""
    _check_args(model, data, draws, normalization, max_test_models)
    require(sampler in ("numpy", "torch"), f"sampler must be numpy or torch, got {sampler!r}")
    require(memory_bytes >= 1 << 16, f"memory_bytes must be >= 65536, got {memory_bytes}")
    ns, bins = _n_list(data, n_list), _bins(loss_bins, normalization)
    tensors = _tensors(data, device)
    Xtr, ytr = tensors[0], tensors[1]
    sym = bool(symmetry) and model.out_dim == 2
    blocks = _blocks(ns, early_reject, first=2 if sym else 1)
    widest = max(b - a for a, b in blocks)
    chunk = int(chunk) if chunk is not None else chunk_for_memory(model, widest, memory_bytes)
    col = _Collector(model, tensors, ns, bins, normalization, max_test_models, _eval_chunk(model, data, memory_bytes),
                     keep_params)
    rng = None
    if sampler == "numpy":
        rng = np.random.default_rng(int(torch.randint(0, 2 ** 62, (1,), generator=generator)))
    lazy = _LazyFirstLayer.setup(model, data, prior, scale, bias_scale, rng, blocks, device) if lazy_inputs else None
    done = 0
    while done < draws:
        b = min(chunk, draws - done)
        if lazy is not None:
            theta = lazy.sample(b)
        elif rng is not None:
            theta = torch.from_numpy(sample_prior_np(model, prior, b, rng, scale=scale, bias_scale=bias_scale)).to(device)
        else:
            theta = sample_prior(model, prior, b, generator, scale=scale, bias_scale=bias_scale).to(device)
        _one_chunk(model, theta, Xtr, ytr, ns, blocks, sym, col, lazy=lazy)
        done += b
    return col.results(int(draws), 2 if sym else 1)


class _LazyFirstLayer:
    """Exact lazy sampling of first-layer weights (MLPs). The first block of training points is zero outside
    the set S of input coordinates where one of them is nonzero (digits: about 41 of 64 pixels for two
    images), so the weights on the other coordinates do not affect the first block's decisions: every draw is
    first made for the reduced network on S (one contiguous array, evaluated on the inputs restricted to S —
    the same logits), and only the draws that survive the first block (about 20 % with the symmetry) get
    their remaining first-layer weights and become full parameter vectors. Entries are independent, so this
    is the same law as drawing everything at once."""

    def __init__(self, model, prior, scale, bias_scale, rng, support, device):
        from numerics.models import MLP
        self.model, self.rng, self.device = model, rng, device
        self.support = support
        self.rest = np.setdiff1d(np.arange(model.in_dim), support)
        self.h, self.d = model.widths[0], model.in_dim
        self.reduced = MLP(support.size, model.widths, model.out_dim, model.activation, model.bias)
        self.prior, self.scale, self.bias_scale = prior, scale, bias_scale
        # the full network's laws: the reduced first layer has fan-in |S|, but its weights keep fan-in d's scale
        self.laws = [prior_law(b, prior, scale, bias_scale) for b in model.blocks]
        self.law = self.laws[0]

    @classmethod
    def setup(cls, model, data, prior, scale, bias_scale, rng, blocks, device):
        from numerics.models import MLP
        if rng is None or not isinstance(model, MLP) or len(blocks) < 2:
            return None
        support = np.flatnonzero(np.any(data.X_train[:blocks[0][1]] != 0, axis=0))
        if support.size >= data.dim - 1:  # nothing to save
            return None
        return cls(model, prior, scale, bias_scale, rng, support, device)

    def sample(self, b: int) -> torch.Tensor:
        """(b, P_S) draws of the reduced network (first-layer weights on S only)."""
        return torch.from_numpy(sample_prior_np(self.reduced, self.prior, b, self.rng, scale=self.scale,
                                                bias_scale=self.bias_scale, laws=self.laws)).to(self.device)

    def fill(self, reduced: torch.Tensor) -> torch.Tensor:
        """Full parameter vectors (m, P) of the first block's survivors: their reduced draws plus fresh
        first-layer weights on the coordinates outside S."""
        m, h, d, s = reduced.shape[0], self.h, self.d, self.support.size
        theta = torch.empty(m, self.model.n_params, dtype=reduced.dtype, device=reduced.device)
        W = theta[:, :h * d].unflatten(1, (h, d))
        W[:, :, torch.as_tensor(self.support)] = reduced[:, :h * s].unflatten(1, (h, s))
        kind, w = self.law
        draw = self.rng.random((m, h, d - s)) * (2 * w) - w if kind == "uniform" else self.rng.standard_normal((m, h, d - s)) * w
        W[:, :, torch.as_tensor(self.rest)] = torch.from_numpy(draw).to(reduced.device)
        theta[:, h * d:] = reduced[:, h * s:]
        return theta


def _one_chunk(model, theta, Xtr, ytr, ns, blocks, sym, col, lazy=None) -> None:
    """Early rejection with survivor compaction over ``blocks``; hands the survivors at every n to ``col``.
    With ``lazy``, ``theta`` holds reduced draws: the first block is evaluated by the reduced network on the
    inputs restricted to S and its survivors are completed (``lazy.fill``) before anything else sees them."""
    orient = None  # +1: correct on every point so far; −1: wrong on every point so far (symmetry only)
    pending = list(enumerate(ns))
    for a, b in blocks:
        if theta.shape[0] == 0:
            break
        if lazy is not None and a == 0:
            m = margins(lazy.reduced, theta, Xtr[a:b][:, torch.as_tensor(lazy.support)], ytr[a:b])
        else:
            m = margins(model, theta, Xtr[a:b], ytr[a:b])
        if sym:
            if orient is None:
                orient = torch.sign(m[:, 0])  # 0 (a tie) kills the draw in both orientations
            m = m * orient.unsqueeze(1)
        ok_prefix = torch.cummin(m > 0, dim=1).values  # ok_prefix[:, t]: fits every point a..a+t
        if lazy is not None and a == 0:  # blocks are cut at every n: no n ends strictly inside this block
            keep = ok_prefix[:, -1]
            theta, ok_prefix = lazy.fill(theta[keep]), ok_prefix[keep]
            if sym:
                orient = orient[keep]
        while pending and pending[0][1] <= b:  # every n ending in this block (nested prefixes)
            i, n = pending.pop(0)
            fit = ok_prefix[:, n - a - 1]
            if col.room(i) > 0 or col.bins[0] is not None:
                fitted = oriented(model, theta[fit], orient[fit]) if sym else theta[fit]
                col.add(i, fitted)
            else:
                col.count(i, int(fit.sum()))
        keep = ok_prefix[:, -1]
        theta = theta[keep]  # survivor compaction
        if sym:
            orient = orient[keep]
    for i, n in pending:  # no survivors left: nothing fits at the larger n
        col.add(i, theta[:0])
