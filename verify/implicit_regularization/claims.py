"""Claims of ``implicit_regularization``: what is predicted, by whom (tier and source), and the rule.

Every claim is judged at ``params["alpha"]`` (the per-claim level the engine's Holm procedure hands in) and
stamped with its :data:`CLAIMS` spec. Rules (false-failure rate at most alpha/2 per boundary when the per-seed
values are normal, textbook t intervals; the flow orders are deterministic, see below):

- ``r_falls`` (extension): per seed, the OLS slope of log R on log lr (R at the epoch-averaged iterate when the
  training loss first is <= ``loss_goal``); the Student-t interval of the mean slope over seeds below 0 passes.
- ``penalty_matches`` (extension): per seed d = R_penalty / R_target − 1; TOST equivalence of the mean with
  ±``match_tolerance``.
- ``*_order`` (theorem): the observed order of the fixed-horizon error ‖θ_discrete(T) − θ_flow(T)‖ between the
  two finest step sizes whose errors are >= :data:`REFERENCE_MARGIN` × the RK4 reference's own error estimate (a
  point below it measures the reference, not the optimizer), with the interval its numerical error allows;
  inside order ± :data:`ORDER_TOLERANCE` passes, wholly outside fails. The errors are deterministic given the
  seed (no sampling noise, no alpha); a failure means a wrong order or a too-coarse ``*_h0``.
- ``adam_l1_sign`` (extension): per seed the slope of log ‖∇L‖₁ on log 1/(1−β₂) at matched loss; mean above 0.
- ``project_rmsprop_constant`` (published, the project's term taken literally): per seed the time-average of
  term / (ηP/4) over the recorded steps after the warm-up; the across-seed mean inside 1 ± ``constant_band``.
  (It replaces "every recorded point inside the band", whose pass probability fell with every point added.)
- ``equal_epoch_norm_*`` (control): the project's setting (lr 1e-3, equal epochs): SGD barely leaves its
  initialization, so ‖θ_adaptive‖₂ − ‖θ_SGD‖₂ > 0 holds by design; a fail means the reproduction is broken.
  ``sgd_displacement`` (diagnostic) shows why. The project's claim itself ("SGD favors smaller norms") would
  need a matched-loss comparison that SGD at lr 1e-3 cannot reach in the run: not judged.
"""
from __future__ import annotations

import numpy as np

from theory.implicit_regularizers import ADAM_HORIZON_ORDER, HEAVY_BALL_HORIZON_ORDER
from verify.implicit_regularization.params import MIN_POINTS
from verify.implicit_regularization.sweep import FLOW_FAMILIES, penalty_lambda
from verify.report import Claim
from verify.rules import equivalent, interval_verdict, mean_claim, missing_claim
from verify.verdicts import ClaimSpec, registry

ORDER_TOLERANCE = 0.2    # band of a fitted error order: predicted order ± 0.2
REFERENCE_MARGIN = 10.0  # an error counts only if it is >= 10x the RK4 reference's estimated error
WARM_EFOLDS = 3.0        # RMSProp's v counts as warmed up after 3/(1−β₂) steps (zero start weighs < e^-3)
FLOW_ORDERS = {"momentum": HEAVY_BALL_HORIZON_ORDER, "adam √ε≪|g|": ADAM_HORIZON_ORDER,
               "adam √ε≫|g|": ADAM_HORIZON_ORDER}
FLOW_KEYS = {"momentum": "momentum", "adam √ε≪|g|": "adam_small_eps", "adam √ε≫|g|": "adam_large_eps"}
SERIES = ("plain flow", "modified flow")
EPS_MACH = float(np.finfo(np.float64).eps)

SMITH = "Smith, Dherin, Barrett & De (ICLR 2021)"
GHOSH = "Ghosh, Lyu, Zhang & Wang (ICLR 2023)"
CATTANEO = "Cattaneo, Klusowski & Shigida (ICML 2024)"
PROJECT = "the modified-loss student project"
ORDER_PROVENANCE = (f"order from theory.implicit_regularizers; ±{ORDER_TOLERANCE:g} around it is this package's "
                    "band for fixed-horizon slope fits, not tuned on these data")


def _order_spec(family: str, series: str) -> ClaimSpec:
    key = f"{FLOW_KEYS[family]}_{'plain' if series == 'plain flow' else 'modified'}_order"
    if family == "momentum":
        source = (f"{GHOSH}, GD+M's modified loss (regularizer (1+β)/(1−β) times GD's); exact field "
                  "θ̇ = −(1−β)⁻¹∇[L + h(1+β)/(4(1−β)²)‖∇L‖²] by backward error analysis")
    else:
        source = (f"{CATTANEO}, the ℓ1 correction of Adam's modified flow; full-batch field with ε inside the "
                  "root derived in theory.implicit_regularizers")
    return ClaimSpec(key, "theorem", source, provenance=ORDER_PROVENANCE, deterministic=True)


CLAIMS = registry(
    ClaimSpec("r_falls", "extension",
              f"this package, from {SMITH} Sec. 2: SGD's modified loss C + (η/4m)Σ_k‖∇Ĉ_k‖² (the penalty on R "
              "grows with η, so R at matched loss falls)"),
    ClaimSpec("penalty_matches", "extension",
              f"{SMITH} Sec. 5 (explicit regularizer at a small lr recovers the large lr), formalized on R",
              provenance=("match_tolerance 0.15 and the target lr 0.4 (not the largest lr): calibrated on seed 0 "
                          "of the earlier version of this check (R at lr 0.1 ≈ 25 % above R at 0.4; R at the "
                          "largest lr scatters 3x); λ = target lr − small lr is this package's formalization. "
                          "Re-validated on fresh seeds 1 and 2 (quick): mean d −0.123 and −0.087 (seed 0: −0.067); "
                          "pooled over seeds 0-2 (18 SGD seeds) −0.092, 99 % CI [−0.152, −0.033]: the penalty "
                          "overshoots the target's R by ≈ 9 %, inside the margin in the mean but not shown "
                          "equivalent; seed 3, 48 SGD seeds (--until-decisive): −0.091, CI [−0.166, −0.017] at "
                          "2.1e-4")),
    *[_order_spec(f, s) for f in FLOW_FAMILIES for s in SERIES],
    ClaimSpec("adam_l1_sign", "extension",
              f"this package, from the sign of {CATTANEO}'s ℓ1 correction (anti-penalized when β₂ > β₁)"),
    ClaimSpec("project_rmsprop_constant", "published",
              f"{PROJECT}: its RMSProp term (η/4m)Σ_k‖s⊙∇C_k‖², taken literally (≈ ηP/4 when |g| ≫ ε)",
              provenance=("constant_band 0.25: this package's reading of 'approximately constant', set when the "
                          "check was written; not re-tuned")),
    ClaimSpec("equal_epoch_norm_rmsprop", "control", f"{PROJECT}'s setting (lr 1e-3, equal epochs), by design"),
    ClaimSpec("equal_epoch_norm_adam", "control", f"{PROJECT}'s setting (lr 1e-3, equal epochs), by design"),
    ClaimSpec("sgd_displacement", "diagnostic", f"{PROJECT}'s setting: how far SGD at lr 1e-3 moves"),
)


def judge(rows: list[dict], params: dict) -> list[Claim]:
    alpha = params["alpha"]
    claims = [r_falls_claim(rows, params, alpha), penalty_claim(rows, params, alpha)]
    for family in FLOW_FAMILIES:
        claims.extend(flow_claims(rows, family, alpha))
    claims.append(sign_claim(rows, params, alpha))
    claims.append(constant_term_claim(rows, params, alpha))
    claims.extend(norm_claims(rows, params, alpha))
    claims.append(displacement_claim(rows, params))
    return claims


def sgd_rows(rows, penalty: bool):
    return [r for r in rows if r["kind"] == "sgd" and (r["penalty"] > 0) == penalty]


def complete_seeds(runs) -> tuple[list[int], int]:
    """Seeds whose every run reached the loss goal, and the number of runs that did not."""
    seeds = sorted({r["replicate"] for r in runs})
    missing = sum(not r["reached"] for r in runs)
    return [s for s in seeds if all(r["reached"] for r in runs if r["replicate"] == s)], missing


def per_seed_slopes(runs, x_of, y_key: str, seeds) -> list[float]:
    """Per seed of ``seeds``, the OLS slope of log ``y_key`` on log x_of(row)."""
    out = []
    for s in seeds:
        pts = [r for r in runs if r["replicate"] == s]
        out.append(float(np.polyfit(np.log([x_of(r) for r in pts]), np.log([r[y_key] for r in pts]), 1)[0]))
    return out


def r_falls_claim(rows, params, alpha) -> Claim:
    name = "SGD: R at matched loss falls with the lr"
    runs = sgd_rows(rows, penalty=False)
    seeds, missing = complete_seeds(runs)
    what = (f"the per-seed OLS slope of log R on log lr (R = (1/m)Σ‖∇Ĉ_k‖² at the epoch-averaged iterate when "
            f"the training loss first is <= {params['loss_goal']:g})")
    if len(seeds) < 2:
        return CLAIMS["r_falls"](missing_claim(name, f"{missing} of {len(runs)} SGD runs did not reach loss "
                                                     f"{params['loss_goal']:g} in max_epochs; {len(seeds)} complete "
                                                     "seed(s), a mean needs 2", predicted="< 0"))
    claim = mean_claim(name, per_seed_slopes(runs, lambda r: r["lr"], "R", seeds), high=0.0, alpha=alpha, what=what)
    if missing:
        claim.rule += f"; {missing} run(s) that missed the loss goal dropped with their seed"
    return CLAIMS["r_falls"](claim)


def penalty_claim(rows, params, alpha) -> Claim:
    name = "explicit penalty at small lr reaches large-lr R"
    target, tol = params["penalty_target_lr"], params["match_tolerance"]
    large = {r["replicate"]: r for r in sgd_rows(rows, False) if r["lr"] == target}
    pen = {r["replicate"]: r for r in sgd_rows(rows, True)}
    pairs = [(pen[s]["R"], large[s]["R"]) for s in sorted(pen) if s in large and pen[s]["reached"]
             and large[s]["reached"]]
    lam = penalty_lambda(params)
    what = (f"d = R(lr {params['penalty_lr']:g} + penalty λ = {lam:.3g}) / R(lr {target:g}) − 1 per seed, "
            f"mean over {len(pairs)} seeds, Student t with {len(pairs) - 1} dof")
    if len(pairs) < 2:
        return CLAIMS["penalty_matches"](missing_claim(
            name, f"{len(pairs)} seed(s) where both the penalty run and lr {target:g} reached the loss goal; "
                  "a mean needs 2", predicted=f"|d| < {tol:g}"))
    d = np.array([a / b - 1 for a, b in pairs])
    se = float(d.std(ddof=1) / np.sqrt(d.size))
    claim = equivalent(name, float(d.mean()), se, tol, alpha=alpha, dof=d.size - 1, what=what, runs=int(d.size),
                       unit="seeds")
    return CLAIMS["penalty_matches"](claim)


def flow_series(rows, family):
    return sorted((r for r in rows if r["kind"] == "flow" and r["family"] == family), key=lambda r: r["halving"])


def flow_window(pts, series):
    """Step sizes, errors, and which errors are >= REFERENCE_MARGIN × the RK4 reference's own error."""
    steps = np.array([r["step"] for r in pts], float)
    errors = np.array([r[f"{series} error"] for r in pts], float)
    ref = np.array([r[f"{series} reference error"] for r in pts], float)
    window = np.isfinite(errors) & (errors > 0) & (errors >= REFERENCE_MARGIN * ref)
    return steps, errors, window


def order_band(family: str, series: str) -> tuple[float, float]:
    order = FLOW_ORDERS[family][series]
    return order - ORDER_TOLERANCE, order + ORDER_TOLERANCE


def local_orders(steps, errors) -> np.ndarray:
    """log(e_k/e_(k+1)) / log(h_k/h_(k+1)) between consecutive step sizes: the observed order of accuracy."""
    return np.log(errors[:-1] / errors[1:]) / np.log(steps[:-1] / steps[1:])


def numerical_error(pts, series) -> np.ndarray:
    """A bound on each measured error's own numerical error: the RK4 reference's Richardson estimate plus
    float64 round-off accumulated over the discrete run (n_steps × ε_mach × ‖θ(T)‖)."""
    ref = np.array([r[f"{series} reference error"] for r in pts], float)
    roundoff = np.array([r["n_steps"] * EPS_MACH * r.get("theta_l2", 0.0) for r in pts], float)
    return ref + roundoff


def flow_claims(rows, family, alpha=None) -> list[Claim]:
    """The observed order between the two finest step sizes whose errors are >= REFERENCE_MARGIN × their own
    numerical error, with the interval its numerical error allows (deterministic; no sampling noise, so
    ``alpha`` is not used): inside order ± ORDER_TOLERANCE passes, wholly outside fails."""
    pts = flow_series(rows, family)
    claims = []
    for series in SERIES:
        spec = CLAIMS[f"{FLOW_KEYS[family]}_{'plain' if series == 'plain flow' else 'modified'}_order"]
        order = FLOW_ORDERS[family][series]
        low, high = order_band(family, series)
        name = f"{family}: {series} error ~h^{order}"
        steps, errors, window = flow_window(pts, series)
        if window.sum() < MIN_POINTS:
            claims.append(spec(missing_claim(name, f"{int(window.sum())} of {len(pts)} step sizes have an error >= "
                                                   f"{REFERENCE_MARGIN:g}x the RK4 reference error; the test needs "
                                                   f"{MIN_POINTS}", predicted=[low, high])))
            continue
        idx = np.flatnonzero(window)
        h, e, delta = steps[idx], errors[idx], numerical_error(pts, series)[idx]
        orders = local_orders(h, e)
        ratio = np.log(h[-2] / h[-1])
        lo = float(np.log((e[-2] - delta[-2]) / (e[-1] + delta[-1])) / ratio)
        hi = float(np.log((e[-2] + delta[-2]) / (e[-1] - delta[-1])) / ratio)
        verdict = interval_verdict((lo, hi), low, high)
        rule = (f"observed order log(e_(K-1)/e_K)/log(h_(K-1)/h_K) at the two finest of {idx.size} step sizes "
                f"(errors >= {REFERENCE_MARGIN:g}x the RK4 reference error), with the interval its numerical error "
                f"allows (RK4 Richardson estimate + n·ε_mach·‖θ‖), inside ({low:g}, {high:g}): pass; wholly outside: "
                f"fail; deterministic (no sampling noise); local orders coarse→fine: "
                + ", ".join(f"{o:.3f}" for o in orders))
        if family != "momentum":
            rule += (f"; coordinates with |g| > 10√ε: {100 * pts[0]['frac_gradient_dominated_start']:.0f}% at θ0, "
                     f"{100 * pts[-1]['frac_gradient_dominated_end']:.0f}% at θ(T)")
        claims.append(spec(Claim(name=name, predicted=[low, high], measured=float(orders[-1]), ci=[lo, hi],
                                 rule=rule, verdict=verdict, runs=int(idx.size),
                                 test=f"order {orders[-1]:.4f}, interval [{lo:.4g}, {hi:.4g}] in ({low:g}, {high:g})")))
    return claims


def sign_claim(rows, params, alpha) -> Claim:
    name = "Adam: final ‖∇L‖₁ grows with β₂ at matched loss"
    runs = [r for r in rows if r["kind"] == "sign"]
    seeds, missing = complete_seeds(runs)
    what = (f"the per-seed OLS slope of log ‖∇L‖₁ on log 1/(1−β₂) (full-batch Adam, lr {params['sign_lr']:g}, "
            f"β₁ {params['sign_beta1']:g}, stopped at training loss <= {params['sign_goal']:g})")
    if len(seeds) < 2:
        return CLAIMS["adam_l1_sign"](missing_claim(name, f"{missing} of {len(runs)} Adam runs did not reach loss "
                                                          f"{params['sign_goal']:g}; {len(seeds)} complete seed(s), "
                                                          "a mean needs 2", predicted="> 0"))
    slopes = per_seed_slopes(runs, lambda r: 1 / (1 - r["beta2"]), "grad_l1", seeds)
    return CLAIMS["adam_l1_sign"](mean_claim(name, slopes, low=0.0, alpha=alpha, what=what))


def repro_rows(rows, optimizer=None):
    return [r for r in rows if r["kind"] == "repro" and (optimizer is None or r["optimizer"] == optimizer)]


def warm_step(params) -> float:
    return WARM_EFOLDS / (1 - params["repro_rmsprop_beta2"])


def constant_term_claim(rows, params, alpha) -> Claim:
    name = "project's RMSProp term ≈ constant ηP/4"
    band = params["constant_band"]
    warm = warm_step(params)
    per_seed = {}
    for r in repro_rows(rows, "rmsprop"):
        if r.get("project_rmsprop_term") is not None and r["step"] >= warm:
            per_seed.setdefault(r["replicate"], []).append(r["project_rmsprop_term"] / r["project_rmsprop_constant"])
    what = (f"the per-seed time-average of (η/4m)Σ‖s⊙∇C_k‖² / (ηP/4) over the recorded steps >= {warm:.0f} (v "
            f"warmed up; s = 1/(√v + ε), ε = {params['repro_eps']:g}, β₂ = {params['repro_rmsprop_beta2']:g})")
    if len(per_seed) < 2:
        return CLAIMS["project_rmsprop_constant"](missing_claim(
            name, f"{len(per_seed)} RMSProp seed(s) with a recorded step after the warm-up ({warm:.0f} steps); a "
                  "mean needs 2 (raise repro_epochs)", predicted=f"({1 - band:g}, {1 + band:g})"))
    values = [float(np.mean(per_seed[s])) for s in sorted(per_seed)]
    return CLAIMS["project_rmsprop_constant"](mean_claim(name, values, 1 - band, 1 + band, alpha=alpha, what=what))


def final_rows(rows) -> dict:
    return {(r["optimizer"], r["replicate"]): r for r in repro_rows(rows) if r.get("final")}


def norm_claims(rows, params, alpha) -> list[Claim]:
    finals = final_rows(rows)
    claims = []
    for opt in ("rmsprop", "adam"):
        name = f"equal epochs at lr {params['repro_lr']:g}: SGD's ‖θ‖₂ < {opt}'s"
        seeds = sorted(s for (o, s) in finals if o == opt and ("sgd", s) in finals)
        what = (f"Δ = ‖θ_{opt}‖₂ − ‖θ_SGD‖₂ after {params['repro_epochs']} epochs (same init and batches per seed, "
                f"{params['repro_label_noise']:.0%} label noise); by design, not at matched loss")
        d = [finals[(opt, s)]["theta_l2"] - finals[("sgd", s)]["theta_l2"] for s in seeds]
        claims.append(CLAIMS[f"equal_epoch_norm_{opt}"](mean_claim(name, d, low=0.0, alpha=alpha, what=what)))
    return claims


def displacement_claim(rows, params) -> Claim:
    finals = final_rows(rows)
    moved = {o: [r["distance_from_init"] for (oo, _), r in finals.items() if oo == o] for o in ("sgd", "rmsprop", "adam")}
    loss = {o: [r["train_loss"] for (oo, _), r in finals.items() if oo == o] for o in ("sgd", "rmsprop", "adam")}
    mean = {o: float(np.mean(v)) if v else float("nan") for o, v in moved.items()}
    text = ", ".join(f"{o} {mean[o]:.3g} (train loss {np.mean(loss[o]):.3g})" for o in mean if moved[o])
    claim = Claim(name=f"‖θ − θ₀‖₂ after {params['repro_epochs']} epochs at lr {params['repro_lr']:g}",
                  predicted=None, measured=mean.get("sgd"), ci=None, verdict=None,
                  rule="mean over seeds of the distance from the initialization at the end (not judged)",
                  test=text, runs=len(moved["sgd"]))
    return CLAIMS["sgd_displacement"](claim)
