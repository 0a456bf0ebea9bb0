"""Normalisation primitives and their functional forms: batch norm and layer norm (fused Functions
with the hand-derived backward), and AlexNet's local response normalisation across channels."""
from __future__ import annotations

from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor

__all__ = ["batch_norm", "layer_norm", "local_response_norm"]


def _centered_grad(gy, xhat, axes):
    """d/dx of a standardisation xhat = (x - mean) * invstd over ``axes``, before the invstd
    factor: the upstream gradient minus its projections onto the constant and xhat directions."""
    return gy - gy.mean(axis=axes, keepdims=True) - xhat * (gy * xhat).mean(axis=axes, keepdims=True)


class BatchNorm(Function):
    """y = (x - mean) * invstd * weight + bias per channel (dim 1) of x (N, C, *).

    With ``batch_stats`` the mean and invstd were computed from this batch, so backward also flows
    through them: dx = weight * invstd * (g - mean(g) - xhat * mean(g * xhat)) over (N, *).
    Otherwise (running statistics) they are constants and dx = g * weight * invstd.
    """

    def forward(self, x, weight, bias, mean, invstd, batch_stats):
        shape = (1, -1) + (1,) * (x.ndim - 2)
        self.axes = (0,) + tuple(range(2, x.ndim))
        self.batch_stats = batch_stats
        self.invstd = invstd.reshape(shape)
        xhat = (x - mean.reshape(shape)) * self.invstd
        self.xhat = xhat
        self.weight = None if weight is None else weight.reshape(shape)
        # a fresh output even without affine: it may be modified in place, xhat is kept for backward
        out = xhat * self.weight if weight is not None else xhat.copy()
        if bias is not None:
            out += bias.reshape(shape)
        return out

    def backward(self, g):
        axes, xhat = self.axes, self.xhat
        gw = (g * xhat).sum(axis=axes) if self.needs_input_grad[1] else None
        gb = g.sum(axis=axes) if self.needs_input_grad[2] else None
        gx = None
        if self.needs_input_grad[0]:
            scale = self.invstd if self.weight is None else self.invstd * self.weight
            gx = scale * (_centered_grad(g, xhat, axes) if self.batch_stats else g)
        return gx, gw, gb, None, None, None


def _check_float(input: Tensor, op: str) -> None:
    if not input.is_floating_point():
        raise TypeError(f"{op}: expected a floating-point input, got {input.dtype}")


def _check_channel_vector(t: Tensor | None, name: str, channels: int, input: Tensor) -> None:
    if t is not None and t.numel() != channels:
        raise RuntimeError(f"batch_norm: {name} should have {channels} elements (one per channel of "
                           f"the input of shape {tuple(input.shape)}), got shape {tuple(t.shape)}")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over dim 1 of ``input`` (N, C, *).

    In training, each channel is standardised with the batch mean and biased variance over (N, *),
    and the running statistics (when given) are updated in place:
    ``running = (1 - momentum) * running + momentum * batch`` using the unbiased variance. In
    evaluation the running statistics are used instead.

    Example::

        y = F.batch_norm(x, rm, rv, weight, bias, training=True, momentum=0.1)
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input with at least 2 dims (N, C, *), got shape "
                         f"{tuple(input.shape)}")
    _check_float(input, "batch_norm")
    c = input.shape[1]
    for t, name in ((running_mean, "running_mean"), (running_var, "running_var"), (weight, "weight"),
                    (bias, "bias")):
        _check_channel_vector(t, name, c, input)
    x = input._data
    count = x.size // c if c else 0
    if training:
        if count == 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got "
                             f"input of shape {tuple(input.shape)}")
        if eps <= 0:
            raise ValueError(f"batch_norm: eps must be positive during training, got {eps}")
        axes = (0,) + tuple(range(2, x.ndim))
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        if running_mean is not None:
            _update_running(running_mean, mean, momentum)
        if running_var is not None:
            _update_running(running_var, var * (count / (count - 1)), momentum)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var must be given in evaluation "
                               "mode (training=False)")
        if eps < 0:
            raise ValueError(f"batch_norm: eps must be non-negative, got {eps}")
        mean = running_mean._data.astype(x.dtype, copy=False).reshape(-1)
        var = running_var._data.astype(x.dtype, copy=False).reshape(-1)
    invstd = 1 / xp.sqrt(var + x.dtype.type(eps))
    return BatchNorm.apply(input, weight, bias, mean, invstd, training)


def _update_running(stat: Tensor, batch_value, momentum: float) -> None:
    """The exponential moving average of a statistic, written into the buffer (no graph)."""
    arr = stat._data
    arr *= 1 - momentum
    arr += (momentum * batch_value).astype(arr.dtype, copy=False).reshape(arr.shape)
    stat._version[0] += 1


class LayerNorm(Function):
    """y = (x - mean) * invstd * weight + bias, statistics over the last ``ndims`` dims."""

    def forward(self, x, weight, bias, ndims, eps):
        self.axes = tuple(range(x.ndim - ndims, x.ndim))
        mean = x.mean(axis=self.axes, keepdims=True)
        xc = x - mean
        self.invstd = 1 / xp.sqrt((xc * xc).mean(axis=self.axes, keepdims=True) + x.dtype.type(eps))
        xc *= self.invstd
        self.xhat, self.weight, self.ndims = xc, weight, ndims
        out = xc * weight if weight is not None else xc.copy()
        if bias is not None:
            out += bias
        return out

    def backward(self, g):
        xhat, weight = self.xhat, self.weight
        feature_shape = xhat.shape[xhat.ndim - self.ndims:]
        gw = gb = gx = None
        if self.needs_input_grad[1]:
            gw = (g * xhat).reshape((-1,) + feature_shape).sum(axis=0)
        if self.needs_input_grad[2]:
            gb = g.reshape((-1,) + feature_shape).sum(axis=0)
        if self.needs_input_grad[0]:
            gx = self.invstd * _centered_grad(g if weight is None else g * weight, xhat, self.axes)
        return gx, gw, gb, None, None


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Layer normalisation: standardise over the trailing dims ``normalized_shape`` (biased
    variance), then scale by ``weight`` and shift by ``bias`` (both of ``normalized_shape``).

    Example::

        y = F.layer_norm(x, (x.shape[-1],), gamma, beta)
    """
    _check_float(input, "layer_norm")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    nd = len(shape)
    if nd == 0 or input.ndim < nd or tuple(input.shape[input.ndim - nd:]) != shape:
        raise RuntimeError(f"layer_norm: given normalized_shape={list(shape)}, expected an input with "
                           f"shape [*, {', '.join(map(str, shape))}], got {tuple(input.shape)}")
    for t, name in ((weight, "weight"), (bias, "bias")):
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(f"layer_norm: expected {name} of shape {shape}, got {tuple(t.shape)}")
    return LayerNorm.apply(input, weight, bias, nd, eps)


def _channel_window_sum(a, before: int, after: int):
    """s[:, c] = sum of a[:, c - before .. c + after] along dim 1, zeros outside the channels."""
    widths = [(0, 0)] * a.ndim
    widths[1] = (before, after)
    padded = xp.pad(a, widths)
    c = a.shape[1]
    out = padded[:, :c].copy()
    for j in range(1, before + after + 1):
        out += padded[:, j:j + c]
    return out


class LocalResponseNorm(Function):
    """y = x / (k + alpha / size * sum of x^2 over a window of ``size`` channels) ** beta."""

    def forward(self, x, size, alpha, beta, k):
        self.size, self.alpha, self.beta = size, alpha, beta
        self.x = x
        self.denom = _channel_window_sum(x * x, size // 2, (size - 1) // 2) * (alpha / size) + k
        self.scale = self.denom ** -beta
        return x * self.scale

    def backward(self, g):
        x, size = self.x, self.size
        # each squared input feeds the denominators of the channels whose window covers it: the
        # transposed window runs the other way
        inner = g * x * self.scale / self.denom
        spread = _channel_window_sum(inner, (size - 1) // 2, size // 2)
        return g * self.scale - (2 * self.beta * self.alpha / size) * x * spread, None, None, None, None


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """Local response normalisation across channels (AlexNet), PyTorch's formula:
    ``b_c = a_c / (k + alpha / size * sum_{c'} a_{c'}^2) ** beta`` with the sum over the ``size``
    channels from ``c - size // 2`` to ``c + (size - 1) // 2`` (zero beyond the edges).

    Example::

        y = F.local_response_norm(x, size=5, alpha=1e-4, beta=0.75, k=2.0)
    """
    if input.ndim < 3:
        raise ValueError(f"local_response_norm: expected an input with 3 or more dims (N, C, *), got "
                         f"shape {tuple(input.shape)}")
    _check_float(input, "local_response_norm")
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"local_response_norm: size must be a positive integer, got {size!r}")
    if input.numel() == 0:
        return input
    return LocalResponseNorm.apply(input, size, alpha, beta, k)

