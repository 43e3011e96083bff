"""Ten-class pattern search, random greedy search and Table 4's SGD (numerics.search_tenclass), on device="cpu"."""
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.datasets import digits_task
from numerics.lenet import LeNet, normalized_loss
from numerics.models import make_model, sample_prior
from numerics.normalized_losses import normalized_cross_entropy
from numerics.search_tenclass import ScaledLogits, accuracies, compare, objective_model, search, sgd

SEEDS = st.integers(0, 2 ** 31 - 1)
TEN = tuple(range(10))


@settings(max_examples=5)
@given(seed=SEEDS)
def test_scaled_logits_give_chiangs_lenet_loss_and_the_same_predictions(seed):
    g = torch.Generator().manual_seed(seed)
    model = LeNet(0.5, 10)
    theta = sample_prior(model, "uniform", 3, g)
    X = torch.randn(6, 784, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (6,), generator=g)
    target = objective_model(model, "frobenius")
    assert isinstance(target, ScaledLogits) and target.factor == 3.0 ** 5
    torch.testing.assert_close(normalized_cross_entropy(target, theta, X, y, "frobenius"), normalized_loss(model, theta, X, y))
    assert torch.equal(target(theta, X).argmax(-1), model(theta, X).argmax(-1))
    assert objective_model(model, "none") is model


@settings(max_examples=3)
@given(seed=SEEDS, method=st.sampled_from(["pattern_search", "random_greedy"]))
def test_searches_on_ten_classes_never_raise_the_objective(seed, method):
    ds = digits_task(TEN, 30, data_seed=seed % 5)
    model = make_model("mlp", 64, 10, width=16)
    X, y = torch.as_tensor(ds.X_train), torch.as_tensor(ds.y_train)
    g = torch.Generator().manual_seed(seed)
    start = sample_prior(model, "uniform", 3, torch.Generator().manual_seed(seed))
    res = search(method, model, X, y, 3, g, sweeps=1, steps=40, device="cpu")
    before = normalized_cross_entropy(model, start, X, y, "frobenius")
    after = normalized_cross_entropy(model, res.theta, X, y, "frobenius")
    assert (after <= before + 1e-12).all() and (after < before).any()


def test_table4_sgd_learns_ten_classes_far_above_chance():
    ds = digits_task(TEN, 100, data_seed=0)
    model = make_model("mlp", 64, 10, width=32)
    X, y = torch.as_tensor(ds.X_train), torch.as_tensor(ds.y_train)
    theta, steps, reason = sgd(model, X, y, torch.Generator().manual_seed(0), device="cpu")  # 400 epochs
    assert steps == 400 * 2 and reason == "max_steps"
    acc = accuracies(model, theta.unsqueeze(0), torch.as_tensor(ds.X_test), torch.as_tensor(ds.y_test))[0]
    assert acc > 0.5  # chance is 0.1


def test_compare_reports_every_method():
    ds = digits_task(TEN, 20, data_seed=1, n_test=100)
    model = make_model("mlp", 64, 10, width=8)
    out = compare(model, ds, 2, torch.Generator().manual_seed(0), sweeps=1, steps=20, sgd_epochs=5, device="cpu")
    assert set(out) == {"pattern_search", "random_greedy", "sgd"}
    for r in out.values():
        assert r.test_acc.shape == (2,) and np.all((0 <= r.test_acc) & (r.test_acc <= 1))
        assert np.array_equal(r.fitted, r.train_acc == 1.0)
