"""``python -m verify depth_theorem``: CLI, record, figure, bad input, and that its claims can fail.

Falsifiability (spec §4 check 5): the unnormalized prior (the paper's Fig 11 setting) and a rank-2 ground
truth, forced through the check, must not pass; synthetic points show each rule rejecting a perturbed
prediction. Statistical claims use the check's own rules (alpha = 1e-3).
"""

import json

import numpy as np
import pytest
from paper_figures import assert_paper_figures

from numerics.activations import parse_activation
from numerics.problems import SensingProblem, gaussian_measurements, random_problem, save_problem
from verify import depth_theorem as dt
from verify.depth_theorem import claims as dc
from verify.depth_theorem import sweep as ds
from verify.gnc.claims import limit_claim
from verify.engine import run_check
from verify.rules import fit_linear

TINY = ["--no-progress", "--workers", "1", "--set", "activations=linear", "--set", "depths=2,8", "--set", "linear_depths=",
        "--set", "seeds=1", "--set", "draws=20000", "--set", "limit_draws=100000", "--set", "gd=false",
        "--set", "lyapunov_chains=2000", "--set", "rip_study_n=15,20", "--set", "rip_study_draws=1",
        "--set", "rip_restarts=4", "--set", "rip_n=", "--set", "limit_eps=0.02,0.03,0.05", "--set", "eps=0.05",
        "--set", "informative_seeds=0", "--set", "gd_seeds=2"]
POINT_KEYS = {"activation", "depth", "width", "seed", "eps", "G", "G_se", "p_accept", "n_accepted", "ess",
              "method", "G_limit", "G_limit_se", "rip_delta2_lower", "rip_bound"}


@pytest.mark.parametrize("args, message", [  # the depth check's own parameters (shared ones: test_cli.py)
    (["--set", "depths=1"], "depths"), (["--set", "linear_depths=0"], "linear_depths"),
    (["--set", "eps=-0.01"], "eps"), (["--set", "limit_eps=-0.1"], "limit_eps"),
    (["--set", "eps=0", "--set", "prior=gaussian"], "eps = 0 needs the angular estimator"),
    (["--set", "eps=0", "--set", "width=3"], "width >= mp"), (["--set", "informative_fractions=2"], "informative"),
    (["--set", "method=smc"], "method must be one of"), (["--set", "limit_method=mcmc"], "limit_method must be one of"),
    (["--set", "n=25"], "n must be"), (["--set", "rip_n=30"], "rip_n"), (["--set", "rank=6"], "rank"),
    (["--set", "lyapunov_max_depth=30"], "lyapunov_max_depth"), (["--set", "width=1"], "width"),
    (["--set", "informative_particles=1"], "informative_particles"),
])
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, args, message):
    cli.rejects("depth_theorem", "--out", str(tmp_path), *args, message=message)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The TINY run of the CLI (linear and tanh, GD on): its record, its output folder and its arguments."""
    from verify.__main__ import main
    out = tmp_path_factory.mktemp("depth")
    prob = random_problem(4, 4, 1, 9, np.random.default_rng(3))
    save_problem(out / "prob.npz", prob)
    args = ["--problem", str(out / "prob.npz"), *TINY,
            "--set", "activations=linear,tanh", "--set", "gd=true", "--set", "gd_steps=200"]
    assert main(["depth_theorem", "--out", str(out), *args]) in (0, 1, 3, 4)
    return json.loads((out / "depth_theorem.json").read_text()), out, args


def test_end_to_end_record_and_figure(cli, tiny_run, tmp_path):
    record, _, args = tiny_run
    assert record["params"]["n"] == 9 and record["params"]["m"] == 4
    points = dt.joined(record["points"])
    depth_points = [q for q in points if q["kind"] == "depth"]
    assert len(depth_points) == 4
    for point in depth_points:
        assert POINT_KEYS <= set(point)
    kinds = {q["kind"] for q in record["points"]}
    assert {"depth", "limit", "lyapunov", "lyapunov_fit", "rip_study", "gd"} <= kinds
    # GD on the problems of max(seeds, gd_seeds) seeds, at every depth of each GD activation
    gd = [q for q in record["points"] if q["kind"] == "gd"]
    assert {q["seed"] for q in gd} == set(range(max(record["params"]["seeds"], record["params"]["gd_seeds"])))
    assert all(np.isfinite(q["gd_gen_loss"]) and q["gd_init"] > 0 for q in gd)
    names = [c["name"] for c in record["claims"]]
    assert all(c["tier"] and c["source"] and c["expected"] for c in record["claims"])
    assert any("lyapunov" in name for name in names)
    lyap = next(c for c in record["claims"] if "lyapunov" in c["name"])
    assert lyap["predicted"] == pytest.approx(np.log(2) - 5 / 6, abs=1e-12)  # −½[ψ(5/2) − ψ(2)], k = 5
    assert any("delta_2" in note for note in dt.notes(record["points"], record["params"]))
    assert cli.record("depth_theorem", tmp_path, *args)["points"] == record["points"]  # bit for bit from the seed


def test_figures_are_paper_ready(tiny_run, tmp_path):
    """Paper style (tests/paper_figures.py) on the TINY run's figures, drawn as with Figure 2's preset: the
    check's own figure and the paper-layout one (the same points as the paper's panels)."""
    record, _, _ = tiny_run
    preset = {**record, "params": {**record["params"], "figure": "2"}}
    assert len(assert_paper_figures(dt.plot, preset, tmp_path, min_figures=2)) == 2


def claims_by_name(record):
    return {c.name.split("[")[0]: c.verdict for c in record.claims}


@pytest.mark.falsifies("depth_theorem", "chance_matches_closed_form")
def test_unnormalized_prior_is_not_reported_as_meeting_the_theorem():
    """Fig 11's prior forced through: its chance level and its deep limit are not the normalized ones."""
    params = {**dt.PARAMS.quick, "mode": "quick", "activations": ["linear"], "depths": [2, 16], "linear_depths": [],
              "seeds": 1, "draws": 60_000, "limit_draws": 200_000, "eps": [0.05], "limit_eps": [0.02, 0.03],
              "prior": "gaussian", "gd": False, "lyapunov_chains": 2000, "rip_study_n": [20],
              "rip_study_draws": 1, "rip_restarts": 4, "rip_n": [], "informative_seeds": 0}
    record = run_check(dt, params, 0, progress=False)
    verdicts = claims_by_name(record)
    assert record.verdict == "fail"
    assert verdicts["chance_matches_closed_form"] == "fail"
    assert verdicts["limit_at_largest_depth"] == "fail"
    normalized = run_check(dt, {**params, "prior": "normalized"}, 0, progress=False)
    assert claims_by_name(normalized)["limit_at_largest_depth"] == "pass"
    assert claims_by_name(normalized)["chance_matches_closed_form"] == "pass"


def equal_rank2_problem(n, seed):
    rng = np.random.default_rng(seed)
    P = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    Q = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    return SensingProblem(gaussian_measurements(n, 5, 5, rng), P[:, :2] @ Q[:, :2].T / np.sqrt(2))


def test_rank2_truth_is_not_reported_as_meeting_the_rank1_bound(tmp_path):
    """A rank-2 W* (equal singular values) through the check: the rank-1 limit does not vanish as ε → 0 and
    the rank-1 bound is reported as not met."""
    save_problem(tmp_path / "rank2.npz", equal_rank2_problem(20, 5))
    params = {**dt.PARAMS.quick, "mode": "quick", "activations": ["linear"], "depths": [2], "linear_depths": [],
              "seeds": 1, "draws": 20_000, "limit_draws": 1_000_000, "gd": False, "lyapunov_chains": 2000,
              "rip_study_n": [20], "rip_study_draws": 1, "rip_restarts": 4, "informative_seeds": 0}
    record = run_check(dt, params, 0, inputs={"problem": tmp_path / "rank2.npz"}, progress=False)
    verdicts = claims_by_name(record)
    assert record.verdict == "fail"
    assert verdicts["limit_vanishes"] == "fail" and verdicts["rip_bound"] == "fail"
    # the same W* made rank 1 passes both
    prob = equal_rank2_problem(20, 5)
    u, s, vt = np.linalg.svd(prob.W_star)
    save_problem(tmp_path / "rank1.npz", SensingProblem(prob.A, np.outer(u[:, 0], vt[0])))
    good = run_check(dt, params, 0, inputs={"problem": tmp_path / "rank1.npz"}, progress=False)
    # the bound holds; at n = 20 in 5x5 it lies above chance (measured), so it says nothing: vacuous
    assert claims_by_name(good)["limit_vanishes"] == "pass" and claims_by_name(good)["rip_bound"] == "vacuous"


# ---------------------------------------------------------------------------------------------- rules
@pytest.mark.falsifies("depth_theorem", "lyapunov_slope")
def test_perturbed_lyapunov_prediction_is_rejected():
    from numerics.gnc_limits import chain_log_singular_values
    from theory.depth_theorem import log_ratio_slope
    depths = list(range(80, 241, 10))
    Y = chain_log_singular_values(5, depths, 20_000, np.random.default_rng(1))
    fit = ds.lyapunov_fit(depths, Y[:, :, 1] - Y[:, :, 0], 80)
    assert dc.lyapunov_claim("l", fit, log_ratio_slope(5), 1e-3).verdict == "pass"
    assert dc.lyapunov_claim("l", fit, 1.05 * log_ratio_slope(5), 1e-3).verdict == "fail"


def gap_points(gap_of_depth, depths=(2, 4, 8, 16, 32), se=2e-4):
    return [{"depth": d, "seed": s, "G": 0.05 + gap_of_depth(d), "G_se": se, "G_limit": 0.05, "G_limit_se": se / 2}
            for d in depths for s in range(3)]


@pytest.mark.falsifies("depth_theorem", "depth_gap_shrinks")
def test_gap_rule_passes_a_shrinking_gap_and_fails_a_growing_one():
    shrinking = dc.gap_claim("g", gap_points(lambda d: 0.03 * np.exp(-0.2 * d)), 1e-3, 3)
    assert shrinking.verdict == "pass" and shrinking.measured == pytest.approx(0.2, abs=1e-6)
    assert dc.gap_claim("g", gap_points(lambda d: 0.001 * np.exp(0.05 * d)), 1e-3, 3).verdict == "fail"  # grows
    # a constant gap: rate 0 within its CI, neither shown to shrink nor to grow
    assert dc.gap_claim("g", gap_points(lambda d: 0.01), 1e-3, 3).verdict == "inconclusive"
    assert dc.gap_claim("g", gap_points(lambda d: 0.0), 1e-3, 3).verdict == "inconclusive"


@pytest.mark.falsifies("depth_theorem", "limit_at_largest_depth")
def test_limit_rule_rejects_a_remaining_gap():
    assert limit_claim("l", gap_points(lambda d: 0.0), "depth", alpha=1e-3).verdict == "pass"
    assert limit_claim("l", gap_points(lambda d: 0.003), "depth", alpha=1e-3).verdict == "fail"


def limit_points(G_of_eps, seeds=2, eps=(0.005, 0.01, 0.02, 0.04), rel_se=0.02, bound_factor=None, rank=1,
                 chance=0.08):
    return [{"seed": s, "eps": e, "G": G_of_eps(e), "G_se": rel_se * G_of_eps(e), "w_star_rank": rank,
             "rip_bound": None if bound_factor is None else bound_factor * e, "chance_closed_form": chance}
            for e in eps for s in range(seeds)]


@pytest.mark.falsifies("depth_theorem", "limit_vanishes")
def test_vanishing_rule():
    ok = dc.vanishing_claim("v", limit_points(lambda e: 2 * e), 1e-3)
    assert ok.verdict == "pass" and ok.measured == pytest.approx([1.0, 1.0])
    # flat: slope 0 within its CI, not shown to vanish nor contradicted: inconclusive
    assert dc.vanishing_claim("v", limit_points(lambda e: 0.07), 1e-3).verdict == "inconclusive"
    assert dc.vanishing_claim("v", limit_points(lambda e: 0.07 - e), 1e-3).verdict == "fail"  # rises as ε → 0
    nan = limit_points(lambda e: 2 * e if e > 0.015 else np.nan)
    assert dc.vanishing_claim("v", nan, 1e-3).verdict == "inconclusive"


@pytest.mark.falsifies("depth_theorem", "rip_bound")
def test_bound_rule():
    # bound 10 ε below chance 0.08 at ε = 0.005: informative there, holds everywhere
    assert dc.bound_claim("b", limit_points(lambda e: 2 * e, bound_factor=10), 1e-3).verdict == "pass"
    # informative at the smallest ε only (bound 10 ε vs chance 0.08: below chance for ε < 0.008): judged there
    assert dc.bound_claim("b", limit_points(lambda e: 2 * e, bound_factor=10, chance=0.08,
                                            eps=(0.005, 0.01)), 1e-3).verdict == "pass"
    # the same bound above chance at every ε: it holds but says nothing
    assert dc.bound_claim("b", limit_points(lambda e: 2 * e, bound_factor=10, chance=0.01), 1e-3).verdict == "vacuous"
    # a violated bound fails even where it is above chance
    assert dc.bound_claim("b", limit_points(lambda e: 2 * e, bound_factor=1, chance=0.01), 1e-3).verdict == "fail"
    assert dc.bound_claim("b", limit_points(lambda e: 2 * e, bound_factor=1), 1e-3).verdict == "fail"
    assert dc.bound_claim("b", limit_points(lambda e: 2 * e, bound_factor=2.01), 1e-3).verdict == "inconclusive"
    assert dc.bound_claim("b", limit_points(lambda e: 2 * e), 1e-3).verdict == "inconclusive"  # δ_2⁻ ≥ 1
    assert dc.bound_claim("b", limit_points(lambda e: 2 * e, bound_factor=10, rank=2), 1e-3).verdict == "fail"


@pytest.mark.falsifies("depth_theorem", "gd_low")
def test_gd_rule_counts_diverged_runs_as_failures():
    pts = [{"depth": d, "gd_gen_loss": 1e-5, "chance_closed_form": 0.08, "C": 0.08} for d in (2, 4, 8, 12)
           for _ in range(4)]
    assert dc.gd_claim("gd", pts, 0.1, 1e-3).verdict == "pass"
    assert dc.gd_claim("gd", [{**q, "gd_gen_loss": float("nan")} for q in pts], 0.1, 1e-3).verdict == "fail"
    assert dc.gd_claim("gd", [{**q, "gd_gen_loss": 0.02} for q in pts], 0.1, 1e-3).verdict == "fail"


def test_fit_linear_recovers_a_line_and_its_uncertainty():
    rng = np.random.default_rng(0)
    x = np.arange(10.0)
    cov = 0.01 * (np.eye(10) + 0.5)  # correlated errors
    L = np.linalg.cholesky(cov)
    slopes = [fit_linear(x, 1 - 0.3 * x + L @ rng.standard_normal(10), cov, level=0.999) for _ in range(2000)]
    b = np.array([f.slope for f in slopes])
    assert abs(b.mean() + 0.3) < 4.9 * b.std() / np.sqrt(b.size)
    assert slopes[0].slope_se == pytest.approx(b.std(), rel=0.1)  # the sandwich SE is the real spread
    assert fit_linear(x, 2 + 0.5 * x, np.full(10, 1e-4), level=0.99).slope == pytest.approx(0.5)


def test_paper_init_scales():
    assert [ds.paper_init_scale(d) for d in (2, 4, 5, 8, 9, 10, 20)] == [1e-3, 1e-3, 0.1, 0.1, 0.2, 0.2, 0.2]


def test_claims_cover_every_activation_requested_for_gd():
    params = {**dt.PARAMS.quick, "gd_activations": ["linear"], "eps": [0.02], "alpha": 1e-3, "mode": "quick"}
    pts = [{"kind": kind, "activation": a, "depth": 2, "seed": 0, "eps": 0.02, "G": 0.05, "G_se": 1e-3,
            "G_limit": 0.05, "G_limit_se": 1e-3, "C": 0.08, "C_se": 1e-4, "chance_closed_form": 0.08,
            "gd_gen_loss": 1e-5} for a in ("linear", "tanh") for kind in ("depth", "gd")]
    claims = dc.build_claims(pts, [parse_activation("linear"), parse_activation("tanh")], params)
    assert [c.name for c in claims if c.name.startswith("gd_low")] == ["gd_low[linear]"]


@pytest.mark.falsifies("depth_theorem", "local_law")
def test_local_law_rule():
    def pts(G_of_eps, kappa=2.0, rank=1, scale=0.01):
        return [{"seed": 0, "eps": e, "G": G_of_eps(e), "G_se": 0.01 * G_of_eps(e), "local_kappa": kappa,
                 "local_scale": scale, "w_star_rank": rank, "se_dof": 7} for e in (1e-4, 2e-4, 4e-4, 0.01)]
    assert dc.local_law_claim("l", pts(lambda e: 2 * e * (1 + 3 * e)), 1e-3, 0.1).verdict == "pass"
    assert dc.local_law_claim("l", pts(lambda e: 2.2 * e), 1e-3, 0.1).verdict == "fail"  # κ off by 10%
    assert dc.local_law_claim("l", pts(lambda e: 2 * e, scale=1e-3), 1e-3, 0.1) is None  # not deep enough
    assert dc.local_law_claim("l", pts(lambda e: 0.05, rank=2), 1e-3, 0.1).verdict == "fail"


def test_the_rank1_limit_at_eps_zero_is_exact_zero_only_where_the_local_law_holds():
    good = ds.limit_at_zero(ds._local_law(random_problem(5, 5, 1, 15, np.random.default_rng(0))))
    assert good.G == 0.0 and good.G_se == 0.0 and good.eps == 0.0 and not np.isfinite(good.C)
    bad = ds.limit_at_zero(ds._local_law(equal_rank2_problem(20, 5)))
    assert np.isnan(bad.G)
    # a theory value is never counted as a measurement of the bound
    pts = limit_points(lambda e: 2 * e, eps=(0.0, 0.005, 0.01, 0.02), bound_factor=10)
    assert dc.bound_claim("b", pts, 1e-3).test.startswith("max G/bound") and "at 6 points" in \
        dc.bound_claim("b", pts, 1e-3).test


def test_informative_setting_goes_straight_to_nested_sampling(monkeypatch):
    """Rejection cannot reach the informative RIP thresholds (local-law p ~ e^-125): the task must not spend its
    rejection budget first (it did, > 10 min per problem at --full), and it uses its own coarse nested setting."""
    seen = {}

    def fake_limit(prob, eps, rng, *, method, options, **kw):
        seen.update(method=method, options=options)
        return []

    monkeypatch.setattr(ds, "rank1_depth_limit", fake_limit)
    params = {**dt.PARAMS.quick, "s": 0, "kind": "informative", "informative_m": 6, "informative_n": 30, "rip_restarts": 2,
              "informative_particles": 37, "informative_moves": 3}
    task = ds.task("informative/s0", params, 0, 8, 0)
    dt.compute(task)
    assert seen["method"] == "nested"
    assert (seen["options"]["particles"], seen["options"]["moves"]) == (37, 3)


def test_sequential_rounds_only_add_tasks():
    """--until-decisive doubles seeds and gd_seeds; every task of a round is a task of the next (same key, same
    parameters but the grown counts), so the checkpoint's points are reused."""
    params = {**dt.PARAMS.quick, "mode": "quick"}
    assert dt.GROWS == ("seeds", "gd_seeds")
    rounds = [{t.key: t for t in dt.points(dt.grow(params, r), 0)} for r in (1, 2)]
    assert dt.grow(params, 2)["seeds"] == 2 * params["seeds"] and dt.grow(params, 2)["gd_seeds"] == 2 * params["gd_seeds"]
    assert set(rounds[0]) < set(rounds[1])
    for key, t in rounds[0].items():
        same = {k: v for k, v in t.params.items() if k not in dt.GROWS}
        other = {k: v for k, v in rounds[1][key].params.items() if k not in dt.GROWS}
        assert same.keys() == other.keys() and t.seed == rounds[1][key].seed
        assert all(np.array_equal(same[k], other[k]) if isinstance(same[k], np.ndarray) else same[k] == other[k]
                   for k in same)
