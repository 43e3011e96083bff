"""Statistical rules shared by every check.

Each rule returns a :class:`verify.report.Claim`, which records what was predicted, what was measured, the
confidence interval, the rule in words, the statistic against its threshold (``test``) and the verdict.
One verdict rule everywhere: ``fail`` only when the data contradict the prediction at the stated level,
``inconclusive`` when they neither support nor contradict it (a CI straddling the boundary), ``vacuous`` for a
bound that holds but lies above chance. The false-failure rate of a rule is its stated
``alpha`` when the prediction is true and the estimates are (asymptotically) normal; rules over several
points use a Bonferroni correction, so the family-wise false-failure rate stays at most ``alpha``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from verify.report import Claim

DEFAULT_ALPHA = 1e-3  # per claim: a true prediction fails a check with probability at most 0.1%


def t_quantile(alpha: float, n_tests: int = 1, dof=np.inf):
    """Two-sided Student-t quantile (``dof`` degrees of freedom; ∞ gives the normal one), Bonferroni over ``n_tests``."""
    q = stats.t.ppf(1.0 - alpha / (2.0 * max(n_tests, 1)), np.asarray(dof, float))
    return float(q) if np.ndim(q) == 0 else q


def welch_dof(se_a, dof_a, se_b=0.0, dof_b=np.inf):
    """Welch–Satterthwaite degrees of freedom of ``sqrt(se_a² + se_b²)`` (∞ where both SEs are known, i.e. dof ∞).

    Standard errors from R independent replicates have R − 1 degrees of freedom; from many i.i.d. draws, ∞ in
    practice. The result is at least ``min(dof_a, dof_b)`` over the terms with a nonzero SE.
    """
    se_a, dof_a, se_b, dof_b = np.broadcast_arrays(*(np.asarray(v, float) for v in (se_a, dof_a, se_b, dof_b)))
    return welch_combination_dof(np.stack([se_a ** 2, se_b ** 2], -1), np.stack([dof_a, dof_b], -1))


def welch_combination_dof(terms, dof):
    """Welch–Satterthwaite dof of ``Σ_i terms_i`` (last axis), ``terms_i`` variance estimates with ``dof_i``:
    ``(Σ terms)² / Σ terms²/dof`` (∞ when every nonzero term has infinite dof)."""
    terms, dof = np.broadcast_arrays(np.asarray(terms, float), np.asarray(dof, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = np.sum(np.where(terms > 0, terms ** 2 / np.maximum(dof, 1e-12), 0.0), axis=-1)
        out = np.where(denom > 0, np.sum(terms, axis=-1) ** 2 / denom, np.inf)
    return float(out) if out.ndim == 0 else out


def welch_limit(se_a: float, dof_a: float, se_b: float, dof_b: float, alpha: float) -> float:
    """Largest |difference| of two independent estimates consistent at two-sided level ``alpha``: the Student-t
    quantile with Welch–Satterthwaite degrees of freedom times the combined SE."""
    var = se_a ** 2 + se_b ** 2
    return 0.0 if var == 0 else t_quantile(alpha, 1, welch_dof(se_a, dof_a, se_b, dof_b)) * float(np.sqrt(var))


def t_to_z(t, dof):
    """The normal score with the same tail probability as ``t`` under Student t with ``dof`` degrees of freedom
    (exact when t is t-distributed; the identity at dof = ∞). Lets t-statistics enter chi-square sums."""
    t, dof = np.broadcast_arrays(np.asarray(t, float), np.asarray(dof, float))
    finite = np.isfinite(dof)
    out = t.copy()
    if finite.any():
        # the upper tail on |t| keeps precision far out (no 1 − tiny cancellation)
        a, nu = np.abs(t[finite]), dof[finite]
        z = stats.norm.isf(stats.t.sf(a, nu))
        # beyond float range (tail < 1e-308, where every test here is decisive): the leading-order
        # asymptote sqrt(ν ln(1 + t²/ν)), which is monotone in |t| and tends to |t| as ν → ∞
        far = ~np.isfinite(z)
        z[far] = np.sqrt(nu[far] * np.log1p(a[far] ** 2 / nu[far]))
        out[finite] = np.sign(t[finite]) * z
    return out


def agree(name: str, measured, se, predicted, *, alpha: float = DEFAULT_ALPHA, pred_se=0.0,
          what: str = "", dof=np.inf, pred_dof=np.inf) -> Claim:
    """Claim that every measured value equals its prediction within a Bonferroni interval.

    Rule: for each i, |measured_i - predicted_i| <= q_i * sqrt(se_i^2 + pred_se_i^2), q_i the two-sided
    quantile at level ``alpha / N`` of Student t with the Welch degrees of freedom of the two SEs (``dof``,
    ``pred_dof``: R − 1 for replicate SEs; ∞, the default, gives the normal quantile). A false failure
    happens with probability <= alpha when the prediction is exact and the estimates are normal. Non-finite
    inputs make the claim inconclusive.
    """
    measured, se, predicted, pred_se, dof, pred_dof = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(v, dtype=float)) for v in (measured, se, predicted, pred_se, dof, pred_dof)))
    n = measured.size
    nu = np.atleast_1d(welch_dof(se, dof, pred_se, pred_dof))
    z = np.atleast_1d(t_quantile(alpha, n, nu))
    sd = np.sqrt(se ** 2 + pred_se ** 2)
    ok = np.isfinite(measured) & np.isfinite(sd) & np.isfinite(predicted)
    quantile = (f"{z.max():.2f}" if np.all(np.isinf(nu)) else
                f"the Student-t quantile (Welch dof >= {nu.min():.3g}, at most {z.max():.2f})")
    rule = (f"|measured - predicted| <= {quantile} * combined SE at each of {n} point(s) "
            f"(two-sided, family-wise alpha = {alpha:g}, Bonferroni){'; ' + what if what else ''}")
    if not ok.all():
        verdict, worst = "inconclusive", float("nan")
    else:
        worst = float(np.max(np.abs(measured - predicted) / np.where(z * sd > 0, z * sd, np.inf)))
        if np.any((z * sd == 0) & (measured != predicted)):
            worst = float("inf")
        verdict = "pass" if worst <= 1 else "fail"
    half = z * sd
    return Claim(name=name, predicted=_scalar(predicted), measured=_scalar(measured),
                 ci=[_scalar(measured - half), _scalar(measured + half)], rule=rule, verdict=verdict,
                 test=f"max |measured - predicted| / (q * SE) = {worst:.3g} <= 1")


def chi2_statistic(measured, se, predicted, pred_se=0.0, dof=np.inf, pred_dof=np.inf) -> tuple[float, int]:
    """``Σ_i z_i²`` and the number of terms, ``z_i = (measured_i − predicted_i) / sqrt(se_i² + pred_se_i²)``
    mapped by :func:`t_to_z` when the SEs have finite (Welch) degrees of freedom."""
    measured, se, predicted, pred_se, dof, pred_dof = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(v, dtype=float)) for v in (measured, se, predicted, pred_se, dof, pred_dof)))
    t = (measured - predicted) / np.sqrt(se ** 2 + pred_se ** 2)
    return float(np.sum(t_to_z(t, welch_dof(se, dof, pred_se, pred_dof)) ** 2)), measured.size


def agree_chi2(name: str, measured, se, predicted, *, alpha: float = DEFAULT_ALPHA, pred_se=0.0,
               what: str = "", reject: bool = False, dof=np.inf, pred_dof=np.inf) -> Claim:
    """Claim that measured values equal predictions jointly: ``T = Σ z_i² <= χ²_N(1 − alpha)``.

    Unlike :func:`agree`, deviations of mixed signs accumulate instead of cancelling. The false-failure
    rate is alpha when the predictions are exact and the estimates normal; t-statistics of replicate SEs
    (finite ``dof`` / ``pred_dof``) are first mapped to normal scores of equal tail probability. With
    ``reject=True`` the claim is the opposite (the prediction is *rejected*: ``T > χ²_N(1 − alpha)``), used
    to show that a wrong prediction is caught; its false-pass rate is then alpha.
    """
    T, n = chi2_statistic(measured, se, predicted, pred_se, dof, pred_dof)
    limit = float(stats.chi2.ppf(1 - alpha, df=n))
    sign = ">" if reject else "<="
    rule = (f"T = sum of squared z-scores over {n} point(s) {sign} chi2_{n} quantile {limit:.3g} "
            f"(level 1 - {alpha:g}){'; ' + what if what else ''}")
    if reject:  # the claim is "the prediction is wrong": not rejecting it does not contradict the claim
        rule += "; not rejecting is inconclusive (the data lack the power to tell), not a failure"
    if not np.isfinite(T):
        verdict = "inconclusive"
    elif reject:
        verdict = "pass" if T > limit else "inconclusive"
    else:
        verdict = "pass" if T <= limit else "fail"
    return Claim(name=name, predicted=_scalar(predicted), measured=_scalar(measured), ci=[0.0, limit],
                 rule=rule + f"; T = {T:.3g}", verdict=verdict, test=f"T = {T:.3g} {sign} {limit:.3g}")


@dataclass(frozen=True)
class SlopeFit:
    slope: float
    intercept: float
    slope_se: float
    ci: tuple[float, float]
    n_points: int
    intercept_se: float = float("nan")
    dof: float = float("inf")  # degrees of freedom of the slope's interval


ESTIMATED_WEIGHTS_MIN_DOF = 100  # below this, weights 1/v from estimated variances make WLS intervals too narrow


def fit_linear(x, y, cov, *, level: float, weights=None, dof=np.inf) -> SlopeFit:
    """Least squares ``y = a + b x`` with the sandwich variance under the full covariance ``cov``.

    ``cov`` is a covariance matrix or a vector of variances; ``dof`` (scalar or per point) the degrees of
    freedom of those variances (∞: known, e.g. Monte Carlo variances from many draws). ``weights`` default
    to 1/diag(cov) (weighted least squares) and the CI uses the normal quantile, or Student t with the
    smallest dof. Weights from variances estimated with few replicates are correlated with the noise and
    make that interval too narrow (measured, nominal 5 %: 7.8 % misses with 4 replicates, 5.4 % with 30,
    5.2 % with 100; ``tests/test_rules.py``), so when some dof is below ``ESTIMATED_WEIGHTS_MIN_DOF`` and no
    weights are given the fit is ordinary least squares: its slope is a fixed combination ``c·y`` whose
    variance ``Σ c_i² v_i`` gets the Welch–Satterthwaite dof ``(Σ c_i² v_i)² / Σ (c_i² v_i)²/ν_i`` (vector
    ``cov``; a full matrix uses the smallest dof, which is conservative).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    cov = np.asarray(cov, float)
    diagonal = cov.ndim == 1
    cov = np.diag(cov) if diagonal else cov
    if x.size < 3:
        raise ValueError("a linear fit needs at least 3 points")
    nu = np.broadcast_to(np.asarray(dof, float), x.shape)
    few = bool(np.min(nu) < ESTIMATED_WEIGHTS_MIN_DOF)
    if weights is None:
        w = np.ones_like(x) if few else 1.0 / np.diag(cov)
    else:
        w = np.asarray(weights, float)
    X = np.column_stack([np.ones_like(x), x])
    bread = np.linalg.inv(X.T @ (w[:, None] * X))
    H = bread @ (X.T * w)  # coefficients = H y
    coef = H @ y
    var = H @ cov @ H.T
    se = float(np.sqrt(var[1, 1]))
    eff = float(np.min(nu))
    if few and weights is None and diagonal:
        eff = float(welch_combination_dof(H[1] ** 2 * np.diag(cov), nu))
    q = t_quantile(1 - level, 1, eff)
    b = float(coef[1])
    return SlopeFit(slope=b, intercept=float(coef[0]), slope_se=se, ci=(b - q * se, b + q * se), n_points=x.size,
                    intercept_se=float(np.sqrt(var[0, 0])), dof=eff)


def fit_loglog_slope(x, y, y_se=None, *, level: float = 1 - DEFAULT_ALPHA, dof: float = np.inf) -> SlopeFit:
    """Weighted least-squares fit of ``log y = a + b log x`` with a ``level`` confidence interval on b.

    ``y_se`` (standard errors of y) gives weights 1/se(log y)^2 = (y/se)^2 and the CI uses the normal
    quantile with the known variances; without it the fit is ordinary least squares with a Student-t CI.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    lx, ly = np.log(x), np.log(y)
    n = lx.size
    if n < 3:
        raise ValueError("a slope fit needs at least 3 points")
    if y_se is not None:  # se(log y) = se(y)/y to first order
        return fit_linear(lx, ly, (np.asarray(y_se, float) / y) ** 2, level=level, dof=dof)
    X = np.column_stack([np.ones(n), lx])
    coef, *_ = np.linalg.lstsq(X, ly, rcond=None)
    resid = ly - X @ coef
    s2 = resid @ resid / max(n - 2, 1)
    cov = s2 * np.linalg.inv(X.T @ X)
    q = stats.t.ppf(0.5 + level / 2, df=max(n - 2, 1))
    se = float(np.sqrt(cov[1, 1]))
    b = float(coef[1])
    return SlopeFit(slope=b, intercept=float(coef[0]), slope_se=se, ci=(b - q * se, b + q * se), n_points=n)


def interval_verdict(ci, low: float = -np.inf, high: float = np.inf) -> str:
    """The one three-valued rule for a confidence interval against a predicted open range (low, high):
    ``pass`` if the CI lies strictly inside it, ``fail`` if it lies wholly outside, ``inconclusive`` if it
    touches or straddles a boundary, is not finite, or has width zero (a zero SE supports no strict
    inequality)."""
    a, b = float(ci[0]), float(ci[1])
    if not (np.isfinite(a) or np.isfinite(b)) or np.isnan(a) or np.isnan(b):
        return "inconclusive"
    if low < a and b < high and a < b:
        return "pass"
    if b < low or a > high:
        return "fail"
    return "inconclusive"


def runs_needed(estimate: float, se: float, runs: int, low: float = -np.inf, high: float = np.inf, *,
                alpha: float, power: float = 0.8, two_sided: bool = True, unit: str = "runs") -> str | None:
    """For an undecided interval claim, how many runs (``unit``: "data seeds", ...) the observed effect and
    SE imply for a decision.

    With ``runs`` runs giving standard error ``se``, ``N`` runs give ``se·sqrt(runs/N)``; a decision needs the
    distance ``d`` from ``estimate`` to the nearest finite boundary of (low, high) to exceed
    ``(t_{1−α/2} + t_power)·se_N`` (Student t on N − 1 degrees of freedom): the smallest such N (more than
    ``runs``), found by doubling and bisection. ``None`` when the inputs
    are not usable numbers; a sentence when the SE is zero or the effect sits on the boundary."""
    bounds = [b for b in (low, high) if np.isfinite(b)]
    if not bounds or not (np.isfinite(estimate) and np.isfinite(se) and runs and runs > 0):
        return None
    if se == 0:
        return f"a zero SE (every run tied): more {unit}, so that the SE can be estimated"
    d = min(abs(estimate - b) for b in bounds)
    if d <= 1e-12 * max(1.0, abs(estimate)):
        return f"not decidable: the estimate {estimate:.3g} sits on the boundary {bounds[0]:g}"
    # Student-t quantiles on N − 1 degrees of freedom (normal ones undershoot badly with few runs: measured,
    # 7 seeds predicted where 24 were needed); q(N)·se·sqrt(runs/N) falls with N: doubling, then bisection
    side = 1 - alpha / (2 if two_sided else 1)

    def decided(n: int) -> bool:
        q = stats.t.ppf(side, n - 1) + stats.t.ppf(power, n - 1)
        return q * se * np.sqrt(runs / n) <= d

    lo, hi = runs, runs + 1
    while not decided(hi):
        if hi > 10 ** 9:
            return f"more than 10^9 {unit} (now {runs}): the effect {estimate:.3g} is too close to the boundary"
        lo, hi = hi, 2 * hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if decided(mid) else (mid, hi)
    n = max(hi, 2)
    return (f"about {n} {unit} (now {runs}) for a decision at alpha = {alpha:.2g} with 80% power, "
            f"if the effect {estimate:.3g} and the SE per run stay as measured")


def slope_within(name: str, fit: SlopeFit, low: float, high: float, *, what: str = "") -> Claim:
    """Claim that a fitted log-log slope lies in the band [low, high]: pass if its CI lies inside the band,
    fail if it lies wholly outside, else inconclusive (:func:`interval_verdict`)."""
    rule = (f"CI of the fitted log-log slope inside [{low:g}, {high:g}] over {fit.n_points} points "
            f"(wholly outside: fail; straddling: inconclusive){'; ' + what if what else ''}")
    return Claim(name=name, predicted=[low, high], measured=fit.slope, ci=list(fit.ci), rule=rule,
                 verdict=interval_verdict(fit.ci, low, high),
                 test=f"slope {fit.slope:.3g}, CI [{fit.ci[0]:.3g}, {fit.ci[1]:.3g}] vs [{low:g}, {high:g}]")


def slope_negative(name: str, fit: SlopeFit, *, level: float, what: str = "") -> Claim:
    """Claim that a fitted log-log slope is negative: pass if the upper end of its ``level`` CI is below 0,
    fail if the lower end is above 0, inconclusive if the CI straddles 0."""
    rule = (f"upper end of the {100 * level:g}% CI of the fitted log-log slope < 0 "
            f"over {fit.n_points} points (lower end > 0: fail; straddling 0: inconclusive)"
            f"{'; ' + what if what else ''}")
    return Claim(name=name, predicted="< 0", measured=fit.slope, ci=list(fit.ci), rule=rule,
                 verdict=interval_verdict(fit.ci, -np.inf, 0.0),
                 test=f"slope {fit.slope:.3g}, CI [{fit.ci[0]:.3g}, {fit.ci[1]:.3g}] < 0")


def equivalent(name: str, difference: float, se: float, tolerance: float, *, alpha: float = DEFAULT_ALPHA,
               dof=np.inf, what: str = "", bounds: tuple[float, float] | None = None, runs: int | None = None,
               unit: str = "runs") -> Claim:
    """Equivalence claim |Δ| < ``tolerance`` (two one-sided tests at level ``alpha``).

    The (1 − 2 alpha) CI of Δ is Δ ± q·se with q the one-sided Student-t quantile (``dof``), clipped to
    ``bounds`` for a bounded quantity: pass if it lies inside (−tol, tol) (equivalence shown; false-pass rate
    ≤ alpha when |Δ| = tol), fail if it lies wholly outside (a difference larger than the tolerance shown;
    false-failure rate ≤ alpha when |Δ| ≤ tol), inconclusive otherwise (too little data to tell; with
    ``runs``, ``needed`` says how many would decide it).
    """
    q = t_quantile(2 * alpha, 1, dof)
    lo, hi = float(difference - q * se), float(difference + q * se)
    if bounds is not None and np.isfinite(lo) and np.isfinite(hi):
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    verdict = "inconclusive" if not np.isfinite(difference + se) else interval_verdict((lo, hi), -tolerance, tolerance)
    if verdict == "inconclusive" and (hi < -tolerance or lo > tolerance):
        verdict = "fail"
    rule = (f"{100 * (1 - 2 * alpha):g}% CI of the difference inside ±{tolerance:g} (TOST, alpha = {alpha:g}); "
            f"wholly outside: fail; straddling: inconclusive{'; ' + what if what else ''}")
    needed = (runs_needed(difference, se, runs, -tolerance, tolerance, alpha=2 * alpha, unit=unit)
              if verdict == "inconclusive" and runs else None)
    return Claim(name=name, predicted=f"|diff| < {tolerance:g}", measured=float(difference), ci=[lo, hi], rule=rule,
                 verdict=verdict, test=f"diff {difference:.3g}, CI [{lo:.3g}, {hi:.3g}] within ±{tolerance:g}",
                 needed=needed, runs=runs)


def bound_claim(name: str, measured: float, upper_ci: float, lower_ci: float, bound: float, chance: float, *,
                what: str = "") -> Claim:
    """A bound ``measured <= bound``: fail if the CI of ``measured`` lies wholly above it, ``vacuous`` if it
    holds but the bound is not below ``chance`` (it says nothing beyond ignoring the data), pass if it holds
    with the bound below chance, inconclusive if the CI straddles the bound."""
    if not np.isfinite(measured + bound):
        verdict = "inconclusive"
    elif lower_ci > bound:
        verdict = "fail"
    elif upper_ci > bound:
        verdict = "inconclusive"
    else:
        verdict = "vacuous" if bound >= chance else "pass"
    rule = (f"CI of the measured value below the bound (wholly above: fail; straddling: inconclusive); a bound "
            f">= chance ({chance:.3g}) that holds is vacuous{'; ' + what if what else ''}")
    return Claim(name=name, predicted=f"<= {bound:.4g}", measured=float(measured), ci=[float(lower_ci), float(upper_ci)],
                 rule=rule, verdict=verdict,
                 test=f"{measured:.3g} (CI up to {upper_ci:.3g}) <= bound {bound:.3g}; chance {chance:.3g}")


def _scalar(a):
    a = np.asarray(a, float)
    return float(a.reshape(-1)[0]) if a.size == 1 else a.tolist()


def interval_claim(name: str, estimate: float, se: float, low: float = -np.inf, high: float = np.inf, *,
                   alpha: float, dof=np.inf, runs: int | None = None, bounds: tuple[float, float] | None = None,
                   predicted=None, what: str = "", unit: str = "", runs_unit: str = "runs") -> Claim:
    """The interval rule on one estimate: the two-sided (1 − alpha) t interval ``estimate ± q·se`` (``dof``
    degrees of freedom; clipped to ``bounds`` for a bounded quantity, e.g. (−1, 1) for a difference of
    accuracies) against the open range (low, high) (:func:`interval_verdict`: a zero or non-finite SE never
    passes). When it is inconclusive, ``needed`` says how many runs would decide it (:func:`runs_needed`).
    False-failure rate: at most alpha/2 per boundary when the estimate is (t-)normal."""
    q = t_quantile(alpha, 1, dof)
    ok = np.isfinite(estimate) and np.isfinite(se)
    lo, hi = (float(estimate - q * se), float(estimate + q * se)) if ok else (float("nan"), float("nan"))
    if bounds is not None and ok:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    verdict = interval_verdict((lo, hi), low, high) if ok else "inconclusive"
    band = _band(low, high)
    rule = (f"{100 * (1 - alpha):.4g}% CI of {what or 'the estimate'} inside {band} (open; wholly outside: "
            f"fail; touching or straddling, or a zero SE: inconclusive)")
    needed = (runs_needed(estimate, se, runs or 0, low, high, alpha=alpha, unit=runs_unit)
              if verdict == "inconclusive" else None)
    return Claim(name=name, predicted=band if predicted is None else predicted,
                 measured=float(estimate) if ok else None, ci=[lo, hi] if ok else None, rule=rule,
                 verdict=verdict, test=f"{estimate:.3g}{unit}, CI [{lo:.3g}, {hi:.3g}] in {band}",
                 needed=needed, runs=runs)


def mean_claim(name: str, values, low: float = -np.inf, high: float = np.inf, *, alpha: float,
               bounds: tuple[float, float] | None = None, what: str = "") -> Claim:
    """The across-seed (or across-run) mean of ``values`` against the open range (low, high), with the
    Student-t interval on R − 1 degrees of freedom (:func:`interval_claim`). Non-finite values are dropped
    and said; fewer than 2 finite values is inconclusive with what is missing. More runs only sharpen it."""
    v = np.asarray([np.nan if x is None else x for x in values], float)
    finite = v[np.isfinite(v)]
    dropped = v.size - finite.size
    label = f"the mean over {finite.size} runs of {what or name}" + (f" ({dropped} non-finite dropped)" if dropped else "")
    if finite.size < 2:
        return missing_claim(name, f"{finite.size} of {v.size} runs gave a finite {what or 'value'}; a mean "
                                   "interval needs 2", predicted=_band(low, high))
    se = float(finite.std(ddof=1) / np.sqrt(finite.size))
    return interval_claim(name, float(finite.mean()), se, low, high, alpha=alpha, dof=finite.size - 1,
                          runs=int(finite.size), bounds=bounds, what=label)


def fraction_claim(name: str, inside: int, total: int, min_fraction: float, *, alpha: float, what: str = "") -> Claim:
    """The fraction of runs inside a band, judged by its exact (Clopper–Pearson) two-sided (1 − alpha)
    interval against ``min_fraction``: pass if the lower end is above it, fail if the upper end is below
    it, else inconclusive. Replaces "every run inside the band", whose pass probability p^S falls with S;
    with this rule more runs only sharpen the verdict. False-failure rate at most alpha/2 when the true
    fraction is at least ``min_fraction``."""
    if total <= 0:
        return missing_claim(name, f"0 usable runs for {what or 'the fraction'}", predicted=f">= {min_fraction:g}")
    lo = float(stats.beta.ppf(alpha / 2, inside, total - inside + 1)) if inside > 0 else 0.0
    hi = float(stats.beta.ppf(1 - alpha / 2, inside + 1, total - inside)) if inside < total else 1.0
    verdict = "pass" if lo > min_fraction else "fail" if hi < min_fraction else "inconclusive"
    needed = None
    if verdict == "inconclusive":
        p = inside / total
        needed = runs_needed(p, np.sqrt(max(p * (1 - p), 1.0 / total) / total), total, min_fraction, alpha=alpha)
    return Claim(name=name, predicted=f"fraction >= {min_fraction:g}", measured=inside / total, ci=[lo, hi],
                 rule=(f"exact {100 * (1 - alpha):.4g}% (Clopper-Pearson) interval of the fraction of runs "
                       f"{what or 'inside the band'} above {min_fraction:g} (below: fail; straddling: inconclusive)"),
                 verdict=verdict, test=f"{inside} of {total} runs, CI [{lo:.3g}, {hi:.3g}] vs {min_fraction:g}",
                 needed=needed, runs=total)


def missing_claim(name: str, reason: str, *, predicted=None) -> Claim:
    """An inconclusive claim without usable data, saying what is missing (never a bare ``nan``)."""
    return Claim(name=name, predicted=predicted, measured=None, ci=None, rule="no usable data", verdict="inconclusive",
                 test=reason, needed=f"data: {reason}")


def _band(low: float, high: float) -> str:
    if np.isfinite(low) and np.isfinite(high):
        return f"({low:g}, {high:g})"
    if np.isfinite(low):
        return f"> {low:g}"
    if np.isfinite(high):
        return f"< {high:g}"
    return "any value"
