"""Kept for ``verify.which_minimizer``, which draws its per-point generators from here; the G&C helpers that
lived here are in :mod:`verify.gnc`."""
from verify.gnc.records import point_rng

__all__ = ["point_rng"]
