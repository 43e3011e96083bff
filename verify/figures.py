"""Shared figure conventions: two styles, one label per activation and method, files side by side.

Figures are drawn on :class:`matplotlib.figure.Figure` objects, never through pyplot's global state, so
importing a check leaves the matplotlib backend alone (inline figures in notebooks keep working).

- ``screen`` (default): roomy panels, titles, the look of the check's quick figures;
- ``paper``: single-column (3.3 in) or double-column (6.9 in) width, 8 pt text, panel letters, no suptitle
  (its words, verdicts included, go to ``<stem>.caption.txt`` for the caption).

``with style("paper"): module.plot(record, stem)`` selects a style for the figures drawn inside.
"""
from __future__ import annotations

import contextlib
import re
from pathlib import Path

import matplotlib
from matplotlib import transforms
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

STYLES = ("screen", "paper")
FORMATS = ("png", "pdf", "svg")
SINGLE_COLUMN_IN, DOUBLE_COLUMN_IN = 3.3, 6.9
_PAPER_RC = {"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7,
             "xtick.labelsize": 7, "ytick.labelsize": 7, "lines.linewidth": 1.1, "lines.markersize": 3.5,
             "legend.frameon": False}
_state = {"style": "screen", "formats": ("png", "pdf"), "captured": None}

# One label per activation, method and optimizer, in every check's figures and tables.
LABELS = {"linear": "linear", "relu": "ReLU", "leaky_relu": "leaky ReLU", "tanh": "tanh", "erf": "erf",
          "gnc": "G&C", "sgd": "SGD", "gd": "GD", "adam": "Adam", "rmsprop": "RMSProp", "adagrad": "AdaGrad",
          "heavy_ball": "heavy ball", "momentum": "heavy ball", "pattern_search": "pattern search",
          "random_greedy": "random greedy", "nngp": "NNGP limit"}
# Marker and line style per series index: curves stay apart in greyscale print, not by colour alone.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1)))


def label(name: str) -> str:
    """The display label of an activation, method or optimizer (``leaky_relu`` → "leaky ReLU")."""
    base, _, rest = str(name).partition(":")
    return LABELS.get(base, base.replace("_", " ")) + (f" {rest}" if rest else "")


def series_style(i: int) -> dict:
    """Keyword arguments that tell series ``i`` apart without colour (marker and line style)."""
    return {"marker": MARKERS[i % len(MARKERS)], "linestyle": LINESTYLES[i % len(LINESTYLES)]}


def errorbar(ax, x, y, yerr, *, label=None, color=None, marker="o", linestyle="-", **kw) -> None:
    """Error bars whose legend entry is a plain line with the series' marker and line style (and marker size and
    face), not an error-bar glyph."""
    ax.errorbar(x, y, yerr=yerr, color=color, marker=marker, linestyle=linestyle, **kw)
    if label is not None:
        ax.plot([], [], color=color, marker=marker, linestyle=linestyle, label=label,
                **{k: v for k, v in kw.items() if k in ("ms", "markersize", "mfc", "markerfacecolor")})


@contextlib.contextmanager
def style(name: str = "screen", formats=("png", "pdf")):
    """Draw the figures made inside in style ``name`` and save them in ``formats``."""
    if name not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {name!r}")
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"formats must be among {FORMATS}, got {list(formats)}")
    old = dict(_state)
    _state.update(style=name, formats=tuple(formats))
    try:
        with matplotlib.rc_context(_PAPER_RC if name == "paper" else {}):
            yield
    finally:
        _state.update(old)


def current_style() -> str:
    return _state["style"]


@contextlib.contextmanager
def capture():
    """Collect the figures saved inside (for tests that inspect what a check drew): yields a list."""
    old, _state["captured"] = _state["captured"], []
    try:
        yield _state["captured"]
    finally:
        _state["captured"] = old


def new_figure(n_panels: int, *, rows: int = 1, width_per_panel: float = 4.2, height: float = 3.6, sharey=False,
               paper_cols: int | None = None):
    """A figure of ``rows`` × ``n_panels`` axes; returns ``(fig, axes)``, the axes flat, row by row.

    In ``paper`` style the same axes, in the same order, are laid out ``paper_cols`` to a row (default: two
    for a one-row figure, else ``n_panels``) across the double column (one column: the single column), with
    room under each panel for its legend; unused grid cells are hidden."""
    total = rows * n_panels
    if _state["style"] == "paper":
        cols = paper_cols or (min(2, total) if rows == 1 else n_panels)
        prows = -(-total // cols)
        width = SINGLE_COLUMN_IN if cols == 1 else DOUBLE_COLUMN_IN
        panel_h = min(2.6, height / width_per_panel * width / cols) + 0.9  # + the legend under it
        fig = Figure(figsize=(width, min(9.5, prows * panel_h)), layout="constrained")
        grid = fig.subplots(prows, cols, squeeze=False, sharey=sharey)
        flat = [ax for row in grid for ax in row]
        for ax in flat[total:]:
            ax.set_visible(False)
        return fig, flat[:total]
    fig = subplots_figure(rows, n_panels, (width_per_panel * n_panels, height * rows))
    axes = fig.subplots(rows, n_panels, squeeze=False, sharey=sharey)
    return fig, [ax for row in axes for ax in row]


def subplots_figure(rows: int, cols: int, screen_size: tuple[float, float]) -> Figure:
    """An empty figure sized for the current style (``screen_size`` in inches on screen; in ``paper`` the
    column width with the same aspect per panel, capped at 9 in tall)."""
    if _state["style"] == "paper":
        width = SINGLE_COLUMN_IN if cols == 1 else DOUBLE_COLUMN_IN
        aspect = (screen_size[1] / rows) / (screen_size[0] / cols)
        size = (width, min(9.0, rows * aspect * width / cols + 0.3))
    else:
        size = screen_size
    return Figure(figsize=size, layout="constrained")


def save_figure(fig, stem: Path) -> list[Path]:
    """Write ``stem.<format>`` for each format of the style in force (PNG at 150 dpi on screen, 300 in paper);
    in ``paper`` style add panel letters and move the suptitle to ``stem.caption.txt``. Returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paper = _state["style"] == "paper"
    if paper:
        _paper_finish(fig, stem)
    if _state["captured"] is not None:
        _state["captured"].append(fig)
    paths = []
    for fmt in _state["formats"]:
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, dpi=300 if paper else 150)
        paths.append(path)
    return paths


_VERDICT_WORDS = re.compile(r"\s*[(\[—–-]*\s*(verdict|quick run|full run)\b[^)\]\n]*[)\]]?", re.IGNORECASE)
_PANEL_PREFIX = re.compile(r"^\s*\(?[a-h]\)\s+")  # "(a) title": paper style letters the panels itself


def _paper_finish(fig, stem: Path) -> None:
    """Paper style, applied once to every figure whatever its module drew: the rc font sizes on every title,
    label, tick and legend; each legend moved below its panel, off the data; titles without verdicts or
    panel prefixes (their words go to the caption); bold panel letters."""
    caption = []
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text():
        caption.append(sup.get_text())
        sup.set_visible(False)
    rc = matplotlib.rcParams
    panels = paper_panels(fig)
    for i, ax in enumerate(panels):
        title = ax.get_title()
        if _VERDICT_WORDS.search(title):
            caption.append(f"({chr(97 + i)}) {title}")
            title = _VERDICT_WORDS.sub("", title)
        ax.set_title(_PANEL_PREFIX.sub("", title) if len(panels) > 1 else title, fontsize=rc["axes.titlesize"])
        ax.xaxis.label.set_fontsize(rc["axes.labelsize"])
        ax.yaxis.label.set_fontsize(rc["axes.labelsize"])
        ax.tick_params(labelsize=rc["xtick.labelsize"])
        for text in ax.texts:
            text.set_fontsize(min(text.get_fontsize(), rc["legend.fontsize"]))
        if len(panels) > 1:
            ax.text(-0.02, 1.02, chr(97 + i), transform=ax.transAxes, fontweight="bold", ha="right", va="bottom")
    renderer = FigureCanvasAgg(fig).get_renderer()  # sizes the tick labels and x labels the legends go under
    for ax in panels:
        _legend_below(ax, renderer)
    if caption:
        stem.with_suffix(".caption.txt").write_text("\n".join(caption) + "\n")


def paper_panels(fig) -> list:
    """The figure's panels: visible axes with data, not colour bars, one of each set of twinned axes."""
    out = []
    for ax in fig.axes:
        if not (ax.get_visible() and ax.has_data()) or hasattr(ax, "_colorbar"):
            continue
        if any(s in out for s in ax.get_shared_x_axes().get_siblings(ax) if s is not ax and s.bbox.bounds == ax.bbox.bounds):
            continue  # a twin (twinx) of a panel already listed
        out.append(ax)
    return out


def _legend_below(ax, renderer) -> None:
    """Redraw the panel's legend under its tick labels and x label (constrained layout makes room), in one or
    two columns: off the data, whatever the panel's height."""
    old = ax.get_legend()
    if old is None:
        return
    labels = [t.get_text() for t in old.get_texts()]
    drawn, drawn_labels = ax.get_legend_handles_labels()  # the artists themselves (error bars keep their markers)
    handles = drawn if drawn_labels == labels else old.legend_handles
    old.remove()
    fig = ax.get_figure()
    axis_box = ax.xaxis.get_tightbbox(renderer)
    drop = (ax.bbox.y0 - axis_box.y0) * 72 / fig.dpi + 2 if axis_box is not None else 2.0  # points
    anchor = transforms.offset_copy(ax.transAxes, fig=fig, y=-drop, units="points")
    size = matplotlib.rcParams["legend.fontsize"]
    entry = max(map(len, labels), default=0) * 0.55 * size + 3.5 * size  # points: text and handle, roughly
    two = len(labels) > 3 and 2 * entry < ax.bbox.width * 72 / fig.dpi
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=anchor, borderaxespad=0,
              ncol=2 if two else 1, fontsize=size, frameon=False, handlelength=2.2)
