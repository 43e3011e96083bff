"""volume_width's claims on planted rows: each claim fails when the data contradict it, a zero SE never passes
a strict inequality, intervals of accuracy differences stay in [−1, 1], inconclusive claims say what is
needed, and the squared-distance trend rule's false-failure rate (simulated; not a textbook fact)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.volume_width import CLAIMS, PARAMS, judge
from verify.volume_width.claims import distance_claim

WIDTHS = (8, 64, 512)
P = {**PARAMS.quick, "alpha": 0.01, "n_train": [8], "depth": [1, 2], "widths": list(WIDTHS), "seeds": 2}


def planted(*, gnc=lambda w, d: 0.0, sgd=lambda w, d: 0.80 + 0.02 * np.log2(w / 8) / 6 - 0.02 * (d - 1),
            limit=lambda d: 0.88 - 0.01 * (d - 1), identity=0.5, se=0.002, sgd_se=0.004, bits_gap=lambda w: 0.0):
    """Rows of two data seeds of one pair, n = 8, depths 1 and 2: the limit at ``limit(depth)``, G&C at the
    limit + ``gnc(width, depth)``, SGD at ``sgd(width, depth)``; the one-hot contrast at ``identity``; the
    prior-scale control equal at both scales. Values are set, not drawn: the SEs say how precise they are."""
    rows = []
    base = dict(cell="0v7", n=8, activation="relu", prior="uniform", bias=False, scale=1.0)
    for s in (0, 1):
        for d in (1, 2):
            lim = limit(d)
            rows.append(dict(base, method="nngp", inputs="digits", role="sweep", data_seed=s, depth=d, width=None,
                             test_acc_mean=lim, test_acc_se=se, se_dof=50.0, bits=6.0, bits_se=0.01, bits_se_dof=50.0,
                             kernel_offdiag_spread=0.5))
            for w in WIDTHS:
                rows.append(dict(base, method="gnc_rb", inputs="digits", role="sweep", data_seed=s, depth=d, width=w,
                                 test_acc_mean=lim + gnc(w, d), test_acc_se=se, se_dof=1000.0,
                                 bits=6.0 + bits_gap(w), bits_se=0.01, ess=1000.0))
                rows.append(dict(base, method="sgd", inputs="digits", role="sweep", data_seed=s, depth=d, width=w,
                                 test_acc_mean=sgd(w, d), test_acc_se=sgd_se, se_dof=2.0, runs=3, fitted=3))
    for sc in (1.0, 0.1):
        rows.append(dict(base, method="gnc_rb", inputs="digits", role="invariance", data_seed=0, depth=1, width=64,
                         scale=sc, test_acc_mean=0.87, test_acc_se=se, se_dof=1000.0, bits=6.0, bits_se=0.01))
    for d in (1, 2):
        rows.append(dict(base, method="nngp", inputs="identity", role="contrast", data_seed=0, depth=d, width=None,
                         test_acc_mean=identity, test_acc_se=0.0, se_dof=np.inf, bits=8.0, bits_se=0.01,
                         kernel_offdiag_spread=0.3))
    rows.append(dict(base, method="gnc_rb", inputs="identity", role="contrast", data_seed=0, depth=1, width=8,
                     test_acc_mean=identity, test_acc_se=se, se_dof=1000.0, bits=8.0, bits_se=0.01))
    return rows


def verdicts(rows, p=P):
    return {c.name.split("[")[0]: c for c in judge(rows, p)}


def test_planted_rows_that_agree_with_every_claim_pass_the_published_and_control_claims():
    got = verdicts(planted())
    for key in ("gnc_flat_in_width", "sgd_rises_with_width", "depth_hurts_gnc", "depth_hurts_sgd", "depth_trend_nngp",
                "identity_inputs_at_chance", "digits_limit_above_chance", "prior_scale_invariance",
                "equivalent_at_largest_width"):
        assert got[key].verdict == "pass", (key, got[key])
    assert set(got) == set(CLAIMS)
    for c in got.values():
        assert c.tier == CLAIMS[c.key].tier and c.source and c.key in CLAIMS


@pytest.mark.falsifies("volume_width", "gnc_flat_in_width")
def test_gnc_rising_with_width_fails_flat_in_width():
    got = verdicts(planted(gnc=lambda w, d: 0.03 * np.log2(w / 8) / 6 - 0.03))  # 3 points up from width 8 to 512
    assert got["gnc_flat_in_width"].verdict == "fail"


@pytest.mark.falsifies("volume_width", "sgd_rises_with_width")
def test_sgd_falling_with_width_fails():
    got = verdicts(planted(sgd=lambda w, d: 0.85 - 0.03 * np.log2(w / 8) / 6))
    assert got["sgd_rises_with_width"].verdict == "fail"


@pytest.mark.falsifies("volume_width", "depth_hurts_gnc", "depth_trend_nngp")
def test_depth_helping_gnc_and_the_limit_fails_the_depth_claims():
    got = verdicts(planted(limit=lambda d: 0.86 + 0.02 * (d - 1)))
    assert got["depth_hurts_gnc"].verdict == "fail"
    assert got["depth_trend_nngp"].verdict == "fail"


@pytest.mark.falsifies("volume_width", "depth_hurts_sgd")
def test_depth_helping_sgd_fails():
    got = verdicts(planted(sgd=lambda w, d: 0.80 + 0.03 * (d - 1)))
    assert got["depth_hurts_sgd"].verdict == "fail"


@pytest.mark.falsifies("volume_width", "identity_inputs_at_chance")
def test_one_hot_contrast_off_chance_fails():
    assert verdicts(planted(identity=0.6))["identity_inputs_at_chance"].verdict == "fail"


@pytest.mark.falsifies("volume_width", "digits_limit_above_chance")
def test_limit_below_chance_fails():
    assert verdicts(planted(limit=lambda d: 0.4))["digits_limit_above_chance"].verdict == "fail"


@pytest.mark.falsifies("volume_width", "equivalent_at_largest_width")
def test_gnc_off_its_limit_at_the_largest_width_fails():
    got = judge(planted(gnc=lambda w, d: 0.05), P)
    assert {c.verdict for c in got if c.key == "equivalent_at_largest_width"} == {"fail"}


@pytest.mark.falsifies("volume_width", "distance_shrinks", "bits_distance_shrinks")
def test_distance_growing_with_width_fails():
    got = verdicts(planted(gnc=lambda w, d: 1e-4 * w, bits_gap=lambda w: 1e-3 * w))
    assert got["distance_shrinks"].verdict == "fail"
    assert got["bits_distance_shrinks"].verdict == "fail"


def test_distance_shrinking_passes():
    got = verdicts(planted(gnc=lambda w, d: 0.4 / w, bits_gap=lambda w: 8.0 / w))
    assert got["distance_shrinks"].verdict == "pass"
    assert got["bits_distance_shrinks"].verdict == "pass"


@pytest.mark.parametrize("diff", [0.0, 0.02])
def test_a_zero_se_never_passes_a_difference_claim(diff):
    """Three SGD runs that tie give SE 0: CI [d, d] must not pass "> 0" or "< 0", even with d > 0."""
    rows = planted(sgd=lambda w, d: 0.8 + diff * (w == 512) - diff * (d - 1), sgd_se=0.0)
    got = verdicts(rows)
    for key in ("sgd_rises_with_width", "depth_hurts_sgd"):
        c = got[key]
        assert c.verdict == "inconclusive", c
        assert c.needed and "zero SE" in c.needed


def test_accuracy_difference_intervals_are_clipped_and_inconclusive_claims_say_what_is_needed():
    got = verdicts(planted(sgd_se=0.4))
    for key in ("sgd_rises_with_width", "depth_hurts_sgd"):
        c = got[key]
        assert -1.0 <= c.ci[0] < c.ci[1] <= 1.0
        assert c.verdict == "inconclusive" and "data seeds per pair" in c.needed


def test_no_fitted_sgd_run_says_so():
    rows = [dict(r, test_acc_mean=np.nan, test_acc_se=np.nan, fitted=0) if r["method"] == "sgd" else r
            for r in planted()]
    c = verdicts(rows)["sgd_rises_with_width"]
    assert c.verdict == "inconclusive" and "0 of 36 SGD runs reached 100 % training accuracy" in c.needed


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_squared_distance_trend_false_failure_rate(seed):
    """G&C exactly at its limit at every width (the worst case of a non-growing distance): Δ_k ~ N(0, SE_k²)
    with the quick run's spread of SEs. The one-sided rule should fail at most alpha/2 of the time; its plug-in
    variance is conservative (measured: 0 fails in 4000 replicates at alpha = 0.05 and 0.01). Here 500
    replicates at alpha = 0.05 must give fewer than 25 fails (above the binomial 99.9 % quantile at 0.025)."""
    rng = np.random.default_rng(seed)
    se = np.array([5e-3, 3e-3, 2e-3, 1.2e-3, 9e-4, 7e-4, 7e-4, 8e-4, 1.2e-3, 1.3e-3])
    widths = 2 ** np.arange(1, 11)
    p = {**P, "alpha": 0.05}
    fails = 0
    for _ in range(500):
        delta = rng.normal(0, se)
        dist = [{"width": w, "diff": d, "se": s, "dof": np.inf} for w, d, s in zip(widths, delta, se)]
        fails += distance_claim("d", dist, p).verdict == "fail"
    assert fails < 25, fails
