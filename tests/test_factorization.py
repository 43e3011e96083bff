"""The reduced samplers have the law of the materialized (every weight drawn) sampler.

Rule: two-sample Kolmogorov–Smirnov tests on four statistics of W (W_00, log‖W‖_F, log(s_1/s_min),
W_01·W_10), N = 20,000 draws per sampler, each test rejected at p < 1e-6. Over one run of this file
(≤ 20 hypothesis examples × ≤ 2 reduced samplers × 4 statistics) the false-failure rate is below 2e-4
(Bonferroni). The negative control (Bartlett factors with k − 1 degrees of freedom) must be rejected.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from numerics.activations import parse_activation
from numerics.factorization import Factorization, bartlett_factors, sample
from verify.errors import UserInputError

N = 20_000
P_REJECT = 1e-6


def statistics(W, rank):
    s = np.linalg.svd(W, compute_uv=False)
    out = [W[:, 0, 0], np.log(np.linalg.norm(W, axis=(1, 2))), np.log(s[:, 0] / s[:, rank - 1])]
    if W.shape[1] > 1 and W.shape[2] > 1:
        out.append(W[:, 0, 1] * W[:, 1, 0])
    return out


def min_ks_pvalue(W1, W2, rank):
    """Smallest KS p-value over the statistics; ``rank`` = min(k, m, m'), the rank of every draw."""
    return min(stats.ks_2samp(a, b).pvalue for a, b in zip(statistics(W1, rank), statistics(W2, rank)))


activations = st.sampled_from(["linear", "tanh", "leaky_relu", "leaky_relu:0.05"])


@given(m=st.integers(1, 5), mp=st.integers(2, 5), k=st.integers(1, 24), d=st.integers(2, 5),
       act=activations, prior=st.sampled_from(["gaussian", "normalized"]), seed=st.integers(0, 2 ** 32 - 1))
def test_reduced_samplers_have_the_materialized_law(m, mp, k, d, act, prior, seed):
    fact = Factorization(m, mp, k, d, act, prior)
    rng = np.random.default_rng(seed)
    reference = sample(fact, N, rng, "materialized")
    for sampler in fact.exact_samplers():
        if sampler != "materialized":
            assert min_ks_pvalue(sample(fact, N, rng, sampler), reference, min(k, m, mp)) > P_REJECT, sampler


@settings(max_examples=5)
@given(seed=st.integers(0, 2 ** 32 - 1), k=st.integers(5, 12))
def test_negative_control_wrong_degrees_of_freedom_is_rejected(seed, k):
    rng = np.random.default_rng(seed)
    fact = Factorization(5, 5, k, 3, "linear")
    stds = fact.layer_stds()

    def wrong(batch):  # Bartlett chain with k − 1 degrees of freedom in each Wishart factor
        R = stds[0] * np.swapaxes(bartlett_factors(k - 1, 5, batch, rng), -1, -2)
        R = stds[1] * np.swapaxes(bartlett_factors(k - 1, 5, batch, rng), -1, -2) @ R
        return stds[2] * rng.standard_normal((batch, 5, 5)) @ R

    with np.errstate(divide="ignore"):  # k − 1 = 4 < 5 degrees of freedom can give a singular W
        assert min_ks_pvalue(wrong(N), sample(fact, N, rng, "materialized"), 5) < P_REJECT


@given(k=st.integers(1, 40), d=st.integers(2, 6), seed=st.integers(0, 2 ** 32 - 1))
def test_linear_gaussian_second_moment_is_mp_at_every_width(k, d, seed):
    """E‖W‖_F² = m' exactly (spec §1); z-test at 1e-6 with the sample standard error."""
    fact = Factorization(4, 3, k, d, "linear")
    sq = np.sum(sample(fact, N, np.random.default_rng(seed)) ** 2, axis=(1, 2))
    assert abs(sq.mean() - 3) < 4.9 * sq.std() / np.sqrt(N)


def test_bartlett_factor_gram_is_wishart_mean():
    T = bartlett_factors(9, 4, 200_000, np.random.default_rng(3))
    gram = T @ np.swapaxes(T, -1, -2)
    np.testing.assert_allclose(gram.mean(axis=0), 9 * np.eye(4), atol=0.1)


def test_normalized_prior_has_unit_norm_and_uniform_needs_materialized():
    W = sample(Factorization(5, 5, 7, 4, "tanh", "normalized"), 100, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(W, axis=(1, 2)), 1.0)
    fact = Factorization(5, 5, 7, 3, "linear", "uniform")
    assert fact.resolve_sampler("auto") == "materialized"
    with pytest.raises(UserInputError, match="not exact"):
        fact.resolve_sampler("bartlett")
    W = sample(fact, 50_000, np.random.default_rng(1))
    # uniform: entry variance (1/3)/rows per layer, so E‖W‖² = m' (1/3)^d
    assert abs(np.mean(np.sum(W ** 2, axis=(1, 2))) - 5 / 27) < 0.01


@pytest.mark.parametrize("kwargs, message", [
    (dict(width=0), "width"), (dict(width=-3), "width"), (dict(depth=1), "depth"),
    (dict(activation="relu6"), "unknown activation"), (dict(prior="laplace"), "unknown prior"),
    (dict(activation="leaky_relu:2"), "slope"), (dict(activation="tanh:3"), "no parameter"),
])
def test_bad_factorizations_raise_one_line_errors(kwargs, message):
    args = dict(m=5, mp=5, width=5, depth=2, activation="linear", prior="gaussian") | kwargs
    with pytest.raises(UserInputError, match=message):
        Factorization(**args)


def test_activations_agree_between_numpy_and_torch():
    import torch
    x = np.linspace(-3, 3, 101)
    for name in ["linear", "tanh", "leaky_relu", "leaky_relu:0.1"]:
        sigma = parse_activation(name)
        np.testing.assert_allclose(sigma(torch.tensor(x)).numpy(), sigma(x), rtol=1e-15)
    assert parse_activation("leaky_relu")(np.array(-1.0)) == -0.2
