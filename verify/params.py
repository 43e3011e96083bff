"""Typed parameters of a check and ``--set key=value`` overrides.

A check declares its quick-mode defaults as a dict; the type of each default decides how an override is
parsed (``int``, ``float``, ``bool``, ``str``, or a list of one of these given comma-separated). A value
may be ``None`` in the defaults only together with a type hint in ``types``.
"""
from __future__ import annotations

from verify.errors import UserInputError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_scalar(text: str, kind: type, key: str):
    text = text.strip()
    try:
        if kind is bool:
            low = text.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError
        if kind is int:
            value = float(text)
            if not value.is_integer():
                raise ValueError
            return int(value)
        if kind is float:
            return float(text)
        return text
    except ValueError:
        raise UserInputError(f"--set {key}={text}: expected {kind.__name__}") from None


def apply_overrides(defaults: dict, overrides: list[str], types: dict | None = None) -> dict:
    """Return a copy of ``defaults`` with each ``key=value`` string of ``overrides`` applied."""
    params = dict(defaults)
    types = types or {}
    for item in overrides:
        if "=" not in item:
            raise UserInputError(f"--set {item!r}: expected key=value")
        key, value = item.split("=", 1)
        key = key.strip()
        if key not in params:
            known = ", ".join(sorted(params))
            raise UserInputError(f"--set {key}: unknown parameter (known: {known})")
        kind = types.get(key)
        default = params[key] if kind is None else kind
        if isinstance(default, list) or kind is list:
            elem = type(defaults[key][0]) if defaults[key] else float
            params[key] = [parse_scalar(v, elem, key) for v in value.split(",") if v.strip()]
        elif isinstance(default, type):
            params[key] = parse_scalar(value, default, key)
        else:
            params[key] = parse_scalar(value, type(default), key)
    return params
