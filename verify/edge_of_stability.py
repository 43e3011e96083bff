"""``python -m verify edge_of_stability``: full-batch GD on a small real network at the edge of stability —
the learning rate trades parameter norm for sharpness (spec: training_dynamics.md §A).

Papers' claims. Cohen, Kaur, Li, Kolter, Talwalkar (2021, "Gradient descent on neural networks typically
occurs at the edge of stability"): under full-batch GD the sharpness S = λ_max(∇²L) rises (progressive
sharpening) until it reaches 2/η and then hovers just above it while the loss keeps falling non-monotonically;
GD follows gradient flow until S first reaches 2/η and departs from it afterwards. Fojtik, Matveev, Chou,
Kutyniok, Maly (2025, arXiv 2505.21423): with η_c = 2/s_GF (s_GF the sharpness of the gradient-flow
solution), the final sharpness stays at s_GF for η < η_c and sits at ≈ 2/η above it, while the parameter
norm (their ‖θ‖₁) grows with η; the test loss is U-shaped in η. Package's extension (not in those papers):
the one-direction central-flow / self-stabilization predictions of Damian, Nichani, Lee (2023) and Cohen,
Damian et al. (2024), σ² = 2⟨−∇L, ∇S⟩/‖∇S‖² (see :func:`numerics.sharpness.self_stabilization`).

Protocol (Cohen et al.). Digits (8×8, ten classes; ``n_train`` images — the nested prefix of the next
balanced set when n_train is not a multiple of 10 — and ``n_test`` test images), inputs standardized
(:func:`numerics.datasets.standardize`: centred per feature, divided by the overall s.d.), MSE ½‖f − e_y‖²
averaged over the examples, a tanh MLP 64→32→32→10, PyTorch's default initialization (prior
``torch_default``), float64. Per seed: gradient flow by RK4 with step 1/S (:mod:`numerics.gradient_flow`)
until the loss is below ``loss_goal`` gives s_GF and η_c = 2/s_GF; then GD (``numerics.trainers.train``,
full batch) at η = m·η_c for each multiple m of ``etas`` until the loss is below ``loss_goal`` (or
``max_steps``), and heavy-ball at η = m·η_c^HB, η_c^HB = 2(1 + β)/s_GF (its linear-stability threshold),
for each m of ``heavy_ball_etas``. S by Lanczos on Hessian-vector products (:mod:`numerics.sharpness`)
about ``sharpness_evals`` times per run; "averaged" quantities are taken at the mean of the last
``average_last`` iterates (the point GD oscillates around). A run "converged" when it reached the loss goal.

Claims (thresholds fixed in advance; every run is deterministic given the seed, so the rules are tolerance
rules, not confidence intervals; seeds whose gradient flow does not reach the goal are left out):
1. ``progressive_sharpening``: in every seed, the smallest grid η ≤ 0.8 η_c has S_end/S_0 ≥ 2 (pass); some
   seed with S_end/S_0 < 1.2 (S stays within ±20 % or falls) fails; in between, or no such η, inconclusive.
2. ``eos_fingerprint``: every converged GD run with η ∈ [1.5, 4] η_c has ηS̄/2 ∈ [0.97, 1.15] (S̄ at the
   iterate average), max_t S > 2/η and a non-monotone loss late in training (a loss increase in the last half
   of the steps). A converged run with ηS̄/2 < 0.9 or > 1.15, or missing the overshoot or the non-monotone
   loss, fails; ηS̄/2 ∈ [0.9, 0.97) is inconclusive, as are fewer than 3 converged runs in the range or
   fewer converged than not. ``eos_fingerprint_heavy_ball``: the same with 2(1 + β)/η in place of 2/η.
3. ``phase_transition``: every converged run with η ≤ 0.8 η_c has |S̄/s_GF − 1| ≤ 2 % and
   |‖θ̄‖₂/‖θ_GF‖₂ − 1| ≤ 1 %; every one with η ≥ 1.1 η_c has ηS̄/2 ≤ 1.1. A violation fails; a seed with no
   converged run on one side is inconclusive.
4. ``norm_sharpness_tradeoff``: on the converged runs with η ≥ 1.1 η_c, in every seed (≥ 4 runs), Spearman
   ρ(η, ‖θ‖₁) ≥ 0.8 and ρ(η, S) ≤ −0.8, both for the last iterate and for the iterate average (pass); some
   seed with ρ(η, ‖θ‖₁) ≤ 0 or ρ(η, S) ≥ 0 (the trade-off reversed) fails; else inconclusive. ρ for ‖θ‖₂ and
   ‖θ − θ₀‖₂ are reported (the paper's norm is ‖θ‖₁).
5. U-curve of the test loss: a diagnostic only (the effect is a few %; no verdict). Per seed the GF row's
   ``u_curve`` holds the test loss at the smallest and largest η, its minimum and argmin; the figure draws it.
6. ``gd_tracks_gradient_flow``: with d(t) = ‖θ_GD(t) − θ_GF(t)‖₂/‖θ_GF(t) − θ₀‖₂ (GD's polygon, iterate k at
   time kη, against the flow, on the flow's time span [0, T_GF]): every converged run with η ≤ 0.8 η_c has
   max_t d ≤ 0.1 (tracks throughout: GD is the Euler method, d = O(η)); every converged run with
   η ∈ [1.5, 4] η_c whose S starts below 2/η tracks up to t* (S first ≥ 2/η on the trace) — its
   max_{t ≤ t*} d/(η/η_c) is at most 1.5 × the largest d/(η/η_c) of the seed's runs below 0.8 η_c, i.e. no more
   than GD's O(η) error in the stable regime — and departs: d(T_end)/max_{t ≤ t*} d ≥ 1.5 at the last compared
   time, with at least 3 compared times after t* (below η_c the distance shrinks along the way). A violation
   fails; fewer than 2 eligible runs on either side is inconclusive.
7. ``central_flow`` (package's extension): in ``cf_windows`` back-to-back windows of ``cf_window`` GD steps
   from the first loss increase after t* on (GD at the edge: the oscillation has developed), on runs with
   η ≥ 1.1 η_c, at the window mean θ̄, where λ₂ < 1.9/η and σ² > 0: the ratios of the measured
   oscillation variance along u (linearly detrended) to σ², and of the excess loss (mean over the window −
   L(θ̄)) to σ²/η. Pass if both medians over the eligible windows lie in [2/3, 1.5]; fail if either lies
   outside [1/2, 2]; else, or with fewer than 5 eligible windows, inconclusive.

Every point has ``kind`` ("gradient_flow", "gd", "heavy_ball"), ``seed``, ``eta`` (0 for gradient flow),
``eta_c`` (the seed's), ``sharpness`` (final), ``converged``, and the runs the norms (raw and averaged),
train/test loss and accuracy, steps, the S trace and the loss trace (subsampled), the GD–GF distances and
the central-flow windows.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator, ScalarFormatter
from scipy.stats import spearmanr

from numerics.datasets import digits_task, load_npz, standardize
from numerics.device import resolve_device
from numerics.gradient_flow import PolygonDistance, TrailingAverage, gradient_flow
from numerics.models import ACTIVATIONS, ARCHS, CNN, MLP, PRIORS, sample_prior
from numerics.sharpness import loss_closure, self_stabilization, sharpness
from numerics.trainers import LOSSES, Optimizer, accuracy, loss_value, train
from verify.engine import task
from verify.errors import require
from verify.figures import new_figure, save_figure
from verify.report import Claim

NAME = "edge_of_stability"
SUMMARY = "full-batch GD on a tanh MLP (digits): progressive sharpening, ηS/2 ≈ 1, norm vs sharpness, central flow"
INPUTS = ("data",)
QUICK = {
    "dataset": "digits",
    "n_train": 256,
    "n_test": 1000,
    "data_seed": 0,
    "standardize": True,
    "arch": "mlp",
    "widths": [32, 32],  # mlp: hidden widths; cnn: [channels, hidden]
    "activation": "tanh",
    "loss": "mse",
    "prior": "torch_default",
    "etas": [0.2, 0.5, 0.8, 1.1, 1.5, 2.0, 3.0, 4.0],  # multiples of the seed's η_c = 2/s_GF
    "heavy_ball_etas": [1.5, 3.0],  # multiples of η_c^HB = 2(1 + momentum)/s_GF
    "momentum": 0.5,
    "seeds": [0, 1, 2],
    "loss_goal": 0.02,
    "max_steps": 20000,
    "sharpness_evals": 40,  # S measurements per run (the trace)
    "average_last": 20,  # iterates averaged at the stop
    "gf_sharpness_every": 20,  # RK4 steps between sharpness measurements of the flow
    "cf_windows": 4,  # central-flow windows per GD run with η >= 1.1 η_c, back to back from t*
    "cf_window": 48,  # steps per window
}
FULL = {"seeds": [0, 1, 2, 3, 4], "etas": [0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0],
        "heavy_ball_etas": [1.5, 2.0, 3.0], "sharpness_evals": 100, "cf_windows": 8}

DIGIT_CLASSES = tuple(range(10))
SUB_CRITICAL, SUPER_CRITICAL = 0.8, 1.1  # η/η_c below / above the transition
EOS_RANGE = (1.5, 4.0)
SHARPENING_PASS, SHARPENING_FAIL = 2.0, 1.2
EOS_BAND, EOS_REFUTED, EOS_GREY = (0.97, 1.15), 0.9, 0.97
SUB_S_TOL, SUB_NORM_TOL, SUPER_S_MAX = 0.02, 0.01, 1.1
RANK_MIN, RANK_MIN_RUNS = 0.8, 4
TRACK_MAX, TRACK_SCALE, DEPART_GROWTH, DEPART_POINTS = 0.1, 1.5, 1.5, 3
CF_PASS, CF_FAIL, CF_MIN_WINDOWS, CF_LAMBDA2 = (2 / 3, 1.5), (0.5, 2.0), 5, 1.9
TRACE_POINTS = 200  # loss-trace and distance points kept per run


# ----------------------------------------------------------------------------------------------------
# Parameters and data
# ----------------------------------------------------------------------------------------------------
def prepare(params: dict, inputs: dict) -> dict:
    """``--data FILE.npz`` replaces the digits by the user's data (used as given, then standardized if asked)."""
    if inputs.get("data") is not None:
        params["dataset"] = "npz"
        params["data_path"] = str(inputs["data"])
    return params


def _finite_positive(values) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in values)


def validate(p: dict) -> None:
    require(p["dataset"] in ("digits", "npz"), f"dataset must be digits (or give --data FILE.npz), got {p['dataset']!r}")
    require(p["dataset"] == "digits" or p.get("data_path"), "dataset=npz needs --data FILE.npz")
    require(p["n_train"] >= 2, f"n_train must be >= 2, got {p['n_train']}")
    require(p["n_test"] >= 10, f"n_test must be >= 10, got {p['n_test']}")
    require(p["data_seed"] >= 0, f"data_seed must be >= 0, got {p['data_seed']}")
    require(p["arch"] in ARCHS, f"arch must be one of {', '.join(ARCHS)}, got {p['arch']!r}")
    require(isinstance(p["widths"], list) and len(p["widths"]) >= 1 and all(isinstance(w, int) and w >= 1 for w in p["widths"]),
            f"widths must be positive integers, got {p['widths']}")
    require(p["activation"] in ACTIVATIONS, f"activation must be one of {', '.join(ACTIVATIONS)}, got {p['activation']!r}")
    if p["arch"] == "cnn":
        require(len(p["widths"]) == 2, f"arch=cnn takes widths=channels,hidden (2 numbers), got {p['widths']}")
        require(p["activation"] == "relu", "arch=cnn is a ReLU network: set activation=relu")
    require(p["loss"] in LOSSES, f"loss must be one of {', '.join(LOSSES)}, got {p['loss']!r}")
    require(p["prior"] in PRIORS, f"prior must be one of {', '.join(PRIORS)}, got {p['prior']!r}")
    require(isinstance(p["etas"], list) and len(p["etas"]) >= 1 and _finite_positive(p["etas"]),
            f"etas (multiples of eta_c) must be positive numbers, got {p['etas']}")
    require(len(set(p["etas"])) == len(p["etas"]), f"etas must be distinct, got {p['etas']}")
    require(isinstance(p["heavy_ball_etas"], list) and _finite_positive(p["heavy_ball_etas"]),
            f"heavy_ball_etas (multiples of 2(1+momentum)/s_GF) must be positive numbers, got {p['heavy_ball_etas']}")
    require(isinstance(p["momentum"], (int, float)) and 0 <= p["momentum"] < 1, f"momentum must be in [0, 1), got {p['momentum']}")
    require(isinstance(p["seeds"], list) and len(p["seeds"]) >= 1 and all(isinstance(s, int) and s >= 0 for s in p["seeds"]),
            f"seeds must be non-negative integers, got {p['seeds']}")
    require(len(set(p["seeds"])) == len(p["seeds"]), f"seeds must be distinct, got {p['seeds']}")
    require(isinstance(p["loss_goal"], (int, float)) and math.isfinite(p["loss_goal"]) and p["loss_goal"] > 0,
            f"loss_goal must be > 0, got {p['loss_goal']}")
    require(p["max_steps"] >= 100, f"max_steps must be >= 100, got {p['max_steps']}")
    require(p["sharpness_evals"] >= 5, f"sharpness_evals must be >= 5, got {p['sharpness_evals']}")
    require(p["average_last"] >= 1, f"average_last must be >= 1, got {p['average_last']}")
    require(p["gf_sharpness_every"] >= 1, f"gf_sharpness_every must be >= 1, got {p['gf_sharpness_every']}")
    require(p["cf_windows"] >= 0 and p["cf_window"] >= 4, f"need cf_windows >= 0 and cf_window >= 4, got {p['cf_windows']}, {p['cf_window']}")
    ds = load_dataset(p)  # surfaces data errors (sizes, file contents) as one line before any task runs
    require(p["arch"] != "cnn" or ds.image_shape is not None, "arch=cnn needs image data (the digits)")


def load_dataset(p: dict):
    if p["dataset"] == "npz":
        ds = load_npz(p["data_path"])
        require(p["n_train"] <= ds.n_train, f"n_train = {p['n_train']} but --data has {ds.n_train} training examples")
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


# ----------------------------------------------------------------------------------------------------
# Tasks: one per seed (the flow gives η_c, then the η grid runs inside the task)
# ----------------------------------------------------------------------------------------------------
def points(params: dict, seed: int, inputs: dict) -> list:
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
              "loss_trace": _subsample([[r["time"], r["loss"]] for r in flow.trace])}
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


def _subsample(rows: list, n: int = TRACE_POINTS) -> list:
    if len(rows) <= n:
        return rows
    idx = np.unique(np.linspace(0, len(rows) - 1, n).round().astype(int))
    return [rows[i] for i in idx]


class _Monitor:
    """The per-step callback of one run: loss trace, S every ``every`` steps, the trailing average, GD's
    distance to the flow (GD only) and the central-flow windows."""

    def __init__(self, f, eta, threshold, every, average_last, flow, rng, windows):
        self.f, self.eta, self.threshold, self.every = f, eta, threshold, every
        self.avg = TrailingAverage(average_last)
        self.distance = PolygonDistance(flow.snapshots, eta) if flow is not None else None
        self.losses, self.trace = [], []
        self.u = None
        self.rng = rng
        self.last_step = -1
        self.crossing = None  # first trace step with S >= threshold
        self.windows_left, self.window_len = windows
        self.window, self.next_window, self.cf = None, None, []

    def __call__(self, st):
        if st.step == self.last_step:  # the trainer's final call repeats the last iterate after a stop
            return None
        self.last_step = st.step
        theta = st.theta
        if math.isfinite(st.batch_loss):
            self.losses.append(st.batch_loss)
        self.avg.push(theta)
        if self.distance is not None:
            self.distance.update(st.step, theta)
        if st.step % self.every == 0:
            s, self.u = sharpness(self.f, theta, v0=self.u, rng=self.rng if self.u is None else None)
            self.trace.append([st.step, s])
            if self.crossing is None and s >= self.threshold:
                self.crossing = st.step
        self._windows(st.step, theta, st.batch_loss)
        return None

    def _windows(self, step, theta, value):
        if self.windows_left <= 0 or self.crossing is None:
            return
        if self.next_window is None:  # the central flow describes GD once the instability shows in the loss
            if len(self.losses) < 2 or self.losses[-1] <= self.losses[-2]:
                return
            self.next_window = step
        if self.window is None:
            self.window = {"start": step, "thetas": [], "losses": []}
        self.window["thetas"].append(theta.clone())
        self.window["losses"].append(value)
        if len(self.window["thetas"]) == self.window_len:
            self.cf.append(central_flow_window(self.f, self.window, self.eta, self.u))
            self.window, self.windows_left = None, self.windows_left - 1


def central_flow_window(f, window, eta, u0) -> dict:
    """Measured oscillation and loss excess of one window of GD iterates against the central-flow σ² at the
    window's mean (package's extension; :func:`numerics.sharpness.self_stabilization`)."""
    thetas = torch.stack(window["thetas"])
    center = thetas.mean(0)
    q = self_stabilization(f, center, v0=u0)
    u = torch.as_tensor(q["u"], device=center.device)
    x = ((thetas - center) @ u).cpu().numpy()
    k = np.arange(x.size) - (x.size - 1) / 2
    x = x - x.mean() - k * (k @ x) / (k @ k)  # linear detrend: the slow drift of the window's mean
    losses = np.asarray(window["losses"], float)
    return {"start": window["start"], "length": len(window["thetas"]), "lambda1": q["lambda1"],
            "lambda2": q["lambda2"], "two_over_eta": 2 / eta, "sigma2": q["sigma2"],
            "variance_u": float(np.mean(x ** 2)), "loss_center": q["loss"], "loss_mean": float(losses.mean()),
            "excess_loss": float(losses.mean() - q["loss"]), "predicted_excess": q["sigma2"] / eta,
            "grad_sharpness_norm": q["grad_sharpness_norm"]}


def _run(p, model, f, theta0, data, flow, kind, eta, multiple, eta_c, rng, eta_c_hb=None) -> dict:
    start = time.process_time()
    beta = p["momentum"] if kind == "heavy_ball" else 0.0
    threshold = 2.0 * (1 + beta) / eta  # linear stability of GD (β = 0) and of heavy-ball
    time_per_step = eta / (1 - beta)
    expected_steps = max(1.0, flow.time / time_per_step)
    every = max(1, int(round(expected_steps / p["sharpness_evals"])))
    windows = (p["cf_windows"] if kind == "gd" and multiple >= SUPER_CRITICAL else 0, p["cf_window"])
    mon = _Monitor(f, eta, threshold, every, p["average_last"], flow if kind == "gd" else None, rng, windows)
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
                "loss_trace": _subsample([[k, v] for k, v in enumerate(mon.losses)])}
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
                "loss_trace": _subsample([[k, v] for k, v in enumerate(mon.losses)]),
                "central_flow": mon.cf})
    if mon.distance is not None:
        row["gf_distance"] = _subsample([list(r) for r in mon.distance.rows])
        row.update(_tracking(mon.distance.rows, mon.crossing, eta, s_trace[0] >= threshold))
    row["cpu_seconds"] = time.process_time() - start
    return row


def _tracking(rows, crossing, eta, starts_unstable) -> dict:
    """The distance summary of claim 6: max d up to t* = crossing·η, d at the last compared time, and how
    many compared times lie after t*."""
    if not rows:
        return {"track_max_before": None, "distance_end": None, "points_after": 0, "starts_unstable": bool(starts_unstable)}
    t = np.array([r[0] for r in rows])
    d = np.array([r[1] for r in rows])
    t_star = math.inf if crossing is None else crossing * eta
    before = d[t <= t_star]
    return {"track_max_before": float(before.max()) if before.size else None, "track_max": float(d.max()),
            "distance_end": float(d[-1]), "points_after": int(np.sum(t > t_star)),
            "crossing_time": None if crossing is None else t_star, "starts_unstable": bool(starts_unstable)}


def u_curve(runs: list[dict]) -> dict:
    """Claim 5's diagnostic for one seed: the test loss at the smallest and largest converged η, its minimum
    and argmin (η/η_c), and the depth min(ends)/min − 1 (> 0: a U shape, whatever its size)."""
    conv = sorted((r for r in runs if r["converged"]), key=lambda r: r["eta"])
    if len(conv) < 3:
        return {"runs": len(conv)}
    loss = np.array([r["test_loss"] for r in conv])
    i = int(np.argmin(loss))
    return {"runs": len(conv), "test_loss_smallest_eta": float(loss[0]), "test_loss_largest_eta": float(loss[-1]),
            "test_loss_min": float(loss[i]), "argmin_eta_multiple": conv[i]["eta_multiple"],
            "depth": float(min(loss[0], loss[-1]) / loss[i] - 1), "interior_minimum": bool(0 < i < len(conv) - 1)}


# ----------------------------------------------------------------------------------------------------
# Claims
# ----------------------------------------------------------------------------------------------------
def _seeds(rows) -> dict:
    """seed → (gradient-flow row, its GD runs sorted by η, its heavy-ball runs); only seeds whose flow
    reached the loss goal (the reference η_c needs it)."""
    out = {}
    for g in rows:
        if g["kind"] == "gradient_flow" and g["converged"]:
            runs = sorted((r for r in rows if r["seed"] == g["seed"] and r["kind"] == "gd"), key=lambda r: r["eta"])
            hb = sorted((r for r in rows if r["seed"] == g["seed"] and r["kind"] == "heavy_ball"), key=lambda r: r["eta"])
            out[g["seed"]] = (g, runs, hb)
    return out


def judge(rows: list[dict], params: dict) -> list[Claim]:
    seeds = _seeds(rows)
    skipped = sorted({r["seed"] for r in rows if r["kind"] == "gradient_flow"} - set(seeds))
    claims = [claim_sharpening(seeds), claim_fingerprint("eos_fingerprint", seeds, 1),
              claim_transition(seeds), claim_tradeoff(seeds), claim_tracking(seeds), claim_central_flow(seeds)]
    if params["heavy_ball_etas"]:
        claims.insert(2, claim_fingerprint("eos_fingerprint_heavy_ball", seeds, 2, params["momentum"]))
    if skipped:
        for c in claims:
            c.rule += f"; seeds {skipped} left out (their gradient flow did not reach the loss goal)"
    return claims


def claim_sharpening(seeds) -> Claim:
    ratios = {}
    for s, (g, runs, _) in seeds.items():
        small = [r for r in runs if r["eta_multiple"] <= SUB_CRITICAL and r["converged"]]
        if small:
            ratios[s] = small[0]["sharpness"] / small[0]["sharpness_initial"]
    rule = (f"per seed, S_end/S_0 of the smallest converged GD run with η <= {SUB_CRITICAL} η_c: all >= "
            f"{SHARPENING_PASS} pass; any < {SHARPENING_FAIL} (S within ±20 % or falling) fails; else inconclusive")
    vals = list(ratios.values())
    if not vals or len(vals) < len(seeds):
        verdict = "inconclusive"
    elif min(vals) < SHARPENING_FAIL:
        verdict = "fail"
    else:
        verdict = "pass" if min(vals) >= SHARPENING_PASS else "inconclusive"
    return Claim("progressive_sharpening", f">= {SHARPENING_PASS}", {str(k): v for k, v in ratios.items()}, None, rule,
                 verdict, test=f"min S_end/S_0 = {min(vals):.3g} >= {SHARPENING_PASS}" if vals else "no run with η <= 0.8 η_c")


def claim_fingerprint(name, seeds, which, beta: float = 0.0) -> Claim:
    """Claim 2 for GD (``which`` = 1: η/η_c) or heavy-ball (2: η/η_c^HB, threshold 2(1+β)/η)."""
    runs = [r for _, (g, gd, hb) in seeds.items() for r in (gd if which == 1 else hb)
            if EOS_RANGE[0] <= r["eta_multiple"] <= EOS_RANGE[1]]
    conv = [r for r in runs if r["converged"]]
    thr = "2/η" if which == 1 else f"2(1+β)/η (β = {beta:g})"
    rule = (f"GD runs with η in [{EOS_RANGE[0]}, {EOS_RANGE[1]}] η_c{'' if which == 1 else '^HB'}: every converged "
            f"one has ηS̄/2{'' if which == 1 else '(1+β)'} in {list(EOS_BAND)} (S̄ at the mean of the last iterates), "
            f"max_t S > {thr} and a loss increase in the last half of its steps (pass); ηS̄/2 < {EOS_REFUTED} or > "
            f"{EOS_BAND[1]}, no overshoot or a monotone late loss fails; [{EOS_REFUTED}, {EOS_GREY}) or fewer than 3 "
            f"converged runs (or fewer converged than not) is inconclusive")
    if which == 2:
        rule = "heavy-ball " + rule[3:]
    values = [r["eta_sharpness_half_avg"] for r in conv]
    measured = {"eta_S_half_avg": values, "eta_S_half_raw": [r["eta_sharpness_half"] for r in conv],
                "overshoot": [r["sharpness_max"] > r["threshold"] for r in conv],
                "late_loss_rises": [r["late_loss_rises"] for r in conv], "not_converged": len(runs) - len(conv)}
    bad = [r for r in conv if not (EOS_REFUTED <= r["eta_sharpness_half_avg"] <= EOS_BAND[1])
           or r["sharpness_max"] <= r["threshold"] or r["late_loss_rises"] == 0]
    grey = [r for r in conv if EOS_REFUTED <= r["eta_sharpness_half_avg"] < EOS_GREY]
    if bad:
        verdict = "fail"
    elif len(conv) < 3 or len(conv) < len(runs) - len(conv) or grey:
        verdict = "inconclusive"
    else:
        verdict = "pass"
    test = (f"ηS̄/2 in [{min(values):.4g}, {max(values):.4g}] vs band {list(EOS_BAND)} over {len(conv)} converged runs"
            if values else "no converged run in the EoS range")
    return Claim(name, list(EOS_BAND), measured, None, rule, verdict, test=test)


def claim_transition(seeds) -> Claim:
    sub_s, sub_n, sup, missing = [], [], [], []
    for s, (g, runs, _) in seeds.items():
        lo = [r for r in runs if r["eta_multiple"] <= SUB_CRITICAL and r["converged"]]
        hi = [r for r in runs if r["eta_multiple"] >= SUPER_CRITICAL and r["converged"]]
        if not lo or not hi:
            missing.append(s)
        sub_s += [abs(r["sharpness_avg"] / g["sharpness"] - 1) for r in lo]
        sub_n += [abs(r["avg_norm_l2"] / g["norm_l2"] - 1) for r in lo]
        sup += [r["eta_sharpness_half_avg"] for r in hi]
    rule = (f"η <= {SUB_CRITICAL} η_c: |S̄/s_GF − 1| <= {SUB_S_TOL:.0%} and |‖θ̄‖₂/‖θ_GF‖₂ − 1| <= {SUB_NORM_TOL:.0%}; "
            f"η >= {SUPER_CRITICAL} η_c: ηS̄/2 <= {SUPER_S_MAX} (converged runs); a violation fails; a seed without "
            f"converged runs on both sides is inconclusive")
    measured = {"max_rel_dev_S_below": max(sub_s, default=None), "max_rel_dev_norm_below": max(sub_n, default=None),
                "max_eta_S_half_above": max(sup, default=None), "seeds_missing_a_side": missing}
    violated = (any(v > SUB_S_TOL for v in sub_s) or any(v > SUB_NORM_TOL for v in sub_n)
                or any(v > SUPER_S_MAX for v in sup))
    verdict = "fail" if violated else ("inconclusive" if missing or not seeds else "pass")
    test = (f"max |S̄/s_GF − 1| = {max(sub_s, default=float('nan')):.3g} <= {SUB_S_TOL}, max |‖θ̄‖/‖θ_GF‖ − 1| = "
            f"{max(sub_n, default=float('nan')):.3g} <= {SUB_NORM_TOL}, max ηS̄/2 above = {max(sup, default=float('nan')):.4g} <= {SUPER_S_MAX}")
    return Claim("phase_transition", {"below": [SUB_S_TOL, SUB_NORM_TOL], "above": SUPER_S_MAX}, measured, None, rule,
                 verdict, test=test)


def _rho(x, y) -> float:
    if len(set(y)) < 2:
        return 0.0
    return float(spearmanr(x, y)[0])


def claim_tradeoff(seeds) -> Claim:
    per_seed, short = {}, []
    for s, (g, runs, _) in seeds.items():
        eos = [r for r in runs if r["eta_multiple"] >= SUPER_CRITICAL and r["converged"]]
        if len(eos) < RANK_MIN_RUNS:
            short.append(s)
            continue
        eta = [r["eta"] for r in eos]
        per_seed[str(s)] = {f"{pre}{k}": _rho(eta, [r[pre + k] for r in eos])
                            for pre, keys in (("", ("norm_l1", "norm_l2", "dist_init")), ("avg_", ("norm_l1", "norm_l2", "dist_init")))
                            for k in keys}
        per_seed[str(s)]["sharpness"] = _rho(eta, [r["sharpness"] for r in eos])
        per_seed[str(s)]["sharpness_avg"] = _rho(eta, [r["sharpness_avg"] for r in eos])
    rule = (f"per seed, over its converged GD runs with η >= {SUPER_CRITICAL} η_c (>= {RANK_MIN_RUNS} runs): Spearman "
            f"ρ(η, ‖θ‖₁) >= {RANK_MIN} and ρ(η, S) <= −{RANK_MIN} for the last iterate and the iterate average, in every "
            f"seed (pass); some seed with ρ(η, ‖θ‖₁) <= 0 or ρ(η, S) >= 0 fails; else inconclusive; ρ for ‖θ‖₂ and "
            f"‖θ − θ₀‖₂ reported")
    key_norm = [v[k] for v in per_seed.values() for k in ("norm_l1", "avg_norm_l1")]
    key_s = [v[k] for v in per_seed.values() for k in ("sharpness", "sharpness_avg")]
    if any(r <= 0 for r in key_norm) or any(r >= 0 for r in key_s):
        verdict = "fail"
    elif short or not per_seed:
        verdict = "inconclusive"
    else:
        verdict = "pass" if min(key_norm) >= RANK_MIN and max(key_s) <= -RANK_MIN else "inconclusive"
    test = (f"min ρ(η, ‖θ‖₁) = {min(key_norm):.3g} >= {RANK_MIN}, max ρ(η, S) = {max(key_s):.3g} <= −{RANK_MIN}"
            if per_seed else f"fewer than {RANK_MIN_RUNS} converged runs above {SUPER_CRITICAL} η_c")
    return Claim("norm_sharpness_tradeoff", [RANK_MIN, -RANK_MIN], {"per_seed": per_seed, "seeds_too_few_runs": short},
                 None, rule, verdict, test=test)


def claim_tracking(seeds) -> Claim:
    """Claim 6. Before t* GD should be as close to the flow as the Euler method is in the stable regime: its
    distance per unit η/η_c, d/(η/η_c), at most ``TRACK_SCALE`` times the largest of that seed's runs below
    0.8 η_c (GD's O(η) error; an absolute d <= ``TRACK_MAX`` is asked of those)."""
    sub, sup, missing = [], [], []
    for s, (g, runs, _) in seeds.items():
        below = [r for r in runs if r["converged"] and r.get("track_max") is not None and r["eta_multiple"] <= SUB_CRITICAL]
        sub += [r["track_max"] for r in below]
        if not below:
            missing.append(s)
            continue
        kappa = max(r["track_max"] / r["eta_multiple"] for r in below)
        for r in runs:
            if (r["converged"] and r.get("track_max") is not None and EOS_RANGE[0] <= r["eta_multiple"] <= EOS_RANGE[1]
                    and not r["starts_unstable"] and r["crossing_time"] is not None and r["track_max_before"]
                    and r["points_after"] >= DEPART_POINTS):
                sup.append((r["track_max_before"] / r["eta_multiple"] / kappa, r["distance_end"] / r["track_max_before"]))
    rule = (f"d(t) = ‖θ_GD(t) − θ_GF(t)‖/‖θ_GF(t) − θ₀‖ on the flow's time span: converged runs with η <= "
            f"{SUB_CRITICAL} η_c have max d <= {TRACK_MAX} (GD's O(η) Euler error); converged runs with η in "
            f"[{EOS_RANGE[0]}, {EOS_RANGE[1]}] η_c starting below 2/η track up to t* (S first >= 2/η): max_(t<=t*) d/(η/η_c) "
            f"<= {TRACK_SCALE} × the seed's largest d/(η/η_c) below {SUB_CRITICAL} η_c, and depart: d(end)/max_(t<=t*) d "
            f">= {DEPART_GROWTH} (>= {DEPART_POINTS} compared times after t*); a violation fails; fewer than 2 runs on "
            f"either side is inconclusive")
    measured = {"below_max_d": sub, "above_scaled_d_before_t_star": [a for a, _ in sup],
                "above_growth_after_t_star": [b for _, b in sup], "seeds_without_runs_below": missing}
    violated = (any(v > TRACK_MAX for v in sub) or any(a > TRACK_SCALE for a, _ in sup)
                or any(b < DEPART_GROWTH for _, b in sup))
    verdict = "fail" if violated else ("inconclusive" if len(sub) < 2 or len(sup) < 2 else "pass")
    test = (f"max d below = {max(sub, default=float('nan')):.3g} <= {TRACK_MAX}; max scaled d before t* = "
            f"{max((a for a, _ in sup), default=float('nan')):.3g} <= {TRACK_SCALE}; min growth after t* = "
            f"{min((b for _, b in sup), default=float('nan')):.3g} >= {DEPART_GROWTH}")
    return Claim("gd_tracks_gradient_flow", {"track_max": TRACK_MAX, "track_scale": TRACK_SCALE,
                                             "depart_growth": DEPART_GROWTH}, measured, None, rule, verdict, test=test)


def eligible_windows(seeds) -> list[dict]:
    return [w for _, (g, runs, _) in seeds.items() for r in runs if r["converged"]
            for w in r.get("central_flow", []) if _eligible(w)]


def _eligible(w) -> bool:
    """One unstable direction: λ₂ < 1.9/η (= 0.95 · 2/η), and a sharpening flow (σ² > 0)."""
    return w["lambda2"] < CF_LAMBDA2 / 2 * w["two_over_eta"] and w["sigma2"] > 0


def _median(values):
    return float(np.median(values)) if len(values) else None


def claim_central_flow(seeds) -> Claim:
    wins = eligible_windows(seeds)
    every = [w for _, (g, runs, _) in seeds.items() for r in runs if r["converged"] for w in r.get("central_flow", [])]
    all_w = {"windows": len(every), "lambda2_at_edge": sum(w["lambda2"] >= CF_LAMBDA2 / 2 * w["two_over_eta"] for w in every),
             "all_windows_variance_ratio_median": _median([w["variance_u"] / w["sigma2"] for w in every if w["sigma2"] > 0]),
             "all_windows_loss_ratio_median": _median([w["excess_loss"] / w["predicted_excess"] for w in every if w["sigma2"] > 0])}
    rule = (f"package's extension (central flow, one unstable direction): windows with λ₂ < {CF_LAMBDA2}/η and σ² > 0; "
            f"median of Var⟨θ_t − θ̄, u⟩/σ² and of (mean loss − L(θ̄))/(σ²/η) both in [{CF_PASS[0]:.3g}, {CF_PASS[1]:.3g}] "
            f"pass; either outside [{CF_FAIL[0]:.3g}, {CF_FAIL[1]:.3g}] fails; else, or < {CF_MIN_WINDOWS} windows, inconclusive")
    if len(wins) < CF_MIN_WINDOWS:
        return Claim("central_flow", 1.0, {"eligible_windows": len(wins), **all_w}, None, rule, "inconclusive",
                     test=f"{len(wins)} eligible windows < {CF_MIN_WINDOWS}")
    var_ratio = float(np.median([w["variance_u"] / w["sigma2"] for w in wins]))
    loss_ratio = float(np.median([w["excess_loss"] / w["predicted_excess"] for w in wins]))
    ratios = (var_ratio, loss_ratio)
    if any(not (CF_FAIL[0] <= v <= CF_FAIL[1]) for v in ratios):
        verdict = "fail"
    elif all(CF_PASS[0] <= v <= CF_PASS[1] for v in ratios):
        verdict = "pass"
    else:
        verdict = "inconclusive"
    return Claim("central_flow", 1.0, {"variance_ratio_median": var_ratio, "loss_ratio_median": loss_ratio,
                                       "eligible_windows": len(wins), **all_w}, list(CF_PASS), rule, verdict,
                 test=f"median ratios {var_ratio:.3g} (variance), {loss_ratio:.3g} (loss) in [{CF_PASS[0]:.3g}, {CF_PASS[1]:.3g}]")


# ----------------------------------------------------------------------------------------------------
# Figure
# ----------------------------------------------------------------------------------------------------
def plot(record: dict, stem) -> list:
    rows = record["points"]
    fig, axes = new_figure(3, rows=2, width_per_panel=4.6, height=3.7)
    gf = {r["seed"]: r for r in rows if r["kind"] == "gradient_flow"}
    first = min(gf) if gf else None
    colors = {s: c for s, c in zip(sorted(gf), ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple",
                                                 "tab:brown", "tab:pink", "tab:gray", "tab:olive", "tab:cyan"] * 10)}
    gd = [r for r in rows if r["kind"] == "gd" and r.get("sharpness") is not None]
    _trace_panel(axes[0], [r for r in gd if r["seed"] == first], gf.get(first))
    _sharpness_panel(axes[1], gd, gf, colors, [r for r in rows if r["kind"] == "heavy_ball" and r.get("sharpness") is not None])
    _norm_panel(axes[2], gd, gf, colors)
    _test_panel(axes[3], gd, gf, colors)
    _distance_panel(axes[4], [r for r in gd if r["seed"] == first])
    _central_panel(axes[5], gd, record)
    fig.suptitle(f"edge of stability, {next(iter(gf.values()))['dataset'] if gf else 'data'}: "
                 f"verdict {record['verdict']}", fontsize=10)
    return save_figure(fig, stem)


def _eta_axis(ax):
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator([0.2, 0.5, 1, 2, 4]))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axvline(1.0, color="gray", lw=0.8)
    ax.set_xlabel(r"$\eta/\eta_c$  (gray: $\eta_c = 2/s_{GF}$)")


def _trace_panel(ax, runs, g):
    cmap = colormaps["viridis"]
    picks = [r for r in runs if r["eta_multiple"] >= SUB_CRITICAL] or runs
    top = 1.3 * (g["sharpness"] if g is not None else max(s for r in picks for _, s in r["sharpness_trace"]))
    for i, r in enumerate(picks):
        c = cmap(i / max(len(picks) - 1, 1))
        tr = np.array(r["sharpness_trace"], float)
        if tr.size:
            ax.plot(tr[:, 0], tr[:, 1], "-", color=c, lw=1.1, label=f"η = {r['eta_multiple']:g} η_c")
        ax.axhline(2 / r["eta"], color=c, ls="--", lw=0.8)
    if g is not None:
        ax.axhline(g["sharpness"], color="k", ls=":", lw=0.8, label=r"$s_{GF}$")
    ax.set_ylim(0, top)
    ax.set_xlabel("GD step")
    ax.set_ylabel("sharpness S (dashed: 2/η)")
    ax.set_title(f"S along training (seed {runs[0]['seed'] if runs else '-'})", fontsize=9)
    ax.legend(fontsize=6.5)


def _by_seed(runs, seed):
    return sorted((r for r in runs if r["seed"] == seed), key=lambda r: r["eta"])


def _sharpness_panel(ax, gd, gf, colors, hb):
    for s, g in gf.items():
        rs = _by_seed(gd, s)
        m = [r["eta_multiple"] for r in rs]
        ax.plot(m, [r["sharpness_avg"] / g["sharpness"] for r in rs], "o-", ms=3, lw=1, color=colors[s],
                label=f"seed {s} (s_GF = {g['sharpness']:.2f})")
        ax.plot(m, [r["sharpness"] / g["sharpness"] for r in rs], "x", ms=4, color=colors[s])
        hs = _by_seed(hb, s)
        if hs:  # at η/η_c^HB, where η_c^HB s_GF = 2(1+β): the same curve applies
            ax.plot([r["eta_multiple"] for r in hs], [r["sharpness_avg"] / g["sharpness"] for r in hs], "s", ms=5,
                    mfc="none", color=colors[s])
    grid = np.geomspace(0.15, 4.5, 200)
    ax.plot(grid, np.minimum(1.0, 1.0 / grid), "k--", lw=0.9, label=r"$\min(s_{GF}, 2/\eta)/s_{GF}$")
    _eta_axis(ax)
    ax.set_ylabel(r"final $S/s_{GF}$")
    ax.set_title("final sharpness (o: iterate average, x: last; □: heavy-ball at η/η_c^HB)", fontsize=8)
    ax.legend(fontsize=6.5)


def _norm_panel(ax, gd, gf, colors):
    for s, g in gf.items():
        rs = _by_seed(gd, s)
        m = [r["eta_multiple"] for r in rs]
        ax.plot(m, [r["avg_norm_l1"] / g["norm_l1"] for r in rs], "o-", ms=3, lw=1, color=colors[s],
                label=f"seed {s}: ‖θ̄‖₁ ({g['norm_l1']:.0f} at GF)")
        ax.plot(m, [r["avg_norm_l2"] / g["norm_l2"] for r in rs], "s--", ms=3, lw=0.8, color=colors[s],
                label=f"‖θ̄‖₂ ({g['norm_l2']:.2f})")
        ax.plot(m, [r["norm_l1"] / g["norm_l1"] for r in rs], "x", ms=4, color=colors[s])
    ax.axhline(1.0, color="k", lw=0.6, ls=":")
    _eta_axis(ax)
    ax.set_ylabel("norm / gradient-flow norm")
    ax.set_title("parameter norm (x: last iterate ‖θ‖₁)", fontsize=9)
    ax.legend(fontsize=6, ncol=2)


def _test_panel(ax, gd, gf, colors):
    for s, g in gf.items():
        rs = [r for r in _by_seed(gd, s) if r["converged"]]
        ax.plot([r["eta_multiple"] for r in rs], [r["test_loss"] / g["test_loss"] for r in rs], "o-", ms=3, lw=1,
                color=colors[s], label=f"seed {s} (depth {g.get('u_curve', {}).get('depth', float('nan')):.1%})")
    ax.axhline(1.0, color="k", lw=0.6, ls=":")
    _eta_axis(ax)
    ax.set_ylabel("test loss / gradient-flow test loss")
    ax.set_title("test loss vs η (diagnostic, no verdict)", fontsize=9)
    ax.legend(fontsize=6.5)


def _distance_panel(ax, runs):
    cmap = colormaps["plasma"]
    for i, r in enumerate(runs):
        d = np.array(r.get("gf_distance", []), float)
        if d.size == 0:
            continue
        c = cmap(i / max(len(runs) - 1, 1))
        ax.semilogy(d[:, 0], np.maximum(d[:, 1], 1e-6), "-", color=c, lw=1, label=f"{r['eta_multiple']:g} η_c")
        if r.get("crossing_time") is not None:
            ax.axvline(r["crossing_time"], color=c, ls=":", lw=0.8)
    ax.axhline(TRACK_MAX, color="k", lw=0.6, ls="--", label=f"sub-critical bound {TRACK_MAX}")
    ax.set_xlabel("time t = kη")
    ax.set_ylabel(r"$\|\theta_{GD}-\theta_{GF}\| / \|\theta_{GF}-\theta_0\|$")
    ax.set_title("GD vs gradient flow (dotted: S first ≥ 2/η)", fontsize=9)
    ax.legend(fontsize=6, ncol=2)


def _central_panel(ax, gd, record):
    wins = [(w, r) for r in gd for w in r.get("central_flow", []) if w["sigma2"] > 0]
    ok = [(w, r) for w, r in wins if _eligible(w)]
    out = [(w, r) for w, r in wins if not _eligible(w)]
    for sel, mark, lab in ((ok, "o", "eligible"), (out, "x", "λ₂ ≥ 1.9/η (excluded)")):
        if sel:
            ax.loglog([w["sigma2"] for w, _ in sel], [w["variance_u"] for w, _ in sel], mark, ms=4, color="tab:blue",
                      label=f"Var⟨θ−θ̄,u⟩ ({lab})")
            ax.loglog([w["sigma2"] for w, _ in sel], [w["excess_loss"] * r["eta"] for w, r in sel], mark, ms=4,
                      color="tab:red", label=f"η·(L̄ − L(θ̄)) ({lab})")
    if wins:
        lo = min(w["sigma2"] for w, _ in wins)
        hi = max(w["sigma2"] for w, _ in wins)
        xs = np.geomspace(lo / 2, hi * 2, 10)
        ax.loglog(xs, xs, "k-", lw=0.8, label="prediction = σ²")
        ax.fill_between(xs, xs * CF_PASS[0], xs * CF_PASS[1], color="gray", alpha=0.2, label="pass band")
    claim = next((c for c in record["claims"] if c["name"] == "central_flow"), None)
    ax.set_xlabel(r"central-flow $\sigma^2 = 2\langle-\nabla L,\nabla S\rangle/\|\nabla S\|^2$")
    ax.set_ylabel("measured")
    ax.set_title(f"central flow (extension; {claim['verdict'] if claim else '-'})", fontsize=9)
    ax.legend(fontsize=6)
