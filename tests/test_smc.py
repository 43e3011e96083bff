"""Adaptive-tempered SMC against rejection, against rbis at ε = 0, and against its own under-mixed runs.

Rule: SMC's standard errors come from R independent replicates (R − 1 degrees of freedom), so two estimates
agree when their difference is within the two-sided Welch t-interval at level ALPHA = 1e-4
(``verify.rules.welch_limit``; the rejection and rbis sides have n_accepted − 1 and ess − 1 degrees of freedom).
Comparisons with rejection are made only where P(L_train < ε) ≥ 1e-4 with ≥ 200 accepted draws (asserted, so
the test cannot pass vacuously). At most ~40 comparisons per run of this file: false-failure rate ≤ 4e-3 when
the estimates are unbiased and their replicate means near normal. SMC's O(1/N) bias is far below these
intervals at the sizes used. The negative control (one move per stage) must be *rejected* by the same rule.
"""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from numerics.factorization import Factorization, sample
from numerics.gnc import estimate
from numerics.problems import random_problem
from numerics.smc import covariance_is_regular, next_increment, systematic_resample
from verify.rules import welch_limit
from verify.errors import UserInputError

ALPHA = 1e-4
activations = st.sampled_from(["linear", "tanh", "leaky_relu"])
seeds = st.integers(0, 2 ** 32 - 1)


def feasible_eps(prob, fact, rng, quantile=2e-3, pilot=20_000):
    """A threshold with P(L_train < ε) ≈ ``quantile`` (from a pilot sample of the prior)."""
    return float(np.quantile(prob.train_loss(sample(fact, pilot, rng)), quantile))


def assert_agrees_with_rejection(sm, rj, replicates):
    assert rj.p_accept >= 1e-4 and rj.n_accepted >= 200, rj  # the comparison is in the feasible range
    assert sm.se_dof == replicates - 1 and rj.se_dof == rj.n_accepted - 1
    assert abs(sm.G - rj.G) <= welch_limit(sm.G_se, sm.se_dof, rj.G_se, rj.se_dof, ALPHA), (sm, rj)
    assert abs(sm.p_accept - rj.p_accept) <= welch_limit(sm.p_se, sm.se_dof, rj.p_se,
                                                         rj.n_accepted - 1, ALPHA), (sm, rj)


@settings(max_examples=6)
@given(seed=seeds, act=activations, k=st.integers(2, 6), d=st.integers(2, 5),
       kind=st.sampled_from(["sensing", "completion"]))
def test_smc_agrees_with_rejection_where_rejection_is_feasible(seed, act, k, d, kind):
    rng = np.random.default_rng(seed)
    prob = random_problem(3, 3, 1, 4, rng, kind=kind)
    fact = Factorization(3, 3, k, d, act)
    assume(covariance_is_regular(prob, fact))  # else smc refuses (test_bad_arguments)
    eps = feasible_eps(prob, fact, rng)
    rj, = estimate(prob, fact, eps, method="rejection", draws=200_000, rng=rng)
    sm, = estimate(prob, fact, eps, method="smc", draws=0, rng=rng,
                   options={"particles": 400, "moves": 30, "replicates": 8})
    assert_agrees_with_rejection(sm, rj, 8)
    assert sm.method == "smc" and sm.n_accepted == -1 and 0 < sm.ess <= 8 * 400


@settings(max_examples=3)
@given(seed=seeds, k=st.integers(2, 6))
def test_chance_level_of_the_prior_particles_matches_the_closed_form(seed, k):
    """Linear σ, d = 2: E_prior[L_gen] = chance_level(column kernel) exactly (theory.width_theorem); SMC's C pools
    the E[L_gen | U] of its 4 × 2000 initial particles. Rule: within the normal interval at ALPHA (the
    conditional mean given U is a quadratic in U, light-tailed enough for the CLT at 8000 draws)."""
    from theory.width_theorem import chance_level, column_kernel
    rng = np.random.default_rng(seed)
    prob = random_problem(3, 3, 1, 4, rng)
    fact = Factorization(3, 3, k, 2, "linear")
    sm, = estimate(prob, fact, 0.0, method="smc", draws=0, rng=rng,
                   options={"particles": 2000, "moves": 1, "replicates": 4})
    exact = chance_level(prob, column_kernel("linear", 2, 3, 3, width=k))
    assert abs(sm.C - exact) <= welch_limit(sm.C_se, np.inf, 0.0, np.inf, ALPHA), (sm.C, sm.C_se, exact)


@settings(max_examples=2)
@given(seed=seeds, act=activations, k=st.integers(20, 40))
def test_eps_zero_agrees_with_rbis_where_its_weights_are_healthy(seed, act, k):
    """At d = 2 and k ≥ 20 rbis keeps ≥ 20% effective samples at ε = 0 (spec §3): a trusted reference."""
    rng = np.random.default_rng(seed)
    prob = random_problem(4, 4, 1, 8, rng)
    fact = Factorization(4, 4, k, 2, act)
    rb, = estimate(prob, fact, 0.0, method="rbis", draws=20_000, rng=rng)
    sm, = estimate(prob, fact, 0.0, method="smc", draws=0, rng=rng,
                   options={"particles": 400, "moves": 20, "replicates": 8})
    assert rb.ess >= 1000, rb
    assert abs(sm.G - rb.G) <= welch_limit(sm.G_se, 7, rb.G_se, rb.ess - 1, ALPHA), (sm, rb)
    assert sm.p_accept == 0.0


@settings(max_examples=1)
@given(seed=seeds)
def test_under_mixed_smc_is_biased_and_the_comparison_catches_it(seed):
    """Negative control (spec §3: under-mixed moves bias SMC even with many particles). Deep narrow tanh net
    (k = 4, d = 6), ε = 0, a fixed problem: one pCN move per stage leaves the population lagging behind the
    tempered targets, nearer the prior, and G is biased upward (measured: ~0.010 against 0.0025 with 40
    moves, 0.0018 with 120), far beyond the replicate spread (30 replicates). The reference (40 moves) is
    itself slightly high, which only makes the control harder to pass."""
    prob = random_problem(4, 4, 1, 10, np.random.default_rng(0))
    fact = Factorization(4, 4, 4, 6, "tanh")
    rng = np.random.default_rng(seed)
    ref, = estimate(prob, fact, 0.0, method="smc", draws=0, rng=rng,
                    options={"particles": 300, "moves": 40, "replicates": 6, "workers": 2})
    bad, = estimate(prob, fact, 0.0, method="smc", draws=0, rng=rng,
                    options={"particles": 300, "moves": 1, "replicates": 30, "workers": 2})
    assert bad.G - ref.G > welch_limit(bad.G_se, 29, ref.G_se, 5, ALPHA), (bad, ref)


@pytest.mark.slow
@settings(max_examples=3)
@given(seed=seeds, act=activations)
def test_defaults_agree_with_rejection_on_a_deep_narrow_net(seed, act):
    """Defaults (1000 particles, 60 moves) with 8 replicates, 4×4 sensing with n = 10, k = 4, d = 6, P ≈ 3e-4."""
    rng = np.random.default_rng(seed)
    prob = random_problem(4, 4, 1, 10, rng)
    fact = Factorization(4, 4, 4, 6, act)
    eps = feasible_eps(prob, fact, rng, quantile=3e-4, pilot=300_000)
    rj, = estimate(prob, fact, eps, method="rejection", draws=3_000_000, rng=rng, workers=2)
    sm, = estimate(prob, fact, eps, method="smc", draws=0, rng=rng, options={"replicates": 8, "workers": 2})
    assert_agrees_with_rejection(sm, rj, 8)


@given(log_w=st.lists(st.floats(-50, 50), min_size=2, max_size=200), target=st.floats(0.1, 0.9),
       remaining=st.floats(1e-3, 1.0))
def test_tempering_increment_keeps_the_target_ess(log_w, target, remaining):
    lw = np.array(log_w)
    delta = next_increment(lw, remaining, target)
    assert 0 < delta <= remaining

    def ess(d):
        w = np.exp(d * (lw - lw.max()))
        return w.sum() ** 2 / (w @ w)

    assert ess(delta) >= target * lw.size * (1 - 1e-9) or delta < remaining * 1e-15
    if delta < remaining:  # the bisection stopped at the target, not before
        assert ess(min(remaining, delta * (1 + 1e-6) + 1e-300)) <= target * lw.size * (1 + 1e-3)


@given(log_w=st.lists(st.floats(-30, 30), min_size=1, max_size=100), seed=seeds)
def test_systematic_resampling_copies_each_particle_floor_or_ceil_of_its_share(log_w, seed):
    lw = np.array(log_w)
    idx = systematic_resample(lw, np.random.default_rng(seed))
    share = lw.size * np.exp(lw - lw.max()) / np.exp(lw - lw.max()).sum()
    counts = np.bincount(idx, minlength=lw.size)
    assert idx.size == lw.size
    assert np.all(counts >= np.floor(share - 1e-9)) and np.all(counts <= np.ceil(share + 1e-9))


def test_reproducible_for_a_seed_whatever_the_workers():
    prob = random_problem(3, 3, 1, 4, np.random.default_rng(0))
    fact = Factorization(3, 3, 3, 3, "tanh")
    opts = {"particles": 50, "moves": 2, "replicates": 3}
    one = estimate(prob, fact, [0.0, 0.05], method="smc", draws=0, rng=np.random.default_rng(4), options=opts)
    two = estimate(prob, fact, [0.0, 0.05], method="smc", draws=0, rng=np.random.default_rng(4),
                   options={**opts, "workers": 2})
    assert one == two


def test_bad_arguments():
    prob = random_problem(5, 5, 1, 15, np.random.default_rng(0))
    run = lambda fact, eps=0.0, **o: estimate(prob, fact, eps, method="smc", draws=0, rng=np.random.default_rng(0),
                                               options=o)
    with pytest.raises(UserInputError, match="smc needs"):
        run(Factorization(5, 5, 5, 3, "linear", "normalized"))
    with pytest.raises(UserInputError, match="smc needs"):
        run(Factorization(5, 5, 2, 3, "tanh"))  # min(k, m') m = 10 < n = 15
    completion = random_problem(3, 3, 1, 4, np.random.default_rng(5), kind="completion")  # row 0 fully observed
    with pytest.raises(UserInputError, match="singular for every hidden draw"):
        estimate(completion, Factorization(3, 3, 2, 2, "linear"), 0.01, method="smc", draws=0,
                 rng=np.random.default_rng(0))
    fact = Factorization(5, 5, 5, 3, "tanh")
    with pytest.raises(UserInputError, match="replicates"):
        run(fact, replicates=1)
    with pytest.raises(UserInputError, match="eps"):
        run(fact, eps=-0.1)
    with pytest.raises(UserInputError, match="target_ess"):
        run(fact, target_ess=1.0)
