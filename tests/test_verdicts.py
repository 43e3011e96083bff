"""The verdict layer: claims in tiers, the headline, Holm across a check's claims and sequential rounds, each
calibrated by simulation on a check whose claims are true (or false) by construction (tests/synthetic_check.py)."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

import synthetic_check as synth
from verify.engine import judge, run_check
from verify.executors import Execution
from verify.verdicts import Claim, ClaimSpec, findings, headline, tier_verdicts, worst


def claim(verdict, tier="theorem", expected="pass", name="c"):
    because = "" if expected == "pass" else "established on seeds 1-5"
    return Claim(name, None, None, None, "", verdict, tier=tier, expected=expected, expected_because=because)


def test_worst_orders_and_empty():
    assert worst(["pass", "vacuous"]) == "vacuous" and worst(["vacuous", "inconclusive"]) == "inconclusive"
    assert worst(["inconclusive", "fail", "pass"]) == "fail" and worst([]) == "inconclusive"
    assert worst([], empty=None) is None and worst([None, "pass"]) == "pass"


def test_headline_counts_documented_expectations_and_ignores_diagnostics():
    documented = claim("vacuous", "extension", expected="vacuous")
    assert headline([claim("pass"), documented]) == "pass"  # the vacuous setting is as expected
    assert headline([claim("pass"), claim("vacuous", "extension")]) == "vacuous"
    assert headline([claim("pass"), claim("pass", "published", expected="fail")]) == "inconclusive"  # not reproduced
    assert headline([claim("pass"), claim("fail", "control")]) == "fail"
    assert headline([claim("pass"), Claim("d", 1, 1, None, "", None, tier="diagnostic")]) == "pass"
    assert headline([]) == "inconclusive"
    cs = [claim("pass"), claim("fail", "published", name="gap"), claim("vacuous", "extension")]
    assert tier_verdicts(cs) == {"theorem": "pass", "published": "fail", "extension": "vacuous"}
    assert [f["name"] for f in findings(cs)] == ["gap"]


def test_claim_contract_is_enforced():
    with pytest.raises(ValueError, match="tier"):
        Claim("c", 0, 0, None, "", "pass", tier="lemma")
    with pytest.raises(ValueError, match="expected_because"):
        Claim("c", 0, 0, None, "", "pass", tier="theorem", expected="fail")
    spec = ClaimSpec("c", "diagnostic", "this package")
    assert spec(Claim("c", 0, 0, None, "", "pass")).verdict is None


def _p_values(x):
    z = x.mean(0) * np.sqrt(x.shape[0])
    return 2 * stats.norm.sf(np.abs(z))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2 ** 31), m=st.integers(2, 8), shift=st.floats(0.0, 2.0))
def test_holm_fails_exactly_the_claims_of_p_value_holm(seed, m, shift):
    """Oracle: Holm's procedure written on p-values (sorted, alpha/(m - i), stop at the first acceptance)."""
    rng = np.random.default_rng(seed)
    mus = rng.choice([0.0, shift], size=m)
    x = rng.standard_normal((6, m)) + mus
    rows = [{"x": r.tolist()} for r in x]
    alpha = 0.2
    claims = judge(synth, rows, {"alpha": alpha, "kind": "zero"})
    p = _p_values(x)
    order = np.argsort(p)
    rejected = set()
    for i, j in enumerate(order):
        if p[j] > alpha / (m - i):
            break
        rejected.add(j)
    assert {i for i, c in enumerate(claims) if c.verdict == "fail"} == rejected
    if len(rejected) < m:  # (with every claim failed, the last level judged at depends on the steps taken)
        assert all(c.alpha == pytest.approx(alpha / (m - len(rejected))) for c in claims)


@pytest.mark.slow  # about a minute on a quiet 2-core machine; CI runs it
def test_holm_family_wise_false_failure_rate_by_simulation():
    """Ten true predictions judged at check level alpha = 0.05: the chance that any fails stays <= alpha
    (measured over 4000 simulated checks; the bound is Holm's, the rate is ~1 - (1 - alpha/10)^10)."""
    rng = np.random.default_rng(20261207)
    alpha, reps, m = 0.05, 4000, 10
    any_fail = 0
    for _ in range(reps):
        rows = [{"x": r.tolist()} for r in rng.standard_normal((5, m))]
        any_fail += any(c.verdict == "fail" for c in judge(synth, rows, {"alpha": alpha, "kind": "zero"}))
    rate = any_fail / reps
    assert rate <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / reps), rate
    assert rate > alpha / 3  # the level is used, not wasted: a broken (never-failing) rule would give 0


def _sequential(mu, seed, rounds_out=None):
    record = run_check(synth, {**synth.PARAMS.quick, "mus": [mu], "kind": "positive", "seeds": 3}, seed,
                       progress=False, until_decisive=True)
    if rounds_out is not None:
        rounds_out.append(len(record.rounds))
    return record.claims[0].verdict


@pytest.mark.slow  # about a minute on a quiet 2-core machine; CI runs it
def test_sequential_error_rates_by_simulation():
    """--until-decisive judges each of its at most 4 looks at alpha/4 (Bonferroni over looks): a true
    prediction (mean > 0 with mean 0, the boundary) fails, and a false one passes, with rate <= alpha/2 each
    (one side of the two-sided interval), measured over 600 sequential runs each."""
    alpha, reps = 0.01, 600
    boundary = [_sequential(0.0, s) for s in range(reps)]
    rounds = []
    wrong = [_sequential(-0.0001, 10_000 + s, rounds) for s in range(reps)]
    bound = alpha / 2 + 3 * np.sqrt(alpha / 2 / reps)
    assert boundary.count("fail") / reps <= bound
    assert wrong.count("pass") / reps <= bound
    assert max(rounds) == 4  # undecided runs use every look


def test_sequential_rounds_reuse_points_and_stop_when_decided(tmp_path):
    calls = []
    compute = synth.compute

    class Counting:
        def __getattr__(self, name):
            return getattr(synth, name)

        @staticmethod
        def compute(t):
            calls.append(t.key)
            return compute(t)

    for checkpoint in (tmp_path / "c.jsonl", None):  # reused from the checkpoint, or in memory without one
        calls.clear()
        record = run_check(Counting(), {**synth.PARAMS.quick, "mus": [0.0], "kind": "positive", "seeds": 2}, 3,
                           progress=False, until_decisive=True, checkpoint=checkpoint)
        assert len(calls) == len(set(calls)) == 2 * 2 ** (len(record.rounds) - 1)  # no point computed twice
    assert not (tmp_path / "c.jsonl").exists()
    decided = run_check(synth, {**synth.PARAMS.quick, "mus": [3.0], "kind": "positive", "seeds": 8}, 3,
                        progress=False, until_decisive=True)
    assert len(decided.rounds) == 1 and decided.claims[0].verdict == "pass"


def test_max_rounds_caps_the_looks_and_sets_their_level():
    """An undecided claim uses every one of ``max_rounds`` looks, each judged at alpha / max_rounds; bad values
    are one-line errors."""
    from verify.errors import UserInputError
    params = {**synth.PARAMS.quick, "mus": [0.0], "kind": "positive", "seeds": 2, "alpha": 0.01}
    for k in (1, 2, 6):
        record = run_check(synth, params, 3, progress=False, until_decisive=True, max_rounds=k)
        assert len(record.rounds) == k and all(r["of"] == k for r in record.rounds)
        assert all(abs(r["alpha"] - 0.01 / k) < 1e-15 for r in record.rounds)
        assert record.rounds[-1]["params"]["seeds"] == 2 * 2 ** (k - 1)
    with pytest.raises(UserInputError, match="max_rounds must be an integer in 1..16"):
        run_check(synth, params, 3, progress=False, until_decisive=True, max_rounds=0)


def test_records_identical_on_a_callers_executor():
    params = {**synth.PARAMS.quick, "mus": [0.3, 0.0], "seeds": 6}
    serial = run_check(synth, params, 5, progress=False).to_dict()
    with ThreadPoolExecutor(2) as pool:
        pooled = run_check(synth, params, 5, progress=False, execution=Execution(pool=pool)).to_dict()
    assert pooled["points"] == serial["points"] and pooled["claims"] == serial["claims"]
    assert pooled["execution"]["kind"] == "ThreadPoolExecutor"


def test_holm_spends_no_level_on_deterministic_claims():
    def judge_at(level):
        random = [Claim(f"r{i}", 0, 0, None, "", "pass", tier="theorem") for i in range(2)]
        exact = [Claim(f"d{i}", 0, 0, None, "", "pass", tier="control", deterministic=True) for i in range(6)]
        return random + exact

    from verify.verdicts import holm
    claims = holm(judge_at, 0.01)
    assert [c.alpha for c in claims[:2]] == [0.005, 0.005] and all(c.alpha is None for c in claims[2:])


@settings(max_examples=40, deadline=None)
@given(runs=st.integers(2, 30), effect=st.floats(0.05, 5.0), se=st.floats(0.01, 3.0), alpha=st.floats(1e-4, 0.05))
def test_runs_needed_is_the_smallest_decisive_count_under_student_t(runs, effect, se, alpha):
    """Oracle: a brute-force scan over N of (t_{1-a/2,N-1} + t_{0.8,N-1}) se sqrt(runs/N) <= effect."""
    from verify.rules import runs_needed
    text = runs_needed(effect, se, runs, 0.0, alpha=alpha)
    n = np.arange(runs + 1, 200_000)
    ok = (stats.t.ppf(1 - alpha / 2, n - 1) + stats.t.ppf(0.8, n - 1)) * se * np.sqrt(runs / n) <= effect
    if ok.any():
        assert int(text.split()[1]) == n[ok.argmax()]
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(0.8)
    if text.startswith("about"):
        assert int(text.split()[1]) >= runs * (z * se / effect) ** 2  # never fewer than the normal approximation
