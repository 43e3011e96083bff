"""The sweep engine (verify/engine.py, verify/executors.py): order, seeds, checkpoint and resume, the Python API."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import verify
from verify.engine import Task, run_tasks, task
from verify.errors import UserInputError
from verify.executors import Execution


def toy_compute(t: Task) -> list[dict]:
    """A top-level compute: two rows per task from the task's own generators; fails while a marker file exists."""
    marker = t.params.get("marker")
    if marker and t.params["i"] == t.params.get("fail_at") and Path(marker).exists():
        raise RuntimeError("planted failure")
    x = t.rng().normal(size=3)
    z = float(t.torch_generator(1).initial_seed() % 1000)
    return [{"i": t.params["i"], "j": j, "x": float(x[j]), "z": z} for j in range(2)]


def toy_tasks(n: int, seed: int, **extra) -> list[Task]:
    return [task(f"t{i}", {"i": i, **extra}, seed, i, weight=i + 1) for i in range(n)]


@settings(max_examples=5)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_rows_depend_only_on_seed_and_key(seed):
    rows = run_tasks(toy_tasks(5, seed), toy_compute, progress=False)
    assert [r["i"] for r in rows] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    # the same task computed alone, or in another order, gives the same numbers
    alone = run_tasks(toy_tasks(5, seed)[3:4], toy_compute, progress=False)
    assert alone == rows[6:8]
    reversed_rows = run_tasks(toy_tasks(5, seed)[::-1], toy_compute, progress=False)
    assert sorted(reversed_rows, key=lambda r: (r["i"], r["j"])) == rows
    # another master seed gives other numbers
    assert run_tasks(toy_tasks(5, seed + 1), toy_compute, progress=False) != rows


def test_process_pool_gives_the_serial_rows():
    serial = run_tasks(toy_tasks(6, 11), toy_compute, progress=False)
    pooled = run_tasks(toy_tasks(6, 11), toy_compute, execution=Execution(workers=2), progress=False)
    assert pooled == serial


def test_interrupted_run_resumes_from_the_checkpoint(tmp_path):
    marker = tmp_path / "fail"
    marker.write_text("")
    ckpt = tmp_path / "run.partial.jsonl"
    tasks = toy_tasks(5, 3, marker=str(marker), fail_at=3)
    identity = {"check": "toy", "seed": 3}
    with pytest.raises(RuntimeError, match="planted"):
        run_tasks(tasks, toy_compute, checkpoint=ckpt, identity=identity, progress=False)
    stored = [json.loads(line) for line in ckpt.read_text().splitlines()[1:]]
    assert sorted(e["key"] for e in stored) == ["t0", "t1", "t2"]  # serial: everything before the failure
    marker.unlink()
    calls = []

    def counting(t):
        calls.append(t.key)
        return toy_compute(t)

    resumed = run_tasks(tasks, counting, checkpoint=ckpt, identity=identity, progress=False)
    assert calls == ["t3", "t4"]
    assert resumed == run_tasks(toy_tasks(5, 3, marker=str(marker), fail_at=3), toy_compute, progress=False)
    assert not ckpt.exists()  # removed once the run completes


def test_checkpoint_of_another_run_is_not_reused(tmp_path):
    ckpt = tmp_path / "run.partial.jsonl"
    marker = tmp_path / "fail"
    marker.write_text("")
    with pytest.raises(RuntimeError):
        run_tasks(toy_tasks(4, 1, marker=str(marker), fail_at=2), toy_compute, checkpoint=ckpt,
                  identity={"seed": 1}, progress=False)
    kept = ckpt.read_text()
    with pytest.raises(UserInputError, match=r"seed 1 there, 2 now.*--restart"):  # refused, nothing lost
        run_tasks(toy_tasks(4, 2), toy_compute, checkpoint=ckpt, identity={"seed": 2}, progress=False)
    assert ckpt.read_text() == kept
    calls = []
    run_tasks(toy_tasks(4, 2), lambda t: calls.append(t.key) or toy_compute(t), checkpoint=ckpt,
              identity={"seed": 2}, progress=False, restart=True)
    assert calls == ["t0", "t1", "t2", "t3"]


def test_torn_last_line_keeps_what_parsed(tmp_path):
    ckpt = tmp_path / "run.partial.jsonl"
    marker = tmp_path / "fail"
    marker.write_text("")
    tasks = toy_tasks(4, 5, marker=str(marker), fail_at=2)
    with pytest.raises(RuntimeError):
        run_tasks(tasks, toy_compute, checkpoint=ckpt, identity={"seed": 5}, progress=False)
    with ckpt.open("a") as fh:
        fh.write('{"key": "t2", "poi')  # a kill in the middle of a write
    marker.unlink()
    calls = []
    run_tasks(tasks, lambda t: calls.append(t.key) or toy_compute(t), checkpoint=ckpt, identity={"seed": 5},
              progress=False)
    assert calls == ["t2", "t3"]


def test_duplicate_keys_are_refused():
    with pytest.raises(UserInputError):
        run_tasks([task("a", {"i": 0}, 0), task("a", {"i": 1}, 0)], toy_compute, progress=False)


def test_execution_refuses_bad_settings():
    with pytest.raises(UserInputError, match="workers"):
        Execution(workers=0)
    with pytest.raises(UserInputError, match="executor"):
        Execution(kind="slurm")
    with pytest.raises(UserInputError, match="device"):
        Execution(device="tpu")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_one_line_error():
    with pytest.raises(UserInputError, match="no CUDA device"):
        Execution(device="cuda")


def test_python_api_refuses_unknown_parameters_and_checks():
    with pytest.raises(UserInputError, match="unknown parameter"):
        verify.run("norm_sharpness", no_such_parameter=3)
    with pytest.raises(UserInputError, match="unknown check"):
        verify.run("no_such_check")


def test_cli_refuses_bad_execution_flags(cli):
    cli.rejects("norm_sharpness", "--workers", "0", message="--workers must be >= 1")
    cli.rejects("norm_sharpness", "--device", "cuda:7", message="--device")
    cli.rejects("plot", message="usage: python -m verify plot")
    cli.rejects("plot", "/nonexistent/x.json", message="no such file")


def test_plot_refuses_a_file_that_is_not_a_record(cli, tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    cli.rejects("plot", str(bad), message="not a JSON record")
    other = tmp_path / "y.json"
    other.write_text(json.dumps({"check": "nope"}))
    cli.rejects("plot", str(other), message="not a record of a known check")


def test_task_streams_are_independent():
    t = task("k", {}, 9, 1, 2)
    a, b = t.rng().normal(size=1000), t.rng(1).normal(size=1000)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.2
    assert np.array_equal(t.rng().normal(size=5), task("k2", {"other": 1}, 9, 1, 2).rng().normal(size=5))


def nan_compute(t: Task) -> list[dict]:
    return [{"x": float("nan"), "y": np.float64(2.0), "z": np.arange(2)}]


def test_rows_reach_judge_as_plain_numbers_with_nan_kept(tmp_path):
    """Judges do arithmetic on rows: NaN must stay a float (a None broke volume_hypothesis's judge), numpy
    values become Python ones, and a resumed row equals a computed one."""
    rows = run_tasks([task("a", {}, 0)], nan_compute, progress=False)
    assert np.isnan(rows[0]["x"]) and type(rows[0]["y"]) is float and rows[0]["z"] == [0, 1]
    ckpt = tmp_path / "c.jsonl"
    marker = tmp_path / "fail"
    marker.write_text("")
    tasks = [task("a", {"i": 0}, 0), task("b", {"i": 1, "marker": str(marker), "fail_at": 1}, 0)]

    def compute(t):
        return toy_compute(t) if t.key == "b" else nan_compute(t)
    with pytest.raises(RuntimeError):
        run_tasks(tasks, compute, checkpoint=ckpt, identity={}, progress=False)
    marker.unlink()
    resumed = run_tasks(tasks, compute, checkpoint=ckpt, identity={}, progress=False)
    assert np.isnan(resumed[0]["x"]) and resumed[0]["z"] == [0, 1]
