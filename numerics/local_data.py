"""MNIST, Fashion-MNIST and CIFAR-10 from a local copy, and Chiang et al.'s data protocol on them.

Nothing is fetched at run time. ``data_root`` is the folder a torchvision download left behind:

- ``ROOT/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (each also accepted gzipped, ``.gz``);
- ``ROOT/FashionMNIST/raw/...`` (the same four file names);
- ``ROOT/cifar-10-batches-py/{data_batch_1..5,test_batch}`` (the Python pickles of the CIFAR-10 release).

The files are read with numpy (torchvision is not needed): an IDX file is two zero bytes, a type byte
(0x08 unsigned byte … 0x0E float64), a byte with the number of dimensions, one big-endian uint32 per
dimension, then the values in big-endian row-major order; a CIFAR-10 batch is a pickled dict with ``data``
(10000 × 3072 uint8, channel-major 3 × 32 × 32 rows) and ``labels``. The pickles are read by an unpickler that
only admits the few numpy and builtin types these files contain, so a foreign pickle cannot run code.
A missing file raises a one-line :class:`UserInputError` that names the expected path.

The protocol of Chiang et al. (ICLR 2023, §4, their LeNet experiments), as :func:`chiang_task`:
- two-class tasks: a random class pair per data seed; ten-class tasks: a random label permutation per data
  seed (class ``c`` is called ``perm[c]``);
- balanced training sets of n // C images per class, drawn from the training split, in class-interleaved
  order (a, b, a, b, … ; for ten classes 0, 1, …, 9, 0, …), so the set of size n is a prefix of the larger ones
  (nested sets: one G&C pass serves every n);
- inputs normalized by training-set statistics: per channel, the mean and standard deviation of the whole
  training split of the dataset (the constants torchvision users pass to ``Normalize``), independent of n so
  that nested sets share one normalization — this choice of *which* training statistics is the package's;
- the test set is the whole test split of the chosen classes (``n_test`` caps it, for quick runs).
"""
from __future__ import annotations

import gzip
import io
import pickle
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from numerics.datasets import Dataset
from numerics.errors import UserInputError, require

DATASETS = ("mnist", "fashion_mnist", "cifar10")
FOLDERS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
IDX_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
             "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = "test_batch"
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class ImageSplits:
    """A whole dataset: uint8 images (N, channels, H, W) and int64 labels, train and test splits."""
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str

    @property
    def image_shape(self) -> tuple:
        return tuple(self.X_train.shape[1:])


# ----------------------------------------------------------------------------------------------------
# readers
# ----------------------------------------------------------------------------------------------------
def _found(path: Path, what: str) -> Path:
    """``path`` or ``path.gz``, whichever exists; else a one-line error naming the expected path."""
    for p in (path, path.with_name(path.name + ".gz")):
        if p.is_file():
            return p
    raise UserInputError(f"{what}: {path}[.gz] not found (expected torchvision's on-disk layout under data_root)")


def read_idx(path) -> np.ndarray:
    """The array of one IDX file (gzipped when the name ends in .gz), in its native dtype."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except OSError as exc:
            raise UserInputError(f"{path}: not a gzip file ({exc})") from None
    require(len(raw) >= 4 and raw[0] == 0 and raw[1] == 0 and raw[2] in IDX_TYPES,
            f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    head = 4 + 4 * ndim
    require(len(raw) >= head, f"{path}: truncated IDX header")
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    require(len(raw) - head == size * dtype.itemsize,
            f"{path}: IDX header says {shape} values of {dtype.itemsize} bytes but the file holds {len(raw) - head} bytes")
    return np.frombuffer(raw, dtype=dtype, offset=head).reshape(shape).astype(dtype.newbyteorder("="))


class _SafeUnpickler(pickle.Unpickler):
    """Only the builtin and numpy types of a CIFAR-10 batch (dicts, lists, bytes, numpy arrays)."""
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("builtins", "list"), ("builtins", "dict"),
               ("_codecs", "encode"), ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
               ("__builtin__", "object"), ("builtins", "object")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR-10 batch")


def read_cifar_batch(path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 of one CIFAR-10 batch pickle."""
    path = Path(path)
    try:
        obj = _SafeUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except Exception as exc:  # not a pickle, a foreign pickle, or truncated
        raise UserInputError(f"{path}: not a CIFAR-10 batch pickle ({type(exc).__name__}: {exc})") from None
    require(isinstance(obj, dict), f"{path}: not a CIFAR-10 batch (a dict with data and labels)")
    d = {(k.decode() if isinstance(k, bytes) else k): v for k, v in obj.items()}
    require("data" in d and "labels" in d, f"{path}: a CIFAR-10 batch needs the keys data and labels")
    data = np.asarray(d["data"])
    labels = np.asarray(d["labels"], dtype=np.int64)
    require(data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072 and labels.shape == (data.shape[0],),
            f"{path}: data must be N x 3072 uint8 with N labels, got {data.shape} {data.dtype} and {labels.shape}")
    return data.reshape(-1, 3, 32, 32), labels


def _check_labels(y, what, classes=10):
    require(y.ndim == 1 and y.size >= 1 and y.min() >= 0 and y.max() < classes,
            f"{what}: labels must be 0..{classes - 1}")


def _idx_splits(root: Path, dataset: str) -> ImageSplits:
    folder = root / FOLDERS[dataset] / "raw"
    arrays = {k: read_idx(_found(folder / f, f"dataset={dataset}")) for k, f in IDX_FILES.items()}
    out = {}
    for split in ("train", "test"):
        X, y = arrays[f"{split}_images"], arrays[f"{split}_labels"].astype(np.int64)
        require(X.ndim == 3 and X.dtype == np.uint8, f"dataset={dataset}: {split} images must be N x H x W uint8, got {X.shape} {X.dtype}")
        require(y.shape == (X.shape[0],), f"dataset={dataset}: {X.shape[0]} {split} images but {y.shape} labels")
        _check_labels(y, f"dataset={dataset} {split}")
        out[split] = (X[:, None], y)
    require(out["train"][0].shape[1:] == out["test"][0].shape[1:], f"dataset={dataset}: train and test images differ in shape")
    return ImageSplits(*out["train"], *out["test"], name=dataset)


def _cifar_splits(root: Path) -> ImageSplits:
    folder = root / CIFAR_FOLDER
    train = [read_cifar_batch(_found_plain(folder / f)) for f in CIFAR_TRAIN]
    Xte, yte = read_cifar_batch(_found_plain(folder / CIFAR_TEST))
    Xtr, ytr = np.concatenate([a for a, _ in train]), np.concatenate([b for _, b in train])
    for y, split in ((ytr, "train"), (yte, "test")):
        _check_labels(y, f"dataset=cifar10 {split}")
    return ImageSplits(Xtr, ytr, Xte, yte, name="cifar10")


def _found_plain(path: Path) -> Path:
    if not path.is_file():
        raise UserInputError(f"dataset=cifar10: {path} not found (expected torchvision's on-disk layout under data_root)")
    return path


def expected_path(dataset: str, root) -> Path:
    """Where ``dataset``'s first file is expected under ``root`` (for messages and docs)."""
    root = Path(root)
    if dataset == "cifar10":
        return root / CIFAR_FOLDER / CIFAR_TRAIN[0]
    return root / FOLDERS[dataset] / "raw" / IDX_FILES["train_images"]


def check_files(dataset: str, root) -> None:
    """A one-line :class:`UserInputError` naming the first expected file that is missing under ``root`` (no
    file is read): for validating parameters before a run starts."""
    require(dataset in DATASETS, f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    require(root is not None and str(root) != "",
            f"dataset={dataset} needs data_root=PATH, the folder holding {expected_path(dataset, 'PATH')}")
    root = Path(root).expanduser()
    require(root.is_dir(), f"dataset={dataset}: data_root {root} is not a folder (expected {expected_path(dataset, root)})")
    if dataset == "cifar10":
        for f in (*CIFAR_TRAIN, CIFAR_TEST):
            _found_plain(root / CIFAR_FOLDER / f)
    else:
        for f in IDX_FILES.values():
            _found(root / FOLDERS[dataset] / "raw" / f, f"dataset={dataset}")


@lru_cache(maxsize=4)
def _load(dataset: str, root: str, mtime: float) -> ImageSplits:
    splits = _cifar_splits(Path(root)) if dataset == "cifar10" else _idx_splits(Path(root), dataset)
    for a in (splits.X_train, splits.y_train, splits.X_test, splits.y_test):
        a.setflags(write=False)
    return splits


def load_splits(dataset: str, root) -> ImageSplits:
    """The whole dataset from ``root`` (cached per process; a changed folder is read again)."""
    check_files(dataset, root)
    root = Path(root).expanduser()
    first = expected_path(dataset, root)
    probe = first if first.exists() else first.with_name(first.name + ".gz")
    mtime = probe.stat().st_mtime if probe.exists() else 0.0
    return _load(dataset, str(root.resolve()), mtime)


# ----------------------------------------------------------------------------------------------------
# Chiang et al.'s protocol
# ----------------------------------------------------------------------------------------------------
def channel_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of uint8 images (N, C, H, W) scaled to [0, 1]."""
    X = X.astype(np.float64) / 255.0
    return X.mean(axis=(0, 2, 3)), X.std(axis=(0, 2, 3))


@lru_cache(maxsize=4)
def _stats(dataset: str, root: str, mtime: float):
    return channel_stats(_load(dataset, root, mtime).X_train)


def class_pair(data_seed: int, n_classes: int = 10) -> tuple[int, int]:
    """The class pair of a data seed (two-class tasks): two distinct classes, uniformly."""
    rng = np.random.default_rng(np.random.SeedSequence(int(data_seed), spawn_key=(6101,)))
    a, b = sorted(rng.choice(n_classes, size=2, replace=False).tolist())
    return int(a), int(b)


def label_permutation(data_seed: int, n_classes: int = 10) -> np.ndarray:
    """The label permutation of a data seed (ten-class tasks): class ``c`` is called ``perm[c]``."""
    rng = np.random.default_rng(np.random.SeedSequence(int(data_seed), spawn_key=(6102,)))
    return rng.permutation(n_classes)


def balanced_indices(y: np.ndarray, classes, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """``per_class`` indices of each of ``classes`` (a random subset each), class-interleaved:
    c0, c1, …, c0, c1, … (so every prefix of length k·C is balanced)."""
    picks = []
    for c in classes:
        pool = np.flatnonzero(y == c)
        require(per_class <= pool.size, f"class {c} has only {pool.size} training images, {per_class} asked")
        picks.append(rng.permutation(pool)[:per_class])
    return np.stack(picks, axis=1).reshape(-1)


def chiang_task(dataset: str, root, n_train: int, data_seed: int, *, n_classes: int = 2, classes=None,
                n_test: int | None = None) -> Dataset:
    """A task of Chiang et al.'s protocol (module docstring) from a local copy: ``n_classes`` 2 (a class pair
    drawn by the data seed, or ``classes``) or 10 (all classes, labels permuted by the data seed). Inputs are
    flattened (channels × H × W, float64), normalized by the training split's per-channel statistics;
    ``image_shape`` is (H, W) and the number of channels is ``dim // (H·W)``."""
    splits = load_splits(dataset, root)
    root_s = str(Path(root).expanduser().resolve())
    first = expected_path(dataset, root_s)
    probe = first if first.exists() else first.with_name(first.name + ".gz")
    mean, sd = _stats(dataset, root_s, probe.stat().st_mtime if probe.exists() else 0.0)
    return protocol_task(splits, n_train, data_seed, n_classes=n_classes, classes=classes, n_test=n_test,
                         mean=mean, sd=sd)


def protocol_task(splits: ImageSplits, n_train: int, data_seed: int, *, n_classes: int = 2, classes=None,
                  n_test: int | None = None, mean=None, sd=None) -> Dataset:
    """:func:`chiang_task` on splits already in memory (``mean``/``sd`` default to the training split's)."""
    total = int(max(splits.y_train.max(), splits.y_test.max()) + 1)
    require(n_classes in (2, total), f"n_classes must be 2 or {total} (all classes), got {n_classes}")
    if classes is not None and len(classes):
        classes = tuple(int(c) for c in classes)
        require(len(classes) == n_classes and len(set(classes)) == n_classes and all(0 <= c < total for c in classes),
                f"classes must be {n_classes} distinct labels in 0..{total - 1}, got {list(classes)}")
        order = list(classes)
    elif n_classes == 2:
        order = list(class_pair(data_seed, total))
    else:
        perm = label_permutation(data_seed, total)
        order = list(np.argsort(perm))  # the original class that is called 0, 1, …
    C = len(order)
    require(n_train >= C and n_train % C == 0, f"n_train must be a positive multiple of {C} (balanced), got {n_train}")
    rng = np.random.default_rng(np.random.SeedSequence(int(data_seed), spawn_key=(6103, *order)))
    train_idx = balanced_indices(splits.y_train, order, n_train // C, rng)
    test_idx = np.flatnonzero(np.isin(splits.y_test, order))
    if n_test is not None:
        require(n_test >= 1, f"n_test must be >= 1, got {n_test}")
        test_idx = np.sort(rng.permutation(test_idx)[:n_test])
    relabel = np.full(total, -1, dtype=np.int64)
    relabel[order] = np.arange(C)
    if mean is None:
        mean, sd = channel_stats(splits.X_train)
    sd = np.where(np.asarray(sd) > 0, sd, 1.0)

    def prep(X):
        Z = (X.astype(np.float64) / 255.0 - np.asarray(mean)[None, :, None, None]) / np.asarray(sd)[None, :, None, None]
        return Z.reshape(Z.shape[0], -1)

    Cin, H, W = splits.image_shape
    name = f"{splits.name} " + ("/".join(map(str, order)) if C == 2 else f"({C} classes, permuted labels)")
    return Dataset(prep(splits.X_train[train_idx]), relabel[splits.y_train[train_idx]], prep(splits.X_test[test_idx]),
                   relabel[splits.y_test[test_idx]], name=name, classes=tuple(int(c) for c in order), image_shape=(H, W))


def digits_splits(size: int = 28) -> ImageSplits:
    """scikit-learn's 8×8 digits as a stand-in with the shape of MNIST: each image upsampled to ``size`` ×
    ``size`` (bilinear, values in 0..255 as uint8), split 80 / 20 by a fixed permutation (seed 0 of the
    package's own stream). For quick runs of the LeNet presets without a local copy of MNIST."""
    import torch
    import torch.nn.functional as F
    from numerics.datasets import _digits
    X, y = _digits()
    img = torch.as_tensor(np.array(X, dtype=np.float64).reshape(-1, 1, 8, 8))
    up = F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False).numpy()
    up = np.clip(np.rint(up * 255.0), 0, 255).astype(np.uint8)
    perm = np.random.default_rng(np.random.SeedSequence(0, spawn_key=(6104,))).permutation(len(y))
    cut = int(0.8 * len(y))
    tr, te = perm[:cut], perm[cut:]
    return ImageSplits(up[tr], y[tr].astype(np.int64), up[te], y[te].astype(np.int64), name=f"digits{size}")
