"""Rows and problems of the G&C checks: per-point generators, NaN handling, selection, the problems of a run
and the join of the G&C point rows with their limit rows."""
from __future__ import annotations

import numpy as np

from numerics.problems import SensingProblem, random_problem
from verify.inputs import user_problem


def point_rng(seed: int, *key: int) -> np.random.Generator:
    """A generator that depends only on the master seed and the point's key (not on the sweep's order)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=tuple(int(k) for k in key)))


def numeric(rows: list[dict]) -> list[dict]:
    """Rows with JSON's ``None`` (how the engine and the records store NaN) turned back into NaN."""
    return [{k: (float("nan") if v is None else v) for k, v in q.items()} for q in rows]


def finite(v) -> bool:
    """A number that is neither None (NaN in a JSON row) nor non-finite."""
    return v is not None and bool(np.isfinite(v))


def select(points: list[dict], **match) -> list[dict]:
    return [q for q in points if all(q[k] == v for k, v in match.items())]


def chance_of(q: dict) -> float:
    """The closed-form chance level where it exists, else the Monte Carlo one."""
    cf = q.get("chance_closed_form")
    return cf if cf is not None and np.isfinite(cf) else q["C"]


def dof_of(qs: list[dict], key: str = "se_dof") -> np.ndarray:
    """Degrees of freedom of each point's standard error (``GncEstimate.se_dof``); ∞ where a record has none."""
    return np.array([q.get(key, np.inf) for q in qs], float)


def problems(p: dict, seed: int, extra_n=()) -> dict[tuple[int, int], SensingProblem]:
    """(seed index, n) → problem: the ``--problem`` file for every seed, else W* and the measurements redrawn
    per seed (the paper's protocol): the main problem (``p["n"]`` measurements) from stream (s, 0), a problem
    with another number n of ``extra_n`` from (s, 4, n). A seed's problems do not depend on the number of
    seeds, so added seeds (sequential runs) leave the earlier ones unchanged."""
    user = user_problem(p)
    ns = [p["n"]] + [n for n in extra_n if n != p["n"]]
    return {(s, n): user if user is not None else
            random_problem(p["m"], p["mp"], p["rank"], n,
                           point_rng(seed, s, 0) if n == p["n"] else point_rng(seed, s, 4, n), kind=p["measurements"])
            for s in range(p["seeds"]) for n in ns}


def problem_arrays(prob: SensingProblem) -> dict:
    """The problem as task parameters (:func:`problem_of` reads it back)."""
    return {"A": prob.A, "W_star": prob.W_star, "problem_kind": prob.kind}


def problem_of(tp: dict) -> SensingProblem:
    return SensingProblem(np.asarray(tp["A"], float), np.asarray(tp["W_star"], float), kind=tp["problem_kind"])


def join_limits(rows: list[dict], point_kind: str, key: tuple[str, ...], fields: dict[str, str]) -> list[dict]:
    """Every row (NaN for JSON's None), the ``point_kind`` rows with the fields of their ``limit`` row (same
    values of ``key``) joined in under new names (``fields``: limit field → point field; NaN where there is
    no limit row)."""
    rows = numeric(rows)
    limits = {tuple(q[k] for k in key): q for q in rows if q.get("kind") == "limit"}
    out = []
    for q in rows:
        if q.get("kind", point_kind) == point_kind:
            lim = limits.get(tuple(q[k] for k in key))
            q = {**q, **{new: lim[old] if lim is not None else float("nan") for old, new in fields.items()}}
        out.append(q)
    return out


def doubled(p: dict, round_: int, keys) -> dict:
    """The parameters of round ``round_`` (1: as given) of a sequential run (--until-decisive): each of ``keys``
    (numbers of seeds) doubled per round. Tasks are keyed by seed index, so the points of earlier rounds are
    reused."""
    return {**p, **{k: p[k] * 2 ** (round_ - 1) for k in keys}}
