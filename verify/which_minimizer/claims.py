"""The claims of ``which_minimizer`` and how they are judged.

Closed forms and identities (A1, A2's law and remedies, A3's one-point case, C4's SGD limit) hold exactly on
every drawn problem, so they are deterministic tolerance rules on the largest relative error over the
problems: the error of a converged run is round-off plus its convergence tail (measured ≤ ~1e-12; each
tolerance leaves a margin of ≥ 100). "Different limits" (A3, C4) are almost-sure statements for a generic
Jacobian: the smallest distance over the problems must exceed max(1e-6, 100 × the largest convergence
tail); a true claim fails with probability zero. A run that did not converge makes its claim inconclusive
(the theorem says nothing about it). These claims are marked ``deterministic``: Holm's procedure spends none
of the check's alpha on them. The three statistical claims are judged at the claim's level α (Holm's, given
by the engine): the linear term B by a t test of its across-init mean, the linearization gap by the
log-log slope of the across-init mean gap per width (t interval on the replicate SEs), and the AdaGrad
learning-rate slope by the t interval of a deterministic fit (it measures the curvature of the geometric-mean
curve over the learning-rate window, not noise)."""
from __future__ import annotations

import math

import numpy as np

from theory import which_minimizer as theory
from verify import rules
from verify.verdicts import Claim, ClaimSpec, registry
from verify.which_minimizer.summaries import FLOW_FLOOR, a2_summary, gap_summary, lr_fit, rows_of
from verify.which_minimizer.sweep import CONVERGED_RTOL

CLOSED_FORM_RTOL = 1e-8  # A1 and C4: relative distance of a converged run to its closed form
ONE_POINT_RTOL = 1e-10  # A3 one point: the AdaGrad closed form, and AdaGrad = GD for equal |j_i|
LAW_RTOL = 1e-9  # A2: the A + Cα² fit, the kernel closed forms, the remedies
DIFFER_RTOL = 1e-6  # "different limits": at least this (and 100 × the convergence tail)
C_POSITIVE = 1e-6  # A2: per-pair C / A above this
LR_SLOPE_BAND = (0.4, 1.6)  # A3: first order in the learning rate (slope 1)
LR_CLAIM = "A3: AdaGrad limit -> AdaGrad-flow limit as lr -> 0"
GAP_CLAIM = "linearization gap -> 0 with width (exponent)"

_PAPER = "Nonnenmacher, Reeb & Steinwart, Which Minimizer Does My Neural Network Converge To?, ECML PKDD 2021"
_FORMAL = "this package's linearized formalization"
_PRE = "preregistered (fixed in the check's design before any run)"

def _exact(key: str, tier: str, source: str, **fields) -> ClaimSpec:
    """A claim on a quantity exact up to round-off (or true with probability one): no false-failure rate, so
    Holm's procedure spends none of the check's alpha on it."""
    return ClaimSpec(key, tier, source, deterministic=True, **fields)


CLAIMS = registry(
    _exact("a1_gd", "theorem", f"{_PAPER}, C4; closed form A1 ({_FORMAL})",
              provenance=f"{_PRE}; round-off + tail of a run stopped at residual {CONVERGED_RTOL:g}: ~1e-13"),
    _exact("a1_sgd", "theorem", f"{_PAPER}, C4 (GD and SGD reach the same minimizer); A1",
              provenance=f"{_PRE}; measured errors ~1e-13"),
    _exact("a1_preconditioned", "theorem", f"A1 with a fixed preconditioner ({_FORMAL})",
              provenance=f"{_PRE}; measured errors ~1e-13"),
    _exact("a2_law", "theorem", f"{_PAPER}, C1; A2: E MSE_test(α) = A + Cα² under a sign-symmetric init law",
              provenance=f"{_PRE}; antithetic pairs make the law exact: residual ~1e-15"),
    _exact("a2_kernel_forms", "theorem", f"A2: A and C in closed form from the kernel ({_FORMAL})",
              provenance=f"{_PRE}; round-off ~1e-14"),
    _exact("a2_init_hurts", "theorem",
              f"{_PAPER}, C1 (initialization size can deteriorate test performance): C > 0, a mean of squares",
              provenance=f"{_PRE}: C/A > {C_POSITIVE:g} for every pair (C = 0 only if the kernel interpolates the "
                         "init output exactly, a probability-zero event)"),
    _exact("a2_remedy_doubling", "theorem",
              f"{_PAPER}, C2 (a strategy limits it); antisymmetric doubling gives exactly A ({_FORMAL})",
              provenance=f"{_PRE}; round-off ~1e-14"),
    _exact("a2_remedy_centering", "theorem", f"{_PAPER}, C2; centering g − g(θ0) gives exactly A ({_FORMAL})",
              provenance=f"{_PRE}; round-off ~1e-14"),
    ClaimSpec("a2_no_linear_term", "theorem", f"A2: no linear term in α under a sign-symmetric init law ({_FORMAL})"),
    _exact("a3_one_point", "theorem", f"A3: one training point, ε = 0: θ0 + sign(j) r0/‖j‖₁ ({_FORMAL})",
              provenance=f"{_PRE}; runs stopped at residual 1e-14: errors ~1e-13"),
    _exact("a3_one_point_iff", "theorem", f"A3: AdaGrad = GD on one point iff all |j_i| are equal ({_FORMAL})",
              provenance=_PRE),
    _exact("a3_differs_from_gd", "published", f"{_PAPER}, C3 (AdaGrad's minimizer differs from GD's)",
              provenance=f"{_PRE}; almost-sure for generic J"),
    _exact("a3_lr_dependence", "extension", f"A3: the AdaGrad limit depends on the learning rate ({_FORMAL})",
              provenance=f"{_PRE}; almost-sure for generic J"),
    ClaimSpec("a3_flow_limit_slope", "extension",
              f"A3: the AdaGrad limit tends to the AdaGrad-flow limit at first order in lr ({_FORMAL})",
              provenance=(f"calibrated on seeds 1–18 (band {LR_SLOPE_BAND} around slope 1, set after slopes "
                          "0.70–1.03 were seen there); re-validated on fresh seeds 101–106: slopes 0.85–0.97, all pass, "
                          f"none fails; distances <= {FLOW_FLOOR:g} (the flow solver's accuracy "
                          "~1e-11 × 1000) are not fitted")),
    _exact("c4_orders_differ", "published",
              f"{_PAPER}, C4 (mini-batching changes the adaptive minimizer further)",
              provenance=f"{_PRE}; almost-sure for generic J"),
    _exact("c4_sgd_orders", "theorem", f"{_PAPER}, C4 (SGD reaches GD's minimizer); A1 over every batch order",
              provenance=f"{_PRE}; measured errors ~1e-13"),
    ClaimSpec("gap_shrinks_with_width", "theorem",
              "Lee et al., Wide Neural Networks of Any Depth Evolve as Linear Models, NeurIPS 2019, Thm 2.1 "
              "(gap O(M^-1/2) in NTK parameterization)"),
    ClaimSpec("a2_init_term_size", "diagnostic", f"{_PAPER}, C1: how much the init term adds at α = 1"),
    ClaimSpec("a2_asymmetric_linear_term", "diagnostic",
              "this package: the linear term B under a sign-asymmetric law (generically ≠ 0, not always large)"),
)


def _at_most(name: str, measured: float, bound: float, rule: str, *, ok: bool = True) -> Claim:
    """Deterministic claim ``measured <= bound``; ``ok = False`` (a run did not converge) is inconclusive."""
    return _deterministic(name, measured, bound, rule, ok, measured <= bound, f"{measured:.3g} <= {bound:g}",
                          f"<= {bound:g}")


def _at_least(name: str, measured: float, bound: float, rule: str, *, ok: bool = True) -> Claim:
    return _deterministic(name, measured, bound, rule, ok, measured > bound, f"{measured:.3g} > {bound:.3g}",
                          f"> {bound:g}")


def _deterministic(name, measured, bound, rule, ok, holds, test, predicted) -> Claim:
    finite = bool(np.isfinite(measured))
    verdict = "inconclusive" if not ok or not finite else ("pass" if holds else "fail")
    needed = (None if verdict != "inconclusive" else
              "a run did not converge: raise its step budget or lower its step size" if not ok else
              "the measured value is not finite")
    return Claim(name=name, predicted=predicted, measured=float(measured), ci=None,
                 rule=rule + ("" if ok else "; a run did not converge: inconclusive"), verdict=verdict,
                 test=test + ("" if ok else " (not all runs converged)"), needed=needed)


def judge(rows: list[dict], params: dict) -> list[Claim]:
    """Every claim at the level ``params["alpha"]``, stamped with its spec."""
    return (_a1_claims(rows, params) + _a2_claims(rows, params) + _a3_claims(rows, params)
            + [gap_claim(rows, params)])


def _a1_claims(rows, params) -> list[Claim]:
    runs = [r for r in rows_of(rows, "limit_distance") if r["experiment"] == "A1"]
    err = {g: max(r["to_own_closed_form"] for r in runs if r["group"] == g) for g in ("GD", "SGD", "preconditioned")}
    ok = {g: all(r["converged"] for r in runs if r["group"] == g) for g in err}
    n = len({r["problem"] for r in runs})
    rule = (f"max over {n} random problems of ||theta_T - closed form|| / ||theta_GD - theta0|| <= "
            f"{CLOSED_FORM_RTOL:g} (larger: fail); runs stop at relative residual {CONVERGED_RTOL:g}")
    return [
        CLAIMS["a1_gd"](_at_most("A1: GD, heavy ball -> theta0 + J^T (J J^T)^-1 r0", err["GD"], CLOSED_FORM_RTOL,
                                 rule, ok=ok["GD"])),
        CLAIMS["a1_sgd"](_at_most("A1: SGD schedules, step sizes, momentum -> same", err["SGD"], CLOSED_FORM_RTOL,
                                  rule, ok=ok["SGD"])),
        CLAIMS["a1_preconditioned"](_at_most("A1: fixed preconditioner -> theta0 + P J^T (J P J^T)^-1 r0",
                                             err["preconditioned"], CLOSED_FORM_RTOL, rule, ok=ok["preconditioned"])),
    ]


def _a2_claims(rows, params) -> list[Claim]:
    s = a2_summary(rows, params["alphas"])
    A, C, ok = s["A"], s["C"], s["converged"]
    coef_err = max(abs(A - s["A_theory"]) / s["A_theory"], abs(C - s["C_theory"]) / s["C_theory"])
    remedy_err = {key: float(np.max(np.abs(s["mean"][key] - A)) / A) for key in ("mse_doubled", "mse_centered")}
    pairs = len(s["pair_C"])
    rule = f"relative error <= {LAW_RTOL:g} (larger: fail); GD run to relative residual {CONVERGED_RTOL:g}"
    claims = [
        CLAIMS["a2_law"](_at_most(
            "A2: E test MSE = A + C alpha^2 (antithetic pairs)", s["fit_residual"], LAW_RTOL,
            f"max relative residual of the least-squares fit over {len(s['alphas'])} alphas, {pairs} pairs; " + rule,
            ok=ok)),
        CLAIMS["a2_kernel_forms"](_at_most(
            "A2: fitted A, C = kernel closed forms", coef_err, LAW_RTOL,
            "max(|A_fit - A|/A, |C_fit - C|/C), A and C the mean kernel-interpolation and init terms; " + rule,
            ok=ok)),
        CLAIMS["a2_init_hurts"](_at_least(
            "A2: C > 0 (init size deteriorates test MSE)", float(s["pair_C"].min() / A), C_POSITIVE,
            f"smallest per-pair C / A over {pairs} pairs > {C_POSITIVE:g}, else fail (each pair's law is exact, "
            "so its C is a deterministic mean of squares; per-pair C fitted from the GD test MSEs)")),
        CLAIMS["a2_remedy_doubling"](_at_most(
            "A2: antisymmetric doubling gives A at every alpha", remedy_err["mse_doubled"], LAW_RTOL,
            "max over alphas of |MSE_doubled - A_fit| / A_fit; " + rule, ok=ok)),
        CLAIMS["a2_remedy_centering"](_at_most(
            "A2: centering g - g(theta0) gives A at every alpha", remedy_err["mse_centered"], LAW_RTOL,
            "max over alphas of |MSE_centered - A_fit| / A_fit; " + rule, ok=ok)),
        CLAIMS["a2_no_linear_term"](_linear_term_claim(
            "A2: no linear term B under the sign-symmetric law", s["B"]["symmetric"], params["alpha"])),
    ]
    return claims + _a2_diagnostics(s, A, params)


def _a2_diagnostics(s: dict, A: float, params: dict) -> list[Claim]:
    ratio = s["pair_C"] / A
    se = float(np.std(ratio, ddof=1) / math.sqrt(ratio.size)) if ratio.size > 1 else float("nan")
    size = Claim(name="A2: init term C/A (alpha = 1)", predicted=None, measured=float(ratio.mean()), ci=None,
                 rule="mean over pairs of C/A, the test MSE the init adds at α = 1 relative to A (not judged)",
                 verdict=None, test=f"mean C/A {ratio.mean():.3g}, SE {se:.2g} over {ratio.size} pairs")
    B = np.asarray(s["B"]["asymmetric"], float)
    mean, se_b = float(B.mean()), float(B.std(ddof=1) / math.sqrt(B.size)) if B.size > 1 else float("nan")
    asym = Claim(name=f"A2: linear term B, asymmetric law (last-layer mean {params['asymmetric_mean']:g})",
                 predicted=None, measured=mean, ci=None,
                 rule="mean of B over independent inits of a sign-asymmetric law: generically ≠ 0 (not judged)",
                 verdict=None, test=f"mean B {mean:.3g}, SE {se_b:.2g}, t = {mean / se_b:.3g} over {B.size} inits")
    return [CLAIMS["a2_init_term_size"](size), CLAIMS["a2_asymmetric_linear_term"](asym)]


def _linear_term_claim(name: str, B, alpha: float) -> Claim:
    """The across-init mean of B against 0: a two-sided t test at level alpha on len(B) − 1 dof (fail when the
    interval excludes 0). False-failure rate alpha when B's mean is t-distributed (64 inits at quick settings)."""
    B = np.asarray(B, float)
    if B.size < 2:
        return rules.missing_claim(name, f"{B.size} independent inits; a standard error needs 2", predicted=0.0)
    return rules.agree(name, float(B.mean()), float(B.std(ddof=1) / math.sqrt(B.size)), 0.0, alpha=alpha,
                       dof=B.size - 1, what=f"B = 2 mean(u v) per init, {B.size} independent inits")


def _a3_claims(rows, params) -> list[Claim]:
    one = rows_of(rows, "adagrad_one_point")[0]
    problems = rows_of(rows, "adagrad_problem")
    ok_one, ok = one["converged"], all(r["converged"] for r in problems)
    tails = max(max(r["tails"]) for r in problems)
    differ = max(DIFFER_RTOL, 100 * tails)
    rule_differ = (f"min relative distance > {differ:.3g} = max({DIFFER_RTOL:g}, 100 x the largest convergence tail "
                   f"{tails:.2g}), else fail (almost surely true for generic J)")

    def pooled(key):
        return [v for r in problems for v in r[key]]

    n = params["adagrad_rows"]
    equal, generic = max(one["equal_gap"]), min(one["generic_gap"])
    iff = ("inconclusive" if not ok_one else "pass" if equal <= ONE_POINT_RTOL and generic > DIFFER_RTOL else "fail")
    return [
        CLAIMS["a3_one_point"](_at_most(
            "A3: one point, AdaGrad -> theta0 + sign(j) r0/||j||_1", max(one["errors"]), ONE_POINT_RTOL,
            f"max over 4 j and 2 learning rates of ||theta_T - closed form|| / ||theta_GD - theta0|| <= "
            f"{ONE_POINT_RTOL:g} (larger: fail)", ok=ok_one)),
        CLAIMS["a3_one_point_iff"](Claim(
            name="A3: one point, AdaGrad = GD iff all |j_i| equal",
            predicted=f"[<= {ONE_POINT_RTOL:g}, > {DIFFER_RTOL:g}]", measured=[equal, generic], ci=None,
            rule=f"distance to GD's limit: <= {ONE_POINT_RTOL:g} for equal |j_i|, > {DIFFER_RTOL:g} for 3 "
                 "Gaussian j (else fail; a run not converged: inconclusive)", verdict=iff,
            test=f"equal |j|: {equal:.2g} <= {ONE_POINT_RTOL:g}; generic: {generic:.2g} > {DIFFER_RTOL:g}")),
        CLAIMS["a3_differs_from_gd"](_at_least(
            "A3: generic J, AdaGrad limit != GD limit", min(pooled("to_gd")), differ,
            rule_differ + f"; {len(problems)} problems x {len(params['adagrad_lrs'])} learning rates", ok=ok)),
        CLAIMS["a3_lr_dependence"](_at_least(
            "A3: AdaGrad limit depends on the learning rate", min(pooled("consecutive")), differ,
            rule_differ + "; limits at consecutive learning rates", ok=ok)),
        CLAIMS["a3_flow_limit_slope"](lr_slope_claim(*_lr_inputs(rows), level=1 - params["alpha"])),
        CLAIMS["c4_orders_differ"](_at_least(
            f"C4: all {math.factorial(n)} batch orders give different AdaGrad limits",
            min(pooled("order_gaps") + pooled("to_full")), differ,
            rule_differ + "; pairwise over orders and against full-batch AdaGrad", ok=ok)),
        CLAIMS["c4_sgd_orders"](_at_most(
            "C4: SGD over the same orders -> GD limit", max(pooled("sgd_orders")), CLOSED_FORM_RTOL,
            f"max relative distance to theta0 + J^T (J J^T)^-1 r0 <= {CLOSED_FORM_RTOL:g} (larger: fail)", ok=ok)),
    ]


def _lr_inputs(rows):
    problems = sorted(rows_of(rows, "adagrad_problem"), key=lambda r: r["problem"])
    return (np.asarray(problems[0]["lrs"], float), np.array([r["to_flow"] for r in problems]),
            all(r["converged"] for r in problems))


def lr_slope_claim(lrs: np.ndarray, to_flow: np.ndarray, converged: bool, *, level: float) -> Claim:
    """Slope of the geometric mean (over problems) distance to the flow limit, where it is above the floor."""
    keep = np.all(to_flow > FLOW_FLOOR, axis=0)
    fit = lr_fit(lrs, to_flow, converged, level)
    if fit is None:
        reason = (f"{int(keep.sum())} learning rates above {FLOW_FLOOR:g} (3 needed)"
                  + ("" if converged else "; not all runs converged"))
        return Claim(name=LR_CLAIM, predicted=list(LR_SLOPE_BAND), measured=None, ci=None,
                     rule=f"needs >= 3 learning rates with distance > {FLOW_FLOOR:g} and converged runs",
                     verdict="inconclusive", test=reason, needed=f"data: {reason}")
    claim = rules.slope_within(LR_CLAIM, fit, *LR_SLOPE_BAND,
                               what=f"geometric mean over {to_flow.shape[0]} problems of ||theta(lr) - theta_flow|| "
                                    f"/ ||theta_GD - theta0||, points with distance > {FLOW_FLOOR:g}; "
                                    f"{100 * level:.4g}% OLS interval (deterministic given the problems: it "
                                    "measures the curve's bend over the window)")
    if claim.verdict == "inconclusive":
        claim.needed = ("the geometric-mean curve bends over the learning-rate window: more problems average the "
                        "bends out (--until-decisive doubles adagrad_problems; seed 105 was decided at 12), or add "
                        "smaller learning rates to adagrad_lrs")
    return claim


def gap_claim(rows, params) -> Claim:
    """The log-log slope of the across-init mean gap against the width is negative (t interval on the replicate
    SEs, Welch dof; false-failure rate at most alpha/2 when the per-width means are normal)."""
    summary = gap_summary(rows, 1 - params["alpha"])
    fit = summary["fit"]
    claim = rules.slope_negative(GAP_CLAIM, fit, level=1 - params["alpha"],
                                 what=f"RMS test gap after {params['gap_steps']} GD steps, mean of "
                                      f"{summary['dof'] + 1} inits per width; expected exponent about "
                                      f"{theory.LINEARIZATION_GAP_EXPONENT:g}")
    claim.runs = summary["dof"] + 1
    if claim.verdict == "inconclusive":
        claim.needed = rules.runs_needed(fit.slope, fit.slope_se, claim.runs, high=0.0, alpha=params["alpha"])
    return CLAIMS["gap_shrinks_with_width"](claim)
