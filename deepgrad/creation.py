"""Tensor creation: from data, constants, ranges and random draws."""
from __future__ import annotations

import math

from . import backend as B
from . import random as R
from .backend import ndarray, xp
from .ops._util import shape_arg
from .tensor import Tensor, _check_device, _to_array


def _finish(arr, requires_grad: bool) -> Tensor:
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dt(dtype, default=None):
    if dtype is None:
        return default if default is not None else B.get_default_dtype()
    return B.to_dtype(dtype)


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (numbers, nested lists, arrays, tensors).

    Python floats become float32 (the default dtype), ints int64, bools bool; NumPy arrays keep
    their dtype.

    Example::

        deepgrad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    """
    _check_device(device)
    arr = _to_array(data, B.to_dtype(dtype) if dtype is not None else None)
    return _finish(arr, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array or Tensor of the right dtype."""
    _check_device(device)
    if isinstance(data, Tensor) and (dtype is None or B.to_dtype(dtype).np == data._data.dtype):
        return data
    if isinstance(data, ndarray) and (dtype is None or B.to_dtype(dtype).np == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype)


def from_numpy(array: ndarray) -> Tensor:
    """A tensor sharing memory with ``array``."""
    if not isinstance(array, ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    B.from_numpy_dtype(array.dtype)
    return Tensor._make(array)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with 0 (default dtype float32)."""
    _check_device(device)
    return _finish(xp.zeros(shape_arg(size, "zeros"), dtype=_dt(dtype).np), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with 1 (default dtype float32)."""
    _check_device(device)
    return _finish(xp.ones(shape_arg(size, "ones"), dtype=_dt(dtype).np), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of ``size`` (its values are arbitrary)."""
    _check_device(device)
    return _finish(xp.empty(shape_arg(size, "empty"), dtype=_dt(dtype).np), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from the value)."""
    _check_device(device)
    if dtype is None:
        dtype = B.bool_ if isinstance(fill_value, bool) else (
            B.int64 if isinstance(fill_value, int) else B.get_default_dtype())
    size = shape_arg(size if isinstance(size, (tuple, list)) else (size,), "full")
    return _finish(xp.full(size, fill_value, dtype=_dt(dtype).np), requires_grad)


def _like(x: Tensor, dtype):
    return x.dtype if dtype is None else B.to_dtype(dtype)


def zeros_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and, unless ``dtype`` is given, the dtype) of ``x``."""
    return zeros(x.shape, dtype=_like(x, dtype), requires_grad=requires_grad)


def ones_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and, unless ``dtype`` is given, the dtype) of ``x``."""
    return ones(x.shape, dtype=_like(x, dtype), requires_grad=requires_grad)


def empty_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor with the shape and dtype of ``x``."""
    return empty(x.shape, dtype=_like(x, dtype), requires_grad=requires_grad)


def full_like(x: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor with the shape and dtype of ``x`` filled with ``fill_value``."""
    return full(x.shape, fill_value, dtype=_like(x, dtype), requires_grad=requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` (default 0) up to ``end`` exclusive; integer arguments give int64."""
    _check_device(device)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        ints = all(isinstance(v, int) or (isinstance(v, Tensor) and v.dtype._category < 2)
                   for v in (start, end, step))
        dtype = B.int64 if ints else B.get_default_dtype()
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if all(isinstance(v, int) for v in (start, end, step)):
        arr = xp.arange(start, end, step, dtype=xp.int64)
    else:  # computed in float64 like PyTorch, so the count matches ceil((end - start) / step)
        arr = start + step * xp.arange(max(math.ceil((end - start) / step), 0), dtype=xp.float64)
    arr = arr.astype(_dt(dtype).np, copy=False)
    return _finish(arr, requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (float32 by default)."""
    _check_device(device)
    return _finish(xp.linspace(start, end, steps).astype(_dt(dtype).np), requires_grad)


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None) -> Tensor:
    """``steps`` values ``base ** v`` for v evenly spaced from ``start`` to ``end``."""
    _check_device(device)
    return Tensor._make(xp.logspace(start, end, steps, base=base).astype(_dt(dtype).np))


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """The identity matrix of shape (n, m) (m defaults to n)."""
    _check_device(device)
    return _finish(xp.eye(n, m, dtype=_dt(dtype).np), requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples from [0, 1)."""
    _check_device(device)
    return _finish(R.rand_array(shape_arg(size, "rand"), dtype, generator), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    _check_device(device)
    return _finish(R.randn_array(shape_arg(size, "randn"), dtype, generator), requires_grad)


def rand_like(x: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples with the shape of ``x``."""
    return rand(x.shape, dtype=_like(x, dtype), requires_grad=requires_grad)


def randn_like(x: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples with the shape of ``x``."""
    return randn(x.shape, dtype=_like(x, dtype), requires_grad=requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None) -> Tensor:
    """Integers uniform in [low, high); ``randint(high, size)`` starts at 0."""
    _check_device(device)
    if size is None:
        if isinstance(high, (tuple, list)):
            low, high, size = 0, low, high
        else:
            raise TypeError("randint: a size tuple is required, e.g. randint(0, 10, (3,))")
    arr = R.randint_array(low, high, shape_arg((size,), "randint"), generator)
    return Tensor._make(arr.astype(_dt(dtype, B.int64).np, copy=False))


def randperm(n: int, *, generator=None, dtype=None, device=None) -> Tensor:
    """A random permutation of 0 .. n-1 (int64)."""
    _check_device(device)
    return Tensor._make(R.permutation_array(n, generator).astype(_dt(dtype, B.int64).np, copy=False))


def normal(mean, std, size=None, *, generator=None) -> Tensor:
    """Samples from N(mean, std^2); mean/std numbers with ``size``, or tensors."""
    if size is not None:
        return randn(size, generator=generator) * std + mean
    ref = mean if isinstance(mean, Tensor) else std
    return randn(ref.shape, generator=generator, dtype=ref.dtype) * std + mean


def multinomial(probs: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """Draw category indices with probabilities proportional to the rows of ``probs``
    (renormalised in float64, so any non-negative weights work)."""
    p = probs._data.astype(xp.float64)
    single = p.ndim == 1
    p = xp.atleast_2d(p)
    if (p < 0).any() or not xp.isfinite(p).all():
        raise RuntimeError("multinomial: probabilities must be finite and non-negative")
    sums = p.sum(-1, keepdims=True)
    if (sums <= 0).any():
        raise RuntimeError("multinomial: each row of probabilities must have a positive sum")
    p = p / sums
    rng = R._rng(generator)
    if not replacement and num_samples > p.shape[1]:
        raise RuntimeError(f"multinomial: cannot draw {num_samples} samples without replacement from "
                           f"{p.shape[1]} categories")
    out = xp.stack([rng.choice(p.shape[1], size=num_samples, replace=replacement, p=row) for row in p])
    return Tensor._make((out[0] if single else out).astype(xp.int64))


def bernoulli(p: Tensor, *, generator=None) -> Tensor:
    """0/1 samples, 1 with probability ``p`` (elementwise), in ``p``'s dtype."""
    return Tensor._make((R.rand_array(p.shape, B.float64, generator) < p._data).astype(p._data.dtype))
