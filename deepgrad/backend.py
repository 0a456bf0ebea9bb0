"""The array backend: the only module that imports numpy for computation.

Everything that computes on raw arrays (ops, nn kernels, optimizers) takes ``xp`` from here, so a
CuPy backend can replace it later without touching op code. This module also owns deepgrad's dtype
objects and the type-promotion rules.
"""
from __future__ import annotations

import numpy as xp

__all__ = [
    "xp", "dtype", "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
    "bool_", "to_dtype", "from_numpy_dtype", "get_default_dtype", "set_default_dtype",
    "result_type", "promote_scalar",
]

ndarray = xp.ndarray


class dtype:
    """A deepgrad data type (``deepgrad.float32`` ...), a thin name over a NumPy dtype."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "_category")

    def __init__(self, name: str, np_dtype, category: int):
        self.name = name
        self.np = xp.dtype(np_dtype)
        self.is_floating_point = category == 2
        self.is_signed = self.np.kind in "if"
        self.itemsize = self.np.itemsize
        self._category = category  # 0 bool, 1 integer, 2 floating

    def __repr__(self) -> str:
        return f"deepgrad.{self.name}"

    def __reduce__(self):
        return (to_dtype, (self.name,))


bool_ = dtype("bool", xp.bool_, 0)
uint8 = dtype("uint8", xp.uint8, 1)
int8 = dtype("int8", xp.int8, 1)
int16 = dtype("int16", xp.int16, 1)
int32 = dtype("int32", xp.int32, 1)
int64 = dtype("int64", xp.int64, 1)
float16 = dtype("float16", xp.float16, 2)
float32 = dtype("float32", xp.float32, 2)
float64 = dtype("float64", xp.float64, 2)

_ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
_BY_NP = {d.np: d for d in _ALL}
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update({"float": float32, "double": float64, "half": float16, "long": int64,
                 "int": int32, "short": int16})

_default_float = float32


def get_default_dtype() -> dtype:
    """The dtype of floating tensors created from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(d) -> None:
    """Set the default floating dtype (float32 or float64)."""
    global _default_float
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {d}")
    _default_float = d


def from_numpy_dtype(np_dtype) -> dtype:
    """The deepgrad dtype for a NumPy dtype; unsupported ones raise a TypeError naming them."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        try:
            return _BY_NP[xp.dtype(np_dtype)]
        except (KeyError, TypeError):
            names = ", ".join(d.name for d in _ALL)
            raise TypeError(f"unsupported array dtype {np_dtype}; deepgrad supports {names}") from None


def to_dtype(d) -> dtype:
    """Accept a deepgrad dtype, a NumPy dtype/type, a Python type or a name, return a deepgrad dtype."""
    if isinstance(d, dtype):
        return d
    if isinstance(d, str):
        try:
            return _BY_NAME[d.removeprefix("torch.").removeprefix("deepgrad.")]
        except KeyError:
            raise TypeError(f"unknown dtype name {d!r}") from None
    if d is float:
        return _default_float
    if d is int:
        return int64
    if d is bool:
        return bool_
    name = getattr(d, "name", None)  # e.g. a torch.dtype-like object is not accepted by numpy
    if isinstance(name, str) and name in _BY_NAME and not hasattr(d, "kind"):
        return _BY_NAME[name]
    return from_numpy_dtype(d)


def result_type(a: dtype, a_dim: int, b: dtype, b_dim: int) -> dtype:
    """PyTorch's promotion for two tensors: a 0-d tensor only decides the result when it belongs to a
    higher category (bool < integer < floating) than the dimensioned one; otherwise the higher
    category wins, and within one category the wider type (uint8 with int8 gives int16)."""
    if a is b:
        return a
    if (a_dim == 0) != (b_dim == 0):
        zero, dimmed = (a, b) if a_dim == 0 else (b, a)
        return zero if zero._category > dimmed._category else dimmed
    if a._category != b._category:
        return a if a._category > b._category else b
    return _BY_NP[xp.promote_types(a.np, b.np)]


def promote_scalar(a: dtype, value) -> dtype:
    """The result dtype of tensor (dtype a) combined with a Python scalar: the tensor's dtype unless the
    scalar is of a higher category, then the default dtype of that category."""
    if isinstance(value, bool):
        return a
    if isinstance(value, int):
        return int64 if a._category == 0 else a
    if isinstance(value, float):
        return a if a._category == 2 else _default_float
    if isinstance(value, complex):
        raise TypeError("complex numbers are not supported by deepgrad")
    raise TypeError(f"expected a Tensor or a Python number, got {type(value).__name__}")
