"""The record every check writes (``DIR/<check>.json``) and the table it prints.

Record fields: ``check``, ``verdict`` (the headline), ``verdicts`` (per tier), ``findings`` (published claims
the data contradict), ``claims`` (:class:`verify.verdicts.Claim` as dicts), ``params``, ``seed``,
``versions`` (package version and git commit, libraries, machine), ``runtime_s``, ``notes``, ``execution``
(executor, workers, device), ``rounds`` (of a sequential run), ``points`` (one object per computed point,
with every number needed to redraw the figure). Verdicts: :mod:`verify.verdicts`.
"""
from __future__ import annotations

import functools
import json
import math
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from verify.report_page import fmt as _fmt
from verify.verdicts import Claim, findings, headline, tier_verdicts


@dataclass(repr=False)
class Record:
    """The result of one run of a check: its claims (``claims_table()``), its points (``points_table()``),
    the parameters and seed that reproduce it, and the provenance (``versions``, ``execution``).

    ``record.verdict`` is the headline; ``record.save(dir)`` writes the JSON record and the figure;
    ``record.plot(dir)`` redraws the figure; in a notebook the record shows as its claim table."""

    check: str
    claims: list[Claim]
    params: dict
    seed: int
    points: list[dict]
    runtime_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    execution: dict = field(default_factory=dict)
    rounds: list[dict] = field(default_factory=list)
    versions: dict = field(default_factory=lambda: versions())

    @property
    def verdict(self) -> str:
        return headline(self.claims)

    @classmethod
    def from_dict(cls, d: dict) -> "Record":
        """A record read back from its JSON (``load_record``)."""
        known = {f for f in Claim.__dataclass_fields__}
        claims = [Claim(**{k: v for k, v in c.items() if k in known}) for c in d.get("claims", [])]
        return cls(check=d["check"], claims=claims, params=d.get("params", {}), seed=d.get("seed", 0),
                   points=d.get("points", []), runtime_s=d.get("runtime_s", 0.0), notes=d.get("notes", []),
                   execution=d.get("execution", {}), rounds=d.get("rounds", []), versions=d.get("versions", {}))

    def __repr__(self) -> str:
        return (f"<Record {self.check}: {self.verdict} ({len(self.claims)} claims, {len(self.points)} points, "
                f"seed {self.seed}, {self.runtime_s:.1f} s)>")

    def to_dict(self) -> dict:
        return {
            "check": self.check,
            "verdict": self.verdict,
            "verdicts": tier_verdicts(self.claims),
            "findings": findings(self.claims),
            "claims": [asdict(c) for c in self.claims],
            "params": self.params,
            "seed": self.seed,
            "versions": self.versions,
            "runtime_s": self.runtime_s,
            "notes": self.notes,
            "execution": self.execution,
            "rounds": self.rounds,
            "points": self.points,
        }

    def write_json(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_jsonable(self.to_dict()), indent=1, allow_nan=True))

    def claims_table(self) -> list[dict]:
        """One dict per claim: name, tier, source, predicted, measured, ci, verdict, expected, alpha, needed."""
        cols = ("name", "tier", "source", "predicted", "measured", "ci", "verdict", "expected", "alpha", "needed",
                "runs", "rule")
        return [{k: _jsonable(getattr(c, k)) for k in cols} for c in self.claims]

    def points_table(self) -> list[dict]:
        """The computed points, one dict per row (every number the figure needs)."""
        return [dict(p) for p in self.points]

    def to_pandas(self, table: str = "claims"):
        """``claims_table()`` or ``points_table()`` as a pandas DataFrame (pandas is an optional extra)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas needs pandas: pip install \"implicit-bias-verify[pandas]\"") from None
        if table not in ("claims", "points"):
            raise ValueError(f"table must be 'claims' or 'points', got {table!r}")
        return pd.DataFrame(self.claims_table() if table == "claims" else self.points_table())

    def save(self, directory, *, style: str = "screen", formats=("png", "pdf")) -> list[Path]:
        """Write ``directory/<check>.json`` and the figure; returns the paths."""
        path = Path(directory) / f"{self.check}.json"
        self.write_json(path)
        return [path, *self.plot(directory, style=style, formats=formats)]

    def plot(self, directory=".", *, style: str = "screen", formats=("png", "pdf")) -> list[Path]:
        """Draw the check's figure into ``directory`` (``<check>.png`` and the other formats)."""
        from verify import figures, registry as checks
        with figures.style(style, formats):
            return checks.load(self.check).plot(self.to_dict(), Path(directory) / self.check)

    def _repr_html_(self) -> str:
        from verify.report_page import claims_html
        return (f"<p><b>{self.check}</b>: headline <b>{self.verdict}</b> ({self.runtime_s:.1f} s, seed "
                f"{self.seed})</p>" + claims_html(self.to_dict()))


def load_record(path: Path) -> dict:
    return json.loads(Path(path).read_text())


@functools.lru_cache(maxsize=1)
def _versions() -> tuple:
    import os

    import matplotlib
    import scipy
    import torch
    return (("implicit_bias_verify", package_version()), ("commit", git_commit()),
            ("python", sys.version.split()[0]), ("numpy", np.__version__), ("scipy", scipy.__version__),
            ("torch", torch.__version__), ("matplotlib", matplotlib.__version__),
            ("platform", platform.platform()), ("cpu_count", os.cpu_count()))


def versions() -> dict:
    """The package's version and git commit, the libraries' versions and the machine."""
    return dict(_versions())


def package_version() -> str:
    """The installed package's version ("unknown" when run from a tree that is not installed)."""
    from importlib import metadata
    try:
        return metadata.version("implicit-bias-verify")
    except metadata.PackageNotFoundError:
        return "unknown"


def git_commit() -> str:
    """The git commit of the source tree this package runs from, with "+dirty" for uncommitted changes,
    or "unknown" outside a checkout."""
    import subprocess
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


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
    """A fixed-width table of the claims (tier, the statistic against its threshold, verdict; "as expected"
    for a documented non-pass expectation the data reproduced), the per-tier verdicts, findings and the
    headline."""
    rows = [("claim", "tier", "test", "verdict")]
    for c in record.claims:
        verdict = "-" if c.verdict is None else c.verdict.upper()
        if c.as_expected:
            verdict += " (as expected)"
        elif c.judged and c.expected != "pass":
            verdict += f" (expected {c.expected})"
        rows.append((c.name, c.tier or "?", statement(c), verdict))
    widths = [min(max(len(r[i]) for r in rows), w) for i, w in enumerate((56, 10, 66, 30))]
    lines = ["  ".join(cell[:w].ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    for c in record.claims:
        if c.verdict == "inconclusive" and c.needed:
            lines.append(f"needed for {c.name}: {c.needed}")
    tiers = tier_verdicts(record.claims)
    if tiers:
        lines.append("by tier: " + ", ".join(f"{t} {v}" for t, v in tiers.items()))
    for f in findings(record.claims):
        lines.append(f"finding: {f['name']} does not hold here ({f['margin']})")
    lines.append(f"verdict: {record.verdict.upper()}  ({record.check}, {record.runtime_s:.1f} s)")
    return "\n".join(lines)


def statement(c: Claim) -> str:
    """``c.test`` where the rule wrote one, else "measured M vs predicted P (CI [a, b])"."""
    if c.test:
        return c.test
    ci = f" (CI {_fmt(c.ci)})" if c.ci is not None else ""
    return f"measured {_fmt(c.measured)}{ci} vs predicted {_fmt(c.predicted)}"
