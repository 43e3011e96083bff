"""The optimizers of numerics.linear_optimizers against the closed forms of A1/A3 (property tests over
dimensions, batch schedules, step sizes and momentum), and the AdaGrad flow against an independent solve."""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from numerics import linear_optimizers as lo
from theory import which_minimizer as theory

seeds = st.integers(0, 2 ** 32 - 1)
dims = st.integers(2, 8).flatmap(lambda n: st.tuples(st.just(n), st.integers(n + 1, 3 * n)))
SCHEDULES = ["full", "reshuffled", "independent", "partitions", "fixed_order"]


def _problem(seed, n, p):
    rng = np.random.default_rng(seed)
    J, (theta0, f0, y) = lo.random_jacobian(n, p, rng), (rng.standard_normal(s) for s in (p, n, n))
    return rng, lo.LinearModel.from_linearization(J, f0, theta0, y), theta0, y - f0


def _schedule(kind, n, batch, rng):
    if kind == "full":
        return lo.full_batch(n)
    if kind == "reshuffled":
        return lo.reshuffled(n, batch, rng)
    if kind == "independent":
        return lo.independent_batches(n, batch, rng)
    if kind == "partitions":
        return lo.random_partitions(n, batch, rng)
    perm = rng.permutation(n)
    return lo.fixed_order([perm[k:k + batch] for k in range(0, n, batch)])


def _rel(a, b, theta0):
    return np.linalg.norm(a - b) / np.linalg.norm(b - theta0)


@given(seeds, dims, st.sampled_from(SCHEDULES), st.integers(1, 4), st.floats(0.0, 0.9), st.floats(0.1, 1.0),
       st.booleans())
def test_sgd_momentum_any_schedule_reaches_the_gd_limit(seed, dims, schedule, batch, beta, scale, random_steps):
    n, p = dims
    rng, model, theta0, r0 = _problem(seed, n, p)
    batch = min(batch, n)
    # every mini-batch Hessian is below the largest squared row norm; (1 − β)/that is stable with momentum
    base = scale * (1 - beta) / np.max(np.sum(model.J ** 2, axis=1))
    lr = (lambda t: base * rng.uniform(0.3, 1.0)) if random_steps else base
    res = lo.run(model, theta0, lo.HeavyBall(lr, momentum=beta), _schedule(schedule, n, batch, rng),
                 max_steps=400_000)
    assert res.converged, res
    assert _rel(res.theta, theory.gd_limit(model.J, r0, theta0), theta0) <= 1e-8


@given(seeds, dims, st.sampled_from(["full", "reshuffled"]))
def test_fixed_preconditioner_reaches_its_closed_form_not_gds(seed, dims, schedule):
    n, p = dims
    rng, model, theta0, r0 = _problem(seed, n, p)
    A = rng.standard_normal((p, p))
    P = A @ A.T / p + 0.2 * np.eye(p)
    lr = 0.5 / np.max(np.einsum("ij,jk,ik->i", model.J, P, model.J))
    res = lo.run(model, theta0, lo.HeavyBall(lr, precond=P), _schedule(schedule, n, 2, rng), max_steps=400_000)
    assert res.converged
    target = theory.preconditioned_limit(model.J, r0, theta0, P)
    assert _rel(res.theta, target, theta0) <= 1e-8
    assert _rel(res.theta, theory.gd_limit(model.J, r0, theta0), theta0) > 1e-6


@given(seeds, st.integers(2, 10), st.floats(0.05, 3.0))
def test_one_point_adagrad_reaches_the_sign_closed_form(seed, p, lr_factor):
    rng = np.random.default_rng(seed)
    j, theta0 = rng.standard_normal(p), rng.standard_normal(p)
    # |r0| >= 0.1: the error is relative to the displacement (∝ |r0|) while float64 rounding of θ0 sets an
    # absolute floor (~1e-16 ‖θ0‖ per step), so a tiny r0 (seen: 1.3e-4) would test rounding, not the limit
    r0 = float(rng.choice([-1, 1]) * rng.uniform(0.1, 2.0))
    model = lo.LinearModel.from_linearization(j[None, :], [0.0], theta0, [r0])
    res = lo.run(model, theta0, lo.AdaGrad(lr_factor * abs(r0) / np.abs(j).sum()), lo.full_batch(1),
                 rtol=1e-14, max_steps=400_000)
    assert res.converged
    assert _rel(res.theta, theory.adagrad_one_point_limit(j, r0, theta0), theta0) <= 1e-10


def test_wrong_one_point_closed_form_is_far_from_adagrad():
    """ℓ2 instead of ℓ1 normalization (GD's limit) misses AdaGrad's limit by far more than the tolerance."""
    rng = np.random.default_rng(3)
    j, theta0, r0 = rng.standard_normal(6), rng.standard_normal(6), 1.3
    model = lo.LinearModel.from_linearization(j[None, :], [0.0], theta0, [r0])
    res = lo.run(model, theta0, lo.AdaGrad(0.2), lo.full_batch(1), rtol=1e-14)
    wrong = theta0 + np.sign(j) * r0 / np.linalg.norm(j)  # the sign direction, wrong norm
    assert np.linalg.norm(res.theta - wrong) / np.linalg.norm(wrong - theta0) > 1e-2


@given(seeds, st.integers(2, 5))
def test_columns_are_independent_runs(seed, k):
    rng, model, theta0, _ = _problem(seed, 4, 9)
    b = np.column_stack([model.b + rng.standard_normal(4) for _ in range(k)])
    lrs = rng.uniform(0.01, 0.1, size=k)
    together = lo.run(lo.LinearModel(model.J, b), np.tile(theta0[:, None], k), lo.AdaGrad(lrs),
                      lo.full_batch(4), rtol=0.0, max_steps=300)
    for c in range(k):
        alone = lo.run(lo.LinearModel(model.J, b[:, c]), theta0, lo.AdaGrad(lrs[c]), lo.full_batch(4),
                       rtol=0.0, max_steps=300)
        np.testing.assert_allclose(together.theta[:, c], alone.theta, rtol=1e-12, atol=1e-12)


@given(seeds, st.integers(2, 9), st.integers(1, 4))
def test_epoch_schedules_visit_every_example_once(seed, n, batch):
    rng = np.random.default_rng(seed)
    for gen in (lo.reshuffled(n, batch, rng), lo.random_partitions(n, batch, rng)):
        for _ in range(3):
            seen = []
            while len(seen) < n:
                seen += list(next(gen))
            assert sorted(seen) == list(range(n))


def test_too_large_step_is_reported_as_divergence():
    _, model, theta0, _ = _problem(0, 3, 7)
    res = lo.run(model, theta0, lo.HeavyBall(5.0 / model.hessian_extremes()[0]), lo.full_batch(3))
    assert res.diverged and not res.converged


def _lsoda_flow_limit(model, theta0):
    """Oracle for adagrad_flow_limit: another integrator (LSODA), in t itself, run to a long horizon with no
    closed-form finish."""
    p, n = model.p, model.n
    g = lambda th: model.J.T @ (model.J @ th - model.b) / n  # noqa: E731
    t0 = 1e-12
    g0 = g(theta0)
    x0 = np.concatenate([theta0 - 2 * np.sqrt(t0) * np.sign(g0), g0 ** 2 * t0])
    sol = solve_ivp(lambda t, x: np.concatenate([-g(x[:p]) / np.sqrt(x[p:]), g(x[:p]) ** 2]), (t0, 400.0), x0,
                    method="LSODA", rtol=1e-12, atol=1e-14)
    return sol.y[:p, -1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adagrad_flow_limit_matches_an_independent_solve_and_small_lr_adagrad(seed):
    rng = np.random.default_rng(seed)
    model = lo.LinearModel(lo.random_jacobian(2, 4, rng), rng.standard_normal(2))
    theta0 = rng.standard_normal(4) / 2
    flow = lo.adagrad_flow_limit(model, theta0)
    scale = np.linalg.norm(theory.gd_limit(model.J, -model.residual(theta0), theta0) - theta0)
    assert np.linalg.norm(model.residual(flow)) <= 1e-10 * np.linalg.norm(model.residual(theta0))
    assert np.linalg.norm(flow - _lsoda_flow_limit(model, theta0)) / scale <= 1e-7
    # discrete AdaGrad approaches it as the learning rate falls
    dist = [np.linalg.norm(lo.run(model, theta0, lo.AdaGrad(lr * scale), lo.full_batch(2)).theta - flow) / scale
            for lr in (0.2, 0.05, 0.0125)]
    assert dist[0] > dist[1] > dist[2]


def test_mini_batch_order_moves_adagrad_but_not_sgd():
    rng = np.random.default_rng(7)
    model = lo.LinearModel(lo.random_jacobian(3, 7, rng), rng.standard_normal(3))
    theta0 = np.zeros(7)
    gd = theory.gd_limit(model.J, model.b, theta0)
    ada, sgd = [], []
    for order in itertools.permutations(range(3)):
        batches = [[i] for i in order]
        ada.append(lo.run(model, theta0, lo.AdaGrad(0.05), lo.fixed_order(batches)).theta)
        sgd.append(lo.run(model, theta0, lo.HeavyBall(0.5 / np.max(np.sum(model.J ** 2, 1))),
                          lo.fixed_order(batches)).theta)
    assert min(np.linalg.norm(a - b) for a, b in itertools.combinations(ada, 2)) > 1e-4
    assert max(np.linalg.norm(s - gd) for s in sgd) < 1e-10


@given(seeds, dims, st.floats(1.5, 10.0))
def test_random_jacobian_has_the_stated_singular_values(seed, dims, max_cond):
    n, p = dims
    s = np.linalg.svd(lo.random_jacobian(n, p, np.random.default_rng(seed), max_cond), compute_uv=False)
    assert s.min() >= 1 - 1e-12 and s.max() <= max_cond + 1e-12


@given(seed=seeds, dims=dims)
def test_init_scale_test_mse_matches_the_kernel_closed_forms(seed, dims):
    """The GD kernel of the A2 check: at every α the plain limit's test MSE is A + Bα + Cα² of the closed form
    (one init, so B ≠ 0), and centering and antisymmetric doubling both give A."""
    n, p = dims
    rng = np.random.default_rng(seed)
    J, Jt = lo.random_jacobian(n, p, rng), rng.standard_normal((5, p))
    g0, g0t, y, yt, theta0 = (rng.standard_normal(k) for k in (n, 5, n, 5, p))
    alphas = np.array([0.5, 1.0, 2.0])
    (plain, centered, doubled), ok = lo.init_scale_test_mse(J, Jt, g0, g0t, theta0, y, yt, alphas)
    c = theory.init_scale_coefficients(J, Jt, g0, g0t, y, yt)
    assert ok
    scale = c.A + c.C * alphas ** 2
    np.testing.assert_allclose(plain, c.A + c.B * alphas + c.C * alphas ** 2, rtol=0, atol=1e-8 * scale.max())
    np.testing.assert_allclose(centered, c.A, rtol=1e-8)
    np.testing.assert_allclose(doubled, c.A, rtol=1e-8)
