"""The claims of ``modified_loss`` and how they are judged.

Everything here is deterministic given the seed (no sampling): each slope claim is an OLS fit of log error
against log step size over the points above ``ERROR_FLOOR`` (at least ``MIN_POINTS`` must remain, else the
claim is inconclusive). Its Student-t interval at the fixed level ``CURVATURE_LEVEL`` (0.999) measures how far
the window departs from a power law (its curvature), not noise: inside the band it passes, wholly outside it fails (the predicted order
is contradicted), straddling it is inconclusive (the window is not yet asymptotic: halve the initial step).
Exact identities: a relative defect at most a tolerance set from a round-off estimate (``predictions``);
larger fails; non-finite is inconclusive. Every judged claim is marked ``deterministic``: its false-failure
rate is zero up to round-off, so Holm's procedure spends none of the check's alpha on it."""
from __future__ import annotations

import numpy as np

from theory.modified_losses import RMSPROP_PASS_SLOPE
from verify.modified_loss.predictions import (CURVATURE_LEVEL, ERROR_FLOOR, FLOW_DRIFT_TOL, FROZEN, FROZEN_BAND,
                                              IDENTITY_TOL, LAG_BAND, MIN_POINTS, PARTITION_TOL, PREDICTIONS, PROBE_PANEL,
                                              SLOPE_HALF_BAND, STUDENT, fitted_window)
from verify.rules import slope_within
from verify.verdicts import Claim, ClaimSpec, registry

_BAND = (f"preregistered: predicted order ± {SLOPE_HALF_BAND:g} over >= {MIN_POINTS - 1} halvings of the step "
         f"with errors above {ERROR_FLOOR:g} (fixed in the check's design before any run)")
_LAG = (f"preregistered: a proposed RMSProp modified flow passes its slope test iff its slope is in "
        f"[{LAG_BAND[0]:g}, {LAG_BAND[1]:g}] (second order; fixed before any run)")
_IGR = "Barrett & Dherin, Implicit Gradient Regularization, ICLR 2021"
_SGD = "Smith, Dherin, Barrett & De, On the Origin of Implicit Regularization in SGD, ICLR 2021"
_STUDENT_SEEDS = "seeds 0–9 (slopes 0.968–1.000)"

def _spec(key: str, tier: str, source: str, **fields) -> ClaimSpec:
    return ClaimSpec(key, tier, source, deterministic=True, **fields)


CLAIMS = registry(
    _spec("igr_one_step_plain", "theorem", f"{_IGR}, Sec. 3: one GD step vs gradient flow, local error O(h²)",
              provenance=_BAND),
    _spec("igr_one_step_modified", "theorem",
              f"{_IGR}, Thm 3.1: one GD step vs the flow on E + (h/4)‖∇E‖², local error O(h³)", provenance=_BAND),
    _spec("igr_horizon_plain", "theorem", f"{_IGR}, Sec. 3: global error of GD vs gradient flow O(h)",
              provenance=_BAND),
    _spec("igr_horizon_modified", "theorem", f"{_IGR}, Thm 3.1: global error vs the modified flow O(h²)",
              provenance=_BAND),
    _spec("ab_gd_identity", "control",
              "this package: two lines of algebra for E = ½(y − abx)² (a GD step multiplies a² − b² by 1 − h²r²x²)",
              provenance=f"round-off: {IDENTITY_TOL:.2g} = 64 ulp"),
    _spec("ab_flow_conserved", "control",
              "this package: d(a² − b²)/dt = 0 along gradient flow on E = ½(y − abx)² (tests the DOP853 "
              "reference)",
              provenance=f"round-off: {FLOW_DRIFT_TOL:g} = 1000 × the integrator's rtol 1e-13"),
    _spec("sgd_epoch_plain", "theorem", f"{_SGD}, Sec. 2: the epoch-mean SGD iterate vs gradient flow, O(ε²)",
              provenance=_BAND),
    _spec("sgd_epoch_gd_modified", "theorem",
              f"{_SGD}, Sec. 2: the GD modified flow misses the O(ε²) SGD term", provenance=_BAND),
    _spec("sgd_epoch_sgd_modified", "theorem",
              f"{_SGD}, Sec. 2 (C̃_SGD = C + (ε/4m)Σ‖∇Ĉ_k‖²): epoch-mean error O(ε³)", provenance=_BAND),
    _spec("sgd_partition_factor", "theorem",
              f"{_SGD}, Sec. 2: mean over random partitions of the SGD term = ((N − B)/(N − 1))(ε/4B)Γ",
              provenance=f"round-off: {PARTITION_TOL:g} relative (mean of <= 15400 enumerated terms)"),
    _spec("rmsprop_lag_corrected", "extension",
              "this package: lag-corrected first-order modified flow of RMSProp (structure as in Cattaneo, "
              "Klusowski & Shigida, ICML 2024)", provenance=_LAG),
    _spec("rmsprop_frozen_first_order", "extension",
              "this package: the frozen-preconditioner loss C + (η/4)∇CᵀP∇C is only first-order right for β > 0",
              provenance=f"preregistered: order 1 ± {FROZEN_BAND[1] - 1:g} (fixed before any run)"),
    _spec("student_rmsprop_modified_loss", "published",
              "student project among the sources: C + (η/4)∇CᵀP∇C (no lag term) as RMSProp's modified loss",
              expected="fail",
              expected_because=(f"its fitted slope is ≈1.0 (interval inside [{FROZEN_BAND[0]:g}, "
                                f"{FROZEN_BAND[1]:g}], below {LAG_BAND[0]:g}) at β = 0.5 and 0.9 on {_STUDENT_SEEDS}: "
                                "the lag term c = β/(1 − β) it omits is first order in η"),
              provenance=_LAG),
    _spec("rmsprop_anti_regularizing", "diagnostic",
              "this package (agrees with Cattaneo, Klusowski & Shigida, ICML 2024): coordinates where the "
              "lag-corrected flow's weight on ∇‖∇C‖_(1,δ) is negative"),
    _spec("rmsprop_beta0_probe", "diagnostic",
              "this package: at β = 0 the frozen-P loss is right only where g² ≪ δ; slopes of both flows"),
)


def slope_claim(name: str, fit, band: tuple[float, float], what: str = "") -> Claim:
    """The band rule on a fitted slope; no fit (too few errors above the floor) is inconclusive."""
    if fit is None:
        reason = f"fewer than {MIN_POINTS} errors above {ERROR_FLOOR:g}"
        return Claim(name=name, predicted=list(band), measured=None, ci=None,
                     rule=f"needs >= {MIN_POINTS} errors above {ERROR_FLOOR:g}", verdict="inconclusive",
                     test=reason, needed=f"data: {reason} (raise the initial step size or the halvings)")
    claim = slope_within(name, fit, *band, what=what)
    claim.rule += "; the errors are deterministic: the interval measures the window's curvature, not noise"
    if claim.verdict == "inconclusive":
        claim.needed = ("not decidable by more runs (deterministic): halve the initial step size to reach the "
                        "asymptotic window")
    return claim


def exact_claim(name: str, defect: float, tol: float, rule: str) -> Claim:
    finite = bool(np.isfinite(defect))
    verdict = "inconclusive" if not finite else ("pass" if defect <= tol else "fail")
    return Claim(name=name, predicted=0.0, measured=float(defect), ci=[0.0, tol],
                 rule=rule + " (larger: fail; not finite: inconclusive)", verdict=verdict,
                 test=f"defect {defect:.3g} <= {tol:.3g}",
                 needed=None if finite else "the defect overflowed: lower the step sizes")


def judge(rows: list[dict], params: dict) -> list[Claim]:
    """One claim per claim name, in the order of the rows (the student project's claim after the frozen
    flow's), then the diagnostics; every claim stamped with its spec. No rule depends on ``params["alpha"]``:
    nothing here is random (slope intervals at the fixed ``CURVATURE_LEVEL``)."""
    level = CURVATURE_LEVEL
    claims = []
    for name in dict.fromkeys(r["claim"] for r in rows if r.get("claim")):
        mine = [r for r in rows if r.get("claim") == name]
        key = mine[0]["key"]
        if key == "ab_gd_identity":
            claim = exact_claim(name, max(r["max_step_defect"] for r in mine), IDENTITY_TOL,
                                f"max over every GD step and h of |q_(n+1) − (1 − h² r_n² x²) q_n| / "
                                f"(a_n² + b_n² + a_(n+1)² + b_(n+1)²) <= {IDENTITY_TOL:.2g} (64 ulp), q = a² − b²")
        elif key == "ab_flow_conserved":
            claim = exact_claim(name, mine[0]["drift"], FLOW_DRIFT_TOL,
                                f"|q(T) − q(0)| / (a0² + b0²) <= {FLOW_DRIFT_TOL:g} for the DOP853 solution "
                                f"(rtol 1e-13) to T = {params['horizon']:g}")
        elif key == "sgd_partition_factor":
            gap = max(abs(r["enumerated"] - r["formula"]) / r["formula"] for r in mine)
            claim = exact_claim(
                name, gap, PARTITION_TOL,
                f"max over B | N, B < N (N = {mine[0]['n_examples']}) of the relative gap between the mean over all "
                f"partitions (enumerated) of (ε/4m)Σ‖∇Ĉ_k − ∇C‖² and ((N − B)/(N − 1))(ε/4B)Γ <= {PARTITION_TOL:g}")
        else:
            claims.extend(_slope_claims(name, mine, level))
            continue
        claims.append(CLAIMS[key](claim))
    return claims + _diagnostics(rows, level)


def _slope_claims(name: str, rows: list[dict], level: float) -> list[Claim]:
    prediction = PREDICTIONS[rows[0]["section"]][rows[0]["series"]]
    fit, _ = fitted_window([r["step"] for r in rows], [r["error"] for r in rows], level)
    claim = slope_claim(name, fit, prediction.band, prediction.note)
    if rows[0]["series"] != FROZEN:
        return [CLAIMS[prediction.key](claim)]
    beta = rows[0]["beta"]
    if fit is not None:  # say in words whether the frozen loss failed its test
        claim.test += "; " + frozen_statement(beta, fit.slope)
    student = slope_claim(f"RMSProp β={beta:g}: {STUDENT.label} ~η^{STUDENT.order}", fit, STUDENT.band, STUDENT.note)
    return [CLAIMS[prediction.key](claim), CLAIMS[STUDENT.key](student)]


def frozen_statement(beta: float, slope: float) -> str:
    outcome = "FAILS" if slope < RMSPROP_PASS_SLOPE else "PASSES (against the prediction)"
    return f"the frozen-P loss {outcome} its slope test at β={beta:g} (pass needs >= {RMSPROP_PASS_SLOPE})"


def _diagnostics(rows: list[dict], level: float) -> list[Claim]:
    out = []
    firsts = {}
    for r in rows:
        if r.get("section") == "RMSProp" and r.get("panel") != PROBE_PANEL:
            firsts.setdefault(r["beta"], r)
    for beta, r in firsts.items():
        out.append(CLAIMS["rmsprop_anti_regularizing"](Claim(
            name=f"RMSProp β={beta:g}: anti-regularizing coordinates at θ0", predicted=None,
            measured=[r["anti_regularizing_coordinates"], r["coordinates"]], ci=None,
            rule="count of coordinates with δ/(2(g² + δ)) − c g²/(g² + δ) < 0, c = β/(1 − β) (not judged)",
            verdict=None, test=f"{r['anti_regularizing_coordinates']} of {r['coordinates']} coordinates")))
    probe = [r for r in rows if r.get("panel") == PROBE_PANEL]
    if probe:
        slopes = {}
        for series in dict.fromkeys(r["series"] for r in probe):
            pts = [r for r in probe if r["series"] == series]
            fit, _ = fitted_window([r["step"] for r in pts], [r["error"] for r in pts], level)
            slopes[series] = None if fit is None else round(fit.slope, 4)
        out.append(CLAIMS["rmsprop_beta0_probe"](Claim(
            name="RMSProp β=0 probe: slopes of both flows", predicted=None, measured=slopes, ci=None,
            rule="fitted log-log slopes at β = 0 (not judged)", verdict=None,
            test=", ".join(f"{k}: {v}" for k, v in slopes.items()))))
    return out
