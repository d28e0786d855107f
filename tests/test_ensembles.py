"""Unit tests of dlcode.ensembles: bootstrap samples, bagging and combining predictions."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlcode.ensembles import bagging_fit, bagging_predict, bootstrap_indices, in_bag
from dlcode.losses import softmax

seeds = st.integers(0, 2**32 - 1)


@given(st.integers(1, 30), st.integers(1, 10), seeds)
def test_bootstrap_indices_shape_range_and_seed(n, k, seed):
    idx = bootstrap_indices(n, k, seed=seed)
    assert idx.shape == (k, n) and idx.dtype == np.int64
    assert idx.min() >= 0 and idx.max() < n
    assert np.array_equal(idx, bootstrap_indices(n, k, seed=seed))


def test_bootstrap_generators_advance_and_seeds_differ():
    gen = np.random.default_rng(0)
    first, second = bootstrap_indices(100, 3, gen), bootstrap_indices(100, 3, gen)
    assert not np.array_equal(first, second)
    assert np.array_equal(first, bootstrap_indices(100, 3, np.random.default_rng(0)))
    assert not np.array_equal(bootstrap_indices(100, 3, 1), bootstrap_indices(100, 3, 2))


@pytest.mark.parametrize("n", [1, 2, 5, 50, 400])
def test_expected_fraction_of_distinct_examples(n):
    fractions = in_bag(bootstrap_indices(n, 4000, seed=n), n).mean(axis=1)
    closed = 1 - (1 - 1 / n) ** n
    se = fractions.std() / np.sqrt(len(fractions))
    assert abs(fractions.mean() - closed) <= 5 * se + 1e-12
    assert closed >= 1 - np.exp(-1)


def test_draws_are_uniform_over_the_examples():
    n, k = 20, 5000
    counts = np.bincount(bootstrap_indices(n, k, seed=3).ravel(), minlength=n)
    # each example is drawn Binomial(n k, 1 / n) times: mean k, variance about k
    assert np.all(np.abs(counts - k) < 5 * np.sqrt(k))


@given(st.integers(1, 6), st.integers(0, 12), st.integers(1, 15), seeds)
def test_in_bag_matches_sets(k, m, n, seed):
    idx = np.random.default_rng(seed).integers(0, n, size=(k, m))
    mask = in_bag(idx, n)
    assert mask.shape == (k, n) and mask.dtype == bool
    for i in range(k):
        assert set(np.flatnonzero(mask[i])) == set(idx[i].tolist())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.array([[0, 3]]), 3), r"indices must lie in 0 \.\. n - 1 = 2"),
        ((np.array([[-1, 0]]), 3), "indices must lie in"),
        ((np.array([0, 1]), 3), r"2-D integer array \(k, m\)"),
        ((np.array([[0.0, 1.0]]), 3), "2-D integer array"),
        ((np.array([[0, 1]]), 0), r"n must be an integer in \[1, inf\]"),
    ],
)
def test_in_bag_validates(args, message):
    with pytest.raises(ValueError, match=message):
        in_bag(*args)


@pytest.mark.parametrize(
    ("n", "k", "message"),
    [(0, 3, r"n must be an integer in \[1, inf\], got 0"), (5, 0, "k must be"),
     (5, 2.0, "k must be"), (True, 2, "n must be"), (5, -1, "k must be")],
)
def test_bootstrap_indices_validates(n, k, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_indices(n, k)


def test_bagging_fit_trains_each_member_on_its_sample():
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    calls = []

    def fit(X_sample, y_sample, seed):
        calls.append((X_sample.copy(), y_sample.copy(), seed))
        return ("model", len(calls) - 1)

    models, indices = bagging_fit(fit, X, y, k=4, seed=0)
    assert models == [("model", i) for i in range(4)] and indices.shape == (4, 10)
    for (X_sample, y_sample, seed), rows in zip(calls, indices, strict=True):
        assert np.array_equal(X_sample, X[rows]) and np.array_equal(y_sample, y[rows])
        assert isinstance(seed, int)
    assert len({seed for _, _, seed in calls}) == 4  # every member its own seed
    _, again = bagging_fit(fit, X, y, k=4, seed=0)
    assert np.array_equal(indices, again)
    assert [c[2] for c in calls[:4]] == [c[2] for c in calls[4:]]


@pytest.mark.parametrize(
    ("fit", "X", "y", "k", "message"),
    [
        (None, np.ones((3, 2)), np.zeros(3), 2, "fit must be a callable"),
        (lambda X, y, s: 0, np.ones((3, 2)), np.zeros(4), 2, "same number m >= 1"),
        (lambda X, y, s: 0, np.ones((0, 2)), np.zeros(0), 2, "same number m >= 1"),
        (lambda X, y, s: 0, np.ones((3, 2)), np.zeros((3, 1)), 2, "same number m >= 1"),
        (lambda X, y, s: 0, np.ones((3, 2)), np.zeros(3), 0, r"k must be an integer in \[1"),
    ],
)
def test_bagging_fit_validates(fit, X, y, k, message):
    with pytest.raises(ValueError, match=message):
        bagging_fit(fit, X, y, k)


def random_probs(k, n, c, seed):
    return softmax(np.random.default_rng(seed).normal(size=(k, n, c)) * 2, axis=2)


@given(st.integers(1, 7), st.integers(0, 20), st.integers(1, 6), seeds)
def test_average_is_the_argmax_of_the_mean_probability(k, n, c, seed):
    probs = random_probs(k, n, c, seed)
    labels = bagging_predict(probs)
    assert labels.shape == (n,)
    assert np.array_equal(labels, np.argmax(probs.mean(axis=0), axis=1))


def test_average_and_vote_can_disagree():
    probs = np.array([[[0.9, 0.1]], [[0.4, 0.6]], [[0.4, 0.6]]])  # 3 members, 1 example
    assert bagging_predict(probs, "average").tolist() == [0]  # mean (0.57, 0.43)
    assert bagging_predict(probs, "vote").tolist() == [1]  # two votes against one


@given(st.integers(1, 7), st.integers(1, 20), st.integers(1, 6), seeds)
def test_vote_from_probabilities_equals_vote_from_labels(k, n, c, seed):
    probs = random_probs(k, n, c, seed)
    labels = np.argmax(probs, axis=2)
    votes = bagging_predict(probs, "vote", seed=seed)
    assert np.array_equal(votes, bagging_predict(labels, "vote", seed=seed))
    counts = np.stack([np.sum(labels == cls, axis=0) for cls in range(c)], axis=1)
    assert np.all(counts[np.arange(n), votes] == counts.max(axis=1))  # a most frequent class


def test_vote_ties_are_broken_at_random_but_reproducibly():
    labels = np.array([[3] * 200, [7] * 200])  # every example: one vote each
    winners = bagging_predict(labels, "vote", seed=0)
    assert set(winners.tolist()) == {3, 7}
    assert 60 < np.sum(winners == 3) < 140
    assert np.array_equal(winners, bagging_predict(labels, "vote", seed=0))


def test_one_member_is_its_own_prediction():
    probs = random_probs(1, 30, 4, 0)
    assert np.array_equal(bagging_predict(probs), probs[0].argmax(axis=1))
    assert np.array_equal(bagging_predict(probs, "vote"), probs[0].argmax(axis=1))


def test_average_agrees_with_sklearn_bagging():
    from sklearn.datasets import load_digits
    from sklearn.ensemble import BaggingClassifier
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_digits(return_X_y=True)
    bag = BaggingClassifier(DecisionTreeClassifier(), n_estimators=8, random_state=0)
    bag.fit(X[:600], y[:600])
    Xq = X[600:900]
    probs = np.zeros((8, len(Xq), 10))
    for i, (tree, features) in enumerate(zip(bag.estimators_, bag.estimators_features_,
                                             strict=True)):
        probs[i][:, tree.classes_] = tree.predict_proba(Xq[:, features])
    assert np.array_equal(bagging_predict(probs), bag.predict(Xq))


@pytest.mark.parametrize(
    ("outputs", "kwargs", "message"),
    [
        (np.full((2, 3, 2), 0.5), {"method": "mean"}, "method must be 'average' or 'vote'"),
        (np.full(3, 0.5), {}, r"shape \(k, N, C\) or \(k, N\) with k >= 1 members"),
        (np.full((1, 2, 3, 2), 0.5), {}, "shape"),
        (np.zeros((0, 3, 2)), {}, "k >= 1 members"),
        (np.zeros((2, 3), dtype=int), {}, "need method='vote'"),
        (np.full((2, 3), 0.5), {"method": "vote"}, "must be integer labels"),
        (np.full((2, 3, 2), 0.6), {}, "must be probabilities"),
        (np.array([[[1.5, -0.5]]]), {}, "non-negative"),
        (np.array([[[np.nan, 1.0]]]), {"method": "vote"}, "finite"),
    ],
)
def test_bagging_predict_validates(outputs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        bagging_predict(outputs, **kwargs)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: bootstrap_indices(5, 2.0), TypeError),
        (lambda: bootstrap_indices(5, 0), ValueError),
        (lambda: bootstrap_indices(5, 2, seed="x"), TypeError),
        (lambda: in_bag(np.array([[0, 1]]), "3"), TypeError),
        (lambda: bagging_fit(None, np.ones((3, 2)), np.zeros(3), 2), TypeError),
    ],
)
def test_wrong_types_raise_type_errors(call, error):
    with pytest.raises(error) as info:
        call()
    assert (error is TypeError) == isinstance(info.value, TypeError)


def test_bagging_does_not_modify_the_callers_arrays():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    X0, y0 = X.copy(), y.copy()
    probs = softmax(np.random.default_rng(0).normal(size=(3, 10, 4)), axis=2)
    p0 = probs.copy()
    bagging_fit(lambda a, b, s: None, X, y, 3, seed=0)
    bagging_predict(probs)
    bagging_predict(probs, method="vote", seed=0)
    assert np.array_equal(X, X0) and np.array_equal(y, y0) and np.array_equal(probs, p0)
