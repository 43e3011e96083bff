"""Pooled estimates of ``volume_width`` that the claims and the figure share: per-width distances of G&C to its
limit, paired differences over cells, and the trend fit of the squared distance."""
from __future__ import annotations

import numpy as np

from verify.rules import SlopeFit, fit_linear, welch_combination_dof


def select(rows, **kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


def finite_rows(rows, key="test_acc_mean", se_key="test_acc_se"):
    return [r for r in rows if np.isfinite(r.get(key, np.nan)) and np.isfinite(r.get(se_key, np.nan))]


def clean(rows):
    """Rows with JSON null (a NaN when written) back to NaN, except the fields where None is a value."""
    return [{k: (float("nan") if v is None and k not in ("width", "classes", "pair") else v) for k, v in r.items()}
            for r in rows]


def limit_of(rows, r):
    lim = select(rows, method="nngp", inputs=r["inputs"], cell=r["cell"], data_seed=r["data_seed"], n=r["n"],
                 depth=r["depth"])
    return lim[0] if lim else None


def mean_difference(pairs, key="test_acc_mean", se_key="test_acc_se", dof_key="se_dof"):
    """Mean over pairs of a − b with its SE and Welch dof, from (row a, row b) pairs (a row without
    ``dof_key`` uses its ``se_dof``). The SE is the fixed-effects one: the cells are the question's."""
    if not pairs:
        return float("nan"), float("nan"), float("nan")
    d = np.array([a[key] - b[key] for a, b in pairs])
    terms = np.array([[a[se_key] ** 2, b[se_key] ** 2] for a, b in pairs]).reshape(-1) / len(pairs) ** 2
    dofs = np.array([[r.get(dof_key, r.get("se_dof", np.inf)) for r in ab] for ab in pairs]).reshape(-1)
    return float(d.mean()), float(np.sqrt(terms.sum())), float(welch_combination_dof(terms, dofs))


def configs(rows):
    return sorted({(r["n"], r["depth"]) for r in rows if r["method"] == "gnc_rb" and r["role"] == "sweep"})


def width_distances(rows, n: int, depth: int, inputs: str = "digits") -> list[dict]:
    """Per width: Δ = mean over cells of acc_G&C − acc_NNGP (and the same for bits), SE and dof."""
    gnc = select(rows, method="gnc_rb", role="sweep", inputs=inputs, n=n, depth=depth)
    out = []
    for w in sorted({r["width"] for r in gnc}):
        pairs = [(r, limit_of(rows, r)) for r in gnc if r["width"] == w]
        pairs = [(a, b) for a, b in pairs if b is not None]
        d, se, dof = mean_difference(pairs)
        db, dbse, bdof = mean_difference(pairs, "bits", "bits_se", "bits_se_dof")
        out.append({"width": w, "diff": d, "se": se, "dof": dof, "bits_diff": db, "bits_se": dbse, "bits_dof": bdof})
    return out


def pooled_distances(rows) -> list[dict]:
    """Per width: Δ_k averaged over every (n, depth) configuration that has width k."""
    per = [d for n, depth in configs(rows) for d in width_distances(rows, n, depth)]
    out = []
    for w in sorted({d["width"] for d in per}):
        ds = [d for d in per if d["width"] == w and np.isfinite(d["diff"])]
        if not ds:
            continue
        terms = np.array([d["se"] ** 2 for d in ds]) / len(ds) ** 2
        bterms = np.array([d["bits_se"] ** 2 for d in ds]) / len(ds) ** 2
        bdof = float(welch_combination_dof(bterms, [d["bits_dof"] for d in ds]))
        out.append({"width": w, "diff": float(np.mean([d["diff"] for d in ds])), "se": float(np.sqrt(terms.sum())),
                    "dof": float(welch_combination_dof(terms, [d["dof"] for d in ds])), "configs": len(ds),
                    "bits_diff": float(np.mean([d["bits_diff"] for d in ds])), "bits_se": float(np.sqrt(bterms.sum())),
                    "bits_dof": bdof})
    return out


DOF_KEY = {"diff": "dof", "bits_diff": "bits_dof"}


def squared_distances(dist: list[dict], key: str = "diff", se_key: str = "se"):
    """Per width: ``D_k = Δ_k² − SE_k²`` (unbiased for the squared true distance δ_k² when Δ_k is normal
    around δ_k) and its plug-in variance ``4 max(D_k, 0) SE_k² + 2 SE_k⁴``; widths with a finite Δ only."""
    use = [d for d in dist if np.isfinite(d[key]) and np.isfinite(d[se_key])]
    w = np.array([d["width"] for d in use], float)
    delta, se = np.array([d[key] for d in use]), np.array([d[se_key] for d in use])
    D = delta ** 2 - se ** 2
    var = 4 * np.maximum(D, 0.0) * se ** 2 + 2 * se ** 4
    return w, D, var, np.array([d[DOF_KEY[key]] for d in use], float)


def distance_fit(dist: list[dict], alpha: float, key: str = "diff", se_key: str = "se") -> SlopeFit | None:
    """Ordinary least squares of ``D_k`` on log2 k over every width (no width dropped), with the sandwich
    variance from the per-width variances and the smallest dof; ``None`` with fewer than 3 widths. For any
    true δ_k² that decreases in k the least-squares slope is negative (Chebyshev's sum inequality), for one
    that increases it is positive, so the sign of the slope is the trend whatever the rate."""
    w, D, var, dof = squared_distances(dist, key, se_key)
    if w.size < 3:
        return None
    return fit_linear(np.log2(w), D, var, level=1 - alpha, weights=np.ones_like(w), dof=float(np.min(dof)))
