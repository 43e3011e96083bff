"""Summaries of the rows of ``which_minimizer``, shared by the judge and the figure."""
from __future__ import annotations

import math

import numpy as np

from verify import rules
from verify.which_minimizer.sweep import LAWS

FLOW_FLOOR = 1e-8  # distances to the AdaGrad-flow limit at or below are within its solver accuracy: not fitted


def rows_of(rows, kind):
    return [r for r in rows if r["kind"] == kind]


def fit_a_plus_c_alpha2(alphas: np.ndarray, mse: np.ndarray) -> tuple[float, float, float]:
    """Least-squares fit of ``mse ≈ A + C α²``: (A, C, max relative residual)."""
    design = np.column_stack([np.ones_like(alphas), alphas ** 2])
    (A, C), *_ = np.linalg.lstsq(design, mse, rcond=None)
    return float(A), float(C), float(np.max(np.abs(mse - design @ [A, C]) / mse))


def a2_summary(rows: list[dict], alphas) -> dict:
    """Means over the inits of the A2 pairs, the A + Cα² fit, per-pair C, and the linear-term statistics."""
    alphas = np.asarray(alphas, dtype=float)
    inits = sorted(rows_of(rows, "a2_init"), key=lambda r: (r["pair"], -r["sign"]))
    mean = {key: np.mean([r[key] for r in inits], axis=0) for key in ("mse", "mse_centered", "mse_doubled")}
    A, C, residual = fit_a_plus_c_alpha2(alphas, mean["mse"])
    pair_C = np.array([fit_a_plus_c_alpha2(alphas, (np.asarray(a["mse"]) + np.asarray(b["mse"])) / 2)[1]
                       for a, b in zip(inits[::2], inits[1::2])])
    B = {law: np.array([r["B"] for r in rows_of(rows, "a2_linear_term") if r["law"] == law]) for law in LAWS}
    B_stats = {law: [float(np.mean(b)), float(np.std(b, ddof=1) / math.sqrt(len(b)))] for law, b in B.items()}
    return {"alphas": alphas, "mean": mean, "A": A, "C": C, "fit_residual": residual, "pair_C": pair_C,
            "A_theory": float(np.mean([r["A"] for r in inits])), "C_theory": float(np.mean([r["C"] for r in inits])),
            "converged": all(r["converged"] for r in inits), "n_inits": len(inits), "B": B, "B_stats": B_stats}


def adagrad_summary(rows: list[dict], level: float) -> dict:
    """The learning rates, the distances to the flow limit (problems × lrs), their geometric mean and its fit
    (interval at ``level``)."""
    problems = sorted(rows_of(rows, "adagrad_problem"), key=lambda r: r["problem"])
    lrs = np.asarray(problems[0]["lrs"], dtype=float)
    to_flow = np.array([r["to_flow"] for r in problems])
    converged = all(r["converged"] for r in problems)
    return {"lrs": lrs, "to_flow": to_flow, "to_flow_geomean": np.exp(np.mean(np.log(to_flow), axis=0)),
            "converged": converged, "fit": lr_fit(lrs, to_flow, converged, level)}


def lr_fit(lrs: np.ndarray, to_flow: np.ndarray, converged: bool, level: float):
    """The OLS log-log fit of the geometric mean (over problems) distance to the flow limit against the
    learning rate, over the learning rates where every distance exceeds ``FLOW_FLOOR``; None with fewer than
    3 such learning rates or a run that did not converge."""
    keep = np.all(to_flow > FLOW_FLOOR, axis=0)
    if keep.sum() < 3 or not converged:
        return None
    return rules.fit_loglog_slope(lrs[keep], np.exp(np.mean(np.log(to_flow[:, keep]), axis=0)), level=level)


def gap_summary(rows: list[dict], level: float) -> dict:
    """Per width: the mean gap over inits and its standard error; the log-log fit (interval at ``level``)."""
    runs = rows_of(rows, "gap_run")
    widths = sorted({r["width"] for r in runs})
    gaps = [[r["gap"] for r in runs if r["width"] == w] for w in widths]
    means = np.array([np.mean(g) for g in gaps])
    ses = np.array([np.std(g, ddof=1) / math.sqrt(len(g)) for g in gaps])
    dof = min(len(g) for g in gaps) - 1  # replicate SEs: R − 1 degrees of freedom (OLS, Welch dof; rules.fit_linear)
    return {"widths": np.array(widths), "gaps": gaps, "mean": means, "se": ses,
            "dof": dof, "fit": rules.fit_loglog_slope(widths, means, ses, level=level, dof=dof)}
