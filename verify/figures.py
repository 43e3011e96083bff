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
from matplotlib.figure import Figure

STYLES = ("screen", "paper")
FORMATS = ("png", "pdf", "svg")
SINGLE_COLUMN_IN, DOUBLE_COLUMN_IN = 3.3, 6.9
_PAPER_RC = {"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7,
             "xtick.labelsize": 7, "ytick.labelsize": 7, "lines.linewidth": 1.1, "lines.markersize": 3.5,
             "legend.frameon": False}
_state = {"style": "screen", "formats": ("png", "pdf")}

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


def new_figure(n_panels: int, *, rows: int = 1, width_per_panel: float = 4.2, height: float = 3.6, sharey=False):
    """A figure of ``rows`` × ``n_panels`` axes; returns ``(fig, axes)``, the axes flat, row by row."""
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
    paths = []
    for fmt in _state["formats"]:
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, dpi=300 if paper else 150)
        paths.append(path)
    return paths


_VERDICT_WORDS = re.compile(r"\s*[(\[—–-]*\s*(verdict|quick run|full run)\b[^)\]\n]*[)\]]?", re.IGNORECASE)


def _paper_finish(fig, stem: Path) -> None:
    caption = []
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text():
        caption.append(sup.get_text())
        sup.set_visible(False)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.has_data()]
    for i, ax in enumerate(panels):
        title = ax.get_title()
        if _VERDICT_WORDS.search(title):
            caption.append(f"({chr(97 + i)}) {title}")
            ax.set_title(_VERDICT_WORDS.sub("", title))
        if len(panels) > 1:
            ax.text(-0.02, 1.02, chr(97 + i), transform=ax.transAxes, fontweight="bold", ha="right", va="bottom")
    if caption:
        stem.with_suffix(".caption.txt").write_text("\n".join(caption) + "\n")
