"""``python -m verify implicit_regularization``: implicit regularizers of SGD, heavy-ball momentum and
RMSProp/Adam on a real network (``training_dynamics.md`` §B), and the modified-loss project's claims.

Data: the 8×8 digits, 10 classes, nested balanced training sets (``--data F.npz`` replaces them; the
sub-experiments take the first ``*_n_train`` rows; the user's labels are used as given, so the reproduction
adds no label noise to them). Everything in float64.

Claims (whose they are, what is tested, the rule):
1. SGD, R falls with the learning rate (Smith, Dherin, Barrett & De 2021: SGD follows C + (η/4m)Σ_k‖∇Ĉ_k‖²;
   the real-network consequence is the spec's). For each seed (init, batch order and the partition defining
   R shared by every lr of that seed) SGD runs at each lr until the full training loss of the average of the
   last epoch's iterates is <= ``loss_goal`` (the theory describes the mean iterate; the raw iterate's R is
   inflated by O(η) SGD noise and is recorded too). Rule: per seed the OLS slope of log R on log lr (seeds
   differ in their level of R, not only in noise); the Student-t ``1 − ALPHA`` CI of the mean slope over
   seeds (seeds − 1 dof) wholly below 0 passes, wholly above fails, else inconclusive.
2. Explicit penalty (Smith et al.'s experiment): SGD at ``penalty_lr`` on C_k + (λ/4)‖∇C_k‖², λ =
   ``penalty_factor`` × (``penalty_target_lr`` − ``penalty_lr``) (the small lr's own implicit term makes up the
   rest; our formalization), reaches the target lr's R (the target is one of ``sgd_lrs``, by default not the
   largest: near the stability edge R at stop scatters by a factor 3 between seeds, measured). Rule: per seed
   d = R_pen/R_target − 1; TOST equivalence of the mean of d with ±``match_tolerance`` (Student t, seeds − 1
   dof, ALPHA): CI inside passes, wholly outside fails, else inconclusive. The tolerance (15 %) is below the
   gap the penalty has to close (R at ``penalty_lr`` is ≈ 25 % above R at the target, measured), so "no
   penalty" cannot pass; with 6 seeds the power is modest (quick runs may be inconclusive).
3. Heavy-ball modified flow (derived, consistent with Ghosh et al. 2023): full-batch GD+M from the steady
   buffer v = ∇L(θ₀)/(1−β) against RK4 solutions of the plain flow −(1−β)^{-1}∇L and of the modified flow
   over a fixed horizon; fitted log-log slope of the error against h: CI inside [0.8, 1.2] (plain) and
   [1.8, 2.2] (modified) passes, wholly outside fails.
4. Adam/RMSProp modified flow (Cattaneo, Klusowski & Shigida 2024 for the ℓ1 structure; the full-batch field
   is derived in :mod:`theory.implicit_regularizers`): the same slope test with warm buffers m₀ = g₀,
   s₀ = g₀², ε inside the root, no bias correction, in the regime √ε ≪ |g| (√ε = ``adam_small_eps_ratio`` ×
   median|g₀|; the record gives the fraction of coordinates with |g| > 10√ε) and √ε ≫ |g|.
5. The sign of Adam's ℓ1 term (the published prediction: typical β₂ > β₁ anti-penalizes ‖∇L‖_{1,ε}):
   full-batch Adam (standard: bias-corrected, ε = 1e-8) at each β₂ until the training loss is <= ``sign_goal``;
   pooled OLS of log ‖∇L‖₁ on log 1/(1−β₂): CI of the slope wholly above 0 passes, wholly below fails.
6. The modified-loss project's RMSProp term (η/4m)Σ_k‖s ⊙ ∇C_k‖², s = 1/(√v + ε) the optimizer's current
   preconditioner, taken literally: it is ≈ the constant ηP/4 when gradients dominate ε. Rule (deterministic,
   on the reproduction's RMSProp traces after the first recorded epoch): max |term/(ηP/4) − 1| <=
   ``constant_band`` passes, else fails. A pass says the term carries no information about the network, so
   its "absence" in adaptive methods says nothing about their implicit regularization.
7. The project's "SGD favors smaller parameter norms than adaptive methods", taken literally (same init, same
   lr 1e-3, same epochs, 30 % label noise): per seed Δ = ‖θ_adaptive‖₂ − ‖θ_SGD‖₂ at the end; Student-t CI
   (seeds − 1 dof, ALPHA) wholly above 0 passes (SGD's norm is smaller), wholly below fails, else
   inconclusive; one claim for RMSProp, one for Adam. This is not a backward-error prediction: at lr 1e-3
   SGD barely leaves its initialization (the record gives ‖θ − θ₀‖ and the train errors).

False-failure rates: claims 1, 2, 5, 7 are t-intervals over independent seeds at level ALPHA = 0.01 each
(normal replicate errors); the slope claims 3–4 fit deterministic errors (no sampling noise: a failure means the
predicted order is wrong or the step sizes are pre-asymptotic — then lower ``*_h0``); claim 6 is deterministic.
The reproduction (10-class digits, 30 % label noise, a 5-layer MLP, SGD vs RMSProp vs Adam, batch 64, lr 1e-3)
is recorded as traces: train/test error, R, the project's term, the published Adam term Σ√(∂_iC² + ε²) (ε²:
the trainer's √s + ε matched to √(s + ε²)), ‖θ‖₂.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from verify.engine import task
from verify.errors import UserInputError, require
from verify.figures import new_figure, save_figure
from verify.report import Claim
from verify.rules import equivalent, fit_loglog_slope, interval_verdict, slope_within, t_quantile

NAME = "implicit_regularization"
SUMMARY = ("Implicit regularizers on a digits MLP: SGD's R vs lr and explicit penalty, momentum/Adam flow orders, "
           "Adam's ℓ1 sign, the modified-loss project's claims")
INPUTS = ("data",)

QUICK = {
    "data_seed": 0, "activation": "tanh",
    # 1-2: SGD regularizer R at matched loss, explicit penalty
    "sgd_n_train": 500, "sgd_widths": [64, 64], "sgd_lrs": [0.1, 0.2, 0.4], "sgd_batch_size": 25,
    "sgd_seeds": 6, "loss_goal": 0.03, "max_epochs": 400,
    "penalty_lr": 0.1, "penalty_target_lr": 0.4, "penalty_factor": 1.0, "match_tolerance": 0.15,
    # 3-4: modified-flow slope tests (full batch)
    "flow_n_train": 100, "flow_widths": [16, 16], "halvings": 4, "coefficient_scale": 1.0,
    "momentum_beta": 0.5, "momentum_horizon": 0.5, "momentum_h0": 0.025,  # in units of 1/λ_max
    "adam_beta1": 0.5, "adam_beta2": 0.8,  # horizons and h0 in units of √ε/λ_max:
    "adam_small_horizon": 0.5, "adam_small_h0": 0.015625, "adam_large_horizon": 1.0, "adam_large_h0": 0.0625,
    "adam_small_eps_ratio": 0.05, "adam_large_eps_ratio": 100.0,  # √ε / median|∇L(θ0)|
    # 5: sign of Adam's ℓ1 term
    "sign_n_train": 200, "sign_widths": [32], "sign_lr": 0.003, "sign_beta1": 0.9,
    "sign_beta2s": [0.9, 0.95, 0.99, 0.999], "sign_goal": 0.03, "sign_seeds": 4, "sign_max_steps": 20000,
    # 6-7: the project's experiment at CPU scale
    "repro_n_train": 800, "repro_label_noise": 0.3, "repro_widths": [64, 64, 64, 64], "repro_batch_size": 64,
    "repro_lr": 1e-3, "repro_eps": 1e-8, "repro_rmsprop_beta2": 0.99,  # torch's RMSprop alpha
    "repro_epochs": 30, "repro_every": 2, "repro_seeds": 3,
    "constant_band": 0.25,
}
FULL = {"sgd_seeds": 20, "sgd_lrs": [0.05, 0.1, 0.2, 0.4, 0.8], "loss_goal": 0.01, "max_epochs": 2000,
        "penalty_lr": 0.05, "halvings": 5, "sign_seeds": 8, "repro_epochs": 200, "repro_every": 5, "repro_seeds": 5}

ALPHA = 0.01
PLAIN_BAND = (0.8, 1.2)
MODIFIED_BAND = (1.8, 2.2)
MIN_POINTS = 4
REFERENCE_MARGIN = 10.0  # an error counts only if it is >= 10x the RK4 reference's estimated error
OPTIMIZERS = ("sgd", "rmsprop", "adam")
FLOW_FAMILIES = ("momentum", "adam √ε≪|g|", "adam √ε≫|g|")


# ------------------------------------------------------------------------------------------ params

def prepare(params: dict, inputs: dict) -> dict:
    if inputs.get("data") is not None:
        params["data_file"] = str(inputs["data"])
    return params


def validate(params: dict) -> None:
    def positive_int(key, low=1, high=10 ** 7):
        require(isinstance(params[key], int) and low <= params[key] <= high,
                f"{key} must be an integer in [{low}, {high}], got {params[key]}")

    def positive(key):
        require(params[key] > 0 and np.isfinite(params[key]), f"{key} must be > 0, got {params[key]}")

    require(params["activation"] in ("tanh", "relu", "linear"),
            f"activation must be tanh, relu or linear, got {params['activation']!r}")
    for key in ("sgd_widths", "flow_widths", "sign_widths", "repro_widths"):
        require(len(params[key]) >= 1 and all(1 <= w <= 1024 for w in params[key]),
                f"{key} must be a non-empty list of widths in [1, 1024], got {params[key]}")
    for key in ("sgd_n_train", "flow_n_train", "sign_n_train", "repro_n_train"):
        positive_int(key, 2)
    for key in ("sgd_seeds", "sign_seeds", "repro_seeds"):
        positive_int(key, 2, 1000)
    for key in ("sgd_batch_size", "repro_batch_size", "max_epochs", "sign_max_steps", "repro_epochs", "repro_every"):
        positive_int(key)
    require(params["sgd_batch_size"] < params["sgd_n_train"], "sgd_batch_size must be < sgd_n_train (mini-batches)")
    positive_int("halvings", MIN_POINTS - 1, 8)
    require(len(params["sgd_lrs"]) >= 3 and all(lr > 0 for lr in params["sgd_lrs"]),
            f"sgd_lrs must hold >= 3 positive learning rates, got {params['sgd_lrs']}")
    require(len(set(params["sgd_lrs"])) == len(params["sgd_lrs"]), "sgd_lrs must be distinct")
    for key in ("loss_goal", "sign_goal", "penalty_lr", "match_tolerance", "momentum_horizon", "momentum_h0",
                "adam_small_horizon", "adam_small_h0", "adam_large_horizon", "adam_large_h0",
                "adam_small_eps_ratio", "adam_large_eps_ratio", "sign_lr", "repro_lr", "constant_band",
                "coefficient_scale"):
        positive(key)
    require(params["penalty_target_lr"] in params["sgd_lrs"],
            f"penalty_target_lr must be one of sgd_lrs {params['sgd_lrs']}, got {params['penalty_target_lr']}")
    require(params["penalty_lr"] < params["penalty_target_lr"],
            f"penalty_lr must be below penalty_target_lr ({params['penalty_target_lr']}), got {params['penalty_lr']}")
    require(params["penalty_factor"] >= 0, f"penalty_factor must be >= 0, got {params['penalty_factor']}")
    require(0 <= params["momentum_beta"] < 1, f"momentum_beta must be in [0, 1), got {params['momentum_beta']}")
    for key in ("adam_beta1", "adam_beta2", "sign_beta1", "repro_rmsprop_beta2"):
        require(0 <= params[key] < 1, f"{key} must be in [0, 1), got {params[key]}")
    require(len(params["sign_beta2s"]) >= 3 and all(0 < b < 1 for b in params["sign_beta2s"])
            and len(set(params["sign_beta2s"])) == len(params["sign_beta2s"]),
            f"sign_beta2s must hold >= 3 distinct values in (0, 1), got {params['sign_beta2s']}")
    require(0 <= params["repro_label_noise"] < 1,
            f"repro_label_noise must be in [0, 1), got {params['repro_label_noise']}")
    require(params["repro_eps"] >= 0, f"repro_eps must be >= 0, got {params['repro_eps']}")
    for key, n_key in (("momentum_h0", "momentum_horizon"), ("adam_small_h0", "adam_small_horizon"),
                       ("adam_large_h0", "adam_large_horizon")):
        ratio = params[n_key] / params[key]
        require(abs(ratio - round(ratio)) <= 1e-9 * ratio and round(ratio) >= 2,
                f"{n_key} / {key} must be a whole number of steps >= 2, got {ratio:g}")
        require(ratio * 2 ** params["halvings"] <= 50_000, f"{n_key} / ({key} / 2^halvings) exceeds 50000 steps")
    try:
        ds = dataset(params.get("data_file"), params["data_seed"], max_n_train(params), 0.0, None)
    except UserInputError as exc:
        largest = max(("sgd_n_train", "flow_n_train", "sign_n_train", "repro_n_train"), key=params.get)
        raise UserInputError(f"{largest} = {params[largest]}: {exc}") from None
    for key in ("sgd_n_train", "flow_n_train", "sign_n_train", "repro_n_train"):
        require(params[key] <= ds.n_train, f"{key} = {params[key]} exceeds the {ds.n_train} training examples")


def max_n_train(params) -> int:
    return max(params[k] for k in ("sgd_n_train", "flow_n_train", "sign_n_train", "repro_n_train"))


# -------------------------------------------------------------------------------------------- data

@lru_cache(maxsize=8)
def dataset(data_file, data_seed: int, n_train: int, label_noise: float, noise_seed: int | None):
    """The training/test data: the user's file as given, or 10-class digits with ``n_train`` examples
    (``label_noise`` > 0 with a ``noise_seed``: that fraction of training labels replaced by another class)."""
    from numerics.datasets import digits_task, load_npz
    if data_file:
        return load_npz(data_file)
    n = n_train - n_train % 10
    require(n >= 10, f"training sets on the digits need >= 10 examples, got {n_train}")
    if label_noise > 0 and noise_seed is not None:
        rng = np.random.default_rng(np.random.SeedSequence(int(noise_seed), spawn_key=(31337,)))
        return digits_task(tuple(range(10)), n, data_seed, label_noise=label_noise, noise_rng=rng)
    return digits_task(tuple(range(10)), n, data_seed)


def tensors(params, n_train: int, *, noise_seed=None, device="cpu"):
    import torch
    ds = dataset(params.get("data_file"), params["data_seed"], max(n_train, 10),
                 params["repro_label_noise"] if noise_seed is not None else 0.0, noise_seed)
    n = min(n_train, ds.n_train)
    as_t = lambda a: torch.as_tensor(np.ascontiguousarray(a)).to(device)  # noqa: E731
    return as_t(ds.X_train[:n]), as_t(ds.y_train[:n]), as_t(ds.X_test), as_t(ds.y_test), ds.dim, ds.n_classes


def network(params, widths, in_dim, out_dim, generator, device):
    from numerics.models import MLP, sample_prior
    model = MLP(in_dim, widths, out_dim, params["activation"])
    return model, sample_prior(model, "torch_default", 1, generator)[0].to(device)


# ------------------------------------------------------------------------------------------ points

def points(params: dict, seed: int, inputs=None) -> list:
    p = {k: v for k, v in params.items() if k != "mode"}
    tasks = []
    penalty = penalty_lambda(params)
    for s in range(params["sgd_seeds"]):
        for lr in params["sgd_lrs"]:
            tasks.append(task(f"sgd/s{s}/lr{lr:g}", {**p, "kind": "sgd", "replicate": s, "lr": lr, "penalty": 0.0},
                              seed, 1, s, weight=max(1, round(10 / lr))))
        tasks.append(task(f"sgd/s{s}/penalty", {**p, "kind": "sgd", "replicate": s, "lr": params["penalty_lr"],
                                                "penalty": penalty}, seed, 1, s,
                          weight=max(1, round(30 / params["penalty_lr"]))))
    for f, family in enumerate(FLOW_FAMILIES):
        for k in range(params["halvings"] + 1):
            tasks.append(task(f"flow/{family}/h{k}", {**p, "kind": "flow", "family": family, "halving": k},
                              seed, 2, weight=10 * 2 ** k))
    for s in range(params["sign_seeds"]):
        for b2 in params["sign_beta2s"]:
            tasks.append(task(f"sign/s{s}/b2{b2:g}", {**p, "kind": "sign", "replicate": s, "beta2": b2}, seed, 3, s,
                              weight=5))
    for s in range(params["repro_seeds"]):
        for opt in OPTIMIZERS:
            tasks.append(task(f"repro/s{s}/{opt}", {**p, "kind": "repro", "replicate": s, "optimizer": opt},
                              seed, 4, s, weight=20))
    return tasks


def compute(t) -> list[dict]:
    from numerics.device import resolve_device
    device = resolve_device(t.device)
    kind = t.params["kind"]
    if kind == "sgd":
        return [sgd_point(t, device)]
    if kind == "flow":
        return [flow_point(t, device)]
    if kind == "sign":
        return [sign_point(t, device)]
    return repro_traces(t, device)


def sgd_point(t, device) -> dict:
    from numerics.regularizers import batch_gradients, fixed_partition, sgd_regularizer
    from numerics.trainers import LossGoal, Optimizer, accuracy, full_loss, train
    p = t.params
    X, y, Xt, yt, d, C = tensors(p, p["sgd_n_train"], device=device)
    model, theta0 = network(p, p["sgd_widths"], d, C, t.torch_generator(0), device)
    n = X.shape[0]
    stop = LossGoal(model, X, y, "ce", p["loss_goal"], average=True)
    steps_per_epoch = -(-n // p["sgd_batch_size"])
    res = train(model, theta0, X, y, Optimizer("sgd", p["lr"]), loss="ce", max_steps=p["max_epochs"] * steps_per_epoch,
                batch_size=p["sgd_batch_size"], generator=t.torch_generator(1), penalty=p["penalty"], stop=stop)
    batches = fixed_partition(n, p["sgd_batch_size"], t.torch_generator(2))
    row = {"kind": "sgd", "replicate": p["replicate"], "lr": p["lr"], "penalty": p["penalty"],
           "reached": stop.theta is not None, "steps": res.steps, "reason": res.reason,
           "R_raw": sgd_regularizer(batch_gradients(model, res.theta, X, y, "ce", batches))}
    if stop.theta is not None:
        avg = stop.theta
        row.update(R=sgd_regularizer(batch_gradients(model, avg, X, y, "ce", batches)), train_loss=stop.loss_at_stop,
                   test_accuracy=float(accuracy(model, avg, Xt, yt)), theta_l2=float(avg.norm()),
                   test_loss=full_loss(model, avg, Xt, yt, "ce"))
    else:
        row.update(R=None, train_loss=full_loss(model, res.theta, X, y, "ce"), test_accuracy=None, theta_l2=None)
    return row


def flow_setup(t, device):
    """The flow family's network, loss closure, θ0, ∇L(θ0), λ_max and (for Adam) ε."""
    from numerics.real_flows import full_batch_loss, top_hessian_eigenvalue
    from theory.implicit_regularizers import gradient
    p = t.params
    X, y, _, _, d, C = tensors(p, p["flow_n_train"], device=device)
    model, theta0 = network(p, p["flow_widths"], d, C, t.torch_generator(0), device)
    loss_fn = full_batch_loss(model, X, y, "ce")
    lam = top_hessian_eigenvalue(loss_fn, theta0, t.torch_generator(1))
    g0 = gradient(loss_fn, theta0)[1].detach()
    return model, X, y, loss_fn, theta0, g0, lam


def flow_point(t, device) -> dict:
    from numerics.real_flows import reference_flow, run_full_batch, steps_for
    from numerics.trainers import Optimizer
    from theory import implicit_regularizers as ir
    p = t.params
    family, k = p["family"], p["halving"]
    model, X, y, loss_fn, theta0, g0, lam = flow_setup(t, device)
    if family == "momentum":
        beta = p["momentum_beta"]
        T, h0 = p["momentum_horizon"] / lam, p["momentum_h0"] / lam
        h = h0 * 2.0 ** -k
        n = steps_for(T, h)
        discrete = run_full_batch(model, theta0, X, y, "ce", Optimizer("heavy_ball", h, momentum=beta), n,
                                  init_state={"v": g0 / (1 - beta)})
        fields = {"plain flow": ir.heavy_ball_plain_field(loss_fn, beta),
                  "modified flow": ir.heavy_ball_modified_field(loss_fn, h, beta, p["coefficient_scale"])}
        extra = {"beta": beta}
    else:
        regime = "small" if "≪" in family else "large"
        eps = (p[f"adam_{regime}_eps_ratio"] * float(g0.abs().median())) ** 2
        b1, b2 = p["adam_beta1"], p["adam_beta2"]
        unit = eps ** 0.5 / lam
        T, h = p[f"adam_{regime}_horizon"] * unit, p[f"adam_{regime}_h0"] * unit * 2.0 ** -k
        n = steps_for(T, h)
        opt = Optimizer("adam", h, beta1=b1, beta2=b2, eps=eps, bias_correction=False, eps_in_sqrt=True)
        discrete = run_full_batch(model, theta0, X, y, "ce", opt, n, init_state={"m": g0, "s": g0 * g0})
        fields = {"plain flow": ir.adam_plain_field(loss_fn, eps),
                  "modified flow": ir.adam_modified_field(loss_fn, h, b1, b2, eps, p["coefficient_scale"])}
        g_end = ir.gradient(loss_fn, discrete)[1]
        extra = {"beta1": b1, "beta2": b2, "eps": eps,
                 "frac_gradient_dominated_start": float((g0.abs() > 10 * eps ** 0.5).double().mean()),
                 "frac_gradient_dominated_end": float((g_end.abs() > 10 * eps ** 0.5).double().mean())}
    rk_steps = max(2, 2 * (n // 8))  # RK4 at step 4h (error ∝ h⁴, far below the O(h²) signal), checked at 8h
    row = {"kind": "flow", "family": family, "halving": k, "step": h, "step_units": h * lam / (
        1.0 if family == "momentum" else extra["eps"] ** 0.5), "n_steps": n, "horizon": T, "lambda_max": lam,
        "displacement": float((discrete - theta0).norm()), **extra}
    for name, field in fields.items():
        end, ref_err = reference_flow(field, theta0, T, rk_steps)
        row[f"{name} error"] = float((discrete - end).norm())
        row[f"{name} reference error"] = ref_err
    return row


def sign_point(t, device) -> dict:
    from numerics.trainers import LossGoal, Optimizer, train
    from theory.implicit_regularizers import adam_gradient_dominated_coefficient, gradient
    from numerics.real_flows import full_batch_loss
    p = t.params
    X, y, _, _, d, C = tensors(p, p["sign_n_train"], device=device)
    model, theta0 = network(p, p["sign_widths"], d, C, t.torch_generator(0), device)
    stop = LossGoal(model, X, y, "ce", p["sign_goal"])
    opt = Optimizer("adam", p["sign_lr"], beta1=p["sign_beta1"], beta2=p["beta2"])
    res = train(model, theta0, X, y, opt, loss="ce", max_steps=p["sign_max_steps"], stop=stop)
    g = gradient(full_batch_loss(model, X, y, "ce"), res.theta)[1]
    return {"kind": "sign", "replicate": p["replicate"], "beta2": p["beta2"], "reached": stop.theta is not None,
            "steps": res.steps, "train_loss": stop.loss_at_stop, "grad_l1": float(g.abs().sum()),
            "grad_l2": float(g.norm()), "theta_l2": float(res.theta.norm()),
            "c_gradient_dominated": adam_gradient_dominated_coefficient(p["sign_beta1"], p["beta2"])}


def repro_traces(t, device) -> list[dict]:
    from numerics.regularizers import fixed_partition, regularizer_callback
    from numerics.trainers import Optimizer, train
    p = t.params
    X, y, Xt, yt, d, C = tensors(p, p["repro_n_train"], noise_seed=int(t.seed[0]) * 1000 + p["replicate"],
                                 device=device)
    model, theta0 = network(p, p["repro_widths"], d, C, t.torch_generator(0), device)
    n, B = X.shape[0], p["repro_batch_size"]
    steps_per_epoch = -(-n // B)
    opt = Optimizer(p["optimizer"], p["repro_lr"], eps=p["repro_eps"],
                    **({"beta2": p["repro_rmsprop_beta2"]} if p["optimizer"] == "rmsprop" else {}))
    batches = fixed_partition(n, B, t.torch_generator(2))
    callback = regularizer_callback(model, X, y, "ce", batches, opt, X_test=Xt, y_test=yt, theta0=theta0)
    res = train(model, theta0, X, y, opt, loss="ce", max_steps=p["repro_epochs"] * steps_per_epoch, batch_size=B,
                generator=t.torch_generator(1), callbacks=(callback,), every=p["repro_every"] * steps_per_epoch)
    rows = []
    for h in res.history:
        rows.append({"kind": "repro", "replicate": p["replicate"], "optimizer": p["optimizer"],
                     "epoch_float": h["step"] / steps_per_epoch, "n_params": model.n_params, **h})
    rows[-1]["final"] = True
    return rows


# ------------------------------------------------------------------------------------------- judge

def judge(rows: list[dict], params: dict) -> list[Claim]:
    claims = []
    claims.append(r_falls_claim(rows, params))
    claims.append(penalty_claim(rows, params))
    for family in FLOW_FAMILIES:
        claims.extend(flow_claims(rows, family))
    claims.append(sign_claim(rows, params))
    claims.append(constant_term_claim(rows, params))
    claims.extend(norm_claims(rows, params))
    return claims


def penalty_lambda(params) -> float:
    """λ = factor × (target lr − small lr): the small lr's own implicit term (η/4)R supplies the rest."""
    return params["penalty_factor"] * (params["penalty_target_lr"] - params["penalty_lr"])


def sgd_rows(rows, penalty: bool):
    return [r for r in rows if r["kind"] == "sgd" and (r["penalty"] > 0) == penalty]


def r_falls_claim(rows, params) -> Claim:
    name = "SGD: R at matched loss falls with the lr"
    runs = sgd_rows(rows, penalty=False)
    missing = [r for r in runs if not r["reached"]]
    what = (f"R = (1/m)Σ‖∇Ĉ_k‖² at the epoch-averaged iterate when the training loss first is <= "
            f"{params['loss_goal']:g}; per-seed OLS slope of log R on log lr, Student-t CI of their mean over "
            f"{params['sgd_seeds']} seeds")
    if missing or len(runs) < 3:
        return Claim(name=name, predicted="slope < 0", measured=None, ci=None, verdict="inconclusive",
                     rule=f"{len(missing)} run(s) did not reach the loss goal in max_epochs; {what}")
    slopes = per_seed_slopes(runs, lambda r: r["lr"], "R")
    return mean_sign_claim(name, slopes, -1, "mean slope", what)


def per_seed_slopes(runs, x_of, y_key: str) -> np.ndarray:
    """Per seed (``replicate``), the OLS slope of log ``y_key`` on log x_of(row)."""
    out = []
    for s in sorted({r["replicate"] for r in runs}):
        pts = [r for r in runs if r["replicate"] == s]
        out.append(float(np.polyfit(np.log([x_of(r) for r in pts]), np.log([r[y_key] for r in pts]), 1)[0]))
    return np.array(out)


def mean_sign_claim(name: str, values, sign: int, label: str, what: str) -> Claim:
    """The sign of the mean of independent per-seed values: the Student-t ``1 − ALPHA`` CI (seeds − 1 dof)
    wholly on the predicted side of 0 passes, wholly on the other side fails, else inconclusive."""
    side = "> 0" if sign > 0 else "< 0"
    values = np.asarray(values, float)
    if values.size < 2:
        return Claim(name=name, predicted=side, measured=None, ci=None, verdict="inconclusive",
                     rule=f"needs >= 2 seeds; {what}")
    half = t_quantile(ALPHA, 1, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
    ci = (float(values.mean() - half), float(values.mean() + half))
    verdict = interval_verdict(ci, 0.0, np.inf) if sign > 0 else interval_verdict(ci, -np.inf, 0.0)
    return Claim(name=name, predicted=side, measured=float(values.mean()), ci=list(ci), verdict=verdict,
                 rule=f"{100 * (1 - ALPHA):g}% Student-t CI ({values.size - 1} dof) of the {label} wholly {side} "
                      f"passes, wholly on the other side fails, else inconclusive; {what}",
                 test=f"{label} {values.mean():.3g}, CI [{ci[0]:.3g}, {ci[1]:.3g}] {side}")


def penalty_claim(rows, params) -> Claim:
    name = "explicit penalty at small lr reaches large-lr R"
    largest = params["penalty_target_lr"]
    large = {r["replicate"]: r for r in sgd_rows(rows, False) if r["lr"] == largest}
    pen = {r["replicate"]: r for r in sgd_rows(rows, True)}
    pairs = [(pen[s]["R"], large[s]["R"]) for s in sorted(pen) if s in large
             and pen[s]["reached"] and large[s]["reached"]]
    lam = penalty_lambda(params)
    what = (f"d = R(lr {params['penalty_lr']:g} + penalty λ = {lam:.3g}) / R(lr {largest:g}) − 1 per seed, "
            f"mean over {len(pairs)} seeds, Student t with {len(pairs) - 1} dof")
    if len(pairs) < 2:
        return Claim(name=name, predicted=f"|d| < {params['match_tolerance']:g}", measured=None, ci=None,
                     rule=what + "; fewer than 2 seeds reached the goal", verdict="inconclusive")
    d = np.array([a / b - 1 for a, b in pairs])
    return equivalent(name, float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))), params["match_tolerance"],
                      alpha=ALPHA, dof=len(d) - 1, what=what)


def flow_series(rows, family):
    pts = sorted((r for r in rows if r["kind"] == "flow" and r["family"] == family), key=lambda r: r["halving"])
    return pts


def flow_claims(rows, family) -> list[Claim]:
    pts = flow_series(rows, family)
    claims = []
    for series, band in (("plain flow", PLAIN_BAND), ("modified flow", MODIFIED_BAND)):
        name = f"{family}: {series} error ~h^{int(round(np.mean(band)))}"
        steps, errors, window = flow_window(pts, series)
        if window.sum() < MIN_POINTS:
            claims.append(Claim(name=name, predicted=list(band), measured=None, ci=None, verdict="inconclusive",
                                rule=f"needs >= {MIN_POINTS} errors >= {REFERENCE_MARGIN:g}x the RK4 reference error"))
            continue
        fit = fit_loglog_slope(steps[window], errors[window], level=1 - ALPHA)
        what = (f"fixed-horizon error ‖θ_discrete(T) − θ_flow(T)‖ against h; errors >= {REFERENCE_MARGIN:g}x "
                f"the RK4 reference's estimated error")
        if family != "momentum":
            what += (f"; coordinates with |g| > 10√ε: {100 * pts[0]['frac_gradient_dominated_start']:.0f}% at θ0, "
                     f"{100 * pts[-1]['frac_gradient_dominated_end']:.0f}% at θ(T)")
        claims.append(slope_within(name, fit, *band, what=what))
    return claims


def flow_window(pts, series):
    steps = np.array([r["step"] for r in pts], float)
    errors = np.array([r[f"{series} error"] for r in pts], float)
    ref = np.array([r[f"{series} reference error"] for r in pts], float)
    window = np.isfinite(errors) & (errors > 0) & (errors >= REFERENCE_MARGIN * ref)
    return steps, errors, window


def sign_claim(rows, params) -> Claim:
    name = "Adam: final ‖∇L‖₁ grows with β₂ at matched loss"
    runs = [r for r in rows if r["kind"] == "sign"]
    what = (f"full-batch Adam (lr {params['sign_lr']:g}, β₁ {params['sign_beta1']:g}) stopped when the training loss "
            f"first is <= {params['sign_goal']:g}; per-seed OLS slope of log ‖∇L‖₁ on log 1/(1−β₂), "
            f"{params['sign_seeds']} seeds; predicted sign from c = 1/(1−β₁) − 1/(1−β₂) < 0 (anti-penalized "
            f"‖∇L‖_(1,ε))")
    if any(not r["reached"] for r in runs) or len(runs) < 3:
        return Claim(name=name, predicted="slope > 0", measured=None, ci=None, verdict="inconclusive",
                     rule="some run did not reach the loss goal; " + what)
    return mean_sign_claim(name, per_seed_slopes(runs, lambda r: 1 / (1 - r["beta2"]), "grad_l1"), 1, "mean slope",
                           what)


def repro_rows(rows, optimizer=None):
    return [r for r in rows if r["kind"] == "repro" and (optimizer is None or r["optimizer"] == optimizer)]


def constant_term_claim(rows, params) -> Claim:
    name = "project's RMSProp term ≈ constant ηP/4"
    warm = 3 / (1 - params["repro_rmsprop_beta2"])  # steps after which v's zero start weighs < e^-3 = 5 %
    pts = [r for r in repro_rows(rows, "rmsprop") if r.get("project_rmsprop_term") is not None and r["step"] >= warm]
    band = params["constant_band"]
    what = (f"(η/4m)Σ‖s⊙∇C_k‖² over a fixed partition, s = 1/(√v + ε) the RMSProp state (ε = {params['repro_eps']:g}, "
            f"β₂ = {params['repro_rmsprop_beta2']:g}), divided by ηP/4, at every recorded step >= {warm:.0f} "
            f"(v warmed up) of {params['repro_seeds']} seeds")
    if not pts:
        return Claim(name=name, predicted=[1 - band, 1 + band], measured=None, ci=None, verdict="inconclusive",
                     rule="no recorded RMSProp point after the warm-up; " + what)
    ratios = np.array([r["project_rmsprop_term"] / r["project_rmsprop_constant"] for r in pts])
    worst = float(np.max(np.abs(ratios - 1)))
    return Claim(name=name, predicted=[1 - band, 1 + band], measured=float(np.median(ratios)),
                 ci=[float(ratios.min()), float(ratios.max())], verdict="pass" if worst <= band else "fail",
                 rule=f"max |ratio − 1| <= {band:g} (deterministic); {what}",
                 test=f"max |ratio − 1| = {worst:.3g} <= {band:g}")


def norm_claims(rows, params) -> list[Claim]:
    finals = {(r["optimizer"], r["replicate"]): r for r in repro_rows(rows) if r.get("final")}
    claims = []
    for opt in ("rmsprop", "adam"):
        name = f"project: SGD's ‖θ‖₂ < {opt}'s"
        seeds = sorted(s for (o, s) in finals if o == opt and ("sgd", s) in finals)
        what = (f"Δ = ‖θ_{opt}‖₂ − ‖θ_SGD‖₂ after {params['repro_epochs']} epochs at lr {params['repro_lr']:g} "
                f"(same init and batches per seed, {params['repro_label_noise']:.0%} label noise), "
                f"{len(seeds)} seeds; not at matched loss")
        d = [finals[(opt, s)]["theta_l2"] - finals[("sgd", s)]["theta_l2"] for s in seeds]
        claims.append(mean_sign_claim(name, d, 1, "mean Δ", what))
    return claims


# -------------------------------------------------------------------------------------------- plot

def plot(record: dict, stem) -> list:
    rows, params = record["points"], record["params"]
    claims = {c["name"]: c for c in record["claims"]}
    fig, axes = new_figure(4, rows=2, width_per_panel=4.3, height=3.5)
    _plot_r(axes[0], rows, params)
    for ax, family in zip(axes[1:4], FLOW_FAMILIES):
        _plot_flow(ax, rows, family, claims)
    _plot_sign(axes[4], rows)
    _plot_traces(axes[5], rows, ("train_error", "test_error"), "error", "reproduction: train / test error")
    _plot_traces(axes[6], rows, ("R", "project_rmsprop_term", "grad_one_norm_eps"), "value (log scale)",
                 "reproduction: regularizer terms")
    _plot_traces(axes[7], rows, ("theta_l2",), "‖θ‖₂", "reproduction: parameter norm")
    fig.suptitle(f"Implicit regularizers on a digits MLP (verdict {record['verdict']}, seed {record['seed']})",
                 fontsize=11)
    return save_figure(fig, stem)


def _plot_r(ax, rows, params):
    runs = [r for r in rows if r["kind"] == "sgd" and r["penalty"] == 0 and r.get("R") is not None]
    lrs = sorted({r["lr"] for r in runs})
    for s in sorted({r["replicate"] for r in runs}):
        pts = sorted((r for r in runs if r["replicate"] == s), key=lambda r: r["lr"])
        ax.plot([r["lr"] for r in pts], [r["R"] for r in pts], "-", color="0.75", lw=0.8)
    means, errs = [], []
    for lr in lrs:
        v = np.array([r["R"] for r in runs if r["lr"] == lr])
        means.append(v.mean())
        errs.append(v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0)
    ax.errorbar(lrs, means, yerr=errs, fmt="o-", color="C0", capsize=3, label="SGD, mean ± SE over seeds")
    pen = [r for r in rows if r["kind"] == "sgd" and r["penalty"] > 0 and r.get("R") is not None]
    if pen:
        x = pen[0]["lr"] + pen[0]["penalty"]
        v = np.array([r["R"] for r in pen])
        ax.errorbar([x * 1.04], [v.mean()], yerr=[v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0], fmt="s",
                    color="C3", capsize=3, label=f"lr {pen[0]['lr']:g} + penalty λ={pen[0]['penalty']:.2g} (at lr+λ)")
    _log_axes(ax, y=False)
    ax.set_xticks(lrs, [f"{lr:g}" for lr in lrs])
    ax.set_xlabel("learning rate η")
    ax.set_ylabel(f"R at loss {params['loss_goal']:g} (epoch average)")
    ax.set_title("SGD regularizer R vs learning rate", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)


def _plot_flow(ax, rows, family, claims):
    pts = flow_series(rows, family)
    if not pts:
        ax.set_visible(False)
        return
    units = np.array([r["step_units"] for r in pts])
    for i, series in enumerate(("plain flow", "modified flow")):
        steps, errors, window = flow_window(pts, series)
        name = next((n for n in claims if n.startswith(f"{family}: {series}")), None)
        slope = claims[name]["measured"] if name else None
        label = f"{series}: slope {slope:.2f}" if slope is not None else series
        ax.plot(units, errors, "-", color=f"C{i}", lw=1)
        ax.plot(units[window], errors[window], "o", color=f"C{i}", ms=4, label=label)
        ax.plot(units[~window], errors[~window], "o", mfc="none", color=f"C{i}", ms=4)
        ax.plot(units, [r[f"{series} reference error"] for r in pts], ":", color=f"C{i}", lw=0.8)
    for order in (1, 2):
        e = [r[f"{'plain' if order == 1 else 'modified'} flow error"] for r in pts][-1]
        ax.plot(units, e / 3 * (units / units[-1]) ** order, "--", color="0.6", lw=0.8)
    _log_axes(ax)
    unit = "1/λ_max" if family == "momentum" else "√ε/λ_max"
    ax.set_xlabel(f"step size h (units of {unit})")
    ax.set_ylabel("‖θ_discrete(T) − θ_flow(T)‖")
    ax.set_title(f"{family}: slope test (dotted: RK4 error)", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(True, which="major", alpha=0.3)


def _plot_sign(ax, rows):
    runs = [r for r in rows if r["kind"] == "sign"]
    if not runs:
        ax.set_visible(False)
        return
    for s in sorted({r["replicate"] for r in runs}):
        pts = sorted((r for r in runs if r["replicate"] == s), key=lambda r: r["beta2"])
        ax.plot([1 / (1 - r["beta2"]) for r in pts], [r["grad_l1"] for r in pts], "o-", ms=3, lw=0.8,
                color=f"C{s % 10}")
    _log_axes(ax, y=False)
    ax.set_xlabel("1/(1 − β₂)")
    ax.set_ylabel("‖∇L‖₁ at matched loss")
    ax.set_title("Adam's ℓ1 term: sign (one line per seed)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)


_STYLE = {"train_error": "-", "test_error": "--", "R": "-", "project_rmsprop_term": "--",
          "grad_one_norm_eps": ":", "theta_l2": "-"}
_LABEL = {"R": "R (SGD term)", "project_rmsprop_term": "project's RMSProp term",
          "grad_one_norm_eps": "‖∇C‖_(1,ε) (Adam term)", "train_error": "train", "test_error": "test",
          "theta_l2": ""}


def _log_axes(ax, x=True, y=True):
    """Log axes with plain major labels and no minor labels (mathtext minor labels make saving slow)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter
    for on, axis, set_scale in ((x, ax.xaxis, ax.set_xscale), (y, ax.yaxis, ax.set_yscale)):
        if on:
            set_scale("log")
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(NullFormatter())


def _plot_traces(ax, rows, keys, ylabel, title):
    reps = repro_rows(rows)
    if not reps:
        ax.set_visible(False)
        return
    for i, opt in enumerate(OPTIMIZERS):
        for key in keys:
            series = {}
            for r in repro_rows(rows, opt):
                if r.get(key) is not None:
                    series.setdefault(round(r["epoch_float"], 6), []).append(r[key])
            if not series:
                continue
            ep = sorted(series)
            ax.plot(ep, [np.mean(series[e]) for e in ep], _STYLE[key], color=f"C{i}",
                    label=f"{opt} {_LABEL[key]}".strip())
    if "project_rmsprop_term" in keys:
        const = [r["project_rmsprop_constant"] for r in reps if r.get("project_rmsprop_constant")]
        if const:
            ax.axhline(const[0], color="0.5", lw=0.8, ls="-.", label="ηP/4 (project's term if ≈ constant)")
    if "R" in keys:
        _log_axes(ax, x=False)
    ax.set_xlabel("epoch (mean over seeds)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=6)
    ax.grid(True, alpha=0.3)
