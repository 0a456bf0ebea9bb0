"""Reductions: sum, mean, var/std, max/min (with indices), amax/amin, logsumexp, argmax, norm."""
from __future__ import annotations

import warnings

from .. import backend as B
from ..backend import xp
from ..autograd.function import Function
from ..tensor import MinMax, Tensor
from ._util import ieee, norm_dim, norm_dims
from .elementwise import cast, mul, sqrt


def _expand_back(g, shape, axes, keepdim):
    """Re-insert reduced axes into ``g`` so it broadcasts against the input of ``shape``."""
    if axes is None:
        return g.reshape((1,) * len(shape)) if len(shape) else g
    if not keepdim:
        g = xp.expand_dims(g, axes)
    return g


class Sum(Function):
    saves_inputs = False

    def forward(self, a, axes, keepdim):
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        return a.sum(axis=axes, keepdims=keepdim)

    def backward(self, g):
        g = _expand_back(g, self.shape, self.axes, self.keepdim)
        return xp.broadcast_to(g, self.shape), None, None


class Mean(Function):
    saves_inputs = False

    def forward(self, a, axes, keepdim):
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        n = a.size if axes is None else _count(a.shape, axes)
        self.scale = 1.0 / n if n else float("nan")
        return a.mean(axis=axes, keepdims=keepdim) if n else xp.full(
            xp.sum(a, axis=axes, keepdims=keepdim).shape, xp.nan, dtype=a.dtype)

    def backward(self, g):
        g = _expand_back(g, self.shape, self.axes, self.keepdim) * g.dtype.type(self.scale)
        return xp.broadcast_to(g, self.shape), None, None


class Var(Function):
    """sum((a - mean)^2) / (N - correction), with denominator max(N - correction, 0) as PyTorch."""

    saves_inputs = False

    @ieee
    def forward(self, a, axes, keepdim, correction):
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        n = a.size if axes is None else _count(a.shape, axes)
        self.centred = a - a.mean(axis=axes, keepdims=True) if n else a
        self.denom = a.dtype.type(n - correction if n > correction else 0)
        return (self.centred * self.centred).sum(axis=axes, keepdims=keepdim) / self.denom

    def backward(self, g):
        g = _expand_back(g, self.shape, self.axes, self.keepdim)
        return g * (2 / self.denom) * self.centred, None, None, None


def _count(shape, axes):
    n = 1
    for ax in axes:
        n *= shape[ax]
    return n


class AMax(Function):
    """max/min over axes without indices: ties share the gradient equally (PyTorch's amax rule)."""

    saves_output = True

    def forward(self, a, axes, keepdim, largest):
        if a.size == 0 and (axes is None or 0 in [a.shape[ax] for ax in axes]):
            raise RuntimeError(f"max/min: cannot reduce over an empty dimension of a tensor of shape "
                               f"{a.shape}: the operation has no identity")
        self.a, self.axes, self.keepdim = a, axes, keepdim
        self.out = (a.max if largest else a.min)(axis=axes, keepdims=True)
        return self.out if keepdim else (self.out.reshape(()) if axes is None else
                                         xp.squeeze(self.out, axis=axes))

    def backward(self, g):
        g = _expand_back(g, self.a.shape, self.axes, self.keepdim)
        mask = (self.a == self.out)
        count = mask.sum(axis=self.axes, keepdims=True)
        return mask * (g / count).astype(g.dtype, copy=False), None, None, None


class MaxDim(Function):
    """The values at precomputed argmax/argmin indices along ``dim``; the gradient goes there."""

    saves_inputs = False

    def forward(self, a, idx, dim, keepdim):
        self.idx, self.shape, self.dim, self.keepdim = idx, a.shape, dim, keepdim
        vals = xp.take_along_axis(a, idx, axis=dim)
        return vals if keepdim else xp.squeeze(vals, axis=dim)

    def backward(self, g):
        if not self.keepdim:
            g = xp.expand_dims(g, self.dim)
        out = xp.zeros(self.shape, dtype=g.dtype)
        xp.put_along_axis(out, self.idx, g, axis=self.dim)
        return out, None, None, None


class LogSumExp(Function):
    saves_output = True

    @ieee
    def forward(self, a, axes, keepdim):
        m = a.max(axis=axes, keepdims=True) if a.size else xp.zeros((1,) * a.ndim, a.dtype)
        m = xp.where(xp.isfinite(m), m, 0)
        self.a = a
        self.lse = xp.log(xp.exp(a - m).sum(axis=axes, keepdims=True)) + m
        self.axes, self.keepdim = axes, keepdim
        if keepdim:
            return self.lse
        return self.lse.reshape(()) if axes is None else xp.squeeze(self.lse, axis=axes)

    def backward(self, g):
        g = _expand_back(g, self.a.shape, self.axes, self.keepdim)
        return g * xp.exp(self.a - self.lse), None, None


def _axes(x: Tensor, dim, op: str):
    return norm_dims(dim, x._data.ndim, op)


def _float_for_reduce(x: Tensor, dtype=None) -> Tensor:
    if dtype is not None:
        return cast(x, dtype) if B.to_dtype(dtype).np != x._data.dtype else x
    return x


def sum(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum over ``dim`` (int, tuple, or None for all). Booleans and integers sum to int64."""
    x = _float_for_reduce(x, dtype)
    if x._data.dtype.kind in "bu" or x._data.dtype in (xp.int8, xp.int16, xp.int32):
        x = cast(x, B.int64)
    return Sum.apply(x, _axes(x, dim, "sum"), keepdim)


def mean(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mean over ``dim``; integer tensors need a floating ``dtype`` (as in PyTorch)."""
    x = _float_for_reduce(x, dtype)
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype; input dtype is {x.dtype}. "
                           f"Pass a floating dtype, e.g. x.float().mean()")
    return Mean.apply(x, _axes(x, dim, "mean"), keepdim)


def var(x: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction=None) -> Tensor:
    """Variance: sum((x - mean)^2) / (N - correction). ``unbiased=True`` means correction 1
    (the default, as in PyTorch); ``unbiased=False`` means correction 0. With N <= correction the
    result is inf or nan, with a warning, as in PyTorch."""
    if isinstance(unbiased, (int, tuple, list)) and not isinstance(unbiased, bool) and dim is None:
        dim, unbiased = unbiased, None  # var(x, 0) passes dim positionally in old PyTorch code
    if correction is None:
        correction = 0 if unbiased is False else 1
    elif unbiased is not None:
        raise RuntimeError("var/std: pass either unbiased or correction, not both")
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"var/std: expected a floating tensor, got {x.dtype}")
    axes = _axes(x, dim, "var")
    n = x._data.size if axes is None else _count(x._data.shape, axes)
    if n - correction <= 0 and x._data.size:
        warnings.warn("var/std: degrees of freedom is <= 0 (the correction is not smaller than the "
                      f"number of reduced elements, {n}); the result is inf or nan", stacklevel=2)
    return Var.apply(x, axes, keepdim, correction)


def std(x: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction=None) -> Tensor:
    """Standard deviation, sqrt(var) with the same arguments."""
    return sqrt(var(x, dim, unbiased, keepdim, correction=correction))


def _max_min(x: Tensor, dim, keepdim, largest: bool, name: str):
    if isinstance(dim, Tensor):
        from .elementwise import maximum, minimum
        return (maximum if largest else minimum)(x, dim)
    if dim is None:
        return AMax.apply(x, None, False, largest)
    d = norm_dim(dim, x._data.ndim, name)
    if x._data.ndim == 0:  # dim 0 or -1 of a 0-d tensor: the value itself, at index 0
        from .shape import reshape
        return _max_min(reshape(x, 1), 0, False, largest, name)
    if x._data.shape[d] == 0:
        raise IndexError(f"{name}(): cannot reduce over dimension {dim} of size 0")
    idx = (xp.argmax if largest else xp.argmin)(x._data, axis=d, keepdims=True)
    values = MaxDim.apply(x, idx, d, keepdim)
    indices = idx if keepdim else xp.squeeze(idx, axis=d)
    return MinMax(values, Tensor._make(indices.astype(xp.int64, copy=False)))


def max(x: Tensor, dim=None, keepdim: bool = False):
    """``max(x)`` the largest value; ``max(x, dim)`` a (values, indices) pair; ``max(x, other)``
    the elementwise maximum. The first index wins at ties."""
    return _max_min(x, dim, keepdim, True, "max")


def min(x: Tensor, dim=None, keepdim: bool = False):
    """``min(x)`` the smallest value; ``min(x, dim)`` a (values, indices) pair; ``min(x, other)`` the
    elementwise minimum. The first index wins at ties."""
    return _max_min(x, dim, keepdim, False, "min")


def amax(x: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (default all); tied elements share the gradient equally."""
    return AMax.apply(x, _axes(x, dim, "amax"), keepdim, True)


def amin(x: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Minimum over ``dim`` (default all); tied elements share the gradient equally."""
    return AMax.apply(x, _axes(x, dim, "amin"), keepdim, False)


def logsumexp(x: Tensor, dim, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``dim``, computed stably (finite for logits of +-1e4)."""
    if x._data.dtype.kind != "f":
        x = cast(x, B.get_default_dtype())
    return LogSumExp.apply(x, _axes(x, dim, "logsumexp"), keepdim)


def _arg_extreme(x: Tensor, dim, keepdim: bool, fn, name: str) -> Tensor:
    if dim is None or x._data.ndim == 0:
        if dim is not None:
            norm_dim(dim, 0, name)
        if x._data.size == 0:
            raise RuntimeError(f"{name}(): expected a non-empty tensor when reducing over all elements")
        out = xp.asarray(fn(x._data), dtype=xp.int64)
        return Tensor._make(out.reshape((1,) * x._data.ndim if keepdim else ()))
    d = norm_dim(dim, x._data.ndim, name)
    if x._data.shape[d] == 0:
        raise IndexError(f"{name}(): cannot reduce over dimension {dim} of size 0")
    return Tensor._make(fn(x._data, axis=d, keepdims=keepdim).astype(xp.int64, copy=False))


def argmax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the largest value (the first at ties), over the flattened tensor if dim is None."""
    return _arg_extreme(x, dim, keepdim, xp.argmax, "argmax")


def argmin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the smallest value (the first at ties), over the flattened tensor if dim is None."""
    return _arg_extreme(x, dim, keepdim, xp.argmin, "argmin")


def norm(x: Tensor, p=2, dim=None, keepdim: bool = False) -> Tensor:
    """The p-norm over ``dim`` (default all elements); p may be a number, 'fro' or inf."""
    from .elementwise import abs as abs_, pow as pow_
    if p == "fro":
        p = 2
    if p == float("inf"):
        return amax(abs_(x), dim if dim is not None else (), keepdim)
    if p == 2:
        return sqrt(sum(mul(x, x), dim, keepdim))
    if p == 1:
        return sum(abs_(x), dim, keepdim)
    return pow_(sum(pow_(abs_(x), p), dim, keepdim), 1.0 / p)


def all(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether all elements (over ``dim``) are true."""
    axes = _axes(x, dim, "all")
    return Tensor._make(xp.asarray(xp.all(x._data, axis=axes, keepdims=keepdim)))


def any(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether any element (over ``dim``) is true."""
    axes = _axes(x, dim, "any")
    return Tensor._make(xp.asarray(xp.any(x._data, axis=axes, keepdims=keepdim)))


class CumSum(Function):
    saves_inputs = False

    def forward(self, a, dim):
        self.dim = dim
        return xp.cumsum(a, axis=dim)

    def backward(self, g):
        return xp.flip(xp.cumsum(xp.flip(g, self.dim), axis=self.dim), self.dim), None


def cumsum(x: Tensor, dim: int) -> Tensor:
    """Cumulative sum along ``dim``."""
    return CumSum.apply(x, norm_dim(dim, x._data.ndim, "cumsum"))


class Prod(Function):
    def forward(self, a, axis, keepdim):
        self.a, self.axis, self.keepdim = a, axis, keepdim
        self.out = xp.prod(a, axis=axis, keepdims=True)
        return self.out if keepdim else (self.out.reshape(()) if axis is None else xp.squeeze(self.out, axis))

    def backward(self, g):
        a, axis = self.a, self.axis
        g = _expand_back(g, a.shape, None if axis is None else (axis,), self.keepdim)
        # product of all the other elements, exact also where a contains zeros
        src = a.reshape(-1) if axis is None else xp.moveaxis(a, axis, -1)
        left = xp.cumprod(xp.concatenate([xp.ones_like(src[..., :1]), src[..., :-1]], -1), -1)
        right = xp.flip(xp.cumprod(xp.concatenate(
            [xp.ones_like(src[..., :1]), xp.flip(src, -1)[..., :-1]], -1), -1), -1)
        others = left * right
        others = others.reshape(a.shape) if axis is None else xp.moveaxis(others, -1, axis)
        return g * others, None, None


def prod(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Product of all elements, or along ``dim``; the gradient is exact where elements are 0."""
    axis = None if dim is None else norm_dim(dim, x._data.ndim, "prod")
    return Prod.apply(x, axis, keepdim)
