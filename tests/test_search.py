"""Pattern search and random greedy search (``numerics.search``), and the SGD protocols (``numerics.protocols``)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.datasets import digits_task
from numerics.errors import UserInputError
from numerics.gnc_classifier import margins
from numerics.models import make_model, sample_prior
from numerics.normalized_losses import normalized_cross_entropy
from numerics.protocols import PELEG_HEIN, poisoned_run, run_protocol
from numerics.search import pattern_search, random_greedy


def _task(n=4, pair=(0, 1)):
    ds = digits_task(pair, n, data_seed=0)
    return torch.as_tensor(ds.X_train), torch.as_tensor(ds.y_train), ds


@settings(max_examples=4)
@given(seed=st.integers(0, 2 ** 32 - 1), arch=st.sampled_from(["mlp", "cnn"]), bias=st.booleans(),
       method=st.sampled_from(["pattern", "greedy"]))
def test_search_never_raises_the_objective_and_stops_at_a_fit(seed, arch, bias, method):
    X, y, _ = _task(4, (3, 5))
    model = make_model(arch, 64, 2, width=8, bias=bias)
    g = torch.Generator().manual_seed(seed)
    theta0 = sample_prior(model, "uniform", 3, g)
    start = normalized_cross_entropy(model, theta0, X, y, "frobenius")
    if method == "pattern":
        res = pattern_search(model, X, y, theta0, g, max_sweeps=1)
    else:
        res = random_greedy(model, X, y, theta0, g, max_steps=40)
    assert torch.all(res.loss <= start + 1e-12)
    torch.testing.assert_close(res.loss, normalized_cross_entropy(model, res.theta, X, y, "frobenius"))
    fits = (margins(model, res.theta, X, y) > 0).all(-1)
    assert torch.equal(fits, res.fitted)  # fitted means 100 % training accuracy, and runs stop there
    already = (margins(model, theta0, X, y) > 0).all(-1)
    assert torch.all(res.steps[already] == 0) and torch.equal(res.theta[already], theta0[already])


@pytest.mark.parametrize("search", [pattern_search, random_greedy])
def test_search_fits_an_easy_task(search):
    X, y, _ = _task(4, (0, 1))
    model = make_model("mlp", 64, 2, width=16)
    g = torch.Generator().manual_seed(0)
    res = search(model, X, y, sample_prior(model, "uniform", 6, g), g)
    assert res.fitted.sum() >= 5


def test_search_respects_a_loss_bin():
    X, y, _ = _task(4, (0, 1))
    model = make_model("mlp", 64, 2, width=8)
    g = torch.Generator().manual_seed(1)
    res = random_greedy(model, X, y, sample_prior(model, "uniform", 4, g), g, loss_bin=(0.6, 0.68), max_steps=300)
    assert torch.all((res.loss[res.fitted] > 0.6) & (res.loss[res.fitted] <= 0.68))


def test_search_bad_arguments():
    X, y, _ = _task(4)
    model = make_model("mlp", 64, 2, width=4)
    theta = sample_prior(model, "uniform", 1, torch.Generator())
    with pytest.raises(UserInputError):
        pattern_search(model, X, y, theta, torch.Generator(), r0=0)
    with pytest.raises(UserInputError):
        random_greedy(model, X, y, theta, torch.Generator(), candidates=0)


def test_protocols_fit_and_freeze():
    X, y, _ = _task(8, (0, 1))
    model = make_model("mlp", 64, 2, width=16)
    run = run_protocol(model, X, y, "chiang", torch.Generator().manual_seed(0))
    assert run.fitted and run.reason == "fit"
    assert (margins(model, run.theta, X, y) > 0).all()  # frozen the moment it fits
    ph = run_protocol(model, X, y, PELEG_HEIN, torch.Generator().manual_seed(0))
    assert ph.steps == PELEG_HEIN.epochs * 4 and ph.fitted  # full budget, 60 epochs of batch 2


def test_poisoned_sgd_fits_flipped_points_and_generalizes_worse():
    """Chiang et al.'s Table 1 control: interpolating minima that fit flipped held-out points exist."""
    ds = digits_task((0, 1), 48, data_seed=0)
    X, y = torch.as_tensor(ds.X_train), torch.as_tensor(ds.y_train)
    Xt, yt = torch.as_tensor(ds.X_test), torch.as_tensor(ds.y_test)
    model = make_model("mlp", 64, 2, width=32)
    clean, poisoned = [], []
    for r in range(3):
        c = run_protocol(model, X[:8], y[:8], "chiang", torch.Generator().manual_seed(r))
        p = poisoned_run(model, X[:8], y[:8], X[8:48], y[8:48], torch.Generator().manual_seed(r))
        assert c.fitted and p.fitted
        assert (margins(model, p.theta, X[8:48], (y[8:48] + 1) % 2) > 0).all()  # the poison is fit
        clean.append(float((margins(model, c.theta, Xt, yt) > 0).double().mean()))
        poisoned.append(float((margins(model, p.theta, Xt, yt) > 0).double().mean()))
    assert np.mean(poisoned) < np.mean(clean) - 0.2
