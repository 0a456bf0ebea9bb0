"""The lectures' "How do I choose the feature vector?" (deck 000): fit f_w(x) = w . phi(x) by least
squares with phi(x) = [1, x], [1, x, x^2, x^3] and [1, x, sin(3x)] to noisy samples of a curve, and
compare their squared errors on the training points and on fresh test points.

    python -m deepgrad.examples.curve_fitting --out figures/
"""
from __future__ import annotations

import argparse
import os

import deepgrad as dg
from deepgrad.features import FeatureMap, fit_linear, polynomial
from deepgrad.viz._plot import pyplot

FEATURE_MAPS = {
    "[1, x]": lambda x: polynomial(x, 1),
    "[1, x, x^2, x^3]": lambda x: polynomial(x, 3),
    "[1, x, sin(3x)]": FeatureMap(lambda x: 1, lambda x: x, lambda x: dg.sin(3 * x)),
}


def target(x):
    """The curve behind the data: a trend plus an oscillation."""
    return 0.5 + 0.8 * x + dg.sin(3 * x)


def make_data(n: int, noise: float, generator: dg.Generator):
    x = dg.rand(n, generator=generator, dtype=dg.float64) * 4 - 2
    return x, target(x) + noise * dg.randn(n, generator=generator, dtype=dg.float64)


def run(n_train: int = 30, n_test: int = 500, noise: float = 0.2, seed: int = 0,
        out: str | None = None) -> dict:
    """Fit each feature map on ``n_train`` points, print and return {name: (train MSE, test MSE)}, and
    when ``out`` is given save ``curve_fitting.png`` there."""
    g = dg.Generator().manual_seed(seed)
    x_train, y_train = make_data(n_train, noise, g)
    x_test, y_test = make_data(n_test, noise, g)
    results, weights = {}, {}
    print(f"f_w(x) = w . phi(x) fitted by least squares to {n_train} noisy points of 0.5 + 0.8x + sin(3x)")
    print(f"{'phi(x)':<20} {'train MSE':>10} {'test MSE':>10}")
    for name, phi in FEATURE_MAPS.items():
        w = fit_linear(phi(x_train), y_train)
        mse = [((phi(x) @ w - y) ** 2).mean().item() for x, y in ((x_train, y_train), (x_test, y_test))]
        results[name], weights[name] = tuple(mse), w
        print(f"{name:<20} {mse[0]:>10.4f} {mse[1]:>10.4f}")
    if out is not None:
        os.makedirs(out, exist_ok=True)
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(7, 4.5))
        grid = dg.linspace(-2, 2, 300, dtype=dg.float64)
        ax.scatter(x_train.tolist(), y_train.tolist(), color="k", s=15, zorder=3, label="training data")
        ax.plot(grid.tolist(), target(grid).tolist(), "k:", label="true curve")
        for name, phi in FEATURE_MAPS.items():
            ax.plot(grid.tolist(), (phi(grid) @ weights[name]).tolist(),
                    label=f"phi = {name} (test MSE {results[name][1]:.3f})")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title("How do I choose the feature vector?")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = os.path.join(out, "curve_fitting.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        print(f"wrote {path}")
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="figures", help="folder for the PNG (default: figures)")
    parser.add_argument("--n-train", type=int, default=30)
    parser.add_argument("--noise", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run(args.n_train, noise=args.noise, seed=args.seed, out=args.out)


if __name__ == "__main__":
    main()
