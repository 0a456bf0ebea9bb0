"""Classification metrics on tensors (no gradients): accuracy, the zero-one error, top-k accuracy
and the confusion matrix.

Each accepts either scores (logits or probabilities, the class dim being dim 1, or dim 0 for a
single sample) or predicted class labels of the target's shape.
"""
from __future__ import annotations

from .backend import xp
from .tensor import Tensor

__all__ = ["accuracy", "zero_one_error", "top_k_accuracy", "confusion_matrix"]


def _array(x, name: str, op: str):
    if isinstance(x, Tensor):
        return x._data
    try:
        return xp.asarray(x)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be a tensor, got {type(x).__name__}") from None


def _targets(target, op: str):
    t = _array(target, "target", op)
    if t.dtype.kind not in "iub":
        raise TypeError(f"{op}: target must hold integer class labels, got dtype {t.dtype}")
    if t.size == 0:
        raise ValueError(f"{op}: the target is empty; the metric is undefined")
    return t


def _scores(output, t, op: str):
    """The (N, C, ...) scores of ``output`` (one more dim than the target) as an array."""
    s = _array(output, "output", op)
    if s.ndim != t.ndim + 1 or (s.ndim > 1 and s.shape[:1] + s.shape[2:] != t.shape):
        raise ValueError(f"{op}: expected scores of shape (N, C, ...) for a target of shape "
                         f"{tuple(t.shape)}, got {tuple(s.shape)}")
    return s if s.ndim > 1 else s[None]


def _predictions(output_or_pred, target, op: str):
    """(predicted labels, target labels), both of the target's shape."""
    t = _targets(target, op)
    p = _array(output_or_pred, "output", op)
    if p.shape == t.shape:
        return p, t
    if p.ndim == t.ndim + 1:
        return _scores(p, t, op).argmax(axis=1).reshape(t.shape), t
    raise ValueError(f"{op}: expected predicted labels of the target's shape {tuple(t.shape)} or scores "
                     f"with one more (class) dim, got shape {tuple(p.shape)}")


def accuracy(output_or_pred, target) -> float:
    """The fraction of samples whose predicted class equals the target. ``output_or_pred`` is
    either scores (N, C) (the prediction is their argmax; the first class wins at ties) or
    predicted labels (N,).

    Example::

        acc = metrics.accuracy(model(x), y)   # e.g. 0.93
    """
    p, t = _predictions(output_or_pred, target, "accuracy")
    return float((p == t).mean())


def zero_one_error(output_or_pred, target) -> float:
    """The mean zero-one loss ``1[prediction != target]``, i.e. ``1 - accuracy``."""
    p, t = _predictions(output_or_pred, target, "zero_one_error")
    return float((p != t).mean())


def top_k_accuracy(output, target, k: int = 5) -> float:
    """The fraction of samples whose target is among the ``k`` highest scores of ``output``
    (N, C); among equal scores the lower class index ranks first (so k=1 agrees with ``accuracy``).

    Example::

        top5 = metrics.top_k_accuracy(logits, labels, k=5)
    """
    t = _targets(target, "top_k_accuracy")
    s = _scores(output, t, "top_k_accuracy")
    c = s.shape[1]
    if not 1 <= k <= c:
        raise ValueError(f"top_k_accuracy: k must be between 1 and the number of classes {c}, got {k}")
    order = xp.argsort(-s, axis=1, kind="stable")[:, :k]
    return float((order == t.reshape(order.shape[:1] + (1,) + order.shape[2:])).any(axis=1).mean())


def confusion_matrix(pred, target, num_classes: int | None = None) -> Tensor:
    """An int64 (num_classes, num_classes) tensor whose entry [i, j] counts the samples of true
    class i predicted as class j (rows: targets, columns: predictions, as in scikit-learn).
    ``pred`` holds labels or scores; ``num_classes`` defaults to the largest label + 1.

    Example::

        cm = metrics.confusion_matrix(logits, labels, num_classes=10)
        per_class_recall = cm.diagonal() / cm.sum(1)
    """
    p, t = _predictions(pred, target, "confusion_matrix")
    p, t = p.reshape(-1).astype(xp.int64), t.reshape(-1).astype(xp.int64)
    if num_classes is None:
        num_classes = int(max(p.max(), t.max())) + 1
    for name, v in (("prediction", p), ("target", t)):
        bad = (v < 0) | (v >= num_classes)
        if bad.any():
            raise ValueError(f"confusion_matrix: {name} label {int(v[bad][0])} is out of range for "
                             f"num_classes={num_classes}")
    counts = xp.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return Tensor._make(counts.reshape(num_classes, num_classes).astype(xp.int64))
