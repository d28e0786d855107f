"""Unit tests of dlcode.rnn (chapter 13): the vanilla recurrent layer and backpropagation in time.

Gradients are checked against finite differences for random shapes and all three activations, the
states and gradients against torch.nn.RNN, the linear network against matrix powers, and the input
validation against its error messages.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dlcode.gradcheck import numerical_gradient_array, rel_error
from dlcode.rnn import RNN_ACTIVATIONS, rnn_backward, rnn_forward

seeds = st.integers(0, 2**32 - 1)
sizes = st.integers(1, 4)


def random_problem(N, T, D, H, seed, scale=0.6):
    """x, h0, Wx, Wh, b and an upstream gradient dh."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(D, H)),
            scale * rng.normal(size=(H, H)), rng.normal(size=H), rng.normal(size=(N, T, H)))


def preactivations(h, x, h0, Wx, Wh, b):
    h_prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    return h_prev @ Wh + x @ Wx + b


def assert_gradients_close(analytic, numeric, what):
    """Relative error below 1e-7 per entry, except for entries below what central differences
    resolve (their rounding error is about 1e-16 |f| / h = 1e-11 |f|)."""
    err = np.abs(analytic - numeric)
    assert np.all(err <= 1e-7 * (np.abs(analytic) + np.abs(numeric)) + 1e-10), (what, err.max())


@given(sizes, sizes, sizes, sizes, st.sampled_from(RNN_ACTIVATIONS), seeds)
def test_gradient_check(N, T, D, H, activation, seed):
    *arrays, dh = random_problem(N, T, D, H, seed)
    h, cache = rnn_forward(*arrays, activation=activation)
    if activation == "relu":  # central differences are meaningless next to the kink
        assume(np.min(np.abs(preactivations(h, *arrays))) > 1e-3)
    grads = rnn_backward(dh, cache)
    assert len(grads) == 5
    for i, (arr, grad) in enumerate(zip(arrays, grads, strict=True)):
        def states(a, i=i):
            args = list(arrays)
            args[i] = a
            return rnn_forward(*args, activation=activation)[0]
        numeric = numerical_gradient_array(states, arr.copy(), dh)
        assert grad.shape == arr.shape
        assert_gradients_close(grad, numeric, (activation, i))


@given(sizes, sizes, sizes, sizes, st.sampled_from(["tanh", "relu"]), seeds)
def test_matches_torch_rnn(N, T, D, H, activation, seed):
    import torch
    *arrays, dh = random_problem(N, T, D, H, seed)
    x, h0, Wx, Wh, b = arrays
    h, cache = rnn_forward(*arrays, activation=activation)
    dx, dh0, dWx, dWh, db = rnn_backward(dh, cache)

    net = torch.nn.RNN(D, H, nonlinearity=activation, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.tensor(Wx.T))
        net.weight_hh_l0.copy_(torch.tensor(Wh.T))
        net.bias_ih_l0.copy_(torch.tensor(b))
        net.bias_hh_l0.zero_()
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    out, h_last = net(xt, h0t)
    out.backward(torch.tensor(dh))
    assert rel_error(h, out.detach().numpy()) < 1e-12
    assert rel_error(h[:, -1], h_last.detach().numpy()[0]) < 1e-12
    assert rel_error(dx, xt.grad.numpy()) < 1e-10
    assert rel_error(dh0, h0t.grad.numpy()[0]) < 1e-10
    assert rel_error(dWx, net.weight_ih_l0.grad.numpy().T) < 1e-10
    assert rel_error(dWh, net.weight_hh_l0.grad.numpy().T) < 1e-10
    assert rel_error(db, net.bias_ih_l0.grad.numpy()) < 1e-10
    assert rel_error(db, net.bias_hh_l0.grad.numpy()) < 1e-10


@given(sizes, st.integers(1, 12), sizes, seeds)
def test_linear_network_is_a_matrix_power(N, T, H, seed):
    """With zero inputs and bias, h_T = h_0 Wh^T and dL/dh_0 = dL/dh_T (Wh^T)^T."""
    rng = np.random.default_rng(seed)
    h0, Wh = rng.normal(size=(N, H)), rng.normal(size=(H, H)) / np.sqrt(H)
    x, Wx = rng.normal(size=(N, T, 2)), np.zeros((2, H))
    h, cache = rnn_forward(x, h0, Wx, Wh, np.zeros(H), activation="linear")
    power = np.linalg.matrix_power(Wh, T)
    assert np.allclose(h[:, -1], h0 @ power, rtol=1e-10, atol=1e-12)
    dh = np.zeros_like(h)
    dh[:, -1] = rng.normal(size=(N, H))
    dh0 = rnn_backward(dh, cache)[1]
    assert np.allclose(dh0, dh[:, -1] @ power.T, rtol=1e-10, atol=1e-12)


def test_states_follow_the_recurrence_step_by_step():
    *arrays, _ = random_problem(2, 5, 3, 4, seed=1)
    x, h0, Wx, Wh, b = arrays
    h, _ = rnn_forward(*arrays)
    prev = h0
    for t in range(5):
        prev = np.tanh(prev @ Wh + x[:, t] @ Wx + b)
        assert np.allclose(h[:, t], prev, rtol=1e-14, atol=1e-15)


def test_relu_gradient_is_zero_for_inactive_units():
    x, h0 = np.zeros((1, 3, 1)), np.zeros((1, 2))
    h, cache = rnn_forward(x, h0, np.ones((1, 2)), np.eye(2), np.array([-1.0, 1.0]), "relu")
    assert np.array_equal(h[0, :, 0], np.zeros(3)) and np.all(h[0, :, 1] > 0)
    db = rnn_backward(np.ones_like(h), cache)[4]
    assert db[0] == 0 and db[1] > 0


def test_inputs_are_not_modified_and_float32_is_kept():
    *arrays, dh = random_problem(2, 3, 2, 3, seed=2)
    arrays32 = [a.astype(np.float32) for a in arrays]
    copies = [a.copy() for a in arrays32]
    h, cache = rnn_forward(*arrays32)
    grads = rnn_backward(dh.astype(np.float32), cache)
    assert h.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    assert all(np.array_equal(a, c) for a, c in zip(arrays32, copies, strict=True))
    h64, _ = rnn_forward(*arrays)
    assert rel_error(h, h64) < 1e-5


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"x": np.zeros((2, 3))}, r"expected x \(N, T, D\)"),
        ({"h0": np.zeros((3, 4))}, "N = 2 rows"),
        ({"Wx": np.zeros((5, 4))}, r"Wx \(3, 4\)"),
        ({"Wh": np.zeros((4, 5))}, r"Wh \(4, 4\)"),
        ({"b": np.zeros(5)}, r"b \(4,\)"),
        ({"x": np.zeros((2, 0, 3))}, "at least one time step"),
        ({"x": np.zeros((2, 3, 3), dtype=int)}, "x must be a floating-point array"),
        ({"Wh": np.full((4, 4), np.nan)}, "non-finite hidden states"),
        ({"activation": "sigmoid"}, "activation must be one of"),
    ],
)
def test_forward_validation(change, match):
    args = {"x": np.zeros((2, 3, 3)), "h0": np.zeros((2, 4)), "Wx": np.zeros((3, 4)),
            "Wh": np.zeros((4, 4)), "b": np.zeros(4), "activation": "tanh"}
    args.update(change)
    with pytest.raises(ValueError, match=match):
        rnn_forward(**args)


def test_backward_validation():
    *arrays, _ = random_problem(2, 3, 2, 4, seed=3)
    h, cache = rnn_forward(*arrays)
    with pytest.raises(ValueError, match=r"dh must have the shape \(N, T, H\) = \(2, 3, 4\)"):
        rnn_backward(np.zeros((2, 4)), cache)
    with pytest.raises(TypeError, match="dh must be a floating-point array"):
        rnn_backward(np.zeros((2, 3, 4), dtype=int), cache)
    with pytest.raises(ValueError, match="non-finite gradients"):
        rnn_backward(np.full(h.shape, np.inf), cache)


@pytest.mark.parametrize("name", ["x", "h0", "Wx", "Wh", "b"])
def test_wrong_dtype_is_a_type_error_naming_the_argument(name):
    args = {"x": np.zeros((2, 3, 3)), "h0": np.zeros((2, 4)), "Wx": np.zeros((3, 4)),
            "Wh": np.zeros((4, 4)), "b": np.zeros(4)}
    args[name] = args[name].astype(int)
    with pytest.raises(TypeError, match=f"{name} must be a floating-point array"):
        rnn_forward(**args)
    args[name] = args[name].astype(complex)
    with pytest.raises(TypeError, match=f"{name} must be a floating-point array"):
        rnn_forward(**args)


def test_overflow_is_rejected_not_returned():
    """Finite inputs whose linear recurrence overflows raise instead of returning inf/NaN."""
    x, h0 = np.zeros((1, 400, 1)), np.ones((1, 2))
    Wh = 10.0 * np.eye(2)  # h_t = 10^t h_0 overflows after about 308 steps
    with pytest.raises(ValueError, match="non-finite hidden states"):
        rnn_forward(x, h0, np.zeros((1, 2)), Wh, np.zeros(2), "linear")
    h, cache = rnn_forward(x[:, :300], h0, np.zeros((1, 2)), Wh, np.zeros(2), "linear")
    dh = np.zeros_like(h)
    dh[:, -1] = 1e10  # the gradient through 300 steps overflows: 1e10 * 10^300
    with pytest.raises(ValueError, match="non-finite gradients"):
        rnn_backward(dh, cache)


def test_tanh_with_huge_finite_weights_stays_finite_and_correct():
    """Saturated tanh: huge finite pre-activations give states of +-1, not NaN."""
    x, h0 = np.ones((1, 3, 1)), np.zeros((1, 2))
    h, _ = rnn_forward(x, h0, np.array([[1e300, -1e300]]), np.eye(2), np.zeros(2))
    assert np.array_equal(h[0, -1], [1.0, -1.0])
