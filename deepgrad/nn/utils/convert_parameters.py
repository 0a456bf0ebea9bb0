"""Flatten parameters into one vector and back (``parameters_to_vector``, ``vector_to_parameters``)."""
from __future__ import annotations

from collections.abc import Iterable

from ...ops import shape as S
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _params(parameters: Tensor | Iterable[Tensor], op: str) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: expected Tensors (e.g. model.parameters()), got {type(p).__name__}")
    return params


def parameters_to_vector(parameters: Tensor | Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable).

    Example::

        vec = deepgrad.nn.utils.parameters_to_vector(model.parameters())
    """
    return S.cat([S.reshape(p, (-1,)) for p in _params(parameters, "parameters_to_vector")])


def vector_to_parameters(vec: Tensor, parameters: Tensor | Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D tensor ``vec`` into ``parameters``, in order (the inverse of
    ``parameters_to_vector``). Values are copied in place, cast to each parameter's dtype; unlike
    PyTorch, the parameters do not become views of ``vec``.

    Example::

        deepgrad.nn.utils.vector_to_parameters(vec, model.parameters())
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector, got shape {tuple(vec.shape)}")
    params = _params(parameters, "vector_to_parameters")
    total = sum(p._data.size for p in params)
    if total != vec._data.size:
        raise ValueError(f"vector_to_parameters: the vector has {vec._data.size} elements but the "
                         f"parameters hold {total}")
    offset = 0
    for p in params:
        n = p._data.size
        p._data[...] = vec._data[offset:offset + n].reshape(p._data.shape)
        p._version[0] += 1
        offset += n
