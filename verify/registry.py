"""Registry of the checks: ``python -m verify <name>`` imports ``verify.<name>`` (a folder) lazily.

A check defines ``NAME``, ``SUMMARY`` (one line), ``PARAMS`` (:func:`verify.parameters.declare`), optionally
``validate(params)`` for constraints between parameters, and the engine's anatomy (:mod:`verify.engine`):
``points``, ``compute``, ``judge``, ``plot`` (optionally ``prepare``, ``INPUTS``, ``notes``, and
``grow``/``GROWS`` for sequential runs).
"""
from __future__ import annotations

import importlib

from verify.errors import require
from verify.parameters import did_you_mean

CHECKS = ("width_theorem", "depth_theorem", "norm_sharpness", "which_minimizer", "modified_loss",
          "volume_hypothesis", "volume_width", "edge_of_stability", "implicit_regularization")


def load(name: str):
    """The check's module; an unknown name is a one-line error with the closest known name."""
    require(name in CHECKS, f"unknown check {name!r}{did_you_mean(name, CHECKS)}; python -m verify --list "
            "shows them")
    return importlib.import_module(f"verify.{name}")


def defaults(module, full: bool = False) -> dict:
    """The parameters of a quick (or ``full``) run, the common ones included."""
    return module.PARAMS.defaults(full)


def known(module, key: str) -> None:
    """A one-line error unless ``key`` is a parameter of the check."""
    module.PARAMS.known(key, "parameter")


def apply(module, params: dict, overrides: list[str]) -> dict:
    """``params`` with ``--set key=value`` strings applied."""
    return module.PARAMS.apply(params, overrides)


def validate(module, params: dict) -> None:
    """Declared types and ranges, then the check's own constraints between parameters."""
    module.PARAMS.check(params)
    if hasattr(module, "validate"):
        module.validate(params)


def help_text(module) -> str:
    """The text of ``python -m verify <check> --params``."""
    return module.PARAMS.help_text(module.NAME)
