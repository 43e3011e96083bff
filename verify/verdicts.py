"""Claims and how their verdicts combine (the package's verdict contract, see docs/verdicts.md).

A :class:`Claim` is one prediction judged on the data. Its ``tier`` says what a failure would mean:

- ``theorem``: a proven result's prediction inside its hypotheses; a fail is a counterexample or a bug;
- ``published``: a paper's empirical claim as the paper states it; a fail is a finding at our scale;
- ``extension``: this package's own prediction;
- ``control``: falsifiability and sanity controls, exact identities; a fail means the run or code is broken;
- ``diagnostic``: a number shown without a verdict (``verdict`` is ``None``).

Verdicts: ``pass`` (the data support the prediction at level ``alpha``), ``fail`` (the data contradict it),
``inconclusive`` (neither), ``vacuous`` (a bound that holds but lies above chance). ``expected`` is ``pass``
unless a documented finding says otherwise (``expected_because`` names the evidence and its seeds).

The headline of a record is the worst verdict over the judged claims (fail > inconclusive > vacuous > pass),
where a claim whose verdict equals its documented non-pass expectation counts as ``pass`` and a claim
expected not to pass that passes counts as ``inconclusive`` (the finding did not reproduce).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VERDICTS = ("pass", "fail", "inconclusive", "vacuous")
TIERS = ("theorem", "published", "extension", "control", "diagnostic")
SEVERITY = {"pass": 0, "vacuous": 1, "inconclusive": 2, "fail": 3}
EXIT_CODES = {"pass": 0, "fail": 1, "inconclusive": 3, "vacuous": 4}
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


@dataclass
class Claim:
    """One judged prediction. ``predicted``/``measured``/``ci`` are numbers, lists or short strings; ``rule``
    says the rule in words, ``test`` the statistic against its threshold; ``alpha`` is the level it was judged
    at (after Holm's adjustment across the check's claims); ``needed`` says, for an inconclusive claim, how
    much more data the observed effect and SE imply; ``provenance`` says where a threshold not taken from a
    paper comes from (``preregistered`` or ``calibrated on seeds ...``); ``runs`` how many runs/seeds entered."""

    name: str
    predicted: Any
    measured: Any
    ci: Any
    rule: str
    verdict: str | None
    test: str = ""
    tier: str = ""
    source: str = ""
    expected: str = "pass"
    expected_because: str = ""
    alpha: float | None = None
    needed: str | None = None
    provenance: str = ""
    runs: int | None = None
    key: str = ""
    deterministic: bool = False

    def __post_init__(self):
        if self.verdict is None:
            if self.tier not in ("diagnostic", ""):
                raise ValueError(f"claim {self.name!r}: only a diagnostic has no verdict")
        elif self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.tier and self.tier not in TIERS:
            raise ValueError(f"claim {self.name!r}: tier must be one of {TIERS}, got {self.tier!r}")
        if self.expected not in VERDICTS:
            raise ValueError(f"claim {self.name!r}: expected must be one of {VERDICTS}, got {self.expected!r}")
        if self.expected != "pass" and not self.expected_because:
            raise ValueError(f"claim {self.name!r}: an expectation other than pass needs expected_because")

    @property
    def judged(self) -> bool:
        return self.verdict is not None and self.tier != "diagnostic"

    @property
    def as_expected(self) -> bool:
        """A documented non-pass expectation that the data reproduced."""
        return self.expected != "pass" and self.verdict == self.expected

    @property
    def counted(self) -> str | None:
        """The verdict as the headline counts it (see the module docstring)."""
        if not self.judged:
            return None
        if self.expected == "pass":
            return self.verdict
        if self.verdict == self.expected:
            return "pass"
        return "inconclusive" if self.verdict == "pass" else self.verdict


@dataclass(frozen=True)
class ClaimSpec:
    """A claim as data: its registry ``key`` (stable; failure tests name it, and one key may cover a claim
    per setting), ``tier``, ``source`` (paper and equation/figure/table, or "this package"), the documented
    expectation and the ``provenance`` of its threshold when it is not a paper's. A check lists its specs in
    ``CLAIMS`` (:func:`registry`); ``spec(claim)`` stamps these fields on a claim a rule built.
    ``deterministic`` marks a claim on a quantity exact up to round-off: Holm does not count it."""

    key: str
    tier: str
    source: str
    expected: str = "pass"
    expected_because: str = ""
    provenance: str = ""
    deterministic: bool = False

    def __post_init__(self):
        if self.tier not in TIERS:
            raise ValueError(f"claim spec {self.key!r}: tier must be one of {TIERS}, got {self.tier!r}")
        if not self.source:
            raise ValueError(f"claim spec {self.key!r}: a source is required")

    def __call__(self, claim: Claim, **overrides) -> Claim:
        """``claim`` with this spec's fields (``overrides`` win: e.g. a per-setting ``expected``)."""
        fields = {"key": self.key, "tier": self.tier, "source": self.source, "expected": self.expected,
                  "expected_because": self.expected_because, "provenance": self.provenance,
                  "deterministic": self.deterministic, **overrides}
        for name, value in fields.items():
            setattr(claim, name, value)
        if claim.tier == "diagnostic":
            claim.verdict = None
        claim.__post_init__()
        return claim


def registry(*specs: ClaimSpec) -> dict[str, ClaimSpec]:
    """``CLAIMS`` of a check: its specs by key (keys unique)."""
    out = {}
    for spec in specs:
        if spec.key in out:
            raise ValueError(f"duplicate claim key {spec.key!r}")
        out[spec.key] = spec
    return out


def worst(verdicts, empty: str | None = "inconclusive") -> str | None:
    """The worst of ``verdicts`` (fail > inconclusive > vacuous > pass), ignoring ``None``; ``empty`` if none.

    The one combinator of per-item verdicts (seeds, settings, points) into a claim's verdict."""
    vs = [v for v in verdicts if v is not None]
    return max(vs, key=SEVERITY.__getitem__) if vs else empty


def headline(claims: list[Claim]) -> str:
    """The record's headline verdict: the worst counted verdict over judged claims (``inconclusive`` if none)."""
    return worst(c.counted for c in claims)


def tier_verdicts(claims: list[Claim]) -> dict[str, str]:
    """Per tier present (diagnostics aside), the worst verdict of its claims."""
    tiers = [t for t in TIERS if t != "diagnostic" and any(c.tier == t and c.judged for c in claims)]
    return {t: worst(c.verdict for c in claims if c.tier == t and c.judged) for t in tiers}


def findings(claims: list[Claim]) -> list[dict]:
    """The published claims the data contradict, with their margin (the test in words)."""
    return [{"name": c.name, "source": c.source, "measured": c.measured, "ci": c.ci, "margin": c.test,
             "expected": c.expected} for c in claims if c.tier == "published" and c.verdict == "fail"]


def exit_code(verdict: str) -> int:
    """0 pass, 1 fail, 3 inconclusive, 4 vacuous."""
    return EXIT_CODES[verdict]


def holm(judge_at, alpha: float):
    """Judge a check's claims with Holm's step-down procedure across them.

    ``judge_at(level)`` returns the claims, each judged at per-claim level ``level``. With m judged claims
    the first pass uses ``alpha/m``; while k claims fail, the rest are judged again at ``alpha/(m − k)``,
    until no new claim fails. A fail is a rejected prediction, so this is Holm's procedure on the claims'
    fail-direction tests and the chance that any true prediction fails is at most ``alpha`` (each rule's
    own false-failure rate being at most its level). Each judged claim records the level it was judged
    at in ``alpha``."""
    def tested(c):
        return c.judged and not c.deterministic

    m = sum(tested(c) for c in judge_at(alpha))
    if m == 0:
        return judge_at(alpha)
    failed, level = 0, alpha / m
    while True:
        claims = judge_at(level)
        k = sum(tested(c) and c.verdict == "fail" for c in claims)
        if k <= failed or k >= m:
            break
        failed, level = k, alpha / (m - k)
    for c in claims:
        if tested(c):
            c.alpha = level
    return claims
