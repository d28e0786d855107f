"""Tests of dlcode.model_selection: k-fold indices and cross-validation."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold
from sklearn.model_selection import cross_val_score as sk_cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

from dlcode.model_selection import cross_val_score, kfold_indices
from dlcode.regression import fit_predict_polynomial, mean_squared_error


@st.composite
def n_and_k(draw, max_n=200):
    n = draw(st.integers(2, max_n))
    return n, draw(st.integers(2, n))


def assert_valid_folds(folds, n, k):
    assert len(folds) == k
    vals = [val for _, val in folds]
    assert np.array_equal(np.sort(np.concatenate(vals)), np.arange(n))  # a partition
    q, r = divmod(n, k)
    assert sorted(len(v) for v in vals) == [q] * (k - r) + [q + 1] * r
    for train, val in folds:
        assert train.dtype.kind == "i" and val.dtype.kind == "i"
        assert np.array_equal(train, np.setdiff1d(np.arange(n), val))  # sorted complement


@given(n_and_k())
def test_unshuffled_folds_match_sklearn_kfold(nk):
    n, k = nk
    ours = kfold_indices(n, k)
    theirs = list(KFold(n_splits=k).split(np.zeros(n)))
    for (tr, va), (tr_sk, va_sk) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(tr, tr_sk)
        np.testing.assert_array_equal(va, va_sk)
    assert_valid_folds(ours, n, k)
    # contiguous, larger folds first
    assert all(np.array_equal(va, np.arange(va[0], va[-1] + 1)) for _, va in ours)
    assert [len(va) for _, va in ours] == sorted((len(va) for _, va in ours), reverse=True)


@given(n_and_k(), st.integers(0, 2**32 - 1))
def test_shuffled_folds_partition_and_are_reproducible(nk, seed):
    n, k = nk
    folds = kfold_indices(n, k, shuffle=True, seed=seed)
    assert_valid_folds(folds, n, k)
    again = kfold_indices(n, k, shuffle=True, seed=seed)
    for (tr, va), (tr2, va2) in zip(folds, again, strict=True):
        np.testing.assert_array_equal(tr, tr2)
        np.testing.assert_array_equal(va, va2)


def test_shuffle_changes_the_folds_and_depends_on_the_seed():
    plain = kfold_indices(50, 5)
    a = kfold_indices(50, 5, shuffle=True, seed=0)
    b = kfold_indices(50, 5, shuffle=True, seed=1)
    assert not all(np.array_equal(v1, v2) for (_, v1), (_, v2) in zip(plain, a, strict=True))
    assert not all(np.array_equal(v1, v2) for (_, v1), (_, v2) in zip(a, b, strict=True))


def test_generator_seed_is_used_and_advanced():
    rng = np.random.default_rng(3)
    first = kfold_indices(30, 3, shuffle=True, seed=rng)
    second = kfold_indices(30, 3, shuffle=True, seed=rng)
    expected = kfold_indices(30, 3, shuffle=True, seed=np.random.default_rng(3))
    assert all(np.array_equal(v1, v2) for (_, v1), (_, v2) in zip(first, expected, strict=True))
    assert not all(np.array_equal(v1, v2) for (_, v1), (_, v2) in zip(first, second, strict=True))


def test_seed_ignored_without_shuffle():
    a, b = kfold_indices(11, 3, seed=0), kfold_indices(11, 3, seed=1)
    assert all(np.array_equal(v1, v2) for (_, v1), (_, v2) in zip(a, b, strict=True))


def test_leave_one_out():
    folds = kfold_indices(7, 7)
    assert [va.tolist() for _, va in folds] == [[i] for i in range(7)]


@pytest.mark.parametrize(
    ("n", "k", "match"),
    [
        (10, 1, r"k must be an integer with 2 <= k <= n = 10, got k = 1"),
        (10, 0, r"2 <= k <= n = 10, got k = 0"),
        (10, 11, r"2 <= k <= n = 10, got k = 11"),
        (10, 2.5, r"got k = 2.5"),
        (0, 2, r"n must be a positive integer, got 0"),
        (3.5, 2, r"n must be a positive integer, got 3.5"),
        (1, 2, r"2 <= k <= n = 1"),
    ],
)
def test_kfold_indices_errors(n, k, match):
    with pytest.raises(ValueError, match=match):
        kfold_indices(n, k)


def test_sklearn_also_refuses_one_fold():
    with pytest.raises(ValueError):
        KFold(n_splits=1)


def _poly_score(degree):
    def score(x_tr, y_tr, x_va, y_va):
        return mean_squared_error(y_va, fit_predict_polynomial(x_tr, y_tr, x_va, degree))
    return score


@pytest.mark.parametrize(("k", "degree"), [(2, 1), (4, 3), (5, 2), (15, 3)])
def test_cross_val_score_matches_sklearn(k, degree):
    rng = np.random.default_rng(k)
    x = rng.uniform(0, 1, 15)
    y = np.sin(2 * np.pi * x) + 0.3 * rng.normal(size=15)
    ours = cross_val_score(_poly_score(degree), x, y, k=k, shuffle=False)
    model = make_pipeline(PolynomialFeatures(degree), LinearRegression(fit_intercept=False))
    theirs = -sk_cross_val_score(model, x[:, None], y, cv=KFold(k),
                                 scoring="neg_mean_squared_error")
    assert ours.shape == (k,)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8)


def test_cross_val_score_uses_the_folds_of_kfold_indices():
    calls = []

    def record(X_tr, y_tr, X_va, y_va):
        calls.append((X_tr.copy(), X_va.copy()))
        assert len(np.intersect1d(X_tr, X_va)) == 0  # training and validation are disjoint
        return float(len(y_va))

    X = np.arange(23.0)
    scores = cross_val_score(record, X, X, k=4, shuffle=True, seed=7)
    folds = kfold_indices(23, 4, shuffle=True, seed=7)
    assert scores.tolist() == [len(va) for _, va in folds]
    for (X_tr, X_va), (tr, va) in zip(calls, folds, strict=True):
        np.testing.assert_array_equal(X_tr, X[tr])
        np.testing.assert_array_equal(X_va, X[va])


def test_cross_val_score_is_reproducible_and_supports_matrices():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=30)

    def score(X_tr, y_tr, X_va, y_va):
        assert X_tr.ndim == 2 and X_tr.shape[1] == 3
        w = np.linalg.lstsq(X_tr, y_tr, rcond=None)[0]
        return mean_squared_error(y_va, X_va @ w)

    a = cross_val_score(score, X, y, k=5, seed=1)
    np.testing.assert_array_equal(a, cross_val_score(score, X, y, k=5, seed=1))
    assert not np.array_equal(a, cross_val_score(score, X, y, k=5, seed=2))


def test_cross_val_score_errors():
    def score(*args):
        return 0.0

    with pytest.raises(ValueError, match=r"same length N >= 1, got shapes \(10,\) and \(9,\)"):
        cross_val_score(score, np.zeros(10), np.zeros(9))
    with pytest.raises(ValueError, match=r"2 <= k <= n = 10, got k = 11"):
        cross_val_score(score, np.zeros(10), np.zeros(10), k=11)
    with pytest.raises(ValueError, match=r"got k = 1"):
        cross_val_score(score, np.zeros(10), np.zeros(10), k=1)
