"""Claims of the width check (Alexander et al. 2025, Theorem 1 and Figure 1; this package's NNGP extension).

Claims and their rules (each at family-wise level ``alpha``, default 1e-3):
- ``chance_mc_matches_closed_form``: at every point where the closed form is exact (linear σ, or depth 2),
  the Monte Carlo chance level agrees with it within a Bonferroni z-interval.
- ``gap_shrinks[σ, d, ε]`` (σ antisymmetric): the relative gap ``Δ_k = (C_k − G_k)/C_k`` averaged over seeds
  has a weighted log-log slope in k whose (1 − alpha) CI lies below 0; fitted on widths whose mean gap is
  above 3 standard errors (at least 3 of them, else inconclusive). Standard errors are Monte Carlo errors
  given the drawn problems. The exponent is reported, not asserted.
- ``distance_to_limit_shrinks[σ, d, ε]`` (σ not antisymmetric): the same fit and rule for the relative
  distance ``|G_k − G_∞|/G_∞`` to the leaky-ReLU NNGP limit.
- ``limit_at_largest_width[σ, d, ε]``: at the largest width, every seed's G is within ``limit_rtol``
  (default 1%) of its infinite-width limit G_∞ (chance for linear/tanh, the NNGP value for leaky ReLU): an
  equivalence test (TOST per seed, Bonferroni over seeds) of ``(G − G_∞)/G_∞`` against ±``limit_rtol`` — pass
  if every interval lies inside, fail if one lies wholly outside, else inconclusive — since a precise
  estimator resolves the O(1/k) finite-width bias at any finite k.
- ``not_chance_at_largest_width[σ, d, ε]`` (σ not antisymmetric): "G = chance" at that width is rejected by
  the chi-square test (pass); not rejecting it is inconclusive (too little power), not a failure.
- Effective sample size: with ``method=auto``, a point whose rbis ESS is below ``min_ess`` (default 100) is
  redone by tempered SMC (``numerics.gnc.estimate``; sizes ``smc_particles``, ``smc_moves``, ``smc_replicates``,
  also used by ``method=smc|nested``; the record's ``method_note`` says so); points still below
  ``min_ess`` are left out of the rules (their standard errors are not trustworthy); a claim without enough
  points is ``inconclusive``. Quantiles are Student t with each point's ``se_dof`` (SMC: replicates − 1),
  normal in the large-sample limit; a width's seed-mean gap gets the Welch–Satterthwaite dof of its seeds, and
  the slope fits use them as ``verify.rules.fit_linear`` says (OLS below 100 dof).
- ``gd_far_below_chance[σ, d]`` (σ antisymmetric; Proposition 1 is about linear σ): at every width the
  median over seeds of the GD baseline's L_gen is at most ``gd_factor`` (default 0.1) times the chance
  level; non-converged runs count as failures. Leaky ReLU's GD numbers are recorded and drawn, not judged.
With all predictions true, the false-failure rate is at most ``alpha`` per statistical claim.
"""
from __future__ import annotations

import numpy as np

from numerics.activations import parse_activation
from verify.gnc.baseline import gd_claim
from verify.gnc.records import chance_of, dof_of, select
from verify.report import Claim
from verify.rules import agree, agree_chi2, fit_loglog_slope, interval_verdict, slope_negative, t_quantile, welch_combination_dof
from verify.width_theorem.sweep import joined


def judge(rows: list[dict], p: dict) -> list[Claim]:
    return build_claims(joined(rows), [parse_activation(a) for a in p["activations"]], p)


def _seed_mean(values, ses):
    values, ses = np.asarray(values, float), np.asarray(ses, float)
    return float(np.mean(values)), float(np.sqrt(np.sum(ses ** 2)) / len(values))


def build_claims(points: list[dict], activations, p: dict) -> list[Claim]:
    alpha = p["alpha"]
    claims = []
    # an estimate with fewer than min_ess effective samples has no trustworthy standard error
    points = [q if q.get("ess", np.inf) >= p["min_ess"] else {**q, "G": float("nan")} for q in points]
    exact = [q for q in points if np.isfinite(q["chance_closed_form"])]
    if exact:
        claims.append(agree("chance_mc_matches_closed_form", [q["C"] for q in exact], [q["C_se"] for q in exact],
                            [q["chance_closed_form"] for q in exact], alpha=alpha,
                            what="Monte Carlo E_prior[L_gen] vs [tr(P⊥ Σ_W) + ‖P⊥W*‖²]/|B|"))
    for act in activations:
        for depth in p["depths"]:
            for eps in p["eps"]:
                pts = select(points, activation=str(act), depth=depth, eps=eps)
                if not pts:
                    continue
                tag = f"[{act}, d={depth}, eps={eps:g}]"
                if act.antisymmetric:
                    claims.append(gap_claim(f"gap_shrinks{tag}", pts, alpha))
                if not act.antisymmetric:
                    claims.append(distance_claim(f"distance_to_limit_shrinks{tag}", pts, alpha))
                claims.append(limit_claim(f"limit_at_largest_width{tag}", pts, alpha, p["limit_rtol"]))
                if not act.antisymmetric:
                    claims.append(not_chance_claim(f"not_chance_at_largest_width{tag}", pts, alpha))
            if p["gd"] and act.antisymmetric:
                claims.append(gd_claim(f"gd_far_below_chance[{act}, d={depth}]",
                                       select(points, activation=str(act), depth=depth, eps=p["eps"][0]),
                                       p["gd_factor"]))
    return claims


def relative_gaps(pts: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Widths, seed-averaged Δ_k = (C_k − G_k)/C_k, its Monte Carlo standard error and that SE's
    Welch–Satterthwaite degrees of freedom (each seed's G_se has its ``se_dof``; C's SE is large-sample)."""
    widths = sorted({q["width"] for q in pts})
    gaps, ses, dofs = [], [], []
    for k in widths:
        qs = select(pts, width=k)
        terms = np.array([np.hypot(q["G_se"], 0 if np.isfinite(q["chance_closed_form"]) else q["C_se"])
                          / chance_of(q) for q in qs])
        gap, se = _seed_mean([(chance_of(q) - q["G"]) / chance_of(q) for q in qs], terms)
        gaps.append(gap)
        ses.append(se)
        dofs.append(welch_combination_dof(terms ** 2, dof_of(qs)))
    return np.array(widths), np.array(gaps), np.array(ses), np.array(dofs)


def distance_claim(name: str, pts: list[dict], alpha: float) -> Claim:
    """The relative distance |G_k − G_∞|/G_∞ shrinks with k (same fit and rule as the gap to chance)."""
    return gap_claim(name, _distance_points(pts), alpha)


def _distance_points(pts: list[dict]) -> list[dict]:
    """Points rewritten so that ``relative_gaps`` measures |G − G_∞|/G_∞ instead of (C − G)/C."""
    return [{**q, "G": q["G_limit"] - abs(q["G"] - q["G_limit"]), "chance_closed_form": q["G_limit"],
             "G_se": np.hypot(q["G_se"], q.get("G_limit_se") or 0.0)} for q in pts]


def gap_claim(name: str, pts: list[dict], alpha: float) -> Claim:
    widths, gaps, ses, dofs = relative_gaps(pts)
    keep = np.isfinite(gaps) & (gaps > 3 * ses)
    rule_extra = "fit on widths with mean gap > 3 SE"
    if keep.sum() < 3:
        return Claim(name=name, predicted="< 0", measured=None, ci=None, verdict="inconclusive",
                     rule=f"needs >= 3 widths with a significant gap; {rule_extra}",
                     test=f"{int(keep.sum())} width(s) with a gap > 3 SE < 3 needed")
    fit = fit_loglog_slope(widths[keep], gaps[keep], ses[keep], level=1 - alpha, dof=dofs[keep])
    return slope_negative(name, fit, level=1 - alpha, what=f"{rule_extra}; exponent reported, not asserted")


def limit_claim(name: str, pts: list[dict], alpha: float, rtol: float, target: str = "G_limit") -> Claim:
    """At the largest width every seed's G is within ``rtol`` of its ``target`` (an equivalence test).

    Per seed, the (1 − 2 alpha/S) confidence interval of the signed relative difference (G − target)/target
    (one-sided quantiles at alpha/S: two one-sided tests, Bonferroni over the S seeds) is compared with
    (−rtol, rtol) by :func:`verify.rules.interval_verdict`: pass if every seed's interval lies inside, fail if
    one lies wholly outside (a difference larger than the tolerance shown), else inconclusive. A precise
    estimator detects any finite-width bias, so "equal within the CI" would eventually fail at every finite
    width; equivalence within a stated tolerance is the claim that can hold.
    """
    k = max(q["width"] for q in pts)
    qs = select(pts, width=k)
    G = np.array([q["G"] for q in qs])
    target_vals = np.array([_target(q, target) for q in qs])
    se = np.hypot([q["G_se"] for q in qs], [q.get("G_limit_se", 0.0) or 0.0 for q in qs]
                  if target == "G_limit" else 0.0)
    z = t_quantile(2 * alpha, len(qs), dof_of(qs))  # one-sided bound at alpha / S
    rel = G / target_vals - 1
    lower, upper = (G - target_vals - z * se) / target_vals, (G - target_vals + z * se) / target_vals
    verdicts = [interval_verdict((lo, hi), -rtol, rtol) for lo, hi in zip(lower, upper)]
    verdict = "fail" if "fail" in verdicts else ("pass" if all(v == "pass" for v in verdicts) else "inconclusive")
    worst = float(np.max(np.maximum(np.abs(lower), np.abs(upper)))) if np.all(np.isfinite(upper + lower)) else np.nan
    return Claim(name=name, predicted=f"|G/{target} - 1| < {rtol:g}", measured=rel.tolist(),
                 ci=[float(np.min(lower)), float(np.max(upper))], verdict=verdict,
                 rule=f"at width {k}, for each of {len(qs)} seed(s) the {100 * (1 - 2 * alpha):g}% (TOST, Bonferroni) "
                      f"interval of (G - {target})/{target} inside +-{rtol:g}: pass; one wholly outside: fail; "
                      "else inconclusive; measured = relative differences",
                 test=f"max |end of interval| = {worst:.3g} < {rtol:g} (per seed: {', '.join(verdicts)})")


def not_chance_claim(name: str, pts: list[dict], alpha: float) -> Claim:
    """At the largest width, the hypothesis "G = chance" is rejected by the same chi-square test."""
    k = max(q["width"] for q in pts)
    qs = select(pts, width=k)
    return agree_chi2(name, [q["G"] for q in qs], [q["G_se"] for q in qs], [chance_of(q) for q in qs],
                      alpha=alpha, reject=True, dof=dof_of(qs),
                      what=f"G at width {k} vs chance, one term per seed: 'G -> chance' must be rejected")


def _target(q: dict, target: str) -> float:
    return chance_of(q) if target == "chance" else q[target]
