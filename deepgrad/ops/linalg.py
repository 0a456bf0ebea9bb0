"""Matrix products: matmul (vector, matrix, batched with broadcasting) and the fused linear layer."""
from __future__ import annotations

from .. import backend as B
from ..backend import xp
from ..autograd.function import Function
from ..tensor import Tensor
from .elementwise import cast


class MatMul(Function):
    saves_inputs = (1, 0)

    def forward(self, a, b):
        self.a, self.b = a, b
        return xp.matmul(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if b.ndim == 1:
            g = g[..., None]
        if a.ndim == 1:
            g = xp.expand_dims(g, -2)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = xp.matmul(g, xp.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                ga = ga.reshape(-1, a.shape[0]).sum(0)
        if self.needs_input_grad[1]:
            if b2.ndim == 2 and a2.ndim > 2:
                # a batched input times one matrix: fold the batch into one large product
                gb = a2.reshape(-1, a2.shape[-1]).T @ g.reshape(-1, g.shape[-1])
            else:
                gb = xp.matmul(xp.swapaxes(a2, -1, -2), g)
            if b.ndim == 1:
                gb = gb.reshape(-1, b.shape[0]).sum(0)
        return ga, gb


class Linear(Function):
    """y = x W^T + b for x of shape (..., in), fused so one layer is one graph node."""

    saves_inputs = (1, 0, False)

    def forward(self, x, w, b):
        self.x, self.w = x, w
        self.has_bias = b is not None
        # leading dims folded into one 2-D product: numpy's batched matmul is several times slower
        out = _flat(x) @ w.T
        if b is not None:
            out += b
        return out.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, g):
        x, w = self.x, self.w
        g2 = _flat(g)
        gx = (g2 @ w).reshape(x.shape) if self.needs_input_grad[0] else None
        gw = g2.T @ _flat(x) if self.needs_input_grad[1] else None
        gb = g2.sum(0) if self.has_bias and self.needs_input_grad[2] else None
        return gx, gw, gb


def _flat(a):
    return a if a.ndim == 2 else a.reshape(-1, a.shape[-1])


def _same_float(a: Tensor, b: Tensor, op: str):
    if a._data.dtype != b._data.dtype:
        dt = B.result_type(a.dtype, 1, b.dtype, 1)
        a = a if a._data.dtype == dt.np else cast(a, dt)
        b = b if b._data.dtype == dt.np else cast(b, dt)
    return a, b


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics: 1-D vectors, 2-D matrices, batched broadcasting."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul: expected two Tensors, got {type(a).__name__} and {type(b).__name__}")
    sa, sb = a._data.shape, b._data.shape
    if not sa or not sb:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes {tuple(sa)} "
                           f"and {tuple(sb)}")
    ka = sa[-1]
    kb = sb[0] if len(sb) == 1 else sb[-2]
    if ka != kb:
        raise RuntimeError(f"matmul: shapes {tuple(sa)} and {tuple(sb)} cannot be multiplied "
                           f"({ka} != {kb})")
    if len(sa) > 2 and len(sb) > 2:
        try:
            xp.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise RuntimeError(f"matmul: batch dimensions of {tuple(sa)} and {tuple(sb)} cannot be "
                               f"broadcast") from None
    a, b = _same_float(a, b, "matmul")
    return MatMul.apply(a, b)


def mm(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product of two 2-D tensors."""
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """Batched matrix product of two 3-D tensors with the same batch size."""
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm: expected 3-D tensors with equal batch size, got shapes "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def dot(a: Tensor, b: Tensor) -> Tensor:
    """Inner product of two 1-D tensors."""
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"dot: expected 1-D tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def mv(a: Tensor, v: Tensor) -> Tensor:
    """Matrix-vector product."""
    return matmul(a, v)


def outer(a: Tensor, b: Tensor) -> Tensor:
    """Outer product of two 1-D tensors."""
    from .shape import unsqueeze
    return matmul(unsqueeze(a, 1), unsqueeze(b, 0))


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias, for x of shape (..., in_features) and weight (out_features, in_features)."""
    if weight._data.ndim != 2:
        raise RuntimeError(f"linear: weight must be 2-D (out_features, in_features), got shape "
                           f"{tuple(weight.shape)}")
    if x._data.ndim == 0 or x._data.shape[-1] != weight._data.shape[1]:
        raise RuntimeError(f"linear: input of shape {tuple(x.shape)} does not match weight of shape "
                           f"{tuple(weight.shape)} (expected input (..., {weight.shape[1]}))")
    if bias is not None and bias._data.shape != (weight._data.shape[0],):
        raise RuntimeError(f"linear: bias of shape {tuple(bias.shape)} does not match weight of shape "
                           f"{tuple(weight.shape)} (expected ({weight.shape[0]},))")
    if x._data.dtype != weight._data.dtype:
        x, weight = _same_float(x, weight, "linear")
        if bias is not None and bias._data.dtype != weight._data.dtype:
            bias = cast(bias, weight.dtype)
    return Linear.apply(x, weight, bias)
