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

from verify import registry as checks
from verify.checkpoint import PointStore
from verify.errors import UserInputError, require
from verify.executors import Execution, open_executor, run_limited
from verify.progress import log, progress_bar
from verify.parameters import COMMON
from verify.report import Record, jsonable
from verify.verdicts import Claim, holm


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
              desc: str = "points", restart: bool = False, keep: bool = False, announce: str = "",
              cache: dict | None = None) -> list[dict]:
    """Compute every task (skipping those already in ``checkpoint`` or in ``cache``) and return the rows in
    task order. ``keep`` leaves the checkpoint in place afterwards (later rounds of a sequential run add to
    it); ``cache`` (key → rows) is read and filled in memory, so rounds reuse points without a checkpoint
    too; ``announce`` is logged once the checkpoint has been accepted."""
    execution = execution or Execution()
    keys = [t.key for t in tasks]
    require(len(set(keys)) == len(keys), "internal: task keys must be unique")
    store = PointStore(checkpoint, identity or {}, restart=restart)
    if announce:
        log(announce, progress)
    results: dict[str, list[dict]] = {k: store.get(k) for k in keys if store.get(k) is not None}
    results.update({k: cache[k] for k in keys if cache is not None and k in cache and k not in results})
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
    if not keep:
        store.finish()
    if cache is not None:
        cache.update(results)
    return [row for k in keys for row in results[k]]


def judge(module, rows: list[dict], params: dict, alpha: float | None = None) -> list[Claim]:
    """The check's claims on ``rows``, Holm-adjusted across them at check level ``alpha`` (default
    ``params["alpha"]``): ``module.judge`` receives the per-claim level as ``params["alpha"]``."""
    alpha = params.get("alpha", COMMON["alpha"].quick) if alpha is None else alpha
    return holm(lambda level: module.judge(rows, {**params, "alpha": level}), alpha)


MAX_ROUNDS = 4  # looks of a sequential run; each is judged at alpha / MAX_ROUNDS (Bonferroni over looks)
OPEN_TIERS = ("theorem", "published", "extension")


def undecided(claims: list[Claim]) -> list[Claim]:
    """The theorem, published and extension claims still inconclusive (what a sequential run samples for)."""
    return [c for c in claims if c.tier in OPEN_TIERS and c.verdict == "inconclusive"]


def run_check(module, params: dict, seed: int, *, inputs: dict | None = None, execution: Execution | None = None,
              checkpoint: Path | None = None, progress: bool = True, restart: bool = False,
              until_decisive: bool = False, budget_min: float | None = None, max_rounds: int | None = None) -> Record:
    """Run a check module through the engine and return its :class:`Record` (runtime included).

    With ``until_decisive`` the check runs in up to ``max_rounds`` rounds (default :data:`MAX_ROUNDS`): round r
    uses ``module.grow(params, r)`` (more seeds or runs; points already computed are reused from the
    checkpoint, which holds every round), every round is judged at ``alpha / max_rounds`` (Bonferroni over the
    looks, fixed before the first look, so
    the check-level false-failure rate stays at most ``alpha`` however the run stops), and the run stops when
    no theorem, published or extension claim is inconclusive, after the last round, or once ``budget_min``
    minutes are spent."""
    start = time.perf_counter()
    inputs = {k: v for k, v in (inputs or {}).items() if v is not None}
    accepted = getattr(module, "INPUTS", ())
    for name in inputs:
        require(name in accepted, f"--{name} is not used by {module.NAME}"
                + (f" (it takes --{', --'.join(accepted)})" if accepted else ""))
    if hasattr(module, "prepare"):
        params = module.prepare(dict(params), inputs)
    checks.validate(module, params)
    execution = execution or Execution()
    grows = tuple(getattr(module, "GROWS", ()))
    sequential = until_decisive and hasattr(module, "grow")
    if until_decisive and not sequential:
        log(f"{module.NAME} has no rounds to add (its claims are deterministic or fixed-size): one run", progress)
    max_rounds = MAX_ROUNDS if max_rounds is None else max_rounds
    require(isinstance(max_rounds, int) and not isinstance(max_rounds, bool) and 1 <= max_rounds <= 16,
            f"max_rounds must be an integer in 1..16, got {max_rounds!r}")
    alpha = params.get("alpha", COMMON["alpha"].quick)
    look_alpha = alpha / max_rounds if sequential else alpha
    rounds, computed = [], {}
    for r in range(1, (max_rounds if sequential else 1) + 1):
        p = module.grow(dict(params), r) if sequential else params
        if sequential:
            checks.validate(module, p)
        tasks = module.points(p, seed, inputs)
        identity = {"check": module.NAME, "params": {k: v for k, v in params.items() if k not in grows},
                    "seed": seed, "inputs": {k: str(v) for k, v in inputs.items()}}
        announce = (f"{module.NAME}: {len(tasks)} points on {execution.describe()}"
                    + (f" (round {r} of at most {max_rounds})" if sequential else ""))
        rows = run_tasks(tasks, module.compute, execution=execution, checkpoint=checkpoint, identity=identity,
                         progress=progress, desc=module.NAME, restart=restart and r == 1, keep=sequential,
                         announce=announce, cache=computed if sequential else None)
        claims = judge(module, rows, p, look_alpha)
        open_claims = undecided(claims)
        minutes = (time.perf_counter() - start) / 60
        rounds.append({"round": r, "of": max_rounds, "alpha": look_alpha, "params": {k: p[k] for k in grows},
                       "points": len(tasks),
                       "minutes": round(minutes, 3), "undecided": [c.name for c in open_claims]})
        if not sequential or not open_claims or (budget_min is not None and minutes >= budget_min):
            break
    if sequential and checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
    notes = list(module.notes(rows, p)) if hasattr(module, "notes") else []
    record = Record(check=module.NAME, claims=claims, params=p, seed=seed, points=rows, notes=notes,
                    execution=execution.to_dict(), rounds=rounds if sequential else [])
    record.runtime_s = time.perf_counter() - start
    return record


def run(check: str, *, seed: int = 0, quick: bool = True, until_decisive: bool = False,
        budget_min: float | None = None, max_rounds: int | None = None, workers: int | None = None, executor=None,
        scheduler: str | None = None,
        device: str | None = None, data=None, problem=None, progress: bool = False, checkpoint: Path | None = None,
        restart: bool = False, **params: Any) -> Record:
    """Run a check from Python, with the CLI's defaults: ``verify.run("width_theorem", widths=[5, 50])``.

    - ``check``: a name of :func:`verify.checks`; ``seed``: the master seed (reproducible bit for bit);
    - ``quick``: the quick settings (``False``: the papers' ``--full`` settings);
    - ``until_decisive``/``budget_min``/``max_rounds``: add rounds of seeds until no claim is inconclusive
      (see :func:`run_check`);
    - ``workers`` (default: as the CLI, every core or 1 for short checks), ``executor`` (``"local"``,
      ``"dask"``, or any ``concurrent.futures.Executor`` / Dask ``Client`` you own), ``scheduler`` (a Dask
      address), ``device`` (``"cpu"``, ``"cuda"``, ...);
    - ``data``/``problem``: input files as ``--data``/``--problem``;
    - ``params``: parameters by name as Python values (``verify.params(check)`` lists them); unknown names
      and wrong types raise :class:`UserInputError` with the CLI's one-line message.
    """
    from verify.executors import default_workers
    require(isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0,
            f"seed must be a non-negative integer, got {seed!r}")
    module = checks.load(check)
    values = checks.defaults(module, full=not quick)
    for key, value in params.items():
        checks.known(module, key)
        values[key] = value
    values["mode"] = "quick" if quick else "full"
    if workers is None:
        workers = getattr(module, "DEFAULT_WORKERS", default_workers())
    if executor is None or isinstance(executor, str):
        execution = Execution(kind=executor or "local", workers=workers, scheduler=scheduler,
                              device=device or "cpu")
    else:
        execution = Execution(workers=workers, device=device or "cpu", pool=executor)
    return run_check(module, values, seed, inputs={"data": data, "problem": problem}, execution=execution,
                     checkpoint=checkpoint, progress=progress, restart=restart, until_decisive=until_decisive,
                     budget_min=budget_min, max_rounds=max_rounds)


__all__ = ["Task", "task", "run_tasks", "run_check", "run", "judge", "Execution", "UserInputError"]
