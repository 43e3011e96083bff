"""Progress reporting for long runs: a tqdm bar on stderr (silent when ``enabled`` is False)."""
from __future__ import annotations

import sys

from tqdm.auto import tqdm


def progress_bar(total: int, desc: str, enabled: bool = True):
    """A bar on an interactive stderr; nothing when ``enabled`` is False or stderr is not a terminal."""
    return tqdm(total=total, desc=desc, disable=None if enabled else True, file=sys.stderr, leave=False,
                dynamic_ncols=True, mininterval=0.5)


def log(message: str, enabled: bool = True) -> None:
    if enabled:
        print(message, file=sys.stderr, flush=True)
