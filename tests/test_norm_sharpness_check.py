"""``python -m verify norm_sharpness``: the record, the verdict, and that every claim can fail.

The default quick run must pass and record every η with its limit and predictions; the verdict "neither
implicit bias minimizes the error" must fail for isotropic x (where the two minimizers coincide); a perturbed
closed form must be rejected; planted rows (the default run's, edited) make each rule on the runs fail; a run
that cannot decide is inconclusive, not a failure; bad input gives one line and exit code 2. The negative
controls replace a closed form (monkeypatch) and run in this process (workers=1).
"""
import copy
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paper_figures import assert_paper_figures

from numerics import diagonal_networks as nd
from theory import diagonal_networks as td
from verify import norm_sharpness as ns
from verify.norm_sharpness import claims
from verify import registry
from verify.engine import run as run_check
from verify.engine import task
from verify.errors import UserInputError

POINT_KEYS = {"eta", "beta", "sharpness", "norm_beta_l1", "norm_w_l1", "gen_error", "outcome", "beta_gf", "eta_c"}
SHORT = {"etas": [0.02, 0.2, 0.45, 0.5, 0.51, 0.52, 0.53, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9, 1.1],
         "transition_scales": [], "max_iter": 20000}


def run(seed=0, **over):
    return run_check("norm_sharpness", seed=seed, workers=1, **over)


def claims_of(record):
    return {c.name: c for c in record.claims}


def theory_row(record):
    return next(p for p in record.points if p["sweep"] == "theory")


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ns")
    record = run()
    record.write_json(out / "norm_sharpness.json")
    return record, out


def test_default_quick_run_passes_and_records_every_eta(default_run):
    record, out = default_run
    assert record.verdict == "pass", [(c.name, c.verdict, c.test) for c in record.claims]
    assert [c.name for c in record.claims] == list(ns.CLAIMS)
    assert all(c.test and c.tier and c.source and c.deterministic and c.alpha is None for c in record.claims)
    grid = [p for p in record.points if p["sweep"] == "grid"]
    assert len(grid) == len(record.params["etas"]) > ns.GRID_CHUNK  # the automatic grid, in several tasks
    assert all(POINT_KEYS <= set(p) and p["outcome"] in nd.OUTCOMES for p in grid)
    outcomes = {p["outcome"] for p in grid}
    assert {"converged", "diverged"} <= outcomes and outcomes & {"2-cycle", "oscillating"}
    theory = theory_row(record)
    etas = [p["eta"] for p in grid]
    assert min(etas) < theory["eta_c"] < max(etas) and max(etas) > theory["eta_max"]
    # the reference numbers of the default setting (x = (1, 0.5), y = 1, init 0.1), computed by the run
    assert abs(theory["eta_c"] - 0.5125) < 1e-4 and abs(theory["sharpness_gf"] - 3.9025) < 1e-4
    assert abs(theory["eta_best_predicted"] - 2 / 3) < 1e-12
    hessian = [p for p in record.points if p["sweep"] == "hessian"]
    assert sum(p["source"] == "GD limit" for p in hessian) >= 4  # the formula is tested at GD limits too
    data = json.loads((out / "norm_sharpness.json").read_text())
    assert data["check"] == "norm_sharpness" and data["verdict"] == "pass"


def test_plot_draws_from_the_json_record(default_run):
    _, out = default_run
    paths = ns.plot(json.loads((out / "norm_sharpness.json").read_text()), out / "norm_sharpness")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 10_000 for p in paths)


def test_figure_is_paper_ready(default_run, tmp_path):
    """Paper style (tests/paper_figures.py) on the default run's figure, drawn from its JSON record."""
    _, out = default_run
    assert_paper_figures(ns.plot, json.loads((out / "norm_sharpness.json").read_text()), tmp_path)


@pytest.mark.falsifies("norm_sharpness", "neither_bias_minimizes", "conflict_hypothesis", "generalization_u_curve")
def test_isotropic_inputs_fail_the_verdict():
    """x = (1, 1): the min-norm and min-sharpness interpolators coincide, S is constant on M and GD lands
    on the same point for every stable η, so there is no interior minimum of the error."""
    etas = [0.02, 0.1, 0.2, 0.3, 0.4, 0.45, 0.48, 0.49, 0.51, 0.55, 0.6]
    record = run(x=[1.0, 1.0], beta_star=[0.3, 0.7], etas=etas, transition_scales=[], max_iter=20000)
    c = claims_of(record)
    assert c["neither_bias_minimizes"].verdict == "fail"
    assert c["conflict_hypothesis"].verdict == "fail"
    assert c["generalization_u_curve"].verdict == "fail"
    assert c["gd_to_gf_slope"].verdict == "inconclusive"  # β^η = β^GF for every η: nothing to fit
    assert record.verdict == "fail"


@pytest.mark.falsifies("norm_sharpness", "gf_limit_ode")
def test_a_wrong_gradient_flow_limit_is_rejected(monkeypatch):
    true = td.gradient_flow_limit
    monkeypatch.setattr(td, "gradient_flow_limit", lambda x, y, a: true(x, y, 1.001 * np.asarray(a)))
    record = run(**SHORT)
    assert claims_of(record)["gf_limit_ode"].verdict == "fail"
    assert record.verdict == "fail"


@pytest.mark.falsifies("norm_sharpness", "gd_limit_identity", "even_uv_effective_init")
def test_a_wrong_effective_initialization_is_rejected(monkeypatch):
    true = td.gd_q
    monkeypatch.setattr(td, "gd_q", lambda z: 1.001 * true(z))
    c = claims_of(run(**SHORT))
    assert c["gd_limit_identity"].verdict == "fail"
    assert c["even_uv_effective_init"].verdict == "fail"


@pytest.mark.falsifies("norm_sharpness", "hessian")
def test_a_wrong_hessian_formula_is_rejected(monkeypatch):
    true = td.hessian_shared
    monkeypatch.setattr(td, "hessian_shared", lambda w, x, y, kappa: 1.001 * true(w, x, y, kappa))
    assert claims_of(run(**SHORT))["hessian"].verdict == "fail"


@pytest.mark.falsifies("norm_sharpness", "min_norm_min_sharpness")
def test_a_wrong_min_norm_interpolator_is_rejected(monkeypatch):
    true = td.min_norm_interpolator
    monkeypatch.setattr(td, "min_norm_interpolator", lambda x, y: 1.001 * true(x, y))
    assert claims_of(run(**SHORT))["min_norm_min_sharpness"].verdict == "fail"


@settings(max_examples=8)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_random_points_pass_the_round_off_tolerances_on_any_seed(seed):
    """The only random inputs (Hessian evaluation points, the u ⊙ v problem) enter identities; on any seed the
    errors sit at round-off, far below the fixed tolerances, so the false-failure rate is zero up to round-off."""
    params = ns.prepare({**ns.PARAMS.quick, "mode": "quick"}, {})
    hess = ns.compute(task("hessian", {**params, "part": "hessian"}, seed, 1))[0]
    assert hess["err_autograd"] <= 1e-2 * claims.HESSIAN_AUTOGRAD_TOL and hess["err_fd"] <= 1e-2 * claims.HESSIAN_FD_TOL
    assert hess["err_trace"] <= 1e-2 * claims.TRACE_TOL
    uv = ns.compute(task("even_uv/0", {**params, "part": "even_uv"}, seed, 4, 0))[0]
    assert uv["errors"] and max(uv["errors"]) <= 1e-2 * claims.IDENTITY_TOL


# ---- planted rows: the default run's rows, edited, judged again (judge is pure) -------------------------
def judged(default_run, edit, name):
    record, _ = default_run
    rows = copy.deepcopy(record.points)
    edit(rows, next(r for r in rows if r["sweep"] == "theory"),
         sorted((r for r in rows if r["sweep"] == "grid"), key=lambda r: r["eta"]))
    return {c.name: c for c in ns.judge(rows, {**record.params, "alpha": 0.01})}[name].verdict


def test_the_unedited_rows_pass_again(default_run):
    for name in ns.CLAIMS:
        assert judged(default_run, lambda rows, th, grid: None, name) == "pass", name


@pytest.mark.falsifies("norm_sharpness", "gd_to_gf_slope")
def test_a_quadratic_approach_to_gradient_flow_fails_the_slope(default_run):
    def edit(rows, th, grid):
        for r in rows:
            if r["sweep"] == "gf_slope":
                r["deviation_from_gf"] = r["eta"] ** 2  # slope 2, not 1
    assert judged(default_run, edit, "gd_to_gf_slope") == "fail"


@pytest.mark.falsifies("norm_sharpness", "stability_bound")
def test_a_limit_above_the_stability_bound_fails(default_run):
    def edit(rows, th, grid):
        [p for p in grid if p["outcome"] == "converged"][-1]["eta_sharpness_half"] = 1.01
    assert judged(default_run, edit, "stability_bound") == "fail"


@pytest.mark.falsifies("norm_sharpness", "transition_at_eta_c")
def test_a_wrong_critical_learning_rate_fails_the_transition(default_run):
    def edit(rows, th, grid):  # the limit's sharpness drops already at 0.9 η_c
        for p in grid:
            if p["outcome"] == "converged" and 0.89 * th["eta_c"] < p["eta"] < th["eta_c"]:
                p["sharpness"] = 0.9 * th["sharpness_gf"]
    assert judged(default_run, edit, "transition_at_eta_c") == "fail"


@pytest.mark.falsifies("norm_sharpness", "edge_of_stability")
def test_limits_well_below_the_edge_fail_the_edge_of_stability(default_run):
    def edit(rows, th, grid):
        for p in grid:
            if p["outcome"] == "converged" and p["eta"] > th["eta_c"]:
                p["eta_sharpness_half"] = 0.7
    assert judged(default_run, edit, "edge_of_stability") == "fail"


def _sub_critical(th, grid):
    return [p for p in grid if p["outcome"] == "converged" and p["eta"] < th["eta_c"]]


@pytest.mark.falsifies("norm_sharpness", "norm_sharpness_tradeoff")
def test_a_reversed_tradeoff_below_eta_c_fails(default_run):
    """Below η_c nothing forces the trend: norm falling and sharpness rising with η must fail the claim."""
    def edit(rows, th, grid):
        sub = _sub_critical(th, grid)
        for key in ("norm_beta_l1", "sharpness"):
            values = [p[key] for p in sub][::-1]
            for p, v in zip(sub, values):
                p[key] = v
    assert judged(default_run, edit, "norm_sharpness_tradeoff") == "fail"


def test_the_tradeoff_is_not_judged_where_the_edge_of_stability_forces_it(default_run):
    """Above η_c, S ≈ 2/η is the edge_of_stability claim; reversing the EoS ranks leaves the tradeoff verdict
    (judged below η_c) unchanged, so the two claims do not count one fact twice."""
    def edit(rows, th, grid):
        eos = [p for p in grid if p["outcome"] == "converged" and p["eta"] > th["eta_c"]]
        values = [p["norm_beta_l1"] for p in eos][::-1]
        for p, v in zip(eos, values):
            p["norm_beta_l1"] = v
    assert judged(default_run, edit, "norm_sharpness_tradeoff") == "pass"


@pytest.mark.falsifies("norm_sharpness", "generalization_u_curve")
def test_a_best_learning_rate_away_from_the_prediction_fails_the_u_curve(default_run):
    def edit(rows, th, grid):
        th["eta_best_predicted"] *= 1.2
    assert judged(default_run, edit, "generalization_u_curve") == "fail"


@pytest.mark.falsifies("norm_sharpness", "neither_bias_minimizes")
def test_an_error_minimal_at_the_sharpness_end_fails_neither(default_run):
    def edit(rows, th, grid):
        conv = [p for p in grid if p["outcome"] == "converged"]
        conv[-1]["gen_error"] = 0.0  # the largest converged η (the sharpness end) generalizes best
    assert judged(default_run, edit, "neither_bias_minimizes") == "fail"


@pytest.mark.falsifies("norm_sharpness", "run_classification")
def test_a_run_converging_above_eta_max_fails_the_classification(default_run):
    def edit(rows, th, grid):
        last = [p for p in grid if p["outcome"] == "converged"][-1]
        assert grid[-1]["eta"] > th["eta_max"]
        grid[-1].update({k: v for k, v in last.items() if k != "eta"})  # a limit found above η_max
    assert judged(default_run, edit, "run_classification") == "fail"


@pytest.mark.falsifies("norm_sharpness", "conflict_hypothesis")
def test_a_teacher_sharper_than_the_gradient_flow_limit_violates_the_hypothesis(default_run):
    def edit(rows, th, grid):
        th["sharpness_beta_star"] = 1.1 * th["sharpness_gf"]
    assert judged(default_run, edit, "conflict_hypothesis") == "fail"


def test_undecidable_runs_are_inconclusive_not_failures():
    """A coarse grid that reaches neither end of the stable range, has no η just above η_c and a budget too
    small for GD to settle at η = 0.6 cannot decide these claims: inconclusive, not fail."""
    record = run(etas=[0.3, 0.45, 0.6, 0.7], transition_scales=[], max_iter=1000)
    c = claims_of(record)
    assert [p["outcome"] for p in record.points if p["sweep"] == "grid"] == ["converged", "converged",
                                                                             "unresolved", "converged"]
    for name in ("transition_at_eta_c", "run_classification", "generalization_u_curve",
                 "neither_bias_minimizes", "norm_sharpness_tradeoff", "edge_of_stability"):
        assert c[name].verdict == "inconclusive", (name, c[name].test)


def test_a_sweep_past_the_stable_range_with_the_error_flat_fails():
    """The coverage rule does not hide a contradiction: isotropic x on a grid reaching both ends still fails."""
    record = run(x=[1.0, 1.0], beta_star=[0.3, 0.7], etas=[0.02, 0.2, 0.4, 0.49, 0.55], transition_scales=[],
                 max_iter=20000)
    assert claims_of(record)["neither_bias_minimizes"].verdict == "fail"


def test_full_loss_rescales_the_thresholds():
    half = run(**SHORT)
    full = run(**{**SHORT, "etas": [e / 2 for e in SHORT["etas"]]}, loss_scale="full")
    th = [theory_row(r) for r in (half, full)]
    for key in ("eta_c", "eta_max", "eta_best_predicted"):
        assert abs(th[1][key] - th[0][key] / 2) <= 1e-12 * th[0][key]
    assert abs(th[1]["sharpness_gf"] - 2 * th[0]["sharpness_gf"]) <= 1e-12 * th[0]["sharpness_gf"]
    grids = [[p for p in r.points if p["sweep"] == "grid"] for r in (half, full)]
    for a, b in zip(*grids):  # GD on r² at η/2 is GD on ½r² at η
        assert a["outcome"] == b["outcome"]
        if a["outcome"] == "converged":
            assert np.max(np.abs(np.asarray(a["beta"]) - np.asarray(b["beta"]))) <= 1e-12
    assert th[1]["loss_scale"] == "full" and th[1]["loss"] == td.loss_statement("full")


@pytest.mark.parametrize("over", [
    {"y": 0.0}, {"y": -1.0}, {"init_scale": [0.0]}, {"init_scale": [-0.1]}, {"init_scale": [0.1, 0.2, 0.3]},
    {"etas": [0.1, 0.0]}, {"etas": [-0.5]}, {"x": [1.0, 0.3, 0.6]}, {"beta_star": [0.5]},
    {"x": [-1.0, 0.0], "beta_star": [0.0, 0.0]}, {"beta_star": [1.0, 1.0]}, {"loss_scale": "quarter"},
    {"x": [1.0, float("nan")]}, {"uv_problems": 0}, {"uv_samples": 6}, {"transition_scales": [0.0]},
])
def test_bad_input_is_rejected(over):
    with pytest.raises(UserInputError):
        registry.validate(ns, {**ns.PARAMS.quick, **over, "mode": "quick"})
    with pytest.raises(UserInputError):  # before any grid is built from it
        ns.prepare({**ns.PARAMS.quick, **over, "mode": "quick"}, {})


@pytest.mark.parametrize("argv, message", [(["--set", "y=-1"], "y"), (["--set", "init_scale=0"], "init_scale"),
                                           (["--set", "etas=0.1,-1"], "etas"), (["--set", "x=1,0.3,0.6"], "beta_star"),
                                           (["--set", "beta_star=1,2,3"], "beta_star"),
                                           (["--problem", "p.npz"], "--problem")])
def test_cli_bad_input_is_one_line_and_exit_code_2(cli, tmp_path, argv, message):
    cli.rejects("norm_sharpness", "--workers", "1", "--out", str(tmp_path), *argv, message=message)


def test_a_problem_file_is_rejected():
    with pytest.raises(UserInputError, match="problem"):
        run(problem="p.npz", **SHORT)


def test_settable_inputs_of_other_dimensions_run(cli, tmp_path):
    """The issue's example x = (1, 0.3, 0.6), with a β* on M; the closed-form claims hold in 3-D too."""
    data = cli.record("norm_sharpness", tmp_path, "--no-progress", "--workers", "1", "--set", "x=1,0.3,0.6",
                      "--set", "beta_star=0.4,1,0.5", "--set", "etas=0.05,0.3,0.5,0.55,0.6,0.7,0.8,0.9,1.2,1.8",
                      "--set", "transition_scales=0.3")
    verdicts = {c["name"]: c["verdict"] for c in data["claims"]}
    for name in ("hessian", "min_norm_min_sharpness", "gf_limit_ode", "gd_to_gf_slope", "gd_limit_identity"):
        assert verdicts[name] == "pass"
