"""The ``modified_loss`` check end to end: it passes on the package's predictions, each of its rules rejects a
wrong modified loss or a wrong closed form, the frozen-preconditioner result is stated plainly, a slope whose
interval straddles its band is inconclusive (not a failure), and bad input gives one line and exit code 2.

The negative controls replace a formula in the module (monkeypatch) and run in this process (workers=1)."""
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from paper_figures import assert_paper_figures

from verify import modified_loss
from verify.engine import run
from theory import modified_losses as ml
from verify.modified_loss import claims as judging
from verify.modified_loss import params as declared
from verify.modified_loss import predictions, sweep
from verify.rules import SlopeFit

SMALL = {"halvings": 4, "partition_n": 6, "betas": [0.9]}
PARAMS_SMALL = {**declared.PARAMS.quick, **SMALL}


def run_small(seed=0, **overrides):
    return run("modified_loss", seed=seed, workers=1, **{**SMALL, **overrides})


def claims_named(record, fragment):
    found = [c for c in record.claims if fragment in c.name]
    assert found, fragment
    return found


ALLOWED_OPEN = ("rmsprop_frozen_first_order", "student_rmsprop_modified_loss")


@settings(max_examples=4)
@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 4), hidden=st.integers(1, 3), k=st.integers(1, 2),
       m=st.integers(2, 5), batch_size=st.integers(1, 3), beta=st.floats(0.3, 0.9))
@example(seed=0, d=1, hidden=1, k=1, m=2, batch_size=1, beta=0.75)  # a pre-asymptotic window, see below
def test_check_passes_across_dimensions_schedules_and_betas(seed, d, hidden, k, m, batch_size, beta):
    """No claim fails as the headline counts it (the student project's claim fails as documented) and every
    other prediction passes. The frozen-preconditioner slope is a fit over only ``halvings`` = 4 step sizes here
    (2 dof): at some draws its interval is too wide to place it in a band (a fresh CI run: seed 1, d = 1,
    hidden = 2, β = 0.5 gave CI [0.21, 2.83]), which the rule reports as inconclusive — lack of power at this
    test size, allowed for the two claims judged on that series only."""
    record = run_small(seed, d=d, hidden=hidden, k=k, sgd_batches=m, sgd_batch_size=batch_size, betas=[beta])
    assert not [(c.name, c.test) for c in record.claims if c.judged and c.counted == "fail"]
    bad = [(c.name, c.verdict, c.test) for c in record.claims if c.judged and c.counted != "pass"
           and c.key not in ALLOWED_OPEN and not _pre_asymptotic(record, c)]
    assert not bad, bad


def _pre_asymptotic(record, claim) -> bool:
    """An inconclusive slope claim whose window is not yet asymptotic: the local slope between its two smallest
    step sizes lies inside the band (found by hypothesis: d = hidden = k = 1, m = 2, β = 0.75, seed 0 gives
    local slopes 2.37, 2.14, 2.04, 2.01 for the lag-corrected flow, an OLS interval [1.6, 2.66] straddling
    2.2 — inconclusive, the rule's honest answer; halving the initial step decides it)."""
    pts = [p for p in record.points if p.get("claim") == claim.name and p.get("error")]
    if claim.verdict != "inconclusive" or len(pts) < 2 or not isinstance(claim.predicted, list):
        return False
    (s1, e1), (s2, e2) = sorted((p["step"], p["error"]) for p in pts)[:2]
    local = np.log(e2 / e1) / np.log(s2 / s1)
    return claim.predicted[0] < local < claim.predicted[1]


def test_default_run_record_figure_and_frozen_statement(cli, tmp_path):
    record = cli.record("modified_loss", tmp_path, "--seed", "3", "--workers", "1", "--no-progress")
    assert record["verdict"] == "pass"
    betas = declared.PARAMS.quick["betas"]
    judged = [c for c in record["claims"] if c["tier"] != "diagnostic"]
    assert len(judged) == 10 + 3 * len(betas)
    assert {c["key"] for c in record["claims"]} == set(judging.CLAIMS)
    by_name = {c["name"]: c for c in record["claims"]}
    for beta in betas:
        lag = by_name[f"RMSProp β={beta:g}: lag-corrected passes ~η^2"]
        frozen = by_name[f"RMSProp β={beta:g}: frozen-P loss FAILS ~η^1"]
        student = by_name[f"RMSProp β={beta:g}: student's frozen-P loss is the modified flow ~η^2"]
        assert lag["measured"] >= ml.RMSPROP_PASS_SLOPE  # passes its slope test
        assert frozen["measured"] < ml.RMSPROP_PASS_SLOPE  # fails its slope test, and the claim says so
        assert "FAILS its slope test" in frozen["rule"]
        assert f"the frozen-P loss FAILS its slope test at β={beta:g}" in frozen["test"]
        assert (student["tier"], student["verdict"], student["expected"]) == ("published", "fail", "fail")
    assert [f["name"] for f in record["findings"]] == [
        f"RMSProp β={beta:g}: student's frozen-P loss is the modified flow ~η^2" for beta in betas]
    assert all(c["test"] for c in record["claims"])
    probe = [p for p in record["points"] if p["panel"] == "RMSProp β=0 probe"]
    assert {p["series"] for p in probe} == {"lag-corrected flow", "frozen-preconditioner flow"}
    assert all(p.get("claim") is None for p in probe)  # recorded, not claimed
    assert (tmp_path / "modified_loss.png").stat().st_size > 10_000


def wrong(monkeypatch, name, replacement):
    monkeypatch.setattr(sweep, name, replacement)


@pytest.mark.falsifies("modified_loss", "igr_one_step_modified", "igr_horizon_modified")
def test_wrong_igr_modified_loss_is_rejected(monkeypatch):
    # Ẽ = E + (h/2)‖∇E‖² (coefficient doubled): still a "modified loss", but only first-order right
    wrong(monkeypatch, "igr_grad", lambda f, th, h: ml.igr_grad(f, th, 2 * h))
    record = run_small()
    assert {c.verdict for c in claims_named(record, "IGR modified flow")} == {"fail"}
    assert {c.verdict for c in claims_named(record, ": gradient flow")} == {"pass"}


@pytest.mark.falsifies("modified_loss", "sgd_epoch_sgd_modified")
def test_sgd_modified_loss_without_the_batch_term_is_rejected(monkeypatch):
    wrong(monkeypatch, "sgd_grad", lambda f, th, eps, batches: ml.igr_grad(f, th, eps))
    record = run_small()
    claim, = claims_named(record, "SGD-modified flow")
    assert claim.verdict == "fail" and abs(claim.measured - 2) < 0.15


@pytest.mark.falsifies("modified_loss", "rmsprop_lag_corrected")
def test_rmsprop_flow_without_lag_term_is_rejected(monkeypatch):
    wrong(monkeypatch, "rmsprop_lag_corrected_field",
          lambda f, th, eta, beta, delta: ml.rmsprop_lag_corrected_field(f, th, eta, 0.0, delta))
    claim, = claims_named(run_small(), "lag-corrected passes")
    assert claim.verdict == "fail" and claim.measured < ml.RMSPROP_PASS_SLOPE


@pytest.mark.falsifies("modified_loss", "rmsprop_frozen_first_order")
def test_frozen_claim_fails_if_the_frozen_loss_were_right(monkeypatch):
    # if the "frozen" flow were the correct one, the package's prediction (it fails) is contradicted
    wrong(monkeypatch, "rmsprop_frozen_field",
          lambda f, th, eta, delta: ml.rmsprop_lag_corrected_field(f, th, eta, 0.9, delta))
    record = run_small()
    claim, = claims_named(record, "frozen-P loss FAILS")
    assert claim.verdict == "fail" and claim.measured >= ml.RMSPROP_PASS_SLOPE
    assert "PASSES (against the prediction)" in claim.test
    student, = claims_named(record, "student's frozen-P loss")
    assert student.verdict == "pass" and student.counted == "inconclusive"  # the finding would not reproduce


@pytest.mark.falsifies("modified_loss", "ab_gd_identity")
def test_wrong_ab_closed_form_is_rejected(monkeypatch):
    wrong(monkeypatch, "ab_gd_factor", lambda a, b, x, y, h: 1.0 - h * (y - a * b * x) ** 2 * x ** 2)
    claim, = claims_named(run_small(), "GD step factor")
    assert claim.verdict == "fail"


@pytest.mark.falsifies("modified_loss", "sgd_partition_factor")
def test_wrong_partition_factor_is_rejected(monkeypatch):
    # the with-replacement value (ε/4B)Γ, i.e. without (N − B)/(N − 1)
    wrong(monkeypatch, "partition_averaged_sgd_term",
          lambda G, B, eps: ml.partition_averaged_sgd_term(G, B, eps) / ml.partition_factor(len(G), B)
          if B > 1 else ml.partition_averaged_sgd_term(G, B, eps))
    claim, = claims_named(run_small(), "partitions")
    assert claim.verdict == "fail"


@pytest.fixture(scope="module")
def small_record():
    return run_small()


@pytest.fixture(scope="module")
def small_rows(small_record):
    return small_record.points


def test_figure_is_paper_ready(small_record, tmp_path):
    """Paper style (tests/paper_figures.py) on the small run's figure, drawn from its record."""
    assert_paper_figures(modified_loss.plot, small_record.to_dict(), tmp_path)


SLOPE_KEYS = [p.key for section in predictions.PREDICTIONS.values() for p in section.values()]


@pytest.mark.falsifies("modified_loss", "igr_one_step_plain", "igr_horizon_plain", "sgd_epoch_plain",
                       "sgd_epoch_gd_modified")
@pytest.mark.parametrize("key", SLOPE_KEYS)
@pytest.mark.parametrize("shift", [1, -1])
def test_planted_errors_one_order_off_fail_every_slope_claim(small_rows, key, shift):
    """Planted data: the errors of one series times (step/step0)^shift (one order above or below) make
    its claim fail, and leave every other slope claim of the same rows as it was."""
    if key == "rmsprop_frozen_first_order" and shift == 1:
        return  # order 2 is the lag band's: covered by test_frozen_claim_fails_if_the_frozen_loss_were_right
    top = max(r["step"] for r in small_rows if r.get("key") == key)  # relative steps keep the errors above the floor
    planted = [{**r, "error": r["error"] * (r["step"] / top) ** shift} if r.get("key") == key else r
               for r in small_rows]
    before = {c.name: c.verdict for c in judging.judge(small_rows, {**PARAMS_SMALL, "alpha": 0.01})}
    after = judging.judge(planted, {**PARAMS_SMALL, "alpha": 0.01})
    hit = [c for c in after if c.key == key]
    assert hit and all(c.verdict == "fail" for c in hit), [(c.name, c.test) for c in hit]
    assert all(c.verdict == before[c.name] for c in after if c.key != key and c.key in SLOPE_KEYS)


@pytest.mark.falsifies("modified_loss", "student_rmsprop_modified_loss")
def test_student_rmsprop_loss_fails_its_slope_test(small_rows):
    """The finding itself: the student project's frozen-preconditioner loss fails the slope test (slope ≈1)."""
    claims = [c for c in judging.judge(small_rows, {**PARAMS_SMALL, "alpha": 0.01})
              if c.key == "student_rmsprop_modified_loss"]
    assert claims and all(c.verdict == "fail" and c.measured < 1.2 for c in claims)
    assert all(c.counted == "pass" for c in claims)  # as documented: the headline counts it as expected


@pytest.mark.falsifies("modified_loss", "ab_flow_conserved")
def test_a_reference_flow_that_drifts_fails_the_conservation_control(monkeypatch):
    """A broken reference integrator (explicit Euler, 200 steps) does not conserve a² − b²: the control fails."""
    def euler(field, theta0, T, **_):
        theta, h = np.array(theta0, float), T / 200
        for _ in range(200):
            theta = theta + h * field(theta)
        return theta

    wrong(monkeypatch, "integrate_flow", euler)
    claim, = claims_named(run_small(), "conserved by gradient flow")
    assert claim.verdict == "fail"


def test_deterministic_claims_do_not_spend_alpha(small_rows):
    """Nothing here is random: every judged claim is marked deterministic (Holm spends no alpha on it and
    records no level) and no verdict or interval depends on the alpha the judge is given."""
    assert all(spec.deterministic for spec in judging.CLAIMS.values() if spec.tier != "diagnostic")
    strict = [(c.name, c.verdict, c.ci) for c in judging.judge(small_rows, {**PARAMS_SMALL, "alpha": 1e-6})]
    loose = [(c.name, c.verdict, c.ci) for c in judging.judge(small_rows, {**PARAMS_SMALL, "alpha": 0.2})]
    assert strict == loose
    record = run_small()
    assert all(c.alpha is None for c in record.claims)


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
