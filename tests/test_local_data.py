"""Local copies of MNIST, Fashion-MNIST and CIFAR-10 (numerics.local_data): tiny files written here in the
exact on-disk formats of torchvision's downloads (IDX with big-endian headers, optionally gzipped; CIFAR-10
batch pickles with bytes keys) are loaded through the same code a user's copy takes, and Chiang et al.'s
protocol is checked on them."""
import gzip
import pickle
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.errors import UserInputError
from numerics.local_data import (CIFAR_FOLDER, chiang_task, class_pair, expected_path, label_permutation,
                                 load_splits, read_cifar_batch, read_idx)


def idx_bytes(a: np.ndarray) -> bytes:
    code = {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}[a.dtype.type]
    head = bytes([0, 0, code, a.ndim]) + struct.pack(">" + "I" * a.ndim, *a.shape)
    return head + a.astype(a.dtype.newbyteorder(">")).tobytes()


def write_mnist(root, folder="MNIST", n_train=60, n_test=30, gz=False, seed=0, side=28):
    rng = np.random.default_rng(seed)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
              "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": rng.permutation(np.arange(n_test) % 10).astype(np.uint8)}
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    for name, a in arrays.items():
        data = idx_bytes(a)
        if gz:
            (raw / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (raw / name).write_bytes(data)
    return arrays


def write_cifar(root, per_batch=20, n_test=30, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / CIFAR_FOLDER
    folder.mkdir(parents=True)
    out = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        n = n_test if name == "test_batch" else per_batch
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.permutation(np.arange(n) % 10)]
        obj = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
               b"filenames": [f"img{j}.png".encode() for j in range(n)]}
        (folder / name).write_bytes(pickle.dumps(obj, protocol=2))
        out[name] = (data, np.array(labels))
    return out


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dataset,folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_idx_files_load_as_written(tmp_path, gz, dataset, folder):
    arrays = write_mnist(tmp_path, folder, gz=gz, seed=int(gz))
    splits = load_splits(dataset, tmp_path)
    np.testing.assert_array_equal(splits.X_train[:, 0], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(splits.y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(splits.X_test[:, 0], arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(splits.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert splits.image_shape == (1, 28, 28)


def test_idx_reader_reads_other_types_big_endian(tmp_path):
    a = np.arange(-6, 6, dtype=np.int32).reshape(3, 4) * 70000
    (tmp_path / "a").write_bytes(idx_bytes(a))
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), a)
    f = np.linspace(-1, 1, 5).astype(np.float32)
    (tmp_path / "f").write_bytes(idx_bytes(f))
    np.testing.assert_array_equal(read_idx(tmp_path / "f"), f)


def test_cifar_batches_load_as_written(tmp_path):
    written = write_cifar(tmp_path)
    splits = load_splits("cifar10", tmp_path)
    train = np.concatenate([written[f"data_batch_{k}"][0] for k in range(1, 6)])
    np.testing.assert_array_equal(splits.X_train.reshape(len(train), -1), train)
    np.testing.assert_array_equal(splits.y_test, written["test_batch"][1])
    assert splits.image_shape == (3, 32, 32)
    # channel-major rows: the first 1024 bytes of a row are the red plane
    np.testing.assert_array_equal(splits.X_train[0, 0].reshape(-1), train[0, :1024])


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist", "cifar10"])
def test_missing_files_name_the_expected_path_in_one_line(tmp_path, dataset):
    with pytest.raises(UserInputError) as err:
        chiang_task(dataset, tmp_path, 4, 0)
    message = str(err.value)
    assert str(expected_path(dataset, tmp_path)) in message and "\n" not in message
    with pytest.raises(UserInputError, match="data_root"):
        chiang_task(dataset, None, 4, 0)
    with pytest.raises(UserInputError, match="not a folder"):
        chiang_task(dataset, tmp_path / "nowhere", 4, 0)


def test_a_missing_label_file_is_named(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(UserInputError, match="t10k-labels-idx1-ubyte"):
        load_splits("mnist", tmp_path)


def test_corrupt_files_are_user_errors(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"\x01\x02\x03\x04garbage")
    with pytest.raises(UserInputError, match="not an IDX file"):
        load_splits("mnist", tmp_path)
    bad = tmp_path / "evil"
    bad.write_bytes(pickle.dumps({b"data": print}, protocol=2))  # a global that is not allowed
    with pytest.raises(UserInputError, match="not a CIFAR-10 batch"):
        read_cifar_batch(bad)


@settings(max_examples=10)
@given(seed=st.integers(0, 10 ** 6), n=st.sampled_from([2, 4, 8]))
def test_two_class_protocol(seed, n):
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        write_mnist(root, n_train=100, n_test=50)
        splits = load_splits("mnist", root)
        ds = chiang_task("mnist", root, n, seed)
        big = chiang_task("mnist", root, 2 * n, seed)
    a, b = class_pair(seed)
    assert ds.classes == (a, b) and a != b
    # balanced, class-interleaved, nested
    np.testing.assert_array_equal(ds.y_train, np.arange(n) % 2)
    np.testing.assert_array_equal(big.X_train[:n], ds.X_train)
    # the whole test split of the two classes
    assert len(ds.y_test) == int(np.isin(splits.y_test, [a, b]).sum())
    assert np.bincount(ds.y_test).tolist() == [int((splits.y_test == a).sum()), int((splits.y_test == b).sum())]
    # normalized by the training split's statistics: the whole split maps to mean 0, sd 1
    Xall = splits.X_train.astype(np.float64) / 255.0
    mu, sd = Xall.mean(), Xall.std()
    raw = ds.X_train * sd + mu
    assert np.all(np.abs(raw * 255.0 - np.rint(raw * 255.0)) < 1e-9)  # undoing it gives the bytes back
    train_pool = {tuple(x) for x in (splits.X_train.reshape(len(splits.X_train), -1)[np.isin(splits.y_train, [a, b])])}
    assert all(tuple(np.rint(r * 255.0).astype(np.uint8)) in train_pool for r in raw)


@settings(max_examples=6)
@given(seed=st.integers(0, 10 ** 6))
def test_ten_class_protocol_permutes_labels(seed, tmp_path_factory):
    root = tmp_path_factory.mktemp("c10")
    write_cifar(root)
    splits = load_splits("cifar10", root)
    ds = chiang_task("cifar10", root, 20, seed, n_classes=10)
    perm = label_permutation(seed)
    assert sorted(perm.tolist()) == list(range(10))
    np.testing.assert_array_equal(ds.y_train, np.arange(20) % 10)
    np.testing.assert_array_equal(np.sort(ds.y_test), np.sort(perm[splits.y_test]))  # every test image, relabelled
    assert ds.classes == tuple(int(c) for c in np.argsort(perm)) and ds.image_shape == (32, 32) and ds.dim == 3072
    # per-channel normalization by the whole training split: undoing it gives training images back
    whole = splits.X_train.astype(np.float64) / 255
    mean, sd = whole.mean(axis=(0, 2, 3)), whole.std(axis=(0, 2, 3))
    raw = np.rint((ds.X_train.reshape(20, 3, -1) * sd[None, :, None] + mean[None, :, None]) * 255).astype(np.uint8)
    pool = {x.tobytes() for x in splits.X_train.reshape(len(splits.X_train), -1)}
    assert all(r.reshape(-1).tobytes() in pool for r in raw)
    z = (whole - mean[None, :, None, None]) / sd[None, :, None, None]
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-12)


def test_label_permutations_and_pairs_vary_with_the_seed():
    assert len({tuple(label_permutation(s)) for s in range(20)}) > 15
    assert len({class_pair(s) for s in range(40)}) > 10


def test_unbalanced_sizes_are_refused(tmp_path):
    write_mnist(tmp_path)
    with pytest.raises(UserInputError, match="multiple of 2"):
        chiang_task("mnist", tmp_path, 5, 0)
    with pytest.raises(UserInputError, match="only"):
        chiang_task("mnist", tmp_path, 40, 0)


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_check_files_names_the_first_missing_file_without_reading(tmp_path, dataset):
    from numerics.local_data import check_files
    with pytest.raises(UserInputError, match="not found"):
        check_files(dataset, tmp_path)
    if dataset == "mnist":
        write_mnist(tmp_path, gz=True)
    else:
        write_cifar(tmp_path)
    check_files(dataset, tmp_path)  # complete: no error
