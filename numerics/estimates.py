"""The shared bottom of the G&C estimators: the estimate type, input checks, streaming and replicate helpers.

Context: Alexander, Slutzky, Ran-Milo, Cohen 2025 (arXiv 2506.03931) estimate the G&C posterior mean
generalization loss ``G(ε) = E[L_gen | L_train < ε]`` by plain rejection; this package adds rare-event
estimators (this package's methods). Every estimator returns
:class:`GncEstimate`. Layering (issue #11): this module imports no estimator; the estimators
(``numerics.gnc``'s rejection, ``numerics.rbis``, ``numerics.smc``, ``numerics.nested``, ``numerics.angular``)
import it; the dispatcher ``numerics.gnc.estimate`` sits above all of them.

Contents:
- :class:`GncEstimate` (one estimate at one ε) and the input checks :func:`thresholds`, :func:`require_matching`;
- streaming under a memory budget: :func:`chunk_size`, :func:`stream_draws` (threads, reproducible per seed and
  worker count), :class:`RunningMoments` (plain means), :class:`WeightedMoments` (self-normalized importance
  sampling with log-space weights);
- :func:`rejection_stream`: rejection G&C over any prior given a ``draw_losses(b, rng)`` callable (the paper's
  algorithm; the factorization prior's version is ``numerics.gnc.guess_and_check``);
- replicate-based estimators (smc, nested): :func:`check_sizes`, :func:`run_jobs`, :func:`combine_replicates`;
- ``auto``'s fallback step :func:`redo_low_ess`.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Callable

import numpy as np

from numerics.errors import UserInputError, require
from numerics.factorization import Factorization
from numerics.problems import SensingProblem

DEFAULT_MEMORY_BYTES = 128 * 2 ** 20


def thresholds(eps, method: str, *, zero_ok: bool, detail: str = "") -> list[float]:
    """``eps`` (a number or a sequence) as a list of floats, each ≥ 0 (``zero_ok``) or > 0, else a one-line
    :class:`UserInputError` naming ``method``."""
    eps_list = [float(e) for e in np.atleast_1d(eps)]
    require(all(e >= 0 if zero_ok else e > 0 for e in eps_list),
            f"{method} needs eps {'>=' if zero_ok else '>'} 0{detail}, got {eps_list}")
    return eps_list


def require_matching(problem: SensingProblem, fact: Factorization) -> None:
    """A one-line :class:`UserInputError` unless the factorization's m × m' is the problem's."""
    require(problem.shape == (fact.m, fact.mp),
            f"problem is {problem.shape[0]}x{problem.shape[1]} but the factorization is {fact.m}x{fact.mp}")


def chunk_size(memory_bytes: int, workers: int, bytes_per_draw: int) -> int:
    return int(max(1, min(2 ** 16, memory_bytes // max(int(workers), 1) // bytes_per_draw)))


def stream_draws(new_state, n_draws: int, chunk: int, rng: np.random.Generator, workers: int = 1,
                 on_chunk: Callable[[int], None] | None = None):
    """Run ``state.step(b, rng)`` over ``n_draws`` in chunks of at most ``chunk``, on ``workers`` threads.

    Each thread owns a state (``new_state()``) and a generator from ``rng.spawn(workers)`` and draws an
    equal share; states are merged in thread order, so the result depends only on the seed and ``workers``.
    numpy releases the GIL in random generation, ufuncs and linear algebra, so threads run in parallel.
    """
    require(int(n_draws) >= 1, f"draws must be >= 1, got {n_draws}")
    require(int(workers) >= 1, f"workers must be >= 1, got {workers}")
    workers = int(min(workers, n_draws))
    shares = [n_draws // workers + (i < n_draws % workers) for i in range(workers)]

    def run(share, gen_rng):
        state, done = new_state(), 0
        while done < share:
            b = min(chunk, share - done)
            state.step(b, gen_rng)
            done += b
            if on_chunk is not None:
                on_chunk(b)
        return state

    if workers == 1:
        return run(n_draws, rng)
    with ThreadPoolExecutor(workers) as pool:
        states = list(pool.map(run, shares, rng.spawn(workers)))
    for other in states[1:]:
        states[0].merge(other)
    return states[0]


class RunningMoments:
    """Count, mean and centred sum of squares of a stream (Chan et al.'s pairwise merge)."""

    def __init__(self):
        self.count, self.mean, self.m2 = 0, 0.0, 0.0

    def update(self, values: np.ndarray) -> None:
        if values.size:
            mean = float(np.mean(values))
            self._combine(values.size, mean, float(np.sum((values - mean) ** 2)))

    def merge(self, other: "RunningMoments") -> None:
        if other.count:
            self._combine(other.count, other.mean, other.m2)

    def _combine(self, n: int, mean: float, m2: float) -> None:
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta ** 2 * self.count * n / total
        self.count = total

    @property
    def se(self) -> float:
        if self.count < 2:
            return float("nan")
        return float(np.sqrt(self.m2 / (self.count - 1) / self.count))

    @property
    def value(self) -> float:
        return self.mean if self.count else float("nan")


class WeightedMoments:
    """Streaming self-normalized importance-sampling sums with log-space weights."""

    def __init__(self):
        self.shift = -np.inf
        self.count = 0
        self.sw = self.swf = self.sw2 = self.sw2f = self.sw2f2 = 0.0

    def update(self, log_w: np.ndarray, f: np.ndarray) -> None:
        self.count += log_w.size
        top = float(np.max(log_w)) if log_w.size else -np.inf
        if not np.isfinite(top):
            return
        self._rescale(max(self.shift, top))
        w = np.exp(log_w - self.shift)
        w2 = w * w
        self.sw += float(w.sum())
        self.swf += float(w @ f)
        self.sw2 += float(w2.sum())
        self.sw2f += float(w2 @ f)
        self.sw2f2 += float(w2 @ (f * f))

    def merge(self, other: "WeightedMoments") -> None:
        self.count += other.count
        if not np.isfinite(other.shift):
            return
        self._rescale(max(self.shift, other.shift))
        a, a2 = np.exp(other.shift - self.shift), np.exp(2 * (other.shift - self.shift))
        self.sw += a * other.sw
        self.swf += a * other.swf
        self.sw2 += a2 * other.sw2
        self.sw2f += a2 * other.sw2f
        self.sw2f2 += a2 * other.sw2f2

    def _rescale(self, new_shift: float) -> None:
        if np.isfinite(self.shift) and new_shift > self.shift:
            a = np.exp(self.shift - new_shift)
            self.sw *= a
            self.swf *= a
            self.sw2 *= a * a
            self.sw2f *= a * a
            self.sw2f2 *= a * a
        self.shift = new_shift

    @property
    def mean(self) -> float:
        return self.swf / self.sw if self.sw > 0 else float("nan")

    @property
    def se(self) -> float:
        if self.sw <= 0:
            return float("nan")
        g = self.mean
        return float(np.sqrt(max(self.sw2f2 - 2 * g * self.sw2f + g * g * self.sw2, 0.0)) / self.sw)

    @property
    def ess(self) -> float:
        return self.sw ** 2 / self.sw2 if self.sw2 > 0 else 0.0

    def mean_weight(self) -> tuple[float, float]:
        """The mean weight Σw/N (unbiased for p(ε) when the weights carry the ball volume) and its SE."""
        if self.count == 0 or not np.isfinite(self.shift):
            return 0.0, float("nan")
        scale = np.exp(self.shift)
        mean = self.sw / self.count
        var = max(self.sw2 / self.count - mean * mean, 0.0)
        return float(scale * mean), float(scale * np.sqrt(var / self.count))


@dataclass(frozen=True)
class GncEstimate:
    """One G&C estimate at threshold ``eps``; every method returns this.

    ``ess`` is the effective sample size (rejection: the accepted count; importance sampling (rbis, angular):
    Kish's (Σw)²/Σw² over independent prior draws; SMC/nested: as the method defines it). ``n_accepted``
    counts accepted draws for rejection and is -1 where the notion does not apply. ``p_se`` is the standard
    error of ``p_accept``. ``se_dof`` is the degrees of freedom of ``G_se`` and ``p_se`` for Student-t intervals
    (``verify.rules``): R − 1 for the replicate methods (smc, nested), n_accepted − 1 for rejection, ess − 1 for
    the importance samplers (large-sample, nominal). ``note`` says why ``auto`` picked the method, if it did.
    """
    eps: float
    G: float
    G_se: float
    C: float
    C_se: float
    p_accept: float
    n_accepted: int
    n_draws: int
    method: str = "rejection"
    ess: float = float("nan")
    note: str = ""
    p_se: float = float("nan")
    se_dof: float = float("nan")

    def __post_init__(self):
        if self.method == "rejection":
            defaults = {"ess": float(self.n_accepted), "se_dof": float(max(self.n_accepted - 1, 0)),
                        "p_se": float(np.sqrt(self.p_accept * (1 - self.p_accept) / self.n_draws))}
            for key, value in defaults.items():
                if not np.isfinite(getattr(self, key)):
                    object.__setattr__(self, key, value)

    def as_dict(self) -> dict:
        return asdict(self)


def rejection_stream(draw_losses: Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]], eps_list,
                     n_draws: int, rng: np.random.Generator, chunk: int, workers: int = 1,
                     on_chunk: Callable[[int], None] | None = None) -> list[GncEstimate]:
    """Rejection G&C over any prior: ``draw_losses(b, rng)`` returns (L_train, L_gen) of b fresh prior draws."""

    class State:
        def __init__(self):
            self.chance, self.posterior = RunningMoments(), [RunningMoments() for _ in eps_list]

        def step(self, b, gen_rng):
            train, gen = draw_losses(b, gen_rng)
            self.chance.update(gen)
            for e, post in zip(eps_list, self.posterior):
                post.update(gen[train < e])

        def merge(self, other):
            self.chance.merge(other.chance)
            for post, o in zip(self.posterior, other.posterior):
                post.merge(o)

    n_draws = int(n_draws)
    state = stream_draws(State, n_draws, chunk, rng, workers, on_chunk)
    return [GncEstimate(eps=e, G=post.value, G_se=post.se, C=state.chance.value, C_se=state.chance.se,
                        p_accept=post.count / n_draws, n_accepted=post.count, n_draws=n_draws)
            for e, post in zip(eps_list, state.posterior)]


def check_sizes(particles, moves, replicates, workers) -> None:
    require(isinstance(particles, (int, np.integer)) and particles >= 2,
            f"particles must be an integer >= 2, got {particles}")
    require(isinstance(moves, (int, np.integer)) and moves >= 0, f"moves must be an integer >= 0, got {moves}")
    require(isinstance(replicates, (int, np.integer)) and replicates >= 2,
            f"replicates must be an integer >= 2 (error bars come from their spread), got {replicates}")
    require(isinstance(workers, (int, np.integer)) and workers >= 1, f"workers must be an integer >= 1, got {workers}")


def run_jobs(job, seeds: list, workers: int) -> list:
    """``job(rng)`` for every generator, on ``workers`` threads (numpy releases the GIL in its kernels)."""
    if workers <= 1 or len(seeds) == 1:
        return [job(s) for s in seeds]
    with ThreadPoolExecutor(min(workers, len(seeds))) as pool:
        return list(pool.map(job, seeds))


def combine_replicates(eps: float, G: np.ndarray, f_var: np.ndarray, p: np.ndarray, chance: RunningMoments,
                       evaluations: int, n_particles: int, method: str, note: str) -> GncEstimate:
    """Replicate mean ± sd/√R; ess = min(n_particles, mean within-run variance of f / G_se²)."""
    R = len(G)
    if not np.all(np.isfinite(G)):
        return GncEstimate(eps=eps, G=np.nan, G_se=np.nan, C=chance.value, C_se=chance.se, p_accept=np.nan,
                           n_accepted=-1, n_draws=evaluations, method=method, ess=0.0,
                           note=note + "; a replicate did not finish (NaN)", se_dof=R - 1)
    g, g_se = float(np.mean(G)), float(np.std(G, ddof=1) / np.sqrt(R))
    ess = float(n_particles) if g_se == 0 else float(min(n_particles, np.mean(f_var) / g_se ** 2))
    p_se = float(np.std(p, ddof=1) / np.sqrt(R))
    return GncEstimate(eps=eps, G=g, G_se=g_se, C=chance.value, C_se=chance.se, p_accept=float(np.mean(p)),
                       n_accepted=-1, n_draws=int(evaluations), method=method, ess=ess, note=note, p_se=p_se,
                       se_dof=R - 1)


def redo_low_ess(out: list[GncEstimate], min_ess: float, fallback: str, why: str,
                 redo: Callable[[list[float]], list[GncEstimate]]) -> list[GncEstimate]:
    """Replace the estimates whose ESS is below ``min_ess`` by ``redo(their thresholds)``, and note why.

    A fallback that refuses the problem (a :class:`UserInputError`, e.g. smc with every weight zero) leaves
    the first estimate in place, with the refusal in its note. A redone estimate keeps the first one's chance
    level ``C`` (it does not depend on ε and comes from all ``draws`` prior draws, where smc and nested see
    only their initial particles, too few for a normal interval when L_gen is heavy-tailed).
    """
    low = [i for i, est in enumerate(out) if not est.ess >= min_ess]
    redone, refusal = [], ""
    if low:
        try:
            redone = redo([out[i].eps for i in low])
        except UserInputError as err:
            refusal = str(err)
    result = []
    for i, est in enumerate(out):
        if i not in low:
            result.append(replace(est, note=f"{why}; ess {est.ess:.4g} >= min_ess {min_ess:g}"))
        elif refusal:
            result.append(replace(est, note=f"{why}; ess {est.ess:.4g} < min_ess {min_ess:g}; {fallback} refused: "
                                            f"{refusal}"))
        else:
            new = redone[low.index(i)]
            result.append(replace(new, C=est.C, C_se=est.C_se,
                                  note=f"{why}; measured ess {est.ess:.4g} < min_ess {min_ess:g} -> {fallback} "
                                       f"(ess {new.ess:.4g}; {new.note})"))
    return result
