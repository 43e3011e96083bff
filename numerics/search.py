"""Non-gradient optimizers of Chiang et al. (ICLR 2023, "Loss Landscapes are All You Need", §3), batched over
independent runs.

- Pattern search: from a prior draw, sweep the coordinates in a freshly shuffled order; at each coordinate
  try θ ± r e_i and keep the better one if it lowers the objective; after a sweep without any improvement r
  halves. Objective: the normalized training cross-entropy (:mod:`numerics.normalized_losses`).
- Random greedy search: M − 1 candidates θ + r ξ (ξ standard Gaussian in every parameter) per step; the best
  is taken only if it lowers the objective; r halves after ``patience`` (100) failed steps in a row.
Both stop a run the moment it classifies every training point correctly (Chiang et al. stop at 100 %
training accuracy; with a loss bin, when also the normalized loss lies in it). The step sizes r₀, M and the
budgets are this package's choices (stated in the check). Runs are independent (own coordinate orders and
noise), advanced together as one batch of models; a finished run is frozen.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from numerics.errors import require
from numerics.gnc_classifier import margins
from numerics.normalized_losses import normalized_cross_entropy


@dataclass
class SearchResult:
    theta: torch.Tensor  # (R, P) final parameters
    fitted: torch.Tensor  # (R,) bool: stopped at 100 % training accuracy (and in the bin)
    steps: torch.Tensor  # (R,) objective evaluations per run until it stopped
    loss: torch.Tensor  # (R,) final objective


class _Objective:
    def __init__(self, model, X, y, normalization, loss_bin, X_ref):
        self.model, self.X, self.y, self.normalization, self.loss_bin, self.X_ref = model, X, y, normalization, loss_bin, X_ref

    def __call__(self, theta):
        with torch.no_grad():
            return normalized_cross_entropy(self.model, theta, self.X, self.y, self.normalization, X_ref=self.X_ref)

    def done(self, theta, loss):
        with torch.no_grad():
            ok = (margins(self.model, theta, self.X, self.y) > 0).all(-1)
        if self.loss_bin is not None:
            ok = ok & (loss > self.loss_bin[0]) & (loss <= self.loss_bin[1])
        return ok


def _start(model, X, y, normalization, loss_bin, X_ref, theta0, r0):
    """What both searches start from: the objective, the runs' parameters, losses, fit flags, step counts and
    radii."""
    obj = _Objective(model, X, y, normalization, loss_bin, X_ref)
    theta = theta0.clone()
    loss = obj(theta)
    done = obj.done(theta, loss)
    steps = torch.zeros(theta.shape[0], dtype=torch.int64)
    r = torch.full((theta.shape[0],), float(r0), dtype=theta.dtype, device=theta.device)
    return obj, theta, loss, done, steps, r


def pattern_search(model, X: torch.Tensor, y: torch.Tensor, theta0: torch.Tensor, generator: torch.Generator, *,
                   r0: float = 0.5, max_sweeps: int = 20, normalization: str = "frobenius", loss_bin=None,
                   X_ref: torch.Tensor | None = None) -> SearchResult:
    """Batched pattern search from ``theta0`` (R, P); at most ``max_sweeps`` sweeps over the coordinates.

    Every candidate is a full forward pass of the batch (2 candidates per active run and coordinate). An
    incremental evaluation (a first-layer move changes one hidden unit) was implemented and measured slower
    at these sizes (MLP 64-32-2, n <= 32: the step is bound by per-operation overhead, not arithmetic), so it
    is not used."""
    require(r0 > 0 and max_sweeps >= 1, f"pattern search needs r0 > 0 and max_sweeps >= 1, got {r0}, {max_sweeps}")
    obj, theta, loss, done, steps, r = _start(model, X, y, normalization, loss_bin, X_ref, theta0, r0)
    R, P = theta.shape
    rows = torch.arange(R, device=theta.device)
    for _ in range(max_sweeps):
        if done.all():
            break
        order = torch.stack([torch.randperm(P, generator=generator) for _ in range(R)]).to(theta.device)
        improved = torch.zeros(R, dtype=torch.bool, device=theta.device)
        for t in range(P):
            act = rows[~done]
            if act.numel() == 0:
                break
            coord = order[act, t]
            cand = theta[act].repeat(2, 1)
            k = act.numel()
            step = torch.cat([r[act], -r[act]])
            cand[torch.arange(2 * k), coord.repeat(2)] += step
            cl = obj(cand).reshape(2, k)
            best, which = cl.min(0)
            steps[act.cpu()] += 2
            better = best < loss[act]
            if better.any():
                win = act[better]
                theta[win] = cand.reshape(2, k, P)[which[better], torch.nonzero(better).reshape(-1)]
                loss[win] = best[better]
                improved[win] = True
                done[win] = obj.done(theta[win], loss[win])
        r = torch.where(improved | done, r, r / 2)
    return SearchResult(theta=theta, fitted=done, steps=steps, loss=loss)


def random_greedy(model, X: torch.Tensor, y: torch.Tensor, theta0: torch.Tensor, generator: torch.Generator, *,
                  r0: float = 0.5, candidates: int = 16, patience: int = 100, max_steps: int = 2000,
                  normalization: str = "frobenius", loss_bin=None, X_ref: torch.Tensor | None = None) -> SearchResult:
    """Batched random greedy search from ``theta0`` (R, P): ``candidates`` (= M − 1) Gaussian moves per step."""
    require(r0 > 0 and candidates >= 1 and patience >= 1 and max_steps >= 1,
            "random greedy needs r0 > 0 and candidates, patience, max_steps >= 1")
    obj, theta, loss, done, steps, r = _start(model, X, y, normalization, loss_bin, X_ref, theta0, r0)
    R, P = theta.shape
    fails = torch.zeros(R, dtype=torch.int64, device=theta.device)
    rows = torch.arange(R, device=theta.device)
    for _ in range(max_steps):
        act = rows[~done]
        if act.numel() == 0:
            break
        k = act.numel()
        noise = torch.randn(k, candidates, P, generator=generator, dtype=theta.dtype).to(theta.device)
        cand = theta[act].unsqueeze(1) + r[act].reshape(k, 1, 1) * noise
        cl = obj(cand.reshape(k * candidates, P)).reshape(k, candidates)
        best, which = cl.min(1)
        steps[act.cpu()] += candidates
        better = best < loss[act]
        win = act[better]
        theta[win] = cand[torch.nonzero(better).reshape(-1), which[better]]
        loss[win] = best[better]
        fails[act] = torch.where(better, 0, fails[act] + 1)
        shrink = act[fails[act] >= patience]
        r[shrink] /= 2
        fails[shrink] = 0
        if win.numel():
            done[win] = obj.done(theta[win], loss[win])
    return SearchResult(theta=theta, fitted=done, steps=steps, loss=loss)
