"""``Tensor``: an n-dimensional array with an optional gradient and the graph node that made it.

Operators and methods only dispatch to the primitives in ``deepgrad.ops``; the maths lives there.
"""
from __future__ import annotations

import weakref
from collections import namedtuple
from typing import Any

from . import backend as B
from .backend import ndarray, xp

MinMax = namedtuple("MinMax", ["values", "indices"])


class device:
    """The device a tensor lives on. deepgrad's NumPy backend has one: ``cpu``."""

    __slots__ = ("type", "index")

    def __init__(self, type: Any = "cpu", index: int | None = None):
        if isinstance(type, device):
            type, index = type.type, type.index
        type = str(type)
        if ":" in type:
            type, idx = type.split(":", 1)
            index = int(idx)
        if type != "cpu":
            raise RuntimeError(
                f"device {type!r} is not available: deepgrad runs on the NumPy (cpu) backend")
        self.type, self.index = type, index

    def __eq__(self, other):
        try:
            return device(other).type == self.type
        except (RuntimeError, ValueError, TypeError):
            return False

    def __hash__(self):
        return hash(self.type)

    def __repr__(self):
        return f"device(type='{self.type}')"

    def __str__(self):
        return self.type


_CPU = device("cpu")


def _check_device(dev) -> None:
    if dev is not None:
        device(dev)


class Tensor:
    """A multi-dimensional array that can record the operations applied to it for autograd.

    Create tensors with ``deepgrad.tensor``, ``zeros``, ``randn``...; ``Tensor(data)`` builds a
    float32 tensor like ``torch.Tensor``.

    Example::

        x = deepgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
        (x * x).sum().backward()
        x.grad  # tensor([2., 4., 6.])
    """

    # _version: a one-element list shared by a tensor and all its views, bumped by in-place ops.
    # _base: the tensor whose memory a view shares (None for a tensor owning its memory).
    # _view_version: for a view made in grad mode, the version its graph node was made at; once the
    # memory changes in place, the node is remade before the view is used again (autograd.function).
    __slots__ = ("_data", "_requires_grad", "grad", "_ctx", "_version", "_base", "_view_version",
                 "_hooks", "__weakref__")
    __array_priority__ = 1000  # numpy scalars defer to Tensor operators

    def __init__(self, *args, dtype=None, device=None, requires_grad: bool = False):
        _check_device(device)
        if len(args) == 1 and not isinstance(args[0], int):
            data = _to_array(args[0], B.to_dtype(dtype) if dtype is not None else B.float32)
        elif all(isinstance(a, int) for a in args):
            dt = B.to_dtype(dtype) if dtype is not None else B.float32
            data = xp.zeros(args, dtype=dt.np)
        else:
            raise TypeError(f"Tensor(): expected data or integer sizes, got {args!r}")
        Tensor._init(self, data)
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _init(t, data, requires_grad=False):
        t._data = data
        t._requires_grad = requires_grad
        t.grad = None
        t._ctx = None
        t._version = [0]
        t._base = None
        t._view_version = None
        t._hooks = None

    @classmethod
    def _make(cls, data: ndarray, requires_grad: bool = False) -> "Tensor":
        t = object.__new__(cls)
        t._data = data
        t._requires_grad = requires_grad
        t.grad = None
        t._ctx = None
        t._version = [0]
        t._base = None
        t._view_version = None
        t._hooks = None
        return t

    # ------------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        """The shape (a tuple), or the length of dimension ``dim``."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_norm_dim(dim, self._data.ndim, "size")]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    @property
    def dtype(self) -> B.dtype:
        return B.from_numpy_dtype(self._data.dtype)

    @property
    def device(self) -> device:
        return _CPU

    is_cuda = False

    @property
    def data(self) -> "Tensor":
        """A tensor sharing this one's memory, outside the graph (PyTorch's ``.data``)."""
        return self.detach()

    @data.setter
    def data(self, value: "Tensor") -> None:
        arr = value._data if isinstance(value, Tensor) else xp.asarray(value)
        self._data = arr
        self._version[0] += 1

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set whether autograd records operations on this (leaf) tensor; returns self."""
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(
                f"only floating-point tensors can require gradients; this tensor is {self.dtype}. "
                f"Convert it first, e.g. x.float().requires_grad_()")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError(
                "requires_grad can only be turned off on leaf tensors; use detach() to get a "
                "tensor outside the graph")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    @property
    def T(self) -> "Tensor":
        return _ops.permute(self, tuple(range(self._data.ndim - 1, -1, -1)))

    @property
    def mT(self) -> "Tensor":
        return _ops.transpose(self, -2, -1)

    def t(self) -> "Tensor":
        if self._data.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, got {self._data.ndim}")
        return self.T

    def element_size(self) -> int:
        return self._data.itemsize

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim: int | None = None):
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[_norm_dim(dim, self.ndim, "stride")]

    # ------------------------------------------------------------------ conversion
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(
                f"item(): a Tensor with {self._data.size} elements cannot be converted to a Python "
                f"scalar (shape {tuple(self._data.shape)})")
        return self._data.reshape(()).item()

    def tolist(self):
        return self._data.tolist()

    def numpy(self, *, force: bool = False):
        """The underlying NumPy array (shares memory). Refused while the tensor requires grad."""
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on a tensor that requires grad. Use tensor.detach().numpy()")
        return self._data

    def __array__(self, dtype=None, copy=None):
        arr = self._data
        if dtype is not None and arr.dtype != dtype:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def detach(self) -> "Tensor":
        """A tensor sharing this one's memory and version counter, with no history."""
        t = Tensor._make(self._data)
        t._version = self._version
        t._base = self._base if self._base is not None else self
        return t

    def detach_(self) -> "Tensor":
        self._ctx = None
        self._requires_grad = False
        return self

    def clone(self) -> "Tensor":
        return _ops.clone(self)

    def contiguous(self) -> "Tensor":
        return self if self._data.flags.c_contiguous else _ops.clone(self)

    def to(self, *args, **kwargs) -> "Tensor":
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
        dt = kwargs.pop("dtype", None)
        copy = kwargs.pop("copy", False)
        _check_device(kwargs.pop("device", None))
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() got unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dt = a.dtype
            elif isinstance(a, (str, device)) and not (isinstance(a, str) and a in B._BY_NAME):
                _check_device(a)
            else:
                dt = a
        if dt is None or B.to_dtype(dt).np == self._data.dtype:
            return _ops.clone(self) if copy else self
        return _ops.cast(self, B.to_dtype(dt))

    def type(self, dtype=None):
        if dtype is None:
            return f"deepgrad.{_TYPE_NAMES.get(self.dtype.name, self.dtype.name)}"
        return self.to(dtype)

    def cpu(self) -> "Tensor":
        return self

    def cuda(self, *args, **kwargs) -> "Tensor":
        raise RuntimeError("CUDA is not available: deepgrad runs on the NumPy (cpu) backend")

    def float(self) -> "Tensor":
        return self.to(B.float32)

    def double(self) -> "Tensor":
        return self.to(B.float64)

    def half(self) -> "Tensor":
        return self.to(B.float16)

    def long(self) -> "Tensor":
        return self.to(B.int64)

    def int(self) -> "Tensor":
        return self.to(B.int32)

    def bool(self) -> "Tensor":
        return self.to(B.bool_)

    def byte(self) -> "Tensor":
        return self.to(B.uint8)

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        ``gradient`` is required when self is not a scalar: it is the vector in the
        vector-Jacobian product.
        """
        _reject_create_graph(create_graph)
        _refresh_if_stale(self)
        if not self._requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn: nothing "
                "to differentiate (did you compute this under no_grad, or forget requires_grad=True?)")
        g = _root_gradient(self, gradient)
        if inputs is not None:
            inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
            got = _engine.run_backward([self], [g], bool(retain_graph), capture=inputs)
            for t, gi in zip(inputs, got):
                if gi is not None:
                    gi = gi.copy()
                    if t.grad is None:
                        t.grad = Tensor._make(gi)
                    else:
                        t.grad._data = t.grad._data + gi
            return
        _engine.run_backward([self], [g], bool(retain_graph))

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces
        the gradient. Returns a handle with ``remove()``."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._ctx is not None:  # a non-leaf: the hook runs when the gradient reaches its node
            hooks = self._ctx.__dict__.setdefault("_hooks", [])
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
        if self._ctx is not None:
            self._ctx.__dict__["_retained"] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return self._ctx is not None and "_retained" in self._ctx.__dict__

    # ------------------------------------------------------------------ python protocol
    def __repr__(self) -> str:
        return _format(self)

    __str__ = __repr__

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with {self._data.size} values is ambiguous; use .any() or .all()")
        return bool(self._data.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __hash__(self) -> int:
        return id(self)

    def __getstate__(self):
        return {"data": self._data, "requires_grad": self._requires_grad}

    def __setstate__(self, state):
        Tensor._init(self, state["data"], state["requires_grad"])

    def __deepcopy__(self, memo):
        if self._ctx is not None:
            raise RuntimeError("only leaf tensors (not results of operations in a graph) can be deep-copied")
        t = type(self).__new__(type(self))
        Tensor._init(t, self._data.copy(), self._requires_grad)
        if self.grad is not None:
            t.grad = Tensor._make(self.grad._data.copy())
        memo[id(self)] = t
        return t

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __floordiv__(self, other):
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops.floor_divide(other, self)

    def __mod__(self, other):
        return _ops.remainder(self, other)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __invert__(self):
        return _ops.logical_not(self) if self._data.dtype.kind == "b" else _ops.bitwise_not(self)

    def __and__(self, other):
        return _ops.bitwise_and(self, other)

    __rand__ = __and__

    def __or__(self, other):
        return _ops.bitwise_or(self, other)

    __ror__ = __or__

    def __xor__(self, other):
        return _ops.bitwise_xor(self, other)

    __rxor__ = __xor__

    def __eq__(self, other):
        return _ops.eq(self, other)

    def __ne__(self, other):
        return _ops.ne(self, other)

    def __lt__(self, other):
        return _ops.lt(self, other)

    def __le__(self, other):
        return _ops.le(self, other)

    def __gt__(self, other):
        return _ops.gt(self, other)

    def __ge__(self, other):
        return _ops.ge(self, other)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __setitem__(self, index, value) -> None:
        _ops.setitem(self, index, value)

    # ------------------------------------------------------------------ in-place operations
    def add_(self, other, *, alpha=1):
        return _ops.inplace(self, "add", other if alpha == 1 else other * alpha)

    def sub_(self, other, *, alpha=1):
        return _ops.inplace(self, "sub", other if alpha == 1 else other * alpha)

    def mul_(self, other):
        return _ops.inplace(self, "mul", other)

    def div_(self, other):
        return _ops.inplace(self, "div", other)

    def pow_(self, other):
        return _ops.inplace(self, "pow", other)

    def clamp_(self, min=None, max=None):
        return _ops.inplace(self, "clamp", min, max)

    clip_ = clamp_

    def zero_(self):
        return _ops.inplace(self, "fill", 0)

    def fill_(self, value):
        return _ops.inplace(self, "fill", value)

    def copy_(self, src):
        return _ops.inplace(self, "copy", src)

    def neg_(self):
        return _ops.inplace(self, "mul", -1)

    def sqrt_(self):
        return _ops.inplace(self, "sqrt")

    def exp_(self):
        return _ops.inplace(self, "exp")

    def relu_(self):
        return _ops.inplace(self, "relu")

    def tanh_(self):
        return _ops.inplace(self, "tanh")

    def sigmoid_(self):
        return _ops.inplace(self, "sigmoid")

    def abs_(self):
        return _ops.inplace(self, "abs")

    def masked_fill_(self, mask, value):
        return _ops.inplace(self, "masked_fill", mask, value)

    def addcmul_(self, t1, t2, *, value=1):
        return _ops.inplace(self, "add", t1 * t2 * value if value != 1 else t1 * t2)

    def addcdiv_(self, t1, t2, *, value=1):
        return _ops.inplace(self, "add", t1 / t2 * value if value != 1 else t1 / t2)

    def lerp_(self, end, weight):
        return _ops.inplace(self, "add", (end - self) * weight)

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None):
        from .random import rand_array
        return _ops.inplace(self, "copy", (b - a) * rand_array(self.shape, self.dtype, generator) + a)

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None):
        from .random import randn_array
        return _ops.inplace(self, "copy", randn_array(self.shape, self.dtype, generator) * std + mean)

    def bernoulli_(self, p: float = 0.5, *, generator=None):
        from .random import rand_array
        return _ops.inplace(self, "copy", rand_array(self.shape, B.float64, generator) < p)

    def random_(self, low: int = 0, high: int | None = None, *, generator=None):
        from .random import randint_array
        if high is None:
            low, high = 0, low
        return _ops.inplace(self, "copy", randint_array(low, high, self.shape, generator))


class Size(tuple):
    """The shape of a tensor: a tuple that also has ``numel()``."""

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"deepgrad.Size({list(self)})"


class _HookHandle:
    def __init__(self, hooks: list, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "int64": "LongTensor",
               "int32": "IntTensor", "bool": "BoolTensor", "uint8": "ByteTensor",
               "float16": "HalfTensor"}


def _reject_create_graph(create_graph: bool) -> None:
    if create_graph:
        raise ValueError(
            "create_graph=True (higher-order gradients) is not available: deepgrad's backward "
            "functions run on raw arrays, so gradients are not themselves differentiable")


def _refresh_if_stale(t: Tensor) -> None:
    """A view whose memory changed in place since its graph node was made gets a fresh node."""
    if t._view_version is not None and t._view_version != t._version[0]:
        _refresh_view(t)


def _root_gradient(t: Tensor, gradient):
    if gradient is None:
        if t._data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs; this output has shape "
                f"{tuple(t.shape)}. Pass backward(gradient=...) with a tensor of that shape, or "
                f"reduce it first (e.g. loss.sum().backward())")
        return xp.ones(t._data.shape, dtype=t._data.dtype)
    g = gradient._data if isinstance(gradient, Tensor) else xp.asarray(gradient)
    if g.shape != t._data.shape:
        raise RuntimeError(
            f"backward: gradient has shape {tuple(g.shape)} but the output has shape {tuple(t.shape)}")
    return g.astype(t._data.dtype, copy=True)


def _norm_dim(dim: int, ndim: int, op: str) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dimension {dim} is out of range for a tensor with {ndim} dimensions "
                         f"(expected a value in [{-n}, {n - 1}])")
    return dim % n


def _to_array(data, dt: B.dtype | None):
    """Convert Python data (numbers, nested lists, arrays, tensors) to an array of dtype ``dt``.
    With ``dt`` None the dtype is inferred like PyTorch: Python floats give the default dtype, ints
    int64, bools bool; NumPy arrays and scalars keep their dtype."""
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, (ndarray, xp.generic)):
        arr = xp.asarray(data)
    else:
        if isinstance(data, (list, tuple)) and data and _contains_tensor(data):
            data = _nested_to_arrays(data)
        try:
            arr = xp.asarray(data)
        except ValueError:
            arr = xp.asarray(data, dtype=object) if isinstance(data, (list, tuple)) else None
        if arr is None or arr.dtype == object:
            raise TypeError(f"could not make a tensor from a {type(data).__name__} with ragged (unequal "
                            f"length) or non-numeric elements; expected numbers or nested lists of equal "
                            f"length")
        if dt is None:
            kind = arr.dtype.kind
            if kind == "f":
                dt = B.get_default_dtype()
            elif kind in "iu":
                dt = B.int64
            elif kind == "b":
                dt = B.bool_
    if dt is None:
        B.from_numpy_dtype(arr.dtype)  # raises a clear error for unsupported dtypes
        return xp.array(arr, copy=True)
    return xp.array(arr, dtype=dt.np, copy=True)


def _contains_tensor(data) -> bool:
    for d in data:
        if isinstance(d, Tensor) or (isinstance(d, (list, tuple)) and d and _contains_tensor(d)):
            return True
    return False


def _nested_to_arrays(data):
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (list, tuple)):
        return [_nested_to_arrays(d) for d in data]
    return data


def _summarized(arr, edge: int = 3):
    """The entries a summarised print shows (``edge`` at each end of every long axis)."""
    for axis, n in enumerate(arr.shape):
        if n > 2 * edge:
            ends = [xp.take(arr, range(edge), axis), xp.take(arr, range(n - edge, n), axis)]
            arr = xp.concatenate(ends, axis)
    return arr


def _float_formatter(arr):
    """PyTorch's print options: 4 decimals, scientific notation when the finite non-zero magnitudes
    span more than 1000x or leave [1e-4, 1e8], integers as ``1.``; entries padded to one width."""
    shown = (_summarized(arr) if arr.size > 1000 else arr).astype(xp.float64).reshape(-1)
    finite = shown[xp.isfinite(shown)]
    nonzero = finite[finite != 0]
    magnitude = xp.abs(nonzero)
    int_mode = bool((nonzero == xp.round(nonzero)).all())
    if nonzero.size and (int_mode and magnitude.max() > 1e8 or not int_mode and (
            magnitude.max() / magnitude.min() > 1000 or magnitude.max() > 1e8 or magnitude.min() < 1e-4)):
        fmt = "{:.4e}"
    else:
        fmt = "{:.0f}." if int_mode else "{:.4f}"

    def one(v) -> str:
        return fmt.format(v) if xp.isfinite(v) else str(v)

    if int_mode and fmt != "{:.4e}":  # PyTorch sizes integer columns by the non-zero finite values only
        samples = [nonzero.min(), nonzero.max()] if nonzero.size else []
    else:
        samples = [finite.min(), finite.max()] if finite.size else []
        samples += [v for v in (xp.nan, xp.inf, -xp.inf) if (shown == v).any() or (xp.isnan(v) and xp.isnan(
            shown).any())]
    width = max((len(one(v)) for v in samples), default=0)
    return lambda v: one(v).rjust(width)


def _format(t: Tensor) -> str:
    arr = t._data
    prefix = "tensor("
    if arr.size == 0:
        body = f"[], size={tuple(arr.shape)}" if arr.ndim > 1 else "[]"
    else:
        fmt = None
        if arr.dtype.kind == "f":
            fmt = {"float_kind": _float_formatter(arr)}
        elif arr.dtype.kind == "b":  # PyTorch pads True to False's width only when both appear
            width = 5 if not arr.all() and arr.any() else 0
            fmt = {"bool": lambda v: str(v).rjust(width)}
        body = xp.array2string(arr, separator=", ", prefix=prefix, threshold=1000, edgeitems=3,
                               formatter=fmt)
    extras = []
    if arr.dtype not in (B.get_default_dtype().np, B.int64.np, xp.dtype(bool)):
        extras.append(f"dtype=deepgrad.{B.from_numpy_dtype(arr.dtype).name}")
    if t._ctx is not None:
        extras.append(f"grad_fn={t._ctx!r}")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extras) + ")"


from . import ops as _ops  # noqa: E402  (ops import Tensor; bind after the class exists)
from .autograd import engine as _engine  # noqa: E402
from .autograd.function import refresh_view as _refresh_view  # noqa: E402
