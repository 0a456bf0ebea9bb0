"""``Parameter``: a leaf tensor that a Module registers as learnable."""
from __future__ import annotations

from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a module's learnable parameter (requires grad by default).

    Assigning one as a Module attribute registers it, so it appears in ``parameters()`` and
    ``state_dict()``.
    """

    __slots__ = ()

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            from ..creation import empty
            data = empty(0)
        arr = data._data if isinstance(data, Tensor) else Tensor(data)._data
        Tensor._init(self, arr)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        return (Parameter, (Tensor._make(self._data.copy()), self._requires_grad))


class Buffer(Tensor):
    """Marks a tensor to register as a buffer when assigned to a Module attribute."""

    __slots__ = ("persistent",)

    def __init__(self, data: Tensor, persistent: bool = True):
        Tensor._init(self, data._data)
        self.persistent = persistent
