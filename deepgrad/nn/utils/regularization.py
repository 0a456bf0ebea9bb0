"""Weight penalties to add to a loss: ``l1_penalty`` (sum of |w|) and ``l2_penalty`` (sum of w^2)."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from ... import creation
from ...ops import elementwise as ew
from ...ops import reduce
from ...tensor import Tensor

__all__ = ["l1_penalty", "l2_penalty"]


def _penalty(parameters: Tensor | Iterable[Tensor], term: Callable[[Tensor], Tensor], op: str) -> Tensor:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: expected Tensors (e.g. model.parameters()), got {type(p).__name__}")
    if not params:
        return creation.zeros(())
    terms = [reduce.sum(term(p)) for p in params]
    return sum(terms[1:], terms[0])


def l1_penalty(parameters: Tensor | Iterable[Tensor]) -> Tensor:
    """The sum of absolute values of all ``parameters``: a differentiable 0-d tensor (L1
    regularisation, which drives weights to exactly zero). Its gradient is ``sign(w)``.

    Example::

        loss = F.cross_entropy(model(x), y) + 1e-4 * deepgrad.nn.utils.l1_penalty(model.parameters())
    """
    return _penalty(parameters, ew.abs, "l1_penalty")


def l2_penalty(parameters: Tensor | Iterable[Tensor]) -> Tensor:
    """The sum of squares of all ``parameters``: a differentiable 0-d tensor. Adding
    ``(wd / 2) * l2_penalty(params)`` to the loss is SGD's ``weight_decay=wd``.

    Example::

        loss = F.mse_loss(model(x), y) + 0.5 * 1e-4 * deepgrad.nn.utils.l2_penalty(model.parameters())
    """
    return _penalty(parameters, ew.square, "l2_penalty")
