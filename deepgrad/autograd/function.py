"""``Function``: the base of every differentiable primitive.

A primitive subclasses ``Function`` and writes ``forward`` and ``backward`` side by side on raw
arrays. ``apply`` runs forward, and when recording is on, links the result into the graph. The op
contract is enforced in one place (``engine``): backward returns one gradient (or None) per
positional argument, and the engine sums each back to its input's shape and casts it to the input's
dtype, so no op carries its own un-broadcasting code.
"""
from __future__ import annotations

from ..backend import ndarray, xp
from . import grad_mode


class Function:
    """Base class of differentiable primitives.

    ``inputs`` holds one graph edge per positional argument: the Function that produced it, the
    leaf tensor itself, or None when no gradient is needed there.

    Class flags a subclass may set:
    - ``saves_inputs``: backward reads the inputs' values, so modifying an input in place before
      backward is an error (checked with version counters). Default True.
    - ``saves_output``: backward reads the output's value (exp, tanh, sigmoid...).
    - ``is_view``: the output shares memory with the first input (reshape, transpose, basic slicing),
      so both share one version counter.
    """

    __slots__ = ("inputs", "needs_input_grad", "input_meta", "_versions", "__dict__")
    saves_inputs = True
    saves_output = False
    is_view = False

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define forward")

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define backward")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run forward on the arrays of ``args`` (Tensors or plain values) and return a Tensor."""
        ctx = cls()
        out = ctx.forward(*[a._data if isinstance(a, Tensor) else a for a in args], **kwargs)
        if type(out) is not ndarray:
            out = xp.asarray(out)
        result = Tensor._make(out)
        if cls.is_view and ctx.is_view:
            base = args[0]
            result._version = base._version
            result._base = base._base if base._base is not None else base
        if grad_mode.state.enabled and out.dtype.kind == "f":
            # graph edges point at the node that produced each input (its Function, or the leaf
            # tensor itself), so a later in-place change of an input cannot rewire this node
            edges = tuple((a._ctx if a._ctx is not None else a)
                          if isinstance(a, Tensor) and a._requires_grad else None for a in args)
            for e in edges:
                if e is not None:
                    break
            else:
                return result
            ctx.inputs = edges
            ctx.needs_input_grad = tuple(e is not None for e in edges)
            ctx.input_meta = tuple((a._data.shape, a._data.dtype) if e is not None else None
                                   for a, e in zip(args, edges))
            versions = []
            if cls.saves_inputs:
                versions = [(a._data.shape, a._version, a._version[0]) for a in args
                            if isinstance(a, Tensor)]
            if cls.saves_output:
                versions.append((out.shape, result._version, 0))
            ctx._versions = versions
            result._requires_grad = True
            result._ctx = ctx
        return result

    @property
    def name(self) -> str:
        return type(self).__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name}>"


from ..tensor import Tensor  # noqa: E402  (Tensor imports this module's users lazily)
