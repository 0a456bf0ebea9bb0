"""Matrix products against PyTorch: matmul/@ for vectors, matrices, batches and broadcast batches;
mm bmm dot mv outer; the fused linear; shape-mismatch errors; float32 preservation."""
import numpy as np
import pytest
import torch

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad.autograd import gradcheck
from tests.helpers import compare, rand

MATMUL_SHAPES = [
    ((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 5)), ((3, 4), (4,)), ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((4,), (2, 4, 5)), ((2, 3, 4), (4,)),
    ((2, 1, 3, 4), (5, 4, 2)), ((1, 3, 4), (2, 4, 5)), ((0, 4), (4, 5)), ((3, 0), (0, 5)),
    ((1, 1), (1, 1)), ((2, 2, 3, 4), (2, 1, 4, 1)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes):
    compare(lambda a, b: a @ b, rand(*shapes[0], seed=1), rand(*shapes[1], seed=2))
    compare(lambda a, b: a.matmul(b), rand(*shapes[0], seed=1), rand(*shapes[1], seed=2))


def test_matmul_module_functions():
    a, b = rand(3, 4), rand(4, 5, seed=1)
    compare(lambda x, y: dg.matmul(x, y), a, b, torch_fn=torch.matmul)
    compare(lambda x, y: dg.mm(x, y), a, b, torch_fn=torch.mm)
    compare(lambda x, y: dg.bmm(x, y), rand(2, 3, 4), rand(2, 4, 5), torch_fn=torch.bmm)
    compare(lambda x, y: dg.dot(x, y), rand(4), rand(4, seed=1), torch_fn=torch.dot)
    compare(lambda x, y: dg.mv(x, y), a, rand(4, seed=1), torch_fn=torch.mv)
    compare(lambda x, y: dg.outer(x, y), rand(3), rand(4, seed=1), torch_fn=torch.outer)
    compare(lambda x, y: y.__rmatmul__(x), a, b, torch_fn=lambda x, y: y.__rmatmul__(x))


def test_matmul_errors_name_shapes():
    with pytest.raises(RuntimeError,
                       match=r"matmul: shapes \(2, 3\) and \(4, 5\) cannot be multiplied \(3 != 4\)"):
        dg.ones(2, 3) @ dg.ones(4, 5)
    with pytest.raises(RuntimeError, match=r"matmul: shapes \(3,\) and \(4,\) cannot be multiplied"):
        dg.ones(3) @ dg.ones(4)
    with pytest.raises(RuntimeError,
                       match=r"matmul: batch dimensions of \(2, 3, 4\) and \(3, 4, 5\) cannot be "
                             r"broadcast"):
        dg.ones(2, 3, 4) @ dg.ones(3, 4, 5)
    with pytest.raises(RuntimeError, match=r"matmul: both arguments need at least 1 dimension"):
        dg.ones(()) @ dg.ones(3)
    with pytest.raises(RuntimeError, match=r"mm: expected 2-D tensors, got shapes \(3,\) and \(3, 2\)"):
        dg.mm(dg.ones(3), dg.ones(3, 2))
    with pytest.raises(RuntimeError, match="bmm: expected 3-D tensors with equal batch size"):
        dg.bmm(dg.ones(2, 3, 4), dg.ones(3, 4, 5))
    with pytest.raises(RuntimeError, match="dot: expected 1-D tensors"):
        dg.dot(dg.ones(2, 2), dg.ones(2))


@pytest.mark.parametrize("x_shape", [(5, 4), (2, 3, 4), (4,)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear(x_shape, bias):
    w, b = rand(3, 4, seed=1), rand(3, seed=2)
    if bias:
        compare(lambda x, w, b: F.linear(x, w, b), rand(*x_shape), w, b, torch_fn=torch.nn.functional.linear)
    else:
        compare(lambda x, w: F.linear(x, w), rand(*x_shape), w, torch_fn=torch.nn.functional.linear)


def test_linear_errors():
    with pytest.raises(RuntimeError,
                       match=r"linear: input of shape \(2, 5\) does not match weight of shape \(3, 4\)"):
        F.linear(dg.ones(2, 5), dg.ones(3, 4))
    with pytest.raises(RuntimeError,
                       match=r"linear: bias of shape \(4,\) does not match weight of shape \(3, 4\)"):
        F.linear(dg.ones(2, 4), dg.ones(3, 4), dg.ones(4))
    with pytest.raises(RuntimeError, match=r"linear: weight must be 2-D"):
        F.linear(dg.ones(2, 4), dg.ones(4))


@pytest.mark.parametrize("shapes", [((2, 3), (3, 2)), ((3,), (2, 3, 2)), ((2, 2, 3), (3,)),
                                    ((2, 1, 2, 3), (2, 3, 1))], ids=str)
def test_gradcheck_matmul(shapes):
    a = dg.tensor(rand(*shapes[0], seed=3), requires_grad=True)
    b = dg.tensor(rand(*shapes[1], seed=4), requires_grad=True)
    assert gradcheck(lambda x, y: x @ y, (a, b))


def test_gradcheck_linear():
    x, w, b = (dg.tensor(rand(*s, seed=i), requires_grad=True) for i, s in enumerate([(2, 3), (4, 3), (4,)]))
    assert gradcheck(F.linear, (x, w, b))


def test_matmul_and_linear_keep_float32_and_promote_mixed():
    a = dg.tensor(rand(2, 3, 4, dtype=np.float32), requires_grad=True)
    b = dg.tensor(rand(4, 5, dtype=np.float32), requires_grad=True)
    y = a @ b + F.linear(a, b.T, dg.zeros(5))
    y.sum().backward()
    assert y.dtype == dg.float32 and a.grad.dtype == dg.float32 and b.grad.dtype == dg.float32
    c = dg.tensor(rand(4, dtype=np.float64), requires_grad=True)
    z = a @ c
    z.sum().backward()
    assert z.dtype == dg.float64 and c.grad.dtype == dg.float64 and a.grad.dtype == dg.float32
