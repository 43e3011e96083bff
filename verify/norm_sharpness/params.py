"""Parameters of ``norm_sharpness``: the declaration, the constraints between parameters, the η grid.

The initialization scale is ``init_scale`` (α of the paper's ``w_0 = α 1``): the name ``alpha`` is the
check-level false-failure rate common to every check.
"""
from __future__ import annotations

import math

import numpy as np

from theory import diagonal_networks as td
from verify.errors import require
from verify.parameters import Param, declare

PARAMS = declare(
    x=Param([1.0, 0.5], doc="the data point x (needs a positive entry)"),
    y=Param(1.0, above=0, doc="the label"),
    init_scale=Param([0.1], above=0, doc="initialization w_0 = init_scale (one entry, or one per coordinate of x)"),
    beta_star=Param([0.5, 1.0], low=0, doc="the teacher β* >= 0 on the zero-loss set <x, β*> = y"),
    etas=Param([], type=float, above=0, nonempty=False,
               doc="learning rates; empty: an automatic grid from 0.01 η_c to 1.06 η_max"),
    loss_scale=Param("half", choices=tuple(td.LOSS_SCALES), doc="loss normalization: half = ½r², full = r²"),
    grid_step=Param(0.01, full=0.004, above=0, high=0.05,
                    doc="relative spacing of the automatic grid near η_c and in the EoS range"),
    max_iter=Param(50000, full=200000, low=1000, doc="GD iterations before a run counts as unresolved"),
    transition_scales=Param([0.01, 0.3, 0.5], above=0, nonempty=False,
                            doc="extra init scales whose transition at η_c is located on their own fine grid"),
    eta_c_scales=Param([0.01, 0.1, 0.3, 0.5], above=0, nonempty=False, doc="init scales of the reported η_c table"),
    uv_problems=Param(1, full=2, low=1, doc="random u ⊙ v problems (Even et al.); doubled per --until-decisive round"),
    uv_samples=Param(3, full=5, low=1, doc="samples of the random u ⊙ v problem (Even et al.)"),
    uv_dim=Param(6, full=12, low=2, doc="dimension of the random u ⊙ v problem (> uv_samples)"),
)


def _finite(values) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def validate(params: dict) -> None:
    """The constraints between parameters (types and ranges are declared in :data:`PARAMS`)."""
    x, init, bstar, y = params["x"], params["init_scale"], params["beta_star"], params["y"]
    require(_finite(x), f"x must be finite numbers, got {x}")
    require(any(v > 0 for v in x), f"x needs a positive entry (else no β ≥ 0 fits y > 0), got {x}")
    require(math.isfinite(y), f"y must be finite, got {y}")
    require(_finite(init), f"init_scale must be finite, got {init}")
    require(len(init) in (1, len(x)), f"init_scale has {len(init)} entries; give 1 or len(x) = {len(x)}")
    require(len(bstar) == len(x),
            f"beta_star has {len(bstar)} entries but x has {len(x)}; set beta_star too (on <x, beta_star> = y)")
    require(_finite(bstar), f"beta_star must be finite, got {bstar}")
    dot = float(np.dot(x, bstar))
    require(abs(dot - y) <= 1e-6 * y,
            f"beta_star must lie on the zero-loss set <x, beta_star> = y: got {dot:.6g}, y = {y:g}")
    if params["etas"]:
        require(_finite(params["etas"]), f"etas must be finite learning rates, got {params['etas']}")
    require(params["uv_dim"] > params["uv_samples"],
            f"need uv_samples < uv_dim, got {params['uv_samples']}, {params['uv_dim']}")


def prepare(params: dict, inputs: dict) -> dict:
    """Fill in the η grid (sorted, unique; the automatic one when ``etas`` is empty), so the record holds it."""
    PARAMS.check(params)
    validate(params)
    p = problem(params)
    if params["etas"]:
        etas = np.unique(np.asarray(params["etas"], float))
    else:
        s_gf = td.sharpness_on_zero_loss_set(td.gradient_flow_limit(p["x"], p["y"], p["init"]), p["x"], p["kappa"])
        etas = auto_grid(2.0 / s_gf, td.divergence_lr(p["x"], p["y"], p["kappa"]), params["grid_step"])
    return {**params, "etas": etas.tolist()}


def auto_grid(eta_c: float, eta_max: float, step: float) -> np.ndarray:
    """Geometric below 0.8 η_c, linear with spacing ``step·η_c`` over [0.8, 1.2] η_c, then geometric
    with ratio ``1 + step`` up to 1.06 η_max (past the divergence threshold)."""
    small = np.geomspace(0.01 * eta_c, 0.8 * eta_c, 8)[:-1]
    fine = eta_c * np.arange(0.8, 1.2 + step / 2, step)
    top = 1.06 * eta_max
    upper = np.empty(0)
    if top > fine[-1] * (1 + step):
        n = int(math.ceil(math.log(top / fine[-1]) / math.log1p(step)))
        upper = np.geomspace(fine[-1], top, n + 1)[1:]
    return np.unique(np.concatenate([small, fine, upper]))


def problem(params: dict) -> dict:
    """The arrays of the problem: x, y, the initialization scale (one per coordinate), β*, the loss scale
    and its factor κ."""
    x = np.asarray(params["x"], float)
    ls = params["loss_scale"]
    init = np.broadcast_to(np.asarray(params["init_scale"], float), x.shape).copy()
    return {"x": x, "y": float(params["y"]), "init": init, "bstar": np.asarray(params["beta_star"], float),
            "ls": ls, "kappa": td.loss_factor(ls, 1)}
