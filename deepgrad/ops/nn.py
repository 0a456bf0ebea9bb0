"""Fused primitives for numerical stability and speed: softmax, log-softmax, negative log-likelihood,
binary cross-entropy (probabilities and logits), padding and dropout masks."""
from __future__ import annotations

import warnings

from .. import backend as B
from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor
from . import elementwise as ew
from ._util import norm_dim


class Softmax(Function):
    saves_inputs = False
    saves_output = True

    def forward(self, a, axis):
        self.axis = axis
        e = xp.exp(a - a.max(axis=axis, keepdims=True)) if a.size else a.copy()
        e /= e.sum(axis=axis, keepdims=True)
        self.out = e
        return e

    def backward(self, g):
        y = self.out
        return y * (g - (g * y).sum(axis=self.axis, keepdims=True)), None


class LogSoftmax(Function):
    saves_inputs = False
    saves_output = True

    def forward(self, a, axis):
        self.axis = axis
        if a.size == 0:
            self.out = a.copy()
            return self.out
        shifted = a - a.max(axis=axis, keepdims=True)
        shifted -= xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        self.out = shifted
        return shifted

    def backward(self, g):
        return g - xp.exp(self.out) * g.sum(axis=self.axis, keepdims=True), None


class NLLLoss(Function):
    """-logp[target] with class weights and an ignored index; logp of shape (N, C, d1, ...)."""

    saves_inputs = False

    def forward(self, logp, target, weight, ignore_index, reduction):
        self.shape, self.reduction = logp.shape, reduction
        moved = xp.moveaxis(logp, 1, -1)  # (N, d1, ..., C)
        valid = target != ignore_index
        safe = xp.where(valid, target, 0)
        w = (weight[safe] if weight is not None else xp.ones(target.shape, logp.dtype)) * valid
        w = w.astype(logp.dtype, copy=False)
        picked = xp.take_along_axis(moved, safe[..., None], axis=-1)[..., 0]
        losses = -w * picked
        self.safe, self.w, self.valid = safe, w, valid
        if reduction == "none":
            return losses
        if reduction == "sum":
            return losses.sum()
        self.denom = w.sum()
        with xp.errstate(invalid="ignore", divide="ignore"):
            return losses.sum() / self.denom

    def backward(self, g):
        if self.reduction == "none":
            scale = -self.w * g
        elif self.reduction == "sum":
            scale = -self.w * g
        else:
            with xp.errstate(invalid="ignore", divide="ignore"):
                scale = -self.w * (g / self.denom)
            if self.denom == 0:  # every target ignored: the loss is nan, ignored entries get no gradient
                scale = xp.where(self.valid, scale, 0).astype(scale.dtype, copy=False)
        grad = xp.zeros(self.shape[:1] + self.shape[2:] + self.shape[1:2], dtype=scale.dtype)
        xp.put_along_axis(grad, self.safe[..., None], scale[..., None], axis=-1)
        return xp.moveaxis(grad, -1, 1), None, None, None, None


def _reduce(losses, weight, reduction):
    if weight is not None:
        losses = losses * weight
    if reduction == "mean":
        return losses.mean() if losses.size else xp.asarray(xp.nan, losses.dtype)
    if reduction == "sum":
        return losses.sum()
    return losses


class BinaryCrossEntropy(Function):
    """-(y log p + (1 - y) log(1 - p)), each log clamped at -100 as in PyTorch."""

    def forward(self, p, y, weight, reduction):
        self.p, self.y, self.weight, self.reduction = p, y, weight, reduction
        with xp.errstate(divide="ignore"):
            logp = xp.maximum(xp.log(p), -100)
            log1mp = xp.maximum(xp.log1p(-p), -100)
        self.logp, self.log1mp = logp, log1mp
        return _reduce(-(y * logp + (1 - y) * log1mp), weight, reduction)

    def backward(self, g):
        p, y = self.p, self.y
        g = _expand_reduced(g, p, self.reduction)
        if self.weight is not None:
            g = g * self.weight
        gp = gy = None
        if self.needs_input_grad[0]:
            gp = g * (p - y) / xp.maximum((1 - p) * p, 1e-12)
        if self.needs_input_grad[1]:
            gy = g * (self.log1mp - self.logp)
        return gp, gy, None, None


class BCEWithLogits(Function):
    """(1 - y) x + (1 + (pw - 1) y) softplus(-x), computed without overflow."""

    def forward(self, x, y, weight, pos_weight, reduction):
        self.x, self.y, self.weight, self.pw, self.reduction = x, y, weight, pos_weight, reduction
        sp = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))  # softplus(-x)
        self.sp = sp
        coef = 1 + (pos_weight - 1) * y if pos_weight is not None else 1
        return _reduce((1 - y) * x + coef * sp, weight, reduction)

    def backward(self, g):
        x, y = self.x, self.y
        g = _expand_reduced(g, x, self.reduction)
        if self.weight is not None:
            g = g * self.weight
        e = xp.exp(-xp.abs(x))
        sig_neg = xp.where(x >= 0, e / (1 + e), 1 / (1 + e))  # sigmoid(-x)
        coef = 1 + (self.pw - 1) * y if self.pw is not None else 1
        gx = g * ((1 - y) - coef * sig_neg) if self.needs_input_grad[0] else None
        gy = None
        if self.needs_input_grad[1]:
            gy = g * (-x + (self.pw - 1) * self.sp if self.pw is not None else -x)
        return gx, gy, None, None, None


def _expand_reduced(g, like, reduction):
    if reduction == "mean":
        return xp.broadcast_to(g / max(like.size, 1), like.shape)
    if reduction == "sum":
        return xp.broadcast_to(g, like.shape)
    return g


class ConstantPad(Function):
    """Pad with a constant (positive widths) and crop (negative widths)."""

    saves_inputs = False

    def forward(self, a, widths, value):
        self.shape = a.shape
        crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(widths, a.shape))
        grow = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        self.crop = crop
        cropped = a[crop]
        self.inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(grow, cropped.shape))
        return xp.pad(cropped, grow, mode="constant", constant_values=value)

    def backward(self, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        out[self.crop] = g[self.inner]
        return out, None, None


# ---------------------------------------------------------------------------- functional forms
def _float(x: Tensor) -> Tensor:
    return x if x._data.dtype.kind == "f" else ew.cast(x, B.get_default_dtype())


def _softmax_dim(x: Tensor, dim, op: str) -> int:
    if dim is None:  # PyTorch's legacy implicit choice
        dim = 0 if x.ndim in (0, 1, 3) else 1
        warnings.warn(f"{op}: implicit dimension choice is deprecated; pass dim=", stacklevel=3)
    return norm_dim(dim, x.ndim, op)


def softmax(x: Tensor, dim=None, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, shifted by the max so logits of +-1e4 stay finite."""
    x = _float(x if dtype is None else ew.cast(x, dtype))
    return Softmax.apply(x, _softmax_dim(x, dim, "softmax"))


def log_softmax(x: Tensor, dim=None, dtype=None) -> Tensor:
    """x - logsumexp(x) along ``dim``, computed stably."""
    x = _float(x if dtype is None else ew.cast(x, dtype))
    return LogSoftmax.apply(x, _softmax_dim(x, dim, "log_softmax"))


def pad(x: Tensor, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad the last dims: ``pad = (left, right, top, bottom, ...)`` starting from the last dim.
    ``mode`` is 'constant' (with ``value``; negative widths crop), 'reflect', 'replicate' or
    'circular', as in PyTorch."""
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: expected an even number of widths for at most {x.ndim} dims, got {pad}")
    if mode in ("reflect", "replicate", "circular"):
        from .conv import mode_pad
        if min(pad, default=0) < 0:
            raise ValueError(f"pad: {mode} padding needs non-negative widths, got {pad}")
        return mode_pad(x, tuple((pad[2 * i], pad[2 * i + 1]) for i in reversed(range(len(pad) // 2))),
                        mode, "pad")
    if mode != "constant":
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    for (lo, hi), n in zip(widths, x.shape):
        if n + lo + hi < 0:
            raise ValueError(f"pad: widths {pad} crop more than the input shape {tuple(x.shape)}")
    return ConstantPad.apply(x, tuple(widths), value)
