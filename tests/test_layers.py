"""Unit tests of dlcode.layers: affine, ReLU, sigmoid, tanh and the affine-ReLU sandwich."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from dlcode.gradcheck import numerical_gradient_array, rel_error
from dlcode.layers import (
    affine_backward,
    affine_forward,
    affine_relu_backward,
    affine_relu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)

seeds = st.integers(0, 2**32 - 1)
ELEMENTWISE = {
    "relu": (relu_forward, relu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
}


def away_from_zero(a, margin=1e-3):
    return np.sign(a) * (margin + np.abs(a))


@given(st.integers(1, 4), array_shapes(min_dims=1, max_dims=3, max_side=3), st.integers(1, 4),
       seeds)
def test_affine_gradient_check(N, example_shape, M, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, *example_shape))
    D = int(np.prod(example_shape))
    w, b = rng.normal(size=(D, M)), rng.normal(size=M)
    dout = rng.normal(size=(N, M))
    out, cache = affine_forward(x, w, b)
    assert out.shape == (N, M)
    np.testing.assert_allclose(out, x.reshape(N, D) @ w + b, rtol=1e-14, atol=1e-14)
    dx, dw, db = affine_backward(dout, cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    num_dx = numerical_gradient_array(lambda v: affine_forward(v, w, b)[0], x, dout)
    num_dw = numerical_gradient_array(lambda v: affine_forward(x, v, b)[0], w, dout)
    num_db = numerical_gradient_array(lambda v: affine_forward(x, w, v)[0], b, dout)
    assert rel_error(dx, num_dx) < 1e-7 and rel_error(dw, num_dw) < 1e-7
    assert rel_error(db, num_db) < 1e-7


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(array_shapes(min_dims=1, max_dims=4, max_side=4), seeds)
def test_elementwise_gradient_check(name, shape, seed):
    forward, backward = ELEMENTWISE[name]
    rng = np.random.default_rng(seed)
    x = away_from_zero(rng.normal(size=shape))  # no ReLU kink within the step
    dout = rng.normal(size=shape)
    out, cache = forward(x)
    assert out.shape == x.shape
    dx = backward(dout, cache)
    assert dx.shape == x.shape
    assert rel_error(dx, numerical_gradient_array(lambda v: forward(v)[0], x, dout)) < 1e-7


@given(st.integers(1, 5), st.integers(1, 6), st.integers(1, 5), seeds)
def test_affine_relu_sandwich_is_the_composition(N, D, M, seed):
    rng = np.random.default_rng(seed)
    x, w, b = rng.normal(size=(N, D)), rng.normal(size=(D, M)), rng.normal(size=M)
    dout = rng.normal(size=(N, M))
    out, cache = affine_relu_forward(x, w, b)
    a, fc_cache = affine_forward(x, w, b)
    r, relu_cache = relu_forward(a)
    np.testing.assert_array_equal(out, r)
    expected = affine_backward(relu_backward(dout, relu_cache), fc_cache)
    for got, want in zip(affine_relu_backward(dout, cache), expected, strict=True):
        np.testing.assert_array_equal(got, want)


@given(st.integers(1, 5), array_shapes(min_dims=1, max_dims=3, max_side=3), st.integers(1, 5),
       seeds)
def test_affine_matches_torch_linear(N, example_shape, M, seed):
    import torch
    F = torch.nn.functional
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, *example_shape))
    D = int(np.prod(example_shape))
    w, b, dout = rng.normal(size=(D, M)), rng.normal(size=M), rng.normal(size=(N, M))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out_t = F.linear(xt.reshape(N, D), wt.T, bt)
    out_t.backward(torch.tensor(dout))
    out, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    for ours, theirs in ((dx, xt), (dw, wt), (db, bt)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(array_shapes(min_dims=1, max_dims=4, max_side=5), seeds)
def test_elementwise_matches_torch(name, shape, seed):
    import torch
    torch_fn = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[name]
    forward, backward = ELEMENTWISE[name]
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=3.0, size=shape)
    x.flat[0] = 0.0  # ReLU at 0: both use the derivative 0
    dout = rng.normal(size=shape)
    xt = torch.tensor(x, requires_grad=True)
    out_t = torch_fn(xt)
    out_t.backward(torch.tensor(dout))
    out, cache = forward(x)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(backward(dout, cache), xt.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_saturated_activations_stay_finite():
    x = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    for name in ("sigmoid", "tanh"):
        forward, backward = ELEMENTWISE[name]
        out, cache = forward(x)
        dx = backward(np.ones_like(x), cache)
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
        assert dx[0] == 0.0 and dx[-1] == 0.0  # saturated: no gradient


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4)).astype(dtype)
    w, b = rng.normal(size=(4, 2)).astype(dtype), rng.normal(size=2).astype(dtype)
    out, cache = affine_forward(x, w, b)
    assert out.dtype == dtype
    assert all(g.dtype == dtype for g in affine_backward(np.ones_like(out), cache))
    for forward, backward in ELEMENTWISE.values():
        out, cache = forward(x)
        assert out.dtype == dtype and backward(np.ones_like(out), cache).dtype == dtype


def test_layers_do_not_modify_their_inputs():
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)
    dout = rng.normal(size=(4, 2))
    copies = [a.copy() for a in (x, w, b, dout)]
    _, cache = affine_relu_forward(x, w, b)
    affine_relu_backward(dout, cache)
    for forward, backward in ELEMENTWISE.values():
        _, c = forward(x)
        backward(x, c)
    for a, c in zip((x, w, b, dout), copies, strict=True):
        np.testing.assert_array_equal(a, c)


def test_affine_value_errors():
    x, w, b = np.ones((2, 3, 2)), np.ones((6, 4)), np.ones(4)
    with pytest.raises(ValueError, match=r"flattens to rows of length D = 6.*got w \(5, 4\)"):
        affine_forward(x, np.ones((5, 4)), b)
    with pytest.raises(ValueError, match=r"got w \(6, 4\) and b \(3,\)"):
        affine_forward(x, w, np.ones(3))
    with pytest.raises(ValueError, match=r"expected x of shape \(N, d_1, ..., d_k\)"):
        affine_forward(np.ones(6), w, b)
    with pytest.raises(ValueError, match=r"expected x of shape"):
        affine_forward(x, np.ones((6, 4, 1)), b)
    with pytest.raises(ValueError, match="w must be a floating-point array"):
        affine_forward(x, np.ones((6, 4), dtype=int), b)
    # The layers do not scan values (the model's loss does): NaN in, NaN out.
    assert np.all(np.isnan(affine_forward(x * np.nan, w, b)[0]))
    _, cache = affine_forward(x, w, b)
    with pytest.raises(ValueError, match=r"output shape \(2, 4\), got \(4, 2\)"):
        affine_backward(np.ones((4, 2)), cache)
    assert np.all(np.isnan(affine_backward(np.full((2, 4), np.nan), cache)[0]))
    with pytest.raises(TypeError, match=r"cache must be the \(x, w, b\) tuple"):
        affine_backward(np.ones((2, 4)), "garbage")


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_value_errors(name):
    forward, backward = ELEMENTWISE[name]
    with pytest.raises(ValueError, match="x must be a floating-point array"):
        forward(np.arange(4))
    assert np.isnan(forward(np.array([0.0, np.nan]))[0][1])  # NaN in, NaN out
    _, cache = forward(np.ones((2, 3)))
    with pytest.raises(TypeError, match="cache must be the input array"):
        backward(np.ones((2, 3)), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"output shape \(2, 3\), got \(3, 2\)"):
        backward(np.ones((3, 2)), cache)
