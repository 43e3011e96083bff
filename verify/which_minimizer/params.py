"""The parameters of ``which_minimizer`` (``python -m verify which_minimizer --params``)."""
from __future__ import annotations

from verify.errors import require
from verify.parameters import Param, declare

PARAMS = declare(
    problems=Param(3, full=20, low=1, doc="A1: random linear problems"),
    max_rows=Param(10, low=2, doc="A1: rows n drawn from [batch_size + 1, max_rows], columns p from [2n, 3n]"),
    batch_size=Param(2, low=1, doc="A1: SGD mini-batch size"),
    momentum=Param(0.9, low=0, below=1, doc="A1: heavy-ball momentum β"),
    input_dim=Param(8, low=2, doc="A2 and gap: input dimension of the two-layer ReLU net (data on the sphere)"),
    n_train=Param(12, low=2, doc="A2 and gap: training points"),
    n_test=Param(100, low=1, doc="A2 and gap: test points"),
    width=Param(512, low=2, doc="A2: hidden width of the linearized net (>= n_train)"),
    alphas=Param([0.25, 0.5, 1.0, 2.0, 4.0], above=0, doc="A2: output scales α (>= 3 distinct)"),
    pairs=Param(16, full=64, low=1, doc="A2: antithetic init pairs for the A + Cα² fit"),
    independent_inits=Param(64, full=256, low=8, doc="A2: unpaired inits for the linear-term test"),
    asymmetric_mean=Param(1.0, above=0,
                          doc="A2: last-layer mean of the sign-asymmetric law (a diagnostic, not judged)"),
    adagrad_problems=Param(3, full=6, low=1, doc="A3: generic AdaGrad problems"),
    adagrad_rows=Param(3, low=2, high=5, doc="A3: rows n (all n! batch orders are enumerated)"),
    adagrad_cols=Param(8, low=3, doc="A3: columns p (> adagrad_rows)"),
    adagrad_lrs=Param([0.1, 0.05, 0.025, 0.0125, 0.00625], above=0, high=1.0,
                      doc="A3: learning rates in units of ‖θ_GD − θ0‖/√p (>= 3 distinct)"),
    widths=Param([128, 256, 512, 1024, 2048, 4096], full=[128, 256, 512, 1024, 2048, 4096, 8192, 16384], low=1,
                 doc="gap: hidden widths M (>= 3 distinct, >= n_train)"),
    gap_seeds=Param(8, full=16, low=2, doc="gap: inits per width (a standard error needs 2)"),
    gap_steps=Param(300, full=400, low=1, doc="gap: GD steps on the net and on its linearization"),
)


def validate(params: dict) -> None:
    """Constraints between parameters (types and single ranges are declared)."""
    require(params["max_rows"] > params["batch_size"],
            f"max_rows must exceed batch_size = {params['batch_size']}, got {params['max_rows']}")
    require(params["width"] >= params["n_train"],
            f"width must be >= n_train = {params['n_train']} (the Jacobian needs full row rank), "
            f"got {params['width']}")
    require(params["adagrad_cols"] > params["adagrad_rows"],
            f"adagrad_cols must exceed adagrad_rows = {params['adagrad_rows']}, got {params['adagrad_cols']}")
    for key in ("alphas", "adagrad_lrs", "widths"):
        require(len(set(params[key])) >= 3, f"{key} needs >= 3 distinct values, got {params[key]}")
    require(min(params["widths"]) >= params["n_train"],
            f"widths must be >= n_train = {params['n_train']}, got {min(params['widths'])}")


GROWS = ("gap_seeds", "adagrad_problems")  # what --until-decisive adds: inits per width, AdaGrad problems


def grow(params: dict, round: int) -> dict:
    """Round ``round`` (1 = the given parameters) of a sequential run: ``GROWS`` doubled each round. Task keys
    name the init or problem index, so the points of earlier rounds are reused."""
    return {**params, **{key: params[key] * 2 ** (round - 1) for key in GROWS}}
