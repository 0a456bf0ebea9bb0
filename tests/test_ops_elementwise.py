"""Elementwise ops against PyTorch: values and gradients, broadcasting, scalars on both sides,
domain edges (the NaN policy), comparisons, where, maximum/minimum ties, float32 preservation."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import deepgrad as dg
from deepgrad.autograd import gradcheck
from tests.helpers import assert_close, compare, rand

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a.abs() ** b,
    "maximum": lambda a, b: a.maximum(b),
    "minimum": lambda a, b: a.minimum(b),
}

SHAPE_PAIRS = [
    ((3, 4), (3, 4)), ((3, 4), (4,)), ((4,), (3, 4)), ((2, 1, 3), (4, 1)), ((), (3,)), ((3,), ()),
    ((), ()), ((1,), (5,)), ((2, 3, 1), (1, 1, 4)), ((0, 3), (3,)), ((2, 0), (1, 0)), ((1, 1), ()),
]


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
def test_binary_tensor_tensor(op, shapes):
    compare(BINARY[op], rand(*shapes[0], seed=1), rand(*shapes[1], seed=2))


SCALAR_OPS = [
    lambda x: x + 2, lambda x: 2 + x, lambda x: x + 2.5, lambda x: x - 3, lambda x: 3 - x,
    lambda x: 2.5 - x, lambda x: x * 3, lambda x: 3 * x, lambda x: x * -0.5, lambda x: x / 2,
    lambda x: 2 / x, lambda x: 1.5 / x, lambda x: x ** 2, lambda x: x ** 3, lambda x: x.abs() ** 0.5,
    lambda x: x ** -1, lambda x: x.abs() ** -1.5, lambda x: 2 ** x, lambda x: 0.5 ** x,
    lambda x: x ** 0, lambda x: x ** 1, lambda x: -x, lambda x: +x - x * x,
]


@pytest.mark.parametrize("i", range(len(SCALAR_OPS)))
@pytest.mark.parametrize("shape", [(3, 4), (), (0, 2)], ids=str)
def test_binary_with_python_scalar_both_sides(i, shape):
    compare(SCALAR_OPS[i], rand(*shape, seed=3))


def test_pow_tensor_exponent_and_zero_base():
    base = np.array([0.0, 0.0, 1.5, 2.0, 0.5])
    expo = np.array([2.0, 0.0, -1.0, 0.5, 3.0])
    compare(lambda a, b: a ** b, base, expo)
    compare(lambda a, b: a.pow(b), np.abs(rand(3, 4)) + 0.1, rand(4, seed=1))


UNARY = {
    "neg": (lambda x: -x, None),
    "exp": (lambda x: x.exp(), None),
    "log": (lambda x: x.log(), "pos"),
    "sqrt": (lambda x: x.sqrt(), "pos"),
    "abs": (lambda x: x.abs(), None),
    "tanh": (lambda x: x.tanh(), None),
    "sigmoid": (lambda x: x.sigmoid(), None),
    "relu": (lambda x: x.relu(), None),
    "sin": (lambda x: x.sin(), None),
    "cos": (lambda x: x.cos(), None),
    "log1p": (lambda x: x.log1p(), "pos"),
    "rsqrt": (lambda x: x.rsqrt(), "pos"),
    "reciprocal": (lambda x: x.reciprocal(), "pos"),
    "square": (lambda x: x.square(), None),
    "clamp_both": (lambda x: x.clamp(-0.5, 0.5), None),
    "clamp_min": (lambda x: x.clamp(min=0.1), None),
    "clamp_max": (lambda x: x.clamp(max=-0.2), None),
    "clip": (lambda x: x.clip(-1, 1), None),
    "floor": (lambda x: x.floor(), None),
    "ceil": (lambda x: x.ceil(), None),
    "round": (lambda x: x.round(), None),
    "trunc": (lambda x: x.trunc(), None),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", [(3, 4), (), (2, 0, 3)], ids=str)
def test_unary(name, shape):
    fn, domain = UNARY[name]
    x = rand(*shape, seed=4)
    if domain == "pos":
        x = np.abs(x) + 0.1
    compare(fn, x)


ACTIVATIONS = {
    "gelu": lambda F, x: F.gelu(x),
    "gelu_tanh": lambda F, x: F.gelu(x, approximate="tanh"),
    "softplus": lambda F, x: F.softplus(x),
    "softplus_beta": lambda F, x: F.softplus(x, beta=2.0, threshold=1.0),
    "leaky_relu": lambda F, x: F.leaky_relu(x, 0.2),
    "elu": lambda F, x: F.elu(x, alpha=0.5),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_activation_primitives(name, dtype):
    fn = ACTIVATIONS[name]
    x = np.concatenate([rand(20) * 4, [0.0, 1e-9, -1e-9, 0.5, 30.0, -30.0, 12.0, -12.0]]).astype(dtype)
    tol = {"atol": 1e-6, "rtol": 1e-5} if dtype == np.float64 else {"atol": 1e-5, "rtol": 1e-4}
    out = compare(lambda t: fn(dg.nn.functional, t), x, torch_fn=lambda t: fn(torch.nn.functional, t), **tol)
    assert out.dtype == dg.backend.from_numpy_dtype(np.dtype(dtype))
    assert gradcheck(lambda t: fn(dg.nn.functional, t), (dg.tensor(rand(6) * 3, requires_grad=True),))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh', got 'erf'"):
        dg.nn.functional.gelu(dg.ones(2), approximate="erf")


def test_module_level_functions_match_methods():
    x, y = rand(3, 4), rand(3, 4, seed=1)
    for name in ("exp", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "neg", "sqrt", "log"):
        compare(getattr(dg, name), np.abs(x) + 0.1, torch_fn=getattr(torch, name))
    compare(lambda a, b: dg.add(a, b, alpha=2), x, y, torch_fn=lambda a, b: torch.add(a, b, alpha=2))
    compare(lambda a, b: dg.sub(a, b, alpha=0.5), x, y, torch_fn=lambda a, b: torch.sub(a, b, alpha=0.5))
    compare(lambda a, b: dg.mul(a, b), x, y, torch_fn=torch.mul)
    compare(lambda a, b: dg.div(a, b), x, y, torch_fn=torch.div)
    compare(lambda a: dg.clamp(a, min=-0.3), x, torch_fn=lambda a: torch.clamp(a, min=-0.3))


def test_clamp_with_tensor_bounds_sends_gradient_to_the_bounds():
    compare(lambda x, lo, hi: x.clamp(lo, hi), np.array([0.5, 1.0, 1.5, 2.0, 3.0]),
            np.ones(5), np.full(5, 2.0))
    compare(lambda x, lo: x.clamp(min=lo), rand(3, 4), rand(4, seed=1))
    compare(lambda x, hi: x.clamp(max=hi), rand(3, 4), rand(3, 1, seed=1))


def test_clamp_needs_a_bound():
    with pytest.raises(RuntimeError, match="clamp: at least one of"):
        dg.ones(2).clamp()


def test_clamp_gradient_is_one_at_the_boundary():
    compare(lambda x: x.clamp(1.0, 2.0), np.array([0.0, 1.0, 1.5, 2.0, 3.0]))


def test_abs_and_relu_gradient_at_zero_match_torch():
    compare(lambda x: x.abs(), np.array([0.0, -1.0, 2.0]))
    compare(lambda x: x.relu(), np.array([0.0, -1.0, 2.0]))


def test_maximum_minimum_split_ties_in_half():
    a, b = np.array([1.0, 2.0, 3.0, -1.0]), np.array([1.0, 5.0, 0.0, -1.0])
    compare(lambda x, y: dg.maximum(x, y), a, b, torch_fn=torch.maximum, out_grad=np.ones(4))
    compare(lambda x, y: dg.minimum(x, y), a, b, torch_fn=torch.minimum, out_grad=np.ones(4))
    x, y = dg.tensor(a, requires_grad=True), dg.tensor(b, requires_grad=True)
    dg.maximum(x, y).sum().backward()
    assert x.grad.tolist() == [0.5, 0.0, 1.0, 0.5]
    assert y.grad.tolist() == [0.5, 1.0, 0.0, 0.5]


def test_where_broadcasts_and_routes_gradients():
    cond = rand(3, 1, seed=9) > 0
    compare(lambda a, b: dg.where(dg.tensor(cond), a, b), rand(3, 4), rand(4, seed=1),
            torch_fn=lambda a, b: torch.where(torch.tensor(cond), a, b))
    compare(lambda a: dg.where(dg.tensor(cond), a, 0.0), rand(3, 4),
            torch_fn=lambda a: torch.where(torch.tensor(cond), a, 0.0))
    compare(lambda a: a.where(dg.tensor(cond), -a), rand(3, 4),
            torch_fn=lambda a: a.where(torch.tensor(cond), -a))


def test_where_with_two_numbers_makes_a_tensor_like_torch():
    cond = np.array([True, False])
    for a, b in [(1.0, 0.0), (1, 0), (2, 0.5)]:
        d, t = dg.where(dg.tensor(cond), a, b), torch.where(torch.tensor(cond), a, b)
        assert str(d.dtype).split(".")[-1] == str(t.dtype).split(".")[-1] and d.tolist() == t.tolist()


def test_where_rejects_non_bool_condition_and_bad_shapes():
    with pytest.raises(TypeError, match="where: condition must be a bool tensor"):
        dg.where(dg.ones(3), dg.ones(3), dg.zeros(3))
    with pytest.raises(RuntimeError, match=r"where: shapes \(2,\) and \(3,\) and \(3,\) cannot be broadcast"):
        dg.where(dg.ones(2) > 0, dg.ones(3), dg.zeros(3))


COMPARISONS = ["eq", "ne", "lt", "le", "gt", "ge"]


@pytest.mark.parametrize("name", COMPARISONS)
def test_comparisons(name):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 2.0])
    da, db, ta, tb = dg.tensor(a), dg.tensor(b), torch.tensor(a), torch.tensor(b)
    for d, t in [(getattr(da, name)(db), getattr(ta, name)(tb)), (getattr(da, name)(2), getattr(ta, name)(2)),
                 (getattr(da, name)(2.5), getattr(ta, name)(2.5))]:
        assert d.dtype == dg.bool
        np.testing.assert_array_equal(d.numpy(), t.numpy())
    ops = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__"}
    np.testing.assert_array_equal(getattr(da, ops[name])(db).numpy(), getattr(ta, ops[name])(tb).numpy())
    np.testing.assert_array_equal(getattr(dg, name)(da, db).numpy(), getattr(torch, name)(ta, tb).numpy())


def test_comparisons_are_outside_the_graph_and_mix_dtypes():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    m = x > 1
    assert not m.requires_grad and m.tolist() == [False, True]
    assert (dg.tensor([1, 2]) == dg.tensor([1.0, 2.5])).tolist() == [True, False]
    assert (3 > dg.tensor([1, 5])).tolist() == [True, False]


def test_logical_and_bitwise_on_bool():
    a, b = dg.tensor([True, False, True]), dg.tensor([True, True, False])
    assert (a & b).tolist() == [True, False, False]
    assert (a | b).tolist() == [True, True, True]
    assert (a ^ b).tolist() == [False, True, True]
    assert (~a).tolist() == [False, True, False]
    assert dg.logical_not(a).tolist() == [False, True, False]


def test_shape_mismatch_names_op_and_both_shapes():
    for name, fn in [("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
                     ("div", lambda a, b: a / b), ("pow", lambda a, b: a ** b),
                     ("maximum", dg.maximum), ("minimum", dg.minimum)]:
        with pytest.raises(RuntimeError, match=rf"^{name}: shapes \(2, 3\) and \(4, 5\) cannot be broadcast"):
            fn(dg.ones(2, 3), dg.ones(4, 5))
    with pytest.raises(RuntimeError, match=r"eq: shapes \(2,\) and \(3,\) cannot be broadcast"):
        dg.eq(dg.ones(2), dg.ones(3))


def test_binary_op_rejects_non_numbers():
    with pytest.raises(TypeError, match="expected a Tensor or a Python number, got str"):
        dg.ones(2) + "a"


# ---------------------------------------------------------------------------- NaN policy
EDGE = np.array([-1.0, 0.0, 1e-300, 1.0, np.inf, -np.inf, np.nan])
FINITE_EDGE = EDGE[np.isfinite(EDGE)]
EDGE_FNS = {
    "log": (lambda x: x.log(), EDGE), "sqrt": (lambda x: x.sqrt(), EDGE),
    "log1p": (lambda x: x.log1p(), EDGE),
    "rsqrt": (lambda x: x.rsqrt(), EDGE), "pow_half": (lambda x: x ** 0.5, FINITE_EDGE),
    "pow_neg": (lambda x: x ** -1, EDGE), "rdiv": (lambda x: 1 / x, EDGE), "exp": (lambda x: x.exp(), EDGE),
    "tanh": (lambda x: x.tanh(), EDGE), "sigmoid": (lambda x: x.sigmoid(), EDGE),
    "pow_zero": (lambda x: x ** 0, EDGE), "square": (lambda x: x ** 2, EDGE),
    "zero_base": (lambda x: 0.0 ** x, EDGE), "abs": (lambda x: x.abs(), EDGE[:-1]),
    "relu": (lambda x: x.relu(), EDGE),
}


@pytest.mark.parametrize("name", sorted(EDGE_FNS))
def test_domain_edges_follow_torch_nan_and_inf(name, recwarn):
    """The NaN policy: out-of-domain inputs and edges give the same nan/inf as PyTorch, with no
    exception and no warning; gradients are what the formula gives there (sqrt'(0) = inf)."""
    fn, x = EDGE_FNS[name]
    compare(fn, x, out_grad=np.ones(len(x)))
    recwarn.clear()
    t = dg.tensor(x, requires_grad=True)
    fn(t).backward(dg.ones(len(x), dtype=dg.float64))
    assert not [str(w.message) for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_nan_input_gives_nan_gradient_through_abs():
    """PyTorch's abs gradient at nan is 0; deepgrad keeps the nan so it is never hidden."""
    x = dg.tensor([np.nan, -2.0], requires_grad=True)
    x.abs().sum().backward()
    assert np.isnan(x.grad[0].item()) and x.grad[1].item() == -1.0


def test_log_of_negative_is_nan_and_sqrt_gradient_at_zero_is_inf():
    assert np.isnan(dg.tensor(-1.0).log().item())
    x = dg.tensor(0.0, requires_grad=True)
    x.sqrt().backward()
    assert x.grad.item() == np.inf


# the harness sums output * weights, and inf + -inf there is NumPy's warning, not deepgrad's
@pytest.mark.filterwarnings("ignore:invalid value encountered in reduce")
def test_division_by_zero_gives_inf_like_torch():
    compare(lambda a, b: a / b, np.array([1.0, -1.0, 0.0]), np.array([0.0, 0.0, 0.0]),
            out_grad=np.ones(3))


# ---------------------------------------------------------------------------- float32 and gradcheck
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float32_preserved_in_value_and_gradient(name):
    fn, domain = UNARY[name]
    x = rand(3, 4, dtype=np.float32)
    if domain == "pos":
        x = np.abs(x) + np.float32(0.1)
    out = compare(fn, x, atol=1e-5, rtol=1e-4)
    assert out.dtype == dg.float32


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_float32_preserved(op):
    out = compare(BINARY[op], rand(3, 4, dtype=np.float32), rand(4, seed=1, dtype=np.float32),
                  atol=1e-5, rtol=1e-4)
    assert out.dtype == dg.float32
    for scalar_fn in (lambda x: x * 2.5, lambda x: 2.5 / x, lambda x: x ** 2.0, lambda x: 1 - x,
                      lambda x: x + dg.tensor(2.0, dtype=dg.float64)):
        x = dg.tensor(rand(3, dtype=np.float32), requires_grad=True)
        y = scalar_fn(x)
        y.sum().backward()
        assert y.dtype == dg.float32 and x.grad.dtype == dg.float32


@pytest.mark.parametrize("fn", [
    lambda a, b: (a * b + a / (b * b + 1)).sum(),
    lambda a, b: (a.abs() + 0.5) ** b,
    lambda a, b: dg.maximum(a, b) - dg.minimum(a, b).tanh(),
    lambda a, b: (a.exp() + b.sigmoid()).log(),
    lambda a, b: dg.where(a > 0, a.sin(), b.cos()) * a.clamp(-0.5, 0.5),
    lambda a, b: (a * a + 1).sqrt() / (b * b + 1).rsqrt(),
])
def test_gradcheck_elementwise(fn):
    a = dg.tensor(rand(2, 3), requires_grad=True)
    b = dg.tensor(rand(3, seed=1), requires_grad=True)
    assert gradcheck(fn, (a, b))


def test_gradcheck_reports_a_wrong_gradient():
    class Wrong(dg.autograd.Function):
        def forward(self, a):
            return a * a

        def backward(self, g):
            return g * 3

    x = dg.tensor(rand(3), requires_grad=True)
    with pytest.raises(dg.autograd.GradcheckError, match="Jacobian mismatch for input 0"):
        gradcheck(Wrong.apply, (x,))
    assert gradcheck(Wrong.apply, (x,), raise_exception=False) is False
    with pytest.raises(dg.autograd.GradcheckError, match="float64"):
        gradcheck(lambda a: a * 2, (dg.ones(2, requires_grad=True),))


# ---------------------------------------------------------------------------- hypothesis broadcasting
@settings(max_examples=40, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       op=st.sampled_from(sorted(BINARY)))
def test_binary_broadcast_shapes_hypothesis(shapes, op):
    a_shape, b_shape = shapes.input_shapes
    compare(BINARY[op], rand(*a_shape, seed=5), rand(*b_shape, seed=6))


@settings(max_examples=15, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3))
def test_where_broadcast_shapes_hypothesis(shapes):
    c_shape, a_shape, b_shape = shapes.input_shapes
    cond = rand(*c_shape, seed=7) > 0
    compare(lambda a, b: dg.where(dg.tensor(cond), a, b), rand(*a_shape, seed=5), rand(*b_shape, seed=6),
            torch_fn=lambda a, b: torch.where(torch.tensor(cond), a, b))


def test_broadcast_gradient_sums_into_size_one_dims():
    a = dg.tensor(rand(3, 1), requires_grad=True)
    b = dg.tensor(rand(1, 4), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (1, 4)
    assert_close(a.grad, np.full((3, 1), b.detach().numpy().sum()))
    assert_close(b.grad, np.full((1, 4), a.detach().numpy().sum()))
