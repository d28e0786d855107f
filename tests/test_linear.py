"""Tests of dlcode.linear: scores, the regularized softmax loss and its training loop."""

import numpy as np
import pytest

from dlcode.gradcheck import numerical_gradient, rel_error
from dlcode.linear import linear_scores, softmax_classifier_loss, train_softmax_classifier


def test_softmax_classifier_loss_gradients():
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(6, 4)), rng.normal(size=4)
    X, y = rng.normal(size=(9, 6)), rng.integers(0, 4, size=9)
    loss, dW, db = softmax_classifier_loss(W, b, X, y, reg=0.2)
    assert dW.shape == W.shape and db.shape == b.shape
    num_W = numerical_gradient(lambda M: softmax_classifier_loss(M, b, X, y, reg=0.2)[0], W)
    num_b = numerical_gradient(lambda v: softmax_classifier_loss(W, v, X, y, reg=0.2)[0], b)
    assert rel_error(dW, num_W) < 1e-7 and rel_error(db, num_b) < 1e-7
    unreg = softmax_classifier_loss(W, b, X, y, reg=0.0)[0]
    assert loss == pytest.approx(unreg + 0.1 * np.sum(W**2), rel=1e-14)


def test_stationary_at_sklearn_optimum():
    from sklearn.linear_model import LogisticRegression
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 5))
    y = np.argmax(X @ rng.normal(size=(5, 3)) + rng.normal(size=(120, 3)), axis=1)
    reg = 0.05
    sk = LogisticRegression(C=1 / (reg * len(X)), tol=1e-12, max_iter=10_000).fit(X, y)
    _, dW, db = softmax_classifier_loss(sk.coef_.T, sk.intercept_, X, y, reg)
    assert np.sqrt(np.sum(dW**2) + np.sum(db**2)) < 1e-6
    # and gradient descent converges to the same objective
    W, b, hist = train_softmax_classifier(X, y, lr=0.5, reg=reg, batch_size=120, epochs=2000)
    opt = softmax_classifier_loss(sk.coef_.T, sk.intercept_, X, y, reg)[0]
    assert hist["loss"][-1] == pytest.approx(opt, abs=1e-8)
    assert np.allclose(W, sk.coef_.T, atol=1e-4) and np.allclose(b, sk.intercept_, atol=1e-4)


def test_training_history_and_reproducibility():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(50, 3)), rng.integers(0, 3, size=50)
    W1, b1, h1 = train_softmax_classifier(X, y, epochs=5, seed=3, X_val=X[:10], y_val=y[:10])
    W2, b2, _ = train_softmax_classifier(X, y, epochs=5, seed=3)
    assert np.array_equal(W1, W2) and np.array_equal(b1, b2)
    assert set(h1) == {"loss", "train_acc", "val_acc"} and all(len(v) == 6 for v in h1.values())
    assert np.array_equal(np.argmax(linear_scores(X, W1, b1), axis=1) == y,
                          np.argmax(X @ W1 + b1, axis=1) == y)
    assert h1["train_acc"][-1] == np.mean(np.argmax(linear_scores(X, W1, b1), axis=1) == y)


def test_errors():
    W, b, X = np.zeros((3, 2)), np.zeros(2), np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"b must have shape \(C,\) = \(2,\).*got shape \(3,\)"):
        linear_scores(X, W, np.zeros(3))
    with pytest.raises(ValueError, match=r"X must have shape \(N, D\) = \(N, 3\).*\(4, 2\)"):
        linear_scores(np.zeros((4, 2)), W, b)
    with pytest.raises(ValueError, match=r"W must have shape \(D, C\)"):
        linear_scores(X, np.zeros(3), b)
    with pytest.raises(ValueError, match=r"reg must be a finite number in \[0, inf\)"):
        softmax_classifier_loss(W, b, X, np.zeros(4, dtype=int), reg=-1.0)
    with pytest.raises(ValueError, match=r"labels y must lie in \[0, C\)"):
        softmax_classifier_loss(W, b, X, np.array([0, 1, 2, 0]))
    for bad_lr in (0.0, float("inf")):
        with pytest.raises(ValueError, match=r"lr must be a finite number in \(0, inf\)"):
            train_softmax_classifier(X, np.zeros(4, dtype=int), lr=bad_lr)
    with pytest.raises(ValueError, match=r"batch_size must be an integer in \[1, inf\]"):
        train_softmax_classifier(X, np.zeros(4, dtype=int), batch_size=0)
    with pytest.raises(ValueError, match="X_val and y_val must be given together"):
        train_softmax_classifier(X, np.zeros(4, dtype=int), X_val=X)
    with pytest.raises(ValueError, match=r"y must have shape \(4,\), got \(3,\)"):
        train_softmax_classifier(X, np.zeros(3, dtype=int))
