"""``python -m verify volume_hypothesis``: bad input, a small end-to-end run, and that every claim can fail."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.datasets import digits_task
from numerics.gnc_classifier import guess_and_check
from numerics.models import make_model
from paper_figures import assert_paper_figures
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


_TINY_RUN = {}


def _tiny_run(cli, tmp_path):
    """The TINY run, once for this module (the record contract checked by ``cli.record``): (record, its folder)."""
    if not _TINY_RUN:
        _TINY_RUN.update(record=cli.record("volume_hypothesis", tmp_path, *TINY), out=tmp_path)
    return _TINY_RUN["record"], _TINY_RUN["out"]


def test_small_run_writes_record_and_figures(cli, tmp_path):
    record, out = _tiny_run(cli, tmp_path)
    names = {c["name"] for c in record["claims"]}
    assert {"chiang_comparable[n=2]", "peleg_hein_gap[n=4]", "gnc_above_chance", "bits_below_n[n=4]",
            "random_label_bits", "random_label_chance"} <= names
    methods = {r["method"] for r in record["points"] if r["kind"] == "point"}
    assert methods == {"gnc", "sgd_chiang", "sgd_peleg_hein", "pattern_search", "random_greedy", "gnc_random_labels",
                       "sgd_poisoned"}
    assert "poisoned_sgd_below_gnc[n=4]" in names
    row = next(r for r in record["points"] if r["kind"] == "point" and r["method"] == "gnc" and r["n"] == 4)
    for key in ("dataset", "classes", "n", "data_seed", "arch", "width", "prior", "method", "normalization", "draws",
                "accepted", "p_hat", "p_se", "bits", "test_acc_mean", "test_acc_se", "normalized_losses"):
        assert key in row
    assert (out / "volume_hypothesis_kink_slab.png").exists()
    again = judge(vh, record["points"], record["params"])  # judge is pure: same claims from the record (Holm)
    assert [c.verdict for c in again] == [c["verdict"] for c in record["claims"]]


def _table_record(table, methods, ns=(2, 4), bins=None):
    """A made-up record of a table preset (``table`` 1/2/3/6: LeNet, 4: Table 4) with the rows its figure reads;
    the methods in ``bins`` (method: bins) also have rows per normalized-loss bin."""
    rows = []
    for mi, method in enumerate(methods):
        for n in ns:
            for b in [None, *(bins or {}).get(method, [])]:
                rows.append({"kind": "point", "table": table, "method": method, "n": n, "width": 0.5, "bias": True,
                             "cell": "0v1", "data_seed": 0, "test_acc_mean": 0.6 + 0.05 * mi + 0.01 * n,
                             "test_acc_se": 0.02, "loss_bin": b})
    p = {**vh.PARAMS.quick, "table": table, "t23_n": list(ns), "t4_n": list(ns), "lenet_width": 0.5}
    return {"params": p, "points": rows}


def test_figures_are_paper_ready(cli, tmp_path):
    """Paper style (tests/paper_figures.py) on the TINY run's figures (main, kink/slab) and on made-up records of
    the table presets: the LeNet tables' figure over every method of Tables 1 and 2, with G&C's loss bins, and
    Table 4's."""
    record, _ = _tiny_run(cli, tmp_path / "run")
    assert len(assert_paper_figures(vh.plot, record, tmp_path, min_figures=2)) == 2
    bins = {"gnc": [[0.3, 0.5], [0.5, 0.7]]}
    for i, rec in enumerate([_table_record(2, ["gnc", "sgd_chiang", "sgd_poisoned"], bins=bins),
                             _table_record(4, ["t4_sgd", "t4_pattern_search", "t4_random_greedy"], ns=(20, 40))]):
        (tmp_path / str(i)).mkdir()
        fig, = assert_paper_figures(vh.plot, rec, tmp_path / str(i))
        assert len([ax for ax in fig.axes if ax.get_visible()]) == 2 - i  # Table 2: n and G&C's loss bins


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


@pytest.mark.falsifies("volume_hypothesis", "chiang_comparable", "peleg_hein_gap")
@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1), planted=st.sampled_from([(0.0, "pass", "fail"), (0.25, "fail", "pass")]))
def test_equivalence_claims_follow_a_planted_difference(seed, planted):
    """No gap: Chiang's 'comparable' passes and Peleg & Hein's gap fails; a 25-point gap: the reverse."""
    gap, chiang, ph = planted
    rng = np.random.default_rng(seed)
    rows = []
    for bias in (True, False):
        rows += [_rows("gnc", bias, 8, rng.normal(0.8, 0.02, 400) - gap)]
        rows += [_rows(m, bias, 8, rng.normal(0.8, 0.02, 40)) for m in ("sgd_chiang", "sgd_peleg_hein")]
    claims = {c.name: c for c in vh.judge(rows, _params())}
    assert claims["chiang_comparable[n=8]"].verdict == chiang
    assert claims["peleg_hein_gap[n=8]"].verdict == ph
    assert claims["chiang_comparable[n=8]"].tier == claims["peleg_hein_gap[n=8]"].tier == "published"


@pytest.mark.falsifies("volume_hypothesis", "poisoned_sgd_below_gnc")
@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1))
def test_poisoned_control_fails_when_poisoned_sgd_generalizes(seed):
    """Planted: the poisoned SGD minima are as accurate as G&C's (the poison did nothing)."""
    rng = np.random.default_rng(seed)
    rows = [_rows("gnc", True, 8, rng.normal(0.8, 0.02, 400)), _rows("sgd_poisoned", True, 8, rng.normal(0.8, 0.02, 40))]
    claims = {c.name: c for c in vh.judge(rows, _params(methods=["gnc", "poisoned"], bias=[True]))}
    assert claims["poisoned_sgd_below_gnc[n=8]"].verdict == "fail"
    assert claims["poisoned_sgd_below_gnc[n=8]"].tier == "control"


@pytest.mark.falsifies("volume_hypothesis", "gnc_above_chance", "bits_below_n")
@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1))
def test_above_chance_and_bits_claims_can_fail(seed):
    rows = [_rows("gnc", True, 8, np.random.default_rng(seed).normal(0.3, 0.02, 200))]
    rows[0]["bits"], rows[0]["bits_se"] = 12.0, 0.1
    claims = {c.name: c for c in vh.judge(rows, _params(bias=[True], methods=["gnc"]))}
    assert claims["gnc_above_chance"].verdict == "fail"
    assert claims["bits_below_n[n=8]"].verdict == "fail"


def test_bits_judged_at_every_n_but_two():
    rows = [{**_rows("gnc", True, n, [0.8, 0.9, 0.85]), "bits": 1.0, "bits_se": 0.1} for n in (2, 4, 6)]
    claims = {c.name: c for c in vh.judge(rows, _params(bias=[True], methods=["gnc"], n_train=[2, 4, 6]))}
    assert {n for n in claims if n.startswith("bits")} == {"bits_below_n[n=4]", "bits_below_n[n=6]"}
    assert all(claims[f"bits_below_n[n={n}]"].verdict == "pass" for n in (4, 6))


def test_missing_data_is_named_not_nan():
    """0 of 5 SGD runs fit and 0 accepted G&C draws: inconclusive claims that say so."""
    gnc = _rows("gnc", False, 8, [0.8, 0.9, 0.85])
    sgd = {**_rows("sgd_peleg_hein", False, 8, [0.9, 0.9]), "draws": 5, "accepted": 0, "test_acc_mean": float("nan"),
           "test_acc_se": float("nan"), "test_accs": []}
    empty = {**_rows("gnc", True, 8, [0.8, 0.9]), "draws": 60000, "accepted": 0, "test_acc_mean": None,
             "test_acc_se": None, "test_accs": [], "bits": float("inf"), "bits_se": float("nan")}
    chiang = _rows("sgd_chiang", True, 8, [0.8, 0.9, 0.85])
    claims = {c.name: c for c in vh.judge([gnc, sgd, empty, chiang], _params())}
    ph = claims["peleg_hein_gap[n=8]"]
    assert ph.verdict == "inconclusive" and ph.measured is None
    assert "0 of 5 SGD runs reached 100 % training accuracy" in ph.test
    ch = claims["chiang_comparable[n=8]"]
    assert ch.verdict == "inconclusive" and "0 accepted of 60000 draws" in ch.test
    assert "0 accepted of 60000 draws" in claims["bits_below_n[n=8]"].test
    assert "nan" not in ph.test + ch.test + claims["bits_below_n[n=8]"].test


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1))
def test_difference_intervals_are_clipped_to_accuracy_range(seed):
    """Two SGD runs far apart (a huge t quantile at 1 dof): the CI of a difference of accuracies stays in [-1, 1]."""
    rng = np.random.default_rng(seed)
    rows = [_rows("gnc", False, 8, rng.uniform(0.4, 0.9, 50)), _rows("sgd_peleg_hein", False, 8, [0.05, 0.95])]
    c = {c.name: c for c in vh.judge(rows, _params(methods=["gnc", "sgd"], protocols=["peleg_hein"], bias=[False]))}
    ci = c["peleg_hein_gap[n=8]"].ci
    assert -1.0 <= ci[0] <= ci[1] <= 1.0
    assert c["peleg_hein_gap[n=8]"].verdict == "inconclusive" and c["peleg_hein_gap[n=8]"].needed


def test_grow_doubles_seeds_and_keeps_the_earlier_tasks():
    """Round r has 2^(r-1) times the data seeds; every task of round r keeps its key and parameters in round
    r + 1 (the checkpoint reuses points by key)."""
    p = {**vh.PARAMS.quick, "mode": "quick", "pairs": 2}
    tasks = [{t.key: t for t in vh.points(vh.grow(p, r), 0)} for r in (1, 2, 3)]
    assert [vh.grow(p, r)["seeds"] for r in (1, 2, 3)] == [1, 2, 4]
    for small, big in zip(tasks, tasks[1:]):
        assert set(small) < set(big)
        for key, t in small.items():
            assert big[key].params == t.params
            assert np.array_equal(big[key].seed_sequence().generate_state(4), t.seed_sequence().generate_state(4))
    assert vh.GROWS == ("seeds", "t4_seeds")
    p4 = {**p, "table": 4}  # the Table 4 preset grows its own data seeds the same way
    t4 = [{t.key for t in vh.points(vh.grow(p4, r), 0)} for r in (1, 2)]
    assert [vh.grow(p4, r)["t4_seeds"] for r in (1, 2)] == [2, 4] and t4[0] < t4[1]


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


@pytest.mark.falsifies("volume_hypothesis", "random_label_bits", "random_label_chance")
def test_random_label_control_rejects_true_labels():
    """Planted: the 'random' labelings are the true labels, which G&C fits far more often and generalizes on."""
    claims = vh.control_claims(_control_rows(False, 0), 1e-3)
    verdicts = {c.name: c.verdict for c in claims}
    assert verdicts == {"random_label_bits": "fail", "random_label_chance": "fail"}


def test_random_label_control_holds_with_random_labels():
    claims = vh.control_claims(_control_rows(True, 100), 1e-3)
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


@settings(max_examples=3)
@given(seed=st.integers(0, 2**32 - 1))
def test_false_failure_rate_of_the_paper_claims_by_simulation(seed):
    """True claims on the boundary: Δ = δ for Peleg & Hein's gap and Δ = 0 for Chiang's equivalence (3 cells,
    Gaussian accuracies); at alpha = 0.05 each fails in at most alpha of 400 simulated runs (+ 3 binomial SEs)."""
    rng = np.random.default_rng(seed)
    alpha, sims, delta = 0.05, 400, 0.05
    fails = {"chiang": 0, "ph": 0}
    for _ in range(sims):
        rows = []
        for c in ("0v1", "2v3", "4v5"):
            rows.append(_rows("gnc", True, 8, rng.normal(0.8, 0.05, 30), cell=c))
            rows.append(_rows("sgd_chiang", True, 8, rng.normal(0.8, 0.05, 8), cell=c))
            rows.append(_rows("gnc", False, 8, rng.normal(0.8, 0.05, 30), cell=c))
            rows.append(_rows("sgd_peleg_hein", False, 8, rng.normal(0.8 + delta, 0.05, 5), cell=c))
        claims = {c.name: c.verdict for c in vh.judge(rows, _params(alpha=alpha, methods=["gnc", "sgd"]))}
        fails["chiang"] += claims["chiang_comparable[n=8]"] == "fail"
        fails["ph"] += claims["peleg_hein_gap[n=8]"] == "fail"
    limit = alpha * sims + 3 * math.sqrt(alpha * (1 - alpha) * sims)
    assert fails["chiang"] <= limit and fails["ph"] <= limit, fails


def test_bits_n4_finding_is_expected_only_for_the_default_digits_network():
    rows = [{**_rows("gnc", True, 4, [0.8, 0.9, 0.85]), "bits": 4.5, "bits_se": 0.01}]
    digits = {c.name: c for c in vh.judge(rows, _params(bias=[True], methods=["gnc"], n_train=[4]))}
    assert digits["bits_below_n[n=4]"].verdict == "fail" and digits["bits_below_n[n=4]"].as_expected
    other = {c.name: c for c in vh.judge(rows, _params(bias=[True], methods=["gnc"], n_train=[4], widths=[64]))}
    assert other["bits_below_n[n=4]"].verdict == "fail" and other["bits_below_n[n=4]"].expected == "pass"
