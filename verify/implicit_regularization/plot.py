"""The figure of ``implicit_regularization``: R against the lr (with the penalty point), the three error-order
tests, Adam's ℓ1 sign, and the traces of the reproduced experiment."""
from __future__ import annotations

import numpy as np

from verify.figures import MARKERS, label, new_figure, save_figure
from verify.implicit_regularization.claims import flow_series, flow_window, repro_rows
from verify.implicit_regularization.sweep import FLOW_FAMILIES, OPTIMIZERS


def plot(record: dict, stem) -> list:
    rows, params = record["points"], record["params"]
    claims = {c["name"]: c for c in record["claims"]}
    fig, axes = new_figure(4, rows=2, width_per_panel=4.3, height=3.5, paper_cols=2)
    _plot_r(axes[0], rows, params)
    for ax, family in zip(axes[1:4], FLOW_FAMILIES):
        _plot_flow(ax, rows, family, claims)
    _plot_sign(axes[4], rows)
    _plot_traces(axes[5], rows, ("train_error", "test_error"), "error", "reproduction: train / test error")
    _plot_traces(axes[6], rows, ("R", "project_rmsprop_term", "grad_one_norm_eps"), "value (log scale)",
                 "reproduction: regularizer terms")
    _plot_traces(axes[7], rows, ("theta_l2",), "‖θ‖₂", "reproduction: parameter norm")
    orders = "; ".join(f"{_family_label(family)}: {', '.join(claims[n]['verdict'] for n in names)}"
                       for family in FLOW_FAMILIES if (names := [n for n in claims if n.startswith(family + ":")]))
    fig.suptitle(f"Implicit regularizers on a digits MLP (verdict {record['verdict']}, seed {record['seed']})"
                 + (f"\nerror-order claims (plain, modified flow): {orders}" if orders else ""), fontsize=11)
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
    ax.errorbar(lrs, means, yerr=errs, fmt="o-", color="C0", capsize=3)
    ax.plot([], [], "o-", color="C0", label=f"{label('sgd')}, mean ± SE over seeds")
    pen = [r for r in rows if r["kind"] == "sgd" and r["penalty"] > 0 and r.get("R") is not None]
    if pen:
        x = pen[0]["lr"] + pen[0]["penalty"]
        v = np.array([r["R"] for r in pen])
        ax.errorbar([x * 1.04], [v.mean()], yerr=[v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0], fmt="s",
                    color="C3", capsize=3)
        ax.plot([], [], "s", color="C3", label=f"lr {pen[0]['lr']:g} + penalty λ={pen[0]['penalty']:.2g} (at lr+λ)")
    _log_axes(ax, y=False)
    ax.set_xticks(lrs, [f"{lr:g}" for lr in lrs])
    ax.set_xlabel("learning rate η")
    ax.set_ylabel(f"R at loss {params['loss_goal']:g}")
    ax.set_title(f"{label('sgd')} regularizer R vs learning rate", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)


def _plot_flow(ax, rows, family, claims):
    pts = flow_series(rows, family)
    if not pts:
        ax.set_visible(False)
        return
    units = np.array([r["step_units"] for r in pts])
    for i, (series, mark) in enumerate((("plain flow", "o"), ("modified flow", "s"))):
        steps, errors, window = flow_window(pts, series)
        name = next((n for n in claims if n.startswith(f"{family}: {series}")), None)
        order = claims[name]["measured"] if name else None
        text = f"{series}: order {order:.3f}" if order is not None else series
        ax.plot(units, errors, "-", color=f"C{i}", lw=1)
        ax.plot(units[window], errors[window], mark, color=f"C{i}", ms=4, label=text)
        ax.plot(units[~window], errors[~window], mark, mfc="none", color=f"C{i}", ms=4)
        ax.plot(units, [r[f"{series} reference error"] for r in pts], ":", color=f"C{i}", lw=0.8)
    for order in (1, 2):
        e = [r[f"{'plain' if order == 1 else 'modified'} flow error"] for r in pts][-1]
        ax.plot(units, e / 3 * (units / units[-1]) ** order, "--", color="0.6", lw=0.8)
    ax.plot([], [], ":", color="0.3", lw=0.8, label="RK4 error of the flow")
    ax.plot([], [], "--", color="0.6", lw=0.8, label="slopes 1, 2")
    _log_axes(ax)
    unit = r"$1/\lambda_{\max}$" if family == "momentum" else r"$\sqrt{\epsilon}/\lambda_{\max}$"
    ax.set_xlabel(f"step size h (units of {unit})")
    ax.set_ylabel(r"$\|\theta_h(T) - \theta_{\rm flow}(T)\|$")
    ax.set_title(f"{_family_label(family)}: error order", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(True, which="major", alpha=0.3)


def _family_label(family: str) -> str:
    """The family in a title, with the optimizer's display label: "adam √ε≪|g|" → "Adam, √ε≪|g|"."""
    name, _, rest = family.partition(" ")
    return label(name) + (f", {rest}" if rest else "")


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
    ax.set_title(f"{label('adam')}'s ℓ1 term: sign (one line per seed)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)


_STYLE = {"train_error": "-", "test_error": "--", "R": "-", "project_rmsprop_term": "--",
          "grad_one_norm_eps": ":", "theta_l2": "-"}
_LABEL = {"R": "R (SGD term)", "project_rmsprop_term": "project's RMSProp term",
          "grad_one_norm_eps": "‖∇C‖₁,ε (Adam term)", "train_error": "train", "test_error": "test",
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
    drawn = {"opt": [], "key": []}  # colour and marker: the optimizer; line style: the quantity
    for i, opt in enumerate(OPTIMIZERS):
        for key in keys:
            series = {}
            for r in repro_rows(rows, opt):
                if r.get(key) is not None:
                    series.setdefault(round(r["epoch_float"], 6), []).append(r[key])
            if not series:
                continue
            ep = sorted(series)
            ax.plot(ep, [np.mean(series[e]) for e in ep], _STYLE[key], color=f"C{i}", marker=MARKERS[i], ms=3,
                    markevery=max(1, len(ep) // 8))
            drawn["opt"] += [i] if i not in drawn["opt"] else []
            drawn["key"] += [key] if key not in drawn["key"] else []
    for i in drawn["opt"]:
        ax.plot([], [], MARKERS[i], color=f"C{i}", ms=4, label=label(OPTIMIZERS[i]))
    if len(keys) > 1:
        for key in drawn["key"]:
            ax.plot([], [], _STYLE[key], color="0.3", label=_LABEL[key])
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
