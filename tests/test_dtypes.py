"""Type promotion against PyTorch (tensor/tensor over a grid of dtypes and 0-d/n-d combinations,
tensor/Python scalar, true division), and float32 staying float32 through every op and gradient."""
import itertools

import numpy as np
import pytest
import torch

import deepgrad as dg
import deepgrad.nn.functional as F
from tests.helpers import rand

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _name(dtype) -> str:
    return str(dtype).split(".")[-1]


def _pair(a: str, b: str, a_dim: int, b_dim: int):
    av, bv = np.ones((2,) * a_dim), np.full((2,) * b_dim, 2)
    return (dg.tensor(av, dtype=dg.backend.to_dtype(a)), dg.tensor(bv, dtype=dg.backend.to_dtype(b)),
            torch.tensor(av, dtype=getattr(torch, a)), torch.tensor(bv, dtype=getattr(torch, b)))


@pytest.mark.parametrize("dims", [(1, 1), (0, 1), (1, 0), (0, 0)], ids=str)
@pytest.mark.parametrize("op", ["add", "mul", "div", "maximum", "eq", "where"])
def test_tensor_tensor_promotion_matches_torch(dims, op):
    wrong = []
    for a, b in itertools.product(DTYPES, DTYPES):
        da, db, ta, tb = _pair(a, b, *dims)
        if op == "where":
            d, t = dg.where(da > 0, da, db), torch.where(ta > 0, ta, tb)
        else:
            d, t = getattr(dg, op)(da, db), getattr(torch, op)(ta, tb)
        if _name(d.dtype) != _name(t.dtype):
            wrong.append((a, b, _name(d.dtype), _name(t.dtype)))
    assert not wrong


@pytest.mark.parametrize("scalar", [True, 3, 2.5, -1])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "rsub", "rdiv"])
def test_tensor_scalar_promotion_matches_torch(scalar, op):
    fns = {"add": lambda x, s: x + s, "sub": lambda x, s: x - s, "mul": lambda x, s: x * s,
           "div": lambda x, s: x / s, "pow": lambda x, s: x ** s, "rsub": lambda x, s: s - x,
           "rdiv": lambda x, s: s / x}
    wrong = []
    for a in DTYPES:
        for dim in (0, 1):
            arr = np.full((2,) * dim, 2)
            dx, tx = dg.tensor(arr, dtype=dg.backend.to_dtype(a)), torch.tensor(arr, dtype=getattr(torch, a))
            try:
                t = fns[op](tx, scalar)
            except RuntimeError:  # PyTorch refuses bool subtraction, integers to negative powers...
                with pytest.raises(RuntimeError):
                    fns[op](dx, scalar)
                continue
            d = fns[op](dx, scalar)
            if _name(d.dtype) != _name(t.dtype) or not np.array_equal(d.numpy(), t.numpy()):
                wrong.append((a, dim, _name(d.dtype), _name(t.dtype)))
    assert not wrong


def test_defaults_and_the_headline_rules():
    assert dg.tensor(1.5).dtype == dg.float32 and dg.tensor([1.0]).dtype == dg.float32
    assert dg.tensor(2).dtype == dg.int64 and dg.tensor([True]).dtype == dg.bool
    f32 = dg.tensor([1.0, 2.0])
    assert (f32 * 2.5).dtype == dg.float32 and (2.5 * f32).dtype == dg.float32
    assert (f32 + dg.tensor(2.5, dtype=dg.float64)).dtype == dg.float32  # 0-d of the same category
    assert (f32 + dg.tensor([2.5], dtype=dg.float64)).dtype == dg.float64
    ints = dg.tensor([1, 2])
    assert (ints * 2.5).dtype == dg.float32 and (ints * 2).dtype == dg.int64
    assert (ints / dg.tensor([2, 2])).dtype == dg.float32 and (ints / 2).tolist() == [0.5, 1.0]
    assert (ints + dg.tensor(1.5, dtype=dg.float64)).dtype == dg.float64  # 0-d of a higher category
    assert (dg.tensor([1, 2], dtype=dg.int32) + dg.tensor(5)).dtype == dg.int32
    assert ints.float().mean().dtype == dg.float32 and ints.sum().dtype == dg.int64
    assert dg.tensor([1, 2], dtype=dg.int32).exp().dtype == dg.float32
    assert dg.tensor([1, 2]).sqrt().dtype == dg.float32 and dg.tensor([1, 2]).sigmoid().dtype == dg.float32


def test_numpy_scalars_act_like_python_numbers_and_arrays_like_tensors():
    f32 = dg.tensor([1.0, 2.0])
    for value in (np.float64(2.0), np.int64(3), np.float32(0.5)):
        for out in (f32 * value, value * f32, f32 + value, value - f32, f32 / value):
            assert out.dtype == dg.float32
    assert (dg.tensor([1, 2]) * np.int32(2)).dtype == dg.int64
    assert (f32 + np.array([1.0, 1.0])).dtype == dg.float64  # an array is a tensor of its own dtype
    assert (dg.tensor([250], dtype=dg.uint8) + 10).tolist() == [4]  # wraps around like PyTorch


def test_integer_division_modes():
    a, b = [5, -5, 7], [2, 2, -2]
    for mode in (None, "floor", "trunc"):
        d = dg.div(dg.tensor(a), dg.tensor(b), rounding_mode=mode)
        t = torch.div(torch.tensor(a), torch.tensor(b), rounding_mode=mode)
        assert _name(d.dtype) == _name(t.dtype) and d.tolist() == t.tolist()
        d = dg.div(dg.tensor([5.5, -5.5]), 2, rounding_mode=mode)
        t = torch.div(torch.tensor([5.5, -5.5]), 2, rounding_mode=mode)
        assert _name(d.dtype) == _name(t.dtype) and d.tolist() == t.tolist()
    assert (dg.tensor([5, -5]) // 2).tolist() == [2, -3] and (dg.tensor([5, -5]) % 3).tolist() == [2, 1]


def test_bool_arithmetic_refusals_match_torch():
    with pytest.raises(RuntimeError, match="neg: negation, the `-` operator, on a bool tensor is not"):
        -dg.tensor([True])
    with pytest.raises(RuntimeError, match="sub: subtraction with a bool tensor or value is not supported"):
        dg.tensor([True]) - dg.tensor([False])
    assert (dg.tensor([True, False]) + dg.tensor([True, True])).dtype == dg.bool


def test_set_default_dtype():
    try:
        dg.set_default_dtype(dg.float64)
        assert dg.tensor(1.5).dtype == dg.float64 and dg.zeros(2).dtype == dg.float64
        assert (dg.tensor([1, 2]) / 2).dtype == dg.float64 and dg.randn(2).dtype == dg.float64
    finally:
        dg.set_default_dtype(dg.float32)
    assert dg.get_default_dtype() == dg.float32
    with pytest.raises(TypeError, match="set_default_dtype: expected a floating dtype, got deepgrad.int64"):
        dg.set_default_dtype(dg.int64)


def test_dtype_objects():
    assert dg.float is dg.float32 and dg.double is dg.float64 and dg.long is dg.int64
    assert dg.float32.is_floating_point and not dg.int64.is_floating_point and dg.float16.itemsize == 2
    assert dg.backend.to_dtype("torch.float64") is dg.float64 and dg.backend.to_dtype(np.int32) is dg.int32
    assert dg.backend.to_dtype(float) is dg.float32 and dg.backend.to_dtype(int) is dg.int64
    with pytest.raises(TypeError, match="unknown dtype name 'float128x'"):
        dg.backend.to_dtype("float128x")


FLOAT32_OPS = {
    "arith": lambda x, y: (x + y) * (x - 2) / (y * y + 1) + 3 ** x.tanh() - x ** 2,
    "unary": lambda x, y: x.exp() + (x * x + 1).log() + (x * x).sqrt() + x.abs() + x.sigmoid() + x.relu()
    + x.sin() + x.cos() + x.clamp(-0.5, 0.5) - x,
    "reduce": lambda x, y: x.sum(0) + x.mean(0) + x.var(0) + x.std(0) + x.amax(0) + x.amin(0) + x.logsumexp(0)
    + x.max(0).values + x.norm(),
    "shape": lambda x, y: x.reshape(3, 2).T.flatten().unsqueeze(0).expand(2, 6).repeat(1, 2)[:, :6]
    .reshape(3, 4).permute(1, 0)[1:3, 0],
    "index": lambda x, y: x[dg.tensor([1, 0])][x[:2] > 0].sum() + x.gather(1, dg.tensor([[0], [2]])).sum()
    + x.masked_fill(x > 0, 0.0).sum(),
    "join": lambda x, y: dg.cat([x, y.expand(2, 3)]).sum(0) + dg.stack([x, x]).sum((0, 1))
    + dg.where(x > 0, x, y).sum(0) + dg.maximum(x, y).sum(0) + dg.minimum(x, 0.5).sum(0),
    "linalg": lambda x, y: (x @ x.T).sum() + (y @ x.T).sum() + F.linear(x, x, y[:2]).sum(),
    "functional": lambda x, y: F.softmax(x, 1).sum() + F.log_softmax(x, 0).sum()
    + F.mse_loss(x, y.expand(2, 3)) + F.cross_entropy(x, dg.tensor([0, 2]))
    + F.binary_cross_entropy_with_logits(x, x.detach().sigmoid())
    + F.dropout(x, 0.3).sum() + F.pad(x, (1, 1)).sum() + F.l1_loss(x, y.expand(2, 3))
    + F.binary_cross_entropy(x.sigmoid(), y.expand(2, 3).detach().sigmoid()),
    "scalars_and_0d": lambda x, y: x * 2.5 + 1e-3 - x / 3 + x * dg.tensor(2.0, dtype=dg.float64)
    + dg.tensor(1, dtype=dg.int64) + 2 ** x - 1.5 / (x * x + 1) + y.sum() * dg.tensor(0.5, dtype=dg.float64),
    "inplace": lambda x, y: (x * 1).add_(y).mul_(2.5).div_(dg.tensor(2.0, dtype=dg.float64)).sub_(1)
    .clamp_(-1, 1),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_OPS))
def test_float32_stays_float32_in_values_and_gradients(name):
    x = dg.tensor(rand(2, 3, dtype=np.float32), requires_grad=True)
    y = dg.tensor(rand(3, seed=1, dtype=np.float32), requires_grad=True)
    out = FLOAT32_OPS[name](x, y)
    assert out.dtype == dg.float32
    out.sum().backward()
    for t in (x, y):
        if t.grad is not None:
            assert t.grad.dtype == dg.float32 and t.grad.shape == t.shape
