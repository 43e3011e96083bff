"""``python -m verify volume_hypothesis``: Guess & Check, pattern search and random greedy search vs SGD on
small real networks (spec: volume_hypothesis.md §1, §2, §4; real_networks.md).

Claims under test (the papers'):
- Chiang et al. (ICLR 2023, "Loss Landscapes are All You Need"): in the low-sample regime G&C (and pattern /
  random greedy search) reach test accuracy *comparable to SGD*. Their setting: uniform prior U(−1, 1) on
  every parameter, biases included; SGD frozen at 100 % training accuracy.
- Peleg & Hein (ICML 2024): on the same kind of experiment G&C is *well below* SGD. Their setting: uniform
  prior with biases fixed at 0, SGD from Kaiming init, lr 0.01, batch 2, 60 epochs.
This package's formalization (rules fixed in advance; α = ``alpha``, default 1e-3):
1. ``chiang_comparable[n=..]`` (one claim per n): Δ = acc(G&C, biases) − acc(SGD, ``chiang`` protocol), averaged
   over the (pair, data seed, width) cells; equivalence by TOST with margin δ = ``margin`` points (default 5):
   pass (Chiang's claim holds at this n) if the (1 − 2α) CI of Δ lies in (−δ, δ), fail if it lies wholly
   outside, else inconclusive. SEs are Monte Carlo errors given the cells (fixed effects: the claim is about
   these pairs), Welch–Satterthwaite dof with SGD's (fitted runs − 1).
2. ``peleg_hein_gap[n=..]`` (one claim per n): Δ' = acc(SGD, ``peleg_hein``) − acc(G&C, no biases); P&H's "well
   below" formalized as Δ' > δ: pass if the (1 − 2α) CI of Δ' lies above δ, fail if wholly below, else
   inconclusive. The two papers' claims are complementary at a given n (Δ inside ±δ vs beyond δ).
3. ``gnc_above_chance``: at every (n, bias) the CI of G&C's mean test accuracy (Bonferroni over the points)
   lies above chance 1/C (any CI wholly below: fail).
4. ``bits_below_n``: for true labels −log₂ p̂ < n at every n ≥ ``bits_min_n`` (default 8; CI upper end below
   n: pass, lower end above: fail). Below it the claim is not judged and the values are reported: for n = 2 a
   balanced labeling is the true one up to the label swap, so no labels can be "easier" than random there.
5. ``random_label_bits`` (falsifiability control): with balanced random labels (a random permutation of the
   training labels, ``control_reps`` labelings per pair) E_y[P(fit)] = P(prediction balanced)/C(n, n/2) ≤
   1/C(n, n/2) for *any* prior, i.e. mean bits ≥ n − slack with slack = n − log₂ C(n, n/2). Rule: the CI of
   the mean p̂ over labelings (Student t, dof = labelings − 1, Bonferroni over n) below the bound: pass;
   wholly above: fail.
6. ``random_label_chance``: the accepted models' test accuracy on the true test labels, averaged over the
   random labelings, is at chance: by the label-swap symmetry its expectation is exactly 1/C = 1/2 (a
   labeling and its complement are equally likely). Rule (:func:`verify.rules.agree`): |mean − 1/2| ≤ the
   Student-t quantile (dof = labelings − 1, level α) times the SE across labelings, else fail.
7. ``poisoned_sgd_below_gnc[n=..]`` (Chiang et al.'s Table 1 control, at ``poison_n``): SGD run until it
   fits the training set *and* ``poison_count`` held-out images with flipped labels; the clean test accuracy of
   those interpolating minima is below G&C's by more than δ ((1 − 2α) CI above δ: pass; wholly below: fail).
   It shows that bad minima exist, so G&C's accuracy is not "every minimum generalizes".
With ``loss_bins`` G&C also accepts per normalized-loss bin (rows with ``loss_bin``, drawn in the
accuracy-vs-bin panel); the claims use the unbinned acceptance, and SGD is frozen at its first fit.
Recorded and drawn, not judged: pattern search and random greedy (Chiang et al.'s other optimizers), the
SGD fit fractions, normalized losses of accepted models, the kink decision boundaries and the slab
"linear vs zig-zag" fractions of G&C and SGD solutions (``kink_slab``).

Sweep: one task per G&C pass (pair, data seed, width, bias: all n of ``n_train`` in one nested pass), per
SGD protocol / search method and n, per random-label replicate, and per kink/slab method. Digit pairs are
drawn from the master seed (stream 0); with ``--data`` the file is used as given (one "pair").
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from numerics.datasets import Dataset, digits_pairs, digits_task, kink, load_npz, random_labels, slab
from numerics.gnc_classifier import guess_and_check, margins
from numerics.models import ARCHS, PRIORS, make_model, sample_prior
from numerics.normalized_losses import NORMALIZATIONS, normalized_cross_entropy
from numerics.protocols import PROTOCOLS, data_cells, poisoned_run, run_protocol
from numerics.search import pattern_search, random_greedy
from verify.engine import Task, task
from verify.errors import require
from verify.figures import new_figure, save_figure
from verify.report import Claim
from verify.rules import agree, equivalent, interval_verdict, t_quantile, welch_combination_dof

NAME = "volume_hypothesis"
SUMMARY = "G&C, pattern search, random greedy vs SGD on 8x8 digits: Chiang et al. vs Peleg & Hein"
INPUTS = ("data",)
METHODS = ("gnc", "sgd", "pattern_search", "random_greedy", "poisoned")
QUICK = {
    "dataset": "digits",
    "pairs": 3,  # digit pairs drawn by the seed (ignored when classes is given or with --data)
    "classes": [],  # an explicit pair, e.g. 3,8
    "n_train": [2, 4, 8, 16, 32],
    "arch": "mlp",
    "widths": [32],
    "depth": 1,
    "prior": "uniform",
    "scale": 1.0,
    "bias": [True, False],
    "methods": list(METHODS),
    "protocols": ["chiang", "peleg_hein"],
    "seeds": 1,  # data seeds per pair
    "draws": 60000,
    "max_accepted": 600,  # test accuracies measured on the first this many accepted models per n
    "sgd_runs_chiang": 12,  # runs per (cell, n): Chiang's protocol stops early and is cheap
    "sgd_runs_peleg_hein": 5,  # 60 epochs of batch 2: the expensive one
    "sgd_setting": "paper",  # paper: chiang on the biased net, peleg_hein on the bias-free one; all: every pairing
    "sgd_lr": 0.0,  # 0: each protocol's own learning rate
    "search_runs": 4,
    "search_n": [4, 8, 16],
    "search_sweeps": 4,
    "search_steps": 600,
    "poison_n": [16],  # n (in n_train) where poisoned SGD runs (Chiang et al., Table 1)
    "poison_count": 16,  # held-out training images added with flipped labels
    "normalization": "frobenius",
    "loss_bins": [],  # bin edges, e.g. 0.60,0.65,0.70 (consecutive pairs (lo, hi]); empty: no bins
    "margin": 5.0,  # δ in accuracy points
    "alpha": 1e-3,
    "bits_min_n": 8,
    "control_n": [4, 8],
    "control_reps": 12,
    "control_draws": 3000,
    "kink_slab": True,
    "kink_n": 8,
    "kink_margin": 0.5,
    "slab_n": 8,
    "shape_draws": 100000,
    "boundary_models": 25,
    "memory_mb": 64,
}
FULL = {"pairs": 8, "seeds": 2, "draws": 1_000_000, "max_accepted": 4000, "sgd_runs_chiang": 40,
        "sgd_runs_peleg_hein": 20, "sgd_setting": "all", "search_runs": 10,
        "search_n": [4, 8, 16, 32], "search_sweeps": 10, "search_steps": 3000, "control_reps": 60,
        "control_draws": 20_000, "boundary_models": 100,
        "shape_draws": 1_000_000}
TYPES = {"classes": list, "loss_bins": list}


# ----------------------------------------------------------------------------------------------------
# Parameters and inputs
# ----------------------------------------------------------------------------------------------------
def prepare(p: dict, inputs: dict) -> dict:
    """``--data FILE.npz`` replaces the digits (validated here, one-line errors; used as given)."""
    if inputs.get("data") is not None:
        ds = load_npz(inputs["data"])
        p = {**p, "dataset": "file", "data_file": str(Path(inputs["data"]).resolve()), "data_n_train": ds.n_train,
             "data_classes": ds.n_classes, "data_dim": ds.dim}
    return p


def _int_list(p, key, low, what):
    vals = p[key]
    require(isinstance(vals, list) and all(isinstance(v, (int, float)) and float(v).is_integer() for v in vals),
            f"{key} must be a list of integers, got {vals}")
    vals = [int(v) for v in vals]
    require(all(v >= low for v in vals), f"{key} must be >= {low} ({what}), got {vals}")
    return vals


def validate(p: dict) -> None:
    require(p["dataset"] in ("digits", "file"), f"dataset must be digits (or give --data FILE.npz), got {p['dataset']!r}")
    require(p["dataset"] != "file" or "data_file" in p, "dataset=file needs --data FILE.npz")
    ns = _int_list(p, "n_train", 1, "training-set sizes")
    require(len(ns) >= 1, "n_train needs at least one size")
    if p["dataset"] == "digits":
        classes = _int_list(p, "classes", 0, "digits")
        require(not classes or (len(classes) == 2 and classes[0] != classes[1] and max(classes) <= 9),
                f"classes must be two distinct digits 0..9, e.g. 3,8; got {classes}")
        require(all(n % 2 == 0 for n in ns), f"n_train must be even (balanced pairs), got {ns}")
        require(max(ns) <= 160, f"n_train must be <= 160 (80 images per class), got {max(ns)}")
        require(1 <= p["pairs"] <= 45, f"pairs must be in [1, 45], got {p['pairs']}")
    else:
        require(max(ns) <= p["data_n_train"], f"n_train must be <= {p['data_n_train']} (the --data training set), got {max(ns)}")
    require(p["arch"] in ARCHS, f"arch must be one of {', '.join(ARCHS)}, got {p['arch']!r}")
    require(p["arch"] != "cnn" or p["dataset"] == "digits" or p["data_dim"] == 64,
            "arch=cnn needs 8x8 images (64 features)")
    _int_list(p, "widths", 1, "hidden width")
    require(len(p["widths"]) >= 1, "widths needs at least one value")
    require(p["arch"] != "cnn" or min(p["widths"]) >= 8, f"cnn widths must be >= 8 (channels = width // 8), got {p['widths']}")
    require(1 <= p["depth"] <= 4, f"depth must be in [1, 4], got {p['depth']}")
    require(p["prior"] in PRIORS, f"prior must be one of {', '.join(PRIORS)}, got {p['prior']!r}")
    require(p["scale"] > 0, f"scale must be > 0, got {p['scale']}")
    require(len(p["bias"]) >= 1 and len(set(p["bias"])) == len(p["bias"]), f"bias must be true, false or both, got {p['bias']}")
    unknown = sorted(set(p["methods"]) - set(METHODS))
    require(not unknown and p["methods"], f"methods must be among {', '.join(METHODS)}, got {p['methods']}")
    bad = sorted(set(p["protocols"]) - set(PROTOCOLS))
    require(not bad and p["protocols"], f"protocols must be among {', '.join(PROTOCOLS)}, got {p['protocols']}")
    for key in ("seeds", "draws", "max_accepted", "sgd_runs_chiang", "sgd_runs_peleg_hein", "search_runs", "search_sweeps", "search_steps",
                "control_reps", "control_draws", "boundary_models", "memory_mb", "kink_n", "slab_n", "shape_draws"):
        require(isinstance(p[key], int) and p[key] >= 1, f"{key} must be an integer >= 1, got {p[key]}")
    require(p["sgd_setting"] in ("paper", "all"), f"sgd_setting must be paper or all, got {p['sgd_setting']!r}")
    require(p["sgd_lr"] >= 0, f"sgd_lr must be >= 0 (0: the protocol's), got {p['sgd_lr']}")
    _int_list(p, "search_n", 1, "training-set sizes; the search runs at those also in n_train")
    _int_list(p, "poison_n", 1, "training-set sizes; poisoned SGD runs at those also in n_train")
    require(isinstance(p["poison_count"], int) and p["poison_count"] >= 2 and p["poison_count"] % 2 == 0,
            f"poison_count must be an even integer >= 2, got {p['poison_count']}")
    require(p["dataset"] != "digits" or max(p["poison_n"], default=0) + p["poison_count"] <= 160,
            "poison_n + poison_count must be <= 160 (80 images per class)")
    cn = _int_list(p, "control_n", 2, "training-set sizes")
    require(all(n % 2 == 0 for n in cn), f"control_n must be even (balanced random labels), got {cn}")
    require(p["dataset"] == "digits" or max(cn, default=0) <= p["data_n_train"], "control_n exceeds the --data training set")
    require(p["control_reps"] >= 2, f"control_reps must be >= 2 (an SE across labelings), got {p['control_reps']}")
    require(p["normalization"] in NORMALIZATIONS, f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {p['normalization']!r}")
    edges = p["loss_bins"]
    require(all(isinstance(e, (int, float)) for e in edges) and (len(edges) == 0 or len(edges) >= 2)
            and all(a < b for a, b in zip(edges, edges[1:])), f"loss_bins must be increasing bin edges (>= 2), got {edges}")
    require(0 < p["margin"] < 50, f"margin must be in (0, 50) accuracy points, got {p['margin']}")
    require(0 < p["alpha"] < 0.5, f"alpha must be in (0, 0.5), got {p['alpha']}")
    require(p["bits_min_n"] >= 1, f"bits_min_n must be >= 1, got {p['bits_min_n']}")
    require(p["kink_n"] % 2 == 0 and p["slab_n"] % 4 == 0, "kink_n must be even and slab_n a multiple of 4")
    require(0 < p["kink_margin"] < 1, f"kink_margin must be in (0, 1), got {p['kink_margin']}")


def _bins(p):
    """G&C acceptance bins: with ``loss_bins`` the unbinned acceptance (−inf, inf] first (the claims use it),
    then every (lo, hi] of consecutive edges; None without bins."""
    e = p["loss_bins"]
    return [(-math.inf, math.inf)] + [(float(a), float(b)) for a, b in zip(e, e[1:])] if e else None


def _unbinned(r) -> bool:
    b = r.get("loss_bin")
    return b is None or (b[0] == -math.inf and b[1] == math.inf)


# ----------------------------------------------------------------------------------------------------
# Tasks
# ----------------------------------------------------------------------------------------------------
def cells(p: dict, seed: int) -> list[dict]:
    """The (pair, data seed) cells (:func:`numerics.protocols.data_cells`)."""
    return data_cells(dataset=p["dataset"], classes=p["classes"], pairs=p["pairs"], seeds=p["seeds"], seed=seed)


def points(p: dict, seed: int, inputs: dict | None = None) -> list[Task]:
    ns = sorted(int(n) for n in p["n_train"])
    common = {k: p[k] for k in ("arch", "depth", "prior", "scale", "normalization", "memory_mb", "dataset",
                                "max_accepted", "loss_bins")}
    common["data_file"] = p.get("data_file")
    out = []
    for ci, cell in enumerate(cells(p, seed)):
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
        return load_npz(tp["data_file"])
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


# ----------------------------------------------------------------------------------------------------
# Claims
# ----------------------------------------------------------------------------------------------------
def _select(rows, binned=False, **kw):
    """Point rows matching ``kw``; G&C rows of the acceptance bins only with ``binned`` (else the unbinned)."""
    return [r for r in rows if r.get("kind") == "point" and all(r.get(k) == v for k, v in kw.items())
            and _unbinned(r) != binned]


def _cell_key(r):
    return (r["cell"], r["data_seed"], r["width"])


def _pooled_difference(a_rows, b_rows):
    """Mean over the cells present in both of (acc_a − acc_b), its SE (fixed effects) and Welch dof."""
    a = {_cell_key(r): r for r in a_rows if r["test_acc_se"] == r["test_acc_se"] and r["accepted"] >= 2}
    b = {_cell_key(r): r for r in b_rows if r["test_acc_se"] == r["test_acc_se"] and r["accepted"] >= 2}
    keys = sorted(set(a) & set(b))
    if not keys:
        return float("nan"), float("nan"), float("nan"), 0
    d = np.mean([a[k]["test_acc_mean"] - b[k]["test_acc_mean"] for k in keys])
    terms = [a[k]["test_acc_se"] ** 2 for k in keys] + [b[k]["test_acc_se"] ** 2 for k in keys]
    dofs = [len(a[k]["test_accs"]) - 1 for k in keys] + [len(b[k]["test_accs"]) - 1 for k in keys]
    se = math.sqrt(sum(terms)) / len(keys)
    return float(d), se, float(welch_combination_dof(terms, dofs)), len(keys)


def _pooled_mean(rows, key="test_acc_mean", se_key="test_acc_se"):
    rows = [r for r in rows if r.get(key) is not None and r[key] == r[key] and r.get(se_key) is not None
            and r[se_key] == r[se_key]]
    if not rows:
        return float("nan"), float("nan"), 0
    return float(np.mean([r[key] for r in rows])), math.sqrt(sum(r[se_key] ** 2 for r in rows)) / len(rows), len(rows)


def judge(rows: list[dict], p: dict) -> list[Claim]:
    alpha, delta = p["alpha"], p["margin"] / 100
    ns = sorted(int(n) for n in p["n_train"])
    claims = []
    biases = list(p["bias"])
    chiang_bias = True if True in biases else biases[0]
    ph_bias = False if False in biases else biases[0]
    if "gnc" in p["methods"] and "sgd" in p["methods"]:
        for n in ns:
            if "chiang" in p["protocols"]:
                d, se, dof, k = _pooled_difference(_select(rows, method="gnc", n=n, bias=chiang_bias),
                                                   _select(rows, method="sgd_chiang", n=n, bias=chiang_bias))
                c = equivalent(f"chiang_comparable[n={n}]", d, se, delta, alpha=alpha, dof=dof,
                               what=f"Δ = acc(G&C, bias={chiang_bias}) − acc(SGD chiang protocol) over {k} cell(s), "
                                    f"fixed-effects SE; pass: Chiang et al.'s 'comparable' holds at n = {n} within "
                                    f"±{p['margin']:g} points; fail: the gap exceeds it")
                claims.append(c)
            if "peleg_hein" in p["protocols"]:
                d, se, dof, k = _pooled_difference(_select(rows, method="sgd_peleg_hein", n=n, bias=ph_bias),
                                                   _select(rows, method="gnc", n=n, bias=ph_bias))
                q = t_quantile(2 * alpha, 1, dof) if k else float("nan")
                ci = (d - q * se, d + q * se)
                verdict = interval_verdict(ci, delta, math.inf) if k else "inconclusive"
                claims.append(Claim(
                    name=f"peleg_hein_gap[n={n}]", predicted=f"diff > {delta:g}", measured=d, ci=list(ci),
                    rule=(f"{100 * (1 - 2 * alpha):g}% CI of Δ' = acc(SGD peleg_hein) − acc(G&C, bias={ph_bias}) "
                          f"over {k} cell(s) above δ = {delta:g} (Peleg & Hein's 'well below' holds at n = {n}); "
                          f"wholly below δ: fail; straddling: inconclusive"),
                    verdict=verdict, test=f"diff {d:.3g}, CI [{ci[0]:.3g}, {ci[1]:.3g}] > {delta:g}"))
    if "gnc" in p["methods"] and "poisoned" in p["methods"]:
        for n in sorted({r["n"] for r in rows if r.get("method") == "sgd_poisoned"}):
            pb = next(r["bias"] for r in rows if r.get("method") == "sgd_poisoned")
            d, se, dof, k = _pooled_difference(_select(rows, method="gnc", n=n, bias=pb),
                                               _select(rows, method="sgd_poisoned", n=n, bias=pb))
            q = t_quantile(2 * alpha, 1, dof) if k else float("nan")
            ci = (d - q * se, d + q * se)
            claims.append(Claim(
                name=f"poisoned_sgd_below_gnc[n={n}]", predicted=f"diff > {delta:g}", measured=d, ci=list(ci),
                rule=(f"Chiang et al.'s control (Table 1): SGD fitting the n = {n} training images plus "
                      f"{p['poison_count']} held-out images with flipped labels reaches interpolating minima whose "
                      f"clean test accuracy is below G&C's by more than δ = {delta:g} ({100 * (1 - 2 * alpha):g}% CI "
                      f"of acc(G&C) − acc(poisoned) over {k} cell(s) above δ: pass; wholly below: fail); "
                      f"only runs that fit both sets count"),
                verdict=interval_verdict(ci, delta, math.inf) if k else "inconclusive",
                test=f"diff {d:.3g}, CI [{ci[0]:.3g}, {ci[1]:.3g}] > {delta:g}"))
    if "gnc" in p["methods"]:
        claims.append(_above_chance(rows, p, ns, biases, alpha))
        claims.append(_bits_claim(rows, p, ns, biases, alpha))
        ctrl = [r for r in rows if r.get("method") == "gnc_random_labels" and _unbinned(r)]
        if ctrl:
            claims += control_claims(ctrl, p, alpha, delta)
    return claims


def _above_chance(rows, p, ns, biases, alpha):
    tests, worst, verdicts = [], [], []
    for bias in biases:
        for n in ns:
            sel = _select(rows, method="gnc", n=n, bias=bias)
            m, se, k = _pooled_mean(sel)
            chance = 1 / sel[0]["n_classes"] if sel else 0.5
            tests.append((n, bias, m, se, chance))
    q = t_quantile(alpha, len(tests))
    for n, bias, m, se, chance in tests:
        ci = (m - q * se, m + q * se)
        verdicts.append(interval_verdict(ci, chance, math.inf))
        worst.append(f"n={n},b={int(bias)}: {m:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]")
    verdict = "fail" if "fail" in verdicts else ("pass" if verdicts and all(v == "pass" for v in verdicts) else "inconclusive")
    return Claim(name="gnc_above_chance", predicted="> chance", measured=[t[2] for t in tests],
                 ci=[[t[2] - q * t[3], t[2] + q * t[3]] for t in tests],
                 rule=(f"at every (n, bias) the CI of G&C's mean test accuracy (normal quantile {q:.2f}, Bonferroni "
                       f"over {len(tests)} points, family-wise alpha = {alpha:g}) lies above chance 1/C; any CI "
                       f"wholly below: fail; else inconclusive"),
                 verdict=verdict, test="; ".join(worst))


def _bits_claim(rows, p, ns, biases, alpha):
    judged = [n for n in ns if n >= p["bits_min_n"]]
    entries, verdicts = [], []
    q = t_quantile(alpha, max(1, len(judged) * len(biases)))
    measured = []
    for bias in biases:
        for n in ns:
            m, se, k = _pooled_mean(_select(rows, method="gnc", n=n, bias=bias), "bits", "bits_se")
            measured.append(m)
            ci = (m - q * se, m + q * se)
            if n in judged:
                v = interval_verdict(ci, -math.inf, n) if k else "inconclusive"
                verdicts.append(v)
                entries.append(f"n={n},b={int(bias)}: {m:.2f} [{ci[0]:.2f}, {ci[1]:.2f}] < {n} {v}")
            else:
                entries.append(f"n={n},b={int(bias)}: {m:.2f} (not judged)")
    verdict = ("fail" if "fail" in verdicts else
               "pass" if verdicts and all(v == "pass" for v in verdicts) else "inconclusive")
    return Claim(name="bits_below_n", predicted=f"bits < n for n >= {p['bits_min_n']}", measured=measured,
                 ci=None, rule=(f"true labels: CI of the mean −log2 p̂ over cells (quantile {q:.2f}, Bonferroni, "
                                f"alpha = {alpha:g}) below n at every n >= {p['bits_min_n']}; wholly above: fail; "
                                f"smaller n reported, not judged (n = 2: a balanced labeling is the true one up to "
                                f"the label swap)"),
                 verdict=verdict, test="; ".join(entries))


def control_claims(ctrl: list[dict], p: dict, alpha: float, delta: float) -> list[Claim]:
    """The random-label control (rules 5 and 6 of the module docstring) from the control rows."""
    cn = sorted({r["n"] for r in ctrl})
    q_n = None
    verdicts, entries, measured, cis = [], [], [], []
    for n in cn:
        ps = np.array([r["p_hat"] for r in ctrl if r["n"] == n])
        R = ps.size
        m, se = float(ps.mean()), float(ps.std(ddof=1) / math.sqrt(R)) if R > 1 else float("nan")
        q_n = t_quantile(alpha, len(cn), max(R - 1, 1))
        bound = 1 / math.comb(n, n // 2)
        ci = (m - q_n * se, m + q_n * se)
        v = interval_verdict(ci, -math.inf, bound) if R > 1 else "inconclusive"
        verdicts.append(v)
        measured.append(-math.log2(m) if m > 0 else math.inf)
        cis.append(list(ci))
        entries.append(f"n={n}: mean p̂ {m:.3g} [{ci[0]:.3g}, {ci[1]:.3g}] <= 1/C(n,n/2) = {bound:.3g} "
                       f"(bits {measured[-1]:.2f} >= n − slack = {math.log2(1 / bound):.2f}) {v}")
    verdict = "fail" if "fail" in verdicts else ("pass" if all(v == "pass" for v in verdicts) else "inconclusive")
    bits_claim = Claim(
        name="random_label_bits", predicted="bits >= log2 C(n, n/2) = n - slack", measured=measured, ci=cis,
        rule=(f"balanced random labels: E_y[P(fit)] <= 1/C(n, n/2) for any prior; the Student-t CI (dof = labelings "
              f"− 1, Bonferroni over {len(cn)} n, alpha = {alpha:g}) of the mean p̂ over labelings below the bound: "
              f"pass; wholly above: fail; else inconclusive"),
        verdict=verdict, test="; ".join(entries))
    accs = np.array([r["test_acc_mean"] for r in ctrl if r["test_acc_mean"] == r["test_acc_mean"]])
    chance = 1 / ctrl[0]["n_classes"]
    if accs.size >= 2:
        chance_claim = agree("random_label_chance", float(accs.mean()), float(accs.std(ddof=1) / math.sqrt(accs.size)),
                             chance, alpha=alpha, dof=accs.size - 1,
                             what=(f"test accuracy (true test labels) of G&C fits to balanced random labels, mean over "
                                   f"{accs.size} labelings (SE across labelings); exactly {chance:g} in expectation "
                                   f"by the label-swap symmetry (a labeling and its complement are equally likely)"))
    else:
        chance_claim = Claim("random_label_chance", chance, float("nan"), None,
                             "needs >= 2 random labelings with accepted models", "inconclusive",
                             f"{accs.size} labeling(s) with accepted models < 2")
    return [bits_claim, chance_claim]


# ----------------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------------
STYLE = {"gnc": ("C0", "o", "G&C"), "sgd_chiang": ("C1", "s", "SGD (Chiang protocol)"),
         "sgd_peleg_hein": ("C2", "D", "SGD (Peleg & Hein protocol)"), "pattern_search": ("C4", "^", "pattern search"),
         "random_greedy": ("C5", "v", "random greedy"), "sgd_poisoned": ("C3", "X", "poisoned SGD")}


def _curve(rows, method, bias, ns):
    m, lo, hi = [], [], []
    for n in ns:
        mean, se, k = _pooled_mean(_select(rows, method=method, n=n, bias=bias))
        m.append(mean)
        lo.append(mean - 1.96 * se)
        hi.append(mean + 1.96 * se)
    return np.array(m), np.array(lo), np.array(hi)


def plot(record: dict, stem: Path) -> list[Path]:
    rows, p = record["points"], record["params"]
    ns = sorted(int(n) for n in p["n_train"])
    biases = list(p["bias"])
    fig, axes = new_figure(len(biases) + 2, height=3.8, width_per_panel=4.3)
    for ax, bias in zip(axes, biases):
        for method, (color, marker, label) in STYLE.items():
            m, lo, hi = _curve(rows, method, bias, ns)
            if np.all(np.isnan(m)):
                continue
            ax.plot(ns, m, marker=marker, color=color, label=label)
            ax.fill_between(ns, lo, hi, color=color, alpha=0.18)
        ax.axhline(0.5, color="gray", ls=":", lw=1, label="chance")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.set_xlabel("training-set size n")
        ax.set_ylabel("test accuracy (mean, 95% CI)")
        setting = {True: " (Chiang et al.'s setting)", False: " (Peleg & Hein's setting)"}[bool(bias)]
        ax.set_title(f"{p['arch'].upper()} width {p['widths'][0]}, {p['prior']} prior, "
                     f"{'with' if bias else 'no'} biases{setting if p.get('sgd_setting') == 'paper' else ''}",
                     fontsize=8)
        ax.legend(fontsize=7, loc="best")
    ax = axes[len(biases)]
    for bias, color in zip(biases, ("C0", "C3")):
        b = [_pooled_mean(_select(rows, method="gnc", n=n, bias=bias), "bits", "bits_se") for n in ns]
        ax.errorbar(ns, [v[0] for v in b], yerr=[1.96 * v[1] for v in b], marker="o", color=color, capsize=3,
                    label=f"G&C true labels (bias={bias})")
    ctrl = [r for r in rows if r.get("method") == "gnc_random_labels" and _unbinned(r)]
    if ctrl:
        cn = sorted({r["n"] for r in ctrl})
        mp = [np.mean([r["p_hat"] for r in ctrl if r["n"] == n]) for n in cn]
        ax.plot(cn, [-math.log2(v) if v > 0 else np.nan for v in mp], "x", ms=9, color="k",
                label="random labels: −log₂ mean p̂")
        ax.plot(cn, [math.log2(math.comb(n, n // 2)) for n in cn], "k_", ms=14, label="bound log₂ C(n, n/2)")
    ax.plot(ns, ns, "--", color="gray", label="n bits (1 bit/sample)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("training-set size n")
    ax.set_ylabel("bits = −log₂ P(fit)")
    ax.set_title("G&C: bits to fit the training set", fontsize=9)
    ax.legend(fontsize=7)
    _plot_loss_bins(axes[-1], rows, p, ns, biases[0])
    paths = save_figure(fig, stem)
    shapes = [r for r in rows if r.get("kind") in ("kink", "slab")]
    if shapes:
        paths += _plot_shapes(shapes, Path(str(stem) + "_kink_slab"))
    return paths


def _plot_loss_bins(ax, rows, p, ns, bias):
    """Accuracy vs normalized-loss bin (Chiang et al.'s layout): with ``loss_bins``, the mean test accuracy of
    the G&C models accepted in each bin (pooled over cells); without, the accepted models of each n binned by
    their normalized loss at the quintiles."""
    for i, n in enumerate(ns):
        centers, means, ses = [], [], []
        if p["loss_bins"]:
            for lo, hi in zip(p["loss_bins"], p["loss_bins"][1:]):
                sel = [r for r in _select(rows, binned=True, method="gnc", n=n, bias=bias)
                       if r["loss_bin"][0] == lo and r["loss_bin"][1] == hi]
                m, se, k = _pooled_mean(sel)
                if k:
                    centers.append(0.5 * (lo + hi))
                    means.append(m)
                    ses.append(se)
        else:
            sel = _select(rows, method="gnc", n=n, bias=bias)
            L = np.concatenate([np.asarray(r["normalized_losses"] or [], float) for r in sel]) if sel else np.zeros(0)
            A = np.concatenate([np.asarray(r["test_accs"], float)[:len(r["normalized_losses"] or [])] for r in sel]) \
                if sel else np.zeros(0)
            if L.size < 10:
                continue
            e = np.quantile(L, np.linspace(0, 1, 6))
            idx = np.clip(np.searchsorted(e, L, side="left") - 1, 0, len(e) - 2)
            for b in range(len(e) - 1):
                a = A[idx == b]
                if a.size >= 2:
                    centers.append(0.5 * (e[b] + e[b + 1]))
                    means.append(a.mean())
                    ses.append(a.std(ddof=1) / math.sqrt(a.size))
        if centers:
            ax.errorbar(centers, means, yerr=1.96 * np.asarray(ses), marker="o", capsize=3, color=f"C{i}",
                        label=f"n = {n}")
    ax.set_xlabel(f"normalized training CE ({p['normalization']})")
    ax.set_ylabel("test accuracy of accepted G&C models")
    ax.set_title("accuracy vs normalized-loss bin" + (" (acceptance bins)" if p["loss_bins"] else " (quintiles)"),
                 fontsize=9)
    ax.legend(fontsize=7)


def _plot_shapes(shapes, stem: Path) -> list[Path]:
    kinks = [r for r in shapes if r["kind"] == "kink"]
    slabs = [r for r in shapes if r["kind"] == "slab"]
    fig, axes = new_figure(len(kinks) + 1, height=3.6, width_per_panel=4.0)
    for ax, r in zip(axes, kinks):
        if r.get("class1_fraction"):
            g = r["grid"]
            frac = np.asarray(r["class1_fraction"]).reshape(g, g)
            ext = [*r["grid_x"], *r["grid_y"]]
            im = ax.imshow(frac, origin="lower", extent=ext, aspect="auto", cmap="coolwarm", vmin=0, vmax=1)
            xs = np.linspace(*r["grid_x"], g)
            ys = np.linspace(*r["grid_y"], g)
            for ex in r["examples"]:
                ax.contour(xs, ys, np.asarray(ex).reshape(g, g), levels=[0.5], colors="k", linewidths=0.6, alpha=0.6)
            fig.colorbar(im, ax=ax, label="fraction of solutions predicting class 1")
        else:
            ax.text(0.5, 0.5, f"no solution in {r['draws']} draws", transform=ax.transAxes, ha="center")
        X, y = np.asarray(r["X_train"]), np.asarray(r["y_train"])
        ax.scatter(X[:, 0], X[:, 1], c=np.where(y == 1, "tab:red", "tab:blue"), edgecolors="k", s=30, zorder=3)
        ax.set_title(f"kink, {STYLE.get(r['method'], (0, 0, r['method']))[2]} ({r['models']} solutions, n = {r['n']})",
                     fontsize=9)
        ax.set_xlabel("x₁")
        ax.set_ylabel("x₂")
    ax = axes[-1]
    bins = np.linspace(0, 1, 11)
    for r in slabs:
        f = np.asarray(r["linear_fraction"], float)
        color, _, label = STYLE.get(r["method"], ("C7", "o", r["method"]))
        if f.size == 0:
            continue
        lin, zig = np.mean(f >= 0.9), np.mean(f <= 0.1)
        ax.hist(f, bins=bins, weights=np.full(f.size, 1 / f.size), histtype="step", lw=2, color=color,
                label=f"{label}\n{f.size} solutions: {100 * lin:.0f}% linear, {100 * zig:.0f}% zig-zag")
    ax.axvspan(0.9, 1.0, color="C2", alpha=0.1)
    ax.axvspan(0.0, 0.1, color="C3", alpha=0.1)
    ax.set_xlabel("share of probes on the x = 0 side\n(1: linear, 0: zig-zag)")
    ax.set_ylabel("fraction of solutions")
    ax.set_title(f"slab (n = {slabs[0]['n'] if slabs else '?'}): linear vs zig-zag solutions", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    return save_figure(fig, stem)
