"""Figure presets of the G&C paper (verify/gnc/presets.py): each preset's settings and scope statement, the
rule that user overrides win, bad figure numbers, the scope verdict and its guard, the paper-layout figure.

The expected settings and scopes below are written from the paper's figure captions and the authors' code
(Alexander et al. 2025, Figures 1-11), not read back from the preset table.
"""
import json

import pytest

from verify.registry import load as load_check
from verify.errors import UserInputError
from verify.gnc.presets import PRESETS, apply_preset, scope_of, scope_verdict
from verify.gnc.suite import summary_table

# figure -> (check, inside the theorem's hypotheses, settings the spec fixes, words the scope must state)
SPEC = {
    1: ("width_theorem", True, {"rank": 1, "n": 15, "prior": "gaussian", "gd_momentum": 0.0}, ["Theorem 1"]),
    2: ("depth_theorem", True, {"rank": 1, "n": 15, "prior": "normalized", "width": 5}, ["RIP", "vacuous"]),
    3: ("width_theorem", True, {"gd_momentum": 0.9, "prior": "gaussian"}, ["momentum", "never applied"]),
    4: ("depth_theorem", True, {"gd_momentum": 0.9, "prior": "normalized"}, ["momentum", "never applied"]),
    5: ("width_theorem", True, {"rank": 2, "n": 22}, ["rank"]),
    6: ("depth_theorem", False, {"rank": 2, "n": 22}, ["rank-1", "must not pass"]),
    7: ("width_theorem", True, {"prior": "uniform"}, ["regular"]),
    8: ("depth_theorem", False, {"prior": "uniform"}, ["empirical"]),
    9: ("width_theorem", True, {"measurements": "completion"}, ["not RIP"]),
    10: ("depth_theorem", False, {"measurements": "completion"}, ["not RIP", "delta_2"]),
    11: ("depth_theorem", False, {"prior": "gaussian"}, ["normalization", "must not be reported"]),
}
FULL_EPS = {1: 0.02, 2: 0.0035, 6: 0.01, 11: 0.01}


def preset_params(figure, mode="quick", **user):
    check = SPEC[figure][0]
    module = load_check(check)
    defaults = module.PARAMS.defaults(mode == "full")
    params = {**defaults, **user, "figure": str(figure), "mode": mode}
    return module, apply_preset(check, params, defaults)


def test_the_table_covers_the_eleven_figures():
    assert sorted(PRESETS) == list(range(1, 12))


@pytest.mark.parametrize("figure", sorted(SPEC))
@pytest.mark.parametrize("mode", ["quick", "full"])
def test_each_preset_states_its_scope_and_fixes_the_spec_settings(figure, mode):
    check, inside, settings, words = SPEC[figure]
    module, p = preset_params(figure, mode)
    module.validate(p)  # every preset is a valid run of its check
    scope = scope_of(p)
    assert scope["figure"] == figure and scope["check"] == check and scope["in_scope"] is inside
    assert all(p[k] == v for k, v in settings.items()), {k: p[k] for k in settings}
    assert all(w in scope["statement"] for w in words), scope["statement"]
    assert scope["applies"], "every preset judges some claim as a verdict on a theorem"
    # the authors' GD initialization is the presets' default
    assert p["gd_init_law"] == "torch_default" and p["gd_optimizer"] == "adaptive"
    if mode == "full" and figure in FULL_EPS:
        assert p["eps"] == [FULL_EPS[figure]]
    if mode == "full":
        assert p["seeds"] == 8  # the paper's 8 seeds per point


def test_full_presets_use_the_paper_sweeps():
    assert preset_params(1, "full")[1]["widths"] == [5, 10, 20, 40, 80, 160]
    assert preset_params(1, "full")[1]["gd_steps"] == 100_000 and preset_params(1, "full")[1]["gd_lr"] == 1e-4
    assert preset_params(5, "full")[1]["gd_steps"] == 50_000
    p2 = preset_params(2, "full")[1]
    assert p2["depths"] == list(range(2, 11)) and p2["gd_steps"] == 20_000 and p2["gd_lr"] == 1e-2


def test_out_of_scope_presets_guard_the_violated_claims():
    assert scope_of(preset_params(6)[1])["must_not_pass"] == ["limit_vanishes", "rip_bound", "local_law"]
    assert set(scope_of(preset_params(11)[1])["must_not_pass"]) == {"chance_matches_closed_form",
                                                                   "limit_at_largest_depth"}
    for figure in (6, 11):
        p = scope_of(preset_params(figure)[1])
        assert not set(p["applies"]) & set(p["must_not_pass"])


def test_user_settings_win_over_the_preset_and_no_preset_changes_nothing():
    _, p = preset_params(5, seeds=1, draws=999)
    assert p["seeds"] == 1 and p["draws"] == 999 and p["rank"] == 2
    module = load_check("width_theorem")
    plain = {**module.PARAMS.quick, "mode": "quick"}
    assert apply_preset("width_theorem", dict(plain), module.PARAMS.quick) == plain and scope_of(plain) is None


@pytest.mark.parametrize("check, figure, message", [
    ("width_theorem", "2", "depth_theorem preset"), ("depth_theorem", "1", "width_theorem preset"),
    ("width_theorem", "12", "1..11"), ("width_theorem", "three", "figure must be"),
    ("width_theorem", "all", "gnc_figures"),
])
def test_bad_figures_are_user_errors(check, figure, message):
    module = load_check(check)
    with pytest.raises(UserInputError, match=message):
        apply_preset(check, {**module.PARAMS.quick, "figure": figure, "mode": "quick"}, module.PARAMS.quick)


def test_cli_refuses_a_figure_of_the_other_check(cli, tmp_path):
    cli.rejects("width_theorem", "--out", str(tmp_path), "--set", "figure=2", message="depth_theorem preset")


def claim(name, verdict):
    return {"name": name, "predicted": 0, "measured": 0, "ci": None, "rule": "", "verdict": verdict, "test": ""}


def test_scope_verdict_uses_the_applicable_claims_and_flags_a_guard_violation():
    # figure 11: lyapunov_slope applies, limit_at_largest_depth must not pass, gd_low is an empirical curve
    rec = {"verdict": "fail", "params": {"figure": "11"},
           "claims": [claim("lyapunov_slope[k=5]", "pass"), claim("limit_at_largest_depth[x]", "fail"),
                      claim("gd_low[linear]", "fail")]}
    judged = scope_verdict(rec)
    assert judged["verdict"] == "pass" and judged["guard"] == "held" and judged["applied"] == ["lyapunov_slope[k=5]"]
    rec["claims"][1]["verdict"] = "pass"
    assert scope_verdict(rec)["guard"] == "VIOLATED"
    rec["claims"][0]["verdict"] = "inconclusive"
    assert scope_verdict(rec)["verdict"] == "inconclusive"
    table = summary_table([{"figure": 6, "check": "depth_theorem", "setting": "s", "in_scope": False,
                            "verdict": "pass", "guard": "held", "headline": "fail", "runtime_s": 1.0}])
    assert "| 6 | depth_theorem | s | outside | pass | held | fail | 1.0 |" in table


def test_a_width_preset_run_records_its_scope_and_draws_the_paper_figure(cli, tmp_path):
    record = cli.record("width_theorem", tmp_path, "--no-progress", "--workers", "1", "--set", "figure=3", "--set", "widths=5,40", "--set", "extra_widths=",
                        "--set", "seeds=2", "--set", "draws=1500", "--set", "limit_samples=2000",
                        "--set", "gd_steps=200", "--set", "activations=linear,tanh")
    assert record["params"]["figure"] == "3" and record["params"]["gd_momentum"] == 0.9
    assert any("Figure 3" in note for note in record["notes"])
    assert (tmp_path / "width_theorem_figure3.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "width_theorem.json").read_text())["params"]["figure"] == "3"


@pytest.mark.parametrize("args, message", [(["--figures", "abc"], "--figures"), (["--figures", "12"], "1..11"),
                                           (["--workers", "0"], "--workers")])
def test_the_figure_suite_refuses_bad_arguments_in_one_line(args, message, tmp_path):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "verify.gnc_figures", "--out", str(tmp_path), *args],
                         capture_output=True, text=True)
    assert out.returncode == 2 and message in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
