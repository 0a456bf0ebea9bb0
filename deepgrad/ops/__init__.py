"""The differentiable primitives, grouped by family, and the Tensor methods bound to them."""
from __future__ import annotations

from ..tensor import Tensor
from .elementwise import (  # noqa: F401
    abs, add, allclose, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, cast, ceil, clamp, clone,
    cos, div, elu, eq, eq_all, exp, floor, floor_divide, ge, gelu, gt, isclose, isfinite, isinf, isnan,
    le, leaky_relu, log, log1p, logical_and, logical_not, logical_or, lt, maximum, minimum, mul, ne,
    neg, pow, reciprocal, relu, remainder, round, rsqrt, sigmoid, sign, sin, softplus, sqrt, square,
    sub, tanh, trunc, where)
from .index import gather, getitem, index_select, inplace, masked_fill, scatter, setitem  # noqa: F401
from .linalg import bmm, dot, linear, matmul, mm, mv, outer  # noqa: F401
from .reduce import (  # noqa: F401
    all, amax, amin, any, argmax, argmin, cumsum, logsumexp, max, mean, min, norm, prod, std, sum, var)
from .shape import (  # noqa: F401
    broadcast_tensors, broadcast_to, cat, chunk, concat, concatenate, expand, expand_as, flatten, flip,
    permute, repeat,
    reshape, reshape_as, split, squeeze, stack, transpose, unbind, unflatten, unsqueeze, view, view_as)


def _softmax(x, dim):
    from .nn import softmax
    return softmax(x, dim)


def _log_softmax(x, dim):
    from .nn import log_softmax
    return log_softmax(x, dim)


def _max_method(x, dim=None, keepdim=False):
    return max(x, dim, keepdim)


def _min_method(x, dim=None, keepdim=False):
    return min(x, dim, keepdim)


_METHODS = {
    "abs": abs, "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg,
    "multiply": mul, "divide": div, "subtract": sub, "true_divide": div, "negative": neg,
    "exp": exp, "log": log, "log1p": log1p, "sqrt": sqrt, "rsqrt": rsqrt, "sin": sin, "cos": cos,
    "tanh": tanh, "sigmoid": sigmoid, "relu": relu, "clamp": clamp, "clip": clamp, "sign": sign,
    "square": square, "reciprocal": reciprocal, "floor": floor, "ceil": ceil, "round": round,
    "trunc": trunc, "maximum": maximum, "minimum": minimum,
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "equal": eq_all,
    "logical_and": logical_and, "logical_or": logical_or, "logical_not": logical_not,
    "isnan": isnan, "isinf": isinf, "isfinite": isfinite, "allclose": allclose, "isclose": isclose,
    "sum": sum, "mean": mean, "var": var, "std": std, "max": _max_method, "min": _min_method,
    "amax": amax, "amin": amin, "logsumexp": logsumexp, "argmax": argmax, "argmin": argmin,
    "norm": norm, "all": all, "any": any, "cumsum": cumsum, "prod": prod,
    "reshape": reshape, "view": view, "view_as": view_as, "reshape_as": reshape_as,
    "flatten": flatten, "unflatten": unflatten, "squeeze": squeeze, "unsqueeze": unsqueeze,
    "permute": permute, "transpose": transpose, "swapaxes": transpose, "expand": expand,
    "expand_as": expand_as, "repeat": repeat, "split": split, "chunk": chunk, "unbind": unbind,
    "flip": flip, "matmul": matmul, "mm": mm, "bmm": bmm, "dot": dot, "mv": mv,
    "gather": gather, "scatter": scatter, "index_select": index_select, "masked_fill": masked_fill,
    "where": lambda self, cond, other: where(cond, self, other),
    "softmax": _softmax, "log_softmax": _log_softmax,
}

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
