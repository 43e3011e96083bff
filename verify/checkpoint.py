"""Resumable sweeps: finished points are appended to a JSON-lines file as they are computed.

The first line holds the run's identity (check, parameters, seed, problem file). A restart with the same
identity reuses the stored points; any other identity starts the file afresh. The file is removed when the
run completes, so it only exists for interrupted runs.
"""
from __future__ import annotations

import json
from pathlib import Path



class PointStore:
    def __init__(self, path: Path | None, identity: dict):
        self.path = Path(path) if path is not None else None
        self.identity = json.loads(_dumps(identity))
        self.done: dict[str, list[dict]] = {}
        if self.path is None:
            return
        if self.path.exists():
            lines = self.path.read_text().splitlines()
            try:
                if lines and json.loads(lines[0]) == {"identity": self.identity}:
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


def _dumps(obj) -> str:
    """JSON that keeps NaN (as the NaN token) and turns numpy scalars into Python numbers."""
    return json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o))
