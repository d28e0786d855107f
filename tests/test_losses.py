"""Tests of dlcode.losses: log-sum-exp, softmax, sigmoid and the cross-entropy losses."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from scipy.special import expit
from scipy.special import logsumexp as scipy_logsumexp
from scipy.special import softmax as scipy_softmax

from dlcode.gradcheck import numerical_gradient, rel_error
from dlcode.losses import (
    binary_cross_entropy_with_logits,
    logsumexp,
    sigmoid,
    softmax,
    softmax_loss,
)

finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)


@st.composite
def array_and_axis(draw, elements=finite):
    shape = array_shapes(min_dims=1, max_dims=3, max_side=5)
    z = draw(arrays(np.float64, shape, elements=elements))
    axis = draw(st.integers(-z.ndim, z.ndim - 1))
    return z, axis


# ---------------------------------------------------------------- softmax and log-sum-exp


@given(array_and_axis())
def test_softmax_is_a_distribution_along_the_axis(case):
    z, axis = case
    p = softmax(z, axis=axis)
    assert p.shape == z.shape
    assert np.all(np.isfinite(p)) and np.all(p >= 0) and np.all(p <= 1)
    assert np.allclose(p.sum(axis=axis), 1.0, rtol=0, atol=1e-12)


@given(array_and_axis(), st.floats(-1e4, 1e4))
def test_softmax_shift_invariance(case, shift):
    z, axis = case
    # Shifting each slice by its own amount (constant along `axis`) changes nothing.
    shape = list(z.shape)
    shape[axis] = 1
    shifts = shift * np.cos(np.arange(np.prod(shape))).reshape(shape)
    assert np.allclose(softmax(z + shifts, axis=axis), softmax(z, axis=axis), rtol=0, atol=1e-9)


@given(array_and_axis())
def test_logsumexp_bounds_and_scipy(case):
    z, axis = case
    lse = logsumexp(z, axis=axis)
    top = np.max(z, axis=axis)
    n = z.shape[axis]
    assert np.shape(lse) == top.shape and np.all(np.isfinite(lse))
    assert np.all(top <= lse) and np.all(lse <= top + math.log(n) + 1e-12 * (1 + np.abs(top)))
    assert np.allclose(lse, scipy_logsumexp(z, axis=axis), rtol=1e-14, atol=1e-14)


@given(array_and_axis(), st.floats(min_value=1e-3, max_value=1e2))
def test_logsumexp_temperature_bounds(case, t):
    z, axis = case
    smooth = t * logsumexp(z / t, axis=axis)
    top = np.max(z, axis=axis)
    tol = 1e-12 * (1 + np.abs(top))
    assert np.all(top - tol <= smooth)
    assert np.all(smooth <= top + t * math.log(z.shape[axis]) + tol)


def test_logsumexp_equality_cases_and_the_max_norm_counterexample():
    assert logsumexp(np.full(7, -3.0)) == pytest.approx(-3.0 + math.log(7), abs=1e-15)
    x = np.array([-5.0, -5.0])
    assert logsumexp(x) == pytest.approx(-5 + math.log(2), abs=1e-15)
    assert np.max(np.abs(x)) > logsumexp(x)  # ||x||_inf <= LSE(x) fails for negative entries
    assert isinstance(logsumexp(x), float)


def test_logsumexp_and_softmax_match_high_precision_for_huge_inputs():
    import mpmath
    mpmath.mp.dps = 60
    rng = np.random.default_rng(3)
    for scale in (1.0, 1e3, 1e4):
        z = rng.normal(scale=scale, size=8)
        terms = [mpmath.exp(mpmath.mpf(float(v))) for v in z]
        den = mpmath.fsum(terms)
        exact_lse = float(mpmath.log(den))
        exact_p = np.array([float(tk / den) for tk in terms])
        assert abs(logsumexp(z) - exact_lse) <= 4 * 2.0**-53 * abs(exact_lse)
        assert np.max(np.abs(softmax(z) - exact_p)) <= 4 * 2.0**-53


def test_naive_formulas_fail_where_ours_do_not():
    z = np.array([1000.0, 999.0, -1000.0])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(z) / np.exp(z).sum()
    assert np.isnan(naive).any()
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow is harmless
        p = softmax(z)
        lse = logsumexp(z)
    assert np.allclose(p, scipy_softmax(z), rtol=1e-15, atol=0)
    assert lse == pytest.approx(1000 + math.log1p(math.exp(-1)), rel=1e-15)


def test_softmax_integer_input_and_axis_errors():
    expected = [[1 / (1 + math.e), 1 / (1 + 1 / math.e)], [0.5, 0.5]]
    assert np.allclose(softmax(np.array([[1, 2], [3, 3]])), expected, rtol=1e-15, atol=0)
    with pytest.raises(ValueError, match=r"axis must be an integer in \[-2, 1\], got 2"):
        softmax(np.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError, match="axis must be an integer"):
        logsumexp(np.zeros(3), axis=None)
    with pytest.raises(ValueError, match="at least one dimension"):
        softmax(np.float64(1.0))
    with pytest.raises(ValueError, match=r"empty along axis 1"):
        logsumexp(np.zeros((3, 0)), axis=1)
    with pytest.raises(ValueError, match="real numeric array"):
        softmax(np.array(["a", "b"]))


@given(arrays(np.float64, array_shapes(max_dims=2, max_side=6),
              elements=st.floats(-1e3, 1e3, allow_nan=False)))
def test_sigmoid_stable_and_matches_scipy(z):
    with np.errstate(over="raise"):
        s = sigmoid(z)
    assert np.all((s >= 0) & (s <= 1))
    assert np.allclose(s, expit(z), rtol=1e-15, atol=1e-300)
    assert np.allclose(s + sigmoid(-z), 1.0, rtol=0, atol=1e-15)


def test_softmax_of_z_and_zero_is_sigmoid():
    z = np.linspace(-50, 50, 201)
    assert np.allclose(softmax(np.column_stack([z, np.zeros_like(z)]))[:, 0], sigmoid(z),
                       rtol=1e-14, atol=0)


# ---------------------------------------------------------------- softmax_loss


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
def test_softmax_loss_gradient_check(smoothing):
    rng = np.random.default_rng(0)
    scores, y = rng.normal(size=(7, 5)), rng.integers(0, 5, size=7)
    loss, dscores = softmax_loss(scores, y, smoothing=smoothing)
    num = numerical_gradient(lambda s: softmax_loss(s, y, smoothing=smoothing)[0], scores)
    assert rel_error(dscores, num) < 1e-7
    assert rel_error(2 * dscores, num) > 1e-2  # the check can fail


def test_softmax_loss_definition():
    rng = np.random.default_rng(1)
    scores, y = rng.normal(size=(9, 4)), rng.integers(0, 4, size=9)
    p = scipy_softmax(scores, axis=1)
    loss, dscores = softmax_loss(scores, y)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(9), y])), rel=1e-13)
    assert np.allclose(dscores, (p - np.eye(4)[y]) / 9, rtol=1e-13, atol=1e-17)
    assert np.allclose(dscores.sum(axis=1), 0, atol=1e-16)


def test_softmax_loss_finite_for_huge_scores():
    scores = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]])
    loss, dscores = softmax_loss(scores, np.array([1, 2]), smoothing=0.2)
    assert np.isfinite(loss) and np.all(np.isfinite(dscores))
    # log-probabilities are (0, -2e4, -1e4) and (-2e4, -2e4, 0) up to e^-1e4; the targets put
    # 0.8 + 0.2 / 3 on the label and 0.2 / 3 elsewhere.
    expected = (0.8 * 2e4 + 0.2 / 3 * 3e4 + 0.2 / 3 * 4e4) / 2
    assert loss == pytest.approx(expected, rel=1e-14)


@given(st.integers(1, 6), st.integers(1, 7), st.sampled_from([0.0, 0.05, 0.3, 1.0]),
       st.sampled_from([1.0, 30.0, 1e3]), st.integers(0, 2**31 - 1))
def test_softmax_loss_matches_torch(N, C, smoothing, scale, seed):
    import torch
    F = torch.nn.functional
    rng = np.random.default_rng(seed)
    scores, y = rng.normal(scale=scale, size=(N, C)), rng.integers(0, C, size=N)
    s_t = torch.tensor(scores, requires_grad=True)
    loss_t = F.cross_entropy(s_t, torch.tensor(y), label_smoothing=smoothing)
    loss_t.backward()
    loss, dscores = softmax_loss(scores, y, smoothing=smoothing)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12, abs=1e-12)
    assert np.allclose(dscores, s_t.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_softmax_loss_errors():
    scores = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"labels y must lie in \[0, C\) = \[0, 4\).*\(3, 4\)"):
        softmax_loss(scores, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"labels y must lie in \[0, C\)"):
        softmax_loss(scores, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match="y must hold integer class labels, got dtype float64"):
        softmax_loss(scores, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="y must hold integer class labels, got dtype bool"):
        softmax_loss(scores, np.array([True, False, True]))
    with pytest.raises(ValueError, match=r"y must have shape \(N,\) = \(3,\).*\(3, 4\).*\(2,\)"):
        softmax_loss(scores, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"y must have shape .* got shape \(3, 1\)"):
        softmax_loss(scores, np.zeros((3, 1), dtype=int))
    with pytest.raises(ValueError, match=r"scores must have shape \(N, C\).*got shape \(4,\)"):
        softmax_loss(np.zeros(4), np.array([0]))
    with pytest.raises(ValueError, match=r"scores must have shape \(N, C\).*\(0, 3\)"):
        softmax_loss(np.zeros((0, 3)), np.array([], dtype=int))
    for bad in (-0.1, 1.5, float("nan"), "0.1", True):
        with pytest.raises(ValueError, match=r"smoothing must be a (real|finite) number"):
            softmax_loss(scores, np.array([0, 1, 2]), smoothing=bad)


# ---------------------------------------------------------------- binary cross-entropy


def test_bce_gradient_check_and_definition():
    rng = np.random.default_rng(2)
    z, y = rng.normal(size=(4, 3)), rng.uniform(size=(4, 3))
    loss, dz = binary_cross_entropy_with_logits(z, y)
    s = expit(z)
    assert loss == pytest.approx(np.mean(-y * np.log(s) - (1 - y) * np.log(1 - s)), rel=1e-13)
    num = numerical_gradient(lambda v: binary_cross_entropy_with_logits(v, y)[0], z)
    assert rel_error(dz, num) < 1e-7 and dz.shape == z.shape
    assert rel_error(-dz, num) > 0.5  # the notes' sign would fail


@given(array_shapes(min_dims=0, max_dims=3, max_side=5), st.sampled_from([1.0, 50.0, 1e3]),
       st.integers(0, 2**31 - 1))
def test_bce_matches_torch(shape, scale, seed):
    import torch
    F = torch.nn.functional
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=scale, size=shape)
    y = rng.integers(0, 2, size=shape).astype(float)
    z_t = torch.tensor(z, requires_grad=True)
    loss_t = F.binary_cross_entropy_with_logits(z_t, torch.tensor(y))
    loss_t.backward()
    with np.errstate(over="raise"):
        loss, dz = binary_cross_entropy_with_logits(z, y)
    assert np.isfinite(loss) and loss == pytest.approx(loss_t.item(), rel=1e-12, abs=1e-13)
    assert np.allclose(dz, z_t.grad.numpy(), rtol=1e-10, atol=1e-16)


def test_bce_equals_two_class_softmax_loss():
    rng = np.random.default_rng(4)
    z, y = rng.normal(scale=5, size=20), rng.integers(0, 2, size=20)
    loss, dz = binary_cross_entropy_with_logits(z, y)
    loss2, dscores = softmax_loss(np.column_stack([np.zeros(20), z]), y)
    assert loss == pytest.approx(loss2, rel=1e-13)
    assert np.allclose(dz, dscores[:, 1], rtol=1e-12, atol=1e-17)


def test_bce_errors():
    with pytest.raises(ValueError, match=r"same shape, got z \(3,\) and y \(2,\)"):
        binary_cross_entropy_with_logits(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match=r"must not be empty"):
        binary_cross_entropy_with_logits(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"targets y must lie in \[0, 1\]"):
        binary_cross_entropy_with_logits(np.zeros(2), np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match=r"y contains NaN or infinite entries"):
        binary_cross_entropy_with_logits(np.zeros(2), np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match=r"z contains NaN or infinite entries"):
        softmax(np.array([0.0, np.inf]))
    assert sigmoid(np.array([-np.inf, np.inf])).tolist() == [0.0, 1.0]  # sigmoid allows inf
    assert softmax(np.float32([1, 2])).dtype == np.float32  # float32 stays float32
