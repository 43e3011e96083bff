"""``volume_hypothesis --set table=1|2|3|4|6``: Chiang et al.'s tables as presets (Table 1: poisoned vs clean SGD on
LeNet; 2/3/6: LeNet G&C vs SGD, with normalized-loss bins; 4: pattern search and random greedy vs SGD on ten
classes), on the digits and on a local copy of MNIST in torchvision's layout."""
import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.volume_hypothesis import CLAIMS, judge
from verify.volume_hypothesis.claims import table4_claims
from verify.volume_hypothesis.tables import ROW_METHOD

TINY = ["--set", "table=4", "--set", "t4_n=20", "--set", "t4_seeds=2", "--set", "t4_runs=2", "--set", "t4_sweeps=1",
        "--set", "t4_steps=10", "--set", "t4_sgd_epochs=5", "--set", "t4_width=8"]


def params(**kw):
    from verify.volume_hypothesis import PARAMS
    return {**PARAMS.defaults(False), "alpha": 0.01, "table": 4, **kw}


def planted(rng, acc, n, cell, method, runs=6, sd=0.01):
    accs = np.clip(rng.normal(acc, sd, runs), 0, 1)
    return {"kind": "point", "table": 4, "method": method, "n": n, "cell": f"t4/s{cell}", "data_seed": cell, "width": 32,
            "bias": True, "n_classes": 10, "accepted": runs, "draws": runs, "test_accs": accs.tolist(),
            "test_acc_mean": float(accs.mean()), "test_acc_se": float(accs.std(ddof=1) / np.sqrt(runs))}


@pytest.mark.falsifies("volume_hypothesis", "t4_search_comparable")
@settings(max_examples=10)
@given(seed=st.integers(0, 2 ** 31), gap=st.sampled_from([0.0, 0.2]))
def test_table4_claim_follows_a_planted_difference(seed, gap):
    rng = np.random.default_rng(seed)
    p = params(t4_n=[100])
    rows = []
    for cell in range(4):
        rows.append(planted(rng, 0.8, 100, cell, "t4_sgd"))
        for m in ("pattern_search", "random_greedy"):
            rows.append(planted(rng, 0.8 - gap, 100, cell, ROW_METHOD[m]))
    claims = table4_claims(rows, p)
    assert [c.name for c in claims] == ["t4_search_comparable[pattern_search,n=100]", "t4_search_comparable[random_greedy,n=100]"]
    assert all(c.verdict == ("pass" if gap == 0 else "fail") for c in claims)
    assert all(c.tier == "published" for c in claims)
    assert {c.name for c in judge(rows, p)} == {c.name for c in claims}  # table=4 judges Table 4's claims only


@pytest.mark.falsifies("volume_hypothesis", "t1_poisoned_gap")
@settings(max_examples=10)
@given(seed=st.integers(0, 2 ** 31), gap=st.sampled_from([0.0, 0.3]))
def test_table1_claim_follows_a_planted_difference(seed, gap):
    rng = np.random.default_rng(seed)
    rows = [{**planted(rng, acc, 8, cell, method), "table": 1, "n_classes": 2}
            for cell in range(4) for method, acc in (("sgd_chiang", 0.9), ("sgd_poisoned", 0.9 - gap))]
    claims = judge(rows, params(table=1, t23_n=[8]))
    assert [(c.name, c.tier) for c in claims] == [("t1_poisoned_gap[n=8]", "published")]
    assert claims[0].verdict == ("pass" if gap else "fail")


def test_table4_missing_rows_are_named():
    claims = table4_claims([], params(t4_n=[100]))
    assert all(c.verdict == "inconclusive" and "no cells" in c.test for c in claims)


def test_table4_spec_is_published_and_cites_the_table():
    spec = CLAIMS["t4_search_comparable"]
    assert spec.tier == "published" and "Table 4" in spec.source


def test_table4_quick_run_on_digits(cli, tmp_path):
    record = cli.record("volume_hypothesis", tmp_path, "--workers", "1", *TINY)
    methods = {r["method"] for r in record["points"]}
    assert methods == {"t4_sgd", "t4_pattern_search", "t4_random_greedy"}
    assert all(r["n_classes"] == 10 and len(r["test_accs"]) == 2 for r in record["points"])
    names = [c["name"] for c in record["claims"]]
    assert names == ["t4_search_comparable[pattern_search,n=20]", "t4_search_comparable[random_greedy,n=20]"]
    assert all(c["verdict"] in ("pass", "fail", "inconclusive") for c in record["claims"])


def _idx(a):
    head = bytes([0, 0, 8, a.ndim]) + struct.pack(">" + "I" * a.ndim, *a.shape)
    return head + a.astype(np.uint8).tobytes()


def test_table4_on_a_local_mnist_copy(cli, tmp_path):
    rng = np.random.default_rng(0)
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 80), ("t10k", 40)):
        (raw / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(rng.integers(0, 256, (n, 28, 28)))))
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(_idx(np.arange(n) % 10))
    args = [("t4_n=10" if a == "t4_n=20" else a) for a in TINY] + [
        "--set", "dataset=mnist", "--set", f"data_root={tmp_path / 'data'}", "--set", "t4_lenet_width=0.34"]
    record = cli.record("volume_hypothesis", tmp_path / "out", "--workers", "1", *args)
    assert all(r["arch"] == "lenet-0.34" and r["dataset"].startswith("mnist") for r in record["points"])


def test_missing_local_copy_is_one_line_naming_the_path(cli, tmp_path):
    err = cli.rejects("volume_hypothesis", "--out", str(tmp_path / "o"), "--set", "table=4", "--set", "dataset=cifar10",
                      "--set", f"data_root={tmp_path}", message="cifar-10-batches-py")
    assert str(tmp_path) in err
    cli.rejects("volume_hypothesis", "--set", "table=4", "--set", "dataset=mnist", message="data_root")
    cli.rejects("volume_hypothesis", "--set", "dataset=mnist", "--set", f"data_root={tmp_path}", message="presets table=1, 2, 3, 4 or 6")


LENET_TINY = ["--set", "t23_n=2,4", "--set", "t23_draws=400", "--set", "t23_sgd_runs=2", "--set", "pairs=2",
              "--set", "max_accepted=50"]


@pytest.mark.parametrize("table", [2, 3])
def test_lenet_tables_on_the_digits_stand_in(cli, tmp_path, table):
    bins = ["--set", "t23_loss_bins=0.3,0.66,0.75", "--set", "t23_bin_runs=2"] if table == 2 else []
    record = cli.record("volume_hypothesis", tmp_path, "--workers", "1", "--set", f"table={table}", *LENET_TINY, *bins)
    rows = record["points"]
    assert {r["method"] for r in rows} == {"gnc", "sgd_chiang"}
    assert all(r["arch"] == "lenet-0.5" and r["dataset"].startswith("digits28") for r in rows)
    assert {r["lr"] for r in rows if r["method"] == "sgd_chiang"} == {{2: 1e-3, 3: 1e-4}[table]}
    assert [c["name"] for c in record["claims"]] == ["chiang_comparable[n=2]", "chiang_comparable[n=4]"]
    binned = [r for r in rows if r.get("loss_bin")]
    if table == 3:
        assert not binned
        return
    # every (method, cell, n) has one row per bin besides the unbinned one, which the claims use
    assert {(r["method"], tuple(r["loss_bin"])) for r in binned} == {(m, b) for m in ("gnc", "sgd_chiang")
                                                                     for b in ((0.3, 0.66), (0.66, 0.75))}
    # models accepted in a bin have Chiang's normalized loss (per-layer divisor 3) in that bin: SGD froze there
    for r in binned:
        assert all(r["loss_bin"][0] < v <= r["loss_bin"][1] for v in r["normalized_losses"]), r
    assert sum(r["accepted"] for r in binned if r["method"] == "sgd_chiang") >= 2  # not vacuous


def test_table1_poisoned_sgd_on_the_digits_stand_in(cli, tmp_path):
    record = cli.record("volume_hypothesis", tmp_path, "--workers", "1", "--set", "table=1", "--set", "t23_n=4",
                        "--set", "t23_sgd_runs=3", "--set", "pairs=2", "--set", "poison_count=8")
    rows = record["points"]
    assert {r["method"] for r in rows} == {"sgd_chiang", "sgd_poisoned"}
    assert all(r["poison_count"] == 8 for r in rows if r["method"] == "sgd_poisoned")
    assert [c["name"] for c in record["claims"]] == ["t1_poisoned_gap[n=4]"]
    cli.rejects("volume_hypothesis", "--set", "table=1", "--set", "t23_n=4", "--set", "poison_count=7", message="even")


def test_lenet_table_on_a_local_mnist_copy_and_refusals(cli, tmp_path):
    rng = np.random.default_rng(1)
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 100), ("t10k", 50)):
        (raw / f"{split}-images-idx3-ubyte").write_bytes(_idx(rng.integers(0, 256, (n, 28, 28))))
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(_idx(np.arange(n) % 10))
    record = cli.record("volume_hypothesis", tmp_path / "out", "--workers", "1", "--set", "table=2", "--set",
                        "dataset=mnist", "--set", f"data_root={tmp_path / 'data'}", *LENET_TINY)
    assert all(r["dataset"].startswith("mnist") for r in record["points"])
    cli.rejects("volume_hypothesis", "--set", "table=3", "--set", "dataset=mnist", "--set",
                f"data_root={tmp_path / 'data'}", message="table=3 runs on digits")


def test_lenet_width_table_judges_every_width(cli, tmp_path):
    record = cli.record("volume_hypothesis", tmp_path, "--workers", "1", "--set", "table=6", "--set", "t6_widths=0.34,0.5",
                        *LENET_TINY)
    assert {r["width"] for r in record["points"]} == {0.34, 0.5}
    assert [c["name"] for c in record["claims"]] == ["chiang_comparable[w=0.34,n=2]", "chiang_comparable[w=0.34,n=4]",
                                                    "chiang_comparable[w=0.5,n=2]", "chiang_comparable[w=0.5,n=4]"]
