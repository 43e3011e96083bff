"""Sequential runs of ``norm_sharpness`` (``--until-decisive``): each round doubles the random u ⊙ v problems,
reuses every point of the earlier rounds from the checkpoint, and gives the same record on 1 and 2 workers
(slow: a process pool per round, ~90 s on 2 loaded cores; 1 worker takes ~5 s)."""
import pytest

from verify import norm_sharpness as ns
from verify.engine import run as run_check

# a sweep that cannot decide the grid claims (coarse grid, a budget too small at η = 0.6), so every round runs
UNDECIDED = {"etas": [0.3, 0.45, 0.6, 0.7], "transition_scales": [], "max_iter": 1000}


def sequential(tmp_path, workers, **over):
    return run_check("norm_sharpness", seed=3, workers=workers, until_decisive=True,
                     checkpoint=tmp_path / "points.jsonl", **{**UNDECIDED, **over})


def test_grow_doubles_the_problems_and_keeps_the_rest():
    p = {**ns.PARAMS.quick, "uv_problems": 1}
    assert [ns.grow(p, r)["uv_problems"] for r in (1, 2, 3)] == [1, 2, 4]
    assert {k for k in ns.grow(p, 3) if ns.grow(p, 3)[k] != p[k]} == set(ns.GROWS)
    keys = [t.key for t in ns.points({**ns.grow(p, 3), "etas": [0.1]}, 0, {})]
    assert [k for k in keys if k.startswith("even_uv")] == ["even_uv/0", "even_uv/1", "even_uv/2", "even_uv/3"]


def test_rounds_reuse_the_points_of_earlier_rounds(tmp_path, monkeypatch):
    computed = []
    true = ns.compute
    monkeypatch.setattr(ns, "compute", lambda t: computed.append(t.key) or true(t))
    record = sequential(tmp_path, 1)
    assert len(record.rounds) >= 2, record.rounds
    assert len(computed) == len(set(computed)), "a point was computed twice"
    last = record.rounds[-1]["params"]["uv_problems"]
    assert sum(k.startswith("even_uv/") for k in computed) == last == 2 ** (len(record.rounds) - 1)
    assert sum(p["sweep"] == "even_uv" for p in record.points) == last


@pytest.mark.slow

def test_rounds_give_the_same_record_on_one_and_two_workers(tmp_path):
    one, two = sequential(tmp_path / "1", 1), sequential(tmp_path / "2", 2)
    assert one.points == two.points and one.rounds and [r["params"] for r in one.rounds] == \
        [r["params"] for r in two.rounds]
    def seen(record):
        return [(c.name, c.verdict, c.measured) for c in record.claims]
    assert seen(one) == seen(two)
