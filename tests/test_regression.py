"""Tests of dlcode.regression: polynomial features, least squares, mean squared error."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import mean_squared_error as sk_mean_squared_error
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

from dlcode.regression import (
    fit_least_squares,
    fit_predict_polynomial,
    mean_squared_error,
    polynomial_features,
)

finite = st.floats(-2, 2, allow_nan=False, allow_infinity=False)


@given(arrays(np.float64, st.integers(1, 30), elements=finite), st.integers(0, 8))
def test_polynomial_features_order_and_shape(x, degree):
    X = polynomial_features(x, degree)
    assert X.shape == (len(x), degree + 1)
    assert np.array_equal(X[:, -1], np.ones(len(x)))  # constant last, as in the notes
    expected = x[:, None] ** np.arange(degree, -1, -1)
    np.testing.assert_allclose(X, expected, rtol=1e-13, atol=1e-300)
    sk = PolynomialFeatures(degree).fit_transform(x[:, None])  # 1, x, ..., x^d
    np.testing.assert_allclose(X, sk[:, ::-1], rtol=1e-13, atol=1e-300)


@given(arrays(np.float64, 6, elements=finite), st.floats(-2, 2))
def test_features_dot_coefficients_is_polyval(coef, x0):
    value = polynomial_features([x0], len(coef) - 1) @ coef
    np.testing.assert_allclose(value, [np.polyval(coef, x0)], rtol=1e-12, atol=1e-12)


def test_polynomial_features_accepts_integers_and_lists():
    X = polynomial_features([0, 1, 2], 2)
    assert X.dtype == np.float64
    np.testing.assert_array_equal(X, [[0, 0, 1], [1, 1, 1], [4, 2, 1]])
    assert polynomial_features(np.arange(3), np.int64(0)).shape == (3, 1)


@pytest.mark.parametrize("degree", [0, 1, 3, 6])
def test_fit_matches_polyfit(degree):
    rng = np.random.default_rng(degree)
    x, y = rng.uniform(-1, 1, 40), rng.normal(size=40)
    coef = fit_least_squares(polynomial_features(x, degree), y)
    np.testing.assert_allclose(coef, np.polyfit(x, y, degree), rtol=1e-9, atol=1e-12)


def test_fit_matches_sklearn_linear_regression():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 5)), rng.normal(size=30)
    sk = LinearRegression(fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(fit_least_squares(X, y), sk.coef_, rtol=1e-10)


def test_fit_two_dimensional_targets_solve_each_column():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(20, 4)), rng.normal(size=(20, 3))
    coef = fit_least_squares(X, Y, reg=0.5)
    assert coef.shape == (4, 3)
    for j in range(3):
        np.testing.assert_allclose(coef[:, j], fit_least_squares(X, Y[:, j], reg=0.5), rtol=1e-12)


@pytest.mark.parametrize("reg", [1e-6, 0.1, 10.0])
def test_ridge_matches_closed_form_and_sklearn(reg):
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(25, 6)), rng.normal(size=25)
    coef = fit_least_squares(X, y, reg=reg)
    closed = np.linalg.solve(X.T @ X + reg * np.eye(6), X.T @ y)
    np.testing.assert_allclose(coef, closed, rtol=1e-9)
    sk = Ridge(alpha=reg, fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(coef, sk.coef_, rtol=1e-8)


def test_ridge_shrinks_the_coefficients():
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(25, 6)), rng.normal(size=25)
    norms = [np.linalg.norm(fit_least_squares(X, y, reg=r)) for r in (0.0, 1.0, 10.0, 100.0)]
    assert all(a > b for a, b in zip(norms, norms[1:], strict=False))


def test_underdetermined_returns_minimum_norm_interpolant():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(4, 9)), rng.normal(size=4)
    coef = fit_least_squares(X, y)
    np.testing.assert_allclose(coef, np.linalg.pinv(X) @ y, rtol=1e-10)
    np.testing.assert_allclose(X @ coef, y, atol=1e-12)
    other = coef + np.linalg.svd(X)[2][-1]  # add a null-space direction
    np.testing.assert_allclose(X @ other, y, atol=1e-12)
    assert np.linalg.norm(coef) < np.linalg.norm(other)


@given(st.integers(0, 9))
def test_training_error_non_increasing_in_degree(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 1, 12), rng.normal(size=12)
    errors = [mean_squared_error(y, fit_predict_polynomial(x, y, x, d)) for d in range(12)]
    assert all(b <= a + 1e-12 for a, b in zip(errors, errors[1:], strict=False))
    assert errors[11] < 1e-20 * max(1.0, errors[0]) + 1e-12  # degree N - 1 interpolates


def test_fit_predict_polynomial_matches_sklearn_pipeline():
    rng = np.random.default_rng(6)
    x, y, x_new = rng.uniform(0, 1, 30), rng.normal(size=30), rng.uniform(-0.2, 1.2, 10)
    model = make_pipeline(PolynomialFeatures(4), LinearRegression(fit_intercept=False))
    expected = model.fit(x[:, None], y).predict(x_new[:, None])
    np.testing.assert_allclose(fit_predict_polynomial(x, y, x_new, 4), expected, rtol=1e-8)


def test_fit_predict_polynomial_scaling_keeps_the_model_class():
    rng = np.random.default_rng(7)
    x, y, x_new = rng.uniform(3, 5, 30), rng.normal(size=30), rng.uniform(3, 5, 10)
    coef = np.polyfit(x - 4, y, 3)  # a well-conditioned reference in a centred variable
    np.testing.assert_allclose(fit_predict_polynomial(x, y, x_new, 3),
                               np.polyval(coef, x_new - 4), rtol=1e-9)


def test_fit_predict_polynomial_constant_inputs():
    pred = fit_predict_polynomial([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], [2.0, 5.0], 0)
    np.testing.assert_allclose(pred, [2.0, 2.0])


def test_mean_squared_error_matches_sklearn():
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(10, 3)), rng.normal(size=(10, 3))
    assert np.isclose(mean_squared_error(a, b), sk_mean_squared_error(a, b))
    assert np.isclose(mean_squared_error(a[:, 0], b[:, 0]), sk_mean_squared_error(a[:, 0], b[:, 0]))
    assert isinstance(mean_squared_error(a, b), float)
    assert mean_squared_error(a, a) == 0.0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([[1.0, 2.0]], 2), r"x must have 1 dimension\(s\), got shape \(1, 2\)"),
        (([1.0, np.nan], 2), "x contains NaN or infinite"),
        ((["a", "b"], 1), "x must be an array of real numbers"),
        (([True, False], 1), "x must be an array of real numbers"),
        (([1.0, 2.0], -1), "degree must be a non-negative integer, got -1"),
        (([1.0, 2.0], 2.5), "degree must be a non-negative integer, got 2.5"),
        (([1.0, 2.0], True), "degree must be a non-negative integer, got True"),
    ],
)
def test_polynomial_features_errors(args, match):
    with pytest.raises(ValueError, match=match):
        polynomial_features(*args)


@pytest.mark.parametrize(
    ("X", "y", "reg", "match"),
    [
        (np.ones(3), np.ones(3), 0.0, r"X must have 2 dimension\(s\), got shape \(3,\)"),
        (np.ones((3, 2)), np.ones(4), 0.0,
         r"same number of rows, got X \(3, 2\) and y \(4,\)"),
        (np.ones((3, 2)), np.ones((3, 1, 1)), 0.0, r"y must have 1 or 2 dimension"),
        (np.ones((0, 2)), np.ones(0), 0.0, r"at least one row and one column, got shape \(0, 2\)"),
        (np.ones((3, 2)), np.ones(3), -1.0, "reg must be a non-negative finite number, got -1.0"),
        (np.ones((3, 2)), np.ones(3), np.inf, "reg must be a non-negative finite number"),
        (np.ones((3, 2)), np.ones(3), "1", "reg must be a non-negative finite number"),
        (np.full((3, 2), np.inf), np.ones(3), 0.0, "X contains NaN or infinite"),
    ],
)
def test_fit_least_squares_errors(X, y, reg, match):
    with pytest.raises(ValueError, match=match):
        fit_least_squares(X, y, reg)


def test_mean_squared_error_errors():
    with pytest.raises(ValueError, match=r"same shape, got \(3,\) and \(3, 1\)"):
        mean_squared_error(np.ones(3), np.ones((3, 1)))
    with pytest.raises(ValueError, match="empty"):
        mean_squared_error([], [])
    with pytest.raises(ValueError, match="y_pred contains NaN"):
        mean_squared_error([1.0], [np.nan])


def test_fit_predict_polynomial_errors():
    with pytest.raises(ValueError, match="same non-zero length, got 3 and 2"):
        fit_predict_polynomial([1.0, 2.0, 3.0], [1.0, 2.0], [1.0], 1)
    with pytest.raises(ValueError, match="same non-zero length, got 0 and 0"):
        fit_predict_polynomial([], [], [1.0], 1)
    with pytest.raises(ValueError, match=r"x_eval must have 1 dimension"):
        fit_predict_polynomial([1.0, 2.0], [1.0, 2.0], [[1.0]], 1)
    with pytest.raises(ValueError, match="degree must be a non-negative integer"):
        fit_predict_polynomial([1.0, 2.0], [1.0, 2.0], [1.0], -2)
