"""deepgrad: a deep-learning library written from scratch on NumPy, with a PyTorch-compatible API.

    import deepgrad as torch
    import deepgrad.nn as nn
    import deepgrad.nn.functional as F
"""
from __future__ import annotations

from . import backend as _backend
from .backend import (  # noqa: F401
    bool_ as bool, dtype, float16, float32, float64, get_default_dtype, int8, int16, int32, int64,
    set_default_dtype, uint8)
from .tensor import Size, Tensor, device  # noqa: F401
from .autograd import (  # noqa: F401
    enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled)
from . import autograd  # noqa: F401
from .creation import (  # noqa: F401
    arange, as_tensor, bernoulli, empty, empty_like, eye, from_numpy, full, full_like, linspace,
    logspace, multinomial, normal, ones, ones_like, rand, rand_like, randint, randn, randn_like,
    randperm, tensor, zeros, zeros_like)
from .random import (  # noqa: F401
    Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state)
from .ops import (  # noqa: F401
    abs, add, all, allclose, amax, amin, any, argmax, argmin, bmm, broadcast_tensors, broadcast_to,
    cat, ceil, chunk, clamp, clone, concat, concatenate, cos, cumsum, div, dot, eq, exp, expand,
    flatten, flip, floor, gather, ge, gt, index_select, isclose, isfinite, isinf, isnan, le, log,
    log1p, logical_and, logical_not, logical_or, logsumexp, lt, masked_fill, matmul, max, maximum,
    mean, min, minimum, mm, mul, mv, ne, neg, norm, outer, permute, pow, prod, reciprocal, relu,
    repeat, reshape, round, rsqrt, scatter, sigmoid, sign, sin, split, sqrt, square, squeeze, stack,
    std, sub, sum, tanh, transpose, trunc, unbind, unflatten, unsqueeze, var, where)
from .ops import eq_all as equal  # noqa: F401

float = float32  # noqa: A001  (PyTorch spells these deepgrad.float, deepgrad.long, ...)
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16

__version__ = "0.1.0"

clip = clamp
subtract = sub
multiply = mul
divide = div
true_divide = div
negative = neg


def numel(x: Tensor) -> _backend.xp.intp:
    """The number of elements of ``x``."""
    return x.numel()


def is_tensor(x) -> bool:
    """Whether ``x`` is a deepgrad Tensor."""
    return isinstance(x, Tensor)


def is_floating_point(x: Tensor) -> bool:
    """Whether ``x`` has a floating dtype."""
    return x.is_floating_point()


class _Cuda:
    """``deepgrad.cuda``: there is no CUDA device in the NumPy backend."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def device_count() -> int:
        return 0

    @staticmethod
    def manual_seed(seed: int) -> None:  # noqa: F811  (PyTorch's parameter name)
        return None

    manual_seed_all = manual_seed


cuda = _Cuda()
from . import nn  # noqa: E402,F401
from .nn.functional import log_softmax, softmax  # noqa: E402,F401
from .io import save, load  # noqa: E402,F401
from . import optim  # noqa: E402,F401
from . import utils  # noqa: E402,F401
