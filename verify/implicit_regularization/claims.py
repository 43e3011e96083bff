"""Claims of ``implicit_regularization`` and how they are judged."""
from __future__ import annotations

import numpy as np

from verify.implicit_regularization.params import MIN_POINTS
from verify.implicit_regularization.sweep import FLOW_FAMILIES, penalty_lambda
from verify.report import Claim
from verify.rules import equivalent, fit_loglog_slope, interval_verdict, slope_within, t_quantile

ALPHA = 0.01
PLAIN_BAND = (0.8, 1.2)
MODIFIED_BAND = (1.8, 2.2)
REFERENCE_MARGIN = 10.0  # an error counts only if it is >= 10x the RK4 reference's estimated error


def judge(rows: list[dict], params: dict) -> list[Claim]:
    claims = []
    claims.append(r_falls_claim(rows, params))
    claims.append(penalty_claim(rows, params))
    for family in FLOW_FAMILIES:
        claims.extend(flow_claims(rows, family))
    claims.append(sign_claim(rows, params))
    claims.append(constant_term_claim(rows, params))
    claims.extend(norm_claims(rows, params))
    return claims


def sgd_rows(rows, penalty: bool):
    return [r for r in rows if r["kind"] == "sgd" and (r["penalty"] > 0) == penalty]


def r_falls_claim(rows, params) -> Claim:
    name = "SGD: R at matched loss falls with the lr"
    runs = sgd_rows(rows, penalty=False)
    missing = [r for r in runs if not r["reached"]]
    what = (f"R = (1/m)Σ‖∇Ĉ_k‖² at the epoch-averaged iterate when the training loss first is <= "
            f"{params['loss_goal']:g}; per-seed OLS slope of log R on log lr, Student-t CI of their mean over "
            f"{params['sgd_seeds']} seeds")
    if missing or len(runs) < 3:
        return Claim(name=name, predicted="slope < 0", measured=None, ci=None, verdict="inconclusive",
                     rule=f"{len(missing)} run(s) did not reach the loss goal in max_epochs; {what}")
    slopes = per_seed_slopes(runs, lambda r: r["lr"], "R")
    return mean_sign_claim(name, slopes, -1, "mean slope", what)


def per_seed_slopes(runs, x_of, y_key: str) -> np.ndarray:
    """Per seed (``replicate``), the OLS slope of log ``y_key`` on log x_of(row)."""
    out = []
    for s in sorted({r["replicate"] for r in runs}):
        pts = [r for r in runs if r["replicate"] == s]
        out.append(float(np.polyfit(np.log([x_of(r) for r in pts]), np.log([r[y_key] for r in pts]), 1)[0]))
    return np.array(out)


def mean_sign_claim(name: str, values, sign: int, label: str, what: str) -> Claim:
    """The sign of the mean of independent per-seed values: the Student-t ``1 − ALPHA`` CI (seeds − 1 dof)
    wholly on the predicted side of 0 passes, wholly on the other side fails, else inconclusive."""
    side = "> 0" if sign > 0 else "< 0"
    values = np.asarray(values, float)
    if values.size < 2:
        return Claim(name=name, predicted=side, measured=None, ci=None, verdict="inconclusive",
                     rule=f"needs >= 2 seeds; {what}")
    half = t_quantile(ALPHA, 1, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
    ci = (float(values.mean() - half), float(values.mean() + half))
    verdict = interval_verdict(ci, 0.0, np.inf) if sign > 0 else interval_verdict(ci, -np.inf, 0.0)
    return Claim(name=name, predicted=side, measured=float(values.mean()), ci=list(ci), verdict=verdict,
                 rule=f"{100 * (1 - ALPHA):g}% Student-t CI ({values.size - 1} dof) of the {label} wholly {side} "
                      f"passes, wholly on the other side fails, else inconclusive; {what}",
                 test=f"{label} {values.mean():.3g}, CI [{ci[0]:.3g}, {ci[1]:.3g}] {side}")


def penalty_claim(rows, params) -> Claim:
    name = "explicit penalty at small lr reaches large-lr R"
    largest = params["penalty_target_lr"]
    large = {r["replicate"]: r for r in sgd_rows(rows, False) if r["lr"] == largest}
    pen = {r["replicate"]: r for r in sgd_rows(rows, True)}
    pairs = [(pen[s]["R"], large[s]["R"]) for s in sorted(pen) if s in large
             and pen[s]["reached"] and large[s]["reached"]]
    lam = penalty_lambda(params)
    what = (f"d = R(lr {params['penalty_lr']:g} + penalty λ = {lam:.3g}) / R(lr {largest:g}) − 1 per seed, "
            f"mean over {len(pairs)} seeds, Student t with {len(pairs) - 1} dof")
    if len(pairs) < 2:
        return Claim(name=name, predicted=f"|d| < {params['match_tolerance']:g}", measured=None, ci=None,
                     rule=what + "; fewer than 2 seeds reached the goal", verdict="inconclusive")
    d = np.array([a / b - 1 for a, b in pairs])
    return equivalent(name, float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))), params["match_tolerance"],
                      alpha=ALPHA, dof=len(d) - 1, what=what)


def flow_series(rows, family):
    pts = sorted((r for r in rows if r["kind"] == "flow" and r["family"] == family), key=lambda r: r["halving"])
    return pts


def flow_claims(rows, family) -> list[Claim]:
    pts = flow_series(rows, family)
    claims = []
    for series, band in (("plain flow", PLAIN_BAND), ("modified flow", MODIFIED_BAND)):
        name = f"{family}: {series} error ~h^{int(round(np.mean(band)))}"
        steps, errors, window = flow_window(pts, series)
        if window.sum() < MIN_POINTS:
            claims.append(Claim(name=name, predicted=list(band), measured=None, ci=None, verdict="inconclusive",
                                rule=f"needs >= {MIN_POINTS} errors >= {REFERENCE_MARGIN:g}x the RK4 reference error"))
            continue
        fit = fit_loglog_slope(steps[window], errors[window], level=1 - ALPHA)
        what = (f"fixed-horizon error ‖θ_discrete(T) − θ_flow(T)‖ against h; errors >= {REFERENCE_MARGIN:g}x "
                f"the RK4 reference's estimated error")
        if family != "momentum":
            what += (f"; coordinates with |g| > 10√ε: {100 * pts[0]['frac_gradient_dominated_start']:.0f}% at θ0, "
                     f"{100 * pts[-1]['frac_gradient_dominated_end']:.0f}% at θ(T)")
        claims.append(slope_within(name, fit, *band, what=what))
    return claims


def flow_window(pts, series):
    steps = np.array([r["step"] for r in pts], float)
    errors = np.array([r[f"{series} error"] for r in pts], float)
    ref = np.array([r[f"{series} reference error"] for r in pts], float)
    window = np.isfinite(errors) & (errors > 0) & (errors >= REFERENCE_MARGIN * ref)
    return steps, errors, window


def sign_claim(rows, params) -> Claim:
    name = "Adam: final ‖∇L‖₁ grows with β₂ at matched loss"
    runs = [r for r in rows if r["kind"] == "sign"]
    what = (f"full-batch Adam (lr {params['sign_lr']:g}, β₁ {params['sign_beta1']:g}) stopped when the training loss "
            f"first is <= {params['sign_goal']:g}; per-seed OLS slope of log ‖∇L‖₁ on log 1/(1−β₂), "
            f"{params['sign_seeds']} seeds; predicted sign from c = 1/(1−β₁) − 1/(1−β₂) < 0 (anti-penalized "
            f"‖∇L‖_(1,ε))")
    if any(not r["reached"] for r in runs) or len(runs) < 3:
        return Claim(name=name, predicted="slope > 0", measured=None, ci=None, verdict="inconclusive",
                     rule="some run did not reach the loss goal; " + what)
    return mean_sign_claim(name, per_seed_slopes(runs, lambda r: 1 / (1 - r["beta2"]), "grad_l1"), 1, "mean slope",
                           what)


def repro_rows(rows, optimizer=None):
    return [r for r in rows if r["kind"] == "repro" and (optimizer is None or r["optimizer"] == optimizer)]


def constant_term_claim(rows, params) -> Claim:
    name = "project's RMSProp term ≈ constant ηP/4"
    warm = 3 / (1 - params["repro_rmsprop_beta2"])  # steps after which v's zero start weighs < e^-3 = 5 %
    pts = [r for r in repro_rows(rows, "rmsprop") if r.get("project_rmsprop_term") is not None and r["step"] >= warm]
    band = params["constant_band"]
    what = (f"(η/4m)Σ‖s⊙∇C_k‖² over a fixed partition, s = 1/(√v + ε) the RMSProp state (ε = {params['repro_eps']:g}, "
            f"β₂ = {params['repro_rmsprop_beta2']:g}), divided by ηP/4, at every recorded step >= {warm:.0f} "
            f"(v warmed up) of {params['repro_seeds']} seeds")
    if not pts:
        return Claim(name=name, predicted=[1 - band, 1 + band], measured=None, ci=None, verdict="inconclusive",
                     rule="no recorded RMSProp point after the warm-up; " + what)
    ratios = np.array([r["project_rmsprop_term"] / r["project_rmsprop_constant"] for r in pts])
    worst = float(np.max(np.abs(ratios - 1)))
    return Claim(name=name, predicted=[1 - band, 1 + band], measured=float(np.median(ratios)),
                 ci=[float(ratios.min()), float(ratios.max())], verdict="pass" if worst <= band else "fail",
                 rule=f"max |ratio − 1| <= {band:g} (deterministic); {what}",
                 test=f"max |ratio − 1| = {worst:.3g} <= {band:g}")


def norm_claims(rows, params) -> list[Claim]:
    finals = {(r["optimizer"], r["replicate"]): r for r in repro_rows(rows) if r.get("final")}
    claims = []
    for opt in ("rmsprop", "adam"):
        name = f"project: SGD's ‖θ‖₂ < {opt}'s"
        seeds = sorted(s for (o, s) in finals if o == opt and ("sgd", s) in finals)
        what = (f"Δ = ‖θ_{opt}‖₂ − ‖θ_SGD‖₂ after {params['repro_epochs']} epochs at lr {params['repro_lr']:g} "
                f"(same init and batches per seed, {params['repro_label_noise']:.0%} label noise), "
                f"{len(seeds)} seeds; not at matched loss")
        d = [finals[(opt, s)]["theta_l2"] - finals[("sgd", s)]["theta_l2"] for s in seeds]
        claims.append(mean_sign_claim(name, d, 1, "mean Δ", what))
    return claims
