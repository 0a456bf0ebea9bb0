"""Shape primitives: reshape, permute, expand, repeat, cat; and the views built on them."""
from __future__ import annotations

from ..backend import xp
from ..autograd.function import Function
from ..tensor import Tensor
from ._util import broadcast_shape, norm_dim, shape_arg


class Reshape(Function):
    saves_inputs = False
    is_view = True

    def forward(self, a, shape):
        self.shape = a.shape
        out = a.reshape(shape)
        self.is_view = out.base is not None
        return out

    def backward(self, g):
        return g.reshape(self.shape), None


class Permute(Function):
    saves_inputs = False
    is_view = True

    def forward(self, a, axes):
        self.inverse = tuple(int(i) for i in xp.argsort(axes))
        return a.transpose(axes)

    def backward(self, g):
        return g.transpose(self.inverse), None


class Expand(Function):
    saves_inputs = False
    is_view = True

    def forward(self, a, shape):
        return xp.broadcast_to(a, shape)

    def backward(self, g):
        return g, None  # the engine sums it back to the input's shape


class Repeat(Function):
    saves_inputs = False

    def forward(self, a, reps):
        self.in_shape = (1,) * (len(reps) - a.ndim) + a.shape
        self.reps = reps
        return xp.tile(a.reshape(self.in_shape), reps)

    def backward(self, g):
        split = []
        for r, s in zip(self.reps, self.in_shape):
            split += [r, s]
        g = g.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return g, None


class Cat(Function):
    saves_inputs = False

    def forward(self, *arrays, axis):
        self.axis = axis
        self.bounds = xp.cumsum([a.shape[axis] for a in arrays])[:-1]
        return xp.concatenate(arrays, axis=axis)

    def backward(self, g):
        return tuple(xp.split(g, self.bounds, axis=self.axis))


class Flip(Function):
    saves_inputs = False

    def forward(self, a, axes):
        self.axes = axes
        return xp.flip(a, axes).copy()

    def backward(self, g):
        return xp.flip(g, self.axes), None


def reshape(x: Tensor, *shape) -> Tensor:
    """The same data in a new shape; one dimension may be -1."""
    shape = shape_arg(shape, "reshape", negative_ok=True)
    size = x._data.size
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if shape.count(-1) > 1 or (shape.count(-1) == 0 and known != size) or (
            shape.count(-1) == 1 and (known == 0 or size % known)):
        raise RuntimeError(f"reshape: shape {list(shape)} is invalid for input of size {size} "
                           f"(shape {tuple(x._data.shape)})")
    if shape == x._data.shape:
        return x
    return Reshape.apply(x, shape)


view = reshape


def view_as(x: Tensor, other: Tensor) -> Tensor:
    """``x`` reshaped to ``other``'s shape."""
    return reshape(x, other._data.shape)


reshape_as = view_as


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one."""
    nd = x._data.ndim
    if nd == 0:
        return reshape(x, 1)
    s, e = norm_dim(start_dim, nd, "flatten"), norm_dim(end_dim, nd, "flatten")
    if s > e:
        raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x._data.shape
    merged = 1
    for n in shape[s:e + 1]:
        merged *= n
    return reshape(x, shape[:s] + (merged,) + shape[e + 1:])


def unflatten(x: Tensor, dim: int, sizes) -> Tensor:
    """Split dimension ``dim`` into ``sizes``."""
    d = norm_dim(dim, x._data.ndim, "unflatten")
    shape = x._data.shape
    return reshape(x, shape[:d] + tuple(sizes) + shape[d + 1:])


def squeeze(x: Tensor, dim=None) -> Tensor:
    """Remove size-1 dims (all, or those in ``dim``; a dim that is not 1 is left alone)."""
    shape = x._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        drop = {norm_dim(d, x._data.ndim, "squeeze") for d in dims} if x._data.ndim else set()
        new = tuple(s for i, s in enumerate(shape) if not (i in drop and s == 1))
    return reshape(x, new)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim`` (negative counts from the end of the result)."""
    nd = x._data.ndim + 1
    d = norm_dim(dim, nd, "unsqueeze")
    shape = x._data.shape
    return reshape(x, shape[:d] + (1,) + shape[d:])


def permute(x: Tensor, *dims) -> Tensor:
    """Reorder dimensions."""
    dims = shape_arg(dims, "permute", negative_ok=True)
    nd = x._data.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute: expected {nd} dims for a tensor of shape {tuple(x._data.shape)}, "
                           f"got {len(dims)}: {dims}")
    axes = tuple(norm_dim(d, nd, "permute") for d in dims)
    if len(set(axes)) != nd:
        raise RuntimeError(f"permute: repeated dim in {dims}")
    if axes == tuple(range(nd)):
        return x
    return Permute.apply(x, axes)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions."""
    nd = x._data.ndim
    if nd == 0:
        return x
    a, b = norm_dim(dim0, nd, "transpose"), norm_dim(dim1, nd, "transpose")
    axes = list(range(nd))
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, axes)


swapaxes = transpose


def expand(x: Tensor, *sizes) -> Tensor:
    """A broadcast view at ``sizes``; -1 keeps a dimension."""
    sizes = shape_arg(sizes, "expand", negative_ok=True)
    shape = x._data.shape
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes ({len(sizes)}) must be at least the number of "
                           f"dims ({len(shape)})")
    if any(s == -1 for s in sizes[:lead]):
        raise RuntimeError(f"expand: the size -1 is not allowed in a new leading dimension (shape "
                           f"{tuple(shape)} to {list(sizes)})")
    target = tuple(shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    for i, s in enumerate(shape):
        if s != 1 and s != target[i + lead]:
            raise RuntimeError(f"expand: the expanded size {target[i + lead]} must match the existing "
                               f"size {s} at dimension {i} (shape {tuple(shape)} to {list(sizes)})")
    if target == shape:
        return x
    return Expand.apply(x, target)


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    """``x`` expanded to ``other``'s shape."""
    return expand(x, other._data.shape)


def broadcast_to(x: Tensor, shape) -> Tensor:
    """``x`` expanded to ``shape``."""
    return expand(x, tuple(shape))


def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape."""
    shape = broadcast_shape("broadcast_tensors", *[t._data.shape for t in tensors])
    return tuple(expand(t, shape) for t in tensors)


def repeat(x: Tensor, *sizes) -> Tensor:
    """Tile the tensor ``sizes[i]`` times along each dim (like numpy.tile)."""
    sizes = shape_arg(sizes, "repeat")
    if len(sizes) < x._data.ndim:
        raise RuntimeError(f"repeat: number of repeat dims ({len(sizes)}) can not be smaller than the "
                           f"number of tensor dims ({x._data.ndim})")
    return Repeat.apply(x, sizes)


def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate tensors along an existing dimension."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat: expected a non-empty list of tensors")
    from .elementwise import cast
    from .. import backend as B
    dt = tensors[0].dtype
    for t in tensors[1:]:
        dt = B.result_type(dt, 1, t.dtype, 1)
    tensors = [t if t._data.dtype == dt.np else cast(t, dt) for t in tensors]
    nd = tensors[0]._data.ndim
    for i, t in enumerate(tensors):
        if t._data.ndim == 0:
            raise RuntimeError(f"cat: zero-dimensional tensor (at position {i}) cannot be concatenated; "
                               f"use stack, or reshape it to 1 dimension")
    d = norm_dim(dim, nd, "cat")
    ref = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        s = t._data.shape
        if len(s) != nd or any(a != b for j, (a, b) in enumerate(zip(s, ref)) if j != d):
            raise RuntimeError(f"cat: sizes of tensors must match except in dimension {d}; tensor 0 has "
                               f"shape {tuple(ref)} and tensor {i} has shape {tuple(s)}")
    if len(tensors) == 1:
        return tensors[0]
    return Cat.apply(*tensors, axis=d)


concat = cat
concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors of equal shape along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack: expected a non-empty list of tensors")
    ref = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != ref:
            raise RuntimeError(f"stack: expects each tensor to be equal size, but got {tuple(ref)} at "
                               f"entry 0 and {tuple(t._data.shape)} at entry {i}")
    d = norm_dim(dim, len(ref) + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d) if len(tensors) > 1 else unsqueeze(tensors[0], d)


def split(x: Tensor, split_size_or_sections, dim: int = 0):
    """Split into chunks of ``split_size`` (the last may be smaller) or of the listed sizes."""
    d = norm_dim(dim, x._data.ndim, "split")
    n = x._data.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise RuntimeError(f"split: split_size must be positive, got {step}")
        sizes = [min(step, n - i) for i in range(0, n, step)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise RuntimeError(f"split: sizes {sizes} do not sum to the size {n} of dimension {d}")
    out, start = [], 0
    index = [slice(None)] * x._data.ndim
    for s in sizes:
        index[d] = slice(start, start + s)
        out.append(x[tuple(index)])
        start += s
    return tuple(out)


def chunk(x: Tensor, chunks: int, dim: int = 0):
    """Split into ``chunks`` pieces of size ceil(n / chunks) (fewer if n is small)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be positive, got {chunks}")
    n = x._data.shape[norm_dim(dim, x._data.ndim, "chunk")]
    return split(x, max(-(-n // chunks), 1), dim)


def unbind(x: Tensor, dim: int = 0):
    """The slices of ``x`` along ``dim``, that dimension removed."""
    d = norm_dim(dim, x._data.ndim, "unbind")
    index = [slice(None)] * x._data.ndim
    out = []
    for i in range(x._data.shape[d]):
        index[d] = i
        out.append(x[tuple(index)])
    return tuple(out)


def flip(x: Tensor, dims) -> Tensor:
    """``x`` with the order of elements reversed along ``dims``."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return Flip.apply(x, tuple(norm_dim(d, x._data.ndim, "flip") for d in dims))
