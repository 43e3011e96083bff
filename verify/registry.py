"""Registry of the checks: ``python -m verify <name>`` imports ``verify.<name>`` (a folder) lazily.

A check defines ``NAME``, ``SUMMARY`` (one line), ``PARAMS`` (:func:`verify.parameters.declare`; older checks:
``QUICK``/``FULL``/``TYPES`` dicts), optionally ``validate(params)`` for constraints between parameters, and
the engine's anatomy (:mod:`verify.engine`): ``points``, ``compute``, ``judge``, ``plot`` (optionally
``prepare``, ``INPUTS``, ``notes``, and ``grow``/``GROWS`` for sequential runs).
"""
from __future__ import annotations

import importlib

from verify.errors import UserInputError, require
from verify.parameters import COMMON, Params, apply_overrides, did_you_mean

CHECKS = ("width_theorem", "depth_theorem", "norm_sharpness", "which_minimizer", "modified_loss",
          "volume_hypothesis", "volume_width", "edge_of_stability", "implicit_regularization")


def load(name: str):
    """The check's module; an unknown name is a one-line error with the closest known name."""
    require(name in CHECKS, f"unknown check {name!r}{did_you_mean(name, CHECKS)}; python -m verify --list "
            "shows them")
    return importlib.import_module(f"verify.{name}")


def declared(module) -> Params | None:
    return getattr(module, "PARAMS", None)


def defaults(module, full: bool = False) -> dict:
    """The parameters of a quick (or ``full``) run, the common ones included."""
    spec = declared(module)
    if spec is not None:
        return spec.defaults(full)
    return {**module.QUICK, **(module.FULL if full else {}), **{k: p.quick for k, p in COMMON.items()}}


def known(module, key: str) -> None:
    """A one-line error unless ``key`` is a parameter of the check."""
    spec = declared(module)
    if spec is not None:
        spec.known(key, "parameter")
    elif key not in module.QUICK and key not in COMMON:
        raise UserInputError(f"unknown parameter {key!r} for {module.NAME}"
                             f"{did_you_mean(key, list(module.QUICK) + list(COMMON))}")


def apply(module, params: dict, overrides: list[str]) -> dict:
    """``params`` with ``--set key=value`` strings applied."""
    spec = declared(module)
    if spec is not None:
        return spec.apply(params, overrides)
    types = {**getattr(module, "TYPES", {}), "alpha": float}
    return apply_overrides(params, overrides, types)


def validate(module, params: dict) -> None:
    """Declared types and ranges, then the check's own constraints between parameters."""
    spec = declared(module)
    if spec is not None:
        spec.check(params)
    else:
        COMMON["alpha"].check("alpha", params.get("alpha", COMMON["alpha"].quick))
    if hasattr(module, "validate"):
        module.validate(params)


def help_text(module) -> str:
    """The text of ``python -m verify <check> --params``."""
    spec = declared(module)
    if spec is None:
        spec = Params({k: _legacy(v) for k, v in module.QUICK.items()})
        for k, v in getattr(module, "FULL", {}).items():
            spec.declared[k] = type(spec.declared[k])(spec.declared[k].quick, full=v)
    return spec.help_text(module.NAME)


def _legacy(value):
    from verify.parameters import Param
    return Param(value, type=str if value is None else None, optional=value is None)
