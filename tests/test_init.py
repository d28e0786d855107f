"""Unit tests of dlcode.init: Xavier (normal, uniform) and He initialization."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from dlcode.init import he_normal, xavier_normal, xavier_uniform
from dlcode.models import FullyConnectedNet

SCHEMES = [xavier_normal, xavier_uniform, he_normal]


def variance(fn, n_in, n_out):
    """The variance each scheme promises."""
    return 2 / n_in if fn is he_normal else 2 / (n_in + n_out)


# --- shapes, types, reproducibility -------------------------------------------------------------

@pytest.mark.parametrize("fn", SCHEMES)
@given(n_in=st.integers(1, 40), n_out=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_shape_dtype_and_finite(fn, n_in, n_out, seed):
    W = fn(n_in, n_out, rng=seed)
    assert W.shape == (n_in, n_out) and W.dtype == np.float64
    assert np.all(np.isfinite(W))
    if fn is xavier_uniform:
        assert np.all(np.abs(W) <= math.sqrt(6 / (n_in + n_out)))


@pytest.mark.parametrize("fn", SCHEMES)
def test_seeds_and_generators(fn):
    W = fn(30, 20, rng=5)
    np.testing.assert_array_equal(W, fn(30, 20, rng=5))
    np.testing.assert_array_equal(W, fn(30, 20, rng=np.int64(5)))
    np.testing.assert_array_equal(W, fn(30, 20, rng=np.random.default_rng(5)))
    assert not np.array_equal(W, fn(30, 20, rng=6))
    shared = np.random.default_rng(5)
    first, second = fn(30, 20, rng=shared), fn(30, 20, rng=shared)
    np.testing.assert_array_equal(first, W)  # a generator is used as is ...
    assert not np.array_equal(first, second)  # ... and advanced
    assert fn(np.int32(3), np.int64(4)).shape == (3, 4)  # rng=None: fresh entropy
    assert not np.array_equal(fn(50, 50), fn(50, 50))


def test_formulas_are_exact_scalings_of_the_generator_stream():
    n_in, n_out = 37, 91
    z = np.random.default_rng(11).standard_normal((n_in, n_out))
    np.testing.assert_allclose(xavier_normal(n_in, n_out, rng=11),
                               math.sqrt(2 / (n_in + n_out)) * z, rtol=1e-15, atol=0)
    np.testing.assert_allclose(he_normal(n_in, n_out, rng=11), math.sqrt(2 / n_in) * z,
                               rtol=1e-15, atol=0)
    r = math.sqrt(6 / (n_in + n_out))
    np.testing.assert_array_equal(xavier_uniform(n_in, n_out, rng=11),
                                  np.random.default_rng(11).uniform(-r, r, size=(n_in, n_out)))


# --- the distributions: Monte Carlo on large matrices -------------------------------------------

@pytest.mark.parametrize("fn", SCHEMES)
@pytest.mark.parametrize(("n_in", "n_out"), [(1000, 3000), (3000, 1000)])
def test_empirical_mean_and_variance(fn, n_in, n_out):
    W = fn(n_in, n_out, rng=1)
    target = variance(fn, n_in, n_out)
    # 3e6 samples: the standard error of the sample variance is about 0.08% (normal), the
    # standard error of the mean sqrt(target / 3e6); 1% and 5 standard errors are safe.
    assert abs(W.var() / target - 1) < 0.01
    assert abs(W.mean()) < 5 * math.sqrt(target / W.size)
    # every column (unit) gets the same variance, not just the whole matrix
    per_unit = W.var(axis=0)
    assert abs(per_unit.mean() / target - 1) < 0.01


def test_uniform_bound_and_shape_of_distribution():
    n_in, n_out = 400, 600
    r = math.sqrt(6 / (n_in + n_out))
    W = xavier_uniform(n_in, n_out, rng=2)
    assert np.abs(W).max() <= r and np.abs(W).max() > 0.999 * r
    assert abs(W.var() / (r**2 / 3) - 1) < 0.01
    assert stats.kstest(W.ravel(), stats.uniform(loc=-r, scale=2 * r).cdf).pvalue > 1e-3
    # the variance alone would not catch a normal with the right variance
    assert stats.kstest(xavier_normal(n_in, n_out, rng=2).ravel(),
                        stats.uniform(loc=-r, scale=2 * r).cdf).pvalue < 1e-6


@pytest.mark.parametrize("fn", [xavier_normal, he_normal])
def test_normal_schemes_are_normal(fn):
    n_in, n_out = 300, 700
    W = fn(n_in, n_out, rng=3)
    std = math.sqrt(variance(fn, n_in, n_out))
    assert stats.kstest(W.ravel(), stats.norm(scale=std).cdf).pvalue > 1e-3
    assert stats.kstest(W.ravel(), stats.norm(scale=1.1 * std).cdf).pvalue < 1e-6


# --- agreement with PyTorch's definitions --------------------------------------------------------

@pytest.mark.parametrize(("n_in", "n_out"), [(200, 800), (800, 200)])
def test_agreement_with_torch(n_in, n_out):
    import torch
    init = torch.nn.init
    # PyTorch stores a Linear weight as (out, in), the transpose of our (in, out) layout, and
    # computes fan_in from its second axis, fan_out from its first.
    layout = torch.empty(n_out, n_in, dtype=torch.float64)
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(layout)
    assert (fan_in, fan_out) == (n_in, n_out)
    assert xavier_normal(n_in, n_out, rng=0).shape == tuple(reversed(layout.shape))

    # the formulas: standard deviations and bound of torch, applied to one standard stream
    z = np.random.default_rng(4).standard_normal((n_in, n_out))
    std_xavier = init.calculate_gain("linear") * math.sqrt(2.0 / (fan_in + fan_out))
    std_he = init.calculate_gain("relu") / math.sqrt(fan_in)
    np.testing.assert_allclose(xavier_normal(n_in, n_out, rng=4), std_xavier * z, rtol=1e-14)
    np.testing.assert_allclose(he_normal(n_in, n_out, rng=4), std_he * z, rtol=1e-14)
    bound = init.calculate_gain("linear") * math.sqrt(6.0 / (fan_in + fan_out))
    np.testing.assert_array_equal(
        xavier_uniform(n_in, n_out, rng=4),
        np.random.default_rng(4).uniform(-bound, bound, size=(n_in, n_out)))

    # torch's functions themselves: the same variances and bound (different random streams)
    gen = torch.Generator().manual_seed(0)
    for torch_fn, ours, kwargs in (
        (init.xavier_normal_, xavier_normal, {}),
        (init.xavier_uniform_, xavier_uniform, {}),
        (init.kaiming_normal_, he_normal, {"mode": "fan_in", "nonlinearity": "relu"}),
    ):
        theirs = torch_fn(torch.empty(n_out, n_in, dtype=torch.float64), generator=gen,
                          **kwargs).numpy()
        mine = ours(n_in, n_out, rng=5)
        assert abs(theirs.var() / mine.var() - 1) < 0.03, torch_fn.__name__
        assert abs(mine.var() / variance(ours, n_in, n_out) - 1) < 0.02
    theirs = init.xavier_uniform_(torch.empty(n_out, n_in, dtype=torch.float64),
                                  generator=gen).numpy()
    assert np.abs(theirs).max() <= bound and np.abs(theirs).max() > 0.999 * bound
    # He uses the fan-in: torch's fan_out mode gives a variance 4 times different here
    fan_out_mode = init.kaiming_normal_(torch.empty(n_out, n_in, dtype=torch.float64),
                                        mode="fan_out", nonlinearity="relu", generator=gen).numpy()
    assert abs(fan_out_mode.var() / (2 / n_out) - 1) < 0.03
    assert abs(he_normal(n_in, n_out, rng=6).var() / fan_out_mode.var() - n_out / n_in) < 0.1


# --- use by FullyConnectedNet ---------------------------------------------------------------------

@pytest.mark.parametrize(("name", "fn"), [
    ("xavier", xavier_normal), ("xavier_normal", xavier_normal), ("xavier_uniform", xavier_uniform),
    ("he", he_normal), ("he_normal", he_normal),
])
def test_fully_connected_net_uses_the_schemes(name, fn):
    dims = [(64, 100), (100, 50), (50, 10)]
    model = FullyConnectedNet([100, 50], input_dim=64, num_classes=10, weight_scale=name, seed=3)
    reference = np.random.default_rng(3)
    for k, (n_in, n_out) in enumerate(dims, start=1):
        np.testing.assert_array_equal(model.params[f"W{k}"], fn(n_in, n_out, rng=reference))
        np.testing.assert_array_equal(model.params[f"b{k}"], np.zeros(n_out))


def test_fully_connected_net_scheme_dtype_and_unknown_names():
    model = FullyConnectedNet([30], input_dim=20, num_classes=5, weight_scale="he",
                              dtype=np.float32, seed=0)
    assert model.params["W1"].dtype == np.float32
    np.testing.assert_allclose(model.params["W1"], he_normal(20, 30, rng=np.random.default_rng(0)),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="names no initialization scheme"):
        FullyConnectedNet([3], 2, 4, weight_scale="he_uniform")


def test_he_keeps_relu_pre_activation_variance():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((256, 256))
    a = x @ he_normal(256, 256, rng=rng)
    q = [np.mean(a**2)]
    for _ in range(8):
        a = np.maximum(a, 0) @ he_normal(256, 256, rng=rng)
        q.append(np.mean(a**2))
    q = np.array(q)
    assert abs(q[0] - 2) < 0.1  # the input is not rectified: n * (2 / n) * E[x^2]
    assert np.all(np.abs(q / q[0] - 1) < 0.5)


# --- input validation ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn", SCHEMES)
@pytest.mark.parametrize("bad", [0, -1, 2.5, "3", True, None, np.float64(3.0), np.bool_(True)])
def test_invalid_sizes(fn, bad):
    with pytest.raises(ValueError, match=r"n_in must be an integer"):
        fn(bad, 4)
    with pytest.raises(ValueError, match=r"n_out must be an integer"):
        fn(4, bad)


@pytest.mark.parametrize("fn", SCHEMES)
@pytest.mark.parametrize("bad", ["seed", -1, 1.5, True, np.random.RandomState(0)])
def test_invalid_rng(fn, bad):
    with pytest.raises(ValueError, match="rng must be an integer"):
        fn(3, 4, rng=bad)
