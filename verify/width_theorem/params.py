"""Parameters of the width check (``python -m verify width_theorem --params``)."""
from __future__ import annotations

from numerics.factorization import PRIORS, SAMPLERS
from numerics.gd_baseline import INITS, OPTIMIZERS
from numerics.gnc import METHODS
from numerics.problems import MEASUREMENTS
from verify.errors import require
from verify.parameters import Param, declare

PARAMS = declare(
    activations=Param(["linear", "tanh", "leaky_relu"], type=str,
                      doc="σ of the factorization: linear, tanh, leaky_relu or leaky_relu:<slope>"),
    widths=Param([5, 20, 80, 320, 1280], full=[5, 10, 20, 40, 80, 160, 640, 2560], low=1, doc="widths k swept"),
    extra_widths=Param([10240], low=1, nonempty=False,
                       doc="very large widths with extra_draws prior draws: the approach to the limit"),
    extra_draws=Param(2500, full=10_000, low=2, doc="prior draws per point at the extra widths"),
    depths=Param([2], low=2, doc="depths d"),
    eps=Param([0.02, 0.0], low=0, doc="G&C training-loss thresholds ε (0: the exact ε → 0 limit)"),
    seeds=Param(3, full=8, low=1, doc="problems (W*, measurements) per point, redrawn per seed"),
    draws=Param(12_000, full=200_000, low=2, doc="prior draws per G&C point"),
    prior=Param("gaussian", choices=PRIORS, doc="prior of the layers"),
    measurements=Param("sensing", choices=tuple(MEASUREMENTS), doc="Gaussian sensing or matrix completion"),
    m=Param(5, low=1, doc="rows of W*"),
    mp=Param(5, low=1, doc="columns of W*"),
    n=Param(15, low=1, doc="number of measurements"),
    rank=Param(1, low=1, doc="rank of W*"),
    method=Param("auto", choices=METHODS, doc="G&C estimator (numerics.gnc.estimate)"),
    min_ess=Param(100.0, low=0, doc="auto: points with a smaller ESS are redone by SMC; still below: left out"),
    smc_particles=Param(300, full=1000, low=2, doc="SMC particles (auto's fallback at narrow widths)"),
    smc_moves=Param(20, full=60, low=0, doc="SMC moves per level"),
    smc_replicates=Param(4, low=2, doc="independent SMC runs (their spread gives the SE)"),
    sampler=Param("auto", choices=SAMPLERS, doc="how prior draws of the end-to-end matrix are made"),
    memory_mb=Param(128, low=1, doc="memory budget of the streamed prior draws of one task"),
    limit_rtol=Param(0.01, above=0, doc="equivalence margin of G at the largest width against its limit"),
    limit_samples=Param(200_000, low=2, doc="Monte Carlo samples of the NNGP limit G_∞(ε > 0)"),
    gd=Param(True, doc="run the GD baseline at every point"),
    gd_optimizer=Param("adaptive", choices=OPTIMIZERS, doc="plain GD or the authors' adaptive step"),
    gd_lr=Param(3e-3, full=1e-4, above=0, doc="GD learning rate"),
    gd_init=Param(1e-3, above=0, doc="GD initialization scale α"),
    gd_steps=Param(5000, full=100_000, low=1, doc="GD steps"),
    gd_tol=Param(1e-6, above=0, doc="GD stops at this training loss"),
    gd_momentum=Param(0.0, low=0, below=1, doc="heavy-ball momentum of GD (applied)"),
    gd_init_law=Param("gaussian", choices=INITS,
                      doc="GD initialization: N(0, α²) entries, or torch_default (the authors'; the presets')"),
    gd_factor=Param(0.1, above=0, doc="GD's L_gen must be at most this fraction of chance"),
    figure=Param("none", doc="a paper figure's preset: 1, 3, 5, 7, 9 (or none)"),
)


def validate(p: dict) -> None:
    """Constraints between parameters (types and ranges are declared above)."""
    from numerics.activations import parse_activation
    for a in p["activations"]:
        parse_activation(a)
    require(p["method"] != "rejection" or all(e > 0 for e in p["eps"]),
            "eps = 0 needs method=rbis, smc, nested or auto (rejection never accepts at eps = 0)")
    require(p["n"] < p["m"] * p["mp"], f"n must be in [1, m*mp - 1], got {p['n']}")
    require(p["rank"] <= min(p["m"], p["mp"]), f"rank must be in [1, min(m, mp)], got {p['rank']}")
    narrow = [k for k in p["widths"] + p["extra_widths"] if min(k, p["mp"]) * p["m"] < p["n"]]
    require(min(p["eps"]) > 0 or (p["prior"] == "gaussian" and not narrow),
            "eps = 0 needs a Gaussian-linear last layer (gaussian prior, min(k, m')*m >= n); "
            + (f"prior {p['prior']!r} has none" if p["prior"] != "gaussian" else f"widths {narrow} are too narrow")
            + ": use eps > 0")
