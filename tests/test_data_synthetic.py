"""Tests of the synthetic data generators and the CIFAR-10 reader of dlcode.data."""

import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlcode.data import CIFAR10_FILES, load_cifar10, make_spirals, make_xor

# ---------------------------------------------------------------- make_xor


@given(st.integers(1, 300), st.floats(0, 1), st.integers(0, 2**31 - 1))
def test_make_xor_shapes_and_reproducibility(n, noise, seed):
    X, y = make_xor(n, noise=noise, seed=seed)
    assert X.shape == (n, 2) and y.shape == (n,)
    assert X.dtype == np.float64 and y.dtype == np.int64 and set(np.unique(y)) <= {0, 1}
    X2, y2 = make_xor(n, noise=noise, seed=seed)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)


def test_make_xor_labels_are_xor_of_the_corners():
    X, y = make_xor(500, noise=0.0, seed=0)
    assert set(map(tuple, X)) == {(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)}
    assert np.array_equal(y, (X[:, 0] != X[:, 1]).astype(int))
    Xn, yn = make_xor(2000, noise=0.1, seed=1)
    corner = np.round(Xn).clip(0, 1)
    assert np.mean(yn == (corner[:, 0] != corner[:, 1])) > 0.99
    assert 0.45 < yn.mean() < 0.55  # balanced classes
    assert not np.array_equal(make_xor(50, seed=1)[0], make_xor(50, seed=2)[0])


def test_make_xor_accepts_a_generator_and_validates():
    rng = np.random.default_rng(5)
    a = make_xor(10, seed=rng)[0]
    b = make_xor(10, seed=rng)[0]
    assert not np.array_equal(a, b)  # the shared stream advanced
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, inf\], got 0"):
        make_xor(0)
    with pytest.raises(ValueError, match="n must be an integer, got 2.5"):
        make_xor(2.5)
    with pytest.raises(ValueError, match=r"noise must be a finite number in \[0, inf\), got -0.1"):
        make_xor(10, noise=-0.1)


# ---------------------------------------------------------------- make_spirals


@given(st.integers(1, 80), st.integers(2, 6), st.floats(0, 0.5), st.integers(0, 2**31 - 1))
def test_make_spirals_shapes_and_reproducibility(n_per_class, n_classes, noise, seed):
    X, y = make_spirals(n_per_class, n_classes, noise=noise, seed=seed)
    n = n_per_class * n_classes
    assert X.shape == (n, 2) and y.shape == (n,) and X.dtype == np.float64 and y.dtype == np.int64
    assert np.array_equal(np.bincount(y, minlength=n_classes), np.full(n_classes, n_per_class))
    assert np.array_equal(y, np.sort(y))  # ordered by class
    X2, y2 = make_spirals(n_per_class, n_classes, noise=noise, seed=seed)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    # The noise is angular: radii are evenly spaced in [0, 1] whatever the noise.
    radii = np.linalg.norm(X, axis=1).reshape(n_classes, n_per_class)
    assert np.allclose(radii, np.linspace(0, 1, n_per_class), atol=1e-12)


def test_make_spirals_arms_without_noise():
    X, y = make_spirals(50, 4, noise=0.0, seed=0)
    angle = np.arctan2(X[:, 0], X[:, 1])  # the generator puts r sin(angle), r cos(angle)
    r = np.linalg.norm(X, axis=1)
    expected = 2 * np.pi * y / 4 + 4 * r
    diff = np.angle(np.exp(1j * (angle - expected)))
    assert np.allclose(diff[r > 0], 0, atol=1e-12)


def test_make_spirals_validates():
    with pytest.raises(ValueError, match=r"n_per_class must be an integer in \[1, inf\]"):
        make_spirals(0)
    with pytest.raises(ValueError, match=r"n_classes must be an integer in \[2, inf\], got 1"):
        make_spirals(10, n_classes=1)
    with pytest.raises(ValueError, match=r"noise must be a finite number in \[0, inf\)"):
        make_spirals(10, noise=-1.0)


# ---------------------------------------------------------------- load_cifar10


def write_batches(folder, sizes, seed=0, names=CIFAR10_FILES):
    """Write CIFAR-10-format pickles (Python dicts with bytes keys) and return them."""
    rng = np.random.default_rng(seed)
    batches = {}
    for name, size in zip(names, sizes, strict=True):
        batch = {
            b"batch_label": name.encode(),
            b"data": rng.integers(0, 256, size=(size, 3072), dtype=np.uint8),
            b"labels": rng.integers(0, 10, size=size).tolist(),
            b"filenames": [f"{name}_{i}.png".encode() for i in range(size)],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
        batches[name] = batch
    return batches


def test_load_cifar10_on_a_fixture(tmp_path):
    batches = write_batches(tmp_path, [3, 2, 4, 1, 2, 5])
    out = load_cifar10(tmp_path)
    assert out["X_train"].shape == (12, 3, 32, 32) and out["X_test"].shape == (5, 3, 32, 32)
    assert out["X_train"].dtype == np.float32 and out["y_train"].dtype == np.int64
    train_data = np.concatenate([batches[name][b"data"] for name in CIFAR10_FILES[:5]])
    train_labels = sum((batches[name][b"labels"] for name in CIFAR10_FILES[:5]), [])
    assert np.array_equal(out["y_train"], train_labels)
    assert np.array_equal(out["y_test"], batches["test_batch"][b"labels"])
    # Pixel (channel c, row i, column j) of image k is entry c * 1024 + 32 * i + j of row k.
    k, c, i, j = 7, 2, 5, 30
    assert out["X_train"][k, c, i, j] == np.float32(train_data[k, c * 1024 + 32 * i + j]) / 255
    assert np.array_equal(out["X_train"].reshape(12, 3072) * 255, train_data.astype(np.float32))
    flat = load_cifar10(tmp_path, flatten=True, dtype=np.float64)
    assert flat["X_test"].shape == (5, 3072) and flat["X_test"].dtype == np.float64
    assert np.array_equal(flat["X_test"], batches["test_batch"][b"data"] / 255.0)
    assert 0 <= flat["X_train"].min() and flat["X_train"].max() <= 1


def test_load_cifar10_accepts_the_parent_folder(tmp_path):
    inner = tmp_path / "cifar-10-batches-py"
    inner.mkdir()
    write_batches(inner, [1] * 6)
    assert load_cifar10(tmp_path)["X_train"].shape == (5, 3, 32, 32)


def test_load_cifar10_missing_folder_and_files(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=r"nowhere.*does not exist.*data_batch_1.*test_"):
        load_cifar10(missing)
    write_batches(tmp_path, [1] * 5, names=CIFAR10_FILES[:5])
    with pytest.raises(FileNotFoundError, match=r"lacks test_batch"):
        load_cifar10(tmp_path)


def test_load_cifar10_rejects_malformed_batches(tmp_path):
    write_batches(tmp_path, [2] * 6)
    bad = {b"data": np.zeros((2, 100), dtype=np.uint8), b"labels": [0, 1]}
    with open(tmp_path / "data_batch_3", "wb") as f:
        pickle.dump(bad, f)
    with pytest.raises(ValueError, match=r"data_batch_3.*uint8 array of shape \(N, 3072\).*100"):
        load_cifar10(tmp_path)
    bad = {b"data": np.zeros((2, 3072), dtype=np.uint8), b"labels": [0, 1, 2]}
    with open(tmp_path / "data_batch_3", "wb") as f:
        pickle.dump(bad, f)
    with pytest.raises(ValueError, match=r"b'labels' must be 2 integers"):
        load_cifar10(tmp_path)
    bad = {b"data": np.zeros((2, 3072), dtype=np.uint8), b"labels": [0, 10]}
    with open(tmp_path / "data_batch_3", "wb") as f:
        pickle.dump(bad, f)
    with pytest.raises(ValueError, match=r"labels must lie in 0..9"):
        load_cifar10(tmp_path)
    with open(tmp_path / "data_batch_3", "wb") as f:
        pickle.dump([1, 2, 3], f)
    with pytest.raises(ValueError, match="not a CIFAR-10 batch"):
        load_cifar10(tmp_path)
