"""The depth check's sweep. Tasks ``limit/s/n`` (RIP constants and the rank-1 limit of one problem),
``depth/s/σ/d`` (a G&C point and its GD run), ``informative/s``, ``lyapunov`` and ``rip_study/n``; the depth rows
are joined to their limit rows by :func:`joined`. Each task draws only from its own streams. The RIP facts of
the run are stated by :func:`notes`.

ε = 0 (the theorem's limit; this package's extension): with the normalized prior and k ≥ m', ``eps`` may hold 0;
those points are estimated by ``numerics.gnc.estimate(method="auto")`` (the exact angular-central-Gaussian
importance sampler, angular_smc where its ESS is low), and the rank-1 limit there is ``G_∞(0) = 0`` exactly by the
local law (:func:`limit_at_zero`). Measured caveat (``benchmarks/bench_angular.py --zero-trend``): those G_d(0)
agree with nested sampling's ε → 0 trend at d ≤ 4; at d = 6 they are biased high with a small SMC (8 × 300 × 10:
G_6(0) = 2.9e-4 ± 0.5e-4, above nested's G_6(1e-5) = 9.8e-5) and consistent with the --full sizes (8 × 1000 ×
20: 8.9e-5 ± 1.6e-5). At quick sizes, read the limit at depth from a ladder of small ε > 0 by nested sampling.
"""
from __future__ import annotations

import numpy as np

from numerics.activations import parse_activation
from numerics.factorization import Factorization
from numerics.gnc import GncEstimate, estimate
from numerics.gnc_limits import chain_log_singular_values, informative_rip_setting, rank1_depth_limit
from numerics.problems import SensingProblem
from numerics.rip import isometry_constants, rank_variety_dimension, rip_versus_measurements
from theory.depth_theorem import (LocalLaw, limit_chance, local_limit_law, log_ratio_slope, rip_bound,
                                  rip_bound_applies)
from verify.depth_theorem.params import LYAPUNOV_STEP, PARAMS
from verify.engine import Task, task
from verify.gnc.baseline import gd_point
from verify.gnc.presets import apply_preset, scope_notes
from verify.gnc.records import doubled, join_limits, problem_arrays, problem_of, problems
from verify.inputs import fold_problem
from verify.rules import SlopeFit, fit_linear

NAME = "depth_theorem"
RIP_ORDER = 2  # W − W* has rank ≤ 2 for rank-1 W and W*
JOINED_FIELDS = ("rip_delta2_lower", "rip_delta2_minus_lower", "rip_delta2_upper", "rip_exact", "rip_bound",
                 "w_star_rank")


def paper_init_scale(depth: int) -> float:
    """The authors' GD initialization scale for Figure 2: 1e-3 (d ≤ 4), 0.1 (5–8), 0.2 (9–10 and beyond)."""
    return 1e-3 if depth <= 4 else (0.1 if depth <= 8 else 0.2)


def _depths_for(p: dict, activation) -> list[int]:
    extra = p["linear_depths"] if activation.name == "linear" else []
    return sorted(set(int(d) for d in p["depths"] + extra))


def _nested_options(p: dict) -> dict:
    return {"particles": p["nested_particles"], "moves": p["nested_moves"], "replicates": p["nested_replicates"],
            "final_moves": p["nested_final_moves"], "workers": 1}  # parallelism is across the sweep's tasks


def prepare(p: dict, inputs: dict) -> dict:
    """Apply a figure preset (``figure``) and fold a ``--problem`` file into (m, m', n); a user problem has its
    own n, so the random ``rip_n`` problems are dropped."""
    p = apply_preset(NAME, p, PARAMS.defaults(p.get("mode") == "full"))
    return {**fold_problem(p, inputs), "rip_n": []} if inputs.get("problem") is not None else p


def points(p: dict, seed: int, inputs: dict | None = None) -> list[Task]:
    """Tasks: ``limit/s/n`` (RIP constants and the rank-1 limit G_∞ at every ε of the ladder, per problem),
    ``depth/s/σ/d`` (a G&C point; joined to its limit by :func:`joined`), ``gd/s/σ`` (the GD baseline at every
    depth up to ``gd_max_depth``, on the main problem of each of ``max(seeds, gd_seeds)`` seeds), ``lyapunov``
    (the chains) and ``rip_study/n`` (estimated δ_2 against n). The problems travel in the task parameters."""
    activations = [parse_activation(a) for a in p["activations"]]
    ladder = sorted(set(p["limit_eps"]) | set(p["eps"]))
    out = []
    for (s, n), prob in problems(p, seed, p["rip_n"]).items():
        arrays = {**problem_arrays(prob), "s": s, "n_problem": n}
        out.append(task(f"limit/s{s}/n{n}", {**p, **arrays, "kind": "limit", "ladder": ladder}, seed, s, 3, n,
                        weight=p["limit_draws"] // 10))
        if n != p["n"]:
            continue
        for ai, act in enumerate(activations):
            for depth in _depths_for(p, act):
                out.append(task(f"depth/s{s}/{act}/d{depth}",
                                {**p, **arrays, "kind": "depth", "activation": str(act), "depth": depth},
                                seed, s, 1, ai, depth, weight=p["draws"] * max(1, depth // 4)))
    if p["gd"]:
        gd_acts = [a for a in activations if str(a) in p["gd_activations"] or a.name in p["gd_activations"]]
        for (s, _), prob in problems({**p, "seeds": max(p["seeds"], p["gd_seeds"])}, seed).items():
            for ai, act in enumerate(gd_acts):
                depths = [d for d in _depths_for(p, act) if d <= p["gd_max_depth"]]
                if depths:
                    out.append(task(f"gd/s{s}/{act}", {**p, **problem_arrays(prob), "kind": "gd", "s": s,
                                                       "activation": str(act), "gd_depths": depths},
                                    seed, s, 9, ai, weight=p["gd_steps"] * len(depths)))
    for s in range(p["informative_seeds"]):
        out.append(task(f"informative/s{s}", {**p, "kind": "informative", "s": s}, seed, 8, s,
                        weight=p["limit_draws"]))
    out.append(task("lyapunov", {**p, "kind": "lyapunov"}, seed, 5, weight=p["lyapunov_chains"] * 5))
    for n in p["rip_study_n"]:
        out.append(task(f"rip_study/n{n}", {**p, "kind": "rip_study", "n_study": n}, seed, 6, n,
                        weight=p["rip_study_draws"] * p["rip_restarts"] * 2000))
    return sorted(out, key=lambda t: -t.weight)  # heaviest first: no worker left alone with a long task at the end


def compute(t: Task) -> list[dict]:
    return {"limit": _limit_rows, "depth": _depth_rows, "lyapunov": _lyapunov_rows, "rip_study": _rip_study_rows,
            "informative": _informative_rows, "gd": _gd_rows}[t.params["kind"]](t)


def _limit_rows(t: Task, prob: SensingProblem | None = None, rip=None, ladder=None, setting: str = "",
                method: str | None = None, options: dict | None = None) -> list[dict]:
    tp = t.params
    prob = problem_of(tp) if prob is None else prob
    s, n, ladder = tp["s"], prob.n, tp["ladder"] if ladder is None else ladder
    rip = isometry_constants(prob.A, RIP_ORDER, t.rng(7), restarts=tp["rip_restarts"]) if rip is None else rip
    positive = [e for e in ladder if e > 0]
    ests = rank1_depth_limit(prob, positive, t.rng(), method=method or tp["limit_method"], draws=tp["limit_draws"],
                             workers=1, options=options or _nested_options(tp), min_accepted=tp["limit_min_accepted"])
    law = _local_law(prob)
    if len(positive) < len(ladder):
        ests = [limit_at_zero(law)] + ests
    return [{"kind": "limit", "seed": s, "n": n, "m": prob.shape[0], "mp": prob.shape[1], "setting": setting,
             **_estimate_fields(est), "chance_closed_form": limit_chance(prob),
             **_rip_fields(prob, rip, est.eps), "local_kappa": law.kappa, "local_scale": law.scale,
             "local_log_p": law.log_p_coeff + law.dim / 2 * np.log(est.eps) if est.eps > 0 else float("nan")}
            for est in ests]


def _informative_rows(t: Task) -> list[dict]:
    """The informative RIP setting (``numerics.gnc_limits.informative_rip_setting``): a rank-1
    ``informative_m`` × ``informative_m`` problem with ``informative_n`` measurements, its δ_2 estimate and the
    rank-1 limit at the ε (fractions of ``eps_max``) where the RIP bound lies below chance."""
    tp = t.params
    m = tp["informative_m"]
    setting = informative_rip_setting(t.rng(), m=m, mp=m, n=tp["informative_n"], rank=1, restarts=tp["rip_restarts"])
    ladder = [f * setting.eps_max for f in sorted(tp["informative_fractions"])] if setting.eps_max > 0 else []
    # rejection is hopeless there (the bound is below chance only for eps < ~2e-4: the local law gives ln p ~ -125
    # at the smallest eps of seed 0) and auto would spend limit_draws on it first, so nested sampling goes directly
    method = "nested"
    options = {**_nested_options(tp), "particles": tp["informative_particles"], "moves": tp["informative_moves"]}
    return (_limit_rows(t, setting.problem, setting.rip, ladder, setting="informative", method=method, options=options)
            if ladder else [])


def _depth_rows(t: Task) -> list[dict]:
    tp = t.params
    prob, act, depth = problem_of(tp), parse_activation(tp["activation"]), tp["depth"]
    fact = Factorization(tp["m"], tp["mp"], tp["width"], depth, act, tp["prior"])
    positive = [e for e in tp["eps"] if e > 0]
    ests = estimate(prob, fact, positive, method=tp["method"], draws=tp["draws"], rng=t.rng(1),
                    sampler=tp["sampler"], workers=1, options=_nested_options(tp),
                    min_ess=tp["limit_min_accepted"]) if positive else []
    if len(positive) < len(tp["eps"]):  # eps = 0: only the exact angular estimators reach it (auto: angular IS,
        # redone by angular_smc where its ESS is below limit_min_accepted)
        ests += estimate(prob, fact, 0.0, method="auto", draws=tp["angular_draws"], rng=t.rng(3),
                         sampler=tp["sampler"], workers=1, options=_nested_options(tp),
                         min_ess=tp["limit_min_accepted"])
    ests = sorted(ests, key=lambda e: tp["eps"].index(e.eps))
    # The theorem's prior (normalized, σ odd) has this chance level exactly; other priors are held to it too.
    chance = limit_chance(prob) if act.antisymmetric else float("nan")
    return [{"kind": "depth", "activation": str(act), "depth": depth, "width": tp["width"], "seed": tp["s"],
             "n": tp["n"], **_estimate_fields(est), "chance_closed_form": chance,
             "sampler": fact.resolve_sampler(tp["sampler"])} for est in ests]


def _gd_rows(t: Task) -> list[dict]:
    """The GD baseline of one (seed, σ) at every depth of ``gd_depths``, with the authors' per-depth init scales;
    its L_gen is compared with the rank-1 limit's chance level of the problem (the normalized prior's, σ odd)."""
    tp = t.params
    prob, act = problem_of(tp), parse_activation(tp["activation"])
    return [{"kind": "gd", "activation": str(act), "depth": d, "width": tp["width"], "seed": tp["s"], "n": tp["n"],
             "chance_closed_form": limit_chance(prob),
             **gd_point(prob, tp["width"], d, act, tp, t.torch_generator(2, d), t.device, paper_init_scale(d))}
            for d in tp["gd_depths"]]


def _lyapunov_rows(t: Task) -> list[dict]:
    tp = t.params
    depths = lyapunov_depths(tp)
    Y = chain_log_singular_values(tp["width"], depths, tp["lyapunov_chains"], t.rng())
    log_ratio = Y[:, :, 1] - Y[:, :, 0]
    fit = lyapunov_fit(depths, log_ratio, tp["lyapunov_min_depth"])
    rows = [{"kind": "lyapunov", "depth": int(d), "mean_log_ratio": float(mean), "se": float(se)}
            for d, mean, se in zip(depths, log_ratio.mean(0), log_ratio.std(0, ddof=1) / np.sqrt(len(log_ratio)))]
    return rows + [{"kind": "lyapunov_fit", "width": tp["width"], "slope": fit.slope, "intercept": fit.intercept,
                    "slope_se": fit.slope_se, "n_points": fit.n_points, "dof": fit.dof,
                    "predicted_slope": log_ratio_slope(tp["width"]), "min_depth": tp["lyapunov_min_depth"],
                    "max_depth": int(depths[-1])}]


def _rip_study_rows(t: Task) -> list[dict]:
    tp = t.params
    row, = rip_versus_measurements([tp["n_study"]], tp["m"], tp["mp"], RIP_ORDER, t.rng(), ensemble="normalized",
                                   draws=tp["rip_study_draws"], restarts=tp["rip_restarts"])
    return [{"kind": "rip_study", "m": tp["m"], "mp": tp["mp"], "rank": RIP_ORDER,
             "dimension_count": rank_variety_dimension(tp["m"], tp["mp"], RIP_ORDER), **row.as_dict()}]


def joined(rows: list[dict]) -> list[dict]:
    """Every row, the ``depth`` rows with their problem's rank-1 limit (``G_limit``, ``G_limit_se``,
    ``G_limit_dof``) and RIP fields joined in from the ``limit`` row of the same (seed, n, ε); rows ordered by
    kind as the figure and the claims read them."""
    out = join_limits(rows, "depth", ("seed", "n", "eps"),
                      {"G": "G_limit", "G_se": "G_limit_se", "se_dof": "G_limit_dof", **{f: f for f in JOINED_FIELDS}})
    kinds = {"depth": 0, "limit": 1, "lyapunov": 2, "lyapunov_fit": 3, "rip_study": 4, "gd": 5}
    return sorted(out, key=lambda q: (kinds[q["kind"]], q.get("seed", 0), q.get("activation", ""),
                                      q.get("n", 0), q.get("depth", 0), q.get("eps", 0)))


def notes(rows: list[dict], p: dict) -> list[str]:
    """The figure preset's scope, and what the RIP estimates of this run's problems allow one to say (stated,
    not asserted)."""
    out = scope_notes(p)
    limit_rows = [q for q in rows if q["kind"] == "limit"]
    for n in sorted({q["n"] for q in limit_rows}):
        rips = {q["seed"]: q for q in limit_rows if q["n"] == n}.values()  # one per problem
        two = min(r["rip_delta2_lower"] for r in rips)
        one = min(r["rip_delta2_minus_lower"] for r in rips)
        applies = sum(rip_bound_applies(r["rip_delta2_minus_lower"]) for r in rips)
        verdict = (f"< 1 for {applies} of {len(rips)} problem(s): there the RIP bound is evaluated with this lower "
                   "bound, a conditional check" if applies else "numerically 1: the RIP bound does not apply")
        out.append(
            f"n = {n}: two-sided delta_2 >= {two:.3g} over all seeds (certified by witnesses: the paper's RIP "
            f"hypothesis delta_2 < 1 {'FAILS' if two >= 1 else 'is not refuted'}); one-sided delta_2^- >= {one:.6g} "
            f"({verdict}); "
            f"the dimension count r(m+m'-r) = {rank_variety_dimension(p['m'], p['mp'], RIP_ORDER)} "
            "is where rank-2 null matrices stop existing generically")
    return out


def lyapunov_depths(p: dict) -> list[int]:
    """1…10 (for the figure's transient) and every LYAPUNOV_STEP layers up to the maximum."""
    deep = range(p["lyapunov_min_depth"], p["lyapunov_max_depth"] + 1, LYAPUNOV_STEP)
    return sorted(set(range(1, 11)) | set(range(LYAPUNOV_STEP, p["lyapunov_max_depth"] + 1, LYAPUNOV_STEP))
                  | set(deep))


def _estimate_fields(est) -> dict:
    return {"eps": est.eps, "G": est.G, "G_se": est.G_se, "C": est.C, "C_se": est.C_se, "p_accept": est.p_accept,
            "n_accepted": est.n_accepted, "n_draws": est.n_draws, "ess": est.ess, "method": est.method,
            "note": est.note, "p_se": est.p_se, "se_dof": est.se_dof}


def _rip_fields(prob, rip, eps) -> dict:
    delta_minus = rip.delta_minus_lower
    return {"rip_delta2_lower": rip.delta_lower, "rip_delta2_minus_lower": delta_minus,
            "rip_delta2_upper": rip.delta_upper, "rip_exact": rip.exact,
            "rip_bound": rip_bound(prob, eps, delta_minus) if rip_bound_applies(delta_minus) else None,
            "w_star_rank": int(np.linalg.matrix_rank(prob.W_star, tol=1e-10))}


def limit_at_zero(law: LocalLaw) -> GncEstimate:
    """G_∞(0) of the rank-1 limit: exactly 0 where the local law holds (rank-1 W*, measurements injective on the
    tangent space, so the only unit rank-1 matrix with 𝒜W = y is W*; G_∞(ε) = κε + O(ε²)), NaN otherwise. A
    theory value, not an estimate: its SE is 0 and its chance level is left to the ε > 0 rows (C = NaN)."""
    exact = np.isfinite(law.kappa)
    return GncEstimate(eps=0.0, G=0.0 if exact else float("nan"), G_se=0.0 if exact else float("nan"),
                       C=float("nan"), C_se=float("nan"), p_accept=0.0, n_accepted=-1, n_draws=0, method="local_law",
                       ess=float("inf") if exact else float("nan"), se_dof=float("inf"),
                       note="G_inf(0) = 0 exactly by the local law (rank-1 W*, injective tangent map)" if exact
                       else "no local law (W* not rank 1 or tangent map singular): G_inf(0) unknown")


def _local_law(prob):
    """The small-ε law of the rank-1 limit (NaN where W* is not rank 1 or the tangent map is singular)."""
    try:
        return local_limit_law(prob)
    except ValueError:  # UserInputError of theory or numerics
        return LocalLaw(kappa=float("nan"), log_p_coeff=float("nan"), dim=0, scale=float("nan"))


def lyapunov_fit(depths, log_ratio: np.ndarray, min_depth: int) -> SlopeFit:
    """OLS slope of the chain mean of ln(σ_2/σ_1) over depths ≥ min_depth; covariance from the chains. The row
    keeps the slope and its SE, not a CI: the claim's level is set when it is judged (Holm), not here."""
    depths = np.asarray(depths)
    keep = depths >= min_depth
    Y = log_ratio[:, keep]
    cov = np.atleast_2d(np.cov(Y, rowvar=False)) / Y.shape[0]
    return fit_linear(depths[keep], Y.mean(0), cov, level=0.95, weights=np.ones(keep.sum()))


GROWS = ("seeds", "gd_seeds")  # what a sequential run (--until-decisive) adds: seeds, doubled each round


def grow(p: dict, round_: int) -> dict:
    return doubled(p, round_, GROWS)
