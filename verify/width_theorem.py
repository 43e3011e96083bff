"""Check of the width theorem: Guess & Check tends to chance as the width grows (antisymmetric σ).

Paper's claim (Alexander, Slutzky, Ran-Milo, Cohen 2025, arXiv 2506.03931, Theorem 1 and Figure 1): for σ
linear or tanh and i.i.d. priors, ``lim_k G_k(ε) = lim_k C_k``; gradient descent from small initialization
generalizes well at every width (Proposition 1). Our formalization and extension (spec §3, see
``theory.width_theorem``): the limit is the NNGP posterior ``G_∞(ε)``, equal to chance for antisymmetric σ
and computable (and different from chance) for leaky ReLU.

Claims and their rules (each at family-wise level ``alpha``, default 1e-3):
- ``chance_mc_matches_closed_form``: at every point where the closed form is exact (linear σ, or depth 2),
  the Monte Carlo chance level agrees with it within a Bonferroni z-interval.
- ``gap_shrinks[σ, d, ε]`` (σ antisymmetric): the relative gap ``Δ_k = (C_k − G_k)/C_k`` averaged over seeds
  has a weighted log-log slope in k whose (1 − alpha) CI lies below 0; fitted on widths whose mean gap is
  above 3 standard errors (at least 3 of them, else inconclusive). Standard errors are Monte Carlo errors
  given the drawn problems. The exponent is reported, not asserted.
- ``distance_to_limit_shrinks[σ, d, ε]`` (σ not antisymmetric): the same fit and rule for the relative
  distance ``|G_k − G_∞|/G_∞`` to the leaky-ReLU NNGP limit.
- ``limit_at_largest_width[σ, d, ε]``: at the largest width, every seed's G is within ``limit_rtol``
  (default 1%) of its infinite-width limit G_∞ (chance for linear/tanh, the NNGP value for leaky ReLU): an
  equivalence test (TOST per seed, Bonferroni over seeds) of ``(G − G_∞)/G_∞`` against ±``limit_rtol`` — pass
  if every interval lies inside, fail if one lies wholly outside, else inconclusive — since a precise
  estimator resolves the O(1/k) finite-width bias at any finite k.
- ``not_chance_at_largest_width[σ, d, ε]`` (σ not antisymmetric): "G = chance" at that width is rejected by
  the chi-square test (pass); not rejecting it is inconclusive (too little power), not a failure.
- Effective sample size: with ``method=auto``, a point whose rbis ESS is below ``min_ess`` (default 100) is
  redone by tempered SMC (``numerics.gnc.estimate``; sizes ``smc_particles``, ``smc_moves``, ``smc_replicates``,
  also used by ``method=smc|nested``; the record's ``method_note`` says so); points still below
  ``min_ess`` are left out of the rules (their standard errors are not trustworthy); a claim without enough
  points is ``inconclusive``. Quantiles are Student t with each point's ``se_dof`` (SMC: replicates − 1),
  normal in the large-sample limit; a width's seed-mean gap gets the Welch–Satterthwaite dof of its seeds, and
  the slope fits use them as ``verify.rules.fit_linear`` says (OLS below 100 dof).
- ``gd_far_below_chance[σ, d]`` (σ antisymmetric; Proposition 1 is about linear σ): at every width the
  median over seeds of the GD baseline's L_gen is at most ``gd_factor`` (default 0.1) times the chance
  level; non-converged runs count as failures. Leaky ReLU's GD numbers are recorded and drawn, not judged.
With all predictions true, the false-failure rate is at most ``alpha`` per statistical claim.

Sweep (``verify.engine``): one task per (seed, σ, d, k) G&C point with its GD run, and one per (seed, σ, d)
for the NNGP limit shared by the widths (rows ``kind = "limit"``, joined to the points by :func:`joined`).
Every task draws only from its own streams (``Task.rng``, ``Task.torch_generator``) and runs single-threaded,
so records are identical on every executor; the problem of seed s is drawn in :func:`points` from stream
(s, 0) and travels in the task's parameters. Compared with the sweep before the engine (parallel threads
inside a point), each point's random stream changed; the records agree within standard errors.
The figure presets of the paper's Figures 1, 3, 5, 7, 9 (``--set figure=N``) are in :mod:`verify.gnc_figures`.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from numerics.activations import parse_activation
from numerics.factorization import PRIORS, SAMPLERS, Factorization
from numerics.gd_baseline import INITS
from numerics.gnc import METHODS, estimate
from numerics.problems import MEASUREMENTS, SensingProblem, load_problem, random_problem
from theory.width_theorem import chance_level, column_kernel, gaussian_limit_posterior
from verify.engine import Task, task
from verify.errors import require
from verify.figures import new_figure, save_figure
from verify.report import Claim
from verify.rules import (agree, agree_chi2, fit_loglog_slope, interval_verdict, slope_negative, t_quantile,
                          welch_combination_dof)
from verify.sweeps import chance_of, dof_of, gd_claim, gd_point, numeric, paper_figure, point_rng, select

NAME = "width_theorem"
INPUTS = ("problem",)  # --problem F.npz: arrays A (n x m x m') and W_star (m x m')
SUMMARY = "G&C tends to chance as the width grows (Thm 1, Fig 1); leaky ReLU to its own NNGP limit; GD baseline"

QUICK = {
    "activations": ["linear", "tanh", "leaky_relu"],
    "widths": [5, 20, 80, 320, 1280],
    "extra_widths": [10240],  # very large widths, fewer draws: the approach to the limit
    "extra_draws": 2500,  # prior draws per point at the extra widths
    "depths": [2],
    "eps": [0.02, 0.0],
    "seeds": 3,
    "draws": 12_000,
    "prior": "gaussian",
    "measurements": "sensing",
    "m": 5,
    "mp": 5,
    "n": 15,
    "rank": 1,
    "method": "auto",
    "min_ess": 100.0,
    "smc_particles": 300,  # auto's SMC fallback at points whose rbis ESS < min_ess (narrow nets)
    "smc_moves": 20,
    "smc_replicates": 4,
    "sampler": "auto",
    "memory_mb": 128,  # memory budget of the streamed prior draws of one task (each worker runs one)
    "alpha": 1e-3,
    "limit_rtol": 0.01,
    "limit_samples": 200_000,
    "gd": True,
    "gd_optimizer": "adaptive",
    "gd_lr": 3e-3,
    "gd_init": 1e-3,
    "gd_steps": 5000,
    "gd_tol": 1e-6,
    "gd_momentum": 0.0,
    "gd_init_law": "gaussian",  # or torch_default (the authors'; the figure presets' default)
    "gd_factor": 0.1,
    "figure": "none",  # a paper figure's preset (verify.gnc_figures): 1, 3, 5, 7, 9
}
FULL = {
    "widths": [5, 10, 20, 40, 80, 160, 640, 2560],
    "extra_widths": [10240],
    "extra_draws": 10_000,
    "seeds": 8,
    "draws": 200_000,
    "gd_steps": 100_000,
    "gd_lr": 1e-4,
    "smc_particles": 1000,
    "smc_moves": 60,
}


def validate(p: dict) -> None:
    for a in p["activations"]:
        parse_activation(a)
    for key in ("widths", "extra_widths"):
        require(all(k >= 1 for k in p[key]), f"{key} must be positive integers, got {p[key]}")
    require(p["widths"], "give at least one width")
    require(p["depths"] and all(d >= 2 for d in p["depths"]), f"depths must be >= 2, got {p['depths']}")
    require(p["eps"] and all(e >= 0 for e in p["eps"]), f"eps must be >= 0, got {p['eps']}")
    require(p["method"] != "rejection" or all(e > 0 for e in p["eps"]),
            "eps = 0 needs method=rbis, smc, nested or auto (rejection never accepts at eps = 0)")
    require(p["extra_draws"] >= 2, f"extra_draws must be >= 2, got {p['extra_draws']}")
    require(p["seeds"] >= 1, f"seeds must be >= 1, got {p['seeds']}")
    require(p["draws"] >= 2, f"draws must be >= 2, got {p['draws']}")
    require(p["prior"] in PRIORS, f"unknown prior {p['prior']!r}; known: {', '.join(PRIORS)}")
    require(p["measurements"] in MEASUREMENTS, f"unknown measurements {p['measurements']!r}; known: sensing, completion")
    require(p["method"] in METHODS, f"unknown method {p['method']!r}; known: {', '.join(METHODS)}")
    require(p["sampler"] in SAMPLERS, f"unknown sampler {p['sampler']!r}; known: {', '.join(SAMPLERS)}")
    require(p["m"] >= 1 and p["mp"] >= 1, "m and mp must be positive")
    require(1 <= p["n"] < p["m"] * p["mp"], f"n must be in [1, m*mp - 1], got {p['n']}")
    require(1 <= p["rank"] <= min(p["m"], p["mp"]), f"rank must be in [1, min(m, mp)], got {p['rank']}")
    require(0 < p["alpha"] < 1, f"alpha must be in (0, 1), got {p['alpha']}")
    require(p["min_ess"] >= 0, f"min_ess must be >= 0, got {p['min_ess']}")
    require(p["smc_particles"] >= 2 and p["smc_moves"] >= 0 and p["smc_replicates"] >= 2,
            "smc_particles and smc_replicates must be >= 2, smc_moves >= 0")
    require(p["memory_mb"] >= 1, f"memory_mb must be >= 1, got {p['memory_mb']}")
    require(p["gd_lr"] > 0 and p["gd_init"] > 0 and p["gd_steps"] >= 1, "gd_lr, gd_init, gd_steps must be positive")
    require(0 <= p["gd_momentum"] < 1, f"gd_momentum must be in [0, 1), got {p['gd_momentum']}")
    require(p["gd_init_law"] in INITS, f"unknown gd_init_law {p['gd_init_law']!r}; known: {', '.join(INITS)}")
    narrow = [k for k in p["widths"] + p["extra_widths"] if min(k, p["mp"]) * p["m"] < p["n"]]
    require(min(p["eps"]) > 0 or (p["prior"] == "gaussian" and not narrow),
            "eps = 0 needs a Gaussian-linear last layer (gaussian prior, min(k, m')*m >= n); "
            + (f"prior {p['prior']!r} has none" if p["prior"] != "gaussian" else f"widths {narrow} are too narrow")
            + ": use eps > 0")


def _widths_for(p: dict) -> list[int]:
    return sorted(set(int(k) for k in p["widths"] + p["extra_widths"]))


def _draws_for(p: dict, width: int) -> int:
    return p["draws"] if width in p["widths"] else p["extra_draws"]


# ---------------------------------------------------------------------------------------------- sweep
def prepare(p: dict, inputs: dict) -> dict:
    """Apply a figure preset (``figure``, :mod:`verify.gnc_figures`) and fold a ``--problem`` file into
    (m, m', n)."""
    from verify.gnc_figures import apply_preset
    p = apply_preset(NAME, p)
    if inputs.get("problem") is not None:
        prob = load_problem(inputs["problem"])
        p = {**p, "m": prob.shape[0], "mp": prob.shape[1], "n": prob.n, "problem_file": str(inputs["problem"])}
    return p


def problems(p: dict, seed: int, inputs: dict | None = None) -> dict[int, SensingProblem]:
    """The problem of each seed index: the ``--problem`` file for every seed, else W* and the measurements
    redrawn per seed from the master seed (the paper's protocol; stream (s, 0), as before the engine port)."""
    path = (inputs or {}).get("problem")
    user = load_problem(path) if path is not None else None
    return {s: user if user is not None else
            random_problem(p["m"], p["mp"], p["rank"], p["n"], point_rng(seed, s, 0), kind=p["measurements"])
            for s in range(p["seeds"])}


def points(p: dict, seed: int, inputs: dict | None = None) -> list[Task]:
    """One task per (seed, activation, depth, width) G&C point (with its GD run), and one per (seed,
    activation, depth) for the NNGP limit shared by all widths (``limit/...``; joined to the points in
    :func:`joined`). Each task carries its problem's arrays and draws only from its own streams."""
    probs = problems(p, seed, inputs)
    activations = [parse_activation(a) for a in p["activations"]]
    out = []
    for s, prob in probs.items():
        arrays = {"A": prob.A, "W_star": prob.W_star, "problem_kind": prob.kind}
        for ai, act in enumerate(activations):
            for depth in p["depths"]:
                if p["prior"] != "normalized":
                    out.append(task(f"limit/s{s}/{act}/d{depth}",
                                    {**p, **arrays, "kind": "limit", "activation": str(act), "depth": depth, "s": s},
                                    seed, s, 3, ai, depth, weight=max(1, p["limit_samples"] // 100)))
                for k in _widths_for(p):
                    out.append(task(f"point/s{s}/{act}/d{depth}/k{k}",
                                    {**p, **arrays, "kind": "point", "activation": str(act), "depth": depth,
                                     "width": k, "s": s},
                                    seed, s, 1, ai, depth, k, weight=_draws_for(p, k)))
    # the widest points last in submission order would leave one worker alone at the end: heaviest first
    return sorted(out, key=lambda t: -t.weight * (t.params.get("width", 1) if t.params["kind"] == "point" else 1))


def _problem_of(tp: dict) -> SensingProblem:
    return SensingProblem(np.asarray(tp["A"], float), np.asarray(tp["W_star"], float), kind=tp["problem_kind"])


def compute(t: Task) -> list[dict]:
    """A G&C point (estimates at every ε, chance closed form, GD run) or the NNGP limit of one (seed, σ, d)."""
    tp = t.params
    prob, act = _problem_of(tp), parse_activation(tp["activation"])
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
    estimates = estimate(prob, fact, tp["eps"], method=tp["method"], draws=_draws_for(tp, width), rng=t.rng(1),
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


LIMIT_FIELDS = ("G_limit", "G_limit_se", "chance_limit")


def joined(rows: list[dict]) -> list[dict]:
    """The G&C point rows with their (seed, σ, d, ε) NNGP limit joined in (NaN where there is none, e.g. the
    normalized prior) — the point records of the check, as one row per point."""
    rows = numeric(rows)
    limits = {(q["seed"], q["activation"], q["depth"], q["eps"]): q for q in rows if q.get("kind") == "limit"}
    nan = {f: float("nan") for f in LIMIT_FIELDS}
    out = []
    for q in rows:
        if q.get("kind", "point") != "point":
            continue
        lim = limits.get((q["seed"], q["activation"], q["depth"], q["eps"]), nan)
        out.append({**q, **{f: lim[f] for f in LIMIT_FIELDS}})
    order = {a: i for i, a in enumerate(dict.fromkeys(q["activation"] for q in out))}
    return sorted(out, key=lambda q: (q["seed"], order[q["activation"]], q["depth"], q["width"]))


def judge(rows: list[dict], p: dict) -> list[Claim]:
    return build_claims(joined(rows), [parse_activation(a) for a in p["activations"]], p)


def _seed_mean(values, ses):
    values, ses = np.asarray(values, float), np.asarray(ses, float)
    return float(np.mean(values)), float(np.sqrt(np.sum(ses ** 2)) / len(values))


def build_claims(points: list[dict], activations, p: dict) -> list[Claim]:
    alpha = p["alpha"]
    claims = []
    # an estimate with fewer than min_ess effective samples has no trustworthy standard error
    points = [q if q.get("ess", np.inf) >= p["min_ess"] else {**q, "G": float("nan")} for q in points]
    exact = [q for q in points if np.isfinite(q["chance_closed_form"])]
    if exact:
        claims.append(agree("chance_mc_matches_closed_form", [q["C"] for q in exact], [q["C_se"] for q in exact],
                            [q["chance_closed_form"] for q in exact], alpha=alpha,
                            what="Monte Carlo E_prior[L_gen] vs [tr(P⊥ Σ_W) + ‖P⊥W*‖²]/|B|"))
    for act in activations:
        for depth in p["depths"]:
            for eps in p["eps"]:
                pts = select(points, activation=str(act), depth=depth, eps=eps)
                if not pts:
                    continue
                tag = f"[{act}, d={depth}, eps={eps:g}]"
                if act.antisymmetric:
                    claims.append(gap_claim(f"gap_shrinks{tag}", pts, alpha))
                if not act.antisymmetric:
                    claims.append(distance_claim(f"distance_to_limit_shrinks{tag}", pts, alpha))
                claims.append(limit_claim(f"limit_at_largest_width{tag}", pts, alpha, p["limit_rtol"]))
                if not act.antisymmetric:
                    claims.append(not_chance_claim(f"not_chance_at_largest_width{tag}", pts, alpha))
            if p["gd"] and act.antisymmetric:
                claims.append(gd_claim(f"gd_far_below_chance[{act}, d={depth}]",
                                       select(points, activation=str(act), depth=depth, eps=p["eps"][0]),
                                       p["gd_factor"]))
    return claims


def relative_gaps(pts: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Widths, seed-averaged Δ_k = (C_k − G_k)/C_k, its Monte Carlo standard error and that SE's
    Welch–Satterthwaite degrees of freedom (each seed's G_se has its ``se_dof``; C's SE is large-sample)."""
    widths = sorted({q["width"] for q in pts})
    gaps, ses, dofs = [], [], []
    for k in widths:
        qs = select(pts, width=k)
        terms = np.array([np.hypot(q["G_se"], 0 if np.isfinite(q["chance_closed_form"]) else q["C_se"])
                          / chance_of(q) for q in qs])
        gap, se = _seed_mean([(chance_of(q) - q["G"]) / chance_of(q) for q in qs], terms)
        gaps.append(gap)
        ses.append(se)
        dofs.append(welch_combination_dof(terms ** 2, dof_of(qs)))
    return np.array(widths), np.array(gaps), np.array(ses), np.array(dofs)


def distance_claim(name: str, pts: list[dict], alpha: float) -> Claim:
    """The relative distance |G_k − G_∞|/G_∞ shrinks with k (same fit and rule as the gap to chance)."""
    return gap_claim(name, _distance_points(pts), alpha)


def _distance_points(pts: list[dict]) -> list[dict]:
    """Points rewritten so that ``relative_gaps`` measures |G − G_∞|/G_∞ instead of (C − G)/C."""
    return [{**q, "G": q["G_limit"] - abs(q["G"] - q["G_limit"]), "chance_closed_form": q["G_limit"],
             "G_se": np.hypot(q["G_se"], q.get("G_limit_se") or 0.0)} for q in pts]


def gap_claim(name: str, pts: list[dict], alpha: float) -> Claim:
    widths, gaps, ses, dofs = relative_gaps(pts)
    keep = np.isfinite(gaps) & (gaps > 3 * ses)
    rule_extra = "fit on widths with mean gap > 3 SE"
    if keep.sum() < 3:
        return Claim(name=name, predicted="< 0", measured=None, ci=None, verdict="inconclusive",
                     rule=f"needs >= 3 widths with a significant gap; {rule_extra}",
                     test=f"{int(keep.sum())} width(s) with a gap > 3 SE < 3 needed")
    fit = fit_loglog_slope(widths[keep], gaps[keep], ses[keep], level=1 - alpha, dof=dofs[keep])
    return slope_negative(name, fit, level=1 - alpha, what=f"{rule_extra}; exponent reported, not asserted")


def limit_claim(name: str, pts: list[dict], alpha: float, rtol: float, target: str = "G_limit") -> Claim:
    """At the largest width every seed's G is within ``rtol`` of its ``target`` (an equivalence test).

    Per seed, the (1 − 2 alpha/S) confidence interval of the signed relative difference (G − target)/target
    (one-sided quantiles at alpha/S: two one-sided tests, Bonferroni over the S seeds) is compared with
    (−rtol, rtol) by :func:`verify.rules.interval_verdict`: pass if every seed's interval lies inside, fail if
    one lies wholly outside (a difference larger than the tolerance shown), else inconclusive. A precise
    estimator detects any finite-width bias, so "equal within the CI" would eventually fail at every finite
    width; equivalence within a stated tolerance is the claim that can hold.
    """
    k = max(q["width"] for q in pts)
    qs = select(pts, width=k)
    G = np.array([q["G"] for q in qs])
    target_vals = np.array([_target(q, target) for q in qs])
    se = np.hypot([q["G_se"] for q in qs], [q.get("G_limit_se", 0.0) or 0.0 for q in qs]
                  if target == "G_limit" else 0.0)
    z = t_quantile(2 * alpha, len(qs), dof_of(qs))  # one-sided bound at alpha / S
    rel = G / target_vals - 1
    lower, upper = (G - target_vals - z * se) / target_vals, (G - target_vals + z * se) / target_vals
    verdicts = [interval_verdict((lo, hi), -rtol, rtol) for lo, hi in zip(lower, upper)]
    verdict = "fail" if "fail" in verdicts else ("pass" if all(v == "pass" for v in verdicts) else "inconclusive")
    worst = float(np.max(np.maximum(np.abs(lower), np.abs(upper)))) if np.all(np.isfinite(upper + lower)) else np.nan
    return Claim(name=name, predicted=f"|G/{target} - 1| < {rtol:g}", measured=rel.tolist(),
                 ci=[float(np.min(lower)), float(np.max(upper))], verdict=verdict,
                 rule=f"at width {k}, for each of {len(qs)} seed(s) the {100 * (1 - 2 * alpha):g}% (TOST, Bonferroni) "
                      f"interval of (G - {target})/{target} inside +-{rtol:g}: pass; one wholly outside: fail; "
                      "else inconclusive; measured = relative differences",
                 test=f"max |end of interval| = {worst:.3g} < {rtol:g} (per seed: {', '.join(verdicts)})")


def not_chance_claim(name: str, pts: list[dict], alpha: float) -> Claim:
    """At the largest width, the hypothesis "G = chance" is rejected by the same chi-square test."""
    k = max(q["width"] for q in pts)
    qs = select(pts, width=k)
    return agree_chi2(name, [q["G"] for q in qs], [q["G_se"] for q in qs], [chance_of(q) for q in qs],
                      alpha=alpha, reject=True, dof=dof_of(qs),
                      what=f"G at width {k} vs chance, one term per seed: 'G -> chance' must be rejected")


def _target(q: dict, target: str) -> float:
    return chance_of(q) if target == "chance" else q[target]


def plot(record: dict, stem: Path) -> list[Path]:
    """Top row (the paper's layout): G&C median with IQR over seeds, chance, G_∞ and GD against width, one panel
    per activation. Bottom row: the relative distance to the limit against width (log-log), one line per ε,
    with the fitted slope of the check."""
    points, params = joined(record["points"]), record["params"]
    acts = list(dict.fromkeys(q["activation"] for q in points))
    fig, axes = new_figure(len(acts), rows=2, height=3.4)
    eps0, depth0 = params["eps"][0], params["depths"][0]
    slopes = {c["name"]: c["measured"] for c in record["claims"]}
    for col, act in enumerate(acts):
        ax, ax_gap = axes[col], axes[len(acts) + col]
        sigma = parse_activation(act)
        pts = [q for q in points if q["activation"] == act and q["eps"] == eps0 and q["depth"] == depth0]
        widths = sorted({q["width"] for q in pts})

        def stat(key, pts=pts, widths=widths):
            vals = [[q[key] if q.get(key) is not None else np.nan for q in pts if q["width"] == k] for k in widths]
            return np.array([np.nanpercentile(v, [25, 50, 75]) if np.any(np.isfinite(v)) else [np.nan] * 3
                             for v in vals]).T

        g = stat("G")
        ax.errorbar(widths, g[1], yerr=[g[1] - g[0], g[2] - g[1]], fmt="o-", color="C0", capsize=3,
                    label="G&C (median, IQR)")
        ax.plot(widths, stat("chance_closed_form" if pts[0]["chance_closed_form"] is not None else "C")[1], "--",
                color="gray", label="chance $C_k$")
        ax.plot(widths, stat("G_limit")[1], ":", color="C3", lw=2, label=r"$G_\infty$ (NNGP limit)")
        if "gd_gen_loss" in pts[0]:
            gd = stat("gd_gen_loss")
            ax.errorbar(widths, gd[1], yerr=[gd[1] - gd[0], gd[2] - gd[1]], fmt="s-", color="C2", capsize=3,
                        label="GD")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{sigma.label} (d = {depth0}, ε = {eps0:g})")
        for i, eps in enumerate(params["eps"]):
            sel = [q for q in points if q["activation"] == act and q["eps"] == eps and q["depth"] == depth0]
            ws, gaps, ses, _ = relative_gaps(sel if sigma.antisymmetric else _distance_points(sel))
            name = ("gap_shrinks" if sigma.antisymmetric else "distance_to_limit_shrinks") + \
                f"[{sigma}, d={depth0}, eps={eps:g}]"
            slope = slopes.get(name)
            label = f"ε = {eps:g}" + (f" (slope {slope:.2f})" if isinstance(slope, float) else "")
            ok = gaps > 0
            ax_gap.errorbar(np.array(ws)[ok], gaps[ok], yerr=ses[ok], fmt="o-", color=f"C{i}", capsize=3, label=label)
        ax_gap.set_xscale("log")
        ax_gap.set_yscale("log")
        ax_gap.set_xlabel("width k")
        ax_gap.legend(fontsize=8)
        for a in (ax, ax_gap):
            a.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("generalization loss")
    axes[len(acts)].set_ylabel("relative gap to the limit\n" + r"$(C_k - G_k)/C_k$; leaky: $|G_k - G_\infty|/G_\infty$")
    axes[0].legend(fontsize=8)
    return save_figure(fig, stem) + paper_figure(record, stem)
