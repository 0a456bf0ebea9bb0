"""Stateless neural-network functions (``import deepgrad.nn.functional as F``)."""
from __future__ import annotations

import warnings

from .. import backend as B
from ..backend import xp
from ..ops import elementwise as ew
from ..ops import nn as fused
from ..ops import reduce as red
from ..ops._util import norm_dim
from ..ops.linalg import linear  # noqa: F401  (re-exported)
from ..random import rand_array
from ..tensor import Tensor

relu = ew.relu
sigmoid = ew.sigmoid
tanh = ew.tanh
leaky_relu = ew.leaky_relu
elu = ew.elu
gelu = ew.gelu
softplus = ew.softplus

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


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
    return fused.Softmax.apply(x, _softmax_dim(x, dim, "softmax"))


def log_softmax(x: Tensor, dim=None, dtype=None) -> Tensor:
    """x - logsumexp(x) along ``dim``, computed stably."""
    x = _float(x if dtype is None else ew.cast(x, dtype))
    return fused.LogSoftmax.apply(x, _softmax_dim(x, dim, "log_softmax"))


def dropout(x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by 1/(1-p),
    so nothing changes at evaluation time (``training=False`` returns ``x``)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return ew.mul(x, 0.0)
    keep = rand_array(x.shape, x.dtype if x.is_floating_point() else None) >= p
    mask = keep.astype(x._data.dtype) * x._data.dtype.type(1 / (1 - p))
    return ew.Mul.apply(x, mask)


def pad(x: Tensor, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad the last dims: ``pad = (left, right, top, bottom, ...)`` starting from the last dim;
    negative widths crop."""
    if mode != "constant":
        raise ValueError(f"pad: mode {mode!r} is not supported (deepgrad pads with a constant)")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: expected an even number of widths for at most {x.ndim} dims, got {pad}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    for (lo, hi), n in zip(widths, x.shape):
        if n + lo + hi < 0:
            raise ValueError(f"pad: widths {pad} crop more than the input shape {tuple(x.shape)}")
    return fused.ConstantPad.apply(x, tuple(widths), value)


# ---------------------------------------------------------------------------- losses
def _pointwise_shapes(input: Tensor, target: Tensor, op: str) -> None:
    if input.shape != target.shape:
        warnings.warn(f"{op}: using a target size {tuple(target.shape)} that is different to the input "
                      f"size {tuple(input.shape)}; broadcasting may give a wrong result", stacklevel=3)


def _apply_reduction(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return red.mean(loss)
    if reduction == "sum":
        return red.sum(loss)
    return loss


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error (L2 loss)."""
    _check_reduction(reduction, "mse_loss")
    _pointwise_shapes(input, target, "mse_loss")
    d = ew.sub(input, target)
    return _apply_reduction(ew.mul(d, d), reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error (L1 loss)."""
    _check_reduction(reduction, "l1_loss")
    _pointwise_shapes(input, target, "l1_loss")
    return _apply_reduction(ew.abs(ew.sub(input, target)), reduction)


def _class_target(input: Tensor, target: Tensor, op: str):
    if input.ndim < 1:
        raise ValueError(f"{op}: input must have a class dimension, got a 0-d tensor")
    if target._data.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected class-index targets of dtype int64, got {target.dtype}")
    one = input.ndim == 1
    expected = (input.shape[0],) + tuple(input.shape[2:]) if not one else ()
    if tuple(target.shape) != expected:
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} expects a target of shape "
                         f"{expected}, got {tuple(target.shape)}")
    return one


def _check_classes(t, n_classes: int, ignore_index: int, op: str) -> None:
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise IndexError(f"{op}: target {int(t[bad][0])} is out of bounds for {n_classes} classes "
                         f"(valid: 0..{n_classes - 1}, or ignore_index={ignore_index})")


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (N, C, ...) at class indices
    ``target`` (N, ...). With ``weight``, the mean divides by the summed weights of the targets."""
    _check_reduction(reduction, "nll_loss")
    one = _class_target(input, target, "nll_loss")
    if one:
        input, target = input.reshape(1, -1), target.reshape(1)
    n_classes = input.shape[1]
    t = target._data.astype(xp.int64, copy=False)
    _check_classes(t, n_classes, ignore_index, "nll_loss")
    w = None
    if weight is not None:
        if tuple(weight.shape) != (n_classes,):
            raise ValueError(f"nll_loss: weight must have shape ({n_classes},), got {tuple(weight.shape)}")
        w = weight._data.astype(input._data.dtype, copy=False)
    out = fused.NLLLoss.apply(input, t, w, ignore_index, reduction)
    return out.reshape(()) if one and reduction == "none" else out


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits ``input`` (N, C, ...) against class indices (N, ...) or class
    probabilities (same shape as input), with class weights, ignore_index and label smoothing,
    exactly as PyTorch defines them."""
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    logp = log_softmax(input, class_dim)
    n_classes = input.shape[class_dim]
    if target.is_floating_point():
        return _soft_cross_entropy(logp, target, weight, reduction, label_smoothing, class_dim)
    nll = nll_loss(logp, target, weight, ignore_index, reduction)
    if label_smoothing == 0.0:
        return nll
    shape = [1] * input.ndim
    shape[class_dim] = n_classes
    weighted = logp if weight is None else ew.mul(logp, weight.reshape(shape))
    smooth = ew.neg(red.sum(weighted, class_dim))
    ignored = target._data == ignore_index
    smooth = ew.where(Tensor._make(ignored), 0.0, smooth)
    if reduction == "mean":
        t = target._data[~ignored]
        denom = float(weight._data[t].sum()) if weight is not None else float((~ignored).sum())
        smooth = ew.div(red.sum(smooth), denom)
    elif reduction == "sum":
        smooth = red.sum(smooth)
    return ew.add(ew.mul(nll, 1 - label_smoothing), ew.mul(smooth, label_smoothing / n_classes))


def _soft_cross_entropy(logp, target, weight, reduction, label_smoothing, class_dim):
    if target.shape != logp.shape:
        raise ValueError(f"cross_entropy: probability targets must have the input's shape "
                         f"{tuple(logp.shape)}, got {tuple(target.shape)}")
    n_classes = logp.shape[class_dim]
    if label_smoothing:
        target = ew.add(ew.mul(target, 1 - label_smoothing), label_smoothing / n_classes)
    prod = ew.mul(logp, target)
    if weight is not None:
        shape = [1] * logp.ndim
        shape[class_dim] = n_classes
        prod = ew.mul(prod, weight.reshape(shape))
    losses = ew.neg(red.sum(prod, class_dim))
    if reduction == "mean":
        n = losses.numel()
        return ew.div(red.sum(losses), n) if n else red.mean(losses)
    return red.sum(losses) if reduction == "sum" else losses


def _bce_args(input: Tensor, target: Tensor, weight, op: str):
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{op}: target size {tuple(target.shape)} must be the same as input size "
                         f"{tuple(input.shape)}")
    if not target.is_floating_point():
        target = ew.cast(target, input.dtype)
    w = None
    if weight is not None:
        w = xp.broadcast_to(weight._data.astype(input._data.dtype, copy=False), input.shape)
    return target, w


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """-(y log p + (1 - y) log(1 - p)) for probabilities ``input``; logs are clamped at -100."""
    _check_reduction(reduction, "binary_cross_entropy")
    target, w = _bce_args(input, target, weight, "binary_cross_entropy")
    p = input._data
    if p.size and ((p < 0) | (p > 1)).any():
        raise RuntimeError("binary_cross_entropy: all input values must be between 0 and 1 "
                           "(apply sigmoid first, or use binary_cross_entropy_with_logits)")
    return fused.BinaryCrossEntropy.apply(input, target, w, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid and binary cross-entropy in one stable step (no overflow at large logits)."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    target, w = _bce_args(input, target, weight, "binary_cross_entropy_with_logits")
    pw = pos_weight._data.astype(input._data.dtype, copy=False) if pos_weight is not None else None
    return fused.BCEWithLogits.apply(input, target, w, pw, reduction)


# the remaining families live beside their primitives in deepgrad.ops
from ..ops.conv import *  # noqa: E402,F401,F403
from ..ops.pool import *  # noqa: E402,F401,F403
from ..ops.norm import *  # noqa: E402,F401,F403
from ..ops.loss import *  # noqa: E402,F401,F403
from ..ops.embedding import *  # noqa: E402,F401,F403
from ..ops.dropout import *  # noqa: E402,F401,F403
from ..ops.recurrent import *  # noqa: E402,F401,F403
