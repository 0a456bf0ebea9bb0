"""The perceptron algorithm of the lectures, hand-made feature maps and least squares, and their demos."""
from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.features import FeatureMap, fit_linear, polynomial
from deepgrad.models.perceptron import Perceptron

from .test_monitor_viz import assert_png


def reference_perceptron(X, y, epochs, bias):
    """The lectures' algorithm in plain Python: w <- 0; on a mistake (sign(0) = +1) w += y x."""
    w, b, mistakes = [0.0] * len(X[0]), 0.0, []
    for _ in range(epochs):
        errors = 0
        for x, label in zip(X, y):
            score = sum(wi * xi for wi, xi in zip(w, x)) + b
            if (1 if score >= 0 else -1) != label:
                w = [wi + label * xi for wi, xi in zip(w, x)]
                b += label if bias else 0
                errors += 1
        mistakes.append(errors)
        if errors == 0:
            break
    return w, b, mistakes


# ------------------------------------------------------------------------- perceptron
def test_perceptron_hand_computed_updates():
    X = [[2.0, 1.0], [1.0, -1.0], [-1.0, 2.0]]
    y = [-1, 1, 1]
    # epoch 1: x1 scores 0 -> +1 (wrong): w = (-2, -1); x2 scores -1 (wrong): w = (-1, -2);
    #          x3 scores -3 (wrong): w = (-2, 0)
    p = Perceptron(2).fit(X, y, epochs=1)
    assert p.weight.tolist() == [-2.0, 0.0] and p.mistakes == [3] and p.bias == 0.0
    # epoch 2: x1 scores -4 (right); x2 scores -2 (wrong): w = (-1, -1); x3 scores -1 (wrong): w = (-2, 1)
    p = Perceptron(2).fit(X, y, epochs=2)
    assert p.weight.tolist() == [-2.0, 1.0] and p.mistakes == [3, 2] and p.updates == 5
    assert not p.converged


def test_perceptron_bias_update_is_y():
    # w = 0, b = 0: the first point scores 0 -> +1, wrong for y = -1: w = -x, b = -1
    p = Perceptron(2, bias=True).fit([[1.0, 2.0]], [-1], epochs=1)
    assert p.weight.tolist() == [-1.0, -2.0] and p.bias == -1.0


@pytest.mark.parametrize("bias", [False, True])
def test_perceptron_matches_reference_loop(bias):
    rng = np.random.default_rng(3)
    X = rng.integers(-3, 4, size=(40, 3)).astype(np.float64)
    y = np.where(X @ np.array([1.0, -2.0, 0.5]) + (0.7 if bias else 0.0) >= 0, 1, -1)
    p = Perceptron(3, bias=bias, dtype=dg.float64).fit(dg.tensor(X), dg.tensor(y), epochs=50)
    w, b, mistakes = reference_perceptron(X.tolist(), y.tolist(), 50, bias)
    assert p.weight.tolist() == w and p.bias == b and p.mistakes == mistakes


def test_perceptron_converges_on_separable_data_within_novikoff_bound():
    rng = np.random.default_rng(0)
    w_star = np.array([0.6, -0.8])
    X = rng.uniform(-2, 2, size=(400, 2))
    X = X[np.abs(X @ w_star) > 0.2][:150]
    y = np.where(X @ w_star >= 0, 1, -1)
    p = Perceptron(2).fit(dg.tensor(X), dg.tensor(y), epochs=1000)
    assert p.converged and p.mistakes[-1] == 0
    assert p.updates == sum(p.mistakes) > 0
    assert p.predict(dg.tensor(X)).tolist() == y.tolist()
    margin, radius = np.min(y * (X @ w_star)), np.max(np.linalg.norm(X, axis=1))
    assert p.updates <= (radius / margin) ** 2  # Novikoff's bound on the number of mistakes


def test_perceptron_sign_of_zero_is_plus_one():
    p = Perceptron(3)
    X = dg.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    assert p.decision_function(X).tolist() == [0.0, 0.0]
    pred = p.predict(X)
    assert pred.dtype == dg.int64 and pred.tolist() == [1, 1]
    # a point scoring 0 with label +1 is no mistake, with label -1 it is
    assert Perceptron(1).fit([[0.0]], [1]).mistakes == [0]
    assert Perceptron(1).fit([[1.0]], [-1], epochs=1).mistakes == [1]


def test_perceptron_does_not_converge_on_xor():
    X = [[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]]
    p = Perceptron(2, bias=True).fit(X, [1, 1, -1, -1], epochs=30)
    assert not p.converged and len(p.mistakes) == 30 and min(p.mistakes) > 0


def test_perceptron_errors():
    with pytest.raises(ValueError, match=r"labels must be \+1 or -1, got the values \[0, 1\]"):
        Perceptron(2).fit([[0.0, 1.0], [1.0, 0.0]], [0, 1])
    with pytest.raises(ValueError, match=r"expected inputs of shape \(N, 2\), got \(4, 3\)"):
        Perceptron(2).fit(dg.zeros(4, 3), [1, 1, 1, 1])
    with pytest.raises(ValueError, match="X has 2 rows but y has 3 labels"):
        Perceptron(1).fit([[0.0], [1.0]], [1, 1, -1])
    with pytest.raises(ValueError, match="n_features must be a positive int"):
        Perceptron(0)


# ------------------------------------------------------------------------- features
def test_polynomial_1d_values():
    x = dg.tensor([2.0, -3.0, 0.5])
    expected = [[1, 2, 4, 8], [1, -3, 9, -27], [1, 0.5, 0.25, 0.125]]
    out = polynomial(x, 3)
    assert out.dtype == dg.float32 and out.tolist() == expected
    assert polynomial(x.reshape(3, 1), 3).tolist() == expected
    assert polynomial(x, 0).tolist() == [[1.0]] * 3


def test_polynomial_nd_order():
    # scikit-learn's PolynomialFeatures order: by degree, then combinations with replacement
    X = dg.tensor([[2.0, 3.0], [-1.0, 0.5]], dtype=dg.float64)
    a, b = X[:, 0].numpy(), X[:, 1].numpy()
    expected = np.stack([np.ones(2), a, b, a * a, a * b, b * b, a ** 3, a * a * b, a * b * b, b ** 3], 1)
    np.testing.assert_allclose(polynomial(X, 3).numpy(), expected, rtol=1e-15)
    Z = dg.tensor(np.random.default_rng(0).standard_normal((4, 3)))
    z = [Z[:, i].numpy() for i in range(3)]
    expected = np.stack([np.ones(4), *z, z[0] * z[0], z[0] * z[1], z[0] * z[2], z[1] * z[1], z[1] * z[2],
                         z[2] * z[2]], 1)
    np.testing.assert_allclose(polynomial(Z, 2).numpy(), expected, rtol=1e-15)


def test_polynomial_errors():
    with pytest.raises(ValueError, match="degree must be a non-negative int, got -1"):
        polynomial(dg.ones(3), -1)
    with pytest.raises(ValueError, match=r"a 2-D tensor \(N, d\), got shape \(2, 2, 2\)"):
        polynomial(dg.ones(2, 2, 2), 2)


def test_feature_map_columns():
    x = dg.tensor([-1.0, 0.0, 0.5], dtype=dg.float64)
    phi = FeatureMap(lambda x: 1, lambda x: x, lambda x: dg.sin(3 * x))
    out = phi(x)
    assert len(phi) == 3 and out.dtype == dg.float64 and tuple(out.shape) == (3, 3)
    np.testing.assert_allclose(out.numpy(), np.stack([np.ones(3), x.numpy(), np.sin(3 * x.numpy())], 1))
    two_d = FeatureMap(lambda x: x[:, 0] * x[:, 1])(dg.tensor([[2.0, 3.0], [4.0, 5.0]]))
    assert two_d.tolist() == [[6.0], [20.0]]


def test_feature_map_errors():
    with pytest.raises(ValueError, match=r"function 0 must return .* shape \(3,\).*\(3, 2\)"):
        FeatureMap(lambda x: x.reshape(3, 1).expand(3, 2))(dg.ones(3))
    with pytest.raises(TypeError, match="argument 1 must be callable, got int"):
        FeatureMap(lambda x: x, 3)
    with pytest.raises(ValueError, match="at least one function"):
        FeatureMap()


def test_fit_linear_matches_lstsq():
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, 40)
    y = 0.5 + 0.8 * x + np.sin(3 * x) + 0.2 * rng.standard_normal(40)
    for phi in (polynomial(dg.tensor(x), 1), polynomial(dg.tensor(x), 5),
                FeatureMap(lambda v: 1, lambda v: v, lambda v: dg.sin(3 * v))(dg.tensor(x))):
        w = fit_linear(phi, dg.tensor(y))
        expected = np.linalg.lstsq(phi.numpy(), y, rcond=None)[0]
        assert w.dtype == dg.float64 and tuple(w.shape) == expected.shape
        np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_fit_linear_multi_target_ridge_and_float32():
    rng = np.random.default_rng(2)
    A, Y = rng.standard_normal((30, 4)), rng.standard_normal((30, 2))
    np.testing.assert_allclose(fit_linear(dg.tensor(A), dg.tensor(Y)).numpy(),
                               np.linalg.lstsq(A, Y, rcond=None)[0], rtol=1e-6, atol=1e-6)
    ridge = np.linalg.solve(A.T @ A + 0.5 * np.eye(4), A.T @ Y[:, 0])
    np.testing.assert_allclose(fit_linear(dg.tensor(A), dg.tensor(Y[:, 0]), l2=0.5).numpy(), ridge,
                               rtol=1e-6, atol=1e-6)
    # fewer examples than weights is fine with l2 > 0
    wide = rng.standard_normal((3, 6))
    np.testing.assert_allclose(fit_linear(dg.tensor(wide), dg.tensor(Y[:3, 0]), l2=0.1).numpy(),
                               np.linalg.solve(wide.T @ wide + 0.1 * np.eye(6), wide.T @ Y[:3, 0]), atol=1e-6)
    w32 = fit_linear(dg.tensor(A.astype(np.float32)), dg.tensor(Y[:, 0].astype(np.float32)))
    assert w32.dtype == dg.float32
    np.testing.assert_allclose(w32.numpy(), np.linalg.lstsq(A, Y[:, 0], rcond=None)[0], atol=1e-5)


def test_fit_linear_errors():
    A = dg.tensor([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    with pytest.raises(ValueError, match="feature column 1 is .* linear combination"):
        fit_linear(A, dg.ones(3))
    with pytest.raises(ValueError, match="2 examples cannot determine 3 weights"):
        fit_linear(dg.ones(2, 3), dg.ones(2))
    with pytest.raises(ValueError, match="phi_X has 3 rows but y has 2"):
        fit_linear(A, dg.ones(2))
    with pytest.raises(ValueError, match="l2 must be >= 0"):
        fit_linear(A, dg.ones(3), l2=-1.0)


# ------------------------------------------------------------------------- demos
def test_curve_fitting_demo(tmp_path, capsys):
    from deepgrad.examples import curve_fitting
    results = curve_fitting.run(out=str(tmp_path))
    assert set(results) == {"[1, x]", "[1, x, x^2, x^3]", "[1, x, sin(3x)]"}
    test_mse = {name: mse[1] for name, mse in results.items()}
    # the data come from 0.5 + 0.8x + sin(3x): the feature map containing sin(3x) fits best
    assert min(test_mse, key=test_mse.get) == "[1, x, sin(3x)]"
    assert results["[1, x, x^2, x^3]"][0] <= results["[1, x]"][0]  # more features never fit worse
    assert "train MSE" in capsys.readouterr().out
    assert_png(tmp_path / "curve_fitting.png")


def test_perceptron_demo(tmp_path):
    from deepgrad.examples import perceptron_2d
    results = perceptron_2d.run(n=60, epochs=40, out=str(tmp_path))
    assert results["separable points, phi(x) = x"] == 1.0
    assert results["XOR, phi(x) = x"] < 1.0
    assert results["XOR, phi(x) = [x1, x2, x1 x2]"] == 1.0
    for i in range(3):
        assert_png(tmp_path / f"perceptron_{i}.png")
