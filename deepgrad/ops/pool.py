"""Pooling: max (PyTorch's tie rule and indices), average, adaptive average and adaptive max, 1-D and 2-D.

Windows are strided views of the padded input (see ``conv.windows``); every loop runs over the
kernel offsets only, each step a vectorised pass over the whole output.

Max-pooling tie rule (the same as PyTorch's CPU kernels): each window scans its elements in row-major
order and keeps the first maximal one; NaN propagates (the last NaN of a window is picked, as in
PyTorch's ``val > max || isnan(val)``). Padded positions never win, so a window whose real elements
are all -inf picks its first real element. The gradient of an output goes to the picked element only;
an element picked by several overlapping windows receives the sum of their gradients.
"""
from __future__ import annotations

import itertools
from math import prod

from ..backend import xp
from ..autograd.function import Function
from ..tensor import Tensor
from .conv import (batched, check_non_negative, check_positive, col2im, crop, kernel_offsets, ntuple,
                   pad_crop, windows, workspace)
from .linalg import matmul
from .shape import transpose

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d"]


# ---------------------------------------------------------------------------- array kernels
def _offsets(kernel: tuple) -> list:
    return list(itertools.product(*(range(n) for n in kernel)))


def _axis_shape(nd: int, j: int, n: int, lead: int = 0) -> tuple:
    shape = [1] * (lead + nd)
    shape[lead + j] = n
    return tuple(shape)


def _valid_mask(k: tuple, tables: list, spatial: tuple):
    """For kernel offset k: where (broadcastable to the output grid) the window element is a real
    input element rather than padding; None when no window reaches into the padding."""
    mask = None
    for j, (t, n) in enumerate(zip(tables, spatial)):
        coord = t[:, k[j]]
        if coord.min() < 0 or coord.max() >= n:
            ok = ((coord >= 0) & (coord < n)).reshape(_axis_shape(len(tables), j, len(coord)))
            mask = ok if mask is None else mask & ok
    return mask


def _lowest(dtype):
    """The padding value of max pooling: below every element."""
    return -xp.inf if dtype.kind == "f" else xp.iinfo(dtype).min


def _window_max(view, kernel: tuple):
    """The maximum of each window of ``view`` (N, C, *kernel, *out); NaN propagates."""
    offsets = _offsets(kernel)
    lead = (slice(None), slice(None))
    best = workspace.empty(view.shape[:2] + view.shape[2 + len(kernel):], view.dtype)
    best[...] = view[lead + offsets[0]]
    for k in offsets[1:]:
        xp.maximum(best, view[lead + k], out=best)
    return best


def _first_hits(view, best, kernel: tuple, tables: list, spatial: tuple):
    """For each kernel offset i (row-major), yield (i, the mask of the windows of ``view``
    (N, C, *kernel, *out) whose picked element is their first maximal one, ``best``, at offset i).
    Windows holding NaN get no hit here; see ``_last_nan``. ``tables[j][o, k]`` is the input
    coordinate along dim j of offset k of window o, to keep padding out. Comparisons and logic
    only: branch-free passes are several times faster than masked assignment."""
    lead = (slice(None), slice(None))
    found = None
    for i, k in enumerate(_offsets(kernel)):
        hit = view[lead + k] == best
        valid = _valid_mask(k, tables, spatial)
        if valid is not None:
            hit &= valid
        if found is not None:
            hit = xp.greater(hit, found)  # a hit in a window that has no earlier hit
        yield i, hit
        found = hit if found is None else found | hit


def _last_nan(view, best, kernel: tuple):
    """(the windows holding NaN, the offset of their last NaN), or None when there are none."""
    if best.dtype.kind != "f" or not xp.isnan(best).any():
        return None
    lead = (slice(None), slice(None))
    arg = xp.zeros(best.shape, xp.int32)
    for i, k in enumerate(_offsets(kernel)):
        arg = xp.where(xp.isnan(view[lead + k]), i, arg)
    return xp.isnan(best), arg


def _window_argmax(view, best, kernel: tuple, tables: list, spatial: tuple):
    """The row-major kernel offset of the element of each window of ``view`` that max pooling
    picks, given the window maxima ``best``, under the tie rule in the module docstring."""
    arg = xp.zeros(best.shape, xp.int8 if prod(kernel) < 128 else xp.int32)
    for i, hit in _first_hits(view, best, kernel, tables, spatial):
        if i:
            arg += hit * arg.dtype.type(i)
    nan = _last_nan(view, best, kernel)
    return arg if nan is None else xp.where(nan[0], nan[1], arg)


def _plane_index(arg, kernel: tuple, tables: list, spatial: tuple):
    """int64 index into each input (n, c) plane of the element at kernel offset ``arg`` (N, C, *out);
    ``tables[j][o, k]`` is the input coordinate along spatial dim j of offset k of window o."""
    nd = len(kernel)
    ks = xp.unravel_index(arg, kernel) if nd > 1 else (arg,)
    flat = 0
    for j, (t, n) in enumerate(zip(tables, spatial)):
        o = xp.arange(t.shape[0]).reshape(_axis_shape(nd, j, t.shape[0], lead=2))
        flat = flat * n + t[o, ks[j]]
    return flat.astype(xp.int64)


def _pool_geometry(spatial: tuple, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
                   ceil_mode: bool, shape: tuple, op: str):
    """Output size and the (lo, hi) zero/-inf padding each dim needs (hi may exceed the padding in
    ceil mode, where the last window may hang over the end)."""
    out, pads = [], []
    for n, k, s, p, d in zip(spatial, kernel, stride, padding, dilation):
        eff = d * (k - 1) + 1
        if p > eff // 2:
            raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={d}")
        o = (n + 2 * p - eff + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= n + p:  # the last window must start inside the input or left pad
            o -= 1
        out.append(o)
        pads.append((p, max((o - 1) * s + eff - n - p, 0)))
    if any(o <= 0 for o in out):
        raise RuntimeError(f"{op}: given input size {tuple(shape[1:])}, the calculated output size "
                           f"{tuple(shape[1:2]) + tuple(out)} is too small (kernel {kernel}, "
                           f"stride {stride}, padding {padding}, dilation {dilation})")
    return tuple(out), tuple(pads)


# ---------------------------------------------------------------------------- primitives
class MaxPoolNd(Function):
    """Window maxima of x (N, C, *spatial) padded by ``pads`` (with -inf). Backward finds the element
    each window picked (tie rule above) and adds the gradient there, looping over kernel offsets
    only, so elements shared by overlapping windows accumulate."""

    saves_output = True

    def forward(self, x, kernel, stride, dilation, pads, tables):
        xpad = pad_crop(x, pads, _lowest(x.dtype))
        out = tuple(t.shape[0] for t in tables)
        self.view = windows(xpad, kernel, stride, dilation, out)
        self.best = _window_max(self.view, kernel)
        self.geometry = (kernel, stride, dilation, pads, tables, x.shape[2:], xpad.shape)
        return self.best

    def backward(self, g):
        kernel, stride, dilation, pads, tables, spatial, padded = self.geometry
        out = g.shape[2:]
        wheres = [where for _, where in kernel_offsets(kernel, stride, dilation, out)]
        # windows that tile the padded input exactly write each element once: no zeroing, no adding
        tiling = stride == kernel and all(d == 1 for d in dilation) and all(
            o * s == n for o, s, n in zip(out, stride, padded[2:]))
        buf = workspace.empty(padded, g.dtype) if tiling else workspace.zeros(padded, g.dtype)

        lead = (slice(None), slice(None))
        for i, hit in _first_hits(self.view, self.best, kernel, tables, spatial):
            if tiling:
                xp.multiply(g, hit, out=buf[lead + wheres[i]])
            else:
                buf[lead + wheres[i]] += g * hit
        nan = _last_nan(self.view, self.best, kernel)
        if nan is not None:
            for i, where in enumerate(wheres):
                buf[lead + where] += g * (nan[0] & (nan[1] == i))
        return crop(buf, pads), None, None, None, None, None


class PlaneGather(Function):
    """out[n, c, o...] = x[n, c].flat[index[n, c, o...]]: one element of each (n, c) plane per output,
    the adaptive max-pooling primitive. Backward scatters with one ``add.at``, so an element picked
    by several (overlapping) windows receives the sum of their gradients."""

    saves_inputs = False

    def forward(self, x, index):
        n, c = x.shape[:2]
        self.shape, self.index = x.shape, index
        rows = x.reshape(n, c, prod(x.shape[2:]))
        picked = xp.take_along_axis(rows, index.reshape(n, c, prod(index.shape[2:])), axis=2)
        return picked.reshape(index.shape)

    def backward(self, g):
        n, c = self.shape[:2]
        plane = prod(self.shape[2:])
        flat = self.index.reshape(n * c, prod(self.index.shape[2:])) + (xp.arange(n * c) * plane)[:, None]
        gx = xp.zeros(n * c * plane, dtype=g.dtype)
        xp.add.at(gx, flat.reshape(-1), g.reshape(-1))
        return gx.reshape(self.shape), None


class AvgPoolNd(Function):
    """Window sums divided by ``divisor`` (a number, or an array over the output grid), after zero
    padding by ``pads``."""

    saves_inputs = False

    def forward(self, x, kernel, stride, pads, out, divisor):
        xpad = pad_crop(x, pads)
        self.geometry = (kernel, stride, pads, out, xpad.shape)
        self.divisor = divisor
        view = windows(xpad, kernel, stride, (1,) * len(kernel), out)
        lead = (slice(None), slice(None))
        offsets = _offsets(kernel)
        total = workspace.empty(view.shape[:2] + out, view.dtype)
        total[...] = view[lead + offsets[0]]
        for k in offsets[1:]:
            total += view[lead + k]
        total /= divisor
        return total

    def backward(self, g):
        kernel, stride, pads, out, padded = self.geometry
        share = g / self.divisor
        cols = xp.broadcast_to(share.reshape(share.shape[:2] + (1,) * len(kernel) + out),
                               share.shape[:2] + kernel + out)
        buf = col2im(cols, workspace.zeros(padded, g.dtype), kernel, stride, (1,) * len(kernel), out)
        return crop(buf, pads), None, None, None, None, None


# ---------------------------------------------------------------------------- functional forms
def _pool_args(kernel_size, stride, padding, nd: int, op: str):
    kernel = ntuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else \
        ntuple(stride, nd, "stride", op)
    padding = ntuple(padding, nd, "padding", op)
    check_positive(kernel, "kernel_size", op)
    check_positive(stride, "stride", op)
    check_non_negative(padding, "padding", op)
    return kernel, stride, padding


def _picked_index(x: Tensor, view, kernel: tuple, tables: list):
    """The int64 flat (h * W + w) index of the element each window of ``view`` picks."""
    spatial = tuple(x.shape[2:])
    arg = _window_argmax(view, _window_max(view, kernel), kernel, tables, spatial)
    return _plane_index(arg, kernel, tables, spatial)


def _check_max_input(x: Tensor, op: str) -> None:
    if isinstance(x, Tensor) and x._data.dtype.kind not in "fiu":
        raise TypeError(f"{op}: expected a numeric input, got dtype {x.dtype}")


def _max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd, op):
    _check_max_input(x, op)
    kernel, stride, padding = _pool_args(kernel_size, stride, padding, nd, op)
    dilation = ntuple(dilation, nd, "dilation", op)
    check_positive(dilation, "dilation", op)

    def run(x4: Tensor):
        spatial = tuple(x4.shape[2:])
        out, pads = _pool_geometry(spatial, kernel, stride, padding, dilation, ceil_mode, tuple(x4.shape), op)
        tables = [xp.arange(o)[:, None] * s - p + xp.arange(k) * d
                  for o, s, p, k, d in zip(out, stride, padding, kernel, dilation)]
        y = MaxPoolNd.apply(x4, kernel, stride, dilation, pads, tables)
        if not return_indices:
            return y
        a = x4._data
        view = windows(pad_crop(a, pads, _lowest(a.dtype)), kernel, stride, dilation, out)
        return y, Tensor._make(_picked_index(x4, view, kernel, tables))

    return batched(x, nd, op, run)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """1-D max pooling over (N, C, L) or (C, L); see ``max_pool2d``."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1,
                     "max_pool1d")


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """2-D max pooling over (N, C, H, W) or (C, H, W), as PyTorch's max_pool2d.

    ``stride`` defaults to ``kernel_size``; ``padding`` (at most half the effective kernel) pads with
    -inf; ``ceil_mode`` rounds the output size up. Ties pick the first maximal element of a window in
    row-major order, as PyTorch does; overlapping windows (stride < kernel) accumulate gradients. With
    ``return_indices``, also returns the int64 flat index (h * W + w) of each picked input element.

    Example::

        y = F.max_pool2d(x, 2)                            # (8, 16, 32, 32) -> (8, 16, 16, 16)
        y, idx = F.max_pool2d(x, 3, 2, return_indices=True)
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2,
                     "max_pool2d")


def _avg_divisor(spatial, kernel, stride, padding, out, count_include_pad, divisor_override, dtype, op):
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError(f"{op}: divisor_override must not be zero")
        return divisor_override
    counts = xp.ones((), dtype=xp.int64)
    for n, k, s, p, o in zip(spatial, kernel, stride, padding, out):
        start = xp.arange(o) * s - p
        end = xp.minimum(start + k, n + p)  # a ceil-mode window counts only up to the right padding
        c = end - start if count_include_pad else xp.minimum(end, n) - xp.maximum(start, 0)
        counts = counts[..., None] * c
    return counts.astype(dtype)


def _avg_pool(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, nd, op):
    kernel, stride, padding = _pool_args(kernel_size, stride, padding, nd, op)
    if isinstance(x, Tensor) and not x.is_floating_point():
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype}; "
                        f"convert it with .float()")

    def run(x4: Tensor):
        spatial = tuple(x4.shape[2:])
        for p, k in zip(padding, kernel):
            if p > k // 2:
                raise RuntimeError(f"{op}: pad should be at most half of kernel size, but got pad={p} and "
                                   f"kernel_size={k}")
        out, pads = _pool_geometry(spatial, kernel, stride, padding, (1,) * nd, ceil_mode, tuple(x4.shape),
                                   op)
        divisor = _avg_divisor(spatial, kernel, stride, padding, out, count_include_pad, divisor_override,
                               x4._data.dtype, op)
        return AvgPoolNd.apply(x4, kernel, stride, pads, out, divisor)

    return batched(x, nd, op, run)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling over (N, C, L) or (C, L); see ``avg_pool2d``."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d")


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """2-D average pooling over (N, C, H, W) or (C, H, W), as PyTorch's avg_pool2d.

    Padding is zeros; with ``count_include_pad`` (default) they count in the divisor, otherwise only
    real elements do. ``divisor_override`` replaces the divisor of every window.

    Example::

        y = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
    """
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                     2, "avg_pool2d")


def _adaptive_sizes(x4: Tensor, output_size, nd: int, op: str) -> tuple:
    if output_size is None or isinstance(output_size, int):
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if len(output_size) != nd:
        raise ValueError(f"{op}: output_size must be an int or a sequence of {nd} (int or None), got "
                         f"{output_size!r}")
    sizes = tuple(n if o is None else int(o) for o, n in zip(output_size, x4.shape[2:]))
    if any(o <= 0 for o in sizes):
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    if any(n == 0 for n in x4.shape[2:]):
        raise RuntimeError(f"{op}: expected non-empty spatial dims, got input of shape {tuple(x4.shape)}")
    return sizes


def _adaptive_bounds(n: int, o: int):
    """Window i covers [floor(i n / o), ceil((i + 1) n / o)), as in PyTorch."""
    i = xp.arange(o)
    return (i * n) // o, -((-(i + 1) * n) // o)


def _adaptive_avg(x, output_size, nd, op):
    if isinstance(x, Tensor) and not x.is_floating_point():
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype}")

    def run(x4: Tensor):
        y = x4
        # averaging over a box is separable: one averaging matrix per spatial dim
        for j, (n, o) in enumerate(zip(x4.shape[2:], _adaptive_sizes(x4, output_size, nd, op))):
            if n == o:
                continue
            start, end = _adaptive_bounds(n, o)
            cols = xp.arange(n)
            m = ((cols >= start[:, None]) & (cols < end[:, None])) / (end - start)[:, None]
            m = Tensor._make(m.astype(x4._data.dtype))  # (o, n)
            axis = 2 + j
            y = transpose(matmul(transpose(y, axis, -1), transpose(m, 0, 1)), axis, -1)
        return y

    return batched(x, nd, op, run)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output length; window i covers [floor(i L / o), ceil((i+1) L / o))."""
    return _adaptive_avg(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed (out_h, out_w) whatever the input size (None keeps an input size);
    windows may overlap when the sizes do not divide, exactly as PyTorch's.

    Example::

        y = F.adaptive_avg_pool2d(x, 1)   # global average pooling: (8, 64, 7, 7) -> (8, 64, 1, 1)
    """
    return _adaptive_avg(input, output_size, 2, "adaptive_avg_pool2d")


def _adaptive_max(x, output_size, return_indices, nd, op):
    _check_max_input(x, op)

    def run(x4: Tensor):
        spatial = tuple(x4.shape[2:])
        out = _adaptive_sizes(x4, output_size, nd, op)
        if all(n % o == 0 for n, o in zip(spatial, out)):  # equal, disjoint windows: plain max pooling
            kernel = tuple(n // o for n, o in zip(spatial, out))
            return _max_pool(x4, kernel, kernel, 0, 1, False, return_indices, nd, op)
        tables, index = [], []
        for j, (n, o) in enumerate(zip(spatial, out)):
            start, end = _adaptive_bounds(n, o)
            # windows padded to the longest with repeats of their last element, which never wins a tie
            t = xp.minimum(start[:, None] + xp.arange(int((end - start).max())), end[:, None] - 1)
            tables.append(t)
            shape = [1] * (2 * nd)
            shape[j], shape[nd + j] = t.shape[1], t.shape[0]
            index.append(t.T.reshape(shape))
        view = x4._data[(slice(None), slice(None)) + tuple(index)]  # (N, C, *window, *out)
        kernel = tuple(t.shape[1] for t in tables)
        picked = _picked_index(x4, view, kernel, tables)
        y = PlaneGather.apply(x4, picked)
        return (y, Tensor._make(picked)) if return_indices else y

    return batched(x, nd, op, run)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to a fixed output length; see ``adaptive_max_pool2d``."""
    return _adaptive_max(input, output_size, return_indices, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to a fixed (out_h, out_w) with PyTorch's windows and tie rule (first maximum in
    row-major order); ``return_indices`` also returns the flat (h * W + w) index of each maximum."""
    return _adaptive_max(input, output_size, return_indices, 2, "adaptive_max_pool2d")
