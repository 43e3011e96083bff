"""The modified fields of theory/implicit_regularizers.py against dense-Hessian formulas, their coefficient
limits, and the flow engine of numerics/real_flows.py (RK4 order, Richardson estimate, power iteration); the
slope tests themselves (pass at the prediction, fail at a wrong coefficient) are in
test_implicit_regularization_check.py."""
import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm

from numerics.models import MLP, sample_prior
from numerics.real_flows import full_batch_loss, reference_flow, rk4, top_hessian_eigenvalue
from theory import implicit_regularizers as ir
from theory.modified_losses import rmsprop_onenorm_coefficient


def tiny(seed, widths=(4,), n=10, d=3, classes=3, activation="tanh"):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=g)
    model = MLP(d, widths, classes, activation)
    theta = sample_prior(model, "torch_default", 1, g)[0]
    loss_fn = full_batch_loss(model, X, y, "ce")
    H = torch.autograd.functional.hessian(loss_fn, theta)
    g0 = ir.gradient(loss_fn, theta)[1]
    return loss_fn, theta, g0, H


@settings(max_examples=6)
@given(seed=st.integers(0, 2**32 - 1), h=st.floats(1e-3, 0.5), beta=st.floats(0.0, 0.95),
       widths=st.lists(st.integers(1, 5), min_size=1, max_size=2))
def test_heavy_ball_fields_equal_dense_formulas(seed, h, beta, widths):
    loss_fn, theta, g, H = tiny(seed % 10_000, tuple(widths))
    kappa = h * (1 + beta) / (4 * (1 - beta) ** 2)
    assert torch.allclose(ir.heavy_ball_plain_field(loss_fn, beta)(theta), -g / (1 - beta), rtol=1e-12)
    got = ir.heavy_ball_modified_field(loss_fn, h, beta)(theta)
    assert torch.allclose(got, -(g + 2 * kappa * H @ g) / (1 - beta), rtol=1e-10, atol=1e-14)


@settings(max_examples=6)
@given(seed=st.integers(0, 2**32 - 1), h=st.floats(1e-4, 0.1), b1=st.floats(0.0, 0.95), b2=st.floats(0.0, 0.999),
       log_eps=st.floats(-10, 1))
def test_adam_fields_equal_dense_formulas(seed, h, b1, b2, log_eps):
    loss_fn, theta, g, H = tiny(seed % 10_000)
    eps = 10.0 ** log_eps
    P = 1 / (g * g + eps).sqrt()
    c = b1 / (1 - b1) - b2 / (1 - b2) * g * g / (g * g + eps) + eps / (2 * (g * g + eps))
    assert torch.allclose(ir.adam_onenorm_coefficient(g, b1, b2, eps), c, rtol=1e-12)
    expected = -P * (g + h * c * (H @ (P * g)))
    assert torch.allclose(ir.adam_modified_field(loss_fn, h, b1, b2, eps)(theta), expected, rtol=1e-9, atol=1e-12)
    assert torch.allclose(ir.adam_plain_field(loss_fn, eps)(theta), -P * g, rtol=1e-12)


def test_adam_coefficient_limits_and_rmsprop_consistency():
    g = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    b1, b2 = 0.9, 0.999
    small = ir.adam_onenorm_coefficient(g, b1, b2, 1e-20)
    assert torch.allclose(small, torch.full_like(g, ir.adam_gradient_dominated_coefficient(b1, b2)), rtol=1e-12)
    assert ir.adam_gradient_dominated_coefficient(b1, b2) < 0 < ir.adam_gradient_dominated_coefficient(b2, b1)
    large = ir.adam_onenorm_coefficient(g, b1, b2, 1e20)
    assert torch.allclose(large, torch.full_like(g, b1 / (1 - b1) + 0.5), rtol=1e-12)
    # β₁ = 0 is the lag-corrected RMSProp coefficient of the modified_loss check
    for delta in (1e-3, 0.1, 10.0):
        assert np.allclose(ir.adam_onenorm_coefficient(g, 0.0, 0.8, delta).numpy(),
                           rmsprop_onenorm_coefficient(g.numpy(), 0.8, delta), rtol=1e-12)


def test_large_eps_adam_is_heavy_ball_at_the_effective_step():
    """√ε ≫ |g|: Adam with EMA momentum β and step h is heavy-ball with step h(1−β)/√ε up to the time scale
    (1−β): √ε·F_adam(h) ≈ (1−β)·F_hb(h(1−β)/√ε); both modified terms agree to O(g²/ε)."""
    loss_fn, theta, g, H = tiny(5)
    beta, h, eps = 0.6, 0.01, 1e8
    adam = ir.adam_modified_field(loss_fn, h, beta, 0.7, eps)(theta) * math.sqrt(eps)
    hb = ir.heavy_ball_modified_field(loss_fn, h * (1 - beta) / math.sqrt(eps), beta)(theta) * (1 - beta)
    assert torch.allclose(adam, hb, rtol=1e-6, atol=1e-12)


def test_rk4_order_and_richardson_estimate():
    A = torch.tensor([[-1.0, 2.0], [-2.0, -0.5]], dtype=torch.float64)
    x0 = torch.tensor([1.0, 0.5], dtype=torch.float64)
    T = 2.0
    exact = torch.as_tensor(expm(T * A.numpy()) @ x0.numpy())
    errors = [float((rk4(lambda x: A @ x, x0, T, n) - exact).norm()) for n in (16, 32, 64)]
    slopes = [math.log2(a / b) for a, b in zip(errors, errors[1:])]
    assert all(3.8 < s < 4.2 for s in slopes), slopes
    end, estimate = reference_flow(lambda x: A @ x, x0, T, 32)
    assert 0.7 < estimate / float((end - exact).norm()) < 1.3


def test_power_iteration_finds_the_top_hessian_eigenvalue():
    loss_fn, theta, g, H = tiny(3, (6,))
    top = float(torch.linalg.eigvalsh(H).abs().max())
    got = top_hessian_eigenvalue(loss_fn, theta, torch.Generator().manual_seed(0), iterations=2000, rtol=1e-12)
    assert math.isclose(got, top, rel_tol=1e-5)
