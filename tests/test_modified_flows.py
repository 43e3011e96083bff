"""numerics/modified_flows.py against closed forms: on quadratic losses GD, the SGD epoch map and every
modified flow are affine maps and matrix exponentials, so the error orders of the IGR and SGD claims are
checked on an oracle that needs no ODE solver and no order enumeration by tree walk; the RMSProp simulator is
checked against torch.optim.RMSprop."""
import itertools

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.linalg import expm

from numerics.modified_flows import (gd, heterogeneous_batches_problem, integrate_flow, rmsprop,
                                     sgd_epoch_mean_over_orders, step_size_errors)
from theory import modified_losses as ml
from verify.rules import fit_loglog_slope

seeds = st.integers(0, 2**32 - 1)


class QuadraticBatches:
    """``Ĉ_k(θ) = ½(θ − c_k)ᵀ A_k (θ − c_k)``; ``rows`` selects batches k, ``None`` means all (the mean)."""

    def __init__(self, A, c):
        self.A, self.c = A, c

    def _ks(self, rows):
        return range(len(self.A)) if rows is None else rows

    def loss(self, theta, rows=None):
        return float(np.mean([0.5 * (theta - self.c[k]) @ self.A[k] @ (theta - self.c[k]) for k in self._ks(rows)]))

    def grad(self, theta, rows=None):
        return np.mean([self.A[k] @ (theta - self.c[k]) for k in self._ks(rows)], axis=0)

    def hvp(self, theta, v, rows=None):
        return np.mean([self.A[k] @ v for k in self._ks(rows)], axis=0)


def random_quadratics(rng, m, p):
    """m random positive definite quadratics; batch k's curvature is scaled by k + 1 (heterogeneous batches,
    as the check needs) and the mean Hessian has spectral radius 1."""
    A = []
    for k in range(m):
        Q = rng.standard_normal((p, p))
        A.append((k + 1) * (Q @ Q.T / p + 0.1 * np.eye(p)))
    A = np.array(A) / np.max(np.linalg.eigvalsh(np.mean(A, axis=0)))
    return QuadraticBatches(A, 2 * rng.standard_normal((m, p)))


def affine_flow(M, b, theta0, t):
    """Exact solution of ``θ̇ = −(Mθ − b)``."""
    star = np.linalg.solve(M, b)
    return star + expm(-t * M) @ (theta0 - star)


@given(seed=seeds, p=st.integers(1, 6), T=st.floats(0.1, 3.0))
def test_integrate_flow_matches_matrix_exponential(seed, p, T):
    rng = np.random.default_rng(seed)
    q = random_quadratics(rng, 1, p)
    theta0 = rng.standard_normal(p)
    exact = affine_flow(q.A[0], q.A[0] @ q.c[0], theta0, T)
    np.testing.assert_allclose(integrate_flow(lambda th: -q.grad(th), theta0, T), exact, rtol=1e-11, atol=1e-12)


@given(seed=seeds, p=st.integers(1, 5))
def test_igr_orders_on_quadratics_by_closed_form(seed, p):
    """Oracle for the IGR claims: GD is (I − hA)^n, the flows are exp(−tA) and exp(−t(A + (h/2)A²))."""
    rng = np.random.default_rng(seed)
    q = random_quadratics(rng, 1, p)
    A, theta0, T = q.A[0], rng.standard_normal(p) + q.c[0], 1.0
    hs = 0.05 * 2.0 ** -np.arange(6)
    exact = {"one": {"plain": [], "igr": []}, "horizon": {"plain": [], "igr": []}}
    for h in hs:
        for key, n, t in (("one", 1, h), ("horizon", round(T / h), T)):
            gd_end = q.c[0] + np.linalg.matrix_power(np.eye(p) - h * A, n) @ (theta0 - q.c[0])
            for flow, M in (("plain", A), ("igr", A + h / 2 * A @ A)):
                exact[key][flow].append(np.linalg.norm(gd_end - affine_flow(M, M @ q.c[0], theta0, t)))
    expected = {"one": {"plain": 2, "igr": 3}, "horizon": {"plain": 1, "igr": 2}}
    for key in exact:
        for flow, errs in exact[key].items():
            assert abs(fit_loglog_slope(hs, errs).slope - expected[key][flow]) < 0.15
    # the package's engine reproduces the closed-form errors
    engine = step_size_errors(theta0, hs, lambda h: gd(q.grad, theta0, h, round(T / h))[-1],
                              lambda h: {"plain": lambda th: -q.grad(th),
                                         "igr": lambda th: -ml.igr_grad(q, th, h)}, lambda h: T)
    for flow in engine:
        np.testing.assert_allclose(engine[flow], exact["horizon"][flow], rtol=1e-6, atol=1e-12)


def epoch_mean_by_permutations(q, theta0, eps):
    """Oracle: the epoch map of each order as a product of affine maps, averaged over itertools.permutations."""
    p, ends = len(theta0), []
    for order in itertools.permutations(range(len(q.A))):
        theta = theta0.copy()
        for k in order:
            theta = (np.eye(p) - eps * q.A[k]) @ theta + eps * q.A[k] @ q.c[k]
        ends.append(theta)
    return np.mean(ends, axis=0)


@given(seed=seeds, p=st.integers(2, 4), m=st.integers(2, 5))
def test_sgd_epoch_mean_and_orders_on_quadratics(seed, p, m):
    """Oracle for the SGD claims: all flows are affine, so exact via expm; errors ≈ε², ≈ε², ≈ε³.

    p ≥ 2: in one dimension with two batches the O(ε²) coefficient of the GD-modified error,
    ¼(A1 − A2)(A1u1 − A2u2), vanishes on a hypersurface and near it the fitted slope is pre-asymptotic.
    Over 3000 random (seed, p, m) of this design all slopes stayed within 0.06 of their orders (band ±0.15)."""
    rng = np.random.default_rng(seed)
    q = random_quadratics(rng, m, p)
    theta0 = rng.standard_normal(p)
    epss = 0.004 * 2.0 ** -np.arange(6)
    A_bar, Ac = q.A.mean(axis=0), np.mean([A @ c for A, c in zip(q.A, q.c)], axis=0)
    A2, A2c = np.mean([A @ A for A in q.A], axis=0), np.mean([A @ A @ c for A, c in zip(q.A, q.c)], axis=0)
    errors = {"plain": [], "gd": [], "sgd": []}
    for eps in epss:
        mean = epoch_mean_by_permutations(q, theta0, eps)
        np.testing.assert_allclose(sgd_epoch_mean_over_orders(q, theta0, eps, [[k] for k in range(m)]), mean,
                                   rtol=1e-12, atol=1e-14)
        flows = {"plain": (A_bar, Ac),
                 "gd": (A_bar + eps / 2 * A_bar @ A_bar, Ac + eps / 2 * A_bar @ Ac),
                 "sgd": (A_bar + eps / 2 * A2, Ac + eps / 2 * A2c)}
        for name, (M, b) in flows.items():
            errors[name].append(np.linalg.norm(mean - affine_flow(M, b, theta0, m * eps)))
        # the package's SGD-modified gradient is the same affine field
        th = rng.standard_normal(p)
        np.testing.assert_allclose(ml.sgd_grad(q, th, eps, [[k] for k in range(m)]), flows["sgd"][0] @ th -
                                   flows["sgd"][1], rtol=1e-10, atol=1e-12)
    for name, order in (("plain", 2), ("gd", 2), ("sgd", 3)):
        assert abs(fit_loglog_slope(epss, errors[name]).slope - order) < 0.15, (name, errors[name])


@given(seed=seeds, beta=st.floats(0.0, 0.95), eta=st.floats(1e-4, 0.05), d=st.integers(1, 3))
def test_rmsprop_matches_torch_rmsprop(seed, beta, eta, d):
    """With δ = 0 and v0 = 0 this RMSProp is torch's (eps = 0, alpha = β)."""
    problem, _, theta0 = heterogeneous_batches_problem(3, 2, d, 2, 1, np.random.default_rng(seed))
    n = 25
    ours = rmsprop(problem.grad, theta0, eta, beta, 0.0, n, v0=np.zeros_like(theta0))
    t = torch.tensor(theta0, requires_grad=True)
    opt = torch.optim.RMSprop([t], lr=eta, alpha=beta, eps=0.0)
    for _ in range(n):
        opt.zero_grad()
        t.grad = torch.as_tensor(problem.grad(t.detach().numpy()))
        opt.step()
    # rounding differs by an ulp per operation (fused multiply-adds) and RMSProp amplifies it a little; a wrong
    # update order or δ placement would differ at O(η) ≥ 1e-4
    np.testing.assert_allclose(ours, t.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_rmsprop_cold_start_breaks_the_lag_corrected_flow():
    """The warm start v0 = g(θ0)² is a hypothesis of the slope test: from v0 = 0 an O(η) transient makes
    even the lag-corrected flow first-order (slope ≈1), so the test can fail when its hypothesis fails."""
    problem, _, theta0 = heterogeneous_batches_problem(4, 2, 3, 2, 1, np.random.default_rng(0))
    etas = 0.004 * 2.0 ** -np.arange(5)
    beta, delta = 0.9, 0.1

    def slope(v0):
        errs = step_size_errors(theta0, etas, lambda eta: rmsprop(problem.grad, theta0, eta, beta, delta,
                                                                   round(1 / eta), v0=v0),
                                lambda eta: {"lag": lambda th: ml.rmsprop_lag_corrected_field(
                                    problem, th, eta, beta, delta)}, lambda eta: 1.0)
        return fit_loglog_slope(etas, errs["lag"]).slope

    assert slope(None) == pytest.approx(2.0, abs=0.15)
    assert slope(np.zeros_like(theta0)) == pytest.approx(1.0, abs=0.15)


def test_heterogeneous_problem_is_normalized():
    from numerics.modified_flows import max_hessian_eigenvalue
    problem, _, theta0 = heterogeneous_batches_problem(3, 2, 3, 2, 2, np.random.default_rng(5), spread=2.0)
    assert max_hessian_eigenvalue(problem, theta0) == pytest.approx(1.0, rel=1e-12)
