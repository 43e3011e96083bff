"""Chiang et al.'s Tables 2, 3 and 6 as presets of ``volume_hypothesis`` (``--set table=2|3|6``): Guess & Check
with LeNet against SGD on two-class tasks, n = 2 … 32, judged by the check's ``chiang_comparable`` claim
(Table 6: the Table 2 setting over the LeNet widths ``t6_widths``, judged per width; the widths are this
package's choice).

Scope: Table 2 is 2-class MNIST, Table 3 2-class CIFAR-10, with a random class pair per data seed (the pairs are
drawn from the master seed, as the check's digit pairs), n/2 images per class, the whole test split of the pair
(``numerics.local_data``); LeNet-``lenet_width`` with Chiang's U(−1, 1) prior on every parameter, the fast LeNet
G&C (``numerics.gnc_lenet``, float32 pass with float64 re-checks); SGD with the paper's configs: U(−1, 1)
initialization, batch 2, 30 epochs, lr 1e-3 (Table 2) or 1e-4 (Table 3), frozen at 100 % training accuracy
(Chiang's rule). Without ``data_root`` (quick runs, 2 CPU cores) both tables run on the package's stand-in: the
8×8 digits upsampled to 28×28 (one channel, so Table 3's stand-in is not CIFAR-shaped). Normalized-loss bins
are not part of these presets yet (the accuracy is that of all accepted models).
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from numerics.gnc_lenet import guess_and_check_lenet
from numerics.lenet import lenet_for
from numerics.local_data import chiang_task, digits_splits, protocol_task
from numerics.protocols import Protocol, run_protocol
from numerics.search_tenclass import accuracies
from verify.engine import Task, task

LENET_SGD = {2: 1e-3, 3: 1e-4, 6: 1e-3}  # lr of Chiang et al.'s configs for Tables 2 and 3 (6: Table 2's)
LOCAL = {2: ("mnist", "fashion_mnist"), 3: ("cifar10",), 6: ("mnist", "fashion_mnist")}


def sgd_protocol(table: int) -> Protocol:
    return Protocol("chiang", init="uniform", lr=LENET_SGD[table], batch_size=2, epochs=30, freeze_at_fit=True)


def lenet_points(p: dict, seed: int, cells) -> list[Task]:
    ns = sorted(int(n) for n in p["t23_n"])
    common = {k: p.get(k) for k in ("table", "dataset", "data_root", "lenet_width", "max_accepted", "memory_mb")}
    out = []
    widths = p["t6_widths"] if p["table"] == 6 else [p["lenet_width"]]
    for ci, cell in cells:
        for wi, w in enumerate(widths):
            base = {**common, **cell, "n_max": ns[-1], "lenet_width": w}
            key = f"t{p['table']}/{cell['label']}/s{cell['data_seed']}" + (f"/w{w:g}" if p["table"] == 6 else "")
            out.append(task(f"{key}/gnc", {**base, "kind": "lenet_gnc", "ns": ns, "draws": p["t23_draws"]}, seed, 8,
                            ci, wi, weight=max(1, p["t23_draws"] // 2000)))
            for n in ns:
                out.append(task(f"{key}/sgd/n{n}", {**base, "kind": "lenet_sgd", "n": n, "runs": p["t23_sgd_runs"]},
                                seed, 9, ci, wi, n, weight=max(1, p["t23_sgd_runs"] * n // 4)))
    return sorted(out, key=lambda t: -t.weight)


def _data(tp):
    if tp["dataset"] in LOCAL[tp["table"]]:
        return chiang_task(tp["dataset"], tp["data_root"], tp["n_max"], tp["data_seed"], classes=tp["pair"])
    return protocol_task(digits_splits(28), tp["n_max"], tp["data_seed"], classes=tp["pair"])


def _row(tp, ds, method, n, accs, **fields):
    accs = np.asarray(accs, float)
    return {"kind": "point", "table": tp["table"], "dataset": ds.name, "classes": tp["pair"], "cell": tp["label"],
            "data_seed": tp["data_seed"], "n": int(n), "arch": f"lenet-{tp['lenet_width']:g}", "width": tp["lenet_width"],
            "bias": True, "prior": "uniform", "method": method, "n_classes": 2,
            "test_acc_mean": float(accs.mean()) if accs.size else float("nan"),
            "test_acc_se": float(accs.std(ddof=1) / math.sqrt(accs.size)) if accs.size > 1 else float("nan"),
            "test_accs": accs.tolist(), **fields}


def lenet_compute(t: Task) -> list[dict]:
    tp = t.params
    start = time.perf_counter()
    ds = _data(tp)
    model = lenet_for(ds, tp["lenet_width"])
    rows = []
    if tp["kind"] == "lenet_gnc":
        for r in guess_and_check_lenet(model, ds, prior="uniform", draws=tp["draws"], generator=t.torch_generator(1),
                                       n_list=tp["ns"], max_test_models=tp["max_accepted"], device=t.device,
                                       memory_bytes=tp["memory_mb"] * 2 ** 20):
            rows.append(_row(tp, ds, "gnc", r.n, r.test_accs, draws=r.draws, accepted=r.accepted, p_hat=r.p_hat,
                             bits=r.bits, bits_se=r.bits_se))
    else:
        n = tp["n"]
        f = lambda a, dt: torch.as_tensor(np.ascontiguousarray(a), dtype=dt, device=t.device)
        X, y = f(ds.X_train[:n], torch.float64), f(ds.y_train[:n], torch.int64)
        Xt, yt = f(ds.X_test, torch.float64), f(ds.y_test, torch.int64)
        runs = [run_protocol(model, X, y, sgd_protocol(tp["table"]), t.torch_generator(2, r)) for r in range(tp["runs"])]
        good = [r.theta for r in runs if r.fitted]
        accs = accuracies(model, torch.stack(good), Xt, yt) if good else []
        rows.append(_row(tp, ds, "sgd_chiang", n, accs, draws=tp["runs"], accepted=len(good),
                         steps=[r.steps for r in runs], lr=LENET_SGD[tp["table"]]))
    seconds = time.perf_counter() - start
    return [{**r, "seconds": seconds} for r in rows]
