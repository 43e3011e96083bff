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
  (default 1%) of its infinite-width limit G_∞ (chance for linear/tanh, the NNGP value for leaky ReLU):
  the (1 − alpha) Bonferroni upper confidence bound of ``|G − G_∞|/G_∞`` is below ``limit_rtol`` — an
  equivalence test, since a precise estimator resolves the O(1/k) finite-width bias at any finite k.
- ``not_chance_at_largest_width[σ, d, ε]`` (σ not antisymmetric): the same statistic against chance exceeds
  the quantile, i.e. "G = chance" at that width is rejected (whatever the tolerance, the check does not
  report leaky ReLU as reaching chance).
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
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from numerics.activations import parse_activation
from numerics.factorization import PRIORS, SAMPLERS, Factorization
from numerics.gnc import METHODS, estimate
from numerics.problems import MEASUREMENTS, load_problem, random_problem
from theory.width_theorem import chance_level, column_kernel, gaussian_limit_posterior
from verify.checkpoint import PointStore
from verify.errors import require
from verify.figures import new_figure, save_figure
from verify.progress import log, progress_bar
from verify.report import Claim, Record
from verify.sweeps import chance_of, dof_of, gd_claim, point_rng, select
from verify.rules import agree, agree_chi2, fit_loglog_slope, slope_negative, t_quantile, welch_combination_dof

NAME = "width_theorem"
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
    "workers": 2,
    "memory_mb": 128,  # memory budget of the streamed prior draws (all workers together)
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
    "gd_factor": 0.1,
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
    require(p["workers"] >= 1, f"workers must be >= 1, got {p['workers']}")
    require(p["min_ess"] >= 0, f"min_ess must be >= 0, got {p['min_ess']}")
    require(p["smc_particles"] >= 2 and p["smc_moves"] >= 0 and p["smc_replicates"] >= 2,
            "smc_particles and smc_replicates must be >= 2, smc_moves >= 0")
    require(p["memory_mb"] >= 1, f"memory_mb must be >= 1, got {p['memory_mb']}")
    require(p["gd_lr"] > 0 and p["gd_init"] > 0 and p["gd_steps"] >= 1, "gd_lr, gd_init, gd_steps must be positive")
    require(0 <= p["gd_momentum"] < 1, f"gd_momentum must be in [0, 1), got {p['gd_momentum']}")
    narrow = [k for k in p["widths"] + p["extra_widths"] if min(k, p["mp"]) * p["m"] < p["n"]]
    require(min(p["eps"]) > 0 or (p["prior"] == "gaussian" and not narrow),
            "eps = 0 needs a Gaussian-linear last layer (gaussian prior, min(k, m')*m >= n); "
            + (f"prior {p['prior']!r} has none" if p["prior"] != "gaussian" else f"widths {narrow} are too narrow")
            + ": use eps > 0")


def _widths_for(p: dict, activation=None) -> list[int]:
    return sorted(set(int(k) for k in p["widths"] + p["extra_widths"]))


def _draws_for(p: dict, width: int) -> int:
    return p["draws"] if width in p["widths"] else p["extra_draws"]


def run(p: dict, seed: int, *, problem: Path | None = None, progress: bool = True,
        checkpoint: Path | None = None) -> Record:
    """The sweep; with ``checkpoint``, finished points go to that file and a rerun resumes from it."""
    user_problem = load_problem(problem) if problem is not None else None
    if user_problem is not None:
        p = {**p, "m": user_problem.shape[0], "mp": user_problem.shape[1], "n": user_problem.n,
             "problem_file": str(problem)}
    validate(p)
    activations = [parse_activation(a) for a in p["activations"]]
    m, mp = p["m"], p["mp"]
    jobs = [(s, ai, a, d, k) for s in range(p["seeds"]) for ai, a in enumerate(activations)
            for d in p["depths"] for k in _widths_for(p, a)]
    log(f"{NAME}: {len(jobs)} points, {p['draws']:,} prior draws each ({p['extra_draws']:,} at extra widths), "
        f"eps = {p['eps']}, method = {p['method']}, {'GD baseline on' if p['gd'] else 'no GD'}", progress)
    points = []
    store = PointStore(checkpoint, {"check": NAME, "params": p, "seed": seed})
    if store.done:
        log(f"{NAME}: resuming, {len(store.done)} of {len(jobs)} points already in {checkpoint}", progress)
    bar = progress_bar(sum(_draws_for(p, job[-1]) for job in jobs), "G&C draws", progress)
    limit_cache: dict = {}
    for s, ai, act, depth, width in jobs:
        key = store.key(s, act, depth, width)
        if store.get(key) is not None:
            points.extend(store.get(key))
            bar.update(_draws_for(p, width))
            continue
        started = time.perf_counter()
        new = []
        prob = user_problem if user_problem is not None else random_problem(
            m, mp, p["rank"], p["n"], point_rng(seed, s, 0), kind=p["measurements"])
        fact = Factorization(m, mp, width, depth, act, p["prior"])
        estimates = estimate(prob, fact, p["eps"], method=p["method"], draws=_draws_for(p, width),
                             rng=point_rng(seed, s, 1, ai, depth, width), sampler=p["sampler"],
                             workers=p["workers"], memory_bytes=p["memory_mb"] * 2 ** 20, on_chunk=bar.update,
                             min_ess=p["min_ess"], options={"particles": p["smc_particles"],
                                                            "moves": p["smc_moves"],
                                                            "replicates": p["smc_replicates"]})
        K_k = column_kernel(act, depth, mp, m, width=width, prior=p["prior"]) if p["prior"] != "normalized" else None
        chance_cf = chance_level(prob, K_k) if K_k is not None else float("nan")
        gd = _gd_point(prob, width, depth, act, p, point_rng(seed, s, 2, ai, depth, width)) if p["gd"] else {}
        for e_i, est in enumerate(estimates):
            lim_key = (s, ai, depth, est.eps)
            if lim_key not in limit_cache:
                limit_cache[lim_key] = _limit(prob, act, depth, p, est.eps, point_rng(seed, s, 3, ai, depth, e_i))
            lim = limit_cache[lim_key]
            new.append({"activation": str(act), "width": width, "depth": depth, "seed": s, "eps": est.eps,
                        "G": est.G, "G_se": est.G_se, "C": est.C, "C_se": est.C_se,
                        "chance_closed_form": chance_cf, "G_limit": lim["G"], "G_limit_se": lim["G_se"],
                        "chance_limit": lim["chance"], "p_accept": est.p_accept,
                        "n_accepted": est.n_accepted, "n_draws": est.n_draws, "ess": est.ess,
                        "p_se": est.p_se, "se_dof": est.se_dof,
                        "method": est.method, "method_note": est.note, "sampler": fact.resolve_sampler(p["sampler"]),
                        "seconds": time.perf_counter() - started, **gd})
        store.put(key, new)
        points.extend(new)
    bar.close()
    store.finish()
    claims = build_claims(points, activations, p)
    return Record(check=NAME, claims=claims, params=p, seed=seed, points=points)


def _limit(prob, act, depth, p, eps, rng) -> dict:
    if p["prior"] == "normalized":
        return {"G": float("nan"), "G_se": float("nan"), "chance": float("nan")}
    K = column_kernel(act, depth, p["mp"], p["m"], prior=p["prior"])
    lim = gaussian_limit_posterior(prob, K, eps, rng, n_samples=p["limit_samples"])
    return {"G": lim.G, "G_se": lim.G_se, "chance": lim.chance}


def _gd_point(prob, width, depth, act, p, rng) -> dict:
    import torch

    from numerics.gd_baseline import train_factorization
    gen = torch.Generator().manual_seed(int(rng.integers(2 ** 62)))
    res = train_factorization(prob, width=width, depth=depth, activation=act, init_scale=p["gd_init"],
                              lr=p["gd_lr"], steps=p["gd_steps"], optimizer=p["gd_optimizer"],
                              momentum=p["gd_momentum"], tol=p["gd_tol"], generator=gen)
    return {"gd_gen_loss": res.gen_loss, "gd_train_loss": res.train_loss, "gd_converged": bool(res.converged),
            "gd_steps": res.steps}


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
                     rule=f"needs >= 3 widths with a significant gap ({int(keep.sum())} found); {rule_extra}")
    fit = fit_loglog_slope(widths[keep], gaps[keep], ses[keep], level=1 - alpha, dof=dofs[keep])
    return slope_negative(name, fit, level=1 - alpha, what=f"{rule_extra}; exponent reported, not asserted")


def limit_claim(name: str, pts: list[dict], alpha: float, rtol: float, target: str = "G_limit") -> Claim:
    """At the largest width every seed's G is within ``rtol`` of its ``target`` (an equivalence test).

    Per seed, the upper end of the (1 − alpha/S) confidence interval of |G − target|/target must be below
    rtol. A precise estimator detects any finite-width bias, so "equal within the CI" would eventually fail
    at every finite width; equivalence within a stated tolerance is the claim that can hold.
    """
    k = max(q["width"] for q in pts)
    qs = select(pts, width=k)
    G = np.array([q["G"] for q in qs])
    target_vals = np.array([_target(q, target) for q in qs])
    se = np.hypot([q["G_se"] for q in qs], [q.get("G_limit_se", 0.0) or 0.0 for q in qs]
                  if target == "G_limit" else 0.0)
    z = t_quantile(2 * alpha, len(qs), dof_of(qs))  # one-sided bound at alpha / S
    upper = (np.abs(G - target_vals) + z * se) / target_vals
    verdict = "inconclusive" if not np.all(np.isfinite(upper)) else ("pass" if upper.max() < rtol else "fail")
    return Claim(name=name, predicted=f"|G/{target} - 1| < {rtol:g}", measured=(G / target_vals - 1).tolist(),
                 ci=[0.0, float(upper.max())], verdict=verdict,
                 rule=f"at width {k}, for each of {len(qs)} seed(s) the {100 * (1 - alpha):g}% (Bonferroni) upper "
                      f"bound of |G - {target}|/{target} is below {rtol:g}; measured = relative differences")


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
    points, params = record["points"], record["params"]
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
    return save_figure(fig, stem)
