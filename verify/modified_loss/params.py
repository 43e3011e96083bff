"""The parameters of ``modified_loss`` (``python -m verify modified_loss --params``)."""
from __future__ import annotations

from verify.errors import require
from verify.modified_loss.predictions import MIN_POINTS
from verify.parameters import Param, declare

MAX_STEPS = 2_000_000  # GD/RMSProp steps to the horizon at the smallest step size

PARAMS = declare(
    d=Param(3, full=4, low=1, high=16, doc="input dimension of the two-layer linear network x -> W2 W1 x"),
    hidden=Param(2, full=3, low=1, high=16, doc="hidden width of the two-layer linear network"),
    k=Param(1, full=2, low=1, high=16, doc="output dimension"),
    sgd_batches=Param(4, full=5, low=2, high=7, doc="mini-batches m per epoch (all m! orders are enumerated)"),
    sgd_batch_size=Param(2, low=1, high=64, doc="examples per mini-batch"),
    spread=Param(1.0, low=0, doc="heterogeneity of the mini-batches (0: identical batches)"),
    halvings=Param(5, full=7, low=MIN_POINTS - 1, high=10, doc="step sizes s0, s0/2, ..., s0/2^halvings"),
    horizon=Param(1.0, above=0, high=10, doc="fixed horizon T (IGR, a²−b², RMSProp)"),
    igr_h0=Param(0.05, above=0, high=0.5, doc="largest GD step size h (units: Hessian spectral radius 1 at θ0)"),
    sgd_eps0=Param(0.01, above=0, high=0.5, doc="largest SGD learning rate ε"),
    rmsprop_eta0=Param(0.004, above=0, high=0.1, doc="largest RMSProp learning rate η"),
    betas=Param([0.5, 0.9], above=0, high=0.99, doc="RMSProp β values with a slope claim each"),
    delta=Param(0.1, above=0, doc="RMSProp δ in v + δ"),
    partition_n=Param(12, low=3, high=12, doc="N for the partition average (every batch size B | N, B < N)"),
)


def validate(params: dict) -> None:
    """Each horizon must be a whole number of steps, and not too many of them."""
    for key in ("igr_h0", "rmsprop_eta0"):
        ratio = params["horizon"] / params[key]
        require(abs(ratio - round(ratio)) <= 1e-9 * ratio,
                f"horizon / {key} must be an integer number of steps, got {ratio:g}")
        require(ratio * 2 ** params["halvings"] <= MAX_STEPS,
                f"horizon / ({key} / 2^halvings) exceeds {MAX_STEPS} steps; raise {key} or lower halvings")
