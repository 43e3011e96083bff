"""The claims of ``which_minimizer`` and how they are judged.

Deterministic claims (closed forms, identities) compare a relative distance with a tolerance: larger fails, a
run that did not converge (the theorem says nothing about it) is inconclusive. The AdaGrad learning-rate
slope and the linearization-gap exponent are fitted intervals (three-valued). See the package docstring."""
from __future__ import annotations

import math

import numpy as np

from theory import which_minimizer as theory
from verify import rules
from verify.report import Claim
from verify.which_minimizer.summaries import (FLOW_FLOOR, LEVEL, a2_summary, adagrad_summary, gap_summary, lr_fit,
                                              rows_of)
from verify.which_minimizer.sweep import CONVERGED_RTOL

CLOSED_FORM_RTOL = 1e-8  # A1 and C4: relative distance of a converged run to its closed form
ONE_POINT_RTOL = 1e-10  # A3 one point: the AdaGrad closed form, and AdaGrad = GD for equal |j_i|
LAW_RTOL = 1e-9  # A2: the A + Cα² fit, the kernel closed forms, the remedies
DIFFER_RTOL = 1e-6  # "different limits": at least this (and 100 × the convergence tail)
C_POSITIVE = 1e-6  # A2: per-pair C / A above this
LR_SLOPE_BAND = (0.4, 1.6)  # A3: first order in the learning rate (slope 1)
LR_CLAIM = "A3: AdaGrad limit -> AdaGrad-flow limit as lr -> 0"


def _at_most(name: str, measured: float, bound: float, rule: str, *, ok: bool = True) -> Claim:
    """Deterministic claim ``measured <= bound``; ``ok = False`` (a run did not converge) is inconclusive."""
    verdict = "inconclusive" if not ok or not np.isfinite(measured) else ("pass" if measured <= bound else "fail")
    return Claim(name=name, predicted=f"<= {bound:g}", measured=float(measured), ci=None,
                 rule=rule + ("" if ok else "; a run did not converge: inconclusive"), verdict=verdict,
                 test=f"{measured:.3g} <= {bound:g}" + ("" if ok else " (not all runs converged)"))


def _at_least(name: str, measured: float, bound: float, rule: str, *, ok: bool = True) -> Claim:
    verdict = "inconclusive" if not ok or not np.isfinite(measured) else ("pass" if measured > bound else "fail")
    return Claim(name=name, predicted=f"> {bound:g}", measured=float(measured), ci=None,
                 rule=rule + ("" if ok else "; a run did not converge: inconclusive"), verdict=verdict,
                 test=f"{measured:.3g} > {bound:.3g}" + ("" if ok else " (not all runs converged)"))


def judge(rows: list[dict], params: dict) -> list[Claim]:
    return _a1_claims(rows, params) + _a2_claims(rows, params) + _a3_claims(rows, params) + [gap_claim(rows, params)]


def _a1_claims(rows, params) -> list[Claim]:
    runs = [r for r in rows_of(rows, "limit_distance") if r["experiment"] == "A1"]
    err = {g: max(r["to_own_closed_form"] for r in runs if r["group"] == g) for g in ("GD", "SGD", "preconditioned")}
    ok = {g: all(r["converged"] for r in runs if r["group"] == g) for g in err}
    rule = (f"max over {params['problems']} random problems of ||theta_T - closed form|| / ||theta_GD - "
            f"theta0|| <= {CLOSED_FORM_RTOL:g} (larger: fail); runs stop at relative residual {CONVERGED_RTOL:g}")
    return [
        _at_most("A1: GD, heavy ball -> theta0 + J^T (J J^T)^-1 r0", err["GD"], CLOSED_FORM_RTOL, rule, ok=ok["GD"]),
        _at_most("A1: SGD schedules, step sizes, momentum -> same", err["SGD"], CLOSED_FORM_RTOL, rule, ok=ok["SGD"]),
        _at_most("A1: fixed preconditioner -> theta0 + P J^T (J P J^T)^-1 r0", err["preconditioned"],
                 CLOSED_FORM_RTOL, rule, ok=ok["preconditioned"]),
    ]


def _a2_claims(rows, params) -> list[Claim]:
    s = a2_summary(rows, params["alphas"])
    A, C, ok = s["A"], s["C"], s["converged"]
    coef_err = max(abs(A - s["A_theory"]) / s["A_theory"], abs(C - s["C_theory"]) / s["C_theory"])
    remedy_err = {key: float(np.max(np.abs(s["mean"][key] - A)) / A) for key in ("mse_doubled", "mse_centered")}
    B_mean, B_se = s["B_stats"]["symmetric"]
    rule = (f"relative error <= {LAW_RTOL:g} (larger: fail); GD run to relative residual {CONVERGED_RTOL:g}")
    return [
        _at_most("A2: E test MSE = A + C alpha^2 (antithetic pairs)", s["fit_residual"], LAW_RTOL,
                 f"max relative residual of the least-squares fit over {len(s['alphas'])} alphas, "
                 f"{params['pairs']} pairs; " + rule, ok=ok),
        _at_most("A2: fitted A, C = kernel closed forms", coef_err, LAW_RTOL,
                 "max(|A_fit - A|/A, |C_fit - C|/C), A and C the mean kernel-interpolation and init terms; "
                 + rule, ok=ok),
        _at_least("A2: C > 0 (init size deteriorates test MSE)", float(s["pair_C"].min() / A), C_POSITIVE,
                  f"smallest per-pair C / A over {len(s['pair_C'])} pairs > {C_POSITIVE:g}, else fail (mean C/A = "
                  f"{np.mean(s['pair_C']) / A:.3g}; per-pair C fitted from the GD test MSEs)"),
        _at_most("A2: antisymmetric doubling gives A at every alpha", remedy_err["mse_doubled"], LAW_RTOL,
                 "max over alphas of |MSE_doubled - A_fit| / A_fit; " + rule, ok=ok),
        _at_most("A2: centering g - g(theta0) gives A at every alpha", remedy_err["mse_centered"], LAW_RTOL,
                 "max over alphas of |MSE_centered - A_fit| / A_fit; " + rule, ok=ok),
        rules.agree("A2: no linear term B under the sign-symmetric law", B_mean, B_se, 0.0,
                    what=f"B = 2 mean(u v) per init, {len(s['B']['symmetric'])} independent inits"),
    ]


def _a3_claims(rows, params) -> list[Claim]:
    one = rows_of(rows, "adagrad_one_point")[0]
    problems = rows_of(rows, "adagrad_problem")
    ok_one, ok = one["converged"], all(r["converged"] for r in problems)
    tails = max(max(r["tails"]) for r in problems)
    differ = max(DIFFER_RTOL, 100 * tails)
    rule_differ = (f"min relative distance > {differ:.3g} = max({DIFFER_RTOL:g}, 100 x the largest convergence tail "
                   f"{tails:.2g}), else fail")

    def pooled(key):
        return [v for r in problems for v in r[key]]

    n = params["adagrad_rows"]
    equal, generic = max(one["equal_gap"]), min(one["generic_gap"])
    return [
        _at_most("A3: one point, AdaGrad -> theta0 + sign(j) r0/||j||_1", max(one["errors"]), ONE_POINT_RTOL,
                 f"max over 4 j and 2 learning rates of ||theta_T - closed form|| / ||theta_GD - theta0|| <= "
                 f"{ONE_POINT_RTOL:g} (larger: fail)", ok=ok_one),
        Claim(name="A3: one point, AdaGrad = GD iff all |j_i| equal",
              predicted=f"[<= {ONE_POINT_RTOL:g}, > {DIFFER_RTOL:g}]", measured=[equal, generic], ci=None,
              rule=f"distance to GD's limit: <= {ONE_POINT_RTOL:g} for equal |j_i|, > {DIFFER_RTOL:g} for 3 "
                   "Gaussian j (else fail; a run not converged: inconclusive)",
              verdict=("inconclusive" if not ok_one else
                       "pass" if equal <= ONE_POINT_RTOL and generic > DIFFER_RTOL else "fail"),
              test=f"equal |j|: {equal:.2g} <= {ONE_POINT_RTOL:g}; generic: {generic:.2g} > {DIFFER_RTOL:g}"),
        _at_least("A3: generic J, AdaGrad limit != GD limit", min(pooled("to_gd")), differ,
                  rule_differ + f"; {params['adagrad_problems']} problems x {len(params['adagrad_lrs'])} learning "
                  f"rates", ok=ok),
        _at_least("A3: AdaGrad limit depends on the learning rate", min(pooled("consecutive")), differ,
                  rule_differ + "; limits at consecutive learning rates", ok=ok),
        lr_slope_claim(*_lr_inputs(rows)),
        _at_least(f"C4: all {math.factorial(n)} batch orders give different AdaGrad limits",
                  min(pooled("order_gaps") + pooled("to_full")), differ,
                  rule_differ + "; pairwise over orders and against full-batch AdaGrad", ok=ok),
        _at_most("C4: SGD over the same orders -> GD limit", max(pooled("sgd_orders")), CLOSED_FORM_RTOL,
                 f"max relative distance to theta0 + J^T (J J^T)^-1 r0 <= {CLOSED_FORM_RTOL:g} (larger: fail)", ok=ok),
    ]


def _lr_inputs(rows):
    s = adagrad_summary(rows)
    return s["lrs"], s["to_flow"], s["converged"]


def lr_slope_claim(lrs: np.ndarray, to_flow: np.ndarray, converged: bool) -> Claim:
    """Slope of the geometric mean (over problems) distance to the flow limit, where it is above the floor."""
    keep = np.all(to_flow > FLOW_FLOOR, axis=0)
    name = LR_CLAIM
    fit = lr_fit(lrs, to_flow, converged)
    if fit is None:
        return Claim(name=name, predicted=list(LR_SLOPE_BAND), measured=None, ci=None,
                     rule=f"needs >= 3 learning rates with distance > {FLOW_FLOOR:g} and converged runs",
                     verdict="inconclusive",
                     test=f"{int(keep.sum())} learning rates above {FLOW_FLOOR:g} (3 needed)"
                          + ("" if converged else "; not all runs converged"))
    return rules.slope_within(name, fit, *LR_SLOPE_BAND,
                              what=f"geometric mean over {to_flow.shape[0]} problems of ||theta(lr) - theta_flow|| "
                                   f"/ ||theta_GD - theta0||, points with distance > {FLOW_FLOOR:g}; "
                                   f"{100 * LEVEL:g}% OLS interval")


def gap_claim(rows, params) -> Claim:
    fit = gap_summary(rows)["fit"]
    return rules.slope_negative("linearization gap -> 0 with width (exponent)", fit, level=LEVEL,
                                what=f"RMS test gap after {params['gap_steps']} GD steps, mean of "
                                     f"{params['gap_seeds']} inits per width, weighted fit; spec: exponent about "
                                     f"{theory.LINEARIZATION_GAP_EXPONENT:g}")
