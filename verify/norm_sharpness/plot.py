"""The figure of ``norm_sharpness``: sharpness, norms and generalization error of the GD limit against η."""
from __future__ import annotations

import numpy as np

from verify.figures import new_figure, save_figure

# the runs without a limit, each its own marker (drawn above the data of the sharpness panel)
_MARK = {"2-cycle": ("s", "tab:orange"), "oscillating": ("D", "tab:purple"), "diverged": ("x", "tab:red"),
         "unresolved": ("$?$", "gray")}


def plot(record: dict, stem):
    """Three panels against η: the sharpness of the GD limit (with 2/η, S(β^GF), S_min and the runs without a
    limit), its norms, and its generalization error (with the two interpolators and the edge-of-stability
    prediction). Every series has its own marker or line style; η_c and η_max are the top axis' ticks."""
    pts = record["points"]
    th = next(p for p in pts if p["sweep"] == "theory")
    grid = sorted((p for p in pts if p["sweep"] == "grid"), key=lambda p: p["eta"])
    conv = [p for p in grid if p["outcome"] == "converged"]
    eta = np.array([p["eta"] for p in conv])
    ec, em, eb = th["eta_c"], th["eta_max"], th["eta_best_predicted"]
    fig, (ax_s, ax_n, ax_e) = new_figure(3, width_per_panel=4.4, height=3.7)
    all_eta = np.array([p["eta"] for p in grid])
    lo, hi = 0.0, 1.08 * max(all_eta.max(), em)

    ax_s.plot(eta, [p["sharpness"] for p in conv], "o", ms=3, color="tab:blue", label=r"$S(\beta^\eta)$ (converged)")
    e_line = np.linspace(max(0.5 * ec, 1e-9), hi, 300)
    ax_s.plot(e_line, 2 / e_line, "k--", lw=1, label=r"$2/\eta$")
    ax_s.axhline(th["sharpness_gf"], color="tab:green", lw=0.8, ls=":", label=r"$S(\beta^{GF})$")
    ax_s.axhline(th["sharpness_min"], color="tab:red", lw=0.8, ls="-.", label=r"$S_{\min}$")
    top = 1.25 * th["sharpness_gf"]
    for outcome, (m, c) in _MARK.items():
        sel = [p["eta"] for p in grid if p["outcome"] == outcome]
        if sel:
            ax_s.plot(sel, np.full(len(sel), 1.12 * th["sharpness_gf"]), marker=m, color=c, ms=4, ls="none",
                      label=f"{outcome} (no limit)")
    ax_s.set_ylim(0, top)
    ax_s.set_ylabel("sharpness $S = \\lambda_{\\max}(\\nabla^2 L)$")

    ax_n.plot(eta, [p["norm_beta_l1"] for p in conv], "o-", ms=3, lw=1, label=r"$\|\beta\|_1=\|w\|_2^2$")
    ax_n.plot(eta, [p["norm_w_l1"] for p in conv], "s-", ms=3, lw=1, label=r"$\|w\|_1$")
    ax_n.axhline(float(np.sum(th["beta_min_norm"])), color="gray", lw=0.8, ls=":", label=r"min $\|\beta\|_1$")
    ax_n.axvspan(0, ec, color="tab:blue", alpha=0.06, lw=0, label=r"tradeoff judged ($\eta<\eta_c$)")
    ax_n.set_ylabel("norm of the GD limit")

    err = np.array([p["gen_error"] for p in conv])
    ax_e.semilogy(eta, np.maximum(err, 1e-16), "o-", ms=3, lw=1, color="tab:blue", label=r"$E(\beta^\eta)$ (GD)")
    ax_e.axhline(th["gen_error_min_norm"], color="tab:green", ls="-", lw=1.4, label="min-norm interpolator")
    ax_e.axhline(th["gen_error_min_sharpness"], color="tab:red", ls=":", lw=1.4, label="min-sharpness interpolator")
    pred = [(p["eta"], p["beta_eos_2d"]) for p in grid if p["beta_eos_2d"] is not None
            and all(v is not None and np.isfinite(v) for v in p["beta_eos_2d"])]
    if pred:  # the 2-D edge-of-stability prediction S = 2/η on M
        bstar = np.asarray(record["params"]["beta_star"], float)
        pe = np.array([e for e, _ in pred])
        pb = np.array([b for _, b in pred], float)
        ax_n.plot(pe, pb.sum(axis=1), "k--", lw=0.8, label=r"EoS prediction $\|\beta\|_1$")
        ax_e.semilogy(pe, np.maximum(((pb - bstar) ** 2).sum(axis=1), 1e-16), "k--", lw=0.8,
                      label="EoS prediction (2-D)")
    if conv:
        arrow = dict(arrowstyle="->", lw=0.6)
        ax_e.annotate("min-norm end\n(smallest $\\eta$)", (eta[0], err[0]), xytext=(0.08, 0.55),
                      textcoords="axes fraction", fontsize=7, arrowprops=arrow)
        ax_e.annotate("min-sharpness end\n(largest converged $\\eta$)", (eta[-1], err[-1]), xytext=(0.8, 0.3),
                      textcoords="axes fraction", ha="center", fontsize=7, arrowprops=arrow)
    ax_e.axvline(eb, color="k", lw=0.8, ls="-.", label=r"$2/S(\beta^*)$")
    ax_e.set_ylabel(r"generalization error $\|\beta-\beta^*\|^2$")

    for ax in (ax_s, ax_n, ax_e):
        ax.axvline(ec, color="tab:gray", lw=0.8)
        ax.axvline(em, color="tab:red", lw=0.6, alpha=0.6)
        thresholds = ax.secondary_xaxis("top")  # named on the top axis, not in the legends
        thresholds.set_xticks([ec, em], [r"$\eta_c$", r"$\eta_{\max}=2/S_{\min}$"])
        ax.set_xlim(lo, hi)
        ax.set_xlabel(r"learning rate $\eta$")
        ax.legend(fontsize=6.5, loc="best")
    ax_s.set_title("sharpness vs $\\eta$", fontsize=9)
    ax_n.set_title("norms vs $\\eta$", fontsize=9)
    ax_e.set_title("generalization error vs $\\eta$", fontsize=9)
    fig.suptitle(f"Sharpness, norms and generalization error of the GD limit against the learning rate "
                 f"(verdict: {record['verdict']})", fontsize=10)
    return save_figure(fig, stem)
