"""``make demo``: train a small MLP on the two-moons problem and print the loss falling.

Until the character-level language model becomes the main job, this shows the whole loop the
lectures teach: data, a multi-layer network, a loss, backpropagation and SGD with momentum.
"""
from __future__ import annotations

import math
import time

import deepgrad as dg
import deepgrad.nn as nn
import deepgrad.nn.functional as F
from deepgrad import optim


def two_moons(n: int, noise: float = 0.1, generator=None):
    """Two interleaving half circles in 2-D with labels 0 and 1 (a classic non-linear problem)."""
    half = n // 2
    t = dg.rand(n, generator=generator) * math.pi
    upper = dg.stack([dg.cos(t[:half]), dg.sin(t[:half])], 1)
    lower = dg.stack([1 - dg.cos(t[half:]), 0.5 - dg.sin(t[half:])], 1)
    x = dg.cat([upper, lower]) + noise * dg.randn(n, 2, generator=generator)
    y = dg.cat([dg.zeros(half, dtype=dg.int64), dg.ones(n - half, dtype=dg.int64)])
    return x, y


def main(epochs: int = 300, seed: int = 0) -> float:
    gen = dg.Generator().manual_seed(seed)
    dg.manual_seed(seed)
    x_train, y_train = two_moons(512, generator=gen)
    x_test, y_test = two_moons(512, generator=gen)
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    print("deepgrad demo: a 2-32-32-2 MLP learns the two-moons problem (full-batch SGD, momentum 0.9)")
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        loss = F.cross_entropy(model(x_train), y_train)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if epoch == 1 or epoch % 50 == 0:
            with dg.no_grad():
                acc = (model(x_train).argmax(1) == y_train).float().mean().item()
            print(f"epoch {epoch:4d}  loss {loss.item():.4f}  train accuracy {acc:6.1%}")
    with dg.no_grad():
        test_acc = (model(x_test).argmax(1) == y_test).float().mean().item()
    print(f"test accuracy {test_acc:.1%} on 512 new points ({time.perf_counter() - start:.1f} s)")
    return test_acc


if __name__ == "__main__":
    main()
