"""The figure of ``volume_width``: accuracy vs width (G&C, SGD, the limit), the distance to the limit, bits,
the one-hot contrast and the prior-scale control."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from verify.figures import errorbar as _errorbar, label, new_figure, save_figure
from verify.volume_width.pooled import clean as _clean, distance_fit, pooled_distances, select as _select

# Series told apart without colour: the method by line style, the depth (or n) by marker; the limits by their
# own dotted or dash-dotted line (one per depth), the reference lines (chance, noise level) dashed grey.
GNC_MARKERS = ("o", "^", "v", "<")
SGD_MARKERS = ("s", "D", "P", "X")
LIMIT_LINESTYLES = (":", "-.", (0, (1, 3)), (0, (3, 1, 1, 1, 1, 1)))
GNC, SGD, LIMIT = f"{label('gnc')} (RB)", f"{label('sgd')} (P&H)", label("nngp")


def _pooled(rows, key="test_acc_mean", se_key="test_acc_se"):
    rows = [r for r in rows if np.isfinite(r.get(key, np.nan))]
    if not rows:
        return float("nan"), float("nan")
    m = float(np.mean([r[key] for r in rows]))
    se = float(np.sqrt(np.nansum([r.get(se_key, np.nan) ** 2 for r in rows])) / len(rows))
    return m, se


def _curve(rows, **kw):
    sel = _select(rows, **kw)
    ws = sorted({r["width"] for r in sel})
    stats = [_pooled(_select(sel, width=w)) for w in ws]
    return np.array(ws), np.array([v[0] for v in stats]), np.array([v[1] for v in stats])


Z95 = 1.96


def _accuracy_panel(ax, rows, p, n, depths, colors):
    for di, depth in enumerate(depths):
        c = colors[depth]
        for method, ls, marker, name in (("gnc_rb", "-", GNC_MARKERS[di % 4], GNC),
                                         ("sgd", "--", SGD_MARKERS[di % 4], SGD)):
            ws, m, s = _curve(rows, method=method, role="sweep", inputs="digits", n=n, depth=depth)
            if ws.size and np.isfinite(m).any():
                ax.plot(ws, m, ls=ls, marker=marker, color=c, ms=3.5, label=f"{name}, depth {depth}")
                ax.fill_between(ws, m - Z95 * np.nan_to_num(s), m + Z95 * np.nan_to_num(s), color=c, alpha=0.15)
        lm, ls_ = _pooled(_select(rows, method="nngp", role="sweep", inputs="digits", n=n, depth=depth))
        if np.isfinite(lm):
            ax.axhline(lm, color=c, ls=LIMIT_LINESTYLES[di % 4], lw=1.6, label=f"{LIMIT}, depth {depth}")
            ax.axhspan(lm - Z95 * ls_, lm + Z95 * ls_, color=c, alpha=0.12)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("hidden width")
    ax.set_ylabel("test accuracy (mean, 95% CI)")
    ax.set_title(f"n = {n}: G&C, SGD and the infinite-width limit", fontsize=8.5)
    ax.legend(fontsize=6.2, loc="center right", ncol=2, framealpha=0.7)


def _cells_in(rows):
    return {(r["cell"], r["data_seed"]) for r in rows if r.get("role") == "sweep"}


def _distance_panel(ax, rows) -> str:
    """Draws the distances; returns the fitted trends in words (for the figure's title, the paper caption)."""
    dist = pooled_distances(rows)
    if not dist:
        return ""
    ws = np.array([d["width"] for d in dist])
    trends = []
    for key, se_key, c, marker, noise_ls, name in (
            ("diff", "se", "C0", "o", "--", "accuracy: |acc G&C − acc NNGP|"),
            ("bits_diff", "bits_se", "C3", "s", (0, (5, 2, 1, 2)), "bits: |bits G&C − bits NNGP| / 10")):
        scale = 1.0 if key == "diff" else 0.1
        vals = np.abs([d[key] for d in dist]) * scale
        se = np.array([d[se_key] for d in dist]) * scale
        _errorbar(ax, ws * (1.0 if key == "diff" else 1.08), vals, Z95 * se, color=c, marker=marker, linestyle="none",
                  capsize=2, ms=3.5, label=name + " (95% CI)")
        ax.plot(ws, Z95 * se, color=c, ls=noise_ls, lw=0.8, alpha=0.7)
        fit = distance_fit(dist, 0.05, key, se_key)
        if fit is not None:
            trends.append(f"{name.split(':')[0]} {fit.slope:.2g} [{fit.ci[0]:.2g}, {fit.ci[1]:.2g}]")
    ax.plot([], [], color="gray", ls="--", lw=0.8, label="noise level 1.96 SE (one per series)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_ylim(bottom=1e-4)
    ax.set_xlabel("hidden width")
    ax.set_ylabel("distance to the limit")
    ax.set_title("G&C's distance to its NNGP limit\n(mean over cells, n and depth)", fontsize=8.5)
    ax.legend(fontsize=6.0)
    return f"trend of Δ²−SE² per width doubling (95% CI): {'; '.join(trends)}" if trends else ""


def _bits_panel(ax, rows, ns, depths, colors):
    for n, mk in zip(ns, ("o", "^", "s", "D")):
        for di, depth in enumerate(depths):
            c = colors[depth]
            sel = _select(rows, method="gnc_rb", role="sweep", inputs="digits", n=n, depth=depth)
            ws = sorted({r["width"] for r in sel})
            if not ws:
                continue
            b = [_pooled(_select(sel, width=w), "bits", "bits_se") for w in ws]
            _errorbar(ax, ws, [v[0] for v in b], [Z95 * v[1] for v in b], marker=mk, color=c, ms=3.5, capsize=2,
                      linestyle=("-", "--", "-.", (0, (5, 1)))[di % 4], label=f"G&C n = {n}, depth {depth}")
            lb, _ = _pooled(_select(rows, method="nngp", role="sweep", inputs="digits", n=n, depth=depth), "bits", "bits_se")
            if np.isfinite(lb):
                ax.axhline(lb, color=c, ls=":", lw=1.2)
    ax.plot([], [], "k:", label="−log₂ P(orthant), the limit")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("hidden width")
    ax.set_ylabel("bits = −log₂ P(fit)")
    ax.set_title("bits to fit the training set\nvs the limit's (dotted)", fontsize=8.5)
    ax.legend(fontsize=6.2, ncol=2)


def _contrast_panel(ax, rows, n, depth):
    for inputs, c, marker, limit_ls, name in (("digits", "C0", "o", ":", "digit images"),
                                              ("identity", "C1", "s", "-.", "one-hot inputs")):
        sel = [r for r in _select(rows, method="gnc_rb", inputs=inputs, n=n, depth=depth) if r["role"] in ("sweep", "contrast")]
        ws = sorted({r["width"] for r in sel})
        if ws:
            st = [_pooled(_select(sel, width=w)) for w in ws]
            _errorbar(ax, ws, [v[0] for v in st], [Z95 * v[1] for v in st], marker=marker, color=c, capsize=2, ms=3.5,
                      label=f"G&C, {name}")
        lim = [r for r in _select(rows, method="nngp", inputs=inputs, n=n, depth=depth) if r["role"] in ("sweep", "contrast")]
        lm, ls_ = _pooled(lim)
        if np.isfinite(lm):
            ax.axhline(lm, color=c, ls=limit_ls, lw=1.6, label=f"{LIMIT}, {name}")
            ax.axhspan(lm - Z95 * ls_, lm + Z95 * ls_, color=c, alpha=0.15)
    ax.axhline(0.5, color="gray", lw=0.8, ls="--", label="chance")
    ax.set_xscale("log", base=2)
    ax.set_ylim(0.4, 1.0)
    ax.set_xlabel("hidden width")
    ax.set_ylabel("test accuracy (mean, 95% CI)")
    ax.set_title(f"contrast: matrix factorization's one-hot inputs\n(same labels, n = {n}, depth {depth})", fontsize=8.5)
    ax.legend(fontsize=6.2, loc="center right")


def _invariance_panel(ax, rows) -> str:
    """Draws the prior-scale control; returns its setting in words (for the figure's title, the paper caption).
    The bits go on a second y axis in an inset spanning the panel (a twin axes would be a figure axes of its
    own, lettered as a panel of its own in paper style)."""
    inv = sorted(_select(rows, role="invariance"), key=lambda r: -r["scale"])
    if not inv:
        return ""
    x = np.arange(len(inv))
    _errorbar(ax, x - 0.08, [r["test_acc_mean"] for r in inv], [Z95 * r["test_acc_se"] for r in inv], linestyle="none",
              marker="o", color="C0", capsize=3, label="test accuracy (left axis)")
    ax.set_xticks(x, [f"scale {r['scale']:g}" for r in inv])
    ax.set_ylabel("G&C test accuracy (95% CI)", color="C0")
    ax2 = ax.inset_axes([0.0, 0.0, 1.0, 1.0], sharex=ax)
    ax2.patch.set_visible(False)
    ax2.xaxis.set_visible(False)
    for side in ("left", "top", "bottom"):
        ax2.spines[side].set_visible(False)
    ax2.yaxis.tick_right()
    ax2.yaxis.set_label_position("right")
    ax2.errorbar(x + 0.08, [r["bits"] for r in inv], yerr=[Z95 * r["bits_se"] for r in inv], fmt="s", color="C3",
                 capsize=3)
    ax.plot([], [], color="C3", marker="s", linestyle="none", label="bits (right axis)")
    ax2.set_ylabel("bits = −log₂ P(fit)", color="C3")
    ax.set_xlim(-0.5, len(inv) - 0.5)
    ax.set_title("prior-scale invariance", fontsize=8.5)
    ax.legend(fontsize=6.2, loc="lower center")
    r0 = inv[0]
    return (f"prior-scale invariance: {r0['prior']} prior, width {r0['width']}, n = {r0['n']}, "
            f"{'with' if r0['bias'] else 'no'} biases, {label(r0['activation'])}")


def plot(record: dict, stem: Path) -> list[Path]:
    rows, p = _clean(record["points"]), record["params"]
    ns = sorted(int(n) for n in p["n_train"])
    depths = sorted(int(d) for d in p["depth"])
    colors = {d: c for d, c in zip(depths, ("C0", "C3", "C2", "C4"))}
    fig, axes = new_figure(3, rows=2, width_per_panel=4.6, height=3.9, paper_cols=2)
    shown = ns[:2] if len(ns) >= 2 else ns * 2
    for ax, n in zip(axes[:2], shown):
        _accuracy_panel(ax, rows, p, n, depths, colors)
    trend = _distance_panel(axes[2], rows)
    _bits_panel(axes[3], rows, ns, depths, colors)
    _contrast_panel(axes[4], rows, ns[-1], depths[0])
    invariance = _invariance_panel(axes[5], rows)
    k = len(_cells_in(rows))
    parts = [f"G&C (Rao–Blackwellized), SGD (Peleg & Hein's protocol) and the NNGP limit vs width: {p['prior']} prior, "
             f"{'biases' if p['bias'] else 'no biases'}, {label(p['activation'])}, mean over {k} "
             f"cell{'s' if k != 1 else ''}", trend, invariance]
    fig.suptitle("\n".join(x for x in parts if x), fontsize=9)
    return save_figure(fig, stem)
