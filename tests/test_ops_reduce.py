"""Reductions against PyTorch: sum mean var std max min amax amin logsumexp argmax argmin (and
prod, cumsum, norm) over int, tuple, negative and empty dims, with keepdim, 0-d and empty inputs."""
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad.autograd import gradcheck
from tests.helpers import compare, rand

# PyTorch's own warning for var/std with too few elements (deepgrad's is checked below)
pytestmark = pytest.mark.filterwarnings(r"ignore:(var|std)\(\)")

DIMS = [None, 0, -1, 1, (0, 2), (-1, 0), (0, 1, 2), ()]
X = rand(2, 3, 4)


def _kw(dim, keepdim):
    return {} if dim is None else {"dim": dim, "keepdim": keepdim}


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "logsumexp"])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_reduction_over_dims(name, dim, keepdim):
    if name == "logsumexp" and dim in (None, ()):
        dim = (0, 1, 2)  # torch.logsumexp requires dim
    compare(lambda x: getattr(x, name)(**_kw(dim, keepdim)), X)


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("kw", [{}, {"unbiased": False}, {"unbiased": True}, {"correction": 0},
                                {"correction": 2}], ids=str)
@pytest.mark.filterwarnings("ignore:var/std")
@pytest.mark.filterwarnings("ignore:invalid value encountered in reduce")  # the harness's sum of inf - inf
def test_var_std(name, dim, keepdim, kw):
    compare(lambda x: getattr(x, name)(**_kw(dim, keepdim), **kw), X)


def test_var_positional_dim_and_module_functions():
    compare(lambda x: x.var(0), X)
    compare(lambda x: dg.std(x, 1, keepdim=True), X, torch_fn=lambda x: torch.std(x, 1, keepdim=True))
    compare(lambda x: dg.var(x, (0, 1), correction=0), X,
            torch_fn=lambda x: torch.var(x, (0, 1), correction=0))
    with pytest.raises(RuntimeError, match="either unbiased or correction"):
        dg.ones(3).var(unbiased=True, correction=1)


def test_var_with_too_few_elements_is_nan_or_inf_like_torch():
    for fn, x in [(lambda t: t.var(), rand(1)), (lambda t: t.std(0), rand(1, 3)),
                  (lambda t: t.var(1, correction=3), rand(2, 3))]:
        with pytest.warns(UserWarning, match=r"var/std: degrees of freedom is <= 0"):
            compare(fn, x, out_grad=np.ones(fn(torch.tensor(x)).shape))


@pytest.mark.parametrize("name", ["sum", "mean"])
@pytest.mark.parametrize("shape,dim", [((), None), ((), 0), ((), -1), ((0, 3), 0), ((0, 3), 1),
                                       ((0, 3), None), ((1, 1), (0, 1)), ((2, 1), 1)], ids=str)
def test_sum_mean_zero_d_empty_and_size_one(name, shape, dim):
    for keepdim in (False, True):
        compare(lambda x, keepdim=keepdim: getattr(x, name)(**_kw(dim, keepdim)), rand(*shape))


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1, 2], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_with_dim_values_and_indices(name, dim, keepdim):
    x = rand(2, 3, 4)
    compare(lambda t: getattr(t, name)(dim, keepdim).values, x)
    compare(lambda t: getattr(t, name)(dim=dim, keepdim=keepdim)[0], x)
    d, t = getattr(dg.tensor(x), name)(dim, keepdim), getattr(torch.tensor(x), name)(dim, keepdim)
    assert d.indices.dtype == dg.int64
    np.testing.assert_array_equal(d.indices.numpy(), t.indices.numpy())
    values, indices = d
    np.testing.assert_array_equal(values.numpy(), t.values.numpy())


def test_max_min_without_dim_and_ties_share_gradient():
    x = np.array([[1.0, 3.0, 3.0], [0.0, 3.0, -1.0]])
    compare(lambda t: t.max(), x)
    compare(lambda t: t.min(), x)
    compare(lambda t: t.amax(1), x)
    compare(lambda t: t.amin((0, 1)), np.array([[1.0, 0.0], [0.0, 2.0]]))
    t = dg.tensor(x, requires_grad=True)
    t.max().backward()
    assert t.grad.tolist() == [[0, 1 / 3, 1 / 3], [0, 1 / 3, 0]]


def test_max_dim_ties_send_gradient_to_the_returned_index():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, -1.0]])
    compare(lambda t: t.max(1).values, x)
    compare(lambda t: t.min(0).values, np.array([[1.0, 1.0], [1.0, 0.0]]))


def test_max_min_of_0d_and_size_one_dims():
    compare(lambda t: t.max(), rand())
    compare(lambda t: t.max(0).values, rand())
    compare(lambda t: t.min(-1, keepdim=True).values, rand(3, 1))
    compare(lambda t: t.amax(), rand(1, 1))


def test_max_min_errors_on_empty():
    with pytest.raises(RuntimeError,
                       match=r"max/min: cannot reduce over an empty dimension of a tensor of shape \(0, 3\)"):
        dg.zeros(0, 3).max()
    with pytest.raises(IndexError, match=r"max\(\): cannot reduce over dimension 0 of size 0"):
        dg.zeros(0, 3).max(0)
    compare(lambda t: t.amax(1), rand(0, 3))
    compare(lambda t: t.max(1).values, rand(0, 3))


def test_max_with_tensor_argument_is_elementwise_maximum():
    compare(lambda a, b: a.max(b), rand(3, 4), rand(4, seed=1), torch_fn=lambda a, b: torch.max(a, b))
    compare(lambda a, b: dg.min(a, b), rand(3, 4), rand(4, seed=1), torch_fn=lambda a, b: torch.min(a, b))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_argmin(name, dim, keepdim):
    x = np.array([[1.0, 5.0, 5.0, 0.0], [7.0, -2.0, 7.0, -2.0], [0.0, 0.0, 0.0, 0.0]])
    d = getattr(dg.tensor(x), name)(dim=dim, keepdim=keepdim)
    t = getattr(torch.tensor(x), name)(dim=dim, keepdim=keepdim)
    assert d.dtype == dg.int64 and tuple(d.shape) == tuple(t.shape)
    np.testing.assert_array_equal(d.numpy(), t.numpy())
    np.testing.assert_array_equal(getattr(dg, name)(dg.tensor(x), dim).numpy(), getattr(torch, name)(
        torch.tensor(x), dim).numpy())


def test_logsumexp_is_stable_at_extreme_logits():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [5.0, 5.0, 5.0]])
    out = compare(lambda t: t.logsumexp(1), x)
    assert np.isfinite(out.detach().numpy()).all()
    compare(lambda t: t.logsumexp(0, keepdim=True), np.array([[-np.inf, 1.0], [-np.inf, 2.0]]))
    compare(lambda t: dg.logsumexp(t, (0, 1)), rand(2, 3), torch_fn=lambda t: torch.logsumexp(t, (0, 1)))


def test_integer_and_bool_sums_are_int64():
    for arr in (np.array([1, 2, 3], dtype=np.int32), np.array([True, False, True])):
        d, t = dg.tensor(arr).sum(), torch.tensor(arr).sum()
        assert d.dtype == dg.int64 and d.item() == t.item()
    assert dg.tensor([1, 2]).sum(dtype=dg.float32).dtype == dg.float32
    with pytest.raises(RuntimeError,
                       match="mean\\(\\): could not infer output dtype; input dtype is deepgrad.int64"):
        dg.tensor([1, 2]).mean()
    assert dg.tensor([1, 2]).mean(dtype=dg.float64).item() == 1.5


def test_reduction_dim_errors_name_the_op():
    x = dg.ones(2, 3)
    with pytest.raises(IndexError, match=r"sum: dimension 2 is out of range for a tensor with 2 dimensions"):
        x.sum(2)
    with pytest.raises(IndexError, match=r"mean: dimension -3 is out of range"):
        x.mean(-3)
    with pytest.raises(RuntimeError, match=r"amax: dim \(0, 0\) appears multiple times"):
        x.amax((0, 0))


def test_prod_cumsum_norm_all_any():
    compare(lambda t: t.prod(), rand(2, 3))
    compare(lambda t: t.prod(1, keepdim=True), np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0], [1.5, 2.0, -1.0]]))
    compare(lambda t: t.cumsum(-1), rand(2, 3))
    compare(lambda t: t.norm(), rand(2, 3))
    compare(lambda t: t.norm(1, dim=1), rand(2, 3))
    compare(lambda t: t.norm(3, dim=0, keepdim=True), rand(2, 3))
    compare(lambda t: t.norm(float("inf")), rand(2, 3))
    b = np.array([[True, False], [True, True]])
    for name in ("all", "any"):
        for dim in (None, 0, 1):
            kw = {} if dim is None else {"dim": dim}
            np.testing.assert_array_equal(getattr(dg.tensor(b), name)(**kw).numpy(),
                                          getattr(torch.tensor(b), name)(**kw).numpy())


@pytest.mark.parametrize("fn", [
    lambda x: x.sum((0, 2), keepdim=True) * x.mean(1, keepdim=True),
    lambda x: x.var(1) + x.std((0, 2), keepdim=True).sum(),
    lambda x: x.amax(-1) - x.amin(0).sum(),
    lambda x: x.max(1).values * x.min(-1, keepdim=True).values.sum(),
    lambda x: x.logsumexp((1, 2)),
    lambda x: x.prod(1) + x.cumsum(2).sum(1),
])
def test_gradcheck_reductions(fn):
    assert gradcheck(fn, (dg.tensor(rand(2, 3, 4, seed=3), requires_grad=True),))


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "amax", "amin", "logsumexp", "prod", "norm"])
def test_reductions_keep_float32(name):
    x = dg.tensor(rand(3, 4, dtype=np.float32), requires_grad=True)
    y = getattr(x, name)(1) if name in ("logsumexp", "prod") else getattr(x, name)()
    y.sum().backward()
    assert y.dtype == dg.float32 and x.grad.dtype == dg.float32 and x.grad.shape == x.shape
    v = x.max(0).values
    assert v.dtype == dg.float32
