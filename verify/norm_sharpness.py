"""``python -m verify norm_sharpness``: norm versus sharpness on a diagonal linear network (spec:
diagonal_networks.md, checks 1–9).

Paper's claim (Fojtik, Matveev, Chou, Kutyniok, Maly 2025, arXiv 2505.21423): for ``f_w(x) = <w ⊙ w, x>``
trained by GD on one data point, the learning rate η trades a low norm against low sharpness, and neither
the min-norm nor the min-sharpness interpolator minimizes the generalization error. This package's
formalization (see ``theory.diagonal_networks``): closed-form GF limit R3, exact GD limit R4, ``η_c = 2/S(β^GF)``,
the edge-of-stability regime ``S(β^η) ≈ 2/η`` and the best η ≈ 2/S(β*).

The check sweeps η (``etas``; by default a grid from 0.01 η_c past ``η_max = 2/S_min``), runs plain GD on w
from ``w_0 = α`` (float64), classifies every run (converged / 2-cycle / oscillating / diverged /
unresolved) and records, per η, the limit β^η, its sharpness S, ‖β‖_1 = ‖w‖_2², ‖w‖_1 = Σ√β_i, the error
``E = ‖β − β*‖²`` and the closed-form predictions. Only converged runs enter the limit checks. Claims and
their rules (each can fail; thresholds are fixed in advance, not tuned):

1. ``hessian``: the formula ``∇²L = κ[4(x⊙w)(x⊙w)ᵀ + 2r diag(x)]`` equals the autograd Hessian to 1e-12 and
   central differences of the gradient to 1e-6 (relative, max entry), at random w, on M and at GD limits;
   on M, ``λ_max = 4κΣx_i²β_i`` to 1e-12.
2. ``min_norm_min_sharpness``: R1 and R2 equal ``scipy.optimize.linprog``'s optimal values to 1e-9 and its
   minimizers to 1e-7 (minimizers compared only when unique).
3. ``gf_limit_ode``: R3 equals an ODE solve of gradient flow (DOP853, rtol 1e-13) to rtol 1e-10;
   ``gd_to_gf_slope``: ‖β^η − β^GF‖ ∝ η as η → 0, the fitted log-log slope over six small η in [0.9, 1.1].
4. ``gd_limit_identity``: R4 (the KL projection of the effective initialization built from the run's own
   residuals) equals the simulated limit to 1e-9 on every converged run; ``even_uv_effective_init``: the
   same for u ⊙ v with several samples (Even et al. 2023), where the GF prediction (plain α) must miss by
   more than 1e-6 so that the effective initialization is what is tested.
5. ``transition_at_eta_c``: for each α of ``transition_alphas`` (and the main α), the first grid η with
   S(β^η) < 0.98 S(β^GF) lies within 5% of η_c (inconclusive if the grid has no η in [η_c, 1.05 η_c] or
   no converged run drops below).
6. ``edge_of_stability``: every converged run satisfies ``ηS/2 ≤ 1 + 1e-9`` (hard: linear stability, the
   one-sample Nacson bound); on converged runs with η ∈ (1.05 η_c, η_max) at least 80% have
   ``ηS/2 ∈ [0.9, 1]`` (inconclusive with fewer than 3 such runs).
7. ``norm_sharpness_tradeoff``: over the same runs Spearman ρ(η, ‖β‖_1) ≥ 0.8 and ρ(η, S) ≤ −0.8;
   ρ(η, ‖w‖_1) is reported.
8. ``generalization_u_curve``: E at the smallest converged η and at the largest converged η each exceed
   the minimum over η by ≥ 10% (+1e-12), and the argmin is within 5% of 2/S(β*). The location rule applies
   where it is derived, the 2-D case x_1 ≠ x_2 > 0; in other dimensions the argmin is only reported.
9. ``run_classification``: every run ends converged (|r| < 1e-12 y), in a 2-cycle / oscillating, or
   diverged within ``max_iter`` (else inconclusive); none converges above η_max; divergences below η_max
   (catapults) are counted and reported.
10. ``conflict_hypothesis``: R1 ≠ R2 and ``S_min < S(β*) < S(β^GF)`` (the precondition of 8 and 11).
11. ``neither_bias_minimizes`` (the verdict): ``1.1 min_η E(β^η) + 1e-12 ≤`` the error of the min-norm
    interpolator, of the min-sharpness interpolator, of the smallest-η limit (≈ GF, the norm end) and of
    the largest converged η (the sharpness end).

Loss normalization ``loss_scale``: ``half`` (½r², the spec default) or ``full`` (r²); S is the top Hessian
eigenvalue of the loss used, so η thresholds scale by 1/c while ``2/η`` rules keep their form.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linprog
from scipy.stats import spearmanr

from numerics import diagonal_networks as nd
from theory import diagonal_networks as td
from verify.errors import UserInputError, require
from verify.figures import new_figure, save_figure
from verify.progress import log
from verify.report import Claim, Record
from verify.rules import fit_loglog_slope, slope_within

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

HESSIAN_AUTOGRAD_TOL, HESSIAN_FD_TOL, TRACE_TOL = 1e-12, 1e-6, 1e-12
LP_VALUE_TOL, LP_POINT_TOL = 1e-9, 1e-7
ODE_RTOL = 1e-10
SLOPE_BAND = (0.9, 1.1)
IDENTITY_TOL, EFFECT_MIN = 1e-9, 1e-6
TRANSITION_DROP, TRANSITION_WINDOW = 0.98, 0.05
EOS_BAND, EOS_FRACTION, EOS_HARD = (0.9, 1.0), 0.8, 1e-9
RANK_MIN = 0.8
U_MARGIN, U_WINDOW = 1.1, 0.05


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


# ----------------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------------
def run(params: dict, seed: int, *, problem=None, progress: bool = True) -> Record:
    if problem is not None:
        raise UserInputError("norm_sharpness takes no --problem (set x, y, alpha, beta_star with --set)")
    validate(params)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    x = np.asarray(params["x"], float)
    y = float(params["y"])
    d = x.size
    alpha = np.broadcast_to(np.asarray(params["alpha"], float), (d,)).copy()
    bstar = np.asarray(params["beta_star"], float)
    ls = params["loss_scale"]
    kappa = td.loss_factor(ls, 1)

    beta_gf = td.gradient_flow_limit(x, y, alpha)
    s_gf = td.sharpness_on_zero_loss_set(beta_gf, x, kappa)
    eta_c, eta_max = 2.0 / s_gf, td.divergence_lr(x, y, kappa)
    r1, r2 = td.min_norm_interpolator(x, y), td.min_sharpness_interpolator(x, y)
    theory = {
        "sweep": "theory", "beta_gf": beta_gf, "sharpness_gf": s_gf, "eta_c": eta_c, "eta_max": eta_max,
        "beta_min_norm": r1, "beta_min_sharpness": r2, "sharpness_min": td.min_sharpness(x, y, kappa),
        "sharpness_beta_star": td.sharpness_on_zero_loss_set(bstar, x, kappa),
        "eta_best_predicted": td.best_lr_prediction(bstar, x, kappa),
        "gen_error_min_norm": float(td.generalization_error(r1, bstar)),
        "gen_error_min_sharpness": float(td.generalization_error(r2, bstar)),
        "gen_error_gf": float(td.generalization_error(beta_gf, bstar)),
        "eta_c_table": {str(a): td.critical_lr(x, y, a, kappa) for a in params["eta_c_alphas"]},
        "loss": td.loss_statement(ls),
    }
    log(f"norm_sharpness: x = {x.tolist()}, y = {y:g}, {theory['loss']}; η_c = {eta_c:.6g}, "
        f"η_max = 2/S_min = {eta_max:.6g}, 2/S(β*) = {theory['eta_best_predicted']:.6g}", progress)

    etas = (np.unique(np.asarray(params["etas"], float)) if params["etas"] is not None
            else _auto_grid(eta_c, eta_max, params["grid_step"]))
    log(f"GD sweep over {etas.size} learning rates (max_iter = {params['max_iter']})", progress)
    runs = nd.gradient_descent("shared", x, y, [alpha], etas, loss_scale=ls, max_iter=params["max_iter"])
    grid = [_grid_point(r, x, y, alpha, bstar, kappa, beta_gf, eta_c) for r in runs]

    claims = [_claim_hessian(x, y, kappa, ls, runs, rng), _claim_linprog(x, y, kappa, r1, r2)]
    log("gradient flow: ODE solve and small-η GD", progress)
    ode_claim, slope_claim, slope_points = _claims_gradient_flow(x, y, alpha, ls, beta_gf, eta_c, params["max_iter"])
    claims += [ode_claim, slope_claim, _claim_identity(grid)]
    log("u ⊙ v with several samples (Even et al.)", progress)
    claims.append(_claim_even(params, ls, rng))
    log("transition sweeps", progress)
    transition_claim, transition_points = _claim_transition(x, y, alpha, params, ls, grid)
    claims.append(transition_claim)
    eos = [p for p in grid if p["outcome"] == "converged" and 1.05 * eta_c < p["eta"] < eta_max]
    claims += [_claim_eos(grid, eos), _claim_tradeoff(eos), _claim_u_curve(grid, theory, td.has_2d_prediction(x)),
               _claim_classification(grid, eta_max), _claim_hypothesis(x, theory),
               _claim_neither(grid, theory)]

    record = Record(check=NAME, claims=claims, params={**params, "etas": etas.tolist()}, seed=seed,
                    points=[theory] + grid + slope_points + transition_points)
    record.notes.append(f"loss normalization: {theory['loss']} (loss_scale = {ls}); thresholds scale as 1/c")
    record.notes.append("norms: norm_beta_l1 = ‖β‖_1 = ‖w‖_2², norm_w_l1 = ‖w‖_1 = Σ √β_i")
    record.notes.append("R3/R4 closed forms are this package's derivations (the paper gives no GD limit)")
    verdict = claims[-1].verdict
    record.notes.append("verdict: neither implicit bias alone minimizes the generalization error"
                        if verdict == "pass" else
                        "verdict: the claim that neither implicit bias alone minimizes the error is not supported here")
    print(format_table(grid, theory))
    print(record.notes[-1])
    return record


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


def format_table(grid, theory) -> str:
    head = (f"{'eta':>9} {'outcome':>11} {'S':>9} {'2/eta':>9} {'|b|_1':>8} {'|w|_1':>8} {'E':>10}  "
            f"beta (GD limit)  |  prediction")
    lines = [head, "-" * len(head)]
    for p in grid:
        pred = p["beta_gf"] if p["eta"] <= p["eta_c"] else p["beta_eos_2d"]
        ptxt = "" if pred is None or not np.all(np.isfinite(pred)) else _vec(pred)
        ptxt = ("GF " if p["eta"] <= p["eta_c"] else "EoS ") + ptxt if ptxt else ""
        if p["beta"] is None:
            lines.append(f"{p['eta']:9.5f} {p['outcome']:>11} {'':>9} {2 / p['eta']:9.4f}")
            continue
        lines.append(f"{p['eta']:9.5f} {p['outcome']:>11} {p['sharpness']:9.4f} {2 / p['eta']:9.4f} "
                     f"{p['norm_beta_l1']:8.4f} {p['norm_w_l1']:8.4f} {p['gen_error']:10.3e}  "
                     f"{_vec(p['beta'])}  |  {ptxt}")
    lines.append(f"η_c = {theory['eta_c']:.5f}, η_max = {theory['eta_max']:.5f}, "
                 f"2/S(β*) = {theory['eta_best_predicted']:.5f}, β^GF = {_vec(theory['beta_gf'])}, "
                 f"E(min-norm) = {theory['gen_error_min_norm']:.4g}, "
                 f"E(min-sharpness) = {theory['gen_error_min_sharpness']:.4g}")
    return "\n".join(lines)


def _vec(v) -> str:
    v = np.asarray(v, float)
    inner = ", ".join(f"{a:.4g}" for a in v[:4])
    return f"({inner}{', ...' if v.size > 4 else ''})"


# ----------------------------------------------------------------------------------------------------
# Claims 1–4: closed forms against independent oracles
# ----------------------------------------------------------------------------------------------------
def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _claim_hessian(x, y, kappa, ls, runs, rng) -> Claim:
    """Formula vs autograd and finite differences at random w, random points of M and GD limits."""
    d = x.size
    pos = np.where(x > 0)[0]
    off = [rng.uniform(0.1, 1.5, d) * rng.choice([-1, 1], d) for _ in range(3)]
    on = []
    for _ in range(3):
        lam = rng.dirichlet(np.ones(pos.size))
        beta = np.zeros(d)
        beta[pos] = lam * y / x[pos]
        on.append(beta)
    on += [r.beta for r in runs if r.converged][::max(1, len([r for r in runs if r.converged]) // 4)][:4]
    err_ad = err_fd = err_tr = 0.0
    for w in off + [np.sqrt(b) * rng.choice([-1, 1], d) for b in on]:
        H = td.hessian_shared(w, x, y, kappa)
        err_ad = max(err_ad, _rel(H, nd.hessian_autograd("shared", [w], x, y, ls)))
        err_fd = max(err_fd, _rel(H, nd.hessian_finite_difference("shared", [w], x, y, ls)))
    for b in on:
        H = td.hessian_shared(np.sqrt(b), x, y, kappa)
        s = td.sharpness_on_zero_loss_set(b, x, kappa)
        err_tr = max(err_tr, abs(td.top_eigenvalue(H) - s) / s)
    ok = err_ad <= HESSIAN_AUTOGRAD_TOL and err_fd <= HESSIAN_FD_TOL and err_tr <= TRACE_TOL
    return Claim("hessian", [HESSIAN_AUTOGRAD_TOL, HESSIAN_FD_TOL, TRACE_TOL], [err_ad, err_fd, err_tr], None,
                 f"max relative error of the Hessian formula vs autograd <= {HESSIAN_AUTOGRAD_TOL:g} and vs "
                 f"central differences of the gradient <= {HESSIAN_FD_TOL:g} over {len(off) + len(on)} points "
                 f"(random w, random points of M, GD limits); |λ_max − 4κΣx²β|/S <= {TRACE_TOL:g} on M",
                 "pass" if ok else "fail")


def _claim_linprog(x, y, kappa, r1, r2) -> Claim:
    """R1 and R2 against linear programs over M = {β ≥ 0 : <x, β> = y}."""
    errs, points = [], []
    for cost, closed in ((np.ones_like(x), r1), (4 * kappa * x**2, r2)):
        lp = linprog(cost, A_eq=x[None, :], b_eq=[y], bounds=(0, None), method="highs")
        if lp.status != 0:
            return Claim("min_norm_min_sharpness", "R1, R2 = linprog", lp.message, None, "linprog failed",
                         "inconclusive")
        errs.append(abs(lp.fun - cost @ closed) / abs(cost @ closed))
        # vertices of M are (y/x_i) e_i (x_i > 0) with cost c_i y/x_i; the minimizer is unique unless two
        # vertices tie or a free direction costs nothing (x_i = 0 with zero cost)
        per_vertex = cost[x > 0] / x[x > 0]
        unique = np.sum(np.isclose(per_vertex, per_vertex.min(), rtol=1e-12)) == 1 and np.all(cost[x == 0] > 0)
        points.append(_rel(lp.x, closed) if unique else 0.0)
    ok = max(errs) <= LP_VALUE_TOL and max(points) <= LP_POINT_TOL
    return Claim("min_norm_min_sharpness", [float(np.sum(r1)), td.sharpness_on_zero_loss_set(r2, x, kappa)],
                 errs + points, None,
                 f"relative gap of the optimal values of min ‖β‖_1 and min S over M (linprog, HiGHS) to R1, R2 "
                 f"<= {LP_VALUE_TOL:g}; minimizers (when unique) within {LP_POINT_TOL:g}",
                 "pass" if ok else "fail")


def _claims_gradient_flow(x, y, alpha, ls, beta_gf, eta_c, max_iter):
    """R3 vs an ODE solve, and GD → GF with slope 1 in η. Returns (ODE claim, slope claim, points)."""
    gf = nd.gradient_flow("shared", x, y, [alpha], loss_scale=ls, tol=1e-14)
    err = _rel(gf.beta, beta_gf)
    ode = Claim("gf_limit_ode", beta_gf, gf.beta, None,
                f"max_i |β_ODE − β_R3| / max β <= {ODE_RTOL:g} (DOP853, rtol 1e-13, run until |r| < 1e-14 y; "
                f"t = {gf.t:.3g})", "pass" if gf.converged and err <= ODE_RTOL else "fail")
    etas = np.geomspace(2e-3, 6e-2, 6) * eta_c
    runs = nd.gradient_descent("shared", x, y, [alpha], etas, loss_scale=ls, max_iter=max(max_iter, 20000),
                               record=False)
    dev = np.array([np.linalg.norm(r.beta - beta_gf) for r in runs])
    pts = [{"sweep": "gf_slope", "eta": r.eta, "outcome": r.outcome, "beta": r.beta, "deviation_from_gf": dv}
           for r, dv in zip(runs, dev)]
    if not all(r.converged for r in runs) or np.max(dev) <= 1e-12 * np.linalg.norm(beta_gf):
        slope = Claim("gd_to_gf_slope", list(SLOPE_BAND), float(np.max(dev)), None,
                      "all six small-η runs must converge and differ measurably (> 1e-12 ‖β^GF‖) from β^GF "
                      "(for isotropic x the GD limit is β^GF for every η: nothing to fit)", "inconclusive")
    else:
        slope = slope_within("gd_to_gf_slope", fit_loglog_slope(etas, dev), *SLOPE_BAND,
                             what="‖β^η − β^GF‖_2 vs η for η in [0.002, 0.06] η_c")
    return ode, slope, pts


def _claim_identity(grid) -> Claim:
    errs = [p["identity_error"] for p in grid if p["outcome"] == "converged"]
    if not errs:
        return Claim("gd_limit_identity", IDENTITY_TOL, None, None, "no converged run", "inconclusive")
    worst = max(errs)
    return Claim("gd_limit_identity", IDENTITY_TOL, worst, None,
                 f"R4: max over {len(errs)} converged runs of max_i |β^η − KL-proj(α̃²)| / max β^η <= "
                 f"{IDENTITY_TOL:g}, α̃² from the run's residuals (log space)",
                 "pass" if worst <= IDENTITY_TOL else "fail")


def _claim_even(params, ls, rng) -> Claim:
    """Even et al.: u ⊙ v, several samples, macroscopic steps; effective initialization vs simulation."""
    n, d = params["uv_samples"], params["uv_dim"]
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
    steps = np.array([0.5, 0.9]) * 2.0 / lam
    errs, gaps = [], []
    for r in nd.gradient_descent("uv", X, y, [u0, v0], steps, loss_scale=ls, max_iter=params["max_iter"]):
        if not r.converged:
            continue
        ap, am = td.even_effective_init(lp, lm, kappa * (r.residuals[:-1] @ X), r.eta)
        errs.append(_rel(td.bregman_projection(ap, am, X, y)[0], r.beta))
        gaps.append(_rel(beta_gf, r.beta))
    rule = (f"u⊙v, n = {n}, d = {d}, α = {a}, steps γ = (0.5, 0.9)·2/λ_max(GF limit): max relative error of "
            f"the Bregman projection of the effective initialization <= {IDENTITY_TOL:g}; the GF prediction "
            f"(plain α) must be off by > {EFFECT_MIN:g}")
    if not errs:
        return Claim("even_uv_effective_init", IDENTITY_TOL, None, None, rule + "; no converged run", "inconclusive")
    ok = max(errs) <= IDENTITY_TOL and min(gaps) > EFFECT_MIN
    return Claim("even_uv_effective_init", IDENTITY_TOL, [max(errs), min(gaps)], None, rule,
                 "pass" if ok else "fail")


# ----------------------------------------------------------------------------------------------------
# Claims 5–11: the η sweep
# ----------------------------------------------------------------------------------------------------
def _first_drop(points, s_gf):
    for p in sorted(points, key=lambda q: q["eta"]):
        if p["outcome"] == "converged" and p["sharpness"] < TRANSITION_DROP * s_gf:
            return p["eta"]
    return None


def _claim_transition(x, y, alpha, params, ls, grid):
    """Check 5 for the main α (on the main grid) and for each α of ``transition_alphas`` (own fine grid)."""
    kappa = td.loss_factor(ls, 1)
    cases = [("main", alpha, grid)]
    points = []
    for a in params["transition_alphas"]:
        al = np.full(x.size, a)
        ec = td.critical_lr(x, y, al, kappa)
        etas = ec * np.arange(0.8, 1.2 + params["grid_step"] / 2, params["grid_step"])
        runs = nd.gradient_descent("shared", x, y, [al], etas, loss_scale=ls, max_iter=params["max_iter"],
                                   record=False)
        pts = []
        for r in runs:
            s = td.sharpness_on_zero_loss_set(r.beta, x, kappa) if r.converged else None
            pts.append({"sweep": "transition", "alpha": a, "eta": r.eta, "outcome": r.outcome, "sharpness": s,
                        "beta": r.beta if r.converged else None, "eta_c": ec})
        points += pts
        cases.append((a, al, pts))
    ratios, verdicts = [], []
    for label, al, pts in cases:
        ec = td.critical_lr(x, y, al, kappa)
        first = _first_drop(pts, 2.0 / ec)
        resolved = any(ec <= p["eta"] <= (1 + TRANSITION_WINDOW) * ec for p in pts)
        if first is None or not resolved:
            ratios.append(None)
            verdicts.append("inconclusive")
        else:
            ratios.append(first / ec)
            verdicts.append("pass" if abs(first / ec - 1) <= TRANSITION_WINDOW else "fail")
    verdict = "fail" if "fail" in verdicts else ("inconclusive" if "inconclusive" in verdicts else "pass")
    labels = ["main" if lab == "main" else f"α={lab:g}" for lab, _, _ in cases]
    return Claim("transition_at_eta_c", 1.0, ratios, [1 - TRANSITION_WINDOW, 1 + TRANSITION_WINDOW],
                 f"(first grid η with S(β^η) < {TRANSITION_DROP} S(β^GF)) / η_c within ±{TRANSITION_WINDOW:.0%} "
                 f"for {', '.join(labels)}; inconclusive if no grid η in [η_c, 1.05 η_c] or no drop", verdict), points


def _claim_eos(grid, eos) -> Claim:
    conv = [p for p in grid if p["outcome"] == "converged"]
    worst = max((p["eta_sharpness_half"] for p in conv), default=None)
    hard_ok = worst is not None and worst <= 1 + EOS_HARD
    band = [EOS_BAND[0] <= p["eta_sharpness_half"] <= EOS_BAND[1] for p in eos]
    frac = float(np.mean(band)) if band else None
    rule = (f"ηS/2 <= 1 + {EOS_HARD:g} on every converged run (hard); on the {len(eos)} converged runs with "
            f"η in (1.05 η_c, η_max) a fraction >= {EOS_FRACTION} has ηS/2 in {list(EOS_BAND)} "
            f"(inconclusive with < 3 runs)")
    if worst is not None and not hard_ok:
        verdict = "fail"
    elif len(eos) < 3:
        verdict = "inconclusive"
    else:
        verdict = "pass" if frac >= EOS_FRACTION else "fail"
    return Claim("edge_of_stability", [1.0, EOS_FRACTION], [worst, frac], list(EOS_BAND), rule, verdict)


def _claim_tradeoff(eos) -> Claim:
    rule = (f"over the converged runs with η in (1.05 η_c, η_max): Spearman ρ(η, ‖β‖_1) >= {RANK_MIN} and "
            f"ρ(η, S) <= −{RANK_MIN}; measured [ρ_‖β‖1, ρ_S, ρ_‖w‖1 (reported only)]")
    if len(eos) < 3:
        return Claim("norm_sharpness_tradeoff", [RANK_MIN, -RANK_MIN], None, None, rule, "inconclusive")
    eta = [p["eta"] for p in eos]
    rho = [float(spearmanr(eta, [p[k] for p in eos])[0]) for k in ("norm_beta_l1", "sharpness", "norm_w_l1")]
    ok = rho[0] >= RANK_MIN and rho[1] <= -RANK_MIN
    return Claim("norm_sharpness_tradeoff", [RANK_MIN, -RANK_MIN], rho, None, rule, "pass" if ok else "fail")


def _converged_errors(grid):
    conv = sorted((p for p in grid if p["outcome"] == "converged"), key=lambda p: p["eta"])
    return conv, np.array([p["gen_error"] for p in conv])


def _claim_u_curve(grid, theory, two_d: bool) -> Claim:
    """Check 8. The location 2/S(β*) is derived from the 2-D EoS prediction (M ∩ {S = 2/η} is one point,
    β* itself at η = 2/S(β*)); in other dimensions it is recorded but not ruled on."""
    conv, err = _converged_errors(grid)
    target = theory["eta_best_predicted"]
    where = (f"the argmin η within ±{U_WINDOW:.0%} of 2/S(β*)" if two_d else
             "the argmin η vs 2/S(β*) reported only (the location is a 2-D prediction; d != 2 here)")
    rule = (f"E at the smallest and at the largest converged η each >= {U_MARGIN} E_min + 1e-12, and {where}; "
            f"measured [E_small, E_large, E_min, η_argmin]")
    if len(conv) < 3:
        return Claim("generalization_u_curve", target, None, None, rule, "inconclusive")
    i = int(np.argmin(err))
    e_min = float(err[i])
    ok = (err[0] >= U_MARGIN * e_min + 1e-12 and err[-1] >= U_MARGIN * e_min + 1e-12
          and (abs(conv[i]["eta"] / target - 1) <= U_WINDOW or not two_d))
    return Claim("generalization_u_curve", target, [float(err[0]), float(err[-1]), e_min, conv[i]["eta"]],
                 [(1 - U_WINDOW) * target, (1 + U_WINDOW) * target] if two_d else None, rule,
                 "pass" if ok else "fail")


def _claim_classification(grid, eta_max) -> Claim:
    counts = {o: sum(p["outcome"] == o for p in grid) for o in nd.OUTCOMES}
    beyond = sum(p["outcome"] == "converged" and p["eta"] > eta_max for p in grid)
    catapult = sum(p["outcome"] == "diverged" and p["eta"] < eta_max for p in grid)
    measured = {**counts, "converged_above_eta_max": beyond, "diverged_below_eta_max": catapult}
    rule = ("every run ends converged (|r| < 1e-12 y), 2-cycle/oscillating or diverged within max_iter "
            "(unresolved runs: inconclusive); no run converges above η_max = 2/S_min; divergences below "
            "η_max (catapults) are reported, not hidden")
    verdict = "fail" if beyond else ("inconclusive" if counts["unresolved"] else "pass")
    return Claim("run_classification", {"unresolved": 0, "converged_above_eta_max": 0}, measured, None, rule, verdict)


def _claim_hypothesis(x, theory) -> Claim:
    s = [theory["sharpness_min"], theory["sharpness_beta_star"], theory["sharpness_gf"]]
    ok = (not td.biases_coincide(x)) and s[0] < s[1] < s[2]
    return Claim("conflict_hypothesis", "S_min < S(β*) < S(β^GF), R1 ≠ R2", s, None,
                 "the min-norm and min-sharpness interpolators differ (anisotropic x) and "
                 "S_min < S(β*) < S(β^GF); measured [S_min, S(β*), S(β^GF)]", "pass" if ok else "fail")


def _claim_neither(grid, theory) -> Claim:
    conv, err = _converged_errors(grid)
    rule = (f"{U_MARGIN} min_η E(β^η) + 1e-12 <= min(E(min-norm interpolator), E(min-sharpness interpolator), "
            f"E at the smallest η (norm end), E at the largest converged η (sharpness end)); measured "
            f"[E_min, E_R1, E_R2, E_small, E_large]")
    if len(conv) < 3:
        return Claim("neither_bias_minimizes", "interior minimum", None, None, rule, "inconclusive")
    ends = [theory["gen_error_min_norm"], theory["gen_error_min_sharpness"], float(err[0]), float(err[-1])]
    e_min = float(np.min(err))
    ok = U_MARGIN * e_min + 1e-12 <= min(ends)
    return Claim("neither_bias_minimizes", "interior minimum", [e_min] + ends, None, rule, "pass" if ok else "fail")


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
