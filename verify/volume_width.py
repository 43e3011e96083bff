"""``python -m verify volume_width``: Guess & Check at increasing width on real data against its exact
infinite-width limit, the NNGP "orthant posterior" (spec: volume_hypothesis.md §2 last bullet, §3, §4).

Published claims recorded here (Peleg & Hein, ICML 2024, "Bias of Stochastic Gradient Descent or the
Architecture"): G&C's test accuracy is flat in width while SGD's rises; depth hurts both. Background
(Alexander et al. 2025, the width theorem, ``theory/width_theorem.py``): with matrix factorization's identity
inputs the infinite-width prior is isotropic and G&C tends to chance.
This package's extension (the prediction under test, ours): on real, correlated inputs G&C converges, as the
width grows, to the orthant posterior of the network's NNGP kernel (``theory/nngp.py``,
``numerics/orthant.py``), which is informative. G&C at each width is Rao–Blackwellized over a Gaussian last
layer with the prior's variances (``numerics/gnc_width.py``; for the Gaussian priors this *is* the prior,
for the uniform ones a Gaussian last layer of equal variance — the hidden layers are the prior's).

Claims (rules fixed in advance; α = ``alpha``, default 1e-3; cells = digit pairs × data seeds, averaged with
their Monte Carlo SEs; one claim per (n, depth) where marked):
1. ``distance_shrinks[n, depth]``: Δ_k = acc_G&C(k) − acc_NNGP, mean over cells. A width is *resolved* when
   |Δ_k| ≥ ``resolved_z`` · SE(Δ_k). With ≥ 3 resolved widths, the weighted log-log fit of |Δ_k| on k
   (``verify.rules.fit_loglog_slope``, level 1 − α) must have a negative slope (``slope_negative``: CI below 0
   pass, above 0 fail, straddling inconclusive); with fewer the claim is inconclusive ("distances within
   noise": G&C is at its limit within the SEs at almost every width).
2. ``equivalent_at_largest_width[n, depth]``: TOST |Δ_K| < ``tolerance`` at the largest width K
   (``verify.rules.equivalent``, α): pass / fail / inconclusive. A wrong kernel must make it fail (tests).
3. ``bits_approach_limit[n, depth]``: TOST |bits_G&C(K) − (−log₂ P(orthant))| < ``bits_tolerance`` bits.
4. ``prior_scale_invariance``: zero biases and a homogeneous activation make the law of every sign
   invariant under the prior's scale (``real_networks.md``, Priors): G&C's test accuracy and bits at each
   scale of ``invariance_scales`` agree with the first (``verify.rules.agree``, Bonferroni over the pairs of
   statistics, independent draws). ``invariance_bias=true`` is the control where the invariance is broken.
5. ``depth_hurts_gnc``, ``depth_hurts_sgd`` (Peleg & Hein's claim): the mean over cells and n of
   acc(depth 2) − acc(depth 1) at the largest width both depths share; pass if its (1 − α) CI lies below 0,
   fail if above 0 (the published claim does not hold here), else inconclusive. ``depth_trend_nngp`` reports
   the same difference for the limit, judged the same way.
6. ``identity_inputs_at_chance``: the same machinery with the images replaced by one-hot codes (matrix
   factorization's inputs; zero biases) gives the NNGP limit (and G&C at ``contrast_widths``) at chance 1/2
   (``agree``, Bonferroni); the one-hot kernel is a I + b 11ᵀ (``theory.width_theorem.first_layer_moments``),
   so with balanced training labels the posterior is exactly at chance.
   ``digits_limit_above_chance``: on the digits the limit's (1 − α/N) CI lies above 1/2 at every (cell, n,
   depth) (wholly below: fail).
Recorded, not judged: SGD per width (Peleg & Hein's protocol, ``numerics.protocols``: Kaiming-normal init,
lr 0.01, batch 2, ``sgd_epochs`` epochs — 60 in the paper and in ``--full``, fewer in quick mode — runs kept
only at 100 % training accuracy), the ESS of every G&C point, the exact sampler's acceptance.
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import torch

from numerics.datasets import Dataset, digits_pairs, digits_task, load_npz
from numerics.gnc_width import rb_guess_and_check
from numerics.models import ACTIVATIONS, MLP, PRIORS
from numerics.orthant import orthant_posterior
from numerics.protocols import PELEG_HEIN, run_protocol
from numerics.trainers import accuracy
from theory.nngp import GAUSSIAN_FIRST_LAYER, WIDTH_GROWING_PRIORS, nngp_kernel, one_hot_first_layer_moment
from verify.engine import Task, task
from verify.errors import require
from verify.figures import new_figure, save_figure
from verify.report import Claim
from verify.rules import (agree, equivalent, fit_loglog_slope, interval_verdict, slope_negative, t_quantile,
                          welch_combination_dof)

NAME = "volume_width"
SUMMARY = "G&C at growing width on digits vs its exact NNGP orthant-posterior limit; SGD; identity-input contrast"
INPUTS = ("data",)
QUICK = {
    "dataset": "digits",
    "classes": [0, 7],  # an explicit pair (Peleg & Hein's 0 vs 7); empty: `pairs` pairs drawn by the seed
    "pairs": 1,
    "seeds": 1,  # data seeds per pair
    "n_train": [8, 16],
    "n_test": 100,  # test images (balanced); 0: every remaining image of the two classes
    "arch": "mlp",
    "activation": "relu",
    "depth": [1, 2],
    "widths": [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    "max_width_deep": 256,  # widths above this are skipped at depth >= 2 (cost ~ width^2 per draw)
    "prior": "uniform",
    "scale": 1.0,
    "bias": False,
    "draws": 8000,  # hidden-layer prior draws per G&C point, at most ...
    "draw_units": 131072,  # ... and at most this many hidden units per point (draws = min(draws, units/width))
    "min_draws": 256,
    "proposals": 8,  # orthant proposals per hidden draw
    "limit_samples": 20000,  # exact draws from the orthant posterior
    "kernel_units": 262144,  # first-layer units of the Monte Carlo kernel for non-Gaussian priors
    "sgd_runs": 3,
    "sgd_epochs": 20,
    "invariance_scales": [1.0, 0.1],
    "invariance_width": 64,
    "invariance_bias": False,
    "contrast_widths": [8, 64, 512],
    "tolerance": 0.02,  # equivalence margin (accuracy, absolute)
    "bits_tolerance": 0.5,
    "resolved_z": 3.0,
    "alpha": 1e-3,
}
FULL = {"classes": [], "pairs": 4, "seeds": 2, "widths": [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
        "max_width_deep": 1024, "draws": 32000, "draw_units": 1048576, "n_test": 0, "limit_samples": 100000,
        "kernel_units": 1048576, "sgd_runs": 10, "sgd_epochs": 60, "contrast_widths": [8, 64, 512, 4096]}
TYPES = {"classes": list}


# ----------------------------------------------------------------------------------------------------
# Parameters
# ----------------------------------------------------------------------------------------------------
def prepare(p: dict, inputs: dict) -> dict:
    """``--data FILE.npz`` replaces the digits (validated by ``numerics.datasets.load_npz``; used as given)."""
    if inputs.get("data") is not None:
        ds = load_npz(inputs["data"])
        p = {**p, "dataset": "file", "data_file": str(Path(inputs["data"]).resolve()), "data_n_train": ds.n_train,
             "data_classes": ds.n_classes}
    return p


def _ints(p, key, low):
    vals = p[key]
    require(isinstance(vals, list) and len(vals) >= 1 and all(float(v).is_integer() and v >= low for v in vals),
            f"{key} must be a non-empty list of integers >= {low}, got {vals}")
    return [int(v) for v in vals]


def validate(p: dict) -> None:
    require(p["dataset"] in ("digits", "file"), f"dataset must be digits (or give --data FILE.npz), got {p['dataset']!r}")
    require(p["dataset"] != "file" or "data_file" in p, "dataset=file needs --data FILE.npz")
    ns = _ints(p, "n_train", 2)
    if p["dataset"] == "digits":
        cl = p["classes"]
        require(cl == [] or (len(cl) == 2 and all(float(c).is_integer() and 0 <= c <= 9 for c in cl) and cl[0] != cl[1]),
                f"classes must be two distinct digits 0..9 (e.g. 0,7) or empty, got {cl}")
        require(all(n % 2 == 0 for n in ns), f"n_train must be even (balanced pairs), got {ns}")
        require(max(ns) <= 64, f"n_train must be <= 64 (orthant dimension), got {max(ns)}")
        require(1 <= p["pairs"] <= 45, f"pairs must be in [1, 45], got {p['pairs']}")
        require(p["n_test"] == 0 or p["n_test"] >= 2, f"n_test must be 0 (all) or >= 2, got {p['n_test']}")
    else:
        require(p["data_classes"] == 2, f"--data must have two classes for volume_width, got {p['data_classes']}")
        require(max(ns) <= p["data_n_train"], f"n_train must be <= {p['data_n_train']} (the --data training set), got {max(ns)}")
    require(p["arch"] == "mlp", f"arch must be mlp (the NNGP kernels are those of MLPs), got {p['arch']!r}")
    require(p["activation"] in ACTIVATIONS, f"activation must be one of {', '.join(ACTIVATIONS)}, got {p['activation']!r}")
    depths = _ints(p, "depth", 1)
    require(max(depths) <= 4 and len(set(depths)) == len(depths), f"depth must be distinct values in 1..4, got {depths}")
    _ints(p, "widths", 1)
    require(len(set(p["widths"])) == len(p["widths"]), f"widths must be distinct, got {p['widths']}")
    require(p["prior"] in PRIORS, f"prior must be one of {', '.join(PRIORS)}, got {p['prior']!r}")
    require(not (p["activation"] == "tanh" and p["prior"] in WIDTH_GROWING_PRIORS and max(depths) >= 2),
            "activation=tanh with prior=uniform has no NNGP limit at depth >= 2: use a fan-in-scaled prior")
    require(p["scale"] > 0, f"scale must be > 0, got {p['scale']}")
    require(isinstance(p["bias"], bool), f"bias must be true or false, got {p['bias']}")
    for key in ("seeds", "draws", "draw_units", "min_draws", "proposals", "limit_samples", "kernel_units",
                "sgd_runs", "sgd_epochs", "invariance_width", "max_width_deep"):
        require(isinstance(p[key], int) and p[key] >= 1, f"{key} must be an integer >= 1, got {p[key]}")
    require(p["min_draws"] >= 2 and p["draws"] >= p["min_draws"], "need draws >= min_draws >= 2")
    scales = p["invariance_scales"]
    require(isinstance(scales, list) and len(scales) >= 2 and all(s > 0 for s in scales),
            f"invariance_scales must be >= 2 positive scales, got {scales}")
    _ints(p, "contrast_widths", 1)
    require(0 < p["tolerance"] < 0.5, f"tolerance must be in (0, 0.5), got {p['tolerance']}")
    require(p["bits_tolerance"] > 0, f"bits_tolerance must be > 0, got {p['bits_tolerance']}")
    require(p["resolved_z"] > 0, f"resolved_z must be > 0, got {p['resolved_z']}")
    require(0 < p["alpha"] < 0.5, f"alpha must be in (0, 0.5), got {p['alpha']}")


def draws_at(p: dict, width: int) -> int:
    return int(min(p["draws"], max(p["min_draws"], p["draw_units"] // width)))


def _widths(p: dict, depth: int) -> list[int]:
    ws = sorted(int(w) for w in p["widths"])
    return ws if depth == 1 else [w for w in ws if w <= p["max_width_deep"]]


# ----------------------------------------------------------------------------------------------------
# Tasks
# ----------------------------------------------------------------------------------------------------
def _cells(p: dict, seed: int) -> list[dict]:
    if p["dataset"] == "file":
        return [{"pair": None, "data_seed": 0, "label": "file"}]
    if p["classes"]:
        pairs = [tuple(int(c) for c in p["classes"])]
    else:
        pairs = digits_pairs(p["pairs"], np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,))))
    return [{"pair": list(pr), "data_seed": s, "label": f"{pr[0]}v{pr[1]}"} for pr in pairs for s in range(p["seeds"])]


def points(p: dict, seed: int, inputs: dict | None = None) -> list[Task]:
    common = {k: p[k] for k in ("activation", "prior", "scale", "bias", "proposals", "limit_samples",
                                "kernel_units", "sgd_runs", "sgd_epochs", "n_test")}
    common["data_file"] = p.get("data_file")
    out = []
    ns = sorted(int(n) for n in p["n_train"])
    depths = sorted(int(d) for d in p["depth"])
    for ci, cell in enumerate(_cells(p, seed)):
        for ni, n in enumerate(ns):
            for depth in depths:
                base = {**common, **cell, "n": n, "depth": depth, "inputs": "digits", "role": "sweep"}
                key = f"{cell['label']}/s{cell['data_seed']}/n{n}/d{depth}"
                out.append(task(f"nngp/{key}", {**base, "kind": "nngp"}, seed, 1, ci, ni, depth,
                                weight=max(1, p["kernel_units"] // 65536)))
                for w in _widths(p, depth):
                    dr = draws_at(p, w)
                    out.append(task(f"gnc/{key}/w{w}", {**base, "kind": "gnc", "width": w, "draws": dr}, seed,
                                    2, ci, ni, depth, w, weight=max(1, dr * w * depth // 65536)))
                    out.append(task(f"sgd/{key}/w{w}", {**base, "kind": "sgd", "width": w}, seed, 3, ci, ni, depth, w,
                                    weight=max(1, p["sgd_runs"] * p["sgd_epochs"] * n // 200)))
    cell, n = _cells(p, seed)[0], ns[-1]
    base = {**common, **cell, "n": n, "depth": 1, "inputs": "digits", "role": "invariance",
            "bias": bool(p["invariance_bias"]), "width": int(p["invariance_width"]),
            "draws": draws_at(p, int(p["invariance_width"]))}
    for si, s in enumerate(p["invariance_scales"]):
        out.append(task(f"invariance/{si}", {**base, "kind": "gnc", "scale": float(s)}, seed, 4, si,
                        weight=max(1, base["draws"] * base["width"] // 65536)))
    if p["activation"] in ("relu", "linear") or p["prior"] in GAUSSIAN_FIRST_LAYER:
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
    if tp.get("data_file"):
        ds = load_npz(tp["data_file"]).head(tp["n"])
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


def compute(t: Task) -> list[dict]:
    tp = t.params
    ds = _dataset(tp)
    start = time.perf_counter()
    if tp["kind"] == "nngp":
        X = np.vstack([ds.X_train, ds.X_test])
        first = (one_hot_first_layer_moment(X.shape[0], tp["prior"], tp["activation"])
                 if tp["inputs"] == "identity" and tp["prior"] not in GAUSSIAN_FIRST_LAYER else None)
        K = nngp_kernel(X, activation=tp["activation"], depth=tp["depth"], prior=tp["prior"], bias=tp["bias"],
                        scale=tp["scale"], first_layer="prior", units=tp["kernel_units"],
                        generator=t.torch_generator(1), first_moment=first)
        post = orthant_posterior(K, ds.y_train, ds.y_test, samples=tp["limit_samples"], rng=t.rng(2))
        off = K[~np.eye(K.shape[0], dtype=bool)]
        return [_row(tp, ds, "nngp", width=None, test_acc_mean=post.test_acc, test_acc_se=post.test_acc_se,
                     se_dof=float("inf"), log_p=post.log_p, log_p_se=post.log_p_se, bits=post.bits,
                     bits_se=post.bits_se, p_hat=float(math.exp(post.log_p)), samples=post.samples,
                     acceptance=post.acceptance, proposals=post.proposals,
                     kernel_offdiag_spread=float((off.max() - off.min()) / np.mean(np.diag(K))),
                     kernel_units=tp["kernel_units"] if tp["prior"] not in GAUSSIAN_FIRST_LAYER and first is None else 0,
                     runtime_s=time.perf_counter() - start)]
    if tp["kind"] == "gnc":
        res = rb_guess_and_check(ds, width=tp["width"], depth=tp["depth"], activation=tp["activation"],
                                 prior=tp["prior"], bias=tp["bias"], scale=tp["scale"], draws=tp["draws"],
                                 proposals=tp["proposals"], rng=t.rng(1), device=t.device)
        fields = res.as_dict()
        fields.pop("n"), fields.pop("depth")
        return [_row(tp, ds, "gnc_rb", **fields, runtime_s=time.perf_counter() - start)]
    # SGD: Peleg & Hein's protocol with `sgd_epochs` epochs
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
    return [_row(tp, ds, "sgd", width=tp["width"], runs=tp["sgd_runs"], fitted=k, epochs=tp["sgd_epochs"],
                 lr=protocol.lr, batch_size=protocol.batch_size, init=protocol.init,
                 test_acc_mean=float(np.mean(accs)) if k else float("nan"),
                 test_acc_se=float(np.std(accs, ddof=1) / math.sqrt(k)) if k >= 2 else float("nan"),
                 se_dof=float(k - 1), test_accs=accs, runtime_s=time.perf_counter() - start)]


# ----------------------------------------------------------------------------------------------------
# Judge
# ----------------------------------------------------------------------------------------------------
def _select(rows, **kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


def _limit_of(rows, r):
    lim = _select(rows, method="nngp", inputs=r["inputs"], cell=r["cell"], data_seed=r["data_seed"], n=r["n"],
                  depth=r["depth"])
    return lim[0] if lim else None


def _mean_difference(pairs, key="test_acc_mean", se_key="test_acc_se"):
    """Mean over cells of a − b with its SE and Welch dof, from (row a, row b) pairs."""
    if not pairs:
        return float("nan"), float("nan"), float("nan")
    d = np.array([a[key] - b[key] for a, b in pairs])
    terms = np.array([[a[se_key] ** 2, b[se_key] ** 2] for a, b in pairs]).reshape(-1) / len(pairs) ** 2
    dofs = np.array([[a.get("se_dof", np.inf), b.get("se_dof", np.inf)] for a, b in pairs]).reshape(-1)
    return float(d.mean()), float(np.sqrt(terms.sum())), float(welch_combination_dof(terms, dofs))


def width_distances(rows, n: int, depth: int, inputs: str = "digits") -> list[dict]:
    """Per width: Δ = mean over cells of acc_G&C − acc_NNGP, its SE and dof (shared by judge and plot)."""
    gnc = _select(rows, method="gnc_rb", role="sweep", inputs=inputs, n=n, depth=depth)
    out = []
    for w in sorted({r["width"] for r in gnc}):
        pairs = [(r, _limit_of(rows, r)) for r in gnc if r["width"] == w]
        pairs = [(a, b) for a, b in pairs if b is not None]
        d, se, dof = _mean_difference(pairs)
        db, dbse, _ = _mean_difference(pairs, "bits", "bits_se")
        out.append({"width": w, "diff": d, "se": se, "dof": dof, "bits_diff": db, "bits_se": dbse})
    return out


def _configs(rows):
    return sorted({(r["n"], r["depth"]) for r in rows if r["method"] == "gnc_rb" and r["role"] == "sweep"})


def judge(rows: list[dict], p: dict) -> list[Claim]:
    alpha = p["alpha"]
    claims = []
    for n, depth in _configs(rows):
        tag = f"[n={n},depth={depth}]"
        dist = width_distances(rows, n, depth)
        claims.append(_distance_claim(f"distance_shrinks{tag}", dist, p))
        last = dist[-1]
        claims.append(equivalent(f"equivalent_at_largest_width{tag}", last["diff"], last["se"], p["tolerance"],
                                 alpha=alpha, dof=last["dof"],
                                 what=f"acc_G&C − acc_NNGP at width {last['width']} (mean over cells)"))
        claims.append(equivalent(f"bits_approach_limit{tag}", last["bits_diff"], last["bits_se"], p["bits_tolerance"],
                                 alpha=alpha, what=f"bits_G&C − (−log2 P(orthant)) at width {last['width']}"))
    claims.append(_invariance_claim(rows, p))
    for method, name in (("gnc_rb", "depth_hurts_gnc"), ("sgd", "depth_hurts_sgd"), ("nngp", "depth_trend_nngp")):
        claims.append(_depth_claim(rows, method, name, p))
    claims.extend(_contrast_claims(rows, p))
    return claims


def _distance_claim(name: str, dist: list[dict], p: dict) -> Claim:
    z = p["resolved_z"]
    res = [d for d in dist if np.isfinite(d["diff"]) and d["se"] > 0 and abs(d["diff"]) >= z * d["se"]]
    what = (f"|Δ_k| = |acc_G&C(k) − acc_NNGP| on the widths where |Δ_k| >= {z:g} SE "
            f"(resolved: {[d['width'] for d in res]} of {[d['width'] for d in dist]})")
    if len(res) < 3:
        return Claim(name=name, predicted="< 0", measured=[d["diff"] for d in dist],
                     ci=[[d["diff"] - z * d["se"], d["diff"] + z * d["se"]] for d in dist],
                     rule=f"log-log slope of the resolved distances < 0 (needs >= 3 resolved widths); {what}",
                     verdict="inconclusive",
                     test=f"{len(res)} resolved width(s) < 3: the distances are within noise")
    fit = fit_loglog_slope([d["width"] for d in res], [abs(d["diff"]) for d in res], [d["se"] for d in res],
                           level=1 - p["alpha"], dof=min(d["dof"] for d in res))
    return slope_negative(name, fit, level=1 - p["alpha"], what=what)


def _invariance_claim(rows, p) -> Claim:
    inv = sorted(_select(rows, role="invariance"), key=lambda r: p["invariance_scales"].index(r["scale"])
                 if r["scale"] in p["invariance_scales"] else 0)
    if len(inv) < 2:
        return Claim("prior_scale_invariance", "equal laws", None, None, "needs >= 2 scales", "inconclusive")
    ref = inv[0]
    meas, se, pred, pse = [], [], [], []
    for r in inv[1:]:
        for key, sk in (("test_acc_mean", "test_acc_se"), ("bits", "bits_se")):
            meas.append(r[key]), se.append(r[sk]), pred.append(ref[key]), pse.append(ref[sk])
    claim = agree("prior_scale_invariance", meas, se, pred, pred_se=pse, alpha=p["alpha"],
                  what=(f"test accuracy and bits of G&C at prior scales {[r['scale'] for r in inv]} "
                        f"(width {ref['width']}, n {ref['n']}, bias={ref['bias']}, {ref['activation']}) equal those "
                        f"at scale {ref['scale']:g}; exact when bias=False and the activation is homogeneous"))
    return claim


def _depth_claim(rows, method: str, name: str, p: dict) -> Claim:
    depths = sorted(int(d) for d in p["depth"])
    if len(depths) < 2:
        return Claim(name, "< 0", None, None, "needs two depths", "inconclusive", "one depth only")
    d1, d2 = depths[0], depths[-1]
    sel = [r for r in rows if r["method"] == method and r["role"] == "sweep" and r["inputs"] == "digits"]
    pairs = []
    for r in sel:
        if r["depth"] != d2:
            continue
        if method != "nngp":
            common = max({x["width"] for x in sel if x["depth"] == d2} & {x["width"] for x in sel if x["depth"] == d1})
            if r["width"] != common:
                continue
        match = [x for x in sel if x["depth"] == d1 and x["cell"] == r["cell"] and x["data_seed"] == r["data_seed"]
                 and x["n"] == r["n"] and x.get("width") == r.get("width")]
        if match and np.isfinite(r["test_acc_mean"]) and np.isfinite(match[0]["test_acc_mean"]):
            pairs.append((r, match[0]))
    diff, se, dof = _mean_difference(pairs)
    q = t_quantile(p["alpha"], 1, dof) if np.isfinite(dof) or dof == np.inf else float("nan")
    ci = [diff - q * se, diff + q * se]
    verdict = interval_verdict(ci, -np.inf, 0.0)
    where = "" if method == "nngp" else f" at width {pairs[0][0]['width'] if pairs else '?'}"
    return Claim(name=name, predicted="< 0 (Peleg & Hein: depth hurts)", measured=diff, ci=ci,
                 rule=(f"mean over cells and n of acc(depth {d2}) − acc(depth {d1}) for {method}{where}; "
                       f"(1 − {p['alpha']:g}) CI wholly below 0: pass, wholly above: fail (the published claim "
                       "does not hold here), straddling: inconclusive"),
                 verdict=verdict, test=f"diff {diff:.3g}, CI [{ci[0]:.3g}, {ci[1]:.3g}] < 0")


def _contrast_claims(rows, p) -> list[Claim]:
    ident = [r for r in rows if r["inputs"] == "identity"]
    out = []
    if ident:
        spread = max((r["kernel_offdiag_spread"] for r in ident if r["method"] == "nngp"), default=float("nan"))
        claim = agree("identity_inputs_at_chance", [r["test_acc_mean"] for r in ident],
                      [r["test_acc_se"] for r in ident], 0.5, alpha=p["alpha"],
                      dof=[r.get("se_dof", np.inf) for r in ident],
                      what=(f"one-hot inputs (matrix factorization): NNGP limit and G&C at widths "
                            f"{sorted(r['width'] for r in ident if r['method'] == 'gnc_rb')} at chance 1/2; "
                            f"limit kernel a I + b 11ᵀ (off-diagonal spread {spread:.2g} of the diagonal)"))
        out.append(claim)
    else:
        out.append(Claim("identity_inputs_at_chance", 0.5, None, None,
                         "needs a homogeneous activation or a Gaussian prior for the exact one-hot kernel",
                         "inconclusive", "not computed"))
    lim = [r for r in rows if r["method"] == "nngp" and r["inputs"] == "digits"]
    if lim:
        q = t_quantile(p["alpha"], len(lim))
        lows = [r["test_acc_mean"] - q * r["test_acc_se"] for r in lim]
        highs = [r["test_acc_mean"] + q * r["test_acc_se"] for r in lim]
        ci = [min(lows), max(highs)]
        verdict = "pass" if min(lows) > 0.5 else ("fail" if any(h < 0.5 for h in highs) else "inconclusive")
        out.append(Claim("digits_limit_above_chance", "> 0.5", [r["test_acc_mean"] for r in lim], ci,
                         rule=(f"every NNGP limit on the digits ({len(lim)} (cell, n, depth)) has its CI (Bonferroni, "
                               f"alpha = {p['alpha']:g}) above 1/2; any wholly below: fail"),
                         verdict=verdict, test=f"smallest lower CI end {min(lows):.3g} > 0.5"))
    return out


# ----------------------------------------------------------------------------------------------------
# Figure
# ----------------------------------------------------------------------------------------------------
def _pooled(rows, key="test_acc_mean", se_key="test_acc_se"):
    rows = [r for r in rows if np.isfinite(r.get(key, np.nan))]
    if not rows:
        return float("nan"), float("nan")
    m = float(np.mean([r[key] for r in rows]))
    se = float(np.sqrt(np.nansum([r.get(se_key, np.nan) ** 2 for r in rows])) / len(rows))
    return m, se


def plot(record: dict, stem: Path) -> list[Path]:
    rows, p = record["points"], record["params"]
    ns = sorted(int(n) for n in p["n_train"])
    depths = sorted(int(d) for d in p["depth"])
    fig, axes = new_figure(2, rows=2, width_per_panel=5.2, height=3.9)
    colors = {d: c for d, c in zip(depths, ("C0", "C3", "C2", "C4"))}
    z = 1.96
    for ax, n in zip(axes[:2], ns[-2:] if len(ns) >= 2 else ns * 2):
        for depth in depths:
            c = colors[depth]
            for method, ls, marker, label in (("gnc_rb", "-", "o", "G&C (RB)"), ("sgd", "--", "s", "SGD (P&H)")):
                sel = _select(rows, method=method, role="sweep", inputs="digits", n=n, depth=depth)
                ws = sorted({r["width"] for r in sel})
                if not ws:
                    continue
                m = np.array([_pooled(_select(sel, width=w))[0] for w in ws])
                s = np.array([_pooled(_select(sel, width=w))[1] for w in ws])
                ax.plot(ws, m, ls=ls, marker=marker, color=c, ms=4, label=f"{label}, depth {depth}")
                ax.fill_between(ws, m - z * np.nan_to_num(s), m + z * np.nan_to_num(s), color=c, alpha=0.15)
            lm, ls_ = _pooled(_select(rows, method="nngp", role="sweep", inputs="digits", n=n, depth=depth))
            if np.isfinite(lm):
                ax.axhline(lm, color=c, ls=":", lw=1.5, label=f"NNGP limit, depth {depth}")
                ax.axhspan(lm - z * ls_, lm + z * ls_, color=c, alpha=0.12)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("hidden width")
        ax.set_ylabel("test accuracy (mean, 95% CI)")
        ax.set_title(f"n = {n}: G&C vs its infinite-width limit ({p['prior']} prior, "
                     f"{'biases' if p['bias'] else 'no biases'}, {p['activation']})", fontsize=8.5)
        ax.legend(fontsize=6.5, loc="lower right", ncol=2)
    ax = axes[2]
    for n, mk in zip(ns, ("o", "^", "s", "D")):
        for depth in depths:
            c = colors[depth]
            sel = _select(rows, method="gnc_rb", role="sweep", inputs="digits", n=n, depth=depth)
            ws = sorted({r["width"] for r in sel})
            if not ws:
                continue
            b = [_pooled(_select(sel, width=w), "bits", "bits_se") for w in ws]
            ax.errorbar(ws, [v[0] for v in b], yerr=[z * v[1] for v in b], marker=mk, color=c, ms=4, capsize=2,
                        label=f"G&C n={n}, depth {depth}")
            lb, _ = _pooled(_select(rows, method="nngp", role="sweep", inputs="digits", n=n, depth=depth), "bits", "bits_se")
            if np.isfinite(lb):
                ax.axhline(lb, color=c, ls=":", lw=1.2)
    ax.plot([], [], "k:", label="−log₂ P(orthant) (limit)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("hidden width")
    ax.set_ylabel("bits = −log₂ P(fit)")
    ax.set_title("bits to fit the training set vs the limit's", fontsize=9)
    ax.legend(fontsize=6.5, ncol=2)
    ax = axes[3]
    for inputs, c, label in (("digits", "C0", "digit images"), ("identity", "C1", "one-hot inputs (matrix factorization)")):
        sel = _select(rows, method="gnc_rb", inputs=inputs, n=ns[-1], depth=depths[0])
        sel = [r for r in sel if r["role"] in ("sweep", "contrast")]
        ws = sorted({r["width"] for r in sel})
        if ws:
            m = np.array([_pooled(_select(sel, width=w))[0] for w in ws])
            s = np.array([_pooled(_select(sel, width=w))[1] for w in ws])
            ax.errorbar(ws, m, yerr=z * s, marker="o", color=c, capsize=2, label=f"G&C, {label}")
        lm, ls_ = _pooled(_select(rows, method="nngp", inputs=inputs, n=ns[-1], depth=depths[0]))
        if np.isfinite(lm):
            ax.axhline(lm, color=c, ls=":", lw=1.5, label=f"NNGP limit, {label}")
            ax.axhspan(lm - z * ls_, lm + z * ls_, color=c, alpha=0.15)
    ax.axhline(0.5, color="gray", lw=0.8, ls="--", label="chance")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("hidden width")
    ax.set_ylabel("test accuracy (mean, 95% CI)")
    ax.set_title(f"contrast: the same task with one-hot inputs (n = {ns[-1]}, depth {depths[0]})", fontsize=9)
    ax.legend(fontsize=6.5, loc="center right")
    return save_figure(fig, stem)
