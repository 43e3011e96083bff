"""LeNet-w (numerics.lenet): the batched pure function against torch.nn modules with the same parameters, the
parameter layout and priors, Chiang et al.'s normalized loss, and the float32 round-off that the fast G&C's
borderline band (numerics.gnc_lenet.BAND) relies on."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.errors import UserInputError
from numerics.gnc_classifier import margins_of_logits
from numerics.gnc_lenet import BAND
from numerics.lenet import LeNet, lenet_channels, normalized_loss, unit_roundoff
from numerics.models import sample_prior

SEEDS = st.integers(0, 2 ** 31 - 1)
SHAPES = st.sampled_from([((28, 28), 1), ((32, 32), 3)])


def draw(model, prior, B, seed):
    g = torch.Generator().manual_seed(seed)
    theta = sample_prior(model, prior, B, g)
    X = torch.randn(5, model.in_dim, generator=g, dtype=torch.float64)
    return theta, X


@settings(max_examples=8)
@given(seed=SEEDS, shape=SHAPES, width=st.sampled_from([0.5, 1.0, 1.5]), bias=st.booleans(),
       out=st.sampled_from([2, 10]), prior=st.sampled_from(["uniform", "torch_default"]))
def test_forward_equals_torch_nn_lenet(seed, shape, width, bias, out, prior):
    (H, W), cin = shape
    model = LeNet(width, out, (H, W), cin, bias)
    theta, X = draw(model, prior, 3, seed)
    got = model(theta, X)
    assert got.shape == (3, 5, out)
    for b in range(3):
        ref = model.torch_module(theta[b])(X.reshape(5, cin, H, W))
        scale = ref.abs().max().item()
        assert (got[b] - ref).abs().max().item() <= 1e-12 * max(scale, 1.0)
        single = model(theta[b], X)  # an unbatched vector gives the same logits
        assert (single - got[b]).abs().max().item() <= 1e-12 * max(scale, 1.0)


def test_architecture_sizes_follow_the_paper():
    assert lenet_channels(1.0) == (6, 16, 120, 84) and lenet_channels(0.5) == (3, 8, 60, 42)
    m = LeNet(1.0, 10, (28, 28), 1)
    shapes = [b.shape for b in m.blocks]
    assert shapes == [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 256), (120,), (84, 120), (84,), (10, 84), (10,)]
    c = LeNet(1.0, 10, (32, 32), 3)
    assert c.blocks[4].shape == (120, 400) and c.blocks[0].fan_in == 75 and c.blocks[2].fan_in == 150
    # the LeNet-5 parameter counts: 62,006 for 3x32x32 inputs, 44,426 for 1x28x28 without padding
    assert c.n_params == 62006 and m.n_params == 44426


def test_bad_sizes_are_user_errors():
    with pytest.raises(UserInputError, match="images"):
        LeNet(1.0, 2, (8, 8), 1)
    with pytest.raises(UserInputError, match="without units"):
        LeNet(0.1, 2)


@settings(max_examples=5)
@given(seed=SEEDS)
def test_uniform_prior_is_chiangs_u_minus_one_one_on_every_parameter(seed):
    model = LeNet(0.5, 2)
    theta = sample_prior(model, "uniform", 200, torch.Generator().manual_seed(seed))
    assert theta.abs().max() <= 1.0
    # every block, weights and biases alike, has the U(-1, 1) mean 0 and variance 1/3 (z-tests at 1e-4 overall)
    for block, part in zip(model.blocks, model.split(theta)):
        v = part.reshape(-1)
        se = math.sqrt(1 / 3 / v.numel())
        assert abs(v.mean().item()) < 4.9 * se
        # Var(sample variance) ~ (mu4 - sigma^4) / N = (1/5 - 1/9) / N = 4 / (45 N) for U(-1, 1)
        assert abs(v.var().item() - 1 / 3) < 4.9 * math.sqrt(4 / 45 / v.numel()), block.name


def test_normalized_loss_uses_the_divisor_three_per_layer():
    model = LeNet(0.5, 2)
    theta, X = draw(model, "uniform", 2, 3)
    y = torch.tensor([0, 1, 1, 0, 1])
    norms = torch.ones(2, dtype=torch.float64)
    for block, part in zip(model.blocks, model.split(theta)):
        if not block.is_bias:
            norms = norms * part.reshape(2, -1).norm(dim=1) / 3.0
    logits = model(theta, X) / norms.reshape(2, 1, 1)
    manual = torch.stack([torch.nn.functional.cross_entropy(logits[b], y) for b in range(2)])
    torch.testing.assert_close(normalized_loss(model, theta, X, y), manual)


@settings(max_examples=10)
@given(seed=SEEDS, shape=SHAPES, prior=st.sampled_from(["uniform", "torch_default"]), width=st.sampled_from([0.5, 1.0]))
def test_float32_margins_are_far_inside_the_borderline_band(seed, shape, prior, width):
    """The premise of the fast G&C's float32 pass: the float32 error of every margin stays below 2^-14 of the
    model's largest |logit|, 16x inside the borderline band 2^-10 (fixed before this test was written)."""
    (H, W), cin = shape
    model = LeNet(width, 2, (H, W), cin)
    theta, X = draw(model, prior, 64, seed)
    y = torch.randint(0, 2, (5,), generator=torch.Generator().manual_seed(seed))
    l64 = model(theta, X)
    l32 = model.forward_patches(theta.float(), model.patches(X.float()))
    err = (margins_of_logits(l32.double(), y) - margins_of_logits(l64, y)).abs()
    assert (err <= 2.0 ** -14 * l32.abs().amax(-1).double()).all()
    assert BAND == 2.0 ** -10


@settings(max_examples=6)
@given(seed=SEEDS, shape=SHAPES, prior=st.sampled_from(["uniform", "torch_default"]))
def test_rigorous_float32_bound_holds_and_is_loose(seed, shape, prior):
    (H, W), cin = shape
    model = LeNet(0.5, 2, (H, W), cin)
    theta, X = draw(model, prior, 32, seed)
    l64 = model(theta, X)
    X32 = X.float()
    l32, bound = model.forward_with_bound(theta.float(), model.patches(X32), X32.abs().amax(1),
                                          unit_roundoff(torch.float32, "cpu"))
    err = (l32.double() - l64).abs().amax(-1)
    assert (err <= bound.double()).all()
    # a worst case over the signs of the rounding errors: orders of magnitude above the errors made
    assert (bound.double() > 100 * err).float().mean() > 0.9


def test_unit_roundoff_follows_the_matmul_precision():
    before = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("highest")
        assert unit_roundoff(torch.float32, "cpu") == 2.0 ** -24
        torch.set_float32_matmul_precision("medium")
        assert unit_roundoff(torch.float32, "cpu") == 2.0 ** -8
    finally:
        torch.set_float32_matmul_precision(before)
    assert unit_roundoff(torch.float64, "cpu") == 2.0 ** -53
