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
      backward is an error (checked with version counters). Default True. A tuple gives one rule
      per input: True (always read), False (never), or the index j of the input whose gradient
      needs it (``a * b``: a is read only for b's gradient, so Mul has ``(1, 0)``).
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
        recording = grad_mode.state.enabled
        if cls.is_view and ctx.is_view:
            base = args[0]
            result._version = base._version
            result._base = base._base if base._base is not None else base
            if recording:
                result._view_version = base._version[0]
        if recording and out.dtype.kind == "f":
            # graph edges point at the node that produced each input (its Function, or the leaf
            # tensor itself), so a later in-place change of an input cannot rewire this node
            edges, needs, meta = [], [], []
            for a in args:
                if isinstance(a, Tensor):
                    if a._view_version is not None and a._view_version != a._version[0]:
                        refresh_view(a)
                    if a._requires_grad:
                        edges.append(a._ctx if a._ctx is not None else a)
                        needs.append(True)
                        meta.append((a._data.shape, a._data.dtype))
                        continue
                edges.append(None)
                needs.append(False)
                meta.append(None)
            if True not in needs:
                return result
            ctx.inputs = edges
            ctx.needs_input_grad = needs
            ctx.input_meta = meta
            saves = cls.saves_inputs
            if saves is True:
                versions = [(a._data.shape, a._version, a._version[0]) for a in args
                            if isinstance(a, Tensor)]
            elif saves:
                versions = [(a._data.shape, a._version, a._version[0]) for a, rule in zip(args, saves)
                            if isinstance(a, Tensor) and (rule is True or (
                                rule is not False and edges[rule] is not None))]
            else:
                versions = []
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


def refresh_view(view) -> None:
    """Remake the graph node of a view whose memory was modified in place since the node was made
    (through its base or another view), so its gradient flows to the base's current history."""
    from ..ops.index import view_of_base
    fresh = view_of_base(view)
    view._ctx, view._requires_grad = fresh._ctx, fresh._requires_grad
    view._view_version = view._version[0]


from ..tensor import Tensor  # noqa: E402  (Tensor imports this module's users lazily)
