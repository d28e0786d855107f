"""Unit tests of dlcode.regularization: penalties, soft-thresholding and shifted images."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from scipy import ndimage

from dlcode.gradcheck import numerical_gradient, rel_error
from dlcode.regularization import (
    ONE_PIXEL_SHIFTS,
    augment_shifts,
    l1_penalty,
    l2_penalty,
    shift_images,
    soft_threshold,
)

finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
thresholds = st.floats(0, 20, allow_nan=False, allow_infinity=False)
float_arrays = arrays(np.float64, array_shapes(min_dims=0, max_dims=3, max_side=5), elements=finite)
seeds = st.integers(0, 2**32 - 1)


# --- soft_threshold -------------------------------------------------------------------------------

@given(float_arrays, thresholds)
def test_soft_threshold_formula_zeros_and_signs(w, t):
    out = soft_threshold(w, t)
    assert out.shape == w.shape and out.dtype == np.float64
    np.testing.assert_allclose(np.abs(out), np.maximum(np.abs(w) - t, 0), rtol=1e-15, atol=1e-13)
    assert np.array_equal(out == 0, np.abs(w) <= t)  # zero exactly when |w| <= t
    assert np.all(np.sign(out)[out != 0] == np.sign(w)[out != 0])  # signs are kept
    assert np.all(np.abs(out) <= np.abs(w))  # every entry moves towards zero
    assert not np.any(np.signbit(out[out == 0]))  # zeros are +0.0


@given(float_arrays, thresholds, seeds)
def test_soft_threshold_is_the_proximal_step(w, t, seed):
    """out = argmin_u 0.5 ||u - w||^2 + t ||u||_1: optimality condition and no better neighbour."""
    out = soft_threshold(w, t)
    moved = w - out
    nz = out != 0
    np.testing.assert_allclose(moved[nz], t * np.sign(out[nz]), rtol=1e-12, atol=1e-12)
    assert np.all(np.abs(w[~nz]) <= t)  # 0 lies in the subdifferential at the zeros

    def objective(u):
        return 0.5 * np.sum((u - w) ** 2) + t * np.sum(np.abs(u))

    rng = np.random.default_rng(seed)
    best = objective(out)
    for scale in (1e-3, 1e-1, 1.0):
        for _ in range(5):
            other = out + scale * rng.normal(size=w.shape)
            assert best <= objective(other) + 1e-9 * (1 + abs(best))


@given(arrays(np.float64, st.integers(1, 8), elements=finite), seeds)
def test_soft_threshold_per_entry_thresholds(w, seed):
    t = np.random.default_rng(seed).uniform(0, 10, size=w.shape)
    t[0] = 0.0  # an unpenalised entry is left alone
    out = soft_threshold(w, t)
    assert out[0] == w[0]
    one_by_one = [soft_threshold(wi, ti) for wi, ti in zip(w, t, strict=True)]
    np.testing.assert_array_equal(out, one_by_one)


def test_soft_threshold_identity_at_zero_threshold_and_inputs_untouched():
    w = np.array([[-2.0, 0.0, 3.5], [1e-300, -1e-300, 7.0]])
    before = w.copy()
    out = soft_threshold(w, 0.0)
    np.testing.assert_array_equal(out, w)
    assert not np.shares_memory(out, w)
    soft_threshold(w, 1.0)
    np.testing.assert_array_equal(w, before)
    np.testing.assert_array_equal(soft_threshold([3, -1, 2], 2), [1.0, 0.0, 0.0])  # integers


@given(arrays(np.float64, array_shapes(min_dims=1, max_dims=3, max_side=5), elements=finite),
       thresholds)
def test_soft_threshold_matches_torch_softshrink(w, t):
    import torch
    expected = torch.nn.functional.softshrink(torch.tensor(w), t).numpy()
    np.testing.assert_allclose(soft_threshold(w, t), expected, rtol=1e-15, atol=0)


def test_soft_threshold_errors():
    with pytest.raises(ValueError, match="t must be non-negative, got a minimum of -0.5"):
        soft_threshold(np.ones(3), -0.5)
    with pytest.raises(ValueError, match=r"t of shape \(2,\) does not broadcast to .* \(3,\)"):
        soft_threshold(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match=r"t of shape \(2, 3\) does not broadcast.*\(3,\)"):
        soft_threshold(np.ones(3), np.ones((2, 3)))  # would enlarge w
    with pytest.raises(ValueError, match="w contains NaN or infinite"):
        soft_threshold(np.array([1.0, np.nan]), 0.1)
    with pytest.raises(ValueError, match="w must be a real numeric array, got dtype complex"):
        soft_threshold(np.array([1j, 2.0]), 0.1)
    with pytest.raises(ValueError, match="t must be a real numeric array"):
        soft_threshold(np.ones(2), "0.1")


# --- penalties ------------------------------------------------------------------------------------

@given(arrays(np.float64, array_shapes(min_dims=1, max_dims=3, max_side=4),
              elements=st.floats(-3, 3, allow_nan=False)), seeds)
def test_l2_penalty_gradient_and_value(w, seed):
    b = np.random.default_rng(seed).normal(size=w.shape)
    for center in (None, b, b[..., :1], 0.7):  # full, broadcast and scalar centres
        value, grad = l2_penalty(w, center)
        diff = w - (0.0 if center is None else center)
        assert np.isclose(value, 0.5 * np.sum(diff**2), rtol=1e-13, atol=1e-300)
        assert grad.shape == w.shape
        np.testing.assert_array_equal(grad, diff)
        numeric = numerical_gradient(lambda v, c=center: l2_penalty(v, c)[0], w.copy())
        # absolute tolerance: central differences of a quadratic are exact up to rounding,
        # about 1e-16 * |value| / h, which swamps the relative error of tiny entries
        np.testing.assert_allclose(numeric, grad, rtol=1e-7, atol=1e-9 * (1 + value))


@given(arrays(np.float64, array_shapes(min_dims=1, max_dims=3, max_side=4),
              elements=st.floats(0.01, 3, allow_nan=False)), seeds)
def test_l1_penalty_gradient_and_value(magnitudes, seed):
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=magnitudes.shape)
    w = signs * magnitudes  # entries at least 0.01 from the kink
    value, subgrad = l1_penalty(w)
    assert np.isclose(value, np.sum(magnitudes), rtol=1e-13)
    np.testing.assert_array_equal(subgrad, signs)
    assert rel_error(subgrad, numerical_gradient(lambda v: l1_penalty(v)[0], w.copy())) < 1e-7


def test_l1_subgradient_at_zero_and_penalties_do_not_alias():
    value, subgrad = l1_penalty(np.array([0.0, -2.0, 3.0]))
    assert value == 5.0
    np.testing.assert_array_equal(subgrad, [0.0, -1.0, 1.0])
    w = np.array([1.0, 2.0])
    _, grad = l2_penalty(w)
    grad[0] = 99.0
    assert w[0] == 1.0  # the gradient is a new array


def test_penalty_errors():
    with pytest.raises(ValueError, match=r"center of shape \(3,\) does not broadcast to the shape "
                                         r"\(2, 2\) of w"):
        l2_penalty(np.ones((2, 2)), np.ones(3))
    with pytest.raises(ValueError, match="center contains NaN"):
        l2_penalty(np.ones(2), np.array([0.0, np.inf]))
    with pytest.raises(ValueError, match="w must be a real numeric array, got dtype complex"):
        l1_penalty(np.ones(2, dtype=complex))


# --- shift_images ---------------------------------------------------------------------------------

def shift_naive(images, dx, dy, fill):
    """Reference: pixel by pixel."""
    out = np.full_like(images, fill)
    n, h, w = images.shape
    for k in range(n):
        for i in range(h):
            for j in range(w):
                si, sj = i - dy[k], j - dx[k]
                if 0 <= si < h and 0 <= sj < w:
                    out[k, i, j] = images[k, si, sj]
    return out


@given(st.integers(1, 6), st.integers(1, 7), st.integers(1, 7), seeds)
def test_shift_images_matches_naive_and_scipy(n, h, w, seed):
    rng = np.random.default_rng(seed)
    images = rng.uniform(size=(n, h, w))
    dx, dy = rng.integers(-w - 1, w + 2, size=n), rng.integers(-h - 1, h + 2, size=n)
    fill = float(rng.normal())
    out = shift_images(images, dx, dy, image_shape=(h, w), fill=fill)
    np.testing.assert_array_equal(out, shift_naive(images, dx, dy, fill))
    for k in range(n):  # scipy's integer shift with a constant border, axes (rows, columns)
        expected = ndimage.shift(images[k], (dy[k], dx[k]), order=0, mode="constant", cval=fill)
        np.testing.assert_array_equal(out[k], expected)
    flat = shift_images(images.reshape(n, h * w), dx, dy, image_shape=(h, w), fill=fill)
    assert flat.shape == (n, h * w)
    np.testing.assert_array_equal(flat.reshape(n, h, w), out)


@given(st.integers(-3, 3), st.integers(-3, 3), seeds)
def test_shift_images_scalar_shift_inverse_and_identity(dx, dy, seed):
    images = np.random.default_rng(seed).uniform(size=(4, 8, 8))
    np.testing.assert_array_equal(shift_images(images, 0, 0), images)
    there_and_back = shift_images(shift_images(images, dx, dy), -dx, -dy)
    kept = shift_images(np.ones((1, 8, 8)), dx, dy)[0]  # 1 where a pixel survives the round trip
    kept = shift_images(kept[None], -dx, -dy)[0] == 1
    np.testing.assert_array_equal(there_and_back[:, kept], images[:, kept])
    assert np.all(there_and_back[:, ~kept] == 0)
    assert kept.sum() == (8 - abs(dx)) * (8 - abs(dy))


def test_shift_images_leaves_input_alone_and_accepts_lists():
    images = np.arange(2 * 64, dtype=float).reshape(2, 64)
    before = images.copy()
    shift_images(images, 1, -1)
    np.testing.assert_array_equal(images, before)
    out = shift_images(images.tolist(), np.array([1, 0]), 0)
    np.testing.assert_array_equal(out[1], images[1])
    np.testing.assert_array_equal(out[0].reshape(8, 8)[:, 1:], images[0].reshape(8, 8)[:, :-1])


def test_shift_images_errors():
    X = np.zeros((3, 64))
    with pytest.raises(ValueError, match=r"X must have shape \(N, 64\) or \(N, 8, 8\).*\(3, 63\)"):
        shift_images(np.zeros((3, 63)), 1, 0)
    with pytest.raises(ValueError, match=r"X must have shape \(N, 12\) or \(N, 3, 4\)"):
        shift_images(X, 1, 0, image_shape=(3, 4))
    with pytest.raises(ValueError, match=r"dx must be an integer or an integer array of shape "
                                         r"\(3,\), got float64 of shape \(\)"):
        shift_images(X, 1.0, 0)
    with pytest.raises(ValueError, match=r"dy must be .* got int64 of shape \(2,\)"):
        shift_images(X, 0, np.array([1, 2]))
    with pytest.raises(ValueError, match="image_shape must be a tuple of two positive integers"):
        shift_images(X, 0, 0, image_shape=(8, 8, 1))
    with pytest.raises(ValueError, match="image_shape must be a tuple"):
        shift_images(X, 0, 0, image_shape=[8, 8])
    with pytest.raises(ValueError, match=r"fill must be a finite number in \(-inf, inf\), got nan"):
        shift_images(X, 0, 0, fill=float("nan"))
    with pytest.raises(ValueError, match="X contains NaN"):
        shift_images(np.full((1, 64), np.inf), 0, 0)


# --- augment_shifts -------------------------------------------------------------------------------

@given(st.integers(1, 12), st.integers(0, 3), seeds)
def test_augment_shifts_shapes_labels_and_exact_shifts(n, copies, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.1, 1.0, size=(n, 64))  # no zero pixels: every shift gives a distinct image
    y = rng.integers(0, 10, size=n)
    X_aug, y_aug = augment_shifts(X, y, copies=copies, seed=seed)
    assert X_aug.shape == (n * (1 + copies), 64) and X_aug.dtype == np.float64
    np.testing.assert_array_equal(y_aug, np.tile(y, 1 + copies))
    np.testing.assert_array_equal(X_aug[:n], X)
    candidates = np.stack([shift_images(X, dx, dy) for dx, dy in ONE_PIXEL_SHIFTS])  # (8, n, 64)
    for c in range(copies):
        block = X_aug[n * (1 + c): n * (2 + c)]
        matches = np.all(candidates == block[None], axis=2)  # (8, n)
        assert np.all(matches.sum(axis=0) == 1)  # each copy is exactly one of the eight shifts


def test_augment_shifts_is_deterministic_and_draws_all_shifts():
    X = np.random.default_rng(0).uniform(0.1, 1.0, size=(200, 64))
    y = np.arange(200) % 10
    a, _ = augment_shifts(X, y, copies=2, seed=5)
    b, _ = augment_shifts(X, y, copies=2, seed=np.random.default_rng(5))
    c, _ = augment_shifts(X, y, copies=2, seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    used = {s for s in ONE_PIXEL_SHIFTS
            if np.any(np.all(shift_images(X, *s) == a[200:400], axis=1))}
    assert used == set(ONE_PIXEL_SHIFTS)  # 200 draws from 8 shifts: all of them appear


def test_augment_shifts_custom_shifts_images_layout_and_no_copies():
    X = np.random.default_rng(1).uniform(size=(5, 4, 6))
    y = np.arange(5)
    X_aug, y_aug = augment_shifts(X, y, shifts=[(2, -1)], copies=2, image_shape=(4, 6), seed=0)
    assert X_aug.shape == (15, 4, 6)
    expected = shift_images(X, 2, -1, image_shape=(4, 6))
    np.testing.assert_array_equal(X_aug[5:10], expected)
    np.testing.assert_array_equal(X_aug[10:], expected)
    X0, y0 = augment_shifts(X, y, copies=0, image_shape=(4, 6))
    np.testing.assert_array_equal(X0, X)
    np.testing.assert_array_equal(y0, y)


def test_augment_shifts_errors():
    X, y = np.zeros((4, 64)), np.arange(4)
    with pytest.raises(ValueError, match=r"y must have shape \(4,\) to match X of shape \(4, 64\)"):
        augment_shifts(X, y[:3])
    with pytest.raises(ValueError, match="shifts must be a non-empty sequence of .* integer pairs"):
        augment_shifts(X, y, shifts=[(0.5, 1)])
    with pytest.raises(ValueError, match="shifts must be a non-empty sequence"):
        augment_shifts(X, y, shifts=[])
    with pytest.raises(ValueError, match="shifts must be a non-empty sequence"):
        augment_shifts(X, y, shifts=[(1, 0, 0)])
    with pytest.raises(ValueError, match=r"copies must be an integer in \[0, inf\], got -1"):
        augment_shifts(X, y, copies=-1)
    with pytest.raises(ValueError, match="copies must be an integer, got True"):
        augment_shifts(X, y, copies=True)
