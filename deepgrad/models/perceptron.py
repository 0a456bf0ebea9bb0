"""Rosenblatt's perceptron, trained by the mistake-driven rule of the lectures (deck 004)::

    w(0) <- 0
    for t = 1, ..., T:
        receive x(t);  y_hat = sign(<w(t-1), x(t)>)      (sign of zero is +1)
        receive y(t) in {+1, -1}
        w(t) = w(t-1) + y(t) x(t) 1[y(t) != y_hat]

There is no learning rate (the update is exactly y x) and, as in the lectures, no bias; ``bias=True``
adds one, updated with the same rule as a weight on a constant input 1 (b += y on each mistake).
"""
from __future__ import annotations

import deepgrad as dg
from deepgrad import Tensor

__all__ = ["Perceptron"]


class Perceptron:
    """A linear threshold unit ``sign(<w, x> + b)`` with labels +1/-1, trained by ``fit``.

    Attributes after ``fit``: ``weight`` (n_features,), ``bias`` (a float, 0 unless ``bias=True``),
    ``mistakes`` (the number of updates in each epoch), ``updates`` (their total) and ``converged``
    (an epoch passed with no mistake, so every training point is classified correctly).

    Example::

        p = Perceptron(2, bias=True).fit(X, y, epochs=100)   # X (N, 2), y in {+1, -1}
        p.predict(X)                                          # int64 tensor of +1/-1
    """

    def __init__(self, n_features: int, bias: bool = False, dtype=None):
        if not isinstance(n_features, int) or isinstance(n_features, bool) or n_features < 1:
            raise ValueError(f"Perceptron: n_features must be a positive int, got {n_features!r}")
        self.n_features = n_features
        self.use_bias = bias
        self.dtype = dtype or dg.get_default_dtype()
        self.weight = dg.zeros(n_features, dtype=self.dtype)
        self.bias = 0.0
        self.mistakes: list[int] = []
        self.updates = 0
        self.converged = False

    def _check_inputs(self, X, op: str) -> Tensor:
        X = X if isinstance(X, Tensor) else dg.tensor(X)
        X = X.detach().to(self.dtype)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"Perceptron.{op}: expected inputs of shape (N, {self.n_features}), got "
                             f"{tuple(X.shape)}")
        return X

    def fit(self, X, y, epochs: int = 100) -> "Perceptron":
        """Run the perceptron algorithm over the examples in order, ``epochs`` times at most, starting
        from w = 0; stop after the first epoch with no mistake. Returns self."""
        X = self._check_inputs(X, "fit")
        y = y if isinstance(y, Tensor) else dg.tensor(y)
        labels = [int(v) for v in y.reshape(-1).tolist()]
        if len(labels) != X.shape[0]:
            raise ValueError(f"Perceptron.fit: X has {X.shape[0]} rows but y has {len(labels)} labels")
        if any(v not in (1, -1) for v in labels):
            raise ValueError(f"Perceptron.fit: labels must be +1 or -1, got the values {sorted(set(labels))}")
        self.weight = dg.zeros(self.n_features, dtype=self.dtype)
        self.bias, self.mistakes, self.updates, self.converged = 0.0, [], 0, False
        rows = X.unbind(0)
        for _ in range(epochs):
            errors = 0
            for x, label in zip(rows, labels):
                if self._sign((self.weight @ x).item() + self.bias) != label:
                    self.weight = self.weight + label * x
                    if self.use_bias:
                        self.bias += label
                    errors += 1
            self.mistakes.append(errors)
            self.updates += errors
            if errors == 0:
                self.converged = True
                break
        return self

    @staticmethod
    def _sign(score: float) -> int:
        return 1 if score >= 0 else -1

    def decision_function(self, X) -> Tensor:
        """The scores <w, x> + b, shape (N,)."""
        return self._check_inputs(X, "decision_function") @ self.weight + self.bias

    def predict(self, X) -> Tensor:
        """The labels sign(<w, x> + b) as an int64 tensor of +1/-1 (a score of 0 gives +1)."""
        scores = self.decision_function(X)
        return (scores >= 0).to(dg.int64) * 2 - 1

    def __repr__(self) -> str:
        return f"Perceptron(n_features={self.n_features}, bias={self.use_bias})"
