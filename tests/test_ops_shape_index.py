"""Shape and indexing ops against PyTorch: reshape view flatten squeeze unsqueeze transpose permute
expand repeat split chunk cat stack, basic/advanced/boolean indexing, gather, masked_fill, setitem."""
import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad.autograd import gradcheck
from tests.helpers import compare, rand

X = rand(2, 3, 4)

SHAPE_OPS = {
    "reshape": lambda x: x.reshape(4, 6),
    "reshape_neg": lambda x: x.reshape(-1, 2),
    "reshape_tuple": lambda x: x.reshape((3, 8)),
    "view": lambda x: x.view(2, 12),
    "view_flat": lambda x: x.view(-1),
    "flatten": lambda x: x.flatten(),
    "flatten_1": lambda x: x.flatten(1),
    "flatten_0_1": lambda x: x.flatten(0, 1),
    "flatten_neg": lambda x: x.flatten(-2, -1),
    "unsqueeze_0": lambda x: x.unsqueeze(0),
    "unsqueeze_neg": lambda x: x.unsqueeze(-1),
    "unsqueeze_mid": lambda x: x.unsqueeze(2),
    "transpose": lambda x: x.transpose(0, 2),
    "transpose_neg": lambda x: x.transpose(-1, -2),
    "permute": lambda x: x.permute(2, 0, 1),
    "permute_tuple": lambda x: x.permute((1, 2, 0)),
    "permute_neg": lambda x: x.permute(-1, 0, -2),
    "T": lambda x: x.T if x.ndim == 2 else x.flatten(1).T,
    "mT": lambda x: x.mT,
    "expand": lambda x: x[:, :1].expand(2, 5, 4),
    "expand_neg": lambda x: x[:1].expand(3, -1, -1),
    "expand_new": lambda x: x.expand(2, 2, 3, 4),
    "repeat": lambda x: x.repeat(2, 1, 3),
    "repeat_more": lambda x: x.repeat(2, 1, 1, 2),
    "flip": lambda x: x.flip(0, 2) if isinstance(x, torch.Tensor) else x.flip((0, 2)),
    "chain": lambda x: x.permute(1, 0, 2).reshape(3, 8).T.unsqueeze(1).expand(8, 2, 3),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_op(name):
    compare(SHAPE_OPS[name], X)


EDGE_SHAPE_OPS = {  # name: (input shape, op)
    "squeeze_all": ((1, 3, 1), lambda x: x.squeeze()),
    "squeeze_0": ((1, 3, 1), lambda x: x.squeeze(0)),
    "squeeze_neg": ((1, 3, 1), lambda x: x.squeeze(-1)),
    "squeeze_not_one": ((1, 3, 1), lambda x: x.squeeze(1)),
    "squeeze_tuple": ((1, 3, 1), lambda x: x.squeeze((0, 2))),
    "squeeze_0d": ((), lambda x: x.squeeze()),
    "unsqueeze_0d": ((), lambda x: x.unsqueeze(0)),
    "reshape_0d": ((), lambda x: x.reshape(1, 1)),
    "flatten_0d": ((), lambda x: x.flatten()),
    "expand_0d": ((), lambda x: x.expand(3, 2)),
    "reshape_empty": ((0, 3), lambda x: x.reshape(3, 0)),
    "transpose_empty": ((0, 3), lambda x: x.transpose(0, 1)),
    "unsqueeze_empty": ((0, 3), lambda x: x.unsqueeze(1)),
    "repeat_empty": ((0, 3), lambda x: x.repeat(2, 2)),
    "expand_size_one": ((1,), lambda x: x.expand(4)),
    "flatten_empty": ((2, 0, 3), lambda x: x.flatten(1)),
    "view_squeeze": ((3,), lambda x: x.view(3, 1, 1).squeeze(1)),
}


@pytest.mark.parametrize("name", sorted(EDGE_SHAPE_OPS))
def test_shape_ops_on_0d_empty_and_size_one(name):
    shape, fn = EDGE_SHAPE_OPS[name]
    compare(fn, rand(*shape))


def test_module_level_shape_functions():
    compare(lambda x: dg.reshape(x, (6, 4)), X, torch_fn=lambda x: torch.reshape(x, (6, 4)))
    compare(lambda x: dg.flatten(x, 1), X, torch_fn=lambda x: torch.flatten(x, 1))
    compare(lambda x: dg.transpose(x, 0, 1), X, torch_fn=lambda x: torch.transpose(x, 0, 1))
    compare(lambda x: dg.permute(x, (2, 1, 0)), X, torch_fn=lambda x: torch.permute(x, (2, 1, 0)))
    compare(lambda x: dg.squeeze(x[:1]), X, torch_fn=lambda x: torch.squeeze(x[:1]))
    compare(lambda x: dg.unsqueeze(x, 1), X, torch_fn=lambda x: torch.unsqueeze(x, 1))
    compare(lambda x: dg.broadcast_to(x[:, :1], (2, 3, 4)), X,
            torch_fn=lambda x: torch.broadcast_to(x[:, :1], (2, 3, 4)))


def test_shape_errors():
    x = dg.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"reshape: shape \[4, 2\] is invalid for input of size 6"):
        x.reshape(4, 2)
    with pytest.raises(RuntimeError, match=r"reshape: shape \[-1, -1\] is invalid"):
        x.reshape(-1, -1)
    with pytest.raises(RuntimeError, match=r"expand: the expanded size 4 must match the existing size 3"):
        x.expand(2, 4)
    with pytest.raises(RuntimeError, match=r"permute: expected 2 dims for a tensor of shape \(2, 3\), got 3"):
        x.permute(0, 1, 2)
    with pytest.raises(RuntimeError, match=r"permute: repeated dim"):
        x.permute(0, 0)
    with pytest.raises(IndexError, match=r"transpose: dimension 2 is out of range"):
        x.transpose(0, 2)
    with pytest.raises(RuntimeError, match=r"repeat: number of repeat dims \(1\) can not be smaller"):
        x.repeat(2)
    with pytest.raises(RuntimeError, match=r"flatten: start_dim 1 comes after end_dim 0"):
        x.flatten(1, 0)
    with pytest.raises(RuntimeError, match=r"expand: the size -1 is not allowed in a new leading dimension"):
        x.expand(-1, 2, 3)


def test_reshape_and_transpose_are_views_sharing_memory():
    x = dg.zeros(2, 3)
    v = x.view(3, 2)
    t = x.T
    x[0, 0] = 5.0
    assert v[0, 0].item() == 5.0 and t[0, 0].item() == 5.0
    assert x.transpose(0, 1).is_contiguous() is False
    assert x.T.contiguous().is_contiguous()


# ---------------------------------------------------------------------------- cat, stack, split, chunk
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_and_stack(dim):
    a, b, c = rand(2, 3, seed=1), rand(2, 3, seed=2), rand(2, 3, seed=3)
    compare(lambda x, y, z: dg.cat([x, y, z], dim), a, b, c,
            torch_fn=lambda x, y, z: torch.cat([x, y, z], dim))
    compare(lambda x, y, z: dg.stack((x, y, z), dim), a, b, c,
            torch_fn=lambda x, y, z: torch.stack((x, y, z), dim))


def test_cat_uneven_sizes_empty_and_single():
    compare(lambda x, y: dg.cat([x, y], 1), rand(2, 3), rand(2, 1, seed=1),
            torch_fn=lambda x, y: torch.cat([x, y], 1))
    compare(lambda x, y: dg.cat([x, y]), rand(0, 3), rand(2, 3, seed=1),
            torch_fn=lambda x, y: torch.cat([x, y]))
    compare(lambda x: dg.cat([x * 2]), rand(2, 3), torch_fn=lambda x: torch.cat([x * 2]))
    compare(lambda x: dg.stack([x]), rand(), torch_fn=lambda x: torch.stack([x]))
    assert dg.cat([dg.ones(2, dtype=dg.int64), dg.ones(2, dtype=dg.float32)]).dtype == dg.float32
    assert dg.concat([dg.ones(1), dg.ones(1)]).shape == (2,)


def test_cat_and_stack_errors():
    with pytest.raises(RuntimeError,
                       match=r"cat: sizes of tensors must match except in dimension 0; tensor 0 "
                             r"has shape \(2, 3\) and tensor 1 has shape \(2, 4\)"):
        dg.cat([dg.ones(2, 3), dg.ones(2, 4)])
    with pytest.raises(RuntimeError, match="cat: expected a non-empty list"):
        dg.cat([])
    with pytest.raises(RuntimeError, match=r"cat: zero-dimensional tensor \(at position 0\) cannot be"):
        dg.cat([dg.tensor(1.0), dg.tensor(2.0)])
    with pytest.raises(RuntimeError, match=r"stack: expects each tensor to be equal size, but got \(2,\) at "
                                           r"entry 0 and \(3,\) at entry 1"):
        dg.stack([dg.ones(2), dg.ones(3)])


@pytest.mark.parametrize("args", [(2,), (3,), (1, 1), ([1, 4], 1), ([2, 0, 3], -1), (5, -1), (2, 0)], ids=str)
def test_split(args):
    def fn(x):
        return x.split(*args)[-1] * 2 + x.split(*args)[0].sum()
    compare(fn, rand(4, 5))
    d, t = dg.tensor(rand(4, 5)).split(*args), torch.tensor(rand(4, 5)).split(*args)
    assert [tuple(p.shape) for p in d] == [tuple(p.shape) for p in t]


@pytest.mark.parametrize("chunks,dim", [(2, 0), (3, 1), (4, 1), (6, 1), (1, 0)])
def test_chunk(chunks, dim):
    d, t = dg.tensor(rand(4, 5)).chunk(chunks, dim), torch.tensor(rand(4, 5)).chunk(chunks, dim)
    assert [tuple(p.shape) for p in d] == [tuple(p.shape) for p in t]
    compare(lambda x: sum((p * (i + 1)).sum() for i, p in enumerate(x.chunk(chunks, dim))), rand(4, 5))
    compare(lambda x: dg.chunk(x, chunks, dim)[0], rand(4, 5),
            torch_fn=lambda x: torch.chunk(x, chunks, dim)[0])


def test_split_chunk_errors():
    with pytest.raises(RuntimeError, match=r"split: sizes \[1, 2\] do not sum to the size 4 of dimension 0"):
        dg.ones(4).split([1, 2])
    with pytest.raises(RuntimeError, match="chunk: chunks must be positive"):
        dg.ones(4).chunk(0)


def test_unbind():
    compare(lambda x: x.unbind(1)[2], X)
    assert len(dg.ones(2, 3).unbind(1)) == 3


# ---------------------------------------------------------------------------- indexing
INDEXES = {
    "int": lambda x: x[1],
    "neg_int": lambda x: x[-1, -2],
    "slice": lambda x: x[:, 1:3],
    "step": lambda x: x[::2, ::2],
    "negative_step": lambda x: x[:, ::-1] if isinstance(x, dg.Tensor) else x.flip(1),
    "slice_neg": lambda x: x[:, -2:, :-1],
    "ellipsis": lambda x: x[..., 1],
    "none": lambda x: x[None, :, None, 0],
    "empty_slice": lambda x: x[:, 3:],
    "scalar": lambda x: x[1, 2, 3],
    "int_array": lambda x: x[[0, 1, 0]],
    "int_array_repeated": lambda x: x[:, [2, 2, 0]],
    "int_tensor": lambda x: x[_idx(x, [1, 0, 1])],
    "int_array_2d": lambda x: x[_idx(x, [[0, 1], [1, 1]])],
    "pairs": lambda x: x[_idx(x, [0, 1, 1]), _idx(x, [2, 0, 2])],
    "pairs_slice": lambda x: x[_idx(x, [0, 1, 1]), :, _idx(x, [3, 3, 0])],
    "bool_mask": lambda x: x[x > 0],
    "bool_mask_rows": lambda x: x[_idx(x, [True, False])],
    "bool_mask_2d": lambda x: x[:, _idx(x, [True, False, True])],
    "0d_int_tensor": lambda x: x[_idx(x, 1)],
}


def _idx(like, value):
    return (torch.tensor if isinstance(like, torch.Tensor) else dg.tensor)(value)


@pytest.mark.parametrize("name", sorted(INDEXES))
def test_getitem(name):
    compare(INDEXES[name], X)


def test_index_pairs_arange_labels():
    labels = np.array([2, 0, 1, 2])
    logits = rand(4, 3)
    compare(lambda x: x[dg.arange(4), dg.tensor(labels)], logits,
            torch_fn=lambda x: x[torch.arange(4), torch.tensor(labels)])
    compare(lambda x: x.log_softmax(1)[dg.arange(4), dg.tensor(labels)].mean(), logits,
            torch_fn=lambda x: x.log_softmax(1)[torch.arange(4), torch.tensor(labels)].mean())


def test_getitem_errors():
    x = dg.ones(2, 3)
    with pytest.raises(IndexError, match=r"index 5 is invalid for a tensor of shape \(2, 3\)"):
        x[5]
    with pytest.raises(IndexError, match="tensors used as indices must be long, int or bool tensors"):
        x[dg.tensor([0.0])]


def test_gather():
    idx = np.array([[0, 2, 2], [1, 0, 0]])
    compare(lambda x: x.gather(1, dg.tensor(idx)), rand(2, 4),
            torch_fn=lambda x: x.gather(1, torch.tensor(idx)))
    compare(lambda x: dg.gather(x, 0, dg.tensor(idx)), rand(3, 3),
            torch_fn=lambda x: torch.gather(x, 0, torch.tensor(idx)))
    compare(lambda x: x.gather(-1, dg.tensor([[1], [0]])), rand(2, 4),
            torch_fn=lambda x: x.gather(-1, torch.tensor([[1], [0]])))
    with pytest.raises(IndexError, match="gather: index 4 is out of bounds for dimension 1 with size 4"):
        dg.ones(2, 4).gather(1, dg.tensor([[4]]))
    with pytest.raises(RuntimeError, match="gather: index has 1 dims but input has 2"):
        dg.ones(2, 4).gather(1, dg.tensor([1]))
    with pytest.raises(RuntimeError, match="gather: expected an int64 index tensor"):
        dg.ones(2, 4).gather(1, dg.tensor([[1.0]]))


def test_index_select_and_scatter():
    compare(lambda x: x.index_select(1, dg.tensor([2, 0, 2])), X,
            torch_fn=lambda x: x.index_select(1, torch.tensor([2, 0, 2])))
    idx = np.array([[0, 2], [1, 0]])
    compare(lambda x, s: x.scatter(1, dg.tensor(idx), s), rand(2, 3), rand(2, 2, seed=1),
            torch_fn=lambda x, s: x.scatter(1, torch.tensor(idx), s))


def test_masked_fill():
    mask = rand(3, 4, seed=5) > 0
    compare(lambda x: x.masked_fill(dg.tensor(mask), -1.5), rand(3, 4),
            torch_fn=lambda x: x.masked_fill(torch.tensor(mask), -1.5))
    compare(lambda x: x.masked_fill(dg.tensor(mask[0]), float("-inf")).softmax(-1), rand(3, 4),
            torch_fn=lambda x: x.masked_fill(torch.tensor(mask[0]), float("-inf")).softmax(-1))
    value = np.array(2.0)
    compare(lambda x: dg.masked_fill(x, dg.tensor(mask), dg.tensor(value)), rand(3, 4),
            torch_fn=lambda x: torch.masked_fill(x, torch.tensor(mask), torch.tensor(value)))
    with pytest.raises(RuntimeError, match="masked_fill: expected a bool mask, got int64"):
        dg.ones(2).masked_fill(dg.tensor([1, 0]), 0.0)
    assert dg.ones(2, dtype=dg.float32).masked_fill(dg.tensor([True, False]), 3.0).dtype == dg.float32


# ---------------------------------------------------------------------------- setitem
SETITEMS = {
    "slice_scalar": (lambda x, v: _set(x, (slice(None), 1), 5.0), False),
    "int_tensor": (lambda x, v: _set(x, 0, v[0]), True),
    "slice_tensor": (lambda x, v: _set(x, (slice(0, 2), slice(None)), v[:2]), True),
    "broadcast_value": (lambda x, v: _set(x, (slice(None), 2), v[0, 0]), True),
    "int_array": (lambda x, v: _set(x, _idx(x, [2, 0]), v[:2]), True),
    "bool_mask": (lambda x, v: _set(x, x > 0, v[0, 0]), True),
    "pairs": (lambda x, v: _set(x, (_idx(x, [0, 1]), _idx(x, [1, 2])), v[0, :2]), True),
}


def _set(x, index, value):
    y = x * 1.0
    y[index] = value
    return y * y


@pytest.mark.parametrize("name", sorted(SETITEMS))
def test_setitem_with_grad(name):
    fn, uses_v = SETITEMS[name]
    compare(fn, rand(3, 4), rand(3, 4, seed=1))


def test_setitem_without_grad_and_errors():
    x = dg.zeros(2, 3)
    x[1] = dg.tensor([1.0, 2.0, 3.0])
    x[:, 0] = 7
    assert x.tolist() == [[7.0, 0.0, 0.0], [7.0, 2.0, 3.0]]
    with pytest.raises(RuntimeError,
                       match=r"setitem: cannot assign a value of shape \(2,\) to the selection of a "
                             r"tensor of shape \(2, 3\)"):
        x[0] = dg.ones(2)
    leaf = dg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf tensor that requires grad is being used in an in-place"):
        leaf[0] = 2.0


@pytest.mark.parametrize("fn", [
    lambda x: x.reshape(4, 6).T.unsqueeze(0).expand(2, 6, 4).sum(0),
    lambda x: x.permute(2, 0, 1).repeat(1, 2, 1)[1:, ::2],
    lambda x: dg.cat([x, x * 2], 1).split([1, 5], 1)[1],
    lambda x: dg.stack([x, x.flip(1)], -1)[..., 1],
    lambda x: x[dg.tensor([1, 0, 1]), :, dg.tensor([0, 3, 3])],
    lambda x: x.gather(2, dg.tensor([[[0, 3]] * 3] * 2)),
    lambda x: x.masked_fill(x > 0.5, 0.0),
])
def test_gradcheck_shape_and_index(fn):
    assert gradcheck(fn, (dg.tensor(rand(2, 3, 4, seed=2), requires_grad=True),))


def test_shape_and_index_ops_keep_float32():
    x = dg.tensor(rand(2, 3, 4, dtype=np.float32), requires_grad=True)
    y = dg.cat([x.reshape(6, 4).T.flatten(), x[x > 0], x[:, 1].repeat(2, 2).flatten(),
                x.gather(0, dg.zeros(1, 3, 4, dtype=dg.int64)).flatten(), dg.stack([x, x]).flatten()])
    y.sum().backward()
    assert y.dtype == dg.float32 and x.grad.dtype == dg.float32
