"""The orthant posterior (numerics/orthant.py) against plain rejection and against closed forms.

Rules: two-sample Kolmogorov–Smirnov tests of exact draws against rejection draws on several statistics
(every coordinate, the sum, the max, the min), each rejecting at p < 1e-6 (≤ 9 statistics × 8 examples:
false-failure rate ≤ 7e-5 per run); the negative control (one coordinate's scale off by 60 %) gives
p ≈ 1e-68. Log-probabilities and accuracies by z-tests at 4.9 combined standard errors (p ≈ 1e-6 each).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from numerics.errors import UserInputError
from numerics.orthant import (log_orthant_probability, orthant_posterior, orthant_problem, proposals,
                              rejection_samples, sample_truncated, test_accuracy as conditional_accuracy,
                              train_outputs)

Z = 4.9
KS_P = 1e-6


def random_kernel(rng, d, rank=None):
    A = rng.normal(size=(d, rank or d))
    return A @ A.T + (0.0 if rank else 0.3 * np.eye(d))


def balanced_labels(rng, d):
    return rng.permutation(np.arange(d) % 2)


@settings(max_examples=8)
@given(seed=st.integers(0, 2 ** 32 - 1), d=st.integers(2, 6))
def test_exact_sampler_matches_rejection_in_law(seed, d):
    rng = np.random.default_rng(seed)
    K, y = random_kernel(rng, d), balanced_labels(rng, d)
    exact = sample_truncated(K, y, 4000, rng)
    ref, _ = rejection_samples(K, y, 4000, rng)
    assert np.all((exact > 0) == (y == 1))
    stats_of = [lambda f, j=j: f[:, j] for j in range(d)] + [lambda f: f.sum(1), lambda f: f.max(1), lambda f: f.min(1)]
    for stat in stats_of:
        assert stats.ks_2samp(stat(exact), stat(ref)).pvalue > KS_P


def test_sampler_vs_rejection_is_able_to_fail():
    """Negative control: exact draws for a perturbed kernel are told apart from the true law."""
    rng = np.random.default_rng(5)
    K, y = random_kernel(rng, 4), np.array([0, 1, 1, 0])
    wrong = sample_truncated(K * np.outer([1, 1, 1, 1.6], [1, 1, 1, 1.6]), y, 4000, rng)
    ref, _ = rejection_samples(K, y, 4000, rng)
    assert stats.ks_2samp(wrong[:, 3], ref[:, 3]).pvalue < KS_P


def equicorrelated_orthant(d, rho):
    """P(all f_i > 0), f ∼ N(0, (1 − ρ) I + ρ 11ᵀ), ρ ≥ 0: ∫ φ(u) Φ(√(ρ/(1−ρ)) u)^d du."""
    c = np.sqrt(rho / (1 - rho))
    return integrate.quad(lambda u: stats.norm.pdf(u) * stats.norm.cdf(c * u) ** d, -np.inf, np.inf,
                          epsabs=0, epsrel=1e-12, limit=200)[0]


@settings(max_examples=10)
@given(seed=st.integers(0, 2 ** 32 - 1), d=st.integers(2, 24), rho=st.floats(0.05, 0.9), tilt=st.booleans())
def test_log_probability_of_the_equicorrelated_orthant(seed, d, rho, tilt):
    K = (1 - rho) * np.eye(d) + rho
    exact = np.log(equicorrelated_orthant(d, rho))
    log_p, se = log_orthant_probability(K, np.ones(d, int), 20000, np.random.default_rng(seed), tilt=tilt)
    assert abs(log_p - exact) <= Z * se + 1e-12, (log_p, exact, se)


def test_tilting_reduces_the_variance_far_in_the_tail():
    K = 0.9 * np.eye(20) + 0.1
    rng = np.random.default_rng(0)
    _, se_tilt = log_orthant_probability(K, np.ones(20, int), 4000, rng, tilt=True)
    _, se_ghk = log_orthant_probability(K, np.ones(20, int), 4000, rng, tilt=False)
    assert se_tilt < se_ghk


@settings(max_examples=6)
@given(seed=st.integers(0, 2 ** 32 - 1), d=st.integers(4, 8), rank=st.integers(1, 3))
def test_rank_deficient_kernels_are_exact(seed, d, rank):
    """K = Φ Φᵀ with fewer features than points (G&C at small width): deterministic rows as indicators."""
    rng = np.random.default_rng(seed)
    Phi = rng.normal(size=(d, rank))
    y = (Phi @ rng.normal(size=rank) > 0).astype(int)  # separable labels: the orthant has positive mass
    K = Phi @ Phi.T
    log_p, se = log_orthant_probability(K, y, 20000, rng, tilt=False)
    ref, tried = rejection_samples(K, y, 10 ** 6, rng, max_draws=4 * 10 ** 5)
    p = len(ref) / tried
    ref_se = np.sqrt((1 - p) / max(len(ref), 1))
    assert abs(log_p - np.log(p)) <= Z * np.hypot(se, ref_se)


def test_zero_variance_points_are_errors_as_in_strict_margin_gnc():
    """f = 0 exactly (an all-zero feature vector) is a tie, an error for either class (numerics.gnc_classifier)."""
    K = np.diag([1.0, 0.0, 1.0])
    for label in (0, 1):
        prob = orthant_problem(K, np.array([1, label, 0]))
        _, psi = proposals(prob, 100, np.random.default_rng(0))
        assert np.all(psi == -np.inf)
    prob = orthant_problem(np.eye(2), np.array([1, 0]))
    _, psi = proposals(prob, 100, np.random.default_rng(0))
    assert np.allclose(np.exp(psi), 0.25)


@settings(max_examples=6)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(2, 5), t=st.integers(1, 4))
def test_posterior_test_accuracy_matches_brute_force(seed, n, t):
    """Brute force: draw (f_S, f*) jointly from N(0, K), keep the draws with sign f_S = y, count correct f*."""
    rng = np.random.default_rng(seed)
    K = random_kernel(rng, n + t)
    y, yt = balanced_labels(rng, n), rng.integers(0, 2, size=t)
    post = orthant_posterior(K, y, yt, samples=20000, rng=rng)
    w, V = np.linalg.eigh(K)
    root = V * np.sqrt(w)
    hits = []
    while sum(len(h) for h in hits) < 40000:
        f = rng.standard_normal((2 ** 16, n + t)) @ root.T
        keep = np.all((f[:, :n] > 0) == (y == 1), axis=1)
        hits.append(((f[keep, n:] > 0) == (yt == 1)).mean(1))
    hits = np.concatenate(hits)
    assert abs(post.test_acc - hits.mean()) <= Z * np.hypot(post.test_acc_se, hits.std() / np.sqrt(hits.size))


def test_conditional_accuracy_uses_the_closed_form_law():
    """One training point, one test point with correlation r: P(f* > 0 | f_S) = Φ(r f_S / √(1 − r²))."""
    r = 0.6
    K = np.array([[1.0, r], [r, 1.0]])
    prob = orthant_problem(K[:1, :1], np.array([1]), K[1:, :1], np.array([1.0]), np.array([1]))
    z = np.array([[[0.7]]])
    assert conditional_accuracy(prob, z)[0, 0] == pytest.approx(stats.norm.cdf(r * 0.7 / np.sqrt(1 - r * r)))
    assert train_outputs(prob, z, np.array([1]))[0, 0, 0] == pytest.approx(0.7)


def test_bad_labels_are_one_line_errors():
    with pytest.raises(UserInputError, match="labels"):
        orthant_problem(np.eye(2), np.array([0, 2]))
    with pytest.raises(UserInputError, match="labels"):
        orthant_problem(np.eye(2), np.array([0, 1, 1]))
