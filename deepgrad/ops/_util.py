"""Helpers shared by the op families: argument normalisation, shape checks, quiet IEEE arithmetic."""
from __future__ import annotations

from ..backend import xp
from ..tensor import Tensor, _norm_dim


# Decorates forwards at a domain edge (log, sqrt, div, pow...): nan/inf come out silently, as in
# PyTorch, instead of NumPy's RuntimeWarning (see the NaN policy in ops/elementwise.py).
ieee = xp.errstate(divide="ignore", invalid="ignore", over="ignore")


def norm_dim(dim: int, ndim: int, op: str) -> int:
    """``dim`` as a non-negative axis of an ``ndim``-dimensional tensor (IndexError naming ``op``)."""
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


def shape_arg(size, op: str, negative_ok: bool = False) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])`` style sizes (negative entries only where
    ``negative_ok``: -1 in reshape/expand, dims counted from the end in permute)."""
    if len(size) == 1 and isinstance(size[0], (list, tuple)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, int) and not hasattr(s, "__index__"):
            raise TypeError(f"{op}: sizes must be integers, got {s!r}")
        out.append(int(s))
    if not negative_ok and any(s < 0 for s in out):
        raise RuntimeError(f"{op}: sizes must be non-negative, got {tuple(out)}")
    return tuple(out)


def broadcast_shape(op: str, *shapes) -> tuple:
    """The broadcast of ``shapes``, or a RuntimeError naming ``op`` and the shapes."""
    try:
        return xp.broadcast_shapes(*shapes)
    except ValueError:
        desc = " and ".join(str(tuple(s)) for s in shapes)
        raise RuntimeError(f"{op}: shapes {desc} cannot be broadcast") from None
