"""Tests of dlcode.activations: derivatives, identities and agreement with PyTorch."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from dlcode.activations import relu, relu_grad, sigmoid_grad, tanh, tanh_grad
from dlcode.gradcheck import numerical_gradient_array, rel_error
from dlcode.losses import sigmoid

shapes = array_shapes(min_dims=1, max_dims=3, max_side=4)
unit = st.floats(-1, 1, allow_nan=False)
wide = st.floats(-60, 60, allow_nan=False)
# Finite differences lose relative accuracy where a derivative is tiny next to the function
# value, so each function is checked where its derivative is not far below 1e-3 (and relu away
# from its kink).
RANGES = {
    "sigmoid": (sigmoid, sigmoid_grad, st.floats(-6, 6)),
    "tanh": (tanh, tanh_grad, st.floats(-3, 3)),
    "relu": (relu, relu_grad, st.one_of(st.floats(-50, -1e-3), st.floats(1e-3, 50))),
}


@pytest.mark.parametrize("name", list(RANGES))
@given(data=st.data())
def test_derivatives_match_finite_differences(name, data):
    f, df, elements = RANGES[name]
    shape = data.draw(shapes)
    x = data.draw(arrays(np.float64, shape, elements=elements))
    dout = data.draw(arrays(np.float64, shape, elements=unit))
    numeric = numerical_gradient_array(f, x.copy(), dout)
    assert rel_error(df(x) * dout, numeric) < 1e-7


@given(arrays(np.float64, shapes, elements=wide))
def test_identities(x):
    s = sigmoid(x)
    assert np.allclose(tanh(x), 2 * sigmoid(2 * x) - 1, rtol=0, atol=1e-15)
    assert np.allclose(sigmoid_grad(x), s * (1 - s), rtol=0, atol=1e-15)
    assert np.allclose(tanh_grad(x), 1 - np.tanh(x) ** 2, rtol=0, atol=1e-15)
    assert np.allclose(tanh_grad(x), 4 * sigmoid_grad(2 * x), rtol=1e-14, atol=0)
    assert np.all((0 <= sigmoid_grad(x)) & (sigmoid_grad(x) <= 0.25))
    assert np.all((0 <= tanh_grad(x)) & (tanh_grad(x) <= 1))
    assert np.array_equal(relu(x), np.where(x > 0, x, 0.0))
    assert np.array_equal(relu_grad(x), (x > 0).astype(float))


def test_special_values_and_tails():
    assert sigmoid_grad(0.0) == 0.25 and tanh_grad(0.0) == 1.0
    assert sigmoid_grad(10.0) == pytest.approx(4.5398e-5, rel=1e-4)
    assert sigmoid_grad(40.0) == pytest.approx(np.exp(-40.0) / (1 + np.exp(-40.0)) ** 2, rel=1e-14)
    assert tanh_grad(-20.0) == pytest.approx(1 / np.cosh(20.0) ** 2, rel=1e-14)
    assert relu_grad(0.0) == 0.0 and relu(0.0) == 0.0
    big = np.array([-1e308, -np.inf, np.inf, 1e308])
    assert np.array_equal(sigmoid_grad(big), np.zeros(4))
    assert np.array_equal(tanh_grad(big), np.zeros(4))
    assert np.array_equal(tanh(big), [-1.0, -1.0, 1.0, 1.0])
    assert np.all(np.isnan(sigmoid_grad(np.nan))) and np.isnan(relu(np.nan))


def test_dtypes_shapes_and_scalars():
    x32 = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    for f in (relu, relu_grad, tanh, tanh_grad, sigmoid_grad):
        out = f(x32)
        assert out.dtype == np.float32 and out.shape == (3, 4)
        assert np.ndim(f(1.5)) == 0
    assert relu([-2, 3]).tolist() == [0.0, 3.0]  # integers are converted
    assert relu_grad(np.array([True, False])).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("f", [relu, relu_grad, tanh, tanh_grad, sigmoid_grad])
def test_non_real_input_is_rejected(f):
    with pytest.raises(ValueError, match="x must be a real numeric array, got dtype complex128"):
        f(np.array([1 + 2j]))
    with pytest.raises(ValueError, match="real numeric array"):
        f(np.array(["a"]))


@given(arrays(np.float64, shapes, elements=st.floats(-30, 30)),
       st.integers(0, 2**32 - 1))
def test_agreement_with_torch_functions_and_autograd(x, seed):
    import torch
    dout = np.random.default_rng(seed).normal(size=x.shape)
    for ours, ours_grad, theirs in [(sigmoid, sigmoid_grad, torch.sigmoid),
                                    (tanh, tanh_grad, torch.tanh),
                                    (relu, relu_grad, torch.relu)]:
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        out = theirs(t)
        out.backward(torch.tensor(dout))
        assert np.allclose(ours(x), out.detach().numpy(), rtol=1e-14, atol=1e-16)
        # torch computes 1 - tanh^2 and s (1 - s), which round to 0 in the far tails
        assert np.allclose(ours_grad(x) * dout, t.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_relu_kink_convention_matches_torch():
    import torch
    t = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    torch.relu(t).sum().backward()
    assert np.array_equal(relu_grad(np.zeros(3)), t.grad.numpy())
