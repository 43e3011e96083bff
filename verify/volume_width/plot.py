"""The figure of ``volume_width``: accuracy vs width (G&C, SGD, the limit), the distance to the limit, bits,
the one-hot contrast and the prior-scale control."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from verify.figures import new_figure, save_figure
from verify.volume_width.pooled import clean as _clean, distance_fit, pooled_distances, select as _select


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
    for depth in depths:
        c = colors[depth]
        for method, ls, marker, label in (("gnc_rb", "-", "o", "G&C (RB)"), ("sgd", "--", "s", "SGD (P&H)")):
            ws, m, s = _curve(rows, method=method, role="sweep", inputs="digits", n=n, depth=depth)
            if ws.size:
                ax.plot(ws, m, ls=ls, marker=marker, color=c, ms=3.5, label=f"{label}, depth {depth}")
                ax.fill_between(ws, m - Z95 * np.nan_to_num(s), m + Z95 * np.nan_to_num(s), color=c, alpha=0.15)
        lm, ls_ = _pooled(_select(rows, method="nngp", role="sweep", inputs="digits", n=n, depth=depth))
        if np.isfinite(lm):
            ax.axhline(lm, color=c, ls=":", lw=1.6, label=f"NNGP limit, depth {depth}")
            ax.axhspan(lm - Z95 * ls_, lm + Z95 * ls_, color=c, alpha=0.12)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("hidden width")
    ax.set_ylabel("test accuracy (mean, 95% CI)")
    ax.set_title(f"n = {n}: G&C, SGD and the infinite-width limit\n({p['prior']} prior, "
                 f"{'biases' if p['bias'] else 'no biases'}, {p['activation']}, mean over {len(_cells_in(rows))} cell(s))",
                 fontsize=8.5)
    ax.legend(fontsize=6.2, loc="center right", ncol=2, framealpha=0.7)


def _cells_in(rows):
    return {(r["cell"], r["data_seed"]) for r in rows if r.get("role") == "sweep"}


def _distance_panel(ax, rows):
    dist = pooled_distances(rows)
    if not dist:
        return
    ws = np.array([d["width"] for d in dist])
    for key, se_key, c, label in (("diff", "se", "C0", "accuracy: |acc G&C − acc NNGP|"),
                                  ("bits_diff", "bits_se", "C3", "bits: |bits G&C − bits NNGP| / 10")):
        scale = 1.0 if key == "diff" else 0.1
        vals = np.abs([d[key] for d in dist]) * scale
        se = np.array([d[se_key] for d in dist]) * scale
        ax.errorbar(ws * (1.0 if key == "diff" else 1.08), vals, yerr=Z95 * se, fmt="o", color=c, capsize=2, ms=3.5,
                    label=label + " (95% CI)")
        ax.plot(ws, Z95 * se, color=c, ls="--", lw=0.8, alpha=0.7)
        fit = distance_fit(dist, 0.05, key, se_key)
        if fit is not None:
            ax.plot([], [], " ", label=f"  trend of Δ²−SE² per doubling: {fit.slope:.2g} "
                                       f"[{fit.ci[0]:.2g}, {fit.ci[1]:.2g}] (95%)")
    ax.plot([], [], color="gray", ls="--", lw=0.8, label="noise level 1.96 SE")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_ylim(bottom=1e-4)
    ax.set_xlabel("hidden width")
    ax.set_ylabel("distance to the limit")
    ax.set_title("G&C's distance to its NNGP limit\n(mean over cells, n and depth)", fontsize=8.5)
    ax.legend(fontsize=6.0)


def _bits_panel(ax, rows, ns, depths, colors):
    for n, mk in zip(ns, ("o", "^", "s", "D")):
        for depth in depths:
            c = colors[depth]
            sel = _select(rows, method="gnc_rb", role="sweep", inputs="digits", n=n, depth=depth)
            ws = sorted({r["width"] for r in sel})
            if not ws:
                continue
            b = [_pooled(_select(sel, width=w), "bits", "bits_se") for w in ws]
            ax.errorbar(ws, [v[0] for v in b], yerr=[Z95 * v[1] for v in b], marker=mk, color=c, ms=3.5, capsize=2,
                        label=f"G&C n={n}, depth {depth}")
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
    for inputs, c, label in (("digits", "C0", "digit images"), ("identity", "C1", "one-hot inputs")):
        sel = [r for r in _select(rows, method="gnc_rb", inputs=inputs, n=n, depth=depth) if r["role"] in ("sweep", "contrast")]
        ws = sorted({r["width"] for r in sel})
        if ws:
            st = [_pooled(_select(sel, width=w)) for w in ws]
            ax.errorbar(ws, [v[0] for v in st], yerr=[Z95 * v[1] for v in st], marker="o", color=c, capsize=2, ms=3.5,
                        label=f"G&C, {label}")
        lim = [r for r in _select(rows, method="nngp", inputs=inputs, n=n, depth=depth) if r["role"] in ("sweep", "contrast")]
        lm, ls_ = _pooled(lim)
        if np.isfinite(lm):
            ax.axhline(lm, color=c, ls=":", lw=1.6, label=f"NNGP limit, {label}")
            ax.axhspan(lm - Z95 * ls_, lm + Z95 * ls_, color=c, alpha=0.15)
    ax.axhline(0.5, color="gray", lw=0.8, ls="--", label="chance")
    ax.set_xscale("log", base=2)
    ax.set_ylim(0.4, 1.0)
    ax.set_xlabel("hidden width")
    ax.set_ylabel("test accuracy (mean, 95% CI)")
    ax.set_title(f"contrast: matrix factorization's one-hot inputs\n(same labels, n = {n}, depth {depth})", fontsize=8.5)
    ax.legend(fontsize=6.2, loc="center right")


def _invariance_panel(ax, rows):
    inv = sorted(_select(rows, role="invariance"), key=lambda r: -r["scale"])
    if not inv:
        return
    x = np.arange(len(inv))
    ax.errorbar(x - 0.08, [r["test_acc_mean"] for r in inv], yerr=[Z95 * r["test_acc_se"] for r in inv], fmt="o",
                color="C0", capsize=3, label="test accuracy")
    ax.set_xticks(x, [f"scale {r['scale']:g}" for r in inv])
    ax.set_ylabel("G&C test accuracy (95% CI)", color="C0")
    ax2 = ax.twinx()
    ax2.errorbar(x + 0.08, [r["bits"] for r in inv], yerr=[Z95 * r["bits_se"] for r in inv], fmt="s", color="C3",
                 capsize=3, label="bits")
    ax2.set_ylabel("bits = −log₂ P(fit)", color="C3")
    r0 = inv[0]
    ax.set_title(f"prior-scale invariance ({r0['prior']}, width {r0['width']}, n = {r0['n']},\n"
                 f"{'with' if r0['bias'] else 'no'} biases, {r0['activation']})", fontsize=8.5)
    ax.set_xlim(-0.5, len(inv) - 0.5)


def plot(record: dict, stem: Path) -> list[Path]:
    rows, p = _clean(record["points"]), record["params"]
    ns = sorted(int(n) for n in p["n_train"])
    depths = sorted(int(d) for d in p["depth"])
    colors = {d: c for d, c in zip(depths, ("C0", "C3", "C2", "C4"))}
    fig, axes = new_figure(3, rows=2, width_per_panel=4.6, height=3.9)
    shown = ns[:2] if len(ns) >= 2 else ns * 2
    for ax, n in zip(axes[:2], shown):
        _accuracy_panel(ax, rows, p, n, depths, colors)
    _distance_panel(axes[2], rows)
    _bits_panel(axes[3], rows, ns, depths, colors)
    _contrast_panel(axes[4], rows, ns[-1], depths[0])
    _invariance_panel(axes[5], rows)
    return save_figure(fig, stem)
