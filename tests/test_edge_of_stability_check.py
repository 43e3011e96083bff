"""``python -m verify edge_of_stability`` end to end on a tiny setting: the record holds what the figure needs, a
planted wrong sharpness fails the fingerprint, a grid that never reaches η_c leaves the EoS claims open,
sequential rounds reuse the earlier points and give the same record on 1 and 2 workers, bad input is one line.

The tiny setting (100 digits, a 64→24→24→10 tanh MLP, loss goal 0.04, one seed) reaches the edge of stability
within a few hundred steps; it is for the machinery, not for the verdicts of the quick run.
"""
import types

import numpy as np
import pytest
import torch

import numerics.eos_monitor as M
from numerics.sharpness import loss_closure
from numerics.sharpness import sharpness as true_sharpness
from paper_figures import assert_paper_figures
from verify import edge_of_stability as E
from verify import engine
from verify.edge_of_stability import sweep as S
from verify.edge_of_stability.claims import at_edge, fingerprint_runs, seeds_of
from verify.executors import Execution
from verify.report import Record

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


def claim(claims, key):
    return next(c for c in claims if c.key == key)


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
    """The contrast for the planted test below: with the true sharpness every EoS run is at the edge."""
    _, rows = tiny
    runs = [r for r in fingerprint_runs(seeds_of(rows), False) if r["converged"]]
    assert len(runs) >= 3 and all(at_edge(r) for r in runs)


def test_figure_is_paper_ready(tiny, tmp_path):
    """Paper style (tests/paper_figures.py) on the tiny setting's figure, drawn from its record."""
    p, rows = tiny
    record = Record(check=E.NAME, claims=E.judge(rows, p), params=p, seed=0, points=rows).to_dict()
    assert_paper_figures(E.plot, record, tmp_path)


@pytest.mark.slow  # 20-60 s on 2 cores; CI runs it
@pytest.mark.falsifies("edge_of_stability", "eos_fingerprint")
def test_a_planted_wrong_sharpness_fails_the_fingerprint(monkeypatch):
    """Measure S on the Hessian of the cross-entropy (another loss) while GD trains the MSE: ηS/2 is off.
    Judged at alpha = 0.2: four runs can reject a majority only at a lenient level."""
    p = params(etas=EOS_ETAS)
    ds = E.load_dataset(p)
    model = E.build_model(p, ds)
    f_ce = loss_closure(model, torch.as_tensor(ds.X_train), torch.as_tensor(ds.y_train), "ce")
    wrong = lambda f, theta, **kw: true_sharpness(f_ce, theta, **kw)  # noqa: E731
    monkeypatch.setattr(M, "sharpness", wrong)
    monkeypatch.setattr(S, "sharpness", wrong)
    rows = compute_all(p)
    assert claim(E.judge(rows, {**p, "alpha": 0.2}), "eos_fingerprint").verdict == "fail"


@pytest.mark.slow  # 20-60 s on 2 cores; CI runs it
def test_a_grid_that_never_reaches_eta_c_is_inconclusive():
    p = params(etas=[0.3, 0.6])
    claims = E.judge(compute_all(p), p)
    for key in ("eos_fingerprint", "norm_sharpness_tradeoff", "gd_departs_gradient_flow", "central_flow"):
        c = claim(claims, key)
        assert c.verdict == "inconclusive" and c.needed, key


def test_u_curve_is_a_diagnostic(tiny):
    p, rows = tiny
    c = claim(E.judge(rows, p), "u_curve")
    assert c.tier == "diagnostic" and c.verdict is None
    gf = next(r for r in rows if r["kind"] == "gradient_flow")
    assert {"depth", "argmin_eta_multiple", "test_loss_min"} <= set(gf["u_curve"])


@pytest.mark.slow  # 20-60 s on 2 cores; CI runs it
def test_sequential_rounds_reuse_points_and_match_across_workers(monkeypatch, tmp_path):
    """Two rounds (seeds [0] then [0, 1]): the second computes only seed 1; 1 and 2 workers agree."""
    monkeypatch.setattr(engine, "MAX_ROUNDS", 2)
    p = params(etas=[0.5, 2.0], cf_windows=0)
    calls = []

    def counting(t):
        calls.append(t.key)
        return S.compute(t)

    module = types.SimpleNamespace(**{k: getattr(E, k) for k in dir(E) if not k.startswith("__")})
    module.compute = counting
    one = engine.run_check(module, dict(p), 0, execution=Execution(workers=1), checkpoint=tmp_path / "a.jsonl",
                           progress=False, until_decisive=True)
    assert [r["round"] for r in one.rounds] == [1, 2] and calls == ["seed=0", "seed=1"]
    two = engine.run_check(E, dict(p), 0, execution=Execution(workers=2), checkpoint=tmp_path / "b.jsonl",
                           progress=False, until_decisive=True)
    strip = lambda rows: [{k: v for k, v in r.items() if not k.startswith("cpu_seconds")} for r in rows]  # noqa: E731
    assert strip(one.points) == strip(two.points)
    assert [(c.key, c.verdict, c.measured) for c in one.claims] == [(c.key, c.verdict, c.measured) for c in two.claims]


def test_cli_contract_with_user_data(cli, tmp_path):
    ds = E.load_dataset({**E.PARAMS.quick, "standardize": False, "n_train": 100})
    data = tmp_path / "digits.npz"
    np.savez(data, X_train=ds.X_train, y_train=ds.y_train, X_test=ds.X_test[:200], y_test=ds.y_test[:200])
    sets = ["n_train=100", "widths=24,24", "seeds=0", "etas=0.5,2", "heavy_ball_etas=2", "loss_goal=0.04",
            "sharpness_evals=10", "cf_windows=1", "cf_window=16"]
    record = cli.record("edge_of_stability", tmp_path / "out", "--data", str(data), "--workers", "1", "--no-progress",
                        *[a for s in sets for a in ("--set", s)])
    assert record["params"]["dataset"] == "file" and record["params"]["data_file"] == str(data.resolve())
    assert record["params"]["etas"] == [0.5, 2.0]
    assert [r["kind"] for r in record["points"]] == ["gradient_flow", "gd", "gd", "heavy_ball"]
    assert {c["name"] for c in record["claims"]} >= {"progressive_sharpening", "eos_fingerprint", "phase_transition",
                                                      "norm_sharpness_tradeoff", "gd_tracks_gradient_flow",
                                                      "gd_departs_gradient_flow", "central_flow", "u_curve"}


@pytest.mark.parametrize("setting, message", [
    ("etas=-1", "etas"), ("etas=1,1", "distinct"), ("widths=0", "widths"), ("arch=cnn", "activation=relu"),
    ("arch=rnn", "arch"), ("loss=hinge", "loss"), ("activation=sigmoid", "activation"), ("prior=flat", "prior"),
    ("seeds=-1", "seeds"), ("loss_goal=0", "loss_goal"), ("dataset=mnist", "dataset"), ("momentum=1", "momentum"),
    ("n_train=5000", "n_train"), ("data_seed=-1", "data_seed"), ("dataset=file", "--data"),
    ("sharpness_evals=2", "sharpness_evals"), ("max_steps=10", "max_steps"),
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
