"""The width check's figure: G&C, chance, G_∞ and GD against width; the relative gap to the limit (log-log)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from numerics.activations import parse_activation
from verify.figures import label, new_figure, save_figure, series_style
from verify.gnc.figures import median_with_iqr, paper_figure
from verify.width_theorem.claims import distance_points, relative_gaps
from verify.width_theorem.sweep import joined


def plot(record: dict, stem: Path) -> list[Path]:
    """Top row (the paper's layout): G&C median with IQR over seeds, chance, G_∞ and GD against width, one panel
    per activation. Bottom row: the relative distance to the limit against width (log-log), one line per ε,
    with the fitted slope of the check."""
    points, params = joined(record["points"]), record["params"]
    acts = list(dict.fromkeys(q["activation"] for q in points))
    fig, axes = new_figure(len(acts), rows=2, height=3.4)
    eps0, depth0 = params["eps"][0], params["depths"][0]
    slopes = {c["name"]: c["measured"] for c in record["claims"]}
    for col, act in enumerate(acts):
        ax, ax_gap = axes[col], axes[len(acts) + col]
        sigma = parse_activation(act)
        pts = [q for q in points if q["activation"] == act and q["eps"] == eps0 and q["depth"] == depth0]
        widths = sorted({q["width"] for q in pts})

        def stat(key, pts=pts, widths=widths):
            vals = [[q[key] if q.get(key) is not None else np.nan for q in pts if q["width"] == k] for k in widths]
            return np.array([np.nanpercentile(v, [25, 50, 75]) if np.any(np.isfinite(v)) else [np.nan] * 3
                             for v in vals]).T

        median_with_iqr(ax, widths, stat("G"), "o-", "C0", f"{label('gnc')} (median, IQR)")
        ax.plot(widths, stat("chance_closed_form" if pts[0]["chance_closed_form"] is not None else "C")[1], "--",
                color="gray", label="chance $C_k$")
        ax.plot(widths, stat("G_limit")[1], ":", color="C3", lw=2, label=r"$G_\infty$ (NNGP limit)")
        if "gd_gen_loss" in pts[0]:
            median_with_iqr(ax, widths, stat("gd_gen_loss"), "s-", "C2", label("gd"))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{label(act)} (d = {depth0}, ε = {eps0:g})")
        for i, eps in enumerate(params["eps"]):
            sel = [q for q in points if q["activation"] == act and q["eps"] == eps and q["depth"] == depth0]
            ws, gaps, ses, _ = relative_gaps(sel if sigma.antisymmetric else distance_points(sel))
            name = ("gap_shrinks" if sigma.antisymmetric else "distance_to_limit_shrinks") + \
                f"[{sigma}, d={depth0}, eps={eps:g}]"
            slope = slopes.get(name)
            text = f"ε = {eps:g}" + (f" (fitted β = {slope:.2f})" if isinstance(slope, float) else "")
            ok = gaps != 0
            style = series_style(i)
            ax_gap.errorbar(np.array(ws)[ok], np.abs(gaps[ok]), yerr=ses[ok], fmt="none", ecolor=f"C{i}", capsize=3)
            ax_gap.plot(np.array(ws)[ok], np.abs(gaps[ok]), color=f"C{i}", label=text, **style)
        ax_gap.set_xscale("log")
        ax_gap.set_yscale("log")
        ax_gap.set_xlabel("width k")
        ax_gap.legend(fontsize=8)
        for a in (ax, ax_gap):
            a.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("generalization loss")
    axes[len(acts)].set_ylabel("relative gap to the limit\n" + r"$|C_k - G_k|/C_k$; leaky: $|G_k - G_\infty|/G_\infty$")
    axes[0].legend(fontsize=8)
    return save_figure(fig, stem) + paper_figure(record, stem, points)
