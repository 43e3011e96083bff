"""The record every check writes (``DIR/<check>.json``) and the table it prints.

Record fields (spec README): ``check``, ``verdict`` (pass / fail / inconclusive), ``claims`` (a list of
``{name, predicted, measured, ci, rule, verdict}``), ``params``, ``seed``, ``versions``, ``runtime_s``,
``points`` (one object per computed point, with every number needed to redraw the figure).
"""
from __future__ import annotations

import json
import math
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

VERDICTS = ("pass", "fail", "inconclusive")


@dataclass
class Claim:
    name: str
    predicted: Any
    measured: Any
    ci: Any
    rule: str
    verdict: str

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def overall_verdict(claims: list[Claim]) -> str:
    """``fail`` if any claim fails, else ``inconclusive`` if any is inconclusive, else ``pass``."""
    verdicts = {c.verdict for c in claims}
    if not claims or "fail" in verdicts:
        return "fail" if claims else "inconclusive"
    return "inconclusive" if "inconclusive" in verdicts else "pass"


@dataclass
class Record:
    check: str
    claims: list[Claim]
    params: dict
    seed: int
    points: list[dict]
    runtime_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return overall_verdict(self.claims)

    def to_dict(self) -> dict:
        return {
            "check": self.check,
            "verdict": self.verdict,
            "claims": [asdict(c) for c in self.claims],
            "params": self.params,
            "seed": self.seed,
            "versions": versions(),
            "runtime_s": self.runtime_s,
            "notes": self.notes,
            "points": self.points,
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_jsonable(self.to_dict()), indent=1, allow_nan=True))


def load_record(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def versions() -> dict:
    import matplotlib
    import scipy
    import torch
    return {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__,
            "torch": torch.__version__, "matplotlib": matplotlib.__version__,
            "platform": platform.platform()}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else obj
    return obj


def format_claims(record: Record) -> str:
    """A fixed-width table of the claims, one line each, and the overall verdict."""
    rows = [("claim", "predicted", "measured", "CI", "verdict")]
    for c in record.claims:
        rows.append((c.name, _fmt(c.predicted), _fmt(c.measured), _fmt(c.ci), c.verdict.upper()))
    widths = [min(max(len(r[i]) for r in rows), 44) for i in range(5)]
    lines = ["  ".join(cell[:w].ljust(w) for cell, w in zip(r, widths)) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.append(f"verdict: {record.verdict.upper()}  ({record.check}, {record.runtime_s:.1f} s)")
    return "\n".join(lines)


def _fmt(v) -> str:
    if isinstance(v, (list, tuple, np.ndarray)):
        v = list(np.ravel(np.asarray(v, dtype=object)))
        inner = ", ".join(_fmt(x) for x in v[:3])
        return f"[{inner}{', ...' if len(v) > 3 else ''}]"
    if isinstance(v, (float, np.floating)):
        return f"{v:.4g}"
    return str(v)
