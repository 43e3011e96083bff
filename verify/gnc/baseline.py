"""The gradient-descent baseline of a G&C point (paper's Proposition 1, after Soltanolkotabi, Stöger, Xie 2023)
and its claim."""
from __future__ import annotations

import numpy as np

from verify.gnc.records import chance_of, select
from verify.report import Claim


def gd_point(prob, width, depth, act, p, generator, device="cpu", init_scale=None) -> dict:
    """The GD baseline of one point: ``p``'s gd_* settings, the initialization ``gd_init_law``
    (``torch_default``: PyTorch's layer default times the scale; ``gaussian``: N(0, α²) entries), random numbers
    from the CPU ``generator``, arithmetic on ``device``."""
    from numerics.gd_baseline import train_factorization  # torch: imported only where GD runs
    init = p["gd_init"] if init_scale is None else init_scale
    res = train_factorization(prob, width=width, depth=depth, activation=act, init_scale=init,
                              lr=p["gd_lr"], steps=p["gd_steps"], optimizer=p["gd_optimizer"],
                              momentum=p["gd_momentum"], tol=p["gd_tol"], generator=generator,
                              init=p.get("gd_init_law", "gaussian"), device=device)
    return {"gd_gen_loss": res.gen_loss, "gd_train_loss": res.train_loss, "gd_converged": bool(res.converged),
            "gd_steps": res.steps, "gd_init": init, "gd_init_law": p.get("gd_init_law", "gaussian")}


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
