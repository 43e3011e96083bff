"""``python -m verify width_theorem``: CLI, record, figure, bad input, and that its claims can fail."""
import json

import numpy as np
import pytest
from paper_figures import assert_paper_figures

import verify
from numerics.activations import parse_activation
from numerics.problems import random_problem, save_problem
from verify import width_theorem as wt
from verify.gnc.claims import limit_claim
from verify.width_theorem import claims as wc
from verify.width_theorem import sweep as ws
from verify.engine import run_check

TINY = ["--no-progress", "--workers", "1", "--set", "widths=5,40", "--set", "extra_widths=", "--set", "seeds=1",
        "--set", "draws=4000", "--set", "gd=false", "--set", "limit_samples=5000"]
POINT_KEYS = {"activation", "width", "depth", "seed", "eps", "G", "G_se", "C", "C_se", "chance_closed_form",
              "G_limit", "p_accept", "n_accepted", "n_draws", "gd_gen_loss"}


@pytest.mark.parametrize("args, message", [  # the width check's own parameters (shared ones: test_cli.py)
    (["--set", "widths=0"], "widths"), (["--set", "widths=-3,5"], "widths"),
    (["--set", "depths=1"], "depths"), (["--set", "method=rejection", "--set", "eps=0"], "eps = 0 needs"),
    (["--set", "eps=-0.1"], "eps"), (["--set", "widths"], "key=value"), (["--set", "method=magic"], "method must be one of"),
])
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, args, message):
    cli.rejects("width_theorem", "--out", str(tmp_path), *args, message=message)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The TINY run of the CLI (two activations, GD on): its record, its output folder and its arguments."""
    from verify.__main__ import main
    out = tmp_path_factory.mktemp("width")
    prob = random_problem(4, 4, 1, 8, np.random.default_rng(3))
    save_problem(out / "prob.npz", prob)
    args = ["--problem", str(out / "prob.npz"), *TINY,
            "--set", "activations=linear,leaky_relu", "--set", "gd=true", "--set", "gd_steps=300"]
    assert main(["width_theorem", "--out", str(out), *args]) in (0, 1, 3, 4)
    return json.loads((out / "width_theorem.json").read_text()), out, args


def test_end_to_end_record_and_figure(cli, tiny_run, tmp_path):
    record, _, args = tiny_run
    points = wt.joined(record["points"])
    assert record["params"]["n"] == 8 and len(points) == 8  # 2 activations x 2 widths x 2 eps
    # one NNGP-limit row per (seed, activation, depth, eps), shared by the widths
    assert sum(q["kind"] == "limit" for q in record["points"]) == 4
    assert {q["eps"] for q in points} == {0.02, 0.0} and {q["method"] for q in points} == {"rbis"}
    for point in points:
        assert POINT_KEYS <= set(point) and np.isfinite(point["G_limit"])
    # a run is reproducible bit for bit from its seed (all but the wall-clock time)
    def numbers(points):
        return [{k: v for k, v in q.items() if k != "seconds"} for q in points]
    assert numbers(cli.record("width_theorem", tmp_path, *args)["points"]) == numbers(record["points"])


def test_figures_are_paper_ready(tiny_run, tmp_path):
    """Paper style (tests/paper_figures.py) on the TINY run's figures, drawn as with Figure 1's preset: the
    check's own figure and the paper-layout one (the same points as the paper's panels)."""
    record, _, _ = tiny_run
    preset = {**record, "params": {**record["params"], "figure": "1"}}
    assert len(assert_paper_figures(wt.plot, preset, tmp_path, min_figures=2)) == 2


@pytest.fixture(scope="module")
def leaky_points():
    """Leaky ReLU at widths 5 and 640 on a problem where its NNGP limit is far from chance."""
    params = {**wt.PARAMS.quick, "activations": ["leaky_relu"], "widths": [5, 640], "extra_widths": [],
              "seeds": 1, "draws": 20_000, "gd": False, "eps": [0.1], "limit_samples": 100_000, "mode": "quick"}
    points = []
    prob = random_problem(5, 5, 1, 15, np.random.default_rng(6))
    from numerics.factorization import Factorization
    from numerics.gnc import estimate
    from numerics.gnc_limits import gaussian_limit_posterior
    from theory.width_theorem import chance_level, column_kernel
    K = column_kernel("leaky_relu", 2, 5, 5)
    lim = gaussian_limit_posterior(prob, K, 0.1, np.random.default_rng(1), n_samples=100_000)
    for k in params["widths"]:
        est, = estimate(prob, Factorization(5, 5, k, 2, "leaky_relu"), 0.1, method="rbis", draws=params["draws"],
                        rng=np.random.default_rng(k))
        points.append({"activation": "leaky_relu", "width": k, "depth": 2, "seed": 0, "eps": 0.1,
                       "G": est.G, "G_se": est.G_se, "C": est.C, "C_se": est.C_se, "ess": est.ess,
                       "chance_closed_form": chance_level(prob, K), "G_limit": lim.G, "G_limit_se": lim.G_se})
    return params, points


ALPHA = 1e-3


@pytest.mark.falsifies("width_theorem", "not_chance_at_largest_width")
def test_leaky_relu_meets_its_own_limit_and_asserting_chance_fails(leaky_points):
    params, points = leaky_points
    assert limit_claim("own limit", points, "width", alpha=ALPHA, rtol=0.01).verdict == "pass"
    at_chance = [{**q, "G_limit": q["chance_closed_form"], "G_limit_se": 0.0} for q in points]
    assert limit_claim("to chance", at_chance, "width", alpha=ALPHA, rtol=0.01).verdict == "fail"
    assert wc.not_chance_claim("not chance", points, ALPHA, 0.01).verdict == "pass"
    claims = wc.build_claims(points, [parse_activation("leaky_relu")], {**params, "alpha": ALPHA})
    assert {c.name.split("[")[0]: c.verdict for c in claims}["not_chance_at_largest_width"] == "pass"
    # huge SEs: neither shown different from chance nor equal to it
    noisy = [{**q, "G_se": 10 * q["G"]} for q in points]
    assert wc.not_chance_claim("not chance", noisy, ALPHA, 0.01).verdict == "inconclusive"
    # planted: G at chance, precisely -> the extension's "not chance" fails
    planted = [{**q, "G": q["chance_closed_form"], "G_se": 1e-5} for q in points]
    assert wc.not_chance_claim("not chance", planted, ALPHA, 0.01).verdict == "fail"


@pytest.mark.falsifies("width_theorem", "limit_at_largest_width")
def test_limit_rule_is_three_valued():
    """Equivalence within ±rtol of the seed mean: inside → pass, wholly outside → fail, straddling → inconclusive."""
    def pts(G, se):
        return [{"width": 80, "seed": s, "G": G, "G_se": se, "G_limit": 0.2, "G_limit_se": 0.0, "se_dof": np.inf}
                for s in range(3)]
    assert limit_claim("l", pts(0.2002, 1e-5), "width", alpha=ALPHA, rtol=0.01).verdict == "pass"
    assert limit_claim("l", pts(0.21, 1e-5), "width", alpha=ALPHA, rtol=0.01).verdict == "fail"  # 5% off, precisely
    straddling = limit_claim("l", pts(0.202, 2e-3), "width", alpha=ALPHA, rtol=0.01)  # 1% off ± 2%
    assert straddling.verdict == "inconclusive" and straddling.needed


@pytest.mark.falsifies("width_theorem", "chance_mc_matches_closed_form")
def test_perturbed_chance_formula_is_rejected(leaky_points):
    params, points = leaky_points
    params = {**params, "alpha": ALPHA}
    claims = wc.build_claims(points, [parse_activation("leaky_relu")], params)
    assert claims[0].name == "chance_mc_matches_closed_form" and claims[0].verdict == "pass"
    assert claims[0].tier == "control"
    perturbed = [{**q, "chance_closed_form": 1.03 * q["chance_closed_form"]} for q in points]
    assert wc.build_claims(perturbed, [parse_activation("leaky_relu")], params)[0].verdict == "fail"


def synthetic(gap_of_width, widths=(5, 20, 80, 320), se=1e-4):
    return [{"activation": "linear", "width": k, "depth": 2, "seed": s, "eps": 0.1, "G": 0.2 * (1 - gap_of_width(k)),
             "G_se": se, "C": 0.2, "C_se": se, "chance_closed_form": 0.2} for k in widths for s in range(3)]


@pytest.mark.falsifies("width_theorem", "gap_shrinks")
def test_gap_rule_passes_a_shrinking_gap_and_fails_a_growing_one():
    shrinking = wc.gap_claim("g", synthetic(lambda k: 0.5 / k), ALPHA, 3)
    assert shrinking.verdict == "pass" and shrinking.measured == pytest.approx(1.0, abs=1e-6)
    assert wc.gap_claim("g", synthetic(lambda k: 0.01 * k ** 0.2), ALPHA, 3).verdict == "fail"
    # a constant gap: rate 0 within its CI, neither shown to shrink nor to grow
    constant = wc.gap_claim("g", synthetic(lambda k: 0.05), ALPHA, 3)
    assert constant.verdict == "inconclusive"
    # no gap at all: the amplitude is 0 and the rate is not identified
    assert wc.gap_claim("g", synthetic(lambda k: 0.0), ALPHA, 3).verdict == "inconclusive"


def test_gap_rule_uses_every_width_including_insignificant_ones():
    """Widths whose gap is below 3 SE (the far end of a successful decay) enter the fit: more widths, sharper β."""
    few = wc.gap_claim("g", synthetic(lambda k: 0.05 / k, widths=(5, 20, 80), se=2e-4), ALPHA, 3)
    more = wc.gap_claim("g", synthetic(lambda k: 0.05 / k, widths=(5, 20, 80, 320, 1280, 5120), se=2e-4), ALPHA, 3)
    assert "over 6 points" in more.test and more.verdict == "pass"
    assert more.ci[1] - more.ci[0] <= few.ci[1] - few.ci[0]


@pytest.mark.falsifies("width_theorem", "distance_to_limit_shrinks")
def test_distance_rule_fails_a_distance_that_grows():
    def pts(dist):
        return [{**q, "activation": "leaky_relu", "G": 0.2 * (1 - dist(q["width"])), "G_limit": 0.2, "G_limit_se": 0.0}
                for q in synthetic(lambda k: 0.0)]
    assert wc.distance_claim("d", pts(lambda k: 0.3 / k), ALPHA, 3).verdict == "pass"
    assert wc.distance_claim("d", pts(lambda k: 0.01 * k ** 0.3), ALPHA, 3).verdict == "fail"


@pytest.mark.falsifies("width_theorem", "gd_far_below_chance")
def test_gd_rule_counts_unconverged_runs_as_outside():
    pts = [{"width": k, "gd_gen_loss": 1e-4, "gd_converged": True, "chance_closed_form": 0.2, "C": 0.2}
           for k in (5, 20, 80, 320) for _ in range(4)]
    assert wc.gd_claim("gd", pts, 0.1, alpha=ALPHA).verdict == "pass"
    bad = [{**q, "gd_converged": False} for q in pts]
    assert wc.gd_claim("gd", bad, 0.1, alpha=ALPHA).verdict == "fail"
    at_chance = [{**q, "gd_gen_loss": 0.2} for q in pts]
    assert wc.gd_claim("gd", at_chance, 0.1, alpha=ALPHA).verdict == "fail"


def test_interrupted_sweep_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    """Points already on disk are reused (not recomputed) when the same run is restarted (serial engine; the
    executors' resume: tests/test_executors.py)."""
    params = {**wt.PARAMS.quick, "activations": ["linear"], "widths": [5, 40], "extra_widths": [], "seeds": 1,
              "draws": 2000, "gd": False, "limit_samples": 2000, "mode": "quick"}
    path = tmp_path / "w.partial.jsonl"
    calls = []
    real = ws.estimate

    def counting(*args, **kwargs):
        calls.append(args[1].width)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed while computing the second point
        return real(*args, **kwargs)

    monkeypatch.setattr(ws, "estimate", counting)
    with pytest.raises(KeyboardInterrupt):
        run_check(wt, params, 0, checkpoint=path, progress=False)
    assert path.exists()
    monkeypatch.setattr(ws, "estimate", lambda *a, **k: calls.append(a[1].width) or real(*a, **k))
    resumed = run_check(wt, params, 0, checkpoint=path, progress=False)
    assert sorted(calls[:2]) == [5, 40] and len(calls) == 3 and calls[2] == calls[1] and not path.exists()
    fresh = run_check(wt, params, 0, progress=False)
    assert len(resumed.points) == len(fresh.points) == 6
    for a, b in zip(resumed.points, fresh.points):
        assert {k: v for k, v in a.items() if k != "seconds"} == pytest.approx(
            {k: v for k, v in b.items() if k != "seconds"}, nan_ok=True)


def test_degenerate_rbis_points_are_redone_by_smc_and_recorded():
    """Leaky ReLU at k = 5 with 300 draws: rbis keeps far fewer than min_ess effective samples (measured 3–64
    of 12,000 draws over seeds 0–2), so the check's points must come from its SMC fallback, with the reason."""
    record = verify.run("width_theorem", seed=0, activations=["leaky_relu"], widths=[5], extra_widths=[], seeds=1,
                        draws=300, eps=[0.02, 0.0], gd=False, limit_samples=2000, smc_particles=100, smc_moves=5,
                        smc_replicates=3)
    points = wt.joined(record.points)
    assert [q["method"] for q in points] == ["smc", "smc"]
    for q in points:
        assert "-> smc" in q["method_note"] and q["se_dof"] == 2 and np.isfinite(q["G"])


@pytest.mark.slow
def test_sequential_rounds_reuse_points_and_do_not_depend_on_the_executor(monkeypatch, tmp_path):
    """--until-decisive doubles the seeds per round; the points of earlier rounds are not computed again (task
    keys name the seed index), and the record is the same on 1 and 2 workers."""
    params = {**wt.PARAMS.quick, "activations": ["linear"], "widths": [5, 40], "extra_widths": [], "seeds": 1,
              "draws": 500, "eps": [0.02], "gd": False, "limit_samples": 500, "mode": "quick"}
    assert wt.grow(params, 1)["seeds"] == 1 and wt.grow(params, 3)["seeds"] == 4 and wt.GROWS == ("seeds",)
    keys = []
    real = wt.compute
    monkeypatch.setattr(wt, "compute", lambda t: keys.append(t.key) or real(t))
    one = run_check(wt, params, 0, progress=False, until_decisive=True, checkpoint=tmp_path / "one.jsonl")
    rounds = len(one.rounds)
    assert rounds >= 2  # two widths cannot decide the decay claims: every round is used
    assert len(keys) == len(set(keys))  # no task computed twice
    assert len(keys) == 3 * params["seeds"] * 2 ** (rounds - 1)  # (1 limit + 2 widths) per seed of the last round
    monkeypatch.undo()
    from verify.executors import Execution
    two = run_check(wt, params, 0, progress=False, until_decisive=True, execution=Execution(workers=2),
                    checkpoint=tmp_path / "two.jsonl")
    strip = [{k: v for k, v in q.items() if k != "seconds"} for q in one.points]
    assert strip == [{k: v for k, v in q.items() if k != "seconds"} for q in two.points]
    assert [c.verdict for c in one.claims] == [c.verdict for c in two.claims]
