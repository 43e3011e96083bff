"""Numerical checks of theorems and published claims on implicit bias and generalization.

    import verify
    verify.checks()                      # the check names
    print(verify.params("width_theorem"))  # its parameters: quick and full defaults, meaning
    record = verify.run("width_theorem", seed=0, widths=[5, 50])
    record.verdict, record.claims_table(), record.save("out")

Nothing here changes the matplotlib backend; figures are drawn on ``Figure`` objects.
"""
from __future__ import annotations

__all__ = ["run", "checks", "params", "Record", "UserInputError"]


def checks() -> list[str]:
    """The names of the checks (``python -m verify --list``)."""
    from verify.registry import CHECKS
    return list(CHECKS)


def params(check: str) -> str:
    """The parameters of ``check``: name, quick default, full default, meaning (as ``--params`` prints)."""
    from verify import registry
    return registry.help_text(registry.load(check))


def run(check: str, *, seed: int = 0, quick: bool = True, until_decisive: bool = False, budget_min=None,
        max_rounds=None, workers=None, executor=None, device=None, data=None, problem=None, **params):
    """Run a check with the CLI's defaults and return its :class:`Record`.

    ``verify.run("width_theorem", seed=0, widths=[5, 50])``: ``seed`` makes the run reproducible bit for bit;
    ``quick=False`` uses the papers' settings; ``until_decisive`` adds rounds of seeds until no claim is
    inconclusive (``budget_min`` caps the minutes, ``max_rounds`` the looks, default 4, each at alpha /
    max_rounds); ``workers`` (default: every core, or 1 for short checks),
    ``executor`` (``"local"``, ``"dask"``, or a ``concurrent.futures.Executor`` / Dask ``Client`` of yours),
    ``device`` (``"cpu"``, ``"cuda"``); ``data``/``problem`` as ``--data``/``--problem``; other keyword
    arguments set parameters by name (:func:`params` lists them). Bad input raises :class:`UserInputError`
    with the CLI's one-line message. See :func:`verify.engine.run` for the rest (``checkpoint``, ``restart``,
    ``progress``)."""
    from verify.engine import run as _run
    return _run(check, seed=seed, quick=quick, until_decisive=until_decisive, budget_min=budget_min,
                max_rounds=max_rounds, workers=workers, executor=executor, device=device, data=data, problem=problem, **params)


def __getattr__(name):
    if name == "Record":
        from verify.report import Record
        return Record
    if name == "UserInputError":
        from verify.errors import UserInputError
        return UserInputError
    raise AttributeError(f"module 'verify' has no attribute {name!r}")
