"""Parameter initialisation (``deepgrad.nn.init``) with PyTorch's formulas and gains.

Every initialiser fills its tensor in place without recording a gradient, bumps its version
counter, draws from deepgrad's global generator (or ``generator``) and returns the tensor.

Example::

    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    nn.init.zeros_(conv.bias)
"""
from __future__ import annotations

import math

from ..autograd.grad_mode import no_grad
from ..backend import xp
from ..random import rand_array, randn_array
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_",
           "eye_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "orthogonal_"]

_LINEAR_GAIN = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity: 1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2)
    for relu, sqrt(2 / (1 + slope^2)) for leaky_relu (slope ``param``, default 0.01), 3/4 for selu.

    Example::

        nn.init.calculate_gain("leaky_relu", 0.2)  # 1.3867...
    """
    if nonlinearity in _LINEAR_GAIN:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
                     f"{', '.join(_LINEAR_GAIN + ('tanh', 'relu', 'leaky_relu', 'selu'))}")


def _calculate_fan_in_and_fan_out(t: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight (out, in, *kernel): in * prod(kernel), out * prod(kernel)."""
    if t.ndim < 2:
        raise ValueError(f"fan in and fan out can not be computed for a tensor with fewer than 2 "
                         f"dimensions (shape {tuple(t.shape)})")
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def _fan(t: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    return fan_in if mode == "fan_in" else fan_out


def _write(t: Tensor, arr) -> Tensor:
    with no_grad():
        t.copy_(Tensor._make(arr))
    return t


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill ``t`` with samples of U(a, b)."""
    if a > b:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    return _write(t, rand_array(t.shape, t.dtype, generator) * (b - a) + a)


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill ``t`` with samples of N(mean, std^2)."""
    if std < 0:
        raise ValueError(f"normal_: expected std >= 0, got {std}")
    return _write(t, randn_array(t.shape, t.dtype, generator) * std + mean)


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _truncated_standard_normal(n: int, lo: float, hi: float, generator):
    """``n`` float64 samples of N(0, 1) restricted to [lo, hi], by rejection from a proposal suited
    to the interval (Robert, 1995): the normal itself when it puts enough mass there; otherwise a
    uniform on a narrow interval or a shifted exponential on a far tail, so every case accepts a
    good fraction of its draws and terminates quickly."""
    if hi <= 0:
        return -_truncated_standard_normal(n, -hi, -lo, generator)
    if _norm_cdf(hi) - _norm_cdf(lo) > 0.3:
        def propose(k):
            z = randn_array((k,), xp.float64, generator)
            return z, (z >= lo) & (z <= hi)
    else:
        peak = max(lo, 0.0)  # the point of [lo, hi] nearest the mode (hi > 0 here)
        lam = (lo + math.sqrt(lo * lo + 4)) / 2
        narrow = 2 * math.sqrt(math.e) / (lo + math.sqrt(lo * lo + 4)) * math.exp(
            (lo * lo - lo * math.sqrt(lo * lo + 4)) / 4)
        if lo <= 0 or hi - lo <= narrow:
            def propose(k):
                z = lo + (hi - lo) * rand_array((k,), xp.float64, generator)
                return z, rand_array((k,), xp.float64, generator) <= xp.exp((peak * peak - z * z) / 2)
        else:
            def propose(k):
                z = lo - xp.log1p(-rand_array((k,), xp.float64, generator)) / lam
                keep = rand_array((k,), xp.float64, generator) <= xp.exp(-(z - lam) ** 2 / 2)
                return z, keep & (z <= hi)
    out = xp.empty(n)
    filled = 0
    while filled < n:
        z, ok = propose(n - filled)
        z = z[ok]
        out[filled:filled + z.size] = z
        filled += z.size
    return out


def trunc_normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None) -> Tensor:
    """Fill ``t`` with samples of N(mean, std^2) conditioned on [a, b] (absolute bounds, as in
    PyTorch), exactly for any interval, including ones far from the mean.

    Example::

        nn.init.trunc_normal_(emb.weight, std=0.02, a=-0.04, b=0.04)
    """
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    if std < 0:
        raise ValueError(f"trunc_normal_: expected std >= 0, got {std}")
    if std == 0:
        return constant_(t, min(max(mean, a), b))
    z = _truncated_standard_normal(t.numel(), (a - mean) / std, (b - mean) / std, generator)
    # rounding to a narrower dtype must not step outside [a, b]
    arr = xp.clip((mean + std * z).astype(t._data.dtype), a, b)
    return _write(t, arr.reshape(t.shape))


def constant_(t: Tensor, val: float) -> Tensor:
    """Fill ``t`` with ``val``."""
    with no_grad():
        t.fill_(val)
    return t


def zeros_(t: Tensor) -> Tensor:
    """Fill ``t`` with 0."""
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    """Fill ``t`` with 1."""
    return constant_(t, 1.0)


def eye_(t: Tensor) -> Tensor:
    """Fill the 2-D ``t`` with the identity matrix (ones on the diagonal)."""
    if t.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tuple(t.shape)}")
    return _write(t, xp.eye(*t.shape, dtype=t._data.dtype))


def xavier_uniform_(t: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a, generator)


def xavier_normal_(t: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator=None) -> Tensor:
    """U(-bound, bound) with bound = gain * sqrt(3 / fan) (He et al., 2015); ``fan`` is fan_in or
    fan_out (``mode``), ``gain = calculate_gain(nonlinearity, a)``. A zero-element tensor is left
    as it is."""
    if 0 in t.shape:
        return t
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(_fan(t, mode))
    return uniform_(t, -bound, bound, generator)


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator=None) -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan) (He et al., 2015); see ``kaiming_uniform_``."""
    if 0 in t.shape:
        return t
    gain = calculate_gain(nonlinearity, a)
    return normal_(t, 0.0, gain / math.sqrt(_fan(t, mode)), generator)


def orthogonal_(t: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """``gain`` times a random (semi-)orthogonal matrix (Saxe et al., 2013), from the QR
    decomposition of a Gaussian matrix with the signs fixed so it is uniformly (Haar) distributed.
    Dimensions after the first are flattened: the rows are orthonormal when rows <= cols, the
    columns otherwise."""
    if t.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got "
                         f"shape {tuple(t.shape)}")
    if t.numel() == 0:
        return t
    rows = t.shape[0]
    cols = t.numel() // rows
    flat = randn_array((max(rows, cols), min(rows, cols)), xp.float64, generator)
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diag(r))
    if rows < cols:
        q = q.T
    return _write(t, (gain * q).reshape(t.shape).astype(t._data.dtype))
