"""The claims the two G&C checks share: a gap that decays with width or depth, G at the largest width or depth
against its limit, and the points whose estimates are trustworthy."""
from __future__ import annotations

import numpy as np
from scipy import optimize

from verify.gnc.records import dof_of, select
from verify.report import Claim
from verify.rules import (agree_chi2, equivalent, interval_verdict, missing_claim, runs_needed, t_quantile,
                          welch_combination_dof)

MIN_DECAY_POINTS = 3  # a two-parameter decay fit needs one point more than its parameters


def trusted(points: list[dict], min_ess: float, kind: str | None = None) -> list[dict]:
    """The points with G set to NaN where fewer than ``min_ess`` effective samples back it (its standard error
    is not trustworthy there); only rows of ``kind`` are touched when it is given."""
    return [{**q, "G": float("nan")} if (kind is None or q.get("kind") == kind) and not q.get("ess", np.inf) >= min_ess
            else q for q in points]


def decay_fit(x, gaps, cov, *, scale: str) -> tuple[float, float, float, float, int] | None:
    """Least squares of ``gap(x) = A exp(−β t)`` with t = ln x (``scale="power"``: A x^−β) or t = x
    (``"exp"``), on every point, weighted by the inverse covariance ``cov`` (full or diagonal).

    Returns (β, se(β), A, Birge ratio, points) or None when the fit is not identifiable. The standard error is
    the one of the known covariance, inflated by the Birge ratio ``sqrt(χ²/(N − 2))`` when the model does not
    fit the points within their errors (then the Student-t interval uses N − 2 degrees of freedom).
    """
    x, gaps = np.asarray(x, float), np.asarray(gaps, float)
    cov = np.asarray(cov, float)
    cov = np.diag(cov) if cov.ndim == 1 else cov
    ok = np.isfinite(gaps) & np.isfinite(np.diag(cov)) & (np.diag(cov) > 0)
    if ok.sum() < MIN_DECAY_POINTS:
        return None
    t = np.log(x[ok]) if scale == "power" else x[ok]
    y, C = gaps[ok], cov[np.ix_(ok, ok)]
    L = np.linalg.cholesky(C)
    t0 = t - t.min()  # A is the gap at the first point: better conditioned than at t = 0

    def resid(theta):
        return np.linalg.solve(L, y - theta[0] * np.exp(-theta[1] * t0))

    pos = y > 0
    beta0 = -np.polyfit(t0[pos], np.log(y[pos]), 1)[0] if pos.sum() >= 2 else 0.5
    fit = optimize.least_squares(resid, [y[0] if y[0] != 0 else float(np.mean(y)), beta0], method="lm")
    J = fit.jac
    try:
        cov_theta = np.linalg.inv(J.T @ J)
    except np.linalg.LinAlgError:
        return None
    n = int(ok.sum())
    chi2 = float(np.sum(fit.fun ** 2))
    birge = max(1.0, np.sqrt(chi2 / (n - 2))) if n > 2 else 1.0
    se = float(np.sqrt(cov_theta[1, 1])) * birge
    if not np.isfinite(se):
        return None
    return float(fit.x[1]), se, float(fit.x[0]), float(birge), n


def decay_claim(name: str, x, gaps, cov, dof, *, alpha: float, scale: str, runs: int, what: str) -> Claim:
    """A gap that decays as x grows: the rate β of :func:`decay_fit` (every point, no significance filter) has
    its two-sided (1 − alpha) interval above 0 (pass), below 0 (fail: the gap grows), or straddling 0
    (inconclusive, with the seeds an effect of this size would need). Student t with the smallest degrees of
    freedom of the points' standard errors (N − 2 when the Birge ratio inflated them). False-failure rate at
    most alpha/2 when the gap does not grow and the estimates are normal."""
    model = "A x^-beta" if scale == "power" else "A exp(-beta x)"
    rule = (f"weighted least squares of gap = {model} on every point (inverse-covariance weights; SE inflated by "
            f"the Birge ratio where the model misfits); {100 * (1 - alpha):.4g}% CI of beta above 0: pass, below 0: "
            f"fail, straddling: inconclusive; false-failure rate <= alpha/2 when the gap does not grow (simulated "
            f"in tests/test_gnc_claims.py); {what}")
    fit = decay_fit(x, gaps, cov, scale=scale)
    if fit is None:
        usable = int(np.sum(np.isfinite(gaps)))
        return missing_claim(name, f"{usable} point(s) with a finite gap and SE; the decay fit needs "
                                   f"{MIN_DECAY_POINTS} and an identifiable amplitude", predicted="beta > 0")
    beta, se, amplitude, birge, n = fit
    nu = float(np.min(np.asarray(dof, float))) if birge == 1.0 else float(n - 2)
    q = t_quantile(alpha, 1, nu)
    ci = (beta - q * se, beta + q * se)
    verdict = interval_verdict(ci, 0.0, np.inf)
    needed = runs_needed(beta, se, runs, 0.0, alpha=alpha) if verdict == "inconclusive" else None
    return Claim(name=name, predicted="beta > 0", measured=beta, ci=list(ci), rule=rule, verdict=verdict,
                 test=f"beta {beta:.3g}, CI [{ci[0]:.3g}, {ci[1]:.3g}] > 0 over {n} points (amplitude {amplitude:.3g}, "
                      f"Birge ratio {birge:.3g}, dof {nu:.3g})",
                 needed=needed, runs=runs)


def limit_claim(name: str, pts: list[dict], x_key: str, *, alpha: float, rtol: float | None = None,
                target: str = "G_limit", target_se: str | None = "G_limit_se",
                target_dof: str | None = None) -> Claim:
    """G at the largest ``x_key`` against its limit ``target`` (one point per seed).

    With ``rtol``: equivalence, the fixed-effects mean over seeds of ``(G − target)/target`` (SE from the
    points' Monte Carlo errors, Welch dof) inside ±rtol by two one-sided tests (:func:`verify.rules.equivalent`):
    a precise estimator resolves any finite-size bias, so equivalence within a stated margin is the claim that
    can hold. Without ``rtol``: agreement, ``Σ_seeds z² ≤ χ²_S(1 − alpha)`` (:func:`verify.rules.agree_chi2`).
    """
    top = max(q[x_key] for q in pts)
    qs = [q for q in select(pts, **{x_key: top}) if np.isfinite(q["G"]) and np.isfinite(q[target])]
    if not qs:
        return missing_claim(name, f"no finite G and {target} at {x_key} {top}", predicted=f"G -> {target}")
    G = np.array([q["G"] for q in qs])
    lim = np.array([q[target] for q in qs])
    se_lim = np.array([q.get(target_se) or 0.0 for q in qs]) if target_se else np.zeros(len(qs))
    se_G = np.array([q["G_se"] for q in qs])
    if rtol is None:
        return agree_chi2(name, G, se_G, lim, pred_se=se_lim, alpha=alpha, dof=dof_of(qs),
                          pred_dof=dof_of(qs, target_dof) if target_dof else np.inf,
                          what=f"G at {x_key} {top} vs {target}, one term per seed")
    rel = G / lim - 1
    rel_var = (se_G ** 2 + (G / lim) ** 2 * se_lim ** 2) / lim ** 2  # delta method
    se = float(np.sqrt(rel_var.sum()) / len(qs))
    nu = welch_combination_dof(rel_var, dof_of(qs))
    claim = equivalent(name, float(rel.mean()), se, rtol, alpha=alpha, dof=nu,
                       what=f"fixed-effects mean over {len(qs)} seed(s) of (G - {target})/{target} at {x_key} {top} "
                            "(SE from the Monte Carlo errors of these problems' estimates)")
    claim.runs = len(qs)
    if claim.verdict == "inconclusive":
        claim.needed = runs_needed(float(rel.mean()), se, len(qs), -rtol, rtol, alpha=2 * alpha)
    return claim
