"""Rao–Blackwellized importance sampling against rejection and against its own ε → 0 limit.

Rule: z-tests at 4.9 combined standard errors (p ≈ 1e-6 each; ≤ 100 tests per run, false-failure rate
≤ 1e-4), only where both estimates have an effective sample size ≥ 200.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.factorization import Factorization
from numerics.gnc import estimate, rbis_applicable
from numerics.problems import random_problem
from numerics.rbis import WeightedMoments
from verify.errors import UserInputError

Z = 4.9


def close(a, b):
    return abs(a.G - b.G) <= Z * np.hypot(a.G_se, b.G_se)


@settings(max_examples=10)
@given(seed=st.integers(0, 2 ** 32 - 1), act=st.sampled_from(["linear", "tanh", "leaky_relu"]),
       k=st.integers(3, 40), d=st.integers(2, 4), kind=st.sampled_from(["sensing", "completion"]))
def test_rbis_agrees_with_rejection_where_rejection_is_feasible(seed, act, k, d, kind):
    rng = np.random.default_rng(seed)
    prob = random_problem(4, 4, 1, 8, rng, kind=kind)
    fact = Factorization(4, 4, k, d, act)
    eps = [0.15, 0.3]
    rb = estimate(prob, fact, eps, method="rbis", draws=6000, rng=rng)
    rj = estimate(prob, fact, eps, method="rejection", draws=60_000, rng=rng)
    for a, b in zip(rb, rj):
        if a.ess >= 200 and b.n_accepted >= 200 and b.p_accept >= 1e-4:
            assert close(a, b), (a, b)
            assert abs(a.p_accept - b.p_accept) <= Z * np.sqrt(b.p_accept / b.n_draws) + 0.25 * b.p_accept
        assert a.C == pytest.approx(b.C, rel=0.05)


@settings(max_examples=8)
@given(seed=st.integers(0, 2 ** 32 - 1), act=st.sampled_from(["linear", "tanh", "leaky_relu"]),
       k=st.integers(20, 200))
def test_eps_zero_is_the_limit_of_small_eps(seed, act, k):
    """ε = 0 (density weights at z = y) and ε = 1e-7 (mixture proposal on a tiny ball) are different code
    paths of one limit: their estimates agree within combined standard errors."""
    rng = np.random.default_rng(seed)
    prob = random_problem(5, 5, 1, 15, rng)
    fact = Factorization(5, 5, k, 2, act)
    zero, tiny = estimate(prob, fact, [0.0, 1e-7], method="rbis", draws=3000, rng=rng)
    # spec sampling.md §3: effective fractions >= 22% at k >= 20, d = 2, so >= 200 of 3000 draws
    assert zero.ess >= 200 and tiny.ess >= 200, (zero, tiny)
    assert close(zero, tiny), (zero, tiny)


def test_weighted_moments_merge_and_shift_invariance():
    rng = np.random.default_rng(0)
    lw, f = rng.normal(size=1000) * 3 - 700, rng.uniform(size=1000)  # weights far below float range
    whole, a, b = WeightedMoments(), WeightedMoments(), WeightedMoments()
    whole.update(lw, f)
    a.update(lw[:300], f[:300])
    b.update(lw[300:], f[300:])
    a.merge(b)
    w = np.exp(lw - lw.max())
    expected = w @ f / w.sum()
    for m in (whole, a):
        assert m.mean == pytest.approx(expected, rel=1e-12)
        assert m.ess == pytest.approx(w.sum() ** 2 / (w @ w), rel=1e-12)
        assert m.se == pytest.approx(np.sqrt(np.sum(w ** 2 * (f - expected) ** 2)) / w.sum(), rel=1e-10)


def test_rbis_refuses_priors_without_a_gaussian_last_layer():
    prob = random_problem(5, 5, 1, 15, np.random.default_rng(0))
    for fact in (Factorization(5, 5, 5, 2, "linear", "normalized"), Factorization(5, 5, 2, 2, "tanh")):
        assert not rbis_applicable(prob, fact)
        with pytest.raises(UserInputError, match="rbis needs"):
            estimate(prob, fact, 0.0, method="rbis", draws=10, rng=np.random.default_rng(0))
