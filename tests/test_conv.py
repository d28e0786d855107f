"""Unit tests of the convolution and max-pooling layers of dlcode.layers and ThreeLayerConvNet."""

import time

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dlcode.gradcheck import numerical_gradient, numerical_gradient_array, rel_error
from dlcode.layers import (
    conv_backward,
    conv_backward_naive,
    conv_forward,
    conv_forward_naive,
    max_pool_backward,
    max_pool_backward_naive,
    max_pool_forward,
    max_pool_forward_naive,
)
from dlcode.models import ThreeLayerConvNet
from dlcode.solver import Solver

seeds = st.integers(0, 2**32 - 1)


@st.composite
def conv_configs(draw):
    """A random convolution: shapes, stride (often not dividing the padded size) and padding."""
    N, C, F = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    pad, stride = draw(st.integers(0, 2)), draw(st.integers(1, 4))
    HH, WW = draw(st.integers(1, H + 2 * pad)), draw(st.integers(1, W + 2 * pad))
    assume(HH <= 5 and WW <= 5)
    return (N, C, H, W), (F, C, HH, WW), stride, pad


@st.composite
def pool_configs(draw):
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    ph, pw = draw(st.integers(1, min(H, 4))), draw(st.integers(1, min(W, 4)))
    return (N, C, H, W), ph, pw, draw(st.integers(1, 4))


def torch_conv(x, w, b, stride, pad, dout):
    import torch
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=pad)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def torch_pool(x, ph, pw, stride, dout):
    import torch
    xt = torch.tensor(x, requires_grad=True)
    out = torch.nn.functional.max_pool2d(xt, (ph, pw), stride=stride)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy()


# --- convolution ---------------------------------------------------------------------------------

@given(conv_configs(), seeds)
def test_conv_naive_fast_and_torch_agree(config, seed):
    x_shape, w_shape, stride, pad = config
    rng = np.random.default_rng(seed)
    x, w, b = rng.normal(size=x_shape), rng.normal(size=w_shape), rng.normal(size=w_shape[0])
    param = {"stride": stride, "pad": pad}
    out_n, cache_n = conv_forward_naive(x, w, b, param)
    out_f, cache_f = conv_forward(x, w, b, param)
    H_out = (x_shape[2] + 2 * pad - w_shape[2]) // stride + 1
    W_out = (x_shape[3] + 2 * pad - w_shape[3]) // stride + 1
    assert out_n.shape == out_f.shape == (x_shape[0], w_shape[0], H_out, W_out)
    dout = rng.normal(size=out_n.shape)
    out_t, *grads_t = torch_conv(x, w, b, stride, pad, dout)
    grads_n, grads_f = conv_backward_naive(dout, cache_n), conv_backward(dout, cache_f)
    assert rel_error(out_n, out_f) < 1e-12 and rel_error(out_n, out_t) < 1e-7
    for g_n, g_f, g_t, arg in zip(grads_n, grads_f, grads_t, (x, w, b), strict=True):
        assert g_n.shape == g_f.shape == arg.shape
        assert rel_error(g_n, g_f) < 1e-12 and rel_error(g_f, g_t) < 1e-7


@st.composite
def small_conv_configs(draw):
    """Small enough for central differences through the naive layer (one call per entry)."""
    N, C, F = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    H, W = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    pad, stride = draw(st.integers(0, 2)), draw(st.integers(1, 3))
    HH, WW = draw(st.integers(1, min(4, H + 2 * pad))), draw(st.integers(1, min(4, W + 2 * pad)))
    return (N, C, H, W), (F, C, HH, WW), stride, pad


# The layer is linear in each of x, w and b, so a central difference has no truncation error for
# any step; a step of 0.1 makes its rounding error (about u |out| / h) negligible even for small
# entries of the gradient.
@settings(max_examples=20)
@given(small_conv_configs(), seeds)
def test_conv_gradient_check(config, seed):
    x_shape, w_shape, stride, pad = config
    rng = np.random.default_rng(seed)
    x, w, b = rng.normal(size=x_shape), rng.normal(size=w_shape), rng.normal(size=w_shape[0])
    param = {"stride": stride, "pad": pad}
    for forward, backward in [(conv_forward_naive, conv_backward_naive),
                              (conv_forward, conv_backward)]:
        out, cache = forward(x, w, b, param)
        dout = rng.normal(size=out.shape)
        dx, dw, db = backward(dout, cache)
        assert rel_error(dx, numerical_gradient_array(
            lambda v, f=forward: f(v, w, b, param)[0], x.copy(), dout, h=0.1)) < 1e-7
        assert rel_error(dw, numerical_gradient_array(
            lambda v, f=forward: f(x, v, b, param)[0], w.copy(), dout, h=0.1)) < 1e-7
        assert rel_error(db, numerical_gradient_array(
            lambda v, f=forward: f(x, w, v, param)[0], b.copy(), dout, h=0.1)) < 1e-7


@given(st.integers(1, 40), st.integers(1, 7), st.integers(0, 3), st.integers(1, 5))
def test_output_size_formula(W, F, P, S):
    assume(F <= W + 2 * P)
    import torch
    x, w = np.zeros((1, 1, 2, W)), np.zeros((1, 1, 1, F))
    out = conv_forward(x, w, np.zeros(1), {"stride": S, "pad": P})[0]
    expected = (W - F + 2 * P) // S + 1
    assert out.shape[3] == expected
    assert torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), stride=S,
                                      padding=P).shape[3] == expected
    positions = [j for j in range(0, W + 2 * P, S) if j + F <= W + 2 * P]  # left edges that fit
    assert len(positions) == expected


def test_conv_is_cross_correlation():
    import scipy.signal as scipy_signal
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(1, 1, 7, 9)), rng.normal(size=(1, 1, 3, 4))
    out = conv_forward(x, w, np.zeros(1), {"stride": 1, "pad": 0})[0][0, 0]
    np.testing.assert_allclose(out, scipy_signal.correlate2d(x[0, 0], w[0, 0], mode="valid"),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out, scipy_signal.convolve2d(x[0, 0], np.flip(w[0, 0]),
                                                             mode="valid"), rtol=1e-12, atol=1e-12)
    assert rel_error(out, scipy_signal.convolve2d(x[0, 0], w[0, 0], mode="valid")) > 0.1


def test_conv_keeps_float32_and_inputs():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 6, 6)).astype(np.float32)
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    b = np.zeros(4, dtype=np.float32)
    before = (x.copy(), w.copy())
    for forward, backward in [(conv_forward, conv_backward),
                              (conv_forward_naive, conv_backward_naive)]:
        out, cache = forward(x, w, b, {"stride": 2, "pad": 1})
        assert out.dtype == np.float32
        dx, dw, _ = backward(np.ones(out.shape, dtype=np.float32), cache)
        assert dx.shape == x.shape and dw.shape == w.shape
    assert np.array_equal(x, before[0]) and np.array_equal(w, before[1])


def test_conv_receptive_field_by_backpropagation():
    """Equation (eq-cnn-receptive-field): r = 1 + sum (F_l - 1) prod_{i<l} S_i."""
    for sizes, strides in [([3] * 4, [1] * 4), ([3, 3, 3, 3], [1, 2, 1, 2]),
                           ([5, 2, 3], [2, 2, 1]), ([2, 2, 2], [2, 2, 2])]:
        h, caches = np.zeros((1, 1, 41, 41)), []
        for F, S in zip(sizes, strides, strict=True):
            h, cache = conv_forward(h, np.ones((1, 1, F, F)), np.zeros(1), {"stride": S, "pad": 0})
            caches.append(cache)
        delta = np.zeros(h.shape)
        delta[0, 0, h.shape[2] // 2, h.shape[3] // 2] = 1.0
        for cache in reversed(caches):
            delta = conv_backward(delta, cache)[0]
        rows = np.nonzero(delta[0, 0].any(axis=1))[0]
        r, jump = 1, 1
        for F, S in zip(sizes, strides, strict=True):
            r, jump = r + (F - 1) * jump, jump * S
        assert rows.max() - rows.min() + 1 == r
        assert np.count_nonzero(delta) == r * r  # S_l <= F_l: a full square


def test_fast_conv_is_much_faster_than_naive():
    rng = np.random.default_rng(2)
    x, w, b = rng.normal(size=(4, 3, 16, 16)), rng.normal(size=(8, 3, 3, 3)), rng.normal(size=8)
    param = {"stride": 1, "pad": 1}
    dout = rng.normal(size=(4, 8, 16, 16))

    def best(forward, backward, repeats):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            backward(dout, forward(x, w, b, param)[1])
            times.append(time.perf_counter() - start)
        return min(times)

    naive = best(conv_forward_naive, conv_backward_naive, 2)
    fast = best(conv_forward, conv_backward, 10)
    assert naive > 20 * fast, f"naive {naive:.4f} s, fast {fast:.4f} s"


@pytest.mark.parametrize("layer", [conv_forward, conv_forward_naive])
def test_conv_errors(layer):
    x, w, b = np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(4)
    ok = {"stride": 1, "pad": 0}
    cases = [
        ((x, w[:, :2], b, ok), "depth"),
        ((x, np.zeros((4, 3, 8, 8)), b, {"stride": 1, "pad": 1}), "larger than the padded input"),
        ((x, w, b, {"stride": 0, "pad": 0}), r"conv_param\['stride'\] must be an integer in"),
        ((x, w, b, {"stride": 1, "pad": -1}), r"conv_param\['pad'\] must be an integer in"),
        ((x, w, b, {"stride": 1}), r"missing \['pad'\]"),
        ((x, w, b, {"stride": 1, "pad": 0, "padding": 1}), r"unknown \['padding'\]"),
        ((x, w, b, [1, 0]), "must be a dict"),
        ((x[0], w, b, ok), r"x of shape \(N, C, H, W\)"),
        ((x, w[0], b, ok), r"w \(F, C, HH, WW\)"),
        ((x, w, b[:3], ok), "one bias per filter"),
        ((np.zeros((0, 3, 5, 5)), w, b, ok), "empty axis"),
    ]
    for args, match in cases:
        with pytest.raises(ValueError, match=match):
            layer(*args)
    for args, match in [((x, w, b, {"stride": 1.0, "pad": 0}), "must be an integer"),
                        ((x, w, b, {"stride": True, "pad": 0}), "must be an integer"),
                        ((x, w, b, [1, 0]), "must be a dict"),
                        ((np.zeros(x.shape, dtype=int), w, b, ok), "floating-point")]:
        with pytest.raises(TypeError, match=match):
            layer(*args)


@pytest.mark.parametrize("forward, backward", [(conv_forward, conv_backward),
                                               (conv_forward_naive, conv_backward_naive)])
def test_conv_does_not_mutate_its_inputs(forward, backward):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(2, 3, 5, 5)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4)
    copies = [a.copy() for a in (x, w, b)]
    out, cache = forward(x, w, b, {"stride": 2, "pad": 1})
    dout = rng.normal(size=out.shape)
    dout_copy = dout.copy()
    backward(dout, cache)
    for a, c in zip((x, w, b, dout), (*copies, dout_copy), strict=True):
        assert np.array_equal(a, c)


@pytest.mark.parametrize("forward, backward", [(conv_forward, conv_backward),
                                               (conv_forward_naive, conv_backward_naive)])
def test_conv_backward_checks_dout(forward, backward):
    out, cache = forward(np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(4),
                         {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match="output shape"):
        backward(np.zeros((2, 4, 3, 2)), cache)
    with pytest.raises(ValueError, match="floating-point"):  # TypeError in the naive layer
        backward(np.zeros(out.shape, dtype=int), cache)


# --- the fast layer: im2col layout, larger shapes, no side effects --------------------

@pytest.mark.parametrize("seed", range(8))
def test_fast_conv_agrees_with_naive_and_torch_on_larger_shapes(seed):
    """Beyond the hypothesis strategy: more channels and filters, odd and uneven
    sizes, non-square filters, strides up to 4 (often not dividing the padded size),
    padding up to 3."""
    rng = np.random.default_rng(seed)
    N, C, F = rng.integers(1, 5), rng.integers(1, 7), rng.integers(1, 7)
    H, W = rng.integers(5, 18), rng.integers(5, 18)
    HH, WW = rng.integers(1, 6), rng.integers(1, 6)
    pad, stride = int(rng.integers(0, 4)), int(rng.integers(1, 5))
    x, w = rng.normal(size=(N, C, H, W)), rng.normal(size=(F, C, HH, WW))
    b = rng.normal(size=F)
    param = {"stride": stride, "pad": pad}
    out_n, cache_n = conv_forward_naive(x, w, b, param)
    out_f, cache_f = conv_forward(x, w, b, param)
    dout = rng.normal(size=out_n.shape)
    out_t, *grads_t = torch_conv(x, w, b, stride, pad, dout)
    grads_n, grads_f = conv_backward_naive(dout, cache_n), conv_backward(dout, cache_f)
    # Sums of up to 150 products, in different orders: an entry that nearly cancels has a
    # large relative error, so the errors are measured against the largest entry.
    for ref, fast, theirs in zip((out_n, *grads_n), (out_f, *grads_f), (out_t, *grads_t),
                                 strict=True):
        assert fast.shape == ref.shape == theirs.shape
        scale = np.abs(ref).max()
        assert np.abs(fast - ref).max() <= 1e-13 * scale
        assert np.abs(fast - theirs).max() <= 1e-13 * scale


def test_fast_conv_cache_is_the_theorems_im2col_matrix():
    """cols is X_col of (eq-cnn-im2col): rows (c, a, b), columns (n, i, j);
    Y = W X_col + b."""
    rng = np.random.default_rng(3)
    N, C, H, W, F, HH, WW, S, P = 2, 3, 7, 6, 4, 3, 2, 2, 1
    x, w = rng.normal(size=(N, C, H, W)), rng.normal(size=(F, C, HH, WW))
    b = rng.normal(size=F)
    out, (shape, _, cols, stride, pad) = conv_forward(x, w, b, {"stride": S, "pad": P})
    assert shape == x.shape and (stride, pad) == (S, P)
    H_out, W_out = out.shape[2:]
    assert cols.shape == (C * HH * WW, N * H_out * W_out)
    x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    for n, i, j in [(0, 0, 0), (1, H_out - 1, W_out - 1), (1, 1, 2)]:
        window = x_pad[n, :, i * S : i * S + HH, j * S : j * S + WW]
        assert np.array_equal(cols[:, (n * H_out + i) * W_out + j], window.ravel())
    y = w.reshape(F, -1) @ cols + b[:, None]
    assert rel_error(y, out.transpose(1, 0, 2, 3).reshape(F, -1)) < 1e-14


def test_fast_conv_float64_gradient_check_on_a_strided_odd_case():
    rng = np.random.default_rng(5)
    x, w = rng.normal(size=(2, 3, 7, 5)), rng.normal(size=(4, 3, 3, 2))
    b = rng.normal(size=4)
    param = {"stride": 2, "pad": 1}
    out, cache = conv_forward(x, w, b, param)
    dout = rng.normal(size=out.shape)
    dx, dw, db = conv_backward(dout, cache)
    assert dx.dtype == dw.dtype == db.dtype == out.dtype == np.float64
    for grad, arg, which in [(dx, x, 0), (dw, w, 1), (db, b, 2)]:
        def f(v, which=which):
            args = [x, w, b]
            args[which] = v
            return conv_forward(*args, param)[0]
        numeric = numerical_gradient_array(f, arg.copy(), dout, h=0.1)
        assert rel_error(grad, numeric) < 1e-9


def test_fast_conv_leaves_its_inputs_and_cache_alone():
    """Neither pass writes into x, w, b, dout or the cache; the results are fresh,
    contiguous arrays; a second backward pass on the same cache gives the same
    gradients."""
    rng = np.random.default_rng(6)
    x, w = rng.normal(size=(3, 2, 6, 7)), rng.normal(size=(5, 2, 3, 3))
    b, dout = rng.normal(size=5), rng.normal(size=(3, 5, 3, 4))
    copies = [a.copy() for a in (x, w, b, dout)]
    out, cache = conv_forward(x, w, b, {"stride": 2, "pad": 1})
    cols = cache[2].copy()
    first = conv_backward(dout, cache)
    second = conv_backward(dout, cache)
    for before, after in zip(copies, (x, w, b, dout), strict=True):
        assert np.array_equal(before, after)
    assert np.array_equal(cols, cache[2])
    for one, two in zip(first, second, strict=True):
        assert np.array_equal(one, two)
    for result in (out, *first):
        assert result.flags.c_contiguous
        assert not any(np.shares_memory(result, a) for a in (x, w, b, dout, cache[2]))
    assert not np.shares_memory(cache[2], x)


# --- max pooling ---------------------------------------------------------------------------------

@given(pool_configs(), seeds, st.booleans())
def test_pool_naive_fast_and_torch_agree(config, seed, ties):
    """Also with many ties: the gradient goes to the first maximum, as in PyTorch."""
    x_shape, ph, pw, stride = config
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=x_shape).astype(float) if ties else rng.normal(size=x_shape)
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out_n, cache_n = max_pool_forward_naive(x, param)
    out_f, cache_f = max_pool_forward(x, param)
    assert out_n.shape == (x_shape[0], x_shape[1], (x_shape[2] - ph) // stride + 1,
                           (x_shape[3] - pw) // stride + 1)
    dout = rng.normal(size=out_n.shape)
    out_t, dx_t = torch_pool(x, ph, pw, stride, dout)
    assert np.array_equal(out_n, out_f) and np.array_equal(out_n, out_t)
    dx_n, dx_f = max_pool_backward_naive(dout, cache_n), max_pool_backward(dout, cache_f)
    assert rel_error(dx_n, dx_f) < 1e-12 and rel_error(dx_f, dx_t) < 1e-7


@settings(max_examples=25)
@given(pool_configs(), seeds)
def test_pool_gradient_check(config, seed):
    x_shape, ph, pw, stride = config
    rng = np.random.default_rng(seed)
    x = 0.01 * rng.permutation(int(np.prod(x_shape))).reshape(x_shape)  # distinct by >= 0.01
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    for forward, backward in [(max_pool_forward_naive, max_pool_backward_naive),
                              (max_pool_forward, max_pool_backward)]:
        out, cache = forward(x, param)
        dout = rng.normal(size=out.shape)
        numeric = numerical_gradient_array(lambda v, f=forward: f(v, param)[0], x.copy(), dout)
        assert rel_error(backward(dout, cache), numeric) < 1e-7


def test_pool_tie_goes_to_first_maximum():
    x = np.array([[[[1.0, 2.0], [2.0, 0.0]]]])
    param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    for forward, backward in [(max_pool_forward_naive, max_pool_backward_naive),
                              (max_pool_forward, max_pool_backward)]:
        out, cache = forward(x, param)
        assert out.item() == 2.0
        np.testing.assert_array_equal(backward(np.array([[[[5.0]]]]), cache),
                                      [[[[0.0, 5.0], [0.0, 0.0]]]])


@pytest.mark.parametrize("layer", [max_pool_forward, max_pool_forward_naive])
def test_pool_errors(layer):
    x = np.zeros((2, 3, 5, 5))
    cases = [
        ((x, {"pool_height": 6, "pool_width": 2, "stride": 2}), "larger than the input"),
        ((x, {"pool_height": 2, "pool_width": 2, "stride": 0}), "integer in"),
        ((x, {"pool_height": 2, "pool_width": 0, "stride": 1}), "integer in"),
        ((x, {"pool_height": 2, "pool_width": 2}), r"missing \['stride'\]"),
        ((x, {"pool_height": 2, "pool_width": 2, "stride": 2, "pad": 1}), r"unknown \['pad'\]"),
        ((x[0], {"pool_height": 2, "pool_width": 2, "stride": 2}), r"\(N, C, H, W\)"),
    ]
    for args, match in cases:
        with pytest.raises(ValueError, match=match):
            layer(*args)


def test_pool_backward_checks_dout():
    _, cache = max_pool_forward(np.zeros((1, 1, 4, 4)), {"pool_height": 2, "pool_width": 2,
                                                         "stride": 2})
    with pytest.raises(ValueError, match="output shape"):
        max_pool_backward(np.zeros((1, 1, 3, 2)), cache)


# --- ThreeLayerConvNet ---------------------------------------------------------------------------

def conv_net_margins(net, X):
    """Smallest |ReLU input| and smallest gap between a pooling window's two largest values."""
    from dlcode.layers import affine_forward

    C, H, W = net.input_dim
    a1 = conv_forward(X.reshape(len(X), C, H, W), net.params["W1"], net.params["b1"],
                      net.conv_param)[0]
    h1 = np.maximum(a1, 0)
    windows = np.lib.stride_tricks.sliding_window_view(h1, (2, 2), axis=(2, 3))[:, :, ::2, ::2]
    top2 = np.sort(windows.reshape(*windows.shape[:4], 4), axis=-1)[..., -2:]
    pool_gap = np.min((top2[..., 1] - top2[..., 0])[top2[..., 1] > 0], initial=np.inf)
    a2 = affine_forward(max_pool_forward(h1, net.pool_param)[0], net.params["W2"],
                        net.params["b2"])[0]
    return min(np.abs(a1).min(), np.abs(a2).min(), pool_gap)


def convnet_for_check(seed, weight_scale=0.3, bias_scale=0.5, reg=0.05):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(3, 64)), rng.integers(0, 4, size=3)
    net = ThreeLayerConvNet(num_filters=3, hidden_dim=7, num_classes=4, weight_scale=weight_scale,
                            reg=reg, seed=seed + 10)
    for name in ("b1", "b2", "b3"):
        net.params[name] = bias_scale * rng.normal(size=net.params[name].shape)
    return net, X, y


# The book's bar (relative error below 1e-7 for every entry) at fixed points: central differences
# carry an absolute rounding error of about u |L| / h ~ 1e-11, so an entry of W2's gradient below
# ~1e-4 (a pooled activation close to 0) can miss it by chance; the comparison with PyTorch below
# covers random points.
@pytest.mark.parametrize("seed", [4, 9, 15])
def test_convnet_gradient_check(seed):
    net, X, y = convnet_for_check(seed)
    assert conv_net_margins(net, X) > 1e-4
    loss, grads = net.loss(X, y)
    assert np.isfinite(loss) and grads.keys() == net.params.keys()
    for name, param in net.params.items():
        numeric = numerical_gradient(lambda _: net.loss(X, y)[0], param)
        assert grads[name].shape == param.shape
        assert rel_error(grads[name], numeric) < 1e-7, name


def torch_convnet(net, X, y):
    """The same network in PyTorch: loss and gradients by autograd."""
    import torch
    C, H, W = net.input_dim
    p = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    x = torch.tensor(X.reshape(len(X), C, H, W))
    a1 = torch.nn.functional.conv2d(x, p["W1"], p["b1"], stride=1, padding=net.conv_param["pad"])
    pooled = torch.nn.functional.max_pool2d(torch.relu(a1), 2, stride=2).reshape(len(X), -1)
    scores = torch.relu(pooled @ p["W2"] + p["b2"]) @ p["W3"] + p["b3"]
    loss = torch.nn.functional.cross_entropy(scores, torch.tensor(y))
    loss = loss + 0.5 * net.reg * sum((p[k] ** 2).sum() for k in ("W1", "W2", "W3"))
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in p.items()}


@settings(max_examples=20)
@given(seeds, st.floats(0.05, 1.0), st.floats(0.0, 0.5))
def test_convnet_matches_torch(seed, weight_scale, reg):
    net, X, y = convnet_for_check(seed, weight_scale=weight_scale, reg=reg)
    loss, grads = net.loss(X, y)
    loss_t, grads_t = torch_convnet(net, X, y)
    assert abs(loss - loss_t) <= 1e-12 * max(1.0, abs(loss_t))
    for name in net.params:
        assert rel_error(grads[name], grads_t[name]) < 1e-7, name


@settings(max_examples=15)
@given(st.integers(1, 2), st.integers(2, 7), st.integers(2, 7), st.sampled_from([1, 3, 5]),
       st.integers(1, 4), seeds)
def test_convnet_shapes_and_penalty(C, H, W, F, N, seed):
    assume(F <= H + F - 1)
    rng = np.random.default_rng(seed)
    kwargs = {"input_dim": (C, H, W), "num_filters": 3, "filter_size": F, "hidden_dim": 5,
              "num_classes": 4, "weight_scale": 0.3, "seed": seed}
    net, plain = ThreeLayerConvNet(reg=0.7, **kwargs), ThreeLayerConvNet(reg=0.0, **kwargs)
    assert net.params["W1"].shape == (3, C, F, F)
    assert net.params["W2"].shape == (3 * (H // 2) * (W // 2), 5)
    X, y = rng.normal(size=(N, C, H, W)), rng.integers(0, 4, size=N)
    scores = net.loss(X)
    assert scores.shape == (N, 4)
    np.testing.assert_array_equal(scores, net.loss(X.reshape(N, -1)))
    penalty = 0.35 * sum(np.sum(net.params[k] ** 2) for k in ("W1", "W2", "W3"))
    assert np.isclose(net.loss(X, y)[0] - plain.loss(X, y)[0], penalty, rtol=1e-12)


def test_convnet_init_options():
    a, b = ThreeLayerConvNet(seed=3), ThreeLayerConvNet(seed=3)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["W1"], ThreeLayerConvNet(seed=4).params["W1"])
    net32 = ThreeLayerConvNet(dtype=np.float32, seed=0)
    assert all(p.dtype == np.float32 for p in net32.params.values())
    assert net32.loss(np.zeros((2, 64))).dtype == np.float32

    def ones(n_in, n_out, rng):
        return np.ones((n_in, n_out))

    net = ThreeLayerConvNet(num_filters=4, filter_size=3, weight_scale=ones)
    assert np.all(net.params["W1"] == 1) and net.params["W1"].shape == (4, 1, 3, 3)
    net = ThreeLayerConvNet(num_filters=4, filter_size=3, weight_scale=0.5, seed=0)
    assert 0.3 < np.std(net.params["W2"]) < 0.7


def test_convnet_errors():
    for kwargs, match in [({"filter_size": 4}, "odd"), ({"input_dim": (1, 1, 8)}, "at least 2x2"),
                          ({"input_dim": (1, 8)}, "input_dim"), ({"num_filters": 0}, "num_filters"),
                          ({"reg": -1.0}, "reg"), ({"dtype": np.int64}, "dtype"),
                          ({"weight_scale": "no-such-scheme"}, "no initialization scheme")]:
        with pytest.raises(ValueError, match=match):
            ThreeLayerConvNet(**kwargs)
    net = ThreeLayerConvNet(seed=0)
    with pytest.raises(ValueError, match=r"X must have shape \(N, 1, 8, 8\) or \(N, 64\)"):
        net.loss(np.zeros((2, 63)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.loss(np.full((2, 64), np.nan))


def test_convnet_learns_with_the_solver():
    rng = np.random.default_rng(0)
    # Two classes of 6x6 images: a vertical or a horizontal bar, at a random position, with noise.
    X, y = np.zeros((200, 1, 6, 6)), rng.integers(0, 2, size=200)
    pos = rng.integers(0, 6, size=200)
    X[y == 0, 0, :, pos[y == 0]] = 1.0
    X[y == 1, 0, pos[y == 1], :] = 1.0
    X += 0.1 * rng.normal(size=X.shape)
    data = {"X_train": X[:150], "y_train": y[:150], "X_val": X[150:], "y_val": y[150:]}
    net = ThreeLayerConvNet(input_dim=(1, 6, 6), num_filters=4, hidden_dim=10, num_classes=2,
                            weight_scale=0.3, seed=0)
    solver = Solver(net, data, optim_config={"learning_rate": 0.1}, batch_size=25, num_epochs=5,
                    seed=0).train()
    assert solver.loss_history[-1] < solver.loss_history[0]
    assert solver.best_val_acc >= 0.95


# --- review of the fast layers: the same behaviour as the naive ones -------------------

def test_fast_pool_keeps_nan_like_the_naive_one():
    """A NaN anywhere in a window is its maximum (as np.max), and gets the gradient."""
    x = np.array([[[[1.0, np.nan, 3.0, 0.0], [2.0, 5.0, np.nan, np.nan]]]])
    param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out_n, cache_n = max_pool_forward_naive(x, param)
    out_f, cache_f = max_pool_forward(x, param)
    np.testing.assert_array_equal(out_f, out_n)
    assert np.isnan(out_f).all()
    dout = np.array([[[[2.0, 7.0]]]])
    np.testing.assert_array_equal(max_pool_backward(dout, cache_f),
                                  max_pool_backward_naive(dout, cache_n))


@pytest.mark.parametrize("x_dtype, dout_dtype", [(np.float32, np.float64),
                                                 (np.float64, np.float32),
                                                 (np.float32, np.float32)])
def test_fast_pool_backward_dtype_as_naive(x_dtype, dout_dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 2, 4, 4)).astype(x_dtype)
    param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    dout = rng.normal(size=(1, 2, 2, 2)).astype(dout_dtype)
    dx_n = max_pool_backward_naive(dout, max_pool_forward_naive(x, param)[1])
    dx_f = max_pool_backward(dout, max_pool_forward(x, param)[1])
    assert dx_f.dtype == dx_n.dtype == np.result_type(x_dtype, dout_dtype)


@pytest.mark.parametrize("forward, backward", [(conv_forward, conv_backward),
                                               (conv_forward_naive, conv_backward_naive),
                                               (max_pool_forward, max_pool_backward),
                                               (max_pool_forward_naive,
                                                max_pool_backward_naive)])
def test_backward_passes_do_not_scan_dout(forward, backward):
    """Layers check shapes only, naive and fast alike: a NaN upstream gradient propagates."""
    x = np.zeros((1, 1, 4, 4))
    if forward in (conv_forward, conv_forward_naive):
        out, cache = forward(x, np.ones((1, 1, 3, 3)), np.zeros(1), {"stride": 1, "pad": 1})
    else:
        out, cache = forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    grads = backward(np.full(out.shape, np.nan), cache)
    dx = grads[0] if isinstance(grads, tuple) else grads
    assert np.isnan(dx).any()


def test_naive_conv_equals_summed_correlate2d_over_channels():
    import scipy.signal as scipy_signal
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(2, 3, 6, 7)), rng.normal(size=(4, 3, 3, 2)), rng.normal(size=4)
    for forward in (conv_forward_naive, conv_forward):
        out = forward(x, w, b, {"stride": 1, "pad": 0})[0]
        expected = [[sum(scipy_signal.correlate2d(x[n, d], w[u, d], mode="valid")
                         for d in range(3)) + b[u] for u in range(4)] for n in range(2)]
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
