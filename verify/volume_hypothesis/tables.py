"""Chiang et al.'s Table 4 as a preset of ``volume_hypothesis`` (``--set table=4``): pattern search and random
greedy search against SGD on ten-class tasks, n = 100 … 1000, compared by test accuracy.

Scope (stated in every record through the parameters): quick runs use scikit-learn's 8×8 digits (ten classes,
the package's MLP ``t4_width`` or CNN, ``t4_arch``) so that they finish in minutes on 2 CPU cores; with
``dataset=mnist|fashion_mnist|cifar10 data_root=PATH`` the tasks follow Chiang et al.'s protocol on the local
copy (``numerics.local_data``: a random label permutation per data seed, n // 10 images per class, the whole
test split) with LeNet-``t4_lenet_width`` (Chiang et al.'s architecture). The searches start from the
U(−1, 1) prior and minimize the normalized training cross-entropy (Chiang's per-layer divisor 3 for LeNet); SGD
uses Table 4's settings (PyTorch's init, lr 0.01, momentum 0.5, batch 64, ``t4_sgd_epochs`` epochs, 400 in the
paper). Every run counts, fitted or not: its test accuracy after its budget (``fitted`` runs are counted in
the rows). One cell per data seed; the claim (``t4_search_comparable`` in :mod:`.claims`) pools the cells like the rest
of the check; the figure is :func:`.plot.plot_table4`.
"""
from __future__ import annotations

import math
import time

import numpy as np

from numerics.datasets import digits_task
from numerics.lenet import lenet_for
from numerics.local_data import chiang_task
from numerics.models import make_model
from numerics.search_tenclass import TABLE4_SGD, compare
from verify.engine import Task, task

TEN = tuple(range(10))
T4_METHODS = ("sgd", "pattern_search", "random_greedy")
ROW_METHOD = {"sgd": "t4_sgd", "pattern_search": "t4_pattern_search", "random_greedy": "t4_random_greedy"}
REAL = ("mnist", "fashion_mnist", "cifar10")


def table4_points(p: dict, seed: int) -> list[Task]:
    out = []
    keys = ("dataset", "data_root", "t4_arch", "t4_width", "t4_lenet_width", "t4_runs", "t4_sweeps", "t4_steps",
            "t4_sgd_epochs", "normalization")
    common = {k: p.get(k) for k in keys}
    for s in range(p["t4_seeds"]):
        for n in sorted(int(n) for n in p["t4_n"]):
            for mi, method in enumerate(T4_METHODS):
                weight = max(1, p["t4_runs"] * n // 20)
                out.append(task(f"t4/{method}/s{s}/n{n}", {**common, "kind": "table4", "method": method, "n": n,
                                                            "data_seed": s}, seed, 7, s, n, mi, weight=weight))
    return sorted(out, key=lambda t: -t.weight)


def _task_data(tp):
    if tp["dataset"] in REAL:
        ds = chiang_task(tp["dataset"], tp["data_root"], tp["n"], tp["data_seed"], n_classes=10)
        return ds, lenet_for(ds, tp["t4_lenet_width"]), f"lenet-{tp['t4_lenet_width']:g}"
    ds = digits_task(TEN, tp["n"], data_seed=tp["data_seed"])
    model = make_model(tp["t4_arch"], ds.dim, 10, width=tp["t4_width"], image_shape=(8, 8))
    return ds, model, f"{tp['t4_arch']}-{tp['t4_width']}"


def table4_compute(t: Task) -> list[dict]:
    tp = t.params
    start = time.perf_counter()
    ds, model, arch = _task_data(tp)
    res = compare(model, ds, tp["t4_runs"], t.torch_generator(7), methods=[tp["method"]], prior="uniform",
                  normalization=tp["normalization"], sweeps=tp["t4_sweeps"], steps=tp["t4_steps"],
                  sgd_epochs=tp["t4_sgd_epochs"], device=t.device)[tp["method"]]
    accs = np.asarray(res.test_acc, float)
    return [{"kind": "point", "table": 4, "dataset": ds.name, "cell": f"t4/s{tp['data_seed']}", "data_seed": tp["data_seed"],
             "n": tp["n"], "arch": arch, "width": tp["t4_width"], "bias": True, "method": ROW_METHOD[tp["method"]],
             "n_classes": 10, "draws": len(accs), "accepted": len(accs), "fitted": int(res.fitted.sum()),
             "train_acc_mean": float(np.mean(res.train_acc)), "test_acc_mean": float(accs.mean()),
             "test_acc_se": float(accs.std(ddof=1) / math.sqrt(accs.size)) if accs.size > 1 else float("nan"),
             "test_accs": accs.tolist(), "steps": np.asarray(res.steps).tolist(),
             "sgd": {k: (tp["t4_sgd_epochs"] if k == "epochs" else v) for k, v in TABLE4_SGD.items()},
             "seconds": time.perf_counter() - start}]
