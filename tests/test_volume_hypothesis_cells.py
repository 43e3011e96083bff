"""numerics.protocols.data_cells: the (pair, data seed) cells shared by volume_hypothesis and volume_width."""
from hypothesis import given, settings, strategies as st

from numerics.protocols import data_cells


def test_file_is_one_cell():
    assert data_cells(dataset="file", classes=[3, 8], pairs=5, seeds=4, seed=1) == \
        [{"pair": None, "data_seed": 0, "label": "file"}]


def test_explicit_pair_with_seeds():
    assert data_cells(dataset="digits", classes=[3, 8], pairs=5, seeds=2, seed=7) == [
        {"pair": [3, 8], "data_seed": 0, "label": "3v8"}, {"pair": [3, 8], "data_seed": 1, "label": "3v8"}]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), pairs=st.integers(1, 45), seeds=st.integers(1, 3))
def test_drawn_pairs_distinct_and_reproducible(seed, pairs, seeds):
    cells = data_cells(dataset="digits", classes=[], pairs=pairs, seeds=seeds, seed=seed)
    assert cells == data_cells(dataset="digits", classes=[], pairs=pairs, seeds=seeds, seed=seed)
    assert len(cells) == pairs * seeds
    drawn = [tuple(c["pair"]) for c in cells[::seeds]]
    assert len(set(drawn)) == pairs and all(0 <= a < b <= 9 for a, b in drawn)
    assert [c["data_seed"] for c in cells] == list(range(seeds)) * pairs
