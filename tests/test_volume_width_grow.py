"""volume_width's sequential runs (``--until-decisive``): each round doubles the data seeds per pair, the
earlier cells keep their task keys and random streams, a second round reuses the first round's points from
the checkpoint, and the record is the same on 1 and 2 workers."""
import json

import verify.engine as engine
import verify.volume_width as vw

TINY = dict(widths=[4, 16], n_train=[8], depth=[1], draws=200, min_draws=50, limit_samples=1000, kernel_units=8192,
            sgd_runs=2, sgd_epochs=2, contrast_widths=[8], n_test=20, invariance_width=8)


def test_grow_doubles_the_data_seeds():
    p = vw.PARAMS.quick
    assert [vw.grow(p, r)["seeds"] for r in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert vw.GROWS == ("seeds",)


def test_earlier_cells_keep_their_keys_and_streams():
    for extra in ({}, {"classes": [], "pairs": 3}):
        p = {**vw.PARAMS.quick, **extra}
        small = {t.key: t.seed for t in vw.points(p, 5)}
        big = {t.key: t.seed for t in vw.points(vw.grow(p, 3), 5)}
        assert set(small) < set(big)
        assert all(big[k] == small[k] for k in small)
        assert len(set(big.values())) == len(big)  # every task its own stream


def _points(rec):
    return json.dumps([{k: v for k, v in r.items() if k != "runtime_s"} for r in rec.points], sort_keys=True)


def test_two_rounds_reuse_the_first_rounds_points_and_match_on_two_workers(monkeypatch, tmp_path):
    real, calls = vw.compute, []
    monkeypatch.setattr(vw, "compute", lambda t: calls.append(t.key) or real(t))
    monkeypatch.setattr(engine, "MAX_ROUNDS", 2)
    monkeypatch.setattr(engine, "undecided", lambda claims: claims[:1])  # always ask for another round
    one = engine.run("volume_width", until_decisive=True, checkpoint=tmp_path / "a.jsonl", workers=1, **TINY)
    assert [r["round"] for r in one.rounds] == [1, 2]
    p2 = vw.grow({**vw.PARAMS.quick, **TINY}, 2)
    assert len(calls) == len(set(calls)) == len(vw.points(p2, 0))  # round 2 computed only the new cells
    assert {r["data_seed"] for r in one.points} == {0, 1}
    monkeypatch.setattr(vw, "compute", real)
    two = engine.run("volume_width", until_decisive=True, checkpoint=tmp_path / "b.jsonl", workers=2, **TINY)
    assert _points(one) == _points(two)
    assert [(c.name, c.verdict, c.ci) for c in one.claims] == [(c.name, c.verdict, c.ci) for c in two.claims]
