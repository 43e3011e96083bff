"""What one full-batch GD (or heavy-ball) run at the edge of stability records along the way.

:class:`EosMonitor` is the per-step callback of :func:`numerics.trainers.train`: the loss trace, the sharpness
S every ``every`` steps (Lanczos, warm-started, :func:`numerics.sharpness.sharpness`) and the first step at
which S reaches the linear-stability threshold, the trailing iterate average, GD's distance to the gradient
flow (:class:`numerics.gradient_flow.PolygonDistance`) and, once the instability shows in the loss, windows of
iterates compared with the one-direction central-flow prediction (:func:`central_flow_window`, after Damian,
Nichani, Lee 2023 and Cohen, Damian et al. 2024: σ² = 2⟨−∇L, ∇S⟩/‖∇S‖², oscillation variance along the top
eigenvector ≈ σ², time-averaged loss ≈ L(θ̄) + σ²/η). :func:`tracking_summary` condenses the distance trace.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from numerics.gradient_flow import PolygonDistance, TrailingAverage
from numerics.sharpness import self_stabilization, sharpness

TRACE_POINTS = 200  # loss-trace and distance points kept per run


def subsample(rows: list, n: int = TRACE_POINTS) -> list:
    """At most ``n`` of ``rows``, evenly spaced, first and last kept."""
    if len(rows) <= n:
        return rows
    idx = np.unique(np.linspace(0, len(rows) - 1, n).round().astype(int))
    return [rows[i] for i in idx]


class EosMonitor:
    """The per-step callback of one run: loss trace, S every ``every`` steps, the trailing average, GD's
    distance to the flow (when ``flow`` is given) and ``windows = (count, length)`` central-flow windows."""

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
    window's mean (:func:`numerics.sharpness.self_stabilization`)."""
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


def tracking_summary(rows, crossing, eta, starts_unstable) -> dict:
    """GD's distance to the flow, condensed: max d up to t* = crossing·η (S first at the threshold), max d
    overall, d at the last compared time, and how many compared times lie after t*."""
    if not rows:
        return {"track_max_before": None, "distance_end": None, "points_after": 0, "starts_unstable": bool(starts_unstable)}
    t = np.array([r[0] for r in rows])
    d = np.array([r[1] for r in rows])
    t_star = math.inf if crossing is None else crossing * eta
    before = d[t <= t_star]
    return {"track_max_before": float(before.max()) if before.size else None, "track_max": float(d.max()),
            "distance_end": float(d[-1]), "points_after": int(np.sum(t > t_star)),
            "crossing_time": None if crossing is None else t_star, "starts_unstable": bool(starts_unstable)}
