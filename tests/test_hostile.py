"""Hostile calls to the public API of chapters 1-10: a clear error or a documented result.

Each row: (id, call, expected exception type, words the message must contain). A wrong
type raises TypeError, a wrong value ValueError (``ArgumentTypeError`` is both), and the
message names the argument. No call may mutate its input.
"""

import os
import pickle

import numpy as np
import pytest

from dlcode import (
    data,
    gradcheck,
    init,
    knn,
    layers,
    linear,
    losses,
    model_selection,
    models,
    nn,
    regression,
    regularization,
    solver,
    stats,
)
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
    # chapter 2: regression
    ("mse-complex", lambda: regression.mean_squared_error(C, C), TypeError,
     ["y_true must be an array of real numbers"]),
    ("mse-bool", lambda: regression.mean_squared_error([True], [False]), TypeError,
     ["y_true must be an array of real numbers"]),
    ("mse-string", lambda: regression.mean_squared_error(["a"], ["b"]), TypeError,
     ["y_true"]),
    ("features-degree-float", lambda: regression.polynomial_features([1.0], 2.0), TypeError,
     ["degree must be a non-negative integer"]),
    ("features-degree-str", lambda: regression.polynomial_features([1.0], "2"), TypeError,
     ["degree"]),
    ("lstsq-reg-str", lambda: regression.fit_least_squares(np.eye(2), [1, 2], reg="a"),
     TypeError, ["reg must be"]),
    ("lstsq-reg-bool", lambda: regression.fit_least_squares(np.eye(2), [1, 2], reg=True),
     TypeError, ["reg must be"]),
    ("lstsq-coef-overflow",
     lambda: regression.fit_least_squares(1e-10 * np.eye(2), [1e308, 1e308]), ValueError,
     ["coefficients overflow float64"]),
    ("poly-eval-overflow",
     lambda: regression.fit_predict_polynomial([0, 1], [0, 1], [1e300], 3), ValueError,
     ["x_eval lies too far outside", "prediction overflows"]),
    ("poly-eval-scaled-overflow",
     lambda: regression.fit_predict_polynomial([-1.7e308, -1.6e308], [0, 1], [1.7e308],
                                               1), ValueError,
     ["x_eval lies too far outside", "scaled input overflows"]),
    # chapter 2: statistics
    ("wilson-z-nan", lambda: stats.wilson_interval(1, 2, z=np.nan), ValueError, ["z must"]),
    ("wilson-z-negative", lambda: stats.wilson_interval(1, 2, z=-1.96), ValueError,
     ["z must"]),
    ("wilson-z-zero", lambda: stats.wilson_interval(1, 2, z=0), ValueError, ["z must"]),
    ("wilson-z-huge", lambda: stats.wilson_interval(1, 2, z=1e200), ValueError,
     ["z must"]),
    ("wilson-z-str", lambda: stats.wilson_interval(1, 2, z="a"), TypeError, ["z must"]),
    ("wilson-z-complex", lambda: stats.wilson_interval(1, 2, z=1j), TypeError,
     ["z must"]),
    ("wilson-trials-huge", lambda: stats.wilson_interval(1, 10**400), ValueError,
     ["trials must be an integer in"]),
    ("repeat-seeds-empty", lambda: stats.repeat(float, []), ValueError,
     ["seeds must hold at least 2"]),
    ("repeat-seed-float", lambda: stats.repeat(float, [1.5, 2.5]), TypeError,
     ["each seed must be an integer"]),
    ("repeat-seed-negative", lambda: stats.repeat(float, [-1, 2]), ValueError,
     ["each seed must be an integer in [0"]),
    ("repeat-seed-bool", lambda: stats.repeat(float, [True, False]), TypeError,
     ["each seed"]),
    ("repeat-returns-None", lambda: stats.repeat(lambda s: None, 2), TypeError,
     ["experiment must return real numbers"]),
    ("repeat-returns-str", lambda: stats.repeat(lambda s: "a", 2), TypeError,
     ["experiment must return real numbers"]),
    ("repeat-ragged", lambda: stats.repeat(lambda s: [0.0] * s, 3), ValueError,
     ["experiment must return one shape"]),
    ("summarize-bool-2d", lambda: stats.summarize([[True, False]]), ValueError,
     ["values must be 1-dimensional"]),
    # chapter 2: cross-validation
    ("kfold-n-float", lambda: model_selection.kfold_indices(5.0, 2), TypeError,
     ["n must be a positive integer"]),
    ("kfold-n-nan", lambda: model_selection.kfold_indices(np.nan, 2), TypeError,
     ["n must be a positive integer"]),
    ("kfold-n-None", lambda: model_selection.kfold_indices(None, 2), TypeError, ["n must"]),
    ("kfold-k-bool", lambda: model_selection.kfold_indices(5, True), TypeError, ["k must"]),
    ("kfold-shuffle-str", lambda: model_selection.kfold_indices(4, 2, shuffle="no"),
     TypeError, ["shuffle must be True or False"]),
    ("kfold-seed-unshuffled", lambda: model_selection.kfold_indices(4, 2, seed=-1),
     ValueError, ["seed"]),
    ("cv-score-not-callable",
     lambda: model_selection.cross_val_score(3, np.zeros((4, 1)), np.zeros(4), k=2),
     TypeError, ["score must be callable"]),
    ("cv-scalar-X", lambda: model_selection.cross_val_score(min, 1.0, 1.0, k=2),
     ValueError, ["X and y must have the same length"]),
    ("cv-empty", lambda: model_selection.cross_val_score(min, np.zeros((0, 1)), [], k=2),
     ValueError, ["N >= 1"]),
    ("cv-score-None",
     lambda: model_selection.cross_val_score(lambda *a: None, np.zeros(4), np.zeros(4),
                                             k=2), TypeError,
     ["score must return a real number", "fold 0"]),
    ("cv-score-nan",
     lambda: model_selection.cross_val_score(lambda *a: np.nan, np.zeros(4), np.zeros(4),
                                             k=2), ValueError, ["score returned NaN"]),
    ("cv-score-array",
     lambda: model_selection.cross_val_score(lambda *a: np.ones(2), np.zeros(4),
                                             np.zeros(4), k=2), TypeError,
     ["score must return a real number"]),
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
    # chapter 8: initialization
    ("xavier-fan-huge", lambda: init.xavier_normal(10**20, 10**20), ValueError,
     ["n_in * n_out must be at most 2**40"]),
    ("xavier-uniform-fan-giant", lambda: init.xavier_uniform(2**1100, 1), ValueError,
     ["n_in * n_out"]),
    ("he-fan-float", lambda: init.he_normal(3.0, 2), TypeError, ["n_in must be an integer"]),
    ("he-rng-float", lambda: init.he_normal(3, 2, rng=1.5), TypeError, ["rng"]),
    # chapter 10: regularization
    ("shift-dx-float", lambda: regularization.shift_images(np.zeros((1, 4)), 1.0, 0, (2, 2)),
     TypeError, ["dx must be an integer"]),
    ("shift-dx-bool", lambda: regularization.shift_images(np.zeros((1, 4)), True, 0, (2, 2)),
     TypeError, ["dx must be an integer"]),
    ("shift-image-shape-list",
     lambda: regularization.shift_images(np.zeros((1, 4)), 0, 0, [2, 2]), TypeError,
     ["image_shape must be a tuple"]),
    ("augment-float-labels",
     lambda: regularization.augment_shifts(np.zeros((2, 4)), [0.5, np.nan],
                                           image_shape=(2, 2)), TypeError,
     ["y must hold integer labels"]),
    ("augment-shifts-float",
     lambda: regularization.augment_shifts(np.zeros((2, 4)), [0, 1], shifts=[(0.5, 1)],
                                           image_shape=(2, 2)), TypeError, ["shifts must"]),
    ("augment-shifts-bool",
     lambda: regularization.augment_shifts(np.zeros((2, 4)), [0, 1],
                                           shifts=[(True, False)], image_shape=(2, 2)),
     TypeError, ["shifts must"]),
    ("l2-dict", lambda: regularization.l2_penalty({"a": 1}), TypeError,
     ["w must be a real"]),
    ("threshold-str", lambda: regularization.soft_threshold([1.0], "a"), TypeError,
     ["t must be a real"]),
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


# --- chapters 2, 8 and 10: finite when the true value is, inf only beyond float64 -----------

def test_summarize_extreme_values_is_finite_and_correct():
    s = stats.summarize([1e308, -1e308, 1e308])  # was std = inf
    assert s.mean == pytest.approx(1e308 / 3, rel=1e-15)
    assert s.std == pytest.approx(1e308 * (2 / np.sqrt(3)), rel=1e-15)
    assert s.lo == -np.inf and s.hi == np.inf  # the true ends are beyond float64
    assert stats.summarize([1e308, 1e308]).mean == 1e308  # was inf
    tiny = stats.summarize([1e-320, 2e-320, 3e-320])  # squares underflow: was std = 0
    assert tiny.std == pytest.approx(1e-320, rel=1e-3)


def test_compare_of_huge_differences():
    d = stats.compare([1e308, 0.0], [-1e308, 0.0])  # a - b = 2e308 overflows
    assert d.mean == pytest.approx(1e308, rel=1e-15)
    assert d.std == pytest.approx(1e308 * np.sqrt(2), rel=1e-15)
    assert stats.compare([1e308, 1e308], [-1e308, -1e308]).mean == np.inf  # truly 2e308


def test_compare_is_bit_identical_to_summarize_of_differences():
    a, b = np.random.default_rng(0).random((2, 7))
    assert stats.compare(a, b) == stats.summarize(a - b)


def test_t975_of_huge_df():
    assert stats.t975(10**400) == pytest.approx(1.96)


def test_mean_squared_error_extremes():
    assert regression.mean_squared_error([1e200], [-1e200]) == np.inf  # true 4e400
    assert regression.mean_squared_error([1e308], [-1e308]) == np.inf
    # squares overflow, the mean does not: 1.5e154**2 / 10
    assert regression.mean_squared_error([1.5e154] + [0.0] * 9, [0.0] * 10) == (
        pytest.approx(2.25e307, rel=1e-15))
    assert regression.mean_squared_error([3e-170], [0.0]) == pytest.approx(9e-340, rel=1e-3)


def test_polynomial_features_overflow_is_signed_inf():
    F = regression.polynomial_features([-1e200], 3)
    assert F[0].tolist() == [-np.inf, np.inf, -1e200, 1.0]


def test_fit_predict_polynomial_huge_range():
    pred = regression.fit_predict_polynomial([-1e308, 1e308], [0.0, 1.0], [0.0], 1)
    assert pred == pytest.approx([0.5])  # was NaN: (hi - lo) overflowed


def test_l2_penalty_extremes():
    assert regularization.l2_penalty([1e154, 1e154])[0] == pytest.approx(1e308)  # was inf
    assert regularization.l2_penalty([1e200])[0] == np.inf  # true 5e399
    value, grad = regularization.l2_penalty([1e308], center=[-1e308])
    assert value == np.inf and grad.tolist() == [np.inf]  # true gradient 2e308
    assert regularization.l2_penalty([3e-170])[0] == pytest.approx(4.5e-340, rel=1e-3)
    assert regularization.l1_penalty([1e308, 1e308])[0] == np.inf  # true 2e308


def test_shift_images_huge_shifts_leave_fill():
    X = np.ones((1, 4))
    for d in (2**62, np.int64(-2**63), np.uint64(2**64 - 1)):
        assert regularization.shift_images(X, d, 0, (2, 2), fill=-1.0).tolist() == [[-1.0] * 4]


def test_chapter_2_8_10_inputs_are_not_mutated():
    rng = np.random.default_rng(0)
    x, y, w = rng.random(12), rng.random(12), rng.random((3, 4))
    X, labels = rng.random((4, 4)), np.array([0, 1, 0, 1])
    originals = [a.copy() for a in (x, y, w, X, labels)]
    regression.mean_squared_error(x, y)
    regression.polynomial_features(x, 3)
    regression.fit_least_squares(regression.polynomial_features(x, 2), y, reg=0.1)
    regression.fit_predict_polynomial(x, y, x, 3)
    stats.summarize(x), stats.compare(x, y)
    model_selection.cross_val_score(
        lambda a, b, c, d: regression.mean_squared_error(d, c), x, y, k=3)
    regularization.l2_penalty(w, center=w[0]), regularization.l1_penalty(w)
    regularization.soft_threshold(w, w[0])
    regularization.shift_images(X, labels, labels, (2, 2))
    regularization.augment_shifts(X, labels, copies=2, image_shape=(2, 2), seed=0)
    data.stratified_split(labels, (0.5, 0.5), seed=0)
    for a, original in zip((x, y, w, X, labels), originals, strict=True):
        assert np.array_equal(a, original)
