"""The depth check's figure: G&C and GD against depth per σ, the gap to the rank-1 limit, the Lyapunov gap, the
rank-1 limit with the RIP bound, the estimated δ_2 against n, and the acceptance against depth."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from verify.depth_theorem.claims import seed_gaps
from verify.gnc.claims import decay_fit
from verify.depth_theorem.sweep import joined
from verify.figures import current_style, label, new_figure, save_figure, series_style
from verify.gnc.figures import median_with_iqr, paper_figure


def plot(record: dict, stem: Path) -> list[Path]:
    """Top: one panel per activation (G&C and GD against depth, rank-1 limit, chance) and the gap G_d − G_∞.
    Bottom: Lyapunov gap, G_∞(ε) with the RIP bound, estimated δ_2 against n, acceptance against depth."""
    points, params = joined(record["points"]), record["params"]
    depth_pts = [q for q in points if q["kind"] == "depth"]
    acts = list(dict.fromkeys(q["activation"] for q in depth_pts))
    eps0 = params["eps"][0]
    at_eps = [q for q in depth_pts if q["eps"] == eps0]
    gd_rows = [q for q in points if q["kind"] == "gd"]
    kind = {k: [q for q in points if q["kind"] == k] for k in ("lyapunov", "lyapunov_fit", "limit", "rip_study")}
    linear = [q for q in at_eps if q["activation"] == "linear"]
    top = [lambda ax, act=act: _depth_panel(ax, [q for q in at_eps if q["activation"] == act],
                                            [q for q in gd_rows if q["activation"] == act], act, eps0, params["prior"])
           for act in acts]
    top += [lambda ax: _gap_panel(ax, linear, eps0, params["alpha"])] if linear else []
    bottom = [lambda ax: _lyapunov_panel(ax, points)] if kind["lyapunov"] and kind["lyapunov_fit"] else []
    bottom += [lambda ax: _limit_panel(ax, kind["limit"], params)] if kind["limit"] else []
    bottom += [lambda ax: _rip_panel(ax, kind["rip_study"], params)] if kind["rip_study"] else []
    bottom += [lambda ax: _acceptance_panel(ax, at_eps, [q for q in kind["limit"] if q["eps"] == eps0
                                                         and q["n"] == params["n"]], eps0)]
    if current_style() == "paper":  # the panels in reading order, two to a row
        fig, axes = new_figure(len(top) + len(bottom), width_per_panel=4.2, height=3.8, paper_cols=2)
    else:  # the activations and the gap on top, the limit's panels below
        cols = max(len(top), len(bottom))
        fig, grid = new_figure(cols, rows=2, width_per_panel=4.2, height=3.8)
        for ax in grid[len(top):cols] + grid[cols + len(bottom):]:
            ax.axis("off")
        axes = grid[:len(top)] + grid[cols:cols + len(bottom)]
    for ax, draw in zip(axes, top + bottom):
        draw(ax)
        if not ax.has_data():
            ax.axis("off")
    return save_figure(fig, stem) + paper_figure(record, stem, points)


def _gap_panel(ax, pts, eps, alpha):
    if not pts:
        return
    depths, gaps, cov = seed_gaps(pts)
    sd = np.sqrt(np.diag(cov))
    ax.errorbar(depths, gaps, yerr=2 * sd, fmt="none", ecolor="C0", capsize=3)
    ax.plot(depths, gaps, "o", color="C0", label="seed mean ± 2 SE")
    ax.axhline(0.0, color="k", lw=0.8)
    fit = decay_fit(depths, gaps, cov, scale="exp")
    if fit is not None:
        beta, _, amplitude, _, n = fit
        grid = np.linspace(depths.min(), depths.max(), 200)
        ax.plot(grid, amplitude * np.exp(-beta * (grid - depths.min())), "-", color="C3",
                label=f"fit ∝ exp(−{beta:.3f} d), {n} depths")
    ax.set_xlabel("depth d")
    ax.set_ylabel(r"$G_d(\epsilon) - G_\infty(\epsilon)$")
    ax.set_title(f"gap to the rank-1 limit (linear, ε = {eps:g})")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)


def _acceptance_panel(ax, pts, limit_pts, eps):
    for i, act in enumerate(dict.fromkeys(q["activation"] for q in pts)):
        qs = [q for q in pts if q["activation"] == act]
        depths = sorted({q["depth"] for q in qs})
        acc = _quartiles(qs, "p_accept", depths, "depth")
        ax.plot(depths, acc[1], color=f"C{i}", label=label(act), **series_style(i))
    if limit_pts:
        ax.axhline(np.median([q["p_accept"] for q in limit_pts]), color="C3", ls=":", lw=2,
                   label="rank-1 limit")
    ax.set_yscale("log")
    ax.set_xlabel("depth d")
    ax.set_ylabel(r"acceptance $P(L_{train} < \epsilon)$")
    ax.set_title(f"G&C acceptance, ε = {eps:g}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def _quartiles(pts, key, xs, xkey):
    out = []
    for x in xs:
        v = np.array([q[key] if q.get(key) is not None else np.nan for q in pts if q[xkey] == x], float)
        v = v[np.isfinite(v)]
        out.append(np.percentile(v, [25, 50, 75]) if v.size else [np.nan] * 3)
    return np.array(out).T


def _depth_panel(ax, pts, gd_pts, act, eps, prior):
    depths = sorted({q["depth"] for q in pts})
    g = _quartiles(pts, "G", depths, "depth")
    median_with_iqr(ax, depths, g, "o-", "C0", f"{label('gnc')} (median, IQR)")
    lim = _quartiles(pts, "G_limit", depths, "depth")
    ax.plot(depths, lim[1], ":", color="C3", lw=2, label="rank-1 limit")
    chance = _quartiles(pts, "C", depths, "depth")
    ax.plot(depths, chance[1], "--", color="gray", label="chance")
    gd_depths = sorted({q["depth"] for q in gd_pts if np.isfinite(q.get("gd_gen_loss") or np.nan)})
    if gd_depths:
        gd = _quartiles(gd_pts, "gd_gen_loss", gd_depths, "depth")
        median_with_iqr(ax, gd_depths, gd, "s-", "C2", f"{label('gd')} (paper's init)")
    ax.set_yscale("log")
    ax.set_xlabel("depth d")
    ax.set_ylabel("generalization loss")
    ax.set_title(f"{label(act)} ({prior} prior, ε = {eps:g})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def _lyapunov_panel(ax, points):
    pts = [q for q in points if q["kind"] == "lyapunov"]
    fit = next((q for q in points if q["kind"] == "lyapunov_fit"), None)
    if not pts or fit is None:
        return
    d = np.array([q["depth"] for q in pts])
    mean = np.array([q["mean_log_ratio"] for q in pts])
    se = np.array([q["se"] for q in pts])
    ax.errorbar(d, mean, yerr=3 * se, fmt="none", ecolor="C0")
    ax.plot(d, mean, "o", ms=3, color="C0", label="measured (±3 SE)")
    grid = np.array([fit["min_depth"], fit["max_depth"]])
    ax.plot(grid, fit["intercept"] + fit["slope"] * grid, "-", color="C0",
            label=f"fit: {fit['slope']:.4f} ± {fit['slope_se']:.4f} / layer")
    mid = grid.mean()
    anchor = fit["intercept"] + fit["slope"] * mid
    full = np.array([1, fit["max_depth"]])
    ax.plot(full, anchor + fit["predicted_slope"] * (full - mid), "--", color="C3",
            label=f"theory: {fit['predicted_slope']:.4f} / layer")
    ax.axvspan(fit["min_depth"], fit["max_depth"], color="C0", alpha=0.07, lw=0)
    ax.set_xlabel("depth d")
    ax.set_ylabel(r"$E\,\ln(\sigma_2/\sigma_1)$")
    ax.set_title(f"Lyapunov gap, k = {fit['width']}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)


def _limit_panel(ax, pts, params):
    """G_∞(ε) per n (colour and marker), each with its RIP bound, chance and local law κε (line styles: one legend
    entry per quantity and one per n)."""
    if not pts:
        return
    quantities = {}
    for i, n in enumerate(sorted({q["n"] for q in pts})):
        qs = [q for q in pts if q["n"] == n]
        eps = sorted({q["eps"] for q in qs})
        g = _quartiles(qs, "G", eps, "eps")
        kappa = np.nanmedian([q["local_kappa"] if q.get("local_kappa") is not None else np.nan for q in qs])
        marker = series_style(i)["marker"]
        median_with_iqr(ax, eps, g, f"{marker}-", f"C{i}",
                        f"$G_\\infty(\\epsilon)$, n = {n}" + (f" (κ = {kappa:.3g})" if np.isfinite(kappa) else ""))
        bound = _quartiles(qs, "rip_bound", eps, "eps")
        if np.any(np.isfinite(bound[1])):
            ax.plot(eps, bound[1], "--", color=f"C{i}")
            quantities["--"] = "RIP bound (δ₂⁻ lower bound)"
        chance = _quartiles(qs, "chance_closed_form", eps, "eps")
        ax.plot(eps, chance[1], ":", color=f"C{i}", alpha=0.6)
        quantities[":"] = "chance"
        if np.isfinite(kappa):
            ax.plot(eps, kappa * np.array(eps), "-.", color=f"C{i}", alpha=0.7, lw=1)
            quantities["-."] = "local law κε (median κ)"
    for ls in ("--", ":", "-."):  # the line style of each quantity, drawn for every n
        if ls in quantities:
            ax.plot([], [], ls, color="0.3", label=quantities[ls])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ε")
    ax.set_ylabel("generalization loss")
    ax.set_title("rank-1 depth limit (median over seeds)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def _rip_panel(ax, rows, params):
    if not rows:
        return
    n = np.array([r["n"] for r in rows])
    for i, (key, text) in enumerate((("delta_minus_lower", "one-sided δ₂⁻ (lower bound)"),
                                     ("delta_lower", "two-sided δ₂ (lower bound)"))):
        vals = [np.asarray(r[key], float) for r in rows]
        med = np.array([np.median(v) for v in vals])
        color = f"C{i}"
        ax.plot(n, med, color=color, label=text, marker=series_style(i)["marker"])
        ax.fill_between(n, [v.min() for v in vals], [v.max() for v in vals], color=color, alpha=0.2, lw=0)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.axvline(rows[0]["dimension_count"], color="gray", ls=":", label="r(m+m'−r): rank-2 dimension")
    ax.axvline(params["n"], color="C3", ls="--", lw=1, label=f"paper's n = {params['n']}")
    ax.set_xscale("log")
    ticks = [int(n[0])]
    for v in n[1:]:
        if v / ticks[-1] >= 1.2:  # readable labels on the log axis
            ticks.append(int(v))
    ax.set_xticks(ticks, [str(v) for v in ticks])
    ax.set_xticks([], minor=True)
    ax.set_xlabel("number of measurements n")
    ax.set_ylabel("restricted isometry constant")
    ax.set_title(f"estimated δ₂ ({rows[0]['m']}×{rows[0]['mp']}, normalized Gaussian)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
