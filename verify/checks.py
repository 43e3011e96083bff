"""Registry of the checks: ``python -m verify <name>`` imports ``verify.<module>`` lazily.

A check module defines ``NAME``, ``SUMMARY`` (one line), ``QUICK`` (default parameters), ``FULL``
(overrides for ``--full``), optionally ``TYPES`` (parameter types where a default is ``None``),
``validate(params)`` raising :class:`verify.errors.UserInputError`, and the engine's anatomy
(:mod:`verify.engine`): ``points``, ``compute``, ``judge``, ``plot`` (optionally ``prepare``, ``INPUTS``).
"""
from __future__ import annotations

import importlib

CHECKS = {
    "width_theorem": "verify.width_theorem",
    "depth_theorem": "verify.depth_theorem",
    "norm_sharpness": "verify.norm_sharpness",
    "which_minimizer": "verify.which_minimizer",
    "modified_loss": "verify.modified_loss",
    "volume_hypothesis": "verify.volume_hypothesis",
    "volume_width": "verify.volume_width",
    "edge_of_stability": "verify.edge_of_stability",
    "implicit_regularization": "verify.implicit_regularization",
}


def load(name: str):
    return importlib.import_module(CHECKS[name])
