"""Unit tests of dlcode.gradcheck: the tool every other gradient test relies on."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from dlcode.gradcheck import assert_close, numerical_gradient, numerical_gradient_array, rel_error

finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


@given(arrays(np.float64, array_shapes(min_dims=1, max_dims=3, max_side=4), elements=finite))
def test_numerical_gradient_of_smooth_function(x):
    before = x.copy()
    grad = numerical_gradient(lambda v: np.sum(np.sin(v) * v**2), x)
    exact = np.cos(x) * x**2 + 2 * x * np.sin(x)
    assert grad.shape == x.shape
    assert np.max(np.abs(grad - exact)) < 1e-8
    assert np.array_equal(x, before)  # restored bit for bit


@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 4)), elements=finite),
       st.integers(0, 2**32 - 1))
def test_numerical_gradient_array_is_vector_jacobian_product(x, seed):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(3, x.shape[0]))
    dout = rng.normal(size=(3, x.shape[1]))
    got = numerical_gradient_array(lambda v: W @ v, x, dout)
    assert np.max(np.abs(got - W.T @ dout)) < 1e-8  # linear map: exact up to rounding


def test_central_difference_error_is_second_order():
    x = np.array([0.7])
    err = [abs(numerical_gradient(lambda v: np.sin(v[0]), x, h)[0] - np.cos(0.7))
           for h in (1e-2, 5e-3)]
    assert 3.9 < err[0] / err[1] < 4.1  # halving h divides the O(h^2) error by 4


def test_x_restored_when_f_raises():
    x = np.arange(4.0)
    calls = []

    def f(v):
        calls.append(v.copy())
        if len(calls) == 3:
            raise RuntimeError("boom")
        return v.sum()

    with pytest.raises(RuntimeError):
        numerical_gradient(f, x)
    assert np.array_equal(x, np.arange(4.0))


def test_f_returning_a_view_of_x_is_copied():
    x = np.array([1.0, 2.0])
    grad = numerical_gradient_array(lambda v: v, x, np.array([1.0, 1.0]))
    assert np.allclose(grad, [1.0, 1.0])


def test_rel_error_values():
    assert rel_error(1.0, 1.0) == 0.0
    assert rel_error([1.0, 3.0], [1.0, 1.0]) == pytest.approx(0.5)
    assert rel_error(0.0, 1e-9) == pytest.approx(0.1)  # the 1e-8 floor
    a, b = np.array([1.0, -2.0]), np.array([1.1, -2.0])
    assert rel_error(a, b) == rel_error(b, a)
    assert rel_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0


def test_a_wrong_gradient_is_detected():
    x = np.random.default_rng(0).normal(size=5)
    numeric = numerical_gradient(lambda v: np.sum(v**3), x)
    assert rel_error(3 * x**2, numeric) < 1e-7
    assert rel_error(2 * x**2, numeric) > 0.1
    with pytest.raises(AssertionError, match="not below"):
        assert_close("wrong", 2 * x**2, numeric)


def test_assert_close_prints_the_threshold_not_the_error(capsys):
    # Errors of 1.5e-9 and 0 print the same line: the output cannot depend on the
    # last bits of a CPU's arithmetic.
    assert_close("same", np.ones(3), np.ones(3) * (1 + 3e-9))
    assert capsys.readouterr().out == "same: relative error below 1e-07\n"
    assert_close("same", np.ones(3), np.ones(3), tol=1e-7)
    assert capsys.readouterr().out == "same: relative error below 1e-07\n"
    assert_close("tight", np.ones(3), np.ones(3), tol=1e-12)
    assert capsys.readouterr().out == "tight: relative error below 1e-12\n"
    with pytest.raises(AssertionError, match="not below 1e-12"):
        assert_close("tight", np.ones(3), np.ones(3) * (1 + 3e-9), tol=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: numerical_gradient(np.sum, np.arange(3)), "x must be a float64"),
        (lambda: numerical_gradient(np.sum, [1.0, 2.0]), "x must be a float64"),
        (lambda: numerical_gradient(np.sum, np.ones(3, np.float32)), "x must be a float64"),
        (lambda: numerical_gradient(np.sum, np.ones(3), h=0), r"h must be .* in \(0, inf\)"),
        (lambda: numerical_gradient(np.sum, np.ones(3), h=np.nan), r"h must be .* in \(0"),
        (lambda: numerical_gradient(np.sum, np.ones(3), h=-1e-5), r"h must be .* in \(0"),
        (lambda: numerical_gradient(np.sum, np.ones(3), h=True), "h must be a real number"),
        (lambda: numerical_gradient(np.sum, np.ones(3), h="a"), "h must be a real number"),
        (lambda: numerical_gradient_array(np.sin, np.ones(3), np.ones(3), h=[1e-5]),
         "h must be a real number"),
        (lambda: numerical_gradient(lambda v: v, np.ones(3)), r"scalar.*shape \(3,\)"),
        (lambda: numerical_gradient_array(lambda v: v, np.ones(3), np.ones(2)),
         r"dout has shape \(2,\) but f\(x\) has shape \(3,\)"),
        (lambda: rel_error(np.ones(2), np.ones(3)), r"same shape.*\(2,\).*\(3,\)"),
        (lambda: rel_error(np.array([np.nan]), np.ones(1)), "a contains NaN"),
        (lambda: rel_error(np.ones(1), np.array([np.inf])), "b contains NaN or infinite"),
    ],
)
def test_errors_name_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_read_only_x_is_rejected():
    x = np.ones(3)
    x.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        numerical_gradient(np.sum, x)
