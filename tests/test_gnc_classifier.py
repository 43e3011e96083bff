"""G&C for classifiers: every speed-up of ``numerics.gnc_classifier`` against the plain-rejection reference.

Two kinds of test:
- pathwise: with the same prior draws (``sampler="torch"``, the reference's chunk) the fast path must make
  the *same* accept/reject decision for every draw and measure the same test accuracies — this proves the
  shared first-layer GEMM, early rejection with survivor compaction, the nested one-pass curve and the chunking
  exact (not only equal in law);
- in law, with independent draws: the label-swap symmetry, the numpy sampler and the memory budget change the
  random numbers, so acceptance rates (z-test of two binomial proportions) and the test-accuracy distributions
  of accepted models (two-sample Kolmogorov–Smirnov and a z-test of the means) are compared at level
  ``ALPHA`` = 1e-4 per test. A true implementation fails a test with probability <= 1e-4 (a few tests per
  example, a handful of examples: false-failure rate < 0.5 % per run). Each law test is shown to reject a
  deliberately wrong variant (power), so it can fail.
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from numerics.datasets import digits_task, random_labels
from numerics.errors import UserInputError
from numerics.gnc_classifier import (chunk_for_memory, guess_and_check, margins, p_estimate, plain_rejection,
                                     _blocks)
from numerics.models import make_model

ALPHA = 1e-4
SEEDS = st.integers(0, 2 ** 32 - 1)


def gen(seed):
    return torch.Generator().manual_seed(int(seed))


def two_sample(a, b, *, check_p=True):
    """p-values of the law tests between two G&C results at the same n: acceptance rate, KS, mean."""
    out = {}
    if check_p:
        z = (a.p_hat - b.p_hat) / math.sqrt(a.p_se ** 2 + b.p_se ** 2)
        out["p"] = 2 * stats.norm.sf(abs(z))
    out["ks"] = stats.ks_2samp(a.test_accs, b.test_accs).pvalue
    z = (a.test_acc_mean - b.test_acc_mean) / math.sqrt(a.test_acc_se ** 2 + b.test_acc_se ** 2)
    out["mean"] = 2 * stats.norm.sf(abs(z))
    return out


# ----------------------------------------------------------------------------------------------------
# pathwise equality (same draws)
# ----------------------------------------------------------------------------------------------------
@settings(max_examples=12)
@given(seed=SEEDS, arch=st.sampled_from(["mlp", "cnn"]), width=st.sampled_from([1, 4, 16]),
       depth=st.integers(1, 2), bias=st.booleans(),
       prior=st.sampled_from(["uniform", "kaiming_uniform", "gaussian", "torch_default"]),
       ns=st.lists(st.sampled_from([2, 4, 6, 8, 12]), min_size=1, max_size=3),
       early=st.booleans(), pair=st.sampled_from([(0, 1), (3, 8), (4, 9)]))
def test_fast_path_makes_the_same_decisions_as_plain_rejection(seed, arch, width, depth, bias, prior, ns, early, pair):
    ds = digits_task(pair, 12, data_seed=seed % 7)
    width = max(width, 8) if arch == "cnn" else width
    model = make_model(arch, 64, 2, width=width, depth=depth, bias=bias)
    kw = dict(prior=prior, draws=300, n_list=ns, normalization="frobenius")
    ref = plain_rejection(model, ds, generator=gen(seed), chunk=128, **kw)
    fast = guess_and_check(model, ds, generator=gen(seed), chunk=128, sampler="torch", symmetry=False,
                           early_reject=early, **kw)
    assert [r.n for r in fast] == sorted(set(ns))
    for a, b in zip(ref, fast):
        assert (a.n, a.accepted, a.draws) == (b.n, b.accepted, b.draws)
        np.testing.assert_array_equal(a.test_accs, b.test_accs)
        np.testing.assert_allclose(a.normalized_losses, b.normalized_losses, rtol=1e-12)


@settings(max_examples=6)
@given(seed=SEEDS, ns=st.lists(st.sampled_from([2, 4, 8, 16]), min_size=2, max_size=4, unique=True))
def test_nested_one_pass_equals_separate_runs_per_n(seed, ns):
    ds = digits_task((2, 7), 16, data_seed=1)
    model = make_model("mlp", 64, 2, width=8)
    kw = dict(prior="uniform", draws=2000, chunk=500, sampler="torch", max_test_models=50)
    together = guess_and_check(model, ds, generator=gen(seed), n_list=ns, **kw)
    for r in together:
        alone = guess_and_check(model, ds, generator=gen(seed), n_list=[r.n], **kw)[0]
        assert (alone.accepted, alone.fitted) == (r.accepted, r.fitted)
        np.testing.assert_array_equal(alone.test_accs, r.test_accs)


def test_cap_takes_the_first_accepted_models():
    ds = digits_task((0, 1), 4, data_seed=0)
    model = make_model("mlp", 64, 2, width=4)
    kw = dict(prior="uniform", draws=1000, chunk=100, sampler="torch", symmetry=False)
    full = guess_and_check(model, ds, generator=gen(3), **kw)[0]
    capped = guess_and_check(model, ds, generator=gen(3), max_test_models=7, **kw)[0]
    assert capped.accepted == full.accepted > 7 and capped.evaluated == 7
    np.testing.assert_array_equal(capped.test_accs, full.test_accs[:7])


def test_blocks_cut_at_every_n_and_cover_the_points():
    for ns in ([16], [2, 4, 8, 16, 32], [3, 5]):
        blocks = _blocks(ns, True)
        assert blocks[0] == (0, 1) and blocks[-1][1] == ns[-1]
        assert all(a2 == b1 for (_, b1), (a2, _) in zip(blocks, blocks[1:]))
        assert set(ns) <= {b for _, b in blocks}
    assert _blocks([4, 8], False) == [(0, 8)]


# ----------------------------------------------------------------------------------------------------
# equality in law (independent draws)
# ----------------------------------------------------------------------------------------------------
def _law_case(seed, *, bias, arch="mlp", width=8, n=6, draws=12000, wrong=False, prior="uniform", **fast_kw):
    ds = digits_task((3, 5), 8, data_seed=2)
    model = make_model(arch, 64, 2, width=width, bias=bias)
    ref = plain_rejection(model, ds, prior=prior, draws=draws, generator=gen(seed), n_list=[n])[0]
    fast = guess_and_check(model, ds, prior=prior, draws=draws, generator=gen(seed + 1), n_list=[n], **fast_kw)[0]
    return ref, fast


@settings(max_examples=4)
@given(seed=st.integers(0, 2 ** 31), bias=st.booleans(), n=st.sampled_from([4, 8]))
def test_label_swap_symmetry_and_numpy_sampler_equal_plain_rejection_in_law(seed, bias, n):
    ref, fast = _law_case(seed, bias=bias, n=n, symmetry=True)
    assert fast.symmetry and not ref.symmetry
    pvals = two_sample(ref, fast)
    assert min(pvals.values()) > ALPHA, pvals


@settings(max_examples=3)
@given(seed=st.integers(0, 2 ** 31))
def test_memory_budget_does_not_change_the_law(seed):
    ds = digits_task((1, 7), 8, data_seed=0)
    model = make_model("mlp", 64, 2, width=8)
    small, big = (chunk_for_memory(model, 4, m) for m in (1 << 18, 64 << 20))
    assert small < big
    kw = dict(prior="uniform", draws=10000, n_list=[6])
    a = guess_and_check(model, ds, generator=gen(seed), memory_bytes=1 << 18, **kw)[0]
    b = guess_and_check(model, ds, generator=gen(seed + 1), memory_bytes=64 << 20, **kw)[0]
    assert min(two_sample(a, b).values()) > ALPHA


@settings(max_examples=4)
@given(seed=st.integers(0, 2 ** 31), bias=st.booleans(),
       prior=st.sampled_from(["uniform", "gaussian", "kaiming_uniform", "torch_default"]))
def test_lazy_first_layer_weights_equal_plain_rejection_in_law(seed, bias, prior):
    """Fan-in-scaled priors too: the reduced first layer must keep the full network's fan-in (a regression:
    drawing it with fan-in |S| gave p = 0.0088 against 0.0071 for gaussian, width 4, n = 4)."""
    ref, fast = _law_case(seed, bias=bias, n=6, symmetry=False, lazy_inputs=True, prior=prior)
    assert min(two_sample(ref, fast).values()) > ALPHA


def test_lazy_first_layer_returns_full_parameters_that_fit():
    """The kept parameters (completed survivors, original coordinates) fit and reproduce the test accuracies."""
    ds = digits_task((3, 8), 8, data_seed=0)
    model = make_model("mlp", 64, 2, width=8, depth=2)
    res = guess_and_check(model, ds, prior="uniform", draws=4000, generator=gen(0), n_list=[2, 6],
                          keep_params=True, max_test_models=20)
    X, y, Xt, yt = (torch.as_tensor(a) for a in (ds.X_train, ds.y_train, ds.X_test, ds.y_test))
    for r in res:
        theta = torch.as_tensor(r.params)
        assert (margins(model, theta, X[:r.n], y[:r.n]) > 0).all()
        np.testing.assert_allclose((margins(model, theta, Xt, yt) > 0).double().mean(1).numpy(), r.test_accs)
        assert np.all(r.params[:, :8 * 64] != 0)  # every first-layer weight drawn


def test_law_tests_reject_a_wrong_symmetry():
    """Power: accepting all-wrong draws *without* swapping them (a plausible bug) keeps p̂ but puts
    anti-classifiers among the accepted models; the same law tests must reject it."""
    ds = digits_task((3, 5), 8, data_seed=2)
    model = make_model("mlp", 64, 2, width=8)
    ref = plain_rejection(model, ds, prior="uniform", draws=12000, generator=gen(5), n_list=[6])[0]
    swapped = type(model).permute_outputs
    try:  # the bug: the swap is the identity
        type(model).permute_outputs = lambda self, theta, perm: theta
        bad = guess_and_check(model, ds, prior="uniform", draws=12000, generator=gen(6), n_list=[6])[0]
    finally:
        type(model).permute_outputs = swapped
    pvals = two_sample(ref, bad, check_p=False)
    assert max(pvals.values()) < ALPHA, pvals


def test_law_tests_reject_a_wrong_acceptance_rate():
    """Power of the p test: counting every draw once with the symmetry (p̂ = accepted/draws) doubles p̂."""
    ref, fast = _law_case(11, bias=True, n=6, draws=8000, symmetry=True)
    doubled = type(fast)(**{**{k: getattr(fast, k) for k in fast.__dataclass_fields__ if k != "evaluated"},
                            "p_hat": 2 * fast.p_hat, "p_se": 2 * fast.p_se})
    assert two_sample(ref, doubled)["p"] < ALPHA


# ----------------------------------------------------------------------------------------------------
# prior-scale invariance (real_networks.md, Priors): zero biases and ReLU → the law of the classifier
# does not depend on the per-layer scale of the prior
# ----------------------------------------------------------------------------------------------------
PRIOR_SCALES = [("uniform", 1.0), ("uniform", 0.2), ("kaiming_uniform", 1.0)]


@settings(max_examples=3)
@given(seed=st.integers(0, 2 ** 31), depth=st.integers(1, 2))
def test_zero_bias_relu_net_is_prior_scale_invariant(seed, depth):
    ds = digits_task((4, 9), 8, data_seed=3)
    model = make_model("mlp", 64, 2, width=8, depth=depth, bias=False)
    runs = [guess_and_check(model, ds, prior=p, scale=a, draws=10000, generator=gen(seed + i), n_list=[6])[0]
            for i, (p, a) in enumerate(PRIOR_SCALES)]
    for other in runs[1:]:
        pvals = two_sample(runs[0], other)
        assert min(pvals.values()) > ALPHA / 2, pvals  # two comparisons: Bonferroni


def test_zero_bias_relu_net_scale_invariance_is_pathwise():
    """Stronger than in law: the same uniform draws scaled by a > 0 make the same decisions."""
    ds = digits_task((4, 9), 8, data_seed=3)
    model = make_model("mlp", 64, 2, width=8, bias=False)
    a, b = (guess_and_check(model, ds, prior="uniform", scale=s, draws=3000, generator=gen(2), sampler="torch",
                            n_list=[4, 8])
            for s in (1.0, 0.2))
    for ra, rb in zip(a, b):
        assert ra.accepted == rb.accepted
        np.testing.assert_array_equal(ra.test_accs, rb.test_accs)


def test_prior_scale_matters_with_biases():
    """With biases the output bias's weight relative to the hidden path scales with a (a² vs a), so U(−1, 1)
    and U(−0.2, 0.2) give different laws: the acceptance-rate test must reject."""
    ds = digits_task((4, 9), 8, data_seed=3)
    model = make_model("mlp", 64, 2, width=8, bias=True)
    # measured: p ≈ 0.0107 at a = 1 vs 0.0073 at a = 0.2; 40000 draws each put the difference ≈ 7 SE away
    a, b = (guess_and_check(model, ds, prior="uniform", scale=s, draws=40000, generator=gen(7 + i), n_list=[6],
                            max_test_models=200)[0]
            for i, s in enumerate((1.0, 0.2)))
    assert two_sample(a, b)["p"] < ALPHA


# ----------------------------------------------------------------------------------------------------
# counting, bins, bad input
# ----------------------------------------------------------------------------------------------------
def test_p_estimate_and_interval():
    p, se, (lo, hi) = p_estimate(50, 1000, 2)
    assert p == pytest.approx(0.025) and se == pytest.approx(math.sqrt(0.05 * 0.95 / 1000) / 2)
    assert lo < p < hi
    p0, _, (lo0, hi0) = p_estimate(0, 1000, 1)
    assert p0 == 0 and lo0 == 0 and 0 < hi0 < 0.01


def test_random_labels_cost_about_n_bits():
    """E over uniformly random labels of P(fit) = 2^-n exactly for any prior; with balanced (permuted) labels
    it is at most 1 / C(n, n/2). Mean p̂ over labelings must not exceed it beyond its CI."""
    ds = digits_task((0, 1), 8, data_seed=0)
    model = make_model("mlp", 64, 2, width=8)
    rng = np.random.default_rng(0)
    ps, ses = [], []
    for k in range(6):
        r = guess_and_check(model, random_labels(ds, rng), prior="uniform", draws=6000, generator=gen(k))[0]
        ps.append(r.p_hat)
        ses.append(r.p_se)
    mean, se = np.mean(ps), np.std(ps, ddof=1) / math.sqrt(len(ps))
    assert mean - 4 * se <= 1 / math.comb(8, 4)


def test_loss_bins_partition_the_fitted_models():
    ds = digits_task((0, 1), 4, data_seed=0)
    model = make_model("mlp", 64, 2, width=8)
    bins = [(0.0, 0.6), (0.6, 0.68), (0.68, 10.0)]
    res = guess_and_check(model, ds, prior="uniform", draws=2000, generator=gen(0), normalization="frobenius",
                          loss_bins=bins)
    assert [r.loss_bin for r in res] == bins
    assert sum(r.accepted for r in res) == res[0].fitted
    for r, (lo, hi) in zip(res, bins):
        assert np.all((r.normalized_losses > lo) & (r.normalized_losses <= hi))


@pytest.mark.parametrize("kw, message", [
    (dict(draws=0), "draws must be >= 1"),
    (dict(n_list=[40]), "n_list must lie in"),
    (dict(normalization="l2"), "unknown normalization"),
    (dict(loss_bins=[(0.5, 0.4)], normalization="frobenius"), "lo < hi"),
    (dict(loss_bins=[(0.1, 0.4)]), "loss_bins need a normalization"),
    (dict(prior="laplace"), "unknown prior"),
    (dict(memory_bytes=10), "memory_bytes"),
])
def test_bad_arguments_are_user_errors(kw, message):
    ds = digits_task((0, 1), 4, data_seed=0)
    model = make_model("mlp", 64, 2, width=4)
    args = {**dict(prior="uniform", draws=10, generator=gen(0)), **kw}
    with pytest.raises(UserInputError, match=message):
        guess_and_check(model, ds, **args)


@pytest.mark.parametrize("prior", ["gaussian", "kaiming_uniform", "torch_default", "kaiming_normal"])
def test_lazy_reduced_draws_keep_the_full_networks_fan_in(prior):
    """The reduced first layer sees |S| < d inputs but its weights (and biases) must have the law of the full
    network's first layer (fan-in d): per-entry variances within 3 % of the prior's (about 60k entries each, so a
    true law misses with probability < 1e-6; fan-in |S| ≈ 41 instead of 64 would be 56 % off)."""
    from numerics.gnc_classifier import _LazyFirstLayer
    from numerics.models import prior_law
    ds = digits_task((3, 5), 8, data_seed=2)
    model = make_model("mlp", 64, 2, width=8, bias=True)
    lazy = _LazyFirstLayer.setup(model, ds, prior, 1.0, None, np.random.default_rng(0), [(0, 2), (2, 8)], "cpu")
    assert lazy is not None and lazy.support.size < 64
    draws = lazy.sample(2000).numpy()
    h, s = model.widths[0], lazy.support.size
    for block, values in ((model.blocks[0], draws[:, :h * s]), (model.blocks[1], draws[:, h * s:h * s + h])):
        kind, w = prior_law(block, prior, 1.0, None)
        var = w ** 2 / 3 if kind == "uniform" else w ** 2
        if var == 0:
            assert np.all(values == 0)
        else:
            assert abs(values.var() / var - 1) < 0.03, (block.name, values.var(), var)
