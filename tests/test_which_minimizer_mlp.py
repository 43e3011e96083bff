"""numerics.linearized_mlp: the explicit Jacobian against a hand-derived two-layer formula and torch.func,
the jvp linearization, the sign-flip symmetry behind the init-scale law, and one GD step."""
import math

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.func import jacrev

from numerics.linearized_mlp import NTKMLP, sphere_regression_data, torch_generator

seeds = st.integers(0, 2 ** 32 - 1)
hidden = st.lists(st.integers(1, 7), min_size=1, max_size=3).map(tuple)


def _net_and_data(seed, d, n, widths, alpha=1.0):
    rng = np.random.default_rng(seed)
    X, y = sphere_regression_data(n, d, rng)
    net = NTKMLP(d, widths, alpha=alpha)
    return net, net.init(torch_generator(rng)), X, y


@given(seeds, st.integers(1, 5), st.integers(1, 6), st.integers(1, 9), st.floats(0.1, 4.0))
def test_two_layer_jacobian_matches_the_hand_derived_formula(seed, d, n, width, alpha):
    """∂f/∂W_k = α a_k 1[w_k·x > 0] x/√(M d), ∂f/∂a_k = α relu(w_k·x/√d)/√M (row-major W, then a)."""
    net, theta, X, _ = _net_and_data(seed, d, n, (width,), alpha)
    W, a, x = theta[: width * d].view(width, d).numpy(), theta[width * d:].numpy(), X.numpy()
    pre = x @ W.T / math.sqrt(d)
    dW = alpha * (a * (pre > 0))[:, :, None] * x[:, None, :] / math.sqrt(width * d)
    da = alpha * np.maximum(pre, 0) / math.sqrt(width)
    expected = np.hstack([dW.reshape(n, -1), da])
    np.testing.assert_allclose(net.jacobian(theta, X).numpy(), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(net(theta, X).numpy(), alpha * np.maximum(pre, 0) @ a / math.sqrt(width),
                               rtol=1e-12, atol=1e-14)


@given(seeds, st.integers(1, 4), st.integers(1, 5), hidden)
def test_deep_jacobian_matches_reverse_mode_and_jvp(seed, d, n, widths):
    net, theta, X, _ = _net_and_data(seed, d, n, widths, 1.3)
    J = net.jacobian(theta, X)
    np.testing.assert_allclose(J.numpy(), jacrev(lambda th: net(th, X))(theta).numpy(), rtol=1e-12, atol=1e-14)
    delta = torch.randn(net.n_params, generator=torch.Generator().manual_seed(seed % 2 ** 31), dtype=theta.dtype)
    np.testing.assert_allclose(net.linearized(theta, theta + delta, X).numpy(),
                               (net(theta, X) + J @ delta).numpy(), rtol=1e-12, atol=1e-13)


@given(seeds, st.integers(1, 4), st.integers(2, 6), hidden)
def test_last_layer_flip_negates_the_output_and_keeps_the_kernel(seed, d, n, widths):
    net, theta, X, _ = _net_and_data(seed, d, n, widths)
    flipped = net.flip_last_layer(theta)
    np.testing.assert_allclose(net(flipped, X).numpy(), -net(theta, X).numpy(), atol=1e-14)
    J, Jf = net.jacobian(theta, X), net.jacobian(flipped, X)
    np.testing.assert_allclose((Jf @ Jf.T).numpy(), (J @ J.T).numpy(), rtol=1e-12, atol=1e-13)
    assert torch.equal(net.flip_last_layer(flipped), theta)


def test_asymmetric_law_shifts_only_the_last_layer():
    net = NTKMLP(3, (5, 4))
    base = net.init(torch.Generator().manual_seed(1))
    shifted = net.init(torch.Generator().manual_seed(1), last_layer_mean=2.0)
    np.testing.assert_allclose((shifted - base).numpy(), np.r_[np.zeros(net.n_params - 4), 2.0 * np.ones(4)])


@given(seeds, st.floats(0.01, 1.0))
def test_one_gd_step_on_the_network_uses_the_jacobian(seed, lr):
    net, theta, X, y = _net_and_data(seed, 3, 5, (6,))
    J = net.jacobian(theta, X)
    expected = theta - lr * J.T @ (net(theta, X) - y) / len(y)
    np.testing.assert_allclose(net.train_gd(theta, X, y, lr, 1).numpy(), expected.numpy(), rtol=1e-12,
                               atol=1e-14)


def test_sphere_data_lies_on_the_sphere_and_init_is_reproducible():
    X, y = sphere_regression_data(50, 6, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(X.numpy(), axis=1), math.sqrt(6))
    np.testing.assert_allclose(y.numpy(), np.sin(X.numpy()[:, 0]))
    net = NTKMLP(6, (8,))
    a = net.init(torch_generator(np.random.default_rng(5)))
    b = net.init(torch_generator(np.random.default_rng(5)))
    assert torch.equal(a, b) and a.dtype == torch.float64
