"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""
from __future__ import annotations

from typing import Any

from ..backend import xp
from .optimizer import Optimizer, ParamsT, _check_range, _effective_grad, _lerp_, _new_step, _zeros_like


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), exactly as ``torch.optim.Adam``.

    For each parameter ``p`` with gradient ``g``, at step ``t = 1, 2, ...``::

        g <- -g if maximize else g
        if weight_decay != 0:
            p <- p * (1 - lr * weight_decay)   if decoupled_weight_decay   (AdamW)
            g <- g + weight_decay * p          otherwise                  (L2 penalty)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g * g
        v_max <- max(v_max, v)                                             (if amsgrad)
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)

    where ``v_hat`` is ``v_max`` with amsgrad, else ``v``. ``state[p]`` holds ``"step"`` (t),
    ``"exp_avg"`` (m), ``"exp_avg_sq"`` (v) and, with amsgrad, ``"max_exp_avg_sq"``, all starting
    at zero.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: decay rates of the first and second moment averages (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay coefficient (default 0).
        amsgrad: use the AMSGrad variant (Reddi et al., 2018).
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: decay the weights directly (AdamW) instead of adding an L2 term to
            the gradient.

    Example::

        opt = deepgrad.optim.Adam(model.parameters(), lr=3e-4)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        super()._validate_group(group)
        _check_range(name, "epsilon value", "eps", group["eps"])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        _check_range(name, "beta parameter at index 0", "betas[0]", betas[0], high=1.0)
        _check_range(name, "beta parameter at index 1", "betas[1]", betas[1], high=1.0)
        _check_range(name, "weight_decay value", "weight_decay", group["weight_decay"])

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, weight_decay = float(group["lr"]), group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        decoupled = group["decoupled_weight_decay"]
        for p, data, grad, state in self._params_with_grad(group):
            if not state:
                state["step"] = _new_step()
                state["exp_avg"] = _zeros_like(data)
                state["exp_avg_sq"] = _zeros_like(data)
                if group["amsgrad"]:
                    state["max_exp_avg_sq"] = _zeros_like(data)
            step = state["step"]._data
            step += 1
            t = float(step)
            if decoupled:
                if weight_decay != 0:
                    data *= 1 - lr * weight_decay
                d = _effective_grad(data, grad, 0, group["maximize"])
            else:
                d = _effective_grad(data, grad, weight_decay, group["maximize"])
            m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
            tmp = xp.empty_like(data)
            _lerp_(m, d, 1 - beta1, tmp)
            xp.multiply(d, 1 - beta2, out=tmp)
            tmp *= d
            v *= beta2
            v += tmp
            if group["amsgrad"]:
                v = state["max_exp_avg_sq"]._data
                xp.maximum(v, state["exp_avg_sq"]._data, out=v)
            # m / (sqrt(v) / c2 + eps) == c2 * m / (sqrt(v) + eps * c2): one pass fewer over the data
            c2 = (1 - beta2 ** t) ** 0.5
            xp.sqrt(v, out=tmp)
            tmp += eps * c2
            xp.divide(m, tmp, out=tmp)
            tmp *= -lr / (1 - beta1 ** t) * c2
            data += tmp
            p._version[0] += 1


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    The update is Adam's with ``p <- p * (1 - lr * weight_decay)`` applied to the weights before the
    moment update, instead of adding ``weight_decay * p`` to the gradient; see :class:`Adam`.
    The default ``weight_decay`` is 1e-2.

    Example::

        opt = deepgrad.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
