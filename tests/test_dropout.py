"""Unit tests of inverted dropout: dlcode.layers.dropout_* and the FullyConnectedNet stage."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from dlcode.gradcheck import numerical_gradient, numerical_gradient_array, rel_error
from dlcode.layers import dropout_backward, dropout_forward
from dlcode.models import DropoutStage, FullyConnectedNet
from dlcode.solver import Solver

seeds = st.integers(0, 2**32 - 1)
keeps = st.floats(0.05, 1.0)


def train(p, seed=None):
    return {"p": p, "mode": "train", "seed": seed}


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_output_is_unbiased_by_monte_carlo(p):
    rng = np.random.default_rng(0)
    x = rng.normal(size=50) + 0.5
    gen = np.random.default_rng(1)
    n = 4000
    outs = np.stack([dropout_forward(x, train(p, gen))[0] for _ in range(n)])
    se = np.abs(x) * np.sqrt((1 - p) / p / n)  # each entry is x m / p, m ~ Bernoulli(p)
    assert np.all(np.abs(outs.mean(axis=0) - x) < 5 * se)


@given(keeps, seeds)
def test_fraction_of_zeros_is_the_drop_probability(p, seed):
    x = np.abs(np.random.default_rng(seed).normal(size=(100, 80))) + 0.1  # no zero entries
    out, _ = dropout_forward(x, train(p, seed))
    zeros = np.mean(out == 0)
    assert abs(zeros - (1 - p)) <= 5 * np.sqrt(p * (1 - p) / x.size) + 1e-12
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / p, rtol=1e-15)


@given(array_shapes(min_dims=1, max_dims=4, max_side=5), keeps, seeds)
def test_backward_uses_the_forward_mask(shape, p, seed):
    rng = np.random.default_rng(seed)
    x = np.abs(rng.normal(size=shape)) + 0.1
    dout = rng.normal(size=shape)
    out, cache = dropout_forward(x, train(p, seed))
    dx = dropout_backward(dout, cache)
    assert dx.shape == shape
    np.testing.assert_allclose(dx, dout * out / x, rtol=1e-13, atol=0)
    assert np.array_equal(dx == 0, (out == 0) | (dout == 0))


@given(array_shapes(min_dims=1, max_dims=3, max_side=4), keeps, seeds)
def test_gradient_check_with_a_fixed_mask(shape, p, seed):
    rng = np.random.default_rng(seed)
    x, dout = rng.normal(size=shape), rng.normal(size=shape)
    param = train(p, seed)  # an int seed: the same mask on every call
    _, cache = dropout_forward(x, param)
    numeric = numerical_gradient_array(lambda v: dropout_forward(v, param)[0], x, dout)
    assert rel_error(dropout_backward(dout, cache), numeric) < 1e-7


def test_int_seeds_reproduce_generators_advance_and_global_state_is_untouched():
    x = np.ones((30, 40))
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (the legacy global state)
    a = dropout_forward(x, train(0.5, 3))[0]
    assert np.array_equal(a, dropout_forward(x, train(0.5, 3))[0])
    assert not np.array_equal(a, dropout_forward(x, train(0.5, 4))[0])
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    first = dropout_forward(x, train(0.5, g1))[0]
    assert not np.array_equal(first, dropout_forward(x, train(0.5, g1))[0])  # a fresh mask
    assert np.array_equal(first, dropout_forward(x, train(0.5, g2))[0])  # same stream, same mask
    dropout_forward(x, train(0.5))  # seed None: a fresh unseeded generator
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_keep_probability_one_keeps_everything():
    x = np.random.default_rng(0).normal(size=(7, 3))
    out, cache = dropout_forward(x, train(1.0, 0))
    assert np.array_equal(out, x)
    assert np.array_equal(dropout_backward(x, cache), x)


@given(array_shapes(min_dims=1, max_dims=3, max_side=5), seeds)
def test_test_mode_is_the_identity(shape, seed):
    x = np.random.default_rng(seed).normal(size=shape)
    out, cache = dropout_forward(x, {"p": 0.3, "mode": "test", "seed": seed})
    assert np.array_equal(out, x) and out is not x
    dout = np.random.default_rng(seed + 1).normal(size=shape)
    assert np.array_equal(dropout_backward(dout, cache), dout)


def test_float32_stays_float32():
    x = np.ones((10, 10), dtype=np.float32)
    out, cache = dropout_forward(x, train(0.75, 0))
    assert out.dtype == np.float32
    assert set(np.unique(out).tolist()) <= {0.0, np.float32(1) / np.float32(0.75)}
    assert dropout_backward(np.ones_like(x), cache).dtype == np.float32


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.8, 0.95])
def test_scaling_agrees_with_torch_given_the_same_mask(keep):
    import torch
    F = torch.nn.functional
    x = np.abs(np.random.default_rng(0).normal(size=(60, 70))) + 1.0  # no zero entries
    gen = torch.Generator().manual_seed(0)
    mask_t = torch.bernoulli(torch.full(x.shape, keep, dtype=torch.float64), generator=gen)
    torch.manual_seed(1)
    theirs = F.dropout(torch.tensor(x), p=1 - keep, training=True).numpy()  # p = DROP probability
    mask = theirs != 0
    assert rel_error(x * mask / keep, theirs) < 1e-14
    assert abs(np.mean(~mask) - (1 - keep)) < 5 * np.sqrt(keep * (1 - keep) / x.size)
    # Our backward pass with torch's mask equals torch's gradient.
    xt = torch.tensor(x, requires_grad=True)
    dout = np.random.default_rng(2).normal(size=x.shape)
    out_t = xt * mask_t / keep
    out_t.backward(torch.tensor(dout))
    cache = ("train", mask_t.numpy() / keep)
    assert rel_error(dropout_backward(dout, cache), xt.grad.numpy()) < 1e-14
    evaluated = F.dropout(torch.tensor(x), p=1 - keep, training=False).numpy()
    assert np.array_equal(evaluated, dropout_forward(x, {"p": keep, "mode": "test"})[0])


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ({"p": 0.0, "mode": "train"},
         r"keep probability\) must be a finite number in \(0, 1\], got 0.0"),
        ({"p": -0.2, "mode": "train"}, "keep probability"),
        ({"p": 1.5, "mode": "train"}, "keep probability"),
        ({"p": float("nan"), "mode": "train"}, "keep probability"),
        ({"p": True, "mode": "train"}, "keep probability"),
        ({"p": "0.5", "mode": "train"}, "keep probability"),
        ({"p": 0.5, "mode": "eval"}, "'train' or 'test', got 'eval'"),
        ({"p": 0.5}, "keys 'p'"),
        ({"mode": "train"}, "keys 'p'"),
        ([0.5, "train"], "must be a dict"),
        ({"p": 0.5, "mode": "train", "seed": "abc"}, r"dropout_param\['seed'\] must be an integer"),
        ({"p": 0.5, "mode": "train", "seed": 1.5}, "seed"),
        ({"p": 0.5, "mode": "train", "seed": True}, "seed"),
    ],
)
def test_dropout_param_is_validated(param, message):
    with pytest.raises(ValueError, match=message):
        dropout_forward(np.ones(3), param)


def test_arrays_are_validated():
    with pytest.raises(TypeError, match="x must be a floating-point array"):
        dropout_forward(np.arange(3), train(0.5, 0))
    _, cache = dropout_forward(np.ones((2, 3)), train(0.5, 0))
    with pytest.raises(ValueError, match=r"output shape \(2, 3\), got \(3, 2\)"):
        dropout_backward(np.ones((3, 2)), cache)
    with pytest.raises(TypeError, match="dout must be a floating-point"):
        dropout_backward(np.ones((2, 3), dtype=int), cache)


@pytest.mark.parametrize(("param", "error"), [
    ({"p": "0.5", "mode": "train"}, TypeError), ({"p": 0.5, "mode": "train", "seed": 1.5},
                                                 TypeError),
    ([0.5, "train"], TypeError), ({"p": 1.5, "mode": "train"}, ValueError),
    ({"p": 0.5, "mode": "train", "seed": -1}, ValueError)])
def test_wrong_types_raise_type_errors_and_wrong_values_value_errors(param, error):
    with pytest.raises(error) as info:
        dropout_forward(np.ones(3), param)
    assert (error is TypeError) == isinstance(info.value, TypeError)


@pytest.mark.parametrize(("dtype", "p"), [(np.float16, 1e-9), (np.float32, 1e-45),
                                          (np.float64, 1e-320)])
def test_a_keep_probability_that_rounds_to_zero_is_rejected_not_nan(dtype, p):
    with pytest.raises(ValueError, match="too small for"):
        dropout_forward(np.ones(4, dtype=dtype), train(p, 0))
    # a small keep probability that the dtype can represent still works
    out, _ = dropout_forward(np.ones(10_000, dtype=dtype), train(0.01, 0))
    assert np.all(np.isfinite(out)) and np.any(out > 0)


def test_overflow_of_huge_finite_inputs_is_reported():
    x = np.full(50, np.finfo(np.float64).max / 2)
    with pytest.raises(ValueError, match="overflows"):
        dropout_forward(x, train(0.25, 0))
    assert np.all(np.isfinite(dropout_forward(x / 4, train(0.5, 0))[0]))


def test_the_caller_array_is_not_modified_and_values_are_not_scanned():
    x = np.array([1.0, np.nan, 2.0, np.inf])
    before = x.copy()
    out, cache = dropout_forward(x, train(1.0, 0))  # the layer does not scan the values
    assert np.array_equal(x, before, equal_nan=True)
    dropout_backward(np.ones(4), cache)
    assert np.array_equal(x, before, equal_nan=True)


# --- the dropout stage of FullyConnectedNet ---


def fixed_mask_loss(net, X, y, seed):
    net.dropout_rng = np.random.default_rng(seed)
    return net.loss(X, y)


@pytest.mark.parametrize(("activation", "p", "hidden"),
                         [("tanh", 0.6, [6, 5]), ("sigmoid", 0.3, [7]), ("tanh", 0.9, [4, 4, 3])])
def test_network_with_dropout_gradient_check(activation, p, hidden):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 4)), rng.integers(0, 3, size=5)
    net = FullyConnectedNet(hidden, 4, 3, activation=activation, reg=0.1, weight_scale=0.5,
                            seed=2, dropout=p)
    _, grads = fixed_mask_loss(net, X, y, 11)
    assert set(grads) == set(net.params)
    for name, param in net.params.items():
        numeric = numerical_gradient(lambda _: fixed_mask_loss(net, X, y, 11)[0], param)
        assert rel_error(grads[name], numeric) < 1e-7, name
    # The masks matter: another seed gives another loss.
    assert fixed_mask_loss(net, X, y, 12)[0] != fixed_mask_loss(net, X, y, 11)[0]


def test_network_with_dropout_has_the_same_weights_and_test_mode_is_plain():
    X = np.random.default_rng(1).normal(size=(6, 5))
    net = FullyConnectedNet([8, 8], 5, 3, seed=4, dropout=0.5)
    plain = FullyConnectedNet([8, 8], 5, 3, seed=4)
    assert net.options["dropout"] == 0.5 and plain.options["dropout"] is None
    assert net.params.keys() == plain.params.keys()  # dropout has no parameters
    assert all(np.array_equal(net.params[k], plain.params[k]) for k in plain.params)
    assert np.array_equal(net.loss(X), plain.loss(X))
    assert not hasattr(plain, "dropout_rng")


def test_network_masks_are_fresh_on_every_call_and_reproducible_from_the_seed():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(8, 5)), rng.integers(0, 3, size=8)
    a = FullyConnectedNet([20], 5, 3, seed=4, dropout=0.5)
    b = FullyConnectedNet([20], 5, 3, seed=4, dropout=0.5)
    c = FullyConnectedNet([20], 5, 3, seed=5, dropout=0.5)
    losses_a = [a.loss(X, y)[0] for _ in range(3)]
    assert len(set(losses_a)) == 3
    assert losses_a == [b.loss(X, y)[0] for _ in range(3)]
    c.params = {k: v.copy() for k, v in a.params.items()}  # same weights, other masks
    assert [c.loss(X, y)[0] for _ in range(3)] != losses_a


def test_keep_probability_one_is_the_plain_network():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(6, 5)), rng.integers(0, 3, size=6)
    net = FullyConnectedNet([8, 7], 5, 3, reg=0.2, seed=4, dropout=1.0)
    plain = FullyConnectedNet([8, 7], 5, 3, reg=0.2, seed=4)
    (loss_a, grads_a), (loss_b, grads_b) = net.loss(X, y), plain.loss(X, y)
    assert loss_a == loss_b and all(np.array_equal(grads_a[k], grads_b[k]) for k in grads_b)


def test_the_stage_drops_a_fraction_1_minus_p_of_the_hidden_units():
    net = FullyConnectedNet([10], 4, 3, seed=0, dropout=0.3)
    stage = FullyConnectedNet._stages["dropout"]
    assert isinstance(stage, DropoutStage) and stage.position == "post" and stage.default is None
    out, _ = stage.forward(net, 1, np.ones((200, 100)), "train")
    assert abs(np.mean(out == 0) - 0.7) < 5 * np.sqrt(0.21 / 20000)
    assert np.array_equal(stage.forward(net, 1, np.ones((3, 4)), "test")[0], np.ones((3, 4)))


@pytest.mark.parametrize("value", [0, 0.0, -0.5, 1.5, float("nan"), True, "0.5"])
def test_network_rejects_invalid_keep_probabilities(value):
    with pytest.raises(ValueError, match=r"dropout \(the keep probability p\) must be"):
        FullyConnectedNet([6], 4, 3, dropout=value)


def test_solver_runs_with_dropout_are_reproducible():
    rng = np.random.default_rng(4)
    data = {"X_train": rng.normal(size=(40, 5)), "y_train": rng.integers(0, 3, size=40),
            "X_val": rng.normal(size=(10, 5)), "y_val": rng.integers(0, 3, size=10)}

    def run(seed):
        net = FullyConnectedNet([16], 5, 3, weight_scale=0.3, seed=seed, dropout=0.5)
        return Solver(net, data, optim_config={"learning_rate": 0.1}, batch_size=10,
                      num_epochs=2, seed=0).train().loss_history

    assert run(1) == run(1)
    assert run(1) != run(2)
