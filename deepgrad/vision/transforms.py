"""Image transforms with torchvision's names, arguments and semantics, applied to each sample as it is
loaded (``Digits(transform=...)``, ``CIFAR10(root, transform=...)``).

Two image kinds are accepted, told apart by type:

- deepgrad tensors of shape (..., H, W), channels at dim -3 (C x H x W, or N x C x H x W where one
  random draw then applies to the whole batch, as in torchvision);
- numpy arrays H x W or H x W x C, the layout of PIL images and of what ``MNIST``/``CIFAR10`` return;
  geometric transforms return the same kind, ``ToTensor`` turns them into C x H x W float tensors.

Random transforms take an optional ``generator`` (a ``deepgrad.Generator``) and otherwise draw from
deepgrad's global generator, so ``deepgrad.manual_seed`` makes augmentation reproducible.

Transforms prepare data: geometric ones do not record autograd history and refuse a tensor that
requires grad; ``Normalize`` and ``ToDtype`` are tensor arithmetic and stay differentiable.

Example::

    train_tf = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), ToTensor(),
                        Normalize((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))])
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from enum import Enum

from .. import backend as B
from ..backend import xp
from ..creation import from_numpy
from ..random import Generator, rand_array, randint_array
from ..tensor import Tensor
from ..utils.data import DataLoader, Dataset

__all__ = ["Compose", "ToTensor", "Normalize", "compute_mean_std", "Pad", "RandomCrop", "CenterCrop",
           "RandomHorizontalFlip", "RandomVerticalFlip", "Resize", "InterpolationMode", "Lambda", "ToDtype"]

_PADDING_MODES = ("constant", "edge", "reflect", "symmetric")


# ---------------------------------------------------------------------------- image kinds
def _as_array(img, op: str):
    """The pixels as an array whose last two axes are H and W (channels at -3), and the function that
    turns such an array back into the caller's kind of image."""
    if isinstance(img, Tensor):
        if img.requires_grad:
            raise RuntimeError(f"{op}: transforms prepare data and record no autograd history, but the "
                               f"tensor requires grad; pass tensor.detach()")
        if img.ndim < 2:
            raise ValueError(f"{op}: expected a tensor image of shape (..., H, W), got shape "
                             f"{tuple(img.shape)}")
        return img.numpy(), from_numpy
    if isinstance(img, xp.ndarray):
        if img.ndim == 2:
            return img, _identity
        if img.ndim == 3:
            return img.transpose(2, 0, 1), _channels_last
        raise ValueError(f"{op}: expected a numpy image of shape (H, W) or (H, W, C), got shape {img.shape}")
    raise TypeError(f"{op}: expected a deepgrad Tensor (..., H, W) or a numpy image (H, W[, C]), "
                    f"got {type(img).__name__}")


def _identity(a):
    return a


def _channels_last(a):
    return a.transpose(1, 2, 0)


def _size_pair(size, op: str) -> tuple:
    """(h, w) from an int or a sequence of one or two ints."""
    if isinstance(size, int) and not isinstance(size, bool):
        return size, size
    if isinstance(size, Sequence) and len(size) in (1, 2) and all(isinstance(s, int) for s in size):
        return (size[0], size[0]) if len(size) == 1 else tuple(size)
    raise ValueError(f"{op}: size should be an int or a sequence of one or two ints (h, w), got {size!r}")


def _random_int(high: int, generator: Generator | None) -> int:
    return int(randint_array(0, high, (1,), generator)[0])


def _random_unit(generator: Generator | None) -> float:
    return float(rand_array((1,), B.float64, generator)[0])


# ---------------------------------------------------------------------------- padding
def _padding_ltrb(padding, op: str) -> tuple:
    """(left, top, right, bottom) from an int, or a sequence of 1 (all sides), 2 (left/right,
    top/bottom) or 4 (left, top, right, bottom) ints."""
    if isinstance(padding, int) and not isinstance(padding, bool):
        return (padding,) * 4
    if isinstance(padding, Sequence) and all(isinstance(p, int) for p in padding):
        if len(padding) == 1:
            return tuple(padding) * 4
        if len(padding) == 2:
            return padding[0], padding[1], padding[0], padding[1]
        if len(padding) == 4:
            return tuple(padding)
    raise ValueError(f"{op}: padding must be an int or a 1, 2, or 4 element sequence of ints, "
                     f"got {padding!r}")


def _check_fill_mode(fill, padding_mode: str, op: str) -> None:
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"{op}: padding_mode should be one of {', '.join(_PADDING_MODES)}, "
                         f"got {padding_mode!r}")
    if not isinstance(fill, (int, float)) and not (isinstance(fill, Sequence)
                                                   and all(isinstance(f, (int, float)) for f in fill)):
        raise TypeError(f"{op}: fill should be a number or a sequence of numbers (one per channel), "
                        f"got {fill!r}")


def _pad(a, ltrb: tuple, fill, mode: str, op: str):
    """Pad the last two axes; negative widths crop. A sequence ``fill`` gives one value per channel
    (axis -3)."""
    left, top, right, bottom = ltrb
    if min(ltrb) < 0:
        h, w = a.shape[-2:]
        a = a[..., max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
        left, top, right, bottom = (max(p, 0) for p in ltrb)
    if not (left or top or right or bottom):
        return a
    if mode != "constant":
        if mode == "reflect" and min(a.shape[-2:]) < 2:
            raise ValueError(f"{op}: reflect padding needs at least 2 pixels along each side, got an image "
                             f"of shape {a.shape}")
        return xp.pad(a, [(0, 0)] * (a.ndim - 2) + [(top, bottom), (left, right)], mode=mode)
    channels = a.shape[-3] if a.ndim >= 3 else 1
    if isinstance(fill, Sequence) and len(fill) not in (1, channels):
        raise ValueError(f"{op}: fill has {len(fill)} values for an image with {channels} channels")
    # Filling a new array and copying the image in is several times faster than xp.pad.
    out = xp.empty(a.shape[:-2] + (a.shape[-2] + top + bottom, a.shape[-1] + left + right), a.dtype)
    value = xp.asarray(fill).astype(a.dtype)
    out[...] = value.reshape(-1, 1, 1) if value.ndim and a.ndim >= 3 else value.reshape(())
    out[..., top:top + a.shape[-2], left:left + a.shape[-1]] = a
    return out


class Pad:
    """Pad the image on each side: ``padding`` is an int, (left/right, top/bottom) or (left, top,
    right, bottom); ``padding_mode`` is constant (with ``fill``, a number or one per channel), edge,
    reflect or symmetric."""

    def __init__(self, padding, fill=0, padding_mode: str = "constant"):
        self.padding = _padding_ltrb(padding, "Pad")
        _check_fill_mode(fill, padding_mode, "Pad")
        self.fill, self.padding_mode = fill, padding_mode

    def __call__(self, img):
        a, back = _as_array(img, "Pad")
        return back(_pad(a, self.padding, self.fill, self.padding_mode, "Pad"))

    def __repr__(self) -> str:
        return f"Pad(padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode})"


# ---------------------------------------------------------------------------- crops and flips
class RandomCrop:
    """Crop a random ``size`` (h, w) window, after optional ``padding`` (see ``Pad``); with
    ``pad_if_needed`` an image smaller than ``size`` is padded on both sides to fit.

    Example::

        RandomCrop(32, padding=4)  # CIFAR-10 augmentation: pad to 40 x 40, crop 32 x 32
    """

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant", *, generator: Generator | None = None):
        self.size = _size_pair(size, "RandomCrop")
        self.padding = None if padding is None else _padding_ltrb(padding, "RandomCrop")
        _check_fill_mode(fill, padding_mode, "RandomCrop")
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode
        self.generator = generator

    def __call__(self, img):
        a, back = _as_array(img, "RandomCrop")
        if self.padding is not None:
            a = _pad(a, self.padding, self.fill, self.padding_mode, "RandomCrop")
        th, tw = self.size
        if self.pad_if_needed and a.shape[-1] < tw:
            grow = tw - a.shape[-1]
            a = _pad(a, (grow, 0, grow, 0), self.fill, self.padding_mode, "RandomCrop")
        if self.pad_if_needed and a.shape[-2] < th:
            grow = th - a.shape[-2]
            a = _pad(a, (0, grow, 0, grow), self.fill, self.padding_mode, "RandomCrop")
        h, w = a.shape[-2:]
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than input image size "
                             f"{(h, w)}; use pad_if_needed=True or padding")
        if (h, w) == (th, tw):
            return back(a)
        i = _random_int(h - th + 1, self.generator)
        j = _random_int(w - tw + 1, self.generator)
        return back(a[..., i:i + th, j:j + tw])

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class CenterCrop:
    """Crop the central ``size`` (h, w) window; an image smaller than ``size`` is first padded with
    zeros (torchvision's rule: the odd pixel goes to the right/bottom)."""

    def __init__(self, size):
        self.size = _size_pair(size, "CenterCrop")

    def __call__(self, img):
        a, back = _as_array(img, "CenterCrop")
        th, tw = self.size
        h, w = a.shape[-2:]
        if th > h or tw > w:
            dw, dh = max(tw - w, 0), max(th - h, 0)
            a = _pad(a, (dw // 2, dh // 2, (dw + 1) // 2, (dh + 1) // 2), 0, "constant", "CenterCrop")
            h, w = a.shape[-2:]
        # Python's round (half to even), as torchvision uses.
        top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
        return back(a[..., top:top + th, left:left + tw])

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"


class _RandomFlip:
    _axis = -1

    def __init__(self, p: float = 0.5, *, generator: Generator | None = None):
        if not 0 <= p <= 1:
            raise ValueError(f"{type(self).__name__}: p should be a probability in [0, 1], got {p}")
        self.p = p
        self.generator = generator

    def __call__(self, img):
        a, back = _as_array(img, type(self).__name__)
        if _random_unit(self.generator) < self.p:
            return back(xp.flip(a, axis=self._axis).copy())
        return img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomHorizontalFlip(_RandomFlip):
    """Mirror the image left-right with probability ``p``."""


class RandomVerticalFlip(_RandomFlip):
    """Mirror the image top-bottom with probability ``p``."""

    _axis = -2


# ---------------------------------------------------------------------------- resizing
class InterpolationMode(Enum):
    """Resampling filters for ``Resize``: NEAREST and NEAREST_EXACT (PyTorch's 'nearest' and
    'nearest-exact') and BILINEAR."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"


def _nearest_index(n_in: int, n_out: int, exact: bool):
    """Source index of each output pixel, with PyTorch's float32 arithmetic: floor(i * in/out) for
    'nearest', floor((i + 0.5) * in/out) for 'nearest-exact'."""
    scale = xp.float32(n_in) / xp.float32(n_out)
    pos = xp.arange(n_out, dtype=xp.float32) + xp.float32(0.5 if exact else 0.0)
    return xp.minimum(xp.floor(pos * scale).astype(xp.int64), n_in - 1)


def _linear_weights(n_in: int, n_out: int, antialias: bool, dtype):
    """(n_out, n_in) matrix of 1-d linear interpolation weights, align_corners=False, as
    ``torch.nn.functional.interpolate``: without antialias, two taps at the source position
    (i + 0.5) * in/out - 0.5 (clamped at 0); with antialias and downscaling, a triangle filter
    stretched by in/out and renormalised (PIL's and PyTorch's antialiased bilinear)."""
    scale = dtype(n_in) / dtype(n_out)
    i = xp.arange(n_out, dtype=dtype)
    weights = xp.zeros((n_out, n_in), dtype=dtype)
    if antialias and scale > 1:
        center = scale * (i + dtype(0.5))
        lo = xp.maximum((center - scale + dtype(0.5)).astype(xp.int64), 0)
        hi = xp.minimum((center + scale + dtype(0.5)).astype(xp.int64), n_in)
        j = xp.arange(n_in)
        taps = xp.maximum(dtype(1) - xp.abs((j - center[:, None] + dtype(0.5)) / scale), dtype(0))
        taps = xp.where((j >= lo[:, None]) & (j < hi[:, None]), taps, dtype(0))
        return (taps / taps.sum(axis=1, keepdims=True)).astype(dtype)
    src = xp.maximum(scale * (i + dtype(0.5)) - dtype(0.5), dtype(0))
    i0 = xp.floor(src).astype(xp.int64)
    i1 = xp.minimum(i0 + 1, n_in - 1)
    frac = xp.clip(src - i0, 0, 1).astype(dtype)
    rows = xp.arange(n_out)
    xp.add.at(weights, (rows, i0), dtype(1) - frac)
    xp.add.at(weights, (rows, i1), frac)
    return weights


def _resize_array(a, out_hw: tuple, mode: InterpolationMode, antialias: bool):
    """Resample the last two axes of ``a`` to ``out_hw``; integer images are computed in float32,
    rounded and clipped back to their dtype."""
    (h, w), (oh, ow) = a.shape[-2:], out_hw
    if (h, w) == (oh, ow):
        return a
    if mode is not InterpolationMode.BILINEAR:
        exact = mode is InterpolationMode.NEAREST_EXACT
        return a[..., _nearest_index(h, oh, exact)[:, None], _nearest_index(w, ow, exact)]
    is_float = a.dtype.kind == "f"
    work = a if is_float else a.astype(xp.float32)
    dtype = work.dtype.type
    if h != oh:
        work = xp.matmul(_linear_weights(h, oh, antialias, dtype), work)
    if w != ow:
        work = xp.matmul(work, _linear_weights(w, ow, antialias, dtype).T)
    if is_float:
        return work
    info = xp.iinfo(a.dtype)
    return xp.clip(xp.round(work), info.min, info.max).astype(a.dtype)


def _resized_size(h: int, w: int, size, max_size: int | None) -> tuple:
    """torchvision's output size: (h, w) given as a pair, or the shorter side set to an int ``size``
    with the aspect ratio kept (the longer side rounded down, then capped at ``max_size``)."""
    if len(size) == 2:
        return tuple(size)
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size[0], int(size[0] * long / short)
    if max_size is not None and new_long > max_size:
        new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if w <= h else (new_short, new_long)


class Resize:
    """Resize to ``size``: (h, w), or an int that the shorter side is set to, keeping the aspect
    ratio (``max_size`` caps the longer side). ``interpolation`` is BILINEAR (default) or NEAREST /
    NEAREST_EXACT (an ``InterpolationMode`` or its string). Values match
    ``torch.nn.functional.interpolate(..., align_corners=False, antialias=antialias)``; ``antialias``
    (default True, as torchvision) only changes downscaling. Integer images are rounded back to
    their dtype.

    Example::

        Resize(28)(deepgrad.rand(1, 8, 8)).shape  # (1, 28, 28)
    """

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size: int | None = None,
                 antialias: bool = True):
        if isinstance(size, int) and not isinstance(size, bool):
            size = [size]
        if not (isinstance(size, Sequence) and len(size) in (1, 2)
                and all(isinstance(s, int) and s > 0 for s in size)):
            raise ValueError(f"Resize: size should be a positive int or a sequence of 1 or 2 positive ints, "
                             f"got {size!r}")
        if max_size is not None and (len(size) != 1 or max_size <= size[0]):
            raise ValueError(f"Resize: max_size={max_size} needs size to be an int (the shorter side) "
                             f"smaller than max_size, got size={list(size)}")
        try:
            self.interpolation = InterpolationMode(getattr(interpolation, "value", interpolation))
        except ValueError:
            modes = ", ".join(m.value for m in InterpolationMode)
            raise ValueError(f"Resize: interpolation should be one of {modes}, "
                             f"got {interpolation!r}") from None
        self.size, self.max_size, self.antialias = list(size), max_size, antialias

    def __call__(self, img):
        a, back = _as_array(img, "Resize")
        out_hw = _resized_size(*a.shape[-2:], self.size, self.max_size)
        if out_hw == tuple(a.shape[-2:]):
            return img
        return back(_resize_array(a, out_hw, self.interpolation, self.antialias))

    def __repr__(self) -> str:
        return (f"Resize(size={self.size}, interpolation={self.interpolation.value}, "
                f"max_size={self.max_size}, antialias={self.antialias})")


# ---------------------------------------------------------------------------- conversions
class ToTensor:
    """A numpy image H x W x C (or H x W, given one channel), or a PIL image, as a C x H x W tensor;
    uint8 pixels are scaled to float32 in [0, 1], other dtypes are kept as they are (torchvision's
    rule).

    Example::

        ToTensor()(numpy_uint8_image_28x28).shape  # (1, 28, 28), float32
    """

    def __call__(self, pic) -> Tensor:
        if isinstance(pic, Tensor):
            raise TypeError("ToTensor: expected a numpy (H, W[, C]) or PIL image, got a deepgrad Tensor; "
                            "tensors are already (C, H, W): use ToDtype(deepgrad.float32, scale=True) to "
                            "rescale a uint8 tensor")
        if not (isinstance(pic, xp.ndarray) or hasattr(pic, "__array_interface__")):
            raise TypeError(f"ToTensor: pic should be a numpy array or a PIL image, got {type(pic).__name__}")
        arr = xp.asarray(pic)
        if arr.ndim not in (2, 3):
            raise ValueError(f"ToTensor: pic should be 2 or 3 dimensional (H, W[, C]), got shape {arr.shape}")
        chw = xp.ascontiguousarray((arr[:, :, None] if arr.ndim == 2 else arr).transpose(2, 0, 1))
        if chw.dtype == xp.uint8:
            return from_numpy(chw.astype(B.get_default_dtype().np) / 255)
        return from_numpy(chw)

    def __repr__(self) -> str:
        return "ToTensor()"


def _max_value(dt: B.dtype):
    return 1.0 if dt.is_floating_point else int(xp.iinfo(dt.np).max)


class ToDtype:
    """Convert a tensor image to ``dtype``; with ``scale=True`` rescale its values between the ranges
    of the two dtypes ([0, 1] for floats, [0, max] for integers), as torchvision v2 does: uint8 ->
    float divides by 255, float -> uint8 multiplies by 255.999 and truncates, integer -> integer
    shifts bits."""

    def __init__(self, dtype, scale: bool = False):
        self.dtype, self.scale = B.to_dtype(dtype), scale

    def __call__(self, img: Tensor) -> Tensor:
        if not isinstance(img, Tensor):
            raise TypeError(f"ToDtype: expected a deepgrad Tensor, got {type(img).__name__}")
        src, dst = img.dtype, self.dtype
        if not self.scale or src is dst:
            return img.to(dst)
        if B.bool_ in (src, dst):
            raise TypeError(f"ToDtype: cannot rescale between {src} and {dst}; use scale=False")
        if src.is_floating_point and dst.is_floating_point:
            return img.to(dst)
        if dst.is_floating_point:
            return img.to(dst) * (1.0 / _max_value(src))
        if src.is_floating_point:
            if dst.itemsize * 8 > xp.finfo(src.np).nmant + 1:
                raise RuntimeError(f"ToDtype: the conversion from {src} to {dst} cannot be performed safely")
            return (img * (_max_value(dst) + 1.0 - 1e-3)).to(dst)
        bits_in, bits_out = (int(math.log2(_max_value(d) + 1)) for d in (src, dst))
        if bits_in > bits_out:
            return (img // (1 << (bits_in - bits_out))).to(dst)
        return img.to(dst) * (1 << (bits_out - bits_in))

    def __repr__(self) -> str:
        return f"ToDtype(dtype={self.dtype}, scale={self.scale})"


class Normalize:
    """``(x - mean[c]) / std[c]`` for each channel c of a float tensor (..., C, H, W). Get the
    statistics of a training set with ``compute_mean_std``.

    Example::

        mean, std = compute_mean_std(Digits(train=True))
        Normalize(mean, std)
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, img: Tensor) -> Tensor:
        if not isinstance(img, Tensor):
            raise TypeError(f"Normalize: expected a deepgrad Tensor (..., C, H, W), got "
                            f"{type(img).__name__}; apply ToTensor() first")
        if not img.is_floating_point():
            raise TypeError(f"Normalize: input tensor should be a float tensor, got {img.dtype}")
        if img.ndim < 3:
            raise ValueError(f"Normalize: expected a tensor image of shape (..., C, H, W), got shape "
                             f"{tuple(img.shape)}")
        mean = xp.asarray(self.mean, dtype=img.dtype.np).reshape(-1, 1, 1)
        std = xp.asarray(self.std, dtype=img.dtype.np).reshape(-1, 1, 1)
        channels = img.shape[-3]
        if mean.shape[0] not in (1, channels) or std.shape[0] not in (1, channels):
            raise ValueError(f"Normalize: mean and std need 1 or {channels} values for an image of "
                             f"{channels} channels, got {mean.shape[0]} and {std.shape[0]}")
        if not std.all():
            raise ValueError(f"Normalize: std evaluated to zero after conversion to {img.dtype}, leading to "
                             f"division by zero")
        if self.inplace:
            return img.sub_(from_numpy(mean)).div_(from_numpy(std))
        return (img - from_numpy(mean)) / from_numpy(std)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


def compute_mean_std(data: Dataset | Tensor, batch_size: int = 1024) -> tuple:
    """Per-channel mean and standard deviation of float images, over all images and pixels: of a
    tensor (N, C, H, W), or of a dataset whose samples are (C, H, W) tensors or (image, target)
    pairs (give image datasets ``transform=ToTensor()``). The std is the population one (divides by
    the number of values); statistics are accumulated in float64 batch by batch (Chan's merge), so a
    dataset is never held in memory at once. Returns two tuples of floats, ready for ``Normalize``.

    Example::

        mean, std = compute_mean_std(train_set)
        train_set.transform = Compose([ToTensor(), Normalize(mean, std)])
    """
    batches = [data] if isinstance(data, Tensor) else (
        b[0] if isinstance(b, (list, tuple)) else b for b in DataLoader(data, batch_size=batch_size))
    count, mean, m2 = 0, None, None
    for x in batches:
        if not isinstance(x, Tensor) or x.ndim != 4 or not x.is_floating_point():
            what = (f"{x.dtype} tensor of shape {tuple(x.shape)}" if isinstance(x, Tensor)
                    else type(x).__name__)
            raise TypeError(f"compute_mean_std: expected float images (N, C, H, W) or samples (C, H, W), got "
                            f"a batch that is a {what}; give image datasets transform=ToTensor()")
        arr = x.detach().numpy().astype(xp.float64)
        n = arr.shape[0] * arr.shape[2] * arr.shape[3]
        batch_mean = arr.mean(axis=(0, 2, 3))
        batch_m2 = ((arr - batch_mean[:, None, None]) ** 2).sum(axis=(0, 2, 3))
        if mean is None:
            count, mean, m2 = n, batch_mean, batch_m2
            continue
        if batch_mean.shape != mean.shape:
            raise ValueError(f"compute_mean_std: images have {mean.shape[0]} channels, then "
                             f"{batch_mean.shape[0]}")
        delta, total = batch_mean - mean, count + n
        mean = mean + delta * (n / total)
        m2 = m2 + batch_m2 + delta ** 2 * (count * n / total)
        count = total
    if not count:
        raise ValueError("compute_mean_std: no pixels to average (empty dataset or tensor)")
    return tuple(float(m) for m in mean), tuple(float(s) for s in xp.sqrt(m2 / count))


# ---------------------------------------------------------------------------- composition
class Lambda:
    """A user function as a transform."""

    def __init__(self, lambd: Callable):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument lambd should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self) -> str:
        return "Lambda()"


class Compose:
    """Apply transforms one after another.

    Example::

        Compose([ToTensor(), Normalize((0.5,), (0.25,))])
    """

    def __init__(self, transforms: Iterable[Callable]):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {type(t).__name__}")

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        body = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({body}\n)"
