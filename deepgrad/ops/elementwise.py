"""Elementwise primitives: arithmetic, unary maths, activations, comparisons, where.

NaN policy: values and gradients follow IEEE-754 exactly as PyTorch does. An input outside an op's
domain gives nan or inf (``log(-1)`` is nan, ``log(0)`` is -inf, ``1 / 0`` is inf), and a gradient at
a domain edge is what its formula gives (``sqrt`` at 0 has gradient inf). Nothing is clamped, replaced
or hidden, and no exception or warning is raised: NaN propagates so ``isnan``/``isfinite`` checks
downstream see it. The only exceptions are documented choices PyTorch makes too (``relu``/``abs``
gradient 0 at 0; ``pow``'s exponent gradient 0 where the base is 0 and the exponent >= 0). Where
PyTorch's gradient at a nan input is 0 (``abs``), deepgrad's is nan.
"""
from __future__ import annotations

import math

from .. import backend as B
from ..backend import ndarray, xp
from ..autograd.function import Function
from ..tensor import Tensor
from ._util import broadcast_shape, ieee


# ---------------------------------------------------------------------------- binary arithmetic
class Add(Function):
    saves_inputs = False

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    saves_inputs = False

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)


class Mul(Function):
    saves_inputs = (1, 0)

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        ga = g * self.b if self.needs_input_grad[0] else None
        gb = g * self.a if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    saves_inputs = (1, True)

    @ieee
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        ga = g / self.b if self.needs_input_grad[0] else None
        gb = -g * self.a / (self.b * self.b) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    saves_output = True

    @ieee
    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = a ** b
        return self.out

    def backward(self, g):
        a, b = self.a, self.b
        ga = gb = None
        if self.needs_input_grad[0]:
            if isinstance(b, (int, float)) or getattr(b, "ndim", 1) == 0:
                ga = g * (b * a ** (b - 1)) if b != 0 else g * 0
            else:
                ga = g * xp.where(b == 0, 0, b * a ** (b - 1))
        if self.needs_input_grad[1]:
            gb = g * xp.where((a == 0) & (b >= 0), 0, self.out * xp.log(a))
        return ga, gb


class Maximum(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return xp.maximum(a, b)

    def backward(self, g):
        return _split_ties(g, self.a > self.b, self.a == self.b, self.needs_input_grad)


class Minimum(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return xp.minimum(a, b)

    def backward(self, g):
        return _split_ties(g, self.a < self.b, self.a == self.b, self.needs_input_grad)


def _split_ties(g, a_wins, tie, needs):
    """Gradients of max/min: to the winner, split in half at ties (PyTorch's rule)."""
    w = a_wins.astype(g.dtype) + tie.astype(g.dtype) * 0.5
    ga = g * w if needs[0] else None
    gb = g * (1 - w) if needs[1] else None
    return ga, gb


class Where(Function):
    saves_inputs = (True, False, False)  # backward reads the condition only

    def forward(self, cond, a, b):
        self.cond = cond
        return xp.where(cond, a, b)

    def backward(self, g):
        c = self.cond
        ga = xp.where(c, g, 0).astype(g.dtype, copy=False) if self.needs_input_grad[1] else None
        gb = xp.where(c, 0, g).astype(g.dtype, copy=False) if self.needs_input_grad[2] else None
        return None, ga, gb


# ---------------------------------------------------------------------------- unary
class Neg(Function):
    saves_inputs = False

    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class Exp(Function):
    saves_inputs = False
    saves_output = True

    @ieee
    def forward(self, a):
        self.out = xp.exp(a)
        return self.out

    def backward(self, g):
        return g * self.out


class Log(Function):
    @ieee
    def forward(self, a):
        self.a = a
        return xp.log(a)

    def backward(self, g):
        return g / self.a


class Log1p(Function):
    @ieee
    def forward(self, a):
        self.a = a
        return xp.log1p(a)

    def backward(self, g):
        return g / (1 + self.a)


class Sqrt(Function):
    saves_inputs = False
    saves_output = True

    @ieee
    def forward(self, a):
        self.out = xp.sqrt(a)
        return self.out

    def backward(self, g):
        return g / (2 * self.out)


class Abs(Function):
    def forward(self, a):
        self.a = a
        return xp.abs(a)

    def backward(self, g):
        return g * xp.sign(self.a)


class Sin(Function):
    def forward(self, a):
        self.a = a
        return xp.sin(a)

    def backward(self, g):
        return g * xp.cos(self.a)


class Cos(Function):
    def forward(self, a):
        self.a = a
        return xp.cos(a)

    def backward(self, g):
        return -g * xp.sin(self.a)


class Tanh(Function):
    saves_inputs = False
    saves_output = True

    def forward(self, a):
        self.out = xp.tanh(a)
        return self.out

    def backward(self, g):
        return g * (1 - self.out * self.out)


class Sigmoid(Function):
    saves_inputs = False
    saves_output = True

    def forward(self, a):
        # exp of a non-positive number never overflows: split by sign for stability
        e = xp.exp(-xp.abs(a))
        self.out = xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
        return self.out

    def backward(self, g):
        return g * self.out * (1 - self.out)


class Relu(Function):
    saves_inputs = False
    saves_output = True

    def forward(self, a):
        self.out = xp.maximum(a, 0)
        return self.out

    def backward(self, g):
        return g * (self.out != 0)  # out is 0, positive or nan: a nan input passes its gradient on


class LeakyRelu(Function):
    def forward(self, a, slope):
        self.a, self.slope = a, slope
        return xp.where(a > 0, a, a * slope)

    def backward(self, g):
        return xp.where(self.a > 0, g, g * self.slope), None


class Elu(Function):
    def forward(self, a, alpha):
        self.a, self.alpha = a, alpha
        self.neg = alpha * xp.expm1(xp.minimum(a, 0))
        return xp.where(a > 0, a, self.neg)

    def backward(self, g):
        return xp.where(self.a > 0, g, g * (self.neg + self.alpha)), None


# Chebyshev coefficients of log(erfc(z) / t) + z^2 in u = 2t - 1, t = 2 / (2 + z), for z >= 0 (the form of
# Numerical Recipes' erfccheb), fitted to mpmath's erfc at 200 Chebyshev nodes. erfc's relative error
# is below 2e-13 on [0, 27], where float64 rounding of exp(-z^2) itself dominates.
_ERFC_CHEB = (
    -0.6513268598908547, 0.6419697923564904, 0.01947647320418603, -0.009561514786808247,
    -0.0009465953444819687, 0.0003668394978530882, 4.252332480705922e-05, -2.027857811223e-05,
    -1.624290004583135e-06, 1.3036558359808045e-06, 1.5626441890721863e-08, -8.523809569495895e-08,
    6.529054555113781e-09, 5.059343550777625e-09, -9.913641493343579e-10, -2.273652011263162e-10,
    9.646806973060015e-11, 2.3939072946177485e-12, -6.885980674553596e-12, 8.944373020014502e-13,
    3.132161197072494e-13, -1.1260159471504504e-13, 2.2204460492503155e-16, 7.083222897108504e-15,
    -1.7319479184152453e-15,
)


@ieee
def _erfc(x):
    """The complementary error function of an array, in the array's dtype (NumPy has none)."""
    z = xp.abs(x)
    t = 2 / (2 + z)
    u2 = 2 * (2 * t - 1)
    d = dd = 0
    for c in _ERFC_CHEB[:0:-1]:  # Clenshaw's recurrence
        d, dd = u2 * d - dd + c, d
    out = t * xp.exp(-z * z + (0.5 * u2 * d - dd + _ERFC_CHEB[0]))
    return xp.where(x >= 0, out, 2 - out)


_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


class Gelu(Function):
    """Exact GELU x * Phi(x) with Phi(x) = erfc(-x / sqrt 2) / 2, or the tanh approximation."""

    def forward(self, a, approximate):
        self.a, self.approximate = a, approximate
        if approximate == "tanh":
            self.t = xp.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a ** 3))
            return 0.5 * a * (1 + self.t)
        self.cdf = 0.5 * _erfc(a * -_SQRT_HALF)
        return a * self.cdf

    def backward(self, g):
        a = self.a
        if self.approximate == "tanh":
            dt = (1 - self.t ** 2) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a ** 2)
            return g * (0.5 * (1 + self.t) + 0.5 * a * dt), None
        pdf = xp.exp(-0.5 * a * a) * _INV_SQRT_2PI
        return g * (self.cdf + a * pdf), None


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch)."""

    def forward(self, a, beta, threshold):
        self.bx, self.threshold = a * beta, threshold
        soft = (xp.maximum(self.bx, 0) + xp.log1p(xp.exp(-xp.abs(self.bx)))) / beta
        return xp.where(self.bx > threshold, a, soft)

    def backward(self, g):
        e = xp.exp(-xp.abs(self.bx))
        sig = xp.where(self.bx >= 0, 1 / (1 + e), e / (1 + e))  # sigmoid(beta x), without overflow
        return g * xp.where(self.bx > self.threshold, 1, sig), None, None


class Clamp(Function):
    """min(max(a, lo), hi); ``lo``/``hi`` are numbers, arrays (from tensors) or None. The gradient
    goes to ``a`` where lo <= a <= hi, and to a tensor bound where it is the value taken."""

    def forward(self, a, lo, hi):
        self.a, self.lo, self.hi = a, lo, hi
        out = a
        if lo is not None:
            out = xp.maximum(out, lo)
        if hi is not None:
            out = xp.minimum(out, hi)
        return out if out is not a else a.copy()

    def backward(self, g):
        a, lo, hi = self.a, self.lo, self.hi
        mask = True
        if lo is not None:
            mask = a >= lo
        if hi is not None:
            mask = mask & (a <= hi)
        glo = g * (a < lo) if self.needs_input_grad[1] else None
        ghi = g * (a > hi) if self.needs_input_grad[2] else None
        return g * mask, glo, ghi


class Cast(Function):
    saves_inputs = False

    def forward(self, a, dt):
        return a.astype(dt)

    def backward(self, g):
        return g, None  # the engine casts back to the input's dtype


class Clone(Function):
    saves_inputs = False

    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return g


# ---------------------------------------------------------------------------- dispatch helpers
def _operands(op: str, a, b, floating: bool = False):
    """Apply PyTorch's type promotion to a binary op's operands; returns (a, b) ready for apply.
    ``floating``: an integer or bool result type becomes the default float (true division)."""
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        da, db = a._data.dtype, b._data.dtype
        if da == db and (not floating or da.kind == "f"):
            return a, b
        dt = B.result_type(a.dtype, a._data.ndim, b.dtype, b._data.ndim) if da != db else a.dtype
    elif ta:
        dt = B.promote_scalar(a.dtype, b)
    elif tb:
        dt = B.promote_scalar(b.dtype, a)
    else:
        raise TypeError(f"{op}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    if floating and not dt.is_floating_point:
        dt = B.get_default_dtype()
    if ta:
        if a._data.dtype != dt.np:
            a = cast(a, dt)
    elif dt._category == 1 and not isinstance(a, bool):
        a = _wrapped(a, dt)
    if tb:
        if b._data.dtype != dt.np:
            b = cast(b, dt)
    elif dt._category == 1 and not isinstance(b, bool):
        b = _wrapped(b, dt)
    return a, b


def _wrapped(value: int, dt):
    """A Python int as a scalar of integer dtype ``dt``, wrapping around like PyTorch (uint8 + -1
    is uint8 - 1) instead of NumPy's OverflowError."""
    return xp.asarray(value).astype(dt.np)


_PY_SCALARS = (int, float, bool)


def _binary(cls, op: str, a, b, floating: bool = False):
    if type(a) not in _PY_SCALARS and not isinstance(a, Tensor):
        a = _coerce(a)
    if type(b) not in _PY_SCALARS and not isinstance(b, Tensor):
        b = _coerce(b)
    a, b = _operands(op, a, b, floating)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        sa, sb = a._data.shape, b._data.shape
        if sa != sb:
            broadcast_shape(op, sa, sb)
    return cls.apply(a, b)


def _coerce(x):
    """A binary op's operand that is neither a Tensor nor a Python number: a NumPy scalar counts as
    a Python number (as in PyTorch, it does not decide the result dtype), an array as a tensor."""
    if isinstance(x, xp.generic):
        return x.item()
    if isinstance(x, ndarray):
        return Tensor._make(xp.array(x))
    if isinstance(x, _PY_SCALARS):  # subclasses of int and float
        return x
    raise TypeError(f"expected a Tensor or a Python number, got {type(x).__name__}")


def cast(x: Tensor, dt) -> Tensor:
    """``x`` converted to dtype ``dt`` (differentiable between floating types)."""
    dt = B.to_dtype(dt)
    return Cast.apply(x, dt.np)


def add(a, b, *, alpha=1) -> Tensor:
    """a + alpha * b with broadcasting."""
    return _binary(Add, "add", a, b if alpha == 1 else mul(b, alpha))


def sub(a, b, *, alpha=1) -> Tensor:
    """a - alpha * b with broadcasting; bool operands are refused as in PyTorch."""
    for x in (a, b):
        if isinstance(x, bool) or (isinstance(x, Tensor) and x._data.dtype.kind == "b"):
            raise RuntimeError("sub: subtraction with a bool tensor or value is not supported; to invert a "
                               "mask use ~mask or logical_not()")
    return _binary(Sub, "sub", a, b if alpha == 1 else mul(b, alpha))


def mul(a, b) -> Tensor:
    """a * b with broadcasting."""
    return _binary(Mul, "mul", a, b)


def div(a, b, *, rounding_mode=None) -> Tensor:
    """True division; integer inputs give a float result, as in PyTorch."""
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        quotient = div(a, b)
        a, b = _operands("div", a, b)
        dt = (a if isinstance(a, Tensor) else b)._data.dtype
        return trunc(quotient) if dt.kind == "f" else cast(trunc(quotient), B.from_numpy_dtype(dt))
    return _binary(Div, "div", a, b, floating=True)


def pow(a, b) -> Tensor:
    """a ** b. d/da = b a^(b-1); d/db = a^b log a, taken as 0 where a == 0 and b >= 0."""
    if isinstance(a, Tensor) and a._data.dtype.kind in "iub":
        if isinstance(b, int) and b < 0:
            raise RuntimeError("pow: integers to negative integer powers are not allowed")
        if a._data.dtype.kind == "b" and isinstance(b, bool):  # NumPy would answer in int8
            return logical_or(a, not b)
    return _binary(Pow, "pow", a, b)


def maximum(a, b) -> Tensor:
    """Elementwise maximum; at ties each input receives half the gradient."""
    return _binary(Maximum, "maximum", a, b)


def minimum(a, b) -> Tensor:
    """Elementwise minimum; at ties each input receives half the gradient."""
    return _binary(Minimum, "minimum", a, b)


def where(condition, a, b) -> Tensor:
    """``a`` where ``condition`` is true, else ``b`` (broadcasting all three)."""
    cond = condition._data if isinstance(condition, Tensor) else xp.asarray(condition)
    if cond.dtype != bool:
        raise TypeError(f"where: condition must be a bool tensor, got {cond.dtype}")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):  # two numbers: a tensor of the first
        from ..creation import tensor
        a = tensor(_coerce(a) if type(a) not in _PY_SCALARS else a)
    a, b = _operands("where", a, b)
    shapes = [cond.shape] + [x._data.shape for x in (a, b) if isinstance(x, Tensor)]
    broadcast_shape("where", *shapes)
    return Where.apply(condition if isinstance(condition, Tensor) else cond, a, b)


def neg(x: Tensor) -> Tensor:
    """-x."""
    if x._data.dtype.kind == "b":
        raise RuntimeError("neg: negation, the `-` operator, on a bool tensor is not supported; to invert "
                           "a mask use ~mask or logical_not()")
    return Neg.apply(x)


def _float_unary(cls):
    def op(x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = _coerce(x)
        if x._data.dtype.kind != "f":
            x = cast(x, B.get_default_dtype())
        return cls.apply(x)

    op.__name__ = cls.__name__.lower()
    op.__doc__ = f"Elementwise {op.__name__}."
    return op


exp = _float_unary(Exp)
log = _float_unary(Log)
log1p = _float_unary(Log1p)
sqrt = _float_unary(Sqrt)
sin = _float_unary(Sin)
cos = _float_unary(Cos)
tanh = _float_unary(Tanh)
sigmoid = _float_unary(Sigmoid)


def abs(x: Tensor) -> Tensor:
    """|x|; the gradient at 0 is 0."""
    return Abs.apply(x)


def relu(x: Tensor) -> Tensor:
    """max(x, 0); the gradient at 0 is 0, as in PyTorch."""
    return Relu.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else ``negative_slope * x``."""
    return LeakyRelu.apply(x, negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else ``alpha * (exp(x) - 1)``."""
    return Elu.apply(x, alpha)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (Phi the standard normal CDF), or its tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(x, approximate)


def clamp(x: Tensor, min=None, max=None) -> Tensor:
    """Limit values to [min, max] (numbers or broadcastable tensors); the gradient passes to ``x``
    where min <= x <= max, and to a tensor bound where the bound is taken."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if x._data.dtype.kind != "f" and any(
            isinstance(v, float) or (isinstance(v, Tensor) and v.is_floating_point()) for v in (min, max)):
        x = cast(x, B.get_default_dtype())
    bounds = []
    for v in (min, max):
        if isinstance(v, Tensor):
            broadcast_shape("clamp", x._data.shape, v._data.shape)
            if v._data.dtype != x._data.dtype:
                v = cast(v, x.dtype)
        bounds.append(v)
    return Clamp.apply(x, *bounds)


def clone(x: Tensor) -> Tensor:
    """A copy of ``x`` that stays in the graph."""
    return Clone.apply(x)


def square(x: Tensor) -> Tensor:
    """x * x."""
    return mul(x, x)


def rsqrt(x: Tensor) -> Tensor:
    """1 / sqrt(x)."""
    return div(1.0, sqrt(x))


def reciprocal(x: Tensor) -> Tensor:
    """1 / x."""
    return div(1.0, x)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > ``threshold`` (as PyTorch)."""
    return Softplus.apply(x, beta, threshold)


class _Rounding(Function):
    """floor/ceil/round/trunc: piecewise constant, so the gradient is zero (as in PyTorch)."""

    saves_inputs = False
    fn = None

    def forward(self, a):
        return type(self).fn(a)

    def backward(self, g):
        return xp.zeros_like(g)


class Floor(_Rounding):
    fn = staticmethod(xp.floor)


class Ceil(_Rounding):
    fn = staticmethod(xp.ceil)


class Round(_Rounding):
    fn = staticmethod(xp.round)  # round half to even, like PyTorch


class Trunc(_Rounding):
    fn = staticmethod(xp.trunc)


def _rounding(cls):
    def op(x: Tensor) -> Tensor:
        return cls.apply(x) if x._data.dtype.kind == "f" else clone(x)

    op.__name__ = cls.__name__.lower()
    return op


floor = _rounding(Floor)
ceil = _rounding(Ceil)
round = _rounding(Round)
trunc = _rounding(Trunc)


# ---------------------------------------------------------------------------- no-grad elementwise
def _nograd_binary(fn, name):
    def op(a, b) -> Tensor:
        a, b = _operands(name, a if isinstance(a, (Tensor, int, float, bool)) else _coerce(a),
                         b if isinstance(b, (Tensor, int, float, bool)) else _coerce(b))
        av = a._data if isinstance(a, Tensor) else a
        bv = b._data if isinstance(b, Tensor) else b
        try:
            return Tensor._make(xp.asarray(fn(av, bv)))
        except ValueError:
            broadcast_shape(name, xp.shape(av), xp.shape(bv))
            raise

    op.__name__ = name
    return op


eq = _nograd_binary(xp.equal, "eq")
ne = _nograd_binary(xp.not_equal, "ne")
lt = _nograd_binary(xp.less, "lt")
le = _nograd_binary(xp.less_equal, "le")
gt = _nograd_binary(xp.greater, "gt")
ge = _nograd_binary(xp.greater_equal, "ge")
bitwise_and = _nograd_binary(xp.bitwise_and, "bitwise_and")
bitwise_or = _nograd_binary(xp.bitwise_or, "bitwise_or")
bitwise_xor = _nograd_binary(xp.bitwise_xor, "bitwise_xor")
logical_and = _nograd_binary(xp.logical_and, "logical_and")
logical_or = _nograd_binary(xp.logical_or, "logical_or")
floor_divide = _nograd_binary(xp.floor_divide, "floor_divide")
remainder = _nograd_binary(xp.remainder, "remainder")


def logical_not(x: Tensor) -> Tensor:
    """Elementwise not (a bool tensor)."""
    return Tensor._make(xp.logical_not(x._data))


def bitwise_not(x: Tensor) -> Tensor:
    """Elementwise bitwise not of an integer or bool tensor."""
    return Tensor._make(xp.invert(x._data))


def isnan(x: Tensor) -> Tensor:
    """Where ``x`` is nan (a bool tensor)."""
    return Tensor._make(xp.isnan(x._data))


def isinf(x: Tensor) -> Tensor:
    """Where ``x`` is +-inf (a bool tensor)."""
    return Tensor._make(xp.isinf(x._data))


def isfinite(x: Tensor) -> Tensor:
    """Where ``x`` is neither nan nor +-inf (a bool tensor)."""
    return Tensor._make(xp.isfinite(x._data))


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of each element (not differentiable)."""
    return Tensor._make(xp.sign(x._data))


def eq_all(a: Tensor, b: Tensor) -> bool:
    """``torch.equal``: same shape and all elements equal."""
    return a._data.shape == b._data.shape and bool((a._data == b._data).all())


def allclose(a: Tensor, b: Tensor, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    """Whether all elements satisfy |a - b| <= atol + rtol |b|."""
    return bool(xp.allclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(a: Tensor, b: Tensor, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> Tensor:
    """Where |a - b| <= atol + rtol |b| (a bool tensor)."""
    return Tensor._make(xp.isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))
