"""Shared figure conventions: one style, PNG and PDF side by side."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def new_figure(n_panels: int, *, rows: int = 1, width_per_panel: float = 4.2, height: float = 3.6, sharey=False):
    """A figure of ``rows`` × ``n_panels`` axes; returns the flat list of axes, row by row."""
    fig, axes = plt.subplots(rows, n_panels, figsize=(width_per_panel * n_panels, height * rows), squeeze=False,
                             sharey=sharey, constrained_layout=True)
    return fig, [ax for row in axes for ax in row]


def save_figure(fig, stem: Path) -> list[Path]:
    """Write ``stem.png`` (150 dpi) and ``stem.pdf``; return both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths
