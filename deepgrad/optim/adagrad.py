"""Adagrad: per-coordinate learning rates from the accumulated squared gradients."""
from __future__ import annotations

from typing import Any

from ..backend import xp
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT, _check_range, _effective_grad, _new_step


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011), exactly as ``torch.optim.Adagrad``.

    For each parameter ``p`` with gradient ``g``, at step ``t = 1, 2, ...``::

        g   <- -g if maximize else g
        g   <- g + weight_decay * p                        (if weight_decay != 0)
        clr <- lr / (1 + (t - 1) * lr_decay)
        s   <- s + g * g                                   (s starts at initial_accumulator_value)
        p   <- p - clr * g / (sqrt(s) + eps)

    ``state[p]`` holds ``"step"`` (t) and ``"sum"`` (s); both exist from construction, as in PyTorch.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay (default 0).
        weight_decay: L2 penalty coefficient (default 0).
        initial_accumulator_value: starting value of the sums of squares (default 0).
        eps: added to the denominator for numerical stability (default 1e-10).
        maximize: maximize the objective instead of minimizing it.

    Example::

        opt = deepgrad.optim.Adagrad(model.parameters(), lr=0.01)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self._init_state(self.state[p], p._data, group)

    @staticmethod
    def _init_state(state: dict[str, Any], data, group: dict[str, Any]) -> None:
        state["step"] = _new_step()
        state["sum"] = Tensor._make(xp.full_like(data, group["initial_accumulator_value"]))

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        for key in ("lr_decay", "weight_decay", "initial_accumulator_value"):
            _check_range("Adagrad", f"{key} value", key, group[key])
        _check_range("Adagrad", "epsilon value", "eps", group["eps"])

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, lr_decay, eps = float(group["lr"]), group["lr_decay"], group["eps"]
        for p, data, grad, state in self._params_with_grad(group):
            if not state:
                self._init_state(state, data, group)
            step = state["step"]._data
            step += 1
            d = _effective_grad(data, grad, group["weight_decay"], group["maximize"])
            clr = lr / (1 + (float(step) - 1) * lr_decay)
            s = state["sum"]._data
            tmp = xp.multiply(d, d)
            s += tmp
            xp.sqrt(s, out=tmp)
            tmp += eps
            xp.divide(d, tmp, out=tmp)
            tmp *= -clr
            data += tmp
            p._version[0] += 1
