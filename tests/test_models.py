"""Unit tests of dlcode.models.FullyConnectedNet and dlcode.solver.Solver."""

import copy
import sys
import types

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import dlcode.optim
from dlcode.gradcheck import numerical_gradient, rel_error
from dlcode.layers import affine_forward
from dlcode.models import ACTIVATIONS, FullyConnectedNet
from dlcode.optim import sgd
from dlcode.solver import Solver, update_rules


def relu_margin(model, X):
    """Smallest |pre-activation| of the hidden layers (a kink within the step breaks the check)."""
    h, margin = X.reshape(len(X), -1), np.inf
    for k in range(1, model.num_layers):
        pre = affine_forward(h, model.params[f"W{k}"], model.params[f"b{k}"])[0]
        margin = min(margin, np.min(np.abs(pre)))
        h = ACTIVATIONS[model.activation][0](pre)[0]
    return margin


def randomize_biases(model, rng):
    """Non-zero biases: zero biases make exact zeros (kinks) common in deeper ReLU layers."""
    for k in range(1, model.num_layers + 1):
        model.params[f"b{k}"] = rng.normal(size=model.params[f"b{k}"].shape)


def numeric_grads(model, X, y):
    return {name: numerical_gradient(lambda _: model.loss(X, y)[0], p)
            for name, p in model.params.items()}


# --- FullyConnectedNet --------------------------------------------------------------------------

# The book's bar, relative error below 1e-7 for every entry, at fixed points. It cannot hold at
# every random point: central differences carry an absolute rounding error of about
# u |L| / h ~ 1e-10, so an entry below ~1e-3 (e.g. an output-bias gradient, whose entries sum to
# zero) may miss it by chance. The property test below covers random architectures with a
# tolerance that allows for this.
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_network_gradient_check(activation, seed):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(4, 6)), rng.integers(0, 3, size=4)
    model = FullyConnectedNet([5, 4], 6, 3, activation=activation, reg=0.1, weight_scale=1.0,
                              seed=seed + 10)
    randomize_biases(model, rng)
    if activation == "relu":
        assert relu_margin(model, X) > 1e-3
    loss, grads = model.loss(X, y)
    assert np.isfinite(loss) and grads.keys() == model.params.keys()
    numeric = numeric_grads(model, X, y)
    analytic = np.concatenate([grads[k].ravel() for k in model.params])
    numeric = np.concatenate([numeric[k].ravel() for k in model.params])
    # The bar 1e-7 holds above the rounding floor of central differences with h = 1e-5:
    # each quotient carries an absolute error of a few eps |L| / h (~1e-10, varying with the
    # BLAS kernel, e.g. OPENBLAS_CORETYPE=Prescott); entries below ~1e-3 may miss 1e-7 by it.
    floor = 100 * np.finfo(float).eps * max(1.0, abs(loss)) / 1e-5
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=floor)
    assert rel_error(analytic[np.abs(analytic) > 1e-3], numeric[np.abs(analytic) > 1e-3]) < 1e-7


@given(
    hidden=st.lists(st.integers(1, 5), max_size=3),
    input_dim=st.integers(1, 5),
    num_classes=st.integers(2, 4),
    N=st.integers(1, 4),
    activation=st.sampled_from(["relu", "tanh", "sigmoid"]),
    reg=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_network_gradient_check_random_architectures(hidden, input_dim, num_classes, N,
                                                     activation, reg, seed):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(N, input_dim)), rng.integers(0, num_classes, size=N)
    model = FullyConnectedNet(hidden, input_dim, num_classes, activation=activation, reg=reg,
                              weight_scale=1.0, seed=seed)
    randomize_biases(model, rng)
    assume(activation != "relu" or relu_margin(model, X) > 1e-3)
    _, grads = model.loss(X, y)
    numeric = numeric_grads(model, X, y)
    for name in model.params:
        assert grads[name].shape == model.params[name].shape
        np.testing.assert_allclose(grads[name], numeric[name], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_network_matches_torch(activation):
    import torch
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(7, 2, 5)), rng.integers(0, 4, size=7)
    reg = 0.3
    model = FullyConnectedNet([8, 6], 10, 4, activation=activation, reg=reg, weight_scale=0.5,
                              seed=4)
    loss, grads = model.loss(X, y)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    act = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[activation]
    h = torch.tensor(X).reshape(7, -1)
    for k in (1, 2):
        h = act(h @ params[f"W{k}"] + params[f"b{k}"])
    scores = h @ params["W3"] + params["b3"]
    loss_t = F.cross_entropy(scores, torch.tensor(y))
    loss_t = loss_t + 0.5 * reg * sum((params[f"W{k}"] ** 2).sum() for k in (1, 2, 3))
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    for k, p in params.items():
        np.testing.assert_allclose(grads[k], p.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.loss(X), scores.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_reg_term_and_its_gradient():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(5, 4)), rng.integers(0, 3, size=5)
    penalised = FullyConnectedNet([6], 4, 3, reg=0.8, weight_scale=0.7, seed=2)
    plain = FullyConnectedNet([6], 4, 3, reg=0.0, weight_scale=0.7, seed=2)
    (l1, g1), (l0, g0) = penalised.loss(X, y), plain.loss(X, y)
    W = {k: penalised.params[k] for k in ("W1", "W2")}
    assert l1 - l0 == pytest.approx(0.4 * sum(np.sum(w**2) for w in W.values()), rel=1e-12)
    for k in ("W1", "W2"):
        np.testing.assert_allclose(g1[k] - g0[k], 0.8 * W[k], rtol=1e-12, atol=1e-15)
    for k in ("b1", "b2"):  # biases are not penalised
        np.testing.assert_array_equal(g1[k], g0[k])


def test_params_shapes_dtype_and_initialization():
    model = FullyConnectedNet([30, 20], 12, 5, weight_scale=0.05, seed=0)
    assert model.num_layers == 3
    assert {k: v.shape for k, v in model.params.items()} == {
        "W1": (12, 30), "b1": (30,), "W2": (30, 20), "b2": (20,), "W3": (20, 5), "b3": (5,)}
    assert all(v.dtype == np.float64 for v in model.params.values())
    assert all(np.all(model.params[f"b{k}"] == 0) for k in (1, 2, 3))
    big = FullyConnectedNet([400], 500, 3, weight_scale=0.05, seed=1)
    assert big.params["W1"].std() == pytest.approx(0.05, rel=0.01)
    softmax_only = FullyConnectedNet([], 7, 3)
    assert list(softmax_only.params) == ["W1", "b1"] and softmax_only.num_layers == 1


def test_float32_model():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 4)), rng.integers(0, 3, size=5)
    model = FullyConnectedNet([6], 4, 3, dtype=np.float32, seed=0)
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert model.loss(X).dtype == np.float32
    _, grads = model.loss(X, y)
    assert all(g.dtype == np.float32 for g in grads.values())


def test_seed_reproducibility():
    a = FullyConnectedNet([5], 4, 3, seed=7)
    b = FullyConnectedNet([5], 4, 3, seed=7)
    c = FullyConnectedNet([5], 4, 3, seed=8)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    shared = np.random.default_rng(3)
    d, e = FullyConnectedNet([5], 4, 3, seed=shared), FullyConnectedNet([5], 4, 3, seed=shared)
    assert not np.array_equal(d.params["W1"], e.params["W1"])  # one stream, two draws


def test_scores_mode_and_image_inputs():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 2, 3))
    model = FullyConnectedNet([4], 6, 5, seed=0)
    scores = model.loss(X)
    assert scores.shape == (6, 5)
    np.testing.assert_array_equal(scores, model.loss(X.reshape(6, 6)))
    X_before = X.copy()
    model.loss(X, rng.integers(0, 5, size=6))
    np.testing.assert_array_equal(X, X_before)


def test_weight_scale_callable_and_scheme_names(monkeypatch):
    calls = []

    def constant(n_in, n_out, rng):
        calls.append((n_in, n_out))
        return np.full((n_in, n_out), 0.5)

    model = FullyConnectedNet([3], 2, 4, weight_scale=constant)
    assert calls == [(2, 3), (3, 4)] and np.all(model.params["W2"] == 0.5)

    fake_init = types.ModuleType("dlcode.init")

    def xavier_normal(n_in, n_out, rng=None):
        return np.full((n_in, n_out), 1.0 / (n_in + n_out))

    fake_init.xavier_normal = xavier_normal
    monkeypatch.setitem(sys.modules, "dlcode.init", fake_init)
    for name in ("xavier", "xavier_normal"):
        model = FullyConnectedNet([3], 2, 4, weight_scale=name)
        np.testing.assert_array_equal(model.params["W1"], np.full((2, 3), 0.2))
    with pytest.raises(ValueError, match="names no initialization scheme"):
        FullyConnectedNet([3], 2, 4, weight_scale="he")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden_dims": [3, 0]}, r"each hidden size must be an integer in \[1, inf\]"),
        ({"hidden_dims": [2.5]}, "each hidden size must be an integer"),
        ({"input_dim": 0}, r"input_dim must be an integer in \[1, inf\]"),
        ({"num_classes": True}, "num_classes must be an integer"),
        ({"activation": "softplus"}, "activation must be one of"),
        ({"reg": -0.1}, r"reg must be a finite number in \[0, inf\)"),
        ({"reg": float("nan")}, "reg must be a finite number"),
        ({"weight_scale": 0.0}, "weight_scale must be a positive float"),
        ({"weight_scale": float("inf")}, "weight_scale must be a positive float"),
        ({"weight_scale": "no_such_scheme"}, "names no initialization scheme"),
        ({"weight_scale": lambda n_in, n_out, rng: np.ones((n_out, n_in))},
         r"shape \(3, 2\) for W1; expected \(2, 3\)"),
        ({"dtype": np.int64}, "dtype must be a floating-point type"),
    ],
)
def test_constructor_value_errors(kwargs, message):
    args = {"hidden_dims": [3], "input_dim": 2, "num_classes": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        FullyConnectedNet(**args)


def test_loss_value_errors():
    model = FullyConnectedNet([3], 4, 3, seed=0)
    with pytest.raises(ValueError, match=r"X must have shape \(N, 4\).*got \(2, 5\)"):
        model.loss(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"got \(4,\)"):
        model.loss(np.ones(4))
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.loss(np.array([[1.0, np.nan, 0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"labels y must lie in \[0, C\) = \[0, 3\)"):
        model.loss(np.ones((2, 4)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"y must have shape \(N,\)"):
        model.loss(np.ones((2, 4)), np.array([0, 1, 2]))


# --- Solver ---------------------------------------------------------------------------------------

def blobs(n_train=60, n_val=30, dim=4, classes=3, seed=0):
    """Gaussian blobs: an easy, small classification data dict."""
    rng = np.random.default_rng(seed)
    centres = 3 * rng.normal(size=(classes, dim))

    def draw(n):
        y = rng.integers(0, classes, size=n)
        return centres[y] + rng.normal(size=(n, dim)), y

    (Xt, yt), (Xv, yv) = draw(n_train), draw(n_val)
    return {"X_train": Xt, "y_train": yt, "X_val": Xv, "y_val": yv}


def make_solver(data=None, model_seed=0, **kwargs):
    data = blobs() if data is None else data
    model = FullyConnectedNet([10], data["X_train"].shape[1], 3, weight_scale=0.1,
                              seed=model_seed)
    settings = {"optim_config": {"learning_rate": 0.1}, "batch_size": 16, "num_epochs": 3,
                "seed": 0, **kwargs}
    return Solver(model, data, **settings), model


def test_solver_is_reproducible_with_a_seed():
    runs = [make_solver(seed=s)[0].train() for s in (1, 1, 2)]
    assert runs[0].loss_history == runs[1].loss_history
    assert runs[0].val_acc_history == runs[1].val_acc_history
    assert all(np.array_equal(runs[0].model.params[k], runs[1].model.params[k])
               for k in runs[0].model.params)
    assert runs[0].loss_history != runs[2].loss_history


def test_histories_and_learning_rate_decay():
    solver, _ = make_solver(num_epochs=4, batch_size=16, lr_decay=0.5)
    solver.train()
    assert len(solver.loss_history) == 4 * int(np.ceil(60 / 16))
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 5
    assert solver.epoch == 4
    for config in solver.optim_configs.values():
        assert config["learning_rate"] == pytest.approx(0.1 * 0.5**4)
    solver.train()  # continues for another num_epochs
    assert solver.epoch == 8 and len(solver.val_acc_history) == 9


def test_best_params_are_kept_and_restored():
    data = blobs(seed=3)
    data["y_val"] = np.random.default_rng(0).permutation(data["y_val"])  # noisy validation
    solver, model = make_solver(data, num_epochs=6, optim_config={"learning_rate": 0.5})
    solver.train()
    assert solver.best_val_acc == max(solver.val_acc_history)
    best_epoch = solver.val_acc_history.index(solver.best_val_acc)  # the earliest best
    assert all(np.array_equal(model.params[k], solver.best_params[k]) for k in model.params)
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.best_val_acc
    assert all(model.params[k] is not solver.best_params[k] for k in model.params)
    assert best_epoch < len(solver.val_acc_history) - 1  # not the last epoch: the test can fail


def test_named_and_callable_update_rules_agree():
    named, model_a = make_solver(update_rule="sgd")
    called, model_b = make_solver(update_rule=lambda w, dw, config: sgd(w, dw, config))
    named.train()
    called.train()
    assert named.loss_history == called.loss_history
    assert all(np.array_equal(model_a.params[k], model_b.params[k]) for k in model_a.params)


def test_rules_added_to_optim_later_work_by_name(monkeypatch):
    def sgd_twice(w, dw, config=None):
        """SGD with twice the step (stands in for a rule a later chapter adds)."""
        config = dict(config or {})
        config.setdefault("learning_rate", 1e-2)
        return w - 2 * config["learning_rate"] * dw, config

    monkeypatch.setattr(dlcode.optim, "sgd_twice", sgd_twice, raising=False)
    monkeypatch.setattr(dlcode.optim, "__all__", [*dlcode.optim.__all__, "sgd_twice"])
    assert "sgd_twice" in update_rules() and "minibatch_indices" not in update_rules()
    twice, _ = make_solver(update_rule="sgd_twice", optim_config={"learning_rate": 0.05})
    plain, _ = make_solver(update_rule="sgd", optim_config={"learning_rate": 0.1})
    assert twice.train().loss_history == pytest.approx(plain.train().loss_history, rel=1e-12)


def test_optim_config_is_copied_per_parameter():
    config = {"learning_rate": 0.1, "state": [1, 2]}
    solver, model = make_solver(optim_config=config)
    configs = list(solver.optim_configs.values())
    assert len(configs) == len(model.params)
    assert len({id(c) for c in configs}) == len(configs)
    assert len({id(c["state"]) for c in configs}) == len(configs)  # deep copies
    solver.train()
    assert config == {"learning_rate": 0.1, "state": [1, 2]}


def test_solver_never_mutates_the_data_dict():
    data = blobs()
    data["extra"] = "kept"
    before = copy.deepcopy(data)
    solver, _ = make_solver(data)
    solver.train()
    assert data.keys() == before.keys() and data["extra"] == "kept"
    for key in ("X_train", "y_train", "X_val", "y_val"):
        np.testing.assert_array_equal(data[key], before[key])


def test_quiet_by_default_and_verbose_on_request(capsys):
    make_solver()[0].train()
    assert capsys.readouterr().out == ""
    make_solver(verbose=True, print_every=2)[0].train()
    out = capsys.readouterr().out
    assert "(epoch 3 / 3)" in out and "(iteration 2)" in out


def test_check_accuracy_subsample_is_fixed():
    solver, _ = make_solver(num_train_samples=20)
    data = blobs()
    a = solver.check_accuracy(data["X_train"], data["y_train"], num_samples=17)
    b = solver.check_accuracy(data["X_train"], data["y_train"], num_samples=17, batch_size=5)
    assert a == b and (a * 17) == pytest.approx(round(a * 17))
    full = solver.check_accuracy(data["X_train"], data["y_train"])
    assert (full * 60) == pytest.approx(round(full * 60))
    with pytest.raises(ValueError, match=r"y must have shape \(N,\)"):
        solver.check_accuracy(data["X_train"], data["y_train"][:-1])


def test_solver_trains_a_model_without_num_classes():
    class Linear:
        """A minimal model: a softmax classifier without a num_classes attribute."""

        def __init__(self):
            self.params = {"W": np.zeros((4, 3)), "b": np.zeros(3)}

        def loss(self, X, y=None):
            from dlcode.losses import softmax_loss

            scores = X @ self.params["W"] + self.params["b"]
            if y is None:
                return scores
            loss, dscores = softmax_loss(scores, y)
            return loss, {"W": X.T @ dscores, "b": dscores.sum(axis=0)}

    data = blobs()
    solver = Solver(Linear(), data, optim_config={"learning_rate": 0.1}, num_epochs=5, seed=0)
    solver.train()
    assert solver.best_val_acc > 0.8


def _data_with(**changes):
    data = blobs()
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "data must be a dict"),
        ({"X_train": np.ones((3, 4)), "y_train": np.zeros(3, dtype=int)}, r"lacks \['X_val'"),
        (_data_with(y_train=np.zeros(59, dtype=int)), "has 59 labels but the matching X has 60"),
        (_data_with(y_val=np.full(30, 3)), r"data\['y_val'\] must lie in \[0, 3\), got 3..3"),
        (_data_with(y_train=-np.ones(60, dtype=int)), r"must lie in \[0, 3\)"),
        (_data_with(y_train=np.zeros(60)), "integer labels"),
        (_data_with(X_val=np.ones((30, 5))), "X_train rows have shape"),
        (_data_with(X_train=np.full((60, 4), np.nan)), "NaN or infinite"),
        (_data_with(X_train=np.ones((60, 4), dtype=int)), "non-empty float array"),
    ],
)
def test_solver_validates_the_data(data, message):
    with pytest.raises(ValueError, match=message):
        Solver(FullyConnectedNet([5], 4, 3), data)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"update_rule": "adamw_unknown"}, "unknown update_rule 'adamw_unknown'"),
        ({"update_rule": "minibatch_indices"}, "unknown update_rule"),
        ({"update_rule": 3}, "update_rule must be a name or a callable"),
        ({"optim_config": [0.1]}, "optim_config must be a dict"),
        ({"lr_decay": 0.0}, r"lr_decay must be a finite number in \(0, inf\)"),
        ({"batch_size": 0}, r"batch_size must be an integer in \[1, inf\]"),
        ({"num_epochs": 2.5}, "num_epochs must be an integer"),
        ({"num_train_samples": -1}, "num_train_samples must be an integer in"),
        ({"verbose": 1}, "verbose must be True or False"),
    ],
)
def test_solver_validates_its_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Solver(FullyConnectedNet([5], 4, 3), blobs(), **kwargs)
    with pytest.raises(ValueError, match="model must have a params dict"):
        Solver(object(), blobs())


class _ScaleStage:
    """A toy stage for the extension mechanism: multiplies its input by a learned vector."""

    def __init__(self, position):
        self.position, self.default = position, None

    def setup(self, net, value, dims, rng):
        if value <= 0:
            raise ValueError("scale must be positive")
        for k, width in enumerate(dims[1:-1], start=1):
            net.params[f"s{k}"] = np.full(width, float(value)) + rng.normal(size=width) * 0.1

    def forward(self, net, k, x, mode):
        return x * net.params[f"s{k}"], x

    def backward(self, net, k, dout, cache, grads):
        grads[f"s{k}"] = np.sum(dout * cache, axis=0)
        return dout * net.params[f"s{k}"]


@pytest.mark.parametrize("position", ["pre", "post"])
def test_registered_stage_is_used_and_gradient_checked(position):
    from dlcode.gradcheck import numerical_gradient, rel_error
    from dlcode.models import FullyConnectedNet

    FullyConnectedNet.register_stage("toy_scale", _ScaleStage(position))
    try:
        rng = np.random.default_rng(0)
        X, y = rng.normal(size=(5, 4)), rng.integers(0, 3, size=5)
        net = FullyConnectedNet([6, 5], 4, 3, activation="tanh", reg=0.1, weight_scale=0.5,
                                seed=2, toy_scale=1.5)
        assert set(net.params) >= {"s1", "s2"} and net.options["toy_scale"] == 1.5
        _, grads = net.loss(X, y)
        assert set(grads) == set(net.params)
        for name, param in net.params.items():
            numeric = numerical_gradient(lambda _: net.loss(X, y)[0], param)
            assert rel_error(grads[name], numeric) < 1e-7, name
        off = FullyConnectedNet([6, 5], 4, 3, seed=2)
        assert "s1" not in off.params and off.options["toy_scale"] is None
        with pytest.raises(ValueError, match="scale must be positive"):
            FullyConnectedNet([6], 4, 3, toy_scale=-1.0)
    finally:
        FullyConnectedNet._stages.pop("toy_scale")


def test_unknown_option_is_rejected():
    from dlcode.models import FullyConnectedNet

    with pytest.raises(ValueError, match=r"unknown option\(s\) \['batchnorm_typo'\]"):
        FullyConnectedNet([4], 3, 2, batchnorm_typo=True)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_network_with_batchnorm_and_dropout_passes_gradient_check(activation):
    """Issue 5: the full network with both stages; masks fixed by reseeding before each call."""
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(6, 5)), rng.integers(0, 3, size=6)
    net = FullyConnectedNet([7, 6], 5, 3, activation=activation, reg=0.05, weight_scale=0.7,
                            seed=4, normalization="batchnorm", dropout=0.8)
    assert {"gamma1", "beta1", "gamma2", "beta2"} <= set(net.params)

    def loss():
        net.dropout_rng = np.random.default_rng(11)  # the same masks on every evaluation
        return net.loss(X, y)

    _, grads = loss()
    for name, param in net.params.items():
        numeric = numerical_gradient(lambda _: loss()[0], param)
        scale = np.max(np.abs(numeric))
        if scale < 1e-6:  # e.g. a bias followed by batch norm: its gradient is exactly zero
            assert np.max(np.abs(grads[name])) < 1e-8, name
        else:
            assert rel_error(grads[name], numeric) < 1e-7, name
    scores = net.loss(X)  # test mode: deterministic, no dropout, running statistics
    assert np.array_equal(scores, net.loss(X))


# --- model state and mode (issue 11, finding 3) ------------------------------------------------

def test_state_dict_is_a_deep_copy_and_load_restores_it():
    net = FullyConnectedNet([5], 4, 3, seed=0, normalization="batchnorm")
    X, y = np.random.default_rng(0).normal(size=(6, 4)), np.array([0, 1, 2, 0, 1, 2])
    net.loss(X, y)  # fills the running statistics
    state = net.state_dict()
    assert set(state) == {"params", "bn_params"}
    assert state["params"]["W1"] is not net.params["W1"]
    saved_mean = state["bn_params"][0]["running_mean"].copy()
    net.params["W1"] += 1.0
    net.loss(X + 3.0, y)  # changes the statistics
    assert not np.allclose(net.bn_params[0]["running_mean"], saved_mean)
    net.load_state_dict(state)
    assert np.array_equal(net.params["W1"], state["params"]["W1"])
    assert np.array_equal(net.bn_params[0]["running_mean"], saved_mean)
    net.params["W1"][0, 0] = 7.0  # the loaded arrays are copies, not the state's own
    assert state["params"]["W1"][0, 0] != 7.0
    with pytest.raises(ValueError, match="state must come from state_dict"):
        FullyConnectedNet([6], 4, 3).load_state_dict(state)


def test_load_state_dict_checks_shapes_and_dtypes():
    small, wide = FullyConnectedNet([5], 4, 3, seed=0), FullyConnectedNet([9], 4, 3, seed=0)
    with pytest.raises(ValueError, match=r"state\['params'\]\['W1'\] is float64 of shape"):
        wide.load_state_dict(small.state_dict())  # same names, other width
    assert wide.params["W1"].shape == (4, 9) and wide.hidden_dims == [9]
    single = FullyConnectedNet([5], 4, 3, seed=0, dtype=np.float32)
    with pytest.raises(ValueError, match="expected float32"):
        single.load_state_dict(small.state_dict())  # same shapes, other dtype
    FullyConnectedNet([5], 4, 3, seed=1).load_state_dict(small.state_dict())  # same layout


def test_load_state_dict_checks_buffers_recursively():
    X, y = np.random.default_rng(0).normal(size=(6, 4)), np.array([0, 1, 2, 0, 1, 2])
    trained = FullyConnectedNet([5], 4, 3, seed=0, normalization="batchnorm")
    trained.loss(X, y)  # fills the running statistics
    fresh = FullyConnectedNet([5], 4, 3, seed=1, normalization="batchnorm")
    fresh.load_state_dict(trained.state_dict())  # a fresh buffer lacks the statistics: fine
    assert np.array_equal(fresh.bn_params[0]["running_mean"],
                          trained.bn_params[0]["running_mean"])
    state = trained.state_dict()
    state["bn_params"][0]["running_mean"] = np.zeros(7)
    with pytest.raises(ValueError, match=r"state\['bn_params'\]\[0\]\['running_mean'\]"):
        fresh.load_state_dict(state)
    state["bn_params"] = state["bn_params"] * 2  # one entry per hidden layer
    with pytest.raises(ValueError, match="does not have 1 entries"):
        fresh.load_state_dict(state)


@pytest.mark.parametrize("name", ["params", "loss", "num_layers", "options"])
def test_register_buffer_rejects_names_of_attributes(name):
    net = FullyConnectedNet([5], 4, 3, seed=0)
    with pytest.raises(ValueError, match="already an attribute"):
        net.register_buffer(name, [])
    net.register_buffer("statistics", [1.0])
    net.register_buffer("statistics", [2.0])  # a buffer may be replaced
    assert net.statistics == [2.0] and set(net.state_dict()) == {"params", "statistics"}


def test_validation_loss_in_test_mode_leaves_running_statistics_alone():
    net = FullyConnectedNet([5, 4], 4, 3, seed=1, normalization="batchnorm")
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(8, 4)), rng.integers(0, 3, size=8)
    net.loss(X, y)
    before = [p["running_mean"].copy() for p in net.bn_params]
    loss_test, _ = net.loss(X + 5.0, y, mode="test")
    assert all(np.array_equal(p["running_mean"], b)
               for p, b in zip(net.bn_params, before, strict=True))
    net.loss(X + 5.0, y)  # negative control: the default (training) mode updates them
    assert not np.allclose(net.bn_params[0]["running_mean"], before[0])
    with pytest.raises(ValueError, match="mode must be"):
        net.loss(X, y, mode="eval")


def test_dropout_is_off_in_test_mode_with_labels():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(7, 4)), rng.integers(0, 3, size=7)
    drop = FullyConnectedNet([6], 4, 3, seed=2, weight_scale=0.5, dropout=0.5)
    plain = FullyConnectedNet([6], 4, 3, seed=2, weight_scale=0.5)
    loss_plain, grads_plain = plain.loss(X, y)
    loss_test, grads_test = drop.loss(X, y, mode="test")
    assert loss_test == loss_plain
    assert all(np.array_equal(grads_test[k], grads_plain[k]) for k in grads_plain)
    assert drop.loss(X, y)[0] != loss_plain  # training mode drops units


def test_solver_restores_the_best_epochs_running_statistics(monkeypatch):
    data = blobs(seed=3)
    data["y_val"] = np.random.default_rng(0).permutation(data["y_val"])  # noisy validation
    net = FullyConnectedNet([10], 4, 3, weight_scale=0.1, seed=0, normalization="batchnorm")
    solver = Solver(net, data, optim_config={"learning_rate": 0.5}, batch_size=16,
                    num_epochs=6, seed=0)
    states, record = [], Solver._record

    def recording(self):
        record(self)
        states.append(self.model.state_dict())

    monkeypatch.setattr(Solver, "_record", recording)
    solver.train()
    best = solver.val_acc_history.index(solver.best_val_acc)
    assert best < len(states) - 1  # the best epoch is not the last one: the test can fail
    last_mean = states[-1]["bn_params"][0]["running_mean"]
    best_mean = states[best]["bn_params"][0]["running_mean"]
    assert not np.array_equal(last_mean, best_mean)
    assert np.array_equal(net.bn_params[0]["running_mean"], best_mean)
    best_var = states[best]["bn_params"][0]["running_var"]
    assert np.array_equal(net.bn_params[0]["running_var"], best_var)
    assert all(np.array_equal(net.params[k], states[best]["params"][k]) for k in net.params)
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.best_val_acc
