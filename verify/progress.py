"""Progress reporting for long runs on stderr: a tqdm bar on a terminal, else (a log file, CI) one plain line at
most every ``LINE_INTERVAL`` seconds with the fraction done, the elapsed time and an estimate of the rest."""
from __future__ import annotations

import sys
import threading
import time

from tqdm.auto import tqdm

LINE_INTERVAL = 30.0


class LineProgress:
    """The bar's interface (``update``, ``close``) written as occasional whole lines, readable in a log."""

    def __init__(self, total: int, desc: str, interval: float = LINE_INTERVAL, stream=None):
        self.total, self.desc, self.interval = max(int(total), 1), desc, interval
        self.stream = stream or sys.stderr
        self.done, self.start = 0, time.monotonic()
        self.last = self.start
        self.lock = threading.Lock()  # worker threads report chunks concurrently

    def update(self, n: int = 1) -> None:
        with self.lock:
            self.done += n
            now = time.monotonic()
            if now - self.last < self.interval:
                return
            self.last = now
            done, elapsed = self.done, now - self.start
        rest = elapsed * (self.total - done) / done if done else float("nan")
        print(f"{self.desc}: {100 * done / self.total:.1f}% ({done:,} of {self.total:,}), "
              f"{elapsed / 60:.1f} min elapsed, ~{rest / 60:.1f} min left", file=self.stream, flush=True)

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, enabled: bool = True):
    """A bar on an interactive stderr, progress lines on a redirected one, nothing when ``enabled`` is False."""
    if not enabled:
        return tqdm(total=total, disable=True)
    if not sys.stderr.isatty():
        return LineProgress(total, desc)
    return tqdm(total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True, mininterval=0.5)


def log(message: str, enabled: bool = True) -> None:
    if enabled:
        print(message, file=sys.stderr, flush=True)
