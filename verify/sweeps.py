"""Helpers shared by the sweep checks (G&C width and depth): per-point generators, selection, the GD baseline
of a point and its rule."""
from __future__ import annotations

import numpy as np

from verify.report import Claim


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


def gd_claim(name: str, pts: list[dict], factor: float, *, by: str = "width", require_converged: bool = True,
             note: str = "") -> Claim:
    """Rule: for every value of ``by``, median over seeds of L_gen(GD) / chance <= ``factor``.

    Runs that diverged (non-finite L_gen) count as infinite; with ``require_converged`` so do runs that did
    not reach the training tolerance. The worst ratio over the ``by`` values is reported.
    """
    ratios = []
    for value in sorted({q[by] for q in pts}):
        qs = select(pts, **{by: value})
        losses = [q["gd_gen_loss"] if np.isfinite(q["gd_gen_loss"]) and (q.get("gd_converged", True)
                                                                         or not require_converged) else np.inf
                  for q in qs]
        ratios.append(float(np.median(losses) / np.mean([chance_of(q) for q in qs])))
    worst = max(ratios)
    what = "unconverged or diverged runs count as infinite" if require_converged else "diverged runs count as infinite"
    return Claim(name=name, predicted=f"<= {factor:g}", measured=worst, ci=None,
                 rule=f"median over seeds of L_gen(GD)/chance <= {factor:g} at every {by} (max over {by}s "
                      f"reported; {what}{'; ' + note if note else ''})",
                 verdict="pass" if worst <= factor else "fail",
                 test=f"max over {by}s of median L_gen(GD)/chance = {worst:.3g} <= {factor:g}")


def dof_of(qs: list[dict], key: str = "se_dof") -> np.ndarray:
    """Degrees of freedom of each point's standard error (``GncEstimate.se_dof``); ∞ where a record has none."""
    return np.array([q.get(key, np.inf) for q in qs], float)


def gd_point(prob, width, depth, act, p, generator, device="cpu", init_scale=None) -> dict:
    """The GD baseline of one point (shared with the depth check): ``p``'s gd_* settings, the initialization
    ``gd_init_law`` (``torch_default``: PyTorch's layer default times the scale; ``gaussian``: N(0, α²)
    entries), random numbers from the CPU ``generator``, arithmetic on ``device``."""
    from numerics.gd_baseline import train_factorization
    init = p["gd_init"] if init_scale is None else init_scale
    res = train_factorization(prob, width=width, depth=depth, activation=act, init_scale=init,
                              lr=p["gd_lr"], steps=p["gd_steps"], optimizer=p["gd_optimizer"],
                              momentum=p["gd_momentum"], tol=p["gd_tol"], generator=generator,
                              init=p.get("gd_init_law", "gaussian"), device=device)
    return {"gd_gen_loss": res.gen_loss, "gd_train_loss": res.train_loss, "gd_converged": bool(res.converged),
            "gd_steps": res.steps, "gd_init": init, "gd_init_law": p.get("gd_init_law", "gaussian")}


def paper_figure(record: dict, stem) -> list:
    """With a figure preset (``params["scope"]``), also the paper-layout figure ``<stem>_figure<N>``."""
    scope = record["params"].get("scope")
    if not scope:
        return []
    from pathlib import Path

    from verify.gnc_figures import figure_file
    stem = Path(stem)
    return figure_file(record, stem.with_name(f"{stem.name}_figure{scope['figure']}"))
