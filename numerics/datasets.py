"""Data for the real-network checks: no downloads at run time.

- scikit-learn's bundled 8×8 digits (1,797 images, 64 features 0..16, 10 classes), scaled to [0, 1] (no
  centring unless asked: :func:`standardize`). Two-class pairs (a, b) → labels 0, 1; ten-class tasks.
- Nested, balanced training sets: for a data seed, a fixed permutation per class; the training set of size n
  takes the first n/2 of each class, interleaved (a, b, a, b, …), so the set of size n is a prefix of the one
  of size n + 2 (Peleg & Hein reuse accepted G&C draws across n this way). The test set is every image of
  the classes from position ``TRAIN_POOL`` (80) of each permutation on (or its first ``n_test``), the same
  for every n up to 80 per class; beyond that, the images after the training set.
- Chiang et al.'s synthetic 2-D sets: :func:`kink` and :func:`slab`.
- The user's own data: :func:`load_npz` (``X_train``, ``y_train``, ``X_test``, ``y_test``; labels 0..C−1),
  validated with one-line :class:`UserInputError` messages and used as given (no rescaling).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from numerics.errors import UserInputError, require


@dataclass(frozen=True)
class Dataset:
    X_train: np.ndarray  # (n, d) float64
    y_train: np.ndarray  # (n,) int64 in 0..C-1
    X_test: np.ndarray
    y_test: np.ndarray
    name: str = "data"
    classes: tuple = ()  # the original labels of 0..C-1 (digits); empty for user data
    image_shape: tuple | None = None  # (8, 8) for digits: lets a CNN reshape the inputs

    @property
    def n_train(self) -> int:
        return int(self.y_train.shape[0])

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(initial=0), self.y_test.max(initial=0)) + 1)

    @property
    def dim(self) -> int:
        return int(self.X_train.shape[1])

    def head(self, n: int) -> "Dataset":
        """The first ``n`` training examples (the nested prefix), the same test set. A user's data set
        (``--data``) whose prefix lacks a class is refused with a one-line error: a run on it would judge a
        task with fewer classes than the test set."""
        absent = self.missing_classes(n) if not self.classes else []
        require(not absent, f"--data {self.name}: the first {n} training examples hold no example of class(es) "
                f"{absent}; order X_train so that every prefix a run uses holds every class (e.g. interleave "
                "the classes)")
        return replace(self, X_train=self.X_train[:n], y_train=self.y_train[:n])

    def missing_classes(self, n: int) -> list[int]:
        """The classes without an example among the first ``n`` training examples."""
        return sorted(set(range(self.n_classes)) - set(self.y_train[:n].tolist()))


def _real(a: np.ndarray) -> bool:
    """Real numbers (integers or floats), not complex, boolean or object arrays."""
    return (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)) and a.dtype != bool


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    bunch = load_digits()
    X = np.asarray(bunch.data, dtype=np.float64) / 16.0
    y = np.asarray(bunch.target, dtype=np.int64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


TRAIN_POOL = 80  # per class: the test set does not depend on n_train up to this many training images per class


def digits_task(classes=(0, 1), n_train: int = 16, data_seed: int = 0, *, n_test: int | None = None,
                label_noise: float = 0.0, noise_rng: np.random.Generator | None = None) -> Dataset:
    """A balanced, nested task on the digits with the given original ``classes`` (relabelled 0..C−1).

    ``n_train`` must be a multiple of the number of classes; ``label_noise`` replaces that fraction of the
    training labels by a uniformly drawn *different* label (``noise_rng`` required then).
    """
    classes = tuple(int(c) for c in classes)
    C = len(classes)
    require(C >= 2 and len(set(classes)) == C and all(0 <= c <= 9 for c in classes),
            f"classes must be >= 2 distinct digits 0..9, got {list(classes)}")
    require(n_train >= C and n_train % C == 0, f"n_train must be a positive multiple of {C} (balanced), got {n_train}")
    X, y = _digits()
    rng = np.random.default_rng(np.random.SeedSequence(int(data_seed), spawn_key=(7919, *classes)))
    perms = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    per = n_train // C
    smallest = min(len(p) for p in perms)
    require(per < smallest, f"n_train = {n_train} leaves no test images: at most {C * (smallest - 1)} for {list(classes)}")
    train_idx = np.stack([p[:per] for p in perms], axis=1).reshape(-1)  # interleaved a, b, a, b, ...
    rest = [p[max(per, TRAIN_POOL):] for p in perms]
    if n_test is not None:
        require(n_test >= C, f"n_test must be >= {C}, got {n_test}")
        rest = [r[: max(1, n_test // C)] for r in rest]
    test_idx = np.concatenate(rest)
    relabel = {c: i for i, c in enumerate(classes)}
    y_train = np.array([relabel[int(v)] for v in y[train_idx]], dtype=np.int64)
    if label_noise > 0:
        require(0 < label_noise < 1, f"label_noise must be in [0, 1), got {label_noise}")
        require(noise_rng is not None, "label_noise needs noise_rng")
        flip = noise_rng.random(n_train) < label_noise
        shift = noise_rng.integers(1, C, size=n_train)
        y_train = np.where(flip, (y_train + shift) % C, y_train)
    y_test = np.array([relabel[int(v)] for v in y[test_idx]], dtype=np.int64)
    name = "digits " + "/".join(map(str, classes)) if C < 10 else "digits (10 classes)"
    return Dataset(X[train_idx].copy(), y_train, X[test_idx].copy(), y_test, name=name, classes=classes,
                   image_shape=(8, 8))


def digits_pairs(n_pairs: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``n_pairs`` distinct unordered digit pairs drawn by ``rng`` (each returned as (a, b) with a < b)."""
    all_pairs = [(a, b) for a in range(10) for b in range(a + 1, 10)]
    require(1 <= n_pairs <= len(all_pairs), f"pairs must be in [1, {len(all_pairs)}], got {n_pairs}")
    return [all_pairs[i] for i in rng.choice(len(all_pairs), size=n_pairs, replace=False)]


def standardize(ds: Dataset) -> Dataset:
    """Centre every feature by its training mean, then divide all by one number: the standard deviation of the
    centred training inputs (so they have mean 0 and overall standard deviation 1)."""
    mu = ds.X_train.mean(axis=0)
    sd = float((ds.X_train - mu).std()) or 1.0
    return replace(ds, X_train=(ds.X_train - mu) / sd, X_test=(ds.X_test - mu) / sd)


def random_labels(ds: Dataset, rng: np.random.Generator) -> Dataset:
    """The same inputs with training labels drawn uniformly (still balanced: a random permutation of them)."""
    return replace(ds, y_train=rng.permutation(ds.y_train), name=ds.name + " (random labels)")


def load_npz(path) -> Dataset:
    """A user's data set: ``X_train`` (n × d), ``y_train`` (n), ``X_test`` (t × d), ``y_test`` (t), labels
    0..C−1 with every class present in the training set. Used as given (no rescaling)."""
    path = Path(path)
    require(path.is_file(), f"--data {path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: np.asarray(f[k]) for k in f.files}
    except Exception as exc:  # a corrupt or non-npz file
        raise UserInputError(f"--data {path}: not a readable .npz file ({type(exc).__name__})") from None
    missing = [k for k in ("X_train", "y_train", "X_test", "y_test") if k not in arrays]
    require(not missing, f"--data {path}: missing array(s) {', '.join(missing)} "
                         "(need X_train, y_train, X_test, y_test)")
    Xtr, ytr, Xte, yte = (arrays[k] for k in ("X_train", "y_train", "X_test", "y_test"))
    for key, X in (("X_train", Xtr), ("X_test", Xte)):
        require(X.ndim == 2 and X.shape[0] >= 1 and X.shape[1] >= 1, f"--data {path}: {key} must be 2-D (examples × features), got shape {X.shape}")
        require(_real(X), f"--data {path}: {key} must be real numbers, got dtype {X.dtype}")
        require(np.all(np.isfinite(X)), f"--data {path}: {key} must be finite numbers")
    require(Xtr.shape[1] == Xte.shape[1], f"--data {path}: X_train has {Xtr.shape[1]} features, X_test {Xte.shape[1]}")
    for key, yv, X in (("y_train", ytr, Xtr), ("y_test", yte, Xte)):
        require(yv.ndim == 1 and yv.shape[0] == X.shape[0],
                f"--data {path}: {key} must be a vector of {X.shape[0]} labels, got shape {yv.shape}")
        require(_real(yv) and np.all(np.isfinite(yv)) and np.all(yv == np.round(yv)) and yv.min() >= 0,
                f"--data {path}: {key} must hold integer labels 0..C-1, got dtype {yv.dtype}")
    top = max(float(ytr.max()), float(yte.max()))
    # bounded before any allocation: every class needs a training example, so C <= n_train
    require(top < Xtr.shape[0], f"--data {path}: label {top:.0f} but only {Xtr.shape[0]} training examples; "
            "labels must be 0..C-1 with every class in the training set")
    C = int(top) + 1
    require(C >= 2, f"--data {path}: need at least 2 classes")
    require(not (ytr.min() >= 1 and yte.min() >= 1),
            f"--data {path}: no label 0: labels start at {int(min(ytr.min(), yte.min()))}; use 0..C-1 (e.g. subtract 1)")
    absent = sorted(set(range(C)) - set(ytr.astype(int).tolist()))
    require(not absent, f"--data {path}: class(es) {absent} have no training example")
    return Dataset(Xtr.astype(np.float64), ytr.astype(np.int64), Xte.astype(np.float64), yte.astype(np.int64),
                   name=path.name)


def kink(n: int, rng: np.random.Generator, *, margin: float = 0.2, n_test: int = 400) -> Dataset:
    """Chiang et al.'s "kink": two Λ-shaped polylines y = 1 − |x| ± margin/2 (x ∈ [−1, 1]), class 0 below,
    class 1 above, with small jitter along the line; ``n`` training points (balanced), ``n_test`` test points."""
    def draw(m):
        x = rng.uniform(-1, 1, size=m)
        lab = np.arange(m) % 2
        off = np.where(lab == 1, margin / 2, -margin / 2) + rng.normal(0, margin / 10, size=m)
        return np.column_stack([x, 1 - np.abs(x) + off]), lab.astype(np.int64)
    Xtr, ytr = draw(n)
    Xte, yte = draw(n_test)
    return Dataset(Xtr, ytr, Xte, yte, name="kink")


def slab(n: int, rng: np.random.Generator, *, n_probe: int = 200) -> Dataset:
    """Chiang et al.'s "slab" (after Shah et al. 2020): four horizontal slabs at heights −1.5, −0.5, 0.5, 1.5,
    slab i labelled i mod 2, and every training point of label c on the side sign(x) = 2c − 1 — so the
    training set is separable both by the line x = 0 ("linear") and by the slab boundaries ("zig-zag").
    The test set holds probes on the *other* side of each slab, where the two rules disagree; ``y_test`` is
    the linear rule's label, so test accuracy is the fraction of probes classified the "linear" way."""
    heights = np.array([-1.5, -0.5, 0.5, 1.5])

    def draw(m, flip):
        slab_i = np.arange(m) % 4
        lab = slab_i % 2
        side = (2 * lab - 1) * (-1 if flip else 1)
        X = np.column_stack([side * rng.uniform(0.2, 1.0, size=m), heights[slab_i] + rng.uniform(-0.3, 0.3, size=m)])
        return X, (X[:, 0] > 0).astype(np.int64)
    Xtr, ytr = draw(n, False)
    Xte, yte = draw(n_probe, True)
    return Dataset(Xtr, ytr, Xte, yte, name="slab")
