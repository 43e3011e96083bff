"""The figure of ``edge_of_stability``: sharpness traces with 2/η, final S and norms against η/η_c, the test
loss, GD's distance to the gradient flow, and the central-flow comparison."""
from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator, ScalarFormatter

from verify.edge_of_stability.claims import CF_PASS, eligible
from verify.edge_of_stability.params import SUB_CRITICAL
from verify.figures import MARKERS, label, new_figure, save_figure

SEED_COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
               "tab:olive", "tab:cyan"]


def plot(record: dict, stem) -> list:
    rows = record["points"]
    fig, axes = new_figure(3, rows=2, width_per_panel=4.6, height=3.7, paper_cols=2)
    gf = {r["seed"]: r for r in rows if r["kind"] == "gradient_flow"}
    first = min(gf) if gf else None
    colors = {s: c for s, c in zip(sorted(gf), SEED_COLORS * 10)}
    gd = [r for r in rows if r["kind"] == "gd" and r.get("sharpness") is not None]
    # one marker per η multiple, shared by the trace and the distance panels
    marks = {m: MARKERS[i % len(MARKERS)] for i, m in enumerate(sorted({r["eta_multiple"] for r in gd}))}
    _trace_panel(axes[0], [r for r in gd if r["seed"] == first], gf.get(first), marks)
    _sharpness_panel(axes[1], gd, gf, colors, [r for r in rows if r["kind"] == "heavy_ball" and r.get("sharpness") is not None])
    _norm_panel(axes[2], gd, gf, colors)
    _test_panel(axes[3], gd, gf, colors)
    _distance_panel(axes[4], [r for r in gd if r["seed"] == first], marks)
    _central_panel(axes[5], gd)
    claim = next((c for c in record["claims"] if c["name"] == "central_flow"), None)
    s_gf = sorted({f"{g['sharpness']:.2f}" for g in gf.values()}, key=float)
    fig.suptitle(f"edge of stability, {next(iter(gf.values()))['dataset'] if gf else 'data'}, master seed "
                 f"{record.get('seed', '-')} (initializations {', '.join(map(str, sorted(gf)))}"
                 + (f"; GF sharpness {'–'.join(dict.fromkeys([s_gf[0], s_gf[-1]]))}" if s_gf else "") + "): verdict "
                 f"{record['verdict']}; central flow {claim['verdict'] if claim else '-'}", fontsize=10)
    return save_figure(fig, stem)


def _eta_axis(ax):
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator([0.2, 0.5, 1, 2, 4]))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axvline(1.0, color="gray", lw=0.8)
    ax.set_xlabel(r"$\eta/\eta_c$  (gray: $\eta_c = 2/s_{GF}$)")


def _every(n: int) -> int:
    return max(1, n // 6)


def _trace_panel(ax, runs, g, marks):
    cmap = colormaps["viridis"]
    picks = [r for r in runs if r["eta_multiple"] >= SUB_CRITICAL] or runs
    top = 1.3 * (g["sharpness"] if g is not None else max(s for r in picks for _, s in r["sharpness_trace"]))
    for i, r in enumerate(picks):
        c = cmap(i / max(len(picks) - 1, 1))
        tr = np.array(r["sharpness_trace"], float)
        if tr.size:
            ax.plot(tr[:, 0], tr[:, 1], "-", color=c, lw=1.1, marker=marks[r["eta_multiple"]],
                    markevery=_every(len(tr)), ms=3.5, label=f"η = {r['eta_multiple']:g} η_c")
        ax.axhline(2 / r["eta"], color=c, ls="--", lw=0.8)
        ax.plot([1.0], [2 / r["eta"]], marks[r["eta_multiple"]], color=c, ms=3.5, clip_on=False,
                transform=ax.get_yaxis_transform())  # the run's marker at the right end of its 2/η line
    ax.plot([], [], "--", color="0.4", lw=0.8, label="2/η (marker at right)")
    if g is not None:
        ax.axhline(g["sharpness"], color="k", ls=":", lw=0.8, label=r"$s_{GF}$")
    ax.set_ylim(0, top)
    ax.set_xlabel("GD step")
    ax.set_ylabel("sharpness S")
    ax.set_title(f"S along training (seed {runs[0]['seed'] if runs else '-'})", fontsize=9)
    ax.legend(fontsize=6.5)


def _by_seed(runs, seed):
    return sorted((r for r in runs if r["seed"] == seed), key=lambda r: r["eta"])


def _sharpness_panel(ax, gd, gf, colors, hb):
    for s, g in gf.items():
        rs = _by_seed(gd, s)
        m = [r["eta_multiple"] for r in rs]
        ax.plot(m, [r["sharpness_avg"] / g["sharpness"] for r in rs], "o-", ms=3, lw=1, color=colors[s])
        ax.plot(m, [r["sharpness"] / g["sharpness"] for r in rs], "x", ms=4, color=colors[s])
        hs = _by_seed(hb, s)
        if hs:  # at η/η_c^HB, where η_c^HB s_GF = 2(1+β): the same curve applies
            ax.plot([r["eta_multiple"] for r in hs], [r["sharpness_avg"] / g["sharpness"] for r in hs], "s", ms=5,
                    mfc="none", color=colors[s])
    grid = np.geomspace(0.15, 4.5, 200)
    ax.plot(grid, np.minimum(1.0, 1.0 / grid), "k--", lw=0.9, label=r"$\min(s_{GF}, 2/\eta)/s_{GF}$")
    ax.plot([], [], "o-", ms=3, lw=1, color="0.3", label="iterate average (one line per seed)")
    ax.plot([], [], "x", ms=4, color="0.3", label="last iterate")
    if hb:
        ax.plot([], [], "s", ms=5, mfc="none", color="0.3", label=f"{label('heavy_ball')}, at η/η_c^HB")
    _eta_axis(ax)
    ax.set_ylabel(r"final $S/s_{GF}$")
    ax.set_title("final sharpness", fontsize=9)
    ax.legend(fontsize=6.5)


def _norm_panel(ax, gd, gf, colors):
    for s, g in gf.items():
        rs = _by_seed(gd, s)
        m = [r["eta_multiple"] for r in rs]
        ax.plot(m, [r["avg_norm_l1"] / g["norm_l1"] for r in rs], "o-", ms=3, lw=1, color=colors[s])
        ax.plot(m, [r["avg_norm_l2"] / g["norm_l2"] for r in rs], "s--", ms=3, lw=0.8, color=colors[s])
        ax.plot(m, [r["norm_l1"] / g["norm_l1"] for r in rs], "x", ms=4, color=colors[s])
    ax.axhline(1.0, color="k", lw=0.6, ls=":")
    if gf:
        l1, l2 = [g["norm_l1"] for g in gf.values()], [g["norm_l2"] for g in gf.values()]
        ax.plot([], [], "o-", ms=3, lw=1, color="0.3",
                label=f"‖θ̄‖₁, iterate average (GF: {min(l1):.0f}–{max(l1):.0f})")
        ax.plot([], [], "s--", ms=3, lw=0.8, color="0.3", label=f"‖θ̄‖₂ (GF: {min(l2):.2f}–{max(l2):.2f})")
        ax.plot([], [], "x", ms=4, color="0.3", label="‖θ‖₁, last iterate")
    _eta_axis(ax)
    ax.set_ylabel("norm / gradient-flow norm")
    ax.set_title("parameter norm (one colour per seed)", fontsize=9)
    ax.legend(fontsize=6.5)


def _test_panel(ax, gd, gf, colors):
    for k, (s, g) in enumerate(gf.items()):
        rs = [r for r in _by_seed(gd, s) if r["converged"]]
        ax.plot([r["eta_multiple"] for r in rs], [r["test_loss"] / g["test_loss"] for r in rs], "-", lw=1,
                marker=MARKERS[k % len(MARKERS)], ms=3, color=colors[s],
                label=f"seed {s} (depth {g.get('u_curve', {}).get('depth', float('nan')):.1%})")
    ax.axhline(1.0, color="k", lw=0.6, ls=":")
    _eta_axis(ax)
    ax.set_ylabel("test loss / gradient-flow test loss")
    ax.set_title("test loss vs η (diagnostic)", fontsize=9)
    ax.legend(fontsize=6.5)


def _distance_panel(ax, runs, marks):
    cmap = colormaps["plasma"]
    for i, r in enumerate(runs):
        d = np.array(r.get("gf_distance", []), float)
        if d.size == 0:
            continue
        c = cmap(i / max(len(runs) - 1, 1))
        ax.semilogy(d[:, 0], np.maximum(d[:, 1], 1e-6), "-", color=c, lw=1, marker=marks[r["eta_multiple"]],
                    markevery=_every(len(d)), ms=3, label=f"{r['eta_multiple']:g} η_c")
        if r.get("crossing_time") is not None:
            ax.axvline(r["crossing_time"], color=c, ls=":", lw=0.8)
    ax.set_xlabel("time t = kη")
    ax.set_ylabel(r"$\|\theta_{GD}-\theta_{GF}\| / \|\theta_{GF}-\theta_0\|$")
    ax.set_title("GD vs gradient flow (dotted: S first ≥ 2/η)", fontsize=9)
    ax.legend(fontsize=6, ncol=2)


def _central_panel(ax, gd):
    wins = [(w, r) for r in gd for w in r.get("central_flow", []) if w["sigma2"] > 0]
    ok = [(w, r) for w, r in wins if eligible(w)]
    out = [(w, r) for w, r in wins if not eligible(w)]
    for sel, fill, lab in ((ok, None, "eligible"), (out, "none", "λ₂ ≥ 1.9/η, excluded")):
        if sel:  # marker shape: the quantity; open markers: excluded windows
            ax.loglog([w["sigma2"] for w, _ in sel], [w["variance_u"] for w, _ in sel], "o", ms=4, mfc=fill,
                      color="tab:blue", label=f"Var⟨θ−θ̄,u⟩ ({lab})")
            ax.loglog([w["sigma2"] for w, _ in sel], [w["excess_loss"] * r["eta"] for w, r in sel], "^", ms=4,
                      mfc=fill, color="tab:red", label=f"η·(L̄ − L(θ̄)) ({lab})")
    if wins:
        lo = min(w["sigma2"] for w, _ in wins)
        hi = max(w["sigma2"] for w, _ in wins)
        xs = np.geomspace(lo / 2, hi * 2, 10)
        ax.loglog(xs, xs, "k-", lw=0.8, label="prediction = σ²")
        ax.fill_between(xs, xs * CF_PASS[0], xs * CF_PASS[1], color="gray", alpha=0.2, label="accepted band")
    ax.set_xlabel(r"central-flow $\sigma^2 = 2\langle-\nabla L,\nabla S\rangle/\|\nabla S\|^2$")
    ax.set_ylabel("measured")
    ax.set_title("central flow (extension)", fontsize=9)
    ax.legend(fontsize=6)
