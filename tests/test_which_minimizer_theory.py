"""Closed forms of theory.which_minimizer against independent oracles (KKT systems, pseudo-inverses, direct
evaluation of the limit's test error)."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from theory import which_minimizer as theory

dims = st.integers(1, 6).flatmap(lambda n: st.tuples(st.just(n), st.integers(n + 1, 3 * n + 2)))
seeds = st.integers(0, 2 ** 32 - 1)


def _problem(seed, n, p):
    rng = np.random.default_rng(seed)
    return rng, rng.standard_normal((n, p)), rng.standard_normal(n), rng.standard_normal(p)


def _kkt_limit(J, r0, theta0, P_inv):
    """argmin (θ − θ0)ᵀ P⁻¹ (θ − θ0) subject to J(θ − θ0) = r0, from its KKT system."""
    n, p = J.shape
    kkt = np.block([[P_inv, J.T], [J, np.zeros((n, n))]])
    sol = np.linalg.solve(kkt, np.concatenate([np.zeros(p), r0]))
    return theta0 + sol[:p]


@given(seeds, dims)
def test_gd_limit_is_the_closest_interpolant(seed, dims):
    n, p = dims
    rng, J, r0, theta0 = _problem(seed, n, p)
    theta = theory.gd_limit(J, r0, theta0)
    np.testing.assert_allclose(J @ (theta - theta0), r0, atol=1e-9 * (1 + np.abs(r0).max()))
    np.testing.assert_allclose(theta, _kkt_limit(J, r0, theta0, np.eye(p)), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(theta, theta0 + np.linalg.pinv(J) @ r0, rtol=1e-9, atol=1e-9)
    # any other interpolant (add a null-space direction) is farther from θ0
    null = np.linalg.svd(J)[2][n:]
    other = theta + null.T @ rng.standard_normal(p - n)
    assert np.linalg.norm(other - theta0) > np.linalg.norm(theta - theta0)


@given(seeds, dims)
def test_preconditioned_limit_minimizes_the_inverse_metric(seed, dims):
    n, p = dims
    rng, J, r0, theta0 = _problem(seed, n, p)
    A = rng.standard_normal((p, p))
    P = A @ A.T + 0.5 * np.eye(p)
    theta = theory.preconditioned_limit(J, r0, theta0, P)
    np.testing.assert_allclose(theta, _kkt_limit(J, r0, theta0, np.linalg.inv(P)), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(theory.preconditioned_limit(J, r0, theta0, np.eye(p)),
                               theory.gd_limit(J, r0, theta0), rtol=1e-12, atol=1e-12)


@given(seeds, st.integers(2, 12))
def test_one_point_adagrad_limit_interpolates_along_sign_j(seed, p):
    rng = np.random.default_rng(seed)
    j, theta0, r0 = rng.standard_normal(p), rng.standard_normal(p), float(rng.standard_normal())
    theta = theory.adagrad_one_point_limit(j, r0, theta0)
    assert abs(j @ (theta - theta0) - r0) <= 1e-12 * (1 + abs(r0))
    step = (theta - theta0) * np.sign(j)
    np.testing.assert_allclose(step, step[0], atol=1e-14)  # equal moves along sign(j)


@given(seeds, st.integers(2, 12), st.floats(0.1, 10.0))
def test_one_point_adagrad_equals_gd_iff_equal_magnitudes(seed, p, magnitude):
    rng = np.random.default_rng(seed)
    theta0, r0 = rng.standard_normal(p), float(rng.standard_normal())
    equal = magnitude * rng.choice([-1.0, 1.0], size=p)
    assert theory.adagrad_one_point_equals_gd(equal)
    np.testing.assert_allclose(theory.adagrad_one_point_limit(equal, r0, theta0),
                               theory.gd_limit(equal[None, :], [r0], theta0), rtol=1e-12, atol=1e-12)
    unequal = equal.copy()
    unequal[int(rng.integers(p))] *= 1.5
    assert not theory.adagrad_one_point_equals_gd(unequal)
    gap = theory.adagrad_one_point_limit(unequal, r0, theta0) - theory.gd_limit(unequal[None, :], [r0], theta0)
    assert np.linalg.norm(gap) > 1e-3 * abs(r0) / np.linalg.norm(unequal)


@given(seeds, dims, st.lists(st.floats(0.1, 5.0), min_size=3, max_size=5))
def test_init_scale_coefficients_match_the_limits_test_error(seed, dims, alphas):
    """Oracle: scale the model by α, take the GD limit θ0 + (αJ)⁺(y − α g0), evaluate its test MSE directly."""
    n, p = dims
    rng, J, y, theta0 = _problem(seed, n, p)
    Jt, g0, g0t, yt = rng.standard_normal((7, p)), rng.standard_normal(n), rng.standard_normal(7), \
        rng.standard_normal(7)
    coef = theory.init_scale_coefficients(J, Jt, g0, g0t, y, yt)
    for alpha in alphas:
        theta = theory.gd_limit(alpha * J, y - alpha * g0, theta0)
        mse = np.mean((alpha * (g0t + Jt @ (theta - theta0)) - yt) ** 2)
        np.testing.assert_allclose(coef.mse(alpha), mse, rtol=1e-8)
    # a sign flip of the init output with the same kernel negates B only
    flipped = theory.init_scale_coefficients(J, Jt, -g0, -g0t, y, yt)
    np.testing.assert_allclose([flipped.A, flipped.B, flipped.C], [coef.A, -coef.B, coef.C], rtol=1e-9,
                               atol=1e-12)
