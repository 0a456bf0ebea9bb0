"""Dropout layers: element-wise (Dropout) and channel-wise (Dropout1d, Dropout2d, Dropout3d)."""
from __future__ import annotations

from ..ops.dropout import dropout1d, dropout2d, dropout3d
from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 and 1, "
                             f"but got {p}")
        self.p, self.inplace = p, inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """In training, zero each element with probability ``p`` and scale the rest by 1/(1-p); in
    evaluation (``model.eval()``) return the input unchanged.

    Example::

        drop = nn.Dropout(0.5)
        y = drop(x)
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Channel-wise dropout of (N, C, L) or (C, L) inputs: each channel is zeroed as a whole."""

    def forward(self, x: Tensor) -> Tensor:
        return dropout1d(x, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Channel-wise dropout of (N, C, H, W) inputs: each feature map ``x[n, c]`` is zeroed as a
    whole with probability ``p`` and the kept ones scaled by 1/(1-p) (training mode only).

    Example::

        drop = nn.Dropout2d(0.1)
        y = drop(deepgrad.randn(8, 16, 12, 12))
    """

    def forward(self, x: Tensor) -> Tensor:
        return dropout2d(x, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Channel-wise dropout of (N, C, D, H, W) or (C, D, H, W) inputs."""

    def forward(self, x: Tensor) -> Tensor:
        return dropout3d(x, self.p, self.training, self.inplace)
