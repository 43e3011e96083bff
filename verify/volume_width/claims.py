"""The claims of ``volume_width`` (``CLAIMS``) and how they are judged, each at the level ``params["alpha"]``
the engine hands over (Holm's step-down across the claims is the engine's). Cells = digit pairs × data seeds;
a configuration = (n, depth); means over cells (and configurations where said) with their Monte Carlo SEs
(fixed effects: the cells are the question's). Differences of accuracies have their intervals clipped to
[−1, 1]; an inconclusive claim says in ``needed`` how many data seeds per pair would decide it."""
from __future__ import annotations

import numpy as np

from verify.rules import agree, equivalent, interval_claim, missing_claim, runs_needed, welch_combination_dof
from verify.verdicts import Claim, ClaimSpec, registry
from verify.volume_width.pooled import (clean, configs, distance_fit, finite_rows, mean_difference, pooled_distances,
                                        select, width_distances)
from verify.volume_width.sweep import HOMOGENEOUS

PELEG_HEIN = "Peleg & Hein, ICML 2024, 'Bias of Stochastic Gradient Descent or the Architecture'"
OURS = "this package (NNGP orthant-posterior limit of G&C on real inputs)"
PREREGISTERED = "preregistered: stated with the check's rules before its first run"
ROUNDING_SE = 1e-9  # the one-hot limit's accuracy is exactly 1/2 in every posterior draw; SE 0 up to round-off
ACCURACY_DIFF = (-1.0, 1.0)

CLAIMS = registry(
    ClaimSpec("distance_shrinks", "extension", OURS,
              provenance="no threshold: the sign of a trend (least-squares slope of Δ² − SE² on log2 width)"),
    ClaimSpec("bits_distance_shrinks", "extension", OURS, provenance="no threshold: the sign of a trend"),
    ClaimSpec("equivalent_at_largest_width", "extension", OURS, provenance=f"tolerance (accuracy): {PREREGISTERED}"),
    ClaimSpec("bits_approach_limit", "extension", OURS, provenance=f"bits_tolerance: {PREREGISTERED}"),
    ClaimSpec("prior_scale_invariance", "control",
              "exact fact: zero biases and a positively homogeneous activation make every sign scale-free"),
    ClaimSpec("gnc_flat_in_width", "published",
              f"{PELEG_HEIN}: G&C's test accuracy flat in width (within ±1.6 points from width 1/6 to 1)",
              provenance="flat_tolerance 0.016: Peleg & Hein's reported range"),
    ClaimSpec("sgd_rises_with_width", "published", f"{PELEG_HEIN}: SGD's test accuracy rises with width (3–18 points)"),
    ClaimSpec("depth_hurts_gnc", "published", f"{PELEG_HEIN}: depth lowers G&C's test accuracy"),
    ClaimSpec("depth_hurts_sgd", "published", f"{PELEG_HEIN}: depth lowers SGD's test accuracy"),
    ClaimSpec("depth_trend_nngp", "extension", f"{OURS}; Peleg & Hein's depth trend carried to the limit"),
    ClaimSpec("identity_inputs_at_chance", "control",
              "exact identity (Alexander et al. 2025's width-theorem setting): one-hot inputs and balanced test "
              "labels give test accuracy 1/2 at every width and in the limit"),
    ClaimSpec("digits_limit_above_chance", "control",
              "sanity control: the limit on real inputs is informative (0.86–0.91 measured), unlike one-hot inputs"),
)


def _stamp(claim: Claim) -> Claim:
    if claim.verdict == "inconclusive" and not claim.needed:
        claim.needed = "finite estimates and SEs at every point the rule compares (a non-finite value entered it)"
    return CLAIMS[claim.name.split("[")[0]](claim)


SEEDS = "data seeds per pair"  # the unit --until-decisive grows


def _seeds_needed(estimate, se, p, low=-np.inf, high=np.inf, *, alpha) -> str:
    """``needed`` in data seeds per pair, or why none can say."""
    return (runs_needed(estimate, se, p["seeds"], low, high, alpha=alpha, unit=SEEDS)
            or "usable data at more widths, cells or runs")


def _difference_claim(name, diff, se, dof, p, *, low=-np.inf, high=np.inf, what) -> Claim:
    """A difference of accuracies against a sign (open interval rule, CI clipped to [−1, 1])."""
    claim = interval_claim(name, diff, se, low, high, alpha=p["alpha"], dof=dof, runs=p["seeds"],
                           bounds=ACCURACY_DIFF, what=what, runs_unit=SEEDS)
    if claim.verdict == "inconclusive" and not claim.needed:
        claim.needed = _seeds_needed(diff, se, p, low, high, alpha=p["alpha"])
    return claim


def _tost(name, diff, se, dof, tolerance, p, *, what, bounds=None) -> Claim:
    claim = equivalent(name, diff, se, tolerance, alpha=p["alpha"], dof=dof, what=what, bounds=bounds,
                       runs=p["seeds"], unit=SEEDS)
    if claim.verdict == "inconclusive" and not claim.needed:
        claim.needed = _seeds_needed(diff, se, p, -tolerance, tolerance, alpha=p["alpha"])
    return claim


def judge(rows: list[dict], p: dict) -> list[Claim]:
    rows = clean(rows)
    pooled = pooled_distances(rows)
    claims = [distance_claim("distance_shrinks", pooled, p),
              distance_claim("bits_distance_shrinks", pooled, p, key="bits_diff", se_key="bits_se")]
    for n, depth in configs(rows):
        tag = f"[n={n},depth={depth}]"
        last = width_distances(rows, n, depth)[-1]
        claims.append(_tost(f"equivalent_at_largest_width{tag}", last["diff"], last["se"], last["dof"], p["tolerance"],
                            p, bounds=ACCURACY_DIFF,
                            what=f"acc_G&C − acc_NNGP at width {last['width']} (mean over cells)"))
        claims.append(_tost(f"bits_approach_limit{tag}", last["bits_diff"], last["bits_se"], last["bits_dof"],
                            p["bits_tolerance"], p, what=f"bits_G&C − (−log2 P(orthant)) at width {last['width']}"))
    claims.append(invariance_claim(rows, p))
    claims.extend(width_trend_claims(rows, p))
    for method, name in (("gnc_rb", "depth_hurts_gnc"), ("sgd", "depth_hurts_sgd"), ("nngp", "depth_trend_nngp")):
        claims.append(depth_claim(rows, method, name, p))
    claims.extend(contrast_claims(rows, p))
    return [_stamp(c) for c in claims]


def distance_claim(name: str, dist: list[dict], p: dict, key: str = "diff", se_key: str = "se") -> Claim:
    """G&C's distance to its limit shrinks with width: the least-squares slope of ``Δ_k² − SE_k²`` on log2 k
    over every width (``pooled.distance_fit``) has its (1 − alpha) CI below 0: pass; above 0: fail (the
    distance grows); straddling 0 — e.g. G&C at its limit within the SEs at every width — inconclusive."""
    quantity = "acc_G&C(k) − acc_NNGP" if key == "diff" else "bits_G&C(k) − (−log2 P(orthant))"
    fit = distance_fit(dist, p["alpha"], key, se_key)
    if fit is None:
        return missing_claim(name, f"{len(dist)} width(s) with a finite distance; the trend needs 3", predicted="< 0")
    claim = interval_claim(name, fit.slope, fit.slope_se, high=0.0, alpha=p["alpha"], dof=fit.dof, runs=p["seeds"],
                           predicted="< 0",
                           what=(f"the least-squares slope of D_k = Δ_k² − SE_k² on log2 k over all {fit.n_points} "
                                 f"widths, Δ_k = {quantity} (mean over cells and (n, depth))"))
    if claim.verdict == "inconclusive":
        claim.needed = _seeds_needed(fit.slope, fit.slope_se, p, high=0.0, alpha=p["alpha"])
    return claim


def width_trend_claims(rows, p) -> list[Claim]:
    """Peleg & Hein: G&C flat in width (TOST within ±flat_tolerance), SGD rising (CI above 0); the difference
    acc(largest width) − acc(smallest width ≥ flat_from) per cell and (n, depth), averaged."""
    out = []
    for method, name in (("gnc_rb", "gnc_flat_in_width"), ("sgd", "sgd_rises_with_width")):
        pairs = []
        for n, depth in configs(rows):
            sel = finite_rows(select(rows, method=method, role="sweep", inputs="digits", n=n, depth=depth))
            ws = [w for w in sorted({r["width"] for r in sel}) if w >= p["flat_from"]]
            if len(ws) < 2:
                continue
            for big in select(sel, width=ws[-1]):
                small = [r for r in select(sel, width=ws[0]) if r["cell"] == big["cell"]
                         and r["data_seed"] == big["data_seed"]]
                if small:
                    pairs.append((big, small[0]))
        if not pairs:
            out.append(missing_claim(name, _missing_reason(rows, method, p), predicted="> 0" if method == "sgd" else
                                     f"|diff| < {p['flat_tolerance']:g}"))
            continue
        diff, se, dof = mean_difference(pairs)
        span = f"widths {pairs[0][1]['width']} → {pairs[0][0]['width']}"
        what = f"acc(largest) − acc(smallest), {span}, mean over {len(pairs)} (cell, n, depth)"
        if method == "gnc_rb":
            out.append(_tost(name, diff, se, dof, p["flat_tolerance"], p, bounds=ACCURACY_DIFF,
                             what=f"Peleg & Hein: G&C flat in width; {what}"))
        else:
            out.append(_difference_claim(name, diff, se, dof, p, low=0.0, what=f"SGD's {what}"))
    return out


def _missing_reason(rows, method, p) -> str:
    if method != "sgd":
        return f"fewer than 2 widths >= flat_from = {p['flat_from']} with a finite G&C estimate"
    sgd = select(rows, method="sgd", role="sweep")
    fitted = sum(int(r.get("fitted", 0)) for r in sgd)
    total = sum(int(r.get("runs", 0)) for r in sgd)
    return (f"{fitted} of {total} SGD runs reached 100 % training accuracy; fewer than 2 widths >= "
            f"{p['flat_from']} have >= 2 fitted runs in some cell")


def invariance_claim(rows, p) -> Claim:
    """Exact fact: G&C's test accuracy and bits at every scale of ``invariance_scales`` equal those at the first
    (``agree``: Bonferroni over the 2 (scales − 1) comparisons, independent draws). ``invariance_bias=true`` is
    the control where the invariance is broken."""
    inv = sorted(select(rows, role="invariance"), key=lambda r: p["invariance_scales"].index(r["scale"])
                 if r["scale"] in p["invariance_scales"] else 0)
    if len(inv) < 2:
        return missing_claim("prior_scale_invariance", f"exact only for homogeneous activations "
                             f"({', '.join(HOMOGENEOUS)}); not run for {p['activation']}", predicted="equal laws")
    ref = inv[0]
    meas, se, pred, pse = [], [], [], []
    for r in inv[1:]:
        for key, sk in (("test_acc_mean", "test_acc_se"), ("bits", "bits_se")):
            meas.append(r[key]), se.append(r[sk]), pred.append(ref[key]), pse.append(ref[sk])
    return agree("prior_scale_invariance", meas, se, pred, pred_se=pse, alpha=p["alpha"],
                 what=(f"test accuracy and bits of G&C at prior scales {[r['scale'] for r in inv]} "
                       f"(width {ref['width']}, n {ref['n']}, bias={ref['bias']}, {ref['activation']}) equal those "
                       f"at scale {ref['scale']:g}; exact when bias=False and the activation is homogeneous"))


def depth_claim(rows, method: str, name: str, p: dict) -> Claim:
    """acc(deepest) − acc(shallowest), mean over cells and n (G&C and SGD: at the largest width both depths
    share); CI below 0: pass; above 0: fail (the published claim does not hold here); else inconclusive."""
    depths = sorted(int(d) for d in p["depth"])
    if len(depths) < 2:
        return missing_claim(name, "one depth only: the trend needs two", predicted="< 0")
    d1, d2 = depths[0], depths[-1]
    sel = finite_rows(select(rows, method=method, role="sweep", inputs="digits"))
    shared = {x["width"] for x in sel if x["depth"] == d2} & {x["width"] for x in sel if x["depth"] == d1}
    if method != "nngp" and not shared:
        return missing_claim(name, f"no width with usable {method} estimates at both depths {d1} and {d2}",
                             predicted="< 0")
    common = max(shared) if method != "nngp" else None
    pairs = []
    for r in sel:
        if r["depth"] != d2 or (method != "nngp" and r["width"] != common):
            continue
        match = [x for x in sel if x["depth"] == d1 and x["cell"] == r["cell"] and x["data_seed"] == r["data_seed"]
                 and x["n"] == r["n"] and x.get("width") == r.get("width")]
        if match:
            pairs.append((r, match[0]))
    if not pairs:
        return missing_claim(name, f"no (cell, n) with usable {method} estimates at depths {d1} and {d2}",
                             predicted="< 0")
    diff, se, dof = mean_difference(pairs)
    where = "" if method == "nngp" else f" at width {common}"
    return _difference_claim(name, diff, se, dof, p, high=0.0,
                             what=f"acc(depth {d2}) − acc(depth {d1}) for {method}{where}, mean over {len(pairs)} (cell, n)")


def contrast_claims(rows, p) -> list[Claim]:
    """Controls. One-hot inputs (matrix factorization's): with balanced test labels every test point has the
    same conditional law, so the test accuracy is exactly 1/2 at every width and in the limit (``agree`` with
    the limit's SE floored at round-off). Real inputs: the mean over (cell, n, depth) of the limit's accuracy
    has its (1 − alpha) CI above 1/2."""
    ident = [r for r in rows if r["inputs"] == "identity"]
    out = []
    if ident:
        spread = max((r["kernel_offdiag_spread"] for r in ident if r["method"] == "nngp"), default=float("nan"))
        out.append(agree("identity_inputs_at_chance", [r["test_acc_mean"] for r in ident],
                         [max(r["test_acc_se"], ROUNDING_SE) for r in ident], 0.5, alpha=p["alpha"],
                         dof=[r.get("se_dof", np.inf) for r in ident],
                         what=(f"one-hot inputs (matrix factorization): NNGP limit and G&C at widths "
                               f"{sorted(r['width'] for r in ident if r['method'] == 'gnc_rb')} at chance 1/2; "
                               f"limit kernel a I + b 11ᵀ (off-diagonal spread {spread:.2g} of the diagonal)")))
    else:
        out.append(missing_claim("identity_inputs_at_chance", "needs a homogeneous activation or a Gaussian prior "
                                 "for the exact one-hot kernel", predicted=0.5))
    lim = finite_rows([r for r in rows if r["method"] == "nngp" and r["inputs"] == "digits"])
    if not lim:
        out.append(missing_claim("digits_limit_above_chance", "no finite NNGP limit on the real inputs", predicted="> 0.5"))
        return out
    mean = float(np.mean([r["test_acc_mean"] for r in lim]))
    terms = np.array([r["test_acc_se"] ** 2 for r in lim]) / len(lim) ** 2
    dof = welch_combination_dof(terms, [r.get("se_dof", np.inf) for r in lim])
    out.append(interval_claim("digits_limit_above_chance", mean, float(np.sqrt(terms.sum())), 0.5, alpha=p["alpha"],
                              dof=dof, bounds=(0.0, 1.0),
                              what=f"the NNGP limit's test accuracy on the real inputs, mean over {len(lim)} "
                                   "(cell, n, depth)"))
    return out


__all__ = ["CLAIMS", "judge", "distance_claim", "width_trend_claims", "depth_claim", "contrast_claims",
           "invariance_claim"]
