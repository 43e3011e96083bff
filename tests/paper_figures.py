"""One assertion helper for paper-style figures (issue: paper-ready figures), used by every check's tests:
``assert_paper_figures(plot, record, tmp_path)`` draws the record in ``paper`` style and checks what a journal
asks of a figure."""
from __future__ import annotations

import re

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import ErrorbarContainer
from matplotlib.lines import Line2D
from matplotlib.text import Text

from verify import figures

VERDICT_WORDS = re.compile(r"\b(pass|fail|inconclusive|vacuous|verdict|quick run|full run)\b", re.IGNORECASE)
RAW_NAMES = re.compile(r"\b(leaky_relu|pattern_search|random_greedy|heavy_ball|sgd_chiang|sgd_peleg_hein)\b")


def _texts(fig):
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def assert_paper_figures(plot, record: dict, tmp_path, min_figures: int = 1) -> list:
    """Draw ``record`` with ``plot(record, stem)`` in paper style and check each figure: a column width
    (3.3 or 6.9 in) and at most 9.5 in tall; text 5–9 pt; no panel collapsed by the layout; every legend off
    its panel's data area; titles without verdicts or run modes; display labels, not identifiers; legend
    entries told apart by marker or line style, not by colour alone. Returns the figures."""
    with figures.capture() as figs, figures.style("paper", formats=("png",)):
        plot(record, tmp_path / "paper")
    assert len(figs) >= min_figures, f"{len(figs)} figure(s) drawn"
    for fig in figs:
        w, h = fig.get_size_inches()
        assert min(abs(w - figures.SINGLE_COLUMN_IN), abs(w - figures.DOUBLE_COLUMN_IN)) < 0.01, f"width {w} in"
        assert h <= 9.5 + 1e-9, f"height {h} in"
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        for t in _texts(fig):
            assert 5 <= t.get_fontsize() <= 9, f"{t.get_text()!r} at {t.get_fontsize()} pt"
            assert not RAW_NAMES.search(t.get_text()), f"identifier in a label: {t.get_text()!r}"
        for ax in figures.paper_panels(fig):
            assert ax.bbox.width > 40 and ax.bbox.height > 40, f"panel {ax.get_title()!r} collapsed"
            assert not VERDICT_WORDS.search(ax.get_title()), f"verdict in a title: {ax.get_title()!r}"
            legend = ax.get_legend()
            if legend is None:
                continue
            box = legend.get_window_extent(renderer)
            assert box.y1 <= ax.bbox.y0 + 1 or box.x0 >= ax.bbox.x1 - 1, f"legend over the data of {ax.get_title()!r}"
            drawn, labels = ax.get_legend_handles_labels()
            handles = drawn if labels == [t.get_text() for t in legend.get_texts()] else legend.legend_handles
            handles = [h.lines[0] if isinstance(h, ErrorbarContainer) else h for h in handles]
            lines = [h for h in handles if isinstance(h, Line2D)]
            looks = [(str(h.get_marker()), str(h.get_linestyle()), str(h.get_markerfacecolor()) == "none") for h in lines]
            assert len(set(looks)) == len(looks), \
                f"legend entries of {ax.get_title()!r} differ by colour only: {[t.get_text() for t in legend.get_texts()]}"
    return figs
