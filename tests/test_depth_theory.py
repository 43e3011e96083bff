"""Depth-theorem theory: Lyapunov exponents and the chain that measures them, the rank-1 depth limit, RIP bound.

Statistical rule in this file: z-tests at 4.9 standard errors (two-sided p ≈ 1e-6 each) and KS tests at
p > 1e-6; with fewer than ~300 such tests per run the false-failure rate is below 3e-4.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from numerics.factorization import Factorization, sample
from numerics.problems import random_problem
from numerics.rip import isometry_constants, normalized_operator, quotient
from numerics.gnc_limits import (chain_log_singular_values, informative_rip_setting, latent_rejection,
                                 rank1_depth_limit)
from theory.depth_theorem import (limit_chance, log_ratio_slope, lyapunov_exponents, rank1_from_latent,
                                  rank1_losses, rip_bound, rip_bound_applies)
from verify.depth_theorem.sweep import lyapunov_fit

Z = 4.9


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_lyapunov_exponents_are_mean_log_chi(k):
    """λ_i = E ln χ_{k−i+1}, by quadrature of the χ density (independent of the digamma formula)."""
    expected = [integrate.quad(lambda x, nu=nu: np.log(x) * stats.chi.pdf(x, nu), 0, np.inf)[0]
                for nu in range(k, 0, -1)]
    assert lyapunov_exponents(k) == pytest.approx(expected, abs=1e-8)
    if k >= 2:
        assert log_ratio_slope(k) == pytest.approx(expected[1] - expected[0], abs=1e-8)


@given(k=st.integers(1, 6), d=st.integers(1, 12), seed=st.integers(0, 2 ** 32 - 1), data=st.data())
def test_chain_log_determinant_grows_by_the_sum_of_exponents(k, d, seed, data):
    """Σ_i ln σ_i(H_d) = ½ ln det(H_dᵀH_d) has mean d Σ_{i ≤ p} λ_i exactly, at every depth."""
    p = data.draw(st.integers(1, k))
    Y = chain_log_singular_values(k, [d], 4000, np.random.default_rng(seed), p=p)[:, 0].sum(axis=1)
    assert abs(Y.mean() - d * lyapunov_exponents(k, p).sum()) <= Z * Y.std(ddof=1) / np.sqrt(Y.size)


@given(k=st.integers(2, 5), d=st.integers(1, 6), seed=st.integers(0, 2 ** 32 - 1))
def test_chain_matches_direct_products_in_law(k, d, seed):
    """Chain singular values vs materialized products of d Gaussian k×k matrices: KS on ln(σ_2/σ_1) and ln σ_1."""
    rng = np.random.default_rng(seed)
    Y = chain_log_singular_values(k, [d], 5000, rng)[:, 0]
    H = rng.standard_normal((5000, k, k))
    for _ in range(d - 1):
        H = rng.standard_normal((5000, k, k)) @ H
    s = np.log(np.linalg.svd(H, compute_uv=False))
    assert stats.ks_2samp(Y[:, 1] - Y[:, 0], s[:, 1] - s[:, 0]).pvalue > 1e-6
    assert stats.ks_2samp(Y[:, 0], s[:, 0]).pvalue > 1e-6


def test_chain_against_a_wrong_depth_is_rejected():
    """Negative control for the KS test above: one factor too many is detected."""
    rng = np.random.default_rng(0)
    Y = chain_log_singular_values(4, [3], 5000, rng)[:, 0]
    H = rng.standard_normal((5000, 4, 4))
    for _ in range(3):
        H = rng.standard_normal((5000, 4, 4)) @ H
    s = np.log(np.linalg.svd(H, compute_uv=False))
    assert stats.ks_2samp(Y[:, 1] - Y[:, 0], s[:, 1] - s[:, 0]).pvalue < 1e-6


@given(k=st.integers(2, 5), seed=st.integers(0, 2 ** 32 - 1), data=st.data())
def test_measured_log_ratio_slope_matches_the_gap(k, seed, data):
    """Least-squares slope of E ln(σ_2/σ_1) over deep depths vs λ_2 − λ_1 (transients decay like e^{−(λ1−λ2)d});
    for a k×p chain (p ≥ 2 columns, the hidden chain of a factorization with m' = p) as for the k×k product."""
    depths = list(range(40, 101, 10))
    p = data.draw(st.integers(2, k))
    Y = chain_log_singular_values(k, depths, 4000, np.random.default_rng(seed), p=p)
    fit = lyapunov_fit(depths, Y[:, :, 1] - Y[:, :, 0], 40)
    assert abs(fit.slope - log_ratio_slope(k)) <= Z * fit.slope_se


@given(m=st.integers(1, 6), mp=st.integers(1, 6), seed=st.integers(0, 2 ** 32 - 1))
def test_rank1_limit_sampler_is_uniform_rank_one(m, mp, seed):
    """u vᵀ with u, v uniform on the spheres: unit norm, rank 1, E vec W vec Wᵀ = I/(m m') entrywise."""
    rng = np.random.default_rng(seed)
    W = rank1_from_latent(rng.standard_normal((20000, m + mp)), m, mp)
    assert np.allclose(np.linalg.norm(W, axis=(1, 2)), 1.0)
    assert np.all(np.linalg.matrix_rank(W[:50], tol=1e-10) == 1)
    w = W.reshape(W.shape[0], -1)
    second = np.einsum("bi,bj->bij", w, w)
    mean, se = second.mean(0), second.std(0) / np.sqrt(w.shape[0])
    assert np.all(np.abs(mean - np.eye(m * mp) / (m * mp)) <= Z * se + 1e-12)


@given(seed=st.integers(0, 2 ** 32 - 1))
def test_rank1_limit_law_is_orthogonally_invariant(seed):
    """P W Qᵀ has the law of W: KS on the (0, 0) entry and on ⟨W, B⟩ for a fixed B."""
    rng = np.random.default_rng(seed)
    W = rank1_from_latent(rng.standard_normal((20000, 8)), 3, 5)
    P = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    Q = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    V = rank1_from_latent(rng.standard_normal((20000, 8)), 3, 5)
    R = P @ V @ Q.T
    B = rng.standard_normal((3, 5))
    assert stats.ks_2samp(W[:, 0, 0], R[:, 0, 0]).pvalue > 1e-6
    assert stats.ks_2samp(np.einsum("bij,ij->b", W, B), np.einsum("bij,ij->b", R, B)).pvalue > 1e-6


@pytest.mark.parametrize("act", ["linear", "tanh"])
def test_deep_normalized_prior_approaches_the_rank1_limit_in_law(act):
    """The normalized prior at depth 40 vs u vᵀ: KS on the largest singular value share and a fixed projection;
    a shallow prior (d = 2) is rejected by the same test (its σ_2 is far from 0)."""
    rng = np.random.default_rng(2)
    B = rng.standard_normal((5, 5))
    limit = rank1_from_latent(rng.standard_normal((20000, 10)), 5, 5)
    deep = sample(Factorization(5, 5, 5, 40, act, "normalized"), 20000, rng)
    shallow = sample(Factorization(5, 5, 5, 2, act, "normalized"), 20000, rng)
    proj = lambda W: np.einsum("bij,ij->b", W, B)  # noqa: E731
    assert stats.ks_2samp(proj(deep), proj(limit)).pvalue > 1e-6
    if act == "linear":  # tanh with k = 5 keeps a little mass off rank 1; linear is the theorem's case
        assert np.median(np.linalg.svd(deep, compute_uv=False)[:, 1]) < 0.01
    assert np.median(np.linalg.svd(shallow, compute_uv=False)[:, 1]) > 0.1


@given(seed=st.integers(0, 2 ** 32 - 1), workers=st.integers(1, 2))
def test_latent_rejection_matches_direct_filtering(seed, workers):
    rng = np.random.default_rng(seed)
    prob = random_problem(3, 4, 1, 6, rng)
    dim, losses = rank1_losses(prob)
    eps = [0.02, 0.05]
    ests = latent_rejection(dim, losses, eps, 60_000, rng, workers=workers)
    train, gen = losses(rng.standard_normal((60_000, dim)))
    for est, e in zip(ests, eps):
        acc = gen[train < e]
        assert acc.size > 50 and est.n_accepted > 50
        assert abs(est.G - acc.mean()) <= Z * np.hypot(est.G_se, acc.std(ddof=1) / np.sqrt(acc.size))
        assert est.p_accept == est.n_accepted / 60_000 and est.method == "rejection"
    # the chance level of the limit has a closed form
    assert abs(ests[0].C - limit_chance(prob)) <= Z * ests[0].C_se


@pytest.mark.parametrize("act", ["linear", "tanh"])
def test_normalized_prior_chance_level_closed_form(act):
    prob = random_problem(4, 3, 1, 7, np.random.default_rng(3))
    W = sample(Factorization(4, 3, 6, 3, act, "normalized"), 200_000, np.random.default_rng(4))
    gen = prob.gen_loss(W)
    assert abs(gen.mean() - limit_chance(prob)) <= Z * gen.std() / np.sqrt(gen.size)


def test_rank1_limit_obeys_the_rip_bound_pointwise():
    """Every accepted rank-1 W satisfies L_gen ≤ m m' ε/((1 − δ_2⁻)|B|) with δ_2⁻ from the optimizer's witness:
    no W − W* (a rank-2 matrix) beats the optimizer's smallest restricted eigenvalue."""
    rng = np.random.default_rng(8)
    prob = random_problem(5, 5, 1, 20, rng)
    rip = isometry_constants(prob.A, 2, rng, restarts=24)
    assert rip_bound_applies(rip.delta_minus_lower)
    W = rank1_from_latent(rng.standard_normal((400_000, 10)), 5, 5)
    train, gen = prob.losses(W)
    eps = 0.03
    acc = train < eps
    assert acc.sum() > 100
    assert np.all(gen[acc] <= rip_bound(prob, eps, rip.delta_minus_lower))
    D = (W - prob.W_star).reshape(len(W), 5, 5)
    assert quotient(normalized_operator(prob.A), D).min() >= rip.low - 1e-12
    assert rip_bound(prob, eps, 1.0) == np.inf and not rip_bound_applies(1 - 1e-13)
    assert rip_bound(prob, eps, 0.0) == pytest.approx(25 * eps / prob.b_size)  # unit-norm A: c² n = m m'


def test_depth_limit_never_reports_a_number_without_accepted_draws():
    prob = random_problem(5, 5, 1, 15, np.random.default_rng(0))
    out = rank1_depth_limit(prob, [0.001, 0.05], np.random.default_rng(1), method="rejection", draws=20_000)
    assert [e.method for e in out] == ["rejection", "rejection"]
    assert out[0].n_accepted == 0 and np.isnan(out[0].G)


# ---------------------------------------------------------------------------------- nested sampling (rare events)
nested = pytest.importorskip("numerics.nested")


def t_threshold(replicates: int) -> float:
    """Two-sided 1e-6 quantile of Student's t with R − 1 degrees of freedom (replicate-based SEs)."""
    return float(stats.t.ppf(1 - 5e-7, df=replicates - 1))


def test_nested_limit_agrees_with_rejection_where_rejection_is_feasible():
    prob = random_problem(4, 3, 1, 8, np.random.default_rng(11))
    eps = [0.01, 0.03]
    rej = rank1_depth_limit(prob, eps, np.random.default_rng(1), method="rejection", draws=400_000)
    nes = rank1_depth_limit(prob, eps, np.random.default_rng(2), method="nested",
                            options=dict(particles=500, moves=20, replicates=8))
    for r, n in zip(rej, nes):
        assert r.n_accepted > 300 and n.method == "nested"
        assert abs(r.G - n.G) <= t_threshold(8) * np.hypot(r.G_se, n.G_se)


def test_nested_limit_follows_the_local_law_at_small_eps():
    """G_∞(ε)/ε → κ: the intercept of G_∞/ε against ε over ε = (0.005, 0.01, 0.02)·λ_min(H) agrees with κ, and
    p(ε) follows the predicted ε^{D/2} law within a factor 1.5 (nested p has ~10% replicate scatter here)."""
    from verify.rules import fit_linear
    from theory.depth_theorem import local_limit_law
    prob = random_problem(3, 3, 1, 6, np.random.default_rng(5))
    law = local_limit_law(prob)
    eps = law.scale * np.array([0.005, 0.01, 0.02])
    out = rank1_depth_limit(prob, eps, np.random.default_rng(3), method="nested",
                            options=dict(particles=500, moves=20, replicates=8))
    ratio = np.array([e.G for e in out]) / eps
    fit = fit_linear(eps, ratio, (np.array([e.G_se for e in out]) / eps) ** 2, level=0.999)
    assert abs(fit.intercept - law.kappa) <= t_threshold(8) * fit.intercept_se
    for e in out:
        assert abs(np.log(e.p_accept) - (law.log_p_coeff + law.dim / 2 * np.log(e.eps))) < np.log(1.5)


@settings(max_examples=5)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_informative_rip_setting_brackets_the_eps_where_the_bound_is_below_chance(seed):
    """``eps_max`` is where the bound (at the δ_2⁻ lower bound) meets the chance level: informative strictly below
    it, vacuous above; the bound is linear in ε (exact arithmetic of the closed forms, relative 1e-12)."""
    s = informative_rip_setting(np.random.default_rng(seed), m=4, mp=4, n=14, restarts=4)
    assert s.problem.shape == (4, 4) and s.problem.n == 14
    assert s.chance == pytest.approx(limit_chance(s.problem), rel=1e-12)
    if rip_bound_applies(s.rip.delta_minus_lower):
        assert s.bound(s.eps_max) == pytest.approx(s.chance, rel=1e-12)
        assert s.informative(0.5 * s.eps_max) and not s.informative(2.0 * s.eps_max)
    else:
        assert s.eps_max == 0.0 and not s.informative(1e-12)
