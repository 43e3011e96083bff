"""The claims the G&C checks share (verify/gnc/claims.py, verify/gnc/baseline.py): their false-failure rates at
the boundary of the claim, by simulation (the decay fit with Birge-ratio inflation and the pooled GD rule are
not textbook tests), and that each can fail."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.gnc.baseline import gd_claim
from verify.gnc.claims import decay_claim, limit_claim

WIDTHS = np.array([5, 20, 80, 320, 1280, 10240])


def test_decay_fit_rarely_fails_a_gap_that_does_not_grow():
    """At the boundary (a constant gap, β = 0) the rule may fail only with its two-sided tail, alpha/2."""
    rng = np.random.default_rng(11)
    alpha, reps, se = 0.1, 400, np.full(WIDTHS.size, 0.01)
    fails = sum(decay_claim("d", WIDTHS, 0.05 + se * rng.standard_normal(WIDTHS.size), se ** 2, [np.inf],
                            alpha=alpha, scale="power", runs=3, what="").verdict == "fail" for _ in range(reps))
    # binomial tolerance: 4.9 SE above alpha/2
    assert fails / reps <= alpha / 2 + 4.9 * np.sqrt(alpha / 2 * (1 - alpha / 2) / reps)


@settings(max_examples=10)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_decay_fit_recovers_a_power_law_and_passes_it(seed):
    rng = np.random.default_rng(seed)
    se = 0.002 * np.ones(WIDTHS.size)
    gaps = 0.5 * WIDTHS ** -0.5 + se * rng.standard_normal(WIDTHS.size)
    claim = decay_claim("d", WIDTHS, gaps, se ** 2, [np.inf], alpha=1e-3, scale="power", runs=3, what="")
    assert claim.verdict == "pass" and claim.ci[0] < 0.5 < claim.ci[1]


def test_decay_fit_fails_a_growing_gap_in_depth():
    depths = np.array([2, 4, 6, 8, 12, 16])
    cov = np.full((6, 6), 1e-8) + np.diag(np.full(6, 1e-7))  # shared limit term
    claim = decay_claim("d", depths, 0.01 * np.exp(0.1 * depths), cov, [np.inf], alpha=1e-3, scale="exp", runs=3,
                        what="")
    assert claim.verdict == "fail" and claim.measured < 0


def test_decay_fit_without_usable_points_says_what_is_missing():
    claim = decay_claim("d", [2, 4], [0.1, np.nan], [1e-4, 1e-4], [np.inf], alpha=1e-3, scale="exp", runs=3, what="")
    assert claim.verdict == "inconclusive" and claim.measured is None and "decay fit needs" in claim.test


def runs(fraction_inside, n_seeds, widths, rng):
    return [{"width": k, "gd_gen_loss": 1e-3 if rng.random() < fraction_inside else 0.5, "gd_converged": True,
             "chance_closed_form": 0.2, "C": 0.2} for k in widths for _ in range(n_seeds)]


def test_gd_rule_false_failure_rate_at_the_boundary():
    """Half of the runs below the factor at every width (the boundary of the claim): fail at most alpha."""
    rng = np.random.default_rng(5)
    alpha, reps = 0.1, 400
    fails = sum(gd_claim("gd", runs(0.5, 8, (5, 20, 80), rng), 0.1, alpha=alpha).verdict == "fail"
                for _ in range(reps))
    assert fails / reps <= alpha + 4.9 * np.sqrt(alpha * (1 - alpha) / reps)


def test_gd_rule_fails_where_one_width_is_bad_with_enough_seeds():
    rng = np.random.default_rng(0)
    good = runs(1.0, 30, (5, 20, 80), rng)
    bad = good + [{**q, "width": 320, "gd_gen_loss": 0.5} for q in good[:30]]
    assert gd_claim("gd", good, 0.1, alpha=1e-3).verdict == "pass"
    claim = gd_claim("gd", bad, 0.1, alpha=1e-3)
    assert claim.verdict == "fail" and "contradicted at widths [320]" in claim.test


@pytest.mark.parametrize("rtol, verdict", [(None, "fail"), (0.05, "pass"), (0.001, "fail")])
def test_limit_claim_agreement_and_equivalence(rtol, verdict):
    """0.8% above the limit with 0.2% SEs: agreement rejected, equivalence within 5% shown, within 0.1% refuted."""
    pts = [{"depth": 32, "seed": s, "G": 0.0605, "G_se": 1e-4, "G_limit": 0.06, "G_limit_se": 1e-4, "se_dof": 7,
            "G_limit_dof": 7} for s in range(3)]
    assert limit_claim("l", pts, "depth", alpha=0.01, rtol=rtol, target_dof="G_limit_dof").verdict == verdict
