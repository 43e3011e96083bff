"""Tests of the gradient-descent baseline (numerics/gd_baseline.py).

The trainer is checked against an independent reference written here from the spec: a per-layer torch
autograd loop with its own forward pass and activations, applying heavy-ball momentum and the adaptive
("GroupRMSprop") step exactly as written in the spec. Statistical tests use n = 20 measurements: at the
paper's n = 15 about one Gaussian problem in ten violates RIP badly enough that GD from small
initialization lands on a poor interpolant (measured), which is a property of the problem, not of GD.
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from numerics.activations import parse_activation
from numerics.gd_baseline import (autograd_loss_and_gradients, end_to_end, gd_gen_vs_init_scale, initial_parameters,
                                  layer_shapes, manual_loss_and_gradients, split_layers, train_factorization)
from numerics.problems import random_problem
from verify.errors import UserInputError

ACTIVATIONS = ["linear", "tanh", "leaky_relu", "leaky_relu:0.1"]
seeds = st.integers(0, 2**32 - 1)


def small_problem(seed, m=3, mp=3, n=5):
    return random_problem(m, mp, 1, n, np.random.default_rng(seed))


def reference_sigma(name, h):
    """The activations written independently of numerics.activations."""
    act = parse_activation(name)
    if act.name == "linear":
        return h
    if act.name == "tanh":
        return torch.tanh(h)
    return torch.where(h > 0, h, act.slope * h)


def reference_loss(problem, layers, activation):
    h = layers[0]
    for W in layers[1:]:
        h = W @ reference_sigma(activation, h)
    A = torch.as_tensor(problem.A, dtype=torch.float64)
    y = torch.as_tensor(problem.y, dtype=torch.float64)
    predictions = (A * h).sum(dim=(1, 2))  # ⟨A_i, W⟩
    return ((predictions - y) ** 2).mean(), h


def reference_initialization(problem, width, depth, init_scale, seed):
    """The documented draw: one torch.randn over all entries, W_1 first, row-major, times init_scale."""
    m, mp = problem.shape
    shapes = layer_shapes(m, mp, width, depth)
    flat = init_scale * torch.randn(sum(r * c for r, c in shapes), generator=torch.Generator().manual_seed(seed),
                                    dtype=torch.float64)
    out, start = [], 0
    for r, c in shapes:
        out.append(flat[start:start + r * c].reshape(r, c).clone())
        start += r * c
    return out


def reference_trajectory(problem, *, width, depth, activation, init_scale, lr, steps, optimizer, momentum, seed):
    """Spec §1: b ← μ b + g; adaptive v ← 0.99 v + 0.01 ‖g‖², v̂ = v/(1 − 0.99^t), θ ← θ − lr/(√v̂ + 1e-6) b."""
    layers = reference_initialization(problem, width, depth, init_scale, seed)
    buffers = [torch.zeros_like(W) for W in layers]
    v = 0.0
    for t in range(1, steps + 1):
        leaves = [W.clone().requires_grad_() for W in layers]
        loss, _ = reference_loss(problem, leaves, activation)
        grads = torch.autograd.grad(loss, leaves)
        buffers = [momentum * b + g for b, g in zip(buffers, grads)]
        step = lr
        if optimizer == "adaptive":
            v = 0.99 * v + 0.01 * sum(float((g ** 2).sum()) for g in grads)
            step = lr / (math.sqrt(v / (1 - 0.99 ** t)) + 1e-6)
        layers = [W - step * b for W, b in zip(layers, buffers)]
    return reference_loss(problem, layers, activation)[1].numpy()


def train(problem, seed, **kwargs):
    options = dict(width=3, depth=2, activation="tanh", init_scale=0.5, lr=0.05, steps=20, optimizer="adaptive",
                   momentum=0.0, tol=0.0)
    options.update(kwargs)
    return train_factorization(problem, generator=torch.Generator().manual_seed(seed), **options)


@given(seed=seeds, m=st.integers(1, 4), mp=st.integers(1, 4), width=st.integers(1, 5), depth=st.integers(2, 5),
       activation=st.sampled_from(ACTIVATIONS))
def test_manual_gradients_match_autograd_and_finite_differences(seed, m, mp, width, depth, activation):
    rng = np.random.default_rng(seed)
    if m * mp < 2:
        mp = 2
    problem = random_problem(m, mp, 1, int(rng.integers(1, m * mp)), rng)
    act = parse_activation(activation)
    weights = [rng.standard_normal(shape) for shape in layer_shapes(m, mp, width, depth)]
    loss, grads = manual_loss_and_gradients(weights, act, problem.A_flat, problem.y)
    ref_loss, ref_grads = autograd_loss_and_gradients(weights, act, torch.from_numpy(problem.A_flat),
                                                      torch.from_numpy(problem.y))
    # the loss is exactly problem.train_loss of the end-to-end matrix
    leaves = [torch.from_numpy(W) for W in weights]
    independent_loss, W_end = reference_loss(problem, leaves, activation)
    np.testing.assert_allclose(loss, float(problem.train_loss(W_end.numpy())), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(loss, float(independent_loss), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12, atol=1e-14)
    scale = max(1.0, max(np.abs(g).max() for g in ref_grads))
    for g, ref in zip(grads, ref_grads):
        np.testing.assert_allclose(g, ref, rtol=1e-10, atol=1e-12 * scale)
    # central finite difference along a random unit direction
    direction = [rng.standard_normal(W.shape) for W in weights]
    norm = math.sqrt(sum(float((d ** 2).sum()) for d in direction))
    direction = [d / norm for d in direction]
    h = 1e-6
    plus = manual_loss_and_gradients([W + h * d for W, d in zip(weights, direction)], act, problem.A_flat, problem.y)[0]
    minus = manual_loss_and_gradients([W - h * d for W, d in zip(weights, direction)], act, problem.A_flat, problem.y)[0]
    predicted = sum(float((g * d).sum()) for g, d in zip(grads, direction))
    assert abs((plus - minus) / (2 * h) - predicted) <= 1e-6 * (1 + abs(predicted) + loss)


@settings(max_examples=10)
@given(seed=seeds, width=st.integers(1, 4), depth=st.integers(2, 4), activation=st.sampled_from(ACTIVATIONS),
       optimizer=st.sampled_from(["gd", "adaptive"]), momentum=st.sampled_from([0.0, 0.5, 0.9]))
def test_trainer_follows_the_reference_recursion(seed, width, depth, activation, optimizer, momentum):
    problem = small_problem(seed)
    lr = 0.05 if optimizer == "adaptive" else 0.2
    options = dict(width=width, depth=depth, activation=activation, init_scale=0.5, lr=lr, steps=15,
                   optimizer=optimizer, momentum=momentum)
    expected = reference_trajectory(problem, seed=seed, **options)
    for engine in ("manual", "autograd"):
        result = train(problem, seed, engine=engine, **options)
        assert result.steps == 15 and not result.converged and not result.diverged
        np.testing.assert_allclose(result.W, expected, rtol=1e-9, atol=1e-12)


@settings(max_examples=10)
@given(seed=seeds, optimizer=st.sampled_from(["gd", "adaptive"]), activation=st.sampled_from(ACTIVATIONS))
def test_momentum_is_applied(seed, optimizer, activation):
    problem = small_problem(seed)
    plain = train(problem, seed, optimizer=optimizer, activation=activation, lr=0.05, momentum=0.0)
    heavy = train(problem, seed, optimizer=optimizer, activation=activation, lr=0.05, momentum=0.9)
    # a buffer that is kept but never applied would leave the trajectory unchanged
    assert np.linalg.norm(heavy.W - plain.W) > 1e-3 * np.linalg.norm(plain.W)


@given(seed=seeds, lr=st.floats(1e-3, 0.1))
def test_adaptive_step_by_hand_on_a_tiny_problem(seed, lr):
    """Two updates of d = 2, k = 1 on a 1×2 problem, written out: θ1 = θ0 − lr g0/(‖g0‖ + 1e-6), then the
    bias-corrected EMA v̂2 = (0.99·0.01‖g0‖² + 0.01‖g1‖²)/(1 − 0.99²)."""
    problem = random_problem(1, 2, 1, 1, np.random.default_rng(seed))
    a, y = problem.A_flat[0], problem.y[0]
    theta0 = np.concatenate([W.numpy().ravel() for W in reference_initialization(problem, 1, 2, 0.7, seed)])

    def gradient(theta):  # W = w2 · (u1, u2), θ = (u1, u2, w2); L = (⟨a, W⟩ − y)²
        u, w2 = theta[:2], theta[2]
        r = w2 * (a @ u) - y
        return np.concatenate([2 * r * w2 * a, [2 * r * (a @ u)]])

    g0 = gradient(theta0)
    theta1 = theta0 - lr / (np.linalg.norm(g0) + 1e-6) * g0
    g1 = gradient(theta1)
    v2 = 0.99 * 0.01 * (g0 @ g0) + 0.01 * (g1 @ g1)
    theta2 = theta1 - lr / (math.sqrt(v2 / (1 - 0.99 ** 2)) + 1e-6) * g1
    for steps, theta in ((1, theta1), (2, theta2)):
        result = train(problem, seed, width=1, depth=2, activation="linear", init_scale=0.7, lr=lr, steps=steps)
        np.testing.assert_allclose(result.W.ravel(), theta[2] * theta[:2], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(np.concatenate([W.ravel() for W in result.weights]), theta, rtol=1e-10, atol=1e-14)


@settings(max_examples=10)
@given(seed=seeds, other=seeds, activation=st.sampled_from(ACTIVATIONS))
def test_same_seed_same_result_different_seed_different_result(seed, other, activation):
    problem = small_problem(seed)
    numpy_state, torch_state = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    first = train(problem, seed, activation=activation)
    second = train(problem, seed, activation=activation)
    assert np.array_equal(first.W, second.W) and np.array_equal(first.history_loss, second.history_loss)
    if other != seed:
        assert not np.allclose(train(problem, other, activation=activation).W, first.W)
    # the global generators are neither used nor reseeded
    assert np.array_equal(np.random.get_state()[1], numpy_state) and torch.equal(torch.get_rng_state(), torch_state)


@settings(max_examples=8)
@given(seed=seeds, width=st.sampled_from([5, 40]), activation=st.sampled_from(["linear", "tanh"]))
@example(seed=8830, width=5, activation="linear")  # this problem's GD interpolant sits at 0.19 x chance
def test_gd_generalizes_far_below_chance(seed, width, activation):
    """Rule: with the recommended width-sweep settings GD converges (L_train < 1e-6) on every problem, and on
    at least 8 of 10 problems drawn from the seed reaches L_gen < 0.05 × chance, chance = 1/m + ‖P⊥W*‖²/|B|.
    Not every problem: hypothesis found seed 8830 (linear, width 5), where GD interpolates at 0.19 × chance,
    as the depth check's GD runs show for a few problems too. Measured before on 400 problems: largest
    L_gen/chance 0.016 on all but such rare ones, so 3 of 10 failing is far in the tail."""
    rng = np.random.default_rng(seed)
    below = 0
    for i in range(10):
        problem = random_problem(5, 5, 1, 20, rng)
        chance = 1 / 5 + problem.unmeasured_truth_energy()
        result = train(problem, seed + i, width=width, activation=activation, init_scale=1e-3, lr=3e-3,
                       steps=5000, tol=1e-6)
        assert result.converged and result.train_loss < 1e-6
        below += result.gen_loss < 0.05 * chance
        assert result.history_steps[0] == 0 and result.history_steps[-1] == result.steps
        assert np.all(np.diff(result.history_steps) > 0)
        np.testing.assert_allclose(result.history_loss[-1], result.train_loss, rtol=1e-8)
    assert below >= 8, below


@settings(max_examples=5)
@given(seed=seeds)
def test_gen_loss_decreases_with_init_scale(seed):
    """Proposition 1 (d = 2, linear σ), helper defaults: L_gen(α = 1e-3) < 0.25 · L_gen(α = 0.3), same initial
    direction. Measured on 400 problems (m = m' = 5, r = 1, n = 20): ratio median 2e-5, 99th percentile 0.04,
    largest 0.07, so a false failure is very unlikely. (Between α = 0.1 and 1e-3 the ratio exceeded 0.1 on
    2 of 300 problems whose L_gen was already ~1e-4 of chance at α = 0.1: the decrease is a trend, not
    monotone on every problem.) An implementation that ignored α would give a ratio near 1."""
    problem = random_problem(5, 5, 1, 20, np.random.default_rng(seed))
    sweep = gd_gen_vs_init_scale(problem, 5, [0.3, 1e-3], generator=torch.Generator().manual_seed(seed))
    assert sweep.converged.all()
    assert sweep.gen_loss[1] < 0.25 * sweep.gen_loss[0]


def test_divergence_is_reported_not_raised():
    problem = small_problem(0)
    result = train(problem, 0, optimizer="gd", lr=1e3, init_scale=1.0, steps=500)
    assert result.diverged and not result.converged
    assert math.isnan(result.gen_loss) and not math.isfinite(result.train_loss)
    assert result.steps < 500


def test_early_stop_at_tolerance():
    problem = small_problem(1)
    result = train(problem, 1, activation="linear", lr=0.01, init_scale=0.1, steps=20_000, tol=1e-6)
    assert result.converged and result.train_loss < 1e-6 and result.steps < 20_000


BAD = [
    (dict(width=0), "width"), (dict(width=2.5), "width"), (dict(depth=1), "depth"), (dict(lr=0.0), "lr"),
    (dict(lr=-1.0), "lr"), (dict(lr=float("nan")), "lr"), (dict(steps=0), "steps"), (dict(init_scale=0.0), "init_scale"),
    (dict(init_scale=float("inf")), "init_scale"), (dict(momentum=1.0), "momentum"), (dict(momentum=-0.1), "momentum"),
    (dict(optimizer="adam"), "optimizer"), (dict(engine="jax"), "engine"), (dict(activation="relu"), "activation"),
    (dict(tol=-1.0), "tol"), (dict(init_scale="big"), "init_scale"), (dict(init="xavier"), "init"),
    (dict(device="tpu"), "device"),
]


@pytest.mark.parametrize("kwargs, word", BAD)
def test_bad_inputs_raise_one_line_user_errors(kwargs, word):
    with pytest.raises(UserInputError) as info:
        train(small_problem(0), 0, **kwargs)
    assert word in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("scales", [[], [0.1, 0.0], [float("nan")]])
def test_bad_init_scales_raise(scales):
    with pytest.raises(UserInputError):
        gd_gen_vs_init_scale(small_problem(0), 3, scales, generator=torch.Generator())


@settings(max_examples=5)
@given(seed=seeds, width=st.sampled_from([3, 50]))
def test_torch_default_initialization_is_pytorchs_layer_law_times_the_scale(seed, width):
    """U(±α/√fan_in) per layer, fan_in = columns (m' for W_1, k after): the range is respected and the first two
    moments match within 5 SE (E = 0, E x² = α²/(3 fan_in)); nn.Linear's own draws (same law, its own
    generator) match those moments too, so the two agree in law."""
    alpha, shapes = 0.3, layer_shapes(4, 3, width, 3)
    theta = initial_parameters(shapes, alpha, torch.Generator().manual_seed(seed), "torch_default")
    torch_layers = [torch.nn.Linear(c, r, bias=False).weight.detach().numpy().ravel() for r, c in shapes]
    for W, ref, (r, c) in zip(split_layers(theta, shapes), torch_layers, shapes):
        bound = alpha / math.sqrt(c)
        assert np.all(np.abs(W) <= bound)
        for x in (W.ravel() / bound, ref * math.sqrt(c)):  # both should be U(-1, 1)
            assert abs(x.mean()) <= 5 * math.sqrt(1 / 3 / x.size)
            assert abs((x ** 2).mean() - 1 / 3) <= 5 * math.sqrt(4 / 45 / x.size)


def test_torch_default_keeps_the_initial_product_from_growing_with_the_width():
    """With N(0, α²) entries ‖W_2 W_1‖ grows like √k; with the authors' law it does not (median over draws)."""
    def product_norm(init, k):
        shapes = layer_shapes(5, 5, k, 2)
        return np.median([np.linalg.norm(end_to_end(split_layers(initial_parameters(
            shapes, 1e-3, torch.Generator().manual_seed(s), init), shapes), parse_activation("linear")))
            for s in range(30)])
    gauss = product_norm("gaussian", 2000) / product_norm("gaussian", 20)
    default = product_norm("torch_default", 2000) / product_norm("torch_default", 20)
    assert 6 < gauss < 16  # √100 = 10
    assert 0.7 < default < 1.4


@settings(max_examples=5, suppress_health_check=[HealthCheck.function_scoped_fixture])  # device: not per-example
@given(seed=seeds, activation=st.sampled_from(ACTIVATIONS), momentum=st.sampled_from([0.0, 0.9]))
def test_every_device_follows_the_manual_trajectory(device, seed, activation, momentum):
    """The torch engine on each available device (the CPU here) starts from the same CPU draw and follows the
    manual engine's trajectory to rounding (not bit for bit across devices)."""
    problem = small_problem(seed)
    for init in ("gaussian", "torch_default"):
        manual = train(problem, seed, activation=activation, momentum=momentum, init=init)
        on_device = train(problem, seed, activation=activation, momentum=momentum, init=init, device=device,
                          engine="autograd")
        np.testing.assert_allclose(on_device.W, manual.W, rtol=1e-9, atol=1e-12)
        assert on_device.steps == manual.steps
