"""The parameters of ``edge_of_stability`` (``python -m verify edge_of_stability --params``)."""
from __future__ import annotations

from numerics.models import ACTIVATIONS, ARCHS, PRIORS
from numerics.trainers import LOSSES
from verify.parameters import Param, declare

# The grid's two sides of the transition at η_c = 2/s_GF (as multiples of η_c): used by the sweep (which runs
# get central-flow windows) and by the claims (which runs are sub- or super-critical).
SUB_CRITICAL, SUPER_CRITICAL = 0.8, 1.1
EOS_RANGE = (1.5, 4.0)  # the η/η_c range where the edge-of-stability fingerprint is judged

PARAMS = declare(
    dataset=Param("digits", choices=("digits", "file"), doc="digits (8x8, ten classes), or a --data FILE.npz (set by --data)"),
    n_train=Param(256, low=2, doc="training examples (digits: nested prefix of the next balanced set)"),
    n_test=Param(1000, low=10, doc="test examples (digits)"),
    data_seed=Param(0, low=0, doc="seed of the digits split"),
    standardize=Param(True, doc="centre each feature, divide by the overall s.d."),
    arch=Param("mlp", choices=tuple(ARCHS), doc="network"),
    widths=Param([32, 32], type=int, low=1, doc="mlp: hidden widths; cnn: channels,hidden"),
    activation=Param("tanh", choices=tuple(ACTIVATIONS), doc="activation of the hidden layers"),
    loss=Param("mse", choices=tuple(LOSSES), doc="training loss (MSE = ½‖f − e_y‖² averaged)"),
    prior=Param("torch_default", choices=tuple(PRIORS), doc="initialization"),
    etas=Param([0.2, 0.5, 0.8, 1.1, 1.5, 2.0, 3.0, 4.0],
               full=[0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0],
               type=float, above=0, doc="GD learning rates as multiples of the seed's η_c = 2/s_GF"),
    heavy_ball_etas=Param([1.5, 3.0], full=[1.5, 2.0, 3.0], type=float, above=0, nonempty=False,
                          doc="heavy-ball learning rates as multiples of η_c^HB = 2(1 + momentum)/s_GF"),
    momentum=Param(0.5, low=0, below=1, doc="heavy-ball β"),
    seeds=Param([0, 1, 2], full=[0, 1, 2, 3, 4], type=int, low=0,
                doc="initializations (one task each: gradient flow, then the η grid)"),
    loss_goal=Param(0.02, above=0, doc="a run stops (converged) once its training loss is below this"),
    max_steps=Param(20000, low=100, doc="step limit of every run and of the flow"),
    sharpness_evals=Param(40, full=100, low=5, doc="sharpness measurements per run (the trace)"),
    average_last=Param(20, low=1, doc="iterates averaged at the stop (the point GD oscillates around)"),
    gf_sharpness_every=Param(20, low=1, doc="RK4 steps between sharpness measurements of the flow"),
    cf_windows=Param(4, full=8, low=0, doc="central-flow windows per GD run with η >= 1.1 η_c, back to back"),
    cf_window=Param(48, low=4, doc="GD steps per central-flow window"),
)
