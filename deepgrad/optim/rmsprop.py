"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""
from __future__ import annotations

from typing import Any

from ..backend import xp
from .optimizer import Optimizer, ParamsT, _check_range, _effective_grad, _lerp_, _new_step, _zeros_like


class RMSprop(Optimizer):
    r"""RMSprop (Hinton, Coursera lecture 6e), exactly as ``torch.optim.RMSprop``.

    For each parameter ``p`` with gradient ``g``, at every step::

        g   <- -g if maximize else g
        g   <- g + weight_decay * p                       (if weight_decay != 0)
        v   <- alpha * v + (1 - alpha) * g * g
        if centered:
            m   <- alpha * m + (1 - alpha) * g            (running mean of the gradient)
            avg <- sqrt(v - m * m) + eps
        else:
            avg <- sqrt(v) + eps
        if momentum > 0:
            b <- momentum * b + g / avg
            p <- p - lr * b
        else:
            p <- p - lr * g / avg

    ``state[p]`` holds ``"step"``, ``"square_avg"`` (v), and ``"grad_avg"`` (m, when centered) and
    ``"momentum_buffer"`` (b, when momentum > 0), all starting at zero.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant of the averages (default 0.99).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty coefficient (default 0).
        momentum: momentum factor (default 0).
        centered: normalise by an estimate of the gradient's variance instead of its raw second
            moment.
        maximize: maximize the objective instead of minimizing it.

    Example::

        opt = deepgrad.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        _check_range("RMSprop", "epsilon value", "eps", group["eps"])
        _check_range("RMSprop", "momentum value", "momentum", group["momentum"])
        _check_range("RMSprop", "weight_decay value", "weight_decay", group["weight_decay"])
        _check_range("RMSprop", "alpha value", "alpha", group["alpha"])

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, alpha, eps, momentum = float(group["lr"]), group["alpha"], group["eps"], group["momentum"]
        for p, data, grad, state in self._params_with_grad(group):
            if not state:
                state["step"] = _new_step()
                state["square_avg"] = _zeros_like(data)
                if momentum > 0:
                    state["momentum_buffer"] = _zeros_like(data)
                if group["centered"]:
                    state["grad_avg"] = _zeros_like(data)
            state["step"]._data += 1
            d = _effective_grad(data, grad, group["weight_decay"], group["maximize"])
            v = state["square_avg"]._data
            avg = xp.multiply(d, 1 - alpha)
            avg *= d
            v *= alpha
            v += avg
            if group["centered"]:
                m = state["grad_avg"]._data
                _lerp_(m, d, 1 - alpha, avg)
                xp.multiply(m, m, out=avg)
                xp.subtract(v, avg, out=avg)
                xp.sqrt(avg, out=avg)
            else:
                xp.sqrt(v, out=avg)
            avg += eps
            xp.divide(d, avg, out=avg)
            if momentum > 0:
                b = state["momentum_buffer"]._data
                b *= momentum
                b += avg
                data -= lr * b
            else:
                avg *= -lr
                data += avg
            p._version[0] += 1
