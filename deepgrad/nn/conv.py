"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, LocallyConnected2d, Unfold, Fold.

Argument names, defaults, parameter shapes and names (``weight``, ``bias``) and the default
initialisation are PyTorch's, so state dicts move between the two libraries.
"""
from __future__ import annotations

import math

from .. import creation
from ..ops import conv as C
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "LocallyConnected2d", "Unfold", "Fold"]


class _ConvNd(Module):
    """Shared construction of the convolution layers (``nd`` spatial dims)."""

    _nd = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride, padding, dilation,
                 groups: int, bias: bool, padding_mode: str, output_padding=0, device=None, dtype=None):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels must be divisible by groups (in_channels={in_channels}, "
                             f"groups={groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels must be divisible by groups "
                             f"(out_channels={out_channels}, groups={groups})")
        if padding_mode not in C.PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {C.PADDING_MODES}, but got "
                             f"padding_mode={padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = C.ntuple(kernel_size, nd, "kernel_size", name)
        self.stride = C.ntuple(stride, nd, "stride", name)
        self.dilation = C.ntuple(dilation, nd, "dilation", name)
        self.output_padding = C.ntuple(output_padding, nd, "output_padding", name)
        C.check_positive(self.kernel_size, "kernel_size", name)
        C.check_positive(self.stride, "stride", name)
        C.check_positive(self.dilation, "dilation", name)
        if isinstance(padding, str):
            if self._transposed:
                raise ValueError(f"{name}: padding must be an int or a tuple of {nd} ints, got {padding!r}")
            C.conv_padding(padding, self.kernel_size, self.dilation, self.stride, name)  # validates
            self.padding = padding
        else:
            self.padding = C.ntuple(padding, nd, "padding", name)
            C.check_non_negative(self.padding, "padding", name)
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        self.padding_mode = padding_mode
        self.transposed = self._transposed
        shape = ((in_channels, out_channels // groups) if self._transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(creation.empty(*shape, dtype=dtype))
        self.bias = Parameter(creation.empty(out_channels, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) for the weight, i.e. U(-b, b) with
        b = 1 / sqrt(fan_in), and the same bound for the bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        nd = self._nd
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device=device, dtype=dtype)

    def forward(self, input: Tensor) -> Tensor:
        fn = C.conv1d if self._nd == 1 else C.conv2d
        if self.padding_mode == "zeros":
            return fn(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        pads = C.conv_padding(self.padding, self.kernel_size, self.dilation, self.stride, type(self).__name__)
        padded = C.mode_pad(input, pads, self.padding_mode, type(self).__name__)
        return fn(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L): a time-delay neural network layer. Weight
    (out_channels, in_channels / groups, kernel_size), bias (out_channels,).

    Example::

        tdnn = nn.Conv1d(13, 64, kernel_size=5, dilation=2)   # (8, 13, 100) -> (8, 64, 92)
    """

    _nd = 1


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W), as PyTorch's Conv2d: ``padding`` is an int, a pair,
    'same' (stride 1) or 'valid'; ``padding_mode`` is 'zeros', 'reflect', 'replicate' or 'circular'.
    Weight (out_channels, in_channels / groups, kh, kw), bias (out_channels,).

    Example::

        conv = nn.Conv2d(3, 16, 3, padding=1)   # (8, 3, 32, 32) -> (8, 16, 32, 32)
    """

    _nd = 2


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device=device, dtype=dtype)

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        """The output_padding that makes the output ``output_size`` (spatial dims, or with the
        leading batch/channel dims), within the range the stride leaves open."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        output_size = tuple(int(s) for s in output_size)
        non_spatial = input.ndim - nd
        if len(output_size) == nd + non_spatial:
            output_size = output_size[non_spatial:]
        if len(output_size) != nd:
            raise ValueError(f"{type(self).__name__}: output_size must have {nd} or {nd + 2} elements, "
                             f"got {output_size}")
        lows = tuple((n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in zip(
            input.shape[-nd:], self.stride, self.padding, self.dilation, self.kernel_size))
        highs = tuple(lo + s - 1 for lo, s in zip(lows, self.stride))
        if any(not lo <= o <= hi for o, lo, hi in zip(output_size, lows, highs)):
            raise ValueError(f"{type(self).__name__}: requested an output size of {list(output_size)}, but "
                             f"valid sizes range from {list(lows)} to {list(highs)} (for an input of "
                             f"{list(input.shape[-nd:])})")
        return tuple(o - lo for o, lo in zip(output_size, lows))

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        fn = C.conv_transpose1d if self._nd == 1 else C.conv_transpose2d
        return fn(input, self.weight, self.bias, self.stride, self.padding,
                  self._output_padding(input, output_size), self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution; weight (in_channels, out_channels / groups, kernel_size)."""

    _nd = 1


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution ("deconvolution", the gradient of Conv2d with respect to its input),
    as PyTorch's ConvTranspose2d: weight (in_channels, out_channels / groups, kh, kw). ``forward``
    accepts ``output_size`` to choose among the output sizes a stride > 1 makes possible.

    Example::

        up = nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)   # 7x7 -> 14x14
    """

    _nd = 2


class LocallyConnected2d(Module):
    """A convolution without weight sharing: each output position has its own filters (and bias).

    The output grid (out_h, out_w) is fixed by ``input_size`` (H, W) and the kernel geometry, as for
    a Conv2d with the same arguments. Parameters: ``weight`` of shape
    (out_h, out_w, out_channels, in_channels, kh, kw), where weight[i, j] is the conv2d-style filter
    bank applied at output position (i, j), and ``bias`` of shape (out_channels, out_h, out_w).
    Initialised like Conv2d: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels * kh * kw.

    Example::

        lc = nn.LocallyConnected2d(3, 8, input_size=(32, 32), kernel_size=5, stride=2)   # -> (N, 8, 14, 14)
    """

    def __init__(self, in_channels: int, out_channels: int, input_size, kernel_size, stride=1, padding=0,
                 dilation=1, bias: bool = True, device=None, dtype=None):
        super().__init__()
        name = "LocallyConnected2d"
        self.in_channels, self.out_channels = in_channels, out_channels
        self.input_size = C.ntuple(input_size, 2, "input_size", name)
        self.kernel_size = C.ntuple(kernel_size, 2, "kernel_size", name)
        self.stride = C.ntuple(stride, 2, "stride", name)
        self.padding = C.ntuple(padding, 2, "padding", name)
        self.dilation = C.ntuple(dilation, 2, "dilation", name)
        for attr in ("input_size", "kernel_size", "stride", "dilation"):
            C.check_positive(getattr(self, attr), attr, name)
        C.check_non_negative(self.padding, "padding", name)
        self.output_size = tuple(C.out_len(n + 2 * p, k, s, d) for n, k, s, p, d in zip(
            self.input_size, self.kernel_size, self.stride, self.padding, self.dilation))
        if any(o <= 0 for o in self.output_size):
            padded = tuple(n + 2 * p for n, p in zip(self.input_size, self.padding))
            raise ValueError(f"{name}: kernel {self.kernel_size} (dilation {self.dilation}) does not fit the "
                             f"padded input {padded}")
        oh, ow = self.output_size
        shape = (oh, ow, out_channels, in_channels) + self.kernel_size
        self.weight = Parameter(creation.empty(*shape, dtype=dtype))
        self.bias = Parameter(creation.empty(out_channels, oh, ow, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1 / math.sqrt(fan_in) if fan_in else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return C.locally_connected2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, input_size={self.input_size}, "
             f"kernel_size={self.kernel_size}, stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        s += f", output_size={self.output_size}"
        return s + (", bias=False" if self.bias is None else "")


class Unfold(Module):
    """Extracts sliding local blocks (im2col); see ``functional.unfold``."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return C.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """Combines sliding local blocks into an image, summing overlaps (col2im); see ``functional.fold``."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return C.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
