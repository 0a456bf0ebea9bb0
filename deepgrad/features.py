"""Hand-made feature vectors and linear least squares: the lectures' ML workflow
``f_w(x) = w . phi(x)``, where choosing phi is the modeller's job (deep networks learn it instead).

    phi = FeatureMap(lambda x: 1, lambda x: x, lambda x: deepgrad.sin(3 * x))
    w = fit_linear(phi(x_train), y_train)
    y_hat = phi(x_test) @ w
"""
from __future__ import annotations

import itertools
from typing import Callable

import deepgrad as dg
from deepgrad import Tensor

__all__ = ["polynomial", "FeatureMap", "fit_linear"]


def _as_float_tensor(x, op: str) -> Tensor:
    x = x if isinstance(x, Tensor) else dg.tensor(x)
    if not x.is_floating_point():
        x = x.to(dg.get_default_dtype())
    if x.ndim not in (1, 2):
        raise ValueError(f"{op}: expected a 1-D tensor (N,) or a 2-D tensor (N, d), got shape "
                         f"{tuple(x.shape)}")
    return x


def polynomial(x, degree: int) -> Tensor:
    """All monomials of the inputs up to ``degree``, as columns.

    For 1-D ``x`` (N,) (or (N, 1)) the columns are ``[1, x, x^2, ..., x^degree]``. For (N, d) inputs
    they are every product of at most ``degree`` input columns, in scikit-learn's
    ``PolynomialFeatures`` order: degree 0, then degree 1 (x_0, ..., x_{d-1}), then each degree's
    combinations with replacement in lexicographic order, e.g. for d = 2, degree = 2:
    ``[1, x0, x1, x0^2, x0 x1, x1^2]``.

    Example::

        polynomial(deepgrad.tensor([2.0, 3.0]), 3)   # [[1, 2, 4, 8], [1, 3, 9, 27]]
    """
    if not isinstance(degree, int) or isinstance(degree, bool) or degree < 0:
        raise ValueError(f"polynomial: degree must be a non-negative int, got {degree!r}")
    x = _as_float_tensor(x, "polynomial")
    cols = x.unsqueeze(1) if x.ndim == 1 else x
    columns = [dg.ones(cols.shape[0], dtype=cols.dtype)]
    for d in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(cols.shape[1]), d):
            term = cols[:, combo[0]]
            for j in combo[1:]:
                term = term * cols[:, j]
            columns.append(term)
    return dg.stack(columns, dim=1)


class FeatureMap:
    """A custom feature vector phi(x) = [f_1(x), ..., f_m(x)] built from functions of the input.

    Each function gets the whole input tensor (N,) or (N, d) and returns one value per example, a
    tensor of shape (N,), or a number (a constant feature, broadcast to every example).

    Example::

        phi = FeatureMap(lambda x: 1, lambda x: x, lambda x: deepgrad.sin(3 * x))
        phi(deepgrad.linspace(-1, 1, 5)).shape   # (5, 3)
    """

    def __init__(self, *fns: Callable):
        if not fns:
            raise ValueError("FeatureMap: give at least one function, e.g. "
                             "FeatureMap(lambda x: 1, lambda x: x)")
        for i, fn in enumerate(fns):
            if not callable(fn):
                raise TypeError(f"FeatureMap: argument {i} must be callable, got {type(fn).__name__}")
        self.fns = fns

    def __len__(self) -> int:
        return len(self.fns)

    def __call__(self, x) -> Tensor:
        x = _as_float_tensor(x, "FeatureMap")
        n = x.shape[0]
        columns = []
        for i, fn in enumerate(self.fns):
            v = fn(x)
            v = v.to(x.dtype) if isinstance(v, Tensor) else dg.tensor(v, dtype=x.dtype)
            if v.ndim == 0:
                v = v.expand(n)
            if tuple(v.shape) != (n,):
                raise ValueError(f"FeatureMap: function {i} must return a number or a tensor of shape "
                                 f"({n},), one value per example; it returned shape {tuple(v.shape)}")
            columns.append(v)
        return dg.stack(columns, dim=1)


def fit_linear(phi_X, y, l2: float = 0.0) -> Tensor:
    """The least-squares weights: argmin_w ||phi_X w - y||^2 + l2 ||w||^2 (every weight penalised,
    including the one on a constant feature).

    Solved in closed form by modified Gram-Schmidt QR of the augmented system ``[phi_X; sqrt(l2) I]``,
    ``[y; 0]`` in float64, which, unlike the normal equations, does not square the condition number.
    ``y`` may be (N,) or (N, m) (m targets fitted at once); the result is (p,) or (p, m) in
    ``phi_X``'s dtype. With ``l2 = 0`` the features must be linearly independent on the data.

    Example::

        w = fit_linear(polynomial(x, 3), y)
        y_hat = polynomial(x, 3) @ w
    """
    phi_X = _as_float_tensor(phi_X, "fit_linear")
    if phi_X.ndim != 2:
        raise ValueError(f"fit_linear: phi_X must be (N, p) features, got shape {tuple(phi_X.shape)}")
    y = _as_float_tensor(y, "fit_linear")
    if y.shape[0] != phi_X.shape[0]:
        raise ValueError(f"fit_linear: phi_X has {phi_X.shape[0]} rows but y has {y.shape[0]}")
    if l2 < 0:
        raise ValueError(f"fit_linear: l2 must be >= 0, got {l2}")
    n, p = phi_X.shape
    A = phi_X.to(dg.float64)
    Y = y.to(dg.float64).reshape(n, -1)
    if l2 > 0:
        A = dg.cat([A, dg.eye(p, dtype=dg.float64) * l2 ** 0.5])
        Y = dg.cat([Y, dg.zeros(p, Y.shape[1], dtype=dg.float64)])
    if A.shape[0] < p:
        raise ValueError(f"fit_linear: {n} examples cannot determine {p} weights; use l2 > 0 or fewer "
                         "features")
    # modified Gram-Schmidt on [A | Y]: Q^T Y is accumulated alongside R, which keeps the solution
    # backward stable (Bjorck 1967)
    col_norms = A.norm(dim=0).tolist()
    R_rows, c_rows = [], []
    rest = A
    for j in range(p):
        a = rest[:, 0]
        r = a.norm()
        if r.item() <= 1e-12 * col_norms[j]:
            raise ValueError(f"fit_linear: feature column {j} is (numerically) a linear combination of "
                             "the earlier ones on this data, or all zero; drop it or use l2 > 0")
        q = a / r
        rest = rest[:, 1:]
        r_row = q @ rest
        rest = rest - dg.outer(q, r_row)
        c = q @ Y
        Y = Y - dg.outer(q, c)
        R_rows.append(dg.cat([dg.zeros(j, dtype=dg.float64), r.reshape(1), r_row]))
        c_rows.append(c)
    R, C = dg.stack(R_rows), dg.stack(c_rows)
    w_rows = [None] * p
    for j in reversed(range(p)):
        acc = C[j]
        if j + 1 < p:
            acc = acc - R[j, j + 1:] @ dg.stack(w_rows[j + 1:])
        w_rows[j] = acc / R[j, j]
    w = dg.stack(w_rows).to(phi_X.dtype)
    return w if y.ndim == 2 else w[:, 0]
