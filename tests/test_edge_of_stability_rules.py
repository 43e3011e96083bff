"""The rules of ``edge_of_stability`` on planted rows: an ideal record with enough seeds passes every claim, a
record with too few seeds stays open, and each claim fails when its prediction is violated (one
``@pytest.mark.falsifies`` test per claim). Also: the false-failure rate of the two-band mean rule on skewed
values, by simulation; the phase-transition ceiling is the top of the EoS band; ``grow`` doubles the seeds.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify import edge_of_stability as E
from verify.edge_of_stability.claims import CF_PASS, CLAIMS, EOS_BAND, ORDER_BAND, two_band_claim
from verify.edge_of_stability.params import SUPER_CRITICAL

GRID = [0.2, 0.5, 0.8, 1.1, 1.5, 2.0, 3.0, 4.0]
PARAMS = {**E.PARAMS.quick, "mode": "quick"}


def wiggle(seed, i):
    """A deterministic spread in [-1, 1] (the rules need some variance between units)."""
    return ((seed * 7 + i * 3) % 5 - 2) / 2


def ideal_rows(seeds=range(12)):
    """Rows as a textbook edge of stability would give them (fields as compute writes them)."""
    rows = []
    for seed in seeds:
        s_gf, s0 = 8.0 * (1 + 0.05 * wiggle(seed, 0)), 3.0 * (1 + 0.05 * wiggle(seed, 1))
        eta_c = 2.0 / s_gf
        rows.append({"kind": "gradient_flow", "seed": seed, "eta": 0.0, "eta_multiple": 0.0, "eta_c": eta_c,
                     "sharpness": s_gf, "sharpness_initial": s0, "converged": True, "norm_l1": 300.0,
                     "norm_l2": 7.0, "test_loss": 0.1, "u_curve": {"depth": 0.03}})
        for i, m in enumerate(GRID):
            eta, w = m * eta_c, wiggle(seed, i)
            edge = m >= SUPER_CRITICAL
            s_end = 2.0 / eta * (1.02 + 0.01 * w) if edge else s_gf * (1 - 0.002 * m)
            grow = 1 + 0.05 * math.log(max(m, 1)) + 0.002 * w
            unstable = 2.0 / eta < s0
            d = 0.03 * m * (1 + 0.03 * w)
            rows.append({"kind": "gd", "seed": seed, "eta": eta, "eta_multiple": m, "eta_c": eta_c, "converged": True,
                         "threshold": 2 / eta, "two_over_eta": 2 / eta, "sharpness": s_end, "sharpness_avg": s_end,
                         "sharpness_initial": s0, "sharpness_max": 1.3 * s_end if edge else s_end,
                         "eta_sharpness_half": eta * s_end / 2, "eta_sharpness_half_avg": eta * s_end / 2,
                         "late_loss_rises": 40 if edge else 0, "norm_l1": 300 * grow, "avg_norm_l1": 300 * grow,
                         "norm_l2": 7 * grow, "avg_norm_l2": 7 * grow, "dist_init": 4 * grow, "avg_dist_init": 4 * grow,
                         "track_max": 3 * d if edge else d, "track_max_before": None if unstable else d,
                         "distance_end": 3 * d if edge else d, "points_after": 20 if edge else 0,
                         "crossing_time": (0.0 if unstable else 10.0) if edge else None, "starts_unstable": unstable,
                         "central_flow": windows(1 + 0.1 * w, 1 - 0.1 * w, n=2) if m >= 1.5 else []})
        for m in (1.5, 3.0):
            rows.append({"kind": "heavy_ball", "seed": seed, "eta": m * 0.375, "eta_multiple": m, "eta_c": eta_c,
                         "converged": True, "threshold": 1.0, "sharpness": 1.02, "sharpness_avg": 1.02,
                         "sharpness_max": 1.3, "eta_sharpness_half_avg": 1.02, "eta_sharpness_half": 1.02,
                         "late_loss_rises": 5})
    return rows


def windows(ratio_var, ratio_loss, n=6, lambda2=0.5):
    eta = 0.5
    return [{"start": 10 * i, "length": 24, "lambda1": 4.0, "lambda2": lambda2 * 2 / eta, "two_over_eta": 2 / eta,
             "sigma2": 1e-3, "variance_u": ratio_var * 1e-3, "loss_center": 0.1, "loss_mean": 0.1 + ratio_loss * 2e-3,
             "excess_loss": ratio_loss * 2e-3, "predicted_excess": 2e-3, "grad_sharpness_norm": 1.0} for i in range(n)]


def verdicts(rows, **over):
    return {c.key: c.verdict for c in E.judge(rows, {**PARAMS, **over})}


def judged(rows, key):
    return verdicts(rows)[key]


def planted(fn, kind="gd", seeds=range(12)):
    rows = ideal_rows(seeds)
    for r in rows:
        if r["kind"] == kind:
            fn(r)
    return rows


def test_the_ideal_record_passes_every_judged_claim():
    claims = E.judge(ideal_rows(), PARAMS)
    assert {c.key: c.verdict for c in claims if c.judged} == {k: "pass" for k, s in CLAIMS.items()
                                                              if s.tier != "diagnostic"}
    for c in claims:
        assert c.tier and c.source and c.key in CLAIMS
        assert c.judged or c.verdict is None


def test_two_seeds_leave_the_per_seed_claims_open_and_say_how_many_are_needed():
    claims = {c.key: c for c in E.judge(ideal_rows(seeds=(0, 1)), PARAMS)}
    c = claims["progressive_sharpening"]
    assert c.verdict == "inconclusive" and c.needed and "seeds (now 2)" in c.needed


def test_every_claim_is_stamped_with_its_spec():
    for c in E.judge(ideal_rows(seeds=(0, 1, 2)), PARAMS):
        spec = CLAIMS[c.key]
        assert (c.tier, c.source, c.provenance) == (spec.tier, spec.source, spec.provenance)


@pytest.mark.falsifies("edge_of_stability", "progressive_sharpening")
def test_flat_sharpness_fails_progressive_sharpening():
    flat = planted(lambda r: r.update(sharpness=1.05 * r["sharpness_initial"] * (1 + 0.01 * wiggle(r["seed"], 5))))
    assert judged(flat, "progressive_sharpening") == "fail"
    between = planted(lambda r: r.update(sharpness=1.6 * r["sharpness_initial"] * (1 + 0.01 * wiggle(r["seed"], 5))))
    assert judged(between, "progressive_sharpening") == "inconclusive"  # between the bands: never decided


@pytest.mark.falsifies("edge_of_stability", "eos_fingerprint")
def test_fingerprint_fails_without_oscillation_or_off_the_band():
    assert judged(planted(lambda r: r.update(late_loss_rises=0)), "eos_fingerprint") == "fail"
    assert judged(planted(lambda r: r.update(sharpness_max=0.99 * r["threshold"])), "eos_fingerprint") == "fail"
    assert judged(planted(lambda r: r.update(eta_sharpness_half_avg=0.85)), "eos_fingerprint") == "fail"
    assert judged(planted(lambda r: r.update(eta_sharpness_half_avg=1.2)), "eos_fingerprint") == "fail"
    one_run_off = planted(lambda r: r.update(eta_sharpness_half_avg=0.85) if r["eta_multiple"] == 2.0 else None)
    assert judged(one_run_off, "eos_fingerprint") == "pass"  # one run in four off the band: still typical


@pytest.mark.falsifies("edge_of_stability", "eos_fingerprint_heavy_ball")
def test_heavy_ball_fingerprint_fails_below_the_band():
    hb = planted(lambda r: r.update(eta_sharpness_half_avg=0.8), kind="heavy_ball")
    v = verdicts(hb)
    assert v["eos_fingerprint_heavy_ball"] == "fail" and v["eos_fingerprint"] == "pass"


@pytest.mark.falsifies("edge_of_stability", "phase_transition")
def test_sharpness_or_norm_off_the_flow_below_eta_c_fails_the_transition():
    below = lambda key, f: lambda r: r.update({key: r[key] * f}) if r["eta_multiple"] <= 0.8 else None  # noqa: E731
    assert judged(planted(below("sharpness_avg", 1.05)), "phase_transition") == "fail"
    assert judged(planted(below("avg_norm_l2", 1.02)), "phase_transition") == "fail"
    above = lambda v: planted(lambda r: r.update(eta_sharpness_half_avg=v) if r["eta_multiple"] >= 1.1 else None)  # noqa: E731
    assert judged(above(1.2), "phase_transition") == "fail"
    assert judged(above(1.12), "phase_transition") == "pass"  # inside the EoS band: the ceiling is its top
    one_sided = [r for r in ideal_rows() if r.get("eta_multiple", 0) < 1]
    assert judged(one_sided, "phase_transition") == "inconclusive"


def test_the_transition_ceiling_is_the_top_of_the_eos_band():
    c = next(c for c in E.judge(ideal_rows(seeds=(0,)), PARAMS) if c.key == "phase_transition")
    assert f"<= {EOS_BAND[1]:g}" in c.rule


@pytest.mark.falsifies("edge_of_stability", "norm_sharpness_tradeoff")
def test_a_norm_falling_with_eta_fails_the_tradeoff():
    assert judged(planted(lambda r: r.update(avg_norm_l1=1000.0 - 100 * r["eta"] + wiggle(r["seed"], 2))),
                  "norm_sharpness_tradeoff") == "fail"


@pytest.mark.falsifies("edge_of_stability", "gd_tracks_gradient_flow")
@pytest.mark.parametrize("order", [0.0, 2.0])
def test_a_distance_of_the_wrong_order_fails_the_tracking_claim(order):
    def plant(r):
        if r["eta_multiple"] <= 0.8:
            r["track_max"] = 0.03 * r["eta_multiple"] ** order * (1 + 0.03 * wiggle(r["seed"], 7))
    assert judged(planted(plant), "gd_tracks_gradient_flow") == "fail"
    assert ORDER_BAND[0] < 1 < ORDER_BAND[1]


@pytest.mark.falsifies("edge_of_stability", "gd_departs_gradient_flow")
def test_no_departure_or_early_departure_fails():
    stays = planted(lambda r: r.update(distance_end=r["track_max_before"]) if r["track_max_before"] else None)
    assert judged(stays, "gd_departs_gradient_flow") == "fail"
    early = planted(lambda r: r.update(track_max_before=3 * r["track_max_before"]) if r["track_max_before"] else None)
    assert judged(early, "gd_departs_gradient_flow") == "fail"


@pytest.mark.falsifies("edge_of_stability", "central_flow")
@pytest.mark.parametrize("ratios, verdict", [((3.0, 1.0), "fail"), ((1.0, 0.3), "fail"), ((1.0, 1.0), "pass")])
def test_central_flow_rule(ratios, verdict):
    rows = planted(lambda r: r.update(central_flow=windows(ratios[0] * (1 + 0.05 * wiggle(r["seed"], 3)),
                                                           ratios[1] * (1 + 0.05 * wiggle(r["seed"], 4)), n=2))
                   if r["eta_multiple"] >= 1.5 else None)
    assert judged(rows, "central_flow") == verdict


def test_windows_with_a_second_unstable_direction_are_not_judged():
    rows = planted(lambda r: r.update(central_flow=windows(3.0, 3.0, n=2, lambda2=0.99)))
    c = next(c for c in E.judge(rows, PARAMS) if c.key == "central_flow")
    assert c.verdict == "inconclusive" and c.measured["eligible_windows"] == 0


def test_seeds_whose_flow_misses_the_goal_are_left_out():
    rows = ideal_rows()
    rows[0]["converged"] = False
    claims = E.judge(rows, PARAMS)
    assert all("left out" in c.rule for c in claims)
    assert next(c for c in claims if c.key == "eos_fingerprint").verdict == "pass"


@pytest.mark.parametrize("runs", [3, 12])
def test_two_band_rule_false_failure_rate_on_skewed_values(runs):
    """Log-normal per-seed values whose mean sits exactly on the pass boundary (the least favourable true
    case): the rule fails with probability at most alpha (stated: alpha/2 for normal values)."""
    rng = np.random.default_rng(12345)
    alpha, sigma, reps = 0.05, 0.6, 3000
    mu = math.log(CF_PASS[1]) - sigma ** 2 / 2  # E[exp(N(mu, sigma²))] = the pass band's top
    values = np.exp(rng.normal(mu, sigma, (reps, runs)))
    fails = sum(two_band_claim("x", v, CF_PASS, (0.5, 2.0), alpha=alpha, what="x").verdict == "fail" for v in values)
    assert fails / reps <= alpha


@given(rounds=st.integers(1, 4), seeds=st.lists(st.integers(0, 50), min_size=1, max_size=5, unique=True))
@settings(max_examples=30)
def test_grow_doubles_the_seeds_and_keeps_the_earlier_ones(rounds, seeds):
    p = {**PARAMS, "seeds": seeds}
    grown = E.grow(dict(p), rounds)["seeds"]
    assert grown[: len(seeds)] == seeds and len(grown) == len(seeds) * 2 ** (rounds - 1)
    assert len(set(grown)) == len(grown)
    if rounds > 1:
        assert E.grow(dict(p), rounds - 1)["seeds"] == grown[: len(grown) // 2]
    assert E.GROWS == ("seeds",) and E.grow(dict(p), 1) == p
