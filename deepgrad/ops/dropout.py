"""Inverted dropout, element-wise and channel-wise (feature maps zeroed together): kept values are
scaled by 1/(1-p) so nothing changes at evaluation time."""
from __future__ import annotations

import warnings

from . import elementwise as ew
from ..random import rand_array
from ..tensor import Tensor

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "feature_dropout"]


def _check_p(p: float, op: str) -> None:
    if not 0 <= p <= 1:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def _channel_dropout(input: Tensor, p: float, training: bool, inplace: bool, lead: int) -> Tensor:
    """Dropout with one mask entry per index of the first ``lead`` dims (the batch and channel
    dims), broadcast over the rest."""
    if not training or p == 0:
        return input
    dtype = input.dtype if input.is_floating_point() else None
    keep = rand_array(tuple(input.shape[:lead]) + (1,) * (input.ndim - lead), dtype) >= p
    scale = 0.0 if p == 1 else 1 / (1 - p)
    mask = keep.astype(input._data.dtype) * input._data.dtype.type(scale)
    return input.mul_(Tensor._make(mask)) if inplace else ew.Mul.apply(input, mask)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (inverted dropout);
    ``training=False`` returns the input unchanged."""
    _check_p(p, "dropout")
    return _channel_dropout(input, p, training, inplace, input.ndim)


def feature_dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each channel ``input[n, c]`` (all its elements at once) with probability ``p`` and
    scale the kept channels by 1/(1-p). ``input`` is (N, C, *)."""
    _check_p(p, "feature_dropout")
    if input.ndim < 2:
        raise RuntimeError(f"feature_dropout: expected an input with at least 2 dims (N, C, *), got "
                           f"shape {tuple(input.shape)}")
    return _channel_dropout(input, p, training, inplace, 2)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel-wise dropout for (N, C, L) or unbatched (C, L) inputs.

    Example::

        y = F.dropout1d(x, p=0.2)   # x of shape (N, C, L): whole rows x[n, c] are zeroed
    """
    _check_p(p, "dropout1d")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape "
                           f"{tuple(input.shape)}")
    return _channel_dropout(input, p, training, inplace, 2 if input.ndim == 3 else 1)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel-wise dropout for (N, C, H, W) inputs: each feature map ``input[n, c]`` is zeroed as a
    whole with probability ``p``; kept maps are scaled by 1/(1-p).

    As in PyTorch, a 3-D input is read as (N, C, L) (1-D channel dropout) with a warning.

    Example::

        y = F.dropout2d(x, p=0.1, training=model.training)
    """
    _check_p(p, "dropout2d")
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: received a {input.ndim}-D input; dropout2d expects (N, C, H, W) "
                      f"(or (N, C, L)); use dropout for other shapes", stacklevel=2)
    elif input.ndim == 3:
        warnings.warn("dropout2d: received a 3-D input, read as (N, C, L) (channel-wise 1-D "
                      "dropout, as PyTorch does); use dropout1d to say so explicitly", stacklevel=2)
    return feature_dropout(input, p, training, inplace)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel-wise dropout for (N, C, D, H, W) or unbatched (C, D, H, W) inputs."""
    _check_p(p, "dropout3d")
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: received a {input.ndim}-D input; dropout3d expects (N, C, D, H, W) "
                      f"or (C, D, H, W); use dropout for other shapes", stacklevel=2)
    if input.ndim == 4:
        return _channel_dropout(input, p, training, inplace, 1)
    return feature_dropout(input, p, training, inplace)
