"""``python -m verify norm_sharpness``: norm versus sharpness on a diagonal linear network (spec:
diagonal_networks.md, checks 1–9).

Paper's claim (Fojtik, Matveev, Chou, Kutyniok, Maly 2025, arXiv 2505.21423): for ``f_w(x) = <w ⊙ w, x>``
trained by GD on one data point, the learning rate η trades a low norm against low sharpness, and neither
the min-norm nor the min-sharpness interpolator minimizes the generalization error. This package's
formalization (see ``theory.diagonal_networks``): closed-form GF limit R3, exact GD limit R4, ``η_c = 2/S(β^GF)``,
the edge-of-stability regime ``S(β^η) ≈ 2/η`` and the best η ≈ 2/S(β*). R3/R4 are this package's
derivations (the paper gives no GD limit).

The check sweeps η (``etas``; by default a grid from 0.01 η_c past ``η_max = 2/S_min``, filled in before the
run so the record holds it), runs plain GD on w from ``w_0 = α`` (float64), classifies every run (converged /
2-cycle / oscillating / diverged / unresolved) and records, per η, the limit β^η, its sharpness S,
‖β‖_1 = ‖w‖_2², ‖w‖_1 = Σ√β_i, the error ``E = ‖β − β*‖²`` and the closed-form predictions. Only converged
runs enter the limit checks. The sweep is split into independent tasks (the η grid in chunks of
``GRID_CHUNK`` consecutive learning rates, each transition α, the gradient-flow solves, the random Hessian
points, the u ⊙ v problem), each with its own seed, so they run in parallel on any executor.

Everything except the random evaluation points of claim 1 and the random u ⊙ v problem of claim 4 is
deterministic: the claims are exact identities at fixed tolerances (round-off level, set in advance, not
tuned) and threshold rules on deterministic GD runs, so their false-failure rate is zero up to round-off.
One verdict rule (``verify.report``): ``fail`` only where the runs contradict the prediction beyond its
tolerance; ``inconclusive`` where the runs cannot decide (a solver or run that did not finish, too few
converged runs, a grid too coarse to locate a transition, a GF prediction too close to the simulated limit
to test the effective initialization); no claim is a bound against chance, so ``vacuous`` does not arise.
Claims and their rules:

1. ``hessian``: the formula ``∇²L = κ[4(x⊙w)(x⊙w)ᵀ + 2r diag(x)]`` equals the autograd Hessian to 1e-12 and
   central differences of the gradient to 1e-6 (relative, max entry), at random w, on M and at GD limits
   (one per grid chunk with a converged run); on M, ``λ_max = 4κΣx_i²β_i`` to 1e-12. Larger: fail.
2. ``min_norm_min_sharpness``: R1 and R2 equal ``scipy.optimize.linprog``'s optimal values to 1e-9 and its
   minimizers to 1e-7 (minimizers compared only when unique); linprog failing: inconclusive.
3. ``gf_limit_ode``: R3 equals an ODE solve of gradient flow (DOP853, rtol 1e-13) to rtol 1e-10 (the solve
   not reaching zero loss: inconclusive); ``gd_to_gf_slope``: ‖β^η − β^GF‖ ∝ η as η → 0: the 99.9% CI of the
   fitted log-log slope over six small η inside [0.9, 1.1] (wholly outside: fail; straddling: inconclusive;
   a deviation below 1e-9 ‖β^GF‖ — 1000 times the accuracy of a GD limit, which stops at |r| < 1e-12 y; for
   isotropic x the deviation is round-off — or a non-converged run: inconclusive).
4. ``gd_limit_identity``: R4 (the KL projection of the effective initialization built from the run's own
   residuals) equals the simulated limit to 1e-9 on every converged run; ``even_uv_effective_init``: the
   same for u ⊙ v with several samples (Even et al. 2023): an error above 1e-9 fails; if the GF prediction
   (plain α) is within 1e-6 of the simulated limit the test cannot tell the effective initialization from
   α and the claim is inconclusive.
5. ``transition_at_eta_c``: for each α of ``transition_alphas`` (and the main α), the first grid η with
   S(β^η) < 0.98 S(β^GF) lies within 5% of η_c (outside: fail; inconclusive if the grid has no η in
   [η_c, 1.05 η_c] or no converged run drops below).
6. ``edge_of_stability``: every converged run satisfies ``ηS/2 ≤ 1 + 1e-9`` (hard: linear stability, the
   one-sample Nacson bound; violated: fail); on converged runs with η ∈ (1.05 η_c, η_max) at least 80% have
   ``ηS/2 ∈ [0.9, 1]`` (fewer: fail; inconclusive with fewer than 3 such runs).
7. ``norm_sharpness_tradeoff``: over the same runs Spearman ρ(η, ‖β‖_1) ≥ 0.8 and ρ(η, S) ≤ −0.8 (else
   fail; fewer than 3 runs: inconclusive); ρ(η, ‖w‖_1) is reported.
8. ``generalization_u_curve``: E at the smallest converged η and at the largest converged η each exceed
   the minimum over η by ≥ 10% (+1e-12), and the argmin is within 5% of 2/S(β*) (else fail). The location
   rule applies where it is derived, the 2-D case x_1 ≠ x_2 > 0; in other dimensions the argmin is only
   reported. Inconclusive unless the sweep reaches both ends of GD's stable range (the rule compares them):
   at least 3 converged runs, the smallest converged η ≤ 0.1 η_c (the norm end, near gradient flow) and a
   non-converging η above the largest converged one (the sharpness end); the automatic grid does.
9. ``run_classification``: every run ends converged (|r| < 1e-12 y), in a 2-cycle / oscillating, or
   diverged within ``max_iter`` (else inconclusive); a run converging above η_max fails; divergences below
   η_max (catapults) are counted and reported.
10. ``conflict_hypothesis``: R1 ≠ R2 and ``S_min < S(β*) < S(β^GF)`` (the precondition of 8 and 11; a
    deterministic property of (x, β*): false is fail, which is how isotropic x is rejected).
11. ``neither_bias_minimizes`` (the paper's claim): ``1.1 min_η E(β^η) + 1e-12 ≤`` the error of the min-norm
    interpolator, of the min-sharpness interpolator, of the smallest-η limit (≈ GF, the norm end) and of
    the largest converged η (the sharpness end); else fail; inconclusive on a sweep short of either end (as
    in 8).

Loss normalization ``loss_scale``: ``half`` (½r², the spec default) or ``full`` (r²); S is the top Hessian
eigenvalue of the loss used, so η thresholds scale by 1/c while ``2/η`` rules keep their form (the theory
row's ``loss`` says which). Norms: ``norm_beta_l1`` = ‖β‖_1 = ‖w‖_2², ``norm_w_l1`` = ‖w‖_1 = Σ √β_i.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linprog
from scipy.stats import spearmanr

from numerics import diagonal_networks as nd
from theory import diagonal_networks as td
from verify.engine import task
from verify.errors import require
from verify.figures import new_figure, save_figure
from verify.report import Claim
from verify.report import jsonable as plain
from verify.rules import fit_loglog_slope, interval_verdict, slope_within

NAME = "norm_sharpness"
SUMMARY = "diagonal network, one sample: GD limit vs η, edge of stability, norm/sharpness tradeoff, U-curve"
QUICK = {
    "x": [1.0, 0.5],
    "y": 1.0,
    "alpha": [0.1],
    "beta_star": [0.5, 1.0],
    "etas": None,  # None: an automatic grid from 0.01 η_c to 1.06 η_max
    "loss_scale": "half",
    "grid_step": 0.01,  # relative spacing of the automatic grid near η_c and in the EoS range
    "max_iter": 50000,
    "transition_alphas": [0.01, 0.3, 0.5],
    "eta_c_alphas": [0.01, 0.1, 0.3, 0.5],
    "uv_samples": 3,
    "uv_dim": 6,
}
FULL = {"grid_step": 0.004, "max_iter": 200000, "uv_samples": 5, "uv_dim": 12}
TYPES = {"etas": list}
INPUTS = ()
DEFAULT_WORKERS = 1  # short: a spawned worker needs ~4 s to import torch, more than the points take

HESSIAN_AUTOGRAD_TOL, HESSIAN_FD_TOL, TRACE_TOL = 1e-12, 1e-6, 1e-12
LP_VALUE_TOL, LP_POINT_TOL = 1e-9, 1e-7
ODE_RTOL = 1e-10
SLOPE_BAND = (0.9, 1.1)
GF_DEVIATION_FLOOR = 1e-9  # relative to ‖β^GF‖: 1000 x the accuracy of a GD limit (runs stop at |r| < 1e-12 y)
IDENTITY_TOL, EFFECT_MIN = 1e-9, 1e-6
TRANSITION_DROP, TRANSITION_WINDOW = 0.98, 0.05
EOS_BAND, EOS_FRACTION, EOS_HARD = (0.9, 1.0), 0.8, 1e-9
RANK_MIN = 0.8
U_MARGIN, U_WINDOW = 1.1, 0.05
NORM_END = 0.1  # a sweep reaches the norm end when it has a converged η <= NORM_END η_c
GRID_CHUNK = 16  # consecutive learning rates per task: GD is vectorized over η, chunks run in parallel


# ----------------------------------------------------------------------------------------------------
# Parameters
# ----------------------------------------------------------------------------------------------------
def _finite(values) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def validate(params: dict) -> None:
    x, alpha, bstar = params["x"], params["alpha"], params["beta_star"]
    require(isinstance(x, list) and len(x) >= 1 and _finite(x), "x must be a non-empty list of finite numbers")
    require(any(v > 0 for v in x), f"x needs a positive entry (else no β ≥ 0 fits y > 0), got {x}")
    y = params["y"]
    require(isinstance(y, (int, float)) and math.isfinite(y) and y > 0, f"y must be a finite number > 0, got {y}")
    require(isinstance(alpha, list) and _finite(alpha) and all(a > 0 for a in alpha),
            f"alpha must be positive (the initialization w_0 = alpha), got {alpha}")
    require(len(alpha) in (1, len(x)), f"alpha has {len(alpha)} entries; give 1 or len(x) = {len(x)}")
    require(isinstance(bstar, list) and len(bstar) == len(x),
            f"beta_star has {len(bstar)} entries but x has {len(x)}; set beta_star too (on <x, beta_star> = y)")
    require(_finite(bstar) and all(b >= 0 for b in bstar), f"beta_star must be finite and >= 0, got {bstar}")
    dot = float(np.dot(x, bstar))
    require(abs(dot - y) <= 1e-6 * y,
            f"beta_star must lie on the zero-loss set <x, beta_star> = y: got {dot:.6g}, y = {y:g}")
    etas = params["etas"]
    if etas is not None:
        require(isinstance(etas, list) and len(etas) >= 1 and _finite(etas) and all(e > 0 for e in etas),
                f"etas must be learning rates > 0, got {etas}")
    require(params["loss_scale"] in td.LOSS_SCALES,
            f"loss_scale must be one of {', '.join(td.LOSS_SCALES)}, got {params['loss_scale']!r}")
    require(0 < params["grid_step"] <= 0.05, f"grid_step must be in (0, 0.05], got {params['grid_step']}")
    require(params["max_iter"] >= 1000, f"max_iter must be >= 1000, got {params['max_iter']}")
    for key in ("transition_alphas", "eta_c_alphas"):
        require(_finite(params[key]) and all(a > 0 for a in params[key]), f"{key} must be positive, got {params[key]}")
    require(params["uv_samples"] >= 1 and params["uv_dim"] > params["uv_samples"],
            f"need 1 <= uv_samples < uv_dim, got {params['uv_samples']}, {params['uv_dim']}")


def prepare(params: dict, inputs: dict) -> dict:
    """Fill in the η grid (sorted, unique; the automatic one when ``etas`` is None), so the record holds it."""
    validate(params)
    p = _problem(params)
    if params["etas"] is not None:
        etas = np.unique(np.asarray(params["etas"], float))
    else:
        s_gf = td.sharpness_on_zero_loss_set(td.gradient_flow_limit(p["x"], p["y"], p["alpha"]), p["x"], p["kappa"])
        etas = _auto_grid(2.0 / s_gf, td.divergence_lr(p["x"], p["y"], p["kappa"]), params["grid_step"])
    return {**params, "etas": etas.tolist()}


def _auto_grid(eta_c: float, eta_max: float, step: float) -> np.ndarray:
    """Geometric below 0.8 η_c, linear with spacing ``step·η_c`` over [0.8, 1.2] η_c, then geometric
    with ratio ``1 + step`` up to 1.06 η_max (past the divergence threshold)."""
    small = np.geomspace(0.01 * eta_c, 0.8 * eta_c, 8)[:-1]
    fine = eta_c * np.arange(0.8, 1.2 + step / 2, step)
    top = 1.06 * eta_max
    upper = np.empty(0)
    if top > fine[-1] * (1 + step):
        n = int(math.ceil(math.log(top / fine[-1]) / math.log1p(step)))
        upper = np.geomspace(fine[-1], top, n + 1)[1:]
    return np.unique(np.concatenate([small, fine, upper]))


def _problem(params: dict) -> dict:
    """The arrays of the problem: x, y, α (one per coordinate), β*, the loss scale and its factor κ."""
    x = np.asarray(params["x"], float)
    ls = params["loss_scale"]
    return {"x": x, "y": float(params["y"]), "alpha": np.broadcast_to(np.asarray(params["alpha"], float),
                                                                          x.shape).copy(),
            "bstar": np.asarray(params["beta_star"], float), "ls": ls, "kappa": td.loss_factor(ls, 1)}


# ----------------------------------------------------------------------------------------------------
# Points: independent tasks, each a pure function of its parameters and seed
# ----------------------------------------------------------------------------------------------------
def points(params: dict, seed: int, inputs: dict) -> list:
    etas = params["etas"]
    tasks = [task(part, {**params, "part": part}, seed, i)
             for i, part in enumerate(("theory", "hessian", "gf_ode", "gf_slope", "even_uv"))]
    for j in range(0, len(etas), GRID_CHUNK):
        chunk = etas[j:j + GRID_CHUNK]
        c = j // GRID_CHUNK
        tasks.append(task(f"grid/{c}", {**params, "part": "grid", "etas": chunk}, seed, 5, c, weight=len(chunk)))
    for j, a in enumerate(params["transition_alphas"]):
        tasks.append(task(f"transition/{j}", {**params, "part": "transition", "transition_alpha": a,
                                               "transition_index": j}, seed, 6, j))
    return tasks


def compute(t) -> list[dict]:
    p = {**t.params, **_problem(t.params)}
    return plain(_PARTS[t.params["part"]](p, t))


def _theory(p, t) -> list[dict]:
    x, y, kappa, bstar = p["x"], p["y"], p["kappa"], p["bstar"]
    beta_gf = td.gradient_flow_limit(x, y, p["alpha"])
    s_gf = td.sharpness_on_zero_loss_set(beta_gf, x, kappa)
    r1, r2 = td.min_norm_interpolator(x, y), td.min_sharpness_interpolator(x, y)
    return [{
        "sweep": "theory", "beta_gf": beta_gf, "sharpness_gf": s_gf, "eta_c": 2.0 / s_gf,
        "eta_max": td.divergence_lr(x, y, kappa), "beta_min_norm": r1, "beta_min_sharpness": r2,
        "sharpness_min": td.min_sharpness(x, y, kappa),
        "sharpness_beta_star": td.sharpness_on_zero_loss_set(bstar, x, kappa),
        "eta_best_predicted": td.best_lr_prediction(bstar, x, kappa),
        "gen_error_min_norm": float(td.generalization_error(r1, bstar)),
        "gen_error_min_sharpness": float(td.generalization_error(r2, bstar)),
        "gen_error_gf": float(td.generalization_error(beta_gf, bstar)),
        "eta_c_table": {str(a): td.critical_lr(x, y, a, kappa) for a in p["eta_c_alphas"]},
        "loss": td.loss_statement(p["ls"]), "loss_scale": p["ls"],
        "biases_coincide": bool(td.biases_coincide(x)), "two_d_prediction": bool(td.has_2d_prediction(x)),
        "linprog": _linprog(x, y, kappa, r1, r2),
    }]


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _hessian_errors(p, ws, on) -> dict:
    """Max relative errors of the Hessian formula vs autograd and central differences at the points ``ws``,
    and of ``λ_max = S(β)`` at the points ``on`` of M."""
    x, y, kappa, ls = p["x"], p["y"], p["kappa"], p["ls"]
    err_ad = err_fd = err_tr = 0.0
    for w in ws:
        H = td.hessian_shared(w, x, y, kappa)
        err_ad = max(err_ad, _rel(H, nd.hessian_autograd("shared", [w], x, y, ls)))
        err_fd = max(err_fd, _rel(H, nd.hessian_finite_difference("shared", [w], x, y, ls)))
    for b in on:
        H = td.hessian_shared(np.sqrt(b), x, y, kappa)
        s = td.sharpness_on_zero_loss_set(b, x, kappa)
        err_tr = max(err_tr, abs(td.top_eigenvalue(H) - s) / s)
    return {"sweep": "hessian", "n_points": len(ws), "err_autograd": err_ad, "err_fd": err_fd, "err_trace": err_tr}


def _hessian_random(p, t) -> list[dict]:
    """Claim 1 at random w (off M) and random points of M (random signs of w = ±√β)."""
    rng, x, d = t.rng(), p["x"], p["x"].size
    pos = np.where(x > 0)[0]
    off = [rng.uniform(0.1, 1.5, d) * rng.choice([-1, 1], d) for _ in range(3)]
    on = []
    for _ in range(3):
        beta = np.zeros(d)
        beta[pos] = rng.dirichlet(np.ones(pos.size)) * p["y"] / x[pos]
        on.append(beta)
    return [{**_hessian_errors(p, off + [np.sqrt(b) * rng.choice([-1, 1], d) for b in on], on),
             "source": "random w and random points of M"}]


def _linprog(x, y, kappa, r1, r2) -> dict:
    """R1 and R2 against linear programs over M = {β ≥ 0 : <x, β> = y}: relative gaps of the optimal values
    and (when unique) of the minimizers, or the solver's message."""
    errs, points = [], []
    for cost, closed in ((np.ones_like(x), r1), (4 * kappa * x**2, r2)):
        lp = linprog(cost, A_eq=x[None, :], b_eq=[y], bounds=(0, None), method="highs")
        if lp.status != 0:
            return {"status": lp.message}
        errs.append(abs(lp.fun - cost @ closed) / abs(cost @ closed))
        # vertices of M are (y/x_i) e_i (x_i > 0) with cost c_i y/x_i; the minimizer is unique unless two
        # vertices tie or a free direction costs nothing (x_i = 0 with zero cost)
        per_vertex = cost[x > 0] / x[x > 0]
        unique = np.sum(np.isclose(per_vertex, per_vertex.min(), rtol=1e-12)) == 1 and np.all(cost[x == 0] > 0)
        points.append(_rel(lp.x, closed) if unique else 0.0)
    return {"status": "ok", "value_gaps": errs, "point_gaps": points,
            "predicted": [float(np.sum(r1)), td.sharpness_on_zero_loss_set(r2, x, kappa)]}


def _gf_ode(p, t) -> list[dict]:
    """R3 against an ODE solve of gradient flow."""
    gf = nd.gradient_flow("shared", p["x"], p["y"], [p["alpha"]], loss_scale=p["ls"], tol=1e-14)
    beta_gf = td.gradient_flow_limit(p["x"], p["y"], p["alpha"])
    return [{"sweep": "gf_ode", "beta_ode": gf.beta, "beta_gf": beta_gf, "converged": bool(gf.converged),
             "t": gf.t, "error": _rel(gf.beta, beta_gf)}]


def _gf_slope(p, t) -> list[dict]:
    """GD at six small η: the deviation ‖β^η − β^GF‖ for the slope fit of claim 3."""
    beta_gf = td.gradient_flow_limit(p["x"], p["y"], p["alpha"])
    eta_c = 2.0 / td.sharpness_on_zero_loss_set(beta_gf, p["x"], p["kappa"])
    runs = nd.gradient_descent("shared", p["x"], p["y"], [p["alpha"]], np.geomspace(2e-3, 6e-2, 6) * eta_c,
                               loss_scale=p["ls"], max_iter=max(p["max_iter"], 20000), record=False)
    return [{"sweep": "gf_slope", "eta": r.eta, "outcome": r.outcome, "beta": r.beta, "eta_c": eta_c,
             "deviation_from_gf": float(np.linalg.norm(r.beta - beta_gf)),
             "scale_gf": float(np.linalg.norm(beta_gf))} for r in runs]


def _even_uv(p, t) -> list[dict]:
    """Even et al.: u ⊙ v, several samples, macroscopic steps; effective initialization vs simulation."""
    rng, ls = t.rng(), p["ls"]
    n, d = p["uv_samples"], p["uv_dim"]
    X = rng.standard_normal((n, d))
    beta_true = np.zeros(d)
    beta_true[:min(2, d)] = rng.standard_normal(min(2, d))
    y = X @ beta_true
    a = 0.1
    u0, v0 = np.full(d, math.sqrt(2) * a), np.zeros(d)
    lp, lm = np.log(((u0 + v0) / 2) ** 2), np.log(((u0 - v0) / 2) ** 2)  # β_± = ((u ± v)/2)²
    gf = nd.gradient_flow("uv", X, y, [u0, v0], loss_scale=ls)
    lam = td.top_eigenvalue(nd.hessian_autograd("uv", gf.params, X, y, ls))
    kappa = td.loss_factor(ls, n)
    beta_gf = td.bregman_projection(lp, lm, X, y)[0]
    errs, gaps = [], []
    for r in nd.gradient_descent("uv", X, y, [u0, v0], np.array([0.5, 0.9]) * 2.0 / lam, loss_scale=ls,
                                 max_iter=p["max_iter"]):
        if r.converged:
            ap, am = td.even_effective_init(lp, lm, kappa * (r.residuals[:-1] @ X), r.eta)
            errs.append(_rel(td.bregman_projection(ap, am, X, y)[0], r.beta))
            gaps.append(_rel(beta_gf, r.beta))
    return [{"sweep": "even_uv", "n": n, "d": d, "alpha": a, "errors": errs, "gf_gaps": gaps}]


def _grid(p, t) -> list[dict]:
    """GD at the chunk's learning rates; the Hessian formula at the GD limit of the chunk's middle converged run."""
    x, y, alpha, kappa = p["x"], p["y"], p["alpha"], p["kappa"]
    beta_gf = td.gradient_flow_limit(x, y, alpha)
    eta_c = 2.0 / td.sharpness_on_zero_loss_set(beta_gf, x, kappa)
    runs = nd.gradient_descent("shared", x, y, [alpha], p["etas"], loss_scale=p["ls"], max_iter=p["max_iter"])
    rows = [_grid_point(r, x, y, alpha, p["bstar"], kappa, beta_gf, eta_c) for r in runs]
    limits = [r.beta for r in runs if r.converged]
    if limits:
        b = limits[len(limits) // 2]
        signs = t.rng().choice([-1, 1], x.size)
        rows.append({**_hessian_errors(p, [np.sqrt(b) * signs], [b]), "source": "GD limit", "beta": b})
    return rows


def _grid_point(run, x, y, alpha, bstar, kappa, beta_gf, eta_c) -> dict:
    conv = run.converged
    beta = run.beta if conv else None
    point = {
        "sweep": "grid", "eta": run.eta, "outcome": run.outcome, "iterations": run.iterations,
        "period": run.period, "beta_last": np.where(np.isfinite(run.beta), run.beta, np.nan),
        "beta": beta, "sharpness": None, "eta_sharpness_half": None, "norm_beta_l1": None,
        "norm_w_l1": None, "gen_error": None, "beta_gd_identity": None, "identity_error": None,
        "beta_gf": beta_gf, "eta_c": eta_c,
        "beta_eos_2d": td.eos_prediction_2d(x, y, run.eta, kappa) if run.eta > eta_c else None,
    }
    if conv:
        s = td.sharpness_on_zero_loss_set(beta, x, kappa)
        pred, _, _ = td.gd_limit_from_trajectory(x, y, alpha, run.eta, run.residuals[:-1, 0], kappa)
        point.update(sharpness=s, eta_sharpness_half=run.eta * s / 2, norm_beta_l1=float(np.sum(beta)),
                     norm_w_l1=float(np.sum(np.sqrt(beta))), gen_error=float(td.generalization_error(beta, bstar)),
                     beta_gd_identity=pred, identity_error=float(np.max(np.abs(pred - beta)) / np.max(np.abs(beta))))
    return point


def _transition(p, t) -> list[dict]:
    """GD on a fine grid around η_c of one α of ``transition_alphas`` (claim 5)."""
    a, x, y, kappa = p["transition_alpha"], p["x"], p["y"], p["kappa"]
    al = np.full(x.size, a)
    ec = td.critical_lr(x, y, al, kappa)
    etas = ec * np.arange(0.8, 1.2 + p["grid_step"] / 2, p["grid_step"])
    runs = nd.gradient_descent("shared", x, y, [al], etas, loss_scale=p["ls"], max_iter=p["max_iter"], record=False)
    return [{"sweep": "transition", "index": p["transition_index"], "alpha": a, "eta": r.eta, "outcome": r.outcome,
             "eta_c": ec,
             "sharpness": td.sharpness_on_zero_loss_set(r.beta, x, kappa) if r.converged else None,
             "beta": r.beta if r.converged else None} for r in runs]


_PARTS = {"theory": _theory, "hessian": _hessian_random, "gf_ode": _gf_ode, "gf_slope": _gf_slope,
          "even_uv": _even_uv, "grid": _grid, "transition": _transition}


# ----------------------------------------------------------------------------------------------------
# Judge: the claims from the rows alone
# ----------------------------------------------------------------------------------------------------
def _sweep(rows, name):
    return [r for r in rows if r["sweep"] == name]


def judge(rows: list[dict], params: dict) -> list[Claim]:
    theory = _sweep(rows, "theory")[0]
    grid = sorted(_sweep(rows, "grid"), key=lambda q: q["eta"])
    eta_c, eta_max = theory["eta_c"], theory["eta_max"]
    eos = [q for q in grid if q["outcome"] == "converged" and 1.05 * eta_c < q["eta"] < eta_max]
    return [_claim_hessian(_sweep(rows, "hessian")), _claim_linprog(theory), _claim_ode(_sweep(rows, "gf_ode")[0]),
            _claim_slope(_sweep(rows, "gf_slope")), _claim_identity(grid), _claim_even(_sweep(rows, "even_uv")[0]),
            _claim_transition(params, theory, grid, _sweep(rows, "transition")), _claim_eos(grid, eos),
            _claim_tradeoff(eos), _claim_u_curve(grid, theory), _claim_classification(grid, eta_max),
            _claim_hypothesis(theory), _claim_neither(grid, theory)]


def _deterministic(ok: bool, decidable: bool = True) -> str:
    """Verdict of a rule on deterministic runs: inconclusive when it cannot be decided, else pass/fail."""
    return "inconclusive" if not decidable else ("pass" if ok else "fail")


def _claim_hessian(rows) -> Claim:
    errs = [max(r[k] for r in rows) for k in ("err_autograd", "err_fd", "err_trace")]
    tols = [HESSIAN_AUTOGRAD_TOL, HESSIAN_FD_TOL, TRACE_TOL]
    n = sum(r["n_points"] for r in rows)
    limits = sum(r["n_points"] for r in rows if r["source"] == "GD limit")
    ok = all(e <= tol for e, tol in zip(errs, tols))
    return Claim("hessian", tols, errs, None,
                 f"max relative error of the Hessian formula vs autograd <= {HESSIAN_AUTOGRAD_TOL:g} and vs "
                 f"central differences of the gradient <= {HESSIAN_FD_TOL:g} over {n} points (random w, random "
                 f"points of M, {limits} GD limits); |λ_max − 4κΣx²β|/S <= {TRACE_TOL:g} on M (larger: fail)",
                 _deterministic(ok),
                 test=f"autograd {errs[0]:.2g} <= {tols[0]:g}, FD {errs[1]:.2g} <= {tols[1]:g}, "
                      f"λ_max {errs[2]:.2g} <= {tols[2]:g}")


def _claim_linprog(theory) -> Claim:
    lp = theory["linprog"]
    name = "min_norm_min_sharpness"
    if lp["status"] != "ok":
        return Claim(name, "R1, R2 = linprog", lp["status"], None, "linprog failed: nothing to compare",
                     "inconclusive", test="linprog failed")
    value, point = max(lp["value_gaps"]), max(lp["point_gaps"])
    return Claim(name, lp["predicted"], lp["value_gaps"] + lp["point_gaps"], None,
                 f"relative gap of the optimal values of min ‖β‖_1 and min S over M (linprog, HiGHS) to R1, R2 "
                 f"<= {LP_VALUE_TOL:g}; minimizers (when unique) within {LP_POINT_TOL:g} (larger: fail)",
                 _deterministic(value <= LP_VALUE_TOL and point <= LP_POINT_TOL),
                 test=f"value gap {value:.2g} <= {LP_VALUE_TOL:g}, minimizer gap {point:.2g} <= {LP_POINT_TOL:g}")


def _claim_ode(row) -> Claim:
    return Claim("gf_limit_ode", row["beta_gf"], row["beta_ode"], None,
                 f"max_i |β_ODE − β_R3| / max β <= {ODE_RTOL:g} (DOP853, rtol 1e-13, run until |r| < 1e-14 y; "
                 f"t = {row['t']:.3g}); larger: fail; the solve not reaching zero loss: inconclusive",
                 _deterministic(row["error"] <= ODE_RTOL, row["converged"]),
                 test=f"relative error {row['error']:.2g} <= {ODE_RTOL:g}")


def _claim_slope(rows) -> Claim:
    dev = np.array([r["deviation_from_gf"] for r in rows])
    floor = GF_DEVIATION_FLOOR * rows[0]["scale_gf"]
    if not all(r["outcome"] == "converged" for r in rows) or np.min(dev) <= floor:
        return Claim("gd_to_gf_slope", list(SLOPE_BAND), float(np.max(dev)), None,
                     f"all six small-η runs must converge and differ measurably (> {GF_DEVIATION_FLOOR:g} ‖β^GF‖, "
                     f"1000 x the accuracy of a GD limit) from β^GF (for isotropic x the GD limit is β^GF for "
                     f"every η: nothing to fit)", "inconclusive",
                     test=f"min deviation {np.min(dev):.2g} vs {GF_DEVIATION_FLOOR:g} ‖β^GF‖ = {floor:.2g}")
    return slope_within("gd_to_gf_slope", fit_loglog_slope([r["eta"] for r in rows], dev), *SLOPE_BAND,
                        what="‖β^η − β^GF‖_2 vs η for η in [0.002, 0.06] η_c, 99.9% OLS interval")


def _claim_identity(grid) -> Claim:
    errs = [p["identity_error"] for p in grid if p["outcome"] == "converged"]
    if not errs:
        return Claim("gd_limit_identity", IDENTITY_TOL, None, None, "no converged run", "inconclusive",
                     test="no converged run")
    worst = max(errs)
    return Claim("gd_limit_identity", IDENTITY_TOL, worst, None,
                 f"R4: max over {len(errs)} converged runs of max_i |β^η − KL-proj(α̃²)| / max β^η <= "
                 f"{IDENTITY_TOL:g}, α̃² from the run's residuals (log space); larger: fail",
                 _deterministic(worst <= IDENTITY_TOL), test=f"max relative error {worst:.2g} <= {IDENTITY_TOL:g}")


def _claim_even(row) -> Claim:
    errs, gaps = row["errors"], row["gf_gaps"]
    rule = (f"u⊙v, n = {row['n']}, d = {row['d']}, α = {row['alpha']}, steps γ = (0.5, 0.9)·2/λ_max(GF limit): "
            f"max relative error of the Bregman projection of the effective initialization <= {IDENTITY_TOL:g} "
            f"(larger: fail); the GF prediction (plain α) must be off by > {EFFECT_MIN:g}, else the test cannot "
            f"tell the two apart (inconclusive)")
    if not errs:
        return Claim("even_uv_effective_init", IDENTITY_TOL, None, None, rule + "; no converged run", "inconclusive",
                     test="no converged run")
    verdict = "fail" if max(errs) > IDENTITY_TOL else ("pass" if min(gaps) > EFFECT_MIN else "inconclusive")
    return Claim("even_uv_effective_init", IDENTITY_TOL, [max(errs), min(gaps)], None, rule, verdict,
                 test=f"error {max(errs):.2g} <= {IDENTITY_TOL:g}; GF gap {min(gaps):.2g} > {EFFECT_MIN:g}")


def _first_drop(points, s_gf):
    for p in sorted(points, key=lambda q: q["eta"]):
        if p["outcome"] == "converged" and p["sharpness"] < TRANSITION_DROP * s_gf:
            return p["eta"]
    return None


def _claim_transition(params, theory, grid, rows) -> Claim:
    """Check 5 for the main α (on the main grid) and for each α of ``transition_alphas`` (own fine grid)."""
    cases = [("main", theory["eta_c"], grid)]
    for j, a in enumerate(params["transition_alphas"]):
        pts = [r for r in rows if r["index"] == j]
        cases.append((a, pts[0]["eta_c"], pts))
    ratios, verdicts = [], []
    for _, ec, pts in cases:
        first = _first_drop(pts, 2.0 / ec)
        if first is None or not any(ec <= p["eta"] <= (1 + TRANSITION_WINDOW) * ec for p in pts):
            ratios.append(None)
            verdicts.append("inconclusive")
        else:
            ratios.append(first / ec)
            verdicts.append(interval_verdict([first / ec] * 2, 1 - TRANSITION_WINDOW, 1 + TRANSITION_WINDOW))
    verdict = "fail" if "fail" in verdicts else ("inconclusive" if "inconclusive" in verdicts else "pass")
    labels = ["main" if lab == "main" else f"α={lab:g}" for lab, _, _ in cases]
    shown = ", ".join("n/a" if r is None else f"{r:.3f}" for r in ratios)
    return Claim("transition_at_eta_c", 1.0, ratios, [1 - TRANSITION_WINDOW, 1 + TRANSITION_WINDOW],
                 f"(first grid η with S(β^η) < {TRANSITION_DROP} S(β^GF)) / η_c within ±{TRANSITION_WINDOW:.0%} "
                 f"for {', '.join(labels)} (outside: fail); inconclusive if no grid η in [η_c, 1.05 η_c] or no drop",
                 verdict, test=f"ratios [{shown}] within [{1 - TRANSITION_WINDOW:g}, {1 + TRANSITION_WINDOW:g}]")


def _claim_eos(grid, eos) -> Claim:
    conv = [p for p in grid if p["outcome"] == "converged"]
    worst = max((p["eta_sharpness_half"] for p in conv), default=None)
    band = [EOS_BAND[0] <= p["eta_sharpness_half"] <= EOS_BAND[1] for p in eos]
    frac = float(np.mean(band)) if band else None
    rule = (f"ηS/2 <= 1 + {EOS_HARD:g} on every converged run (hard; violated: fail); on the {len(eos)} converged "
            f"runs with η in (1.05 η_c, η_max) a fraction >= {EOS_FRACTION} has ηS/2 in {list(EOS_BAND)} "
            f"(smaller: fail; inconclusive with < 3 runs)")
    if worst is not None and worst > 1 + EOS_HARD:
        verdict = "fail"
    elif len(eos) < 3:
        verdict = "inconclusive"
    else:
        verdict = _deterministic(frac >= EOS_FRACTION)
    test = (f"max ηS/2 = {'n/a' if worst is None else f'{worst:.6g}'} <= 1 + {EOS_HARD:g}; fraction in band "
            f"{'n/a' if frac is None else f'{frac:.3g}'} >= {EOS_FRACTION} over {len(eos)} runs")
    return Claim("edge_of_stability", [1.0, EOS_FRACTION], [worst, frac], list(EOS_BAND), rule, verdict, test=test)


def _claim_tradeoff(eos) -> Claim:
    rule = (f"over the converged runs with η in (1.05 η_c, η_max): Spearman ρ(η, ‖β‖_1) >= {RANK_MIN} and "
            f"ρ(η, S) <= −{RANK_MIN} (else fail; < 3 runs: inconclusive); measured [ρ_‖β‖1, ρ_S, ρ_‖w‖1 "
            f"(reported only)]")
    if len(eos) < 3:
        return Claim("norm_sharpness_tradeoff", [RANK_MIN, -RANK_MIN], None, None, rule, "inconclusive",
                     test=f"{len(eos)} runs < 3")
    eta = [p["eta"] for p in eos]
    rho = [float(spearmanr(eta, [p[k] for p in eos])[0]) for k in ("norm_beta_l1", "sharpness", "norm_w_l1")]
    return Claim("norm_sharpness_tradeoff", [RANK_MIN, -RANK_MIN], rho, None, rule,
                 _deterministic(rho[0] >= RANK_MIN and rho[1] <= -RANK_MIN),
                 test=f"ρ(η, ‖β‖_1) = {rho[0]:.3g} >= {RANK_MIN}, ρ(η, S) = {rho[1]:.3g} <= −{RANK_MIN}")


def _converged_errors(grid):
    conv = [p for p in grid if p["outcome"] == "converged"]
    return conv, np.array([p["gen_error"] for p in conv])


def _coverage(grid, eta_c) -> str:
    """Why the sweep does not reach both ends of GD's stable range ('' if it does): its smallest converged η
    must be <= ``NORM_END`` η_c (near gradient flow, the norm end) and some η above its largest converged
    one must not converge (the end of the stable range, the sharpness end)."""
    conv = [p["eta"] for p in grid if p["outcome"] == "converged"]
    if len(conv) < 3:
        return f"{len(conv)} converged runs < 3"
    if min(conv) > NORM_END * eta_c:
        return f"smallest converged η = {min(conv) / eta_c:.3g} η_c > {NORM_END:g} η_c (norm end not reached)"
    if not any(p["eta"] > max(conv) for p in grid):
        return "no η above the largest converged one (sharpness end not reached)"
    return ""


def _claim_u_curve(grid, theory) -> Claim:
    """Check 8. The location 2/S(β*) is derived from the 2-D EoS prediction (M ∩ {S = 2/η} is one point,
    β* itself at η = 2/S(β*)); in other dimensions it is recorded but not ruled on."""
    conv, err = _converged_errors(grid)
    target, two_d = theory["eta_best_predicted"], theory["two_d_prediction"]
    where = (f"the argmin η within ±{U_WINDOW:.0%} of 2/S(β*)" if two_d else
             "the argmin η vs 2/S(β*) reported only (the location is a 2-D prediction; d != 2 here)")
    rule = (f"E at the smallest and at the largest converged η each >= {U_MARGIN} E_min + 1e-12, and {where} "
            f"(else fail; inconclusive if the sweep does not reach both ends of the stable range); measured "
            f"[E_small, E_large, E_min, η_argmin]")
    short = _coverage(grid, theory["eta_c"])
    if short:
        return Claim("generalization_u_curve", target, None, None, rule, "inconclusive", test=short)
    i = int(np.argmin(err))
    e_min, where_ratio = float(err[i]), conv[i]["eta"] / target
    ok = (err[0] >= U_MARGIN * e_min + 1e-12 and err[-1] >= U_MARGIN * e_min + 1e-12
          and (abs(where_ratio - 1) <= U_WINDOW or not two_d))
    return Claim("generalization_u_curve", target, [float(err[0]), float(err[-1]), e_min, conv[i]["eta"]],
                 [(1 - U_WINDOW) * target, (1 + U_WINDOW) * target] if two_d else None, rule, _deterministic(ok),
                 test=f"E ends / E_min = {err[0] / e_min:.3g}, {err[-1] / e_min:.3g} >= {U_MARGIN}; argmin η / "
                      f"(2/S(β*)) = {where_ratio:.3g}" + (f" within 1 ± {U_WINDOW:g}" if two_d else " (reported)"))


def _claim_classification(grid, eta_max) -> Claim:
    counts = {o: sum(p["outcome"] == o for p in grid) for o in nd.OUTCOMES}
    beyond = sum(p["outcome"] == "converged" and p["eta"] > eta_max for p in grid)
    catapult = sum(p["outcome"] == "diverged" and p["eta"] < eta_max for p in grid)
    measured = {**counts, "converged_above_eta_max": beyond, "diverged_below_eta_max": catapult}
    rule = ("every run ends converged (|r| < 1e-12 y), 2-cycle/oscillating or diverged within max_iter "
            "(unresolved runs: inconclusive); a run converging above η_max = 2/S_min fails; divergences below "
            "η_max (catapults) are reported, not hidden")
    verdict = "fail" if beyond else ("inconclusive" if counts["unresolved"] else "pass")
    return Claim("run_classification", {"unresolved": 0, "converged_above_eta_max": 0}, measured, None, rule, verdict,
                 test=f"{beyond} converged above η_max, {counts['unresolved']} unresolved (0 allowed each); "
                      f"{catapult} catapult(s)")


def _claim_hypothesis(theory) -> Claim:
    s = [theory["sharpness_min"], theory["sharpness_beta_star"], theory["sharpness_gf"]]
    ok = (not theory["biases_coincide"]) and s[0] < s[1] < s[2]
    return Claim("conflict_hypothesis", "S_min < S(β*) < S(β^GF), R1 ≠ R2", s, None,
                 "the min-norm and min-sharpness interpolators differ (anisotropic x) and "
                 "S_min < S(β*) < S(β^GF) (else fail); measured [S_min, S(β*), S(β^GF)]", _deterministic(ok),
                 test=f"R1 {'=' if theory['biases_coincide'] else '≠'} R2; {s[0]:.4g} < {s[1]:.4g} < {s[2]:.4g}")


def _claim_neither(grid, theory) -> Claim:
    conv, err = _converged_errors(grid)
    rule = (f"{U_MARGIN} min_η E(β^η) + 1e-12 <= min(E(min-norm interpolator), E(min-sharpness interpolator), "
            f"E at the smallest η (norm end), E at the largest converged η (sharpness end)) (else fail; "
            f"inconclusive if the sweep does not reach both ends of the stable range); measured "
            f"[E_min, E_R1, E_R2, E_small, E_large]")
    short = _coverage(grid, theory["eta_c"])
    if short:
        return Claim("neither_bias_minimizes", "interior minimum", None, None, rule, "inconclusive", test=short)
    ends = [theory["gen_error_min_norm"], theory["gen_error_min_sharpness"], float(err[0]), float(err[-1])]
    e_min = float(np.min(err))
    return Claim("neither_bias_minimizes", "interior minimum", [e_min] + ends, None, rule,
                 _deterministic(U_MARGIN * e_min + 1e-12 <= min(ends)),
                 test=f"{U_MARGIN} E_min + 1e-12 = {U_MARGIN * e_min + 1e-12:.3g} <= min of the ends {min(ends):.3g}")


# ----------------------------------------------------------------------------------------------------
# Figure
# ----------------------------------------------------------------------------------------------------
_MARK = {"2-cycle": ("s", "tab:orange"), "oscillating": ("D", "tab:purple"), "diverged": ("x", "tab:red"),
         "unresolved": ("?", "gray")}


def plot(record: dict, stem):
    pts = record["points"]
    th = next(p for p in pts if p["sweep"] == "theory")
    grid = sorted((p for p in pts if p["sweep"] == "grid"), key=lambda p: p["eta"])
    conv = [p for p in grid if p["outcome"] == "converged"]
    eta = np.array([p["eta"] for p in conv])
    ec, em, eb = th["eta_c"], th["eta_max"], th["eta_best_predicted"]
    fig, (ax_s, ax_n, ax_e) = new_figure(3, width_per_panel=4.4, height=3.7)
    all_eta = np.array([p["eta"] for p in grid])
    lo, hi = 0.0, 1.08 * max(all_eta.max(), em)

    ax_s.plot(eta, [p["sharpness"] for p in conv], "o", ms=3, color="tab:blue", label=r"$S(\beta^\eta)$ (converged)")
    e_line = np.linspace(max(0.5 * ec, 1e-9), hi, 300)
    ax_s.plot(e_line, 2 / e_line, "k--", lw=1, label=r"$2/\eta$")
    ax_s.axhline(th["sharpness_gf"], color="tab:green", lw=0.8, ls=":", label=r"$S(\beta^{GF})$")
    ax_s.axhline(th["sharpness_min"], color="tab:red", lw=0.8, ls=":", label=r"$S_{\min}$")
    top = 1.25 * th["sharpness_gf"]
    for outcome, (m, c) in _MARK.items():
        sel = [p["eta"] for p in grid if p["outcome"] == outcome]
        if sel:
            ax_s.plot(sel, np.full(len(sel), 1.12 * th["sharpness_gf"]), m, color=c, ms=4, ls="none",
                      label=f"{outcome} (no limit)")
    ax_s.set_ylim(0, top)
    ax_s.set_ylabel("sharpness $S = \\lambda_{\\max}(\\nabla^2 L)$")

    ax_n.plot(eta, [p["norm_beta_l1"] for p in conv], "o-", ms=3, lw=1, label=r"$\|\beta\|_1=\|w\|_2^2$")
    ax_n.plot(eta, [p["norm_w_l1"] for p in conv], "s-", ms=3, lw=1, label=r"$\|w\|_1$")
    ax_n.axhline(float(np.sum(th["beta_min_norm"])), color="gray", lw=0.8, ls=":", label=r"min $\|\beta\|_1$")
    ax_n.set_ylabel("norm of the GD limit")

    err = np.array([p["gen_error"] for p in conv])
    ax_e.semilogy(eta, np.maximum(err, 1e-16), "o-", ms=3, lw=1, color="tab:blue", label=r"$E(\beta^\eta)$ (GD)")
    ax_e.axhline(th["gen_error_min_norm"], color="tab:green", ls="--", lw=1.4, label="min-norm interpolator")
    ax_e.axhline(th["gen_error_min_sharpness"], color="tab:red", ls=":", lw=1.4, label="min-sharpness interpolator")
    pred = [(p["eta"], p["beta_eos_2d"]) for p in grid if p["beta_eos_2d"] is not None
            and all(v is not None and np.isfinite(v) for v in p["beta_eos_2d"])]
    if pred:  # the 2-D edge-of-stability prediction S = 2/η on M
        bstar = np.asarray(record["params"]["beta_star"], float)
        pe = np.array([e for e, _ in pred])
        pb = np.array([b for _, b in pred], float)
        ax_n.plot(pe, pb.sum(axis=1), "k--", lw=0.8, label=r"EoS prediction $\|\beta\|_1$")
        ax_e.semilogy(pe, np.maximum(((pb - bstar) ** 2).sum(axis=1), 1e-16), "k--", lw=0.8,
                      label="EoS prediction (2-D)")
    if conv:
        arrow = dict(arrowstyle="->", lw=0.6)
        ax_e.annotate("min-norm end\n(smallest $\\eta$)", (eta[0], err[0]), xytext=(0.08, 0.55),
                      textcoords="axes fraction", fontsize=7, arrowprops=arrow)
        ax_e.annotate("min-sharpness end\n(largest converged $\\eta$)", (eta[-1], err[-1]), xytext=(0.62, 0.55),
                      textcoords="axes fraction", fontsize=7, arrowprops=arrow)
    ax_e.axvline(eb, color="k", lw=0.8, ls="-.", label=r"$2/S(\beta^*)$")
    ax_e.set_ylabel(r"generalization error $\|\beta-\beta^*\|^2$")

    for ax in (ax_s, ax_n, ax_e):
        ax.axvline(ec, color="tab:gray", lw=0.8, label=r"$\eta_c$")
        ax.axvline(em, color="tab:red", lw=0.6, alpha=0.6, label=r"$\eta_{\max}=2/S_{\min}$")
        ax.set_xlim(lo, hi)
        ax.set_xlabel(r"learning rate $\eta$")
        ax.legend(fontsize=6.5, loc="best")
    ax_s.set_title("sharpness vs $\\eta$", fontsize=9)
    ax_n.set_title("norms vs $\\eta$", fontsize=9)
    ax_e.set_title(f"generalization (verdict: {record['verdict']})", fontsize=9)
    return save_figure(fig, stem)
