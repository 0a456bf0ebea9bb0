"""Embedding lookup (a fused gather with a scatter-add backward) and one-hot encoding."""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor

__all__ = ["embedding", "one_hot"]


class Embedding(Function):
    """out[...] = weight[indices[...]]; the gradient of a row is the sum of the gradients of the
    positions that looked it up (none for ``padding_idx``)."""

    saves_inputs = False

    def forward(self, weight, indices, padding_idx, scale_grad_by_freq):
        self.indices, self.num_rows = indices, weight.shape[0]
        self.padding_idx, self.scale_grad_by_freq = padding_idx, scale_grad_by_freq
        return weight[indices]

    def backward(self, g):
        idx = self.indices.reshape(-1)
        rows = g.reshape(idx.size, -1)
        if self.scale_grad_by_freq:
            counts = xp.bincount(idx, minlength=self.num_rows)
            rows = rows / counts[idx, None].astype(rows.dtype)
        grad = xp.zeros((self.num_rows,) + g.shape[self.indices.ndim:], dtype=g.dtype)
        # a 1-D scatter-add over element offsets: several times faster than numpy's row-wise add.at
        width = rows.shape[1]
        offsets = (idx[:, None] * width + xp.arange(width)).reshape(-1)
        xp.add.at(grad.reshape(-1), offsets, rows.reshape(-1))
        if self.padding_idx is not None:
            grad[self.padding_idx] = 0
        return grad, None, None, None


def _index_array(input: Tensor, op: str):
    if not isinstance(input, Tensor) or input._data.dtype.kind not in "iu":
        got = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise TypeError(f"{op}: expected indices of an integer dtype (int64 or int32), got {got}")
    return input._data


def _renorm_rows(weight: Tensor, idx, max_norm: float, norm_type: float) -> None:
    """Rescale in place the looked-up rows whose ``norm_type``-norm exceeds ``max_norm``."""
    rows = xp.unique(idx)
    w = weight._data
    norms = xp.linalg.norm(w[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    if big.any():
        w[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(w.dtype)
        weight._version[0] += 1


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of ``weight`` (num_embeddings, dim) at integer ``input`` of any shape; the
    result has shape ``input.shape + (dim,)``.

    ``padding_idx``: that row receives no gradient. ``max_norm``: looked-up rows with a larger
    norm are rescaled in place to norm ``max_norm`` first. ``scale_grad_by_freq``: each row's
    gradient is divided by how often it occurs in ``input``. Gradients are always dense, so
    ``sparse=True`` is refused.

    Example::

        vectors = F.embedding(deepgrad.tensor([[0, 2], [1, 1]]), table)   # (2, 2, dim)
    """
    if sparse:
        raise ValueError("embedding: sparse gradients are not supported (deepgrad stores dense "
                         "gradients); pass sparse=False")
    idx = _index_array(input, "embedding")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape "
                         f"{tuple(weight.shape)}")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx[(idx < 0) | (idx >= n)].flat[0])
        raise IndexError(f"embedding: index {bad} is out of range for num_embeddings={n} "
                         f"(valid indices: 0..{n - 1})")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within num_embeddings={n}")
        padding_idx %= n
    if max_norm is not None:
        _renorm_rows(weight, idx, max_norm, norm_type)
    return Embedding.apply(weight, idx.astype(xp.intp, copy=False), padding_idx, scale_grad_by_freq)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """An int64 tensor of shape ``tensor.shape + (num_classes,)`` with a 1 at each class index;
    ``num_classes=-1`` uses ``max + 1``.

    Example::

        F.one_hot(deepgrad.tensor([0, 2]), 3)   # [[1, 0, 0], [0, 0, 1]]
    """
    idx = _index_array(tensor, "one_hot")
    if idx.size and idx.min() < 0:
        raise RuntimeError(f"one_hot: class values must be non-negative, got {int(idx.min())}")
    if num_classes == -1:
        if idx.size == 0:
            raise RuntimeError("one_hot: cannot infer the number of classes from an empty tensor; "
                               "pass num_classes")
        num_classes = int(idx.max()) + 1
    elif idx.size and idx.max() >= num_classes:
        raise RuntimeError(f"one_hot: class value {int(idx.max())} is out of range for "
                           f"num_classes={num_classes}")
    out = xp.zeros(idx.shape + (num_classes,), dtype=xp.int64)
    xp.put_along_axis(out, idx[..., None].astype(xp.intp), 1, axis=-1)
    return Tensor._make(out)
