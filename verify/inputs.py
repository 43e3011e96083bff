"""The input files a check accepts, folded into its parameters one way for every check.

``--data FILE.npz`` (real-network checks) sets ``dataset = "file"``, ``data_file`` (the resolved path) and the
file's shape (``data_n_train``, ``data_classes``, ``data_dim``); ``--problem FILE.npz`` (G&C checks) sets
``problem_file`` and the problem's ``m``, ``mp``, ``n``. The files are validated when read (one-line errors)
and read again by each task from the recorded path.
"""
from __future__ import annotations

from pathlib import Path

from numerics.datasets import Dataset, load_npz
from numerics.problems import SensingProblem, load_problem

def fold_data(params: dict, inputs: dict) -> dict:
    """``params`` with a ``--data`` file folded in (unchanged without one)."""
    path = inputs.get("data")
    if path is None:
        return params
    ds = load_npz(path)
    return {**params, "dataset": "file", "data_file": str(Path(path).resolve()), "data_n_train": ds.n_train,
            "data_classes": ds.n_classes, "data_dim": ds.dim}


def fold_problem(params: dict, inputs: dict) -> dict:
    """``params`` with a ``--problem`` file folded in: its shape replaces ``m``, ``mp``, ``n``."""
    path = inputs.get("problem")
    if path is None:
        return params
    prob = load_problem(path)
    return {**params, "m": prob.shape[0], "mp": prob.shape[1], "n": prob.n,
            "problem_file": str(Path(path).resolve())}


def user_data(params: dict) -> Dataset | None:
    """The ``--data`` file of a run (``None`` when the run uses the built-in data)."""
    return load_npz(params["data_file"]) if params.get("dataset") == "file" else None


def user_problem(params: dict) -> SensingProblem | None:
    """The ``--problem`` file of a run (``None`` when problems are drawn from the seed)."""
    path = params.get("problem_file")
    return load_problem(path) if path else None
