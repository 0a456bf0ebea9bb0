"""``Parameter`` (a leaf tensor that a Module registers as learnable) and ``Buffer`` (a tensor that
registers as module state)."""
from __future__ import annotations

from ..tensor import Tensor


def _array_of(data, what: str):
    """The array of a tensor (shared, as PyTorch's Parameter shares storage), or of array-like data
    with deepgrad.tensor's dtype inference."""
    if isinstance(data, Tensor):
        return data._data
    from ..creation import tensor
    try:
        return tensor(data)._data
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what}: expected a tensor or array-like data, got {type(data).__name__} "
                        f"({e})") from None


class Parameter(Tensor):
    """A tensor that is a module's learnable parameter (requires grad by default). It shares memory
    with ``data`` and is always a leaf.

    Assigning one as a Module attribute registers it, so it appears in ``parameters()`` and
    ``state_dict()``.

    Example::

        self.scale = nn.Parameter(deepgrad.ones(dim))
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            from ..creation import empty
            data = empty(0)
        Tensor._init(self, _array_of(data, "Parameter"))
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        return (Parameter, (Tensor._make(self._data.copy()), self._requires_grad))


class Buffer(Tensor):
    """Marks a tensor to register as a buffer when assigned to a Module attribute
    (``self.running_mean = nn.Buffer(deepgrad.zeros(3))``); ``persistent=False`` keeps it out of
    ``state_dict``. The module stores a plain tensor sharing its memory."""

    __slots__ = ("persistent",)

    def __init__(self, data, persistent: bool = True):
        Tensor._init(self, _array_of(data, "Buffer"))
        self.persistent = persistent
