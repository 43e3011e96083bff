"""``python -m verify volume_hypothesis``: bad input, a small end-to-end run, and that every claim can fail."""
import math

import numpy as np
import pytest
import torch

from numerics.datasets import digits_task
from numerics.gnc_classifier import guess_and_check
from numerics.models import make_model
from verify import volume_hypothesis as vh
from verify.engine import judge
from verify.volume_hypothesis.sweep import _dataset

TINY = ["--set", "pairs=1", "--set", "n_train=2,4", "--set", "draws=3000", "--set", "sgd_runs_chiang=2", "--set", "sgd_runs_peleg_hein=2",
        "--set", "search_runs=2", "--set", "search_n=4", "--set", "search_sweeps=1", "--set", "search_steps=30",
        "--set", "control_n=4", "--set", "control_reps=3", "--set", "control_draws=1000",
        "--set", "boundary_models=5", "--set", "poison_n=4", "--set", "poison_count=4", "--set", "kink_n=4", "--set", "slab_n=4", "--set", "max_accepted=100",
        "--workers", "1", "--no-progress"]


@pytest.mark.parametrize("override, message", [
    ("n_train=3,4", "n_train must be even"),
    ("arch=rnn", "arch must be one of"),
    ("methods=gnc,annealing", "methods must be one of"),
    ("classes=3,3", "classes must be two distinct digits"),
    ("loss_bins=0.5,0.4", "loss_bins must be increasing"),
    ("prior=laplace", "prior must be one of"),
    ("search_n=0", "search_n must be >= 1"),
    ("normalization=l1", "normalization must be one of"),
    ("draws=0", "draws must be >= 1"),
    ("n_train=2,400", "n_train must be <= 160"),
    ("arch=cnn", "cnn widths must be >= 8"),
])
def test_bad_parameters_are_one_line_errors(cli, override, message):
    extra = ["--set", "widths=4"] if override == "arch=cnn" else []
    cli.rejects("volume_hypothesis", "--set", override, *extra, message=message)


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_bad_data_files_are_one_line_errors(cli, tmp_path):
    ds = digits_task((0, 1), 8, data_seed=0)
    good = dict(X_train=ds.X_train, y_train=ds.y_train, X_test=ds.X_test, y_test=ds.y_test)
    cli.rejects("volume_hypothesis", "--data", str(tmp_path / "none.npz"), message="no such file")
    missing = _npz(tmp_path / "m.npz", **{k: v for k, v in good.items() if k != "X_test"})
    cli.rejects("volume_hypothesis", "--data", str(missing), message="missing array(s) X_test")
    nan = _npz(tmp_path / "n.npz", **{**good, "X_train": np.full_like(ds.X_train, np.nan)})
    cli.rejects("volume_hypothesis", "--data", str(nan), message="X_train must be finite")
    ok = _npz(tmp_path / "ok.npz", **good)
    cli.rejects("volume_hypothesis", "--data", str(ok), "--set", "n_train=2,16", message="n_train must be <= 8")


def test_data_file_is_used_as_given(tmp_path):
    ds = digits_task((2, 5), 8, data_seed=0)
    raw = dict(X_train=ds.X_train * 16, y_train=ds.y_train, X_test=ds.X_test * 16, y_test=ds.y_test)
    path = _npz(tmp_path / "raw.npz", **raw)
    p = vh.prepare({**vh.PARAMS.quick, "mode": "quick"}, {"data": path})
    vh.validate({**p, "n_train": [2, 4, 8]})
    loaded = _dataset({"data_file": p["data_file"]})
    np.testing.assert_array_equal(loaded.X_train, raw["X_train"])  # no rescaling
    np.testing.assert_array_equal(loaded.X_test, raw["X_test"])


def test_small_run_writes_record_and_figures(cli, tmp_path):
    record = cli.record("volume_hypothesis", tmp_path, *TINY)
    names = {c["name"] for c in record["claims"]}
    assert {"chiang_comparable[n=2]", "peleg_hein_gap[n=4]", "gnc_above_chance", "bits_below_n",
            "random_label_bits", "random_label_chance"} <= names
    methods = {r["method"] for r in record["points"] if r["kind"] == "point"}
    assert methods == {"gnc", "sgd_chiang", "sgd_peleg_hein", "pattern_search", "random_greedy", "gnc_random_labels",
                       "sgd_poisoned"}
    assert "poisoned_sgd_below_gnc[n=4]" in names
    row = next(r for r in record["points"] if r["kind"] == "point" and r["method"] == "gnc" and r["n"] == 4)
    for key in ("dataset", "classes", "n", "data_seed", "arch", "width", "prior", "method", "normalization", "draws",
                "accepted", "p_hat", "p_se", "bits", "test_acc_mean", "test_acc_se", "normalized_losses"):
        assert key in row
    assert (tmp_path / "volume_hypothesis_kink_slab.png").exists()
    again = judge(vh, record["points"], record["params"])  # judge is pure: same claims from the record (Holm)
    assert [c.verdict for c in again] == [c["verdict"] for c in record["claims"]]


# ----------------------------------------------------------------------------------------------------
# every claim can fail
# ----------------------------------------------------------------------------------------------------
def _rows(method, bias, n, accs, cell="0v1"):
    accs = np.asarray(accs, float)
    return {"kind": "point", "method": method, "bias": bias, "n": n, "cell": cell, "data_seed": 0, "width": 32,
            "test_acc_mean": float(accs.mean()), "test_acc_se": float(accs.std(ddof=1) / math.sqrt(accs.size)),
            "test_accs": accs.tolist(), "accepted": accs.size, "n_classes": 2, "bits": 3.0, "bits_se": 0.1}


def _params(**kw):
    return {**vh.PARAMS.quick, "alpha": 1e-3, "n_train": [8], "mode": "quick", **kw}


@pytest.mark.parametrize("gap, chiang, ph", [(0.0, "pass", "fail"), (0.25, "fail", "pass")])
def test_equivalence_claims_follow_a_planted_difference(gap, chiang, ph):
    rng = np.random.default_rng(0)
    rows = []
    for bias in (True, False):
        base = rng.normal(0.8, 0.02, 400)
        rows += [_rows("gnc", bias, 8, base - gap)]
        rows += [_rows(m, bias, 8, rng.normal(0.8, 0.02, 40)) for m in ("sgd_chiang", "sgd_peleg_hein")]
    claims = {c.name: c for c in vh.judge(rows, _params())}
    assert claims["chiang_comparable[n=8]"].verdict == chiang
    assert claims["peleg_hein_gap[n=8]"].verdict == ph


def test_above_chance_and_bits_claims_can_fail():
    rows = [_rows("gnc", True, 8, np.random.default_rng(1).normal(0.3, 0.02, 200))]
    rows[0]["bits"], rows[0]["bits_se"] = 12.0, 0.1
    claims = {c.name: c for c in vh.judge(rows, _params(bias=[True], methods=["gnc"]))}
    assert claims["gnc_above_chance"].verdict == "fail"
    assert claims["bits_below_n"].verdict == "fail"


def _control_rows(labels_random: bool, seed0: int):
    """G&C fits at n = 8 to random labels (the control) or to the true labels (the control must reject)."""
    from numerics.datasets import random_labels
    ds = digits_task((0, 1), 8, data_seed=0)
    model = make_model("mlp", 64, 2, width=16)
    rows = []
    for rep in range(12):
        data = random_labels(ds, np.random.default_rng(seed0 + rep)) if labels_random else ds
        r = guess_and_check(model, data, prior="uniform", draws=3000, generator=torch.Generator().manual_seed(seed0 + rep),
                            max_test_models=100)[0]
        rows.append({**r.to_row(), "method": "gnc_random_labels", "n_classes": 2})
    return rows


def test_random_label_control_rejects_true_labels():
    claims = vh.control_claims(_control_rows(False, 0), _params(), 1e-3, 0.05)
    verdicts = {c.name: c.verdict for c in claims}
    assert verdicts == {"random_label_bits": "fail", "random_label_chance": "fail"}


def test_random_label_control_holds_with_random_labels():
    claims = vh.control_claims(_control_rows(True, 100), _params(), 1e-3, 0.05)
    verdicts = {c.name: c.verdict for c in claims}
    assert verdicts["random_label_bits"] in ("pass", "inconclusive")
    assert verdicts["random_label_chance"] == "pass"


def test_loss_bins_run_and_claims_use_the_unbinned_acceptance(cli, tmp_path):
    args = [a for a in TINY]
    record = cli.record("volume_hypothesis", tmp_path, *args, "--set", "methods=gnc,sgd", "--set", "kink_slab=false",
                        "--set", "loss_bins=0.60,0.68,0.70")
    gnc = [r for r in record["points"] if r.get("method") == "gnc" and r["n"] == 4 and r["bias"]]
    assert len(gnc) == 3  # unbinned + two bins
    unbinned = next(r for r in gnc if r["loss_bin"][0] == float("-inf"))
    assert sum(r["accepted"] for r in gnc if r is not unbinned) <= unbinned["accepted"]
    claim = next(c for c in record["claims"] if c["name"] == "chiang_comparable[n=4]")
    d = unbinned["test_acc_mean"] - next(r for r in record["points"] if r.get("method") == "sgd_chiang"
                                         and r["n"] == 4)["test_acc_mean"]
    assert claim["measured"] == pytest.approx(d)
