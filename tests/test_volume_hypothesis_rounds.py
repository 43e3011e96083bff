"""``volume_hypothesis --until-decisive``: later rounds add data seeds and reuse every earlier point, and the
record does not depend on the number of workers."""
import json

from verify import volume_hypothesis as vh
from verify.engine import run_check
from verify.executors import Execution

SMALL = {"pairs": 1, "n_train": [2, 4], "draws": 1500, "max_accepted": 50, "methods": ["gnc", "sgd"],
         "protocols": ["chiang"], "bias": [True], "sgd_runs_chiang": 2, "control_n": [4], "control_reps": 2,
         "control_draws": 300, "kink_slab": False}


class TwoRounds:
    """``volume_hypothesis`` with its growth capped at round 2 (rounds 3 and 4 add nothing), counting the
    tasks it computes."""

    def __init__(self):
        self.computed = []

    def __getattr__(self, name):
        return getattr(vh, name)

    def grow(self, p, r):
        return vh.grow(p, min(r, 2))

    def compute(self, t):
        self.computed.append(t.key)
        return vh.compute(t)


def _run(module, tmp_path, workers, name):
    params = {**vh.PARAMS.quick, **SMALL, "mode": "quick"}
    return run_check(module, params, 3, execution=Execution(workers=workers), checkpoint=tmp_path / f"{name}.jsonl",
                     progress=False, until_decisive=True)


def _canonical(record):
    points = [{k: v for k, v in r.items() if k != "seconds"} for r in record.points]
    claims = [{k: getattr(c, k) for k in ("name", "measured", "ci", "verdict", "alpha")} for c in record.claims]
    return json.dumps([points, claims], sort_keys=True, default=str)


def test_rounds_reuse_points_and_match_across_workers(tmp_path):
    counting = TwoRounds()
    one = _run(counting, tmp_path, 1, "one")
    assert len(one.rounds) >= 2, "the tiny run should stay undecided after round 1"
    round2 = {t.key for t in vh.points(vh.grow({**vh.PARAMS.quick, **SMALL}, 2), 3)}
    assert sorted(counting.computed) == sorted(round2)  # every task computed exactly once over all rounds
    assert {r["data_seed"] for r in one.points if r.get("kind") == "point"} == {0, 1}
    two = _run(TwoRounds(), tmp_path, 2, "two")
    assert _canonical(one) == _canonical(two)
