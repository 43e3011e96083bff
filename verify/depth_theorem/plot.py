"""The depth check's figure: G&C and GD against depth per σ, the gap to the rank-1 limit, the Lyapunov gap, the
rank-1 limit with the RIP bound, the estimated δ_2 against n, and the acceptance against depth."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from verify.depth_theorem.claims import seed_gaps
from verify.gnc.claims import decay_fit
from verify.depth_theorem.sweep import joined
from verify.figures import save_figure
from verify.gnc.figures import paper_figure


def plot(record: dict, stem: Path) -> list[Path]:
    """Top: one panel per activation (G&C and GD against depth, rank-1 limit, chance) and the gap G_d − G_∞.
    Bottom: Lyapunov gap, G_∞(ε) with the RIP bound, estimated δ_2 against n, acceptance against depth."""
    import matplotlib.pyplot as plt

    points, params = joined(record["points"]), record["params"]
    depth_pts = [q for q in points if q["kind"] == "depth"]
    acts = list(dict.fromkeys(q["activation"] for q in depth_pts))
    cols = max(4, len(acts) + 1)
    fig, axes = plt.subplots(2, cols, figsize=(4.2 * cols, 7.6), constrained_layout=True, squeeze=False)
    eps0 = params["eps"][0]
    at_eps = [q for q in depth_pts if q["eps"] == eps0]
    gd_rows = [q for q in points if q["kind"] == "gd"]
    for ax, act in zip(axes[0], acts):
        _depth_panel(ax, [q for q in at_eps if q["activation"] == act], [q for q in gd_rows if q["activation"] == act],
                     act, eps0, params["prior"])
    _gap_panel(axes[0][len(acts)], [q for q in at_eps if q["activation"] == "linear"], eps0, params["alpha"])
    _lyapunov_panel(axes[1][0], points)
    _limit_panel(axes[1][1], [q for q in points if q["kind"] == "limit"], params)
    _rip_panel(axes[1][2], [q for q in points if q["kind"] == "rip_study"], params)
    _acceptance_panel(axes[1][3], at_eps, [q for q in points if q["kind"] == "limit" and q["eps"] == eps0
                                           and q["n"] == params["n"]], eps0)
    for row in axes:
        for ax in row:
            if not ax.has_data():
                ax.axis("off")
    return save_figure(fig, stem) + paper_figure(record, stem, points)


def _gap_panel(ax, pts, eps, alpha):
    if not pts:
        return
    depths, gaps, cov = seed_gaps(pts)
    sd = np.sqrt(np.diag(cov))
    ax.errorbar(depths, gaps, yerr=2 * sd, fmt="o", color="C0", capsize=3, label="seed mean ± 2 SE")
    ax.axhline(0.0, color="k", lw=0.8)
    fit = decay_fit(depths, gaps, cov, scale="exp")
    if fit is not None:
        beta, _, amplitude, _, n = fit
        grid = np.linspace(depths.min(), depths.max(), 200)
        ax.plot(grid, amplitude * np.exp(-beta * (grid - depths.min())), "-", color="C3",
                label=f"fit ∝ exp(−{beta:.3f} d) (all {n} depths)")
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
        ax.plot(depths, acc[1], "o-", color=f"C{i}", label=act)
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
    ax.errorbar(depths, g[1], yerr=[g[1] - g[0], g[2] - g[1]], fmt="o-", color="C0", capsize=3,
                label="G&C $G_d(\\epsilon)$ (median, IQR)")
    lim = _quartiles(pts, "G_limit", depths, "depth")
    ax.plot(depths, lim[1], ":", color="C3", lw=2, label="rank-1 limit $G_\\infty(\\epsilon)$")
    chance = _quartiles(pts, "C", depths, "depth")
    ax.plot(depths, chance[1], "--", color="gray", label="chance")
    gd_depths = sorted({q["depth"] for q in gd_pts if np.isfinite(q.get("gd_gen_loss") or np.nan)})
    if gd_depths:
        gd = _quartiles(gd_pts, "gd_gen_loss", gd_depths, "depth")
        ax.errorbar(gd_depths, gd[1], yerr=[gd[1] - gd[0], gd[2] - gd[1]], fmt="s-", color="C2", capsize=3,
                    label="GD (paper's init scales)")
    ax.set_yscale("log")
    ax.set_xlabel("depth d")
    ax.set_ylabel("generalization loss")
    ax.set_title(f"{act} ({prior} prior, ε = {eps:g})")
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
    ax.errorbar(d, mean, yerr=3 * se, fmt="o", ms=3, color="C0", label="measured (±3 SE)")
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
    if not pts:
        return
    for i, n in enumerate(sorted({q["n"] for q in pts})):
        qs = [q for q in pts if q["n"] == n]
        eps = sorted({q["eps"] for q in qs})
        g = _quartiles(qs, "G", eps, "eps")
        ax.errorbar(eps, g[1], yerr=[g[1] - g[0], g[2] - g[1]], fmt="o-", color=f"C{i}", capsize=3,
                    label=f"$G_\\infty(\\epsilon)$, n = {n}")
        bound = _quartiles(qs, "rip_bound", eps, "eps")
        if np.any(np.isfinite(bound[1])):
            ax.plot(eps, bound[1], "--", color=f"C{i}", label=f"RIP bound (δ₂⁻ lower bound), n = {n}")
        chance = _quartiles(qs, "chance_closed_form", eps, "eps")
        ax.plot(eps, chance[1], ":", color=f"C{i}", alpha=0.6, label=f"chance, n = {n}")
        kappa = np.nanmedian([q["local_kappa"] if q.get("local_kappa") is not None else np.nan for q in qs])
        if np.isfinite(kappa):
            ax.plot(eps, kappa * np.array(eps), "-.", color=f"C{i}", alpha=0.7, lw=1,
                    label=f"local law κε (median κ = {kappa:.3g}), n = {n}")
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
    for key, label, color in (("delta_minus_lower", "one-sided δ₂⁻ (lower bound)", "C0"),
                              ("delta_lower", "two-sided δ₂ (lower bound)", "C1")):
        vals = [np.asarray(r[key], float) for r in rows]
        med = np.array([np.median(v) for v in vals])
        ax.plot(n, med, "o-", color=color, label=label)
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
