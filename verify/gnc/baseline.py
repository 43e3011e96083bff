"""The gradient-descent baseline of a G&C point (paper's Proposition 1, after Soltanolkotabi, Stöger, Xie 2023)
and its claim."""
from __future__ import annotations

import numpy as np

from verify.gnc.records import chance_of, select
from verify.report import Claim
from verify.rules import fraction_claim


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


MIN_FRACTION = 0.5  # "GD generalizes far below chance": the median run is below the factor (as the paper's median curves)


def gd_inside(pts: list[dict], by: str, require_converged: bool) -> dict:
    """Per value of ``by``: for each seed, whether L_gen(GD)/chance is finite and (with ``require_converged``, a
    run that reached the training tolerance) the ratio itself."""
    out = {}
    for value in sorted({q[by] for q in pts}):
        ratios = []
        for q in select(pts, **{by: value}):
            loss = q.get("gd_gen_loss")
            ok = loss is not None and np.isfinite(loss) and (q.get("gd_converged", True) or not require_converged)
            ratios.append(loss / chance_of(q) if ok else np.inf)
        out[value] = np.array(ratios)
    return out


def gd_claim(name: str, pts: list[dict], factor: float, *, alpha: float, by: str = "width",
             require_converged: bool = True, note: str = "") -> Claim:
    """GD generalizes far below chance over the sweep: the fraction of GD runs (all seeds and ``by`` values) with
    L_gen(GD) < ``factor`` × chance exceeds 1/2, by its exact Clopper–Pearson interval at level alpha/2 (pass if
    the lower end is above 1/2, fail if the upper end is below), and no single ``by`` value contradicts it: at
    each value, the Clopper–Pearson interval of its own fraction at level alpha/(2V) (Bonferroni over the V
    values) must not lie wholly below 1/2 (else fail). Runs that diverged (or, with ``require_converged``, did not
    reach the training tolerance) count as outside. More seeds only sharpen both parts; false-failure rate at
    most alpha when the fraction is at least 1/2 at every value and runs are independent. The runs of one seed
    share its problem; where the problem matters, the pooled interval is optimistic (a per-value decision from
    the measured spread needs tens of seeds: see ``needed`` of an inconclusive run)."""
    inside = gd_inside(pts, by, require_converged)
    k = sum(int(np.sum(r < factor)) for r in inside.values())
    total = sum(r.size for r in inside.values())
    failed = "unconverged or diverged runs" if require_converged else "diverged runs"
    pooled = fraction_claim(name, k, total, MIN_FRACTION, alpha=alpha / 2,
                            what=f"with L_gen(GD)/chance < {factor:g} (all {by}s)")
    guards = {x: fraction_claim(name, int(np.sum(r < factor)), r.size, MIN_FRACTION, alpha=alpha / (2 * len(inside)))
              for x, r in inside.items()}
    against = [x for x, c in guards.items() if c.verdict == "fail"]
    verdict = "fail" if against else pooled.verdict
    medians = {x: float(np.median(r)) for x, r in inside.items()}
    top = max(medians, key=medians.get)
    pooled.rule = (f"{pooled.rule}, at level alpha/2; and at each of the {len(inside)} {by}s the Clopper-Pearson "
                   f"interval (level alpha/{2 * len(inside)}) of its own fraction not wholly below {MIN_FRACTION:g} "
                   f"(else fail); {failed} count as outside; false-failure rate <= alpha when at least half "
                   f"the runs lie below the factor at every {by} (simulated in tests/test_gnc_claims.py)"
                   f"{'; ' + note if note else ''}")
    pooled.verdict = verdict
    pooled.predicted = f"fraction of runs below {factor:g} x chance > {MIN_FRACTION:g}"
    pooled.test += (f"; largest median ratio {medians[top]:.3g} at {by} {top}"
                    + (f"; contradicted at {by}s {against}" if against else ""))
    if verdict != "inconclusive":
        pooled.needed = None
    return pooled
