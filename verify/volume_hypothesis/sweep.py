"""The tasks of ``volume_hypothesis`` and their computation: one task per G&C pass (pair, data seed, width,
bias: every n of ``n_train`` in one nested pass), per SGD protocol / search method and n, per random-label
cell and n, per poisoned-SGD cell and n, and per kink/slab method. Digit pairs are drawn from the master seed
(stream 0); with ``--data`` the file is used as given (one "pair")."""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from numerics.datasets import Dataset, digits_task, kink, random_labels, slab
from numerics.gnc_classifier import bin_pairs, guess_and_check, margins
from numerics.models import make_model, sample_prior
from numerics.normalized_losses import normalized_cross_entropy
from numerics.protocols import data_cells, poisoned_run, run_protocol
from numerics.search import pattern_search, random_greedy
from verify.engine import Task, task
from verify.inputs import user_data


def _bins(p):
    """G&C acceptance bins: with ``loss_bins`` the unbinned acceptance (−inf, inf] first (the claims use it),
    then every (lo, hi] of consecutive edges; None without bins."""
    e = p["loss_bins"]
    return [(-math.inf, math.inf)] + bin_pairs(e) if e else None


def _unbinned(r) -> bool:
    b = r.get("loss_bin")
    return b is None or (b[0] == -math.inf and b[1] == math.inf)


def cells(p: dict, seed: int) -> list[dict]:
    """The (pair, data seed) cells (:func:`numerics.protocols.data_cells`)."""
    return data_cells(dataset=p["dataset"], classes=p["classes"], pairs=p["pairs"], seeds=p["seeds"], seed=seed)


def cell_streams(cell_list: list[dict]) -> list[tuple[int, dict]]:
    """(stream id, cell): the id ``pair index + pairs × data seed`` names the cell, not its position, so a cell
    keeps its random streams when the data seeds grow (:func:`grow`); with one data seed it is the pair index."""
    order = list(dict.fromkeys(c["label"] for c in cell_list))
    return [(order.index(c["label"]) + len(order) * c["data_seed"], c) for c in cell_list]


def points(p: dict, seed: int, inputs: dict | None = None) -> list[Task]:
    if p.get("table") == 4:
        from verify.volume_hypothesis.tables import table4_points
        return table4_points(p, seed)
    if p.get("table") in (1, 2, 3, 6):
        from verify.volume_hypothesis.lenet_tables import lenet_points
        return lenet_points(p, seed, cell_streams(cells(p, seed)))
    ns = sorted(int(n) for n in p["n_train"])
    common = {k: p[k] for k in ("arch", "depth", "prior", "scale", "normalization", "memory_mb", "dataset",
                                "max_accepted", "loss_bins")}
    common["data_file"] = p.get("data_file")
    out = []
    for ci, cell in cell_streams(cells(p, seed)):
        for wi, width in enumerate(p["widths"]):
            for bi, bias in enumerate(p["bias"]):
                base = {**common, **cell, "width": int(width), "bias": bool(bias), "n_max": ns[-1]}
                key = f"{cell['label']}/s{cell['data_seed']}/w{width}/b{int(bias)}"
                if "gnc" in p["methods"]:
                    out.append(task(f"gnc/{key}", {**base, "kind": "gnc", "ns": ns, "draws": p["draws"]},
                                    seed, 1, ci, wi, bi, weight=max(1, p["draws"] // 2000)))
                for pi, prot in enumerate(p["protocols"] if "sgd" in p["methods"] else []):
                    if not _runs_protocol(p, prot, bool(bias)):
                        continue
                    runs = p[f"sgd_runs_{prot}"]
                    for n in ns:
                        out.append(task(f"sgd/{prot}/{key}/n{n}",
                                        {**base, "kind": "sgd", "protocol": prot, "n": n, "runs": runs,
                                         "lr": p["sgd_lr"]},
                                        seed, 2, ci, wi, bi, pi, n, weight=max(1, runs * n // 8)))
                for mi, meth in enumerate(m for m in ("pattern_search", "random_greedy") if m in p["methods"]):
                    for n in sorted(set(p["search_n"]) & set(ns)):
                        out.append(task(f"{meth}/{key}/n{n}",
                                        {**base, "kind": "search", "method": meth, "n": n, "runs": p["search_runs"],
                                         "sweeps": p["search_sweeps"], "steps": p["search_steps"]},
                                        seed, 3, ci, wi, bi, mi, n, weight=max(1, p["search_runs"] * n // 2)))
        if "poisoned" in p["methods"] and p["dataset"] == "digits":
            bias = True if True in p["bias"] else bool(p["bias"][0])
            for n in sorted(set(p["poison_n"]) & set(ns)):
                out.append(task(f"poisoned/{cell['label']}/s{cell['data_seed']}/n{n}",
                                {**common, **cell, "width": int(p["widths"][0]), "bias": bias, "kind": "poisoned",
                                 "n": n, "n_max": n + p["poison_count"], "runs": p["sgd_runs_chiang"]},
                                seed, 6, ci, n, weight=max(1, p["sgd_runs_chiang"] * n // 4)))
        if "gnc" in p["methods"] and (p["dataset"] == "digits" or p.get("data_classes") == 2):  # the bound is for 2 classes
            base = {**common, **cell, "width": int(p["widths"][0]), "bias": bool(p["bias"][0])}
            for n in sorted(p["control_n"]):
                out.append(task(f"control/{cell['label']}/s{cell['data_seed']}/n{n}",
                                {**base, "kind": "control", "n": n, "n_max": n, "reps": p["control_reps"],
                                 "draws": p["control_draws"]},
                                seed, 4, ci, n, weight=max(1, p["control_reps"] * p["control_draws"] // 2000)))
    if p["kink_slab"]:
        base = {**common, "width": int(p["widths"][0]), "bias": True, "arch": "mlp", "depth": p["depth"],
                "draws": p["shape_draws"], "models": p["boundary_models"], "kink_margin": p["kink_margin"]}
        for si, shape in enumerate(("kink", "slab")):
            for mi, meth in enumerate(("gnc", "sgd_chiang")):
                out.append(task(f"{shape}/{meth}", {**base, "kind": shape, "method": meth,
                                                    "n": p[f"{shape}_n"]},
                                seed, 5, si, mi, weight=max(1, p["shape_draws"] // 8000)))
    return sorted(out, key=lambda t: -t.weight)


def _runs_protocol(p: dict, protocol: str, bias: bool) -> bool:
    """``sgd_setting=paper``: each protocol on its paper's architecture (Chiang et al.: with biases; Peleg & Hein:
    without), falling back to every architecture when that one is not in ``bias``; ``all``: everywhere."""
    if p["sgd_setting"] == "all":
        return True
    own = {"chiang": True, "peleg_hein": False}[protocol]
    return bias == own or own not in p["bias"]


def _dataset(tp: dict) -> Dataset:
    if tp.get("data_file"):
        return user_data({"dataset": "file", "data_file": tp["data_file"]})
    return digits_task(tuple(tp["pair"]), tp["n_max"], tp["data_seed"])


def _model(tp: dict, ds: Dataset):
    return make_model(tp["arch"], ds.dim, ds.n_classes, width=tp["width"], depth=tp["depth"], bias=tp["bias"],
                      image_shape=ds.image_shape or (8, 8))


def _row(tp: dict, ds: Dataset, method: str, n: int, **fields) -> dict:
    return {"kind": "point", "dataset": ds.name, "classes": tp.get("pair"), "cell": tp.get("label"),
            "data_seed": tp.get("data_seed"), "n": int(n), "arch": tp["arch"], "width": tp["width"],
            "depth": tp["depth"], "bias": tp["bias"], "prior": tp["prior"], "method": method,
            "normalization": tp["normalization"], "n_classes": ds.n_classes, **fields}


def _acc_fields(accs, losses=None) -> dict:
    accs = np.asarray(accs, float)
    return {"test_acc_mean": float(accs.mean()) if accs.size else float("nan"),
            "test_acc_se": float(accs.std(ddof=1) / math.sqrt(accs.size)) if accs.size > 1 else float("nan"),
            "test_accs": accs.tolist(),
            "normalized_losses": None if losses is None else np.asarray(losses, float).tolist()}


def _tensors(ds: Dataset, device):
    f = lambda a, dt: torch.as_tensor(np.ascontiguousarray(a), dtype=dt, device=device)
    return f(ds.X_train, torch.float64), f(ds.y_train, torch.int64), f(ds.X_test, torch.float64), f(ds.y_test, torch.int64)


def _gnc(tp, ds, model, gen, device, ns, draws):
    return guess_and_check(model, ds, prior=tp["prior"], scale=tp["scale"], draws=draws, generator=gen,
                           memory_bytes=tp["memory_mb"] * 2 ** 20, device=device, n_list=ns,
                           loss_bins=_bins(tp), normalization=tp["normalization"], max_test_models=tp["max_accepted"])


def compute(t: Task) -> list[dict]:
    """The rows of one task, each with the task's wall time ``seconds``."""
    if t.params["kind"] == "table4":
        from verify.volume_hypothesis.tables import table4_compute
        return table4_compute(t)
    if t.params["kind"] in ("lenet_gnc", "lenet_sgd", "lenet_poisoned"):
        from verify.volume_hypothesis.lenet_tables import lenet_compute
        return lenet_compute(t)
    start = time.perf_counter()
    rows = _compute_shape(t) if t.params["kind"] in ("kink", "slab") else _compute_point(t)
    seconds = time.perf_counter() - start
    return [{**r, "seconds": seconds} for r in rows]


def _compute_point(t: Task) -> list[dict]:
    tp = t.params
    device = t.device
    ds = _dataset(tp)
    model = _model(tp, ds)
    if tp["kind"] in ("gnc", "control"):
        rows = []
        for rep in range(tp["reps"] if tp["kind"] == "control" else 1):
            data, ns = ds, tp.get("ns")
            if tp["kind"] == "control":  # a fresh balanced random labeling of the first n images
                data, ns = random_labels(ds.head(tp["n"]), t.rng(0, rep)), [tp["n"]]
            results = _gnc(tp, data, model, t.torch_generator(1, rep), device, ns, tp["draws"])
            for r in results:
                fields = r.to_row()
                row = _row(tp, ds, "gnc" if tp["kind"] == "gnc" else "gnc_random_labels", fields.pop("n"), **fields)
                row["rep"] = rep
                rows.append(row)
        return rows
    X, y, Xt, yt = _tensors(ds, device)
    n = tp["n"]
    Xn, yn = X[:n], y[:n]
    if tp["kind"] == "poisoned":  # the images after the first n are held out of the test set (numerics.datasets)
        runs = [poisoned_run(model, Xn, yn, X[n:], y[n:], t.torch_generator(2, r), n_classes=ds.n_classes)
                for r in range(tp["runs"])]
        thetas = torch.stack([r.theta for r in runs])
        fitted = torch.tensor([r.fitted for r in runs])
        steps = [r.steps for r in runs]
        method = "sgd_poisoned"
    elif tp["kind"] == "sgd":
        runs = [run_protocol(model, Xn, yn, tp["protocol"], t.torch_generator(2, r), lr=tp["lr"] or None,
                             normalization=tp["normalization"], X_ref=Xt)
                for r in range(tp["runs"])]
        thetas = torch.stack([r.theta for r in runs])
        fitted = torch.tensor([r.fitted for r in runs])
        steps = [r.steps for r in runs]
        method = f"sgd_{tp['protocol']}"
    else:
        gen = t.torch_generator(3)
        theta0 = sample_prior(model, tp["prior"], tp["runs"], gen, scale=tp["scale"]).to(device)
        if tp["method"] == "pattern_search":
            res = pattern_search(model, Xn, yn, theta0, gen, r0=0.5 * tp["scale"], max_sweeps=tp["sweeps"],
                                 normalization=tp["normalization"], X_ref=Xt)
        else:
            res = random_greedy(model, Xn, yn, theta0, gen, r0=0.1 * tp["scale"], max_steps=tp["steps"],
                                normalization=tp["normalization"], X_ref=Xt)
        thetas, fitted, steps = res.theta, res.fitted.cpu(), res.steps.tolist()
        method = tp["method"]
    good = thetas[fitted.to(thetas.device)]
    with torch.no_grad():
        accs = (margins(model, good, Xt, yt) > 0).to(torch.float64).mean(-1).cpu().numpy() if len(good) else []
        losses = normalized_cross_entropy(model, good, Xn, yn, tp["normalization"], X_ref=Xt).cpu().numpy() \
            if len(good) else []
    return [_row(tp, ds, method, n, draws=tp["runs"], accepted=int(fitted.sum()), steps=steps,
                 **_acc_fields(accs, losses))]


GRID = 48


def _compute_shape(t: Task) -> list[dict]:
    """Kink: the decision of every solution on a GRID × GRID square; slab: the fraction of probes each
    solution classifies the "linear" way (x > 0)."""
    tp = t.params
    ds = kink(tp["n"], t.rng(0), margin=tp["kink_margin"]) if tp["kind"] == "kink" else slab(tp["n"], t.rng(0))
    model = make_model("mlp", 2, 2, width=tp["width"], depth=tp["depth"], bias=True)
    X, y, Xt, yt = _tensors(ds, "cpu")
    k = tp["models"]
    if tp["method"] == "gnc":
        res = guess_and_check(model, ds, prior=tp["prior"], scale=tp["scale"], draws=tp["draws"],
                              generator=t.torch_generator(1), max_test_models=k, keep_params=True)[0]
        theta = torch.as_tensor(res.params) if res.params is not None else torch.zeros(0, model.n_params, dtype=torch.float64)
        draws = res.draws
    else:
        runs = [run_protocol(model, X, y, "chiang", t.torch_generator(2, r)) for r in range(k)]
        theta = torch.stack([r.theta for r in runs if r.fitted]) if any(r.fitted for r in runs) \
            else torch.zeros(0, model.n_params, dtype=torch.float64)
        draws = k
    row = {"kind": tp["kind"], "method": tp["method"], "n": tp["n"], "width": tp["width"], "draws": draws,
           "models": int(theta.shape[0]), "X_train": ds.X_train.tolist(), "y_train": ds.y_train.tolist()}
    with torch.no_grad():
        if tp["kind"] == "kink":
            lo, hi = (-1.2, 1.2), (-0.2, 1.5)
            gx, gy = np.meshgrid(np.linspace(*lo, GRID), np.linspace(*hi, GRID))
            G = torch.as_tensor(np.column_stack([gx.ravel(), gy.ravel()]))
            votes = (model(theta, G).argmax(-1) == 1).to(torch.float64) if len(theta) else torch.zeros(0, G.shape[0])
            row.update(grid_x=list(lo), grid_y=list(hi), grid=GRID, class1_fraction=votes.mean(0).tolist() if len(theta) else None,
                       examples=votes[:4].tolist())
        else:
            lin = (margins(model, theta, Xt, yt) > 0).to(torch.float64).mean(-1) if len(theta) else torch.zeros(0)
            row.update(linear_fraction=lin.tolist())
    return [row]


GROWS = ("seeds", "t4_seeds")


def grow(p: dict, round: int) -> dict:
    """Round ``round`` of a sequential run (``--until-decisive``): the data seeds per pair double each round
    (1, 2, 4, ... times the given ``seeds``). Task keys name the cell (pair, data seed index), so the cells of
    earlier rounds are reused from the checkpoint. With ``--data`` there is one cell and nothing grows (the
    rounds reuse the same points)."""
    return {**p, "seeds": p["seeds"] * 2 ** (round - 1), "t4_seeds": p["t4_seeds"] * 2 ** (round - 1)}
