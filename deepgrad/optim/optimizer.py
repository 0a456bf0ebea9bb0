"""``Optimizer``: the base class of every optimisation algorithm (PyTorch's layout and semantics).

An optimizer holds ``param_groups`` (a list of dicts: ``"params"`` plus that group's settings) and
``state`` (a dict keyed by Parameter, holding each parameter's buffers). ``state_dict()`` uses
PyTorch's layout: state keyed by integer parameter index, groups listing those indices, so a
checkpoint resumes training exactly.

Subclasses implement ``_update_group(group)`` on raw arrays; ``step()`` calls it for every group.
"""
from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from ..autograd.grad_mode import enable_grad, no_grad
from ..backend import ndarray, xp
from ..tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs (``model.named_parameters()``),
            or of dicts, each a parameter group: ``{"params": [...], "lr": 0.1, ...}``; settings
            missing from a group take the optimizer's defaults.
        defaults: the default settings of every group.

    Example::

        opt = deepgrad.optim.SGD([{"params": model.body.parameters()},
                                  {"params": model.head.parameters(), "lr": 1e-2}], lr=1e-3)
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params should be an iterable of Tensors or dicts, "
                            f"got a single Tensor; pass [tensor] or model.parameters()")
        param_groups = list(params)
        if not param_groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own settings (e.g. unfreezing layers while fine-tuning).

        Settings the group does not give take the optimizer's defaults; every setting is validated
        now, so a bad value fails here rather than at the first ``step()``.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: expected a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry, got keys "
                             f"{sorted(param_group)}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{name}: parameters must be given in an ordered collection (a list), not a "
                            f"set, whose order changes between runs")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError(f"{name}: either every parameter has a name or none has; some names are "
                                 f"missing")
            params = [p[1] for p in params]
            group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name} can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (the result of an operation); "
                                 f"optimize the leaf tensors it was computed from")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter group contains the same parameter twice")
        group["params"] = params
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self._validate_group(group)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        if self.param_groups and ("param_names" in group) != ("param_names" in self.param_groups[0]):
            raise ValueError(f"{name}: all parameter groups should be given with names or all without")
        self.param_groups.append(group)

    def _validate_group(self, group: dict[str, Any]) -> None:
        """Check a group's settings; each algorithm adds its own checks."""
        if "lr" in group:
            _check_range(type(self).__name__, "learning rate", "lr", group["lr"])

    # ------------------------------------------------------------------ training
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter: to None (default, frees memory) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad._data.fill(0)
                        p.grad._version[0] += 1

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns ``closure()``'s value if given.

        ``closure`` re-evaluates the model and returns the loss (needed by algorithms that look at
        the loss several times per step); it runs with gradients enabled.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                self._update_group(group)
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} must define step(closure) or _update_group(group) to be used")

    def _params_with_grad(self, group: dict[str, Any]):
        """(parameter, its array, its gradient's array, its state) for parameters that have a gradient."""
        state = self.state
        for p in group["params"]:
            if p.grad is not None:
                yield p, p._data, p.grad._data, state[p]

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's layout (references to the buffers, not copies)::

            {"state": {0: {"step": tensor(3.), "exp_avg": ...}, 1: ...},
             "param_groups": [{"lr": 0.001, ..., "params": [0, 1]}, ...]}

        Parameters are numbered in group order, so the dict does not depend on object identity.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)] if isinstance(p, Tensor) else p: s for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state from ``state_dict()`` (copied in; buffers cast to each parameter's dtype).

        The optimizer must have the same group structure as the one that was saved.
        """
        name = type(self).__name__
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter "
                             f"groups, this optimizer has {len(self.param_groups)}")
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} holds {len(s['params'])} "
                                 f"parameters in the state dict, {len(g['params'])} in this optimizer")
        id_map = {}
        for g, s in zip(self.param_groups, saved_groups):
            id_map.update(zip(s["params"], g["params"]))
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                p = id_map[key]
                state[p] = {k: _copy_state_value(p, k, v, key, name) for k, v in value.items()}
            else:
                state[key] = copy.deepcopy(value)
        new_groups = []
        for g, s in zip(self.param_groups, saved_groups):
            s["params"] = g["params"]
            for key, default in self.defaults.items():
                s.setdefault(key, default)
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
            self._validate_group(s)
            new_groups.append(s)
        self.state = state
        self.param_groups = new_groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k not in ("params", "param_names")]
        lines.append(")")
        return "\n".join(lines)


def _copy_state_value(p: Tensor, key: str, value: Any, index: int, opt_name: str) -> Any:
    """A copy of a saved state value for parameter ``p``: buffers take ``p``'s dtype (the step count
    keeps its own) and must have ``p``'s shape."""
    if not isinstance(value, Tensor):
        return copy.deepcopy(value)
    if key == "step":
        return Tensor._make(value._data.copy())
    if value._data.shape != p._data.shape:
        raise ValueError(f"{opt_name}.load_state_dict: state {key!r} of parameter {index} has shape "
                         f"{tuple(value.shape)}, the parameter has shape {tuple(p.shape)}")
    dtype = p._data.dtype if p._data.dtype.kind == "f" else value._data.dtype
    return Tensor._make(value._data.astype(dtype, copy=True))


def _check_range(opt_name: str, what: str, key: str, value: Any, high: float | None = None) -> None:
    """Raise a ValueError unless ``0 <= value`` (and ``value < high`` when ``high`` is given)."""
    try:
        ok = 0.0 <= float(value) and (high is None or float(value) < high)
    except (TypeError, ValueError):
        raise TypeError(f"{opt_name}: {key} must be a number, got {value!r}") from None
    if not ok:
        bound = f"in [0, {high:g})" if high is not None else ">= 0"
        raise ValueError(f"{opt_name}: invalid {what}: {key}={value!r}; expected a value {bound}")


def _new_step() -> Tensor:
    """The per-parameter step counter: a float32 scalar tensor, as PyTorch stores it."""
    return Tensor._make(xp.zeros((), dtype=xp.float32))


def _zeros_like(a: ndarray) -> Tensor:
    return Tensor._make(xp.zeros_like(a))


def _effective_grad(param: ndarray, grad: ndarray, weight_decay: float, maximize: bool) -> ndarray:
    """The gradient an update uses: ``(-grad if maximize else grad) + weight_decay * param``.

    A new array when it differs from ``grad``; otherwise ``grad`` itself, which callers only read.
    """
    if weight_decay != 0:
        d = xp.multiply(param, weight_decay)
        if maximize:
            d -= grad
        else:
            d += grad
        return d
    if maximize:
        return xp.negative(grad)
    return grad


def _lerp_(a: ndarray, end: ndarray, weight: float, scratch: ndarray) -> None:
    """``a += weight * (end - a)`` in place, in PyTorch's lerp form (exact at weight 0 and 1)."""
    xp.subtract(end, a, out=scratch)
    if weight < 0.5:
        scratch *= weight
        a += scratch
    else:
        scratch *= 1 - weight
        xp.subtract(end, scratch, out=a)
