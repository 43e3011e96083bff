"""``python -m verify volume_width``: the Rao–Blackwellized G&C against plain rejection, the run contract on a
tiny setting, and that the claims can fail (perturbed kernels, broken invariance), bad input.

Rules: RB vs plain rejection by z-tests at 4.9 combined SEs (p ≈ 1e-6 each, ≤ 2 per example, ≤ 16
examples: false-failure rate ≤ 4e-5), compared only where rejection accepted ≥ 200 models and the RB ESS
is ≥ 100. The negative controls are run at a seed-independent effect size: the perturbed kernels move the
limit's bits by ≥ 0.3 bits (measured: ReLU → linear kernel −0.43 bits at n = 16; the wrong bias +1 bit),
against a TOST margin of 0.2 bits and a CI half-width ≈ 0.1 bits here.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import verify
from numerics.datasets import digits_task
from numerics.gnc_classifier import guess_and_check
from numerics.gnc_width import rb_guess_and_check
from numerics.models import MLP
from paper_figures import assert_paper_figures
from verify import volume_width
from verify.volume_width import PARAMS
from verify.volume_width import claims as vc

Z = 4.9

TINY = ["--set", "widths=4,16", "--set", "n_train=8", "--set", "depth=1,2", "--set", "draws=400",
        "--set", "min_draws=50", "--set", "limit_samples=1000", "--set", "kernel_units=8192", "--set", "sgd_runs=2",
        "--set", "sgd_epochs=2", "--set", "contrast_widths=8", "--set", "n_test=20", "--set", "invariance_width=8",
        "--workers", "1", "--no-progress"]


@settings(max_examples=8)
@given(seed=st.integers(0, 2 ** 32 - 1), width=st.sampled_from([4, 8, 16]), depth=st.integers(1, 2),
       n=st.sampled_from([4, 8]), prior=st.sampled_from(["kaiming_normal", "gaussian"]), bias=st.booleans())
def test_rao_blackwellized_gnc_equals_plain_rejection_in_law(seed, width, depth, n, prior, bias):
    """Gaussian priors have a Gaussian last layer, so RB and plain rejection estimate the same p and accuracy."""
    ds = digits_task((1, 7), n, seed % 50, n_test=40)
    rb = rb_guess_and_check(ds, width=width, depth=depth, prior=prior, bias=bias, draws=3000, proposals=4,
                            rng=np.random.default_rng(seed))
    model = MLP(ds.dim, [width] * depth, 2, "relu", bias)
    # lazy_inputs=False: the lazy first layer of numerics.gnc_classifier draws the first-layer weights on the
    # support with fan-in |S| instead of d under fan-in-scaled priors (reported to the lead; measured here:
    # gaussian prior with biases, width 4, n = 4: p̂ 0.0088 against 0.0071 by brute force)
    plain = guess_and_check(model, ds, prior=prior, draws=40000, generator=torch.Generator().manual_seed(seed % 2 ** 62),
                            lazy_inputs=False)[0]
    assert abs(rb.p_hat - plain.p_hat) <= Z * np.hypot(rb.p_se, plain.p_se), (rb, plain.p_hat, plain.p_se)
    if plain.accepted >= 200 and rb.ess >= 100:
        assert abs(rb.test_acc_mean - plain.test_acc_mean) <= Z * np.hypot(rb.test_acc_se, plain.test_acc_se)


def test_rao_blackwellized_gnc_vs_rejection_can_fail():
    """Negative control: the RB estimate of a wider net is told apart from narrow-net rejection in bits."""
    ds = digits_task((1, 7), 8, 0, n_test=40)
    rb = rb_guess_and_check(ds, width=256, depth=1, prior="kaiming_normal", draws=2000, rng=np.random.default_rng(1))
    plain = guess_and_check(MLP(ds.dim, [2], 2, "relu", False), ds, prior="kaiming_normal", draws=40000,
                            generator=torch.Generator().manual_seed(1), lazy_inputs=False)[0]
    assert abs(rb.p_hat - plain.p_hat) > Z * np.hypot(rb.p_se, plain.p_se)


_TINY_RUN = {}


def _tiny_record(cli, tmp_path):
    """The TINY run, once for this module (the record contract checked by ``cli.record``)."""
    if not _TINY_RUN:
        _TINY_RUN["record"] = cli.record("volume_width", tmp_path, *TINY)
    return _TINY_RUN["record"]


def test_tiny_run_keeps_the_record_contract(cli, tmp_path):
    rec = _tiny_record(cli, tmp_path)
    methods = {r["method"] for r in rec["points"]}
    assert methods == {"nngp", "gnc_rb", "sgd"}
    for r in rec["points"]:
        for key in ("dataset", "classes", "n", "depth", "arch", "prior", "method", "test_acc_mean", "test_acc_se",
                    "runtime_s"):
            assert key in r
        if r["method"] in ("nngp", "gnc_rb"):
            assert {"bits", "bits_se", "p_hat"} <= set(r)
    limits = [r for r in rec["points"] if r["method"] == "nngp"]
    assert all(r["width"] is None and r["samples"] == 1000 for r in limits)
    assert {r["inputs"] for r in limits} == {"digits", "identity"}
    for r in limits:  # the uniform prior's Monte Carlo first layer: its error is part of the limit's SE
        mc = r["inputs"] == "digits"
        assert (r["kernel_groups"] > 0) == mc and (r["kernel_bits_se"] > 0) == mc
        assert r["bits_se"] >= r["sampling_bits_se"]
    names = {c["name"] for c in rec["claims"]}
    assert all(c["tier"] and c["source"] and c["key"] for c in rec["claims"])
    assert {"distance_shrinks", "bits_distance_shrinks", "prior_scale_invariance", "depth_hurts_gnc",
            "identity_inputs_at_chance", "digits_limit_above_chance", "gnc_flat_in_width"} <= names
    gnc = [r for r in rec["points"] if r["method"] == "gnc_rb" and r["depth"] == 2]
    assert {r["width"] for r in gnc} == {4, 16}


def test_figure_is_paper_ready(cli, tmp_path):
    """Paper style (tests/paper_figures.py) on the TINY run's figure."""
    assert_paper_figures(volume_width.plot, _tiny_record(cli, tmp_path / "run"), tmp_path)


CONTROL = dict(widths=[128], n_train=[16], depth=[1], draws=3000, draw_units=10 ** 6, limit_samples=4000,
               sgd_runs=2, sgd_epochs=1, contrast_widths=[8], invariance_width=8, n_test=60, prior="kaiming_normal")


def _claims(**kw):
    rec = verify.run("volume_width", seed=kw.pop("seed", 0), **{**CONTROL, **kw})
    return {c.name: c for c in rec.claims}


@pytest.mark.falsifies("volume_width", "bits_approach_limit", "equivalent_at_largest_width")
def test_true_kernel_passes_and_perturbed_kernels_fail():
    true = _claims()
    assert true["bits_approach_limit[n=16,depth=1]"].verdict == "pass"
    assert true["equivalent_at_largest_width[n=16,depth=1]"].verdict == "pass"
    for control in ("wrong_activation", "wrong_bias"):
        assert _claims(limit_control=control)["bits_approach_limit[n=16,depth=1]"].verdict == "fail", control
    assert _claims(limit_control="wrong_inputs")["equivalent_at_largest_width[n=16,depth=1]"].verdict == "fail"


@pytest.mark.falsifies("volume_width", "prior_scale_invariance")
def test_invariance_claim_fails_when_biases_break_it():
    kw = dict(CONTROL, prior="uniform", invariance_width=32, kernel_units=4096, invariance_scales=[1.0, 0.1])
    assert _claims(**kw)["prior_scale_invariance"].verdict == "pass"
    assert _claims(invariance_bias=True, **kw)["prior_scale_invariance"].verdict == "fail"


def test_distance_claim_is_inconclusive_within_noise_and_negative_when_resolved():
    p = {**PARAMS.quick}
    flat = [{"width": w, "diff": 1e-4, "se": 1e-3, "dof": np.inf} for w in (8, 16, 32, 64)]
    assert vc.distance_claim("d", flat, p).verdict == "inconclusive"
    shrinking = [{"width": w, "diff": 0.1 / w, "se": 1e-4, "dof": np.inf} for w in (8, 16, 32, 64)]
    assert vc.distance_claim("d", shrinking, p).verdict == "pass"
    growing = [{"width": w, "diff": 1e-3 * w, "se": 1e-4, "dof": np.inf} for w in (8, 16, 32, 64)]
    assert vc.distance_claim("d", growing, p).verdict == "fail"


@pytest.mark.parametrize("override, message", [
    ("widths=0,8", "widths must be >= 1"),
    ("n_train=7", "n_train must be even"),
    ("arch=cnn", "arch must be one of mlp"),
    ("prior=laplace", "prior must be one of"),
    ("classes=3", "classes must be two distinct digits"),
    ("classes=3,12", "classes must be <= 9"),
    ("depth=1,1", "depth must be distinct"),
    ("limit_control=typo", "limit_control must be one of"),
    ("activation=tanh", "no NNGP limit at depth >= 2"),
    ("invariance_scales=1", "invariance_scales must be >= 2"),
    ("draws=1", "draws must be >= 2"),
    ("draws=100", "need draws >= min_draws"),
    ("tolerance=0", "tolerance must be > 0"),
])
def test_bad_parameters_are_one_line_errors(cli, override, message):
    cli.rejects("volume_width", "--set", override, message=message)


def test_data_file_needs_two_classes(cli, tmp_path):
    ds = digits_task((0, 1, 2), 9, data_seed=0)
    path = tmp_path / "three.npz"
    np.savez(path, X_train=ds.X_train, y_train=ds.y_train, X_test=ds.X_test, y_test=ds.y_test)
    cli.rejects("volume_width", "--data", str(path), message="two classes")
