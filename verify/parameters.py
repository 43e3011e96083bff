"""Declared parameters of a check and ``--set key=value`` overrides.

A check declares each parameter once::

    PARAMS = declare(
        widths=Param([5, 50, 500], full=[5, 50, 500, 5000], type=int, low=1, doc="hidden widths swept"),
        eps=Param(0.02, low=0, doc="training-loss threshold of Guess & Check"),
    )

and the declaration gives the quick defaults (``PARAMS.quick``), the ``--full`` values (``PARAMS.full``), the
parsing of ``--set`` strings, the type and range checks (``PARAMS.check``, a one-line error naming the
parameter) and the text of ``python -m verify <check> --params``. Every check also takes the parameters of
``COMMON`` (the check-level ``alpha``).
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

from verify.errors import UserInputError, require

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_SAME = object()


@dataclass(frozen=True)
class Param:
    """One parameter: its quick default, its ``--full`` value (the quick one if omitted), the element type
    (inferred from the default; a list default, or ``many``, makes a list parameter), allowed ``choices``, inclusive bounds
    ``low``/``high`` or exclusive ones ``above``/``below`` (checked on every element of a list), whether
    ``None`` is allowed (``optional``; a ``None`` default needs ``type``) and a one-line ``doc``."""

    quick: Any
    full: Any = _SAME
    type: type | None = None
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    above: float | None = None
    below: float | None = None
    optional: bool = False
    nonempty: bool = True
    many: bool = False
    doc: str = ""

    @property
    def is_list(self) -> bool:
        """A list parameter: a list default, or ``many=True`` (for a list whose default is ``None``)."""
        return self.many or isinstance(self.quick, list) or (self.quick is None and isinstance(self.full_value, list))

    @property
    def full_value(self):
        return self.quick if self.full is _SAME else self.full

    def element_type(self) -> type:
        if self.type is not None:
            return self.type
        sample = self.quick if self.quick is not None else self.full_value
        if isinstance(sample, list):
            sample = next((v for v in sample if v is not None), 0.0)
        return type(sample) if sample is not None else str

    def parse(self, key: str, text: str):
        """The value of ``--set key=text``."""
        if self.optional and text.strip().lower() in ("none", ""):
            return None
        kind = self.element_type()
        if self.is_list:
            return [parse_scalar(v, kind, key) for v in text.split(",") if v.strip()]
        return parse_scalar(text, kind, key)

    def check(self, key: str, value) -> None:
        """A one-line :class:`UserInputError` unless ``value`` has the declared type, choices and range."""
        if value is None:
            require(self.optional, f"{key} must be set (got None)")
            return
        if self.is_list:
            require(isinstance(value, (list, tuple)), f"{key} must be a list, got {value!r}")
            require(len(value) > 0 or not self.nonempty, f"{key} must not be empty")
            for v in value:
                self._check_scalar(key, v)
        else:
            self._check_scalar(key, value)

    def _check_scalar(self, key: str, v) -> None:
        kind = self.element_type()
        if kind is bool:
            require(isinstance(v, bool), f"{key} must be true or false, got {v!r}")
        elif kind is int:
            require(isinstance(v, int) and not isinstance(v, bool), f"{key} must be an integer, got {v!r}")
        elif kind is float:
            require(isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v),
                    f"{key} must be a number, got {v!r}")
        elif kind is str:
            require(isinstance(v, str), f"{key} must be a string, got {v!r}")
        if self.choices is not None:
            require(v in self.choices, f"{key} must be one of {', '.join(map(str, self.choices))}, got {v!r}"
                    + did_you_mean(v, self.choices))
        for bound, ok, word in ((self.low, lambda b: v >= b, ">="), (self.high, lambda b: v <= b, "<="),
                                (self.above, lambda b: v > b, ">"), (self.below, lambda b: v < b, "<")):
            if bound is not None:
                require(ok(bound), f"{key} must be {word} {bound:g}, got {v!r}")

    def describe(self) -> str:
        parts = [self.doc] if self.doc else []
        if self.choices is not None:
            parts.append("one of " + ", ".join(map(str, self.choices)))
        rng = [f"{w} {b:g}" for b, w in ((self.low, ">="), (self.above, ">"), (self.high, "<="), (self.below, "<"))
               if b is not None]
        if rng:
            parts.append(("each " if self.is_list else "") + " and ".join(rng))
        return "; ".join(parts)


COMMON = {
    "alpha": Param(0.01, above=0, below=0.5,
                   doc="check-level false-failure rate, split across the judged claims by Holm's step-down"),
}


# set by the engine and by the input files (verify.inputs), not by --set
RUN_KEYS = ("mode", "data_file", "data_n_train", "data_classes", "data_dim", "problem_file")


class Params:
    """The declared parameters of one check (plus :data:`COMMON`)."""

    def __init__(self, declared: dict[str, Param]):
        clash = set(declared) & set(COMMON)
        if clash:
            raise ValueError(f"parameters {sorted(clash)} are common to every check")
        self.declared = {**declared, **COMMON}

    def __contains__(self, key) -> bool:
        return key in self.declared

    def __iter__(self):
        return iter(self.declared)

    @property
    def quick(self) -> dict:
        return {k: _copy(p.quick) for k, p in self.declared.items()}

    @property
    def full(self) -> dict:
        """The values ``--full`` changes (overrides on top of :attr:`quick`)."""
        return {k: _copy(p.full_value) for k, p in self.declared.items() if p.full is not _SAME}

    def defaults(self, full: bool = False) -> dict:
        return {**self.quick, **(self.full if full else {})}

    def known(self, key: str, flag: str = "--set") -> Param:
        if key not in self.declared:
            raise UserInputError(f"{flag} {key}: unknown parameter{did_you_mean(key, self.declared)} "
                                 "(--params lists them)")
        return self.declared[key]

    def apply(self, params: dict, overrides: list[str]) -> dict:
        """``params`` with each ``key=value`` string of ``overrides`` parsed and applied."""
        params = dict(params)
        for item in overrides:
            if "=" not in item:
                raise UserInputError(f"--set {item!r}: expected key=value")
            key, value = (s.strip() for s in item.split("=", 1))
            params[key] = self.known(key).parse(key, value)
        return params

    def check(self, params: dict) -> None:
        """Types, choices and ranges of every declared parameter; unknown names are refused."""
        for key in params:
            if key not in RUN_KEYS:
                self.known(key, "parameter")
        for key, p in self.declared.items():
            if key in params:
                p.check(key, params[key])

    def help_text(self, name: str) -> str:
        rows = [("parameter", "quick", "full", "meaning")]
        for key, p in self.declared.items():
            rows.append((key, _show(p.quick), _show(p.full_value) if p.full is not _SAME else "=", p.describe()))
        widths = [min(max(len(r[i]) for r in rows), w) for i, w in enumerate((24, 26, 26))]
        lines = [f"parameters of {name} (python -m verify {name} --set KEY=VALUE; lists comma-separated):"]
        for r in rows:
            cells = [c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(r[:3], widths)]
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)) + "  " + r[3])
        return "\n".join(lines)


def declare(**params: Param) -> Params:
    return Params(params)


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


def did_you_mean(word, options) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``options``, or an empty string."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _copy(v):
    return list(v) if isinstance(v, list) else v


def _show(v) -> str:
    if isinstance(v, list):
        return ",".join(map(str, v))
    return str(v)
