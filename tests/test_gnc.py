"""Streaming rejection G&C: running moments, acceptance bookkeeping, agreement with a direct computation."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numerics.factorization import Factorization, sample
from numerics.gnc import RunningMoments, guess_and_check
from numerics.problems import random_problem
from verify.errors import UserInputError


@given(chunks=st.lists(st.lists(st.floats(-1e3, 1e3), max_size=30), min_size=1, max_size=8))
def test_running_moments_match_numpy(chunks):
    rm, parts = RunningMoments(), []
    for c in chunks:
        part = RunningMoments()
        part.update(np.array(c))
        parts.append(part)
        rm.update(np.array(c))
    merged = parts[0]
    for part in parts[1:]:
        merged.merge(part)
    flat = np.concatenate([np.array(c) for c in chunks])
    for acc in (rm, merged):
        assert acc.count == flat.size
        if flat.size:
            assert np.isclose(acc.value, flat.mean(), atol=1e-9)
        if flat.size >= 2:
            assert np.isclose(acc.se, flat.std(ddof=1) / np.sqrt(flat.size), atol=1e-9)


@given(seed=st.integers(0, 2 ** 32 - 1), workers=st.integers(1, 3), act=st.sampled_from(["linear", "tanh"]))
def test_rejection_matches_direct_filtering_in_law(seed, workers, act):
    """Streamed G&C vs filtering one big batch of independent draws: z-test on the difference at 1e-6."""
    rng = np.random.default_rng(seed)
    prob = random_problem(3, 3, 1, 3, rng)
    fact = Factorization(3, 3, 4, 2, act)
    eps = 0.3
    est, = guess_and_check(prob, fact, eps, 60_000, rng, workers=workers, memory_bytes=200_000)
    train, gen = prob.losses(sample(fact, 60_000, rng))
    acc = gen[train < eps]
    se = np.hypot(est.G_se, acc.std(ddof=1) / np.sqrt(acc.size))
    assert abs(est.G - acc.mean()) < 4.9 * se
    assert abs(est.C - gen.mean()) < 4.9 * np.hypot(est.C_se, gen.std() / np.sqrt(gen.size))
    assert est.n_draws == 60_000 and est.p_accept == est.n_accepted / 60_000


def test_reproducible_for_a_seed_and_thresholds_share_draws():
    prob = random_problem(5, 5, 1, 15, np.random.default_rng(0))
    fact = Factorization(5, 5, 20, 2, "tanh")
    a = guess_and_check(prob, fact, [0.1, 0.5, 1e9], 30_000, np.random.default_rng(7), workers=2)
    b = guess_and_check(prob, fact, [0.1, 0.5, 1e9], 30_000, np.random.default_rng(7), workers=2)
    assert a == b
    assert a[0].n_accepted <= a[1].n_accepted <= a[2].n_accepted == 30_000
    assert a[2].G == pytest.approx(a[2].C, rel=1e-12)  # accepting everything gives chance


def test_zero_accepted_is_nan_with_counts():
    prob = random_problem(5, 5, 1, 15, np.random.default_rng(0))
    est, = guess_and_check(prob, Factorization(5, 5, 5, 2, "linear"), 1e-12, 1000, np.random.default_rng(0))
    assert est.n_accepted == 0 and np.isnan(est.G) and np.isnan(est.G_se) and est.n_draws == 1000


def test_bad_arguments():
    prob = random_problem(5, 5, 1, 15, np.random.default_rng(0))
    fact = Factorization(5, 5, 5, 2, "linear")
    with pytest.raises(UserInputError, match="eps"):
        guess_and_check(prob, fact, 0.0, 10, np.random.default_rng(0))
    with pytest.raises(UserInputError, match="factorization is 4x5"):
        guess_and_check(prob, Factorization(4, 5, 5, 2, "linear"), 0.1, 10, np.random.default_rng(0))
