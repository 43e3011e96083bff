"""What each slope section of ``modified_loss`` predicts, the fitting window of every slope claim and the
tolerances of the exact identities — each threshold written once here (rule strings and docs use these).

The predicted orders come from :mod:`theory.modified_losses`. The errors are deterministic functions of the
seed (no sampling anywhere), so the rules are deterministic tolerance rules; each tolerance states the
round-off it rests on."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.modified_losses import (IGR_HORIZON_ORDER, IGR_ONE_STEP_ORDER, RMSPROP_HORIZON_ORDER,
                                    RMSPROP_PASS_SLOPE, SGD_EPOCH_ORDER)
from verify.rules import fit_loglog_slope

# Errors at or below ERROR_FLOOR are round-off: the DOP853 reference is solved at rtol 1e-13 (atol 1e-15), so
# its own error is ~1e-13 of |θ| ~ 1; a floor 10× above keeps every fitted point at least 90 % signal.
ERROR_FLOOR = 1e-12
MIN_POINTS = 5  # at least 4 halvings above the floor, else the slope claim is inconclusive (not decidable)
# The slope interval is a tolerance on the window's curvature, not a confidence statement (nothing is random):
# the Student-t interval of the OLS slope at this fixed level, the one the check used before any run.
CURVATURE_LEVEL = 0.999
SLOPE_HALF_BAND = 0.15  # IGR and SGD slopes: predicted order ± this (preregistered in the check's design)
LAG_BAND = (RMSPROP_PASS_SLOPE, 2.2)  # an RMSProp modified flow passes its slope test: second order
FROZEN_BAND = (0.85, 1.15)  # the frozen-preconditioner flow: first order only (order 1 ± 0.15)
# One GD step of a²−b² is ~10 flops on numbers of size a²+b²: a few ulp of round-off; 64 ulp is the tolerance.
IDENTITY_TOL = 64 * np.finfo(float).eps
# DOP853 at rtol 1e-13 to T ≤ 10: a relative drift of the conserved a²−b² of ~1e-12 at most; 1000 × rtol.
FLOW_DRIFT_TOL = 1e-10
# The partition mean sums at most 15400 terms of size ~Γ (pairwise summation: ~log2(n) ulp ≈ 3e-15); 1e-12
# leaves a margin of ~300 and is far below the (N−B)/(N−1) effect it tests (≥ 1/11 relative at N = 12).
PARTITION_TOL = 1e-12

FROZEN = "frozen-preconditioner flow"
LAG = "lag-corrected flow"
AB_PANEL = "a²−b² identity, E = ½(y − abx)²"
AB_GD_CLAIM = "a²−b²: GD step factor 1 − h²r²x²"
AB_FLOW_CLAIM = "a²−b²: conserved by gradient flow"
PARTITION_PANEL = "SGD term, mean over partitions"
PARTITION_CLAIM = "SGD term over partitions: (N−B)/(N−1) factor"
PROBE_PANEL = "RMSProp β=0 probe"


@dataclass(frozen=True)
class Prediction:
    """The predicted order of one series, its band, the claim's label and registry key, a note for the rule."""

    order: int
    band: tuple[float, float]
    label: str
    key: str
    note: str = ""


def step_sizes(s0: float, halvings: int) -> np.ndarray:
    return s0 * 2.0 ** -np.arange(halvings + 1)


def fitted_window(steps, errors, level: float = 0.999):
    """The OLS log-log fit over the points above ``ERROR_FLOOR`` at interval ``level`` (None if fewer than
    ``MIN_POINTS``) and the window mask."""
    steps, errors = np.asarray(steps, float), np.array([np.nan if e is None else e for e in errors], float)
    window = np.isfinite(errors) & (errors > ERROR_FLOOR)
    fit = fit_loglog_slope(steps[window], errors[window], level=level) if window.sum() >= MIN_POINTS else None
    return fit, window.tolist()


def order_band(order: int) -> tuple[float, float]:
    return order - SLOPE_HALF_BAND, order + SLOPE_HALF_BAND


def _orders(table: dict, keys: dict, note: str = "") -> dict:
    return {name: Prediction(p, order_band(p), name, keys[name], note) for name, p in table.items()}


# what each slope section predicts, by series
PREDICTIONS = {
    "IGR one step": _orders(IGR_ONE_STEP_ORDER, {"gradient flow": "igr_one_step_plain",
                                                 "IGR modified flow": "igr_one_step_modified"}),
    "IGR horizon": _orders(IGR_HORIZON_ORDER, {"gradient flow": "igr_horizon_plain",
                                               "IGR modified flow": "igr_horizon_modified"}),
    "SGD epoch mean": _orders(SGD_EPOCH_ORDER, {"gradient flow": "sgd_epoch_plain",
                                                "GD-modified flow": "sgd_epoch_gd_modified",
                                                "SGD-modified flow": "sgd_epoch_sgd_modified"},
                              "mean over all m! batch orders"),
    "RMSProp": {
        LAG: Prediction(RMSPROP_HORIZON_ORDER[LAG], LAG_BAND, "lag-corrected passes", "rmsprop_lag_corrected",
                        f"the slope test passes iff the slope is in [{LAG_BAND[0]:g}, {LAG_BAND[1]:g}]"),
        FROZEN: Prediction(
            RMSPROP_HORIZON_ORDER[FROZEN], FROZEN_BAND, "frozen-P loss FAILS", "rmsprop_frozen_first_order",
            f"predicted ≈{RMSPROP_HORIZON_ORDER[FROZEN]}: the frozen-preconditioner modified loss C + (η/4)∇CᵀP∇C "
            f"FAILS its slope test (pass needs [{LAG_BAND[0]:g}, {LAG_BAND[1]:g}]); this claim passes when that "
            f"predicted failure is observed"),
    },
}
# the student project's claim, judged on the frozen-preconditioner series: its loss is RMSProp's modified loss
STUDENT = Prediction(2, LAG_BAND, "student's frozen-P loss is the modified flow", "student_rmsprop_modified_loss",
                     "the same slope test as the lag-corrected flow")
SYMBOL = {"IGR one step": "h", "IGR horizon": "h", "SGD epoch mean": "ε", "RMSProp": "η"}
