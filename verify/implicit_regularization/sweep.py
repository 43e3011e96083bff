"""The points of ``implicit_regularization`` and what each computes (float64; randomness only from the task's
generators, so rows do not depend on the executor):

- ``sgd``: SGD at one lr (or the small lr with the explicit penalty) until the training loss of the epoch-averaged
  iterate is <= ``loss_goal``; R = (1/m)Σ_k‖∇Ĉ_k‖² there, over a fixed partition drawn per seed;
- ``flow``: full-batch heavy-ball / Adam from warm buffers against RK4 solutions of the plain and modified flows
  over a fixed horizon, at step h0·2^-k;
- ``sign``: full-batch Adam at one β₂ until the training loss is <= ``sign_goal``; ‖∇L‖₁ there;
- ``repro``: the modified-loss project's experiment (SGD/RMSProp/Adam, label noise), as traces.
"""
from __future__ import annotations

from verify.engine import task
from verify.implicit_regularization.data import network, tensors

OPTIMIZERS = ("sgd", "rmsprop", "adam")
FLOW_FAMILIES = ("momentum", "adam √ε≪|g|", "adam √ε≫|g|")
RK4_COARSENING = 4  # the reference RK4 step is 4h (its error ∝ h⁴ is far below the O(h²) signal)


def penalty_lambda(params) -> float:
    """λ = factor × (target lr − small lr): the small lr's own implicit term (η/4)R supplies the rest."""
    return params["penalty_factor"] * (params["penalty_target_lr"] - params["penalty_lr"])


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
    rk_steps = max(2, 2 * (n // (2 * RK4_COARSENING)))  # RK4 at step 4h, its error estimated at 8h
    row = {"kind": "flow", "family": family, "halving": k, "step": h, "step_units": h * lam / (
        1.0 if family == "momentum" else extra["eps"] ** 0.5), "n_steps": n, "horizon": T, "lambda_max": lam,
        "displacement": float((discrete - theta0).norm()), "theta_l2": float(discrete.norm()), **extra}
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
