"""NNGP kernels (theory/nngp.py) against three oracles: closed forms (arc-cosine, erf's arcsine), the
one-dimensional quadrature of theory/width_theorem.py, and Monte Carlo over wide random networks.

Rules: deterministic identities to 1e-12 relative; quadrature to 1e-9 (the quadrature's own accuracy
contract, against scipy's adaptive quadrature, is in tests/test_accuracy.py); Monte Carlo kernels by z-tests
at 4.9 standard errors per entry with a Bonferroni-free bound (p ≈ 1e-6 per entry, ≤ 200 entries per run:
false-failure rate ≤ 2e-4); finite-width depth-2 kernels add a stated O(1/width) allowance.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erf

from numerics.datasets import digits_task
from numerics.errors import UserInputError as NumericsInputError
from numerics.models import MLP, sample_prior
from numerics.nngp_mc import first_layer_moment, prior_nngp_kernel
from theory.errors import UserInputError
from theory.nngp import activation_moment, nngp_kernel, quadrature_moment, relu_moment, sign_kernel
from theory.width_theorem import column_kernel, gaussian_moment_matrix

Z = 4.9


def random_cov(rng, d, scale=1.0):
    A = rng.normal(size=(d, d))
    return scale * A @ A.T / d + 0.05 * np.eye(d)


@settings(max_examples=10)
@given(seed=st.integers(0, 2 ** 32 - 1), d=st.integers(2, 6))
def test_arc_cosine_matches_the_width_theorems_quadrature(seed, d):
    C = random_cov(np.random.default_rng(seed), d, 3.0)
    ours = activation_moment("relu", C)
    theirs = gaussian_moment_matrix("leaky_relu:0", C)  # ReLU = leaky ReLU of slope 0, 1-D adaptive quadrature
    assert np.allclose(ours, theirs, rtol=1e-9, atol=1e-12)


@settings(max_examples=10)
@given(seed=st.integers(0, 2 ** 32 - 1), d=st.integers(2, 6), scale=st.floats(0.1, 2.0))
def test_hermite_quadrature_matches_erf_closed_form(seed, d, scale):
    C = random_cov(np.random.default_rng(seed), d, scale)
    q = np.diag(C)
    exact = 2 / np.pi * np.arcsin(2 * C / np.sqrt((1 + 2 * q[:, None]) * (1 + 2 * q[None, :])))
    assert np.allclose(quadrature_moment(erf, q[:, None], q[None, :], C), exact, atol=1e-9)


def test_tanh_moment_is_odd_and_reduces_to_the_variance_for_small_inputs():
    C = np.array([[1e-4, 5e-5], [5e-5, 2e-4]])
    assert np.allclose(activation_moment("tanh", C), C, rtol=1e-3)  # tanh(z) ≈ z near 0
    C2 = np.array([[1.0, -0.3], [-0.3, 1.0]])
    assert activation_moment("tanh", C2)[0, 1] < 0  # an odd φ keeps the sign of the correlation


def test_relu_moment_special_values():
    q = np.array(2.0)
    assert relu_moment(q, q, q) == pytest.approx(1.0)  # E relu(u)² = q/2
    assert relu_moment(q, q, np.array(0.0)) == pytest.approx(2.0 / (2 * np.pi))  # (E relu u)² = q/(2π)
    assert relu_moment(q, q, -q) == pytest.approx(0.0, abs=1e-15)


def test_linear_kernel_is_exact_product_of_variances():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 7))
    K = nngp_kernel(X, activation="linear", depth=3, prior="kaiming_normal", bias=False)
    assert np.allclose(K, 2.0 ** 4 * X @ X.T / 7)


@pytest.mark.parametrize("activation", ["linear", "relu"])
@pytest.mark.parametrize("depth", [1, 2])
def test_identity_inputs_give_the_width_theorems_column_kernel(activation, depth):
    """One-hot inputs make the MLP the factorization W_d σ(⋯σ(W_1)): the kernel must be the width theorem's
    K_∞ (up to the scale, which the two parametrizations fix differently and no sign sees)."""
    m = 6
    ours = nngp_kernel(np.eye(m), activation=activation, depth=depth, prior="gaussian", bias=False)
    theirs = column_kernel("linear" if activation == "linear" else "leaky_relu:0", depth + 1, m, 1, width=None)
    assert np.allclose(sign_kernel(ours), sign_kernel(theirs), rtol=1e-9)
    off = ours[~np.eye(m, dtype=bool)]
    assert np.allclose(off, off[0])  # a I + b 11ᵀ: no input is closer to another


def mc_kernel(model, prior, X, draws, gen, **kw):
    """Empirical E[f_0(x) f_0(x')] over ``draws`` random networks and the SE of each entry."""
    Xt = torch.as_tensor(X)
    prods = []
    for start in range(0, draws, 500):
        theta = sample_prior(model, prior, min(500, draws - start), gen, **kw)
        f = model(theta, Xt)[..., 0].numpy()
        prods.append(f[:, :, None] * f[:, None, :])
    prods = np.concatenate(prods)
    return prods.mean(0), prods.std(0, ddof=1) / np.sqrt(draws)


@settings(max_examples=4)
@given(seed=st.integers(0, 2 ** 32 - 1), prior=st.sampled_from(["gaussian", "kaiming_normal"]),
       activation=st.sampled_from(["relu", "tanh", "linear"]), bias=st.booleans(), width=st.sampled_from([16, 64]))
def test_depth_one_kernel_is_exact_at_any_width_for_gaussian_priors(seed, prior, activation, bias, width):
    X = digits_task((3, 8), 4, seed % 1000).X_train
    model = MLP(64, [width], 2, activation, bias)
    gen = torch.Generator().manual_seed(seed % 2 ** 62)
    est, se = mc_kernel(model, prior, X, 4000, gen, scale=1.0)
    K = nngp_kernel(X, activation=activation, depth=1, prior=prior, bias=bias, width=width)
    assert np.all(np.abs(est - K) <= Z * se), (est, K, se)


@settings(max_examples=3)
@given(seed=st.integers(0, 2 ** 32 - 1), prior=st.sampled_from(["uniform", "kaiming_uniform"]))
def test_prior_first_layer_kernel_matches_random_networks(seed, prior):
    """Uniform first layers are not Gaussian: the 'prior' first layer must match networks at any width."""
    X = digits_task((1, 7), 4, seed % 1000).X_train
    model = MLP(64, [32], 2, "relu", False)
    gen = torch.Generator().manual_seed(seed % 2 ** 62)
    est, se = mc_kernel(model, prior, X, 4000, gen)
    units_gen = torch.Generator().manual_seed((seed + 1) % 2 ** 62)
    K = prior_nngp_kernel(X, activation="relu", depth=1, prior=prior, bias=False, width=32, units=2 ** 18,
                          generator=units_gen)
    assert np.all(np.abs(est - K) <= Z * se + 5e-3 * np.abs(K))  # + the 2^18-unit kernel's own MC error


@settings(max_examples=3)
@given(seed=st.integers(0, 2 ** 32 - 1), activation=st.sampled_from(["relu", "tanh"]))
def test_depth_two_kernel_is_the_wide_network_limit(seed, activation):
    """Depth 2 at width 128: the empirical kernel approaches the NNGP up to O(1/width) (allowance 10/width
    relative, a generous multiple of the O(1/width) bias)."""
    X = digits_task((2, 5), 2, seed % 1000).X_train
    width = 128
    model = MLP(64, [width, width], 2, activation, True)
    gen = torch.Generator().manual_seed(seed % 2 ** 62)
    est, se = mc_kernel(model, "gaussian", X, 2000, gen, scale=1.5, bias_scale=0.3)
    K = nngp_kernel(X, activation=activation, depth=2, prior="gaussian", bias=True, scale=1.5, bias_scale=0.3)
    assert np.all(np.abs(est - K) <= Z * se + 10 / width * np.abs(K)), (est, K, se)


def test_limit_of_width_dependent_priors_drops_vanishing_biases():
    X = digits_task((0, 1), 4, 0).X_train
    K_lim = nngp_kernel(X, activation="relu", depth=2, prior="uniform", bias=True)
    K_wide = nngp_kernel(X, activation="relu", depth=2, prior="uniform", bias=True, width=10 ** 6)
    K_narrow = nngp_kernel(X, activation="relu", depth=2, prior="uniform", bias=True, width=4)
    assert np.allclose(sign_kernel(K_lim), sign_kernel(K_wide), rtol=1e-5)
    assert not np.allclose(sign_kernel(K_lim), sign_kernel(K_narrow), rtol=1e-3)


def test_first_layer_moment_needs_a_generator_for_non_gaussian_priors():
    with pytest.raises(NumericsInputError, match="generator"):
        first_layer_moment(np.ones((2, 3)), "uniform", "relu", False)
    with pytest.raises(UserInputError, match="first_moment"):  # the theory layer draws nothing
        nngp_kernel(np.ones((2, 3)), activation="relu", depth=1, prior="uniform", bias=False, first_layer="prior")


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(UserInputError, match="tanh"):
        nngp_kernel(np.ones((2, 3)), activation="tanh", depth=2, prior="uniform", bias=False)
    with pytest.raises(UserInputError, match="activation"):
        nngp_kernel(np.ones((2, 3)), activation="gelu", depth=1, prior="gaussian", bias=False)
    with pytest.raises(UserInputError, match="prior"):
        nngp_kernel(np.ones((2, 3)), activation="relu", depth=1, prior="cauchy", bias=False)


def test_theory_nngp_imports_nothing_from_numerics_or_verify():
    """The layers: theory/nngp.py (closed forms and the recursion) imports only theory/; the Monte Carlo first
    layer lives in numerics/nngp_mc.py."""
    import ast
    from pathlib import Path

    import theory.nngp
    tree = ast.parse(Path(theory.nngp.__file__).read_text())
    mods = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    mods |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not [m for m in mods if m.split(".")[0] in ("numerics", "verify")], mods


def test_prior_nngp_kernel_is_nngp_kernel_with_the_monte_carlo_first_moment():
    X = digits_task((1, 7), 4, 0).X_train
    gen = torch.Generator().manual_seed(3)
    K = prior_nngp_kernel(X, activation="tanh", depth=1, prior="torch_default", bias=True, units=4096, generator=gen)
    m = first_layer_moment(X, "torch_default", "tanh", True, units=4096, generator=torch.Generator().manual_seed(3))
    assert np.array_equal(K, nngp_kernel(X, activation="tanh", depth=1, prior="torch_default", bias=True,
                                         first_layer="prior", first_moment=m))
    # Gaussian priors have no Monte Carlo first layer: the 'prior' kernel is the Gaussian one
    assert np.array_equal(prior_nngp_kernel(X, activation="relu", depth=2, prior="gaussian", bias=False),
                          nngp_kernel(X, activation="relu", depth=2, prior="gaussian", bias=False))
