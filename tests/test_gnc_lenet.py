"""Fast G&C for LeNet (numerics.gnc_lenet) against a plain reference written here.

- pathwise, same draws: the float32 pass (with its float64 re-checks) accepts exactly the models of the
  float64 pass, in the same order, with the same test accuracies; both equal a plain reference that draws the
  same numbers and evaluates every model on every point (no early rejection, no compaction, the symmetry
  applied by hand); one pass over nested n equals separate runs;
- in law, independent draws: P(fit one point) is exactly 1/C under the prior's symmetry over the output units
  (z-test), and the fast float32 path agrees with the reference in acceptance rate and in the law of the
  accepted models' test accuracies (two-sample z and KS tests at ALPHA = 1e-4 each);
- a planted borderline model: its float32 margin has the wrong sign or is 0, and the float64 re-evaluation
  gives the right one.
All on device="cpu" (the cuda path is the same code with tensors on the device).
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from numerics.errors import UserInputError
from numerics.gnc_classifier import margins_of_logits
from numerics.gnc_lenet import BAND, RecheckStats, _block_margins, _Inputs, chunk_for_memory, guess_and_check_lenet
from numerics.lenet import LeNet, lenet_for
from numerics.local_data import digits_splits, protocol_task
from numerics.models import sample_prior_np

ALPHA = 1e-4
SEEDS = st.integers(0, 2 ** 31 - 1)


def task(n=8, seed=0, classes=2, n_test=60):
    return protocol_task(digits_splits(28), n, seed, n_classes=classes, n_test=n_test)


def gen(seed):
    return torch.Generator().manual_seed(int(seed))


def reference(model, ds, *, seed, draws, chunk, ns, symmetry):
    """Plain G&C on the same draws as the fast path (same numpy stream, same chunks): every model on every
    point in float64; with the symmetry, a model wrong on all first n points is accepted with its rows swapped."""
    g = gen(seed)
    rng = np.random.default_rng(int(torch.randint(0, 2 ** 62, (1,), generator=g)))
    X = torch.as_tensor(ds.X_train[:max(ns)])
    y = torch.as_tensor(ds.y_train[:max(ns)])
    Xte, yte = torch.as_tensor(ds.X_test), torch.as_tensor(ds.y_test)
    accepted = {n: [] for n in ns}
    done = 0
    while done < draws:
        b = min(chunk, draws - done)
        theta = torch.from_numpy(sample_prior_np(model, "uniform", b, rng))
        m = margins_of_logits(model(theta, X), y)
        for n in ns:
            for t in range(b):
                if (m[t, :n] > 0).all():
                    accepted[n].append(theta[t])
                elif symmetry and (m[t, :n] < 0).all():
                    accepted[n].append(model.permute_outputs(theta[t], [1, 0]))
        done += b
    accs = {n: np.array([(margins_of_logits(model(t, Xte), yte) > 0).double().mean().item() for t in accepted[n]])
            for n in ns}
    return {n: len(accepted[n]) for n in ns}, accs


@settings(max_examples=4)
@given(seed=SEEDS, symmetry=st.booleans(), ns=st.lists(st.sampled_from([2, 4, 6, 8]), min_size=1, max_size=3, unique=True),
       data_seed=st.integers(0, 50))
def test_float32_and_float64_passes_equal_the_plain_reference_draw_by_draw(seed, symmetry, ns, data_seed):
    ds = task(8, data_seed)
    model = lenet_for(ds, 0.5)
    ref_counts, ref_accs = reference(model, ds, seed=seed, draws=600, chunk=200, ns=sorted(ns), symmetry=symmetry)
    for precision in ("float32", "float64"):
        stats_ = RecheckStats()
        res = guess_and_check_lenet(model, ds, draws=600, generator=gen(seed), n_list=ns, symmetry=symmetry,
                                    precision=precision, chunk=200, stats=stats_, device="cpu")
        for r in res:
            assert r.accepted == ref_counts[r.n], (precision, r.n)
            np.testing.assert_allclose(r.test_accs, ref_accs[r.n], atol=1e-12)
        assert stats_.recheck_rejected == 0


def test_one_pass_over_nested_n_equals_separate_runs():
    ds = task(8, 3)
    model = lenet_for(ds, 0.5)
    together = {r.n: r.accepted for r in guess_and_check_lenet(model, ds, draws=800, generator=gen(5), n_list=[2, 4, 8], chunk=100)}
    for n in (2, 4, 8):
        alone = guess_and_check_lenet(model, ds, draws=800, generator=gen(5), n_list=[n], chunk=100)[0]
        assert alone.accepted == together[n]


@settings(max_examples=3)
@given(seed=SEEDS, classes=st.sampled_from([2, 10]))
def test_one_point_is_fitted_with_probability_one_over_the_classes(seed, classes):
    """Under a prior invariant to permuting the output units, the predicted class of one image is uniform:
    P(fit n = 1) = 1/C exactly (the label-swap symmetry is off so the plain count is tested)."""
    ds = task(classes * 2, seed % 40, classes)
    model = lenet_for(ds, 0.5)
    r = guess_and_check_lenet(model, ds, draws=3000, generator=gen(seed), n_list=[1], symmetry=False)[0]
    z = (r.p_hat - 1 / classes) / math.sqrt((1 / classes) * (1 - 1 / classes) / r.draws)
    assert 2 * stats.norm.sf(abs(z)) > ALPHA


@settings(max_examples=2)
@given(seed=st.integers(0, 2 ** 30))
def test_fast_float32_path_equals_the_reference_in_law(seed):
    ds = task(4, seed % 30)
    model = lenet_for(ds, 0.5)
    fast = {r.n: r for r in guess_and_check_lenet(model, ds, draws=2500, generator=gen(seed), n_list=[2, 4])}
    counts, accs = reference(model, ds, seed=seed + 1, draws=2500, chunk=500, ns=[2, 4], symmetry=False)
    for n in (2, 4):
        p_ref = counts[n] / 2500
        se = math.sqrt(fast[n].p_se ** 2 + p_ref * (1 - p_ref) / 2500)
        assert 2 * stats.norm.sf(abs(fast[n].p_hat - p_ref) / se) > ALPHA
        assert stats.ks_2samp(fast[n].test_accs, accs[n]).pvalue > ALPHA


def test_law_test_rejects_a_wrong_acceptance_rule():
    """Power: counting a model as fitted when it is right on all but one point is detected by the same z-test."""
    ds = task(4, 1)
    model = lenet_for(ds, 0.5)
    fast = guess_and_check_lenet(model, ds, draws=2500, generator=gen(1), n_list=[4], symmetry=False)[0]
    g = np.random.default_rng(2)
    theta = torch.from_numpy(sample_prior_np(model, "uniform", 2500, g))
    m = margins_of_logits(model(theta, torch.as_tensor(ds.X_train[:4])), torch.as_tensor(ds.y_train[:4]))
    wrong = float(((m > 0).sum(1) >= 3).double().mean())
    se = math.sqrt(fast.p_se ** 2 + wrong * (1 - wrong) / 2500)
    assert 2 * stats.norm.sf(abs(fast.p_hat - wrong) / se) < ALPHA


def test_a_borderline_margin_is_decided_in_float64():
    ds = task(4, 0)
    model = lenet_for(ds, 0.5)
    theta = torch.from_numpy(sample_prior_np(model, "uniform", 1, np.random.default_rng(0)))
    ws = model.split(theta)
    ws[-2][0, 1] = ws[-2][0, 0]  # both output rows equal: the logits differ only by the output biases
    X = torch.as_tensor(ds.X_train[:1])
    h = model(theta, X)[0, 0]
    base = float(h[0] - ws[-1][0, 0])  # the shared part of both logits
    ws[-1][0, 1] = ws[-1][0, 0] + abs(base) * 1e-9 + 1e-12  # class 1 ahead by a float64-visible, float32-invisible gap
    y = int(ds.y_train[0])
    inputs = _Inputs(model, ds, 4, "cpu")
    stats_ = RecheckStats()
    m = _block_margins(model, theta.float(), theta, inputs, 0, 1, "float32", stats_)
    m64 = margins_of_logits(model(theta, X), torch.as_tensor(ds.y_train[:1]))
    assert (m64 > 0).item() == (y == 1) and m64.abs().item() > 0
    l32 = model.forward_patches(theta.float(), inputs.P32[:1])
    m32 = margins_of_logits(l32, torch.as_tensor(ds.y_train[:1]))
    assert m32.abs().item() <= BAND * l32.abs().max().item()  # float32 cannot tell: borderline
    assert stats_.borderline == 1 and stats_.reevaluated == 1
    assert torch.sign(m).item() == torch.sign(m64).item()


def test_bad_arguments_are_user_errors():
    ds = task(4, 0)
    model = lenet_for(ds, 0.5)
    with pytest.raises(UserInputError, match="precision"):
        guess_and_check_lenet(model, ds, draws=10, generator=gen(0), precision="float16")
    with pytest.raises(UserInputError, match="LeNet"):
        guess_and_check_lenet(object(), ds, draws=10, generator=gen(0))
    with pytest.raises(UserInputError, match="inputs"):
        guess_and_check_lenet(LeNet(0.5, 2, (32, 32), 3), ds, draws=10, generator=gen(0))
    assert chunk_for_memory(model, 2, 1 << 16) >= 1


def test_loss_bins_use_chiangs_divisor():
    ds = task(4, 0)
    model = lenet_for(ds, 0.5)
    res = guess_and_check_lenet(model, ds, draws=400, generator=gen(0), n_list=[2], normalization="frobenius",
                                loss_bins=[(0.0, 0.6931), (0.6931, 10.0)])
    assert sum(r.accepted for r in res) == res[0].fitted
    for r in res:
        assert all(r.loss_bin[0] < v <= r.loss_bin[1] for v in r.normalized_losses)
