"""``make demo``: deepgrad's main job. Train the default character-level LSTM on the bundled tiny
Shakespeare for about three minutes, print the validation loss, then write 400 characters.

``python -m deepgrad.demo --moons`` runs the smaller first demo instead: an MLP learning the
two-moons problem (data, a multi-layer network, a loss, backpropagation, SGD with momentum).
"""
from __future__ import annotations

import argparse
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


def moons(epochs: int = 300, seed: int = 0) -> float:
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


def shakespeare(minutes: float = 3.0, out: str = "runs/demo", seed: int = 0) -> float:
    """Train the default CharLM (2-layer LSTM, hidden 256) for ``minutes`` and print a sample."""
    from deepgrad.models import sample
    from deepgrad.train.lm import LMConfig, LMTrainer

    trainer = LMTrainer(LMConfig(seed=seed, val_every=100), out, overwrite=True)
    cfg = trainer.config
    print(f"deepgrad demo: a {cfg.layers}-layer LSTM (hidden {cfg.hidden}) reads tiny Shakespeare "
          f"({len(trainer.vocab)} distinct characters) for {minutes:g} minutes on the CPU")
    result = trainer.fit(minutes=minutes)
    print(f"\nafter {result['steps']} steps ({result['epoch']:.2f} epochs, {result['chars_per_s']:,.0f} "
          f"chars/s): validation loss {result['val_loss']:.4f} nats/char (uniform guessing: "
          f"{math.log(len(trainer.vocab)):.4f})")
    print("\n400 characters sampled at temperature 0.8:\n")
    print(sample(trainer.model, trainer.vocab, 400, 0.8, "\n", dg.Generator().manual_seed(seed)))
    print(f"\ncheckpoints are in {out}/; try: deepgrad sample {out}/best.ckpt --prime 'ROMEO:'")
    return result["val_loss"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="deepgrad's demos")
    parser.add_argument("--moons", action="store_true", help="the two-moons MLP demo instead")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--out", default="runs/demo")
    args = parser.parse_args(argv)
    if args.moons:
        moons()
    else:
        shakespeare(args.minutes, args.out)


if __name__ == "__main__":
    main()
