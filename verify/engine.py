"""One sweep engine for every check: points → compute → judge → plot.

A check module defines (besides ``NAME``, ``SUMMARY``, ``QUICK``, ``FULL``, ``validate``):
- ``points(params, seed, inputs) -> list[Task]``: what to compute. Each :class:`Task` carries its parameters
  and a seed spawned from the master seed by its key (``numpy.random.SeedSequence``), so a row does not
  depend on where, in which order or beside which other tasks it runs;
- ``compute(task) -> list[dict]``: a top-level (picklable) function; each dict is one row of the record;
- ``judge(rows, params) -> list[Claim]`` and ``plot(record_dict, stem) -> list[Path]``: pure, re-runnable
  from a saved record (``python -m verify plot out/<check>.json``);
- optionally ``prepare(params, inputs) -> params`` (fold a ``--data`` / ``--problem`` file into the
  parameters before ``validate``), ``INPUTS`` (the input files it accepts: ``"data"``, ``"problem"``) and
  ``notes(rows, params) -> list[str]`` (diagnostics that are not claims, e.g. an effect too small to judge).

The engine owns the loop: it submits the tasks to an executor (:mod:`verify.executors`), streams results back
as they finish, appends each to the JSON-lines checkpoint at once (a rerun skips what is there, whichever
executor ran it), drives one progress bar (weighted by ``Task.weight``, e.g. prior draws) and orders the rows
as the task list before judging — so the record is the same on every executor.
"""
from __future__ import annotations

import dataclasses
import time
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from verify.checkpoint import PointStore
from verify.errors import UserInputError, require
from verify.executors import Execution, open_executor, run_limited
from verify.progress import log, progress_bar
from verify.report import Record, jsonable


@dataclass(frozen=True)
class Task:
    """One independent point of a sweep. ``seed`` is ``(master_seed, *spawn_key)``; ``device`` is set by the
    engine from ``--device`` (it does not change the random draws, which are made on the CPU)."""

    key: str
    params: dict
    seed: tuple
    weight: int = 1
    device: str = "cpu"

    def seed_sequence(self, *sub: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(int(self.seed[0]), spawn_key=tuple(int(k) for k in (*self.seed[1:], *sub)))

    def rng(self, *sub: int) -> np.random.Generator:
        """The task's numpy generator (``sub`` selects an independent stream inside the task)."""
        return np.random.default_rng(self.seed_sequence(*sub))

    def torch_generator(self, *sub: int):
        """A CPU torch generator of the task's stream ``sub`` (draw on it, then move to ``self.device``)."""
        import torch
        state = self.seed_sequence(*sub).generate_state(2, dtype=np.uint32)
        return torch.Generator().manual_seed(int(state[0]) << 31 ^ int(state[1]))


def task(key: str, params: dict, seed: int, *spawn_key: int, weight: int = 1) -> Task:
    """A task whose generator depends only on the master ``seed`` and its ``spawn_key``."""
    return Task(key=str(key), params=params, seed=(int(seed), *(int(k) for k in spawn_key)), weight=int(weight))


def run_tasks(tasks: list[Task], compute: Callable[[Task], list[dict]], *, execution: Execution | None = None,
              checkpoint: Path | None = None, identity: dict | None = None, progress: bool = True,
              desc: str = "points") -> list[dict]:
    """Compute every task (skipping those already in ``checkpoint``) and return the rows in task order."""
    execution = execution or Execution()
    keys = [t.key for t in tasks]
    require(len(set(keys)) == len(keys), "internal: task keys must be unique")
    store = PointStore(checkpoint, identity or {})
    results: dict[str, list[dict]] = {k: store.get(k) for k in keys if store.get(k) is not None}
    if results:
        log(f"resuming: {len(results)} of {len(tasks)} points already in {checkpoint}", progress)
    todo = [dataclasses.replace(t, device=execution.device) for t in tasks if t.key not in results]
    bar = progress_bar(sum(t.weight for t in tasks), desc, progress)
    bar.update(sum(t.weight for t in tasks if t.key in results))
    try:
        with open_executor(execution) as pool:
            if pool is None:
                for t in todo:
                    rows = jsonable(run_limited(compute, t), keep_nan=True)
                    store.put(t.key, rows)
                    results[t.key] = rows
                    bar.update(t.weight)
            else:
                futures = {pool.submit(run_limited, compute, t): t for t in todo}
                pending = set(futures)
                try:
                    while pending:
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in finished:
                            t = futures[fut]
                            rows = jsonable(fut.result(), keep_nan=True)
                            store.put(t.key, rows)
                            results[t.key] = rows
                            bar.update(t.weight)
                except BaseException:
                    for fut in pending:
                        fut.cancel()
                    raise
    finally:
        bar.close()
    store.finish()
    return [row for k in keys for row in results[k]]


def run_check(module, params: dict, seed: int, *, inputs: dict | None = None, execution: Execution | None = None,
              checkpoint: Path | None = None, progress: bool = True) -> Record:
    """Run a check module through the engine and return its :class:`Record` (runtime included)."""
    start = time.perf_counter()
    inputs = {k: v for k, v in (inputs or {}).items() if v is not None}
    accepted = getattr(module, "INPUTS", ())
    for name in inputs:
        require(name in accepted, f"--{name} is not used by {module.NAME}"
                + (f" (it takes --{', --'.join(accepted)})" if accepted else ""))
    if hasattr(module, "prepare"):
        params = module.prepare(dict(params), inputs)
    module.validate(params)
    execution = execution or Execution()
    tasks = module.points(params, seed, inputs)
    identity = {"check": module.NAME, "params": params, "seed": seed,
                "inputs": {k: str(v) for k, v in inputs.items()}}
    log(f"{module.NAME}: {len(tasks)} points on {execution.describe()}", progress)
    rows = run_tasks(tasks, module.compute, execution=execution, checkpoint=checkpoint, identity=identity,
                     progress=progress, desc=module.NAME)
    claims = module.judge(rows, params)
    notes = list(module.notes(rows, params)) if hasattr(module, "notes") else []
    record = Record(check=module.NAME, claims=claims, params=params, seed=seed, points=rows, notes=notes,
                    execution=execution.to_dict())
    record.runtime_s = time.perf_counter() - start
    return record


def run(check: str, seed: int = 0, *, full: bool = False, data=None, problem=None, workers: int = 1,
        executor: str = "local", scheduler: str | None = None, device: str = "cpu", progress: bool = False,
        checkpoint: Path | None = None, **overrides: Any) -> Record:
    """Run a check from Python (notebooks): ``verify.run("width_theorem", seed=0, widths=[5, 50])``.

    ``overrides`` set parameters by name (Python values, not strings); unknown names are a
    :class:`UserInputError`. ``workers``/``executor``/``scheduler``/``device`` are those of the CLI.
    """
    from verify import checks
    require(check in checks.CHECKS, f"unknown check {check!r}; known: {', '.join(checks.CHECKS)}")
    module = checks.load(check)
    params = {**module.QUICK, **(module.FULL if full else {})}
    unknown = sorted(set(overrides) - set(params))
    require(not unknown, f"unknown parameter(s) {', '.join(unknown)} for {check} (known: {', '.join(sorted(params))})")
    params.update(overrides)
    params["mode"] = "full" if full else "quick"
    execution = Execution(kind=executor, workers=workers, scheduler=scheduler, device=device)
    return run_check(module, params, seed, inputs={"data": data, "problem": problem}, execution=execution,
                     checkpoint=checkpoint, progress=progress)


__all__ = ["Task", "task", "run_tasks", "run_check", "run", "Execution", "UserInputError"]
