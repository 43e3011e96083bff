"""The width check's sweep: one task per (seed, σ, d, k) G&C point with its GD run, and one per (seed, σ, d)
for the NNGP limit shared by the widths (rows ``kind = "limit"``, joined to the points by :func:`joined`).

Every task draws only from its own streams (``Task.rng``, ``Task.torch_generator``) and runs single-threaded,
so records are identical on every executor; the problem of seed s is drawn in :func:`points` from stream
(s, 0) and travels in the task's parameters.
"""
from __future__ import annotations

import time

from numerics.activations import parse_activation
from numerics.factorization import Factorization
from numerics.gnc import estimate
from numerics.gnc_limits import gaussian_limit_posterior
from theory.width_theorem import chance_level, column_kernel
from verify.engine import Task, task
from verify.gnc.baseline import gd_point
from verify.gnc.presets import apply_preset, scope_notes
from verify.gnc.records import doubled, join_limits, problem_arrays, problem_of, problems
from verify.inputs import fold_problem
from verify.width_theorem.params import PARAMS

NAME = "width_theorem"
LIMIT_FIELDS = ("G_limit", "G_limit_se", "chance_limit")


def widths_for(p: dict) -> list[int]:
    return sorted(set(int(k) for k in p["widths"] + p["extra_widths"]))


def draws_for(p: dict, width: int) -> int:
    return p["draws"] if width in p["widths"] else p["extra_draws"]


def prepare(p: dict, inputs: dict) -> dict:
    """Apply a figure preset (``figure``) and fold a ``--problem`` file into (m, m', n)."""
    p = apply_preset(NAME, p, PARAMS.defaults(p.get("mode") == "full"))
    return fold_problem(p, inputs)


def points(p: dict, seed: int, inputs: dict | None = None) -> list[Task]:
    """One task per (seed, activation, depth, width) G&C point (with its GD run), and one per (seed,
    activation, depth) for the NNGP limit shared by all widths (``limit/...``). Each task carries its problem's
    arrays and draws only from its own streams."""
    activations = [parse_activation(a) for a in p["activations"]]
    out = []
    for (s, _), prob in problems(p, seed).items():
        arrays = problem_arrays(prob)
        for ai, act in enumerate(activations):
            for depth in p["depths"]:
                if p["prior"] != "normalized":
                    out.append(task(f"limit/s{s}/{act}/d{depth}",
                                    {**p, **arrays, "kind": "limit", "activation": str(act), "depth": depth, "s": s},
                                    seed, s, 3, ai, depth, weight=max(1, p["limit_samples"] // 100)))
                for k in widths_for(p):
                    out.append(task(f"point/s{s}/{act}/d{depth}/k{k}",
                                    {**p, **arrays, "kind": "point", "activation": str(act), "depth": depth,
                                     "width": k, "s": s},
                                    seed, s, 1, ai, depth, k, weight=draws_for(p, k)))
    # the widest points last in submission order would leave one worker alone at the end: heaviest first
    return sorted(out, key=lambda t: -t.weight * (t.params.get("width", 1) if t.params["kind"] == "point" else 1))


def compute(t: Task) -> list[dict]:
    """A G&C point (estimates at every ε, chance closed form, GD run) or the NNGP limit of one (seed, σ, d)."""
    tp = t.params
    prob, act = problem_of(tp), parse_activation(tp["activation"])
    if tp["kind"] == "limit":
        K = column_kernel(act, tp["depth"], tp["mp"], tp["m"], prior=tp["prior"])
        rows = []
        for e_i, eps in enumerate(tp["eps"]):
            lim = gaussian_limit_posterior(prob, K, eps, t.rng(e_i), n_samples=tp["limit_samples"])
            rows.append({"kind": "limit", "activation": str(act), "depth": tp["depth"], "seed": tp["s"],
                         "eps": float(eps), "G_limit": lim.G, "G_limit_se": lim.G_se, "chance_limit": lim.chance})
        return rows
    started = time.perf_counter()
    width, depth = tp["width"], tp["depth"]
    fact = Factorization(tp["m"], tp["mp"], width, depth, act, tp["prior"])
    estimates = estimate(prob, fact, tp["eps"], method=tp["method"], draws=draws_for(tp, width), rng=t.rng(1),
                         sampler=tp["sampler"], workers=1, memory_bytes=tp["memory_mb"] * 2 ** 20,
                         min_ess=tp["min_ess"], options={"particles": tp["smc_particles"], "moves": tp["smc_moves"],
                                                         "replicates": tp["smc_replicates"], "workers": 1})
    K_k = column_kernel(act, depth, tp["mp"], tp["m"], width=width, prior=tp["prior"]) \
        if tp["prior"] != "normalized" else None
    chance_cf = chance_level(prob, K_k) if K_k is not None else float("nan")
    gd = gd_point(prob, width, depth, act, tp, t.torch_generator(2), t.device, tp["gd_init"]) if tp["gd"] else {}
    seconds = time.perf_counter() - started
    return [{"kind": "point", "activation": str(act), "width": width, "depth": depth, "seed": tp["s"],
             "eps": est.eps, "G": est.G, "G_se": est.G_se, "C": est.C, "C_se": est.C_se,
             "chance_closed_form": chance_cf, "p_accept": est.p_accept, "n_accepted": est.n_accepted,
             "n_draws": est.n_draws, "ess": est.ess, "p_se": est.p_se, "se_dof": est.se_dof,
             "method": est.method, "method_note": est.note, "sampler": fact.resolve_sampler(tp["sampler"]),
             "seconds": seconds, **gd} for est in estimates]


def joined(rows: list[dict]) -> list[dict]:
    """The G&C point rows with their (seed, σ, d, ε) NNGP limit joined in (NaN where there is none, e.g. the
    normalized prior) — the point records of the check, as one row per point."""
    out = [q for q in join_limits(rows, "point", ("seed", "activation", "depth", "eps"),
                                  {f: f for f in LIMIT_FIELDS}) if q.get("kind", "point") == "point"]
    order = {a: i for i, a in enumerate(dict.fromkeys(q["activation"] for q in out))}
    return sorted(out, key=lambda q: (q["seed"], order[q["activation"]], q["depth"], q["width"]))


def notes(rows: list[dict], p: dict) -> list[str]:
    """The figure preset's scope (which hypotheses hold, which claims apply)."""
    return scope_notes(p)


GROWS = ("seeds",)  # what a sequential run (--until-decisive) adds: seeds, doubled each round


def grow(p: dict, round_: int) -> dict:
    return doubled(p, round_, GROWS)
