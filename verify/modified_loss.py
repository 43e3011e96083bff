"""``python -m verify modified_loss``: backward error analysis of GD, SGD and RMSProp (spec B, checks 5–7).

Claims, each a measured log-log slope of an error against the step size or an exact identity:
- IGR (Barrett & Dherin 2021): one GD step vs the flow on E (slope ≈2) and on ``E + (h/4)‖∇E‖²`` (≈3);
  over a fixed horizon T, ≈1 and ≈2.
- ``E = ½(y − a b x)²``: every GD step multiplies ``a² − b²`` by exactly ``1 − h² r² x²``; gradient flow
  conserves it.
- SGD (Smith et al. 2021): the mean iterate after one epoch, over all m! batch orders (enumerated, not
  sampled), vs the flows on C (≈2), on the GD-modified loss (≈2) and on ``C̃_SGD`` (≈3), over time mε.
- The mean of the SGD term over all partitions into batches of size B equals ``((N − B)/(N − 1)) (ε/4B) Γ``
  (all partitions enumerated).
- RMSProp slope test over a fixed horizon (warm start ``v0 = g(θ0)²``): a proposed modified flow passes iff
  its fitted slope is ≥ 1.8. The package predicts (its extension, not the papers' claim) that the
  lag-corrected flow passes (slope ≈2) and that the frozen-preconditioner modified loss
  ``C + (η/4)∇CᵀP∇C`` FAILS (slope ≈1) at each β > 0 tested. The claim on the frozen loss passes when it
  fails its slope test as predicted; the claim's ``test`` says in words whether it failed its slope test.

Rules. A slope is fitted (OLS on log-log) over the window of points whose error is above ``ERROR_FLOOR``
(1e-12, well above the DOP853 accuracy ~1e-13 relative at rtol 1e-13); at least ``MIN_POINTS`` (5, i.e. 4
halvings) must remain, else the claim is inconclusive. The 99.9% OLS interval of the slope (Student t) must
lie inside the band — IGR and SGD slopes within ±0.15 of the predicted order; the lag-corrected RMSProp
slope in [1.8, 2.2]; the frozen-preconditioner slope in [0.85, 1.15] — to pass; wholly outside the band it
fails (the predicted order is contradicted); straddling an edge, it is inconclusive (the errors bend too
much over the window to tell: halve the initial step). The errors are deterministic, so the interval
measures the departure of the window from a power law, not noise. Exact identities: a relative defect ≤
``IDENTITY_TOL`` (64 ulp) for floating-point algebra, ≤ ``FLOW_DRIFT_TOL`` (1e-10, 1000× the integrator's
rtol) for the conserved quantity of a DOP853 solution; larger fails, a non-finite defect (overflow) is
inconclusive. No claim is a bound against chance (``vacuous`` does not arise). Everything is deterministic
given the seed; a failure means the predicted order or identity is wrong for this problem, or the step
sizes are outside the asymptotic regime (then halve ``igr_h0``/``sgd_eps0``/``rmsprop_eta0``). Step sizes
are in units where the Hessian of the loss at θ0 has spectral radius 1. Before the port to the sweep engine
(point-estimate rule), no claim failed at the defaults over seeds 0–39, nor over 150 random draws of
dimensions, batch counts and sizes and β ∈ [0.3, 0.9]; a small δ (≈0.01) with a gradient component crossing
zero can leave η0 = 0.004 pre-asymptotic for RMSProp (one of 60 draws with δ ∈ [0.01, 1]: slope 1.65, ≈2
again at η0 = 0.001).

Tasks (independent, run in parallel on any executor): the IGR errors, the a² − b² identity, the SGD epoch
mean, the partition average, one per RMSProp β and the β = 0 probe. The tasks on the main problem (IGR, SGD,
RMSProp) share its stream (seed, 0), so they all see the same problem; the a² − b² start is drawn from
(seed, 1), the partition problem from (seed, 2).

Also recorded, not claimed: a β = 0 probe of both RMSProp flows. The spec says the frozen-preconditioner
loss is right for β = 0; it is only where g² ≪ δ, since at β = 0 it differs from the correct flow by
``(η/2) P diag(g²/(g² + δ)) H P g``; the probe's slopes are drawn in the figure. Each RMSProp row records in
how many coordinates the weight of ∇‖∇C‖_(1,δ) in the lag-corrected flow at θ0 is negative
(anti-regularizing).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from numerics.modified_flows import (ab_problem, equal_partitions, gd, heterogeneous_batches_problem,
                                     integrate_flow, rmsprop, sgd_epoch_mean_over_orders, step_size_errors)
from theory.modified_losses import (IGR_HORIZON_ORDER, IGR_ONE_STEP_ORDER, RMSPROP_HORIZON_ORDER,
                                    RMSPROP_PASS_SLOPE, SGD_EPOCH_ORDER, ab_gd_factor, igr_grad,
                                    partition_averaged_sgd_term, rmsprop_frozen_field,
                                    rmsprop_lag_corrected_field, rmsprop_onenorm_coefficient, sgd_grad,
                                    sgd_term)
from verify.engine import task
from verify.errors import require
from verify.figures import save_figure
from verify.report import Claim
from verify.report import jsonable as plain
from verify.rules import fit_loglog_slope, slope_within

NAME = "modified_loss"
SUMMARY = "Modified losses: IGR error orders and a²−b² identity, SGD modified flow, RMSProp lag term"
INPUTS = ()
DEFAULT_WORKERS = 1  # short: a spawned worker needs ~4 s to import torch, more than the points take

QUICK = {
    "d": 3, "hidden": 2, "k": 1,  # two-layer linear network x -> W2 W1 x
    "sgd_batches": 4, "sgd_batch_size": 2, "spread": 1.0,  # m batches (m! orders), heterogeneity
    "halvings": 5,  # step sizes s0, s0/2, ..., s0/2^halvings
    "horizon": 1.0,  # fixed horizon T (IGR, a²−b², RMSProp)
    "igr_h0": 0.05, "sgd_eps0": 0.01, "rmsprop_eta0": 0.004,
    "betas": [0.5, 0.9], "delta": 0.1,
    "partition_n": 12,  # N for the partition average, every B | N with B < N
}
FULL = {"d": 4, "hidden": 3, "k": 2, "sgd_batches": 5, "halvings": 7}

ERROR_FLOOR = 1e-12
MIN_POINTS = 5
SLOPE_HALF_BAND = 0.15
LAG_BAND = (RMSPROP_PASS_SLOPE, 2.2)
FROZEN_BAND = (0.85, 1.15)
IDENTITY_TOL = 64 * np.finfo(float).eps
FLOW_DRIFT_TOL = 1e-10
MAX_STEPS = 2_000_000
PARTITION_TOL = 1e-12
AB_PANEL = "a²−b² identity, E = ½(y − abx)²"
AB_GD_CLAIM = "a²−b²: GD step factor 1 − h²r²x²"
AB_FLOW_CLAIM = "a²−b²: conserved by gradient flow"
PARTITION_PANEL = "SGD term, mean over partitions"
PARTITION_CLAIM = "SGD term over partitions: (N−B)/(N−1) factor"
FROZEN = "frozen-preconditioner flow"


def validate(params: dict) -> None:
    for key in ("d", "hidden", "k"):
        require(1 <= params[key] <= 16, f"{key} must be in [1, 16], got {params[key]}")
    require(2 <= params["sgd_batches"] <= 7, f"sgd_batches must be in [2, 7] (all m! orders are "
            f"enumerated), got {params['sgd_batches']}")
    require(1 <= params["sgd_batch_size"] <= 64, f"sgd_batch_size must be in [1, 64], got {params['sgd_batch_size']}")
    require(params["spread"] >= 0, f"spread must be >= 0, got {params['spread']}")
    require(MIN_POINTS - 1 <= params["halvings"] <= 10,
            f"halvings must be in [{MIN_POINTS - 1}, 10], got {params['halvings']}")
    require(0 < params["horizon"] <= 10, f"horizon must be in (0, 10], got {params['horizon']}")
    for key, top in (("igr_h0", 0.5), ("sgd_eps0", 0.5), ("rmsprop_eta0", 0.1)):
        require(0 < params[key] <= top, f"{key} must be in (0, {top}], got {params[key]}")
    for key in ("igr_h0", "rmsprop_eta0"):
        ratio = params["horizon"] / params[key]
        require(abs(ratio - round(ratio)) <= 1e-9 * ratio,
                f"horizon / {key} must be an integer number of steps, got {ratio:g}")
        require(ratio * 2 ** params["halvings"] <= MAX_STEPS,
                f"horizon / ({key} / 2^halvings) exceeds {MAX_STEPS} steps; raise {key} or lower halvings")
    require(len(params["betas"]) >= 1 and all(0 < b <= 0.99 for b in params["betas"]),
            f"betas must be a non-empty list in (0, 0.99], got {params['betas']}")
    require(params["delta"] > 0, f"delta must be > 0, got {params['delta']}")
    require(3 <= params["partition_n"] <= 12, f"partition_n must be in [3, 12], got {params['partition_n']}")


def step_sizes(s0: float, halvings: int) -> np.ndarray:
    return s0 * 2.0 ** -np.arange(halvings + 1)


def fitted_window(steps, errors):
    """The OLS log-log fit over the points above ``ERROR_FLOOR`` (None if fewer than ``MIN_POINTS``) and the
    window mask."""
    steps, errors = np.asarray(steps, float), np.array([np.nan if e is None else e for e in errors], float)
    window = np.isfinite(errors) & (errors > ERROR_FLOOR)
    fit = fit_loglog_slope(steps[window], errors[window]) if window.sum() >= MIN_POINTS else None
    return fit, window.tolist()


def slope_claim(name: str, fit, band: tuple[float, float], what: str = "") -> Claim:
    if fit is None:
        return Claim(name=name, predicted=list(band), measured=None, ci=None,
                     rule=f"needs >= {MIN_POINTS} errors above {ERROR_FLOOR:g}", verdict="inconclusive",
                     test=f"fewer than {MIN_POINTS} errors above {ERROR_FLOOR:g}")
    return slope_within(name, fit, *band, what=what)


def order_predictions(table: dict, what: str = "") -> dict:
    return {name: (p, order_band(p), name, what) for name, p in table.items()}


def order_band(order: int) -> tuple[float, float]:
    return order - SLOPE_HALF_BAND, order + SLOPE_HALF_BAND


def exact_claim(name: str, defect: float, tol: float, rule: str) -> Claim:
    verdict = "inconclusive" if not np.isfinite(defect) else ("pass" if defect <= tol else "fail")
    return Claim(name=name, predicted=0.0, measured=float(defect), ci=[0.0, tol],
                 rule=rule + " (larger: fail; not finite: inconclusive)", verdict=verdict,
                 test=f"defect {defect:.3g} <= {tol:.3g}")


RMSPROP_PREDICTIONS = {
    "lag-corrected flow": (RMSPROP_HORIZON_ORDER["lag-corrected flow"], LAG_BAND, "lag-corrected passes",
                           f"the slope test passes iff slope >= {RMSPROP_PASS_SLOPE}"),
    FROZEN: (
        RMSPROP_HORIZON_ORDER[FROZEN], FROZEN_BAND, "frozen-P loss FAILS",
        f"predicted ≈{RMSPROP_HORIZON_ORDER[FROZEN]}: the frozen-preconditioner modified "
        f"loss C + (η/4)∇CᵀP∇C FAILS its slope test (pass needs >= {RMSPROP_PASS_SLOPE}); this claim passes "
        f"when that predicted failure is observed"),
}

# what each slope section predicts: {series: (order, band, claim label, rule note)}
PREDICTIONS = {
    "IGR one step": order_predictions(IGR_ONE_STEP_ORDER),
    "IGR horizon": order_predictions(IGR_HORIZON_ORDER),
    "SGD epoch mean": order_predictions(SGD_EPOCH_ORDER, "mean over all m! batch orders"),
    "RMSProp": RMSPROP_PREDICTIONS,
}
SYMBOL = {"IGR one step": "h", "IGR horizon": "h", "SGD epoch mean": "ε", "RMSProp": "η"}


# ------------------------------------------------------------------------------------ points and compute

def points(params: dict, seed: int, inputs: dict) -> list:
    """(key, part, β, stream): the tasks on the main problem share stream (seed, 0)."""
    parts = [("igr", "igr", None, 0), ("ab", "ab", None, 1), ("sgd", "sgd", None, 0), ("partition", "partition", None, 2)]
    parts += [(f"rmsprop/{i}", "rmsprop", beta, 0) for i, beta in enumerate(params["betas"])]
    parts.append(("rmsprop/probe", "rmsprop", 0.0, 0))
    return [task(key, {**params, "part": part, "beta": beta}, seed, stream) for key, part, beta, stream in parts]


def compute(t) -> list[dict]:
    return plain(_PARTS[t.params["part"]](t.params, t))


def _main_problem(params, t):
    """The main regression problem, the same for every task on stream (seed, 0): (problem, batches, θ0)."""
    return heterogeneous_batches_problem(params["sgd_batches"], params["sgd_batch_size"], params["d"],
                                         params["hidden"], params["k"], t.rng(), spread=params["spread"])


def slope_rows(section: str, panel: str, steps, errors: dict, extra=None) -> list[dict]:
    """One row per step size and flow of ``errors``, naming the claim it enters (``PREDICTIONS[section]``)."""
    rows = []
    for series, errs in errors.items():
        order, _, label, _ = PREDICTIONS[section][series]
        _, window = fitted_window(steps, errs)
        rows.extend({"panel": panel, "section": section, "series": series,
                     "claim": f"{panel}: {label} ~{SYMBOL[section]}^{order}", "step": s, "error": e,
                     "in_window": w, "predicted_order": order, **(extra or {})}
                    for s, e, w in zip(steps, errs, window))
    return rows


def _igr(params, t) -> list[dict]:
    problem, _, theta0 = _main_problem(params, t)
    T, hs = params["horizon"], step_sizes(params["igr_h0"], params["halvings"])

    def fields(h):
        return {"gradient flow": lambda th: -problem.grad(th),
                "IGR modified flow": lambda th: -igr_grad(problem, th, h)}

    one_step = step_size_errors(theta0, hs, lambda h: theta0 - h * problem.grad(theta0), fields, lambda h: h)
    horizon = step_size_errors(theta0, hs, lambda h: gd(problem.grad, theta0, h, round(T / h))[-1], fields,
                               lambda h: T)
    return (slope_rows("IGR one step", "IGR one step", hs, one_step)
            + slope_rows("IGR horizon", f"IGR horizon T={T:g}", hs, horizon))


def _ab(params, t) -> list[dict]:
    """GD and gradient flow on ``E = ½(y − a b x)²`` from a random start."""
    rng, T, hs = t.rng(), params["horizon"], step_sizes(params["igr_h0"], params["halvings"])
    a0, b0 = rng.uniform(0.2, 1.5, size=2)
    x, y = rng.uniform(0.5, 1.5), rng.uniform(-2.0, 2.0)
    problem = ab_problem(x, y)
    theta0 = np.array([a0, b0])
    q0 = a0 ** 2 - b0 ** 2
    rows = []
    for h in hs:
        a, b = gd(problem.grad, theta0, h, round(T / h)).T
        q, size = a ** 2 - b ** 2, a ** 2 + b ** 2
        factor = ab_gd_factor(a[:-1], b[:-1], x, y, h)
        rows.append({"panel": AB_PANEL, "series": "GD", "claim": AB_GD_CLAIM, "step": h,
                     "measured": abs(q[-1] - q0) / (a0 ** 2 + b0 ** 2),
                     "predicted": abs(q0 * (np.prod(factor) - 1.0)) / (a0 ** 2 + b0 ** 2),
                     "max_step_defect": float(np.max(np.abs(q[1:] - factor * q[:-1]) / (size[1:] + size[:-1])))})
    a_T, b_T = integrate_flow(lambda th: -problem.grad(th), theta0, T)
    drift = abs(a_T ** 2 - b_T ** 2 - q0) / (a0 ** 2 + b0 ** 2)
    return rows + [{"panel": AB_PANEL, "series": "gradient flow", "claim": AB_FLOW_CLAIM, "drift": drift,
                    "a0": a0, "b0": b0, "x": x, "y": y}]


def _sgd(params, t) -> list[dict]:
    problem, batches, theta0 = _main_problem(params, t)
    epss, m = step_sizes(params["sgd_eps0"], params["halvings"]), len(batches)

    def fields(eps):
        return {"gradient flow": lambda th: -problem.grad(th),
                "GD-modified flow": lambda th: -igr_grad(problem, th, eps),
                "SGD-modified flow": lambda th: -sgd_grad(problem, th, eps, batches)}

    errors = step_size_errors(theta0, epss, lambda eps: sgd_epoch_mean_over_orders(problem, theta0, eps, batches),
                              fields, lambda eps: m * eps)
    return slope_rows("SGD epoch mean", "SGD epoch mean", epss, errors)


def _partition(params, t) -> list[dict]:
    problem, _, theta0 = heterogeneous_batches_problem(params["partition_n"], 1, params["d"], params["hidden"],
                                                       params["k"], t.rng(), spread=params["spread"])
    G, eps = problem.per_example_grads(theta0), params["sgd_eps0"]
    n = G.shape[0]
    rows = []
    for B in (b for b in range(1, n) if n % b == 0):
        parts = equal_partitions(n, B)
        rows.append({"panel": PARTITION_PANEL, "claim": PARTITION_CLAIM, "n_examples": n, "batch_size": B,
                     "n_partitions": len(parts), "enumerated": float(np.mean([sgd_term(G, p, eps) for p in parts])),
                     "formula": partition_averaged_sgd_term(G, B, eps),
                     "with_replacement": partition_averaged_sgd_term(G, 1, eps) / B})  # (ε/4B)Γ, no (N−B)/(N−1)
    return rows


def _rmsprop(params, t) -> list[dict]:
    """The RMSProp slope test at one β (β = 0: the probe, recorded without a claim)."""
    problem, _, theta0 = _main_problem(params, t)
    beta, delta, T = params["beta"], params["delta"], params["horizon"]
    etas = step_sizes(params["rmsprop_eta0"], params["halvings"])

    def fields(eta):
        return {"lag-corrected flow": lambda th: rmsprop_lag_corrected_field(problem, th, eta, beta, delta),
                FROZEN: lambda th: rmsprop_frozen_field(problem, th, eta, delta)}

    errors = step_size_errors(theta0, etas, lambda eta: rmsprop(problem.grad, theta0, eta, beta, delta,
                                                                round(T / eta)), fields, lambda eta: T)
    coef = rmsprop_onenorm_coefficient(problem.grad(theta0), beta, delta)
    extra = {"beta": beta, "anti_regularizing_coordinates": int(np.sum(coef < 0)), "coordinates": int(coef.size)}
    if beta == 0.0:
        return [{"panel": "RMSProp β=0 probe", "section": "RMSProp", "series": series, "step": s, "error": e,
                 "in_window": w, "predicted_order": None, **extra}
                for series, errs in errors.items()
                for s, e, w in zip(etas, errs, fitted_window(etas, errs)[1])]
    return slope_rows("RMSProp", f"RMSProp β={beta:g}", etas, errors, extra)


_PARTS = {"igr": _igr, "ab": _ab, "sgd": _sgd, "partition": _partition, "rmsprop": _rmsprop}


# ------------------------------------------------------------------------------------------------ judge

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


# ---------------------------------------------------------------------------------------------- plot

def plot(record: dict, stem) -> list:
    import matplotlib.pyplot as plt

    points = record["points"]
    panels = list(dict.fromkeys(p["panel"] for p in points))
    ncols = 4
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.0 * ncols, 3.5 * nrows), squeeze=False,
                             constrained_layout=True)
    axes = list(axes.ravel())
    verdict = {c["name"]: c["verdict"] for c in record["claims"]}
    for ax, panel in zip(axes, panels):
        rows = [p for p in points if p["panel"] == panel]
        if panel == AB_PANEL:
            _plot_identity(ax, rows)
        elif panel == PARTITION_PANEL:
            _plot_partitions(ax, rows)
        else:
            _plot_slopes(ax, rows, record["claims"], panel)
        verdicts = {verdict[r["claim"]] for r in rows if r.get("claim") in verdict}
        status = ("no claim" if not verdicts else "a claim FAILS" if "fail" in verdicts else
                  "claims pass" if verdicts == {"pass"} else "inconclusive")
        ax.set_title(f"{panel} ({status})", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(f"Modified losses: error against step size (verdict {record['verdict']}, seed {record['seed']})",
                 fontsize=11)
    return save_figure(fig, stem)


_SYMBOL = {"IGR": "h", "SGD": "ε", "RMS": "η"}


def _log_axes(ax):
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _series_label(name, claim, steps, errors, rmsprop):
    """The legend entry: the fitted slope, and for RMSProp flows the outcome of the slope test."""
    if claim is not None and claim["measured"] is not None:
        slope = claim["measured"]
    else:  # an unclaimed probe: fit here, from the record's points
        ok = np.isfinite(errors) & (errors > 0)
        if ok.sum() < 3:
            return name
        slope = fit_loglog_slope(steps[ok], errors[ok]).slope
    label = f"{name}: slope {slope:.2f}"
    if rmsprop:
        label += f", {'passes' if slope >= RMSPROP_PASS_SLOPE else 'FAILS'} slope test"
    return label


def _plot_slopes(ax, rows, claims, panel):
    _log_axes(ax)
    symbol = _SYMBOL.get(panel[:3], "s")
    by_name = {c["name"]: c for c in claims}
    lowest = {}  # predicted order -> (steps, errors) of the lowest series with that order, for the guide
    for i, name in enumerate(dict.fromkeys(r["series"] for r in rows)):
        pts = [r for r in rows if r["series"] == name]
        s = np.array([r["step"] for r in pts])
        e = np.array([np.nan if r["error"] is None else r["error"] for r in pts])
        window = np.array([r["in_window"] for r in pts], bool)
        label = _series_label(name, by_name.get(pts[0].get("claim")), s, e, panel.startswith("RMSProp"))
        ax.plot(s, e, "-", color=f"C{i}", lw=1.2)
        ax.plot(s[window], e[window], "o", color=f"C{i}", ms=4, label=label)
        ax.plot(s[~window], e[~window], "o", mfc="none", color=f"C{i}", ms=4)
        order = pts[0]["predicted_order"]
        if order is not None and np.isfinite(e[-1]) and (order not in lowest or e[-1] < lowest[order][1][-1]):
            lowest[order] = (s, e)
    for order, (s, e) in lowest.items():  # guide slopes, a factor 3 below the data
        guide = e[-1] / 3 * (s / s[-1]) ** order
        ax.plot(s, guide, "--", color="0.55", lw=0.9)
        mid = len(s) // 2
        ax.annotate(f"∝{symbol}$^{order}$", (s[mid], guide[mid]), fontsize=7, color="0.4", xytext=(0, -11),
                    textcoords="offset points")
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * (high / low) ** 0.3)  # headroom for the legend
    ax.set_xlabel(f"step size {symbol}")
    ax.set_ylabel("error ‖θ_discrete − θ_flow‖")
    ax.legend(fontsize=6.5, loc="upper left")


def _plot_identity(ax, rows):
    _log_axes(ax)
    gd_rows = [r for r in rows if r["series"] == "GD"]
    h = np.array([r["step"] for r in gd_rows])
    ax.plot(h, [r["predicted"] for r in gd_rows], "-", color="C0", lw=1.2,
            label="GD change of a²−b², predicted ∏(1 − h²r²x²)")
    ax.plot(h, [r["measured"] for r in gd_rows], "o", color="C0", ms=5, label="GD change of a²−b², measured")
    ax.plot(h, [max(r["max_step_defect"], 1e-18) for r in gd_rows], "x", color="C2", ms=6,
            label="max one-step defect of the identity")
    flow = next(r for r in rows if r["series"] == "gradient flow")
    ax.axhline(max(flow["drift"], 1e-18), color="C3", ls="--", lw=1,
               label=f"gradient-flow drift of a²−b² ({flow['drift']:.1e})")
    ax.axhline(IDENTITY_TOL, color="0.55", ls=":", lw=1, label="tolerance 64 ulp")
    ax.set_xlabel("step size h")
    ax.set_ylabel("|Δ(a² − b²)| / (a0² + b0²)")
    ax.legend(fontsize=6.5, loc="center right")


def _plot_partitions(ax, rows):
    _log_axes(ax)
    B = np.array([r["batch_size"] for r in rows])
    ax.plot(B, [r["formula"] for r in rows], "-", color="C0", lw=1.2, label="((N−B)/(N−1)) (ε/4B) Γ")
    ax.plot(B, [r["enumerated"] for r in rows], "o", color="C0", ms=6, label="mean over all partitions")
    ax.plot(B, [r["with_replacement"] for r in rows], ":", color="0.45", lw=1, label="(ε/4B) Γ (with replacement)")
    ax.set_xticks(B, [str(b) for b in B])
    ax.set_xlabel(f"batch size B (N = {rows[0]['n_examples']})")
    ax.set_ylabel("mean of (ε/4m) Σ_k ‖∇Ĉ_k − ∇C‖²")
    ax.legend(fontsize=7, loc="lower left")
