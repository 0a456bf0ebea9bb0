"""Image-classification targets on the 8x8 digits: test accuracy and wall time, deepgrad against PyTorch.

Data: ``Digits`` (scikit-learn's 1797 digits), the fixed stratified 80/20 split with seed 0 (1438
train, 359 test), normalised with the training split's mean and std. The test 20% is used once, at
the end: nothing is selected on it (the final epoch's weights are scored).

Models (``deepgrad.train.images``, what ``deepgrad train-images`` builds):

- ``lenet``: ``digits_cnn``: conv3x3 1->32, ReLU, conv3x3 32->64, ReLU, maxpool 2, FC 1024->128,
  ReLU, dropout 0.25, FC 128->10; SGD lr 0.05 momentum 0.9, batch 32, 20 epochs, cosine schedule.
- ``mlp``: Flatten, MLP 64-256-128-10 (ReLU); SGD lr 0.05 momentum 0.9, batch 32, 30 epochs, cosine.

deepgrad trains with ``Trainer`` (divergence guard on, as in the CLI); PyTorch runs the same
definition, written again with torch.nn, from the same initial weights (copied from deepgrad) over the
same batches in the same order (one index permutation per epoch, drawn once and used by both). Only
dropout masks differ (each library draws its own). Targets: LeNet >= 98.5%, MLP >= 97%, each in under
2 minutes on 2 cores. Also checks that two seeded deepgrad runs give bit-identical weights.

Run: ``python benchmarks/digits_eval.py [--threads 2] [--seed 0]``.
"""

import _harness as H  # first: pins the thread pools before numpy loads

import time
from collections import OrderedDict

import torch

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import optim
from deepgrad.train import Trainer
from deepgrad.train.images import build_model, normalization
from deepgrad.utils.data import DataLoader, TensorDataset
from deepgrad.vision.datasets import Digits

SETTINGS = {
    "lenet": {"epochs": 20, "lr": 0.05, "dropout": 0.25, "target": 0.985},
    "mlp": {"epochs": 30, "lr": 0.05, "dropout": 0.0, "target": 0.97},
}
BATCH, MOMENTUM, TIME_LIMIT_S = 32, 0.9, 120.0


class EpochOrders:
    """A batch sampler replaying fixed per-epoch permutations: pass ``e`` yields the batches of
    ``orders[e]``, so deepgrad's DataLoader and the PyTorch loop see the same batches in the same order."""

    def __init__(self, orders: list, batch_size: int):
        self.orders, self.batch_size, self.epoch = orders, batch_size, 0

    def __iter__(self):
        order = self.orders[self.epoch]
        self.epoch += 1
        return iter([order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)])

    def __len__(self) -> int:
        return -(-len(self.orders[0]) // self.batch_size)


def load_data():
    mean, std = normalization("digits")
    train, test = Digits(train=True), Digits(train=False)
    norm = [(split.data - mean[0]) / std[0] for split in (train, test)]
    return norm[0], train.targets, norm[1], test.targets


def torch_twin(name: str, dropout: float) -> torch.nn.Module:
    """The same network as ``build_model(name, 'digits', dropout)``, in torch.nn, with the same
    state-dict keys."""
    tnn = torch.nn
    if name == "mlp":
        return tnn.Sequential(
            OrderedDict(
                flatten=tnn.Flatten(),
                mlp=tnn.Sequential(
                    tnn.Linear(64, 256), tnn.ReLU(), tnn.Linear(256, 128), tnn.ReLU(), tnn.Linear(128, 10)
                ),
            )
        )
    return tnn.Sequential(
        tnn.Conv2d(1, 32, 3, padding=1),
        tnn.ReLU(),
        tnn.Conv2d(32, 64, 3, padding=1),
        tnn.ReLU(),
        tnn.MaxPool2d(2),
        tnn.Flatten(),
        tnn.Linear(64 * 4 * 4, 128),
        tnn.ReLU(),
        tnn.Dropout(dropout),
        tnn.Linear(128, 10),
    )


def epoch_orders(n: int, epochs: int, seed: int) -> list:
    gen = dg.Generator().manual_seed(seed)
    return [dg.randperm(n, generator=gen).tolist() for _ in range(epochs)]


def train_deepgrad(name: str, data, seed: int, epochs: int) -> tuple:
    """(model, test accuracy, seconds, first epoch's training loss) of a deepgrad run."""
    s = SETTINGS[name]
    x_train, y_train, x_test, y_test = data
    dg.manual_seed(seed)
    model = build_model(name, "digits", s["dropout"])
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    opt = optim.SGD(model.parameters(), lr=s["lr"], momentum=MOMENTUM)
    trainer = Trainer(
        model,
        opt,
        F.cross_entropy,
        scheduler=optim.lr_scheduler.CosineAnnealingLR(opt, epochs),
        progress=False,
        verbose=False,
    )
    loader = DataLoader(
        TensorDataset(x_train, y_train),
        batch_sampler=EpochOrders(epoch_orders(len(y_train), epochs, seed), BATCH),
    )
    start = time.perf_counter()
    history = trainer.fit(loader, epochs=epochs)
    acc = trainer.evaluate([(x_test, y_test)])["accuracy"]
    return model, initial, acc, time.perf_counter() - start, history["loss"][0]


def train_torch(name: str, data, initial: dict, seed: int, epochs: int) -> tuple:
    """(test accuracy, seconds, first epoch's training loss) of the PyTorch twin from ``initial``."""
    s = SETTINGS[name]
    x_train, y_train, x_test, y_test = (H.to_torch(t) for t in data)
    torch.manual_seed(seed)
    model = torch_twin(name, s["dropout"])
    model.load_state_dict({k: H.to_torch(v) for k, v in initial.items()}, strict=True)
    opt = torch.optim.SGD(model.parameters(), lr=s["lr"], momentum=MOMENTUM)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    orders = epoch_orders(len(y_train), epochs, seed)
    start = time.perf_counter()
    first_loss = None
    for order in orders:
        model.train()
        total, count = 0.0, 0
        for i in range(0, len(order), BATCH):
            idx = torch.tensor(order[i : i + BATCH])
            loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, count = total + loss.item() * len(idx), count + len(idx)
        sched.step()
        first_loss = total / count if first_loss is None else first_loss
    model.eval()
    with torch.no_grad():
        acc = (model(x_test).argmax(1) == y_test).double().mean().item()
    return acc, time.perf_counter() - start, first_loss


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(dg.equal(sa[k], sb[k]) for k in sa)


def main() -> int:
    p = H.parser(__doc__)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    data = load_data()
    print(
        f"digits: {len(data[1])} train / {len(data[3])} test images (stratified 80/20, split seed 0), "
        f"run seed {args.seed}; "
        f"threads: {H.blas_threads()}; torch threads {torch.get_num_threads()}"
    )
    print(
        f"{'model':<6}{'library':<10}{'test acc':>9}{'target':>8}{'wall s':>8}{'epoch-1 loss':>14}  verdict"
    )
    ok = True
    for name, s in SETTINGS.items():
        model, initial, acc, secs, loss1 = train_deepgrad(name, data, args.seed, s["epochs"])
        t_acc, t_secs, t_loss1 = train_torch(name, data, initial, args.seed, s["epochs"])
        for lib, a, sec, l1 in (("deepgrad", acc, secs, loss1), ("torch", t_acc, t_secs, t_loss1)):
            met = a >= s["target"] and sec < TIME_LIMIT_S
            ok &= met or lib == "torch"
            print(
                f"{name:<6}{lib:<10}{a:>9.4f}{s['target']:>8.3f}{sec:>8.1f}{l1:>14.5f}  "
                f"{'meets' if met else 'MISSES'} the target"
            )
        print(f"{'':<6}deepgrad / torch wall time: {secs / t_secs:.2f}")
        again = train_deepgrad(name, data, args.seed, s["epochs"])[0]
        identical = same_weights(model, again)
        ok &= identical
        print(f"{'':<6}two seeded deepgrad runs, bit-identical weights: {identical}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
