"""The points of ``norm_sharpness``: independent tasks, each a pure function of its parameters and seed.

The η grid runs in chunks of :data:`GRID_CHUNK` consecutive learning rates (GD is vectorized over η); the
closed forms, the random Hessian points, the gradient-flow solve, the small-η runs, the random u ⊙ v problem
and each transition init scale are tasks of their own, so they run in parallel on any executor.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linprog

from numerics import diagonal_networks as nd
from theory import diagonal_networks as td
from verify.engine import task
from verify.norm_sharpness.params import problem
from verify.report import jsonable as plain

GRID_CHUNK = 16  # consecutive learning rates per task: GD is vectorized over η, chunks run in parallel
SLOPE_ETAS = (2e-3, 6e-2, 6)  # the small-η runs of the GD → GF slope: six η geometric in [0.002, 0.06] η_c


def points(params: dict, seed: int, inputs: dict) -> list:
    etas = params["etas"]
    tasks = [task(part, {**params, "part": part}, seed, i)
             for i, part in enumerate(("theory", "hessian", "gf_ode", "gf_slope"))]
    # one task per random u ⊙ v problem, keyed by its index (not the total), so later rounds reuse earlier ones
    tasks += [task(f"even_uv/{k}", {**params, "part": "even_uv"}, seed, 4, k) for k in range(params["uv_problems"])]
    for j in range(0, len(etas), GRID_CHUNK):
        chunk = etas[j:j + GRID_CHUNK]
        c = j // GRID_CHUNK
        tasks.append(task(f"grid/{c}", {**params, "part": "grid", "etas": chunk}, seed, 5, c, weight=len(chunk)))
    for j, a in enumerate(params["transition_scales"]):
        tasks.append(task(f"transition/{j}", {**params, "part": "transition", "transition_scale": a,
                                               "transition_index": j}, seed, 6, j))
    return tasks


def grow(params: dict, round: int) -> dict:
    """Round ``round`` of a sequential run (``--until-decisive``): twice the random u ⊙ v problems per round.
    Everything else is deterministic and is reused from the checkpoint."""
    return {**params, "uv_problems": params["uv_problems"] * 2 ** (round - 1)}


GROWS = ("uv_problems",)


def compute(t) -> list[dict]:
    p = {**t.params, **problem(t.params)}
    return plain(_PARTS[t.params["part"]](p, t))


def _theory(p, t) -> list[dict]:
    x, y, kappa, bstar = p["x"], p["y"], p["kappa"], p["bstar"]
    beta_gf = td.gradient_flow_limit(x, y, p["init"])
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
        "eta_c_table": {str(a): td.critical_lr(x, y, a, kappa) for a in p["eta_c_scales"]},
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
        # rescaled onto M exactly: a GD limit has |r| up to 1e-12 y, whose 2κr·diag(x) term would move λ_max
        # by ~1e-12 S (Weyl), the size of the tolerance; on M the identity holds to float64 round-off
        b = np.asarray(b, float) * (y / float(x @ b))
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
    gf = nd.gradient_flow("shared", p["x"], p["y"], [p["init"]], loss_scale=p["ls"], tol=1e-14)
    beta_gf = td.gradient_flow_limit(p["x"], p["y"], p["init"])
    return [{"sweep": "gf_ode", "beta_ode": gf.beta, "beta_gf": beta_gf, "converged": bool(gf.converged),
             "t": gf.t, "error": _rel(gf.beta, beta_gf)}]


def _gf_slope(p, t) -> list[dict]:
    """GD at six small η: the deviation ‖β^η − β^GF‖ for the slope fit of claim 3."""
    beta_gf = td.gradient_flow_limit(p["x"], p["y"], p["init"])
    eta_c = 2.0 / td.sharpness_on_zero_loss_set(beta_gf, p["x"], p["kappa"])
    runs = nd.gradient_descent("shared", p["x"], p["y"], [p["init"]], np.geomspace(*SLOPE_ETAS) * eta_c,
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
    return [{"sweep": "even_uv", "n": n, "d": d, "alpha": a, "errors": errs, "gf_gaps": gaps, "problem": t.key}]


def _grid(p, t) -> list[dict]:
    """GD at the chunk's learning rates; the Hessian formula at the GD limit of the chunk's middle converged run."""
    x, y, alpha, kappa = p["x"], p["y"], p["init"], p["kappa"]
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
    """GD on a fine grid around η_c of one α of ``transition_scales`` (claim 5)."""
    a, x, y, kappa = p["transition_scale"], p["x"], p["y"], p["kappa"]
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
