"""Guess & Check by streaming rejection sampling (Alexander et al. 2025, §1 of our spec).

Draw θ from the prior until ``L_train < ε`` (strict); accepted draws are exact posterior samples. We draw a
fixed number of prior samples in chunks sized to a memory budget, keep running moments only, and report for
each threshold ε:
- ``G(ε) = E[L_gen | L_train < ε]`` (posterior mean) with its standard error ``sd / √n_accepted``;
- the chance level ``C = E[L_gen]`` over all draws with its standard error;
- ``p(ε)``, the accepted and total draw counts. Zero accepted draws give ``G = NaN``, never a number.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from numerics.factorization import Factorization, sample
from numerics.problems import SensingProblem
from verify.errors import require

DEFAULT_MEMORY_BYTES = 128 * 2 ** 20


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


@dataclass(frozen=True)
class GncEstimate:
    eps: float
    G: float
    G_se: float
    C: float
    C_se: float
    p_accept: float
    n_accepted: int
    n_draws: int
    method: str = "rejection"

    @property
    def ess(self) -> int:
        """Effective sample size: for rejection, the number of accepted draws."""
        return self.n_accepted

    def as_dict(self) -> dict:
        return {**asdict(self), "ess": self.ess}


def guess_and_check(problem: SensingProblem, fact: Factorization, eps, n_draws: int,
                    rng: np.random.Generator, *, sampler: str = "auto",
                    memory_bytes: int = DEFAULT_MEMORY_BYTES, workers: int = 1,
                    on_chunk: Callable[[int], None] | None = None) -> list[GncEstimate]:
    """Rejection-sample G&C at every threshold in ``eps`` (a float or a sequence) from ``n_draws`` prior draws.

    All thresholds share the same draws, so their estimates are correlated. ``workers`` threads each draw
    an equal share from their own generator (``rng.spawn(workers)``): the result is reproducible for a given
    seed and number of workers, and the memory budget is shared between them. ``on_chunk(n)`` is called
    after each chunk with the number of draws it held (for progress bars).
    """
    eps_list = [float(e) for e in np.atleast_1d(eps)]
    require(all(e > 0 for e in eps_list), f"eps must be > 0 for rejection sampling, got {eps_list}")
    require(int(n_draws) >= 1, f"draws must be >= 1, got {n_draws}")
    require(problem.shape == (fact.m, fact.mp),
            f"problem is {problem.shape[0]}x{problem.shape[1]} but the factorization is {fact.m}x{fact.mp}")
    require(int(workers) >= 1, f"workers must be >= 1, got {workers}")
    sampler = fact.resolve_sampler(sampler)
    workers = int(min(workers, n_draws))
    chunk = int(max(1, min(2 ** 16, memory_bytes // workers // fact.bytes_per_draw(sampler))))
    shares = [n_draws // workers + (i < n_draws % workers) for i in range(workers)]

    def stream(share: int, gen_rng: np.random.Generator):
        chance, posterior = RunningMoments(), [RunningMoments() for _ in eps_list]
        done = 0
        while done < share:
            b = min(chunk, share - done)
            train, gen = problem.losses(sample(fact, b, gen_rng, sampler))
            chance.update(gen)
            for e, post in zip(eps_list, posterior):
                post.update(gen[train < e])
            done += b
            if on_chunk is not None:
                on_chunk(b)
        return chance, posterior

    if workers == 1:
        parts = [stream(n_draws, rng)]
    else:
        with ThreadPoolExecutor(workers) as pool:  # numpy releases the GIL in sampling and ufuncs
            parts = list(pool.map(stream, shares, rng.spawn(workers)))
    chance, posterior = parts[0]
    for other_chance, other_posterior in parts[1:]:
        chance.merge(other_chance)
        for post, other in zip(posterior, other_posterior):
            post.merge(other)
    return [GncEstimate(eps=e, G=post.value, G_se=post.se, C=chance.value, C_se=chance.se,
                        p_accept=post.count / n_draws, n_accepted=post.count, n_draws=n_draws)
            for e, post in zip(eps_list, posterior)]
