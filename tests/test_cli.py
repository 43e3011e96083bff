"""The CLI's contract shared by every check: listing, and bad input refused in one line with exit code 2."""
import json
import subprocess
from html import escape as html_escape
import sys

import numpy as np
import pytest

from verify.registry import CHECKS

GNC_CHECKS = ["width_theorem", "depth_theorem"]  # the checks that take --problem


def test_list_names_every_check(cli):
    code, out, _ = cli("--list")
    assert code == 0 and all(name in out for name in CHECKS)


@pytest.mark.parametrize("check", GNC_CHECKS)
@pytest.mark.parametrize("args, message", [
    (["--set", "activations=relu6"], "activation"), (["--set", "prior=laplace"], "prior must be one of"),
    (["--set", "bogus=1"], "unknown parameter"), (["--set", "draws=many"], "expected int"),
    (["--set", "gd=perhaps"], "expected bool"), (["--seed", "-1"], "seed"),
    (["--problem", "does_not_exist.npz"], "no such file"),
])
def test_bad_shared_parameters_are_one_line_and_exit_2(cli, tmp_path, check, args, message):
    cli.rejects(check, "--out", str(tmp_path), *args, message=message)


@pytest.mark.parametrize("check", GNC_CHECKS)
def test_malformed_problem_file_is_rejected(cli, tmp_path, check):
    np.savez(tmp_path / "p.npz", A=np.ones((30, 5, 5)), W_star=np.eye(5))
    err = cli.rejects(check, "--problem", str(tmp_path / "p.npz"), message="problem:")
    assert err.startswith("error: problem:")


def test_eps_zero_with_a_prior_auto_cannot_serve_is_bad_input(cli, tmp_path):
    """Normalized prior at ε = 0: no method integrates its last layer out, and auto says so up front."""
    cli.rejects("width_theorem", "--out", str(tmp_path), "--set", "prior=normalized", "--set", "eps=0",
                "--set", "widths=5", "--set", "extra_widths=", "--set", "gd=false", "--set", "seeds=1",
                message="eps = 0 needs a Gaussian-linear last layer")


@pytest.mark.parametrize("check", CHECKS)
def test_params_lists_every_parameter_with_its_meaning(cli, check):
    from verify import registry
    code, out, _ = cli(check, "--params")
    assert code == 0 and "alpha" in out and "quick" in out
    for key in registry.defaults(registry.load(check)):
        assert f"\n{key} " in out or f"\n{key}  " in out, key


def test_typos_get_did_you_mean(cli):
    cli.rejects("modifed_loss", message="did you mean 'modified_loss'")
    cli.rejects("modified_loss", "--set", "halvigs=3", message="did you mean 'halvings'")


def test_sequential_flags_are_checked(cli):
    cli.rejects("modified_loss", "--max-rounds", "3", message="--max-rounds goes with --until-decisive")
    cli.rejects("modified_loss", "--until-decisive", "--max-rounds", "0", message="--max-rounds must be in 1..16")
    cli.rejects("modified_loss", "--budget-min", "2", message="--budget-min goes with --until-decisive")


def test_out_must_be_a_writable_directory(cli, tmp_path):
    (tmp_path / "file").write_text("x")
    cli.rejects("modified_loss", "--out", str(tmp_path / "file"), message="not a writable directory")


def test_changed_parameter_on_resume_keeps_the_checkpoint_and_exits_2(cli, tmp_path):
    from verify import registry
    stale = tmp_path / "modified_loss.partial.jsonl"
    params = {**registry.defaults(registry.load("modified_loss")), "mode": "quick"}
    header = {"identity": {"check": "modified_loss", "params": params, "seed": 0, "inputs": {}}}
    text = json.dumps(header) + "\n" + json.dumps({"key": "igr", "points": [{"x": 1}]}) + "\n"
    stale.write_text(text)
    err = cli.rejects("modified_loss", "--out", str(tmp_path), "--set", "halvings=6", message="--restart")
    assert "(halvings=5 there, 6 now)" in err
    assert stale.read_text() == text  # nothing lost


def test_show_plot_and_report_from_saved_records(cli, tmp_path):
    record = cli.record("modified_loss", tmp_path)
    code, out, _ = cli("show", str(tmp_path / "modified_loss.json"))
    assert code == {"pass": 0, "fail": 1, "inconclusive": 3, "vacuous": 4}[record["verdict"]]
    assert all(c["name"][:40] in out for c in record["claims"]) and "verdict:" in out
    code, out, _ = cli("plot", str(tmp_path / "modified_loss.json"), "--out", str(tmp_path / "fig"),
                       "--style", "paper", "--format", "svg")
    assert code == 0 and (tmp_path / "fig" / "modified_loss.svg").stat().st_size > 10_000
    code, _, _ = cli("report", "--from", str(tmp_path), "--out", str(tmp_path / "rep"))
    html = (tmp_path / "rep" / "report.html").read_text()
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "data:image/png;base64," in html and "http" not in html.replace("http-equiv", "")
    for claim in record["claims"]:
        assert html_escape(claim["name"]) in html
        assert claim["name"] in md and claim["tier"] in md
    cli.rejects("report", "--from", str(tmp_path / "nothing"), message="not a directory")
    cli.rejects("report", "--checks", "modified_loss,bogus", message="unknown check 'bogus'")


def test_importing_checks_leaves_the_matplotlib_backend_alone():
    code = ("import matplotlib; matplotlib.use('svg'); import verify, verify.registry as r\n"
            "[r.load(c) for c in r.CHECKS]; import verify.figures\n"
            "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
            "assert callable(verify.checks) and callable(verify.params)\n"
            "assert 'alpha' in verify.params('modified_loss') and 'width_theorem' in verify.checks()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_api_refuses_bad_input_in_one_line():
    import verify
    with pytest.raises(verify.UserInputError, match="did you mean 'halvings'"):
        verify.run("modified_loss", halvigs=3)
    with pytest.raises(verify.UserInputError, match="halvings must be an integer"):
        verify.run("modified_loss", halvings="5")
    with pytest.raises(verify.UserInputError, match="seed must be a non-negative integer"):
        verify.run("modified_loss", seed=-1)


def test_record_api(tmp_path):
    import verify
    record = verify.run("modified_loss", halvings=4)
    assert len(repr(record)) < 120 and record.check in repr(record)
    table = record.claims_table()
    assert len(table) == len(record.claims) and {"name", "tier", "verdict", "ci"} <= set(table[0])
    assert record.points_table() and "<table>" in record._repr_html_()
    paths = record.save(tmp_path)
    assert (tmp_path / "modified_loss.json").is_file() and all(p.exists() for p in paths)
    assert verify.Record.from_dict(json.loads((tmp_path / "modified_loss.json").read_text())).verdict == record.verdict
