"""Rosenblatt's perceptron on 2-D points (deck 004): on linearly separable data the mistake-driven
rule w += y x stops making mistakes after finitely many updates; on XOR (Minsky & Papert, 1969) it
never does, until a feature map phi(x) = [x1, x2, x1 x2] makes the classes separable.

    python -m deepgrad.examples.perceptron_2d --out figures/
"""
from __future__ import annotations

import argparse
import os

import deepgrad as dg
from deepgrad.features import FeatureMap
from deepgrad.models.perceptron import Perceptron
from deepgrad.viz.boundary import plot_decision_boundary


def separable_points(n: int, generator: dg.Generator, margin: float = 0.1):
    """Points of the square [-2, 2]^2 labelled +1/-1 by the side of the line 0.8 x1 - 0.6 x2 + 0.3 = 0,
    keeping only those at least ``margin`` from it (so a separating line exists with that margin)."""
    x = dg.rand(4 * n, 2, generator=generator) * 4 - 2
    score = x @ dg.tensor([0.8, -0.6]) + 0.3
    x = x[score.abs() >= margin][:n]
    return x, (x @ dg.tensor([0.8, -0.6]) + 0.3 >= 0).long() * 2 - 1


def xor_points(n: int, generator: dg.Generator):
    """Points of the four quadrants, +1 where x1 x2 > 0 and -1 elsewhere, away from the axes."""
    x = dg.rand(n, 2, generator=generator) * 2 - 1
    x = x + 0.15 * x.sign()
    return x, (x[:, 0] * x[:, 1] > 0).long() * 2 - 1


def report(name: str, p: Perceptron, X, y) -> float:
    acc = (p.predict(X) == y).float().mean().item()
    status = "converged" if p.converged else "did not converge"
    print(f"{name:<34} epochs {len(p.mistakes):>3}  updates {p.updates:>4}  {status:<17} "
          f"training accuracy {acc:.3f}")
    print(f"{'':<34} mistakes per epoch: {p.mistakes[:12]}{' ...' if len(p.mistakes) > 12 else ''}")
    return acc


def run(n: int = 100, epochs: int = 100, seed: int = 0, out: str | None = None) -> dict:
    """Train the three perceptrons, print their mistakes, save decision-boundary PNGs to ``out``;
    return {name: training accuracy}."""
    g = dg.Generator().manual_seed(seed)
    X, y = separable_points(n, g)
    Xx, yx = xor_points(n, g)
    product = FeatureMap(lambda x: x[:, 0], lambda x: x[:, 1], lambda x: x[:, 0] * x[:, 1])
    runs = {
        "separable points, phi(x) = x": (Perceptron(2, bias=True).fit(X, y, epochs), X, y, None),
        "XOR, phi(x) = x": (Perceptron(2, bias=True).fit(Xx, yx, epochs), Xx, yx, None),
        "XOR, phi(x) = [x1, x2, x1 x2]":
            (Perceptron(3, bias=True).fit(product(Xx), yx, epochs), Xx, yx, product),
    }
    results = {}
    for i, (name, (p, data, labels, phi)) in enumerate(runs.items()):
        inputs = data if phi is None else phi(data)
        results[name] = report(name, p, inputs, labels)
        if out is not None:
            os.makedirs(out, exist_ok=True)
            path = os.path.join(out, f"perceptron_{i}.png")
            predict = p.predict if phi is None else (lambda pts, p=p, phi=phi: p.predict(phi(pts)))
            plot_decision_boundary(predict, data, labels, path, title=f"Perceptron: {name}")
            print(f"{'':<34} wrote {path}")
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="figures", help="folder for the PNGs (default: figures)")
    parser.add_argument("--n", type=int, default=100, help="points per dataset")
    parser.add_argument("--epochs", type=int, default=100, help="at most this many passes over the data")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run(args.n, args.epochs, args.seed, args.out)


if __name__ == "__main__":
    main()
