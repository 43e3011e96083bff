"""Sharpness by Lanczos against the dense Hessian on tiny networks; ∇S by finite differences against autograd
and against the derivative of the dense top eigenvalue (Hellmann–Feynman)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.models import MLP, sample_prior
from numerics.sharpness import (dense_hessian, full_gradient, hessian_operator, loss_closure, self_stabilization,
                                sharpness, sharpness_gradient, top_eigenpairs)


def tiny_problem(seed, n, d, width, classes, loss, activation="tanh"):
    gen = torch.Generator().manual_seed(seed)
    model = MLP(d, [width], classes, activation)
    X = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=gen)
    theta = sample_prior(model, "torch_default", 1, gen, scale=3.0)[0]
    return loss_closure(model, X, y, loss), theta


sizes = dict(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(3, 12), d=st.integers(2, 5), width=st.integers(2, 6),
             classes=st.integers(2, 3), loss=st.sampled_from(["mse", "ce"]))


@settings(max_examples=15)
@given(**sizes)
def test_lanczos_top_eigenvalues_equal_the_dense_hessian(seed, n, d, width, classes, loss):
    f, theta = tiny_problem(seed, n, d, width, classes, loss)
    H = dense_hessian(f, theta).numpy()
    dense = np.linalg.eigvalsh(H)[::-1]
    rng = np.random.default_rng(seed)
    vals, vecs = top_eigenpairs(f, theta, 2, rng=rng, tol=1e-12)
    scale = np.abs(dense).max()
    np.testing.assert_allclose(vals, dense[:2], rtol=0, atol=1e-9 * scale)
    # each returned vector is a unit eigenvector for its value
    for lam, v in zip(vals, vecs.T):
        assert abs(np.linalg.norm(v) - 1) < 1e-10
        assert np.linalg.norm(H @ v - lam * v) < 1e-6 * scale
    s, u = sharpness(f, theta, v0=vecs[:, 0], tol=1e-12)
    assert abs(s - dense[0]) <= 1e-9 * scale
    # the defaults the check uses (tol 1e-5, 8 Lanczos vectors, cold start): |λ_ritz − λ| <= ‖residual‖ <= tol·|λ|
    s_default, _ = sharpness(f, theta, rng=rng)
    assert abs(s_default - dense[0]) <= 1e-5 * scale


@settings(max_examples=10)
@given(**sizes)
def test_hessian_vector_products_equal_the_dense_hessian(seed, n, d, width, classes, loss):
    f, theta = tiny_problem(seed, n, d, width, classes, loss)
    H = dense_hessian(f, theta).numpy()
    v = np.random.default_rng(seed).standard_normal(theta.numel())
    np.testing.assert_allclose(hessian_operator(f, theta) @ v, H @ v, rtol=0, atol=1e-12 * np.abs(H).max() * np.abs(v).sum())


def third_derivative_autograd(f, theta, u):
    """∇_θ (uᵀ ∇²L(θ) u) with u fixed: ∇³L[u, u] by triple backprop (the oracle)."""
    th = theta.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(th), th, create_graph=True)
    (hu,) = torch.autograd.grad(g @ u, th, create_graph=True)
    (out,) = torch.autograd.grad(hu @ u, th)
    return out


@settings(max_examples=10)
@given(**sizes)
def test_sharpness_gradient_by_finite_differences_equals_autograd(seed, n, d, width, classes, loss):
    f, theta = tiny_problem(seed, n, d, width, classes, loss)
    _, u = sharpness(f, theta, rng=np.random.default_rng(seed), tol=1e-12)
    fd = sharpness_gradient(f, theta, u)
    exact = third_derivative_autograd(f, theta, torch.as_tensor(u))
    assert float((fd - exact).norm()) <= 1e-5 * max(float(exact.norm()), 1e-8)


@settings(max_examples=8)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_sharpness_gradient_is_the_derivative_of_the_top_eigenvalue(seed):
    """Hellmann–Feynman: d λ_max(θ + εv)/dε = ⟨∇³L[u, u], v⟩ for a simple top eigenvalue; checked by central
    differences of the dense top eigenvalue (an independent oracle)."""
    f, theta = tiny_problem(seed, 8, 3, 4, 2, "mse")
    H = dense_hessian(f, theta).numpy()
    w = np.linalg.eigvalsh(H)
    if w[-1] - w[-2] < 1e-3 * abs(w[-1]):  # nearly degenerate: λ_max is not differentiable enough to test
        return
    _, u = sharpness(f, theta, rng=np.random.default_rng(seed), tol=1e-12)
    grad_s = sharpness_gradient(f, theta, u)
    v = torch.as_tensor(np.random.default_rng(seed + 1).standard_normal(theta.numel()))
    v = v / v.norm()
    eps = 1e-5
    top = lambda th: np.linalg.eigvalsh(dense_hessian(f, th).numpy())[-1]  # noqa: E731
    numeric = (top(theta + eps * v) - top(theta - eps * v)) / (2 * eps)
    assert abs(float(grad_s @ v) - numeric) <= 1e-5 * max(float(grad_s.norm()), 1e-8)


def test_self_stabilization_sigma2_makes_the_sharpness_stationary():
    """σ² is the multiplier that keeps S constant along θ̇ = −∇L − ½σ²∇S (checked by moving a small step along
    that direction and re-measuring the dense top eigenvalue: dS/dt ≈ 0 there, but not along −∇L alone)."""
    f, theta = tiny_problem(3, 10, 3, 5, 2, "mse")
    out = self_stabilization(f, theta, rng=np.random.default_rng(0), tol=1e-12)
    g = full_gradient(f, theta)[1]
    grad_s = sharpness_gradient(f, theta, out["u"])
    top = lambda th: np.linalg.eigvalsh(dense_hessian(f, th).numpy())[-1]  # noqa: E731
    eps = 1e-5
    drift = -g - 0.5 * out["sigma2"] * grad_s
    rate_central = (top(theta + eps * drift) - top(theta - eps * drift)) / (2 * eps)
    rate_gf = (top(theta - eps * g) - top(theta + eps * g)) / (2 * eps)
    assert abs(rate_gf) > 1e-3
    assert abs(rate_central) <= 1e-4 * abs(rate_gf)
    assert out["lambda1"] >= out["lambda2"]


def test_a_start_vector_or_rng_is_required():
    f, theta = tiny_problem(0, 5, 2, 3, 2, "mse")
    with pytest.raises(ValueError, match="start vector"):
        top_eigenpairs(f, theta, 1)
    with pytest.raises(ValueError, match="k must be"):
        top_eigenpairs(f, theta, theta.numel(), rng=np.random.default_rng(0))


def test_sharpness_and_its_gradient_agree_on_every_device(device):
    """The same tiny problem on ``device`` (draws on the CPU, then moved) gives the CPU's numbers to rounding."""
    f, theta = tiny_problem(7, 10, 3, 4, 2, "mse")
    s_cpu, u = sharpness(f, theta, rng=np.random.default_rng(0), tol=1e-12)
    g_cpu = sharpness_gradient(f, theta, u)
    gen = torch.Generator().manual_seed(7)
    model = MLP(3, [4], 2, "tanh")
    X = torch.randn(10, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 2, (10,), generator=gen)
    theta_d = sample_prior(model, "torch_default", 1, gen, scale=3.0)[0].to(device)
    f_d = loss_closure(model, X.to(device), y.to(device), "mse")
    s_d, u_d = sharpness(f_d, theta_d, rng=np.random.default_rng(0), tol=1e-12)
    assert abs(s_d - s_cpu) <= 1e-10 * abs(s_cpu)
    g_d = sharpness_gradient(f_d, theta_d, u_d).cpu()  # even in u: the sign of the eigenvector does not matter
    assert float((g_d - g_cpu).norm()) <= 1e-6 * float(g_cpu.norm())
