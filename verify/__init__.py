"""Checks of theorems on implicit bias and generalization; ``verify.run(check, seed=0, **params) -> Record``."""


def run(check: str, seed: int = 0, **kwargs):
    """Run a check from Python: ``verify.run("width_theorem", seed=0, widths=[5, 50])`` (see
    :func:`verify.engine.run`)."""
    from verify.engine import run as _run
    return _run(check, seed, **kwargs)
