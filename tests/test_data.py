"""Tests of dlcode.data: stratified splits, the digits, the noisy sine."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dlcode.data import as_rng, load_digits, make_noisy_sine, stratified_split


def test_as_rng():
    rng = np.random.default_rng(0)
    assert as_rng(rng) is rng
    assert as_rng(5).integers(1000) == np.random.default_rng(5).integers(1000)
    assert isinstance(as_rng(None), np.random.Generator)


@given(
    arrays(np.int64, st.integers(1, 300), elements=st.integers(0, 5)),
    st.sampled_from([(0.5, 0.5), (0.6, 0.2, 0.2), (0.7, 0.3), (0.1, 0.2, 0.3, 0.4)]),
    st.integers(0, 1000),
)
def test_stratified_split_partitions_and_keeps_class_shares(y, fractions, seed):
    parts = stratified_split(y, fractions, seed=seed)
    assert len(parts) == len(fractions)
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(y)))  # a partition
    assert all(np.array_equal(p, np.sort(p)) for p in parts)
    cuts = np.cumsum(fractions)[:-1]
    for label in np.unique(y):
        n_class = int(np.sum(y == label))
        counts = [int(np.sum(y[p] == label)) for p in parts]
        bounds = np.concatenate([[0], np.round(cuts * n_class).astype(int), [n_class]])
        assert counts == np.diff(bounds).tolist()  # rounded fractions of each class
        assert all(abs(c - f * n_class) <= 1 for c, f in zip(counts, fractions, strict=True))


def test_stratified_split_is_seeded():
    y = np.repeat(np.arange(3), 20)
    a = stratified_split(y, (0.5, 0.5), seed=1)
    b = stratified_split(y, (0.5, 0.5), seed=1)
    c = stratified_split(y, (0.5, 0.5), seed=2)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c, strict=True))


@pytest.mark.parametrize(
    ("y", "fractions", "match"),
    [
        (np.zeros((2, 3), int), (0.5, 0.5), r"y must be 1-D.*got shape \(2, 3\)"),
        (np.zeros(4, int), (0.5, 0.6), "fractions must be positive and sum to 1"),
        (np.zeros(4, int), (1.2, -0.2), "fractions must be positive and sum to 1"),
        (np.zeros(4, int), ((0.5, 0.5),), "fractions must be positive and sum to 1"),
    ],
)
def test_stratified_split_errors(y, fractions, match):
    with pytest.raises(ValueError, match=match):
        stratified_split(y, fractions)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_load_digits_shapes_dtypes_range(digits):
    total = 0
    for part in ("train", "val", "test"):
        X, y = digits[f"X_{part}"], digits[f"y_{part}"]
        assert X.ndim == 2 and X.shape[1] == 64 and y.shape == (X.shape[0],)
        assert X.dtype == np.float64 and y.dtype == np.int64
        assert X.min() >= 0 and X.max() <= 1
        assert set(np.unique(y)) == set(range(10))
        assert np.allclose(X * 16, np.round(X * 16))  # the pixel values were 0..16
        total += len(y)
    assert total == 1797
    assert len(digits["y_train"]) > 3 * len(digits["y_test"]) / 2


def test_load_digits_parts_disjoint_and_complete(digits):
    from sklearn.datasets import load_digits as sklearn_digits

    rows = {part: {r.tobytes() for r in digits[f"X_{part}"]} for part in ("train", "val", "test")}
    assert len(set.union(*rows.values())) == 1797
    all_images = {r.tobytes() for r in sklearn_digits().data.astype(np.float64) / 16.0}
    assert set.union(*rows.values()) == all_images


def test_load_digits_class_shares(digits):
    shares = [np.bincount(digits[f"y_{p}"], minlength=10) / len(digits[f"y_{p}"])
              for p in ("train", "val", "test")]
    assert np.max(np.abs(np.array(shares) - shares[0])) < 0.01


def test_load_digits_deterministic_and_seeded(digits):
    again = load_digits()
    assert all(np.array_equal(digits[key], again[key]) for key in digits)
    other = load_digits(seed=1)
    assert other["X_train"].shape == digits["X_train"].shape  # same class sizes, other images
    assert not np.array_equal(digits["X_train"], other["X_train"])


def test_load_digits_fractions():
    d = load_digits(val_fraction=0.1, test_fraction=0.3)
    assert abs(len(d["y_val"]) - 0.1 * 1797) <= 10 and abs(len(d["y_test"]) - 0.3 * 1797) <= 10


@pytest.mark.parametrize(("val", "test"), [(0.0, 0.2), (0.2, 1.0), (0.6, 0.5), (-0.1, 0.2)])
def test_load_digits_errors(val, test):
    with pytest.raises(ValueError, match="val_fraction and test_fraction must lie in"):
        load_digits(val_fraction=val, test_fraction=test)


def test_make_noisy_sine_reproducible_and_shaped():
    x, y = make_noisy_sine(100, seed=3)
    x2, y2 = make_noisy_sine(100, seed=3)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert x.shape == y.shape == (100,)
    assert np.all((0 <= x) & (x <= 1))
    x3, _ = make_noisy_sine(100, seed=4)
    assert not np.array_equal(x, x3)


def test_make_noisy_sine_noise_level():
    x, y = make_noisy_sine(5, noise=0.0, seed=0)
    np.testing.assert_allclose(y, np.sin(2 * np.pi * x))
    x, y = make_noisy_sine(100_000, noise=0.5, seed=1)
    residual = y - np.sin(2 * np.pi * x)
    assert abs(residual.std() - 0.5) < 0.01 and abs(residual.mean()) < 0.01


def test_make_noisy_sine_shares_a_generator():
    rng = np.random.default_rng(0)
    a = make_noisy_sine(10, seed=rng)
    b = make_noisy_sine(10, seed=rng)
    assert not np.array_equal(a[0], b[0])


@pytest.mark.parametrize(
    ("n", "noise", "match"),
    [
        (0, 0.3, r"n must be an integer in \[1, inf\], got 0"),
        (2.5, 0.3, "n must be an integer, got 2.5"),
        (10, -0.1, r"noise must be a finite number in \[0, inf\), got -0.1"),
    ],
)
def test_make_noisy_sine_errors(n, noise, match):
    with pytest.raises(ValueError, match=match):
        make_noisy_sine(n, noise=noise)
