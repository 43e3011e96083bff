"""The real-network models (``numerics.models``) against torch.nn reference modules, and the priors' laws."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from numerics.errors import UserInputError
from numerics.models import (CNN, MLP, PRIORS, make_model, prior_law, prior_variances, sample_prior,
                             sample_prior_np)

SEEDS = st.integers(0, 2 ** 32 - 1)


def reference_mlp(model: MLP, theta: torch.Tensor) -> torch.nn.Module:
    layers = []
    for i, (W, b) in enumerate(model.layers(theta)):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], bias=b is not None, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(W)
            if b is not None:
                lin.bias.copy_(b)
        layers.append(lin)
        if i < len(model.widths):
            layers.append({"relu": torch.nn.ReLU(), "tanh": torch.nn.Tanh(), "linear": torch.nn.Identity()}[model.activation])
    return torch.nn.Sequential(*layers)


def reference_cnn(model: CNN, theta: torch.Tensor) -> torch.nn.Module:
    parts = model.split(theta)
    ws = parts[0::2] if model.bias else parts
    bs = parts[1::2] if model.bias else [None] * 4
    c1, c2 = model.channels, 2 * model.channels
    mods = [torch.nn.Conv2d(model.in_channels, c1, 3, padding=1, bias=model.bias, dtype=torch.float64),
            torch.nn.Conv2d(c1, c2, 3, padding=1, bias=model.bias, dtype=torch.float64),
            torch.nn.Linear(ws[2].shape[1], model.hidden, bias=model.bias, dtype=torch.float64),
            torch.nn.Linear(model.hidden, model.out_dim, bias=model.bias, dtype=torch.float64)]
    with torch.no_grad():
        for m, w, b in zip(mods, ws, bs):
            m.weight.copy_(w)
            if b is not None:
                m.bias.copy_(b)
    H, W = model.image_shape
    return torch.nn.Sequential(torch.nn.Unflatten(1, (model.in_channels, H, W)), mods[0], torch.nn.ReLU(),
                               torch.nn.MaxPool2d(2), mods[1], torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Flatten(), mods[2], torch.nn.ReLU(), mods[3])


@settings(max_examples=15)
@given(seed=SEEDS, widths=st.lists(st.integers(1, 12), min_size=1, max_size=3), out=st.integers(1, 4),
       activation=st.sampled_from(["relu", "tanh", "linear"]), bias=st.booleans(), B=st.integers(1, 4))
def test_mlp_matches_torch_nn(seed, widths, out, activation, bias, B):
    g = torch.Generator().manual_seed(seed)
    model = MLP(7, widths, out, activation, bias)
    theta = sample_prior(model, "gaussian", B, g)
    X = torch.randn(5, 7, generator=g, dtype=torch.float64)
    batched = model(theta, X)
    assert batched.shape == (B, 5, out)
    for b in range(B):
        ref = reference_mlp(model, theta[b])(X)
        torch.testing.assert_close(model(theta[b], X), ref, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(batched[b], ref, rtol=1e-12, atol=1e-12)


@settings(max_examples=8)
@given(seed=SEEDS, channels=st.integers(1, 3), hidden=st.integers(1, 8), out=st.integers(2, 3), bias=st.booleans(),
       B=st.integers(1, 3))
def test_cnn_matches_torch_nn(seed, channels, hidden, out, bias, B):
    g = torch.Generator().manual_seed(seed)
    model = CNN((8, 8), channels, hidden, out, bias)
    theta = sample_prior(model, "gaussian", B, g)
    X = torch.rand(4, 64, generator=g, dtype=torch.float64)
    batched = model(theta, X)
    for b in range(B):
        ref = reference_cnn(model, theta[b])(X)
        torch.testing.assert_close(model(theta[b], X), ref, rtol=1e-11, atol=1e-12)
        torch.testing.assert_close(batched[b], ref, rtol=1e-11, atol=1e-12)


def test_features_are_the_last_hidden_layer():
    model = MLP(5, [3, 4], 2)
    theta = sample_prior(model, "uniform", 2, torch.Generator().manual_seed(0))
    X = torch.rand(6, 5, dtype=torch.float64)
    W, b = model.layers(theta)[-1]
    torch.testing.assert_close(model(theta, X), torch.bmm(model.features(theta, X), W.transpose(1, 2)) + b.unsqueeze(1))


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_permute_outputs_relabels_the_logits(arch):
    model = make_model(arch, 64, 3, width=8, bias=True)
    theta = sample_prior(model, "uniform", 2, torch.Generator().manual_seed(1))
    X = torch.rand(5, 64, dtype=torch.float64)
    perm = [2, 0, 1]
    before, after = model(theta, X), model(model.permute_outputs(theta, perm), X)
    for c in range(3):
        torch.testing.assert_close(after[..., perm[c]], before[..., c])
    with pytest.raises(UserInputError):
        model.permute_outputs(theta, [0, 0, 1])


@pytest.mark.parametrize("prior", PRIORS)
def test_prior_block_laws_and_both_samplers(prior):
    """Per block: the sample's variance matches the stated law (z-test of the variance at level 1e-4,
    Bonferroni over blocks), the numpy sampler passes a KS test against the torch one, and the variances of
    ``prior_variances`` are the law's variance × fan_in."""
    model = MLP(10, [6], 2, bias=True)
    n = 4000
    a = sample_prior(model, prior, n, torch.Generator().manual_seed(0), scale=0.7).numpy()
    b = sample_prior_np(model, prior, n, np.random.default_rng(0), scale=0.7)
    i = 0
    variances = prior_variances(model, prior, scale=0.7)
    for blk in model.blocks:
        size = math.prod(blk.shape)
        kind, w = prior_law(blk, prior, 0.7)
        var = w ** 2 / 3 if kind == "uniform" else w ** 2
        xa, xb = a[:, i:i + size].ravel(), b[:, i:i + size].ravel()
        if var == 0:
            assert np.all(xa == 0) and np.all(xb == 0)
        else:
            kurt = 1.8 if kind == "uniform" else 3.0
            se = var * math.sqrt((kurt - 1) / xa.size)
            assert abs(xa.var() - var) < 4.5 * se and abs(xb.var() - var) < 4.5 * se
            assert stats.ks_2samp(xa[:4000], xb[:4000]).pvalue > 1e-4
            if kind == "uniform":
                assert np.abs(xa).max() <= w and np.abs(xb).max() <= w
        vw, vb = variances[blk.layer]
        assert (vb if blk.is_bias else vw / blk.fan_in) == pytest.approx(var)
        i += size


def test_make_model_and_bad_sizes():
    assert make_model("mlp", 64, 2, width=5, depth=3).widths == (5, 5, 5)
    cnn = make_model("cnn", 64, 2, width=16)
    assert (cnn.channels, cnn.hidden) == (2, 16)
    for kw, msg in [(dict(arch="rnn"), "unknown arch"), (dict(width=0), "width and depth"),
                    (dict(arch="cnn", in_dim=10), "cnn needs image inputs")]:
        args = {**dict(arch="mlp", in_dim=64, out_dim=2, width=4), **kw}
        with pytest.raises(UserInputError, match=msg):
            make_model(args.pop("arch"), args.pop("in_dim"), args.pop("out_dim"), **args)
    with pytest.raises(UserInputError, match="unknown prior"):
        sample_prior(MLP(2, [2], 2), "laplace", 1, torch.Generator())


# ----------------------------------------------------------------------------------------------------
# normalized losses (numerics.normalized_losses)
# ----------------------------------------------------------------------------------------------------
from numerics.normalized_losses import (frobenius_product, lipschitz_estimate, margin_gradients,  # noqa: E402
                                        normalized_cross_entropy)


def test_frobenius_product_is_the_product_of_weight_norms():
    model = MLP(5, [4, 3], 2, bias=True)
    theta = sample_prior(model, "uniform", 3, torch.Generator().manual_seed(0))
    manual = torch.ones(3, dtype=torch.float64)
    for W, _ in model.layers(theta):
        manual = manual * W.flatten(1).norm(dim=1)
    torch.testing.assert_close(frobenius_product(model, theta), manual)
    torch.testing.assert_close(frobenius_product(model, theta, divisor=3.0), manual / 27)


@settings(max_examples=8)
@given(seed=SEEDS, c1=st.floats(0.1, 10), c2=st.floats(0.1, 10))
def test_frobenius_normalized_loss_is_invariant_to_layer_scales_without_biases(seed, c1, c2):
    """Zero-bias ReLU nets are positively homogeneous per layer: logits and Π‖W_l‖ scale alike."""
    model = MLP(6, [5], 2, bias=False)
    g = torch.Generator().manual_seed(seed)
    theta = sample_prior(model, "gaussian", 2, g)
    X, y = torch.rand(7, 6, generator=g, dtype=torch.float64), torch.randint(0, 2, (7,), generator=g)
    scaled = theta.clone()
    scaled[:, :30] *= c1
    scaled[:, 30:] *= c2
    torch.testing.assert_close(normalized_cross_entropy(model, scaled, X, y, "frobenius"),
                               normalized_cross_entropy(model, theta, X, y, "frobenius"))


def test_lipschitz_estimate_matches_the_relu_closed_form():
    """One hidden ReLU layer: ∇_x (f_1 − f_0) = Σ_j (v_1j − v_0j) 1[z_j > 0] w_j."""
    model = MLP(4, [6], 2, bias=True)
    g = torch.Generator().manual_seed(3)
    theta = sample_prior(model, "uniform", 2, g)
    X = torch.rand(9, 4, generator=g, dtype=torch.float64)
    grads = margin_gradients(model, theta, X)
    (W1, b1), (W2, _) = model.layers(theta)
    for b in range(2):
        active = (X @ W1[b].T + b1[b] > 0).to(torch.float64)
        v = W2[b, 1] - W2[b, 0]
        torch.testing.assert_close(grads[b], (active * v) @ W1[b])
    torch.testing.assert_close(lipschitz_estimate(model, theta, X), grads.norm(dim=-1).amax(-1))


def test_prior_facts_live_in_theory_and_numerics_models_reexports_them():
    """The names and per-layer variances are theory (theory/mlp.py); numerics.models keeps its public names."""
    import theory.mlp
    from numerics import models
    from theory.errors import UserInputError as TheoryInputError
    assert models.PRIORS is theory.mlp.PRIORS and models.ACTIVATIONS is theory.mlp.ACTIVATIONS
    model = MLP(5, [7, 3], 2, "relu", True)
    theirs = theory.mlp.layer_variances("uniform", [5, 7, 3], True, scale=0.5)
    assert prior_variances(model, "uniform", scale=0.5) == theirs
    with pytest.raises(TheoryInputError, match="unknown prior"):  # no longer silently the gaussian prior
        prior_variances(model, "laplace")
