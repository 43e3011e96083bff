"""The runs of ``edge_of_stability``: one task per seed (gradient flow gives η_c, then the η grid of GD and
heavy-ball runs inside the task); the data and the model; the per-run record."""
from __future__ import annotations

import time

import numpy as np
import torch

from numerics.datasets import digits_task, standardize
from numerics.device import resolve_device
from numerics.eos_monitor import EosMonitor, subsample, tracking_summary
from numerics.gradient_flow import gradient_flow
from numerics.models import CNN, MLP, sample_prior
from numerics.sharpness import loss_closure, sharpness
from numerics.trainers import Optimizer, accuracy, loss_value, train
from verify.edge_of_stability.params import SUPER_CRITICAL
from verify.engine import task
from verify.errors import require
from verify.inputs import fold_data, user_data

DIGIT_CLASSES = tuple(range(10))


def prepare(params: dict, inputs: dict) -> dict:
    """``--data FILE.npz`` replaces the digits by the user's data (used as given, then standardized if asked)."""
    return fold_data(params, inputs)


def validate(p: dict) -> None:
    """Constraints between parameters (types and ranges are declared in :mod:`.params`)."""
    require(len(set(p["etas"])) == len(p["etas"]), f"etas must be distinct, got {p['etas']}")
    require(len(set(p["seeds"])) == len(p["seeds"]), f"seeds must be distinct, got {p['seeds']}")
    require(p["dataset"] != "file" or p.get("data_file"), "dataset=file needs --data FILE.npz")
    if p["arch"] == "cnn":
        require(len(p["widths"]) == 2, f"arch=cnn takes widths=channels,hidden (2 numbers), got {p['widths']}")
        require(p["activation"] == "relu", "arch=cnn is a ReLU network: set activation=relu")
    if p["dataset"] == "file":
        require(p["n_train"] <= p["data_n_train"],
                f"n_train = {p['n_train']} but --data has {p['data_n_train']} training examples")
    ds = load_dataset(p)  # surfaces data errors (sizes, file contents) as one line before any task runs
    require(p["arch"] != "cnn" or ds.image_shape is not None, "arch=cnn needs image data (the digits)")


def load_dataset(p: dict):
    ds = user_data(p)
    if ds is not None:
        ds = ds.head(p["n_train"])
    else:
        C = len(DIGIT_CLASSES)
        balanced = -(-p["n_train"] // C) * C  # the next balanced size; its prefix is nested (datasets.py)
        ds = digits_task(DIGIT_CLASSES, balanced, p["data_seed"], n_test=p["n_test"]).head(p["n_train"])
    return standardize(ds) if p["standardize"] else ds


def build_model(p: dict, ds):
    if p["arch"] == "cnn":
        return CNN(ds.image_shape, channels=p["widths"][0], hidden=p["widths"][1], out_dim=ds.n_classes)
    return MLP(ds.dim, p["widths"], ds.n_classes, p["activation"])


def points(params: dict, seed: int, inputs: dict) -> list:
    """One task per seed, keyed by the seed's value (a row never depends on how many seeds there are)."""
    keep = {k: v for k, v in params.items() if k != "seeds"}
    return [task(f"seed={s}", {**keep, "seed": s}, seed, s, weight=len(params["etas"]) + len(params["heavy_ball_etas"]) + 2)
            for s in params["seeds"]]


def compute(t) -> list[dict]:
    start = time.process_time()
    p = t.params
    device = resolve_device(t.device)
    ds = load_dataset(p)
    to = lambda a, dt=torch.float64: torch.as_tensor(a, dtype=dt, device=device)  # noqa: E731
    X, y = to(ds.X_train), to(ds.y_train, torch.int64)
    data = {"X": X, "y": y, "Xt": to(ds.X_test), "yt": to(ds.y_test, torch.int64)}
    model = build_model(p, ds)
    theta0 = sample_prior(model, p["prior"], 1, t.torch_generator(0))[0].to(device)
    f = loss_closure(model, X, y, p["loss"])
    flow = gradient_flow(f, theta0, rng=t.rng(1), loss_goal=p["loss_goal"], max_steps=p["max_steps"],
                         sharpness_every=p["gf_sharpness_every"], snapshot_every=max(1, p["gf_sharpness_every"]))
    s_gf = flow.sharpness
    eta_c = 2.0 / s_gf
    cpu_flow = time.process_time() - start
    gf_row = {"kind": "gradient_flow", "cpu_seconds": cpu_flow, "seed": p["seed"], "eta": 0.0, "eta_multiple": 0.0, "eta_c": eta_c,
              "sharpness": s_gf, "sharpness_initial": flow.trace[0]["sharpness"], "converged": flow.reached_goal,
              "reason": flow.reason, "time": flow.time, "steps": flow.steps, "n_params": model.n_params,
              "n_train": ds.n_train, "n_test": int(ds.y_test.shape[0]), "dataset": ds.name,
              **_final_fields(model, f, flow.theta, theta0, data, p["loss"], prefix=""),
              "sharpness_trace": [[r["time"], r["sharpness"]] for r in flow.trace],
              "loss_trace": subsample([[r["time"], r["loss"]] for r in flow.trace])}
    rows = [gf_row]
    for i, m in enumerate(p["etas"]):
        rows.append(_run(p, model, f, theta0, data, flow, "gd", m * eta_c, m, eta_c, t.rng(2, i)))
    hb_c = 2.0 * (1 + p["momentum"]) / s_gf
    for i, m in enumerate(p["heavy_ball_etas"]):
        rows.append(_run(p, model, f, theta0, data, flow, "heavy_ball", m * hb_c, m, eta_c, t.rng(3, i), hb_c))
    gf_row["u_curve"] = u_curve([r for r in rows if r["kind"] == "gd"])
    gf_row["cpu_seconds_task"] = time.process_time() - start
    return rows


def _norms(theta: torch.Tensor, theta0: torch.Tensor) -> dict:
    return {"norm_l1": float(theta.abs().sum()), "norm_l2": float(theta.norm()),
            "dist_init": float((theta - theta0).norm())}


def _final_fields(model, f, theta, theta0, data, loss: str, prefix: str) -> dict:
    with torch.no_grad():
        test_loss = float(loss_value(loss, model(theta, data["Xt"]), data["yt"]))
    out = {**_norms(theta, theta0), "train_loss": float(f(theta).detach()), "test_loss": test_loss,
           "train_accuracy": float(accuracy(model, theta, data["X"], data["y"])),
           "test_accuracy": float(accuracy(model, theta, data["Xt"], data["yt"]))}
    return {prefix + k: v for k, v in out.items()}


def _run(p, model, f, theta0, data, flow, kind, eta, multiple, eta_c, rng, eta_c_hb=None) -> dict:
    start = time.process_time()
    beta = p["momentum"] if kind == "heavy_ball" else 0.0
    threshold = 2.0 * (1 + beta) / eta  # linear stability of GD (β = 0) and of heavy-ball
    time_per_step = eta / (1 - beta)
    expected_steps = max(1.0, flow.time / time_per_step)
    every = max(1, int(round(expected_steps / p["sharpness_evals"])))
    windows = (p["cf_windows"] if kind == "gd" and multiple >= SUPER_CRITICAL else 0, p["cf_window"])
    mon = EosMonitor(f, eta, threshold, every, p["average_last"], flow if kind == "gd" else None, rng, windows)
    opt = Optimizer("heavy_ball", eta, momentum=beta) if kind == "heavy_ball" else Optimizer("gd", eta)
    goal = p["loss_goal"]
    res = train(model, theta0, data["X"], data["y"], opt, loss=p["loss"], max_steps=p["max_steps"],
                stop=lambda st: "loss_goal" if st.batch_loss < goal else None, callbacks=(mon,), every=1)
    converged = res.reason == "loss_goal"
    row = {"kind": kind, "seed": p["seed"], "eta": eta, "eta_multiple": multiple, "eta_c": eta_c,
           "momentum": beta, "threshold": threshold, "two_over_eta": 2.0 / eta, "converged": converged,
           "reason": res.reason, "steps": res.steps, "sharpness_every": every}
    if kind == "heavy_ball":
        row["eta_c_heavy_ball"] = eta_c_hb
    if res.diverged or not torch.isfinite(res.theta).all():
        return {**row, "sharpness": None, "sharpness_avg": None, "sharpness_trace": mon.trace,
                "loss_trace": subsample([[k, v] for k, v in enumerate(mon.losses)])}
    s_raw, u = sharpness(f, res.theta, v0=mon.u, rng=rng)
    avg = mon.avg.mean()
    s_avg, _ = sharpness(f, avg, v0=u)
    losses = np.asarray(mon.losses)
    half = losses[len(losses) // 2:]
    rises = int(np.sum(np.diff(half) > 0)) if half.size > 1 else 0
    s_trace = np.array([s for _, s in mon.trace]) if mon.trace else np.array([s_raw])
    row.update({"sharpness": s_raw, "sharpness_avg": s_avg, "sharpness_initial": float(s_trace[0]),
                "sharpness_max": float(max(s_trace.max(), s_raw)), "crossing_step": mon.crossing,
                "eta_sharpness_half": eta * s_raw / (2 * (1 + beta)), "eta_sharpness_half_avg": eta * s_avg / (2 * (1 + beta)),
                "late_loss_rises": rises, "late_steps": int(max(half.size - 1, 0)),
                **_final_fields(model, f, res.theta, theta0, data, p["loss"], prefix=""),
                **_final_fields(model, f, avg, theta0, data, p["loss"], prefix="avg_"),
                "averaged_iterates": len(mon.avg),
                "sharpness_trace": mon.trace,
                "loss_trace": subsample([[k, v] for k, v in enumerate(mon.losses)]),
                "central_flow": mon.cf})
    if mon.distance is not None:
        row["gf_distance"] = subsample([list(r) for r in mon.distance.rows])
        row.update(tracking_summary(mon.distance.rows, mon.crossing, eta, s_trace[0] >= threshold))
    row["cpu_seconds"] = time.process_time() - start
    return row


def u_curve(runs: list[dict]) -> dict:
    """The U-curve diagnostic for one seed: the test loss at the smallest and largest converged η, its minimum
    and argmin (η/η_c), and the depth min(ends)/min − 1 (> 0: a U shape, whatever its size)."""
    conv = sorted((r for r in runs if r["converged"]), key=lambda r: r["eta"])
    if len(conv) < 3:
        return {"runs": len(conv)}
    loss = np.array([r["test_loss"] for r in conv])
    i = int(np.argmin(loss))
    return {"runs": len(conv), "test_loss_smallest_eta": float(loss[0]), "test_loss_largest_eta": float(loss[-1]),
            "test_loss_min": float(loss[i]), "argmin_eta_multiple": conv[i]["eta_multiple"],
            "depth": float(min(loss[0], loss[-1]) / loss[i] - 1), "interior_minimum": bool(0 < i < len(conv) - 1)}


GROWS = ("seeds",)


def grow(params: dict, round: int) -> dict:
    """Round ``round`` of a sequential run: the seeds doubled each round (round 1: as given); the added seeds
    are the next integers above the largest given one, so earlier rounds' tasks are reused."""
    seeds = list(params["seeds"])
    want, s = len(seeds) * 2 ** (round - 1), max(seeds) + 1
    while len(seeds) < want:
        seeds.append(s)
        s += 1
    return {**params, "seeds": seeds}
