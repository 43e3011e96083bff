"""Guess & Check estimates: the paper's rejection sampler and the one dispatcher ``estimate(...)`` over all methods.

Paper (Alexander, Slutzky, Ran-Milo, Cohen 2025, arXiv 2506.03931): draw θ from the prior until
``L_train < ε`` (strict); accepted draws are exact posterior samples. :func:`guess_and_check` draws a fixed
number of prior samples in chunks sized to a memory budget, keeps running moments only, and reports for each
threshold ε ``G(ε) = E[L_gen | L_train < ε]`` with its standard error ``sd / √n_accepted``, the chance level
``C = E[L_gen]``, ``p(ε)`` and the accepted and total draw counts (zero accepted draws give ``G = NaN``).

:func:`estimate` is the one entry point for every method (this package's extension): ``rejection`` (here), ``rbis`` (``numerics.rbis``), ``smc``
(``numerics.smc``), ``nested`` (``numerics.nested``), ``angular`` (``numerics.angular``: exact for the normalized
prior at every ε ≥ 0, including ε = 0) and ``auto``. ``auto`` starts with rbis for the gaussian prior with a
Gaussian-linear last layer, angular for the normalized prior with Gaussian hidden layers at ε = 0, rejection otherwise,
and redoes thresholds whose measured ESS is below ``min_ess`` with rbis → smc, angular → nested at ε > 0 and
angular's tempered SMC (``method="angular_smc"``) at ε = 0, rejection → nested.

Layering (issue #11): the shared type and helpers live in ``numerics.estimates``; the estimators import it,
never this module; this module imports them. ``GncEstimate``, ``thresholds``, ``require_matching``,
``RunningMoments``, ``chunk_size``, ``stream_draws``, ``rejection_stream``, ``redo_low_ess``,
``DEFAULT_MEMORY_BYTES`` and ``rbis_applicable`` are re-exported here for older callers.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from numerics.angular import angular_applicable, angular_is, angular_smc
from numerics.errors import require
from numerics.estimates import (DEFAULT_MEMORY_BYTES, GncEstimate, RunningMoments, chunk_size, redo_low_ess,
                                rejection_stream, require_matching, stream_draws, thresholds)
from numerics.factorization import Factorization, sample
from numerics.nested import nested_sampling
from numerics.problems import SensingProblem
from numerics.rbis import rao_blackwell_is, rbis_applicable
from numerics.smc import tempered_smc

__all__ = ["DEFAULT_MEMORY_BYTES", "DEFAULT_MIN_ESS", "FALLBACK", "GncEstimate", "METHODS", "RunningMoments",
           "choose_method", "chunk_size", "estimate", "guess_and_check", "rbis_applicable", "redo_low_ess",
           "rejection_stream", "require_matching", "stream_draws", "thresholds"]


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



METHODS = ("auto", "rejection", "rbis", "smc", "nested", "angular", "angular_smc")
DEFAULT_MIN_ESS = 100.0
# auto's second method when the first's measured ESS is low (angular: nested at eps > 0, angular_smc at eps = 0)
FALLBACK = {"rbis": "smc", "angular": "angular_smc", "rejection": "nested"}
DRAW_BUDGET_METHODS = ("rejection", "rbis", "angular")  # the methods sized by ``draws``; the others by ``options``


def estimate(problem: SensingProblem, fact: Factorization, eps, *, method: str = "auto", draws: int,
             rng: np.random.Generator, sampler: str = "auto", workers: int = 1,
             memory_bytes: int = DEFAULT_MEMORY_BYTES, on_chunk: Callable[[int], None] | None = None,
             options: dict | None = None, min_ess: float = DEFAULT_MIN_ESS) -> list[GncEstimate]:
    """The one entry point for G&C estimates: ``method`` in :data:`METHODS`.

    ``draws`` is the prior-draw budget of rejection, rbis and angular (hidden draws); smc, nested and
    angular_smc take their sizes from ``options`` (e.g. particles, moves, replicates, inner). ``options`` keys
    of angular only (:data:`ANGULAR_OPTIONS`) and of nested only (:data:`NESTED_OPTIONS`) are dropped for the other
    methods (so one dict can size auto's first and second method); ``angular`` takes only its own. ``auto`` (see :func:`choose_method`) starts with rbis wherever the
    last layer is Gaussian and linear, angular for the normalized prior (k ≥ m') at ε = 0, rejection otherwise; then, at
    each ε whose *measured* effective sample size is below ``min_ess``, it redoes the estimate with the method
    built for that regime (rbis → smc: weights degenerate in narrow deep nets; angular → nested at ε > 0 and
    angular_smc at ε = 0, the only method reaching it; rejection → nested: too few accepted draws), passing it
    ``options``. Every estimate's ``note`` says what
    auto picked and why.
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
            return rao_blackwell_is(problem, fact, thresholds, draws, gen, sampler=sampler, workers=workers,
                                    memory_bytes=memory_bytes, on_chunk=on_chunk)
        if name == "angular":
            extra = {k: options[k] for k in ANGULAR_OPTIONS if k in options}
            return angular_is(problem, fact, thresholds, draws, gen, sampler=sampler, workers=workers,
                              memory_bytes=memory_bytes, on_chunk=on_chunk, **extra)
        drop = ANGULAR_OPTIONS if name != "angular_smc" else tuple(k for k in ANGULAR_OPTIONS if k != "inner")
        drop += NESTED_OPTIONS if name != "nested" else ()
        sized = {"workers": workers, **{k: v for k, v in options.items() if k not in drop}}
        if name == "smc":
            return tempered_smc(problem, fact, thresholds, gen, **sized)
        if name == "angular_smc":
            return angular_smc(problem, fact, thresholds, gen, **sized)
        return nested_sampling(problem, fact, thresholds, gen, **sized)

    if method != "auto":
        return run(method, eps_list, rng)
    method, why = choose_method(problem, fact, eps_list)
    first, second = rng.spawn(2)
    out = run(method, eps_list, first)
    if method != "angular":
        return redo_low_ess(out, min_ess, FALLBACK[method], why,
                            lambda thresholds: run(FALLBACK[method], thresholds, second))

    def redo_angular(thresholds: list[float]) -> list[GncEstimate]:
        # measured (docs/benchmarks.md, angular estimator): at eps > 0 nested sampling beats angular_smc by orders of
        # magnitude in effective samples/s at depth; eps = 0 is reachable by the angular methods only
        positive, zero = second.spawn(2)
        done = {}
        if any(e > 0 for e in thresholds):
            done.update(zip([e for e in thresholds if e > 0], run("nested", [e for e in thresholds if e > 0],
                                                                  positive)))
        if any(e == 0 for e in thresholds):
            done[0.0] = run("angular_smc", [0.0], zero)[0]
        return [done[e] for e in thresholds]

    return redo_low_ess(out, min_ess, "nested (eps > 0) / angular_smc (eps = 0)", why, redo_angular)


ANGULAR_OPTIONS = ("inner", "adapt_draws", "adapt_rounds", "orient")  # options only angular_is takes (inner: also
# angular_smc); the other methods never see them
NESTED_OPTIONS = ("final_moves",)  # options only nested sampling takes


def choose_method(problem: SensingProblem, fact: Factorization, eps) -> tuple[str, str]:
    """auto's first method and why: rbis where the last layer is Gaussian and linear, angular for the normalized
    prior with k ≥ m', a feasible S_0 and ε = 0 among the thresholds, else rejection (ε > 0).

    At ε = 0 otherwise no method here applies: P(L_train = 0) = 0 and only rbis, smc and the angular methods
    integrate the last layer out exactly. That is a :class:`UserInputError`, not a silent NaN.
    """
    if rbis_applicable(problem, fact):
        return "rbis", "auto: gaussian prior with a Gaussian-linear last layer -> Rao-Blackwellized IS"
    # angular only where nothing else reaches: at eps > 0 its band weights are heavy-tailed and were measured
    # biased with a standard error that hides it (given U: 0.037 against 0.066 by brute force; seed 8016, k = 4,
    # d = 3), while rejection -> nested is validated there
    if angular_applicable(problem, fact) and min(np.atleast_1d(eps)) == 0:
        return "angular", "auto: normalized prior, k >= m', eps = 0 -> angular-central-Gaussian IS"
    require(min(np.atleast_1d(eps)) > 0,
            f"eps = 0 needs a Gaussian-linear last layer (gaussian prior, min(k, m')*m >= n, regular "
            f"Cov(A vec W | hidden layers)) or the normalized prior with k >= m'; prior {fact.prior!r} with "
            f"k = {fact.width}, n = {problem.n} has neither: use eps > 0 (nested sampling reaches small eps)")
    return "rejection", f"auto: prior {fact.prior!r} has no Gaussian-linear last layer -> rejection"
