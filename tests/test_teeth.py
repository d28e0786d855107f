"""Tests with teeth: each one kills a mutant of dlcode that the rest of the suite let live.

The mutants (from the mutation run of the hardening issue): the Solver dropping the update
rule's state between steps, the Solver keeping the latest of tied best epochs, the accuracy
subsample drawn with replacement, ``kneighbors`` losing its stable tie order, and Nesterov
momentum wrong only after the first step.
"""

import numpy as np
import pytest

import dlcode.optim
from dlcode.knn import KNearestNeighbor
from dlcode.models import FullyConnectedNet
from dlcode.solver import Solver

# --- Solver with a stateful update rule, against a hand loop --------------------------------------


def _data(n_train=37, n_val=11, dim=4, classes=3, seed=5):
    rng = np.random.default_rng(seed)
    return {"X_train": rng.normal(size=(n_train, dim)),
            "y_train": rng.integers(0, classes, size=n_train),
            "X_val": rng.normal(size=(n_val, dim)),
            "y_val": rng.integers(0, classes, size=n_val)}


@pytest.mark.parametrize(
    ("rule", "config"),
    [("sgd_momentum", {"learning_rate": 0.05, "momentum": 0.9}),
     ("nesterov_momentum", {"learning_rate": 0.05, "momentum": 0.8}),
     ("adam", {"learning_rate": 0.01})],
)
def test_solver_carries_the_rule_state_across_steps_and_epochs(rule, config):
    data, seed, batch_size, epochs = _data(), 7, 8, 3
    model = FullyConnectedNet([6], 4, 3, weight_scale=0.3, seed=1)
    hand = FullyConnectedNet([6], 4, 3, weight_scale=0.3, seed=1)
    solver = Solver(model, data, update_rule=rule, optim_config=config, batch_size=batch_size,
                    num_epochs=epochs, seed=seed)
    solver.train()

    # The Solver's batch order: one Generator from the seed, which first draws the seed of
    # the accuracy subsamples, then shuffles range(N) once per epoch.
    rng = np.random.default_rng(seed)
    rng.integers(2**63)
    update = getattr(dlcode.optim, rule)
    configs = {name: dict(config) for name in hand.params}
    losses, n = [], len(data["X_train"])
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            loss, grads = hand.loss(data["X_train"][batch], data["y_train"][batch])
            losses.append(float(loss))
            for name in hand.params:
                hand.params[name], configs[name] = update(hand.params[name], grads[name],
                                                          configs[name])
    assert len(losses) == epochs * int(np.ceil(n / batch_size)) == len(solver.loss_history)
    np.testing.assert_allclose(solver.loss_history, losses, rtol=1e-12, atol=0)
    state_keys = {"sgd_momentum": ("velocity",), "nesterov_momentum": ("velocity",),
                  "adam": ("m", "v")}[rule]
    for name in hand.params:
        for key in state_keys:
            np.testing.assert_allclose(solver.optim_configs[name][key], configs[name][key],
                                       rtol=1e-12, atol=1e-300)
    if rule == "adam":
        steps = len(losses)
        assert all(c["t"] == steps for c in solver.optim_configs.values())


# --- The earliest of tied best epochs -------------------------------------------------------------

class _ScriptedModel:
    """A model whose validation accuracy follows a script, epoch by epoch.

    One parameter ``w`` (shape (1,)) with gradient 1 on every training batch: under SGD with
    learning rate 1 and one batch per epoch, ``w == -epoch``. Row ``i`` of ``X`` holds ``i``;
    after epoch ``e`` the first ``CORRECT[e]`` rows are scored as class 0, the rest as class 1.
    """

    CORRECT = (0, 2, 1, 2, 2, 0)  # of 2 validation rows: ties at epochs 1, 3 and 4

    def __init__(self):
        self.params = {"w": np.zeros(1)}

    def loss(self, X, y=None):
        if y is not None:
            return 0.0, {"w": np.ones(1)}
        epoch = int(round(-self.params["w"][0]))
        first_class = X[:, 0] < self.CORRECT[epoch]
        return np.stack([first_class, ~first_class], axis=1).astype(float)


def test_best_params_come_from_the_earliest_of_tied_epochs():
    model = _ScriptedModel()
    data = {"X_train": np.zeros((1, 1)), "y_train": np.zeros(1, dtype=int),
            "X_val": np.array([[0.0], [1.0]]), "y_val": np.zeros(2, dtype=int)}
    solver = Solver(model, data, update_rule="sgd", optim_config={"learning_rate": 1.0},
                    batch_size=1, num_epochs=5, seed=0)
    solver.train()
    assert solver.val_acc_history == [0.0, 1.0, 0.5, 1.0, 1.0, 0.0]
    assert solver.best_val_acc == 1.0
    np.testing.assert_array_equal(solver.best_params["w"], [-1.0])  # epoch 1, not 3 or 4
    np.testing.assert_array_equal(model.params["w"], [-1.0])  # and it is restored


# --- The accuracy subsample -----------------------------------------------------------------------

class _RecordingModel:
    """Scores every row as class 0 and records which rows (by the index in X[:, 0]) it scored."""

    def __init__(self):
        self.params = {"w": np.zeros(1)}
        self.seen = []

    def loss(self, X, y=None):
        self.seen.extend(int(i) for i in X[:, 0])
        return np.stack([np.ones(len(X)), np.zeros(len(X))], axis=1)


@pytest.mark.parametrize(("n", "num_samples", "batch_size"), [(100, 90, 100), (60, 59, 7)])
def test_accuracy_subsample_draws_distinct_rows(n, num_samples, batch_size):
    model = _RecordingModel()
    X = np.arange(n, dtype=float)[:, None]
    y = (np.arange(n) % 2).astype(int)  # class 0 on even rows
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    solver = Solver(model, data, seed=3)
    accuracy = solver.check_accuracy(X, y, num_samples=num_samples, batch_size=batch_size)
    seen = model.seen
    assert len(seen) == num_samples
    assert len(set(seen)) == num_samples  # no row drawn twice
    assert set(seen) <= set(range(n))
    assert accuracy == np.mean([i % 2 == 0 for i in seen])
    model.seen = []
    assert solver.check_accuracy(X, y, num_samples=num_samples) == accuracy
    assert sorted(model.seen) == sorted(seen)  # the same subsample on every call


# --- kneighbors: ties in the order of the training index ------------------------------------------

@pytest.mark.parametrize("metric", ["l2", "l1"])
def test_kneighbors_keeps_ties_in_training_index_order(metric):
    rng = np.random.default_rng(4)
    # 60 training points at 3 distances from the origin, 20 or more of each, shuffled:
    # copies of one point per level, so that the distances tie exactly.
    levels = np.array([[1.0, 2.0, 0.0], [0.0, -3.0, 1.0], [4.0, 0.0, -2.0]])
    which = rng.permutation(np.repeat(np.arange(3), [24, 20, 16]))
    X_train = levels[which]
    y_train = rng.integers(0, 3, size=len(X_train))
    queries = np.zeros((2, 3))
    knn = KNearestNeighbor().fit(X_train, y_train)
    D = knn.distances(queries, metric)
    assert all(len(np.unique(row)) == 3 for row in D)  # exact ties, 3 levels
    for k in (len(X_train), 30, 21):
        dist, index = knn.kneighbors(queries, k=k, metric=metric)
        for row in range(len(queries)):
            expected = np.lexsort((np.arange(len(X_train)), D[row]))[:k]  # distance, then index
            np.testing.assert_array_equal(index[row], expected)
            np.testing.assert_array_equal(dist[row], D[row, expected])


# --- Nesterov momentum over many steps ------------------------------------------------------------

def test_nesterov_momentum_matches_the_look_ahead_form_over_many_steps():
    """On a quadratic, ``nesterov_momentum`` iterates equal the notes' form
    ``v <- mu v - lr grad(theta + mu v)``, ``theta <- theta + v`` at the look-ahead point
    ``w = theta + mu v``: an independent loop in the other parametrization."""
    rng = np.random.default_rng(0)
    M = rng.normal(size=(4, 4))
    A = M @ M.T + np.eye(4)  # positive definite
    b = rng.normal(size=4)

    def grad(x):
        return A @ x - b

    lr, mu, steps = 0.05, 0.9, 25
    theta, v = rng.normal(size=4), np.zeros(4)
    w, config = theta.copy(), {"learning_rate": lr, "momentum": mu}
    for _ in range(steps):
        w, config = dlcode.optim.nesterov_momentum(w, grad(w), config)
        v = mu * v - lr * grad(theta + mu * v)
        theta = theta + v
        np.testing.assert_allclose(w, theta + mu * v, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(config["velocity"], -v / lr, rtol=1e-10, atol=1e-12)
    # and it converges to the minimizer A^-1 b
    assert np.linalg.norm(w - np.linalg.solve(A, b)) < 0.1 * np.linalg.norm(np.linalg.solve(A, b))
