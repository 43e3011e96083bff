"""The shared trainer: its update rules equal torch.optim's up to rounding over short runs (the long-run
rounding amplification is measured in tests/test_accuracy.py), the explicit penalty's gradient
is the derivative of C + (λ/4)‖∇C‖², mini-batches partition every epoch, the stop rules and callbacks do what
they say, bad arguments are one-line errors."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.errors import UserInputError
from numerics.models import MLP, sample_prior
from numerics.trainers import (LossGoal, Optimizer, batch_grad_norm, full_loss, loss_value, penalized_gradient,
                               train)


def problem(seed, widths=(5,), n=12, d=3, classes=3, activation="tanh", bias=True):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=g)
    model = MLP(d, widths, classes, activation, bias)
    theta = sample_prior(model, "torch_default", 1, g)[0]
    return model, theta, X, y


def torch_optim_run(model, theta0, X, y, make_optim, steps, loss="ce"):
    p = torch.nn.Parameter(theta0.clone())
    opt = make_optim([p])
    for _ in range(steps):
        opt.zero_grad()
        loss_value(loss, model(p, X), y).backward()
        opt.step()
    return p.detach()


CASES = {
    "sgd": (lambda lr, b1, b2: Optimizer("sgd", lr), lambda lr, b1, b2: (lambda ps: torch.optim.SGD(ps, lr=lr))),
    "heavy_ball": (lambda lr, b1, b2: Optimizer("heavy_ball", lr, momentum=b1),
                   lambda lr, b1, b2: (lambda ps: torch.optim.SGD(ps, lr=lr, momentum=b1))),
    "rmsprop": (lambda lr, b1, b2: Optimizer("rmsprop", lr, beta2=b2, eps=1e-8),
                lambda lr, b1, b2: (lambda ps: torch.optim.RMSprop(ps, lr=lr, alpha=b2, eps=1e-8))),
    "adam": (lambda lr, b1, b2: Optimizer("adam", lr, beta1=b1, beta2=b2, eps=1e-8),
             lambda lr, b1, b2: (lambda ps: torch.optim.Adam(ps, lr=lr, betas=(b1, b2), eps=1e-8))),
}


@settings(max_examples=12)
@given(seed=st.integers(0, 2**32 - 1), name=st.sampled_from(sorted(CASES)), lr=st.floats(1e-3, 0.2),
       b1=st.floats(0.0, 0.95), b2=st.floats(0.5, 0.999), loss=st.sampled_from(["ce", "mse"]))
def test_updates_equal_torch_optim(seed, name, lr, b1, b2, loss):
    model, theta, X, y = problem(seed % 1000)
    ours, theirs = CASES[name]
    steps = 7
    mine = train(model, theta, X, y, ours(lr, b1, b2), loss=loss, max_steps=steps).theta
    ref = torch_optim_run(model, theta, X, y, theirs(lr, b1, b2), steps, loss)
    assert torch.allclose(mine, ref, rtol=1e-10, atol=1e-12), float((mine - ref).abs().max())


def test_adam_options_follow_their_formulas():
    model, theta, X, y = problem(3)
    g = penalized_gradient(model, theta, X, y, "ce")[1]
    m0, s0 = 0.5 * g, 2.0 * g * g
    opt = Optimizer("adam", 0.01, beta1=0.6, beta2=0.7, eps=1e-3, bias_correction=False, eps_in_sqrt=True)
    got = train(model, theta, X, y, opt, max_steps=1, init_state={"m": m0, "s": s0}).theta
    m, s = 0.6 * m0 + 0.4 * g, 0.7 * s0 + 0.3 * g * g
    assert torch.allclose(got, theta - 0.01 * m / (s + 1e-3).sqrt(), rtol=1e-13, atol=1e-15)


def test_heavy_ball_init_velocity_is_the_steady_buffer():
    """v₋₁ = g₀/(1 − β) gives v₀ = βv₋₁ + g₀ = g₀/(1 − β): the first step is h g₀/(1 − β)."""
    model, theta, X, y = problem(4)
    g = penalized_gradient(model, theta, X, y, "ce")[1]
    beta, h = 0.7, 0.05
    got = train(model, theta, X, y, Optimizer("heavy_ball", h, momentum=beta), max_steps=1,
                init_velocity=g / (1 - beta)).theta
    assert torch.allclose(got, theta - h * g / (1 - beta), rtol=1e-13, atol=1e-15)
    same = train(model, theta, X, y, Optimizer("heavy_ball", h, momentum=beta), max_steps=1,
                 init_state={"v": g / (1 - beta)}).theta
    assert torch.equal(got, same)


@settings(max_examples=6)
@given(seed=st.integers(0, 2**32 - 1), lam=st.floats(0.05, 2.0))
def test_penalty_gradient_is_the_derivative_of_the_penalized_loss(seed, lam):
    model, theta, X, y = problem(seed % 1000, widths=(4, 3))

    def penalized(th):
        t = th.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(loss_value("ce", model(t, X), y), t)
        return float(loss_value("ce", model(th, X), y)) + lam / 4 * float(g.pow(2).sum())

    _, _, grad = penalized_gradient(model, theta, X, y, "ce", lam)
    u = torch.randn(theta.shape, generator=torch.Generator().manual_seed(seed % 997), dtype=torch.float64)
    e = 1e-5
    fd = (penalized(theta + e * u) - penalized(theta - e * u)) / (2 * e)
    assert math.isclose(fd, float(grad @ u), rel_tol=1e-6, abs_tol=1e-9)


@settings(max_examples=8)
@given(seed=st.integers(0, 2**32 - 1), widths=st.lists(st.integers(1, 6), min_size=1, max_size=3),
       n=st.integers(4, 20), batch=st.integers(1, 8), activation=st.sampled_from(["tanh", "relu", "linear"]),
       bias=st.booleans())
def test_minibatches_partition_each_epoch_and_batch_norms_are_free(seed, widths, n, batch, activation, bias):
    batch = min(batch, n - 1)  # batch_size >= n is full-batch GD
    model, theta, X, y = problem(seed % 1000, tuple(widths), n=n, activation=activation, bias=bias)
    seen = {}

    def watch(state):
        if state.batch is not None:
            seen.setdefault(state.epoch, []).extend(state.batch.tolist())
            Xb, yb = X[state.batch], y[state.batch]
            direct = penalized_gradient(model, state.theta, Xb, yb, "ce")[1].pow(2).sum()
            row = batch_grad_norm(state)
            assert math.isclose(row["batch_grad_sq"], float(direct), rel_tol=1e-12, abs_tol=1e-300)
        return None

    steps_per_epoch = -(-n // batch)
    train(model, theta, X, y, Optimizer("sgd", 0.01), max_steps=3 * steps_per_epoch, batch_size=batch,
          generator=torch.Generator().manual_seed(seed % 991), callbacks=(watch,))
    assert sorted(seen) == [0, 1, 2]
    for rows in seen.values():
        assert sorted(rows) == list(range(n))


def test_loss_goal_average_is_the_mean_of_the_last_epoch():
    model, theta, X, y = problem(5, n=16)
    thetas = []
    goal = LossGoal(model, X, y, "ce", goal=10.0, average=True)  # met at the first epoch boundary
    res = train(model, theta, X, y, Optimizer("sgd", 0.1), max_steps=100, batch_size=4,
                generator=torch.Generator().manual_seed(1), stop=goal,
                callbacks=(lambda s: thetas.append(s.theta.clone()),))
    assert res.reason == "goal" and goal.step == 4
    assert torch.allclose(goal.theta, torch.stack(thetas[:4]).mean(0), rtol=1e-13)
    assert math.isclose(goal.loss_at_stop, full_loss(model, goal.theta, X, y, "ce"))


def test_loss_goal_raw_iterate_and_no_duplicate_final_row():
    model, theta, X, y = problem(6)
    start = full_loss(model, theta, X, y, "ce")
    goal = LossGoal(model, X, y, "ce", goal=0.9 * start)
    res = train(model, theta, X, y, Optimizer("gd", 0.5), max_steps=10_000, stop=goal,
                callbacks=(lambda s: {"theta_l2": float(s.theta.norm())},))
    assert res.reason == "goal" and full_loss(model, res.theta, X, y, "ce") <= 0.9 * start
    steps = [h["step"] for h in res.history]
    assert len(steps) == len(set(steps)) and steps[-1] == res.steps
    unmet = LossGoal(model, X, y, "ce", goal=-1.0)
    assert train(model, theta, X, y, Optimizer("gd", 0.1), max_steps=5, stop=unmet).reason == "max_steps"
    assert unmet.theta is None


def test_bad_arguments_are_one_line_errors():
    model, theta, X, y = problem(7)
    with pytest.raises(UserInputError, match="unknown optimizer"):
        Optimizer("lbfgs")
    with pytest.raises(UserInputError, match="init_state key"):
        train(model, theta, X, y, Optimizer("sgd"), max_steps=1, init_state={"v": theta})
    with pytest.raises(UserInputError, match="penalty"):
        train(model, theta, X, y, Optimizer("sgd"), max_steps=1, penalty=-1.0)
    with pytest.raises(UserInputError, match="generator"):
        train(model, theta, X, y, Optimizer("sgd"), max_steps=1, batch_size=2)
