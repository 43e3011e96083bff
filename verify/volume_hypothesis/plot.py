"""The figures of ``volume_hypothesis``: accuracy vs n per method and bias setting, the bits to fit, accuracy vs
normalized-loss bin, and the kink/slab decision shapes (``<stem>_kink_slab``)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from verify.figures import new_figure, save_figure
from verify.volume_hypothesis.claims import pooled_mean as _pooled_mean, _select
from verify.volume_hypothesis.sweep import _unbinned


STYLE = {"gnc": ("C0", "o", "G&C"), "sgd_chiang": ("C1", "s", "SGD (Chiang protocol)"),
         "sgd_peleg_hein": ("C2", "D", "SGD (Peleg & Hein protocol)"), "pattern_search": ("C4", "^", "pattern search"),
         "random_greedy": ("C5", "v", "random greedy"), "sgd_poisoned": ("C3", "X", "poisoned SGD")}


def _curve(rows, method, bias, ns):
    m, lo, hi = [], [], []
    for n in ns:
        mean, se, k = _pooled_mean(_select(rows, method=method, n=n, bias=bias))
        m.append(mean)
        lo.append(mean - 1.96 * se)
        hi.append(mean + 1.96 * se)
    return np.array(m), np.array(lo), np.array(hi)


def plot(record: dict, stem: Path) -> list[Path]:
    rows, p = record["points"], record["params"]
    if p.get("table") == 4:
        return plot_table4(record, stem)
    if p.get("table") in (2, 3, 6):
        return plot_lenet_table(record, stem)
    ns = sorted(int(n) for n in p["n_train"])
    biases = list(p["bias"])
    fig, axes = new_figure(len(biases) + 2, height=3.8, width_per_panel=4.3)
    for ax, bias in zip(axes, biases):
        for method, (color, marker, label) in STYLE.items():
            m, lo, hi = _curve(rows, method, bias, ns)
            if np.all(np.isnan(m)):
                continue
            ax.plot(ns, m, marker=marker, color=color, label=label)
            ax.fill_between(ns, lo, hi, color=color, alpha=0.18)
        ax.axhline(0.5, color="gray", ls=":", lw=1, label="chance")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.set_xlabel("training-set size n")
        ax.set_ylabel("test accuracy (mean, 95% CI)")
        setting = {True: " (Chiang et al.'s setting)", False: " (Peleg & Hein's setting)"}[bool(bias)]
        ax.set_title(f"{p['arch'].upper()} width {p['widths'][0]}, {p['prior']} prior, "
                     f"{'with' if bias else 'no'} biases{setting if p.get('sgd_setting') == 'paper' else ''}",
                     fontsize=8)
        ax.legend(fontsize=7, loc="best")
    ax = axes[len(biases)]
    for bias, color in zip(biases, ("C0", "C3")):
        b = [_pooled_mean(_select(rows, method="gnc", n=n, bias=bias), "bits", "bits_se") for n in ns]
        ax.errorbar(ns, [v[0] for v in b], yerr=[1.96 * v[1] for v in b], marker="o", color=color, capsize=3,
                    label=f"G&C true labels (bias={bias})")
    ctrl = [r for r in rows if r.get("method") == "gnc_random_labels" and _unbinned(r)]
    if ctrl:
        cn = sorted({r["n"] for r in ctrl})
        mp = [np.mean([r["p_hat"] for r in ctrl if r["n"] == n]) for n in cn]
        ax.plot(cn, [-math.log2(v) if v > 0 else np.nan for v in mp], "x", ms=9, color="k",
                label="random labels: −log₂ mean p̂")
        ax.plot(cn, [math.log2(math.comb(n, n // 2)) for n in cn], "k_", ms=14, label="bound log₂ C(n, n/2)")
    ax.plot(ns, ns, "--", color="gray", label="n bits (1 bit/sample)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("training-set size n")
    ax.set_ylabel("bits = −log₂ P(fit)")
    ax.set_title("G&C: bits to fit the training set", fontsize=9)
    ax.legend(fontsize=7)
    _plot_loss_bins(axes[-1], rows, p, ns, biases[0])
    paths = save_figure(fig, stem)
    shapes = [r for r in rows if r.get("kind") in ("kink", "slab")]
    if shapes:
        paths += _plot_shapes(shapes, Path(str(stem) + "_kink_slab"))
    return paths


def _plot_loss_bins(ax, rows, p, ns, bias):
    """Accuracy vs normalized-loss bin (Chiang et al.'s layout): with ``loss_bins``, the mean test accuracy of
    the G&C models accepted in each bin (pooled over cells); without, the accepted models of each n binned by
    their normalized loss at the quintiles."""
    for i, n in enumerate(ns):
        centers, means, ses = [], [], []
        if p["loss_bins"]:
            for lo, hi in zip(p["loss_bins"], p["loss_bins"][1:]):
                sel = [r for r in _select(rows, binned=True, method="gnc", n=n, bias=bias)
                       if r["loss_bin"][0] == lo and r["loss_bin"][1] == hi]
                m, se, k = _pooled_mean(sel)
                if k:
                    centers.append(0.5 * (lo + hi))
                    means.append(m)
                    ses.append(se)
        else:
            sel = _select(rows, method="gnc", n=n, bias=bias)
            L = np.concatenate([np.asarray(r["normalized_losses"] or [], float) for r in sel]) if sel else np.zeros(0)
            A = np.concatenate([np.asarray(r["test_accs"], float)[:len(r["normalized_losses"] or [])] for r in sel]) \
                if sel else np.zeros(0)
            if L.size < 10:
                continue
            e = np.quantile(L, np.linspace(0, 1, 6))
            idx = np.clip(np.searchsorted(e, L, side="left") - 1, 0, len(e) - 2)
            for b in range(len(e) - 1):
                a = A[idx == b]
                if a.size >= 2:
                    centers.append(0.5 * (e[b] + e[b + 1]))
                    means.append(a.mean())
                    ses.append(a.std(ddof=1) / math.sqrt(a.size))
        if centers:
            ax.errorbar(centers, means, yerr=1.96 * np.asarray(ses), marker="o", capsize=3, color=f"C{i}",
                        label=f"n = {n}")
    ax.set_xlabel(f"normalized training CE ({p['normalization']})")
    ax.set_ylabel("test accuracy of accepted G&C models")
    ax.set_title("accuracy vs normalized-loss bin" + (" (acceptance bins)" if p["loss_bins"] else " (quintiles)"),
                 fontsize=9)
    ax.legend(fontsize=7)


def _plot_shapes(shapes, stem: Path) -> list[Path]:
    kinks = [r for r in shapes if r["kind"] == "kink"]
    slabs = [r for r in shapes if r["kind"] == "slab"]
    fig, axes = new_figure(len(kinks) + 1, height=3.6, width_per_panel=4.0)
    for ax, r in zip(axes, kinks):
        if r.get("class1_fraction"):
            g = r["grid"]
            frac = np.asarray(r["class1_fraction"]).reshape(g, g)
            ext = [*r["grid_x"], *r["grid_y"]]
            im = ax.imshow(frac, origin="lower", extent=ext, aspect="auto", cmap="coolwarm", vmin=0, vmax=1)
            xs = np.linspace(*r["grid_x"], g)
            ys = np.linspace(*r["grid_y"], g)
            for ex in r["examples"]:
                ax.contour(xs, ys, np.asarray(ex).reshape(g, g), levels=[0.5], colors="k", linewidths=0.6, alpha=0.6)
            fig.colorbar(im, ax=ax, label="fraction of solutions predicting class 1")
        else:
            ax.text(0.5, 0.5, f"no solution in {r['draws']} draws", transform=ax.transAxes, ha="center")
        X, y = np.asarray(r["X_train"]), np.asarray(r["y_train"])
        ax.scatter(X[:, 0], X[:, 1], c=np.where(y == 1, "tab:red", "tab:blue"), edgecolors="k", s=30, zorder=3)
        ax.set_title(f"kink, {STYLE.get(r['method'], (0, 0, r['method']))[2]} ({r['models']} solutions, n = {r['n']})",
                     fontsize=9)
        ax.set_xlabel("x₁")
        ax.set_ylabel("x₂")
    ax = axes[-1]
    bins = np.linspace(0, 1, 11)
    for r in slabs:
        f = np.asarray(r["linear_fraction"], float)
        color, _, label = STYLE.get(r["method"], ("C7", "o", r["method"]))
        if f.size == 0:
            continue
        lin, zig = np.mean(f >= 0.9), np.mean(f <= 0.1)
        ax.hist(f, bins=bins, weights=np.full(f.size, 1 / f.size), histtype="step", lw=2, color=color,
                label=f"{label}\n{f.size} solutions: {100 * lin:.0f}% linear, {100 * zig:.0f}% zig-zag")
    ax.axvspan(0.9, 1.0, color="C2", alpha=0.1)
    ax.axvspan(0.0, 0.1, color="C3", alpha=0.1)
    ax.set_xlabel("share of probes on the x = 0 side\n(1: linear, 0: zig-zag)")
    ax.set_ylabel("fraction of solutions")
    ax.set_title(f"slab (n = {slabs[0]['n'] if slabs else '?'}): linear vs zig-zag solutions", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    return save_figure(fig, stem)


# ----------------------------------------------------------------------------------------------------
T4_STYLE = {"t4_sgd": ("C1", "s", "SGD (Table 4 settings)"), "t4_pattern_search": ("C4", "^", "pattern search"),
            "t4_random_greedy": ("C5", "v", "random greedy")}


def plot_table4(record: dict, stem) -> list:
    """Test accuracy vs n of the three optimizers on ten classes (mean over cells, 95 % normal band)."""
    rows, p = record["points"], record["params"]
    ns = sorted(int(n) for n in p["t4_n"])
    fig, axes = new_figure(1, height=3.8, width_per_panel=5.0)
    ax = axes[0]
    for method, (color, marker, name) in T4_STYLE.items():
        stats = [_pooled_mean([r for r in rows if r.get("method") == method and r.get("n") == n]) for n in ns]
        m = np.array([s[0] for s in stats])
        se = np.array([s[1] for s in stats])
        if np.all(np.isnan(m)):
            continue
        ax.plot(ns, m, marker=marker, color=color, label=name)
        ax.fill_between(ns, m - 1.96 * se, m + 1.96 * se, color=color, alpha=0.18)
    ax.axhline(0.1, color="gray", ls=":", lw=1, label="chance")
    ax.set_xlabel("training-set size n (ten classes)")
    ax.set_ylabel("test accuracy (mean over cells, 95% band)")
    data = p["dataset"] if p["dataset"] != "digits" else f"8x8 digits, {p['t4_arch']} width {p['t4_width']}"
    ax.set_title(f"Chiang et al. Table 4 setting: {data}", fontsize=8)
    ax.legend(fontsize=7, loc="best")
    return save_figure(fig, stem)


def plot_lenet_table(record: dict, stem) -> list:
    """``table=2/3``: test accuracy vs n of LeNet G&C and SGD (Chiang's config), mean over cells, 95 % band."""
    rows, p = record["points"], record["params"]
    ns = sorted(int(n) for n in p["t23_n"])
    fig, axes = new_figure(1, height=3.8, width_per_panel=5.0)
    ax = axes[0]
    widths = p["t6_widths"] if p["table"] == 6 else [p["lenet_width"]]
    for wi, w in enumerate(widths):
        sel = [r for r in rows if r.get("width") == w]
        for method in ("gnc", "sgd_chiang"):
            color, marker, name = STYLE[method]
            m, lo, hi = _curve(sel, method, True, ns)
            if np.all(np.isnan(m)):
                continue
            name = (name if method == "gnc" else "SGD (Chiang's config)") + (f", w = {w:g}" if len(widths) > 1 else "")
            ax.plot(ns, m, marker=marker, color=color, ls=("-", "--", ":", "-.")[wi % 4], label=name)
            ax.fill_between(ns, lo, hi, color=color, alpha=0.12)
    ax.axhline(0.5, color="gray", ls=":", lw=1, label="chance")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("training-set size n (two classes)")
    ax.set_ylabel("test accuracy (mean over cells, 95% band)")
    data = p["dataset"] if p["dataset"] != "digits" else "digits upsampled to 28x28"
    nets = "LeNet-" + "/".join(f"{w:g}" for w in widths)
    ax.set_title(f"Chiang et al. Table {p['table']} setting: {nets}, {data}", fontsize=8)
    ax.legend(fontsize=7, loc="best")
    return save_figure(fig, stem)
