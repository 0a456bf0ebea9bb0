"""``Module``: the base of every layer and model.

Parameters, buffers and submodules register themselves on attribute assignment; ``state_dict``
keys are dotted paths identical to PyTorch's, so state dicts move between the two libraries.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Iterator

from ..autograd.grad_mode import no_grad
from ..tensor import Tensor
from .parameter import Buffer, Parameter


class _RemovableHandle:
    _next_id = 0

    def __init__(self, registry: dict):
        self._registry = registry
        self.id = _RemovableHandle._next_id
        _RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._registry.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class IncompatibleKeys:
    """What ``load_state_dict`` found: ``missing_keys`` and ``unexpected_keys``."""

    def __init__(self, missing_keys: list, unexpected_keys: list):
        self.missing_keys, self.unexpected_keys = missing_keys, unexpected_keys

    def __iter__(self):
        return iter((self.missing_keys, self.unexpected_keys))

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")


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
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments; did you "
                            f"forget to pass them to your own __init__?")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required \"forward\" function")

    # ------------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if not (d["_forward_hooks"] or d["_forward_pre_hooks"] or d["_backward_hooks"]):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            res = hook(self, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
        if self._backward_hooks:
            args = tuple(self._track_input(a) for a in args)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            res = hook(self, args, out)
            if res is not None:
                out = res
        if self._backward_hooks and isinstance(out, Tensor) and out.requires_grad:
            self._attach_backward_hooks(args, out)
        return out

    def _track_input(self, a):
        if isinstance(a, Tensor) and a.requires_grad:
            from ..ops import clone
            return clone(a)  # a node of our own, so the input gradient can be observed
        return a

    def _attach_backward_hooks(self, args, out: Tensor) -> None:
        """Call each backward hook with (module, grad_input, grad_output) once the gradients with
        respect to this module's tensor inputs are known."""
        inputs = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
        state = {"grad_output": None, "grad_input": [None] * len(inputs), "pending": len(inputs)}
        hooks = list(self._backward_hooks.values())

        def fire():
            gi = tuple(state["grad_input"])
            go = (state["grad_output"],)
            for hook in hooks:
                hook(self, gi, go)

        def on_output(g):
            state["grad_output"] = g
            if not inputs:
                fire()

        out.register_hook(on_output)
        for i, a in enumerate(inputs):
            def on_input(g, i=i):
                state["grad_input"][i] = g
                state["pending"] -= 1
                if state["pending"] == 0:
                    fire()
            a.register_hook(on_input)

    def register_forward_hook(self, hook: Callable) -> _RemovableHandle:
        """``hook(module, inputs, output)`` runs after forward; a returned value replaces the output."""
        h = _RemovableHandle(self._forward_hooks)
        self._forward_hooks[h.id] = hook
        return h

    def register_forward_pre_hook(self, hook: Callable) -> _RemovableHandle:
        h = _RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[h.id] = hook
        return h

    def register_full_backward_hook(self, hook: Callable) -> _RemovableHandle:
        """``hook(module, grad_input, grad_output)`` runs when the gradients with respect to the
        module's inputs have been computed (for gradient-flow visualisation)."""
        h = _RemovableHandle(self._backward_hooks)
        self._backward_hooks[h.id] = hook
        return h

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called; call "
                                 f"super().__init__() first in {type(self).__name__}.__init__")
        params, buffers, modules = d["_parameters"], d["_buffers"], d["_modules"]
        for store in (params, buffers, modules):
            if name in store and store is not self._store_for(value, name):
                del store[name]
        if isinstance(value, Parameter):
            d.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            d.pop(name, None)
            modules[name] = value
        elif isinstance(value, Buffer):
            self.register_buffer(name, Tensor._make(value._data), value.persistent)
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                f"(nn.Parameter or None expected)")
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} "
                                f"(Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _store_for(self, value, name):
        d = self.__dict__
        if isinstance(value, Parameter):
            return d["_parameters"]
        if isinstance(value, Module):
            return d["_modules"]
        if name in d["_buffers"] and (value is None or isinstance(value, Tensor)):
            return d["_buffers"]
        if name in d["_parameters"] and value is None:
            return d["_parameters"]
        return None

    def __getattr__(self, name: str):
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

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if "." in name or not name:
            raise KeyError(f"parameter name can't contain '.' or be empty, got {name!r}")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} object to parameter {name!r} "
                            f"(nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor that belongs to the module's state (saved in state_dict unless not persistent)
        but is not a learnable parameter, e.g. BatchNorm's running mean."""
        if "." in name or not name:
            raise KeyError(f"buffer name can't contain '.' or be empty, got {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__} as buffer {name!r} (Tensor or None required)")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> "Module":
        mod = self
        if target:
            for part in target.split("."):
                if part not in mod._modules:
                    raise AttributeError(f"{type(mod).__name__} has no submodule {part!r} (in {target!r})")
                mod = mod._modules[part]
        return mod

    def get_parameter(self, target: str) -> Parameter:
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if name not in mod._parameters:
            raise AttributeError(f"{type(mod).__name__} has no parameter {name!r}")
        return mod._parameters[name]

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True):
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, getter, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, v in getter(mod):
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + name, v

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """(dotted name, parameter) pairs; a parameter shared by two modules is yielded once."""
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ------------------------------------------------------------------ modes and conversions
    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout active, batch norm uses batch statistics); returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be a boolean, got {type(mode).__name__}")
        for m in self.modules():
            m.__dict__["training"] = mode
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
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad._data[...] = 0

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Call ``fn`` on every submodule (children first) and on self, e.g. for initialisation."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply_to_tensors(self, convert: Callable[[Tensor], Tensor]) -> "Module":
        with no_grad():
            for m in self.modules():
                for name, p in m._parameters.items():
                    if p is not None:
                        new = convert(p)
                        if new is not p:
                            p._data = new._data
                            p._version[0] += 1
                            if p.grad is not None:
                                p.grad = Tensor._make(convert(p.grad)._data)
                for name, b in m._buffers.items():
                    if b is not None:
                        m._buffers[name] = convert(b)
        return self

    def to(self, *args, **kwargs) -> "Module":
        """Convert floating parameters and buffers to a dtype (``to(deepgrad.float64)``); devices
        other than cpu are refused."""
        def convert(t: Tensor) -> Tensor:
            if t.is_floating_point():
                return t.to(*args, **kwargs)
            # integer buffers (e.g. batch counters) keep their dtype; device arguments are checked
            devices = [a for a in args if not isinstance(a, Tensor) and not _is_dtype_arg(a)]
            return t.to(*devices, device=kwargs.get("device"))
        return self._apply_to_tensors(convert)

    def float(self) -> "Module":
        return self._apply_to_tensors(lambda t: t.float() if t.is_floating_point() else t)

    def double(self) -> "Module":
        return self._apply_to_tensors(lambda t: t.double() if t.is_floating_point() else t)

    def half(self) -> "Module":
        return self._apply_to_tensors(lambda t: t.half() if t.is_floating_point() else t)

    def cpu(self) -> "Module":
        return self

    def cuda(self, *args, **kwargs) -> "Module":
        raise RuntimeError("CUDA is not available: deepgrad runs on the NumPy (cpu) backend")

    # ------------------------------------------------------------------ state
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False) -> "OrderedDict":
        """Parameters and persistent buffers by dotted name, e.g. ``{'fc.weight': ..., 'fc.bias': ...}``.
        Values are detached tensors sharing memory with the module (as in PyTorch)."""
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

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False) -> IncompatibleKeys:
        """Copy values from ``state_dict`` (deepgrad or PyTorch tensors, or NumPy arrays) into this
        module's parameters and buffers. With ``strict`` any missing, unexpected or wrong-shaped key
        raises one error that lists them all."""
        from .. import backend as B
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        wrong = []
        arrays = {}
        for k, target in own.items():
            if k not in state_dict:
                continue
            arr = _to_numpy(state_dict[k], k)
            if tuple(arr.shape) != tuple(target.shape):
                wrong.append(f"{k}: checkpoint {tuple(arr.shape)} vs model {tuple(target.shape)}")
            else:
                arrays[k] = arr
        if wrong or (strict and (missing or unexpected)):
            lines = [f"Error(s) in loading state_dict for {type(self).__name__}:"]
            if missing and strict:
                lines.append("  Missing key(s): " + ", ".join(missing))
            if unexpected and strict:
                lines.append("  Unexpected key(s): " + ", ".join(unexpected))
            if wrong:
                lines.append("  Size mismatch: " + "; ".join(wrong))
            raise RuntimeError("\n".join(lines))
        with no_grad():
            for k, arr in arrays.items():
                target = own[k]
                if assign:
                    target._data = B.xp.array(arr, dtype=target._data.dtype, copy=True)
                else:
                    B.xp.copyto(target._data, arr, casting="unsafe")
                target._version[0] += 1
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ display
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, m in self._modules.items():
            mod = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {mod}")
        main = type(self).__name__ + "("
        if not lines:
            return main + ")"
        if len(lines) == 1 and not self._modules:
            return main + lines[0] + ")"
        return main + "\n  " + "\n  ".join(lines) + "\n)"

    def __getstate__(self):
        return self.__dict__.copy()

    def __setstate__(self, state):
        self.__dict__.update(state)


def _is_dtype_arg(a) -> bool:
    from .. import backend as B
    try:
        B.to_dtype(a)
        return True
    except TypeError:
        return False


def _to_numpy(value, key: str):
    """A state-dict value as a NumPy array: deepgrad tensors, NumPy arrays, PyTorch tensors."""
    from ..backend import xp
    if isinstance(value, Tensor):
        return value._data
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch.Tensor
        return value.detach().cpu().numpy()
    try:
        return xp.asarray(value)
    except Exception:
        raise TypeError(f"state_dict entry {key!r}: expected a tensor or array, got "
                        f"{type(value).__name__}") from None
