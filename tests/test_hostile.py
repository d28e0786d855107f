"""Hostile calls to the public API of chapters 1-10: a clear error or a documented result.

Each row: (id, call, expected exception type, words the message must contain). A wrong
type raises TypeError, a wrong value ValueError (``ArgumentTypeError`` is both), and the
message names the argument. No call may mutate its input.
"""

import os
import pickle

import numpy as np
import pytest

from dlcode import data, gradcheck, knn, layers, linear, losses, models, nn, solver
from dlcode.activations import relu

X4 = np.arange(12.0).reshape(4, 3)
Y4 = np.array([0, 1, 0, 1])
C = 1j * np.ones((2, 2))


def _solver():
    model = models.FullyConnectedNet([4], 3, 2, seed=0)
    return solver.Solver(model, {"X_train": X4, "y_train": Y4, "X_val": X4, "y_val": Y4},
                         num_epochs=1)


CASES = [
    # chapter 1: gradient checking
    ("numgrad-f-None", lambda: gradcheck.numerical_gradient(lambda x: None, np.ones(2)),
     TypeError, ["f must return a real"]),
    ("numgrad-f-nan", lambda: gradcheck.numerical_gradient(lambda x: np.nan, np.ones(2)),
     ValueError, ["f returned NaN"]),
    ("numgrad-f-not-callable", lambda: gradcheck.numerical_gradient(3, np.ones(2)),
     TypeError, ["f must be callable"]),
    ("numgrad-array-complex-dout",
     lambda: gradcheck.numerical_gradient_array(lambda x: x, np.ones(2), C[0]),
     TypeError, ["dout", "real"]),
    ("rel_error-complex", lambda: gradcheck.rel_error(np.array([1j]), np.array([2j])),
     TypeError, ["a must be a real"]),
    # chapter 2: data
    ("sine-seed-negative", lambda: data.make_noisy_sine(5, seed=-1), ValueError, ["seed"]),
    ("sine-seed-float", lambda: data.make_noisy_sine(5, seed=1.5), TypeError, ["seed"]),
    ("sine-noise-nan", lambda: data.make_noisy_sine(5, noise=np.nan), ValueError, ["noise"]),
    ("xor-noise-inf", lambda: data.make_xor(5, noise=np.inf), ValueError, ["noise"]),
    ("spirals-noise-nan", lambda: data.make_spirals(5, noise=np.nan), ValueError, ["noise"]),
    ("split-nan-labels", lambda: data.stratified_split(np.array([0, 1, np.nan]), (0.5, 0.5)),
     TypeError, ["y must hold integer labels"]),
    ("split-empty", lambda: data.stratified_split(np.array([], int), (0.5, 0.5)),
     ValueError, ["y must be 1-D and non-empty"]),
    ("split-fractions-str", lambda: data.stratified_split(np.array([0, 1]), "ab"),
     TypeError, ["fractions"]),
    ("split-seed", lambda: data.stratified_split(np.array([0, 1]), (0.5, 0.5), seed="a"),
     TypeError, ["seed"]),
    ("digits-val-str", lambda: data.load_digits(val_fraction="a"), TypeError,
     ["val_fraction"]),
    # chapter 3: k-nearest neighbours
    ("knn-complex", lambda: knn.pairwise_distances(C, np.ones((2, 2))), TypeError,
     ["A must be a real"]),
    ("knn-string", lambda: knn.pairwise_distances(np.array([["a"]]), np.ones((1, 1))),
     TypeError, ["A must be a real"]),
    ("knn-nan", lambda: knn.pairwise_distances(np.ones((1, 1)), np.full((1, 1), np.nan)),
     ValueError, ["B contains NaN"]),
    ("knn-fit-float-labels", lambda: knn.KNearestNeighbor().fit(X4, Y4 + 0.5), ValueError,
     ["y must be a 1-D array of integer"]),
    ("knn-vote-seed", lambda: knn.plurality_vote(np.array([[0, 1]]), seed=-2), ValueError,
     ["seed"]),
    # chapter 4: losses, linear classifiers, data
    ("logsumexp-inf", lambda: losses.logsumexp([np.inf, 0]), ValueError,
     ["z contains NaN or infinite"]),
    ("softmax-inf", lambda: losses.softmax([np.inf, 0]), ValueError,
     ["z contains NaN or infinite"]),
    ("linear-complex", lambda: linear.linear_scores(C, np.ones((2, 3)), np.ones(3)),
     TypeError, ["X must be a real"]),
    ("train-y_val-length",
     lambda: linear.train_softmax_classifier(X4, Y4, epochs=1, X_val=X4, y_val=Y4[:3]),
     ValueError, ["y_val must have shape (4,)"]),
    ("train-float-labels", lambda: linear.train_softmax_classifier(X4, Y4 + 0.5, epochs=1),
     TypeError, ["y must hold integer labels"]),
    ("train-labels-range",
     lambda: linear.train_softmax_classifier(X4, Y4 + 5, num_classes=2, epochs=1),
     ValueError, ["y must lie in [0, 2)"]),
    ("train-y_val-range",
     lambda: linear.train_softmax_classifier(X4, Y4, epochs=1, X_val=X4, y_val=Y4 + 2),
     ValueError, ["y_val must lie in [0, 2)"]),
    ("train-lr-inf", lambda: linear.train_softmax_classifier(X4, Y4, lr=np.inf, epochs=1),
     ValueError, ["lr"]),
    ("train-empty", lambda: linear.train_softmax_classifier(X4[:0], Y4[:0], epochs=1),
     ValueError, ["X must be (N, D) with N >= 1"]),
    ("train-seed", lambda: linear.train_softmax_classifier(X4, Y4, epochs=1, seed=-1),
     ValueError, ["seed"]),
    ("cifar-dtype-int", lambda: data.load_cifar10("/nonexistent", dtype=int), ValueError,
     ["dtype must be a floating-point"]),
    ("cifar-dtype-garbage", lambda: data.load_cifar10("/nonexistent", dtype="foo"),
     TypeError, ["dtype"]),
    ("cifar-flatten-str", lambda: data.load_cifar10("/nonexistent", flatten="yes"),
     TypeError, ["flatten"]),
    # chapter 6: networks and activations
    ("mlp-complex", lambda: nn.mlp_forward(C, [np.ones((2, 2))], [np.ones(2)], np.tanh),
     TypeError, ["X must be a real"]),
    ("mlp-activation-None",
     lambda: nn.mlp_forward(np.ones((2, 2)), [np.ones((2, 2))] * 2, [np.ones(2)] * 2, None),
     TypeError, ["activation must be callable"]),
    ("collapse-complex", lambda: nn.collapse_affine([C], [np.ones(2)]), TypeError,
     ["weights[0] must be a real"]),
    ("relu-complex", lambda: relu(C), TypeError, ["x must be a real"]),
    # chapters 7 and 9: layers, model, solver
    ("affine-int", lambda: layers.affine_forward(np.ones((2, 2), int), np.ones((2, 2)),
                                                 np.ones(2)), TypeError, ["x must be a"]),
    ("relu-backward-garbage-cache", lambda: layers.relu_backward(np.ones(2), "x"),
     TypeError, ["cache must be"]),
    ("affine-backward-garbage-cache", lambda: layers.affine_backward(np.ones((2, 2)), (1,)),
     TypeError, ["cache must be"]),
    ("bn-overflow", lambda: layers.batchnorm_forward(np.array([[1e200], [-1e200]]),
                                                     np.ones(1), np.zeros(1),
                                                     {"mode": "train"}),
     ValueError, ["variance of x overflows"]),
    ("bn-garbage-cache", lambda: layers.batchnorm_backward(np.ones((2, 2)), ("a", 1)),
     TypeError, ["cache must be"]),
    ("bn-param-not-dict", lambda: layers.batchnorm_forward(np.ones((2, 2)), np.ones(2),
                                                           np.zeros(2), ["train"]),
     TypeError, ["bn_param must be a dict"]),
    ("model-complex", lambda: models.FullyConnectedNet([4], 3, 2, seed=0).loss(X4 * 1j, Y4),
     TypeError, ["X must be a real"]),
    ("model-nan", lambda: models.FullyConnectedNet([4], 3, 2, seed=0).loss(X4 * np.nan, Y4),
     ValueError, ["X contains NaN"]),
    ("model-float32-overflow",
     lambda: models.FullyConnectedNet([4], 3, 2, seed=0, dtype=np.float32).loss(X4 * 1e300),
     ValueError, ["X contains NaN or infinite"]),
    ("accuracy-str-labels", lambda: _solver().check_accuracy(X4, np.array(["a"] * 4)),
     TypeError, ["y must hold integer labels"]),
    ("accuracy-float-labels", lambda: _solver().check_accuracy(X4, Y4 + 0.0), TypeError,
     ["y must hold integer labels"]),
    ("accuracy-empty", lambda: _solver().check_accuracy(X4[:0], Y4[:0]), ValueError,
     ["N >= 1"]),
]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize(("call", "error", "words"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_hostile_call_raises_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


# --- documented results instead of errors ---------------------------------------------------

def test_knn_huge_rows_are_exact():
    A = np.array([[1e160, 1e160], [-1e160, -1e160]])
    D = knn.pairwise_distances(A, A)
    assert D[0, 0] == 0 and D[1, 1] == 0
    assert D[0, 1] == pytest.approx(2e160 * np.sqrt(2), rel=1e-15)
    model = knn.KNearestNeighbor().fit(A, np.array([0, 1]))
    assert model.predict(A[::-1]).tolist() == [1, 0]


def test_knn_tiny_rows_are_not_zero():
    A = np.array([[1e-170], [2e-170]])
    assert knn.pairwise_distances(A, A)[0, 1] == pytest.approx(1e-170, rel=1e-15)


@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_knn_zero_features(metric):
    assert np.array_equal(knn.pairwise_distances(np.zeros((2, 0)), np.zeros((3, 0)), metric),
                          np.zeros((2, 3)))


def test_rel_error_of_opposite_huge_values_is_one():
    assert gradcheck.rel_error(1e308, -1e308) == 1.0


def test_layers_pass_nan_through():
    out, _ = layers.relu_forward(np.array([np.nan, 1.0]))
    assert np.isnan(out[0]) and out[1] == 1.0


def test_cifar_garbage_file_names_the_file(tmp_path):
    for name in data.CIFAR10_FILES:
        (tmp_path / name).write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="data_batch_1 is not a readable CIFAR-10"):
        data.load_cifar10(tmp_path)


class _Exploit:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return os.system, (f"touch {self.target}",)


def test_cifar_malicious_pickle_runs_no_code(tmp_path):
    folder, target = tmp_path / "cifar", tmp_path / "pwned"
    folder.mkdir()
    for name in data.CIFAR10_FILES:
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": _Exploit(target), b"labels": [0]}, f, protocol=2)
    with pytest.raises(ValueError, match="data_batch_1 is not a readable CIFAR-10") as info:
        data.load_cifar10(folder)
    assert "system" in str(info.value)
    assert not target.exists()


def test_no_input_is_mutated():
    X, y = X4.copy(), Y4.copy()
    linear.train_softmax_classifier(X, y, epochs=1)
    knn.KNearestNeighbor().fit(X, y).predict(X)
    layers.batchnorm_forward(X, np.ones(3), np.zeros(3), {"mode": "train"})
    assert np.array_equal(X, X4) and np.array_equal(y, Y4)
