"""The claims of ``norm_sharpness`` and their rules, judged from the rows alone (pure, re-runnable)."""
from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from numerics import diagonal_networks as nd
from verify.rules import fit_loglog_slope, interval_verdict, slope_within
from verify.verdicts import Claim, worst


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
    for j, a in enumerate(params["transition_scales"]):
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
    verdict = worst(verdicts)
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
