"""The ``implicit_regularization`` check: the CLI contract on a tiny setting, one-line errors for bad input,
and that each claim can fail — a wrong coefficient in a modified flow gives slope ≈ 1 and fails, a planted
penalty of the wrong size fails the matching claim, the constant-term claim fails when ε dominates the
gradients, and each rule rejects data that contradict it."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify import implicit_regularization as check
from verify.implicit_regularization import claims, data
from verify.executors import run_limited

TINY = {
    "sgd_n_train": 100, "sgd_widths": [8], "sgd_lrs": [0.2, 0.4, 0.8], "sgd_seeds": 2, "loss_goal": 0.5,
    "penalty_lr": 0.2, "penalty_target_lr": 0.4, "max_epochs": 100,
    "flow_n_train": 20, "flow_widths": [4], "halvings": 3, "momentum_horizon": 0.25, "adam_small_horizon": 0.25,
    "adam_large_horizon": 0.5,
    "sign_n_train": 50, "sign_widths": [8], "sign_beta2s": [0.9, 0.99, 0.999], "sign_seeds": 2, "sign_goal": 0.5,
    "repro_n_train": 100, "repro_widths": [8, 8, 8, 8], "repro_epochs": 3, "repro_every": 1, "repro_seeds": 2,
}


def tiny_args(**extra):
    items = {**TINY, **extra}
    out = []
    for k, v in items.items():
        out += ["--set", f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}"]
    return out


def params(**overrides):
    p = {**check.PARAMS.quick, **TINY, "mode": "quick", **overrides}
    check.validate(p)
    return p


def rows_of(p, kind, seed=0):
    tasks = [t for t in check.points(p, seed) if t.params["kind"] == kind]
    return [row for t in tasks for row in run_limited(check.compute, t)]


def test_cli_contract_on_a_tiny_setting(cli, tmp_path):
    record = cli.record("implicit_regularization", tmp_path, "--workers", "1", "--no-progress", *tiny_args())
    names = [c["name"] for c in record["claims"]]
    assert len(names) == 12 and len(set(names)) == 12
    kinds = {p["kind"] for p in record["points"]}
    assert kinds == {"sgd", "flow", "sign", "repro"}
    trace = [p for p in record["points"] if p["kind"] == "repro"]
    assert {"train_error", "test_error", "R", "grad_one_norm_eps", "theta_l2"} <= set(trace[-1])
    assert any("project_rmsprop_term" in p for p in trace if p["optimizer"] == "rmsprop")
    for claim in record["claims"]:
        assert claim["rule"] and claim["verdict"] in ("pass", "fail", "inconclusive")


@pytest.mark.parametrize("setting, message", [
    ("sgd_lrs=0.1,0.2", "sgd_lrs must hold >= 3"),
    ("penalty_target_lr=0.3", "penalty_target_lr must be one of sgd_lrs"),
    ("momentum_h0=0.3", "momentum_horizon / momentum_h0 must be a whole number"),
    ("activation=sigmoid", "activation must be"),
    ("sgd_n_train=100000", "sgd_n_train = 100000: "),
    ("repro_label_noise=1.5", "repro_label_noise must be in [0, 1)"),
    ("sign_beta2s=0.9,0.9,0.99", "sign_beta2s must hold >= 3 distinct"),
    ("halvings=1", "halvings must be >= 3"),
])
def test_bad_parameters_are_one_line_errors(cli, tmp_path, setting, message):
    cli.rejects("implicit_regularization", "--out", str(tmp_path), "--set", setting, message=message)


def test_missing_data_file_is_one_line_error(cli, tmp_path):
    cli.rejects("implicit_regularization", "--out", str(tmp_path), "--data", str(tmp_path / "none.npz"),
                message="no such file")


def test_user_data_is_used(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    path = tmp_path / "d.npz"
    np.savez(path, X_train=X[:100], y_train=y[:100], X_test=X[100:], y_test=y[100:])
    p = check.prepare(dict(params(flow_n_train=30)), {"data": path})
    assert p["dataset"] == "file" and p["data_file"] == str(path.resolve())
    check.validate(p)
    X_t, y_t, *_ , d, C = data.tensors(p, 30)
    assert X_t.shape == (30, 5) and d == 5 and C == 3


FLOW_SETTING = {"flow_n_train": 30, "flow_widths": [6], "halvings": 3}


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_flow_slope_tests_pass_at_the_prediction_and_fail_at_a_wrong_coefficient(scale):
    p = params(**FLOW_SETTING, coefficient_scale=scale)
    rows = rows_of(p, "flow")
    for family in check.FLOW_FAMILIES:
        plain, modified = claims.flow_claims(rows, family)
        assert plain.verdict != "fail", (family, plain.test)  # pre-asymptotic at 4 points: may be inconclusive
        if scale == 1.0:
            assert modified.verdict == "pass", (family, modified.test)
        else:  # the error against a wrongly weighted correction is O(h): slope ≈ 1, outside [1.8, 2.2]
            assert modified.verdict == "fail" and modified.measured < 1.5, (family, modified.test)
            if "≪" not in family:  # (√ε ≪ |g|: the O(h²) start-up transient still bends the 4-point fit)
                assert abs(modified.measured - 1) < 0.25, (family, modified.test)


def test_constant_term_claim_fails_when_eps_dominates_the_gradients():
    """With ε = 1 the preconditioner is ≈ 1, the project's term is ≈ (η/4)R ≪ ηP/4: the claim must fail."""
    p = params(repro_epochs=30, repro_every=10, repro_seeds=2, repro_rmsprop_beta2=0.9, repro_eps=1.0)
    rows = [r for r in rows_of(p, "repro") if r["optimizer"] == "rmsprop"]
    claim = claims.constant_term_claim(rows, p)
    assert claim.verdict == "fail" and claim.measured < 0.5


@pytest.mark.slow
def test_planted_penalty_of_the_wrong_size_fails_the_matching_claim():
    p = params(sgd_n_train=500, sgd_widths=[64, 64], sgd_lrs=[0.1, 0.2, 0.4], sgd_seeds=4, loss_goal=0.03,
               penalty_lr=0.1, penalty_target_lr=0.4, penalty_factor=6.0, max_epochs=400)
    claim = claims.penalty_claim(rows_of(p, "sgd"), p)
    assert claim.verdict == "fail", claim.test


# ------------------------------------------------------------------ each rule rejects contradicting data

def sgd_row(s, lr, R, penalty=0.0):
    return {"kind": "sgd", "replicate": s, "lr": lr, "penalty": penalty, "reached": True, "R": R}


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1), slope=st.floats(-0.5, 0.5).filter(lambda v: abs(v) > 0.1))
def test_r_falls_claim_follows_the_sign_of_the_slope(seed, slope):
    rng = np.random.default_rng(seed)
    p = params()
    rows = [sgd_row(s, lr, 0.05 * lr ** slope * np.exp(0.01 * rng.normal()))
            for s in range(5) for lr in (0.1, 0.2, 0.4, 0.8)]
    claim = claims.r_falls_claim(rows, p)
    assert claim.verdict == ("pass" if slope < 0 else "fail")


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1), ratio=st.sampled_from([0.5, 1.0, 1.6]))
def test_penalty_claim_rejects_a_penalty_of_the_wrong_size(seed, ratio):
    rng = np.random.default_rng(seed)
    p = params(sgd_lrs=[0.1, 0.2, 0.4], penalty_lr=0.1, penalty_target_lr=0.4)
    rows = []
    for s in range(6):
        R = 0.04 * np.exp(0.1 * rng.normal())
        rows += [sgd_row(s, 0.4, R), sgd_row(s, 0.1, R * ratio * np.exp(0.005 * rng.normal()), penalty=0.3)]
    assert claims.penalty_claim(rows, p).verdict == ("pass" if ratio == 1.0 else "fail")


def test_sign_and_norm_claims_reject_the_opposite_sign():
    p = params(sign_beta2s=[0.9, 0.99, 0.999], sign_seeds=3, repro_seeds=3)
    for direction in (1, -1):
        rows = [{"kind": "sign", "replicate": s, "beta2": b, "reached": True,
                 "grad_l1": (1 / (1 - b)) ** (0.05 * direction) * (1 + 0.001 * s)} for s in range(3)
                for b in (0.9, 0.99, 0.999)]
        assert claims.sign_claim(rows, p).verdict == ("pass" if direction > 0 else "fail")
        rows = [{"kind": "repro", "optimizer": o, "replicate": s, "final": True,
                 "theta_l2": 10 + (0 if o == "sgd" else direction * (2 + 0.1 * s))}
                for s in range(3) for o in check.OPTIMIZERS]
        verdicts = {c.verdict for c in claims.norm_claims(rows, p)}
        assert verdicts == {"pass" if direction > 0 else "fail"}
