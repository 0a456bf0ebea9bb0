"""``Module``: the base of every layer and model.

Parameters, buffers and submodules register themselves on attribute assignment; ``state_dict``
keys are dotted paths identical to PyTorch's, so state dicts move between the two libraries.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Callable, Iterator, NamedTuple

from .. import backend as B
from ..autograd import grad_mode
from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor, device
from .parameter import Buffer, Parameter


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``remove()`` unregisters the hook (also usable
    as a context manager)."""

    _next_id = 0

    def __init__(self, *registries: dict):
        self._registries = registries
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        for registry in self._registries:
            registry.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` found: ``missing_keys`` and ``unexpected_keys``."""

    missing_keys: list
    unexpected_keys: list

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")


class _HookTap(Function):
    """Identity on one tensor input or output of a module that has backward hooks. Its backward
    passes the gradient through ``report`` (whose result replaces it) and gives ``anchor`` (when
    there is one) a zero gradient: the anchor's node then runs after every tap of its group that the
    gradient reached, which is when the group's gradients are all known."""

    saves_inputs = False

    def forward(self, a, anchor, report):
        self.report = report
        return a.copy()  # in-place ops inside the module must not reach the caller's tensor

    def backward(self, g):
        g = self.report(g)
        anchor_grad = xp.zeros((), dtype=g.dtype) if self.needs_input_grad[1] else None
        return g, anchor_grad, None


def _anchor(on_ready: Callable[[], None]) -> Tensor:
    def hook(_grad) -> None:
        on_ready()

    anchor = Tensor._make(xp.zeros(()), requires_grad=True)
    anchor._hooks = [hook]
    return anchor


def _map_tensors(obj, fn):
    """``obj`` (a tensor, or tuples, named tuples, lists and dicts of them) with ``fn`` applied to
    each tensor, in order."""
    if isinstance(obj, Tensor):
        return fn(obj)
    if isinstance(obj, dict):
        return type(obj)((k, _map_tensors(v, fn)) for k, v in obj.items())
    if isinstance(obj, (tuple, list)):
        items = [_map_tensors(o, fn) for o in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
    return obj


class _BackwardHookCall:
    """The full backward hooks of one call of a module: taps its tensor inputs and outputs and
    calls each hook once per backward pass with ``(module, grad_input, grad_output)``.

    ``grad_input`` has one entry per positional argument (None for non-tensors and tensors that do
    not require grad). With one input requiring grad, a hook may return a new ``grad_input`` that
    replaces the gradient flowing on; with several, the gradients have already flowed on by the
    time all of them are known, so a replacement is refused.
    """

    def __init__(self, module: "Module", hooks: list, args: tuple):
        self.module, self.hooks = module, hooks
        self.grad_input = [None] * len(args)
        self.grad_output: list = []
        self.tracked = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a._requires_grad]

    def tap_inputs(self, args: tuple) -> tuple:
        if not self.tracked:
            return args
        anchor = _anchor(self._fire) if len(self.tracked) > 1 else None
        args = list(args)
        for i in self.tracked:
            args[i] = _HookTap.apply(args[i], anchor, self._input_reporter(i))
        return tuple(args)

    def tap_outputs(self, out):
        differentiable = []
        _map_tensors(out, lambda t: differentiable.append(t._requires_grad))
        self.grad_output = [None] * len(differentiable)
        # with no input to wait for, the hooks fire once the output gradients are known: at the
        # one output's tap, or at an anchor behind all of them
        fire_at_output = not self.tracked and sum(differentiable) == 1
        anchor = _anchor(self._fire) if not self.tracked and sum(differentiable) > 1 else None
        index = iter(range(len(differentiable)))

        def tap(t: Tensor) -> Tensor:
            j = next(index)
            if not t._requires_grad:
                return t
            return _HookTap.apply(t, anchor, self._output_reporter(j, fire_at_output))

        return _map_tensors(out, tap)

    def _output_reporter(self, j: int, fire: bool):
        def report(g):
            self.grad_output[j] = Tensor._make(g)
            if fire:
                self._fire()
            return g
        return report

    def _input_reporter(self, i: int):
        def report(g):
            self.grad_input[i] = Tensor._make(g)
            if len(self.tracked) > 1:
                return g
            new = self._fire()[i]
            return None if new is None else new._data.astype(g.dtype, copy=False)
        return report

    def _fire(self) -> tuple:
        grad_input, grad_output = tuple(self.grad_input), tuple(self.grad_output)
        # reset, so a second backward through a retained graph reports afresh
        self.grad_input = [None] * len(grad_input)
        self.grad_output = [None] * len(grad_output)
        name = type(self.module).__name__
        for hook in self.hooks:
            res = hook(self.module, grad_input, grad_output)
            if res is None:
                continue
            res = tuple(res) if isinstance(res, (tuple, list)) else (res,)
            if len(res) != len(grad_input):
                raise RuntimeError(f"backward hook of {name} returned {len(res)} grad_input entries, "
                                   f"expected {len(grad_input)} (one per positional argument)")
            if len(self.tracked) != 1 and any(r is not None for r in res):
                raise RuntimeError(
                    f"backward hook of {name} returned a new grad_input, which is only possible when "
                    f"exactly one input requires grad (this call has {len(self.tracked)}); return None")
            for new, old in zip(res, grad_input):
                if new is not None and old is not None and tuple(new.shape) != tuple(old.shape):
                    raise RuntimeError(f"backward hook of {name} returned a gradient of shape "
                                       f"{tuple(new.shape)} for an input of shape {tuple(old.shape)}")
            grad_input = res
        return grad_input


class Module:
    """Base class for layers and models: subclass it, create parameters and submodules in
    ``__init__``, and compute the output in ``forward``.

    Example::

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)

            def forward(self, x):
                return self.fc(x).relu()
    """

    training: bool

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments {args or ''}"
                            f"{kwargs or ''}; did you forget to pass them to your own __init__?")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = {}
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = {}
        d["_backward_hooks"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required \"forward\" "
                                  f"function")

    # ------------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if d["_forward_hooks"] or d["_forward_pre_hooks"] or d["_backward_hooks"]:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict):
        for hook_id, hook in list(self._forward_pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                res = hook(self, args, kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError(f"forward pre-hook with kwargs must return None or a tuple "
                                           f"(new_args, new_kwargs), got {type(res).__name__}")
                    args, kwargs = res
            else:
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        backward_call = None
        if self._backward_hooks and grad_mode.state.enabled:
            backward_call = _BackwardHookCall(self, list(self._backward_hooks.values()), args)
            args = backward_call.tap_inputs(args)
        out = self.forward(*args, **kwargs)
        for hook_id, hook in list(self._forward_hooks.items()):
            if hook_id in self._forward_hooks_with_kwargs:
                res = hook(self, args, kwargs, out)
            else:
                res = hook(self, args, out)
            if res is not None:
                out = res
        if backward_call is not None:
            out = backward_call.tap_outputs(out)
        return out

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` runs before ``forward``; a returned value replaces ``args``.
        With ``with_kwargs=True`` it is ``hook(module, args, kwargs)`` and may return
        ``(args, kwargs)``. Returns a handle whose ``remove()`` unregisters it."""
        return self._add_hook(self._forward_pre_hooks, self._forward_pre_hooks_with_kwargs, hook,
                              prepend, with_kwargs)

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` runs after ``forward``; a returned value replaces the
        output. With ``with_kwargs=True`` it is ``hook(module, args, kwargs, output)``.

        Example::

            acts = {}
            net[0].register_forward_hook(lambda m, args, out: acts.update(first=out))
        """
        return self._add_hook(self._forward_hooks, self._forward_hooks_with_kwargs, hook, prepend,
                              with_kwargs)

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` runs once the gradients with respect to the
        module's tensor inputs are known (or, when no input requires grad, those with respect to its
        outputs). ``grad_input`` has one entry per positional argument, ``grad_output`` one per
        output tensor; None where there is no gradient. Used for gradient-flow visualisation.

        Example::

            norms = {}
            layer.register_full_backward_hook(
                lambda m, gin, gout: norms.update(layer=gout[0].norm().item()))
        """
        return self._add_hook(self._backward_hooks, None, hook, prepend, False)

    @staticmethod
    def _add_hook(hooks: OrderedDict, with_kwargs_ids: dict | None, hook: Callable, prepend: bool,
                  with_kwargs: bool) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"a hook must be callable, got {type(hook).__name__}")
        handle = RemovableHandle(hooks, *([with_kwargs_ids] if with_kwargs_ids is not None else []))
        hooks[handle.id] = hook
        if with_kwargs:
            with_kwargs_ids[handle.id] = True
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError(f"cannot assign parameter {name!r} before Module.__init__() is "
                                     f"called; call super().__init__() first in "
                                     f"{type(self).__name__}.__init__")
            self._forget(name, d, d["_buffers"], d["_modules"])
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                f"(nn.Parameter or None expected)")
            self.register_parameter(name, None)
        elif isinstance(value, Module):
            if d.get("_modules") is None:
                raise AttributeError(f"cannot assign module {name!r} before Module.__init__() is "
                                     f"called; call super().__init__() first in "
                                     f"{type(self).__name__}.__init__")
            self._forget(name, d, d["_parameters"], d["_buffers"])
            d["_modules"][name] = value
        elif name in d.get("_modules", ()):
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r} "
                                f"(nn.Module or None expected)")
            d["_modules"][name] = None
        elif isinstance(value, Buffer) or name in d.get("_buffers", ()):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} "
                                f"(nn.Buffer, Tensor or None expected)")
            persistent = (value.persistent if isinstance(value, Buffer)
                          else name not in d["_non_persistent_buffers"])
            self.register_buffer(name, value, persistent)
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, *stores: dict) -> None:
        for store in stores:
            store.pop(name, None)
        self.__dict__["_non_persistent_buffers"].discard(name)

    def __getattr__(self, name: str):
        # only called when normal lookup fails: look in the registries
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def _check_new_name(self, kind: str, name: str, store: str) -> None:
        if store not in self.__dict__:
            raise AttributeError(f"cannot register {kind} {name!r} before Module.__init__() is called")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if "." in name or not name:
            raise KeyError(f"{kind} name can't contain '.' or be empty, got {name!r}")
        if hasattr(self, name) and name not in self.__dict__[store]:
            raise KeyError(f"attribute {name!r} already exists in {type(self).__name__}")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add ``param`` (or a None placeholder, e.g. for an absent bias) under ``name``."""
        self._check_new_name("parameter", name, "_parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} object to parameter {name!r} "
                            f"(nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor that belongs to the module's state (saved in state_dict unless not persistent)
        but is not a learnable parameter, e.g. BatchNorm's running mean.

        Example::

            self.register_buffer("running_mean", deepgrad.zeros(num_features))
        """
        self._check_new_name("buffer", name, "_buffers")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__} object to buffer {name!r} "
                            f"(Tensor or None required)")
        if isinstance(tensor, Buffer):
            tensor = tensor.detach()
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (what attribute assignment of a Module does)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_new_name("module", name, "_modules")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> "Module":
        """The submodule at dotted path ``target`` ('' is self), e.g. ``net.get_submodule('0.fc')``."""
        mod = self
        if target:
            for part in target.split("."):
                child = mod._modules.get(part)
                if child is None:
                    raise AttributeError(f"{type(mod).__name__} has no submodule {part!r} "
                                         f"(looking up {target!r})")
                mod = child
        return mod

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target``, e.g. ``'0.weight'``."""
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if name not in mod._parameters:
            raise AttributeError(f"{type(mod).__name__} has no parameter {name!r} (looking up {target!r})")
        return mod._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target``, e.g. ``'bn.running_mean'``."""
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if name not in mod._buffers:
            raise AttributeError(f"{type(mod).__name__} has no buffer {name!r} (looking up {target!r})")
        return mod._buffers[name]

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True):
        """(dotted name, module) for self and every submodule, depth first; a module reachable by
        two paths is yielded once unless ``remove_duplicate=False``."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        """Self and every submodule, each once, depth first."""
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """(name, module) of the direct submodules, each module once."""
        seen = set()
        for name, m in self._modules.items():
            if m is not None and m not in seen:
                seen.add(m)
                yield name, m

    def children(self) -> Iterator["Module"]:
        """The direct submodules, each once."""
        for _, m in self.named_children():
            yield m

    def _named_members(self, store: str, prefix: str, recurse: bool, remove_duplicate: bool):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, v in mod.__dict__[store].items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + name, v

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """(dotted name, parameter) pairs; a parameter shared by two modules is yielded once
        (under its first name)."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter once (shared ones too), in registration order, e.g. for an optimizer."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """(dotted name, buffer) pairs, non-persistent buffers included."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer once, e.g. BatchNorm's running statistics."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ------------------------------------------------------------------ modes and conversions
    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout active, batch norm uses batch statistics) for self and every
        submodule; returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be a boolean, got {type(mode).__name__}")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> "Module":
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Freeze (False) or unfreeze all parameters; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (default) or to zeros."""
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Call ``fn`` on every submodule (children first) and on self, e.g. for initialisation.

        Example::

            net.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
        """
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _convert_floating(self, dt: B.dtype | None) -> "Module":
        """Cast floating parameters, their gradients and buffers to ``dt``. Parameters keep their
        identity (their array is swapped), so optimizers that hold them stay valid."""
        if dt is None:
            return self
        np_dt = dt.np
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None and p._data.dtype.kind == "f" and p._data.dtype != np_dt:
                    p._data = p._data.astype(np_dt)
                    p._version[0] += 1
                    if p.grad is not None:
                        p.grad = Tensor._make(p.grad._data.astype(np_dt))
            for name, b in m._buffers.items():
                if b is not None and b._data.dtype.kind == "f" and b._data.dtype != np_dt:
                    m._buffers[name] = Tensor._make(b._data.astype(np_dt))
        return self

    def to(self, *args, **kwargs) -> "Module":
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(tensor)``: cast floating
        parameters and buffers in place (integer buffers keep their dtype); returns self. Only
        the cpu device exists.

        Example::

            net.to(deepgrad.float64)
        """
        dt = kwargs.pop("dtype", None)
        device(kwargs.pop("device", None) or "cpu")
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"Module.to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dt = a.dtype
            elif isinstance(a, device) or (isinstance(a, str) and a.split(":")[0] not in B._BY_NAME):
                device(a)
            else:
                dt = a
        if dt is not None:
            dt = B.to_dtype(dt)
            if not dt.is_floating_point:
                raise TypeError(f"Module.to only accepts floating point dtypes, got {dt}")
        return self._convert_floating(dt)

    def float(self) -> "Module":
        """Cast floating parameters and buffers to float32 in place; returns self."""
        return self._convert_floating(B.float32)

    def double(self) -> "Module":
        """Cast floating parameters and buffers to float64 in place; returns self."""
        return self._convert_floating(B.float64)

    def half(self) -> "Module":
        """Cast floating parameters and buffers to float16 in place; returns self."""
        return self._convert_floating(B.float16)

    def cpu(self) -> "Module":
        """Returns self: every tensor already lives on the cpu."""
        return self

    def cuda(self, *args, **kwargs) -> "Module":
        """Refused: the NumPy backend has no CUDA device."""
        raise RuntimeError("CUDA is not available: deepgrad runs on the NumPy (cpu) backend")

    # ------------------------------------------------------------------ state
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False) -> "OrderedDict":
        """Parameters and persistent buffers by dotted name, e.g. ``{'fc.weight': ..., 'fc.bias': ...}``
        (the keys PyTorch gives the same architecture). Values are detached tensors sharing memory
        with the module, as in PyTorch; a parameter shared by two modules appears under both names."""
        out = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                out[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def load_state_dict(self, state_dict: Mapping, strict: bool = True,
                        assign: bool = False) -> IncompatibleKeys:
        """Copy values from ``state_dict`` (deepgrad or PyTorch tensors, or NumPy arrays) into this
        module's parameters and buffers, casting to their dtype. Any missing or unexpected key (with
        ``strict``) and any wrong shape raises one error that lists them all; otherwise returns
        ``(missing_keys, unexpected_keys)``. ``assign=True`` adopts the given arrays (and their
        dtype) instead of copying into the existing ones; parameters keep their identity either way.

        Example::

            net.load_state_dict(torch_net.state_dict())
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a dict-like state_dict, got "
                            f"{type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        wrong, arrays = [], {}
        for k, target in own.items():
            if k in state_dict:
                arr = _to_array(state_dict[k], k)
                if arr.shape != target._data.shape:
                    wrong.append(f"size mismatch for {k}: copying a param with shape {tuple(arr.shape)} "
                                 f"from checkpoint, the shape in current model is {tuple(target.shape)}.")
                else:
                    arrays[k] = arr
        errors = []
        if strict and missing:
            errors.append(f"Missing key(s) in state_dict: {', '.join(map(repr, missing))}.")
        if strict and unexpected:
            errors.append(f"Unexpected key(s) in state_dict: {', '.join(map(repr, unexpected))}.")
        errors += wrong
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        with grad_mode.no_grad():
            for k, arr in arrays.items():
                target = own[k]
                if assign:
                    target._data = arr if isinstance(state_dict[k], Tensor) else xp.array(arr)
                else:
                    xp.copyto(target._data, arr, casting="unsafe")
                target._version[0] += 1
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ display
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (e.g. its sizes); override it."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if len(extra_lines) == 1 and not child_lines:
            main += extra_lines[0]
        elif lines:
            main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __getstate__(self):
        return self.__dict__.copy()

    def __setstate__(self, state):
        self.__dict__.update(state)


def _to_array(value, key: str):
    """A state-dict value as an array: deepgrad tensors, NumPy arrays, PyTorch tensors, numbers."""
    if isinstance(value, Tensor):
        return value._data
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch.Tensor
        return xp.asarray(value.detach().cpu().numpy())
    arr = xp.asarray(value)
    if arr.dtype == object:
        raise TypeError(f"load_state_dict: entry {key!r} must be a tensor or array, got "
                        f"{type(value).__name__}")
    return arr
