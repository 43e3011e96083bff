"""The figure of ``which_minimizer``: (a) the init-scale law, (b) where each optimizer converges, (c) the AdaGrad
limit against the learning rate, (d) the linearization gap against the width."""
from __future__ import annotations

import numpy as np

from theory import which_minimizer as theory
from verify.figures import MARKERS, new_figure, save_figure
from verify.which_minimizer.claims import CLOSED_FORM_RTOL, GAP_CLAIM, LR_CLAIM
from verify.which_minimizer.summaries import a2_summary, adagrad_summary, gap_summary

PROBLEM_MARKERS = [m for m in MARKERS if m != "^"]  # "^": the geometric mean over problems


def plot(record: dict, stem):
    def by(kind):
        return [p for p in record["points"] if p["kind"] == kind]

    fig, (ax_a, ax_d, ax_lr, ax_w) = new_figure(4, width_per_panel=4.4, height=3.9, paper_cols=2)
    verdict = {c["name"]: c["verdict"] for c in record["claims"]}
    # the fits drawn at the level each claim was judged at (Holm's per-claim alpha)
    level = {c["name"]: 1 - (c.get("alpha") or record["params"].get("alpha", 0.01)) for c in record["claims"]}

    fit = a2_summary(record["points"], record["params"]["alphas"])
    a2 = fit["alphas"] ** 2
    grid = np.linspace(0, a2.max() * 1.05, 200)
    ax_a.plot(grid, fit["A"] + fit["C"] * grid, "-", color="C0", lw=1.2,
              label=f"fit $A + C\\alpha^2$ (A={fit['A']:.3g}, C={fit['C']:.3g})")
    ax_a.axhline(fit["A"], color="gray", ls=":", lw=1, label="kernel-interpolation error $A$")
    ax_a.plot(a2, fit["mean"]["mse"], "o", color="C0", label=f"GD limit, mean over {fit['n_inits']} inits (pairs)")
    ax_a.plot(a2, fit["mean"]["mse_doubled"], "s", mfc="none", color="C2", ms=8, label="antisymmetric doubling")
    ax_a.plot(a2, fit["mean"]["mse_centered"], "x", color="C3", ms=7, label="centering")
    ax_a.set(xlabel=r"output scale $\alpha^2$", ylabel="test MSE", title="(a) init-scale law (linearized)")
    ax_a.legend(fontsize=7, loc="upper left")

    _plot_limit_distances(ax_d, by("limit_distance"))

    lr_pts = by("adagrad_lr")
    for i, problem in enumerate(sorted({p["problem"] for p in lr_pts})):
        sel = [p for p in lr_pts if p["problem"] == problem]
        ax_lr.loglog([p["lr"] for p in sel], [p["to_flow"] for p in sel], "-", ms=4, alpha=0.6,
                     marker=PROBLEM_MARKERS[i % len(PROBLEM_MARKERS)], label=f"problem {problem}")
    summary = adagrad_summary(record["points"], level.get(LR_CLAIM, 0.99))
    lrs, geo = summary["lrs"], summary["to_flow_geomean"]
    ax_lr.loglog(lrs, geo, "k^", ms=6, label="geometric mean")
    lr = summary["fit"]
    if lr is not None:
        ax_lr.loglog(lrs, np.exp(lr.intercept) * lrs ** lr.slope, "k--", lw=1,
                     label=f"fit: slope {lr.slope:.2f}, {100 * level.get(LR_CLAIM, 0.99):.4g}% CI "
                           f"[{lr.ci[0]:.2f}, {lr.ci[1]:.2f}]")
    ax_lr.set(xlabel=r"AdaGrad learning rate / ($\|\theta_{GD}-\theta_0\|/\sqrt{p}$)",
              ylabel=r"rel. distance to lr$\to$0 (flow) limit", title="(c) AdaGrad limit vs learning rate")
    _log_ticks(ax_lr, lrs)
    ax_lr.legend(fontsize=7)

    gap = gap_summary(record["points"], level.get(GAP_CLAIM, 0.99))
    gfit, w = gap["fit"], gap["widths"]
    ax_w.errorbar(w, gap["mean"], yerr=gap["se"], fmt="o", color="C1", capsize=3)
    ax_w.plot([], [], "o", color="C1", label=f"trained net vs linearization (mean ± SE, {len(gap['gaps'][0])} inits)")
    ax_w.loglog(w, np.exp(gfit.intercept) * w ** gfit.slope, "-", color="C1",
                label=f"fit: $M^{{{gfit.slope:.2f}}}$, {100 * level.get(GAP_CLAIM, 0.99):.4g}% CI "
                      f"[{gfit.ci[0]:.2f}, {gfit.ci[1]:.2f}]")
    ref = np.exp(gfit.intercept) * w[0] ** gfit.slope * (w / w[0]) ** theory.LINEARIZATION_GAP_EXPONENT
    ax_w.loglog(w, ref, ":", color="gray", label=r"$M^{-1/2}$ reference")
    ax_w.set(xscale="log", yscale="log", xlabel="width M", ylabel="RMS test-output gap",
             title="(d) linearization gap vs width")
    _log_ticks(ax_w, w)
    ax_w.legend(fontsize=7)
    fig.suptitle(f"Which minimizer (verdict {record['verdict']}, seed {record.get('seed', '-')}): AdaGrad limit vs "
                 f"learning rate {verdict.get(LR_CLAIM, '?')}, linearization gap vs width "
                 f"{verdict.get(GAP_CLAIM, '?')}", fontsize=11)
    return save_figure(fig, stem)


def _log_ticks(ax, values):
    """Major x ticks at the measured values, no minor labels (they overlap on short log ranges)."""
    from matplotlib.ticker import FixedLocator, NullFormatter

    ax.xaxis.set_major_locator(FixedLocator(sorted(values)))
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_minor_formatter(NullFormatter())


def _plot_limit_distances(ax, rows):
    """Horizontal bars: each optimizer's largest relative distance to the GD limit (over problems, learning
    rates, orders), a tick at the smallest; log scale, exact zeros drawn at 1e-17."""
    floor = 1e-17
    labels = list(dict.fromkeys(r["optimizer"] for r in rows))
    y = np.arange(len(labels))[::-1]
    for yi, label in zip(y, labels):
        sel = [r for r in rows if r["optimizer"] == label]
        dist = np.maximum([r["to_gd"] for r in sel], floor)
        color = "C4" if "precond" in label else ("C0" if sel[0]["experiment"] == "A1" else "C3")
        ax.barh(yi, dist.max() - floor, left=floor, color=color)
        ax.plot([dist.min()] * 2, [yi - 0.4, yi + 0.4], "k-", lw=1.5)
        if "precond" in label:
            own = max(max(r["to_own_closed_form"] for r in sel), floor)
            ax.plot(own, yi, "o", mfc="white", mec="k", ms=6)
    ax.axvline(CLOSED_FORM_RTOL, color="k", ls="--", lw=1, label=f"A1 tolerance {CLOSED_FORM_RTOL:g}")
    ax.plot([], [], "k-", lw=1.5, label="smallest over runs")
    ax.plot([], [], "o", mfc="white", mec="k", label="preconditioned: to its own closed form")
    ax.set_xscale("log")
    ax.set_xlim(floor, 10)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set(xlabel=r"rel. distance to GD limit $\theta_0 + J^T(JJ^T)^{-1}r_0$",
           title="(b) where each optimizer converges")
    ax.legend(fontsize=7, loc="upper right")
