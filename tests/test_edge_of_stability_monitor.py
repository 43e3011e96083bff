"""numerics.eos_monitor: the distance summary and the trace subsampling that the edge-of-stability claims
read (t* = crossing step × η, the maximum before it, the compared times after it)."""
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.eos_monitor import subsample, tracking_summary


@given(n=st.integers(0, 1000), keep=st.integers(2, 300))
@settings(max_examples=40)
def test_subsample_keeps_the_ends_and_at_most_n_rows(n, keep):
    rows = list(range(n))
    out = subsample(rows, keep)
    assert len(out) <= keep if n > keep else out == rows
    if n:
        assert out[0] == 0 and out[-1] == n - 1
    assert out == sorted(set(out))


def test_tracking_summary_splits_at_t_star():
    rows = [(0.0, 0.0), (1.0, 0.01), (2.0, 0.02), (3.0, 0.2), (4.0, 0.5)]
    s = tracking_summary(rows, crossing=20, eta=0.1, starts_unstable=False)  # t* = 2.0
    assert s["crossing_time"] == 2.0
    assert s["track_max_before"] == 0.02 and s["track_max"] == 0.5 and s["distance_end"] == 0.5
    assert s["points_after"] == 2 and s["starts_unstable"] is False


def test_tracking_summary_without_crossing_uses_the_whole_span():
    rows = [(0.0, 0.0), (1.0, 0.03), (2.0, 0.01)]
    s = tracking_summary(rows, crossing=None, eta=0.1, starts_unstable=False)
    assert s["crossing_time"] is None and s["points_after"] == 0 and s["track_max_before"] == 0.03
    assert math.isclose(s["distance_end"], 0.01)
    assert tracking_summary([], None, 0.1, True)["track_max_before"] is None
