"""Executors for the sweep engine: in process, a local process pool, or a Dask cluster.

- ``local`` with ``workers == 1``: tasks run one after the other in this process (debuggable);
- ``local`` with ``workers > 1``: a ``concurrent.futures.ProcessPoolExecutor`` (spawn context);
- ``dask``: a ``distributed.LocalCluster`` of ``workers`` single-threaded worker processes, or, with
  ``scheduler`` (``tcp://host:8786`` or a scheduler file), a running cluster; both through
  ``client.get_executor(pure=False)``. dask/distributed is the optional extra ``[dask]``.

Every task runs with BLAS and torch limited to one thread (:func:`run_limited`), whatever the executor, so
the same seed gives the same numbers on every executor (a multithreaded GEMM may sum in another order).
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import Executor
from dataclasses import dataclass, field

from numerics.device import resolve_device
from verify.errors import UserInputError, require

EXECUTORS = ("local", "dask")


@dataclass(frozen=True)
class Execution:
    """Where the tasks run: ``kind``/``workers``/``scheduler`` as the CLI flags, or ``pool``, any
    ``concurrent.futures.Executor`` or Dask ``distributed.Client`` the caller owns (used as given, not shut
    down), as python-adaptive's runners accept."""

    kind: str = "local"
    workers: int = 1
    scheduler: str | None = None
    device: str = "cpu"
    pool: object = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        require(self.pool is None or isinstance(self.pool, Executor) or _is_dask_client(self.pool),
                f"executor must be a concurrent.futures.Executor or a dask Client, got {type(self.pool).__name__}")
        require(self.kind in EXECUTORS, f"--executor {self.kind!r}: expected one of {', '.join(EXECUTORS)}")
        require(int(self.workers) >= 1, f"--workers must be >= 1, got {self.workers}")
        resolve_device(self.device)  # a one-line error for a CUDA device that does not exist

    @property
    def effective_kind(self) -> str:
        if self.pool is not None:
            return "dask" if _is_dask_client(self.pool) else type(self.pool).__name__
        return "dask" if self.scheduler else self.kind

    def describe(self) -> str:
        if self.pool is not None:
            return f"the caller's {type(self.pool).__name__}"
        if self.scheduler:
            return f"the Dask cluster at {self.scheduler}"
        if self.kind == "dask":
            return f"a Dask LocalCluster of {self.workers} worker(s)"
        return "this process" if self.workers == 1 else f"a pool of {self.workers} local processes"

    def to_dict(self) -> dict:
        # on a running cluster the number of workers is the cluster's, not ours
        external = self.scheduler or self.pool is not None
        return {"kind": self.effective_kind, "workers": None if external else self.workers,
                "scheduler": self.scheduler, "device": self.device}


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


@contextlib.contextmanager
def open_executor(execution: Execution):
    """Yield a ``concurrent.futures``-style executor, or None for in-process serial execution."""
    if execution.pool is not None:
        yield execution.pool.get_executor(pure=False) if _is_dask_client(execution.pool) else execution.pool
    elif execution.effective_kind == "dask":
        with _dask_executor(execution) as pool:
            yield pool
    elif execution.workers == 1:
        yield None
    else:
        pool = ProcessPoolExecutor(max_workers=execution.workers, mp_context=multiprocessing.get_context("spawn"))
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _dask_executor(execution: Execution):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UserInputError("the dask executor needs the optional extra: pip install -e \".[dask]\"") from None
    if execution.scheduler:
        try:
            target = execution.scheduler
            client = Client(scheduler_file=target, timeout="10s") if os.path.isfile(target) else Client(target, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserInputError(f"--scheduler {execution.scheduler}: cannot connect ({exc})") from None
        with client:
            yield client.get_executor(pure=False)
        return
    with LocalCluster(n_workers=execution.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as cluster, Client(cluster) as client:
        yield client.get_executor(pure=False)


def _is_dask_client(obj) -> bool:
    return type(obj).__name__ == "Client" and hasattr(obj, "get_executor")


def run_limited(compute, task):
    """``compute(task)`` with BLAS (threadpoolctl) and torch limited to one thread, restored afterwards."""
    import torch
    from threadpoolctl import threadpool_limits
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            return compute(task)
    finally:
        torch.set_num_threads(threads)
