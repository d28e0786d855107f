"""Unit tests of dlcode.autograd: the gate functions and the scalar engine Value."""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dlcode.autograd import (
    Value,
    add_gate,
    exp_gate,
    max_gate,
    mul_gate,
    pow_gate,
    reciprocal_gate,
    relu_gate,
    sqrt_gate,
)
from dlcode.gradcheck import numerical_gradient, numerical_gradient_array, rel_error

# --- random expressions with fan-out ------------------------------------------------------------
# A program is a list of (op, i, j, c): node i and node j (indices modulo the number of nodes
# so far) are combined by op, with c a positive constant. The output is the sum of every
# computed node, so each node, and each leaf, typically reaches the output along several paths
# (fan-out).

OPS = ["add", "sub", "mul", "div", "max", "relu", "exp", "square", "cube", "sqrt", "pow",
       "radd", "rsub", "rmul", "rdiv", "neg", "self_mul"]

programs = st.lists(
    st.tuples(st.sampled_from(OPS), st.integers(0, 30), st.integers(0, 30), st.floats(0.5, 2.0)),
    min_size=1, max_size=8,
)
leaf_values = st.lists(st.floats(-2.0, 2.0), min_size=1, max_size=3)


class Engine:
    """The dlcode.autograd backend; records the distance of every max/relu input to its kink."""

    def __init__(self):
        self.margins = []

    def max(self, a, b):
        self.margins.append(abs(a.data - b.data))
        return a.max(b)

    def relu(self, a):
        self.margins.append(abs(a.data))
        return a.relu()

    exp, sqrt = staticmethod(Value.exp), staticmethod(Value.sqrt)


class Floats:
    """Plain Python floats (for central differences)."""

    max, relu = staticmethod(max), staticmethod(lambda a: max(a, 0.0))
    exp, sqrt = staticmethod(math.exp), staticmethod(math.sqrt)


def apply(op, a, b, c, backend):
    if op in ("add", "sub", "mul", "div", "max"):
        return {"add": a + b, "sub": a - b, "mul": a * b * 0.5, "div": a / (b * b + c),
                "max": backend.max(a, b) if op == "max" else None}[op]
    if op == "relu":
        return backend.relu(a - c / 4)
    if op == "exp":
        return backend.exp(a * 0.3)
    if op == "sqrt":
        return backend.sqrt(a * a + c)
    return {"square": a**2 * 0.25, "cube": a**3 * 0.1, "pow": (a * a + c) ** -1.5,
            "radd": c + a, "rsub": c - a, "rmul": c * a, "rdiv": c / (a * a + 1.0), "neg": -a,
            "self_mul": a * a * 0.5}[op]


def run(program, leaves, backend):
    nodes = list(leaves)
    for op, i, j, c in program:
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        if op == "max" and i % len(nodes) == j % len(nodes):
            b = nodes[(j + 1) % len(nodes)] if len(nodes) > 1 else c
        nodes.append(apply(op, a, b, c, backend))
    out = nodes[len(leaves)]
    for node in nodes[len(leaves) + 1 :]:
        out = out + node
    return out


def engine_gradient(program, x):
    engine = Engine()
    leaves = [Value(float(v)) for v in x]
    out = run(program, leaves, engine)
    out.backward()
    return out, np.array([leaf.grad for leaf in leaves]), engine.margins


@given(programs, leaf_values)
def test_random_expressions_match_central_differences(program, values):
    x = np.array(values)
    out, grad, margins = engine_gradient(program, x)
    assume(abs(out.data) < 1e4 and all(m > 1e-2 for m in margins))
    numeric = numerical_gradient(lambda t: run(program, list(t), Floats), x.copy())
    assert out.data == pytest.approx(run(program, list(x), Floats), rel=1e-12, abs=1e-12)
    scale = max(1.0, np.max(np.abs(numeric)))
    np.testing.assert_allclose(grad, numeric, rtol=1e-7, atol=1e-7 * scale)


@given(programs, leaf_values)
def test_random_expressions_match_torch_autograd(program, values):
    import torch

    class Torch:
        max, relu = staticmethod(torch.maximum), staticmethod(torch.relu)
        exp, sqrt = staticmethod(torch.exp), staticmethod(torch.sqrt)

    x = np.array(values)
    out, grad, margins = engine_gradient(program, x)
    assume(abs(out.data) < 1e8 and all(m > 1e-9 for m in margins))  # torch splits ties
    leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    out_t = run(program, leaves, Torch)
    out_t.backward()
    expected = np.array([0.0 if t.grad is None else t.grad.item() for t in leaves])
    assert out.data == pytest.approx(out_t.item(), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(grad, expected, rtol=1e-10, atol=1e-12)


def test_a_checked_expression_with_fan_out():
    def g(a, b, relu, exp, sqrt, maximum):
        return maximum(relu(a * b + b) + (a - b) ** 2 / (exp(a) + 1) + sqrt(a**2 + b**2) - 2 / b,
                       3 - a * b)

    a, b = Value(0.8), Value(1.7)
    out = g(a, b, Value.relu, Value.exp, Value.sqrt, Value.max)
    out.backward()
    numeric = numerical_gradient(
        lambda t: g(t[0], t[1], lambda z: max(z, 0.0), math.exp, math.sqrt, max),
        np.array([0.8, 1.7]))
    assert rel_error([a.grad, b.grad], numeric) < 1e-7


# --- numbers on either side of an operator --------------------------------------------------

@pytest.mark.parametrize("number", [2, -1.5, np.float64(0.75), np.int64(3)])
@pytest.mark.parametrize(
    ("expr", "value", "derivative"),
    [
        (lambda x, c: x + c, lambda x, c: x + c, lambda x, c: 1.0),
        (lambda x, c: c + x, lambda x, c: c + x, lambda x, c: 1.0),
        (lambda x, c: x - c, lambda x, c: x - c, lambda x, c: 1.0),
        (lambda x, c: c - x, lambda x, c: c - x, lambda x, c: -1.0),
        (lambda x, c: x * c, lambda x, c: x * c, lambda x, c: c),
        (lambda x, c: c * x, lambda x, c: c * x, lambda x, c: c),
        (lambda x, c: x / c, lambda x, c: x / c, lambda x, c: 1 / c),
        (lambda x, c: c / x, lambda x, c: c / x, lambda x, c: -c / x**2),
        (lambda x, c: x**c, lambda x, c: x**c, lambda x, c: c * x ** (c - 1)),
        (lambda x, c: -x * c, lambda x, c: -x * c, lambda x, c: -c),
    ],
)
def test_numbers_on_either_side(number, expr, value, derivative):
    x = Value(1.3)
    out = expr(x, number)
    assert isinstance(out, Value)
    out.backward()
    assert out.data == pytest.approx(value(1.3, float(number)), rel=1e-14)
    assert x.grad == pytest.approx(derivative(1.3, float(number)), rel=1e-14)


def test_values_used_twice_receive_the_sum():
    x = Value(3.0)
    (x * x).backward()
    assert x.grad == 6.0
    (x + x).backward()
    assert x.grad == 2.0
    y = x * 2.0
    (y * y + y).backward()  # y is used three times: 2y + 1 = 13, times dy/dx = 2
    assert y.grad == 13.0 and x.grad == 26.0


def test_backward_twice_gives_the_same_gradients():
    a, b = Value(0.4), Value(-1.1)
    out = (a * b + a.exp()) / (b * b + 1)
    out.backward()
    first = (a.grad, b.grad, out.grad)
    out.backward()
    assert (a.grad, b.grad, out.grad) == first


def test_max_ties_go_to_self_and_relu_at_zero_passes_nothing():
    x, y = Value(1.0), Value(1.0)
    x.max(y).backward()
    assert (x.grad, y.grad) == (1.0, 0.0)
    t = Value(0.5)
    t.max(t).backward()  # max(t, t) = t has derivative 1
    assert t.grad == 1.0
    z = Value(0.0)
    z.relu().backward()
    assert z.grad == 0.0
    w = Value(2.0)
    w.max(5).backward()  # a number as the other input
    assert w.grad == 0.0


# --- depth, order, structure ------------------------------------------------------------

def test_deep_chain_does_not_hit_the_recursion_limit():
    x = Value(0.5)
    node = x
    for _ in range(10_000):
        node = (node * 1.0001).relu() + 0.0
    node.backward()
    assert x.grad == pytest.approx(1.0001**10_000, rel=1e-10)
    del node  # freeing a 40,000-node chain must not overflow the C stack either


def test_topological_order_puts_parents_first():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d.max(c) * b
    order = e.topological_order()
    position = {id(v): k for k, v in enumerate(order)}
    assert order[-1] is e and len(position) == len(order)
    for node in order:
        assert all(position[id(p)] < position[id(node)] for p in node.parents)
    assert {id(a), id(b), id(c), id(d)} <= set(position)


def test_leaves_and_ops_are_recorded():
    a = Value(2)
    assert a.data == 2.0 and isinstance(a.data, float) and a.grad == 0.0
    assert a.parents == () and a.op == ""
    b = a.sqrt()
    assert b.parents == (a,) and b.op == "sqrt"
    assert (a**3).op == "**3"
    assert repr(a) == "Value(data=2, grad=0)"


# --- the gates on arrays ------------------------------------------------------------

GATES = {
    "add": (add_gate, 2, "any"),
    "mul": (mul_gate, 2, "any"),
    "max": (max_gate, 2, "apart"),
    "relu": (relu_gate, 1, "nonzero"),
    "reciprocal": (reciprocal_gate, 1, "nonzero"),
    "exp": (exp_gate, 1, "any"),
    "cube": (lambda x: pow_gate(x, 3), 1, "nonzero"),  # x^3 has a tiny slope near 0
    "pow -0.5": (lambda x: pow_gate(x, -0.5), 1, "positive"),
    "pow 0": (lambda x: pow_gate(x, 0), 1, "any"),
    "sqrt": (sqrt_gate, 1, "positive"),
}


def gate_inputs(domain, arity, rng, n=12):
    u = rng.normal(size=n)
    if domain == "positive":
        return (0.2 + np.abs(u),)
    if domain == "nonzero":
        return (np.sign(u) * (0.05 + np.abs(u)),)
    if domain == "apart":
        return u, u + np.sign(rng.normal(size=n)) * (0.05 + rng.uniform(size=n))
    return (u, rng.normal(size=n))[:arity]


@pytest.mark.parametrize("name", GATES)
@given(seed=st.integers(0, 2**32 - 1))
def test_gates_local_gradients_match_central_differences(name, seed):
    gate, arity, domain = GATES[name]
    rng = np.random.default_rng(seed)
    inputs = gate_inputs(domain, arity, rng)
    d = rng.normal(size=inputs[0].shape)
    _, local = gate(*inputs)
    assert len(local) == arity
    for i in range(arity):
        def f(xi, i=i):
            args = list(inputs)
            args[i] = xi
            return gate(*args)[0]

        numeric = numerical_gradient_array(f, inputs[i].copy(), d)
        assert rel_error(local[i] * d, numeric) < 1e-7


@pytest.mark.parametrize("name", GATES)
def test_gates_match_torch(name):
    import torch
    gate, arity, domain = GATES[name]
    rng = np.random.default_rng(7)
    inputs = gate_inputs(domain, arity, rng)
    d = rng.normal(size=inputs[0].shape)
    tensors = [torch.tensor(x, requires_grad=True) for x in inputs]
    torch_fn = {
        "add": torch.add, "mul": torch.mul, "max": torch.maximum, "relu": torch.relu,
        "reciprocal": torch.reciprocal, "exp": torch.exp, "cube": lambda x: x**3,
        "pow -0.5": lambda x: x**-0.5, "pow 0": lambda x: x**0, "sqrt": torch.sqrt,
    }[name]
    out_t = torch_fn(*tensors)
    (out_t * torch.tensor(d)).sum().backward()
    f, local = gate(*inputs)
    np.testing.assert_allclose(f, out_t.detach().numpy(), rtol=1e-14, atol=0)
    for loc, t in zip(local, tensors, strict=True):
        np.testing.assert_allclose(loc * d, t.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_gates_return_floats_for_numbers():
    f, (dx, dy) = mul_gate(2.0, 3)
    assert (f, dx, dy) == (6.0, 3.0, 2.0)
    assert all(np.ndim(v) == 0 for v in (f, dx, dy))
    f, (dx,) = sqrt_gate(0.0)
    assert f == 0.0 and dx == np.inf  # the square root has a vertical tangent at 0


# --- invalid input ------------------------------------------------------------

@pytest.mark.parametrize("bad", ["1.0", None, True, float("nan"), float("inf"), [1.0], 1j])
def test_value_rejects_non_numbers(bad):
    with pytest.raises(ValueError, match="data must be"):
        Value(bad)


def test_domain_errors():
    with pytest.raises(ValueError, match="x != 0"):
        Value(0.0).reciprocal()
    with pytest.raises(ValueError, match="x != 0"):
        1 / Value(0.0)
    with pytest.raises(ValueError, match="x >= 0"):
        Value(-1.0).sqrt()
    with pytest.raises(ValueError, match="non-integer exponent"):
        Value(-2.0) ** 0.5
    with pytest.raises(ValueError, match="negative exponent"):
        Value(0.0) ** -1
    with pytest.raises(ValueError, match="constant number"):
        Value(2.0) ** Value(2.0)
    with pytest.raises(ValueError, match="exponent n must be a finite number"):
        Value(2.0) ** float("nan")
    with pytest.raises(ValueError, match="other must be"):
        Value(2.0).max("3")
    with pytest.raises(TypeError):
        Value(2.0) + "3"
    assert (Value(-2.0) ** 3).data == -8.0  # integer exponents allow negative bases


def test_gate_shape_and_dtype_errors():
    with pytest.raises(ValueError, match="same shape"):
        add_gate(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="real number or array"):
        exp_gate(np.array(["a"]))
    with pytest.raises(ValueError, match="real number or array"):
        relu_gate(np.array([True, False]))
