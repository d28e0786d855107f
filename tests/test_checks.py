"""dlcode.checks: the shared argument checks accept what they should and name what they reject."""

import numpy as np
import pytest

from dlcode.checks import (
    ArgumentTypeError,
    check_bool,
    check_int,
    check_real,
    check_seed,
    float_array,
)


def test_accepts():
    assert check_int(np.int64(3), "n", minimum=1) == 3 and type(check_int(3, "n")) is int
    assert check_real(0.5, "p", 0, 1, open_min=True) == 0.5 and check_real(2, "x") == 2.0
    assert check_bool(np.bool_(True), "flag") is True
    g = np.random.default_rng(0)
    assert check_seed(g) is g and isinstance(check_seed(3), np.random.Generator)
    x = np.arange(3)
    assert float_array(x, "x").dtype == np.float64 and x.dtype.kind == "i"


@pytest.mark.parametrize("call, exc, match", [
    (lambda: check_int(True, "n"), ArgumentTypeError, "n must be an integer"),
    (lambda: check_int(2.0, "n"), ArgumentTypeError, "n must be an integer"),
    (lambda: check_int(0, "n", minimum=1), ValueError, r"n must be an integer in \[1, inf\]"),
    (lambda: check_real("1", "lr"), ArgumentTypeError, "lr must be a real number"),
    (lambda: check_real(np.nan, "lr"), ValueError, "lr must be a finite number"),
    (lambda: check_real(0.0, "p", 0, 1, open_min=True), ValueError, r"p must .* \(0, 1\]"),
    (lambda: check_real(1.5, "p", 0, 1), ValueError, r"p must .* \[0, 1\]"),
    (lambda: check_bool(1, "shuffle"), ArgumentTypeError, "shuffle must be True or False"),
    (lambda: check_seed(-1), ValueError, "seed must be"),
    (lambda: check_seed("a"), ArgumentTypeError, "seed must be"),
    (lambda: float_array([1 + 1j], "x"), ArgumentTypeError, "x must be a real numeric array"),
    (lambda: float_array(["a"], "x"), ArgumentTypeError, "x must be a real numeric array"),
    (lambda: float_array([np.inf], "x"), ValueError, "x contains NaN"),
    (lambda: float_array([1.0], "x", ndim=2), ValueError, "x must be 2-dimensional"),
])
def test_rejects_naming_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_type_errors_are_also_value_errors():
    with pytest.raises(TypeError):
        check_int("3", "n")
    with pytest.raises(ValueError):
        check_int("3", "n")
