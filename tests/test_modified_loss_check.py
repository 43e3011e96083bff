"""The ``modified_loss`` check end to end: it passes on the package's predictions, each of its rules rejects a
wrong modified loss or a wrong closed form, the frozen-preconditioner result is stated plainly, a slope whose
interval straddles its band is inconclusive (not a failure), and bad input gives one line and exit code 2.

The negative controls replace a formula in the module (monkeypatch) and run in this process (workers=1)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.engine import run
from theory import modified_losses as ml
from verify.modified_loss import claims as judging
from verify.modified_loss import params as declared
from verify.modified_loss import predictions, sweep
from verify.rules import SlopeFit

SMALL = {"halvings": 4, "partition_n": 6, "betas": [0.9]}


def run_small(seed=0, **overrides):
    return run("modified_loss", seed=seed, workers=1, **{**SMALL, **overrides})


def claims_named(record, fragment):
    found = [c for c in record.claims if fragment in c.name]
    assert found, fragment
    return found


@settings(max_examples=4)
@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 4), hidden=st.integers(1, 3), k=st.integers(1, 2),
       m=st.integers(2, 5), batch_size=st.integers(1, 3), beta=st.floats(0.3, 0.9))
def test_check_passes_across_dimensions_schedules_and_betas(seed, d, hidden, k, m, batch_size, beta):
    """No claim fails and every prediction passes. The frozen-preconditioner control ("FAILS ~η^1") is a slope fit
    over only ``halvings`` = 4 step sizes here (2 dof): at some draws its CI is too wide to place it in its band
    (a fresh CI run: seed 1, d = 1, hidden = 2, β = 0.5 gave CI [0.21, 2.83]), which the rule reports as
    inconclusive — lack of power at this test size, allowed for that control only."""
    record = run_small(seed, d=d, hidden=hidden, k=k, sgd_batches=m, sgd_batch_size=batch_size, betas=[beta])
    bad = [(c.name, c.verdict, c.test) for c in record.claims
           if c.verdict == "fail" or (c.verdict != "pass" and "frozen-P loss FAILS" not in c.name)]
    assert not bad, bad


def test_default_run_record_figure_and_frozen_statement(cli, tmp_path):
    record = cli.record("modified_loss", tmp_path, "--seed", "3", "--workers", "1", "--no-progress")
    assert record["verdict"] == "pass"
    betas = declared.PARAMS.quick["betas"]
    assert len(record["claims"]) == 10 + 2 * len(betas)
    by_name = {c["name"]: c for c in record["claims"]}
    for beta in betas:
        lag = by_name[f"RMSProp β={beta:g}: lag-corrected passes ~η^2"]
        frozen = by_name[f"RMSProp β={beta:g}: frozen-P loss FAILS ~η^1"]
        assert lag["measured"] >= ml.RMSPROP_PASS_SLOPE  # passes its slope test
        assert frozen["measured"] < ml.RMSPROP_PASS_SLOPE  # fails its slope test, and the claim says so
        assert "FAILS its slope test" in frozen["rule"]
        assert f"the frozen-P loss FAILS its slope test at β={beta:g}" in frozen["test"]
    assert all(c["test"] for c in record["claims"])
    probe = [p for p in record["points"] if p["panel"] == "RMSProp β=0 probe"]
    assert {p["series"] for p in probe} == {"lag-corrected flow", "frozen-preconditioner flow"}
    assert all(p.get("claim") is None for p in probe)  # recorded, not claimed
    assert (tmp_path / "modified_loss.png").stat().st_size > 10_000


def wrong(monkeypatch, name, replacement):
    monkeypatch.setattr(sweep, name, replacement)


def test_wrong_igr_modified_loss_is_rejected(monkeypatch):
    # Ẽ = E + (h/2)‖∇E‖² (coefficient doubled): still a "modified loss", but only first-order right
    wrong(monkeypatch, "igr_grad", lambda f, th, h: ml.igr_grad(f, th, 2 * h))
    record = run_small()
    assert {c.verdict for c in claims_named(record, "IGR modified flow")} == {"fail"}
    assert {c.verdict for c in claims_named(record, ": gradient flow")} == {"pass"}


def test_sgd_modified_loss_without_the_batch_term_is_rejected(monkeypatch):
    wrong(monkeypatch, "sgd_grad", lambda f, th, eps, batches: ml.igr_grad(f, th, eps))
    record = run_small()
    claim, = claims_named(record, "SGD-modified flow")
    assert claim.verdict == "fail" and abs(claim.measured - 2) < 0.15


def test_rmsprop_flow_without_lag_term_is_rejected(monkeypatch):
    wrong(monkeypatch, "rmsprop_lag_corrected_field",
          lambda f, th, eta, beta, delta: ml.rmsprop_lag_corrected_field(f, th, eta, 0.0, delta))
    claim, = claims_named(run_small(), "lag-corrected passes")
    assert claim.verdict == "fail" and claim.measured < ml.RMSPROP_PASS_SLOPE


def test_frozen_claim_fails_if_the_frozen_loss_were_right(monkeypatch):
    # if the "frozen" flow were the correct one, the package's prediction (it fails) is contradicted
    wrong(monkeypatch, "rmsprop_frozen_field",
          lambda f, th, eta, delta: ml.rmsprop_lag_corrected_field(f, th, eta, 0.9, delta))
    claim, = claims_named(run_small(), "frozen-P loss FAILS")
    assert claim.verdict == "fail" and claim.measured >= ml.RMSPROP_PASS_SLOPE
    assert "PASSES (against the prediction)" in claim.test


def test_wrong_ab_closed_form_is_rejected(monkeypatch):
    wrong(monkeypatch, "ab_gd_factor", lambda a, b, x, y, h: 1.0 - h * (y - a * b * x) ** 2 * x ** 2)
    claim, = claims_named(run_small(), "GD step factor")
    assert claim.verdict == "fail"


def test_wrong_partition_factor_is_rejected(monkeypatch):
    # the with-replacement value (ε/4B)Γ, i.e. without (N − B)/(N − 1)
    wrong(monkeypatch, "partition_averaged_sgd_term",
          lambda G, B, eps: ml.partition_averaged_sgd_term(G, B, eps) / ml.partition_factor(len(G), B)
          if B > 1 else ml.partition_averaged_sgd_term(G, B, eps))
    claim, = claims_named(run_small(), "partitions")
    assert claim.verdict == "fail"


def test_too_few_points_above_round_off_is_inconclusive():
    fit, window = predictions.fitted_window(np.array([1.0, 0.5, 0.25, 0.125, 0.0625]), [1e-3, 1e-6, 1e-13, 1e-14, 0.0])
    assert fit is None and window == [True, True, False, False, False]
    assert judging.slope_claim("x", fit, (1.85, 2.15)).verdict == "inconclusive"


@pytest.mark.parametrize("ci, verdict", [((1.9, 2.1), "pass"), ((1.8, 2.0), "inconclusive"),
                                         ((2.2, 2.4), "fail")])
def test_slope_band_rule_is_three_valued(ci, verdict):
    """Inside the band: pass; straddling an edge: inconclusive (the window bends); wholly outside: fail."""
    fit = SlopeFit(slope=sum(ci) / 2, intercept=0.0, slope_se=0.01, ci=ci, n_points=5)
    assert judging.slope_claim("x", fit, (1.85, 2.15)).verdict == verdict


def test_a_non_finite_defect_is_inconclusive_not_a_failure():
    assert judging.exact_claim("x", float("nan"), 1e-12, "rule").verdict == "inconclusive"
    assert judging.exact_claim("x", 1e-11, 1e-12, "rule").verdict == "fail"


@pytest.mark.parametrize("argv, message", [
    (["--set", "halvings=2"], "halvings"),
    (["--set", "betas=0.5,1.2"], "betas"),
    (["--set", "delta=-1"], "delta"),
    (["--set", "igr_h0=0.03"], "igr_h0"),  # horizon / h0 not an integer number of steps
    (["--set", "sgd_batches=9"], "sgd_batches"),
    (["--set", "partition_n=40"], "partition_n"),
    (["--set", "d=0"], "d"),
    (["--set", "halvings=two"], "halvings"),
    (["--set", "nonsense=1"], "nonsense"),
    (["--problem", "some.npz"], "--problem"),
])
def test_bad_input_is_one_line_and_exit_code_2(cli, tmp_path, argv, message):
    cli.rejects("modified_loss", "--no-progress", "--workers", "1", "--out", str(tmp_path), *argv, message=message)
