"""Unit tests of dlcode.optim.sgd (the update-rule contract) and dlcode.optim.minibatch_indices."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from dlcode.optim import minibatch_indices, sgd

learning_rates = st.floats(1e-4, 10.0, allow_nan=False, allow_infinity=False)
seeds = st.integers(0, 2**32 - 1)


@given(array_shapes(min_dims=0, max_dims=4, max_side=5), learning_rates, seeds,
       st.integers(1, 6))
def test_sgd_matches_torch_sgd(shape, lr, seed, steps):
    import torch
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=shape)
    grads = [rng.normal(size=shape) for _ in range(steps)]
    param = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=lr)
    w, config = w0, {"learning_rate": lr}
    for dw in grads:
        param.grad = torch.tensor(dw, dtype=torch.float64)
        opt.step()
        w, config = sgd(w, dw, config)
        assert w.shape == shape and w.dtype == np.float64
        np.testing.assert_allclose(w, param.detach().numpy(), rtol=1e-12, atol=1e-12)


@given(array_shapes(min_dims=1, max_dims=3, max_side=6), learning_rates, seeds)
def test_sgd_never_modifies_its_inputs(shape, lr, seed):
    rng = np.random.default_rng(seed)
    w, dw = rng.normal(size=shape), rng.normal(size=shape)
    w_before, dw_before = w.copy(), dw.copy()
    config = {"learning_rate": lr, "note": [1, 2]}
    next_w, next_config = sgd(w, dw, config)
    assert np.array_equal(w, w_before) and np.array_equal(dw, dw_before)
    assert config == {"learning_rate": lr, "note": [1, 2]}
    assert next_config is not config and next_config == config
    assert not np.shares_memory(next_w, w) and not np.shares_memory(next_w, dw)
    np.testing.assert_array_equal(next_w, w - lr * dw)


def test_sgd_default_learning_rate():
    w, dw = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    for config in (None, {}):
        next_w, next_config = sgd(w, dw, config)
        assert next_config == {"learning_rate": 1e-2}
        np.testing.assert_array_equal(next_w, w - 1e-2 * dw)
    caller = {}
    sgd(w, dw, caller)
    assert caller == {}  # the default is filled into the returned copy only
    _, kept = sgd(w, dw, {"learning_rate": 0.5, "momentum": 0.9})
    assert kept == {"learning_rate": 0.5, "momentum": 0.9}


def test_sgd_keeps_the_parameter_dtype():
    w = np.ones((2, 3), dtype=np.float32)
    next_w, _ = sgd(w, np.ones((2, 3)), {"learning_rate": 0.25})
    assert next_w.dtype == np.float32
    np.testing.assert_array_equal(next_w, np.full((2, 3), 0.75, dtype=np.float32))


def test_sgd_accepts_a_numpy_learning_rate_and_scalars():
    next_w, _ = sgd(np.float64(2.0), np.float64(1.0), {"learning_rate": np.float32(0.5)})
    assert next_w.shape == () and next_w == 1.5


def test_sgd_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"w \(2, 3\) and dw \(3, 2\)"):
        sgd(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"w \(4,\) and dw \(1, 4\)"):
        sgd(np.zeros(4), np.zeros((1, 4)))  # broadcastable is not enough


@pytest.mark.parametrize("lr", [0, 0.0, -1e-3, math.nan, math.inf, -math.inf, "0.1", None, True,
                                1j, [0.1]])
def test_sgd_rejects_bad_learning_rates(lr):
    with pytest.raises(ValueError, match=r"config\['learning_rate'\] must be a positive finite"):
        sgd(np.zeros(3), np.zeros(3), {"learning_rate": lr})


@pytest.mark.parametrize("w, dw, name", [
    (np.zeros(3, dtype=int), np.zeros(3), "w"),
    (np.zeros(3), np.zeros(3, dtype=bool), "dw"),
    (np.zeros(3), np.zeros(3, dtype=complex), "dw"),
    (np.array(["a", "b"]), np.zeros(2), "w"),
])
def test_sgd_rejects_non_float_arrays(w, dw, name):
    with pytest.raises(ValueError, match=rf"^{name} must be a floating-point array"):
        sgd(w, dw)


@pytest.mark.parametrize("config", [[("learning_rate", 0.1)], "lr", 0.1])
def test_sgd_rejects_a_config_that_is_not_a_dict(config):
    with pytest.raises(ValueError, match="config must be a dict or None"):
        sgd(np.zeros(2), np.zeros(2), config)


@given(st.integers(1, 300), st.integers(1, 80), seeds, st.booleans())
def test_minibatch_indices_cover_every_index_once(n, batch_size, seed, shuffle):
    batches = list(minibatch_indices(n, batch_size, seed=seed, shuffle=shuffle))
    assert len(batches) == math.ceil(n / batch_size)
    sizes = [len(b) for b in batches]
    assert all(s == batch_size for s in sizes[:-1]) and 1 <= sizes[-1] <= batch_size
    assert sum(sizes) == n
    everything = np.concatenate(batches)
    assert np.issubdtype(everything.dtype, np.integer)
    np.testing.assert_array_equal(np.sort(everything), np.arange(n))
    if not shuffle:
        np.testing.assert_array_equal(everything, np.arange(n))


@given(st.integers(2, 200), st.integers(1, 50), seeds)
def test_minibatch_indices_are_reproducible(n, batch_size, seed):
    first = np.concatenate(list(minibatch_indices(n, batch_size, seed=seed)))
    again = np.concatenate(list(minibatch_indices(n, batch_size, seed=seed)))
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, np.random.default_rng(seed).permutation(n))


def test_minibatch_indices_shuffle_and_epochs():
    n = 50
    a = np.concatenate(list(minibatch_indices(n, 7, seed=0)))
    b = np.concatenate(list(minibatch_indices(n, 7, seed=1)))
    assert not np.array_equal(a, b) and not np.array_equal(a, np.arange(n))
    rng = np.random.default_rng(3)  # one stream: a fresh order every epoch
    e1 = np.concatenate(list(minibatch_indices(n, 7, seed=rng)))
    e2 = np.concatenate(list(minibatch_indices(n, 7, seed=rng)))
    assert not np.array_equal(e1, e2)
    np.testing.assert_array_equal(np.sort(e1), np.sort(e2))
    [single] = list(minibatch_indices(5, 100, seed=0))  # batch larger than n: one batch
    np.testing.assert_array_equal(np.sort(single), np.arange(5))


def test_minibatch_positions_are_uniform():
    # Each index lands in the first batch with probability batch_size / n.
    rng = np.random.default_rng(0)
    hits = np.zeros(10)
    for _ in range(4000):
        hits[next(minibatch_indices(10, 3, seed=rng))] += 1
    np.testing.assert_allclose(hits / 4000, 0.3, atol=0.04)


@pytest.mark.parametrize("n, batch_size, match", [
    (0, 4, r"n must be an integer in \[1, inf\], got 0"),
    (-3, 4, r"n must be an integer in \[1, inf\]"),
    (2.5, 4, "n must be an integer, got 2.5"),
    (True, 4, "n must be an integer, got True"),
    (10, 0, r"batch_size must be an integer in \[1, inf\]"),
    (10, 2.0, "batch_size must be an integer"),
    (10, None, "batch_size must be an integer"),
])
def test_minibatch_indices_validates_eagerly(n, batch_size, match):
    with pytest.raises(ValueError, match=match):
        minibatch_indices(n, batch_size)  # raised by the call, before iteration


def test_minibatch_indices_validates_shuffle():
    with pytest.raises(ValueError, match="shuffle must be True or False"):
        minibatch_indices(10, 2, shuffle="yes")


@pytest.mark.parametrize("seed", ["x", 1.5, -1, [0]])
def test_minibatch_indices_validates_the_seed(seed):
    with pytest.raises(ValueError, match="^seed must be"):
        minibatch_indices(10, 3, seed=seed)


def test_minibatch_indices_accepts_numpy_integers():
    batches = list(minibatch_indices(np.int64(6), np.int32(4), shuffle=False))
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5]]
