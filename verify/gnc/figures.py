"""The paper-layout figure of a G&C preset's record (Alexander et al. 2025, Figures 1–11): three panels
(linear, tanh, leaky ReLU) of G&C and GD against width or depth, median and interquartile range over seeds, with
chance and this package's overlays (limits, RIP bound)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from verify.figures import label, new_figure, save_figure
from verify.gnc.presets import DEPTH, scope_of


def paper_figure(record: dict, stem, points: list[dict]) -> list[Path]:
    """With a figure preset, the paper-layout figure ``<stem>_figure<N>`` (else nothing)."""
    scope = scope_of(record["params"])
    if not scope:
        return []
    stem = Path(stem)
    return figure_file(record, stem.with_name(f"{stem.name}_figure{scope['figure']}"), points)


def figure_file(record: dict, stem: Path, points: list[dict]) -> list[Path]:
    """The paper's layout for a preset's record: three panels (linear, tanh, leaky ReLU) of G&C and GD against
    width or depth (median over seeds, interquartile bars), with chance and our overlays (the NNGP limit G_∞
    for width; the rank-1 limit G_∞ and, where it applies, the RIP bound for depth)."""
    params = record["params"]
    depth_check = record["check"] == DEPTH
    gd_rows = [q for q in points if q.get("kind") == "gd"]  # the depth check runs GD in tasks of its own
    if depth_check:
        pts = [q for q in points if q["kind"] == "depth"]
        xkey, xlabel = "depth", "depth d"
    else:
        pts = [q for q in points if q.get("kind", "point") == "point"]
        xkey, xlabel = "width", "width k"
    eps0 = params["eps"][0]
    pts = [q for q in pts if q["eps"] == eps0 and (depth_check or q["depth"] == params["depths"][0])]
    order = {"linear": 0, "tanh": 1}  # the paper's panel order: linear, tanh, leaky ReLU
    acts = sorted(dict.fromkeys(q["activation"] for q in pts), key=lambda a: order.get(a, 2))
    fig, axes = new_figure(len(acts), height=3.6, sharey=True, paper_cols=3)
    beyond_axis = []  # the medians at the extra linear depths, beyond the paper's axis (in the suptitle)
    for ax, act in zip(axes, acts):
        qs = [q for q in pts if q["activation"] == act]
        if depth_check:  # the paper's axis; the extra linear depths (where the limit is judged) in the suptitle
            beyond = [q for q in qs if q[xkey] > max(params["depths"])]
            qs = [q for q in qs if q[xkey] <= max(params["depths"])]
            for d in sorted({q[xkey] for q in beyond}):
                g, lim = (quartiles(beyond, key, [d], xkey)[1][0] for key in ("G", "G_limit"))
                beyond_axis.append(f"{label(act)} at d = {d}: {label('gnc')} {g:.3g}, $G_\\infty$ {lim:.3g}")
        xs = sorted({q[xkey] for q in qs})
        gd_qs = [q for q in gd_rows if q["activation"] == act and q[xkey] in xs] if gd_rows else qs
        for rows, key, fmt, color, method in ((qs, "G", "o-", "C0", "gnc"), (gd_qs, "gd_gen_loss", "s-", "C2", "gd")):
            median_with_iqr(ax, xs, quartiles(rows, key, xs, xkey), fmt, color, f"{label(method)} (median, IQR)")
        chance_key = "chance_closed_form" if any(_finite(q.get("chance_closed_form")) for q in qs) else "C"
        ax.plot(xs, quartiles(qs, chance_key, xs, xkey)[1], "--", color="gray", label="chance")
        limit = quartiles(qs, "G_limit", xs, xkey)[1]
        if np.isfinite(limit).any():
            ax.plot(xs, limit, ":", color="C3", lw=2,
                    label=r"$G_\infty$ (rank-1 limit)" if depth_check else r"$G_\infty$ (NNGP limit)")
        if depth_check:
            bound = quartiles(qs, "rip_bound", xs, xkey)[1]
            chance = quartiles(qs, chance_key, xs, xkey)[1]
            if np.isfinite(bound).any() and np.nanmin(bound) < 10 * np.nanmax(chance):  # else off the scale
                ax.plot(xs, bound, "-.", color="C4", label="RIP bound (median)")
        if not depth_check:
            ax.set_xscale("log")
            ax.set_xticks(xs, [str(x) for x in xs])
            ax.set_xticks([], minor=True)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_title(label(act))
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(f"generalization loss (ε = {eps0:g})")
    axes[0].legend(fontsize=7)
    scope = scope_of(params) or {}
    fig.suptitle(f"Figure {scope.get('figure', '?')}: {scope.get('setting', '')} — "
                 f"{'inside' if scope.get('in_scope') else 'outside'} the theorem's hypotheses "
                 f"({params.get('mode', 'quick')} run: ε = {eps0:g}, {params['seeds']} seeds)"
                 + ("\nmedians beyond the axis: " + "; ".join(beyond_axis) if beyond_axis else ""), fontsize=9)
    return save_figure(fig, stem)


def median_with_iqr(ax, xs, q: np.ndarray, fmt: str, color: str, text: str) -> None:
    """The median ``q[1]`` against ``xs`` with interquartile bars (``q[0]``, ``q[2]``), where finite; the legend
    entry is the median's line (its marker and line style: the series stay apart without colour)."""
    q25, q50, q75 = (np.asarray(v, float) for v in q)
    ok = np.isfinite(q50)
    if not ok.any():
        return
    x = np.asarray(xs)[ok]
    ax.errorbar(x, q50[ok], yerr=[q50[ok] - q25[ok], q75[ok] - q50[ok]], fmt="none", ecolor=color, capsize=3)
    ax.plot(x, q50[ok], fmt, color=color, label=text)


def _finite(v) -> bool:
    return v is not None and np.isfinite(v)


def quartiles(pts: list[dict], key: str, xs, xkey: str) -> np.ndarray:
    """25th, 50th, 75th percentiles over seeds of ``key`` at each x (NaN where no finite value)."""
    out = []
    for x in xs:
        v = np.array([q[key] if _finite(q.get(key)) else np.nan for q in pts if q[xkey] == x], float)
        v = v[np.isfinite(v)]
        out.append(np.percentile(v, [25, 50, 75]) if v.size else [np.nan] * 3)
    return np.array(out, float).T.reshape(3, len(xs))
