"""Width-theorem theory: column kernel, chance level and the infinite-width (NNGP) posterior.

Statistical rule in this file: z-tests at 4.9 standard errors (two-sided p ≈ 1e-6 each); with ≤ ~200
z-tests per run the false-failure rate is below 2e-4.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.factorization import Factorization, sample
from numerics.problems import random_problem
from numerics.gnc_limits import gaussian_limit_posterior
from theory.width_theorem import chance_level, column_kernel, gaussian_moment_matrix

Z = 4.9


def assert_kernel_matches_draws(K, W):
    """E[W_ij W_ij'] = K_jj' for every i: compare the row-averaged second moments entrywise."""
    m = W.shape[1]
    prod = np.einsum("bij,bik->bjk", W, W) / m
    mean, se = prod.mean(axis=0), prod.std(axis=0) / np.sqrt(W.shape[0])
    assert np.all(np.abs(mean - K) <= Z * se + 1e-12), (mean, K)


@given(m=st.integers(1, 5), mp=st.integers(1, 5), k=st.integers(1, 50),
       act=st.sampled_from(["linear", "tanh", "leaky_relu", "leaky_relu:0.5"]),
       prior=st.sampled_from(["gaussian", "uniform"]), seed=st.integers(0, 2 ** 32 - 1))
def test_finite_width_kernel_at_depth_two_matches_monte_carlo(m, mp, k, act, prior, seed):
    K = column_kernel(act, 2, mp, m, width=k, prior=prior)
    W = sample(Factorization(m, mp, k, 2, act, prior), 40_000, np.random.default_rng(seed))
    assert_kernel_matches_draws(K, W)


@given(k=st.integers(1, 30), d=st.integers(3, 6), seed=st.integers(0, 2 ** 32 - 1),
       prior=st.sampled_from(["gaussian", "uniform"]))
def test_linear_kernel_is_exact_at_every_depth(k, d, seed, prior):
    K = column_kernel("linear", d, 3, 4, width=k, prior=prior)
    W = sample(Factorization(4, 3, k, d, "linear", prior), 40_000, np.random.default_rng(seed))
    assert_kernel_matches_draws(K, W)
    assert column_kernel("tanh", d, 3, 4, width=k) is None  # no closed form at finite width


def arccos_leaky(a, b, c, slope):
    """E[σ(u)σ(v)] for leaky ReLU, (u, v) ~ N(0, [[a, c], [c, b]]): the arc-cosine closed form."""
    cos = np.clip(c / np.sqrt(a * b), -1, 1)
    theta = np.arccos(cos)
    relu = np.sqrt(a * b) / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * cos)
    return slope ** 2 * c + slope * (1 - slope) * c + (1 - slope) ** 2 * relu


@given(a=st.floats(0.1, 3), b=st.floats(0.1, 3), r=st.floats(-0.99, 0.99), slope=st.floats(0, 0.9))
def test_quadrature_matches_arccosine_closed_form(a, b, r, slope):
    cov = np.array([[a, r * np.sqrt(a * b)], [r * np.sqrt(a * b), b]])
    got = gaussian_moment_matrix(f"leaky_relu:{slope}", cov)
    assert got[0, 1] == pytest.approx(arccos_leaky(a, b, cov[0, 1], slope), abs=1e-10)
    assert got[0, 0] == pytest.approx((1 + slope ** 2) / 2 * a, rel=1e-10)


def test_leaky_relu_ratio_and_tanh_limit():
    K = column_kernel("leaky_relu", 2, 5, 5)
    rho = (0.8 ** 2 / (2 * np.pi)) / ((1 + 0.2 ** 2) / 2)  # (E σ)² / E σ², z standard normal
    assert K[0, 1] / K[0, 0] == pytest.approx(rho, rel=1e-9)
    assert rho == pytest.approx(0.196, abs=5e-4)
    for d in (2, 3, 7):
        np.testing.assert_allclose(column_kernel("tanh", d, 5, 5), np.eye(5) / 5, atol=1e-12)
        np.testing.assert_allclose(column_kernel("linear", d, 5, 5), np.eye(5) / 5, atol=1e-15)


@settings(max_examples=5)
@given(seed=st.integers(0, 2 ** 32 - 1), d=st.integers(3, 5))
def test_infinite_width_recursion_against_direct_gaussian_sampling(seed, d):
    """The recursion Σ̃_{j+1} = E[σ(z)σ(z)ᵀ], z ~ N(0, Σ̃_j), redone by sampling z instead of quadrature."""
    rng = np.random.default_rng(seed)
    mp, n_mc = 3, 400_000
    x = rng.standard_normal((n_mc, mp))
    sigma = lambda u: np.maximum(u, 0.2 * u)  # noqa: E731
    gram = (sigma(x)[:, :, None] * sigma(x)[:, None, :]).mean(0)  # first layer: independent columns
    for _ in range(d - 2):
        z = rng.multivariate_normal(np.zeros(mp), gram, size=n_mc)
        prods = sigma(z)[:, :, None] * sigma(z)[:, None, :]
        gram = prods.mean(0)
    K = column_kernel("leaky_relu", d, mp, 2)
    se = prods.std(0) / np.sqrt(n_mc) / 2 if d > 2 else 0
    # the sampled recursion carries error from earlier layers too: allow it via a 2x wider z-band
    assert np.all(np.abs(gram / 2 - K) <= 2 * Z * se + 1e-12)


@given(seed=st.integers(0, 2 ** 32 - 1), act=st.sampled_from(["linear", "tanh", "leaky_relu"]),
       kind=st.sampled_from(["sensing", "completion"]))
def test_chance_level_matches_monte_carlo_on_the_limiting_gaussian(seed, act, kind):
    rng = np.random.default_rng(seed)
    prob = random_problem(4, 3, 1, 6, rng, kind=kind)
    K = column_kernel(act, 3, 3, 4)
    L = np.linalg.cholesky(np.kron(np.eye(4), K))
    W = (rng.standard_normal((200_000, 12)) @ L.T).reshape(-1, 4, 3)
    gen = prob.gen_loss(W)
    assert abs(gen.mean() - chance_level(prob, K)) < Z * gen.std() / np.sqrt(gen.size)


@given(seed=st.integers(0, 2 ** 32 - 1), act=st.sampled_from(["linear", "tanh"]), eps=st.floats(0, 1))
def test_antisymmetric_limit_equals_chance_at_every_eps(seed, act, eps):
    rng = np.random.default_rng(seed)
    prob = random_problem(5, 5, 1, 15, rng)
    K = column_kernel(act, 2, 5, 5)
    lim = gaussian_limit_posterior(prob, K, eps, rng, n_samples=2000)
    assert lim.G == pytest.approx(chance_level(prob, K), rel=1e-10)


@settings(max_examples=8)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_leaky_limit_against_rejection_on_the_exact_gaussian(seed):
    """Independent oracle: draw vec W ~ N(0, I ⊗ K) and reject; compare with the ball-IS estimate."""
    rng = np.random.default_rng(seed)
    prob = random_problem(4, 4, 1, 6, rng)
    K = column_kernel("leaky_relu", 2, 4, 4)
    eps = 0.12
    lim = gaussian_limit_posterior(prob, K, eps, rng, n_samples=50_000)
    L = np.linalg.cholesky(np.kron(np.eye(4), K))
    train, gen = prob.losses((rng.standard_normal((300_000, 16)) @ L.T).reshape(-1, 4, 4))
    acc = gen[train < eps]
    assert acc.size > 200
    se = np.hypot(lim.G_se, acc.std() / np.sqrt(acc.size))
    assert abs(lim.G - acc.mean()) < Z * se
    p_se = np.sqrt(acc.size) / train.size
    assert abs(lim.p_accept - acc.size / train.size) < Z * p_se * 1.2
    # the exact ε = 0 conditioning is the small-ε limit of the same estimator
    tiny = gaussian_limit_posterior(prob, K, 1e-8, rng, n_samples=20_000)
    assert tiny.G == pytest.approx(gaussian_limit_posterior(prob, K, 0.0).G, rel=1e-4)


def test_leaky_limit_differs_from_chance():
    """Exact (ε = 0) conditioning: the leaky-ReLU limit moves away from chance, in either direction."""
    K = column_kernel("leaky_relu", 2, 5, 5)
    gaps = [chance_level(prob, K) - gaussian_limit_posterior(prob, K, 0.0).G
            for prob in (random_problem(5, 5, 1, 15, np.random.default_rng(s)) for s in range(5))]
    assert min(abs(g) for g in gaps) > 1e-4 and np.mean(gaps) > 1e-3
