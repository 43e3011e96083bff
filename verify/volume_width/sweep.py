"""The points of ``volume_width`` and how each is computed: G&C (Rao–Blackwellized last layer,
``numerics.gnc_width``), its NNGP limit (``numerics.gnc_width.nngp_limit``) and SGD (Peleg & Hein's protocol,
``numerics.protocols``) per cell, n, depth and width; the prior-scale control; the one-hot contrast."""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import torch

from numerics.datasets import Dataset, digits_task
from numerics.gnc_width import nngp_limit, rb_guess_and_check
from numerics.models import MLP
from numerics.protocols import PELEG_HEIN, data_cells, run_protocol
from numerics.trainers import accuracy
from theory.nngp import GAUSSIAN_FIRST_LAYER
from verify.engine import Task, task
from verify.inputs import user_data
from verify.volume_width.params import draws_at, widths_at

WRONG_ACTIVATION = {"relu": "linear", "linear": "relu", "tanh": "relu"}
HOMOGENEOUS = ("relu", "linear")  # positively homogeneous: the scale of a zero-bias net drops out of every sign
COMMON_KEYS = ("activation", "prior", "scale", "bias", "proposals", "limit_samples", "kernel_units", "sgd_runs",
               "sgd_epochs", "n_test")


def cells(p: dict, seed: int) -> list[dict]:
    """The (pair, data seed) cells, each with its stable index ``slot`` = data seed × pairs + pair index (the
    task streams depend on it, so more data seeds never change the earlier cells' draws)."""
    out = data_cells(dataset=p["dataset"], classes=p["classes"], pairs=p["pairs"], seeds=p["seeds"], seed=seed)
    pairs = []
    for c in out:
        if c["label"] not in pairs:
            pairs.append(c["label"])
    return [{**c, "slot": c["data_seed"] * len(pairs) + pairs.index(c["label"])} for c in out]


def points(p: dict, seed: int, inputs: dict | None = None) -> list[Task]:
    common = {k: p[k] for k in COMMON_KEYS}
    control = p["limit_control"]
    common["data_file"] = p.get("data_file")
    common["dataset"] = p["dataset"]
    out = []
    ns = sorted(int(n) for n in p["n_train"])
    depths = sorted(int(d) for d in p["depth"])
    all_cells = cells(p, seed)
    for cell in all_cells:
        ci = cell.pop("slot")
        for ni, n in enumerate(ns):
            for depth in depths:
                base = {**common, **cell, "n": n, "depth": depth, "inputs": "digits", "role": "sweep"}
                key = f"{cell['label']}/s{cell['data_seed']}/n{n}/d{depth}"
                out.append(task(f"nngp/{key}", {**base, "kind": "nngp", "control": control}, seed, 1, ci, ni, depth,
                                weight=max(1, p["kernel_units"] // 65536)))
                for w in widths_at(p, depth):
                    dr = draws_at(p, w)
                    out.append(task(f"gnc/{key}/w{w}", {**base, "kind": "gnc", "width": w, "draws": dr}, seed,
                                    2, ci, ni, depth, w, weight=max(1, dr * w * depth // 65536)))
                    out.append(task(f"sgd/{key}/w{w}", {**base, "kind": "sgd", "width": w}, seed, 3, ci, ni, depth, w,
                                    weight=max(1, p["sgd_runs"] * p["sgd_epochs"] * n // 200)))
    cell, n = all_cells[0], ns[-1]
    base = {**common, **cell, "n": n, "depth": 1, "inputs": "digits", "role": "invariance",
            "bias": bool(p["invariance_bias"]), "width": int(p["invariance_width"]),
            "draws": draws_at(p, int(p["invariance_width"]))}
    for si, s in enumerate(p["invariance_scales"] if p["activation"] in HOMOGENEOUS else []):
        out.append(task(f"invariance/{si}", {**base, "kind": "gnc", "scale": float(s)}, seed, 4, si,
                        weight=max(1, base["draws"] * base["width"] // 65536)))
    if p["activation"] in HOMOGENEOUS or p["prior"] in GAUSSIAN_FIRST_LAYER:
        for depth in depths:
            base = {**common, **cell, "n": n, "depth": depth, "inputs": "identity", "role": "contrast", "bias": False}
            out.append(task(f"identity/nngp/d{depth}", {**base, "kind": "nngp"}, seed, 5, depth))
            if depth == depths[0]:
                for w in sorted(int(w) for w in p["contrast_widths"]):
                    dr = draws_at(p, w)
                    out.append(task(f"identity/gnc/d{depth}/w{w}", {**base, "kind": "gnc", "width": w, "draws": dr},
                                    seed, 6, depth, w, weight=max(1, dr * w // 65536)))
    return out


def _dataset(tp: dict) -> Dataset:
    user = user_data(tp)
    if user is not None:
        ds = user.head(tp["n"])
    else:
        ds = digits_task(tuple(tp["pair"]), tp["n"], tp["data_seed"], n_test=tp["n_test"] or None)
    if tp["inputs"] == "identity":  # one-hot codes of the same examples: matrix factorization's inputs
        eye = np.eye(ds.n_train + ds.y_test.size)
        ds = dataclasses.replace(ds, X_train=eye[:ds.n_train], X_test=eye[ds.n_train:], name=ds.name + " (one-hot)",
                                 image_shape=None)
    return ds


def _row(tp: dict, ds: Dataset, method: str, **fields) -> dict:
    return {"method": method, "inputs": tp["inputs"], "role": tp["role"], "dataset": ds.name, "classes": tp.get("pair"),
            "cell": tp["label"], "data_seed": tp["data_seed"], "n": tp["n"], "depth": tp["depth"], "arch": "mlp",
            "activation": tp["activation"], "prior": tp["prior"], "scale": tp["scale"], "bias": tp["bias"],
            "n_test": int(ds.y_test.size), **fields}


def _limit_row(t: Task, tp: dict, ds: Dataset, control: str, start: float) -> dict:
    activation = WRONG_ACTIVATION[tp["activation"]] if control == "wrong_activation" else tp["activation"]
    fields = nngp_limit(np.vstack([ds.X_train, ds.X_test]), ds.y_train, ds.y_test, activation=activation,
                        depth=tp["depth"], prior=tp["prior"], bias=tp["bias"], scale=tp["scale"],
                        one_hot=tp["inputs"] == "identity" or control == "wrong_inputs",
                        extra_bias=1.0 if control == "wrong_bias" else 0.0, kernel_units=tp["kernel_units"],
                        samples=tp["limit_samples"], generator=lambda g: t.torch_generator(1, g), rng=t.rng(2),
                        group_rng=t.rng(3))
    return _row(tp, ds, "nngp", width=None, control=control, **fields, runtime_s=time.perf_counter() - start)


def _sgd_row(t: Task, tp: dict, ds: Dataset, start: float) -> dict:
    """Peleg & Hein's SGD protocol with ``sgd_epochs`` epochs; runs kept only at 100 % training accuracy."""
    protocol = dataclasses.replace(PELEG_HEIN, epochs=int(tp["sgd_epochs"]))
    model = MLP(ds.dim, [tp["width"]] * tp["depth"], 2, tp["activation"], tp["bias"])
    X, y = torch.as_tensor(ds.X_train), torch.as_tensor(ds.y_train)
    Xte, yte = torch.as_tensor(ds.X_test), torch.as_tensor(ds.y_test)
    accs = []
    for r in range(tp["sgd_runs"]):
        run = run_protocol(model, X, y, protocol, t.torch_generator(1, r))
        if run.fitted:
            accs.append(float(accuracy(model, run.theta, Xte, yte)))
    k = len(accs)
    return _row(tp, ds, "sgd", width=tp["width"], runs=tp["sgd_runs"], fitted=k, epochs=tp["sgd_epochs"],
                lr=protocol.lr, batch_size=protocol.batch_size, init=protocol.init,
                test_acc_mean=float(np.mean(accs)) if k else float("nan"),
                test_acc_se=float(np.std(accs, ddof=1) / math.sqrt(k)) if k >= 2 else float("nan"),
                se_dof=float(k - 1), test_accs=accs, runtime_s=time.perf_counter() - start)


def compute(t: Task) -> list[dict]:
    tp = t.params
    control = tp.get("control", "none")
    ds = _dataset({**tp, "inputs": "identity"} if control == "wrong_inputs" else tp)
    start = time.perf_counter()
    if tp["kind"] == "nngp":
        return [_limit_row(t, tp, ds, control, start)]
    if tp["kind"] == "gnc":
        res = rb_guess_and_check(ds, width=tp["width"], depth=tp["depth"], activation=tp["activation"],
                                 prior=tp["prior"], bias=tp["bias"], scale=tp["scale"], draws=tp["draws"],
                                 proposals=tp["proposals"], rng=t.rng(1), device=t.device)
        fields = res.as_dict()
        fields.pop("n"), fields.pop("depth")
        return [_row(tp, ds, "gnc_rb", **fields, runtime_s=time.perf_counter() - start)]
    return [_sgd_row(t, tp, ds, start)]
