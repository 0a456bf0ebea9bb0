"""Quality of the character-level language model: deepgrad against PyTorch, same wall-clock budget.

Both libraries train the same model (embedding 65->64, 2-layer LSTM hidden 256, linear read-out) with
the same hyper-parameters (Adam lr 2e-3, batch 32 streams x 64 steps, gradient clipping at norm 5,
hidden state carried across batches) on tiny Shakespeare (first 90% for training, last 10% for
validation), from the same initial weights, for the same number of minutes each; then both evaluate
the whole validation split. deepgrad trains through its own ``LMTrainer`` (what ``deepgrad train-lm``
runs); PyTorch through the equivalent hand-written loop.

    python benchmarks/charlm_quality.py --minutes 10              # one library after the other
    python benchmarks/charlm_quality.py --lib deepgrad --threads 1 &  # or both at once, one core
    python benchmarks/charlm_quality.py --lib torch --threads 1       # each, on a shared machine

Target: deepgrad's validation loss <= PyTorch's + 0.02 and <= 1.55 nats/char.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time


def _threads() -> str:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--threads", default="2")
    return pre.parse_known_args()[0].threads


THREADS = _threads()  # BLAS reads its thread count when numpy loads: set it before the imports
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = THREADS

import torch  # noqa: E402

from deepgrad.train.lm import LMConfig, LMTrainer, evaluate  # noqa: E402


class TorchCharLM(torch.nn.Module):
    """deepgrad.models.CharLM written in PyTorch (same parameter names)."""

    def __init__(self, vocab: int, hidden: int, layers: int, embed: int):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, embed)
        self.rnn = torch.nn.LSTM(embed, hidden, num_layers=layers, batch_first=True)
        self.head = torch.nn.Linear(hidden, vocab)

    def forward(self, ids, state=None):
        out, state = self.rnn(self.embed(ids), state)
        return self.head(out), state


def _to_torch(t):
    return torch.from_numpy(t.numpy().copy())


def train_torch(model, batches, val_batches, config: LMConfig, minutes: float):
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    data = [(_to_torch(x), _to_torch(y)) for x, y in batches]
    state, step, k = None, 0, 0
    deadline = time.perf_counter() + 60 * minutes
    while time.perf_counter() < deadline:
        x, y = data[k]
        logits, new_state = model(x, state)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        opt.step()
        state = tuple(s.detach() for s in new_state)
        step += 1
        k += 1
        if k == len(data):
            k, state = 0, None
    model.eval()
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for x, y in val_batches:
            logits, state = model(_to_torch(x), state)
            total += torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), _to_torch(y).reshape(-1), reduction="sum").item()
            count += y.numel()
    return total / count, step


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget of each library")
    parser.add_argument("--lib", choices=["both", "deepgrad", "torch"], default="both")
    parser.add_argument("--threads", default="2", help="BLAS / PyTorch threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(int(THREADS))
    config = LMConfig(seed=args.seed, val_every=10 ** 9)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        trainer = LMTrainer(config, tmp)
        init = {k: _to_torch(v) for k, v in trainer.model.state_dict().items()}
        print(f"tiny Shakespeare, vocabulary {len(trainer.vocab)}, {args.minutes:g} minutes per library, "
              f"{THREADS} thread(s); validation loss of the initial weights "
              f"{evaluate(trainer.model, trainer.val_batches):.4f}", flush=True)
        if args.lib in ("both", "deepgrad"):
            result = trainer.fit(minutes=args.minutes, progress=False)
            results["deepgrad"] = result["val_loss"]
            print(f"deepgrad: {result['steps']} steps, validation loss {result['val_loss']:.4f}", flush=True)
    if args.lib in ("both", "torch"):
        tmodel = TorchCharLM(len(trainer.vocab), config.hidden, config.layers, config.embed_dim)
        tmodel.load_state_dict(init)
        loss, steps = train_torch(tmodel, trainer.train_batches, trainer.val_batches, config, args.minutes)
        results["torch"] = loss
        print(f"pytorch : {steps} steps, validation loss {loss:.4f}", flush=True)
    if len(results) < 2:
        return 0
    dg_loss, t_loss = results["deepgrad"], results["torch"]
    ok = dg_loss <= t_loss + 0.02 and dg_loss <= 1.55
    print(f"deepgrad - pytorch = {dg_loss - t_loss:+.4f} nats/char (target <= +0.02); deepgrad "
          f"{dg_loss:.4f} (target <= 1.55): {'PASS' if ok else 'MISS'}")
    return 0 if ok and math.isfinite(dg_loss) else 1


if __name__ == "__main__":
    sys.exit(main())
