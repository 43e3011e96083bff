"""The which_minimizer check: its claims pass on small settings, reject wrong closed forms and a violated
hypothesis, bad input is one line with exit code 2, and (slow) the quick CLI run passes within 60 s."""
import json
import math
import resource
import subprocess
import sys

import numpy as np
import pytest
import torch

from numerics.linearized_mlp import NTKMLP, sphere_regression_data, torch_generator
from theory import which_minimizer as theory
from verify import rules
from verify import which_minimizer as check
from verify.errors import UserInputError

TINY = {**check.QUICK, "problems": 1, "max_rows": 5, "pairs": 2, "independent_inits": 8, "width": 64,
        "n_train": 6, "n_test": 20, "alphas": [0.5, 1.0, 2.0], "adagrad_problems": 1,
        "adagrad_lrs": [0.1, 0.05, 0.025], "widths": [32, 64, 128], "gap_seeds": 2, "gap_steps": 30,
        "mode": "quick"}


def _verdicts(claims):
    return {c.name: c.verdict for c in claims}


def _rng(seed=0):
    return np.random.default_rng(seed)


def test_small_run_passes_and_plots(tmp_path):
    check.validate(TINY)
    record = check.run(TINY, 3, progress=False)
    verdicts = _verdicts(record.claims)
    assert len(verdicts) == 17
    deterministic = [name for name in verdicts if not name.startswith("linearization gap")]
    assert all(verdicts[name] == "pass" for name in deterministic), verdicts
    record.write_json(tmp_path / "wm.json")
    paths = check.plot(json.loads((tmp_path / "wm.json").read_text()), tmp_path / "wm")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)


def test_wrong_gd_closed_form_is_rejected():
    def without_theta0(J, r0, theta0):
        return J.T @ np.linalg.solve(J @ J.T, r0)

    verdicts = _verdicts(check.optimizer_limits(TINY, _rng(), gd_formula=without_theta0)[0])
    assert verdicts["A1: GD, heavy ball -> theta0 + J^T (J J^T)^-1 r0"] == "fail"
    assert verdicts["A1: SGD schedules, step sizes, momentum -> same"] == "fail"


def test_preconditioner_ignored_is_rejected():
    def ignore_p(J, r0, theta0, P):
        return theory.gd_limit(J, r0, theta0)

    verdicts = _verdicts(check.optimizer_limits(TINY, _rng(), precond_formula=ignore_p)[0])
    assert verdicts["A1: fixed preconditioner -> theta0 + P J^T (J P J^T)^-1 r0"] == "fail"
    assert verdicts["A1: GD, heavy ball -> theta0 + J^T (J J^T)^-1 r0"] == "pass"


def test_perturbed_init_scale_coefficients_are_rejected():
    def one_percent_off(*args):
        c = theory.init_scale_coefficients(*args)
        return theory.InitScaleCoefficients(A=c.A, B=c.B, C=1.01 * c.C)

    verdicts = _verdicts(check.init_scale_law(TINY, _rng(), coefficients=one_percent_off)[0])
    assert verdicts["A2: fitted A, C = kernel closed forms"] == "fail"
    assert verdicts["A2: E test MSE = A + C alpha^2 (antithetic pairs)"] == "pass"


def test_l2_normalized_one_point_adagrad_formula_is_rejected():
    def gd_instead(j, r0, theta0):
        return theory.gd_limit(np.asarray(j)[None, :], [r0], theta0)

    verdicts = _verdicts(check.adagrad_limits(TINY, _rng(), one_point=gd_instead)[0])
    assert verdicts["A3: one point, AdaGrad -> theta0 + sign(j) r0/||j||_1"] == "fail"


def _linear_term_setup(offset):
    rng = _rng(11)
    X, y = sphere_regression_data(8, 4, rng)
    Xt, yt = sphere_regression_data(30, 4, rng)
    return (NTKMLP(4, (64,)), torch_generator(rng), torch.cat([X, Xt]), 8, y.numpy() + offset,
            yt.numpy() + offset)


def test_linear_term_rule_rejects_a_sign_asymmetric_init_law():
    """Hypothesis violated (last-layer mean 1): B ≠ 0 is detected. The constant offset of the targets makes
    the kernel-interpolation error correlate with the init-mean error, so the effect is not small here."""
    net, gen, X, n, y, yt = _linear_term_setup(offset=3.0)
    B = check.independent_linear_terms(net, gen, X, n, y, yt, 64, 1.0, theory.init_scale_coefficients)
    claim = rules.agree("B = 0", B.mean(), B.std(ddof=1) / math.sqrt(len(B)), 0.0)
    assert claim.verdict == "fail"
    B_sym = check.independent_linear_terms(net, gen, X, n, y, yt, 64, 0.0, theory.init_scale_coefficients)
    assert rules.agree("B = 0", B_sym.mean(), B_sym.std(ddof=1) / math.sqrt(len(B_sym)), 0.0).verdict == "pass"


def test_without_antithetic_pairs_the_quadratic_fit_is_not_exact():
    net, gen, X, n, y, yt = _linear_term_setup(offset=0.0)
    alphas = np.array([0.5, 1.0, 2.0, 4.0])
    coefs = []
    for _ in range(6):
        theta0 = net.init(gen)
        J, g = net.jacobian(theta0, X).numpy(), net(theta0, X).numpy()
        coefs.append(theory.init_scale_coefficients(J[:n], J[n:], g[:n], g[n:], y, yt))
    *_, residual = check.fit_a_plus_c_alpha2(alphas, np.mean([c.mse(alphas) for c in coefs], axis=0))
    assert residual > 1e3 * check.LAW_RTOL


@pytest.mark.parametrize("distances, verdict", [
    (lambda lr: 0.3 * lr, "pass"),  # first order
    (lambda lr: 0.05 + 0 * lr, "fail"),  # no limit as lr -> 0
    (lambda lr: 1e-10 * lr, "inconclusive"),  # below the flow's accuracy
])
def test_learning_rate_slope_rule(distances, verdict):
    lrs = np.array([0.2, 0.1, 0.05, 0.025])
    to_flow = np.array([distances(lrs), 1.5 * distances(lrs)])
    assert check._lr_slope_claim(lrs, to_flow, True)[0].verdict == verdict


@pytest.mark.parametrize("override, key", [
    ({"momentum": 1.0}, "momentum"), ({"alphas": [1.0, 1.0, 2.0]}, "alphas"), ({"widths": [64, -8, 128]}, "widths"),
    ({"width": 4}, "width"), ({"adagrad_rows": 7}, "adagrad_rows"), ({"pairs": 0}, "pairs"),
    ({"max_rows": 2}, "max_rows"), ({"adagrad_lrs": [2.0, 1.0, 0.5]}, "adagrad_lrs"),
])
def test_validate_names_the_bad_parameter(override, key):
    with pytest.raises(UserInputError, match=key):
        check.validate({**check.QUICK, **override, "mode": "quick"})


def test_problem_file_is_refused():
    with pytest.raises(UserInputError, match="problem"):
        check.run(TINY, 0, problem="x.npz", progress=False)


def test_cli_bad_input_is_one_line_and_exit_code_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "verify", "which_minimizer", "--set", "momentum=1.5",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "momentum" in proc.stderr


@pytest.mark.slow
def test_quick_cli_run_passes_within_a_minute(tmp_path):
    """Budget: 60 s on 2 cores. Measured as the child's CPU time, which a busy machine does not inflate."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, "-m", "verify", "which_minimizer", "--no-progress", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads((tmp_path / "which_minimizer.json").read_text())
    assert record["verdict"] == "pass"
    assert (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) < 60
    assert (tmp_path / "which_minimizer.png").exists() and (tmp_path / "which_minimizer.pdf").exists()
