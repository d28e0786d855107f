"""Unit tests of the learning-rate schedules of chapter 12 (dlcode.optim).

Every schedule is compared with the torch.optim.lr_scheduler class it reproduces, rate by rate over
hundreds of steps and several hyperparameter settings, to a relative 1e-12; the scheduled rule is
compared with torch optimizers driven by schedulers; argument checks name the argument.
"""

import math

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as sch

from dlcode.checks import ArgumentTypeError
from dlcode.gradcheck import rel_error
from dlcode.optim import (
    adam,
    cosine_annealing,
    exponential_decay,
    linear_warmup,
    rmsprop_momentum,
    scheduled,
    sequential,
    sgd,
    sgd_momentum,
    step_decay,
)
from dlcode.solver import Solver


def torch_rates(make_scheduler, lr, steps):
    """The rate of each of `steps` updates of an optimizer driven by a torch scheduler."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler, rates = make_scheduler(opt), []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return np.array(rates)


def ours(schedule, steps):
    return np.array([schedule(t) for t in range(steps)])


@pytest.mark.parametrize("lr, step_size, gamma, steps", [
    (0.1, 30, 0.5, 300), (1.0, 1, 0.9, 250), (3e-3, 7, 0.1, 400), (0.5, 50, 1.0, 200),
])
def test_step_decay_equals_steplr(lr, step_size, gamma, steps):
    theirs = torch_rates(lambda o: sch.StepLR(o, step_size, gamma), lr, steps)
    assert rel_error(ours(step_decay(lr, step_size, gamma), steps), theirs) < 1e-12


@pytest.mark.parametrize("lr, gamma, steps", [
    (0.1, 0.98, 300), (2.0, 0.999, 600), (1e-3, 0.9, 200), (0.3, 1.0, 200),
])
def test_exponential_decay_equals_exponentiallr(lr, gamma, steps):
    theirs = torch_rates(lambda o: sch.ExponentialLR(o, gamma), lr, steps)
    assert rel_error(ours(exponential_decay(lr, gamma), steps), theirs) < 1e-12


@pytest.mark.parametrize("lr, total, min_lr", [
    (0.1, 200, 0.0), (0.1, 250, 1e-3), (1.0, 333, 0.5), (0.05, 600, 1e-5), (0.2, 1, 0.0),
])
def test_cosine_annealing_equals_cosineannealinglr_up_to_the_horizon(lr, total, min_lr):
    steps = total + 1  # past the horizon PyTorch's cosine climbs back (next test)
    theirs = torch_rates(lambda o: sch.CosineAnnealingLR(o, total, min_lr), lr, steps)
    assert rel_error(ours(cosine_annealing(lr, total, min_lr), steps), theirs) < 1e-12


def test_cosine_annealing_stays_at_the_floor_where_pytorch_climbs_back():
    schedule = cosine_annealing(0.1, 200, 1e-3)
    theirs = torch_rates(lambda o: sch.CosineAnnealingLR(o, 200, 1e-3), 0.1, 401)
    assert all(schedule(t) == 1e-3 for t in range(200, 1000, 37))
    assert abs(theirs[400] - 0.1) < 1e-12 and theirs[300] > 0.04


@pytest.mark.parametrize("lr, warmup, start, steps", [
    (0.1, 40, 0.05, 250), (1.0, 200, 0.01, 300), (0.3, 1, 0.5, 200), (0.02, 17, 1.0, 200),
])
def test_linear_warmup_equals_linearlr(lr, warmup, start, steps):
    theirs = torch_rates(lambda o: sch.LinearLR(o, start, 1.0, warmup), lr, steps)
    assert rel_error(ours(linear_warmup(lr, warmup, start), steps), theirs) < 1e-12


@pytest.mark.parametrize("lr, warmup, total, start, min_lr", [
    (0.1, 20, 250, 0.01, 0.0), (0.5, 100, 400, 0.1, 1e-3), (0.03, 5, 205, 0.2, 0.0),
])
def test_warmup_then_cosine_equals_sequentiallr(lr, warmup, total, start, min_lr):
    schedule = sequential([linear_warmup(lr, warmup, start),
                           cosine_annealing(lr, total - warmup, min_lr)], [warmup])
    theirs = torch_rates(lambda o: sch.SequentialLR(
        o, [sch.LinearLR(o, start, 1.0, warmup),
            sch.CosineAnnealingLR(o, total - warmup, min_lr)], [warmup]), lr, total + 1)
    assert rel_error(ours(schedule, total + 1), theirs) < 1e-12


def test_three_schedules_in_sequence_equal_sequentiallr():
    schedule = sequential([linear_warmup(0.1, 10, 0.1), exponential_decay(0.1, 0.99),
                           step_decay(0.1, 25, 0.5)], [10, 110])
    theirs = torch_rates(lambda o: sch.SequentialLR(
        o, [sch.LinearLR(o, 0.1, 1.0, 10), sch.ExponentialLR(o, 0.99),
            sch.StepLR(o, 25, 0.5)], [10, 110]), 0.1, 300)
    assert rel_error(ours(schedule, 300), theirs) < 1e-12


def test_a_schedule_shifted_by_one_step_fails_the_comparison():
    theirs = torch_rates(lambda o: sch.StepLR(o, 30, 0.5), 0.1, 200)
    shifted = np.array([step_decay(0.1, 30, 0.5)(t + 1) for t in range(200)])
    assert rel_error(shifted, theirs) > 0.1


def test_closed_forms():
    assert step_decay(2.0, 3, 0.5)(5) == 1.0 and step_decay(2.0, 3, 0.5)(6) == 0.5
    assert math.isclose(exponential_decay(1.0, 0.5)(3), 0.125)
    assert math.isclose(cosine_annealing(1.0, 4, 0.2)(2), 0.6)
    assert math.isclose(linear_warmup(1.0, 4, 0.2)(1), 0.4)
    assert linear_warmup(1.0, 4, 0.2)(100) == 1.0
    seq = sequential([lambda t: 10.0 + t, lambda t: 20.0 + t], [3])
    assert [seq(t) for t in range(5)] == [10.0, 11.0, 12.0, 20.0, 21.0]


@pytest.mark.parametrize("call, name", [
    (lambda: step_decay(0.0, 10), "lr"),
    (lambda: step_decay(0.1, 0), "step_size"),
    (lambda: step_decay(0.1, 10, 1.5), "gamma"),
    (lambda: exponential_decay(-1.0, 0.9), "lr"),
    (lambda: exponential_decay(0.1, 0.0), "gamma"),
    (lambda: cosine_annealing(0.1, 0), "total_steps"),
    (lambda: cosine_annealing(0.1, 10, 0.2), "min_lr"),
    (lambda: cosine_annealing(0.1, 10, -1e-3), "min_lr"),
    (lambda: linear_warmup(0.1, 0), "warmup_steps"),
    (lambda: linear_warmup(0.1, 10, 0.0), "start_factor"),
    (lambda: linear_warmup(float("nan"), 10), "lr"),
    (lambda: sequential([cosine_annealing(0.1, 10)] * 2, [0]), "milestone"),
    (lambda: sequential([cosine_annealing(0.1, 10)] * 3, [5, 5]), "milestone"),
    (lambda: sequential([cosine_annealing(0.1, 10)] * 2, []), "milestones"),
    (lambda: sequential([], []), "schedules"),
    (lambda: sequential([0.1], []), "schedules"),
    (lambda: cosine_annealing(0.1, 10)(-1), "t"),
    (lambda: cosine_annealing(0.1, 10)(1.5), "t"),
    (lambda: scheduled("sgd", cosine_annealing(0.1, 10)), "rule"),
    (lambda: scheduled(sgd, 0.1), "schedule"),
    (lambda: scheduled(sgd, cosine_annealing(0.1, 10))(
        np.zeros(2), np.ones(2), {"schedule_step": -1}), "schedule_step"),
    (lambda: scheduled(sgd, cosine_annealing(0.1, 10))(
        np.zeros(2), np.ones(2), {"schedule_step": 2.0}), "schedule_step"),
])
def test_invalid_arguments_raise_errors_naming_them(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_type_errors_are_type_errors():
    with pytest.raises(TypeError):
        step_decay("0.1", 10)
    with pytest.raises(ArgumentTypeError):
        scheduled(sgd, None)


@pytest.mark.parametrize("rule, config, make_opt", [
    (sgd, {}, lambda p: torch.optim.SGD(p, lr=0.1)),
    (sgd_momentum, {"momentum": 0.8}, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.8)),
    (adam, {"beta1": 0.8, "beta2": 0.99},
     lambda p: torch.optim.Adam(p, lr=0.1, betas=(0.8, 0.99))),
    (rmsprop_momentum, {"momentum": 0.5},
     lambda p: torch.optim.RMSprop(p, lr=0.1, momentum=0.5)),
])
def test_scheduled_rules_equal_torch_optimizers_with_schedulers(rule, config, make_opt):
    rng = np.random.default_rng(0)
    w0, grads = rng.normal(size=(4, 3)), rng.normal(size=(250, 4, 3))
    schedule = sequential([linear_warmup(0.1, 25, 0.05), step_decay(0.1, 60, 0.3)], [25])
    p = torch.nn.Parameter(torch.tensor(w0))
    opt = make_opt([p])
    scheduler = sch.SequentialLR(opt, [sch.LinearLR(opt, 0.05, 1.0, 25),
                                       sch.StepLR(opt, 60, 0.3)], [25])
    w, cfg, mine, theirs = w0, dict(config), [], []
    for g in grads:
        w, cfg = scheduled(rule, schedule)(w, g, cfg)
        p.grad = torch.tensor(g)
        opt.step()
        scheduler.step()
        mine.append(w)
        theirs.append(p.detach().numpy().copy())
    assert rel_error(np.array(mine), np.array(theirs)) < 1e-10
    assert cfg["schedule_step"] == 250 and cfg["learning_rate"] == schedule(249)


def test_scheduled_rule_sets_the_rate_and_leaves_the_callers_config_alone():
    calls = []

    def spy(w, dw, config):
        calls.append(config["learning_rate"])
        return w - config["learning_rate"] * dw, config

    rule = scheduled(spy, exponential_decay(1.0, 0.5))
    caller = {"schedule_step": 2, "other": [1]}
    w, config = rule(np.ones(2), np.ones(2), caller)
    assert calls == [0.25] and np.allclose(w, 0.75)
    assert caller == {"schedule_step": 2, "other": [1]} and config["schedule_step"] == 3
    _, config = rule(w, np.ones(2), config)
    assert calls == [0.25, 0.125] and config["schedule_step"] == 4
    assert rule.__name__ == "scheduled_spy"


def test_cosine_to_zero_reaches_a_rate_the_rules_reject():
    rule = scheduled(sgd, cosine_annealing(0.1, 3))
    w, config = np.ones(2), None
    for _ in range(3):  # t = 0, 1, 2 have positive rates
        w, config = rule(w, np.ones(2), config)
    with pytest.raises(ValueError, match="learning_rate"):
        rule(w, np.ones(2), config)  # t = 3: the rate is 0


def test_scheduled_rule_works_in_the_solver():
    from dlcode.data import load_digits
    from dlcode.models import FullyConnectedNet

    data = load_digits()
    model = FullyConnectedNet([16], 64, 10, weight_scale=0.05, seed=0)
    schedule = cosine_annealing(0.3, 1000)
    solver = Solver(model, data, scheduled(sgd_momentum, schedule), batch_size=200,
                    num_epochs=2, seed=0).train()
    steps = len(solver.loss_history)
    for config in solver.optim_configs.values():
        assert config["schedule_step"] == steps
        assert config["learning_rate"] == schedule(steps - 1)


def test_scheduled_rule_rejects_a_rate_changed_by_lr_decay():
    from dlcode.data import load_digits
    from dlcode.models import FullyConnectedNet

    data = load_digits()
    model = FullyConnectedNet([16], 64, 10, weight_scale=0.05, seed=0)
    solver = Solver(model, data, scheduled(sgd_momentum, cosine_annealing(0.3, 1000)),
                    batch_size=200, num_epochs=2, seed=0, lr_decay=0.5)
    with pytest.raises(ValueError, match="learning_rate.*lr_decay"):
        solver.train()  # the first step of the second epoch finds the decayed rate


def test_scheduled_rule_rejects_a_callers_rate_other_than_the_first():
    rule = scheduled(sgd, exponential_decay(1.0, 0.5))
    with pytest.raises(ValueError, match="learning_rate"):
        rule(np.ones(2), np.ones(2), {"learning_rate": 0.3})
    w, config = rule(np.ones(2), np.ones(2), {"learning_rate": 1.0})  # schedule(0): fine
    assert np.allclose(w, 0.0) and config["learning_rate"] == 1.0
    with pytest.raises(ValueError, match="learning_rate"):
        rule(w, np.ones(2), {**config, "learning_rate": 0.9})


def test_the_solvers_lr_decay_is_step_decay_per_epoch():
    from dlcode.data import load_digits
    from dlcode.models import FullyConnectedNet

    data = load_digits()
    per_epoch = -(-len(data["X_train"]) // 200)
    losses = []
    for rule, config, decay in ((sgd_momentum, {"learning_rate": 0.2}, 0.5),
                                (scheduled(sgd_momentum, step_decay(0.2, per_epoch, 0.5)),
                                 {}, 1.0),
                                # negative control: the decay one step late
                                (scheduled(sgd_momentum, step_decay(0.2, per_epoch + 1, 0.5)),
                                 {}, 1.0)):
        model = FullyConnectedNet([16], 64, 10, weight_scale=0.05, seed=1)
        solver = Solver(model, data, rule, optim_config=config, lr_decay=decay,
                        batch_size=200, num_epochs=3, seed=1).train()
        losses.append(np.array(solver.loss_history))  # depends on every update
    assert len(losses[0]) == 3 * per_epoch and np.array_equal(losses[0], losses[1])
    assert not np.array_equal(losses[0], losses[2])
