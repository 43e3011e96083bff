"""Presets of the paper's Figures 1–11 (placeholder while being written)."""
from __future__ import annotations

from verify.errors import require


def apply_preset(check: str, params: dict) -> dict:
    require(params.get("figure", "none") == "none", "figure presets: not yet available")
    return params
