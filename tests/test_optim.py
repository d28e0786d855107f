"""Unit tests of the update rules of chapter 12 (dlcode.optim) and of clip_grad_norm.

Every rule is compared step by step with the torch.optim optimizer it reproduces, for random shapes,
hyperparameters, gradient sequences and learning-rate changes; the update-rule contract (no
in-place modification, defaults, validation) is tested for all of them.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from dlcode.gradcheck import rel_error
from dlcode.optim import (
    adagrad,
    adam,
    clip_grad_norm,
    nesterov_momentum,
    rmsprop,
    rmsprop_momentum,
    sgd_momentum,
)

RULES = {
    "sgd_momentum": sgd_momentum,
    "nesterov_momentum": nesterov_momentum,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "rmsprop_momentum": rmsprop_momentum,
    "adam": adam,
}
STATE_KEYS = {
    "sgd_momentum": ("velocity",),
    "nesterov_momentum": ("velocity",),
    "adagrad": ("cache",),
    "rmsprop": ("cache",),
    "rmsprop_momentum": ("cache", "velocity"),
    "adam": ("m", "v"),
}
DEFAULTS = {
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "nesterov_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "adagrad": {"learning_rate": 1e-2, "epsilon": 1e-8},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "rmsprop_momentum": {"learning_rate": 1e-2, "decay_rate": 0.99, "momentum": 0.9,
                         "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
}
FRACTION_KEYS = {
    "sgd_momentum": ("momentum",),
    "nesterov_momentum": ("momentum",),
    "adagrad": (),
    "rmsprop": ("decay_rate",),
    "rmsprop_momentum": ("decay_rate", "momentum"),
    "adam": ("beta1", "beta2"),
}

seeds = st.integers(0, 2**32 - 1)
learning_rates = st.floats(1e-4, 1.0)
fractions = st.floats(0.0, 0.999)
epsilons = st.floats(1e-10, 1e-2)


@st.composite
def hyperparameters(draw, name):
    """A config for rule `name` and the keyword arguments of the matching torch optimizer."""
    lr = draw(learning_rates)
    if name in ("sgd_momentum", "nesterov_momentum"):
        mu = draw(st.floats(0.01, 0.999))  # torch refuses Nesterov without momentum
        return ({"learning_rate": lr, "momentum": mu},
                ("SGD", {"lr": lr, "momentum": mu, "nesterov": name == "nesterov_momentum"}))
    if name == "adagrad":
        eps = draw(epsilons)
        return {"learning_rate": lr, "epsilon": eps}, ("Adagrad", {"lr": lr, "eps": eps})
    if name in ("rmsprop", "rmsprop_momentum"):
        beta, eps = draw(fractions), draw(epsilons)
        config = {"learning_rate": lr, "decay_rate": beta, "epsilon": eps}
        kwargs = {"lr": lr, "alpha": beta, "eps": eps}
        if name == "rmsprop_momentum":
            config["momentum"] = kwargs["momentum"] = draw(st.floats(0.01, 0.999))
        return config, ("RMSprop", kwargs)
    beta1, beta2, eps = draw(fractions), draw(fractions), draw(epsilons)
    return ({"learning_rate": lr, "beta1": beta1, "beta2": beta2, "epsilon": eps},
            ("Adam", {"lr": lr, "betas": (beta1, beta2), "eps": eps}))


@pytest.mark.parametrize("name", sorted(RULES))
@given(data=st.data())
def test_rule_matches_torch_optim(name, data):
    import torch
    shape = data.draw(array_shapes(min_dims=0, max_dims=3, max_side=5), label="shape")
    config, (cls, kwargs) = data.draw(hyperparameters(name), label="hyperparameters")
    steps = data.draw(st.integers(1, 60), label="steps")
    change_at = data.draw(st.integers(0, steps), label="learning-rate change")
    rng = np.random.default_rng(data.draw(seeds, label="seed"))
    w0 = rng.normal(size=shape)
    scales = 10.0 ** rng.uniform(-3, 3, size=(steps,) + (1,) * len(shape))
    grads = scales * rng.normal(size=(steps, *shape))
    lrs = [config["learning_rate"] * (1 if t < change_at else 0.1) for t in range(steps)]

    param = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    opt = getattr(torch.optim, cls)([param], **kwargs)
    w = w0
    for g, lr in zip(grads, lrs, strict=True):
        opt.param_groups[0]["lr"] = lr
        param.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        config = {**config, "learning_rate": lr}
        w, config = RULES[name](w, g, config)
        assert w.shape == shape and w.dtype == np.float64
        assert rel_error(w, param.detach().numpy()) < 1e-7
    # Far below the bar in practice: only rounding separates the two (it accumulates over up to
    # 60 steps with gradients spanning six orders of magnitude; seen up to 3e-11).
    assert rel_error(w, param.detach().numpy()) < 1e-9


@pytest.mark.parametrize("name", sorted(RULES))
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=6), seed=seeds,
       warmup=st.integers(0, 3))
def test_rules_never_modify_their_inputs(name, shape, seed, warmup):
    rule = RULES[name]
    rng = np.random.default_rng(seed)
    w, dw = rng.normal(size=shape), rng.normal(size=shape)
    config = {"note": [1, 2]}
    for _ in range(warmup):  # a config that already carries state
        _, config = rule(w, rng.normal(size=shape), config)
    w_before, dw_before = w.copy(), dw.copy()
    config_before = dict(config)
    states = {k: config[k] for k in STATE_KEYS[name] if k in config}
    states_before = {k: v.copy() for k, v in states.items()}

    next_w, next_config = rule(w, dw, config)

    assert np.array_equal(w, w_before) and np.array_equal(dw, dw_before)
    assert config.keys() == config_before.keys()
    assert all(config[k] is config_before[k] for k in config)  # same objects in the caller's dict
    assert all(np.array_equal(states[k], states_before[k]) for k in states)
    assert next_config is not config and next_config["note"] == [1, 2]
    inputs = [w, dw, *states.values()]
    outputs = [next_w] + [next_config[k] for k in STATE_KEYS[name]]
    for out in outputs:
        assert not any(np.shares_memory(out, x) for x in inputs)
    for a in range(len(outputs)):
        for b in range(a + 1, len(outputs)):
            assert not np.shares_memory(outputs[a], outputs[b])
    if name == "adam":
        assert next_config["t"] == config.get("t", 0) + 1


@pytest.mark.parametrize("name", sorted(RULES))
def test_defaults_are_filled_into_a_copy(name):
    rule = RULES[name]
    w, dw = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    for config in (None, {}):
        _, new = rule(w, dw, config)
        assert {k: new[k] for k in DEFAULTS[name]} == DEFAULTS[name]
        assert set(new) == set(DEFAULTS[name]) | set(STATE_KEYS[name]) | (
            {"t"} if name == "adam" else set())
    caller = {}
    rule(w, dw, caller)
    assert caller == {}
    _, kept = rule(w, dw, {"learning_rate": 0.5, "other": "kept"})
    assert kept["learning_rate"] == 0.5 and kept["other"] == "kept"


def test_first_steps_follow_the_formulas():
    g = np.array([3.0, -0.25, 1e-3])
    w = np.array([1.0, 2.0, 3.0])
    lr = 0.1
    # Momentum: the buffer starts at g; Nesterov adds momentum * buffer once more.
    np.testing.assert_allclose(sgd_momentum(w, g, {"learning_rate": lr})[0], w - lr * g)
    np.testing.assert_allclose(nesterov_momentum(w, g, {"learning_rate": lr})[0],
                               w - lr * 1.9 * g)
    # Adagrad: a = g^2, a step of lr per coordinate up to epsilon.
    np.testing.assert_allclose(adagrad(w, g, {"learning_rate": lr})[0],
                               w - lr * g / (abs(g) + 1e-8))
    # RMSProp: a = (1 - beta) g^2, a first step of lr / sqrt(1 - beta) = 10 lr.
    np.testing.assert_allclose(rmsprop(w, g, {"learning_rate": lr})[0],
                               w - lr * g / (np.sqrt(0.01) * abs(g) + 1e-8))
    # Adam: bias correction makes the first step lr * g / (|g| + epsilon).
    np.testing.assert_allclose(adam(w, g, {"learning_rate": lr})[0],
                               w - lr * g / (abs(g) + 1e-8))


def test_constant_gradient_adam_moments_are_unbiased():
    g = np.array([1e-3, -0.5, 300.0])
    w, config = np.zeros(3), None
    for t in range(1, 101):
        w, config = adam(w, g, config)
        np.testing.assert_allclose(config["m"] / (1 - 0.9**t), g, rtol=1e-13)
        np.testing.assert_allclose(config["v"] / (1 - 0.999**t), g * g, rtol=1e-12)


def test_momentum_conventions_agree_for_a_constant_learning_rate():
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(100, 5))
    w, config = np.zeros(5), {"learning_rate": 0.03, "momentum": 0.8}
    theta, v = np.zeros(5), np.zeros(5)
    for g in grads:
        w, config = sgd_momentum(w, g, config)
        v = 0.8 * v - 0.03 * g
        theta = theta + v
        np.testing.assert_allclose(-0.03 * config["velocity"], v, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(w, theta, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(RULES))
def test_rules_keep_the_parameter_dtype(name):
    w = np.ones((2, 3), dtype=np.float32)
    next_w, config = RULES[name](w, np.full((2, 3), 0.5, dtype=np.float32))
    assert next_w.dtype == np.float32 and np.all(next_w < 1)
    next_w, _ = RULES[name](w, np.full((2, 3), 0.5), config)  # float64 gradient
    assert next_w.dtype == np.float32


@pytest.mark.parametrize("name", sorted(RULES))
@pytest.mark.parametrize("lr", [0, -1e-3, math.nan, math.inf])
def test_rules_reject_bad_learning_rates(name, lr):
    with pytest.raises(ValueError, match=r"config\['learning_rate'\] must be a finite number "
                                         r"in \(0, inf\)"):
        RULES[name](np.zeros(3), np.zeros(3), {"learning_rate": lr})


@pytest.mark.parametrize("name", sorted(RULES))
@pytest.mark.parametrize("key", ["learning_rate", "epsilon", "momentum", "beta1"])
@pytest.mark.parametrize("value", ["0.1", None, True, np.ones(1)])
def test_rules_reject_hyperparameters_of_the_wrong_type(name, key, value):
    if key not in DEFAULTS[name]:
        return
    with pytest.raises(TypeError, match=rf"config\['{key}'\] must be a real number"):
        RULES[name](np.zeros(3), np.zeros(3), {key: value})


@pytest.mark.parametrize("name, key", [(n, k) for n in sorted(RULES) for k in FRACTION_KEYS[n]])
@pytest.mark.parametrize("value", [-0.1, 1, 1.0, 1.5, math.nan, math.inf])
def test_rules_reject_decay_constants_outside_the_unit_interval(name, key, value):
    with pytest.raises(ValueError, match=rf"config\['{key}'\] must be a finite number "
                                         r"in \[0, 1\)"):
        RULES[name](np.zeros(3), np.zeros(3), {key: value})


@pytest.mark.parametrize("name", sorted(n for n in RULES if "epsilon" in DEFAULTS[n]))
@pytest.mark.parametrize("eps", [0, 0.0, -1e-8, math.nan, math.inf])
def test_rules_reject_bad_epsilons(name, eps):
    with pytest.raises(ValueError, match=r"config\['epsilon'\] must be a finite number in \(0"):
        RULES[name](np.zeros(3), np.zeros(3), {"epsilon": eps})


@pytest.mark.parametrize("name", sorted(RULES))
def test_boundary_values_zero_are_accepted(name):
    config = {k: 0.0 for k in FRACTION_KEYS[name]}
    next_w, _ = RULES[name](np.ones(2), np.ones(2), config)
    assert np.all(np.isfinite(next_w))


@pytest.mark.parametrize("name", sorted(RULES))
def test_shape_mismatch_names_both_shapes(name):
    with pytest.raises(ValueError, match=r"w \(2, 3\) and dw \(3, 2\)"):
        RULES[name](np.zeros((2, 3)), np.zeros((3, 2)))


@pytest.mark.parametrize("name", sorted(RULES))
def test_state_of_the_wrong_shape_is_rejected(name):
    key = STATE_KEYS[name][0]
    with pytest.raises(ValueError, match=rf"config\['{key}'\] must be a floating-point array "
                                         r"of the shape of w \(3,\), got dtype float64 and shape"):
        RULES[name](np.zeros(3), np.zeros(3), {key: np.zeros(4)})
    with pytest.raises(ValueError, match=rf"config\['{key}'\] must be a floating-point array"):
        RULES[name](np.zeros(3), np.zeros(3), {key: np.zeros(3, dtype=int)})
    _, config = RULES[name](np.zeros(3), np.ones(3), {key: None})  # None means "no state yet"
    assert config[key].shape == (3,)


@pytest.mark.parametrize("name", sorted(RULES))
@pytest.mark.parametrize("config", [[("learning_rate", 0.1)], "lr", 0.1])
def test_rules_reject_a_config_that_is_not_a_dict(name, config):
    with pytest.raises(ValueError, match="config must be a dict or None"):
        RULES[name](np.zeros(2), np.zeros(2), config)


@pytest.mark.parametrize("name", sorted(RULES))
def test_rules_reject_non_float_arrays(name):
    with pytest.raises(ValueError, match="^w must be a floating-point array"):
        RULES[name](np.zeros(3, dtype=int), np.zeros(3))


@pytest.mark.parametrize("t", [1.5, True, "3", None])
def test_adam_rejects_a_step_count_that_is_not_an_integer(t):
    with pytest.raises(TypeError, match=r"config\['t'\] must be an integer"):
        adam(np.zeros(2), np.zeros(2), {"t": t})


def test_adam_rejects_a_negative_step_count():
    with pytest.raises(ValueError, match=r"config\['t'\] must be an integer in \[0, inf\]"):
        adam(np.zeros(2), np.zeros(2), {"t": -1})


@pytest.mark.parametrize("name", ["adagrad", "rmsprop", "rmsprop_momentum", "adam"])
def test_adaptive_rules_refuse_gradients_whose_squares_overflow(name):
    # dw**2 = inf would turn the step into dw / inf = 0: a silent wrong answer.
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="rescale the loss"):
        RULES[name](np.zeros(2), np.array([1e200, 1.0]))
    next_w, _ = RULES[name](np.zeros(2), np.array([1e150, -1e150]), {"learning_rate": 0.5})
    # |dw| = 1e150 still squares to a finite 1e300: the usual first step (10 lr for RMSProp)
    expected = 0.5 if name in ("adagrad", "adam") else 5.0
    np.testing.assert_allclose(np.abs(next_w), expected, rtol=1e-6)


def test_adagrad_refuses_a_sum_of_squares_that_overflows_without_a_warning():
    # Each |dw| = 1e154 squares to a finite 1e308, and two of them sum past 1.8e308 (the
    # moving averages of the other rules stay below the largest square). The refusal
    # must name the accumulation, and no RuntimeWarning must come before it.
    w, config = np.zeros(1), {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"accumulated dw\*\*2 is not finite"):
            for _ in range(10):
                w, config = RULES["adagrad"](w, np.array([1e154]), config)


def test_adam_accepts_a_numpy_step_count():
    _, config = adam(np.zeros(2), np.ones(2), {"t": np.int64(4)})
    assert config["t"] == 5 and isinstance(config["t"], int)


# --- clip_grad_norm ---------------------------------------------------------------------------

@st.composite
def gradient_dicts(draw):
    n = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(seeds))
    shapes = [draw(array_shapes(min_dims=0, max_dims=3, max_side=4)) for _ in range(n)]
    scale = 10.0 ** draw(st.floats(-3, 3))
    return {f"p{i}": scale * rng.normal(size=s) for i, s in enumerate(shapes)}


@given(grads=gradient_dicts(), max_norm=st.floats(0.01, 100.0))
def test_clip_grad_norm_matches_torch_up_to_its_epsilon(grads, max_norm):
    import torch
    total = math.sqrt(sum(float(np.sum(g**2)) for g in grads.values()))
    clipped, norm = clip_grad_norm(grads, max_norm)
    assert math.isclose(norm, total, rel_tol=1e-12)

    params = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64))
              for g in grads.values()]
    for p, g in zip(params, grads.values(), strict=True):
        p.grad = torch.tensor(g)
    torch_norm = torch.nn.utils.clip_grad_norm_(params, max_norm).item()
    assert math.isclose(torch_norm, total, rel_tol=1e-12)
    # torch multiplies by min(1, max_norm / (total + 1e-6)); we by min(1, max_norm / total).
    torch_factor = min(1.0, max_norm / (total + 1e-6))
    our_factor = min(1.0, max_norm / total) if total > 0 else 1.0
    for p, (name, g) in zip(params, grads.items(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), g * torch_factor, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(clipped[name], g * our_factor, rtol=1e-12, atol=1e-300)


@given(grads=gradient_dicts(), max_norm=st.floats(0.01, 100.0))
def test_clip_grad_norm_keeps_the_direction_and_caps_the_norm(grads, max_norm):
    before = {k: g.copy() for k, g in grads.items()}
    clipped, norm = clip_grad_norm(grads, max_norm)
    assert all(np.array_equal(grads[k], before[k]) for k in grads)  # inputs untouched
    assert clipped.keys() == grads.keys()
    new_norm = math.sqrt(sum(float(np.sum(g**2)) for g in clipped.values()))
    assert math.isclose(new_norm, min(norm, max_norm), rel_tol=1e-12)
    flat, flat_clipped = (np.concatenate([d[k].ravel() for k in grads]) for d in (grads, clipped))
    if norm > 0:
        cosine = flat @ flat_clipped / (np.linalg.norm(flat) * np.linalg.norm(flat_clipped))
        assert math.isclose(cosine, 1.0, rel_tol=1e-12)
    for k in grads:
        assert clipped[k].shape == grads[k].shape
        assert not np.shares_memory(clipped[k], grads[k])
    if norm <= max_norm:  # no-op below the threshold
        assert all(np.array_equal(clipped[k], grads[k]) for k in grads)


def test_clip_grad_norm_is_a_no_op_exactly_at_the_threshold():
    g = {"a": np.array([3.0, 4.0])}
    clipped, norm = clip_grad_norm(g, 5.0)
    assert norm == 5.0 and np.array_equal(clipped["a"], g["a"])
    clipped, _ = clip_grad_norm(g, 2.5)
    np.testing.assert_array_equal(clipped["a"], [1.5, 2.0])


def test_clip_grad_norm_neither_overflows_nor_underflows():
    for scale in (1e200, 1e-200):
        g = {"a": np.array([3.0, 0.0]) * scale, "b": np.array([[4.0]]) * scale}
        clipped, norm = clip_grad_norm(g, 1.0)
        assert math.isclose(norm, 5 * scale, rel_tol=1e-14)
        expected = 1.0 if scale > 1 else 5 * scale
        total = math.hypot(*clipped["a"], clipped["b"][0, 0])
        assert math.isclose(total, expected, rel_tol=1e-14)


def test_clip_grad_norm_edge_cases():
    assert clip_grad_norm({}, 1.0) == ({}, 0.0)
    clipped, norm = clip_grad_norm({"z": np.zeros(3), "e": np.zeros((0, 2))}, 1.0)
    assert norm == 0.0 and np.array_equal(clipped["z"], np.zeros(3))
    assert clipped["e"].shape == (0, 2)
    clipped, _ = clip_grad_norm({"f": np.full(4, 10.0, dtype=np.float32)}, 1.0)
    assert clipped["f"].dtype == np.float32
    np.testing.assert_allclose(clipped["f"], 0.5, rtol=1e-6)


@pytest.mark.parametrize("max_norm", [0, 0.0, -1.0, math.nan, math.inf])
def test_clip_grad_norm_rejects_bad_thresholds(max_norm):
    with pytest.raises(ValueError, match=r"max_norm must be a finite number in \(0, inf\)"):
        clip_grad_norm({"a": np.ones(2)}, max_norm)


@pytest.mark.parametrize("max_norm", [True, "1", None])
def test_clip_grad_norm_rejects_thresholds_of_the_wrong_type(max_norm):
    with pytest.raises(TypeError, match="max_norm must be a real number"):
        clip_grad_norm({"a": np.ones(2)}, max_norm)


def test_clip_grad_norm_keeps_the_direction_of_a_norm_beyond_the_float_range():
    g = {"a": np.array([1.7e308, 1.7e308]), "b": np.array([-1.7e308])}
    clipped, norm = clip_grad_norm(g, 2.0)
    assert norm == math.inf
    np.testing.assert_allclose(clipped["a"], 2 / math.sqrt(3), rtol=1e-14)
    np.testing.assert_allclose(clipped["b"], -2 / math.sqrt(3), rtol=1e-14)
    assert g["a"][0] == 1.7e308  # the input is untouched


@pytest.mark.parametrize("grads, match", [
    ([np.ones(2)], "grads must be a dict of arrays, got list"),  # TypeError, also a ValueError
    (np.ones(2), "grads must be a dict of arrays, got ndarray"),
    ({"a": np.ones(2, dtype=int)}, r"grads\['a'\] must be a floating-point array, got dtype int"),
    ({"a": np.ones(2), "b": np.array([1.0, math.nan])}, r"grads\['b'\] contains NaN or infinite"),
    ({"a": np.array([math.inf])}, r"grads\['a'\] contains NaN or infinite"),
])
def test_clip_grad_norm_rejects_bad_gradients(grads, match):
    with pytest.raises(ValueError, match=match):
        clip_grad_norm(grads, 1.0)
