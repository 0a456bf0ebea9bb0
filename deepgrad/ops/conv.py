"""Convolutions: conv1d/conv2d, their transposes, unfold/fold (im2col) and the locally connected layer.

A convolution is one matrix product: the input windows are copied once into a column matrix (im2col,
through a strided view of the padded input, no Python loop over pixels, batch or channels) and the
weight matrix multiplies it (a batched product over groups). Gradients are matrix products too; the
input gradient of a strided convolution goes back through col2im, which loops only over the kernel
offsets (kh * kw vectorised adds), so overlapping windows accumulate, and that of a stride-1
convolution is itself a convolution. A transposed convolution is the same machinery run the other
way round.

Layouts: columns are (C * prod(kernel), N * prod(out)), channel-major, so the product with a
(out_channels, C * prod(kernel)) weight is a single large GEMM. Its (C_out, N, *out) result is
returned as an (N, C_out, *out) view, not copied back to batch-major memory: every consumer reads
any strides, and the next backward's channel-major gradient then costs nothing.

Speed: large scratch arrays come from a cache (``workspace``) instead of fresh memory.
"""
from __future__ import annotations

import itertools
import sys
import threading
from math import prod

from ..backend import xp
from ..autograd.function import Function
from ..tensor import Tensor
from . import shape as S
from .linalg import matmul

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "unfold", "fold",
           "locally_connected2d"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


# ---------------------------------------------------------------------------- argument helpers
def ntuple(value, n: int, name: str, op: str) -> tuple:
    """``value`` (an int or a sequence of n ints) as a tuple of n ints."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and n > 1:
            value = tuple(value) * n
        if len(value) != n or not all(isinstance(v, int) or hasattr(v, "__index__") for v in value):
            raise ValueError(f"{op}: {name} must be an int or a sequence of {n} ints, got {value!r}")
        return tuple(int(v) for v in value)
    if isinstance(value, bool) or not (isinstance(value, int) or hasattr(value, "__index__")):
        raise TypeError(f"{op}: {name} must be an int or a sequence of {n} ints, got {value!r}")
    return (int(value),) * n


def check_positive(values: tuple, name: str, op: str) -> None:
    if any(v <= 0 for v in values):
        raise ValueError(f"{op}: {name} must be positive, got {values}")


def check_non_negative(values: tuple, name: str, op: str) -> None:
    if any(v < 0 for v in values):
        raise ValueError(f"{op}: {name} must be non-negative, got {values}")


def batched(x: Tensor, nd: int, op: str, fn):
    """Run ``fn`` on ``x`` of shape (N, C, *spatial); an unbatched (C, *spatial) input gets a batch
    dim of 1 for the call, removed again from the result."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim == nd + 2:
        return fn(x)
    if x.ndim == nd + 1:
        out = fn(S.unsqueeze(x, 0))
        if isinstance(out, tuple):
            return tuple(S.squeeze(o, 0) for o in out)
        return S.squeeze(out, 0)
    raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {op}, but got "
                       f"input of size: {list(x.shape)}")


# ---------------------------------------------------------------------------- array kernels
class Workspace:
    """Large scratch arrays (column matrices, padded copies, products), reused between calls.

    A fresh large array costs the kernel's zeroing of new pages on first touch (glibc maps every
    block over 32 MiB afresh), as much as half the time of the im2col copy that fills it; a training
    loop asks for the same shapes at every step. A buffer is handed out again only when nothing refers
    to it any more: its reference count shows that only this cache holds it, so arrays saved for a
    backward pass (also with retain_graph=True) or returned to the user are never overwritten.
    At most ``max_idle_bytes`` of unused buffers are kept (least recently used dropped first).
    """

    def __init__(self, max_idle_bytes: int = 256 << 20, min_bytes: int = 1 << 20):
        self.max_idle_bytes, self.min_bytes = max_idle_bytes, min_bytes
        self._buffers: list = []  # 1-D uint8 arrays, least recently used first
        self._lock = threading.Lock()

    def _idle(self, i: int) -> bool:
        return sys.getrefcount(self._buffers[i]) == 2  # the list's reference and the argument's

    def empty(self, shape: tuple, dtype):
        """An uninitialised C-contiguous array, from the cache when one of that size is idle."""
        dtype = xp.dtype(dtype)
        nbytes = prod(shape) * dtype.itemsize
        if nbytes < self.min_bytes:
            return xp.empty(shape, dtype)
        with self._lock:
            bufs = self._buffers
            for i in range(len(bufs)):
                if bufs[i].nbytes == nbytes and self._idle(i):
                    bufs.append(bufs.pop(i))
                    return bufs[-1].view(dtype).reshape(shape)
            idle = sum(bufs[i].nbytes for i in range(len(bufs)) if self._idle(i))
            i = 0
            while idle + nbytes > self.max_idle_bytes and i < len(bufs):
                if self._idle(i):
                    idle -= bufs.pop(i).nbytes
                else:
                    i += 1
            bufs.append(xp.empty(nbytes, xp.uint8))
            return bufs[-1].view(dtype).reshape(shape)

    def zeros(self, shape: tuple, dtype):
        out = self.empty(shape, dtype)
        out.fill(0)
        return out

    def clear(self) -> None:
        """Drop every idle buffer (those in use stay until their arrays are gone)."""
        with self._lock:
            keep = [i for i in range(len(self._buffers)) if not self._idle(i)]
            self._buffers = [self._buffers[i] for i in keep]


workspace = Workspace()


def pad_crop(a, widths: tuple, value=0):
    """``a`` (N, C, *spatial) with ``widths`` ((lo, hi) per spatial dim) added as ``value``; negative
    widths crop. Returns ``a`` itself when there is nothing to do."""
    lead = a.ndim - len(widths)
    a = a[(slice(None),) * lead + tuple(slice(max(-lo, 0), n - max(-hi, 0))
                                        for (lo, hi), n in zip(widths, a.shape[lead:]))]
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if not any(lo or hi for lo, hi in grow):
        return a
    out = workspace.empty(a.shape[:lead] + tuple(n + lo + hi for n, (lo, hi) in zip(a.shape[lead:], grow)),
                          a.dtype)
    everything = [slice(None)] * out.ndim
    for j, (lo, hi) in enumerate(grow):  # the borders, one slab per side and dim, then the interior
        for part in (slice(0, lo), slice(out.shape[lead + j] - hi, None)):
            out[tuple(everything[:lead + j] + [part])] = value
    out[(Ellipsis,) + tuple(slice(lo, lo + n) for (lo, _), n in zip(grow, a.shape[lead:]))] = a
    return out


def crop(a, widths: tuple):
    """The inner part of a padded (A, B, *padded) array: ``widths`` ((lo, hi) >= 0) removed."""
    inner = tuple(slice(lo, n - hi) for (lo, hi), n in zip(widths, a.shape[2:]))
    return a[(slice(None), slice(None)) + inner]


def out_len(n: int, k: int, s: int, d: int) -> int:
    """Number of windows of a kernel of size k, dilation d, stride s along a (padded) length n."""
    return (n - d * (k - 1) - 1) // s + 1


def windows(x, kernel: tuple, stride: tuple, dilation: tuple, out: tuple):
    """A read-only strided view (N, C, *kernel, *out) of ``x`` (N, C, *spatial) whose element
    [n, c, k..., o...] is x[n, c, o * stride + k * dilation ...]. No copy is made."""
    sp = x.strides[2:]
    strides = (x.strides[:2] + tuple(a * d for a, d in zip(sp, dilation))
               + tuple(a * s for a, s in zip(sp, stride)))
    return xp.lib.stride_tricks.as_strided(x, x.shape[:2] + tuple(kernel) + tuple(out), strides,
                                           writeable=False)


def kernel_offsets(kernel: tuple, stride: tuple, dilation: tuple, out: tuple):
    """For each kernel offset k (row-major): (k, the slices of the padded spatial dims that the
    elements at offset k of all windows occupy)."""
    for k in itertools.product(*(range(n) for n in kernel)):
        yield k, tuple(slice(i * d, i * d + s * (o - 1) + 1, s)
                       for i, s, d, o in zip(k, stride, dilation, out))


def col2im(cols, buf, kernel: tuple, stride: tuple, dilation: tuple, out: tuple):
    """Add window values ``cols`` (A, B, *kernel, *out) back into ``buf`` (A, B, *padded spatial):
    the adjoint of ``windows``. Loops over kernel offsets only; overlapping windows accumulate."""
    lead = (slice(None), slice(None))
    for k, where in kernel_offsets(kernel, stride, dilation, out):
        buf[lead + where] += cols[lead + k]
    return buf


def im2col(xpad, kernel: tuple, stride: tuple, dilation: tuple, out: tuple):
    """The (C * prod(kernel), N * prod(out)) column matrix of the windows of ``xpad`` (N, C, *padded):
    rows run over (c, k...), columns over (n, o...). One strided copy."""
    nd = len(kernel)
    v = windows(xpad, kernel, stride, dilation, out)
    v = v.transpose((1,) + tuple(range(2, 2 + nd)) + (0,) + tuple(range(2 + nd, 2 + 2 * nd)))
    cols = workspace.empty(v.shape, xpad.dtype)
    cols[...] = v
    return cols.reshape(xpad.shape[1] * prod(kernel), xpad.shape[0] * prod(out))


def channel_major(a):
    """(N, C, *spatial) -> (C, N * prod(spatial)); no copy when ``a`` already is a ``batch_first`` view."""
    n, c, size = a.shape[0], a.shape[1], prod(a.shape[2:])
    return a.reshape(n, c, size).transpose(1, 0, 2).reshape(c, n * size)


def split_groups(a, groups: int):
    """(G * p, ...) -> (G, p, prod(...)): the per-group matrices of a weight or column matrix."""
    return a.reshape(groups, a.shape[0] // groups, prod(a.shape[1:]))


def batch_first(m, bias):
    """``m`` (C, N, *spatial), an array this module owns, as an (N, C, *spatial) view, ``bias`` (C,)
    added in place. Results keep the channel-major memory of the matrix products that make them:
    the next layer's im2col reads any strides, and the gradient's ``channel_major`` is then free."""
    if bias is not None:
        m += bias.reshape((-1,) + (1,) * (m.ndim - 1))
    return m.swapaxes(0, 1)


def product(a, b):
    """xp.matmul into a workspace array (the large products of this module)."""
    shape = xp.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    return xp.matmul(a, b, out=workspace.empty(shape, xp.result_type(a, b)))


def _grad_bias(g):
    return g.sum(axis=(0,) + tuple(range(2, g.ndim)))


# ---------------------------------------------------------------------------- primitives
def _columns(x, kernel: tuple, stride: tuple, pads: tuple, dilation: tuple, groups: int):
    """The per-group column matrices (G, C / G * prod(kernel), N * prod(out)) of x padded by ``pads``,
    and ``out``."""
    xpad = pad_crop(x, pads)
    out = tuple(out_len(p, k, s, d) for p, k, s, d in zip(xpad.shape[2:], kernel, stride, dilation))
    return split_groups(im2col(xpad, kernel, stride, dilation, out), groups), out


def _conv_forward(x, w, b, stride, pads, dilation, groups):
    """conv of x (N, C, *spatial) with w (O, C / groups, *kernel): (output, its column matrices)."""
    cols, out = _columns(x, w.shape[2:], stride, pads, dilation, groups)
    y = product(split_groups(w, groups), cols)
    return batch_first(y.reshape((w.shape[0], x.shape[0]) + out), b), cols


def _flipped_transpose(w, groups: int):
    """(O, C / G, *kernel) -> (C, O / G, *kernel) with the kernel flipped: the weight of the
    convolution that maps a stride-1 convolution's output gradient to its input gradient."""
    o, cg, kernel = w.shape[0], w.shape[1], w.shape[2:]
    wt = w.reshape((groups, o // groups, cg) + kernel).swapaxes(1, 2)
    return xp.flip(wt.reshape((groups * cg, o // groups) + kernel), axis=tuple(range(2, w.ndim)))


class ConvNd(Function):
    """Cross-correlation of x (N, C, *spatial) with w (O, C / groups, *kernel) plus bias (O,), after
    zero padding by ``pads`` ((lo, hi) per spatial dim), any number of spatial dims."""

    saves_inputs = (1, 0, False)  # x only for the weight's gradient, w only for the input's

    def forward(self, x, w, b, stride, pads, dilation, groups):
        n, c = x.shape[:2]
        o, kernel = w.shape[0], w.shape[2:]
        self.geometry = (kernel, stride, dilation, pads, groups)
        self.x, self.w, self.has_bias = x, w, b is not None
        # a 1x1 stride-1 convolution needs no im2col: the input already is the column matrix
        self.pointwise = groups == 1 and not any(lo or hi for lo, hi in pads) and all(
            k == 1 for k in kernel) and all(s == 1 for s in stride)
        if self.pointwise:
            self.cols = None
            y = product(w.reshape(o, c), x.reshape(n, c, prod(x.shape[2:])))
            if b is not None:
                y += b[:, None]
            return y.reshape(n, o, *x.shape[2:])
        y, self.cols = _conv_forward(x, w, b, stride, pads, dilation, groups)
        return y

    def backward(self, g):
        x, w, (kernel, stride, dilation, pads, groups) = self.x, self.w, self.geometry
        n, c, o, out = x.shape[0], x.shape[1], w.shape[0], g.shape[2:]
        gb = _grad_bias(g) if self.has_bias and self.needs_input_grad[2] else None
        gw = self._weight_grad(g) if self.needs_input_grad[1] else None
        self.cols = None
        if not self.needs_input_grad[0]:
            return None, gw, gb, None, None, None, None
        if self.pointwise:
            gx = product(w.reshape(o, c).T, g.reshape(n, o, prod(out))).reshape(x.shape)
        elif all(s == 1 for s in stride) and o * prod(x.shape[2:]) <= 1.5 * c * prod(out):
            # the input gradient of a stride-1 convolution is the convolution of the output gradient,
            # padded by d (k - 1) - p, with the flipped, transposed kernel: an im2col and a GEMM with a
            # long inner dimension beat a GEMM into full-size columns plus col2im, unless these
            # columns are much larger (measured break-even: about twice as large)
            gpads = tuple((d * (k - 1) - lo, d * (k - 1) - hi)
                          for (lo, hi), k, d in zip(pads, kernel, dilation))
            gx, _ = _conv_forward(g, _flipped_transpose(w, groups), None, stride, gpads, dilation, groups)
        else:
            gm = split_groups(channel_major(g), groups)
            gcols = product(split_groups(w, groups).transpose(0, 2, 1), gm)
            nd = len(kernel)
            gcols = xp.moveaxis(gcols.reshape((c,) + kernel + (n,) + out), 1 + nd, 1)  # (C, N, *kernel, *out)
            padded = tuple(m + lo + hi for m, (lo, hi) in zip(x.shape[2:], pads))
            buf = workspace.zeros((c, n) + padded, g.dtype)
            col2im(gcols, buf, kernel, stride, dilation, out)
            gx = crop(buf, pads).swapaxes(0, 1)
        return gx, gw, gb, None, None, None, None

    def _weight_grad(self, g):
        kernel, stride, dilation, pads, groups = self.geometry
        if self.pointwise:
            n, o = g.shape[:2]
            x3 = self.x.reshape(n, self.x.shape[1], prod(self.x.shape[2:]))
            g3 = g.reshape(n, o, prod(g.shape[2:]))
            return xp.tensordot(g3, x3, axes=([0, 2], [0, 2])).reshape(self.w.shape)
        # the saved columns are let go once used, so the input gradient's im2col can reuse their
        # memory; a second backward through the graph (retain_graph=True) rebuilds them
        cols = self.cols
        if cols is None:
            cols = _columns(self.x, kernel, stride, pads, dilation, groups)[0]
        self.cols = None
        gm = split_groups(channel_major(g), groups)
        return xp.matmul(gm, cols.transpose(0, 2, 1)).reshape(self.w.shape)


class ConvTransposeNd(Function):
    """The transpose (adjoint) of ConvNd with respect to its input: x (N, C_in, *spatial) and
    w (C_in, C_out / groups, *kernel); ``padding`` is cropped from the full result and
    ``output_padding`` extends it at the high end of each dim."""

    saves_inputs = (1, 0, False)

    def forward(self, x, w, b, stride, padding, output_padding, dilation, groups):
        n, c_in = x.shape[:2]
        kernel, spatial = w.shape[2:], x.shape[2:]
        c_out = w.shape[1] * groups
        full = tuple((m - 1) * s + d * (k - 1) + 1 for m, s, d, k in zip(spatial, stride, dilation, kernel))
        out = tuple(f - 2 * p + op for f, p, op in zip(full, padding, output_padding))
        self.geometry = (kernel, stride, dilation, spatial, padding, full, out)
        self.w, self.groups, self.has_bias, self.n = w, groups, b is not None, n
        self.xm = split_groups(channel_major(x), groups)
        cols = product(split_groups(w, groups).transpose(0, 2, 1), self.xm)
        nd = len(kernel)
        cols = xp.moveaxis(cols.reshape((c_out,) + kernel + (n,) + spatial), 1 + nd, 1)
        size = tuple(max(f, p + m) for f, p, m in zip(full, padding, out))
        buf = workspace.zeros((c_out, n) + size, x.dtype)
        col2im(cols, buf, kernel, stride, dilation, spatial)
        region = buf[(slice(None), slice(None)) + tuple(slice(p, p + m) for p, m in zip(padding, out))]
        return batch_first(region, b)

    def backward(self, g):
        kernel, stride, dilation, spatial, padding, full, out = self.geometry
        w, groups, n = self.w, self.groups, self.n
        c_in = w.shape[0]
        gb = _grad_bias(g) if self.has_bias and self.needs_input_grad[2] else None
        gpad = pad_crop(g, tuple((p, f - p - m) for p, f, m in zip(padding, full, out)))
        cols = split_groups(im2col(gpad, kernel, stride, dilation, spatial), groups)
        gx = gw = None
        if self.needs_input_grad[0]:
            gm = product(split_groups(w, groups), cols)
            gx = batch_first(gm.reshape((c_in, n) + spatial), None)
        if self.needs_input_grad[1]:
            gw = xp.matmul(self.xm, cols.transpose(0, 2, 1)).reshape(w.shape)
        return gx, gw, gb, None, None, None, None, None


def _unfold_array(x, kernel, dilation, pads, stride):
    xpad = pad_crop(x, pads)
    out = tuple(out_len(p, k, s, d) for p, k, s, d in zip(xpad.shape[2:], kernel, stride, dilation))
    v = windows(xpad, kernel, stride, dilation, out)
    return v.reshape(x.shape[0], x.shape[1] * prod(kernel), prod(out))


def _fold_array(cols, spatial, kernel, dilation, pads, stride):
    n, c = cols.shape[0], cols.shape[1] // prod(kernel)
    padded = tuple(m + lo + hi for m, (lo, hi) in zip(spatial, pads))
    out = tuple(out_len(p, k, s, d) for p, k, s, d in zip(padded, kernel, stride, dilation))
    buf = workspace.zeros((n, c) + padded, cols.dtype)
    col2im(cols.reshape((n, c) + tuple(kernel) + out), buf, kernel, stride, dilation, out)
    return crop(buf, pads)


class Unfold(Function):
    """(N, C, *spatial) -> (N, C * prod(kernel), L) sliding windows; backward is fold."""

    saves_inputs = False

    def forward(self, x, kernel, dilation, pads, stride):
        self.args = (x.shape[2:], kernel, dilation, pads, stride)
        return _unfold_array(x, kernel, dilation, pads, stride)

    def backward(self, g):
        return _fold_array(g, *self.args), None, None, None, None


class Fold(Function):
    """(N, C * prod(kernel), L) -> (N, C, *output_size), summing overlapping windows; backward is unfold."""

    saves_inputs = False

    def forward(self, cols, spatial, kernel, dilation, pads, stride):
        self.args = (kernel, dilation, pads, stride)
        return _fold_array(cols, spatial, kernel, dilation, pads, stride)

    def backward(self, g):
        return _unfold_array(g, *self.args), None, None, None, None, None


class ModePad(Function):
    """Reflect, replicate or circular padding of the spatial dims, as a gather through one index
    array per dim; backward sums each padded position's gradient onto the element it copies."""

    saves_inputs = False

    def forward(self, x, index):
        self.index, self.shape = index, x.shape
        return x[(Ellipsis,) + xp.ix_(*index)]

    def backward(self, g):
        first = g.ndim - len(self.index)
        for axis, idx in enumerate(self.index, start=first):
            onehot = (idx[:, None] == xp.arange(self.shape[axis])).astype(g.dtype)
            g = xp.moveaxis(xp.moveaxis(g, axis, -1) @ onehot, -1, axis)
        return g, None


def mode_pad(x: Tensor, pads: tuple, mode: str, op: str) -> Tensor:
    """Pad the last len(pads) dims of ``x`` (e.g. (N, C, *spatial)) by ``pads`` ((lo, hi) per dim)
    with ``mode`` 'reflect', 'replicate' or 'circular', as PyTorch's padding_mode does."""
    index = []
    for (lo, hi), n in zip(pads, x.shape[x.ndim - len(pads):]):
        i = xp.arange(-lo, n + hi)
        if mode == "reflect":
            if lo >= n or hi >= n:
                raise RuntimeError(f"{op}: reflect padding ({lo}, {hi}) must be smaller than the input "
                                   f"dimension {n} (input of shape {tuple(x.shape)})")
            i = xp.abs(i)
            i = xp.where(i > n - 1, 2 * (n - 1) - i, i)
        elif mode == "replicate":
            i = xp.clip(i, 0, n - 1)
        else:
            if lo > n or hi > n:
                raise RuntimeError(f"{op}: circular padding ({lo}, {hi}) wraps around more than once for "
                                   f"an input dimension of {n} (input of shape {tuple(x.shape)})")
            i = i % n
        index.append(i)
    return ModePad.apply(x, tuple(index))


# ---------------------------------------------------------------------------- functional forms
def _check_float_args(op: str, x: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: weight must be a Tensor, got {type(weight).__name__}")
    for name, t in (("input", x), ("weight", weight), ("bias", bias)):
        if t is not None and not t.is_floating_point():
            raise TypeError(f"{op}: expected a floating-point {name}, got dtype {t.dtype}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise RuntimeError(f"{op}: input dtype {x.dtype} and {name} dtype {t.dtype} differ; convert "
                               f"one of them (e.g. input.to({t.dtype}))")


def _check_bias(op: str, bias: Tensor | None, channels: int) -> None:
    if bias is not None and tuple(bias.shape) != (channels,):
        raise RuntimeError(f"{op}: expected bias of shape ({channels},), got {tuple(bias.shape)}")


def conv_padding(padding, kernel: tuple, dilation: tuple, stride: tuple, op: str) -> tuple:
    """((lo, hi) per spatial dim) for an int / tuple / 'valid' / 'same' padding argument. 'same'
    pads d * (k - 1) in total, the odd extra element at the high end, as PyTorch does."""
    nd = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding != "same":
            raise ValueError(f"{op}: invalid padding string {padding!r}; expected 'same' or 'valid'")
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                             f"(stride={stride})")
        return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation))
    p = ntuple(padding, nd, "padding", op)
    check_non_negative(p, "padding", op)
    return tuple((v, v) for v in p)


def _conv(x: Tensor, weight: Tensor, bias, stride, padding, dilation, groups: int, nd: int,
          op: str) -> Tensor:
    _check_float_args(op, x, weight, bias)
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{op}: expected a {nd + 2}-D weight (out_channels, in_channels / groups, "
                           f"*kernel_size), got shape {tuple(weight.shape)}")
    stride = ntuple(stride, nd, "stride", op)
    dilation = ntuple(dilation, nd, "dilation", op)
    check_positive(stride, "stride", op)
    check_positive(dilation, "dilation", op)
    if not isinstance(groups, int) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    kernel = tuple(weight.shape[2:])
    pads = conv_padding(padding, kernel, dilation, stride, op)
    o, cg = weight.shape[:2]
    if o % groups:
        raise RuntimeError(f"{op}: given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of size {list(weight.shape)}")
    _check_bias(op, bias, o)

    def run(x4: Tensor) -> Tensor:
        if x4.shape[1] != cg * groups:
            raise RuntimeError(f"{op}: given groups={groups}, weight of size {list(weight.shape)}, expected "
                               f"input{list(x4.shape)} to have {cg * groups} channels, but got "
                               f"{x4.shape[1]} channels instead")
        padded = tuple(n + lo + hi for n, (lo, hi) in zip(x4.shape[2:], pads))
        if any(p < d * (k - 1) + 1 for p, k, d in zip(padded, kernel, dilation)):
            eff = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
            raise RuntimeError(f"{op}: calculated padded input size per channel {padded} is smaller than "
                               f"the (dilated) kernel size {eff}; kernel size can't be greater than the "
                               f"actual input size (input {tuple(x4.shape)})")
        return ConvNd.apply(x4, weight, bias, stride, pads, dilation, groups)

    return batched(x, nd, op, run)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """1-D cross-correlation of ``input`` (N, C_in, L) or (C_in, L) with ``weight``
    (C_out, C_in / groups, k): the time-delay network layer. ``padding`` is an int or 'same'/'valid'.

    Example::

        y = F.conv1d(x, w, stride=2)   # x (8, 3, 100), w (16, 3, 5) -> y (8, 16, 48)
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-D cross-correlation of ``input`` (N, C_in, H, W) or (C_in, H, W) with ``weight``
    (C_out, C_in / groups, kh, kw), as PyTorch's conv2d. ``stride``, ``padding`` and ``dilation`` are
    ints or pairs; ``padding`` may also be 'same' (stride 1 only) or 'valid'. Output size per dim:
    floor((H + 2p - d (k - 1) - 1) / s) + 1.

    Example::

        y = F.conv2d(x, w, b, padding=1)   # x (8, 3, 32, 32), w (16, 3, 3, 3) -> y (8, 16, 32, 32)
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def _conv_transpose(x: Tensor, weight: Tensor, bias, stride, padding, output_padding, groups: int,
                    dilation, nd: int, op: str) -> Tensor:
    _check_float_args(op, x, weight, bias)
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{op}: expected a {nd + 2}-D weight (in_channels, out_channels / groups, "
                           f"*kernel_size), got shape {tuple(weight.shape)}")
    stride = ntuple(stride, nd, "stride", op)
    dilation = ntuple(dilation, nd, "dilation", op)
    padding = ntuple(padding, nd, "padding", op)
    output_padding = ntuple(output_padding, nd, "output_padding", op)
    check_positive(stride, "stride", op)
    check_positive(dilation, "dilation", op)
    check_non_negative(padding, "padding", op)
    check_non_negative(output_padding, "output_padding", op)
    if any(op_ >= s and op_ >= d for op_, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError(f"{op}: output padding must be smaller than either stride or dilation, but got "
                           f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    if not isinstance(groups, int) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    c_in = weight.shape[0]
    if c_in % groups:
        raise RuntimeError(f"{op}: given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of size {list(weight.shape)}")
    _check_bias(op, bias, weight.shape[1] * groups)
    kernel = tuple(weight.shape[2:])

    def run(x4: Tensor) -> Tensor:
        if x4.shape[1] != c_in:
            raise RuntimeError(f"{op}: given transposed=1, weight of size {list(weight.shape)}, expected "
                               f"input{list(x4.shape)} to have {c_in} channels, but got {x4.shape[1]} "
                               f"channels instead")
        out = tuple((m - 1) * s - 2 * p + d * (k - 1) + op_ + 1 for m, s, p, d, k, op_ in
                    zip(x4.shape[2:], stride, padding, dilation, kernel, output_padding))
        if any(m <= 0 for m in out):
            raise RuntimeError(f"{op}: given input size {tuple(x4.shape)}, kernel {kernel}, stride {stride}, "
                               f"padding {padding}: the calculated output size {out} is too small")
        return ConvTransposeNd.apply(x4, weight, bias, stride, padding, output_padding, dilation, groups)

    return batched(x, nd, op, run)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-D transposed convolution ("deconvolution"), the gradient of conv1d with respect to its input;
    ``weight`` is (C_in, C_out / groups, k).
    Output length: (L - 1) s - 2p + d (k - 1) + output_padding + 1."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                           "conv_transpose1d")


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-D transposed convolution, the gradient of conv2d with respect to its input, as PyTorch's
    conv_transpose2d (note the argument order: groups before dilation). ``weight`` is
    (C_in, C_out / groups, kh, kw); output size per dim: (H - 1) s - 2p + d (k - 1) + output_padding + 1.

    Example::

        y = F.conv_transpose2d(x, w, stride=2)   # x (8, 16, 7, 7), w (16, 8, 2, 2) -> y (8, 8, 14, 14)
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                           "conv_transpose2d")


def _fold_geometry(kernel_size, dilation, padding, stride, op: str):
    kernel = ntuple(kernel_size, 2, "kernel_size", op)
    dilation = ntuple(dilation, 2, "dilation", op)
    padding = ntuple(padding, 2, "padding", op)
    stride = ntuple(stride, 2, "stride", op)
    for name, v in (("kernel_size", kernel), ("dilation", dilation), ("stride", stride)):
        check_positive(v, name, op)
    check_non_negative(padding, "padding", op)
    return kernel, dilation, tuple((p, p) for p in padding), stride


def _block_counts(spatial, kernel, dilation, pads, stride):
    return tuple(out_len(n + lo + hi, k, s, d)
                 for n, k, s, d, (lo, hi) in zip(spatial, kernel, stride, dilation, pads))


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding local blocks (im2col): (N, C, H, W) -> (N, C * kh * kw, L), where L is the number
    of windows; column l holds window l's values ordered (c, i, j). As torch.nn.functional.unfold.

    Example::

        cols = F.unfold(x, 3, padding=1)   # x (2, 4, 5, 5) -> cols (2, 36, 25)
    """
    kernel, dilation, pads, stride = _fold_geometry(kernel_size, dilation, padding, stride, "unfold")

    def run(x4: Tensor) -> Tensor:
        blocks = _block_counts(x4.shape[2:], kernel, dilation, pads, stride)
        if any(b <= 0 for b in blocks):
            raise RuntimeError(f"unfold: given input with spatial size {tuple(x4.shape[2:])}, "
                               f"kernel_size={kernel}, dilation={dilation}, padding={padding}, the "
                               f"calculated grid of sliding blocks {blocks} is empty; every component "
                               f"must be at least one")
        return Unfold.apply(x4, kernel, dilation, pads, stride)

    return batched(input, 2, "unfold", run)


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Combine sliding local blocks into an image (col2im), summing overlapping values:
    (N, C * kh * kw, L) -> (N, C, H, W), the adjoint of ``unfold``. As torch.nn.functional.fold."""
    kernel, dilation, pads, stride = _fold_geometry(kernel_size, dilation, padding, stride, "fold")
    spatial = ntuple(output_size, 2, "output_size", "fold")
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        got = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(f"fold: expected a 2-D (unbatched) or 3-D (batched) input, got {got}")
    kk = prod(kernel)
    if input.shape[-2] % kk:
        raise RuntimeError(f"fold: expected size of input's dimension {input.ndim - 2} to be divisible by "
                           f"the product of kernel_size {kernel}, but got {input.shape[-2]}")
    blocks = _block_counts(spatial, kernel, dilation, pads, stride)
    if input.shape[-1] != prod(blocks):
        raise RuntimeError(f"fold: given output_size={spatial}, kernel_size={kernel}, dilation={dilation}, "
                           f"padding={padding}, stride={stride}, expected size of input's last dimension "
                           f"to match the calculated number of sliding blocks "
                           f"{' * '.join(map(str, blocks))} = {prod(blocks)}, but got {input.shape[-1]}")
    if input.ndim == 2:
        return S.squeeze(Fold.apply(S.unsqueeze(input, 0), spatial, kernel, dilation, pads, stride), 0)
    return Fold.apply(input, spatial, kernel, dilation, pads, stride)


def locally_connected2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                        dilation=1) -> Tensor:
    """A convolution without weight sharing: every output position (i, j) has its own filter bank.

    ``weight`` has shape (out_h, out_w, C_out, C_in, kh, kw): weight[i, j] is the conv2d-style
    weight used at output position (i, j). ``bias``, if given, is untied too: shape (C_out, out_h, out_w).
    out[n, o, i, j] = sum_{c, a, b} weight[i, j, o, c, a, b] * xpad[n, c, i s + a d, j s + b d]
                      + bias[o, i, j].
    Computed as unfold + one batched matmul over the out_h * out_w positions.
    """
    op = "locally_connected2d"
    _check_float_args(op, input, weight, None)
    if weight.ndim != 6:
        raise RuntimeError(f"{op}: expected a 6-D weight (out_h, out_w, out_channels, in_channels, kh, kw), "
                           f"got shape {tuple(weight.shape)}")
    oh, ow, o, c, kh, kw = weight.shape
    if bias is not None:
        _check_float_args(op, input, weight, bias)
        if tuple(bias.shape) != (o, oh, ow):
            raise RuntimeError(f"{op}: expected bias of shape {(o, oh, ow)}, got {tuple(bias.shape)}")

    def run(x4: Tensor) -> Tensor:
        if x4.shape[1] != c:
            raise RuntimeError(f"{op}: weight of size {list(weight.shape)} expects input{list(x4.shape)} to "
                               f"have {c} channels, but got {x4.shape[1]} channels instead")
        kernel, dil, pads, strd = _fold_geometry((kh, kw), dilation, padding, stride, op)
        blocks = _block_counts(x4.shape[2:], kernel, dil, pads, strd)
        if blocks != (oh, ow):
            raise RuntimeError(f"{op}: weight is for a {oh}x{ow} output grid, but input {tuple(x4.shape)} "
                               f"with kernel {kernel}, stride {strd}, padding {padding}, dilation {dil} "
                               f"gives {blocks[0]}x{blocks[1]}")
        cols = S.permute(Unfold.apply(x4, kernel, dil, pads, strd), 2, 0, 1)  # (L, N, C*kh*kw)
        w = S.transpose(S.reshape(weight, oh * ow, o, c * kh * kw), 1, 2)  # (L, C*kh*kw, C_out)
        y = S.permute(matmul(cols, w), 1, 2, 0)  # (N, C_out, L)
        y = S.reshape(y, x4.shape[0], o, oh, ow)
        return y if bias is None else y + bias

    return batched(input, 2, op, run)
