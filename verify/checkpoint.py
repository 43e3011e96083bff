"""Resumable sweeps: finished points are appended to a JSON-lines file as they are computed.

The first line holds the run's identity (check, parameters, seed, input files). A restart with the same
identity reuses the stored points. A checkpoint of another identity is never truncated: the run is refused
with a one-line error naming the differing parameters, unless ``restart`` discards it. The file is removed
when the run completes, so it only exists for interrupted runs.
"""
from __future__ import annotations

import json
from pathlib import Path

from verify.errors import UserInputError


class PointStore:
    def __init__(self, path: Path | None, identity: dict, *, restart: bool = False):
        self.path = Path(path) if path is not None else None
        self.identity = json.loads(_dumps(identity))
        self.done: dict[str, list[dict]] = {}
        if self.path is None:
            return
        if self.path.exists() and not restart:
            lines = self.path.read_text().splitlines()
            try:
                stored = json.loads(lines[0])["identity"] if lines else self.identity
            except (json.JSONDecodeError, KeyError, TypeError):
                stored = None
            if stored != self.identity and len(lines) > 1:
                raise UserInputError(f"{self.path} holds {len(lines) - 1} finished point(s) of another run "
                                     f"({differences(stored, self.identity)}); rerun with the same settings "
                                     "to resume, or add --restart to discard them")
            try:
                for line in lines[1:]:
                    entry = json.loads(line)
                    self.done[entry["key"]] = entry["points"]
            except (json.JSONDecodeError, KeyError):  # a torn last line from a kill: keep what parsed
                pass
        if not self.done:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(_dumps({"identity": self.identity}) + "\n")

    @staticmethod
    def key(*parts) -> str:
        return "/".join(str(p) for p in parts)

    def get(self, key: str) -> list[dict] | None:
        return self.done.get(key)

    def put(self, key: str, points: list[dict]) -> None:
        self.done[key] = points
        if self.path is not None:
            with self.path.open("a") as fh:
                fh.write(_dumps({"key": key, "points": points}) + "\n")

    def finish(self) -> None:
        if self.path is not None and self.path.exists():
            self.path.unlink()


def differences(stored, current) -> str:
    """The parameters (and other identity fields) that differ, in words."""
    if not isinstance(stored, dict):
        return "unreadable header"
    out = []
    for field in ("check", "seed", "inputs"):
        if stored.get(field) != current.get(field):
            out.append(f"{field} {stored.get(field)!r} there, {current.get(field)!r} now")
    sp, cp = stored.get("params") or {}, current.get("params") or {}
    for key in sorted(set(sp) | set(cp)):
        if sp.get(key) != cp.get(key):
            out.append(f"{key}={sp.get(key)!r} there, {cp.get(key)!r} now")
    return "; ".join(out) or "format differs"


def _dumps(obj) -> str:
    """JSON that keeps NaN (as the NaN token) and turns numpy scalars into Python numbers."""
    return json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o))
