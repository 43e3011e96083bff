"""The CLI's contract shared by every check: listing, and bad input refused in one line with exit code 2."""
import numpy as np
import pytest

from verify.registry import CHECKS

GNC_CHECKS = ["width_theorem", "depth_theorem"]  # the checks that take --problem


def test_list_names_every_check(cli):
    code, out, _ = cli("--list")
    assert code == 0 and all(name in out for name in CHECKS)


@pytest.mark.parametrize("check", GNC_CHECKS)
@pytest.mark.parametrize("args, message", [
    (["--set", "activations=relu6"], "unknown activation"), (["--set", "prior=laplace"], "unknown prior"),
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
