"""Per-mini-batch regularizers: R equals a direct per-example computation over architectures and batch
sizes, the project's RMSProp term is exactly ηP/4 with the matched preconditioner, the callback records what
it says."""
import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.models import MLP, sample_prior
from numerics.regularizers import (batch_gradients, fixed_partition, full_gradient, perturbed_one_norm,
                                   project_rmsprop_constant, project_rmsprop_term, regularizer_callback,
                                   sgd_regularizer)
from numerics.trainers import Optimizer, loss_value, train


def setup(seed, widths, n, activation="tanh", bias=True, d=4, classes=3):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=g)
    model = MLP(d, widths, classes, activation, bias)
    return model, sample_prior(model, "torch_default", 1, g)[0], X, y, g


def per_example_gradients(model, theta, X, y, loss):
    rows = []
    for i in range(X.shape[0]):
        th = theta.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(loss_value(loss, model(th, X[i:i + 1]), y[i:i + 1]), th)
        rows.append(g)
    return torch.stack(rows)


@settings(max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), widths=st.lists(st.integers(1, 7), min_size=1, max_size=3),
       n=st.integers(2, 24), batch=st.integers(1, 10), activation=st.sampled_from(["tanh", "relu", "linear"]),
       bias=st.booleans(), loss=st.sampled_from(["ce", "mse"]))
def test_sgd_regularizer_equals_direct_per_example_computation(seed, widths, n, batch, activation, bias, loss):
    model, theta, X, y, g = setup(seed % 10_000, tuple(widths), n, activation, bias)
    batches = fixed_partition(n, batch, g)
    assert sorted(torch.cat(batches).tolist()) == list(range(n))
    G = per_example_gradients(model, theta, X, y, loss)
    direct = sum(float(G[b].mean(0).pow(2).sum()) for b in batches) / len(batches)
    B = batch_gradients(model, theta, X, y, loss, batches)
    assert math.isclose(sgd_regularizer(B), direct, rel_tol=1e-10, abs_tol=1e-300)
    assert torch.allclose(full_gradient(B, batches), G.mean(0), rtol=1e-10, atol=1e-14)


def test_project_term_is_eta_p_over_4_with_the_matched_preconditioner():
    """With s_i = 1/√((1/m)Σ_k (∂_iC_k)²) the mean of ‖s ⊙ ∇C_k‖² is exactly P: the term is ηP/4 whatever
    the network; with s = 1 it is (η/4)R."""
    model, theta, X, y, g = setup(1, (6, 5), 30)
    batches = fixed_partition(30, 7, g)
    B = batch_gradients(model, theta, X, y, "ce", batches)
    s = 1.0 / B.pow(2).mean(0).sqrt()
    lr = 0.003
    assert math.isclose(project_rmsprop_term(B, s, lr), project_rmsprop_constant(model.n_params, lr), rel_tol=1e-12)
    assert math.isclose(project_rmsprop_term(B, torch.ones_like(s), lr), lr / 4 * sgd_regularizer(B), rel_tol=1e-12)


def test_perturbed_one_norm():
    g = torch.tensor([3.0, -4.0, 0.0], dtype=torch.float64)
    assert math.isclose(perturbed_one_norm(g, 0.0), 7.0)
    assert math.isclose(perturbed_one_norm(g, 1.0), math.sqrt(10) + math.sqrt(17) + 1.0)


def test_callback_records_the_project_term_with_the_optimizers_state():
    model, theta, X, y, g = setup(2, (5,), 20)
    batches = fixed_partition(20, 5, g)
    opt = Optimizer("rmsprop", 0.01, beta2=0.9)
    seen = []
    cb = regularizer_callback(model, X, y, "ce", batches, opt, X_test=X, y_test=y)
    res = train(model, theta, X, y, opt, max_steps=6, batch_size=5, generator=g,
                callbacks=(cb, lambda s: seen.append((s.theta.clone(), {k: v.clone() if torch.is_tensor(v) else v
                                                                       for k, v in s.optimizer_state.items()}))))
    last = [h for h in res.history if "project_rmsprop_term" in h][-1]
    theta_last, state = seen[-1]
    B = batch_gradients(model, theta_last, X, y, "ce", batches)
    expected = 0.01 / 4 * (B / (state["s"].sqrt() + opt.eps)).pow(2).sum(1).mean()
    assert math.isclose(last["project_rmsprop_term"], float(expected), rel_tol=1e-12)
    assert {"R", "train_error", "test_error", "grad_one_norm_eps", "theta_l2"} <= set(last)
    assert "project_rmsprop_term" not in res.history[0]  # no state yet at step 0
