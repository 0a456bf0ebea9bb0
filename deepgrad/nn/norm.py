"""Normalisation layers: BatchNorm1d/2d/3d, LayerNorm and LocalResponseNorm."""
from __future__ import annotations

from .. import backend as B
from .. import creation
from ..ops.norm import batch_norm, layer_norm, local_response_norm
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "LocalResponseNorm"]


class _BatchNorm(Module):
    """Batch normalisation over dim 1 (PyTorch's ``_BatchNorm``): subclasses set the accepted input
    ranks. Parameters ``weight`` (ones) and ``bias`` (zeros) when ``affine``; buffers
    ``running_mean`` (zeros), ``running_var`` (ones) and the int64 ``num_batches_tracked`` when
    ``track_running_stats``.

    Training normalises with the batch statistics and updates the running ones:
    ``running = (1 - momentum) * running + momentum * batch`` (unbiased variance), or with
    ``momentum=None`` their cumulative average over all batches seen. Evaluation normalises with
    the running statistics (or the batch's, when they are not tracked).
    """

    _ranks: tuple = ()
    _shape_desc = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None, dtype=None, *,
                 bias: bool = True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(creation.empty(num_features, dtype=dtype))
            self.bias = Parameter(creation.empty(num_features, dtype=dtype)) if bias else None
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", creation.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", creation.tensor(0, dtype=B.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0
            for t in (self.running_mean, self.running_var, self.num_batches_tracked):
                t._version[0] += 1

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input(self, x: Tensor) -> None:
        name = type(self).__name__
        if x.ndim not in self._ranks:
            raise ValueError(f"{name}: expected {self._shape_desc} input, got a {x.ndim}D input of shape "
                             f"{tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected {self.num_features} channels (num_features) in dim 1, "
                             f"got {x.shape[1]} in an input of shape {tuple(x.shape)}")

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            self.num_batches_tracked._version[0] += 1
            if self.momentum is None:
                factor = 1.0 / int(self.num_batches_tracked._data)
        use_batch_stats = self.training or self.running_mean is None
        keep_stats = not self.training or self.track_running_stats
        return batch_norm(x, self.running_mean if keep_stats else None,
                          self.running_var if keep_stats else None, self.weight, self.bias,
                          use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per channel C.

    Example::

        bn = nn.BatchNorm1d(64)
        y = bn(deepgrad.randn(32, 64))
    """

    _ranks = (2, 3)
    _shape_desc = "a 2D (N, C) or 3D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, per channel C (statistics over N, H, W).

    Example::

        bn = nn.BatchNorm2d(16)
        y = bn(deepgrad.randn(8, 16, 28, 28))
    """

    _ranks = (4,)
    _shape_desc = "a 4D (N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) inputs, per channel C."""

    _ranks = (5,)
    _shape_desc = "a 5D (N, C, D, H, W)"


class LayerNorm(Module):
    """Layer normalisation over the trailing dims ``normalized_shape`` of each sample, with an
    elementwise ``weight`` (ones) and ``bias`` (zeros) of that shape when ``elementwise_affine``.

    Example::

        ln = nn.LayerNorm(512)
        y = ln(deepgrad.randn(4, 10, 512))
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(creation.empty(*self.normalized_shape, dtype=dtype))
            self.bias = Parameter(creation.empty(*self.normalized_shape, dtype=dtype)) if bias else None
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class LocalResponseNorm(Module):
    """Local response normalisation across channels (AlexNet):
    ``b_c = a_c / (k + alpha / size * sum of a^2 over ``size`` neighbouring channels) ** beta``.

    Example::

        lrn = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: Tensor) -> Tensor:
        return local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
