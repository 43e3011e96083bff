"""The real-network data (``numerics.datasets``): digits tasks, synthetic sets, user files."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.datasets import (digits_pairs, digits_task, kink, load_npz, random_labels, slab,
                               standardize)
from numerics.errors import UserInputError

SEEDS = st.integers(0, 2 ** 32 - 1)


@settings(max_examples=15)
@given(seed=SEEDS, pair=st.tuples(st.integers(0, 9), st.integers(0, 9)).filter(lambda p: p[0] != p[1]),
       half=st.integers(1, 40))
def test_digits_tasks_are_balanced_nested_and_disjoint(seed, pair, half):
    n = 2 * half
    ds = digits_task(pair, n, data_seed=seed)
    bigger = digits_task(pair, n + 2, data_seed=seed)
    assert ds.n_train == n and ds.image_shape == (8, 8) and ds.classes == pair
    np.testing.assert_array_equal(ds.y_train, np.tile([0, 1], half))  # interleaved, balanced
    np.testing.assert_array_equal(bigger.X_train[:n], ds.X_train)  # nested prefix
    np.testing.assert_array_equal(bigger.X_test, ds.X_test)  # same test set up to TRAIN_POOL per class
    assert 0 <= ds.X_train.min() and ds.X_train.max() <= 1
    train = {x.tobytes() for x in ds.X_train}
    assert not any(x.tobytes() in train for x in ds.X_test) or len(train) < n  # duplicates in the data aside
    np.testing.assert_array_equal(ds.head(4).X_train, ds.X_train[:4])


def test_ten_class_task_and_bad_arguments():
    ds = digits_task(range(10), 20, data_seed=0)
    assert ds.n_classes == 10 and sorted(np.bincount(ds.y_train)) == [2] * 10
    for args, msg in [(((0, 0), 4), "distinct digits"), (((0, 1), 3), "multiple of 2"),
                      (((0, 12), 4), "distinct digits"), (((0, 1), 400), "leaves no test images")]:
        with pytest.raises(UserInputError, match=msg):
            digits_task(*args)


def test_label_noise_flips_that_fraction():
    rng = np.random.default_rng(0)
    clean = digits_task((0, 1), 160, data_seed=0)
    noisy = digits_task((0, 1), 160, data_seed=0, label_noise=0.25, noise_rng=rng)
    frac = np.mean(clean.y_train != noisy.y_train)
    assert 0.12 < frac < 0.38  # Binomial(160, 0.25): 4.3 sd either side


def test_random_labels_and_pairs_and_standardize():
    ds = digits_task((3, 8), 16, data_seed=1)
    r = random_labels(ds, np.random.default_rng(0))
    assert sorted(r.y_train) == sorted(ds.y_train) and np.array_equal(r.X_train, ds.X_train)
    pairs = digits_pairs(5, np.random.default_rng(1))
    assert len(set(pairs)) == 5 and all(a < b for a, b in pairs)
    s = standardize(ds)
    assert abs(s.X_train.mean()) < 1e-12 and s.X_train.std() == pytest.approx(1.0)


def test_kink_and_slab():
    rng = np.random.default_rng(0)
    k = kink(40, rng)
    assert k.X_train.shape == (40, 2) and set(k.y_train) == {0, 1}
    above = k.X_train[:, 1] > 1 - np.abs(k.X_train[:, 0])
    assert np.mean(above == (k.y_train == 1)) > 0.9
    s = slab(40, rng)
    heights = np.array([-1.5, -0.5, 0.5, 1.5])
    slab_i = np.argmin(np.abs(s.X_train[:, 1:2] - heights), axis=1)
    np.testing.assert_array_equal(s.y_train, slab_i % 2)  # the zig-zag rule fits
    np.testing.assert_array_equal(s.y_train, (s.X_train[:, 0] > 0).astype(int))  # and so does the line
    probe_i = np.argmin(np.abs(s.X_test[:, 1:2] - heights), axis=1)
    assert np.all(s.y_test != probe_i % 2)  # on the probes the two rules disagree


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_load_npz_roundtrip_and_errors(tmp_path):
    good = dict(X_train=np.random.rand(6, 3), y_train=np.array([0, 1, 0, 1, 2, 2]), X_test=np.random.rand(4, 3),
                y_test=np.array([0, 1, 2, 0]))
    ds = load_npz(_write(tmp_path / "ok.npz", **good))
    assert ds.n_classes == 3 and ds.image_shape is None
    np.testing.assert_array_equal(ds.X_train, good["X_train"])  # used as given
    (tmp_path / "junk.npz").write_text("not a zip")
    cases = [(tmp_path / "missing.npz", "no such file"), (tmp_path / "junk.npz", "not a readable .npz"),
             (_write(tmp_path / "a.npz", **{k: v for k, v in good.items() if k != "y_test"}), "missing array(s) y_test"),
             (_write(tmp_path / "b.npz", **{**good, "X_train": np.random.rand(6)}), "X_train must be 2-D"),
             (_write(tmp_path / "c.npz", **{**good, "X_test": np.full((4, 3), np.nan)}), "X_test must be finite"),
             (_write(tmp_path / "d.npz", **{**good, "X_test": np.random.rand(4, 2)}), "X_train has 3 features"),
             (_write(tmp_path / "e.npz", **{**good, "y_train": np.array([0, 1, 0, 1, 2])}), "vector of 6 labels"),
             (_write(tmp_path / "f.npz", **{**good, "y_train": good["y_train"] - 0.5}), "integer labels"),
             (_write(tmp_path / "g.npz", **{**good, "y_train": np.array([0, 0, 0, 0, 2, 2])}), "have no training example")]
    for path, msg in cases:
        with pytest.raises(UserInputError, match=msg.replace("(", r"\(").replace(")", r"\)")):
            load_npz(path)


def test_load_npz_refuses_bad_arrays_before_allocating(tmp_path):
    good = dict(X_train=np.random.rand(6, 3), y_train=np.array([0, 1, 0, 1, 2, 2]), X_test=np.random.rand(4, 3),
                y_test=np.array([0, 1, 2, 0]))
    cases = [({"X_train": good["X_train"] + 1j}, "X_train must be real numbers"),
             ({"X_test": np.array([["a"] * 3] * 4)}, "X_test must be real numbers"),
             ({"y_train": np.array([0, 1, 0, 1, 2, 10 ** 10])}, "label 10000000000 but only 6 training examples"),
             ({"y_train": good["y_train"] + 1, "y_test": good["y_test"] + 1}, "labels start at 1"),
             ({"y_train": np.array([True, False] * 3)}, "integer labels")]
    for i, (change, msg) in enumerate(cases):
        with pytest.raises(UserInputError, match=msg):
            load_npz(_write(tmp_path / f"bad{i}.npz", **{**good, **change}))


def test_prefix_without_a_class_is_refused(tmp_path):
    data = dict(X_train=np.random.rand(6, 3), y_train=np.array([0, 0, 0, 1, 1, 1]), X_test=np.random.rand(2, 3),
                y_test=np.array([0, 1]))
    ds = load_npz(_write(tmp_path / "sorted.npz", **data))
    assert ds.head(4).n_train == 4 and ds.missing_classes(3) == [1]
    with pytest.raises(UserInputError, match=r"first 2 training examples hold no example of class\(es\) \[1\]"):
        ds.head(2)
