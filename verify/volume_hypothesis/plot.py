"""The figures of ``volume_hypothesis``: accuracy vs n per method and bias setting, the bits to fit, accuracy vs
normalized-loss bin, and the kink/slab decision shapes (``<stem>_kink_slab``); for the presets of Chiang et al.'s
tables, accuracy vs n of Table 4's optimizers (:func:`plot_table4`) and of the LeNet tables' methods
(:func:`plot_lenet_table`, with accuracy per normalized-loss bin when the rows carry bins)."""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from verify.figures import LINESTYLES, errorbar, label, new_figure, save_figure, series_style
from verify.volume_hypothesis.claims import pooled_mean as _pooled_mean, _select
from verify.volume_hypothesis.sweep import _unbinned


STYLE = {"gnc": ("C0", "o", label("gnc")), "sgd_chiang": ("C1", "s", f"{label('sgd')} (Chiang protocol)"),
         "sgd_peleg_hein": ("C2", "D", f"{label('sgd')} (Peleg & Hein protocol)"),
         "pattern_search": ("C4", "^", label("pattern_search")), "random_greedy": ("C5", "v", label("random_greedy")),
         "sgd_poisoned": ("C3", "X", f"poisoned {label('sgd')}")}
CHANCE = {"color": "gray", "ls": ":", "lw": 1}  # reference lines: no marker, dotted


_errorbar = functools.partial(errorbar, capsize=3)


def _curve(rows, method, bias, ns):
    """(mean, SE, cells) of ``method``'s test accuracy at each n, pooled over the cells."""
    return [_pooled_mean(_select(rows, method=method, n=n, bias=bias)) for n in ns]


def _mean_band(ax, ns, stats, *, alpha=0.18, **line) -> None:
    """A method's mean accuracy vs n with its 95 % normal band (``stats`` from :func:`_curve`); nothing when
    every mean is NaN (no usable cell)."""
    m = np.array([s[0] for s in stats])
    se = np.array([s[1] for s in stats])
    if np.all(np.isnan(m)):
        return
    ax.plot(ns, m, **line)
    ax.fill_between(ns, m - 1.96 * se, m + 1.96 * se, color=line.get("color"), alpha=alpha)


def _n_axis(ax, ns, xlabel, ylabel, *, log2=True) -> None:
    """The training-set size axis (log base 2, one tick per n) and the y label."""
    if log2:
        ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def plot(record: dict, stem: Path) -> list[Path]:
    rows, p = record["points"], record["params"]
    if p.get("table") == 4:
        return plot_table4(record, stem)
    if p.get("table"):
        return plot_lenet_table(record, stem)
    ns = sorted(int(n) for n in p["n_train"])
    biases = list(p["bias"])
    fig, axes = new_figure(len(biases) + 2, height=3.8, width_per_panel=4.3, paper_cols=2)
    for ax, bias in zip(axes, biases):
        for method, (color, marker, name) in STYLE.items():
            _mean_band(ax, ns, _curve(rows, method, bias, ns), marker=marker, color=color, label=name)
        ax.axhline(0.5, **CHANCE, label="chance")
        _n_axis(ax, ns, "training-set size n", "test accuracy (mean, 95% CI)")
        setting = {True: " (Chiang et al.'s setting)", False: " (Peleg & Hein's setting)"}[bool(bias)]
        ax.set_title(f"{'with' if bias else 'no'} biases{setting if p.get('sgd_setting') == 'paper' else ''}",
                     fontsize=8)
        ax.legend(fontsize=7, loc="best")
    ax = axes[len(biases)]
    for bi, bias in enumerate(biases):
        b = [_pooled_mean(_select(rows, method="gnc", n=n, bias=bias), "bits", "bits_se") for n in ns]
        _errorbar(ax, ns, [v[0] for v in b], [1.96 * v[1] for v in b], color=("C0", "C3")[bi % 2],
                  marker=("o", "s")[bi % 2], mfc=None if bi % 2 == 0 else "none", label=f"G&C, true labels, {'with' if bias else 'no'} biases")
    ctrl = [r for r in rows if r.get("method") == "gnc_random_labels" and _unbinned(r)]
    if ctrl:
        cn = sorted({r["n"] for r in ctrl})
        mp = [np.mean([r["p_hat"] for r in ctrl if r["n"] == n]) for n in cn]
        ax.plot(cn, [-math.log2(v) if v > 0 else np.nan for v in mp], "x", ms=9, color="k",
                label="random labels: −log₂ mean p̂")
        ax.plot(cn, [math.log2(math.comb(n, n // 2)) for n in cn], "k_", ms=14, label="bound log₂ C(n, n/2)")
    ax.plot(ns, ns, "--", color="gray", label="n bits (1 bit/sample)")
    _n_axis(ax, ns, "training-set size n", "bits = −log₂ P(fit)")
    ax.set_title("G&C: bits to fit the training set", fontsize=9)
    ax.legend(fontsize=7)
    _plot_loss_bins(axes[-1], rows, p, ns, biases[0])
    fig.suptitle(f"{p['arch'].upper()} width {p['widths'][0]}, {p['prior']} prior: test accuracy of G&C and the "
                 f"optimizers' minima vs n (mean over cells, 95% CI); G&C's bits to fit; G&C's accuracy per "
                 f"normalized-loss bin ({'with' if biases[0] else 'no'} biases)", fontsize=9)
    paths = save_figure(fig, stem)
    shapes = [r for r in rows if r.get("kind") in ("kink", "slab")]
    if shapes:
        paths += _plot_shapes(shapes, Path(str(stem) + "_kink_slab"))
    return paths


def _bin_means(rows, method, n, bias, edges):
    """(bin centres, pooled means, SEs) of the rows of ``method`` and ``n`` per acceptance bin of ``edges``."""
    centers, means, ses = [], [], []
    for lo, hi in zip(edges, edges[1:]):
        sel = [r for r in _select(rows, binned=True, method=method, n=n, **({} if bias is None else {"bias": bias}))
               if r["loss_bin"][0] == lo and r["loss_bin"][1] == hi]
        m, se, k = _pooled_mean(sel)
        if k:
            centers.append(0.5 * (lo + hi))
            means.append(m)
            ses.append(se)
    return centers, means, ses


def _plot_loss_bins(ax, rows, p, ns, bias):
    """Accuracy vs normalized-loss bin (Chiang et al.'s layout): with ``loss_bins``, the mean test accuracy of
    the G&C models accepted in each bin (pooled over cells); without, the accepted models of each n binned by
    their normalized loss at the quintiles."""
    for i, n in enumerate(ns):
        centers, means, ses = [], [], []
        if p["loss_bins"]:
            centers, means, ses = _bin_means(rows, "gnc", n, bias, p["loss_bins"])
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
            _errorbar(ax, centers, means, 1.96 * np.asarray(ses), color=f"C{i}", **series_style(i), label=f"n = {n}")
    ax.set_xlabel(f"normalized training CE ({p['normalization']})")
    ax.set_ylabel("test accuracy of accepted G&C models")
    ax.set_title("accuracy vs normalized-loss bin" + (" (acceptance bins)" if p["loss_bins"] else " (quintiles)"),
                 fontsize=9)
    ax.legend(fontsize=7)


def _plot_shapes(shapes, stem: Path) -> list[Path]:
    kinks = [r for r in shapes if r["kind"] == "kink"]
    slabs = [r for r in shapes if r["kind"] == "slab"]
    fig, axes = new_figure(len(kinks) + 1, height=3.6, width_per_panel=4.0, paper_cols=2)
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
            # the colour bar in an inset of its panel: part of the panel (no panel letter of its own), and
            # constrained layout makes room for it all the same
            fig.colorbar(im, cax=ax.inset_axes([1.04, 0.0, 0.05, 1.0]), label="share predicting class 1")
        else:
            ax.text(0.5, 0.5, f"no solution in {r['draws']} draws", transform=ax.transAxes, ha="center")
        X, y = np.asarray(r["X_train"]), np.asarray(r["y_train"])
        for cls, color, marker in ((0, "tab:blue", "o"), (1, "tab:red", "^")):
            ax.scatter(X[y == cls, 0], X[y == cls, 1], c=color, marker=marker, edgecolors="k", s=30, zorder=3)
        ax.set_title(f"kink, {STYLE.get(r['method'], (0, 0, label(r['method'])))[2]}\n{r['models']} solutions",
                     fontsize=9)
        ax.set_xlabel("x₁")
        ax.set_ylabel("x₂")
    ax = axes[-1]
    bins = np.linspace(0, 1, 11)
    for i, r in enumerate(slabs):
        f = np.asarray(r["linear_fraction"], float)
        color, _, name = STYLE.get(r["method"], ("C7", "o", label(r["method"])))
        if f.size == 0:
            continue
        lin, zig = np.mean(f >= 0.9), np.mean(f <= 0.1)
        ax.hist(f, bins=bins, weights=np.full(f.size, 1 / f.size), histtype="step", lw=2, color=color,
                ls=LINESTYLES[i % len(LINESTYLES)],
                label=f"{name}\n{f.size} solutions: {100 * lin:.0f}% linear, {100 * zig:.0f}% zig-zag")
    ax.axvspan(0.9, 1.0, color="C2", alpha=0.1)
    ax.axvspan(0.0, 0.1, color="C3", alpha=0.1)
    ax.set_xlabel("share of probes on the x = 0 side\n(1: linear, 0: zig-zag)")
    ax.set_ylabel("fraction of solutions")
    ax.set_title("slab: linear vs zig-zag solutions", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    n_kink = sorted({r["n"] for r in kinks})
    n_slab = sorted({r["n"] for r in slabs})
    fig.suptitle(f"Decision shapes of G&C's and SGD's solutions. Kink (n = {', '.join(map(str, n_kink)) or '?'}): "
                 "colour = share of solutions predicting class 1, black lines = decision boundaries of a few "
                 "solutions, training points: circles class 0, triangles class 1. Slab (n = "
                 f"{', '.join(map(str, n_slab)) or '?'}): share of each solution's probes on the x = 0 side "
                 "(shaded: linear ≥ 0.9, zig-zag ≤ 0.1)", fontsize=9, wrap=True)
    return save_figure(fig, stem)


# ----------------------------------------------------------------------------------------------------
T4_STYLE = {"t4_sgd": ("C1", "s", f"{label('sgd')} (Table 4 settings)"),
            "t4_pattern_search": ("C4", "^", label("pattern_search")),
            "t4_random_greedy": ("C5", "v", label("random_greedy"))}


def plot_table4(record: dict, stem) -> list:
    """Test accuracy vs n of the three optimizers on ten classes (mean over cells, 95 % normal band)."""
    rows, p = record["points"], record["params"]
    ns = sorted(int(n) for n in p["t4_n"])
    fig, axes = new_figure(1, height=3.8, width_per_panel=5.0, paper_cols=1)
    ax = axes[0]
    for method, (color, marker, name) in T4_STYLE.items():
        stats = [_pooled_mean([r for r in rows if r.get("method") == method and r.get("n") == n]) for n in ns]
        _mean_band(ax, ns, stats, marker=marker, color=color, label=name)
    ax.axhline(0.1, **CHANCE, label="chance")
    _n_axis(ax, ns, "training-set size n (ten classes)", "test accuracy (mean, 95% band)", log2=False)
    data = p["dataset"] if p["dataset"] != "digits" else f"8x8 digits, {p['t4_arch'].upper()} width {p['t4_width']}"
    ax.set_title("Chiang et al.'s Table 4 setting", fontsize=8)
    ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"Chiang et al.'s Table 4 setting on {data}: test accuracy vs n of SGD, pattern search and random "
                 "greedy (mean over cells, 95% normal band)", fontsize=9)
    return save_figure(fig, stem)


LENET_NAMES = {"gnc": label("gnc"), "sgd_chiang": label("sgd"), "sgd_poisoned": f"poisoned {label('sgd')}"}
LENET_STYLE = {"gnc": ("C0", "o"), "sgd_chiang": ("C1", "s"), "sgd_poisoned": ("C3", "X")}
TABLE_WHAT = {1: "SGD on clean vs poisoned training sets", 2: "G&C vs SGD", 3: "G&C vs SGD", 6: "G&C vs SGD over widths"}


def _lenet_style(method: str, i: int):
    """(colour, marker, name) of a LeNet-table method; methods without a fixed style by their index."""
    color, marker = LENET_STYLE.get(method, (f"C{(i + 4) % 10}", series_style(i + 3)["marker"]))
    return color, marker, LENET_NAMES.get(method, label(method))


def plot_lenet_table(record: dict, stem) -> list:
    """``table=1/2/3/6``: test accuracy vs n of each method in the rows (LeNet G&C, SGD with Chiang's config,
    poisoned SGD), mean over cells, 95 % band, one line style per LeNet width; with loss bins in the rows, one
    more panel per method: accuracy per normalized-loss bin, one series per n."""
    rows, p = record["points"], record["params"]
    ns = sorted(int(n) for n in p["t23_n"])
    points = [r for r in rows if r.get("kind") == "point"]
    methods = sorted({r["method"] for r in points}, key=lambda m: (list(LENET_STYLE).index(m)
                                                                   if m in LENET_STYLE else len(LENET_STYLE), m))
    binned = [m for m in methods if any(not _unbinned(r) for r in points if r["method"] == m)]
    widths = p["t6_widths"] if p["table"] == 6 else [p["lenet_width"]]
    fig, axes = new_figure(1 + len(binned), height=3.8, width_per_panel=5.0, paper_cols=1 if not binned else 2)
    ax = axes[0]
    for wi, w in enumerate(widths):
        sel = [r for r in points if r.get("width") == w]
        for mi, method in enumerate(methods):
            color, marker, name = _lenet_style(method, mi)
            name += f", w = {w:g}" if len(widths) > 1 else ""
            _mean_band(ax, ns, _curve(sel, method, True, ns), alpha=0.12, marker=marker, color=color,
                       ls=LINESTYLES[wi % len(LINESTYLES)], label=name)
    ax.axhline(0.5, **CHANCE, label="chance")
    _n_axis(ax, ns, "training-set size n (two classes)", "test accuracy (mean, 95% band)")
    data = p["dataset"] if p["dataset"] != "digits" else "digits upsampled to 28x28"
    nets = "LeNet-" + "/".join(f"{w:g}" for w in widths)
    ax.set_title(f"Table {p['table']} setting: {nets}", fontsize=8)
    ax.legend(fontsize=7, loc="best")
    bin_w = widths[-1]
    for ax, method in zip(axes[1:], binned):
        sel = [r for r in points if r.get("width") == bin_w]
        edges = sorted({e for r in sel if r["method"] == method and not _unbinned(r) for e in r["loss_bin"]})
        for i, n in enumerate(ns):
            centers, means, ses = _bin_means(sel, method, n, None, edges)
            if centers:
                _errorbar(ax, centers, means, 1.96 * np.asarray(ses), color=f"C{i}", **series_style(i),
                          label=f"n = {n}")
        ax.axhline(0.5, **CHANCE, label="chance")
        ax.set_xlabel("normalized training CE (bin centre)")
        ax.set_ylabel("test accuracy (mean, 95% CI)")
        ax.set_title(f"{_lenet_style(method, methods.index(method))[2]} per normalized-loss bin"
                     + (f", w = {bin_w:g}" if len(widths) > 1 else ""), fontsize=8)
        ax.legend(fontsize=7)
    if len(binned) > 1:  # the methods' bin panels on common axes, to be compared side by side
        for get, put in (("get_xlim", "set_xlim"), ("get_ylim", "set_ylim")):
            lims = np.array([getattr(a, get)() for a in axes[1:]])
            for a in axes[1:]:
                getattr(a, put)(lims[:, 0].min(), lims[:, 1].max())
    what = TABLE_WHAT.get(p["table"], ", ".join(_lenet_style(m, i)[2] for i, m in enumerate(methods)))
    fig.suptitle(f"Chiang et al.'s Table {p['table']} setting ({what}): {nets} on {data}; test accuracy vs n "
                 "(mean over cells, 95% band)" + ("; accuracy per normalized-loss bin" if binned else ""), fontsize=9)
    return save_figure(fig, stem)
