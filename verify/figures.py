"""Shared figure conventions: one style, PNG and PDF side by side."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def new_figure(n_panels: int, *, width_per_panel: float = 4.2, height: float = 3.6, sharey=False):
    fig, axes = plt.subplots(1, n_panels, figsize=(width_per_panel * n_panels, height), squeeze=False,
                             sharey=sharey, constrained_layout=True)
    return fig, list(axes[0])


def save_figure(fig, stem: Path) -> list[Path]:
    """Write ``stem.png`` (150 dpi) and ``stem.pdf``; return both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths
