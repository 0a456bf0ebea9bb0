"""Helpers shared by the op families: argument normalisation and dtype promotion."""
from __future__ import annotations

from .. import backend as B
from ..backend import xp
from ..tensor import Tensor, _norm_dim


# Decorates forwards at a domain edge (log, sqrt, div, pow...): nan/inf come out silently, as in
# PyTorch, instead of NumPy's RuntimeWarning (see the NaN policy in ops/elementwise.py).
ieee = xp.errstate(divide="ignore", invalid="ignore", over="ignore")


def as_tensor_arg(x, like: Tensor | None = None) -> Tensor:
    """A Tensor for ``x``; Python numbers take ``like``'s dtype under the promotion rules."""
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, (bool, int, float)):
        dt = B.promote_scalar(like.dtype, x)
        return Tensor._make(xp.asarray(x, dtype=dt.np))
    from ..creation import tensor
    return tensor(x)


def norm_dim(dim: int, ndim: int, op: str) -> int:
    return _norm_dim(dim, ndim, op)


def norm_dims(dim, ndim: int, op: str) -> tuple | None:
    """``dim`` (None, int, or sequence) as a sorted tuple of non-negative axes, or None for all.
    A 0-d tensor accepts dim 0 and -1 (as PyTorch), meaning its one element."""
    if dim is None:
        return None
    if ndim == 0:
        for d in dim if isinstance(dim, (list, tuple)) else (dim,):
            _norm_dim(d, 0, op)
        return None
    if isinstance(dim, (list, tuple)):
        if len(dim) == 0:
            return None
        axes = tuple(sorted(_norm_dim(d, ndim, op) for d in dim))
        if len(set(axes)) != len(axes):
            raise RuntimeError(f"{op}: dim {tuple(dim)} appears multiple times in the list of dims")
        return axes
    return (_norm_dim(dim, ndim, op),)


def shape_arg(size, op: str) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])`` style sizes."""
    if len(size) == 1 and isinstance(size[0], (list, tuple)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, int) and not hasattr(s, "__index__"):
            raise TypeError(f"{op}: sizes must be integers, got {s!r}")
        out.append(int(s))
    return tuple(out)


def broadcast_shape(op: str, *shapes) -> tuple:
    try:
        return xp.broadcast_shapes(*shapes)
    except ValueError:
        desc = " and ".join(str(tuple(s)) for s in shapes)
        raise RuntimeError(f"{op}: shapes {desc} cannot be broadcast") from None
