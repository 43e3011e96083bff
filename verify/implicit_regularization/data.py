"""The check's data and networks: the user's ``--data`` file as given, or the 10-class digits (nested balanced
training sets; the sub-experiments take the first ``*_n_train`` rows), in float64."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from verify.errors import require

NOISE_STREAM = 31337  # spawn key of the label-noise generator (separate from the tasks' streams)


def data_file(params: dict) -> str | None:
    """The ``--data`` file of a run (record keys ``dataset="file"``, ``data_file``), ``None`` for the digits."""
    return params.get("data_file") if params.get("dataset") == "file" else None


@lru_cache(maxsize=8)
def dataset(path, data_seed: int, n_train: int, label_noise: float, noise_seed: int | None):
    """The training/test data: the user's file as given (its labels are used as given: no label noise is added),
    or 10-class digits with ``n_train`` examples (``label_noise`` > 0 with a ``noise_seed``: that fraction of
    training labels replaced by another class)."""
    from numerics.datasets import digits_task, load_npz
    if path:
        return load_npz(path)
    n = n_train - n_train % 10
    require(n >= 10, f"training sets on the digits need >= 10 examples, got {n_train}")
    if label_noise > 0 and noise_seed is not None:
        rng = np.random.default_rng(np.random.SeedSequence(int(noise_seed), spawn_key=(NOISE_STREAM,)))
        return digits_task(tuple(range(10)), n, data_seed, label_noise=label_noise, noise_rng=rng)
    return digits_task(tuple(range(10)), n, data_seed)


def tensors(params, n_train: int, *, noise_seed=None, device="cpu"):
    """(X, y, X_test, y_test, input dim, classes) as torch tensors on ``device``; the first ``n_train`` rows."""
    import torch
    ds = dataset(data_file(params), params["data_seed"], max(n_train, 10),
                 params["repro_label_noise"] if noise_seed is not None else 0.0, noise_seed)
    n = min(n_train, ds.n_train)
    as_t = lambda a: torch.as_tensor(np.ascontiguousarray(a)).to(device)  # noqa: E731
    return as_t(ds.X_train[:n]), as_t(ds.y_train[:n]), as_t(ds.X_test), as_t(ds.y_test), ds.dim, ds.n_classes


def network(params, widths, in_dim, out_dim, generator, device):
    """An MLP of ``params["activation"]`` and its torch-default initialization drawn on ``generator``."""
    from numerics.models import MLP, sample_prior
    model = MLP(in_dim, widths, out_dim, params["activation"])
    return model, sample_prior(model, "torch_default", 1, generator)[0].to(device)
