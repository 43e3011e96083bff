"""The figure of ``modified_loss``: error against step size per section, the identities, the partitions."""
from __future__ import annotations

import numpy as np

from theory.modified_losses import RMSPROP_PASS_SLOPE
from verify.figures import MARKERS, current_style, new_figure, save_figure
from verify.modified_loss.predictions import AB_PANEL, IDENTITY_TOL, PARTITION_PANEL
from verify.rules import fit_loglog_slope


def plot(record: dict, stem) -> list:
    points = record["points"]
    panels = list(dict.fromkeys(p["panel"] for p in points))
    ncols = 4
    nrows = -(-len(panels) // ncols)
    fig, axes = new_figure(ncols, rows=nrows, width_per_panel=4.0, height=3.5, paper_cols=2)
    for ax, panel in zip(axes, panels):
        rows = [p for p in points if p["panel"] == panel]
        if panel == AB_PANEL:
            _plot_identity(ax, rows)
        elif panel == PARTITION_PANEL:
            _plot_partitions(ax, rows)
        else:
            _plot_slopes(ax, rows, record["claims"], panel)
        named = {r.get("claim") for r in rows}
        status = _status([c for c in record["claims"] if c.get("verdict") is not None
                          and (c["name"] in named or c["name"].startswith(panel + ":"))])
        # in paper style the title's "(verdict: …)" goes to the caption
        paper = current_style() == "paper" and status != "no claim"
        ax.set_title(f"{panel} ({'verdict: ' if paper else ''}{status})", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(f"Modified losses: error against step size (verdict {record['verdict']}, seed {record['seed']}); "
                 f"RMSProp slope test: slope ≥ {RMSPROP_PASS_SLOPE:g}", fontsize=11)
    return save_figure(fig, stem)


def _status(claims: list[dict]) -> str:
    """The panel's judged claims in words; a documented finding reproduced reads "as expected"."""
    if not claims:
        return "no claim"
    counted = {c["verdict"] if c.get("expected", "pass") == "pass" else
               ("pass" if c["verdict"] == c["expected"] else "inconclusive" if c["verdict"] == "pass" else c["verdict"])
               for c in claims}
    findings = sum(c.get("expected", "pass") != "pass" and c["verdict"] == c["expected"] for c in claims)
    if "fail" in counted:
        return "a claim FAILS"
    if counted != {"pass"}:
        return "inconclusive"
    return "claims pass" + (f", {findings} finding as expected" if findings else "")


_SYMBOL = {"IGR": "h", "SGD": "ε", "RMS": "η"}


def _log_axes(ax):
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _series_label(name, claim, steps, errors):
    """The legend entry: the fitted slope (the outcome of a slope test goes to the title, not the legend)."""
    if claim is not None and claim["measured"] is not None:
        slope = claim["measured"]
    else:  # an unclaimed probe: fit here, from the record's points
        ok = np.isfinite(errors) & (errors > 0)
        if ok.sum() < 3:
            return name
        slope = fit_loglog_slope(steps[ok], errors[ok]).slope
    return f"{name}: slope {slope:.2f}"


def _plot_slopes(ax, rows, claims, panel):
    _log_axes(ax)
    symbol = _SYMBOL.get(panel[:3], "s")
    by_name = {c["name"]: c for c in claims}
    lowest = {}  # predicted order -> (steps, errors) of the lowest series with that order, for the guide
    for i, name in enumerate(dict.fromkeys(r["series"] for r in rows)):
        pts = [r for r in rows if r["series"] == name]
        s = np.array([r["step"] for r in pts])
        e = np.array([np.nan if r["error"] is None else r["error"] for r in pts])
        window = np.array([r["in_window"] for r in pts], bool)
        label = _series_label(name, by_name.get(pts[0].get("claim")), s, e)
        mark = MARKERS[i % len(MARKERS)]  # one marker per series: apart without colour
        ax.plot(s, e, "-", color=f"C{i}", lw=1.2)
        ax.plot(s[window], e[window], mark, color=f"C{i}", ms=4, label=label)
        ax.plot(s[~window], e[~window], mark, mfc="none", color=f"C{i}", ms=4)
        order = pts[0]["predicted_order"]
        if order is not None and np.isfinite(e[-1]) and (order not in lowest or e[-1] < lowest[order][1][-1]):
            lowest[order] = (s, e)
    for order, (s, e) in lowest.items():  # guide slopes, a factor 3 below the data
        guide = e[-1] / 3 * (s / s[-1]) ** order
        ax.plot(s, guide, "--", color="0.55", lw=0.9)
        mid = len(s) // 2
        ax.annotate(f"∝{symbol}$^{order}$", (s[mid], guide[mid]), fontsize=7, color="0.4", xytext=(0, -11),
                    textcoords="offset points")
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * (high / low) ** 0.3)  # headroom for the legend
    ax.set_xlabel(f"step size {symbol}")
    ax.set_ylabel("error ‖θ_discrete − θ_flow‖")
    ax.legend(fontsize=6.5, loc="upper left")


def _plot_identity(ax, rows):
    _log_axes(ax)
    gd_rows = [r for r in rows if r["series"] == "GD"]
    h = np.array([r["step"] for r in gd_rows])
    ax.plot(h, [r["predicted"] for r in gd_rows], "-", color="C0", lw=1.2,
            label="GD change of a²−b², predicted ∏(1 − h²r²x²)")
    ax.plot(h, [r["measured"] for r in gd_rows], "o", color="C0", ms=5, label="GD change of a²−b², measured")
    ax.plot(h, [max(r["max_step_defect"], 1e-18) for r in gd_rows], "x", color="C2", ms=6,
            label="max one-step defect of the identity")
    flow = next(r for r in rows if r["series"] == "gradient flow")
    ax.axhline(max(flow["drift"], 1e-18), color="C3", ls="--", lw=1,
               label=f"gradient-flow drift of a²−b² ({flow['drift']:.1e})")
    ax.axhline(IDENTITY_TOL, color="0.55", ls=":", lw=1, label="tolerance 64 ulp")
    ax.set_xlabel("step size h")
    ax.set_ylabel("|Δ(a² − b²)| / (a0² + b0²)")
    ax.legend(fontsize=6.5, loc="center right")


def _plot_partitions(ax, rows):
    _log_axes(ax)
    B = np.array([r["batch_size"] for r in rows])
    ax.plot(B, [r["formula"] for r in rows], "-", color="C0", lw=1.2, label="((N−B)/(N−1)) (ε/4B) Γ")
    ax.plot(B, [r["enumerated"] for r in rows], "o", color="C0", ms=6, label="mean over all partitions")
    ax.plot(B, [r["with_replacement"] for r in rows], ":", color="0.45", lw=1, label="(ε/4B) Γ (with replacement)")
    ax.set_xticks(B, [str(b) for b in B])
    ax.set_xlabel(f"batch size B (N = {rows[0]['n_examples']})")
    ax.set_ylabel(r"$(\epsilon/4m)\,\Sigma_k\|\nabla\hat C_k - \nabla C\|^2$")
    ax.legend(fontsize=7, loc="lower left")
