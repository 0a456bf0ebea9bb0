"""Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay."""
from __future__ import annotations

from typing import Any

from ..backend import xp
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT, _check_range, _effective_grad


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), exactly as ``torch.optim.SGD``.

    For each parameter ``p`` with gradient ``g``, at every step::

        g <- -g if maximize else g
        g <- g + weight_decay * p                           (if weight_decay != 0)
        if momentum != 0:
            b <- g                                            on the first step
            b <- momentum * b + (1 - dampening) * g           afterwards
            g <- g + momentum * b  if nesterov  else  b
        p <- p - lr * g

    The momentum buffer ``b`` is ``state[p]["momentum_buffer"]``.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening of the momentum (default 0).
        weight_decay: L2 penalty coefficient (default 0).
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening = 0).
        maximize: maximize the objective instead of minimizing it.

    Example::

        opt = deepgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        _check_range("SGD", "momentum value", "momentum", group["momentum"])
        _check_range("SGD", "weight_decay value", "weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: Nesterov momentum requires a momentum > 0 and zero dampening, got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, momentum, dampening = float(group["lr"]), group["momentum"], group["dampening"]
        for p, data, grad, state in self._params_with_grad(group):
            d = _effective_grad(data, grad, group["weight_decay"], group["maximize"])
            if momentum != 0:
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = Tensor._make(xp.array(d, copy=True))
                else:
                    b = buf._data
                    b *= momentum
                    if dampening == 0:
                        b += d
                    else:
                        b += (1 - dampening) * d
                d = d + momentum * buf._data if group["nesterov"] else buf._data
            data -= lr * d
            p._version[0] += 1
