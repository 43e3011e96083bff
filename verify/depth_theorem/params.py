"""Parameters of the depth check (``python -m verify depth_theorem --params``)."""
from __future__ import annotations

from numerics.factorization import PRIORS, SAMPLERS
from numerics.gd_baseline import INITS, OPTIMIZERS
from numerics.gnc_limits import LIMIT_METHODS
from numerics.problems import MEASUREMENTS
from verify.errors import require
from verify.parameters import Param, declare

METHODS = ("rejection", "nested", "angular", "angular_smc", "auto")
LYAPUNOV_STEP = 10  # depths of the Lyapunov chains are recorded every LYAPUNOV_STEP layers

PARAMS = declare(
    activations=Param(["linear", "tanh", "leaky_relu"], type=str,
                      doc="σ of the factorization: linear, tanh, leaky_relu or leaky_relu:<slope>"),
    depths=Param([2, 4, 6, 8, 10], full=[2, 3, 4, 5, 6, 7, 8, 9, 10], low=2, nonempty=False, doc="depths d of every σ"),
    linear_depths=Param([3, 12, 20, 32], full=[12, 16, 24, 32, 48, 64], low=2, nonempty=False,
                        doc="extra depths for linear σ (the theorem's case)"),
    eps=Param([0.02], full=[0.0035], low=0, doc="G&C thresholds ε of the depth points (0 needs the angular estimator)"),
    limit_eps=Param([0.01, 0.014, 0.02, 0.03], full=[1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 0.0035, 0.01, 0.02], above=0,
                    doc="ε ladder of the rank-1 limit G_∞(ε)"),
    seeds=Param(3, full=8, low=1, doc="problems (W*, measurements) per point, redrawn per seed"),
    draws=Param(200_000, full=2_000_000, low=2, doc="prior draws per rejection G&C point"),
    limit_draws=Param(1_000_000, full=20_000_000, low=2, doc="draws of the rank-1 limit by rejection"),
    prior=Param("normalized", choices=PRIORS, doc="prior of the layers (the theorem's: normalized)"),
    measurements=Param("sensing", choices=tuple(MEASUREMENTS), doc="Gaussian sensing or matrix completion"),
    m=Param(5, low=1, doc="rows of W*"),
    mp=Param(5, low=1, doc="columns of W*"),
    width=Param(5, low=2, doc="width k of every layer"),
    n=Param(15, low=1, doc="number of measurements"),
    rank=Param(1, low=1, doc="rank of W*"),
    rip_n=Param([20], full=[16, 20, 24], low=1, nonempty=False,
                doc="numbers of measurements of the extra rank-1 problems where the RIP bound is judged"),
    method=Param("rejection", full="nested", choices=METHODS, doc="G&C estimator of the depth points"),
    limit_method=Param("auto", choices=LIMIT_METHODS, doc="estimator of the rank-1 limit"),
    limit_min_accepted=Param(100, low=1,
                             doc="auto: thresholds with a smaller ESS go to nested sampling; G&C points below it are left out"),
    angular_draws=Param(4000, low=2, doc="hidden-layer draws of the angular estimator at ε = 0"),
    informative_seeds=Param(1, full=3, low=0, doc="problems of the informative RIP setting (0: none)"),
    informative_m=Param(20, low=2, doc="m = m' of the informative RIP setting"),
    informative_n=Param(200, low=1, doc="measurements of the informative RIP setting"),
    informative_fractions=Param([0.03, 0.1, 0.3], above=0, high=1,
                                doc="its ε: these fractions of the largest ε whose bound is below chance"),
    informative_particles=Param(200, low=2, doc="nested-sampling particles in the informative setting"),
    informative_moves=Param(10, low=2, doc="nested-sampling moves in the informative setting"),
    local_fraction=Param(0.1, above=0, high=1, doc="the local law is tested at ε <= local_fraction·λ_min(H)"),
    nested_particles=Param(500, full=1000, low=1, doc="nested-sampling particles"),
    nested_moves=Param(20, low=1, doc="nested-sampling moves per level"),
    nested_replicates=Param(8, low=1, doc="independent nested-sampling runs (their spread gives the SE)"),
    nested_final_moves=Param(0, low=0, doc="posterior moves at the smallest ε (decorrelate the population)"),
    sampler=Param("auto", choices=SAMPLERS, doc="how prior draws of the end-to-end matrix are made"),
    lyapunov_chains=Param(20_000, full=100_000, low=2, doc="chains of products of Gaussian matrices"),
    lyapunov_min_depth=Param(80, full=100, low=1, doc="the Lyapunov slope is fitted from this depth"),
    lyapunov_max_depth=Param(240, full=300, low=1, doc="... to this depth"),
    rip_study_n=Param([8, 12, 15, 16, 18, 20, 24, 30, 40, 60, 100], low=1, nonempty=False,
                      doc="numbers of measurements of the δ_2-against-n study"),
    rip_study_draws=Param(2, full=8, low=1, doc="measurement ensembles per n of the study"),
    rip_restarts=Param(16, full=32, low=1, doc="optimizer restarts of the δ_2 lower bounds"),
    gd=Param(True, doc="run the GD baseline at every depth <= gd_max_depth"),
    gd_activations=Param(["linear", "tanh"], type=str, nonempty=False, doc="σ whose GD baseline is judged"),
    gd_max_depth=Param(16, low=2, doc="largest depth of the GD baseline"),
    gd_seeds=Param(8, low=1, doc="problems with a GD run at every depth (the paper's 8 seeds): the first "
                                 "max(seeds, gd_seeds) seeds' problems"),
    gd_optimizer=Param("adaptive", choices=OPTIMIZERS, doc="plain GD or the authors' adaptive step"),
    gd_lr=Param(1e-2, above=0, doc="GD learning rate"),
    gd_steps=Param(3000, full=20_000, low=1, doc="GD steps"),
    gd_momentum=Param(0.0, low=0, below=1, doc="heavy-ball momentum of GD (applied)"),
    gd_tol=Param(1e-8, above=0, doc="GD stops at this training loss"),
    gd_init_law=Param("gaussian", choices=INITS,
                      doc="GD initialization: N(0, α²) entries, or torch_default (the authors'; the presets')"),
    gd_factor=Param(0.1, above=0, doc="GD's L_gen must be at most this fraction of chance"),
    figure=Param("none", doc="a paper figure's preset: 2, 4, 6, 8, 10, 11 (or none)"),
)


def validate(p: dict) -> None:
    """Constraints between parameters (types and ranges are declared above)."""
    from numerics.activations import parse_activation
    for a in p["activations"] + p["gd_activations"]:
        parse_activation(a)
    require(p["depths"] or p["linear_depths"], "give at least one depth")
    require(min(p["eps"]) > 0 or (p["prior"] == "normalized" and p["width"] >= p["mp"]),
            "eps = 0 needs the angular estimator: the normalized prior with width >= mp "
            f"(prior {p['prior']!r}, width {p['width']}, mp {p['mp']}); use eps > 0")
    mm = p["m"] * p["mp"]
    require(p["n"] < mm, f"n must be in [1, m*mp - 1], got {p['n']}")
    require(all(n < mm for n in p["rip_n"]), f"rip_n must be in [1, m*mp - 1], got {p['rip_n']}")
    require(p["rank"] <= min(p["m"], p["mp"]), f"rank must be in [1, min(m, mp)], got {p['rank']}")
    require(p["lyapunov_max_depth"] >= p["lyapunov_min_depth"] + 2 * LYAPUNOV_STEP,
            f"need lyapunov_max_depth >= lyapunov_min_depth + {2 * LYAPUNOV_STEP}")
    require(p["informative_n"] < p["informative_m"] ** 2, "informative_n must be in [1, informative_m^2 - 1]")
