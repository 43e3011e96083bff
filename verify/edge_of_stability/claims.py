"""The claims of ``edge_of_stability`` and its judge (phase 1: the rules as before the split)."""
from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from verify.edge_of_stability.params import EOS_RANGE, SUB_CRITICAL, SUPER_CRITICAL
from verify.report import Claim

SHARPENING_PASS, SHARPENING_FAIL = 2.0, 1.2
EOS_BAND, EOS_REFUTED, EOS_GREY = (0.97, 1.15), 0.9, 0.97
SUB_S_TOL, SUB_NORM_TOL, SUPER_S_MAX = 0.02, 0.01, 1.1
RANK_MIN, RANK_MIN_RUNS = 0.8, 4
TRACK_MAX, TRACK_SCALE, DEPART_GROWTH, DEPART_POINTS = 0.1, 1.5, 1.5, 3
CF_PASS, CF_FAIL, CF_MIN_WINDOWS, CF_LAMBDA2 = (2 / 3, 1.5), (0.5, 2.0), 5, 1.9


def _seeds(rows) -> dict:
    """seed → (gradient-flow row, its GD runs sorted by η, its heavy-ball runs); only seeds whose flow
    reached the loss goal (the reference η_c needs it)."""
    out = {}
    for g in rows:
        if g["kind"] == "gradient_flow" and g["converged"]:
            runs = sorted((r for r in rows if r["seed"] == g["seed"] and r["kind"] == "gd"), key=lambda r: r["eta"])
            hb = sorted((r for r in rows if r["seed"] == g["seed"] and r["kind"] == "heavy_ball"), key=lambda r: r["eta"])
            out[g["seed"]] = (g, runs, hb)
    return out


def judge(rows: list[dict], params: dict) -> list[Claim]:
    seeds = _seeds(rows)
    skipped = sorted({r["seed"] for r in rows if r["kind"] == "gradient_flow"} - set(seeds))
    claims = [claim_sharpening(seeds), claim_fingerprint("eos_fingerprint", seeds, 1),
              claim_transition(seeds), claim_tradeoff(seeds), claim_tracking(seeds), claim_central_flow(seeds)]
    if params["heavy_ball_etas"]:
        claims.insert(2, claim_fingerprint("eos_fingerprint_heavy_ball", seeds, 2, params["momentum"]))
    if skipped:
        for c in claims:
            c.rule += f"; seeds {skipped} left out (their gradient flow did not reach the loss goal)"
    return claims


def claim_sharpening(seeds) -> Claim:
    ratios = {}
    for s, (g, runs, _) in seeds.items():
        small = [r for r in runs if r["eta_multiple"] <= SUB_CRITICAL and r["converged"]]
        if small:
            ratios[s] = small[0]["sharpness"] / small[0]["sharpness_initial"]
    rule = (f"per seed, S_end/S_0 of the smallest converged GD run with η <= {SUB_CRITICAL} η_c: all >= "
            f"{SHARPENING_PASS} pass; any < {SHARPENING_FAIL} (S within ±20 % or falling) fails; else inconclusive")
    vals = list(ratios.values())
    if not vals or len(vals) < len(seeds):
        verdict = "inconclusive"
    elif min(vals) < SHARPENING_FAIL:
        verdict = "fail"
    else:
        verdict = "pass" if min(vals) >= SHARPENING_PASS else "inconclusive"
    return Claim("progressive_sharpening", f">= {SHARPENING_PASS}", {str(k): v for k, v in ratios.items()}, None, rule,
                 verdict, test=f"min S_end/S_0 = {min(vals):.3g} >= {SHARPENING_PASS}" if vals else "no run with η <= 0.8 η_c")


def claim_fingerprint(name, seeds, which, beta: float = 0.0) -> Claim:
    """Claim 2 for GD (``which`` = 1: η/η_c) or heavy-ball (2: η/η_c^HB, threshold 2(1+β)/η)."""
    runs = [r for _, (g, gd, hb) in seeds.items() for r in (gd if which == 1 else hb)
            if EOS_RANGE[0] <= r["eta_multiple"] <= EOS_RANGE[1]]
    conv = [r for r in runs if r["converged"]]
    thr = "2/η" if which == 1 else f"2(1+β)/η (β = {beta:g})"
    rule = (f"GD runs with η in [{EOS_RANGE[0]}, {EOS_RANGE[1]}] η_c{'' if which == 1 else '^HB'}: every converged "
            f"one has ηS̄/2{'' if which == 1 else '(1+β)'} in {list(EOS_BAND)} (S̄ at the mean of the last iterates), "
            f"max_t S > {thr} and a loss increase in the last half of its steps (pass); ηS̄/2 < {EOS_REFUTED} or > "
            f"{EOS_BAND[1]}, no overshoot or a monotone late loss fails; [{EOS_REFUTED}, {EOS_GREY}) or fewer than 3 "
            f"converged runs (or fewer converged than not) is inconclusive")
    if which == 2:
        rule = "heavy-ball " + rule[3:]
    values = [r["eta_sharpness_half_avg"] for r in conv]
    measured = {"eta_S_half_avg": values, "eta_S_half_raw": [r["eta_sharpness_half"] for r in conv],
                "overshoot": [r["sharpness_max"] > r["threshold"] for r in conv],
                "late_loss_rises": [r["late_loss_rises"] for r in conv], "not_converged": len(runs) - len(conv)}
    bad = [r for r in conv if not (EOS_REFUTED <= r["eta_sharpness_half_avg"] <= EOS_BAND[1])
           or r["sharpness_max"] <= r["threshold"] or r["late_loss_rises"] == 0]
    grey = [r for r in conv if EOS_REFUTED <= r["eta_sharpness_half_avg"] < EOS_GREY]
    if bad:
        verdict = "fail"
    elif len(conv) < 3 or len(conv) < len(runs) - len(conv) or grey:
        verdict = "inconclusive"
    else:
        verdict = "pass"
    test = (f"ηS̄/2 in [{min(values):.4g}, {max(values):.4g}] vs band {list(EOS_BAND)} over {len(conv)} converged runs"
            if values else "no converged run in the EoS range")
    return Claim(name, list(EOS_BAND), measured, None, rule, verdict, test=test)


def claim_transition(seeds) -> Claim:
    sub_s, sub_n, sup, missing = [], [], [], []
    for s, (g, runs, _) in seeds.items():
        lo = [r for r in runs if r["eta_multiple"] <= SUB_CRITICAL and r["converged"]]
        hi = [r for r in runs if r["eta_multiple"] >= SUPER_CRITICAL and r["converged"]]
        if not lo or not hi:
            missing.append(s)
        sub_s += [abs(r["sharpness_avg"] / g["sharpness"] - 1) for r in lo]
        sub_n += [abs(r["avg_norm_l2"] / g["norm_l2"] - 1) for r in lo]
        sup += [r["eta_sharpness_half_avg"] for r in hi]
    rule = (f"η <= {SUB_CRITICAL} η_c: |S̄/s_GF − 1| <= {SUB_S_TOL:.0%} and |‖θ̄‖₂/‖θ_GF‖₂ − 1| <= {SUB_NORM_TOL:.0%}; "
            f"η >= {SUPER_CRITICAL} η_c: ηS̄/2 <= {SUPER_S_MAX} (converged runs); a violation fails; a seed without "
            f"converged runs on both sides is inconclusive")
    measured = {"max_rel_dev_S_below": max(sub_s, default=None), "max_rel_dev_norm_below": max(sub_n, default=None),
                "max_eta_S_half_above": max(sup, default=None), "seeds_missing_a_side": missing}
    violated = (any(v > SUB_S_TOL for v in sub_s) or any(v > SUB_NORM_TOL for v in sub_n)
                or any(v > SUPER_S_MAX for v in sup))
    verdict = "fail" if violated else ("inconclusive" if missing or not seeds else "pass")
    test = (f"max |S̄/s_GF − 1| = {max(sub_s, default=float('nan')):.3g} <= {SUB_S_TOL}, max |‖θ̄‖/‖θ_GF‖ − 1| = "
            f"{max(sub_n, default=float('nan')):.3g} <= {SUB_NORM_TOL}, max ηS̄/2 above = {max(sup, default=float('nan')):.4g} <= {SUPER_S_MAX}")
    return Claim("phase_transition", {"below": [SUB_S_TOL, SUB_NORM_TOL], "above": SUPER_S_MAX}, measured, None, rule,
                 verdict, test=test)


def _rho(x, y) -> float:
    if len(set(y)) < 2:
        return 0.0
    return float(spearmanr(x, y)[0])


def claim_tradeoff(seeds) -> Claim:
    per_seed, short = {}, []
    for s, (g, runs, _) in seeds.items():
        eos = [r for r in runs if r["eta_multiple"] >= SUPER_CRITICAL and r["converged"]]
        if len(eos) < RANK_MIN_RUNS:
            short.append(s)
            continue
        eta = [r["eta"] for r in eos]
        per_seed[str(s)] = {f"{pre}{k}": _rho(eta, [r[pre + k] for r in eos])
                            for pre, keys in (("", ("norm_l1", "norm_l2", "dist_init")), ("avg_", ("norm_l1", "norm_l2", "dist_init")))
                            for k in keys}
        per_seed[str(s)]["sharpness"] = _rho(eta, [r["sharpness"] for r in eos])
        per_seed[str(s)]["sharpness_avg"] = _rho(eta, [r["sharpness_avg"] for r in eos])
    rule = (f"per seed, over its converged GD runs with η >= {SUPER_CRITICAL} η_c (>= {RANK_MIN_RUNS} runs): Spearman "
            f"ρ(η, ‖θ‖₁) >= {RANK_MIN} and ρ(η, S) <= −{RANK_MIN} for the last iterate and the iterate average, in every "
            f"seed (pass); some seed with ρ(η, ‖θ‖₁) <= 0 or ρ(η, S) >= 0 fails; else inconclusive; ρ for ‖θ‖₂ and "
            f"‖θ − θ₀‖₂ reported")
    key_norm = [v[k] for v in per_seed.values() for k in ("norm_l1", "avg_norm_l1")]
    key_s = [v[k] for v in per_seed.values() for k in ("sharpness", "sharpness_avg")]
    if any(r <= 0 for r in key_norm) or any(r >= 0 for r in key_s):
        verdict = "fail"
    elif short or not per_seed:
        verdict = "inconclusive"
    else:
        verdict = "pass" if min(key_norm) >= RANK_MIN and max(key_s) <= -RANK_MIN else "inconclusive"
    test = (f"min ρ(η, ‖θ‖₁) = {min(key_norm):.3g} >= {RANK_MIN}, max ρ(η, S) = {max(key_s):.3g} <= −{RANK_MIN}"
            if per_seed else f"fewer than {RANK_MIN_RUNS} converged runs above {SUPER_CRITICAL} η_c")
    return Claim("norm_sharpness_tradeoff", [RANK_MIN, -RANK_MIN], {"per_seed": per_seed, "seeds_too_few_runs": short},
                 None, rule, verdict, test=test)


def claim_tracking(seeds) -> Claim:
    """Claim 6. Before t* GD should be as close to the flow as the Euler method is in the stable regime: its
    distance per unit η/η_c, d/(η/η_c), at most ``TRACK_SCALE`` times the largest of that seed's runs below
    0.8 η_c (GD's O(η) error; an absolute d <= ``TRACK_MAX`` is asked of those)."""
    sub, sup, missing = [], [], []
    for s, (g, runs, _) in seeds.items():
        below = [r for r in runs if r["converged"] and r.get("track_max") is not None and r["eta_multiple"] <= SUB_CRITICAL]
        sub += [r["track_max"] for r in below]
        if not below:
            missing.append(s)
            continue
        kappa = max(r["track_max"] / r["eta_multiple"] for r in below)
        for r in runs:
            if (r["converged"] and r.get("track_max") is not None and EOS_RANGE[0] <= r["eta_multiple"] <= EOS_RANGE[1]
                    and not r["starts_unstable"] and r["crossing_time"] is not None and r["track_max_before"]
                    and r["points_after"] >= DEPART_POINTS):
                sup.append((r["track_max_before"] / r["eta_multiple"] / kappa, r["distance_end"] / r["track_max_before"]))
    rule = (f"d(t) = ‖θ_GD(t) − θ_GF(t)‖/‖θ_GF(t) − θ₀‖ on the flow's time span: converged runs with η <= "
            f"{SUB_CRITICAL} η_c have max d <= {TRACK_MAX} (GD's O(η) Euler error); converged runs with η in "
            f"[{EOS_RANGE[0]}, {EOS_RANGE[1]}] η_c starting below 2/η track up to t* (S first >= 2/η): max_(t<=t*) d/(η/η_c) "
            f"<= {TRACK_SCALE} × the seed's largest d/(η/η_c) below {SUB_CRITICAL} η_c, and depart: d(end)/max_(t<=t*) d "
            f">= {DEPART_GROWTH} (>= {DEPART_POINTS} compared times after t*); a violation fails; fewer than 2 runs on "
            f"either side is inconclusive")
    measured = {"below_max_d": sub, "above_scaled_d_before_t_star": [a for a, _ in sup],
                "above_growth_after_t_star": [b for _, b in sup], "seeds_without_runs_below": missing}
    violated = (any(v > TRACK_MAX for v in sub) or any(a > TRACK_SCALE for a, _ in sup)
                or any(b < DEPART_GROWTH for _, b in sup))
    verdict = "fail" if violated else ("inconclusive" if len(sub) < 2 or len(sup) < 2 else "pass")
    test = (f"max d below = {max(sub, default=float('nan')):.3g} <= {TRACK_MAX}; max scaled d before t* = "
            f"{max((a for a, _ in sup), default=float('nan')):.3g} <= {TRACK_SCALE}; min growth after t* = "
            f"{min((b for _, b in sup), default=float('nan')):.3g} >= {DEPART_GROWTH}")
    return Claim("gd_tracks_gradient_flow", {"track_max": TRACK_MAX, "track_scale": TRACK_SCALE,
                                             "depart_growth": DEPART_GROWTH}, measured, None, rule, verdict, test=test)


def eligible_windows(seeds) -> list[dict]:
    return [w for _, (g, runs, _) in seeds.items() for r in runs if r["converged"]
            for w in r.get("central_flow", []) if eligible(w)]


def eligible(w) -> bool:
    """One unstable direction: λ₂ < 1.9/η (= 0.95 · 2/η), and a sharpening flow (σ² > 0)."""
    return w["lambda2"] < CF_LAMBDA2 / 2 * w["two_over_eta"] and w["sigma2"] > 0


def _median(values):
    return float(np.median(values)) if len(values) else None


def claim_central_flow(seeds) -> Claim:
    wins = eligible_windows(seeds)
    every = [w for _, (g, runs, _) in seeds.items() for r in runs if r["converged"] for w in r.get("central_flow", [])]
    all_w = {"windows": len(every), "lambda2_at_edge": sum(w["lambda2"] >= CF_LAMBDA2 / 2 * w["two_over_eta"] for w in every),
             "all_windows_variance_ratio_median": _median([w["variance_u"] / w["sigma2"] for w in every if w["sigma2"] > 0]),
             "all_windows_loss_ratio_median": _median([w["excess_loss"] / w["predicted_excess"] for w in every if w["sigma2"] > 0])}
    rule = (f"package's extension (central flow, one unstable direction): windows with λ₂ < {CF_LAMBDA2}/η and σ² > 0; "
            f"median of Var⟨θ_t − θ̄, u⟩/σ² and of (mean loss − L(θ̄))/(σ²/η) both in [{CF_PASS[0]:.3g}, {CF_PASS[1]:.3g}] "
            f"pass; either outside [{CF_FAIL[0]:.3g}, {CF_FAIL[1]:.3g}] fails; else, or < {CF_MIN_WINDOWS} windows, inconclusive")
    if len(wins) < CF_MIN_WINDOWS:
        return Claim("central_flow", 1.0, {"eligible_windows": len(wins), **all_w}, None, rule, "inconclusive",
                     test=f"{len(wins)} eligible windows < {CF_MIN_WINDOWS}")
    var_ratio = float(np.median([w["variance_u"] / w["sigma2"] for w in wins]))
    loss_ratio = float(np.median([w["excess_loss"] / w["predicted_excess"] for w in wins]))
    ratios = (var_ratio, loss_ratio)
    if any(not (CF_FAIL[0] <= v <= CF_FAIL[1]) for v in ratios):
        verdict = "fail"
    elif all(CF_PASS[0] <= v <= CF_PASS[1] for v in ratios):
        verdict = "pass"
    else:
        verdict = "inconclusive"
    return Claim("central_flow", 1.0, {"variance_ratio_median": var_ratio, "loss_ratio_median": loss_ratio,
                                       "eligible_windows": len(wins), **all_w}, list(CF_PASS), rule, verdict,
                 test=f"median ratios {var_ratio:.3g} (variance), {loss_ratio:.3g} (loss) in [{CF_PASS[0]:.3g}, {CF_PASS[1]:.3g}]")
