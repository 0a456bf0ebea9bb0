"""Indexing primitives (basic and advanced getitem, setitem, gather, scatter, masked_fill) and the
dispatcher behind every in-place method (``add_``, ``copy_``, ``x[i] = v``...)."""
from __future__ import annotations

from .. import backend as B
from ..backend import ndarray, xp
from ..autograd import grad_mode
from ..autograd.function import Function, refresh_view
from ..tensor import Tensor
from . import elementwise as ew
from ._util import norm_dim


def _convert_index(index):
    """Turn Tensors and lists inside an index into arrays; report whether it is advanced. Index
    arrays are copied: backward reads them, and the caller may modify its index tensor in place."""
    if not isinstance(index, tuple):
        index = (index,)
    out, advanced = [], False
    for i in index:
        if isinstance(i, Tensor):
            arr = i._data
            if arr.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int or bool tensors, got "
                                 f"{i.dtype}")
            if arr.ndim == 0 and arr.dtype.kind in "iu":
                out.append(int(arr))
                continue
            out.append(arr.copy())
            advanced = True
        elif isinstance(i, (list, ndarray)):
            arr = xp.array(i)
            if arr.dtype.kind not in "iub":
                raise IndexError(f"index arrays must be integer or boolean, got {arr.dtype}")
            out.append(arr)
            advanced = True
        elif isinstance(i, bool):
            out.append(i)
            advanced = True
        else:
            out.append(i)
    return tuple(out), advanced


def _integer_index(index, shape):
    """An advanced index with boolean masks replaced by integer arrays (for ``add.at``)."""
    out = []
    for i in index:
        if isinstance(i, ndarray) and i.dtype == bool:
            out.extend(xp.nonzero(i))
        else:
            out.append(i)
    return tuple(out)


class GetItem(Function):
    saves_inputs = False
    is_view = True

    def forward(self, a, index, advanced):
        self.shape, self.index, self.advanced = a.shape, index, advanced
        self.is_view = not advanced
        return a[index]

    def backward(self, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        if self.advanced:
            xp.add.at(out, _integer_index(self.index, self.shape), g)
        else:
            out[self.index] = g
        return out, None, None


class IndexPut(Function):
    """``a`` with ``a[index] = value``; the gradient of the overwritten entries goes to ``value``."""

    saves_inputs = False

    def forward(self, a, value, index):
        self.index = index
        out = a.copy()
        out[index] = value
        return out

    def backward(self, g):
        ga = gv = None
        if self.needs_input_grad[0]:
            ga = g.copy()
            ga[self.index] = 0
        if self.needs_input_grad[1]:
            gv = g[self.index]
        return ga, gv, None


class Gather(Function):
    saves_inputs = (False, False, True)  # backward reads the index, not the input

    def forward(self, a, dim, idx):
        self.shape, self.dim, self.idx = a.shape, dim, idx
        return xp.take_along_axis(a, idx, axis=dim)

    def backward(self, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        full = list(xp.indices(self.idx.shape, sparse=True))
        full[self.dim] = self.idx
        xp.add.at(out, tuple(full), g)
        return out, None, None


class Scatter(Function):
    """``a`` with ``src`` written at ``index`` along ``dim`` (PyTorch's scatter, no reduction)."""

    saves_inputs = (False, False, True, False)

    def forward(self, a, dim, idx, src):
        self.dim, self.idx = dim, idx
        out = a.copy()
        xp.put_along_axis(out, idx, src if xp.ndim(src) else xp.broadcast_to(src, idx.shape), axis=dim)
        return out

    def backward(self, g):
        ga = gs = None
        if self.needs_input_grad[0]:
            ga = g.copy()
            xp.put_along_axis(ga, self.idx, 0, axis=self.dim)
        if self.needs_input_grad[3]:
            gs = xp.take_along_axis(g, self.idx, axis=self.dim)
        return ga, None, None, gs


class TakeFlat(Function):
    """``a.reshape(-1)[positions]``: a view rebuilt from its base's flat element positions."""

    saves_inputs = False

    def forward(self, a, positions):
        self.shape, self.positions = a.shape, positions
        return a.reshape(-1)[positions]

    def backward(self, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        xp.add.at(out.reshape(-1), self.positions, g)  # an expanded view repeats positions
        return out, None


class ViewScatter(Function):
    """``base`` with the elements at flat ``positions`` replaced by ``value``: the new base after an
    in-place operation on one of its views."""

    saves_inputs = False

    def forward(self, base, value, positions):
        self.positions = positions
        out = base.copy()
        out.reshape(-1)[positions] = value
        return out

    def backward(self, g):
        gb = gv = None
        if self.needs_input_grad[0]:
            gb = g.copy()
            gb.reshape(-1)[self.positions] = 0
        if self.needs_input_grad[1]:
            gv = g.reshape(-1)[self.positions]
        return gb, gv, None


def _byte_offsets(arr: ndarray, start: int = 0) -> ndarray:
    """The byte offset of every element of ``arr`` from ``start``, in ``arr``'s shape."""
    offsets = xp.full(arr.shape, start, dtype=xp.int64)
    for axis, (n, stride) in enumerate(zip(arr.shape, arr.strides)):
        shape = [1] * arr.ndim
        shape[axis] = n
        offsets += (xp.arange(n, dtype=xp.int64) * stride).reshape(shape)
    return offsets


def _view_positions(view: Tensor) -> ndarray:
    """The flat (C-order) positions in its base of each element of ``view``, in the view's shape,
    read off the memory offsets and strides of both arrays."""
    base, arr = view._base._data, view._data
    start = arr.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    wanted = _byte_offsets(arr, start)
    if base.flags.c_contiguous:
        positions = wanted // base.itemsize
        found = wanted % base.itemsize == 0
    else:  # look each offset up among the base's own, listed in C order
        offsets = _byte_offsets(base).reshape(-1)
        order = xp.argsort(offsets, kind="stable")
        slot = xp.clip(xp.searchsorted(offsets[order], wanted), 0, max(base.size - 1, 0))
        positions = order[slot] if base.size else slot
        found = offsets[positions] == wanted if base.size else xp.zeros(wanted.shape, bool)
    if positions.size and not (found.all() and 0 <= positions.min() and positions.max() < base.size):
        raise RuntimeError(f"a view of shape {tuple(arr.shape)} no longer shares memory with its base of "
                           f"shape {tuple(base.shape)} (was the base's .data replaced?); recreate the view")
    return positions


def view_of_base(view: Tensor) -> Tensor:
    """A tensor equal to ``view`` whose graph node reads it from its base's current history."""
    return TakeFlat.apply(view._base, _view_positions(view))


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]`` with slices, ints, None, Ellipsis, integer arrays and boolean masks."""
    idx, advanced = _convert_index(index)
    try:
        return GetItem.apply(x, idx, advanced)
    except IndexError as e:
        raise IndexError(f"index {index!r} is invalid for a tensor of shape {tuple(x._data.shape)}: "
                         f"{e}") from None


def _check_index_tensor(index: Tensor, op: str) -> ndarray:
    arr = index._data if isinstance(index, Tensor) else xp.asarray(index)
    if arr.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected an int64 index tensor, got {arr.dtype}")
    return arr


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """out[i][j] = x[i][index[i][j]] for dim=1 (and likewise for other dims)."""
    d = norm_dim(dim, x._data.ndim, "gather")
    idx = _check_index_tensor(index, "gather")
    if idx.ndim != x._data.ndim:
        raise RuntimeError(f"gather: index has {idx.ndim} dims but input has {x._data.ndim}")
    n = x._data.shape[d]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"gather: index {int(idx.max() if idx.max() >= n else idx.min())} is out of "
                         f"bounds for dimension {d} with size {n}")
    return Gather.apply(x, d, index if isinstance(index, Tensor) else idx)


def scatter(x: Tensor, dim: int, index: Tensor, src) -> Tensor:
    """``x`` with ``src`` written at ``index`` along ``dim`` (out-of-place ``scatter_``)."""
    d = norm_dim(dim, x._data.ndim, "scatter")
    idx = _check_index_tensor(index, "scatter")
    if isinstance(src, Tensor) and src._data.dtype != x._data.dtype:
        src = ew.cast(src, x.dtype)
    return Scatter.apply(x, d, index if isinstance(index, Tensor) else idx, src)


def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries of ``x`` at ``index`` along ``dim``."""
    d = norm_dim(dim, x._data.ndim, "index_select")
    idx = _check_index_tensor(index, "index_select")
    return getitem(x, (slice(None),) * d + (idx,))


def masked_fill(x: Tensor, mask, value) -> Tensor:
    """``value`` where ``mask`` is true, ``x`` elsewhere; no gradient flows to filled entries."""
    m = mask._data if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != bool:
        raise RuntimeError(f"masked_fill: expected a bool mask, got {m.dtype}")
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError("masked_fill: value must be a Python number or a 0-d tensor")
        value = value.to(x.dtype)
    else:
        value = xp.asarray(value, dtype=x._data.dtype)
    return ew.where(Tensor._make(m), value if isinstance(value, Tensor) else Tensor._make(value), x)


def setitem(x: Tensor, index, value) -> None:
    """``x[index] = value`` (recorded for autograd when needed)."""
    inplace(x, "setitem", index, value)


# ---------------------------------------------------------------------------- in-place dispatch
_ALL_TRUE = xp.ones((), dtype=bool)

_OUT_OF_PLACE = {
    "add": ew.add, "sub": ew.sub, "mul": ew.mul, "div": ew.div, "pow": ew.pow,
    "clamp": ew.clamp, "sqrt": ew.sqrt, "exp": ew.exp, "relu": ew.relu, "tanh": ew.tanh,
    "sigmoid": ew.sigmoid, "abs": ew.abs, "masked_fill": masked_fill,
}
# in-place ops whose backward does not read the overwritten input: no copy of it is kept
_INPUT_NOT_SAVED = {"add", "sub", "sqrt", "exp", "relu", "tanh", "sigmoid", "fill", "copy",
                    "masked_fill", "setitem"}


def _fill(old: Tensor, value) -> Tensor:
    v = value if isinstance(value, Tensor) else Tensor._make(xp.asarray(value, dtype=old._data.dtype))
    return ew.Where.apply(_ALL_TRUE, v, old)


def _copy(old: Tensor, src) -> Tensor:
    if not isinstance(src, Tensor):
        src = Tensor._make(xp.asarray(src))
    if src._data.dtype != old._data.dtype:
        src = ew.cast(src, old.dtype)
    try:
        xp.broadcast_to(src._data, old._data.shape)
    except ValueError:
        raise RuntimeError(f"copy_: the source of shape {tuple(src._data.shape)} cannot be broadcast to "
                           f"the destination's shape {tuple(old._data.shape)}") from None
    return ew.Where.apply(_ALL_TRUE, src, old)


def _index_put(old: Tensor, index, value) -> Tensor:
    idx, _ = _convert_index(index)
    if not isinstance(value, Tensor):
        value = Tensor._make(xp.asarray(value, dtype=old._data.dtype))
    elif value._data.dtype != old._data.dtype:
        value = ew.cast(value, old.dtype)
    return IndexPut.apply(old, value, idx)


def _raw_inplace(x: Tensor, kind: str, args) -> None:
    """Modify ``x``'s array directly (nothing to record)."""
    a = x._data
    raw = [v._data if isinstance(v, Tensor) else v for v in args]
    if kind in ("add", "sub", "mul", "div", "pow"):
        ufunc = {"add": xp.add, "sub": xp.subtract, "mul": xp.multiply, "div": xp.true_divide,
                 "pow": xp.power}[kind]
        other = raw[0]
        res_dt = _result_dtype(x, args[0], kind)
        _check_castable(res_dt, x, kind)
        ufunc(a, other, out=a, casting="unsafe")
    elif kind == "fill":
        a[...] = raw[0]
    elif kind == "copy":
        try:
            xp.copyto(a, xp.broadcast_to(raw[0], a.shape), casting="unsafe")
        except ValueError:
            raise RuntimeError(f"copy_: the source of shape {tuple(xp.shape(raw[0]))} cannot be "
                               f"broadcast to the destination's shape {tuple(a.shape)}") from None
    elif kind == "clamp":
        lo, hi = raw
        if lo is None and hi is None:
            raise RuntimeError("clamp_: at least one of 'min' or 'max' must not be None")
        xp.clip(a, lo, hi, out=a)
    elif kind == "setitem":
        idx, _ = _convert_index(args[0])
        try:
            a[idx] = raw[1]
        except IndexError as e:
            raise IndexError(f"index {args[0]!r} is invalid for a tensor of shape {tuple(a.shape)}: "
                             f"{e}") from None
        except ValueError as e:
            raise RuntimeError(f"setitem: cannot assign a value of shape {tuple(xp.shape(raw[1]))} to "
                               f"the selection of a tensor of shape {tuple(a.shape)}: {e}") from None
    elif kind == "masked_fill":
        m = raw[0]
        if m.dtype != bool:
            raise RuntimeError(f"masked_fill_: expected a bool mask, got {m.dtype}")
        xp.copyto(a, xp.asarray(raw[1], dtype=a.dtype), where=xp.broadcast_to(m, a.shape))
    else:
        a[...] = _OUT_OF_PLACE[kind](Tensor._make(a), *args)._data


def _result_dtype(x: Tensor, other, kind: str):
    if isinstance(other, Tensor):
        dt = B.result_type(x.dtype, x._data.ndim, other.dtype, other._data.ndim)
    else:
        dt = B.promote_scalar(x.dtype, other)
    if kind == "div" and dt._category < 2:
        dt = B.get_default_dtype()
    return dt


def _check_castable(dt, x: Tensor, kind: str) -> None:
    if dt._category > x.dtype._category:
        raise RuntimeError(f"{kind}_: result type {dt} can't be cast to the desired output type "
                           f"{x.dtype}")


def inplace(x: Tensor, kind: str, *args) -> Tensor:
    """Run in-place operation ``kind`` on ``x``. With autograd involved, the operation is recorded
    like its out-of-place form and ``x`` becomes its result; when ``x`` is a view, its base becomes
    the base with the view's elements replaced. Saved values stay correct: version counters catch
    any backward that would read overwritten data, and views made before are re-linked to the new
    history when next used."""
    if not x._data.flags.writeable:
        raise RuntimeError(f"{kind}_: this tensor is a read-only view (for example the result of "
                           f"expand()); clone() it before modifying it in place")
    enabled = grad_mode.state.enabled
    if enabled and x._view_version is not None and x._view_version != x._version[0]:
        refresh_view(x)
    record = enabled and (
        x._requires_grad or any(isinstance(a, Tensor) and a._requires_grad for a in args))
    if not record:
        _raw_inplace(x, kind, args)
        x._version[0] += 1
        return x
    base = x._base if x._view_version is not None else None
    leaf = base if base is not None else x
    if leaf._ctx is None and leaf._requires_grad:
        what = "a view of a leaf tensor" if base is not None else "a leaf tensor"
        raise RuntimeError(
            f"{what} that requires grad is being used in an in-place operation ({kind}_). "
            f"Wrap parameter updates in `with deepgrad.no_grad():`, or use an out-of-place op")
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{kind}_: cannot record a gradient into a tensor of dtype {x.dtype}")
    old = Tensor._make(x._data if kind in _INPUT_NOT_SAVED else x._data.copy())
    old._ctx, old._requires_grad = x._ctx, x._requires_grad
    res = _out_of_place(old, kind, args)
    if res._data.shape != x._data.shape:
        raise RuntimeError(f"{kind}_: the result's shape {tuple(res._data.shape)} does not match the "
                           f"shape {tuple(x._data.shape)} of the tensor modified in place")
    if base is not None:
        positions = _view_positions(x)
        current = Tensor._make(base._data)
        current._ctx, current._requires_grad = base._ctx, base._requires_grad
        new_base = ViewScatter.apply(current, res, positions)
        base._ctx, base._requires_grad = new_base._ctx, True
    xp.copyto(x._data, res._data)
    x._version[0] += 1
    x._ctx = res._ctx
    x._requires_grad = res._requires_grad
    if base is not None:
        x._view_version = x._version[0]
    return x


def _out_of_place(old: Tensor, kind: str, args) -> Tensor:
    """The recorded, out-of-place form of in-place operation ``kind`` applied to ``old``."""
    if kind == "fill":
        return _fill(old, args[0])
    if kind == "copy":
        return _copy(old, args[0])
    if kind == "setitem":
        return _index_put(old, args[0], args[1])
    if kind in ("add", "sub", "mul", "div", "pow"):
        _check_castable(_result_dtype(old, args[0], kind), old, kind)
    res = _OUT_OF_PLACE[kind](old, *args)
    return ew.cast(res, old.dtype) if res._data.dtype != old._data.dtype else res
