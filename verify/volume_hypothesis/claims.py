"""The claims of ``volume_hypothesis`` and their rules (see the package docstring)."""
from __future__ import annotations

import math

import numpy as np

from verify.report import Claim
from verify.rules import agree, equivalent, interval_verdict, t_quantile, welch_combination_dof
from verify.verdicts import worst
from verify.volume_hypothesis.sweep import _unbinned


def _select(rows, binned=False, **kw):
    """Point rows matching ``kw``; G&C rows of the acceptance bins only with ``binned`` (else the unbinned)."""
    return [r for r in rows if r.get("kind") == "point" and all(r.get(k) == v for k, v in kw.items())
            and _unbinned(r) != binned]


def _cell_key(r):
    return (r["cell"], r["data_seed"], r["width"])


def _pooled_difference(a_rows, b_rows):
    """Mean over the cells present in both of (acc_a − acc_b), its SE (fixed effects) and Welch dof."""
    a = {_cell_key(r): r for r in a_rows if r["test_acc_se"] == r["test_acc_se"] and r["accepted"] >= 2}
    b = {_cell_key(r): r for r in b_rows if r["test_acc_se"] == r["test_acc_se"] and r["accepted"] >= 2}
    keys = sorted(set(a) & set(b))
    if not keys:
        return float("nan"), float("nan"), float("nan"), 0
    d = np.mean([a[k]["test_acc_mean"] - b[k]["test_acc_mean"] for k in keys])
    terms = [a[k]["test_acc_se"] ** 2 for k in keys] + [b[k]["test_acc_se"] ** 2 for k in keys]
    dofs = [len(a[k]["test_accs"]) - 1 for k in keys] + [len(b[k]["test_accs"]) - 1 for k in keys]
    se = math.sqrt(sum(terms)) / len(keys)
    return float(d), se, float(welch_combination_dof(terms, dofs)), len(keys)


def _pooled_mean(rows, key="test_acc_mean", se_key="test_acc_se"):
    rows = [r for r in rows if r.get(key) is not None and r[key] == r[key] and r.get(se_key) is not None
            and r[se_key] == r[se_key]]
    if not rows:
        return float("nan"), float("nan"), 0
    return float(np.mean([r[key] for r in rows])), math.sqrt(sum(r[se_key] ** 2 for r in rows)) / len(rows), len(rows)


def judge(rows: list[dict], p: dict) -> list[Claim]:
    alpha, delta = p["alpha"], p["margin"] / 100
    ns = sorted(int(n) for n in p["n_train"])
    claims = []
    biases = list(p["bias"])
    chiang_bias = True if True in biases else biases[0]
    ph_bias = False if False in biases else biases[0]
    if "gnc" in p["methods"] and "sgd" in p["methods"]:
        for n in ns:
            if "chiang" in p["protocols"]:
                d, se, dof, k = _pooled_difference(_select(rows, method="gnc", n=n, bias=chiang_bias),
                                                   _select(rows, method="sgd_chiang", n=n, bias=chiang_bias))
                c = equivalent(f"chiang_comparable[n={n}]", d, se, delta, alpha=alpha, dof=dof,
                               what=f"Δ = acc(G&C, bias={chiang_bias}) − acc(SGD chiang protocol) over {k} cell(s), "
                                    f"fixed-effects SE; pass: Chiang et al.'s 'comparable' holds at n = {n} within "
                                    f"±{p['margin']:g} points; fail: the gap exceeds it")
                claims.append(c)
            if "peleg_hein" in p["protocols"]:
                d, se, dof, k = _pooled_difference(_select(rows, method="sgd_peleg_hein", n=n, bias=ph_bias),
                                                   _select(rows, method="gnc", n=n, bias=ph_bias))
                q = t_quantile(2 * alpha, 1, dof) if k else float("nan")
                ci = (d - q * se, d + q * se)
                verdict = interval_verdict(ci, delta, math.inf) if k else "inconclusive"
                claims.append(Claim(
                    name=f"peleg_hein_gap[n={n}]", predicted=f"diff > {delta:g}", measured=d, ci=list(ci),
                    rule=(f"{100 * (1 - 2 * alpha):g}% CI of Δ' = acc(SGD peleg_hein) − acc(G&C, bias={ph_bias}) "
                          f"over {k} cell(s) above δ = {delta:g} (Peleg & Hein's 'well below' holds at n = {n}); "
                          f"wholly below δ: fail; straddling: inconclusive"),
                    verdict=verdict, test=f"diff {d:.3g}, CI [{ci[0]:.3g}, {ci[1]:.3g}] > {delta:g}"))
    if "gnc" in p["methods"] and "poisoned" in p["methods"]:
        for n in sorted({r["n"] for r in rows if r.get("method") == "sgd_poisoned"}):
            pb = next(r["bias"] for r in rows if r.get("method") == "sgd_poisoned")
            d, se, dof, k = _pooled_difference(_select(rows, method="gnc", n=n, bias=pb),
                                               _select(rows, method="sgd_poisoned", n=n, bias=pb))
            q = t_quantile(2 * alpha, 1, dof) if k else float("nan")
            ci = (d - q * se, d + q * se)
            claims.append(Claim(
                name=f"poisoned_sgd_below_gnc[n={n}]", predicted=f"diff > {delta:g}", measured=d, ci=list(ci),
                rule=(f"Chiang et al.'s control (Table 1): SGD fitting the n = {n} training images plus "
                      f"{p['poison_count']} held-out images with flipped labels reaches interpolating minima whose "
                      f"clean test accuracy is below G&C's by more than δ = {delta:g} ({100 * (1 - 2 * alpha):g}% CI "
                      f"of acc(G&C) − acc(poisoned) over {k} cell(s) above δ: pass; wholly below: fail); "
                      f"only runs that fit both sets count"),
                verdict=interval_verdict(ci, delta, math.inf) if k else "inconclusive",
                test=f"diff {d:.3g}, CI [{ci[0]:.3g}, {ci[1]:.3g}] > {delta:g}"))
    if "gnc" in p["methods"]:
        claims.append(_above_chance(rows, p, ns, biases, alpha))
        claims.append(_bits_claim(rows, p, ns, biases, alpha))
        ctrl = [r for r in rows if r.get("method") == "gnc_random_labels" and _unbinned(r)]
        if ctrl:
            claims += control_claims(ctrl, p, alpha, delta)
    return claims


def _above_chance(rows, p, ns, biases, alpha):
    tests, entries, verdicts = [], [], []
    for bias in biases:
        for n in ns:
            sel = _select(rows, method="gnc", n=n, bias=bias)
            m, se, k = _pooled_mean(sel)
            chance = 1 / sel[0]["n_classes"] if sel else 0.5
            tests.append((n, bias, m, se, chance))
    q = t_quantile(alpha, len(tests))
    for n, bias, m, se, chance in tests:
        ci = (m - q * se, m + q * se)
        verdicts.append(interval_verdict(ci, chance, math.inf))
        entries.append(f"n={n},b={int(bias)}: {m:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]")
    verdict = worst(verdicts)
    return Claim(name="gnc_above_chance", predicted="> chance", measured=[t[2] for t in tests],
                 ci=[[t[2] - q * t[3], t[2] + q * t[3]] for t in tests],
                 rule=(f"at every (n, bias) the CI of G&C's mean test accuracy (normal quantile {q:.2f}, Bonferroni "
                       f"over {len(tests)} points, family-wise alpha = {alpha:g}) lies above chance 1/C; any CI "
                       f"wholly below: fail; else inconclusive"),
                 verdict=verdict, test="; ".join(entries))


def _bits_claim(rows, p, ns, biases, alpha):
    judged = [n for n in ns if n >= p["bits_min_n"]]
    entries, verdicts = [], []
    q = t_quantile(alpha, max(1, len(judged) * len(biases)))
    measured = []
    for bias in biases:
        for n in ns:
            m, se, k = _pooled_mean(_select(rows, method="gnc", n=n, bias=bias), "bits", "bits_se")
            measured.append(m)
            ci = (m - q * se, m + q * se)
            if n in judged:
                v = interval_verdict(ci, -math.inf, n) if k else "inconclusive"
                verdicts.append(v)
                entries.append(f"n={n},b={int(bias)}: {m:.2f} [{ci[0]:.2f}, {ci[1]:.2f}] < {n} {v}")
            else:
                entries.append(f"n={n},b={int(bias)}: {m:.2f} (not judged)")
    verdict = worst(verdicts)
    return Claim(name="bits_below_n", predicted=f"bits < n for n >= {p['bits_min_n']}", measured=measured,
                 ci=None, rule=(f"true labels: CI of the mean −log2 p̂ over cells (quantile {q:.2f}, Bonferroni, "
                                f"alpha = {alpha:g}) below n at every n >= {p['bits_min_n']}; wholly above: fail; "
                                f"smaller n reported, not judged (n = 2: a balanced labeling is the true one up to "
                                f"the label swap)"),
                 verdict=verdict, test="; ".join(entries))


def control_claims(ctrl: list[dict], p: dict, alpha: float, delta: float) -> list[Claim]:
    """The random-label control (rules 5 and 6 of the module docstring) from the control rows."""
    cn = sorted({r["n"] for r in ctrl})
    q_n = None
    verdicts, entries, measured, cis = [], [], [], []
    for n in cn:
        ps = np.array([r["p_hat"] for r in ctrl if r["n"] == n])
        R = ps.size
        m, se = float(ps.mean()), float(ps.std(ddof=1) / math.sqrt(R)) if R > 1 else float("nan")
        q_n = t_quantile(alpha, len(cn), max(R - 1, 1))
        bound = 1 / math.comb(n, n // 2)
        ci = (m - q_n * se, m + q_n * se)
        v = interval_verdict(ci, -math.inf, bound) if R > 1 else "inconclusive"
        verdicts.append(v)
        measured.append(-math.log2(m) if m > 0 else math.inf)
        cis.append(list(ci))
        entries.append(f"n={n}: mean p̂ {m:.3g} [{ci[0]:.3g}, {ci[1]:.3g}] <= 1/C(n,n/2) = {bound:.3g} "
                       f"(bits {measured[-1]:.2f} >= n − slack = {math.log2(1 / bound):.2f}) {v}")
    verdict = worst(verdicts)
    bits_claim = Claim(
        name="random_label_bits", predicted="bits >= log2 C(n, n/2) = n - slack", measured=measured, ci=cis,
        rule=(f"balanced random labels: E_y[P(fit)] <= 1/C(n, n/2) for any prior; the Student-t CI (dof = labelings "
              f"− 1, Bonferroni over {len(cn)} n, alpha = {alpha:g}) of the mean p̂ over labelings below the bound: "
              f"pass; wholly above: fail; else inconclusive"),
        verdict=verdict, test="; ".join(entries))
    accs = np.array([r["test_acc_mean"] for r in ctrl if r["test_acc_mean"] == r["test_acc_mean"]])
    chance = 1 / ctrl[0]["n_classes"]
    if accs.size >= 2:
        chance_claim = agree("random_label_chance", float(accs.mean()), float(accs.std(ddof=1) / math.sqrt(accs.size)),
                             chance, alpha=alpha, dof=accs.size - 1,
                             what=(f"test accuracy (true test labels) of G&C fits to balanced random labels, mean over "
                                   f"{accs.size} labelings (SE across labelings); exactly {chance:g} in expectation "
                                   f"by the label-swap symmetry (a labeling and its complement are equally likely)"))
    else:
        chance_claim = Claim("random_label_chance", chance, float("nan"), None,
                             "needs >= 2 random labelings with accepted models", "inconclusive",
                             f"{accs.size} labeling(s) with accepted models < 2")
    return [bits_claim, chance_claim]
