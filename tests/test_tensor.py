"""The Tensor API, tensor creation and random numbers, against PyTorch where it defines the answer."""
import copy
import pickle

import numpy as np
import pytest
import torch

import deepgrad as dg
from tests.helpers import rand


def _name(dtype) -> str:
    return str(dtype).split(".")[-1]


# ---------------------------------------------------------------------------- creation
@pytest.mark.parametrize("data", [
    1.5, 2, True, [1.0, 2.0], [1, 2], [True, False], [1, 2.5], [True, 2], [[1, 2], [3, 4]], [], [[]],
    ((1.0, 2.0), (3.0, 4.0)), np.array([1, 2], dtype=np.int32), np.array([1.0], dtype=np.float64),
    np.array([1.0], dtype=np.float16), np.array([1, 2], dtype=np.uint8), np.float64(2.5), np.int32(3),
    np.array(True),
], ids=repr)
def test_tensor_infers_dtype_and_shape_like_torch(data):
    d, t = dg.tensor(data), torch.tensor(data)
    assert _name(d.dtype) == _name(t.dtype)
    assert tuple(d.shape) == tuple(t.shape)
    np.testing.assert_array_equal(d.numpy(), t.numpy())


def test_tensor_from_nested_tensors_copies_and_takes_dtype_argument():
    a = dg.tensor([dg.tensor(1.0), dg.tensor(2.0)])
    assert a.tolist() == [1.0, 2.0] and a.dtype == dg.float32
    b = dg.tensor([dg.tensor([1, 2]), dg.tensor([3, 4])])
    assert b.shape == (2, 2) and b.dtype == dg.int64
    src = np.array([1.0, 2.0])
    c = dg.tensor(src, dtype=dg.float32, requires_grad=True)
    src[0] = 9.0
    assert c.dtype == dg.float32 and c.tolist() == [1.0, 2.0] and c.requires_grad and c.is_leaf
    w = dg.tensor([1.0, 2.0], requires_grad=True)
    assert not dg.tensor(w).requires_grad
    assert dg.tensor([1, 2], dtype=dg.float64).dtype == dg.float64


def test_tensor_errors():
    with pytest.raises(TypeError, match="could not make a tensor from a list with ragged"):
        dg.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="non-numeric"):
        dg.tensor(["a", None])
    with pytest.raises(TypeError, match="unsupported array dtype complex128; deepgrad supports"):
        dg.tensor(np.array([1j]))
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        dg.zeros(2, device="cuda")


def test_from_numpy_shares_memory():
    a = np.zeros(3, dtype=np.float64)
    t = dg.from_numpy(a)
    a[0] = 5.0
    t[1] = 7.0
    assert t.tolist() == [5.0, 7.0, 0.0] and a[1] == 7.0 and t.dtype == dg.float64
    assert dg.as_tensor(a)._data is a
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray, got list"):
        dg.from_numpy([1, 2])


@pytest.mark.parametrize("name,args,kwargs", [
    ("zeros", (2, 3), {}), ("zeros", ((2, 3),), {}), ("zeros", ([4],), {"dtype": "float64"}),
    ("ones", (3,), {}), ("ones", (2, 2), {"dtype": "int64"}), ("full", ((2, 2), 3), {}),
    ("full", ((2,), 1.5), {}), ("full", ((2,), True), {}), ("arange", (5,), {}), ("arange", (1, 4), {}),
    ("arange", (0, 1, 0.25), {}), ("arange", (1.0, 3), {}), ("arange", (10, 0, -3), {}),
    ("arange", (5,), {"dtype": "float32"}), ("arange", (0, 1, 0.1), {}), ("linspace", (0, 1, 5), {}),
    ("linspace", (-1, 1, 1), {}), ("linspace", (0, 10, 5), {"dtype": "int64"}), ("eye", (3,), {}),
    ("eye", (2, 3), {}), ("zeros", (0, 2), {}),
], ids=str)
def test_creation_matches_torch(name, args, kwargs):
    dkw = {k: getattr(dg, v) for k, v in kwargs.items()}
    tkw = {k: getattr(torch, v) for k, v in kwargs.items()}
    d, t = getattr(dg, name)(*args, **dkw), getattr(torch, name)(*args, **tkw)
    assert _name(d.dtype) == _name(t.dtype) and tuple(d.shape) == tuple(t.shape)
    np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-6)


def test_like_constructors_and_empty():
    x = dg.tensor([[1, 2, 3]])
    for fn, value in [(dg.zeros_like, 0), (dg.ones_like, 1)]:
        y = fn(x)
        assert y.dtype == dg.int64 and y.shape == (1, 3) and (y == value).all()
    assert dg.zeros_like(x, dtype=dg.float32).dtype == dg.float32
    assert dg.full_like(x, 7).tolist() == [[7, 7, 7]]
    assert dg.empty(2, 3).shape == (2, 3) and dg.empty(2).dtype == dg.float32
    assert dg.empty_like(x).shape == (1, 3)
    assert dg.ones(2, requires_grad=True).requires_grad
    assert dg.randn_like(dg.ones(2, 3)).shape == (2, 3) and dg.rand_like(dg.ones(4)).dtype == dg.float32


def test_creation_errors():
    with pytest.raises(RuntimeError, match="arange: step must be nonzero"):
        dg.arange(0, 3, 0)
    with pytest.raises(RuntimeError, match=r"zeros: sizes must be non-negative, got \(2, -1\)"):
        dg.zeros(2, -1)
    with pytest.raises(TypeError, match="ones: sizes must be integers, got 2.5"):
        dg.ones(2.5)


# ---------------------------------------------------------------------------- random
def test_manual_seed_reproduces_every_draw():
    def draw():
        return [dg.randn(3).tolist(), dg.rand(2, 2).tolist(), dg.randint(0, 10, (4,)).tolist(),
                dg.randperm(5).tolist(), dg.empty(3).uniform_().tolist(), dg.empty(3).normal_().tolist()]
    dg.manual_seed(123)
    first = draw()
    dg.manual_seed(123)
    assert draw() == first
    dg.manual_seed(124)
    assert draw() != first


def test_generator_state_round_trip_and_independence():
    g = dg.Generator().manual_seed(7)
    state = g.get_state()
    assert state.dtype == dg.uint8
    a = dg.randn(5, generator=g).tolist()
    dg.randn(10)  # the global generator is independent of g
    g.set_state(state)
    assert dg.randn(5, generator=g).tolist() == a
    saved = dg.get_rng_state()
    b = dg.rand(4).tolist()
    dg.set_rng_state(saved)
    assert dg.rand(4).tolist() == b
    assert dg.Generator().manual_seed(7).initial_seed() == 7
    with pytest.raises(ValueError, match="set_state: expected a 37-byte generator state, got 3 bytes"):
        g.set_state(dg.tensor([1, 2, 3], dtype=dg.uint8))


def test_random_distributions_dtypes_and_ranges():
    dg.manual_seed(0)
    u = dg.rand(20000)
    n = dg.randn(20000, dtype=dg.float64)
    r = dg.randint(3, 7, (20000,))
    assert u.dtype == dg.float32 and n.dtype == dg.float64 and r.dtype == dg.int64
    assert 0 <= u.min().item() and u.max().item() < 1 and abs(u.mean().item() - 0.5) < 0.01
    assert abs(n.mean().item()) < 0.03 and abs(n.std().item() - 1) < 0.03
    assert r.min().item() == 3 and r.max().item() == 6
    assert sorted(dg.randperm(6).tolist()) == list(range(6))
    assert dg.randint(5, (2, 3)).shape == (2, 3)
    with pytest.raises(RuntimeError, match="randint: expected low < high, got low=5, high=5"):
        dg.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="expected a floating dtype for random floats, got deepgrad.int64"):
        dg.randn(2, dtype=dg.int64)


# ---------------------------------------------------------------------------- Tensor API
def test_attributes():
    x = dg.tensor(rand(2, 3, dtype=np.float32), requires_grad=True)
    assert x.shape == (2, 3) and isinstance(x.shape, dg.Size) and x.ndim == 2 and x.dim() == 2
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-2) == 2 and x.numel() == 6
    assert x.dtype == dg.float32 and x.requires_grad and x.is_leaf and x.grad is None
    assert x.T.shape == (3, 2) and not x.T.is_leaf and x.T.grad_fn is not None
    assert x.device == dg.device("cpu") and str(x.device) == "cpu"
    assert dg.Size([2, 3]).numel() == 6 and repr(dg.Size([2, 3])) == "deepgrad.Size([2, 3])"
    assert len(x) == 2 and x.is_floating_point() and not dg.tensor([1]).is_floating_point()
    with pytest.raises(IndexError, match="size: dimension 2 is out of range for a tensor with 2 dimensions"):
        x.size(2)


def test_item_numpy_tolist():
    assert dg.tensor([[2.5]]).item() == 2.5 and isinstance(dg.tensor([5]).item(), int)
    assert isinstance(dg.tensor(1.5).item(), float) and dg.tensor(True).item() is True
    with pytest.raises(RuntimeError,
                       match=r"item\(\): a Tensor with 2 elements cannot be converted to a Python "
                             r"scalar \(shape \(2,\)\)"):
        dg.tensor([1.0, 2.0]).item()
    x = dg.tensor([[1.0, 2.0]], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on a tensor that requires grad"):
        x.numpy()
    arr = x.detach().numpy()
    arr[0, 0] = 7.0  # shares memory, like torch
    assert x.tolist() == [[7.0, 2.0]] and isinstance(x.tolist()[0][0], float)
    assert dg.tensor([1, 2]).tolist() == [1, 2]
    assert float(dg.tensor(2.5)) == 2.5 and int(dg.tensor(3)) == 3 and bool(dg.tensor([1]))
    assert [1, 2, 3][dg.tensor(1)] == 2
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with 2 values is ambiguous"):
        bool(dg.tensor([1, 2]))


def test_detach_clone_requires_grad_():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None and d._data is x._data
    c = x.clone()
    assert c.requires_grad and not c.is_leaf and c._data is not x._data
    (c * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    y = dg.ones(2)
    assert y.requires_grad_() is y and y.requires_grad
    y.requires_grad = False
    assert not y.requires_grad
    assert y.requires_grad_(True).requires_grad


@pytest.mark.parametrize("method,dtype", [("float", "float32"), ("double", "float64"), ("long", "int64"),
                                          ("int", "int32"), ("half", "float16"), ("bool", "bool")])
def test_conversion_methods(method, dtype):
    values = [1.7, -2.2, 0.0]
    d, t = getattr(dg.tensor(values), method)(), getattr(torch.tensor(values), method)()
    assert _name(d.dtype) == dtype == _name(t.dtype)
    np.testing.assert_array_equal(d.numpy(), t.numpy())


def test_to_and_cast_gradients():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(dg.float64)
    assert y.dtype == dg.float64 and x.to(dg.float32) is x and x.to("cpu") is x
    assert x.to(dg.float32, copy=True) is not x
    assert x.to(dg.zeros(1, dtype=dg.float64)).dtype == dg.float64
    assert x.to("cpu", dg.float16).dtype == dg.float16
    assert x.to(dtype=dg.float64).dtype == dg.float64 and x.to("float64").dtype == dg.float64
    (y * y).sum().backward()
    assert x.grad.dtype == dg.float32 and x.grad.tolist() == [2.0, 4.0]
    with pytest.raises(TypeError, match=r"to\(\) got unexpected arguments \['foo'\]"):
        x.to(foo=1)


def test_backward_with_gradient_and_retain_graph():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    y.backward(dg.tensor([1.0, 1.0]), retain_graph=True)
    y.backward(gradient=dg.tensor([0.5, 0.5]))
    assert x.grad.tolist() == [3.0, 6.0]


def test_repr_matches_torch():
    nan, inf = float("nan"), float("inf")
    cases = [[1.5, 2.0], [1, 2], 3.5, [[1.0, -2.0], [3.25, 4.0]], [1e-5, 1.0], [1e10, 1.0], [1.0, 2.0, nan],
             [1.5, nan, inf], [True, False], [True, True], [False], [], [[1, 2], [3, 4]], [0.0, 0.0],
             [-inf, 1.5]]
    for v in cases:
        assert repr(dg.tensor(v)) == repr(torch.tensor(v)), v
    assert repr(dg.zeros(2, 0)) == repr(torch.zeros(2, 0))
    assert repr(dg.tensor([1.0, 2.0], dtype=dg.float64)) == "tensor([1., 2.], dtype=deepgrad.float64)"
    assert repr(dg.tensor([1.5], requires_grad=True)) == "tensor([1.5000], requires_grad=True)"
    assert repr(dg.tensor([1.5], requires_grad=True) * 2) == "tensor([3.], grad_fn=<MulBackward>)"
    assert repr(dg.float32) == "deepgrad.float32"
    assert f"{dg.tensor(2.5):.2f}" == "2.50"


def test_pickle_and_deepcopy():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    y = pickle.loads(pickle.dumps(x))
    assert y.tolist() == [1.0, 2.0] and y.requires_grad and y.is_leaf
    z = copy.deepcopy(x)
    assert z.tolist() == [1.0, 2.0] and z.grad.tolist() == [2.0, 2.0] and z._data is not x._data
    with pytest.raises(RuntimeError, match="only leaf tensors"):
        copy.deepcopy(x * 2)
    assert pickle.loads(pickle.dumps(dg.float64)) is dg.float64


def test_tensor_constructor_like_torch():
    assert dg.Tensor([1, 2]).dtype == dg.float32
    assert dg.Tensor(2, 3).shape == (2, 3)


def test_import_deepgrad_as_torch_style_code():
    import deepgrad as torch_like
    import deepgrad.nn.functional as F

    torch_like.manual_seed(0)
    w = torch_like.randn(4, 3, requires_grad=True)
    b = torch_like.zeros(3, requires_grad=True)
    x = torch_like.randn(8, 4)
    y = torch_like.randint(0, 3, (8,))
    for _ in range(20):
        loss = F.cross_entropy(x @ w + b, y)
        loss.backward()
        with torch_like.no_grad():
            for p in (w, b):
                p -= 0.5 * p.grad
                p.grad.zero_()
    assert loss.item() < 0.9 and loss.dtype == torch_like.float32
    assert torch_like.is_tensor(w) and torch_like.numel(w) == 12 and torch_like.is_floating_point(w)
    assert torch_like.float is torch_like.float32 and torch_like.long is torch_like.int64
    assert not torch_like.cuda.is_available()
