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
from dataclasses import asdict, dataclass, replace
from typing import Callable

import numpy as np

from numerics.factorization import Factorization, sample
from numerics.problems import SensingProblem
from numerics.errors import UserInputError, require

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


@dataclass(frozen=True)
class GncEstimate:
    """One G&C estimate at threshold ``eps``; every method returns this.

    ``ess`` is the effective sample size (rejection: the accepted count; importance sampling: Kish's
    (Σw)²/Σw²; SMC/nested: as the method defines it). ``n_accepted`` counts accepted draws for rejection
    and is -1 where the notion does not apply. ``p_se`` is the standard error of ``p_accept``. ``se_dof`` is
    the degrees of freedom of ``G_se`` and ``p_se`` for Student-t intervals (``verify.rules``): R − 1 for the
    replicate methods (smc, nested), n_accepted − 1 for rejection, ess − 1 for rbis (large-sample, nominal).
    ``note`` says why ``auto`` picked the method, if it did.
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
    eps_list = thresholds(eps, "rejection sampling", zero_ok=False)
    require_matching(problem, fact)
    sampler = fact.resolve_sampler(sampler)
    return rejection_stream(lambda b, gen_rng: problem.losses(sample(fact, b, gen_rng, sampler)), eps_list, n_draws,
                            rng, chunk_size(memory_bytes, workers, fact.bytes_per_draw(sampler)), workers, on_chunk)


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


METHODS = ("auto", "rejection", "rbis", "smc", "nested")
DEFAULT_MIN_ESS = 100.0
FALLBACK = {"rbis": "smc", "rejection": "nested"}  # auto's second method when the first's measured ESS is low


def estimate(problem: SensingProblem, fact: Factorization, eps, *, method: str = "auto", draws: int,
             rng: np.random.Generator, sampler: str = "auto", workers: int = 1,
             memory_bytes: int = DEFAULT_MEMORY_BYTES, on_chunk: Callable[[int], None] | None = None,
             options: dict | None = None, min_ess: float = DEFAULT_MIN_ESS) -> list[GncEstimate]:
    """The one entry point for G&C estimates: ``method`` = rejection | rbis | smc | nested | auto.

    ``draws`` is the prior-draw budget of rejection and rbis; smc and nested take their sizes from
    ``options`` (e.g. particles, moves, replicates). ``auto`` (see :func:`choose_method`) starts with
    Rao–Blackwellized importance sampling wherever the last layer is Gaussian and linear, rejection otherwise;
    then, at each ε whose *measured* effective sample size is below ``min_ess``, it redoes the estimate with
    the method built for that regime (rbis → smc: weights degenerate in narrow deep nets; rejection → nested:
    too few accepted draws), passing it ``options``. Every estimate's ``note`` says what auto picked and why.
    """
    require(method in METHODS, f"unknown method {method!r}; known: {', '.join(METHODS)}")
    require(min_ess >= 0, f"min_ess must be >= 0, got {min_ess}")
    options = options or {}
    eps_list = [float(e) for e in np.atleast_1d(eps)]

    def run(name: str, thresholds: list[float], gen: np.random.Generator) -> list[GncEstimate]:
        if name == "rejection":
            return guess_and_check(problem, fact, thresholds, draws, gen, sampler=sampler, workers=workers,
                                   memory_bytes=memory_bytes, on_chunk=on_chunk)
        if name == "rbis":
            from numerics.rbis import rao_blackwell_is
            return rao_blackwell_is(problem, fact, thresholds, draws, gen, sampler=sampler, workers=workers,
                                    memory_bytes=memory_bytes, on_chunk=on_chunk)
        if name == "smc":
            from numerics.smc import tempered_smc
            return tempered_smc(problem, fact, thresholds, gen, **{"workers": workers, **options})
        from numerics.nested import nested_sampling
        return nested_sampling(problem, fact, thresholds, gen, **{"workers": workers, **options})

    if method != "auto":
        return run(method, eps_list, rng)
    method, why = choose_method(problem, fact, eps_list)
    first, second = rng.spawn(2)
    out = run(method, eps_list, first)
    return redo_low_ess(out, min_ess, FALLBACK[method], why,
                        lambda thresholds: run(FALLBACK[method], thresholds, second))


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


def rbis_applicable(problem: SensingProblem, fact: Factorization) -> bool:
    """Gaussian-linear last layer and an invertible ``Cov(A vec W | hidden layers)``."""
    return (fact.prior == "gaussian" and min(fact.width, fact.mp) * fact.m >= problem.n
            and covariance_is_regular(problem, fact))


def covariance_is_regular(problem: SensingProblem, fact: Factorization) -> bool:
    """Whether ``S(U) = Cov(A vec W | U)`` is invertible for generic U (r = min(k, m') rows): it is singular for
    *every* U when, e.g., a completion row is observed at more than r entries (W's rows lie in an r-dim space).
    Checked at three fixed generic U (a local generator; relative smallest singular value > 1e-10)."""
    r, (m, mp) = min(fact.width, fact.mp), problem.shape
    U = np.random.default_rng(0).standard_normal((3, r, mp))
    M = np.einsum("iaj,blj->bial", problem.A, U).reshape(3, problem.n, m * r)
    sv = np.linalg.svd(M @ np.swapaxes(M, 1, 2), compute_uv=False)
    return bool(np.all(sv[:, -1] > 1e-10 * sv[:, 0]))




def choose_method(problem: SensingProblem, fact: Factorization, eps) -> tuple[str, str]:
    """auto's first method and why: rbis where the last layer is Gaussian and linear, else rejection (ε > 0).

    At ε = 0 without a Gaussian-linear last layer no method here applies: P(L_train = 0) = 0 and only rbis and
    smc integrate the last layer out exactly. That is a :class:`UserInputError`, not a silent NaN.
    """
    if rbis_applicable(problem, fact):
        return "rbis", "auto: gaussian prior with a Gaussian-linear last layer -> Rao-Blackwellized IS"
    require(min(np.atleast_1d(eps)) > 0,
            f"eps = 0 needs a Gaussian-linear last layer (gaussian prior, min(k, m')*m >= n, regular "
            f"Cov(A vec W | hidden layers)); prior {fact.prior!r} with k = {fact.width}, n = {problem.n} has none: "
            "use eps > 0 (nested sampling reaches small eps)")
    return "rejection", f"auto: prior {fact.prior!r} has no Gaussian-linear last layer -> rejection"
