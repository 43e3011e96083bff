"""The record every check writes (``DIR/<check>.json``) and the table it prints.

Record fields (spec README): ``check``, ``verdict``, ``claims`` (a list of ``{name, predicted, measured, ci,
rule, verdict, test}``), ``params``, ``seed``, ``versions``, ``runtime_s``, ``execution`` (executor, workers,
device), ``points`` (one object per computed point, with every number needed to redraw the figure).

Verdicts mean one thing everywhere (``sweeps_and_scale.md``):
- ``pass``: the data support the prediction at the stated level;
- ``fail``: the data contradict it at the stated level (e.g. a slope predicted < 0 whose CI lies above 0);
- ``inconclusive``: neither (a CI straddling the boundary, too few usable points);
- ``vacuous``: a bound that holds but says nothing (it lies above chance, what ignoring the data gives).
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

VERDICTS = ("pass", "fail", "inconclusive", "vacuous")


@dataclass
class Claim:
    name: str
    predicted: Any
    measured: Any
    ci: Any
    rule: str
    verdict: str
    test: str = ""  # the statistic against its threshold, in words: "T = 3.1 <= 16.3"

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def overall_verdict(claims: list[Claim]) -> str:
    """``fail`` if any claim fails, else ``inconclusive`` if any is inconclusive (or there are no claims),
    else ``vacuous`` if any is vacuous, else ``pass``."""
    verdicts = {c.verdict for c in claims}
    for v in ("fail", "inconclusive", "vacuous"):
        if v in verdicts:
            return v
    return "pass" if claims else "inconclusive"


@dataclass
class Record:
    check: str
    claims: list[Claim]
    params: dict
    seed: int
    points: list[dict]
    runtime_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    execution: dict = field(default_factory=dict)

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
            "execution": self.execution,
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


def jsonable(obj, *, keep_nan: bool = False):
    """``obj`` with numpy arrays/scalars as lists/Python numbers and NaN as None (what the record file stores),
    or NaN kept as a float with ``keep_nan`` (what the engine hands to ``judge``, in memory and in the
    checkpoint alike)."""
    return _jsonable(obj, keep_nan)


def _jsonable(obj, keep_nan: bool = False):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, keep_nan) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, keep_nan) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist(), keep_nan)
    if isinstance(obj, np.generic):
        return _jsonable(obj.item(), keep_nan)
    if isinstance(obj, float) and math.isnan(obj) and not keep_nan:
        return None
    return obj


def format_claims(record: Record) -> str:
    """A fixed-width table of the claims, one line each (the statistic against its threshold, in words), and the
    overall verdict."""
    rows = [("claim", "test", "verdict")]
    for c in record.claims:
        rows.append((c.name, statement(c), c.verdict.upper()))
    widths = [min(max(len(r[i]) for r in rows), w) for i, w in enumerate((60, 70, 12))]
    lines = ["  ".join(cell[:w].ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.append(f"verdict: {record.verdict.upper()}  ({record.check}, {record.runtime_s:.1f} s)")
    return "\n".join(lines)


def statement(c: Claim) -> str:
    """``c.test`` where the rule wrote one, else "measured M vs predicted P (CI [a, b])"."""
    if c.test:
        return c.test
    ci = f" (CI {_fmt(c.ci)})" if c.ci is not None else ""
    return f"measured {_fmt(c.measured)}{ci} vs predicted {_fmt(c.predicted)}"


def _fmt(v) -> str:
    if isinstance(v, (list, tuple, np.ndarray)):
        v = list(np.ravel(np.asarray(v, dtype=object)))
        inner = ", ".join(_fmt(x) for x in v[:3])
        return f"[{inner}{', ...' if len(v) > 3 else ''}]"
    if isinstance(v, (float, np.floating)):
        return f"{v:.4g}"
    return str(v)
