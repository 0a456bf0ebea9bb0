"""Loss functions: mean squared and absolute error, cross-entropy and negative log-likelihood,
binary cross-entropy (on probabilities and on logits), smooth L1 and Huber, the multiclass SVM loss,
hinge losses, KL divergence, and cosine similarity."""
from __future__ import annotations

import warnings

from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor
from . import elementwise as ew
from . import reduce as red
from . import nn as fused
from .index import gather

__all__ = ["mse_loss", "l1_loss", "nll_loss", "cross_entropy", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "smooth_l1_loss", "huber_loss", "multi_margin_loss",
           "hinge_embedding_loss", "hinge_loss", "kl_div", "cosine_similarity"]


_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


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
    logp = fused.log_softmax(input, class_dim)
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


class Huber(Function):
    """scale * (0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)); the gradient is
    scale * clip(d, -delta, delta), continuous at the switch."""

    def forward(self, d, delta, scale):
        self.d, self.delta, self.scale = d, delta, scale
        ad = xp.abs(d)
        out = xp.where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta))
        return out * scale if scale != 1 else out

    def backward(self, g):
        return g * (self.scale * xp.clip(self.d, -self.delta, self.delta)), None, None


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, with d = input - target
    (the L1 loss when beta is 0).

    Example::

        loss = F.smooth_l1_loss(pred, target, beta=0.5)
    """
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    _pointwise_shapes(input, target, "smooth_l1_loss")
    return _apply_reduction(Huber.apply(ew.sub(input, target), beta, 1 / beta), reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta), with d = input - target
    (``delta`` times the smooth L1 loss with beta = delta)."""
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    _pointwise_shapes(input, target, "huber_loss")
    return _apply_reduction(Huber.apply(ew.sub(input, target), delta, 1), reduction)


def _class_indices(input: Tensor, target: Tensor, op: str):
    """(N, C) scores and (N,) int64 class indices, from (N, C)/(N,) or (C,)/() arguments."""
    if input.ndim not in (1, 2):
        raise ValueError(f"{op}: expected input of shape (N, C) or (C,), got {tuple(input.shape)}")
    expected = tuple(input.shape[:1]) if input.ndim == 2 else ()
    if not isinstance(target, Tensor) or target._data.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected class-index targets of an integer dtype, got "
                        f"{target.dtype if isinstance(target, Tensor) else type(target).__name__}")
    if tuple(target.shape) != expected:
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} expects a target of shape "
                         f"{expected}, got {tuple(target.shape)}")
    c = input.shape[-1]
    t = target._data.reshape(-1).astype(xp.int64, copy=False)
    bad = (t < 0) | (t >= c)
    if bad.any():
        raise IndexError(f"{op}: target {int(t[bad][0])} is out of bounds for {c} classes")
    return input.reshape(-1, c), t


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, reduction: str = "mean") -> Tensor:
    """The multiclass SVM (hinge) loss of scores ``input`` (N, C) at class indices ``target`` (N,):
    ``sum_{i != y} w[y] * max(0, margin - x[y] + x[i]) ** p / C`` per sample, p in {1, 2}.

    Example::

        loss = F.multi_margin_loss(scores, labels, margin=1.0)
    """
    _check_reduction(reduction, "multi_margin_loss")
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: only p == 1 and p == 2 are supported, got p={p}")
    one = input.ndim == 1
    x, t = _class_indices(input, target, "multi_margin_loss")
    n, c = x.shape
    z = ew.relu(ew.add(ew.sub(margin, gather(x, 1, Tensor._make(t[:, None]))), x))
    if p == 2:
        z = ew.mul(z, z)
    others = xp.ones((n, c), dtype=x._data.dtype)
    others[xp.arange(n), t] = 0  # the true class is not a margin violation
    if weight is not None:
        if tuple(weight.shape) != (c,):
            raise ValueError(f"multi_margin_loss: weight must have shape ({c},), got {tuple(weight.shape)}")
        others *= weight._data.astype(others.dtype, copy=False)[t, None]
    losses = ew.div(red.sum(ew.mul(z, others), 1), c)
    if one and reduction == "none":
        return losses.reshape(())
    return _apply_reduction(losses, reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         reduction: str = "mean") -> Tensor:
    """``x`` where the target is 1, ``max(0, margin - x)`` where it is -1 (targets are +-1;
    typically ``input`` is a distance between two embeddings)."""
    _check_reduction(reduction, "hinge_embedding_loss")
    y = target._data if isinstance(target, Tensor) else xp.asarray(target)
    below_margin = ew.where(y != 1, ew.clamp(ew.sub(margin, input), min=0), 0.0)
    return _apply_reduction(ew.add(below_margin, ew.where(y != -1, input, 0.0)), reduction)


def _pm_one_labels(scores: Tensor, y: Tensor, op: str):
    if tuple(y.shape) != tuple(scores.shape):
        raise ValueError(f"{op}: labels of shape {tuple(y.shape)} must have the scores' shape "
                         f"{tuple(scores.shape)}")
    if not xp.isin(y._data, (-1, 1)).all():
        raise ValueError(f"{op}: labels must be -1 or +1, got values {xp.unique(y._data).tolist()} "
                         f"(convert 0/1 labels with 2 * y - 1)")
    return y._data.astype(scores._data.dtype, copy=False)


def hinge_loss(scores: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
    """The binary hinge loss ``max(0, 1 - y * s)`` of real-valued scores ``s`` against labels
    ``y`` in {-1, +1} (a linear SVM's loss), reduced by ``reduction``.

    Example::

        loss = F.hinge_loss(model(x).squeeze(1), y)   # y holds -1 or +1
    """
    _check_reduction(reduction, "hinge_loss")
    labels = _pm_one_labels(scores, y, "hinge_loss")
    return _apply_reduction(ew.relu(ew.sub(1.0, ew.Mul.apply(scores, labels))), reduction)


_KL_REDUCTIONS = ("mean", "batchmean", "sum", "none")


def kl_div(input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL(target || model) pointwise, for log-probabilities ``input``:
    ``target * (log(target) - input)`` (0 where target is 0), or with ``log_target``
    ``exp(target) * (target - input)``. ``reduction='batchmean'`` divides the sum by the batch size
    (the true KL divergence per sample); ``'mean'`` divides by the number of elements.

    Example::

        loss = F.kl_div(F.log_softmax(logits, 1), probs, reduction="batchmean")
    """
    if reduction not in _KL_REDUCTIONS:
        raise ValueError(f"kl_div: reduction must be one of {_KL_REDUCTIONS}, got {reduction!r}")
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the total loss by both the batch size and the "
                      "support size; 'batchmean' divides only by the batch size and matches the math "
                      "definition of the KL divergence", stacklevel=2)
    if log_target:
        losses = ew.mul(ew.exp(target), ew.sub(target, input))
    else:
        positive = target._data > 0
        safe = ew.where(positive, target, 1.0)  # log(0) never enters the graph: 0 * log 0 is 0
        losses = ew.sub(ew.mul(target, ew.log(safe)), ew.mul(target, input))
    if reduction == "batchmean":
        total = red.sum(losses)
        return ew.div(total, input.shape[0]) if input.ndim else total
    return _apply_reduction(losses, reduction)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 * x2) / (||x1|| ||x2||) along ``dim`` (broadcasting x1 and x2), each norm clamped
    below at ``eps``.

    Example::

        sim = F.cosine_similarity(a, b, dim=-1)   # in [-1, 1]
    """
    def unit(x):
        return ew.div(x, ew.clamp(red.norm(x, 2, dim, keepdim=True), min=eps))
    return red.sum(ew.mul(unit(x1), unit(x2)), dim)
