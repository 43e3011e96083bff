"""The gradient-flow reference: RK4's order measured (global error at a fixed horizon against the step, log-log
slope ≈ 4), the adaptive 1/S integration against a fine fixed-step one, and GD's polygon approaching the flow
at order 1 in η (the Euler method)."""
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.gradient_flow import PolygonDistance, TrailingAverage, gradient_flow, integrate_fixed
from numerics.models import MLP, sample_prior
from numerics.sharpness import full_gradient, loss_closure, sharpness
from verify.rules import fit_loglog_slope, slope_within


def tiny_problem(seed, n=12, d=3, width=5, classes=2):
    gen = torch.Generator().manual_seed(seed)
    model = MLP(d, [width], classes, "tanh")
    X = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=gen)
    theta = sample_prior(model, "torch_default", 1, gen, scale=2.0)[0]
    return loss_closure(model, X, y, "mse"), theta


def grad_of(f):
    return lambda th: full_gradient(f, th)[1]


STEPS = np.array([8, 16, 32, 64, 128])  # h·S₀ ≤ 0.5: the asymptotic range; the reference has 512 steps


def order_fit(errors, T):
    return fit_loglog_slope(T / STEPS, errors, level=0.99)


@settings(max_examples=3)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_rk4_global_error_has_order_four(seed):
    """Rule: the 99% CI of the fitted slope of log error vs log h lies in [3.7, 4.3] (error at t = T = 4/S₀
    against a 512-step solution, whose own error is ≤ (128/512)⁴ = 0.4% of the smallest one)."""
    f, theta = tiny_problem(seed)
    s0, _ = sharpness(f, theta, rng=np.random.default_rng(seed))
    T = 4.0 / s0
    ref = integrate_fixed(grad_of(f), theta, T, 512)
    errors = np.array([float((integrate_fixed(grad_of(f), theta, T, k) - ref).norm()) for k in STEPS])
    claim = slope_within("rk4_order", order_fit(errors, T), 3.7, 4.3)
    assert claim.verdict == "pass", (claim.test, errors)


def test_the_order_test_rejects_a_first_order_integrator():
    """The same fit on explicit Euler (order 1) must land outside the RK4 band: the order test can fail."""
    f, theta = tiny_problem(1)
    s0, _ = sharpness(f, theta, rng=np.random.default_rng(0))
    T = 4.0 / s0
    ref = integrate_fixed(grad_of(f), theta, T, 512)
    g = grad_of(f)

    def euler(k):
        th = theta.clone()
        for _ in range(k):
            th = th - (T / k) * g(th)
        return th

    errors = np.array([float((euler(k) - ref).norm()) for k in STEPS])
    assert slope_within("euler", order_fit(errors, T), 3.7, 4.3).verdict == "fail"


def test_adaptive_flow_has_order_four_in_its_step_factor():
    """RK4 with step c/S (S re-measured every 5 steps): halving c divides the error at t = 3 by ≈ 16 (local
    orders log2 of the ratios in [3.5, 4.5]), and at c = 1 (the reference's setting) the error is below 1% of
    the distance travelled."""
    f, theta = tiny_problem(2)
    fine = integrate_fixed(grad_of(f), theta, 3.0, 2000)
    travelled = float((fine - theta).norm())
    errors = []
    for c in (1.0, 0.5, 0.25):
        flow = gradient_flow(f, theta, rng=np.random.default_rng(0), max_time=3.0, step_factor=c,
                             sharpness_every=5, snapshot_every=4)
        assert flow.reason == "max_time" and abs(flow.time - 3.0) < 1e-12
        errors.append(float((flow.theta - fine).norm()))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all((3.5 <= orders) & (orders <= 4.5)), (errors, orders)
    assert errors[0] <= 1e-2 * travelled
    # the snapshots lie on the trajectory (the c = 0.25 run's, to its accuracy)
    t_mid, th_mid = flow.snapshots[len(flow.snapshots) // 2]
    assert float((integrate_fixed(grad_of(f), theta, t_mid, 1000) - th_mid).norm()) <= 2 * errors[-1] + 1e-12


def test_flow_stops_at_the_loss_goal_with_the_final_sharpness():
    f, theta = tiny_problem(3)
    start = f(theta).item()
    flow = gradient_flow(f, theta, rng=np.random.default_rng(0), loss_goal=0.5 * start)
    assert flow.reached_goal and flow.loss < 0.5 * start <= f(flow.snapshots[-2][1]).item() + 1e-12
    assert abs(flow.sharpness - sharpness(f, flow.theta, rng=np.random.default_rng(1))[0]) < 1e-8 * flow.sharpness


def test_gd_polygon_approaches_the_flow_at_order_one():
    """GD with step η is the Euler method: its polygon's distance to the flow at fixed times is O(η); rule:
    the 99.9% CI of the log-log slope of the largest distance against η lies in [0.8, 1.2]."""
    f, theta = tiny_problem(4)
    flow = gradient_flow(f, theta, rng=np.random.default_rng(0), max_time=5.0, step_factor=0.1, snapshot_every=10)
    g = grad_of(f)
    etas = np.array([0.02, 0.01, 0.005, 0.0025])
    worst = []
    for eta in etas:
        tracker = PolygonDistance(flow.snapshots, eta)
        th = theta.clone()
        for k in range(int(np.ceil(5.0 / eta)) + 1):
            tracker.update(k, th)
            th = th - eta * g(th)
        assert len(tracker.rows) == len(flow.snapshots) - 1  # every snapshot time t > 0 was reached
        worst.append(max(d for _, d in tracker.rows))
    assert slope_within("euler", fit_loglog_slope(etas, worst), 0.8, 1.2).verdict == "pass", worst


def test_trailing_average_keeps_the_last_m():
    avg = TrailingAverage(3)
    for k in range(5):
        avg.push(torch.tensor([float(k)]))
    assert len(avg) == 3 and avg.mean().item() == 3.0
