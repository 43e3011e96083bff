"""Parameters of ``volume_width`` (``python -m verify volume_width --params`` prints them)."""
from __future__ import annotations

from numerics.models import ACTIVATIONS, PRIORS
from theory.nngp import WIDTH_GROWING_PRIORS
from verify.errors import require
from verify.inputs import fold_data
from verify.parameters import Param, declare

CONTROLS = ("none", "wrong_activation", "wrong_bias", "wrong_inputs")
MAX_N = 64  # the orthant posterior's dimension

PARAMS = declare(
    dataset=Param("digits", choices=("digits", "file"), doc="digits, or file (set by --data FILE.npz)"),
    classes=Param([0, 7], full=[], type=int, low=0, high=9, nonempty=False,
                  doc="an explicit digit pair (Peleg & Hein's 0 vs 7); empty: `pairs` pairs drawn by the seed"),
    pairs=Param(1, full=4, low=1, high=45, doc="digit pairs drawn by the seed when classes is empty"),
    seeds=Param(1, full=2, low=1, doc="data seeds per pair (doubled each round of --until-decisive)"),
    n_train=Param([8, 16], type=int, low=2, high=MAX_N, doc="training-set sizes (balanced: even for digits)"),
    n_test=Param(100, full=0, low=0, doc="balanced test images; 0: every remaining image of the two classes"),
    arch=Param("mlp", choices=("mlp",), doc="architecture (the NNGP kernels are those of MLPs)"),
    activation=Param("relu", choices=tuple(ACTIVATIONS), doc="hidden activation"),
    depth=Param([1, 2], type=int, low=1, high=4, doc="hidden-layer counts (distinct)"),
    widths=Param([2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
                 full=[2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096], type=int, low=1,
                 doc="hidden widths (distinct)"),
    max_width_deep=Param(256, full=1024, low=1, doc="widths above this are skipped at depth >= 2 (cost ~ width^2)"),
    prior=Param("uniform", choices=tuple(PRIORS), doc="prior of the hidden layers"),
    scale=Param(1.0, above=0, doc="prior scale"),
    bias=Param(False, doc="biases in the network"),
    draws=Param(8000, full=32000, low=2, doc="hidden-layer prior draws per G&C point, at most ..."),
    draw_units=Param(131072, full=1048576, low=1,
                     doc="... and at most this many hidden units per point (draws = min(draws, units/width))"),
    min_draws=Param(256, low=2, doc="prior draws per G&C point at least"),
    proposals=Param(8, low=1, doc="orthant proposals per hidden draw (Rao-Blackwellized last layer)"),
    limit_samples=Param(20000, full=100000, low=1, doc="exact draws from the limit's orthant posterior"),
    kernel_units=Param(262144, full=1048576, low=1,
                       doc="first-layer units of the Monte Carlo kernel (non-Gaussian priors)"),
    sgd_runs=Param(3, full=10, low=1, doc="SGD runs per point (Peleg & Hein's protocol)"),
    sgd_epochs=Param(20, full=60, low=1, doc="SGD epochs (60 in the paper)"),
    invariance_scales=Param([1.0, 0.1], type=float, above=0, doc="prior scales of the invariance control (>= 2)"),
    invariance_width=Param(64, low=1, doc="width of the invariance control"),
    invariance_bias=Param(False, doc="biases in the invariance control (true: the invariance is broken)"),
    contrast_widths=Param([8, 64, 512], full=[8, 64, 512, 4096], type=int, low=1,
                          doc="widths of G&C on one-hot inputs (the width theorem's contrast)"),
    tolerance=Param(0.01, above=0, below=0.5, doc="equivalence margin of G&C vs its limit (accuracy)"),
    bits_tolerance=Param(0.2, above=0, doc="equivalence margin of G&C's bits vs the limit's"),
    flat_from=Param(8, low=1, doc="smallest width of Peleg & Hein's width trends"),
    flat_tolerance=Param(0.016, above=0, doc="Peleg & Hein: G&C flat in width within this (accuracy)"),
    limit_control=Param("none", choices=CONTROLS, doc="negative controls of the limit (a perturbed kernel)"),
)


def prepare(p: dict, inputs: dict) -> dict:
    """``--data FILE.npz`` replaces the digits (``verify.inputs.fold_data``; used as given)."""
    return fold_data(p, inputs)


def validate(p: dict) -> None:
    """Constraints between parameters (types and ranges are declared in :data:`PARAMS`)."""
    require(p["dataset"] != "file" or "data_file" in p, "dataset=file needs --data FILE.npz")
    ns = p["n_train"]
    if p["dataset"] == "digits":
        cl = p["classes"]
        require(cl == [] or (len(cl) == 2 and cl[0] != cl[1]),
                f"classes must be two distinct digits 0..9 (e.g. 0,7) or empty, got {cl}")
        require(all(n % 2 == 0 for n in ns), f"n_train must be even (balanced pairs), got {ns}")
        require(p["n_test"] == 0 or p["n_test"] >= 2, f"n_test must be 0 (all) or >= 2, got {p['n_test']}")
    else:
        require(p["data_classes"] == 2, f"--data must have two classes for volume_width, got {p['data_classes']}")
        require(max(ns) <= p["data_n_train"],
                f"n_train must be <= {p['data_n_train']} (the --data training set), got {max(ns)}")
    depths = p["depth"]
    require(len(set(depths)) == len(depths), f"depth must be distinct values, got {depths}")
    require(len(set(p["widths"])) == len(p["widths"]), f"widths must be distinct, got {p['widths']}")
    require(not (p["activation"] == "tanh" and p["prior"] in WIDTH_GROWING_PRIORS and max(depths) >= 2),
            "activation=tanh with prior=uniform has no NNGP limit at depth >= 2: use a fan-in-scaled prior")
    require(p["draws"] >= p["min_draws"], f"need draws >= min_draws, got {p['draws']} < {p['min_draws']}")
    require(len(p["invariance_scales"]) >= 2,
            f"invariance_scales must be >= 2 positive scales, got {p['invariance_scales']}")


def draws_at(p: dict, width: int) -> int:
    """Prior draws of a G&C point at ``width``: ``draws``, capped by ``draw_units / width``, at least ``min_draws``."""
    return int(min(p["draws"], max(p["min_draws"], p["draw_units"] // width)))


def widths_at(p: dict, depth: int) -> list[int]:
    """The widths swept at ``depth`` (above ``max_width_deep`` only at depth 1)."""
    ws = sorted(int(w) for w in p["widths"])
    return ws if depth == 1 else [w for w in ws if w <= p["max_width_deep"]]


GROWS = ("seeds",)


def grow(p: dict, round: int) -> dict:
    """Round ``round`` of ``--until-decisive``: the data seeds per pair doubled each round (round 1: as given).
    The cells of earlier rounds keep their task keys and streams (``sweep.cells``), so they are reused."""
    return {**p, "seeds": int(p["seeds"]) * 2 ** (round - 1)}
