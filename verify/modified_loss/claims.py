"""The claims of ``modified_loss`` and how they are judged.

Each slope claim is an OLS fit of log error against log step size over the points above ``ERROR_FLOOR``;
at least ``MIN_POINTS`` must remain, else the claim is inconclusive. The interval of the slope (Student t)
must lie inside the band to pass; wholly outside, the claim fails; straddling, it is inconclusive. The errors
are deterministic, so the interval measures the departure of the window from a power law, not noise. Exact
identities: a relative defect at most ``IDENTITY_TOL`` (floating-point algebra), ``FLOW_DRIFT_TOL`` (the
conserved quantity of a DOP853 solution) or ``PARTITION_TOL``; larger fails, non-finite is inconclusive."""
from __future__ import annotations

import dataclasses

import numpy as np

from theory.modified_losses import RMSPROP_PASS_SLOPE
from verify.modified_loss.predictions import (AB_FLOW_CLAIM, AB_GD_CLAIM, ERROR_FLOOR, FLOW_DRIFT_TOL, FROZEN,
                                              IDENTITY_TOL, MIN_POINTS, PARTITION_CLAIM, PARTITION_TOL,
                                              PREDICTIONS, fitted_window)
from verify.report import Claim
from verify.rules import slope_within


def slope_claim(name: str, fit, band: tuple[float, float], what: str = "") -> Claim:
    if fit is None:
        return Claim(name=name, predicted=list(band), measured=None, ci=None,
                     rule=f"needs >= {MIN_POINTS} errors above {ERROR_FLOOR:g}", verdict="inconclusive",
                     test=f"fewer than {MIN_POINTS} errors above {ERROR_FLOOR:g}")
    return slope_within(name, fit, *band, what=what)


def exact_claim(name: str, defect: float, tol: float, rule: str) -> Claim:
    verdict = "inconclusive" if not np.isfinite(defect) else ("pass" if defect <= tol else "fail")
    return Claim(name=name, predicted=0.0, measured=float(defect), ci=[0.0, tol],
                 rule=rule + " (larger: fail; not finite: inconclusive)", verdict=verdict,
                 test=f"defect {defect:.3g} <= {tol:.3g}")


def judge(rows: list[dict], params: dict) -> list[Claim]:
    """One claim per claim name, in the order of the rows."""
    claims = []
    for name in dict.fromkeys(r["claim"] for r in rows if r.get("claim")):
        mine = [r for r in rows if r.get("claim") == name]
        if name == AB_GD_CLAIM:
            claims.append(exact_claim(name, max(r["max_step_defect"] for r in mine), IDENTITY_TOL,
                                      f"max over every GD step and h of |q_(n+1) − (1 − h² r_n² x²) q_n| / "
                                      f"(a_n² + b_n² + a_(n+1)² + b_(n+1)²) <= {IDENTITY_TOL:.2g} (64 ulp), "
                                      f"q = a² − b²"))
        elif name == AB_FLOW_CLAIM:
            claims.append(exact_claim(name, mine[0]["drift"], FLOW_DRIFT_TOL,
                                      f"|q(T) − q(0)| / (a0² + b0²) <= {FLOW_DRIFT_TOL:g} for the DOP853 solution "
                                      f"(rtol 1e-13) to T = {params['horizon']:g}"))
        elif name == PARTITION_CLAIM:
            gap = max(abs(r["enumerated"] - r["formula"]) / r["formula"] for r in mine)
            claims.append(exact_claim(
                name, gap, PARTITION_TOL,
                f"max over B | N, B < N (N = {mine[0]['n_examples']}) of the relative gap between the mean over all "
                f"partitions (enumerated) of (ε/4m)Σ‖∇Ĉ_k − ∇C‖² and ((N − B)/(N − 1))(ε/4B)Γ <= {PARTITION_TOL:g}"))
        else:
            claims.append(_slope_claim(name, mine))
    return claims


def _slope_claim(name: str, rows: list[dict]) -> Claim:
    _, band, _, what = PREDICTIONS[rows[0]["section"]][rows[0]["series"]]
    fit, _ = fitted_window([r["step"] for r in rows], [r["error"] for r in rows])
    claim = slope_claim(name, fit, band, what)
    if rows[0]["series"] == FROZEN and fit is not None:  # say in words whether the frozen loss failed its test
        claim = dataclasses.replace(claim, test=claim.test + "; " + frozen_statement(rows[0]["beta"], fit.slope))
    return claim


def frozen_statement(beta: float, slope: float) -> str:
    outcome = "FAILS" if slope < RMSPROP_PASS_SLOPE else "PASSES (against the prediction)"
    return f"the frozen-P loss {outcome} its slope test at β={beta:g} (pass needs >= {RMSPROP_PASS_SLOPE})"
