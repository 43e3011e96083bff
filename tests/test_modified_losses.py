"""theory/modified_losses.py and the model derivatives of numerics/modified_flows.py against independent
oracles: torch autograd (float64) for every hand-derived gradient, sympy for the a² − b² identity, and
enumeration of all permutations for the partition average."""
import itertools
import math

import numpy as np
import pytest
import sympy
import torch
from hypothesis import given
from hypothesis import strategies as st

from numerics.modified_flows import TwoLayerLinearRegression, equal_partitions, heterogeneous_batches_problem
from theory import modified_losses as ml

dims = st.integers(1, 4)
seeds = st.integers(0, 2**32 - 1)


def problem_and_point(seed, d, hidden, k, n_batches=3, batch_size=2):
    rng = np.random.default_rng(seed)
    problem, batches, theta0 = heterogeneous_batches_problem(n_batches, batch_size, d, hidden, k, rng)
    return problem, batches, theta0 + 0.3 * rng.standard_normal(theta0.shape), rng


def torch_loss(problem: TwoLayerLinearRegression, theta: torch.Tensor, rows=None) -> torch.Tensor:
    """The same loss written directly in torch: autograd is the oracle for the hand-derived derivatives."""
    X = torch.as_tensor(problem.X if rows is None else problem.X[rows])
    Y = torch.as_tensor(problem.Y if rows is None else problem.Y[rows])
    d, k = X.shape[1], Y.shape[1]
    W1 = theta[:problem.hidden * d].reshape(problem.hidden, d)
    W2 = theta[problem.hidden * d:].reshape(k, problem.hidden)
    return 0.5 * ((X @ W1.T @ W2.T - Y) ** 2).sum() / X.shape[0]


def torch_grad(problem, theta, rows=None):
    return torch.autograd.grad(torch_loss(problem, theta, rows), theta, create_graph=True)[0]


def leaf(theta):
    return torch.tensor(theta, dtype=torch.float64, requires_grad=True)


def autograd_of(value_fn, theta):
    t = leaf(theta)
    return torch.autograd.grad(value_fn(t), t)[0].numpy()


@given(seed=seeds, d=dims, hidden=dims, k=dims)
def test_model_grad_and_hvp_match_autograd(seed, d, hidden, k):
    problem, batches, theta, rng = problem_and_point(seed, d, hidden, k)
    v = rng.standard_normal(theta.shape)
    for rows in (None, batches[1]):
        t = leaf(theta)
        g = torch_grad(problem, t, rows)
        hv = torch.autograd.grad(g @ torch.as_tensor(v), t)[0].numpy()
        assert problem.loss(theta, rows) == pytest.approx(torch_loss(problem, leaf(theta), rows).item(), rel=1e-12)
        np.testing.assert_allclose(problem.grad(theta, rows), g.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(problem.hvp(theta, v, rows), hv, rtol=1e-10, atol=1e-12)
    per_example = problem.per_example_grads(theta)
    np.testing.assert_allclose(per_example.mean(axis=0), problem.grad(theta), rtol=1e-10, atol=1e-13)


@given(seed=seeds, d=dims, hidden=dims, h=st.floats(1e-3, 0.5))
def test_igr_gradient_is_the_gradient_of_the_igr_loss(seed, d, hidden, h):
    problem, _, theta, _ = problem_and_point(seed, d, hidden, 1)

    def igr_loss_t(t):
        g = torch_grad(problem, t)
        return torch_loss(problem, t) + h / 4 * (g @ g)

    assert ml.igr_loss(problem, theta, h) == pytest.approx(igr_loss_t(leaf(theta)).item(), rel=1e-12)
    np.testing.assert_allclose(ml.igr_grad(problem, theta, h), autograd_of(igr_loss_t, theta),
                               rtol=1e-10, atol=1e-12)


@given(seed=seeds, d=dims, k=dims, m=st.integers(2, 4), eps=st.floats(1e-3, 0.5))
def test_sgd_gradient_is_the_gradient_of_the_sgd_loss(seed, d, k, m, eps):
    problem, batches, theta, _ = problem_and_point(seed, d, 2, k, n_batches=m)

    def sgd_loss_t(t):
        penalty = sum((g @ g) for g in (torch_grad(problem, t, rows) for rows in batches))
        return torch_loss(problem, t) + eps / (4 * m) * penalty

    np.testing.assert_allclose(ml.sgd_grad(problem, theta, eps, batches), autograd_of(sgd_loss_t, theta),
                               rtol=1e-10, atol=1e-12)
    # the two forms of Smith et al. agree for equal-size batches
    assert ml.sgd_loss(problem, theta, eps, batches) == pytest.approx(
        ml.sgd_loss_centered(problem, theta, eps, batches), rel=1e-12)
    assert ml.sgd_loss(problem, theta, eps, batches) == pytest.approx(sgd_loss_t(leaf(theta)).item(), rel=1e-12)


@given(seed=seeds, d=dims, eta=st.floats(1e-3, 0.1), delta=st.floats(1e-3, 1.0))
def test_frozen_preconditioner_field_is_minus_P_times_its_gradient(seed, d, eta, delta):
    problem, _, theta, _ = problem_and_point(seed, d, 2, 1)
    g = problem.grad(theta)
    P = torch.as_tensor(1 / np.sqrt(g * g + delta))  # frozen: a constant while differentiating

    def frozen_loss_t(t):
        gt = torch_grad(problem, t)
        return torch_loss(problem, t) + eta / 4 * (gt * P * gt).sum()

    assert ml.rmsprop_frozen_loss(problem, theta, eta, delta) == pytest.approx(
        frozen_loss_t(leaf(theta)).item(), rel=1e-12)
    np.testing.assert_allclose(ml.rmsprop_frozen_field(problem, theta, eta, delta),
                               -P.numpy() * autograd_of(frozen_loss_t, theta), rtol=1e-10, atol=1e-12)


@given(seed=seeds, d=dims, beta=st.floats(0.0, 0.99), delta=st.floats(1e-3, 1.0), eta=st.floats(1e-3, 0.1))
def test_lag_corrected_field_matches_its_derivation_by_autograd(seed, d, beta, delta, eta):
    """Backward error analysis, redone with autograd: the O(η) field must be ``F1 = c P diag(g²/(g² + δ)) w
    − ½ DF0·F0`` with ``F0 = −g/√(g² + δ)`` (DF0·F0 a torch jvp) and ``w = ∇‖∇C‖_{1,δ}`` (autograd)."""
    problem, _, theta, _ = problem_and_point(seed, d, 2, 1)
    c = beta / (1 - beta)
    g = problem.grad(theta)
    s = g * g + delta

    def F0(t):
        gt = torch_grad(problem, t)
        return -gt / torch.sqrt(gt * gt + delta)

    f0 = F0(leaf(theta)).detach()
    _, DF0_F0 = torch.autograd.functional.jvp(F0, leaf(theta), f0)
    w = autograd_of(lambda t: torch.sqrt(torch_grad(problem, t) ** 2 + delta).sum(), theta)
    F1 = c / np.sqrt(s) * (g * g / s) * w - 0.5 * DF0_F0.numpy()
    field = ml.rmsprop_lag_corrected_field(problem, theta, eta, beta, delta)
    np.testing.assert_allclose(field, f0.numpy() + eta * F1, rtol=1e-9, atol=1e-12)
    # the frozen-preconditioner field is a different first-order term whenever g is not ≪ √δ
    frozen = ml.rmsprop_frozen_field(problem, theta, eta, delta)
    assert np.linalg.norm(frozen - field) > 1e-6 * eta * np.linalg.norm(F1)


def test_ab_identity_symbolically():
    a, b, x, y, h = sympy.symbols("a b x y h", real=True)
    r = y - a * b * x
    a1, b1 = a + h * r * b * x, b + h * r * a * x  # one GD step on ½(y − abx)²
    E = (y - a * b * x) ** 2 / 2
    assert sympy.simplify(sympy.diff(E, a) + r * b * x) == 0 and sympy.simplify(sympy.diff(E, b) + r * a * x) == 0
    factor = ml.ab_gd_factor(a, b, x, y, h)
    assert sympy.expand(a1 ** 2 - b1 ** 2 - factor * (a ** 2 - b ** 2)) == 0
    # a wrong closed form is rejected by the same test
    assert sympy.expand(a1 ** 2 - b1 ** 2 - (1 - h * r ** 2 * x ** 2) * (a ** 2 - b ** 2)) != 0
    # gradient flow conserves a² − b²: d/dt (a² − b²) = 2a(r b x) − 2b(r a x) = 0
    assert sympy.expand(2 * a * (r * b * x) - 2 * b * (r * a * x)) == 0


def permutation_average(G, batch_size, eps):
    """Oracle: the mean of the SGD term over all N! orderings, each cut into consecutive batches."""
    n = G.shape[0]
    terms = [ml.sgd_term(G, np.array(p).reshape(n // batch_size, batch_size), eps)
             for p in itertools.permutations(range(n))]
    return float(np.mean(terms))


@given(seed=seeds, n_and_b=st.sampled_from([(4, 1), (4, 2), (6, 2), (6, 3), (6, 1)]), p=st.integers(1, 5),
       eps=st.floats(1e-3, 1.0))
def test_partition_average_against_all_permutations(seed, n_and_b, p, eps):
    n, B = n_and_b
    G = np.random.default_rng(seed).standard_normal((n, p)) * np.arange(1, n + 1)[:, None]
    oracle = permutation_average(G, B, eps)
    assert ml.partition_averaged_sgd_term(G, B, eps) == pytest.approx(oracle, rel=1e-12)
    parts = equal_partitions(n, B)
    assert np.mean([ml.sgd_term(G, q, eps) for q in parts]) == pytest.approx(oracle, rel=1e-12)
    # a wrong closed form (the with-replacement factor) is rejected for B > 1
    wrong = ml.partition_averaged_sgd_term(G, B, eps) / ml.partition_factor(n, B)  # (ε/4B)Γ
    if B > 1:
        assert abs(wrong - oracle) > 1e-6 * oracle


@given(n_and_b=st.sampled_from([(4, 2), (6, 2), (6, 3), (8, 2), (8, 4), (9, 3), (12, 4)]))
def test_equal_partitions_are_distinct_and_complete(n_and_b):
    n, B = n_and_b
    parts = equal_partitions(n, B)
    m = n // B
    assert len(parts) == math.factorial(n) // (math.factorial(B) ** m * math.factorial(m))
    canon = {tuple(sorted(tuple(sorted(block)) for block in q)) for q in parts.tolist()}
    assert len(canon) == len(parts)
    assert all(sorted(np.ravel(q)) == list(range(n)) for q in parts)


@given(g=st.lists(st.floats(-10, 10), min_size=1, max_size=6), beta=st.floats(0.01, 0.99),
       delta=st.floats(1e-6, 1.0))
def test_onenorm_coefficient_sign_rule(g, beta, delta):
    g = np.array(g)
    coef = ml.rmsprop_onenorm_coefficient(g, beta, delta)
    threshold = delta * (1 - beta) / (2 * beta)
    clear = np.abs(g * g - threshold) > 1e-9 * (threshold + g * g)
    assert np.array_equal((coef < 0)[clear], (g * g > threshold)[clear])
