"""Unit tests of batch normalization: dlcode.layers.batchnorm_* and the network's BN stage."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlcode.gradcheck import numerical_gradient, numerical_gradient_array, rel_error
from dlcode.layers import affine_forward, batchnorm_backward, batchnorm_forward
from dlcode.losses import softmax_loss
from dlcode.models import BatchNormStage, FullyConnectedNet
from dlcode.solver import Solver

seeds = st.integers(0, 2**32 - 1)


def import_torch():
    """PyTorch on one thread: for these tiny tensors extra threads only add overhead."""
    import torch
    torch.set_num_threads(1)
    return torch


def random_batch(rng, n, d, log_scale=0.0):
    """A batch whose units have different means and scales around 10**log_scale."""
    scales = 10.0 ** (log_scale + rng.uniform(-0.5, 0.5, size=d))
    return rng.normal(size=(n, d)) * scales + rng.normal(size=d) * 3 * scales


def random_params(rng, d):
    return rng.uniform(0.3, 2.0, size=d) * rng.choice([-1.0, 1.0], size=d), rng.normal(size=d)


@given(st.integers(2, 12), st.integers(1, 6), st.floats(-2, 2), st.sampled_from([1e-5, 1e-3, 0.1]),
       seeds)
def test_forward_and_gradients_match_torch(n, d, log_scale, eps, seed):
    torch = import_torch()
    F = torch.nn.functional
    rng = np.random.default_rng(seed)
    x, (gamma, beta) = random_batch(rng, n, d, log_scale), random_params(rng, d)
    dout = rng.normal(size=(n, d))
    out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": eps})
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    out_t = F.batch_norm(xt, None, None, gt, bt, training=True, eps=eps)
    (out_t * torch.from_numpy(dout)).sum().backward()
    assert rel_error(out, out_t.detach().numpy()) < 1e-7
    assert rel_error(dx, xt.grad.numpy()) < 1e-7
    assert rel_error(dgamma, gt.grad.numpy()) < 1e-7
    assert rel_error(dbeta, bt.grad.numpy()) < 1e-7


@given(st.integers(3, 5), st.integers(1, 3), st.sampled_from(["train", "test"]), seeds)
def test_gradient_check_against_finite_differences(n, d, mode, seed):
    # n >= 3: with n = 2 the normalized values are +-sqrt(var / (var + eps)) whatever x, so dx is of
    # order eps / var and a finite difference cannot resolve it relatively (torch checks n = 2).
    rng = np.random.default_rng(seed)
    x, (gamma, beta) = random_batch(rng, n, d), random_params(rng, d)
    dout = rng.normal(size=(n, d))
    stats = {"running_mean": rng.normal(size=d), "running_var": rng.uniform(0.5, 2.0, size=d)}

    def f(x_, g_, b_):
        return batchnorm_forward(x_, g_, b_, {"mode": mode, **stats})[0]

    dx, dgamma, dbeta = batchnorm_backward(dout, batchnorm_forward(x, gamma, beta,
                                                                   {"mode": mode, **stats})[1])
    assert rel_error(dx, numerical_gradient_array(lambda v: f(v, gamma, beta), x, dout)) < 1e-7
    assert rel_error(dgamma, numerical_gradient_array(lambda v: f(x, v, beta), gamma, dout)) < 1e-7
    assert rel_error(dbeta, numerical_gradient_array(lambda v: f(x, gamma, v), beta, dout)) < 1e-7


@given(st.integers(2, 8), st.integers(1, 4), st.floats(0, 1), st.integers(1, 6), seeds)
def test_running_statistics_follow_the_convention_and_torch(n, d, momentum, steps, seed):
    torch = import_torch()
    rng = np.random.default_rng(seed)
    bn_param = {"mode": "train", "momentum": momentum}
    torch_bn = torch.nn.BatchNorm1d(d, momentum=1 - momentum, dtype=torch.float64).train()
    expected_mean, expected_var = np.zeros(d), np.zeros(d)
    for t in range(1, steps + 1):
        x = random_batch(rng, n, d)
        old_mean = bn_param.get("running_mean")
        old_copy = None if old_mean is None else old_mean.copy()
        batchnorm_forward(x, np.ones(d), np.zeros(d), bn_param)
        torch_bn(torch.from_numpy(x))
        expected_mean = momentum * expected_mean + (1 - momentum) * x.mean(axis=0)
        expected_var = momentum * expected_var + (1 - momentum) * x.var(axis=0)  # biased
        np.testing.assert_allclose(bn_param["running_mean"], expected_mean, rtol=1e-13,
                                   atol=1e-13)
        np.testing.assert_allclose(bn_param["running_var"], expected_var, rtol=1e-13, atol=1e-13)
        if old_copy is not None:  # a new array is stored; the old one is not modified
            assert np.array_equal(old_mean, old_copy)
        np.testing.assert_allclose(torch_bn.running_mean.numpy(), bn_param["running_mean"],
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(torch_bn.running_var.numpy(),
                                   momentum**t + n / (n - 1) * bn_param["running_var"],
                                   rtol=1e-12, atol=1e-12)


def test_defaults_are_eps_1e5_momentum_09_and_zero_running_statistics():
    rng = np.random.default_rng(0)
    x, (gamma, beta) = random_batch(rng, 6, 3), random_params(rng, 3)
    bn_param = {"mode": "train"}
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(out, gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) + beta,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn_param["running_mean"], 0.1 * x.mean(0), rtol=1e-14)
    np.testing.assert_allclose(bn_param["running_var"], 0.1 * x.var(0), rtol=1e-14)
    test_out, _ = batchnorm_forward(x, gamma, beta, {"mode": "test"})  # zeros: x / sqrt(eps)
    np.testing.assert_allclose(test_out, gamma * x / np.sqrt(1e-5) + beta, rtol=1e-12)


@given(st.integers(1, 8), st.integers(1, 4), seeds)
def test_test_mode_is_deterministic_and_uses_the_running_statistics(n, d, seed):
    rng = np.random.default_rng(seed)
    gamma, beta = random_params(rng, d)
    bn_param = {"mode": "train", "momentum": 0.8}
    for _ in range(5):
        batchnorm_forward(random_batch(rng, 4, d), gamma, beta, bn_param)
    saved = {k: v.copy() for k, v in bn_param.items() if k.startswith("running")}
    bn_param["mode"] = "test"
    x = random_batch(rng, n, d)
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    expected = gamma * (x - saved["running_mean"]) / np.sqrt(saved["running_var"] + 1e-5) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-13)
    assert np.array_equal(out, batchnorm_forward(x, gamma, beta, bn_param)[0])
    for i in range(n):  # each example's output does not depend on the rest of the batch
        assert np.array_equal(batchnorm_forward(x[i:i + 1], gamma, beta, bn_param)[0], out[i:i + 1])
    assert all(np.array_equal(bn_param[k], v) for k, v in saved.items())


@given(st.integers(2, 10), st.integers(1, 5), st.sampled_from([1e-5, 1e-2]), seeds)
def test_input_gradient_sums(n, d, eps, seed):
    rng = np.random.default_rng(seed)
    x, (gamma, beta) = random_batch(rng, n, d), random_params(rng, d)
    dout = rng.normal(size=(n, d))
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": eps})
    dx = batchnorm_backward(dout, cache)[0]
    x_hat, var, g_hat = cache[1], x.var(axis=0), gamma * dout
    scale = np.abs(g_hat).sum(axis=0) / np.sqrt(var + eps)  # size of the terms that cancel
    assert np.all(np.abs(dx.sum(axis=0)) <= 1e-13 * scale)
    predicted = eps / (var + eps) / np.sqrt(var + eps) * (g_hat * x_hat).sum(axis=0)
    assert np.all(np.abs((x_hat * dx).sum(axis=0) - predicted) <= 1e-13 * scale)


@given(st.floats(0.01, 100), seeds)
def test_scale_invariance(c, seed):
    rng = np.random.default_rng(seed)
    h, w, b = rng.normal(size=(6, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    gamma, beta = random_params(rng, 3)
    dout = rng.normal(size=(6, 3))
    a_c = affine_forward(h, c * w, 2 * b)[0]
    a_1 = affine_forward(h, w, b)[0]
    out_c, cache_c = batchnorm_forward(a_c, gamma, beta, {"mode": "train", "eps": 1e-5})
    out_1, cache_1 = batchnorm_forward(a_1, gamma, beta, {"mode": "train", "eps": 1e-5 / c**2})
    np.testing.assert_allclose(out_c, out_1, rtol=1e-10, atol=1e-10)
    da_c, da_1 = batchnorm_backward(dout, cache_c)[0], batchnorm_backward(dout, cache_1)[0]
    assert rel_error(c * (h.T @ da_c), h.T @ da_1) < 1e-9  # dW scales like 1/c
    assert rel_error((c * da_c) @ w.T, da_1 @ w.T) < 1e-9  # dh unchanged


def net_with_random_bn(placement, activation="tanh", seed=0, dims=(5, 4), reg=0.05):
    net = FullyConnectedNet(list(dims), 6, 3, activation=activation, reg=reg, weight_scale=1.0,
                            seed=seed, normalization=placement)
    rng = np.random.default_rng(seed + 100)
    for k in range(1, len(dims) + 1):
        net.params[f"gamma{k}"] = rng.uniform(0.5, 2.0, size=dims[k - 1])
        net.params[f"beta{k}"] = rng.normal(size=dims[k - 1])
    return net


@pytest.mark.parametrize("placement", ["batchnorm", "batchnorm_after"])
@pytest.mark.parametrize("seed", [0, 3, 7])
def test_full_network_gradient_check(placement, seed):
    net = net_with_random_bn(placement, seed=seed)
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(7, 6)), rng.integers(0, 3, size=7)
    _, grads = net.loss(X, y)
    assert set(grads) == set(net.params)
    # Central differences carry a rounding error of about 1e-11; the seeds are ones whose gradient
    # entries (other than the zero ones) all exceed 5e-4, so the 1e-7 relative bar is meaningful.
    zero = {"b1", "b2"} if placement == "batchnorm" else set()
    assert min(np.min(np.abs(g)) for name, g in grads.items() if name not in zero) > 5e-4
    for name, param in net.params.items():
        numeric = numerical_gradient(lambda _: net.loss(X, y)[0], param)
        if name in zero:  # a bias followed by batch normalization has no effect
            assert np.max(np.abs(grads[name])) < 1e-14 and np.max(np.abs(numeric)) < 1e-9
        else:
            assert rel_error(grads[name], numeric) < 1e-7, name


def test_network_parameters_state_and_penalty():
    net = FullyConnectedNet([5, 4], 6, 3, reg=0.3, weight_scale=0.5, seed=0,
                            normalization="batchnorm")
    assert set(net.params) == {"W1", "b1", "W2", "b2", "W3", "b3", "gamma1", "beta1", "gamma2",
                               "beta2"}
    assert np.array_equal(net.params["gamma1"], np.ones(5))
    assert np.array_equal(net.params["beta2"], np.zeros(4))
    assert len(net.bn_params) == 2 and net.options["normalization"] == "batchnorm"
    assert "gamma1" not in FullyConnectedNet([5], 6, 3).params
    assert FullyConnectedNet([5], 6, 3).options["normalization"] is None
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(8, 6)), rng.integers(0, 3, size=8)
    net.params["gamma1"] = net.params["gamma1"] * 5.0  # a penalty on gamma would now show
    plain = copy_with_reg(net, 0.0)
    penalty = 0.5 * 0.3 * sum(np.sum(net.params[f"W{k}"] ** 2) for k in (1, 2, 3))
    loss, grads = net.loss(X, y)
    loss0, grads0 = plain.loss(X, y)
    assert np.isclose(loss - loss0, penalty, rtol=1e-12, atol=0)
    for name in ("gamma1", "beta1", "gamma2", "beta2"):
        assert np.array_equal(grads[name], grads0[name])
    assert [p["mode"] for p in net.bn_params] == ["train", "train"]
    stats = [p["running_mean"].copy() for p in net.bn_params]
    scores = net.loss(X)
    assert [p["mode"] for p in net.bn_params] == ["test", "test"]
    assert all(np.array_equal(p["running_mean"], s) for p, s in zip(net.bn_params, stats,
                                                                    strict=True))
    assert np.array_equal(scores[:2], net.loss(X[:2]))


def copy_with_reg(net, reg):
    other = FullyConnectedNet(net.hidden_dims, net.input_dim, net.num_classes, reg=reg,
                              normalization=net.options["normalization"])
    other.params = {k: v.copy() for k, v in net.params.items()}
    return other


def test_float32_network_keeps_its_dtype():
    net = FullyConnectedNet([5], 6, 3, dtype=np.float32, seed=0, normalization="batchnorm")
    X, y = np.random.default_rng(0).normal(size=(4, 6)), np.array([0, 1, 2, 0])
    _, grads = net.loss(X, y)
    assert net.params["gamma1"].dtype == np.float32 and grads["gamma1"].dtype == np.float32


def test_placement_after_the_activation():
    """With "batchnorm_after" the hidden outputs are normalized after the ReLU."""
    net = net_with_random_bn("batchnorm_after", activation="relu", dims=(5,), reg=0.0)
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(9, 6)), rng.integers(0, 3, size=9)
    h = np.maximum(affine_forward(X, net.params["W1"], net.params["b1"])[0], 0)
    h_bn = batchnorm_forward(h, net.params["gamma1"], net.params["beta1"], {"mode": "train"})[0]
    scores = affine_forward(h_bn, net.params["W2"], net.params["b2"])[0]
    assert np.isclose(net.loss(X, y)[0], softmax_loss(scores, y)[0], rtol=1e-13, atol=0)
    np.testing.assert_allclose(net.bn_params[0]["running_mean"], 0.1 * h.mean(axis=0), rtol=1e-12)
    # the registered stage keeps its position; this network uses a post-activation twin
    assert FullyConnectedNet._stages["normalization"].position == "pre"


def test_solver_trains_a_normalized_network():
    rng = np.random.default_rng(0)
    centres = 3 * rng.normal(size=(3, 4))
    y = rng.integers(0, 3, size=120)
    X = centres[y] + rng.normal(size=(120, 4))
    data = {"X_train": X[:80], "y_train": y[:80], "X_val": X[80:], "y_val": y[80:]}
    net = FullyConnectedNet([16, 16], 4, 3, weight_scale=0.01, seed=0, normalization="batchnorm")
    solver = Solver(net, data, optim_config={"learning_rate": 0.1}, batch_size=16, num_epochs=5,
                    seed=0).train()
    assert solver.best_val_acc >= 0.9
    assert np.all(net.bn_params[0]["running_var"] > 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.ones((4, 3)), np.ones(2), np.zeros(3), {"mode": "train"}),
         r"gamma and beta must have shape \(D,\) = \(3,\)"),
        ((np.ones((4, 3)), np.ones(3), np.zeros((3, 1)), {"mode": "train"}),
         "gamma and beta must have shape"),
        ((np.ones(3), np.ones(3), np.zeros(3), {"mode": "train"}), r"x must have shape \(N, D\)"),
        ((np.ones((4, 3)), np.ones(3), np.zeros(3), {}), "bn_param\\['mode'\\] must be"),
        ((np.ones((4, 3)), np.ones(3), np.zeros(3), {"mode": "eval"}), "'train' or 'test'"),
        ((np.ones((4, 3)), np.ones(3), np.zeros(3), {"mode": "train", "eps": 0}),
         r"eps'\] must be a finite number in \(0, inf\)"),
        ((np.ones((4, 3)), np.ones(3), np.zeros(3), {"mode": "train", "eps": np.inf}),
         r"eps'\] must be a finite number"),
        ((np.ones((4, 3)), np.ones(3), np.zeros(3), {"mode": "train", "momentum": -0.1}),
         r"momentum'\] must be a finite number in \[0, 1\]"),
        ((np.ones((4, 3)), np.ones(3), np.zeros(3), {"mode": "train", "momentum": True}),
         "must be a real number"),
        ((np.ones((4, 3)), np.ones(3), np.zeros(3), {"mode": "train", "momentum": np.nan}),
         r"momentum'\] must be a finite number in \[0, 1\]"),
        ((np.ones((1, 3)), np.ones(3), np.zeros(3), {"mode": "train"}), "N >= 2"),
        ((np.array([[1e200], [-1e200]]), np.ones(1), np.zeros(1), {"mode": "train"}),
         "batch variance of x overflows"),
        ((np.ones((4, 3), dtype=int), np.ones(3), np.zeros(3), {"mode": "train"}),
         "floating-point"),
        ((np.ones((4, 3)), np.ones(3), np.zeros(3), [("mode", "train")]),
         "bn_param must be a dict"),
        ((np.ones((4, 3)), np.ones(3), np.zeros(3), {"mode": "test", "running_var": np.ones(2)}),
         r"running_var'\] must have shape \(D,\) = \(3,\)"),
        ((np.ones((4, 3)), np.ones(3), np.zeros(3), {"mode": "test", "running_var": -np.ones(3)}),
         "must be non-negative"),
    ],
)
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_batchnorm_forward_validates_its_inputs(args, message):
    bn_param = args[3]
    before = dict(bn_param) if isinstance(bn_param, dict) else None
    with pytest.raises(ValueError, match=message):
        batchnorm_forward(*args)
    if before is not None:
        assert bn_param.keys() == before.keys()  # nothing stored on failure


def test_backward_and_network_option_errors():
    _, cache = batchnorm_forward(np.ones((4, 3)) * np.arange(4)[:, None], np.ones(3),
                                 np.zeros(3), {"mode": "train"})
    with pytest.raises(ValueError, match="output shape"):
        batchnorm_backward(np.ones((4, 2)), cache)
    with pytest.raises(ValueError, match="normalization must be None or one of"):
        FullyConnectedNet([4], 3, 2, normalization="batch")
    with pytest.raises(ValueError, match="position must be 'pre' or 'post'"):
        BatchNormStage("middle")
