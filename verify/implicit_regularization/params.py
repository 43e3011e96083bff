"""Parameters of ``implicit_regularization`` (``python -m verify implicit_regularization --params``), the
constraints between them, and ``--data`` folding."""
from __future__ import annotations

from verify.errors import UserInputError, require
from verify.implicit_regularization.data import data_file, dataset
from verify.inputs import fold_data
from verify.parameters import Param, declare

MIN_POINTS = 4          # a slope fit of a flow family needs >= 4 usable step sizes
MAX_FLOW_STEPS = 50_000  # the finest step of a flow family may take at most this many steps
N_TRAIN_KEYS = ("sgd_n_train", "flow_n_train", "sign_n_train", "repro_n_train")

_W = dict(type=int, low=1, high=1024)
_BETA = dict(low=0, below=1)

PARAMS = declare(
    dataset=Param("digits", choices=("digits", "file"), doc="digits, or file (set by --data FILE.npz)"),
    data_seed=Param(0, type=int, low=0, doc="seed of the digits train/test split"),
    activation=Param("tanh", choices=("tanh", "relu", "linear"), doc="hidden activation of every MLP"),
    # 1-2: SGD regularizer R at matched loss, explicit penalty
    sgd_n_train=Param(500, type=int, low=2, high=10 ** 7, doc="training rows of the SGD sweep"),
    sgd_widths=Param([64, 64], **_W, doc="hidden widths of the SGD sweep's MLP"),
    sgd_lrs=Param([0.1, 0.2, 0.4], full=[0.05, 0.1, 0.2, 0.4, 0.8], above=0,
                  doc="SGD learning rates (>= 3, distinct)"),
    sgd_batch_size=Param(25, type=int, low=1, high=10 ** 7, doc="SGD mini-batch size (< sgd_n_train)"),
    sgd_seeds=Param(6, full=20, type=int, low=2, high=1000, doc="seeds of the SGD sweep (init, batches, partition)"),
    loss_goal=Param(0.03, full=0.01, above=0, doc="training loss at which R is measured (matched loss)"),
    max_epochs=Param(400, full=2000, type=int, low=1, high=10 ** 7, doc="epoch cap of an SGD run"),
    penalty_lr=Param(0.1, full=0.05, above=0, doc="small lr of the explicit-penalty run (< penalty_target_lr)"),
    penalty_target_lr=Param(0.4, above=0, doc="lr whose R the penalty should reach (one of sgd_lrs)"),
    penalty_factor=Param(1.0, low=0, doc="λ = factor × (penalty_target_lr − penalty_lr)"),
    match_tolerance=Param(0.15, above=0, doc="equivalence margin of R_pen/R_target − 1"),
    # 3-4: modified-flow slope tests (full batch)
    flow_n_train=Param(100, type=int, low=2, high=10 ** 7, doc="training rows of the flow tests"),
    flow_widths=Param([16, 16], **_W, doc="hidden widths of the flow tests' MLP"),
    halvings=Param(4, full=5, type=int, low=MIN_POINTS - 1, high=8, doc="step halvings of each slope test"),
    coefficient_scale=Param(1.0, above=0, doc="multiplies the modified flows' correction (1 = prediction)"),
    momentum_beta=Param(0.5, **_BETA, doc="heavy-ball β"),
    momentum_horizon=Param(0.5, above=0, doc="heavy-ball horizon T (units of 1/λ_max)"),
    momentum_h0=Param(0.025, above=0, doc="heavy-ball largest step (units of 1/λ_max)"),
    adam_beta1=Param(0.5, **_BETA, doc="β₁ of the Adam flow tests"),
    adam_beta2=Param(0.8, **_BETA, doc="β₂ of the Adam flow tests"),
    adam_small_horizon=Param(0.5, above=0, doc="√ε≪|g| horizon (units of √ε/λ_max)"),
    adam_small_h0=Param(0.015625, above=0, doc="√ε≪|g| largest step (units of √ε/λ_max)"),
    adam_large_horizon=Param(1.0, above=0, doc="√ε≫|g| horizon (units of √ε/λ_max)"),
    adam_large_h0=Param(0.0625, above=0, doc="√ε≫|g| largest step (units of √ε/λ_max)"),
    adam_small_eps_ratio=Param(0.05, above=0, doc="√ε / median|∇L(θ0)| in the √ε≪|g| regime"),
    adam_large_eps_ratio=Param(100.0, above=0, doc="√ε / median|∇L(θ0)| in the √ε≫|g| regime"),
    # 5: sign of Adam's ℓ1 term
    sign_n_train=Param(200, type=int, low=2, high=10 ** 7, doc="training rows of the Adam sign test"),
    sign_widths=Param([32], **_W, doc="hidden widths of the sign test's MLP"),
    sign_lr=Param(0.003, above=0, doc="full-batch Adam lr of the sign test"),
    sign_beta1=Param(0.9, **_BETA, doc="β₁ of the sign test"),
    sign_beta2s=Param([0.9, 0.95, 0.99, 0.999], above=0, below=1, doc="β₂ values of the sign test (>= 3, distinct)"),
    sign_goal=Param(0.03, above=0, doc="training loss at which ‖∇L‖₁ is measured"),
    sign_seeds=Param(4, full=8, type=int, low=2, high=1000, doc="seeds of the sign test"),
    sign_max_steps=Param(20000, type=int, low=1, high=10 ** 7, doc="step cap of a sign-test run"),
    # 6-7: the project's experiment at CPU scale
    repro_n_train=Param(800, type=int, low=2, high=10 ** 7, doc="training rows of the reproduction"),
    repro_label_noise=Param(0.3, low=0, below=1, doc="fraction of training labels replaced (reproduction)"),
    repro_widths=Param([64, 64, 64, 64], **_W, doc="hidden widths of the reproduction's 5-layer MLP"),
    repro_batch_size=Param(64, type=int, low=1, high=10 ** 7, doc="mini-batch of the reproduction"),
    repro_lr=Param(1e-3, above=0, doc="lr of the reproduction (all three optimizers)"),
    repro_eps=Param(1e-8, low=0, doc="ε of RMSProp/Adam in the reproduction"),
    repro_rmsprop_beta2=Param(0.99, **_BETA, doc="RMSProp's β₂ (torch's alpha)"),
    repro_epochs=Param(30, full=200, type=int, low=1, high=10 ** 7, doc="epochs of the reproduction"),
    repro_every=Param(2, full=5, type=int, low=1, high=10 ** 7, doc="epochs between recorded trace points"),
    repro_seeds=Param(3, full=5, type=int, low=2, high=1000, doc="seeds of the reproduction"),
    constant_band=Param(0.25, above=0, doc="band |term/(ηP/4) − 1| of the project's RMSProp term"),
)


def prepare(params: dict, inputs: dict) -> dict:
    return fold_data(params, inputs)


def validate(params: dict) -> None:
    """Constraints between parameters (types and ranges are declared above)."""
    require(params["sgd_batch_size"] < params["sgd_n_train"], "sgd_batch_size must be < sgd_n_train (mini-batches)")
    require(len(params["sgd_lrs"]) >= 3, f"sgd_lrs must hold >= 3 positive learning rates, got {params['sgd_lrs']}")
    require(len(set(params["sgd_lrs"])) == len(params["sgd_lrs"]), "sgd_lrs must be distinct")
    require(params["penalty_target_lr"] in params["sgd_lrs"],
            f"penalty_target_lr must be one of sgd_lrs {params['sgd_lrs']}, got {params['penalty_target_lr']}")
    require(params["penalty_lr"] < params["penalty_target_lr"],
            f"penalty_lr must be below penalty_target_lr ({params['penalty_target_lr']}), got {params['penalty_lr']}")
    require(len(params["sign_beta2s"]) >= 3 and len(set(params["sign_beta2s"])) == len(params["sign_beta2s"]),
            f"sign_beta2s must hold >= 3 distinct values in (0, 1), got {params['sign_beta2s']}")
    for key, n_key in (("momentum_h0", "momentum_horizon"), ("adam_small_h0", "adam_small_horizon"),
                       ("adam_large_h0", "adam_large_horizon")):
        ratio = params[n_key] / params[key]
        require(abs(ratio - round(ratio)) <= 1e-9 * ratio and round(ratio) >= 2,
                f"{n_key} / {key} must be a whole number of steps >= 2, got {ratio:g}")
        require(ratio * 2 ** params["halvings"] <= MAX_FLOW_STEPS,
                f"{n_key} / ({key} / 2^halvings) exceeds {MAX_FLOW_STEPS} steps")
    require(params["dataset"] != "file" or params.get("data_file"), "dataset=file needs --data FILE.npz")
    try:
        ds = dataset(data_file(params), params["data_seed"], max(params[k] for k in N_TRAIN_KEYS), 0.0, None)
    except UserInputError as exc:
        largest = max(N_TRAIN_KEYS, key=params.get)
        raise UserInputError(f"{largest} = {params[largest]}: {exc}") from None
    for key in N_TRAIN_KEYS:
        require(params[key] <= ds.n_train, f"{key} = {params[key]} exceeds the {ds.n_train} training examples")



GROWS = ("sgd_seeds", "sign_seeds", "repro_seeds")


def grow(params: dict, round: int) -> dict:
    """Round ``round`` of a sequential run (``--until-decisive``): every seed count doubled per round (round 1 =
    the given params). Task keys name the seed index, so earlier rounds' points are reused."""
    factor = 2 ** (round - 1)
    return {**params, **{k: params[k] * factor for k in GROWS}}
