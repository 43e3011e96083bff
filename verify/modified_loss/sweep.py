"""The points of ``modified_loss`` and their computation: errors of GD, SGD and RMSProp against candidate
flows over a ladder of step sizes, and the exact identities.

Tasks (independent): the IGR errors, the a² − b² identity, the SGD epoch mean, the partition average, one per
RMSProp β and the β = 0 probe. The tasks on the main problem (IGR, SGD, RMSProp) share its stream (seed, 0),
so they all see the same problem; the a² − b² start is drawn from (seed, 1), the partition problem from
(seed, 2). Each RMSProp row records in how many coordinates the weight of ∇‖∇C‖_(1,δ) in the lag-corrected
flow at θ0 is negative (anti-regularizing)."""
from __future__ import annotations

import numpy as np

from numerics.modified_flows import (ab_problem, equal_partitions, gd, heterogeneous_batches_problem,
                                     integrate_flow, rmsprop, sgd_epoch_mean_over_orders, step_size_errors)
from theory.modified_losses import (ab_gd_factor, igr_grad, partition_averaged_sgd_term, rmsprop_frozen_field,
                                    rmsprop_lag_corrected_field, rmsprop_onenorm_coefficient, sgd_grad, sgd_term)
from verify.engine import task
from verify.modified_loss.predictions import (AB_FLOW_CLAIM, AB_GD_CLAIM, AB_PANEL, FROZEN, PARTITION_CLAIM,
                                              PARTITION_PANEL, PREDICTIONS, PROBE_PANEL, SYMBOL, fitted_window,
                                              step_sizes)
from verify.report import jsonable as plain


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
        prediction = PREDICTIONS[section][series]
        order, label = prediction.order, prediction.label
        _, window = fitted_window(steps, errs)
        rows.extend({"panel": panel, "section": section, "series": series,
                     "claim": f"{panel}: {label} ~{SYMBOL[section]}^{order}", "step": s, "error": e,
                     "key": prediction.key, "in_window": w, "predicted_order": order, **(extra or {})}
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
        rows.append({"panel": AB_PANEL, "series": "GD", "claim": AB_GD_CLAIM, "key": "ab_gd_identity",
                     "step": h,
                     "measured": abs(q[-1] - q0) / (a0 ** 2 + b0 ** 2),
                     "predicted": abs(q0 * (np.prod(factor) - 1.0)) / (a0 ** 2 + b0 ** 2),
                     "max_step_defect": float(np.max(np.abs(q[1:] - factor * q[:-1]) / (size[1:] + size[:-1])))})
    a_T, b_T = integrate_flow(lambda th: -problem.grad(th), theta0, T)
    drift = abs(a_T ** 2 - b_T ** 2 - q0) / (a0 ** 2 + b0 ** 2)
    return rows + [{"panel": AB_PANEL, "series": "gradient flow", "claim": AB_FLOW_CLAIM,
                    "key": "ab_flow_conserved", "drift": drift,
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
        rows.append({"panel": PARTITION_PANEL, "claim": PARTITION_CLAIM, "key": "sgd_partition_factor",
                     "n_examples": n, "batch_size": B,
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
        return [{"panel": PROBE_PANEL, "section": "RMSProp", "series": series, "step": s, "error": e,
                 "in_window": w, "predicted_order": None, **extra}
                for series, errs in errors.items()
                for s, e, w in zip(etas, errs, fitted_window(etas, errs)[1])]
    return slope_rows("RMSProp", f"RMSProp β={beta:g}", etas, errors, extra)


_PARTS = {"igr": _igr, "ab": _ab, "sgd": _sgd, "partition": _partition, "rmsprop": _rmsprop}
