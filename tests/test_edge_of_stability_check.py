"""``python -m verify edge_of_stability``: the claims can fail (planted violations, a planted wrong sharpness),
a grid that never reaches η_c is inconclusive, the record holds what the figures need, bad input is one line.

The tiny setting (100 digits, a 64→24→24→10 tanh MLP, loss goal 0.04, one seed) reaches the edge of stability
within a few hundred steps; it is for the machinery, not for the verdicts of the quick run.
"""
import numpy as np
import pytest
import torch

from numerics.sharpness import loss_closure
from numerics.sharpness import sharpness as true_sharpness
import numerics.eos_monitor as M
from verify import edge_of_stability as E
from verify.edge_of_stability import sweep as S
from verify.edge_of_stability.params import SUPER_CRITICAL

TINY = {"n_train": 100, "widths": [24, 24], "seeds": [0], "heavy_ball_etas": [], "loss_goal": 0.04,
        "sharpness_evals": 20, "cf_windows": 2, "cf_window": 24}
EOS_ETAS = [1.5, 2.0, 2.5, 3.0]


def params(**over):
    p = {**E.PARAMS.quick, **TINY, **over, "mode": "quick"}
    E.PARAMS.check(p)
    E.validate(p)
    return p


def compute_all(p):
    return [row for t in E.points(p, 0, {}) for row in E.compute(t)]


def claim(claims, name):
    return next(c for c in claims if c.name == name)


@pytest.fixture(scope="module")
def tiny():
    p = params(etas=[0.4, 0.8] + EOS_ETAS)
    return p, compute_all(p)


def test_every_point_has_the_fields_the_figures_need(tiny):
    _, rows = tiny
    for r in rows:
        assert {"kind", "seed", "eta", "eta_c", "sharpness", "converged"} <= set(r)
    for r in rows:
        if r["kind"] == "gd" and r["converged"]:
            assert abs(r["two_over_eta"] - 2 / r["eta"]) < 1e-12
            for key in ("sharpness_avg", "norm_l1", "norm_l2", "dist_init", "avg_norm_l1", "avg_norm_l2",
                        "avg_dist_init", "test_loss", "test_accuracy", "steps", "sharpness_trace", "loss_trace"):
                assert key in r, key
            assert r["eta"] == pytest.approx(r["eta_multiple"] * r["eta_c"])


def test_tiny_setting_shows_the_fingerprint(tiny):
    """The contrast for the planted test below: with the true sharpness the fingerprint holds here."""
    p, rows = tiny
    assert claim(E.judge(rows, p), "eos_fingerprint").verdict == "pass"


def test_a_planted_wrong_sharpness_fails_the_fingerprint(monkeypatch):
    """Measure S on the Hessian of the cross-entropy (another loss) while GD trains the MSE: ηS/2 is off."""
    p = params(etas=EOS_ETAS)
    ds = E.load_dataset(p)
    model = E.build_model(p, ds)
    f_ce = loss_closure(model, torch.as_tensor(ds.X_train), torch.as_tensor(ds.y_train), "ce")
    wrong = lambda f, theta, **kw: true_sharpness(f_ce, theta, **kw)  # noqa: E731
    monkeypatch.setattr(M, "sharpness", wrong)
    monkeypatch.setattr(S, "sharpness", wrong)
    rows = compute_all(p)
    assert claim(E.judge(rows, p), "eos_fingerprint").verdict == "fail"


def test_a_grid_that_never_reaches_eta_c_is_inconclusive():
    p = params(etas=[0.3, 0.6])
    claims = E.judge(compute_all(p), p)
    for name in ("eos_fingerprint", "norm_sharpness_tradeoff", "gd_tracks_gradient_flow", "central_flow"):
        assert claim(claims, name).verdict == "inconclusive", name


# ----------------------------------------------------------------------------------------------------
# The rules on planted rows: an ideal record (every claim passes), then one violation at a time
# ----------------------------------------------------------------------------------------------------
GRID = [0.2, 0.5, 0.8, 1.1, 1.5, 2.0, 3.0, 4.0]


def ideal_rows(seeds=(0, 1), s_gf=8.0, s0=3.0):
    """Rows as a textbook edge of stability would give them (fields as compute writes them)."""
    rows, eta_c = [], 2.0 / s_gf
    for seed in seeds:
        rows.append({"kind": "gradient_flow", "seed": seed, "eta": 0.0, "eta_multiple": 0.0, "eta_c": eta_c,
                     "sharpness": s_gf, "sharpness_initial": s0, "converged": True, "norm_l1": 300.0,
                     "norm_l2": 7.0, "test_loss": 0.1, "u_curve": {"depth": 0.03}})
        for m in GRID:
            eta = m * eta_c
            edge = m >= SUPER_CRITICAL
            s_end = 2.0 / eta * 1.02 if edge else s_gf * 0.999
            grow = 1 + 0.02 * max(m - 1, 0)
            unstable = 2.0 / eta < s0
            rows.append({"kind": "gd", "seed": seed, "eta": eta, "eta_multiple": m, "eta_c": eta_c, "converged": True,
                         "threshold": 2 / eta, "two_over_eta": 2 / eta, "sharpness": s_end, "sharpness_avg": s_end,
                         "sharpness_initial": s0, "sharpness_max": 1.3 * s_end if edge else s_end,
                         "eta_sharpness_half": eta * s_end / 2, "eta_sharpness_half_avg": eta * s_end / 2,
                         "late_loss_rises": 40 if edge else 0, "norm_l1": 300 * grow, "avg_norm_l1": 300 * grow,
                         "norm_l2": 7 * grow, "avg_norm_l2": 7 * grow, "dist_init": 4 * grow, "avg_dist_init": 4 * grow,
                         "track_max": 0.03 * m * (3 if edge else 1), "track_max_before": None if unstable else 0.03 * m,
                         "distance_end": 0.09 * m if edge else 0.03 * m, "points_after": 20 if edge else 0,
                         "crossing_time": (0.0 if unstable else 10.0) if edge else None, "starts_unstable": unstable,
                         "central_flow": windows(1.0, 1.0, n=2) if m >= 1.5 else []})
        for m in (1.5, 3.0):
            rows.append({"kind": "heavy_ball", "seed": seed, "eta": m * 0.375, "eta_multiple": m, "eta_c": eta_c,
                         "converged": True, "threshold": 1.0, "sharpness": 1.02, "sharpness_avg": 1.02,
                         "sharpness_max": 1.3, "eta_sharpness_half_avg": 1.02, "eta_sharpness_half": 1.02,
                         "late_loss_rises": 5})
    return rows


def windows(ratio_var, ratio_loss, n=6, lambda2=0.5):
    eta = 0.5
    return [{"start": 10 * i, "length": 24, "lambda1": 4.0, "lambda2": lambda2 * 2 / eta, "two_over_eta": 2 / eta,
             "sigma2": 1e-3, "variance_u": ratio_var * 1e-3, "loss_center": 0.1, "loss_mean": 0.1 + ratio_loss * 2e-3,
             "excess_loss": ratio_loss * 2e-3, "predicted_excess": 2e-3, "grad_sharpness_norm": 1.0} for i in range(n)]


def judged(rows, name):
    return claim(E.judge(rows, {**E.PARAMS.quick, "mode": "quick"}), name).verdict


def planted(fn, kind="gd"):
    rows = ideal_rows()
    for r in rows:
        if r["kind"] == kind:
            fn(r)
    return rows


def test_the_ideal_record_passes_every_claim():
    claims = E.judge(ideal_rows(), {**E.PARAMS.quick, "mode": "quick"})
    assert {c.name: c.verdict for c in claims} == {c.name: "pass" for c in claims}


def test_flat_sharpness_fails_progressive_sharpening():
    assert judged(planted(lambda r: r.update(sharpness=1.1 * r["sharpness_initial"])), "progressive_sharpening") == "fail"
    assert judged(planted(lambda r: r.update(sharpness=1.5 * r["sharpness_initial"])), "progressive_sharpening") == "inconclusive"


def test_sharpness_or_norm_off_the_flow_below_eta_c_fails_the_transition():
    below = lambda key, f: lambda r: r.update({key: r[key] * f}) if r["eta_multiple"] <= 0.8 else None  # noqa: E731
    assert judged(planted(below("sharpness_avg", 1.05)), "phase_transition") == "fail"
    assert judged(planted(below("avg_norm_l2", 1.02)), "phase_transition") == "fail"
    above = planted(lambda r: r.update(eta_sharpness_half_avg=1.2) if r["eta_multiple"] >= 1.1 else None)
    assert judged(above, "phase_transition") == "fail"
    one_sided = [r for r in ideal_rows() if r.get("eta_multiple", 0) < 1]
    assert judged(one_sided, "phase_transition") == "inconclusive"


def test_fingerprint_fails_without_oscillation_or_below_the_band():
    assert judged(planted(lambda r: r.update(late_loss_rises=0)), "eos_fingerprint") == "fail"
    assert judged(planted(lambda r: r.update(sharpness_max=0.99 * r["threshold"])), "eos_fingerprint") == "fail"
    at = lambda v: lambda r: r.update(eta_sharpness_half_avg=v) if r["eta_multiple"] == 2.0 else None  # noqa: E731
    assert judged(planted(at(0.85)), "eos_fingerprint") == "fail"
    assert judged(planted(at(1.2)), "eos_fingerprint") == "fail"
    assert judged(planted(at(0.93)), "eos_fingerprint") == "inconclusive"
    unconverged = planted(lambda r: r.update(converged=r["eta_multiple"] < 2))
    assert judged(unconverged, "eos_fingerprint") == "inconclusive"
    hb = planted(lambda r: r.update(eta_sharpness_half_avg=0.8), kind="heavy_ball")
    assert judged(hb, "eos_fingerprint_heavy_ball") == "fail" and judged(hb, "eos_fingerprint") == "pass"


def test_a_reversed_or_weak_tradeoff_is_caught():
    assert judged(planted(lambda r: r.update(avg_norm_l1=1000.0 - r["eta"])), "norm_sharpness_tradeoff") == "fail"
    assert judged(planted(lambda r: r.update(sharpness=r["eta"])), "norm_sharpness_tradeoff") == "fail"
    swap = {2.0: 3.0, 3.0: 2.0}  # one adjacent swap among 5 runs: rho = 0.9 still passes
    assert judged(planted(lambda r: r.update(norm_l1=300 + swap.get(r["eta_multiple"], r["eta_multiple"]))),
                  "norm_sharpness_tradeoff") == "pass"
    weak = {1.1: 2.0, 2.0: 1.1}  # rho = 0.3
    assert judged(planted(lambda r: r.update(norm_l1=300 + weak.get(r["eta_multiple"], r["eta_multiple"]))),
                  "norm_sharpness_tradeoff") == "inconclusive"


def test_no_departure_or_early_departure_fails_the_tracking_claim():
    assert judged(planted(lambda r: r.update(distance_end=r["track_max_before"]) if r["track_max_before"] else None),
                  "gd_tracks_gradient_flow") == "fail"
    assert judged(planted(lambda r: r.update(track_max_before=3 * r["track_max_before"]) if r["track_max_before"] else None),
                  "gd_tracks_gradient_flow") == "fail"
    assert judged(planted(lambda r: r.update(track_max=0.2) if r["eta_multiple"] < 1 else None),
                  "gd_tracks_gradient_flow") == "fail"


@pytest.mark.parametrize("ratios, lambda2, verdict", [((1.1, 0.9), 0.5, "pass"), ((3.0, 1.0), 0.5, "fail"),
                                                      ((1.0, 0.3), 0.5, "fail"), ((1.7, 1.0), 0.5, "inconclusive"),
                                                      ((1.0, 1.0), 0.99, "inconclusive")])
def test_central_flow_rule(ratios, lambda2, verdict):
    """Planted windows: the medians decide; windows with λ₂ at the edge (≥ 1.9/η) are not eligible."""
    rows = planted(lambda r: r.update(central_flow=windows(*ratios, n=2, lambda2=lambda2)))
    assert judged(rows, "central_flow") == verdict


def test_seeds_whose_flow_misses_the_goal_are_left_out():
    rows = ideal_rows()
    rows[0]["converged"] = False
    claims = E.judge(rows, {**E.PARAMS.quick, "mode": "quick"})
    assert all("left out" in c.rule for c in claims)
    assert claim(claims, "eos_fingerprint").verdict == "pass"


def test_u_curve_is_a_diagnostic_not_a_claim(tiny):
    p, rows = tiny
    assert all("u_curve" not in c.name for c in E.judge(rows, p))
    gf = next(r for r in rows if r["kind"] == "gradient_flow")
    assert {"depth", "argmin_eta_multiple", "test_loss_min"} <= set(gf["u_curve"])


def test_cli_contract_with_user_data(cli, tmp_path):
    ds = E.load_dataset({**E.PARAMS.quick, "standardize": False, "n_train": 100})
    data = tmp_path / "digits.npz"
    np.savez(data, X_train=ds.X_train, y_train=ds.y_train, X_test=ds.X_test[:200], y_test=ds.y_test[:200])
    sets = ["n_train=100", "widths=24,24", "seeds=0", "etas=0.5,2", "heavy_ball_etas=2", "loss_goal=0.04",
            "sharpness_evals=10", "cf_windows=1", "cf_window=16"]
    record = cli.record("edge_of_stability", tmp_path / "out", "--data", str(data), "--workers", "1", "--no-progress",
                        *[a for s in sets for a in ("--set", s)])
    assert record["params"]["dataset"] == "file" and record["params"]["etas"] == [0.5, 2.0]
    kinds = [r["kind"] for r in record["points"]]
    assert kinds == ["gradient_flow", "gd", "gd", "heavy_ball"]
    assert {c["name"] for c in record["claims"]} >= {"progressive_sharpening", "eos_fingerprint", "phase_transition",
                                                      "norm_sharpness_tradeoff", "gd_tracks_gradient_flow", "central_flow"}


@pytest.mark.parametrize("setting, message", [
    ("etas=-1", "etas"), ("etas=1,1", "distinct"), ("widths=0", "widths"), ("arch=cnn", "activation=relu"),
    ("arch=rnn", "arch"), ("loss=hinge", "loss"), ("activation=sigmoid", "activation"), ("prior=flat", "prior"),
    ("seeds=-1", "seeds"), ("loss_goal=0", "loss_goal"), ("dataset=mnist", "dataset"), ("momentum=1", "momentum"),
    ("n_train=5000", "n_train"), ("data_seed=-1", "data_seed"), ("dataset=file", "--data"), ("sharpness_evals=2", "sharpness_evals"), ("max_steps=10", "max_steps"),
])
def test_bad_parameters_are_one_line_errors(cli, setting, message):
    cli.rejects("edge_of_stability", "--set", setting, message=message)


def test_bad_data_file_is_a_one_line_error(cli, tmp_path):
    cli.rejects("edge_of_stability", "--data", str(tmp_path / "missing.npz"), message="no such file")
    bad = tmp_path / "bad.npz"
    np.savez(bad, X_train=np.zeros((4, 3)), y_train=np.array([0, 1, 0, 1]))
    cli.rejects("edge_of_stability", "--data", str(bad), message="missing")
    small = tmp_path / "small.npz"
    np.savez(small, X_train=np.random.default_rng(0).standard_normal((20, 3)), y_train=np.arange(20) % 2,
             X_test=np.zeros((5, 3)), y_test=np.arange(5) % 2)
    cli.rejects("edge_of_stability", "--data", str(small), message="n_train = 256")
