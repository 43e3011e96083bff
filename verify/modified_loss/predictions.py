"""What each slope section of ``modified_loss`` predicts, and the fitting window every slope claim uses.

The predicted orders come from :mod:`theory.modified_losses`; the bands and the window are this check's
thresholds, each written once here (the rule strings and the docs are generated from these constants)."""
from __future__ import annotations

import numpy as np

from theory.modified_losses import (IGR_HORIZON_ORDER, IGR_ONE_STEP_ORDER, RMSPROP_HORIZON_ORDER,
                                    RMSPROP_PASS_SLOPE, SGD_EPOCH_ORDER)
from verify.rules import fit_loglog_slope

ERROR_FLOOR = 1e-12  # errors at or below are round-off of the DOP853 reference (rtol 1e-13): not fitted
MIN_POINTS = 5  # at least 4 halvings above the floor, else the slope claim is inconclusive
SLOPE_HALF_BAND = 0.15  # IGR and SGD slopes: predicted order ± this
LAG_BAND = (RMSPROP_PASS_SLOPE, 2.2)
FROZEN_BAND = (0.85, 1.15)
IDENTITY_TOL = 64 * np.finfo(float).eps  # 64 ulp: floating-point algebra of one GD step
FLOW_DRIFT_TOL = 1e-10  # 1000 × the DOP853 rtol: drift of a conserved quantity along the reference flow
PARTITION_TOL = 1e-12  # relative: a mean of at most 5775 terms of size ~1 in float64

FROZEN = "frozen-preconditioner flow"
AB_PANEL = "a²−b² identity, E = ½(y − abx)²"
AB_GD_CLAIM = "a²−b²: GD step factor 1 − h²r²x²"
AB_FLOW_CLAIM = "a²−b²: conserved by gradient flow"
PARTITION_PANEL = "SGD term, mean over partitions"
PARTITION_CLAIM = "SGD term over partitions: (N−B)/(N−1) factor"


def step_sizes(s0: float, halvings: int) -> np.ndarray:
    return s0 * 2.0 ** -np.arange(halvings + 1)


def fitted_window(steps, errors):
    """The OLS log-log fit over the points above ``ERROR_FLOOR`` (None if fewer than ``MIN_POINTS``) and the
    window mask."""
    steps, errors = np.asarray(steps, float), np.array([np.nan if e is None else e for e in errors], float)
    window = np.isfinite(errors) & (errors > ERROR_FLOOR)
    fit = fit_loglog_slope(steps[window], errors[window]) if window.sum() >= MIN_POINTS else None
    return fit, window.tolist()


def order_band(order: int) -> tuple[float, float]:
    return order - SLOPE_HALF_BAND, order + SLOPE_HALF_BAND


def order_predictions(table: dict, what: str = "") -> dict:
    return {name: (p, order_band(p), name, what) for name, p in table.items()}


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
