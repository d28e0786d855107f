"""Tests of dlcode.nn: parameter counts, the forward pass and the collapse of linear layers."""

from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlcode.activations import relu, tanh
from dlcode.nn import collapse_affine, count_parameters, mlp_forward

layer_sizes = st.lists(st.integers(1, 12), min_size=2, max_size=6)


def random_layers(sizes, seed):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=(a, b)) for a, b in pairwise(sizes)]
    biases = [rng.normal(size=b) for b in sizes[1:]]
    return weights, biases


def identity(a):
    return a


# ---------------------------------------------------------------- count_parameters


def test_count_parameters_known_values():
    assert count_parameters([3072, 100, 10]) == 308_310
    assert count_parameters((3072, 10)) == 30_730
    assert count_parameters(np.array([2, 2, 1])) == 9
    assert isinstance(count_parameters([np.int64(4), 3]), int)


@given(layer_sizes)
def test_count_parameters_matches_arrays_and_torch(sizes):
    weights, biases = random_layers(sizes, seed=0)
    allocated = sum(W.size + b.size for W, b in zip(weights, biases, strict=True))
    assert count_parameters(sizes) == allocated
    import torch
    layers = []
    for a, b in pairwise(sizes):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    assert count_parameters(sizes) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ([], r"at least two widths"),
        ([7], r"at least two widths"),
        (5, r"at least two widths"),
        ("32", r"at least two widths"),
        ([3, 0], r"layer_sizes\[1\] must be a positive integer, got 0"),
        ([3, -2, 4], r"layer_sizes\[1\] must be a positive integer, got -2"),
        ([3, 2.5], r"layer_sizes\[1\] must be a positive integer, got 2.5"),
        ([True, 3], r"layer_sizes\[0\] must be a positive integer, got True"),
    ],
)
def test_count_parameters_errors(sizes, message):
    with pytest.raises(ValueError, match=message):
        count_parameters(sizes)


# ---------------------------------------------------------------- mlp_forward


@given(layer_sizes, st.integers(1, 5), st.sampled_from(["relu", "tanh", "identity"]))
def test_mlp_forward_matches_torch(sizes, m, activation):
    import torch
    weights, biases = random_layers(sizes, seed=len(sizes))
    X = np.random.default_rng(1).normal(size=(m, sizes[0]))
    ours = {"relu": relu, "tanh": tanh, "identity": identity}[activation]
    nn = torch.nn
    module = {"relu": nn.ReLU, "tanh": nn.Tanh, "identity": nn.Identity}[activation]
    layers = []
    for W, b in zip(weights, biases, strict=True):
        linear = torch.nn.Linear(*W.shape, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(W.T))
            linear.bias.copy_(torch.tensor(b))
        layers += [linear, module()]
    model = torch.nn.Sequential(*layers[:-1])
    Z, hidden = mlp_forward(X, weights, biases, ours)
    with torch.no_grad():
        expected = model(torch.tensor(X)).numpy()
        h_torch = torch.tensor(X)
        for k, layer in enumerate(layers[:-1]):
            h_torch = layer(h_torch)
            if k % 2 == 1:  # after an activation: a hidden layer
                assert np.allclose(hidden[k // 2], h_torch.numpy(), rtol=1e-12, atol=1e-12)
    assert Z.shape == (m, sizes[-1]) and len(hidden) == len(sizes) - 2
    assert np.allclose(Z, expected, rtol=1e-12, atol=1e-12)


def test_mlp_forward_matches_sklearn():
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    net = MLPRegressor(hidden_layer_sizes=(5, 4), activation="tanh", random_state=0)
    net.partial_fit(X, y)
    Z, hidden = mlp_forward(X, net.coefs_, net.intercepts_, tanh)
    assert np.allclose(Z, net.predict(X), rtol=1e-12, atol=1e-12)
    assert [H.shape for H in hidden] == [(40, 5), (40, 4)]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mlp_forward_matches_sklearn_classifier_probabilities():
    """Two classes: one score z and P(class 1) = sigma(z); more classes: softmax(z)."""
    from sklearn.neural_network import MLPClassifier

    from dlcode.losses import sigmoid, softmax

    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 2))
    for n_classes in (2, 3):
        y = np.arange(60) % n_classes
        net = MLPClassifier((4, 3), activation="tanh", solver="lbfgs", max_iter=50,
                            random_state=0).fit(X, y)
        Z, _ = mlp_forward(X, net.coefs_, net.intercepts_, np.tanh)
        if n_classes == 2:
            proba = np.column_stack([sigmoid(-Z[:, 0]), sigmoid(Z[:, 0])])
        else:
            proba = softmax(Z)
        assert np.allclose(proba, net.predict_proba(X), rtol=1e-10, atol=1e-12)


def test_mlp_forward_is_the_definition_one_example_at_a_time():
    """Equation (eq-network) for one column x at a time, with W_i = weights[i].T."""
    weights, biases = random_layers([5, 7, 4, 3], seed=5)
    X = np.random.default_rng(6).normal(size=(6, 5))
    Z, hidden = mlp_forward(X, weights, biases, np.tanh)
    for x, z in zip(X, Z, strict=True):
        h = x
        for W, b in zip(weights[:-1], biases[:-1], strict=True):
            h = np.tanh(W.T @ h + b)
        assert np.allclose(z, weights[-1].T @ h + biases[-1], rtol=1e-13, atol=1e-13)
    assert [H.shape[1] for H in hidden] == [7, 4]


def test_single_layer_is_linear():
    weights, biases = random_layers([4, 3], seed=2)
    X = np.ones((2, 4))
    Z, hidden = mlp_forward(X, weights, biases, relu)
    assert hidden == [] and np.allclose(Z, X @ weights[0] + biases[0])


# ---------------------------------------------------------------- collapse_affine


@given(layer_sizes, st.integers(0, 1000))
def test_collapse_matches_linear_forward_and_rank_bound(sizes, seed):
    weights, biases = random_layers(sizes, seed)
    X = np.random.default_rng(seed + 1).normal(size=(7, sizes[0]))
    W, b = collapse_affine(weights, biases)
    Z, _ = mlp_forward(X, weights, biases, identity)
    assert W.shape == (sizes[0], sizes[-1]) and b.shape == (sizes[-1],)
    assert np.allclose(X @ W + b, Z, rtol=1e-10, atol=1e-10 * (1 + np.abs(Z).max()))
    assert np.linalg.matrix_rank(W) <= min(sizes)


def test_collapse_bias_formula():
    # b~ = sum_i (W_N ... W_{i+1}) b_i in mathematical layout, for N = 3
    weights, biases = random_layers([3, 5, 2, 4], seed=4)
    W1, W2, W3 = (W.T for W in weights)
    b1, b2, b3 = biases
    _, b = collapse_affine(weights, biases)
    assert np.allclose(b, W3 @ W2 @ b1 + W3 @ b2 + b3, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("function", ["mlp_forward", "collapse_affine"])
def test_layer_shape_errors(function):
    call = {
        "mlp_forward": lambda W, b: mlp_forward(np.zeros((2, 3)), W, b, relu),
        "collapse_affine": collapse_affine,
    }[function]
    W1, W2 = np.zeros((3, 4)), np.zeros((4, 2))
    with pytest.raises(ValueError, match="one bias per weight matrix"):
        call([W1, W2], [np.zeros(4)])
    with pytest.raises(ValueError, match="at least one layer"):
        call([], [])
    with pytest.raises(ValueError, match="lists of arrays"):
        call(W1, np.zeros(4))
    with pytest.raises(ValueError, match=r"biases\[1\] must have shape \(2,\).*got \(3,\)"):
        call([W1, W2], [np.zeros(4), np.zeros(3)])
    with pytest.raises(ValueError, match=r"weights\[1\] of shape \(5, 2\) does not fit"):
        call([W1, np.zeros((5, 2))], [np.zeros(4), np.zeros(2)])
    with pytest.raises(ValueError, match=r"weights\[0\] must be 2-D"):
        call([np.zeros(3)], [np.zeros(3)])


def test_mlp_forward_input_shape_error():
    weights, biases = random_layers([3, 2], seed=0)
    with pytest.raises(ValueError, match=r"X must have shape \(m, 3\).*got \(2, 4\)"):
        mlp_forward(np.zeros((2, 4)), weights, biases, relu)
    with pytest.raises(ValueError, match=r"X must have shape \(m, 3\).*got \(3,\)"):
        mlp_forward(np.zeros(3), weights, biases, relu)
