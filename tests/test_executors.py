"""The sweep engine with the G&C checks: the same seed gives the same record serially, on a local process pool
and on a Dask LocalCluster; an interrupted run resumes on any executor; ``python -m verify plot`` redraws a
saved record; the ``verify.run`` API; ``--device``.

Records are compared as JSON (what is written to disk) without the fields that legitimately differ between
runs: ``runtime_s``, ``execution``, ``versions`` and each point's wall-clock ``seconds``.
"""
import json
import shutil

import pytest

import verify
from verify import width_theorem as wt
from verify.engine import run_tasks
from verify.errors import UserInputError
from verify.executors import Execution
from verify.report import _jsonable

SMALL = dict(activations=["linear", "leaky_relu"], widths=[5, 20], extra_widths=[], seeds=1, draws=1000,
             limit_samples=1000, gd=True, gd_steps=100)
CLI_SMALL = ["--no-progress", "--workers", "1", "--set", "activations=linear", "--set", "widths=5,40", "--set", "extra_widths=",
             "--set", "seeds=1", "--set", "draws=1500", "--set", "limit_samples=2000", "--set", "gd_steps=100"]


def comparable(record) -> str:
    d = _jsonable(record.to_dict() if hasattr(record, "to_dict") else record)
    for key in ("runtime_s", "execution", "versions"):
        d.pop(key, None)
    d["points"] = [{k: v for k, v in q.items() if k != "seconds"} for q in d["points"]]
    return json.dumps(d, sort_keys=True)


@pytest.fixture(scope="module")
def serial():
    return verify.run("width_theorem", seed=0, workers=1, **SMALL)


@pytest.mark.slow  # 29 s plus a Dask cluster's start-up; CI runs it (.ci/run: the slow tests of this file)
def test_serial_pool_and_dask_give_identical_records(serial):
    pytest.importorskip("distributed")
    pool = verify.run("width_theorem", seed=0, workers=2, **SMALL)
    dask = verify.run("width_theorem", seed=0, executor="dask", workers=2, **SMALL)
    assert pool.execution["workers"] == 2 and dask.execution["kind"] == "dask"
    assert comparable(pool) == comparable(serial)
    assert comparable(dask) == comparable(serial)
    seeds, acts, widths, eps = SMALL["seeds"], len(SMALL["activations"]), len(SMALL["widths"]), len(wt.PARAMS.quick["eps"])
    # G&C rows (seed, σ, k, ε) + NNGP-limit rows (seed, σ, ε)
    assert len(serial.points) == seeds * acts * widths * eps + seeds * acts * eps


def test_another_seed_gives_another_point(serial):
    """The comparison above can fail: the same task under master seed 1 gives other numbers."""
    params = {**wt.PARAMS.quick, **SMALL, "mode": "quick"}
    first = next(t for t in wt.points(params, 1, {}) if t.params["kind"] == "point")
    same_key = [q for q in serial.points if q["kind"] == "point" and q["width"] == first.params["width"]
                and q["activation"] == first.params["activation"] and q["seed"] == first.params["s"]]
    assert [q["G"] for q in wt.compute(first)] != [q["G"] for q in same_key]


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A serial run of the SMALL sweep killed after two tasks: its tasks, identity and checkpoint file."""
    params = {**wt.PARAMS.quick, **SMALL, "mode": "quick"}
    tasks = wt.points(params, 0, {})
    identity = {"check": wt.NAME, "params": params, "seed": 0}
    path = tmp_path_factory.mktemp("interrupted") / "w.partial.jsonl"
    done = []

    def dying(task):
        if len(done) == 2:
            raise KeyboardInterrupt
        done.append(task.key)
        return wt.compute(task)

    with pytest.raises(KeyboardInterrupt):
        run_tasks(tasks, dying, checkpoint=path, identity=identity, progress=False)
    assert [json.loads(line)["key"] for line in path.read_text().splitlines()[1:]] == done
    return tasks, identity, path


@pytest.mark.slow  # ~20 s each (a pool or a LocalCluster starting); the serial resume runs by default
@pytest.mark.parametrize("resume_on", [Execution(workers=2), Execution(kind="dask", workers=2)], ids=["pool", "dask"])
def test_interrupted_run_resumes_on_any_executor(tmp_path, interrupted, serial, resume_on):
    """Resumed on another executor than the serial one that was killed (serial resume, with a count of the
    recomputed points: tests/test_width_check.py), the run gives the rows of the uninterrupted serial run."""
    if resume_on.kind == "dask":
        pytest.importorskip("distributed")
    tasks, identity, stored = interrupted
    path = tmp_path / stored.name
    shutil.copy(stored, path)
    keys = [json.loads(line)["key"] for line in path.read_text().splitlines()[1:]]
    resumed = run_tasks(tasks, wt.compute, execution=resume_on, checkpoint=path, identity=identity, progress=False)
    strip = lambda rows: json.dumps(_jsonable([{k: v for k, v in q.items() if k != "seconds"} for q in rows]))
    assert strip(resumed) == strip(serial.points) and not path.exists() and len(keys) == 2


def test_plot_redraws_a_saved_record(cli, tmp_path):
    record = cli.record("width_theorem", tmp_path, *CLI_SMALL)
    png = tmp_path / "width_theorem.png"
    png.unlink()
    code, out, _ = cli("plot", str(tmp_path / "width_theorem.json"))
    assert code == 0 and png.stat().st_size > 10_000 and "wrote" in out
    assert record["execution"]["workers"] >= 1


def test_python_api_returns_a_record_and_refuses_unknown_parameters():
    record = verify.run("width_theorem", seed=0, activations=["linear"], widths=[5, 50], extra_widths=[], seeds=1,
                        draws=1000, limit_samples=1000, gd=False)
    assert record.check == "width_theorem" and record.verdict in ("pass", "fail", "inconclusive", "vacuous")
    assert {q["width"] for q in wt.joined(record.points)} == {5, 50} and record.params["mode"] == "quick"
    with pytest.raises(UserInputError, match="unknown parameter"):
        verify.run("width_theorem", seed=0, bogus=1)


def test_device_cpu_runs_and_a_missing_cuda_device_is_one_line(cli, tmp_path):
    import torch
    record = cli.record("width_theorem", tmp_path, *CLI_SMALL, "--device", "cpu")
    assert record["execution"]["device"] == "cpu"
    if not torch.cuda.is_available():
        cli.rejects("width_theorem", "--out", str(tmp_path), *CLI_SMALL, "--device", "cuda", message="CUDA")
    cli.rejects("width_theorem", "--out", str(tmp_path), *CLI_SMALL, "--device", "tpu", message="--device")
