"""Gradient clipping (``clip_grad_norm_``, ``clip_grad_value_``) and the max-norm weight
constraint (``max_norm_``), all in place on raw arrays."""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from types import GeneratorType

from ...backend import ndarray, xp
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "max_norm_"]

TensorOrTensors = Tensor | Iterable[Tensor]


def _as_list(tensors: TensorOrTensors, op: str) -> list[Tensor]:
    if isinstance(tensors, Tensor):
        return [tensors]
    is_generator = isinstance(tensors, GeneratorType)
    tensors = list(tensors)
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensors (e.g. model.parameters()), got {type(t).__name__}")
    if is_generator and not tensors:
        warnings.warn(f"{op}: `parameters` is an empty generator, nothing is clipped", stacklevel=3)
    return tensors


def _vector_norm(a: ndarray, p: float) -> ndarray:
    """The p-norm of all elements of ``a``, in ``a``'s dtype (a 0-d array)."""
    if p == 2:
        flat = a.reshape(-1)
        return xp.sqrt(xp.dot(flat, flat))
    if p == math.inf:
        return xp.abs(a).max(initial=0).astype(a.dtype)
    if p == -math.inf:
        return xp.abs(a).min(initial=math.inf).astype(a.dtype)
    if p == 0:
        return xp.asarray(xp.count_nonzero(a), dtype=a.dtype)
    if p == 1:
        return xp.abs(a).sum()
    return (xp.abs(a) ** p).sum() ** (1.0 / p)


def get_total_norm(tensors: TensorOrTensors, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False) -> Tensor:
    """The p-norm of all ``tensors`` together, as if concatenated into one vector (the norm of their
    norms). ``norm_type`` may be ``inf`` or ``"inf"``. Returns a 0-d tensor.

    Example::

        total = deepgrad.nn.utils.get_total_norm([p.grad for p in model.parameters()])
    """
    arrays = [t._data for t in _as_list(tensors, "get_total_norm")]
    p = float(norm_type)
    if not arrays:
        return Tensor._make(xp.zeros((), dtype=xp.float32))
    norms = xp.stack([_vector_norm(a, p) for a in arrays])
    total = _vector_norm(norms, p)
    if error_if_nonfinite and not xp.isfinite(total):
        raise RuntimeError(
            f"the total norm of order {p} of the gradients is non-finite ({float(total)}), so it cannot "
            f"be clipped; to scale the gradients by it anyway, pass error_if_nonfinite=False")
    return Tensor._make(xp.asarray(total))


def clip_grads_with_norm_(parameters: TensorOrTensors, max_norm: float, total_norm: Tensor | float) -> None:
    """Scale the gradients in place by ``min(max_norm / (total_norm + 1e-6), 1)``, given a total norm
    computed beforehand (``get_total_norm``)."""
    grads = [p.grad for p in _as_list(parameters, "clip_grads_with_norm_") if p.grad is not None]
    if not grads:
        return
    total = total_norm._data if isinstance(total_norm, Tensor) else xp.asarray(total_norm)
    coef = xp.minimum(float(max_norm) / (total + 1e-6), 1.0)
    if coef == 1:
        return
    with xp.errstate(invalid="ignore"):  # an infinite gradient times 0 is nan, as in PyTorch
        for g in grads:
            xp.multiply(g._data, coef, out=g._data, casting="unsafe")
            g._version[0] += 1


def clip_grad_norm_(parameters: TensorOrTensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Rescale all gradients in place so that their global norm is at most ``max_norm``.

    The norm is taken over all gradients together; when it exceeds ``max_norm`` every gradient is
    multiplied by ``max_norm / (total_norm + 1e-6)``, so their directions are kept. Returns the
    total norm before clipping (a 0-d tensor), as ``torch.nn.utils.clip_grad_norm_``.

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` is clipped.
        max_norm: the largest allowed norm.
        norm_type: the p of the p-norm; ``inf`` for the largest absolute value.
        error_if_nonfinite: raise a RuntimeError when the total norm is nan or inf (otherwise the
            gradients are scaled by it anyway, as PyTorch does).

    Example::

        loss.backward()
        deepgrad.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        opt.step()
    """
    params = _as_list(parameters, "clip_grad_norm_")
    total = get_total_norm([p.grad for p in params if p.grad is not None], norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_value_(parameters: TensorOrTensors, clip_value: float) -> None:
    """Clamp every gradient element in place to ``[-clip_value, clip_value]``.

    Example::

        deepgrad.nn.utils.clip_grad_value_(model.parameters(), clip_value=0.5)
    """
    c = float(clip_value)
    for p in _as_list(parameters, "clip_grad_value_"):
        if p.grad is not None:
            g = p.grad._data
            xp.clip(g, -c, c, out=g)
            p.grad._version[0] += 1


def max_norm_(parameters: TensorOrTensors, max_norm: float, dim: int = 0) -> None:
    """Max-norm constraint (Srivastava et al., 2014; Keras ``MaxNorm``), in place: every slice
    ``w.select(dim, i)`` whose L2 norm exceeds ``max_norm`` is scaled by
    ``max_norm / (norm + 1e-7)``, as ``torch.renorm(w, 2, dim, max_norm)``.

    ``dim`` indexes the units, and each slice is one unit's incoming weights: ``dim=0`` (the
    default) constrains each row of a ``Linear`` weight ``(out, in)`` and each filter of a ``Conv2d``
    weight ``(out, in, kh, kw)``. Keras's ``axis`` names the opposite (the reduced dimensions): its
    default ``MaxNorm(axis=0)`` on a ``(in, out)`` Dense kernel is ``max_norm_(weight, c, dim=0)``
    here. Weights need at least 2 dimensions (as for ``torch.renorm``): pass weights, not biases.
    Call it after every ``optimizer.step()``.

    Example::

        opt.step()
        deepgrad.nn.utils.max_norm_([model.fc1.weight, model.fc2.weight], max_norm=3.0)
    """
    if not max_norm >= 0:
        raise ValueError(f"max_norm_: max_norm must be >= 0, got {max_norm!r}")
    for w in _as_list(parameters, "max_norm_"):
        a = w._data
        if a.ndim < 2:
            raise ValueError(f"max_norm_: expected weights with at least 2 dimensions (units x inputs), got "
                             f"shape {tuple(a.shape)}; pass weights only, not biases")
        if not -a.ndim <= dim < a.ndim:
            raise IndexError(f"max_norm_: dim {dim} is out of range for a weight of shape {tuple(a.shape)}")
        axes = tuple(i for i in range(a.ndim) if i != dim % a.ndim)
        norms = xp.sqrt(xp.sum(a * a, axis=axes, keepdims=True))
        over = norms > max_norm
        if over.any():
            a *= xp.where(over, max_norm / (norms + 1e-7), 1)
            w._version[0] += 1
