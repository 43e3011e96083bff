"""Streaming rejection G&C: running moments, acceptance bookkeeping, agreement with a direct computation; the
``auto`` method's choice by prior, ε and measured effective sample size."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.factorization import Factorization, sample
from numerics.gnc import GncEstimate, RunningMoments, estimate, guess_and_check, redo_low_ess
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


@settings(max_examples=2)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_auto_redoes_degenerate_rbis_weights_with_smc(seed):
    """k = 3, d = 10 at ε = 0: 2000 rbis draws keep ~5–10 effective samples (measured over seeds 0–2: 5.7, 10.4,
    7.7 of 3000), far below min_ess = 100, so auto must hand the threshold to SMC and say so."""
    prob = random_problem(3, 3, 1, 4, np.random.default_rng(seed))
    fact = Factorization(3, 3, 3, 10, "tanh")
    rb, = estimate(prob, fact, 0.0, method="rbis", draws=2000, rng=np.random.default_rng(seed))
    assert rb.ess < 100, rb  # the regime the fallback is for
    options = {"particles": 200, "moves": 10, "replicates": 4}
    est, = estimate(prob, fact, 0.0, method="auto", draws=2000, rng=np.random.default_rng(seed), options=options)
    assert est.method == "smc" and est.se_dof == 3 and np.isfinite(est.G)
    first, = estimate(prob, fact, 0.0, method="rbis", draws=2000, rng=np.random.default_rng(seed).spawn(2)[0])
    assert (est.C, est.C_se) == (first.C, first.C_se)  # auto's rbis run (its rng.spawn(2)[0]): C of 2000 draws kept
    assert "measured ess" in est.note and "< min_ess 100 -> smc" in est.note and "Rao-Blackwellized" in est.note


def test_auto_keeps_rbis_where_its_ess_suffices_and_min_ess_zero_never_redoes():
    prob = random_problem(3, 3, 1, 4, np.random.default_rng(0))
    est, = estimate(prob, Factorization(3, 3, 20, 2, "tanh"), 0.0, method="auto", draws=3000,
                    rng=np.random.default_rng(1))
    assert est.method == "rbis" and est.ess >= 100 and ">= min_ess 100" in est.note
    assert est.se_dof == est.ess - 1 and est.p_se == 0.0
    deep, = estimate(prob, Factorization(3, 3, 3, 10, "tanh"), 0.0, method="auto", draws=500,
                     rng=np.random.default_rng(1), min_ess=0)
    assert deep.method == "rbis"


def test_auto_redoes_rare_rejection_with_nested_for_the_normalized_prior():
    """k = 2 < m' = 3: the normalized prior has no angular density (Γ singular), so auto starts with rejection."""
    prob = random_problem(3, 3, 1, 4, np.random.default_rng(0))
    fact = Factorization(3, 3, 2, 3, "linear", "normalized")
    eps = float(np.quantile(prob.train_loss(sample(fact, 20_000, np.random.default_rng(2))), 0.01))
    out = estimate(prob, fact, [eps, 10.0], method="auto", draws=2000, rng=np.random.default_rng(3),
                   options={"particles": 200, "moves": 5, "replicates": 4})
    rare, common = out
    assert rare.method == "nested" and "-> nested" in rare.note and rare.se_dof == 3
    assert common.method == "rejection" and common.n_accepted == 2000 and ">= min_ess" in common.note
    assert np.isclose(common.p_se, 0.0) and common.se_dof == 1999


def test_auto_refuses_eps_zero_without_a_gaussian_linear_last_layer():
    prob = random_problem(3, 3, 1, 4, np.random.default_rng(0))
    with pytest.raises(UserInputError, match="eps = 0 needs a Gaussian-linear last layer"):
        estimate(prob, Factorization(3, 3, 2, 3, "linear", "normalized"), [0.0, 0.1], draws=10,
                 rng=np.random.default_rng(0))
    with pytest.raises(UserInputError, match="eps = 0 needs a Gaussian-linear last layer"):
        estimate(prob, Factorization(3, 3, 3, 3, "linear", "uniform"), [0.0, 0.1], draws=10,
                 rng=np.random.default_rng(0))


def test_auto_picks_angular_for_the_normalized_prior_and_hands_low_ess_on():
    """k >= m': auto starts with the angular sampler at every eps >= 0 (eps = 0 included); with a budget of 50
    hidden draws and min_ess = 1e6 no estimate can reach min_ess: eps = 0 goes to angular_smc, eps > 0 to nested."""
    prob = random_problem(3, 3, 1, 4, np.random.default_rng(0))
    fact = Factorization(3, 3, 3, 2, "linear", "normalized")
    first = estimate(prob, fact, [0.0, 0.05], method="auto", draws=400, rng=np.random.default_rng(1), min_ess=0,
                     options={"adapt_rounds": 0})
    assert [e.method for e in first] == ["angular", "angular"] and "angular-central-Gaussian" in first[0].note
    assert first[0].p_accept == 0.0 and first[1].p_accept > 0
    low = estimate(prob, fact, [0.05, 0.0], method="auto", draws=50, rng=np.random.default_rng(1), min_ess=1e6,
                   options={"adapt_rounds": 0, "particles": 50, "moves": 2, "replicates": 2, "inner": 2,
                            "final_moves": 3})  # one dict for both: nested's own option never reaches angular_smc
    assert [e.method for e in low] == ["nested", "angular_smc"] and all(e.se_dof == 1 for e in low)
    assert "3 posterior moves" in low[0].note
    assert all("-> nested (eps > 0) / angular_smc (eps = 0)" in e.note for e in low)


def test_a_refused_fallback_keeps_the_first_estimate_and_says_why():
    first = [GncEstimate(eps=e, G=0.1, G_se=0.01, C=0.5, C_se=0.01, p_accept=0.0, n_accepted=-1, n_draws=10,
                         method="rbis", ess=ess) for e, ess in ((0.0, 3.0), (0.1, 500.0))]

    def refuse(thresholds):
        assert thresholds == [0.0]
        raise UserInputError("smc: every particle has zero acceptance weight")

    low, high = redo_low_ess(first, 100.0, "smc", "auto: why", refuse)
    assert low.method == "rbis" and low.G == 0.1 and "smc refused: smc: every particle" in low.note
    assert high.note == "auto: why; ess 500 >= min_ess 100"
